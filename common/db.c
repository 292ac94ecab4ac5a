/*
 * db: the public side of the DB layer (see db.h): requests, their queue
 * and deadlines, deferred completion, state and stats.
 *
 * A request's life: db_query/db_batch either fails fast (breaker open:
 * the error is delivered from the loop through db_ev_done, never from
 * inside the call) or queues; db_dispatch hands queued requests to idle
 * connections (pre-pinging one idle longer than pre_ping_after); the
 * request's deadline covers both the wait for a connection and the
 * statement itself, and a statement past it destroys its connection.
 * 40001/40P01 retry the whole transaction up to 3 times after a short
 * jittered pause. A request with a deadline of its own (db_*_within) runs
 * with a statement_timeout just under what is left of it (pipelined in
 * front of its statements when the session's differs: no extra round
 * trip), so the server gives up on its own before the client does.
 *
 * Pipelining: when no connection is idle, a queued request goes into the
 * pipeline of the busy connection with the fewest in flight (below
 * pipeline_depth), behind them, with a Sync of its own: its own implicit
 * transaction, its own error. Its deadline then also covers the wait
 * behind the others: when it passes before the request reached the head,
 * the caller gets QueryTimeout at once and the result, when it comes, is
 * dropped (like a request still waiting for a connection, this is not a
 * deadline hit: the server is answering the ones in front). Past that,
 * everything is as for a request alone on its connection.
 */
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "log.h"
#include "util.h"

#define DB_TX_TRIES	3

static void db_req_done(struct db_conn *, const struct db_error *,
    PGresult **, int, void *);

/* The defaults of cfg.c's rows, without a conninfo (for tests and tools). */
void
db_config_defaults(struct cfg_database *c)
{
	cfg_database_defaults(c);
	free(c->conninfo);
	c->conninfo = NULL;
}

static void
db_run_done(evutil_socket_t fd, short what, void *arg)
{
	struct db	*db = arg;
	struct db_req	*r;

	while ((r = db->db_done) != NULL) {
		db->db_done = r->rq_next_done;
		if (db->db_done == NULL)
			db->db_done_tail = &db->db_done;
		if (!r->rq_cancelled && r->rq_cb != NULL)
			r->rq_cb(r->rq_ok ? NULL : &r->rq_err, NULL, 0, r->rq_arg);
		db_req_free(r);
	}
	if (db->db_up == DB_UP)
		db_when_up_run(db);
}

struct db *
db_new(struct event_base *base, const struct cfg_database *cfg,
    const char *program, const char *op)
{
	struct db *db = xcalloc(1, sizeof(*db));

	db->db_base = base;
	db->db_cfg = *cfg;
	db->db_cfg.conninfo = NULL;
	if (db->db_cfg.pool_size < 1)
		db->db_cfg.pool_size = 1;
	if (db->db_cfg.backoff_initial_ms < 1)
		db->db_cfg.backoff_initial_ms = 1;
	/* query_timeout 0 (statement_timeout 0): no client deadline either;
	 * a day stands for "none" and keeps the arithmetic simple. */
	if (db->db_cfg.query_timeout_ms <= 0)
		db->db_cfg.query_timeout_ms = 24LL * 3600 * 1000;
	db->db_program = xstrdup(program);
	db->db_op = xstrdup(op);
	db->db_redacted = db_conninfo_redact(cfg->conninfo ? cfg->conninfo : "");
	TAILQ_INIT(&db->db_conns);
	TAILQ_INIT(&db->db_queue);
	TAILQ_INIT(&db->db_running);
	TAILQ_INIT(&db->db_retrying);
	TAILQ_INIT(&db->db_readyq);
	db->db_done_tail = &db->db_done;
	db->db_ev_done = event_new(base, -1, 0, db_run_done, db);
	db_breaker_init(db);
	db_conninfo_build(db, cfg->conninfo ? cfg->conninfo : "");
	db_dns_setup(db);
	db->db_migrated = !cfg->auto_migrate;
	return db;
}

static void
db_fmt_ms(char *buf, size_t size, int64_t ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, size, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, size, "%lldms", (long long)ms);
}

