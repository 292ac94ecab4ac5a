/*
 * fuzz_http: holdfast-http's request parsing, from the bytes on the wire
 * to the handler's parameters:
 * - hsrv's incremental request parser (common/hsrv_parse.c) on the input
 *   as a stream of pipelined requests, fed once whole and once in pieces
 *   cut at points the input's first byte seeds: both must see the same
 *   requests and the same errors, no body may pass its limit, and the
 *   body memory reserved must all be given back;
 * - the pure helpers (workers/http/http_route.c) on the input as a path
 *   or query: the router, the access log's redaction of secrets, the
 *   query string, limit= and cursor= parsers, and the JSON error body.
 * (The login and webhook JSON bodies go through fuzz_json and
 * fuzz_wa_payload.)
 *
 * Checked besides: a matched route's id is in range, the redacted URI is
 * NUL-terminated inside its buffer, and the error body is valid JSON of
 * the seed's shape whatever the detail is (invalid UTF-8 included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hsrv.h"
#include "http_route.h"
#include "json.h"
#include "util.h"

static void
fuzz_http_error_body(const char *detail)
{
	char		 body[512], err[160];
	long long	 status;
	yajl_val	 v;
	size_t		 n;

	n = http_error_body(body, sizeof(body), 503, http_error_code(503), detail);
	if (n >= sizeof(body) || strlen(body) != n)
		abort();
	if ((v = json_parse(body, n, err, sizeof(err))) == NULL ||
	    json_get_str(v, "error") == NULL || json_get_str(v, "detail") == NULL ||
	    json_get_int(v, "status", &status) == -1 || status != 503) {
		fprintf(stderr, "fuzz_http: bad error body (%s): %s\n",
		    v == NULL ? err : "members", body);
		abort();
	}
	yajl_tree_free(v);
}

#define FZ_MAX_HEAD	512
#define FZ_BODY_LIMIT	1024
#define FZ_MAX_REQS	16

static int64_t fz_mem;

static int
fuzz_mem(void *arg, int64_t delta)
{
	(void)arg;
	if (delta > 0 && fz_mem + delta > 4 * FZ_BODY_LIMIT)
		return -1;
	fz_mem += delta;
	return 0;
}

/* What one request came to: its status (200 parsed, else the error's). */
struct fz_out {
	int		 status;
	size_t		 bodylen;
	unsigned	 sum;
	char		 method[20], target[64];
};

static void
fuzz_record(const struct hsrv_parser *p, int r, struct fz_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = r == HSRV_DONE ? 200 : p->status;
	if (r != HSRV_DONE)
		return;
	if (p->bodylen > FZ_BODY_LIMIT || (p->body == NULL) != (p->bodylen == 0))
		abort();
	o->bodylen = p->bodylen;
	for (size_t i = 0; i < p->bodylen; i++)
		o->sum = o->sum * 31 + (unsigned char)p->body[i];
	snprintf(o->method, sizeof(o->method), "%s", p->method);
	snprintf(o->target, sizeof(o->target), "%s", p->target);
	(void)hsrv_parser_header(p, "Host");
}

/*
 * Parses data as pipelined requests, in pieces of at most step bytes
 * (pseudo-random lengths from seed when step is 0). Returns how many
 * requests (and a final error) it saw, in out.
 */
static int
fuzz_stream(const uint8_t *data, size_t size, size_t step, unsigned seed,
    struct fz_out *out)
{
	struct hsrv_parser	 p;
	size_t			 off = 0, used, n;
	int			 nout = 0, r;

	hsrv_parser_init(&p, FZ_MAX_HEAD);
	p.mem = fuzz_mem;
	while (nout < FZ_MAX_REQS) {
		seed = seed * 1103515245 + 12345;
		n = step != 0 ? step : 1 + (seed >> 16) % 97;
		if (n > size - off)
			n = size - off;
		r = hsrv_parse(&p, (const char *)data + off, n, &used);
		if (used > n)
			abort();
		off += used;
		if (r == HSRV_HEAD) {
			r = hsrv_parser_body(&p, FZ_BODY_LIMIT);
			if (r == HSRV_MORE)
				continue;
		}
		if (r == HSRV_DONE || r == HSRV_ERROR) {
			if (r == HSRV_ERROR && (p.status < 400 || p.status > 505))
				abort();
			fuzz_record(&p, r, &out[nout++]);
			hsrv_parser_reset(&p);
			if (r == HSRV_ERROR)
				break;
			continue;
		}
		if (off == size)
			break;
	}
	hsrv_parser_free(&p);
	if (fz_mem != 0)
		abort();
	return nout;
}

static void
fuzz_parser(const uint8_t *data, size_t size)
{
	struct fz_out	 whole[FZ_MAX_REQS], cut[FZ_MAX_REQS];
	int		 nw, nc;

	if (size < 1)
		return;
	nw = fuzz_stream(data + 1, size - 1, size, 0, whole);
	nc = fuzz_stream(data + 1, size - 1, 0, data[0], cut);
	if (nw != nc || memcmp(whole, cut, (size_t)nw * sizeof(whole[0])) != 0) {
		fprintf(stderr, "fuzz_http: whole and cut parses differ (%d vs %d)\n",
		    nw, nc);
		abort();
	}
}

static void
fuzz_query(const char *s)
{
	struct http_qparam	 q[HTTP_MAX_QUERY];
	char			*buf;
	int			 n = http_query_parse(s, &buf, q, HTTP_MAX_QUERY);

	for (int i = 0; i < n; i++)
		if (q[i].name == NULL || q[i].value == NULL)
			abort();
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*s, *out;
	long long	 id;
	int64_t		 us;
	int		 route, limit;

	fuzz_parser(data, size);
	s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_query(s);
	if ((route = http_route_match(s, &id)) != -1) {
		if (route < 0 || route >= HTTP_R_NROUTES || id < 0)
			abort();
		(void)http_route_name(route);
		(void)http_route_allow(route);
	}
	out = xmalloc(size + 8);
	http_redact_uri(s, out, size + 8);
	if (memchr(out, '\0', size + 8) == NULL)
		abort();
	http_redact_uri(s, out, 16);	/* truncating */
	if (memchr(out, '\0', 16) == NULL)
		abort();
	free(out);
	(void)http_parse_limit(s, 50, 200, &limit);
	(void)http_parse_cursor(s, &us, &id);
	fuzz_http_error_body(s);
	free(s);
	return 0;
}
