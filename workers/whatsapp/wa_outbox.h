/*
 * wa_outbox: delivery of wa_outbox rows to the Cloud API's send-message
 * endpoint with libevent's HTTP client.
 *
 * Invariants:
 * - A row is claimed under a lease (claimed_until, send_timeout + a
 *   margin) in a short transaction; no transaction is open during the HTTP
 *   request. The HTTP request itself gives up at send_timeout.
 * - A row that has a wamid is never sent again; an accepted send whose
 *   wamid cannot be stored yet (DB down) is kept in memory and stored as
 *   soon as the DB is back, before anything new is claimed.
 * - Retryable failures (wa_graph.h) come back after an equal-jitter
 *   backoff until send_max_attempts; permanent ones fail the row with the
 *   Graph error as last_error. The window rule is enforced by the claim.
 */
#ifndef HOLDFAST_WA_OUTBOX_H
#define HOLDFAST_WA_OUTBOX_H

#include "wa.h"

struct wa_outbox *wa_outbox_new(struct wa *);
void wa_outbox_free(struct wa_outbox *);
/* The loop step: store finished results, then claim and start sends. */
void wa_outbox_step(struct wa *, wa_step_done);
/* Sends in flight plus results not yet stored. */
int wa_outbox_busy(const struct wa_outbox *);

#endif
