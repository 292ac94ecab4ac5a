/*
 * holdfast-http: the API worker. evhttp on the listening socket holdfastd
 * hands down (or `listen` when run by hand); several instances share it.
 *
 * This file owns the request's life: the dispatcher checks route, method,
 * header and body limits before any handler runs; every reply goes through
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
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "cfg.h"
#include "db.h"
#include "http.h"
#include "http_crypt.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "worker.h"

/* evhttp's own hard header limit, above ours: requests between the two get
 * our JSON 431; only absurd ones hit evhttp's plain 413. */
#define HTTP_HEADER_SLACK	4
/* Likewise for bodies: evhttp buffers at most the largest route limit
 * plus this, so a body just over a limit gets our JSON 413. */
#define HTTP_BODY_SLACK		(64 * 1024)

static const char	 http_db_down_body[] = "{\"error\":\"SERVICE_UNAVAILABLE\","
			    "\"detail\":\"" HTTP_DB_DOWN_DETAIL "\",\"status\":503}";
static struct http_srv	 http_srv;
static struct evhttp_bound_socket *http_bound;
static struct event	*http_drain_ev;
static uint64_t		 http_drain_deadline;
static uint64_t		 http_stop_ms;		/* 0: not stopping */
static uint64_t		 http_last_dispatch_ms;

/*
 * A stopping worker has closed its accept socket, but connections it
 * accepted just before may not have been read yet (their request is in
 * the kernel's buffer). Freeing evhttp then would reset them: a refused
 * request during a rolling restart. So the drain also waits until
 * HTTP_DRAIN_QUIET_MS have passed without a new request, at least
 * HTTP_DRAIN_MIN_MS after SIGTERM.
 */
#define HTTP_DRAIN_MIN_MS	100
#define HTTP_DRAIN_QUIET_MS	50

/* ---- connections: counted so max_connections can be enforced ---- */

static void
http_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct http_srv *srv = arg;

	for (int i = 0; i < srv->nconns; i++)
		if (srv->conns[i] == evcon) {
			srv->conns[i] = srv->conns[--srv->nconns];
			return;
		}
}

/*
 * Registers the request's connection the first time it is seen. Returns 0,
 * or -1 when it is new and the worker already holds max_connections.
 */
static int
http_conn_track(struct http_srv *srv, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	if (evcon == NULL)
		return 0;
	for (int i = 0; i < srv->nconns; i++)
		if (srv->conns[i] == evcon)
			return 0;
	if (srv->nconns >= srv->wcfg->max_connections)
		return -1;
	if ((size_t)srv->nconns == srv->conns_cap) {
		srv->conns_cap = srv->conns_cap ? srv->conns_cap * 2 : 64;
		srv->conns = xreallocarray(srv->conns, srv->conns_cap, sizeof(void *));
	}
	srv->conns[srv->nconns++] = evcon;
	evhttp_connection_set_closecb(evcon, http_conn_closed, srv);
	return 0;
}

/* ---- replies ---- */

static void
http_call_free(struct http_call *call)
{
	evhttp_clear_headers(&call->query);
	if (call->ctx_free != NULL)
		call->ctx_free(call->ctx);
	free(call->body);
	free(call);
}

static const char *
http_method_name(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "OTHER";
	}
}

static void
http_access_log(struct http_call *call, int status, size_t bytes, uint64_t dur_us)
{
	char path[512];

	if (log_get_level() < LOG_LVL_INFO)
		return;
	http_redact_uri(evhttp_request_get_uri(call->req), path, sizeof(path));
	http_alog("[ACCESS] %s %s status=%d ms=%.2f bytes=%zu addr=%s",
	    http_method_name(call->req), path, status, dur_us / 1000.0, bytes,
	    call->addr);
}

void
http_reply(struct http_call *call, int status, const char *ctype,
    const char *body, size_t len)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(call->req);
	struct evbuffer		*buf = call->srv->outbuf;
	uint64_t		 dur;

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	/* Stopping: a keep-alive client must take its next request elsewhere. */
	if (http_stop_ms != 0 && evhttp_find_header(h, "Connection") == NULL)
		evhttp_add_header(h, "Connection", "close");
	/* evhttp_send_reply moves the bytes out, leaving buf empty for the
	 * next reply (or drops them with a connection that is gone). */
	evbuffer_add(buf, body, len);
	evhttp_send_reply(call->req, status, NULL, buf);
	evbuffer_drain(buf, evbuffer_get_length(buf));
	dur = now_mono_us() - call->start_us;
	http_access_log(call, status, len, dur);
	http_metrics_observe(call->route, status, dur);
	http_call_free(call);
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
	evhttp_add_header(evhttp_request_get_output_headers(call->req),
	    "Retry-After", v);
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
	return evhttp_find_header(&call->query, name);
}

