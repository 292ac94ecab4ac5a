/*
 * log: timestamped one-line events on stderr. See log.h for the format.
 * Each line is formatted into one buffer and written with one write(2), so
 * lines from several processes sharing a pipe never interleave mid-line
 * (PIPE_BUF is 4 KiB; longer lines are cut).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define LOG_LINE_MAX	4096

static char	 log_prog[64] = "holdfast";
static int	 log_lvl = LOG_LVL_INFO;
static int	 log_fd = STDERR_FILENO;

static const char *const log_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void
log_init(const char *progname, int level)
{
	hf_strlcpy(log_prog, progname, sizeof(log_prog));
	log_lvl = level;
}

void
log_set_level(int level)
{
	log_lvl = level;
}

int
log_get_level(void)
{
	return log_lvl;
}

void
log_set_fd(int fd)
{
	log_fd = fd < 0 ? STDERR_FILENO : fd;
}

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < nitems(log_names); i++)
		if (strcasecmp(name, log_names[i]) == 0)
			return (int)i;
	if (strcasecmp(name, "warning") == 0)
		return LOG_LVL_WARN;
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < 0 || level >= (int)nitems(log_names))
		return "?";
	return log_names[level];
}

/*
 * The pid every line shows: one getpid() per process rather than a system
 * call per line. A fork child inherits the cache but not the pid, so the
 * child side of every fork() forgets it (vfork children exec or _exit
 * without logging). Caches are per thread (0: not asked yet), so a line
 * a helper thread logs cannot race with the main thread's.
 */
static _Thread_local int	 log_pid;
static pthread_once_t		 log_pid_once = PTHREAD_ONCE_INIT;

static void
log_forget_pid(void)
{
	log_pid = 0;
}

static void
log_watch_forks(void)
{
	pthread_atfork(NULL, NULL, log_forget_pid);
}

static int
log_getpid(void)
{
	pthread_once(&log_pid_once, log_watch_forks);
	if (log_pid == 0)
		log_pid = (int)getpid();
	return log_pid;
}

int
log_format_prefix(char *buf, size_t size, int level)
{
	static _Thread_local time_t	 sec = -1;
	static _Thread_local char	 ts[32];	/* "2026-11-28T13:02:20" of sec */
	struct timeval			 tv;
	struct tm			 tm;

	gettimeofday(&tv, NULL);
	if (tv.tv_sec != sec) {
		sec = tv.tv_sec;
		gmtime_r(&tv.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	}
	return snprintf(buf, size, "%s.%03dZ %s %s[%d]: ", ts,
	    (int)(tv.tv_usec / 1000), log_level_name(level), log_prog, log_getpid());
}

/*
 * One event, one line: a control character in a message (a newline in a
 * peer's input, say) must not forge a second line that monitoring greps
 * would count, so it is neutralised before the line is written.
 */
static void
log_sanitize(char *s, int n)
{
	for (int i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' || c == '\r')
			s[i] = ' ';
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			s[i] = '?';
	}
}

/* The line as log_vformat says, with ": suffix" (strerror's, so not
 * neutralised) after the text when suffix is not NULL. */
static size_t
log_format(char *line, size_t size, int level, const char *suffix,
    const char *fmt, va_list ap)
{
	/* Text ends before the last two bytes (newline, NUL). */
	int	 max = (int)size - 2, n, m;

	n = log_format_prefix(line, (size_t)max, level);
	/* On truncation snprintf stopped one byte short, at its NUL. */
	if (n > max - 1)
		n = max - 1;
	m = vsnprintf(line + n, (size_t)(max - n), fmt, ap);
	if (m > 0)
		n += m;
	if (n > max - 1)
		n = max - 1;
	log_sanitize(line, n);
	if (suffix != NULL) {
		m = snprintf(line + n, (size_t)(max - n), ": %s", suffix);
		if (m > 0)
			n += m;
		if (n > max - 1)
			n = max - 1;
	}
	line[n++] = '\n';
	line[n] = '\0';
	return (size_t)n;
}

size_t
log_vformat(char *buf, size_t size, int level, const char *fmt, va_list ap)
{
	return log_format(buf, size, level, NULL, fmt, ap);
}

static void	(*log_tap)(const char *, size_t);	/* cfgcli: log_set_tap */

static void
log_emit(int level, const char *suffix, const char *fmt, va_list ap)
{
	char		 line[LOG_LINE_MAX];
	struct iovec	 iov;

	if (level > log_lvl)
		return;
	iov.iov_base = line;
	iov.iov_len = log_format(line, sizeof(line), level, suffix, fmt, ap);
	if (log_tap != NULL)
		log_tap(line, iov.iov_len);
	log_out(NULL, &iov, 1);
}

void
log_set_tap(void (*fn)(const char *, size_t))
{
	log_tap = fn;
}

/* ---- non-blocking output ------------------------------------------------ */

#define LOG_NB_SOURCES	64

static struct {
	int		 on;
	int		 fd;		/* private O_NONBLOCK fd, or 2 (socket) */
	int		 sock;		/* send(MSG_DONTWAIT) */
	void		(*want)(int);
	int		 wanted;
	char		*buf;		/* ring of LOG_NB_QUEUE bytes */
	size_t		 head, len;
	struct {
		char		 name[48];
		unsigned long	 n;
	}		 drop[LOG_NB_SOURCES];
	int		 ndrop;
	unsigned long	 dropped;
} nb = { .fd = -1 };

int
log_nb_enable(void (*want)(int))
{
	struct stat	st;
	int		fd;

	if (nb.on) {	/* already on: a new watcher, the queue kept */
		nb.want = want;
		nb.wanted = 0;
		return nb.fd;
	}
	if (log_fd != STDERR_FILENO || fstat(STDERR_FILENO, &st) == -1)
		return -1;
	if (S_ISSOCK(st.st_mode)) {
		fd = STDERR_FILENO;
		nb.sock = 1;
	} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		/* A new open file description: O_NONBLOCK stays ours. */
		if ((fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC |
		    O_NOCTTY)) == -1)
			return -1;
		nb.sock = 0;
	} else
		return -1;
	nb.buf = malloc(LOG_NB_QUEUE);
	if (nb.buf == NULL) {
		if (fd != STDERR_FILENO)
			close(fd);
		return -1;
	}
	nb.fd = fd;
	nb.want = want;
	nb.wanted = 0;
	nb.head = nb.len = 0;
	nb.on = 1;
	return fd;
}

