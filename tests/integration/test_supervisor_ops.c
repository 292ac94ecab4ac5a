/*
 * test_supervisor_ops: what an operator coming from supervisord or systemd
 * expects of holdfastd, with real processes.
 *
 * Guards docs/design.md §2 and §6: a worker that says hello but never "ready" is
 * stopped after start_timeout (stopsignal, SIGKILL after stopwaitsecs) and
 * counted as a failed start (BACKOFF, then FATAL after startretries), while
 * a slow but punctual one is left alone; SIGHUP applies [holdfast] at once
 * (control socket moved, socket_group, tail_lines, log_level, but -v
 * stays) without
 * touching a worker,
 * and keeps the old socket with a warning when the new one cannot be made;
 * a [database] or [whatsapp] change restarts, one at a time, the workers
 * that speak the channel (they read those sections) and gives one that
 * failed to start a fresh chance, never logging a value;
 * a file that does not parse, or a section that cannot be applied (its
 * listen address is taken), changes nothing, while a section renamed with
 * its listen address kept takes the socket over; groups added by a reload obey
 * autostart, a changed autostart is obeyed, and a removed group is stopped
 * with its stopsignal and SIGKILLed after its stopwaitsecs; a change to
 * keys only holdfastd reads (stopsignal, startretries, ...) reaches the
 * running processes without restarting them; a stop request that arrives
 * twice at once (a terminal's Ctrl-C) stops gracefully, while a second one
 * a second later kills at once.
 */
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "supt.h"
#include "tu.h"

/* The config with a [holdfast] section of its own (supt's is fixed). */
static void
ops_conf(struct hfd *t, const char *holdfast, const char *rest)
{
	char *text = xasprintf("[holdfast]\nshutdown_timeout = 5s\n%s\n%s", holdfast, rest);

	ck_assert_int_eq(tu_write_file(t->conf, text), 0);
	free(text);
}

/* Reloads with SIGHUP and waits for the log line that ends it. */
static void
ops_sighup(struct hfd *t, const char *until, int n)
{
	kill(t->pid, SIGHUP);
	ck_assert_msg(tu_wait_file_count(t->log, until, n, 5000),
	    "no \"%s\" (x%d) after SIGHUP", until, n);
}

START_TEST(test_start_timeout)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini;

	ini = xasprintf(
	    "[worker:st]\ncommand = %s -R\nstart_timeout = 300ms\nstartretries = 2\n"
	    "fatal_retry = 0\n"
	    "backoff_initial = 20ms\nbackoff_max = 50ms\n"
	    "[worker:tt]\ncommand = %s -R -T\nstart_timeout = 200ms\n"
	    "stopwaitsecs = 200ms\nstartretries = 1\nfatal_retry = 0\n"
	    "[worker:slow]\ncommand = %s -r 300\nstart_timeout = 3s\n", tw, tw, tw);
	supt_start(&t, "sup-starttmo", ini);
	ck_assert_msg(supt_wait_state(&t, "st", "FATAL", 0, 10000), "st never FATAL");
	ck_assert_msg(supt_wait_state(&t, "tt", "FATAL", 0, 10000), "tt never FATAL");
	ck_assert(supt_wait_state(&t, "slow", "RUNNING", 0, 5000));
	/* Each timeout is logged, stopped gracefully (testworker exits 0 on
	 * SIGTERM), and counted as a failed start. */
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_START_TIMEOUT] name=st "), 2);
	ck_assert_int_eq(supt_log_count(&t, "st: stopping pid"), 2);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_BACKOFF] name=st attempt=1/2 "
	    "last=start-timeout"), 1);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_FATAL] name=st attempts=2 "
	    "last=start-timeout"), 1);
	/* One that ignores the stop signal is SIGKILLed after stopwaitsecs. */
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_START_TIMEOUT] name=tt "), 1);
	ck_assert_int_eq(supt_log_count(&t, "tt: stopping pid"), 1);
	ck_assert_int_ge(supt_log_count(&t, "signal=SIGKILL"), 1);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_FATAL] name=tt attempts=1"), 1);
	/* Slow but within its start_timeout: never touched. */
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_START_TIMEOUT] name=slow"), 0);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_SPAWN] name=slow"), 1);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

