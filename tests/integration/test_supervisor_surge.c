/*
 * test_supervisor_surge: start before stop (restart_mode = surge) and
 * `holdfastctl scale`, with real testworkers on a real TCP socket.
 *
 * Guards: a surge restart of a single-instance group and of a two-instance
 * group keeps every instance RUNNING throughout (the old process is
 * stopped only once its replacement is ready), and a client connecting in
 * a loop meanwhile sees nothing refused, reset or odd; a replacement that
 * fails to start leaves the old process serving ([WORKER_SURGE_FAILED]);
 * an upgrade asked during a surge is refused with a clear reply, and
 * works once the surge is over; scale up and down adds or removes only the
 * highest slots (the others keep their pids), and the scale survives a
 * reload and an upgrade.
 */
#include <fcntl.h>
#include <netinet/in.h>

#include "supt.h"
#include "tu.h"

/* No extra process left (the status reply has no "surge" list). */
static int
st_surge_over(void *arg)
{
	yajl_val	 tree;
	int		 over;

	(void)supt_status(arg, &tree);
	over = tree != NULL && json_get_array(tree, "surge") == NULL;
	yajl_tree_free(tree);
	return over;
}

static int
st_pid_gone(void *arg)
{
	return !tu_pid_alive(*(pid_t *)arg);
}

static char *
st_conf(const char *tw, const char *opts, int numprocs, int port)
{
	return xasprintf("[worker:web]\ncommand = %s %s\nnumprocs = %d\n"
	    "listen = 127.0.0.1:%d\nstart_timeout = 10s\n", tw, opts, numprocs, port);
}

/* Offset of the first log line holding both a and b, or -1. */
static long
st_log_at(struct hfd *t, const char *a, const char *b)
{
	char	*log = tu_read_file(t->log, NULL), *l = log;
	long	 at = -1;

	while (l != NULL && *l != '\0' && at == -1) {
		char *nl = strchr(l, '\n');

		if (nl != NULL)
			*nl = '\0';
		if (strstr(l, a) != NULL && strstr(l, b) != NULL)
			at = l - log;
		l = nl != NULL ? nl + 1 : NULL;
	}
	free(log);
	return at;
}

/*
 * `restart web` without waiting, then status polled until every instance
 * has a new pid: each must be RUNNING at every look (surge: the old
 * process serves until the new one is ready). Returns the first instance
 * seen in another state ("web:1 STOPPING"), or NULL.
 */
static char *
st_restart_watch(struct hfd *t, const char **names, const pid_t *old, int n)
{
	uint64_t	 deadline = hf_now_mono_ms() + 15000;
	int		 done = 0;

	ck_assert_int_eq(hfd_ctl(t, "--no-wait restart web >/dev/null", NULL), 0);
	while (done < n && hf_now_mono_ms() < deadline) {
		done = 0;
		for (int i = 0; i < n; i++) {
			char		 st[32];
			long long	 pid;

			ck_assert(supt_proc(t, names[i], st, sizeof(st), &pid));
			if (strcmp(st, "RUNNING") != 0)
				return xasprintf("%s %s", names[i], st);
			done += pid != old[i] && pid != 0;
		}
	}
	ck_assert_msg(done == n, "the restart did not finish");
	return NULL;
}

static void
st_surge_restart(const char *tag, int numprocs)
{
	const char		*names1[] = { "web" }, *names2[] = { "web:0", "web:1" };
	const char		**names = numprocs == 1 ? names1 : names2;
	struct hfd		 t;
	struct supt_client	 c;
	char			*tw = supt_tw(), *ini, *bad, a[64], b[64];
	int			 port = tu_free_port(SOCK_STREAM);
	pid_t			 old[2], now[2];

	/* Each process accepts (and is ready) only 600 ms after it starts. */
	ini = st_conf(tw, "-A 600", numprocs, port);
	supt_start(&t, tag, ini);
	for (int i = 0; i < numprocs; i++) {
		ck_assert(supt_wait_state(&t, names[i], "RUNNING", 0, 5000));
		old[i] = supt_pid(&t, names[i]);
	}
	supt_client_start(&c, &t, port, 1);
	bad = st_restart_watch(&t, names, old, numprocs);
	ck_assert_msg(bad == NULL, "%s during a surge restart", bad);
	supt_client_finish(&c);
	ck_assert_msg(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "client: %s", c.rep);
	for (int i = 0; i < numprocs; i++) {
		now[i] = supt_pid(&t, names[i]);
		ck_assert_int_ne(now[i], old[i]);
		/* The old process was told to stop only once the new one ran. */
		snprintf(a, sizeof(a), "pid=%d STARTING -> RUNNING", (int)now[i]);
		snprintf(b, sizeof(b), "pid=%d RUNNING -> STOPPING", (int)old[i]);
		ck_assert_msg(tu_wait_file_count(t.log, b, 1, 5000), "%s not stopped", names[i]);
		ck_assert_msg(st_log_at(&t, a, "") < st_log_at(&t, b, ""),
		    "%s: old pid %d stopped before pid %d was ready", names[i],
		    (int)old[i], (int)now[i]);
	}
	ck_assert_int_eq(supt_log_count(&t, "phase=ready"), numprocs);
	supt_client_free(&c);
	supt_finish(&t);
	free(ini);
	free(tw);
}

