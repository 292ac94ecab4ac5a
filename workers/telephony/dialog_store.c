/*
 * dialog_store: confirmed dialogs on disk. See dialog_store.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dialog_store.h"
#include "log.h"
#include "spool.h"
#include "util.h"

#define DS_MAGIC	"HFD1"
#define DS_HDR		12
#define DS_NBUCKETS	4096
#define DS_NULL		0xffffu

/* An open dialog: its key (call_id, to_tag) and its CONFIRM payload. */
struct ds_entry {
	struct ds_entry	*next;
	char		*key;
	char		*rec;
	size_t		 len;
};

struct dialog_store {
	char		*path;
	int		 fd;
	off_t		 size;
	size_t		 n;
	struct ds_entry	*b[DS_NBUCKETS];
	char		**ends;		/* keys ended, not yet written */
	size_t		 nends, ends_cap;
};

/* ---- encoding ---- */

static void
ds_put_u64(struct buf *b, uint64_t v)
{
	unsigned char x[8];

	for (int i = 0; i < 8; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	buf_add(b, x, 8);
}

static void
ds_put_bytes(struct buf *b, const void *s, size_t n, int null)
{
	unsigned char x[2];
	unsigned v = null ? DS_NULL : (unsigned)(n < DS_NULL ? n : DS_NULL - 1);

	x[0] = (unsigned char)v;
	x[1] = (unsigned char)(v >> 8);
	buf_add(b, x, 2);
	if (!null)
		buf_add(b, s, v);
}

static void
ds_put_str(struct buf *b, const char *s)
{
	ds_put_bytes(b, s, s != NULL ? strlen(s) : 0, s == NULL);
}

struct ds_rd {
	const unsigned char	*p;
	size_t			 left;
	int			 bad;
};

static uint64_t
ds_get_u64(struct ds_rd *r)
{
	uint64_t v = 0;

	if (r->left < 8) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	r->left -= 8;
	return v;
}

/* A malloc'd NUL-terminated copy; NULL for a NULL string (or when bad). */
static char *
ds_get_str(struct ds_rd *r, size_t *lenp)
{
	unsigned	 v;
	char		*s;

	if (r->left < 2) {
		r->bad = 1;
		return NULL;
	}
	v = r->p[0] | (unsigned)r->p[1] << 8;
	r->p += 2;
	r->left -= 2;
	if (v == DS_NULL)
		return NULL;
	if (r->left < v) {
		r->bad = 1;
		return NULL;
	}
	s = xmalloc(v + 1);	/* bytes, not a C string: sockaddrs hold NULs */
	memcpy(s, r->p, v);
	s[v] = '\0';
	if (lenp != NULL)
		*lenp = v;
	r->p += v;
	r->left -= v;
	return s;
}

char *
dialog_rec_encode(const struct dialog_rec *d, size_t *len)
{
	struct buf b = BUF_INIT;

	buf_add(&b, "C", 1);
	ds_put_str(&b, d->call_id);
	ds_put_str(&b, d->to_tag);
	ds_put_str(&b, d->from_tag);
	ds_put_str(&b, d->from_uri);
	ds_put_str(&b, d->to_uri);
	ds_put_str(&b, d->remote);
	ds_put_str(&b, d->branch_key);
	ds_put_u64(&b, d->cseq);
	ds_put_bytes(&b, &d->dst, d->dstlen <= sizeof(d->dst) ? d->dstlen : 0, 0);
	ds_put_u64(&b, (uint64_t)d->started_us);
	ds_put_u64(&b, (uint64_t)d->answered_us);
	ds_put_u64(&b, (uint64_t)d->confirmed_us);
	*len = b.len;
	return b.p;
}

/* The strings of a decoded record, owned by the caller (ds_rec_free). */
static void
ds_rec_free(struct dialog_rec *d)
{
	free((char *)d->call_id);
	free((char *)d->to_tag);
	free((char *)d->from_tag);
	free((char *)d->from_uri);
	free((char *)d->to_uri);
	free((char *)d->remote);
	free((char *)d->branch_key);
	memset(d, 0, sizeof(*d));
}

static int
ds_rec_decode(const char *p, size_t len, struct dialog_rec *d)
{
	struct ds_rd	 r = { (const unsigned char *)p + 1, len - 1, 0 };
	char		*dst;
	size_t		 dstlen = 0;

	memset(d, 0, sizeof(*d));
	if (len < 1 || p[0] != 'C')
		return -1;
	d->call_id = ds_get_str(&r, NULL);
	d->to_tag = ds_get_str(&r, NULL);
	d->from_tag = ds_get_str(&r, NULL);
	d->from_uri = ds_get_str(&r, NULL);
	d->to_uri = ds_get_str(&r, NULL);
	d->remote = ds_get_str(&r, NULL);
	d->branch_key = ds_get_str(&r, NULL);
	d->cseq = (uint32_t)ds_get_u64(&r);
	dst = ds_get_str(&r, &dstlen);
	if (dst != NULL && dstlen <= sizeof(d->dst)) {
		memcpy(&d->dst, dst, dstlen);
		d->dstlen = (socklen_t)dstlen;
	}
	free(dst);
	d->started_us = (int64_t)ds_get_u64(&r);
	d->answered_us = (int64_t)ds_get_u64(&r);
	d->confirmed_us = (int64_t)ds_get_u64(&r);
	if (r.bad || d->call_id == NULL || d->to_tag == NULL || d->from_uri == NULL ||
	    d->to_uri == NULL || d->remote == NULL || d->branch_key == NULL) {
		ds_rec_free(d);
		return -1;
	}
	return 0;
}

/* ---- the set of open dialogs ---- */

static char *
ds_key(const char *call_id, const char *to_tag)
{
	return xasprintf("%s\t%s", call_id, to_tag);
}

static struct ds_entry **
ds_find(struct dialog_store *ds, const char *key)
{
	uint32_t		 h = 2166136261u;
	struct ds_entry		**pp;

	for (const char *s = key; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	for (pp = &ds->b[h % DS_NBUCKETS]; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0)
			break;
	return pp;
}

/* Takes key; copies rec. */
static void
ds_add(struct dialog_store *ds, char *key, const char *rec, size_t len)
{
	struct ds_entry **pp = ds_find(ds, key), *e;

	if ((e = *pp) == NULL) {
		e = *pp = xcalloc(1, sizeof(*e));
		ds->n++;
	} else {
		free(e->key);
		free(e->rec);
	}
	e->key = key;
	e->rec = xmalloc(len);
	memcpy(e->rec, rec, len);
	e->len = len;
}

/* 1 when key was open. */
static int
ds_del(struct dialog_store *ds, const char *key)
{
	struct ds_entry **pp = ds_find(ds, key), *e = *pp;

	if (e == NULL)
		return 0;
	*pp = e->next;
	free(e->key);
	free(e->rec);
	free(e);
	ds->n--;
	return 1;
}

/* ---- the file ---- */

static void
ds_frame(struct buf *b, const char *rec, size_t len)
{
	unsigned char	hdr[DS_HDR];
	uint32_t	crc = spool_crc32(rec, len);

	memcpy(hdr, DS_MAGIC, 4);
	for (int i = 0; i < 4; i++) {
		hdr[4 + i] = (unsigned char)(len >> (8 * i));
		hdr[8 + i] = (unsigned char)(crc >> (8 * i));
	}
	buf_add(b, hdr, DS_HDR);
	buf_add(b, rec, len);
}

static void
ds_write(struct dialog_store *ds, const struct buf *b)
{
	ssize_t n;

	if (ds->fd == -1 || b->len == 0)
		return;
	n = write(ds->fd, b->p, b->len);
	if (n != (ssize_t)b->len) {
		log_warn("[DIALOG_STORE] write %s (%zd of %zu bytes)", ds->path, n, b->len);
		return;
	}
	ds->size += n;
}

/* Applies one record read back from the file. */
static void
ds_apply(struct dialog_store *ds, const char *rec, size_t len)
{
	struct ds_rd	 r = { (const unsigned char *)rec + 1, len - 1, 0 };
	char		*a, *b;

	if (len < 1 || (rec[0] != 'C' && rec[0] != 'E'))
		return;
	a = ds_get_str(&r, NULL);
	b = ds_get_str(&r, NULL);
	if (!r.bad && a != NULL && b != NULL) {
		char *key = ds_key(a, b);

		if (rec[0] == 'C')
			ds_add(ds, key, rec, len);	/* takes key */
		else {
			ds_del(ds, key);
			free(key);
		}
	}
	free(a);
	free(b);
}

/* Reads every whole record of buf; returns the length of the good prefix. */
static size_t
ds_scan(struct dialog_store *ds, const char *buf, size_t len)
{
	size_t off = 0;

	while (len - off >= DS_HDR) {
		const unsigned char	*h = (const unsigned char *)buf + off;
		uint32_t		 rlen = 0, crc = 0;

		for (int i = 0; i < 4; i++) {
			rlen |= (uint32_t)h[4 + i] << (8 * i);
			crc |= (uint32_t)h[8 + i] << (8 * i);
		}
		if (memcmp(h, DS_MAGIC, 4) != 0 || rlen > SPOOL_MAX_RECORD ||
		    rlen > len - off - DS_HDR || spool_crc32(h + DS_HDR, rlen) != crc)
			break;
		ds_apply(ds, (const char *)h + DS_HDR, rlen);
		off += DS_HDR + rlen;
	}
	return off;
}

static int
ds_read_file(struct dialog_store *ds)
{
	struct buf	 b = BUF_INIT;
	char		 chunk[65536];
	ssize_t		 n;
	size_t		 good;
	int		 fd = open(ds->path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)n);
	close(fd);
	if (n < 0) {
		buf_free(&b);
		return -1;
	}
	good = ds_scan(ds, b.p, b.len);
	if (good < b.len)
		log_warnx("[DIALOG_TORN] %s: %zu bytes after offset %zu ignored "
		    "(a record torn by a crash)", ds->path, b.len - good, good);
	buf_free(&b);
	return 0;
}

/* Writes the open dialogs to a new file that replaces the old one. */
static int
ds_rewrite(struct dialog_store *ds)
{
	struct buf	 b = BUF_INIT;
	char		*tmp = xasprintf("%s.tmp", ds->path);
	int		 fd, rc = -1;

	for (size_t i = 0; i < DS_NBUCKETS; i++)
		for (struct ds_entry *e = ds->b[i]; e != NULL; e = e->next)
			ds_frame(&b, e->rec, e->len);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd != -1 && (b.len == 0 || write(fd, b.p, b.len) == (ssize_t)b.len) &&
	    rename(tmp, ds->path) == 0) {
		if (ds->fd != -1)
			close(ds->fd);
		ds->fd = fd;
		ds->size = (off_t)b.len;
		fd = -1;
		rc = 0;
	} else
		log_warn("[DIALOG_STORE] rewrite %s", ds->path);
	if (fd != -1) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	buf_free(&b);
	return rc;
}

