/*
 * wa_outbox: claims outbox rows, sends them over HTTP, stores the outcome.
 * See wa_outbox.h for the invariants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cfg.h"
#include "db.h"
#include "log.h"
#include "util.h"
#include "wa.h"
#include "wa_graph.h"
#include "wa_outbox.h"
#include "wa_tls.h"

#define WA_CONNS		8		/* parallel HTTP connections */
#define WA_LEASE_MARGIN_MS	30000		/* lease beyond send_timeout */
#define WA_MAX_ANSWER		(1024 * 1024)

struct wa_send {
	struct wa_outbox	*ob;
	long long		 id;
	int			 attempts;
	int64_t			 delay_ms;	/* of a retry */
	char			*phone, *to, *body;
	char			 neterr[160];
	struct wa_send_result	 res;
	struct evhttp_connection *conn;	/* its own (TLS) connection, or NULL */
	TAILQ_ENTRY(wa_send)	 entry;
};
TAILQ_HEAD(wa_sendq, wa_send);

struct wa_outbox {
	struct wa		*wa;
	struct evdns_base	*dns;
	struct evhttp_connection *conns[WA_CONNS];
	unsigned		 next_conn;
	char			*host;
	int			 port;
	int			 https;
	struct wa_tls		*tls;
	struct wa_sendq		 inflight;	/* HTTP request running */
	struct wa_sendq		 unrecorded;	/* outcome known, not stored yet */
	int			 ninflight;	/* HTTP requests running */
	int			 nunrecorded;
	int			 nrecording;	/* outcome being stored */
	int			 record_warned;
};

static void wa_send_record(struct wa_send *);

static void
wa_send_free(struct wa_send *s)
{
	free(s->phone);
	free(s->to);
	free(s->body);
	free(s);
}

