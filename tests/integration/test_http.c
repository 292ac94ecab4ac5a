/*
 * Guards the promises of holdfast-http against a real PostgreSQL and a
 * real worker process, over real HTTP:
 * - every route's success and error paths, in the seed's JSON error shape;
 * - the token cache: a token the DB accepted gets the same JSON without a
 *   token check for token_cache_ttl, a revoked token or disabled user is
 *   refused once that has passed (or at once, after a route that checks);
 *   conversation reads arriving together are batched, each answered as
 *   when asked alone;
 * - login with crypt(3) hashes, tokens stored only as SHA-256, never logged;
 * - the WhatsApp webhook: Meta's handshake, the signature check (good, bad,
 *   missing), Meta's sample payloads stored as the right rows, a
 *   redelivery stored once, limits and malformed bodies refused;
 * - the seed's acceptance: with the DB stopped, and with Neon's "endpoint
 *   disabled" answer (the fault proxy), POST /api/auth/login answers 503
 *   with the exact body, the worker stays up (same pid),
 *   /healthz stays 200, /readyz goes 503 and back to 200 after recovery
 *   without a restart; a frozen DB and a DB killed mid-request give 503
 *   within the query deadline, never a hang;
 * - under holdfastd, numprocs instances share one socket, a killed one's
 *   twin keeps answering, and their DB state reaches holdfastctl health.
 */
#include <check.h>
#include <crypt.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "fp.h"
#include "hfd.h"
#include "pgt.h"
#include "tu.h"
#include "test_http_samples.h"
#include "util.h"
#include "wa_payload.h"

#define DB_DOWN_BODY \
	"{\"error\":\"SERVICE_UNAVAILABLE\",\"detail\":\"Database temporarily unavailable\",\"status\":503}"
#define PASSWORD	"correct horse battery"

static struct pgt	*pg;
static char		*tmp, *logpath;
static int		 port;
static pid_t		 pid;

/* ---- fixture: each (forked) test gets its own cluster and worker ---- */

static int
ready_is(int p, int want)
{
	return tu_http(p, "GET", "/readyz", NULL, NULL, 0, NULL, NULL, 2000) == want;
}

static int ready200(void *arg) { return ready_is(*(int *)arg, 200); }
static int ready503(void *arg) { return ready_is(*(int *)arg, 503); }

/*
 * Starts holdfast-http on port p with the config "<tag>.conf" (conninfo:
 * NULL for the test's database; extra: lines for [worker:http]) and its
 * output in "<tag>.log", both in tmp; the log's path (malloc'd) in *log.
 * Does not wait.
 */
static pid_t
start_worker(const char *tag, int p, const char *conninfo, const char *extra, char **log)
{
	char	*argv[] = { tu_buildpath("workers/http/holdfast-http"), "-c", NULL, NULL };
	char	*text;
	pid_t	 w;

	text = xasprintf("[holdfast]\nlog_level = info\n"
	    "[database]\nconninfo = %s\npool_size = 4\nstatement_timeout = 2s\n"
	    "query_timeout = 3s\nconnect_timeout = 1s\n"
	    "backoff_initial = 100ms\nbackoff_max = 400ms\n"
	    "[whatsapp]\nverify_token = vtok-123\napp_secret = test_app_secret\n"
	    "[worker:http]\ncommand = holdfast-http\nlisten = 127.0.0.1:%d\n"
	    "max_body = 4KiB\n%s",
	    conninfo != NULL ? conninfo : pgt_conninfo(pg, "hf"), p, extra);
	argv[2] = xasprintf("%s/%s.conf", tmp, tag);
	ck_assert_int_eq(tu_write_file(argv[2], text), 0);
	*log = xasprintf("%s/%s.log", tmp, tag);
	w = tu_spawn(argv, NULL, *log);
	free(argv[0]);
	free(argv[2]);
	free(text);
	return w;
}

static void
add_user(const char *email, const char *prefix, unsigned long cost)
{
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE], sql[512];
	struct crypt_data	 cd;
	const char		*h;

	memset(&cd, 0, sizeof(cd));
	ck_assert_ptr_nonnull(crypt_gensalt_rn(prefix, cost, NULL, 0, salt, sizeof(salt)));
	ck_assert_ptr_nonnull(h = crypt_rn(PASSWORD, salt, &cd, sizeof(cd)));
	snprintf(sql, sizeof(sql),
	    "INSERT INTO users (email, password_hash) VALUES ('%s', '%s')", email, h);
	ck_assert_int_eq(pgt_psql(pg, "hf", sql, NULL), 0);
}

static void
setup(void)
{
	pg = pgt_start(NULL);
	pgt_createdb(pg, "hf", 1);
	add_user("agent@example.com", "$y$", 0);
	add_user("bcrypt@example.com", "$2b$", 4);
	tmp = tu_tmpdir("http");
	port = tu_free_port(SOCK_STREAM);
	pid = start_worker("http", port, NULL, "login_rate = 1000\ntoken_cache_ttl = 1s\n",
	    &logpath);
	if (!tu_wait_for(ready200, &port, 15000))
		ck_abort_msg("holdfast-http never became ready");
}

static void
teardown(void)
{
	if (pid > 0)
		tu_stop(pid, 5000);
	tu_show_file_if("HTTP_TEST_LOG", logpath);
	pgt_destroy(pg);
	tu_rmrf(tmp);
}

/* ---- helpers ---- */

static int
req(const char *method, const char *path, const char *hdrs, const char *body,
    char **rb, char **rh)
{
	return tu_http(port, method, path, hdrs, body, body ? strlen(body) : 0,
	    rb, rh, 10000);
}

static int
has_header(const char *head, const char *line)
{
	return head != NULL && strcasestr(head, line) != NULL;
}

static char *
login(const char *email, const char *password, int *status)
{
	char	 body[256], *rb = NULL, *tok, *end;

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}",
	    email, password);
	*status = req("POST", "/api/auth/login", "Content-Type: application/json",
	    body, &rb, NULL);
	if (*status != 200 || rb == NULL || (tok = strstr(rb, "\"token\":\"")) == NULL) {
		free(rb);
		return NULL;
	}
	tok += 9;
	end = strchr(tok, '"');
	tok = strndup(tok, (size_t)(end - tok));
	free(rb);
	return tok;
}

static char *
bearer(const char *token)
{
	char *h;

	if (asprintf(&h, "Authorization: Bearer %s", token) < 0)
		abort();
	return h;
}