void
db_start(struct db *db)
{
	const struct cfg_database *c = &db->db_cfg;
	char	 pp[32], ct[32], qt[32], bi[32], bm[32], pm[32];

	if (db->db_started)
		return;
	db->db_started = 1;
	db_fmt_ms(pp, sizeof(pp), c->pre_ping_after_ms);
	db_fmt_ms(ct, sizeof(ct), c->connect_timeout_ms);
	db_fmt_ms(qt, sizeof(qt), c->query_timeout_ms);
	db_fmt_ms(bi, sizeof(bi), c->backoff_initial_ms);
	db_fmt_ms(bm, sizeof(bm), c->backoff_max_ms);
	db_fmt_ms(pm, sizeof(pm), c->probe_min_interval_ms);
	log_info("[DB_POOL] pool_pre_ping=true pool_recycle=%gs "
	    "statement_timeout=%lldms size=%d pre_ping_after=%s "
	    "connect_timeout=%s query_timeout=%s backoff=%s..%s "
	    "probe_min_interval=%s application_name=holdfast-%s "
	    "auto_migrate=%s pipeline_depth=%d lookup_batch=%d conninfo=\"%s\"",
	    (double)c->pool_recycle_ms / 1000,
	    (long long)c->statement_timeout_ms, c->pool_size, pp, ct, qt, bi,
	    bm, pm, db->db_program, c->auto_migrate ? "true" : "false",
	    c->pipeline_depth, c->lookup_batch, db->db_redacted);
	db_pool_spawn(db, 1);
}

void
db_req_free(struct db_req *r)
{
	if (r->rq_members != NULL)
		db_lookup_free_members(r);
	if (r->rq_timer != NULL)
		event_free(r->rq_timer);
	free(r);
}

/* Completes r from inside an event callback: user callback, then free. */
static void
db_req_complete(struct db_req *r, const struct db_error *e, PGresult **res,
    int nres)
{
	struct db_error err;

	if (r->rq_queued) {
		TAILQ_REMOVE(&r->rq_db->db_queue, r, rq_entry);
		r->rq_queued = 0;
		r->rq_db->db_nqueued--;
	}
	if (!r->rq_cancelled && r->rq_cb != NULL) {
		if (e != NULL) {
			err = *e;
			err.retry_after_s = db_retry_after(r->rq_db);
		}
		r->rq_cb(e != NULL ? &err : NULL, res, nres, r->rq_arg);
	}
	db_req_free(r);
}

/* Delivers r's outcome from the loop (fail-fast, db_ready). */
void
db_req_defer(struct db_req *r)
{
	struct db *db = r->rq_db;

	r->rq_next_done = NULL;
	*db->db_done_tail = r;
	db->db_done_tail = &r->rq_next_done;
	event_active(db->db_ev_done, EV_TIMEOUT, 0);
}

void
db_failfast_error(struct db *db, struct db_error *e)
{
	memset(e, 0, sizeof(*e));
	e->cls = DB_CLASS_DOWN;
	e->reason = db->db_reason != NULL ? db->db_reason : "DatabaseDown";
	hf_strlcpy(e->message, db->db_detail, sizeof(e->message));
	e->retry_after_s = db_retry_after(db);
}

/* Its deadline passed while it waited behind others in a pipeline: the
 * caller hears now; the result, when it comes, is dropped. */
static void
db_req_abandon(struct db_req *r)
{
	struct db_error e;

	dbc_set_error(&e, DB_CLASS_TIMEOUT, "QueryTimeout",
	    "no answer before the deadline (queued behind others in a pipeline)");
	e.retry_after_s = db_retry_after(r->rq_db);
	r->rq_db->db_stats.errors++;
	if (!r->rq_cancelled && r->rq_cb != NULL)
		r->rq_cb(&e, NULL, 0, r->rq_arg);
	r->rq_cancelled = 1;
}

/* The request's timer: its deadline passed while waiting for a
 * connection or behind others in a pipeline, or its retry pause ended. */
