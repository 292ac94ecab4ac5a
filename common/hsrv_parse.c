/*
 * hsrv_parse: the strict incremental HTTP/1.1 request parser of hsrv (see
 * hsrv.h). The head is copied into a buffer of max_head bytes and parsed
 * in place once its empty line arrives; the body is decoded into a buffer
 * sized from Content-Length (or grown per chunk), never past the limit
 * the caller set, each growth asked of the memory hook first.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hsrv.h"
#include "util.h"

enum { P_HEAD, P_HEADWAIT, P_BODY_CL, P_CHUNK_SIZE, P_CHUNK_DATA,
    P_CHUNK_CRLF, P_TRAILER, P_DONE, P_ERROR };

/* Largest accepted body length: 18 decimal digits, 15 hex digits. */
#define HSRV_LEN_DIGITS		18
#define HSRV_CHUNK_DIGITS	15

static int
hsrv_fail(struct hsrv_parser *p, int status, const char *detail)
{
	p->state = P_ERROR;
	p->status = status;
	p->detail = detail;
	return HSRV_ERROR;
}

void
hsrv_parser_init(struct hsrv_parser *p, size_t max_head)
{
	memset(p, 0, sizeof(*p));
	p->max_head = max_head;
	p->head = xmalloc(max_head + 1);
	hsrv_parser_reset(p);
}

void
hsrv_parser_reset(struct hsrv_parser *p)
{
	if (p->bodycap > 0 && p->mem != NULL)
		p->mem(p->mem_arg, -(int64_t)p->bodycap);
	free(p->body);
	p->body = NULL;
	p->bodylen = p->bodycap = 0;
	p->state = P_HEAD;
	p->headlen = p->scan = 0;
	p->method = p->target = NULL;
	p->nhdrs = 0;
	p->clen = -1;
	p->chunked = p->keepalive = p->expect100 = 0;
	p->body_limit = 0;
	p->chunk_left = 0;
	p->linelen = p->trailer_bytes = 0;
	p->status = 0;
	p->detail = NULL;
}

void
hsrv_parser_free(struct hsrv_parser *p)
{
	hsrv_parser_reset(p);
	free(p->head);
	p->head = NULL;
}

/* ---- the head ---- */

static int
hsrv_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
hsrv_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!hsrv_tchar((unsigned char)*s))
			return 0;
	return 1;
}

/* Next line of the (already CRLF-checked) head: NUL-terminated in place. */
static char *
hsrv_next_line(char **pos)
{
	char *s = *pos, *cr = strchr(s, '\r');

	*cr = '\0';
	*pos = cr + 2;
	return s;
}

static int
hsrv_known_method(const char *m)
{
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT",
	    "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT" };

	for (size_t i = 0; i < nitems(methods); i++)
		if (strcmp(methods[i], m) == 0)
			return 1;
	return 0;
}

/* absolute-form ("http://host/p?q") to origin-form ("/p?q"). */
static const char *
hsrv_origin_form(const char *t)
{
	const char *s;

	if (strncasecmp(t, "http://", 7) != 0 && strncasecmp(t, "https://", 8) != 0)
		return t[0] == '/' ? t : NULL;
	s = strchr(strchr(t, ':') + 3, '/');
	return s != NULL ? s : "/";
}