void
log_nb_disable(void)
{
	if (!nb.on)
		return;
	nb.on = 0;
	if (nb.fd != STDERR_FILENO)
		close(nb.fd);
	nb.fd = -1;
	free(nb.buf);
	nb.buf = NULL;
	nb.len = 0;
}

void
log_nb_write_raw(const char *buf, size_t len)
{
	if (!nb.on)
		(void)!write(log_fd, buf, len);
	else if (nb.sock)
		(void)!send(nb.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		(void)!write(nb.fd, buf, len);
}

unsigned long
log_nb_dropped(void)
{
	return nb.dropped;
}

static ssize_t
log_nb_write(const struct iovec *iov, int iovcnt)
{
	ssize_t n;

	if (nb.sock) {
		struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = iovcnt };

		do
			n = sendmsg(nb.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n == -1 && errno == EINTR);
	} else {
		do
			n = writev(nb.fd, iov, iovcnt);
		while (n == -1 && errno == EINTR);
	}
	return n;
}

static void
log_nb_want(int on)
{
	if (nb.wanted != on && nb.want != NULL)
		nb.want(on);
	nb.wanted = on;
}

static void
log_nb_count_drop(const char *source)
{
	int i;

	nb.dropped++;
	for (i = 0; i < nb.ndrop; i++)
		if (strcmp(nb.drop[i].name, source) == 0)
			break;
	if (i == nb.ndrop) {
		if (nb.ndrop == LOG_NB_SOURCES) {
			i = LOG_NB_SOURCES - 1;		/* the last one counts the rest */
			hf_strlcpy(nb.drop[i].name, "(others)", sizeof(nb.drop[0].name));
		} else
			hf_strlcpy(nb.drop[nb.ndrop++].name, source, sizeof(nb.drop[0].name));
	}
	nb.drop[i].n++;
}

/* Appends bytes to the ring (the caller checked the room). */
static void
log_nb_push(const char *p, size_t len)
{
	while (len > 0) {
		size_t tail = (nb.head + nb.len) % LOG_NB_QUEUE;
		size_t k = LOG_NB_QUEUE - tail < len ? LOG_NB_QUEUE - tail : len;

		memcpy(nb.buf + tail, p, k);
		nb.len += k;
		p += k;
		len -= k;
	}
}

/* The iovec pieces from byte off on, into the ring. */
static void
log_nb_queue(const struct iovec *iov, int iovcnt, size_t off)
{
	for (int i = 0; i < iovcnt; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		log_nb_push((const char *)iov[i].iov_base + off, iov[i].iov_len - off);
		off = 0;
	}
}

