/*
 * sup_upgrade: holdfastd replacing its own image without a restart.
 *
 * `holdfastctl upgrade` and SIGUSR2 write holdfastd's whole state (groups,
 * instances, pids, states, counters, DB health, tail rings, timers, the
 * descriptors of listening sockets, channels, output pipes and control
 * connections) into a memfd, have the binary on disk check it in a child
 * (`holdfastd --check-state FD`), then execve() that binary in place with
 * those descriptors kept: same PID, so the workers stay its children and
 * nothing is restarted or closed. The new image restores the state and
 * answers holdfastctl on the same connection. A failed check refuses the
 * upgrade; a failed execve carries on; a new image that cannot restore
 * re-executes the old one (kept open as an O_PATH descriptor).
 *
 * Self-heal: the same state is kept current (double-buffered memfds,
 * rewritten after each change) so that on SIGSEGV, SIGBUS, SIGABRT, SIGFPE
 * or SIGILL a handler using only async-signal-safe calls re-executes
 * holdfastd from it; more than SUP_HEAL_MAX of them within
 * SUP_HEAL_WINDOW_MS end in the plain default action (a full exit). Under
 * a systemd watchdog, a stall guard heals a wedged event loop the same way
 * before systemd's deadline; the watchdog signal from systemd itself is
 * not healed (systemd is already stopping the unit).
 *
 * The state format: one JSON object {"format":F,"min_reader":M,...}.
 * Adding a field is one row of a field table (readers ignore keys they do
 * not know and keep defaults for keys that are missing), so F only
 * changes for an incompatible change, which also raises M. A reader
 * refuses a state whose min_reader is above SUP_STATE_FORMAT, or whose
 * format is below SUP_STATE_FORMAT_OLDEST, with a message saying both.
 */
#ifndef HOLDFAST_SUP_UPGRADE_H
#define HOLDFAST_SUP_UPGRADE_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

#define SUP_STATE_FORMAT	1	/* written by this binary */
#define SUP_STATE_FORMAT_OLDEST	1	/* the oldest this binary reads */
#define SUP_HEAL_MAX		3	/* self-heals allowed ... */
#define SUP_HEAL_WINDOW_MS	60000	/* ... within this window */
#define SUP_UPGRADE_CHECK_MS	5000	/* the --check-state child's deadline */
#define SUP_STATE_RING_MS	100	/* output-only changes: saved this late (or
					 * 20x the last save's time) */

struct jw;

/* Internal options, given by one holdfastd image to the next. */
struct sup_upgrade_args {
	int		 restore_fd;	/* --restore-state FD */
	int		 check_fd;	/* --check-state FD */
	int		 fallback_fd;	/* --fallback-exe FD: the image to go back to */
	const char	*healed;	/* --healed SIG,T1,T2: a self-heal, and the previous ones */
	const char	*failed;	/* --upgrade-failed REASON (back in the old image) */
};

/* Crash handlers, the own-image descriptor, the crash-loop history. Call
 * first thing (before any spawn, so sup_spawn resets the handlers). */
void sup_heal_init(const struct sup_upgrade_args *, const char *cfgpath, int verbose);
/* --check-state: parses the state and the config; the exit status. */
int sup_upgrade_check(int fd, const char *cfgpath);
/* Rebuilds sup from the state (config loaded, base created by the caller
 * after this returns 0: see holdfastd.c). -1 when it could not: the caller
 * exits (after a fallback re-exec was tried). */
int sup_upgrade_restore(const struct sup_upgrade_args *, const char *cfgpath, int verbose);
/* Then, once the event base exists: groups and control socket adopted. */
void sup_upgrade_adopt(void);
/* After the restored image installed its signal events: the reply to
 * holdfastctl, the [SUP_UPGRADE]/[SUP_HEAL] line, the first saved state. */
void sup_upgrade_restored(void);
/* Starts keeping the heal state (after setup); sup_upgrade_close at exit. */
void sup_upgrade_arm(void);
void sup_upgrade_close(void);
/* Replaces the image. Returns only when refused or when execve failed
 * (-1, reason in err); reply_fd is the control connection to answer
 * (-1: SIGUSR2). */
int sup_upgrade(int reply_fd, char *err, size_t errlen);
/* Something in the state changed: saved after the current callback
 * (urgent) or within SUP_STATE_RING_MS (output lines). */
void sup_upgrade_changed(int urgent);
/* The stall guard (sup_notify.c): armed with WATCHDOG_USEC, fed by each
 * watchdog ping of the event loop, off for good once the loop returned. */
void sup_heal_watch(long long watchdog_us);
void sup_heal_alive(void);
void sup_heal_unwatch(void);
/* The GNU build id of this image, as hex ("none" without one). */
const char *sup_build_id(void);

/* For modules saving their part: a kept descriptor ({"fd":N,"ino":I}),
 * checked on restore (-1 when absent, closed or not the same file), and
 * raw bytes (hex). */
void sup_upgrade_put_fd(struct jw *, const char *key, int fd);
int sup_upgrade_get_fd(yajl_val obj, const char *key);
void sup_upgrade_put_bytes(struct jw *, const char *key, const char *buf, size_t len);
char *sup_upgrade_get_bytes(yajl_val obj, const char *key, size_t *len);

#endif
