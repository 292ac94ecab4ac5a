/*
 * db_migrate: the schema, brought up to date when the database first
 * answers (workers, asynchronously, on the breaker's first connection) or
 * on demand (holdfast-admin migrate, blocking).
 *
 * Migrations are the files etc/schema/NNNN_name.sql, embedded at build
 * time (common/db_schema.c) and applied in version order. Each one runs in
 * its own transaction together with its row in schema_migrations, so a
 * version is recorded if and only if it was applied. The whole run holds a
 * session-level advisory lock, so any number of processes on any number
 * of hosts starting at once apply each version exactly once: the first
 * applies, the others wait, then find nothing left to do.
 *
 * Waiting for the lock is a poll (pg_try_advisory_lock, then a short
 * pg_sleep, again), never one long pg_advisory_lock: a blocked
 * pg_advisory_lock is cancelled by the session's lock_timeout and
 * statement_timeout (and the client deadline), so a process waiting
 * longer than those while another applies a slow migration would give up
 * with MigrationFailed and take the breaker down. Every statement of
 * the run is short; only a migration itself can take long.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "log.h"
#include "util.h"

#define DB_MIGRATE_LOCK	"7305451287235651380"	/* "holdfast" as an int8 key */
#define DB_MIGRATE_POLL_S "0.1"			/* between two lock attempts */

static const char db_sql_trylock[] = "SELECT pg_try_advisory_lock($1::bigint)";
static const char db_sql_pause[] = "SELECT pg_sleep($1::float8)";
static const char db_sql_unlock[] = "SELECT pg_advisory_unlock($1::bigint)";
static const char db_sql_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version integer PRIMARY KEY, "
    "applied_at timestamptz NOT NULL DEFAULT now())";
static const char db_sql_versions[] = "SELECT version FROM schema_migrations";
static const char db_sql_record[] =
    "INSERT INTO schema_migrations (version) VALUES ($1::integer)";

int
db_schema_version(void)
{
	return db_nmigrations > 0 ? db_migrations[db_nmigrations - 1].version : 0;
}

/* 1 when version appears in the result of db_sql_versions. */
static int
db_migration_applied(const PGresult *r, int version)
{
	int i;

	for (i = 0; r != NULL && i < PQntuples(r); i++)
		if (atoi(PQgetvalue(r, i, 0)) == version)
			return 1;
	return 0;
}

/* 1 when a one-value result says true. */
static int
db_result_true(PGresult **res, int nres)
{
	return nres > 0 && PQntuples(res[0]) == 1 &&
	    strcmp(PQgetvalue(res[0], 0, 0), "t") == 0;
}

/*
 * The async run, one statement per state:
 *
 *   TRYLOCK --not granted--> PAUSE --> TRYLOCK
 *   TRYLOCK --granted--> TABLE --> VERSIONS --> (per missing version:
 *   BEGIN --> SCRIPT --> RECORD --> COMMIT) --> UNLOCK --> done
 *
 * Any error ends the run; the caller drops the connection, which rolls
 * back an open transaction and releases the lock with the session.
 */
enum db_mig_state {
	MIG_TRYLOCK,
	MIG_PAUSE,
	MIG_TABLE,
	MIG_VERSIONS,
	MIG_BEGIN,
	MIG_SCRIPT,
	MIG_RECORD,
	MIG_COMMIT,
	MIG_UNLOCK,
};

struct db_mig {
	void		(*m_done)(struct db_conn *, const struct db_error *);
	enum db_mig_state m_state;
	int		 m_next;	/* index of the migration in hand */
	int		 m_applied;
	int		 m_waited;	/* "waiting" logged */
	int		*m_have;	/* per migration: already applied */
	char		 m_version[16];
};

static void db_mig_cb(struct db_conn *, const struct db_error *, PGresult **,
    int, void *);

static void
db_mig_free(struct db_mig *m)
{
	free(m->m_have);
	free(m);
}

static void
db_mig_finish(struct db_conn *c, struct db_mig *m, const struct db_error *e)
{
	void (*done)(struct db_conn *, const struct db_error *) = m->m_done;

	if (e != NULL)
		log_warnx("[DB_MIGRATE] failed at version %d: %s: %s",
		    m->m_next < db_nmigrations ? db_migrations[m->m_next].version : 0,
		    e->reason, e->message);
	else if (m->m_applied > 0)
		log_info("[DB_MIGRATE] applied %d migration(s), schema version %d",
		    m->m_applied, db_schema_version());
	c->dc_mig = NULL;
	db_mig_free(m);
	done(c, e);
}

