/*
 * wa_session: conversation sessions. Assigns inbound messages to their
 * contact's open session (opening one, with the auto-reply, when none is
 * open) and closes sessions idle past session_idle_timeout with a summary.
 * Both are loop steps (see wa.h); the SQL is in 0003_wa_session.sql.
 */
#ifndef HOLDFAST_WA_SESSION_H
#define HOLDFAST_WA_SESSION_H

#include "wa.h"

void wa_session_assign(struct wa *, wa_step_done);
void wa_session_close_idle(struct wa *, wa_step_done);
/* Applies received delivery statuses to the outbox (wa_status.c). */
void wa_status_apply(struct wa *, wa_step_done);

#endif