static int
post_webhook(const char *body, const char *sig, char **rb)
{
	char hdr[160];

	if (sig != NULL)
		snprintf(hdr, sizeof(hdr), "Content-Type: application/json\n"
		    "X-Hub-Signature-256: %s", sig);
	else
		snprintf(hdr, sizeof(hdr), "Content-Type: application/json");
	return req("POST", "/webhooks/whatsapp", hdr, body, rb, NULL);
}

static int
post_signed(const char *body, char **rb)
{
	char sig[72];

	wa_signature_make("test_app_secret", body, strlen(body), sig);
	return post_webhook(body, sig, rb);
}

/* ---- tests ---- */

/*
 * The access log (buffered, one write per loop iteration) is written by
 * the time its reply arrives, in log.c's line format, secrets in the query
 * removed, an encoded line break left encoded (never decoded into a line).
 */
static void
access_log_lines(void)
{
	char	*log, pfx[64];

	ck_assert_int_eq(req("GET", "/healthz?token=s3cr3t&x=1", NULL, NULL, NULL, NULL), 200);
	ck_assert_int_eq(req("GET", "/he%0Aal%0Dthz", NULL, NULL, NULL, NULL), 404);
	ck_assert_ptr_nonnull(log = tu_read_file(logpath, NULL));
	snprintf(pfx, sizeof(pfx), "Z INFO holdfast-http[%d]: [ACCESS] GET /readyz status=200 ",
	    (int)pid);
	ck_assert_ptr_nonnull(strstr(log, pfx));
	ck_assert_ptr_nonnull(strstr(log, "[ACCESS] GET /healthz?token=***&x=1 status=200 "));
	ck_assert_ptr_nonnull(strstr(log, "[ACCESS] GET /he%0Aal%0Dthz status=404 "));
	ck_assert_ptr_null(strstr(log, "s3cr3t"));
	ck_assert_ptr_nonnull(strstr(log, "[ACCESS] GET /metrics status=200 "));
	free(log);
}

START_TEST(test_health_and_errors)
{
	char *rb, *rh;

	ck_assert_int_eq(req("GET", "/healthz", NULL, NULL, &rb, &rh), 200);
	ck_assert_str_eq(rb, "{\"status\":\"ok\"}");
	ck_assert(has_header(rh, "Content-Type: application/json"));
	free(rb); free(rh);
	ck_assert_int_eq(req("GET", "/readyz", NULL, NULL, &rb, NULL), 200);
	ck_assert_str_eq(rb, "{\"status\":\"ready\",\"db\":\"up\"}");
	free(rb);
	ck_assert_int_eq(req("GET", "/nope", NULL, NULL, &rb, &rh), 404);
	ck_assert_str_eq(rb, "{\"error\":\"NOT_FOUND\",\"detail\":\"No such resource\",\"status\":404}");
	ck_assert(has_header(rh, "Content-Type: application/json"));
	free(rb); free(rh);
	ck_assert_int_eq(req("DELETE", "/api/auth/login", NULL, NULL, &rb, &rh), 405);
	ck_assert_ptr_nonnull(strstr(rb, "\"error\":\"METHOD_NOT_ALLOWED\""));
	ck_assert(has_header(rh, "Allow: POST"));
	free(rb); free(rh);
	ck_assert_int_eq(req("GET", "/api/conversations/abc", NULL, NULL, NULL, NULL), 404);
	ck_assert_int_eq(req("GET", "/metrics", NULL, NULL, &rb, NULL), 200);
	ck_assert_ptr_nonnull(strstr(rb,
	    "holdfast_http_requests_total{route=\"/healthz\",status=\"200\"}"));
	ck_assert_ptr_nonnull(strstr(rb, "holdfast_db_up 1"));
	ck_assert_ptr_nonnull(strstr(rb, "holdfast_http_info{instance=\"http\""));
	ck_assert_ptr_nonnull(strstr(rb, "holdfast_http_request_duration_seconds_bucket"));
	free(rb);
	access_log_lines();
}
END_TEST

START_TEST(test_login_paths)
{
	char		*tok, *rb, *rh, sql[256], big[6000];
	int		 st;
	long long	 n;

	tok = login("agent@example.com", PASSWORD, &st);
	ck_assert_int_eq(st, 200);
	ck_assert_uint_eq(strlen(tok), 64);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM auth_tokens WHERE token_hash = "
	    "sha256(convert_to('%s', 'UTF8')) AND expires_at > now() + interval '23 hours'",
	    tok);
	ck_assert_int_eq(pgt_scalar(pg, "hf", sql), 1);
	ck_assert_int_eq(tu_count_in_file(logpath, tok), 0);
	ck_assert_int_eq(tu_count_in_file(logpath, PASSWORD), 0);
	free(tok);
	ck_assert_ptr_nonnull(tok = login("bcrypt@example.com", PASSWORD, &st));
	free(tok);
	ck_assert_int_eq(req("POST", "/api/auth/login", NULL,
	    "{\"email\":\"agent@example.com\",\"password\":\"nope\"}", &rb, NULL), 401);
	ck_assert_str_eq(rb, "{\"error\":\"INVALID_CREDENTIALS\","
	    "\"detail\":\"Invalid email or password\",\"status\":401}");
	free(rb);
	ck_assert_int_eq(req("POST", "/api/auth/login", NULL,
	    "{\"email\":\"ghost@example.com\",\"password\":\"nope\"}", &rb, NULL), 401);
	ck_assert_ptr_nonnull(strstr(rb, "INVALID_CREDENTIALS"));
	free(rb);
	ck_assert_int_eq(req("POST", "/api/auth/login", NULL, "{\"email\":", &rb, &rh), 400);
	ck_assert_ptr_nonnull(strstr(rb, "\"error\":\"BAD_REQUEST\""));
	ck_assert(has_header(rh, "Content-Type: application/json"));
	free(rb); free(rh);
	ck_assert_int_eq(req("POST", "/api/auth/login", NULL, "{\"email\":1}", NULL, NULL), 400);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(req("POST", "/api/auth/login", NULL, big, &rb, NULL), 413);
	ck_assert_ptr_nonnull(strstr(rb, "\"status\":413"));
	free(rb);
	n = pgt_scalar(pg, "hf", "SELECT count(*) FROM auth_tokens");
	ck_assert_int_eq(n, 2);
}
END_TEST

