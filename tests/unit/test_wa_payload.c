/*
 * Guards: a WhatsApp webhook is read the way Meta sends it. Every message
 * and status in a batch (several entries, changes, messages, statuses) is
 * found with the right keys; unknown message types are kept, not dropped;
 * junk never crashes the walker; and the X-Hub-Signature-256 check accepts
 * exactly the HMAC of the raw bytes (the reference test vector) and
 * rejects missing, malformed and wrong headers.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "test_http_samples.h"
#include "tu.h"
#include "wa_payload.h"

static int
parse(const char *s, struct wa_payload *p)
{
	char err[128];

	return wa_payload_parse(s, strlen(s), p, err, sizeof(err));
}

START_TEST(test_text_message)
{
	struct wa_payload	p;
	struct wa_message	*m;

	ck_assert_int_eq(parse(WA_TEXT, &p), 0);
	ck_assert_uint_eq(p.nmsgs, 1);
	ck_assert_uint_eq(p.nsts, 0);
	m = &p.msgs[0];
	ck_assert_str_eq(m->wamid,
	    "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=");
	ck_assert_str_eq(m->phone_number_id, "106540352242922");
	ck_assert_str_eq(m->wa_id, "16505551234");
	ck_assert_str_eq(m->type, "text");
	ck_assert_str_eq(m->body, "Does it come in another color?");
	ck_assert_str_eq(m->profile_name, "Sheena Nelson");
	ck_assert_int_eq(m->timestamp, 1749416383);
	ck_assert_ptr_nonnull(strstr(m->raw, "\"timestamp\":\"1749416383\""));
	wa_payload_free(&p);
}
END_TEST

START_TEST(test_status_sent)
{
	struct wa_payload p;

	ck_assert_int_eq(parse(WA_STATUS_SENT, &p), 0);
	ck_assert_uint_eq(p.nmsgs, 0);
	ck_assert_uint_eq(p.nsts, 1);
	ck_assert_str_eq(p.sts[0].wamid,
	    "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=");
	ck_assert_str_eq(p.sts[0].status, "sent");
	ck_assert_str_eq(p.sts[0].recipient_id, "16505551234");
	ck_assert_str_eq(p.sts[0].phone_number_id, "106540352242922");
	ck_assert_int_eq(p.sts[0].timestamp, 1750030073);
	ck_assert_ptr_null(p.sts[0].errors);
	wa_payload_free(&p);
}
END_TEST

static const char batch[] =
    "{\"object\":\"whatsapp_business_account\",\"entry\":["
    "{\"id\":\"1\",\"changes\":[{\"field\":\"messages\",\"value\":{"
      "\"metadata\":{\"phone_number_id\":\"P1\"},"
      "\"contacts\":[{\"profile\":{\"name\":\"Ann\"},\"wa_id\":\"A\"}],"
      "\"messages\":["
        "{\"from\":\"A\",\"id\":\"w1\",\"timestamp\":\"100\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}},"
        "{\"from\":\"B\",\"id\":\"w2\",\"timestamp\":101,\"type\":\"image\",\"image\":{\"caption\":\"pic\",\"id\":\"m\"}},"
        "{\"from\":\"A\",\"id\":\"w3\",\"timestamp\":\"102\",\"type\":\"hologram\",\"hologram\":{\"x\":[1,2.5,null,true]}},"
        "{\"from\":\"A\",\"timestamp\":\"103\",\"type\":\"text\"}"
      "]}},"
     "{\"field\":\"messages\",\"value\":{\"metadata\":{\"phone_number_id\":\"P2\"},"
      "\"statuses\":["
        "{\"id\":\"o1\",\"status\":\"delivered\",\"timestamp\":\"200\",\"recipient_id\":\"C\"},"
        "{\"id\":\"o2\",\"status\":\"failed\",\"timestamp\":\"201\",\"recipient_id\":\"C\","
         "\"errors\":[{\"code\":131047,\"title\":\"Re-engagement message\"}]}"
      "]}}]},"
    "{\"id\":\"2\",\"changes\":[{\"field\":\"messages\",\"value\":{"
      "\"metadata\":{\"phone_number_id\":\"P3\"},"
      "\"messages\":[{\"from\":\"D\",\"id\":\"w4\",\"timestamp\":\"104\",\"type\":\"interactive\","
        "\"interactive\":{\"type\":\"button_reply\",\"button_reply\":{\"id\":\"b\",\"title\":\"Yes\"}}}],"
      "\"statuses\":[{\"id\":\"o3\",\"status\":\"read\",\"timestamp\":\"202\"}]}}]}]}";

START_TEST(test_batch_of_everything)
{
	struct wa_payload p;

	ck_assert_int_eq(parse(batch, &p), 0);
	ck_assert_uint_eq(p.nmsgs, 4);
	ck_assert_uint_eq(p.nsts, 3);
	ck_assert_uint_eq(p.skipped, 1);
	ck_assert_str_eq(p.msgs[0].profile_name, "Ann");
	ck_assert_ptr_null(p.msgs[1].profile_name);
	ck_assert_str_eq(p.msgs[1].type, "image");
	ck_assert_str_eq(p.msgs[1].body, "pic");
	ck_assert_int_eq(p.msgs[1].timestamp, 101);
	ck_assert_str_eq(p.msgs[2].type, "hologram");
	ck_assert_ptr_null(p.msgs[2].body);
	ck_assert_ptr_nonnull(strstr(p.msgs[2].raw, "[1,2.5,null,true]"));
	ck_assert_str_eq(p.msgs[3].wamid, "w4");
	ck_assert_str_eq(p.msgs[3].phone_number_id, "P3");
	ck_assert_str_eq(p.msgs[3].body, "Yes");
	ck_assert_str_eq(p.sts[0].phone_number_id, "P2");
	ck_assert_str_eq(p.sts[1].status, "failed");
	ck_assert_ptr_nonnull(strstr(p.sts[1].errors, "131047"));
	ck_assert_ptr_null(p.sts[2].recipient_id);
	wa_payload_free(&p);
}
END_TEST

START_TEST(test_rejects_junk)
{
	struct wa_payload p;

	ck_assert_int_eq(parse("{\"object\":", &p), -1);
	wa_payload_free(&p);
	ck_assert_int_eq(parse("[1,2]", &p), -1);
	wa_payload_free(&p);
	ck_assert_int_eq(parse("", &p), -1);
	wa_payload_free(&p);
	/* Well-formed but nothing to store: accepted, empty; a non-object
	 * update is counted as skipped. */
	ck_assert_int_eq(parse("{\"object\":\"page\",\"entry\":{}}", &p), 0);
	ck_assert_uint_eq(p.nmsgs + p.nsts, 0);
	wa_payload_free(&p);
	ck_assert_int_eq(parse("{\"entry\":[1,\"x\",{\"changes\":[null,{\"value\":[]},"
	    "{\"value\":{\"messages\":{},\"statuses\":[7]}}]}]}", &p), 0);
	ck_assert_uint_eq(p.nmsgs, 0);
	ck_assert_uint_eq(p.skipped, 1);
	wa_payload_free(&p);
	/* A bad timestamp cannot be stored: skipped, counted. */
	ck_assert_int_eq(parse("{\"entry\":[{\"changes\":[{\"value\":{\"metadata\":"
	    "{\"phone_number_id\":\"P\"},\"messages\":[{\"from\":\"A\",\"id\":\"x\","
	    "\"timestamp\":\"12ab\"}]}}]}]}", &p), 0);
	ck_assert_uint_eq(p.nmsgs, 0);
	ck_assert_uint_eq(p.skipped, 1);
	wa_payload_free(&p);
}
END_TEST

