/*
 * sup_state: the supervisor's restart policy as data, free of side effects.
 *
 * Every supervised process is in one of supervisord's states. Everything
 * that can happen to it is an event. sup_decide() looks up what the pair
 * (state, event) means given a few facts about the process and returns the
 * next state and one action for the executor (sup_proc.c) to carry out.
 * Nothing here forks, signals or arms a timer, so the whole policy is
 * tested in Check without a single child process.
 */
#ifndef HOLDFAST_SUP_STATE_H
#define HOLDFAST_SUP_STATE_H

#include <stdint.h>

enum sup_state {
	SUP_STOPPED = 0,	/* not running, and nobody asked it to */
	SUP_STARTING,		/* spawned, waiting for "ready" (or startsecs) */
	SUP_RUNNING,		/* ready */
	SUP_BACKOFF,		/* failed to start; waiting before the next try */
	SUP_STOPPING,		/* stopsignal sent, waiting for the exit */
	SUP_EXITED,		/* exited and autorestart says leave it */
	SUP_FATAL,		/* startretries failed starts in a row: down until started */
	SUP_NSTATES
};

enum sup_event {
	SUP_EV_START = 0,	/* operator or autostart */
	SUP_EV_STOP,		/* operator, reload, shutdown */
	SUP_EV_READY,		/* "ready" on the channel, or startsecs without a channel */
	SUP_EV_EXIT,		/* reaped (or could not be spawned at all) */
	SUP_EV_BACKOFF_DONE,	/* the backoff delay is over */
	SUP_EV_STOP_TIMEOUT,	/* stopwaitsecs passed since the stopsignal */
	SUP_EV_HUNG,		/* no heartbeat for heartbeat_timeout */
	SUP_EV_START_TIMEOUT,	/* STARTING for start_timeout without "ready" */
	SUP_NEVENTS
};

enum sup_action {
	SUP_ACT_NONE = 0,
	SUP_ACT_SPAWN,		/* fork + exec now */
	SUP_ACT_TERM,		/* stopsignal to the group, arm stopwaitsecs */
	SUP_ACT_KILL,		/* SIGKILL to the group; the exit follows */
	SUP_ACT_BACKOFF,	/* arm the backoff timer (attempts set) */
	SUP_ACT_CANCEL,		/* disarm timers; nothing runs */
	SUP_ACT_READY,		/* record readiness */
	SUP_ACT_RECORD,		/* exit recorded, nothing to start */
};

/* What the policy needs to know about a process beyond its state. */
struct sup_facts {
	int	 attempts;		/* failed starts in a row so far */
	int	 startretries;
	int	 autorestart;		/* enum cfg_autorestart */
	int	 exit_expected;		/* exit code is listed in exitcodes */
	int	 restart_pending;	/* an operator restart is under way */
	int	 shutting_down;		/* holdfastd is stopping everything */
	int	 start_timed_out;	/* stopped for not becoming ready in time */
	int64_t	 running_ms;		/* time spent RUNNING before this exit */
	int64_t	 backoff_reset_ms;
};

struct sup_decision {
	enum sup_state	 next;
	enum sup_action	 act;
	int		 attempts;	/* the failure count from now on */
	const char	*why;		/* short reason, for logs and tests */
};

struct sup_decision sup_decide(enum sup_state, enum sup_event, const struct sup_facts *);
/* 1 when the state diagram has an edge from -> to (docs/design.md §2). */
int sup_transition_ok(enum sup_state from, enum sup_state to);
const char *sup_state_name(enum sup_state);
const char *sup_event_name(enum sup_event);
/* SUP_NSTATES when unknown. */
enum sup_state sup_state_parse(const char *);

#endif
