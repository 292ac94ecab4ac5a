/*
 * sup_state: actions[state][event], in the manner of s6-supervise. Each
 * cell is a small pure function; a NULL cell means "nothing to do in this
 * state" (a late READY from a process being stopped, a START for one that
 * already runs). The reasons for each policy live next to the decision.
 */
#include <stddef.h>
#include <string.h>

#include "cfg.h"
#include "sup_state.h"
#include "util.h"

typedef void sup_cell(const struct sup_facts *, struct sup_decision *);

static const char *const sup_state_names[SUP_NSTATES] = {
	"STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL",
};

static const char *const sup_event_names[SUP_NEVENTS] = {
	"start", "stop", "ready", "exit", "backoff-done", "stop-timeout", "hung",
	"start-timeout",
};

static void
spawn(const struct sup_facts *f, struct sup_decision *d)
{
	d->next = SUP_STARTING;
	d->act = SUP_ACT_SPAWN;
	d->why = "start";
}

/* An operator start is a fresh chance: the failure count starts over. */
static void
operator_start(const struct sup_facts *f, struct sup_decision *d)
{
	spawn(f, d);
	d->attempts = 0;
	d->why = "started by operator";
}

static void
term(const struct sup_facts *f, struct sup_decision *d)
{
	d->next = SUP_STOPPING;
	d->act = SUP_ACT_TERM;
	d->why = "stop requested";
}

static void
kill_it(const struct sup_facts *f, struct sup_decision *d)
{
	d->act = SUP_ACT_KILL;
	d->why = "killed";
}

static void
ready(const struct sup_facts *f, struct sup_decision *d)
{
	d->next = SUP_RUNNING;
	d->act = SUP_ACT_READY;
	d->why = "ready";
}

/*
 * Exit before ready: a failed start. Retry with exponential backoff, half
 * of it random, so a crash loop costs little and several failing workers
 * do not retry in lockstep; after startretries failures in a row give up
 * (FATAL), since retrying at full speed for ever hides the problem. The
 * executor tries a FATAL process again after fatal_retry (sup_proc.c).
 */
static void
start_failed(const struct sup_facts *f, struct sup_decision *d)
{
	d->attempts = f->attempts + 1;
	if (d->attempts >= f->startretries) {
		d->next = SUP_FATAL;
		d->act = SUP_ACT_RECORD;
		d->why = "too many failed starts";
		return;
	}
	d->next = SUP_BACKOFF;
	d->act = SUP_ACT_BACKOFF;
	d->why = "exited before ready";
}

/*
 * Exit of a RUNNING process: it had proven it can start, so its death is an
 * incident to repair at once, not a start failure to slow down. Having run
 * for backoff_reset clears the failure count (systemd never resets its
 * counter, a known complaint). A process that keeps dying soon after it
 * became ready is a crash loop all the same, so from its second short run
 * in a row it backs off (exponentially, capped at backoff_max), but it
 * never goes FATAL: it has shown it can serve, and a service that gives up
 * on a worker that runs for seconds between incidents (an outside killer,
 * a crash triggered by some requests) leaves an operator a dead service
 * instead of a degraded one. FATAL is for programs that cannot start.
 * autorestart may say to leave it down.
 */
static void
running_exited(const struct sup_facts *f, struct sup_decision *d)
{
	d->attempts = f->running_ms >= f->backoff_reset_ms ? 0 : f->attempts + 1;
	if (f->autorestart == CFG_RESTART_NEVER ||
	    (f->autorestart == CFG_RESTART_UNEXPECTED && f->exit_expected)) {
		d->next = SUP_EXITED;
		d->act = SUP_ACT_RECORD;
		d->why = "exited; autorestart says leave it";
		return;
	}
	if (d->attempts <= 1) {
		spawn(f, d);
		d->why = "was running: respawn now";
		return;
	}
	d->next = SUP_BACKOFF;
	d->act = SUP_ACT_BACKOFF;
	d->why = "died soon after ready, again";
}

/*
 * STARTING for start_timeout without "ready" (hello and then nothing, a
 * wait on something that never comes): stop it gracefully, as systemd does
 * at TimeoutStartSec, and count its exit as a failed start (below).
 */
static void
start_timeout(const struct sup_facts *f, struct sup_decision *d)
{
	term(f, d);
	d->why = "not ready within start_timeout";
}

