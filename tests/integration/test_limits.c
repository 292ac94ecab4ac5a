/*
 * test_limits: the limits and isolation of a [worker:NAME] section, seen
 * from outside (holdfastd's log, status --json, /proc of the processes)
 * and from inside the worker (tests/tools/limitworker report).
 *
 * memory_max: a worker allocating without bound is killed by the kernel,
 * reported "[WORKER_EXIT] ... oom_kill=1" and respawned, while holdfastd
 * and another worker keep their pids. pids_max: a fork bomb inside the
 * instance gets EAGAIN. A grandchild that left the process group (a
 * double-forking daemon) is killed when its instance is stopped, and the
 * cgroup is removed, on the v1 path (pids_max) and on the cgroup = true
 * path (v2 when a unified hierarchy is mounted). rlimit_*, umask, group,
 * no_new_privs and oom_score_adj as the worker sees them. A test whose
 * cgroup the machine cannot give says so on stderr ("SKIP: ...") and
 * passes only when holdfastd refused the section with its reason.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>

#include "supt.h"
#include "tu.h"

static char *
lw_path(void)
{
	return tu_buildpath("tests/tools/limitworker");
}

/* limitworker copied into the rig's directory, reachable by another user. */
static char *
lw_reachable(struct hfd *t)
{
	char *src = lw_path(), *dst = xasprintf("%s/limitworker", t->dir);
	char *cmd = xasprintf("cp '%s' '%s' && chmod 0755 '%s' '%s'", src, dst, dst, t->dir);

	if (tu_sh(cmd, NULL) != 0)
		ck_abort_msg("cannot copy %s to %s", src, dst);
	free(cmd);
	free(src);
	return dst;
}

/* 1 when holdfastd said it cannot give [worker:name] its cgroup (the
 * machine lacks it): the test is skipped, loudly. */
static int
lim_unavailable(struct hfd *t, const char *name)
{
	char	*needle = xasprintf("[CGROUP] [worker:%s] cannot start", name);
	int	 n = supt_log_count(t, needle);

	if (n > 0)
		fprintf(stderr, "SKIP: %s in %s: this machine has no cgroup holdfastd can "
		    "manage with the controller needed\n", needle, t->log);
	free(needle);
	return n > 0;
}

/* The status entry's integer key of instance name, or -1. */
static long long
lim_status_int(struct hfd *t, const char *name, const char *key)
{
	yajl_val	 tree, procs = supt_status(t, &tree);
	long long	 v = -1;

	for (size_t i = 0; procs != NULL && i < procs->u.array.len; i++) {
		yajl_val p = procs->u.array.values[i];

		if (strcmp(json_get_str(p, "name"), name) == 0)
			json_get_int(p, key, &v);
	}
	yajl_tree_free(tree);
	return v;
}

