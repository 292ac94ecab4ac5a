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
#include <sys/time.h>

#include "supt.h"
#include "supt_notify.h"
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
	    "[worker:final]\ncommand = /bin/false\nstartretries = 1\nfatal_retry = 0\n"
	    "[worker:later]\ncommand = /bin/false\nstartretries = 1\nfatal_retry = 1h\n");
	ck_assert_msg(log_wait(&t, "[WORKER_FATAL_RETRY] name=x after=300ms", 2, 10000),
	    "FATAL not tried again");
	ck_assert_int_ge(supt_log_count(&t, "[WORKER_FATAL] name=x attempts=1"), 2);
	ck_assert_int_ge(supt_log_count(&t, "trying again in 300ms (fatal_retry)"), 2);
	/* fatal_retry = 0: FATAL is final */
	ck_assert(supt_wait_state(&t, "final", "FATAL", 0, 5000));
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_FATAL_RETRY] name=final"), 0);
	{
		char *out = NULL;

		ck_assert_int_eq(hfd_ctl(&t, "status final", &out), 3);
		ck_assert_msg(strstr(out, "retry in") == NULL, "%s", out);
		free(out);
		ck_assert(supt_wait_state(&t, "later", "FATAL", 0, 5000));
		ck_assert_int_eq(hfd_ctl(&t, "status later", &out), 3);
		ck_assert_msg(strstr(out, "code=1, retry in 59m5") != NULL, "%s", out);
		free(out);
	}
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

/* READY=1 is not held back by a group waiting for a dependency that is
 * itself failing to start (it would wait for ever with depends_timeout 0). */
START_TEST(test_notify_waiting_on_failed_dependency)
{
	struct hfd	 t;
	struct notes	 ns;
	char		*name, *env[2];
	int		 ready;

	name = xasprintf("@hf-notify-dep-%d", (int)getpid());
	notes_open(&ns, name);
	env[0] = xasprintf("NOTIFY_SOCKET=%s", name);
	env[1] = NULL;
	supt_spawn(&t, "sup-depends-notify", "[worker:app]\ncommand = /bin/sleep 60\n"
	    "depends_on = bad\ndepends_timeout = 0\n"
	    "[worker:bad]\ncommand = /bin/false\nstartretries = 1\nfatal_retry = 0\n", env);
	ready = notes_wait(&ns, "READY=1", 0, 10000);
	ck_assert_msg(ready >= 0, "no READY=1 while app waits for a FATAL group");
	ck_assert(supt_wait_state(&t, "bad", "FATAL", 0, 5000));
	ck_assert(supt_wait_state(&t, "app", "STOPPED", 0, 1000));
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_SPAWN] name=app"), 0);
	supt_finish(&t);
	notes_close(&ns);
	free(env[0]);
	free(name);
}
END_TEST

