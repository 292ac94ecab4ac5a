/*
 * wa_loop: the pass scheduler of holdfast-whatsapp (see wa.h for the
 * model). Wake-ups come from NOTIFY holdfast_wa, the poll timer, a
 * (re)established LISTEN, the DB coming back, and finished sends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "db.h"
#include "log.h"
#include "util.h"
#include "wa.h"
#include "wa_outbox.h"
#include "wa_session.h"

#define WA_LATER_MS		20	/* rows held by another instance */
#define WA_LATER_MAX		50	/* ... then leave them to the poll */

/*
 * The steps of a pass, in order. Assigning comes before closing so that a
 * worker catching up after an outage does not close sessions whose
 * messages are still waiting; statuses come before the outbox so a pass
 * sees the latest delivery state.
 */
static const struct {
	const char	*name;
	wa_step_fn	 fn;
} wa_steps[] = {
	{ "assign",	wa_session_assign },
	{ "close_idle",	wa_session_close_idle },
	{ "statuses",	wa_status_apply },
	{ "outbox",	wa_outbox_step },
};

static void wa_step_run(struct wa *);

struct wa_stepctx *
wa_stepctx_new(struct wa *wa, wa_step_done done)
{
	struct wa_stepctx *sc = xcalloc(1, sizeof(*sc));

	sc->wa = wa;
	sc->done = done;
	return sc;
}

int
wa_stepctx_end(void *arg, const struct db_error *err, struct wa **wa,
    wa_step_done *done)
{
	struct wa_stepctx *sc = arg;

	*wa = sc->wa;
	*done = sc->done;
	free(sc);
	if (err == NULL)
		return 0;
	(*done)(*wa, WA_STEP_ERROR, err);
	return -1;
}

long long
wa_res_int(PGresult *res, int c)
{
	if (PQntuples(res) < 1 || PQnfields(res) <= c || PQgetisnull(res, 0, c))
		return 0;
	return strtoll(PQgetvalue(res, 0, c), NULL, 10);
}

static void
wa_kick_ms(struct wa *wa, int64_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	evtimer_add(wa->ev_kick, &tv);
}

static void
wa_pass_end(struct wa *wa)
{
	wa->running = 0;
	if (wa->stopping) {
		wa_check_idle(wa);
		return;
	}
	if (wa->again) {
		wa->again = 0;
		wa_kick_ms(wa, 0);
	}
}

static void
wa_db_back(void *arg)
{
	struct wa *wa = arg;

	wa->waiting_up = 0;
	log_info("database reachable: catching up");
	wa_wake(wa);
}

/*
 * A step failed. DB down: wait for the layer to say it is back (it probes
 * on its own backoff and logs [DB_DOWN]/[DB_RECOVERED]). DB up (a timeout,
 * a deadlock, a bug in our SQL): try again after a backoff of our own, so
 * a statement that keeps failing cannot spin.
 */
static void
wa_pass_failed(struct wa *wa, const struct db_error *err)
{
	int64_t ms;

	wa->n.db_errors++;
	if (!db_error_unavailable(err) || wa->fails == 0)
		log_warnx("step %s: %s: %s%s%s", wa_steps[wa->step].name,
		    db_class_name(err->cls), err->reason,
		    err->message[0] ? ": " : "", err->message);
	wa->running = 0;
	wa->again = 0;
	if (db_error_unavailable(err) && !db_is_up(wa->db)) {
		wa->fails = 0;
		if (!wa->waiting_up) {
			wa->waiting_up = 1;
			db_when_up(wa->db, wa_db_back, wa);
		}
	} else {
		ms = hf_backoff_full_jitter_ms(wa->dbcfg->backoff_initial_ms,
		    wa->dbcfg->backoff_max_ms, wa->fails++, hf_rand_unit());
		wa_kick_ms(wa, ms < 10 ? 10 : ms);
	}
	wa_check_idle(wa);
}

static void
wa_step_done_cb(struct wa *wa, enum wa_step_result r, const struct db_error *err)
{
	if (r == WA_STEP_ERROR) {
		wa_pass_failed(wa, err);
		return;
	}
	wa->fails = 0;
	if (r == WA_STEP_LATER && wa->later++ < WA_LATER_MAX) {
		wa->running = 0;
		wa_kick_ms(wa, WA_LATER_MS);
		return;
	}
	if (r != WA_STEP_LATER)
		wa->later = 0;
	if (r == WA_STEP_DONE || r == WA_STEP_LATER)
		wa->step++;
	if (wa->stopping || (size_t)wa->step >= nitems(wa_steps)) {
		wa_pass_end(wa);
		return;
	}
	wa_step_run(wa);
}

