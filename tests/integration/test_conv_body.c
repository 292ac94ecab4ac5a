/*
 * test_conv_body: GET /api/conversations/{id}'s JSON is stored with the
 * conversation (conversations.api_body, schema 0007) and kept by triggers.
 * Against a real PostgreSQL, every kind of write leaves each stored body
 * equal to its render from the rows as they are (the invariant), and the
 * body shows the change:
 * - a conversation inserted; messages inserted, edited, moved to another
 *   conversation, deleted, truncated; an update of the conversation;
 * - an update that changes nothing the body shows (processed_at) does not
 *   touch the conversation row at all;
 * - api_body cannot be written by hand; a row written with triggers off
 *   (a data-only restore) is still answered exactly by the read function;
 * - the writer's TimeZone does not leak into the body (UTC);
 * - more than 1000 messages: the body holds the last 1000;
 * - two transactions writing messages of one conversation at once: the
 *   later render sees the earlier's committed message.
 */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgt.h"
#include "tu.h"

#define STALE	"SELECT count(*) FROM conversations c " \
		"WHERE api_body IS DISTINCT FROM holdfast_conversation_render(c)"
#define CONV(id, wa) "INSERT INTO conversations (id, phone_number_id, wa_id, status, " \
		"opened_at, last_message_at) VALUES (" id ", '106540352242922', '" wa "', " \
		"'open', '2026-12-01 10:00:00+00', '2026-12-01 10:00:00+00')"
#define MSG(wamid, conv, body) "INSERT INTO wa_messages (wamid, phone_number_id, wa_id, " \
		"direction, body, sent_at, conversation_id) VALUES ('" wamid "', " \
		"'106540352242922', '16505551234', 'in', '" body "', " \
		"'2026-12-01 10:00:01+00', " conv ")"

static void
sql(struct pgt *pg, const char *q)
{
	char *out = NULL;

	ck_assert_msg(pgt_psql(pg, "t", q, &out) == 0, "%s: %s", q, out ? out : "");
	free(out);
}

/* conversation id's stored body (caller frees) */
static char *
body(struct pgt *pg, int id)
{
	char q[128], *out = NULL;

	snprintf(q, sizeof(q), "SELECT api_body FROM conversations WHERE id = %d", id);
	ck_assert_int_eq(pgt_psql(pg, "t", q, &out), 0);
	return out;
}

static int
body_has(struct pgt *pg, int id, const char *s)
{
	char	*b = body(pg, id);
	int	 has = strstr(b, s) != NULL;

	free(b);
	return has;
}

static struct pgt *
up(void)
{
	struct pgt *pg = pgt_start(NULL);

	pgt_createdb(pg, "t", 1);
	sql(pg, CONV("1", "16505551234"));
	sql(pg, CONV("2", "16505550000"));
	return pg;
}

START_TEST(test_every_write_renders)
{
	struct pgt	*pg = up();
	char		*b, *b2;

	ck_assert(body_has(pg, 1, "\"messages\" : []"));
	ck_assert(body_has(pg, 1, "\"wa_id\" : \"16505551234\""));
	sql(pg, MSG("wamid.a", "1", "Hello \\\"there\\\""));
	sql(pg, MSG("wamid.b", "1", "second"));
	ck_assert_int_eq(pgt_scalar(pg, "t", STALE), 0);
	ck_assert(body_has(pg, 1, "\"wamid\" : \"wamid.a\""));
	ck_assert(body_has(pg, 1, "\"wamid\" : \"wamid.b\""));
	ck_assert(body_has(pg, 2, "\"messages\" : []"));
	/* edited */
	sql(pg, "UPDATE wa_messages SET body = 'edited' WHERE wamid = 'wamid.b'");
	ck_assert(body_has(pg, 1, "\"body\" : \"edited\""));
	ck_assert(!body_has(pg, 1, "second"));
	/* moved: both conversations change */
	sql(pg, "UPDATE wa_messages SET conversation_id = 2 WHERE wamid = 'wamid.b'");
	ck_assert(!body_has(pg, 1, "wamid.b"));
	ck_assert(body_has(pg, 2, "wamid.b"));
	ck_assert_int_eq(pgt_scalar(pg, "t", STALE), 0);
	/* the conversation itself */
	sql(pg, "UPDATE conversations SET status = 'closed', summary = 'done', "
	    "closed_at = '2026-12-01 11:00:00+00' WHERE id = 1");
	ck_assert(body_has(pg, 1, "\"summary\" : \"done\""));
	ck_assert(body_has(pg, 1, "\"closed_at\" : \"2026-12-01T11:00:00+00:00\""));
	/* deleted, then truncated */
	sql(pg, "DELETE FROM wa_messages WHERE wamid = 'wamid.a'");
	ck_assert(body_has(pg, 1, "\"messages\" : []"));
	ck_assert(body_has(pg, 2, "wamid.b"));
	sql(pg, "TRUNCATE wa_messages");
	ck_assert(body_has(pg, 2, "\"messages\" : []"));
	ck_assert_int_eq(pgt_scalar(pg, "t", STALE), 0);
	/* the read function answers the stored body, byte for byte */
	b = body(pg, 2);
	ck_assert_int_eq(pgt_psql(pg, "t",
	    "SELECT body FROM holdfast_http_conversation_body(2)", &b2), 0);
	ck_assert_str_eq(b, b2);
	free(b);
	free(b2);
	pgt_destroy(pg);
}
END_TEST

