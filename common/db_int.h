/*
 * db_int: the DB layer's internal structures, shared by common/db*.c only.
 *
 * Pieces and who owns what:
 *   db_conn.c     one libpq connection as a non-blocking state machine
 *                 (connect, session setup, exec with a deadline, idle watch)
 *   db_pool.c     the per-process pool: spawn, checkout (recycle, pre-ping,
 *                 generation), release
 *   db_breaker.c  up/down, probes on full-jitter backoff, [DB_DOWN] and
 *                 [DB_RECOVERED]; request deadlines reached with no
 *                 answer ([DB_DEADLINE]) open it too
 *   db_ready.c    health probes as demand (db_demand, db_ready)
 *   db.c          the public API: requests, their queue and deadlines,
 *                 deferred callbacks
 *   db_classify.c failures -> class + CamelCase reason
 *   db_conninfo.c conninfo parsing, filtering and redaction
 *   db_dns.c      host names resolved with evdns (libpq's would block)
 *   db_listen.c   LISTEN on a dedicated connection
 *   db_migrate.c  migrations (async on the first connection; blocking for
 *                 holdfast-admin)
 *
 * Invariants: a connection is in exactly one of the pool's lists (conns) and
 * in one state; a request is either queued (rq_conn == NULL), running on one
 * connection, or on the deferred list; callbacks are only ever called from
 * an event callback.
 */
#ifndef HOLDFAST_DB_INT_H
#define HOLDFAST_DB_INT_H

#include <sys/queue.h>
#include <stdint.h>

#include "cfg.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif
#include "db.h"

enum dbc_state {
	DBC_CONNECTING = 0,	/* PQconnectPoll under the connect deadline */
	DBC_SETUP,		/* session settings being applied */
	DBC_IDLE,		/* ready; socket watched for death/notifies */
	DBC_BUSY,		/* an exec in flight */
	DBC_DEAD,		/* broken or closed; only waiting to be freed */
};

struct db_conn;
struct db_mig;

#define DBC_NPREP	32	/* prepared statements cached per connection */
#define DBC_PIPELINE	1	/* one implicit transaction, pipelined */
#define DBC_PREPARE	2	/* use (and fill) the prepared-statement cache */

/* dc_cmdkind of a command sent: >= 0 is the cache slot a Prepare fills */
#define DBC_CMD_KEEP	(-1)	/* its result goes to the caller */
#define DBC_CMD_DISCARD	(-2)	/* ours (the local statement_timeout) */

struct dbc_prep {
	uint64_t	 p_hash;
	char		*p_sql;		/* NULL: free slot */
	char		 p_name[24];
};

/* An exec's outcome: err NULL on success. Results are freed after it. */
typedef void (*dbc_exec_cb)(struct db_conn *, const struct db_error *,
    PGresult **res, int nres, void *arg);
/* Connect outcome (err NULL: ready) or, later, the loss of an idle conn. */
typedef void (*dbc_event_cb)(struct db_conn *, const struct db_error *);

/*
 * One exec: the commands of one request (or of the layer itself) and, when
 * pipelined, their Sync. A connection holds a FIFO of them: the head's
 * results are being read, the others wait behind it in the same pipeline
 * (each with a Sync of its own, so one's error never touches another).
 */
struct dbc_exec {
	struct dbc_exec		*x_next;
	dbc_exec_cb		 x_cb;
	void			*x_arg;
	PGresult		**x_res;
	int			 x_nres, x_rescap;
	int			*x_cmdkind;	/* per command sent: DBC_CMD_*,
						 * or the cache slot it prepares */
	int			 x_ncmd, x_cmdcap, x_cmd;
	int			 x_pipeline;
	int			 x_flags;
	int			 x_haserr;
	struct db_error		 x_err;
	int			 x_st_set;	/* it sets statement_timeout */
	int64_t			 x_budget_ms;	/* deadline once at the head */
};

