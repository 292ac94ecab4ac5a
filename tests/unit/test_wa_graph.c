/*
 * test_wa_graph: guards the promise that holdfast-whatsapp retries what
 * Meta says is temporary, never retries what is permanent, and never loses
 * the message id of an accepted send. Pure functions; no network.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tu.h"
#include "wa_graph.h"

#define ERRBODY(code, msg) \
	"{\"error\":{\"message\":\"" msg "\",\"type\":\"OAuthException\",\"code\":" #code \
	",\"error_data\":{\"messaging_product\":\"whatsapp\",\"details\":\"d\"},\"fbtrace_id\":\"x\"}}"

static struct wa_send_result
classify(int status, const char *body)
{
	struct wa_send_result r;

	wa_graph_classify(status, body, body != NULL ? strlen(body) : 0, "timeout", &r);
	return r;
}

START_TEST(test_url_joins_parts)
{
	char *u = wa_graph_url("https://graph.facebook.com", "v21.0", "106540352242922");

	ck_assert_str_eq(u, "https://graph.facebook.com/v21.0/106540352242922/messages");
	free(u);
	u = wa_graph_url("http://127.0.0.1:9/base//", "v1", "5");
	ck_assert_str_eq(u, "http://127.0.0.1:9/base/v1/5/messages");
	free(u);
}
END_TEST

START_TEST(test_url_refuses_path_tricks)
{
	ck_assert_ptr_null(wa_graph_url("http://h", "v1", "../x"));
	ck_assert_ptr_null(wa_graph_url("http://h", "v1", "1?a=b"));
	ck_assert_ptr_null(wa_graph_url("http://h", "", "1"));
	ck_assert_ptr_null(wa_graph_url("http://h", "v1", "1%2f"));
	ck_assert_ptr_null(wa_graph_url("http://h", "v1", NULL));
}
END_TEST

START_TEST(test_body_is_documented_shape)
{
	size_t		 len;
	char		*b = wa_graph_text_body("16505551234", "Caf\xc3\xa9 \"q\"\n", &len);
	char		 err[128];
	yajl_val	 v = json_parse(b, len, err, sizeof(err));

	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(strlen(b), len);
	ck_assert_str_eq(json_get_str(v, "messaging_product"), "whatsapp");
	ck_assert_str_eq(json_get_str(v, "recipient_type"), "individual");
	ck_assert_str_eq(json_get_str(v, "to"), "16505551234");
	ck_assert_str_eq(json_get_str(v, "type"), "text");
	ck_assert_str_eq(json_get_str(json_get_object(v, "text"), "body"), "Caf\xc3\xa9 \"q\"\n");
	yajl_tree_free(v);
	free(b);
}
END_TEST

START_TEST(test_success_keeps_wamid)
{
	struct wa_send_result r = classify(200,
	    "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"+1\",\"wa_id\":\"1\"}],"
	    "\"messages\":[{\"id\":\"wamid.ABC=\"}]}");

	ck_assert_int_eq(r.cls, WA_SEND_OK);
	ck_assert_str_eq(r.wamid, "wamid.ABC=");
}
END_TEST

START_TEST(test_success_without_id_is_not_retried)
{
	/* It may have been accepted: a retry could send it twice. */
	ck_assert_int_eq(classify(200, "{\"messages\":[]}").cls, WA_SEND_PERMANENT);
	ck_assert_int_eq(classify(200, "<html>").cls, WA_SEND_PERMANENT);
	ck_assert_int_eq(classify(200, NULL).cls, WA_SEND_PERMANENT);
}
END_TEST

START_TEST(test_rate_limit_as_400_is_retried)
{
	struct wa_send_result r = classify(400, ERRBODY(130429, "(#130429) Rate limit hit"));

	ck_assert_int_eq(r.cls, WA_SEND_RETRY);
	ck_assert_int_eq(r.code, 130429);
	ck_assert_ptr_nonnull(strstr(r.error, "code=130429"));
	ck_assert_ptr_nonnull(strstr(r.error, "Rate limit hit"));
}
END_TEST

START_TEST(test_documented_retry_codes)
{
	static const long long codes[] = { 130429, 131056, 4, 80007, 131000, 131016, 2, 133004 };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		ck_assert_msg(wa_graph_code_retryable(codes[i]), "code %lld", codes[i]);
}
END_TEST

