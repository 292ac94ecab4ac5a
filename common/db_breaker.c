/*
 * db_breaker: is the database up for this process, and when to look again.
 *
 * - A failed connection attempt opens the breaker (DB_DOWN): the pool's
 *   idle connections are closed, queued requests get the failure, and
 *   every later request fails fast in db.c without touching the network.
 * - One probe at a time. Probes follow full-jitter exponential backoff,
 *   U(0, min(backoff_max, backoff_initial * 2^n)) (the least total work
 *   among jittered schedules); capacity reasons start two steps further
 *   along; configuration errors and "permanent" Neon reasons (disabled,
 *   over quota) are probed slowly, U(backoff_max/2, backoff_max), since
 *   only an operator can fix them. No two probes are closer than
 *   probe_min_interval.
 * - Demand-driven probes: for transient reasons, a request arriving while
 *   no probe has started for probe_min_interval starts one now (the
 *   request still fails fast). A busy process is back within ~250 ms of
 *   the database, with at most ~4 attempts a second; an idle one follows
 *   the schedule.
 * - Each failed attempt logs [DB_DOWN] op=.. try=.. sleep=..s reason=..;
 *   the first success logs [DB_RECOVERED] op=.. after N attempts once.
 * - Deadlines: a frozen server (SIGSTOP, a path that drops packets) keeps
 *   TCP up and answers nothing, so no connect fails and nothing above
 *   fires. A request deadline reached with no answer is logged
 *   [DB_DEADLINE] op=.. reason=.. streak=N; DB_DEADLINE_TRIP of them in a
 *   row, with no answer from the server on any connection in between,
 *   open the breaker with reason QueryTimeout. A slow server is not
 *   frozen: requests with a deadline carry a statement_timeout below it,
 *   so a slow one comes back as 57014 (an answer) before its deadline.
 */
#include <string.h>

#include "db_int.h"
#include "log.h"
#include "util.h"

#define DB_DEADLINE_TRIP	2

static void
db_probe_fire(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;

	if (db->db_up == DB_DOWN && !db->db_probing)
		db_pool_spawn(db, 1);
}

void
db_breaker_init(struct db *db)
{
	db->db_up = DB_UNKNOWN;
	db->db_ev_probe = evtimer_new(db->db_base, db_probe_fire, db);
	db->db_since_ms = hf_now_mono_ms();
}

void
db_breaker_free(struct db *db)
{
	if (db->db_ev_probe != NULL)
		event_free(db->db_ev_probe);
	db->db_ev_probe = NULL;
}

void
db_breaker_notify(struct db *db)
{
	struct db_state st;

	if (db->db_state_cb == NULL)
		return;
	db_get_state(db, &st);
	db->db_state_cb(&st, db->db_state_arg);
}

/*
 * The next probe's delay after the current number of failed attempts.
 * Transient: full jitter. Capacity: the same, two steps further. Config
 * and permanent (an operator must act): slow, U(cap/2, cap). Never closer
 * than probe_min_interval to the previous attempt.
 */
static int64_t
db_breaker_delay(struct db *db)
{
	const struct cfg_database	*c = &db->db_cfg;
	int				 step = db->db_attempts - 1;
	int64_t				 ms;

	if (db->db_cls == DB_CLASS_CONFIG || db->db_cls == DB_CLASS_PERMANENT)
		ms = c->backoff_max_ms / 2 +
		    (int64_t)(hf_rand_unit() * (double)(c->backoff_max_ms / 2));
	else
		ms = hf_backoff_full_jitter_ms(c->backoff_initial_ms, c->backoff_max_ms,
		    db->db_cls == DB_CLASS_CAPACITY ? step + 2 : step, hf_rand_unit());
	return ms < c->probe_min_interval_ms ? c->probe_min_interval_ms : ms;
}

static void
db_breaker_schedule(struct db *db, int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	db->db_next_probe_ms = hf_now_mono_ms() + ms;
	evtimer_add(db->db_ev_probe, &tv);
}

/*
 * A connection attempt failed (a probe, or the pool's own connect while
 * up): record it, log it, fail what was waiting, schedule the next probe.
 */
