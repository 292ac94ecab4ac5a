/*
 * test_db_pipeline: requests multiplexed over a busy connection's libpq
 * pipeline (pipeline_depth). With one connection and several requests
 * sent at once, all but the first ride in its pipeline (the layer's
 * pipelined counter says so), and each keeps the semantics it would have
 * alone: an error in the middle is that request's only (the others
 * succeed, the connection stays), a statement timing out in the middle
 * and a deadline passing behind a slow request are each that request's
 * own error, and a connection lost with N requests in it (server killed,
 * session terminated, the fault proxy resetting it, the server frozen)
 * gives each of the N exactly one classified error: none answered twice,
 * none lost.
 */
#include "dbt_env.h"
#include "tu.h"

#define NREQ	6

/* One connection, pipelining on, the layer up. */
static void
pipe_up(struct env *e, int proxy)
{
	env_up(e, NULL, proxy, 1);
	e->cfg.pool_size = 1;
	e->cfg.pipeline_depth = 8;
	env_start(e, 1);
	assert_query_ok(e);
}

static uint64_t
pipelined(struct env *e)
{
	struct db_stats st;

	db_get_stats(e->db, &st);
	return st.pipelined;
}

START_TEST(test_error_in_the_middle)
{
	struct env		 e;
	struct dbt_ans		 p[NREQ];
	struct db_stats		 st;
	const char *const	 v[] = { "x@example.com" };
	const struct db_stmt	 ins[] = {
		{ "INSERT INTO users (email, password_hash) VALUES ($1, 'x')", 1, v },
		{ "SELECT count(*) FROM users", 0, NULL },
	};
	uint64_t		 connects;

	pipe_up(&e, 0);
	db_get_stats(e.db, &st);
	connects = st.connects;
	memset(p, 0, sizeof(p));
	db_query(e.db, "t", "SELECT pg_sleep(0.2)::text || 'a'", 0, NULL, dbt_ans_cb, &p[0]);
	db_query(e.db, "t", "SELECT 1", 0, NULL, dbt_ans_cb, &p[1]);
	db_query(e.db, "t", "SELECT 1/0", 0, NULL, dbt_ans_cb, &p[2]);
	db_batch(e.db, "t", ins, 2, dbt_ans_cb, &p[3]);
	db_batch(e.db, "t", ins, 2, dbt_ans_cb, &p[4]);	/* UniqueViolation */
	db_query(e.db, "t", "SELECT 5", 0, NULL, dbt_ans_cb, &p[5]);
	ck_assert(dbt_wait_answers(&e, p, NREQ, 5000));
	ck_assert_uint_ge(pipelined(&e), NREQ - 1);
	ck_assert_msg(p[0].ok && strcmp(p[0].value, "a") == 0, "%s", p[0].reason);
	ck_assert(p[1].ok && strcmp(p[1].value, "1") == 0);
	ck_assert_int_eq(p[2].cls, DB_CLASS_DATA);
	ck_assert_str_eq(p[2].sqlstate, "22012");
	ck_assert_msg(p[3].ok && strcmp(p[3].value, "1") == 0, "%s", p[3].reason);
	ck_assert_str_eq(p[4].reason, "UniqueViolation");
	ck_assert_msg(p[5].ok && strcmp(p[5].value, "5") == 0, "%s", p[5].reason);
	/* the failed batch rolled back alone; the connection stayed */
	{
		struct dbt_res r;

		dbt_query(e.base, e.db, "SELECT count(*) FROM users", 0, NULL, &r);
		ck_assert_str_eq(r.value, "1");
	}
	db_get_stats(e.db, &st);
	ck_assert_uint_eq(st.connects, connects);
	ck_assert(db_is_up(e.db));
	env_down(&e);
}
END_TEST