struct wa_outbox *
wa_outbox_new(struct wa *wa)
{
	struct wa_outbox	*ob = xcalloc(1, sizeof(*ob));
	struct evhttp_uri	*uri;
	const char		*scheme, *host;

	ob->wa = wa;
	TAILQ_INIT(&ob->inflight);
	TAILQ_INIT(&ob->unrecorded);
	uri = evhttp_uri_parse(wa->cfg->graph_api_url);
	if (uri == NULL || (host = evhttp_uri_get_host(uri)) == NULL ||
	    (scheme = evhttp_uri_get_scheme(uri)) == NULL)
		fatalx("[whatsapp] graph_api_url %s: not an http(s) URL", wa->cfg->graph_api_url);
	ob->https = strcasecmp(scheme, "https") == 0;
	if (!ob->https && strcasecmp(scheme, "http") != 0)
		fatalx("[whatsapp] graph_api_url %s: scheme must be http or https",
		    wa->cfg->graph_api_url);
	ob->host = xstrdup(host);
	ob->port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : (ob->https ? 443 : 80);
	evhttp_uri_free(uri);
	if (ob->https)
		ob->tls = wa_tls_new(ob->host);
	ob->dns = evdns_base_new(wa->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	return ob;
}

void
wa_outbox_free(struct wa_outbox *ob)
{
	struct wa_send *s;

	if (ob == NULL)
		return;
	for (int i = 0; i < WA_CONNS; i++)
		if (ob->conns[i] != NULL)
			evhttp_connection_free(ob->conns[i]);
	/* Freeing a connection drops its requests without their callbacks. */
	while ((s = TAILQ_FIRST(&ob->inflight)) != NULL) {
		TAILQ_REMOVE(&ob->inflight, s, entry);
		if (s->conn != NULL)
			evhttp_connection_free(s->conn);
		wa_send_free(s);
	}
	while ((s = TAILQ_FIRST(&ob->unrecorded)) != NULL) {
		TAILQ_REMOVE(&ob->unrecorded, s, entry);
		wa_send_free(s);
	}
	if (ob->dns != NULL)
		evdns_base_free(ob->dns, 0);
	wa_tls_free(ob->tls);
	free(ob->host);
	free(ob);
}

int
wa_outbox_busy(const struct wa_outbox *ob)
{
	return ob->ninflight + ob->nunrecorded + ob->nrecording;
}

/* --- storing an outcome ----------------------------------------------- */

static void
wa_record_ok(struct wa_send *s, PGresult *res)
{
	struct wa *wa = s->ob->wa;

	wa->n.sent++;
	if (wa_res_int(res, 0) == 0)
		log_warnx("[WA_SEND] outbox id=%lld already had a message id; "
		    "%s was a second send", s->id, s->res.wamid);
	else
		log_debug("outbox id=%lld sent as %s", s->id, s->res.wamid);
}

static void
wa_record_failed(struct wa_send *s, PGresult *res)
{
	struct wa	*wa = s->ob->wa;
	const char	*st = PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "";

	if (*st == '\0') {
		/* No longer pending and ours: its lease expired and another
		 * instance took it over, or someone changed it meanwhile. */
		log_info("outbox id=%lld changed meanwhile; outcome not stored: %s",
		    s->id, s->res.error);
	} else if (strcmp(st, "failed") == 0) {
		wa->n.failed++;
		log_warnx("[WA_SEND_FAILED] outbox id=%lld attempts=%d: %s",
		    s->id, s->attempts, s->res.error);
	} else {
		wa->n.retried++;
		wa_wake_after(wa, s->delay_ms);
		log_info("[WA_SEND_RETRY] outbox id=%lld attempt=%d: %s",
		    s->id, s->attempts, s->res.error);
	}
}

static void
wa_record_done(const struct db_error *err, PGresult *const *res, int nres, void *arg)
{
	struct wa_send		*s = arg;
	struct wa_outbox	*ob = s->ob;
	struct wa		*wa = ob->wa;

	ob->nrecording--;
	if (err != NULL) {
		/* Keep it: the next pass (after the DB is back) stores it. */
		if (!ob->record_warned++)
			log_warnx("outbox id=%lld: cannot store the send's outcome yet: %s (%s)",
			    s->id, err->reason, err->message);
		TAILQ_INSERT_TAIL(&ob->unrecorded, s, entry);
		ob->nunrecorded++;
		return;
	}
	ob->record_warned = 0;
	if (s->res.cls == WA_SEND_OK)
		wa_record_ok(s, res[0]);
	else
		wa_record_failed(s, res[0]);
	wa_send_free(s);
	/* The contact's next row may go now; room for more sends too. */
	wa_wake(wa);
	wa_check_idle(wa);
}

static void
wa_send_record(struct wa_send *s)
{
	struct wa_outbox	*ob = s->ob;
	struct wa		*wa = ob->wa;
	char			 id[24], delay[24], max[24];
	const char		*params[4] = { id, NULL, delay, max };

	ob->nrecording++;
	snprintf(id, sizeof(id), "%lld", s->id);
	if (s->res.cls == WA_SEND_OK) {
		params[1] = s->res.wamid;
		db_query(wa->db, WA_OP, "SELECT holdfast_wa_outbox_sent($1::bigint, $2)",
		    2, params, wa_record_done, s);
		return;
	}
	params[1] = s->res.error;
	s->delay_ms = s->res.cls == WA_SEND_RETRY ? wa_graph_retry_delay_ms(wa->dbcfg->backoff_initial_ms,
	    wa->dbcfg->backoff_max_ms, s->attempts, hf_rand_unit()) : -1;
	snprintf(delay, sizeof(delay), "%lld", (long long)s->delay_ms);
	snprintf(max, sizeof(max), "%d", wa->cfg->send_max_attempts);
	db_query(wa->db, WA_OP,
	    "SELECT holdfast_wa_outbox_failed($1::bigint, $2, $3::bigint, $4::integer)",
	    4, params, wa_record_done, s);
}

/* Stores outcomes kept while the DB was unavailable. */
static void
wa_outbox_flush(struct wa_outbox *ob)
{
	struct wa_send *s;

	while ((s = TAILQ_FIRST(&ob->unrecorded)) != NULL) {
		TAILQ_REMOVE(&ob->unrecorded, s, entry);
		ob->nunrecorded--;
		wa_send_record(s);
	}
}

/* --- the HTTP request ------------------------------------------------- */

static const char *
wa_http_error_name(enum evhttp_request_error e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:	return "timeout";
	case EVREQ_HTTP_EOF:		return "connection closed or refused";
	case EVREQ_HTTP_INVALID_HEADER:	return "invalid answer header";
	case EVREQ_HTTP_BUFFER_ERROR:	return "I/O error";
	case EVREQ_HTTP_REQUEST_CANCEL:	return "cancelled";
	case EVREQ_HTTP_DATA_TOO_LONG:	return "answer too long";
	}
	return "unknown error";
}

