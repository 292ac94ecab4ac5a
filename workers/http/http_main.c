/*
 * holdfast-http: the API worker. hsrv (common/hsrv.c, a bounded HTTP/1.1
 * server) on the listening socket holdfastd hands down (or `listen` when
 * run by hand); several instances share it.
 *
 * This file owns the request's life: hsrv applies the connection, time,
 * header and body limits (each route's body limit from the head, before
 * the body is read); the dispatcher checks route and method before any
 * handler runs; every reply goes through
 * http_reply(), which sets the JSON content type, writes the access log
 * line and counts the request. Policy: a request that needs the DB while
 * the DB is unavailable gets 503 + Retry-After (the client can retry), never
 * a 500 and never a hang (the DB layer bounds every query with a deadline).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <event2/event.h>

#include "cfg.h"
#include "chan.h"
#include "db.h"
#include "http.h"
#include "http_crypt.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "worker.h"

static const char	 http_db_down_body[] = "{\"error\":\"SERVICE_UNAVAILABLE\","
			    "\"detail\":\"" HTTP_DB_DOWN_DETAIL "\",\"status\":503}";

/*
 * A stopping worker has closed its accept socket, but connections it
 * accepted just before may not have been read yet (their request is in
 * the kernel's buffer). Closing them then would reset them: a refused
 * request during a rolling restart. So the drain also waits until
 * HTTP_DRAIN_QUIET_MS have passed without a new request, at least
 * HTTP_DRAIN_MIN_MS after SIGTERM, and until no connection is mid-request
 * or was accepted less than HTTP_DRAIN_FRESH_MS ago (a loaded process may
 * run this timer before the read of a request already buffered).
 */
#define HTTP_DRAIN_MIN_MS	100
#define HTTP_DRAIN_QUIET_MS	50
#define HTTP_DRAIN_FRESH_MS	1000

/* ---- replies ---- */

static void
http_call_free(struct http_call *call)
{
	if (call->ctx_free != NULL)
		call->ctx_free(call->ctx);
	free(call->qbuf);
	free(call);
}

static void
http_access_log(struct http_srv *srv, const char *method, const char *target,
    int status, size_t bytes, uint64_t dur_us, const char *addr)
{
	char path[512];

	if (log_get_level() < LOG_LVL_INFO)
		return;
	http_redact_uri(target, path, sizeof(path));
	http_alog(srv->alog, "[ACCESS] %s %s status=%d ms=%.2f bytes=%zu addr=%s",
	    method, path, status, dur_us / 1000.0, bytes, addr);
}

void
http_reply(struct http_call *call, int status, const char *ctype,
    const char *body, size_t len)
{
	uint64_t dur = hf_now_mono_us() - call->start_us;

	/* Logged first: the request is gone once the reply is sent. */
	http_access_log(call->srv, hsrv_method(call->req), hsrv_target(call->req),
	    status, len, dur, call->addr);
	http_metrics_observe(call->srv->metrics, call->route, status, dur);
	hsrv_add_header(call->req, "Cache-Control", "no-store");
	hsrv_reply(call->req, status, ctype, body, len);
	http_call_free(call);
}

void
http_add_header(struct http_call *call, const char *name, const char *value)
{
	hsrv_add_header(call->req, name, value);
}

const char *
http_header(struct http_call *call, const char *name)
{
	return hsrv_header(call->req, name);
}

void
http_reply_json(struct http_call *call, int status, struct jw *w)
{
	const char	*s;
	size_t		 len;

	if ((s = jw_buf(w, &len)) == NULL) {
		/* Only invalid UTF-8 from the DB gets here: our bug to fix. */
		log_warnx("%s: JSON encoding failed", http_route_name(call->route));
		http_reply_error(call, 500, "INTERNAL_ERROR", "Response encoding failed");
		return;
	}
	http_reply(call, status, "application/json", s, len);
}

void
http_reply_error(struct http_call *call, int status, const char *code,
    const char *detail)
{
	char	body[1024];
	size_t	len;

	len = http_error_body(body, sizeof(body), status,
	    code != NULL ? code : http_error_code(status), detail);
	http_reply(call, status, "application/json", body, len);
}

static void
http_retry_after(struct http_call *call, int secs)
{
	char v[16];

	if (secs < 1)
		secs = 1;
	snprintf(v, sizeof(v), "%d", secs);
	http_add_header(call, "Retry-After", v);
}

