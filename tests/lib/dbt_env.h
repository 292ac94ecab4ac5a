/*
 * dbt_env: the fixture of the DB fault suites (test_db_faults,
 * test_db_network): a private cluster, optionally the fault proxy in
 * front of it, a layer with short timeouts, its log captured.
 * Header-only so each suite stays one self-contained program.
 */
#ifndef HOLDFAST_DBT_ENV_H
#define HOLDFAST_DBT_ENV_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbt.h"
#include "fp.h"
#include "log.h"
#include "pgt.h"
#include "util.h"

#define DBT_UNUSED	__attribute__((unused))

struct env {
	struct pgt		*pg;
	struct fp		*fp;
	struct event_base	*base;
	struct db		*db;
	struct cfg_database	 cfg;
	char			 conninfo[512];
};

/* A cluster, optionally a proxy in front, and a layer that is up. */
static void DBT_UNUSED
env_up(struct env *e, const char *pgopts, int proxy, int wait)
{
	memset(e, 0, sizeof(*e));
	dbt_log_capture();
	e->pg = pgt_start(pgopts);
	pgt_createdb(e->pg, "hf", 0);
	if (proxy) {
		e->fp = fp_start(pgt_port(e->pg));
		snprintf(e->conninfo, sizeof(e->conninfo),
		    "host=127.0.0.1 port=%d dbname=hf user=postgres", fp_port(e->fp));
	} else
		snprintf(e->conninfo, sizeof(e->conninfo), "%s",
		    pgt_conninfo(e->pg, "hf"));
	dbt_cfg(&e->cfg, e->conninfo);
	e->base = event_base_new();
}

static void DBT_UNUSED
env_start(struct env *e, int wait)
{
	e->db = db_new(e->base, &e->cfg, "test", "test_loop");
	db_start(e->db);
	if (wait)
		ck_assert_msg(dbt_wait_up(e->base, e->db, 1, 5000), "DB never up");
}

static void DBT_UNUSED
env_down(struct env *e)
{
	db_free(e->db);
	event_base_free(e->base);
	fp_stop(e->fp);
	pgt_destroy(e->pg);
}

static void DBT_UNUSED
assert_query_ok(struct env *e)
{
	struct dbt_res r;

	dbt_query(e->base, e->db, "SELECT 1", 0, NULL, &r);
	ck_assert_msg(r.ok, "query failed: %s %s", r.reason, r.message);
}

/* Queries until one succeeds (each failure must be a 503-worthy one). */
static int DBT_UNUSED
query_until_ok(struct env *e, int timeout_ms)
{
	uint64_t	end = hf_now_mono_ms() + timeout_ms;
	struct dbt_res	r;

	while (hf_now_mono_ms() < end) {
		dbt_query(e->base, e->db, "SELECT 1", 0, NULL, &r);
		if (r.ok)
			return 1;
		{
			struct db_error de = { .cls = r.cls };
			ck_assert_msg(db_error_unavailable(&de), "not a 503: %s", r.reason);
		}
		dbt_run_for(e->base, 10);
	}
	return 0;
}

/*
 * The fault took the layer down: it says so (db_is_up), and a query fails
 * DB_CLASS_DOWN with reason (or, when not NULL, alt: a fault some kernels
 * report one way and some the other). That query's result goes to *r.
 */
static void DBT_UNUSED
env_assert_down(struct env *e, const char *reason, const char *alt, struct dbt_res *r)
{
	ck_assert(dbt_wait_up(e->base, e->db, 0, 3000));
	dbt_query(e->base, e->db, "SELECT 1", 0, NULL, r);
	ck_assert(!r->ok);
	ck_assert_int_eq(r->cls, DB_CLASS_DOWN);
	ck_assert_msg(strcmp(r->reason, reason) == 0 ||
	    (alt != NULL && strcmp(r->reason, alt) == 0), "reason %s", r->reason);
}

/*
 * The fault is over: a query succeeds within timeout_ms (every failure
 * before it a 503-worthy one) and the recovery was logged exactly once.
 */
static void DBT_UNUSED
env_assert_recovered(struct env *e, int timeout_ms)
{
	ck_assert_msg(query_until_ok(e, timeout_ms), "no recovery in %d ms", timeout_ms);
	ck_assert_int_eq(dbt_log_count("[DB_RECOVERED]"), 1);
	ck_assert_int_eq(dbt_log_count("[DB_RECOVERED] op=test_loop after "), 1);
}

/*
 * One request's answer as a callback saw it: how many times it came (a
 * second one is a bug), success or the error, and from the last result
 * its rows, columns, last column's name and first row's value there.
 */
struct dbt_ans {
	int		 calls;
	int		 ok;
	int		 nres, rows, cols;
	enum db_class	 cls;
	char		 reason[64];
	char		 sqlstate[6];
	char		 value[128];
	char		 fname[32];
};

static void DBT_UNUSED
dbt_ans_cb(const struct db_error *e, PGresult *const *res, int nres, void *arg)
{
	struct dbt_ans	*p = arg;
	PGresult	*r;

	p->calls++;
	p->ok = e == NULL;
	if (e != NULL) {
		p->cls = e->cls;
		snprintf(p->reason, sizeof(p->reason), "%s", e->reason);
		snprintf(p->sqlstate, sizeof(p->sqlstate), "%s", e->sqlstate);
		return;
	}
	p->cls = DB_CLASS_OK;
	if ((p->nres = nres) == 0)
		return;
	r = res[nres - 1];
	p->rows = PQntuples(r);
	p->cols = PQnfields(r);
	if (p->cols > 0)
		snprintf(p->fname, sizeof(p->fname), "%s", PQfname(r, p->cols - 1));
	if (p->rows > 0 && p->cols > 0)
		snprintf(p->value, sizeof(p->value), "%s", PQgetvalue(r, 0, p->cols - 1));
}

/* Runs the loop until all n are answered (or timeout_ms), then a little
 * longer, so that a second answer would be seen; 1 when all were. */
static int DBT_UNUSED
dbt_wait_answers(struct env *e, struct dbt_ans *p, int n, int timeout_ms)
{
	uint64_t	end = hf_now_mono_ms() + timeout_ms;
	int		done;

	for (;;) {
		done = 0;
		for (int i = 0; i < n; i++)
			done += p[i].calls > 0;
		if (done == n || hf_now_mono_ms() >= end)
			break;
		dbt_run_for(e->base, 5);
	}
	dbt_run_for(e->base, 300);
	for (int i = 0; i < n; i++)
		ck_assert_msg(p[i].calls <= 1, "request %d answered %d times", i,
		    p[i].calls);
	return done == n;
}

#endif
