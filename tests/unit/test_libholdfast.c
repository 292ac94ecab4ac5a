/*
 * test_libholdfast: the public library's parts that need no holdfastd:
 * its JSON reader and writer (strict, bounded, no dependency), the calls
 * without a supervisor (no-ops), argument checks, the heartbeat timeout,
 * and the socket-activation helpers. The channel itself is test_chan's
 * worker side (through common/chan_worker.c) and test_protocol's.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "holdfast/worker.h"
#include "hf_json.h"
#include "tu.h"

#define J(s)	s, strlen(s)

START_TEST(test_json_get)
{
	char		 buf[64];
	long long	 n = 0;

	ck_assert_int_eq(hfl_json_get(J("{\"type\":\"welcome\",\"version\":2}"), "type",
	    buf, sizeof(buf), NULL), HFL_J_STR);
	ck_assert_str_eq(buf, "welcome");
	ck_assert_int_eq(hfl_json_get(J(" { \"a\" : [1,{\"b\":null}], \"version\" : -7 } "),
	    "version", NULL, 0, &n), HFL_J_INT);
	ck_assert_int_eq(n, -7);
	/* Escapes, \u with a surrogate pair, and a cut to the buffer. */
	ck_assert_int_eq(hfl_json_get(J("{\"d\":\"a\\\"\\n\\u00e9\\ud83d\\ude00\"}"), "d",
	    buf, sizeof(buf), NULL), HFL_J_STR);
	ck_assert_str_eq(buf, "a\"\n\xc3\xa9\xf0\x9f\x98\x80");
	ck_assert_int_eq(hfl_json_get(J("{\"d\":\"abcdef\"}"), "d", buf, 4, NULL), HFL_J_STR);
	ck_assert_str_eq(buf, "abc");
	/* Not integers, absent, last one wins. */
	ck_assert_int_eq(hfl_json_get(J("{\"v\":1.5}"), "v", NULL, 0, &n), HFL_J_OTHER);
	ck_assert_int_eq(hfl_json_get(J("{\"v\":99999999999999999999}"), "v", NULL, 0, &n),
	    HFL_J_OTHER);
	ck_assert_int_eq(hfl_json_get(J("{\"v\":true}"), "w", NULL, 0, &n), HFL_J_NONE);
	ck_assert_int_eq(hfl_json_get(J("{\"v\":1,\"v\":2}"), "v", NULL, 0, &n), HFL_J_INT);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(hfl_json_get(J("{}"), "v", NULL, 0, &n), HFL_J_NONE);
}
END_TEST

START_TEST(test_json_bad)
{
	static const char *const bad[] = {
		"", "[]", "\"x\"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}",
		"{\"a\":1}x", "{\"a\":01}", "{\"a\":tru}", "{\"a\":\"\x01\"}",
		"{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":[1,]}", "{\"a\":1 \"b\":2}",
		"{\"a\":-}", "{\"a\":1.}", "{\"a\":1e}",
	};
	char *s = malloc(300), *p = s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(hfl_json_get(bad[i], strlen(bad[i]), "a", NULL, 0, NULL) ==
		    HFL_J_BAD, "accepted: %s", bad[i]);
	/* Nesting is bounded: 90 arrays deep is refused, not recursed into. */
	p += sprintf(p, "{\"a\":");
	for (int i = 0; i < 90; i++)
		*p++ = '[';
	for (int i = 0; i < 90; i++)
		*p++ = ']';
	sprintf(p, "}");
	ck_assert_int_eq(hfl_json_get(s, strlen(s), "a", NULL, 0, NULL), HFL_J_BAD);
	free(s);
}
END_TEST

START_TEST(test_json_str)
{
	char buf[128] = "";

	hfl_json_str(buf, sizeof(buf), "q\"b\\\n\x01\xc3\xa9\xff.");
	ck_assert_str_eq(buf, "\"q\\\"b\\\\\\u000a\\u0001\xc3\xa9?.\"");
	buf[0] = '\0';
	ck_assert_uint_eq(hfl_json_str(buf, 4, "abcdef"), 8);
	ck_assert_str_eq(buf, "\"ab");
}
END_TEST

/* Without holdfastd every call is a no-op that succeeds. */
START_TEST(test_no_supervisor)
{
	struct holdfast *h;

	unsetenv("HOLDFAST_CHANNEL_FD");
	ck_assert_int_eq(holdfast_open(&h, "t"), 0);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(holdfast_connected(h), 0);
	ck_assert_int_eq(holdfast_fd(h), -1);
	ck_assert_int_eq(holdfast_timeout_ms(h), -1);
	ck_assert_int_eq(holdfast_events(h), 0);
	ck_assert_int_eq(holdfast_tick(h), 0);
	ck_assert_int_eq(holdfast_ready(h), 0);
	ck_assert_int_eq(holdfast_status(h, "%d", 1), 0);
	ck_assert_int_eq(holdfast_db(h, 0, "X", NULL), 0);
	ck_assert_ptr_null(holdfast_error(h));
	holdfast_close(h);
	setenv("HOLDFAST_CHANNEL_FD", "1x", 1);
	ck_assert_int_eq(holdfast_open(&h, "t"), -1);
	ck_assert_ptr_null(h);
	ck_assert_int_eq(errno, EBADF);
	setenv("HOLDFAST_CHANNEL_FD", "4000", 1);
	ck_assert_int_eq(holdfast_open(&h, "t"), -1);
	unsetenv("HOLDFAST_CHANNEL_FD");
}
END_TEST