static void
seed_conversations(void)
{
	ck_assert_int_eq(pgt_psql(pg, "hf",
	    "INSERT INTO conversations (id, phone_number_id, wa_id, status, opened_at, last_message_at) "
	    "SELECT i, 'P', 'W' || i, CASE WHEN i % 2 = 0 THEN 'closed' ELSE 'open' END, "
	    "timestamptz '2026-01-01' + i * interval '1 minute', "
	    "timestamptz '2026-01-01' + i * interval '1 minute' + interval '0.123456 s' "
	    "FROM generate_series(1, 5) i;"
	    "INSERT INTO wa_messages (wamid, phone_number_id, wa_id, direction, body, sent_at, conversation_id) "
	    "VALUES ('m1', 'P', 'W3', 'in', 'first', '2026-01-01 00:03', 3), "
	    "('m2', 'P', 'W3', 'out', 'second', '2026-01-01 00:04', 3);"
	    "INSERT INTO calls (call_id, from_uri, to_uri, started_at, ended_at, duration_ms, disposition) "
	    "VALUES ('c1', 'sip:a@x', 'sip:b@x', '2026-01-01 00:00', '2026-01-01 00:01', 60000, 'ANSWERED'), "
	    "('c2', 'sip:a@x', 'sip:b@x', '2026-01-02 00:00', '2026-01-02 00:00', 0, 'CANCELLED')",
	    NULL), 0);
}

/* The value of "next_before" as a string, or NULL when it is null. */
static char *
next_before(const char *rb)
{
	const char *p = strstr(rb, "\"next_before\" : \"");
	size_t skip = 17;

	if (p == NULL) {
		p = strstr(rb, "\"next_before\":\"");
		skip = 15;
	}
	if (p == NULL)
		return NULL;
	p += skip;
	return strndup(p, strcspn(p, "\""));
}

START_TEST(test_conversations_paths)
{
	char	*tok, *auth, *rb, *cur, path[128];
	int	 st;

	seed_conversations();
	ck_assert_ptr_nonnull(tok = login("agent@example.com", PASSWORD, &st));
	auth = bearer(tok);
	ck_assert_int_eq(req("GET", "/api/conversations?limit=2", auth, NULL, &rb, NULL), 200);
	ck_assert_ptr_nonnull(strstr(rb, "\"wa_id\":\"W5\""));
	ck_assert_ptr_nonnull(strstr(rb, "\"wa_id\":\"W4\""));
	ck_assert(strstr(rb, "\"wa_id\":\"W5\"") < strstr(rb, "\"wa_id\":\"W4\""));
	ck_assert_ptr_nonnull(cur = next_before(rb));
	free(rb);
	snprintf(path, sizeof(path), "/api/conversations?limit=2&before=%s", cur);
	free(cur);
	ck_assert_int_eq(req("GET", path, auth, NULL, &rb, NULL), 200);
	ck_assert_ptr_nonnull(strstr(rb, "\"wa_id\":\"W3\""));
	ck_assert_ptr_nonnull(strstr(rb, "\"wa_id\":\"W2\""));
	ck_assert_ptr_null(strstr(rb, "\"wa_id\":\"W4\""));
	ck_assert_ptr_nonnull(cur = next_before(rb));
	free(rb);
	snprintf(path, sizeof(path), "/api/conversations?limit=2&before=%s", cur);
	free(cur);
	ck_assert_int_eq(req("GET", path, auth, NULL, &rb, NULL), 200);
	ck_assert_ptr_nonnull(strstr(rb, "\"wa_id\":\"W1\""));
	ck_assert_ptr_null(next_before(rb));
	free(rb);
	ck_assert_int_eq(req("GET", "/api/conversations?status=closed", auth, NULL, &rb, NULL), 200);
	ck_assert_ptr_nonnull(strstr(rb, "\"wa_id\":\"W4\""));
	ck_assert_ptr_null(strstr(rb, "\"wa_id\":\"W3\""));
	free(rb);
	ck_assert_int_eq(req("GET", "/api/conversations/3", auth, NULL, &rb, NULL), 200);
	ck_assert_ptr_nonnull(strstr(rb, "\"first\""));
	ck_assert_ptr_nonnull(strstr(rb, "\"second\""));
	ck_assert(strstr(rb, "\"first\"") < strstr(rb, "\"second\""));
	free(rb);
	ck_assert_int_eq(req("GET", "/api/conversations/999", auth, NULL, &rb, NULL), 404);
	ck_assert_ptr_nonnull(strstr(rb, "\"error\":\"NOT_FOUND\""));
	free(rb);
	ck_assert_int_eq(req("GET", "/api/conversations?status=bogus", auth, NULL, NULL, NULL), 400);
	ck_assert_int_eq(req("GET", "/api/conversations?limit=0", auth, NULL, NULL, NULL), 400);
	ck_assert_int_eq(req("GET", "/api/conversations?before=junk", auth, NULL, NULL, NULL), 400);
	/* Well-formed cursors whose time PostgreSQL cannot represent: 400 before
	 * any statement (it refused them as DATA, a 500), with a valid token too. */
	ck_assert_int_eq(req("GET", "/api/calls?before=4611686018427387903_1", auth,
	    NULL, &rb, NULL), 400);
	ck_assert_ptr_nonnull(strstr(rb, "\"error\":\"BAD_REQUEST\""));
	free(rb);
	ck_assert_int_eq(req("GET", "/api/conversations?before=-4611686018427387903_1",
	    auth, NULL, NULL, NULL), 400);
	ck_assert_int_eq(req("GET", "/api/conversations?before=253402300800000000_1",
	    auth, NULL, NULL, NULL), 400);
	ck_assert_int_eq(req("GET", "/api/conversations?before=253402300799999999_1",
	    auth, NULL, NULL, NULL), 200);
	ck_assert_int_eq(req("GET", "/api/calls", auth, NULL, &rb, NULL), 200);
	ck_assert(strstr(rb, "\"c2\"") != NULL && strstr(rb, "\"c2\"") < strstr(rb, "\"c1\""));
	free(rb);
	ck_assert_int_eq(req("GET", "/api/conversations", NULL, NULL, NULL, NULL), 401);
	ck_assert_int_eq(req("GET", "/api/conversations/3",
	    "Authorization: Bearer 00000000000000000000000000000000", NULL, &rb, NULL), 401);
	ck_assert_ptr_nonnull(strstr(rb, "\"error\":\"UNAUTHORIZED\""));
	free(rb);
	ck_assert_int_eq(req("GET", "/api/calls", "Authorization: Basic x", NULL, NULL, NULL), 401);
	free(auth);
	free(tok);
}
END_TEST

