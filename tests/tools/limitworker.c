/*
 * limitworker: a plain program (no channel) for the limits suite. It
 * shows from inside a worker process what holdfastd set up for it, and
 * does what limits are meant to stop.
 *
 *   report          print what this process got, one "key=value" a line,
 *                   "report-done" last, then sleep: umask, NoNewPrivs,
 *                   Gid, Groups, oom_score_adj, and the soft and hard
 *                   RLIMIT_NOFILE, RLIMIT_CORE, RLIMIT_AS
 *   alloc           after 300 ms, touch 1 MiB more every millisecond,
 *                   for ever
 *   fork N          fork N children that sleep; print "forked=K failed=F",
 *                   then sleep
 *   escape FILE     leave a grandchild in a session of its own (as a
 *                   double-forking daemon does) that writes its pid to
 *                   FILE, then sleep
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void __attribute__((noreturn))
lw_sleep(void)
{
	fflush(stdout);
	for (;;)
		pause();
}

/* The "Key:" line of /proc/self/status, as key=value. */
static void
lw_status(const char *key)
{
	char	 line[512];
	FILE	*f = fopen("/proc/self/status", "re");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':') {
			char *v = line + strlen(key) + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			for (size_t n = strlen(v); n > 0 && v[n - 1] == ' '; n--)
				v[n - 1] = '\0';
			for (char *t = v; *t != '\0'; t++)
				if (*t == '\t')
					*t = ' ';
			printf("%s=%s\n", key, v);
		}
	if (f != NULL)
		fclose(f);
}

static void
lw_rlimit(const char *name, int res)
{
	struct rlimit rl;

	getrlimit(res, &rl);
	if (rl.rlim_cur == RLIM_INFINITY)
		printf("%s=unlimited", name);
	else
		printf("%s=%llu", name, (unsigned long long)rl.rlim_cur);
	if (rl.rlim_max == RLIM_INFINITY)
		printf("/unlimited\n");
	else
		printf("/%llu\n", (unsigned long long)rl.rlim_max);
}

static void __attribute__((noreturn))
lw_report(void)
{
	mode_t	 m = umask(0);
	char	 adj[16] = "";
	int	 fd = open("/proc/self/oom_score_adj", O_RDONLY);

	umask(m);
	if (fd != -1 && read(fd, adj, sizeof(adj) - 1) > 0)
		adj[strcspn(adj, "\n")] = '\0';
	printf("umask=%04o\n", (unsigned)m);
	lw_status("NoNewPrivs");
	lw_status("Gid");
	lw_status("Groups");
	printf("oom_score_adj=%s\n", adj);
	lw_rlimit("nofile", RLIMIT_NOFILE);
	lw_rlimit("core", RLIMIT_CORE);
	lw_rlimit("as", RLIMIT_AS);
	printf("report-done\n");
	lw_sleep();
}

static void __attribute__((noreturn))
lw_alloc(void)
{
	size_t total = 0;

	usleep(300000);
	for (;;) {
		char *p = malloc(1 << 20);

		if (p == NULL) {
			usleep(1000);
			continue;
		}
		memset(p, 0x5a, 1 << 20);
		if ((total += 1) % 16 == 0) {
			printf("allocated %zu MiB\n", total);
			fflush(stdout);
		}
		usleep(1000);
	}
}

static void __attribute__((noreturn))
lw_fork(int n)
{
	int ok = 0, failed = 0, err = 0;

	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			lw_sleep();
		if (pid > 0)
			ok++;
		else {
			failed++;
			err = errno;
		}
	}
	printf("forked=%d failed=%d errno=%s\n", ok, failed, err ? strerror(err) : "none");
	lw_sleep();
}

static void __attribute__((noreturn))
lw_escape(const char *file)
{
	pid_t pid = fork();

	if (pid == 0) {
		setsid();
		if (fork() == 0) {
			FILE *f = fopen(file, "we");

			if (f != NULL) {
				fprintf(f, "%d\n", (int)getpid());
				fclose(f);
			}
			lw_sleep();
		}
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	printf("escaped\n");
	lw_sleep();
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "report") == 0)
		lw_report();
	if (argc >= 2 && strcmp(argv[1], "alloc") == 0)
		lw_alloc();
	if (argc >= 3 && strcmp(argv[1], "fork") == 0)
		lw_fork(atoi(argv[2]));
	if (argc >= 3 && strcmp(argv[1], "escape") == 0)
		lw_escape(argv[2]);
	fprintf(stderr, "usage: limitworker report | alloc | fork N | escape FILE\n");
	return 2;
}
