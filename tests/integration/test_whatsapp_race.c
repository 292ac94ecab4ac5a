/*
 * test_whatsapp_race: guards "several instances, on one host or many,
 * share the work safely": two and then four holdfast-whatsapp processes
 * race over 10,000 inbound messages from 500 contacts, inserted while they
 * run. Every message must be assigned exactly once, to its own contact's
 * single session, in id order per contact, each session opened once with
 * one auto-reply -- checked in SQL and in each worker's own counters.
 * And a crash: one of two instances is SIGKILLed mid-stream; what it held
 * is released by its transaction's rollback and done by the other.
 */
#include <signal.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgt.h"
#include "tu.h"
#include "wat.h"

#define NMSG		10000
#define NCONTACTS	500
#define CHUNK		500

/* The worker's own count of assigned messages, from its [WA_STATS] line. */
static long long
wat_assigned_from_log(const char *log)
{
	char		*text = tu_read_file(log, NULL), *p;
	long long	 n = -1;

	if (text != NULL && (p = strstr(text, "[WA_STATS] assigned=")) != NULL)
		n = atoll(p + strlen("[WA_STATS] assigned="));
	free(text);
	return n;
}

/* nmsg messages; kill_at: the chunk before which instance 1 is SIGKILLed
 * (-1: never). */
static void
race(int ninstances, int nmsg, int kill_at)
{
	struct wat	t;
	long long	sum = 0, mine;

	wat_init(&t, NULL, NULL);
	/* With a crash, replies in flight would be sent again once their
	 * lease expires (at-least-once: the API has no idempotency key), so
	 * the crash run is about assignment only. */
	wat_config(&t, kill_at < 0 ? "session_idle_timeout = 1h\nauto_reply = ack\nbatch_size = 100\n" :
	    "session_idle_timeout = 1h\nauto_reply =\nbatch_size = 100\n");
	for (int i = 0; i < ninstances; i++)
		wat_worker(&t);
	for (int i = 0; i < ninstances; i++)
		ck_assert_int_eq(tu_wait_file_count(t.logs[i], "LISTEN holdfast_wa established",
		    1, 10000), 1);
	for (int c = 0; c < nmsg / CHUNK; c++) {
		if (c == kill_at) {
			tu_kill(t.workers[1], SIGKILL);
			ck_assert_int_eq(tu_wait_pid(t.workers[1], 5000, NULL), 0);
			t.workers[1] = 0;
		}
		free(wat_sql(&t,
		    "INSERT INTO wa_messages (wamid, phone_number_id, wa_id, direction, body, sent_at) "
		    "SELECT 'wamid.race.%d.' || g, 'pn', 'c' || (g %% %d), 'in', 'm' || g, now() "
		    "FROM generate_series(1, %d) g", c, NCONTACTS, CHUNK));
	}
	ck_assert_int_eq(wat_wait_scalar(&t, 0, 60000,
	    "SELECT count(*) FROM wa_messages WHERE conversation_id IS NULL"), 0);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM wa_messages WHERE direction = 'in'"), nmsg);
	/* Each message counted once on its session; one session per contact. */
	ck_assert_int_eq(wat_scalar(&t, "SELECT sum(msgs_in) FROM conversations"), nmsg);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM conversations"), NCONTACTS);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM wa_messages m JOIN conversations c "
	    "ON c.id = m.conversation_id WHERE c.wa_id <> m.wa_id OR m.processed_at IS NULL"), 0);
	/* In order per contact: assignment time follows arrival order. */
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM (SELECT processed_at, "
	    "lag(processed_at) OVER (PARTITION BY wa_id ORDER BY id) AS prev FROM wa_messages "
	    "WHERE direction = 'in') s "
	    "WHERE processed_at < prev"), 0);
	if (kill_at >= 0) {
		ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM wa_outbox"), 0);
		wat_stop_worker(&t, 0);
		wat_done(&t);
		return;
	}
	ck_assert_int_eq(wat_wait_scalar(&t, NCONTACTS, 20000,
	    "SELECT count(*) FROM wa_outbox WHERE status = 'sent'"), NCONTACTS);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(DISTINCT to_wa_id) FROM wa_outbox"), NCONTACTS);
	ck_assert_int_eq(wat_gs_count(&t), NCONTACTS);
	/* The workers' own view: the shares add up to exactly nmsg. */
	for (int i = 0; i < ninstances; i++) {
		wat_stop_worker(&t, i);
		mine = wat_assigned_from_log(t.logs[i]);
		ck_assert_int_ge(mine, 0);
		fprintf(stderr, "race(%d): instance %d assigned %lld\n", ninstances, i, mine);
		sum += mine;
	}
	ck_assert_int_eq(sum, nmsg);
	wat_done(&t);
}

START_TEST(test_two_instances)
{
	race(2, NMSG, -1);
}
END_TEST

START_TEST(test_one_of_two_killed)
{
	race(2, 3000, 3);
}
END_TEST

START_TEST(test_four_instances)
{
	race(4, NMSG, -1);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("whatsapp_race");
	TCase	*tc = tu_tcase(s, "race", 120);

	tcase_add_test(tc, test_two_instances);
	tcase_add_test(tc, test_four_instances);
	tcase_add_test(tc, test_one_of_two_killed);
	tcase_add_unchecked_fixture(tc, NULL, wat_reap_strays);
	return tu_run(s);
}