void
http_db_query(struct http_call *call, const char *op, const char *sql,
    int nparams, const char *const *params, db_result_cb cb)
{
	call->srv->inflight++;
	call->dbreq = db_query_within(call->srv->db,
	    call->srv->wcfg->db_request_timeout_ms, op, sql, nparams, params, cb, call);
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
http_call_new(struct http_srv *srv, struct evhttp_request *req)
{
	struct http_call	*call = xcalloc(1, sizeof(*call));
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char			*host = NULL;
	ev_uint16_t		 port = 0;

	call->srv = srv;
	call->req = req;
	call->route = HTTP_R_UNMATCHED;
	call->start_us = now_mono_us();
	TAILQ_INIT(&call->query);
	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &host, &port);
	strlcpy_hf(call->addr, host != NULL ? host : "-", sizeof(call->addr));
	return call;
}

static int
http_method_bit(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		return HTTP_M_GET;
	case EVHTTP_REQ_POST:
		return HTTP_M_POST;
	default:
		return 0;
	}
}

static size_t
http_headers_size(struct evhttp_request *req)
{
	struct evkeyval	*kv;
	size_t		 n = 0;

	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
		n += strlen(kv->key) + strlen(kv->value) + 4;
	return n;
}

static int64_t
http_body_limit(const struct http_srv *srv, int route)
{
	return route == HTTP_R_WEBHOOK ? srv->wcfg->max_webhook_body :
	    srv->wcfg->max_body;
}

/*
 * Replies 413 and returns -1 when the body is over the route's limit;
 * copies it into call (NUL-terminated) for the POST handlers, the only
 * ones that read it (call->body stays NULL for the others).
 */
static int
http_take_body(struct http_call *call)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(call->req);
	size_t		 len = evbuffer_get_length(in);

	if ((int64_t)len > http_body_limit(call->srv, call->route)) {
		http_reply_error(call, 413, NULL, "Request body too large");
		return -1;
	}
	if (call->method != HTTP_M_POST)
		return 0;
	call->body = xmalloc(len + 1);
	evbuffer_copyout(in, call->body, len);
	call->body[len] = '\0';
	call->bodylen = len;
	return 0;
}

/* The checks every request passes before its handler; 0 or replied. */
static int
http_precheck(struct http_call *call, const struct evhttp_uri *uri)
{
	struct evkeyvalq	*out = evhttp_request_get_output_headers(call->req);
	const char		*q;

	if (http_headers_size(call->req) > (size_t)call->srv->wcfg->max_header_size) {
		http_reply_error(call, 431, NULL, "Request headers too large");
		return -1;
	}
	if ((call->route = http_route_match(evhttp_uri_get_path(uri), &call->id)) < 0) {
		call->route = HTTP_R_UNMATCHED;
		http_reply_error(call, 404, NULL, "No such resource");
		return -1;
	}
	if ((call->method = http_method_bit(call->req) &
	    http_route_methods(call->route)) == 0) {
		evhttp_add_header(out, "Allow", http_route_allow(call->route));
		http_reply_error(call, 405, NULL, "Method not allowed on this resource");
		return -1;
	}
	q = evhttp_uri_get_query(uri);
	if (q != NULL && evhttp_parse_query_str(q, &call->query) == -1) {
		http_reply_error(call, 400, NULL, "Malformed query string");
		return -1;
	}
	return http_take_body(call);
}

static void
http_dispatch(struct evhttp_request *req, void *arg)
{
	struct http_srv		*srv = arg;
	struct http_call	*call = http_call_new(srv, req);
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);

	if (http_stop_ms != 0)
		http_last_dispatch_ms = now_mono_ms();
	if (http_conn_track(srv, req) == -1) {
		/* Over max_connections: say so and close, rather than queue. */
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		http_retry_after(call, 1);
		http_reply_error(call, 503, "SERVICE_UNAVAILABLE", "Too many connections");
		return;
	}
	if (uri == NULL || evhttp_uri_get_path(uri) == NULL) {
		http_reply_error(call, 400, NULL, "Malformed request URI");
		return;
	}
	if (http_precheck(call, uri) == 0)
		http_handler_for(call->route, call->method)(call);
}

