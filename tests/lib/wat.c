/*
 * wat: see wat.h.
 */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgt.h"
#include "tu.h"
#include "wat.h"

static char *
wat_vstrf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) == -1)
		ck_abort_msg("vasprintf failed");
	return s;
}

static char *
wat_strf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = wat_vstrf(fmt, ap);
	va_end(ap);
	return s;
}

/* The stray list of the Check runner with pid runner. */
static char *
wat_stray_file(pid_t runner)
{
	const char *tmp = getenv("TMPDIR");

	return wat_strf("%s/holdfast-wat-%ld.pids", tmp != NULL && *tmp ? tmp : "/tmp",
	    (long)runner);
}

/* Called in the forked test: its parent is the runner. */
static void
wat_track(pid_t pid)
{
	char	*path = wat_stray_file(getppid());
	FILE	*f = fopen(path, "a");

	if (f != NULL) {
		fprintf(f, "%ld\n", (long)pid);
		fclose(f);
	}
	free(path);
}

/* 1 when pid is still one of ours (a worker or graphsink of this rig). */
static int
wat_is_ours(long pid)
{
	char	*path = wat_strf("/proc/%ld/cmdline", pid), buf[4096];
	FILE	*f = fopen(path, "r");
	size_t	 n = 0;

	free(path);
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return strstr(buf, "/holdfast-wa-") != NULL &&
	    (strstr(buf, "holdfast-whatsapp") != NULL || strstr(buf, "graphsink") != NULL);
}

void
wat_reap_strays(void)
{
	char	*path = wat_stray_file(getpid());
	FILE	*f = fopen(path, "r");
	long	 pid;

	if (f != NULL) {
		while (fscanf(f, "%ld", &pid) == 1)
			if (pid > 1 && wat_is_ours(pid)) {
				fprintf(stderr, "reaping stray pid %ld\n", pid);
				kill((pid_t)pid, SIGKILL);
			}
		fclose(f);
		unlink(path);
	}
	free(path);
}

static int
wat_file_exists(void *arg)
{
	return access(arg, F_OK) == 0;
}

static void
wat_graphsink(struct wat *t, const char *gs_args)
{
	char	*portfile = wat_strf("%s/gs.port", t->dir), *cmd, *out = NULL;

	t->gs_log = wat_strf("%s/gs.requests", t->dir);
	/* Through sh so the test can pass options as one string. */
	cmd = wat_strf("exec %s/tests/tools/graphsink -P %s -t test-token -r %s %s",
	    tu_builddir(), portfile, t->gs_log, gs_args != NULL ? gs_args : "");
	{
		char *argv[] = { "/bin/sh", "-c", cmd, NULL };
		char *log = wat_strf("%s/gs.log", t->dir);

		t->gs_pid = tu_spawn(argv, NULL, log);
		wat_track(t->gs_pid);
		free(log);
	}
	ck_assert_msg(tu_wait_for(wat_file_exists, portfile, 5000) == 1, "graphsink did not start");
	out = tu_read_file(portfile, NULL);
	t->gs_port = atoi(out);
	free(out);
	free(cmd);
	free(portfile);
}

void
wat_init(struct wat *t, const char *pg_opts, const char *gs_args)
{
	memset(t, 0, sizeof(*t));
	t->dir = tu_tmpdir("wa");
	t->pg = pgt_start(pg_opts);
	t->db = "wa";
	pgt_createdb(t->pg, t->db, 1);
	wat_graphsink(t, gs_args);
	wat_config(t, NULL);
}

void
wat_use_port(struct wat *t, int port)
{
	const char	*ci = pgt_conninfo(t->pg, t->db), *p = strstr(ci, "port=");
	const char	*rest;

	ck_assert_ptr_nonnull(p);
	rest = strchr(p, ' ');
	free(t->conninfo);
	t->conninfo = wat_strf("%.*sport=%d%s", (int)(p - ci), ci, port, rest != NULL ? rest : "");
}

void
wat_done(struct wat *t)
{
	long long stale;

	for (int i = 0; i < t->nworkers; i++)
		if (t->workers[i] > 0)
			tu_stop(t->workers[i], 5000);
	if (t->gs_pid > 0)
		tu_stop(t->gs_pid, 2000);
	/* Whatever the scenario wrote, each conversation's stored API body
	 * is its render from the rows as they are now (-1: the server is
	 * down, as a test may leave it). */
	stale = pgt_scalar(t->pg, t->db, WAT_STALE_BODIES);
	pgt_destroy(t->pg);
	free(t->conninfo);
	free(t->conf);
	free(t->gs_log);
	for (int i = 0; i < t->nworkers; i++)
		free(t->logs[i]);
	if (getenv("WAT_KEEP") != NULL)
		fprintf(stderr, "kept %s\n", t->dir);
	else
		tu_rmrf(t->dir);
	free(t->dir);
	ck_assert_msg(stale <= 0, "%lld conversations with a stale api_body", stale);
}

