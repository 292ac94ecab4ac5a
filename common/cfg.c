/*
 * cfg: the one INI file, read with libinih into the plain structs of
 * cfg.h.
 *
 * Every key of every section is a row in a table below (name, type, where
 * it is stored, allowed range). The same tables drive parsing, duplicate
 * detection and cfg_worker_equal(), so a key added to a table is parsed,
 * checked and diffed on SIGHUP without further code.
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

#include <ini.h>

#include "cfg.h"
#include "log.h"
#include "util.h"

#define CFG_MAX_LINE	4096	/* longest line accepted, in bytes */
#define CFG_MAX_KEYS	64	/* keys per section table */
#define CFG_NAME_MAX	64	/* longest worker name */

enum cfg_sect { SECT_NONE = 0, SECT_HOLDFAST, SECT_DATABASE, SECT_WHATSAPP, SECT_WORKER };

enum cfg_type {
	T_STR,		/* any text, "" allowed */
	T_STR_OPT,	/* "" means unset (NULL) */
	T_PATH,		/* required; relative to the file's directory */
	T_PATH_OPT,	/* "" means unset (NULL) */
	T_INT,		/* int in [min, max] */
	T_BOOL,		/* int 0/1 */
	T_DUR,		/* int64 milliseconds in [min, max] */
	T_SIZE,		/* int64 bytes in [min, max]; K/M/G suffixes */
	T_LOGLEVEL,	/* int LOG_LVL_* */
	T_SIGNAL,	/* int signal number */
	T_RESTART,	/* int enum cfg_autorestart */
	T_RMODE,	/* int enum cfg_restart_mode */
	T_COMMAND,	/* argv/argc of struct cfg_worker */
	T_LISTEN,	/* struct cfg_listen */
	T_EXITCODES,	/* exitcodes/nexitcodes of struct cfg_worker */
	T_ENV,		/* env/nenv of struct cfg_worker */
};

struct cfg_key {
	const char	*k_name;
	enum cfg_type	 k_type;
	size_t		 k_off;
	long long	 k_min, k_max;
};

#define KIB	1024LL
#define MIB	(1024LL * KIB)
#define GIB	(1024LL * MIB)
#define SECS	1000LL
#define MINS	(60 * SECS)
#define HOURS	(60 * MINS)
#define DAYS	(24 * HOURS)

#define H(name, type, field, min, max) \
	{ name, type, offsetof(struct cfg_holdfast, field), min, max }
static const struct cfg_key cfg_keys_holdfast[] = {
	H("control_socket",	T_PATH,		control_socket, 0, 0),
	H("socket_group",	T_STR_OPT,	socket_group, 0, 0),
	H("state_dir",		T_PATH,		state_dir, 0, 0),
	H("log_dir",		T_PATH,		log_dir, 0, 0),
	H("log_level",		T_LOGLEVEL,	log_level, 0, 0),
	H("tail_lines",		T_INT,		tail_lines, 0, 1000000),
	H("shutdown_timeout",	T_DUR,		shutdown_timeout_ms, 0, HOURS),
	/* ops: holdfastd's own log file */
	H("log_file",		T_PATH_OPT,	log_file, 0, 0),
	{ NULL, 0, 0, 0, 0 }
};
#undef H

#define D(name, type, field, min, max) \
	{ name, type, offsetof(struct cfg_database, field), min, max }
static const struct cfg_key cfg_keys_database[] = {
	D("conninfo",		T_STR,	conninfo, 0, 0),
	D("pool_size",		T_INT,	pool_size, 1, 1000),
	D("statement_timeout",	T_DUR,	statement_timeout_ms, 0, DAYS),
	D("connect_timeout",	T_DUR,	connect_timeout_ms, 1, HOURS),
	D("query_timeout",	T_DUR,	query_timeout_ms, 0, DAYS),
	D("pool_recycle",	T_DUR,	pool_recycle_ms, 0, DAYS),
	D("pre_ping_after",	T_DUR,	pre_ping_after_ms, 0, DAYS),
	D("backoff_initial",	T_DUR,	backoff_initial_ms, 1, HOURS),
	D("backoff_max",	T_DUR,	backoff_max_ms, 1, DAYS),
	D("probe_min_interval",	T_DUR,	probe_min_interval_ms, 0, HOURS),
	D("keepalives_idle",	T_DUR,	keepalives_idle_ms, 0, HOURS),
	D("tcp_user_timeout",	T_DUR,	tcp_user_timeout_ms, 0, HOURS),
	D("lock_timeout",	T_DUR,	lock_timeout_ms, 0, DAYS),
	D("idle_in_transaction_timeout", T_DUR, idle_in_transaction_timeout_ms, 0, DAYS),
	D("auto_migrate",	T_BOOL,	auto_migrate, 0, 0),
	{ NULL, 0, 0, 0, 0 }
};
#undef D

