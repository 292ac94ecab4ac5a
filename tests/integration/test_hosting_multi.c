/*
 * test_hosting_multi: several hosts on one PostgreSQL (docs/design.md §8).
 *
 * Guards the "several hosts" layout of docs/deployment.md: two holdfastd
 * trees (separate configs, HTTP ports, control sockets, state dirs), each
 * with an HTTP and a WhatsApp worker, share one database; signed webhooks
 * spread over both HTTP ports (and some delivered twice, once to each, as
 * a load balancer retrying would) are stored once each, and every message
 * is assigned to a conversation exactly once: conversation_id set,
 * processed_at set, one open conversation per contact, and the
 * conversations' msgs_in adding up to the number of messages.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>

#include "pgt.h"
#include "supt.h"
#include "tu.h"

#define APP_SECRET	"multi-app-secret"
#define NMSG		40
#define NCONTACT	4

struct tree {
	struct hfd	 t;
	int		 http;
};

static int
tree_ready(void *arg)
{
	return tu_http(*(int *)arg, "GET", "/readyz", NULL, NULL, 0, NULL, NULL, 2000) == 200;
}

static void
tree_start(struct tree *tr, struct pgt *pg, const char *tag)
{
	char	*http = tu_buildpath("workers/http/holdfast-http");
	char	*wa = tu_buildpath("workers/whatsapp/holdfast-whatsapp");
	char	*text;

	memset(tr, 0, sizeof(*tr));
	tr->http = tu_free_port(SOCK_STREAM);
	hfd_init(&tr->t, tag);
	text = xasprintf("[holdfast]\ncontrol_socket = run/hf.sock\nstate_dir = var\n"
	    "shutdown_timeout = 5s\n"
	    "[database]\nconninfo = %s\nconnect_timeout = 1s\n"
	    "backoff_initial = 100ms\nbackoff_max = 500ms\n"
	    "[whatsapp]\nverify_token = vt\napp_secret = " APP_SECRET "\n"
	    "access_token = at\ngraph_api_url = http://127.0.0.1:9\n"
	    "poll_interval = 500ms\n"
	    "[worker:http]\ncommand = %s\nlisten = 127.0.0.1:%d\n"
	    "[worker:whatsapp]\ncommand = %s\n",
	    pgt_conninfo(pg, "hf"), http, tr->http, wa);
	hfd_write_conf(&tr->t, text);
	hfd_spawn(&tr->t, NULL);
	ck_assert(hfd_wait_up(&tr->t, 5000));
	ck_assert_msg(tu_wait_for(tree_ready, &tr->http, 20000), "%s: http never ready", tag);
	ck_assert(supt_wait_state(&tr->t, "whatsapp", "RUNNING", 0, 10000));
	free(text);
	free(http);
	free(wa);
}

/* Meta's inbound text message, with our own ids and the current time. */
static char *
webhook_body(int i)
{
	return xasprintf("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":"
	    "\"102290129340398\",\"changes\":[{\"value\":{\"messaging_product\":"
	    "\"whatsapp\",\"metadata\":{\"display_phone_number\":\"15550783881\","
	    "\"phone_number_id\":\"106540352242922\"},\"contacts\":[{\"profile\":"
	    "{\"name\":\"Contact %d\"},\"wa_id\":\"1650555%04d\"}],\"messages\":[{"
	    "\"from\":\"1650555%04d\",\"id\":\"wamid.multi-%d-%d\",\"timestamp\":"
	    "\"%lld\",\"type\":\"text\",\"text\":{\"body\":\"message %d\"}}]},"
	    "\"field\":\"messages\"}]}]}", i % NCONTACT, i % NCONTACT, i % NCONTACT,
	    (int)getpid(), i, (long long)time(NULL), i);
}

/* POSTs body signed like Meta does (X-Hub-Signature-256: sha256=<hex>). */
static int
post_signed(int port, const char *body)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 len = 0;
	char		 hex[2 * EVP_MAX_MD_SIZE + 1], *hdr;
	int		 st;

	HMAC(EVP_sha256(), APP_SECRET, (int)strlen(APP_SECRET),
	    (const unsigned char *)body, strlen(body), mac, &len);
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	hdr = xasprintf("Content-Type: application/json\r\nX-Hub-Signature-256: sha256=%s\r\n",
	    hex);
	st = tu_http(port, "POST", "/webhooks/whatsapp", hdr, body, strlen(body),
	    NULL, NULL, 10000);
	free(hdr);
	return st;
}

START_TEST(test_two_trees_one_db)
{
	struct pgt	*pg;
	struct tree	 a, b;
	int		 per_port[2] = { 0, 0 };

	pg = pgt_start(NULL);
	pgt_createdb(pg, "hf", 1);
	tree_start(&a, pg, "multi-a");
	tree_start(&b, pg, "multi-b");
	ck_assert_int_ne(a.http, b.http);
	for (int i = 0; i < NMSG; i++) {
		char	*body = webhook_body(i);
		int	 k = i % 2, port = k ? b.http : a.http;

		ck_assert_int_eq(post_signed(port, body), 200);
		per_port[k]++;
		/* Every fifth one delivered again, to the other host. */
		if (i % 5 == 0)
			ck_assert_int_eq(post_signed(k ? a.http : b.http, body), 200);
		free(body);
	}
	ck_assert_int_eq(per_port[0], NMSG / 2);
	ck_assert_int_eq(per_port[1], NMSG / 2);
	ck_assert_int_eq(pgt_scalar(pg, "hf", "SELECT count(*) FROM wa_messages "
	    "WHERE wamid LIKE 'wamid.multi-%'"), NMSG);
	/* The session workers of both trees assign every message. */
	for (int i = 0; i < 1000 && pgt_scalar(pg, "hf", "SELECT count(*) FROM "
	    "wa_messages WHERE conversation_id IS NULL OR processed_at IS NULL") != 0; i++)
		usleep(20000);
	ck_assert_int_eq(pgt_scalar(pg, "hf", "SELECT count(*) FROM wa_messages "
	    "WHERE conversation_id IS NULL OR processed_at IS NULL"), 0);
	/* Exactly once: one conversation per contact, counting each message
	 * once, and every message in its contact's conversation. */
	ck_assert_int_eq(pgt_scalar(pg, "hf", "SELECT count(*) FROM conversations"), NCONTACT);
	ck_assert_int_eq(pgt_scalar(pg, "hf", "SELECT count(*) FROM conversations "
	    "WHERE status = 'open'"), NCONTACT);
	ck_assert_int_eq(pgt_scalar(pg, "hf", "SELECT coalesce(sum(msgs_in), 0) "
	    "FROM conversations"), NMSG);
	ck_assert_int_eq(pgt_scalar(pg, "hf", "SELECT count(*) FROM wa_messages m "
	    "JOIN conversations c ON c.id = m.conversation_id "
	    "WHERE c.wa_id <> m.wa_id"), 0);
	/* Both trees stayed whole: no worker restarted. */
	ck_assert_int_eq(supt_log_count(&a.t, "[WORKER_EXIT]"), 0);
	ck_assert_int_eq(supt_log_count(&b.t, "[WORKER_EXIT]"), 0);
	supt_finish(&a.t);
	supt_finish(&b.t);
	pgt_destroy(pg);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("hosting_multi");
	TCase	*tc = tu_tcase(s, "hosting_multi", 90);

	tcase_add_test(tc, test_two_trees_one_db);
	return tu_run(s);
}
