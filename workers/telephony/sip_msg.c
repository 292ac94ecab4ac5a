/*
 * sip_msg: SIP parser and response builder. See sip_msg.h.
 *
 * Invariants: the parser reads only msg->buf[0..len) (plus the NUL it
 * appends); strings derived from a value (URIs, tags, the parsed top Via)
 * are copied into msg->arena so the header values in buf stay verbatim
 * for the response. Nothing here logs: the caller decides what a bad
 * packet is worth.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip_msg.h"
#include "util.h"

/* Enough for any message within SIP_MAX_MSG (a header line is at least
 * "a:" and its line break); a larger datagram gets 513 from what fits. */
#define SIP_MAX_LINES	(SIP_MAX_MSG / 3 + 2)

struct sip_parser {
	struct sip_msg	*msg;
	char		*arena;		/* bump allocator for derived strings */
	size_t		 arena_len, arena_used;
	int		 bad;		/* first error's status code; 0 = none */
	const char	*bad_reason;
};

static const struct {
	enum sip_method	 m;
	const char	*name;
} sip_methods[] = {
	{ SIP_INVITE, "INVITE" }, { SIP_ACK, "ACK" }, { SIP_BYE, "BYE" },
	{ SIP_CANCEL, "CANCEL" }, { SIP_OPTIONS, "OPTIONS" },
	{ SIP_REGISTER, "REGISTER" }, { SIP_INFO, "INFO" }, { SIP_PRACK, "PRACK" },
	{ SIP_UPDATE, "UPDATE" }, { SIP_SUBSCRIBE, "SUBSCRIBE" },
	{ SIP_NOTIFY, "NOTIFY" }, { SIP_MESSAGE, "MESSAGE" }, { SIP_REFER, "REFER" },
	{ SIP_PUBLISH, "PUBLISH" },
};

enum sip_method
sip_method_from_name(const char *name)
{
	/* Method names are case-sensitive (§7.1). */
	for (size_t i = 0; i < nitems(sip_methods); i++)
		if (strcmp(name, sip_methods[i].name) == 0)
			return sip_methods[i].m;
	return SIP_UNKNOWN;
}

const char *
sip_method_name(enum sip_method m)
{
	for (size_t i = 0; i < nitems(sip_methods); i++)
		if (sip_methods[i].m == m)
			return sip_methods[i].name;
	return "UNKNOWN";
}

const char *
sip_reason_phrase(int code)
{
	switch (code) {
	case 100: return "Trying";
	case 180: return "Ringing";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 405: return "Method Not Allowed";
	case 416: return "Unsupported URI Scheme";
	case 481: return "Call/Transaction Does Not Exist";
	case 483: return "Too Many Hops";
	case 487: return "Request Terminated";
	case 488: return "Not Acceptable Here";
	case 500: return "Server Internal Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "Version Not Supported";
	case 513: return "Message Too Large";
	default: return code < 300 ? "OK" : "Error";
	}
}

static void
sip_bad(struct sip_parser *sp, int code, const char *why)
{
	if (sp->bad == 0) {
		sp->bad = code;
		sp->bad_reason = why;
	}
}

static char *
sip_arena_dup(struct sip_parser *sp, const char *s, size_t n)
{
	char *p;

	if (sp->arena_used + n + 1 > sp->arena_len)
		return NULL;
	p = sp->arena + sp->arena_used;
	memcpy(p, s, n);
	p[n] = '\0';
	sp->arena_used += n + 1;
	return p;
}

static int
sip_is_ws(int c)
{
	return c == ' ' || c == '\t';
}

/* token chars of §25.1 */
static int
sip_is_token(int c)
{
	return isalnum(c) || (c != 0 && strchr("-.!%*_+`'~", c) != NULL);
}

static const char *
sip_skip_ws(const char *p)
{
	while (sip_is_ws(*p))
		p++;
	return p;
}

static char *
sip_trim(char *s)
{
	char *e;

	while (sip_is_ws(*s))
		s++;
	e = s + strlen(s);
	while (e > s && sip_is_ws(e[-1]))
		*--e = '\0';
	return s;
}

/* Parses decimal digits only, within [0, max]; -1 otherwise. */
static long
sip_parse_uint(const char *s, long max)
{
	long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	return v;
}

