/*
 * sup_proc: the executor of the state table, the reaper and the pass.
 *
 * Shape (after PostgreSQL's postmaster): SIGCHLD only makes the loop call
 * sup_reap(), which waits for every exited child and records the status
 * on its instance, nothing else; sup_pass() then turns recorded exits into
 * events, moves rolling restarts and the shutdown along, and starts what
 * should be running. The policy itself is sup_decide() (sup_state.c); the
 * functions here carry out its actions and log each event in one format:
 *
 *   [WORKER_SPAWN] name=http:0 pid=4250 restarts=0
 *   [WORKER_READY] name=http:0 pid=4250 startup=12ms
 *   [WORKER_EXIT] name=http:0 pid=4250 code=1|signal=SIGKILL uptime=3.2s restarts=1
 *     (and oom_kill=1 when the kernel's OOM killer struck in its cgroup)
 *   [WORKER_BACKOFF] name=http:0 attempt=2/13 sleep=173ms
 *   [WORKER_FATAL] name=http:0 attempts=13 last=code=1
 *   [WORKER_FATAL_RETRY] name=http:0 after=300000ms (fatal_retry)
 *   [WORKER_START_TIMEOUT] name=http:0 pid=4250 waited=30000ms
 *   [WORKER_HUNG] (sup_chan.c)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "cfg.h"
#include "log.h"
#include "sup.h"
#include "sup_cgroup.h"
#include "sup_ctl.h"
#include "sup_event.h"
#include "sup_log.h"
#include "sup_metrics.h"
#include "sup_notify.h"
#include "sup_health.h"
#include "sup_sdnotify.h"
#include "util.h"

struct sup sup;

static const char *
sup_signame(int sig, char *buf, size_t len)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev != NULL)
		snprintf(buf, len, "SIG%s", abbrev);
	else
		snprintf(buf, len, "%d", sig);
	return buf;
}

static void
sup_rolling_step(struct sup_proc *p, enum sup_state st)
{
	struct sup_group *g = p->p_group;

	if (!p->p_rolling || (st != SUP_RUNNING && st != SUP_FATAL &&
	    st != SUP_EXITED && st != SUP_STOPPED))
		return;
	p->p_rolling = 0;
	if (st != SUP_RUNNING && g->g_roll_next != -1) {
		log_warnx("%s: rolling restart of %s stopped: %s is %s",
		    g->g_name, g->g_name, p->p_name, sup_state_name(st));
		g->g_roll_next = -1;
	}
}

/* The one place a state changes; every transition is logged. */
void
sup_set_state(struct sup_proc *p, enum sup_state st)
{
	enum sup_state from = p->p_state;

	if (p->p_state == st)
		return;
	HF_ASSERT(sup_transition_ok(p->p_state, st));
	log_info("[WORKER_STATE] name=%s pid=%d %s -> %s", p->p_name,
	    (int)p->p_pid, sup_state_name(p->p_state), sup_state_name(st));
	p->p_state = st;
	sup_event_state(p, from, st);
	p->p_state_since_ms = hf_now_mono_ms();
	sup_notify_changed();
	sup_sdnotify_state(p, st);
	sup_health_state(p, st);
	sup_rolling_step(p, st);
	sup_group_slot_state(p);
	if (p->p_extra)
		sup_surge_state(p, st);
}

static void sup_timer_fire(evutil_socket_t, short, void *);

void
sup_timer_arm(struct sup_proc *p, int64_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (p->p_timer == NULL)
		p->p_timer = evtimer_new(sup.s_base, sup_timer_fire, p);
	evtimer_del(p->p_timer);
	evtimer_add(p->p_timer, &tv);
}

static void
sup_timer_disarm(struct sup_proc *p)
{
	if (p->p_timer != NULL)
		evtimer_del(p->p_timer);
}

/*
 * The STARTING deadlines on the instance's one timer: a program that never
 * said hello has no channel, and running for startsecs is all it can
 * prove (READY then); one that said hello must send "ready" within
 * start_timeout of its spawn (0: no limit).
 */
