/*
 * dialog_store: the confirmed dialogs of holdfast-telephony, kept on disk
 * so that the replacement of a killed worker answers their BYEs (and
 * re-INVITEs) and completes their CDRs.
 *
 * One append-only file per instance, <spool dir>/dialogs.log, of records
 * framed as  "HFD1" | len (u32 LE) | crc32 (u32 LE) | payload:
 *  - CONFIRM: written when the ACK confirms a dialog; everything needed to
 *    recognise its in-dialog requests and to write its CDR;
 *  - END: written once the call's CDR is durable in the CDR spool (so a
 *    crash in between restores the dialog rather than losing its CDR; the
 *    CDR insert is idempotent on call_id, so a second CDR is a no-op).
 * A record cut short or failing its checksum (a write torn by kill -9)
 * ends the file: it is logged with [DIALOG_TORN] and ignored.
 *
 * Durability, decided: write() per record, no fsync. A worker crash
 * (kill -9, SIGSEGV, OOM kill) keeps everything write() returned in the
 * page cache, which is what this file is for. A host crash loses the UDP
 * socket and every call with it, so fsync would buy nothing but latency.
 *
 * Compaction: the file is truncated when no dialog is open, and rewritten
 * with only the open dialogs when it grows past DIALOG_STORE_COMPACT.
 *
 * The UAS never sends in-dialog requests (it answers them), so the remote
 * target and route set are not needed and not recorded.
 */
#ifndef HOLDFAST_DIALOG_STORE_H
#define HOLDFAST_DIALOG_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DIALOG_STORE_FILE	"dialogs.log"
#define DIALOG_STORE_COMPACT	(1024 * 1024)	/* rewrite past this size */

struct dialog_rec {
	const char		*call_id, *from_tag, *to_tag;	/* from_tag may be NULL */
	const char		*from_uri, *to_uri;
	const char		*remote;			/* "ip:port" */
	const char		*branch_key;			/* the INVITE's transaction */
	uint32_t		 cseq;				/* the INVITE's CSeq */
	struct sockaddr_storage	 dst;				/* where responses went */
	socklen_t		 dstlen;
	int64_t			 started_us, answered_us;	/* wall clock */
	int64_t			 confirmed_us;
};

struct dialog_store;

/* Opens (creating dir and file if needed) and reads the file. NULL with a
 * reason in err. */
struct dialog_store *dialog_store_open(const char *dir, char *err, size_t errlen);
void dialog_store_close(struct dialog_store *);

/* Calls cb for every dialog confirmed and not ended in the file as it was
 * opened; returns their number. The dialogs stay open in the store. */
int dialog_store_restore(struct dialog_store *,
    void (*cb)(const struct dialog_rec *, void *), void *arg);

/* Records a confirmed dialog now. */
void dialog_store_confirm(struct dialog_store *, const struct dialog_rec *);
/* Notes that a dialog ended; written by dialog_store_commit_ends, to be
 * called once the CDRs handed over so far are durable. */
void dialog_store_end(struct dialog_store *, const char *call_id, const char *to_tag);
void dialog_store_commit_ends(struct dialog_store *);

/* Dialogs open in the store. */
size_t dialog_store_open_count(const struct dialog_store *);

/* For tests: encodes a CONFIRM record (payload only). */
char *dialog_rec_encode(const struct dialog_rec *, size_t *len);

#endif
