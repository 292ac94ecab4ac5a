/*
 * db_conn: one libpq connection driven from the event loop.
 *
 *   CONNECTING --PQconnectPoll OK--> SETUP --settings applied--> IDLE
 *   IDLE --dbc_exec--> BUSY --results complete--> IDLE (owner decides)
 *   any --failure, deadline, dbc_close--> DEAD
 *
 * A busy connection in pipeline mode takes more execs behind the one in
 * flight (dbc_exec again, up to the owner's depth): each is its own Sync
 * segment, so its own implicit transaction, and the results come back in
 * order. Only the head exec runs against a deadline (its budget counts
 * from the moment it reaches the head: before that it waits on the ones
 * in front of it, which have deadlines of their own); past it the
 * connection is destroyed, the head gets QueryTimeout and those behind
 * it PipelineTimeout. A connection that breaks reports every exec in it,
 * in order, each exactly once.
 *
 * Nothing here blocks: PQconnectPoll is driven by the socket it asks for
 * (re-registered after every poll, because libpq may open a new socket per
 * host it tries), every phase has a deadline of its own (libpq ignores
 * connect_timeout in this mode, and a frozen server keeps TCP alive), and
 * queries are sent with PQsendQueryParams/PQflush and read with
 * PQconsumeInput/PQisBusy. An idle connection's socket stays watched, so a
 * session the server ends (57P01) is noticed before anyone uses it.
 *
 * Owner callbacks (dc_on_ready, exec callbacks, dc_on_lost) may close the
 * connection once no exec is left in it (dc_nexec == 0): nothing touches
 * it after calling the last one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "log.h"
#include "util.h"

static void dbc_on_event(evutil_socket_t, short, void *);
static void dbc_setup(struct db_conn *);

static void
dbc_notice(void *arg, const char *msg)
{
	log_debug("db notice: %.*s", (int)strcspn(msg, "\n"), msg);
}

/* Watches fd for what (EV_READ/EV_WRITE); the fd may have changed. */
static void
dbc_watch(struct db_conn *c, short what)
{
	int fd = PQsocket(c->dc_pg);

	/* While connecting, libpq may close a socket and open the next one
	 * (next host or address) under the same number: epoll forgets a
	 * closed fd, so re-register every time rather than trust the number. */
	if (c->dc_ev != NULL && fd == c->dc_fd && what == c->dc_what &&
	    c->dc_state != DBC_CONNECTING)
		return;
	if (c->dc_ev != NULL)
		event_free(c->dc_ev);
	c->dc_ev = NULL;
	c->dc_fd = fd;
	c->dc_what = what;
	if (fd < 0)
		return;
	c->dc_ev = event_new(c->dc_db->db_base, fd, what | EV_PERSIST,
	    dbc_on_event, c);
	event_add(c->dc_ev, NULL);
}

static void
dbc_unwatch(struct db_conn *c)
{
	if (c->dc_ev != NULL)
		event_free(c->dc_ev);
	c->dc_ev = NULL;
	c->dc_fd = -1;
	c->dc_what = 0;
}

static void
dbc_deadline(struct db_conn *c, int64_t ms)
{
	struct timeval tv;

	if (ms < 0) {
		evtimer_del(c->dc_timer);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->dc_timer, &tv);
}

/* The connection's error as a classified db_error. */
void
dbc_error_from_conn(struct db_conn *c, struct db_error *e)
{
	if (c->dc_pg == NULL) {
		dbc_set_error(e, DB_CLASS_CONNECTION, "HostNotFound",
		    "host name resolution did not finish");
		return;
	}
	db_classify(e, NULL, PQerrorMessage(c->dc_pg),
	    PQstatus(c->dc_pg) == CONNECTION_BAD);
}

static void
dbc_kill(struct db_conn *c)
{
	c->dc_state = DBC_DEAD;
	dbc_unwatch(c);
	evtimer_del(c->dc_timer);
}

/* The connect phase failed: tell the owner once. */
static void
dbc_connect_failed(struct db_conn *c, const struct db_error *e)
{
	dbc_kill(c);
	c->dc_on_ready(c, e);
}

static void
dbc_exec_free(struct dbc_exec *x)
{
	for (int i = 0; i < x->x_nres; i++)
		PQclear(x->x_res[i]);
	free(x->x_res);
	free(x->x_cmdkind);
	free(x);
}

