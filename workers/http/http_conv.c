/*
 * http_conv: the read API for agents: GET /api/conversations,
 * GET /api/conversations/{id} and GET /api/calls, all behind a bearer token.
 *
 * Each request is one statement, one round trip: the token check and the
 * page are in the same query, and PostgreSQL builds the JSON (json_agg),
 * which the worker passes through untouched. The single-conversation read
 * is a function with cached plans (etc/schema/0002, 0004); for a token in
 * the token cache (http_auth.c) it skips the token check, and is a lookup
 * (db_lookup_within): reads of single conversations that arrive together
 * go to the server as one statement. Every statement
 * answers one row: (token valid, JSON or NULL); each verdict on a token
 * feeds the cache. Pages are newest first; the cursor
 * next_before ("<µs since epoch>_<id>" of the last row) is exact, since
 * both parts compare as integers in the DB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "http.h"
#include "util.h"

#define HTTP_PAGE_DEFAULT	50
#define HTTP_PAGE_MAX		500

#define HTTP_SQL_AUTH \
	"WITH auth AS (SELECT EXISTS (SELECT 1 FROM auth_tokens t " \
	"JOIN users u ON u.id = t.user_id WHERE t.token_hash = decode($1, 'hex') " \
	"AND t.expires_at > now() AND NOT u.disabled) AS ok)"

/* The page query shape, for a table ordered by (tcol DESC, id DESC). */
#define HTTP_SQL_PAGE(key, cols, table, tcol, filter) \
	HTTP_SQL_AUTH ", page AS (SELECT " cols " FROM " table " x, auth " \
	"WHERE auth.ok AND " filter " AND ($3::bigint IS NULL OR (x." tcol ", x.id) < " \
	"(timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::bigint)) " \
	"ORDER BY x." tcol " DESC, x.id DESC LIMIT $5::int) " \
	"SELECT auth.ok, CASE WHEN auth.ok THEN json_build_object(" \
	"'" key "', coalesce((SELECT json_agg(p ORDER BY p." tcol " DESC, p.id DESC) " \
	"FROM page p), '[]'::json), 'next_before', (SELECT CASE WHEN " \
	"(SELECT count(*) FROM page) = $5::int THEN (SELECT (extract(epoch FROM p." \
	tcol ") * 1000000)::bigint || '_' || p.id FROM page p ORDER BY p." tcol \
	", p.id LIMIT 1) END))::text END FROM auth"

static const char http_sql_conversations[] = HTTP_SQL_PAGE("conversations",
    "x.id, x.phone_number_id, x.wa_id, x.status, x.opened_at, "
    "x.last_message_at, x.closed_at, x.summary, x.msgs_in, x.msgs_out",
    "conversations", "last_message_at", "($2::text IS NULL OR x.status = $2)");

static const char http_sql_calls[] = HTTP_SQL_PAGE("calls",
    "x.id, x.call_id, x.from_uri, x.to_uri, x.remote_addr, x.started_at, "
    "x.answered_at, x.ended_at, x.duration_ms, x.billsec_ms, x.disposition, "
    "x.sip_code, x.hangup_cause, x.ended_by",
    "calls", "started_at", "$2::text IS NULL");

/* The busiest route: a PL/pgSQL function (etc/schema/0002), whose plans
 * the session keeps, so the DB does not plan the statement every time. */
static const char http_sql_conversation[] =
    "SELECT ok, body FROM holdfast_http_conversation(decode($1, 'hex'), $2::bigint)";
/* The same for a token the cache vouches for (ok is always true): a
 * lookup, so that requests arriving together are read in one statement
 * (etc/schema/0006), each answered from the body stored with its
 * conversation (etc/schema/0007: rendered by triggers at every write). */
static const struct db_lookup http_conversation_lookup = {
	"SELECT ok, body FROM holdfast_http_conversation_bodies(ARRAY[$1::bigint])",
	"SELECT i, ok, body FROM holdfast_http_conversation_bodies($1::bigint[])",
};

