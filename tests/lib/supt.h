/*
 * supt: what the supervisor suites add to the holdfastd rig of
 * tests/lib/hfd: a config of "[worker:...]" sections under a fixed
 * [holdfast] one, testworker, and status read through
 * `holdfastctl --json`. Everything is waited on with a deadline and
 * stopped by PID. Header-only (static) so each suite stays one file.
 */
#ifndef HOLDFAST_SUPT_H
#define HOLDFAST_SUPT_H

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "hfd.h"
#include "json.h"
#include "tu.h"
#include "util.h"

static __attribute__((unused)) char *
supt_tw(void)
{
	return tu_buildpath("tests/tools/testworker");
}

/*
 * testworker copied into the rig's directory (0755, under /tmp), for
 * workers run as another user: a checkout under a 0700 directory (root's
 * home) is out of that user's reach. The copy goes with the rig.
 */
static __attribute__((unused)) char *
supt_tw_reachable(struct hfd *t)
{
	char *src = supt_tw(), *dst = xasprintf("%s/testworker", t->dir);
	char *cmd = xasprintf("cp '%s' '%s' && chmod 0755 '%s'", src, dst, dst);

	if (tu_sh(cmd, NULL) != 0)
		ck_abort_msg("cannot copy %s to %s", src, dst);
	free(cmd);
	free(src);
	return dst;
}

static int supt_log_count(struct hfd *, const char *);

static void
supt_write_conf(struct hfd *t, const char *workers)
{
	char *text = xasprintf("[holdfast]\ncontrol_socket = run/hf.sock\n"
	    "shutdown_timeout = 5s\ntail_lines = 50\n\n%s", workers);

	hfd_write_conf(t, text);
	free(text);
}

/* Writes the config ("[worker:...]" sections) and starts holdfastd on it
 * with extra environment (env may be NULL); does not wait. */
static void
supt_spawn(struct hfd *t, const char *tag, const char *workers, char *const env[])
{
	hfd_init(t, tag);
	supt_write_conf(t, workers);
	hfd_spawn(t, env);
}

/* supt_spawn, then waits for the control socket. */
static __attribute__((unused)) void
supt_start(struct hfd *t, const char *tag, const char *workers)
{
	supt_spawn(t, tag, workers, NULL);
	ck_assert_msg(hfd_wait_up(t, 5000), "holdfastd did not come up");
}

/* Stops holdfastd; a sanitizer report in its log (--enable-sanitizers
 * builds) fails the test, since holdfastd's errors would go unseen. */
static void
supt_finish(struct hfd *t)
{
	hfd_stop(t, 10000);
	ck_assert_msg(supt_log_count(t, "Sanitizer") == 0 &&
	    supt_log_count(t, "runtime error:") == 0,
	    "sanitizer report in %s", t->log);
	hfd_free(t);
}

/* The status entry of one instance (from `status --json`), or NULL. */
static yajl_val
supt_status(struct hfd *t, yajl_val *tree)
{
	char	*out = NULL, err[128];

	hfd_ctl(t, "--json status 2>/dev/null", &out);
	*tree = out != NULL ? json_parse(out, strlen(out), err, sizeof(err)) : NULL;
	free(out);
	return *tree != NULL ? json_get_array(*tree, "procs") : NULL;
}

static int
supt_proc(struct hfd *t, const char *name, char *state, size_t len, long long *pid)
{
	yajl_val	 tree, procs = supt_status(t, &tree);
	int		 found = 0;

	*pid = 0;
	state[0] = '\0';
	for (size_t i = 0; procs != NULL && i < procs->u.array.len; i++) {
		yajl_val p = procs->u.array.values[i];

		if (strcmp(json_get_str(p, "name"), name) == 0) {
			snprintf(state, len, "%s", json_get_str(p, "state"));
			json_get_int(p, "pid", pid);
			found = 1;
		}
	}
	yajl_tree_free(tree);
	return found;
}

static __attribute__((unused)) pid_t
supt_pid(struct hfd *t, const char *name)
{
	char		 st[32];
	long long	 pid;

	supt_proc(t, name, st, sizeof(st), &pid);
	return (pid_t)pid;
}

struct supt_want {
	struct hfd	*t;
	const char	*name;
	const char	*state;
	pid_t		 not_pid;
};