struct db_conn {
	TAILQ_ENTRY(db_conn)	 dc_entry;
	struct db		*dc_db;
	PGconn			*dc_pg;
	enum dbc_state		 dc_state;
	int			 dc_fd;		/* fd dc_ev watches, -1 none */
	short			 dc_what;	/* events dc_ev waits for */
	struct event		*dc_ev;
	struct event		*dc_timer;	/* the current phase's deadline */
	uint64_t		 dc_created_ms;
	uint64_t		 dc_last_used_ms;
	uint64_t		 dc_recycle_at_ms;
	uint64_t		 dc_gen;	/* pool generation at connect */
	int			 dc_probe;	/* the breaker's probe */
	int			 dc_listen;	/* the LISTEN connection */
	int			 dc_pinging;
	int			 dc_failnow;	/* dc_timer reports dc_err at once */
	int			 dc_lost;	/* db.c saw it die (invalidated once) */
	dbc_event_cb		 dc_on_ready;
	dbc_event_cb		 dc_on_lost;	/* idle conn died */
	void			(*dc_on_notify)(struct db_conn *);
	/* the execs in flight, oldest (being read) first */
	struct dbc_exec		*dc_xhead;
	struct dbc_exec		**dc_xtail;
	int			 dc_nexec;	/* their number; the owner never
						 * frees a connection while > 0 */
	int			 dc_inpipe;	/* libpq is in pipeline mode */
	struct event		*dc_ev_flush;	/* sends what execs added behind
						 * the head queued, once per turn */
	struct dbc_prep		 dc_prep[DBC_NPREP];
	int			 dc_nprep;
	int			 dc_haserr;	/* connect phase, or failnow */
	struct db_error		 dc_err;
	int64_t			 dc_local_timeout_ms;	/* next exec only: the
						 * statement_timeout its deadline wants;
						 * 0: the configured one */
	int64_t			 dc_st_ms;	/* the session's statement_timeout
						 * once all sent execs ran; -1 unknown */
	void			*dc_owner;	/* the listener, for LISTEN conns */
	struct db_dns		*dc_dns;	/* resolving host names */
	struct db_mig		*dc_mig;	/* the migration run on it */
};
TAILQ_HEAD(db_conn_list, db_conn);

struct db_req {
	TAILQ_ENTRY(db_req)	 rq_entry;
	struct db		*rq_db;
	const char		*rq_op;
	struct db_stmt		*rq_stmts;
	int			 rq_nstmts;
	int			 rq_batch;
	int			 rq_tries;
	int			 rq_cancelled;
	int			 rq_queued;
	int			 rq_retrying;	/* on db_retrying, timer pending */
	int			 rq_prep_retried;	/* one rerun after 26000/42P05 */
	uint64_t		 rq_deadline_ms;
	int64_t			 rq_within;	/* its own deadline (ms), 0: none */
	int			 rq_ready;	/* a db_ready() waiter, no statements */
	int			 rq_readyq;	/* on db_readyq */
	int			 rq_ok;		/* deferred completion is a success */
	int			 rq_hit;	/* its deadline hit is counted */
	db_result_cb		 rq_cb;
	void			*rq_arg;
	struct db_conn		*rq_conn;
	struct event		*rq_timer;	/* pool wait deadline / retry delay */
	struct db_error		 rq_err;	/* for deferred completion */
	struct db_req		*rq_next_done;
	/* lookups (db_lookup.c) */
	const struct db_lookup	*rq_lookup;	/* a lookup: its kind */
	int			 rq_alone;	/* never batched (again) */
	struct db_req		*rq_members;	/* a batch: its lookups */
	struct db_req		*rq_mnext;	/* a member: the next one */
};
TAILQ_HEAD(db_req_list, db_req);

struct db_waiter {
	void			(*w_cb)(void *);
	void			*w_arg;
	struct db_waiter	*w_next;
};

struct db_listener;

enum db_up { DB_UNKNOWN = -1, DB_DOWN = 0, DB_UP = 1 };

struct db {
	struct event_base	*db_base;
	struct cfg_database	 db_cfg;	/* copy; conninfo not kept */
	char			*db_program;
	char			*db_op;
	char			*db_redacted;	/* conninfo for logs */
	const char		**db_keys;	/* filtered conninfo for libpq */
	const char		**db_vals;
	int			 db_nkeys;
	int			 db_started;
	struct evdns_base	*db_dns_base;	/* NULL: no names to resolve */

	struct db_conn_list	 db_conns;
	int			 db_nconns;	/* open or connecting, pool only */
	int			 db_nconnecting;
	uint64_t		 db_gen;

	struct db_req_list	 db_queue;
	struct db_req_list	 db_running;	/* sent on a connection */
	struct db_req_list	 db_retrying;	/* 40001/40P01: waiting to rerun */
	int			 db_nqueued;
	struct db_req		*db_done;	/* deferred completions */
	struct db_req		**db_done_tail;
	struct event		*db_ev_done;
	struct event		*db_ev_dispatch;	/* lookups: end of turn */

