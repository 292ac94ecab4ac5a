/*
 * http_alog: the access log ([ACCESS] lines at level info), buffered.
 *
 * A write(2) per request would cost the worker a syscall and holdfastd a
 * read per request. Lines collect in a buffer that is
 * written with one write(2) per event-loop iteration (a flush event made
 * active when the buffer stops being empty runs after the callbacks
 * already due), or sooner when the next line would not fit.
 *
 * Invariants: the buffer never exceeds PIPE_BUF (4096) bytes, so each
 * write stays atomic on the pipe to holdfastd and never interleaves with
 * another writer's lines; each line is formatted by log.c
 * (log_vformat: "<UTC time>.mmmZ INFO holdfast-http[pid]: [ACCESS] ...",
 * control characters neutralised); a line waits at most until the end
 * of the loop iteration that wrote it (so it may follow a non-access line
 * written directly by log.c in the same iteration). Lines go to stderr,
 * where log.c writes.
 */
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "http.h"
#include "log.h"
#include "util.h"

#define HTTP_ALOG_MAX	4096	/* PIPE_BUF: one atomic write */
#define HTTP_ALOG_LINE	1024	/* one line at most (the path is <= 512) */

static char		 alog_buf[HTTP_ALOG_MAX];
static size_t		 alog_len;
/* Not allocated: http_alog_free runs after worker_run has freed the event
 * base (which removed the event), so it must not touch the event again. */
static struct event	 alog_ev;
static int		 alog_ev_set;

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
	if (event_assign(&alog_ev, base, -1, 0, http_alog_on_flush, NULL) == -1)
		fatalx("event_assign(access log) failed");
	alog_ev_set = 1;
}

void
http_alog_free(void)
{
	http_alog_flush();
	alog_ev_set = 0;
}

void
http_alog(const char *fmt, ...)
{
	char	 line[HTTP_ALOG_LINE];
	va_list	 ap;
	size_t	 n;

	if (log_get_level() < LOG_LVL_INFO)
		return;
	va_start(ap, fmt);
	n = log_vformat(line, sizeof(line), LOG_LVL_INFO, fmt, ap);
	va_end(ap);
	if (alog_len + n > sizeof(alog_buf))
		http_alog_flush();
	if (alog_len == 0 && alog_ev_set)
		event_active(&alog_ev, EV_TIMEOUT, 0);
	memcpy(alog_buf + alog_len, line, n);
	alog_len += n;
	if (!alog_ev_set)
		http_alog_flush();
}