START_TEST(test_webhook_handshake)
{
	char *rb, *rh;

	ck_assert_int_eq(req("GET", "/webhooks/whatsapp?hub.mode=subscribe"
	    "&hub.verify_token=vtok-123&hub.challenge=1158201444", NULL, NULL, &rb, &rh), 200);
	ck_assert_str_eq(rb, "1158201444");
	ck_assert(has_header(rh, "Content-Type: text/plain"));
	free(rb); free(rh);
	ck_assert_int_eq(req("GET", "/webhooks/whatsapp?hub.mode=subscribe"
	    "&hub.verify_token=wrong&hub.challenge=1", NULL, NULL, &rb, &rh), 403);
	ck_assert_ptr_nonnull(strstr(rb, "\"error\":\"FORBIDDEN\""));
	ck_assert(has_header(rh, "Content-Type: application/json"));
	free(rb); free(rh);
	ck_assert_int_eq(req("GET", "/webhooks/whatsapp?hub.mode=unsubscribe"
	    "&hub.verify_token=vtok-123&hub.challenge=1", NULL, NULL, NULL, NULL), 403);
	/* The verify token never reaches the access log. */
	ck_assert_int_eq(tu_count_in_file(logpath, "vtok-123"), 0);
	ck_assert_int_gt(tu_count_in_file(logpath, "hub.verify_token=***"), 0);
}
END_TEST

START_TEST(test_webhook_store)
{
	static const char wamid[] =
	    "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=";
	char	*rb, *cafe, sql[768];

	ck_assert_int_eq(post_signed(WA_TEXT, &rb), 200);
	ck_assert_ptr_nonnull(strstr(rb, "\"messages\":1"));
	free(rb);
	/* Meta redelivers: stored once. */
	ck_assert_int_eq(post_signed(WA_TEXT, NULL), 200);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM wa_messages WHERE wamid = '%s' "
	    "AND phone_number_id = '106540352242922' AND wa_id = '16505551234' "
	    "AND direction = 'in' AND msg_type = 'text' "
	    "AND body = 'Does it come in another color?' "
	    "AND sent_at = to_timestamp(1749416383) AND conversation_id IS NULL", wamid);
	ck_assert_int_eq(pgt_scalar(pg, "hf", sql), 1);
	ck_assert_int_eq(pgt_scalar(pg, "hf", "SELECT count(*) FROM wa_contacts WHERE "
	    "wa_id = '16505551234' AND profile_name = 'Sheena Nelson' "
	    "AND last_inbound_at = to_timestamp(1749416383)"), 1);
	ck_assert_int_eq(post_signed(WA_STATUS_SENT, NULL), 200);
	ck_assert_int_eq(post_signed(WA_STATUS_SENT, NULL), 200);
	ck_assert_int_eq(pgt_scalar(pg, "hf", "SELECT count(*) FROM wa_statuses WHERE "
	    "wamid = 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=' "
	    "AND status = 'sent' AND status_at = to_timestamp(1750030073)"), 1);
	/* The reference test vector, with the header Meta would send: the
	 * same wamid as WA_TEXT, so a redelivery: accepted, not stored again. */
	ck_assert_int_eq(post_webhook(WA_TEXT_CAFE, WA_TEXT_CAFE_SIG, NULL), 200);
	ck_assert_int_eq(pgt_scalar(pg, "hf", sql), 1);
	/* Escaped non-ASCII is stored as the text it stands for. */
	cafe = strdup(WA_TEXT_CAFE);
	memcpy(strstr(cafe, "wamid.HBgL"), "wamid.CAFE", 10);
	ck_assert_int_eq(post_signed(cafe, NULL), 200);
	free(cafe);
	ck_assert_int_eq(pgt_scalar(pg, "hf", "SELECT count(*) FROM wa_messages "
	    "WHERE body = 'Caf\u00e9 \u00e4\u00f6\u00e5?' AND wamid LIKE 'wamid.CAFE%'"), 1);
	/* A failed status keeps its errors as JSON. */
	ck_assert_int_eq(post_signed("{\"entry\":[{\"changes\":[{\"value\":{"
	    "\"metadata\":{\"phone_number_id\":\"P\"},\"statuses\":[{\"id\":\"wamid.out1\","
	    "\"status\":\"failed\",\"timestamp\":\"1750030080\",\"recipient_id\":\"X\","
	    "\"errors\":[{\"code\":131047,\"title\":\"Re-engagement message\"}]}]}}]}]}",
	    NULL), 200);
	ck_assert_int_eq(pgt_scalar(pg, "hf", "SELECT count(*) FROM wa_statuses WHERE "
	    "wamid = 'wamid.out1' AND status = 'failed' AND errors->0->>'code' = '131047'"), 1);
	/* The same message twice in one batch: stored once, one transaction. */
	ck_assert_int_eq(post_signed("{\"entry\":[{\"changes\":[{\"value\":{"
	    "\"metadata\":{\"phone_number_id\":\"P\"},\"messages\":["
	    "{\"from\":\"Y\",\"id\":\"wamid.twice\",\"timestamp\":\"1749416500\",\"type\":\"text\",\"text\":{\"body\":\"a\"}},"
	    "{\"from\":\"Y\",\"id\":\"wamid.twice\",\"timestamp\":\"1749416500\",\"type\":\"text\",\"text\":{\"body\":\"a\"}}"
	    "]}}]}]}", NULL), 200);
	ck_assert_int_eq(pgt_scalar(pg, "hf", "SELECT count(*) FROM wa_messages WHERE "
	    "wamid = 'wamid.twice'"), 1);
	/* An unknown message type is kept with its JSON. */
	ck_assert_int_eq(post_signed("{\"object\":\"whatsapp_business_account\","
	    "\"entry\":[{\"changes\":[{\"value\":{\"metadata\":{\"phone_number_id\":\"P\"},"
	    "\"messages\":[{\"from\":\"X\",\"id\":\"wamid.new\",\"timestamp\":\"1749416400\","
	    "\"type\":\"hologram\",\"hologram\":{\"v\":1}}]}}]}]}", NULL), 200);
	ck_assert_int_eq(pgt_scalar(pg, "hf", "SELECT count(*) FROM wa_messages WHERE "
	    "wamid = 'wamid.new' AND msg_type = 'hologram' AND raw->'hologram'->>'v' = '1'"), 1);
}
END_TEST