/* Sends the statement of state st. */
static void
db_mig_send(struct db_conn *c, struct db_mig *m, enum db_mig_state st)
{
	static const char *const lockp[1] = { DB_MIGRATE_LOCK };
	static const char *const pausep[1] = { DB_MIGRATE_POLL_S };
	const char	*verp[1] = { m->m_version };
	struct db_stmt	 s = { NULL, 0, NULL };

	m->m_state = st;
	switch (st) {
	case MIG_TRYLOCK:
		s = (struct db_stmt){ db_sql_trylock, 1, lockp };
		break;
	case MIG_PAUSE:
		s = (struct db_stmt){ db_sql_pause, 1, pausep };
		break;
	case MIG_TABLE:
		s.sql = db_sql_table;
		break;
	case MIG_VERSIONS:
		s.sql = db_sql_versions;
		break;
	case MIG_BEGIN:
		s.sql = "BEGIN";
		break;
	case MIG_SCRIPT:
		s = (struct db_stmt){ db_migrations[m->m_next].sql, -1, NULL };
		break;
	case MIG_RECORD:
		snprintf(m->m_version, sizeof(m->m_version), "%d",
		    db_migrations[m->m_next].version);
		s = (struct db_stmt){ db_sql_record, 1, verp };
		break;
	case MIG_COMMIT:
		s.sql = "COMMIT";
		break;
	case MIG_UNLOCK:
		s = (struct db_stmt){ db_sql_unlock, 1, lockp };
		break;
	}
	dbc_exec(c, &s, 1, 0, c->dc_db->db_cfg.query_timeout_ms, db_mig_cb, m);
}

/* The first migration at or after m_next not applied yet, else unlock. */
static void
db_mig_next(struct db_conn *c, struct db_mig *m)
{
	while (m->m_next < db_nmigrations && m->m_have[m->m_next])
		m->m_next++;
	db_mig_send(c, m, m->m_next < db_nmigrations ? MIG_BEGIN : MIG_UNLOCK);
}

static void
db_mig_cb(struct db_conn *c, const struct db_error *e, PGresult **res,
    int nres, void *arg)
{
	struct db_mig	*m = arg;
	int		 i;

	if (e != NULL) {
		db_mig_finish(c, m, e);
		return;
	}
	switch (m->m_state) {
	case MIG_TRYLOCK:
		if (db_result_true(res, nres)) {
			db_mig_send(c, m, MIG_TABLE);
			break;
		}
		if (!m->m_waited++)
			log_info("[DB_MIGRATE] another process is migrating: waiting");
		db_mig_send(c, m, MIG_PAUSE);
		break;
	case MIG_PAUSE:
		db_mig_send(c, m, MIG_TRYLOCK);
		break;
	case MIG_TABLE:
		db_mig_send(c, m, MIG_VERSIONS);
		break;
	case MIG_VERSIONS:
		/* Apply every missing version, not only those after the
		 * newest present: another host may run a newer build. */
		m->m_have = xcalloc(db_nmigrations + 1, sizeof(int));
		for (i = 0; i < db_nmigrations; i++)
			m->m_have[i] = db_migration_applied(nres > 0 ? res[0] : NULL,
			    db_migrations[i].version);
		db_mig_next(c, m);
		break;
	case MIG_BEGIN:
		db_mig_send(c, m, MIG_SCRIPT);
		break;
	case MIG_SCRIPT:
		db_mig_send(c, m, MIG_RECORD);
		break;
	case MIG_RECORD:
		db_mig_send(c, m, MIG_COMMIT);
		break;
	case MIG_COMMIT:
		log_info("[DB_MIGRATE] version %d (%s) applied",
		    db_migrations[m->m_next].version, db_migrations[m->m_next].name);
		m->m_applied++;
		m->m_next++;
		db_mig_next(c, m);
		break;
	case MIG_UNLOCK:
		db_mig_finish(c, m, NULL);
		break;
	}
}

