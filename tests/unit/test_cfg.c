/*
 * test_cfg: the configuration file. Operators are promised that a typo or
 * a bad value is refused with "file:line: reason" (holdfastd refuses to
 * start, or keeps the running config on SIGHUP) rather than guessed at,
 * that relative paths mean "next to this file", and that the documented
 * example etc/holdfast.conf loads as shipped.
 */
#include <check.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cfg.h"
#include "log.h"
#include "tu.h"

static char	*tmp;		/* a fresh directory per test */
static char	*conf;		/* tmp/holdfast.conf */
static char	 err[CFG_ERRLEN];

static void
setup(void)
{
	tmp = tu_tmpdir("cfg");
	if (asprintf(&conf, "%s/holdfast.conf", tmp) < 0)
		abort();
	err[0] = '\0';
}

static void
teardown(void)
{
	tu_rmrf(tmp);
	free(tmp);
	free(conf);
}

/* Writes text as the config and loads it. */
static struct cfg *
load(const char *text)
{
	ck_assert_int_eq(tu_write_file(conf, text), 0);
	err[0] = '\0';
	return cfg_load(conf, err, sizeof(err));
}

/* Asserts that text is refused with exactly "conf:line: reason". */
static void
refused(const char *text, int line, const char *reason)
{
	struct cfg	*cfg = load(text);
	char		 want[CFG_ERRLEN];

	ck_assert_msg(cfg == NULL, "accepted:\n%s", text);
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", conf, line, reason);
	else
		snprintf(want, sizeof(want), "%s: %s", conf, reason);
	ck_assert_str_eq(err, want);
}

/* Asserts that text is refused at line with a reason starting with prefix. */
static void
refused_prefix(const char *text, int line, const char *prefix)
{
	struct cfg	*cfg = load(text);
	char		 want[CFG_ERRLEN];

	ck_assert_msg(cfg == NULL, "accepted:\n%s", text);
	snprintf(want, sizeof(want), "%s:%d: %s", conf, line, prefix);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got \"%s\", want \"%s...\"",
	    err, want);
}

#define WORKER "[worker:w]\ncommand = /bin/true\n"

START_TEST(test_defaults)
{
	struct cfg		*cfg = load("");
	char			 want[1024];

	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(cfg->nworkers, 0);
	ck_assert_str_eq(cfg->dir, tmp);
	ck_assert_str_eq(cfg->path, conf);
	snprintf(want, sizeof(want), "%s/run/holdfast.sock", tmp);
	ck_assert_str_eq(cfg->holdfast.control_socket, want);
	snprintf(want, sizeof(want), "%s/var/lib", tmp);
	ck_assert_str_eq(cfg->holdfast.state_dir, want);
	snprintf(want, sizeof(want), "%s/var/log", tmp);
	ck_assert_str_eq(cfg->holdfast.log_dir, want);
	ck_assert_ptr_null(cfg->holdfast.socket_group);
	ck_assert_int_eq(cfg->holdfast.log_level, LOG_LVL_INFO);
	ck_assert_int_eq(cfg->holdfast.tail_lines, 1000);
	ck_assert_int_eq(cfg->holdfast.shutdown_timeout_ms, 30000);

	ck_assert_str_eq(cfg->database.conninfo, "dbname=holdfast");
	ck_assert_int_eq(cfg->database.pool_size, 4);
	ck_assert_int_eq(cfg->database.statement_timeout_ms, 30000);
	ck_assert_int_eq(cfg->database.connect_timeout_ms, 5000);
	ck_assert_int_eq(cfg->database.query_timeout_ms, 35000);
	ck_assert_int_eq(cfg->database.pool_recycle_ms, 300000);
	ck_assert_int_eq(cfg->database.pre_ping_after_ms, 30000);
	ck_assert_int_eq(cfg->database.backoff_initial_ms, 1000);
	ck_assert_int_eq(cfg->database.backoff_max_ms, 16000);
	ck_assert_int_eq(cfg->database.probe_min_interval_ms, 250);
	ck_assert_int_eq(cfg->database.keepalives_idle_ms, 10000);
	ck_assert_int_eq(cfg->database.tcp_user_timeout_ms, 10000);
	ck_assert_int_eq(cfg->database.lock_timeout_ms, 10000);
	ck_assert_int_eq(cfg->database.idle_in_transaction_timeout_ms, 60000);
	ck_assert_int_eq(cfg->database.auto_migrate, 1);

	ck_assert_str_eq(cfg->whatsapp.verify_token, "");
	ck_assert_str_eq(cfg->whatsapp.app_secret, "");
	ck_assert_str_eq(cfg->whatsapp.access_token, "");
	ck_assert_str_eq(cfg->whatsapp.graph_api_url, "https://graph.facebook.com");
	ck_assert_str_eq(cfg->whatsapp.api_version, "v21.0");
	ck_assert_int_eq(cfg->whatsapp.session_idle_timeout_ms, 30 * 60000);
	ck_assert_int_eq(cfg->whatsapp.poll_interval_ms, 5000);
	ck_assert(strlen(cfg->whatsapp.auto_reply) > 0);
	ck_assert_int_eq(cfg->whatsapp.send_max_attempts, 8);
	ck_assert_int_eq(cfg->whatsapp.send_timeout_ms, 10000);
	ck_assert_int_eq(cfg->whatsapp.batch_size, 100);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_worker_defaults)
{
	struct cfg		*cfg = load("; comment\n\n" WORKER);
	const struct cfg_worker	*w;
	struct cfg_worker	 d;

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->nworkers, 1);
	w = cfg_worker_find(cfg, "w");
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_null(cfg_worker_find(cfg, "x"));
	ck_assert_int_eq(w->line, 3);
	ck_assert_int_eq(w->argc, 1);
	ck_assert_str_eq(w->argv[0], "/bin/true");
	ck_assert_ptr_null(w->argv[1]);
	ck_assert_int_eq(w->numprocs, 1);
	ck_assert_int_eq(w->autostart, 1);
	ck_assert_int_eq(w->autorestart, CFG_RESTART_ALWAYS);
	ck_assert_int_eq(w->nexitcodes, 1);
	ck_assert_int_eq(w->exitcodes[0], 0);
	ck_assert_int_eq(w->startsecs_ms, 1000);
	ck_assert_int_eq(w->startretries, 13);
	ck_assert_int_eq(w->backoff_initial_ms, 100);
	ck_assert_int_eq(w->backoff_max_ms, 30000);
	ck_assert_int_eq(w->backoff_reset_ms, 60000);
	ck_assert_int_eq(w->stopsignal, SIGTERM);
	ck_assert_int_eq(w->stopwaitsecs_ms, 10000);
	ck_assert_int_eq(w->heartbeat_timeout_ms, 10000);
	ck_assert_int_eq(w->priority, 999);
	ck_assert_int_eq(w->nenv, 0);
	ck_assert_ptr_null(w->directory);
	ck_assert_ptr_null(w->user);
	ck_assert_int_eq(w->listen.type, 0);
	ck_assert_ptr_null(w->stdout_logfile);
	ck_assert_ptr_null(w->stderr_logfile);
	ck_assert_int_eq(w->logfile_maxbytes, 10 * 1024 * 1024);
	ck_assert_int_eq(w->logfile_backups, 5);
	ck_assert_int_eq(w->max_body, 64 * 1024);
	ck_assert_int_eq(w->max_webhook_body, 4 * 1024 * 1024);
	ck_assert_int_eq(w->max_header_size, 8 * 1024);
	ck_assert_int_eq(w->request_timeout_ms, 30000);
	ck_assert_int_eq(w->max_connections, 1024);
	ck_assert_int_eq(w->token_ttl_ms, 24 * 3600 * 1000LL);
	ck_assert_int_eq(w->login_rate, 30);
	ck_assert_int_eq(w->answer_after_ms, 0);
	ck_assert_int_eq(w->max_calls, 10000);
	ck_assert_int_eq(w->rtp_port_min, 40000);
	ck_assert_int_eq(w->rtp_port_max, 49999);
	ck_assert_int_eq(w->sip_t1_ms, 500);
	ck_assert_int_eq(w->sip_source_rate, 1000);
	ck_assert_int_eq(w->cdr_batch, 200);
	ck_assert_int_eq(w->cdr_flush_ms, 100);
	ck_assert_int_eq(w->dialog_restore_max_ms, 3600 * 1000);

	/* cfg_worker_defaults gives the same values to a worker without config. */
	cfg_worker_defaults(&d);
	d.name = w->name;
	d.argv = w->argv;
	d.argc = w->argc;
	ck_assert(cfg_worker_equal(w, &d));
	cfg_free(cfg);
}
END_TEST