/*
 * Finds a parameter (";name" or ";name=value") in a ';'-separated list,
 * case-insensitively. Returns 1 and the value (arena copy, "" for none) or 0.
 */
static int
sip_param(struct sip_parser *sp, const char *params, const char *name, const char **val)
{
	size_t nl = strlen(name);
	const char *p = params;

	while ((p = strchr(p, ';')) != NULL) {
		const char *q = sip_skip_ws(p + 1), *e;

		if (strncasecmp(q, name, nl) == 0) {
			const char *r = sip_skip_ws(q + nl);

			if (*r == ';' || *r == '\0' || *r == ',' || *r == '>') {
				*val = "";
				return 1;
			}
			if (*r == '=') {
				r = sip_skip_ws(r + 1);
				for (e = r; *e != '\0' && *e != ';' && *e != ',' &&
				    *e != '>' && !sip_is_ws(*e); e++)
					;
				*val = sip_arena_dup(sp, r, e - r);
				return *val != NULL;
			}
		}
		p++;
	}
	return 0;
}

/* From/To (§20.20, §20.39): name-addr or addr-spec, then params. */
static int
sip_parse_addr(struct sip_parser *sp, const char *value, struct sip_addr *a)
{
	const char *p = value, *lt, *gt, *params;

	a->value = value;
	if (*p == '"') {
		for (p++; *p != '\0' && *p != '"'; p++)
			if (*p == '\\' && p[1] != '\0')
				p++;
		if (*p != '"')
			return -1;
		p++;
	}
	if ((lt = strchr(p, '<')) != NULL) {
		if ((gt = strchr(lt, '>')) == NULL || gt == lt + 1)
			return -1;
		a->uri = sip_arena_dup(sp, lt + 1, gt - lt - 1);
		params = gt + 1;
	} else {
		const char *s = sip_skip_ws(p), *e = strchr(s, ';');

		if (e == NULL)
			e = s + strlen(s);
		while (e > s && sip_is_ws(e[-1]))
			e--;
		if (e == s || memchr(s, ' ', e - s) != NULL)
			return -1;
		a->uri = sip_arena_dup(sp, s, e - s);
		params = e;
	}
	if (a->uri == NULL || strchr(a->uri, ':') == NULL)
		return -1;
	if (!sip_param(sp, params, "tag", &a->tag) || *a->tag == '\0')
		a->tag = NULL;
	return 0;
}

/* Length of the first Via element of a line (up to a top-level comma). */
static size_t
sip_via_first_len(const char *v)
{
	int quoted = 0, bracket = 0;
	const char *p;

	for (p = v; *p != '\0'; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '[')
			bracket = 1;
		else if (!quoted && *p == ']')
			bracket = 0;
		else if (!quoted && !bracket && *p == ',')
			break;
	}
	return p - v;
}

/* Expects a literal (case-insensitive) with optional LWS before it. */
static const char *
sip_expect(const char *p, const char *lit)
{
	p = sip_skip_ws(p);
	if (strncasecmp(p, lit, strlen(lit)) != 0)
		return NULL;
	return p + strlen(lit);
}

/* The sent-protocol and sent-by of a Via element (§20.42). */
static const char *
sip_via_sentby(struct sip_parser *sp, const char *p, struct sip_via *v)
{
	const char *s, *e;
	long port;

	if ((p = sip_expect(p, "SIP")) == NULL || (p = sip_expect(p, "/")) == NULL ||
	    (p = sip_expect(p, "2.0")) == NULL || (p = sip_expect(p, "/")) == NULL)
		return NULL;
	s = sip_skip_ws(p);
	for (e = s; sip_is_token((unsigned char)*e); e++)
		;
	if (e == s || !sip_is_ws(*e) || (v->transport = sip_arena_dup(sp, s, e - s)) == NULL)
		return NULL;
	s = sip_skip_ws(e);
	if (*s == '[') {
		if ((e = strchr(s, ']')) == NULL)
			return NULL;
		v->host = sip_arena_dup(sp, s + 1, e - s - 1);
		e++;
	} else {
		for (e = s; isalnum((unsigned char)*e) || *e == '.' || *e == '-'; e++)
			;
		v->host = sip_arena_dup(sp, s, e - s);
	}
	if (v->host == NULL || *v->host == '\0')
		return NULL;
	p = sip_skip_ws(e);
	if (*p == ':') {
		char digits[8];

		s = sip_skip_ws(p + 1);
		for (e = s; isdigit((unsigned char)*e) && e - s < 6; e++)
			;
		memcpy(digits, s, e - s);
		digits[e - s] = '\0';
		if ((port = sip_parse_uint(digits, 65535)) <= 0)
			return NULL;
		v->port = (int)port;
		p = sip_skip_ws(e);
	}
	return p;
}

