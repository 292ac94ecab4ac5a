/*
 * test_supervisor_ctl: operating holdfastd, with real processes.
 *
 * Guards docs/design.md §2-3 and §6: SIGHUP applies only what changed (pids of the
 * untouched workers stay the same, a bad config changes nothing); a group
 * of 2 sharing an inherited TCP socket restarted with `holdfastctl restart`
 * never refuses a connection; the control socket shrugs off garbage, 1 MiB
 * lines, half messages and unknown commands, refuses a peer uid it does not
 * allow, is created 0600, replaces a stale socket and does not steal a live
 * one; a bare command is found through the libexec search and the child
 * gets HOLDFAST_CONFIG (absolute), HOLDFAST_INSTANCE, HOLDFAST_CHANNEL_FD,
 * HOLDFAST_HEARTBEAT_MS and its environment=; worker output reaches holdfastd's stderr, `tail -f` and size-rotated
 * log files; every holdfastctl exit code means what docs/design.md §3 says; `holdfastd -t`
 * checks a config like `nginx -t`.
 */
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "supt.h"
#include "tu.h"

START_TEST(test_reload_touches_only_changes)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *ini2, *out = NULL;
	pid_t		 keep0, keep1, chg, rm;

	ini = xasprintf("[worker:keep]\ncommand = %s\nnumprocs = 2\n"
	    "[worker:chg]\ncommand = %s\n[worker:rm]\ncommand = %s\n", tw, tw, tw);
	supt_start(&t, "sup-reload", ini);
	ck_assert(supt_wait_state(&t, "keep:0", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "keep:1", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "chg", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "rm", "RUNNING", 0, 5000));
	keep0 = supt_pid(&t, "keep:0");
	keep1 = supt_pid(&t, "keep:1");
	chg = supt_pid(&t, "chg");
	rm = supt_pid(&t, "rm");

	/* A broken file is refused and nothing changes. */
	supt_write_conf(&t, "[worker:keep]\nnumproc = 2\n");
	ck_assert_int_eq(hfd_ctl(&t, "reload 2>&1", &out), 1);
	ck_assert_msg(strstr(out, "holdfast.conf:") != NULL, "reload said: %s", out);
	free(out);
	ck_assert_int_eq(supt_pid(&t, "rm"), rm);

	ini2 = xasprintf("[worker:keep]\ncommand = %s\nnumprocs = 2\n"
	    "[worker:chg]\ncommand = %s -p 1\n[worker:add]\ncommand = %s\n", tw, tw, tw);
	supt_write_conf(&t, ini2);
	kill(t.pid, SIGHUP);
	ck_assert_msg(supt_wait_state(&t, "add", "RUNNING", 0, 5000), "added not started");
	ck_assert_msg(supt_wait_state(&t, "chg", "RUNNING", chg, 5000), "changed not restarted");
	ck_assert_msg(supt_wait_state(&t, "rm", "GONE", 0, 5000), "removed still listed");
	ck_assert(!tu_pid_alive(rm));
	ck_assert_int_eq(supt_pid(&t, "keep:0"), keep0);
	ck_assert_int_eq(supt_pid(&t, "keep:1"), keep1);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_SPAWN] name=keep"), 2);
	supt_finish(&t);
	free(ini);
	free(ini2);
	free(tw);
}
END_TEST

/* ---- rolling restart ------------------------------------------------- */

/* The first line at or after from holding both a and b. */
static char *
find_line(char *from, const char *a, const char *b)
{
	for (char *l = from; l != NULL && *l != '\0'; ) {
		char *nl = strchr(l, '\n'), *pa, *pb;

		if (nl != NULL)
			*nl = '\0';
		pa = strstr(l, a);
		pb = strstr(l, b);
		if (nl != NULL)
			*nl = '\n';
		if (pa != NULL && pb != NULL)
			return l;
		l = nl != NULL ? nl + 1 : NULL;
	}
	return NULL;
}