/* reload --dry-run names what a reload would do and does none of it. */
START_TEST(test_reload_dry_run)
{
	struct hfd	 t;
	char		*out = NULL;
	pid_t		 a;

	supt_start(&t, "sup-dry-run", "[worker:a]\ncommand = /bin/sleep 60\n"
	    "startsecs = 100ms\n[worker:b]\ncommand = /bin/sleep 60\nstartsecs = 100ms\n"
	    "[worker:r]\ncommand = /bin/sleep 60\nstartsecs = 100ms\n");
	ck_assert(supt_wait_state(&t, "a", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "r", "RUNNING", 0, 5000));
	a = supt_pid(&t, "a");
	supt_write_conf(&t, "[database]\npool_size = 7\n"
	    "[worker:a]\ncommand = /bin/sleep 60\nstartsecs = 100ms\nstartretries = 2\n"
	    "[worker:c]\ncommand = /bin/sleep 60\n"
	    "[worker:r]\ncommand = /bin/sleep 61\nstartsecs = 100ms\n");
	ck_assert_int_eq(hfd_ctl(&t, "reload --dry-run", &out), 0);
	ck_assert_msg(strstr(out, "[database]: pool_size\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "a: would be updated (startretries)\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "b: would be removed\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "c: would be added\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "r: would be restarted (command)\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "dry run: nothing changed") != NULL, "%s", out);
	free(out);
	out = NULL;
	/* nothing changed */
	ck_assert_int_eq(supt_log_count(&t, "reload:"), 0);
	ck_assert_int_eq(hfd_ctl(&t, "status c >/dev/null 2>&1", NULL), 4);
	ck_assert(supt_wait_state(&t, "b", "RUNNING", 0, 1000));
	ck_assert_int_eq(supt_pid(&t, "a"), a);
	/* the real reload does what the dry run said */
	ck_assert_int_eq(hfd_ctl(&t, "reload", &out), 0);
	ck_assert_msg(strstr(out, "a: updated\n") && strstr(out, "b: removed\n") &&
	    strstr(out, "c: added\n") && strstr(out, "r: restarted\n"), "%s", out);
	free(out);
	out = NULL;
	/* a file that does not load: the dry run says so */
	supt_write_conf(&t, "[worker:a]\ncommand = /bin/true\nnumproc = 2\n");
	ck_assert_int_ne(hfd_ctl(&t, "reload --dry-run 2>&1", &out), 0);
	ck_assert_msg(strstr(out, "unknown key \"numproc\"") != NULL, "%s", out);
	free(out);
	supt_finish(&t);
}
END_TEST

/* tail NAME stdout|stderr shows one stream; maintail holdfastd's own log. */
START_TEST(test_tail_streams_and_maintail)
{
	struct hfd	 t;
	char		*out = NULL, *cmd, *follow, *pidf;

	supt_start(&t, "sup-tail-streams", "[worker:w]\ncommand = /bin/sh -c "
	    "'echo out1; echo err1 >&2; echo out2; exec sleep 60'\nstartsecs = 100ms\n");
	ck_assert(supt_wait_state(&t, "w", "RUNNING", 0, 5000));
	ck_assert(tu_wait_file_count(t.log, "w: out2", 1, 5000));
	ck_assert_int_eq(hfd_ctl(&t, "tail w stderr", &out), 0);
	ck_assert_str_eq(out, "err1\n");
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "tail -n 1 w stdout", &out), 0);
	ck_assert_str_eq(out, "out2\n");
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "tail w", &out), 0);
	ck_assert_msg(strstr(out, "out1\n") && strstr(out, "err1\n"), "%s", out);
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "tail w stdin 2>&1", &out), 2);
	free(out);
	/* maintail: holdfastd's own lines */
	ck_assert_int_eq(hfd_ctl(&t, "maintail", &out), 0);
	ck_assert_msg(strstr(out, "[WORKER_SPAWN] name=w") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "holdfastd[") != NULL, "%s", out);
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "maintail -n 1", &out), 0);
	ck_assert_int_eq((int)strlen(out) - (int)strcspn(out, "\n"), 1);	/* one line */
	free(out);
	/* maintail -f follows: a stop shows up */
	follow = xasprintf("%s/maintail.out", t.dir);
	pidf = xasprintf("%s/maintail.pid", t.dir);
	cmd = xasprintf("maintail -f -n 0 >%s 2>&1 & echo $! >%s", follow, pidf);
	ck_assert_int_eq(hfd_ctl(&t, cmd, NULL), 0);
	tu_sh("sleep 0.3", NULL);
	ck_assert_int_eq(hfd_ctl(&t, "stop w >/dev/null", NULL), 0);
	ck_assert_msg(tu_wait_file_count(follow, "[WORKER_EXIT] name=w", 1, 5000),
	    "maintail -f did not show the stop");
	{
		char *pid = tu_read_file(pidf, NULL);

		ck_assert_ptr_nonnull(pid);
		tu_kill((pid_t)atoi(pid), SIGTERM);
		free(pid);
	}
	free(cmd);
	free(follow);
	free(pidf);
	supt_finish(&t);
}
END_TEST

static int
stamped(const char *s)
{
	/* 2026-12-04T17:05:35.123Z */
	return strlen(s) > 25 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
	    s[16] == ':' && s[19] == '.' && s[23] == 'Z' && s[24] == ' ';
}

