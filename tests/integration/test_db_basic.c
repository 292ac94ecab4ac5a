/*
 * test_db_basic: what workers rely on from the DB layer when the database
 * is fine: parameterised queries, per-session settings and
 * application_name, transactions that roll back as a whole and retry on
 * serialization failures, LISTEN with resync, pre-ping and recycling
 * without a caller-visible error, migrations applied exactly once and
 * without a single failure when several processes start together (even
 * while the lock is held past their session timeouts), holdfast-admin's
 * migrate quiet on stderr, unknown conninfo options ignored, host names
 * resolved without blocking, and failover to a promoted streaming standby
 * (multi-host conninfo).
 */
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbt.h"
#include "log.h"
#include "pgt.h"
#include "tu.h"
#include "util.h"

struct env {
	struct pgt		*pg;
	struct event_base	*base;
	struct db		*db;
	struct cfg_database	 cfg;
	char			 conninfo[512];
};

static void
env_up(struct env *e)
{
	memset(e, 0, sizeof(*e));
	dbt_log_capture();
	e->pg = pgt_start(NULL);
	pgt_createdb(e->pg, "hf", 0);
	snprintf(e->conninfo, sizeof(e->conninfo), "%s", pgt_conninfo(e->pg, "hf"));
	dbt_cfg(&e->cfg, e->conninfo);
	e->base = event_base_new();
}

static void
env_start(struct env *e)
{
	e->db = db_new(e->base, &e->cfg, "test", "test_loop");
	db_start(e->db);
	ck_assert_msg(dbt_wait_up(e->base, e->db, 1, 5000), "DB never up");
}

static void
env_down(struct env *e)
{
	db_free(e->db);
	event_base_free(e->base);
	pgt_destroy(e->pg);
}

START_TEST(test_query_and_session)
{
	struct env		 e;
	struct dbt_res		 r;
	const char *const	 p[] = { "41", NULL };
	struct db_error		 de;

	env_up(&e);
	e.cfg.pool_size = 1;
	env_start(&e);
	ck_assert_int_eq(dbt_log_count("[DB_POOL] pool_pre_ping=true pool_recycle=300s "
	    "statement_timeout=2000ms size=1 "), 1);
	dbt_query(e.base, e.db, "SELECT $1::int + 1", 1, p, &r);
	ck_assert(r.ok);
	ck_assert_str_eq(r.value, "42");
	dbt_query(e.base, e.db, "SELECT $1::text IS NULL", 1, p + 1, &r);
	ck_assert_str_eq(r.value, "t");
	dbt_query(e.base, e.db, "SELECT application_name FROM pg_stat_activity "
	    "WHERE pid = pg_backend_pid()", 0, NULL, &r);
	ck_assert_str_eq(r.value, "holdfast-test");
	dbt_query(e.base, e.db, "SHOW statement_timeout", 0, NULL, &r);
	ck_assert_str_eq(r.value, "2s");
	dbt_query(e.base, e.db, "SHOW idle_in_transaction_session_timeout", 0, NULL, &r);
	ck_assert_str_eq(r.value, "1min");
	dbt_query(e.base, e.db, "SHOW tcp_user_timeout", 0, NULL, &r);
	ck_assert(r.ok);
	/* the caller's bug: not a 503, and the DB stays up */
	dbt_query(e.base, e.db, "SELECT 1/0", 0, NULL, &r);
	ck_assert_int_eq(r.cls, DB_CLASS_DATA);
	de.cls = r.cls;
	ck_assert(!db_error_unavailable(&de));
	dbt_query(e.base, e.db, "SELECT * FROM nope", 0, NULL, &r);
	ck_assert_str_eq(r.reason, "UndefinedTable");
	ck_assert(db_is_up(e.db));
	/* the session lost our prepared statements (as behind a
	 * transaction-mode pooler): the caller does not notice */
	dbt_query(e.base, e.db, "SELECT $1::int + 1", 1, p, &r);
	dbt_query(e.base, e.db, "DEALLOCATE ALL", 0, NULL, &r);
	ck_assert_msg(r.ok, "%s", r.message);
	dbt_query(e.base, e.db, "SELECT $1::int + 1", 1, p, &r);
	ck_assert_msg(r.ok, "%s %s", r.reason, r.message);
	ck_assert_str_eq(r.value, "42");
	/* migrated on the first connect */
	dbt_query(e.base, e.db, "SELECT count(*) FROM schema_migrations", 0, NULL, &r);
	ck_assert_int_eq(atoi(r.value), db_schema_version());
	env_down(&e);
}
END_TEST

