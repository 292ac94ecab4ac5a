/*
 * test_supervisor_upgrade: holdfastd replacing its own image in place
 * (`holdfastctl upgrade`, SIGUSR2) and re-executing itself after its own
 * fatal signals, with real workers (testworker).
 *
 * Guards: an upgrade keeps holdfastd's pid, every worker pid, states,
 * restart counters, DB health, the tail rings and the listening socket
 * with its queue (no connection refused while it happens); a worker
 * spawned afterwards inherits exactly the descriptors it did before; a
 * broken new binary, a state it cannot read, a format it does not know,
 * a new image that fails to restore and an execve that fails all leave
 * holdfastd running with a reply saying why; SIGSEGV/SIGABRT re-execute
 * it with everything kept, and a crash loop ends in a full exit.
 */
#include <dirent.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <netinet/in.h>

#include "supt.h"
#include "supt_notify.h"
#include "tu.h"

/* web: two TCP instances answering "OK <pid>"; solo: output, stats, and
 * a DB it reports down (DB column). */
static char *
ut_workers(int port)
{
	char	*tw = supt_tw();
	char	*w = xasprintf("[worker:web]\ncommand = %s -a\nnumprocs = 2\n"
	    "listen = 127.0.0.1:%d\nstartsecs = 0\n\n"
	    "[worker:solo]\ncommand = %s -p 5 -S -D NeonEndpointDisabled\n", tw, port, tw);

	free(tw);
	return w;
}

static int
ut_gone(void *arg)
{
	return !tu_pid_alive(*(pid_t *)arg);
}

