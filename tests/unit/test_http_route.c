/*
 * Guards: holdfast-http's request surface. Each documented route (and only
 * those) is matched, with a strict {id}; methods and Allow are right; the
 * error body has the seed's exact shape; the access log never shows query
 * secrets (hub.verify_token, tokens, passwords); and paging parameters are
 * validated rather than passed on.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_route.h"
#include "tu.h"

START_TEST(test_routes_match)
{
	long long id;

	ck_assert_int_eq(http_route_match("/healthz", &id), HTTP_R_HEALTHZ);
	ck_assert_int_eq(http_route_match("/readyz", &id), HTTP_R_READYZ);
	ck_assert_int_eq(http_route_match("/api/auth/login", &id), HTTP_R_LOGIN);
	ck_assert_int_eq(http_route_match("/api/conversations", &id), HTTP_R_CONVERSATIONS);
	ck_assert_int_eq(id, 0);
	ck_assert_int_eq(http_route_match("/api/conversations/42", &id), HTTP_R_CONVERSATION);
	ck_assert_int_eq(id, 42);
	ck_assert_int_eq(http_route_match("/api/conversations/9223372036854775807", &id),
	    HTTP_R_CONVERSATION);
	ck_assert_int_eq(id, INT64_MAX);
	ck_assert_int_eq(http_route_match("/api/calls", &id), HTTP_R_CALLS);
	ck_assert_int_eq(http_route_match("/webhooks/whatsapp", &id), HTTP_R_WEBHOOK);
	ck_assert_int_eq(http_route_match("/metrics", &id), HTTP_R_METRICS);
}
END_TEST

START_TEST(test_routes_reject)
{
	static const char *const bad[] = {
		"/", "", "/healthz/", "/healthzz", "/api/conversations/",
		"/api/conversations/0", "/api/conversations/007",
		"/api/conversations/-1", "/api/conversations/1x",
		"/api/conversations/1/", "/api/conversations/1/messages",
		"/api/conversations/9223372036854775808",
		"/api/conversations/99999999999999999999999",
		"/API/calls", "/webhooks/whatsapp/x", "/api/auth/login?x",
	};
	long long id;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(http_route_match(bad[i], &id) == -1, "matched %s", bad[i]);
		ck_assert_int_eq(id, 0);
	}
}
END_TEST

START_TEST(test_methods)
{
	ck_assert_int_eq(http_route_methods(HTTP_R_LOGIN), HTTP_M_POST);
	ck_assert_int_eq(http_route_methods(HTTP_R_HEALTHZ), HTTP_M_GET);
	ck_assert_int_eq(http_route_methods(HTTP_R_WEBHOOK), HTTP_M_GET | HTTP_M_POST);
	ck_assert_str_eq(http_route_allow(HTTP_R_LOGIN), "POST");
	ck_assert_str_eq(http_route_allow(HTTP_R_WEBHOOK), "GET, HEAD, POST");
	ck_assert_str_eq(http_route_name(HTTP_R_CONVERSATION), "/api/conversations/{id}");
	ck_assert_str_eq(http_route_name(HTTP_R_UNMATCHED), "unmatched");
}
END_TEST

START_TEST(test_error_shape)
{
	char	buf[256];
	size_t	n;

	n = http_error_body(buf, sizeof(buf), 503, "SERVICE_UNAVAILABLE",
	    "Database temporarily unavailable");
	ck_assert_str_eq(buf, "{\"error\":\"SERVICE_UNAVAILABLE\","
	    "\"detail\":\"Database temporarily unavailable\",\"status\":503}");
	ck_assert_uint_eq(n, strlen(buf));
	http_error_body(buf, sizeof(buf), 400, "BAD_REQUEST", "a \"quoted\"\nline");
	ck_assert_str_eq(buf, "{\"error\":\"BAD_REQUEST\","
	    "\"detail\":\"a \\\"quoted\\\"\\nline\",\"status\":400}");
	/* Invalid UTF-8 in a detail still gives valid JSON. */
	http_error_body(buf, sizeof(buf), 400, "BAD_REQUEST", "\xff\xfe");
	ck_assert_str_eq(buf, "{\"error\":\"BAD_REQUEST\",\"detail\":\"\",\"status\":400}");
	ck_assert_str_eq(http_error_code(404), "NOT_FOUND");
	ck_assert_str_eq(http_error_code(405), "METHOD_NOT_ALLOWED");
	ck_assert_str_eq(http_error_code(413), "PAYLOAD_TOO_LARGE");
	ck_assert_str_eq(http_error_code(431), "REQUEST_HEADER_FIELDS_TOO_LARGE");
	ck_assert_str_eq(http_error_code(500), "INTERNAL_ERROR");
	ck_assert_str_eq(http_error_code(503), "SERVICE_UNAVAILABLE");
}
END_TEST