START_TEST(test_timeouts_in_the_middle)
{
	struct env	e;
	struct dbt_ans	p[NREQ];
	struct db_stats	st;
	uint64_t	connects;

	pipe_up(&e, 0);
	db_get_stats(e.db, &st);
	connects = st.connects;
	memset(p, 0, sizeof(p));
	/* a statement past its own (route) deadline: the server cancels it
	 * (57014) before the client gives up, the rest run on */
	db_query(e.db, "t", "SELECT 0", 0, NULL, dbt_ans_cb, &p[0]);
	db_query_within(e.db, 500, "t", "SELECT pg_sleep(5)", 0, NULL, dbt_ans_cb, &p[1]);
	db_query(e.db, "t", "SELECT 2", 0, NULL, dbt_ans_cb, &p[2]);
	/* a short deadline stuck behind a slow request: its own timeout at
	 * its deadline; the slow one and the one after it still succeed */
	db_query(e.db, "t", "SELECT pg_sleep(0.6)::text || 'b'", 0, NULL, dbt_ans_cb, &p[3]);
	db_query_within(e.db, 200, "t", "SELECT 4", 0, NULL, dbt_ans_cb, &p[4]);
	db_query(e.db, "t", "SELECT 5", 0, NULL, dbt_ans_cb, &p[5]);
	ck_assert(dbt_wait_answers(&e, p, NREQ, 5000));
	ck_assert_uint_ge(pipelined(&e), NREQ - 1);
	ck_assert(p[0].ok && strcmp(p[0].value, "0") == 0);
	ck_assert_int_eq(p[1].cls, DB_CLASS_TIMEOUT);
	ck_assert_str_eq(p[1].reason, "StatementTimeout");
	ck_assert_str_eq(p[1].sqlstate, "57014");
	ck_assert(p[2].ok && strcmp(p[2].value, "2") == 0);
	ck_assert_msg(p[3].ok && strcmp(p[3].value, "b") == 0, "%s", p[3].reason);
	ck_assert_int_eq(p[4].cls, DB_CLASS_TIMEOUT);
	ck_assert_str_eq(p[4].reason, "QueryTimeout");
	ck_assert_msg(p[5].ok && strcmp(p[5].value, "5") == 0, "%s", p[5].reason);
	/* no connection destroyed, no deadline counted: the server answered */
	db_get_stats(e.db, &st);
	ck_assert_uint_eq(st.connects, connects);
	ck_assert_uint_eq(st.deadline_hits, 0);
	ck_assert(db_is_up(e.db));
	assert_query_ok(&e);
	env_down(&e);
}
END_TEST

/* n requests in the pipeline of the only connection, the first a slow one. */
static void
send_n(struct env *e, struct dbt_ans *p, int n)
{
	memset(p, 0, n * sizeof(*p));
	db_query(e->db, "t", "SELECT pg_sleep(5)", 0, NULL, dbt_ans_cb, &p[0]);
	for (int i = 1; i < n; i++)
		db_query(e->db, "t", "SELECT 1", 0, NULL, dbt_ans_cb, &p[i]);
	dbt_run_for(e->base, 200);
	ck_assert_uint_ge(pipelined(e), n - 1);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(p[i].calls, 0);
}

/* Every one of the n failed with a class a caller answers 503 to. */
static void
assert_each_failed(struct dbt_ans *p, int n, enum db_class head, enum db_class rest)
{
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(p[i].calls, 1);
		ck_assert_msg(!p[i].ok, "request %d succeeded", i);
		ck_assert_msg(p[i].cls == (i == 0 ? head : rest),
		    "request %d: class %s reason %s", i, db_class_name(p[i].cls),
		    p[i].reason);
	}
}

START_TEST(test_server_killed_with_n_in_flight)
{
	struct env	e;
	struct dbt_ans	p[NREQ];

	pipe_up(&e, 0);
	send_n(&e, p, NREQ);
	ck_assert_int_eq(pgt_kill9(e.pg), 0);
	ck_assert(dbt_wait_answers(&e, p, NREQ, 3000));
	assert_each_failed(p, NREQ, DB_CLASS_CONNECTION, DB_CLASS_CONNECTION);
	ck_assert(dbt_wait_up(e.base, e.db, 0, 3000));
	ck_assert_int_eq(pgt_restart(e.pg), 0);
	env_assert_recovered(&e, 3000);
	env_down(&e);
}
END_TEST

