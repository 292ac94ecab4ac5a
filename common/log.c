/*
 * log: timestamped one-line events on stderr. See log.h for the format.
 * Each line is formatted into one buffer and written with one write(2), so
 * lines from several processes sharing a pipe never interleave mid-line
 * (PIPE_BUF is 4 KiB; longer lines are cut).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
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
	strlcpy_hf(log_prog, progname, sizeof(log_prog));
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

static void
log_emit(int level, const char *suffix, const char *fmt, va_list ap)
{
	char	 line[LOG_LINE_MAX];

	if (level > log_lvl)
		return;
	(void)!write(log_fd, line, log_format(line, sizeof(line), level, suffix, fmt, ap));
}

void
log_vlog(int level, const char *fmt, va_list ap)
{
	log_emit(level, NULL, fmt, ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_LVL_WARN, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

#define LOG_FN(name, level)				\
void							\
name(const char *fmt, ...)				\
{							\
	va_list	 ap;					\
	int	 saved = errno;				\
							\
	va_start(ap, fmt);				\
	log_emit(level, NULL, fmt, ap);			\
	va_end(ap);					\
	errno = saved;					\
}

LOG_FN(log_warnx, LOG_LVL_WARN)
LOG_FN(log_errorx, LOG_LVL_ERROR)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)

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
	lr->lr_last_us = now_mono_us();
}

int
log_ratelimit_ok(struct log_ratelimit *lr)
{
	unsigned long long now = now_mono_us();

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
