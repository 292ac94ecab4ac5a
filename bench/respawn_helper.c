/*
 * respawn_helper: the timing half of bench/respawn.sh.
 *
 *   respawn_helper respawn SOCKET NAME STAMPFILE N [FLOORSTAMPS PROGRAM ARGS...]
 *     N times: wait until NAME is RUNNING with a new pid (asking holdfastd
 *     on its control socket), take CLOCK_MONOTONIC, SIGKILL it, and wait
 *     for the next line of STAMPFILE, where the new testworker wrote its
 *     own CLOCK_MONOTONIC as its first instruction. Prints the kill ->
 *     first-instruction latencies: "median_us p99_us max_us n".
 *     With FLOORSTAMPS, each round also measures the floor, the same
 *     kill -> first instruction without holdfastd: a minimal parent
 *     vforks (second: forks) and execs PROGRAM ARGS... -s FLOORSTAMPS.vfork
 *     (.fork; PROGRAM must stamp like the testworker's -s), blocks in
 *     waitpid() and, as soon as the child is reaped, starts it again.
 *     Two more lines then, vfork floor and fork floor, same format.
 *     Those three lines time kill -> the testworker's main (after its
 *     dynamic loading); three more follow, same order, with kill -> the
 *     new process's first instruction when the command starts with the
 *     static bench/respawn_stamp (its stamps go to STAMPFILE.exec), else
 *     "-1 -1 -1 0".
 *   respawn_helper exec N PROGRAM ARGS...
 *     Runs PROGRAM N times (output to /dev/null) and prints the median and
 *     p99 wall time in microseconds: "median_us p99_us".
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "json.h"
#include "util.h"

static long long
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* NAME's state and pid, straight from the control socket. */
static int
query(const char *sock, const char *name, char *state, size_t len, long long *pid)
{
	struct sockaddr_un	 sun;
	char			 req[256], buf[65536], err[128];
	int			 fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t			 n, got = 0;
	yajl_val		 v, procs, p;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	hf_strlcpy(sun.sun_path, sock, sizeof(sun.sun_path));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	n = snprintf(req, sizeof(req), "{\"cmd\":\"status\",\"names\":[\"%s\"]}\n", name);
	(void)!write(fd, req, n);
	while (got < (ssize_t)sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
		got += n;
		if (memchr(buf, '\n', got) != NULL)
			break;
	}
	close(fd);
	if ((v = json_parse(buf, got, err, sizeof(err))) == NULL)
		return -1;
	procs = json_get_array(v, "procs");
	if (procs == NULL || procs->u.array.len != 1) {
		yajl_tree_free(v);
		return -1;
	}
	p = procs->u.array.values[0];
	snprintf(state, len, "%s", json_get_str(p, "state"));
	json_get_int(p, "pid", pid);
	yajl_tree_free(v);
	return 0;
}

static int
count_lines(const char *file, long long *last_ns, long long *last_pid)
{
	char	 buf[1 << 16];
	int	 fd = open(file, O_RDONLY | O_CLOEXEC), n = 0;
	ssize_t	 len;
	char	*line, *save = NULL;

	if (fd == -1)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		n++;
		sscanf(line, "%lld %lld", last_ns, last_pid);
	}
	return n;
}

static long long
wait_running(const char *sock, const char *name, long long not_pid)
{
	char		 st[32];
	long long	 pid = 0, end = mono_ns() + 5000000000LL;

	while (mono_ns() < end) {
		if (query(sock, name, st, sizeof(st), &pid) == 0 &&
		    strcmp(st, "RUNNING") == 0 && pid != not_pid && pid > 0)
			return pid;
		usleep(500);
	}
	fprintf(stderr, "respawn_helper: %s not RUNNING with a new pid\n", name);
	exit(1);
}

static void
print_lat(long long *lat, int n)
{
	qsort(lat, n, sizeof(*lat), cmp_ll);
	printf("%lld %lld %lld %d\n", lat[n / 2] / 1000, lat[(n * 99) / 100 < n ?
	    (n * 99) / 100 : n - 1] / 1000, lat[n - 1] / 1000, n);
}

