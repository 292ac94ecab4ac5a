/*
 * sup_hook: the [event:NAME] listeners. Each runs its command once per
 * matching event, one at a time, with the event in the environment
 * (HOLDFAST_EVENT_TYPE, _NAME, _GROUP, _SEQ, _TIME, ... and _JSON) and as
 * one JSON line on stdin; stdout goes to /dev/null, stderr to holdfastd's.
 *
 * Invariants: the loop never waits for a command. It is started with
 * posix_spawn in a process group of its own, its stdin written once (an
 * event is far below a pipe's buffer) and closed, and killed (the whole
 * group) at timeout; its exit comes back through the reaper. While one
 * runs, events wait in a queue of at most `queue`; beyond it, and beyond
 * rate_limit starts per minute, events are dropped and counted. Every
 * failure is one line:
 *
 *   [EVENT_HOOK] name=pager seq=12 pid=4711 result=failed code=1 ms=35
 *   [EVENT_HOOK] name=pager seq=13 pid=4712 result=timeout ms=10000
 *   [EVENT_HOOK] name=pager seq=14 result=spawn-failed reason="..."
 *   [EVENT_HOOK] name=pager result=dropped reason=queue|rate_limit count=N
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <event2/event.h>

#include "cfg.h"
#include "log.h"
#include "sup.h"
#include "sup_event.h"
#include "util.h"

extern char **environ;

struct hook_item {
	uint64_t	 seq;
	char		*json;
	char		**env;		/* HOLDFAST_EVENT_* only */
};

struct hook {
	char			*name;
	char			*command;
	unsigned		 types;		/* 1 << sup_ev_type; 0: all */
	unsigned		 states;	/* 1 << sup_state */
	char			**workers;	/* NULL: all */
	int			 nworkers;
	int			 rate_limit;
	int64_t			 timeout_ms;
	int			 qmax;
	double			 tokens;	/* rate_limit's bucket */
	uint64_t		 tokens_us;
	/* the queue, a ring of qmax + 1 */
	struct hook_item	*q;
	int			 qhead, qlen;
	/* the running command */
	pid_t			 pid;
	uint64_t		 seq;
	uint64_t		 started_ms;
	int			 timed_out;
	struct event		*timer;
	/* drops since the last line about them */
	uint64_t		 dropped;
	const char		*drop_why;
	int			 retired;	/* removed by a reload: freed once idle */
	struct hook		*next;
};

static struct hook *hooks;

static void hook_run_next(struct hook *);

/* ---- items ---------------------------------------------------------------- */

static char *
hook_env_var(const char *key, const char *val)
{
	char *s = xasprintf("HOLDFAST_EVENT_%s=%s", key, val);

	for (char *c = s + 15; *c != '='; c++)
		*c = (char)toupper((unsigned char)*c);
	return s;
}

static char **
hook_env(const struct sup_ev *e, const char *listener)
{
	char	**env = xcalloc(SUP_EVENT_FIELDS + 12, sizeof(*env));
	char	  num[32];
	int	  n = 0;

	snprintf(num, sizeof(num), "%llu", (unsigned long long)e->seq);
	env[n++] = hook_env_var("seq", num);
	snprintf(num, sizeof(num), "%lld", (long long)e->time_us);
	env[n++] = hook_env_var("time_us", num);
	env[n++] = hook_env_var("type", sup_event_type_name(e->type));
	env[n++] = hook_env_var("listener", listener);
	if (e->name != NULL) {
		env[n++] = hook_env_var("name", e->name);
		env[n++] = hook_env_var("group", e->group);
	}
	for (int i = 0; i < e->nf; i++) {
		if (e->f[i].str != NULL)
			env[n++] = hook_env_var(e->f[i].key, e->f[i].str);
		else {
			snprintf(num, sizeof(num), "%lld", e->f[i].num);
			env[n++] = hook_env_var(e->f[i].key, num);
		}
	}
	env[n++] = hook_env_var("json", e->json);
	return env;
}

static void
hook_item_free(struct hook_item *it)
{
	for (char **v = it->env; v != NULL && *v != NULL; v++)
		free(*v);
	free(it->env);
	free(it->json);
	memset(it, 0, sizeof(*it));
}

/* ---- matching --------------------------------------------------------------- */

