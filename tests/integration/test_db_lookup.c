/*
 * test_db_lookup: lookups (db_lookup_within) made together go to a real
 * PostgreSQL as one statement, and each caller still gets exactly what it
 * would have got alone:
 * - ten lookups in one loop turn: one batch statement; each gets its own
 *   row, a missing key an empty result of the same shape, a repeated key
 *   the row again; keys with quotes, backslashes, commas, braces, the word
 *   NULL and UTF-8 reach the server as themselves;
 * - more than lookup_batch at once: several batches, all answered;
 * - lookup_batch = 1: every lookup its own statement;
 * - a key the batch cannot take (not a number): the batch fails, every
 *   lookup runs alone, and only that key's caller gets the error (22P02);
 * - cancelled lookups, queued or inside a batch in flight, are never
 *   answered, the others are;
 * - the session terminated or the server frozen with a batch in flight:
 *   each lookup gets one classified error, none twice, none lost;
 * - a lookup alone (nothing to batch with) runs its own statement; with
 *   no connection idle it waits for company instead of going into a
 *   pipeline, and holds back no other request.
 */
#include "dbt_env.h"
#include "tu.h"

#define KV_SQL		"SELECT v FROM kv WHERE k = $1"
#define KV_BATCH	"SELECT x.i, kv.v FROM unnest($1::text[]) WITH ORDINALITY " \
			"AS x(k, i) JOIN kv ON kv.k = x.k"

static const struct db_lookup kv = { KV_SQL, KV_BATCH };
static const struct db_lookup num = {
	"SELECT n, n * 2 AS twice FROM generate_series(1, 100) n WHERE n = $1::int",
	"SELECT x.i, n, n * 2 AS twice FROM unnest($1::int[]) WITH ORDINALITY AS x(k, i) "
	"JOIN generate_series(1, 100) n ON n = x.k",
};

/* A lookup's answer is always one result, of the single statement's shape. */
static void
lreq_cb(const struct db_error *e, PGresult *const *res, int nres, void *arg)
{
	if (e == NULL)
		ck_assert_int_eq(nres, 1);
	dbt_ans_cb(e, res, nres, arg);
}

static void
up(struct env *e, int pool)
{
	env_up(e, NULL, 0, 1);
	e->cfg.pool_size = pool;
	e->cfg.pipeline_depth = 8;
	e->cfg.lookup_batch = 32;
	env_start(e, 1);
	assert_query_ok(e);
}

static struct db_stats
stats(struct env *e)
{
	struct db_stats st;

	db_get_stats(e->db, &st);
	return st;
}

/* n lookups of num with keys "1".."n", each answering into p[i]. */
static void
num_lookups(struct env *e, int64_t deadline_ms, struct dbt_ans *p, int n)
{
	memset(p, 0, n * sizeof(*p));
	for (int i = 0; i < n; i++) {
		char k[16];

		snprintf(k, sizeof(k), "%d", i + 1);
		db_lookup_within(e->db, deadline_ms, "t", &num, k, lreq_cb, &p[i]);
	}
}

static const char *const keys[] = {
	"plain", "quo\"te", "back\\slash", "com,ma", "{brace}", "NULL",
	"caf\xc3\xa9", "missing", "plain", "sp ace",
};
#define NKEYS	((int)nitems(keys))