void
log_out(const char *source, const struct iovec *iov, int iovcnt)
{
	size_t	total = 0;
	ssize_t	n = 0;

	if (!nb.on) {
		(void)!writev(log_fd, iov, iovcnt);
		return;
	}
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	/* Queued bytes first: lines stay in order. */
	if (nb.len == 0 && nb.ndrop == 0) {
		n = log_nb_write(iov, iovcnt);
		if (n == (ssize_t)total)
			return;
		if (n < 0)
			n = 0;
	}
	/* A line started on the wire is finished, or the reader sees a cut
	 * one; a line not started goes whole or not at all. */
	if (n == 0 && (nb.ndrop > 0 || LOG_NB_QUEUE - nb.len < total)) {
		log_nb_count_drop(source != NULL ? source : log_prog);
		log_nb_want(1);
		return;
	}
	if (LOG_NB_QUEUE - nb.len < total - (size_t)n) {
		log_nb_count_drop(source != NULL ? source : log_prog);
		log_nb_want(1);
		return;
	}
	log_nb_queue(iov, iovcnt, (size_t)n);
	log_nb_want(1);
}

/* Once the queue is empty: the drop counts, one line per source. */
static void
log_nb_report(void)
{
	char		 line[256];
	struct iovec	 iov;
	int		 n = nb.ndrop;

	nb.ndrop = 0;
	for (int i = 0; i < n; i++) {
		char	 pfx[96];
		int	 k = log_format_prefix(pfx, sizeof(pfx), LOG_LVL_WARN);

		if (k < 0 || k >= (int)sizeof(pfx))
			k = 0;
		k = snprintf(line, sizeof(line), "%.*s[LOG_DROPPED] name=%s lines=%lu "
		    "reason=output-stalled\n", k, pfx, nb.drop[i].name, nb.drop[i].n);
		if (k < 0 || k >= (int)sizeof(line))
			continue;
		iov.iov_base = line;
		iov.iov_len = (size_t)k;
		log_nb_queue(&iov, 1, 0);
	}
	nb.dropped = 0;
}

int
log_nb_flush(void)
{
	for (;;) {
		struct iovec	 iov[2];
		size_t		 first = LOG_NB_QUEUE - nb.head;
		int		 cnt = 1;
		ssize_t		 n;

		if (!nb.on)
			return 0;
		if (nb.len == 0) {
			if (nb.ndrop == 0)
				break;
			log_nb_report();
			continue;
		}
		iov[0].iov_base = nb.buf + nb.head;
		iov[0].iov_len = first < nb.len ? first : nb.len;
		if (first < nb.len) {
			iov[1].iov_base = nb.buf;
			iov[1].iov_len = nb.len - first;
			cnt = 2;
		}
		if ((n = log_nb_write(iov, cnt)) <= 0) {
			if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
				nb.head = nb.len = 0;	/* reader gone: nothing to wait for */
				nb.ndrop = 0;
				break;
			}
			log_nb_want(1);
			return 1;
		}
		nb.head = (nb.head + (size_t)n) % LOG_NB_QUEUE;
		nb.len -= (size_t)n;
	}
	nb.head = 0;
	log_nb_want(0);
	return 0;
}

void
log_nb_drain(int ms)
{
	uint64_t deadline = hf_now_mono_ms() + (uint64_t)(ms > 0 ? ms : 0);

	while (nb.on && log_nb_flush()) {
		struct pollfd	pfd = { .fd = nb.fd, .events = POLLOUT };
		int64_t		left = (int64_t)(deadline - hf_now_mono_ms());

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
	}
}

void
log_vlog(int level, const char *fmt, va_list ap)
{
	log_emit(level, NULL, fmt, ap);
}

/* A logging function; with_errno adds strerror(errno) as it was on entry.
 * errno is the caller's again on return. */
#define LOG_FN(name, level, with_errno)			\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	 ap;						\
	int	 saved = errno;					\
								\
	va_start(ap, fmt);					\
	log_emit(level, (with_errno) ? strerror(saved) : NULL, fmt, ap); \
	va_end(ap);						\
	errno = saved;						\
}

LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_errorx, LOG_LVL_ERROR, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERROR, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_ratelimit_init(struct log_ratelimit *lr, double rate, double burst)
{
	memset(lr, 0, sizeof(*lr));
	lr->lr_rate = rate;
	lr->lr_burst = burst;
	lr->lr_tokens = burst;
	lr->lr_last_us = hf_now_mono_us();
}

int
log_ratelimit_ok(struct log_ratelimit *lr)
{
	unsigned long long now = hf_now_mono_us();

	lr->lr_tokens += (now - lr->lr_last_us) / 1e6 * lr->lr_rate;
	if (lr->lr_tokens > lr->lr_burst)
		lr->lr_tokens = lr->lr_burst;
	lr->lr_last_us = now;
	if (lr->lr_tokens < 1.0) {
		lr->lr_suppressed++;
		return 0;
	}
	lr->lr_tokens -= 1.0;
	if (lr->lr_suppressed > 0) {
		log_warnx("[LOG_SUPPRESSED] %lu similar lines dropped", lr->lr_suppressed);
		lr->lr_suppressed = 0;
	}
	return 1;
}
