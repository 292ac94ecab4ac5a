/*
 * wa: the state holdfast-whatsapp's modules share, and its loop.
 *
 * The worker's work is a sequence of steps, each one short transaction
 * (a call of a SQL function of etc/schema/0003_wa_session.sql):
 *   assign inbound messages -> close idle sessions -> apply statuses ->
 *   claim outbox rows (whose HTTP sends then run on their own).
 * A "pass" runs the steps in that order; a step may ask to run again at
 * once (a full batch) or shortly (rows held by another instance). Passes
 * are started by NOTIFY holdfast_wa, by the poll timer, by a (re)LISTEN
 * (catch-up) and by the DB coming back; wake-ups during a pass coalesce
 * into one more pass. Only one pass runs at a time.
 *
 * A DB failure ends the pass: when the layer says the DB is down, the loop
 * waits for db_when_up() and touches nothing meanwhile (the layer logs
 * [DB_DOWN]/[DB_RECOVERED] and tells holdfastd); other failures are
 * retried after a backoff. Nothing here ever exits on a DB error.
 */
#ifndef HOLDFAST_WA_H
#define HOLDFAST_WA_H

#include <stdint.h>
#include <event2/event.h>
#include <libpq-fe.h>

struct cfg_database;
struct cfg_whatsapp;
struct db;
struct db_error;
struct wa_outbox;

enum wa_step_result {
	WA_STEP_DONE = 0,	/* nothing more for now: next step */
	WA_STEP_MORE,		/* run this step again at once */
	WA_STEP_LATER,		/* work is held by another instance: again shortly */
	WA_STEP_ERROR,		/* the DB failed: end the pass */
};

struct wa;
typedef void (*wa_step_done)(struct wa *, enum wa_step_result, const struct db_error *);
typedef void (*wa_step_fn)(struct wa *, wa_step_done);

struct wa_counters {
	uint64_t	 assigned, opened, closed, statuses;
	uint64_t	 sent, retried, failed, passes, db_errors;
};

struct wa {
	struct event_base		*base;
	struct db			*db;
	const struct cfg_whatsapp	*cfg;
	const struct cfg_database	*dbcfg;
	struct wa_outbox		*outbox;
	struct wa_counters		 n;
	/* loop */
	int				 running;	/* a pass is in progress */
	int				 again;		/* woken during the pass */
	int				 waiting_up;	/* db_when_up() pending */
	int				 stopping;
	int				 step;		/* index into the step table */
	int				 later;		/* consecutive LATER results */
	int				 fails;		/* consecutive failed passes */
	struct event			*ev_poll;	/* the safety-net poll */
	struct event			*ev_kick;	/* deferred (re)start of a pass */
	struct event			*ev_due;	/* wa_wake_after() */
	uint64_t			 due_at_ms;	/* when ev_due fires; 0 none */
	void				(*on_idle)(void *);	/* stop: called when quiet */
	void				*on_idle_arg;
};

struct wa *wa_new(struct event_base *, struct db *, const struct cfg_whatsapp *,
    const struct cfg_database *);
void wa_free(struct wa *);
/* LISTEN holdfast_wa, arm the poll, run a first pass. */
void wa_start(struct wa *);
/* Asks for a pass (now, or right after the running one). */
void wa_wake(struct wa *);
/* Asks for a pass in ms milliseconds (a retry coming due). */
void wa_wake_after(struct wa *, int64_t ms);
/* Stops claiming work; on_idle is called once nothing is in flight. */
void wa_stop(struct wa *, void (*on_idle)(void *), void *arg);
/* The op name in [DB_DOWN]/[DB_RECOVERED] lines (the seed's). */
#define WA_OP	"whatsapp_session_loop"

/* A step's pending query: whom to tell. */
struct wa_stepctx {
	struct wa	*wa;
	wa_step_done	 done;
};
struct wa_stepctx *wa_stepctx_new(struct wa *, wa_step_done);
/*
 * A step's query has answered: frees its context (arg) and gives back
 * *wa and *done. Returns 0, or -1 when the query failed (done has then
 * been told WA_STEP_ERROR).
 */
int wa_stepctx_end(void *arg, const struct db_error *err, struct wa **wa,
    wa_step_done *done);
/* Column c of row 0 as an integer; 0 when missing or NULL. */
long long wa_res_int(PGresult *, int c);

/* During a stop: calls on_idle once nothing is in flight any more. */
void wa_check_idle(struct wa *);
/* 1 when no pass runs and no send or record is in flight. */
int wa_quiet(const struct wa *);

#endif