START_TEST(test_surge_single_instance)
{
	st_surge_restart("surge1", 1);
}
END_TEST

START_TEST(test_surge_two_instances)
{
	st_surge_restart("surge2", 2);
}
END_TEST

/* A replacement that exits at once: the old process stays, serving. */
START_TEST(test_surge_failed_keeps_old)
{
	struct hfd		 t;
	struct supt_client	 c;
	char			*tw = supt_tw(), *ini, *opts, *flag;
	int			 port = tu_free_port(SOCK_STREAM), rc;
	pid_t			 p0;

	hfd_init(&t, "surgefail");
	flag = xasprintf("%s/broken", t.dir);
	opts = xasprintf("-a -F %s", flag);
	ini = st_conf(tw, opts, 1, port);
	supt_write_conf(&t, ini);
	hfd_spawn(&t, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert(supt_wait_state(&t, "web", "RUNNING", 0, 5000));
	p0 = supt_pid(&t, "web");
	supt_client_start(&c, &t, port, 1);
	tu_write_file(flag, "");	/* from now on a new process exits 1 at once */
	rc = hfd_ctl(&t, "restart web >/dev/null 2>&1", NULL);
	ck_assert_msg(supt_wait_state(&t, "web", "RUNNING", 0, 5000), "web is not RUNNING");
	ck_assert_msg(supt_pid(&t, "web") == p0 && tu_pid_alive(p0),
	    "the old process was not kept when its replacement failed");
	ck_assert_int_eq(rc, 0);	/* waited: web is RUNNING (the old one) */
	ck_assert_msg(tu_wait_file_count(t.log, "[WORKER_SURGE_FAILED] name=web", 1, 5000),
	    "no [WORKER_SURGE_FAILED]");
	supt_client_finish(&c);
	ck_assert_msg(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "client: %s", c.rep);
	/* Fixed: the next restart goes through. */
	unlink(flag);
	ck_assert_int_eq(hfd_ctl(&t, "restart web >/dev/null", NULL), 0);
	ck_assert(supt_wait_state(&t, "web", "RUNNING", p0, 5000));
	supt_client_free(&c);
	supt_finish(&t);
	free(ini);
	free(opts);
	free(flag);
	free(tw);
}
END_TEST

/* An upgrade while a replacement is starting is refused, not lost. */
START_TEST(test_surge_upgrade_refused)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *out = NULL;
	int		 port = tu_free_port(SOCK_STREAM);
	pid_t		 p0, hd;

	ini = st_conf(tw, "-A 1500", 1, port);
	supt_start(&t, "surgeupg", ini);
	ck_assert(supt_wait_state(&t, "web", "RUNNING", 0, 5000));
	p0 = supt_pid(&t, "web");
	hd = t.pid;
	ck_assert_int_eq(hfd_ctl(&t, "--no-wait restart web >/dev/null", NULL), 0);
	ck_assert_int_eq(hfd_ctl(&t, "upgrade 2>&1", &out), 1);
	ck_assert_msg(strstr(out, "surge in progress") != NULL, "reply: %s", out);
	free(out);
	ck_assert(supt_wait_state(&t, "web", "RUNNING", p0, 10000));
	ck_assert(tu_wait_for(st_surge_over, &t, 10000));
	ck_assert_int_eq(hfd_ctl(&t, "upgrade >/dev/null", NULL), 0);
	ck_assert_int_eq(t.pid, hd);
	ck_assert(supt_wait_state(&t, "web", "RUNNING", 0, 5000));
	ck_assert_int_ne(supt_pid(&t, "web"), p0);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

/* The pid of the first extra process in the status reply, or 0. */
static pid_t
st_extra_pid(struct hfd *t)
{
	yajl_val	 tree, extra;
	long long	 pid = 0;

	(void)supt_status(t, &tree);
	if (tree != NULL && (extra = json_get_array(tree, "surge")) != NULL &&
	    extra->u.array.len > 0)
		(void)json_get_int(extra->u.array.values[0], "pid", &pid);
	yajl_tree_free(tree);
	return (pid_t)pid;
}

struct st_extra {
	struct hfd	*t;
	pid_t		 pid;
};

static int
st_extra_started(void *arg)
{
	struct st_extra *e = arg;

	return (e->pid = st_extra_pid(e->t)) > 0;
}

/* A self-heal while a replacement starts: the old process is kept, the
 * replacement (not in the saved state) is stopped, and restarts work. */
START_TEST(test_surge_heal_keeps_old)
{
	struct hfd	 t;
	struct st_extra	 e = { &t, 0 };
	char		*tw = supt_tw(), *ini, want[96];
	int		 port = tu_free_port(SOCK_STREAM);
	pid_t		 p0, hd;

	ini = st_conf(tw, "-A 3000", 1, port);
	supt_start(&t, "surgeheal", ini);
	ck_assert(supt_wait_state(&t, "web", "RUNNING", 0, 8000));
	p0 = supt_pid(&t, "web");
	hd = t.pid;
	ck_assert_int_eq(hfd_ctl(&t, "--no-wait restart web >/dev/null", NULL), 0);
	ck_assert(tu_wait_for(st_extra_started, &e, 5000));
	kill(hd, SIGSEGV);
	ck_assert(tu_wait_file_count(t.log, "result=restored", 1, 5000));
	snprintf(want, sizeof(want), "[WORKER_SURGE_FAILED] name=web pid=%d reason=restored",
	    (int)p0);
	ck_assert_msg(tu_wait_file_count(t.log, want, 1, 5000), "no %s", want);
	ck_assert(tu_wait_for(st_pid_gone, &e.pid, 5000));
	ck_assert_int_eq(supt_pid(&t, "web"), p0);
	ck_assert(tu_pid_alive(p0));
	ck_assert(tu_wait_for(st_surge_over, &t, 5000));
	ck_assert_int_eq(t.pid, hd);
	/* Supervision carries on: a restart now surges to its end. */
	ck_assert_int_eq(hfd_ctl(&t, "restart web >/dev/null", NULL), 0);
	ck_assert(supt_wait_state(&t, "web", "RUNNING", p0, 10000));
	ck_assert(tu_wait_for(st_pid_gone, &p0, 5000));
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

/* A changed section is restarted by a reload the same way. */
START_TEST(test_surge_on_reload)
{
	struct hfd		 t;
	struct supt_client	 c;
	char			*tw = supt_tw(), *ini, *ini2, a[64], b[64];
	int			 port = tu_free_port(SOCK_STREAM);
	pid_t			 p0, p1;

	ini = st_conf(tw, "-A 300", 1, port);
	supt_start(&t, "surgereload", ini);
	ck_assert(supt_wait_state(&t, "web", "RUNNING", 0, 5000));
	p0 = supt_pid(&t, "web");
	supt_client_start(&c, &t, port, 1);
	ini2 = xasprintf("%senvironment = CHANGED=1\n", ini);
	supt_write_conf(&t, ini2);
	ck_assert_int_eq(hfd_ctl(&t, "reload >/dev/null", NULL), 0);
	ck_assert(supt_wait_state(&t, "web", "RUNNING", p0, 10000));
	p1 = supt_pid(&t, "web");
	ck_assert(tu_wait_for(st_pid_gone, &p0, 5000));
	supt_client_finish(&c);
	ck_assert_msg(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "client: %s", c.rep);
	snprintf(a, sizeof(a), "pid=%d STARTING -> RUNNING", (int)p1);
	snprintf(b, sizeof(b), "pid=%d RUNNING -> STOPPING", (int)p0);
	ck_assert(st_log_at(&t, a, "") >= 0 && st_log_at(&t, b, "") > st_log_at(&t, a, ""));
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_SURGE] name=web phase=ready"), 1);
	supt_client_free(&c);
	supt_finish(&t);
	free(ini);
	free(ini2);
	free(tw);
}
END_TEST

static void
st_pids(struct hfd *t, int n, pid_t *pids)
{
	char name[32];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "web:%d", i);
		ck_assert_msg(supt_wait_state(t, name, "RUNNING", 0, 5000), "%s", name);
		pids[i] = supt_pid(t, name);
	}
}

