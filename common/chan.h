/*
 * chan: the message channel, in the spirit of tmux's proc.c.
 *
 * One layer carries both the supervisor <-> worker channel (a socketpair
 * whose worker end is HOLDFAST_CHANNEL_FD) and holdfastctl <-> holdfastd
 * (the control socket). A message is one JSON object on one line
 * ("...}\n"), at most CHAN_MAX_MSG bytes, with a "type" member (worker
 * channel) or "cmd" member (control socket). The layer frames, parses and
 * size-checks; the owner's dispatch callback gets each parsed object, and a
 * NULL message when the peer is lost (EOF, I/O error, or a frame that could
 * not be parsed or was too big: the reason is in chan_peer_error()), so
 * every way of losing a peer takes one path.
 *
 * The worker channel is specified in docs/protocol.md; its client side is
 * libholdfast (lib/holdfast/worker.h), which our workers drive from their
 * libevent loop through chan_worker_* below (chan_worker.c). Messages:
 *   worker -> holdfastd
 *     {"type":"hello","version":2,"program":"holdfast-http","instance":"http:0","pid":123}
 *     {"type":"ready"}
 *     {"type":"heartbeat"}
 *     {"type":"db","state":"up"|"down","op":"...","reason":"NeonEndpointDisabled",
 *      "attempts":3,"detail":"..."}
 *     {"type":"stats", ...}            free-form counters shown by `holdfastctl status --json`
 *                                      and, each number, by holdfastd's /metrics
 *     {"type":"status","text":"..."}   version 2: one line shown as "status_text"
 *   holdfastd -> worker
 *     {"type":"welcome","version":2,"heartbeat_ms":3333}  version: the lower of both
 *     {"type":"error","detail":"..."}  the worker sent something malformed
 */
#ifndef HOLDFAST_CHAN_H
#define HOLDFAST_CHAN_H

#include <stddef.h>
#include <event2/event.h>
#include <yajl/yajl_tree.h>

#define CHAN_PROTO_VERSION	2	/* = HOLDFAST_PROTOCOL_VERSION */
#define CHAN_MAX_MSG		(64 * 1024)

struct jw;
struct chan_peer;

/* msg is NULL when the peer is lost; the callback then owns freeing the peer. */
typedef void (*chan_dispatch_cb)(struct chan_peer *, yajl_val msg, void *arg);

/* Takes ownership of fd (made non-blocking and close-on-exec). */
struct chan_peer *chan_peer_new(struct event_base *, int fd, chan_dispatch_cb, void *arg);
void chan_peer_free(struct chan_peer *);
/* Sends one message (a '\n' is appended): written at once while nothing is
 * queued for the peer, what the socket does not take is queued in order.
 * 0, or -1 when the peer is gone or its output queue went over its limit
 * (the peer is then dropped). */
int chan_send_raw(struct chan_peer *, const char *json, size_t len);
int chan_send_jw(struct chan_peer *, struct jw *);
/* Queues {"type":"error","detail":...}. */
int chan_send_error(struct chan_peer *, const char *detail);
/* Why the peer was lost ("EOF", "message too large", parse error...). */
const char *chan_peer_error(const struct chan_peer *);
int chan_peer_fd(const struct chan_peer *);
/* 1 when the peer was lost to a protocol error (bad or oversized frame,
 * EOF inside a frame): its write side still works, so the owner may send
 * an error reply and chan_peer_close_after_flush() instead of freeing. */
int chan_peer_replyable(const struct chan_peer *);
/* A message begun but not finished within ms loses the peer (replyable);
 * an idle peer is left alone. 0 disables. */
void chan_peer_set_read_timeout(struct chan_peer *, int ms);
/* Reads and dispatches what the peer already sent (its first request, just
 * after accept); what is not there yet comes through the loop. The
 * dispatch callback may free the peer before this returns. */
void chan_peer_read_now(struct chan_peer *);
/* Close after the output queue drains (replies to a dropped client). */
void chan_peer_close_after_flush(struct chan_peer *);
/*
 * holdfastd's in-place upgrade keeps a peer's descriptor across execve:
 * chan_peer_flush writes what is queued (waiting up to timeout_ms; 0 once
 * all is out, -1 otherwise), chan_peer_unread copies what was read but not
 * yet dispatched (malloc'd, NULL when none), and chan_peer_feed gives such
 * bytes to a new peer on the same descriptor, dispatched from the loop.
 */
int chan_peer_flush(struct chan_peer *, int timeout_ms);
char *chan_peer_unread(const struct chan_peer *, size_t *len);
void chan_peer_feed(struct chan_peer *, const char *buf, size_t len);
/* 1 when the peer was lost or is closing (not worth keeping). */
int chan_peer_gone(const struct chan_peer *);
/* Bytes queued for the peer and not yet written (a follower's bound). */
size_t chan_peer_queued(const struct chan_peer *);
/* "type" (or "cmd") of a message, or NULL. */
const char *chan_msg_type(yajl_val msg);

/*
 * Parses one frame (without its newline) into a message object; NULL with
 * a reason when it is not a JSON object, lacks a string "type"/"cmd", or is
 * too large. Exposed for unit tests and fuzzing.
 */
yajl_val chan_parse_frame(const char *buf, size_t len, char *err, size_t errlen);

/* --- the worker's side (chan_worker.c, over libholdfast) ----------------- */

/*
 * Reads HOLDFAST_CHANNEL_FD, sends hello, and starts heartbeats every
 * HOLDFAST_HEARTBEAT_MS (default 1000). Returns 1 when connected, 0 when
 * the program runs without a supervisor (the other calls are then no-ops),
 * -1 on a bad descriptor. When the supervisor goes away, on_lost is called
 * (default: log and exit(0), since a worker never outlives holdfastd).
 */
int chan_worker_open(struct event_base *, const char *program,
    void (*on_lost)(void *), void *arg);
void chan_worker_ready(void);
/* state: 1 up, 0 down. reason and detail may be NULL. */
void chan_worker_db(int up, const char *op, const char *reason, int attempts,
    const char *detail);
/* One line shown as "status_text" by `holdfastctl status --json`. */
void chan_worker_status(const char *text);
/* Sends {"type":"stats",...} built by the caller (a complete object). */
void chan_worker_send(struct jw *);
void chan_worker_close(void);
/* 1 while the channel to holdfastd is up. */
int chan_worker_connected(void);
/* The instance name from HOLDFAST_INSTANCE, or the default. */
const char *chan_worker_instance(const char *dflt);

#endif
