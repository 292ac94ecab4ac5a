/*
 * spool: durable append-only record queue. See spool.h for the format and
 * the guarantees.
 *
 * In memory: the segments in seq order, each with its durable size and
 * the offset up to which its records are acknowledged. Only the last
 * segment is written to; the others are waiting to be acknowledged and
 * unlinked. The append buffer holds framed records not yet written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "buf.h"
#include "log.h"
#include "spool.h"
#include "util.h"

#define SPOOL_MAGIC	"HFS1"
#define SPOOL_HDR	12

struct spool_seg {
	uint64_t	 seq;
	uint64_t	 size;		/* durable bytes */
	uint64_t	 acked;		/* bytes acknowledged */
	uint64_t	 nrec;		/* records between acked and size */
};

struct spool {
	char		*dir;
	struct spool_seg *segs;
	int		 nsegs, cap;
	int		 dfd;		/* the directory, flock()ed; -1 */
	int		 wfd;		/* the last segment, open for append; -1 */
	int		 rfd;		/* read fd and the seq it belongs to */
	uint64_t	 rseq;
	uint64_t	 next_seq;
	uint64_t	 pending;	/* durable unacknowledged records */
	struct buf	 buf;		/* framed, not yet written */
	size_t		 bufrecs;
};

uint32_t
spool_crc32(const void *data, size_t len)
{
	static uint32_t	 table[256];
	const uint8_t	*p = data;
	uint32_t	 crc = 0xffffffffu;

	if (table[1] == 0) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	}
	while (len-- > 0)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffffu;
}

static void
spool_put32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static uint32_t
spool_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static char *
spool_path(const struct spool *sp, uint64_t seq)
{
	return xasprintf("%s/cdr-%020" PRIu64 ".spool", sp->dir, seq);
}

static int
spool_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int
spool_mkdirs(const char *dir)
{
	if (hf_mkdir_parents(dir, 0700) == -1)
		return -1;
	return mkdir(dir, 0700) == -1 && errno != EEXIST ? -1 : 0;
}

/*
 * Reads one frame at off. Returns 1 with the payload in *payload (malloc'd)
 * and its length, 0 at a clean end of file, -1 when the frame is torn or
 * corrupt (why in *why), -2 on a read error.
 */
static int
spool_read_frame(int fd, uint64_t off, uint64_t end, char **payload, size_t *len,
    const char **why)
{
	unsigned char	 hdr[SPOOL_HDR];
	uint32_t	 n;
	ssize_t		 r;

	if (off == end)
		return 0;
	if (end - off < SPOOL_HDR) {
		*why = "short header";
		return -1;
	}
	if ((r = pread(fd, hdr, SPOOL_HDR, (off_t)off)) != SPOOL_HDR)
		return r < 0 ? -2 : (*why = "short header", -1);
	n = spool_get32(hdr + 4);
	if (memcmp(hdr, SPOOL_MAGIC, 4) != 0 || n > SPOOL_MAX_RECORD) {
		*why = "bad frame header";
		return -1;
	}
	if (end - off - SPOOL_HDR < n) {
		*why = "record cut short";
		return -1;
	}
	*payload = xmalloc(n + 1);
	if ((r = pread(fd, *payload, n, (off_t)(off + SPOOL_HDR))) != (ssize_t)n) {
		free(*payload);
		return r < 0 ? -2 : (*why = "record cut short", -1);
	}
	(*payload)[n] = '\0';
	if (spool_crc32(*payload, n) != spool_get32(hdr + 8)) {
		free(*payload);
		*why = "checksum mismatch";
		return -1;
	}
	*len = n;
	return 1;
}

