/*
 * sip_src: what holdfast-telephony knows about each source of datagrams
 * (IP and port), so one source can neither take every call slot nor use
 * the UAS as an amplifier towards a spoofed address (RFC 3261 §18.2.2,
 * RFC 3581: responses go back where the request came from).
 *
 *  - new INVITE transactions: a token bucket per source, `rate` per second
 *    with a burst of 2 x rate;
 *  - bytes sent: a source that has not proven it receives what we send
 *    (an ACK of our 2xx, or any request that names our To tag) gets at
 *    most SIP_SRC_AMP x the bytes it sent us; once proven, no cap.
 *
 * The table is bounded (SIP_SRC_MAX entries, the least recently seen one
 * goes first) and entries idle for SIP_SRC_IDLE_MS are dropped; its hash
 * is SipHash with a random key.
 */
#ifndef HOLDFAST_SIP_SRC_H
#define HOLDFAST_SIP_SRC_H

#include <stdint.h>
#include <sys/socket.h>

#define SIP_SRC_MAX		65536
#define SIP_SRC_IDLE_MS		(10 * 60 * 1000)
#define SIP_SRC_AMP		4

struct sip_srcs;
struct sip_src;

struct sip_srcs *sip_srcs_new(int rate_per_s);
void sip_srcs_free(struct sip_srcs *);
/* The entry of a source, created when new (may evict the oldest one). The
 * pointer is valid until the next sip_srcs_get. */
struct sip_src *sip_srcs_get(struct sip_srcs *, const struct sockaddr *, socklen_t,
    uint64_t now_ms);
size_t sip_srcs_count(const struct sip_srcs *);

/* Bytes received from the source. */
void sip_src_rx(struct sip_src *, size_t bytes);
/* 1 when a new INVITE transaction from it is within its rate. */
int sip_src_invite_ok(struct sip_srcs *, struct sip_src *, uint64_t now_ms);
/* 1 (and counted) when n more bytes may be sent to it. */
int sip_src_may_send(struct sip_src *, size_t n);
/* It answered with something only a real peer knows. */
void sip_src_proven(struct sip_src *);
int sip_src_is_proven(const struct sip_src *);
/* Bytes received and sent, for tests and benches. */
void sip_src_bytes(const struct sip_src *, uint64_t *in, uint64_t *out);

#endif
