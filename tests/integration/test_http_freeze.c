/*
 * test_http_freeze: holdfast-http (the real binary) against a real
 * PostgreSQL that stops answering without closing anything:
 * - frozen by SIGSTOP of the server, and through the fault proxy's
 *   blackhole of live connections: 16 concurrent DB-route requests are
 *   all answered with the 503 JSON and Retry-After, at db_request_timeout
 *   (2 s by default) rather than query_timeout (35 s by default, past the
 *   10 s this test's clients wait); afterwards the breaker is open
 *   (reason QueryTimeout) and DB routes answer the DB-down 503 at once;
 *   /healthz answers 200 throughout; /metrics counts the deadline hits;
 * - readiness probes drive recovery: with the backoff schedule an hour
 *   long, only demand can bring the worker back, and after the thaw (or
 *   the restart of a stopped server) the test sends nothing but GET
 *   /readyz until it answers 200, then a DB route succeeds.
 * - while a DB-route request waits on the frozen server, its client may
 *   send its next request, a flood of bytes or its EOF: the next request
 *   is answered after the first, in order; the flood is read up to the
 *   worker's buffer and no further (the worker does not spin on it), then
 *   refused with 414; the
 *   EOF closes the connection once the first reply is out.
 * The server is frozen and thawed by PID (tests/lib/pgt); a test that
 * fails mid-freeze leaves it to pgt's guard, which SIGKILLs and SIGCONTs
 * the cluster.
 */
#include <check.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fp.h"
#include "pgt.h"
#include "tu.h"
#include "util.h"

#define DB_DOWN_BODY \
	"{\"error\":\"SERVICE_UNAVAILABLE\",\"detail\":\"Database temporarily unavailable\",\"status\":503}"
#define PASSWORD	"correct horse battery"
#define LOGIN_BODY	"{\"email\":\"agent@example.com\",\"password\":\"" PASSWORD "\"}"
#define NCLIENTS	16
#define CLIENT_WAIT_MS	10000

static struct pgt	*pg;
static struct fp	*fp;
static char		*tmp, *logpath;
static int		 port;
static pid_t		 pid;

static int
http_status(const char *method, const char *path, const char *body, char **rb,
    char **rh)
{
	return tu_http(port, method, path, body != NULL ?
	    "Content-Type: application/json" : NULL, body, body ? strlen(body) : 0,
	    rb, rh, CLIENT_WAIT_MS);
}

static int
readyz(void)
{
	return http_status("GET", "/readyz", NULL, NULL, NULL);
}

static int ready200(void *unused) { return readyz() == 200; }
static int ready503(void *unused) { return readyz() == 503; }

static void
add_user(void)
{
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE], sql[512];
	struct crypt_data	 cd;
	const char		*h;

	memset(&cd, 0, sizeof(cd));
	ck_assert_ptr_nonnull(crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)));
	ck_assert_ptr_nonnull(h = crypt_rn(PASSWORD, salt, &cd, sizeof(cd)));
	snprintf(sql, sizeof(sql), "INSERT INTO users (email, password_hash) "
	    "VALUES ('agent@example.com', '%s')", h);
	ck_assert_int_eq(pgt_psql(pg, "hf", sql, NULL), 0);
}

/*
 * The worker with the defaults of statement_timeout, query_timeout and
 * db_request_timeout, and a backoff schedule too slow to matter: only
 * demand (requests, /readyz) starts probes. proxy: through the fault proxy.
 */
static void
start(int proxy)
{
	char	*argv[] = { tu_buildpath("workers/http/holdfast-http"), "-c", NULL, NULL };
	char	*text, conninfo[256];

	pg = pgt_start(NULL);
	pgt_createdb(pg, "hf", 1);
	add_user();
	if (proxy) {
		fp = fp_start(pgt_port(pg));
		snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d dbname=hf "
		    "user=postgres", fp_port(fp));
	} else
		snprintf(conninfo, sizeof(conninfo), "%s", pgt_conninfo(pg, "hf"));
	tmp = tu_tmpdir("httpfreeze");
	port = tu_free_port(SOCK_STREAM);
	text = xasprintf("[holdfast]\nlog_level = info\n"
	    "[database]\nconninfo = %s\npool_size = 4\n"
	    "backoff_initial = 1h\nbackoff_max = 1h\n"
	    "[worker:http]\ncommand = holdfast-http\nlisten = 127.0.0.1:%d\n"
	    "login_rate = 100000\n", conninfo, port);
	argv[2] = xasprintf("%s/http.conf", tmp);
	ck_assert_int_eq(tu_write_file(argv[2], text), 0);
	logpath = xasprintf("%s/http.log", tmp);
	pid = tu_spawn(argv, NULL, logpath);
	free(argv[0]);
	free(argv[2]);
	free(text);
	if (!tu_wait_for(ready200, NULL, 15000))
		ck_abort_msg("holdfast-http never became ready");
}

static void setup_direct(void) { start(0); }
static void setup_proxy(void) { start(1); }

