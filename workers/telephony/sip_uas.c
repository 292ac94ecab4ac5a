/*
 * sip_uas: calls over UDP. See sip_uas.h.
 *
 * One struct sip_call is both the INVITE server transaction and the
 * dialog it creates (a UAS that answers every call itself has exactly one
 * dialog per INVITE). It is found by the top Via branch of the INVITE
 * (retransmissions, CANCEL, ACK of a non-2xx) and by its dialog
 * (ACK of the 2xx, BYE, re-INVITE): one key of Call-ID, From tag
 * and To tag, so calls sharing a Call-ID never share a hash chain (the
 * tables hash with SipHash under a random key). States:
 *
 *   TRYING    -> created: armed for 64*T1 at once, so a call whose answer
 *                cannot be decided ends (never leaks a max_calls slot)
 *   RINGING   -> 180 sent, the 200 comes after answer_after (with
 *                answer_after = 0 the 200 goes at once, nothing before it)
 *   ACCEPTED  -> 200 sent, resent at T1 doubling to T2 until the ACK,
 *                ended without one after 64*T1 (NO_ACK)
 *   CONFIRMED -> ACK received; the call runs until BYE (or dialog_idle);
 *                recorded in the dialog store, if set, so a successor
 *                started after a crash adopts it (sip_uas_adopt_dialog)
 *   COMPLETED -> a non-2xx final (487, 488) sent, resent on Timer G
 *                until its ACK or Timer H
 *   ENDED     -> kept 64*T1 so late retransmissions of the INVITE are
 *                absorbed (RFC 6026 Timer L) instead of starting a second
 *                call; then freed
 *
 * The CDR is produced exactly once per call, when its outcome is known
 * (cdr_done). BYE and CANCEL get short-lived non-INVITE transactions so a
 * retransmitted request gets the same answer (Timer J). Every object is
 * freed by its own timer, so memory is bounded by rate x 64*T1;
 * sip_uas_check() verifies that invariant (every object has a live timer,
 * the counters agree with the tables).
 *
 * Hostile sources (sip_src.h): new INVITEs per source are rate-limited,
 * over max_calls or over the rate the answer is a stateless 503 (no call
 * object, never retransmitted), and every datagram we send is counted
 * against the byte budget of the source whose request it answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <event2/event_struct.h>
#include <unistd.h>

#include "cdr.h"
#include "dialog_store.h"
#include "log.h"
#include "sip_msg.h"
#include "sip_src.h"
#include "sip_uas.h"
#include "siphash.h"
#include "util.h"

#define SIP_RECV_BURST		128	/* datagrams per wakeup */
/* any legal request's echoed headers fit, with our own headers and SDP */
#define SIP_RESP_MAX		(SIP_MAX_MSG + 4096)
#define SIP_ALLOW		"INVITE, ACK, BYE, CANCEL, OPTIONS"
#define SIP_OBJECTS_PER_CALL	8	/* hard cap on objects, x max_calls, */
#define SIP_OBJECTS_MIN		262144	/* but never below this (tombstones) */

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

/* ---- a small chained hash table over intrusive nodes ---- */

struct ht_node {
	struct ht_node	*next;
	uint32_t	 hash;
	const char	*key;
};

struct ht {
	struct ht_node	**b;
	size_t		 nb, n;
	uint8_t		 key[SIPHASH_KEY_LEN];	/* random: keys cannot be aimed at a bucket */
};

static uint32_t
ht_hash(const struct ht *t, const char *s)
{
	return (uint32_t)siphash24(t->key, s, strlen(s));
}

