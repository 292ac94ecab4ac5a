/*
 * wa_session: the assign and idle-close steps. Each is one statement in
 * its own transaction; the locking that makes several instances safe is
 * described in etc/schema/0003_wa_session.sql.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "db.h"
#include "log.h"
#include "util.h"
#include "wa.h"
#include "wa_session.h"

static void
wa_assign_done(const struct db_error *err, PGresult *const *res, int nres, void *arg)
{
	struct wa		*wa;
	wa_step_done		 done;
	long long		 assigned, opened;
	int			 pending;

	if (wa_stepctx_end(arg, err, &wa, &done) == -1)
		return;
	assigned = wa_res_int(res[0], 0);
	opened = wa_res_int(res[0], 1);
	pending = PQntuples(res[0]) > 0 && strcmp(PQgetvalue(res[0], 0, 2), "t") == 0;
	wa->n.assigned += assigned;
	wa->n.opened += opened;
	if (assigned > 0)
		log_debug("assigned %lld messages, opened %lld sessions", assigned, opened);
	if (assigned >= wa->cfg->batch_size)
		done(wa, WA_STEP_MORE, NULL);
	else if (pending)
		/* Rows another instance holds (or that arrived meanwhile). */
		done(wa, assigned > 0 ? WA_STEP_MORE : WA_STEP_LATER, NULL);
	else
		done(wa, WA_STEP_DONE, NULL);
}

void
wa_session_assign(struct wa *wa, wa_step_done done)
{
	char		 batch[24];
	const char	*params[2] = { batch, wa->cfg->auto_reply != NULL ? wa->cfg->auto_reply : "" };

	snprintf(batch, sizeof(batch), "%d", wa->cfg->batch_size);
	db_query(wa->db, WA_OP,
	    "SELECT assigned, opened, pending FROM holdfast_wa_assign($1::integer, $2)",
	    2, params, wa_assign_done, wa_stepctx_new(wa, done));
}

static void
wa_close_done(const struct db_error *err, PGresult *const *res, int nres, void *arg)
{
	struct wa		*wa;
	wa_step_done		 done;
	long long		 closed;

	if (wa_stepctx_end(arg, err, &wa, &done) == -1)
		return;
	closed = wa_res_int(res[0], 0);
	wa->n.closed += closed;
	if (closed > 0)
		log_debug("closed %lld idle sessions", closed);
	done(wa, closed >= wa->cfg->batch_size ? WA_STEP_MORE : WA_STEP_DONE, NULL);
}

void
wa_session_close_idle(struct wa *wa, wa_step_done done)
{
	char		 idle[24], batch[24];
	const char	*params[2] = { idle, batch };

	snprintf(idle, sizeof(idle), "%lld", (long long)wa->cfg->session_idle_timeout_ms);
	snprintf(batch, sizeof(batch), "%d", wa->cfg->batch_size);
	db_query(wa->db, WA_OP, "SELECT holdfast_wa_close_idle($1::bigint, $2::integer)",
	    2, params, wa_close_done, wa_stepctx_new(wa, done));
}