START_TEST(test_oom_kill_reported)
{
	struct hfd	 t;
	char		*lw = lw_path(), *ini;
	pid_t		 calm, hog;

	ini = xasprintf("[worker:hog]\ncommand = %s alloc\nmemory_max = 64M\n"
	    "heartbeat_timeout = 0\nstartsecs = 100ms\n\n"
	    "[worker:calm]\ncommand = %s report\nheartbeat_timeout = 0\nstartsecs = 100ms\n",
	    lw, lw);
	supt_start(&t, "limits-oom", ini);
	ck_assert(supt_wait_state(&t, "calm", "RUNNING", 0, 5000));
	calm = supt_pid(&t, "calm");
	if (lim_unavailable(&t, "hog"))
		goto out;
	hog = supt_pid(&t, "hog");
	ck_assert_msg(tu_wait_file_count(t.log, " oom_kill=1", 1, 20000),
	    "no [WORKER_EXIT] ... oom_kill=1 in %s", t.log);
	{	/* the line: hog's exit, by SIGKILL, said to be the OOM killer's */
		char *log = tu_read_file(t.log, NULL), *at = strstr(log, " oom_kill=1"), *bol;

		for (bol = at; bol > log && bol[-1] != '\n'; bol--)
			;
		*at = '\0';
		ck_assert_msg(strstr(bol, "[WORKER_EXIT] name=hog pid=") != NULL &&
		    strstr(bol, " signal=SIGKILL ") != NULL, "%s", bol);
		free(log);
	}
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_EXIT] name=calm"), 0);
	/* respawned by the normal rules, with a new pid */
	ck_assert_msg(tu_wait_file_count(t.log, "[WORKER_SPAWN] name=hog pid=", 2, 10000),
	    "hog not respawned");
	ck_assert_msg(supt_wait_state(&t, "hog", "RUNNING", hog, 10000) ||
	    supt_wait_state(&t, "hog", "STARTING", hog, 1000) ||
	    supt_wait_state(&t, "hog", "BACKOFF", 0, 1000), "hog not back");
	ck_assert_int_ge(lim_status_int(&t, "hog", "oom_kills"), 1);
	/* holdfastd and the other worker untouched */
	ck_assert(tu_pid_alive(t.pid));
	ck_assert_int_eq(supt_pid(&t, "calm"), calm);
	ck_assert_int_eq(lim_status_int(&t, "calm", "oom_kills"), 0);
	ck_assert_int_eq(supt_log_count(&t, "reaped stray"), 0);
out:
	supt_finish(&t);
	free(ini);
	free(lw);
}
END_TEST

START_TEST(test_pids_max_stops_fork_bomb)
{
	struct hfd	 t;
	char		*lw = lw_path(), *ini, *log, *at;
	int		 forked = -1, failed = -1;

	ini = xasprintf("[worker:bomb]\ncommand = %s fork 100\npids_max = 10\n"
	    "heartbeat_timeout = 0\nstartsecs = 100ms\n", lw);
	supt_start(&t, "limits-pids", ini);
	if (lim_unavailable(&t, "bomb"))
		goto out;
	ck_assert_msg(tu_wait_file_count(t.log, "bomb: forked=", 1, 10000), "no report");
	log = tu_read_file(t.log, NULL);
	at = strstr(log, "bomb: forked=");
	ck_assert_int_eq(sscanf(at, "bomb: forked=%d failed=%d", &forked, &failed), 2);
	free(log);
	/* 10 tasks in all: the worker and at most 9 children */
	ck_assert_int_le(forked, 9);
	ck_assert_int_eq(forked + failed, 100);
	ck_assert_int_eq(supt_log_count(&t, "errno=Resource temporarily unavailable"), 1);
	ck_assert(supt_wait_state(&t, "bomb", "RUNNING", 0, 5000));
	ck_assert(tu_pid_alive(t.pid));
out:
	supt_finish(&t);
	free(ini);
	free(lw);
}
END_TEST

/* The pid in file, once written. */
static pid_t
lim_read_pid(const char *file)
{
	for (int i = 0; i < 500; i++) {
		char *s = tu_read_file(file, NULL);
		long  pid = s != NULL ? strtol(s, NULL, 10) : 0;

		free(s);
		if (pid > 0)
			return (pid_t)pid;
		usleep(10000);
	}
	return 0;
}

/* The directory of pid's cgroup in the hierarchy of ctl ("pids", or ""
 * for v2) under /sys/fs/cgroup, or NULL. */
static char *
lim_cgroup_dir(pid_t pid, const char *ctl)
{
	char	*path = xasprintf("/proc/%d/cgroup", (int)pid), *text = tu_read_file(path, NULL);
	char	*line, *dir = NULL, *save = NULL, *want = xasprintf(":%s:", ctl);

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line != NULL && dir == NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *at = strstr(line, want);

		if (at == NULL)
			continue;
		at += strlen(want);
		dir = *ctl == '\0' ?
		    xasprintf("/sys/fs/cgroup%s%s", access("/sys/fs/cgroup/unified",
		    F_OK) == 0 ? "/unified" : "", at) :
		    xasprintf("/sys/fs/cgroup/%s%s", ctl, at);
	}
	free(want);
	free(text);
	free(path);
	return dir;
}