static void
db_req_timer(evutil_socket_t fd, short what, void *arg)
{
	struct db_req	*r = arg;
	struct db_error	 e;

	if (r->rq_conn != NULL) {
		db_req_abandon(r);
		return;
	}
	if (r->rq_queued) {
		struct db	*db = r->rq_db;
		const char	*op = r->rq_op;
		/* Waiting on a new connection whose handshake got no answer
		 * is a deadline hit; waiting on busy connections is not. */
		int		 hit = db->db_nconnecting > 0 && !r->rq_hit;

		dbc_set_error(&e, DB_CLASS_TIMEOUT, "PoolTimeout",
		    "no database connection became free before the deadline");
		db->db_stats.errors++;
		db_req_complete(r, &e, NULL, 0);
		if (hit)
			db_breaker_deadline_hit(db, op, "PoolTimeout");
		return;
	}
	TAILQ_REMOVE(&r->rq_db->db_retrying, r, rq_entry);
	r->rq_retrying = 0;
	if (r->rq_cancelled) {
		db_req_free(r);
		return;
	}
	db_req_enqueue(r, 1);
	db_dispatch(r->rq_db);
}

void
db_req_enqueue(struct db_req *r, int head)
{
	struct db	*db = r->rq_db;
	int64_t		 left = (int64_t)(r->rq_deadline_ms - hf_now_mono_ms());
	struct timeval	 tv;

	if (head)
		TAILQ_INSERT_HEAD(&db->db_queue, r, rq_entry);
	else
		TAILQ_INSERT_TAIL(&db->db_queue, r, rq_entry);
	r->rq_queued = 1;
	db->db_nqueued++;
	if (left < 1)
		left = 1;
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	evtimer_add(r->rq_timer, &tv);
}

/* One allocation holding the request, its statements, their parameter
 * arrays (pointer-aligned, right after the statements) and copies of the
 * SQL and parameter strings (last). */
struct db_req *
db_req_new(struct db *db, const char *op, const struct db_stmt *s, int n)
{
	size_t		  sz = sizeof(struct db_req) + n * sizeof(struct db_stmt);
	struct db_req	 *r;
	const char	**pv;
	char		 *p;
	int		  i, j, np = 0;

	for (i = 0; i < n; i++) {
		sz += strlen(s[i].sql) + 1;
		for (j = 0; j < s[i].nparams; j++)
			if (s[i].params[j] != NULL)
				sz += strlen(s[i].params[j]) + 1;
		if (s[i].nparams > 0)
			np += s[i].nparams;
	}
	sz += np * sizeof(char *);
	r = xcalloc(1, sz);
	r->rq_db = db;
	r->rq_op = op;
	r->rq_stmts = (struct db_stmt *)(r + 1);
	r->rq_nstmts = n;
	pv = (const char **)(r->rq_stmts + n);
	p = (char *)(pv + np);
	for (i = 0; i < n; i++) {
		r->rq_stmts[i].params = pv;
		r->rq_stmts[i].nparams = s[i].nparams;
		for (j = 0; j < s[i].nparams; j++) {
			if (s[i].params[j] == NULL) {
				pv[j] = NULL;
				continue;
			}
			pv[j] = strcpy(p, s[i].params[j]);
			p += strlen(p) + 1;
		}
		if (s[i].nparams > 0)
			pv += s[i].nparams;
		r->rq_stmts[i].sql = strcpy(p, s[i].sql);
		p += strlen(p) + 1;
	}
	return r;
}

/* Its deadline: within ms from now (0 or more than query_timeout:
 * query_timeout), and the timer that watches it. */
void
db_req_arm(struct db_req *r, int64_t within)
{
	struct db *db = r->rq_db;

	if (within <= 0 || within >= db->db_cfg.query_timeout_ms)
		within = 0;
	r->rq_within = within;
	r->rq_deadline_ms = hf_now_mono_ms() +
	    (within > 0 ? within : db->db_cfg.query_timeout_ms);
	r->rq_timer = evtimer_new(db->db_base, db_req_timer, r);
}

static void
db_dispatch_cb(evutil_socket_t fd, short what, void *arg)
{
	db_dispatch(arg);
}