static int
hsrv_request_line(struct hsrv_parser *p, char *line)
{
	char *sp1 = strchr(line, ' '), *sp2, *t;

	if (sp1 == NULL || (sp2 = strchr(sp1 + 1, ' ')) == NULL ||
	    strchr(sp2 + 1, ' ') != NULL)
		return hsrv_fail(p, 400, "Malformed request line");
	*sp1 = *sp2 = '\0';
	if (!hsrv_token(line) || sp1 - line > 16)
		return hsrv_fail(p, 400, "Malformed request method");
	for (t = sp1 + 1; *t != '\0'; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return hsrv_fail(p, 400, "Malformed request target");
	if (strcmp(sp2 + 1, "HTTP/1.1") == 0 || strcmp(sp2 + 1, "HTTP/1.0") == 0)
		p->minor = sp2[8] - '0';
	else if (strncmp(sp2 + 1, "HTTP/", 5) == 0 && strlen(sp2 + 1) == 8 &&
	    sp2[6] >= '0' && sp2[6] <= '9' && sp2[7] == '.' && sp2[8] >= '0' && sp2[8] <= '9')
		return hsrv_fail(p, 505, "HTTP version not supported");
	else
		return hsrv_fail(p, 400, "Malformed HTTP version");
	if (!hsrv_known_method(line))
		return hsrv_fail(p, 501, "Method not implemented");
	if (sp1[1] == '\0' || (p->target = hsrv_origin_form(sp1 + 1)) == NULL)
		return hsrv_fail(p, 400, "Malformed request target");
	p->method = line;
	return HSRV_MORE;
}

static int
hsrv_field_value_ok(const char *v)
{
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

static int
hsrv_header_line(struct hsrv_parser *p, char *line)
{
	char	*colon, *v, *e;

	if (*line == ' ' || *line == '\t')
		return hsrv_fail(p, 400, "Obsolete header line folding");
	if ((colon = strchr(line, ':')) == NULL)
		return hsrv_fail(p, 400, "Malformed header line");
	*colon = '\0';
	if (!hsrv_token(line))
		return hsrv_fail(p, 400, "Malformed header name");
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	if (!hsrv_field_value_ok(v))
		return hsrv_fail(p, 400, "Control character in a header value");
	if (p->nhdrs == HSRV_MAX_HEADERS)
		return hsrv_fail(p, 431, "Too many header fields");
	p->hdrs[p->nhdrs].name = line;
	p->hdrs[p->nhdrs++].value = v;
	return HSRV_MORE;
}

/* 1 when the comma-separated list v holds token (case-insensitive). */
static int
hsrv_list_has(const char *v, const char *token)
{
	size_t n = strlen(token);

	while (*v != '\0') {
		v += strspn(v, " \t,");
		if (strncasecmp(v, token, n) == 0 && strchr(" \t,", v[n]) != NULL)
			return 1;
		v += strcspn(v, ",");
	}
	return 0;
}

static int
hsrv_content_length(struct hsrv_parser *p, const char *v)
{
	size_t n = strlen(v);

	if (p->clen != -1)
		return hsrv_fail(p, 400, "More than one Content-Length");
	if (n == 0 || n > HSRV_LEN_DIGITS || strspn(v, "0123456789") != n)
		return hsrv_fail(p, 400, "Malformed Content-Length");
	p->clen = strtoll(v, NULL, 10);
	return HSRV_MORE;
}

static int
hsrv_transfer_encoding(struct hsrv_parser *p, const char *v)
{
	if (p->chunked)
		return hsrv_fail(p, 400, "More than one Transfer-Encoding");
	if (p->minor == 0)
		return hsrv_fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
	if (strcasecmp(v, "chunked") != 0)
		return hsrv_fail(p, 501, "Transfer coding not implemented");
	p->chunked = 1;
	return HSRV_MORE;
}

/* Framing and connection semantics of the parsed headers. */
static int
hsrv_semantics(struct hsrv_parser *p)
{
	int hosts = 0;

	p->keepalive = p->minor == 1;
	for (int i = 0; i < p->nhdrs; i++) {
		const char *n = p->hdrs[i].name, *v = p->hdrs[i].value;

		if (strcasecmp(n, "Content-Length") == 0) {
			if (hsrv_content_length(p, v) == HSRV_ERROR)
				return HSRV_ERROR;
		} else if (strcasecmp(n, "Transfer-Encoding") == 0) {
			if (hsrv_transfer_encoding(p, v) == HSRV_ERROR)
				return HSRV_ERROR;
		} else if (strcasecmp(n, "Host") == 0)
			hosts++;
		else if (strcasecmp(n, "Connection") == 0) {
			if (hsrv_list_has(v, "close"))
				p->keepalive = 0;
			else if (p->minor == 0 && hsrv_list_has(v, "keep-alive"))
				p->keepalive = 1;
		} else if (strcasecmp(n, "Expect") == 0 && p->minor == 1 &&
		    strcasecmp(v, "100-continue") == 0)
			p->expect100 = 1;
	}
	if (p->chunked && p->clen != -1)
		return hsrv_fail(p, 400, "Both Content-Length and Transfer-Encoding");
	if (hosts > 1 || (hosts == 0 && p->minor == 1))
		return hsrv_fail(p, 400, "A request needs exactly one Host header");
	return HSRV_MORE;
}

static int
hsrv_parse_head(struct hsrv_parser *p)
{
	char *pos = p->head, *line;

	p->head[p->headlen] = '\0';
	if (hsrv_request_line(p, hsrv_next_line(&pos)) == HSRV_ERROR)
		return HSRV_ERROR;
	while (*(line = hsrv_next_line(&pos)) != '\0')
		if (hsrv_header_line(p, line) == HSRV_ERROR)
			return HSRV_ERROR;
	if (hsrv_semantics(p) == HSRV_ERROR)
		return HSRV_ERROR;
	p->state = P_HEADWAIT;
	return HSRV_HEAD;
}

/* The head is over max_head: 414 while still in the request line. */
static int
hsrv_head_too_large(struct hsrv_parser *p)
{
	if (memchr(p->head, '\n', p->headlen) == NULL)
		return hsrv_fail(p, 414, "Request line too long");
	return hsrv_fail(p, 431, "Request headers too large");
}

/*
 * Copies head bytes in, checking every CR and LF as they arrive (a bare
 * one is refused at once), until the empty line that ends the head.
 */
static int
hsrv_feed_head(struct hsrv_parser *p, const char *data, size_t len, size_t *used)
{
	size_t	 skip = 0, old, n, i;

	/* Empty lines before a request are ignored (RFC 9112 2.2). */
	while (p->headlen == 0 && skip < len && (data[skip] == '\r' || data[skip] == '\n'))
		skip++;
	old = p->headlen;
	n = len - skip;
	if (n > p->max_head - old)
		n = p->max_head - old;
	memcpy(p->head + old, data + skip, n);
	p->headlen += n;
	for (i = p->scan; i < p->headlen; i++) {
		char c = p->head[i];

		if (c == '\0')
			return hsrv_fail(p, 400, "NUL byte in the request head");
		if (i > 0 && p->head[i - 1] == '\r' && c != '\n')
			return hsrv_fail(p, 400, "Bare CR in the request head");
		if (c == '\n' && (i == 0 || p->head[i - 1] != '\r'))
			return hsrv_fail(p, 400, "Bare LF in the request head");
		if (c == '\n' && i >= 3 && p->head[i - 2] == '\n') {
			*used = skip + (i + 1 - old);
			p->headlen = i + 1;
			return hsrv_parse_head(p);
		}
	}
	p->scan = i;
	*used = skip + n;
	if (p->headlen == p->max_head)
		return hsrv_head_too_large(p);
	return HSRV_MORE;
}

/* ---- the body ---- */

/* Grows the body buffer to hold want bytes and a NUL, within the budget. */
static int
hsrv_body_room(struct hsrv_parser *p, size_t want)
{
	size_t cap = p->bodycap;

	if (want + 1 <= cap)
		return 0;
	cap = cap * 2 > want + 1 ? cap * 2 : want + 1;
	if (cap < 4096)
		cap = 4096;
	if ((int64_t)cap > p->body_limit + 1)
		cap = (size_t)p->body_limit + 1;
	if (p->mem != NULL && p->mem(p->mem_arg, (int64_t)(cap - p->bodycap)) == -1) {
		hsrv_fail(p, 503, "Server busy: request body memory exhausted");
		return -1;
	}
	p->body = xrealloc(p->body, cap);
	p->bodycap = cap;
	return 0;
}

int
hsrv_parser_body(struct hsrv_parser *p, int64_t limit)
{
	p->body_limit = limit;
	if (p->chunked) {
		p->state = P_CHUNK_SIZE;
		return HSRV_MORE;
	}
	if (p->clen <= 0) {
		p->state = P_DONE;
		return HSRV_MORE;
	}
	if (p->clen > limit)
		return hsrv_fail(p, 413, "Request body too large");
	if (hsrv_body_room(p, (size_t)p->clen) == -1)
		return HSRV_ERROR;
	p->state = P_BODY_CL;
	return HSRV_MORE;
}

/* A CRLF-terminated line into p->line; 1 complete, 0 more, -1 bad. */
static int
hsrv_take_line(struct hsrv_parser *p, const char *data, size_t len, size_t *i)
{
	while (*i < len) {
		char c = data[(*i)++];

		if (p->linelen > 0 && p->line[p->linelen - 1] == '\r') {
			if (c != '\n')
				return -1;
			p->line[--p->linelen] = '\0';
			return 1;
		}
		if (c == '\n' || c == '\0' || p->linelen == sizeof(p->line) - 1)
			return -1;
		p->line[p->linelen++] = c;
	}
	return 0;
}

/* "1a;ext=x": hex digits, then nothing or a ';' extension. */
static int
hsrv_chunk_size(struct hsrv_parser *p)
{
	size_t	n = strspn(p->line, "0123456789abcdefABCDEF");
	char	c;

	if (n == 0 || n > HSRV_CHUNK_DIGITS)
		return hsrv_fail(p, 400, "Malformed chunk size");
	c = p->line[n];
	if (c != '\0' && c != ';' && c != ' ' && c != '\t')
		return hsrv_fail(p, 400, "Malformed chunk size");
	if (!hsrv_field_value_ok(p->line + n))
		return hsrv_fail(p, 400, "Malformed chunk extension");
	p->chunk_left = strtoull(p->line, NULL, 16);
	if (p->chunk_left == 0) {
		p->state = P_TRAILER;
		return HSRV_MORE;
	}
	if (p->chunk_left > (uint64_t)p->body_limit - p->bodylen)
		return hsrv_fail(p, 413, "Request body too large");
	if (hsrv_body_room(p, p->bodylen + p->chunk_left) == -1)
		return HSRV_ERROR;
	p->state = P_CHUNK_DATA;
	return HSRV_MORE;
}

static int
hsrv_trailer(struct hsrv_parser *p)
{
	char *colon;

	if (p->linelen == 0) {
		p->state = P_DONE;
		return HSRV_MORE;
	}
	p->trailer_bytes += p->linelen + 2;
	if (p->trailer_bytes > p->max_head)
		return hsrv_fail(p, 431, "Trailer fields too large");
	if ((colon = strchr(p->line, ':')) == NULL)
		return hsrv_fail(p, 400, "Malformed trailer field");
	*colon = '\0';
	if (!hsrv_token(p->line) || !hsrv_field_value_ok(colon + 1))
		return hsrv_fail(p, 400, "Malformed trailer field");
	return HSRV_MORE;
}

/* One step of the chunked decoder from data[*i]. */
static int
hsrv_chunked_step(struct hsrv_parser *p, const char *data, size_t len, size_t *i)
{
	size_t	n;
	int	r;

	if (p->state == P_CHUNK_DATA) {
		n = len - *i < p->chunk_left ? len - *i : (size_t)p->chunk_left;
		memcpy(p->body + p->bodylen, data + *i, n);
		p->bodylen += n;
		p->chunk_left -= n;
		*i += n;
		if (p->chunk_left == 0)
			p->state = P_CHUNK_CRLF;
		return HSRV_MORE;
	}
	if ((r = hsrv_take_line(p, data, len, i)) <= 0)
		return r == 0 ? HSRV_MORE : hsrv_fail(p, 400, "Malformed chunked body");
	if (p->state == P_CHUNK_CRLF)
		r = p->linelen == 0 ? (p->state = P_CHUNK_SIZE, HSRV_MORE) :
		    hsrv_fail(p, 400, "Chunk data longer than its size");
	else if (p->state == P_CHUNK_SIZE)
		r = hsrv_chunk_size(p);
	else
		r = hsrv_trailer(p);
	p->linelen = 0;
	return r;
}

static int
hsrv_feed_body(struct hsrv_parser *p, const char *data, size_t len, size_t *used)
{
	size_t i = 0, n;

	for (;;) {
		if (p->state == P_DONE) {
			if (p->body != NULL)
				p->body[p->bodylen] = '\0';
			*used = i;
			return HSRV_DONE;
		}
		if (i == len) {
			*used = i;
			return HSRV_MORE;
		}
		if (p->state == P_BODY_CL) {
			n = len - i < (size_t)p->clen - p->bodylen ? len - i :
			    (size_t)p->clen - p->bodylen;
			memcpy(p->body + p->bodylen, data + i, n);
			p->bodylen += n;
			i += n;
			if (p->bodylen == (size_t)p->clen)
				p->state = P_DONE;
		} else if (hsrv_chunked_step(p, data, len, &i) == HSRV_ERROR) {
			*used = i;
			return HSRV_ERROR;
		}
	}
}

int
hsrv_parse(struct hsrv_parser *p, const char *data, size_t len, size_t *used)
{
	*used = 0;
	switch (p->state) {
	case P_HEAD:
		return hsrv_feed_head(p, data, len, used);
	case P_HEADWAIT:
		return HSRV_HEAD;
	case P_ERROR:
		return HSRV_ERROR;
	default:
		return hsrv_feed_body(p, data, len, used);
	}
}

const char *
hsrv_parser_header(const struct hsrv_parser *p, const char *name)
{
	for (int i = 0; i < p->nhdrs; i++)
		if (strcasecmp(p->hdrs[i].name, name) == 0)
			return p->hdrs[i].value;
	return NULL;
}

const char *
hsrv_status_word(int status)
{
	switch (status) {
	case 400: return "BAD_REQUEST";
	case 404: return "NOT_FOUND";
	case 405: return "METHOD_NOT_ALLOWED";
	case 408: return "REQUEST_TIMEOUT";
	case 413: return "PAYLOAD_TOO_LARGE";
	case 414: return "URI_TOO_LONG";
	case 431: return "REQUEST_HEADER_FIELDS_TOO_LARGE";
	case 501: return "NOT_IMPLEMENTED";
	case 503: return "SERVICE_UNAVAILABLE";
	case 505: return "HTTP_VERSION_NOT_SUPPORTED";
	default: return status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST";
	}
}

const char *
hsrv_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return status < 400 ? "OK" : status < 500 ? "Bad Request" : "Error";
	}
}
