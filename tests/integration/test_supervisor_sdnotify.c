/*
 * test_supervisor_sdnotify: programs that speak sd_notify, or nothing.
 *
 * notifyworker (tests/tools) sends its datagrams to $NOTIFY_SOCKET the
 * way any sd_notify library does. Checked: READY=1 decides STARTING ->
 * RUNNING under notify = systemd; missing WATCHDOG=1 pings and
 * WATCHDOG=trigger are [WORKER_HUNG] and a respawn; STATUS= and
 * X_HOLDFAST_DB reach holdfastctl status/health; MAINPID= hands the
 * supervision to a forked daemon; datagrams from another pid or uid,
 * with descriptors or too long change nothing and are counted; the
 * socket and STATUS survive `holdfastctl upgrade`; health_cmd and
 * health_http readiness and liveness.
 */
#include <fcntl.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "supt.h"
#include "tu.h"

static char *
nw_path(void)
{
	return tu_buildpath("tests/tools/notifyworker");
}

/* The "procs" entry of name and the whole tree (to free), or NULL. */
static yajl_val
sd_proc(struct hfd *t, const char *name, yajl_val *tree)
{
	yajl_val procs = supt_status(t, tree);

	for (size_t i = 0; procs != NULL && i < procs->u.array.len; i++)
		if (strcmp(json_get_str(procs->u.array.values[i], "name"), name) == 0)
			return procs->u.array.values[i];
	return NULL;
}

/* A number of the top-level "notify" counters (-1 when absent). */
static long long
sd_counter(struct hfd *t, const char *key)
{
	yajl_val	 tree;
	long long	 v = -1;

	supt_status(t, &tree);
	if (tree != NULL)
		json_get_int(json_get_object(tree, "notify"), key, &v);
	yajl_tree_free(tree);
	return v;
}

/* A string of name's "notify" (or another object's) member; malloc'd. */
static char *
sd_str(struct hfd *t, const char *name, const char *obj, const char *key)
{
	yajl_val	 tree, p = sd_proc(t, name, &tree);
	const char	*s = p != NULL ? json_get_str(json_get_object(p, obj), key) : NULL;
	char		*r = s != NULL ? xstrdup(s) : NULL;

	yajl_tree_free(tree);
	return r;
}

static long long
sd_int(struct hfd *t, const char *name, const char *obj, const char *key)
{
	yajl_val	 tree, p = sd_proc(t, name, &tree);
	long long	 v = -1;

	if (p != NULL)
		json_get_int(json_get_object(p, obj), key, &v);
	yajl_tree_free(tree);
	return v;
}

static char *
sd_socket(struct hfd *t)
{
	yajl_val	 tree;
	char		*s = NULL;

	supt_status(t, &tree);
	if (tree != NULL && json_get_str(json_get_object(tree, "notify"), "socket") != NULL)
		s = xstrdup(json_get_str(json_get_object(tree, "notify"), "socket"));
	yajl_tree_free(tree);
	return s;
}

struct sd_counter_want {
	struct hfd	*t;
	const char	*key;
	long long	 n;
};

static int
sd_counter_reached(void *arg)
{
	struct sd_counter_want *w = arg;

	return sd_counter(w->t, w->key) >= w->n;
}

static int
sd_wait_counter(struct hfd *t, const char *key, long long n)
{
	struct sd_counter_want w = { t, key, n };

	return tu_wait_for(sd_counter_reached, &w, 10000);
}

/*
 * Sends msg to the abstract socket name ("@..."); with pid > 0, as root,
 * explicit SCM_CREDENTIALS (pid, uid) as the kernel allows a privileged
 * sender to; with fd >= 0 that descriptor attached too. 0 or -1.
 */