struct dialog_store *
dialog_store_open(const char *dir, char *err, size_t errlen)
{
	struct dialog_store *ds;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		return NULL;
	}
	ds = xcalloc(1, sizeof(*ds));
	ds->fd = -1;
	ds->path = xasprintf("%s/%s", dir, DIALOG_STORE_FILE);
	if (ds_read_file(ds) == -1 || ds_rewrite(ds) == -1) {
		snprintf(err, errlen, "%s: %s", ds->path, strerror(errno));
		dialog_store_close(ds);
		return NULL;
	}
	return ds;
}

void
dialog_store_close(struct dialog_store *ds)
{
	if (ds == NULL)
		return;
	for (size_t i = 0; i < DS_NBUCKETS; i++)
		while (ds->b[i] != NULL)
			ds_del(ds, ds->b[i]->key);
	for (size_t i = 0; i < ds->nends; i++)
		free(ds->ends[i]);
	free(ds->ends);
	if (ds->fd != -1)
		close(ds->fd);
	free(ds->path);
	free(ds);
}

int
dialog_store_restore(struct dialog_store *ds, void (*cb)(const struct dialog_rec *, void *),
    void *arg)
{
	int n = 0;

	for (size_t i = 0; i < DS_NBUCKETS; i++)
		for (struct ds_entry *e = ds->b[i]; e != NULL; e = e->next) {
			struct dialog_rec d;

			if (ds_rec_decode(e->rec, e->len, &d) == -1)
				continue;
			cb(&d, arg);
			ds_rec_free(&d);
			n++;
		}
	return n;
}

