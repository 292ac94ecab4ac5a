/*
 * cfg: the one INI file, read with libinih into the plain structs of
 * cfg.h.
 *
 * Every key of every section is a row (struct cfg_row: name, type, where
 * it is stored, default, allowed range, reload class, doc). The shared
 * sections' rows and the supervision keys of [worker:NAME] are below; each
 * worker's own rows come from its workers/NAME/keys.def. The same rows
 * drive defaults, parsing, duplicate detection, freeing and
 * cfg_worker_equal(), so a key added as a row is parsed, checked and
 * diffed on SIGHUP without further code.
 *
 * libinih gives the handler neither line numbers (this Debian build lacks
 * INI_HANDLER_LINENO) nor empty sections, so lines reach inih through
 * cfg_reader(), which counts them, recognises "[section]" headers itself
 * (an empty [worker:x] must still fail for lacking a command) and strips
 * leading blanks so that inih never glues an indented line onto the
 * previous value. The first error stops the load: the reader then returns
 * EOF, and the message is "file:line: reason".
 *
 * Invariants: a returned struct cfg is complete and valid (defaults
 * filled, paths absolute, every worker has a command); nothing here logs,
 * so secrets in values cannot reach a log from this module.
 */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <ini.h>

#include "cfg.h"
#include "log.h"
#include "util.h"

#define CFG_MAX_LINE	4096	/* longest line accepted, in bytes */
#define CFG_MAX_KEYS	128	/* keys per section table */
#define CFG_NAME_MAX	64	/* longest worker name */
#define CFG_INCLUDE_MAX	8	/* files open at once: the main one and 7 nested includes */
#define CFG_DEPENDS_MAX	16	/* names in one depends_on */

enum cfg_sect { SECT_NONE = 0, SECT_HOLDFAST, SECT_DATABASE, SECT_WHATSAPP, SECT_WORKER,
	SECT_EVENT };	/* events: [event:NAME] */

#define KIB	HF_KIB		/* short names for the rows' ranges */
#define MIB	HF_MIB
#define GIB	HF_GIB
#define SECS	1000LL
#define MINS	(60 * SECS)
#define HOURS	(60 * MINS)
#define DAYS	(24 * HOURS)