static void
sup_starting_timer(struct sup_proc *p)
{
	const struct cfg_worker	*wc = p->p_group->g_wc;
	int64_t			 elapsed = (int64_t)(hf_now_mono_ms() - p->p_spawn_ms);
	int64_t			 extended = sup_sdnotify_extend_left(p);

	if (wc == NULL)
		return;
	/* notify = systemd and readiness checks wait for their "ready" like
	 * the channel does; EXTEND_TIMEOUT_USEC moves the deadline. */
	if (!p->p_hello && !sup_sdnotify_awaits_ready(p) && !sup_health_awaits_ready(p)) {
		if (elapsed >= wc->startsecs_ms)
			sup_proc_event(p, SUP_EV_READY);
		else
			sup_timer_arm(p, wc->startsecs_ms - elapsed);
	} else if (wc->start_timeout_ms > 0 && elapsed >= wc->start_timeout_ms &&
	    extended > 0) {
		sup_timer_arm(p, extended);
	} else if (wc->start_timeout_ms > 0 && elapsed >= wc->start_timeout_ms) {
		log_warnx("[WORKER_START_TIMEOUT] name=%s pid=%d waited=%lldms: no "
		    "\"ready\" within start_timeout, stopping it", p->p_name,
		    (int)p->p_pid, (long long)elapsed);
		p->p_start_timed_out = 1;
		sup_proc_event(p, SUP_EV_START_TIMEOUT);
	} else if (wc->start_timeout_ms > 0)
		sup_timer_arm(p, wc->start_timeout_ms - elapsed);
}

/*
 * cfgcli: fatal_retry. FATAL says "cannot start", worth an alert, but the
 * cause may pass (a database or a mount late at boot): after fatal_retry
 * the instance gets a fresh round of startretries, unless an operator
 * stopped it or holdfastd is stopping.
 */
static void
sup_fatal_retry(struct sup_proc *p)
{
	const struct cfg_worker *wc = p->p_group->g_wc;

	if (wc == NULL || !p->p_want_up || sup.s_shutting_down || p->p_extra)
		return;
	log_warnx("[WORKER_FATAL_RETRY] name=%s after=%lldms last=%s: starting it again",
	    p->p_name, (long long)wc->fatal_retry_ms, p->p_last_exit);
	sup_proc_event(p, SUP_EV_START);
}

/* One timer per instance; what it means depends on the state. */
static void
sup_timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct sup_proc *p = arg;

	switch (p->p_state) {
	case SUP_BACKOFF:
		sup_proc_event(p, SUP_EV_BACKOFF_DONE);
		break;
	case SUP_STOPPING:
		if (sup_sdnotify_extend_left(p) > 0) {	/* EXTEND_TIMEOUT_USEC */
			sup_timer_arm(p, sup_sdnotify_extend_left(p));
			break;
		}
		log_warnx("%s: pid %d still alive %lldms after the stop signal: SIGKILL",
		    p->p_name, (int)p->p_pid, (long long)p->p_stopwait_ms);
		sup_proc_event(p, SUP_EV_STOP_TIMEOUT);
		break;
	case SUP_STARTING:
		sup_starting_timer(p);
		break;
	case SUP_FATAL:		/* cfgcli: fatal_retry */
		sup_fatal_retry(p);
		break;
	default:
		break;
	}
	sup_pass();
}

static int
sup_exit_expected(const struct sup_proc *p)
{
	const struct cfg_worker *wc = p->p_group->g_wc;

	if (wc == NULL || !WIFEXITED(p->p_exit_status))
		return 0;
	for (int i = 0; i < wc->nexitcodes; i++)
		if (wc->exitcodes[i] == WEXITSTATUS(p->p_exit_status))
			return 1;
	return 0;
}

static struct sup_facts
sup_facts_of(const struct sup_proc *p)
{
	const struct cfg_worker	*wc = p->p_group->g_wc;
	struct sup_facts	 f;

	memset(&f, 0, sizeof(f));
	f.attempts = p->p_attempts;
	f.startretries = wc != NULL ? wc->startretries : 0;
	f.autorestart = wc != NULL ? wc->autorestart : CFG_RESTART_NEVER;
	f.exit_expected = sup_exit_expected(p);
	f.restart_pending = p->p_restart_pending && wc != NULL;
	f.shutting_down = sup.s_shutting_down;
	f.start_timed_out = p->p_start_timed_out && p->p_want_up;
	f.running_ms = p->p_ready_ms != 0 ? (int64_t)(hf_now_mono_ms() - p->p_ready_ms) : 0;
	f.backoff_reset_ms = wc != NULL ? wc->backoff_reset_ms : 0;
	if (p->p_extra) {	/* a replacement or an old process: never restarted */
		f.autorestart = CFG_RESTART_NEVER;
		f.startretries = 0;
		f.restart_pending = 0;
		f.start_timed_out = 0;
	}
	return f;
}

