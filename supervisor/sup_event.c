/*
 * sup_event: the one emit point of holdfastd's events (see sup_event.h).
 *
 * Invariants: an event is numbered (seq, strictly increasing across
 * reloads and upgrades) and rendered exactly once; the ring holds the
 * last SUP_EVENT_RING renderings; emitting never blocks and never arms a
 * timer (followers are bounded by sup_ctl.c, listeners by sup_hook.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>

#include "json.h"
#include "log.h"
#include "sup.h"
#include "sup_event.h"
#include "util.h"

static const char *const sup_ev_names[SUP_EVT_N] = {
	"state", "exit", "start_failed", "hung", "db", "reload", "upgrade", "dropped",
};

static struct {
	uint64_t	 seq;
	char		*ring[SUP_EVENT_RING];
	size_t		 ringlen[SUP_EVENT_RING];
	unsigned	 head, count;	/* oldest at (head - count) */
	void		(*sink)(const struct sup_ev *);
	struct jw	*w;		/* reused writer */
} ev;

const char *
sup_event_type_name(enum sup_ev_type t)
{
	return (unsigned)t < SUP_EVT_N ? sup_ev_names[t] : "unknown";
}

/* ---- building ------------------------------------------------------------- */

static void
ev_init(struct sup_ev *e, enum sup_ev_type type, const struct sup_proc *p)
{
	memset(e, 0, sizeof(*e));
	e->type = type;
	if (p != NULL) {
		e->name = p->p_name;
		e->group = p->p_group->g_name;
	}
}

static void
ev_str(struct sup_ev *e, const char *key, const char *v)
{
	if (v == NULL || e->nf >= SUP_EVENT_FIELDS)
		return;
	e->f[e->nf].key = key;
	e->f[e->nf++].str = xstrdup(v);
}

static void
ev_int(struct sup_ev *e, const char *key, long long v)
{
	if (e->nf >= SUP_EVENT_FIELDS)
		return;
	e->f[e->nf].key = key;
	e->f[e->nf].str = NULL;
	e->f[e->nf++].num = v;
}

/* "2026-12-04T17:05:35.123456Z" */
static void
ev_time(int64_t us, char *buf, size_t len)
{
	time_t		t = (time_t)(us / 1000000);
	struct tm	tm;
	char		s[32];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06lldZ", s, (long long)(us % 1000000));
}

static void
ev_render(struct sup_ev *e)
{
	char	 ts[48];

	if (ev.w == NULL)
		ev.w = jw_new();
	jw_reset(ev.w);
	ev_time(e->time_us, ts, sizeof(ts));
	jw_obj_open(ev.w);
	jw_kint(ev.w, "seq", (long long)e->seq);
	jw_kstr(ev.w, "time", ts);
	jw_kint(ev.w, "time_us", e->time_us);
	jw_kstr(ev.w, "type", sup_event_type_name(e->type));
	if (e->name != NULL) {
		jw_kstr(ev.w, "name", e->name);
		jw_kstr(ev.w, "group", e->group);
	}
	for (int i = 0; i < e->nf; i++)
		if (e->f[i].str != NULL)
			jw_kstr(ev.w, e->f[i].key, e->f[i].str);
		else
			jw_kint(ev.w, e->f[i].key, e->f[i].num);
	jw_obj_close(ev.w);
	e->json = jw_dup(ev.w);
	if (e->json == NULL)	/* text the writer refused (not UTF-8) */
		e->json = xasprintf("{\"seq\":%llu,\"time_us\":%lld,\"type\":\"%s\"}",
		    (unsigned long long)e->seq, (long long)e->time_us,
		    sup_event_type_name(e->type));
	e->len = strlen(e->json);
}

static void
ev_ring_put(const struct sup_ev *e)
{
	unsigned slot = ev.head % SUP_EVENT_RING;

	free(ev.ring[slot]);
	ev.ring[slot] = xstrdup(e->json);
	ev.ringlen[slot] = e->len;
	ev.head++;
	if (ev.count < SUP_EVENT_RING)
		ev.count++;
}

/* The one emit point: numbered, stamped, rendered, handed on, freed. */
static void
ev_emit(struct sup_ev *e)
{
	e->seq = ++ev.seq;
	e->time_us = hf_now_real_us();
	ev_render(e);
	ev_ring_put(e);
	if (ev.sink != NULL)
		ev.sink(e);
	if (e->type != SUP_EVT_DROPPED)
		sup_hook_event(e);
	for (int i = 0; i < e->nf; i++)
		free(e->f[i].str);
	free(e->json);
}

/* ---- the emitters --------------------------------------------------------- */

