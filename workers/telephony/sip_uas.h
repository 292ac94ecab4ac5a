/*
 * sip_uas: the SIP user agent server of holdfast-telephony over one UDP
 * socket: INVITE server transactions and dialogs (RFC 3261 §12, §13.3,
 * §17.2, RFC 6026), BYE, CANCEL, OPTIONS, and the stateless answers
 * (405, 481, 501, 503, 400). Every finished call is handed to the CDR sink.
 * Hostile traffic: per-source limits (sip_src.h), a stateless 503 over
 * max_calls, every call armed from its creation (sip_uas_check).
 *
 * Nothing here touches the database or waits for anything but the socket
 * and its own timers: a call's fate never depends on the DB's.
 */
#ifndef HOLDFAST_SIP_UAS_H
#define HOLDFAST_SIP_UAS_H

#include <stdint.h>
#include <event2/event.h>

struct cdr_sink;
struct dialog_rec;
struct dialog_store;
struct sip_uas;

/* What the config says (sip_t1, max_calls, sip_source_rate: > 0, their
 * defaults are the key rows'); 0 in the others picks the derived value. */
struct sip_uas_cfg {
	int64_t		 t1_ms;
	int64_t		 t2_ms;			/* 0: 8 * t1 */
	int64_t		 t4_ms;			/* 0: 10 * t1 */
	int64_t		 answer_after_ms;	/* ring time before the 200 */
	int		 max_calls;		/* active calls; 503 beyond */
	int		 rtp_port_min, rtp_port_max;
	int64_t		 dialog_idle_ms;	/* a confirmed call with no BYE ends; 0: 1h */
	int		 source_rate;		/* new INVITEs per source per second */
	int64_t		 dialog_restore_max_ms;	/* ... a restored one, counted from its ACK */
};

struct sip_uas_stats {
	uint64_t	 rx, tx, tx_errors, bad, dropped;
	uint64_t	 calls, answered, cancelled, no_ack, rejected;
	uint64_t	 active, objects;
	uint64_t	 over_capacity;		/* stateless 503: max_calls */
	uint64_t	 rate_limited;		/* stateless 503: sip_source_rate */
	uint64_t	 budget_drops;		/* not sent: unproven source's budget */
	uint64_t	 sources;		/* entries in the source table */
};

/* fd: a bound UDP socket (non-blocking). cdr may be NULL (tests). */
struct sip_uas *sip_uas_new(struct event_base *, int fd, const struct sip_uas_cfg *,
    struct cdr_sink *);
/* Stops reading; calls still active get their CDR (ended_by=shutdown). */
void sip_uas_stop(struct sip_uas *);
void sip_uas_free(struct sip_uas *);
void sip_uas_get_stats(const struct sip_uas *, struct sip_uas_stats *);
/* The invariant (every call object has a live timer; counters agree with
 * the tables): 0, or -1 with what disagrees in why. */
int sip_uas_check(const struct sip_uas *, char *why, size_t len);
/* To be called once the CDR sink made its buffered records durable:
 * sends the responses held back until then (see cdr.h). */
void sip_uas_on_cdr_sync(void *uas);

/* Confirmed dialogs are recorded in ds (and their end noted) from now on. */
void sip_uas_set_dialog_store(struct sip_uas *, struct dialog_store *);
/* Re-creates a dialog a previous process confirmed (dialog_store_restore):
 * its BYE gets 200 and its CDR, a re-INVITE what any dialog's gets; with
 * no BYE it ends dialog_restore_max after its ACK (ended_by=restored_timeout). */
void sip_uas_adopt_dialog(struct sip_uas *, const struct dialog_rec *);

#endif