static struct db_req *
db_submit(struct db *db, int64_t within, const char *op,
    const struct db_stmt *s, int n, int batch, const struct db_lookup *l,
    db_result_cb cb, void *arg)
{
	struct db_req *r;

	if (!db_breaker_admit(db)) {
		/* The fast path: nothing copied, nothing tried. */
		r = xcalloc(1, sizeof(*r));
		r->rq_db = db;
		r->rq_cb = cb;
		r->rq_arg = arg;
		db_failfast_error(db, &r->rq_err);
		db->db_stats.failfast++;
		db_req_defer(r);
		return r;
	}
	r = db_req_new(db, op, s, n);
	r->rq_batch = batch;
	r->rq_lookup = l;
	r->rq_cb = cb;
	r->rq_arg = arg;
	db_req_arm(r, within);
	db_req_enqueue(r, 0);
	if (l == NULL) {
		db_dispatch(db);
		return r;
	}
	/* A lookup waits for the end of this loop turn, when the others
	 * made in it are queued too and can go in the same batch. */
	if (db->db_ev_dispatch == NULL)
		db->db_ev_dispatch = event_new(db->db_base, -1, 0, db_dispatch_cb, db);
	if (!event_pending(db->db_ev_dispatch, EV_TIMEOUT, NULL))
		event_active(db->db_ev_dispatch, EV_TIMEOUT, 0);
	return r;
}

struct db_req *
db_query(struct db *db, const char *op, const char *sql, int nparams,
    const char *const *params, db_result_cb cb, void *arg)
{
	struct db_stmt s;

	s.sql = sql;
	s.nparams = nparams;
	s.params = params;
	return db_submit(db, 0, op, &s, 1, 0, NULL, cb, arg);
}

struct db_req *
db_batch(struct db *db, const char *op, const struct db_stmt *s, int n,
    db_result_cb cb, void *arg)
{
	return db_submit(db, 0, op, s, n, 1, NULL, cb, arg);
}

struct db_req *
db_query_within(struct db *db, int64_t deadline_ms, const char *op,
    const char *sql, int nparams, const char *const *params, db_result_cb cb,
    void *arg)
{
	struct db_stmt s;

	s.sql = sql;
	s.nparams = nparams;
	s.params = params;
	return db_submit(db, deadline_ms, op, &s, 1, 0, NULL, cb, arg);
}

struct db_req *
db_batch_within(struct db *db, int64_t deadline_ms, const char *op,
    const struct db_stmt *s, int n, db_result_cb cb, void *arg)
{
	return db_submit(db, deadline_ms, op, s, n, 1, NULL, cb, arg);
}

struct db_req *
db_lookup_within(struct db *db, int64_t deadline_ms, const char *op,
    const struct db_lookup *l, const char *key, db_result_cb cb, void *arg)
{
	struct db_stmt s;

	s.sql = l->sql;
	s.nparams = 1;
	s.params = &key;
	return db_submit(db, deadline_ms, op, &s, 1, 0, l, cb, arg);
}

void
db_cancel(struct db_req *r)
{
	if (r == NULL)
		return;
	r->rq_cancelled = 1;
	if (r->rq_ready)
		db_ready_cancel(r);
	else if (r->rq_retrying) {
		TAILQ_REMOVE(&r->rq_db->db_retrying, r, rq_entry);
		db_req_free(r);
	} else if (r->rq_queued) {
		TAILQ_REMOVE(&r->rq_db->db_queue, r, rq_entry);
		r->rq_db->db_nqueued--;
		db_req_free(r);
	}
}

/*
 * Sends r's statements on c with what is left of its deadline. With a
 * deadline of its own, the server's statement_timeout must be ~90 % of
 * that (db_conn.c sends it when the session's is not), unless the
 * configured one is already shorter.
 */