void
db_migrate_async(struct db_conn *c, void (*done)(struct db_conn *,
    const struct db_error *))
{
	struct db_mig *m = xcalloc(1, sizeof(*m));

	m->m_done = done;
	c->dc_mig = m;
	c->dc_state = DBC_BUSY;
	db_mig_send(c, m, MIG_TRYLOCK);
}

/* The connection is being closed with a run in flight (db_free). */
void
db_migrate_abandon(struct db_conn *c)
{
	if (c->dc_mig != NULL)
		db_mig_free(c->dc_mig);
	c->dc_mig = NULL;
}

/* The blocking run, for holdfast-admin. Same statements, same order. */
static int
db_mb_exec(PGconn *pg, const char *sql, int np, const char *p, char *err,
    size_t errlen, PGresult **out)
{
	const char	*params[1] = { p };
	PGresult	*r = np < 0 ? PQexec(pg, sql) :
	    PQexecParams(pg, sql, np, NULL, params, NULL, NULL, 0);
	ExecStatusType	 st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%.*s", (int)strcspn(PQresultErrorMessage(r),
		    "\n"), PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	if (out != NULL)
		*out = r;
	else
		PQclear(r);
	return 0;
}

static int
db_mb_apply(PGconn *pg, int i, char *err, size_t errlen)
{
	char ver[16];

	snprintf(ver, sizeof(ver), "%d", db_migrations[i].version);
	if (db_mb_exec(pg, "BEGIN", 0, NULL, err, errlen, NULL) == -1 ||
	    db_mb_exec(pg, db_migrations[i].sql, -1, NULL, err, errlen, NULL) == -1 ||
	    db_mb_exec(pg, db_sql_record, 1, ver, err, errlen, NULL) == -1 ||
	    db_mb_exec(pg, "COMMIT", 0, NULL, err, errlen, NULL) == -1)
		return -1;
	log_info("[DB_MIGRATE] version %d (%s) applied", db_migrations[i].version,
	    db_migrations[i].name);
	return 0;
}

/* Server notices ("relation ... already exists, skipping") are for the
 * debug log, not for the operator's terminal (libpq prints them to
 * stderr by default). */
static void
db_mb_notice(void *arg, const char *msg)
{
	log_debug("db notice: %.*s", (int)strcspn(msg, "\n"), msg);
}

/* Takes the migration lock, polling like the async run. */
static int
db_mb_lock(PGconn *pg, char *err, size_t errlen)
{
	PGresult	*r;
	int		 got, waited = 0;

	for (;;) {
		if (db_mb_exec(pg, db_sql_trylock, 1, DB_MIGRATE_LOCK, err, errlen,
		    &r) == -1)
			return -1;
		got = db_result_true(&r, 1);
		PQclear(r);
		if (got)
			return 0;
		if (!waited++)
			log_info("[DB_MIGRATE] another process is migrating: waiting");
		if (db_mb_exec(pg, db_sql_pause, 1, DB_MIGRATE_POLL_S, err, errlen,
		    NULL) == -1)
			return -1;
	}
}

/*
 * Connects (blocking), applies what is missing, disconnects. Returns the
 * number of migrations applied, or -1 with a reason in err.
 */
int
db_migrate_blocking(const char *conninfo, char *err, size_t errlen)
{
	PGconn		*pg = PQconnectdb(conninfo);
	PGresult	*vers = NULL;
	int		 i, n = 0;

	if (PQstatus(pg) != CONNECTION_OK) {
		snprintf(err, errlen, "%.*s", (int)strcspn(PQerrorMessage(pg), "\n"),
		    PQerrorMessage(pg));
		PQfinish(pg);
		return -1;
	}
	PQsetNoticeProcessor(pg, db_mb_notice, NULL);
	if (db_mb_lock(pg, err, errlen) == -1 ||
	    db_mb_exec(pg, db_sql_table, 0, NULL, err, errlen, NULL) == -1 ||
	    db_mb_exec(pg, db_sql_versions, 0, NULL, err, errlen, &vers) == -1)
		n = -1;
	for (i = 0; n >= 0 && i < db_nmigrations; i++) {
		if (db_migration_applied(vers, db_migrations[i].version))
			continue;
		if (db_mb_apply(pg, i, err, errlen) == -1)
			n = -1;
		else
			n++;
	}
	PQclear(vers);
	PQfinish(pg);	/* ends the session: the advisory lock goes with it */
	return n;
}
