/*
 * test_util: the arithmetic every process relies on. The seed promises a
 * backoff that grows 1, 2, 4, 8, 16 s and never stampedes (full jitter,
 * always within [0, min(cap, base * 2^n)], however many attempts), and
 * the config promises that durations and numbers are read exactly or
 * refused.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "buf.h"
#include "tu.h"
#include "util.h"

START_TEST(test_durations)
{
	static const struct { const char *s; int64_t ms; } ok[] = {
		{ "500ms", 500 }, { "5s", 5000 }, { "2m", 120000 }, { "1h", 3600000 },
		{ "0", 0 }, { "0ms", 0 }, { "30", 30000 }, { "300s", 300000 },
		{ "2562047788015h", 2562047788015LL * 3600000 },
	};
	static const char *const bad[] = {
		"", "s", "ms", "-1", "-1s", "+5s", " 5s", "5s ", "5 s", "5S", "5sec", "1d",
		"1.5s", "0x10", "1h30m", "99999999999999999999", "2562047788016h",
		"9223372036854775807s",
	};
	int64_t	 ms;

	for (size_t i = 0; i < nitems(ok); i++) {
		ms = -42;
		ck_assert_msg(hf_parse_duration_ms(ok[i].s, &ms) == 0, "%s", ok[i].s);
		ck_assert_msg(ms == ok[i].ms, "%s -> %lld", ok[i].s, (long long)ms);
	}
	for (size_t i = 0; i < nitems(bad); i++) {
		ms = -42;
		ck_assert_msg(hf_parse_duration_ms(bad[i], &ms) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_msg(ms == -42, "\"%s\" wrote its output", bad[i]);
	}
	ck_assert_int_eq(hf_parse_duration_ms(NULL, &ms), -1);
}
END_TEST

START_TEST(test_parse_int)
{
	long long	v = 0;

	ck_assert_int_eq(hf_parse_int("0", 0, 10, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(hf_parse_int("10", 0, 10, &v), 0);
	ck_assert_int_eq(v, 10);
	ck_assert_int_eq(hf_parse_int("-5", -10, 10, &v), 0);
	ck_assert_int_eq(v, -5);
	ck_assert_int_eq(hf_parse_int("9223372036854775807", 0, LLONG_MAX, &v), 0);
	ck_assert_int_eq(v, LLONG_MAX);
	v = 7;
	ck_assert_int_eq(hf_parse_int("11", 0, 10, &v), -1);
	ck_assert_int_eq(hf_parse_int("-1", 0, 10, &v), -1);
	ck_assert_int_eq(hf_parse_int("", 0, 10, &v), -1);
	ck_assert_int_eq(hf_parse_int(NULL, 0, 10, &v), -1);
	ck_assert_int_eq(hf_parse_int("1x", 0, 10, &v), -1);
	ck_assert_int_eq(hf_parse_int("1 ", 0, 10, &v), -1);
	ck_assert_int_eq(hf_parse_int("1.0", 0, 10, &v), -1);
	ck_assert_int_eq(hf_parse_int("0x1", 0, 10, &v), -1);
	ck_assert_int_eq(hf_parse_int("9223372036854775808", 0, LLONG_MAX, &v), -1);
	ck_assert_int_eq(hf_parse_int("-9223372036854775809", LLONG_MIN, 0, &v), -1);
	ck_assert_int_eq(v, 7);
}
END_TEST

START_TEST(test_parse_bool)
{
	static const char *const yes[] = { "true", "TRUE", "yes", "Yes", "on", "1" };
	static const char *const no[] = { "false", "False", "no", "NO", "off", "0" };
	static const char *const bad[] = { "", "2", "y", "n", "truee", "nope", " true" };

	for (size_t i = 0; i < nitems(yes); i++)
		ck_assert_msg(hf_parse_bool(yes[i]) == 1, "%s", yes[i]);
	for (size_t i = 0; i < nitems(no); i++)
		ck_assert_msg(hf_parse_bool(no[i]) == 0, "%s", no[i]);
	for (size_t i = 0; i < nitems(bad); i++)
		ck_assert_msg(hf_parse_bool(bad[i]) == -1, "%s", bad[i]);
}
END_TEST

/* The seed's schedule: 1, 2, 4, 8, 16 s, then flat at the cap. */
START_TEST(test_backoff_ceiling)
{
	static const int64_t seed[] = { 1000, 2000, 4000, 8000, 16000, 16000, 16000 };

	for (int i = 0; i < (int)nitems(seed); i++)
		ck_assert_int_eq(hf_backoff_ceiling_ms(1000, 16000, i), seed[i]);
	ck_assert_int_eq(hf_backoff_ceiling_ms(100, 30000, 0), 100);
	ck_assert_int_eq(hf_backoff_ceiling_ms(100, 30000, 8), 25600);
	ck_assert_int_eq(hf_backoff_ceiling_ms(100, 30000, 9), 30000);
	/* A base above the cap is capped; negative attempts count as 0. */
	ck_assert_int_eq(hf_backoff_ceiling_ms(5000, 1000, 0), 1000);
	ck_assert_int_eq(hf_backoff_ceiling_ms(1000, 16000, -3), 1000);
	/* Huge attempts and caps neither overflow nor take long. */
	ck_assert_int_eq(hf_backoff_ceiling_ms(1000, 16000, INT_MAX), 16000);
	ck_assert_int_eq(hf_backoff_ceiling_ms(1, INT64_MAX, 62), (int64_t)1 << 62);
	ck_assert_int_eq(hf_backoff_ceiling_ms(1, INT64_MAX, 63), INT64_MAX);
	ck_assert_int_eq(hf_backoff_ceiling_ms(1, INT64_MAX, INT_MAX), INT64_MAX);
	ck_assert_int_eq(hf_backoff_ceiling_ms(3, INT64_MAX - 1, 200), INT64_MAX - 1);
	ck_assert_int_eq(hf_backoff_ceiling_ms(0, 16000, INT_MAX), 0);
}
END_TEST