static void
db_req_send(struct db_req *r, struct db_conn *c, int64_t left)
{
	int64_t st = r->rq_db->db_cfg.statement_timeout_ms, local;

	if (left < 1)
		left = 1;
	if ((local = left - left / 10) < 1)
		local = 1;
	if (r->rq_within > 0 && (st == 0 || local < st))
		c->dc_local_timeout_ms = local;
	if (c->dc_nexec > 0) {
		/* behind others: the deadline also covers the wait */
		struct timeval tv = { left / 1000, (left % 1000) * 1000 };

		r->rq_db->db_stats.pipelined++;
		evtimer_add(r->rq_timer, &tv);
	}
	dbc_exec(c, r->rq_stmts, r->rq_nstmts, DBC_PIPELINE | DBC_PREPARE, left,
	    db_req_done, r);
}

/* r is no longer running on a connection. */
static void
db_req_detach(struct db_req *r)
{
	if (r->rq_conn == NULL)
		return;
	TAILQ_REMOVE(&r->rq_db->db_running, r, rq_entry);
	r->rq_conn = NULL;
	evtimer_del(r->rq_timer);
}

/* An exec on c finished: with none left in it, c goes back to the pool
 * (or is closed when broken, stale or due for recycling). */
static void
db_conn_settle(struct db_conn *c)
{
	if (c->dc_nexec == 0)
		db_pool_release(c);
}

/* The pre-ping came back: run the request, or replace the connection. */
static void
db_req_pinged(struct db_conn *c, const struct db_error *e, PGresult **res,
    int nres, void *arg)
{
	struct db_req	*r = arg;
	struct db	*db = c->dc_db;

	c->dc_pinging = 0;
	if (e == NULL)
		db_breaker_answered(db);
	if (e == NULL && !r->rq_cancelled) {
		db_req_send(r, c, (int64_t)(r->rq_deadline_ms - hf_now_mono_ms()));
		return;
	}
	db_req_detach(r);
	if (e != NULL) {
		/* The caller never sees a failed ping: the connection (and
		 * its generation) goes, the request waits for a new one. */
		log_info("[DB_POOL] pre-ping failed: reason=%s", e->reason);
		db_pool_drop(c);
		db_pool_invalidate(db, e->reason);
	} else
		db_pool_release(c);
	if (e != NULL && db_breaker_is_deadline(e))
		r->rq_hit = 1;
	if (r->rq_cancelled)
		db_req_free(r);
	else
		db_req_enqueue(r, 1);
	/* A ping that got no answer is a deadline hit like any statement;
	 * when it opens the breaker, r (queued again) fails with the rest. */
	if (db_breaker_is_deadline(e))
		db_breaker_deadline_hit(db, "pre_ping", e->reason);
	db_dispatch(db);
}

void
db_req_run(struct db_req *r, struct db_conn *c)
{
	struct db	*db = r->rq_db;
	uint64_t	 now = hf_now_mono_ms();
	int64_t		 left = (int64_t)(r->rq_deadline_ms - now);

	/* A request runs on one connection, and only a connection the pool
	 * handed out (busy: idle before, or pipelining) runs one. */
	HF_ASSERT(r->rq_conn == NULL && c->dc_state == DBC_BUSY);
	TAILQ_REMOVE(&db->db_queue, r, rq_entry);
	r->rq_queued = 0;
	db->db_nqueued--;
	evtimer_del(r->rq_timer);
	r->rq_conn = c;
	TAILQ_INSERT_TAIL(&db->db_running, r, rq_entry);
	if (left < 1)
		left = 1;
	if (c->dc_nexec == 0 &&
	    now - c->dc_last_used_ms >= (uint64_t)db->db_cfg.pre_ping_after_ms) {
		static const struct db_stmt ping = { "", 0, NULL };

		db->db_stats.pre_pings++;
		c->dc_pinging = 1;
		dbc_exec(c, &ping, 1, 0, left < db->db_cfg.connect_timeout_ms ?
		    left : db->db_cfg.connect_timeout_ms, db_req_pinged, r);
		return;
	}
	db_req_send(r, c, left);
}