START_TEST(test_batch_rolls_back)
{
	struct env		 e;
	struct dbt_res		 r;
	const char *const	 a[] = { "u1@example.com" };
	const struct db_stmt	 ok[] = {
		{ "INSERT INTO users (email, password_hash) VALUES ($1, 'x')", 1, a },
		{ "SELECT count(*) FROM users", 0, NULL },
	};
	const struct db_stmt	 bad[] = {
		{ "INSERT INTO users (email, password_hash) VALUES ('u2@x', 'x')", 0, NULL },
		{ "INSERT INTO users (email, password_hash) VALUES ($1, 'x')", 1, a },
		{ "SELECT 1", 0, NULL },
	};

	env_up(&e);
	env_start(&e);
	memset(&r, 0, sizeof(r));
	db_batch(e.db, "test", ok, 2, dbt_cb(), &r);
	ck_assert(dbt_run_until(e.base, &r.done, 5000));
	ck_assert(r.ok);
	ck_assert_str_eq(r.value, "1");
	memset(&r, 0, sizeof(r));
	db_batch(e.db, "test", bad, 3, dbt_cb(), &r);
	ck_assert(dbt_run_until(e.base, &r.done, 5000));
	ck_assert(!r.ok);
	ck_assert_str_eq(r.reason, "UniqueViolation");
	/* the whole batch was rolled back: u2 is not there */
	ck_assert_int_eq(pgt_scalar(e.pg, "hf", "SELECT count(*) FROM users"), 1);
	dbt_query(e.base, e.db, "SELECT count(*) FROM users", 0, NULL, &r);
	ck_assert_str_eq(r.value, "1");
	env_down(&e);
}
END_TEST

START_TEST(test_batch_retries_deadlock)
{
	struct env		 e;
	struct dbt_res		 r;
	/* fails with 40P01-like 40001 twice, then succeeds: a counter in a
	 * table (outside the batch's transaction via dblink is overkill;
	 * a sequence is not transactional, so it counts attempts) */
	const struct db_stmt	 s[] = {
		{ "SELECT CASE WHEN nextval('tries') < 3 THEN "
		    "raise_serialization() ELSE 0 END", 0, NULL },
		{ "SELECT currval('tries')", 0, NULL },
	};

	env_up(&e);
	ck_assert_int_eq(pgt_psql(e.pg, "hf", "CREATE SEQUENCE tries; "
	    "CREATE FUNCTION raise_serialization() RETURNS int LANGUAGE plpgsql AS "
	    "$$BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END$$", NULL), 0);
	env_start(&e);
	memset(&r, 0, sizeof(r));
	db_batch(e.db, "test", s, 2, dbt_cb(), &r);
	ck_assert(dbt_run_until(e.base, &r.done, 5000));
	ck_assert_msg(r.ok, "%s", r.reason);
	ck_assert_str_eq(r.value, "3");
	/* a fourth attempt is never made: 3 tries, then the error */
	ck_assert_int_eq(pgt_psql(e.pg, "hf", "SELECT setval('tries', 1, false)", NULL), 0);
	ck_assert_int_eq(pgt_psql(e.pg, "hf", "ALTER SEQUENCE tries MINVALUE -100", NULL), 0);
	ck_assert_int_eq(pgt_psql(e.pg, "hf", "SELECT setval('tries', -10)", NULL), 0);
	memset(&r, 0, sizeof(r));
	db_batch(e.db, "test", s, 2, dbt_cb(), &r);
	ck_assert(dbt_run_until(e.base, &r.done, 5000));
	ck_assert(!r.ok);
	ck_assert_int_eq(r.cls, DB_CLASS_TRANSACTION);
	ck_assert_str_eq(r.reason, "SerializationFailure");
	ck_assert_int_eq(pgt_scalar(e.pg, "hf", "SELECT last_value FROM tries"), -7);
	env_down(&e);
}
END_TEST

static int notified, resynced;
static char last_payload[64];

static void
on_notify(const char *ch, const char *payload, void *arg)
{
	notified++;
	snprintf(last_payload, sizeof(last_payload), "%s", payload);
}

static void
on_resync(void *arg)
{
	resynced++;
}

