/*
 * http_route: the pure half of holdfast-http's request handling, kept free
 * of I/O and the DB so it is unit-tested on its own: the route table and
 * its matcher, the error codes and the JSON error body of the seed's shape,
 * the access log's redaction of query secrets, and the parsers for the
 * query parameters the API takes.
 */
#ifndef HOLDFAST_HTTP_ROUTE_H
#define HOLDFAST_HTTP_ROUTE_H

#include <stddef.h>
#include <stdint.h>

enum http_route_id {
	HTTP_R_HEALTHZ = 0,
	HTTP_R_READYZ,
	HTTP_R_LOGIN,
	HTTP_R_CONVERSATIONS,
	HTTP_R_CONVERSATION,
	HTTP_R_CALLS,
	HTTP_R_WEBHOOK,
	HTTP_R_METRICS,
	HTTP_R_NROUTES,
	HTTP_R_UNMATCHED = HTTP_R_NROUTES,	/* 404s, for metrics */
};

#define HTTP_M_GET	0x01
#define HTTP_M_POST	0x02

/*
 * The route for a path (no query string), or -1 when none matches (404).
 * A "{id}" segment must be a decimal integer in 1..2^63-1; it is stored in
 * *id (0 for routes without one).
 */
int http_route_match(const char *path, long long *id);
/* The route's label in metrics and logs ("/api/conversations/{id}"). */
const char *http_route_name(int route);
/* HTTP_M_* bits the route answers; HEAD is served as GET. */
int http_route_methods(int route);
/* "GET, HEAD" / "GET, HEAD, POST" for the Allow header of a 405. */
const char *http_route_allow(int route);

/* The error code word of the seed's shape for a status ("NOT_FOUND"). */
const char *http_error_code(int status);
/*
 * Writes {"error":code,"detail":detail,"status":status} into buf (always
 * NUL-terminated, truncating detail if needed). Returns the length.
 */
size_t http_error_body(char *buf, size_t size, int status, const char *code,
    const char *detail);

/*
 * Copies uri into out with the values of secret query parameters
 * (hub.verify_token, access_token, token, password, ...) replaced by
 * "***", so the access log never carries them. Always NUL-terminates.
 */
void http_redact_uri(const char *uri, char *out, size_t size);

/* A query parameter, %-decoded ('+' is a space). */
#define HTTP_MAX_QUERY	32
struct http_qparam {
	char	*name;
	char	*value;		/* "" when the parameter has no '=' */
};
/*
 * Splits query string q ("a=1&b=%20") into out (at most max), decoded in
 * a malloc'd copy returned in *buf (free it, also on error). Returns the
 * count, or -1 when malformed: a bad %-escape, a decoded NUL, more than
 * max parameters.
 */
int http_query_parse(const char *q, char **buf, struct http_qparam *out, int max);

/* limit=: NULL -> def; else 1..max. Returns 0 or -1. */
int http_parse_limit(const char *s, int def, int max, int *out);
/*
 * The page cursor "<microseconds since the epoch>_<id>" of the row a page
 * ended on. Returns 0 or -1 when malformed or when the time is outside
 * the years 1..9999 (a timestamp PostgreSQL may refuse).
 */
int http_parse_cursor(const char *s, int64_t *us, long long *id);

#endif