static void
teardown(void)
{
	if (pid > 0)
		tu_stop(pid, 5000);
	tu_show_file_if("HTTP_TEST_LOG", logpath);
	fp_stop(fp);
	fp = NULL;
	pgt_destroy(pg);
	tu_rmrf(tmp);
}

/* ---- concurrent clients ---- */

struct client {
	pthread_t	 th;
	int		 status;
	int		 json503;	/* the 503 JSON shape */
	int		 retry_after;
};

static void *
client_run(void *arg)
{
	struct client	*c = arg;
	char		*rb = NULL, *rh = NULL;

	c->status = http_status("POST", "/api/auth/login", LOGIN_BODY, &rb, &rh);
	c->json503 = rb != NULL && strstr(rb, "\"error\":\"SERVICE_UNAVAILABLE\"") != NULL &&
	    strstr(rb, "\"status\":503") != NULL;
	c->retry_after = rh != NULL && strcasestr(rh, "\r\nRetry-After: ") != NULL;
	free(rb);
	free(rh);
	return NULL;
}

/* NCLIENTS logins at once against a DB that does not answer: every one
 * answered 503 JSON with Retry-After before the client gives up. */
static void
assert_all_answered_503(void)
{
	struct client	c[NCLIENTS];
	int		i;

	memset(c, 0, sizeof(c));
	for (i = 0; i < NCLIENTS; i++)
		ck_assert_int_eq(pthread_create(&c[i].th, NULL, client_run, &c[i]), 0);
	for (i = 0; i < NCLIENTS; i++)
		pthread_join(c[i].th, NULL);
	for (i = 0; i < NCLIENTS; i++) {
		ck_assert_msg(c[i].status != -2, "client %d: no answer within %d ms",
		    i, CLIENT_WAIT_MS);
		ck_assert_int_eq(c[i].status, 503);
		ck_assert_msg(c[i].json503, "client %d: not the 503 JSON", i);
		ck_assert_msg(c[i].retry_after, "client %d: no Retry-After", i);
	}
}

/* The number after "name " in /metrics, or -1. */
static long long
metric(const char *name)
{
	char		*rb = NULL, *p, key[128];
	long long	 v = -1;

	if (http_status("GET", "/metrics", NULL, &rb, NULL) == 200 && rb != NULL) {
		snprintf(key, sizeof(key), "\n%s ", name);
		if ((p = strstr(rb, key)) != NULL)
			v = atoll(p + strlen(key));
	}
	free(rb);
	return v;
}

/* After the first deadlines: the breaker is open on QueryTimeout, DB
 * routes get the DB-down 503 at once, /healthz is fine. */
static void
assert_breaker_open(void)
{
	char	*rb = NULL, *rh = NULL;

	ck_assert_int_eq(http_status("POST", "/api/auth/login", LOGIN_BODY, &rb, &rh), 503);
	ck_assert_str_eq(rb, DB_DOWN_BODY);
	ck_assert_ptr_nonnull(strcasestr(rh, "\r\nRetry-After: "));
	free(rb);
	free(rh);
	ck_assert_int_eq(http_status("GET", "/healthz", NULL, NULL, NULL), 200);
	ck_assert_int_eq(readyz(), 503);
	ck_assert_int_ge(metric("holdfast_db_deadline_hits_total"), 2);
	ck_assert_int_eq(metric("holdfast_db_up"), 0);
	ck_assert_int_ge(tu_count_in_file(logpath, "[DB_DEADLINE] op=http_login"), 2);
	ck_assert_int_ge(tu_count_in_file(logpath, " streak=2"), 1);
	ck_assert_int_eq(tu_count_in_file(logpath, "[DB_DOWN] op=http_request try=1 "), 1);
	ck_assert_int_ge(tu_count_in_file(logpath, "reason=QueryTimeout"), 2);
}

/* After the DB is back: only /readyz is asked, until it answers 200. */
static void
assert_readyz_recovers(void)
{
	int n = 0;

	while (readyz() != 200) {
		ck_assert_msg(++n < 100, "/readyz still 503 after %d polls", n);
		usleep(100 * 1000);
	}
	ck_assert_int_eq(tu_count_in_file(logpath, "[DB_RECOVERED] op=http_request"), 1);
	ck_assert_int_eq(http_status("POST", "/api/auth/login", LOGIN_BODY, NULL, NULL), 200);
	ck_assert(tu_pid_alive(pid));
}

/* ---- a client that does not wait quietly for its reply ---- */

#define LOGIN_REQ "POST /api/auth/login HTTP/1.1\r\nHost: x\r\n" \
	"Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s"

/* Everything until the worker closes (or CLIENT_WAIT_MS passes: then
 * *closed is 0). */