START_TEST(test_backoff_full_jitter)
{
	static const double edges[] = { 0.0, 0.5, 0.999999, 0.9999999999999999 };
	int64_t	 ceil, v, lo = INT64_MAX, hi = -1;

	for (int attempt = 0; attempt < 40; attempt++) {
		ceil = hf_backoff_ceiling_ms(1000, 16000, attempt);
		for (size_t i = 0; i < nitems(edges); i++) {
			v = hf_backoff_full_jitter_ms(1000, 16000, attempt, edges[i]);
			ck_assert_msg(v >= 0 && v <= ceil, "attempt %d rnd %g: %lld not in [0, %lld]",
			    attempt, edges[i], (long long)v, (long long)ceil);
		}
		ck_assert_int_eq(hf_backoff_full_jitter_ms(1000, 16000, attempt, 0.0), 0);
	}
	/* With the process PRNG: always in range, and actually spread out. */
	for (int i = 0; i < 20000; i++) {
		int attempt = i % 8;

		ceil = hf_backoff_ceiling_ms(1000, 16000, attempt);
		v = hf_backoff_full_jitter_ms(1000, 16000, attempt, hf_rand_unit());
		ck_assert(v >= 0 && v <= ceil);
		if (attempt == 7) {
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
	}
	ck_assert_msg(lo < 1600 && hi > 14400, "jitter range [%lld, %lld] of [0, 16000]",
	    (long long)lo, (long long)hi);
}
END_TEST

START_TEST(test_rand_unit)
{
	double	sum = 0, r;
	int	n = 100000, low = 0;

	for (int i = 0; i < n; i++) {
		r = hf_rand_unit();
		ck_assert(r >= 0.0 && r < 1.0);
		sum += r;
		low += r < 0.5;
	}
	ck_assert(sum / n > 0.48 && sum / n < 0.52);
	ck_assert(low > n * 0.48 && low < n * 0.52);
}
END_TEST

START_TEST(test_strings_and_alloc)
{
	char	 buf[8], *s;

	ck_assert_uint_eq(hf_strlcpy(buf, "abc", sizeof(buf)), 3);
	ck_assert_str_eq(buf, "abc");
	ck_assert_uint_eq(hf_strlcpy(buf, "abcdefghij", sizeof(buf)), 10);
	ck_assert_str_eq(buf, "abcdefg");
	buf[0] = 'z';
	ck_assert_uint_eq(hf_strlcpy(buf, "abc", 0), 3);
	ck_assert_int_eq(buf[0], 'z');
	ck_assert_uint_eq(hf_strlcpy(buf, "abc", 1), 3);
	ck_assert_str_eq(buf, "");

	s = xasprintf("%s-%d", "http", 1);
	ck_assert_str_eq(s, "http-1");
	free(s);
	s = xstrndup("abcdef", 3);
	ck_assert_str_eq(s, "abc");
	free(s);
	s = xcalloc(0, 0);
	ck_assert_ptr_nonnull(s);
	free(s);
	s = xreallocarray(NULL, 10, 10);
	s = xreallocarray(s, 20, 10);
	free(s);
}
END_TEST

START_TEST(test_overflow_aborts)
{
	xreallocarray(NULL, SIZE_MAX / 2, 4);
}
END_TEST

/* HF_ASSERT: a false invariant names itself with file:line and aborts. */
START_TEST(test_hf_assert)
{
	int	 fds[2], status;
	char	 buf[256];
	ssize_t	 n;
	pid_t	 pid;

	HF_ASSERT(1 + 1 == 2);	/* a true one costs nothing and returns */
	ck_assert_int_eq(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		dup2(fds[1], STDERR_FILENO);
		HF_ASSERT(1 + 1 == 3);
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	    "status 0x%x", status);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strncmp(buf, "[ASSERT] ", 9) == 0 && strstr(buf,
	    "test_util.c:") != NULL && strstr(buf, ": 1 + 1 == 3\n") != NULL, "%s", buf);
}
END_TEST

