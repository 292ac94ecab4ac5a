/*
 * sup_ctl: the control socket (see sup_ctl.h for the protocol).
 *
 * Invariants: every request gets exactly one reply (tail -f then keeps
 * streaming); nothing a client sends (garbage, a 1 MiB line, half a
 * message, an unknown command) does more than earn it an error reply and,
 * for unparsable input, the end of its connection; a client not allowed
 * by SO_PEERCRED is told so and dropped before it can send anything.
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "cfg.h"
#include "chan.h"
#include "json.h"
#include "log.h"
#include "sup.h"
#include "sup_health.h"
#include "sup_sdnotify.h"
#include "sup_ctl.h"
#include "sup_event.h"
#include "sup_log.h"
#include "sup_upgrade.h"
#include "util.h"

#define SUP_CTL_MAX_CLIENTS	64
#define SUP_CTL_PARTIAL_MS	5000	/* to finish a message once begun */

struct sup_ctl_client {
	struct chan_peer	*c_peer;
	struct sup_proc		*c_follow;	/* tail -f */
	struct sup_proc		**c_wait;	/* start/stop/restart waiting to finish */
	int			 c_nwait;
	int			 c_wait_up;	/* 1: until RUNNING, 0: until down */
	uid_t			 c_uid;
	struct sup_ctl_client	*c_next;
	/* cfgcli: tail -f NAME stderr, maintail -f */
	int			 c_stream;	/* SUP_STREAM_ANY: both */
	int			 c_follow_main;
	/* events: following events (`events -f`), and what it missed */
	int			 c_events;
	uint64_t		 c_dropped;
	int			 c_upgrader;	/* asked for the upgrade: owed its reply */
};

static struct {
	int			 fd;
	char			*path;
	gid_t			 gid;
	int			 has_gid;
	struct event		*ev;
	struct event		*ev_pause;	/* accept paused after EMFILE */
	struct sup_ctl_client	*clients;
	int			 nclients;
} ctl = { .fd = -1 };

typedef void sup_ctl_fn(struct sup_ctl_client *, yajl_val);

/* ---- replies ---------------------------------------------------------- */

static struct jw *
sup_ctl_ok(void)
{
	struct jw *w = jw_new();

	jw_obj_open(w);
	jw_kbool(w, "ok", 1);
	return w;
}

static void
sup_ctl_send(struct sup_ctl_client *c, struct jw *w)
{
	jw_obj_close(w);
	chan_send_jw(c->c_peer, w);
	jw_free(w);
}

