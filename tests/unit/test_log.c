/*
 * test_log: operators count outages with grep on the log ("[DB_DOWN]" per
 * hour), so the promise is one event per line in one fixed shape:
 *   2026-11-28T13:02:20.123Z INFO prog[pid]: message
 * with the level threshold honoured, errno text appended by log_warn, no
 * way for a message to forge an extra line, and a rate limit that says
 * how much it dropped. log_vformat (the HTTP access log's formatter) makes
 * the same lines, and a fork child's lines carry its own pid.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "log.h"
#include "tu.h"

static char	*tmp, *path;
static int	 fd = -1;

static void
setup(void)
{
	tmp = tu_tmpdir("log");
	if (asprintf(&path, "%s/log", tmp) < 0)
		abort();
	tu_write_file(path, "");
	fd = open(path, O_WRONLY | O_APPEND);
	log_init("test-prog", LOG_LVL_INFO);
	log_set_fd(fd);
}

static void
teardown(void)
{
	log_set_fd(-1);
	close(fd);
	tu_rmrf(tmp);
	free(path);
	free(tmp);
}

static char *
contents(void)
{
	char	*s = tu_read_file(path, NULL);

	ck_assert_ptr_nonnull(s);
	return s;
}

static int
count_lines(const char *s)
{
	int	n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

START_TEST(test_format)
{
	regex_t		 re;
	char		*s, pat[256];

	log_info("[DB_DOWN] op=%s try=%d/%d sleep=%ds reason=%s", "whatsapp_session_loop",
	    1, 5, 2, "NeonEndpointDisabled");
	s = contents();
	snprintf(pat, sizeof(pat), "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
	    "\\.[0-9]{3}Z INFO test-prog\\[%d\\]: \\[DB_DOWN\\] op=whatsapp_session_loop "
	    "try=1/5 sleep=2s reason=NeonEndpointDisabled\n$", (int)getpid());
	ck_assert_int_eq(regcomp(&re, pat, REG_EXTENDED), 0);
	ck_assert_msg(regexec(&re, s, 0, NULL, 0) == 0, "line: %s", s);
	regfree(&re);
	free(s);
}
END_TEST

START_TEST(test_levels)
{
	char	*s;

	log_set_level(LOG_LVL_WARN);
	ck_assert_int_eq(log_get_level(), LOG_LVL_WARN);
	log_debug("debug-line");
	log_info("info-line");
	log_warnx("warn-line");
	log_errorx("error-line");
	log_set_level(LOG_LVL_DEBUG);
	log_debug("debug-now");
	s = contents();
	ck_assert_ptr_null(strstr(s, "debug-line"));
	ck_assert_ptr_null(strstr(s, "info-line"));
	ck_assert_ptr_nonnull(strstr(s, " WARN test-prog["));
	ck_assert_ptr_nonnull(strstr(s, " ERROR test-prog["));
	ck_assert_ptr_nonnull(strstr(s, " DEBUG test-prog["));
	ck_assert_int_eq(count_lines(s), 3);
	free(s);

	ck_assert_int_eq(log_level_parse("error"), LOG_LVL_ERROR);
	ck_assert_int_eq(log_level_parse("WARN"), LOG_LVL_WARN);
	ck_assert_int_eq(log_level_parse("warning"), LOG_LVL_WARN);
	ck_assert_int_eq(log_level_parse("info"), LOG_LVL_INFO);
	ck_assert_int_eq(log_level_parse("debug"), LOG_LVL_DEBUG);
	ck_assert_int_eq(log_level_parse("trace"), -1);
	ck_assert_str_eq(log_level_name(LOG_LVL_INFO), "INFO");
	ck_assert_str_eq(log_level_name(17), "?");
}
END_TEST

START_TEST(test_warn_errno)
{
	char	*s;

	errno = ECONNREFUSED;
	log_warn("connect(%s)", "127.0.0.1:5432");
	ck_assert_int_eq(errno, ECONNREFUSED);
	s = contents();
	ck_assert_ptr_nonnull(strstr(s, "WARN test-prog"));
	ck_assert_ptr_nonnull(strstr(s, ": connect(127.0.0.1:5432): Connection refused\n"));
	free(s);
}
END_TEST

/* A newline in a logged value must not start a forged event line. */
START_TEST(test_no_forged_lines)
{
	char	*s;

	log_info("request path=%s", "/x\n2026-11-28T00:00:00.000Z INFO x[1]: [DB_RECOVERED] op=y\r\x1b[2J");
	s = contents();
	ck_assert_int_eq(count_lines(s), 1);
	ck_assert_ptr_null(strchr(s, '\r'));
	ck_assert_ptr_null(strchr(s, '\x1b'));
	ck_assert_ptr_nonnull(strstr(s, "request path=/x 2026"));
	free(s);
}
END_TEST