static void
sup_act_spawn(struct sup_proc *p)
{
	const struct cfg_worker	*wc = p->p_group->g_wc;
	char			 err[256];
	pid_t			 pid;

	p->p_restart_pending = 0;
	p->p_ready_ms = 0;
	p->p_wait_since_ms = 0;		/* cfgcli: started, waiting or not */
	p->p_waiting_for[0] = '\0';
	p->p_stopsig = wc->stopsignal;
	p->p_stopwait_ms = wc->stopwaitsecs_ms;
	p->p_heartbeat_ms = wc->heartbeat_timeout_ms;
	if (p->p_spawns++ > 0)
		p->p_restarts++;
	p->p_spawn_ms = hf_now_mono_ms();
	if ((pid = sup_spawn(p, err, sizeof(err))) == -1) {
		log_warnx("[WORKER_SPAWN] name=%s failed: %s", p->p_name, err);
		p->p_exit_status = 127 << 8;
		snprintf(p->p_last_exit, sizeof(p->p_last_exit), "spawn-failed");
		sup_proc_event(p, SUP_EV_EXIT);
		return;
	}
	p->p_pid = pid;
	sup_sdnotify_spawned(p);
	log_info("[WORKER_SPAWN] name=%s pid=%d restarts=%d", p->p_name, (int)pid,
	    p->p_restarts);
	/* holdfastd's own share of a respawn, for bench/respawn: vfork has
	 * returned, so the child is already in its execve. */
	if (p->p_reaped_us != 0)
		log_debug("%s: spawned %lluus after reaping the previous child", p->p_name,
		    (unsigned long long)(hf_now_mono_us() - p->p_reaped_us));
	p->p_reaped_us = 0;
	p->p_start_timed_out = 0;
	sup_timer_arm(p, wc->start_timeout_ms > 0 && wc->start_timeout_ms <
	    wc->startsecs_ms ? wc->start_timeout_ms : wc->startsecs_ms);
}

static void
sup_act_term(struct sup_proc *p)
{
	char sig[16];

	if (p->p_pid == 0)
		return;
	log_info("%s: stopping pid %d with %s", p->p_name, (int)p->p_pid,
	    sup_signame(p->p_stopsig, sig, sizeof(sig)));
	if (kill(-p->p_pid, p->p_stopsig) == -1 && errno == ESRCH)
		kill(p->p_pid, p->p_stopsig);
	if (p->p_sd_mainpid > 0 && p->p_sd_mainpid != p->p_pid)	/* not yet adopted */
		kill(p->p_sd_mainpid, p->p_stopsig);
	sup_hb_arm(p);	/* disarms: a stopping worker may stop beating */
	sup_timer_arm(p, p->p_stopwait_ms);
}

static void
sup_act_kill(struct sup_proc *p)
{
	if (p->p_pid == 0)
		return;
	if (kill(-p->p_pid, SIGKILL) == -1 && errno == ESRCH)
		kill(p->p_pid, SIGKILL);
	if (p->p_sd_mainpid > 0 && p->p_sd_mainpid != p->p_pid)
		kill(p->p_sd_mainpid, SIGKILL);
}

static void
sup_act_backoff(struct sup_proc *p)
{
	const struct cfg_worker	*wc = p->p_group->g_wc;
	int64_t			 ms;

	/* Half fixed, half random: the retries of several failing workers
	 * still spread out, and startretries bounds the time before FATAL
	 * from below too (70.6 s of backoff with the defaults). */
	ms = hf_backoff_half_jitter_ms(wc->backoff_initial_ms, wc->backoff_max_ms,
	    p->p_attempts - 1, hf_rand_unit());
	log_warnx("[WORKER_BACKOFF] name=%s attempt=%d/%d last=%s sleep=%lldms",
	    p->p_name, p->p_attempts, wc->startretries, p->p_last_exit, (long long)ms);
	sup_timer_arm(p, ms);
}

