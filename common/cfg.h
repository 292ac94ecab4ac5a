/*
 * cfg: the one INI file (libinih), loaded into plain structs.
 *
 * Sections: [holdfast], [database], [whatsapp], and one [worker:NAME] per
 * supervised group. Every key is a row (struct cfg_row): an unknown key, a bad value, a
 * duplicate section or a missing required key refuses the whole file with
 * "file:line: reason" (the caller prints it and exits non-zero, or, on
 * SIGHUP, keeps the running config). Relative paths are resolved against
 * the directory of the file. Durations are stored in milliseconds.
 */
#ifndef HOLDFAST_CFG_H
#define HOLDFAST_CFG_H

#include <stdint.h>
#include <sys/types.h>

#define CFG_ERRLEN	512

/* ops: how a group's instances are replaced on a restart */
enum cfg_restart_mode {
	CFG_RMODE_AUTO = 0,		/* surge with a TCP listen, else stop-first */
	CFG_RMODE_SURGE,		/* start the replacement, stop the old once ready */
	CFG_RMODE_STOP_FIRST,		/* stop, then start */
};

enum cfg_autorestart {
	CFG_RESTART_ALWAYS = 0,		/* "true" */
	CFG_RESTART_NEVER,		/* "false" */
	CFG_RESTART_UNEXPECTED,		/* "unexpected": only on exit codes not in exitcodes */
};

/*
 * Every key is one row: its name, type, default (written as in the file,
 * parsed like the file), range, reload class and a one-line doc. The
 * shared sections' rows live in cfg.c; each worker's own rows of
 * [worker:NAME] live in its directory, workers/NAME/keys.def, gathered
 * into workers/all_keys.def by autogen.sh (docs/adding-a-worker.md).
 */
enum cfg_type {
	CFG_T_STR,		/* any text, "" allowed */
	CFG_T_STR_OPT,		/* "" means unset (NULL) */
	CFG_T_PATH,		/* required; relative to the file's directory */
	CFG_T_PATH_OPT,		/* "" means unset (NULL) */
	CFG_T_INT,		/* int in [min, max] */
	CFG_T_BOOL,		/* int 0/1 */
	CFG_T_DUR,		/* int64 milliseconds in [min, max] */
	CFG_T_SIZE,		/* int64 bytes in [min, max]; K/M/G suffixes */
	CFG_T_LOGLEVEL,		/* int LOG_LVL_* */
	CFG_T_SIGNAL,		/* int signal number */
	CFG_T_RESTART,		/* int enum cfg_autorestart */
	CFG_T_RMODE,		/* int enum cfg_restart_mode */
	CFG_T_COMMAND,		/* argv/argc of struct cfg_worker */
	CFG_T_LISTEN,		/* struct cfg_listen */
	CFG_T_EXITCODES,	/* exitcodes/nexitcodes of struct cfg_worker */
	CFG_T_ENV,		/* env/nenv of struct cfg_worker */
	/* cfgcli: log rotation */
	CFG_T_ROTATE,		/* int enum cfg_rotate */
	/* limits: resources and isolation */
	CFG_T_PERCENT,		/* int percent ("50%"); "" and 0 mean none */
	CFG_T_RLIM,		/* int64: bytes or a count, CFG_RLIM_*; "" inherits */
	CFG_T_MODE,		/* int octal file mode bits (umask); -1 when "" */
	/* sdnotify: sd_notify and health checks */
	CFG_T_NOTIFY,		/* int enum cfg_notify */
	CFG_T_HMODE,		/* int enum cfg_health_mode */
};

/* cfgcli: logfile_rotate */
enum cfg_rotate {
	CFG_ROTATE_SIZE = 0,		/* at logfile_maxbytes only */
	CFG_ROTATE_HOURLY,		/* at every UTC hour, and at logfile_maxbytes */
	CFG_ROTATE_DAILY,		/* at every UTC midnight, and at logfile_maxbytes */
};

/* limits: the values of a CFG_T_RLIM field that are not a number. */
#define CFG_RLIM_INHERIT	(-1)		/* "": holdfastd's own limit */
#define CFG_RLIM_INFINITY	INT64_MAX	/* "unlimited" */