static void
ht_grow(struct ht *t)
{
	size_t		 nb = t->nb ? t->nb * 2 : 1024;
	struct ht_node	**b = xcalloc(nb, sizeof(*b));

	for (size_t i = 0; i < t->nb; i++) {
		struct ht_node *n, *next;

		for (n = t->b[i]; n != NULL; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

static void
ht_insert(struct ht *t, struct ht_node *n, const char *key)
{
	if (t->n >= t->nb)
		ht_grow(t);
	n->key = key;
	n->hash = ht_hash(t, key);
	n->next = t->b[n->hash & (t->nb - 1)];
	t->b[n->hash & (t->nb - 1)] = n;
	t->n++;
}

static void
ht_remove(struct ht *t, struct ht_node *n)
{
	struct ht_node **pp = &t->b[n->hash & (t->nb - 1)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			t->n--;
			return;
		}
}

/* First node with key after prev (NULL: from the start). */
static struct ht_node *
ht_next(const struct ht *t, const char *key, uint32_t h, struct ht_node *prev)
{
	struct ht_node *n;

	if (t->nb == 0)
		return NULL;
	n = prev != NULL ? prev->next : t->b[h & (t->nb - 1)];
	for (; n != NULL; n = n->next)
		if (n->hash == h && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

/* ---- objects ---- */

/* Where a request's responses go, and the source it came from (whose
 * byte budget they are counted against: see sip_src.h). */
struct sip_dst {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	struct sockaddr_storage	 src;
	socklen_t		 srclen;
};

enum call_state {
	CALL_TRYING,		/* created, no final answer decided yet */
	CALL_RINGING,
	CALL_ACCEPTED,
	CALL_CONFIRMED,
	CALL_COMPLETED,
	CALL_ENDED,
};

struct sip_call {
	struct ht_node		 by_branch, by_callid;
	struct sip_uas		*uas;
	struct event		 timer;
	enum call_state		 state;
	int			 cdr_done;
	int			 restored;		/* adopted from the dialog store */
	int			 held;			/* a response of ours waits in u->held */
	char			*branch_key;
	char			*call_id, *from_uri, *to_uri, *from_tag, *to_tag;
	char			*dialog_key;		/* Call-ID, From tag, To tag */
	char			*remote;		/* "ip:port" */
	struct sip_dst		 dst;			/* where responses go */
	unsigned		 cseq;
	char			*resp;			/* last response, for resending */
	int			 resp_len;
	int			 final_code;
	int64_t			 retrans_ms;
	uint64_t		 deadline_ms;		/* Timer H / give-up, monotonic */
	int64_t			 started_us, answered_us;
	int64_t			 restored_end_us;	/* real clock: ACK + restore max */
};

struct sip_txn {
	struct ht_node		 node;
	struct sip_uas		*uas;
	struct event		 timer;
	char			*key;
	char			*resp;
	int			 resp_len;
	struct sip_dst		 dst;
};

/* A response waiting for the CDR batch it depends on to be durable. */
struct sip_held {
	struct sip_held		*next;
	struct sip_dst		 dst;
	int			 len;
	char			 buf[];
};

struct sip_uas {
	struct event_base	*base;
	int			 fd;
	struct event		*ev_read;
	struct sip_uas_cfg	 cfg;
	struct cdr_sink		*cdr;
	struct dialog_store	*ds;			/* NULL: dialogs not kept */
	struct ht		 calls_by_branch, calls_by_callid, txns;
	struct sip_held		*held, **held_tail;
	char			 local_ip[INET6_ADDRSTRLEN];
	int			 local_port, local_any;
	int			 next_port;
	uint8_t			 rnd[256];	/* getrandom() output not used yet */
	size_t			 rnd_used;
	struct sip_srcs		*srcs;
	struct sip_src		*cur_src;	/* the datagram's source */
	struct log_ratelimit	 bad_log, limit_log;
	uint64_t		 held_n;
	struct sip_uas_stats	 st;
	/* the datagram being handled */
	char			 src_ip[INET6_ADDRSTRLEN];
	int			 src_port;
	struct sockaddr_storage	 src;
	socklen_t		 srclen;
};

/* Tags and branch ids are unguessable: one must not reveal the next
 * (a To tag is what proves a peer real, see sip_src.h). */
static uint64_t
sip_rand(struct sip_uas *u)
{
	uint64_t v;

	if (u->rnd_used + sizeof(v) > sizeof(u->rnd)) {
		if (getrandom(u->rnd, sizeof(u->rnd), 0) != (ssize_t)sizeof(u->rnd))
			fatal("getrandom");
		u->rnd_used = 0;
	}
	memcpy(&v, u->rnd + u->rnd_used, sizeof(v));
	u->rnd_used += sizeof(v);
	return v;
}

static void
sip_tag(struct sip_uas *u, char *out, size_t len)
{
	snprintf(out, len, "%016" PRIx64, sip_rand(u));
}

static void
sip_dst_for(struct sip_uas *u, const struct sip_msg *m, struct sip_dst *d)
{
	int port = sip_response_port(m, u->src_port);

	d->ss = u->src;
	d->len = u->srclen;
	d->src = u->src;
	d->srclen = u->srclen;
	if (d->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&d->ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&d->ss)->sin6_port = htons(port);
}

static void
sip_send(struct sip_uas *u, const struct sip_dst *d, const char *buf, int n)
{
	struct sip_src *src = sip_srcs_get(u->srcs, (const struct sockaddr *)&d->src,
	    d->srclen, hf_now_mono_ms());

	if (!sip_src_may_send(src, (size_t)n)) {
		u->st.budget_drops++;	/* an unproven source: no amplification */
		return;
	}
	if (sendto(u->fd, buf, n, 0, (const struct sockaddr *)&d->ss, d->len) == n)
		u->st.tx++;
	else
		u->st.tx_errors++;	/* a full buffer: the retransmission covers it */
}

static void
sip_log_bad(struct sip_uas *u, const char *what, const char *why)
{
	u->st.bad++;
	if (log_ratelimit_ok(&u->bad_log))
		log_warnx("[SIP_BAD] from=%s:%d %s: %s", u->src_ip, u->src_port, what, why);
}

/*
 * A 500 from the mandatory headers only (top Via, From, To, Call-ID,
 * CSeq): for a request whose full answer did not fit. -1 when even that
 * does not (it always does: each header is within SIP_MAX_MSG).
 */
static int
sip_build_minimal(struct sip_uas *u, const struct sip_msg *m, const char *to_tag, char *out)
{
	struct sip_msg	tmp = *m;
	struct sip_resp	r = { .code = 500, .to_tag = to_tag };

	tmp.nvia = 1;
	return sip_build_response(out, SIP_RESP_MAX, &tmp, u->src_ip, u->src_port, &r);
}

/*
 * Builds and sends a response to m. Returns the length (the response is
 * left in out for the caller to keep), or -1 when it did not fit and a
 * minimal 500 was sent instead (or nothing could be).
 */
static int
sip_respond(struct sip_uas *u, const struct sip_msg *m, const struct sip_resp *r,
    char *out, const struct sip_dst *dst)
{
	int n = sip_build_response(out, SIP_RESP_MAX, m, u->src_ip, u->src_port, r);

	if (n < 0) {
		sip_log_bad(u, "response too large, answered 500", m->call_id);
		if ((n = sip_build_minimal(u, m, r->to_tag, out)) > 0)
			sip_send(u, dst, out, n);
		return -1;
	}
	sip_send(u, dst, out, n);
	return n;
}

/* A response no state is kept for: a retransmission gets a new one. */
static void
sip_respond_stateless(struct sip_uas *u, const struct sip_msg *m, int code, const char *extra)
{
	struct sip_resp	 r = { .code = code, .extra = extra };
	struct sip_dst	 dst;
	static char	 out[SIP_RESP_MAX];
	char		 tag[24];

	if (code > 100) {
		sip_tag(u, tag, sizeof(tag));
		r.to_tag = tag;
	}
	sip_dst_for(u, m, &dst);
	(void)sip_respond(u, m, &r, out, &dst);
}

/* ---- held responses (group commit with the CDR spool) ---- */

/*
 * How a response may leave. AFTER_SYNC: it announces the end of a call,
 * so it waits for CDRs not yet on disk (the one it depends on was always
 * handed over before). AFTER_HELD: it keeps its place behind what is
 * held, so a Timer G resend of a 487 never overtakes the held 200 to the
 * CANCEL. NOW: nothing of this call is held; other calls' held answers
 * never delay it.
 */
enum sip_when {
	SIP_NOW,
	SIP_AFTER_HELD,
	SIP_AFTER_SYNC,
};

static void
sip_send_ordered(struct sip_uas *u, const struct sip_dst *dst, const char *buf, int n,
    enum sip_when when)
{
	struct sip_held *h;

	if (u->cdr == NULL || when == SIP_NOW || (u->held == NULL &&
	    (when == SIP_AFTER_HELD || cdr_sink_buffered(u->cdr) == 0))) {
		sip_send(u, dst, buf, n);
		return;
	}
	h = xmalloc(sizeof(*h) + n);
	h->next = NULL;
	h->dst = *dst;
	h->len = n;
	memcpy(h->buf, buf, n);
	*u->held_tail = h;
	u->held_tail = &h->next;
}

static void
sip_hold(struct sip_uas *u, const struct sip_dst *dst, const char *buf, int n)
{
	sip_send_ordered(u, dst, buf, n, SIP_AFTER_SYNC);
}

void
sip_uas_on_cdr_sync(void *arg)
{
	struct sip_uas	*u = arg;
	struct sip_held	*h, *next;

	for (h = u->held; h != NULL; h = next) {
		next = h->next;
		sip_send(u, &h->dst, h->buf, h->len);
		free(h);
	}
	u->held = NULL;
	u->held_tail = &u->held;
}

/* ---- timers ---- */

static void
sip_timer_ms(struct event *ev, int64_t ms)
{
	struct timeval tv;

	if (ms < 1)
		ms = 1;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

static int64_t
sip_t2(const struct sip_uas *u)
{
	return u->cfg.t2_ms;
}

static int64_t
sip_64t1(const struct sip_uas *u)
{
	return 64 * u->cfg.t1_ms;
}

/* ---- non-INVITE transactions (BYE, CANCEL): Timer J ---- */

static void
sip_txn_free(struct sip_txn *t)
{
	ht_remove(&t->uas->txns, &t->node);
	event_del(&t->timer);
	free(t->key);
	free(t->resp);
	free(t);
}

static void
sip_txn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	sip_txn_free(arg);
}

static char *
sip_txn_key(const struct sip_msg *m)
{
	const struct sip_via *v = &m->top_via;

	if (v->branch != NULL && strncmp(v->branch, "z9hG4bK", 7) == 0)
		return xasprintf("%s|%s:%d|%s", v->branch, v->host, v->port, m->cseq_method_name);
	/* RFC 2543 clients: no magic cookie (§17.2.3 falls back to this) */
	return xasprintf("%s|%s|%u|%s|%s:%d", m->call_id, m->from.tag ? m->from.tag : "",
	    m->cseq, m->cseq_method_name, v->host, v->port);
}

static struct sip_txn *
sip_txn_find(struct sip_uas *u, const char *key)
{
	struct ht_node *n = ht_next(&u->txns, key, ht_hash(&u->txns, key), NULL);

	return n != NULL ? container_of(n, struct sip_txn, node) : NULL;
}

/* Keeps resp as the answer to retransmissions of m for 64*T1. */
static void
sip_txn_keep(struct sip_uas *u, const struct sip_msg *m, const struct sip_dst *dst,
    const char *resp, int n)
{
	struct sip_txn *t = xcalloc(1, sizeof(*t));

	t->uas = u;
	t->key = sip_txn_key(m);
	t->resp = xmalloc(n);
	memcpy(t->resp, resp, n);
	t->resp_len = n;
	t->dst = *dst;
	ht_insert(&u->txns, &t->node, t->key);
	evtimer_assign(&t->timer, u->base, sip_txn_on_timer, t);
	sip_timer_ms(&t->timer, sip_64t1(u));
}

/* 1 when m retransmits a transaction we answered (and it was answered again). */
static int
sip_txn_retransmit(struct sip_uas *u, const struct sip_msg *m)
{
	char		*key = sip_txn_key(m);
	struct sip_txn	*t = sip_txn_find(u, key);

	free(key);
	if (t == NULL)
		return 0;
	sip_send_ordered(u, &t->dst, t->resp, t->resp_len, SIP_AFTER_HELD);
	return 1;
}

/* ---- calls ---- */

static void sip_call_on_timer(evutil_socket_t, short, void *);

static void
sip_call_free(struct sip_call *c)
{
	struct sip_uas *u = c->uas;

	ht_remove(&u->calls_by_branch, &c->by_branch);
	if (c->state != CALL_ENDED)	/* ended calls left the dialog index */
		ht_remove(&u->calls_by_callid, &c->by_callid);
	event_del(&c->timer);
	if (!c->cdr_done && u->st.active > 0)
		u->st.active--;
	u->st.objects--;
	free(c->branch_key);
	free(c->call_id);
	free(c->from_uri);
	free(c->to_uri);
	free(c->from_tag);
	free(c->to_tag);
	free(c->remote);
	free(c->dialog_key);
	free(c->resp);
	free(c);
}

static void
sip_call_set_resp(struct sip_call *c, const char *buf, int n)
{
	free(c->resp);
	c->resp = xmalloc(n);
	memcpy(c->resp, buf, n);
	c->resp_len = n;
}

static void
sip_call_resend(struct sip_call *c)
{
	/* only this call's own held response must not be overtaken; other
	 * calls' held answers never delay a 200 */
	if (c->resp != NULL)
		sip_send_ordered(c->uas, &c->dst, c->resp, c->resp_len,
		    c->held ? SIP_AFTER_HELD : SIP_NOW);
}

/* The call's outcome is known: hand its CDR over, exactly once. */
static void
sip_call_cdr(struct sip_call *c, enum cdr_disposition disp, int code,
    const char *cause, const char *ended_by)
{
	struct sip_uas	*u = c->uas;
	struct cdr	 r;
	char		 id[CDR_ID_LEN + 1];

	if (c->cdr_done)
		return;
	c->cdr_done = 1;
	u->st.active--;
	if (c->state == CALL_CONFIRMED && u->ds != NULL)	/* dialog store hook */
		dialog_store_end(u->ds, c->call_id, c->to_tag);
	switch (disp) {
	case CDR_ANSWERED: u->st.answered++; break;
	case CDR_CANCELLED: u->st.cancelled++; break;
	case CDR_NO_ACK: u->st.no_ack++; break;
	default: u->st.rejected++; break;
	}
	if (u->cdr == NULL)
		return;
	memset(&r, 0, sizeof(r));
	/* one CDR per INVITE transaction, whatever its Call-ID */
	cdr_make_id(id, c->call_id, c->from_tag, c->cseq, c->branch_key);
	r.cdr_id = id;
	r.call_id = c->call_id;
	r.from_uri = c->from_uri;
	r.to_uri = c->to_uri;
	r.from_tag = c->from_tag;
	r.to_tag = c->to_tag;
	r.remote_addr = c->remote;
	r.started_us = c->started_us;
	r.answered_us = c->answered_us;
	r.ended_us = hf_now_real_us();
	r.disposition = disp;
	r.sip_code = code;
	r.hangup_cause = cause;
	r.ended_by = ended_by;
	cdr_sink_add(u->cdr, &r);
}

/*
 * What is left of an ended call is a tombstone for its INVITE branch (so
 * late INVITE copies are absorbed, not a second call) and its To tag: the
 * dialog is gone (a BYE now gets 481), and so is everything else.
 */
static void
sip_call_shrink(struct sip_call *c)
{
	c->state = CALL_ENDED;
	ht_remove(&c->uas->calls_by_callid, &c->by_callid);
	free(c->resp);
	free(c->call_id);
	free(c->from_uri);
	free(c->to_uri);
	free(c->from_tag);
	free(c->remote);
	free(c->dialog_key);
	c->resp = c->call_id = c->from_uri = c->to_uri = c->from_tag = c->remote = NULL;
	c->dialog_key = NULL;
}

/* Keeps an ended call only long enough to absorb late retransmissions. */
static void
sip_call_end(struct sip_call *c)
{
	sip_call_shrink(c);
	sip_timer_ms(&c->timer, sip_64t1(c->uas));
}

/* A final non-2xx to the INVITE: resent on Timer G until ACK or Timer H. */
static void
sip_call_final_error(struct sip_call *c, const char *buf, int n, int code)
{
	sip_call_set_resp(c, buf, n);
	c->final_code = code;
	c->state = CALL_COMPLETED;
	c->retrans_ms = c->uas->cfg.t1_ms;
	c->deadline_ms = hf_now_mono_ms() + sip_64t1(c->uas);
	sip_timer_ms(&c->timer, c->retrans_ms);
}

/* Resends the last response at T1, 2*T1, ... capped at T2; 1 when the
 * give-up deadline has passed instead. */
static int
sip_call_retransmit(struct sip_call *c)
{
	uint64_t now = hf_now_mono_ms();

	if (now >= c->deadline_ms)
		return 1;
	sip_call_resend(c);
	c->retrans_ms *= 2;
	if (c->retrans_ms > sip_t2(c->uas))
		c->retrans_ms = sip_t2(c->uas);
	sip_timer_ms(&c->timer, (int64_t)(c->deadline_ms - now) < c->retrans_ms ?
	    (int64_t)(c->deadline_ms - now) : c->retrans_ms);
	return 0;
}

static void sip_call_answer(struct sip_call *);

/*
 * A restored call's limit is counted on the real clock from its ACK, which
 * its predecessor wrote down; libevent's timers run on a coarse monotonic
 * clock that may fire a few milliseconds before the real clock gets there.
 * Such an early wake-up re-arms for the rest.
 */
static int
sip_call_restored_early(struct sip_call *c)
{
	int64_t left_us = c->restored ? c->restored_end_us - hf_now_real_us() : 0;

	if (left_us <= 0)
		return 0;
	sip_timer_ms(&c->timer, (left_us + 999) / 1000);
	return 1;
}

static void
sip_call_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sip_call *c = arg;

	if (c->state == CALL_ENDED) {
		sip_call_free(c);
		return;
	}
	switch (c->state) {
	case CALL_TRYING:
		/* no answer could be decided for it: it ends, never leaks */
		sip_call_cdr(c, CDR_FAILED, 500, "RECOVERY_ON_TIMER_EXPIRE", "no_answer");
		sip_call_end(c);
		break;
	case CALL_RINGING:
		sip_call_answer(c);
		break;
	case CALL_ACCEPTED:
		if (sip_call_retransmit(c)) {
			/* §13.3.1.4: no ACK within 64*T1, the call is over */
			sip_call_cdr(c, CDR_NO_ACK, 200, "RECOVERY_ON_TIMER_EXPIRE", "ack_timeout");
			sip_call_end(c);
		}
		break;
	case CALL_CONFIRMED:
		if (sip_call_restored_early(c))
			break;
		sip_call_cdr(c, CDR_ANSWERED, 200, "RECOVERY_ON_TIMER_EXPIRE",
		    c->restored ? "restored_timeout" : "idle_timeout");
		sip_call_end(c);
		break;
	case CALL_COMPLETED:
		if (sip_call_retransmit(c))
			sip_call_end(c);
		break;
	case CALL_ENDED:
		break;
	}
	/* Every call object has a live timer: a fired one is re-armed or the
	 * call is freed, so no call can leak. */
	HF_ASSERT(evtimer_pending(&c->timer, NULL));
}

/* ---- INVITE ---- */

struct sip_invite_ctx {
	const struct sip_msg	*m;
	struct sip_dst		 dst;
};

static int
sip_media_port(struct sip_uas *u)
{
	int lo = u->cfg.rtp_port_min, hi = u->cfg.rtp_port_max, p;

	if (u->next_port < lo || u->next_port > hi)
		u->next_port = lo;
	p = u->next_port;
	u->next_port += 2;	/* RTP on even ports, RTCP next to it */
	return p;
}

/* The address for SDP and Contact: ours, or the one the caller used. */
static const char *
sip_local_ip(struct sip_uas *u, const struct sip_msg *m, char *buf, size_t len)
{
	const char	*h;
	size_t		 n;
	unsigned char	 tmp[16];

	if (!u->local_any)
		return u->local_ip;
	h = strchr(m->ruri, '@') ? strchr(m->ruri, '@') + 1 : strchr(m->ruri, ':') + 1;
	n = strcspn(h, ":;>?");
	if (n > 0 && n < len) {
		memcpy(buf, h, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET, buf, tmp) == 1)
			return buf;
	}
	return u->src.ss_family == AF_INET ? "127.0.0.1" : "::1";
}

static void
sip_call_answer(struct sip_call *c)
{
	/* the 200 was built at INVITE time (it needs the request); see
	 * sip_invite_new: c->resp holds it until now */
	struct sip_uas *u = c->uas;

	c->state = CALL_ACCEPTED;
	c->answered_us = hf_now_real_us();
	c->final_code = 200;
	c->retrans_ms = u->cfg.t1_ms;
	c->deadline_ms = hf_now_mono_ms() + sip_64t1(u);
	sip_call_resend(c);
	sip_timer_ms(&c->timer, c->retrans_ms);
}

/* The dialog index key: Call-ID, From tag, To tag, so requests sharing a
 * Call-ID (legally or not) never share a chain. */
static char *
sip_dialog_key(const char *call_id, const char *from_tag, const char *to_tag)
{
	return xasprintf("%s\n%s\n%s", call_id, from_tag != NULL ? from_tag : "",
	    to_tag != NULL ? to_tag : "");
}

/*
 * A new call has its timer from the start (state TRYING, 64*T1): whatever
 * happens to its answer, the timer ends it.
 */
static struct sip_call *
sip_call_new(struct sip_uas *u, const struct sip_msg *m, const struct sip_dst *dst)
{
	struct sip_call	*c = xcalloc(1, sizeof(*c));
	char		 tag[24];

	c->uas = u;
	c->branch_key = sip_txn_key(m);
	c->call_id = xstrdup(m->call_id);
	c->from_uri = xstrdup(m->from.uri);
	c->to_uri = xstrdup(m->to.uri);
	c->from_tag = m->from.tag ? xstrdup(m->from.tag) : NULL;
	sip_tag(u, tag, sizeof(tag));
	c->to_tag = xstrdup(tag);
	c->dialog_key = sip_dialog_key(c->call_id, c->from_tag, c->to_tag);
	c->cseq = m->cseq;
	c->remote = xasprintf(strchr(u->src_ip, ':') ? "[%s]:%d" : "%s:%d", u->src_ip, u->src_port);
	c->dst = *dst;
	c->started_us = hf_now_real_us();
	c->state = CALL_TRYING;
	evtimer_assign(&c->timer, u->base, sip_call_on_timer, c);
	sip_timer_ms(&c->timer, sip_64t1(u));
	/* the branch index covers the INVITE key; ACK/CANCEL map to it */
	ht_insert(&u->calls_by_branch, &c->by_branch, c->branch_key);
	ht_insert(&u->calls_by_callid, &c->by_callid, c->dialog_key);
	u->st.calls++;
	u->st.active++;
	u->st.objects++;
	return c;
}

/* The INVITE transaction key for an ACK or CANCEL of the same branch. */
static struct sip_call *
sip_call_by_branch(struct sip_uas *u, const struct sip_msg *m)
{
	struct sip_msg	 tmp = *m;
	char		*key;
	struct ht_node	*n;

	tmp.cseq_method_name = "INVITE";
	key = sip_txn_key(&tmp);
	n = ht_next(&u->calls_by_branch, key, ht_hash(&u->calls_by_branch, key), NULL);
	free(key);
	return n != NULL ? container_of(n, struct sip_call, by_branch) : NULL;
}

/* The dialog of an in-dialog request: Call-ID, remote tag, our tag. */
static struct sip_call *
sip_call_by_dialog(struct sip_uas *u, const struct sip_msg *m)
{
	char		*key;
	struct ht_node	*n;

	if (m->to.tag == NULL)
		return NULL;
	key = sip_dialog_key(m->call_id, m->from.tag, m->to.tag);
	n = ht_next(&u->calls_by_callid, key, ht_hash(&u->calls_by_callid, key), NULL);
	free(key);
	return n != NULL ? container_of(n, struct sip_call, by_callid) : NULL;
}

static int
sip_build_ok(struct sip_uas *u, struct sip_call *c, const struct sip_msg *m, char *out)
{
	char		 sdp[1024], ipbuf[64], contact[256];
	const char	*ip = sip_local_ip(u, m, ipbuf, sizeof(ipbuf));
	int		 n;
	struct sip_resp	 r = { .code = 200, .to_tag = c->to_tag, .body = sdp };

	n = sip_sdp_answer(sdp, sizeof(sdp), m->body_len ? m->body : NULL, m->body_len,
	    ip, sip_media_port(u), sip_rand(u) >> 20);
	if (n <= 0)
		return n;
	r.body_len = (size_t)n;
	snprintf(contact, sizeof(contact),
	    strchr(ip, ':') ? "Contact: <sip:holdfast@[%s]:%d>\r\nAllow: " SIP_ALLOW
	    "\r\nContent-Type: application/sdp\r\n" :
	    "Contact: <sip:holdfast@%s:%d>\r\nAllow: " SIP_ALLOW
	    "\r\nContent-Type: application/sdp\r\n", ip, u->local_port);
	r.extra = contact;
	return sip_build_response(out, SIP_RESP_MAX, m, u->src_ip, u->src_port, &r);
}

/* A final error to a new INVITE: the call exists only to get its ACK and
 * its CDR. */
static void
sip_invite_reject(struct sip_call *c, const struct sip_msg *m, const struct sip_dst *dst,
    int code, const char *cause, const char *extra)
{
	struct sip_resp	r = { .code = code, .to_tag = c->to_tag, .extra = extra };
	static char	out[SIP_RESP_MAX];
	int		n;

	if ((n = sip_respond(c->uas, m, &r, out, dst)) < 0) {
		sip_call_cdr(c, CDR_FAILED, 500, "INTERWORKING", "rejected");
		sip_call_end(c);
		return;
	}
	sip_call_final_error(c, out, n, code);
	sip_call_cdr(c, code == 503 ? CDR_REJECTED : code >= 500 ? CDR_FAILED : CDR_REJECTED,
	    code, cause, "rejected");
}

/*
 * Over capacity: a stateless 503 (not retransmitted), no call object, no
 * CDR: an INVITE nobody can answer costs nothing but the answer.
 */
static int
sip_invite_over_capacity(struct sip_uas *u, const struct sip_msg *m)
{
	if (u->st.active < (uint64_t)u->cfg.max_calls &&
	    (u->st.objects < (uint64_t)u->cfg.max_calls * SIP_OBJECTS_PER_CALL ||
	    u->st.objects < SIP_OBJECTS_MIN))
		return 0;
	u->st.over_capacity++;
	sip_respond_stateless(u, m, 503, "Retry-After: 1\r\n");
	return 1;
}

static void
sip_invite_new(struct sip_uas *u, const struct sip_msg *m, const struct sip_dst *dst)
{
	struct sip_call	*c;
	static char	 out[SIP_RESP_MAX];
	struct sip_resp	 r = { .code = 180 };
	int		 n;

	if (sip_invite_over_capacity(u, m))
		return;
	c = sip_call_new(u, m, dst);
	if ((n = sip_build_ok(u, c, m, out)) < 0) {
		/* cannot happen within SIP_MAX_MSG; answered, never leaked */
		sip_log_bad(u, "200 too large, answered 500", m->call_id);
		if ((n = sip_build_minimal(u, m, c->to_tag, out)) > 0)
			sip_send(u, dst, out, n);
		sip_call_cdr(c, CDR_FAILED, 500, "INTERWORKING", "rejected");
		sip_call_end(c);
		return;
	}
	if (n == 0) {
		sip_invite_reject(c, m, dst, 488, "INCOMPATIBLE_DESTINATION",
		    "Accept: application/sdp\r\n");
		return;
	}
	sip_call_set_resp(c, out, n);		/* the 200, sent when answered */
	c->state = CALL_RINGING;
	if (u->cfg.answer_after_ms <= 0) {
		/* the 200 goes at once: no 100 or 180 before it (§8.2.6.1:
		 * a 100 is for a final answer later than 200 ms). Fewer bytes
		 * to a source not yet proven real leave its budget to the 200
		 * and a retransmission of it (sip_src.h) */
		sip_call_answer(c);
		return;
	}
	/* ringing: the 180 goes at once, so no 100 either */
	r.code = 180;
	r.to_tag = c->to_tag;
	(void)sip_respond(u, m, &r, out, dst);
	event_del(&c->timer);
	sip_timer_ms(&c->timer, u->cfg.answer_after_ms);
}

/* The last response of a ringing call is the 180: keep it for resends
 * without losing the prepared 200. */
static void
sip_invite_retransmit(struct sip_uas *u, struct sip_call *c, const struct sip_msg *m,
    const struct sip_dst *dst)
{
	static char	out[SIP_RESP_MAX];
	struct sip_resp	r = { .code = 180, .to_tag = c->to_tag };

	switch (c->state) {
	case CALL_RINGING:
		(void)sip_respond(u, m, &r, out, dst);
		break;
	case CALL_ACCEPTED:
	case CALL_COMPLETED:
		sip_call_resend(c);
		break;
	default:
		break;	/* absorbed (RFC 6026 Timer L) */
	}
}

static void
sip_on_invite(struct sip_uas *u, const struct sip_msg *m, const struct sip_dst *dst)
{
	struct sip_call *c;

	if ((c = sip_call_by_branch(u, m)) != NULL) {
		sip_invite_retransmit(u, c, m, dst);
		return;
	}
	if (m->to.tag != NULL) {
		/* a re-INVITE: the session is kept as it is (§14.2) */
		if ((c = sip_call_by_dialog(u, m)) != NULL)
			sip_src_proven(u->cur_src);
		sip_respond_stateless(u, m, c != NULL ? 488 : 481, NULL);
		return;
	}
	if (!sip_src_invite_ok(u->srcs, u->cur_src, hf_now_mono_ms())) {
		u->st.rate_limited++;
		if (log_ratelimit_ok(&u->limit_log))
			log_warnx("[SIP_LIMIT] from=%s:%d new INVITEs over sip_source_rate=%d/s:"
			    " answered 503", u->src_ip, u->src_port, u->cfg.source_rate);
		sip_respond_stateless(u, m, 503, "Retry-After: 1\r\n");
		return;
	}
	sip_invite_new(u, m, dst);
}

/* ---- the dialog store: confirmed dialogs outlive this process ---- */

void
sip_uas_set_dialog_store(struct sip_uas *u, struct dialog_store *ds)
{
	u->ds = ds;
}

/* The ACK confirmed c: what its successor needs goes to the store. */
static void
sip_call_store(struct sip_call *c, const struct sip_msg *m)
{
	struct dialog_rec d = {
		.call_id = c->call_id, .from_tag = c->from_tag, .to_tag = c->to_tag,
		.from_uri = c->from_uri, .to_uri = c->to_uri, .remote = c->remote,
		.branch_key = c->branch_key, .cseq = c->cseq, .dst = c->dst.ss,
		.dstlen = c->dst.len, .started_us = c->started_us,
		.answered_us = c->answered_us, .confirmed_us = hf_now_real_us(),
	};

	if (c->uas->ds != NULL)
		dialog_store_confirm(c->uas->ds, &d);
}

void
sip_uas_adopt_dialog(struct sip_uas *u, const struct dialog_rec *d)
{
	struct sip_call	*c = xcalloc(1, sizeof(*c));
	int64_t		 max_ms = u->cfg.dialog_restore_max_ms > 0 ?
	    u->cfg.dialog_restore_max_ms : u->cfg.dialog_idle_ms;
	int64_t		 age_ms = (hf_now_real_us() - d->confirmed_us) / 1000;

	c->uas = u;
	c->restored = 1;
	c->state = CALL_CONFIRMED;
	c->final_code = 200;
	c->branch_key = xstrdup(d->branch_key);
	c->call_id = xstrdup(d->call_id);
	c->from_uri = xstrdup(d->from_uri);
	c->to_uri = xstrdup(d->to_uri);
	c->from_tag = d->from_tag ? xstrdup(d->from_tag) : NULL;
	c->to_tag = xstrdup(d->to_tag);
	c->remote = xstrdup(d->remote);
	c->dialog_key = sip_dialog_key(c->call_id, c->from_tag, c->to_tag);
	c->cseq = d->cseq;	/* with the branch: the same CDR id as before */
	/* it ACKed our 200, so it is proven: its source is where we answer */
	c->dst.ss = c->dst.src = d->dst;
	c->dst.len = c->dst.srclen = d->dstlen;
	c->started_us = d->started_us;
	c->answered_us = d->answered_us;
	evtimer_assign(&c->timer, u->base, sip_call_on_timer, c);
	ht_insert(&u->calls_by_branch, &c->by_branch, c->branch_key);
	ht_insert(&u->calls_by_callid, &c->by_callid, c->dialog_key);
	u->st.active++;
	u->st.objects++;
	/* dialog_restore_max (default: dialog_idle), counted from its ACK */
	c->restored_end_us = d->confirmed_us + max_ms * 1000;
	sip_timer_ms(&c->timer, max_ms - (age_ms > 0 ? age_ms : 0));
}

/* ---- ACK, BYE, CANCEL ---- */

static void
sip_on_ack(struct sip_uas *u, const struct sip_msg *m)
{
	struct sip_call *c = sip_call_by_branch(u, m);

	if (c != NULL && c->state == CALL_COMPLETED) {
		/* ACK of our non-2xx: Timer I absorbs its retransmissions */
		sip_call_shrink(c);
		event_del(&c->timer);
		sip_timer_ms(&c->timer, u->cfg.t4_ms);
		return;
	}
	if ((c = sip_call_by_dialog(u, m)) == NULL)
		return;		/* stray ACKs are never answered */
	sip_src_proven(u->cur_src);	/* it knows our To tag: it gets what we send */
	if (c->state != CALL_ACCEPTED)
		return;		/* late ACKs neither */
	c->state = CALL_CONFIRMED;
	free(c->resp);
	c->resp = NULL;
	event_del(&c->timer);
	sip_timer_ms(&c->timer, u->cfg.dialog_idle_ms);
	sip_call_store(c, m);
}

/*
 * 487 to the INVITE of a call that has not been answered, built from the
 * 200 prepared for it (same Via, From, To with our tag, Call-ID, CSeq).
 * It goes out with the held responses, after the 200 to the CANCEL/BYE
 * (which is queued first) and after the CDR is durable.
 */
static void sip_respond_txn(struct sip_uas *, const struct sip_msg *,
    const struct sip_dst *, int, const char *, int);

static void
sip_call_terminate(struct sip_uas *u, struct sip_call *c, const struct sip_msg *m,
    const struct sip_dst *req_dst, const char *ended_by)
{
	/* c->resp is a datagram, not a string: memmem, bounded by its length */
	const char	*hdrs = c->resp != NULL ? memmem(c->resp, c->resp_len, "\r\n", 2) : NULL;
	const char	*ct = hdrs != NULL ? memmem(hdrs, c->resp_len - (hdrs - c->resp),
	    "\r\nContent-Type:", 15) : NULL;
	struct sip_dst	 dst = c->dst;
	char		*out;

	sip_call_cdr(c, CDR_CANCELLED, 487, "ORIGINATOR_CANCEL", ended_by);
	sip_respond_txn(u, m, req_dst, 200, c->to_tag, 1);
	if (ct == NULL) {
		sip_call_end(c);
		return;
	}
	out = xasprintf("SIP/2.0 487 Request Terminated%.*s\r\nServer: holdfast\r\n"
	    "Content-Length: 0\r\n\r\n", (int)(ct - hdrs), hdrs);
	sip_call_final_error(c, out, (int)strlen(out), 487);
	c->held = 1;
	sip_hold(u, &dst, out, (int)strlen(out));
	free(out);
}

static void
sip_respond_txn(struct sip_uas *u, const struct sip_msg *m, const struct sip_dst *dst,
    int code, const char *to_tag, int held)
{
	struct sip_resp	r = { .code = code, .to_tag = to_tag };
	static char	out[SIP_RESP_MAX];
	int		n = sip_build_response(out, SIP_RESP_MAX, m, u->src_ip, u->src_port, &r);

	if (n < 0 && (n = sip_build_minimal(u, m, to_tag, out)) < 0)
		return;
	if (held)
		sip_hold(u, dst, out, n);
	else
		sip_send(u, dst, out, n);
	sip_txn_keep(u, m, dst, out, n);
}

static void
sip_on_bye(struct sip_uas *u, const struct sip_msg *m, const struct sip_dst *dst)
{
	struct sip_call *c;

	if (sip_txn_retransmit(u, m))
		return;
	c = sip_call_by_dialog(u, m);
	if (c != NULL)
		sip_src_proven(u->cur_src);
	if (c == NULL || c->cdr_done) {
		sip_respond_stateless(u, m, 481, NULL);
		return;
	}
	if (c->state == CALL_RINGING) {
		sip_call_terminate(u, c, m, dst, "recv_bye");
		return;
	}
	sip_call_cdr(c, CDR_ANSWERED, 200, "NORMAL_CLEARING", "recv_bye");
	sip_call_end(c);
	/* the caller learns the call ended once its CDR is durable */
	sip_respond_txn(u, m, dst, 200, NULL, 1);
}

static void
sip_on_cancel(struct sip_uas *u, const struct sip_msg *m, const struct sip_dst *dst)
{
	struct sip_call *c;

	if (sip_txn_retransmit(u, m))
		return;
	if ((c = sip_call_by_branch(u, m)) == NULL) {
		sip_respond_stateless(u, m, 481, NULL);
		return;
	}
	if (c->state == CALL_RINGING) {
		sip_call_terminate(u, c, m, dst, "recv_cancel");
		return;
	}
	/* already answered: CANCEL has no effect (§9.2) */
	sip_respond_txn(u, m, dst, 200, c->to_tag, 0);
}

static void
sip_on_options(struct sip_uas *u, const struct sip_msg *m)
{
	int busy = u->st.active >= (uint64_t)u->cfg.max_calls;

	sip_respond_stateless(u, m, busy ? 503 : 200,
	    busy ? "Retry-After: 1\r\n" :
	    "Allow: " SIP_ALLOW "\r\nAccept: application/sdp\r\nSupported: \r\n"
	    "Accept-Language: en\r\n");
}

static void
sip_on_request(struct sip_uas *u, const struct sip_msg *m)
{
	struct sip_dst dst;

	sip_dst_for(u, m, &dst);
	if (m->max_forwards == 0 && m->method != SIP_OPTIONS && m->method != SIP_ACK) {
		sip_respond_stateless(u, m, 483, NULL);
		return;
	}
	switch (m->method) {
	case SIP_INVITE: sip_on_invite(u, m, &dst); break;
	case SIP_ACK: sip_on_ack(u, m); break;
	case SIP_BYE: sip_on_bye(u, m, &dst); break;
	case SIP_CANCEL: sip_on_cancel(u, m, &dst); break;
	case SIP_OPTIONS: sip_on_options(u, m); break;
	case SIP_REGISTER:
		sip_respond_stateless(u, m, 405, "Allow: " SIP_ALLOW "\r\n");
		break;
	default:
		sip_respond_stateless(u, m, 501, "Allow: " SIP_ALLOW "\r\n");
		break;
	}
}

/* ---- the socket ---- */

static void
sip_on_datagram(struct sip_uas *u, const char *buf, size_t len)
{
	struct sip_msg	m;
	enum sip_parse	rc = sip_msg_parse(&m, buf, len);

	switch (rc) {
	case SIP_PARSE_OK:
		if (m.is_request)
			sip_on_request(u, &m);
		else
			u->st.dropped++;	/* we send no requests: stray */
		break;
	case SIP_PARSE_BAD_ANSWERABLE:
		if (m.method == SIP_ACK) {
			sip_log_bad(u, "dropped (ACK)", m.err_reason);
			break;
		}
		sip_log_bad(u, m.err_code == 400 ? "answered 400" : "answered error", m.err_reason);
		sip_respond_stateless(u, &m, m.err_code, NULL);
		break;
	case SIP_PARSE_DROP:
		u->st.dropped++;
		if (m.err_reason != NULL)	/* NULL: a CRLF keepalive */
			sip_log_bad(u, "dropped", m.err_reason);
		break;
	}
	sip_msg_free(&m);
}

static void
sip_note_source(struct sip_uas *u)
{
	const void *a;

	if (u->src.ss_family == AF_INET6) {
		a = &((struct sockaddr_in6 *)&u->src)->sin6_addr;
		u->src_port = ntohs(((struct sockaddr_in6 *)&u->src)->sin6_port);
	} else {
		a = &((struct sockaddr_in *)&u->src)->sin_addr;
		u->src_port = ntohs(((struct sockaddr_in *)&u->src)->sin_port);
	}
	if (inet_ntop(u->src.ss_family, a, u->src_ip, sizeof(u->src_ip)) == NULL)
		hf_strlcpy(u->src_ip, "0.0.0.0", sizeof(u->src_ip));
}

static void
sip_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct sip_uas	*u = arg;
	static char	 buf[SIP_MAX_DATAGRAM + 1];

	for (int i = 0; i < SIP_RECV_BURST; i++) {
		ssize_t n;

		u->srclen = sizeof(u->src);
		n = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&u->src,
		    &u->srclen);
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("recvfrom(sip)");
			return;
		}
		u->st.rx++;
		sip_note_source(u);
		u->cur_src = sip_srcs_get(u->srcs, (struct sockaddr *)&u->src, u->srclen,
		    hf_now_mono_ms());
		sip_src_rx(u->cur_src, (size_t)n);
		if ((size_t)n > SIP_MAX_DATAGRAM) {
			sip_log_bad(u, "dropped", "datagram too large");
			continue;
		}
		sip_on_datagram(u, buf, (size_t)n);
	}
}

