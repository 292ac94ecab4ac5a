/*
 * sup_web: the status page (see sup_web.h for the routes).
 *
 * Invariants: the page only reads unless status_actions is on, and then
 * each action needs the token (compared in constant time), a header a
 * cross-site form cannot send, and a same-origin Origin; no reply carries
 * a config value (conninfo, tokens, secrets): the JSON is the control
 * socket's status and tail, which carry none; a client is bounded by
 * hsrv's limits like any peer of holdfast-http.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <event2/event.h>

#include "buf.h"
#include "cfg.h"
#include "hsrv.h"
#include "json.h"
#include "log.h"
#include "sup.h"
#include "sup_ctl.h"
#include "sup_metrics.h"
#include "sup_web.h"
#include "sup_web_guard.h"
#include "util.h"

#define WEB_MAX_CONNS		32
#define WEB_MAX_CONNS_ADDR	8
#define WEB_MAX_HEADER		8192
#define WEB_HEADER_MS		5000
#define WEB_REQUEST_MS		10000
#define WEB_KEEPALIVE_MS	15000
#define WEB_TAIL_DEFAULT	100
#define WEB_TAIL_MAX		1000
#define WEB_TOKEN_MIN		16
#define WEB_TOKEN_MAX		512
#define WEB_PARAM_MAX		128

#define WEB_CSP	"default-src 'self'; base-uri 'none'; form-action 'none'; " \
		"frame-ancestors 'none'"

/* A listener a reload replaced: freed once its clients had their time. */
struct web_old {
	struct hsrv	*srv;
	struct event	*ev;
	struct web_old	*next;
};

static struct {
	struct hsrv	*srv;
	struct web_old	*old;
	/* events: metrics_listen, its own listener (msrv, on mspec) or
	 * /metrics on the status page's (mshared) */
	struct hsrv	*msrv;
	char		*mspec;
	int		 mshared;
} web;

/* ---- replies ------------------------------------------------------------ */

static void
web_headers(struct hsrv_req *r)
{
	hsrv_add_header(r, "Content-Security-Policy", WEB_CSP);
	hsrv_add_header(r, "X-Content-Type-Options", "nosniff");
	hsrv_add_header(r, "X-Frame-Options", "DENY");
	hsrv_add_header(r, "Referrer-Policy", "no-referrer");
	hsrv_add_header(r, "Cache-Control", "no-store");
}

static void
web_send(struct hsrv_req *r, int status, const char *ctype, const char *body,
    size_t len)
{
	web_headers(r);
	hsrv_reply(r, status, ctype, body, len);
}

/* Sends w (an object still open) and frees it. */
static void
web_send_jw(struct hsrv_req *r, int status, struct jw *w)
{
	const char	*s;
	size_t		 len;

	jw_obj_close(w);
	if ((s = jw_buf(w, &len)) == NULL) {
		s = "{\"error\":\"INTERNAL\",\"detail\":\"JSON writer\",\"status\":500}";
		len = strlen(s);
		status = 500;
	}
	web_send(r, status, "application/json", s, len);
	jw_free(w);
}

static void
web_error(struct hsrv_req *r, int status, const char *detail)
{
	struct jw *w = jw_new();

	jw_obj_open(w);
	jw_kstr(w, "error", hsrv_status_word(status));
	jw_kstr(w, "detail", detail);
	jw_kint(w, "status", status);
	web_send_jw(r, status, w);
}

static struct jw *
web_ok(void)
{
	struct jw *w = jw_new();

	jw_obj_open(w);
	jw_kbool(w, "ok", 1);
	return w;
}

/* ---- the query string ---------------------------------------------------- */

/* Percent-decodes [s, s + len) into out; -1 when bad, too long or holding
 * a control character. */
