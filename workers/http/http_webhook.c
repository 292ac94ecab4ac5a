/*
 * http_webhook: the WhatsApp Cloud API callback, /webhooks/whatsapp.
 *
 * GET is Meta's verification handshake: the challenge's exact bytes as
 * text/plain when hub.mode=subscribe and hub.verify_token matches, 403
 * otherwise. POST is a batch of updates: the signature is checked on the
 * raw bytes before anything is parsed (401 when missing or wrong), the
 * body is walked by wa_payload, and everything is stored in one
 * transaction, idempotently (messages keyed on wamid, statuses on
 * (wamid, status)), so Meta's redeliveries are harmless. The 200 is sent
 * only after COMMIT: any failure is a 503 and Meta redelivers, so no
 * update is lost. The insert trigger NOTIFYs the session worker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "cfg.h"
#include "db.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "wa_payload.h"

/* One statement for messages and contacts: rows arrive as one JSON array
 * (raw and errors as JSON text inside it, cast back to jsonb here). */
static const char http_sql_messages[] =
    "WITH m AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x("
    "wamid text, phone_number_id text, wa_id text, msg_type text, body text, "
    "profile_name text, ts bigint, raw text)), "
    "ins AS (INSERT INTO wa_messages (wamid, phone_number_id, wa_id, direction, "
    "msg_type, body, sent_at, raw) SELECT wamid, phone_number_id, wa_id, 'in', "
    "msg_type, body, to_timestamp(ts), raw::jsonb FROM m "
    "ON CONFLICT (wamid) DO NOTHING RETURNING 1), "
    "con AS (INSERT INTO wa_contacts (phone_number_id, wa_id, profile_name, "
    "last_inbound_at) SELECT DISTINCT ON (phone_number_id, wa_id) "
    "phone_number_id, wa_id, profile_name, to_timestamp(ts) FROM m "
    "ORDER BY phone_number_id, wa_id, ts DESC "
    "ON CONFLICT (phone_number_id, wa_id) DO UPDATE SET "
    "last_inbound_at = greatest(wa_contacts.last_inbound_at, EXCLUDED.last_inbound_at), "
    "profile_name = coalesce(EXCLUDED.profile_name, wa_contacts.profile_name) "
    "RETURNING 1) "
    "SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM con)";

static const char http_sql_statuses[] =
    "INSERT INTO wa_statuses (wamid, status, status_at, errors) "
    "SELECT wamid, status, to_timestamp(ts), errors::jsonb FROM jsonb_to_recordset($1::jsonb) "
    "AS x(wamid text, status text, ts bigint, errors text) "
    "ON CONFLICT (wamid, status) DO NOTHING";

struct http_wh {
	struct wa_payload	 p;
	char			*msgs_json;
	char			*sts_json;
};

static void
http_wh_free(void *arg)
{
	struct http_wh *wh = arg;

	wa_payload_free(&wh->p);
	free(wh->msgs_json);
	free(wh->sts_json);
	free(wh);
}

/* ---- GET: the verification handshake ---- */