/*
 * Policy: everything that says "try again later" is a 503 the client may
 * retry, including an outcome lost with the connection during COMMIT (our
 * writes are idempotent); a timeout has its own detail so an operator can
 * tell a slow DB from a missing one. Only DATA (a statement the DB
 * rejects: our bug) is a 500.
 */
void
http_reply_db_error(struct http_call *call, const struct db_error *err)
{
	if (err->cls == DB_CLASS_DATA) {
		log_warnx("%s: DB rejected a statement: %s %s",
		    http_route_name(call->route), err->sqlstate, err->message);
		http_reply_error(call, 500, "INTERNAL_ERROR", "Internal error");
		return;
	}
	http_retry_after(call, err->retry_after_s > 0 ? err->retry_after_s :
	    db_retry_after(call->srv->db));
	if (err->cls == DB_CLASS_TIMEOUT)
		http_reply_error(call, 503, "SERVICE_UNAVAILABLE",
		    "Database statement timed out");
	else
		/* The hot path while the DB is down: a body built at compile time. */
		http_reply(call, 503, "application/json", http_db_down_body,
		    sizeof(http_db_down_body) - 1);
}

const char *
http_query(struct http_call *call, const char *name)
{
	for (int i = 0; i < call->nquery; i++)
		if (strcmp(call->query[i].name, name) == 0)
			return call->query[i].value;
	return NULL;
}

void
http_db_query(struct http_call *call, const char *op, const char *sql,
    int nparams, const char *const *params, db_result_cb cb)
{
	call->srv->inflight++;
	call->dbreq = db_query_within(call->srv->db,
	    call->srv->wcfg->db_request_timeout_ms, op, sql, nparams, params, cb, call);
}

void
http_db_lookup(struct http_call *call, const char *op, const struct db_lookup *l,
    const char *key, db_result_cb cb)
{
	call->srv->inflight++;
	call->dbreq = db_lookup_within(call->srv->db,
	    call->srv->wcfg->db_request_timeout_ms, op, l, key, cb, call);
}

struct http_call *
http_db_done(void *arg)
{
	struct http_call *call = arg;

	call->srv->inflight--;
	call->dbreq = NULL;
	return call;
}

/* ---- built-in routes ---- */

static void
http_healthz(struct http_call *call)
{
	static const char ok[] = "{\"status\":\"ok\"}";

	http_reply(call, 200, "application/json", ok, sizeof(ok) - 1);
}

/*
 * /readyz counts as demand: while the breaker is open it starts a probe
 * (rate limited like a request's) and waits up to HTTP_READYZ_WAIT_MS for
 * the probe in flight, so readiness polling alone brings a pod back as
 * soon as the DB is (an unready pod gets no other traffic).
 */
#define HTTP_READYZ_WAIT_MS	300

static void
http_readyz_done(const struct db_error *err, PGresult *const *res, int nres,
    void *arg)
{
	static const char ready[] = "{\"status\":\"ready\",\"db\":\"up\"}";
	struct http_call *call = http_db_done(arg);
	struct db_state st;
	struct jw *w;

	if (err == NULL) {
		http_reply(call, 200, "application/json", ready, sizeof(ready) - 1);
		return;
	}
	db_get_state(call->srv->db, &st);
	w = jw_new();
	jw_obj_open(w);
	jw_kstr(w, "error", "SERVICE_UNAVAILABLE");
	jw_kstr(w, "detail", HTTP_DB_DOWN_DETAIL);
	jw_kint(w, "status", 503);
	jw_kstr(w, "db", st.up == 0 ? "down" : "unknown");
	jw_kstr(w, "reason", st.reason);
	jw_obj_close(w);
	http_retry_after(call, db_retry_after(call->srv->db));
	http_reply_json(call, 503, w);
	jw_free(w);
}

static void
http_readyz(struct http_call *call)
{
	call->srv->inflight++;
	call->dbreq = db_ready(call->srv->db, HTTP_READYZ_WAIT_MS, http_readyz_done,
	    call);
}

/* ---- dispatch ---- */

typedef void (*http_handler)(struct http_call *);

static http_handler
http_handler_for(int route, int method)
{
	switch (route) {
	case HTTP_R_HEALTHZ: return http_healthz;
	case HTTP_R_READYZ: return http_readyz;
	case HTTP_R_LOGIN: return http_login;
	case HTTP_R_CONVERSATIONS: return http_conversations;
	case HTTP_R_CONVERSATION: return http_conversation;
	case HTTP_R_CALLS: return http_calls;
	case HTTP_R_WEBHOOK:
		return method == HTTP_M_POST ? http_webhook_receive : http_webhook_verify;
	case HTTP_R_METRICS: return http_metrics;
	default: return NULL;
	}
}