static void
sip_uas_local_addr(struct sip_uas *u)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	hf_strlcpy(u->local_ip, "127.0.0.1", sizeof(u->local_ip));
	if (getsockname(u->fd, (struct sockaddr *)&ss, &len) == -1) {
		log_warn("getsockname(sip)");
		return;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		u->local_port = ntohs(s4->sin_port);
		u->local_any = s4->sin_addr.s_addr == htonl(INADDR_ANY);
		inet_ntop(AF_INET, &s4->sin_addr, u->local_ip, sizeof(u->local_ip));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		u->local_port = ntohs(s6->sin6_port);
		u->local_any = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
		inet_ntop(AF_INET6, &s6->sin6_addr, u->local_ip, sizeof(u->local_ip));
	}
}

static void
sip_uas_bufsize(int fd)
{
	int sz = 8 * 1024 * 1024;

	/* bursts of retransmissions must not overflow the queue; FORCE
	 * works for root, the plain one up to rmem_max otherwise */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

struct sip_uas *
sip_uas_new(struct event_base *base, int fd, const struct sip_uas_cfg *cfg,
    struct cdr_sink *cdr)
{
	struct sip_uas *u = xcalloc(1, sizeof(*u));

	u->base = base;
	u->fd = fd;
	u->cfg = *cfg;
	/* The configured values (their defaults are the key rows'). */
	HF_ASSERT(cfg->t1_ms > 0 && cfg->max_calls > 0 && cfg->source_rate > 0);
	if (u->cfg.t2_ms <= 0 || u->cfg.t2_ms > 8 * u->cfg.t1_ms)
		u->cfg.t2_ms = 8 * u->cfg.t1_ms;
	if (u->cfg.t4_ms <= 0 || u->cfg.t4_ms > 10 * u->cfg.t1_ms)
		u->cfg.t4_ms = 10 * u->cfg.t1_ms;
	if (u->cfg.dialog_idle_ms <= 0)
		u->cfg.dialog_idle_ms = 3600 * 1000;
	u->cdr = cdr;
	u->held_tail = &u->held;
	u->rnd_used = sizeof(u->rnd);
	siphash_random_key(u->calls_by_branch.key);
	siphash_random_key(u->calls_by_callid.key);
	siphash_random_key(u->txns.key);
	u->srcs = sip_srcs_new(u->cfg.source_rate);
	log_ratelimit_init(&u->bad_log, 5, 20);
	log_ratelimit_init(&u->limit_log, 5, 20);
	sip_uas_local_addr(u);
	sip_uas_bufsize(fd);
	u->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, sip_on_read, u);
	event_add(u->ev_read, NULL);
	return u;
}