static int
sip_parse_via(struct sip_parser *sp, const char *line, struct sip_via *v)
{
	size_t n = sip_via_first_len(line);
	const char *el, *p, *val;

	memset(v, 0, sizeof(*v));
	if ((el = sip_arena_dup(sp, line, n)) == NULL ||
	    (p = sip_via_sentby(sp, el, v)) == NULL)
		return -1;
	if (*p != '\0' && *p != ';')
		return -1;
	if (sip_param(sp, p, "branch", &val) && *val != '\0')
		v->branch = val;
	v->has_rport = sip_param(sp, p, "rport", &val);
	if (sip_param(sp, p, "received", &val) && *val != '\0')
		v->received = val;
	return 0;
}

static int
sip_parse_cseq(struct sip_parser *sp, char *value)
{
	struct sip_msg	*m = sp->msg;
	char		*sp1, *meth;
	long		 n;

	if ((sp1 = strpbrk(value, " \t")) == NULL)
		return -1;
	*sp1 = '\0';
	meth = (char *)sip_skip_ws(sp1 + 1);
	n = sip_parse_uint(value, 0x7fffffffL);
	*sp1 = ' ';	/* keep the value verbatim */
	if (n < 0 || *meth == '\0')
		return -1;
	for (const char *q = meth; *q != '\0'; q++)
		if (!sip_is_token((unsigned char)*q))
			return -1;
	m->cseq = (uint32_t)n;
	m->cseq_method_name = meth;
	m->cseq_method = sip_method_from_name(meth);
	return 0;
}

/* Sets a single-valued header; a second, different copy is an error. */
static void
sip_set_once(struct sip_parser *sp, const char **slot, const char *value, const char *name)
{
	if (*slot != NULL && strcmp(*slot, value) != 0) {
		sip_bad(sp, 400, name);
		return;
	}
	*slot = value;
}

static void
sip_header_length(struct sip_parser *sp, const char *value)
{
	long n = sip_parse_uint(value, SIP_MAX_DATAGRAM);

	if (n < 0) {
		sip_bad(sp, 400, "bad Content-Length");
		return;
	}
	if (sp->msg->content_length >= 0 && sp->msg->content_length != n)
		sip_bad(sp, 400, "conflicting Content-Length");
	sp->msg->content_length = n;
}

static void
sip_header_via(struct sip_parser *sp, const char *value)
{
	struct sip_msg *m = sp->msg;

	if (m->nvia == SIP_MAX_VIA) {
		sip_bad(sp, 400, "too many Via");
		return;
	}
	m->via[m->nvia++] = value;
}

/* Canonical name of a header (compact forms, §7.3.3), or NULL. */
static const char *
sip_header_canon(const char *name)
{
	static const char *const compact[][2] = {
		{ "v", "via" }, { "f", "from" }, { "t", "to" }, { "i", "call-id" },
		{ "m", "contact" }, { "l", "content-length" }, { "c", "content-type" },
	};

	if (name[1] == '\0')
		for (size_t i = 0; i < nitems(compact); i++)
			if (strcasecmp(name, compact[i][0]) == 0)
				return compact[i][1];
	return name;
}