/* sdnotify: [worker] notify = ... (supervisor/sup_sdnotify.c) */
enum cfg_notify {
	CFG_NOTIFY_AUTO = 0,		/* NOTIFY_SOCKET given; READY=1 optional */
	CFG_NOTIFY_SYSTEMD,		/* as systemd's Type=notify: READY=1 required */
	CFG_NOTIFY_OFF,			/* the channel only, no NOTIFY_SOCKET */
};

/* sdnotify: [worker] health_mode = ... (supervisor/sup_health.c) */
enum cfg_health_mode {
	CFG_HEALTH_BOTH = 0,		/* readiness, then liveness */
	CFG_HEALTH_LIVENESS,		/* failing health_retries times restarts */
	CFG_HEALTH_READINESS,		/* the first pass makes it RUNNING */
};

/* The C type of a field of each type a workers/NAME/keys.def row may use. */
#define CFG_CTYPE_STR		char *
#define CFG_CTYPE_STR_OPT	char *
#define CFG_CTYPE_PATH_OPT	char *
#define CFG_CTYPE_INT		int
#define CFG_CTYPE_BOOL		int
#define CFG_CTYPE_DUR		int64_t
#define CFG_CTYPE_SIZE		int64_t

/* What a changed value costs on SIGHUP. */
enum cfg_reload {
	CFG_RELOAD_RESTART = 0,	/* the processes that read it restart (rolling) */
	CFG_RELOAD_INPLACE,	/* holdfastd applies it; processes keep running */
};

/* The min of a LISTEN row that refuses "udp:" addresses. */
#define CFG_LISTEN_TCP	1

struct cfg_row {
	const char	*name;
	enum cfg_type	 type;
	size_t		 off;		/* of the field in its section's struct */
	const char	*def;		/* as written in the file; NULL: none */
	long long	 min, max;	/* INT: the value; DUR: ms; SIZE: bytes */
	enum cfg_reload	 reload;
	const char	*doc;		/* one line */
};

/*
 * The values of the sections, one field per row; the rows in cfg.c say
 * each one's key, default and range. Paths are absolute, durations in ms.
 */
/* One listening socket the supervisor binds and hands down. */
struct cfg_listen {
	int	 type;			/* SOCK_STREAM or SOCK_DGRAM; 0 = none */
	char	*host;			/* "127.0.0.1", "::1", "0.0.0.0" */
	char	*port;
	char	*spec;			/* as written, for messages */
};
/* dst (freed first) becomes a copy of src, strings duplicated. */
void cfg_listen_copy(struct cfg_listen *dst, const struct cfg_listen *src);

struct cfg_holdfast {
	char	*control_socket;
	char	*socket_group;		/* NULL: mode 0600; else 0660 and chgrp */
	char	*state_dir;
	char	*log_dir;
	int	 log_level;		/* LOG_LVL_* */
	int	 tail_lines;		/* lines kept per instance for `tail` */
	int64_t	 shutdown_timeout_ms;	/* whole-tree stop deadline */
	/* ops: holdfastd's own log */
	char	*log_file;		/* NULL: stderr; reopened on SIGUSR1 / `reopen` */
	/* ops: the status page */
	struct cfg_listen status_listen; /* type 0: no page */
	int	 status_actions;	/* POST actions allowed (with the token) */
	char	*status_token_file;	/* NULL: no token, so no action */
	char	*status_hosts;		/* names the page answers to, besides IPs */
	/* limits: holdfastd's own OOM score (sup_cgroup.c) */
	int	 oom_score_adj;
	/* events: Prometheus text from holdfastd (supervisor/sup_metrics.c) */
	struct cfg_listen metrics_listen; /* type 0: none; may be status_listen's */
};

struct cfg_database {
	char	*conninfo;		/* libpq conninfo; secrets never logged */
	int	 pool_size;
	int64_t	 statement_timeout_ms;
	int64_t	 connect_timeout_ms;	/* enforced by the layer itself */
	int64_t	 query_timeout_ms;	/* client-side deadline */
	int64_t	 pool_recycle_ms;
	int64_t	 pre_ping_after_ms;
	int64_t	 backoff_initial_ms;
	int64_t	 backoff_max_ms;
	int64_t	 probe_min_interval_ms;
	int64_t	 keepalives_idle_ms;
	int64_t	 tcp_user_timeout_ms;
	int64_t	 lock_timeout_ms;
	int64_t	 idle_in_transaction_timeout_ms;
	int	 auto_migrate;		/* workers migrate when the DB first answers */
	/* pipeline: */
	int	 pipeline_depth;	/* requests in flight per connection; <2 off */
	int	 lookup_batch;	/* lookups per batch statement; <2 off */
};