static int
sd_send(const char *name, const char *msg, size_t len, pid_t pid, uid_t uid, int fd)
{
	struct sockaddr_un	 sun;
	union {
		char		 buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))];
		struct cmsghdr	 align;
	} u;
	struct iovec		 iov = { (void *)msg, len };
	struct msghdr		 mh;
	struct cmsghdr		*c;
	struct ucred		 cred = { pid, uid, 0 };
	int			 s, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
	memset(&mh, 0, sizeof(mh));
	memset(&u, 0, sizeof(u));
	mh.msg_name = &sun;
	mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (pid > 0 || fd >= 0) {
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		mh.msg_controllen = 0;
		if (pid > 0) {
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_CREDENTIALS;
			c->cmsg_len = CMSG_LEN(sizeof(cred));
			memcpy(CMSG_DATA(c), &cred, sizeof(cred));
			mh.msg_controllen += CMSG_SPACE(sizeof(cred));
			c = (struct cmsghdr *)(void *)(u.buf + CMSG_SPACE(sizeof(cred)));
		}
		if (fd >= 0) {
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fd, sizeof(int));
			mh.msg_controllen += CMSG_SPACE(sizeof(int));
		}
	}
	if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = sendmsg(s, &mh, 0) == (ssize_t)len ? 0 : -1;
	close(s);
	return rc;
}

/* READY=1 from a forked process of the test (not holdfastd's child),
 * running as uid when uid != 0. */
static void
sd_send_forked(const char *name, uid_t uid)
{
	pid_t	 pid = fork();
	int	 st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (uid != 0 && setuid(uid) == -1)
			_exit(2);
		_exit(sd_send(name, "READY=1", 7, 0, 0, -1) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(tu_wait_pid(pid, 5000, &st), 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sender failed: %d", st);
}

struct ready_watch {
	struct hfd	*t;
	const char	*file;
	int		 starting_seen, running_early;
};

/* RUNNING only once the program has sent READY=1 (the file is created
 * just before): the state is read first, the file after. */
static int
ready_watch_done(void *arg)
{
	struct ready_watch	*w = arg;
	char			 st[32];
	long long		 pid;

	supt_proc(w->t, "late", st, sizeof(st), &pid);
	if (strcmp(st, "STARTING") == 0 && pid > 0)
		w->starting_seen++;
	if (strcmp(st, "RUNNING") != 0)
		return 0;
	if (access(w->file, F_OK) != 0)
		w->running_early = 1;
	return 1;
}

START_TEST(test_ready_decides_running)
{
	struct hfd		 t;
	char			*nw = nw_path(), *ini, *dir = tu_tmpdir("sdn-ready"), *file, *s;
	struct ready_watch	 w;
	char			*out = NULL;

	file = xasprintf("%s/ready", dir);
	/* startsecs (1 s) is shorter than the 2 s the program takes */
	ini = xasprintf("[worker:late]\ncommand = %s -r 2000 -t %s -s warming-up\n"
	    "notify = systemd\nstartsecs = 1s\n", nw, file);
	supt_start(&t, "sdn-ready", ini);
	memset(&w, 0, sizeof(w));
	w.t = &t;
	w.file = file;
	ck_assert_msg(tu_wait_for(ready_watch_done, &w, 10000), "never RUNNING");
	ck_assert_msg(!w.running_early, "RUNNING before READY=1 was sent");
	ck_assert_int_gt(w.starting_seen, 0);
	s = sd_str(&t, "late", "notify", "status");
	ck_assert_str_eq(s, "warming-up");
	free(s);
	{	/* the same text as a channel worker's status */
		yajl_val	 tree, p = sd_proc(&t, "late", &tree);

		ck_assert_str_eq(json_get_str(p, "status_text"), "warming-up");
		yajl_tree_free(tree);
	}
	ck_assert_int_eq(sd_int(&t, "late", "notify", "messages") >= 2, 1);
	ck_assert_int_eq(hfd_ctl(&t, "status late", &out), 0);
	ck_assert_msg(strstr(out, "warming-up") != NULL, "no STATUS= in:\n%s", out);
	free(out);
	ck_assert_int_eq(supt_log_count(&t, "[NOTIFY_IGNORED]"), 0);
	supt_finish(&t);
	tu_rmrf(dir);
	free(dir);
	free(file);
	free(ini);
	free(nw);
}
END_TEST

/* EXTEND_TIMEOUT_USEC lets a slow start outlive start_timeout; without
 * it the same start is a [WORKER_START_TIMEOUT]. */
START_TEST(test_extend_timeout)
{
	struct hfd	 t;
	char		*nw = nw_path(), *ini;

	ini = xasprintf("[worker:ext]\ncommand = %s -x 10000000 -r 1500\nnotify = systemd\n"
	    "start_timeout = 500ms\n\n"
	    "[worker:short]\ncommand = %s -r 1500\nnotify = systemd\n"
	    "start_timeout = 500ms\nstartretries = 1\n", nw, nw);
	supt_start(&t, "sdn-extend", ini);
	ck_assert_msg(supt_wait_state(&t, "short", "FATAL", 0, 10000), "short not FATAL");
	ck_assert_int_ge(supt_log_count(&t, "[WORKER_START_TIMEOUT] name=short"), 1);
	ck_assert_msg(supt_wait_state(&t, "ext", "RUNNING", 0, 10000), "ext not RUNNING");
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_START_TIMEOUT] name=ext"), 0);
	supt_finish(&t);
	free(ini);
	free(nw);
}
END_TEST

START_TEST(test_watchdog_hung)
{
	struct hfd	 t;
	char		*nw = nw_path(), *ini;
	pid_t		 p1, p2;

	/* -e: exits 3 unless WATCHDOG_PID is its pid and WATCHDOG_USEC set */
	ini = xasprintf("[worker:wd]\ncommand = %s -e -w 100 -W 1500\nnotify = systemd\n"
	    "heartbeat_timeout = 1s\n\n"
	    "[worker:trig]\ncommand = %s -T -r 300\nnotify = systemd\n", nw, nw);
	supt_start(&t, "sdn-wd", ini);
	ck_assert_msg(supt_wait_state(&t, "wd", "RUNNING", 0, 5000), "wd not RUNNING");
	p1 = supt_pid(&t, "wd");
	ck_assert_msg(tu_wait_file_count(t.log, "[WORKER_HUNG] name=wd", 1, 10000),
	    "no [WORKER_HUNG] once the pings stopped");
	ck_assert_msg(supt_wait_state(&t, "wd", "RUNNING", p1, 5000), "wd not respawned");
	p2 = supt_pid(&t, "wd");
	ck_assert_int_ne(p1, p2);
	ck_assert_int_eq(supt_log_count(&t, "name=wd pid=") > 0, 1);
	ck_assert_msg(tu_wait_file_count(t.log,
	    "[WORKER_HUNG] name=trig pid=", 1, 10000), "WATCHDOG=trigger ignored");
	ck_assert_int_ge(supt_log_count(&t, "reason=WATCHDOG=trigger"), 1);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_FATAL]"), 0);
	supt_finish(&t);
	free(ini);
	free(nw);
}
END_TEST

