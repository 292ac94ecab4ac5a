/*
 * test_hosting: holdfastd behaves as a production host expects of it.
 *
 * Production hosting (docs/deployment.md): under systemd (Type=notify) it says
 * READY=1 only once its autostart workers are RUNNING, keeps a STATUS= line
 * current (worker counts, each group's DB state), pets the watchdog at half
 * of WATCHDOG_USEC (and only when WATCHDOG_PID is unset or its own), says
 * RELOADING=1/READY=1 around SIGHUP and STOPPING=1 on SIGTERM, and never
 * lets a worker see NOTIFY_SOCKET; as PID 1 of a container (a new PID
 * namespace) it reaps orphans and stops the whole tree on SIGTERM, exit 0.
 * Real holdfastd, real testworkers, a datagram socket owned by the test.
 */
#include <sys/socket.h>

#include "supt.h"
#include "supt_notify.h"
#include "tu.h"

START_TEST(test_notify_ready_status_watchdog_stopping)
{
	struct hfd	 t;
	struct notes	 ns;
	char		*tw = supt_tw(), *ini, *sockpath, *envfile, *envtext, *env[4];
	char		*io = tu_tmpdir("host-notify-io");	/* removed on failure too */
	int		 ready, i, pings, status;

	sockpath = xasprintf("%s/notify.sock", io);
	envfile = xasprintf("%s/b.env", io);
	notes_open(&ns, sockpath);
	/* a: two instances ready only after 400 ms; b: reports its DB down,
	 * up 1 s later, and dumps the environment it was given. */
	ini = xasprintf("[worker:a]\ncommand = %s -r 400\nnumprocs = 2\n"
	    "[worker:b]\ncommand = /bin/sh -c \"env > %s; exec %s -D ConnectionRefused -u 1000\"\n",
	    tw, envfile, tw);
	env[0] = xasprintf("NOTIFY_SOCKET=%s", sockpath);
	env[1] = "WATCHDOG_USEC=200000";
	env[2] = NULL;
	supt_spawn(&t, "host-notify", ini, env);

	ready = notes_wait(&ns, "READY=1", 0, 10000);
	ck_assert_msg(ready >= 0, "no READY=1");
	/* Sent only after the three workers were RUNNING (logged first). */
	ck_assert_int_eq(supt_log_count(&t, "STARTING -> RUNNING"), 3);
	ck_assert_msg(notes_count(&ns, "STATUS=starting: ", 0, ready) >= 1,
	    "no \"starting\" STATUS= before READY=1");
	ck_assert_msg(strstr(ns.msg[ready], "STATUS=3/3 running") != NULL, "%s", ns.msg[ready]);
	ck_assert_int_eq(notes_count(&ns, "READY=1", 0, ns.n), 1);
	/* The DB state of group b, down then up. */
	ck_assert_msg(notes_wait(&ns, "; db: b down (ConnectionRefused)", 0, 5000) >= 0,
	    "no STATUS= with b down");
	ck_assert_msg(notes_wait(&ns, "STATUS=3/3 running; db: b up", 0, 5000) >= 0,
	    "no STATUS= with b up");
	/* Watchdog: every 100 ms; >= 5 in a second leaves room for a slow box. */
	i = ns.n;
	notes_recv(&ns, 1000);
	pings = notes_count(&ns, "WATCHDOG=1", i, ns.n);
	ck_assert_msg(pings >= 5 && pings <= 12, "%d WATCHDOG=1 in 1 s", pings);
	/* Reload: RELOADING=1, then READY=1 again. */
	i = ns.n;
	kill(t.pid, SIGHUP);
	ck_assert_msg((i = notes_wait(&ns, "RELOADING=1", i, 5000)) >= 0, "no RELOADING=1");
	ck_assert_ptr_nonnull(strstr(ns.msg[i], "MONOTONIC_USEC="));
	ck_assert_msg(notes_wait(&ns, "READY=1", i, 5000) > i, "no READY=1 after reload");
	/* The workers never saw holdfastd's own notification variables: a
	 * worker cannot speak for holdfastd. They get holdfastd's socket for
	 * children instead (notify = auto), and their own watchdog. */
	envtext = tu_read_file(envfile, NULL);
	ck_assert_ptr_nonnull(envtext);
	ck_assert_ptr_nonnull(strstr(envtext, "HOLDFAST_INSTANCE=b"));
	ck_assert_msg(strstr(envtext, sockpath) == NULL, "a worker got holdfastd's "
	    "NOTIFY_SOCKET: %s", envtext);
	ck_assert_ptr_null(strstr(envtext, "WATCHDOG_USEC=200000"));
	ck_assert_ptr_nonnull(strstr(envtext, "NOTIFY_SOCKET=@holdfast/"));
	/* SIGTERM: STOPPING=1, then exit 0. */
	i = ns.n;
	kill(t.pid, SIGTERM);
	ck_assert_msg(notes_wait(&ns, "STOPPING=1", i, 5000) >= 0, "no STOPPING=1");
	ck_assert_int_eq(tu_wait_pid(t.pid, 10000, &status), 0);
	t.pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "holdfastd did not exit 0 on SIGTERM (status 0x%x)", status);
	supt_finish(&t);
	notes_close(&ns);
	tu_rmrf(io);
	free(io);
	free(envtext);
	free(env[0]);
	free(ini);
	free(sockpath);
	free(envfile);
	free(tw);
}
END_TEST

/* A worker that can never start does not hold READY=1 back: FATAL counts
 * as settled and STATUS= says so. Also: the abstract namespace, and no
 * watchdog ping when WATCHDOG_PID names another process. */