struct cfg_whatsapp {
	char	*verify_token;
	char	*app_secret;
	char	*access_token;
	char	*graph_api_url;
	char	*api_version;
	int64_t	 session_idle_timeout_ms;
	int64_t	 poll_interval_ms;	/* safety net behind LISTEN/NOTIFY */
	char	*auto_reply;		/* "" disables the acknowledgement */
	int	 send_max_attempts;
	int64_t	 send_timeout_ms;
	int	 batch_size;		/* rows claimed per transaction */
};

struct cfg_env {
	char	*name;
	char	*value;
};

struct cfg_worker {
	char	*name;			/* "http" from [worker:http] */
	int	 line;			/* where the section starts */
	/* supervision */
	char	**argv;			/* command, split like a shell (quotes, no expansion) */
	int	 argc;
	int	 numprocs;
	int	 autostart;
	int	 autorestart;		/* enum cfg_autorestart */
	int	 exitcodes[16];		/* "expected" exit codes */
	int	 nexitcodes;
	int64_t	 startsecs_ms;		/* RUNNING after this if no channel */
	int	 startretries;
	int64_t	 start_timeout_ms;	/* STARTING longer is a failed start; 0 = none */
	int64_t	 backoff_initial_ms;
	int64_t	 backoff_max_ms;
	int64_t	 backoff_reset_ms;	/* RUNNING this long resets the failure count */
	int	 stopsignal;
	int64_t	 stopwaitsecs_ms;
	int64_t	 heartbeat_timeout_ms;	/* 0 disables the watchdog */
	int	 priority;		/* start order, low first */
	struct cfg_env *env;		/* environment= A=1,B="x y" */
	int	 nenv;
	char	*directory;		/* chdir before exec */
	char	*user;			/* drop to this user when root */
	struct cfg_listen listen;
	int	 listen_reuseport;	/* TCP: one SO_REUSEPORT socket per instance */
	/* ops: restarts */
	int	 restart_mode;		/* enum cfg_restart_mode */
	char	*stdout_logfile;	/* NULL: only holdfastd's output + ring */
	char	*stderr_logfile;	/* NULL: same as stdout_logfile */
	int64_t	 logfile_maxbytes;
	int	 logfile_backups;
	/* cfgcli: dependencies, FATAL retry, output timestamps and rotation */
	char	*depends_on;		/* as written: "db, cache" (NULL: none) */
	int64_t	 depends_timeout_ms;	/* then start anyway; 0 = wait for ever */
	int64_t	 fatal_retry_ms;	/* FATAL is tried again after this; 0 = final */
	int	 logfile_timestamps;	/* ISO-8601 UTC prefix per stored line */
	int	 logfile_rotate;	/* enum cfg_rotate */
	char	**depends;		/* depends_on split (not a row: from validation) */
	int	 ndepends;
	char	*file;			/* the file its section is in (include) */
	/* limits: resources and isolation (supervisor/sup_cgroup.c, sup_spawn.c) */
	int64_t	 memory_max;		/* bytes, 0: none (cgroup) */
	int	 cpu_quota;		/* percent of one CPU, 0: none (cgroup) */
	int	 pids_max;		/* 0: none (cgroup) */
	int	 cgroup;		/* own cgroup even without a limit */
	int64_t	 rlimit_nofile;		/* CFG_RLIM_* or a count */
	int64_t	 rlimit_core;		/* CFG_RLIM_* or bytes */
	int64_t	 rlimit_as;		/* CFG_RLIM_* or bytes */
	int	 umask;			/* -1: holdfastd's */
	char	*group;			/* primary group (with user: instead of its own) */
	int	 no_new_privs;		/* PR_SET_NO_NEW_PRIVS before exec */
	int	 oom_score_adj;		/* set in every child: -1000..1000 */
	/* Every worker's own keys: the rows of each workers/NAME/keys.def. */
#define CFG_KEY(key, field, type, def, min, max, reload, doc) CFG_CTYPE_##type field;
#define CFG_CHECK(ok, why)
#include "../workers/all_keys.def"
#undef CFG_KEY
#undef CFG_CHECK
	/* sdnotify: sd_notify for the child, health checks */
	int	 notify;		/* enum cfg_notify */
	char	*health_cmd;		/* NULL: none; run by /bin/sh -c */
	char	*health_http;		/* NULL: none; http://loopback[:port]/path */
	int64_t	 health_interval_ms;
	int64_t	 health_timeout_ms;
	int	 health_retries;	/* failures in a row before a restart */
	int64_t	 health_start_period_ms; /* failures after spawn not counted */
	int	 health_mode;		/* enum cfg_health_mode */
};