/* Every statement here answers (ok, json): 401, 404 or the JSON as is. */
static void
http_conv_done(const struct db_error *err, PGresult *const *res, int nres,
    void *arg)
{
	struct http_call	*call = http_db_done(arg);
	PGresult		*r = res != NULL && nres > 0 ? res[0] : NULL;

	if (err != NULL) {
		http_reply_db_error(call, err);
		return;
	}
	if (r == NULL || PQntuples(r) != 1 || PQnfields(r) != 2) {
		http_reply_error(call, 500, "INTERNAL_ERROR", "Unexpected result shape");
		return;
	}
	http_token_checked(call, strcmp(PQgetvalue(r, 0, 0), "t") == 0);
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		http_reply_error(call, 401, "UNAUTHORIZED", "Invalid or expired token");
		return;
	}
	if (PQgetisnull(r, 0, 1)) {
		http_reply_error(call, 404, "NOT_FOUND", "No such conversation");
		return;
	}
	http_reply(call, 200, "application/json", PQgetvalue(r, 0, 1),
	    (size_t)PQgetlength(r, 0, 1));
}

struct http_page {
	char	before_us[24], before_id[24], limit[16];
};

/* Parses limit= and before=; replies 400 and returns -1 when invalid. */
static int
http_page_params(struct http_call *call, struct http_page *pg, const char **p)
{
	const char	*before = http_query(call, "before");
	int64_t		 us;
	long long	 id;
	int		 limit;

	if (http_parse_limit(http_query(call, "limit"), HTTP_PAGE_DEFAULT,
	    HTTP_PAGE_MAX, &limit) == -1) {
		http_reply_error(call, 400, "BAD_REQUEST", "limit must be 1..500");
		return -1;
	}
	snprintf(pg->limit, sizeof(pg->limit), "%d", limit);
	p[2] = p[3] = NULL;
	p[4] = pg->limit;
	if (before == NULL)
		return 0;
	if (http_parse_cursor(before, &us, &id) == -1) {
		http_reply_error(call, 400, "BAD_REQUEST", "Malformed before cursor");
		return -1;
	}
	snprintf(pg->before_us, sizeof(pg->before_us), "%lld", (long long)us);
	snprintf(pg->before_id, sizeof(pg->before_id), "%lld", id);
	p[2] = pg->before_us;
	p[3] = pg->before_id;
	return 0;
}

void
http_conversations(struct http_call *call)
{
	const char		*status = http_query(call, "status");
	const char		*p[5];
	struct http_page	 pg;

	if (http_auth_bearer(call) == -1)
		return;
	if (status != NULL && strcmp(status, "open") != 0 &&
	    strcmp(status, "closed") != 0) {
		http_reply_error(call, 400, "BAD_REQUEST", "status must be open or closed");
		return;
	}
	p[0] = call->token_hash;
	p[1] = status;
	if (http_page_params(call, &pg, p) == -1)
		return;
	http_db_query(call, "http_conversations", http_sql_conversations, 5, p, http_conv_done);
}

void
http_calls(struct http_call *call)
{
	const char		*p[5];
	struct http_page	 pg;

	if (http_auth_bearer(call) == -1)
		return;
	p[0] = call->token_hash;
	p[1] = NULL;
	if (http_page_params(call, &pg, p) == -1)
		return;
	http_db_query(call, "http_calls", http_sql_calls, 5, p, http_conv_done);
}

void
http_conversation(struct http_call *call)
{
	char		 id[24];
	const char	*p[2] = { call->token_hash, id };

	if (http_auth_bearer(call) == -1)
		return;
	snprintf(id, sizeof(id), "%lld", call->id);
	if (http_token_cached(call))
		http_db_lookup(call, "http_conversation", &http_conversation_lookup,
		    id, http_conv_done);
	else
		http_db_query(call, "http_conversation", http_sql_conversation, 2, p,
		    http_conv_done);
}
