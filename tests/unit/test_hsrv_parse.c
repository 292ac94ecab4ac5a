/*
 * Guards hsrv's request parser (common/hsrv_parse.c): valid requests parse
 * the same whatever the split points; every framing two parsers could
 * disagree on (smuggling) is refused; limits answer 413/414/431 before
 * the memory is taken; errors carry the right status.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hsrv.h"
#include "tu.h"

static int64_t	mem_used, mem_cap = 1 << 20;

static int
mem_hook(void *arg, int64_t d)
{
	(void)arg;
	if (d > 0 && mem_used + d > mem_cap)
		return -1;
	mem_used += d;
	return 0;
}

/*
 * Feeds req in pieces of step bytes (0: at once) with body limit limit.
 * Returns the final result; *used_total the bytes consumed.
 */
static int
feed(struct hsrv_parser *p, const char *req, size_t len, size_t step,
    int64_t limit, size_t *used_total)
{
	size_t	off = 0, used, n;
	int	r = HSRV_MORE;

	while (off < len || r == HSRV_HEAD) {
		n = step == 0 || len - off < step ? len - off : step;
		r = hsrv_parse(p, req + off, n, &used);
		off += used;
		if (r == HSRV_HEAD) {
			if ((r = hsrv_parser_body(p, limit)) == HSRV_ERROR)
				break;
			r = HSRV_HEAD;	/* go on, maybe with no bytes left */
			if (off == len) {
				r = hsrv_parse(p, "", 0, &used);
				break;
			}
			continue;
		}
		if (r != HSRV_MORE)
			break;
	}
	*used_total = off;
	return r;
}

static int
status_of(const char *req, int64_t limit)
{
	struct hsrv_parser	p;
	size_t			used;
	int			r, st;

	hsrv_parser_init(&p, 1024);
	r = feed(&p, req, strlen(req), 0, limit, &used);
	st = r == HSRV_ERROR ? p.status : r == HSRV_DONE ? 200 : 0;
	hsrv_parser_free(&p);
	return st;
}

START_TEST(test_parses_any_split)
{
	static const char req[] = "POST /a/b?x=1 HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\nX-A:  v  \r\n\r\n"
	    "3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: x\r\n\r\nGET /next";
	size_t	len = strlen(req), used;

	for (size_t step = 0; step < 40; step++) {
		struct hsrv_parser p;

		hsrv_parser_init(&p, 1024);
		p.mem = mem_hook;
		ck_assert_int_eq(feed(&p, req, len, step, 1000, &used), HSRV_DONE);
		ck_assert_uint_eq(used, len - strlen("GET /next"));
		ck_assert_str_eq(p.method, "POST");
		ck_assert_str_eq(p.target, "/a/b?x=1");
		ck_assert_str_eq(hsrv_parser_header(&p, "x-a"), "v");
		ck_assert_uint_eq(p.bodylen, 19);
		ck_assert_str_eq(p.body, "abc0123456789abcdef");
		ck_assert_int_eq(p.keepalive, 1);
		hsrv_parser_free(&p);
		ck_assert_int_eq(mem_used, 0);
	}
}
END_TEST

START_TEST(test_content_length_and_keepalive)
{
	struct hsrv_parser	p;
	size_t			used;

	static const char r1[] = "\r\nPOST / HTTP/1.0\r\nContent-Length: 3\r\n"
	    "Connection: keep-alive\r\n\r\nxyzGET";
	static const char r2[] = "GET http://h:1/p HTTP/1.1\r\nHost: h\r\n"
	    "Connection: close\r\n\r\n";

	hsrv_parser_init(&p, 1024);
	ck_assert_int_eq(feed(&p, r1, strlen(r1), 1, 10, &used), HSRV_DONE);
	ck_assert_uint_eq(used, strlen(r1) - 3);
	ck_assert_str_eq(p.body, "xyz");
	ck_assert_int_eq(p.keepalive, 1);
	hsrv_parser_reset(&p);
	ck_assert_int_eq(feed(&p, r2, strlen(r2), 0, 10, &used), HSRV_DONE);
	ck_assert_str_eq(p.target, "/p");
	ck_assert_int_eq(p.keepalive, 0);
	hsrv_parser_free(&p);
}
END_TEST

