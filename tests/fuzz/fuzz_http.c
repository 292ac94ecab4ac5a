/*
 * fuzz_http: holdfast-http's pure request helpers (workers/http/
 * http_route.c) on arbitrary request paths and query values: the router,
 * the access log's redaction of secrets, the limit= and cursor= parsers,
 * and the JSON error body. (The login and webhook JSON bodies go through
 * fuzz_json and fuzz_wa_payload.)
 *
 * Checked: a matched route's id is in range, the redacted URI is
 * NUL-terminated inside its buffer, and the error body is valid JSON of
 * the seed's shape whatever the detail is (invalid UTF-8 included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*s, *out;
	long long	 id;
	int64_t		 us;
	int		 route, limit;

	s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
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