void
dialog_store_confirm(struct dialog_store *ds, const struct dialog_rec *d)
{
	struct buf	 b = BUF_INIT;
	size_t		 len;
	char		*rec = dialog_rec_encode(d, &len);

	ds_add(ds, ds_key(d->call_id, d->to_tag), rec, len);
	ds_frame(&b, rec, len);
	ds_write(ds, &b);
	buf_free(&b);
	free(rec);
}

void
dialog_store_end(struct dialog_store *ds, const char *call_id, const char *to_tag)
{
	if (ds->nends == ds->ends_cap) {
		ds->ends_cap = ds->ends_cap ? ds->ends_cap * 2 : 64;
		ds->ends = xreallocarray(ds->ends, ds->ends_cap, sizeof(*ds->ends));
	}
	ds->ends[ds->nends++] = ds_key(call_id, to_tag);
}

/* An END record: the key's two parts, as CONFIRM starts. */
static void
ds_frame_end(struct buf *out, const char *key)
{
	struct buf	 b = BUF_INIT;
	const char	*tab = strchr(key, '\t');

	buf_add(&b, "E", 1);
	ds_put_bytes(&b, key, (size_t)(tab - key), 0);
	ds_put_str(&b, tab + 1);
	ds_frame(out, b.p, b.len);
	buf_free(&b);
}

void
dialog_store_commit_ends(struct dialog_store *ds)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < ds->nends; i++) {
		if (ds_del(ds, ds->ends[i]))
			ds_frame_end(&b, ds->ends[i]);
		free(ds->ends[i]);
	}
	ds->nends = 0;
	if (ds->n == 0 && ds->size > 0 && ds->fd != -1) {
		/* nothing open: nothing to keep */
		if (ftruncate(ds->fd, 0) == 0)
			ds->size = 0;
		else
			log_warn("[DIALOG_STORE] truncate %s", ds->path);
	} else if (ds->size + (off_t)b.len > DIALOG_STORE_COMPACT) {
		if (ds_rewrite(ds) == -1)
			ds_write(ds, &b);
	} else
		ds_write(ds, &b);
	buf_free(&b);
}

size_t
dialog_store_open_count(const struct dialog_store *ds)
{
	return ds->n;
}
