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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "http.h"
#include "log.h"
#include "util.h"

#define HTTP_ALOG_MAX	4096	/* PIPE_BUF: one atomic write */
#define HTTP_ALOG_LINE	1024	/* one line at most (the path is <= 512) */

struct http_alog {
	char		 buf[HTTP_ALOG_MAX];
	size_t		 len;
	/* Assigned, not allocated: http_alog_free runs after worker_run has
	 * freed the event base (which removed the event), so it must not
	 * touch the event again. */
	struct event	 ev;
};

void
http_alog_flush(struct http_alog *a)
{
	if (a->len > 0)
		(void)!write(STDERR_FILENO, a->buf, a->len);
	a->len = 0;
}

static void
http_alog_on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_alog_flush(arg);
}

struct http_alog *
http_alog_new(struct event_base *base)
{
	struct http_alog *a = xcalloc(1, sizeof(*a));

	if (event_assign(&a->ev, base, -1, 0, http_alog_on_flush, a) == -1)
		fatalx("event_assign(access log) failed");
	return a;
}

void
http_alog_free(struct http_alog *a)
{
	if (a == NULL)
		return;
	http_alog_flush(a);
	free(a);
}

void
http_alog(struct http_alog *a, const char *fmt, ...)
{
	char	 line[HTTP_ALOG_LINE];
	va_list	 ap;
	size_t	 n;

	if (log_get_level() < LOG_LVL_INFO)
		return;
	va_start(ap, fmt);
	n = log_vformat(line, sizeof(line), LOG_LVL_INFO, fmt, ap);
	va_end(ap);
	if (a->len + n > sizeof(a->buf))
		http_alog_flush(a);
	if (a->len == 0)
		event_active(&a->ev, EV_TIMEOUT, 0);
	memcpy(a->buf + a->len, line, n);
	a->len += n;
}
