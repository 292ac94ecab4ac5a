/*
 * pgt: a real PostgreSQL 15 cluster for tests.
 *
 * initdb runs once per test run into a template directory (cached under
 * $TMPDIR by build id) and is copied per cluster; each cluster listens on
 * 127.0.0.1 on a free port with a private Unix socket dir. As root (CI),
 * the server runs as the `postgres` user in a directory it owns. Every
 * cluster is stopped and removed at exit, even when a test fails.
 */
#ifndef HOLDFAST_PGT_H
#define HOLDFAST_PGT_H

#include <sys/types.h>

struct pgt;

/* Starts a new cluster; aborts the test on failure. opts may add
 * postgresql.conf lines ("max_connections=5\n"), or be NULL. */
struct pgt *pgt_start(const char *opts);
void pgt_destroy(struct pgt *);
int pgt_port(const struct pgt *);
/* Creates database name (fresh, from template0 with the schema applied if
 * with_schema) and returns "host=127.0.0.1 port=N dbname=name user=..."
 * (static storage inside the pgt; valid until destroy). */
const char *pgt_createdb(struct pgt *, const char *name, int with_schema);
const char *pgt_conninfo(struct pgt *, const char *dbname);
/* Server control: mode "fast" | "immediate"; kill9 is SIGKILL of the
 * postmaster; freeze/thaw SIGSTOP/SIGCONT the postmaster and its backends. */
int pgt_stop(struct pgt *, const char *mode);
int pgt_restart(struct pgt *);	/* start again on the same port */
int pgt_kill9(struct pgt *);
int pgt_freeze(struct pgt *);
int pgt_thaw(struct pgt *);
/* psql -XAt -c sql on dbname; returns exit status, output (trimmed) in *out. */
int pgt_psql(struct pgt *, const char *dbname, const char *sql, char **out);
/* Convenience: a single integer result of sql, or -1. */
long long pgt_scalar(struct pgt *, const char *dbname, const char *sql);
const char *pgt_bindir(void);	/* $PG_BINDIR, or what configure found */

/* Additions (db helper): where things are, and a real streaming standby. */
const char *pgt_datadir(const struct pgt *);
const char *pgt_logfile(const struct pgt *);	/* the server's log */
pid_t pgt_postmaster_pid(const struct pgt *);
/* A standby of primary (pg_basebackup -R, streaming), started. */
struct pgt *pgt_standby(struct pgt *primary);
int pgt_promote(struct pgt *);	/* pg_ctl promote -w */

#endif
