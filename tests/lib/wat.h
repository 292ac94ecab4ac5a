/*
 * wat: the rig the holdfast-whatsapp integration suites share:
 * a real PostgreSQL (pgt), a graphsink playing the Graph API, a config
 * file, and worker processes started and stopped by pid.
 */
#ifndef HOLDFAST_WAT_H
#define HOLDFAST_WAT_H

#include <sys/types.h>

#define WAT_MAX_WORKERS	8

struct wat {
	struct pgt	*pg;
	char		*dir;
	const char	*db;		/* database name */
	char		*conninfo;	/* the worker's, when not pgt's (a proxy) */
	pid_t		 gs_pid;
	int		 gs_port;
	char		*gs_log;
	char		*conf;
	pid_t		 workers[WAT_MAX_WORKERS];
	char		*logs[WAT_MAX_WORKERS];
	int		 nworkers;
};

/* A cluster with the schema, and graphsink answering script (or NULL). */
void wat_init(struct wat *, const char *pg_opts, const char *gs_args);
/* Stops everything and removes the files; then fails the test if any
 * conversation's stored api_body differs from its render (schema 0007). */
void wat_done(struct wat *);
#define WAT_STALE_BODIES "SELECT count(*) FROM conversations c " \
	"WHERE api_body IS DISTINCT FROM holdfast_conversation_render(c)"

/* Points the workers' conninfo at another port on 127.0.0.1 (a proxy). */
void wat_use_port(struct wat *, int port);
/* Writes the config; extra lines go into [whatsapp] (short timeouts are
 * the default: backoff 100ms..1s, poll 1s, idle 2s). */
void wat_config(struct wat *, const char *whatsapp_extra);
/* The same with graph_api_url's scheme ("https" with graphsink -T/-K). */
void wat_config_url(struct wat *, const char *whatsapp_extra, const char *scheme);
/* Starts one more worker instance; returns its index. */
int wat_worker(struct wat *);
/* The same with extra environment entries ("K=V", NULL-terminated). */
int wat_worker_env(struct wat *, char *const env[]);
void wat_stop_worker(struct wat *, int i);
/* SQL on the test database: status 0 required; returns the output. */
char *wat_sql(struct wat *, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
long long wat_scalar(struct wat *, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Polls until sql returns want, up to timeout_ms; returns the last value. */
long long wat_wait_scalar(struct wat *, long long want, int timeout_ms, const char *sql);
/* Inserts n inbound text messages for wa_id (ids from tag), sent now. */
void wat_inbound(struct wat *, const char *wa_id, const char *tag, int n, const char *text);
/*
 * A failed assertion ends a forked test at once (no cleanup), and the
 * worker and graphsink it started would live on. Every process the rig
 * starts is recorded in a file named after the Check runner; this
 * teardown, added with tcase_add_unchecked_fixture(tc, NULL, ...), runs in
 * the runner and SIGKILLs (by pid, after checking what it is) whatever of
 * them is still alive.
 */
void wat_reap_strays(void);
/* graphsink's request count. */
long long wat_gs_count(struct wat *);
/* Appends answers to graphsink's script. */
void wat_gs_script(struct wat *, const char *script);

#endif