START_TEST(test_listen_resync)
{
	struct env	e;
	struct dbt_res	r;
	char		sql[256];
	int		n;

	env_up(&e);
	env_start(&e);
	db_listen(e.db, "holdfast_wa", on_notify, on_resync, NULL);
	ck_assert(dbt_run_until(e.base, &resynced, 3000));
	ck_assert_int_eq(pgt_psql(e.pg, "hf", "SELECT pg_notify('holdfast_wa', 'hello')",
	    NULL), 0);
	ck_assert(dbt_run_until(e.base, &notified, 3000));
	ck_assert_str_eq(last_payload, "hello");
	/* the inbox trigger of the schema wakes listeners too */
	n = notified;
	ck_assert_int_eq(pgt_psql(e.pg, "hf", "INSERT INTO wa_messages (wamid, "
	    "phone_number_id, wa_id, direction, sent_at) VALUES ('w1', 'p', 'c', 'in', "
	    "now())", NULL), 0);
	dbt_run_for(e.base, 300);
	ck_assert_int_gt(notified, n);
	ck_assert_str_eq(last_payload, "wa_messages");
	/* the LISTEN session is killed: re-LISTEN and resync */
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM "
	    "pg_stat_activity WHERE query LIKE 'LISTEN%%'");
	ck_assert_int_eq(pgt_psql(e.pg, "postgres", sql, NULL), 0);
	n = resynced + 1;
	{
		uint64_t end = hf_now_mono_ms() + 3000;

		while (resynced < n && hf_now_mono_ms() < end)
			dbt_run_for(e.base, 10);
	}
	ck_assert_int_eq(resynced, n);
	dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
	ck_assert(r.ok);
	env_down(&e);
}
END_TEST

START_TEST(test_recycle_and_preping)
{
	struct env	e;
	struct dbt_res	r;
	struct db_stats	st;
	uint64_t	end;
	int		n = 0;

	env_up(&e);
	e.cfg.pool_recycle_ms = 300;
	e.cfg.pre_ping_after_ms = 100;
	env_start(&e);
	end = hf_now_mono_ms() + 1500;
	while (hf_now_mono_ms() < end) {
		dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
		ck_assert_msg(r.ok, "caller saw %s", r.reason);
		dbt_run_for(e.base, n++ % 2 ? 150 : 20);
	}
	db_get_stats(e.db, &st);
	ck_assert_uint_gt(st.recycled, 0);
	ck_assert_uint_gt(st.pre_pings, 0);
	ck_assert_uint_eq(st.errors, 0);
	env_down(&e);
}
END_TEST

START_TEST(test_unknown_option_ignored)
{
	struct env	e;
	struct dbt_res	r;

	env_up(&e);
	snprintf(e.conninfo, sizeof(e.conninfo), "%s load_balance_hosts=random",
	    pgt_conninfo(e.pg, "hf"));
	env_start(&e);
	dbt_query(e.base, e.db, "SELECT 1", 0, NULL, &r);
	ck_assert(r.ok);
	ck_assert_int_eq(dbt_log_count("\"load_balance_hosts\" is not known"), 1);
	env_down(&e);
}
END_TEST

START_TEST(test_host_name_resolved)
{
	struct env	e;
	struct dbt_res	r;

	/* a DNS name (here from /etc/hosts) is resolved by the layer, not by
	 * libpq's blocking getaddrinfo(), and reaches the server */
	env_up(&e);
	snprintf(e.conninfo, sizeof(e.conninfo), "host=localhost port=%d "
	    "dbname=hf user=postgres", pgt_port(e.pg));
	env_start(&e);
	dbt_query(e.base, e.db, "SELECT inet_client_addr()::text", 0, NULL, &r);
	ck_assert_msg(r.ok, "%s", r.message);
	ck_assert_str_eq(r.value, "127.0.0.1/32");
	env_down(&e);
}
END_TEST

static int when_up_calls;

static void
on_when_up(void *arg)
{
	when_up_calls++;
}

START_TEST(test_cancel_and_when_up)
{
	struct env	 e;
	struct dbt_res	 r1, r2;
	struct db_req	*q;

	env_up(&e);
	e.db = db_new(e.base, &e.cfg, "test", "test_loop");
	/* before the DB is known: waits, then runs once it is up */
	db_when_up(e.db, on_when_up, NULL);
	db_start(e.db);
	ck_assert_int_eq(when_up_calls, 0);
	ck_assert(dbt_run_until(e.base, &when_up_calls, 5000));
	/* when up already: soon, from the loop, not from inside the call */
	db_when_up(e.db, on_when_up, NULL);
	ck_assert_int_eq(when_up_calls, 1);
	dbt_run_for(e.base, 20);
	ck_assert_int_eq(when_up_calls, 2);
	/* a cancelled request never calls back; the others do */
	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	q = db_query(e.db, "test", "SELECT pg_sleep(0.2)", 0, NULL, dbt_cb(), &r1);
	db_query(e.db, "test", "SELECT 2", 0, NULL, dbt_cb(), &r2);
	db_cancel(q);
	ck_assert(dbt_run_until(e.base, &r2.done, 3000));
	dbt_run_for(e.base, 400);
	ck_assert_int_eq(r1.done, 0);
	ck_assert(r2.ok);
	env_down(&e);
}
END_TEST