START_TEST(test_every_key)
{
	struct cfg		*cfg;
	const struct cfg_worker	*w;

	cfg = load(
	    "[holdfast]\n"
	    "control_socket = /run/hf.sock\n"
	    "socket_group = adm\n"
	    "state_dir = state\n"
	    "log_dir = \"logs\"\n"
	    "log_level = debug\n"
	    "tail_lines = 50\n"
	    "shutdown_timeout = 2m\n"
	    "[database]\n"
	    "conninfo = host=a,b port=5432 dbname=x target_session_attrs=read-write\n"
	    "pool_size = 9\n"
	    "statement_timeout = 10s\n"
	    "connect_timeout = 500ms\n"
	    "query_timeout = 20s\n"
	    "pool_recycle = 1h\n"
	    "pre_ping_after = 0\n"
	    "backoff_initial = 200ms\n"
	    "backoff_max = 3s\n"
	    "probe_min_interval = 100ms\n"
	    "keepalives_idle = 7s\n"
	    "tcp_user_timeout = 8s\n"
	    "lock_timeout = 9s\n"
	    "idle_in_transaction_timeout = 11s\n"
	    "auto_migrate = no\n"
	    "[whatsapp]\n"
	    "verify_token = vt\n"
	    "app_secret = sec\n"
	    "access_token = at\n"
	    "graph_api_url = http://127.0.0.1:9999\n"
	    "api_version = v1.0\n"
	    "session_idle_timeout = 90s\n"
	    "poll_interval = 250ms\n"
	    "auto_reply =\n"
	    "send_max_attempts = 3\n"
	    "send_timeout = 2s\n"
	    "batch_size = 7\n"
	    "[worker:tel-1_x]\n"
	    "command = holdfast-telephony -v 'a b' \"c\\\"d\" e\\ f\n"
	    "numprocs = 3\n"
	    "autostart = false\n"
	    "autorestart = unexpected\n"
	    "exitcodes = 0, 2,3\n"
	    "startsecs = 0\n"
	    "startretries = 0\n"
	    "backoff_initial = 1s\n"
	    "backoff_max = 1m\n"
	    "backoff_reset = 5m\n"
	    "stopsignal = SIGQUIT\n"
	    "stopwaitsecs = 3\n"
	    "heartbeat_timeout = 0\n"
	    "priority = 5\n"
	    "environment = A=1, B=\"x y\",C=\"q\\\"uote,comma\"\n"
	    "directory = work\n"
	    "user = nobody\n"
	    "listen = udp:[::1]:5060\n"
	    "stdout_logfile = out.log\n"
	    "stderr_logfile = /var/log/err.log\n"
	    "logfile_maxbytes = 1M\n"
	    "logfile_backups = 0\n"
	    "max_body = 1024\n"
	    "max_webhook_body = 2MiB\n"
	    "max_header_size = 16k\n"
	    "request_timeout = 15s\n"
	    "max_connections = 10\n"
	    "token_ttl = 1h\n"
	    "login_rate = 0\n"
	    "answer_after = 250ms\n"
	    "max_calls = 2\n"
	    "rtp_port_min = 1000\n"
	    "rtp_port_max = 1000\n"
	    "sip_t1 = 100ms\n"
	    "cdr_batch = 1\n"
	    "cdr_flush = 1s\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->holdfast.control_socket, "/run/hf.sock");
	ck_assert_str_eq(cfg->holdfast.socket_group, "adm");
	ck_assert_int_eq(strcmp(cfg->holdfast.state_dir + strlen(tmp), "/state"), 0);
	ck_assert_int_eq(strcmp(cfg->holdfast.log_dir + strlen(tmp), "/logs"), 0);
	ck_assert_int_eq(cfg->holdfast.log_level, LOG_LVL_DEBUG);
	ck_assert_int_eq(cfg->holdfast.tail_lines, 50);
	ck_assert_int_eq(cfg->holdfast.shutdown_timeout_ms, 120000);
	ck_assert_str_eq(cfg->database.conninfo,
	    "host=a,b port=5432 dbname=x target_session_attrs=read-write");
	ck_assert_int_eq(cfg->database.pool_size, 9);
	ck_assert_int_eq(cfg->database.statement_timeout_ms, 10000);
	ck_assert_int_eq(cfg->database.connect_timeout_ms, 500);
	ck_assert_int_eq(cfg->database.query_timeout_ms, 20000);
	ck_assert_int_eq(cfg->database.pool_recycle_ms, 3600000);
	ck_assert_int_eq(cfg->database.pre_ping_after_ms, 0);
	ck_assert_int_eq(cfg->database.backoff_initial_ms, 200);
	ck_assert_int_eq(cfg->database.backoff_max_ms, 3000);
	ck_assert_int_eq(cfg->database.probe_min_interval_ms, 100);
	ck_assert_int_eq(cfg->database.keepalives_idle_ms, 7000);
	ck_assert_int_eq(cfg->database.tcp_user_timeout_ms, 8000);
	ck_assert_int_eq(cfg->database.lock_timeout_ms, 9000);
	ck_assert_int_eq(cfg->database.idle_in_transaction_timeout_ms, 11000);
	ck_assert_int_eq(cfg->database.auto_migrate, 0);
	ck_assert_str_eq(cfg->whatsapp.verify_token, "vt");
	ck_assert_str_eq(cfg->whatsapp.app_secret, "sec");
	ck_assert_str_eq(cfg->whatsapp.access_token, "at");
	ck_assert_str_eq(cfg->whatsapp.graph_api_url, "http://127.0.0.1:9999");
	ck_assert_str_eq(cfg->whatsapp.api_version, "v1.0");
	ck_assert_int_eq(cfg->whatsapp.session_idle_timeout_ms, 90000);
	ck_assert_int_eq(cfg->whatsapp.poll_interval_ms, 250);
	ck_assert_str_eq(cfg->whatsapp.auto_reply, "");
	ck_assert_int_eq(cfg->whatsapp.send_max_attempts, 3);
	ck_assert_int_eq(cfg->whatsapp.send_timeout_ms, 2000);
	ck_assert_int_eq(cfg->whatsapp.batch_size, 7);

	w = cfg_worker_find(cfg, "tel-1_x");
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(w->argc, 5);
	ck_assert_str_eq(w->argv[0], "holdfast-telephony");
	ck_assert_str_eq(w->argv[1], "-v");
	ck_assert_str_eq(w->argv[2], "a b");
	ck_assert_str_eq(w->argv[3], "c\"d");
	ck_assert_str_eq(w->argv[4], "e f");
	ck_assert_int_eq(w->numprocs, 3);
	ck_assert_int_eq(w->autostart, 0);
	ck_assert_int_eq(w->autorestart, CFG_RESTART_UNEXPECTED);
	ck_assert_int_eq(w->nexitcodes, 3);
	ck_assert_int_eq(w->exitcodes[0], 0);
	ck_assert_int_eq(w->exitcodes[1], 2);
	ck_assert_int_eq(w->exitcodes[2], 3);
	ck_assert_int_eq(w->startsecs_ms, 0);
	ck_assert_int_eq(w->startretries, 0);
	ck_assert_int_eq(w->backoff_initial_ms, 1000);
	ck_assert_int_eq(w->backoff_max_ms, 60000);
	ck_assert_int_eq(w->backoff_reset_ms, 300000);
	ck_assert_int_eq(w->stopsignal, SIGQUIT);
	ck_assert_int_eq(w->stopwaitsecs_ms, 3000);
	ck_assert_int_eq(w->heartbeat_timeout_ms, 0);
	ck_assert_int_eq(w->priority, 5);
	ck_assert_int_eq(w->nenv, 3);
	ck_assert_str_eq(w->env[0].name, "A");
	ck_assert_str_eq(w->env[0].value, "1");
	ck_assert_str_eq(w->env[1].name, "B");
	ck_assert_str_eq(w->env[1].value, "x y");
	ck_assert_str_eq(w->env[2].name, "C");
	ck_assert_str_eq(w->env[2].value, "q\"uote,comma");
	ck_assert_int_eq(strcmp(w->directory + strlen(tmp), "/work"), 0);
	ck_assert_str_eq(w->user, "nobody");
	ck_assert_int_eq(w->listen.type, SOCK_DGRAM);
	ck_assert_str_eq(w->listen.host, "::1");
	ck_assert_str_eq(w->listen.port, "5060");
	ck_assert_str_eq(w->listen.spec, "udp:[::1]:5060");
	ck_assert_int_eq(strcmp(w->stdout_logfile + strlen(tmp), "/out.log"), 0);
	ck_assert_str_eq(w->stderr_logfile, "/var/log/err.log");
	ck_assert_int_eq(w->logfile_maxbytes, 1024 * 1024);
	ck_assert_int_eq(w->logfile_backups, 0);
	ck_assert_int_eq(w->max_body, 1024);
	ck_assert_int_eq(w->max_webhook_body, 2 * 1024 * 1024);
	ck_assert_int_eq(w->max_header_size, 16 * 1024);
	ck_assert_int_eq(w->request_timeout_ms, 15000);
	ck_assert_int_eq(w->max_connections, 10);
	ck_assert_int_eq(w->token_ttl_ms, 3600000);
	ck_assert_int_eq(w->login_rate, 0);
	ck_assert_int_eq(w->answer_after_ms, 250);
	ck_assert_int_eq(w->max_calls, 2);
	ck_assert_int_eq(w->rtp_port_min, 1000);
	ck_assert_int_eq(w->rtp_port_max, 1000);
	ck_assert_int_eq(w->sip_t1_ms, 100);
	ck_assert_int_eq(w->cdr_batch, 1);
	ck_assert_int_eq(w->cdr_flush_ms, 1000);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_relative_paths_from_file_dir)
{
	struct cfg	*cfg;
	char		*sub, *path, want[1024];

	/* Loaded by a relative name from another cwd: still next to the file. */
	ck_assert(asprintf(&sub, "%s/etc", tmp) > 0);
	ck_assert(asprintf(&path, "%s/hf.conf", sub) > 0);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_int_eq(tu_write_file(path,
	    "[holdfast]\ncontrol_socket = ../run/x.sock\nstate_dir=.\n"), 0);
	ck_assert_int_eq(chdir(tmp), 0);
	cfg = cfg_load("etc/hf.conf", err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->path, path);
	ck_assert_str_eq(cfg->dir, sub);
	snprintf(want, sizeof(want), "%s/../run/x.sock", sub);
	ck_assert_str_eq(cfg->holdfast.control_socket, want);
	snprintf(want, sizeof(want), "%s/.", sub);
	ck_assert_str_eq(cfg->holdfast.state_dir, want);
	cfg_free(cfg);
	free(sub);
	free(path);
}
END_TEST

START_TEST(test_durations)
{
	static const struct { const char *v; long long ms; } ok[] = {
		{ "500ms", 500 }, { "5s", 5000 }, { "2m", 120000 }, { "1h", 3600000 },
		{ "7", 7000 }, { "0", 0 }, { "0ms", 0 },
	};
	static const char *const bad[] = {
		"5 s", "-1s", "1d", "s", "", "1.5s", "5sec", "1h2m", "99999999999999999999h",
		"25h",	/* beyond statement_timeout's range of one day */
	};
	char		 text[256];
	struct cfg	*cfg;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "[database]\nstatement_timeout = %s\n", ok[i].v);
		cfg = load(text);
		ck_assert_msg(cfg != NULL, "%s: %s", ok[i].v, err);
		ck_assert_int_eq(cfg->database.statement_timeout_ms, ok[i].ms);
		/* query_timeout follows statement_timeout unless set. */
		ck_assert_int_eq(cfg->database.query_timeout_ms, ok[i].ms == 0 ? 0 : ok[i].ms + 5000);
		cfg_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[database]\nstatement_timeout = %s\n", bad[i]);
		refused_prefix(text, 2, "statement_timeout: bad duration");
	}
	/* Ranges: 0 is no connect timeout at all, which is refused. */
	refused_prefix("[database]\nconnect_timeout = 0\n", 2, "connect_timeout: bad duration");
	refused_prefix("[holdfast]\nshutdown_timeout = 2h\n", 2, "shutdown_timeout: bad duration");
}
END_TEST