START_TEST(test_unshown_change_touches_nothing)
{
	struct pgt	*pg = up();
	long long	 x0, x1;

	sql(pg, MSG("wamid.a", "1", "hi"));
	x0 = pgt_scalar(pg, "t", "SELECT xmin::text::bigint FROM conversations WHERE id = 1");
	sql(pg, "UPDATE wa_messages SET processed_at = now()");
	x1 = pgt_scalar(pg, "t", "SELECT xmin::text::bigint FROM conversations WHERE id = 1");
	ck_assert_int_gt(x0, 0);
	ck_assert_int_eq(x0, x1);
	/* the unassigned inserts of the webhook cost no conversation write */
	sql(pg, "INSERT INTO wa_messages (wamid, phone_number_id, wa_id, direction, "
	    "body, sent_at) VALUES ('wamid.u', '1', '2', 'in', 'x', now())");
	ck_assert_int_eq(pgt_scalar(pg, "t",
	    "SELECT xmin::text::bigint FROM conversations WHERE id = 1"), x0);
	ck_assert_int_eq(pgt_scalar(pg, "t", STALE), 0);
	pgt_destroy(pg);
}
END_TEST

START_TEST(test_not_hand_written)
{
	struct pgt	*pg = up();
	char		*out = NULL;

	sql(pg, "UPDATE conversations SET api_body = '{\"forged\": true}' WHERE id = 1");
	ck_assert(!body_has(pg, 1, "forged"));
	ck_assert_int_eq(pgt_scalar(pg, "t", STALE), 0);
	/* triggers off, as in a data-only restore: stored NULL, read exact */
	sql(pg, "SET session_replication_role = replica; " CONV("3", "16505559999"));
	ck_assert_int_eq(pgt_scalar(pg, "t",
	    "SELECT count(*) FROM conversations WHERE id = 3 AND api_body IS NULL"), 1);
	ck_assert_int_eq(pgt_psql(pg, "t",
	    "SELECT body FROM holdfast_http_conversation_body(3)", &out), 0);
	ck_assert_msg(strstr(out, "\"wa_id\" : \"16505559999\"") != NULL, "%s", out);
	free(out);
	pgt_destroy(pg);
}
END_TEST

START_TEST(test_utc_whatever_the_writer)
{
	struct pgt *pg = up();

	sql(pg, "SET timezone = 'Asia/Kolkata'; " MSG("wamid.k", "1", "namaste"));
	ck_assert(body_has(pg, 1, "\"sent_at\" : \"2026-12-01T10:00:01+00:00\""));
	ck_assert(!body_has(pg, 1, "+05:30"));
	ck_assert_int_eq(pgt_scalar(pg, "t", STALE), 0);
	pgt_destroy(pg);
}
END_TEST

START_TEST(test_last_thousand)
{
	struct pgt	*pg = up();
	char		*b, *p;
	int		 n = 0;

	sql(pg, "INSERT INTO wa_messages (wamid, phone_number_id, wa_id, direction, "
	    "body, sent_at, conversation_id) SELECT 'w.' || i, '1', '2', 'in', 'm' || i, "
	    "'2026-12-01 10:00:00+00'::timestamptz + i * interval '1 s', 1 "
	    "FROM generate_series(1, 1005) i");
	b = body(pg, 1);
	for (p = b; (p = strstr(p, "\"wamid\"")) != NULL; p++)
		n++;
	ck_assert_int_eq(n, 1000);
	ck_assert_ptr_null(strstr(b, "\"w.5\""));
	ck_assert_ptr_nonnull(strstr(b, "\"w.6\""));
	ck_assert_ptr_nonnull(strstr(b, "\"w.1005\""));
	free(b);
	ck_assert_int_eq(pgt_scalar(pg, "t", STALE), 0);
	pgt_destroy(pg);
}
END_TEST

static PGconn *
conn(struct pgt *pg)
{
	PGconn *c = PQconnectdb(pgt_conninfo(pg, "t"));

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	return c;
}

static void
exec_ok(PGconn *c, const char *q)
{
	PGresult *r = PQexec(c, q);

	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", q, PQerrorMessage(c));
	PQclear(r);
}

START_TEST(test_concurrent_writers)
{
	struct pgt	*pg = up();
	PGconn		*a = conn(pg), *b = conn(pg);
	PGresult	*r;
	long long	 waiting = 0;

	exec_ok(a, "BEGIN");
	exec_ok(a, MSG("wamid.first", "1", "one"));
	/* b's insert waits for a's lock on conversation 1 */
	ck_assert_int_eq(PQsendQuery(b, MSG("wamid.second", "1", "two")), 1);
	for (int i = 0; i < 100 && waiting != 1; i++) {
		usleep(20000);
		waiting = pgt_scalar(pg, "t", "SELECT count(*) FROM pg_stat_activity "
		    "WHERE wait_event_type = 'Lock' AND query LIKE '%wamid.second%'");
	}
	ck_assert_int_eq(waiting, 1);
	exec_ok(a, "COMMIT");
	while ((r = PQgetResult(b)) != NULL) {
		ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(b));
		PQclear(r);
	}
	ck_assert(body_has(pg, 1, "wamid.first"));
	ck_assert(body_has(pg, 1, "wamid.second"));
	ck_assert_int_eq(pgt_scalar(pg, "t", STALE), 0);
	PQfinish(a);
	PQfinish(b);
	pgt_destroy(pg);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("conv_body");
	TCase	*tc = tu_tcase(s, "triggers", 60);

	tcase_add_test(tc, test_every_write_renders);
	tcase_add_test(tc, test_unshown_change_touches_nothing);
	tcase_add_test(tc, test_not_hand_written);
	tcase_add_test(tc, test_utc_whatever_the_writer);
	tcase_add_test(tc, test_last_thousand);
	tcase_add_test(tc, test_concurrent_writers);
	return tu_run(s);
}
