/*
 * sup: holdfastd's process table and the modules around it.
 *
 * A group is one [worker:NAME] section; it has numprocs instances, named
 * like the group when there is one ("telephony") and "NAME:i" otherwise.
 * Each instance (struct sup_proc) carries its state, its current child,
 * its channel, its output capture and what the channel last said about
 * the database.
 *
 * Invariants:
 * - holdfastd never touches the database: DB state only arrives on the
 *   channel and is recorded (docs/design.md §2).
 * - The reaper only records exits (p_exit_pending); sup_pass() acts on them
 *   and starts whatever should run. Every state change goes through
 *   sup_set_state(), which logs it.
 * - A group's g_wc points into the running config (sup.s_cfg), except for a
 *   group retired by a reload, whose g_wc is NULL: its processes use the
 *   per-spawn copies (p_stopsig, ...) taken when they were started.
 */
#ifndef HOLDFAST_SUP_H
#define HOLDFAST_SUP_H

#include <stdint.h>
#include <sys/types.h>
#include <event2/event.h>

#include "sup_state.h"

/* A second SIGINT/SIGTERM this soon after the first is the same request
 * arriving two ways, not a person asking again (see sup_shutdown). */
#define SUP_SHUTDOWN_REPEAT_MS	1000
#define SUP_STATUS_TEXT_MAX	256	/* libhf: a channel "status" text, bytes */

struct cfg;
struct cfg_worker;
struct cfg_listen;
struct chan_peer;
struct sup_out;
struct sup_ring;
struct sup_logfile;
struct sup_cg;
struct sup_health;

struct sup_db {
	int		 d_state;	/* -1 unknown, 0 down, 1 up */
	int64_t		 d_since_us;	/* wall clock of the last up/down change */
	int		 d_attempts;
	char		*d_op;
	char		*d_reason;
	char		*d_detail;
};

struct sup_group;
struct sup_dbdown;

/* events: exits by cause (p_exits, holdfast_exits_total) */
enum { SUP_EXIT_CLEAN = 0, SUP_EXIT_CODE, SUP_EXIT_SIGNAL, SUP_EXIT_OOM, SUP_EXIT_NCAUSES };

struct sup_proc {
	char			*p_name;	/* "http:0" or "telephony" */
	int			 p_index;
	struct sup_group	*p_group;
	enum sup_state		 p_state;
	uint64_t		 p_state_since_ms;	/* monotonic */
	pid_t			 p_pid;		/* 0 when no child */
	uint64_t		 p_spawn_ms;	/* monotonic time of the last fork */
	uint64_t		 p_ready_ms;
	int			 p_restarts;	/* spawns after the first */
	int			 p_spawns;
	int			 p_attempts;	/* failed starts in a row */
	int			 p_want_up;	/* autostart / operator start */
	int			 p_restart_pending;
	int			 p_rolling;	/* part of a rolling restart */
	/* exit recorded by the reaper, acted on by sup_pass() */
	int			 p_exit_pending;
	int			 p_exit_status;	/* wait status */
	uint64_t		 p_reaped_us;	/* when the reaper saw it (bench/respawn) */
	char			 p_last_exit[48]; /* "code=1", "signal=SIGKILL" */
	int			 p_start_timed_out; /* stopped by start_timeout */
	/* copies taken at spawn, valid even after a reload retires the group */
	int			 p_stopsig;
	int64_t			 p_stopwait_ms;
	int64_t			 p_heartbeat_ms;
	/* channel */
	struct chan_peer	*p_chan;
	int			 p_hello;
	uint64_t		 p_last_msg_ms;
	char			*p_stats;	/* last "stats" message, as JSON */
	struct event		*p_timer;	/* backoff / stopwait / startsecs */
	struct event		*p_hbtimer;	/* heartbeat watchdog */
	/* output */
	struct sup_out		*p_out[2];	/* stdout, stderr pipes */
	struct sup_ring		*p_ring;
	struct sup_logfile	*p_logs[2];
	struct sup_db		 p_db;
	/* Surge restarts (sup_surge.c). An instance slot's replacement runs
	 * as an extra process (in g_extra) until it is ready; then it takes
	 * the slot and the old process, now an extra, is stopped. Extras are
	 * not in the saved state: an upgrade waits until none is left, and a
	 * self-heal stops them (p_surging says a surge was cut short). */
	struct sup_proc		*p_surge;	/* slot: its replacement starting */
	struct sup_proc		*p_owner;	/* extra: the slot it belongs to, if any */
	int			 p_extra;	/* in g_extra, not in g_procs */
	int			 p_surging;	/* slot: p_surge is set (saved) */
	/* libhf: the worker's last channel "status" text (protocol 2), or NULL */
	char			*p_status_text;
	/* cfgcli: depends_on (not saved: an upgrade starts the wait again) */
	uint64_t		 p_wait_since_ms; /* monotonic; 0: not waiting */
	char			 p_waiting_for[72]; /* the group waited for, or "" */
	/* limits: the cgroup of the current process (sup_cgroup.c), and the
	 * OOM kills counted in it: of the last exit, and in all */
	struct sup_cg		*p_cg;
	int			 p_oom_kill;
	int			 p_oom_kills;
	/* events and metrics (sup_event.c, sup_metrics.c): counters since
	 * holdfastd started (an upgrade keeps them); an OOM kill is told
	 * by p_oom_kill (limits) */
	uint64_t		 p_exits[4];	/* SUP_EXIT_*: clean, code, signal, oom */
	uint64_t		 p_start_failures;
	uint64_t		 p_hung_kills;
	struct sup_dbdown	*p_dbdown;	/* seconds the DB was down, by reason */
	/* sdnotify: sd_notify from the child (sup_sdnotify.c) and health
	 * checks (sup_health.c). Reset at each spawn, saved across upgrades. */
	char			*p_sd_status;	/* last STATUS= */
	pid_t			 p_sd_mainpid;	/* MAINPID= (0: the child itself) */
	struct event		*p_sd_pidev;	/* on its pidfd (or a 1 s kill(0) poll) */
	int			 p_sd_adopted;	/* p_pid is p_sd_mainpid, not our child */
	int			 p_sd_watchdog;	/* WATCHDOG=1 seen: p_hbtimer armed */
	int			 p_sd_errno;	/* last ERRNO= (0: none) */
	int			 p_sd_flags;	/* SUP_SD_* */
	uid_t			 p_sd_uid;	/* the uid it was started as */
	uint64_t		 p_sd_msgs;	/* datagrams accepted from it */
	uint64_t		 p_sd_extend_ms; /* EXTEND_TIMEOUT_USEC deadline (mono) */
	struct sup_health	*p_health;	/* NULL without health_cmd/health_http */
};