/* Scans one segment; cuts a torn tail off. Returns 0, or -1. */
static int
spool_recover_seg(struct spool *sp, struct spool_seg *seg)
{
	char		*path = spool_path(sp, seg->seq), *payload;
	const char	*why = NULL;
	struct stat	 st;
	uint64_t	 off = 0;
	size_t		 len;
	int		 fd, rc;

	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		log_warn("spool open(%s)", path);
		free(path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((rc = spool_read_frame(fd, off, (uint64_t)st.st_size, &payload, &len, &why)) == 1) {
		free(payload);
		off += SPOOL_HDR + len;
		seg->nrec++;
	}
	if (rc == -1) {
		log_warnx("[SPOOL_TORN] file=%s kept=%" PRIu64 " records dropped=%" PRIu64
		    " bytes at offset %" PRIu64 ": %s", path, seg->nrec,
		    (uint64_t)st.st_size - off, off, why);
		if (ftruncate(fd, (off_t)off) == -1 || fsync(fd) == -1)
			log_warn("spool truncate(%s)", path);
	}
	seg->size = off;
	close(fd);
	free(path);
	return rc == -2 ? -1 : 0;
}

static struct spool_seg *
spool_add_seg(struct spool *sp, uint64_t seq)
{
	struct spool_seg *seg;

	if (sp->nsegs == sp->cap) {
		sp->cap = sp->cap ? sp->cap * 2 : 8;
		sp->segs = xreallocarray(sp->segs, sp->cap, sizeof(*sp->segs));
	}
	seg = &sp->segs[sp->nsegs++];
	memset(seg, 0, sizeof(*seg));
	seg->seq = seq;
	if (seq >= sp->next_seq)
		sp->next_seq = seq + 1;
	return seg;
}

static int
spool_cmp_seq(const void *a, const void *b)
{
	uint64_t x = ((const struct spool_seg *)a)->seq, y = ((const struct spool_seg *)b)->seq;

	return x < y ? -1 : x > y;
}

static void
spool_unlink_seg(struct spool *sp, uint64_t seq)
{
	char *path = spool_path(sp, seq);

	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("spool unlink(%s)", path);
	free(path);
}

/* Finds the segments of an earlier run, checks them, drops empty ones. */
static int
spool_scan(struct spool *sp, char *err, size_t errlen)
{
	DIR		*d;
	struct dirent	*de;
	int		 i, j;

	if ((d = opendir(sp->dir)) == NULL) {
		snprintf(err, errlen, "opendir(%s): %s", sp->dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		uint64_t	seq;
		int		n = 0;

		if (sscanf(de->d_name, "cdr-%20" SCNu64 ".spool%n", &seq, &n) == 1 &&
		    n > 0 && de->d_name[n] == '\0')
			spool_add_seg(sp, seq);
	}
	closedir(d);
	if (sp->nsegs > 1)
		qsort(sp->segs, sp->nsegs, sizeof(*sp->segs), spool_cmp_seq);
	for (i = j = 0; i < sp->nsegs; i++) {
		if (spool_recover_seg(sp, &sp->segs[i]) == -1) {
			snprintf(err, errlen, "cannot read spool segment %" PRIu64 " in %s",
			    sp->segs[i].seq, sp->dir);
			return -1;
		}
		if (sp->segs[i].nrec == 0) {
			spool_unlink_seg(sp, sp->segs[i].seq);
			continue;
		}
		sp->pending += sp->segs[i].nrec;
		sp->segs[j++] = sp->segs[i];
	}
	sp->nsegs = j;
	return 0;
}

/* One process owns a spool directory: an exclusive flock() on it, held
 * until spool_close (the kernel drops it when the process dies). */
static int
spool_lock(struct spool *sp, char *err, size_t errlen)
{
	sp->dfd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dfd == -1) {
		snprintf(err, errlen, "open(%s): %s", sp->dir, strerror(errno));
		return -1;
	}
	if (flock(sp->dfd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, "spool directory %s is in use by another process "
		    "(flock: %s): two writers must not share a spool", sp->dir,
		    errno == EWOULDBLOCK ? "locked" : strerror(errno));
		return -1;
	}
	return 0;
}

struct spool *
spool_open(const char *dir, char *err, size_t errlen)
{
	struct spool *sp = xcalloc(1, sizeof(*sp));

	sp->dir = xstrdup(dir);
	sp->wfd = sp->rfd = sp->dfd = -1;
	if (spool_mkdirs(dir) == -1) {
		snprintf(err, errlen, "mkdir(%s): %s", dir, strerror(errno));
		spool_close(sp);
		return NULL;
	}
	if (spool_lock(sp, err, errlen) == -1) {
		spool_close(sp);
		return NULL;
	}
	if (spool_scan(sp, err, errlen) == -1) {
		spool_close(sp);
		return NULL;
	}
	log_info("[SPOOL] dir=%s segments=%d pending=%" PRIu64, dir, sp->nsegs, sp->pending);
	return sp;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->wfd != -1)
		close(sp->wfd);
	if (sp->rfd != -1)
		close(sp->rfd);
	if (sp->dfd != -1)
		close(sp->dfd);
	free(sp->segs);
	buf_free(&sp->buf);
	free(sp->dir);
	free(sp);
}

