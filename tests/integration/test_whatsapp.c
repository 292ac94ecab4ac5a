/*
 * test_whatsapp: guards holdfast-whatsapp's promises to the business that
 * runs it, against a real PostgreSQL and a local Graph API (graphsink):
 * every inbound message lands in its contact's session; a session opens
 * with the auto-reply and closes after its idle timeout with a summary;
 * nothing free-form is sent outside the 24-hour window; replies are
 * delivered, retried when Meta says "later", failed when it says "never",
 * and never sent twice; delivery statuses only move forward; the worker is
 * woken by NOTIFY and still finds work when a notification is lost.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgt.h"
#include "tu.h"
#include "wat.h"

#define UNASSIGNED	"SELECT count(*) FROM wa_messages WHERE conversation_id IS NULL"

START_TEST(test_session_open_append_close)
{
	struct wat	 t;
	char		*s;

	wat_init(&t, NULL, NULL);
	wat_config(&t, "auto_reply = Thanks, an agent will answer soon\n");
	wat_worker(&t);
	wat_inbound(&t, "16505551234", "a1", 2, "Does it come in another color?");
	wat_inbound(&t, "16505550000", "b1", 1, "hi");
	ck_assert_int_eq(wat_wait_scalar(&t, 0, 5000, UNASSIGNED), 0);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM conversations WHERE status = 'open'"), 2);
	ck_assert_int_eq(wat_scalar(&t, "SELECT msgs_in FROM conversations WHERE wa_id = '16505551234'"), 2);
	/* One auto-reply per opened session, delivered with the token. */
	ck_assert_int_eq(wat_wait_scalar(&t, 2, 5000,
	    "SELECT count(*) FROM wa_outbox WHERE status = 'sent' AND wamid IS NOT NULL"), 2);
	ck_assert_int_eq(wat_gs_count(&t), 2);
	s = tu_read_file(t.gs_log, NULL);
	ck_assert_ptr_nonnull(strstr(s, "\"path\":\"/v21.0/106540352242922/messages\""));
	ck_assert_ptr_nonnull(strstr(s, "\"to\":\"16505551234\""));
	ck_assert_ptr_nonnull(strstr(s, "\"text\":\"Thanks, an agent will answer soon\""));
	ck_assert_ptr_null(strstr(s, "\"auth\":false"));
	free(s);
	/* An append keeps the session; no second auto-reply. */
	wat_inbound(&t, "16505551234", "a2", 1, "And in blue?");
	ck_assert_int_eq(wat_wait_scalar(&t, 0, 5000, UNASSIGNED), 0);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM conversations WHERE wa_id = '16505551234'"), 1);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM wa_outbox"), 2);
	/* Idle for 2 s: closed, with the summary. */
	ck_assert_int_eq(wat_wait_scalar(&t, 2, 8000,
	    "SELECT count(*) FROM conversations WHERE status = 'closed'"), 2);
	s = wat_sql(&t, "SELECT summary FROM conversations WHERE wa_id = '16505551234'");
	ck_assert_msg(strstr(s, "3 in, 1 out; first ") == s, "summary: %s", s);
	ck_assert_msg(strstr(s, "last inbound: \"And in blue?\"") != NULL, "summary: %s", s);
	free(s);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM conversations WHERE wa_id = '16505551234' "
	    "AND msgs_in = 3 AND msgs_out = 1 AND closed_at IS NOT NULL AND last_inbound_text = 'And in blue?'"), 1);
	/* The contact writes again: a new session, a new auto-reply. */
	wat_inbound(&t, "16505551234", "a3", 1, "Hello again");
	ck_assert_int_eq(wat_wait_scalar(&t, 2, 5000,
	    "SELECT count(*) FROM conversations WHERE wa_id = '16505551234'"), 2);
	ck_assert_int_eq(wat_wait_scalar(&t, 3, 5000,
	    "SELECT count(*) FROM wa_outbox WHERE status = 'sent'"), 3);
	wat_stop_worker(&t, 0);
	wat_done(&t);
}
END_TEST