static struct dbc_exec *
dbc_exec_pop(struct db_conn *c)
{
	struct dbc_exec *x = c->dc_xhead;

	c->dc_xhead = x->x_next;
	if (c->dc_xhead == NULL)
		c->dc_xtail = &c->dc_xhead;
	c->dc_nexec--;
	return x;
}

/* Hands x's outcome (x already off the list) to its callback, then frees
 * it. On a dead connection the callback may free c when none is left. */
static void
dbc_exec_report(struct db_conn *c, struct dbc_exec *x, const struct db_error *e)
{
	struct db_error err;

	if (e != NULL) {
		err = *e;
		/* its transaction rolled the setting back: unknown now */
		if (x->x_st_set)
			c->dc_st_ms = -1;
	}
	x->x_cb(c, e != NULL ? &err : NULL, x->x_res, e != NULL ? 0 : x->x_nres,
	    x->x_arg);
	dbc_exec_free(x);
}

/* The head exec is complete: the next one (if any) starts its deadline. */
static void
dbc_exec_done(struct db_conn *c, const struct db_error *e)
{
	struct dbc_exec *x = dbc_exec_pop(c);

	if (c->dc_state != DBC_DEAD) {
		c->dc_last_used_ms = hf_now_mono_ms();
		if (c->dc_xhead == NULL) {
			evtimer_del(c->dc_timer);
			c->dc_state = c->dc_state == DBC_SETUP ? DBC_SETUP : DBC_IDLE;
			dbc_watch(c, EV_READ);
		} else
			dbc_deadline(c, c->dc_xhead->x_budget_ms);
	}
	dbc_exec_report(c, x, e);
}

/* The connection is dead: every exec in it gets its error, in order, the
 * head head_e and the others rest_e. */
static void
dbc_fail_all(struct db_conn *c, const struct db_error *head_e,
    const struct db_error *rest_e)
{
	const struct db_error *e = head_e;

	dbc_kill(c);
	if (c->dc_inpipe)
		(void)PQexitPipelineMode(c->dc_pg);
	c->dc_inpipe = 0;
	while (c->dc_xhead != NULL) {
		struct dbc_exec	*x = dbc_exec_pop(c);
		int		 last = c->dc_xhead == NULL;

		dbc_exec_report(c, x, e);
		if (last)
			return;
		e = rest_e;
	}
}

/* A broken connection during an exec: the head's first error's SQLSTATE
 * stays, PQstatus decides it is gone; the others get the connection's. */
static void
dbc_exec_broken(struct db_conn *c)
{
	struct dbc_exec	*x = c->dc_xhead;
	struct db_error	 e, rest;

	dbc_error_from_conn(c, &rest);
	if (!db_class_is_connection(rest.cls)) {
		rest.cls = DB_CLASS_CONNECTION;
		rest.reason = "ServerClosed";
	}
	if (x != NULL && x->x_haserr) {
		e = x->x_err;
		if (!db_class_is_connection(e.cls))
			db_classify(&e, e.sqlstate, e.message, 1);
	} else if (c->dc_haserr) {
		e = c->dc_err;		/* dbc_exec could not send */
		c->dc_haserr = 0;
	} else
		dbc_error_from_conn(c, &e);
	if (!db_class_is_connection(e.cls) && e.cls != DB_CLASS_TIMEOUT) {
		e.cls = DB_CLASS_CONNECTION;
		e.reason = "ServerClosed";
	}
	dbc_fail_all(c, &e, &rest);
}

static void
dbc_keep_result(struct dbc_exec *x, PGresult *r)
{
	if (x->x_nres == x->x_rescap) {
		x->x_rescap = x->x_rescap ? x->x_rescap * 2 : 4;
		x->x_res = xreallocarray(x->x_res, x->x_rescap, sizeof(*x->x_res));
	}
	x->x_res[x->x_nres++] = r;
}

/* The result of a Prepare: nothing for the caller; a failed one leaves
 * the cache (and its error is the caller's, e.g. a syntax error). */