START_TEST(test_webhook_rejects)
{
	char		*rb, *big;
	size_t		 n = 4 * 1024 * 1024 + 1;
	long long	 before = pgt_scalar(pg, "hf", "SELECT count(*) FROM wa_messages");
	char		 sig[72];
	int		 st;

	ck_assert_int_eq(post_webhook(WA_TEXT, NULL, &rb), 401);
	ck_assert_ptr_nonnull(strstr(rb, "\"error\":\"UNAUTHORIZED\""));
	free(rb);
	ck_assert_int_eq(post_webhook(WA_TEXT, WA_TEXT_CAFE_SIG, NULL), 401);
	ck_assert_int_eq(post_webhook(WA_TEXT, "sha256=xyz", NULL), 401);
	/* Re-encoded as UTF-8, the vector's signature no longer matches. */
	ck_assert_int_eq(post_webhook(WA_TEXT_CAFE_UTF8, WA_TEXT_CAFE_SIG, NULL), 401);
	ck_assert_int_eq(post_signed("{\"entry\":[", &rb), 400);
	ck_assert_ptr_nonnull(strstr(rb, "\"error\":\"BAD_REQUEST\""));
	free(rb);
	big = malloc(n + 1);
	memset(big, ' ', n);
	big[0] = '{'; big[n - 1] = '}'; big[n] = '\0';
	wa_signature_make("test_app_secret", big, n, sig);
	{
		char hdr[128];

		snprintf(hdr, sizeof(hdr), "X-Hub-Signature-256: %s", sig);
		st = tu_http(port, "POST", "/webhooks/whatsapp", hdr, big, n, &rb, NULL, 10000);
	}
	ck_assert_int_eq(st, 413);
	ck_assert_ptr_nonnull(strstr(rb, "\"status\":413"));
	free(rb);
	/* Just under the limit is accepted. */
	big[n - 2] = '}';
	wa_signature_make("test_app_secret", big, n - 1, sig);
	{
		char hdr[128];

		snprintf(hdr, sizeof(hdr), "X-Hub-Signature-256: %s", sig);
		st = tu_http(port, "POST", "/webhooks/whatsapp", hdr, big, n - 1, NULL, NULL, 10000);
	}
	ck_assert_int_eq(st, 200);
	free(big);
	ck_assert_int_eq(pgt_scalar(pg, "hf", "SELECT count(*) FROM wa_messages"), before);
	ck_assert(tu_pid_alive(pid));
}
END_TEST

START_TEST(test_login_rate_limit)
{
	static const char body[] = "{\"email\":\"a@b\",\"password\":\"x\"}";
	char	*log, *rb, *rh;
	int	 p = tu_free_port(SOCK_STREAM), i, st = 0;
	pid_t	 w;

	w = start_worker("rl", p, NULL, "login_rate = 3\n", &log);
	ck_assert(tu_wait_for(ready200, &p, 15000));
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(tu_http(p, "POST", "/api/auth/login", NULL, body,
		    strlen(body), NULL, NULL, 10000), 401);
	st = tu_http(p, "POST", "/api/auth/login", NULL, body, strlen(body),
	    &rb, &rh, 10000);
	ck_assert_int_eq(st, 429);
	ck_assert_ptr_nonnull(strstr(rb, "\"error\":\"TOO_MANY_REQUESTS\""));
	ck_assert(has_header(rh, "Retry-After:"));
	free(rb); free(rh);
	/* Other routes are not limited. */
	ck_assert_int_eq(tu_http(p, "GET", "/healthz", NULL, NULL, 0, NULL, NULL, 2000), 200);
	tu_stop(w, 5000);
	free(log);
}
END_TEST

static int
healthy(void *arg)
{
	return tu_http(*(int *)arg, "GET", "/healthz", NULL, NULL, 0, NULL, NULL, 2000) == 200;
}