void
sip_uas_stop(struct sip_uas *u)
{
	if (u->ev_read != NULL) {
		event_free(u->ev_read);
		u->ev_read = NULL;
	}
	for (size_t i = 0; i < u->calls_by_branch.nb; i++) {
		for (struct ht_node *n = u->calls_by_branch.b[i]; n != NULL; n = n->next) {
			struct sip_call *c = container_of(n, struct sip_call, by_branch);

			if (c->state == CALL_CONFIRMED || c->state == CALL_ACCEPTED)
				sip_call_cdr(c, CDR_ANSWERED, 200, "SYSTEM_SHUTDOWN", "shutdown");
			else
				sip_call_cdr(c, CDR_FAILED, 0, "SYSTEM_SHUTDOWN", "shutdown");
		}
	}
}

void
sip_uas_free(struct sip_uas *u)
{
	if (u == NULL)
		return;
	sip_uas_stop(u);
	for (size_t i = 0; i < u->calls_by_branch.nb; i++)
		while (u->calls_by_branch.b[i] != NULL)
			sip_call_free(container_of(u->calls_by_branch.b[i], struct sip_call,
			    by_branch));
	for (size_t i = 0; i < u->txns.nb; i++)
		while (u->txns.b[i] != NULL)
			sip_txn_free(container_of(u->txns.b[i], struct sip_txn, node));
	u->cdr = NULL;
	sip_uas_on_cdr_sync(u);		/* sends what is held, frees it */
	free(u->calls_by_branch.b);
	free(u->calls_by_callid.b);
	free(u->txns.b);
	sip_srcs_free(u->srcs);
	free(u);
}

