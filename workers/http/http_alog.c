/*
 * http_alog: the access log ([ACCESS] lines at level info), buffered.
 *
 * One line per request used to cost the worker a write(2) (and a getpid)
 * and holdfastd a read per request. Lines now collect in a buffer that is
 * written with one write(2) per event-loop iteration (a flush event made
 * active when the buffer stops being empty runs after the callbacks
 * already due), or sooner when the next line would not fit.
 *
 * Invariants: the buffer never exceeds PIPE_BUF (4096) bytes, so each
 * write stays atomic on the pipe to holdfastd and never interleaves with
 * another writer's lines; each line has log.c's exact format
 * ("<UTC time>.mmmZ INFO holdfast-http[pid]: [ACCESS] ...") with control
 * characters neutralised the same way; a line waits at most until the end
 * of the loop iteration that wrote it (so it may follow a non-access line
 * written directly by log.c in the same iteration). Lines go to stderr,
 * where log.c writes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/time.h>
#include <event2/event.h>

#include "http.h"
#include "log.h"
#include "util.h"

#define HTTP_ALOG_MAX	4096	/* PIPE_BUF: one atomic write */
#define HTTP_ALOG_LINE	1024	/* one line at most (the path is <= 512) */

static char		 alog_buf[HTTP_ALOG_MAX];
static size_t		 alog_len;
static struct event	*alog_ev;
static int		 alog_pid;
static time_t		 alog_sec = -1;
static char		 alog_ts[32];	/* "2026-11-28T13:02:20" of alog_sec */

void
http_alog_flush(void)
{
	if (alog_len > 0)
		(void)!write(STDERR_FILENO, alog_buf, alog_len);
	alog_len = 0;
}

static void
http_alog_on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	http_alog_flush();
}

void
http_alog_init(struct event_base *base)
{
	alog_pid = (int)getpid();
	if ((alog_ev = event_new(base, -1, 0, http_alog_on_flush, NULL)) == NULL)
		fatalx("event_new(access log) failed");
}

void
http_alog_free(void)
{
	http_alog_flush();
	if (alog_ev != NULL)
		event_free(alog_ev);
	alog_ev = NULL;
}

/* As log.c: a line feed or other control character must not forge lines. */
static void
http_alog_sanitize(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' || c == '\r')
			s[i] = ' ';
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			s[i] = '?';
	}
}

void
http_alog(const char *fmt, ...)
{
	char		 line[HTTP_ALOG_LINE];
	struct timeval	 tv;
	struct tm	 tm;
	va_list		 ap;
	int		 n, m;

	if (log_get_level() < LOG_LVL_INFO)
		return;
	gettimeofday(&tv, NULL);
	if (tv.tv_sec != alog_sec) {
		alog_sec = tv.tv_sec;
		gmtime_r(&tv.tv_sec, &tm);
		strftime(alog_ts, sizeof(alog_ts), "%Y-%m-%dT%H:%M:%S", &tm);
	}
	n = snprintf(line, sizeof(line), "%s.%03dZ INFO holdfast-http[%d]: ",
	    alog_ts, (int)(tv.tv_usec / 1000), alog_pid);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m > 0)
		n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	http_alog_sanitize(line, (size_t)n);
	line[n++] = '\n';
	if (alog_len + (size_t)n > sizeof(alog_buf))
		http_alog_flush();
	if (alog_len == 0 && alog_ev != NULL)
		event_active(alog_ev, EV_TIMEOUT, 0);
	memcpy(alog_buf + alog_len, line, (size_t)n);
	alog_len += (size_t)n;
	if (alog_ev == NULL)
		http_alog_flush();
}