START_TEST(test_long_line_cut)
{
	char	*big = malloc(10000), *s;
	size_t	 len;

	memset(big, 'a', 9999);
	big[9999] = '\0';
	log_info("%s", big);
	log_info("next");
	s = tu_read_file(path, &len);
	/* Cut, but still text: no NUL byte before the newline. */
	ck_assert_uint_eq(strlen(s), len);
	ck_assert_int_eq(count_lines(s), 2);
	ck_assert(strlen(s) <= 4096 + 100);
	ck_assert_ptr_nonnull(strstr(s, "aaaa\n"));
	free(s);
	free(big);
}
END_TEST

START_TEST(test_fatal_exits)
{
	log_set_fd(-1);
	fatalx("giving up");
}
END_TEST

START_TEST(test_ratelimit)
{
	struct log_ratelimit	lr;
	int			ok = 0;
	char			*s;

	log_ratelimit_init(&lr, 1.0, 5.0);
	for (int i = 0; i < 100; i++)
		ok += log_ratelimit_ok(&lr);
	/* The burst, and at most one more token earned meanwhile. */
	ck_assert_msg(ok >= 5 && ok <= 6, "%d lines allowed", ok);
	ck_assert_uint_eq(lr.lr_suppressed, (unsigned long)(100 - ok));
	lr.lr_tokens = 1.0;
	ck_assert_int_eq(log_ratelimit_ok(&lr), 1);
	ck_assert_uint_eq(lr.lr_suppressed, 0);
	s = contents();
	ck_assert_ptr_nonnull(strstr(s, "[LOG_SUPPRESSED] "));
	free(s);
}
END_TEST

