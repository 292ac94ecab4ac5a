/*
 * sup_surge: start before stop, and `holdfastctl scale`.
 *
 * restart_mode = surge (the default for a group with a TCP listen
 * socket): a restart of an instance starts its replacement as an extra
 * process on the same inherited listening socket, and stops the old one
 * only once the replacement is ready, so the socket always has an
 * accepting process and the group never runs an instance short, one
 * instance or many. The replacement that does not become ready (it exits,
 * or start_timeout passes) is given up and the old process keeps serving:
 *
 *   [WORKER_SURGE] name=http:0 phase=start old_pid=4250
 *   [WORKER_SURGE] name=http:0 phase=ready pid=4301 old_pid=4250 startup=12ms
 *   [WORKER_SURGE_FAILED] name=http:0 pid=4301 old_pid=4250 last=code=1
 *
 * An extra process is a struct sup_proc in its group's g_extra: the same
 * state table, spawn, channel and output capture as an instance, never
 * restarted (autorestart is "false" for it), and freed once down. Its
 * output goes to the ring, log files and `tail -f` of the instance it
 * belongs to (p_owner). At promotion the replacement takes the instance's
 * slot (its name, ring, log files, counters, waiting `holdfastctl`
 * clients) and the old object becomes the extra that is stopped
 * ("http:0~old"); while starting, the replacement is "http:0~new".
 *
 * Scaling adds slots at the end or removes the highest ones (their
 * processes stopped as extras); the others are not touched.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cfg.h"
#include "json.h"
#include "log.h"
#include "sup.h"
#include "sup_ctl.h"
#include "sup_log.h"
#include "sup_metrics.h"
#include "sup_notify.h"
#include "sup_upgrade.h"
#include "util.h"

struct sup_proc *
sup_proc_owner(struct sup_proc *p)
{
	return p->p_owner != NULL ? p->p_owner : p;
}

int
sup_surge_wanted(const struct sup_proc *p)
{
	const struct sup_group	*g = p->p_group;
	const struct cfg_worker	*wc = g->g_wc;

	if (wc == NULL || g->g_retired || sup.s_shutting_down || p->p_extra ||
	    p->p_surge != NULL || p->p_pid == 0 || p->p_state != SUP_RUNNING)
		return 0;
	if (wc->restart_mode == CFG_RMODE_SURGE)
		return 1;
	return wc->restart_mode == CFG_RMODE_AUTO && wc->listen.type == SOCK_STREAM;
}

static void
sup_extra_add(struct sup_group *g, struct sup_proc *x)
{
	g->g_extra = xreallocarray(g->g_extra, g->g_nextra + 1, sizeof(*g->g_extra));
	g->g_extra[g->g_nextra++] = x;
	x->p_extra = 1;
}

void
sup_surge_start(struct sup_proc *p)
{
	struct sup_group	*g = p->p_group;
	struct sup_proc		*x = xcalloc(1, sizeof(*x));

	x->p_group = g;
	x->p_index = p->p_index;
	x->p_name = xasprintf("%s~new", p->p_name);
	x->p_state = SUP_STOPPED;
	x->p_state_since_ms = hf_now_mono_ms();
	x->p_want_up = 1;
	x->p_db.d_state = -1;
	x->p_owner = p;
	sup_extra_add(g, x);
	p->p_surge = x;
	p->p_surging = 1;
	p->p_restart_pending = 0;
	log_info("[WORKER_SURGE] name=%s phase=start old_pid=%d", p->p_name, (int)p->p_pid);
	sup_proc_event(x, SUP_EV_START);
	sup_upgrade_changed(1);	/* its pid in the heal state at once */
}

/* The slot p ends its surge; a rolling restart goes on only after success. */
static void
sup_surge_end(struct sup_proc *p, int ok)
{
	p->p_surge = NULL;
	p->p_surging = 0;
	if (p->p_rolling && !ok && p->p_group->g_roll_next != -1) {
		log_warnx("%s: rolling restart of %s stopped: the replacement of %s "
		    "did not become ready", p->p_group->g_name, p->p_group->g_name,
		    p->p_name);
		p->p_group->g_roll_next = -1;
	}
	p->p_rolling = 0;
	sup_notify_changed();
}