static int
web_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i], hi, lo;

		if (c == '%') {
			if (i + 2 >= len)
				return -1;
			hi = hf_hex_digit((unsigned char)s[i + 1]);
			lo = hf_hex_digit((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+')
			c = ' ';
		if (c < 0x20 || c == 0x7f || o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* The value of parameter key in the target's query: 1 found, 0 absent,
 * -1 malformed. */
static int
web_param(const char *target, const char *key, char *out, size_t outlen)
{
	const char	*q = strchr(target, '?');
	size_t		 klen = strlen(key);

	while (q != NULL && *q != '\0') {
		const char *p = q + 1, *end = p + strcspn(p, "&");

		if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=')
			return web_decode(p + klen + 1, (size_t)(end - p - klen - 1), out,
			    outlen) == 0 ? 1 : -1;
		q = *end == '&' ? end : NULL;
	}
	return 0;
}

/* ---- read-only routes ---------------------------------------------------- */

static void
web_status(struct hsrv_req *r)
{
	struct sup_proc	**v;
	int		 n = sup_lookup("all", &v);
	struct jw	*w = web_ok();

	sup_ctl_status_json(w, v, n);
	free(v);
	if (sup.s_cfg->holdfast.status_actions)
		hsrv_add_header(r, "X-Holdfast-Actions", "1");
	web_send_jw(r, 200, w);
}

/* The one instance the name parameter names; NULL (reply sent) if none. */
static struct sup_proc *
web_instance(struct hsrv_req *r, const char *name)
{
	struct sup_proc	**v, *p;
	int		 n = sup_lookup(name, &v);

	p = n == 1 ? v[0] : NULL;
	free(v);
	if (n == 0)
		web_error(r, 404, "no such process");
	else if (n > 1)
		web_error(r, 400, "name an instance, not a group");
	return p;
}

static void
web_tail(struct hsrv_req *r)
{
	char		 name[WEB_PARAM_MAX], lines[16];
	long long	 want = WEB_TAIL_DEFAULT;
	struct sup_proc	*p;
	struct jw	*w;
	int		 rc;

	if (web_param(hsrv_target(r), "name", name, sizeof(name)) != 1) {
		web_error(r, 400, "tail needs ?name=INSTANCE");
		return;
	}
	if ((rc = web_param(hsrv_target(r), "lines", lines, sizeof(lines))) == -1 ||
	    (rc == 1 && hf_parse_int(lines, 0, WEB_TAIL_MAX, &want) == -1)) {
		web_error(r, 400, "lines: a number in 0..1000");
		return;
	}
	if ((p = web_instance(r, name)) == NULL)
		return;
	w = web_ok();
	sup_ctl_tail_json(w, p, want);
	web_send_jw(r, 200, w);
}

/* ---- actions --------------------------------------------------------------- */

/* Compares in a time that depends on the expected token's length only. */
static int
web_token_equal(const char *got, const char *want)
{
	size_t		 glen = strlen(got), wlen = strlen(want);
	unsigned char	 d = glen != wlen;

	for (size_t i = 0; i < wlen; i++)
		d |= (unsigned char)((i < glen ? got[i] : 0) ^ want[i]);
	return d == 0;
}

/* The token of status_token_file into tok; NULL with a reason. */
static const char *
web_token_read(const char *path, char *tok, size_t len)
{
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	if (path == NULL)
		return "no status_token_file";
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) == -1)
		return "status_token_file cannot be opened";
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 077) != 0) {
		close(fd);
		return "status_token_file must be a regular file of holdfastd's user "
		    "or root, mode 0600 or 0400";
	}
	n = read(fd, tok, len - 1);
	close(fd);
	tok[n > 0 ? n : 0] = '\0';
	tok[strcspn(tok, "\r\n")] = '\0';
	if (strlen(tok) < WEB_TOKEN_MIN)
		return "the token of status_token_file is shorter than 16 characters";
	return NULL;
}

/* The Origin of a browser's request must be the page's own. */
static int
web_same_origin(struct hsrv_req *r)
{
	const char	*origin = hsrv_header(r, "Origin");
	const char	*host = hsrv_header(r, "Host");
	const char	*rest;

	if (origin == NULL)
		return 1;
	if (host == NULL)
		return 0;
	rest = strncmp(origin, "http://", 7) == 0 ? origin + 7 :
	    strncmp(origin, "https://", 8) == 0 ? origin + 8 : NULL;
	return rest != NULL && strcmp(rest, host) == 0;
}