static void
dbc_take_prepare(struct db_conn *c, struct dbc_exec *x, PGresult *r, int slot)
{
	ExecStatusType st = PQresultStatus(r);

	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (state != NULL && strcmp(state, "42P05") == 0)
		st = PGRES_COMMAND_OK;	/* already there: same name, same text */
	if (st != PGRES_COMMAND_OK) {
		/* failed, or skipped after an earlier error: not prepared */
		free(c->dc_prep[slot].p_sql);
		c->dc_prep[slot].p_sql = NULL;
		c->dc_prep[slot].p_hash = 0;
	}
	if (st != PGRES_COMMAND_OK && st != PGRES_PIPELINE_ABORTED) {
		if (!x->x_haserr) {
			db_classify_result(&x->x_err, r,
			    PQstatus(c->dc_pg) == CONNECTION_BAD);
			x->x_haserr = 1;
		}
	}
	PQclear(r);
}

/* The result of a command of ours: only a failure is kept. */
static void
dbc_take_discard(struct db_conn *c, struct dbc_exec *x, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK &&
	    st != PGRES_PIPELINE_ABORTED && !x->x_haserr) {
		db_classify_result(&x->x_err, r, PQstatus(c->dc_pg) == CONNECTION_BAD);
		x->x_haserr = 1;
	}
	PQclear(r);
}

/* Takes one result of the head exec x; returns 1 when x is complete. */
static int
dbc_take_result(struct db_conn *c, struct dbc_exec *x, PGresult *r)
{
	int kind;

	if (r == NULL) {
		x->x_cmd++;
		return !x->x_pipeline;
	}
	kind = x->x_cmd < x->x_ncmd ? x->x_cmdkind[x->x_cmd] : DBC_CMD_KEEP;
	if (kind != DBC_CMD_KEEP && PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
		if (kind >= 0)
			dbc_take_prepare(c, x, r, kind);
		else
			dbc_take_discard(c, x, r);
		return 0;
	}
	switch (PQresultStatus(r)) {
	case PGRES_PIPELINE_SYNC:
		PQclear(r);
		return 1;
	case PGRES_PIPELINE_ABORTED:
		PQclear(r);
		break;
	case PGRES_FATAL_ERROR:
	case PGRES_BAD_RESPONSE:
	case PGRES_NONFATAL_ERROR:
		if (!x->x_haserr) {
			db_classify_result(&x->x_err, r,
			    PQstatus(c->dc_pg) == CONNECTION_BAD);
			x->x_haserr = 1;
		}
		PQclear(r);
		break;
	default:
		dbc_keep_result(x, r);
	}
	return 0;
}

/* A pooler handed us a server session that lacks our statements (26000):
 * forget them all, so the retry prepares again. */
void
dbc_forget_prepared(struct db_conn *c)
{
	for (int i = 0; i < DBC_NPREP; i++) {
		free(c->dc_prep[i].p_sql);
		c->dc_prep[i].p_sql = NULL;
		c->dc_prep[i].p_hash = 0;
	}
}

/* Reads what arrived; completes each exec whose results are all in. */
static void
dbc_exec_read(struct db_conn *c)
{
	struct dbc_exec	*x;
	int		 more;

	if (!PQconsumeInput(c->dc_pg)) {
		dbc_exec_broken(c);
		return;
	}
	while ((x = c->dc_xhead) != NULL && !PQisBusy(c->dc_pg)) {
		if (!dbc_take_result(c, x, PQgetResult(c->dc_pg))) {
			if (PQstatus(c->dc_pg) == CONNECTION_BAD &&
			    !PQisBusy(c->dc_pg) && x->x_pipeline) {
				dbc_exec_broken(c);
				return;
			}
			continue;
		}
		more = x->x_next != NULL;
		if (!more && c->dc_inpipe) {
			PQexitPipelineMode(c->dc_pg);
			c->dc_inpipe = 0;
		}
		if (PQstatus(c->dc_pg) == CONNECTION_BAD) {
			dbc_exec_broken(c);
			return;
		}
		dbc_exec_done(c, x->x_haserr ? &x->x_err : NULL);
		/* with none left the owner may have closed c */
		if (!more)
			return;
	}
}

static void
dbc_flush(struct db_conn *c)
{
	int r = PQflush(c->dc_pg);

	if (r < 0)
		dbc_exec_broken(c);
	else
		dbc_watch(c, r == 1 ? EV_READ | EV_WRITE : EV_READ);
}

/* The end of a loop turn in which execs were added behind the head. */
static void
dbc_on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *c = arg;

	if (c->dc_state == DBC_BUSY && c->dc_xhead != NULL && !c->dc_failnow)
		dbc_flush(c);
}