START_TEST(test_reload_holdfast_section)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *out = NULL, *oldsock, *notsock;
	pid_t		 pid;
	int		 lines = 0;
	struct group	*gr;
	struct stat	 st;

	ini = xasprintf("[worker:a]\ncommand = %s -p 20\n", tw);
	supt_start(&t, "sup-rlhf", ini);
	ck_assert(supt_wait_state(&t, "a", "RUNNING", 0, 5000));
	ck_assert(tu_wait_file_count(t.log, "a: stdout line 19", 1, 5000));
	pid = supt_pid(&t, "a");
	ck_assert_int_eq(supt_log_count(&t, " DEBUG "), 0);

	ops_conf(&t, "control_socket = run/hf2.sock\ntail_lines = 5\nlog_level = debug\n",
	    ini);
	ops_sighup(&t, "reload: [holdfast] tail_lines changed: applied", 1);
	oldsock = t.sock;
	t.sock = xasprintf("%s/run/hf2.sock", t.dir);
	ck_assert_msg(hfd_wait_up(&t, 5000), "no control on the new socket");
	ck_assert_msg(access(oldsock, F_OK) == -1, "old socket %s left behind", oldsock);
	ck_assert_int_eq(hfd_ctl(&t, "tail a", &out), 0);
	for (char *s = out; s != NULL && *s != '\0'; s++)
		lines += *s == '\n';
	ck_assert_msg(lines == 5, "tail gave %d lines, want 5:\n%s", lines, out);
	free(out);
	ck_assert_int_eq(supt_pid(&t, "a"), pid);	/* workers untouched */
	ck_assert_int_gt(supt_log_count(&t, " DEBUG "), 0);

	/* A socket that cannot be made keeps the old one, with a warning. */
	notsock = xasprintf("%s/run/plain", t.dir);
	ck_assert_int_eq(tu_write_file(notsock, "not a socket"), 0);
	ops_conf(&t, "control_socket = run/plain\ntail_lines = 5\nlog_level = debug\n",
	    ini);
	ops_sighup(&t, "exists and is not a socket", 1);
	ck_assert_int_eq(supt_log_count(&t, "keeping " ), 1);
	ck_assert_int_eq(hfd_ctl(&t, "pid a >/dev/null 2>&1", NULL), 0);
	ck_assert_int_eq(supt_pid(&t, "a"), pid);

	/* socket_group is applied to the socket in place, and taken back. */
	ck_assert_ptr_nonnull(gr = getgrnam("daemon"));
	ops_conf(&t, "control_socket = run/hf2.sock\nsocket_group = daemon\n", ini);
	ops_sighup(&t, "(0660, group daemon)", 1);
	ck_assert_int_eq(stat(t.sock, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0660);
	ck_assert_int_eq(st.st_gid, gr->gr_gid);
	ops_conf(&t, "control_socket = run/hf2.sock\n", ini);
	ops_sighup(&t, "(0600)", 2);	/* the first: the move above */
	ck_assert_int_eq(stat(t.sock, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	supt_finish(&t);
	free(notsock);
	free(oldsock);
	free(ini);
	free(tw);
}
END_TEST

START_TEST(test_reload_database_restarts_workers)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *ini2, *ini3, *fault, *dead;
	pid_t		 c0, c1, plain;

	/* dead: FATAL for a fault the [database] change will have fixed. */
	fault = xasprintf("/tmp/hf-dbfault-%d", (int)getpid());
	ck_assert_int_eq(tu_write_file(fault, "x"), 0);
	dead = xasprintf("[worker:dead]\ncommand = %s -F %s\nstartretries = 1\n"
	    "fatal_retry = 0\n", tw, fault);
	ini = xasprintf("[database]\nconninfo = host=127.0.0.1 password=sekrit1\n"
	    "[worker:chan]\ncommand = %s\nnumprocs = 2\n"
	    "[worker:plain]\ncommand = %s -X\nstartsecs = 100ms\n%s", tw, tw, dead);
	supt_start(&t, "sup-rldb", ini);
	ops_conf(&t, "control_socket = run/hf.sock\n", ini);
	ck_assert(supt_wait_state(&t, "chan:0", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "chan:1", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "plain", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "dead", "FATAL", 0, 5000));
	unlink(fault);
	c0 = supt_pid(&t, "chan:0");
	c1 = supt_pid(&t, "chan:1");
	plain = supt_pid(&t, "plain");

	ini2 = xasprintf("[database]\nconninfo = host=127.0.0.1 password=sekrit2\n"
	    "pool_size = 8\n[worker:chan]\ncommand = %s\nnumprocs = 2\n"
	    "[worker:plain]\ncommand = %s -X\nstartsecs = 100ms\n%s", tw, tw, dead);
	ops_conf(&t, "control_socket = run/hf.sock\n", ini2);
	ops_sighup(&t, "chan: rolling restart done", 1);
	ck_assert_int_eq(supt_log_count(&t, "reload: [database] changed "
	    "(conninfo, pool_size)"), 1);
	ck_assert(supt_wait_state(&t, "chan:0", "RUNNING", c0, 5000));
	ck_assert(supt_wait_state(&t, "chan:1", "RUNNING", c1, 5000));
	ck_assert_int_eq(supt_pid(&t, "plain"), plain);	/* no channel: not ours to guess */
	ck_assert_msg(supt_wait_state(&t, "dead", "RUNNING", 0, 5000), "FATAL not retried");
	ck_assert_int_eq(supt_log_count(&t, "sekrit"), 0);

	/* [whatsapp] too; an unchanged reload restarts nothing. */
	c0 = supt_pid(&t, "chan:0");
	ini3 = xasprintf("[whatsapp]\napp_secret = sekrit3\n%s", ini2);
	ops_conf(&t, "control_socket = run/hf.sock\n", ini3);
	ops_sighup(&t, "chan: rolling restart done", 2);
	ck_assert_int_eq(supt_log_count(&t, "reload: [whatsapp] changed (app_secret)"), 1);
	ck_assert(supt_wait_state(&t, "chan:0", "RUNNING", c0, 5000));
	c0 = supt_pid(&t, "chan:0");
	ops_sighup(&t, "reload: /", 3);
	tu_sh("sleep 0.3", NULL);
	ck_assert_int_eq(supt_pid(&t, "chan:0"), c0);
	ck_assert_int_eq(supt_log_count(&t, "rolling restart of"), 2);
	ck_assert_int_eq(supt_log_count(&t, "sekrit"), 0);
	supt_finish(&t);
	free(ini);
	free(ini2);
	free(ini3);
	free(dead);
	free(fault);
	free(tw);
}
END_TEST

/* The pid in the "OK <pid>" a testworker -a answers on port, or -1. */
static int
ops_answer(int port)
{
	struct sockaddr_in	 sin = tu_loopback(port);
	char			 buf[64];
	int			 fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), pid = -1;
	ssize_t			 n;

	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    (n = read(fd, buf, sizeof(buf) - 1)) > 3) {
		buf[n] = '\0';
		if (strncmp(buf, "OK ", 3) == 0)
			pid = atoi(buf + 3);
	}
	close(fd);
	return pid;
}

