/*
 * cfg: the one INI file (libinih), loaded into plain structs.
 *
 * Sections: [holdfast], [database], [whatsapp], and one [worker:NAME] per
 * supervised group. Every key is known here: an unknown key, a bad value, a
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
	CFG_RESTART_ALWAYS = 0,		/* "true" (default) */
	CFG_RESTART_NEVER,		/* "false" */
	CFG_RESTART_UNEXPECTED,		/* "unexpected": only on exit codes not in exitcodes */
};

struct cfg_holdfast {
	char	*control_socket;	/* absolute; default run/holdfast.sock */
	char	*socket_group;		/* NULL: mode 0600; else 0660 and chgrp */
	char	*state_dir;		/* absolute; default var/lib */
	char	*log_dir;		/* absolute; default var/log (worker log files) */
	int	 log_level;		/* LOG_LVL_* */
	int	 tail_lines;		/* lines kept per instance for `tail`; 1000 */
	int64_t	 shutdown_timeout_ms;	/* whole-tree stop deadline; 30s */
	/* ops: holdfastd's own log */
	char	*log_file;		/* NULL: stderr; reopened on SIGUSR1 / `reopen` */
};

struct cfg_database {
	char	*conninfo;		/* libpq conninfo; secrets never logged */
	int	 pool_size;		/* 4 */
	int64_t	 statement_timeout_ms;	/* 30s */
	int64_t	 connect_timeout_ms;	/* 5s; enforced by the layer itself */
	int64_t	 query_timeout_ms;	/* client-side deadline; statement_timeout + 5s */
	int64_t	 pool_recycle_ms;	/* 300s */
	int64_t	 pre_ping_after_ms;	/* 30s */
	int64_t	 backoff_initial_ms;	/* 1s */
	int64_t	 backoff_max_ms;	/* 16s */
	int64_t	 probe_min_interval_ms;	/* 250ms */
	int64_t	 keepalives_idle_ms;	/* 10s */
	int64_t	 tcp_user_timeout_ms;	/* 10s */
	int64_t	 lock_timeout_ms;	/* 10s */
	int64_t	 idle_in_transaction_timeout_ms; /* 60s */
	int	 auto_migrate;		/* 1: workers migrate when the DB first answers */
};

struct cfg_whatsapp {
	char	*verify_token;
	char	*app_secret;
	char	*access_token;
	char	*graph_api_url;		/* https://graph.facebook.com */
	char	*api_version;		/* v21.0 */
	int64_t	 session_idle_timeout_ms; /* 30m */
	int64_t	 poll_interval_ms;	/* 5s: safety net behind LISTEN/NOTIFY */
	char	*auto_reply;		/* "" disables the acknowledgement */
	int	 send_max_attempts;	/* 8 */
	int64_t	 send_timeout_ms;	/* 10s */
	int	 batch_size;		/* rows claimed per transaction; 100 */
};

/* One listening socket the supervisor binds and hands down. */
struct cfg_listen {
	int	 type;			/* SOCK_STREAM or SOCK_DGRAM; 0 = none */
	char	*host;			/* "127.0.0.1", "::1", "0.0.0.0" */
	char	*port;
	char	*spec;			/* as written, for messages */
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
	int	 numprocs;		/* 1 */
	int	 autostart;		/* 1 */
	int	 autorestart;		/* enum cfg_autorestart */
	int	 exitcodes[16];		/* "expected" exit codes; default 0 */
	int	 nexitcodes;
	int64_t	 startsecs_ms;		/* 1s: RUNNING after this if no channel */
	int	 startretries;		/* 5 */
	int64_t	 start_timeout_ms;	/* 30s: STARTING longer is a failed start; 0 = none */
	int64_t	 backoff_initial_ms;	/* 100ms */
	int64_t	 backoff_max_ms;	/* 30s */
	int64_t	 backoff_reset_ms;	/* 60s RUNNING resets the failure count */
	int	 stopsignal;		/* SIGTERM */
	int64_t	 stopwaitsecs_ms;	/* 10s */
	int64_t	 heartbeat_timeout_ms;	/* 10s; 0 disables the watchdog */
	int	 priority;		/* start order, low first; 999 */
	struct cfg_env *env;		/* environment= A=1,B="x y" */
	int	 nenv;
	char	*directory;		/* chdir before exec */
	char	*user;			/* drop to this user when root */
	struct cfg_listen listen;
	int	 listen_reuseport;	/* 0; TCP: one SO_REUSEPORT socket per instance */
	/* ops: restarts */
	int	 restart_mode;		/* enum cfg_restart_mode */
	char	*stdout_logfile;	/* NULL: only holdfastd's output + ring */
	char	*stderr_logfile;	/* NULL: same as stdout_logfile */
	int64_t	 logfile_maxbytes;	/* 10 MiB */
	int	 logfile_backups;	/* 5 */
	/* holdfast-http */
	int64_t	 max_body;		/* default route body limit; 64 KiB */
	int64_t	 max_webhook_body;	/* 4 MiB */
	int64_t	 max_header_size;	/* 8 KiB */
	int64_t	 request_timeout_ms;	/* 30s */
	int	 max_connections;	/* 1024 */
	int64_t	 token_ttl_ms;		/* 24h */
	int64_t	 token_cache_ttl_ms;	/* 5s; 0: every request asks the DB */
	int	 login_rate;		/* logins per minute per address; 30 */
	/* holdfast-http: the http edge (hsrv limits) */
	int64_t	 header_timeout_ms;	/* 10s: accept to end of head */
	int64_t	 keepalive_timeout_ms;	/* 15s: idle between requests */
	int	 max_connections_per_addr;	/* 256 */
	int64_t	 max_body_memory;	/* 16 MiB of buffered bodies in all */
	/* holdfast-http, DB freeze: deadline of a request's DB work */
	int64_t	 db_request_timeout_ms;	/* 2s; 0: [database] query_timeout */
	/* holdfast-telephony */
	int64_t	 answer_after_ms;	/* 0 */
	int	 max_calls;		/* 10000 */
	int	 rtp_port_min;		/* 40000 */
	int	 rtp_port_max;		/* 49999 */
	int64_t	 sip_t1_ms;		/* 500ms */
	int	 cdr_batch;		/* 200 */
	int64_t	 cdr_flush_ms;		/* 100ms */
	/* holdfast-telephony: the SIP edge against hostile traffic */
	int	 sip_source_rate;	/* new INVITEs per source per second; 1000 */
	/* holdfast-telephony: dialogs restored after a crash */
	int64_t	 dialog_restore_max_ms;	/* 1h: a restored call with no BYE ends */
};

struct cfg {
	char	*path;			/* absolute path of the file */
	char	*dir;			/* its directory */
	struct cfg_holdfast holdfast;
	struct cfg_database database;
	struct cfg_whatsapp whatsapp;
	struct cfg_worker *workers;
	int	 nworkers;
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
 * For a worker run by hand or by holdfastd: the config named by
 * HOLDFAST_CONFIG, or by -c; and this instance's section, from
 * HOLDFAST_INSTANCE ("http:1" -> section "http") or the given default.
 */
struct cfg *cfg_load_for_worker(const char *cli_path, char *err, size_t errlen);
const struct cfg_worker *cfg_worker_for_instance(const struct cfg *, const char *instance,
    const char *default_name);
/* Defaults, for a worker run without a config at all (tests). */
void cfg_worker_defaults(struct cfg_worker *);

#endif