void
db_breaker_connect_failed(struct db *db, const struct db_error *e)
{
	int64_t	ms;

	if (db->db_up != DB_DOWN) {
		db->db_up = DB_DOWN;
		db->db_since_ms = hf_now_mono_ms();
		db->db_attempts = 0;
		db->db_stats.breaker_trips++;
		db->db_last_probe_ms = hf_now_mono_ms();
		log_warnx("[DB_POOL] database unreachable: %s", e->message);
		if (!TAILQ_EMPTY(&db->db_conns))
			db_pool_invalidate(db, e->reason);
	}
	db->db_attempts++;
	db->db_reason = e->reason;
	db->db_cls = e->cls;
	hf_strlcpy(db->db_detail, e->message, sizeof(db->db_detail));
	ms = db_breaker_delay(db);
	db_breaker_schedule(db, ms);
	log_warnx("[DB_DOWN] op=%s try=%d sleep=%.3gs reason=%s", db->db_op,
	    db->db_attempts, (double)ms / 1000.0, e->reason);
	db_fail_queue(db, e);
	db_ready_wake(db);
	db_breaker_notify(db);
}

/* A connection attempt succeeded: close the breaker. */
void
db_breaker_connect_ok(struct db *db)
{
	enum db_up prev = db->db_up;

	if (prev == DB_UP)
		return;
	if (prev == DB_DOWN)
		log_info("[DB_RECOVERED] op=%s after %d attempts", db->db_op,
		    db->db_attempts + 1);
	else
		log_info("[DB_UP] op=%s connected", db->db_op);
	db->db_up = DB_UP;
	db->db_since_ms = hf_now_mono_ms();
	db->db_attempts = 0;
	db->db_reason = NULL;
	db->db_detail[0] = '\0';
	db->db_deadline_streak = 0;
	evtimer_del(db->db_ev_probe);
	db_ready_wake(db);
	db_breaker_notify(db);
	db_when_up_run(db);
	db_listen_up(db);
}

/*
 * May a request go ahead? 1 unless the breaker is open. While it is, a
 * transient failure lets demand start a probe at most every
 * probe_min_interval.
 */
int
db_breaker_admit(struct db *db)
{
	struct db_error e;
	uint64_t	now;

	if (db->db_up != DB_DOWN)
		return 1;
	if (db->db_probing)
		return 0;
	e.cls = db->db_cls;
	now = hf_now_mono_ms();
	if (db_reason_demand_probe(&e) &&
	    now - db->db_last_probe_ms >= (uint64_t)db->db_cfg.probe_min_interval_ms) {
		evtimer_del(db->db_ev_probe);
		db_pool_spawn(db, 1);
	}
	return 0;
}

/* The server answered something (a result, an SQL error, a handshake). */
void
db_breaker_answered(struct db *db)
{
	db->db_deadline_streak = 0;
}

/* 1 when e is a client deadline that passed with no answer at all. */
int
db_breaker_is_deadline(const struct db_error *e)
{
	return e != NULL && e->cls == DB_CLASS_TIMEOUT && e->sqlstate[0] == '\0' &&
	    (strcmp(e->reason, "QueryTimeout") == 0 ||
	    strcmp(e->reason, "PoolTimeout") == 0);
}

/*
 * A request's deadline passed with no answer from the server (reason:
 * QueryTimeout, the statement was sent; PoolTimeout, a new connection's
 * handshake did not finish). DB_DEADLINE_TRIP in a row open the breaker.
 */
void
db_breaker_deadline_hit(struct db *db, const char *op, const char *reason)
{
	struct db_error e;
	char		msg[128];

	db->db_stats.deadline_hits++;
	db->db_deadline_streak++;
	log_warnx("[DB_DEADLINE] op=%s reason=%s streak=%d", op != NULL ? op : "-",
	    reason, db->db_deadline_streak);
	if (db->db_up != DB_UP || db->db_deadline_streak < DB_DEADLINE_TRIP)
		return;
	snprintf(msg, sizeof(msg), "no answer from the server before %d request "
	    "deadlines in a row", db->db_deadline_streak);
	dbc_set_error(&e, DB_CLASS_CONNECTION, "QueryTimeout", msg);
	db_breaker_connect_failed(db, &e);
}