/* A wrong or missing token: counted against the peer's address. */
static void
web_unauthorized(struct hsrv_req *r)
{
	int n = web_auth_failed(hsrv_peer(r), hf_now_mono_ms());

	log_warnx("[STATUS_AUTH_FAIL] peer=%s failures=%d%s", hsrv_peer(r), n,
	    n == WEB_AUTH_FAILS ? " (further actions from it refused for a while)" : "");
	hsrv_add_header(r, "WWW-Authenticate", "Bearer realm=\"holdfastd\"");
	web_error(r, 401, "a valid bearer token is required");
}

/* 1 when the peer may try a token now; else 429 is sent. */
static int
web_not_throttled(struct hsrv_req *r)
{
	char	secs[16];
	int	left = web_auth_blocked(hsrv_peer(r), hf_now_mono_ms());

	if (left == 0)
		return 1;
	snprintf(secs, sizeof(secs), "%d", left);
	hsrv_add_header(r, "Retry-After", secs);
	web_error(r, 429, "too many wrong tokens from this address: try again later");
	return 0;
}

/* 1 when r may act; else the refusal is sent. */
static int
web_authorized(struct hsrv_req *r)
{
	const char	*auth = hsrv_header(r, "Authorization"), *why;
	const char	*csrf = hsrv_header(r, "X-Holdfast-Action");
	char		 tok[WEB_TOKEN_MAX];
	int		 ok;

	if (!sup.s_cfg->holdfast.status_actions) {
		web_error(r, 403, "actions are off (status_actions)");
		return 0;
	}
	if (csrf == NULL || strcmp(csrf, "1") != 0 || !web_same_origin(r)) {
		web_error(r, 403, "an action needs X-Holdfast-Action: 1 from the page's origin");
		return 0;
	}
	if (!web_not_throttled(r))
		return 0;
	if ((why = web_token_read(sup.s_cfg->holdfast.status_token_file, tok,
	    sizeof(tok))) != NULL) {
		log_warnx("status page: action refused: %s", why);
		web_error(r, 403, "no usable token is configured");
		return 0;
	}
	ok = auth != NULL && strncmp(auth, "Bearer ", 7) == 0 &&
	    web_token_equal(auth + 7, tok);
	explicit_bzero(tok, sizeof(tok));
	if (ok)
		web_auth_passed(hsrv_peer(r));
	else
		web_unauthorized(r);
	return ok;
}

static void
web_reload(struct hsrv_req *r)
{
	char		 err[CFG_ERRLEN];
	struct jw	*w = web_ok();

	jw_key(w, "changes");
	jw_arr_open(w);
	if (sup_reload(err, sizeof(err), w) == -1) {
		jw_free(w);
		web_error(r, 409, err);
		return;
	}
	jw_arr_close(w);
	web_send_jw(r, 200, w);
}

/* start, stop or restart of the instances (or group, or "all") name. */
static void
web_apply(struct hsrv_req *r, const char *what, const char *name)
{
	struct sup_proc	**v;
	int		 n = sup_lookup(name, &v);
	struct jw	*w;

	if (n == 0) {
		web_error(r, 404, "no such process");
		return;
	}
	if (strcmp(what, "restart") == 0)
		sup_ctl_restart_one(name);
	else
		for (int i = 0; i < n; i++)
			(strcmp(what, "start") == 0 ? sup_proc_start : sup_proc_stop)(v[i]);
	sup_pass();
	w = web_ok();
	sup_ctl_status_json(w, v, n);
	free(v);
	web_send_jw(r, 200, w);
}

static void
web_action(struct hsrv_req *r)
{
	char	what[16], name[WEB_PARAM_MAX];
	int	has_name;

	if (!web_authorized(r))
		return;
	if (web_param(hsrv_target(r), "do", what, sizeof(what)) != 1 ||
	    (has_name = web_param(hsrv_target(r), "name", name, sizeof(name))) == -1) {
		web_error(r, 400, "an action needs ?do=start|stop|restart|reload");
		return;
	}
	if (sup.s_shutting_down) {
		web_error(r, 503, "holdfastd is shutting down");
		return;
	}
	log_info("status page: %s%s%s from %s", what, has_name ? " " : "",
	    has_name ? name : "", hsrv_peer(r));
	if (strcmp(what, "reload") == 0)
		web_reload(r);
	else if (!has_name)
		web_error(r, 400, "start, stop and restart need ?name=NAME");
	else if (strcmp(what, "start") == 0 || strcmp(what, "stop") == 0 ||
	    strcmp(what, "restart") == 0)
		web_apply(r, what, name);
	else
		web_error(r, 400, "do: start, stop, restart or reload");
}

