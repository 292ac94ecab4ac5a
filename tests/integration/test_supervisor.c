/*
 * test_supervisor: holdfastd keeps workers running, with real processes.
 *
 * Guards docs/design.md §1-2: a killed worker is respawned, at once when it was
 * RUNNING; a crash loop backs off and goes FATAL after startretries until
 * `holdfastctl start` revives it; a hung worker (no heartbeats) is killed
 * and respawned; a worker that ignores its stop signal is SIGKILLed after
 * stopwaitsecs; SIGTERM to holdfastd stops every worker and exits 0; and
 * no worker outlives a SIGKILLed holdfastd by more than a second; orphans
 * left by a worker are reaped (as PID 1 in a container must).
 */
#include "supt.h"
#include "tu.h"

START_TEST(test_kill9_respawned_at_once)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini;
	pid_t		 old;

	ini = xasprintf("[worker:a]\ncommand = %s\n", tw);
	supt_start(&t, "sup-kill9", ini);
	ck_assert(supt_wait_state(&t, "a", "RUNNING", 0, 5000));
	old = supt_pid(&t, "a");
	ck_assert_int_gt(old, 0);
	kill(old, SIGKILL);
	ck_assert_msg(supt_wait_state(&t, "a", "RUNNING", old, 5000),
	    "no new RUNNING pid after kill -9");
	ck_assert_int_ne(supt_pid(&t, "a"), old);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_EXIT] name=a"), 1);
	ck_assert_int_ge(supt_log_count(&t, "signal=SIGKILL"), 1);
	/* At once: straight from RUNNING to STARTING, never through BACKOFF. */
	ck_assert_int_eq(supt_log_count(&t, "name=a pid=0 RUNNING -> STARTING"), 1);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_BACKOFF] name=a"), 0);
	ck_assert_int_eq(supt_log_count(&t, "restarts=1"), 1);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

START_TEST(test_crash_loop_fatal_then_start)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *fault;
	char		*out = NULL;

	fault = xasprintf("/tmp/hf-fault-%d", (int)getpid());
	ck_assert_int_eq(tu_write_file(fault, "x"), 0);
	ini = xasprintf("[worker:b]\ncommand = %s -F %s\nstartretries = 3\nfatal_retry = 0\n"
	    "backoff_initial = 20ms\nbackoff_max = 100ms\n", tw, fault);
	supt_start(&t, "sup-fatal", ini);
	ck_assert_msg(supt_wait_state(&t, "b", "FATAL", 0, 5000), "never FATAL");
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_BACKOFF] name=b"), 2);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_FATAL] name=b attempts=3"), 1);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_EXIT] name=b"), 3);
	/* FATAL stays down on its own. */
	tu_sh("sleep 0.3", NULL);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_SPAWN] name=b"), 3);
	ck_assert_int_eq(hfd_ctl(&t, "status b >/dev/null", NULL), 3);
	/* Starting it unfixed: a fresh round of retries, FATAL again, and
	 * holdfastctl (which waits) says it is not RUNNING. */
	ck_assert_int_eq(hfd_ctl(&t, "start b >/dev/null", NULL), 3);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_FATAL] name=b attempts=3"), 2);
	/* The operator fixes the fault and starts it. */
	unlink(fault);
	ck_assert_int_eq(hfd_ctl(&t, "start b", &out), 0);
	free(out);
	ck_assert_msg(supt_wait_state(&t, "b", "RUNNING", 0, 5000), "start did not revive");
	ck_assert_int_eq(hfd_ctl(&t, "status b >/dev/null", NULL), 0);
	supt_finish(&t);
	free(fault);
	free(ini);
	free(tw);
}
END_TEST

START_TEST(test_hung_worker_killed)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini;
	pid_t		 old;

	ini = xasprintf("[worker:c]\ncommand = %s -H 200\nheartbeat_timeout = 300ms\n", tw);
	supt_start(&t, "sup-hung", ini);
	ck_assert(supt_wait_state(&t, "c", "RUNNING", 0, 5000));
	old = supt_pid(&t, "c");
	ck_assert_msg(tu_wait_file_count(t.log, "[WORKER_HUNG] name=c", 1, 5000),
	    "no [WORKER_HUNG]");
	ck_assert_msg(supt_wait_state(&t, "c", "RUNNING", old, 5000), "not respawned");
	ck_assert_int_ge(supt_log_count(&t, "[WORKER_EXIT] name=c"), 1);
	ck_assert_int_ge(supt_log_count(&t, "signal=SIGKILL"), 1);
	ck_assert(!tu_pid_alive(old));
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

