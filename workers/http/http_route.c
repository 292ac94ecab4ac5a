/*
 * http_route: route table, error shape, redaction, parameter parsing (see
 * http_route.h). No I/O, no DB, no globals that change: every function
 * here is a pure function of its arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_route.h"
#include "json.h"
#include "util.h"

struct http_route {
	const char	*name;		/* label; "{id}" marks a numeric segment */
	int		 methods;
	const char	*allow;
};

static const struct http_route http_routes[HTTP_R_NROUTES] = {
	[HTTP_R_HEALTHZ] = { "/healthz", HTTP_M_GET, "GET, HEAD" },
	[HTTP_R_READYZ] = { "/readyz", HTTP_M_GET, "GET, HEAD" },
	[HTTP_R_LOGIN] = { "/api/auth/login", HTTP_M_POST, "POST" },
	[HTTP_R_CONVERSATIONS] = { "/api/conversations", HTTP_M_GET, "GET, HEAD" },
	[HTTP_R_CONVERSATION] = { "/api/conversations/{id}", HTTP_M_GET, "GET, HEAD" },
	[HTTP_R_CALLS] = { "/api/calls", HTTP_M_GET, "GET, HEAD" },
	[HTTP_R_WEBHOOK] = { "/webhooks/whatsapp", HTTP_M_GET | HTTP_M_POST, "GET, HEAD, POST" },
	[HTTP_R_METRICS] = { "/metrics", HTTP_M_GET, "GET, HEAD" },
};

/* A cursor's time: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z. */
#define HTTP_CURSOR_MIN_US	(-62135596800LL * 1000000)
#define HTTP_CURSOR_MAX_US	(253402300800LL * 1000000 - 1)

/* 1..2^63-1, digits only, no leading zero. */
static int
http_parse_id(const char *s, size_t len, long long *id)
{
	char buf[24];

	if (len == 0 || len >= sizeof(buf) || s[0] == '0')
		return -1;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return hf_parse_int(buf, 1, INT64_MAX, id);
}

/* Matches path against one pattern, segment by segment. */
static int
http_match_one(const char *pat, const char *path, long long *id)
{
	const char *brace = strstr(pat, "{id}");
	size_t plen;

	if (brace == NULL)
		return strcmp(pat, path) == 0 ? 0 : -1;
	plen = (size_t)(brace - pat);
	if (strncmp(pat, path, plen) != 0 || strchr(path + plen, '/') != NULL)
		return -1;
	return http_parse_id(path + plen, strlen(path + plen), id);
}

int
http_route_match(const char *path, long long *id)
{
	*id = 0;
	for (int r = 0; r < HTTP_R_NROUTES; r++)
		if (http_match_one(http_routes[r].name, path, id) == 0)
			return r;
	*id = 0;
	return -1;
}

const char *
http_route_name(int route)
{
	if (route < 0 || route >= HTTP_R_NROUTES)
		return "unmatched";
	return http_routes[route].name;
}

int
http_route_methods(int route)
{
	return route >= 0 && route < HTTP_R_NROUTES ? http_routes[route].methods : 0;
}

const char *
http_route_allow(int route)
{
	return route >= 0 && route < HTTP_R_NROUTES ? http_routes[route].allow : "";
}

const char *
http_error_code(int status)
{
	switch (status) {
	case 400: return "BAD_REQUEST";
	case 401: return "UNAUTHORIZED";
	case 403: return "FORBIDDEN";
	case 404: return "NOT_FOUND";
	case 405: return "METHOD_NOT_ALLOWED";
	case 408: return "REQUEST_TIMEOUT";
	case 413: return "PAYLOAD_TOO_LARGE";
	case 415: return "UNSUPPORTED_MEDIA_TYPE";
	case 429: return "TOO_MANY_REQUESTS";
	case 431: return "REQUEST_HEADER_FIELDS_TOO_LARGE";
	case 503: return "SERVICE_UNAVAILABLE";
	default: return status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST";
	}
}