/* code: "usage", "nosuchprocess", "denied", "failed", "protocol" */
static void
sup_ctl_error(struct sup_ctl_client *c, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
sup_ctl_error(struct sup_ctl_client *c, const char *code, const char *fmt, ...)
{
	struct jw	*w = jw_new();
	char		 msg[512];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	jw_obj_open(w);
	jw_kbool(w, "ok", 0);
	jw_kstr(w, "code", code);
	jw_kstr(w, "error", msg);
	sup_ctl_send(c, w);
}

/* ---- names ------------------------------------------------------------ */

/* The "names" array as instances; -1 (reply sent) on a bad or unknown name.
 * An empty list means every instance when allow_all, else a usage error. */
static int
sup_ctl_names(struct sup_ctl_client *c, yajl_val req, int allow_all,
    struct sup_proc ***out)
{
	yajl_val	 names = json_get_array(req, "names");
	struct sup_proc	**all = NULL, **v;
	int		 n = 0, k;

	*out = NULL;
	if (names == NULL || names->u.array.len == 0) {
		if (!allow_all) {
			sup_ctl_error(c, "usage", "a process name (or \"all\") is required");
			return -1;
		}
		return sup_lookup("all", out);
	}
	for (size_t i = 0; i < names->u.array.len; i++) {
		yajl_val s = names->u.array.values[i];

		if (!YAJL_IS_STRING(s)) {
			sup_ctl_error(c, "usage", "names must be strings");
			free(all);
			return -1;
		}
		if ((k = sup_lookup(s->u.string, &v)) == 0) {
			sup_ctl_error(c, "nosuchprocess", "no such process: %.100s", s->u.string);
			free(all);
			return -1;
		}
		all = xreallocarray(all, n + k, sizeof(*all));
		memcpy(all + n, v, k * sizeof(*v));
		n += k;
		free(v);
	}
	*out = all;
	return n;
}

/* ---- status ----------------------------------------------------------- */

static void
sup_ctl_db(struct jw *w, const struct sup_proc *p)
{
	const struct sup_db *d = &p->p_db;

	jw_key(w, "db");
	jw_obj_open(w);
	jw_kstr(w, "state", d->d_state < 0 ? "unknown" : d->d_state ? "up" : "down");
	if (d->d_state >= 0) {
		jw_kint(w, "since_ms", (hf_now_real_us() - d->d_since_us) / 1000);
		jw_kint(w, "attempts", d->d_attempts);
	}
	if (d->d_op != NULL)
		jw_kstr(w, "op", d->d_op);
	if (d->d_reason != NULL)
		jw_kstr(w, "reason", d->d_reason);
	if (d->d_detail != NULL)
		jw_kstr(w, "detail", d->d_detail);
	jw_obj_close(w);
}

static void
sup_ctl_stats(struct jw *w, const struct sup_proc *p)
{
	char		 err[64];
	yajl_val	 v;

	if (p->p_stats == NULL ||
	    (v = json_parse(p->p_stats, strlen(p->p_stats), err, sizeof(err))) == NULL)
		return;
	jw_key(w, "stats");
	jw_value(w, v);
	yajl_tree_free(v);
}

static void
sup_ctl_proc(struct jw *w, const struct sup_proc *p)
{
	uint64_t now = hf_now_mono_ms();

	jw_obj_open(w);
	jw_kstr(w, "name", p->p_name);
	jw_kstr(w, "group", p->p_group->g_name);
	jw_kstr(w, "state", sup_state_name(p->p_state));
	jw_kint(w, "state_ms", now - p->p_state_since_ms);
	jw_kint(w, "pid", p->p_pid);
	jw_kint(w, "uptime_ms", p->p_pid != 0 ? (long long)(now - p->p_spawn_ms) : 0);
	jw_kint(w, "restarts", p->p_restarts);
	jw_kint(w, "attempts", p->p_attempts);
	if (p->p_last_exit[0] != '\0')
		jw_kstr(w, "last_exit", p->p_last_exit);
	jw_kbool(w, "channel", p->p_hello);
	if (p->p_waiting_for[0] != '\0' && p->p_state == SUP_STOPPED)	/* cfgcli */
		jw_kstr(w, "waiting_for", p->p_waiting_for);
	if (p->p_state == SUP_FATAL && p->p_want_up && p->p_group->g_wc != NULL &&
	    p->p_group->g_wc->fatal_retry_ms > 0) {	/* cfgcli: when fatal_retry fires */
		long long left = p->p_group->g_wc->fatal_retry_ms -
		    (long long)(now - p->p_state_since_ms);

		jw_kint(w, "retry_in_ms", left > 0 ? left : 0);
	}
	sup_ctl_db(w, p);
	sup_ctl_stats(w, p);
	if (p->p_status_text != NULL)	/* libhf: the channel's "status" */
		jw_kstr(w, "status_text", p->p_status_text);
	/* limits: OOM kills in its cgroup, at the last exit and in all */
	jw_kint(w, "oom_kill", p->p_oom_kill);
	jw_kint(w, "oom_kills", p->p_oom_kills);
	sup_sdnotify_proc_json(w, p);	/* sdnotify */
	sup_health_json(w, p);
	jw_obj_close(w);
}

/* The extra processes (surge replacements, old or removed processes being
 * stopped) of the groups the listed instances belong to. */
static void
sup_ctl_extras(struct jw *w, struct sup_proc **v, int n)
{
	int any = 0;

	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next) {
		int listed = 0;

		for (int i = 0; i < n && !listed; i++)
			listed = v[i] != NULL && v[i]->p_group == g;
		for (int i = 0; listed && i < g->g_nextra; i++) {
			const struct sup_proc *x = g->g_extra[i];

			if (!any) {
				jw_key(w, "surge");
				jw_arr_open(w);
				any = 1;
			}
			sup_ctl_proc(w, x);
		}
	}
	if (any)
		jw_arr_close(w);
}

void
sup_ctl_status_json(struct jw *w, struct sup_proc **v, int n)
{
	jw_kint(w, "pid", (long long)getpid());
	jw_kint(w, "uptime_ms", hf_now_mono_ms() - sup.s_started_ms);
	jw_kstr(w, "config", sup.s_cfg->path);
	jw_key(w, "procs");
	jw_arr_open(w);
	for (int i = 0; i < n; i++)
		sup_ctl_proc(w, v[i]);
	jw_arr_close(w);
	sup_ctl_extras(w, v, n);
	sup_sdnotify_json(w);	/* sdnotify */
}

static void
sup_ctl_procs(struct sup_ctl_client *c, struct sup_proc **v, int n)
{
	struct jw *w = sup_ctl_ok();

	sup_ctl_status_json(w, v, n);
	sup_ctl_send(c, w);
}

static void
sup_ctl_status(struct sup_ctl_client *c, yajl_val req)
{
	struct sup_proc	**v;
	int		 n;

	if ((n = sup_ctl_names(c, req, 1, &v)) < 0)
		return;
	sup_ctl_procs(c, v, n);
	free(v);
}

/* ---- start, stop, restart -------------------------------------------- */

/*
 * Waiting: a start/restart is done when each process is RUNNING with no
 * restart left to do (or has ended up down: the reply says so, and
 * holdfastctl exits 3); a stop is done when each one is down.
 */
static int
sup_ctl_settled(const struct sup_proc *p, int up)
{
	int down = p->p_state == SUP_STOPPED || p->p_state == SUP_EXITED ||
	    p->p_state == SUP_FATAL;

	if (!up)
		return down;
	if (down)
		return 1;
	return p->p_state == SUP_RUNNING && !p->p_restart_pending &&
	    !p->p_rolling && p->p_group->g_roll_next == -1 && p->p_surge == NULL;
}

static void
sup_ctl_check_wait(struct sup_ctl_client *c)
{
	int j = 0;

	for (int i = 0; i < c->c_nwait; i++)
		if (c->c_wait[i] != NULL && !sup_ctl_settled(c->c_wait[i], c->c_wait_up))
			return;
	for (int i = 0; i < c->c_nwait; i++)	/* drop removed ones */
		if (c->c_wait[i] != NULL)
			c->c_wait[j++] = c->c_wait[i];
	sup_ctl_procs(c, c->c_wait, j);
	free(c->c_wait);
	c->c_wait = NULL;
	c->c_nwait = 0;
}