START_TEST(test_terminated_with_n_in_flight)
{
	struct env	e;
	struct dbt_ans	p[NREQ];
	struct dbt_res	pid;
	char		sql[384];

	pipe_up(&e, 0);
	dbt_query(e.base, e.db, "SELECT pg_backend_pid()", 0, NULL, &pid);
	send_n(&e, p, NREQ);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%s)", pid.value);
	ck_assert_int_eq(pgt_psql(e.pg, "postgres", sql, NULL), 0);
	ck_assert(dbt_wait_answers(&e, p, NREQ, 3000));
	assert_each_failed(p, NREQ, DB_CLASS_CONNECTION, DB_CLASS_CONNECTION);
	ck_assert_str_eq(p[0].reason, "AdminShutdown");
	/* one session ended, not the server: up, the next query works */
	assert_query_ok(&e);
	ck_assert_int_eq(dbt_log_count("[DB_DOWN]"), 0);
	env_down(&e);
}
END_TEST

START_TEST(test_reset_with_n_in_flight)
{
	struct env	e;
	struct dbt_ans	p[NREQ];

	pipe_up(&e, 1);
	send_n(&e, p, NREQ);
	ck_assert_int_eq(fp_set(e.fp, "reset"), 0);
	ck_assert(dbt_wait_answers(&e, p, NREQ, 3000));
	assert_each_failed(p, NREQ, DB_CLASS_CONNECTION, DB_CLASS_CONNECTION);
	ck_assert_int_eq(fp_set(e.fp, "pass"), 0);
	ck_assert(query_until_ok(&e, 4000));
	env_down(&e);
}
END_TEST

START_TEST(test_frozen_with_n_in_flight)
{
	struct env	e;
	struct dbt_ans	p[NREQ];
	struct db_stats	st;

	env_up(&e, NULL, 0, 1);
	e.cfg.pool_size = 1;
	e.cfg.pipeline_depth = 8;
	e.cfg.query_timeout_ms = 800;
	env_start(&e, 1);
	assert_query_ok(&e);
	ck_assert_int_eq(pgt_freeze(e.pg), 0);
	memset(p, 0, sizeof(p));
	/* the others a little later: the head's deadline comes first (with
	 * the same deadline, a queued one may hear QueryTimeout first) */
	db_query(e.db, "t", "SELECT 1", 0, NULL, dbt_ans_cb, &p[0]);
	dbt_run_for(e.base, 200);
	for (int i = 1; i < NREQ; i++)
		db_query(e.db, "t", "SELECT 1", 0, NULL, dbt_ans_cb, &p[i]);
	ck_assert(dbt_wait_answers(&e, p, NREQ, 3000));
	assert_each_failed(p, NREQ, DB_CLASS_TIMEOUT, DB_CLASS_TIMEOUT);
	ck_assert_str_eq(p[0].reason, "QueryTimeout");
	for (int i = 1; i < NREQ; i++)
		ck_assert_str_eq(p[i].reason, "PipelineTimeout");
	/* one deadline reached with no answer, not six */
	db_get_stats(e.db, &st);
	ck_assert_uint_eq(st.deadline_hits, 1);
	ck_assert_int_eq(st.idle, 0);
	ck_assert_int_eq(pgt_thaw(e.pg), 0);
	ck_assert(query_until_ok(&e, 4000));
	env_down(&e);
}
END_TEST

START_TEST(test_depth_off)
{
	struct env	e;
	struct dbt_ans	p[NREQ];

	env_up(&e, NULL, 0, 1);
	e.cfg.pool_size = 1;
	e.cfg.pipeline_depth = 1;
	env_start(&e, 1);
	memset(p, 0, sizeof(p));
	for (int i = 0; i < NREQ; i++)
		db_query(e.db, "t", "SELECT 1", 0, NULL, dbt_ans_cb, &p[i]);
	ck_assert(dbt_wait_answers(&e, p, NREQ, 3000));
	for (int i = 0; i < NREQ; i++)
		ck_assert(p[i].ok);
	ck_assert_uint_eq(pipelined(&e), 0);
	ck_assert_int_eq(dbt_log_count("pipeline_depth=1 "), 1);
	env_down(&e);
}
END_TEST

