/*
 * sup_health: health checks for programs that speak nothing (no channel,
 * no sd_notify), after Kubernetes' probes: health_cmd (a command, exit 0
 * is healthy) or health_http (a GET on loopback, 2xx/3xx is healthy),
 * every health_interval, each bounded by health_timeout.
 *
 *   readiness (health_mode = readiness or both): STARTING until a check
 *     passes (start_timeout still applies), then RUNNING;
 *   liveness (liveness or both): health_retries failed checks in a row
 *     of a RUNNING instance (liveness: STARTING too) are
 *     [WORKER_UNHEALTHY] and restart it like a missed heartbeat.
 *   Failures within health_start_period of the spawn do not count.
 *
 * Never blocks: a health_cmd is a child of holdfastd (its own process
 * group, output to /dev/null, killed by pid at the timeout, reaped by the
 * reaper); health_http is a non-blocking connect, one request and the
 * status line, under a deadline.
 */
#ifndef HOLDFAST_SUP_HEALTH_H
#define HOLDFAST_SUP_HEALTH_H

#include <sys/types.h>

#include "sup_state.h"

#define SUP_HEALTH_REPLY_MAX	512	/* bytes of an HTTP reply read */

struct jw;
struct sup_proc;

/* Every state change: checks start at STARTING, stop when down. */
void sup_health_state(struct sup_proc *, enum sup_state);
/* STARTING waits for a readiness check (not startsecs). */
int sup_health_awaits_ready(const struct sup_proc *);
/* The reaper: 1 when pid was a health_cmd (its result recorded). */
int sup_health_reaped(pid_t pid, int status);
/* status --json: the instance's "health" object (nothing without checks). */
void sup_health_json(struct jw *, const struct sup_proc *);
void sup_health_free(struct sup_proc *);
/* A reload changed the section in place: checks start or stop. */
void sup_health_reloaded(struct sup_proc *);

#endif