static void
wa_send_error(enum evhttp_request_error e, void *arg)
{
	struct wa_send	*s = arg;
	unsigned long	 tlserr;

	hf_strlcpy(s->neterr, wa_http_error_name(e), sizeof(s->neterr));
	/* A TLS failure (an untrusted certificate...) says more than "EOF". */
	if (s->conn != NULL && (tlserr = wa_tls_last_error(s->conn)) != 0)
		snprintf(s->neterr, sizeof(s->neterr), "TLS: %s",
		    wa_tls_error_string(tlserr));
}

static void
wa_send_answer(struct evhttp_request *req, void *arg)
{
	struct wa_send	*s = arg;
	struct evbuffer	*in;
	int		 status = req != NULL ? evhttp_request_get_response_code(req) : 0;
	size_t		 len = 0;
	const char	*body = NULL;

	if (status != 0 && (in = evhttp_request_get_input_buffer(req)) != NULL) {
		len = evbuffer_get_length(in);
		body = (const char *)evbuffer_pullup(in, -1);
	}
	wa_graph_classify(status, body, len,
	    s->neterr[0] ? s->neterr : "connection failed or no answer", &s->res);
	TAILQ_REMOVE(&s->ob->inflight, s, entry);
	s->conn = NULL;		/* a TLS connection frees itself on completion */
	s->ob->ninflight--;
	wa_send_record(s);
}

static void
wa_conn_setup(struct wa_outbox *ob, struct evhttp_connection *conn)
{
	int64_t		 ms = ob->wa->cfg->send_timeout_ms;
	struct timeval	 tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	evhttp_connection_set_timeout_tv(conn, &tv);
	evhttp_connection_set_max_body_size(conn, WA_MAX_ANSWER);
	evhttp_connection_set_retries(conn, 0);	/* no hidden resends */
}

/* The connection for s: a pooled keep-alive one (http), or its own (https). */
static struct evhttp_connection *
wa_outbox_conn(struct wa_outbox *ob, struct wa_send *s)
{
	unsigned i = ob->next_conn++ % WA_CONNS;

	if (ob->https) {
		s->conn = wa_tls_connection(ob->tls, ob->wa->base, ob->dns, ob->port);
		if (s->conn == NULL)
			return NULL;
		wa_conn_setup(ob, s->conn);
		evhttp_connection_free_on_completion(s->conn);
		return s->conn;
	}
	if (ob->conns[i] != NULL)
		return ob->conns[i];
	ob->conns[i] = evhttp_connection_base_new(ob->wa->base, ob->dns, ob->host, ob->port);
	if (ob->conns[i] == NULL)
		fatalx("evhttp_connection_base_new(%s:%d) failed", ob->host, ob->port);
	wa_conn_setup(ob, ob->conns[i]);
	return ob->conns[i];
}

/* Fills the request's headers and body; -1 when it cannot be built. */
static int
wa_send_prepare(struct wa_send *s, struct evhttp_request *req)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	const struct wa		*wa = s->ob->wa;
	char			*auth, *hostport, *body;
	size_t			 len;

	auth = xasprintf("Bearer %s", wa->cfg->access_token != NULL ? wa->cfg->access_token : "");
	if (s->ob->port == (s->ob->https ? 443 : 80))
		hostport = xstrdup(s->ob->host);
	else
		hostport = xasprintf("%s:%d", s->ob->host, s->ob->port);
	evhttp_add_header(h, "Host", hostport);
	evhttp_add_header(h, "Authorization", auth);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Accept", "application/json");
	/*
	 * An https send owns its connection (free on completion); kept alive,
	 * it would stay open, unreferenced, until the server hangs up, and
	 * at exit it (its SSL, its buffers) would leak.
	 */
	if (s->ob->https)
		evhttp_add_header(h, "Connection", "close");
	explicit_bzero(auth, strlen(auth));
	free(auth);
	free(hostport);
	body = wa_graph_text_body(s->to, s->body, &len);
	evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	free(body);
	return 0;
}