START_TEST(test_sizes)
{
	static const struct { const char *v; long long n; } ok[] = {
		{ "1", 1 }, { "100", 100 }, { "2K", 2048 }, { "2k", 2048 }, { "2KB", 2048 },
		{ "2KiB", 2048 }, { "3M", 3 << 20 }, { "3MiB", 3 << 20 }, { "1G", 1 << 30 },
		{ "1GiB", 1 << 30 },
	};
	static const char *const bad[] = { "", "K", "-1", "1T", "1.5M", "2 K", "0", "2G" };
	char		 text[256];
	struct cfg	*cfg;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), WORKER "max_body = %s\n", ok[i].v);
		cfg = load(text);
		ck_assert_msg(cfg != NULL, "%s: %s", ok[i].v, err);
		ck_assert_int_eq(cfg->workers[0].max_body, ok[i].n);
		cfg_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), WORKER "max_body = %s\n", bad[i]);
		refused_prefix(text, 3, "max_body: bad size");
	}
	cfg = load(WORKER "logfile_maxbytes = 0\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->workers[0].logfile_maxbytes, 0);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_unknown_key_and_section)
{
	refused(WORKER "numproc = 2\n", 3, "unknown key \"numproc\"");
	refused("[holdfast]\n\n  log_lvl = info\n", 3, "unknown key \"log_lvl\"");
	/* A key valid elsewhere is unknown in the wrong section. */
	refused("[database]\nnumprocs = 2\n", 2, "unknown key \"numprocs\"");
	refused("[holdfst]\nlog_level = info\n", 1, "unknown section [holdfst]");
	refused("[worker]\ncommand = x\n", 1, "unknown section [worker]");
	refused("log_level = info\n", 1, "key \"log_level\" outside any section");
	refused("[holdfast\n", 1, "section header without ']'");
	refused("[holdfast] x\n", 1, "unexpected text after section header");
}
END_TEST

START_TEST(test_duplicates)
{
	refused("[holdfast]\nlog_level = info\n\nlog_level = debug\n", 4,
	    "duplicate key \"log_level\" (first at line 2)");
	refused("[holdfast]\n[database]\n[holdfast]\n", 3,
	    "duplicate section [holdfast] (first at line 1)");
	refused(WORKER "[worker:x]\ncommand = a\n" WORKER, 5,
	    "duplicate section [worker:w] (first at line 1)");
	/* The same key in two worker sections is fine. */
	struct cfg *cfg = load(WORKER "[worker:x]\ncommand = /bin/false\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->nworkers, 2);
	ck_assert_str_eq(cfg->workers[1].name, "x");
	ck_assert_int_eq(cfg->workers[1].line, 3);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_worker_sections)
{
	refused("[worker:http]\nnumprocs = 2\n", 1, "[worker:http] has no command");
	refused("[worker:empty]\n[worker:b]\ncommand=x\n", 1, "[worker:empty] has no command");
	refused("[worker:a b]\ncommand = x\n", 1,
	    "bad worker name \"a b\" (expected 1 to 64 of A-Z a-z 0-9 _ -)");
	refused("[worker:]\ncommand = x\n", 1,
	    "bad worker name \"\" (expected 1 to 64 of A-Z a-z 0-9 _ -)");
	refused("[worker:a:1]\ncommand = x\n", 1,
	    "bad worker name \"a:1\" (expected 1 to 64 of A-Z a-z 0-9 _ -)");
	refused("[worker:w]\ncommand =\n", 2, "command: empty command");
	refused("[worker:w]\ncommand = 'abc\n", 2, "command: unterminated single quote in command");
	refused("[worker:w]\ncommand = a\nbackoff_initial = 2s\nbackoff_max = 1s\n", 1,
	    "[worker:w] backoff_initial is greater than backoff_max");
	refused("[worker:w]\ncommand = a\nrtp_port_min = 2000\nrtp_port_max = 1999\n", 1,
	    "[worker:w] rtp_port_min is greater than rtp_port_max");
	refused("[database]\nbackoff_initial = 20s\n", 1,
	    "[database] backoff_initial is greater than backoff_max");
}
END_TEST

/* The http edge's keys: defaults, values, refusals with line and reason. */
START_TEST(test_http_edge_keys)
{
	struct cfg *cfg = load(WORKER "header_timeout = 2s\nkeepalive_timeout = 500ms\n"
	    "max_connections_per_addr = 8\nmax_body_memory = 1MiB\n");

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->workers[0].header_timeout_ms, 2000);
	ck_assert_int_eq(cfg->workers[0].keepalive_timeout_ms, 500);
	ck_assert_int_eq(cfg->workers[0].max_connections_per_addr, 8);
	ck_assert_int_eq(cfg->workers[0].max_body_memory, 1 << 20);
	cfg_free(cfg);
	cfg = load(WORKER "numprocs = 1\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->workers[0].header_timeout_ms, 10000);
	ck_assert_int_eq(cfg->workers[0].keepalive_timeout_ms, 15000);
	ck_assert_int_eq(cfg->workers[0].max_connections_per_addr, 256);
	ck_assert_int_eq(cfg->workers[0].max_body_memory, 16 << 20);
	cfg_free(cfg);
	refused_prefix(WORKER "header_timeout = 0\n", 3, "header_timeout: bad duration");
	refused_prefix(WORKER "keepalive_timeout = soon\n", 3, "keepalive_timeout: bad duration");
	refused_prefix(WORKER "max_connections_per_addr = 0\n", 3,
	    "max_connections_per_addr: bad value \"0\"");
	refused_prefix(WORKER "max_body_memory = -1\n", 3, "max_body_memory: bad size");
}
END_TEST

/* holdfast-http, DB freeze: the deadline of a request's DB work. */
START_TEST(test_db_request_timeout)
{
	static const char *const bad[] = { "2 s", "-1s", "2h", "x", "", "1.5s" };
	struct cfg			*cfg;
	const struct cfg_worker		*w;
	char				 text[256];

	cfg = load(WORKER);
	ck_assert_ptr_nonnull(w = cfg_worker_find(cfg, "w"));
	ck_assert_int_eq(w->db_request_timeout_ms, 2000);
	cfg_free(cfg);
	cfg = load(WORKER "db_request_timeout = 750ms\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg_worker_find(cfg, "w")->db_request_timeout_ms, 750);
	cfg_free(cfg);
	cfg = load(WORKER "db_request_timeout = 0\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg_worker_find(cfg, "w")->db_request_timeout_ms, 0);
	cfg_free(cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), WORKER "db_request_timeout = %s\n", bad[i]);
		refused_prefix(text, 3, "db_request_timeout: bad duration");
	}
}
END_TEST

START_TEST(test_bad_values)
{
	refused(WORKER "numprocs = 0\n", 3,
	    "numprocs: bad value \"0\" (expected an integer in 1..256)");
	refused_prefix(WORKER "numprocs = two\n", 3, "numprocs: bad value \"two\"");
	refused_prefix(WORKER "numprocs = 2x\n", 3, "numprocs: bad value \"2x\"");
	refused_prefix(WORKER "numprocs = 99999999999999999999\n", 3, "numprocs: bad value");
	refused_prefix(WORKER "numprocs =\n", 3, "numprocs: bad value \"\"");
	/* holdfast-telephony: the SIP edge against hostile traffic */
	refused_prefix(WORKER "sip_source_rate = 0\n", 3,
	    "sip_source_rate: bad value \"0\" (expected an integer in 1..1000000)");
	refused_prefix(WORKER "sip_source_rate = fast\n", 3, "sip_source_rate: bad value \"fast\"");
	refused_prefix("[database]\npool_size = -1\n", 2, "pool_size: bad value");
	refused_prefix(WORKER "rtp_port_max = 65536\n", 3, "rtp_port_max: bad value");
	refused_prefix(WORKER "dialog_restore_max = 0\n", 3, "dialog_restore_max: bad duration");
	refused_prefix(WORKER "dialog_restore_max = 31d\n", 3, "dialog_restore_max: bad duration");
	refused_prefix(WORKER "dialog_restore_max = soon\n", 3, "dialog_restore_max: bad duration");
	refused(WORKER "autostart = maybe\n", 3,
	    "autostart: bad value \"maybe\" (expected true or false)");
	refused(WORKER "autorestart = sometimes\n", 3,
	    "autorestart: bad value \"sometimes\" (expected true, false or unexpected)");
	refused(WORKER "restart_mode = rolling\n", 3,
	    "restart_mode: bad value \"rolling\" (expected surge, stop-first or auto)");
	refused_prefix("[holdfast]\nlog_file =\n[worker:w]\ncommand = a\nrestart_mode =\n", 5,
	    "restart_mode: bad value \"\"");
	refused(WORKER "stopsignal = TERMINATE\n", 3, "stopsignal: bad value \"TERMINATE\" "
	    "(expected a signal name such as TERM, or a number)");
	refused_prefix(WORKER "stopsignal = 0\n", 3, "stopsignal: bad value");
	refused_prefix(WORKER "stopsignal = 65\n", 3, "stopsignal: bad value");
	refused(WORKER "exitcodes = 0,256\n", 3, "exitcodes: bad value \"0,256\" "
	    "(expected up to 16 codes in 0..255, comma-separated)");
	refused_prefix(WORKER "exitcodes = 0,,1\n", 3, "exitcodes: bad value");
	refused_prefix(WORKER "exitcodes =\n", 3, "exitcodes: bad value");
	refused_prefix(WORKER "exitcodes = 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n", 3,
	    "exitcodes: bad value");
	refused(WORKER "log_level = info\n", 3, "unknown key \"log_level\"");
	refused("[holdfast]\nlog_level = loud\n", 2,
	    "log_level: bad value \"loud\" (expected error, warn, info or debug)");
	refused("[holdfast]\ncontrol_socket =\n", 2, "control_socket: empty path");
	refused("[holdfast]\nnot a key value line\n", 2,
	    "syntax error (expected \"key = value\", \"[section]\" or a comment)");
}
END_TEST

START_TEST(test_enums)
{
	static const struct { const char *v; int level; } levels[] = {
		{ "error", LOG_LVL_ERROR }, { "warn", LOG_LVL_WARN }, { "INFO", LOG_LVL_INFO },
		{ "debug", LOG_LVL_DEBUG },
	};
	static const struct { const char *v; int r; } restarts[] = {
		{ "true", CFG_RESTART_ALWAYS }, { "false", CFG_RESTART_NEVER },
		{ "unexpected", CFG_RESTART_UNEXPECTED }, { "yes", CFG_RESTART_ALWAYS },
	};
	static const struct { const char *v; int r; } rmodes[] = {
		{ "surge", CFG_RMODE_SURGE }, { "stop-first", CFG_RMODE_STOP_FIRST },
		{ "auto", CFG_RMODE_AUTO }, { "SURGE", CFG_RMODE_SURGE },
	};
	char		 text[256];
	struct cfg	*cfg;

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		snprintf(text, sizeof(text), "[holdfast]\nlog_level = %s\n", levels[i].v);
		ck_assert_ptr_nonnull(cfg = load(text));
		ck_assert_int_eq(cfg->holdfast.log_level, levels[i].level);
		cfg_free(cfg);
	}
	for (size_t i = 0; i < sizeof(restarts) / sizeof(restarts[0]); i++) {
		snprintf(text, sizeof(text), WORKER "autorestart = %s\n", restarts[i].v);
		ck_assert_ptr_nonnull(cfg = load(text));
		ck_assert_int_eq(cfg->workers[0].autorestart, restarts[i].r);
		cfg_free(cfg);
	}
	for (size_t i = 0; i < sizeof(rmodes) / sizeof(rmodes[0]); i++) {
		snprintf(text, sizeof(text), WORKER "restart_mode = %s\n", rmodes[i].v);
		ck_assert_ptr_nonnull(cfg = load(text));
		ck_assert_int_eq(cfg->workers[0].restart_mode, rmodes[i].r);
		cfg_free(cfg);
	}
	/* log_file: relative to the file's directory; empty is stderr. */
	ck_assert_ptr_nonnull(cfg = load("[holdfast]\nlog_file = var/log/holdfastd.log\n"));
	ck_assert_ptr_nonnull(cfg->holdfast.log_file);
	ck_assert_ptr_nonnull(strstr(cfg->holdfast.log_file, "/var/log/holdfastd.log"));
	ck_assert_int_eq(cfg->holdfast.log_file[0], '/');
	cfg_free(cfg);
	ck_assert_ptr_nonnull(cfg = load("[holdfast]\nlog_file =\n"));
	ck_assert_ptr_null(cfg->holdfast.log_file);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_signals)
{
	static const struct { const char *s; int sig; } ok[] = {
		{ "TERM", SIGTERM }, { "SIGTERM", SIGTERM }, { "term", SIGTERM },
		{ "INT", SIGINT }, { "QUIT", SIGQUIT }, { "HUP", SIGHUP }, { "KILL", SIGKILL },
		{ "USR1", SIGUSR1 }, { "SIGUSR2", SIGUSR2 }, { "15", 15 }, { "9", 9 },
	};
	static const char *const bad[] = { "", "SIG", "TERMX", "0", "-15", "65", "15x", "SIGSIGTERM" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(cfg_signal_parse(ok[i].s) == ok[i].sig, "%s", ok[i].s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cfg_signal_parse(bad[i]) == -1, "%s", bad[i]);
	ck_assert_int_eq(cfg_signal_parse(NULL), -1);
	ck_assert_str_eq(cfg_signal_name(SIGTERM), "TERM");
	ck_assert_str_eq(cfg_signal_name(SIGKILL), "KILL");
	ck_assert_str_eq(cfg_signal_name(SIGUSR1), "USR1");
	ck_assert_str_eq(cfg_signal_name(40), "40");
	/* Every name round-trips. */
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_int_eq(cfg_signal_parse(cfg_signal_name(ok[i].sig)), ok[i].sig);
}
END_TEST

/* Splits s and compares with the expected words (NULL-terminated). */
static void
split_is(const char *s, const char *const *want)
{
	char	**argv, e[CFG_ERRLEN];
	int	  n = 0, argc;

	argc = cfg_split_command(s, &argv, e, sizeof(e));
	while (want[n] != NULL)
		n++;
	ck_assert_msg(argc == n, "%s: argc %d, want %d (%s)", s, argc, n, argc < 0 ? e : "");
	for (int i = 0; i < n; i++)
		ck_assert_str_eq(argv[i], want[i]);
	ck_assert_ptr_null(argv[n]);
	cfg_free_argv(argv);
}

START_TEST(test_split_command)
{
	char	**argv, e[CFG_ERRLEN];

	split_is("prog", (const char *[]){ "prog", NULL });
	split_is("  a   b\tc  ", (const char *[]){ "a", "b", "c", NULL });
	split_is("a 'b c' d", (const char *[]){ "a", "b c", "d", NULL });
	split_is("a \"b c\" d", (const char *[]){ "a", "b c", "d", NULL });
	split_is("a\\ b", (const char *[]){ "a b", NULL });
	split_is("'it''s'", (const char *[]){ "its", NULL });
	split_is("\"it's\"", (const char *[]){ "it's", NULL });
	split_is("'a\\b'", (const char *[]){ "a\\b", NULL });
	split_is("\"a\\b\"", (const char *[]){ "a\\b", NULL });
	split_is("\"a\\\"b\\\\c\"", (const char *[]){ "a\"b\\c", NULL });
	split_is("x'' \"\"", (const char *[]){ "x", "", NULL });
	split_is("pre\"mid dle\"post", (const char *[]){ "premid dlepost", NULL });
	/* No expansion of any kind. */
	split_is("$HOME ~ * `id` $(id)", (const char *[]){ "$HOME", "~", "*", "`id`", "$(id)", NULL });
	split_is("", (const char *[]){ NULL });
	split_is("   ", (const char *[]){ NULL });

	ck_assert_int_eq(cfg_split_command("a 'b", &argv, e, sizeof(e)), -1);
	ck_assert_ptr_null(argv);
	ck_assert_str_eq(e, "unterminated single quote in command");
	ck_assert_int_eq(cfg_split_command("a \"b", &argv, e, sizeof(e)), -1);
	ck_assert_str_eq(e, "unterminated double quote in command");
	ck_assert_int_eq(cfg_split_command("a b\\", &argv, e, sizeof(e)), -1);
	ck_assert_str_eq(e, "command ends with a backslash");
}
END_TEST

static void
listen_is(const char *spec, int type, const char *host, const char *port)
{
	char		 text[256];
	struct cfg	*cfg;

	snprintf(text, sizeof(text), WORKER "listen = %s\n", spec);
	cfg = load(text);
	ck_assert_msg(cfg != NULL, "%s: %s", spec, err);
	ck_assert_int_eq(cfg->workers[0].listen.type, type);
	ck_assert_str_eq(cfg->workers[0].listen.host, host);
	ck_assert_str_eq(cfg->workers[0].listen.port, port);
	ck_assert_str_eq(cfg->workers[0].listen.spec, spec);
	cfg_free(cfg);
}

START_TEST(test_listen)
{
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", ":8080",
		"::1:8080", "[::1]8080", "[::1", "udp:", "host:80x", "127.0.0.1:+80",
		"[]:80", "a b:80",
	};
	char	text[256];

	listen_is("127.0.0.1:8080", SOCK_STREAM, "127.0.0.1", "8080");
	listen_is("tcp:0.0.0.0:1", SOCK_STREAM, "0.0.0.0", "1");
	listen_is("[::1]:8080", SOCK_STREAM, "::1", "8080");
	listen_is("udp:127.0.0.1:5060", SOCK_DGRAM, "127.0.0.1", "5060");
	listen_is("udp:[::]:65535", SOCK_DGRAM, "::", "65535");
	listen_is("localhost:80", SOCK_STREAM, "localhost", "80");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), WORKER "listen = %s\n", bad[i]);
		refused_prefix(text, 3, "listen: bad address");
	}
	refused(WORKER "listen = ::1:8080\n", 3,
	    "listen: bad address \"::1:8080\" (an IPv6 address goes in brackets: [::1]:port)");
}
END_TEST