static void
ut_start(struct hfd *t, const char *tag, int port, char *const env[])
{
	char *w = ut_workers(port);

	if (env == NULL)
		supt_start(t, tag, w);
	else {
		supt_spawn(t, tag, w, env);
		ck_assert_msg(hfd_wait_up(t, 5000), "holdfastd did not come up");
	}
	free(w);
	ck_assert(supt_wait_state(t, "web:0", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(t, "web:1", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(t, "solo", "RUNNING", 0, 5000));
	ck_assert(tu_wait_file_count(t->log, "solo: stderr line 4", 1, 5000));
}

/* What must survive: a line per instance of `status --json` without the
 * clocks, plus the tail of solo. */
static char *
ut_snapshot(struct hfd *t)
{
	yajl_val	 tree, procs = supt_status(t, &tree);
	char		*s = xstrdup(""), *tail = NULL, *n;

	ck_assert_ptr_nonnull(procs);
	for (size_t i = 0; i < procs->u.array.len; i++) {
		yajl_val	 p = procs->u.array.values[i];
		yajl_val	 db = json_get_object(p, "db");
		long long	 pid = 0, restarts = -1;

		json_get_int(p, "pid", &pid);
		json_get_int(p, "restarts", &restarts);
		n = xasprintf("%s%s state=%s pid=%lld restarts=%lld db=%s reason=%s "
		    "channel=%d stats=%d\n", s, json_get_str(p, "name"),
		    json_get_str(p, "state"), pid, restarts, json_get_str(db, "state"),
		    json_get_str(db, "reason") ? json_get_str(db, "reason") : "-",
		    json_get(p, "channel") != NULL && YAJL_IS_TRUE(json_get(p, "channel")),
		    json_get(p, "stats") != NULL);
		free(s);
		s = n;
	}
	yajl_tree_free(tree);
	ck_assert_int_eq(hfd_ctl(t, "tail -n 50 solo", &tail), 0);
	n = xasprintf("%s--- tail solo\n%s", s, tail);
	free(s);
	free(tail);
	return n;
}

/* The descriptor numbers a process has, "0 1 2 3 4 ...". */
static char *
ut_fds(pid_t pid)
{
	char		*path = xasprintf("/proc/%d/fd", (int)pid), *s = xstrdup(""), *n;
	int		 seen[1024] = { 0 };
	DIR		*d = opendir(path);
	struct dirent	*e;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && atoi(e->d_name) < 1024)
			seen[atoi(e->d_name)] = 1;
	closedir(d);
	for (int i = 0; i < 1024; i++)
		if (seen[i]) {
			n = xasprintf("%s%d ", s, i);
			free(s);
			s = n;
		}
	free(path);
	return s;
}

/* Kills web:1 and waits for its replacement; returns the new pid. */
static pid_t
ut_respawn(struct hfd *t)
{
	pid_t old = supt_pid(t, "web:1"), pid;

	ck_assert_int_gt(old, 0);
	kill(old, SIGKILL);
	ck_assert_msg(supt_wait_state(t, "web:1", "RUNNING", old, 5000),
	    "web:1 was not respawned after a kill");
	pid = supt_pid(t, "web:1");
	tu_sh("sleep 0.1", NULL);	/* let it finish its start */
	return pid;
}

/* A connection queued on the listening socket while both instances are
 * stopped; answered after cont(). */
static int
ut_queue(int port, pid_t *pids)
{
	struct sockaddr_in	sin = tu_loopback(port);
	struct timeval		tv = { 5, 0 };
	int			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	kill(pids[0], SIGSTOP);
	kill(pids[1], SIGSTOP);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static void
ut_queue_answered(int fd, pid_t *pids)
{
	char	buf[64];
	ssize_t	n;

	kill(pids[0], SIGCONT);
	kill(pids[1], SIGCONT);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_msg(n > 3 && strncmp(buf, "OK ", 3) == 0,
	    "a connection queued before the upgrade was not answered after it");
	close(fd);
}

START_TEST(test_upgrade_keeps_everything)
{
	struct hfd		 t;
	struct supt_client	 c;
	int			 port = tu_free_port(SOCK_STREAM), qfd;
	char			*before, *after, *out = NULL, *fds_before, *fds_after;
	pid_t			 hpid, web[2];

	ut_start(&t, "upg_keep", port, NULL);
	ut_respawn(&t);				/* web:1 restarts=1 */
	fds_before = ut_fds(supt_pid(&t, "web:1"));
	before = ut_snapshot(&t);
	hpid = t.pid;
	web[0] = supt_pid(&t, "web:0");
	web[1] = supt_pid(&t, "web:1");
	supt_client_start(&c, &t, port, 1);
	qfd = ut_queue(port, web);
	ck_assert_int_eq(hfd_ctl(&t, "upgrade", &out), 0);
	fprintf(stderr, "%s", out);
	ck_assert_msg(strstr(out, "upgraded: holdfastd " PACKAGE_VERSION " (build ") != NULL &&
	    strstr(out, "-> " PACKAGE_VERSION " (build ") != NULL,
	    "reply without old and new version/build: %s", out);
	free(out);
	ut_queue_answered(qfd, web);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(hfd_ctl(&t, "upgrade >/dev/null", NULL), 0);
		tu_sh("sleep 0.05", NULL);
	}
	supt_client_finish(&c);
	ck_assert_msg(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0,
	    "connections refused or reset during upgrades: %s", c.rep);
	ck_assert_int_eq(supt_log_count(&t, "[SUP_UPGRADE] result=upgraded"), 5);
	ck_assert(tu_pid_alive(hpid));
	ck_assert_int_eq(supt_pid(&t, "web:0"), web[0]);
	after = ut_snapshot(&t);
	ck_assert_msg(strcmp(before, after) == 0, "state changed by the upgrade:\n"
	    "before:\n%s\nafter:\n%s", before, after);
	/* A worker spawned by the new image gets what one got before. */
	ut_respawn(&t);
	fds_after = ut_fds(supt_pid(&t, "web:1"));
	ck_assert_str_eq(fds_before, fds_after);
	ck_assert_int_eq(hfd_ctl(&t, "version", &out), 0);
	ck_assert_msg(strstr(out, "(build ") != NULL, "version without a build id: %s", out);
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "upgrade --json", &out), 0);
	ck_assert_msg(strstr(out, "\"old_build\"") && strstr(out, "\"new_build\"") &&
	    strstr(out, "\"ms\""), "json reply: %s", out);
	free(out);
	free(before);
	free(after);
	free(fds_before);
	free(fds_after);
	supt_client_free(&c);
	supt_finish(&t);
}
END_TEST

