/*
 * test_json: every message between holdfastd, its workers and holdfastctl
 * is JSON, and so is every HTTP error body. The promise guarded here:
 * malformed input (truncated, NUL bytes, invalid UTF-8, wrong types) is
 * refused with a reason instead of crashing or being half-read, and the
 * writer never emits invalid JSON whatever bytes it is given.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tu.h"

static char	err[256];

static yajl_val
parse(const char *s)
{
	err[0] = '\0';
	return json_parse(s, strlen(s), err, sizeof(err));
}

START_TEST(test_parse_errors)
{
	static const char *const bad[] = {
		"", "{", "{\"a\":}", "{\"a\" 1}", "[1,]", "{\"a\":1,}", "nul", "tru",
		"{\"a\":1}}", "{a:1}", "'x'", "\"unterminated", "[1 2]", "{\"a\":01}",
		"\"\\x\"", "\"tab\there\"",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		yajl_val v = parse(bad[i]);

		ck_assert_msg(v == NULL, "accepted: %s", bad[i]);
		ck_assert_msg(err[0] != '\0', "no reason for: %s", bad[i]);
		ck_assert_msg(strchr(err, '\n') == NULL, "multi-line reason: %s", err);
	}
}
END_TEST

START_TEST(test_nul_and_length)
{
	const char	 msg[] = "{\"type\":\"hello\"}\0{\"x\":1}";
	yajl_val	 v;

	/* A NUL inside the given length is refused, not silently cut. */
	ck_assert_ptr_null(json_parse(msg, sizeof(msg) - 1, err, sizeof(err)));
	ck_assert_str_eq(err, "NUL byte in JSON text");
	ck_assert_ptr_null(json_parse("{\"a\":\"b\0c\"}", 11, err, sizeof(err)));
	/* The length is honoured: the buffer need not be NUL-terminated. */
	v = json_parse("{\"a\":1}garbage", 7, err, sizeof(err));
	ck_assert_ptr_nonnull(v);
	yajl_tree_free(v);
	ck_assert_ptr_null(json_parse("{\"a\":1}garbage", 6, err, sizeof(err)));
	/* No room for a reason is fine too. */
	ck_assert_ptr_null(json_parse("{", 1, NULL, 0));
}
END_TEST

START_TEST(test_invalid_utf8)
{
	static const char *const bad[] = {
		"\"\xff\"", "\"\xc3\"", "\"\xc3(\"", "{\"\xe2\x82\":1}", "\"\xed\xa0\x80x\xff\"",
	};
	yajl_val	v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i]) == NULL, "accepted invalid UTF-8 #%zu", i);
	v = parse("{\"name\":\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \\u00e9\"}");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(json_get_str(v, "name"), "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xc3\xa9");
	yajl_tree_free(v);
}
END_TEST

