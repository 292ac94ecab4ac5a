/*
 * db_pool: the per-process connection pool.
 *
 * - Connections are opened on demand, up to pool_size, and only while the
 *   breaker is up; while it is down or not known yet, the breaker's single
 *   probe is the only connection attempt.
 * - Checkout skips (and closes) connections of an older generation and
 *   connections past their recycle time; db.c pre-pings one idle longer
 *   than pre_ping_after before handing it out.
 * - Generations: any disconnect detected on an established connection
 *   bumps db_gen, and every connection made before it is closed instead of
 *   reused, so after a server restart at most one caller sees an error and
 *   a pool full of dead connections cannot happen.
 * - Pipelining: with no idle connection, a busy one in pipeline mode
 *   with fewer than pipeline_depth requests in flight (the fewest first)
 *   takes one more; never one being pre-pinged, stale or due for recycling.
 * - A connection with requests in flight is never closed under them: a
 *   dead one is closed when the last of them has been reported.
 * - Recycle time is pool_recycle minus up to 10 % at random, so connections
 *   opened together do not all expire together.
 */
#include <stdlib.h>

#include "db_int.h"
#include "log.h"
#include "util.h"

static void db_pool_on_ready(struct db_conn *, const struct db_error *);
static void db_pool_on_lost(struct db_conn *, const struct db_error *);

void
db_pool_spawn(struct db *db, int probe)
{
	struct db_conn *c = dbc_open(db, db_pool_on_ready);

	c->dc_probe = probe;
	c->dc_on_lost = db_pool_on_lost;
	TAILQ_INSERT_TAIL(&db->db_conns, c, dc_entry);
	db->db_nconns++;
	db->db_nconnecting++;
	db->db_stats.connects++;
	if (probe) {
		db->db_probing = 1;
		db->db_last_probe_ms = hf_now_mono_ms();
	}
}

/* Closes c and forgets it. */
void
db_pool_drop(struct db_conn *c)
{
	struct db *db = c->dc_db;

	if (c->dc_state == DBC_CONNECTING || c->dc_state == DBC_SETUP)
		db->db_nconnecting--;
	TAILQ_REMOVE(&db->db_conns, c, dc_entry);
	db->db_nconns--;
	if (c->dc_probe)
		db->db_probing = 0;
	dbc_close(c);
}

/*
 * A disconnect was seen: every connection opened before now is stale.
 * Idle ones are closed at once; busy ones when they come back.
 */
void
db_pool_invalidate(struct db *db, const char *why)
{
	struct db_conn *c, *tmp;
	int n = 0;

	db->db_gen++;
	TAILQ_FOREACH_SAFE(c, &db->db_conns, dc_entry, tmp) {
		if ((c->dc_state == DBC_IDLE || c->dc_state == DBC_DEAD) &&
		    c->dc_nexec == 0) {
			db_pool_drop(c);
			n++;
		}
	}
	log_info("[DB_POOL] generation %llu invalidated (%s): %d idle "
	    "connection(s) closed", (unsigned long long)db->db_gen, why, n);
}

void
db_pool_close_all(struct db *db)
{
	struct db_conn *c;

	while ((c = TAILQ_FIRST(&db->db_conns)) != NULL)
		db_pool_drop(c);
}

/* The connection has a session and the schema is current: it serves. */
static void
db_pool_connected(struct db_conn *c)
{
	struct db *db = c->dc_db;

	c->dc_probe = 0;
	db->db_probing = 0;
	db_breaker_answered(db);
	dbc_idle(c);
	TAILQ_REMOVE(&db->db_conns, c, dc_entry);
	TAILQ_INSERT_HEAD(&db->db_conns, c, dc_entry);
	db_breaker_connect_ok(db);
	db_dispatch(db);
}

static void
db_pool_migrated(struct db_conn *c, const struct db_error *e)
{
	struct db	*db = c->dc_db;
	struct db_error	 err;

	if (e == NULL) {
		db->db_migrated = 1;
		db_pool_connected(c);
		return;
	}
	err = *e;
	if (!db_class_is_connection(err.cls)) {
		/* A migration that fails on a working connection is a bug
		 * or a schema conflict: an operator must look. */
		err.cls = DB_CLASS_CONFIG;
		err.reason = "MigrationFailed";
	}
	db_pool_drop(c);
	db_breaker_connect_failed(db, &err);
}

static int
db_pool_working(struct db *db)
{
	struct db_conn *c;

	TAILQ_FOREACH(c, &db->db_conns, dc_entry)
		if (c->dc_state == DBC_IDLE || c->dc_state == DBC_BUSY)
			return 1;
	return 0;
}