static void
dbc_connect_poll(struct db_conn *c)
{
	struct db_error e;

	switch (PQconnectPoll(c->dc_pg)) {
	case PGRES_POLLING_READING:
		dbc_watch(c, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		dbc_watch(c, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		dbc_setup(c);
		break;
	default:
		dbc_error_from_conn(c, &e);
		if (e.cls == DB_CLASS_UNKNOWN || e.cls == DB_CLASS_DATA)
			e.cls = DB_CLASS_CONNECTION;
		dbc_connect_failed(c, &e);
	}
}

/* An idle connection's socket became readable: notifies, or its death. */
static void
dbc_idle_read(struct db_conn *c)
{
	struct db_error e;

	if (PQconsumeInput(c->dc_pg) && PQstatus(c->dc_pg) != CONNECTION_BAD) {
		if (c->dc_on_notify != NULL)
			c->dc_on_notify(c);
		return;
	}
	dbc_error_from_conn(c, &e);
	if (!db_class_is_connection(e.cls)) {
		e.cls = DB_CLASS_CONNECTION;
		e.reason = "ServerClosed";
	}
	dbc_kill(c);
	c->dc_on_lost(c, &e);
}

static void
dbc_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *c = arg;

	switch (c->dc_state) {
	case DBC_CONNECTING:
		dbc_connect_poll(c);
		break;
	case DBC_SETUP:
	case DBC_BUSY:
		if (c->dc_xhead == NULL)
			break;
		if (what & EV_WRITE) {
			dbc_flush(c);
			if (c->dc_state == DBC_DEAD || !(what & EV_READ))
				break;
		}
		dbc_exec_read(c);
		break;
	case DBC_IDLE:
		dbc_idle_read(c);
		break;
	case DBC_DEAD:
		dbc_unwatch(c);
		break;
	}
}

/* The current phase ran out of time: the connection is destroyed. */
static void
dbc_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn	*c = arg;
	struct db_error	 e, rest;

	if (c->dc_failnow && c->dc_state == DBC_CONNECTING) {
		/* PQconnectStartParams refused the options themselves, or no
		 * host name resolved. */
		if (c->dc_haserr)
			e = c->dc_err;
		else {
			dbc_error_from_conn(c, &e);
			if (!db_class_is_connection(e.cls))
				e.cls = DB_CLASS_CONFIG;
		}
		c->dc_haserr = 0;
		dbc_connect_failed(c, &e);
		return;
	}
	if (c->dc_failnow) {
		c->dc_failnow = 0;
		dbc_exec_broken(c);
		return;
	}
	if (c->dc_state == DBC_CONNECTING) {
		dbc_set_error(&e, DB_CLASS_CONNECTION, "ConnectTimeout",
		    "connect deadline passed with no answer from the server");
		dbc_connect_failed(c, &e);
		return;
	}
	if (c->dc_xhead == NULL)
		return;
	dbc_set_error(&e, DB_CLASS_TIMEOUT, "QueryTimeout",
	    "no answer from the server before the client deadline");
	if (c->dc_state == DBC_SETUP)
		e.cls = DB_CLASS_CONNECTION;
	dbc_set_error(&rest, DB_CLASS_TIMEOUT, "PipelineTimeout",
	    "dropped with its connection: the request ahead of it in the "
	    "pipeline got no answer before its deadline");
	dbc_fail_all(c, &e, &rest);
}

/*
 * Starts connecting. on_ready is called once from the loop: with NULL when
 * the session is set up, or with the classified failure.
 */
struct db_conn *
dbc_open(struct db *db, dbc_event_cb on_ready)
{
	struct db_conn *c = xcalloc(1, sizeof(*c));

	c->dc_db = db;
	c->dc_fd = -1;
	c->dc_st_ms = -1;
	c->dc_xtail = &c->dc_xhead;
	c->dc_on_ready = on_ready;
	c->dc_created_ms = c->dc_last_used_ms = hf_now_mono_ms();
	c->dc_gen = db->db_gen;
	c->dc_timer = evtimer_new(db->db_base, dbc_on_timeout, c);
	c->dc_state = DBC_CONNECTING;
	dbc_deadline(c, db->db_cfg.connect_timeout_ms);
	if (db_dns_start(c) == -1)
		dbc_start_libpq(c, NULL, NULL, NULL);
	return c;
}