START_TEST(test_getters)
{
	yajl_val	 v, a;
	long long	 n = 0;
	int		 b = -1;

	v = parse("{\"s\":\"str\",\"i\":-42,\"big\":9223372036854775807,"
	    "\"huge\":99999999999999999999,\"d\":1.5,\"t\":true,\"f\":false,"
	    "\"n\":null,\"a\":[1,2,3],\"o\":{\"k\":\"v\"},\"esc\":\"a\\\"b\\\\c\\n\"}");
	ck_assert_msg(v != NULL, "%s", err);
	ck_assert_str_eq(json_get_str(v, "s"), "str");
	ck_assert_str_eq(json_get_str(v, "esc"), "a\"b\\c\n");
	ck_assert_int_eq(json_get_int(v, "i", &n), 0);
	ck_assert_int_eq(n, -42);
	ck_assert_int_eq(json_get_int(v, "big", &n), 0);
	ck_assert_int_eq(n, 9223372036854775807LL);
	n = 7;
	/* Out of range or not an integer: refused, output untouched. */
	ck_assert_int_eq(json_get_int(v, "huge", &n), -1);
	ck_assert_int_eq(json_get_int(v, "d", &n), -1);
	ck_assert_int_eq(json_get_int(v, "s", &n), -1);
	ck_assert_int_eq(json_get_int(v, "missing", &n), -1);
	ck_assert_int_eq(n, 7);
	ck_assert_int_eq(json_get_bool(v, "t", &b), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(json_get_bool(v, "f", &b), 0);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(json_get_bool(v, "n", &b), -1);
	ck_assert_int_eq(json_get_bool(v, "i", &b), -1);
	ck_assert_ptr_null(json_get_str(v, "i"));
	ck_assert_ptr_null(json_get_str(v, "n"));
	ck_assert_ptr_null(json_get_str(v, "missing"));
	ck_assert_ptr_nonnull(json_get(v, "n"));
	a = json_get_array(v, "a");
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->u.array.len, 3);
	ck_assert_ptr_null(json_get_array(v, "o"));
	ck_assert_ptr_null(json_get_object(v, "a"));
	ck_assert_str_eq(json_get_str(json_get_object(v, "o"), "k"), "v");
	/* Getters on non-objects and NULL are safe. */
	ck_assert_ptr_null(json_get(a, "k"));
	ck_assert_ptr_null(json_get(NULL, "k"));
	ck_assert_ptr_null(json_get_str(NULL, "k"));
	ck_assert_int_eq(json_get_int(NULL, "k", &n), -1);
	yajl_tree_free(v);

	/* A top-level array or scalar parses but has no members. */
	v = parse("[{\"a\":1}]");
	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_null(json_get(v, "a"));
	yajl_tree_free(v);
}
END_TEST

