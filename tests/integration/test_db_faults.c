/*
 * test_db_faults: the promise "a database failure never kills the server",
 * checked against real faults of a real PostgreSQL 15 (tests/lib/pgt) and
 * of the network in front of it (tests/tools/faultproxy). For each fault:
 * the class and reason word the caller gets (the 503-worthy error), the
 * [DB_DOWN]/[DB_RECOVERED] lines operators grep for, and the recovery.
 */
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

struct env {
	struct pgt		*pg;
	struct fp		*fp;
	struct event_base	*base;
	struct db		*db;
	struct cfg_database	 cfg;
	char			 conninfo[512];
};

/* A cluster, optionally a proxy in front, and a layer that is up. */
static void
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

static void
env_start(struct env *e, int wait)
{
	e->db = db_new(e->base, &e->cfg, "test", "test_loop");
	db_start(e->db);
	if (wait)
		ck_assert_msg(dbt_wait_up(e->base, e->db, 1, 5000), "DB never up");
}

static void
env_down(struct env *e)
{
	db_free(e->db);
	event_base_free(e->base);
	fp_stop(e->fp);
	pgt_destroy(e->pg);
}

static void
assert_query_ok(struct env *e)
{
	struct dbt_res r;

	dbt_query(e->base, e->db, "SELECT 1", 0, NULL, &r);
	ck_assert_msg(r.ok, "query failed: %s %s", r.reason, r.message);
}