START_TEST(test_window_rule)
{
	struct wat t;

	wat_init(&t, NULL, NULL);
	wat_worker(&t);
	free(wat_sql(&t,
	    "INSERT INTO wa_contacts (phone_number_id, wa_id, last_inbound_at) VALUES "
	    "('p', 'stale', now() - interval '25 hours'), ('p', 'fresh', now() - interval '23 hours');"
	    "INSERT INTO wa_outbox (phone_number_id, to_wa_id, body) VALUES "
	    "('p', 'stale', 'late reply'), ('p', 'stranger', 'cold message'), ('p', 'fresh', 'in time')"));
	ck_assert_int_eq(wat_wait_scalar(&t, 3, 5000,
	    "SELECT count(*) FROM wa_outbox WHERE status <> 'pending'"), 3);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM wa_outbox WHERE status = 'failed' "
	    "AND wamid IS NULL AND attempts = 0 AND last_error LIKE 'outside the 24-hour%%'"), 2);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM wa_outbox WHERE to_wa_id = 'fresh' "
	    "AND status = 'sent'"), 1);
	/* Only the message inside the window reached the API. */
	ck_assert_int_eq(wat_gs_count(&t), 1);
	wat_stop_worker(&t, 0);
	wat_done(&t);
}
END_TEST

static void
wat_queue_reply(struct wat *t, const char *wa_id, const char *body)
{
	free(wat_sql(t,
	    "INSERT INTO wa_contacts (phone_number_id, wa_id, last_inbound_at) "
	    "VALUES ('106540352242922', '%s', now()) ON CONFLICT DO NOTHING;"
	    "INSERT INTO wa_outbox (phone_number_id, to_wa_id, body) "
	    "VALUES ('106540352242922', '%s', '%s')", wa_id, wa_id, body));
}

START_TEST(test_outbox_retry_then_success)
{
	struct wat t;

	/* 5xx, then throttling as HTTP 400: both retried; then accepted. */
	wat_init(&t, NULL, "-s 500,130429,503");
	wat_worker(&t);
	wat_queue_reply(&t, "111", "first");
	ck_assert_int_eq(wat_wait_scalar(&t, 1, 10000,
	    "SELECT count(*) FROM wa_outbox WHERE status = 'sent'"), 1);
	ck_assert_int_eq(wat_scalar(&t, "SELECT attempts FROM wa_outbox"), 4);
	ck_assert_int_eq(wat_gs_count(&t), 4);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM wa_messages WHERE direction = 'out' "
	    "AND wamid = (SELECT wamid FROM wa_outbox)"), 1);
	ck_assert_int_eq(tu_count_in_file(t.logs[0], "[WA_SEND_RETRY]"), 3);
	/* A row with a wamid is never sent again, even when made due. */
	free(wat_sql(&t, "UPDATE wa_outbox SET status = 'pending', next_attempt_at = now()"));
	wat_queue_reply(&t, "222", "probe");
	ck_assert_int_eq(wat_wait_scalar(&t, 2, 5000,
	    "SELECT count(*) FROM wa_outbox WHERE wamid IS NOT NULL"), 2);
	usleep(300 * 1000);
	ck_assert_int_eq(wat_gs_count(&t), 5);
	wat_stop_worker(&t, 0);
	wat_done(&t);
}
END_TEST

START_TEST(test_outbox_timeout_is_retried)
{
	struct wat t;

	/* No answer at all: the send gives up at send_timeout and retries. */
	wat_init(&t, NULL, "-s hang");
	wat_config(&t, "send_timeout = 500ms\n");
	wat_worker(&t);
	wat_queue_reply(&t, "111", "slow");
	ck_assert_int_eq(wat_wait_scalar(&t, 1, 8000,
	    "SELECT count(*) FROM wa_outbox WHERE status = 'sent'"), 1);
	ck_assert_int_eq(wat_scalar(&t, "SELECT attempts FROM wa_outbox"), 2);
	ck_assert_int_eq(wat_gs_count(&t), 2);
	ck_assert_int_eq(tu_count_in_file(t.logs[0], "attempt=1: network: timeout"), 1);
	wat_stop_worker(&t, 0);
	wat_done(&t);
}
END_TEST