START_TEST(test_spoofed_datagrams)
{
	struct hfd	 t;
	char		*nw = nw_path(), *ini, *name, big[5000], st[32];
	long long	 pid;
	struct passwd	*nobody = getpwnam("nobody");
	int		 devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ck_assert_ptr_nonnull(nobody);
	ini = xasprintf("[worker:sp]\ncommand = %s -R\nnotify = systemd\n"
	    "start_timeout = 0\n", nw);
	supt_start(&t, "sdn-spoof", ini);
	ck_assert_msg(supt_wait_state(&t, "sp", "STARTING", 0, 5000), "sp not STARTING");
	pid = supt_pid(&t, "sp");
	ck_assert_int_gt(pid, 0);
	ck_assert_ptr_nonnull(name = sd_socket(&t));
	ck_assert_int_eq(name[0], '@');
	/* another pid: the test's own child, then one running as nobody */
	sd_send_forked(name, 0);
	sd_send_forked(name, nobody->pw_uid);
	/* the instance's pid with another uid, with a descriptor, too long */
	ck_assert_int_eq(sd_send(name, "READY=1", 7, (pid_t)pid, nobody->pw_uid, -1), 0);
	ck_assert_int_eq(sd_send(name, "READY=1", 7, (pid_t)pid, 0, devnull), 0);
	memset(big, 'x', sizeof(big));
	memcpy(big, "READY=1\nSTATUS=", 15);
	ck_assert_int_eq(sd_send(name, big, sizeof(big), (pid_t)pid, 0, -1), 0);
	ck_assert_msg(sd_wait_counter(&t, "received", 5), "holdfastd read fewer than 5");
	ck_assert_int_eq(sd_counter(&t, "unknown_pid"), 2);
	ck_assert_int_eq(sd_counter(&t, "wrong_uid"), 1);
	ck_assert_int_eq(sd_counter(&t, "fds"), 1);
	ck_assert_int_eq(sd_counter(&t, "oversized"), 1);
	ck_assert_int_eq(sd_counter(&t, "ignored"), 5);
	ck_assert_int_eq(sd_counter(&t, "accepted"), 0);
	supt_proc(&t, "sp", st, sizeof(st), &pid);
	ck_assert_str_eq(st, "STARTING");
	ck_assert_int_eq(sd_int(&t, "sp", "notify", "messages"), 0);
	ck_assert_int_ge(supt_log_count(&t, "[NOTIFY_IGNORED] reason=unknown_pid"), 1);
	/* the same READY=1 with the instance's credentials is obeyed */
	ck_assert_int_eq(sd_send(name, "READY=1", 7, (pid_t)pid, 0, -1), 0);
	ck_assert_msg(supt_wait_state(&t, "sp", "RUNNING", 0, 5000), "real READY=1 ignored");
	ck_assert_int_eq(sd_counter(&t, "accepted"), 1);
	close(devnull);
	supt_finish(&t);
	free(name);
	free(ini);
	free(nw);
}
END_TEST