/* ---- start and stop ---- */

static void
http_setup(struct http_srv *srv, struct worker *w, int fd)
{
	const struct cfg_worker	*wc = w->wcfg;
	struct timeval		 tv;
	int64_t			 maxbody = wc->max_webhook_body > wc->max_body ?
				    wc->max_webhook_body : wc->max_body;

	srv->w = w;
	srv->wcfg = wc;
	srv->wa = &w->cfg->whatsapp;
	if ((srv->eh = evhttp_new(w->base)) == NULL ||
	    (srv->outbuf = evbuffer_new()) == NULL)
		fatalx("evhttp_new/evbuffer_new failed");
	evhttp_set_max_body_size(srv->eh, maxbody + HTTP_BODY_SLACK);
	evhttp_set_max_headers_size(srv->eh, wc->max_header_size * HTTP_HEADER_SLACK);
	tv.tv_sec = wc->request_timeout_ms / 1000;
	tv.tv_usec = (wc->request_timeout_ms % 1000) * 1000;
	evhttp_set_timeout_tv(srv->eh, &tv);
	/* Every method reaches the dispatcher, so a 405 is ours (JSON). */
	evhttp_set_allowed_methods(srv->eh, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(srv->eh, "application/json");
	evhttp_set_gencb(srv->eh, http_dispatch, srv);
	if ((http_bound = evhttp_accept_socket_with_handle(srv->eh, fd)) == NULL)
		fatalx("evhttp_accept_socket(fd %d) failed", fd);
	/* evhttp owns the socket now and closes it when freed. */
	w->listen_fd = -1;
}

static void
http_drain(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	uint64_t	 now = now_mono_ms();
	int		 busy = http_srv.inflight > 0 ||
			    now < http_stop_ms + HTTP_DRAIN_MIN_MS ||
			    now < http_last_dispatch_ms + HTTP_DRAIN_QUIET_MS;

	if (busy && now < http_drain_deadline)
		return;
	if (http_srv.inflight > 0)
		log_warnx("stopping with %d requests still waiting on the DB",
		    http_srv.inflight);
	event_free(http_drain_ev);
	http_drain_ev = NULL;
	evhttp_free(http_srv.eh);
	http_srv.eh = NULL;
	http_alog_flush();
	http_crypt_stop();
	worker_exit_loop(w);
}

/* SIGTERM: stop accepting, answer what was accepted and let requests
 * waiting on the DB finish (at most a few seconds: holdfastd's
 * stopwaitsecs is the hard bound), then exit. */
static void
http_on_stop(struct worker *w, void *arg)
{
	struct timeval tv = { 0, 20 * 1000 };

	(void)arg;
	if (http_bound != NULL)
		evhttp_del_accept_socket(http_srv.eh, http_bound);
	http_bound = NULL;
	http_stop_ms = http_last_dispatch_ms = now_mono_ms();
	http_drain_deadline = http_stop_ms + 5000;
	http_drain_ev = event_new(w->base, -1, EV_PERSIST, http_drain, w);
	event_add(http_drain_ev, &tv);
}

int
main(int argc, char **argv)
{
	struct worker	w;
	int		fd, rc;

	worker_init(&w, argc, argv, "http");
	http_alog_init(w.base);
	fd = worker_listen(&w, SOCK_STREAM);
	http_setup(&http_srv, &w, fd);
	http_auth_init(&http_srv);
	http_srv.db = worker_db_start(&w, "http_request");
	worker_set_on_stop(&w, http_on_stop, NULL);
	worker_ready(&w);
	log_info("serving on fd %d (%s), max_body=%lld max_webhook_body=%lld",
	    fd, w.listen_inherited ? "inherited" : "bound",
	    (long long)w.wcfg->max_body, (long long)w.wcfg->max_webhook_body);
	rc = worker_run(&w);
	http_auth_free(&http_srv);
	http_alog_free();
	evbuffer_free(http_srv.outbuf);
	free(http_srv.conns);
	return rc;
}