/* Fails the connect from the loop (we may be inside the caller). */
static void
dbc_fail_soon(struct db_conn *c, enum db_class cls, const char *reason,
    const char *msg)
{
	dbc_set_error(&c->dc_err, cls, reason, msg);
	c->dc_haserr = 1;
	c->dc_failnow = 1;
	dbc_deadline(c, 0);
}

/*
 * Starts libpq's connect; host/hostaddr/port, when not NULL, replace the
 * conninfo's (the names db_dns.c resolved).
 */
void
dbc_start_libpq(struct db_conn *c, const char *host, const char *hostaddr,
    const char *port)
{
	struct db	*db = c->dc_db;
	const char	**k = xcalloc(db->db_nkeys + 2, sizeof(char *));
	const char	**v = xcalloc(db->db_nkeys + 2, sizeof(char *));
	int		  i, n = 0;

	if (db->db_dns_base != NULL && hostaddr == NULL) {
		free(k);
		free(v);
		dbc_fail_soon(c, DB_CLASS_CONNECTION, "HostNotFound",
		    "could not resolve any host name of the conninfo");
		return;
	}
	for (i = 0; i < db->db_nkeys; i++) {
		k[n] = db->db_keys[i];
		v[n] = db->db_vals[i];
		if (host != NULL && strcmp(k[n], "host") == 0)
			v[n] = host;
		if (port != NULL && strcmp(k[n], "port") == 0)
			v[n] = port;
		n++;
	}
	if (hostaddr != NULL) {
		k[n] = "hostaddr";
		v[n++] = hostaddr;
	}
	c->dc_pg = PQconnectStartParams(k, v, 1);
	free(k);
	free(v);
	if (c->dc_pg == NULL)
		fatalx("PQconnectStartParams: out of memory");
	PQsetErrorVerbosity(c->dc_pg, PQERRORS_VERBOSE);
	PQsetNoticeProcessor(c->dc_pg, dbc_notice, c);
	if (PQstatus(c->dc_pg) == CONNECTION_BAD) {
		/* Bad options fail here, synchronously: report from the loop. */
		c->dc_failnow = 1;
		dbc_deadline(c, 0);
		return;
	}
	dbc_watch(c, EV_WRITE);
}

static void
dbc_setup_done(struct db_conn *c, const struct db_error *e, PGresult **res,
    int nres, void *arg)
{
	if (e != NULL) {
		struct db_error err = *e;

		if (!db_class_is_connection(err.cls))
			err.cls = DB_CLASS_CONNECTION;
		dbc_kill(c);
		c->dc_on_ready(c, &err);
		return;
	}
	c->dc_state = DBC_IDLE;
	c->dc_st_ms = c->dc_db->db_cfg.statement_timeout_ms;
	c->dc_on_ready(c, NULL);
}

/*
 * Applies the per-session limits with set_config() (parameterised, and
 * works behind PgBouncer, unlike startup options).
 */
static void
dbc_setup(struct db_conn *c)
{
	char			 st[24], lt[24], it[24];
	const struct cfg_database *cfg = &c->dc_db->db_cfg;
	const char		*params[3];
	struct db_stmt		 s;

	snprintf(st, sizeof(st), "%lld", (long long)cfg->statement_timeout_ms);
	snprintf(lt, sizeof(lt), "%lld", (long long)cfg->lock_timeout_ms);
	snprintf(it, sizeof(it), "%lld", (long long)cfg->idle_in_transaction_timeout_ms);
	params[0] = st;
	params[1] = lt;
	params[2] = it;
	s.sql = "SELECT set_config('statement_timeout', $1, false), "
	    "set_config('lock_timeout', $2, false), "
	    "set_config('idle_in_transaction_session_timeout', $3, false)";
	s.nparams = 3;
	s.params = params;
	evtimer_del(c->dc_timer);
	if (PQsetnonblocking(c->dc_pg, 1) == -1) {
		struct db_error e;

		dbc_error_from_conn(c, &e);
		dbc_connect_failed(c, &e);
		return;
	}
	c->dc_state = DBC_SETUP;
	dbc_exec(c, &s, 1, 0, cfg->connect_timeout_ms, dbc_setup_done, NULL);
}