/* Feeds one event to the table and carries out the decision. */
void
sup_proc_event(struct sup_proc *p, enum sup_event ev)
{
	struct sup_facts	f = sup_facts_of(p);
	struct sup_decision	d = sup_decide(p->p_state, ev, &f);

	log_debug("%s: %s in %s -> %s (%s)", p->p_name, sup_event_name(ev),
	    sup_state_name(p->p_state), sup_state_name(d.next), d.why);
	/* events: an exit before ready (or before ready in time) is a failed
	 * start: counted and told before the state it leads to */
	if (ev == SUP_EV_EXIT && d.attempts > p->p_attempts &&
	    (p->p_state == SUP_STARTING || p->p_state == SUP_STOPPING)) {
		p->p_start_failures++;
		sup_event_start_failed(p, d.attempts, d.next == SUP_FATAL);
	}
	p->p_attempts = d.attempts;
	if (d.act == SUP_ACT_SPAWN || d.act == SUP_ACT_CANCEL)
		sup_timer_disarm(p);
	if (d.next == SUP_FATAL && p->p_group->g_wc != NULL && !p->p_extra &&
	    p->p_group->g_wc->fatal_retry_ms > 0) {
		log_errorx("[WORKER_FATAL] name=%s attempts=%d last=%s: trying again in "
		    "%lldms (fatal_retry), or on `holdfastctl start %s`", p->p_name,
		    p->p_attempts, p->p_last_exit,
		    (long long)p->p_group->g_wc->fatal_retry_ms, p->p_name);
		sup_timer_arm(p, p->p_group->g_wc->fatal_retry_ms);
	} else if (d.next == SUP_FATAL)
		log_errorx("[WORKER_FATAL] name=%s attempts=%d last=%s: not restarting "
		    "until `holdfastctl start %s`", p->p_name, p->p_attempts,
		    p->p_last_exit, p->p_name);
	sup_set_state(p, d.next);
	switch (d.act) {
	case SUP_ACT_SPAWN:	sup_act_spawn(p); break;
	case SUP_ACT_TERM:	sup_act_term(p); break;
	case SUP_ACT_KILL:	sup_act_kill(p); break;
	case SUP_ACT_BACKOFF:	sup_act_backoff(p); break;
	case SUP_ACT_READY:
		p->p_ready_ms = hf_now_mono_ms();
		log_info("[WORKER_READY] name=%s pid=%d startup=%llums", p->p_name,
		    (int)p->p_pid, (unsigned long long)(p->p_ready_ms - p->p_spawn_ms));
		break;
	case SUP_ACT_CANCEL:
	case SUP_ACT_RECORD:
	case SUP_ACT_NONE:
		break;
	}
}

/* ---- reaping --------------------------------------------------------- */

struct sup_proc *
sup_find_pid(pid_t pid)
{
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		for (int i = 0; i < g->g_nprocs; i++)
			if (g->g_procs[i]->p_pid == pid)
				return g->g_procs[i];
	return sup_surge_find_pid(pid);
}

static void
sup_describe_exit(int status, char *buf, size_t len)
{
	char sig[16];

	if (WIFSIGNALED(status))
		snprintf(buf, len, "signal=%s", sup_signame(WTERMSIG(status), sig, sizeof(sig)));
	else
		snprintf(buf, len, "code=%d", WEXITSTATUS(status));
}

/* Waits for every exited child and records it; acts on nothing. */
void
sup_reap(void)
{
	struct sup_proc	*p;
	pid_t		 pid;
	int		 status;
	char		 how[48];

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (sup_hook_reaped(pid, status))	/* events: a listener's command */
			continue;
		if ((p = sup_find_pid(pid)) == NULL) {
			if (sup_health_reaped(pid, status))
				continue;	/* a health_cmd */
			/* Not ours: an orphan re-parented to us (PID 1 or subreaper). */
			sup_describe_exit(status, how, sizeof(how));
			log_info("reaped stray pid=%d %s", (int)pid, how);
			continue;
		}
		p->p_exit_status = status;
		p->p_exit_pending = 1;
		p->p_reaped_us = hf_now_mono_us();
	}
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
}