int
spool_append(struct spool *sp, const void *data, size_t len)
{
	unsigned char	hdr[SPOOL_HDR];

	if (len > SPOOL_MAX_RECORD)
		return -1;
	memcpy(hdr, SPOOL_MAGIC, 4);
	spool_put32(hdr + 4, (uint32_t)len);
	spool_put32(hdr + 8, spool_crc32(data, len));
	buf_reserve(&sp->buf, SPOOL_HDR + len);
	buf_add(&sp->buf, hdr, SPOOL_HDR);
	buf_add(&sp->buf, data, len);
	sp->bufrecs++;
	return 0;
}

/* The segment appends go to: the last one, unless it is full or was
 * written by an earlier run (those are only read). */
static int
spool_writable_seg(struct spool *sp)
{
	struct spool_seg	*last = sp->nsegs ? &sp->segs[sp->nsegs - 1] : NULL;
	char			*path;

	if (sp->wfd != -1 && last != NULL && last->size < SPOOL_SEGMENT_MAX)
		return 0;
	if (sp->wfd != -1)
		close(sp->wfd);
	sp->wfd = -1;
	path = spool_path(sp, sp->next_seq);
	sp->wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (sp->wfd == -1) {
		log_warn("spool open(%s)", path);
		free(path);
		return -1;
	}
	free(path);
	if (spool_fsync_dir(sp->dir) == -1)
		log_warn("spool fsync(%s)", sp->dir);
	spool_add_seg(sp, sp->next_seq);
	return 0;
}

