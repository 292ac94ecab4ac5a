/*
 * buf: a growable byte buffer (see buf.h). The capacity doubles past what
 * is asked, so n appends cost O(n) copying in all.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "util.h"

#define BUF_MIN	64

void
buf_reserve(struct buf *b, size_t n)
{
	size_t	need;

	if (n > SIZE_MAX / 2 - b->len - 1)
		fatalx("buf: %zu + %zu bytes overflow", b->len, n);
	need = b->len + n + 1;
	if (need <= b->cap)
		return;
	b->cap = need * 2 > BUF_MIN ? need * 2 : BUF_MIN;
	b->p = xrealloc(b->p, b->cap);
}

void
buf_add(struct buf *b, const void *data, size_t n)
{
	buf_reserve(b, n);
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("buf_printf: bad format \"%s\"", fmt);
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
