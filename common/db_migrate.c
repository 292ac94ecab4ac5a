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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "log.h"
#include "util.h"

#define DB_MIGRATE_LOCK	"7305451287235651380"	/* "holdfast" as an int8 key */

static const char db_sql_lock[] = "SELECT pg_advisory_lock($1::bigint)";
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

/*
 * The async run: a fixed prologue (lock, table, read versions), then for
 * each missing version BEGIN / script / record / COMMIT, then unlock.
 */
struct db_mig {
	void		(*m_done)(struct db_conn *, const struct db_error *);
	int		 m_step;
	int		 m_next;	/* next migration index */
	int		 m_applied;
	int		*m_have;	/* per migration: already applied */
	char		 m_version[16];
};

static void db_mig_step(struct db_conn *, struct db_mig *);

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
	free(m->m_have);
	free(m);
	done(c, e);
}

static void
db_mig_cb(struct db_conn *c, const struct db_error *e, PGresult **res,
    int nres, void *arg)
{
	struct db_mig *m = arg;

	if (e != NULL) {
		db_mig_finish(c, m, e);
		return;
	}
	if (m->m_step == 3) {
		/* versions read: remember which are there (another host may
		 * run a newer build: apply only the missing ones) */
		int i;

		m->m_have = xcalloc(db_nmigrations + 1, sizeof(int));
		for (i = 0; i < db_nmigrations; i++)
			m->m_have[i] = db_migration_applied(nres > 0 ? res[0] : NULL,
			    db_migrations[i].version);
	}
	db_mig_step(c, m);
}

/* Sends the next statement of the run. */
static void
db_mig_step(struct db_conn *c, struct db_mig *m)
{
	const char	*lockp[1] = { DB_MIGRATE_LOCK };
	const char	*verp[1] = { m->m_version };
	struct db_stmt	 s = { NULL, 0, NULL };
	int64_t		 to = c->dc_db->db_cfg.query_timeout_ms;
	int		 sub;

	switch (m->m_step++) {
	case 0:
		s.sql = db_sql_lock, s.nparams = 1, s.params = lockp;
		break;
	case 1:
		s.sql = db_sql_table;
		break;
	case 2:
		s.sql = db_sql_versions;
		break;
	default:
		if ((m->m_step - 4) % 4 == 0 && m->m_step < 1000)
			while (m->m_next < db_nmigrations && m->m_have[m->m_next])
				m->m_next++;
		if (m->m_next >= db_nmigrations) {
			if (m->m_step > 1000) {
				db_mig_finish(c, m, NULL);
				return;
			}
			m->m_step = 1001;
			s.sql = db_sql_unlock, s.nparams = 1, s.params = lockp;
			break;
		}
		sub = (m->m_step - 4) % 4;
		snprintf(m->m_version, sizeof(m->m_version), "%d",
		    db_migrations[m->m_next].version);
		if (sub == 0)
			s.sql = "BEGIN";
		else if (sub == 1)
			s.sql = db_migrations[m->m_next].sql, s.nparams = -1;
		else if (sub == 2)
			s.sql = db_sql_record, s.nparams = 1, s.params = verp;
		else {
			s.sql = "COMMIT";
			log_info("[DB_MIGRATE] version %d (%s) applied",
			    db_migrations[m->m_next].version,
			    db_migrations[m->m_next].name);
			m->m_applied++;
			m->m_next++;
		}
	}
	dbc_exec(c, &s, 1, 0, to, db_mig_cb, m);
}

void
db_migrate_async(struct db_conn *c, void (*done)(struct db_conn *,
    const struct db_error *))
{
	struct db_mig *m = xcalloc(1, sizeof(*m));

	m->m_done = done;
	c->dc_state = DBC_BUSY;
	db_mig_step(c, m);
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
	if (db_mb_exec(pg, db_sql_lock, 1, DB_MIGRATE_LOCK, err, errlen, NULL) == -1 ||
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