START_TEST(test_reload_refused_changes_nothing)
{
	struct hfd		 t;
	char			*tw = supt_tw(), *ini, *ini2, *out = NULL, *want;
	int			 p1 = tu_free_port(SOCK_STREAM), p2 = tu_free_port(SOCK_STREAM);
	int			 fd, on = 1;
	struct sockaddr_in	 sin;
	pid_t			 web, other;

	ini = xasprintf("[worker:web]\ncommand = %s -a\nlisten = 127.0.0.1:%d\n"
	    "[worker:other]\ncommand = %s\n", tw, p1, tw);
	supt_start(&t, "sup-rlref", ini);
	ck_assert(supt_wait_state(&t, "web", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "other", "RUNNING", 0, 5000));
	web = supt_pid(&t, "web");
	other = supt_pid(&t, "other");

	/* SIGHUP with a file that does not parse: file:line: reason. */
	supt_write_conf(&t, "[worker:web]\ncommand = x\nbogus_key = 1\n");
	ops_sighup(&t, "reload: keeping the running configuration: ", 1);
	want = xasprintf("%s:8: ", t.conf);
	ck_assert_msg(supt_log_count(&t, want) == 1, "no \"%s\" in the log", want);
	free(want);

	/* A new listen address that is taken: refused as a whole, even the
	 * section that could apply, and the old group keeps working. */
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	sin = tu_loopback(p2);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ini2 = xasprintf("[worker:web]\ncommand = %s -a\nlisten = 127.0.0.1:%d\n"
	    "[worker:other]\ncommand = %s -p 1\n", tw, p2, tw);
	supt_write_conf(&t, ini2);
	ck_assert_int_eq(hfd_ctl(&t, "reload 2>&1", &out), 1);
	ck_assert_msg(strstr(out, "[worker:web]") != NULL && strstr(out, "bind(") != NULL,
	    "reload said: %s", out);
	free(out);
	tu_sh("sleep 0.2", NULL);
	ck_assert_int_eq(supt_pid(&t, "web"), web);
	ck_assert_int_eq(supt_pid(&t, "other"), other);
	/* Its settings are still live: killed, it comes back on its socket. */
	kill(web, SIGKILL);
	ck_assert(supt_wait_state(&t, "web", "RUNNING", web, 5000));
	ck_assert_msg(ops_answer(p1) == supt_pid(&t, "web"), "nobody answers on :%d", p1);
	close(fd);
	/* Once the address is free the same file applies. */
	ck_assert_int_eq(hfd_ctl(&t, "reload >/dev/null 2>&1", NULL), 0);
	ck_assert(supt_wait_state(&t, "other", "RUNNING", other, 5000));
	ck_assert_int_eq(supt_log_count(&t, "reload: [worker:web] replaced"), 1);
	/* A section renamed with its address kept takes the socket over
	 * instead of failing to bind it. */
	free(ini2);
	ini2 = xasprintf("[worker:www]\ncommand = %s -a\nlisten = 127.0.0.1:%d\n"
	    "[worker:other]\ncommand = %s -p 1\n", tw, p2, tw);
	supt_write_conf(&t, ini2);
	ck_assert_int_eq(hfd_ctl(&t, "reload >/dev/null 2>&1", NULL), 0);
	ck_assert(supt_wait_state(&t, "www", "RUNNING", 0, 5000));
	ck_assert(tu_wait_file_count(t.log, "web: removed", 1, 5000));
	ck_assert_msg(ops_answer(p2) == supt_pid(&t, "www"), "www does not answer on :%d", p2);
	supt_finish(&t);
	free(ini);
	free(ini2);
	free(tw);
}
END_TEST