static int
lim_gone(void *arg)
{
	return !tu_pid_alive(*(pid_t *)arg);
}

static int
lim_dir_gone(void *arg)
{
	return access(arg, F_OK) == -1;
}

/* Starts [worker:name] (extra keys) leaving an escaped grandchild, stops
 * the instance, and checks the grandchild and its cgroup are gone. */
static void
lim_escape_case(const char *name, const char *keys, const char *ctl, int upgrade)
/* upgrade: 0 stop the instance, 1 upgrade then stop, 2 stop holdfastd */
{
	struct hfd	 t;
	char		*lw = lw_path(), *ini, *file, *dir;
	pid_t		 esc;

	hfd_init(&t, "limits-escape");
	file = xasprintf("%s/escaped.pid", t.dir);
	ini = xasprintf("[worker:%s]\ncommand = %s escape %s\n%s\nheartbeat_timeout = 0\n"
	    "startsecs = 100ms\n", name, lw, file, keys);
	supt_write_conf(&t, ini);
	hfd_spawn(&t, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	if (lim_unavailable(&t, name))
		goto out;
	ck_assert_msg((esc = lim_read_pid(file)) > 0, "no escaped grandchild");
	ck_assert(supt_wait_state(&t, name, "RUNNING", 0, 5000));
	/* it left the instance's process group: a stop signal misses it */
	ck_assert_int_ne(getpgid(esc), supt_pid(&t, name));
	ck_assert_ptr_nonnull(dir = lim_cgroup_dir(esc, ctl));
	ck_assert_msg(access(dir, F_OK) == 0, "%s", dir);
	if (upgrade) {	/* the new image takes the running process's cgroup back */
		ck_assert_int_eq(hfd_ctl(&t, "upgrade >/dev/null", NULL), 0);
		ck_assert(tu_wait_file_count(t.log, "[SUP_UPGRADE] result=upgraded", 1, 5000));
	}
	if (upgrade == 2)	/* holdfastd stopped as a whole (SIGTERM) */
		ck_assert_int_eq(hfd_stop(&t, 10000), 0);
	else {
		char *args = xasprintf("stop %s", name);

		ck_assert_int_eq(hfd_ctl(&t, args, NULL), 0);
		free(args);
	}
	ck_assert_msg(tu_wait_for(lim_gone, &esc, 5000),
	    "escaped grandchild %d survived the stop of %s", (int)esc, name);
	ck_assert_msg(tu_wait_for(lim_dir_gone, dir, 5000), "cgroup %s left behind", dir);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_CGROUP] name="), 1);
	free(dir);
out:
	supt_finish(&t);
	free(ini);
	free(file);
	free(lw);
}

START_TEST(test_escaped_grandchild_killed_v1)
{
	/* pids_max: the pids controller, v1 on a machine that mounts it */
	lim_escape_case("esc", "pids_max = 50", access("/sys/fs/cgroup/pids/cgroup.procs",
	    F_OK) == 0 ? "pids" : "", 0);
}
END_TEST

START_TEST(test_escaped_grandchild_killed_cgroup_only)
{
	/* cgroup = true, no limit: v2 (cgroup.kill) where one is mounted */
	lim_escape_case("esc", "cgroup = true", "", 0);
}
END_TEST

START_TEST(test_escaped_grandchild_killed_at_shutdown)
{
	lim_escape_case("esc", "cgroup = true", "", 2);
}
END_TEST

START_TEST(test_escaped_grandchild_killed_after_upgrade)
{
	lim_escape_case("esc", "pids_max = 50", access("/sys/fs/cgroup/pids/cgroup.procs",
	    F_OK) == 0 ? "pids" : "", 1);
}
END_TEST

/* The value after "name: key=" in the log, or NULL. */
static char *
lim_reported(struct hfd *t, const char *name, const char *key)
{
	char	*log = tu_read_file(t->log, NULL), *needle = xasprintf("%s: %s=", name, key);
	char	*at = log != NULL ? strstr(log, needle) : NULL, *v = NULL;

	if (at != NULL) {
		at += strlen(needle);
		v = xstrndup(at, strcspn(at, "\n"));
	}
	free(needle);
	free(log);
	return v;
}