/* 1 when the [whatsapp] lines in extra set key themselves. */
static int
wat_overrides(const char *extra, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = extra; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, key, n) == 0 && (p[n] == ' ' || p[n] == '='))
			return 1;
	}
	return 0;
}

void
wat_config(struct wat *t, const char *extra)
{
	wat_config_url(t, extra, "http");
}

void
wat_config_url(struct wat *t, const char *extra, const char *scheme)
{
	static const char *dflt[][2] = {
		{ "session_idle_timeout", "2s" }, { "poll_interval", "1s" },
		{ "send_timeout", "2s" },
	};
	char *text, *wa = strdup(extra != NULL ? extra : ""), *tmp;

	for (size_t i = 0; i < sizeof(dflt) / sizeof(dflt[0]); i++) {
		if (wat_overrides(extra, dflt[i][0]))
			continue;
		tmp = wat_strf("%s%s = %s\n", wa, dflt[i][0], dflt[i][1]);
		free(wa);
		wa = tmp;
	}
	free(t->conf);
	t->conf = wat_strf("%s/holdfast.conf", t->dir);
	text = wat_strf(
	    "[holdfast]\nlog_level = info\n"
	    "[database]\nconninfo = %s\npool_size = 2\nbackoff_initial = 100ms\n"
	    "backoff_max = 1s\nconnect_timeout = 2s\n"
	    "[whatsapp]\naccess_token = test-token\n"
	    "graph_api_url = %s://127.0.0.1:%d/\napi_version = v21.0\n%s\n"
	    "[worker:whatsapp]\ncommand = holdfast-whatsapp\n",
	    t->conninfo != NULL ? t->conninfo : pgt_conninfo(t->pg, t->db), scheme, t->gs_port, wa);
	ck_assert_int_eq(tu_write_file(t->conf, text), 0);
	free(text);
	free(wa);
}

int
wat_worker(struct wat *t)
{
	return wat_worker_env(t, NULL);
}

int
wat_worker_env(struct wat *t, char *const env[])
{
	int	 i = t->nworkers++;
	char	*bin = tu_buildpath("workers/whatsapp/holdfast-whatsapp");
	char	 inst[32];

	ck_assert_int_lt(i, WAT_MAX_WORKERS);
	snprintf(inst, sizeof(inst), "whatsapp:%d", i);
	{
		char *argv[] = { bin, "-c", t->conf, "-i", inst, NULL };

		t->logs[i] = wat_strf("%s/worker%d.log", t->dir, i);
		t->workers[i] = tu_spawn(argv, env, t->logs[i]);
		wat_track(t->workers[i]);
	}
	free(bin);
	return i;
}

void
wat_stop_worker(struct wat *t, int i)
{
	int status = tu_stop(t->workers[i], 5000);

	ck_assert_msg(status == 0, "worker %d exit status %d", i, status);
	t->workers[i] = 0;
}

char *
wat_sql(struct wat *t, const char *fmt, ...)
{
	va_list	 ap;
	char	*sql, *out = NULL;
	int	 rc;

	va_start(ap, fmt);
	sql = wat_vstrf(fmt, ap);
	va_end(ap);
	rc = pgt_psql(t->pg, t->db, sql, &out);
	ck_assert_msg(rc == 0, "psql %s: %s", sql, out != NULL ? out : "");
	free(sql);
	return out;
}

long long
wat_scalar(struct wat *t, const char *fmt, ...)
{
	va_list		 ap;
	char		*sql;
	long long	 v;

	va_start(ap, fmt);
	sql = wat_vstrf(fmt, ap);
	va_end(ap);
	v = pgt_scalar(t->pg, t->db, sql);
	free(sql);
	return v;
}

long long
wat_wait_scalar(struct wat *t, long long want, int timeout_ms, const char *sql)
{
	long long v = -1;

	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		if ((v = pgt_scalar(t->pg, t->db, sql)) == want)
			return v;
		usleep(50 * 1000);
	}
	return v;
}

void
wat_inbound(struct wat *t, const char *wa_id, const char *tag, int n, const char *text)
{
	free(wat_sql(t,
	    "INSERT INTO wa_messages (wamid, phone_number_id, wa_id, direction, body, sent_at) "
	    "SELECT 'wamid.%s.' || g, '106540352242922', '%s', 'in', '%s', now() "
	    "FROM generate_series(1, %d) g", tag, wa_id, text, n));
}

long long
wat_gs_count(struct wat *t)
{
	/* From its request log, so it works for an HTTPS graphsink too. */
	return access(t->gs_log, F_OK) == 0 ? tu_count_in_file(t->gs_log, "{\"n\":") : 0;
}

void
wat_gs_script(struct wat *t, const char *script)
{
	ck_assert_int_eq(tu_http(t->gs_port, "POST", "/_script", NULL, script, strlen(script),
	    NULL, NULL, 2000), 200);
}