void
sup_ctl_pass_done(void)
{
	for (struct sup_ctl_client *c = ctl.clients; c != NULL; c = c->c_next)
		if (c->c_wait != NULL)
			sup_ctl_check_wait(c);
}

/* Replies now, or once the processes have settled when the client waits. */
static void
sup_ctl_finish(struct sup_ctl_client *c, yajl_val req, struct sup_proc **v, int n,
    int up)
{
	int wait = 0;

	sup_pass();
	(void)json_get_bool(req, "wait", &wait);
	if (!wait || c->c_wait != NULL) {
		sup_ctl_procs(c, v, n);
		free(v);
		return;
	}
	c->c_wait = v;
	c->c_nwait = n;
	c->c_wait_up = up;
	sup_ctl_check_wait(c);
}

static int
sup_ctl_refuse_shutdown(struct sup_ctl_client *c, struct sup_proc **v)
{
	if (!sup.s_shutting_down)
		return 0;
	sup_ctl_error(c, "failed", "holdfastd is shutting down");
	free(v);
	return 1;
}

static void
sup_ctl_apply(struct sup_ctl_client *c, yajl_val req, void (*fn)(struct sup_proc *),
    int up)
{
	struct sup_proc	**v;
	int		 n;

	if ((n = sup_ctl_names(c, req, 0, &v)) < 0 || sup_ctl_refuse_shutdown(c, v))
		return;
	for (int i = 0; i < n; i++)
		fn(v[i]);
	sup_ctl_finish(c, req, v, n, up);
}

static void
sup_ctl_start(struct sup_ctl_client *c, yajl_val req)
{
	sup_ctl_apply(c, req, sup_proc_start, 1);
}

static void
sup_ctl_stop(struct sup_ctl_client *c, yajl_val req)
{
	sup_ctl_apply(c, req, sup_proc_stop, 0);
}

/* A name that is a whole group (or "all") restarts groups, rolling. */
void
sup_ctl_restart_one(const char *name)
{
	struct sup_proc	**v;
	int		 n;

	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		if (!g->g_retired && (strcmp(name, "all") == 0 ||
		    strcmp(name, g->g_name) == 0)) {
			sup_group_restart(g, 0);
			if (strcmp(name, "all") != 0)
				return;
		}
	if (strcmp(name, "all") == 0)
		return;
	n = sup_lookup(name, &v);
	for (int i = 0; i < n; i++)
		sup_proc_restart(v[i]);
	free(v);
}

static void
sup_ctl_restart(struct sup_ctl_client *c, yajl_val req)
{
	yajl_val	 names = json_get_array(req, "names");
	struct sup_proc	**v;
	int		 n;

	if ((n = sup_ctl_names(c, req, 0, &v)) < 0 || sup_ctl_refuse_shutdown(c, v))
		return;
	for (size_t i = 0; i < names->u.array.len; i++)
		sup_ctl_restart_one(names->u.array.values[i]->u.string);
	sup_ctl_finish(c, req, v, n, 1);
}

/* ---- the rest --------------------------------------------------------- */

static void
sup_ctl_reload(struct sup_ctl_client *c, yajl_val req)
{
	char		 err[CFG_ERRLEN];
	struct jw	*w;
	int		 dry = 0;

	if (sup.s_shutting_down) {
		sup_ctl_error(c, "failed", "holdfastd is shutting down");
		return;
	}
	if (json_get_bool(req, "dry_run", &dry) == 0 && dry) {	/* cfgcli */
		w = sup_ctl_ok();
		jw_kbool(w, "dry_run", 1);
		if (sup_reload_dry_run(err, sizeof(err), w) == -1) {
			jw_free(w);
			sup_ctl_error(c, "failed", "the configuration does not load: %s", err);
			return;
		}
		sup_ctl_send(c, w);
		return;
	}
	w = sup_ctl_ok();
	jw_key(w, "changes");
	jw_arr_open(w);
	if (sup_reload(err, sizeof(err), w) == -1) {
		jw_free(w);
		sup_ctl_error(c, "failed", "reload refused, running config kept: %s", err);
		return;
	}
	jw_arr_close(w);
	sup_ctl_send(c, w);
}

static void
sup_ctl_pid(struct sup_ctl_client *c, yajl_val req)
{
	struct sup_proc	**v;
	int		 n;

	if (json_get_array(req, "names") == NULL ||
	    json_get_array(req, "names")->u.array.len == 0) {
		struct jw *w = sup_ctl_ok();

		jw_kint(w, "pid", (long long)getpid());
		sup_ctl_send(c, w);
		return;
	}
	if ((n = sup_ctl_names(c, req, 0, &v)) < 0)
		return;
	sup_ctl_procs(c, v, n);
	free(v);
}

static void sup_ctl_ring_json(struct jw *, const struct sup_ring *, int, long long);

void
sup_ctl_tail_json(struct jw *w, const struct sup_proc *p, long long want)
{
	jw_kstr(w, "name", p->p_name);
	sup_ctl_ring_json(w, p->p_ring, SUP_STREAM_ANY, want);
}

