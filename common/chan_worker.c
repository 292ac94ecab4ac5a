/*
 * chan_worker: our workers' end of the channel, libholdfast (lib/) driven
 * from a libevent loop. The client code itself is the public library's:
 * this file only watches its descriptor, calls holdfast_tick() when the
 * descriptor is ready or the library's timeout passes, and routes its log
 * lines to log.c. See chan.h.
 */
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <poll.h>
#include <event2/event.h>

#include "holdfast/worker.h"
#include "chan.h"
#include "json.h"
#include "log.h"

static struct {
	struct holdfast		*h;
	struct event		*ev_read, *ev_write, *ev_timer;
	void			(*on_lost)(void *);
	void			*arg;
	int			 lost;		/* reported to the owner */
} cw;

static void chan_worker_cb(evutil_socket_t, short, void *);

static void
chan_worker_log(void *arg, int level, const char *msg)
{
	if (level <= LOG_WARNING)
		log_warnx("%s", msg);
	else
		log_debug("%s", msg);
}

static void
chan_worker_lost(void)
{
	cw.lost = 1;
	event_del(cw.ev_read);
	event_del(cw.ev_write);
	event_del(cw.ev_timer);
	if (cw.on_lost != NULL) {
		cw.on_lost(cw.arg);
		return;
	}
	/* A worker never outlives holdfastd (docs/design.md §1). */
	log_info("channel to holdfastd lost: exiting");
	exit(0);
}

/* Watches for what the library waits for next. */
static void
chan_worker_rearm(void)
{
	int		 ms = holdfast_timeout_ms(cw.h);
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	if (!holdfast_connected(cw.h))
		return;
	if (holdfast_events(cw.h) & POLLOUT)
		event_add(cw.ev_write, NULL);
	event_add(cw.ev_timer, &tv);
}

static void
chan_worker_cb(evutil_socket_t fd, short what, void *arg)
{
	if (cw.lost)
		return;
	if (holdfast_tick(cw.h) == -1) {
		chan_worker_lost();
		return;
	}
	chan_worker_rearm();
}

/* After a send: a queued remainder or a lost peer needs the loop. */
static void
chan_worker_sent(void)
{
	if (cw.h == NULL || cw.lost)
		return;
	if (holdfast_error(cw.h) != NULL)	/* reported from the loop */
		event_active(cw.ev_read, EV_READ, 0);
	else
		chan_worker_rearm();
}

int
chan_worker_open(struct event_base *base, const char *program,
    void (*on_lost)(void *), void *arg)
{
	int rc;

	if (cw.h != NULL)
		chan_worker_close();
	if ((rc = holdfast_open(&cw.h, program)) != 1)
		return rc;
	holdfast_set_log(cw.h, chan_worker_log, NULL);
	cw.on_lost = on_lost;
	cw.arg = arg;
	cw.ev_read = event_new(base, holdfast_fd(cw.h), EV_READ | EV_PERSIST,
	    chan_worker_cb, NULL);
	cw.ev_write = event_new(base, holdfast_fd(cw.h), EV_WRITE, chan_worker_cb, NULL);
	cw.ev_timer = evtimer_new(base, chan_worker_cb, NULL);
	event_add(cw.ev_read, NULL);
	chan_worker_rearm();
	return 1;
}

void
chan_worker_ready(void)
{
	(void)holdfast_ready(cw.h);
	chan_worker_sent();
}

void
chan_worker_status(const char *text)
{
	if (cw.h != NULL)
		(void)holdfast_status(cw.h, "%s", text);
	chan_worker_sent();
}

void
chan_worker_db(int up, const char *op, const char *reason, int attempts,
    const char *detail)
{
	(void)holdfast_db_full(cw.h, up, op, reason, attempts, detail);
	chan_worker_sent();
}

void
chan_worker_send(struct jw *w)
{
	const char	*buf;
	size_t		 len;

	if (cw.h != NULL && (buf = jw_buf(w, &len)) != NULL &&
	    holdfast_send_json(cw.h, buf, len) == -1)
		log_warnx("channel: message not sent (%zu bytes)", len);
	chan_worker_sent();
}

void
chan_worker_close(void)
{
	if (cw.ev_read != NULL) {
		event_free(cw.ev_read);
		event_free(cw.ev_write);
		event_free(cw.ev_timer);
	}
	holdfast_close(cw.h);
	memset(&cw, 0, sizeof(cw));
}

const char *
chan_worker_instance(const char *dflt)
{
	return holdfast_instance(dflt);
}

int
chan_worker_connected(void)
{
	return holdfast_connected(cw.h);
}