#define ROW(st, name, type, field, def, min, max, reload, doc) \
	{ name, CFG_T_##type, offsetof(st, field), def, min, max, CFG_RELOAD_##reload, doc }

#define H(...)	ROW(struct cfg_holdfast, __VA_ARGS__)
static const struct cfg_row cfg_rows_holdfast[] = {
	H("control_socket",	PATH,	control_socket, "run/holdfast.sock", 0, 0, INPLACE,
	    "Unix socket holdfastctl talks to (mode 0600)"),
	H("socket_group",	STR_OPT, socket_group, "", 0, 0, INPLACE,
	    "group allowed on the control socket (mode 0660)"),
	/* the workers read it: they restart */
	H("state_dir",		PATH,	state_dir, "var/lib", 0, 0, RESTART,
	    "durable state, such as the call-record spool"),
	H("log_dir",		PATH,	log_dir, "var/log", 0, 0, INPLACE,
	    "directory meant for log files"),
	/* workers take it at their next start: a restart of every worker is
	 * too much for a log level */
	H("log_level",		LOGLEVEL, log_level, "info", 0, 0, INPLACE,
	    "error, warn, info or debug"),
	H("tail_lines",		INT,	tail_lines, "1000", 0, 1000000, INPLACE,
	    "lines of output kept per process for holdfastctl tail"),
	H("shutdown_timeout",	DUR,	shutdown_timeout_ms, "30s", 0, HOURS, INPLACE,
	    "deadline of stopping every worker"),
	/* ops: holdfastd's own log file */
	H("log_file",		PATH_OPT, log_file, "", 0, 0, INPLACE,
	    "holdfastd's own log (empty: stderr)"),
	/* ops: the status page (supervisor/sup_web.c); a new address is
	 * bound in place, the old listener kept when that fails */
	H("status_listen",	LISTEN,	status_listen, "", CFG_LISTEN_TCP, 0, INPLACE,
	    "TCP address of the status page (empty: none)"),
	H("status_actions",	BOOL,	status_actions, "false", 0, 0, INPLACE,
	    "the status page may start, stop, restart and reload"),
	H("status_token_file",	PATH_OPT, status_token_file, "", 0, 0, INPLACE,
	    "file holding the bearer token the status page's actions need"),
	H("status_hosts",	STR_OPT, status_hosts, "", 0, 0, INPLACE,
	    "host names the status page answers to, besides IPs and localhost"),
	/* limits: holdfastd protects itself from the OOM killer (lowering
	 * needs CAP_SYS_RESOURCE; without it the value stays as inherited) */
	H("oom_score_adj",	INT,	oom_score_adj, "-900", -1000, 1000, INPLACE,
	    "holdfastd's own OOM score adjustment"),
	/* events: Prometheus metrics (supervisor/sup_metrics.c); bound in
	 * place like status_listen, and may be the same address */
	H("metrics_listen",	LISTEN,	metrics_listen, "", CFG_LISTEN_TCP, 0, INPLACE,
	    "TCP address serving /metrics (empty: none)"),
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
};
#undef H

/* The workers read [database] themselves: a change restarts them. */
#define D(...)	ROW(struct cfg_database, __VA_ARGS__)
static const struct cfg_row cfg_rows_database[] = {
	D("conninfo",		STR,	conninfo, "dbname=holdfast", 0, 0, RESTART,
	    "libpq connection string"),
	D("pool_size",		INT,	pool_size, "4", 1, 1000, RESTART,
	    "connections per worker process"),
	D("statement_timeout",	DUR,	statement_timeout_ms, "30s", 0, DAYS, RESTART,
	    "statement_timeout of every session (0: none)"),
	D("connect_timeout",	DUR,	connect_timeout_ms, "5s", 1, HOURS, RESTART,
	    "deadline of establishing a connection"),
	/* no default of its own: statement_timeout + 5s (cfg_validate) */
	D("query_timeout",	DUR,	query_timeout_ms, NULL, 0, DAYS, RESTART,
	    "client-side deadline of a query (statement_timeout + 5s)"),
	D("pool_recycle",	DUR,	pool_recycle_ms, "300s", 0, DAYS, RESTART,
	    "a connection older than this is replaced"),
	D("pre_ping_after",	DUR,	pre_ping_after_ms, "30s", 0, DAYS, RESTART,
	    "a connection idle longer is validated before use"),
	D("backoff_initial",	DUR,	backoff_initial_ms, "1s", 1, HOURS, RESTART,
	    "first reconnection delay while the database is down"),
	D("backoff_max",	DUR,	backoff_max_ms, "16s", 1, DAYS, RESTART,
	    "cap of the reconnection delay"),
	D("probe_min_interval",	DUR,	probe_min_interval_ms, "250ms", 0, HOURS, RESTART,
	    "demand probes a down database at most this often"),
	D("keepalives_idle",	DUR,	keepalives_idle_ms, "10s", 0, HOURS, RESTART,
	    "TCP keepalive idle time"),
	D("tcp_user_timeout",	DUR,	tcp_user_timeout_ms, "10s", 0, HOURS, RESTART,
	    "TCP_USER_TIMEOUT of every connection"),
	D("lock_timeout",	DUR,	lock_timeout_ms, "10s", 0, DAYS, RESTART,
	    "lock_timeout of every session"),
	D("idle_in_transaction_timeout", DUR, idle_in_transaction_timeout_ms, "60s", 0, DAYS,
	    RESTART, "idle_in_transaction_session_timeout of every session"),
	D("auto_migrate",	BOOL,	auto_migrate, "true", 0, 0, RESTART,
	    "workers migrate the schema when the database first answers"),
	/* pipeline: */
	D("pipeline_depth",	INT,	pipeline_depth, "8", 0, 256, RESTART,
	    "requests in flight per connection (0 or 1: no pipelining)"),
	D("lookup_batch",	INT,	lookup_batch, "32", 0, 256, RESTART,
	    "lookups answered by one statement at most (0 or 1: none batched)"),
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
};
#undef D

/* The workers read [whatsapp] themselves: a change restarts them. */
#define W(...)	ROW(struct cfg_whatsapp, __VA_ARGS__)
static const struct cfg_row cfg_rows_whatsapp[] = {
	W("verify_token",	STR,	verify_token, "", 0, 0, RESTART,
	    "token of the webhook verification handshake"),
	W("app_secret",		STR,	app_secret, "", 0, 0, RESTART,
	    "app secret of the X-Hub-Signature-256 HMAC"),
	W("access_token",	STR,	access_token, "", 0, 0, RESTART,
	    "bearer token of the Graph API"),
	W("graph_api_url",	STR,	graph_api_url, "https://graph.facebook.com", 0, 0,
	    RESTART, "base URL of the Graph API"),
	W("api_version",	STR,	api_version, "v21.0", 0, 0, RESTART,
	    "Graph API version"),
	W("session_idle_timeout", DUR,	session_idle_timeout_ms, "30m", 1, 30 * DAYS, RESTART,
	    "a conversation idle this long is closed"),
	W("poll_interval",	DUR,	poll_interval_ms, "5s", 1, HOURS, RESTART,
	    "polling fallback behind LISTEN/NOTIFY"),
	W("auto_reply",		STR,	auto_reply,
	    "Thanks for your message. We will get back to you shortly.", 0, 0, RESTART,
	    "acknowledgement of a new conversation (empty: none)"),
	W("send_max_attempts",	INT,	send_max_attempts, "8", 1, 1000, RESTART,
	    "delivery attempts per outgoing message"),
	W("send_timeout",	DUR,	send_timeout_ms, "10s", 1, HOURS, RESTART,
	    "deadline of one Graph API request"),
	W("batch_size",		INT,	batch_size, "100", 1, 100000, RESTART,
	    "rows claimed per transaction"),
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
};
#undef W

/*
 * [worker:NAME]: supervision, then each worker's own rows. INPLACE: only
 * holdfastd reads the key, when it acts on a process, so a change needs no
 * restart (a new startretries must not cost the calls in progress). Not
 * in place: heartbeat_timeout (the worker beats at a third of it, as told
 * when it started) and stopwaitsecs (holdfast-telephony drains calls for
 * half of it: the running one must be stopped with the value it started
 * with).
 */
#define P(...)	ROW(struct cfg_worker, __VA_ARGS__)
#define CFG_KEY(key, field, type, def, min, max, reload, doc) \
	P(#key, type, field, def, min, max, reload, doc),
#define CFG_CHECK(ok, why)
static const struct cfg_row cfg_rows_worker[] = {
	P("command",		COMMAND, argv, NULL, 0, 0, RESTART,
	    "program and arguments, split like a shell splits words"),
	P("numprocs",		INT,	numprocs, "1", 1, 256, RESTART,
	    "how many processes run the command"),
	P("autostart",		BOOL,	autostart, "true", 0, 0, INPLACE,
	    "start with holdfastd"),
	P("autorestart",	RESTART, autorestart, "true", 0, 0, INPLACE,
	    "restart after an exit: true, false or unexpected"),
	P("exitcodes",		EXITCODES, exitcodes, "0", 0, 255, INPLACE,
	    "exit codes that count as expected"),
	P("startsecs",		DUR,	startsecs_ms, "1s", 0, HOURS, INPLACE,
	    "a program silent on its channel is RUNNING after this"),
	P("startretries",	INT,	startretries, "13", 0, 1000, INPLACE,
	    "failed starts in a row before FATAL"),
	P("start_timeout",	DUR,	start_timeout_ms, "30s", 0, DAYS, INPLACE,
	    "the longest a process may take from hello to ready"),
	P("backoff_initial",	DUR,	backoff_initial_ms, "100ms", 1, HOURS, INPLACE,
	    "first delay after a quick failure"),
	P("backoff_max",	DUR,	backoff_max_ms, "30s", 1, DAYS, INPLACE,
	    "cap of the delay after quick failures"),
	P("backoff_reset",	DUR,	backoff_reset_ms, "60s", 0, DAYS, INPLACE,
	    "time RUNNING after which the failure count restarts"),
	P("stopsignal",		SIGNAL,	stopsignal, "TERM", 0, 0, INPLACE,
	    "signal that asks the process group to stop"),
	P("stopwaitsecs",	DUR,	stopwaitsecs_ms, "10s", 0, HOURS, RESTART,
	    "SIGKILL follows stopsignal after this"),
	P("heartbeat_timeout",	DUR,	heartbeat_timeout_ms, "10s", 0, HOURS, RESTART,
	    "a worker silent this long is killed (0: no watchdog)"),
	P("priority",		INT,	priority, "999", 0, 1000000, INPLACE,
	    "start order, lowest first"),
	P("environment",	ENV,	env, "", 0, 0, RESTART,
	    "extra environment: NAME=VALUE, comma-separated"),
	P("directory",		PATH_OPT, directory, "", 0, 0, RESTART,
	    "working directory of the process"),
	P("user",		STR_OPT, user, "", 0, 0, RESTART,
	    "user to run as when holdfastd runs as root"),
	/* a changed listen or numprocs replaces the group (sup_group.c) */
	P("listen",		LISTEN,	listen, "", 0, 0, RESTART,
	    "listening socket holdfastd binds and hands down"),
	P("listen_reuseport",	BOOL,	listen_reuseport, "false", 0, 0, RESTART,
	    "TCP: one SO_REUSEPORT socket per process"),
	/* ops: restarts */
	P("restart_mode",	RMODE,	restart_mode, "auto", 0, 0, INPLACE,
	    "surge, stop-first or auto"),
	P("stdout_logfile",	PATH_OPT, stdout_logfile, "", 0, 0, INPLACE,
	    "file of the process's stdout"),
	P("stderr_logfile",	PATH_OPT, stderr_logfile, "", 0, 0, INPLACE,
	    "file of the process's stderr (empty: as stdout)"),
	P("logfile_maxbytes",	SIZE,	logfile_maxbytes, "10M", 0, 1024 * GIB, INPLACE,
	    "rotate a log file at this size (0: never)"),
	P("logfile_backups",	INT,	logfile_backups, "5", 0, 1000, INPLACE,
	    "rotated log files kept"),
	/* cfgcli: dependencies, FATAL retry, output timestamps and rotation
	 * (depends_on is checked against the other sections in cfg_validate) */
	P("depends_on",		STR_OPT, depends_on, "", 0, 0, INPLACE,
	    "groups that must be RUNNING before this one starts"),
	P("depends_timeout",	DUR,	depends_timeout_ms, "60s", 0, DAYS, INPLACE,
	    "then start anyway, with a warning (0: wait for ever)"),
	P("fatal_retry",	DUR,	fatal_retry_ms, "5m", 0, 30 * DAYS, INPLACE,
	    "a FATAL process is started again after this (0: FATAL is final)"),
	P("logfile_timestamps",	BOOL,	logfile_timestamps, "false", 0, 0, INPLACE,
	    "prefix every stored output line with its UTC time"),
	P("logfile_rotate",	ROTATE,	logfile_rotate, "size", 0, 0, INPLACE,
	    "rotate at logfile_maxbytes only (size), or also hourly or daily"),
	/* limits: resources and isolation (supervisor/sup_cgroup.c, sup_spawn.c);
	 * applied when a process starts, so a change restarts the group */
	P("memory_max",		SIZE,	memory_max, "0", 0, 1024 * 1024 * GIB, RESTART,
	    "memory limit of each process's cgroup, swap included (0: none)"),
	P("cpu_quota",		PERCENT, cpu_quota, "", 0, 100000, RESTART,
	    "CPU time limit of each process's cgroup, 100% = one CPU (empty: none)"),
	P("pids_max",		INT,	pids_max, "0", 0, 4194304, RESTART,
	    "limit of processes and threads in each process's cgroup (0: none)"),
	P("cgroup",		BOOL,	cgroup, "false", 0, 0, RESTART,
	    "a cgroup per process even without a limit (leftovers killed at exit)"),
	P("rlimit_nofile",	RLIM,	rlimit_nofile, "", 1, 1LL << 30, RESTART,
	    "RLIMIT_NOFILE, soft and hard (empty: holdfastd's)"),
	P("rlimit_core",	RLIM,	rlimit_core, "", 0, INT64_MAX - 1, RESTART,
	    "RLIMIT_CORE in bytes, soft and hard (empty: holdfastd's)"),
	P("rlimit_as",		RLIM,	rlimit_as, "", 1 * MIB, INT64_MAX - 1, RESTART,
	    "RLIMIT_AS in bytes, soft and hard (empty: holdfastd's)"),
	P("umask",		MODE,	umask, "", 0, 0777, RESTART,
	    "file mode creation mask, octal (empty: holdfastd's)"),
	P("group",		STR_OPT, group, "", 0, 0, RESTART,
	    "group to run as when holdfastd runs as root"),
	P("no_new_privs",	BOOL,	no_new_privs, "false", 0, 0, RESTART,
	    "PR_SET_NO_NEW_PRIVS: exec never gains privileges (setuid bits, caps)"),
	P("oom_score_adj",	INT,	oom_score_adj, "0", -1000, 1000, RESTART,
	    "OOM score adjustment of each process (-1000..1000)"),
#include "../workers/all_keys.def"
	/* sdnotify: sd_notify for the child (its environment: a restart) and
	 * health checks (read at each check: in place) */
	P("notify",		NOTIFY,	notify, "auto", 0, 0, RESTART,
	    "sd_notify socket for the process: auto, systemd or off"),
	P("health_cmd",		STR_OPT, health_cmd, "", 0, 0, INPLACE,
	    "health check command, run by /bin/sh -c (exit 0: healthy)"),
	P("health_http",	STR_OPT, health_http, "", 0, 0, INPLACE,
	    "health check URL on loopback (2xx or 3xx: healthy)"),
	P("health_interval",	DUR,	health_interval_ms, "10s", 10, HOURS, INPLACE,
	    "time between health checks"),
	P("health_timeout",	DUR,	health_timeout_ms, "2s", 10, HOURS, INPLACE,
	    "a health check taking longer failed (and is killed)"),
	P("health_retries",	INT,	health_retries, "3", 1, 1000, INPLACE,
	    "failed liveness checks in a row before a restart"),
	P("health_start_period", DUR,	health_start_period_ms, "0", 0, DAYS, INPLACE,
	    "failed checks this soon after a start do not count"),
	P("health_mode",	HMODE,	health_mode, "both", 0, 0, INPLACE,
	    "readiness, liveness or both"),
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
};
#undef CFG_KEY
#undef CFG_CHECK
#undef P

/* events: [event:NAME], a listener run on matching events (sup_hook.c). */
#define E(...)	ROW(struct cfg_event, __VA_ARGS__)
static const struct cfg_row cfg_rows_event[] = {
	E("command",		STR,	command, NULL, 0, 0, INPLACE,
	    "program and arguments run for each event, split like a shell"),
	E("events",		STR,	events, "", 0, 0, INPLACE,
	    "event types or states to run on, comma-separated (empty: all)"),
	E("workers",		STR,	workers, "", 0, 0, INPLACE,
	    "groups or instances to run on, comma-separated (empty: all)"),
	E("rate_limit",		INT,	rate_limit, "60", 0, 1000000, INPLACE,
	    "commands started per minute at most (0: no limit)"),
	E("timeout",		DUR,	timeout_ms, "10s", 1, HOURS, INPLACE,
	    "a command running longer is killed"),
	E("queue",		INT,	queue, "100", 0, 100000, INPLACE,
	    "events kept waiting while a command runs; more are dropped"),
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL }
};
#undef E

static const struct cfg_row *const cfg_tables[] = {
	[SECT_HOLDFAST] = cfg_rows_holdfast,
	[SECT_DATABASE] = cfg_rows_database,
	[SECT_WHATSAPP] = cfg_rows_whatsapp,
	[SECT_WORKER] = cfg_rows_worker,
	[SECT_EVENT] = cfg_rows_event,
};

_Static_assert(nitems(cfg_rows_worker) <= CFG_MAX_KEYS + 1,
    "a [worker:NAME] has more keys than struct cfg_parse counts");

static const char *const cfg_sect_names[] = {
	[SECT_HOLDFAST] = "holdfast",
	[SECT_DATABASE] = "database",
	[SECT_WHATSAPP] = "whatsapp",
	[SECT_WORKER] = "worker",
	[SECT_EVENT] = "event",
};

static const struct { const char *name; int sig; } cfg_signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ABRT", SIGABRT }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 },
	{ "USR2", SIGUSR2 }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "CONT", SIGCONT }, { "STOP", SIGSTOP }, { "TSTP", SIGTSTP },
	{ "WINCH", SIGWINCH }, { "PIPE", SIGPIPE }, { "CHLD", SIGCHLD },
	{ "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },
	{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM },
	{ "PROF", SIGPROF }, { "IO", SIGIO }, { "SYS", SIGSYS }, { "TRAP", SIGTRAP },
	{ "BUS", SIGBUS }, { "FPE", SIGFPE }, { "SEGV", SIGSEGV }, { "ILL", SIGILL },
};