/* FNV-1a, 64 bits: names prepared statements after their text. */
static uint64_t
dbc_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void
dbc_note_cmd(struct dbc_exec *x, int kind)
{
	if (x->x_ncmd == x->x_cmdcap) {
		x->x_cmdcap = x->x_cmdcap ? x->x_cmdcap * 2 : 8;
		x->x_cmdkind = xreallocarray(x->x_cmdkind, x->x_cmdcap, sizeof(int));
	}
	x->x_cmdkind[x->x_ncmd++] = kind;
}

/*
 * The name of sql prepared on this connection, or NULL when the cache is
 * full. *slot_new says a Prepare must be sent first (pipelined with it).
 */
static const char *
dbc_prepared(struct db_conn *c, const char *sql, int *slot_new)
{
	uint64_t	h = dbc_hash(sql);
	int		i, free_slot = -1;

	*slot_new = -1;
	for (i = 0; i < DBC_NPREP; i++) {
		struct dbc_prep *p = &c->dc_prep[i];

		if (p->p_sql == NULL) {
			if (free_slot < 0)
				free_slot = i;
		} else if (p->p_hash == h && strcmp(p->p_sql, sql) == 0)
			return p->p_name;
	}
	if (free_slot < 0)
		return NULL;
	c->dc_prep[free_slot].p_hash = h;
	c->dc_prep[free_slot].p_sql = xstrdup(sql);
	/* Named after the text, not a counter: behind a transaction-mode
	 * pooler a server session may already hold a statement of this
	 * name from another client, and then it is the same statement. */
	snprintf(c->dc_prep[free_slot].p_name, sizeof(c->dc_prep[0].p_name),
	    "hf_%016llx", (unsigned long long)h);
	c->dc_nprep++;
	*slot_new = free_slot;
	return c->dc_prep[free_slot].p_name;
}

/* Sends one statement (its result: kind, DBC_CMD_*); returns 0 or -1. */
static int
dbc_send(struct db_conn *c, struct dbc_exec *x, const struct db_stmt *s, int kind)
{
	const char	*name;
	int		 slot;

	/* nparams < 0: a multi-statement script (migrations, LISTEN), sent
	 * with the simple protocol; never with values in it. */
	if (s->nparams < 0) {
		dbc_note_cmd(x, kind);
		return PQsendQuery(c->dc_pg, s->sql) ? 0 : -1;
	}
	if ((x->x_flags & DBC_PREPARE) && s->sql[0] != '\0' &&
	    (name = dbc_prepared(c, s->sql, &slot)) != NULL) {
		if (slot >= 0) {
			dbc_note_cmd(x, slot);
			if (!PQsendPrepare(c->dc_pg, name, s->sql, s->nparams, NULL))
				return -1;
		}
		dbc_note_cmd(x, kind);
		return PQsendQueryPrepared(c->dc_pg, name, s->nparams, s->params,
		    NULL, NULL, 0) ? 0 : -1;
	}
	dbc_note_cmd(x, kind);
	return PQsendQueryParams(c->dc_pg, s->sql, s->nparams, NULL, s->params,
	    NULL, NULL, 0) ? 0 : -1;
}

/*
 * In a pipeline, the statement_timeout this request needs, sent first
 * when the session's is not already right; its result is not the
 * caller's. A request with a deadline wants 90 % of what is left of it
 * (dc_local_timeout_ms); any value between 80 % and 95 % of what is left
 * will do, so a connection serving requests with the same deadline sets
 * it once, not per request (measured: a pipelined set_config per request
 * costs ~15 % of the throughput of trivial queries). Other requests want
 * the configured value back. Set at session level (set_config(..., false):
 * no warning outside a transaction block, prepared like any statement);
 * a failed exec rolls it back with its transaction, so the value is then
 * unknown and sent again next time. In a pipeline the value compared is
 * the one the session will have once the execs in front have run.
 */
static int
dbc_send_timeout(struct db_conn *c, struct dbc_exec *x)
{
	char			 v[24];
	const char		*params[1] = { v };
	struct db_stmt		 s = { "SELECT set_config('statement_timeout', $1, false)",
				    1, params };
	int64_t			 want = c->dc_local_timeout_ms, cur = c->dc_st_ms;

	c->dc_local_timeout_ms = 0;
	if (!x->x_pipeline)
		return 0;
	if (want > 0) {
		/* want = 0.9 * left: acceptable is 0.8 .. 0.95 * left */
		if (cur > 0 && cur * 9 >= want * 8 && cur * 18 <= want * 19)
			return 0;
	} else {
		want = c->dc_db->db_cfg.statement_timeout_ms;
		if (cur == want)
			return 0;
	}
	snprintf(v, sizeof(v), "%lld", (long long)want);
	c->dc_st_ms = want;
	x->x_st_set = 1;
	return dbc_send(c, x, &s, DBC_CMD_DISCARD);
}