static void
sip_header(struct sip_parser *sp, const char *name, char *value)
{
	struct sip_msg	*m = sp->msg;
	const char	*cn = sip_header_canon(name);

	if (strcasecmp(cn, "via") == 0)
		sip_header_via(sp, value);
	else if (strcasecmp(cn, "from") == 0)
		sip_set_once(sp, &m->from.value, value, "duplicate From");
	else if (strcasecmp(cn, "to") == 0)
		sip_set_once(sp, &m->to.value, value, "duplicate To");
	else if (strcasecmp(cn, "call-id") == 0)
		sip_set_once(sp, &m->call_id, value, "duplicate Call-ID");
	else if (strcasecmp(cn, "cseq") == 0) {
		if (m->cseq_method_name != NULL)
			sip_bad(sp, 400, "duplicate CSeq");
		else if (sip_parse_cseq(sp, value) == -1)
			sip_bad(sp, 400, "bad CSeq");
	} else if (strcasecmp(cn, "contact") == 0) {
		if (m->contact == NULL)
			m->contact = value;
	} else if (strcasecmp(cn, "content-type") == 0)
		m->content_type = value;
	else if (strcasecmp(cn, "content-length") == 0)
		sip_header_length(sp, value);
	else if (strcasecmp(cn, "max-forwards") == 0) {
		long n = sip_parse_uint(value, 255);

		if (n < 0)
			sip_bad(sp, 400, "bad Max-Forwards");
		m->max_forwards = (int)n;
	}
}

/* "Name: value" with optional LWS before the colon (§7.3.1). */
static void
sip_header_line(struct sip_parser *sp, char *line)
{
	char *p = line, *name_end;

	while (sip_is_token((unsigned char)*p))
		p++;
	name_end = p;
	p = (char *)sip_skip_ws(p);
	if (name_end == line || *p != ':') {
		sip_bad(sp, 400, "bad header line");
		return;
	}
	*name_end = '\0';
	sip_header(sp, line, sip_trim(p + 1));
}

static int
sip_start_request(struct sip_parser *sp, char *line)
{
	struct sip_msg	*m = sp->msg;
	char		*uri, *ver;

	if ((uri = strchr(line, ' ')) == NULL || (ver = strchr(uri + 1, ' ')) == NULL)
		return -1;
	*uri++ = '\0';
	*ver++ = '\0';
	if (*line == '\0' || *uri == '\0' || strchr(ver, ' ') != NULL)
		return -1;
	for (const char *q = line; *q != '\0'; q++)
		if (!sip_is_token((unsigned char)*q))
			return -1;
	m->is_request = 1;
	m->method_name = line;
	m->method = sip_method_from_name(line);
	m->ruri = uri;
	if (strncmp(ver, "SIP/", 4) != 0)
		return -1;
	if (strcmp(ver, "SIP/2.0") != 0)
		sip_bad(sp, 505, "unsupported SIP version");
	return 0;
}

static int
sip_start_line(struct sip_parser *sp, char *line)
{
	struct sip_msg *m = sp->msg;

	if (strncmp(line, "SIP/2.0 ", 8) == 0) {
		if (!isdigit((unsigned char)line[8]) || !isdigit((unsigned char)line[9]) ||
		    !isdigit((unsigned char)line[10]) || (line[11] != ' ' && line[11] != '\0'))
			return -1;
		m->status = atoi(line + 8);
		m->reason = line[11] ? line + 12 : "";
		return m->status >= 100 && m->status <= 699 ? 0 : -1;
	}
	return sip_start_request(sp, line);
}

/* The scheme of the Request-URI: letters, then ':' (§19.1.1). */
static void
sip_check_ruri(struct sip_parser *sp)
{
	const char	*u = sp->msg->ruri, *c = strchr(u, ':');

	if (c == NULL || c == u || !isalpha((unsigned char)*u)) {
		sip_bad(sp, 400, "bad Request-URI");
		return;
	}
	for (const char *p = u; p < c; p++)
		if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.') {
			sip_bad(sp, 400, "bad Request-URI");
			return;
		}
	if (strncasecmp(u, "sip:", 4) != 0 && strncasecmp(u, "sips:", 5) != 0 &&
	    strncasecmp(u, "tel:", 4) != 0)
		sip_bad(sp, 416, "unsupported URI scheme");
}

/*
 * Splits buf[0..hlen) into logical lines, folding continuation lines into
 * the line before them (their line breaks become spaces). Returns the
 * number of lines, or -1.
 */
static int
sip_split_lines(char *buf, size_t hlen, char **lines, int max, int *overflow)
{
	char	*p = buf, *end = buf + hlen;
	int	 n = 0;

	while (p < end) {
		char *nl = memchr(p, '\n', end - p), *le;

		if (nl == NULL)
			nl = end;
		le = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
		if (n > 1 && sip_is_ws(*p)) {
			/* continuation: blank out the previous line break */
			for (char *q = lines[n - 1] + strlen(lines[n - 1]); q < p; q++)
				*q = ' ';
		} else {
			if (n == max) {
				*overflow = 1;	/* the lines kept stay terminated */
				return n;
			}
			lines[n++] = p;
		}
		*le = '\0';
		if (nl < end)
			*nl = '\0';
		p = nl + 1;
	}
	return n;
}

