/*
 * test_db_faults: the promise "a database failure never kills the server",
 * checked against real faults of a real PostgreSQL 15 (tests/lib/pgt):
 * stopped, killed mid-query, sessions terminated, full, frozen, slow
 * statements, started while down, and a thousand failures without a
 * leaked fd. For each: the class and reason word the caller gets (the
 * 503-worthy error), the [DB_DOWN]/[DB_RECOVERED] lines operators grep
 * for, and the recovery. Network faults are in test_db_network.
 */
#include "dbt_env.h"
#include "tu.h"

START_TEST(test_server_stopped)
{
	struct env	e;
	struct dbt_res	r;

	env_up(&e, NULL, 0, 1);
	env_start(&e, 1);
	assert_query_ok(&e);
	ck_assert_int_eq(pgt_stop(e.pg, "fast"), 0);
	/* the idle connection dies; a new connect is refused: down */
	env_assert_down(&e, "ConnectionRefused", "CannotConnectNow", &r);
	ck_assert_int_ge(r.retry_after, 1);
	ck_assert_int_ge(dbt_log_count("[DB_DOWN] op=test_loop try=1 sleep="), 1);
	ck_assert_int_eq(pgt_restart(e.pg), 0);
	env_assert_recovered(&e, 3000);
	env_down(&e);
}
END_TEST

START_TEST(test_killed_mid_query)
{
	struct env	e;
	struct dbt_res	r;

	env_up(&e, NULL, 0, 1);
	env_start(&e, 1);
	memset(&r, 0, sizeof(r));
	db_query(e.db, "test", "SELECT pg_sleep(5)", 0, NULL, dbt_cb(), &r);
	dbt_run_for(e.base, 200);
	ck_assert_int_eq(pgt_kill9(e.pg), 0);
	ck_assert(dbt_run_until(e.base, &r.done, 3000));
	ck_assert(!r.ok);
	ck_assert_msg(r.cls == DB_CLASS_CONNECTION, "class %d %s", r.cls, r.reason);
	ck_assert(dbt_wait_up(e.base, e.db, 0, 3000));
	ck_assert_int_eq(pgt_restart(e.pg), 0);
	env_assert_recovered(&e, 3000);
	env_down(&e);
}
END_TEST

START_TEST(test_terminate_backend)
{
	struct env	e;
	struct dbt_res	r, pid;
	char		sql[512];

	env_up(&e, NULL, 0, 1);
	e.cfg.pool_size = 1;
	env_start(&e, 1);
	dbt_query(e.base, e.db, "SELECT pg_backend_pid()", 0, NULL, &pid);
	ck_assert(pid.ok);
	memset(&r, 0, sizeof(r));
	db_query(e.db, "test", "SELECT pg_sleep(3)", 0, NULL, dbt_cb(), &r);
	dbt_run_for(e.base, 100);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%s)", pid.value);
	ck_assert_int_eq(pgt_psql(e.pg, "postgres", sql, NULL), 0);
	ck_assert(dbt_run_until(e.base, &r.done, 3000));
	ck_assert(!r.ok);
	ck_assert_str_eq(r.sqlstate, "57P01");
	ck_assert_str_eq(r.reason, "AdminShutdown");
	ck_assert_int_eq(r.cls, DB_CLASS_CONNECTION);
	/* only that one caller saw it: the DB is up, the next query works */
	assert_query_ok(&e);
	ck_assert_int_eq(dbt_log_count("[DB_DOWN]"), 0);
	/* an idle pooled connection killed between queries: nobody sees it */
	dbt_query(e.base, e.db, "SELECT pg_backend_pid()", 0, NULL, &pid);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%s)", pid.value);
	ck_assert_int_eq(pgt_psql(e.pg, "postgres", sql, NULL), 0);
	dbt_run_for(e.base, 100);
	assert_query_ok(&e);
	ck_assert_int_eq(dbt_log_count("[DB_DOWN]"), 0);
	env_down(&e);
}
END_TEST

START_TEST(test_too_many_connections)
{
	struct env	 e;
	struct dbt_res	 r;
	PGconn		*hog[8];
	int		 n = 0, i;

	env_up(&e, "max_connections = 4\nsuperuser_reserved_connections = 0\n", 0, 0);
	for (i = 0; i < 8; i++) {
		hog[n] = PQconnectdb(e.conninfo);
		if (PQstatus(hog[n]) != CONNECTION_OK) {
			PQfinish(hog[n]);
			break;
		}
		n++;
	}
	ck_assert_int_ge(n, 3);
	env_start(&e, 0);
	env_assert_down(&e, "TooManyConnections", NULL, &r);
	ck_assert_int_ge(dbt_log_count("reason=TooManyConnections"), 1);
	for (i = 0; i < n; i++)
		PQfinish(hog[i]);
	env_assert_recovered(&e, 5000);
	env_down(&e);
}
END_TEST

