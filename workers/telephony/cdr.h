/*
 * cdr: call detail records of holdfast-telephony, and the sink that makes
 * them durable and stores them in the `calls` table.
 *
 * Durability, decided: every finished call's CDR goes to the spool first
 * (appended at once, fsync'd per batch: when cdr_batch records are waiting
 * or cdr_flush_ms after the first one), and only records already durable
 * in the spool are sent to the DB, in spool order, as one parameterised
 * INSERT ... SELECT FROM unnest(...) ON CONFLICT (cdr_id) DO NOTHING per
 * batch. cdr_id names one INVITE transaction (Call-ID, From tag, CSeq and
 * branch), so a Call-ID reused by a later transaction is a second CDR.
 * Records leave the spool only after the DB committed them. So:
 *  - a DB outage only makes the spool grow; [DB_RECOVERED] (db_when_up)
 *    replays it in order, in large batches;
 *  - a call is finished for its caller when the 200 to its BYE arrives,
 *    and sip_uas.c holds that 200 back until the sink reports the CDR's
 *    batch fsync'd (cdr_sink_set_on_sync): kill -9 can only lose CDRs of
 *    calls the caller has not seen end (group commit, like a DB's WAL);
 *  - a crash between COMMIT and the spool update replays records the DB
 *    already has; ON CONFLICT (cdr_id) makes that a no-op;
 *  - a batch the DB refuses as data (SQLSTATE class 22 or 23) is split in
 *    halves until the one bad record is alone; it goes to rejected.spool,
 *    and no other record waits more than one batch for it. Text columns
 *    are made valid UTF-8 and cut at CDR_TEXT_MAX bytes before that.
 * The call path never waits for any of this: cdr_sink_add only copies.
 */
#ifndef HOLDFAST_CDR_H
#define HOLDFAST_CDR_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

struct db;

enum cdr_disposition {
	CDR_ANSWERED = 0,
	CDR_CANCELLED,
	CDR_NO_ACK,
	CDR_REJECTED,
	CDR_FAILED,
};

struct cdr {
	const char	*cdr_id;		/* NULL: call_id (version-1 records) */
	const char	*call_id;
	const char	*from_uri, *to_uri;
	const char	*from_tag, *to_tag;	/* NULL allowed */
	const char	*remote_addr;		/* "127.0.0.1:5071" */
	int64_t		 started_us;		/* wall clock, µs since the epoch */
	int64_t		 answered_us;		/* 0: never answered */
	int64_t		 ended_us;
	enum cdr_disposition disposition;
	int		 sip_code;		/* final response code */
	const char	*hangup_cause;		/* Q.850 name: NORMAL_CLEARING, ... */
	const char	*ended_by;		/* recv_bye, recv_cancel, ack_timeout, ... */
};

#define CDR_NCOLS_V1	15
#define CDR_NCOLS	16		/* version 2: cdr_id last */
#define CDR_TEXT_MAX	256		/* bytes of one text column in the DB */
#define CDR_ID_LEN	32		/* hex digits */

const char *cdr_disposition_name(enum cdr_disposition);
/*
 * Encodes a CDR as one spool record: "2" then the 16 columns (15 of
 * `calls` in a fixed order, then cdr_id), tab-separated, PostgreSQL COPY
 * text escaping, \N for NULL; text is made valid UTF-8 and cut at
 * CDR_TEXT_MAX bytes. Returns a malloc'd buffer and its length.
 */
char *cdr_encode(const struct cdr *, size_t *len);
/* Splits a record into its columns (in place; cols point into buf).
 * Returns 0, or -1 when it is neither a version-1 record of 15 columns
 * (its cdr_id is then NULL) nor a version-2 record of 16. */
int cdr_decode(char *buf, size_t len, char *cols[CDR_NCOLS]);
/* Copies s into out (CDR_TEXT_MAX + 1 bytes) as valid UTF-8 (each byte
 * of an invalid sequence becomes '?'), cut at a character boundary
 * within CDR_TEXT_MAX bytes. Returns out. */
char *cdr_text_clean(const char *s, char *out);
/* The identity of the CDR of one INVITE transaction: 32 hex digits. */
void cdr_make_id(char out[CDR_ID_LEN + 1], const char *call_id, const char *from_tag,
    unsigned cseq, const char *branch);

struct cdr_sink;

/* db may be NULL (no DB configured): records only accumulate in the spool. */
struct cdr_sink *cdr_sink_new(struct event_base *, struct db *, const char *spool_dir,
    int batch, int64_t flush_ms);
void cdr_sink_free(struct cdr_sink *);
/* cb runs after each attempt to make buffered records durable (success or
 * not: a failing disk must not stop calls; the records stay buffered). */
void cdr_sink_set_on_sync(struct cdr_sink *, void (*cb)(void *), void *arg);
void cdr_sink_add(struct cdr_sink *, const struct cdr *);
/*
 * Moves every record of the spool in dir (one no configured instance owns
 * any more) into this sink's spool, durably, then removes what is left of
 * it when it is empty; logged [CDR_ORPHAN]. Returns the number of records
 * adopted, or -1 (logged) when dir cannot be opened (in use, say).
 */
long cdr_sink_adopt(struct cdr_sink *, const char *dir);
/* Records handed over but not yet durable. */
size_t cdr_sink_buffered(const struct cdr_sink *);
/* Makes buffered records durable now and starts a DB insert if possible. */
void cdr_sink_flush(struct cdr_sink *);
/* For SIGTERM: flush, give an insert in flight up to timeout_ms, then call
 * done. Whatever is not committed stays in the spool for the next start. */
void cdr_sink_shutdown(struct cdr_sink *, int64_t timeout_ms, void (*done)(void *), void *arg);

struct cdr_stats {
	uint64_t	added, stored, replayed, rejected, sync_failures;
	uint64_t	duplicates;	/* sent, already in the DB (a replay) */
	uint64_t	pending;	/* durable, not yet in the DB */
};
void cdr_sink_stats(const struct cdr_sink *, struct cdr_stats *);

#endif