/* The exit we asked for; an operator restart then starts it again. A
 * process stopped for a start timeout failed to start: it backs off, and
 * goes FATAL after startretries, like one that exited before ready. */
static void
stopped(const struct sup_facts *f, struct sup_decision *d)
{
	if (f->restart_pending && !f->shutting_down) {
		operator_start(f, d);
		d->why = "restart";
		return;
	}
	if (f->start_timed_out && !f->shutting_down) {
		start_failed(f, d);
		if (d->next == SUP_BACKOFF)
			d->why = "not ready within start_timeout";
		return;
	}
	d->next = SUP_STOPPED;
	d->act = SUP_ACT_RECORD;
	d->why = "stopped";
}

static void
backoff_over(const struct sup_facts *f, struct sup_decision *d)
{
	spawn(f, d);
	d->why = "backoff over";
}

/* Nothing runs while backing off, so a stop is immediate. */
static void
cancel(const struct sup_facts *f, struct sup_decision *d)
{
	d->next = SUP_STOPPED;
	d->act = SUP_ACT_CANCEL;
	d->why = "stopped while backing off";
}

#define S(st, ev)	[SUP_##st][SUP_EV_##ev]
static sup_cell *const sup_table[SUP_NSTATES][SUP_NEVENTS] = {
	S(STOPPED, START) = operator_start,
	S(STARTING, STOP) = term,
	S(STARTING, READY) = ready,
	S(STARTING, EXIT) = start_failed,
	S(STARTING, HUNG) = kill_it,
	S(STARTING, START_TIMEOUT) = start_timeout,
	S(RUNNING, STOP) = term,
	S(RUNNING, EXIT) = running_exited,
	S(RUNNING, HUNG) = kill_it,
	S(BACKOFF, START) = operator_start,
	S(BACKOFF, STOP) = cancel,
	S(BACKOFF, BACKOFF_DONE) = backoff_over,
	S(STOPPING, EXIT) = stopped,
	S(STOPPING, STOP_TIMEOUT) = kill_it,
	S(STOPPING, HUNG) = kill_it,
	S(EXITED, START) = operator_start,
	S(FATAL, START) = operator_start,
};
#undef S

struct sup_decision
sup_decide(enum sup_state st, enum sup_event ev, const struct sup_facts *f)
{
	struct sup_decision d = { st, SUP_ACT_NONE, f->attempts, "ignored" };

	if ((unsigned)st < SUP_NSTATES && (unsigned)ev < SUP_NEVENTS &&
	    sup_table[st][ev] != NULL)
		sup_table[st][ev](f, &d);
	return d;
}

/*
 * The state diagram, stated apart from the table above so that each checks
 * the other: test_sup_state drives sup_decide through every cell and fact
 * combination and finds no edge missing here; sup_set_state asserts it.
 */
#define B(st)	(1u << SUP_##st)
static const unsigned sup_edges[SUP_NSTATES] = {
	[SUP_STOPPED] = B(STARTING),
	[SUP_STARTING] = B(RUNNING) | B(STOPPING) | B(BACKOFF) | B(FATAL),
	[SUP_RUNNING] = B(STOPPING) | B(STARTING) | B(BACKOFF) | B(EXITED),
	[SUP_BACKOFF] = B(STARTING) | B(STOPPED),
	[SUP_STOPPING] = B(STOPPED) | B(STARTING) | B(BACKOFF) | B(FATAL),
	[SUP_EXITED] = B(STARTING),
	[SUP_FATAL] = B(STARTING),
};
#undef B

int
sup_transition_ok(enum sup_state from, enum sup_state to)
{
	if ((unsigned)from >= SUP_NSTATES || (unsigned)to >= SUP_NSTATES)
		return 0;
	return from == to || (sup_edges[from] & (1u << to)) != 0;
}

const char *
sup_state_name(enum sup_state st)
{
	return (unsigned)st < SUP_NSTATES ? sup_state_names[st] : "UNKNOWN";
}

const char *
sup_event_name(enum sup_event ev)
{
	return (unsigned)ev < SUP_NEVENTS ? sup_event_names[ev] : "unknown";
}

enum sup_state
sup_state_parse(const char *s)
{
	for (int i = 0; i < SUP_NSTATES; i++)
		if (strcmp(s, sup_state_names[i]) == 0)
			return i;
	return SUP_NSTATES;
}