void
sup_event_state(const struct sup_proc *p, enum sup_state from, enum sup_state to)
{
	struct sup_ev e;

	ev_init(&e, SUP_EVT_STATE, p);
	e.to = sup_state_name(to);
	ev_int(&e, "pid", p->p_pid);
	ev_str(&e, "from", sup_state_name(from));
	ev_str(&e, "to", e.to);
	ev_emit(&e);
}

void
sup_event_exit(const struct sup_proc *p, int status, uint64_t uptime_ms, int oom_kill)
{
	struct sup_ev	e;
	char		sig[16];

	ev_init(&e, SUP_EVT_EXIT, p);
	ev_int(&e, "pid", p->p_pid);
	if (WIFSIGNALED(status)) {
		const char *ab = sigabbrev_np(WTERMSIG(status));

		if (ab != NULL)
			snprintf(sig, sizeof(sig), "SIG%s", ab);
		else
			snprintf(sig, sizeof(sig), "%d", WTERMSIG(status));
		ev_str(&e, "signal", sig);
	} else
		ev_int(&e, "code", WEXITSTATUS(status));
	ev_int(&e, "oom_kill", oom_kill ? 1 : 0);
	ev_int(&e, "uptime_ms", (long long)uptime_ms);
	ev_int(&e, "restarts", p->p_restarts);
	ev_emit(&e);
}

void
sup_event_start_failed(const struct sup_proc *p, int attempts, int fatal)
{
	struct sup_ev e;

	ev_init(&e, SUP_EVT_START_FAILED, p);
	ev_int(&e, "attempts", attempts);
	ev_str(&e, "last", p->p_last_exit[0] != '\0' ? p->p_last_exit : NULL);
	ev_int(&e, "fatal", fatal ? 1 : 0);
	ev_emit(&e);
}

void
sup_event_hung(const struct sup_proc *p, uint64_t silent_ms)
{
	struct sup_ev e;

	ev_init(&e, SUP_EVT_HUNG, p);
	ev_int(&e, "pid", p->p_pid);
	ev_int(&e, "silent_ms", (long long)silent_ms);
	ev_emit(&e);
}

void
sup_event_db(const struct sup_proc *p, int up, const char *reason, const char *op)
{
	struct sup_ev e;

	ev_init(&e, SUP_EVT_DB, p);
	ev_int(&e, "pid", p->p_pid);
	ev_str(&e, "state", up ? "up" : "down");
	ev_str(&e, "reason", reason);
	ev_str(&e, "op", op);
	ev_emit(&e);
}

void
sup_event_reload(int ok, const char *err)
{
	struct sup_ev e;

	ev_init(&e, SUP_EVT_RELOAD, NULL);
	ev_str(&e, "result", ok ? "applied" : "refused");
	ev_str(&e, "error", ok ? NULL : err);
	ev_emit(&e);
}

void
sup_event_upgrade(const char *result, const char *old_version, const char *detail)
{
	struct sup_ev e;

	ev_init(&e, SUP_EVT_UPGRADE, NULL);
	ev_str(&e, "result", result);
	ev_str(&e, "old_version", old_version);
	ev_str(&e, "version", PACKAGE_VERSION);
	ev_str(&e, "detail", detail);
	ev_emit(&e);
}

/* A follower's own marker: numbered like any event, not in the ring. */
void
sup_event_dropped_json(uint64_t count, char *buf, size_t len)
{
	char ts[48];
	int64_t now = hf_now_real_us();

	ev_time(now, ts, sizeof(ts));
	snprintf(buf, len, "{\"seq\":%llu,\"time\":\"%s\",\"time_us\":%lld,"
	    "\"type\":\"dropped\",\"count\":%llu}", (unsigned long long)ev.seq, ts,
	    (long long)now, (unsigned long long)count);
}

/* ---- readers ---------------------------------------------------------------- */

void
sup_event_ring_each(void (*fn)(const char *, size_t, void *), void *arg)
{
	for (unsigned i = ev.head - ev.count; i != ev.head; i++)
		fn(ev.ring[i % SUP_EVENT_RING], ev.ringlen[i % SUP_EVENT_RING], arg);
}

uint64_t
sup_event_seq(void)
{
	return ev.seq;
}

void
sup_event_set_sink(void (*fn)(const struct sup_ev *))
{
	ev.sink = fn;
}

void
sup_event_save(struct jw *w)
{
	jw_kint(w, "event_seq", (long long)ev.seq);
}

void
sup_event_restore(yajl_val state)
{
	long long seq;

	if (json_get_int(state, "event_seq", &seq) == 0 && seq > 0)
		ev.seq = (uint64_t)seq;
}

void
sup_event_close(void)
{
	for (unsigned i = 0; i < SUP_EVENT_RING; i++) {
		free(ev.ring[i]);
		ev.ring[i] = NULL;
	}
	ev.head = ev.count = 0;
	if (ev.w != NULL)
		jw_free(ev.w);
	ev.w = NULL;
}
