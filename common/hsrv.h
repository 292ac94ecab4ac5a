/*
 * hsrv: a bounded HTTP/1.1 server on one listening socket (libevent core:
 * events and timers only), and its strict incremental request parser.
 *
 * Every resource a client can make the server hold has a limit applied
 * before the resource is taken:
 *  - connections: max_conns in all and max_conns_per_addr per client
 *    address, checked at accept (over the limit: a short 503 and close,
 *    nothing read or buffered);
 *  - time: header_timeout from accept (or from the first byte of a later
 *    request on a kept-alive connection) until the head is complete, and
 *    request_timeout until the whole request is (both answer 408 and
 *    close); keepalive_timeout between requests (closed silently);
 *  - memory: the head is at most max_header bytes (431; 414 for a request
 *    line alone over it), a body at most the limit the caller gives for
 *    the request once its head is known (413 from Content-Length before
 *    reading, and while reading a chunked body), and all buffered bodies
 *    together at most max_body_memory (503 for the request that would
 *    pass it);
 *  - accept errors (EMFILE, ENFILE, ENOBUFS, ENOMEM) pause accepting for
 *    HSRV_ACCEPT_PAUSE_MS, one rate-limited log line each.
 *
 * The parser refuses what RFC 9112 lets a server refuse, so two parsers
 * can never disagree on where a request ends: Content-Length together
 * with Transfer-Encoding, two Content-Lengths, a transfer coding other
 * than "chunked" alone, a bad chunk size, obs-fold, a bare CR or LF, a
 * control character in a field. Requests on one connection are answered
 * in order, one at a time (pipelined ones wait in the read buffer).
 * Every error the server answers itself is JSON of the service's shape:
 * {"error":"BAD_REQUEST","detail":"...","status":400}.
 */
#ifndef HOLDFAST_HSRV_H
#define HOLDFAST_HSRV_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct hsrv;
struct hsrv_req;

#define HSRV_MAX_HEADERS	100
#define HSRV_ACCEPT_PAUSE_MS	250

/* ---- the parser (pure: no I/O, no libevent) ---- */

enum hsrv_pres {
	HSRV_MORE = 0,		/* every byte consumed, the request goes on */
	HSRV_HEAD,		/* head complete: set the body limit, go on */
	HSRV_DONE,		/* request complete */
	HSRV_ERROR,		/* p->status, p->detail say why */
};

struct hsrv_hdr {
	const char	*name;
	const char	*value;
};

struct hsrv_parser {
	int		 state;
	size_t		 max_head;
	char		*head;		/* max_head + 1 bytes */
	size_t		 headlen, scan;
	/* the head, valid from HSRV_HEAD until reset */
	const char	*method, *target;
	int		 minor;		/* HTTP/1.<minor> */
	struct hsrv_hdr	 hdrs[HSRV_MAX_HEADERS];
	int		 nhdrs;
	int64_t		 clen;		/* -1: no Content-Length */
	int		 chunked, keepalive, expect100;
	/* the body */
	int64_t		 body_limit;
	char		*body;		/* NUL-terminated; NULL when empty */
	size_t		 bodylen, bodycap;
	uint64_t	 chunk_left;
	char		 line[256];	/* a chunk-size or trailer line */
	size_t		 linelen, trailer_bytes;
	/* body memory: called with +n before growing, -n when freeing;
	 * returns -1 to refuse (503) */
	int		(*mem)(void *arg, int64_t delta);
	void		*mem_arg;
	/* on HSRV_ERROR */
	int		 status;
	const char	*detail;
};

void hsrv_parser_init(struct hsrv_parser *, size_t max_head);
/* Ready for the next request on the same connection. */
void hsrv_parser_reset(struct hsrv_parser *);
void hsrv_parser_free(struct hsrv_parser *);
/*
 * Feeds len bytes; *used gets how many were consumed (the rest belong to
 * the next request, or stay unread after HSRV_HEAD). After HSRV_HEAD the
 * caller sets body_limit (hsrv_parser_body) and feeds on.
 */
int hsrv_parse(struct hsrv_parser *, const char *data, size_t len, size_t *used);
/* Applies limit to the body; HSRV_ERROR (413, 503) or HSRV_MORE. */
int hsrv_parser_body(struct hsrv_parser *, int64_t limit);
/* The value of header name (case-insensitive), or NULL. */
const char *hsrv_parser_header(const struct hsrv_parser *, const char *name);
/* The error word of the service's JSON shape for a status. */
const char *hsrv_status_word(int status);
const char *hsrv_reason(int status);

/* ---- the server ---- */

struct hsrv_limits {
	int	 max_conns;
	int	 max_conns_per_addr;
	size_t	 max_header;
	int64_t	 max_body_memory;
	int64_t	 header_timeout_ms;
	int64_t	 request_timeout_ms;
	int64_t	 keepalive_timeout_ms;
};

struct hsrv_cbs {
	/* The body limit of a request whose head is complete. */
	int64_t	(*body_limit)(struct hsrv_req *, void *arg);
	/* A complete request: answer it with hsrv_reply, now or later. */
	void	(*request)(struct hsrv_req *, void *arg);
	/* A request the server answered itself (4xx/5xx); may be NULL. */
	void	(*refused)(int status, const char *method, const char *target,
		    const char *addr, void *arg);
	void	*arg;
};

/* Serves on fd (listening, non-blocking; hsrv closes it when freed). */
struct hsrv *hsrv_new(struct event_base *, int fd, const struct hsrv_limits *,
    const struct hsrv_cbs *);
/* Stops accepting (closes the socket); replies then carry Connection: close. */
void hsrv_stop_accepting(struct hsrv *);
/* Closes every connection; requests still waiting for a reply are freed
 * unanswered (their callers must not reply afterwards). */
void hsrv_free(struct hsrv *);
int hsrv_nconns(const struct hsrv *);
/* Connections a graceful stop should wait for: a request being read,
 * handled or answered, or a connection accepted less than fresh_ms ago
 * whose request may still be on its way (an older silent or trickling
 * one is not waited for). */
int hsrv_nbusy(const struct hsrv *, uint64_t fresh_ms);
int64_t hsrv_body_memory(const struct hsrv *);

const char *hsrv_method(const struct hsrv_req *);
const char *hsrv_target(const struct hsrv_req *);	/* "/path?query" */
const char *hsrv_header(const struct hsrv_req *, const char *name);
const char *hsrv_peer(const struct hsrv_req *);		/* "127.0.0.1" */
/* The body (NUL-terminated, owned by the request) or NULL when empty. */
char *hsrv_body(const struct hsrv_req *, size_t *len);
/* A header for the reply (name and value copied; no CR/LF allowed). */
void hsrv_add_header(struct hsrv_req *, const char *name, const char *value);
/* Sends the reply and ends the request (req is gone afterwards). */
void hsrv_reply(struct hsrv_req *, int status, const char *ctype,
    const char *body, size_t len);

#endif