START_TEST(test_documented_permanent_codes)
{
	static const char *bodies[] = {
		ERRBODY(131047, "Re-engagement message"), ERRBODY(131026, "undeliverable"),
		ERRBODY(131021, "same number"), ERRBODY(100, "Invalid parameter"),
		ERRBODY(131008, "missing"), ERRBODY(131009, "bad value"),
		ERRBODY(0, "auth"), ERRBODY(190, "token expired"), ERRBODY(10, "perm"),
		ERRBODY(200, "perm"), ERRBODY(299, "perm"), ERRBODY(131005, "denied"),
		ERRBODY(131048, "spam"), ERRBODY(131049, "ecosystem"), ERRBODY(131050, "stopped"),
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct wa_send_result r = classify(400, bodies[i]);

		ck_assert_msg(r.cls == WA_SEND_PERMANENT, "%s", bodies[i]);
		ck_assert(!wa_graph_code_retryable(r.code));
	}
}
END_TEST

START_TEST(test_code_wins_over_http_status)
{
	/* 131047 is permanent even if a proxy dressed it as a 503 ... */
	ck_assert_int_eq(classify(503, ERRBODY(131047, "window")).cls, WA_SEND_PERMANENT);
	/* ... and 131000 is temporary even as a 400. */
	ck_assert_int_eq(classify(400, ERRBODY(131000, "oops")).cls, WA_SEND_RETRY);
}
END_TEST

START_TEST(test_unknown_codes_follow_http_status)
{
	ck_assert_int_eq(classify(500, ERRBODY(987654, "new")).cls, WA_SEND_RETRY);
	ck_assert_int_eq(classify(400, ERRBODY(987654, "new")).cls, WA_SEND_PERMANENT);
	ck_assert_int_eq(classify(502, "<html>bad gateway</html>").cls, WA_SEND_RETRY);
	ck_assert_int_eq(classify(429, NULL).cls, WA_SEND_RETRY);
	ck_assert_int_eq(classify(404, "not found").cls, WA_SEND_PERMANENT);
}
END_TEST

START_TEST(test_network_errors_are_retried)
{
	struct wa_send_result r = classify(0, NULL);

	ck_assert_int_eq(r.cls, WA_SEND_RETRY);
	ck_assert_str_eq(r.error, "network: timeout");
}
END_TEST

START_TEST(test_error_line_is_bounded)
{
	char			*big = malloc(5000), *body;
	struct wa_send_result	 r;

	memset(big, 'x', 4999);
	big[4999] = '\0';
	body = malloc(6000);
	snprintf(body, 6000, "{\"error\":{\"code\":131026,\"message\":\"%s\"}}", big);
	r = classify(400, body);
	ck_assert_int_eq(r.cls, WA_SEND_PERMANENT);
	ck_assert_uint_lt(strlen(r.error), sizeof(r.error));
	free(big);
	free(body);
}
END_TEST

START_TEST(test_retry_delay_is_equal_jitter)
{
	/* base 1 s, cap 60 s: attempt n waits between half and all of 2^(n-1) s. */
	ck_assert_int_eq(wa_graph_retry_delay_ms(1000, 60000, 1, 0.0), 500);
	ck_assert_int_eq(wa_graph_retry_delay_ms(1000, 60000, 1, 0.999999), 999);
	ck_assert_int_eq(wa_graph_retry_delay_ms(1000, 60000, 3, 0.0), 2000);
	ck_assert_int_le(wa_graph_retry_delay_ms(1000, 60000, 3, 0.999999), 4000);
	/* Capped, never zero, never past the cap. */
	ck_assert_int_eq(wa_graph_retry_delay_ms(1000, 60000, 30, 0.0), 30000);
	ck_assert_int_le(wa_graph_retry_delay_ms(1000, 60000, 30, 0.999999), 60000);
	ck_assert_int_eq(wa_graph_retry_delay_ms(1, 1, 1, 0.0), 1);
}
END_TEST

static Suite *
wa_graph_suite(void)
{
	Suite	*s = suite_create("wa_graph");
	TCase	*tc = tu_tcase(s, "graph", 0);

	tcase_add_test(tc, test_url_joins_parts);
	tcase_add_test(tc, test_url_refuses_path_tricks);
	tcase_add_test(tc, test_body_is_documented_shape);
	tcase_add_test(tc, test_success_keeps_wamid);
	tcase_add_test(tc, test_success_without_id_is_not_retried);
	tcase_add_test(tc, test_rate_limit_as_400_is_retried);
	tcase_add_test(tc, test_documented_retry_codes);
	tcase_add_test(tc, test_documented_permanent_codes);
	tcase_add_test(tc, test_code_wins_over_http_status);
	tcase_add_test(tc, test_unknown_codes_follow_http_status);
	tcase_add_test(tc, test_network_errors_are_retried);
	tcase_add_test(tc, test_error_line_is_bounded);
	tcase_add_test(tc, test_retry_delay_is_equal_jitter);
	return s;
}

int
main(void)
{
	return tu_run(wa_graph_suite());
}