/* The request path, or NULL (then the row fails: it can never be sent). */
static char *
wa_send_path(struct wa_send *s)
{
	const struct wa		*wa = s->ob->wa;
	char			*url, *path = NULL;
	struct evhttp_uri	*uri;

	url = wa_graph_url(wa->cfg->graph_api_url, wa->cfg->api_version, s->phone);
	if (url != NULL && (uri = evhttp_uri_parse(url)) != NULL) {
		path = xstrdup(evhttp_uri_get_path(uri));
		evhttp_uri_free(uri);
	}
	free(url);
	return path;
}

static void
wa_send_start(struct wa_outbox *ob, struct wa_send *s)
{
	struct evhttp_request		*req;
	struct evhttp_connection	*conn;
	char				*path;

	if ((path = wa_send_path(s)) == NULL) {
		wa_graph_classify(0, NULL, 0, NULL, &s->res);
		s->res.cls = WA_SEND_PERMANENT;
		snprintf(s->res.error, sizeof(s->res.error),
		    "phone_number_id or api_version unusable in a URL");
		wa_send_record(s);
		return;
	}
	if ((conn = wa_outbox_conn(ob, s)) == NULL) {
		free(path);
		wa_graph_classify(0, NULL, 0, "cannot set up a TLS connection", &s->res);
		wa_send_record(s);
		return;
	}
	req = evhttp_request_new(wa_send_answer, s);
	evhttp_request_set_error_cb(req, wa_send_error);
	wa_send_prepare(s, req);
	ob->ninflight++;
	TAILQ_INSERT_TAIL(&ob->inflight, s, entry);
	log_debug("outbox id=%lld: POST %s (attempt %d)", s->id, path, s->attempts);
	if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, path) == -1) {
		/* evhttp freed req; the answer callback will not run. */
		TAILQ_REMOVE(&ob->inflight, s, entry);
		ob->ninflight--;
		if (s->conn != NULL)
			evhttp_connection_free(s->conn);
		s->conn = NULL;
		wa_graph_classify(0, NULL, 0, "cannot start the request", &s->res);
		wa_send_record(s);
	}
	free(path);
}

/* --- the loop step ---------------------------------------------------- */

static void
wa_claim_done(const struct db_error *err, PGresult *const *res, int nres, void *arg)
{
	struct wa		*wa;
	wa_step_done		 done;
	PGresult		*r;
	int			 n;

	if (wa_stepctx_end(arg, err, &wa, &done) == -1)
		return;
	r = res[0];
	n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		struct wa_send *s = xcalloc(1, sizeof(*s));

		s->ob = wa->outbox;
		s->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		s->phone = xstrdup(PQgetvalue(r, i, 1));
		s->to = xstrdup(PQgetvalue(r, i, 2));
		s->body = xstrdup(PQgetvalue(r, i, 3));
		s->attempts = atoi(PQgetvalue(r, i, 4));
		wa_send_start(wa->outbox, s);
	}
	done(wa, WA_STEP_DONE, NULL);
}

void
wa_outbox_step(struct wa *wa, wa_step_done done)
{
	struct wa_outbox	*ob = wa->outbox;
	char			 batch[24], lease[24];
	const char		*params[2] = { batch, lease };
	int			 room;

	wa_outbox_flush(ob);
	room = wa->cfg->batch_size - wa_outbox_busy(ob);
	if (wa->stopping || room <= 0) {
		done(wa, WA_STEP_DONE, NULL);
		return;
	}
	snprintf(batch, sizeof(batch), "%d", room);
	snprintf(lease, sizeof(lease), "%lld",
	    (long long)(wa->cfg->send_timeout_ms + WA_LEASE_MARGIN_MS));
	db_query(wa->db, WA_OP,
	    "SELECT id, phone_number_id, to_wa_id, body, attempts "
	    "FROM holdfast_wa_outbox_claim($1::integer, $2::bigint)",
	    2, params, wa_claim_done, wa_stepctx_new(wa, done));
}