int
spool_sync(struct spool *sp)
{
	struct spool_seg	*seg;
	size_t			 done = 0;

	if (sp->buf.len == 0)
		return 0;
	if (spool_writable_seg(sp) == -1)
		return -1;
	seg = &sp->segs[sp->nsegs - 1];
	while (done < sp->buf.len) {
		ssize_t n = write(sp->wfd, sp->buf.p + done, sp->buf.len - done);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	if (fdatasync(sp->wfd) == -1)
		goto fail;
	seg->size += sp->buf.len;
	seg->nrec += sp->bufrecs;
	sp->pending += sp->bufrecs;
	buf_reset(&sp->buf);
	sp->bufrecs = 0;
	return 0;
fail:
	{
		int saved = errno ? errno : EIO;

		/* never leave a partial record in front of later appends */
		if (ftruncate(sp->wfd, (off_t)seg->size) == -1)
			log_warn("spool ftruncate");
		errno = saved;
		return -1;
	}
}

size_t
spool_buffered(const struct spool *sp)
{
	return sp->bufrecs;
}

uint64_t
spool_pending(const struct spool *sp)
{
	return sp->pending;
}

static int
spool_read_fd(struct spool *sp, uint64_t seq)
{
	char *path;

	if (sp->rfd != -1 && sp->rseq == seq)
		return sp->rfd;
	if (sp->rfd != -1)
		close(sp->rfd);
	path = spool_path(sp, seq);
	if ((sp->rfd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		log_warn("spool open(%s)", path);
	free(path);
	sp->rseq = seq;
	return sp->rfd;
}

/*
 * A checksum failure on a record that was durable and good: the file was
 * damaged under us. The rest of the segment cannot be framed; it is
 * skipped (acknowledged) so that one bad sector cannot stop the queue.
 */
static void
spool_skip_rest(struct spool *sp, struct spool_seg *seg, uint64_t off, const char *why)
{
	log_errorx("[SPOOL_CORRUPT] segment=%" PRIu64 " offset=%" PRIu64 ": %s; "
	    "skipping %" PRIu64 " records", seg->seq, off, why, seg->nrec);
	sp->pending -= seg->nrec;
	seg->nrec = 0;
	seg->acked = seg->size;
}

int
spool_peek(struct spool *sp, int max, size_t max_bytes,
    void (*cb)(const char *, size_t, void *), void *arg, struct spool_mark *mark)
{
	size_t	 bytes = 0;
	int	 n = 0;

	memset(mark, 0, sizeof(*mark));
	for (int i = 0; i < sp->nsegs && n == 0; i++) {
		struct spool_seg	*seg = &sp->segs[i];
		uint64_t		 off = seg->acked;
		int			 fd;

		if (off == seg->size)
			continue;
		if ((fd = spool_read_fd(sp, seg->seq)) == -1)
			return -1;
		while (n < max && off < seg->size && (n == 0 || bytes < max_bytes)) {
			const char	*why = NULL;
			char		*payload;
			size_t		 len;
			int		 rc = spool_read_frame(fd, off, seg->size, &payload, &len, &why);

			if (rc == -2)
				return -1;
			if (rc <= 0) {
				spool_skip_rest(sp, seg, off, why ? why : "unexpected end");
				break;
			}
			cb(payload, len, arg);
			free(payload);
			off += SPOOL_HDR + len;
			bytes += len;
			n++;
		}
		mark->seq = seg->seq;
		mark->off = off;
		mark->nrec = n;
	}
	return n;
}

/* Drops acknowledged segments: older ones are unlinked, the one being
 * written is truncated to empty, so the spool does not grow while the DB
 * keeps up. */
static void
spool_release(struct spool *sp)
{
	int i, j;

	for (i = j = 0; i < sp->nsegs; i++) {
		struct spool_seg	*seg = &sp->segs[i];
		int			 writing = i == sp->nsegs - 1 && sp->wfd != -1;

		if (seg->acked < seg->size || seg->size == 0) {
			sp->segs[j++] = *seg;
			continue;
		}
		if (writing) {
			if (ftruncate(sp->wfd, 0) == -1)
				log_warn("spool ftruncate");
			seg->size = seg->acked = 0;
			sp->segs[j++] = *seg;
			continue;
		}
		if (sp->rfd != -1 && sp->rseq == seg->seq) {
			close(sp->rfd);
			sp->rfd = -1;
		}
		spool_unlink_seg(sp, seg->seq);
	}
	sp->nsegs = j;
}

void
spool_ack(struct spool *sp, const struct spool_mark *mark)
{
	for (int i = 0; i < sp->nsegs; i++) {
		struct spool_seg *seg = &sp->segs[i];

		if (seg->seq > mark->seq)
			break;
		if (seg->seq < mark->seq) {
			/* skipped past: only possible when those were acked */
			continue;
		}
		if (mark->off > seg->acked && mark->off <= seg->size) {
			seg->acked = mark->off;
			seg->nrec -= (uint64_t)mark->nrec <= seg->nrec ? (uint64_t)mark->nrec : seg->nrec;
			sp->pending -= (uint64_t)mark->nrec <= sp->pending ? (uint64_t)mark->nrec : sp->pending;
		}
	}
	spool_release(sp);
}

int
spool_reject(struct spool *sp, const void *data, size_t len)
{
	char	*path = xasprintf("%s/rejected.spool", sp->dir);
	int	 fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600), rc = -1;

	if (fd != -1) {
		unsigned char hdr[SPOOL_HDR];

		memcpy(hdr, SPOOL_MAGIC, 4);
		spool_put32(hdr + 4, (uint32_t)len);
		spool_put32(hdr + 8, spool_crc32(data, len));
		if (write(fd, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr) &&
		    write(fd, data, len) == (ssize_t)len && fdatasync(fd) == 0)
			rc = 0;
		close(fd);
	}
	if (rc == -1)
		log_warn("spool append(%s)", path);
	free(path);
	return rc;
}