START_TEST(test_redaction)
{
	char out[256];

	http_redact_uri("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=s3cret"
	    "&hub.challenge=123", out, sizeof(out));
	ck_assert_str_eq(out, "/webhooks/whatsapp?hub.mode=subscribe"
	    "&hub.verify_token=***&hub.challenge=123");
	ck_assert_ptr_null(strstr(out, "s3cret"));
	http_redact_uri("/x?access_token=abc&TOKEN=def&password=p&a=1", out, sizeof(out));
	ck_assert_str_eq(out, "/x?access_token=***&TOKEN=***&password=***&a=1");
	http_redact_uri("/healthz", out, sizeof(out));
	ck_assert_str_eq(out, "/healthz");
	http_redact_uri("/a?", out, sizeof(out));
	ck_assert_str_eq(out, "/a?");
	http_redact_uri("/a?token", out, sizeof(out));
	ck_assert_str_eq(out, "/a?token");
	/* Truncation keeps the result terminated and never leaks a suffix. */
	http_redact_uri("/webhooks/whatsapp?hub.verify_token=s3cret", out, 30);
	ck_assert_uint_eq(strlen(out), 29);
	ck_assert_ptr_null(strstr(out, "s3c"));
}
END_TEST

START_TEST(test_paging)
{
	int64_t		us;
	long long	id;
	int		lim;

	ck_assert_int_eq(http_parse_limit(NULL, 50, 500, &lim), 0);
	ck_assert_int_eq(lim, 50);
	ck_assert_int_eq(http_parse_limit("500", 50, 500, &lim), 0);
	ck_assert_int_eq(lim, 500);
	ck_assert_int_eq(http_parse_limit("501", 50, 500, &lim), -1);
	ck_assert_int_eq(http_parse_limit("0", 50, 500, &lim), -1);
	ck_assert_int_eq(http_parse_limit("1;drop", 50, 500, &lim), -1);
	ck_assert_int_eq(http_parse_cursor("1764331200123456_42", &us, &id), 0);
	ck_assert_int_eq(us, 1764331200123456LL);
	ck_assert_int_eq(id, 42);
	ck_assert_int_eq(http_parse_cursor("-5_1", &us, &id), 0);
	ck_assert_int_eq(http_parse_cursor("12", &us, &id), -1);
	ck_assert_int_eq(http_parse_cursor("_12", &us, &id), -1);
	ck_assert_int_eq(http_parse_cursor("12_", &us, &id), -1);
	ck_assert_int_eq(http_parse_cursor("12_0", &us, &id), -1);
	ck_assert_int_eq(http_parse_cursor("1x_3", &us, &id), -1);
	ck_assert_int_eq(http_parse_cursor("1_3_4", &us, &id), -1);
	/* years 1..9999 only: PostgreSQL refuses some times outside them */
	ck_assert_int_eq(http_parse_cursor("4611686018427387903_1", &us, &id), -1);
	ck_assert_int_eq(http_parse_cursor("-62135596800000001_1", &us, &id), -1);
	ck_assert_int_eq(http_parse_cursor("-62135596800000000_1", &us, &id), 0);
	ck_assert_int_eq(http_parse_cursor("253402300799999999_1", &us, &id), 0);
	ck_assert_int_eq(http_parse_cursor("253402300800000000_1", &us, &id), -1);
}
END_TEST

START_TEST(test_query_strings)
{
	struct http_qparam	 q[4];
	char			*buf;

	ck_assert_int_eq(http_query_parse("a=1&b=x%20y+z&&c&d=%2F", &buf, q, 4), 4);
	ck_assert_str_eq(q[0].name, "a");
	ck_assert_str_eq(q[0].value, "1");
	ck_assert_str_eq(q[1].value, "x y z");
	ck_assert_str_eq(q[2].name, "c");
	ck_assert_str_eq(q[2].value, "");
	ck_assert_str_eq(q[3].value, "/");
	free(buf);
	ck_assert_int_eq(http_query_parse("a=%zz", &buf, q, 4), -1);
	free(buf);
	ck_assert_int_eq(http_query_parse("a=%00", &buf, q, 4), -1);
	free(buf);
	ck_assert_int_eq(http_query_parse("a=%4", &buf, q, 4), -1);
	free(buf);
	ck_assert_int_eq(http_query_parse("a&b&c&d&e", &buf, q, 4), -1);
	free(buf);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("http_route");
	TCase	*tc = tu_tcase(s, "core", 0);

	tcase_add_test(tc, test_routes_match);
	tcase_add_test(tc, test_routes_reject);
	tcase_add_test(tc, test_methods);
	tcase_add_test(tc, test_error_shape);
	tcase_add_test(tc, test_redaction);
	tcase_add_test(tc, test_paging);
	tcase_add_test(tc, test_query_strings);
	return tu_run(s);
}
