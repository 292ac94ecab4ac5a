/*
 * hf_json: a strict, bounded JSON reader for one lookup in a flat object,
 * and a string escaper (see hf_json.h). Recursion is bounded by
 * HFL_MAX_DEPTH; nothing is allocated.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hf_json.h"

#define HFL_MAX_DEPTH	32

struct hfl_rd {
	const char	*p, *end;
};

static int hfl_value(struct hfl_rd *, int depth);

static void
hfl_ws(struct hfl_rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
	    *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int
hfl_hex4(const char *p, unsigned *cp)
{
	*cp = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];

		*cp <<= 4;
		if (c >= '0' && c <= '9')
			*cp |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*cp |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*cp |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

/* Appends one byte to out (when there is room; the last byte stays NUL). */
static void
hfl_put(char *out, size_t outlen, size_t *n, char c)
{
	if (out != NULL && *n + 1 < outlen)
		out[*n] = c;
	(*n)++;
}

static void
hfl_put_utf8(char *out, size_t outlen, size_t *n, unsigned cp)
{
	if (cp < 0x80)
		hfl_put(out, outlen, n, (char)cp);
	else if (cp < 0x800) {
		hfl_put(out, outlen, n, (char)(0xc0 | cp >> 6));
		hfl_put(out, outlen, n, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		hfl_put(out, outlen, n, (char)(0xe0 | cp >> 12));
		hfl_put(out, outlen, n, (char)(0x80 | (cp >> 6 & 0x3f)));
		hfl_put(out, outlen, n, (char)(0x80 | (cp & 0x3f)));
	} else {
		hfl_put(out, outlen, n, (char)(0xf0 | cp >> 18));
		hfl_put(out, outlen, n, (char)(0x80 | (cp >> 12 & 0x3f)));
		hfl_put(out, outlen, n, (char)(0x80 | (cp >> 6 & 0x3f)));
		hfl_put(out, outlen, n, (char)(0x80 | (cp & 0x3f)));
	}
}

/* \uXXXX (r->p after the 'u'), a surrogate pair combined; a lone
 * surrogate becomes U+FFFD. */
static int
hfl_uescape(struct hfl_rd *r, unsigned *cp)
{
	unsigned lo;

	if (r->end - r->p < 4 || hfl_hex4(r->p, cp) == -1)
		return -1;
	r->p += 4;
	if (*cp < 0xd800 || *cp > 0xdfff)
		return 0;
	if (*cp <= 0xdbff && r->end - r->p >= 6 && r->p[0] == '\\' &&
	    r->p[1] == 'u' && hfl_hex4(r->p + 2, &lo) == 0 &&
	    lo >= 0xdc00 && lo <= 0xdfff) {
		r->p += 6;
		*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
		return 0;
	}
	*cp = 0xfffd;
	return 0;
}

/* A string (r->p on the opening quote), unescaped into out when not NULL. */
static int
hfl_string(struct hfl_rd *r, char *out, size_t outlen)
{
	static const char esc[] = "\"\\/bfnrt", val[] = "\"\\/\b\f\n\r\t";
	size_t	 n = 0;
	unsigned cp;

	r->p++;
	while (r->p < r->end && *r->p != '"') {
		unsigned char c = (unsigned char)*r->p++;

		if (c < 0x20)
			return -1;
		if (c != '\\') {
			hfl_put(out, outlen, &n, (char)c);
			continue;
		}
		if (r->p == r->end)
			return -1;
		c = (unsigned char)*r->p++;
		if (c == 'u') {
			if (hfl_uescape(r, &cp) == -1)
				return -1;
			hfl_put_utf8(out, outlen, &n, cp);
		} else if (c != '\0' && strchr(esc, c) != NULL)
			hfl_put(out, outlen, &n, val[strchr(esc, c) - esc]);
		else
			return -1;
	}
	if (r->p == r->end)
		return -1;
	r->p++;
	if (out != NULL && outlen > 0)
		out[n < outlen ? n : outlen - 1] = '\0';
	return 0;
}

static int
hfl_digits(struct hfl_rd *r)
{
	const char *start = r->p;

	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++;
	return r->p > start ? 0 : -1;
}

/* A number; 1 when it is an integer, 0 otherwise, -1 when malformed. */
static int
hfl_number(struct hfl_rd *r)
{
	int integer = 1;

	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p < r->end && *r->p == '0')
		r->p++;
	else if (hfl_digits(r) == -1)
		return -1;
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		integer = 0;
		if (hfl_digits(r) == -1)
			return -1;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		integer = 0;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (hfl_digits(r) == -1)
			return -1;
	}
	return integer;
}

static int
hfl_literal(struct hfl_rd *r, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return -1;
	r->p += n;
	return 0;
}

/* An object or array (r->p on its opening bracket). */
static int
hfl_container(struct hfl_rd *r, int depth)
{
	char	 close = *r->p == '{' ? '}' : ']';
	int	 first = 1;

	if (depth >= HFL_MAX_DEPTH)
		return -1;
	r->p++;
	for (;;) {
		hfl_ws(r);
		if (r->p == r->end)
			return -1;
		if (*r->p == close && first) {
			r->p++;
			return 0;
		}
		if (close == '}') {
			if (*r->p != '"' || hfl_string(r, NULL, 0) == -1)
				return -1;
			hfl_ws(r);
			if (r->p == r->end || *r->p++ != ':')
				return -1;
		}
		if (hfl_value(r, depth + 1) == -1)
			return -1;
		hfl_ws(r);
		if (r->p == r->end)
			return -1;
		if (*r->p == close) {
			r->p++;
			return 0;
		}
		if (*r->p++ != ',')
			return -1;
		first = 0;
	}
}