/* Waits for line number want of the stamp file; 0, or -1 after 5 s. */
static int
wait_stamp(const char *stamps, int want, long long *ns, long long *pid)
{
	for (long long end = mono_ns() + 5000000000LL; count_lines(stamps, ns, pid) < want; ) {
		if (mono_ns() > end)
			return -1;
		usleep(200);
	}
	return 0;
}

/*
 * The stamp respawn_stamp wrote (STAMPS.exec, line number want) minus t0,
 * or -1 when the command has no respawn_stamp in front of it.
 */
static long long
exec_lat(const char *stamps, int want, long long t0)
{
	char		 path[4096];
	long long	 ns, pid;

	snprintf(path, sizeof(path), "%s.exec", stamps);
	if (access(path, F_OK) == -1 || wait_stamp(path, want, &ns, &pid) == -1)
		return -1;
	return ns - t0;
}

static int
exec_count(const char *stamps)
{
	char		 path[4096];
	long long	 ns, pid;

	snprintf(path, sizeof(path), "%s.exec", stamps);
	return count_lines(path, &ns, &pid);
}

/*
 * One holdfastd respawn: kill NAME once RUNNING with a new pid. Returns
 * kill -> the worker's main; *first gets kill -> first instruction (or -1).
 */
static long long
respawn_one(const char *sock, const char *name, const char *stamps, long long *pid,
    long long *first)
{
	long long	 ns, spid, t0;
	int		 before, before_exec;

	*pid = wait_running(sock, name, *pid);
	usleep(2000);	/* idle supervisor, as in production */
	before = count_lines(stamps, &ns, &spid);
	before_exec = exec_count(stamps);
	t0 = mono_ns();
	kill((pid_t)*pid, SIGKILL);
	if (wait_stamp(stamps, before + 1, &ns, &spid) == -1) {
		fprintf(stderr, "respawn_helper: %s: no new process after a kill\n", name);
		exit(1);
	}
	*first = exec_lat(stamps, before_exec + 1, t0);
	return ns - t0;
}

/* The minimal supervisor: (v)fork + exec, block in waitpid, again; never returns. */
static void __attribute__((noreturn))
floor_parent(int use_fork, char **argv)
{
	int	 status;
	pid_t	 pid;

	for (;;) {
		if ((pid = use_fork ? fork() : vfork()) == 0) {
			execv(argv[0], argv);
			_exit(127);
		}
		if (pid == -1 || waitpid(pid, &status, 0) == -1)
			_exit(1);
		if (WIFEXITED(status))
			_exit(1);	/* the program failed on its own */
	}
}

struct floor {
	const char	*stamps;
	pid_t		 sup;		/* the minimal supervisor */
	int		 seen;		/* stamp lines so far */
	long long	 pid;		/* its current child */
};

/* Starts the minimal supervisor of PROGRAM ARGS... -s STAMPS. */
static void
floor_start(struct floor *f, int use_fork, const char *stamps, char **args)
{
	long long	 ns;
	int		 n = 0;
	char		**argv;

	while (args[n] != NULL)
		n++;
	argv = xcalloc(n + 3, sizeof(char *));
	memcpy(argv, args, n * sizeof(char *));
	argv[n] = "-s";
	argv[n + 1] = (char *)stamps;
	f->stamps = stamps;
	f->seen = count_lines(stamps, &ns, &f->pid);
	if ((f->sup = fork()) == -1) {
		perror("respawn_helper: fork");
		exit(1);
	}
	if (f->sup == 0)
		floor_parent(use_fork, argv);
	if (wait_stamp(stamps, ++f->seen, &ns, &f->pid) == -1) {
		fprintf(stderr, "respawn_helper: %s did not start\n", argv[0]);
		exit(1);
	}
	free(argv);
}