#define SUP_SD_STOPPING		0x01	/* STOPPING=1 */
#define SUP_SD_RELOADING	0x02	/* RELOADING=1, until READY=1 */
#define SUP_SD_READY		0x04	/* READY=1 */

struct sup_group {
	char			*g_name;
	const struct cfg_worker	*g_wc;		/* NULL once retired */
	/* Listening sockets: none, one shared by every instance, or (with
	 * listen_reuseport) one SO_REUSEPORT socket per instance slot, kept
	 * open across the slot's respawns. -1 once handed to a new group. */
	int			*g_listen_fds;
	int			 g_nlisten;
	int			 g_reuseport;
	char			*g_listen_spec;
	struct sup_proc		**g_procs;
	int			 g_nprocs;
	int			 g_retired;	/* removed by a reload; freed once down */
	int			 g_roll_next;	/* next instance of a rolling restart, -1 */
	int			 g_roll_only_up; /* skip instances an operator stopped */
	/* Surge replacements and old or removed processes being stopped
	 * (sup_surge.c), freed once down. */
	struct sup_proc		**g_extra;
	int			 g_nextra;
	/* `holdfastctl scale`: the config's numprocs the group was scaled
	 * from (0: not scaled); kept across reload and upgrade while the
	 * file's numprocs stays that. */
	int			 g_scale_base;
	struct sup_group	*g_next;
};

struct sup {
	struct event_base	*s_base;
	struct cfg		*s_cfg;
	char			*s_cfgpath;
	struct sup_group	*s_groups;
	int			 s_shutting_down;
	uint64_t		 s_shutdown_ms;	/* when it began (CLOCK_MONOTONIC) */
	int			 s_exit_code;
	int			 s_devnull;
	struct event		*s_shutdown_timer;
	uint64_t		 s_started_ms;
	int			 s_verbose;	/* -v: log_level from the config ignored */
};

extern struct sup sup;

/* sup_proc.c: the executor and the process table */
void sup_set_state(struct sup_proc *, enum sup_state);
void sup_proc_event(struct sup_proc *, enum sup_event);
/* (Re)arms the instance's one timer (backoff, stopwait, startsecs). */
void sup_timer_arm(struct sup_proc *, int64_t ms);
void sup_pass(void);
void sup_reap(void);
/* Acts on the exit the reaper recorded. */
void sup_proc_exited(struct sup_proc *);
/* No process and none coming (STOPPED, EXITED, FATAL, BACKOFF). */
int sup_proc_down(const struct sup_proc *);
struct sup_group *sup_group_new(const struct cfg_worker *, char *err, size_t errlen);
void sup_group_free(struct sup_group *);
/* Instances matching a name: an instance, a group, or "all". Returns the
 * count; *out is malloc'd (NULL when none). */