#define W(name, type, field, min, max) \
	{ name, type, offsetof(struct cfg_whatsapp, field), min, max }
static const struct cfg_key cfg_keys_whatsapp[] = {
	W("verify_token",	T_STR,	verify_token, 0, 0),
	W("app_secret",		T_STR,	app_secret, 0, 0),
	W("access_token",	T_STR,	access_token, 0, 0),
	W("graph_api_url",	T_STR,	graph_api_url, 0, 0),
	W("api_version",	T_STR,	api_version, 0, 0),
	W("session_idle_timeout", T_DUR, session_idle_timeout_ms, 1, 30 * DAYS),
	W("poll_interval",	T_DUR,	poll_interval_ms, 1, HOURS),
	W("auto_reply",		T_STR,	auto_reply, 0, 0),
	W("send_max_attempts",	T_INT,	send_max_attempts, 1, 1000),
	W("send_timeout",	T_DUR,	send_timeout_ms, 1, HOURS),
	W("batch_size",		T_INT,	batch_size, 1, 100000),
	{ NULL, 0, 0, 0, 0 }
};
#undef W

#define P(name, type, field, min, max) \
	{ name, type, offsetof(struct cfg_worker, field), min, max }
static const struct cfg_key cfg_keys_worker[] = {
	P("command",		T_COMMAND,	argv, 0, 0),
	P("numprocs",		T_INT,		numprocs, 1, 256),
	P("autostart",		T_BOOL,		autostart, 0, 0),
	P("autorestart",	T_RESTART,	autorestart, 0, 0),
	P("exitcodes",		T_EXITCODES,	exitcodes, 0, 255),
	P("startsecs",		T_DUR,		startsecs_ms, 0, HOURS),
	P("startretries",	T_INT,		startretries, 0, 1000),
	P("start_timeout",	T_DUR,		start_timeout_ms, 0, DAYS),
	P("backoff_initial",	T_DUR,		backoff_initial_ms, 1, HOURS),
	P("backoff_max",	T_DUR,		backoff_max_ms, 1, DAYS),
	P("backoff_reset",	T_DUR,		backoff_reset_ms, 0, DAYS),
	P("stopsignal",		T_SIGNAL,	stopsignal, 0, 0),
	P("stopwaitsecs",	T_DUR,		stopwaitsecs_ms, 0, HOURS),
	P("heartbeat_timeout",	T_DUR,		heartbeat_timeout_ms, 0, HOURS),
	P("priority",		T_INT,		priority, 0, 1000000),
	P("environment",	T_ENV,		env, 0, 0),
	P("directory",		T_PATH_OPT,	directory, 0, 0),
	P("user",		T_STR_OPT,	user, 0, 0),
	P("listen",		T_LISTEN,	listen, 0, 0),
	P("listen_reuseport",	T_BOOL,		listen_reuseport, 0, 0),
	/* ops: restarts */
	P("restart_mode",	T_RMODE,	restart_mode, 0, 0),
	P("stdout_logfile",	T_PATH_OPT,	stdout_logfile, 0, 0),
	P("stderr_logfile",	T_PATH_OPT,	stderr_logfile, 0, 0),
	P("logfile_maxbytes",	T_SIZE,		logfile_maxbytes, 0, 1024 * GIB),
	P("logfile_backups",	T_INT,		logfile_backups, 0, 1000),
	P("max_body",		T_SIZE,		max_body, 1, GIB),
	P("max_webhook_body",	T_SIZE,		max_webhook_body, 1, GIB),
	P("max_header_size",	T_SIZE,		max_header_size, 256, 16 * MIB),
	P("request_timeout",	T_DUR,		request_timeout_ms, 1, HOURS),
	P("max_connections",	T_INT,		max_connections, 1, 1000000),
	P("token_ttl",		T_DUR,		token_ttl_ms, 1, 365 * DAYS),
	P("token_cache_ttl",	T_DUR,		token_cache_ttl_ms, 0, HOURS),
	P("login_rate",		T_INT,		login_rate, 0, 1000000),
	/* holdfast-http: the http edge */
	P("header_timeout",	T_DUR,		header_timeout_ms, 1, HOURS),
	P("keepalive_timeout",	T_DUR,		keepalive_timeout_ms, 1, HOURS),
	P("max_connections_per_addr", T_INT,	max_connections_per_addr, 1, 1000000),
	P("max_body_memory",	T_SIZE,		max_body_memory, 1, 64 * GIB),
	/* holdfast-http, DB freeze */
	P("db_request_timeout",	T_DUR,		db_request_timeout_ms, 0, HOURS),
	P("answer_after",	T_DUR,		answer_after_ms, 0, HOURS),
	P("max_calls",		T_INT,		max_calls, 1, 10000000),
	P("rtp_port_min",	T_INT,		rtp_port_min, 1, 65535),
	P("rtp_port_max",	T_INT,		rtp_port_max, 1, 65535),
	P("sip_t1",		T_DUR,		sip_t1_ms, 1, MINS),
	P("cdr_batch",		T_INT,		cdr_batch, 1, 100000),
	P("cdr_flush",		T_DUR,		cdr_flush_ms, 1, HOURS),
	/* holdfast-telephony: the SIP edge against hostile traffic */
	P("sip_source_rate",	T_INT,		sip_source_rate, 1, 1000000),
	/* holdfast-telephony: dialogs restored after a crash */
	P("dialog_restore_max",	T_DUR,		dialog_restore_max_ms, 1, 30 * DAYS),
	{ NULL, 0, 0, 0, 0 }
};
#undef P

