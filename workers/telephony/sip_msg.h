/*
 * sip_msg: the SIP message parser and response builder of
 * holdfast-telephony (RFC 3261 §7, §8.2.6, §18.2.2, §20; RFC 3581).
 *
 * The parser copies one datagram into the message, unfolds continuation
 * lines in place and NUL-terminates every value it keeps, so every string in
 * a struct sip_msg points into msg->buf and lives as long as the message.
 * It never trusts the input: every length is checked, nothing is read past
 * the datagram, and the outcome says whether a 400 can be formed
 * (SIP_PARSE_BAD_ANSWERABLE: the request line and Via/From/To/Call-ID/CSeq
 * were readable) or the packet must be dropped (SIP_PARSE_DROP).
 */
#ifndef HOLDFAST_SIP_MSG_H
#define HOLDFAST_SIP_MSG_H

#include <stddef.h>
#include <stdint.h>

#define SIP_MAX_DATAGRAM	65536
#define SIP_MAX_MSG		16384	/* larger requests get 513 */
#define SIP_MAX_VIA		32	/* Via header lines kept, in order */

enum sip_method {
	SIP_UNKNOWN = 0,
	SIP_INVITE,
	SIP_ACK,
	SIP_BYE,
	SIP_CANCEL,
	SIP_OPTIONS,
	SIP_REGISTER,
	SIP_INFO,
	SIP_PRACK,
	SIP_UPDATE,
	SIP_SUBSCRIBE,
	SIP_NOTIFY,
	SIP_MESSAGE,
	SIP_REFER,
	SIP_PUBLISH,
};

enum sip_parse {
	SIP_PARSE_OK = 0,
	SIP_PARSE_BAD_ANSWERABLE,	/* answer with msg->err_code (400, 505, 513, ...) */
	SIP_PARSE_DROP,			/* not even a 400 can be formed */
};

/* The top Via, parsed (§20.42, RFC 3581). */
struct sip_via {
	const char	*transport;	/* "UDP" */
	const char	*host;		/* without IPv6 brackets */
	int		 port;		/* 0 when absent */
	const char	*branch;	/* NULL when absent */
	int		 has_rport;	/* rport present (with or without value) */
	const char	*received;	/* NULL when absent */
};

/* A From/To value: the URI and the tag parameter. */
struct sip_addr {
	const char	*value;		/* the whole header value, trimmed */
	const char	*uri;		/* "sip:a@b" (copied out of <...>) */
	const char	*tag;		/* NULL when absent */
};

struct sip_msg {
	char		*buf;		/* owned copy of the datagram */
	size_t		 len;
	int		 is_request;
	/* request line */
	enum sip_method	 method;
	const char	*method_name;
	const char	*ruri;
	/* status line */
	int		 status;
	const char	*reason;
	/* headers */
	const char	*via[SIP_MAX_VIA];	/* each Via line's value, in order */
	int		 nvia;
	struct sip_via	 top_via;
	struct sip_addr	 from, to;
	const char	*call_id;
	uint32_t	 cseq;
	enum sip_method	 cseq_method;
	const char	*cseq_method_name;
	const char	*contact;
	const char	*content_type;
	long		 content_length;	/* -1 when absent */
	int		 max_forwards;		/* -1 when absent */
	/* body */
	const char	*body;
	size_t		 body_len;
	/* error detail when the outcome is not SIP_PARSE_OK */
	int		 err_code;	/* status to answer: 400, 505, 513, 416 */
	const char	*err_reason;	/* short text for the log line */
};

/* Parses one datagram. Always fills msg (free with sip_msg_free). */
enum sip_parse sip_msg_parse(struct sip_msg *, const char *data, size_t len);
void sip_msg_free(struct sip_msg *);

enum sip_method sip_method_from_name(const char *name);
const char *sip_method_name(enum sip_method);
const char *sip_reason_phrase(int code);

/*
 * A response to req, per §8.2.6.2: all Via lines in order (the top one
 * with received= when the packet came from another address and rport=
 * filled in when asked), From, To (with to_tag added when the request's To
 * had none and to_tag is not NULL), Call-ID, CSeq, then the extra header
 * lines (each ending in CRLF, may be NULL), Content-Length and the body.
 * src_ip/src_port: where the request came from. Returns the length
 * written, or -1 when it does not fit.
 */
struct sip_resp {
	int		 code;
	const char	*reason;	/* NULL: the standard phrase */
	const char	*to_tag;
	const char	*extra;		/* header lines, CRLF-terminated */
	const char	*body;
	size_t		 body_len;
};
int sip_build_response(char *out, size_t outlen, const struct sip_msg *req,
    const char *src_ip, int src_port, const struct sip_resp *);

/*
 * Where a response goes (§18.2.2, RFC 3581): the source address and port
 * when the top Via has rport; else the source address (received) with the
 * Via port (5060 when absent). Over UDP the source address always wins
 * over a sent-by name, so no DNS lookup is ever needed.
 */
int sip_response_port(const struct sip_msg *req, int src_port);

/*
 * An SDP answer for offer (a media description "m=audio" with a port and
 * a format list): picks the first format offered, copies its rtpmap line
 * when there is one. Returns the length written, 0 when the offer has no
 * usable audio stream (answer 488), -1 when out is too small.
 * With offer NULL (no offer in the INVITE) it writes an offer of PCMU/PCMA.
 */
int sip_sdp_answer(char *out, size_t outlen, const char *offer, size_t offer_len,
    const char *local_ip, int media_port, uint64_t sess_id);

#endif