/* scale up and down touches only the highest slots; kept across reload
 * and upgrade; back to one instance is named like the group again. */
START_TEST(test_scale)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini;
	int		 port = tu_free_port(SOCK_STREAM);
	pid_t		 a[4], b[4];

	ini = st_conf(tw, "-a", 2, port);
	supt_start(&t, "scale", ini);
	st_pids(&t, 2, a);
	ck_assert_int_eq(hfd_ctl(&t, "scale web 4 >/dev/null", NULL), 0);
	st_pids(&t, 4, b);
	ck_assert_int_eq(b[0], a[0]);
	ck_assert_int_eq(b[1], a[1]);
	ck_assert_int_eq(hfd_ctl(&t, "scale web 3 >/dev/null", NULL), 0);
	ck_assert(supt_wait_state(&t, "web:3", "GONE", 0, 5000));
	ck_assert(tu_wait_for(st_pid_gone, &b[3], 5000));
	st_pids(&t, 3, a);
	ck_assert_int_eq(a[0], b[0]);
	ck_assert_int_eq(a[1], b[1]);
	ck_assert_int_eq(a[2], b[2]);
	/* The file still says numprocs = 2: the scale is kept. */
	ck_assert_int_eq(hfd_ctl(&t, "reload >/dev/null", NULL), 0);
	ck_assert_int_eq(supt_log_count(&t, "keeping 3 instances"), 1);
	st_pids(&t, 3, b);
	ck_assert_int_eq(memcmp(a, b, 3 * sizeof(pid_t)), 0);
	ck_assert_int_eq(hfd_ctl(&t, "upgrade >/dev/null", NULL), 0);
	st_pids(&t, 3, b);
	ck_assert_int_eq(memcmp(a, b, 3 * sizeof(pid_t)), 0);
	ck_assert(supt_wait_state(&t, "web:3", "GONE", 0, 5000));
	/* Down to one: web:0 keeps its process and is "web" again. */
	ck_assert_int_eq(hfd_ctl(&t, "scale web 1 >/dev/null", NULL), 0);
	ck_assert(supt_wait_state(&t, "web", "RUNNING", 0, 5000));
	ck_assert_int_eq(supt_pid(&t, "web"), a[0]);
	ck_assert(tu_wait_for(st_pid_gone, &a[1], 5000));
	ck_assert(tu_wait_for(st_pid_gone, &a[2], 5000));
	/* Refused: a count out of range, a group that does not exist. */
	ck_assert_int_eq(hfd_ctl(&t, "scale web 0 2>/dev/null", NULL), 2);
	{
		char *out = NULL;

		ck_assert_int_eq(hfd_ctl(&t, "scale web 100000 2>&1", &out), 2);
		ck_assert_msg(strstr(out, "bad count \"100000\"") != NULL, "%s", out);
		free(out);
	}
	ck_assert_int_eq(hfd_ctl(&t, "scale nosuch 2 2>/dev/null", NULL), 4);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