/* State of one load. */
struct cfg_parse {
	struct cfg	*cfg;
	const char	*name;		/* the path as given, for messages */
	FILE		*f;
	char		*line;		/* getline buffer */
	size_t		 linecap;
	int		 lineno;
	int		 failed;
	char		*err;
	size_t		 errlen;
	enum cfg_sect	 sect;		/* current section */
	int		 worker;	/* index of the current [worker:NAME] */
	int		 sect_line[SECT_WORKER];	/* where each was seen */
	int		 seen[CFG_MAX_KEYS];	/* line of each key, this section */
	int		 query_timeout_set;
	/* cfgcli: include */
	const char	*sect_file[SECT_WORKER];	/* the file of sect_line */
	char		*stack[CFG_INCLUDE_MAX];	/* realpaths being read */
	int		 depth;				/* of the file being read */
	char	       **names;		/* every included file's name, freed at the end */
	int		 nnames;
	int		 event;		/* events: index of the current [event:NAME] */
};

static void cfg_fail(struct cfg_parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
cfg_fail(struct cfg_parse *p, const char *fmt, ...)
{
	char	msg[CFG_ERRLEN];
	va_list	ap;

	if (p->failed)
		return;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->lineno > 0)
		snprintf(p->err, p->errlen, "%s:%d: %s", p->name, p->lineno, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->name, msg);
}

static void
cfg_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cfg_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- value parsers ---------------------------------------------------- */

int
cfg_signal_parse(const char *s)
{
	long long	n;

	if (s == NULL)
		return -1;
	if (hf_parse_int(s, 1, NSIG - 1, &n) == 0)
		return (int)n;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < nitems(cfg_signals); i++)
		if (strcasecmp(s, cfg_signals[i].name) == 0)
			return cfg_signals[i].sig;
	return -1;
}

/* The name without "SIG"; a number for signals without one (static buffer). */
const char *
cfg_signal_name(int sig)
{
	static char	buf[16];

	for (size_t i = 0; i < nitems(cfg_signals); i++)
		if (cfg_signals[i].sig == sig)
			return cfg_signals[i].name;
	snprintf(buf, sizeof(buf), "%d", sig);
	return buf;
}

void
cfg_free_argv(char **argv)
{
	if (argv == NULL)
		return;
	for (char **a = argv; *a != NULL; a++)
		free(*a);
	free(argv);
}

/* Appends one character to the word being built (*w holds *cap bytes). */
static void
cfg_word_putc(char **w, size_t *len, size_t *cap, char c)
{
	if (*len + 2 > *cap) {
		*cap *= 2;
		*w = xrealloc(*w, *cap);
	}
	(*w)[(*len)++] = c;
	(*w)[*len] = '\0';
}

/*
 * One word starting at *sp (not at a blank), per the POSIX shell's quoting:
 * '...' is literal; in "..." a backslash escapes only \ " $ ` and newline;
 * outside quotes a backslash makes the next character literal. Returns the
 * word, or NULL with err filled.
 */
static char *
cfg_split_word(const char **sp, char *err, size_t errlen)
{
	const char	*s = *sp;
	size_t		 len = 0, cap = 32;
	char		*w = xcalloc(1, cap), quote = 0;

	for (; *s != '\0' && (quote != 0 || !isspace((unsigned char)*s)); s++) {
		if (quote == 0 && (*s == '\'' || *s == '"')) {
			quote = *s;
		} else if (quote != 0 && *s == quote) {
			quote = 0;
		} else if (*s == '\\' && quote != '\'') {
			if (s[1] == '\0') {
				cfg_seterr(err, errlen, "command ends with a backslash");
				free(w);
				return NULL;
			}
			if (quote == '"' && strchr("\\\"$`\n", s[1]) == NULL)
				cfg_word_putc(&w, &len, &cap, '\\');
			cfg_word_putc(&w, &len, &cap, *++s);
		} else {
			cfg_word_putc(&w, &len, &cap, *s);
		}
	}
	if (quote != 0) {
		cfg_seterr(err, errlen, "unterminated %s quote in command",
		    quote == '\'' ? "single" : "double");
		free(w);
		return NULL;
	}
	*sp = s;
	return w;
}

int
cfg_split_command(const char *s, char ***argvp, char *err, size_t errlen)
{
	char	**argv = xcalloc(1, sizeof(*argv)), *w;
	int	  argc = 0;

	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		if ((w = cfg_split_word(&s, err, errlen)) == NULL) {
			cfg_free_argv(argv);
			*argvp = NULL;
			return -1;
		}
		argv = xreallocarray(argv, (size_t)argc + 2, sizeof(*argv));
		argv[argc++] = w;
		argv[argc] = NULL;
	}
	*argvp = argv;
	return argc;
}

/*
 * "127.0.0.1:8080", "[::1]:8080", "udp:127.0.0.1:5060", "tcp:..." into l.
 * Returns 0, or -1 with a reason in why.
 */
static int
cfg_parse_listen(const char *spec, struct cfg_listen *l, const char **why)
{
	const char	*s = spec, *colon;
	long long	 port;
	int		 type = SOCK_STREAM;
	char		*host;

	if (strncasecmp(s, "udp:", 4) == 0) {
		type = SOCK_DGRAM;
		s += 4;
	} else if (strncasecmp(s, "tcp:", 4) == 0)
		s += 4;
	if (*s == '[') {
		if ((colon = strchr(s, ']')) == NULL || colon[1] != ':') {
			*why = "expected [IPv6]:port";
			return -1;
		}
		host = xstrndup(s + 1, (size_t)(colon - s - 1));
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			*why = "expected host:port";
			return -1;
		}
		host = xstrndup(s, (size_t)(colon - s));
		if (strchr(host, ':') != NULL) {
			*why = "an IPv6 address goes in brackets: [::1]:port";
			free(host);
			return -1;
		}
	}
	if (*host == '\0' || strpbrk(host, " \t[]") != NULL ||
	    hf_parse_int(colon + 1, 1, 65535, &port) == -1 || !isdigit((unsigned char)colon[1])) {
		*why = *host == '\0' ? "empty host" : "expected a port in 1..65535";
		free(host);
		return -1;
	}
	l->type = type;
	l->host = host;
	l->port = xasprintf("%lld", port);
	l->spec = xstrdup(spec);
	return 0;
}

static void
cfg_listen_clear(struct cfg_listen *l)
{
	free(l->host);
	free(l->port);
	free(l->spec);
	memset(l, 0, sizeof(*l));
}

void
cfg_listen_copy(struct cfg_listen *dst, const struct cfg_listen *src)
{
	cfg_listen_clear(dst);
	*dst = *src;
	dst->host = src->host != NULL ? xstrdup(src->host) : NULL;
	dst->port = src->port != NULL ? xstrdup(src->port) : NULL;
	dst->spec = src->spec != NULL ? xstrdup(src->spec) : NULL;
}

static void
cfg_env_free(struct cfg_env *env, int nenv)
{
	for (int i = 0; i < nenv; i++) {
		free(env[i].name);
		free(env[i].value);
	}
	free(env);
}

/* An environment value at *sp: "quoted" (with \" and \\) or bare up to ','. */
static char *
cfg_env_value(const char **sp, const char **why)
{
	const char	*s = *sp, *start;
	size_t		 len = 0, cap = 32;
	char		*v;

	if (*s != '"') {
		start = s;
		s += strcspn(s, ",");
		while (s > start && isspace((unsigned char)s[-1]))
			s--;
		*sp = s;
		return xstrndup(start, (size_t)(s - start));
	}
	v = xcalloc(1, cap);
	for (s++; *s != '"'; s++) {
		if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
			s++;
		if (*s == '\0') {
			*why = "unterminated double quote";
			free(v);
			return NULL;
		}
		cfg_word_putc(&v, &len, &cap, *s);
	}
	*sp = s + 1;
	return v;
}

/* One NAME=VALUE at *sp, appended to w->env; 0 or -1 with *why. */
static int
cfg_env_item(const char **sp, struct cfg_worker *w, const char **why)
{
	const char	*s = *sp, *name = s;
	char		*n, *v;

	if (!isalpha((unsigned char)*s) && *s != '_') {
		*why = "expected NAME=VALUE";
		return -1;
	}
	while (isalnum((unsigned char)*s) || *s == '_')
		s++;
	if (*s != '=') {
		*why = "expected NAME=VALUE";
		return -1;
	}
	n = xstrndup(name, (size_t)(s - name));
	for (int i = 0; i < w->nenv; i++)
		if (strcmp(w->env[i].name, n) == 0) {
			*why = "a name is set twice";
			free(n);
			return -1;
		}
	s++;
	if ((v = cfg_env_value(&s, why)) == NULL) {
		free(n);
		return -1;
	}
	w->env = xreallocarray(w->env, (size_t)w->nenv + 1, sizeof(*w->env));
	w->env[w->nenv].name = n;
	w->env[w->nenv++].value = v;
	*sp = s;
	return 0;
}