/* Every prefix and a few byte flips of the samples: never a crash. */
START_TEST(test_truncations_and_flips)
{
	const char		*src = batch;
	size_t			 n = strlen(src);
	char			*buf = malloc(n + 1);
	struct wa_payload	 p;
	char			 err[128];

	for (size_t i = 0; i <= n; i++) {
		wa_payload_parse(src, i, &p, err, sizeof(err));
		wa_payload_free(&p);
	}
	for (size_t i = 0; i < n; i += 3) {
		memcpy(buf, src, n + 1);
		buf[i] ^= 0x5a;
		wa_payload_parse(buf, n, &p, err, sizeof(err));
		wa_payload_free(&p);
	}
	free(buf);
}
END_TEST

START_TEST(test_signature_vector)
{
	const char	*body = WA_TEXT_CAFE, *utf8 = WA_TEXT_CAFE_UTF8;
	char		 made[72];

	ck_assert_uint_eq(strlen(body), 498);
	wa_signature_make(WA_TEXT_CAFE_SECRET, body, strlen(body), made);
	ck_assert_str_eq(made, WA_TEXT_CAFE_SIG);
	ck_assert_int_eq(wa_signature_check(WA_TEXT_CAFE_SECRET, body, strlen(body),
	    WA_TEXT_CAFE_SIG), 0);
	/* Re-encoding as raw UTF-8 is a different body: a different digest. */
	ck_assert_int_eq(wa_signature_check(WA_TEXT_CAFE_SECRET, utf8, strlen(utf8),
	    WA_TEXT_CAFE_SIG), -1);
	wa_signature_make(WA_TEXT_CAFE_SECRET, utf8, strlen(utf8), made);
	ck_assert_str_ne(made, WA_TEXT_CAFE_SIG);
}
END_TEST