static int
hook_matches(const struct hook *h, const struct sup_ev *e)
{
	int ok;

	if (h->retired)
		return 0;
	ok = h->types == 0 && h->states == 0;
	ok = ok || (h->types & (1u << e->type)) != 0;
	ok = ok || (e->type == SUP_EVT_STATE && e->to != NULL &&
	    (h->states & (1u << sup_state_parse(e->to))) != 0);
	if (!ok || h->workers == NULL)
		return ok;
	if (e->name == NULL)
		return 0;
	for (int i = 0; i < h->nworkers; i++)
		if (strcmp(h->workers[i], e->name) == 0 || strcmp(h->workers[i], e->group) == 0)
			return 1;
	return 0;
}

/* rate_limit: a burst of rate_limit, refilled at rate_limit per minute. */
static int
hook_take_token(struct hook *h)
{
	uint64_t now = hf_now_mono_us();

	h->tokens += (double)(now - h->tokens_us) * h->rate_limit / 60e6;
	if (h->tokens > h->rate_limit)
		h->tokens = h->rate_limit;
	h->tokens_us = now;
	if (h->tokens < 1.0)
		return 0;
	h->tokens -= 1.0;
	return 1;
}

static void
hook_drop(struct hook *h, const char *why)
{
	if (h->dropped == 0 || h->drop_why != why)
		log_warnx("[EVENT_HOOK] name=%s result=dropped reason=%s (more are counted "
		    "until the next command starts)", h->name, why);
	h->drop_why = why;
	h->dropped++;
}

void
sup_hook_event(const struct sup_ev *e)
{
	for (struct hook *h = hooks; h != NULL; h = h->next) {
		struct hook_item *it;

		if (!hook_matches(h, e))
			continue;
		if (h->rate_limit > 0 && !hook_take_token(h)) {
			hook_drop(h, "rate_limit");
			continue;
		}
		if (h->pid != 0 && h->qlen >= h->qmax) {
			hook_drop(h, "queue");
			continue;
		}
		it = &h->q[(h->qhead + h->qlen) % (h->qmax + 1)];
		it->seq = e->seq;
		it->json = xstrdup(e->json);
		it->env = hook_env(e, h->name);
		h->qlen++;
		if (h->pid == 0)
			hook_run_next(h);
	}
}

/* ---- running ------------------------------------------------------------------ */

static void
hook_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct hook *h = arg;

	(void)fd;
	(void)what;
	if (h->pid == 0)
		return;
	h->timed_out = 1;
	if (kill(-h->pid, SIGKILL) == -1)
		kill(h->pid, SIGKILL);
}

static char **
hook_full_env(char **ev)
{
	size_t	 n = 0, k = 0;
	char	**env;

	while (environ[n] != NULL)
		n++;
	for (char **v = ev; *v != NULL; v++)
		k++;
	env = xcalloc(n + k + 1, sizeof(*env));
	memcpy(env, ev, k * sizeof(*env));
	for (size_t i = 0, j = k; i < n; i++)
		if (strncmp(environ[i], "HOLDFAST_EVENT_", 15) != 0)
			env[j++] = environ[i];
	return env;
}

/* posix_spawn with stdin from in, stdout on /dev/null, a process group of
 * its own, default signal handling. 0, or an errno. */