void
sup_proc_exited(struct sup_proc *p)
{
	uint64_t up = hf_now_mono_ms() - p->p_spawn_ms;

	if (sup_sdnotify_handover(p))	/* a forking program's MAINPID */
		return;
	sup_describe_exit(p->p_exit_status, p->p_last_exit, sizeof(p->p_last_exit));
	sup_cgroup_exited(p);	/* limits: OOM kills counted, leftovers killed */
	log_info("[WORKER_EXIT] name=%s pid=%d %s uptime=%llu.%03llus restarts=%d%s",
	    p->p_name, (int)p->p_pid, p->p_last_exit,
	    (unsigned long long)(up / 1000), (unsigned long long)(up % 1000),
	    p->p_restarts, sup_cgroup_oom_killed(p) ? " oom_kill=1" : "");
	sup_metrics_exit(p, p->p_exit_status);	/* events */
	sup_event_exit(p, p->p_exit_status, up, sup_cgroup_oom_killed(p));
	if (p->p_start_timed_out)	/* what BACKOFF/FATAL report as "last" */
		snprintf(p->p_last_exit, sizeof(p->p_last_exit), "start-timeout");
	p->p_exit_pending = 0;
	p->p_pid = 0;
	sup_chan_detach(p);
	sup_sdnotify_exited(p);
	sup_out_detach(p);
	sup_timer_disarm(p);
	sup_proc_event(p, SUP_EV_EXIT);
}

/* ---- the pass -------------------------------------------------------- */

int
sup_proc_down(const struct sup_proc *p)
{
	return p->p_pid == 0 && p->p_state != SUP_STARTING &&
	    p->p_state != SUP_RUNNING && p->p_state != SUP_STOPPING;
}

/* Stops the highest priority still up; exits the loop once all are down. */
static void
sup_shutdown_step(void)
{
	int	 top = -1, up = 0;

	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		for (int i = 0; i < g->g_nprocs; i++) {
			struct sup_proc *p = g->g_procs[i];
			int prio = g->g_wc != NULL ? g->g_wc->priority : 1000000;

			if (p->p_state == SUP_BACKOFF)
				sup_proc_event(p, SUP_EV_STOP);
			if (!sup_proc_down(p) && prio > top && !sup_depends_needed(g))
				top = prio;
			up += !sup_proc_down(p);
		}
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		up += sup_surge_stop_all(g, 0);
	if (up == 0) {
		event_base_loopexit(sup.s_base, NULL);
		return;
	}
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		for (int i = 0; i < g->g_nprocs; i++) {
			struct sup_proc *p = g->g_procs[i];
			int prio = g->g_wc != NULL ? g->g_wc->priority : 1000000;

			if (prio == top && p->p_state != SUP_STOPPING && !sup_proc_down(p) &&
			    !sup_depends_needed(g))
				sup_proc_event(p, SUP_EV_STOP);
		}
}

/* Next instance of a rolling restart, once the previous one is ready. */
static void
sup_rolling_pass(struct sup_group *g)
{
	struct sup_proc *p;

	while (g->g_roll_next != -1) {
		if (g->g_roll_next > 0 && g->g_procs[g->g_roll_next - 1]->p_rolling)
			return;		/* still waiting for the previous one */
		if (g->g_roll_next >= g->g_nprocs) {
			log_info("%s: rolling restart done", g->g_name);
			g->g_roll_next = -1;
			return;
		}
		p = g->g_procs[g->g_roll_next++];
		if (g->g_roll_only_up && !p->p_want_up)
			continue;
		p->p_rolling = 1;
		sup_proc_restart(p);
	}
}

static void
sup_free_retired(void)
{
	struct sup_group **gp = &sup.s_groups, *g;

	while ((g = *gp) != NULL) {
		int down = 1;

		for (int i = 0; i < g->g_nprocs; i++)
			down = down && sup_proc_down(g->g_procs[i]) &&
			    !g->g_procs[i]->p_exit_pending;
		if (g->g_retired && down && g->g_nextra == 0) {
			*gp = g->g_next;
			log_info("%s: removed", g->g_name);
			sup_group_free(g);
		} else
			gp = &g->g_next;
	}
}

void
sup_pass(void)
{
	struct sup_group *g;

	for (g = sup.s_groups; g != NULL; g = g->g_next) {
		/* A retired group has no worker config (sup.h). */
		HF_ASSERT(!g->g_retired || g->g_wc == NULL);
		for (int i = 0; i < g->g_nprocs; i++)
			if (g->g_procs[i]->p_exit_pending)
				sup_proc_exited(g->g_procs[i]);
		sup_surge_pass(g);
	}
	if (sup.s_shutting_down) {
		sup_shutdown_step();
	} else {
		sup_free_retired();
		for (g = sup.s_groups; g != NULL; g = g->g_next) {
			sup_rolling_pass(g);
			for (int i = 0; i < g->g_nprocs; i++)
				if (g->g_procs[i]->p_want_up &&
				    g->g_procs[i]->p_state == SUP_STOPPED &&
				    !sup_depends_hold(g->g_procs[i]))
					sup_proc_event(g->g_procs[i], SUP_EV_START);
		}
	}
	sup_ctl_pass_done();
}