static int
hfl_value(struct hfl_rd *r, int depth)
{
	hfl_ws(r);
	if (r->p == r->end)
		return -1;
	switch (*r->p) {
	case '{':
	case '[':
		return hfl_container(r, depth);
	case '"':
		return hfl_string(r, NULL, 0);
	case 't':
		return hfl_literal(r, "true");
	case 'f':
		return hfl_literal(r, "false");
	case 'n':
		return hfl_literal(r, "null");
	default:
		return hfl_number(r) == -1 ? -1 : 0;
	}
}

/* The member's value (r->p on it): what it is, copied out when wanted. */
static enum hfl_jtype
hfl_member(struct hfl_rd *r, char *buf, size_t buflen, long long *num)
{
	const char	*start = r->p;
	char		 tmp[32];
	int		 isint;

	if (*r->p == '"')
		return hfl_string(r, buf, buflen) == -1 ? HFL_J_BAD : HFL_J_STR;
	if (*r->p != '-' && (*r->p < '0' || *r->p > '9'))
		return hfl_value(r, 1) == -1 ? HFL_J_BAD : HFL_J_OTHER;
	if ((isint = hfl_number(r)) == -1)
		return HFL_J_BAD;
	if (!isint || (size_t)(r->p - start) >= sizeof(tmp))
		return HFL_J_OTHER;
	memcpy(tmp, start, (size_t)(r->p - start));
	tmp[r->p - start] = '\0';
	errno = 0;
	*num = strtoll(tmp, NULL, 10);
	return errno == ERANGE ? HFL_J_OTHER : HFL_J_INT;
}

enum hfl_jtype
hfl_json_get(const char *js, size_t len, const char *key, char *buf,
    size_t buflen, long long *num)
{
	struct hfl_rd	 r = { js, js + len };
	enum hfl_jtype	 found = HFL_J_NONE, t;
	char		 name[64];
	long long	 n = 0;

	hfl_ws(&r);
	if (r.p == r.end || *r.p++ != '{')
		return HFL_J_BAD;
	hfl_ws(&r);
	if (r.p < r.end && *r.p == '}')
		r.p++;
	else for (;;) {
		hfl_ws(&r);
		if (r.p == r.end || *r.p != '"' ||
		    hfl_string(&r, name, sizeof(name)) == -1)
			return HFL_J_BAD;
		hfl_ws(&r);
		if (r.p == r.end || *r.p++ != ':')
			return HFL_J_BAD;
		hfl_ws(&r);
		if (r.p == r.end)
			return HFL_J_BAD;
		if (strcmp(name, key) == 0) {
			if ((t = hfl_member(&r, buf, buflen, &n)) == HFL_J_BAD)
				return HFL_J_BAD;
			found = t;
			if (t == HFL_J_INT && num != NULL)
				*num = n;
		} else if (hfl_value(&r, 1) == -1)
			return HFL_J_BAD;
		hfl_ws(&r);
		if (r.p == r.end)
			return HFL_J_BAD;
		if (*r.p == '}') {
			r.p++;
			break;
		}
		if (*r.p++ != ',')
			return HFL_J_BAD;
	}
	hfl_ws(&r);
	return r.p == r.end ? found : HFL_J_BAD;
}

/* The length of the valid UTF-8 sequence at s (lead byte >= 0x80), 0 when
 * it is not one. */
static size_t
hfl_utf8_len(const char *s)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 n;

	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		n = 2;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		n = 3;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((u[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

size_t
hfl_json_str(char *dst, size_t dstlen, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 n = strnlen(dst, dstlen);

	hfl_put(dst, dstlen, &n, '"');
	for (; *s != '\0'; s++) {
		unsigned char	 c = (unsigned char)*s;
		size_t		 k;

		if (c >= 0x80) {
			/* Valid UTF-8 as is; a stray byte (Latin-1 text) as
			 * '?': holdfastd refuses a frame of invalid UTF-8. */
			if ((k = hfl_utf8_len(s)) == 0)
				hfl_put(dst, dstlen, &n, '?');
			for (size_t i = 0; i < k; i++)
				hfl_put(dst, dstlen, &n, s[i]);
			s += k > 0 ? k - 1 : 0;
		} else if (c == '"' || c == '\\') {
			hfl_put(dst, dstlen, &n, '\\');
			hfl_put(dst, dstlen, &n, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			hfl_put(dst, dstlen, &n, '\\');
			hfl_put(dst, dstlen, &n, 'u');
			hfl_put(dst, dstlen, &n, '0');
			hfl_put(dst, dstlen, &n, '0');
			hfl_put(dst, dstlen, &n, hex[c >> 4]);
			hfl_put(dst, dstlen, &n, hex[c & 0xf]);
		} else
			hfl_put(dst, dstlen, &n, (char)c);
	}
	hfl_put(dst, dstlen, &n, '"');
	if (dstlen > 0)
		dst[n < dstlen ? n : dstlen - 1] = '\0';
	return n;
}