START_TEST(test_batched_each_its_own)
{
	struct env	e;
	struct dbt_ans	p[NKEYS];
	struct db_stats	st0, st;

	up(&e, 1);
	ck_assert_int_eq(pgt_psql(e.pg, "hf", "CREATE TABLE kv (k text PRIMARY KEY, v text); "
	    "INSERT INTO kv VALUES ('plain', 'v-plain'), ('quo\"te', 'v-quote'), "
	    "(E'back\\\\slash', 'v-backslash'), ('com,ma', 'v-comma'), "
	    "('{brace}', 'v-brace'), ('NULL', 'v-null-word'), "
	    "('caf\xc3\xa9', 'v-utf8'), ('sp ace', 'v-space')", NULL), 0);
	st0 = stats(&e);
	memset(p, 0, sizeof(p));
	for (int i = 0; i < NKEYS; i++)
		db_lookup_within(e.db, 2000, "t", &kv, keys[i], lreq_cb, &p[i]);
	ck_assert(dbt_wait_answers(&e, p, NKEYS, 5000));
	for (int i = 0; i < NKEYS; i++) {
		ck_assert_msg(p[i].ok, "lookup %d: %s", i, p[i].reason);
		ck_assert_int_eq(p[i].cols, 1);
		ck_assert_str_eq(p[i].fname, "v");
	}
	ck_assert_str_eq(p[0].value, "v-plain");
	ck_assert_str_eq(p[1].value, "v-quote");
	ck_assert_str_eq(p[2].value, "v-backslash");
	ck_assert_str_eq(p[3].value, "v-comma");
	ck_assert_str_eq(p[4].value, "v-brace");
	ck_assert_str_eq(p[5].value, "v-null-word");
	ck_assert_str_eq(p[6].value, "v-utf8");
	ck_assert_int_eq(p[7].rows, 0);			/* missing: no row */
	ck_assert_str_eq(p[8].value, "v-plain");	/* the same key again */
	ck_assert_str_eq(p[9].value, "v-space");
	for (int i = 0; i < NKEYS; i++)
		ck_assert_int_eq(p[i].rows, i == 7 ? 0 : 1);
	st = stats(&e);
	ck_assert_uint_eq(st.lookup_batches - st0.lookup_batches, 1);
	ck_assert_uint_eq(st.lookups_batched - st0.lookups_batched, NKEYS);
	ck_assert_uint_eq(st.queries - st0.queries, 1);
	env_down(&e);
}
END_TEST

START_TEST(test_more_than_max)
{
	enum { N = 32 * 2 + 5 };
	struct env	e;
	struct dbt_ans	p[N];
	struct db_stats	st;

	up(&e, 2);
	num_lookups(&e, 3000, p, N);
	ck_assert(dbt_wait_answers(&e, p, N, 5000));
	for (int i = 0; i < N; i++) {
		char want[16];

		snprintf(want, sizeof(want), "%d", 2 * (i + 1));
		ck_assert_msg(p[i].ok, "lookup %d: %s", i, p[i].reason);
		ck_assert_int_eq(p[i].cols, 2);
		ck_assert_str_eq(p[i].fname, "twice");
		ck_assert_str_eq(p[i].value, want);
	}
	st = stats(&e);
	ck_assert_uint_ge(st.lookup_batches, 3);
	ck_assert_uint_eq(st.lookups_batched, N);
	env_down(&e);
}
END_TEST

START_TEST(test_bad_key_is_its_own_error)
{
	struct env		 e;
	const char *const	 k[] = { "1", "2", "three", "4", "5" };
	struct dbt_ans		 p[5];
	struct db_stats		 st;

	up(&e, 1);
	memset(p, 0, sizeof(p));
	for (int i = 0; i < 5; i++)
		db_lookup_within(e.db, 3000, "t", &num, k[i], lreq_cb, &p[i]);
	ck_assert(dbt_wait_answers(&e, p, 5, 5000));
	for (int i = 0; i < 5; i++) {
		if (i == 2)
			continue;
		ck_assert_msg(p[i].ok, "lookup %d: %s", i, p[i].reason);
		ck_assert_int_eq(p[i].rows, 1);
	}
	ck_assert_str_eq(p[3].value, "8");
	ck_assert(!p[2].ok);
	ck_assert_int_eq(p[2].cls, DB_CLASS_DATA);
	ck_assert_str_eq(p[2].sqlstate, "22P02");
	/* the batch, then each alone */
	st = stats(&e);
	ck_assert_uint_eq(st.lookup_batches, 1);
	ck_assert(db_is_up(e.db));
	env_down(&e);
}
END_TEST