struct db_want {
	struct hfd	*t;
	const char	*state;
};

static int
db_is(void *arg)
{
	struct db_want	*w = arg;
	char		*s = sd_str(w->t, "db", "db", "state");
	int		 ok = s != NULL && strcmp(s, w->state) == 0;

	free(s);
	return ok;
}

START_TEST(test_db_keys_and_status)
{
	struct hfd	 t;
	char		*nw = nw_path(), *ini, *out = NULL, *s;
	struct db_want	 w;

	ini = xasprintf("[worker:db]\ncommand = %s -D ConnectionRefused -u 1500\n", nw);
	supt_start(&t, "sdn-db", ini);
	w.t = &t;
	w.state = "down";
	ck_assert_msg(tu_wait_for(db_is, &w, 10000), "DB never down");
	s = sd_str(&t, "db", "db", "reason");
	ck_assert_str_eq(s, "ConnectionRefused");
	free(s);
	ck_assert_int_eq(hfd_ctl(&t, "health", &out), 3);
	ck_assert_msg(strstr(out, "ConnectionRefused") != NULL, "health:\n%s", out);
	free(out);
	w.state = "up";
	ck_assert_msg(tu_wait_for(db_is, &w, 10000), "DB never up again");
	ck_assert_int_eq(hfd_ctl(&t, "health", &out), 0);
	free(out);
	supt_finish(&t);
	free(ini);
	free(nw);
}
END_TEST

START_TEST(test_mainpid_forking)
{
	struct hfd	 t;
	char		*nw = nw_path(), *ini, want[96];
	long long	 main = -1;
	pid_t		 now;

	ini = xasprintf("[worker:fk]\ncommand = %s -F\nnotify = systemd\n", nw);
	supt_start(&t, "sdn-fork", ini);
	ck_assert_msg(tu_wait_file_count(t.log, "exited code=0: supervising mainpid=", 1,
	    10000), "no hand-over to the main pid");
	ck_assert_msg(supt_wait_state(&t, "fk", "RUNNING", 0, 5000), "fk not RUNNING");
	main = sd_int(&t, "fk", "notify", "mainpid");
	ck_assert_int_gt(main, 1);
	now = supt_pid(&t, "fk");
	ck_assert_int_eq(now, main);
	ck_assert_int_eq(tu_pid_alive((pid_t)main), 1);
	snprintf(want, sizeof(want), "[WORKER_EXIT] name=fk pid=%lld", main);
	tu_kill((pid_t)main, SIGKILL);
	ck_assert_msg(tu_wait_file_count(t.log, want, 1, 10000), "no exit of the main pid");
	ck_assert_msg(supt_wait_state(&t, "fk", "RUNNING", (pid_t)main, 10000),
	    "not respawned after the main pid died");
	ck_assert_msg(tu_wait_file_count(t.log, "exited code=0: supervising mainpid=", 2,
	    10000), "no second hand-over");
	main = sd_int(&t, "fk", "notify", "mainpid");
	ck_assert_int_gt(main, 1);
	supt_finish(&t);
	/* stopped with holdfastd although it is not holdfastd's child */
	ck_assert_msg(!tu_pid_alive((pid_t)main), "the daemon outlived holdfastd");
	free(ini);
	free(nw);
}
END_TEST

