/*
 * cdr: the CDR record format (one spool record per call). See cdr.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdr.h"
#include "util.h"

struct cdr_buf {
	char	*p;
	size_t	 len, cap;
};


const char *
cdr_disposition_name(enum cdr_disposition d)
{
	static const char *const names[] = {
		"ANSWERED", "CANCELLED", "NO_ACK", "REJECTED", "FAILED",
	};

	return (unsigned)d < nitems(names) ? names[d] : "FAILED";
}

static void
cdr_buf_add(struct cdr_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* One column in COPY text form: backslash escapes, \N for NULL. */
static void
cdr_put_text(struct cdr_buf *b, const char *s)
{
	cdr_buf_add(b, "\t", 1);
	if (s == NULL) {
		cdr_buf_add(b, "\\N", 2);
		return;
	}
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\\': cdr_buf_add(b, "\\\\", 2); break;
		case '\t': cdr_buf_add(b, "\\t", 2); break;
		case '\n': cdr_buf_add(b, "\\n", 2); break;
		case '\r': cdr_buf_add(b, "\\r", 2); break;
		default: cdr_buf_add(b, s, 1);
		}
	}
}

static void
cdr_put_int(struct cdr_buf *b, int64_t v, int null_if_zero)
{
	char num[32];

	if (null_if_zero && v == 0) {
		cdr_put_text(b, NULL);
		return;
	}
	snprintf(num, sizeof(num), "%" PRId64, v);
	cdr_put_text(b, num);
}

char *
cdr_encode(const struct cdr *c, size_t *len)
{
	struct cdr_buf	b = { NULL, 0, 0 };
	int64_t		dur = (c->ended_us - c->started_us) / 1000;
	int64_t		bill = c->answered_us ? (c->ended_us - c->answered_us) / 1000 : 0;

	cdr_buf_add(&b, "1", 1);
	cdr_put_text(&b, c->call_id);
	cdr_put_text(&b, c->from_uri);
	cdr_put_text(&b, c->to_uri);
	cdr_put_text(&b, c->from_tag);
	cdr_put_text(&b, c->to_tag);
	cdr_put_text(&b, c->remote_addr);
	cdr_put_int(&b, c->started_us, 0);
	cdr_put_int(&b, c->answered_us, 1);
	cdr_put_int(&b, c->ended_us, 0);
	cdr_put_int(&b, dur < 0 ? 0 : dur, 0);
	cdr_put_int(&b, bill < 0 ? 0 : bill, 0);
	cdr_put_text(&b, cdr_disposition_name(c->disposition));
	cdr_put_int(&b, c->sip_code, 1);
	cdr_put_text(&b, c->hangup_cause);
	cdr_put_text(&b, c->ended_by);
	*len = b.len;
	return b.p;
}

/* Undoes cdr_put_text in place; NULL for \N. */
static char *
cdr_unescape(char *s)
{
	char *w = s;

	if (strcmp(s, "\\N") == 0)
		return NULL;
	for (char *r = s; *r != '\0'; r++) {
		if (*r != '\\' || r[1] == '\0') {
			*w++ = *r;
			continue;
		}
		r++;
		*w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r;
	}
	*w = '\0';
	return s;
}

int
cdr_decode(char *buf, size_t len, char *cols[CDR_NCOLS])
{
	char	*p = buf, *tab;
	int	 n = 0;

	if (len < 2 || buf[0] != '1' || buf[1] != '\t' || memchr(buf, '\0', len) != NULL)
		return -1;
	buf[len] = '\0';	/* the spool leaves a byte for it */
	p = buf + 2;
	for (;;) {
		if (n == CDR_NCOLS)
			return -1;
		tab = strchr(p, '\t');
		if (tab != NULL)
			*tab = '\0';
		cols[n++] = cdr_unescape(p);
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	return n == CDR_NCOLS ? 0 : -1;
}

