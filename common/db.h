/*
 * db: the database resilience layer every worker uses. This is where the
 * promise "a database failure never kills the server" is kept; workers hold
 * no retry code of their own.
 *
 * - libpq driven non-blocking from the caller's libevent base: connecting
 *   (PQconnectStartParams/PQconnectPoll under the layer's own deadline) and
 *   querying never block the loop. Every query has a client-side deadline:
 *   a frozen server costs the caller an error at the deadline and the
 *   connection is destroyed.
 * - A per-process pool: pre-ping of connections idle longer than
 *   pre_ping_after, replacement after pool_recycle, statement_timeout and
 *   keepalives per session, application_name=holdfast-<program>.
 * - Every failure classified (SQLSTATE, libpq state, Neon's messages) into a
 *   class and a CamelCase reason.
 * - A circuit breaker: on a connection-level failure the DB is "down" for
 *   this process; requests then fail fast without touching the network until
 *   one background probe succeeds (full-jitter backoff backoff_initial ..
 *   backoff_max; demand-driven probes no more often than probe_min_interval
 *   for transient reasons). Probes log [DB_DOWN]/[DB_RECOVERED].
 * - Request deadlines (db_query_within/db_batch_within): a request that
 *   must answer soon (an HTTP route) gets its own deadline, well under
 *   query_timeout; it runs with a statement_timeout of ~90 % of its
 *   remaining time (set on the session only when it differs, pipelined:
 *   no extra round trip), so a slow server answers (57014) before
 *   the deadline and only a server that answers nothing reaches it. Two
 *   deadlines reached in a row with no answer from the server in between
 *   open the breaker (reason QueryTimeout): a frozen server (SIGSTOP, a
 *   path that drops packets) costs two requests one deadline each, and
 *   the rest fail fast until a probe gets an answer. [DB_DEADLINE] logs
 *   each one.
 * - Health probes count as demand (db_demand, db_ready): a process whose
 *   only traffic is a readiness probe recovers as fast as a busy one.
 * - Schema migrations applied when the DB first answers (advisory lock).
 *
 * Callbacks are always called exactly once per request, from the event
 * loop, never from inside the call that queued the request.
 */
#ifndef HOLDFAST_DB_H
#define HOLDFAST_DB_H

#include <stdint.h>
#include <event2/event.h>
#include <libpq-fe.h>

struct cfg_database;
struct db;
struct db_req;

enum db_class {
	DB_CLASS_OK = 0,
	DB_CLASS_CONNECTION,	/* refused/reset/timeout/08xxx/57P0x: breaker opens */
	DB_CLASS_DOWN,		/* failed fast: breaker open, nothing was tried */
	DB_CLASS_CAPACITY,	/* 53xxx, pool exhausted: breaker, longer backoff */
	DB_CLASS_CONFIG,	/* bad password, unknown db, invalid option: slow probe */
	DB_CLASS_PERMANENT,	/* Neon disabled / over quota / not found: slow probe */
	DB_CLASS_TIMEOUT,	/* 57014 or the client deadline: DB not marked down */
	DB_CLASS_TRANSACTION,	/* 40001/40P01 still failing after retries */
	DB_CLASS_LOCK,		/* 55P03 */
	DB_CLASS_DATA,		/* 22xxx/23xxx/42xxx: the caller's bug or data */
	DB_CLASS_UNKNOWN,	/* outcome unknown (lost during COMMIT), other */
};

struct db_error {
	enum db_class	 cls;
	const char	*reason;	/* static CamelCase word: ConnectionRefused,
					 * NeonEndpointDisabled, StatementTimeout,
					 * UniqueViolation, ... */
	char		 sqlstate[6];	/* "" when none */
	char		 message[256];	/* first line of the message, no secrets */
	int		 retry_after_s;	/* the breaker's remaining wait, >= 1 */
};

/* 1 when the error means "try again later" (answer 503, spool, back off):
 * every class but DATA and UNKNOWN. */
int db_error_unavailable(const struct db_error *);
const char *db_class_name(enum db_class);

/*
 * One request's outcome. err is NULL on success; then res[0..nres-1] are the
 * results of the statements (nres == 1 for db_query). The results are
 * freed when the callback returns.
 */
typedef void (*db_result_cb)(const struct db_error *err, PGresult *const *res,
    int nres, void *arg);

struct db_stmt {
	const char		*sql;
	int			 nparams;
	const char *const	*params;	/* text format; NULL entries are SQL NULL */
};

/*
 * Creates the layer for this process; nothing connects until db_start().
 * program is "http", "whatsapp", ... (application_name=holdfast-<program>);
 * op names the loop in [DB_DOWN] op=<op> lines (e.g. whatsapp_session_loop).
 */
struct db *db_new(struct event_base *, const struct cfg_database *,
    const char *program, const char *op);
/* Logs [DB_POOL] with the settings, then connects and migrates in the
 * background. Never blocks and never fails: a DB that is down is a state. */
void db_start(struct db *);
/* Cancels everything (callbacks are not called) and closes all connections. */
void db_free(struct db *);

/*
 * One parameterised statement in its own transaction. Parameters are
 * copied. Returns a handle that can be cancelled until the callback runs.
 */
struct db_req *db_query(struct db *, const char *op, const char *sql,
    int nparams, const char *const *params, db_result_cb, void *arg);
/*
 * Several statements in one transaction (BEGIN ... COMMIT, pipelined):
 * on any failure the transaction is rolled back and the callback gets the
 * first error; 40001/40P01 retry the whole batch up to 3 times.
 */
struct db_req *db_batch(struct db *, const char *op, const struct db_stmt *,
    int nstmts, db_result_cb, void *arg);