START_TEST(test_upgrade_sigusr2)
{
	struct hfd	t;
	int		port = tu_free_port(SOCK_STREAM);
	char		*before, *after;

	ut_start(&t, "upg_usr2", port, NULL);
	before = ut_snapshot(&t);
	kill(t.pid, SIGUSR2);
	ck_assert(tu_wait_file_count(t.log, "[SUP_UPGRADE] result=upgraded", 1, 5000));
	after = ut_snapshot(&t);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	supt_finish(&t);
}
END_TEST

/* One refused upgrade: the reply says why and holdfastd runs on as it was. */
static void
ut_refused(struct hfd *t, const char *why, const char *logtag)
{
	char	*before = ut_snapshot(t), *after, *out = NULL;
	pid_t	 hpid = t->pid;

	ck_assert_int_eq(hfd_ctl(t, "upgrade 2>&1", &out), 1);
	fprintf(stderr, "refused: %s", out);
	ck_assert_msg(strstr(out, why) != NULL, "reply without \"%s\": %s", why, out);
	free(out);
	ck_assert(tu_wait_file_count(t->log, logtag, 1, 5000));
	ck_assert(tu_pid_alive(hpid));
	after = ut_snapshot(t);
	ck_assert_str_eq(before, after);
	ut_respawn(t);		/* still supervising */
	free(before);
	free(after);
}