START_TEST(test_outbox_over_tls)
{
	struct wat	 t;
	char		*dir = tu_tmpdir("watls"), *cmd, *args, *env[2];
	int		 i;

	/* A certificate for 127.0.0.1 that only SSL_CERT_FILE makes trusted. */
	if (asprintf(&cmd, "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
	    "-addext subjectAltName=IP:127.0.0.1 -keyout %s/key.pem -out %s/cert.pem "
	    ">/dev/null 2>&1", dir, dir) == -1 ||
	    asprintf(&args, "-T %s/cert.pem -K %s/key.pem", dir, dir) == -1 ||
	    asprintf(&env[0], "SSL_CERT_FILE=%s/cert.pem", dir) == -1)
		ck_abort();
	env[1] = NULL;
	ck_assert_int_eq(tu_sh(cmd, NULL), 0);
	wat_init(&t, NULL, args);
	wat_config_url(&t, "send_max_attempts = 2\n", "https");
	/* Not trusted: the handshake fails, nothing reaches the handler. */
	i = wat_worker(&t);
	wat_queue_reply(&t, "111", "untrusted");
	ck_assert_int_eq(wat_wait_scalar(&t, 1, 8000,
	    "SELECT count(*) FROM wa_outbox WHERE status = 'failed'"), 1);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM wa_outbox "
	    "WHERE last_error LIKE '%%network: TLS: certificate verify failed'"), 1);
	ck_assert_int_eq(wat_gs_count(&t), 0);
	wat_stop_worker(&t, i);
	/* Trusted: delivered over HTTPS. */
	i = wat_worker_env(&t, env);
	wat_queue_reply(&t, "222", "over tls");
	ck_assert_int_eq(wat_wait_scalar(&t, 1, 8000,
	    "SELECT count(*) FROM wa_outbox WHERE status = 'sent'"), 1);
	ck_assert_int_eq(wat_gs_count(&t), 1);
	wat_stop_worker(&t, i);
	wat_done(&t);
	tu_rmrf(dir);
	free(dir);
	free(cmd);
	free(args);
	free(env[0]);
}
END_TEST

START_TEST(test_outbox_permanent_and_cap)
{
	struct wat t;

	wat_init(&t, NULL, "-s 131047 -e 500");
	wat_config(&t, "send_max_attempts = 3\n");
	wat_worker(&t);
	wat_queue_reply(&t, "111", "refused");
	ck_assert_int_eq(wat_wait_scalar(&t, 1, 5000,
	    "SELECT count(*) FROM wa_outbox WHERE status = 'failed'"), 1);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM wa_outbox WHERE attempts = 1 "
	    "AND wamid IS NULL AND last_error LIKE 'http=400 code=131047:%%'"), 1);
	ck_assert_int_eq(wat_gs_count(&t), 1);
	/* Retryable forever: stops at send_max_attempts. */
	wat_queue_reply(&t, "222", "always 500");
	ck_assert_int_eq(wat_wait_scalar(&t, 2, 10000,
	    "SELECT count(*) FROM wa_outbox WHERE status = 'failed'"), 2);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM wa_outbox WHERE to_wa_id = '222' "
	    "AND attempts = 3 AND last_error LIKE 'gave up after 3 attempts: http=500%%'"), 1);
	ck_assert_int_eq(wat_gs_count(&t), 4);
	ck_assert_int_eq(tu_count_in_file(t.logs[0], "[WA_SEND_FAILED]"), 2);
	wat_stop_worker(&t, 0);
	wat_done(&t);
}
END_TEST