int sup_lookup(const char *name, struct sup_proc ***out);
struct sup_proc *sup_find_pid(pid_t);
void sup_proc_start(struct sup_proc *);
void sup_proc_stop(struct sup_proc *);
void sup_proc_restart(struct sup_proc *);
/* Restarts a group; one at a time, each waited on until ready, when it has
 * several instances. only_up (a reload) leaves alone the instances an
 * operator stopped. */
void sup_group_restart(struct sup_group *, int only_up);
void sup_shutdown(const char *why);
/* SIGUSR1 / `holdfastctl reopen`: holdfastd's log_file and the workers'
 * log files opened again (after logrotate moved them); how many worker
 * instances have files. */
int sup_reopen(const char *why);
/* SIGHUP / `holdfastctl reload`: 0, or -1 with the config error in err. */
/* changes, when not NULL, is an open JSON array: one {"group","change"}
 * object is added per group the reload touched (added, replaced, removed,
 * restarted, updated in place). */
struct jw;
int sup_reload(char *err, size_t errlen, struct jw *changes);
/* Binds a [worker] listen address (with SO_REUSEPORT when reuseport);
 * -1 with a reason. */
int sup_listen_bind(const struct cfg_listen *, int reuseport, char *err, size_t errlen);
/* The listening socket instance index inherits, or -1. */
int sup_group_listen_fd(const struct sup_group *, int index);
/* listen_reuseport: closes the slot socket of an instance that stays down
 * (called on every state change), binds it again before a start. */
void sup_group_slot_state(struct sup_proc *);
struct sup_group *sup_group_find(const char *name);
int sup_group_slot_open(struct sup_proc *, char *err, size_t errlen);

/* sup_group.c */
struct sup_proc *sup_proc_new(struct sup_group *, int index);
void sup_proc_free(struct sup_proc *);

/* sup_surge.c: start before stop (restart_mode), and scale */
/* Whether a restart of p starts its replacement first. */
int sup_surge_wanted(const struct sup_proc *);
/* Starts p's replacement; p is stopped once it is ready. */
void sup_surge_start(struct sup_proc *);
/* Called on every state change of an extra process. */
void sup_surge_state(struct sup_proc *, enum sup_state);
/* An operator stop of the slot: its replacement is stopped too. */
void sup_surge_cancel(struct sup_proc *, const char *why);
/* Acts on recorded exits of extras and frees those that are down. */
void sup_surge_pass(struct sup_group *);
/* Stops (shutdown: kill when kill) every extra; how many are not down. */
int sup_surge_stop_all(struct sup_group *, int kill);
struct sup_proc *sup_surge_find_pid(pid_t);
/* Surges (or stops of old processes) in progress anywhere. */
int sup_surge_busy(void);
/* Sends sig to p and to its replacement; each pid signalled goes into w
 * as {"name","pid"} (w may be NULL); the count. */
int sup_proc_signal(struct sup_proc *, int sig, struct jw *w);
/* `holdfastctl scale`: 0, or -1 with a reason. */
#define SUP_SCALE_MAX	256		/* as numprocs */
int sup_group_scale(struct sup_group *, int n, char *err, size_t errlen);
/* Reload: a scaled group keeps its size while the file's numprocs is the
 * one it was scaled from. */
void sup_scale_keep(struct cfg *ncfg);
/* The ring, log files and tail followers an extra's output goes to. */
struct sup_proc *sup_proc_owner(struct sup_proc *);

/* sup_spawn.c */
pid_t sup_spawn(struct sup_proc *, char *err, size_t errlen);
/* Resolves a bare command name (libexec dirs, own dir, PATH). */
char *sup_resolve_command(const char *cmd, const char *cfgdir);

/* sup_chan.c: messages from workers */
void sup_chan_attach(struct sup_proc *, int fd);
void sup_chan_detach(struct sup_proc *);
void sup_hb_arm(struct sup_proc *);
/* The DB health a worker reports (channel "db", or X_HOLDFAST_DB=). */
void sup_db_record(struct sup_proc *, int up, int attempts, const char *op,
    const char *reason, const char *detail);

/* cfgcli: sup_depends.c (depends_on, depends_timeout) */
/* 1 while p, wanted up and STOPPED, must wait for its group's
 * dependencies (then p_waiting_for names one); 0: start it. */
int sup_depends_hold(struct sup_proc *);
/* At shutdown: 1 while a group that depends on g still has a process. */
int sup_depends_needed(const struct sup_group *);
/* 1 when p waits for a group that is failing to start (BACKOFF, FATAL):
 * settled for READY=1, as the failing group itself is. */
int sup_depends_stalled(const struct sup_proc *);
/* cfgcli: `holdfastctl reload --dry-run` (sup_group.c): what a reload
 * would do, into the open object w ("sections", "changes"), changing
 * nothing; -1 with the config error in err. */
int sup_reload_dry_run(char *err, size_t errlen, struct jw *w);

#endif