START_TEST(test_rolling_restart_no_refused)
{
	struct hfd	 t;
	char			*tw = supt_tw(), *ini;
	int			 port = tu_free_port(SOCK_STREAM);
	pid_t			 p0, p1;
	struct supt_client	 c;

	ini = xasprintf("[worker:web]\ncommand = %s -a -r 150\nnumprocs = 2\n"
	    "listen = 127.0.0.1:%d\nrestart_mode = stop-first\n", tw, port);
	supt_start(&t, "sup-rolling", ini);
	ck_assert(supt_wait_state(&t, "web:0", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "web:1", "RUNNING", 0, 5000));
	p0 = supt_pid(&t, "web:0");
	p1 = supt_pid(&t, "web:1");
	/* A reset (EOF without an answer) fails it too. */
	supt_client_start(&c, &t, port, 1);
	ck_assert_int_eq(hfd_ctl(&t, "restart web >/dev/null", NULL), 0);
	/* restart waited for the whole roll: both are new already. */
	ck_assert_int_ne(supt_pid(&t, "web:0"), p0);
	ck_assert_int_ne(supt_pid(&t, "web:1"), p1);
	ck_assert_msg(supt_wait_state(&t, "web:1", "RUNNING", p1, 5000), "web:1 not restarted");
	ck_assert_msg(supt_wait_state(&t, "web:0", "RUNNING", p0, 5000), "web:0 not restarted");
	ck_assert_int_eq(tu_wait_file_count(t.log, "web: rolling restart done", 1, 5000), 1);
	tu_sh("sleep 0.2", NULL);
	supt_client_finish(&c);
	ck_assert_msg(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "client: %s", c.rep);
	/* One at a time: web:1 is stopped only once web:0 is ready again. */
	{
		char *log = tu_read_file(t.log, NULL);
		char *roll = strstr(log, "web: rolling restart of 2");
		char *ready0, *stop1;

		ck_assert_ptr_nonnull(roll);
		ready0 = strstr(roll, "[WORKER_READY] name=web:0");
		stop1 = find_line(roll, "name=web:1 ", "RUNNING -> STOPPING");
		ck_assert_ptr_nonnull(ready0);
		ck_assert_ptr_nonnull(stop1);
		ck_assert(stop1 > ready0);
		free(log);
	}
	supt_client_free(&c);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

/* ---- the control socket ---------------------------------------------- */

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct timeval		 tv = { 5, 0 };

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Sends raw bytes (optionally half-closing) and returns the first reply line. */
static char *
ctl_raw(const char *sock, const char *data, size_t len, int shut)
{
	int	 fd = ctl_connect(sock);
	size_t	 off = 0;
	char	*buf = xcalloc(1, 4096), *nl;
	size_t	 got = 0;
	ssize_t	 n;

	ck_assert_int_ge(fd, 0);
	while (off < len && (n = write(fd, data + off, len - off)) > 0)
		off += n;
	if (shut)
		shutdown(fd, SHUT_WR);
	while (got < 4095 && (n = read(fd, buf + got, 4095 - got)) > 0) {
		got += n;
		if ((nl = memchr(buf, '\n', got)) != NULL) {
			*nl = '\0';
			break;
		}
	}
	close(fd);
	return buf;
}

static void
expect_error(const char *reply, const char *needle)
{
	ck_assert_msg(strstr(reply, "\"ok\":false") != NULL, "not an error: %s", reply);
	ck_assert_msg(strstr(reply, needle) != NULL, "reply %s lacks %s", reply, needle);
}

START_TEST(test_ctl_bad_input)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *r, *big;
	size_t		 len = 1024 * 1024;
	pid_t		 w;

	ini = xasprintf("[worker:a]\ncommand = %s\n", tw);
	supt_start(&t, "sup-garbage", ini);
	ck_assert(supt_wait_state(&t, "a", "RUNNING", 0, 5000));
	w = supt_pid(&t, "a");
	r = ctl_raw(t.sock, "garbage\n", 8, 0);
	expect_error(r, "bad message");
	free(r);
	big = xmalloc(len + 1);
	memset(big, 'A', len);
	big[len] = '\n';
	r = ctl_raw(t.sock, big, len + 1, 0);
	expect_error(r, "too large");
	free(r);
	free(big);
	r = ctl_raw(t.sock, "{\"cmd\":\"sta", 11, 1);
	expect_error(r, "EOF in the middle");
	free(r);
	r = ctl_raw(t.sock, "{\"cmd\":\"explode\"}\n", 18, 0);
	expect_error(r, "unknown command");
	free(r);
	r = ctl_raw(t.sock, "{\"cmd\":\"status\",\"names\":[1]}\n", 29, 0);
	expect_error(r, "usage");
	free(r);
	r = ctl_raw(t.sock, "{\"cmd\":\"start\"}\n", 16, 0);
	expect_error(r, "usage");
	free(r);
	/* Unharmed: still answering, same worker, still running. */
	ck_assert(tu_pid_alive(t.pid));
	ck_assert_int_eq(hfd_ctl(&t, "status >/dev/null", NULL), 0);
	ck_assert_int_eq(supt_pid(&t, "a"), w);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

START_TEST(test_ctl_peer_uid_refused)
{
	struct hfd	 t;
	struct passwd	*pw = getpwnam("nobody");
	struct stat	 st;
	pid_t		 child;
	int		 status;
	char		*report;

	if (getuid() != 0 || pw == NULL) {
		fprintf(stderr, "test_ctl_peer_uid_refused: needs root and user nobody\n");
		return;
	}
	supt_start(&t, "sup-uid", "");
	ck_assert_int_eq(stat(t.sock, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* The socket's mode alone would stop nobody; open the way so that
	 * the SO_PEERCRED check is what refuses. */
	chmod(t.dir, 0755);
	chmod(t.sock, 0666);
	{
		char *run = xasprintf("%s/run", t.dir);

		chmod(run, 0755);
		free(run);
	}
	report = xasprintf("%s/uid-report", t.dir);
	if ((child = fork()) == 0) {
		char *r;

		if (setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1)
			_exit(3);
		r = ctl_raw(t.sock, "{\"cmd\":\"status\"}\n", 17, 0);
		_exit(strstr(r, "\"denied\"") != NULL && strstr(r, "procs") == NULL ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "uid nobody was not refused (status %d)", status);
	ck_assert_int_eq(supt_log_count(&t, "control: refused uid"), 1);
	ck_assert_int_eq(hfd_ctl(&t, "status >/dev/null", NULL), 0);
	free(report);
	supt_finish(&t);
}
END_TEST

START_TEST(test_ctl_socket_stale_and_live)
{
	struct hfd	 t;
	char		*hd = tu_buildpath("supervisor/holdfastd"), *cmd, *out = NULL;
	int		 fd, rc;
	struct sockaddr_un sun;

	supt_start(&t, "sup-sock", "");
	/* A live one is not stolen. */
	cmd = xasprintf("%s -c %s 2>&1", hd, t.conf);
	rc = tu_sh(cmd, &out);
	ck_assert_int_ne(rc, 0);
	ck_assert_msg(strstr(out, "another holdfastd is running") != NULL, "said: %s", out);
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "status >/dev/null", NULL), 0);
	/* A stale one (its holdfastd was killed) is replaced. */
	kill(t.pid, SIGKILL);
	tu_wait_pid(t.pid, 2000, NULL);
	t.pid = 0;
	unlink(t.sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", t.sock);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);			/* bound, never listening: stale */
	hfd_spawn(&t, NULL);
	ck_assert_msg(hfd_wait_up(&t, 5000), "did not replace the stale socket");
	ck_assert_int_eq(supt_log_count(&t, "removing stale socket"), 1);
	free(cmd);
	free(hd);
	supt_finish(&t);
}
END_TEST

START_TEST(test_ctl_exit_codes)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *out = NULL, *ctl = tu_buildpath("supervisor/holdfastctl");
	char		*cmd;

	ini = xasprintf("[worker:ok]\ncommand = %s -p 3 -S\n"
	    "[worker:dbdown]\ncommand = %s -D NeonEndpointDisabled\n"
	    "[worker:off]\ncommand = %s\nautostart = false\n", tw, tw, tw);
	supt_start(&t, "sup-codes", ini);
	ck_assert(supt_wait_state(&t, "ok", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "dbdown", "RUNNING", 0, 5000));
	/* 0: everything named is RUNNING. */
	ck_assert_int_eq(hfd_ctl(&t, "status ok dbdown", &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "NAME"));
	ck_assert_ptr_nonnull(strstr(out, "RESTARTS"));
	ck_assert_ptr_nonnull(strstr(out, "NeonEndpointDisabled"));
	ck_assert_ptr_nonnull(strstr(out, "down "));
	free(out);
	/* 3: something is not RUNNING (off never started). */
	ck_assert_int_eq(hfd_ctl(&t, "status >/dev/null", NULL), 3);
	ck_assert_int_eq(hfd_ctl(&t, "status off >/dev/null", NULL), 3);
	/* 3: health with a DB down; 0 when only healthy ones are asked. */
	ck_assert_int_eq(hfd_ctl(&t, "health >/dev/null", NULL), 3);
	ck_assert_int_eq(hfd_ctl(&t, "health ok >/dev/null", NULL), 0);
	/* 4: no such process, for every command that takes names. */
	ck_assert_int_eq(hfd_ctl(&t, "status nosuch 2>/dev/null", NULL), 4);
	ck_assert_int_eq(hfd_ctl(&t, "start nosuch 2>/dev/null", NULL), 4);
	ck_assert_int_eq(hfd_ctl(&t, "restart ok nosuch 2>/dev/null", NULL), 4);
	ck_assert_int_eq(hfd_ctl(&t, "tail nosuch 2>/dev/null", NULL), 4);
	/* 2: usage. */
	ck_assert_int_eq(hfd_ctl(&t, "frobnicate 2>/dev/null", NULL), 2);
	ck_assert_int_eq(hfd_ctl(&t, "start 2>/dev/null", NULL), 2);
	ck_assert_int_eq(hfd_ctl(&t, "--bogus status 2>/dev/null", NULL), 2);
	/* 1: cannot reach the supervisor. */
	cmd = xasprintf("%s -s %s/nothing.sock status 2>/dev/null", ctl, t.dir);
	ck_assert_int_eq(tu_sh(cmd, NULL), 1);
	free(cmd);
	/* The rest of the commands. */
	ck_assert_int_eq(hfd_ctl(&t, "pid", &out), 0);
	ck_assert_int_eq(atoi(out), t.pid);
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "pid ok", &out), 0);
	ck_assert_int_eq(atoi(out), supt_pid(&t, "ok"));
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "tail ok", &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "stdout line 2"));
	ck_assert_ptr_nonnull(strstr(out, "stderr line 2"));
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "version", &out), 0);
	ck_assert_ptr_nonnull(strstr(out, PACKAGE_VERSION));
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "--json status ok", &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"state\":\"RUNNING\""));
	ck_assert_msg(strstr(out, "\"served\":7") != NULL, "no stats in %s", out);
	free(out);
	/* A reply later than holdfastctl's polling window (CTL_SPIN_US:
	 * holdfastd stopped for 300 ms) still arrives: it then blocks. */
	{
		pid_t		 cont;
		uint64_t	 t0 = hf_now_mono_ms();

		ck_assert_int_eq(kill(t.pid, SIGSTOP), 0);
		if ((cont = fork()) == 0) {
			usleep(300 * 1000);
			kill(t.pid, SIGCONT);
			_exit(0);
		}
		ck_assert_int_eq(hfd_ctl(&t, "status ok", &out), 0);
		ck_assert_uint_ge(hf_now_mono_ms() - t0, 250);
		ck_assert_ptr_nonnull(strstr(out, "RUNNING"));
		free(out);
		ck_assert_int_eq(tu_wait_pid(cont, 5000, NULL), 0);
	}
	/* start waits until RUNNING (so no polling is needed); --no-wait not. */
	ck_assert_int_eq(hfd_ctl(&t, "start off", &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "RUNNING"));
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "--no-wait restart off", &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "STOPPING"));
	free(out);
	ck_assert(supt_wait_state(&t, "off", "RUNNING", 0, 5000));
	ck_assert_int_eq(hfd_ctl(&t, "stop all", &out), 0);
	ck_assert_ptr_null(strstr(out, "RUNNING"));
	ck_assert_ptr_null(strstr(out, "STOPPING"));
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "shutdown", &out), 0);
	free(out);
	{
		int status = -1;

		ck_assert_int_eq(tu_wait_pid(t.pid, 5000, &status), 0);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		t.pid = 0;
	}
	supt_finish(&t);
	free(ctl);
	free(ini);
	free(tw);
}
END_TEST