START_TEST(test_cancelled_never_answered)
{
	struct env	e;
	struct dbt_ans	p[6], sleeper;
	struct db_req	*r[6];
	const char	*k[] = { "1", "2", "3", "4", "5", "6" };

	up(&e, 1);
	memset(p, 0, sizeof(p));
	memset(&sleeper, 0, sizeof(sleeper));
	/* the connection busy, so the lookups wait and batch behind it */
	db_query(e.db, "t", "SELECT pg_sleep(0.3)", 0, NULL, lreq_cb, &sleeper);
	dbt_run_for(e.base, 50);
	for (int i = 0; i < 6; i++)
		r[i] = db_lookup_within(e.db, 3000, "t", &num, k[i], lreq_cb, &p[i]);
	db_cancel(r[0]);			/* queued */
	dbt_run_for(e.base, 100);		/* now in a batch, in flight */
	db_cancel(r[3]);
	ck_assert(!dbt_wait_answers(&e, p, 6, 3000));
	for (int i = 0; i < 6; i++) {
		if (i == 0 || i == 3) {
			ck_assert_int_eq(p[i].calls, 0);
			continue;
		}
		ck_assert_msg(p[i].ok, "lookup %d: %s", i, p[i].reason);
		ck_assert_int_eq(p[i].rows, 1);
	}
	env_down(&e);
}
END_TEST

/* Lookups held in a batch behind a slow query on the one connection. */
static void
batch_in_flight(struct env *e, struct dbt_ans *p, int n, struct dbt_ans *slow)
{
	memset(slow, 0, 2 * sizeof(*slow));
	db_lookup_within(e->db, 5000, "t", &num, "9", lreq_cb, &slow[0]);
	db_query(e->db, "t", "SELECT pg_sleep(5)", 0, NULL, lreq_cb, &slow[1]);
	dbt_run_for(e->base, 100);
	num_lookups(e, 5000, p, n);
	dbt_run_for(e->base, 200);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(p[i].calls, 0);
}

START_TEST(test_terminated_with_batch_in_flight)
{
	struct env	e;
	struct dbt_ans	p[8], slow[2];
	struct dbt_res	pid;
	char		sql[384];

	up(&e, 1);
	dbt_query(e.base, e.db, "SELECT pg_backend_pid()", 0, NULL, &pid);
	batch_in_flight(&e, p, 8, slow);
	ck_assert_uint_ge(stats(&e).lookup_batches, 1);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%s)", pid.value);
	ck_assert_int_eq(pgt_psql(e.pg, "postgres", sql, NULL), 0);
	ck_assert(dbt_wait_answers(&e, p, 8, 3000));
	ck_assert(dbt_wait_answers(&e, slow, 2, 1000));
	for (int i = 0; i < 8; i++) {
		ck_assert(!p[i].ok);
		ck_assert_msg(p[i].cls == DB_CLASS_CONNECTION, "lookup %d: %s %s", i,
		    db_class_name(p[i].cls), p[i].reason);
	}
	assert_query_ok(&e);
	env_down(&e);
}
END_TEST

START_TEST(test_frozen_with_batch_in_flight)
{
	struct env	e;
	struct dbt_ans	p[8];

	env_up(&e, NULL, 0, 1);
	e.cfg.pool_size = 1;
	e.cfg.pipeline_depth = 8;
	e.cfg.query_timeout_ms = 800;
	env_start(&e, 1);
	assert_query_ok(&e);
	ck_assert_int_eq(pgt_freeze(e.pg), 0);
	num_lookups(&e, 0, p, 8);
	ck_assert(dbt_wait_answers(&e, p, 8, 3000));
	for (int i = 0; i < 8; i++) {
		ck_assert(!p[i].ok);
		ck_assert_msg(p[i].cls == DB_CLASS_TIMEOUT, "lookup %d: %s %s", i,
		    db_class_name(p[i].cls), p[i].reason);
	}
	ck_assert_uint_eq(stats(&e).deadline_hits, 1);
	ck_assert_int_eq(pgt_thaw(e.pg), 0);
	ck_assert(query_until_ok(&e, 4000));
	env_down(&e);
}
END_TEST

