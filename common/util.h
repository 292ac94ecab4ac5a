/*
 * util: allocation wrappers that abort on failure (callers stay short;
 * running out of memory is not a recoverable condition for a worker, and
 * holdfastd restarts it), fd flags, clocks, durations, small string helpers.
 *
 * Names: every export carries the hf_ prefix (HF_ for macros), except the
 * x* allocators (xmalloc, xasprintf, ...: "x" says it aborts instead of
 * returning NULL) and nitems(), whose names are the customary ones.
 */
#ifndef HOLDFAST_UTIL_H
#define HOLDFAST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/*
 * HF_ASSERT(cond): an invariant stated where it is kept (docs/design.md §11).
 * Always on, so keep cond cheap; a failure writes "[ASSERT] file:line: cond"
 * to stderr and aborts (holdfastd then heals by re-exec, a worker is
 * respawned). Expensive whole-structure checks are run explicitly instead.
 */
#define HF_ASSERT(cond) \
	((cond) ? (void)0 : hf_assert_fail(#cond, __FILE__, __LINE__))
void hf_assert_fail(const char *cond, const char *file, int line)
    __attribute__((noreturn));

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Return 0, or -1 with errno set. */
int hf_fd_set_cloexec(int fd);
int hf_fd_set_nonblock(int fd);

uint64_t hf_now_mono_us(void);
uint64_t hf_now_mono_ms(void);
/* Wall clock, microseconds since the epoch (for records, never for timers). */
int64_t hf_now_real_us(void);

/*
 * Durations as written in the config: "500ms", "5s", "2m", "1h"; a bare
 * number is seconds. Returns 0 and *out_ms, or -1 (negative, overflow,
 * unknown unit, trailing junk).
 */
int hf_parse_duration_ms(const char *s, int64_t *out_ms);
#define HF_KIB	1024LL
#define HF_MIB	(1024LL * HF_KIB)
#define HF_GIB	(1024LL * HF_MIB)
/*
 * Sizes as written in the config: "64K", "4MiB", "1g", "512" (bytes);
 * suffixes b, k/kb/kib, m/mb/mib, g/gb/gib in any case. Returns 0 and
 * *out, or -1 (overflow, unknown suffix, trailing junk).
 */
int hf_parse_size(const char *s, int64_t *out);
/* Decimal integer within [min, max]; 0 or -1. */
int hf_parse_int(const char *s, long long min, long long max, long long *out);
/* "true/false/yes/no/on/off/1/0" -> 1/0; -1 otherwise. */
int hf_parse_bool(const char *s);

/*
 * Creates the missing directories above the last component of path
 * ("a/b/c" makes a and a/b; a trailing '/' makes c too), with mode.
 * Returns 0, or -1 with errno set by the first mkdir that failed other
 * than with EEXIST.
 */
int hf_mkdir_parents(const char *path, mode_t mode);

/* The value of a hex digit of either case, 0 to 15; -1 for any other c. */
int hf_hex_digit(int c);

/* Fixed-size, always NUL-terminated copy; returns strlen(src). */
size_t hf_strlcpy(char *dst, const char *src, size_t size);

/* Full-jitter exponential backoff: U(0, min(cap, base * 2^attempt)), in ms.
 * attempt counts from 0. rnd is a uniform value in [0,1). */
int64_t hf_backoff_full_jitter_ms(int64_t base_ms, int64_t cap_ms, int attempt, double rnd);
/* The un-jittered ceiling for the same attempt: min(cap, base * 2^attempt). */
int64_t hf_backoff_ceiling_ms(int64_t base_ms, int64_t cap_ms, int attempt);
/* A uniform double in [0,1) from a per-process PRNG seeded at first use. */
double hf_rand_unit(void);
/* cfgcli: half-jitter backoff: ceiling/2 + U(0, ceiling/2), in ms (the
 * supervisor's restarts: spread out, yet bounded from below). */
int64_t hf_backoff_half_jitter_ms(int64_t base_ms, int64_t cap_ms, int attempt, double rnd);

#endif