void
sip_uas_get_stats(const struct sip_uas *u, struct sip_uas_stats *st)
{
	*st = u->st;
	st->sources = sip_srcs_count(u->srcs);
}

/*
 * The invariant: every call object has a live timer (so none can leak),
 * the counters agree with the tables, and only calls still up are in
 * the dialog index.
 */
int
sip_uas_check(const struct sip_uas *u, char *why, size_t len)
{
	uint64_t objects = 0, timed = 0, active = 0, indexed = 0;

	for (size_t i = 0; i < u->calls_by_branch.nb; i++) {
		for (struct ht_node *n = u->calls_by_branch.b[i]; n != NULL; n = n->next) {
			const struct sip_call *c = container_of(n, struct sip_call, by_branch);

			objects++;
			timed += evtimer_pending(&c->timer, NULL) != 0;
			active += !c->cdr_done;
			indexed += c->state != CALL_ENDED;
		}
	}
	if (objects == timed && objects == u->st.objects && active == u->st.active &&
	    indexed == u->calls_by_callid.n && objects == u->calls_by_branch.n)
		return 0;
	snprintf(why, len, "objects=%" PRIu64 " timed=%" PRIu64 " stat_objects=%" PRIu64
	    " active=%" PRIu64 " stat_active=%" PRIu64 " dialogs=%" PRIu64 " indexed=%zu",
	    objects, timed, u->st.objects, active, u->st.active, indexed,
	    u->calls_by_callid.n);
	return -1;
}
