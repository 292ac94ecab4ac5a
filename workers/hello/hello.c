/*
 * holdfast-hello: the smallest holdfast worker, the example of
 * docs/adding-a-worker.md. It starts like every worker (common/worker:
 * config, log, channel, signals), says ready, and logs one
 * "[HELLO] instance=NAME" line at once and every hello_interval, its one
 * key, until it is asked to stop.
 */
#include <event2/event.h>

#include "cfg.h"
#include "log.h"
#include "worker.h"

static void
hello_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	log_info("[HELLO] instance=%s", w->instance);
}

static void
hello_stop(struct worker *w, void *arg)
{
	event_free(arg);
	worker_exit_loop(w);
}

int
main(int argc, char **argv)
{
	struct worker	 w;
	struct event	*tick;
	struct timeval	 tv;

	worker_init(&w, argc, argv, "hello");
	tv.tv_sec = (time_t)(w.wcfg->hello_interval_ms / 1000);
	tv.tv_usec = (suseconds_t)(w.wcfg->hello_interval_ms % 1000 * 1000);
	tick = event_new(w.base, -1, EV_PERSIST, hello_tick, &w);
	evtimer_add(tick, &tv);
	worker_set_on_stop(&w, hello_stop, tick);
	hello_tick(-1, 0, &w);
	worker_ready(&w);
	return worker_run(&w);
}
