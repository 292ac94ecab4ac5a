/*
 * test_whatsapp_outage: the seed's acceptance, made testable. While a
 * stream of inbound messages is being stored, PostgreSQL goes away for
 * several seconds (a fast shutdown, then separately a crash) and comes
 * back; and separately the Neon failure of the seed, its endpoint
 * disabled, played by tests/tools/faultproxy in front of the server. The
 * session worker must stay the same live process throughout,
 * log [DB_DOWN] op=whatsapp_session_loop with growing backoff ceilings,
 * log [DB_RECOVERED] once, and afterwards have processed every stored
 * message exactly once.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fp.h"
#include "pgt.h"
#include "tu.h"
#include "wat.h"

#define TICK_MS		100
#define PER_TICK	20
#define CONTACTS	50

/*
 * Checks the [DB_DOWN] lines: try=1,2,3... in order, each sleep within the
 * full-jitter ceiling min(1s, 100ms * 2^(try-1)) (DB_CLASS_CONNECTION) or
 * two steps above it (other classes); returns how many there were.
 */
static int
wat_check_db_down(const char *log, double *max_late_sleep)
{
	char	*text = tu_read_file(log, NULL), *p = text;
	int	 n = 0, tries;
	double	 sleep;

	*max_late_sleep = 0;
	while ((p = strstr(p, "[DB_DOWN] op=whatsapp_session_loop try=")) != NULL) {
		p += strlen("[DB_DOWN] op=whatsapp_session_loop try=");
		ck_assert_int_eq(sscanf(p, "%d sleep=%lfs", &tries, &sleep), 2);
		ck_assert_int_eq(tries, n + 1);
		ck_assert_msg(sleep <= 1.0 + 1e-9, "sleep %g above backoff_max", sleep);
		if (tries >= 3 && sleep > *max_late_sleep)
			*max_late_sleep = sleep;
		n++;
	}
	free(text);
	return n;
}

static long long
wat_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One insert of PER_TICK messages; returns how many were stored. */
static int
wat_tick_insert(struct wat *t, int tick)
{
	char	*sql, *out = NULL;
	int	 rc;

	if (asprintf(&sql,
	    "INSERT INTO wa_messages (wamid, phone_number_id, wa_id, direction, body, sent_at) "
	    "SELECT 'wamid.o.%d.' || g, 'pn', 'c' || ((%d * %d + g) %% %d), 'in', 'x', now() "
	    "FROM generate_series(1, %d) g", tick, tick, PER_TICK, CONTACTS, PER_TICK) == -1)
		ck_abort();
	rc = pgt_psql(t->pg, t->db, sql, &out);
	free(sql);
	free(out);
	return rc == 0 ? PER_TICK : 0;
}

/* Takes the database away ("fast", "kill9", or "neon" through the proxy). */
static void
wat_fault(struct wat *t, struct fp *fp, const char *how)
{
	if (fp != NULL) {
		/* Live connections die; new ones hear Neon's answer. */
		ck_assert_int_eq(fp_set(fp, "reset"), 0);
		ck_assert_int_eq(fp_set(fp, "neon"), 0);
	} else if (strcmp(how, "kill9") == 0)
		ck_assert_int_eq(pgt_kill9(t->pg), 0);
	else
		ck_assert_int_eq(pgt_stop(t->pg, how), 0);
}

static void
wat_repair(struct wat *t, struct fp *fp)
{
	if (fp != NULL)
		ck_assert_int_eq(fp_set(fp, "pass"), 0);
	else
		ck_assert_int_eq(pgt_restart(t->pg), 0);
}

static void
outage(const char *how, int down_ms)
{
	struct wat	 t;
	struct fp	*fp = NULL;
	pid_t		 pid;
	long long	 stored = 0;
	long long	 t0, now, down_at = 1000, up_at = 1000 + down_ms, end = up_at + 2000;
	int		 down = 0, up = 0;
	double		 late;

	wat_init(&t, NULL, NULL);
	if (strcmp(how, "neon") == 0) {
		fp = fp_start(pgt_port(t.pg));
		wat_use_port(&t, fp_port(fp));
	}
	wat_config(&t, "session_idle_timeout = 1h\npoll_interval = 1s\n");
	wat_worker(&t);
	pid = t.workers[0];
	ck_assert_int_eq(tu_wait_file_count(t.logs[0], "LISTEN holdfast_wa established", 1, 10000), 1);
	/* Time-driven: a slow psql on a busy machine must not stretch it. */
	t0 = wat_now_ms();
	for (int i = 0; (now = wat_now_ms() - t0) < end; i++) {
		if (now >= down_at && !down++)
			wat_fault(&t, fp, how);
		if (now >= up_at && !up++)
			wat_repair(&t, fp);
		stored += wat_tick_insert(&t, i);
		ck_assert_msg(tu_pid_alive(pid), "the worker died at tick %d", i);
		usleep(TICK_MS * 1000);
	}
	ck_assert_int_gt(stored, 0);
	ck_assert_int_eq(wat_wait_scalar(&t, 0, 20000,
	    "SELECT count(*) FROM wa_messages WHERE conversation_id IS NULL"), 0);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM wa_messages WHERE direction = 'in'"), stored);
	ck_assert_int_eq(wat_scalar(&t, "SELECT sum(msgs_in) FROM conversations"), stored);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM conversations"), CONTACTS);
	ck_assert_msg(tu_pid_alive(pid), "the worker died after recovery");
	ck_assert_int_ge(wat_check_db_down(t.logs[0], &late), 3);
	/* Full jitter: sleeps are random below ceilings that grow; by try 3
	 * a ceiling is 400 ms, so some later sleep exceeds the first one's. */
	ck_assert_msg(late > 0.1, "no backoff growth: max late sleep %g", late);
	ck_assert_int_eq(tu_count_in_file(t.logs[0],
	    "[DB_RECOVERED] op=whatsapp_session_loop after "), 1);
	ck_assert_int_eq(tu_count_in_file(t.logs[0], "[THREAD_CRASH]"), 0);
	if (fp != NULL)
		ck_assert_int_ge(tu_count_in_file(t.logs[0], "reason=NeonEndpointDisabled"), 1);
	wat_stop_worker(&t, 0);
	if (fp != NULL)
		fp_stop(fp);
	wat_done(&t);
}

START_TEST(test_db_fast_shutdown)
{
	outage("fast", 4000);
}
END_TEST

START_TEST(test_db_crash)
{
	outage("kill9", 3000);
}
END_TEST

START_TEST(test_neon_endpoint_disabled)
{
	outage("neon", 5000);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("whatsapp_outage");
	TCase	*tc = tu_tcase(s, "outage", 90);

	tcase_add_test(tc, test_db_fast_shutdown);
	tcase_add_test(tc, test_db_crash);
	tcase_add_test(tc, test_neon_endpoint_disabled);
	tcase_add_unchecked_fixture(tc, NULL, wat_reap_strays);
	return tu_run(s);
}