/*
 * The same with a deadline of deadline_ms for this request (the wait for a
 * connection included) instead of query_timeout; 0 or more than
 * query_timeout means query_timeout. Past it the callback gets
 * DB_CLASS_TIMEOUT "QueryTimeout" (or "PoolTimeout": no connection became
 * free) and the connection, if the statement had been sent, is dropped.
 */
struct db_req *db_query_within(struct db *, int64_t deadline_ms, const char *op,
    const char *sql, int nparams, const char *const *params, db_result_cb,
    void *arg);
struct db_req *db_batch_within(struct db *, int64_t deadline_ms, const char *op,
    const struct db_stmt *, int nstmts, db_result_cb, void *arg);
/*
 * Lookups: one statement by one key, which the layer may answer together
 * with others of the same kind. Lookups made in the same loop turn (or
 * queued while every connection is busy) for the same struct db_lookup go
 * to the server as one execution of batch_sql, up to [database]
 * lookup_batch keys (default 32; 0 or 1: never batched):
 * the server does the per-statement work (protocol, executor start,
 * transaction) once for all of them. Alone, a lookup runs sql as
 * db_query_within would.
 * - sql: $1 is the key (text).
 * - batch_sql: $1 is a text array of keys ('{"k1","k2"}'); each row
 *   starts with the 1-based position of its key in that array (an integer
 *   column), then has sql's columns. A key's rows are the rows sql would
 *   return for it (WITH ORDINALITY over unnest($1::type[]) gives the
 *   position). Its plan should not depend on the number of keys: a
 *   prepared statement over unnest($1) keeps choosing custom plans (one
 *   planning per execution) when the first batches are short; a function
 *   with plan_cache_mode = force_generic_plan avoids that (schema 0006).
 * Each caller gets its own result, of sql's shape, with the rows of its
 * key, and its own error: when the batch fails for a reason that may be
 * one key's (class DATA, LOCK or UNKNOWN), every lookup in it runs again
 * alone; failures of the connection, the server or the deadline (the
 * earliest of the members') are every member's, as they would be for
 * lookups pipelined on one connection. Cancel with db_cancel.
 */
#define DB_LOOKUP_MAX	256	/* [database] lookup_batch's ceiling */
struct db_lookup {
	const char	*sql;
	const char	*batch_sql;
};
struct db_req *db_lookup_within(struct db *, int64_t deadline_ms, const char *op,
    const struct db_lookup *, const char *key, db_result_cb, void *arg);

/* The callback will not be called; the statement may still complete. */
void db_cancel(struct db_req *);

/*
 * Health probes. db_demand: the caller reports on the DB (/metrics): it
 * counts as demand, so while the breaker is open a probe starts now when
 * a request would start one (transient reasons, probe_min_interval).
 * db_ready (/readyz): db_demand, then the callback (err NULL: up, else the
 * fail-fast error, DB_CLASS_DOWN) once the DB is up, or the probe in
 * flight failed, or wait_ms passed; at once when nothing is in flight.
 * Cancel with db_cancel.
 */
void db_demand(struct db *);
struct db_req *db_ready(struct db *, int64_t wait_ms, db_result_cb, void *arg);

/* Breaker state. */
struct db_state {
	int		 up;		/* 1 up, 0 down, -1 not known yet */
	const char	*reason;	/* last failure's reason, NULL when up */
	const char	*op;
	int		 attempts;	/* failed probes since it went down */
	uint64_t	 since_ms;	/* monotonic ms of the last transition */
	const char	*detail;	/* last failure's message (redacted) */
};
int db_is_up(const struct db *);
void db_get_state(const struct db *, struct db_state *);
/* Called on every up/down transition (and on each failed probe while
 * down, so attempts and reason stay current). Workers forward it to
 * holdfastd with chan_worker_db(). */
void db_on_state(struct db *, void (*cb)(const struct db_state *, void *), void *arg);
/* Calls cb once: soon if the DB is up, else right after it recovers. */
void db_when_up(struct db *, void (*cb)(void *), void *arg);
/* Seconds a client should wait (Retry-After); >= 1. */
int db_retry_after(const struct db *);

/*
 * LISTEN on a dedicated connection. on_notify gets each notification;
 * on_resync is called each time the LISTEN is (re)established, so the
 * caller can catch up on what it may have missed while disconnected.
 */
void db_listen(struct db *, const char *channel,
    void (*on_notify)(const char *channel, const char *payload, void *arg),
    void (*on_resync)(void *arg), void *arg);

struct db_stats {
	int		 pool_size, open, idle, busy, waiting;
	uint64_t	 queries, errors, failfast, connects, connect_failures;
	uint64_t	 breaker_trips, recycled, pre_pings;
	uint64_t	 deadline_hits;	/* deadlines reached with no server answer */
	uint64_t	 pipelined;	/* requests sent behind others on a busy
					 * connection (pipeline_depth) */
	uint64_t	 lookup_batches;	/* batch_sql executions */
	uint64_t	 lookups_batched;	/* lookups answered by one */
};
void db_get_stats(const struct db *, struct db_stats *);

/* The documented defaults of [database] (pool_size 4, statement_timeout
 * 30s, ...), conninfo NULL: for tests and tools building a config by hand. */
void db_config_defaults(struct cfg_database *);

/* conninfo with password=... replaced by password=***. Caller frees. */
char *db_conninfo_redact(const char *conninfo);

/* Blocking helpers for holdfast-admin only (never inside a worker loop). */
int db_migrate_blocking(const char *conninfo, char *err, size_t errlen);
/* The newest migration version this build knows. */
int db_schema_version(void);

#endif