static void
wa_step_run(struct wa *wa)
{
	wa_steps[wa->step].fn(wa, wa_step_done_cb);
}

/* Starts a pass, or resumes one after a LATER pause. */
static void
wa_on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct wa *wa = arg;

	if (wa->running || wa->waiting_up || wa->stopping)
		return;
	wa->running = 1;
	if (wa->later == 0 || (size_t)wa->step >= nitems(wa_steps))
		wa->step = 0;
	wa->n.passes++;
	wa_step_run(wa);
}

void
wa_wake(struct wa *wa)
{
	if (wa->stopping)
		return;
	if (wa->running || wa->waiting_up) {
		/* Coalesced; a pass follows the running one or the recovery. */
		wa->again = 1;
		return;
	}
	wa->later = 0;
	wa_kick_ms(wa, 0);
}

static void
wa_on_due(evutil_socket_t fd, short what, void *arg)
{
	struct wa *wa = arg;

	wa->due_at_ms = 0;
	wa_wake(wa);
}

void
wa_wake_after(struct wa *wa, int64_t ms)
{
	uint64_t	 at = hf_now_mono_ms() + (uint64_t)(ms > 0 ? ms : 0) + 5;
	struct timeval	 tv;

	if (wa->due_at_ms != 0 && wa->due_at_ms <= at)
		return;
	wa->due_at_ms = at;
	ms += 5;	/* the row is due by the DB's clock: do not arrive early */
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(wa->ev_due, &tv);
}

static void
wa_on_poll(evutil_socket_t fd, short what, void *arg)
{
	wa_wake(arg);
}

static void
wa_on_notify(const char *channel, const char *payload, void *arg)
{
	log_debug("NOTIFY %s %s", channel, payload != NULL ? payload : "");
	wa_wake(arg);
}

static void
wa_on_resync(void *arg)
{
	log_info("LISTEN holdfast_wa established: catch-up pass");
	wa_wake(arg);
}

struct wa *
wa_new(struct event_base *base, struct db *db, const struct cfg_whatsapp *cfg,
    const struct cfg_database *dbcfg)
{
	struct wa *wa = xcalloc(1, sizeof(*wa));

	wa->base = base;
	wa->db = db;
	wa->cfg = cfg;
	wa->dbcfg = dbcfg;
	wa->ev_poll = event_new(base, -1, EV_PERSIST, wa_on_poll, wa);
	wa->ev_kick = evtimer_new(base, wa_on_kick, wa);
	wa->ev_due = evtimer_new(base, wa_on_due, wa);
	wa->outbox = wa_outbox_new(wa);
	return wa;
}

void
wa_free(struct wa *wa)
{
	if (wa == NULL)
		return;
	event_free(wa->ev_poll);
	event_free(wa->ev_kick);
	event_free(wa->ev_due);
	wa_outbox_free(wa->outbox);
	free(wa);
}

void
wa_start(struct wa *wa)
{
	int64_t		 ms = wa->cfg->poll_interval_ms > 0 ? wa->cfg->poll_interval_ms : 5000;
	struct timeval	 tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	db_listen(wa->db, "holdfast_wa", wa_on_notify, wa_on_resync, wa);
	event_add(wa->ev_poll, &tv);
	wa_wake(wa);
}

int
wa_quiet(const struct wa *wa)
{
	return !wa->running && wa_outbox_busy(wa->outbox) == 0;
}

void
wa_check_idle(struct wa *wa)
{
	void (*cb)(void *) = wa->on_idle;

	if (wa->stopping && cb != NULL && wa_quiet(wa)) {
		wa->on_idle = NULL;
		cb(wa->on_idle_arg);
	}
}

void
wa_stop(struct wa *wa, void (*on_idle)(void *), void *arg)
{
	wa->stopping = 1;
	wa->on_idle = on_idle;
	wa->on_idle_arg = arg;
	event_del(wa->ev_poll);
	event_del(wa->ev_kick);
	event_del(wa->ev_due);
	wa_check_idle(wa);
}