START_TEST(test_smuggling_refused)
{
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 100), 400);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
	    "Content-Length: 3\r\n\r\nabc", 100), 400);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc",
	    100), 400);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    100), 501);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 100), 400);
	ck_assert_int_eq(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 100), 400);
	ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 100), 400);
	ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: h\rX: a\r\n\r\n", 100), 400);
	ck_assert_int_eq(status_of("GET / HTTP/1.1\nHost: h\r\n\r\n", 100), 400);
	ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 100), 400);
	ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n", 100), 400);
	ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 100), 400);
	ck_assert_int_eq(status_of("GET / HTTP/1.1\r\n\r\n", 100), 400);
	/* chunk sizes */
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0x3\r\nabc\r\n0\r\n\r\n", 100), 400);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "-1\r\n", 100), 400);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "fffffffffffffffff\r\n", 100), 400);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabcd\r\n0\r\n\r\n", 100), 400);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\nabc\r\n0\r\n\r\n", 100), 400);
}
END_TEST

START_TEST(test_request_lines)
{
	ck_assert_int_eq(status_of("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 10), 400);
	ck_assert_int_eq(status_of("GET / HTTP/1.1 x\r\nHost: h\r\n\r\n", 10), 400);
	ck_assert_int_eq(status_of("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 10), 400);
	ck_assert_int_eq(status_of("BREW / HTTP/1.1\r\nHost: h\r\n\r\n", 10), 501);
	ck_assert_int_eq(status_of("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 10), 505);
	ck_assert_int_eq(status_of("GET / HTTX/1.1\r\nHost: h\r\n\r\n", 10), 400);
	ck_assert_int_eq(status_of("GET x HTTP/1.1\r\nHost: h\r\n\r\n", 10), 400);
	ck_assert_int_eq(status_of("GET /\x80 HTTP/1.1\r\nHost: h\r\n\r\n", 10), 400);
	ck_assert_int_eq(status_of("GET / HTTP/1.0\r\n\r\n", 10), 200);
}
END_TEST

START_TEST(test_limits)
{
	static const char cl200[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 200\r\n\r\n";
	char	*big = malloc(4096);
	struct hsrv_parser p;
	size_t	used;

	/* request line over max_head: 414; headers over it: 431 */
	strcpy(big, "GET /");
	memset(big + 5, 'a', 2000);
	strcpy(big + 2005, " HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(status_of(big, 10), 414);
	strcpy(big, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
	memset(big + 28, 'a', 2000);
	strcpy(big + 2028, "\r\n\r\n");
	ck_assert_int_eq(status_of(big, 10), 431);
	free(big);
	/* Content-Length over the limit: 413 before any body byte */
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", 10), 413);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 99999999999999999999\r\n\r\n", 10), 400);
	/* chunked: 413 on the chunk that passes the limit */
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "8\r\n12345678\r\n3\r\n", 10), 413);
	/* the memory budget: 503 and nothing kept */
	hsrv_parser_init(&p, 1024);
	p.mem = mem_hook;
	mem_cap = 100;
	ck_assert_int_eq(feed(&p, cl200, strlen(cl200), 0, 1000, &used), HSRV_ERROR);
	ck_assert_int_eq(p.status, 503);
	ck_assert_int_eq(mem_used, 0);
	hsrv_parser_free(&p);
	mem_cap = 1 << 20;
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("hsrv_parse");
	TCase	*tc = tu_tcase(s, "core", 0);

	tcase_add_test(tc, test_parses_any_split);
	tcase_add_test(tc, test_content_length_and_keepalive);
	tcase_add_test(tc, test_smuggling_refused);
	tcase_add_test(tc, test_request_lines);
	tcase_add_test(tc, test_limits);
	return tu_run(s);
}