	/* breaker */
	enum db_up		 db_up;
	const char		*db_reason;
	enum db_class		 db_cls;
	char			 db_detail[256];
	int			 db_attempts;
	uint64_t		 db_since_ms;
	uint64_t		 db_next_probe_ms;
	uint64_t		 db_last_probe_ms;
	int			 db_probing;
	struct event		*db_ev_probe;
	void			(*db_state_cb)(const struct db_state *, void *);
	void			*db_state_arg;
	struct db_waiter	*db_waiters;
	int			 db_deadline_streak;	/* deadlines reached, no
							 * server answer since */
	struct db_req_list	 db_readyq;	/* db_ready() waiting on a probe */

	/* migrations */
	int			 db_migrated;

	struct db_listener	*db_listeners;
	struct db_stats		 db_stats;
};

/* db.c */
void db_dispatch(struct db *);
void db_fail_queue(struct db *, const struct db_error *);
void db_when_up_run(struct db *);
void db_req_run(struct db_req *, struct db_conn *);
void db_req_defer(struct db_req *);
void db_req_free(struct db_req *);
void db_failfast_error(struct db *, struct db_error *);
struct db_req *db_req_new(struct db *, const char *op, const struct db_stmt *, int n);
void db_req_arm(struct db_req *, int64_t within);
void db_req_enqueue(struct db_req *, int head);

/* db_lookup.c */
struct db_req *db_lookup_gather(struct db *, struct db_req *first);
int db_lookup_waits(const struct db_req *, const struct db_conn *);
struct db_req *db_lookup_other(struct db *);
void db_lookup_free_members(struct db_req *);

/* db_conn.c */
struct db_conn *dbc_open(struct db *, dbc_event_cb on_ready);
void dbc_exec(struct db_conn *, const struct db_stmt *, int n, int flags,
    int64_t timeout_ms, dbc_exec_cb, void *);
void dbc_close(struct db_conn *);
void dbc_forget_prepared(struct db_conn *);
void dbc_idle(struct db_conn *);
void dbc_error_from_conn(struct db_conn *, struct db_error *);
void dbc_set_error(struct db_error *, enum db_class, const char *reason,
    const char *message);

void dbc_start_libpq(struct db_conn *, const char *host, const char *hostaddr,
    const char *port);

/* db_dns.c */
void db_dns_setup(struct db *);
int db_dns_start(struct db_conn *);
void db_dns_abandon(struct db_conn *);
void db_dns_free(struct db *);

/* db_pool.c */
void db_pool_spawn(struct db *, int probe);
struct db_conn *db_pool_take(struct db *);
struct db_conn *db_pool_take_pipelined(struct db *);
void db_pool_release(struct db_conn *);
void db_pool_drop(struct db_conn *);
void db_pool_invalidate(struct db *, const char *why);
void db_pool_close_all(struct db *);

/* db_breaker.c */
void db_breaker_connect_ok(struct db *);
void db_breaker_connect_failed(struct db *, const struct db_error *);
int db_breaker_admit(struct db *);
void db_breaker_init(struct db *);
void db_breaker_free(struct db *);
void db_breaker_notify(struct db *);
void db_breaker_answered(struct db *);
int db_breaker_is_deadline(const struct db_error *);
void db_breaker_deadline_hit(struct db *, const char *op, const char *reason);

/* db_ready.c */
void db_ready_wake(struct db *);
void db_ready_cancel(struct db_req *);
void db_ready_free(struct db *);

/* db_classify.c */
void db_classify(struct db_error *, const char *sqlstate, const char *msg,
    int conn_bad);
void db_classify_result(struct db_error *, const PGresult *, int conn_bad);
int db_class_is_connection(enum db_class);
int db_reason_demand_probe(const struct db_error *);

/* db_conninfo.c */
int db_conninfo_build(struct db *, const char *conninfo);
int db_conninfo_parse(const char *conninfo, char ***keys, char ***vals,
    char *err, size_t errlen);

/* db_listen.c */
void db_listen_up(struct db *);
void db_listen_free(struct db *);

/* db_migrate.c */
void db_migrate_async(struct db_conn *, void (*done)(struct db_conn *,
    const struct db_error *));
void db_migrate_abandon(struct db_conn *);

/* db_schema.c (generated from the etc/schema files) */
struct db_migration {
	int		 version;
	const char	*name;
	const char	*sql;
};
extern const struct db_migration db_migrations[];
extern const int db_nmigrations;

#endif