static int
hook_spawn(struct hook *h, char **argv, char *path, char **env, int in, pid_t *pid)
{
	posix_spawn_file_actions_t	fa;
	posix_spawnattr_t		at;
	sigset_t			all, none;
	int				rc;

	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setsigmask(&at, &none);
	rc = posix_spawn(pid, path, &fa, &at, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	(void)h;
	return rc;
}

/* Starts the command of the item at the head of the queue. */
static int
hook_start(struct hook *h, struct hook_item *it)
{
	char		 err[CFG_ERRLEN], **argv = NULL, *path = NULL, **env;
	struct timeval	 tv = { h->timeout_ms / 1000, (h->timeout_ms % 1000) * 1000 };
	int		 pfd[2] = { -1, -1 }, rc;
	pid_t		 pid;

	if (cfg_split_command(h->command, &argv, err, sizeof(err)) <= 0 ||
	    (path = sup_resolve_command(argv[0], sup.s_cfg->dir)) == NULL) {
		log_warnx("[EVENT_HOOK] name=%s seq=%llu result=spawn-failed reason=\"%s\"",
		    h->name, (unsigned long long)it->seq, argv != NULL ?
		    "command not found" : err);
		cfg_free_argv(argv);
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		log_warn("[EVENT_HOOK] name=%s seq=%llu result=spawn-failed pipe", h->name,
		    (unsigned long long)it->seq);
		cfg_free_argv(argv);
		free(path);
		return -1;
	}
	env = hook_full_env(it->env);
	rc = hook_spawn(h, argv, path, env, pfd[0], &pid);
	close(pfd[0]);
	free(env);
	if (rc != 0)
		log_warnx("[EVENT_HOOK] name=%s seq=%llu result=spawn-failed reason=\"%s: %s\"",
		    h->name, (unsigned long long)it->seq, path, strerror(rc));
	else {
		hf_fd_set_nonblock(pfd[1]);
		(void)!write(pfd[1], it->json, strlen(it->json));
		(void)!write(pfd[1], "\n", 1);
		h->pid = pid;
		h->seq = it->seq;
		h->started_ms = hf_now_mono_ms();
		h->timed_out = 0;
		if (h->timer == NULL)
			h->timer = evtimer_new(sup.s_base, hook_timeout, h);
		evtimer_add(h->timer, &tv);
		log_debug("[EVENT_HOOK] name=%s seq=%llu pid=%d started", h->name,
		    (unsigned long long)it->seq, (int)pid);
	}
	close(pfd[1]);
	cfg_free_argv(argv);
	free(path);
	return rc == 0 ? 0 : -1;
}

static void
hook_run_next(struct hook *h)
{
	int cap = h->qmax + 1;	/* the one about to run, and qmax waiting */

	while (h->pid == 0 && h->qlen > 0) {
		struct hook_item *it = &h->q[h->qhead];

		if (h->dropped > 0) {
			log_warnx("[EVENT_HOOK] name=%s result=dropped reason=%s count=%llu",
			    h->name, h->drop_why, (unsigned long long)h->dropped);
			h->dropped = 0;
		}
		(void)hook_start(h, it);
		hook_item_free(it);
		h->qhead = (h->qhead + 1) % cap;
		h->qlen--;
	}
}

static void hook_free(struct hook *);

int
sup_hook_reaped(pid_t pid, int status)
{
	struct hook	**hp, *h;
	uint64_t	  ms;

	for (hp = &hooks; (h = *hp) != NULL; hp = &h->next)
		if (h->pid == pid)
			break;
	if (h == NULL)
		return 0;
	ms = hf_now_mono_ms() - h->started_ms;
	evtimer_del(h->timer);
	if (h->timed_out)
		log_warnx("[EVENT_HOOK] name=%s seq=%llu pid=%d result=timeout ms=%llu",
		    h->name, (unsigned long long)h->seq, (int)pid, (unsigned long long)ms);
	else if (WIFSIGNALED(status))
		log_warnx("[EVENT_HOOK] name=%s seq=%llu pid=%d result=failed signal=%d "
		    "ms=%llu", h->name, (unsigned long long)h->seq, (int)pid,
		    WTERMSIG(status), (unsigned long long)ms);
	else if (WEXITSTATUS(status) != 0)
		log_warnx("[EVENT_HOOK] name=%s seq=%llu pid=%d result=failed code=%d "
		    "ms=%llu", h->name, (unsigned long long)h->seq, (int)pid,
		    WEXITSTATUS(status), (unsigned long long)ms);
	else
		log_debug("[EVENT_HOOK] name=%s seq=%llu pid=%d result=ok ms=%llu",
		    h->name, (unsigned long long)h->seq, (int)pid, (unsigned long long)ms);
	h->pid = 0;
	if (h->retired) {
		*hp = h->next;
		hook_free(h);
		return 1;
	}
	hook_run_next(h);
	return 1;
}

/* ---- configuration ---------------------------------------------------------- */

static void
hook_drop_queue(struct hook *h)
{
	int cap = h->qmax + 1;

	for (int i = 0; i < h->qlen; i++)
		hook_item_free(&h->q[(h->qhead + i) % cap]);
	h->qhead = h->qlen = 0;
}

static void
hook_free(struct hook *h)
{
	hook_drop_queue(h);
	free(h->q);
	if (h->timer != NULL)
		event_free(h->timer);
	for (int i = 0; i < h->nworkers; i++)
		free(h->workers[i]);
	free(h->workers);
	free(h->command);
	free(h->name);
	free(h);
}

/* Calls fn on each trimmed item of a comma-separated list. */
static void
hook_list(const char *list, void (*fn)(struct hook *, const char *), struct hook *h)
{
	char *copy = xstrdup(list), *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		t += strspn(t, " \t");
		t[strcspn(t, " \t")] = '\0';
		if (*t != '\0')
			fn(h, t);
	}
	free(copy);
}

