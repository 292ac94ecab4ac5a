/*
 * wa_status: applies delivery statuses (sent, delivered, read, failed)
 * stored by the webhook to the outbox rows they name, only ever moving a
 * row forward (read may arrive without delivered, and out of order). A
 * status that arrives before the sender has stored its wamid waits for it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cfg.h"
#include "db.h"
#include "wa.h"
#include "wa_session.h"

static void
wa_status_done(const struct db_error *err, PGresult *const *res, int nres, void *arg)
{
	struct wa		*wa;
	wa_step_done		 done;
	long long		 applied;

	if (wa_stepctx_end(arg, err, &wa, &done) == -1)
		return;
	applied = wa_res_int(res[0], 0);
	wa->n.statuses += applied;
	done(wa, applied >= wa->cfg->batch_size ? WA_STEP_MORE : WA_STEP_DONE, NULL);
}

void
wa_status_apply(struct wa *wa, wa_step_done done)
{
	char		 batch[24];
	const char	*params[1] = { batch };

	snprintf(batch, sizeof(batch), "%d", wa->cfg->batch_size);
	db_query(wa->db, WA_OP, "SELECT holdfast_wa_apply_statuses($1::integer)",
	    1, params, wa_status_done, wa_stepctx_new(wa, done));
}