static char *
raw_recv_all(int fd, int *closed)
{
	size_t		 cap = 65536, len = 0;
	char		*buf = xmalloc(cap);
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	ssize_t		 n;

	*closed = 0;
	while (len < cap - 1 && poll(&pfd, 1, CLIENT_WAIT_MS) == 1) {
		if ((n = recv(fd, buf + len, cap - 1 - len, 0)) <= 0) {
			*closed = 1;
			break;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

static void
send_login(int fd)
{
	char *req = xasprintf(LOGIN_REQ, strlen(LOGIN_BODY), LOGIN_BODY);

	ck_assert_int_eq(tu_send_all(fd, req, strlen(req)), 0);
	free(req);
}

START_TEST(test_waiting_client_sends_more)
{
	static const char next[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char	*flood = xmalloc(256 * 1024), *r, *a, *b;
	int	 piped = tu_connect(port), eof = tu_connect(port), flooded = tu_connect(port);
	int	 closed, fl;
	long	 t0, t1;

	ck_assert_int_eq(pgt_freeze(pg), 0);
	send_login(piped);
	send_login(eof);
	send_login(flooded);
	usleep(200 * 1000);		/* all three wait on the frozen server */
	ck_assert_int_eq(tu_send_all(piped, next, sizeof(next) - 1), 0);
	ck_assert_int_eq(shutdown(eof, SHUT_WR), 0);
	/* More than the worker reads ahead: the kernel keeps the rest, the
	 * worker stops reading (and waking) until its reply is out. */
	memset(flood, 'x', 256 * 1024);
	fl = fcntl(flooded, F_GETFL);
	ck_assert_int_eq(fcntl(flooded, F_SETFL, fl | O_NONBLOCK), 0);
	for (size_t off = 0; off < 256 * 1024; ) {
		ssize_t n = send(flooded, flood + off, 256 * 1024 - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	t0 = tu_cpu_ticks(pid);
	usleep(1000 * 1000);
	t1 = tu_cpu_ticks(pid);
	/* Spinning on a readable socket would be ~1 s of CPU (100 ticks at
	 * 100 Hz); waiting is next to none. */
	ck_assert_msg(t1 - t0 < 25, "the worker used %ld ticks of CPU in 1 s "
	    "while its clients waited", t1 - t0);
	ck_assert_int_eq(http_status("GET", "/healthz", NULL, NULL, NULL), 200);

	/* the pipelined request: answered after the login's 503, in order */
	r = raw_recv_all(piped, &closed);
	ck_assert_msg(closed, "no close after Connection: close: %s", r);
	ck_assert_ptr_nonnull(a = strstr(r, "HTTP/1.1 503 "));
	ck_assert_ptr_nonnull(b = strstr(a + 1, "HTTP/1.1 200 OK\r\n"));
	ck_assert_ptr_nonnull(strstr(b, "{\"status\":\"ok\"}"));
	free(r);
	/* the EOF: the 503, then the close */
	r = raw_recv_all(eof, &closed);
	ck_assert_msg(closed, "not closed after the reply: %s", r);
	ck_assert_ptr_nonnull(a = strstr(r, "HTTP/1.1 503 "));
	ck_assert_ptr_null(strstr(a + 1, "HTTP/1.1 "));
	free(r);
	/* the flood: the 503, then its junk refused (a request line over
	 * the limit: 414) and the close */
	r = raw_recv_all(flooded, &closed);
	ck_assert_ptr_nonnull(a = strstr(r, "HTTP/1.1 503 "));
	ck_assert_msg(strstr(a + 1, "HTTP/1.1 414 ") != NULL, "after the 503: %.300s", a);
	free(r);
	close(piped);
	close(eof);
	close(flooded);
	free(flood);
	ck_assert_int_eq(pgt_thaw(pg), 0);
	ck_assert(tu_wait_for(ready200, NULL, 15000));
	ck_assert_int_eq(http_status("POST", "/api/auth/login", LOGIN_BODY, NULL, NULL), 200);
}
END_TEST

START_TEST(test_frozen_sigstop)
{
	ck_assert_int_eq(pgt_freeze(pg), 0);
	assert_all_answered_503();
	assert_breaker_open();
	ck_assert_int_eq(pgt_thaw(pg), 0);
	assert_readyz_recovers();
}
END_TEST

START_TEST(test_frozen_blackhole)
{
	ck_assert_int_eq(fp_set(fp, "blackhole"), 0);
	assert_all_answered_503();
	assert_breaker_open();
	ck_assert_int_eq(fp_set(fp, "pass"), 0);
	assert_readyz_recovers();
}
END_TEST

/* Item by itself: a stopped server (connection refused, which the old
 * breaker handles too); after its restart only /readyz is asked. */
START_TEST(test_stopped_readyz_only)
{
	ck_assert_int_eq(pgt_stop(pg, "fast"), 0);
	ck_assert(tu_wait_for(ready503, NULL, 10000));
	ck_assert_int_eq(pgt_restart(pg), 0);
	assert_readyz_recovers();
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("http_freeze");
	TCase	*direct = tu_tcase(s, "direct", 60), *proxy = tu_tcase(s, "proxy", 60);

	tcase_add_checked_fixture(direct, setup_direct, teardown);
	tcase_add_test(direct, test_frozen_sigstop);
	tcase_add_test(direct, test_stopped_readyz_only);
	tcase_add_test(direct, test_waiting_client_sends_more);
	tcase_add_checked_fixture(proxy, setup_proxy, teardown);
	tcase_add_test(proxy, test_frozen_blackhole);
	return tu_run(s);
}