START_TEST(test_upgrade_broken_binary)
{
	struct hfd	 t;
	int		 port = tu_free_port(SOCK_STREAM);
	char		*w = ut_workers(port), *copy, *cmd, *hd = tu_buildpath("supervisor/holdfastd");
	char		*wrap[] = { "/bin/sh", "-c", NULL, "sh", NULL };

	hfd_init(&t, "upg_broken");
	supt_write_conf(&t, w);
	copy = xasprintf("%s/holdfastd", t.dir);
	cmd = xasprintf("cp %s %s", hd, copy);
	ck_assert_int_eq(tu_sh(cmd, NULL), 0);
	free(cmd);
	/* sh -c 'shift; exec COPY "$@"' sh BUILD/holdfastd -c conf */
	wrap[2] = xasprintf("shift; exec %s \"$@\"", copy);
	hfd_spawn_argv(&t, wrap, NULL, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert(supt_wait_state(&t, "solo", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "web:1", "RUNNING", 0, 5000));
	/* An "upgrade" that installed something that cannot run. */
	cmd = xasprintf("rm -f %s && printf '#!/bin/sh\\necho \"broken build: "
	    "cannot read the state\" >&2\\nexit 1\\n' > %s && chmod +x %s", copy, copy, copy);
	ck_assert_int_eq(tu_sh(cmd, NULL), 0);
	free(cmd);
	ut_refused(&t, "broken build: cannot read the state", "[SUP_UPGRADE] result=refused");
	/* Nothing there at all. */
	unlink(copy);
	ut_refused(&t, "upgrade refused", "[SUP_UPGRADE] result=refused");
	free(wrap[2]);
	free(copy);
	free(hd);
	free(w);
	supt_finish(&t);
}
END_TEST

START_TEST(test_upgrade_check_refuses)
{
	struct hfd	 t;
	char		*env[] = { "HOLDFAST_TEST_FAIL_RESTORE=check", NULL };

	ut_start(&t, "upg_check", tu_free_port(SOCK_STREAM), env);
	ut_refused(&t, "HOLDFAST_TEST_FAIL_RESTORE=check", "[SUP_UPGRADE] result=refused");
	supt_finish(&t);
}
END_TEST

START_TEST(test_upgrade_format_refused)
{
	struct hfd	 t;
	char		*env[] = { "HOLDFAST_TEST_STATE_FORMAT=99", NULL };

	ut_start(&t, "upg_format", tu_free_port(SOCK_STREAM), env);
	ut_refused(&t, "state format 99", "[SUP_UPGRADE] result=refused");
	supt_finish(&t);
}
END_TEST

START_TEST(test_upgrade_restore_fails_falls_back)
{
	struct hfd	 t;
	char		*env[] = { "HOLDFAST_TEST_FAIL_RESTORE=restore", NULL };

	ut_start(&t, "upg_fallback", tu_free_port(SOCK_STREAM), env);
	ut_refused(&t, "could not take over (HOLDFAST_TEST_FAIL_RESTORE=restore)",
	    "[SUP_UPGRADE] result=failed");
	supt_finish(&t);
}
END_TEST

/* The new image crashing while it restores: the crash handler, armed
 * with the state being restored, goes back to the old image. */
START_TEST(test_upgrade_restore_crash_falls_back)
{
	struct hfd	 t;
	char		*env[] = { "HOLDFAST_TEST_FAIL_RESTORE=crash", NULL };

	ut_start(&t, "upg_crash", tu_free_port(SOCK_STREAM), env);
	ut_refused(&t, "could not take over (the new image crashed while restoring "
	    "the state)", "[SUP_UPGRADE] result=failed");
	ck_assert_int_eq(supt_log_count(&t, "[SUP_HEAL] signal=11 result=re-exec"), 1);
	supt_finish(&t);
}
END_TEST

START_TEST(test_upgrade_exec_fails)
{
	struct hfd	 t;
	char		*env[] = { "HOLDFAST_TEST_FAIL_EXEC=1", NULL };
	char		*fds_before, *fds_after;

	ut_start(&t, "upg_exec", tu_free_port(SOCK_STREAM), env);
	fds_before = ut_fds(supt_pid(&t, "web:1"));
	ut_refused(&t, "execve(", "[SUP_UPGRADE] result=failed");
	/* The descriptors it had readied for the new image are private again. */
	fds_after = ut_fds(supt_pid(&t, "web:1"));
	ck_assert_str_eq(fds_before, fds_after);
	free(fds_before);
	free(fds_after);
	supt_finish(&t);
}
END_TEST

/* `holdfastd --check-state FD`, the state in a file: its exit status,
 * output in *out. */
static int
ut_check_state(struct hfd *t, const char *state, char **out)
{
	char	*file = xasprintf("%s/state.json", t->dir), *hd = tu_buildpath("supervisor/holdfastd");
	char	*cmd = xasprintf("%s --check-state 3 -c %s 3<%s 2>&1", hd, t->conf, file);
	int	 rc;

	tu_write_file(file, state);
	rc = tu_sh(cmd, out);
	free(cmd);
	free(hd);
	free(file);
	return rc;
}

/* What a state record of another version gets: read when its min_reader
 * allows (missing fields keep their defaults, unknown ones are ignored),
 * refused with both formats named otherwise. */
START_TEST(test_state_formats)
{
	struct hfd	 t;
	char		*out = NULL;
	const char	*ctl = "\"ctl\":{\"fd\":null,\"path\":\"x\",\"clients\":[]}";
	char		*older = xasprintf("{\"format\":1,\"min_reader\":1,%s,\"groups\":"
	    "[{\"name\":\"web\",\"procs\":[{\"pid\":0}]}]}", ctl);
	char		*newer_ok = xasprintf("{\"format\":7,\"min_reader\":1,\"version\":\"9.0\","
	    "%s,\"groups\":[],\"a_field_from_the_future\":[1,2]}", ctl);
	char		*newer_no = xasprintf("{\"format\":7,\"min_reader\":7,\"version\":\"9.0\","
	    "%s,\"groups\":[]}", ctl);
	char		*ancient = xasprintf("{\"format\":0,\"min_reader\":0,%s,\"groups\":[]}", ctl);

	hfd_init(&t, "upg_formats");
	supt_write_conf(&t, "[worker:web]\ncommand = /bin/true\n");
	ck_assert_msg(ut_check_state(&t, older, &out) == 0, "older record refused: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "state ok"));
	free(out);
	ck_assert_msg(ut_check_state(&t, newer_ok, &out) == 0, "compatible newer record "
	    "refused: %s", out);
	free(out);
	ck_assert_int_eq(ut_check_state(&t, newer_no, &out), 1);
	ck_assert_msg(strstr(out, "state format 7 (readable from format 7) written by "
	    "holdfastd 9.0") != NULL && strstr(out, "reads formats 1 to 1") != NULL,
	    "refusal without both formats: %s", out);
	free(out);
	ck_assert_int_eq(ut_check_state(&t, ancient, &out), 1);
	ck_assert_ptr_nonnull(strstr(out, "state format 0"));
	free(out);
	ck_assert_int_eq(ut_check_state(&t, "{\"format\":1,\"min_reader\":1", &out), 1);
	ck_assert_ptr_nonnull(strstr(out, "not valid JSON"));
	free(out);
	ck_assert_int_eq(ut_check_state(&t, "", &out), 1);
	free(out);
	free(older);
	free(newer_ok);
	free(newer_no);
	free(ancient);
	hfd_free(&t);
}
END_TEST

/*
 * The state once it has been still for 500 ms. holdfastd keeps its heal
 * state current lazily for what is not urgent (output, a worker's stats:
 * saved SUP_STATE_RING_MS, or 20 saves' time, after the change), so a
 * crash may lose the last few ms of those by design; what a heal must
 * keep is what was there before that.
 */
static char *
ut_settled(struct hfd *t)
{
	char	*s = ut_snapshot(t), *again;

	for (int i = 0; i < 20; i++, free(s), s = again) {
		usleep(500 * 1000);
		if (strcmp(s, again = ut_snapshot(t)) == 0) {
			free(again);
			return s;
		}
	}
	ck_abort_msg("the state never settled: %s", s);
	return NULL;
}

/* sig to holdfastd: the same pid comes back with everything kept. */
static void
ut_heal(struct hfd *t, int sig, int nth)
{
	char	*before = ut_settled(t), *after, *tag;

	kill(t->pid, sig);
	tag = xasprintf("[SUP_HEAL] signal=%d result=restored", sig);
	ck_assert_msg(tu_wait_file_count(t->log, "result=restored", nth, 5000),
	    "no %s in %s", tag, t->log);
	ck_assert_int_ge(supt_log_count(t, tag), 1);
	ck_assert_int_eq(supt_log_count(t, "result=restored"), nth);
	ck_assert(tu_pid_alive(t->pid));
	ck_assert(hfd_wait_up(t, 2000));
	after = ut_snapshot(t);
	ck_assert_msg(strcmp(before, after) == 0, "signal %d changed the state:\n"
	    "before:\n%s\nafter:\n%s", sig, before, after);
	free(before);
	free(after);
	free(tag);
}

START_TEST(test_heal_segv_abrt)
{
	struct hfd	t;
	int		port = tu_free_port(SOCK_STREAM), status;
	char		*fds_before, *fds_after;

	ut_start(&t, "upg_heal", port, NULL);
	fds_before = ut_fds(supt_pid(&t, "web:1"));
	ut_heal(&t, SIGSEGV, 1);
	ut_heal(&t, SIGABRT, 2);
	ck_assert_int_eq(waitpid(t.pid, &status, WNOHANG), 0);
	ut_respawn(&t);
	fds_after = ut_fds(supt_pid(&t, "web:1"));
	ck_assert_str_eq(fds_before, fds_after);
	free(fds_before);
	free(fds_after);
	supt_finish(&t);
}
END_TEST

/* The fourth crash within a minute is a plain crash: holdfastd dies of
 * it and its workers with it (PDEATHSIG), for systemd's Restart=. */
START_TEST(test_heal_crash_loop_exits)
{
	struct hfd	t;
	int		port = tu_free_port(SOCK_STREAM), status;
	pid_t		w0, w1;

	ut_start(&t, "upg_loop", port, NULL);
	w0 = supt_pid(&t, "web:0");
	w1 = supt_pid(&t, "solo");
	for (int i = 1; i <= 3; i++)
		ut_heal(&t, SIGSEGV, i);
	ck_assert_int_eq(supt_log_count(&t, "result=restored"), 3);
	kill(t.pid, SIGSEGV);
	ck_assert_int_eq(tu_wait_pid(t.pid, 5000, &status), 0);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
	    "holdfastd did not end with SIGSEGV (status %#x)", status);
	t.pid = 0;
	ck_assert_int_eq(supt_log_count(&t, "result=exit reason=crash-loop"), 1);
	ck_assert(tu_wait_for(ut_gone, &w0, 5000));
	ck_assert(tu_wait_for(ut_gone, &w1, 5000));
	hfd_free(&t);
}
END_TEST

/* ---- systemd notifications around an upgrade and a self-heal ---- */

/* RELOADING=1 before the exec, READY=1 from the new image, the watchdog
 * pings going on after an upgrade; a wedged event loop is re-executed by
 * the stall guard (SIGALRM) with everything kept, pings resuming; a
 * SIGABRT from the service manager (our parent) is its watchdog giving up:
 * not healed, holdfastd ends with it. */
START_TEST(test_upgrade_notify_watchdog)
{
	struct hfd	 t;
	struct notes	 ns;
	char		*path, *stall, *w = ut_workers(tu_free_port(SOCK_STREAM));
	char		*env[4] = { NULL, "WATCHDOG_USEC=2000000", NULL, NULL };
	char		*before, *after;
	int		 i, r, status;

	/* Everything in the rig's directory, removed with it. */
	hfd_init(&t, "upg_notify");
	path = xasprintf("%s/notify.sock", t.dir);
	stall = xasprintf("%s/stall", t.dir);
	notes_open(&ns, path);
	env[0] = xasprintf("NOTIFY_SOCKET=%s", path);
	env[2] = xasprintf("HOLDFAST_TEST_STALL=%s", stall);
	supt_write_conf(&t, w);
	hfd_spawn(&t, env);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert(supt_wait_state(&t, "solo", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "web:1", "RUNNING", 0, 5000));
	ck_assert(notes_wait(&ns, "READY=1", 0, 5000) >= 0);
	i = ns.n;
	ck_assert_int_eq(hfd_ctl(&t, "upgrade >/dev/null", NULL), 0);
	ck_assert_msg((r = notes_wait(&ns, "RELOADING=1", i, 5000)) >= 0, "no RELOADING=1");
	ck_assert_msg(notes_wait(&ns, "READY=1", r, 5000) > r, "no READY=1 after the upgrade");
	ck_assert_msg(notes_pings_go_on(&ns, r, 5000), "watchdog pings stopped after the upgrade");
	/* Wedge the loop at its next ping. */
	before = ut_snapshot(&t);
	tu_write_file(stall, "");
	ck_assert_msg(tu_wait_file_count(t.log, "signal=14 result=restored", 1, 5000),
	    "a wedged loop was not re-executed");
	ck_assert_int_ge(supt_log_count(&t, "reason=stall"), 1);
	notes_recv(&ns, 50);	/* what the old image sent before it wedged */
	i = ns.n;
	ck_assert_msg(notes_pings_go_on(&ns, i, 5000),
	    "watchdog pings did not resume after the stall heal");
	after = ut_snapshot(&t);
	ck_assert_str_eq(before, after);
	/* systemd's own watchdog signal (sent by our parent here). */
	kill(t.pid, SIGABRT);
	ck_assert_int_eq(tu_wait_pid(t.pid, 5000, &status), 0);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	    "status %#x", status);
	t.pid = 0;
	ck_assert_int_eq(supt_log_count(&t, "result=exit reason=service-manager"), 1);
	notes_close(&ns);
	hfd_free(&t);
	free(w);
	free(before);
	free(after);
	free(path);
	free(stall);
	free(env[0]);
	free(env[2]);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("supervisor_upgrade");
	TCase	*tc = tu_tcase(s, "upgrade", 60);

	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(tc, test_upgrade_keeps_everything);
	tcase_add_test(tc, test_upgrade_sigusr2);
	tcase_add_test(tc, test_upgrade_broken_binary);
	tcase_add_test(tc, test_upgrade_check_refuses);
	tcase_add_test(tc, test_upgrade_format_refused);
	tcase_add_test(tc, test_upgrade_restore_fails_falls_back);
	tcase_add_test(tc, test_upgrade_restore_crash_falls_back);
	tcase_add_test(tc, test_upgrade_exec_fails);
	tcase_add_test(tc, test_state_formats);
	tcase_add_test(tc, test_upgrade_notify_watchdog);
	tcase_add_test(tc, test_heal_segv_abrt);
	tcase_add_test(tc, test_heal_crash_loop_exits);
	return tu_run(s);
}
