/*
 * test_supervisor_spawn: what a worker gets from holdfastd's vfork + exec.
 *
 * Guards the promises of sup_spawn.c that the faster spawn path (a vfork
 * child, which can only make system calls) must keep: a step that fails
 * in the child (execve, chdir) is still told on the instance's output as
 * "holdfastd: execve(PATH): reason" and the child exits 127; a worker
 * starts with no signal blocked or ignored although holdfastd ignores
 * SIGPIPE and blocks everything around the vfork; LISTEN_PID is the
 * worker's own pid.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include "supt.h"
#include "tu.h"

START_TEST(test_child_failures_reported)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *noexec, *want, *dir;

	dir = tu_tmpdir("sup-spawn-files");
	noexec = xasprintf("%s/not-executable", dir);
	ck_assert_int_eq(tu_write_file(noexec, "#!/bin/sh\nexit 0\n"), 0);
	ck_assert_int_eq(chmod(noexec, 0644), 0);
	ini = xasprintf("[worker:x]\ncommand = %s\nstartretries = 1\nfatal_retry = 0\n\n"
	    "[worker:y]\ncommand = %s\ndirectory = %s/missing\nstartretries = 1\n"
	    "fatal_retry = 0\n",
	    noexec, tw, dir);
	supt_start(&t, "sup-spawn-fail", ini);
	ck_assert_msg(supt_wait_state(&t, "x", "FATAL", 0, 5000), "x never FATAL");
	ck_assert_msg(supt_wait_state(&t, "y", "FATAL", 0, 5000), "y never FATAL");
	want = xasprintf("x: holdfastd: execve(%s): Permission denied", noexec);
	ck_assert_msg(tu_wait_file_count(t.log, want, 1, 5000), "no \"%s\"", want);
	free(want);
	want = xasprintf("y: holdfastd: chdir(%s/missing): No such file or directory", dir);
	ck_assert_msg(tu_wait_file_count(t.log, want, 1, 5000), "no \"%s\"", want);
	free(want);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_FATAL] name=x attempts=1 last=code=127"), 1);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_FATAL] name=y attempts=1 last=code=127"), 1);
	supt_finish(&t);
	tu_rmrf(dir);
	free(dir);
	free(noexec);
	free(ini);
	free(tw);
}
END_TEST

START_TEST(test_child_signals_and_listen_pid)
{
	struct hfd	 t;
	char		*ini, *v, *line, *log;
	int		 port = tu_free_port(SOCK_STREAM), lp = 0, self = -1;
	pid_t		 pid;

	ini = xasprintf("[worker:s]\ncommand = /bin/sleep 60\nstartsecs = 100ms\n\n"
	    "[worker:lp]\ncommand = /bin/sh -c 'echo \"lp=$LISTEN_PID self=$$$$\"; "
	    "exec /bin/sleep 60'\nlisten = 127.0.0.1:%d\n", port);
	supt_start(&t, "sup-spawn-env", ini);
	ck_assert(supt_wait_state(&t, "s", "RUNNING", 0, 5000));
	pid = supt_pid(&t, "s");
	ck_assert_int_gt(pid, 0);
	v = supt_proc_field(pid, "SigBlk:");
	ck_assert_str_eq(v, "0000000000000000");
	free(v);
	/* holdfastd ignores SIGPIPE; its worker must not. Signals 32 and 33
	 * are glibc's own (SIGCANCEL, SIGSETXID): no program can change them
	 * through libc and glibc sets its handler before it uses them, so
	 * what the environment left there (SIG_IGN under make) passes. */
	v = supt_proc_field(pid, "SigIgn:");
	ck_assert_ptr_nonnull(v);
	ck_assert_msg((strtoull(v, NULL, 16) & ~0x180000000ULL) == 0,
	    "worker ignores signals: SigIgn %s", v);
	free(v);
	ck_assert_msg(tu_wait_file_count(t.log, "lp: lp=", 1, 5000), "no LISTEN_PID line");
	log = tu_read_file(t.log, NULL);
	line = strstr(log, "lp: lp=");
	ck_assert_int_eq(sscanf(line, "lp: lp=%d self=%d", &lp, &self), 2);
	ck_assert_int_gt(lp, 0);
	ck_assert_int_eq(lp, self);
	free(log);
	supt_finish(&t);
	free(ini);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("supervisor_spawn");
	TCase	*tc = tu_tcase(s, "spawn", 60);

	tcase_add_test(tc, test_child_failures_reported);
	tcase_add_test(tc, test_child_signals_and_listen_pid);
	return tu_run(s);
}
