/*
 * tu: helpers for integration tests that drive real processes over real
 * sockets (see tu.h for each contract).
 *
 * Invariants:
 * - Every wait is bounded by a deadline on the monotonic clock; nothing
 *   here blocks forever on a process or a socket.
 * - Every process started by tu_spawn leads its own process group, so it
 *   (and whatever it forks without changing groups) is stopped by its pid.
 *   Children still running when the test process exits are SIGKILLed, group
 *   and all: a failed assertion must not leave a daemon holding a port for
 *   the next test. Check ends a failed test with _exit() (no atexit handler,
 *   no teardown), so a janitor process does it (below), and removes the
 *   temp directories the test had not removed (TU_KEEP=1 keeps them).
 * - Self-contained: only libc and Check, so any test can link it.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "tu.h"

#define TU_MAX_CHILDREN	64
#define TU_POLL_MS	10

static pid_t	 tu_children[TU_MAX_CHILDREN];
static void	 tu_jan_send(const char *, ...) __attribute__((format(printf, 1, 2)));
static int	 tu_atexit_done;

static char *
tu_asprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		ck_abort_msg("tu: vasprintf failed");
	return s;
}

static void *
tu_realloc(void *p, size_t n)
{
	if ((p = realloc(p, n == 0 ? 1 : n)) == NULL)
		ck_abort_msg("tu: realloc(%zu) failed", n);
	return p;
}

static long long
tu_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
tu_sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

const char *
tu_builddir(void)
{
	const char	*s = getenv("HOLDFAST_BUILDDIR");

	return s != NULL && *s != '\0' ? s : ".";
}

const char *
tu_srcdir(void)
{
	const char	*s = getenv("HOLDFAST_SRCDIR");

	return s != NULL && *s != '\0' ? s : ".";
}

char *
tu_buildpath(const char *rel)
{
	return tu_asprintf("%s/%s", tu_builddir(), rel);
}

char *
tu_srcpath(const char *rel)
{
	return tu_asprintf("%s/%s", tu_srcdir(), rel);
}

/*
 * The directory is made 0755 so that a server started as another user (the
 * tests run PostgreSQL as `postgres`) can reach paths below it.
 */
char *
tu_tmpdir(const char *tag)
{
	const char	*base = getenv("TMPDIR");
	char		*path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	path = tu_asprintf("%s/holdfast-%s-XXXXXX", base, tag != NULL ? tag : "t");
	if (mkdtemp(path) == NULL)
		ck_abort_msg("mkdtemp(%s): %s", path, strerror(errno));
	if (chmod(path, 0755) == -1)
		ck_abort_msg("chmod(%s): %s", path, strerror(errno));
	tu_jan_send("+d %s\n", path);
	return path;
}

static int
tu_rmrf_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void
tu_rmrf(const char *path)
{
	/* A guard against the one mistake that cannot be undone. */
	if (path == NULL || path[0] == '\0' || strcmp(path, "/") == 0)
		return;
	nftw(path, tu_rmrf_one, 16, FTW_DEPTH | FTW_PHYS);
	tu_jan_send("-d %s\n", path);
}