/* ---- dispatch -------------------------------------------------------------- */

static void
web_asset(struct hsrv_req *r, const char *ctype, const char *body)
{
	web_send(r, 200, ctype, body, strlen(body));
}

static const struct web_route {
	const char	*path;
	const char	*method;
	int		 kind;
} web_routes[] = {
	{ "/", "GET", 0 },
	{ "/status.js", "GET", 1 },
	{ "/status.css", "GET", 2 },
	{ "/status.json", "GET", 3 },
	{ "/tail", "GET", 4 },
	{ "/action", "POST", 5 },
	{ "/metrics", "GET", 6 },	/* events: with metrics_listen */
};

static void web_metrics(struct hsrv_req *);

static void
web_route(struct hsrv_req *r, int kind)
{
	switch (kind) {
	case 0: web_asset(r, "text/html; charset=utf-8", sup_web_html); break;
	case 1: web_asset(r, "text/javascript; charset=utf-8", sup_web_js); break;
	case 2: web_asset(r, "text/css; charset=utf-8", sup_web_css); break;
	case 3: web_status(r); break;
	case 4: web_tail(r); break;
	case 6: web_metrics(r); break;
	default: web_action(r); break;
	}
}

static void
web_request(struct hsrv_req *r, void *arg)
{
	const char	*target = hsrv_target(r);
	size_t		 plen = strcspn(target, "?");
	int		 metrics_only = arg != NULL;

	if (!web_host_allowed(hsrv_header(r, "Host"), sup.s_cfg->holdfast.status_hosts)) {
		web_error(r, 403, "this Host is not the status page's: add it to status_hosts");
		return;
	}
	for (size_t i = 0; i < nitems(web_routes); i++) {
		const struct web_route *rt = &web_routes[i];

		if (strlen(rt->path) != plen || strncmp(rt->path, target, plen) != 0)
			continue;
		if ((rt->kind == 6 && !metrics_only && !web.mshared) ||
		    (rt->kind != 6 && metrics_only))
			break;
		if (strcmp(hsrv_method(r), rt->method) == 0)
			web_route(r, rt->kind);
		else {
			hsrv_add_header(r, "Allow", rt->method);
			web_error(r, 405, "method not allowed");
		}
		return;
	}
	web_error(r, 404, "no such page");
}

/* No route takes a body. */
static int64_t
web_body_limit(struct hsrv_req *r, void *arg)
{
	(void)r;
	(void)arg;
	return 0;
}

/* ---- the listener ------------------------------------------------------- */

static struct hsrv *
web_listen(const struct cfg_listen *l, int metrics_only, char *err, size_t errlen)
{
	static const struct hsrv_limits lim = {
		.max_conns = WEB_MAX_CONNS,
		.max_conns_per_addr = WEB_MAX_CONNS_ADDR,
		.max_header = WEB_MAX_HEADER,
		.max_body_memory = 0,
		.header_timeout_ms = WEB_HEADER_MS,
		.request_timeout_ms = WEB_REQUEST_MS,
		.keepalive_timeout_ms = WEB_KEEPALIVE_MS,
	};
	static const struct hsrv_cbs cbs = {
		.body_limit = web_body_limit,
		.request = web_request,
	};
	static const struct hsrv_cbs mcbs = {	/* events: arg marks /metrics only */
		.body_limit = web_body_limit,
		.request = web_request,
		.arg = &web,
	};
	struct hsrv	*srv;
	int		 fd;

	if ((fd = sup_listen_bind(l, 0, err, errlen)) == -1)
		return NULL;
	if (hf_fd_set_nonblock(fd) == -1 || (srv = hsrv_new(sup.s_base, fd, &lim,
	    metrics_only ? &mcbs : &cbs)) == NULL) {
		snprintf(err, errlen, "%s %s: cannot serve", metrics_only ?
		    "metrics_listen" : "status_listen", l->spec);
		close(fd);
		return NULL;
	}
	return srv;
}