/* cfgcli: "lines": the last want lines of r from stream (ANY: all). */
static void
sup_ctl_ring_json(struct jw *w, const struct sup_ring *r, int stream, long long want)
{
	int cnt = r != NULL ? sup_ring_count(r) : 0, first = cnt;

	/* from the newest back, want lines of that stream (or of either) */
	for (long long got = 0; first > 0 && (want < 0 || got < want); first--)
		got += stream == SUP_STREAM_ANY || sup_ring_stream(r, first - 1) == stream ||
		    sup_ring_stream(r, first - 1) == SUP_STREAM_ANY;
	jw_key(w, "lines");
	jw_arr_open(w);
	for (int i = first; i < cnt; i++)
		if (stream == SUP_STREAM_ANY || sup_ring_stream(r, i) == stream ||
		    sup_ring_stream(r, i) == SUP_STREAM_ANY)
			jw_str(w, sup_ring_get(r, i));
	jw_arr_close(w);
}

/* cfgcli: "stdout", "stderr" or absent; -1 for anything else. */
static int
sup_ctl_stream_of(yajl_val req)
{
	const char *s = json_get_str(req, "stream");

	return s == NULL ? SUP_STREAM_ANY : strcmp(s, "stdout") == 0 ? SUP_STREAM_OUT :
	    strcmp(s, "stderr") == 0 ? SUP_STREAM_ERR : -1;
}

/* cfgcli: `holdfastctl maintail [-f] [-n LINES]`: holdfastd's own log. */
static void
sup_ctl_maintail(struct sup_ctl_client *c, yajl_val req)
{
	struct jw	*w = sup_ctl_ok();
	int		 follow = 0;
	long long	 want = 100;

	(void)json_get_bool(req, "follow", &follow);
	(void)json_get_int(req, "lines", &want);
	sup_ctl_ring_json(w, sup_log_main_ring(), SUP_STREAM_ANY, want);
	sup_ctl_send(c, w);
	c->c_follow_main = follow;
}

void
sup_ctl_main_line(const char *line, size_t len)
{
	struct jw *w = NULL;

	for (struct sup_ctl_client *c = ctl.clients; c != NULL; c = c->c_next) {
		if (!c->c_follow_main)
			continue;
		if (w == NULL) {
			w = jw_new();
			jw_obj_open(w);
			jw_key(w, "line");
			jw_strn(w, line, len);
			jw_obj_close(w);
		}
		chan_send_jw(c->c_peer, w);
	}
	jw_free(w);
}

static void
sup_ctl_tail(struct sup_ctl_client *c, yajl_val req)
{
	struct sup_proc	**v;
	struct jw	*w;
	int		 n, follow = 0, stream = sup_ctl_stream_of(req);
	long long	 want = 100;

	if (stream == -1) {
		sup_ctl_error(c, "usage", "tail: the stream is stdout or stderr");
		return;
	}
	if ((n = sup_ctl_names(c, req, 0, &v)) < 0)
		return;
	if (n != 1) {
		free(v);
		sup_ctl_error(c, "usage", "tail takes exactly one instance");
		return;
	}
	(void)json_get_bool(req, "follow", &follow);
	(void)json_get_int(req, "lines", &want);
	w = sup_ctl_ok();
	jw_kstr(w, "name", v[0]->p_name);
	sup_ctl_ring_json(w, v[0]->p_ring, stream, want);
	sup_ctl_send(c, w);
	if (follow) {
		c->c_follow = v[0];
		c->c_stream = stream;
	}
	free(v);
}

static void
sup_ctl_shutdown(struct sup_ctl_client *c, yajl_val req)
{
	sup_ctl_send(c, sup_ctl_ok());
	sup_shutdown("holdfastctl shutdown");
}

static void
sup_ctl_version(struct sup_ctl_client *c, yajl_val req)
{
	struct jw *w = sup_ctl_ok();

	jw_kstr(w, "version", PACKAGE_VERSION);
	jw_kstr(w, "build", sup_build_id());
	jw_kint(w, "protocol", CHAN_PROTO_VERSION);
	jw_kint(w, "pid", (long long)getpid());
	sup_ctl_send(c, w);
}

/* Replied to by the new image on this connection; here only when refused. */
static void
sup_ctl_upgrade(struct sup_ctl_client *c, yajl_val req)
{
	char err[1024];

	if (sup_upgrade(chan_peer_fd(c->c_peer), err, sizeof(err)) == -1)
		sup_ctl_error(c, "failed", "upgrade refused, holdfastd %s (build %s) "
		    "keeps running: %s", PACKAGE_VERSION, sup_build_id(), err);
}

/* Any signal to instances or groups: the pids signalled in the reply. */
static void
sup_ctl_signal(struct sup_ctl_client *c, yajl_val req)
{
	const char	*name = json_get_str(req, "signal");
	struct sup_proc	**v;
	struct jw	*w;
	int		 n, sig, sent = 0;

	if ((sig = cfg_signal_parse(name)) == -1) {
		sup_ctl_error(c, "usage", "bad signal \"%.40s\" (a name such as HUP, or "
		    "a number)", name != NULL ? name : "");
		return;
	}
	if ((n = sup_ctl_names(c, req, 0, &v)) < 0)
		return;
	w = sup_ctl_ok();
	jw_kstr(w, "signal", cfg_signal_name(sig));
	jw_key(w, "signalled");
	jw_arr_open(w);
	for (int i = 0; i < n; i++)
		sent += sup_proc_signal(v[i], sig, w);
	jw_arr_close(w);
	jw_kint(w, "count", sent);
	free(v);
	sup_ctl_send(c, w);
}