static void
lim_expect(struct hfd *t, const char *name, const char *key, const char *want)
{
	char *v = lim_reported(t, name, key);

	ck_assert_msg(v != NULL && strcmp(v, want) == 0, "%s: %s=%s, want %s", name, key,
	    v != NULL ? v : "(none)", want);
	free(v);
}

START_TEST(test_child_settings_seen_inside)
{
	struct hfd	 t;
	struct group	*gr = getgrnam("daemon");
	struct passwd	*pw = getpwnam("nobody");
	char		*lw, *ini, *gid, *want;

	ck_assert_ptr_nonnull(gr);
	ck_assert_ptr_nonnull(pw);
	hfd_init(&t, "limits-child");
	lw = lw_reachable(&t);
	/* The rlimits are seen by a shell: limitworker may be built with
	 * ASan, which lowers its own core limit and cannot start under an
	 * address space limit. */
	ini = xasprintf("[worker:set]\ncommand = %s report\nuser = nobody\ngroup = daemon\n"
	    "umask = 027\nno_new_privs = true\noom_score_adj = 500\n"
	    "heartbeat_timeout = 0\n\n"
	    "[worker:grp]\ncommand = %s report\ngroup = daemon\nheartbeat_timeout = 0\n\n"
	    "[worker:rl]\ncommand = /bin/sh -c 'echo nofile=$(ulimit -S -n)/$(ulimit -H -n); "
	    "echo core=$(ulimit -S -c)/$(ulimit -H -c); echo as=$(ulimit -S -v)/$(ulimit -H -v); "
	    "exec /bin/sleep 60'\nrlimit_nofile = 123\nrlimit_core = unlimited\n"
	    "rlimit_as = 4G\nheartbeat_timeout = 0\n\n"
	    "[worker:rl0]\ncommand = /bin/sh -c 'echo core=$(ulimit -S -c)/$(ulimit -H -c); "
	    "echo nofile=$(ulimit -S -n)/$(ulimit -H -n); exec /bin/sleep 60'\n"
	    "rlimit_core = 0\nrlimit_nofile = 16\nheartbeat_timeout = 0\n\n"
	    "[worker:plain]\ncommand = %s report\nheartbeat_timeout = 0\n", lw, lw, lw);
	supt_write_conf(&t, ini);
	hfd_spawn(&t, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert(tu_wait_file_count(t.log, ": report-done", 3, 10000));
	gid = xasprintf("%d %d %d %d", (int)gr->gr_gid, (int)gr->gr_gid, (int)gr->gr_gid,
	    (int)gr->gr_gid);
	lim_expect(&t, "set", "umask", "0027");
	lim_expect(&t, "set", "NoNewPrivs", "1");
	lim_expect(&t, "set", "Gid", gid);
	lim_expect(&t, "set", "oom_score_adj", "500");
	ck_assert(tu_wait_file_count(t.log, "rl: as=", 1, 5000));
	ck_assert(tu_wait_file_count(t.log, "rl0: nofile=", 1, 5000));
	lim_expect(&t, "rl", "nofile", "123/123");
	lim_expect(&t, "rl", "core", "unlimited/unlimited");
	lim_expect(&t, "rl", "as", "4194304/4194304");	/* KiB */
	lim_expect(&t, "rl0", "core", "0/0");
	/* below the descriptor numbers holdfastd moves things through */
	lim_expect(&t, "rl0", "nofile", "16/16");
	/* group= without user=: that group and no other */
	lim_expect(&t, "grp", "Gid", gid);
	want = xasprintf("%d", (int)gr->gr_gid);
	lim_expect(&t, "grp", "Groups", want);
	/* nothing set: no_new_privs off, and oom_score_adj 0 whatever
	 * holdfastd gave itself */
	lim_expect(&t, "plain", "NoNewPrivs", "0");
	lim_expect(&t, "plain", "oom_score_adj", "0");
	lim_expect(&t, "plain", "Gid", "0 0 0 0");
	/* holdfastd says what it did with its own score, and did it */
	ck_assert_int_eq(supt_log_count(&t, "[OOM] holdfastd oom_score_adj=-900"), 1);
	if (supt_log_count(&t, "oom_score_adj=-900 not set") == 0) {
		char *p = xasprintf("/proc/%d/oom_score_adj", (int)t.pid), *v = tu_read_file(p, NULL);

		ck_assert_msg(v != NULL && atoi(v) == -900, "holdfastd oom_score_adj %s", v);
		free(v);
		free(p);
	} else
		fprintf(stderr, "NOTE: this machine refuses holdfastd a negative oom_score_adj"
		    " (see %s); the refusal is what was checked\n", t.log);
	free(want);
	free(gid);
	supt_finish(&t);
	free(ini);
	free(lw);
}
END_TEST

/* systemd's NoNewPrivileges=yes, as in etc/holdfast.service: holdfastd
 * runs with no_new_privs set and still runs a worker as its user= and
 * group= (setuid()/setgid() by root are no privilege gain through exec). */
START_TEST(test_user_switch_under_no_new_privs)
{
	struct hfd	 t;
	struct group	*gr = getgrnam("daemon");
	struct passwd	*pw = getpwnam("nobody");
	char		*lw, *ini, *want, *nnp;

	ck_assert_ptr_nonnull(gr);
	ck_assert_ptr_nonnull(pw);
	hfd_init(&t, "limits-nnp");
	lw = lw_reachable(&t);
	ini = xasprintf("[worker:u]\ncommand = %s report\nuser = nobody\ngroup = daemon\n"
	    "heartbeat_timeout = 0\n", lw);
	supt_write_conf(&t, ini);
	hfd_spawn_argv(&t, (char *[]){ "/usr/bin/setpriv", "--no-new-privs", "--", NULL },
	    NULL, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert(tu_wait_file_count(t.log, "u: report-done", 1, 10000));
	nnp = supt_proc_field(t.pid, "NoNewPrivs:");
	ck_assert_msg(nnp != NULL && strcmp(nnp, "1") == 0, "holdfastd NoNewPrivs %s", nnp);
	want = xasprintf("%d %d %d %d", (int)gr->gr_gid, (int)gr->gr_gid, (int)gr->gr_gid,
	    (int)gr->gr_gid);
	lim_expect(&t, "u", "Gid", want);
	lim_expect(&t, "u", "NoNewPrivs", "1");
	ck_assert(supt_wait_state(&t, "u", "RUNNING", 0, 5000));
	{
		char *uid = supt_proc_field(supt_pid(&t, "u"), "Uid:"), *w2;

		w2 = xasprintf("%d\t%d\t%d\t%d", (int)pw->pw_uid, (int)pw->pw_uid,
		    (int)pw->pw_uid, (int)pw->pw_uid);
		ck_assert_msg(uid != NULL && strcmp(uid, w2) == 0, "Uid %s", uid);
		free(uid);
		free(w2);
	}
	free(nnp);
	free(want);
	supt_finish(&t);
	free(ini);
	free(lw);
}
END_TEST

static int
lim_throttled(void *arg)
{
	char		*path = xasprintf("%s/cpu.stat", (const char *)arg);
	char		*text = tu_read_file(path, NULL), *at;
	long long	 n = 0;

	if (text != NULL && (at = strstr(text, "nr_throttled ")) != NULL)
		n = atoll(at + strlen("nr_throttled "));
	free(text);
	free(path);
	return n > 0;
}

/* cpu_quota: a busy loop in a cgroup whose quota is written and which the
 * kernel throttles (cpu.stat nr_throttled; cpu.cfs_quota_us on v1, cpu.max
 * on v2). */
START_TEST(test_cpu_quota_throttles)
{
	struct hfd	 t;
	char		*dir, *quota, *file;
	const char	*ctl;
	pid_t		 pid;

	supt_start(&t, "limits-cpu", "[worker:spin]\ncommand = /bin/sh -c 'while :; do :; "
	    "done'\ncpu_quota = 10%\nheartbeat_timeout = 0\nstartsecs = 100ms\n");
	if (lim_unavailable(&t, "spin"))
		goto out;
	ck_assert(supt_wait_state(&t, "spin", "RUNNING", 0, 5000));
	pid = supt_pid(&t, "spin");
	ctl = access("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", F_OK) == 0 ? "cpu" : "";
	if (*ctl == '\0' || (dir = lim_cgroup_dir(pid, "cpu,cpuacct")) == NULL)
		dir = lim_cgroup_dir(pid, ctl);		/* v2, or cpu mounted alone */
	ck_assert_ptr_nonnull(dir);
	file = xasprintf("%s/%s", dir, *ctl != '\0' ? "cpu.cfs_quota_us" : "cpu.max");
	quota = tu_read_file(file, NULL);
	ck_assert_msg(quota != NULL && strncmp(quota, "10000", 5) == 0, "%s: %s", file, quota);
	ck_assert_msg(tu_wait_for(lim_throttled, dir, 10000), "%s/cpu.stat: never throttled",
	    dir);
	free(quota);
	free(file);
	free(dir);
out:
	supt_finish(&t);
}
END_TEST

/* Where holdfastd has no cgroup to manage (here: it runs as nobody, so
 * neither its v1 cgroups nor a v2 leaf are writable), a section with a
 * limit does not start, and says why; one without limits runs. */
START_TEST(test_limit_without_cgroup_refused)
{
	struct hfd	 t;
	char		*ini;

	hfd_init(&t, "limits-nocg");
	ini = xasprintf("[worker:lim]\ncommand = /bin/sleep 60\nmemory_max = 64M\n"
	    "startretries = 1\nheartbeat_timeout = 0\n\n"
	    "[worker:free]\ncommand = /bin/sleep 60\nheartbeat_timeout = 0\n"
	    "startsecs = 100ms\n");
	supt_write_conf(&t, ini);
	ck_assert_int_eq(chmod(t.dir, 0777), 0);
	{
		char *run = xasprintf("%s/run", t.dir);

		mkdir(run, 0777);
		ck_assert_int_eq(chmod(run, 0777), 0);
		free(run);
	}
	hfd_spawn_argv(&t, (char *[]){ "/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
	    "--clear-groups", "--", NULL }, NULL, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert(supt_wait_state(&t, "lim", "FATAL", 0, 10000));
	ck_assert(supt_wait_state(&t, "free", "RUNNING", 0, 5000));
	ck_assert_int_eq(supt_log_count(&t, "[CGROUP] [worker:lim] cannot start: memory_max "
	    "needs the memory controller, and holdfastd has no cgroup to manage"), 1);
	ck_assert_int_ge(supt_log_count(&t, "[WORKER_SPAWN] name=lim failed: memory_max "
	    "needs the memory controller"), 1);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_SPAWN] name=lim pid="), 0);
	supt_finish(&t);
	free(ini);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("limits");
	TCase	*tc = tu_tcase(s, "limits", 90);

	tcase_add_test(tc, test_oom_kill_reported);
	tcase_add_test(tc, test_pids_max_stops_fork_bomb);
	tcase_add_test(tc, test_escaped_grandchild_killed_v1);
	tcase_add_test(tc, test_escaped_grandchild_killed_cgroup_only);
	tcase_add_test(tc, test_escaped_grandchild_killed_after_upgrade);
	tcase_add_test(tc, test_escaped_grandchild_killed_at_shutdown);
	tcase_add_test(tc, test_child_settings_seen_inside);
	tcase_add_test(tc, test_user_switch_under_no_new_privs);
	tcase_add_test(tc, test_limit_without_cgroup_refused);
	tcase_add_test(tc, test_cpu_quota_throttles);
	return tu_run(s);
}
