/*
 * holdfast-whatsapp: the WhatsApp session processor, the loop whose death
 * on a database error started holdfast. Here a DB failure is a state, not
 * an exception: the loop stops, waits for the DB layer to report it back,
 * and catches up; the process, its timers and its in-flight sends live on.
 *
 * Run by holdfastd (HOLDFAST_CONFIG, HOLDFAST_INSTANCE, channel) or by hand:
 *   holdfast-whatsapp -c holdfast.conf [-i whatsapp:1] [-v]
 */
#include <stdlib.h>

#include "cfg.h"
#include "chan.h"
#include "json.h"
#include "log.h"
#include "worker.h"
#include "wa.h"

#define WA_STOP_GRACE_MS	2000	/* beyond send_timeout, for the last records */
#define WA_STOP_MAX_MS		8000	/* inside holdfastd's default stopwaitsecs (10s) */
#define WA_STATS_MS		5000	/* events: counters to holdfastd when they moved */

/* The process: its worker, its session loop and the stop deadline. */
struct wa_main {
	struct worker	 w;
	struct wa	*wa;
	struct event	*stop_deadline;
	struct event	*stats;		/* events: WA_STATS_MS */
	unsigned long long stats_sum;	/* of the counters last sent */
};

/* events: the counters as a "stats" message (holdfastd's /metrics),
 * sent only when one moved (passes, which every poll moves, aside). */
static void
wa_main_stats(evutil_socket_t fd, short what, void *arg)
{
	struct wa_main		*m = arg;
	const struct wa_counters *n = &m->wa->n;
	unsigned long long	 sum = n->assigned + n->opened + n->closed + n->statuses +
	    n->sent + n->retried + n->failed + n->db_errors;
	struct jw		*w;

	(void)fd;
	(void)what;
	if (sum == m->stats_sum && what != 0)
		return;
	m->stats_sum = sum;
	w = jw_new();
	jw_obj_open(w);
	jw_kstr(w, "type", "stats");
	jw_kint(w, "sessions_assigned", (long long)n->assigned);
	jw_kint(w, "sessions_opened", (long long)n->opened);
	jw_kint(w, "sessions_closed", (long long)n->closed);
	jw_kint(w, "statuses", (long long)n->statuses);
	jw_kint(w, "messages_sent", (long long)n->sent);
	jw_kint(w, "messages_retried", (long long)n->retried);
	jw_kint(w, "messages_failed", (long long)n->failed);
	jw_kint(w, "db_errors", (long long)n->db_errors);
	jw_obj_close(w);
	chan_worker_send(w);
	jw_free(w);
}

/* Frees the worker's own state while the base still exists, then ends the
 * loop (worker_run frees the DB layer, cancelling its callbacks). */
static void
wa_main_exit(void *arg)
{
	struct wa_main	*m = arg;
	struct wa	*wa = m->wa;

	if (m->stats != NULL) {		/* events: the last figures */
		wa_main_stats(-1, 0, m);
		event_free(m->stats);
		m->stats = NULL;
	}
	log_info("[WA_STATS] assigned=%llu opened=%llu closed=%llu statuses=%llu sent=%llu "
	    "retried=%llu failed=%llu passes=%llu db_errors=%llu",
	    (unsigned long long)wa->n.assigned, (unsigned long long)wa->n.opened,
	    (unsigned long long)wa->n.closed, (unsigned long long)wa->n.statuses,
	    (unsigned long long)wa->n.sent, (unsigned long long)wa->n.retried,
	    (unsigned long long)wa->n.failed, (unsigned long long)wa->n.passes,
	    (unsigned long long)wa->n.db_errors);
	if (m->stop_deadline != NULL)
		event_free(m->stop_deadline);
	m->stop_deadline = NULL;
	wa_free(wa);
	m->wa = NULL;
	worker_exit_loop(&m->w);
}

static void
wa_main_deadline(evutil_socket_t fd, short what, void *arg)
{
	log_warnx("stop: sends or their outcomes still pending; their leases will expire");
	wa_main_exit(arg);
}

static void
wa_main_stop(struct worker *w, void *arg)
{
	struct wa_main	*m = arg;
	int64_t		 ms = m->wa->cfg->send_timeout_ms + WA_STOP_GRACE_MS;
	struct timeval	 tv;

	/* Past the deadline, unfinished sends are left to their leases. */
	if (ms > WA_STOP_MAX_MS)
		ms = WA_STOP_MAX_MS;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	m->stop_deadline = evtimer_new(w->base, wa_main_deadline, m);
	evtimer_add(m->stop_deadline, &tv);
	wa_stop(m->wa, wa_main_exit, m);
}

int
main(int argc, char **argv)
{
	static struct wa_main	 m;
	struct worker		*w = &m.w;
	struct wa		*wa;

	worker_init(w, argc, argv, "whatsapp");
	worker_db_start(w, WA_OP);
	wa = m.wa = wa_new(w->base, w->db, &w->cfg->whatsapp, &w->cfg->database);
	worker_set_on_stop(w, wa_main_stop, &m);
	log_info("[WA_START] instance=%s graph_api_url=%s api_version=%s poll=%lldms "
	    "idle_timeout=%lldms batch=%d max_attempts=%d auto_reply=%s",
	    w->instance, w->cfg->whatsapp.graph_api_url, w->cfg->whatsapp.api_version,
	    (long long)w->cfg->whatsapp.poll_interval_ms,
	    (long long)w->cfg->whatsapp.session_idle_timeout_ms,
	    w->cfg->whatsapp.batch_size, w->cfg->whatsapp.send_max_attempts,
	    w->cfg->whatsapp.auto_reply != NULL && w->cfg->whatsapp.auto_reply[0] ? "on" : "off");
	wa_start(wa);
	worker_ready(w);
	{
		struct timeval tv = { WA_STATS_MS / 1000, 0 };

		m.stats = event_new(w->base, -1, EV_PERSIST, wa_main_stats, &m);
		event_add(m.stats, &tv);
		wa_main_stats(-1, 0, &m);
	}
	return worker_run(w);
}
