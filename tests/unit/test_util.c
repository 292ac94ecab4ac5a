/*
 * test_util: the arithmetic every process relies on. The seed promises a
 * backoff that grows 1, 2, 4, 8, 16 s and never stampedes (full jitter,
 * always within [0, min(cap, base * 2^n)], however many attempts), and
 * the config promises that durations and numbers are read exactly or
 * refused.
 */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
		ck_assert_msg(parse_duration_ms(ok[i].s, &ms) == 0, "%s", ok[i].s);
		ck_assert_msg(ms == ok[i].ms, "%s -> %lld", ok[i].s, (long long)ms);
	}
	for (size_t i = 0; i < nitems(bad); i++) {
		ms = -42;
		ck_assert_msg(parse_duration_ms(bad[i], &ms) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_msg(ms == -42, "\"%s\" wrote its output", bad[i]);
	}
	ck_assert_int_eq(parse_duration_ms(NULL, &ms), -1);
}
END_TEST

START_TEST(test_parse_int)
{
	long long	v = 0;

	ck_assert_int_eq(parse_int("0", 0, 10, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(parse_int("10", 0, 10, &v), 0);
	ck_assert_int_eq(v, 10);
	ck_assert_int_eq(parse_int("-5", -10, 10, &v), 0);
	ck_assert_int_eq(v, -5);
	ck_assert_int_eq(parse_int("9223372036854775807", 0, LLONG_MAX, &v), 0);
	ck_assert_int_eq(v, LLONG_MAX);
	v = 7;
	ck_assert_int_eq(parse_int("11", 0, 10, &v), -1);
	ck_assert_int_eq(parse_int("-1", 0, 10, &v), -1);
	ck_assert_int_eq(parse_int("", 0, 10, &v), -1);
	ck_assert_int_eq(parse_int(NULL, 0, 10, &v), -1);
	ck_assert_int_eq(parse_int("1x", 0, 10, &v), -1);
	ck_assert_int_eq(parse_int("1 ", 0, 10, &v), -1);
	ck_assert_int_eq(parse_int("1.0", 0, 10, &v), -1);
	ck_assert_int_eq(parse_int("0x1", 0, 10, &v), -1);
	ck_assert_int_eq(parse_int("9223372036854775808", 0, LLONG_MAX, &v), -1);
	ck_assert_int_eq(parse_int("-9223372036854775809", LLONG_MIN, 0, &v), -1);
	ck_assert_int_eq(v, 7);
}
END_TEST

START_TEST(test_parse_bool)
{
	static const char *const yes[] = { "true", "TRUE", "yes", "Yes", "on", "1" };
	static const char *const no[] = { "false", "False", "no", "NO", "off", "0" };
	static const char *const bad[] = { "", "2", "y", "n", "truee", "nope", " true" };

	for (size_t i = 0; i < nitems(yes); i++)
		ck_assert_msg(parse_bool(yes[i]) == 1, "%s", yes[i]);
	for (size_t i = 0; i < nitems(no); i++)
		ck_assert_msg(parse_bool(no[i]) == 0, "%s", no[i]);
	for (size_t i = 0; i < nitems(bad); i++)
		ck_assert_msg(parse_bool(bad[i]) == -1, "%s", bad[i]);
}
END_TEST

/* The seed's schedule: 1, 2, 4, 8, 16 s, then flat at the cap. */
START_TEST(test_backoff_ceiling)
{
	static const int64_t seed[] = { 1000, 2000, 4000, 8000, 16000, 16000, 16000 };

	for (int i = 0; i < (int)nitems(seed); i++)
		ck_assert_int_eq(backoff_ceiling_ms(1000, 16000, i), seed[i]);
	ck_assert_int_eq(backoff_ceiling_ms(100, 30000, 0), 100);
	ck_assert_int_eq(backoff_ceiling_ms(100, 30000, 8), 25600);
	ck_assert_int_eq(backoff_ceiling_ms(100, 30000, 9), 30000);
	/* A base above the cap is capped; negative attempts count as 0. */
	ck_assert_int_eq(backoff_ceiling_ms(5000, 1000, 0), 1000);
	ck_assert_int_eq(backoff_ceiling_ms(1000, 16000, -3), 1000);
	/* Huge attempts and caps neither overflow nor take long. */
	ck_assert_int_eq(backoff_ceiling_ms(1000, 16000, INT_MAX), 16000);
	ck_assert_int_eq(backoff_ceiling_ms(1, INT64_MAX, 62), (int64_t)1 << 62);
	ck_assert_int_eq(backoff_ceiling_ms(1, INT64_MAX, 63), INT64_MAX);
	ck_assert_int_eq(backoff_ceiling_ms(1, INT64_MAX, INT_MAX), INT64_MAX);
	ck_assert_int_eq(backoff_ceiling_ms(3, INT64_MAX - 1, 200), INT64_MAX - 1);
	ck_assert_int_eq(backoff_ceiling_ms(0, 16000, INT_MAX), 0);
}
END_TEST

START_TEST(test_backoff_full_jitter)
{
	static const double edges[] = { 0.0, 0.5, 0.999999, 0.9999999999999999 };
	int64_t	 ceil, v, lo = INT64_MAX, hi = -1;

	for (int attempt = 0; attempt < 40; attempt++) {
		ceil = backoff_ceiling_ms(1000, 16000, attempt);
		for (size_t i = 0; i < nitems(edges); i++) {
			v = backoff_full_jitter_ms(1000, 16000, attempt, edges[i]);
			ck_assert_msg(v >= 0 && v <= ceil, "attempt %d rnd %g: %lld not in [0, %lld]",
			    attempt, edges[i], (long long)v, (long long)ceil);
		}
		ck_assert_int_eq(backoff_full_jitter_ms(1000, 16000, attempt, 0.0), 0);
	}
	/* With the process PRNG: always in range, and actually spread out. */
	for (int i = 0; i < 20000; i++) {
		int attempt = i % 8;

		ceil = backoff_ceiling_ms(1000, 16000, attempt);
		v = backoff_full_jitter_ms(1000, 16000, attempt, rand_unit());
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
		r = rand_unit();
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

	ck_assert_uint_eq(strlcpy_hf(buf, "abc", sizeof(buf)), 3);
	ck_assert_str_eq(buf, "abc");
	ck_assert_uint_eq(strlcpy_hf(buf, "abcdefghij", sizeof(buf)), 10);
	ck_assert_str_eq(buf, "abcdefg");
	buf[0] = 'z';
	ck_assert_uint_eq(strlcpy_hf(buf, "abc", 0), 3);
	ck_assert_int_eq(buf[0], 'z');
	ck_assert_uint_eq(strlcpy_hf(buf, "abc", 1), 3);
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

START_TEST(test_fd_flags_and_clocks)
{
	int		 fds[2];
	uint64_t	 a, b;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(fd_set_cloexec(fds[0]), 0);
	ck_assert_int_eq(fd_set_nonblock(fds[0]), 0);
	ck_assert(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	ck_assert(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	ck_assert(!(fcntl(fds[1], F_GETFL) & O_NONBLOCK));
	close(fds[0]);
	close(fds[1]);
	ck_assert_int_eq(fd_set_cloexec(fds[0]), -1);

	a = now_mono_us();
	usleep(20000);
	b = now_mono_us();
	ck_assert(b - a >= 20000);
	ck_assert(now_mono_ms() >= a / 1000);
	ck_assert(now_real_us() > 1600000000LL * 1000000);
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
	return tu_run(s);
}