/* The replacement x takes p's slot; p becomes the extra that is stopped. */
static void
sup_surge_promote(struct sup_proc *x)
{
	struct sup_proc		*p = x->p_owner;
	struct sup_group	*g = p->p_group;

	log_info("[WORKER_SURGE] name=%s phase=ready pid=%d old_pid=%d startup=%llums",
	    p->p_name, (int)x->p_pid, (int)p->p_pid,
	    (unsigned long long)(hf_now_mono_ms() - x->p_spawn_ms));
	for (int i = 0; i < g->g_nextra; i++)
		if (g->g_extra[i] == x)
			g->g_extra[i] = p;
	g->g_procs[p->p_index] = x;
	x->p_extra = 0;
	p->p_extra = 1;
	for (int i = 0; i < g->g_nextra; i++)
		if (g->g_extra[i]->p_owner == p || g->g_extra[i] == p)
			g->g_extra[i]->p_owner = x;
	x->p_owner = NULL;
	free(x->p_name);
	x->p_name = p->p_name;
	p->p_name = xasprintf("%s~old", x->p_name);
	x->p_ring = p->p_ring;
	p->p_ring = NULL;
	memcpy(x->p_logs, p->p_logs, sizeof(x->p_logs));
	memset(p->p_logs, 0, sizeof(p->p_logs));
	x->p_spawns = p->p_spawns + 1;
	x->p_restarts = p->p_restarts + 1;
	x->p_oom_kills = p->p_oom_kills;	/* limits: the slot's count */
	sup_metrics_moved(p, x);	/* events: the slot's counters go on */
	x->p_want_up = 1;
	sup_surge_end(p, 1);
	sup_ctl_proc_moved(p, x);
	p->p_want_up = 0;
	p->p_restart_pending = 0;
	sup_proc_event(p, SUP_EV_STOP);
}

void
sup_surge_state(struct sup_proc *x, enum sup_state st)
{
	struct sup_proc *p = x->p_owner;

	if (p == NULL || p->p_surge != x)
		return;
	if (st == SUP_RUNNING) {
		sup_surge_promote(x);
		return;
	}
	if (st == SUP_STARTING || st == SUP_STOPPING)
		return;
	log_warnx("[WORKER_SURGE_FAILED] name=%s pid=%d old_pid=%d last=%s: the "
	    "replacement did not become ready, the running process is kept",
	    p->p_name, (int)x->p_pid, (int)p->p_pid,
	    x->p_last_exit[0] != '\0' ? x->p_last_exit : sup_state_name(st));
	sup_surge_end(p, 0);
}

void
sup_surge_cancel(struct sup_proc *p, const char *why)
{
	struct sup_proc *x = p->p_surge;

	if (x == NULL)
		return;
	log_info("[WORKER_SURGE] name=%s phase=cancel pid=%d reason=%s", p->p_name,
	    (int)x->p_pid, why);
	sup_surge_end(p, 0);
	x->p_want_up = 0;
	sup_proc_event(x, SUP_EV_STOP);
}

static void
sup_extra_remove(struct sup_group *g, int i)
{
	struct sup_proc *x = g->g_extra[i];

	memmove(g->g_extra + i, g->g_extra + i + 1,
	    (g->g_nextra - i - 1) * sizeof(*g->g_extra));
	if (--g->g_nextra == 0) {
		free(g->g_extra);
		g->g_extra = NULL;
	}
	sup_proc_free(x);
}

void
sup_surge_pass(struct sup_group *g)
{
	for (int i = 0; i < g->g_nextra; i++)
		if (g->g_extra[i]->p_exit_pending)
			sup_proc_exited(g->g_extra[i]);
	for (int i = g->g_nextra - 1; i >= 0; i--) {
		struct sup_proc *x = g->g_extra[i];

		if (sup_proc_down(x) && !x->p_exit_pending &&
		    (x->p_owner == NULL || x->p_owner->p_surge != x))
			sup_extra_remove(g, i);
	}
}

int
sup_surge_stop_all(struct sup_group *g, int kill_them)
{
	int up = 0;

	for (int i = 0; i < g->g_nprocs; i++)
		if (g->g_procs[i]->p_surge != NULL)
			sup_surge_end(g->g_procs[i], 0);
	for (int i = 0; i < g->g_nextra; i++) {
		struct sup_proc *x = g->g_extra[i];

		if (sup_proc_down(x))
			continue;
		up++;
		x->p_want_up = 0;
		if (kill_them && x->p_pid != 0)
			kill(x->p_pid, SIGKILL);
		else if (x->p_state != SUP_STOPPING)
			sup_proc_event(x, SUP_EV_STOP);
	}
	return up;
}

struct sup_proc *
sup_surge_find_pid(pid_t pid)
{
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		for (int i = 0; i < g->g_nextra; i++)
			if (g->g_extra[i]->p_pid == pid)
				return g->g_extra[i];
	return NULL;
}

int
sup_surge_busy(void)
{
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		if (g->g_nextra > 0)
			return 1;
	return 0;
}

static int
sup_signal_one(struct sup_proc *p, int sig, struct jw *w)
{
	if (p == NULL || p->p_pid == 0)
		return 0;
	if (kill(p->p_pid, sig) == -1) {
		log_warn("[WORKER_SIGNAL] name=%s pid=%d signal=%s", p->p_name,
		    (int)p->p_pid, cfg_signal_name(sig));
		return 0;
	}
	log_info("[WORKER_SIGNAL] name=%s pid=%d signal=%s", p->p_name, (int)p->p_pid,
	    cfg_signal_name(sig));
	if (w != NULL) {
		jw_obj_open(w);
		jw_kstr(w, "name", p->p_name);
		jw_kint(w, "pid", p->p_pid);
		jw_obj_close(w);
	}
	return 1;
}

