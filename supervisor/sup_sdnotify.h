/*
 * sup_sdnotify: systemd's notification protocol (sd_notify(3)) offered to
 * every child, so any program that speaks it (Python, Go, Rust, a shell
 * with systemd-notify --pid) is a first-class worker: readiness, status
 * text, a watchdog, a forked main pid and holdfast's DB health keys.
 *
 * One SOCK_DGRAM socket in the abstract namespace, with SO_PASSCRED: the
 * kernel stamps each datagram with the sender's pid and uid, and the pid
 * names the instance (its child, or the MAINPID it announced). Not
 * sup_notify.c, which is holdfastd's own notifications to systemd.
 */
#ifndef HOLDFAST_SUP_SDNOTIFY_H
#define HOLDFAST_SUP_SDNOTIFY_H

#include <stdint.h>
#include <yajl/yajl_tree.h>

#include "sup_state.h"

#define SUP_SD_DGRAM_MAX	4096	/* longer datagrams are ignored */
#define SUP_SD_READ_BUDGET	64	/* datagrams read per loop iteration */
#define SUP_SD_STATUS_MAX	256	/* STATUS= kept, in bytes */
#define SUP_SD_LOG_EVERY_MS	1000	/* [NOTIFY_IGNORED] at most this often */

struct jw;
struct sup_proc;

/* Opens the socket; on restore, adopts fd (-1: the state had none, a new
 * one is opened). Failing is logged: children then get no NOTIFY_SOCKET. */
void sup_sdnotify_init(int fd);
void sup_sdnotify_close(void);
/* Adds NOTIFY_SOCKET (and WATCHDOG_USEC, WATCHDOG_PID with a watchdog)
 * to env at *n; *wdpid is the WATCHDOG_PID entry the child fills in with
 * its pid (NULL when none). */
void sup_sdnotify_env(const struct sup_proc *, char **env, size_t *n, char **wdpid);
/* The per-spawn state starts over (p_pid already set). */
void sup_sdnotify_spawned(struct sup_proc *);
/* The child exited: 1 when that is its hand-over to the MAINPID it
 * announced, which is supervised from now on (nothing else to do). */
int sup_sdnotify_handover(struct sup_proc *);
/* The instance is down: the main pid's watch ends. */
void sup_sdnotify_exited(struct sup_proc *);
void sup_sdnotify_proc_free(struct sup_proc *);
/* notify = systemd: STARTING until READY=1 (not startsecs). */
int sup_sdnotify_awaits_ready(const struct sup_proc *);
/* EXTEND_TIMEOUT_USEC: ms left of the extension, 0 when none. */
int64_t sup_sdnotify_extend_left(const struct sup_proc *);
/* Every state change (the systemd watchdog starts at RUNNING). */
void sup_sdnotify_state(struct sup_proc *, enum sup_state);
/* status --json: the instance's "notify" object; holdfastd's counters. */
void sup_sdnotify_proc_json(struct jw *, const struct sup_proc *);
void sup_sdnotify_json(struct jw *);
/* sup_upgrade.c: the socket across an upgrade or self-heal; a restored
 * instance's main pid watched again. */
void sup_sdnotify_save(struct jw *);
int sup_sdnotify_saved_fd(yajl_val state);
void sup_sdnotify_proc_restored(struct sup_proc *);

#endif