/* 40001/40P01: retry the whole transaction after a short random pause. */
static int
db_req_retry(struct db_req *r, const struct db_error *e)
{
	struct timeval	tv;
	int64_t		ms;

	if (e->cls != DB_CLASS_TRANSACTION || r->rq_cancelled ||
	    ++r->rq_tries >= DB_TX_TRIES)
		return 0;
	ms = hf_backoff_full_jitter_ms(5, 100, r->rq_tries, hf_rand_unit()) + 1;
	TAILQ_INSERT_TAIL(&r->rq_db->db_retrying, r, rq_entry);
	r->rq_retrying = 1;
	tv.tv_sec = 0;
	tv.tv_usec = ms * 1000;
	evtimer_add(r->rq_timer, &tv);
	return 1;
}

/*
 * 26000 (our prepared statement is not in this server session: a
 * transaction-mode pooler moved us, or it was deallocated) or 42P05 (a
 * same-named one is: the cache was reset under it, and db_conn.c kept its
 * slot). The segment was aborted, so nothing ran: rerun once, after 26000
 * with the cache reset, after 42P05 by name.
 */
static int
db_req_prep_retry(struct db_conn *c, struct db_req *r, const struct db_error *e)
{
	if (r->rq_prep_retried || r->rq_cancelled || c->dc_state == DBC_DEAD ||
	    (strcmp(e->sqlstate, "26000") != 0 && strcmp(e->sqlstate, "42P05") != 0))
		return 0;
	r->rq_prep_retried = 1;
	if (strcmp(e->sqlstate, "26000") == 0)
		dbc_forget_prepared(c);
	db_conn_settle(c);
	db_req_enqueue(r, 1);
	db_dispatch(r->rq_db);
	return 1;
}

static void
db_req_done(struct db_conn *c, const struct db_error *e, PGresult **res,
    int nres, void *arg)
{
	struct db_req	*r = arg;
	struct db	*db = c->dc_db;
	int		 broken = c->dc_state == DBC_DEAD, lost = 0;
	int		 hit = db_breaker_is_deadline(e);

	db_req_detach(r);
	db->db_stats.queries++;
	if (e == NULL || e->sqlstate[0] != '\0')
		db_breaker_answered(db);
	if (e != NULL && db_req_prep_retry(c, r, e))
		return;
	if (e != NULL && !r->rq_cancelled)
		db->db_stats.errors++;
	if (broken && e != NULL && db_class_is_connection(e->cls) && !c->dc_lost) {
		/* The server went away under us: nothing opened before now is
		 * trusted, and a new connection tells whether it is down
		 * (once per connection, however many requests it carried). */
		c->dc_lost = lost = 1;
	}
	db_conn_settle(c);
	if (lost) {
		db_pool_invalidate(db, e->reason);
		if (db->db_up == DB_UP && db->db_nconnecting == 0)
			db_pool_spawn(db, 0);
	}
	/* After the release: opening the breaker closes connections. */
	if (hit)
		db_breaker_deadline_hit(db, r->rq_op, e->reason);
	if (e != NULL && db_req_retry(r, e)) {
		db_dispatch(db);
		return;
	}
	db_dispatch(db);
	db_req_complete(r, e, res, nres);
}

/* Hands queued requests to idle connections; opens more when needed. */
void
db_dispatch(struct db *db)
{
	struct db_conn *c;

	while (db->db_nqueued > 0 && db->db_up == DB_UP) {
		struct db_req *r;

		if ((c = db_pool_take(db)) == NULL) {
			int want = db->db_nqueued - db->db_nconnecting;

			while (want-- > 0 && db->db_nconns < db->db_cfg.pool_size)
				db_pool_spawn(db, 0);
			/* meanwhile, into a busy connection's pipeline */
			if ((c = db_pool_take_pipelined(db)) == NULL)
				return;
		}
		r = db_lookup_gather(db, TAILQ_FIRST(&db->db_queue));
		/* a lookup waiting for company (never on an idle connection)
		 * holds back no other */
		if (db_lookup_waits(r, c) && (r = db_lookup_other(db)) == NULL)
			return;
		db_req_run(r, c);
	}
}