/* Arguments, the heartbeat timeout, and the status cut. */
START_TEST(test_send_checks)
{
	struct holdfast	*h;
	char		 fd[16], line[600], big[1000];
	int		 sv[2];
	ssize_t		 n;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	snprintf(fd, sizeof(fd), "%d", sv[0]);
	setenv("HOLDFAST_CHANNEL_FD", fd, 1);
	setenv("HOLDFAST_HEARTBEAT_MS", "5000", 1);
	ck_assert_int_eq(holdfast_open(&h, "t"), 1);
	ck_assert_int_eq(holdfast_fd(h), sv[0]);
	ck_assert_int_gt(holdfast_timeout_ms(h), 4000);
	ck_assert_int_le(holdfast_timeout_ms(h), 5000);
	ck_assert_int_eq(holdfast_send_json(h, "{\"type\":\"stats\"}\n", 17), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(holdfast_send_json(h, "{\"kind\":1}", 10), -1);
	ck_assert_int_eq(holdfast_send_json(h, "{\"type\":\"stats\",\"n\":1}", 22), 0);
	/* The welcome (version 2) lets status through, cut to 256 bytes. */
	ck_assert_int_eq(write(sv[1], "{\"type\":\"welcome\",\"version\":2,\"heartbeat_ms\":20}\n", 49), 49);
	usleep(20000);
	ck_assert_int_eq(holdfast_tick(h), 0);
	ck_assert_int_le(holdfast_timeout_ms(h), 20);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(holdfast_status(h, "%s", big), 0);
	n = read(sv[1], line, sizeof(line) - 1);
	ck_assert_int_gt(n, 0);
	line[n] = '\0';
	ck_assert_ptr_nonnull(strstr(line, "{\"type\":\"stats\",\"n\":1}\n"));
	ck_assert_msg(strstr(line, "\"text\":\"") != NULL &&
	    strlen(strstr(line, "\"text\":\"")) == 8 + 256 + 3, "status: %s", line);
	close(sv[1]);
	ck_assert_int_eq(holdfast_tick(h), -1);
	ck_assert_str_eq(holdfast_error(h), "EOF");
	ck_assert_int_eq(holdfast_connected(h), 0);
	holdfast_close(h);
}
END_TEST

/* LISTEN_FDS: in a child, whose descriptors 3 and 4 may be replaced. */
START_TEST(test_listen_fds)
{
	pid_t	 pid;
	int	 status;

	if ((pid = fork()) == 0) {
		int	 tcp = socket(AF_INET, SOCK_STREAM, 0), udp = socket(AF_INET, SOCK_DGRAM, 0);
		char	 p[16], name[16];

		if (dup2(udp, 3) == -1 || dup2(tcp, 4) == -1)
			_exit(10);
		snprintf(p, sizeof(p), "%d", (int)getpid());
		setenv("LISTEN_PID", "1", 1);
		setenv("LISTEN_FDS", "2", 1);
		setenv("LISTEN_FDNAMES", "sip:api", 1);
		if (holdfast_listen_fds() != 0 || holdfast_listen_socket(SOCK_STREAM) != -1)
			_exit(11);	/* not for us */
		setenv("LISTEN_PID", p, 1);
		if (holdfast_listen_fds() != 2)
			_exit(12);
		if (holdfast_listen_socket(SOCK_STREAM) != 4 || holdfast_listen_socket(SOCK_DGRAM) != 3)
			_exit(13);
		if (holdfast_listen_name(1, name, sizeof(name)) != 0 || strcmp(name, "api") != 0 ||
		    holdfast_listen_name(0, name, sizeof(name)) != 0 || strcmp(name, "sip") != 0 ||
		    holdfast_listen_name(2, name, sizeof(name)) != -1)
			_exit(14);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("libholdfast");
	TCase	*tc = tu_tcase(s, "libholdfast", 0);

	tcase_add_test(tc, test_json_get);
	tcase_add_test(tc, test_json_bad);
	tcase_add_test(tc, test_json_str);
	tcase_add_test(tc, test_no_supervisor);
	tcase_add_test(tc, test_send_checks);
	tcase_add_test(tc, test_listen_fds);
	return tu_run(s);
}
