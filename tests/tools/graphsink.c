/*
 * graphsink: a local HTTP receiver playing the WhatsApp Cloud API's
 * send-message endpoint, for tests and benches (loopback only).
 *
 *   graphsink [-p port] [-P portfile] [-t token] [-r requests.log]
 *             [-s script] [-e default] [-d delay_ms] [-T cert.pem -K key.pem]
 *
 * With -T/-K it speaks HTTPS (for the worker's TLS client).
 *
 * POST .../messages answers, in order, the entries of the script (a comma
 * list, extended at run time by POST /_script), then the default (-e,
 * "ok" unless set):
 *   ok       200 with {"messages":[{"id":"wamid.GS<pid>.<n>"}]}
 *   500      HTTP 500, Graph code 131000 (retryable)
 *   503      HTTP 503 with a non-JSON body (retryable)
 *   130429   HTTP 400, rate limit (retryable: decided on the code)
 *   131047   HTTP 400, outside the 24-hour window (permanent)
 *   hang     no answer at all (the client's timeout)
 * A request whose Authorization is not "Bearer <token>" (with -t) gets
 * HTTP 401, code 190. GET /_count answers the number of message requests;
 * each is also logged as one JSON line to -r:
 *   {"n":1,"path":"/v21.0/123/messages","to":"165...","text":"hi","auth":true,"answer":"ok","wamid":"..."}
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "json.h"
#include "log.h"
#include "util.h"

#define GS_MAX_SCRIPT	4096

struct gs {
	struct event_base	*base;
	char			*token;
	FILE			*log;
	char			*script[GS_MAX_SCRIPT];
	int			 nscript, next;
	char			*dflt;
	int			 delay_ms;
	unsigned long		 count;
};

struct gs_reply {
	struct evhttp_request	*req;
	int			 status;
	char			*body;
	struct event		*ev;
};

static void
gs_script_add(struct gs *gs, const char *list)
{
	char *copy = xstrdup(list), *p = copy, *tok;

	while ((tok = strsep(&p, ", \n")) != NULL)
		if (*tok != '\0' && gs->nscript < GS_MAX_SCRIPT)
			gs->script[gs->nscript++] = xstrdup(tok);
	free(copy);
}

static const char *
gs_next_answer(struct gs *gs)
{
	if (gs->next < gs->nscript)
		return gs->script[gs->next++];
	return gs->dflt;
}

static char *
gs_body_text(struct evhttp_request *req)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	size_t		 len = evbuffer_get_length(in);
	char		*s = xmalloc(len + 1);

	evbuffer_copyout(in, s, len);
	s[len] = '\0';
	return s;
}

static void
gs_send(struct gs_reply *r)
{
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
	    r->status == 503 ? "text/html" : "application/json");
	evbuffer_add(out, r->body, strlen(r->body));
	evhttp_send_reply(r->req, r->status, r->status == 200 ? "OK" : "Error", out);
	evbuffer_free(out);
	if (r->ev != NULL)
		event_free(r->ev);
	free(r->body);
	free(r);
}

static void
gs_delayed(evutil_socket_t fd, short what, void *arg)
{
	gs_send(arg);
}

static char *
gs_error_body(long long code, const char *msg)
{
	return xasprintf("{\"error\":{\"message\":\"(#%lld) %s\",\"type\":\"OAuthException\","
	    "\"code\":%lld,\"error_data\":{\"messaging_product\":\"whatsapp\",\"details\":\"%s\"},"
	    "\"fbtrace_id\":\"graphsink\"}}", code, msg, code, msg);
}

/* Fills status/body for an answer name; 0, or -1 for "hang". */
static int
gs_answer(struct gs *gs, const char *answer, int *status, char **body, char *wamid, size_t wlen)
{
	if (strcmp(answer, "hang") == 0)
		return -1;
	if (strcmp(answer, "500") == 0) {
		*status = 500;
		*body = gs_error_body(131000, "Something went wrong");
	} else if (strcmp(answer, "503") == 0) {
		*status = 503;
		*body = xstrdup("<html><body>Service Unavailable</body></html>");
	} else if (strcmp(answer, "130429") == 0) {
		*status = 400;
		*body = gs_error_body(130429, "Rate limit hit");
	} else if (strcmp(answer, "131047") == 0) {
		*status = 400;
		*body = gs_error_body(131047, "Re-engagement message");
	} else {
		snprintf(wamid, wlen, "wamid.GS%ld.%lu", (long)getpid(), gs->count);
		*status = 200;
		*body = xasprintf("{\"messaging_product\":\"whatsapp\",\"contacts\":[],"
		    "\"messages\":[{\"id\":\"%s\"}]}", wamid);
	}
	return 0;
}

static void
gs_log_request(struct gs *gs, const char *path, const char *body, int auth,
    const char *answer, const char *wamid)
{
	char		 err[128];
	yajl_val	 v = json_parse(body, strlen(body), err, sizeof(err));
	struct jw	*jw = jw_new();

	jw_obj_open(jw);
	jw_kint(jw, "n", (long long)gs->count);
	jw_kstr(jw, "path", path);
	jw_kstr(jw, "to", json_get_str(v, "to"));
	jw_kstr(jw, "text", json_get_str(json_get_object(v, "text"), "body"));
	jw_kbool(jw, "auth", auth);
	jw_kstr(jw, "answer", answer);
	jw_kstr(jw, "wamid", wamid[0] ? wamid : NULL);
	jw_obj_close(jw);
	if (gs->log != NULL) {
		fprintf(gs->log, "%s\n", jw_buf(jw, NULL));
		fflush(gs->log);
	}
	jw_free(jw);
	if (v != NULL)
		yajl_tree_free(v);
}

