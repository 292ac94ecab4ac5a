/*
 * sup_event: holdfastd's events, from one emit point.
 *
 * Every state change (sup_set_state), exit, failed start, hung kill, DB
 * up/down report from a worker's channel, reload and upgrade is built
 * here as a flat object of named fields, stamped with a sequence number
 * and the wall clock, rendered once as a JSON line and handed to:
 *   - a ring of the last SUP_EVENT_RING events (`holdfastctl events`);
 *   - every control client following events (`holdfastctl events -f`),
 *     each bounded by SUP_EVENT_SUB_MAX queued bytes: past it, events are
 *     dropped for that client and counted, and a {"type":"dropped",
 *     "count":N} event tells it so once its queue has drained to half;
 *   - the [event:NAME] listeners whose filters match (sup_hook.c).
 * Nothing here blocks or arms a timer: with no follower and no listener
 * an event costs its rendering and a ring slot.
 *
 * Event JSON (fields beyond the first four depend on the type):
 *   {"seq":12,"time":"2026-12-04T17:05:35.123456Z","time_us":...,
 *    "type":"state","name":"http:0","group":"http","pid":4250,
 *    "from":"STARTING","to":"RUNNING"}
 * Types: state, exit, start_failed, hung, db, reload, upgrade, dropped.
 */
#ifndef HOLDFAST_SUP_EVENT_H
#define HOLDFAST_SUP_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <yajl/yajl_tree.h>

#include "sup_state.h"

#define SUP_EVENT_RING		256		/* events kept for `events` */
#define SUP_EVENT_SUB_MAX	(256 * 1024)	/* bytes queued per follower */
#define SUP_EVENT_FIELDS	16

enum sup_ev_type {
	SUP_EVT_STATE = 0,
	SUP_EVT_EXIT,
	SUP_EVT_START_FAILED,
	SUP_EVT_HUNG,
	SUP_EVT_DB,
	SUP_EVT_RELOAD,
	SUP_EVT_UPGRADE,
	SUP_EVT_DROPPED,
	SUP_EVT_N
};

struct sup_ev_field {
	const char	*key;		/* static */
	char		*str;		/* NULL: a number */
	long long	 num;
};

/* One event, as the listeners see it (sup_hook.c). */
struct sup_ev {
	enum sup_ev_type	 type;
	uint64_t		 seq;
	int64_t			 time_us;
	const char		*name;	/* instance, or NULL */
	const char		*group;	/* its group, or NULL */
	const char		*to;	/* state events: the new state */
	struct sup_ev_field	 f[SUP_EVENT_FIELDS];
	int			 nf;
	char			*json;	/* the rendered line */
	size_t			 len;
};

struct sup_proc;
struct jw;

const char *sup_event_type_name(enum sup_ev_type);

/* The emitters, one per kind of event. */
void sup_event_state(const struct sup_proc *, enum sup_state from, enum sup_state to);
/* status: a wait status; oom_kill: the kernel's OOM killer did it. */
void sup_event_exit(const struct sup_proc *, int status, uint64_t uptime_ms, int oom_kill);
void sup_event_start_failed(const struct sup_proc *, int attempts, int fatal);
void sup_event_hung(const struct sup_proc *, uint64_t silent_ms);
void sup_event_db(const struct sup_proc *, int up, const char *reason, const char *op);
/* ok: the reload applied; else err says why it was refused. */
void sup_event_reload(int ok, const char *err);
/* result: "upgraded", "failed", "healed". */
void sup_event_upgrade(const char *result, const char *old_version, const char *detail);

/* Control clients: the ring as lines, oldest first (fn per event), and the
 * current sequence number. */
void sup_event_ring_each(void (*fn)(const char *json, size_t len, void *), void *arg);
uint64_t sup_event_seq(void);
/* A follower's {"type":"dropped","count":N} line (not in the ring). */
void sup_event_dropped_json(uint64_t count, char *buf, size_t len);
/* Subscribers are control clients (sup_ctl.c keeps the list; it calls
 * back for each event). */
void sup_event_set_sink(void (*fn)(const struct sup_ev *));

/* The sequence number goes on across an upgrade (sup_upgrade.c). */
void sup_event_save(struct jw *);
void sup_event_restore(yajl_val state);
void sup_event_close(void);

/* ---- sup_hook.c: [event:NAME] listeners ---------------------------------- */

struct cfg;
/* (Re)configures the listeners from cfg (start, reload): kept by name. */
void sup_hook_configure(const struct cfg *);
/* An event for the listeners. */
void sup_hook_event(const struct sup_ev *);
/* The reaper's: 1 when pid was a listener's command (then handled). */
int sup_hook_reaped(pid_t pid, int status);
/* Upgrade and shutdown: running commands are killed (their process
 * groups; the reaper, or the next image's, collects them), queues dropped,
 * each one logged; how many were running. */
int sup_hook_stop_all(const char *why);
void sup_hook_close(void);

#endif
