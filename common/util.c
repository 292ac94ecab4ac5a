/*
 * util: allocation wrappers, fd flags, clocks, number and duration parsing,
 * backoff arithmetic. Nothing here knows about events or the network.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void	*p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		fatal("malloc(%zu)", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		fatal("calloc(%zu, %zu)", n, size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void	*q = realloc(p, n == 0 ? 1 : n);

	if (q == NULL)
		fatal("realloc(%zu)", n);
	return q;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		fatalx("xreallocarray: %zu * %zu overflows", n, size);
	return xrealloc(p, n * size);
}

char *
xstrdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL)
		fatal("strdup");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p = strndup(s, n);

	if (p == NULL)
		fatal("strndup");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatal("vasprintf");
	va_end(ap);
	return s;
}

int
hf_fd_set_cloexec(int fd)
{
	int	 fl = fcntl(fd, F_GETFD);

	if (fl == -1)
		return -1;
	if (fl & FD_CLOEXEC)		/* accept4/socketpair set it: no F_SET */
		return 0;
	return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

int
hf_fd_set_nonblock(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	if (fl & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

uint64_t
hf_now_mono_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t
hf_now_mono_ms(void)
{
	return hf_now_mono_us() / 1000;
}

int64_t
hf_now_real_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
hf_parse_int(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

struct unit {
	const char	*suffix;
	int64_t		 mult;
};

/* Digits, then one of units' suffixes (case folded when fold): the
 * number times its multiplier; 0 or -1 (no digits, overflow, unknown
 * suffix). */
static int
parse_scaled(const char *s, const struct unit *units, size_t nunits, int fold,
    int64_t *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v < 0)
		return -1;
	for (size_t i = 0; i < nunits; i++) {
		if ((fold ? strcasecmp(end, units[i].suffix) :
		    strcmp(end, units[i].suffix)) != 0)
			continue;
		if (v > INT64_MAX / units[i].mult)
			return -1;
		*out = v * units[i].mult;
		return 0;
	}
	return -1;
}

int
hf_parse_duration_ms(const char *s, int64_t *out_ms)
{
	static const struct unit units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "", 1000 }, { "m", 60000 },
		{ "h", 3600000 },
	};

	return parse_scaled(s, units, nitems(units), 0, out_ms);
}

int
hf_parse_size(const char *s, int64_t *out)
{
	static const struct unit units[] = {
		{ "", 1 }, { "b", 1 },
		{ "k", HF_KIB }, { "kb", HF_KIB }, { "kib", HF_KIB },
		{ "m", HF_MIB }, { "mb", HF_MIB }, { "mib", HF_MIB },
		{ "g", HF_GIB }, { "gb", HF_GIB }, { "gib", HF_GIB },
	};

	return parse_scaled(s, units, nitems(units), 1, out);
}

int
hf_parse_bool(const char *s)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < nitems(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

int
hf_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
hf_strlcpy(char *dst, const char *src, size_t size)
{
	size_t	 len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

int
hf_mkdir_parents(const char *path, mode_t mode)
{
	char	*dir = xstrdup(path);
	int	 saved;

	for (char *s = dir + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(dir, mode) == -1 && errno != EEXIST) {
			saved = errno;
			free(dir);
			errno = saved;
			return -1;
		}
		*s = '/';
	}
	free(dir);
	return 0;
}

int64_t
hf_backoff_ceiling_ms(int64_t base_ms, int64_t cap_ms, int attempt)
{
	int64_t	 v = base_ms;

	/* Bounded by the cap, not by attempt: no overflow, no long loop. */
	if (v <= 0 || cap_ms <= 0)
		return 0;
	for (int i = 0; i < attempt && v < cap_ms; i++)
		v = v > cap_ms / 2 ? cap_ms : v * 2;
	return v < cap_ms ? v : cap_ms;
}

int64_t
hf_backoff_full_jitter_ms(int64_t base_ms, int64_t cap_ms, int attempt, double rnd)
{
	return (int64_t)(rnd * (double)hf_backoff_ceiling_ms(base_ms, cap_ms, attempt));
}

double
hf_rand_unit(void)
{
	static int		 seeded;
	static unsigned short	 xsubi[3];

	if (!seeded) {
		if (getrandom(xsubi, sizeof(xsubi), GRND_NONBLOCK) != sizeof(xsubi)) {
			uint64_t t = hf_now_mono_us() ^ (uint64_t)getpid() << 32;
			memcpy(xsubi, &t, sizeof(xsubi));
		}
		seeded = 1;
	}
	return erand48(xsubi);
}

void
hf_assert_fail(const char *cond, const char *file, int line)
{
	char buf[512];
	int n;

	n = snprintf(buf, sizeof buf, "[ASSERT] %s:%d: %s\n", file, line, cond);
	if (n > 0)
		(void)!write(STDERR_FILENO, buf,
		    (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
	abort();
}

int64_t
hf_backoff_half_jitter_ms(int64_t base_ms, int64_t cap_ms, int attempt, double rnd)
{
	int64_t c = hf_backoff_ceiling_ms(base_ms, cap_ms, attempt);

	return c / 2 + (int64_t)(rnd * (double)(c - c / 2));
}