struct msgs_want {
	struct hfd	*t;
	long long	 above;
};

static int
msgs_above(void *arg)
{
	struct msgs_want *w = arg;

	return sd_int(w->t, "up", "notify", "messages") > w->above;
}

START_TEST(test_upgrade_keeps_socket)
{
	struct hfd		 t;
	char			*nw = nw_path(), *ini, *before, *after, *s, *out = NULL;
	struct msgs_want	 w;

	ini = xasprintf("[worker:up]\ncommand = %s -s kept -w 100\nheartbeat_timeout = 5s\n", nw);
	supt_start(&t, "sdn-upgrade", ini);
	ck_assert_msg(supt_wait_state(&t, "up", "RUNNING", 0, 5000), "up not RUNNING");
	before = sd_socket(&t);
	ck_assert_ptr_nonnull(before);
	ck_assert_int_eq(hfd_ctl(&t, "upgrade", &out), 0);
	free(out);
	after = sd_socket(&t);
	ck_assert_str_eq(before, after);
	s = sd_str(&t, "up", "notify", "status");
	ck_assert_str_eq(s, "kept");
	free(s);
	w.t = &t;
	w.above = sd_int(&t, "up", "notify", "messages");
	ck_assert_msg(tu_wait_for(msgs_above, &w, 5000), "no datagram read after the upgrade");
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_HUNG]"), 0);
	supt_finish(&t);
	free(before);
	free(after);
	free(ini);
	free(nw);
}
END_TEST

struct checks_want {
	struct hfd	*t;
	const char	*name;
	long long	 n;
};

static int
checks_done(void *arg)
{
	struct checks_want *w = arg;

	return sd_int(w->t, w->name, "health", "checks") >= w->n;
}

/* Readiness (rd): STARTING while its check fails, RUNNING once readyfile
 * exists; liveness (lv): health_retries failures restart it, once sick
 * (a file created, or removed when removing) makes its check fail. */
static void
health_case(const char *tag, const char *rd, const char *lv, const char *readyfile,
    const char *sick, int removing)
{
	struct hfd		 t;
	char			*ini, st[32];
	long long		 pid;
	struct checks_want	 cw;
	pid_t			 p1;

	ini = xasprintf("[worker:rd]\n%s\nhealth_mode = readiness\n"
	    "health_interval = 1s\nhealth_timeout = 1s\nstartsecs = 100ms\n"
	    "start_timeout = 0\n\n"
	    "[worker:lv]\n%s\nhealth_mode = liveness\n"
	    "health_interval = 1s\nhealth_timeout = 1s\nhealth_retries = 2\n"
	    "startsecs = 100ms\n", rd, lv);
	supt_start(&t, tag, ini);
	cw.t = &t;
	cw.name = "rd";
	cw.n = 2;
	ck_assert_msg(tu_wait_for(checks_done, &cw, 10000), "no readiness checks");
	supt_proc(&t, "rd", st, sizeof(st), &pid);
	ck_assert_str_eq(st, "STARTING");
	ck_assert_int_eq(tu_write_file(readyfile, ""), 0);
	ck_assert_msg(supt_wait_state(&t, "rd", "RUNNING", 0, 10000), "readiness ignored");
	ck_assert_msg(supt_wait_state(&t, "lv", "RUNNING", 0, 10000), "lv not RUNNING");
	p1 = supt_pid(&t, "lv");
	cw.name = "lv";
	ck_assert_msg(tu_wait_for(checks_done, &cw, 10000), "no liveness checks");
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_UNHEALTHY]"), 0);
	ck_assert_int_eq(removing ? unlink(sick) : tu_write_file(sick, ""), 0);
	ck_assert_msg(tu_wait_file_count(t.log, "[WORKER_UNHEALTHY] name=lv", 1, 10000),
	    "no [WORKER_UNHEALTHY]");
	ck_assert_msg(supt_wait_state(&t, "lv", "RUNNING", p1, 10000), "lv not restarted");
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_UNHEALTHY] name=rd"), 0);
	supt_finish(&t);
	free(ini);
}