START_TEST(test_writer)
{
	struct jw	*w = jw_new();
	const char	*out;
	size_t		 len;
	yajl_val	 v;

	jw_obj_open(w);
	jw_kstr(w, "error", "SERVICE_UNAVAILABLE");
	jw_kstr(w, "detail", "Database temporarily unavailable");
	jw_kint(w, "status", 503);
	jw_obj_close(w);
	out = jw_buf(w, &len);
	ck_assert_str_eq(out, "{\"error\":\"SERVICE_UNAVAILABLE\","
	    "\"detail\":\"Database temporarily unavailable\",\"status\":503}");
	ck_assert_uint_eq(len, strlen(out));

	jw_reset(w);
	jw_arr_open(w);
	jw_str(w, "quote\" backslash\\ nl\n cr\r tab\t ctl\x01 slash/");
	jw_strn(w, "a\0b", 3);
	jw_str(w, NULL);
	jw_null(w);
	jw_bool(w, 1);
	jw_bool(w, 0);
	jw_int(w, -9223372036854775807LL - 1);
	jw_double(w, 0.25);
	jw_obj_open(w);
	jw_key(w, "k\"ey");
	jw_int(w, 1);
	jw_kbool(w, "b", 1);
	jw_obj_close(w);
	jw_arr_close(w);
	out = jw_buf(w, &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_null(strchr(out, '\n'));
	ck_assert_ptr_null(strchr(out, '\x01'));
	/* What the writer wrote, the reader reads back exactly. */
	v = json_parse(out, len, err, sizeof(err));
	ck_assert_msg(v != NULL, "%s: %s", err, out);
	ck_assert_str_eq(v->u.array.values[0]->u.string,
	    "quote\" backslash\\ nl\n cr\r tab\t ctl\x01 slash/");
	ck_assert(YAJL_IS_NULL(v->u.array.values[2]));
	ck_assert(YAJL_IS_NULL(v->u.array.values[3]));
	ck_assert(YAJL_IS_TRUE(v->u.array.values[4]));
	ck_assert_int_eq(YAJL_GET_INTEGER(v->u.array.values[6]), -9223372036854775807LL - 1);
	ck_assert(YAJL_GET_DOUBLE(v->u.array.values[7]) == 0.25);
	ck_assert_ptr_nonnull(json_get(v->u.array.values[8], "k\"ey"));
	yajl_tree_free(v);
	/* The NUL in jw_strn's input is escaped, not a terminator. */
	ck_assert_ptr_nonnull(strstr(out, "\"a\\u0000b\""));
	jw_free(w);
}
END_TEST

/* Errors latch: later calls are no-ops and jw_buf says NULL until reset. */
START_TEST(test_writer_errors)
{
	struct jw	*w = jw_new();

	jw_arr_open(w);
	jw_str(w, "ok");
	jw_str(w, "bad \xff utf-8");
	jw_str(w, "after");
	jw_arr_close(w);
	ck_assert_ptr_null(jw_buf(w, NULL));
	jw_reset(w);
	jw_str(w, "\xc3\xa9");
	ck_assert_str_eq(jw_buf(w, NULL), "\"\xc3\xa9\"");

	jw_reset(w);
	jw_arr_open(w);
	jw_double(w, NAN);
	ck_assert_ptr_null(jw_buf(w, NULL));
	jw_reset(w);
	jw_arr_open(w);
	jw_double(w, INFINITY);
	ck_assert_ptr_null(jw_buf(w, NULL));

	/* A key must be a string; closing what is not open is an error. */
	jw_reset(w);
	jw_obj_open(w);
	jw_int(w, 1);
	ck_assert_ptr_null(jw_buf(w, NULL));
	jw_reset(w);
	jw_obj_close(w);
	ck_assert_ptr_null(jw_buf(w, NULL));
	jw_reset(w);
	jw_int(w, 5);
	ck_assert_str_eq(jw_buf(w, NULL), "5");
	jw_free(w);
	jw_free(NULL);
}
END_TEST

/* A parsed value is written again as it was, numbers in their own text. */
START_TEST(test_value_copy)
{
	const char	*in = "{\"a\":[1,-0,2.50,1e400,123456789012345678901234],"
	    "\"b\":{\"c\":\"\\u00e9\\\"x\"},\"t\":true,\"f\":false,\"n\":null}";
	const char	*want = "{\"a\":[1,-0,2.50,1e400,123456789012345678901234],"
	    "\"b\":{\"c\":\"\xc3\xa9\\\"x\"},\"t\":true,\"f\":false,\"n\":null}";
	yajl_val	 v = parse(in);
	struct jw	*w = jw_new();
	char		*s;

	ck_assert_ptr_nonnull(v);
	s = json_dump(v);
	ck_assert_str_eq(s, want);
	free(s);
	jw_arr_open(w);
	jw_value(w, json_get(v, "t"));
	jw_value(w, json_get_array(v, "a"));
	jw_arr_close(w);
	ck_assert_str_eq(jw_buf(w, NULL), "[true,[1,-0,2.50,1e400,123456789012345678901234]]");
	s = jw_dup(w);
	ck_assert_str_eq(s, "[true,[1,-0,2.50,1e400,123456789012345678901234]]");
	free(s);
	jw_arr_close(w);	/* nothing open: an error */
	ck_assert_ptr_null(jw_dup(w));
	jw_free(w);
	yajl_tree_free(v);
	ck_assert_ptr_null(json_dump(NULL));

	/* 128 levels parse; the dump writes what the generator lets through. */
	{
		char	deep[257];

		memset(deep, '[', 128);
		memset(deep + 128, ']', 128);
		deep[256] = '\0';
		v = parse(deep);
		ck_assert_ptr_nonnull(v);
		s = json_dump(v);
		ck_assert_ptr_nonnull(s);
		free(s);
		w = jw_new();
		jw_value(w, v);
		ck_assert_ptr_null(jw_dup(w));
		jw_free(w);
		yajl_tree_free(v);
	}
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("json");
	TCase	*tc = tu_tcase(s, "json", 0);

	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_nul_and_length);
	tcase_add_test(tc, test_invalid_utf8);
	tcase_add_test(tc, test_getters);
	tcase_add_test(tc, test_writer);
	tcase_add_test(tc, test_writer_errors);
	tcase_add_test(tc, test_value_copy);
	return tu_run(s);
}