/* End of the header section: the empty line. */
static char *
sip_find_hdr_end(char *buf, size_t len, size_t *skip)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n') {
			*skip = 2;
			return buf + i;
		}
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n') {
			*skip = 3;
			return buf + i;
		}
	}
	return NULL;
}

static void
sip_check_body(struct sip_parser *sp, char *body, size_t avail)
{
	struct sip_msg *m = sp->msg;

	m->body = body;
	m->body_len = avail;
	if (m->content_length > (long)avail)
		sip_bad(sp, 400, "body shorter than Content-Length");
	else if (m->content_length >= 0)
		m->body_len = (size_t)m->content_length;
}

/* The parts needed for any answer: Via (top readable), From, To, Call-ID, CSeq. */
static int
sip_essentials(struct sip_parser *sp)
{
	struct sip_msg *m = sp->msg;

	if (m->nvia == 0 || sip_parse_via(sp, m->via[0], &m->top_via) == -1)
		return -1;
	if (m->from.value == NULL || sip_parse_addr(sp, m->from.value, &m->from) == -1)
		return -1;
	if (m->to.value == NULL || sip_parse_addr(sp, m->to.value, &m->to) == -1)
		return -1;
	if (m->call_id == NULL || *m->call_id == '\0' || strpbrk(m->call_id, " \t") != NULL)
		return -1;
	return m->cseq_method_name != NULL ? 0 : -1;
}

static void
sip_check_request(struct sip_parser *sp)
{
	struct sip_msg *m = sp->msg;

	sip_check_ruri(sp);
	if (strcmp(m->cseq_method_name, m->method_name) != 0)
		sip_bad(sp, 400, "CSeq method differs from the request method");
	if (m->len > SIP_MAX_MSG)
		sip_bad(sp, 513, "message too large");
}

static enum sip_parse
sip_parse_headers(struct sip_parser *sp, char *hdr_end, size_t skip)
{
	struct sip_msg	*m = sp->msg;
	char		*lines[SIP_MAX_LINES];
	int		 n, overflow = 0;

	n = sip_split_lines(m->buf, hdr_end - m->buf, lines, SIP_MAX_LINES, &overflow);
	if (n < 1 || sip_start_line(sp, lines[0]) == -1) {
		m->err_reason = "bad start line";
		return SIP_PARSE_DROP;
	}
	for (int i = 1; i < n; i++)
		sip_header_line(sp, lines[i]);
	if (overflow)	/* only past SIP_MAX_MSG: answered if what fits allows */
		sip_bad(sp, 513, "message too large");
	sip_check_body(sp, hdr_end + skip, m->len - (hdr_end + skip - m->buf));
	if (sip_essentials(sp) == -1) {
		m->err_reason = "missing or unreadable Via/From/To/Call-ID/CSeq";
		return SIP_PARSE_DROP;
	}
	if (m->is_request)
		sip_check_request(sp);
	if (sp->bad == 0)
		return SIP_PARSE_OK;
	m->err_code = sp->bad;
	m->err_reason = sp->bad_reason;
	return m->is_request ? SIP_PARSE_BAD_ANSWERABLE : SIP_PARSE_DROP;
}

static void
sip_msg_init(struct sip_msg *m, struct sip_parser *sp, const char *data, size_t len)
{
	memset(m, 0, sizeof(*m));
	memset(sp, 0, sizeof(*sp));
	m->content_length = -1;
	m->max_forwards = -1;
	m->len = len;
	/* One allocation: the copy, then the arena for derived strings. The
	 * top Via is copied whole and then its parameters again, so the
	 * arena needs up to twice the message (plus the NULs); any less and a
	 * long branch, From or To would not fit. */
	sp->arena_len = 2 * len + 512;
	m->buf = xmalloc(len + 1 + sp->arena_len);
	memcpy(m->buf, data, len);
	m->buf[len] = '\0';
	sp->arena = m->buf + len + 1;
	sp->msg = m;
}

