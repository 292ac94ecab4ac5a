/*
 * cdr: the CDR record format (one spool record per call). See cdr.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cdr.h"
#include "siphash.h"
#include "util.h"

const char *
cdr_disposition_name(enum cdr_disposition d)
{
	static const char *const names[] = {
		"ANSWERED", "CANCELLED", "NO_ACK", "REJECTED", "FAILED",
	};

	return (unsigned)d < nitems(names) ? names[d] : "FAILED";
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if none. */
static size_t
cdr_utf8_len(const unsigned char *p, size_t n)
{
	size_t		len;
	unsigned char	lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		hi = p[0] == 0xed ? 0x9f : 0xbf;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	} else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

char *
cdr_text_clean(const char *s, char *out)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = strlen(s), w = 0;

	while (n > 0) {
		size_t k = cdr_utf8_len(p, n);

		if (w + (k ? k : 1) > CDR_TEXT_MAX)
			break;
		if (k == 0) {
			out[w++] = '?';
			k = 1;
		} else {
			memcpy(out + w, p, k);
			w += k;
		}
		p += k;
		n -= k;
	}
	out[w] = '\0';
	return out;
}

void
cdr_make_id(char out[CDR_ID_LEN + 1], const char *call_id, const char *from_tag,
    unsigned cseq, const char *branch)
{
	/* fixed keys: the id of a record must not change across restarts */
	static const uint8_t k1[SIPHASH_KEY_LEN] = { 'h', 'o', 'l', 'd', 'f', 'a', 's',
	    't', '-', 'c', 'd', 'r', '-', 'i', 'd', '1' };
	static const uint8_t k2[SIPHASH_KEY_LEN] = { 'h', 'o', 'l', 'd', 'f', 'a', 's',
	    't', '-', 'c', 'd', 'r', '-', 'i', 'd', '2' };
	char	*s;
	int	 len;

	/* '\n' cannot occur in any of them (the parser ends headers there) */
	s = xasprintf("%s\n%s\n%u\n%s", call_id, from_tag ? from_tag : "", cseq,
	    branch ? branch : "");
	len = (int)strlen(s);
	snprintf(out, CDR_ID_LEN + 1, "%016" PRIx64 "%016" PRIx64, siphash24(k1, s, len),
	    siphash24(k2, s, len));
	free(s);
}

/* One column in COPY text form: backslash escapes, \N for NULL; valid
 * UTF-8 of at most CDR_TEXT_MAX bytes. */
static void
cdr_put_text(struct buf *b, const char *s)
{
	char clean[CDR_TEXT_MAX + 1];

	buf_add(b, "\t", 1);
	if (s == NULL) {
		buf_add(b, "\\N", 2);
		return;
	}
	for (s = cdr_text_clean(s, clean); *s != '\0'; s++) {
		switch (*s) {
		case '\\': buf_add(b, "\\\\", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		case '\n': buf_add(b, "\\n", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		default: buf_add(b, s, 1);
		}
	}
}

static void
cdr_put_int(struct buf *b, int64_t v, int null_if_zero)
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
	struct buf	b = BUF_INIT;
	int64_t		dur = (c->ended_us - c->started_us) / 1000;
	int64_t		bill = c->answered_us ? (c->ended_us - c->answered_us) / 1000 : 0;

	buf_add(&b, "2", 1);
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
	cdr_put_text(&b, c->cdr_id);
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
	int	 n = 0, want;

	if (len < 2 || (buf[0] != '1' && buf[0] != '2') || buf[1] != '\t' ||
	    memchr(buf, '\0', len) != NULL)
		return -1;
	want = buf[0] == '1' ? CDR_NCOLS_V1 : CDR_NCOLS;
	buf[len] = '\0';	/* the spool leaves a byte for it */
	p = buf + 2;
	for (;;) {
		if (n == want)
			return -1;
		tab = strchr(p, '\t');
		if (tab != NULL)
			*tab = '\0';
		cols[n++] = cdr_unescape(p);
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	if (n != want)
		return -1;
	if (want == CDR_NCOLS_V1)
		cols[CDR_NCOLS - 1] = NULL;	/* the DB uses call_id */
	return 0;
}

