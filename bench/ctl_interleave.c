/*
 * ctl_interleave: the per-run interleaving half of bench/ctl.sh.
 *
 *   ctl_interleave N PROGRAM ARGS... [-- PROGRAM ARGS...]...
 *
 * Runs each command once per cycle, N cycles (after 20 for warm-up), the
 * order rotated each cycle, stdout to /dev/null, timing posix_spawn to
 * waitpid as hyperfine -N does. hyperfine runs one command's runs in a
 * block, so a burst of load on a shared machine lands on whichever
 * command ran then, and the first command of a block pays for it being
 * first; here neighbours in time are different commands. Prints one line
 * per command: "median_ms mean_ms p10_ms p90_ms".
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>

#define MAXCMD	16
#define WARMUP	20

extern char **environ;

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One run of argv; its wall time in ms, -1 when it could not start. */
static double
run(char **argv, posix_spawn_file_actions_t *fa)
{
	double	 t0 = now_ms();
	pid_t	 pid;
	int	 st;

	if (posix_spawn(&pid, argv[0], fa, NULL, argv, environ) != 0)
		return -1;
	while (waitpid(pid, &st, 0) == -1)
		;
	return now_ms() - t0;
}

int
main(int argc, char **argv)
{
	posix_spawn_file_actions_t	 fa;
	char				**cmd[MAXCMD];
	double				*t[MAXCMD], sum;
	int				 n, nc = 0;

	if (argc < 3 || (n = atoi(argv[1])) < 10) {
		fprintf(stderr, "usage: ctl_interleave N PROGRAM ARGS... [-- PROGRAM ARGS...]...\n");
		return 2;
	}
	cmd[nc++] = argv + 2;
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--") == 0 && nc < MAXCMD && i + 1 < argc) {
			argv[i] = NULL;
			cmd[nc++] = argv + i + 1;
		}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	for (int c = 0; c < nc; c++)
		if ((t[c] = calloc(n, sizeof(double))) == NULL)
			return 1;
	for (int i = -WARMUP; i < n; i++)
		for (int k = 0; k < nc; k++) {
			int	 c = (k + (i < 0 ? 0 : i)) % nc;
			double	 ms = run(cmd[c], &fa);

			if (ms < 0) {
				fprintf(stderr, "ctl_interleave: cannot run %s\n", cmd[c][0]);
				return 1;
			}
			if (i >= 0)
				t[c][i] = ms;
		}
	for (int c = 0; c < nc; c++) {
		sum = 0;
		for (int i = 0; i < n; i++)
			sum += t[c][i];
		qsort(t[c], n, sizeof(double), cmp);
		printf("%.3f %.3f %.3f %.3f\n", t[c][n / 2], sum / n, t[c][n / 10],
		    t[c][9 * n / 10]);
	}
	return 0;
}