enum sip_parse
sip_msg_parse(struct sip_msg *m, const char *data, size_t len)
{
	struct sip_parser	 sp;
	char			*hend;
	size_t			 skip = 0, lead = 0;

	/* CRLFs before the start line are ignored (§7.5); a datagram of
	 * nothing else is a keepalive, not an error. */
	while (lead < len && (data[lead] == '\r' || data[lead] == '\n'))
		lead++;
	sip_msg_init(m, &sp, data + lead, len - lead);
	if (m->len == 0)
		return SIP_PARSE_DROP;
	if (len > SIP_MAX_DATAGRAM) {
		m->err_reason = "datagram too large";
		return SIP_PARSE_DROP;
	}
	if ((hend = sip_find_hdr_end(m->buf, m->len, &skip)) == NULL) {
		m->err_reason = "no end of headers";
		return SIP_PARSE_DROP;
	}
	if (memchr(m->buf, '\0', hend - m->buf) != NULL) {
		m->err_reason = "NUL byte in headers";
		return SIP_PARSE_DROP;
	}
	hend[0] = '\0';	/* the empty line's first byte */
	return sip_parse_headers(&sp, hend, skip);
}

void
sip_msg_free(struct sip_msg *m)
{
	free(m->buf);
	m->buf = NULL;
}

/* ---- building responses ---- */

struct sip_out {
	char	*p;
	size_t	 len, used;
	int	 overflow;
};

static void
sip_out_add(struct sip_out *o, const char *s, size_t n)
{
	if (o->overflow || o->used + n >= o->len) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p + o->used, s, n);
	o->used += n;
	o->p[o->used] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
sip_out_fmt(struct sip_out *o, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->used)
		o->overflow = 1;
	else
		o->used += n;
}

/* Position of a valueless ";rport" in a Via element, or NULL. */
static const char *
sip_find_bare_rport(const char *el, size_t n)
{
	for (const char *p = el; p + 6 <= el + n; p++) {
		if (*p != ';')
			continue;
		const char *q = sip_skip_ws(p + 1);
		if (strncasecmp(q, "rport", 5) != 0)
			continue;
		const char *r = sip_skip_ws(q + 5);
		if (r >= el + n || *r == ';' || *r == ',')
			return q + 5;
	}
	return NULL;
}

/* The top Via with received= and rport= as §18.2.1 and RFC 3581 ask. */
static void
sip_out_top_via(struct sip_out *o, const struct sip_msg *req, const char *src_ip, int src_port)
{
	const char	*line = req->via[0], *rp;
	size_t		 n = sip_via_first_len(line);
	int		 need_received;

	while (n > 0 && sip_is_ws(line[n - 1]))
		n--;
	need_received = req->top_via.has_rport ||
	    strcmp(req->top_via.host, src_ip) != 0;
	sip_out_add(o, "Via: ", 5);
	if (req->top_via.has_rport && (rp = sip_find_bare_rport(line, n)) != NULL) {
		sip_out_add(o, line, rp - line);
		sip_out_fmt(o, "=%d", src_port);
		sip_out_add(o, rp, line + n - rp);
	} else
		sip_out_add(o, line, n);
	if (need_received && req->top_via.received == NULL)
		sip_out_fmt(o, ";received=%s", src_ip);
	sip_out_fmt(o, "%s\r\n", line + n);
}

int
sip_build_response(char *out, size_t outlen, const struct sip_msg *req,
    const char *src_ip, int src_port, const struct sip_resp *r)
{
	struct sip_out o = { out, outlen, 0, 0 };

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	sip_out_fmt(&o, "SIP/2.0 %d %s\r\n", r->code,
	    r->reason != NULL ? r->reason : sip_reason_phrase(r->code));
	sip_out_top_via(&o, req, src_ip, src_port);
	for (int i = 1; i < req->nvia; i++)
		sip_out_fmt(&o, "Via: %s\r\n", req->via[i]);
	sip_out_fmt(&o, "From: %s\r\n", req->from.value);
	if (req->to.tag == NULL && r->to_tag != NULL)
		sip_out_fmt(&o, "To: %s;tag=%s\r\n", req->to.value, r->to_tag);
	else
		sip_out_fmt(&o, "To: %s\r\n", req->to.value);
	sip_out_fmt(&o, "Call-ID: %s\r\nCSeq: %u %s\r\n", req->call_id, req->cseq,
	    req->cseq_method_name);
	if (r->extra != NULL)
		sip_out_add(&o, r->extra, strlen(r->extra));
	sip_out_fmt(&o, "Server: holdfast\r\nContent-Length: %zu\r\n\r\n", r->body_len);
	if (r->body_len > 0)
		sip_out_add(&o, r->body, r->body_len);
	return o.overflow ? -1 : (int)o.used;
}