START_TEST(test_reload_autostart_and_removal)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *ini2, *ini3, *line, *out = NULL;
	pid_t		 rm;

	ini = xasprintf("[worker:keep]\ncommand = %s\n"
	    "[worker:rm]\ncommand = %s -T\nstopsignal = INT\nstopwaitsecs = 5s\n"
	    "[worker:rmk]\ncommand = %s -T\nstopwaitsecs = 300ms\n"
	    "[worker:flip]\ncommand = %s\nautostart = false\n", tw, tw, tw, tw);
	supt_start(&t, "sup-rlauto", ini);
	ck_assert(supt_wait_state(&t, "rm", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "rmk", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "flip", "STOPPED", 0, 5000));
	rm = supt_pid(&t, "rm");

	ini2 = xasprintf("[worker:keep]\ncommand = %s\n"
	    "[worker:flip]\ncommand = %s\nautostart = true\n"
	    "[worker:new1]\ncommand = %s\nautostart = false\n"
	    "[worker:new2]\ncommand = %s\n", tw, tw, tw, tw);
	ops_conf(&t, "control_socket = run/hf.sock\n", ini2);
	/* `holdfastctl reload` says what it did to each group, and only those. */
	ck_assert_int_eq(hfd_ctl(&t, "reload 2>&1", &out), 0);
	ck_assert_msg(strstr(out, "rm: removed\n") && strstr(out, "rmk: removed\n") &&
	    strstr(out, "flip: updated\n") && strstr(out, "new1: added\n") &&
	    strstr(out, "new2: added\n") && !strstr(out, "keep:") &&
	    strstr(out, "reloaded\n"), "reload said:\n%s", out);
	free(out);
	ck_assert_int_eq(supt_log_count(&t, "reload: [worker:new2] added"), 1);
	/* Removed: its own stopsignal (INT, not ignored), then gone. */
	line = xasprintf("rm: stopping pid %d with SIGINT", (int)rm);
	ck_assert_int_eq(supt_log_count(&t, line), 1);
	free(line);
	ck_assert(tu_wait_file_count(t.log, "rm: removed", 1, 5000));
	ck_assert(!tu_pid_alive(rm));
	/* Removed and deaf to SIGTERM: SIGKILL after its stopwaitsecs. */
	ck_assert(tu_wait_file_count(t.log, "rmk: removed", 1, 5000));
	ck_assert_int_eq(supt_log_count(&t, "rmk: pid"), 1);
	ck_assert_int_eq(supt_log_count(&t, "after the stop signal: SIGKILL"), 1);
	/* Added groups obey autostart; a flipped autostart is obeyed. */
	ck_assert(supt_wait_state(&t, "new2", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "flip", "RUNNING", 0, 5000));
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_SPAWN] name=new1"), 0);
	ck_assert(supt_wait_state(&t, "new1", "STOPPED", 0, 1000));

	ini3 = xasprintf("[worker:keep]\ncommand = %s\n"
	    "[worker:flip]\ncommand = %s\nautostart = false\n"
	    "[worker:new1]\ncommand = %s\nautostart = false\n"
	    "[worker:new2]\ncommand = %s\n", tw, tw, tw, tw);
	ops_conf(&t, "control_socket = run/hf.sock\n", ini3);
	ops_sighup(&t, "reload: [worker:flip] changed: applied without a restart", 2);
	ck_assert(supt_wait_state(&t, "flip", "STOPPED", 0, 5000));
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_SPAWN] name=keep"), 1);
	supt_finish(&t);
	free(ini);
	free(ini2);
	free(ini3);
	free(tw);
}
END_TEST

