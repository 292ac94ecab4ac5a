/*
 * respawn_stamp: the "first instruction" probe of bench/respawn.sh.
 *
 *   respawn_stamp PROGRAM ARGS... -s FILE
 *
 * Built static (no dynamic loader runs before main), it appends
 * "CLOCK_MONOTONIC_ns pid" to FILE.exec as its first act and then execs
 * PROGRAM with ARGS... -s FILE unchanged, so the testworker stamps FILE from
 * its own main as well (same pid: exec keeps it). The bench reads both:
 * kill -> the new process's first instruction (this stamp) and kill -> the
 * worker's main (after its dynamic loading, which is the worker's own cost).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct timespec	 ts;
	char		 path[4096], line[64];
	int		 fd, n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (argc < 4 || strcmp(argv[argc - 2], "-s") != 0) {
		fprintf(stderr, "usage: respawn_stamp PROGRAM ARGS... -s FILE\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s.exec", argv[argc - 1]);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd != -1) {
		n = snprintf(line, sizeof(line), "%lld %d\n",
		    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, (int)getpid());
		(void)!write(fd, line, n);
		close(fd);
	}
	execv(argv[1], argv + 1);
	perror(argv[1]);
	return 127;
}