START_TEST(test_notify_fatal_settles_abstract)
{
	struct hfd	 t;
	struct notes	 ns;
	char		*tw = supt_tw(), *ini, *name, *env[4];
	int		 ready;

	name = xasprintf("@hf-notify-%d", (int)getpid());
	notes_open(&ns, name);
	ini = xasprintf("[worker:ok]\ncommand = %s\n[worker:bad]\ncommand = %s -x\n"
	    "startretries = 2\nbackoff_initial = 20ms\nbackoff_max = 50ms\nfatal_retry = 0\n",
	    tw, tw);
	env[0] = xasprintf("NOTIFY_SOCKET=%s", name);
	env[1] = "WATCHDOG_USEC=100000";
	env[2] = "WATCHDOG_PID=1";
	env[3] = NULL;
	supt_spawn(&t, "host-fatal", ini, env);
	ready = notes_wait(&ns, "READY=1", 0, 10000);
	ck_assert_msg(ready >= 0, "no READY=1 with a worker that cannot start");
	ck_assert_msg(strstr(ns.msg[ready], "STATUS=1/2 running (bad ") != NULL,
	    "%s", ns.msg[ready]);
	notes_recv(&ns, 400);
	ck_assert_int_eq(notes_count(&ns, "WATCHDOG=1", 0, ns.n), 0);
	ck_assert(supt_wait_state(&t, "bad", "FATAL", 0, 5000));
	ck_assert_msg(notes_wait(&ns, "STATUS=1/2 running (bad FATAL)", 0, 5000) >= 0,
	    "no STATUS= naming the FATAL worker");
	supt_finish(&t);
	notes_close(&ns);
	free(env[0]);
	free(ini);
	free(name);
	free(tw);
}
END_TEST

/* ---- PID 1 of a container ---- */

/* The first child of pid (as /proc shows it), or 0. */
static pid_t
first_child(pid_t pid)
{
	char	*path = xasprintf("/proc/%d/task/%d/children", (int)pid, (int)pid);
	char	*text = tu_read_file(path, NULL);
	pid_t	 child = text != NULL ? (pid_t)atoi(text) : 0;

	free(text);
	free(path);
	return child;
}

static int
nchildren(pid_t pid)
{
	char	*path = xasprintf("/proc/%d/task/%d/children", (int)pid, (int)pid);
	char	*text = tu_read_file(path, NULL), *s;
	int	 n = 0;

	for (s = text; s != NULL && *s != '\0'; s++)
		n += *s == ' ';
	free(text);
	free(path);
	return n;
}

START_TEST(test_pid1_reaps_and_stops)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *cmd;
	pid_t		 outer, inner = 0;
	int		 status, rc;

	if (getuid() != 0 || tu_sh("unshare --pid --fork --mount-proc true "
	    ">/dev/null 2>&1", NULL) != 0) {
		fprintf(stderr, "test_pid1_reaps_and_stops: unshare --pid not "
		    "permitted here; skipped\n");
		free(tw);
		return;
	}
	/* -O: each start leaves a grandchild that is orphaned and exits 200 ms
	 * later; in a PID namespace it is re-parented to holdfastd, PID 1. */
	ini = xasprintf("[worker:o]\ncommand = %s -O\n", tw);
	hfd_init(&t, "host-pid1");
	supt_write_conf(&t, ini);
	hfd_spawn_argv(&t, (char *[]){ "/usr/bin/unshare", "--pid", "--fork",
	    "--mount-proc", NULL }, NULL, NULL);
	outer = t.pid;
	ck_assert_msg(tu_wait_file_count(t.log, "started: pid 1,", 1, 5000),
	    "holdfastd is not PID 1 of the namespace");
	ck_assert(supt_wait_state(&t, "o", "RUNNING", 0, 5000));
	ck_assert_msg(tu_wait_file_count(t.log, "reaped stray pid=", 1, 5000),
	    "the orphaned grandchild was not reaped");
	for (int i = 0; i < 100 && inner == 0; i++, usleep(10000))
		inner = first_child(outer);
	ck_assert_int_gt(inner, 0);
	/* No zombie left: the only child of PID 1 is the worker. */
	ck_assert_int_eq(nchildren(inner), 1);
	/* SIGTERM from inside the container (as `docker stop` / `kill 1`):
	 * PID 1 gets only signals it handles, and holdfastd handles it. */
	cmd = xasprintf("nsenter --target %d --pid --mount kill -TERM 1", (int)inner);
	rc = tu_sh(cmd, NULL);
	/* 137: holdfastd stopped so fast that the namespace ended (and the
	 * kernel killed every process in it, `kill` itself) before `kill`
	 * exited; the log below shows the signal arrived. */
	ck_assert_msg(rc == 0 || rc == 137, "nsenter ... kill: %d", rc);
	ck_assert_int_eq(tu_wait_pid(outer, 10000, &status), 0);
	t.pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the tree did not exit 0 (status %d)", status);
	ck_assert_int_eq(supt_log_count(&t, "shutting down (SIGTERM)"), 1);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_EXIT] name=o"), 1);
	ck_assert(!tu_pid_alive(inner));
	free(cmd);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("hosting");
	TCase	*tc = tu_tcase(s, "hosting", 60);

	tcase_add_test(tc, test_notify_ready_status_watchdog_stopping);
	tcase_add_test(tc, test_notify_fatal_settles_abstract);
	tcase_add_test(tc, test_pid1_reaps_and_stops);
	return tu_run(s);
}