/* One floor respawn: kill the current child; kill -> the next stamp. */
static long long
floor_one(struct floor *f, long long *first)
{
	long long	 ns, t0;
	int		 before_exec;

	usleep(10000);	/* let it settle, as RUNNING + 2 ms does for holdfastd */
	before_exec = exec_count(f->stamps);
	t0 = mono_ns();
	kill((pid_t)f->pid, SIGKILL);
	if (wait_stamp(f->stamps, ++f->seen, &ns, &f->pid) == -1) {
		fprintf(stderr, "respawn_helper: floor: no new process after a kill\n");
		exit(1);
	}
	*first = exec_lat(f->stamps, before_exec + 1, t0);
	return ns - t0;
}

static void
floor_stop(struct floor *f)
{
	int status;

	kill(f->sup, SIGKILL);
	waitpid(f->sup, &status, 0);
	kill((pid_t)f->pid, SIGKILL);	/* orphaned by the minimal supervisor */
}

/*
 * N rounds of: one holdfastd respawn, one vfork floor, one fork floor, so
 * that all three see the same machine (others' load comes and goes).
 * Prints kill -> main for the three, then kill -> first instruction for
 * the three ("-1 -1 -1 0" where the command had no respawn_stamp).
 */
static int
respawn(const char *sock, const char *name, const char *stamps, int n,
    const char *fstamps, char **argv)
{
	long long	*lat[6], pid = 0;
	struct floor	 fl[2];
	char		*fs[2];
	int		 floors = fstamps != NULL ? 2 : 0, ok[3] = { 1, 1, 1 };

	for (int k = 0; k < 6; k++)
		lat[k] = xcalloc(n, sizeof(long long));
	for (int k = 0; k < floors; k++) {
		fs[k] = xasprintf("%s.%s", fstamps, k ? "fork" : "vfork");
		floor_start(&fl[k], k, fs[k], argv);
	}
	for (int i = 0; i < n; i++) {
		lat[0][i] = respawn_one(sock, name, stamps, &pid, &lat[3][i]);
		for (int k = 0; k < floors; k++)
			lat[k + 1][i] = floor_one(&fl[k], &lat[k + 4][i]);
		for (int k = 0; k < 3; k++)
			ok[k] &= lat[k + 3][i] >= 0;
	}
	for (int k = 0; k < floors; k++) {
		floor_stop(&fl[k]);
		free(fs[k]);
	}
	for (int k = 0; k < 6; k++) {
		if (k % 3 > floors || (k >= 3 && !ok[k - 3]))
			printf("-1 -1 -1 0\n");
		else
			print_lat(lat[k], n);
		free(lat[k]);
	}
	return 0;
}

static int
exec_times(int n, char **argv)
{
	long long	*t = xcalloc(n, sizeof(*t)), t0;
	int		 status;
	pid_t		 pid;

	for (int i = 0; i < n; i++) {
		t0 = mono_ns();
		if ((pid = fork()) == 0) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 1);
			execv(argv[0], argv);
			_exit(127);
		}
		waitpid(pid, &status, 0);
		t[i] = mono_ns() - t0;
	}
	qsort(t, n, sizeof(*t), cmp_ll);
	printf("%lld %lld\n", t[n / 2] / 1000, t[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000);
	free(t);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "respawn") == 0)
		return respawn(argv[2], argv[3], argv[4], atoi(argv[5]), NULL, NULL);
	if (argc >= 8 && strcmp(argv[1], "respawn") == 0)
		return respawn(argv[2], argv[3], argv[4], atoi(argv[5]), argv[6], argv + 7);
	if (argc >= 4 && strcmp(argv[1], "exec") == 0)
		return exec_times(atoi(argv[2]), argv + 3);
	fprintf(stderr, "usage: respawn_helper respawn SOCKET NAME STAMPFILE N "
	    "[FLOORSTAMPS PROGRAM ARGS...]\n"
	    "       respawn_helper exec N PROGRAM ARGS...\n");
	return 2;
}