int
sup_proc_signal(struct sup_proc *p, int sig, struct jw *w)
{
	return sup_signal_one(p, sig, w) + sup_signal_one(p->p_surge, sig, w);
}

/* ---- scale -------------------------------------------------------------- */

/* "NAME" with one instance, "NAME:i" with several (as sup_proc_new names). */
static void
sup_scale_rename(struct sup_group *g)
{
	for (int i = 0; i < g->g_nprocs; i++) {
		struct sup_proc *p = g->g_procs[i];

		free(p->p_name);
		p->p_name = g->g_nprocs == 1 ? xstrdup(g->g_name) :
		    xasprintf("%s:%d", g->g_name, i);
		sup_proc_logfiles(p);
	}
}

static void
sup_scale_down(struct sup_group *g, int n)
{
	for (int i = g->g_nprocs - 1; i >= n; i--) {
		struct sup_proc *p = g->g_procs[i];
		char *name = xasprintf("%s~old", p->p_name);

		log_info("[WORKER_SCALE] group=%s removed=%s pid=%d", g->g_name,
		    p->p_name, (int)p->p_pid);
		sup_ctl_proc_gone(p);
		free(p->p_name);
		p->p_name = name;
		sup_extra_add(g, p);
		g->g_procs[i] = NULL;
		sup_proc_stop(p);
		/* Only the process holds the slot's own socket now. */
		if (g->g_reuseport && i < g->g_nlisten && g->g_listen_fds[i] != -1) {
			close(g->g_listen_fds[i]);
			g->g_listen_fds[i] = -1;
		}
	}
	if (g->g_reuseport && g->g_nlisten > n)
		g->g_nlisten = n;
	g->g_nprocs = n;
}

static void
sup_scale_up(struct sup_group *g, int n)
{
	int old = g->g_nprocs;

	g->g_procs = xreallocarray(g->g_procs, n, sizeof(*g->g_procs));
	if (g->g_reuseport) {
		g->g_listen_fds = xreallocarray(g->g_listen_fds, n, sizeof(int));
		for (int i = g->g_nlisten; i < n; i++)
			g->g_listen_fds[i] = -1;	/* bound at its first start */
		g->g_nlisten = n;
	}
	g->g_nprocs = n;
	for (int i = old; i < n; i++) {
		g->g_procs[i] = sup_proc_new(g, i);
		g->g_procs[i]->p_want_up = 1;
		log_info("[WORKER_SCALE] group=%s added=%s", g->g_name, g->g_procs[i]->p_name);
	}
}

int
sup_group_scale(struct sup_group *g, int n, char *err, size_t errlen)
{
	struct cfg_worker	*wc = (struct cfg_worker *)g->g_wc;
	int			 from = g->g_nprocs;

	if (wc == NULL || g->g_retired) {
		snprintf(err, errlen, "%s is being removed", g->g_name);
		return -1;
	}
	if (g->g_nextra > 0 || g->g_roll_next != -1) {
		snprintf(err, errlen, "a restart of %s is in progress, retry when it is "
		    "done", g->g_name);
		return -1;
	}
	if (n == from)
		return 0;
	if (g->g_scale_base == 0)
		g->g_scale_base = wc->numprocs;
	if (n < from)
		sup_scale_down(g, n);
	else
		sup_scale_up(g, n);
	if ((from == 1) != (n == 1))
		sup_scale_rename(g);
	/* The running config says what runs (a reload compares with it). */
	wc->numprocs = n;
	if (n == g->g_scale_base)
		g->g_scale_base = 0;
	log_info("[WORKER_SCALE] group=%s from=%d to=%d", g->g_name, from, n);
	sup_notify_changed();
	return 0;
}

void
sup_scale_keep(struct cfg *ncfg)
{
	for (int i = 0; i < ncfg->nworkers; i++) {
		struct cfg_worker	*wc = &ncfg->workers[i];
		struct sup_group	*g = sup_group_find(wc->name);

		if (g == NULL || g->g_scale_base == 0)
			continue;
		if (wc->numprocs != g->g_scale_base) {
			log_info("reload: [worker:%s] numprocs changed in the file: the "
			    "scale to %d is dropped", wc->name, g->g_nprocs);
			g->g_scale_base = 0;
			continue;
		}
		log_info("reload: [worker:%s] keeping %d instances (holdfastctl scale; "
		    "numprocs = %d in the file)", wc->name, g->g_nprocs, wc->numprocs);
		wc->numprocs = g->g_nprocs;
	}
}