struct sockaddr_in
tu_loopback(int port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

int
tu_connect(int port)
{
	struct sockaddr_in	sin = tu_loopback(port);
	int			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		ck_abort_msg("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		ck_abort_msg("connect(127.0.0.1:%d): %s", port, strerror(errno));
	return fd;
}

int
tu_send_all(int fd, const void *buf, size_t len)
{
	const char *s = buf;

	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

long
tu_cpu_ticks(pid_t pid)
{
	char		 path[64], *s, *e;
	unsigned long	 ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((s = tu_read_file(path, NULL)) == NULL || (e = strrchr(s, ')')) == NULL)
		ck_abort_msg("cannot read %s", path);
	/* After "pid (comm)": state is field 3, utime 14, stime 15. */
	if (sscanf(e + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		ck_abort_msg("cannot parse %s", path);
	free(s);
	return (long)(ut + st);
}

int
tu_free_port(int type)
{
	struct sockaddr_in	sin = tu_loopback(0);
	socklen_t		len = sizeof(sin);
	int			fd, port;

	if ((fd = socket(AF_INET, type | SOCK_CLOEXEC, 0)) == -1)
		ck_abort_msg("socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		ck_abort_msg("bind(127.0.0.1:0): %s", strerror(errno));
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* --- the runner ------------------------------------------------------ */

int
tu_run(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

TCase *
tu_tcase(Suite *s, const char *name, int timeout_s)
{
	TCase	*tc = tcase_create(name);

	if (timeout_s > 0)
		tcase_set_timeout(tc, timeout_s);
	suite_add_tcase(s, tc);
	return tc;
}

/* --- the janitor ------------------------------------------------------
 * Forked at the first registration in each test process. It holds the read
 * end of a pipe whose write end only the test process has (CLOEXEC, so no
 * spawned program keeps it open): EOF means the test process is gone, and
 * the janitor then SIGKILLs every process group still registered (checked
 * against the start time recorded with it, so a reused pid is left alone)
 * and removes every directory still registered. Lines: "+p PID START",
 * "-p PID", "+d PATH", "-d PATH".
 */
#define TU_JAN_MAX	128

static int	 tu_jan_fd = -1;
static pid_t	 tu_jan_owner;

static unsigned long long
tu_starttime(pid_t pid)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 st = 0;
	int			 fd, n, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || (buf[n] = '\0', p = strrchr(buf, ')')) == NULL)
		return 0;
	for (field = 2; p != NULL && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p != NULL)
		st = strtoull(p + 1, NULL, 10);
	return st;
}

struct tu_jan {
	pid_t			 pid[TU_JAN_MAX];
	unsigned long long	 start[TU_JAN_MAX];
	char			*dir[TU_JAN_MAX];
};

static void
tu_jan_line(struct tu_jan *j, char *line)
{
	long long	 pid = 0;
	int		 i;

	if (line[0] == '+' && line[1] == 'p') {
		unsigned long long st = 0;

		sscanf(line + 2, "%lld %llu", &pid, &st);
		for (i = 0; i < TU_JAN_MAX && j->pid[i] != 0; i++)
			;
		if (i < TU_JAN_MAX) {
			j->pid[i] = (pid_t)pid;
			j->start[i] = st;
		}
	} else if (line[0] == '-' && line[1] == 'p') {
		pid = atoll(line + 2);
		for (i = 0; i < TU_JAN_MAX; i++)
			if (j->pid[i] == (pid_t)pid)
				j->pid[i] = 0;
	} else if (line[0] == '+' && line[1] == 'd') {
		for (i = 0; i < TU_JAN_MAX && j->dir[i] != NULL; i++)
			;
		if (i < TU_JAN_MAX)
			j->dir[i] = strdup(line + 3);
	} else if (line[0] == '-' && line[1] == 'd') {
		for (i = 0; i < TU_JAN_MAX; i++)
			if (j->dir[i] != NULL && strcmp(j->dir[i], line + 3) == 0) {
				free(j->dir[i]);
				j->dir[i] = NULL;
			}
	}
}

static int tu_rmrf_one(const char *, const struct stat *, int, struct FTW *);

static void
tu_jan_sweep(struct tu_jan *j)
{
	int	i, killed = 0;

	for (i = 0; i < TU_JAN_MAX; i++)
		if (j->pid[i] > 0 && tu_starttime(j->pid[i]) == j->start[i]) {
			kill(-j->pid[i], SIGKILL);
			kill(j->pid[i], SIGKILL);
			killed++;
		}
	if (killed)
		tu_sleep_ms(300);	/* let the dead release their files */
	if (getenv("TU_KEEP") != NULL)
		return;
	for (i = 0; i < TU_JAN_MAX; i++)
		if (j->dir[i] != NULL && strncmp(j->dir[i], "/", 1) == 0 &&
		    strcmp(j->dir[i], "/") != 0)
			nftw(j->dir[i], tu_rmrf_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void __attribute__((noreturn))
tu_jan_main(int fd, int ack)
{
	static struct tu_jan	 j;
	char			 buf[8192];
	size_t			 have = 0;
	ssize_t			 n;

	/* Out of the test's process group before the test may end: Check
	 * kills that group once the test process exits (an exit test ends
	 * right after its setup registered a directory). */
	setsid();
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	(void)!write(ack, "", 1);
	for (int other = 3; other < 1024; other++)
		if (other != fd)
			close(other);
	while ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) != 0) {
		char *nl, *line = buf;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			tu_jan_line(&j, line);
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0;	/* a line that long is not ours */
	}
	tu_jan_sweep(&j);
	_exit(0);
}

static void
tu_jan_send(const char *fmt, ...)
{
	char	 line[PATH_MAX + 32];
	va_list	 ap;
	int	 p[2], ack[2], n;
	char	 c;
	pid_t	 pid;

	if (tu_jan_fd == -1 || tu_jan_owner != getpid()) {
		if (tu_jan_fd != -1)
			close(tu_jan_fd);	/* the parent's, inherited */
		tu_jan_fd = -1;
		if (pipe2(p, O_CLOEXEC) == -1 || pipe2(ack, O_CLOEXEC) == -1 ||
		    (pid = fork()) == -1)
			return;
		if (pid == 0) {
			close(p[1]);
			close(ack[0]);
			tu_jan_main(p[0], ack[1]);
		}
		close(p[0]);
		close(ack[1]);
		while (read(ack[0], &c, 1) == -1 && errno == EINTR)
			;	/* until the janitor is in its own session */
		close(ack[0]);
		tu_jan_fd = p[1];
		tu_jan_owner = getpid();
	}
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)!write(tu_jan_fd, line, (size_t)n);
}

/* --- processes ------------------------------------------------------- */

static void
tu_forget(pid_t pid)
{
	int	i;

	for (i = 0; i < TU_MAX_CHILDREN; i++)
		if (tu_children[i] == pid)
			tu_children[i] = 0;
	tu_jan_send("-p %d\n", (int)pid);
}

static void
tu_cleanup_children(void)
{
	int	i;

	for (i = 0; i < TU_MAX_CHILDREN; i++) {
		if (tu_children[i] <= 0)
			continue;
		kill(-tu_children[i], SIGKILL);
		kill(tu_children[i], SIGKILL);
		waitpid(tu_children[i], NULL, 0);
		tu_children[i] = 0;
	}
}

static void
tu_remember(pid_t pid)
{
	int	i;

	if (!tu_atexit_done) {
		atexit(tu_cleanup_children);
		tu_atexit_done = 1;
	}
	tu_jan_send("+p %d %llu\n", (int)pid, tu_starttime(pid));
	for (i = 0; i < TU_MAX_CHILDREN; i++) {
		if (tu_children[i] == 0) {
			tu_children[i] = pid;
			return;
		}
	}
}

/* In the child: own group, default signal state, output to logpath. */
static void
tu_child_setup(char *const env[], const char *logpath)
{
	sigset_t	 none;
	int		 fd, sig;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if ((fd = open("/dev/null", O_RDONLY)) != -1) {
		dup2(fd, STDIN_FILENO);
		if (fd != STDIN_FILENO)
			close(fd);
	}
	if (logpath != NULL) {
		fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd == -1) {
			dprintf(STDERR_FILENO, "tu_spawn: open(%s): %s\n",
			    logpath, strerror(errno));
			_exit(127);
		}
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	for (; env != NULL && *env != NULL; env++)
		putenv(*env);
}

/* In the child: fds[i] becomes fd 3 + i (through copies above them all,
 * so that no fds[j] is overwritten before it is moved). */
static void
tu_child_fds(const int *fds, int nfds)
{
	int	i, hi[16];

	for (i = 0; i < nfds && i < 16; i++)
		hi[i] = fcntl(fds[i], F_DUPFD, 3 + nfds);
	for (i = 0; i < nfds && i < 16; i++) {
		dup2(hi[i], 3 + i);
		close(hi[i]);
	}
}

pid_t
tu_spawn(char *const argv[], char *const env[], const char *logpath)
{
	return tu_spawn_fds(argv, env, logpath, NULL, 0);
}

pid_t
tu_spawn_fds(char *const argv[], char *const env[], const char *logpath,
    const int *fds, int nfds)
{
	pid_t	pid;

	fflush(NULL);
	if ((pid = fork()) == -1)
		ck_abort_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		tu_child_setup(env, logpath);
		tu_child_fds(fds, nfds);
		execv(argv[0], argv);
		dprintf(STDERR_FILENO, "tu_spawn: execv(%s): %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	/* Both sides set the group, so no signal can race the child's setpgid. */
	setpgid(pid, pid);
	tu_remember(pid);
	return pid;
}

/*
 * Polls a process that is not our child (a worker of a holdfastd under
 * test) until it is gone; its status is unknowable, so *status is -1.
 */
static int
tu_wait_gone(pid_t pid, long long deadline, int *status)
{
	while (tu_pid_alive(pid)) {
		if (tu_now_ms() >= deadline)
			return -1;
		tu_sleep_ms(TU_POLL_MS);
	}
	if (status != NULL)
		*status = -1;
	return 0;
}

/*
 * Waits for pid to exit, up to timeout_ms. With reap = 0 the child is left
 * a zombie (waitid WNOWAIT), which keeps its pid and process group id from
 * being reused while the caller signals the group. Returns 0 with *status,
 * -1 on timeout.
 */
static int
tu_wait_exit(pid_t pid, int timeout_ms, int *status, int reap)
{
	long long	 deadline = tu_now_ms() + timeout_ms;
	siginfo_t	 si;
	int		 st, flags = WEXITED | WNOHANG | (reap ? 0 : WNOWAIT);

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, flags) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				return tu_wait_gone(pid, deadline, status);
			return -1;
		}
		if (si.si_pid == pid)
			break;
		if (tu_now_ms() >= deadline)
			return -1;
		tu_sleep_ms(TU_POLL_MS);
	}
	if (si.si_code == CLD_EXITED)
		st = W_EXITCODE(si.si_status, 0);
	else
		st = W_EXITCODE(0, si.si_status) | (si.si_code == CLD_DUMPED ? WCOREFLAG : 0);
	if (status != NULL)
		*status = st;
	if (reap)
		tu_forget(pid);
	return 0;
}

int
tu_wait_pid(pid_t pid, int timeout_ms, int *status)
{
	return tu_wait_exit(pid, timeout_ms, status, 1);
}

void
tu_kill(pid_t pid, int sig)
{
	if (pid <= 0)
		return;
	kill(pid, sig);
	if (sig == SIGKILL)
		kill(-pid, SIGKILL);
}

/*
 * After the leader exits, whatever is left in its group is killed before
 * the leader is reaped (its zombie still holds the group id, so the kill
 * cannot hit an unrelated group). A pid that is not our child is only
 * waited for, and -1 is returned for its unknowable status.
 */
int
tu_stop(pid_t pid, int timeout_ms)
{
	int	status = -1;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	if (tu_wait_exit(pid, timeout_ms, &status, 0) == -1) {
		kill(pid, SIGKILL);
		kill(-pid, SIGKILL);
		if (tu_wait_exit(pid, 10000, &status, 0) == -1)
			return -1;
	}
	if (status != -1) {
		kill(-pid, SIGKILL);
		tu_wait_exit(pid, 1000, &status, 1);
	}
	return status;
}

/* A zombie is not alive: read its state from /proc. */
int
tu_pid_alive(pid_t pid)
{
	char	 path[64], buf[512], *p;
	FILE	*f;
	int	 alive = 1;

	if (pid <= 0)
		return 0;
	if (kill(pid, 0) == -1 && errno != EPERM)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 1;
	if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL &&
	    (p[1] == ' ') && (p[2] == 'Z' || p[2] == 'X'))
		alive = 0;
	fclose(f);
	return alive;
}

/* --- polling and files ----------------------------------------------- */

/* Returns 1 as soon as pred(arg) is true, 0 when timeout_ms passed first. */
int
tu_wait_for(int (*pred)(void *), void *arg, int timeout_ms)
{
	long long	deadline = tu_now_ms() + timeout_ms;

	for (;;) {
		if (pred(arg))
			return 1;
		if (tu_now_ms() >= deadline)
			return 0;
		tu_sleep_ms(TU_POLL_MS);
	}
}

struct tu_file_count {
	const char	*path;
	const char	*needle;
	int		 n;
};

static int
tu_file_count_ok(void *arg)
{
	struct tu_file_count	*fc = arg;

	return tu_count_in_file(fc->path, fc->needle) >= fc->n;
}

/* Returns 1 once the count is reached, 0 on timeout. */
int
tu_wait_file_count(const char *path, const char *needle, int n, int timeout_ms)
{
	struct tu_file_count	fc = { path, needle, n };

	return tu_wait_for(tu_file_count_ok, &fc, timeout_ms);
}

static char *
tu_read_fd(int fd, size_t *len)
{
	char	*buf = NULL;
	size_t	 n = 0, cap = 0;
	ssize_t	 r;

	for (;;) {
		if (cap - n < 4096) {
			cap = cap == 0 ? 8192 : cap * 2;
			buf = tu_realloc(buf, cap);
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

char *
tu_read_file(const char *path, size_t *len)
{
	char	*buf;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	buf = tu_read_fd(fd, len);
	close(fd);
	return buf;
}

int
tu_write_file(const char *path, const char *text)
{
	FILE	*f;
	int	 r;

	if ((f = fopen(path, "we")) == NULL)
		return -1;
	r = fputs(text, f) == EOF ? -1 : 0;
	if (fclose(f) == EOF)
		r = -1;
	return r;
}

/* Non-overlapping occurrences; 0 when the file is missing. */
int
tu_count_in_file(const char *path, const char *needle)
{
	char	*buf, *p;
	size_t	 nlen = strlen(needle);
	int	 count = 0;

	if (nlen == 0 || (buf = tu_read_file(path, NULL)) == NULL)
		return 0;
	for (p = buf; (p = strstr(p, needle)) != NULL; p += nlen)
		count++;
	free(buf);
	return count;
}

void
tu_show_file_if(const char *env, const char *path)
{
	char	*text;

	if (getenv(env) != NULL && (text = tu_read_file(path, NULL)) != NULL) {
		fputs(text, stderr);
		free(text);
	}
}

/* Exit status of sh -c cmd (-1 if it did not exit normally); stdout in *out. */
int
tu_sh(const char *cmd, char **out)
{
	int	 fds[2], status;
	pid_t	 pid;
	char	*buf;

	if (pipe2(fds, O_CLOEXEC) == -1)
		ck_abort_msg("pipe2: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) == -1)
		ck_abort_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	buf = tu_read_fd(fds[0], NULL);
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* --- HTTP client ----------------------------------------------------- */

struct tu_conn {
	int		 fd;
	long long	 deadline;
	char		*buf;		/* everything received so far */
	size_t		 len, cap;
	int		 eof;
};

/* Waits for events on the connection; 0 ready, -2 deadline passed. */
static int
tu_conn_poll(struct tu_conn *c, short events)
{
	struct pollfd	pfd = { c->fd, events, 0 };
	long long	left;
	int		r;

	for (;;) {
		if ((left = c->deadline - tu_now_ms()) <= 0)
			return -2;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

static int
tu_conn_open(struct tu_conn *c, int port)
{
	struct sockaddr_in	sin = tu_loopback(port);
	socklen_t		len = sizeof(int);
	int			err = 0, r;

	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	if ((r = tu_conn_poll(c, POLLOUT)) != 0)
		return r;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0)
		return -1;
	return 0;
}

static int
tu_conn_send(struct tu_conn *c, const char *p, size_t n)
{
	ssize_t	w;
	int	r;

	while (n > 0) {
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		if ((r = tu_conn_poll(c, POLLOUT)) != 0)
			return r;
	}
	return 0;
}

/* Receives more bytes into c->buf; 0 (c->eof set at end), -1, -2. */
static int
tu_conn_recv(struct tu_conn *c)
{
	ssize_t	r;
	int	pr;

	if (c->cap - c->len < 4096) {
		c->cap = c->cap == 0 ? 16384 : c->cap * 2;
		c->buf = tu_realloc(c->buf, c->cap);
	}
	for (;;) {
		r = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
		if (r > 0) {
			c->len += (size_t)r;
			c->buf[c->len] = '\0';
			return 0;
		}
		if (r == 0) {
			c->eof = 1;
			return 0;
		}
		if (errno == ECONNRESET) {
			c->eof = 1;
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if ((pr = tu_conn_poll(c, POLLIN)) != 0)
			return pr;
	}
}

/* Makes sure at least want bytes are buffered; -1 if the peer closed first. */
static int
tu_conn_need(struct tu_conn *c, size_t want)
{
	int	r;

	while (c->len < want) {
		if (c->eof)
			return -1;
		if ((r = tu_conn_recv(c)) != 0)
			return r;
	}
	return 0;
}

/* Offset just past "\r\n" at or after off, reading more as needed; -1/-2. */
static long
tu_conn_line(struct tu_conn *c, size_t off)
{
	char	*p;
	int	 r;

	for (;;) {
		if (c->len > off && (p = memmem(c->buf + off, c->len - off, "\r\n", 2)) != NULL)
			return (long)(p - c->buf) + 2;
		if (c->eof)
			return -1;
		if ((r = tu_conn_recv(c)) != 0)
			return r;
	}
}

static int
tu_has_header(const char *headers, const char *name)
{
	size_t		 n = strlen(name);
	const char	*p = headers;

	while (p != NULL && *p != '\0') {
		while (*p == '\r' || *p == '\n' || *p == ' ')
			p++;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			return 1;
		p = strchr(p, '\n');
	}
	return 0;
}

/* The request head: caller's headers win over the defaults added here. */
static char *
tu_http_head(int port, const char *method, const char *path,
    const char *headers, const char *body, size_t bodylen)
{
	char	*head, *line, *save, *copy, *tmp;

	if (headers == NULL)
		headers = "";
	head = tu_asprintf("%s %s HTTP/1.1\r\n", method, path);
	if ((copy = strdup(headers)) == NULL)
		ck_abort_msg("tu: strdup failed");
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "\r")] = '\0';
		if (*line == '\0')
			continue;
		tmp = tu_asprintf("%s%s\r\n", head, line);
		free(head);
		head = tmp;
	}
	if (!tu_has_header(headers, "Host"))
		tmp = tu_asprintf("%sHost: 127.0.0.1:%d\r\n", head, port), free(head), head = tmp;
	if (!tu_has_header(headers, "Connection"))
		tmp = tu_asprintf("%sConnection: close\r\n", head), free(head), head = tmp;
	if (body != NULL && !tu_has_header(headers, "Content-Length") &&
	    !tu_has_header(headers, "Transfer-Encoding"))
		tmp = tu_asprintf("%sContent-Length: %zu\r\n", head, bodylen), free(head), head = tmp;
	tmp = tu_asprintf("%s\r\n", head);
	free(head);
	free(copy);
	return tmp;
}

/* Value of header name in the response head [0, hlen), or NULL. */
static char *
tu_resp_header(const char *head, const char *name)
{
	const char	*p = head;
	size_t		 n = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return strndup(p, strcspn(p, "\r\n"));
		}
	}
	return NULL;
}

/* Decodes a chunked body starting at c->buf + off into *out; 0/-1/-2. */
static int
tu_http_chunked(struct tu_conn *c, size_t off, char **out, size_t *outlen)
{
	char		*body = NULL, *end;
	size_t		 blen = 0;
	unsigned long	 n;
	long		 eol;

	for (;;) {
		if ((eol = tu_conn_line(c, off)) < 0)
			goto fail;
		n = strtoul(c->buf + off, &end, 16);
		if (end == c->buf + off)
			goto fail;
		off = (size_t)eol;
		if (n == 0)
			break;
		if ((eol = tu_conn_need(c, off + n + 2)) != 0)
			goto fail;
		body = tu_realloc(body, blen + n + 1);
		memcpy(body + blen, c->buf + off, n);
		blen += n;
		off += n + 2;
	}
	/* Trailers, up to the empty line. */
	while ((eol = tu_conn_line(c, off)) >= 0 && (size_t)eol != off + 2)
		off = (size_t)eol;
	body = tu_realloc(body, blen + 1);
	body[blen] = '\0';
	*out = body;
	*outlen = blen;
	return 0;
fail:
	free(body);
	return eol == -2 ? -2 : -1;
}

/* Reads the body after the head ending at off, per the response framing. */
static int
tu_http_body(struct tu_conn *c, const char *method, int status,
    const char *head, size_t off, char **out)
{
	char		*te, *cl;
	size_t		 n, blen;
	int		 r = 0;

	te = tu_resp_header(head, "Transfer-Encoding");
	cl = tu_resp_header(head, "Content-Length");
	if (strcmp(method, "HEAD") == 0 || status == 204 || status == 304) {
		*out = strdup("");
	} else if (te != NULL && strcasestr(te, "chunked") != NULL) {
		r = tu_http_chunked(c, off, out, &blen);
	} else if (cl != NULL) {
		n = strtoul(cl, NULL, 10);
		if ((r = tu_conn_need(c, off + n)) == 0)
			*out = strndup(c->buf + off, n);
	} else {
		while (!c->eof && (r = tu_conn_recv(c)) == 0)
			;
		if (r == 0)
			*out = strndup(c->buf + off, c->len - off);
	}
	free(te);
	free(cl);
	return r;
}

/* Parses the status line and finds the head's end; returns status or <0. */
static int
tu_http_head_read(struct tu_conn *c, size_t start, size_t *headend)
{
	char	*p;
	int	 r, status;

	for (;;) {
		if (c->len > start &&
		    (p = memmem(c->buf + start, c->len - start, "\r\n\r\n", 4)) != NULL)
			break;
		if (c->eof)
			return -1;
		if ((r = tu_conn_recv(c)) != 0)
			return r;
	}
	*headend = (size_t)(p - c->buf) + 4;
	if (sscanf(c->buf + start, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	return status;
}

int
tu_http(int port, const char *method, const char *path,
    const char *headers, const char *body, size_t bodylen,
    char **resp_body, char **resp_headers, int timeout_ms)
{
	struct tu_conn	 c = { -1, tu_now_ms() + timeout_ms, NULL, 0, 0, 0 };
	char		*req, *head = NULL, *rbody = NULL;
	size_t		 start = 0, end = 0;
	int		 status, r;

	if (resp_body != NULL)
		*resp_body = NULL;
	if (resp_headers != NULL)
		*resp_headers = NULL;
	if ((r = tu_conn_open(&c, port)) != 0) {
		status = r == -2 ? -2 : -1;
		goto out;
	}
	req = tu_http_head(port, method, path, headers, body, bodylen);
	r = tu_conn_send(&c, req, strlen(req));
	free(req);
	if (r == 0 && body != NULL)
		r = tu_conn_send(&c, body, bodylen);
	/* A server may answer (413, 400) and close before reading it all. */
	if (r == -1)
		r = 0;
	if (r != 0) {
		status = r;
		goto out;
	}
	/* Interim 1xx responses are skipped. */
	while ((status = tu_http_head_read(&c, start, &end)) >= 100 && status < 200)
		start = end;
	if (status < 0)
		goto out;
	head = strndup(c.buf + start, end - start);
	if ((r = tu_http_body(&c, method, status, head, end, &rbody)) != 0)
		status = r;
out:
	if (status >= 0 && resp_headers != NULL) {
		*resp_headers = head;
		head = NULL;
	}
	if (status >= 0 && resp_body != NULL) {
		*resp_body = rbody;
		rbody = NULL;
	}
	free(head);
	free(rbody);
	free(c.buf);
	if (c.fd != -1)
		close(c.fd);
	return status;
}