START_TEST(test_health_cmd)
{
	char	*dir = tu_tmpdir("sdn-hcmd");
	char	*ready = xasprintf("%s/ready", dir), *sick = xasprintf("%s/sick", dir);
	char	*r = xasprintf("command = /bin/sleep 600\nhealth_cmd = test -f %s", ready);
	char	*l = xasprintf("command = /bin/sleep 600\nhealth_cmd = test ! -f %s", sick);

	health_case("sdn-hcmd", r, l, ready, sick, 0);
	tu_rmrf(dir);
	free(dir);
	free(ready);
	free(sick);
	free(r);
	free(l);
}
END_TEST

START_TEST(test_health_http)
{
	char	*dir = tu_tmpdir("sdn-hhttp"), *nw = nw_path();
	char	*ok = xasprintf("%s/ok", dir), *ready = xasprintf("%s/ready", dir), *r, *l;
	int	 port1 = tu_free_port(SOCK_STREAM), port2 = tu_free_port(SOCK_STREAM);

	/* each program serves 200 while its file exists, 503 otherwise */
	ck_assert_int_eq(tu_write_file(ok, ""), 0);
	r = xasprintf("command = %s -R -l %d -H %s\nnotify = off\n"
	    "health_http = http://127.0.0.1:%d/healthz", nw, port1, ready, port1);
	l = xasprintf("command = %s -R -l %d -H %s\nnotify = off\n"
	    "health_http = http://localhost:%d/healthz", nw, port2, ok, port2);
	health_case("sdn-hhttp", r, l, ready, ok, 1);
	tu_rmrf(dir);
	free(dir);
	free(ok);
	free(ready);
	free(r);
	free(l);
	free(nw);
}
END_TEST

/* A reload adding a liveness check to a running program applies it in
 * place: the same process is checked, and restarted once it fails. */
START_TEST(test_health_added_by_reload)
{
	struct hfd	 t;
	char		*out = NULL;
	const char	*base = "[worker:rl]\ncommand = /bin/sleep 600\nstartsecs = 100ms\n";
	char		*with = xasprintf("%shealth_cmd = exit 1\nhealth_mode = liveness\n"
			    "health_interval = 200ms\nhealth_timeout = 200ms\n"
			    "health_retries = 2\n", base);
	pid_t		 p1;

	supt_start(&t, "sdn-hreload", base);
	ck_assert_msg(supt_wait_state(&t, "rl", "RUNNING", 0, 5000), "rl not RUNNING");
	p1 = supt_pid(&t, "rl");
	supt_write_conf(&t, with);
	ck_assert_int_eq(hfd_ctl(&t, "reload", &out), 0);
	free(out);
	ck_assert_int_eq(supt_log_count(&t, "[worker:rl] changed: applied without a restart"), 1);
	ck_assert_msg(tu_wait_file_count(t.log, "[WORKER_UNHEALTHY] name=rl", 1, 10000),
	    "the check added by the reload never ran");
	ck_assert_msg(supt_wait_state(&t, "rl", "RUNNING", p1, 10000), "rl not restarted");
	supt_finish(&t);
	free(with);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("supervisor_sdnotify");
	TCase	*tc = tu_tcase(s, "sdnotify", 60);

	tcase_add_test(tc, test_ready_decides_running);
	tcase_add_test(tc, test_extend_timeout);
	tcase_add_test(tc, test_watchdog_hung);
	tcase_add_test(tc, test_spoofed_datagrams);
	tcase_add_test(tc, test_db_keys_and_status);
	tcase_add_test(tc, test_mainpid_forking);
	tcase_add_test(tc, test_upgrade_keeps_socket);
	tcase_add_test(tc, test_health_cmd);
	tcase_add_test(tc, test_health_http);
	tcase_add_test(tc, test_health_added_by_reload);
	return tu_run(s);
}