/* With listen_reuseport each added slot gets its own socket, bound at its
 * first start, and a removed slot's socket goes with its process. */
START_TEST(test_scale_reuseport)
{
	struct hfd		 t;
	struct supt_client	 c;
	char			*tw = supt_tw(), *ini, *ini2;
	int			 port = tu_free_port(SOCK_STREAM);
	pid_t			 a[3], b[3];

	ini = st_conf(tw, "-a", 2, port);
	ini2 = xasprintf("%slisten_reuseport = true\n", ini);
	supt_start(&t, "scalerp", ini2);
	st_pids(&t, 2, a);
	supt_client_start(&c, &t, port, 0);
	ck_assert_int_eq(hfd_ctl(&t, "scale web 3 >/dev/null", NULL), 0);
	st_pids(&t, 3, b);
	ck_assert_int_eq(b[0], a[0]);
	ck_assert_int_eq(b[1], a[1]);
	ck_assert_int_eq(hfd_ctl(&t, "scale web 2 >/dev/null", NULL), 0);
	ck_assert(supt_wait_state(&t, "web:2", "GONE", 0, 5000));
	ck_assert(tu_wait_for(st_pid_gone, &b[2], 5000));
	st_pids(&t, 2, a);
	ck_assert_int_eq(a[0], b[0]);
	ck_assert_int_eq(a[1], b[1]);
	supt_client_finish(&c);
	/* Nothing refused; a connection queued on the removed slot's socket
	 * as it closed may be reset (see listen_reuseport). */
	ck_assert_msg(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "client: %s", c.rep);
	supt_client_free(&c);
	supt_finish(&t);
	free(ini);
	free(ini2);
	free(tw);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("supervisor_surge");
	TCase	*tc = tu_tcase(s, "surge", 60);

	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(tc, test_surge_single_instance);
	tcase_add_test(tc, test_surge_two_instances);
	tcase_add_test(tc, test_surge_failed_keeps_old);
	tcase_add_test(tc, test_surge_upgrade_refused);
	tcase_add_test(tc, test_scale);
	tcase_add_test(tc, test_surge_heal_keeps_old);
	tcase_add_test(tc, test_surge_on_reload);
	tcase_add_test(tc, test_scale_reuseport);
	return tu_run(s);
}