/* events: one [event:NAME] listener (supervisor/sup_hook.c) */
struct cfg_event {
	char	*name;			/* "pager" from [event:pager] */
	char	*file;			/* the file it is in (include) */
	int	 line;			/* where the section starts */
	char	*command;		/* split like a shell at each run */
	char	*events;		/* "": every type; else types or states, comma-separated */
	char	*workers;		/* "": every instance; else groups or instances */
	int	 rate_limit;		/* commands per minute; 0: no limit */
	int64_t	 timeout_ms;		/* a command running longer is killed */
	int	 queue;			/* events waiting while one command runs */
};

struct cfg {
	char	*path;			/* absolute path of the file */
	char	*dir;			/* its directory */
	struct cfg_holdfast holdfast;
	struct cfg_database database;
	struct cfg_whatsapp whatsapp;
	struct cfg_worker *workers;
	int	 nworkers;
	/* events: the [event:NAME] sections */
	struct cfg_event *events;
	int	 nevents;
};

/*
 * Loads and validates path. Returns a config, or NULL with "file:line:
 * reason" in err (line 0 for whole-file problems such as a missing file).
 */
struct cfg *cfg_load(const char *path, char *err, size_t errlen);
void cfg_free(struct cfg *);
/* The [worker:NAME] section, or NULL. */
const struct cfg_worker *cfg_worker_find(const struct cfg *, const char *name);
/* 1 when two worker sections would run the same way (SIGHUP diffing). */
int cfg_worker_equal(const struct cfg_worker *, const struct cfg_worker *);
/* The same for two [worker:NAME] sections (the name is not compared). */
int cfg_worker_diff(const struct cfg_worker *, const struct cfg_worker *,
    const char **keys, int max);
/*
 * The keys of section "holdfast", "database" or "whatsapp" whose values
 * differ between a and b (SIGHUP). Returns how many differ; the first max
 * names (static strings) go to keys.
 */
int cfg_section_diff(const struct cfg *a, const struct cfg *b, const char *section,
    const char **keys, int max);
/* Splits a command line like a shell (quotes and backslashes, no
 * expansion). Returns argc, or -1 with a reason in err. */
int cfg_split_command(const char *s, char ***argv, char *err, size_t errlen);
void cfg_free_argv(char **argv);
/* "TERM", "SIGTERM", "15" -> 15; -1 when unknown. */
int cfg_signal_parse(const char *s);
const char *cfg_signal_name(int sig);

/*
 * The rows of section "holdfast", "database", "whatsapp" or "worker" (every
 * [worker:NAME]), ending with a row whose name is NULL; NULL for another
 * section. cfg_row_find: the row of key in section, or NULL.
 */
const struct cfg_row *cfg_rows(const char *section);
const struct cfg_row *cfg_row_find(const char *section, const char *key);
/* The [database] defaults; conninfo is allocated (the caller frees it). */
void cfg_database_defaults(struct cfg_database *);

/*
 * For a worker run by hand or by holdfastd: the config named by
 * HOLDFAST_CONFIG, or by -c; and this instance's section, from
 * HOLDFAST_INSTANCE ("http:1" -> section "http") or the given default.
 */
struct cfg *cfg_load_for_worker(const char *cli_path, char *err, size_t errlen);
const struct cfg_worker *cfg_worker_for_instance(const struct cfg *, const char *instance,
    const char *default_name);
/* events: an [event:NAME] filter item ("exit", "FATAL", ...) is known. */
int cfg_event_type_ok(const char *item);

/* Defaults, for a worker run without a config at all (tests). */
void cfg_worker_defaults(struct cfg_worker *);

/* sdnotify: health_http's "http://HOST[:PORT][/PATH]", HOST a loopback
 * address (127.0.0.0/8, [::1], localhost). 0 with host (malloc'd, an
 * address), port and path (malloc'd, "/" by default; may be NULL), or -1. */
int cfg_health_url(const char *url, char **host, int *port, char **path);

#endif
