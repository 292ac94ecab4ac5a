/*
 * db_ready: health probes count as demand.
 *
 * While the breaker is open, a request that fails fast may start a probe
 * (db_breaker_admit: transient reasons, at most every probe_min_interval),
 * so a busy process notices the database's return within ~250 ms. A
 * process whose only traffic is a readiness probe (an orchestrator stops
 * routing to an unready pod, so after a total outage that is all it gets)
 * used to wait for the idle schedule instead, up to backoff_max. Here:
 *
 * - db_demand(): the caller reports on the DB; the same admission as a
 *   request, nothing queued.
 * - db_ready(): db_demand(), then a waiter (a struct db_req with no
 *   statements) that completes when the probe in flight ends (up: err
 *   NULL; failed: the fail-fast error) or after wait_ms, whichever comes
 *   first; at once when the DB is up or no probe is in flight. A probe
 *   against a server that has just come back takes a few milliseconds,
 *   so the readiness answer that started it is already 200.
 *
 * Waiters complete from the loop: db_ready_wake() (breaker transitions)
 * defers them, their timer completes them directly.
 */
#include <stdlib.h>

#include "db_int.h"
#include "util.h"

void
db_demand(struct db *db)
{
	if (db->db_up == DB_DOWN)
		(void)db_breaker_admit(db);
}

/* Sets r's outcome from the breaker's state now. */
static void
db_ready_settle(struct db_req *r)
{
	struct db *db = r->rq_db;

	if (db->db_up == DB_UP)
		r->rq_ok = 1;
	else
		db_failfast_error(db, &r->rq_err);
}

static void
db_ready_unlink(struct db_req *r)
{
	if (!r->rq_readyq)
		return;
	TAILQ_REMOVE(&r->rq_db->db_readyq, r, rq_entry);
	r->rq_readyq = 0;
	evtimer_del(r->rq_timer);
}

/* wait_ms passed with the probe still in flight. */
static void
db_ready_timer(evutil_socket_t fd, short what, void *arg)
{
	struct db_req *r = arg;

	db_ready_unlink(r);
	db_ready_settle(r);
	if (!r->rq_cancelled && r->rq_cb != NULL)
		r->rq_cb(r->rq_ok ? NULL : &r->rq_err, NULL, 0, r->rq_arg);
	db_req_free(r);
}

struct db_req *
db_ready(struct db *db, int64_t wait_ms, db_result_cb cb, void *arg)
{
	struct db_req	*r = xcalloc(1, sizeof(*r));
	struct timeval	 tv;

	r->rq_db = db;
	r->rq_cb = cb;
	r->rq_arg = arg;
	r->rq_ready = 1;
	db_demand(db);
	if (db->db_up == DB_UP || !db->db_probing || wait_ms <= 0) {
		db_ready_settle(r);
		db_req_defer(r);
		return r;
	}
	r->rq_timer = evtimer_new(db->db_base, db_ready_timer, r);
	tv.tv_sec = wait_ms / 1000;
	tv.tv_usec = (wait_ms % 1000) * 1000;
	evtimer_add(r->rq_timer, &tv);
	TAILQ_INSERT_TAIL(&db->db_readyq, r, rq_entry);
	r->rq_readyq = 1;
	return r;
}

/* The breaker moved (a probe ended): every waiter gets the new state. */
void
db_ready_wake(struct db *db)
{
	struct db_req *r;

	while ((r = TAILQ_FIRST(&db->db_readyq)) != NULL) {
		db_ready_unlink(r);
		db_ready_settle(r);
		db_req_defer(r);
	}
}

/* db_cancel() of a waiter: one still waiting goes now; one already
 * deferred is skipped by the loop (rq_cancelled) and freed there. */
void
db_ready_cancel(struct db_req *r)
{
	if (!r->rq_readyq)
		return;
	db_ready_unlink(r);
	db_req_free(r);
}

void
db_ready_free(struct db *db)
{
	struct db_req *r;

	while ((r = TAILQ_FIRST(&db->db_readyq)) != NULL) {
		db_ready_unlink(r);
		db_req_free(r);
	}
}