/* The breaker opened: everything waiting gets the failure that did it. */
void
db_fail_queue(struct db *db, const struct db_error *e)
{
	struct db_req *r;

	while ((r = TAILQ_FIRST(&db->db_queue)) != NULL) {
		db->db_stats.errors++;
		db_req_complete(r, e, NULL, 0);
	}
}

void
db_when_up(struct db *db, void (*cb)(void *), void *arg)
{
	struct db_waiter *w = xcalloc(1, sizeof(*w)), **pp;

	w->w_cb = cb;
	w->w_arg = arg;
	for (pp = &db->db_waiters; *pp != NULL; pp = &(*pp)->w_next)
		;
	*pp = w;
	if (db->db_up == DB_UP)
		event_active(db->db_ev_done, EV_TIMEOUT, 0);
}

/* Runs (and forgets) every db_when_up callback; the DB is up. */
void
db_when_up_run(struct db *db)
{
	struct db_waiter *w;

	while ((w = db->db_waiters) != NULL && db->db_up == DB_UP) {
		db->db_waiters = w->w_next;
		w->w_cb(w->w_arg);
		free(w);
	}
}

int
db_is_up(const struct db *db)
{
	return db->db_up == DB_UP;
}

void
db_get_state(const struct db *db, struct db_state *st)
{
	st->up = db->db_up;
	st->reason = db->db_up == DB_UP ? NULL : db->db_reason;
	st->op = db->db_op;
	st->attempts = db->db_attempts;
	st->since_ms = db->db_since_ms;
	st->detail = db->db_detail[0] != '\0' ? db->db_detail : NULL;
}

void
db_on_state(struct db *db, void (*cb)(const struct db_state *, void *),
    void *arg)
{
	db->db_state_cb = cb;
	db->db_state_arg = arg;
}

int
db_retry_after(const struct db *db)
{
	uint64_t now = hf_now_mono_ms();

	if (db->db_up != DB_DOWN || db->db_next_probe_ms <= now)
		return 1;
	return (int)((db->db_next_probe_ms - now + 999) / 1000);
}

void
db_get_stats(const struct db *db, struct db_stats *s)
{
	struct db_conn *c;

	*s = db->db_stats;
	s->pool_size = db->db_cfg.pool_size;
	s->open = s->idle = s->busy = 0;
	TAILQ_FOREACH(c, &db->db_conns, dc_entry) {
		s->open++;
		if (c->dc_state == DBC_IDLE)
			s->idle++;
		else if (c->dc_state == DBC_BUSY)
			s->busy++;
	}
	s->waiting = db->db_nqueued;
}

void
db_free(struct db *db)
{
	struct db_req		*r;
	struct db_waiter	*w;

	if (db == NULL)
		return;
	/* Requests running on a connection die with it, callbacks unsaid. */
	while ((r = TAILQ_FIRST(&db->db_running)) != NULL) {
		TAILQ_REMOVE(&db->db_running, r, rq_entry);
		db_req_free(r);
	}
	db_pool_close_all(db);
	db_listen_free(db);
	while ((r = TAILQ_FIRST(&db->db_queue)) != NULL) {
		TAILQ_REMOVE(&db->db_queue, r, rq_entry);
		db_req_free(r);
	}
	while ((r = TAILQ_FIRST(&db->db_retrying)) != NULL) {
		TAILQ_REMOVE(&db->db_retrying, r, rq_entry);
		db_req_free(r);
	}
	while ((r = db->db_done) != NULL) {
		db->db_done = r->rq_next_done;
		db_req_free(r);
	}
	while ((w = db->db_waiters) != NULL) {
		db->db_waiters = w->w_next;
		free(w);
	}
	db_ready_free(db);
	db_breaker_free(db);
	db_dns_free(db);
	event_free(db->db_ev_done);
	if (db->db_ev_dispatch != NULL)
		event_free(db->db_ev_dispatch);
	for (int i = 0; i < db->db_nkeys; i++) {
		free((char *)db->db_keys[i]);
		free((char *)db->db_vals[i]);
	}
	free(db->db_keys);
	free(db->db_vals);
	free(db->db_redacted);
	free(db->db_program);
	free(db->db_op);
	free(db);
}
