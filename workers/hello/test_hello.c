/*
 * test_hello: holdfast-hello, the smallest worker, under a real holdfastd.
 * It is the proof that a worker is one directory: its key row
 * (workers/hello/keys.def) is accepted in its section, reaches the worker,
 * and decides what a reload does; the worker says ready on its channel.
 */
#include <check.h>
#include <signal.h>

#include "supt.h"

static char *
hello_conf(const char *interval)
{
	char	*bin = tu_buildpath("workers/hello/holdfast-hello");
	char	*ini = xasprintf("[worker:hello]\ncommand = %s\n"
	    "startsecs = 1h\nhello_interval = %s\n", bin, interval);

	free(bin);
	return ini;
}

/* startsecs = 1h: RUNNING within seconds can only come from "ready". */
START_TEST(test_hello_ready)
{
	struct hfd	 t;
	char		*ini = hello_conf("100ms");

	supt_start(&t, "hello", ini);
	ck_assert_msg(supt_wait_state(&t, "hello", "RUNNING", 0, 10000), "hello not RUNNING");
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_READY] name=hello "), 1);
	/* hello_interval (its own row) reaches it: a line every 100ms. */
	ck_assert_msg(tu_wait_file_count(t.log, "[HELLO] instance=hello", 4, 5000),
	    "fewer than 4 [HELLO] lines in %s", t.log);
	supt_finish(&t);
	free(ini);
}
END_TEST

/* Its row says RESTART: a changed hello_interval restarts the process. */
START_TEST(test_hello_reload)
{
	struct hfd	 t;
	char		*ini = hello_conf("1h"), *ini2 = hello_conf("50ms");
	pid_t		 pid;

	supt_start(&t, "hello-reload", ini);
	ck_assert(supt_wait_state(&t, "hello", "RUNNING", 0, 10000));
	pid = supt_pid(&t, "hello");
	supt_write_conf(&t, ini2);
	kill(t.pid, SIGHUP);
	ck_assert_msg(supt_wait_state(&t, "hello", "RUNNING", pid, 10000),
	    "hello not restarted by a new hello_interval");
	ck_assert(tu_wait_file_count(t.log, "[HELLO] instance=hello", 6, 5000));
	supt_finish(&t);
	free(ini);
	free(ini2);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("hello");
	TCase	*tc = tu_tcase(s, "hello", 60);

	tcase_add_test(tc, test_hello_ready);
	tcase_add_test(tc, test_hello_reload);
	return tu_run(s);
}