/* Queries until one succeeds (each failure must be a 503-worthy one). */
static int
query_until_ok(struct env *e, int timeout_ms)
{
	uint64_t	end = now_mono_ms() + timeout_ms;
	struct dbt_res	r;

	while (now_mono_ms() < end) {
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

START_TEST(test_server_stopped)
{
	struct env	e;
	struct dbt_res	r;

	env_up(&e, NULL, 0, 1);
	env_start(&e, 1);
	assert_query_ok(&e);
	ck_assert_int_eq(pgt_stop(e.pg, "fast"), 0);
	/* the idle connection dies; a new connect is refused: down */
	ck_assert(dbt_wait_up(e.base, e.db, 0, 3000));
	dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
	ck_assert(!r.ok);
	ck_assert_int_eq(r.cls, DB_CLASS_DOWN);
	ck_assert_msg(strcmp(r.reason, "ConnectionRefused") == 0 ||
	    strcmp(r.reason, "CannotConnectNow") == 0, "reason %s", r.reason);
	ck_assert_int_ge(r.retry_after, 1);
	ck_assert_int_ge(dbt_log_count("[DB_DOWN] op=test_loop try=1 sleep="), 1);
	ck_assert_int_eq(pgt_restart(e.pg), 0);
	ck_assert(query_until_ok(&e, 3000));
	ck_assert_int_eq(dbt_log_count("[DB_RECOVERED] op=test_loop after "), 1);
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
	ck_assert(query_until_ok(&e, 3000));
	ck_assert_int_eq(dbt_log_count("[DB_RECOVERED]"), 1);
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
	ck_assert(dbt_wait_up(e.base, e.db, 0, 3000));
	ck_assert_int_ge(dbt_log_count("reason=TooManyConnections"), 1);
	dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
	ck_assert_int_eq(r.cls, DB_CLASS_DOWN);
	ck_assert_str_eq(r.reason, "TooManyConnections");
	for (i = 0; i < n; i++)
		PQfinish(hog[i]);
	ck_assert(query_until_ok(&e, 5000));
	ck_assert_int_eq(dbt_log_count("[DB_RECOVERED]"), 1);
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

START_TEST(test_neon_disabled)
{
	struct env	e;
	struct dbt_res	r;
	long		before, after;
	int		i;
	uint64_t	t0;

	env_up(&e, NULL, 1, 0);
	fp_set(e.fp, "neon");
	env_start(&e, 0);
	ck_assert(dbt_wait_up(e.base, e.db, 0, 3000));
	ck_assert_int_ge(dbt_log_count("reason=NeonEndpointDisabled"), 1);
	dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
	ck_assert_int_eq(r.cls, DB_CLASS_DOWN);
	ck_assert_str_eq(r.reason, "NeonEndpointDisabled");
	/* permanent: demand does not probe; only the slow schedule does */
	before = fp_count(e.fp);
	t0 = now_mono_ms();
	for (i = 0; i < 100; i++) {
		dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
		ck_assert_int_eq(r.cls, DB_CLASS_DOWN);
		dbt_run_for(e.base, 3);
	}
	after = fp_count(e.fp);
	/* slow schedule: U(200, 400) ms with backoff_max 400 ms */
	ck_assert_msg(after - before <= (long)(now_mono_ms() - t0) / 200 + 1,
	    "%ld probes in %llu ms", after - before,
	    (unsigned long long)(now_mono_ms() - t0));
	fp_set(e.fp, "pass");
	ck_assert(query_until_ok(&e, 3000));
	ck_assert_int_eq(dbt_log_count("[DB_RECOVERED]"), 1);
	env_down(&e);
}
END_TEST

static int ticks;

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	ticks++;
}

START_TEST(test_blackhole)
{
	struct env	 e;
	struct dbt_res	 r;
	struct event	*t;
	struct timeval	 tv = { 0, 10000 };
	uint64_t	 t0;

	env_up(&e, NULL, 1, 0);
	fp_set(e.fp, "blackhole");
	t = event_new(e.base, -1, EV_PERSIST, tick, NULL);
	event_add(t, &tv);
	t0 = now_mono_ms();
	env_start(&e, 0);
	memset(&r, 0, sizeof(r));
	db_query(e.db, "test", "SELECT 1", 0, NULL, dbt_cb(), &r);
	ck_assert(dbt_run_until(e.base, &r.done, 3000));
	ck_assert_int_eq(r.cls, DB_CLASS_CONNECTION);
	ck_assert_str_eq(r.reason, "ConnectTimeout");
	/* detected by the connect deadline (1 s), and the loop kept serving */
	ck_assert_uint_ge(now_mono_ms() - t0, 900);
	ck_assert_int_ge(ticks, 50);
	ck_assert_int_ge(dbt_log_count("reason=ConnectTimeout"), 1);
	fp_set(e.fp, "pass");
	ck_assert(query_until_ok(&e, 4000));
	event_free(t);
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
	t0 = now_mono_ms();
	dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
	ck_assert(!r.ok);
	ck_assert_int_eq(r.cls, DB_CLASS_TIMEOUT);
	ck_assert_str_eq(r.reason, "QueryTimeout");
	ck_assert_uint_ge(now_mono_ms() - t0, 700);
	/* the connection was destroyed, not returned to the pool */
	db_get_stats(e.db, &st);
	ck_assert_int_eq(st.idle, 0);
	ck_assert_int_eq(pgt_thaw(e.pg), 0);
	ck_assert(query_until_ok(&e, 4000));
	env_down(&e);
}
END_TEST

START_TEST(test_reset)
{
	struct env	e;
	struct dbt_res	r;

	env_up(&e, NULL, 1, 0);
	env_start(&e, 1);
	assert_query_ok(&e);
	fp_set(e.fp, "reset");
	ck_assert(dbt_wait_up(e.base, e.db, 0, 3000));
	dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
	ck_assert_int_eq(r.cls, DB_CLASS_DOWN);
	ck_assert_msg(strcmp(r.reason, "ConnectionReset") == 0 ||
	    strcmp(r.reason, "ServerClosed") == 0, "reason %s", r.reason);
	fp_set(e.fp, "pass");
	ck_assert(query_until_ok(&e, 3000));
	ck_assert_int_eq(dbt_log_count("[DB_RECOVERED]"), 1);
	env_down(&e);
}
END_TEST

START_TEST(test_wrong_password)
{
	struct env	 e;
	struct dbt_res	 r;
	char		*log;
	int		 n;
	uint64_t	 end;

	env_up(&e, NULL, 0, 0);
	ck_assert_int_eq(pgt_psql(e.pg, "postgres",
	    "CREATE ROLE pgt_pw LOGIN PASSWORD 'right-one'", NULL), 0);
	snprintf(e.conninfo, sizeof(e.conninfo),
	    "host=127.0.0.1 port=%d dbname=hf user=pgt_pw password=sekrit-wrong",
	    pgt_port(e.pg));
	env_start(&e, 0);
	ck_assert(dbt_wait_up(e.base, e.db, 0, 3000));
	dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
	ck_assert_int_eq(r.cls, DB_CLASS_DOWN);
	ck_assert_str_eq(r.reason, "AuthenticationFailed");
	ck_assert_int_ge(dbt_log_count("reason=AuthenticationFailed"), 1);
	/* a configuration error is probed slowly, whatever the demand:
	 * U(200, 400) ms here, so at most ~5 attempts in a second */
	n = dbt_log_count("[DB_DOWN]");
	end = now_mono_ms() + 1000;
	while (now_mono_ms() < end) {
		dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
		ck_assert_int_eq(r.cls, DB_CLASS_DOWN);
		dbt_run_for(e.base, 2);
	}
	ck_assert_int_le(dbt_log_count("[DB_DOWN]") - n, 6);
	log = dbt_log_text();
	ck_assert_msg(strstr(log, "sekrit") == NULL, "password in the log");
	ck_assert(strstr(log, "password=***") != NULL);
	free(log);
	env_down(&e);
}
END_TEST

START_TEST(test_slow_network)
{
	struct env	e;
	struct dbt_res	r;

	/* 150 ms each way: slow, not down; the query answers, nothing trips */
	env_up(&e, NULL, 1, 0);
	env_start(&e, 1);
	fp_set(e.fp, "delay 150");
	dbt_query(e.base, e.db, "SELECT 7", 0, NULL, &r);
	ck_assert_msg(r.ok, "%s", r.reason);
	ck_assert_str_eq(r.value, "7");
	ck_assert_uint_ge(r.us, 300000);
	ck_assert(db_is_up(e.db));
	ck_assert_int_eq(dbt_log_count("[DB_DOWN]"), 0);
	fp_set(e.fp, "pass");
	assert_query_ok(&e);
	env_down(&e);
}
END_TEST

START_TEST(test_failfast_no_hammer)
{
	struct env	e;
	struct dbt_res	r;
	long		before, after;
	uint64_t	end, worst = 0;
	int		n = 0;

	env_up(&e, NULL, 1, 0);
	env_start(&e, 1);
	fp_set(e.fp, "reset");
	ck_assert(dbt_wait_up(e.base, e.db, 0, 3000));
	before = fp_count(e.fp);
	/* steady demand for 1 s: every call fails fast, and demand probes
	 * come at most every probe_min_interval (100 ms here) */
	end = now_mono_ms() + 1000;
	while (now_mono_ms() < end) {
		dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
		ck_assert_int_eq(r.cls, DB_CLASS_DOWN);
		if (r.us > worst)
			worst = r.us;
		n++;
		dbt_run_for(e.base, 1);
	}
	after = fp_count(e.fp);
	ck_assert_msg(after - before <= 12, "%ld connects for %d calls in 1 s",
	    after - before, n);
	ck_assert_int_ge(n, 100);
	/* idle: the schedule alone (backoff 50..400 ms): about one connect per
	 * step, each one logged */
	before = fp_count(e.fp);
	n = dbt_log_count("[DB_DOWN]");
	dbt_run_for(e.base, 1000);
	after = fp_count(e.fp);
	ck_assert_int_le(after - before, dbt_log_count("[DB_DOWN]") - n + 1);
	ck_assert_int_le(after - before, 1000 / 25);
	/* recovery under demand: within one probe interval or so */
	fp_set(e.fp, "pass");
	end = now_mono_ms();
	ck_assert(query_until_ok(&e, 2000));
	ck_assert_uint_le(now_mono_ms() - end, 600);
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
	end = now_mono_ms() + 20000;
	do {
		dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
		ck_assert(!r.ok);
		dbt_run_for(e.base, 1);
		db_get_stats(e.db, &st);
	} while (st.connect_failures < 1000 && now_mono_ms() < end);
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
	TCase	*tc = tcase_create("faults");
	SRunner	*sr;
	int	 nf;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_server_stopped);
	tcase_add_test(tc, test_killed_mid_query);
	tcase_add_test(tc, test_terminate_backend);
	tcase_add_test(tc, test_too_many_connections);
	tcase_add_test(tc, test_statement_timeout);
	tcase_add_test(tc, test_neon_disabled);
	tcase_add_test(tc, test_blackhole);
	tcase_add_test(tc, test_frozen_server);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_wrong_password);
	tcase_add_test(tc, test_slow_network);
	tcase_add_test(tc, test_failfast_no_hammer);
	tcase_add_test(tc, test_fd_leak);
	tcase_add_test(tc, test_startup_down_then_up);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