/*
 * One of the processes of test_migrate_concurrently: waits on the barrier
 * (a pipe the parent closes), then starts the DB layer. Exits 0 when it
 * came up within 10 s.
 */
static int
migrate_child(const char *conninfo, int barrier)
{
	struct event_base	*base;
	struct cfg_database	 cfg;
	struct db		*db;
	char			 b;
	int			 up;

	while (read(barrier, &b, 1) == -1)
		;
	base = event_base_new();
	dbt_cfg(&cfg, conninfo);
	cfg.connect_timeout_ms = 5000;
	db = db_new(base, &cfg, "test", "migrate");
	db_start(db);
	up = dbt_wait_up(base, db, 1, 10000);
	db_free(db);
	event_base_free(base);
	return up ? 0 : 1;
}

/* Holds the migration lock for hold_s seconds, as a process applying a
 * slow migration would. */
static pid_t
migrate_holder(struct pgt *pg, const char *dbname, const char *hold_s)
{
	char	sql[128];
	pid_t	pid;

	snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(7305451287235651380), "
	    "pg_sleep(%s)", hold_s);
	if ((pid = fork()) == 0)
		_exit(pgt_psql(pg, dbname, sql, NULL) == 0 ? 0 : 1);
	usleep(300 * 1000);	/* holding before the others start */
	return pid;
}

/*
 * One round: nproc processes released at once on a fresh database without
 * the schema, optionally while another session holds the migration lock
 * for longer than their statement_timeout (2 s) and lock_timeout.
 */
static void
migrate_round(struct env *e, const char *dbname, const char *hold_s)
{
	pid_t		pids[4], holder = -1;
	int		barrier[2], i, st, n0 = dbt_log_count(") applied");
	char		conninfo[512];

	pgt_createdb(e->pg, dbname, 0);
	snprintf(conninfo, sizeof(conninfo), "%s", pgt_conninfo(e->pg, dbname));
	ck_assert_int_eq(pipe(barrier), 0);
	if (hold_s != NULL)
		holder = migrate_holder(e->pg, dbname, hold_s);
	for (i = 0; i < 4; i++)
		if ((pids[i] = fork()) == 0) {
			close(barrier[1]);
			_exit(migrate_child(conninfo, barrier[0]));
		}
	close(barrier[0]);
	close(barrier[1]);	/* go */
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d", i);
	}
	if (holder > 0)
		ck_assert_int_eq(waitpid(holder, &st, 0), holder);
	/* nobody failed, not even once and recovered */
	if (dbt_log_count("[DB_MIGRATE] failed") != 0)
		ck_abort_msg("%s", dbt_log_text());
	ck_assert_int_eq(dbt_log_count("[DB_DOWN]"), 0);
	/* each version applied by exactly one of the four */
	ck_assert_int_eq(dbt_log_count(") applied") - n0, db_schema_version());
	ck_assert_int_eq(pgt_scalar(e->pg, dbname, "SELECT count(*) FROM schema_migrations"),
	    db_schema_version());
	ck_assert_int_eq(pgt_scalar(e->pg, dbname, "SELECT count(*) FROM pg_tables "
	    "WHERE tablename IN ('users','auth_tokens','wa_messages','conversations',"
	    "'wa_outbox','calls','schema_migrations')"), 7);
}

/*
 * Several processes starting together on a fresh database apply each
 * migration exactly once and none of them sees a failure: not when they
 * race for the lock, and not when the lock is held (a slow migration
 * elsewhere) longer than their session timeouts.
 */
START_TEST(test_migrate_concurrently)
{
	struct env	e;

	env_up(&e);
	migrate_round(&e, "m1", NULL);
	migrate_round(&e, "m2", NULL);
	migrate_round(&e, "m3", "2.5");
	ck_assert_int_ge(dbt_log_count("another process is migrating: waiting"), 4);
	e.db = NULL;
	event_base_free(e.base);
	pgt_destroy(e.pg);
}
END_TEST