START_TEST(test_signature_rejects)
{
	const char	*b = WA_TEXT_CAFE, *s = WA_TEXT_CAFE_SECRET;
	size_t		 n = strlen(b);
	char		 sig[80];

	ck_assert_int_eq(wa_signature_check(s, b, n, NULL), -1);
	ck_assert_int_eq(wa_signature_check(s, b, n, ""), -1);
	ck_assert_int_eq(wa_signature_check(s, b, n, WA_TEXT_CAFE_SIG + 7), -1);
	ck_assert_int_eq(wa_signature_check("other", b, n, WA_TEXT_CAFE_SIG), -1);
	ck_assert_int_eq(wa_signature_check("", b, n, WA_TEXT_CAFE_SIG), -1);
	ck_assert_int_eq(wa_signature_check(s, b, n - 1, WA_TEXT_CAFE_SIG), -1);
	strcpy(sig, WA_TEXT_CAFE_SIG);
	sig[strlen(sig) - 1] = '\0';			/* 63 digits */
	ck_assert_int_eq(wa_signature_check(s, b, n, sig), -1);
	strcpy(sig, WA_TEXT_CAFE_SIG);
	strcat(sig, "0");				/* 65 digits */
	ck_assert_int_eq(wa_signature_check(s, b, n, sig), -1);
	strcpy(sig, WA_TEXT_CAFE_SIG);
	sig[10] = 'g';					/* not hex */
	ck_assert_int_eq(wa_signature_check(s, b, n, sig), -1);
	strcpy(sig, "sha1=");
	strcat(sig, WA_TEXT_CAFE_SIG + 7);
	ck_assert_int_eq(wa_signature_check(s, b, n, sig), -1);
	strcpy(sig, WA_TEXT_CAFE_SIG);
	sig[20] = sig[20] == '0' ? '1' : '0';		/* one bit off */
	ck_assert_int_eq(wa_signature_check(s, b, n, sig), -1);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("wa_payload");
	TCase	*tc = tu_tcase(s, "core", 0);

	tcase_add_test(tc, test_text_message);
	tcase_add_test(tc, test_status_sent);
	tcase_add_test(tc, test_batch_of_everything);
	tcase_add_test(tc, test_rejects_junk);
	tcase_add_test(tc, test_truncations_and_flips);
	tcase_add_test(tc, test_signature_vector);
	tcase_add_test(tc, test_signature_rejects);
	return tu_run(s);
}