/* The pid is asked once a process: a fork child must not show its parent's. */
START_TEST(test_fork_child_pid)
{
	char	*s, want[64];
	pid_t	 child;
	int	 status;

	log_info("parent first");
	if ((child = fork()) == 0) {
		log_info("from the child");
		_exit(0);
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	log_info("parent again");
	s = contents();
	snprintf(want, sizeof(want), " INFO test-prog[%d]: from the child\n", (int)child);
	ck_assert_msg(strstr(s, want) != NULL, "no \"%s\" in %s", want, s);
	snprintf(want, sizeof(want), " INFO test-prog[%d]: parent again\n", (int)getpid());
	ck_assert_msg(strstr(s, want) != NULL, "no \"%s\" in %s", want, s);
	free(s);
}
END_TEST

static size_t
vformat(char *buf, size_t size, int level, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 n;

	va_start(ap, fmt);
	n = log_vformat(buf, size, level, fmt, ap);
	va_end(ap);
	return n;
}

/* log_vformat: log.c's line, whatever the threshold, written nowhere,
 * cut to its buffer, still one line. */
START_TEST(test_vformat)
{
	char	 line[128], big[300], want[64], *s;
	size_t	 n;

	log_set_level(LOG_LVL_ERROR);
	n = vformat(line, sizeof(line), LOG_LVL_INFO, "[ACCESS] GET /%s", "a\nb");
	ck_assert_uint_eq(n, strlen(line));
	snprintf(want, sizeof(want), "Z INFO test-prog[%d]: [ACCESS] GET /a b\n",
	    (int)getpid());
	ck_assert_msg(strstr(line, want) != NULL, "line: %s", line);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = vformat(line, sizeof(line), LOG_LVL_INFO, "%s", big);
	ck_assert_uint_lt(n, sizeof(line));
	ck_assert_uint_eq(n, strlen(line));
	ck_assert_ptr_eq(strchr(line, '\n'), line + n - 1);
	s = contents();
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

/* Non-blocking mode on a pipe nobody reads: no call waits, what does not
 * fit is dropped and counted per source, the rest arrives whole and in
 * order, then one [LOG_DROPPED] line per source. */
static int nb_wants;

static void
nb_want(int on)
{
	nb_wants += on;
}

static void
nb_read_all(int rfd, char **buf, size_t *len)
{
	char	 chunk[65536];
	ssize_t	 n;

	while ((n = read(rfd, chunk, sizeof(chunk))) > 0) {
		*buf = realloc(*buf, *len + n + 1);
		memcpy(*buf + *len, chunk, n);
		*len += n;
		(*buf)[*len] = '\0';
	}
}

/* stderr a pipe (sock 0) or a stream socket as journald's (sock 1). */
static void
nb_queue(int sock)
{
	int		 p[2], saved = dup(STDERR_FILENO), total = 6000, got = 0, last = -1;
	char		*buf = NULL, want[96], *l;
	size_t		 len = 0;
	unsigned long	 dropped, wdropped;
	struct iovec	 iov[2];

	log_set_fd(-1);
	if (sock) {
		int sz = 4096;

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
		setsockopt(p[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(p[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	} else {
		ck_assert_int_eq(pipe(p), 0);
		(void)fcntl(p[0], F_SETPIPE_SZ, 4096);
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	ck_assert_int_ge(log_nb_enable(nb_want), 0);
	/* The shared description stays blocking: only ours is not. */
	ck_assert_int_eq(fcntl(STDERR_FILENO, F_GETFL) & O_NONBLOCK, 0);
	for (int i = 0; i < total; i++)
		log_info("line %06d %080d", i, 0);
	iov[0].iov_base = (char *)"w:0: worker line";
	iov[0].iov_len = 16;
	iov[1].iov_base = (char *)"\n";
	iov[1].iov_len = 1;
	log_out("w:0", iov, 2);
	ck_assert_int_gt(nb_wants, 0);
	dropped = log_nb_dropped();
	ck_assert_uint_gt(dropped, 0);
	/* The reader resumes. */
	while (log_nb_flush())
		nb_read_all(p[0], &buf, &len);
	nb_read_all(p[0], &buf, &len);
	ck_assert_ptr_nonnull(buf);
	for (l = buf; (l = strstr(l, "line ")) != NULL; l++) {
		int n = atoi(l + 5);

		ck_assert_int_gt(n, last);	/* in order, never twice */
		last = n;
		got++;
	}
	wdropped = strstr(buf, "w:0: worker line") == NULL;
	ck_assert_uint_eq(dropped, (unsigned long)(total - got) + wdropped);
	snprintf(want, sizeof(want), "[LOG_DROPPED] name=test-prog lines=%d ", total - got);
	ck_assert_msg(strstr(buf, want) != NULL, "no %s", want);
	if (wdropped)
		ck_assert_ptr_nonnull(strstr(buf, "[LOG_DROPPED] name=w:0 lines=1 "));
	ck_assert_uint_eq(log_nb_dropped(), 0);
	/* Every line whole: each ends in a newline before the next starts. */
	ck_assert_int_eq(count_lines(buf), got + (wdropped ? 2 : 1) + !wdropped);
	log_nb_disable();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[0]);
	free(buf);
}

START_TEST(test_nb_queue)
{
	nb_queue(0);
}
END_TEST

START_TEST(test_nb_queue_socket)
{
	nb_queue(1);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tu_tcase(s, "log", 0);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_levels);
	tcase_add_test(tc, test_warn_errno);
	tcase_add_test(tc, test_no_forged_lines);
	tcase_add_test(tc, test_long_line_cut);
	tcase_add_exit_test(tc, test_fatal_exits, 1);
	tcase_add_test(tc, test_ratelimit);
	tcase_add_test(tc, test_fork_child_pid);
	tcase_add_test(tc, test_vformat);
	tcase_add_test(tc, test_nb_queue);
	tcase_add_test(tc, test_nb_queue_socket);
	return tu_run(s);
}