START_TEST(test_reload_supervision_keys_in_place)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *ini2, *line;
	pid_t		 pid;

	ini = xasprintf("[worker:calm]\ncommand = %s -T\nstopwaitsecs = 20s\n", tw);
	supt_start(&t, "sup-rlinpl", ini);
	ck_assert(supt_wait_state(&t, "calm", "RUNNING", 0, 5000));
	pid = supt_pid(&t, "calm");
	ini2 = xasprintf("[worker:calm]\ncommand = %s -T\nstopwaitsecs = 20s\n"
	    "stopsignal = INT\nstartretries = 9\nbackoff_max = 1s\npriority = 5\n", tw);
	ops_conf(&t, "control_socket = run/hf.sock\n", ini2);
	ops_sighup(&t, "reload: [worker:calm] changed: applied without a restart", 1);
	ck_assert_int_eq(supt_pid(&t, "calm"), pid);
	/* The running process is stopped with the new stopsignal (it ignores
	 * the old one, and would take stopwaitsecs = 20s to die). */
	ck_assert_int_eq(hfd_ctl(&t, "stop calm >/dev/null", NULL), 0);
	line = xasprintf("calm: stopping pid %d with SIGINT", (int)pid);
	ck_assert_int_eq(supt_log_count(&t, line), 1);
	free(line);
	ck_assert(!tu_pid_alive(pid));
	/* A key the worker reads still restarts it. */
	ck_assert_int_eq(hfd_ctl(&t, "start calm >/dev/null", NULL), 0);
	pid = supt_pid(&t, "calm");
	free(ini2);
	ini2 = xasprintf("[worker:calm]\ncommand = %s -T\nstopwaitsecs = 300ms\n"
	    "stopsignal = INT\nstartretries = 9\nbackoff_max = 1s\npriority = 5\n", tw);
	ops_conf(&t, "control_socket = run/hf.sock\n", ini2);
	ops_sighup(&t, "reload: [worker:calm] changed: restarting it", 1);
	ck_assert(supt_wait_state(&t, "calm", "RUNNING", pid, 5000));
	supt_finish(&t);
	free(ini);
	free(ini2);
	free(tw);
}
END_TEST

