/*
 * buf: a growable byte buffer. p is NULL until something is added, then
 * always NUL-terminated after its len bytes (so text can be used as a
 * string; binary data may hold NULs of its own). Allocation failure
 * aborts, like the x* wrappers of util.h.
 */
#ifndef HOLDFAST_BUF_H
#define HOLDFAST_BUF_H

#include <stddef.h>

struct buf {
	char	*p;
	size_t	 len, cap;
};

#define BUF_INIT	{ NULL, 0, 0 }

/* Room for n more bytes and the NUL. */
void buf_reserve(struct buf *, size_t n);
void buf_add(struct buf *, const void *data, size_t n);
void buf_adds(struct buf *, const char *s);
void buf_printf(struct buf *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Empties the buffer and keeps its memory. */
void buf_reset(struct buf *);
/* Frees the memory; the buffer is empty and usable again. */
void buf_free(struct buf *);

#endif