/* environment = A=1, B="x y" ; empty entries (a trailing comma) are skipped. */
static int
cfg_parse_env(const char *s, struct cfg_worker *w, const char **why)
{
	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			return 0;
		if (*s != ',' && cfg_env_item(&s, w, why) == -1)
			return -1;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == ',')
			s++;
		else if (*s != '\0') {
			*why = "expected ',' between entries";
			return -1;
		}
	}
}

static int
cfg_parse_exitcodes(const char *s, struct cfg_worker *w)
{
	char		*copy = xstrdup(s), *rest = copy, *tok, *end;
	long long	 v;
	int		 n = 0, rc = 0;

	while ((tok = strsep(&rest, ",")) != NULL) {
		while (isspace((unsigned char)*tok))
			tok++;
		end = tok + strlen(tok);
		while (end > tok && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (n == (int)nitems(w->exitcodes) || hf_parse_int(tok, 0, 255, &v) == -1) {
			rc = -1;
			break;
		}
		w->exitcodes[n++] = (int)v;
	}
	free(copy);
	if (rc == 0 && n == 0)
		rc = -1;
	if (rc == 0) {
		for (int i = n; i < (int)nitems(w->exitcodes); i++)
			w->exitcodes[i] = 0;
		w->nexitcodes = n;
	}
	return rc;
}

/* ---- setting one key ---------------------------------------------------- */

static char *
cfg_resolve(const struct cfg *cfg, const char *v)
{
	if (v[0] == '/' || cfg == NULL || cfg->dir == NULL)
		return xstrdup(v);
	return xasprintf("%s/%s", strcmp(cfg->dir, "/") == 0 ? "" : cfg->dir, v);
}

/* A value wrapped in double quotes as a whole loses them: auto_reply = "". */
static char *
cfg_unquote(const char *v)
{
	size_t	len = strlen(v);

	if (len >= 2 && v[0] == '"' && v[len - 1] == '"')
		return xstrndup(v + 1, len - 2);
	return xstrdup(v);
}

/* status_hosts: names (".example.com": a domain) separated by commas or
 * spaces; NULL, or what is wrong. */
static const char *
cfg_check_hosts(const char *v)
{
	static const char ok[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";
	size_t n;

	for (v += strspn(v, ", \t"); *v != '\0'; v += strspn(v, ", \t")) {
		n = strcspn(v, ", \t");
		if (strspn(v, ok) < n)
			return "a host name holds letters, digits, '.', '-' and '_' only";
		if (n > 253 || (n == 1 && v[0] == '.'))
			return "a host name is 1 to 253 characters (\".example.com\": a domain)";
		v += n;
	}
	return NULL;
}

/* Checks of a string key's value beyond its type. */
static const struct {
	const char	*key;
	const char	*(*check)(const char *);
} cfg_string_checks[] = {
	{ "status_hosts", cfg_check_hosts },
};

static const char *
cfg_string_check(const struct cfg_row *k, const char *v)
{
	for (size_t i = 0; i < nitems(cfg_string_checks); i++)
		if (strcmp(k->name, cfg_string_checks[i].key) == 0)
			return cfg_string_checks[i].check(v);
	return NULL;
}

static int
cfg_set_string(struct cfg_parse *p, const struct cfg_row *k, char **field,
    const char *value)
{
	char		*v = cfg_unquote(value);
	const char	*why;

	if (*v == '\0' && k->type == CFG_T_PATH) {
		cfg_fail(p, "%s: empty path", k->name);
		free(v);
		return -1;
	}
	if ((why = cfg_string_check(k, v)) != NULL) {
		cfg_fail(p, "%s: bad value \"%s\" (%s)", k->name, v, why);
		free(v);
		return -1;
	}
	free(*field);
	if (*v == '\0' && k->type != CFG_T_STR)
		*field = NULL;
	else if (k->type == CFG_T_PATH || k->type == CFG_T_PATH_OPT)
		*field = cfg_resolve(p->cfg, v);
	else
		*field = xstrdup(v);
	free(v);
	return 0;
}

static int
cfg_set_number(struct cfg_parse *p, const struct cfg_row *k, void *field,
    const char *v)
{
	long long	n;
	int64_t		ms;

	switch (k->type) {
	case CFG_T_INT:
		if (hf_parse_int(v, k->min, k->max, &n) == -1) {
			cfg_fail(p, "%s: bad value \"%s\" (expected an integer in %lld..%lld)",
			    k->name, v, k->min, k->max);
			return -1;
		}
		*(int *)field = (int)n;
		return 0;
	case CFG_T_DUR:
		if (hf_parse_duration_ms(v, &ms) == -1 || ms < k->min || ms > k->max) {
			cfg_fail(p, "%s: bad duration \"%s\" (expected e.g. 500ms, 5s, 2m, 1h; "
			    "%lldms..%lldms)", k->name, v, k->min, k->max);
			return -1;
		}
		*(int64_t *)field = ms;
		return 0;
	default:	/* CFG_T_SIZE */
		if (hf_parse_size(v, &ms) == -1 || ms < k->min || ms > k->max) {
			cfg_fail(p, "%s: bad size \"%s\" (expected bytes or K, M, G; %lld..%lld)",
			    k->name, v, k->min, k->max);
			return -1;
		}
		*(int64_t *)field = ms;
		return 0;
	}
}

/* limits: "50%" (PERCENT), "unlimited" / a size (RLIM), "027" (MODE);
 * "" is the row's "not set". */
static int
cfg_set_limit(struct cfg_parse *p, const struct cfg_row *k, void *field, const char *v)
{
	long long	 n;
	int64_t		 sz;
	size_t		 len = strlen(v);
	char		*num;

	switch (k->type) {
	case CFG_T_PERCENT:
		num = xstrndup(v, len > 0 && v[len - 1] == '%' ? len - 1 : len);
		n = 0;
		if (*v != '\0' && (v[len - 1] != '%' ||
		    hf_parse_int(num, k->min, k->max, &n) == -1)) {
			cfg_fail(p, "%s: bad value \"%s\" (expected a percentage such as 50%% "
			    "or 200%%, %lld%%..%lld%%)", k->name, v, k->min, k->max);
			free(num);
			return -1;
		}
		free(num);
		*(int *)field = (int)n;
		return 0;
	case CFG_T_RLIM:
		if (*v == '\0' || strcasecmp(v, "unlimited") == 0 ||
		    strcasecmp(v, "infinity") == 0) {
			*(int64_t *)field = *v == '\0' ? CFG_RLIM_INHERIT : CFG_RLIM_INFINITY;
			return 0;
		}
		if (hf_parse_size(v, &sz) == -1 || sz < k->min || sz > k->max) {
			cfg_fail(p, "%s: bad value \"%s\" (expected unlimited, or a number "
			    "with K, M, G: %lld..%lld)", k->name, v, k->min, k->max);
			return -1;
		}
		*(int64_t *)field = sz;
		return 0;
	default:	/* CFG_T_MODE */
		n = -1;
		if (*v != '\0' && (strspn(v, "01234567") != len || len > 4 ||
		    (n = strtoll(v, NULL, 8)) > k->max)) {
			cfg_fail(p, "%s: bad value \"%s\" (expected octal digits such as 022 "
			    "or 0027, at most %llo)", k->name, v, k->max);
			return -1;
		}
		*(int *)field = (int)n;
		return 0;
	}
}

static int
cfg_set_enum(struct cfg_parse *p, const struct cfg_row *k, int *field, const char *v)
{
	int	n;

	switch (k->type) {
	case CFG_T_BOOL:
		n = hf_parse_bool(v);
		break;
	case CFG_T_LOGLEVEL:
		n = log_level_parse(v);
		break;
	case CFG_T_SIGNAL:
		n = cfg_signal_parse(v);
		break;
	case CFG_T_RMODE:
		n = strcasecmp(v, "surge") == 0 ? CFG_RMODE_SURGE :
		    strcasecmp(v, "stop-first") == 0 ? CFG_RMODE_STOP_FIRST :
		    strcasecmp(v, "auto") == 0 ? CFG_RMODE_AUTO : -1;
		break;
	case CFG_T_ROTATE:
		n = strcasecmp(v, "size") == 0 ? CFG_ROTATE_SIZE :
		    strcasecmp(v, "hourly") == 0 ? CFG_ROTATE_HOURLY :
		    strcasecmp(v, "daily") == 0 ? CFG_ROTATE_DAILY : -1;
		break;
	case CFG_T_NOTIFY:	/* sdnotify */
		n = strcasecmp(v, "auto") == 0 ? CFG_NOTIFY_AUTO :
		    strcasecmp(v, "systemd") == 0 ? CFG_NOTIFY_SYSTEMD :
		    strcasecmp(v, "off") == 0 ? CFG_NOTIFY_OFF : -1;
		break;
	case CFG_T_HMODE:	/* sdnotify */
		n = strcasecmp(v, "both") == 0 ? CFG_HEALTH_BOTH :
		    strcasecmp(v, "liveness") == 0 ? CFG_HEALTH_LIVENESS :
		    strcasecmp(v, "readiness") == 0 ? CFG_HEALTH_READINESS : -1;
		break;
	default:	/* CFG_T_RESTART */
		n = strcasecmp(v, "unexpected") == 0 ? CFG_RESTART_UNEXPECTED :
		    hf_parse_bool(v) == 1 ? CFG_RESTART_ALWAYS :
		    hf_parse_bool(v) == 0 ? CFG_RESTART_NEVER : -1;
		break;
	}
	if (n == -1) {
		cfg_fail(p, "%s: bad value \"%s\" (expected %s)", k->name, v,
		    k->type == CFG_T_BOOL ? "true or false" :
		    k->type == CFG_T_LOGLEVEL ? "error, warn, info or debug" :
		    k->type == CFG_T_SIGNAL ? "a signal name such as TERM, or a number" :
		    k->type == CFG_T_RMODE ? "surge, stop-first or auto" :
		    k->type == CFG_T_ROTATE ? "size, hourly or daily" :
		    k->type == CFG_T_NOTIFY ? "auto, systemd or off" :
		    k->type == CFG_T_HMODE ? "both, liveness or readiness" :
		    "true, false or unexpected");
		return -1;
	}
	*field = n;
	return 0;
}

/* A listening address; min CFG_LISTEN_TCP refuses "udp:". */
static int
cfg_set_listen(struct cfg_parse *p, const struct cfg_row *k, struct cfg_listen *l,
    const char *v)
{
	const char *reason = NULL;

	cfg_listen_clear(l);
	if (*v == '\0')
		return 0;
	if (cfg_parse_listen(v, l, &reason) == 0 &&
	    (k->min != CFG_LISTEN_TCP || l->type == SOCK_STREAM))
		return 0;
	if (reason == NULL) {
		cfg_listen_clear(l);
		reason = "TCP only: host:port";
	}
	cfg_fail(p, "%s: bad address \"%s\" (%s)", k->name, v, reason);
	return -1;
}

/* The keys that fill more than one field of struct cfg_worker (and a
 * listening address, in any section). */
static int
cfg_set_worker_special(struct cfg_parse *p, const struct cfg_row *k,
    struct cfg_worker *w, const char *v)
{
	char		 why[CFG_ERRLEN];
	const char	*reason = NULL;
	char	       **argv;
	int		 argc;

	switch (k->type) {
	case CFG_T_COMMAND:
		if ((argc = cfg_split_command(v, &argv, why, sizeof(why))) <= 0) {
			cfg_fail(p, "command: %s", argc == 0 ? "empty command" : why);
			cfg_free_argv(argv);
			return -1;
		}
		cfg_free_argv(w->argv);
		w->argv = argv;
		w->argc = argc;
		return 0;
	case CFG_T_LISTEN:
		return cfg_set_listen(p, k, (struct cfg_listen *)(void *)((char *)w + k->off), v);
	case CFG_T_EXITCODES:
		if (cfg_parse_exitcodes(v, w) == 0)
			return 0;
		cfg_fail(p, "exitcodes: bad value \"%s\" (expected up to %zu codes "
		    "in 0..255, comma-separated)", v, nitems(w->exitcodes));
		return -1;
	default:	/* CFG_T_ENV */
		cfg_env_free(w->env, w->nenv);
		w->env = NULL;
		w->nenv = 0;
		if (cfg_parse_env(v, w, &reason) == 0)
			return 0;
		cfg_fail(p, "environment: %s", reason);
		return -1;
	}
}

static void *
cfg_sect_base(struct cfg_parse *p)
{
	switch (p->sect) {
	case SECT_HOLDFAST: return &p->cfg->holdfast;
	case SECT_DATABASE: return &p->cfg->database;
	case SECT_WHATSAPP: return &p->cfg->whatsapp;
	case SECT_WORKER: return &p->cfg->workers[p->worker];
	case SECT_EVENT: return &p->cfg->events[p->event];
	default: return NULL;
	}
}

/* Sets k's field(s) in base, the struct of k's section, from value. */
static int
cfg_set(struct cfg_parse *p, const struct cfg_row *k, void *base, const char *value)
{
	void	*field = (char *)base + k->off;

	switch (k->type) {
	case CFG_T_STR: case CFG_T_STR_OPT: case CFG_T_PATH: case CFG_T_PATH_OPT:
		return cfg_set_string(p, k, field, value);
	case CFG_T_INT: case CFG_T_DUR: case CFG_T_SIZE:
		return cfg_set_number(p, k, field, value);
	case CFG_T_BOOL: case CFG_T_LOGLEVEL: case CFG_T_SIGNAL: case CFG_T_RESTART:
	case CFG_T_RMODE: case CFG_T_ROTATE: case CFG_T_NOTIFY: case CFG_T_HMODE:
		return cfg_set_enum(p, k, field, value);
	case CFG_T_PERCENT: case CFG_T_RLIM: case CFG_T_MODE:	/* limits */
		return cfg_set_limit(p, k, field, value);
	default:
		return cfg_set_worker_special(p, k, base, value);
	}
}

/*
 * Every row's default into base (zeroed first): the defaults are parsed
 * like the file, so a row's default is a value the file could hold. A
 * default that does not parse is a bug in the table.
 */
static void
cfg_rows_defaults(const struct cfg_row *rows, struct cfg *cfg, void *base, size_t size)
{
	struct cfg_parse	p;
	char			err[CFG_ERRLEN];

	memset(base, 0, size);
	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.name = "default";
	p.err = err;
	p.errlen = sizeof(err);
	for (const struct cfg_row *k = rows; k->name != NULL; k++)
		if (k->def != NULL && cfg_set(&p, k, base, k->def) == -1)
			hf_assert_fail(err, __FILE__, __LINE__);
}

/* ---- sections and the inih callbacks ----------------------------------- */

static int
cfg_worker_name_ok(const char *name)
{
	size_t	len = strlen(name);

	return len > 0 && len <= CFG_NAME_MAX &&
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_-") == len;
}

/* "duplicate section [x] (first at line 3)", naming the first's file when
 * it is another one (include). */
static void
cfg_fail_dup(struct cfg_parse *p, const char *pre, const char *name, const char *post,
    const char *file, int line)
{
	if (file == NULL || strcmp(file, p->name) == 0)
		cfg_fail(p, "duplicate section %s%s%s (first at line %d)", pre, name, post, line);
	else
		cfg_fail(p, "duplicate section %s%s%s (first at %s:%d)", pre, name, post,
		    file, line);
}

static int
cfg_begin_worker(struct cfg_parse *p, const char *name)
{
	struct cfg		*cfg = p->cfg;
	const struct cfg_worker	*old;
	struct cfg_worker	*w;

	if (!cfg_worker_name_ok(name)) {
		cfg_fail(p, "bad worker name \"%s\" (expected 1 to %d of A-Z a-z 0-9 _ -)",
		    name, CFG_NAME_MAX);
		return -1;
	}
	if ((old = cfg_worker_find(cfg, name)) != NULL) {
		cfg_fail_dup(p, "[worker:", name, "]", old->file, old->line);
		return -1;
	}
	cfg->workers = xreallocarray(cfg->workers, (size_t)cfg->nworkers + 1,
	    sizeof(*cfg->workers));
	w = &cfg->workers[cfg->nworkers];
	cfg_worker_defaults(w);
	w->name = xstrdup(name);
	w->line = p->lineno;
	w->file = xstrdup(p->name);
	p->worker = cfg->nworkers++;
	p->sect = SECT_WORKER;
	return 0;
}

/* events: an [event:NAME] section begins. */
static int
cfg_begin_event(struct cfg_parse *p, const char *name)
{
	struct cfg		*cfg = p->cfg;
	struct cfg_event	*e;

	if (!cfg_worker_name_ok(name)) {
		cfg_fail(p, "bad event listener name \"%s\" (expected 1 to %d of A-Z a-z "
		    "0-9 _ -)", name, CFG_NAME_MAX);
		return -1;
	}
	for (int i = 0; i < cfg->nevents; i++)
		if (strcmp(cfg->events[i].name, name) == 0) {
			cfg_fail(p, "duplicate section [event:%s] (first at line %d)", name,
			    cfg->events[i].line);
			return -1;
		}
	cfg->events = xreallocarray(cfg->events, (size_t)cfg->nevents + 1,
	    sizeof(*cfg->events));
	e = &cfg->events[cfg->nevents];
	cfg_rows_defaults(cfg_rows_event, cfg, e, sizeof(*e));
	e->name = xstrdup(name);
	e->file = xstrdup(p->name);
	e->line = p->lineno;
	p->event = cfg->nevents++;
	p->sect = SECT_EVENT;
	return 0;
}

/* A "[name]" header (leading blanks already gone): switch sections. */
static int
cfg_section_line(struct cfg_parse *p, const char *line)
{
	const char	*end = strchr(line, ']'), *rest;
	char		*name;
	int		 rc = 0, s;

	if (end == NULL) {
		cfg_fail(p, "section header without ']'");
		return -1;
	}
	rest = end + 1 + strspn(end + 1, " \t\r\n");
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		cfg_fail(p, "unexpected text after section header");
		return -1;
	}
	name = xstrndup(line + 1, (size_t)(end - line - 1));
	memset(p->seen, 0, sizeof(p->seen));
	if (strncmp(name, "worker:", 7) == 0) {
		rc = cfg_begin_worker(p, name + 7);
		free(name);
		return rc;
	}
	if (strncmp(name, "event:", 6) == 0) {		/* events */
		rc = cfg_begin_event(p, name + 6);
		free(name);
		return rc;
	}
	for (s = SECT_HOLDFAST; s < SECT_WORKER; s++)
		if (strcmp(name, cfg_sect_names[s]) == 0)
			break;
	if (s == SECT_WORKER) {
		cfg_fail(p, "unknown section [%s]", name);
		rc = -1;
	} else if (p->sect_line[s] != 0) {
		cfg_fail_dup(p, "[", name, "]", p->sect_file[s], p->sect_line[s]);
		rc = -1;
	} else {
		p->sect_line[s] = p->lineno;
		p->sect_file[s] = p->name;
		p->sect = s;
	}
	free(name);
	return rc;
}

/*
 * inih's line source: one whole line per call, counted, with leading blanks
 * removed and section headers acted on. Returns NULL (EOF to inih) at the
 * end of the file or after the first error.
 */
static char *
cfg_reader(char *buf, int num, void *arg)
{
	struct cfg_parse	*p = arg;
	ssize_t			 n;
	char			*s;

	if (p->failed || (n = getline(&p->line, &p->linecap, p->f)) == -1)
		return NULL;
	p->lineno++;
	if (memchr(p->line, '\0', (size_t)n) != NULL) {
		cfg_fail(p, "NUL byte in line");
		return NULL;
	}
	s = p->line;
	if (p->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	s += strspn(s, " \t\r\f\v");
	if (strlen(s) + 2 > (size_t)num) {
		cfg_fail(p, "line too long (the limit is %d bytes)", num - 2);
		return NULL;
	}
	if (*s == '[' && cfg_section_line(p, s) == -1)
		return NULL;
	memcpy(buf, s, strlen(s) + 1);
	return buf;
}

/* One "key = value" line, its value expanded; 1 when it was taken. */
static int
cfg_key(struct cfg_parse *p, const char *name, const char *value)
{
	const struct cfg_row	*keys, *k;
	int			 i;

	if (p->sect == SECT_NONE) {
		cfg_fail(p, "key \"%s\" outside any section", name);
		return 0;
	}
	keys = cfg_tables[p->sect];
	for (i = 0, k = keys; k->name != NULL; k++, i++)
		if (strcmp(k->name, name) == 0)
			break;
	if (k->name == NULL) {
		cfg_fail(p, "unknown key \"%s\"", name);
		return 0;
	}
	if (p->seen[i] != 0) {
		cfg_fail(p, "duplicate key \"%s\" (first at line %d)", name, p->seen[i]);
		return 0;
	}
	p->seen[i] = p->lineno;
	if (p->sect == SECT_DATABASE && strcmp(name, "query_timeout") == 0)
		p->query_timeout_set = 1;
	return cfg_set(p, k, cfg_sect_base(p), value) == 0;
}

/* ---- cfgcli: ${VAR} expansion and include -------------------------------- */

/* Appends n bytes of s to the value being built. */
static void
cfg_putn(char **w, size_t *len, size_t *cap, const char *s, size_t n)
{
	while (n-- > 0)
		cfg_word_putc(w, len, cap, *s++);
}

/*
 * "${NAME}" or "${NAME:-default}" at *sp (its '$'): the variable's value,
 * or the default when it is unset or empty. *sp is left on the '}'.
 */
static int
cfg_expand_var(struct cfg_parse *p, const char *key, const char **sp, char **out,
    size_t *len, size_t *cap)
{
	const char	*name = *sp + 2, *s = name, *def = NULL, *val;
	char		*n;

	while (isalnum((unsigned char)*s) || *s == '_')
		s++;
	if (s == name || isdigit((unsigned char)*name)) {
		cfg_fail(p, "%s: bad variable name after \"${\" (expected ${NAME} or "
		    "${NAME:-default})", key);
		return -1;
	}
	if (s[0] == ':' && s[1] == '-') {
		def = s + 2;
		s = def + strcspn(def, "}");
	}
	n = xstrndup(name, (size_t)(s - name));
	if (*s != '}') {
		cfg_fail(p, "%s: unterminated \"${%s\" (expected ${NAME} or ${NAME:-default})",
		    key, n);
		free(n);
		return -1;
	}
	if ((val = getenv(n)) != NULL && (*val != '\0' || def == NULL))
		cfg_putn(out, len, cap, val, strlen(val));
	else if (def != NULL)
		cfg_putn(out, len, cap, def, (size_t)(s - def));
	else {
		cfg_fail(p, "%s: ${%s} is not set (a default is written ${%s:-default})",
		    key, n, n);
		free(n);
		return -1;
	}
	free(n);
	*sp = s;
	return 0;
}

/*
 * ${NAME}, ${NAME:-default} and $$ (a literal '$') in a value, from the
 * environment of the process loading the file. The result is not expanded
 * again, nor is a default. Any other '$' stays as written, so a command's
 * "$HOME" still reaches its shell. NULL after cfg_fail.
 */
static char *
cfg_expand(struct cfg_parse *p, const char *key, const char *v)
{
	size_t	 len = 0, cap = strlen(v) + 32;
	char	*out = xcalloc(1, cap);

	for (const char *s = v; *s != '\0'; s++) {
		if (s[0] == '$' && s[1] == '$')
			cfg_word_putc(&out, &len, &cap, *s++);
		else if (s[0] == '$' && s[1] == '{') {
			if (cfg_expand_var(p, key, &s, &out, &len, &cap) == -1) {
				free(out);
				return NULL;
			}
		} else
			cfg_word_putc(&out, &len, &cap, *s);
	}
	return out;
}

static int cfg_parse_stream(struct cfg_parse *);

/* Whether path is one of the files being read (an include cycle). */
static int
cfg_include_cycle(const struct cfg_parse *p, const char *real)
{
	for (int i = 0; i <= p->depth; i++)
		if (strcmp(p->stack[i], real) == 0)
			return 1;
	return 0;
}

/*
 * Reads one included file right where the include line is: it starts
 * outside any section, and the including file then carries on in the
 * section it was in. Its errors name it and its own line.
 */
static int
cfg_include_file(struct cfg_parse *p, const char *path)
{
	struct cfg_parse	 saved = *p;
	struct stat		 st;
	char			*real;

	if ((real = realpath(path, NULL)) == NULL) {
		cfg_fail(p, "include: %s: %s", path, strerror(errno));
		return -1;
	}
	/* Never a device or a FIFO: opening one may act (a watchdog) or block. */
	if (stat(real, &st) == -1 || !S_ISREG(st.st_mode)) {
		cfg_fail(p, "include: %s: not a regular file", path);
		free(real);
		return -1;
	}
	if (cfg_include_cycle(p, real)) {
		cfg_fail(p, "include: %s: a cycle (the file is already being read)", path);
		free(real);
		return -1;
	}
	if (p->depth + 1 >= CFG_INCLUDE_MAX) {
		cfg_fail(p, "include: %s: nested deeper than %d files", path, CFG_INCLUDE_MAX);
		free(real);
		return -1;
	}
	if ((p->f = fopen(real, "re")) == NULL) {
		cfg_fail(p, "include: %s: %s", path, strerror(errno));
		free(real);
		return -1;
	}
	p->names = xreallocarray(p->names, (size_t)p->nnames + 1, sizeof(*p->names));
	p->names[p->nnames++] = xstrdup(path);
	p->name = p->names[p->nnames - 1];
	p->stack[++p->depth] = real;
	p->line = NULL;
	p->linecap = 0;
	p->lineno = 0;
	p->sect = SECT_NONE;
	memset(p->seen, 0, sizeof(p->seen));
	(void)cfg_parse_stream(p);
	fclose(p->f);
	free(p->line);
	free(real);
	p->depth = saved.depth;
	p->name = saved.name;
	p->f = saved.f;
	p->line = saved.line;
	p->linecap = saved.linecap;
	p->lineno = saved.lineno;
	p->sect = saved.sect;
	p->worker = saved.worker;
	memcpy(p->seen, saved.seen, sizeof(p->seen));
	return p->failed ? -1 : 0;
}

/*
 * include = PATTERN: the files matching a glob(7) pattern, relative to
 * the including file, read in sorted order. A pattern with a wildcard may
 * match nothing (an empty or missing conf.d); a plain name must exist.
 */
static int
cfg_include(struct cfg_parse *p, const char *value)
{
	char	*v = cfg_unquote(value), *dir, *pat;
	glob_t	 g;
	int	 rc;

	if (*v == '\0') {
		cfg_fail(p, "include: empty pattern");
		free(v);
		return 0;
	}
	dir = xstrdup(p->stack[p->depth]);
	pat = v[0] == '/' ? xstrdup(v) : xasprintf("%s/%s", dirname(dir), v);
	memset(&g, 0, sizeof(g));
	rc = glob(pat, 0, NULL, &g);
	if (rc == GLOB_NOMATCH && strpbrk(v, "*?[") == NULL)
		cfg_fail(p, "include: %s: %s", pat, strerror(ENOENT));
	else if (rc != 0 && rc != GLOB_NOMATCH)
		cfg_fail(p, "include: %s: cannot be read", pat);
	for (size_t i = 0; rc == 0 && i < g.gl_pathc && !p->failed; i++)
		(void)cfg_include_file(p, g.gl_pathv[i]);
	globfree(&g);
	free(pat);
	free(dir);
	free(v);
	return !p->failed;
}

static int
cfg_handler(void *arg, const char *section, const char *name, const char *value)
{
	struct cfg_parse	*p = arg;
	char			*v;
	int			 rc;

	(void)section;		/* cfg_reader tracks sections, with line numbers */
	if (p->failed || (v = cfg_expand(p, name, value)) == NULL)
		return 0;
	rc = strcmp(name, "include") == 0 ? cfg_include(p, v) : cfg_key(p, name, v);
	free(v);
	return rc;
}

/* ---- defaults, validation, load ------------------------------------------ */

void
cfg_worker_defaults(struct cfg_worker *w)
{
	cfg_rows_defaults(cfg_rows_worker, NULL, w, sizeof(*w));
}

/* query_timeout's default: the client-side deadline must outlast the
 * server's own. */
static void
cfg_query_timeout_default(struct cfg_database *d)
{
	d->query_timeout_ms = d->statement_timeout_ms == 0 ? 0 :
	    d->statement_timeout_ms + 5 * SECS;
}

void
cfg_database_defaults(struct cfg_database *d)
{
	cfg_rows_defaults(cfg_rows_database, NULL, d, sizeof(*d));
	cfg_query_timeout_default(d);
}

static void
cfg_defaults(struct cfg *cfg)
{
	cfg_rows_defaults(cfg_rows_holdfast, cfg, &cfg->holdfast, sizeof(cfg->holdfast));
	cfg_rows_defaults(cfg_rows_database, cfg, &cfg->database, sizeof(cfg->database));
	cfg_rows_defaults(cfg_rows_whatsapp, cfg, &cfg->whatsapp, sizeof(cfg->whatsapp));
}

/* The first check of a worker's own rows (CFG_CHECK) w fails, or NULL. */
static const char *
cfg_worker_check(const struct cfg_worker *w)
{
#define CFG_KEY(key, field, type, def, min, max, reload, doc)
#define CFG_CHECK(ok, why)	if (!(ok)) return why;
#include "../workers/all_keys.def"
#undef CFG_KEY
#undef CFG_CHECK
	return NULL;
}

/* sdnotify: health_http's URL (see cfg.h). */
int
cfg_health_url(const char *url, char **host, int *port, char **path)
{
	const char	*s, *end, *slash;
	long long	 n = 80;
	char		*h;
	struct in_addr	 a;

	if (strncasecmp(url, "http://", 7) != 0)
		return -1;
	s = url + 7;
	slash = s + strcspn(s, "/");
	if (*s == '[') {
		if ((end = memchr(s, ']', (size_t)(slash - s))) == NULL)
			return -1;
		h = xstrndup(s + 1, (size_t)(end - s - 1));
		end++;
	} else {
		end = s + strcspn(s, ":/");
		h = xstrndup(s, (size_t)(end - s));
	}
	if (*end == ':') {
		char *digits = xstrndup(end + 1, (size_t)(slash - end - 1));
		int bad = hf_parse_int(digits, 1, 65535, &n) == -1;

		free(digits);
		if (bad) {
			free(h);
			return -1;
		}
	} else if (end != slash) {
		free(h);
		return -1;
	}
	if (strcasecmp(h, "localhost") == 0) {
		free(h);
		h = xstrdup("127.0.0.1");
	}
	if (strcmp(h, "::1") != 0 && (inet_pton(AF_INET, h, &a) != 1 ||
	    (ntohl(a.s_addr) >> 24) != 127)) {
		free(h);
		return -1;
	}
	if (strpbrk(slash, " \t\r\n") != NULL) {
		free(h);
		return -1;
	}
	*host = h;
	*port = (int)n;
	if (path != NULL)
		*path = xstrdup(*slash != '\0' ? slash : "/");
	return 0;
}

/* sdnotify: the health check keys together; the reason, or NULL. */
static const char *
cfg_health_check(const struct cfg_worker *w)
{
	char	*host = NULL;
	int	 port;

	if (w->health_cmd != NULL && w->health_http != NULL)
		return "health_cmd and health_http: one health check per section";
	if (w->health_http != NULL &&
	    cfg_health_url(w->health_http, &host, &port, NULL) == -1)
		return "health_http: expected http://127.0.0.1[:port]/path, "
		    "http://[::1][:port]/path or http://localhost[:port]/path";
	free(host);
	if (w->health_timeout_ms > w->health_interval_ms &&
	    (w->health_cmd != NULL || w->health_http != NULL))
		return "health_timeout is greater than health_interval";
	return NULL;
}

/* ---- cfgcli: depends_on ------------------------------------------------- */

/* depends_on = a, b into w->depends: known names, not itself, no repeat. */
static int
cfg_split_depends(struct cfg_parse *p, struct cfg_worker *w)
{
	char	*copy = xstrdup(w->depends_on), *rest = copy, *tok, *end;

	while ((tok = strsep(&rest, ",")) != NULL && !p->failed) {
		tok += strspn(tok, " \t");
		end = tok + strlen(tok);
		while (end > tok && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*tok == '\0')
			continue;
		if (cfg_worker_find(p->cfg, tok) == NULL)
			cfg_fail(p, "[worker:%s] depends_on: no section [worker:%s]", w->name, tok);
		else if (strcmp(tok, w->name) == 0)
			cfg_fail(p, "[worker:%s] depends_on: names itself", w->name);
		else if (w->ndepends == CFG_DEPENDS_MAX)
			cfg_fail(p, "[worker:%s] depends_on: more than %d names", w->name,
			    CFG_DEPENDS_MAX);
		for (int i = 0; !p->failed && i < w->ndepends; i++)
			if (strcmp(w->depends[i], tok) == 0)
				cfg_fail(p, "[worker:%s] depends_on: %s named twice", w->name, tok);
		if (p->failed)
			break;
		w->depends = xreallocarray(w->depends, (size_t)w->ndepends + 1,
		    sizeof(*w->depends));
		w->depends[w->ndepends++] = xstrdup(tok);
	}
	free(copy);
	return p->failed ? -1 : 0;
}

/* Depth-first: 1 when a dependency chain from w comes back to a grey one. */
static int
cfg_depends_cycle(struct cfg *cfg, int i, char *color, int *at)
{
	const struct cfg_worker *w = &cfg->workers[i];

	color[i] = 1;
	for (int d = 0; d < w->ndepends; d++) {
		int j = (int)(cfg_worker_find(cfg, w->depends[d]) - cfg->workers);

		if (color[j] == 1 || (color[j] == 0 && cfg_depends_cycle(cfg, j, color, at))) {
			if (*at == -1)
				*at = j;
			return 1;
		}
	}
	color[i] = 2;
	return 0;
}

static int
cfg_validate_depends(struct cfg_parse *p)
{
	struct cfg	*cfg = p->cfg;
	char		*color;
	int		 at = -1, rc = 0;

	for (int i = 0; i < cfg->nworkers; i++) {
		struct cfg_worker *w = &cfg->workers[i];

		p->lineno = w->line;
		p->name = w->file;
		if (w->depends_on != NULL && cfg_split_depends(p, w) == -1)
			return -1;
	}
	color = xcalloc((size_t)cfg->nworkers + 1, 1);
	for (int i = 0; i < cfg->nworkers && rc == 0; i++)
		if (color[i] == 0 && cfg_depends_cycle(cfg, i, color, &at)) {
			p->lineno = cfg->workers[at].line;
			p->name = cfg->workers[at].file;
			cfg_fail(p, "[worker:%s] depends_on: a cycle of dependencies",
			    cfg->workers[at].name);
			rc = -1;
		}
	free(color);
	return rc;
}

/* ---- events: [event:NAME] ------------------------------------------------ */

int
cfg_event_type_ok(const char *item)
{
	static const char *const known[] = {
		"state", "exit", "start_failed", "hung", "db", "reload", "upgrade",
		"STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL",
	};

	for (size_t i = 0; i < nitems(known); i++)
		if (strcmp(item, known[i]) == 0)
			return 1;
	return 0;
}

/* Each comma-separated item of list passes ok (or names a group of cfg
 * when cfg is not NULL); NULL, or the first bad item (static). */
static const char *
cfg_event_list_bad(const char *list, const struct cfg *cfg)
{
	static char	 bad[CFG_NAME_MAX + 16];
	const char	*s = list;

	while (*s != '\0') {
		size_t	 n = strcspn(s, ",");
		char	*item = xstrndup(s, n), *t = item + strspn(item, " \t"), *c;
		int	 ok;

		t[strcspn(t, " \t")] = '\0';
		if (cfg == NULL)
			ok = cfg_event_type_ok(t);
		else {
			if ((c = strchr(t, ':')) != NULL)
				*c = '\0';
			ok = cfg_worker_find(cfg, t) != NULL;
		}
		if (!ok) {
			snprintf(bad, sizeof(bad), "%.*s", CFG_NAME_MAX, t);
			free(item);
			return bad;
		}
		free(item);
		s += n + (s[n] == ',');
	}
	return NULL;
}

static int
cfg_validate_events(struct cfg_parse *p)
{
	char		 why[CFG_ERRLEN];
	char		**argv = NULL;
	const char	*bad;

	for (int i = 0; i < p->cfg->nevents; i++) {
		const struct cfg_event *e = &p->cfg->events[i];

		p->lineno = e->line;
		p->name = e->file;
		if (e->command == NULL)
			cfg_fail(p, "[event:%s] has no command", e->name);
		else if (cfg_split_command(e->command, &argv, why, sizeof(why)) <= 0)
			cfg_fail(p, "[event:%s] command: %s", e->name,
			    argv == NULL ? why : "empty command");
		else if ((bad = cfg_event_list_bad(e->events, NULL)) != NULL)
			cfg_fail(p, "[event:%s] events: unknown event \"%s\" (state, exit, "
			    "start_failed, hung, db, reload, upgrade, or a state such as "
			    "FATAL)", e->name, bad);
		else if ((bad = cfg_event_list_bad(e->workers, p->cfg)) != NULL)
			cfg_fail(p, "[event:%s] workers: no [worker:%s] section", e->name, bad);
		cfg_free_argv(argv);
		argv = NULL;
		if (p->failed)
			return -1;
	}
	return 0;
}

/* Checks that span keys; p->lineno is pointed at the section concerned. */
static int
cfg_validate(struct cfg_parse *p)
{
	struct cfg		*cfg = p->cfg;
	struct cfg_database	*d = &cfg->database;
	const char		*why;

	if (!p->query_timeout_set)
		cfg_query_timeout_default(d);
	p->lineno = p->sect_line[SECT_DATABASE];
	if (p->sect_file[SECT_DATABASE] != NULL)
		p->name = p->sect_file[SECT_DATABASE];
	if (d->backoff_initial_ms > d->backoff_max_ms) {
		cfg_fail(p, "[database] backoff_initial is greater than backoff_max");
		return -1;
	}
	for (int i = 0; i < cfg->nworkers; i++) {
		struct cfg_worker *w = &cfg->workers[i];

		p->lineno = w->line;
		p->name = w->file;
		if (w->argv == NULL)
			cfg_fail(p, "[worker:%s] has no command", w->name);
		else if (w->backoff_initial_ms > w->backoff_max_ms)
			cfg_fail(p, "[worker:%s] backoff_initial is greater than backoff_max",
			    w->name);
		else if ((why = cfg_worker_check(w)) != NULL)
			cfg_fail(p, "[worker:%s] %s", w->name, why);
		else if (w->listen_reuseport && w->listen.type != SOCK_STREAM)
			cfg_fail(p, "[worker:%s] listen_reuseport needs a TCP listen address",
			    w->name);
		else if ((why = cfg_health_check(w)) != NULL)	/* sdnotify */
			cfg_fail(p, "[worker:%s] %s", w->name, why);
		if (p->failed)
			return -1;
	}
	if (cfg_validate_depends(p) == -1)
		return -1;
	return cfg_validate_events(p);	/* events */
}

/* Absolute path of the file and its directory; -1 with the reason. */
static int
cfg_locate(struct cfg_parse *p, const char *path)
{
	char	*abs, *dircopy;

	if ((abs = realpath(path, NULL)) == NULL) {
		cfg_fail(p, "%s", strerror(errno));
		return -1;
	}
	dircopy = xstrdup(abs);
	p->cfg->path = abs;
	p->cfg->dir = xstrdup(dirname(dircopy));
	free(dircopy);
	return 0;
}

/* inih over the open p->f (the main file or an included one). */
static int
cfg_parse_stream(struct cfg_parse *p)
{
	int	rc;

	/* This Debian inih sizes its line buffer (a VLA) from ini_max_line. */
	ini_max_line = CFG_MAX_LINE;
	rc = ini_parse_stream(cfg_reader, p, cfg_handler, p);
	if (!p->failed && ferror(p->f)) {
		p->lineno = 0;
		cfg_fail(p, "read: %s", strerror(errno));
	}
	if (!p->failed && rc > 0) {
		p->lineno = rc;
		cfg_fail(p, "syntax error (expected \"key = value\", \"[section]\" "
		    "or a comment)");
	} else if (!p->failed && rc < 0) {
		p->lineno = 0;
		cfg_fail(p, "parse failed (inih error %d)", rc);
	}
	return p->failed ? -1 : 0;
}

static int
cfg_parse_file(struct cfg_parse *p)
{
	if ((p->f = fopen(p->cfg->path, "re")) == NULL) {
		cfg_fail(p, "%s", strerror(errno));
		return -1;
	}
	p->stack[0] = p->cfg->path;
	(void)cfg_parse_stream(p);
	fclose(p->f);
	free(p->line);
	return p->failed ? -1 : 0;
}

/* The included files' names (the sections' messages are done with them). */
static void
cfg_load_done(struct cfg_parse *p)
{
	for (int i = 0; i < p->nnames; i++)
		free(p->names[i]);
	free(p->names);
}

struct cfg *
cfg_load(const char *path, char *err, size_t errlen)
{
	struct cfg_parse	p;
	char			dummy[CFG_ERRLEN];

	memset(&p, 0, sizeof(p));
	p.name = path;
	p.err = err != NULL && errlen > 0 ? err : dummy;
	p.errlen = err != NULL && errlen > 0 ? errlen : sizeof(dummy);
	p.cfg = xcalloc(1, sizeof(*p.cfg));
	if (cfg_locate(&p, path) == -1) {
		cfg_free(p.cfg);
		return NULL;
	}
	cfg_defaults(p.cfg);
	if (cfg_parse_file(&p) == -1 || cfg_validate(&p) == -1) {
		cfg_load_done(&p);
		cfg_free(p.cfg);
		return NULL;
	}
	cfg_load_done(&p);
	return p.cfg;
}

/* Frees what the rows' values hold in base, a struct of their section
 * (w is used only for the types that exist in the worker rows alone). */
static void
cfg_rows_free(const struct cfg_row *rows, void *base)
{
	struct cfg_worker	*w = base;

	for (const struct cfg_row *k = rows; k->name != NULL; k++)
		switch (k->type) {
		case CFG_T_STR: case CFG_T_STR_OPT: case CFG_T_PATH: case CFG_T_PATH_OPT:
			free(*(char **)(void *)((char *)base + k->off));
			break;
		case CFG_T_COMMAND:
			cfg_free_argv(w->argv);
			break;
		case CFG_T_ENV:
			cfg_env_free(w->env, w->nenv);
			break;
		case CFG_T_LISTEN:
			cfg_listen_clear((struct cfg_listen *)(void *)((char *)base + k->off));
			break;
		default:
			break;
		}
}

void
cfg_free(struct cfg *cfg)
{
	if (cfg == NULL)
		return;
	cfg_rows_free(cfg_rows_holdfast, &cfg->holdfast);
	cfg_rows_free(cfg_rows_database, &cfg->database);
	cfg_rows_free(cfg_rows_whatsapp, &cfg->whatsapp);
	for (int i = 0; i < cfg->nworkers; i++) {
		free(cfg->workers[i].name);
		free(cfg->workers[i].file);
		for (int d = 0; d < cfg->workers[i].ndepends; d++)
			free(cfg->workers[i].depends[d]);
		free(cfg->workers[i].depends);
		cfg_rows_free(cfg_rows_worker, &cfg->workers[i]);
	}
	free(cfg->workers);
	for (int i = 0; i < cfg->nevents; i++) {	/* events */
		free(cfg->events[i].name);
		free(cfg->events[i].file);
		cfg_rows_free(cfg_rows_event, &cfg->events[i]);
	}
	free(cfg->events);
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
}

const struct cfg_worker *
cfg_worker_find(const struct cfg *cfg, const char *name)
{
	if (cfg == NULL || name == NULL)
		return NULL;
	for (int i = 0; i < cfg->nworkers; i++)
		if (strcmp(cfg->workers[i].name, name) == 0)
			return &cfg->workers[i];
	return NULL;
}

/* ---- comparison (SIGHUP) ----------------------------------------------- */

static int
cfg_str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
cfg_special_eq(const struct cfg_row *k, const struct cfg_worker *a,
    const struct cfg_worker *b)
{
	switch (k->type) {
	case CFG_T_COMMAND:
		if (a->argc != b->argc)
			return 0;
		for (int i = 0; i < a->argc; i++)
			if (strcmp(a->argv[i], b->argv[i]) != 0)
				return 0;
		return 1;
	case CFG_T_LISTEN: {
		const struct cfg_listen *la = (const void *)((const char *)a + k->off);
		const struct cfg_listen *lb = (const void *)((const char *)b + k->off);

		return la->type == lb->type && cfg_str_eq(la->host, lb->host) &&
		    cfg_str_eq(la->port, lb->port);
	}
	case CFG_T_EXITCODES:
		return a->nexitcodes == b->nexitcodes && memcmp(a->exitcodes,
		    b->exitcodes, sizeof(a->exitcodes[0]) * (size_t)a->nexitcodes) == 0;
	default:	/* CFG_T_ENV */
		if (a->nenv != b->nenv)
			return 0;
		for (int i = 0; i < a->nenv; i++)
			if (strcmp(a->env[i].name, b->env[i].name) != 0 ||
			    strcmp(a->env[i].value, b->env[i].value) != 0)
				return 0;
		return 1;
	}
}

/* One key's field in two structs of its section; a, b are the structs. */
static int
cfg_key_equal(const struct cfg_row *k, const void *a, const void *b)
{
	const char *fa = (const char *)a + k->off, *fb = (const char *)b + k->off;

	switch (k->type) {
	case CFG_T_STR: case CFG_T_STR_OPT: case CFG_T_PATH: case CFG_T_PATH_OPT:
		return cfg_str_eq(*(char *const *)fa, *(char *const *)fb);
	case CFG_T_DUR: case CFG_T_SIZE:
		return *(const int64_t *)fa == *(const int64_t *)fb;
	case CFG_T_INT: case CFG_T_BOOL: case CFG_T_LOGLEVEL: case CFG_T_SIGNAL: case CFG_T_RESTART:
	case CFG_T_RMODE: case CFG_T_ROTATE: case CFG_T_NOTIFY: case CFG_T_HMODE:
		return *(const int *)fa == *(const int *)fb;
	case CFG_T_PERCENT: case CFG_T_MODE:	/* limits */
		return *(const int *)fa == *(const int *)fb;
	case CFG_T_RLIM:
		return *(const int64_t *)fa == *(const int64_t *)fb;
	default:	/* the worker table's special types, and LISTEN */
		return cfg_special_eq(k, a, b);
	}
}

/* Compares every field a key of the worker table sets, by the key's type. */
int
cfg_worker_equal(const struct cfg_worker *a, const struct cfg_worker *b)
{
	if (!cfg_str_eq(a->name, b->name))
		return 0;
	for (const struct cfg_row *k = cfg_rows_worker; k->name != NULL; k++)
		if (!cfg_key_equal(k, a, b))
			return 0;
	return 1;
}

int
cfg_worker_diff(const struct cfg_worker *a, const struct cfg_worker *b,
    const char **keys, int max)
{
	int n = 0;

	for (const struct cfg_row *k = cfg_rows_worker; k->name != NULL; k++)
		if (!cfg_key_equal(k, a, b)) {
			if (n < max)
				keys[n] = k->name;
			n++;
		}
	return n;
}

int
cfg_section_diff(const struct cfg *a, const struct cfg *b, const char *section,
    const char **keys, int max)
{
	const struct cfg_row	*k = cfg_rows(section);
	const void		*sa, *sb;
	int			 n = 0;

	if (strcmp(section, "holdfast") == 0) {
		sa = &a->holdfast;
		sb = &b->holdfast;
	} else if (strcmp(section, "database") == 0) {
		sa = &a->database;
		sb = &b->database;
	} else if (strcmp(section, "whatsapp") == 0) {
		sa = &a->whatsapp;
		sb = &b->whatsapp;
	} else
		return 0;
	for (; k->name != NULL; k++)
		if (!cfg_key_equal(k, sa, sb)) {
			if (n < max)
				keys[n] = k->name;
			n++;
		}
	return n;
}

/* ---- rows ---------------------------------------------------------------- */

const struct cfg_row *
cfg_rows(const char *section)
{
	for (int s = SECT_HOLDFAST; s <= SECT_EVENT; s++)
		if (section != NULL && strcmp(section, cfg_sect_names[s]) == 0)
			return cfg_tables[s];
	return NULL;
}

const struct cfg_row *
cfg_row_find(const char *section, const char *key)
{
	const struct cfg_row *k = cfg_rows(section);

	for (; k != NULL && k->name != NULL; k++)
		if (strcmp(k->name, key) == 0)
			return k;
	return NULL;
}

/* ---- workers ------------------------------------------------------------- */

/*
 * An explicit -c wins (someone asked for that file), then HOLDFAST_CONFIG
 * (set by holdfastd), then the installed default.
 */
struct cfg *
cfg_load_for_worker(const char *cli_path, char *err, size_t errlen)
{
	const char	*path = cli_path;

	if (path == NULL || *path == '\0')
		path = getenv("HOLDFAST_CONFIG");
	if (path == NULL || *path == '\0')
		path = SYSCONFDIR "/holdfast.conf";
	return cfg_load(path, err, errlen);
}

/*
 * "http:1" -> [worker:http]. A NULL instance means $HOLDFAST_INSTANCE; when
 * that is unset or empty too, default_name is the section.
 */
const struct cfg_worker *
cfg_worker_for_instance(const struct cfg *cfg, const char *instance,
    const char *default_name)
{
	const struct cfg_worker	*w;
	char			*name;

	if (instance == NULL)
		instance = getenv("HOLDFAST_INSTANCE");
	if (instance == NULL || *instance == '\0')
		return cfg_worker_find(cfg, default_name);
	name = xstrndup(instance, strcspn(instance, ":"));
	w = cfg_worker_find(cfg, name);
	free(name);
	return w;
}