/* holdfastd -v: debug stays on whatever log_level a reload brings. */
START_TEST(test_reload_keeps_verbose)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini;
	int		 before;

	hfd_init(&t, "sup-rlverb");
	ini = xasprintf("[worker:a]\ncommand = %s\n", tw);
	ops_conf(&t, "control_socket = run/hf.sock\nlog_level = info\n", ini);
	hfd_spawn_argv(&t, NULL, (char *[]){ "-v", NULL }, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert(supt_wait_state(&t, "a", "RUNNING", 0, 5000));
	ops_conf(&t, "control_socket = run/hf.sock\nlog_level = warn\n", ini);
	ops_sighup(&t, "log_level changed", 1);
	before = supt_log_count(&t, " DEBUG ");
	ck_assert_int_eq(hfd_ctl(&t, "restart a >/dev/null", NULL), 0);
	ck_assert_msg(supt_log_count(&t, " DEBUG ") > before, "-v lost on reload");
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

/*
 * A Ctrl-C in a terminal reaches holdfastd and the script that started it
 * (which forwards a SIGTERM): one request, so the workers still get their
 * graceful stop. A second request a second later is a person insisting:
 * SIGKILL to all, at once.
 */
START_TEST(test_shutdown_signal_twice)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini;
	pid_t		 pid, hpid;
	int		 status;

	ini = xasprintf("[worker:stubborn]\ncommand = %s -T\nstopwaitsecs = 30s\n", tw);
	supt_start(&t, "sup-twice", ini);
	ck_assert(supt_wait_state(&t, "stubborn", "RUNNING", 0, 5000));
	pid = supt_pid(&t, "stubborn");
	hpid = t.pid;
	kill(hpid, SIGINT);
	usleep(100 * 1000);	/* the script's trap runs a little later */
	kill(hpid, SIGTERM);
	ck_assert(tu_wait_file_count(t.log, "during shutdown: already stopping", 1, 5000));
	usleep(300 * 1000);
	ck_assert_msg(tu_pid_alive(pid), "the worker was killed by a doubled signal");
	ck_assert_int_eq(supt_log_count(&t, "SIGKILL to all"), 0);
	usleep(1000 * 1000);
	kill(hpid, SIGINT);
	ck_assert_msg(tu_wait_pid(hpid, 5000, &status) == 0, "holdfastd still running");
	t.pid = 0;
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(supt_log_count(&t, "SIGINT during shutdown: SIGKILL to all"), 1);
	ck_assert_msg(!tu_pid_alive(pid), "worker %d survived", (int)pid);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("supervisor_ops");
	TCase	*tc = tu_tcase(s, "ops", 60);

	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(tc, test_start_timeout);
	tcase_add_test(tc, test_reload_holdfast_section);
	tcase_add_test(tc, test_reload_database_restarts_workers);
	tcase_add_test(tc, test_reload_refused_changes_nothing);
	tcase_add_test(tc, test_reload_autostart_and_removal);
	tcase_add_test(tc, test_reload_supervision_keys_in_place);
	tcase_add_test(tc, test_reload_keeps_verbose);
	tcase_add_test(tc, test_shutdown_signal_twice);
	return tu_run(s);
}