START_TEST(test_environment)
{
	struct cfg	*cfg;

	cfg = load(WORKER "environment = A=1,B=\"x y\"\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->workers[0].nenv, 2);
	ck_assert_str_eq(cfg->workers[0].env[0].name, "A");
	ck_assert_str_eq(cfg->workers[0].env[0].value, "1");
	ck_assert_str_eq(cfg->workers[0].env[1].name, "B");
	ck_assert_str_eq(cfg->workers[0].env[1].value, "x y");
	cfg_free(cfg);

	cfg = load(WORKER "environment = _X= , EMPTY=\"\", URL=http://h/?a=b,\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->workers[0].nenv, 3);
	ck_assert_str_eq(cfg->workers[0].env[0].value, "");
	ck_assert_str_eq(cfg->workers[0].env[1].value, "");
	ck_assert_str_eq(cfg->workers[0].env[2].value, "http://h/?a=b");
	cfg_free(cfg);

	cfg = load(WORKER "environment =\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->workers[0].nenv, 0);
	cfg_free(cfg);

	refused(WORKER "environment = A\n", 3, "environment: expected NAME=VALUE");
	refused(WORKER "environment = 1A=2\n", 3, "environment: expected NAME=VALUE");
	refused(WORKER "environment = A=\"x\n", 3, "environment: unterminated double quote");
	refused(WORKER "environment = A=\"x\"y\n", 3, "environment: expected ',' between entries");
	refused(WORKER "environment = A=1,A=2\n", 3, "environment: a name is set twice");
}
END_TEST

START_TEST(test_strings_and_comments)
{
	struct cfg	*cfg;

	cfg = load("\xEF\xBB\xBF# hash comment\n"
	    "[whatsapp]   ; a comment after a header\n"
	    "auto_reply = \"\"\n"
	    "verify_token = abc ; inline comment\n"
	    "app_secret = a;b\n"
	    "   access_token = \"quoted value\"\n"
	    "[holdfast]\n"
	    "socket_group =\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->whatsapp.auto_reply, "");
	ck_assert_str_eq(cfg->whatsapp.verify_token, "abc");
	ck_assert_str_eq(cfg->whatsapp.app_secret, "a;b");
	ck_assert_str_eq(cfg->whatsapp.access_token, "quoted value");
	ck_assert_ptr_null(cfg->holdfast.socket_group);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_long_and_odd_lines)
{
	struct cfg	*cfg;
	char		*text, *big;
	size_t		 n = 3000;

	/* A long conninfo (multi-host, options) is fine. */
	big = malloc(n + 1);
	memset(big, 'x', n);
	big[n] = '\0';
	ck_assert(asprintf(&text, "[database]\nconninfo = options=%s\n", big) > 0);
	cfg = load(text);
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_uint_eq(strlen(cfg->database.conninfo), n + strlen("options="));
	cfg_free(cfg);
	free(text);
	free(big);

	big = malloc(10001);
	memset(big, 'y', 10000);
	big[10000] = '\0';
	ck_assert(asprintf(&text, "[database]\nconninfo = %s\n", big) > 0);
	refused_prefix(text, 2, "line too long");
	free(text);
	free(big);

	/* A NUL byte cannot hide the rest of a line. */
	ck_assert_ptr_nonnull(cfg = load("[holdfast]\n"));
	cfg_free(cfg);
	{
		FILE *f = fopen(conf, "w");
		fwrite("[holdfast]\nlog_level = info\0junk\n", 1, 33, f);
		fclose(f);
		ck_assert_ptr_null(cfg_load(conf, err, sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, ":2: NUL byte in line"));
	}
	/* CRLF line ends are accepted. */
	cfg = load("[worker:w]\r\ncommand = /bin/true\r\nnumprocs = 2\r\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->workers[0].numprocs, 2);
	ck_assert_str_eq(cfg->workers[0].argv[0], "/bin/true");
	cfg_free(cfg);
}
END_TEST

START_TEST(test_missing_file)
{
	char	*path;

	ck_assert(asprintf(&path, "%s/nope.conf", tmp) > 0);
	ck_assert_ptr_null(cfg_load(path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "nope.conf: No such file or directory"));
	/* A directory is not a config file. */
	ck_assert_ptr_null(cfg_load(tmp, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "Is a directory"));
	free(path);
}
END_TEST

static struct cfg *
load2(const char *text)
{
	struct cfg	*cfg = load(text);

	ck_assert_msg(cfg != NULL, "%s", err);
	return cfg;
}

START_TEST(test_worker_equal)
{
	static const char *const changes[] = {
		"command = /bin/true -x\n", "numprocs = 2\n", "autostart = false\n",
		"autorestart = false\n", "exitcodes = 0,1\n", "startsecs = 2s\n",
		"startretries = 1\n", "backoff_initial = 1s\n", "backoff_max = 2s\n",
		"backoff_reset = 1s\n", "stopsignal = INT\n", "stopwaitsecs = 1s\n",
		"heartbeat_timeout = 1s\n", "priority = 1\n", "environment = A=1\n",
		"directory = /\n", "user = nobody\n", "listen = 127.0.0.1:1\n",
		"stdout_logfile = /x\n", "stderr_logfile = /y\n", "logfile_maxbytes = 1\n",
		"logfile_backups = 1\n", "max_body = 1\n", "max_webhook_body = 1\n",
		"max_header_size = 1K\n", "request_timeout = 1s\n", "max_connections = 1\n",
		"token_ttl = 1s\n", "login_rate = 1\n", "answer_after = 1s\n", "max_calls = 1\n",
		"rtp_port_min = 1\n", "rtp_port_max = 50000\n", "sip_t1 = 1s\n",
		"cdr_batch = 1\n", "cdr_flush = 1s\n", "restart_mode = stop-first\n",
		"dialog_restore_max = 1s\n",
	};
	struct cfg	*a, *b;
	char		 text[512];

	a = load2(WORKER "environment = A=1\n[worker:v]\ncommand = /bin/true\n");
	b = load2("; shifted lines do not matter\n\n" WORKER "environment = A=1\n"
	    "[worker:v]\ncommand = /bin/true\n");
	ck_assert(cfg_worker_equal(&a->workers[0], &b->workers[0]));
	/* Same settings, other name: not the same worker. */
	ck_assert(!cfg_worker_equal(&a->workers[0], &a->workers[1]));
	cfg_free(b);
	cfg_free(a);

	a = load2(WORKER);
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		snprintf(text, sizeof(text), "[worker:w]\n%s%s", changes[i],
		    strncmp(changes[i], "command", 7) == 0 ? "" : "command = /bin/true\n");
		b = load2(text);
		ck_assert_msg(!cfg_worker_equal(&a->workers[0], &b->workers[0]),
		    "change not seen: %s", changes[i]);
		ck_assert_msg(!cfg_worker_equal(&b->workers[0], &a->workers[0]),
		    "change not seen: %s", changes[i]);
		ck_assert(cfg_worker_equal(&b->workers[0], &b->workers[0]));
		cfg_free(b);
	}
	/* Writing a default explicitly changes nothing. */
	b = load2(WORKER "numprocs = 1\nstopsignal = SIGTERM\nexitcodes = 0\n");
	ck_assert(cfg_worker_equal(&a->workers[0], &b->workers[0]));
	cfg_free(b);
	cfg_free(a);
}
END_TEST

START_TEST(test_load_for_worker)
{
	struct cfg		*cfg;
	const struct cfg_worker	*w;
	char			*other;

	ck_assert_int_eq(tu_write_file(conf, "[worker:http]\ncommand = h\nnumprocs = 2\n"
	    "[worker:telephony]\ncommand = t\n"), 0);
	ck_assert(asprintf(&other, "%s/other.conf", tmp) > 0);
	ck_assert_int_eq(tu_write_file(other, "[worker:other]\ncommand = o\n"), 0);

	setenv("HOLDFAST_CONFIG", conf, 1);
	cfg = cfg_load_for_worker(NULL, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	w = cfg_worker_for_instance(cfg, "http:1", "telephony");
	ck_assert_ptr_nonnull(w);
	ck_assert_str_eq(w->name, "http");
	ck_assert_str_eq(cfg_worker_for_instance(cfg, "telephony", "http")->name, "telephony");
	ck_assert_str_eq(cfg_worker_for_instance(cfg, NULL, "telephony")->name, "telephony");
	ck_assert_str_eq(cfg_worker_for_instance(cfg, "", "http")->name, "http");
	ck_assert_ptr_null(cfg_worker_for_instance(cfg, "whatsapp:0", "http"));
	ck_assert_ptr_null(cfg_worker_for_instance(cfg, NULL, "whatsapp"));
	/* Without an explicit instance, HOLDFAST_INSTANCE names it. */
	setenv("HOLDFAST_INSTANCE", "http:0", 1);
	ck_assert_str_eq(cfg_worker_for_instance(cfg, NULL, "telephony")->name, "http");
	ck_assert_str_eq(cfg_worker_for_instance(cfg, "telephony", "x")->name, "telephony");
	unsetenv("HOLDFAST_INSTANCE");
	cfg_free(cfg);

	/* -c wins over the environment. */
	cfg = cfg_load_for_worker(other, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_ptr_nonnull(cfg_worker_find(cfg, "other"));
	cfg_free(cfg);

	setenv("HOLDFAST_CONFIG", "/nonexistent/holdfast.conf", 1);
	ck_assert_ptr_null(cfg_load_for_worker(NULL, err, sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/holdfast.conf: No such file or directory");
	unsetenv("HOLDFAST_CONFIG");
	free(other);
}
END_TEST

/* The documented example ships in a loadable state, with its promised shape. */
START_TEST(test_example_config)
{
	char			*path = tu_srcpath("etc/holdfast.conf");
	struct cfg		*cfg = cfg_load(path, err, sizeof(err));
	const struct cfg_worker	*w;

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->nworkers, 3);
	ck_assert_ptr_nonnull(w = cfg_worker_find(cfg, "http"));
	ck_assert_int_eq(w->numprocs, 2);
	ck_assert_int_eq(w->listen.type, SOCK_STREAM);
	ck_assert_str_eq(w->listen.spec, "127.0.0.1:8080");
	ck_assert_ptr_nonnull(w = cfg_worker_find(cfg, "whatsapp"));
	ck_assert_int_eq(w->listen.type, 0);
	ck_assert_ptr_nonnull(w = cfg_worker_find(cfg, "telephony"));
	ck_assert_int_eq(w->listen.type, SOCK_DGRAM);
	ck_assert_str_eq(w->listen.spec, "udp:127.0.0.1:5060");
	ck_assert_int_eq(cfg->database.statement_timeout_ms, 30000);
	ck_assert_int_eq(cfg->database.pool_recycle_ms, 300000);
	ck_assert_int_eq(cfg->database.backoff_initial_ms, 1000);
	ck_assert_int_eq(cfg->database.backoff_max_ms, 16000);
	cfg_free(cfg);
	free(path);
}
END_TEST

/*
 * The example claims to show each key with its default, except conninfo,
 * numprocs and listen: the same workers written with only those keys
 * must compare equal.
 */
START_TEST(test_example_shows_defaults)
{
	char		*path = tu_srcpath("etc/holdfast.conf");
	struct cfg	*ex = cfg_load(path, err, sizeof(err)), *min;
	static const char *const names[] = { "http", "whatsapp", "telephony" };

	ck_assert_msg(ex != NULL, "%s", err);
	min = load("[worker:http]\ncommand = holdfast-http\nnumprocs = 2\n"
	    "listen = 127.0.0.1:8080\n"
	    "[worker:whatsapp]\ncommand = holdfast-whatsapp\n"
	    "[worker:telephony]\ncommand = holdfast-telephony\n"
	    "listen = udp:127.0.0.1:5060\n");
	ck_assert_msg(min != NULL, "%s", err);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg(cfg_worker_equal(cfg_worker_find(ex, names[i]),
		    cfg_worker_find(min, names[i])), "[worker:%s] differs from defaults", names[i]);
	ck_assert(memcmp(&ex->database.pool_size, &min->database.pool_size,
	    sizeof(ex->database) - offsetof(struct cfg_database, pool_size)) == 0);
	ck_assert_str_eq(ex->whatsapp.auto_reply, min->whatsapp.auto_reply);
	ck_assert_str_eq(ex->whatsapp.graph_api_url, min->whatsapp.graph_api_url);
	ck_assert_int_eq(ex->whatsapp.session_idle_timeout_ms, min->whatsapp.session_idle_timeout_ms);
	ck_assert_int_eq(ex->holdfast.log_level, min->holdfast.log_level);
	ck_assert_int_eq(ex->holdfast.tail_lines, min->holdfast.tail_lines);
	ck_assert_int_eq(ex->holdfast.shutdown_timeout_ms, min->holdfast.shutdown_timeout_ms);
	cfg_free(ex);
	cfg_free(min);
	free(path);
}
END_TEST

/* Appends to *keys the name of every row the parser knows (cfg_rows). */
static int
table_keys(char keys[][64], int max)
{
	static const char *const sections[] = { "holdfast", "database", "whatsapp", "worker" };
	int	n = 0;

	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++)
		for (const struct cfg_row *k = cfg_rows(sections[s]); k->name != NULL && n < max;
		    k++)
			snprintf(keys[n++], 64, "%s", k->name);
	return n;
}

/* Every key the parser knows is documented in the example and the manual. */
START_TEST(test_every_key_documented)
{
	char	 keys[200][64], pat[128];
	char	*expath = tu_srcpath("etc/holdfast.conf"), *ex = tu_read_file(expath, NULL);
	char	*manpath = tu_srcpath("man/holdfast.conf.5"), *man = tu_read_file(manpath, NULL);
	int	 n = table_keys(keys, 200);

	ck_assert_ptr_nonnull(ex);
	ck_assert_ptr_nonnull(man);
	ck_assert_msg(n >= 69, "found only %d keys in the rows", n);
	for (int i = 0; i < n; i++) {
		snprintf(pat, sizeof(pat), "\n%.63s ", keys[i]);
		ck_assert_msg(strstr(ex, pat) != NULL || (snprintf(pat, sizeof(pat),
		    "\n;%.63s ", keys[i]), strstr(ex, pat) != NULL),
		    "key %s missing from etc/holdfast.conf", keys[i]);
		snprintf(pat, sizeof(pat), ".BR %.63s ", keys[i]);
		ck_assert_msg(strstr(man, pat) != NULL || (snprintf(pat, sizeof(pat),
		    "\" %.63s ", keys[i]), strstr(man, pat) != NULL),
		    "key %s missing from man/holdfast.conf.5", keys[i]);
	}
	free(ex);
	free(man);
	free(expath);
	free(manpath);
}
END_TEST

/* sdnotify: notify, health_* and their bad values. */
START_TEST(test_sdnotify_keys)
{
	struct cfg *cfg = load(WORKER "notify = systemd\nhealth_http = http://localhost:81/hz\n"
	    "health_mode = readiness\nhealth_interval = 2s\nhealth_timeout = 1s\n"
	    "health_retries = 4\nhealth_start_period = 30s\n");
	char	*host, *path;
	int	 port;

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->workers[0].notify, CFG_NOTIFY_SYSTEMD);
	ck_assert_int_eq(cfg->workers[0].health_mode, CFG_HEALTH_READINESS);
	ck_assert_int_eq(cfg->workers[0].health_retries, 4);
	ck_assert_int_eq(cfg->workers[0].health_start_period_ms, 30000);
	cfg_free(cfg);
	cfg = load(WORKER);
	ck_assert_int_eq(cfg->workers[0].notify, CFG_NOTIFY_AUTO);
	ck_assert_int_eq(cfg->workers[0].health_mode, CFG_HEALTH_BOTH);
	ck_assert_ptr_null(cfg->workers[0].health_cmd);
	cfg_free(cfg);
	ck_assert_int_eq(cfg_health_url("http://[::1]/a?b", &host, &port, &path), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(port, 80);
	ck_assert_str_eq(path, "/a?b");
	free(host);
	free(path);
	refused(WORKER "notify = yes\n", 3,
	    "notify: bad value \"yes\" (expected auto, systemd or off)");
	refused(WORKER "health_mode = startup\n", 3,
	    "health_mode: bad value \"startup\" (expected both, liveness or readiness)");
	refused_prefix(WORKER "health_retries = 0\n", 3, "health_retries: bad value");
	refused_prefix(WORKER "health_interval = 0\n", 3, "health_interval: bad duration");
	refused_prefix(WORKER "health_http = http://10.0.0.1/\n", 1,
	    "[worker:w] health_http: expected http://127.0.0.1");
	refused_prefix(WORKER "health_http = https://127.0.0.1/\n", 1,
	    "[worker:w] health_http: expected");
	refused_prefix(WORKER "health_http = http://127.0.0.1:0/\n", 1,
	    "[worker:w] health_http: expected");
	refused(WORKER "health_cmd = true\nhealth_http = http://127.0.0.1/\n", 1,
	    "[worker:w] health_cmd and health_http: one health check per section");
	refused(WORKER "health_cmd = true\nhealth_timeout = 20s\n", 1,
	    "[worker:w] health_timeout is greater than health_interval");
}
END_TEST

/* One random edit of text (a byte changed, inserted or deleted, a line doubled). */
static char *
mutate(const char *text, unsigned *seed)
{
	static const char alphabet[] = "[]=:;#\"'\\ \t\nab:1-_,\x80\xff";
	size_t	 len = strlen(text), at = (size_t)rand_r(seed) % (len + 1), eol;
	char	*out = malloc(2 * len + 2), c = alphabet[rand_r(seed) % (sizeof(alphabet) - 1)];

	memcpy(out, text, at);
	switch (rand_r(seed) % 4) {
	case 0:		/* replace */
		out[at] = c;
		strcpy(out + at + 1, at < len ? text + at + 1 : "");
		break;
	case 1:		/* insert */
		out[at] = c;
		strcpy(out + at + 1, text + at);
		break;
	case 2:		/* delete */
		strcpy(out + at, text + at + (at < len));
		break;
	default:	/* repeat the rest of this line */
		eol = strcspn(text + at, "\n");
		memcpy(out + at, text + at, eol);
		strcpy(out + at + eol, text + at);
		break;
	}
	return out;
}

/*
 * Whatever is damaged in a config, the load either succeeds or names the
 * file and a line that exists; it never crashes (each case is forked, and
 * the suite runs under ASan and valgrind clean).
 */
START_TEST(test_damaged_configs)
{
	char		*path = tu_srcpath("etc/holdfast.conf"), *orig = tu_read_file(path, NULL);
	char		*text, *prefix;
	unsigned	 seed = 20261128;
	int		 lines = 0, refused = 0, line;
	struct cfg	*cfg;

	ck_assert_ptr_nonnull(orig);
	for (const char *p = orig; *p != '\0'; p++)
		lines += *p == '\n';
	ck_assert(asprintf(&prefix, "%s:", conf) > 0);
	for (int i = 0; i < 600; i++) {
		text = mutate(orig, &seed);
		if (i % 3 == 2) {	/* and a second edit now and then */
			char *t2 = mutate(text, &seed);
			free(text);
			text = t2;
		}
		cfg = load(text);
		if (cfg == NULL) {
			refused++;
			ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "%s", err);
			line = atoi(err + strlen(prefix));
			ck_assert_msg(line >= 1 && line <= 2 * lines + 2, "%s", err);
		}
		cfg_free(cfg);
		free(text);
	}
	/* Many edits of a strict file are refused, not all: most of the
	 * example is comments, where an edit is harmless (the more keys are
	 * documented there, the fewer edits land on a value). */
	ck_assert_msg(refused > 60 && refused < 600, "%d of 600 refused", refused);
	if (getenv("TEST_CFG_VERBOSE") != NULL)
		fprintf(stderr, "%d of 600 damaged configs refused\n", refused);
	free(prefix);
	free(orig);
	free(path);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("cfg");
	TCase	*tc = tu_tcase(s, "cfg", 0);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_worker_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_relative_paths_from_file_dir);
	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_unknown_key_and_section);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_worker_sections);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_http_edge_keys);
	tcase_add_test(tc, test_enums);
	tcase_add_test(tc, test_signals);
	tcase_add_test(tc, test_split_command);
	tcase_add_test(tc, test_listen);
	tcase_add_test(tc, test_environment);
	tcase_add_test(tc, test_strings_and_comments);
	tcase_add_test(tc, test_long_and_odd_lines);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_worker_equal);
	tcase_add_test(tc, test_load_for_worker);
	tcase_add_test(tc, test_example_config);
	tcase_add_test(tc, test_example_shows_defaults);
	tcase_add_test(tc, test_every_key_documented);
	tcase_add_test(tc, test_damaged_configs);
	tcase_add_test(tc, test_db_request_timeout);
	tcase_add_test(tc, test_sdnotify_keys);	/* sdnotify */
	return tu_run(s);
}