/* The name the layer gives a prepared statement (db_conn.c: FNV-1a). */
static void
prep_name(const char *sql, char *out, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *sql != '\0'; sql++)
		h = (h ^ (unsigned char)*sql) * 1099511628211ULL;
	snprintf(out, len, "hf_%016llx", (unsigned long long)h);
}

/*
 * The statement cache out of step with the server: one statement
 * deallocated behind the layer's back (26000 on its next use resets the
 * whole cache) while another stays prepared in the session, so the next
 * Prepare of that one is answered 42P05 inside a pipeline and the rest of
 * its segment comes back aborted. Every request gets its rows or a
 * classified error, never a success without its rows.
 */
START_TEST(test_prepare_duplicate_in_pipeline)
{
	struct env	 e;
	struct dbt_ans	 p[NREQ];
	struct dbt_res	 r;
	char		 name[32], dealloc[64];

	pipe_up(&e, 0);
	dbt_query(e.base, e.db, "SELECT 'a'", 0, NULL, &r);
	ck_assert_str_eq(r.value, "a");
	dbt_query(e.base, e.db, "SELECT 'c'", 0, NULL, &r);
	ck_assert_str_eq(r.value, "c");
	prep_name("SELECT 'a'", name, sizeof(name));
	snprintf(dealloc, sizeof(dealloc), "DEALLOCATE %s", name);
	dbt_query(e.base, e.db, dealloc, 0, NULL, &r);
	ck_assert_msg(r.ok, "%s", r.reason);
	/* 26000: the cache is reset, while "SELECT 'c'" stays on the server */
	dbt_query(e.base, e.db, "SELECT 'a'", 0, NULL, &r);
	ck_assert_msg(r.ok && strcmp(r.value, "a") == 0, "%s", r.reason);
	memset(p, 0, sizeof(p));
	db_query(e.db, "t", "SELECT pg_sleep(0.2)::text || 'h'", 0, NULL, dbt_ans_cb, &p[0]);
	for (int i = 1; i < NREQ - 1; i++)
		db_query(e.db, "t", "SELECT 'c'", 0, NULL, dbt_ans_cb, &p[i]);
	db_query(e.db, "t", "SELECT 'a'", 0, NULL, dbt_ans_cb, &p[NREQ - 1]);
	ck_assert(dbt_wait_answers(&e, p, NREQ, 5000));
	ck_assert_uint_ge(pipelined(&e), NREQ - 1);
	for (int i = 0; i < NREQ; i++) {
		const char *want = i == 0 ? "h" : i == NREQ - 1 ? "a" : "c";

		if (p[i].ok)
			ck_assert_msg(strcmp(p[i].value, want) == 0,
			    "request %d: success with value '%s', want '%s'",
			    i, p[i].value, want);
		else
			ck_assert_msg(p[i].cls != DB_CLASS_OK &&
			    p[i].reason[0] != '\0', "request %d: "
			    "unclassified error", i);
	}
	/* the chosen handling: 42P05 means prepared, rerun once by name */
	for (int i = 0; i < NREQ; i++)
		ck_assert_msg(p[i].ok, "request %d: %s", i, p[i].reason);
	/* and the session's statements are usable afterwards */
	dbt_query(e.base, e.db, "SELECT 'c'", 0, NULL, &r);
	ck_assert_msg(r.ok && strcmp(r.value, "c") == 0, "%s", r.reason);
	env_down(&e);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("db_pipeline");
	TCase	*tc = tu_tcase(s, "pipeline", 60);

	tcase_add_test(tc, test_error_in_the_middle);
	tcase_add_test(tc, test_timeouts_in_the_middle);
	tcase_add_test(tc, test_server_killed_with_n_in_flight);
	tcase_add_test(tc, test_terminated_with_n_in_flight);
	tcase_add_test(tc, test_reset_with_n_in_flight);
	tcase_add_test(tc, test_frozen_with_n_in_flight);
	tcase_add_test(tc, test_depth_off);
	tcase_add_test(tc, test_prepare_duplicate_in_pipeline);
	return tu_run(s);
}