static int
http_streq_ct(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

void
http_webhook_verify(struct http_call *call)
{
	const char *mode = http_query(call, "hub.mode");
	const char *token = http_query(call, "hub.verify_token");
	const char *challenge = http_query(call, "hub.challenge");
	const char *want = call->srv->wa->verify_token;

	if (mode == NULL || strcmp(mode, "subscribe") != 0 || token == NULL ||
	    want == NULL || *want == '\0' || !http_streq_ct(token, want)) {
		http_reply_error(call, 403, "FORBIDDEN", "Verification failed");
		return;
	}
	if (challenge == NULL) {
		http_reply_error(call, 400, "BAD_REQUEST", "Missing hub.challenge");
		return;
	}
	http_reply(call, 200, "text/plain", challenge, strlen(challenge));
}

/* ---- POST: updates ---- */

static char *
http_wh_messages_json(const struct wa_payload *p)
{
	struct jw	*w = jw_new();
	char		*out;

	jw_arr_open(w);
	for (size_t i = 0; i < p->nmsgs; i++) {
		const struct wa_message *m = &p->msgs[i];

		jw_obj_open(w);
		jw_kstr(w, "wamid", m->wamid);
		jw_kstr(w, "phone_number_id", m->phone_number_id);
		jw_kstr(w, "wa_id", m->wa_id);
		jw_kstr(w, "msg_type", m->type);
		jw_kstr(w, "body", m->body);
		jw_kstr(w, "profile_name", m->profile_name);
		jw_kint(w, "ts", m->timestamp);
		jw_kstr(w, "raw", m->raw);
		jw_obj_close(w);
	}
	jw_arr_close(w);
	out = jw_dup(w);
	jw_free(w);
	return out;
}

static char *
http_wh_statuses_json(const struct wa_payload *p)
{
	struct jw	*w = jw_new();
	char		*out;

	jw_arr_open(w);
	for (size_t i = 0; i < p->nsts; i++) {
		const struct wa_status *st = &p->sts[i];

		jw_obj_open(w);
		jw_kstr(w, "wamid", st->wamid);
		jw_kstr(w, "status", st->status);
		jw_kint(w, "ts", st->timestamp);
		jw_kstr(w, "errors", st->errors);
		jw_obj_close(w);
	}
	jw_arr_close(w);
	out = jw_dup(w);
	jw_free(w);
	return out;
}

static void
http_wh_reply_ok(struct http_call *call, const struct wa_payload *p)
{
	struct jw *w = jw_new();

	jw_obj_open(w);
	jw_kstr(w, "status", "ok");
	jw_kint(w, "messages", (long long)p->nmsgs);
	jw_kint(w, "statuses", (long long)p->nsts);
	jw_kint(w, "skipped", (long long)p->skipped);
	jw_obj_close(w);
	http_reply_json(call, 200, w);
	jw_free(w);
}

static void
http_wh_stored(const struct db_error *err, PGresult *const *res, int nres,
    void *arg)
{
	struct http_call	*call = http_db_done(arg);
	struct http_wh		*wh = call->ctx;

	if (err != NULL) {
		http_reply_db_error(call, err);
		return;
	}
	http_wh_reply_ok(call, &wh->p);
}

/* Stores the payload in one transaction; replies from the callback. */
static void
http_wh_store(struct http_call *call, struct http_wh *wh)
{
	struct db_stmt	 st[2];
	const char	*pm[1], *ps[1];
	int		 n = 0;

	wh->msgs_json = wh->p.nmsgs ? http_wh_messages_json(&wh->p) : NULL;
	wh->sts_json = wh->p.nsts ? http_wh_statuses_json(&wh->p) : NULL;
	if ((wh->p.nmsgs && wh->msgs_json == NULL) || (wh->p.nsts && wh->sts_json == NULL)) {
		http_reply_error(call, 400, "BAD_REQUEST", "Payload is not valid UTF-8");
		return;
	}
	if (wh->msgs_json != NULL) {
		pm[0] = wh->msgs_json;
		st[n++] = (struct db_stmt){ http_sql_messages, 1, pm };
	}
	if (wh->sts_json != NULL) {
		ps[0] = wh->sts_json;
		st[n++] = (struct db_stmt){ http_sql_statuses, 1, ps };
	}
	call->srv->inflight++;
	call->dbreq = db_batch_within(call->srv->db, call->srv->wcfg->db_request_timeout_ms,
	    "http_webhook", st, n, http_wh_stored, call);
}

void
http_webhook_receive(struct http_call *call)
{
	const char	*sig = http_header(call,
			    "X-Hub-Signature-256");
	const char	*secret = call->srv->wa->app_secret;
	struct http_wh	*wh;
	char		 err[128];
	static int	 warned;

	if ((secret == NULL || *secret == '\0') && !warned++)
		log_warnx("[whatsapp] app_secret is not set: every webhook is refused");
	if (wa_signature_check(secret, call->body, call->bodylen, sig) == -1) {
		http_reply_error(call, 401, "UNAUTHORIZED",
		    sig == NULL ? "Missing X-Hub-Signature-256" : "Invalid signature");
		return;
	}
	wh = xcalloc(1, sizeof(*wh));
	call->ctx = wh;
	call->ctx_free = http_wh_free;
	if (wa_payload_parse(call->body, call->bodylen, &wh->p, err, sizeof(err)) == -1) {
		http_reply_error(call, 400, "BAD_REQUEST", "Malformed JSON body");
		return;
	}
	if (wh->p.skipped > 0)
		log_warnx("webhook: %zu updates without id/sender/timestamp ignored",
		    wh->p.skipped);
	if (wh->p.nmsgs == 0 && wh->p.nsts == 0) {
		http_wh_reply_ok(call, &wh->p);
		return;
	}
	http_wh_store(call, wh);
}