START_TEST(test_waiting_lookup_holds_back_none)
{
	struct env	e;
	struct dbt_ans	busy[2], look, other;
	struct db_stats	st0, st;

	up(&e, 1);
	memset(busy, 0, sizeof(busy));
	memset(&look, 0, sizeof(look));
	memset(&other, 0, sizeof(other));
	db_query(e.db, "t", "SELECT pg_sleep(0.4)", 0, NULL, lreq_cb, &busy[0]);
	db_query(e.db, "t", "SELECT pg_sleep(0.1)", 0, NULL, lreq_cb, &busy[1]);
	dbt_run_for(e.base, 50);
	st0 = stats(&e);
	db_lookup_within(e.db, 3000, "t", &num, "4", lreq_cb, &look);
	db_query(e.db, "t", "SELECT 7", 0, NULL, lreq_cb, &other);
	dbt_run_for(e.base, 100);
	st = stats(&e);
	/* the query went behind the two; the lookup waits in the queue */
	ck_assert_uint_eq(st.pipelined - st0.pipelined, 1);
	ck_assert_int_eq(st.waiting, 1);
	ck_assert(dbt_wait_answers(&e, &other, 1, 3000));
	ck_assert(dbt_wait_answers(&e, &look, 1, 3000));
	ck_assert_msg(other.ok && strcmp(other.value, "7") == 0, "%s", other.reason);
	ck_assert_msg(look.ok && strcmp(look.value, "8") == 0, "%s", look.reason);
	env_down(&e);
}
END_TEST

START_TEST(test_batching_off)
{
	struct env	e;
	struct dbt_ans	p[8];
	struct db_stats	st;

	env_up(&e, NULL, 0, 1);
	e.cfg.pool_size = 1;
	e.cfg.lookup_batch = 1;
	env_start(&e, 1);
	num_lookups(&e, 3000, p, 8);
	ck_assert(dbt_wait_answers(&e, p, 8, 3000));
	for (int i = 0; i < 8; i++) {
		char want[8];

		snprintf(want, sizeof(want), "%d", 2 * (i + 1));
		ck_assert_msg(p[i].ok, "lookup %d: %s", i, p[i].reason);
		ck_assert_str_eq(p[i].value, want);
	}
	st = stats(&e);
	ck_assert_uint_eq(st.lookup_batches, 0);
	ck_assert_uint_ge(st.queries, 8);
	env_down(&e);
}
END_TEST

START_TEST(test_alone_runs_its_own)
{
	struct env	e;
	struct dbt_ans	p;
	struct db_stats	st;

	up(&e, 1);
	memset(&p, 0, sizeof(p));
	db_lookup_within(e.db, 2000, "t", &num, "21", lreq_cb, &p);
	ck_assert(dbt_wait_answers(&e, &p, 1, 3000));
	ck_assert_msg(p.ok, "%s", p.reason);
	ck_assert_str_eq(p.value, "42");
	st = stats(&e);
	ck_assert_uint_eq(st.lookup_batches, 0);
	env_down(&e);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("db_lookup");
	TCase	*tc = tu_tcase(s, "lookup", 60);

	tcase_add_test(tc, test_batched_each_its_own);
	tcase_add_test(tc, test_more_than_max);
	tcase_add_test(tc, test_bad_key_is_its_own_error);
	tcase_add_test(tc, test_cancelled_never_answered);
	tcase_add_test(tc, test_terminated_with_batch_in_flight);
	tcase_add_test(tc, test_frozen_with_batch_in_flight);
	tcase_add_test(tc, test_alone_runs_its_own);
	tcase_add_test(tc, test_batching_off);
	tcase_add_test(tc, test_waiting_lookup_holds_back_none);
	return tu_run(s);
}