int
sip_response_port(const struct sip_msg *req, int src_port)
{
	if (req->top_via.has_rport)
		return src_port;
	return req->top_via.port > 0 ? req->top_via.port : 5060;
}

/* ---- SDP ---- */

/* The next line of an SDP body (LF or CRLF), as [*s, *e). */
static int
sip_sdp_line(const char **p, const char *end, const char **s, const char **e)
{
	const char *nl;

	if (*p >= end)
		return 0;
	*s = *p;
	nl = memchr(*p, '\n', end - *p);
	*e = nl != NULL ? nl : end;
	*p = nl != NULL ? nl + 1 : end;
	if (*e > *s && (*e)[-1] == '\r')
		(*e)--;
	return 1;
}

/* The first format of the first usable "m=audio" line; -1 when none. */
static int
sip_sdp_first_audio_fmt(const char *offer, size_t len)
{
	const char *p = offer, *end = offer + len, *s, *e;

	while (sip_sdp_line(&p, end, &s, &e)) {
		char	 line[256];
		int	 port, fmt, n = 0;

		if (e - s < 8 || strncmp(s, "m=audio ", 8) != 0 || e - s >= (long)sizeof(line))
			continue;
		memcpy(line, s, e - s);
		line[e - s] = '\0';
		if (sscanf(line, "m=audio %d RTP/AVP %d%n", &port, &fmt, &n) == 2 &&
		    port > 0 && port <= 65535 && fmt >= 0 && fmt <= 127)
			return fmt;
	}
	return -1;
}

/* The offer's "a=rtpmap:<fmt> ..." line for fmt, copied into out. */
static int
sip_sdp_rtpmap(const char *offer, size_t len, int fmt, char *out, size_t outlen)
{
	const char	*p = offer, *end = offer + len, *s, *e;
	char		 want[24];
	size_t		 wl;

	wl = (size_t)snprintf(want, sizeof(want), "a=rtpmap:%d ", fmt);
	while (sip_sdp_line(&p, end, &s, &e)) {
		if ((size_t)(e - s) > wl && (size_t)(e - s) < outlen &&
		    strncmp(s, want, wl) == 0) {
			for (const char *q = s; q < e; q++)
				if ((unsigned char)*q < 0x20)
					return 0;
			memcpy(out, s, e - s);
			out[e - s] = '\0';
			return 1;
		}
	}
	return 0;
}

int
sip_sdp_answer(char *out, size_t outlen, const char *offer, size_t offer_len,
    const char *local_ip, int media_port, uint64_t sess_id)
{
	char	 rtpmap[128] = "", fmts[16];
	int	 fmt, n;

	if (offer != NULL) {
		if ((fmt = sip_sdp_first_audio_fmt(offer, offer_len)) < 0)
			return 0;
		if (!sip_sdp_rtpmap(offer, offer_len, fmt, rtpmap, sizeof(rtpmap)) && fmt < 96)
			rtpmap[0] = '\0';
		else if (rtpmap[0] == '\0')
			return 0;	/* a dynamic type without its rtpmap */
		snprintf(fmts, sizeof(fmts), "%d", fmt);
	} else
		hf_strlcpy(fmts, "0 8", sizeof(fmts));
	n = snprintf(out, outlen,
	    "v=0\r\no=holdfast %llu %llu IN IP4 %s\r\ns=holdfast\r\nc=IN IP4 %s\r\n"
	    "t=0 0\r\nm=audio %d RTP/AVP %s\r\n%s%s%s"
	    "a=sendrecv\r\n",
	    (unsigned long long)sess_id, (unsigned long long)sess_id, local_ip,
	    local_ip, media_port, fmts, rtpmap, rtpmap[0] ? "\r\n" : "",
	    offer == NULL ? "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n" : "");
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}