static void
hook_add_type(struct hook *h, const char *t)
{
	enum sup_state st = sup_state_parse(t);

	if (st != SUP_NSTATES) {
		h->states |= 1u << st;
		return;
	}
	for (int i = 0; i < SUP_EVT_N; i++)
		if (strcmp(t, sup_event_type_name(i)) == 0)
			h->types |= 1u << i;
}

static void
hook_add_worker(struct hook *h, const char *t)
{
	h->workers = xreallocarray(h->workers, h->nworkers + 1, sizeof(*h->workers));
	h->workers[h->nworkers++] = xstrdup(t);
}

static void
hook_set(struct hook *h, const struct cfg_event *e)
{
	free(h->command);
	h->command = xstrdup(e->command);
	h->types = h->states = 0;
	hook_list(e->events, hook_add_type, h);
	for (int i = 0; i < h->nworkers; i++)
		free(h->workers[i]);
	free(h->workers);
	h->workers = NULL;
	h->nworkers = 0;
	hook_list(e->workers, hook_add_worker, h);
	if (h->rate_limit != e->rate_limit) {
		h->tokens = e->rate_limit;
		h->tokens_us = hf_now_mono_us();
	}
	h->rate_limit = e->rate_limit;
	h->timeout_ms = e->timeout_ms;
	if (h->qmax != e->queue) {	/* a new size: what waits is dropped */
		if (h->qlen > 0)
			log_warnx("[EVENT_HOOK] name=%s result=dropped reason=reload count=%d",
			    h->name, h->qlen);
		hook_drop_queue(h);
		free(h->q);
		h->qmax = e->queue;
		h->q = xcalloc(h->qmax + 1, sizeof(*h->q));
	}
}

void
sup_hook_configure(const struct cfg *cfg)
{
	struct hook **hp, *h;

	for (h = hooks; h != NULL; h = h->next)
		h->retired = 1;
	for (int i = 0; i < cfg->nevents; i++) {
		const struct cfg_event *e = &cfg->events[i];

		for (h = hooks; h != NULL; h = h->next)
			if (strcmp(h->name, e->name) == 0)
				break;
		if (h == NULL) {
			h = xcalloc(1, sizeof(*h));
			h->name = xstrdup(e->name);
			h->qmax = -1;
			h->next = hooks;
			hooks = h;
		}
		h->retired = 0;
		hook_set(h, e);
	}
	for (hp = &hooks; (h = *hp) != NULL; ) {
		if (h->retired && h->pid == 0) {
			*hp = h->next;
			hook_free(h);
		} else {
			if (h->retired)
				hook_drop_queue(h);
			hp = &h->next;
		}
	}
}

int
sup_hook_stop_all(const char *why)
{
	int n = 0;

	for (struct hook *h = hooks; h != NULL; h = h->next) {
		if (h->qlen > 0)
			log_warnx("[EVENT_HOOK] name=%s result=dropped reason=%s count=%d",
			    h->name, why, h->qlen);
		hook_drop_queue(h);
		if (h->pid == 0)
			continue;
		log_warnx("[EVENT_HOOK] name=%s seq=%llu pid=%d result=killed reason=%s",
		    h->name, (unsigned long long)h->seq, (int)h->pid, why);
		if (kill(-h->pid, SIGKILL) == -1)
			kill(h->pid, SIGKILL);
		h->pid = 0;
		n++;
	}
	return n;
}

void
sup_hook_close(void)
{
	while (hooks != NULL) {
		struct hook *h = hooks;

		hooks = h->next;
		hook_free(h);
	}
}