static struct http_call *
http_call_new(struct http_srv *srv, struct hsrv_req *req)
{
	struct http_call *call = xcalloc(1, sizeof(*call));

	call->srv = srv;
	call->req = req;
	call->route = HTTP_R_UNMATCHED;
	call->start_us = hf_now_mono_us();
	hf_strlcpy(call->addr, hsrv_peer(req), sizeof(call->addr));
	return call;
}

static int
http_method_bit(const char *m)
{
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		return HTTP_M_GET;
	if (strcmp(m, "POST") == 0)
		return HTTP_M_POST;
	return 0;
}

static int64_t
http_route_body_limit(const struct http_srv *srv, int route)
{
	return route == HTTP_R_WEBHOOK ? srv->wcfg->max_webhook_body :
	    srv->wcfg->max_body;
}

/* The path of a request target: up to '?' (or '#'), in buf. */
static const char *
http_target_path(const char *target, char *buf, size_t size)
{
	size_t n = strcspn(target, "?#");

	if (n >= size)
		n = size - 1;
	memcpy(buf, target, n);
	buf[n] = '\0';
	return buf;
}

/*
 * hsrv asks once the head is complete, before any body byte is read:
 * only the webhook may send a large body.
 */
static int64_t
http_body_limit(struct hsrv_req *req, void *arg)
{
	struct http_srv	*srv = arg;
	char		 path[512];
	long long	 id;

	return http_route_body_limit(srv, http_route_match(http_target_path(
	    hsrv_target(req), path, sizeof(path)), &id));
}

/* A request hsrv refused itself (400, 408, 413, 431, 503 ...). */
static void
http_refused(int status, const char *method, const char *target,
    const char *addr, void *arg)
{
	struct http_srv *srv = arg;

	http_access_log(srv, method, target, status, 0, 0, addr);
	http_metrics_observe(srv->metrics, HTTP_R_UNMATCHED, status, 0);
}

/* The checks every request passes before its handler; 0 or replied. */
static int
http_precheck(struct http_call *call, const char *target)
{
	static char	 empty[1];
	char		 path[2048];
	const char	*q = strchr(target, '?');
	size_t		 len;

	if ((call->route = http_route_match(http_target_path(target, path,
	    sizeof(path)), &call->id)) < 0) {
		call->route = HTTP_R_UNMATCHED;
		http_reply_error(call, 404, NULL, "No such resource");
		return -1;
	}
	if ((call->method = http_method_bit(hsrv_method(call->req)) &
	    http_route_methods(call->route)) == 0) {
		http_add_header(call, "Allow", http_route_allow(call->route));
		http_reply_error(call, 405, NULL, "Method not allowed on this resource");
		return -1;
	}
	if (q != NULL && (call->nquery = http_query_parse(q + 1, &call->qbuf, call->query, HTTP_MAX_QUERY)) == -1) {
		call->nquery = 0;
		http_reply_error(call, 400, NULL, "Malformed query string");
		return -1;
	}
	/* The POST handlers read the body: never NULL for them. */
	if ((call->body = hsrv_body(call->req, &len)) == NULL && call->method == HTTP_M_POST)
		call->body = empty;
	call->bodylen = len;
	return 0;
}

static void
http_dispatch(struct hsrv_req *req, void *arg)
{
	struct http_srv		*srv = arg;
	struct http_call	*call = http_call_new(srv, req);

	if (srv->stop_ms != 0)
		srv->last_dispatch_ms = hf_now_mono_ms();
	if (http_precheck(call, hsrv_target(req)) == 0)
		http_handler_for(call->route, call->method)(call);
}

/* ---- start and stop ---- */

static void
http_setup(struct http_srv *srv, struct worker *w, int fd)
{
	const struct cfg_worker	*wc = w->wcfg;
	struct hsrv_limits	 lim = {
		.max_conns = wc->max_connections,
		.max_conns_per_addr = wc->max_connections_per_addr,
		.max_header = (size_t)wc->max_header_size,
		.max_body_memory = wc->max_body_memory,
		.header_timeout_ms = wc->header_timeout_ms,
		.request_timeout_ms = wc->request_timeout_ms,
		.keepalive_timeout_ms = wc->keepalive_timeout_ms,
	};
	struct hsrv_cbs		 cbs = { http_body_limit, http_dispatch, http_refused, srv };

	srv->w = w;
	srv->wcfg = wc;
	srv->wa = &w->cfg->whatsapp;
	srv->hs = hsrv_new(w->base, fd, &lim, &cbs);
	/* hsrv owns the socket now and closes it when freed. */
	w->listen_fd = -1;
}

