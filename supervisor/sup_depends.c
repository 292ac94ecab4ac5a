/*
 * sup_depends: depends_on between groups.
 *
 * A group wanted up starts only once every group it depends on is ready:
 * each of that group's instances that should run is RUNNING (and one at
 * least is). Until then its STOPPED instances wait, saying for what
 * (holdfastctl status), for at most depends_timeout; then they start
 * anyway, logged, since a service half up beats one that stays down for a
 * dependency that never came. Only starts from STOPPED wait: a crash of a
 * running process is repaired at once whatever its dependencies do. At
 * shutdown a group is stopped only after every group depending on it is
 * down. Cycles and unknown names never get here (cfg_validate).
 *
 *   [WORKER_WAITING] name=app waiting_for=db
 *   [WORKER_DEPENDS_TIMEOUT] name=app waiting_for=db waited=60000ms: starting anyway
 */
#include <string.h>

#include "cfg.h"
#include "log.h"
#include "sup.h"
#include "util.h"

/* Whether every instance of g that should run is RUNNING, one at least. */
static int
sup_depends_ready(const struct sup_group *g)
{
	int running = 0;

	for (int i = 0; i < g->g_nprocs; i++) {
		const struct sup_proc *p = g->g_procs[i];

		if (p->p_state == SUP_RUNNING)
			running++;
		else if (p->p_want_up)
			return 0;
	}
	return running > 0;
}

/* The first dependency of g not ready, or NULL. */
static const char *
sup_depends_first_waiting(const struct sup_group *g)
{
	const struct cfg_worker *wc = g->g_wc;

	for (int d = 0; wc != NULL && d < wc->ndepends; d++) {
		const struct sup_group *dg = sup_group_find(wc->depends[d]);

		if (dg != NULL && !sup_depends_ready(dg))
			return wc->depends[d];
	}
	return NULL;
}

int
sup_depends_hold(struct sup_proc *p)
{
	const struct cfg_worker	*wc = p->p_group->g_wc;
	const char		*dep = sup_depends_first_waiting(p->p_group);
	uint64_t		 now = hf_now_mono_ms(), waited;

	if (dep == NULL) {
		p->p_wait_since_ms = 0;
		p->p_waiting_for[0] = '\0';
		return 0;
	}
	if (p->p_wait_since_ms == 0) {
		p->p_wait_since_ms = now;
		log_info("[WORKER_WAITING] name=%s waiting_for=%s", p->p_name, dep);
	}
	hf_strlcpy(p->p_waiting_for, dep, sizeof(p->p_waiting_for));
	waited = now - p->p_wait_since_ms;
	if (wc->depends_timeout_ms > 0 && waited >= (uint64_t)wc->depends_timeout_ms) {
		log_warnx("[WORKER_DEPENDS_TIMEOUT] name=%s waiting_for=%s waited=%llums: "
		    "starting anyway", p->p_name, dep, (unsigned long long)waited);
		p->p_wait_since_ms = 0;
		p->p_waiting_for[0] = '\0';
		return 0;
	}
	/* The pass runs again at the deadline (the timer of a STOPPED
	 * instance does nothing else); a dependency getting ready runs it
	 * anyway, being a state change. */
	if (wc->depends_timeout_ms > 0)
		sup_timer_arm(p, wc->depends_timeout_ms - (int64_t)waited);
	return 1;
}

int
sup_depends_needed(const struct sup_group *g)
{
	for (const struct sup_group *o = sup.s_groups; o != NULL; o = o->g_next) {
		const struct cfg_worker *wc = o->g_wc;
		int named = 0;

		for (int d = 0; wc != NULL && d < wc->ndepends && !named; d++)
			named = strcmp(wc->depends[d], g->g_name) == 0;
		for (int i = 0; named && i < o->g_nprocs; i++)
			if (!sup_proc_down(o->g_procs[i]))
				return 1;
		if (named && o->g_nextra > 0)
			return 1;
	}
	return 0;
}

int
sup_depends_stalled(const struct sup_proc *p)
{
	const struct sup_group *dg;

	if (p->p_state != SUP_STOPPED || p->p_waiting_for[0] == '\0' ||
	    (dg = sup_group_find(p->p_waiting_for)) == NULL)
		return 0;
	for (int i = 0; i < dg->g_nprocs; i++)
		if (dg->g_procs[i]->p_state == SUP_BACKOFF || dg->g_procs[i]->p_state == SUP_FATAL)
			return 1;
	return 0;
}