START_TEST(test_user_drop)
{
	struct hfd	 t;
	struct passwd	*pw = getpwnam("nobody");
	char		*tw, *ini, *path, *st;
	pid_t		 pid;

	if (getuid() != 0 || pw == NULL) {
		fprintf(stderr, "test_user_drop: needs root and user nobody\n");
		return;
	}
	hfd_init(&t, "sup-user");
	tw = supt_tw_reachable(&t);
	ini = xasprintf("[worker:u]\ncommand = %s\nuser = nobody\n", tw);
	supt_write_conf(&t, ini);
	hfd_spawn(&t, NULL);
	ck_assert_msg(hfd_wait_up(&t, 5000), "holdfastd did not come up");
	ck_assert(supt_wait_state(&t, "u", "RUNNING", 0, 5000));
	pid = supt_pid(&t, "u");
	path = xasprintf("/proc/%d/status", (int)pid);
	st = tu_read_file(path, NULL);
	ck_assert_ptr_nonnull(st);
	{
		char *want = xasprintf("Uid:\t%d\t%d\t%d\t%d", (int)pw->pw_uid,
		    (int)pw->pw_uid, (int)pw->pw_uid, (int)pw->pw_uid);

		ck_assert_msg(strstr(st, want) != NULL, "not dropped to nobody: %s", st);
		free(want);
	}
	free(st);
	free(path);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

START_TEST(test_output_capture)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *out = NULL, *logf, *log1, *cmd, *ctl;
	struct stat	 st;

	ini = xasprintf("[worker:w]\ncommand = %s -p 2 -P 20\n"
	    "stdout_logfile = var/log/w.log\nlogfile_maxbytes = 300\n"
	    "logfile_backups = 2\n", tw);
	supt_start(&t, "sup-output", ini);
	logf = xasprintf("%s/var/log/w.log", t.dir);
	log1 = xasprintf("%s/var/log/w.log.1", t.dir);
	/* Each line on holdfastd's stderr, prefixed with the instance. */
	ck_assert(tu_wait_file_count(t.log, "w: stdout line 1", 1, 5000));
	ck_assert(tu_wait_file_count(t.log, "w: stderr line 1", 1, 5000));
	/* Rotated by size, old files kept. */
	ck_assert_msg(tu_wait_file_count(log1, "tick", 1, 5000), "no rotation to w.log.1");
	ck_assert_int_eq(stat(logf, &st), 0);
	ck_assert_int_le(st.st_size, 300);
	/* tail -f streams new lines as they come. */
	ctl = tu_buildpath("supervisor/holdfastctl");
	cmd = xasprintf("timeout 0.5 %s -s %s tail -f -n 0 w", ctl, t.sock);
	tu_sh(cmd, &out);
	ck_assert_msg(strstr(out, "tick") != NULL, "tail -f printed: %s", out);
	ck_assert_ptr_null(strstr(out, "stdout line 0"));	/* -n 0 */
	free(out);
	free(cmd);
	free(ctl);
	free(logf);
	free(log1);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

/* The environment block of a process, with NULs turned into newlines. */
static char *
proc_environ(pid_t pid)
{
	char	*path = xasprintf("/proc/%d/environ", (int)pid), *env;
	size_t	 len;

	env = tu_read_file(path, &len);
	free(path);
	for (size_t i = 0; env != NULL && i < len; i++)
		if (env[i] == '\0')
			env[i] = '\n';
	return env;
}

START_TEST(test_command_lookup_and_env)
{
	struct hfd	 t;
	char		*tools = tu_buildpath("tests/tools"), *env, *want;
	pid_t		 pid;

	/* A bare name is found through HOLDFAST_LIBEXECDIR (a build tree). */
	setenv("HOLDFAST_LIBEXECDIR", tools, 1);
	supt_start(&t, "sup-lookup", "[worker:lk]\ncommand = testworker\n"
	    "environment = GREETING=\"hello world\"\n"
	    "[worker:missing]\ncommand = no-such-program-hf\nstartretries = 1\n"
	    "fatal_retry = 0\n");
	ck_assert(supt_wait_state(&t, "lk", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "missing", "FATAL", 0, 5000));
	ck_assert_int_eq(supt_log_count(&t, "command not found: no-such-program-hf"), 1);
	pid = supt_pid(&t, "lk");
	env = proc_environ(pid);
	ck_assert_ptr_nonnull(env);
	want = xasprintf("\nHOLDFAST_CONFIG=%s\n", t.conf);
	ck_assert_msg(strstr(env, want) != NULL || strncmp(env, want + 1, strlen(want) - 1) == 0,
	    "no absolute HOLDFAST_CONFIG in %s", env);
	ck_assert_ptr_nonnull(strstr(env, "HOLDFAST_INSTANCE=lk\n"));
	ck_assert_ptr_nonnull(strstr(env, "HOLDFAST_HEARTBEAT_MS=3333\n"));
	ck_assert_ptr_nonnull(strstr(env, "GREETING=hello world\n"));
	ck_assert_ptr_nonnull(strstr(env, "HOLDFAST_CHANNEL_FD=3\n"));
	/* No listen address: no LISTEN_FDS (the rolling test covers them). */
	ck_assert_ptr_null(strstr(env, "LISTEN_FDS="));
	free(want);
	free(env);
	supt_finish(&t);
	free(tools);
}
END_TEST

START_TEST(test_config_check)
{
	char	*dir = tu_tmpdir("sup-t"), *hd = tu_buildpath("supervisor/holdfastd");
	char	*good = xasprintf("%s/good.conf", dir), *bad = xasprintf("%s/bad.conf", dir);
	char	*cmd, *out = NULL;

	tu_write_file(good, "[worker:a]\ncommand = /bin/true\n");
	tu_write_file(bad, "[worker:a]\ncommand = /bin/true\nnumproc = 2\n");
	cmd = xasprintf("%s -t -c %s 2>&1", hd, good);
	ck_assert_int_eq(tu_sh(cmd, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "configuration ok"));
	free(out);
	free(cmd);
	cmd = xasprintf("%s -t -c %s 2>&1", hd, bad);
	ck_assert_int_eq(tu_sh(cmd, &out), 1);
	ck_assert_msg(strstr(out, "bad.conf:3:") != NULL, "said: %s", out);
	free(out);
	free(cmd);
	tu_rmrf(dir);
	free(dir);
	free(hd);
	free(good);
	free(bad);
}
END_TEST

/* `tail` keeps the last tail_lines lines of an instance (1000 when the
 * config does not say, as docs/deployment.md promises): the oldest are
 * dropped, the order kept. */
START_TEST(test_tail_ring_limit)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *conf, *out = NULL;
	int		 n = 0;

	hfd_init(&t, "sup-ring");
	conf = xasprintf("[holdfast]\ncontrol_socket = run/hf.sock\nshutdown_timeout = 5s\n"
	    "[worker:w]\ncommand = /bin/sh -c \"seq 1 1200; exec %s\"\n", tw);
	hfd_write_conf(&t, conf);
	hfd_spawn(&t, NULL);
	ck_assert_msg(hfd_wait_up(&t, 5000), "holdfastd did not come up");
	ck_assert(tu_wait_file_count(t.log, "w: 1200", 1, 5000));
	ck_assert_int_eq(hfd_ctl(&t, "tail -n 5000 w", &out), 0);
	for (char *p = out; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	ck_assert_int_eq(n, 1000);
	ck_assert_msg(strncmp(out, "201\n", 4) == 0, "tail starts with %.10s", out);
	ck_assert_ptr_nonnull(strstr(out, "\n1200\n"));
	free(out);
	supt_finish(&t);
	free(conf);
	free(tw);
}
END_TEST

/* ---- signal and reopen ------------------------------------------------ */

/* "T (stopped)" or "S (sleeping)": the first letter of /proc State. */
static char
proc_state(pid_t pid)
{
	char	*v = supt_proc_field(pid, "State:");
	char	 c = v != NULL ? v[0] : '?';

	free(v);
	return c;
}

struct stopped_want {
	pid_t	 pid;
	char	 state;
};

static int
proc_state_is(void *arg)
{
	struct stopped_want *w = arg;

	return proc_state(w->pid) == w->state;
}

/* Any signal, by name or number, to a group or one instance; the reply
 * lists the pids signalled. */
START_TEST(test_signal)
{
	struct hfd		 t;
	char			*tw = supt_tw(), *ini, *out = NULL, want[64];
	pid_t			 p0, p1;
	struct stopped_want	 w0, w1;

	ini = xasprintf("[worker:web]\ncommand = %s\nnumprocs = 2\nstartsecs = 0\n", tw);
	supt_start(&t, "sup-signal", ini);
	ck_assert(supt_wait_state(&t, "web:0", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "web:1", "RUNNING", 0, 5000));
	p0 = supt_pid(&t, "web:0");
	p1 = supt_pid(&t, "web:1");
	ck_assert_int_eq(hfd_ctl(&t, "signal STOP web", &out), 0);
	snprintf(want, sizeof(want), "web:0\t%d\tSIGSTOP", (int)p0);
	ck_assert_msg(strstr(out, want) != NULL, "reply: %s", out);
	snprintf(want, sizeof(want), "web:1\t%d\tSIGSTOP", (int)p1);
	ck_assert_msg(strstr(out, want) != NULL, "reply: %s", out);
	free(out);
	w0 = (struct stopped_want){ p0, 'T' };
	w1 = (struct stopped_want){ p1, 'T' };
	ck_assert(tu_wait_for(proc_state_is, &w0, 5000));
	ck_assert(tu_wait_for(proc_state_is, &w1, 5000));
	/* A number, to one instance: only it resumes. */
	ck_assert_int_eq(hfd_ctl(&t, "signal 18 web:1 >/dev/null", NULL), 0);
	w1.state = 'S';
	ck_assert(tu_wait_for(proc_state_is, &w1, 5000));
	ck_assert_int_eq(proc_state(p0), 'T');
	ck_assert_int_eq(hfd_ctl(&t, "signal SIGCONT web:0 >/dev/null", NULL), 0);
	w0.state = 'S';
	ck_assert(tu_wait_for(proc_state_is, &w0, 5000));
	ck_assert_int_ge(supt_log_count(&t, "[WORKER_SIGNAL] name=web:0"), 2);
	/* KILL through it: the instance is respawned like any crash. */
	ck_assert_int_eq(hfd_ctl(&t, "signal kill web:0 >/dev/null", NULL), 0);
	ck_assert(supt_wait_state(&t, "web:0", "RUNNING", p0, 5000));
	ck_assert_int_eq(supt_pid(&t, "web:1"), p1);
	/* Refused: a bad signal (usage), an unknown name, nothing running. */
	ck_assert_int_eq(hfd_ctl(&t, "signal NOSUCH web 2>/dev/null", NULL), 2);
	ck_assert_int_eq(hfd_ctl(&t, "signal 99 web 2>/dev/null", NULL), 2);
	ck_assert_int_eq(hfd_ctl(&t, "signal HUP nosuch 2>/dev/null", NULL), 4);
	ck_assert_int_eq(hfd_ctl(&t, "signal HUP 2>/dev/null", NULL), 2);
	ck_assert_int_eq(hfd_ctl(&t, "stop web:1 >/dev/null", NULL), 0);
	ck_assert_int_eq(hfd_ctl(&t, "signal HUP web:1 2>/dev/null", NULL), 3);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

/* log_file: holdfastd's log goes there; SIGUSR1 and `reopen` open it
 * again after a rotation moved it. */
START_TEST(test_reopen)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *conf, *path, *moved, *text;

	hfd_init(&t, "sup-reopen");
	path = xasprintf("%s/var/log/holdfastd.log", t.dir);
	moved = xasprintf("%s.1", path);
	conf = xasprintf("[holdfast]\ncontrol_socket = run/hf.sock\nshutdown_timeout = 5s\n"
	    "log_file = var/log/holdfastd.log\n\n[worker:w]\ncommand = %s -P 20\n"
	    "startsecs = 0\n", tw);
	hfd_write_conf(&t, conf);
	hfd_spawn(&t, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert(supt_wait_state(&t, "w", "RUNNING", 0, 5000));
	ck_assert(tu_wait_file_count(path, "w: tick ", 1, 5000));
	ck_assert_int_ge(tu_count_in_file(path, "[LOG_REOPEN] path="), 1);
	/* logrotate's move, then the signal. */
	ck_assert_int_eq(rename(path, moved), 0);
	kill(t.pid, SIGUSR1);
	ck_assert_msg(tu_wait_file_count(path, "why=SIGUSR1 result=ok", 1, 5000),
	    "SIGUSR1 did not reopen log_file");
	ck_assert(tu_wait_file_count(path, "w: tick ", 1, 5000));
	ck_assert_int_eq(rename(path, moved), 0);
	ck_assert_int_eq(hfd_ctl(&t, "reopen >/dev/null", NULL), 0);
	ck_assert(tu_wait_file_count(path, "why=holdfastctl result=ok", 1, 5000));
	ck_assert(tu_wait_file_count(path, "w: tick ", 1, 5000));
	/* Nothing went to stderr after the start. */
	text = tu_read_file(t.log, NULL);
	ck_assert(text == NULL || strstr(text, "w: tick ") == NULL);
	free(text);
	supt_finish(&t);
	free(conf);
	free(path);
	free(moved);
	free(tw);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("supervisor_ctl");
	TCase	*tc = tu_tcase(s, "ctl", 60);

	signal(SIGPIPE, SIG_IGN);	/* the server may close before we finish writing */
	tcase_add_test(tc, test_reload_touches_only_changes);
	tcase_add_test(tc, test_rolling_restart_no_refused);
	tcase_add_test(tc, test_ctl_bad_input);
	tcase_add_test(tc, test_ctl_peer_uid_refused);
	tcase_add_test(tc, test_ctl_socket_stale_and_live);
	tcase_add_test(tc, test_ctl_exit_codes);
	tcase_add_test(tc, test_user_drop);
	tcase_add_test(tc, test_output_capture);
	tcase_add_test(tc, test_command_lookup_and_env);
	tcase_add_test(tc, test_config_check);
	tcase_add_test(tc, test_tail_ring_limit);
	tcase_add_test(tc, test_signal);
	tcase_add_test(tc, test_reopen);
	return tu_run(s);
}
