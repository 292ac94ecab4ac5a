/*
 * supt: a private holdfastd for one integration test: its own directory,
 * config, control socket and log; holdfastctl run against it; status read
 * through `holdfastctl --json`. Everything is waited on with a deadline
 * and stopped by PID. Header-only (static) so each suite stays one file.
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
#include <sys/wait.h>

#include "json.h"
#include "tu.h"
#include "util.h"

struct supt {
	char	*dir;
	char	*conf;
	char	*sock;
	char	*log;
	pid_t	 pid;
};

static char *
supt_tw(void)
{
	return tu_buildpath("tests/tools/testworker");
}

static int supt_log_count(struct supt *, const char *);

static void
supt_write_conf(struct supt *t, const char *workers)
{
	char *text = xasprintf("[holdfast]\ncontrol_socket = run/hf.sock\n"
	    "shutdown_timeout = 5s\ntail_lines = 50\n\n%s", workers);

	ck_assert_int_eq(tu_write_file(t->conf, text), 0);
	free(text);
}

static int
supt_ctl(struct supt *t, const char *args, char **out)
{
	char	*ctl = tu_buildpath("supervisor/holdfastctl");
	char	*cmd = xasprintf("%s -s %s %s", ctl, t->sock, args);
	int	 rc = tu_sh(cmd, out);

	free(cmd);
	free(ctl);
	return rc;
}

static int
supt_up(void *arg)
{
	return supt_ctl(arg, "pid >/dev/null 2>&1", NULL) == 0;
}

/* Writes the config ("[worker:...]" sections) and starts holdfastd on it. */
static void
supt_start(struct supt *t, const char *tag, const char *workers)
{
	char *argv[5];

	memset(t, 0, sizeof(*t));
	t->dir = tu_tmpdir(tag);
	t->conf = xasprintf("%s/holdfast.conf", t->dir);
	t->sock = xasprintf("%s/run/hf.sock", t->dir);
	t->log = xasprintf("%s/holdfastd.log", t->dir);
	supt_write_conf(t, workers);
	argv[0] = tu_buildpath("supervisor/holdfastd");
	argv[1] = "-c";
	argv[2] = t->conf;
	argv[3] = NULL;
	t->pid = tu_spawn(argv, NULL, t->log);
	free(argv[0]);
	ck_assert_msg(tu_wait_for(supt_up, t, 5000), "holdfastd did not come up");
}

/* Stops holdfastd; a sanitizer report in its log (--enable-sanitizers
 * builds) fails the test, since holdfastd's errors would go unseen. */
static void
supt_finish(struct supt *t)
{
	if (t->pid > 0)
		tu_stop(t->pid, 10000);
	ck_assert_msg(supt_log_count(t, "Sanitizer") == 0 &&
	    supt_log_count(t, "runtime error:") == 0,
	    "sanitizer report in %s", t->log);
	tu_rmrf(t->dir);
	free(t->dir);
	free(t->conf);
	free(t->sock);
	free(t->log);
}

/* The status entry of one instance (from `status --json`), or NULL. */
static yajl_val
supt_status(struct supt *t, yajl_val *tree)
{
	char	*out = NULL, err[128];

	supt_ctl(t, "--json status 2>/dev/null", &out);
	*tree = out != NULL ? json_parse(out, strlen(out), err, sizeof(err)) : NULL;
	free(out);
	return *tree != NULL ? json_get_array(*tree, "procs") : NULL;
}

static int
supt_proc(struct supt *t, const char *name, char *state, size_t len, long long *pid)
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

static pid_t
supt_pid(struct supt *t, const char *name)
{
	char		 st[32];
	long long	 pid;

	supt_proc(t, name, st, sizeof(st), &pid);
	return (pid_t)pid;
}

struct supt_want {
	struct supt	*t;
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
supt_wait_state(struct supt *t, const char *name, const char *state, pid_t not_pid,
    int timeout_ms)
{
	struct supt_want w = { t, name, state, not_pid };

	return tu_wait_for(supt_state_is, &w, timeout_ms);
}

static int
supt_log_count(struct supt *t, const char *needle)
{
	return tu_count_in_file(t->log, needle);
}

#endif
