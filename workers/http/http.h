/*
 * http: holdfast-http's internal API, shared by its handler files.
 *
 * One struct http_call per request, from the dispatcher to the reply. A
 * handler either replies at once or starts one DB request and replies from
 * its callback; every path ends in exactly one http_reply*(), which writes
 * the access log line, counts the request in the metrics and frees the
 * call. Invariant: nothing a client sends and nothing the DB answers can
 * end the process; a DB that cannot answer becomes a 503.
 */
#ifndef HOLDFAST_HTTP_H
#define HOLDFAST_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "hsrv.h"
#include "http_route.h"

struct jw;
struct http_tokcache;
struct event_base;
struct worker;
struct cfg_worker;
struct cfg_whatsapp;

#define HTTP_DB_DOWN_DETAIL	"Database temporarily unavailable"

struct http_srv {
	struct worker			*w;
	struct hsrv			*hs;
	struct db			*db;
	const struct cfg_worker		*wcfg;
	const struct cfg_whatsapp	*wa;
	int				 inflight;	/* requests waiting on the DB */
	struct http_ratelimit		*rl;
	char				*dummy_hash;	/* crypt() hash for unknown users */
	struct http_tokcache		*tc;		/* NULL: token_cache_ttl = 0 */
	struct http_alog		*alog;		/* the buffered access log */
	struct http_metrics		*metrics;	/* served on /metrics */
	/* Stopping (http_main.c): the drain and when requests last came. */
	struct event			*drain_ev;
	uint64_t			 drain_deadline;
	uint64_t			 stop_ms;	/* 0: not stopping */
	uint64_t			 last_dispatch_ms;
};

struct http_call {
	struct http_srv		*srv;
	struct hsrv_req		*req;
	int			 route;
	int			 method;	/* HTTP_M_* (HEAD counts as GET) */
	uint64_t		 start_us;
	long long		 id;		/* the {id} segment, 0 when none */
	struct http_qparam	 query[HTTP_MAX_QUERY];
	int			 nquery;
	char			*qbuf;		/* the decoded query string */
	char			*body;		/* NUL-terminated (the request's), or NULL */
	size_t			 bodylen;
	struct db_req		*dbreq;
	char			 addr[64];	/* peer address */
	char			 token_hash[65];/* hex SHA-256 of the bearer token */
	int			 token_cached;	/* trusted from the token cache */
	void			*ctx;		/* the handler's, freed with the call */
	void			(*ctx_free)(void *);
};

/* Replies (each ends the call: logs, counts, frees). */
void http_reply(struct http_call *, int status, const char *ctype,
    const char *body, size_t len);
void http_reply_json(struct http_call *, int status, struct jw *);
void http_reply_error(struct http_call *, int status, const char *code,
    const char *detail);
/* 503 (with Retry-After) for "try again later" errors, 500 otherwise. */
void http_reply_db_error(struct http_call *, const struct db_error *);
/* The value of a query parameter, or NULL. */
const char *http_query(struct http_call *, const char *name);
/* The value of a request header (case-insensitive name), or NULL. */
const char *http_header(struct http_call *, const char *name);
/* Adds a header to the reply. */
void http_add_header(struct http_call *, const char *name, const char *value);
/*
 * Bearer token of the request, hashed into call->token_hash (hex). Returns
 * 0, or -1 after replying 401 when it is missing or malformed.
 */
int http_auth_bearer(struct http_call *);
/*
 * 1 when the DB accepted call's token within token_cache_ttl (then the
 * handler may skip the token check in SQL; sets call->token_cached).
 */
int http_token_cached(struct http_call *);
/* The DB's verdict on call's token (not for a cached one): valid starts a
 * token_cache_ttl of trust, invalid ends any at once. */
void http_token_checked(struct http_call *, int valid);
/* Starts one statement with call as the callback's argument; counts it
 * as in flight until the callback runs. */
void http_db_query(struct http_call *, const char *op, const char *sql,
    int nparams, const char *const *params, db_result_cb cb);
/* The same for a lookup (db_lookup_within): may share one statement with
 * others of its kind made in the same loop turn. */
void http_db_lookup(struct http_call *, const char *op, const struct db_lookup *,
    const char *key, db_result_cb);
/* The callback's first move: the call back from arg, no longer in flight. */
struct http_call *http_db_done(void *arg);

/* Handlers, one per route and method. */
void http_login(struct http_call *);
void http_conversations(struct http_call *);
void http_conversation(struct http_call *);
void http_calls(struct http_call *);
void http_webhook_verify(struct http_call *);
void http_webhook_receive(struct http_call *);
void http_metrics(struct http_call *);

/* Login support (http_auth.c). */
void http_auth_init(struct http_srv *);
void http_auth_free(struct http_srv *);

/* The access log, one write per loop iteration (http_alog.c). */
struct http_alog *http_alog_new(struct event_base *);
void http_alog(struct http_alog *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void http_alog_flush(struct http_alog *);
/* After the event base is gone: flushes what is left, frees. */
void http_alog_free(struct http_alog *);

/* Metrics (http_metrics.c): per-route counters of this instance. */
struct http_metrics *http_metrics_new(void);
void http_metrics_free(struct http_metrics *);
void http_metrics_observe(struct http_metrics *, int route, int status,
    uint64_t duration_us);
/* events: the "stats" message for holdfastd (its /metrics covers every
 * instance): {"type":"stats","requests":N,"requests_by_status":{"200":N,
 * ...},"requests_503":N}; NULL when nothing changed since the last one. */
struct jw *http_metrics_stats(struct http_metrics *);

#endif