START_TEST(test_statuses_forward_only)
{
	struct wat t;

	wat_init(&t, NULL, NULL);
	wat_worker(&t);
	wat_queue_reply(&t, "111", "one");
	wat_queue_reply(&t, "222", "two");
	ck_assert_int_eq(wat_wait_scalar(&t, 2, 5000,
	    "SELECT count(*) FROM wa_outbox WHERE status = 'sent'"), 2);
	/* read arrives before delivered (allowed), then a stale sent. */
	free(wat_sql(&t,
	    "INSERT INTO wa_statuses (wamid, status, status_at) "
	    "SELECT wamid, 'read', now() FROM wa_outbox WHERE to_wa_id = '111'"));
	ck_assert_int_eq(wat_wait_scalar(&t, 1, 5000,
	    "SELECT count(*) FROM wa_outbox WHERE status = 'read'"), 1);
	free(wat_sql(&t,
	    "INSERT INTO wa_statuses (wamid, status, status_at) "
	    "SELECT wamid, s, now() FROM wa_outbox, unnest(ARRAY['delivered', 'sent']) s "
	    "WHERE to_wa_id = '111';"
	    "INSERT INTO wa_statuses (wamid, status, status_at, errors) "
	    "SELECT wamid, 'failed', now(), '[{\"code\":131026,\"title\":\"Message undeliverable\"}]' "
	    "FROM wa_outbox WHERE to_wa_id = '222'"));
	ck_assert_int_eq(wat_wait_scalar(&t, 0, 5000,
	    "SELECT count(*) FROM wa_statuses WHERE applied_at IS NULL"), 0);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM wa_outbox WHERE to_wa_id = '111' "
	    "AND status = 'read'"), 1);
	ck_assert_int_eq(wat_scalar(&t, "SELECT count(*) FROM wa_outbox WHERE to_wa_id = '222' "
	    "AND status = 'failed' AND last_error LIKE '%%131026 Message undeliverable'"), 1);
	wat_stop_worker(&t, 0);
	wat_done(&t);
}
END_TEST

START_TEST(test_listen_wakeup_and_poll_fallback)
{
	struct wat	t;
	int		i;

	wat_init(&t, NULL, NULL);
	/* No polling to speak of: only NOTIFY can wake this worker. */
	wat_config(&t, "poll_interval = 1h\n");
	wat_worker(&t);
	ck_assert_int_eq(tu_wait_file_count(t.logs[0], "LISTEN holdfast_wa established", 1, 5000), 1);
	wat_inbound(&t, "1", "n1", 1, "notified");
	ck_assert_int_eq(wat_wait_scalar(&t, 0, 5000, UNASSIGNED), 0);
	/* A lost notification: without the poll, the message waits ... */
	free(wat_sql(&t, "ALTER TABLE wa_messages DISABLE TRIGGER wa_messages_notify"));
	wat_inbound(&t, "2", "n2", 1, "silent");
	usleep(1500 * 1000);
	ck_assert_int_eq(wat_scalar(&t, UNASSIGNED), 1);
	/* ... and any later wake-up catches it up. */
	free(wat_sql(&t, "NOTIFY holdfast_wa"));
	ck_assert_int_eq(wat_wait_scalar(&t, 0, 5000, UNASSIGNED), 0);
	wat_stop_worker(&t, 0);
	/* With a 300 ms poll, a silent insert is found anyway. */
	wat_config(&t, "poll_interval = 300ms\n");
	i = wat_worker(&t);
	ck_assert_int_eq(tu_wait_file_count(t.logs[i], "LISTEN holdfast_wa established", 1, 5000), 1);
	wat_inbound(&t, "3", "n3", 1, "silent too");
	ck_assert_int_eq(wat_wait_scalar(&t, 0, 5000, UNASSIGNED), 0);
	wat_stop_worker(&t, i);
	wat_done(&t);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("whatsapp");
	TCase	*tc = tu_tcase(s, "worker", 60);

	tcase_add_test(tc, test_session_open_append_close);
	tcase_add_test(tc, test_window_rule);
	tcase_add_test(tc, test_outbox_retry_then_success);
	tcase_add_test(tc, test_outbox_timeout_is_retried);
	tcase_add_test(tc, test_outbox_permanent_and_cap);
	tcase_add_test(tc, test_outbox_over_tls);
	tcase_add_test(tc, test_statuses_forward_only);
	tcase_add_test(tc, test_listen_wakeup_and_poll_fallback);
	tcase_add_unchecked_fixture(tc, NULL, wat_reap_strays);
	return tu_run(s);
}