/*
 * Sends n statements and calls cb with the results or the first error.
 * DBC_PIPELINE: pipelined, one implicit transaction (the server rolls all
 * of them back on any error), one round trip. DBC_PREPARE: statements are
 * prepared once per connection (the Prepare rides in the same pipeline)
 * and executed by name afterwards, which saves the server a parse and a
 * plan per query; behind PgBouncer this needs 1.21+ (protocol-level
 * prepared statements). A deadline of timeout_ms destroys the connection
 * (QueryTimeout). Never calls cb before returning. On a busy connection
 * in pipeline mode (both execs DBC_PIPELINE) the exec goes behind the
 * ones in flight; its timeout_ms starts when it reaches the head.
 */
void
dbc_exec(struct db_conn *c, const struct db_stmt *s, int n, int flags,
    int64_t timeout_ms, dbc_exec_cb cb, void *arg)
{
	struct dbc_exec	*x = xcalloc(1, sizeof(*x));
	int		 first = c->dc_xhead == NULL, i;

	x->x_cb = cb;
	x->x_arg = arg;
	x->x_flags = flags;
	x->x_pipeline = (flags & DBC_PIPELINE) != 0;
	x->x_budget_ms = timeout_ms > 0 ? timeout_ms : 1;
	*c->dc_xtail = x;
	c->dc_xtail = &x->x_next;
	c->dc_nexec++;
	if (c->dc_state == DBC_IDLE)
		c->dc_state = DBC_BUSY;
	if (c->dc_failnow)
		return;		/* failing already: x fails with the others */
	if (x->x_pipeline && !c->dc_inpipe) {
		if (PQenterPipelineMode(c->dc_pg) != 1)
			goto broken;
		c->dc_inpipe = 1;
	}
	if (dbc_send_timeout(c, x) == -1)
		goto broken;
	for (i = 0; i < n; i++)
		if (dbc_send(c, x, &s[i], DBC_CMD_KEEP) == -1)
			goto broken;
	if (x->x_pipeline && PQpipelineSync(c->dc_pg) != 1)
		goto broken;
	if (first) {
		dbc_deadline(c, x->x_budget_ms);
		if ((i = PQflush(c->dc_pg)) < 0)
			goto broken;
		dbc_watch(c, i == 1 ? EV_READ | EV_WRITE : EV_READ);
		return;
	}
	/* Behind others: requests added in the same loop turn go out in one
	 * write (a busy server reads them in one go too). */
	if (c->dc_ev_flush == NULL)
		c->dc_ev_flush = event_new(c->dc_db->db_base, -1, 0,
		    dbc_on_flush, c);
	if (!event_pending(c->dc_ev_flush, EV_TIMEOUT, NULL))
		event_active(c->dc_ev_flush, EV_TIMEOUT, 0);
	return;
broken:
	/* Report from the loop, never from inside the caller. */
	dbc_error_from_conn(c, &c->dc_err);
	c->dc_haserr = 1;
	c->dc_failnow = 1;
	dbc_unwatch(c);
	dbc_deadline(c, 0);
}

/* The connection is idle again and watched for death and notifies. */
void
dbc_idle(struct db_conn *c)
{
	if (c->dc_state == DBC_DEAD)
		return;
	c->dc_state = DBC_IDLE;
	dbc_watch(c, EV_READ);
}

void
dbc_close(struct db_conn *c)
{
	if (c == NULL)
		return;
	db_dns_abandon(c);
	db_migrate_abandon(c);
	dbc_unwatch(c);
	if (c->dc_timer != NULL)
		event_free(c->dc_timer);
	if (c->dc_ev_flush != NULL)
		event_free(c->dc_ev_flush);
	while (c->dc_xhead != NULL)
		dbc_exec_free(dbc_exec_pop(c));
	for (int i = 0; i < DBC_NPREP; i++)
		free(c->dc_prep[i].p_sql);
	if (c->dc_pg != NULL)
		PQfinish(c->dc_pg);
	free(c);
}