START_TEST(test_fd_flags_and_clocks)
{
	int		 fds[2];
	uint64_t	 a, b;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(hf_fd_set_cloexec(fds[0]), 0);
	ck_assert_int_eq(hf_fd_set_nonblock(fds[0]), 0);
	ck_assert(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	ck_assert(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	ck_assert(!(fcntl(fds[1], F_GETFL) & O_NONBLOCK));
	close(fds[0]);
	close(fds[1]);
	ck_assert_int_eq(hf_fd_set_cloexec(fds[0]), -1);

	a = hf_now_mono_us();
	usleep(20000);
	b = hf_now_mono_us();
	ck_assert(b - a >= 20000);
	ck_assert(hf_now_mono_ms() >= a / 1000);
	ck_assert(hf_now_real_us() > 1600000000LL * 1000000);
}
END_TEST

START_TEST(test_parse_size)
{
	static const struct { const char *s; int64_t n; } ok[] = {
		{ "0", 0 }, { "512", 512 }, { "512b", 512 }, { "64K", 65536 },
		{ "64kb", 65536 }, { "4MiB", 4194304 }, { "1g", 1073741824 },
		{ "2GB", 2147483648LL }, { "8589934591g", 8589934591LL * 1073741824 },
	};
	static const char *const bad[] = {
		"", "k", "-1", "+1k", " 1k", "1k ", "1 k", "1t", "1.5m", "1kibi",
		"0x10", "99999999999999999999", "8589934592g",
	};
	int64_t	 n;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_msg(hf_parse_size(ok[i].s, &n) == 0, "%s", ok[i].s);
		ck_assert_int_eq(n, ok[i].n);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(hf_parse_size(bad[i], &n) == -1, "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(hf_parse_size(NULL, &n), -1);
}
END_TEST

START_TEST(test_mkdir_parents)
{
	char		 top[] = "/tmp/test_util.XXXXXX", path[128];
	struct stat	 st;

	ck_assert_ptr_nonnull(mkdtemp(top));
	snprintf(path, sizeof(path), "%s/a/b/file", top);
	ck_assert_int_eq(hf_mkdir_parents(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/b", top);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/a/b/file", top);
	ck_assert_int_eq(stat(path, &st), -1);
	/* again: what exists is fine; a trailing slash makes the last one */
	snprintf(path, sizeof(path), "%s/a/b/c/", top);
	ck_assert_int_eq(hf_mkdir_parents(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/b/c", top);
	ck_assert_int_eq(stat(path, &st), 0);
	/* a file in the way: the first failure is reported */
	snprintf(path, sizeof(path), "%s/f", top);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	snprintf(path, sizeof(path), "%s/f/x/y", top);
	errno = 0;
	ck_assert_int_eq(hf_mkdir_parents(path, 0700), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	snprintf(path, sizeof(path), "rm -rf '%s'", top);
	ck_assert_int_eq(system(path), 0);
}
END_TEST

START_TEST(test_buf)
{
	struct buf	 b = BUF_INIT;
	char		 big[1000];

	buf_reset(&b);
	ck_assert_ptr_null(b.p);
	ck_assert_uint_eq(b.len, 0);
	buf_add(&b, "ab", 2);
	buf_adds(&b, "c");
	buf_printf(&b, "-%d-%s", 42, "x");
	ck_assert_str_eq(b.p, "abc-42-x");
	ck_assert_uint_eq(b.len, 8);
	/* binary data keeps its NULs; the terminator follows len */
	buf_add(&b, "\0z", 2);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_int_eq(memcmp(b.p, "abc-42-x\0z", 11), 0);
	buf_add(&b, "", 0);
	ck_assert_uint_eq(b.len, 10);
	/* growth keeps what was there */
	memset(big, 'q', sizeof(big));
	for (int i = 0; i < 100; i++)
		buf_add(&b, big, sizeof(big));
	ck_assert_uint_eq(b.len, 100010);
	ck_assert(b.cap > b.len);
	ck_assert_int_eq(memcmp(b.p, "abc-42-x\0zqq", 12), 0);
	ck_assert_int_eq(b.p[b.len], '\0');
	buf_printf(&b, "%s", "");
	ck_assert_uint_eq(b.len, 100010);
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.p, "");
	buf_reserve(&b, 5000);
	ck_assert(b.cap >= 5001);
	buf_free(&b);
	ck_assert_ptr_null(b.p);
	ck_assert_uint_eq(b.cap, 0);
	buf_printf(&b, "%05d", 7);
	ck_assert_str_eq(b.p, "00007");
	buf_free(&b);
}
END_TEST

START_TEST(test_hex_digit)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		ck_assert_int_eq(hf_hex_digit(digits[i]), i);
		ck_assert_int_eq(hf_hex_digit(digits[i] >= 'a' ? digits[i] - 32 : digits[i]), i);
	}
	ck_assert_int_eq(hf_hex_digit('g'), -1);
	ck_assert_int_eq(hf_hex_digit('G'), -1);
	ck_assert_int_eq(hf_hex_digit('/'), -1);
	ck_assert_int_eq(hf_hex_digit(':'), -1);
	ck_assert_int_eq(hf_hex_digit('@'), -1);
	ck_assert_int_eq(hf_hex_digit('`'), -1);
	ck_assert_int_eq(hf_hex_digit('\0'), -1);
	ck_assert_int_eq(hf_hex_digit((char)0xe9), -1);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("util");
	TCase	*tc = tu_tcase(s, "util", 0);

	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_parse_int);
	tcase_add_test(tc, test_parse_bool);
	tcase_add_test(tc, test_backoff_ceiling);
	tcase_add_test(tc, test_backoff_full_jitter);
	tcase_add_test(tc, test_rand_unit);
	tcase_add_test(tc, test_strings_and_alloc);
	tcase_add_exit_test(tc, test_overflow_aborts, 1);
	tcase_add_test(tc, test_fd_flags_and_clocks);
	tcase_add_test(tc, test_hf_assert);
	tcase_add_test(tc, test_parse_size);
	tcase_add_test(tc, test_mkdir_parents);
	tcase_add_test(tc, test_buf);
	tcase_add_test(tc, test_hex_digit);
	return tu_run(s);
}