/*
 * holdfast-admin's run: waits for the lock like the workers, applies what
 * is missing, and prints no server NOTICE ("relation ... already exists,
 * skipping") on the operator's terminal.
 */
START_TEST(test_migrate_blocking)
{
	struct env	 e;
	char		 err[256], path[64], *text;
	pid_t		 holder;
	int		 fd, saved, st;

	env_up(&e);
	pgt_createdb(e.pg, "mb", 0);
	snprintf(path, sizeof(path), "/tmp/holdfast-mb-%d.err", (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(2);
	dup2(fd, 2);
	holder = migrate_holder(e.pg, "mb", "1");
	ck_assert_int_eq(db_migrate_blocking(pgt_conninfo(e.pg, "mb"), err,
	    sizeof(err)), db_schema_version());
	ck_assert_int_eq(db_migrate_blocking(pgt_conninfo(e.pg, "mb"), err,
	    sizeof(err)), 0);
	dup2(saved, 2);
	close(fd);
	ck_assert_int_eq(waitpid(holder, &st, 0), holder);
	text = tu_read_file(path, NULL);
	unlink(path);
	ck_assert_msg(text == NULL || strstr(text, "NOTICE") == NULL, "%s", text);
	free(text);
	ck_assert_int_eq(dbt_log_count("another process is migrating: waiting"), 1);
	ck_assert_int_eq(pgt_scalar(e.pg, "mb", "SELECT count(*) FROM schema_migrations"),
	    db_schema_version());
	e.db = NULL;
	event_base_free(e.base);
	pgt_destroy(e.pg);
}
END_TEST

START_TEST(test_failover_standby)
{
	struct env	 e;
	struct pgt	*sb;
	struct dbt_res	 r;
	uint64_t	 end;

	env_up(&e);
	ck_assert_int_eq(pgt_psql(e.pg, "hf", "CREATE TABLE t (x int)", NULL), 0);
	sb = pgt_standby(e.pg);
	snprintf(e.conninfo, sizeof(e.conninfo), "host=127.0.0.1,127.0.0.1 port=%d,%d "
	    "dbname=hf user=postgres target_session_attrs=read-write",
	    pgt_port(e.pg), pgt_port(sb));
	env_start(&e);
	dbt_query(e.base, e.db, "INSERT INTO t VALUES (1)", 0, NULL, &r);
	ck_assert(r.ok);
	/* replication is asynchronous: let the standby catch up first */
	end = hf_now_mono_ms() + 5000;
	while (pgt_scalar(sb, "hf", "SELECT count(*) FROM t") != 1 &&
	    hf_now_mono_ms() < end)
		usleep(20000);
	/* the primary dies; the standby is promoted */
	ck_assert_int_eq(pgt_stop(e.pg, "immediate"), 0);
	ck_assert_int_eq(pgt_promote(sb), 0);
	end = hf_now_mono_ms() + 8000;
	do {
		dbt_query(e.base, e.db, "INSERT INTO t VALUES (2)", 0, NULL, &r);
		if (!r.ok) {
			struct db_error de = { .cls = r.cls };

			ck_assert_msg(db_error_unavailable(&de), "%s", r.reason);
			dbt_run_for(e.base, 20);
		}
	} while (!r.ok && hf_now_mono_ms() < end);
	ck_assert_msg(r.ok, "no write after failover: %s %s", r.reason, r.message);
	ck_assert_int_eq(pgt_scalar(sb, "hf", "SELECT count(*) FROM t"), 2);
	db_free(e.db);
	event_base_free(e.base);
	pgt_destroy(sb);
	pgt_destroy(e.pg);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("db_basic");
	TCase	*tc = tu_tcase(s, "basic", 60);

	tcase_add_test(tc, test_query_and_session);
	tcase_add_test(tc, test_batch_rolls_back);
	tcase_add_test(tc, test_batch_retries_deadlock);
	tcase_add_test(tc, test_listen_resync);
	tcase_add_test(tc, test_recycle_and_preping);
	tcase_add_test(tc, test_unknown_option_ignored);
	tcase_add_test(tc, test_host_name_resolved);
	tcase_add_test(tc, test_cancel_and_when_up);
	tcase_add_test(tc, test_migrate_concurrently);
	tcase_add_test(tc, test_migrate_blocking);
	tcase_add_test(tc, test_failover_standby);
	return tu_run(s);
}