int
sup_web_start(const struct cfg_listen *l, char *err, size_t errlen)
{
	if (l->type == 0)
		return 0;
	if ((web.srv = web_listen(l, 0, err, errlen)) == NULL)
		return -1;
	log_info("status page on http://%s%s%s:%s/", strchr(l->host, ':') ? "[" : "",
	    l->host, strchr(l->host, ':') ? "]" : "", l->port);
	if (sup.s_cfg->holdfast.status_actions && sup.s_cfg->holdfast.status_token_file == NULL)
		log_warnx("status page: status_actions = true but no status_token_file: "
		    "every action is refused");
	return 0;
}

static void
web_old_free(evutil_socket_t fd, short what, void *arg)
{
	struct web_old **pp = &web.old, *o = arg;

	(void)fd;
	(void)what;
	while (*pp != o)
		pp = &(*pp)->next;
	*pp = o->next;
	hsrv_free(o->srv);
	event_free(o->ev);
	free(o);
}

/* The old listener may be the one whose request asked for the reload:
 * it stops accepting now and is freed once its requests had their time. */
static void
web_retire(struct hsrv *srv)
{
	struct web_old	*o = xcalloc(1, sizeof(*o));
	struct timeval	 tv = { WEB_REQUEST_MS / 1000, 0 };

	hsrv_stop_accepting(srv);
	o->srv = srv;
	o->ev = evtimer_new(sup.s_base, web_old_free, o);
	o->next = web.old;
	web.old = o;
	evtimer_add(o->ev, &tv);
}

int
sup_web_relisten(const struct cfg_listen *l, char *err, size_t errlen)
{
	struct hsrv *srv = NULL;

	if (l->type != 0 && (srv = web_listen(l, 0, err, errlen)) == NULL)
		return -1;
	if (web.srv != NULL)
		web_retire(web.srv);
	web.srv = srv;
	if (srv != NULL)
		log_info("status page now on %s", l->spec);
	else
		log_info("status page off");
	return 0;
}

void
sup_web_close(void)
{
	while (web.old != NULL)
		web_old_free(-1, 0, web.old);
	if (web.srv != NULL)
		hsrv_free(web.srv);
	web.srv = NULL;
	if (web.msrv != NULL)		/* events */
		hsrv_free(web.msrv);
	web.msrv = NULL;
	free(web.mspec);
	web.mspec = NULL;
}

/* ---- events: /metrics ------------------------------------------------------ */

static void
web_metrics(struct hsrv_req *r)
{
	struct buf b = BUF_INIT;

	sup_metrics_text(&b);
	web_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
	buf_free(&b);
}

static int
web_same_addr(const struct cfg_listen *a, const struct cfg_listen *b)
{
	return a->type != 0 && b->type != 0 && strcmp(a->host, b->host) == 0 &&
	    strcmp(a->port, b->port) == 0;
}

int
sup_web_metrics_relisten(const struct cfg_listen *ml, const struct cfg_listen *sl,
    char *err, size_t errlen)
{
	struct hsrv *srv = NULL;

	web.mshared = web_same_addr(ml, sl);
	if (ml->type != 0 && !web.mshared && web.msrv != NULL &&
	    strcmp(web.mspec, ml->spec) == 0)
		return 0;		/* the same listener serves on */
	if (ml->type != 0 && !web.mshared &&
	    (srv = web_listen(ml, 1, err, errlen)) == NULL)
		return -1;
	if (web.msrv != NULL)
		web_retire(web.msrv);
	free(web.mspec);
	web.msrv = srv;
	web.mspec = srv != NULL ? xstrdup(ml->spec) : NULL;
	if (ml->type != 0)
		log_info("metrics on http://%s%s%s:%s/metrics", strchr(ml->host, ':') ? "[" :
		    "", ml->host, strchr(ml->host, ':') ? "]" : "", ml->port);
	return 0;
}