/* scale NAME N: adds or removes the highest slots only. */
static void
sup_ctl_scale(struct sup_ctl_client *c, yajl_val req)
{
	yajl_val		 names = json_get_array(req, "names");
	struct sup_group	*g;
	struct sup_proc		**v;
	char			 err[256];
	long long		 n = 0;
	int			 k;

	if (names == NULL || names->u.array.len != 1 || !YAJL_IS_STRING(names->u.array.values[0]) ||
	    json_get_int(req, "count", &n) == -1 || n < 1 || n > SUP_SCALE_MAX) {
		sup_ctl_error(c, "usage", "scale takes a group name and a count in 1..%d",
		    SUP_SCALE_MAX);
		return;
	}
	if ((g = sup_group_find(names->u.array.values[0]->u.string)) == NULL) {
		sup_ctl_error(c, "nosuchprocess", "no such group: %.100s",
		    names->u.array.values[0]->u.string);
		return;
	}
	if (sup.s_shutting_down || sup_group_scale(g, (int)n, err, sizeof(err)) == -1) {
		sup_ctl_error(c, "failed", "scale refused: %s", sup.s_shutting_down ?
		    "holdfastd is shutting down" : err);
		return;
	}
	k = sup_lookup(g->g_name, &v);
	sup_ctl_finish(c, req, v, k, 1);
}

static void
sup_ctl_reopen(struct sup_ctl_client *c, yajl_val req)
{
	struct jw	*w = sup_ctl_ok();
	int		 n = sup_reopen("holdfastctl");

	if (sup.s_cfg->holdfast.log_file != NULL)
		jw_kstr(w, "log_file", sup.s_cfg->holdfast.log_file);
	jw_kint(w, "worker_files", n);
	sup_ctl_send(c, w);
}

/* ---- events ------------------------------------------------------------ */

static void
sup_ctl_count_line(const char *json, size_t len, void *arg)
{
	(void)json;
	(void)len;
	(*(int *)arg)++;
}

static void
sup_ctl_event_line(const char *json, size_t len, void *arg)
{
	struct sup_ctl_client *c = arg;

	chan_send_raw(c->c_peer, json, len);
}

/* events [follow]: {"ok":true,"seq":N,"count":K}, then K event lines (the
 * ring, oldest first), then with follow every new event as it happens. */
static void
sup_ctl_events(struct sup_ctl_client *c, yajl_val req)
{
	struct jw	*w = sup_ctl_ok();
	int		 follow = 0, n = 0;

	(void)json_get_bool(req, "follow", &follow);
	sup_event_ring_each(sup_ctl_count_line, &n);
	jw_kint(w, "seq", (long long)sup_event_seq());
	jw_kint(w, "count", n);
	sup_ctl_send(c, w);
	sup_event_ring_each(sup_ctl_event_line, c);
	c->c_events = follow;
	/* A follower waits, silent, for as long as it likes: no read deadline
	 * (its 5 s re-arm would wake holdfastd for nothing); the client cap
	 * still bounds how many there are. */
	if (follow)
		chan_peer_set_read_timeout(c->c_peer, 0);
}

/* A follower is bounded: past SUP_EVENT_SUB_MAX queued bytes its events
 * are dropped and counted, and once half is written out it is told how
 * many with a "dropped" event. The loop never waits for it. */
void
sup_ctl_event(const struct sup_ev *e)
{
	char line[256];

	for (struct sup_ctl_client *c = ctl.clients; c != NULL; c = c->c_next) {
		size_t queued;

		if (!c->c_events || chan_peer_gone(c->c_peer))
			continue;
		queued = chan_peer_queued(c->c_peer);
		if (c->c_dropped > 0 && queued < SUP_EVENT_SUB_MAX / 2) {
			sup_event_dropped_json(c->c_dropped, line, sizeof(line));
			chan_send_raw(c->c_peer, line, strlen(line));
			c->c_dropped = 0;
		}
		if (queued + e->len + 1 > SUP_EVENT_SUB_MAX)
			c->c_dropped++;
		else
			chan_send_raw(c->c_peer, e->json, e->len);
	}
}

static const struct {
	const char	*name;
	sup_ctl_fn	*fn;
} sup_ctl_cmds[] = {
	{ "signal",	sup_ctl_signal },
	{ "scale",	sup_ctl_scale },
	{ "reopen",	sup_ctl_reopen },
	{ "status",	sup_ctl_status },
	{ "health",	sup_ctl_status },
	{ "start",	sup_ctl_start },
	{ "stop",	sup_ctl_stop },
	{ "restart",	sup_ctl_restart },
	{ "reload",	sup_ctl_reload },
	{ "pid",	sup_ctl_pid },
	{ "tail",	sup_ctl_tail },
	{ "shutdown",	sup_ctl_shutdown },
	{ "version",	sup_ctl_version },
	{ "upgrade",	sup_ctl_upgrade },
	/* cfgcli */
	{ "maintail",	sup_ctl_maintail },
	/* events */
	{ "events",	sup_ctl_events },
};

/* ---- clients ----------------------------------------------------------- */

static void
sup_ctl_unlink_client(struct sup_ctl_client *c)
{
	struct sup_ctl_client **cp;

	for (cp = &ctl.clients; *cp != NULL; cp = &(*cp)->c_next)
		if (*cp == c) {
			*cp = c->c_next;
			break;
		}
	ctl.nclients--;
	free(c->c_wait);
	free(c);
}

