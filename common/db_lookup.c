/*
 * db_lookup: lookups of one kind, queued together, answered by one
 * execution of their batch_sql (db.h, db_lookup_within).
 *
 * - db_dispatch hands the queue's first request to db_lookup_gather: a
 *   lookup with at least one other of its kind queued (and neither marked
 *   to run alone) becomes a batch request, which takes their place at the
 *   head of the queue and runs like any request (pipelined, prepared, with
 *   the earliest of their deadlines). The lookups leave the queue and wait
 *   on the batch (rq_members); their own timers stop.
 * - The batch's callback gives each lookup its own result (sql's columns,
 *   the rows whose position column names it) or the batch's error; on an
 *   error that may be one key's (DATA, LOCK, UNKNOWN) each lookup is queued
 *   again at the head, to run alone.
 * Invariants: a lookup is queued, running alone, or a member of exactly one
 * batch; every member is answered exactly once (or, cancelled, freed
 * without an answer) when its batch completes, fails or is freed; a batch
 * has no caller of its own.
 */
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "log.h"
#include "util.h"


/* '{"k1","k2"}': each key quoted, its '"' and '\' escaped. */
static char *
db_lookup_array(struct db_req **m, int n)
{
	size_t	 len = 3;
	char	*buf, *p;

	for (int i = 0; i < n; i++)
		len += 2 * strlen(m[i]->rq_stmts[0].params[0]) + 3;
	p = buf = xmalloc(len);
	*p++ = '{';
	for (int i = 0; i < n; i++) {
		const char *k = m[i]->rq_stmts[0].params[0];

		if (i > 0)
			*p++ = ',';
		*p++ = '"';
		for (; *k != '\0'; k++) {
			if (*k == '"' || *k == '\\')
				*p++ = '\\';
			*p++ = *k;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return buf;
}

/* A result of sql's shape (batch's columns after the first), empty. */
static PGresult *
db_lookup_result_new(const PGresult *b)
{
	int		 nf = PQnfields(b) - 1;
	PGresAttDesc	*a = xcalloc(nf > 0 ? nf : 1, sizeof(*a));
	PGresult	*r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

	if (r == NULL)
		fatalx("PQmakeEmptyPGresult: out of memory");
	for (int i = 0; i < nf; i++) {
		a[i].name = PQfname(b, i + 1);
		a[i].tableid = PQftable(b, i + 1);
		a[i].columnid = PQftablecol(b, i + 1);
		a[i].format = PQfformat(b, i + 1);
		a[i].typid = PQftype(b, i + 1);
		a[i].typlen = PQfsize(b, i + 1);
		a[i].atttypmod = PQfmod(b, i + 1);
	}
	if (nf > 0 && !PQsetResultAttrs(r, nf, a))
		fatalx("PQsetResultAttrs: out of memory");
	free(a);
	return r;
}

/* Copies row t of the batch result b (its columns after the first) to r. */
static void
db_lookup_copy_row(PGresult *r, const PGresult *b, int t)
{
	int row = PQntuples(r);

	for (int i = 1; i < PQnfields(b); i++) {
		int null = PQgetisnull(b, t, i);

		if (!PQsetvalue(r, row, i - 1, null ? NULL : PQgetvalue(b, t, i),
		    null ? -1 : PQgetlength(b, t, i)))
			fatalx("PQsetvalue: out of memory");
	}
}

static struct db_req *
db_lookup_pop(struct db_req *g)
{
	struct db_req *m = g->rq_members;

	if (m != NULL) {
		g->rq_members = m->rq_mnext;
		m->rq_mnext = NULL;
	}
	return m;
}

/* The batch's rows, each to the result of the member its first column
 * names; a row naming no member is the batch SQL's bug, and dropped. */
static void
db_lookup_answer(struct db_req *g, const PGresult *b)
{
	struct db_req	*m[DB_LOOKUP_MAX], *x;
	PGresult	*res[DB_LOOKUP_MAX];
	int		 n = 0, bad = 0;

	while (n < DB_LOOKUP_MAX && (x = db_lookup_pop(g)) != NULL) {
		m[n] = x;
		res[n++] = db_lookup_result_new(b);
	}
	for (int t = 0; t < PQntuples(b); t++) {
		long pos = strtol(PQgetvalue(b, t, 0), NULL, 10);

		if (pos >= 1 && pos <= n)
			db_lookup_copy_row(res[pos - 1], b, t);
		else
			bad++;
	}
	if (bad > 0)
		log_warnx("[DB_LOOKUP] op=%s: %d row(s) of the batch name no key "
		    "(column 1 must be the key's position)", g->rq_op, bad);
	for (int i = 0; i < n; i++) {
		if (!m[i]->rq_cancelled && m[i]->rq_cb != NULL)
			m[i]->rq_cb(NULL, &res[i], 1, m[i]->rq_arg);
		PQclear(res[i]);
		db_req_free(m[i]);
	}
}

/* An error that may be one key's: each lookup gets its own by running
 * alone. */
static int
db_lookup_alone_after(const struct db_error *e)
{
	return e->cls == DB_CLASS_DATA || e->cls == DB_CLASS_LOCK ||
	    e->cls == DB_CLASS_UNKNOWN;
}

static void
db_lookup_done(const struct db_error *e, PGresult *const *res, int nres,
    void *arg)
{
	struct db_req	*g = arg, *m;
	struct db	*db = g->rq_db;

	if (e == NULL && nres == 1 && PQnfields(res[0]) >= 1) {
		db_lookup_answer(g, res[0]);
		return;
	}
	if (e != NULL && db_lookup_alone_after(e)) {
		/* in their order, at the head of the queue */
		struct db_req *rev = NULL;

		while ((m = db_lookup_pop(g)) != NULL) {
			m->rq_mnext = rev;
			rev = m;
		}
		while ((m = rev) != NULL) {
			rev = m->rq_mnext;
			m->rq_mnext = NULL;
			m->rq_alone = 1;
			if (m->rq_cancelled)
				db_req_free(m);
			else
				db_req_enqueue(m, 1);
		}
		db_dispatch(db);
		return;
	}
	while ((m = db_lookup_pop(g)) != NULL) {
		if (!m->rq_cancelled && m->rq_cb != NULL) {
			if (e != NULL)
				m->rq_cb(e, NULL, 0, m->rq_arg);
			else {
				struct db_error	x;

				dbc_set_error(&x, DB_CLASS_DATA, "BadLookupBatch",
				    "the lookup's batch statement returned no columns");
				m->rq_cb(&x, NULL, 0, m->rq_arg);
			}
		}
		db_req_free(m);
	}
}

/*
 * first is the queue's head. When it is a lookup with others of its kind
 * queued, they become one batch, which takes first's place; else first.
 */
struct db_req *
db_lookup_gather(struct db *db, struct db_req *first)
{
	const struct db_lookup	*l = first->rq_lookup;
	struct db_req		*m[DB_LOOKUP_MAX], *r, *g;
	struct db_stmt		 s;
	const char		*param;
	uint64_t		 deadline = first->rq_deadline_ms, now;
	int			 n = 0, within = 0;
	int			 max = db->db_cfg.lookup_batch > DB_LOOKUP_MAX ?
				    DB_LOOKUP_MAX : db->db_cfg.lookup_batch;

	if (l == NULL || first->rq_alone || l->batch_sql == NULL || max < 2)
		return first;
	for (r = first; r != NULL && n < max; r = TAILQ_NEXT(r, rq_entry))
		if (r->rq_lookup == l && !r->rq_alone && !r->rq_cancelled &&
		    r->rq_stmts[0].params[0] != NULL)
			m[n++] = r;
	if (n < 2)
		return first;
	param = db_lookup_array(m, n);
	s.sql = l->batch_sql;
	s.nparams = 1;
	s.params = &param;
	g = db_req_new(db, first->rq_op, &s, 1);
	free((char *)param);
	g->rq_cb = db_lookup_done;
	g->rq_arg = g;
	g->rq_alone = 1;
	for (int i = n - 1; i >= 0; i--) {
		TAILQ_REMOVE(&db->db_queue, m[i], rq_entry);
		m[i]->rq_queued = 0;
		db->db_nqueued--;
		evtimer_del(m[i]->rq_timer);
		if (m[i]->rq_deadline_ms < deadline)
			deadline = m[i]->rq_deadline_ms;
		within |= m[i]->rq_within > 0;
		m[i]->rq_mnext = g->rq_members;
		g->rq_members = m[i];
	}
	now = hf_now_mono_ms();
	db_req_arm(g, deadline > now ? (int64_t)(deadline - now) : 1);
	/* the members' own deadline or query_timeout, whichever they had */
	g->rq_deadline_ms = deadline;
	if (!within)
		g->rq_within = 0;
	db->db_stats.lookup_batches++;
	db->db_stats.lookups_batched += n;
	db_req_enqueue(g, 1);
	return g;
}

/*
 * A lookup alone (none of its kind queued with it) takes an idle
 * connection but never goes into a busy one's pipeline: it waits in the
 * queue for the next connection to come back, by when the lookups made
 * meanwhile have queued behind it and all go as one batch. A batch always
 * goes. (Measured under wrk, 2 workers x pool 4: letting a lone lookup
 * into a pipeline holding one request gave smaller batches, ~20 % fewer
 * requests per second and twice the p99.)
 */
int
db_lookup_waits(const struct db_req *r, const struct db_conn *c)
{
	return r->rq_lookup != NULL && !r->rq_alone && r->rq_members == NULL &&
	    c->dc_nexec > 0 && c->dc_db->db_cfg.lookup_batch >= 2;
}

/* The first queued request that is not a lookup waiting for company. */
struct db_req *
db_lookup_other(struct db *db)
{
	struct db_req *r;

	TAILQ_FOREACH(r, &db->db_queue, rq_entry)
		if (r->rq_lookup == NULL || r->rq_alone)
			return r;
	return NULL;
}

/* The batch is freed before its members were answered (db_free):
 * they go with it, unanswered, like every request db_free drops. */
void
db_lookup_free_members(struct db_req *g)
{
	struct db_req *m;

	while ((m = db_lookup_pop(g)) != NULL)
		db_req_free(m);
}
