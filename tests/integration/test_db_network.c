/*
 * test_db_network: the same promise against faults of what lies between
 * the worker and PostgreSQL, made real by tests/tools/faultproxy: Neon's
 * proxy refusing a disabled endpoint, a black hole, connection resets, a
 * slow link, a wrong password; and the breaker's manners while the DB is
 * down: every call fails fast, probes do not hammer, recovery is quick.
 */
#include "dbt_env.h"
#include "tu.h"

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
	env_assert_down(&e, "NeonEndpointDisabled", NULL, &r);
	ck_assert_int_ge(dbt_log_count("reason=NeonEndpointDisabled"), 1);
	/* permanent: demand does not probe; only the slow schedule does */
	before = fp_count(e.fp);
	t0 = hf_now_mono_ms();
	for (i = 0; i < 100; i++) {
		dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
		ck_assert_int_eq(r.cls, DB_CLASS_DOWN);
		dbt_run_for(e.base, 3);
	}
	after = fp_count(e.fp);
	/* slow schedule: U(200, 400) ms with backoff_max 400 ms */
	ck_assert_msg(after - before <= (long)(hf_now_mono_ms() - t0) / 200 + 1,
	    "%ld probes in %llu ms", after - before,
	    (unsigned long long)(hf_now_mono_ms() - t0));
	fp_set(e.fp, "pass");
	env_assert_recovered(&e, 3000);
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
	t0 = hf_now_mono_ms();
	env_start(&e, 0);
	memset(&r, 0, sizeof(r));
	db_query(e.db, "test", "SELECT 1", 0, NULL, dbt_cb(), &r);
	ck_assert(dbt_run_until(e.base, &r.done, 3000));
	ck_assert_int_eq(r.cls, DB_CLASS_CONNECTION);
	ck_assert_str_eq(r.reason, "ConnectTimeout");
	/* detected by the connect deadline (1 s), and the loop kept serving */
	ck_assert_uint_ge(hf_now_mono_ms() - t0, 900);
	ck_assert_int_ge(ticks, 50);
	ck_assert_int_ge(dbt_log_count("reason=ConnectTimeout"), 1);
	fp_set(e.fp, "pass");
	ck_assert(query_until_ok(&e, 4000));
	event_free(t);
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
	env_assert_down(&e, "ConnectionReset", "ServerClosed", &r);
	fp_set(e.fp, "pass");
	env_assert_recovered(&e, 3000);
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
	env_assert_down(&e, "AuthenticationFailed", NULL, &r);
	ck_assert_int_ge(dbt_log_count("reason=AuthenticationFailed"), 1);
	/* a configuration error is probed slowly, whatever the demand:
	 * U(200, 400) ms here, so at most ~5 attempts in a second */
	n = dbt_log_count("[DB_DOWN]");
	end = hf_now_mono_ms() + 1000;
	while (hf_now_mono_ms() < end) {
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
	uint64_t	start, elapsed;
	int		n;

	env_up(&e, NULL, 1, 0);
	env_start(&e, 1);
	fp_set(e.fp, "reset");
	ck_assert(dbt_wait_up(e.base, e.db, 0, 3000));
	before = fp_count(e.fp);
	/* steady demand, counted rather than timed (a loaded or sanitized
	 * build is slower, not different): every call fails fast, and demand
	 * probes come at most every probe_min_interval (100 ms here) */
	start = hf_now_mono_ms();
	for (n = 0; n < 150; n++) {
		dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
		ck_assert_int_eq(r.cls, DB_CLASS_DOWN);
		dbt_run_for(e.base, 5);
	}
	elapsed = hf_now_mono_ms() - start;
	after = fp_count(e.fp);
	ck_assert_msg(after - before <= (long)(elapsed / 100) + 2,
	    "%ld connects for %d calls in %llu ms", after - before, n,
	    (unsigned long long)elapsed);
	/* idle: the schedule alone (backoff 50..400 ms): about one connect per
	 * step, each one logged */
	before = fp_count(e.fp);
	n = dbt_log_count("[DB_DOWN]");
	dbt_run_for(e.base, 1000);
	after = fp_count(e.fp);
	ck_assert_int_le(after - before, dbt_log_count("[DB_DOWN]") - n + 1);
	ck_assert_int_le(after - before, 1000 / 25);
	/* recovery under demand (its speed is measured by bench/db.sh) */
	fp_set(e.fp, "pass");
	ck_assert(query_until_ok(&e, 3000));
	env_down(&e);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("db_network");
	TCase	*tc = tu_tcase(s, "faults", 60);

	tcase_add_test(tc, test_neon_disabled);
	tcase_add_test(tc, test_blackhole);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_wrong_password);
	tcase_add_test(tc, test_slow_network);
	tcase_add_test(tc, test_failfast_no_hammer);
	return tu_run(s);
}