static void
sup_ctl_lost(struct sup_ctl_client *c, struct chan_peer *peer)
{
	if (chan_peer_replyable(peer)) {
		log_warnx("control: uid %d: %s", (int)c->c_uid, chan_peer_error(peer));
		sup_ctl_error(c, "protocol", "%s", chan_peer_error(peer));
		chan_peer_close_after_flush(peer);
	} else
		chan_peer_free(peer);
	sup_ctl_unlink_client(c);
}

static void
sup_ctl_dispatch(struct chan_peer *peer, yajl_val msg, void *arg)
{
	struct sup_ctl_client	*c = arg;
	const char		*cmd;

	if (msg == NULL) {
		sup_ctl_lost(c, peer);
		return;
	}
	if ((cmd = json_get_str(msg, "cmd")) == NULL) {
		sup_ctl_error(c, "protocol", "request has no \"cmd\"");
		return;
	}
	for (size_t i = 0; i < nitems(sup_ctl_cmds); i++)
		if (strcmp(cmd, sup_ctl_cmds[i].name) == 0) {
			log_debug("control: uid %d: %s", (int)c->c_uid, cmd);
			sup_ctl_cmds[i].fn(c, msg);
			return;
		}
	log_warnx("control: uid %d: unknown command \"%.40s\"", (int)c->c_uid, cmd);
	sup_ctl_error(c, "usage", "unknown command \"%.40s\"", cmd);
}

/*
 * 1 when gid is among the peer's supplementary groups. SO_PEERCRED only
 * gives the primary gid, but an operator is usually let in by adding them
 * to socket_group (`usermod -aG`), as the socket file's 0660 mode does.
 * The kernel's view at connect time is /proc/PID/status; a peer that is
 * gone by now is simply not let in.
 */
static int
sup_ctl_in_group(pid_t pid, gid_t gid)
{
	char	 path[64], line[1024], *s, *end;
	FILE	*f;
	int	 found = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (s = line + 7; ; s = end) {
			unsigned long g = strtoul(s, &end, 10);

			if (end == s)
				break;
			found |= (gid_t)g == gid;
		}
		break;
	}
	fclose(f);
	return found;
}

static int
sup_ctl_allowed(const struct ucred *cr)
{
	return cr->uid == 0 || cr->uid == geteuid() ||
	    (ctl.has_gid && (cr->gid == ctl.gid || sup_ctl_in_group(cr->pid, ctl.gid)));
}

static void
sup_ctl_refuse(int fd, const char *why)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf),
	    "{\"ok\":false,\"code\":\"denied\",\"error\":\"%s\"}\n", why);

	(void)!write(fd, buf, n);
	close(fd);
}

static void
sup_ctl_resume(evutil_socket_t fd, short what, void *arg)
{
	event_add(ctl.ev, NULL);
}

/* Out of descriptors: the pending connection would wake us forever, so
 * stop accepting for a second instead of spinning. */
static void
sup_ctl_pause(void)
{
	struct timeval tv = { 1, 0 };

	log_warn("accept4(%s): pausing for 1s", ctl.path);
	event_del(ctl.ev);
	if (ctl.ev_pause == NULL)
		ctl.ev_pause = evtimer_new(sup.s_base, sup_ctl_resume, NULL);
	evtimer_add(ctl.ev_pause, &tv);
}

static void
sup_ctl_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct sup_ctl_client	*c;
	struct ucred		 cr;
	socklen_t		 len = sizeof(cr);
	int			 fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) == -1) {
		if (errno == EMFILE || errno == ENFILE)
			sup_ctl_pause();
		else if (errno != EAGAIN && errno != EINTR)
			log_warn("accept4(%s)", ctl.path);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1) {
		log_warn("getsockopt(SO_PEERCRED)");
		close(fd);
		return;
	}
	if (!sup_ctl_allowed(&cr)) {
		log_warnx("control: refused uid %d gid %d pid %d", (int)cr.uid,
		    (int)cr.gid, (int)cr.pid);
		sup_ctl_refuse(fd, "permission denied: this uid may not control holdfastd");
		return;
	}
	if (ctl.nclients >= SUP_CTL_MAX_CLIENTS) {
		sup_ctl_refuse(fd, "too many control connections");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->c_uid = cr.uid;
	c->c_next = ctl.clients;
	ctl.clients = c;
	ctl.nclients++;
	c->c_peer = chan_peer_new(sup.s_base, fd, sup_ctl_dispatch, c);
	chan_peer_set_read_timeout(c->c_peer, SUP_CTL_PARTIAL_MS);
	/* May answer and free c: not used after this. */
	chan_peer_read_now(c->c_peer);
}

void
sup_ctl_tail_line(struct sup_proc *p, int stream, const char *line, size_t len)
{
	struct sup_ctl_client	*c, *next;
	struct jw		*w;

	for (c = ctl.clients; c != NULL; c = next) {
		next = c->c_next;
		if (c->c_follow != p || (c->c_stream != SUP_STREAM_ANY && c->c_stream != stream))
			continue;
		w = jw_new();
		jw_obj_open(w);
		jw_key(w, "line");
		jw_strn(w, line, len);
		jw_obj_close(w);
		chan_send_jw(c->c_peer, w);
		jw_free(w);
	}
}

void
sup_ctl_proc_gone(struct sup_proc *p)
{
	for (struct sup_ctl_client *c = ctl.clients; c != NULL; c = c->c_next) {
		for (int i = 0; i < c->c_nwait; i++)
			if (c->c_wait[i] == p)
				c->c_wait[i] = NULL;
		if (c->c_follow == p) {
			c->c_follow = NULL;
			sup_ctl_error(c, "nosuchprocess", "%s was removed", p->p_name);
		}
	}
}

