/*
 * spool: a durable, append-only queue of records on disk (the CDR spool of
 * holdfast-telephony), in segment files dir/cdr-<seq>.spool.
 *
 * A record is framed as  "HFS1" | len (u32 LE) | crc32 (u32 LE) | payload.
 * Appends are buffered and made durable together by spool_sync() (write
 * then fdatasync; the directory is fsync'd when a segment is created), so
 * one fsync covers a batch. Readers take records in order from the oldest
 * one not yet acknowledged (spool_peek) and acknowledge them (spool_ack)
 * only once they are safely elsewhere (committed to the DB): a segment is
 * truncated (the current one) or unlinked (an older one) only when every
 * record in it has been acknowledged. A crash between commit and ack
 * replays records, so consumers must be idempotent.
 *
 * spool_open() checks every segment: a record cut short or failing its
 * checksum ends the segment; that tail (a write torn by a crash or power
 * cut) is logged with [SPOOL_TORN] and cut off, and the records before it
 * are kept. Not thread-safe; one process owns a spool directory:
 * spool_open takes an exclusive flock() on it and a second opener fails
 * with a clear reason.
 */
#ifndef HOLDFAST_SPOOL_H
#define HOLDFAST_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_MAX_RECORD	(64 * 1024)
#define SPOOL_SEGMENT_MAX	(4 * 1024 * 1024)	/* rotate past this size */

struct spool;

/* Where spool_peek stopped; pass it back to spool_ack. */
struct spool_mark {
	uint64_t	seq;
	uint64_t	off;
	int		nrec;
};

/* Opens (creating dir if needed) and recovers. NULL with a reason in err. */
struct spool *spool_open(const char *dir, char *err, size_t errlen);
void spool_close(struct spool *);

/* Buffers a record; it is durable only after spool_sync. A record over
 * SPOOL_MAX_RECORD is refused (-1, nothing buffered): a reader could not
 * tell it from a torn frame. */
int spool_append(struct spool *, const void *data, size_t len);
/* Writes and fdatasyncs the buffered records. 0, or -1 with errno (the
 * records stay buffered and the file is left as it was). */
int spool_sync(struct spool *);
/* Records appended but not yet synced. */
size_t spool_buffered(const struct spool *);
/* Durable records not yet acknowledged. */
uint64_t spool_pending(const struct spool *);

/*
 * Calls cb for up to max durable, unacknowledged records in order (at most
 * max_bytes of payload, but always at least one), and sets *mark past the
 * last one. Returns the number of records, 0 when none, -1 on a read error.
 * A record that fails its checksum here (the disk changed under us) is
 * logged and skipped.
 */
int spool_peek(struct spool *, int max, size_t max_bytes,
    void (*cb)(const char *data, size_t len, void *arg), void *arg,
    struct spool_mark *mark);
/* Acknowledges every record up to mark; frees segments fully acknowledged. */
void spool_ack(struct spool *, const struct spool_mark *);
/* Appends one record to dir/rejected.spool (records the DB refused). */
int spool_reject(struct spool *, const void *data, size_t len);

uint32_t spool_crc32(const void *data, size_t len);

#endif