/* ---- operator requests ----------------------------------------------- */

void
sup_proc_start(struct sup_proc *p)
{
	p->p_want_up = 1;
	if (p->p_state == SUP_STOPPING)
		p->p_restart_pending = 1;
	else
		sup_proc_event(p, SUP_EV_START);
}

void
sup_proc_stop(struct sup_proc *p)
{
	/* An operator stop ends a rolling restart of the group: its next step
	 * would otherwise start what was just stopped. */
	if (p->p_rolling || p->p_group->g_roll_next != -1)
		p->p_group->g_roll_next = -1;
	sup_surge_cancel(p, "stopped");
	p->p_want_up = 0;
	p->p_wait_since_ms = 0;		/* cfgcli: no longer waiting to start */
	p->p_waiting_for[0] = '\0';
	p->p_restart_pending = 0;
	p->p_rolling = 0;
	sup_proc_event(p, SUP_EV_STOP);
}

void
sup_proc_restart(struct sup_proc *p)
{
	/* Asked again while a replacement starts (a reload after a restart):
	 * that one may run the old settings, so a fresh one is started. */
	if (p->p_surge != NULL)
		sup_surge_cancel(p, "restarted-again");
	if (sup_surge_wanted(p)) {
		p->p_want_up = 1;
		sup_surge_start(p);
		return;
	}
	p->p_want_up = 1;
	if (p->p_state == SUP_RUNNING || p->p_state == SUP_STARTING ||
	    p->p_state == SUP_STOPPING) {
		p->p_restart_pending = 1;
		sup_proc_event(p, SUP_EV_STOP);
	} else
		sup_proc_event(p, SUP_EV_START);
}

void
sup_group_restart(struct sup_group *g, int only_up)
{
	if (g->g_nprocs == 1) {
		if (!only_up || g->g_procs[0]->p_want_up)
			sup_proc_restart(g->g_procs[0]);
		return;
	}
	g->g_roll_only_up = only_up;
	for (int i = 0; i < g->g_nprocs; i++)
		g->g_procs[i]->p_rolling = 0;
	g->g_roll_next = 0;
	log_info("%s: rolling restart of %d instances", g->g_name, g->g_nprocs);
	sup_rolling_pass(g);
}

static void
sup_shutdown_deadline(evutil_socket_t fd, short what, void *arg)
{
	if (fd != -1 || what != 0)
		log_warnx("shutdown: still running after %lldms: SIGKILL to all",
		    (long long)sup.s_cfg->holdfast.shutdown_timeout_ms);
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next) {
		for (int i = 0; i < g->g_nprocs; i++)
			sup_act_kill(g->g_procs[i]);
		(void)sup_surge_stop_all(g, 1);
	}
}

void
sup_shutdown(const char *why)
{
	struct timeval	tv;
	int64_t		ms = sup.s_cfg->holdfast.shutdown_timeout_ms;

	if (sup.s_shutting_down) {
		/*
		 * Asked twice (a second Ctrl-C): no more waiting. But not for
		 * one request arriving two ways at once (a terminal's Ctrl-C
		 * reaches holdfastd and the script that started it, which
		 * forwards a SIGTERM): a person's second Ctrl-C comes later.
		 */
		if (hf_now_mono_ms() - sup.s_shutdown_ms < SUP_SHUTDOWN_REPEAT_MS) {
			log_info("%s during shutdown: already stopping", why);
			return;
		}
		log_warnx("%s during shutdown: SIGKILL to all", why);
		sup_shutdown_deadline(-1, 0, NULL);
		return;
	}
	log_info("shutting down (%s)", why);
	sup.s_shutting_down = 1;
	sup.s_shutdown_ms = hf_now_mono_ms();
	sup_notify_stopping();
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next) {
		g->g_roll_next = -1;
		for (int i = 0; i < g->g_nprocs; i++)
			g->g_procs[i]->p_want_up = 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	sup.s_shutdown_timer = evtimer_new(sup.s_base, sup_shutdown_deadline, NULL);
	evtimer_add(sup.s_shutdown_timer, &tv);
	sup_pass();
}