START_TEST(test_term_ignored_gets_sigkill)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini;
	pid_t		 pid;

	ini = xasprintf("[worker:d]\ncommand = %s -T\nstopwaitsecs = 300ms\n", tw);
	supt_start(&t, "sup-term", ini);
	ck_assert(supt_wait_state(&t, "d", "RUNNING", 0, 5000));
	pid = supt_pid(&t, "d");
	ck_assert_int_eq(hfd_ctl(&t, "stop d >/dev/null", NULL), 0);
	ck_assert_msg(supt_wait_state(&t, "d", "STOPPED", 0, 5000), "never STOPPED");
	ck_assert(!tu_pid_alive(pid));
	ck_assert_int_eq(supt_log_count(&t, "still alive 300ms after the stop signal"), 1);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_EXIT] name=d"), 1);
	ck_assert_int_eq(supt_log_count(&t, "signal=SIGKILL"), 1);
	/* Stopped by the operator: not restarted. */
	tu_sh("sleep 0.2", NULL);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_SPAWN] name=d"), 1);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

static char *
two_groups(void)
{
	char *tw = supt_tw();
	char *ini = xasprintf("[worker:x]\ncommand = %s\npriority = 1\n"
	    "[worker:y]\ncommand = %s -T\nnumprocs = 2\nstopwaitsecs = 200ms\n"
	    "priority = 2\n", tw, tw);

	free(tw);
	return ini;
}

START_TEST(test_sigterm_stops_all_exit_0)
{
	struct hfd	 t;
	char		*ini = two_groups();
	pid_t		 pids[3];
	int		 status = -1;
	char		*log;

	supt_start(&t, "sup-sigterm", ini);
	ck_assert(supt_wait_state(&t, "x", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "y:0", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "y:1", "RUNNING", 0, 5000));
	pids[0] = supt_pid(&t, "x");
	pids[1] = supt_pid(&t, "y:0");
	pids[2] = supt_pid(&t, "y:1");
	kill(t.pid, SIGTERM);
	ck_assert_int_eq(tu_wait_pid(t.pid, 5000, &status), 0);
	t.pid = 0;
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(!tu_pid_alive(pids[i]), "worker %d survived", (int)pids[i]);
	ck_assert_int_eq(access(t.sock, F_OK), -1);
	/* Reverse priority order: y (2) is stopped before x (1) is. */
	log = tu_read_file(t.log, NULL);
	ck_assert_ptr_nonnull(strstr(log, "name=x pid=0 STOPPING -> STOPPED"));
	ck_assert(strstr(log, "name=y:0 pid=0 STOPPING -> STOPPED") <
	    strstr(log, "name=x pid=0 STOPPING -> STOPPED"));
	free(log);
	supt_finish(&t);
	free(ini);
}
END_TEST

struct pids {
	pid_t	p[3];
};

static int
all_gone(void *arg)
{
	struct pids *ps = arg;

	for (int i = 0; i < 3; i++)
		if (tu_pid_alive(ps->p[i]))
			return 0;
	return 1;
}

START_TEST(test_sigkill_no_survivor)
{
	struct hfd	 t;
	char		*ini = two_groups();
	struct pids	 ps;
	int		 status;

	supt_start(&t, "sup-sigkill", ini);
	ck_assert(supt_wait_state(&t, "y:1", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "x", "RUNNING", 0, 5000));
	ps.p[0] = supt_pid(&t, "x");
	ps.p[1] = supt_pid(&t, "y:0");
	ps.p[2] = supt_pid(&t, "y:1");
	kill(t.pid, SIGKILL);		/* holdfastd only, not its group */
	ck_assert_int_eq(tu_wait_pid(t.pid, 2000, &status), 0);
	t.pid = 0;
	ck_assert_msg(tu_wait_for(all_gone, &ps, 1000),
	    "a worker outlived holdfastd's SIGKILL by over 1 s");
	supt_finish(&t);
	free(ini);
}
END_TEST

START_TEST(test_strays_reaped)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini;

	ini = xasprintf("[worker:o]\ncommand = %s -O\n", tw);
	supt_start(&t, "sup-stray", ini);
	ck_assert(supt_wait_state(&t, "o", "RUNNING", 0, 5000));
	ck_assert_msg(tu_wait_file_count(t.log, "reaped stray pid=", 1, 3000),
	    "the orphaned grandchild was not reaped by holdfastd");
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_EXIT] name=o"), 0);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("supervisor");
	TCase	*tc = tu_tcase(s, "lifecycle", 60);

	tcase_add_test(tc, test_kill9_respawned_at_once);
	tcase_add_test(tc, test_crash_loop_fatal_then_start);
	tcase_add_test(tc, test_hung_worker_killed);
	tcase_add_test(tc, test_term_ignored_gets_sigkill);
	tcase_add_test(tc, test_sigterm_stops_all_exit_0);
	tcase_add_test(tc, test_sigkill_no_survivor);
	tcase_add_test(tc, test_strays_reaped);
	return tu_run(s);
}