/* A keep-alive connection that has had one request answered. */
static int
open_kept(int p)
{
	static const char	 req1[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	char			 buf[512];
	int			 fd = tu_connect(p);

	ck_assert_int_eq(write(fd, req1, sizeof(req1) - 1), (ssize_t)sizeof(req1) - 1);
	ck_assert_int_gt(read(fd, buf, sizeof(buf)), 0);
	return fd;
}

static int
status_is(const char *path, const char *auth, int want)
{
	return req("GET", path, auth, NULL, NULL, NULL) == want;
}

struct want { const char *path, *auth; int port, status; };

static int
want_status(void *arg)
{
	struct want *w = arg;

	return tu_http(w->port, "GET", w->path, w->auth, NULL, 0, NULL, NULL,
	    2000) == w->status;
}

/*
 * A worker whose cache trusts a token for an hour: after the token is
 * deleted, the single-conversation route still answers (the same JSON as
 * when the DB checked the token), until a route that checks the token in
 * SQL learns it is gone, which evicts it at once.
 */
START_TEST(test_token_cache_trust)
{
	char	*tok, *auth, *a = NULL, *b = NULL, *log;
	int	 st, p = tu_free_port(SOCK_STREAM);
	pid_t	 w;

	seed_conversations();
	w = start_worker("tc", p, NULL, "token_cache_ttl = 1h\n", &log);
	ck_assert(tu_wait_for(ready200, &p, 15000));
	ck_assert_ptr_nonnull(tok = login("agent@example.com", PASSWORD, &st));
	auth = bearer(tok);
	ck_assert_int_eq(tu_http(p, "GET", "/api/conversations/3", auth, NULL, 0,
	    &a, NULL, 10000), 200);
	ck_assert_int_eq(pgt_psql(pg, "hf", "DELETE FROM auth_tokens", NULL), 0);
	ck_assert_int_eq(tu_http(p, "GET", "/api/conversations/3", auth, NULL, 0,
	    &b, NULL, 10000), 200);
	ck_assert_str_eq(a, b);
	ck_assert_ptr_nonnull(strstr(b, "\"first\""));
	ck_assert_int_eq(tu_http(p, "GET", "/api/conversations/999", auth, NULL, 0,
	    NULL, NULL, 10000), 404);
	ck_assert_int_eq(tu_http(p, "GET", "/api/conversations", auth, NULL, 0,
	    NULL, NULL, 10000), 401);
	ck_assert_int_eq(tu_http(p, "GET", "/api/conversations/3", auth, NULL, 0,
	    NULL, NULL, 10000), 401);
	tu_stop(w, 5000);
	free(a);
	free(b);
	free(auth);
	free(tok);
	free(log);
}
END_TEST

/* The number after "name " in the worker's /metrics on port p, or -1. */
static long long
metric_at(int p, const char *name)
{
	char		*rb = NULL, *v, key[128];
	long long	 n = -1;

	if (tu_http(p, "GET", "/metrics", NULL, NULL, 0, &rb, NULL, 5000) == 200) {
		snprintf(key, sizeof(key), "\n%s ", name);
		if ((v = strstr(rb, key)) != NULL)
			n = atoll(v + strlen(key));
	}
	free(rb);
	return n;
}

/*
 * Reads of single conversations arriving together (a worker whose cache
 * trusts the token, so each is a lookup): 30 at once over raw sockets,
 * ids 1..5 and a missing one. They are answered by batch statements
 * (/metrics counts them), and each client gets its own conversation, or
 * 404, exactly as when asked alone.
 */
START_TEST(test_concurrent_reads_batched)
{
	enum { N = 30 };
	static const int ids[] = { 1, 2, 3, 4, 5, 999 };
	char	*tok, *auth, *log, *alone[6];
	int	 st, p = tu_free_port(SOCK_STREAM), fd[N];
	pid_t	 w;

	seed_conversations();
	w = start_worker("batch", p, NULL, "token_cache_ttl = 1h\n", &log);
	ck_assert(tu_wait_for(ready200, &p, 15000));
	ck_assert_ptr_nonnull(tok = login("agent@example.com", PASSWORD, &st));
	auth = bearer(tok);
	/* each alone first: the expected answers (and the token cached) */
	for (int i = 0; i < 6; i++) {
		char path[64];

		alone[i] = NULL;
		snprintf(path, sizeof(path), "/api/conversations/%d", ids[i]);
		ck_assert_int_eq(tu_http(p, "GET", path, auth, NULL, 0, &alone[i], NULL,
		    10000), ids[i] == 999 ? 404 : 200);
	}
	ck_assert_int_eq(metric_at(p, "holdfast_db_lookup_batches_total"), 0);
	for (int i = 0; i < N; i++)
		fd[i] = tu_connect(p);
	for (int i = 0; i < N; i++) {
		char *rq = xasprintf("GET /api/conversations/%d HTTP/1.1\r\nHost: x\r\n"
		    "%s\r\nConnection: close\r\n\r\n", ids[i % 6], auth);

		ck_assert_int_eq(tu_send_all(fd[i], rq, strlen(rq)), 0);
		free(rq);
	}
	for (int i = 0; i < N; i++) {
		char	 buf[16384], *body;
		size_t	 len = 0;
		ssize_t	 n;

		while (len < sizeof(buf) - 1 &&
		    (n = recv(fd[i], buf + len, sizeof(buf) - 1 - len, 0)) > 0)
			len += (size_t)n;
		buf[len] = '\0';
		close(fd[i]);
		ck_assert_msg(strncmp(buf, ids[i % 6] == 999 ? "HTTP/1.1 404 " :
		    "HTTP/1.1 200 ", 13) == 0, "client %d: %.60s", i, buf);
		ck_assert_ptr_nonnull(body = strstr(buf, "\r\n\r\n"));
		ck_assert_msg(strcmp(body + 4, alone[i % 6]) == 0,
		    "client %d (id %d): %s\nalone: %s", i, ids[i % 6], body + 4, alone[i % 6]);
	}
	ck_assert_int_ge(metric_at(p, "holdfast_db_lookup_batches_total"), 1);
	ck_assert_int_ge(metric_at(p, "holdfast_db_lookups_batched_total"), 2);
	tu_stop(w, 5000);
	for (int i = 0; i < 6; i++)
		free(alone[i]);
	free(auth);
	free(tok);
	free(log);
}
END_TEST

/* The fixture's worker trusts a token for 1 s (token_cache_ttl): a
 * disabled user's token is refused within that bound (plus slack). */
START_TEST(test_token_cache_expiry)
{
	char		*tok, *auth;
	int		 st;
	struct want	 wt;

	seed_conversations();
	ck_assert_ptr_nonnull(tok = login("agent@example.com", PASSWORD, &st));
	auth = bearer(tok);
	ck_assert(status_is("/api/conversations/3", auth, 200));
	ck_assert_int_eq(pgt_psql(pg, "hf", "UPDATE users SET disabled = true", NULL), 0);
	wt = (struct want){ "/api/conversations/3", auth, port, 401 };
	ck_assert_msg(tu_wait_for(want_status, &wt, 3000),
	    "a disabled user's token still accepted 3 s later (token_cache_ttl 1s)");
	free(auth);
	free(tok);
}
END_TEST

/* Header and connection limits: JSON refusals, and the worker goes on. */
START_TEST(test_limits)
{
	char	*hdr, *rb, *log;
	int	 p = tu_free_port(SOCK_STREAM), a, b;
	pid_t	 w;

	hdr = malloc(10000);
	strcpy(hdr, "X-Big: ");
	memset(hdr + 7, 'a', 9000);
	hdr[9007] = '\0';
	ck_assert_int_eq(req("GET", "/healthz", hdr, NULL, &rb, NULL), 431);
	ck_assert_ptr_nonnull(strstr(rb, "\"error\":\"REQUEST_HEADER_FIELDS_TOO_LARGE\""));
	free(rb);
	free(hdr);
	ck_assert_int_eq(req("GET", "/healthz", NULL, NULL, NULL, NULL), 200);

	w = start_worker("mc", p, NULL, "max_connections = 2\n", &log);
	ck_assert(tu_wait_for(healthy, &p, 15000));
	a = open_kept(p);
	b = open_kept(p);
	ck_assert_int_eq(tu_http(p, "GET", "/healthz", NULL, NULL, 0, &rb, NULL, 5000), 503);
	ck_assert_ptr_nonnull(strstr(rb, "Too many connections"));
	free(rb);
	close(a);
	ck_assert(tu_wait_for(healthy, &p, 5000));
	close(b);
	tu_stop(w, 5000);
	free(log);
}
END_TEST

/* The seed's acceptance check, with the DB stopped. */
START_TEST(test_db_stopped)
{
	char	*rb, *rh, *tok;
	int	 st;

	ck_assert_int_eq(pgt_stop(pg, "fast"), 0);
	st = req("POST", "/api/auth/login", "Content-Type: application/json",
	    "{\"email\":\"agent@example.com\",\"password\":\"" PASSWORD "\"}", &rb, &rh);
	ck_assert_int_eq(st, 503);
	ck_assert_str_eq(rb, DB_DOWN_BODY);
	ck_assert(has_header(rh, "Retry-After:"));
	ck_assert(has_header(rh, "Content-Type: application/json"));
	free(rb); free(rh);
	ck_assert(tu_wait_for(ready503, &port, 5000));
	ck_assert(healthy(&port));
	ck_assert_int_eq(req("POST", "/api/auth/login", NULL,
	    "{\"email\":\"agent@example.com\",\"password\":\"x\"}", &rb, NULL), 503);
	ck_assert_str_eq(rb, DB_DOWN_BODY);
	free(rb);
	ck_assert_int_eq(post_signed(WA_TEXT, NULL), 503);
	ck_assert_int_eq(req("GET", "/api/conversations/1",
	    "Authorization: Bearer 00000000000000000000000000000000", NULL, NULL, NULL), 503);
	ck_assert(tu_pid_alive(pid));
	ck_assert_int_eq(pgt_restart(pg), 0);
	ck_assert(tu_wait_for(ready200, &port, 10000));
	ck_assert_ptr_nonnull(tok = login("agent@example.com", PASSWORD, &st));
	free(tok);
	ck_assert(tu_pid_alive(pid));
	ck_assert_int_eq(tu_count_in_file(logpath, "[DB_DOWN]") > 0, 1);
}
END_TEST

/* The seed's incident: Neon disables the endpoint under a running worker. */
START_TEST(test_db_neon_disabled)
{
	struct fp	*f = fp_start(pgt_port(pg));
	char		 ci[160], *log, *rb, *rh, body[128];
	int		 p = tu_free_port(SOCK_STREAM), st;
	pid_t		 w;

	snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d dbname=hf user=postgres",
	    fp_port(f));
	w = start_worker("neon", p, ci, "login_rate = 1000\n", &log);
	ck_assert(tu_wait_for(ready200, &p, 15000));
	/* Live connections die, new ones get Neon's error. */
	ck_assert_int_eq(fp_set(f, "reset"), 0);
	ck_assert_int_eq(fp_set(f, "neon"), 0);
	snprintf(body, sizeof(body),
	    "{\"email\":\"agent@example.com\",\"password\":\"%s\"}", PASSWORD);
	st = tu_http(p, "POST", "/api/auth/login", NULL, body, strlen(body), &rb, &rh, 10000);
	ck_assert_int_eq(st, 503);
	ck_assert_str_eq(rb, DB_DOWN_BODY);
	ck_assert(has_header(rh, "Retry-After:"));
	free(rb); free(rh);
	ck_assert(tu_wait_for(ready503, &p, 5000));
	ck_assert(tu_wait_file_count(log, "reason=NeonEndpointDisabled", 1, 5000));
	st = tu_http(p, "POST", "/api/auth/login", NULL, body, strlen(body), &rb, NULL, 10000);
	ck_assert_int_eq(st, 503);
	ck_assert_str_eq(rb, DB_DOWN_BODY);
	free(rb);
	ck_assert(healthy(&p));
	ck_assert(tu_pid_alive(w));
	/* The endpoint is enabled again: back without a restart. */
	ck_assert_int_eq(fp_set(f, "pass"), 0);
	ck_assert(tu_wait_for(ready200, &p, 10000));
	ck_assert_int_eq(tu_http(p, "POST", "/api/auth/login", NULL, body, strlen(body),
	    NULL, NULL, 10000), 200);
	ck_assert(tu_pid_alive(w));
	ck_assert_int_eq(tu_count_in_file(log, "[DB_RECOVERED]") > 0, 1);
	tu_stop(w, 5000);
	fp_stop(f);
	free(log);
}
END_TEST