static const struct cfg_key *const cfg_tables[] = {
	[SECT_HOLDFAST] = cfg_keys_holdfast,
	[SECT_DATABASE] = cfg_keys_database,
	[SECT_WHATSAPP] = cfg_keys_whatsapp,
	[SECT_WORKER] = cfg_keys_worker,
};

static const char *const cfg_sect_names[] = {
	[SECT_HOLDFAST] = "holdfast",
	[SECT_DATABASE] = "database",
	[SECT_WHATSAPP] = "whatsapp",
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

/* "64K", "4MiB", "1g", "512" -> bytes; 0 or -1. */
static int
cfg_parse_size(const char *s, int64_t *out)
{
	static const struct { const char *suffix; int64_t mult; } units[] = {
		{ "", 1 }, { "b", 1 },
		{ "k", KIB }, { "kb", KIB }, { "kib", KIB },
		{ "m", MIB }, { "mb", MIB }, { "mib", MIB },
		{ "g", GIB }, { "gb", GIB }, { "gib", GIB },
	};
	char		*end;
	long long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return -1;
	for (size_t i = 0; i < nitems(units); i++) {
		if (strcasecmp(end, units[i].suffix) != 0)
			continue;
		if (v > INT64_MAX / units[i].mult)
			return -1;
		*out = v * units[i].mult;
		return 0;
	}
	return -1;
}

int
cfg_signal_parse(const char *s)
{
	long long	n;

	if (s == NULL)
		return -1;
	if (parse_int(s, 1, NSIG - 1, &n) == 0)
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
	    parse_int(colon + 1, 1, 65535, &port) == -1 || !isdigit((unsigned char)colon[1])) {
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
		if (n == (int)nitems(w->exitcodes) || parse_int(tok, 0, 255, &v) == -1) {
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

static int
cfg_set_string(struct cfg_parse *p, const struct cfg_key *k, char **field,
    const char *value)
{
	char	*v = cfg_unquote(value);

	if (*v == '\0' && k->k_type == T_PATH) {
		cfg_fail(p, "%s: empty path", k->k_name);
		free(v);
		return -1;
	}
	free(*field);
	if (*v == '\0' && k->k_type != T_STR)
		*field = NULL;
	else if (k->k_type == T_PATH || k->k_type == T_PATH_OPT)
		*field = cfg_resolve(p->cfg, v);
	else
		*field = xstrdup(v);
	free(v);
	return 0;
}

static int
cfg_set_number(struct cfg_parse *p, const struct cfg_key *k, void *field,
    const char *v)
{
	long long	n;
	int64_t		ms;

	switch (k->k_type) {
	case T_INT:
		if (parse_int(v, k->k_min, k->k_max, &n) == -1) {
			cfg_fail(p, "%s: bad value \"%s\" (expected an integer in %lld..%lld)",
			    k->k_name, v, k->k_min, k->k_max);
			return -1;
		}
		*(int *)field = (int)n;
		return 0;
	case T_DUR:
		if (parse_duration_ms(v, &ms) == -1 || ms < k->k_min || ms > k->k_max) {
			cfg_fail(p, "%s: bad duration \"%s\" (expected e.g. 500ms, 5s, 2m, 1h; "
			    "%lldms..%lldms)", k->k_name, v, k->k_min, k->k_max);
			return -1;
		}
		*(int64_t *)field = ms;
		return 0;
	default:	/* T_SIZE */
		if (cfg_parse_size(v, &ms) == -1 || ms < k->k_min || ms > k->k_max) {
			cfg_fail(p, "%s: bad size \"%s\" (expected bytes or K, M, G; %lld..%lld)",
			    k->k_name, v, k->k_min, k->k_max);
			return -1;
		}
		*(int64_t *)field = ms;
		return 0;
	}
}

static int
cfg_set_enum(struct cfg_parse *p, const struct cfg_key *k, int *field, const char *v)
{
	int	n;

	switch (k->k_type) {
	case T_BOOL:
		n = parse_bool(v);
		break;
	case T_LOGLEVEL:
		n = log_level_parse(v);
		break;
	case T_SIGNAL:
		n = cfg_signal_parse(v);
		break;
	case T_RMODE:
		n = strcasecmp(v, "surge") == 0 ? CFG_RMODE_SURGE :
		    strcasecmp(v, "stop-first") == 0 ? CFG_RMODE_STOP_FIRST :
		    strcasecmp(v, "auto") == 0 ? CFG_RMODE_AUTO : -1;
		break;
	default:	/* T_RESTART */
		n = strcasecmp(v, "unexpected") == 0 ? CFG_RESTART_UNEXPECTED :
		    parse_bool(v) == 1 ? CFG_RESTART_ALWAYS :
		    parse_bool(v) == 0 ? CFG_RESTART_NEVER : -1;
		break;
	}
	if (n == -1) {
		cfg_fail(p, "%s: bad value \"%s\" (expected %s)", k->k_name, v,
		    k->k_type == T_BOOL ? "true or false" :
		    k->k_type == T_LOGLEVEL ? "error, warn, info or debug" :
		    k->k_type == T_SIGNAL ? "a signal name such as TERM, or a number" :
		    k->k_type == T_RMODE ? "surge, stop-first or auto" :
		    "true, false or unexpected");
		return -1;
	}
	*field = n;
	return 0;
}

/* The keys that fill more than one field of struct cfg_worker. */
static int
cfg_set_worker_special(struct cfg_parse *p, const struct cfg_key *k,
    struct cfg_worker *w, const char *v)
{
	char		 why[CFG_ERRLEN];
	const char	*reason = NULL;
	char	       **argv;
	int		 argc;

	switch (k->k_type) {
	case T_COMMAND:
		if ((argc = cfg_split_command(v, &argv, why, sizeof(why))) <= 0) {
			cfg_fail(p, "command: %s", argc == 0 ? "empty command" : why);
			cfg_free_argv(argv);
			return -1;
		}
		cfg_free_argv(w->argv);
		w->argv = argv;
		w->argc = argc;
		return 0;
	case T_LISTEN:
		cfg_listen_clear(&w->listen);
		if (*v == '\0' || cfg_parse_listen(v, &w->listen, &reason) == 0)
			return 0;
		cfg_fail(p, "listen: bad address \"%s\" (%s)", v, reason);
		return -1;
	case T_EXITCODES:
		if (cfg_parse_exitcodes(v, w) == 0)
			return 0;
		cfg_fail(p, "exitcodes: bad value \"%s\" (expected up to %zu codes "
		    "in 0..255, comma-separated)", v, nitems(w->exitcodes));
		return -1;
	default:	/* T_ENV */
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
	default: return NULL;
	}
}

static int
cfg_set(struct cfg_parse *p, const struct cfg_key *k, const char *value)
{
	void	*base = cfg_sect_base(p), *field = (char *)base + k->k_off;

	switch (k->k_type) {
	case T_STR: case T_STR_OPT: case T_PATH: case T_PATH_OPT:
		return cfg_set_string(p, k, field, value);
	case T_INT: case T_DUR: case T_SIZE:
		return cfg_set_number(p, k, field, value);
	case T_BOOL: case T_LOGLEVEL: case T_SIGNAL: case T_RESTART: case T_RMODE:
		return cfg_set_enum(p, k, field, value);
	default:
		return cfg_set_worker_special(p, k, base, value);
	}
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
		cfg_fail(p, "duplicate section [worker:%s] (first at line %d)", name, old->line);
		return -1;
	}
	cfg->workers = xreallocarray(cfg->workers, (size_t)cfg->nworkers + 1,
	    sizeof(*cfg->workers));
	w = &cfg->workers[cfg->nworkers];
	cfg_worker_defaults(w);
	w->name = xstrdup(name);
	w->line = p->lineno;
	p->worker = cfg->nworkers++;
	p->sect = SECT_WORKER;
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
	for (s = SECT_HOLDFAST; s < SECT_WORKER; s++)
		if (strcmp(name, cfg_sect_names[s]) == 0)
			break;
	if (s == SECT_WORKER) {
		cfg_fail(p, "unknown section [%s]", name);
		rc = -1;
	} else if (p->sect_line[s] != 0) {
		cfg_fail(p, "duplicate section [%s] (first at line %d)", name, p->sect_line[s]);
		rc = -1;
	} else {
		p->sect_line[s] = p->lineno;
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

static int
cfg_handler(void *arg, const char *section, const char *name, const char *value)
{
	struct cfg_parse	*p = arg;
	const struct cfg_key	*keys, *k;
	int			 i;

	(void)section;		/* cfg_reader tracks sections, with line numbers */
	if (p->failed)
		return 0;
	if (p->sect == SECT_NONE) {
		cfg_fail(p, "key \"%s\" outside any section", name);
		return 0;
	}
	keys = cfg_tables[p->sect];
	for (i = 0, k = keys; k->k_name != NULL; k++, i++)
		if (strcmp(k->k_name, name) == 0)
			break;
	if (k->k_name == NULL) {
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
	return cfg_set(p, k, value) == 0;
}

/* ---- defaults, validation, load ------------------------------------------ */

void
cfg_worker_defaults(struct cfg_worker *w)
{
	memset(w, 0, sizeof(*w));
	w->numprocs = 1;
	w->autostart = 1;
	w->autorestart = CFG_RESTART_ALWAYS;
	w->exitcodes[0] = 0;
	w->nexitcodes = 1;
	w->startsecs_ms = 1 * SECS;
	w->startretries = 5;
	w->start_timeout_ms = 30 * SECS;
	w->backoff_initial_ms = 100;
	w->backoff_max_ms = 30 * SECS;
	w->backoff_reset_ms = 60 * SECS;
	w->stopsignal = SIGTERM;
	w->stopwaitsecs_ms = 10 * SECS;
	w->heartbeat_timeout_ms = 10 * SECS;
	w->priority = 999;
	w->logfile_maxbytes = 10 * MIB;
	w->logfile_backups = 5;
	w->max_body = 64 * KIB;
	w->max_webhook_body = 4 * MIB;
	w->max_header_size = 8 * KIB;
	w->request_timeout_ms = 30 * SECS;
	w->max_connections = 1024;
	w->token_ttl_ms = 24 * HOURS;
	w->token_cache_ttl_ms = 5 * SECS;
	w->login_rate = 30;
	/* holdfast-http: the http edge */
	w->header_timeout_ms = 10 * SECS;
	w->keepalive_timeout_ms = 15 * SECS;
	w->max_connections_per_addr = 256;
	w->max_body_memory = 16 * MIB;
	/* holdfast-http, DB freeze */
	w->db_request_timeout_ms = 2 * SECS;
	w->answer_after_ms = 0;
	w->max_calls = 10000;
	w->rtp_port_min = 40000;
	w->rtp_port_max = 49999;
	w->sip_t1_ms = 500;
	w->cdr_batch = 200;
	w->cdr_flush_ms = 100;
	/* holdfast-telephony: the SIP edge against hostile traffic */
	w->sip_source_rate = 1000;
	/* holdfast-telephony: dialogs restored after a crash */
	w->dialog_restore_max_ms = HOURS;
}

static void
cfg_defaults(struct cfg *cfg)
{
	struct cfg_holdfast	*h = &cfg->holdfast;
	struct cfg_database	*d = &cfg->database;
	struct cfg_whatsapp	*wa = &cfg->whatsapp;

	h->control_socket = cfg_resolve(cfg, "run/holdfast.sock");
	h->state_dir = cfg_resolve(cfg, "var/lib");
	h->log_dir = cfg_resolve(cfg, "var/log");
	h->log_level = LOG_LVL_INFO;
	h->tail_lines = 1000;
	h->shutdown_timeout_ms = 30 * SECS;

	d->conninfo = xstrdup("dbname=holdfast");
	d->pool_size = 4;
	d->statement_timeout_ms = 30 * SECS;
	d->connect_timeout_ms = 5 * SECS;
	d->pool_recycle_ms = 300 * SECS;
	d->pre_ping_after_ms = 30 * SECS;
	d->backoff_initial_ms = 1 * SECS;
	d->backoff_max_ms = 16 * SECS;
	d->probe_min_interval_ms = 250;
	d->keepalives_idle_ms = 10 * SECS;
	d->tcp_user_timeout_ms = 10 * SECS;
	d->lock_timeout_ms = 10 * SECS;
	d->idle_in_transaction_timeout_ms = 60 * SECS;
	d->auto_migrate = 1;

	wa->verify_token = xstrdup("");
	wa->app_secret = xstrdup("");
	wa->access_token = xstrdup("");
	wa->graph_api_url = xstrdup("https://graph.facebook.com");
	wa->api_version = xstrdup("v21.0");
	wa->session_idle_timeout_ms = 30 * MINS;
	wa->poll_interval_ms = 5 * SECS;
	wa->auto_reply = xstrdup("Thanks for your message. We will get back to you shortly.");
	wa->send_max_attempts = 8;
	wa->send_timeout_ms = 10 * SECS;
	wa->batch_size = 100;
}

/* Checks that span keys; p->lineno is pointed at the section concerned. */
static int
cfg_validate(struct cfg_parse *p)
{
	struct cfg		*cfg = p->cfg;
	struct cfg_database	*d = &cfg->database;

	/* The client-side deadline must outlast the server's own. */
	if (!p->query_timeout_set)
		d->query_timeout_ms = d->statement_timeout_ms == 0 ? 0 :
		    d->statement_timeout_ms + 5 * SECS;
	p->lineno = p->sect_line[SECT_DATABASE];
	if (d->backoff_initial_ms > d->backoff_max_ms) {
		cfg_fail(p, "[database] backoff_initial is greater than backoff_max");
		return -1;
	}
	for (int i = 0; i < cfg->nworkers; i++) {
		struct cfg_worker *w = &cfg->workers[i];

		p->lineno = w->line;
		if (w->argv == NULL)
			cfg_fail(p, "[worker:%s] has no command", w->name);
		else if (w->backoff_initial_ms > w->backoff_max_ms)
			cfg_fail(p, "[worker:%s] backoff_initial is greater than backoff_max",
			    w->name);
		else if (w->rtp_port_min > w->rtp_port_max)
			cfg_fail(p, "[worker:%s] rtp_port_min is greater than rtp_port_max",
			    w->name);
		else if (w->listen_reuseport && w->listen.type != SOCK_STREAM)
			cfg_fail(p, "[worker:%s] listen_reuseport needs a TCP listen address",
			    w->name);
		if (p->failed)
			return -1;
	}
	return 0;
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

static int
cfg_parse_file(struct cfg_parse *p)
{
	int	rc;

	if ((p->f = fopen(p->cfg->path, "re")) == NULL) {
		cfg_fail(p, "%s", strerror(errno));
		return -1;
	}
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
	fclose(p->f);
	free(p->line);
	return p->failed ? -1 : 0;
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
		cfg_free(p.cfg);
		return NULL;
	}
	return p.cfg;
}

static void
cfg_worker_free(struct cfg_worker *w)
{
	free(w->name);
	cfg_free_argv(w->argv);
	cfg_env_free(w->env, w->nenv);
	free(w->directory);
	free(w->user);
	cfg_listen_clear(&w->listen);
	free(w->stdout_logfile);
	free(w->stderr_logfile);
}

void
cfg_free(struct cfg *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->holdfast.control_socket);
	free(cfg->holdfast.socket_group);
	free(cfg->holdfast.state_dir);
	free(cfg->holdfast.log_dir);
	free(cfg->holdfast.log_file);
	free(cfg->database.conninfo);
	free(cfg->whatsapp.verify_token);
	free(cfg->whatsapp.app_secret);
	free(cfg->whatsapp.access_token);
	free(cfg->whatsapp.graph_api_url);
	free(cfg->whatsapp.api_version);
	free(cfg->whatsapp.auto_reply);
	for (int i = 0; i < cfg->nworkers; i++)
		cfg_worker_free(&cfg->workers[i]);
	free(cfg->workers);
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
cfg_special_eq(const struct cfg_key *k, const struct cfg_worker *a,
    const struct cfg_worker *b)
{
	switch (k->k_type) {
	case T_COMMAND:
		if (a->argc != b->argc)
			return 0;
		for (int i = 0; i < a->argc; i++)
			if (strcmp(a->argv[i], b->argv[i]) != 0)
				return 0;
		return 1;
	case T_LISTEN:
		return a->listen.type == b->listen.type &&
		    cfg_str_eq(a->listen.host, b->listen.host) &&
		    cfg_str_eq(a->listen.port, b->listen.port);
	case T_EXITCODES:
		return a->nexitcodes == b->nexitcodes && memcmp(a->exitcodes,
		    b->exitcodes, sizeof(a->exitcodes[0]) * (size_t)a->nexitcodes) == 0;
	default:	/* T_ENV */
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
cfg_key_equal(const struct cfg_key *k, const void *a, const void *b)
{
	const char *fa = (const char *)a + k->k_off, *fb = (const char *)b + k->k_off;

	switch (k->k_type) {
	case T_STR: case T_STR_OPT: case T_PATH: case T_PATH_OPT:
		return cfg_str_eq(*(char *const *)fa, *(char *const *)fb);
	case T_DUR: case T_SIZE:
		return *(const int64_t *)fa == *(const int64_t *)fb;
	case T_INT: case T_BOOL: case T_LOGLEVEL: case T_SIGNAL: case T_RESTART:
	case T_RMODE:
		return *(const int *)fa == *(const int *)fb;
	default:	/* only the worker table has the special types */
		return cfg_special_eq(k, a, b);
	}
}

/* Compares every field a key of the worker table sets, by the key's type. */
int
cfg_worker_equal(const struct cfg_worker *a, const struct cfg_worker *b)
{
	if (!cfg_str_eq(a->name, b->name))
		return 0;
	for (const struct cfg_key *k = cfg_keys_worker; k->k_name != NULL; k++)
		if (!cfg_key_equal(k, a, b))
			return 0;
	return 1;
}

int
cfg_worker_diff(const struct cfg_worker *a, const struct cfg_worker *b,
    const char **keys, int max)
{
	int n = 0;

	for (const struct cfg_key *k = cfg_keys_worker; k->k_name != NULL; k++)
		if (!cfg_key_equal(k, a, b)) {
			if (n < max)
				keys[n] = k->k_name;
			n++;
		}
	return n;
}

int
cfg_section_diff(const struct cfg *a, const struct cfg *b, const char *section,
    const char **keys, int max)
{
	const struct cfg_key	*k;
	const void		*sa, *sb;
	int			 n = 0;

	if (strcmp(section, "holdfast") == 0) {
		k = cfg_keys_holdfast;
		sa = &a->holdfast;
		sb = &b->holdfast;
	} else if (strcmp(section, "database") == 0) {
		k = cfg_keys_database;
		sa = &a->database;
		sb = &b->database;
	} else if (strcmp(section, "whatsapp") == 0) {
		k = cfg_keys_whatsapp;
		sa = &a->whatsapp;
		sb = &b->whatsapp;
	} else
		return 0;
	for (; k->k_name != NULL; k++)
		if (!cfg_key_equal(k, sa, sb)) {
			if (n < max)
				keys[n] = k->k_name;
			n++;
		}
	return n;
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