START_TEST(test_statement_timeout)
{
	struct env	e;
	struct dbt_res	r;

	env_up(&e, NULL, 0, 1);
	e.cfg.statement_timeout_ms = 200;
	env_start(&e, 1);
	dbt_query(e.base, e.db, "SELECT pg_sleep(2)", 0, NULL, &r);
	ck_assert(!r.ok);
	ck_assert_int_eq(r.cls, DB_CLASS_TIMEOUT);
	ck_assert_str_eq(r.reason, "StatementTimeout");
	ck_assert_str_eq(r.sqlstate, "57014");
	/* statement-level: the DB stays up, the connection is reused */
	ck_assert(db_is_up(e.db));
	assert_query_ok(&e);
	ck_assert_int_eq(dbt_log_count("[DB_DOWN]"), 0);
	env_down(&e);
}
END_TEST

START_TEST(test_frozen_server)
{
	struct env	e;
	struct dbt_res	r;
	struct db_stats	st;
	uint64_t	t0;

	env_up(&e, NULL, 0, 1);
	e.cfg.query_timeout_ms = 800;
	env_start(&e, 1);
	assert_query_ok(&e);
	ck_assert_int_eq(pgt_freeze(e.pg), 0);
	t0 = hf_now_mono_ms();
	dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
	ck_assert(!r.ok);
	ck_assert_int_eq(r.cls, DB_CLASS_TIMEOUT);
	ck_assert_str_eq(r.reason, "QueryTimeout");
	ck_assert_uint_ge(hf_now_mono_ms() - t0, 700);
	/* the connection was destroyed, not returned to the pool */
	db_get_stats(e.db, &st);
	ck_assert_int_eq(st.idle, 0);
	ck_assert_int_eq(pgt_thaw(e.pg), 0);
	ck_assert(query_until_ok(&e, 4000));
	env_down(&e);
}
END_TEST

START_TEST(test_fd_leak)
{
	struct env	e;
	struct dbt_res	r;
	struct db_stats	st;
	int		fds0, fds1;
	uint64_t	end;

	env_up(&e, NULL, 0, 0);
	fds0 = dbt_open_fds();
	e.cfg.backoff_initial_ms = 1;
	e.cfg.backoff_max_ms = 2;
	e.cfg.probe_min_interval_ms = 0;
	ck_assert_int_eq(pgt_stop(e.pg, "fast"), 0);
	log_set_level(LOG_LVL_ERROR);	/* 1,000 [DB_DOWN] lines are not the point */
	env_start(&e, 0);
	end = hf_now_mono_ms() + 20000;
	do {
		dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
		ck_assert(!r.ok);
		dbt_run_for(e.base, 1);
		db_get_stats(e.db, &st);
	} while (st.connect_failures < 1000 && hf_now_mono_ms() < end);
	ck_assert_uint_ge(st.connect_failures, 1000);
	db_free(e.db);
	e.db = NULL;
	fds1 = dbt_open_fds();
	ck_assert_int_eq(fds0, fds1);
	e.db = db_new(e.base, &e.cfg, "test", "test_loop");
	env_down(&e);
}
END_TEST

START_TEST(test_startup_down_then_up)
{
	struct env	e;
	struct dbt_res	r;

	env_up(&e, NULL, 0, 0);
	e.cfg.auto_migrate = 1;
	ck_assert_int_eq(pgt_stop(e.pg, "fast"), 0);
	env_start(&e, 0);
	ck_assert(dbt_wait_up(e.base, e.db, 0, 3000));
	/* serving 503s meanwhile */
	dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
	ck_assert_int_eq(r.cls, DB_CLASS_DOWN);
	ck_assert_int_eq(pgt_restart(e.pg), 0);
	ck_assert(dbt_wait_up(e.base, e.db, 1, 3000));
	/* the schema was created on the first successful connect */
	dbt_query(e.base, e.db, "SELECT count(*) FROM schema_migrations", 0, NULL, &r);
	ck_assert(r.ok);
	ck_assert_int_eq(atoi(r.value), db_schema_version());
	dbt_query(e.base, e.db, "SELECT count(*) FROM calls", 0, NULL, &r);
	ck_assert(r.ok);
	env_down(&e);
}
END_TEST
int
main(void)
{
	Suite	*s = suite_create("db_faults");
	TCase	*tc = tu_tcase(s, "faults", 60);

	tcase_add_test(tc, test_server_stopped);
	tcase_add_test(tc, test_killed_mid_query);
	tcase_add_test(tc, test_terminate_backend);
	tcase_add_test(tc, test_too_many_connections);
	tcase_add_test(tc, test_statement_timeout);
	tcase_add_test(tc, test_frozen_server);
	tcase_add_test(tc, test_fd_leak);
	tcase_add_test(tc, test_startup_down_then_up);
	return tu_run(s);
}