static int
gs_auth_ok(struct gs *gs, struct evhttp_request *req)
{
	const char	*h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	char		*want;
	int		 ok;

	if (gs->token == NULL)
		return 1;
	want = xasprintf("Bearer %s", gs->token);
	ok = h != NULL && strcmp(h, want) == 0;
	free(want);
	return ok;
}

static void
gs_messages(struct gs *gs, struct evhttp_request *req, const char *path)
{
	struct gs_reply	*r = xcalloc(1, sizeof(*r));
	char		*body = gs_body_text(req), wamid[96] = "";
	const char	*answer;
	int		 auth = gs_auth_ok(gs, req);

	gs->count++;
	answer = auth ? gs_next_answer(gs) : "401";
	r->req = req;
	if (!auth) {
		r->status = 401;
		r->body = gs_error_body(190, "Invalid OAuth access token");
	} else if (gs_answer(gs, answer, &r->status, &r->body, wamid, sizeof(wamid)) == -1) {
		gs_log_request(gs, path, body, auth, answer, wamid);
		free(body);
		free(r);	/* never answered: the connection stays open */
		return;
	}
	gs_log_request(gs, path, body, auth, answer, wamid);
	free(body);
	if (gs->delay_ms > 0) {
		struct timeval tv = { gs->delay_ms / 1000, (gs->delay_ms % 1000) * 1000 };

		r->ev = evtimer_new(gs->base, gs_delayed, r);
		evtimer_add(r->ev, &tv);
	} else
		gs_send(r);
}

static void
gs_plain(struct evhttp_request *req, int status, const char *text)
{
	struct evbuffer *out = evbuffer_new();

	evbuffer_add(out, text, strlen(text));
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", out);
	evbuffer_free(out);
}

static void
gs_handle(struct evhttp_request *req, void *arg)
{
	struct gs	*gs = arg;
	const char	*uri = evhttp_request_get_uri(req);
	char		 buf[32];
	size_t		 len = strlen(uri);

	if (strcmp(uri, "/_count") == 0) {
		snprintf(buf, sizeof(buf), "%lu\n", gs->count);
		gs_plain(req, 200, buf);
	} else if (strcmp(uri, "/_script") == 0 &&
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
		char *b = gs_body_text(req);

		gs_script_add(gs, b);
		free(b);
		gs_plain(req, 200, "ok\n");
	} else if (evhttp_request_get_command(req) == EVHTTP_REQ_POST && len > 9 &&
	    strcmp(uri + len - 9, "/messages") == 0)
		gs_messages(gs, req, uri);
	else
		gs_plain(req, 404, "{\"error\":{\"code\":100,\"message\":\"Unknown path\"}}");
}

static void
gs_on_term(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* evhttp's bufferevent factory for HTTPS. */
static struct bufferevent *
gs_tls_bev(struct event_base *base, void *arg)
{
	return bufferevent_openssl_socket_new(base, -1, SSL_new(arg),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static SSL_CTX *
gs_tls_ctx(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		fatalx("TLS setup (%s, %s): %s", cert, key,
		    ERR_error_string(ERR_get_error(), NULL));
	return ctx;
}

static void
gs_usage(void)
{
	fprintf(stderr, "usage: graphsink [-p port] [-P portfile] [-t token] [-r log] "
	    "[-s script] [-e default] [-d delay_ms] [-T cert -K key]\n");
	exit(2);
}

static void
gs_write_port(const char *path, int port)
{
	char	 tmp[4096];
	FILE	*f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		fatal("fopen(%s)", tmp);
	fprintf(f, "%d\n", port);
	fclose(f);
	if (rename(tmp, path) == -1)
		fatal("rename(%s)", path);
}

int
main(int argc, char **argv)
{
	struct gs			 gs;
	struct evhttp			*http;
	struct evhttp_bound_socket	*bs;
	struct event			*ev_term, *ev_int;
	const char			*portfile = NULL, *cert = NULL, *key = NULL;
	int				 ch, port = 0;

	memset(&gs, 0, sizeof(gs));
	gs.dflt = "ok";
	log_init("graphsink", LOG_LVL_INFO);
	while ((ch = getopt(argc, argv, "p:P:t:r:s:e:d:T:K:")) != -1) {
		switch (ch) {
		case 'p': port = atoi(optarg); break;
		case 'P': portfile = optarg; break;
		case 't': gs.token = optarg; break;
		case 'r':
			if ((gs.log = fopen(optarg, "a")) == NULL)
				fatal("fopen(%s)", optarg);
			break;
		case 's': gs_script_add(&gs, optarg); break;
		case 'e': gs.dflt = optarg; break;
		case 'd': gs.delay_ms = atoi(optarg); break;
		case 'T': cert = optarg; break;
		case 'K': key = optarg; break;
		default: gs_usage();
		}
	}
	signal(SIGPIPE, SIG_IGN);
	gs.base = event_base_new();
	http = evhttp_new(gs.base);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(http, gs_handle, &gs);
	if (cert != NULL && key != NULL)
		evhttp_set_bevcb(http, gs_tls_bev, gs_tls_ctx(cert, key));
	if ((bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", port)) == NULL)
		fatal("bind(127.0.0.1:%d)", port);
	if (port == 0) {
		struct sockaddr_storage	 ss;
		socklen_t		 sl = sizeof(ss);

		getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl);
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	if (portfile != NULL)
		gs_write_port(portfile, port);
	log_info("listening on 127.0.0.1:%d", port);
	ev_term = evsignal_new(gs.base, SIGTERM, gs_on_term, gs.base);
	ev_int = evsignal_new(gs.base, SIGINT, gs_on_term, gs.base);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	event_base_dispatch(gs.base);
	log_info("stopping after %lu requests", gs.count);
	return 0;
}