size_t
http_error_body(char *buf, size_t size, int status, const char *code,
    const char *detail)
{
	struct jw	*w = jw_new();
	const char	*s;
	size_t		 len = 0;

	jw_obj_open(w);
	jw_kstr(w, "error", code);
	jw_kstr(w, "detail", detail);
	jw_kint(w, "status", status);
	jw_obj_close(w);
	if ((s = jw_buf(w, &len)) == NULL || len >= size) {
		/* Only a detail with invalid UTF-8 or a huge one gets here. */
		len = (size_t)snprintf(buf, size,
		    "{\"error\":\"%s\",\"detail\":\"\",\"status\":%d}", code, status);
		len = len < size ? len : size - 1;
	} else
		memcpy(buf, s, len + 1);
	jw_free(w);
	return len;
}

/* Query parameters whose values never reach a log. */
static int
http_secret_param(const char *name, size_t len)
{
	static const char *const secrets[] = {
		"hub.verify_token", "verify_token", "access_token", "token",
		"password", "secret", "app_secret", "key", "api_key",
	};

	for (size_t i = 0; i < nitems(secrets); i++)
		if (strlen(secrets[i]) == len && strncasecmp(secrets[i], name, len) == 0)
			return 1;
	return 0;
}

/* Appends n bytes of s to out[*o..size-1], always leaving room for NUL. */
static void
http_put(char *out, size_t size, size_t *o, const char *s, size_t n)
{
	if (*o + 1 >= size)
		return;
	if (n > size - 1 - *o)
		n = size - 1 - *o;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
}

void
http_redact_uri(const char *uri, char *out, size_t size)
{
	const char	*q = strchr(uri, '?'), *p, *amp, *eq;
	size_t		 o = 0;

	if (size == 0)
		return;
	out[0] = '\0';
	http_put(out, size, &o, uri, q ? (size_t)(q - uri) : strlen(uri));
	if (q == NULL)
		return;
	for (p = q + 1; ; p = amp + 1) {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		http_put(out, size, &o, p == q + 1 ? "?" : "&", 1);
		if (eq != NULL && http_secret_param(p, (size_t)(eq - p))) {
			http_put(out, size, &o, p, (size_t)(eq - p));
			http_put(out, size, &o, "=***", 4);
		} else
			http_put(out, size, &o, p, (size_t)(amp - p));
		if (*amp == '\0')
			break;
	}
}

int
http_parse_limit(const char *s, int def, int max, int *out)
{
	long long v;

	if (s == NULL) {
		*out = def;
		return 0;
	}
	if (hf_parse_int(s, 1, max, &v) == -1)
		return -1;
	*out = (int)v;
	return 0;
}

int
http_parse_cursor(const char *s, int64_t *us, long long *id)
{
	const char	*sep;
	char		 a[24];
	long long	 t;
	size_t		 n;

	if (s == NULL || (sep = strchr(s, '_')) == NULL)
		return -1;
	n = (size_t)(sep - s);
	if (n == 0 || n >= sizeof(a))
		return -1;
	memcpy(a, s, n);
	a[n] = '\0';
	if (hf_parse_int(a, HTTP_CURSOR_MIN_US, HTTP_CURSOR_MAX_US, &t) == -1 ||
	    http_parse_id(sep + 1, strlen(sep + 1), id) == -1)
		return -1;
	*us = t;
	return 0;
}

/* %-decodes s in place ('+' is a space); -1 on a bad escape or a NUL. */
static int
http_unescape(char *s)
{
	char	*o = s;
	int	 hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '+')
			*o++ = ' ';
		else if (*s != '%')
			*o++ = *s;
		else {
			if ((hi = hf_hex_digit(s[1])) < 0 || (lo = hf_hex_digit(s[2])) < 0 ||
			    (hi == 0 && lo == 0))
				return -1;
			*o++ = (char)(hi * 16 + lo);
			s += 2;
		}
	}
	*o = '\0';
	return 0;
}

int
http_query_parse(const char *q, char **buf, struct http_qparam *out, int max)
{
	char	*p, *amp, *eq;
	int	 n = 0;

	*buf = xstrdup(q);
	for (p = *buf; p != NULL; p = amp) {
		if ((amp = strchr(p, '&')) != NULL)
			*amp++ = '\0';
		if (*p == '\0')
			continue;
		if (n == max)
			return -1;
		if ((eq = strchr(p, '=')) != NULL)
			*eq++ = '\0';
		out[n].name = p;
		out[n].value = eq != NULL ? eq : p + strlen(p);
		if (http_unescape(out[n].name) == -1 || http_unescape(out[n].value) == -1)
			return -1;
		n++;
	}
	return n;
}