static int
supt_state_is(void *arg)
{
	struct supt_want	*w = arg;
	char			 st[32];
	long long		 pid;

	if (!supt_proc(w->t, w->name, st, sizeof(st), &pid))
		return strcmp(w->state, "GONE") == 0;
	return strcmp(st, w->state) == 0 && (w->not_pid == 0 || pid != w->not_pid);
}

/* Waits until name is in state (and, when not_pid, has another pid). */
static int
supt_wait_state(struct hfd *t, const char *name, const char *state, pid_t not_pid,
    int timeout_ms)
{
	struct supt_want w = { t, name, state, not_pid };

	return tu_wait_for(supt_state_is, &w, timeout_ms);
}

/* The value of a "Key:\t..." line of /proc/pid/status ("SigIgn:"),
 * trailing blanks (as "Groups:" has) dropped; malloc'd, or NULL. Not
 * every suite needs it. */
static __attribute__((unused)) char *
supt_proc_field(pid_t pid, const char *key)
{
	char	*path = xasprintf("/proc/%d/status", (int)pid);
	char	*text = tu_read_file(path, NULL), *at, *v = NULL;
	size_t	 n;

	if (text != NULL && (at = strstr(text, key)) != NULL) {
		at += strlen(key);
		at += strspn(at, " \t");
		for (n = strcspn(at, "\n"); n > 0 && at[n - 1] == ' '; n--)
			;
		v = xstrndup(at, n);
	}
	free(text);
	free(path);
	return v;
}

static int
supt_log_count(struct hfd *t, const char *needle)
{
	return tu_count_in_file(t->log, needle);
}

/* ---- a client connecting in a loop (rolling restarts, reloads) ------ */

struct supt_client {
	pid_t	 pid;
	char	*stop, *report, *rep;	/* rep: the report, once finished */
	int	 status;		/* its wait status */
};

/*
 * Connects to 127.0.0.1:port one connection at a time, reading each
 * testworker -a "OK <pid>", until stopfile exists; writes "ok= refused=
 * reset= other=" to report. A reset (EOF without an answer) is counted
 * apart; exit 0 when nothing was refused or odd (nor reset, when
 * resets_fail) and something answered.
 */
static void __attribute__((noreturn))
supt_client_loop(int port, const char *stopfile, const char *report, int resets_fail)
{
	struct sockaddr_in	 sin = tu_loopback(port);
	int			 ok = 0, refused = 0, reset = 0, other = 0;
	char			 buf[64];

	for (int i = 0; i < 100000 && access(stopfile, F_OK) == -1; i++) {
		int	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ssize_t	n;

		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			*(errno == ECONNREFUSED ? &refused : &other) += 1;
			close(fd);
			continue;
		}
		n = read(fd, buf, sizeof(buf) - 1);
		if (n > 3 && strncmp(buf, "OK ", 3) == 0)
			ok++;
		else if (n <= 0)
			reset++;
		else
			other++;
		close(fd);
	}
	snprintf(buf, sizeof(buf), "ok=%d refused=%d reset=%d other=%d\n", ok,
	    refused, reset, other);
	tu_write_file(report, buf);
	_exit(refused == 0 && other == 0 && (reset == 0 || !resets_fail) &&
	    ok > 0 ? 0 : 1);
}

/* Forks the client (files in t's directory) and gives it 0.2 s to start. */
static __attribute__((unused)) void
supt_client_start(struct supt_client *c, struct hfd *t, int port, int resets_fail)
{
	c->stop = xasprintf("%s/stop", t->dir);
	c->report = xasprintf("%s/report", t->dir);
	c->rep = NULL;
	if ((c->pid = fork()) == 0)
		supt_client_loop(port, c->stop, c->report, resets_fail);
	ck_assert_int_gt(c->pid, 0);
	tu_sh("sleep 0.2", NULL);
}

/* Stops the client; its report stays in c->rep, its status in c->status. */
static __attribute__((unused)) void
supt_client_finish(struct supt_client *c)
{
	tu_write_file(c->stop, "");
	ck_assert_int_eq(tu_wait_pid(c->pid, 10000, &c->status), 0);
	c->rep = tu_read_file(c->report, NULL);
	ck_assert_ptr_nonnull(c->rep);
	fprintf(stderr, "client: %s", c->rep);
}

static __attribute__((unused)) void
supt_client_free(struct supt_client *c)
{
	free(c->stop);
	free(c->report);
	free(c->rep);
}

#endif