static void
db_pool_on_ready(struct db_conn *c, const struct db_error *e)
{
	struct db	*db = c->dc_db;
	uint64_t	 now = hf_now_mono_ms();
	int64_t		 jitter;

	db->db_nconnecting--;
	c->dc_state = e != NULL ? DBC_DEAD : DBC_IDLE;
	if (e != NULL) {
		struct db_error	err = *e;
		int		probe = c->dc_probe;

		db->db_stats.connect_failures++;
		db_pool_drop(c);
		/* While the breaker is down only probes count; and a full
		 * server with our other connections working is not an
		 * outage, just no growth. */
		if ((db->db_up == DB_DOWN && !probe) ||
		    (err.cls == DB_CLASS_CAPACITY && db_pool_working(db)))
			return;
		db_breaker_connect_failed(db, &err);
		return;
	}
	c->dc_gen = db->db_gen;
	jitter = (int64_t)(hf_rand_unit() * (double)db->db_cfg.pool_recycle_ms / 10);
	c->dc_recycle_at_ms = now + db->db_cfg.pool_recycle_ms - jitter;
	c->dc_last_used_ms = now;
	if (!db->db_migrated && db->db_cfg.auto_migrate) {
		db_migrate_async(c, db_pool_migrated);
		return;
	}
	db_pool_connected(c);
}

/* An idle connection died (server restart, 57P01, network). */
static void
db_pool_on_lost(struct db_conn *c, const struct db_error *e)
{
	struct db *db = c->dc_db;

	log_info("[DB_POOL] idle connection lost: reason=%s", e->reason);
	db_pool_drop(c);
	db_pool_invalidate(db, e->reason);
	/* Find out now whether the server is gone, rather than at the next
	 * request: a failing connect opens the breaker. */
	if (db->db_up == DB_UP && db->db_nconnecting == 0)
		db_pool_spawn(db, 0);
}

/*
 * An idle connection of the current generation that is not due for
 * recycling, or NULL. Stale ones found on the way are closed.
 */
struct db_conn *
db_pool_take(struct db *db)
{
	struct db_conn	*c, *tmp;
	uint64_t	 now = hf_now_mono_ms();

	TAILQ_FOREACH_SAFE(c, &db->db_conns, dc_entry, tmp) {
		if (c->dc_state != DBC_IDLE)
			continue;
		if (c->dc_gen < db->db_gen) {
			db_pool_drop(c);
			continue;
		}
		if (now >= c->dc_recycle_at_ms) {
			db->db_stats.recycled++;
			db_pool_drop(c);
			continue;
		}
		c->dc_state = DBC_BUSY;
		return c;
	}
	return NULL;
}

/*
 * A busy connection that can take one more request into its pipeline
 * (the one with the fewest in flight), or NULL.
 */
struct db_conn *
db_pool_take_pipelined(struct db *db)
{
	struct db_conn	*c, *best = NULL;
	uint64_t	 now = hf_now_mono_ms();

	if (db->db_cfg.pipeline_depth < 2)
		return NULL;
	TAILQ_FOREACH(c, &db->db_conns, dc_entry) {
		if (c->dc_state != DBC_BUSY || !c->dc_inpipe || c->dc_pinging ||
		    c->dc_failnow || c->dc_nexec == 0 ||
		    c->dc_nexec >= db->db_cfg.pipeline_depth ||
		    c->dc_gen < db->db_gen || now >= c->dc_recycle_at_ms)
			continue;
		if (best == NULL || c->dc_nexec < best->dc_nexec)
			best = c;
	}
	return best;
}

/* A request is done with c: back to the pool (most recent first), or
 * closed when it is broken, stale or due for recycling. */
void
db_pool_release(struct db_conn *c)
{
	struct db *db = c->dc_db;

	if (c->dc_state == DBC_DEAD || c->dc_gen < db->db_gen ||
	    PQstatus(c->dc_pg) == CONNECTION_BAD ||
	    PQtransactionStatus(c->dc_pg) != PQTRANS_IDLE) {
		db_pool_drop(c);
		return;
	}
	if (hf_now_mono_ms() >= c->dc_recycle_at_ms) {
		db->db_stats.recycled++;
		db_pool_drop(c);
		return;
	}
	dbc_idle(c);
	TAILQ_REMOVE(&db->db_conns, c, dc_entry);
	TAILQ_INSERT_HEAD(&db->db_conns, c, dc_entry);
}