/* A frozen DB (SIGSTOP) costs a 503 at the query deadline, not a hang. */
START_TEST(test_db_frozen)
{
	char		*rb;
	int		 st;
	uint64_t	 t0;
	struct timespec	 ts;

	ck_assert_int_eq(pgt_freeze(pg), 0);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	st = req("POST", "/api/auth/login", NULL,
	    "{\"email\":\"agent@example.com\",\"password\":\"x\"}", &rb, NULL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ck_assert_int_eq(pgt_thaw(pg), 0);
	ck_assert_int_eq(st, 503);
	ck_assert_ptr_nonnull(strstr(rb, "\"error\":\"SERVICE_UNAVAILABLE\""));
	ck_assert_uint_lt((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 - t0, 8000);
	free(rb);
	ck_assert(healthy(&port));
	ck_assert(tu_wait_for(ready200, &port, 10000));
}
END_TEST

static int
lock_held(void *unused)
{
	return pgt_scalar(pg, "hf", "SELECT count(*) FROM pg_locks l JOIN pg_class c "
	    "ON c.oid = l.relation WHERE c.relname = 'users' AND l.mode = "
	    "'AccessExclusiveLock' AND l.granted") == 1;
}

/* psql holding an exclusive lock on users for 30 s: logins wait on it. */
static pid_t
spawn_locker(void)
{
	static char	 cmd[256], portstr[16];
	char		*argv[] = { cmd, "-h", "127.0.0.1", "-U", "postgres", "-d", "hf",
			    "-p", portstr, "-c",
			    "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30)",
			    NULL };
	pid_t		 p;

	snprintf(cmd, sizeof(cmd), "%s/psql", pgt_bindir());
	snprintf(portstr, sizeof(portstr), "%d", pgt_port(pg));
	p = tu_spawn(argv, NULL, "/dev/null");
	ck_assert(tu_wait_for(lock_held, NULL, 5000));
	return p;
}

/* A statement that outlives statement_timeout (2 s here) is a 503 with
 * its own detail; the DB is not marked down for it. */
START_TEST(test_db_statement_timeout)
{
	char	*rb, *rh;
	pid_t	 locker = spawn_locker();

	ck_assert_int_eq(req("POST", "/api/auth/login", NULL,
	    "{\"email\":\"agent@example.com\",\"password\":\"x\"}", &rb, &rh), 503);
	ck_assert_str_eq(rb, "{\"error\":\"SERVICE_UNAVAILABLE\","
	    "\"detail\":\"Database statement timed out\",\"status\":503}");
	ck_assert(has_header(rh, "Retry-After:"));
	free(rb); free(rh);
	ck_assert_int_eq(req("GET", "/readyz", NULL, NULL, NULL, NULL), 200);
	tu_stop(locker, 2000);
}
END_TEST

static int
closed_by_peer(void *arg)
{
	char	buf[512];
	ssize_t	n = recv(*(int *)arg, buf, sizeof(buf), MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/*
 * A client that stops halfway through its request is disconnected after
 * request_timeout; one that hangs up while its request waits on the DB
 * costs nothing: the answer is dropped and the worker goes on.
 */
START_TEST(test_slow_and_gone_clients)
{
	static const char	 half[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
	static const char	 login_req[] = "POST /api/auth/login HTTP/1.1\r\n"
	    "Host: x\r\nContent-Type: application/json\r\nContent-Length: 44\r\n\r\n"
	    "{\"email\":\"agent@example.com\",\"password\":\"x\"}";
	char			*log;
	int			 p = tu_free_port(SOCK_STREAM), fd;
	pid_t			 w, locker;

	w = start_worker("rt", p, NULL, "request_timeout = 1s\n", &log);
	ck_assert(tu_wait_for(healthy, &p, 15000));
	fd = tu_connect(p);
	ck_assert_int_eq(write(fd, half, sizeof(half) - 1), (ssize_t)sizeof(half) - 1);
	ck_assert_msg(tu_wait_for(closed_by_peer, &fd, 5000),
	    "a half-sent request kept its connection 5 s (request_timeout 1s)");
	close(fd);
	ck_assert(tu_wait_for(healthy, &p, 2000));

	locker = spawn_locker();
	fd = tu_connect(p);
	ck_assert_int_eq(write(fd, login_req, sizeof(login_req) - 1),
	    (ssize_t)sizeof(login_req) - 1);
	usleep(300 * 1000);
	close(fd);
	tu_stop(locker, 2000);
	ck_assert(tu_wait_for(healthy, &p, 5000));
	ck_assert(tu_wait_for(ready200, &p, 5000));
	ck_assert(tu_pid_alive(w));
	ck_assert_int_eq(tu_stop(w, 5000), 0);
	free(log);
}
END_TEST

/* The DB dies (SIGKILL) while a request waits on it: 503, not a hang. */
START_TEST(test_db_killed_mid_request)
{
	pid_t	 locker = spawn_locker(), child;
	int	 status;

	if ((child = fork()) == 0) {
		static const char body[] =
		    "{\"email\":\"agent@example.com\",\"password\":\"x\"}";
		char *rb = NULL;
		int st = tu_http(port, "POST", "/api/auth/login", NULL, body,
		    strlen(body), &rb, NULL, 10000);

		/* 0: the promised 503; 1: a 503 with another body; else st/100 + 10 */
		if (st == 503)
			_exit(rb != NULL && strcmp(rb, DB_DOWN_BODY) == 0 ? 0 : 1);
		_exit(st < 0 ? 9 : 10 + st / 100);
	}
	usleep(500 * 1000);
	ck_assert_int_eq(pgt_kill9(pg), 0);
	ck_assert_int_eq(tu_wait_pid(child, 10000, &status), 0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	tu_stop(locker, 2000);
	ck_assert(tu_pid_alive(pid));
	ck_assert_int_eq(pgt_restart(pg), 0);
	ck_assert(tu_wait_for(ready200, &port, 10000));
}
END_TEST

/* ---- under holdfastd: numprocs instances on one inherited socket ---- */

static struct hfd sup;

static int ctl_ok(void *args) { return hfd_ctl(&sup, args, NULL) == 0; }

static int
ctl_health_down(void *unused)
{
	return hfd_ctl(&sup, "health >/dev/null", NULL) == 3;
}

/* The first pid `holdfastctl pid NAME` prints, or -1. */
static pid_t
instance_pid(const char *name)
{
	char	*out = NULL, args[64];
	long	 v = -1;

	snprintf(args, sizeof(args), "pid %s", name);
	if (hfd_ctl(&sup, args, &out) == 0 && out != NULL)
		v = strtol(out + strcspn(out, "0123456789"), NULL, 10);
	free(out);
	return v > 0 ? (pid_t)v : -1;
}

/*
 * Two instances share the socket holdfastd hands down; one killed, the
 * other keeps answering while it is respawned; the DB state each reports
 * reaches `holdfastctl health`.
 */
START_TEST(test_supervised)
{
	char	*text, *http = tu_buildpath("workers/http/holdfast-http");
	int	 p = tu_free_port(SOCK_STREAM), i, ok = 0;
	pid_t	 victim;

	if (asprintf(&text, "[holdfast]\ncontrol_socket = run/hf.sock\nshutdown_timeout = 5s\n"
	    "[database]\nconninfo = %s\nbackoff_initial = 100ms\nbackoff_max = 400ms\n"
	    "[whatsapp]\nverify_token = v\napp_secret = s\n"
	    "[worker:http]\ncommand = %s\nnumprocs = 2\nlisten = 127.0.0.1:%d\n",
	    pgt_conninfo(pg, "hf"), http, p) < 0)
		abort();
	hfd_init(&sup, "http-sup");
	hfd_write_conf(&sup, text);
	hfd_spawn(&sup, NULL);
	ck_assert(tu_wait_for(ctl_ok, "status http >/dev/null", 30000));
	ck_assert(tu_wait_for(ready200, &p, 10000));
	ck_assert(tu_wait_for(ctl_ok, "health >/dev/null", 10000));
	ck_assert_int_gt(victim = instance_pid("http:0"), 0);
	kill(victim, SIGKILL);
	/* The other instance answers while http:0 is respawned. */
	for (i = 0; i < 20; i++) {
		ok += healthy(&p);
		usleep(10 * 1000);
	}
	ck_assert_int_eq(ok, 20);
	ck_assert(tu_wait_for(ctl_ok, "status http >/dev/null", 10000));
	ck_assert_int_ne(instance_pid("http:0"), victim);
	/* Their DB state reaches holdfastd: down, then up again. */
	ck_assert_int_eq(pgt_stop(pg, "fast"), 0);
	ck_assert(tu_wait_for(ctl_health_down, NULL, 10000));
	ck_assert(healthy(&p));
	ck_assert_int_eq(pgt_restart(pg), 0);
	ck_assert(tu_wait_for(ctl_ok, "health >/dev/null", 10000));
	ck_assert_int_eq(hfd_stop(&sup, 10000), 0);
	hfd_free(&sup);
	free(text); free(http);
}
END_TEST

static TCase *
tcase(Suite *s, const char *name)
{
	TCase *tc = tu_tcase(s, name, 60);

	/* Checked: set up inside each forked test, so one test's DB outage or
	 * crash cannot leak into the next (a cluster costs ~0.1 s). */
	tcase_add_checked_fixture(tc, setup, teardown);
	return tc;
}

int
main(void)
{
	Suite	*s = suite_create("http");
	TCase	*tc;

	tc = tcase(s, "routes");
	tcase_add_test(tc, test_health_and_errors);
	tcase_add_test(tc, test_login_paths);
	tcase_add_test(tc, test_conversations_paths);
	tcase_add_test(tc, test_token_cache_trust);
	tcase_add_test(tc, test_concurrent_reads_batched);
	tcase_add_test(tc, test_token_cache_expiry);
	tcase_add_test(tc, test_login_rate_limit);
	tcase_add_test(tc, test_limits);
	tc = tcase(s, "webhook");
	tcase_add_test(tc, test_webhook_handshake);
	tcase_add_test(tc, test_webhook_store);
	tcase_add_test(tc, test_webhook_rejects);
	tc = tcase(s, "outage");
	tcase_add_test(tc, test_db_stopped);
	tcase_add_test(tc, test_db_neon_disabled);
	tcase_add_test(tc, test_db_frozen);
	tcase_add_test(tc, test_db_statement_timeout);
	tcase_add_test(tc, test_db_killed_mid_request);
	tcase_add_test(tc, test_slow_and_gone_clients);
	tc = tcase(s, "supervised");
	tcase_add_test(tc, test_supervised);
	return tu_run(s);
}