static void
http_drain(evutil_socket_t fd, short what, void *arg)
{
	struct http_srv	*srv = arg;
	uint64_t	 now = hf_now_mono_ms();
	int		 busy = srv->inflight > 0 ||
			    now < srv->stop_ms + HTTP_DRAIN_MIN_MS ||
			    now < srv->last_dispatch_ms + HTTP_DRAIN_QUIET_MS ||
			    hsrv_nbusy(srv->hs, HTTP_DRAIN_FRESH_MS) > 0;

	if (busy && now < srv->drain_deadline)
		return;
	if (srv->inflight > 0)
		log_warnx("stopping with %d requests still waiting on the DB",
		    srv->inflight);
	event_free(srv->drain_ev);
	srv->drain_ev = NULL;
	hsrv_free(srv->hs);
	srv->hs = NULL;
	http_alog_flush(srv->alog);
	http_crypt_stop();
	worker_exit_loop(srv->w);
}

/* events: the counters to holdfastd every HTTP_STATS_MS, when they moved
 * (an idle worker sends nothing, so holdfastd is not woken for it). */
#define HTTP_STATS_MS	5000

static struct event *http_stats_ev;	/* freed at the stop, with the base alive */

static void
http_send_stats(evutil_socket_t fd, short what, void *arg)
{
	struct http_srv	*srv = arg;
	struct jw	*w = http_metrics_stats(srv->metrics);

	(void)fd;
	(void)what;
	if (w != NULL) {
		chan_worker_send(w);
		jw_free(w);
	}
}

/* SIGTERM: stop accepting, answer what was accepted and let requests
 * waiting on the DB finish (at most a few seconds: holdfastd's
 * stopwaitsecs is the hard bound), then exit. */
static void
http_on_stop(struct worker *w, void *arg)
{
	struct http_srv	*srv = arg;
	struct timeval	 tv = { 0, 20 * 1000 };

	/* Replies from now on say Connection: close. */
	hsrv_stop_accepting(srv->hs);
	if (http_stats_ev != NULL) {	/* events: the last figures, then no more */
		http_send_stats(-1, 0, srv);
		event_free(http_stats_ev);
		http_stats_ev = NULL;
	}
	srv->stop_ms = srv->last_dispatch_ms = hf_now_mono_ms();
	srv->drain_deadline = srv->stop_ms + 5000;
	srv->drain_ev = event_new(w->base, -1, EV_PERSIST, http_drain, srv);
	event_add(srv->drain_ev, &tv);
}

int
main(int argc, char **argv)
{
	struct worker	w;
	struct http_srv	srv = { 0 };
	struct timeval	stats_tv = { HTTP_STATS_MS / 1000, 0 };
	int		fd, rc;

	worker_init(&w, argc, argv, "http");
	srv.alog = http_alog_new(w.base);
	srv.metrics = http_metrics_new();
	fd = worker_listen(&w, SOCK_STREAM);
	http_setup(&srv, &w, fd);
	http_auth_init(&srv);
	srv.db = worker_db_start(&w, "http_request");
	worker_set_on_stop(&w, http_on_stop, &srv);
	worker_ready(&w);
	http_stats_ev = event_new(w.base, -1, EV_PERSIST, http_send_stats, &srv);
	event_add(http_stats_ev, &stats_tv);		/* events */
	http_send_stats(-1, 0, &srv);
	log_info("serving on fd %d (%s), max_body=%lld max_webhook_body=%lld "
	    "max_connections=%d max_connections_per_addr=%d max_body_memory=%lld",
	    fd, w.listen_inherited ? "inherited" : "bound",
	    (long long)w.wcfg->max_body, (long long)w.wcfg->max_webhook_body,
	    w.wcfg->max_connections, w.wcfg->max_connections_per_addr,
	    (long long)w.wcfg->max_body_memory);
	rc = worker_run(&w);
	http_auth_free(&srv);
	http_alog_free(srv.alog);
	http_metrics_free(srv.metrics);
	return rc;
}
