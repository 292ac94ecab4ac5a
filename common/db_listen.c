/*
 * db_listen: LISTEN on a dedicated connection (a pooled one would lose its
 * LISTEN state when recycled, and would be busy when a notify arrives).
 *
 * The listener connects when the DB is up. When its connection dies, the
 * pool's generation is invalidated and the listener reconnects at once if
 * the breaker is still up (a failure there opens it), else when it closes
 * again. Each time the LISTEN is in place, on_resync tells the caller to
 * catch up on whatever it may have missed meanwhile: notifications are a
 * wake-up, never the only way to find work.
 */
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "log.h"
#include "util.h"

struct db_listener {
	struct db_listener	*l_next;
	struct db		*l_db;
	char			*l_channel;
	struct db_conn		*l_conn;
	void			(*l_notify)(const char *, const char *, void *);
	void			(*l_resync)(void *);
	void			*l_arg;
};

static void db_listen_connect(struct db_listener *);

static void
db_listen_drain(struct db_conn *c)
{
	struct db_listener	*l = c->dc_owner;
	PGnotify		*n;

	while ((n = PQnotifies(c->dc_pg)) != NULL) {
		if (l->l_notify != NULL)
			l->l_notify(n->relname, n->extra, l->l_arg);
		PQfreemem(n);
	}
}

static void
db_listen_drop(struct db_listener *l)
{
	dbc_close(l->l_conn);
	l->l_conn = NULL;
}

static void
db_listen_lost(struct db_conn *c, const struct db_error *e)
{
	struct db_listener	*l = c->dc_owner;
	struct db		*db = l->l_db;

	log_info("[DB_POOL] LISTEN %s connection lost: reason=%s", l->l_channel,
	    e->reason);
	db_listen_drop(l);
	if (!TAILQ_EMPTY(&db->db_conns))
		db_pool_invalidate(db, e->reason);
	if (db->db_up == DB_UP)
		db_listen_connect(l);
}

static void
db_listen_done(struct db_conn *c, const struct db_error *e, PGresult **res,
    int nres, void *arg)
{
	struct db_listener *l = arg;

	if (e != NULL) {
		db_listen_lost(c, e);
		return;
	}
	dbc_idle(c);
	log_debug("%s: LISTEN %s in place", __func__, l->l_channel);
	if (l->l_resync != NULL)
		l->l_resync(l->l_arg);
	if (l->l_conn == c)
		db_listen_drain(c);
}

static void
db_listen_ready(struct db_conn *c, const struct db_error *e)
{
	struct db_listener	*l = c->dc_owner;
	struct db		*db = l->l_db;
	char			*id, *sql;
	struct db_stmt		 s;

	if (e != NULL) {
		struct db_error err = *e;

		db_listen_drop(l);
		if (db->db_up == DB_UP)
			db_breaker_connect_failed(db, &err);
		return;
	}
	/* LISTEN takes an identifier, not a parameter: quote it. */
	id = PQescapeIdentifier(c->dc_pg, l->l_channel, strlen(l->l_channel));
	sql = xasprintf("LISTEN %s", id != NULL ? id : "\"\"");
	PQfreemem(id);
	s.sql = sql;
	s.nparams = -1;
	s.params = NULL;
	dbc_exec(c, &s, 1, 0, db->db_cfg.query_timeout_ms, db_listen_done, l);
	free(sql);
}

static void
db_listen_connect(struct db_listener *l)
{
	struct db_conn *c = dbc_open(l->l_db, db_listen_ready);

	c->dc_listen = 1;
	c->dc_owner = l;
	c->dc_on_lost = db_listen_lost;
	c->dc_on_notify = db_listen_drain;
	l->l_conn = c;
}

void
db_listen(struct db *db, const char *channel,
    void (*on_notify)(const char *, const char *, void *),
    void (*on_resync)(void *), void *arg)
{
	struct db_listener *l = xcalloc(1, sizeof(*l));

	l->l_db = db;
	l->l_channel = xstrdup(channel);
	l->l_notify = on_notify;
	l->l_resync = on_resync;
	l->l_arg = arg;
	l->l_next = db->db_listeners;
	db->db_listeners = l;
	if (db->db_up == DB_UP)
		db_listen_connect(l);
}

/* The breaker closed: every listener without a connection gets one. */
void
db_listen_up(struct db *db)
{
	struct db_listener *l;

	for (l = db->db_listeners; l != NULL; l = l->l_next)
		if (l->l_conn == NULL)
			db_listen_connect(l);
}

void
db_listen_free(struct db *db)
{
	struct db_listener *l;

	while ((l = db->db_listeners) != NULL) {
		db->db_listeners = l->l_next;
		dbc_close(l->l_conn);
		free(l->l_channel);
		free(l);
	}
}