void
sup_ctl_proc_moved(struct sup_proc *from, struct sup_proc *to)
{
	for (struct sup_ctl_client *c = ctl.clients; c != NULL; c = c->c_next) {
		for (int i = 0; i < c->c_nwait; i++)
			if (c->c_wait[i] == from)
				c->c_wait[i] = to;
		if (c->c_follow == from)
			c->c_follow = to;
	}
}

/* ---- the socket ------------------------------------------------------- */

/* 1 when a live holdfastd answers on path, 0 when none (or stale), -1 error. */
static int
sup_ctl_probe(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd, rc;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket: not touching it", path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	hf_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "%s: another holdfastd is running on this socket "
		    "(stop it, or use another control_socket)", path);
		return 1;
	}
	log_info("control: removing stale socket %s", path);
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "unlink(%s): %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
sup_ctl_perms(const char *path, const char *group, char *err, size_t errlen)
{
	struct group *gr;

	if (group == NULL) {
		ctl.has_gid = 0;
		(void)!chown(path, (uid_t)-1, getegid());	/* a group it had (reload) */
		if (chmod(path, 0600) == -1) {
			snprintf(err, errlen, "chmod(%s): %s", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	if ((gr = getgrnam(group)) == NULL) {
		snprintf(err, errlen, "socket_group %s: no such group", group);
		return -1;
	}
	ctl.gid = gr->gr_gid;
	ctl.has_gid = 1;
	if (chown(path, (uid_t)-1, gr->gr_gid) == -1 || chmod(path, 0660) == -1) {
		snprintf(err, errlen, "chown/chmod(%s): %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
sup_ctl_listen(const char *path, const char *group, char *err, size_t errlen)
{
	struct sockaddr_un	sun;
	mode_t			old;
	int			fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control_socket %s: path too long", path);
		return -1;
	}
	hf_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	(void)hf_mkdir_parents(path, 0755);
	if (sup_ctl_probe(path, err, errlen) != 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		snprintf(err, errlen, "socket(AF_UNIX): %s", strerror(errno));
		return -1;
	}
	old = umask(0177);	/* never a moment with looser permissions */
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1 || listen(fd, 64) == -1) {
		snprintf(err, errlen, "bind(%s): %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (sup_ctl_perms(path, group, err, errlen) == -1) {
		close(fd);
		unlink(path);
		return -1;
	}
	ctl.fd = fd;
	ctl.path = xstrdup(path);
	ctl.ev = event_new(sup.s_base, fd, EV_READ | EV_PERSIST, sup_ctl_accept, NULL);
	event_add(ctl.ev, NULL);
	return 0;
}

void
sup_ctl_close(void)
{
	while (ctl.clients != NULL) {
		chan_peer_free(ctl.clients->c_peer);
		sup_ctl_unlink_client(ctl.clients);
	}
	if (ctl.ev != NULL)
		event_free(ctl.ev);
	if (ctl.ev_pause != NULL)
		event_free(ctl.ev_pause);
	ctl.ev_pause = NULL;
	if (ctl.fd != -1) {
		close(ctl.fd);
		unlink(ctl.path);
	}
	free(ctl.path);
	ctl.fd = -1;
	ctl.path = NULL;
	ctl.ev = NULL;
}

/*
 * SIGHUP with another control_socket or socket_group. Clients already
 * connected (the `holdfastctl reload` that asked, `tail -f`) stay. A new
 * path is bound before the old one is let go, so a failure leaves the old
 * socket in place as if nothing were asked.
 */
int
sup_ctl_relisten(const char *path, const char *group, char *err, size_t errlen)
{
	struct event	*oev = ctl.ev, *opause = ctl.ev_pause;
	char		*opath = ctl.path;
	int		 ofd = ctl.fd, ohas = ctl.has_gid;
	gid_t		 ogid = ctl.gid;

	if (opath != NULL && strcmp(path, opath) == 0) {
		if (sup_ctl_perms(path, group, err, errlen) == 0)
			return 0;
		ctl.has_gid = ohas;
		ctl.gid = ogid;
		return -1;
	}
	ctl.ev_pause = NULL;
	if (sup_ctl_listen(path, group, err, errlen) == -1) {
		ctl.ev = oev;
		ctl.ev_pause = opause;
		ctl.path = opath;
		ctl.fd = ofd;
		ctl.has_gid = ohas;
		ctl.gid = ogid;
		return -1;
	}
	if (oev != NULL)
		event_free(oev);
	if (opause != NULL)
		event_free(opause);
	if (ofd != -1) {
		close(ofd);
		unlink(opath);
	}
	free(opath);
	return 0;
}

/* ---- in-place upgrade ---------------------------------------------------- */

static void sup_ctl_accept(evutil_socket_t, short, void *);

void
sup_ctl_save(struct jw *w, int upgrader_fd, int flush)
{
	char	*in;
	size_t	 len;

	jw_key(w, "ctl");
	jw_obj_open(w);
	sup_upgrade_put_fd(w, "fd", ctl.fd);
	jw_kstr(w, "path", ctl.path);
	jw_key(w, "clients");
	jw_arr_open(w);
	for (struct sup_ctl_client *c = ctl.clients; c != NULL; c = c->c_next) {
		int fd = chan_peer_fd(c->c_peer);

		/* A client whose reply cannot be written now is let go. */
		if (chan_peer_gone(c->c_peer) ||
		    (flush && chan_peer_flush(c->c_peer, 50) == -1))
			continue;
		jw_obj_open(w);
		sup_upgrade_put_fd(w, "conn", fd);
		jw_kint(w, "uid", c->c_uid);
		jw_kbool(w, "upgrader", fd == upgrader_fd);
		if (c->c_follow != NULL)
			jw_kstr(w, "follow", c->c_follow->p_name);
		if (c->c_follow != NULL)	/* cfgcli */
			jw_kint(w, "follow_stream", c->c_stream);
		if (c->c_follow_main)
			jw_kbool(w, "follow_main", 1);
		if (c->c_events) {	/* events: a follower follows on */
			jw_kbool(w, "events", 1);
			jw_kint(w, "events_dropped", (long long)c->c_dropped);
		}
		if (c->c_wait != NULL) {
			jw_kbool(w, "wait_up", c->c_wait_up);
			jw_key(w, "wait");
			jw_arr_open(w);
			for (int i = 0; i < c->c_nwait; i++)
				if (c->c_wait[i] != NULL)
					jw_str(w, c->c_wait[i]->p_name);
			jw_arr_close(w);
		}
		if ((in = chan_peer_unread(c->c_peer, &len)) != NULL)
			sup_upgrade_put_bytes(w, "in", in, len);
		free(in);
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_obj_close(w);
}

static struct sup_proc *
sup_ctl_restore_one(const char *name)
{
	struct sup_proc	**v, *p = NULL;

	if (name != NULL && sup_lookup(name, &v) == 1)
		p = v[0];
	if (name != NULL)
		free(v);
	return p;
}

static void
sup_ctl_restore_client(yajl_val o)
{
	struct sup_ctl_client	*c;
	yajl_val		 wait = json_get_array(o, "wait");
	long long		 uid = 0, dropped = 0;
	int			 fd = sup_upgrade_get_fd(o, "conn"), up = 0, upgrader = 0;
	char			*in;
	size_t			 len;

	if (fd == -1)
		return;
	(void)json_get_int(o, "uid", &uid);
	c = xcalloc(1, sizeof(*c));
	c->c_uid = (uid_t)uid;
	c->c_next = ctl.clients;
	ctl.clients = c;
	ctl.nclients++;
	c->c_peer = chan_peer_new(sup.s_base, fd, sup_ctl_dispatch, c);
	chan_peer_set_read_timeout(c->c_peer, SUP_CTL_PARTIAL_MS);
	c->c_follow = sup_ctl_restore_one(json_get_str(o, "follow"));
	c->c_stream = SUP_STREAM_ANY;	/* cfgcli: tail -f NAME stderr, maintail -f */
	{
		long long s = SUP_STREAM_ANY;

		(void)json_get_int(o, "follow_stream", &s);
		c->c_stream = s >= SUP_STREAM_OUT && s <= SUP_STREAM_ANY ? (int)s : SUP_STREAM_ANY;
		(void)json_get_bool(o, "follow_main", &c->c_follow_main);
	}
	if (json_get_bool(o, "events", &c->c_events) == 0 && c->c_events &&
	    json_get_int(o, "events_dropped", &dropped) == 0)	/* events */
		c->c_dropped = (uint64_t)dropped;
	if (c->c_events)
		chan_peer_set_read_timeout(c->c_peer, 0);
	if (wait != NULL) {
		(void)json_get_bool(o, "wait_up", &up);
		c->c_wait_up = up;
		c->c_wait = xcalloc(wait->u.array.len + 1, sizeof(*c->c_wait));
		for (size_t i = 0; i < wait->u.array.len; i++)
			if (YAJL_IS_STRING(wait->u.array.values[i]))
				c->c_wait[c->c_nwait++] =
				    sup_ctl_restore_one(wait->u.array.values[i]->u.string);
	}
	if ((in = sup_upgrade_get_bytes(o, "in", &len)) != NULL)
		chan_peer_feed(c->c_peer, in, len);
	free(in);
	if (json_get_bool(o, "upgrader", &upgrader) == 0 && upgrader)
		c->c_upgrader = 1;
}

void
sup_ctl_upgrade_reply(const char *reply)
{
	for (struct sup_ctl_client *c = ctl.clients; c != NULL; c = c->c_next)
		if (c->c_upgrader) {
			c->c_upgrader = 0;
			chan_send_raw(c->c_peer, reply, strlen(reply));
		}
}

int
sup_ctl_restore(yajl_val o, char *err, size_t errlen)
{
	yajl_val	 clients = json_get_array(o, "clients");
	const char	*path = json_get_str(o, "path");

	if ((ctl.fd = sup_upgrade_get_fd(o, "fd")) == -1 || path == NULL) {
		snprintf(err, errlen, "no control socket in the state");
		return -1;
	}
	hf_fd_set_cloexec(ctl.fd);
	ctl.path = xstrdup(path);
	if (sup_ctl_perms(path, sup.s_cfg->holdfast.socket_group, err, errlen) == -1)
		log_warnx("control: %s", err);
	ctl.ev = event_new(sup.s_base, ctl.fd, EV_READ | EV_PERSIST, sup_ctl_accept, NULL);
	event_add(ctl.ev, NULL);
	for (size_t i = 0; clients != NULL && i < clients->u.array.len; i++)
		sup_ctl_restore_client(clients->u.array.values[i]);
	return 0;
}