/* logfile_timestamps prefixes each stored line (ring and file). */
START_TEST(test_timestamps)
{
	struct hfd	 t;
	char		*out = NULL, *ini, *text;

	ini = xasprintf("[worker:w]\ncommand = /bin/sh -c 'echo hello; exec sleep 60'\n"
	    "startsecs = 100ms\nlogfile_timestamps = true\nstdout_logfile = w.log\n"
	    "[worker:plain]\ncommand = /bin/sh -c 'echo hello; exec sleep 60'\n"
	    "startsecs = 100ms\n");
	supt_start(&t, "sup-stamps", ini);
	ck_assert(tu_wait_file_count(t.log, "plain: hello", 1, 5000));
	ck_assert(tu_wait_file_count(t.log, "w: hello", 1, 5000));
	ck_assert_int_eq(hfd_ctl(&t, "tail w", &out), 0);
	ck_assert_msg(stamped(out) && strcmp(out + 25, "hello\n") == 0, "tail: %s", out);
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "tail plain", &out), 0);
	ck_assert_str_eq(out, "hello\n");
	free(out);
	text = xasprintf("%s/w.log", t.dir);
	out = tu_read_file(text, NULL);
	ck_assert_msg(out != NULL && stamped(out) && strcmp(out + 25, "hello\n") == 0,
	    "w.log: %s", out ? out : "(missing)");
	free(out);
	free(text);
	supt_finish(&t);
	free(ini);
}
END_TEST

/* logfile_rotate = daily: a file last written on an earlier UTC day is
 * rotated at the next line; by size (the default) it is not. */
START_TEST(test_rotate_daily)
{
	struct hfd	 t;
	char		*daily, *sized, *p, *text;
	struct timeval	 old[2];

	hfd_init(&t, "sup-rotate");
	daily = xasprintf("%s/daily.log", t.dir);
	sized = xasprintf("%s/sized.log", t.dir);
	ck_assert_int_eq(tu_write_file(daily, "old line\n"), 0);
	ck_assert_int_eq(tu_write_file(sized, "old line\n"), 0);
	gettimeofday(&old[0], NULL);
	old[0].tv_sec -= 2 * 86400;
	old[1] = old[0];
	ck_assert_int_eq(utimes(daily, old), 0);
	ck_assert_int_eq(utimes(sized, old), 0);
	supt_write_conf(&t, "[worker:d]\ncommand = /bin/sh -c 'echo new; exec sleep 60'\n"
	    "startsecs = 100ms\nstdout_logfile = daily.log\nlogfile_rotate = daily\n"
	    "logfile_backups = 2\n"
	    "[worker:s]\ncommand = /bin/sh -c 'echo new; exec sleep 60'\n"
	    "startsecs = 100ms\nstdout_logfile = sized.log\n");
	hfd_spawn(&t, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert(tu_wait_file_count(daily, "new", 1, 5000));
	ck_assert(tu_wait_file_count(sized, "new", 1, 5000));
	text = tu_read_file(daily, NULL);
	ck_assert_str_eq(text, "new\n");
	free(text);
	p = xasprintf("%s.1", daily);
	text = tu_read_file(p, NULL);
	ck_assert_msg(text != NULL && strcmp(text, "old line\n") == 0, "daily.log.1: %s",
	    text ? text : "(missing)");
	free(text);
	free(p);
	text = tu_read_file(sized, NULL);
	ck_assert_str_eq(text, "old line\nnew\n");
	free(text);
	p = xasprintf("%s.1", sized);
	ck_assert_int_eq(access(p, F_OK), -1);
	free(p);
	supt_finish(&t);
	free(daily);
	free(sized);
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
	tcase_add_test(tc, test_notify_waiting_on_failed_dependency);
	tcase_add_test(tc, test_reload_dry_run);
	tcase_add_test(tc, test_tail_streams_and_maintail);
	tcase_add_test(tc, test_timestamps);
	tcase_add_test(tc, test_rotate_daily);
	return tu_run(s);
}
