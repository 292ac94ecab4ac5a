/*
 * test_status_page: holdfastd's status page (status_listen) over real
 * HTTP: the page and its JSON, a worker's state and DB change seen in
 * /status.json, the output tail, actions refused without the token or the
 * CSRF header and accepted with both, a slowloris client closed at the
 * header deadline while others are served, JSON errors for malformed
 * requests, a reload that moves the listener, a Host that is neither an
 * IP, localhost nor in status_hosts refused (DNS rebinding), an address
 * that keeps sending wrong tokens refused for a while, and no config
 * secret in any reply.
 */
#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include "supt.h"
#include "util.h"

#define SECRET	"pw-SEKRIT-4711"
#define TOKEN	"tok-0123456789abcdef-xyz"

struct page {
	struct hfd	 t;
	int		 port;
	char		*tok;		/* the token file's path */
};

/* Every reply goes through here: no secret may ever appear in one. */
static int
page_get(struct page *pg, const char *method, const char *path, const char *hdrs,
    char **body, char **head)
{
	char	*b = NULL, *h = NULL;
	int	 st = tu_http(pg->port, method, path, hdrs, NULL, 0, &b, &h, 5000);

	ck_assert_msg(b == NULL || (strstr(b, SECRET) == NULL && strstr(b, TOKEN) == NULL),
	    "a secret in the reply to %s %s", method, path);
	ck_assert_msg(h == NULL || (strstr(h, SECRET) == NULL && strstr(h, TOKEN) == NULL),
	    "a secret in the headers of %s %s", method, path);
	if (body != NULL)
		*body = b;
	else
		free(b);
	if (head != NULL)
		*head = h;
	else
		free(h);
	return st;
}

/* The config: the page on port; extra goes into [holdfast]. */
static void
page_conf(struct page *pg, int port, const char *extra, const char *workers)
{
	char *text = xasprintf("[holdfast]\ncontrol_socket = run/hf.sock\n"
	    "shutdown_timeout = 5s\ntail_lines = 50\nstatus_listen = 127.0.0.1:%d\n%s\n"
	    "[database]\nconninfo = host=127.0.0.1 dbname=x password=" SECRET "\n\n%s",
	    port, extra, workers);

	hfd_write_conf(&pg->t, text);
	free(text);
}

/* holdfastd with the page on a free port. */
static void
page_start(struct page *pg, const char *tag, const char *extra, const char *workers)
{
	pg->port = tu_free_port(SOCK_STREAM);
	hfd_init(&pg->t, tag);
	pg->tok = xasprintf("%s/status.token", pg->t.dir);
	page_conf(pg, pg->port, extra, workers);
	hfd_spawn(&pg->t, NULL);
	ck_assert_msg(hfd_wait_up(&pg->t, 5000), "holdfastd did not come up");
}

static void
page_finish(struct page *pg)
{
	supt_finish(&pg->t);
	free(pg->tok);
}

static char *
page_worker(const char *args)
{
	char *tw = supt_tw(), *s;

	s = xasprintf("[worker:w]\ncommand = %s %s\nstartsecs = 0\nbackoff_initial = 50ms\n",
	    tw, args);
	free(tw);
	return s;
}

/* The "procs" entry of name in a /status.json reply, from tree. */
static yajl_val
page_proc(yajl_val tree, const char *name)
{
	yajl_val procs = json_get_array(tree, "procs");

	for (size_t i = 0; procs != NULL && i < procs->u.array.len; i++)
		if (strcmp(json_get_str(procs->u.array.values[i], "name"), name) == 0)
			return procs->u.array.values[i];
	return NULL;
}

/* The value of field (a string) of instance name in /status.json, into out. */
static int
page_field(struct page *pg, const char *name, const char *obj, const char *field,
    char *out, size_t len)
{
	char		*body = NULL, err[128];
	yajl_val	 tree, p;
	const char	*v = NULL;

	out[0] = '\0';
	if (page_get(pg, "GET", "/status.json", NULL, &body, NULL) != 200 || body == NULL) {
		free(body);
		return 0;
	}
	tree = json_parse(body, strlen(body), err, sizeof(err));
	free(body);
	if ((p = page_proc(tree, name)) != NULL)
		v = json_get_str(obj != NULL ? json_get_object(p, obj) : p, field);
	if (v != NULL)
		snprintf(out, len, "%s", v);
	yajl_tree_free(tree);
	return v != NULL;
}

/* Instance w has sent its first stats (they come after it is RUNNING). */
static int
page_has_stats(void *arg)
{
	char		*body = NULL, err[128];
	yajl_val	 tree;
	int		 has;

	if (page_get(arg, "GET", "/status.json", NULL, &body, NULL) != 200 || body == NULL) {
		free(body);
		return 0;
	}
	tree = json_parse(body, strlen(body), err, sizeof(err));
	free(body);
	has = json_get_object(page_proc(tree, "w"), "stats") != NULL;
	yajl_tree_free(tree);
	return has;
}

struct want {
	struct page	*pg;
	const char	*obj, *field, *value;
};

static int
page_is(void *arg)
{
	struct want	*w = arg;
	char		 v[64];

	return page_field(w->pg, "w", w->obj, w->field, v, sizeof(v)) &&
	    strcmp(v, w->value) == 0;
}

static int
page_wait(struct page *pg, const char *obj, const char *field, const char *value)
{
	struct want w = { pg, obj, field, value };

	return tu_wait_for(page_is, &w, 5000);
}

static int
has_header(const char *head, const char *line)
{
	return head != NULL && strcasestr(head, line) != NULL;
}

START_TEST(test_page_and_json)
{
	struct page	 pg;
	char		*w = page_worker("-S"), *body, *head, *ctl = NULL, err[128];
	yajl_val	 a, b;

	page_start(&pg, "status_json", "", w);
	ck_assert(page_wait(&pg, NULL, "state", "RUNNING"));
	ck_assert_int_eq(page_get(&pg, "GET", "/", NULL, &body, &head), 200);
	ck_assert_ptr_nonnull(strstr(body, "<table"));
	ck_assert_ptr_nonnull(strstr(body, "/status.js"));
	ck_assert(has_header(head, "Content-Type: text/html"));
	ck_assert(has_header(head, "Content-Security-Policy: default-src 'self'"));
	ck_assert(has_header(head, "X-Content-Type-Options: nosniff"));
	ck_assert_ptr_null(strstr(body, "<script>"));	/* nothing inline */
	ck_assert_ptr_null(strstr(body, "style="));
	free(body);
	free(head);
	ck_assert_int_eq(page_get(&pg, "GET", "/status.js", NULL, &body, &head), 200);
	ck_assert_ptr_nonnull(strstr(body, "/status.json"));
	ck_assert(has_header(head, "Content-Type: text/javascript"));
	free(body);
	free(head);
	ck_assert_int_eq(page_get(&pg, "GET", "/status.css", NULL, NULL, NULL), 200);
	/* /status.json: the reply of holdfastctl status --json, not cached */
	ck_assert_msg(tu_wait_for(page_has_stats, &pg, 5000), "no stats from w");
	ck_assert_int_eq(page_get(&pg, "GET", "/status.json", NULL, &body, &head), 200);
	ck_assert(has_header(head, "Content-Type: application/json"));
	ck_assert(has_header(head, "Cache-Control: no-store"));
	ck_assert(!has_header(head, "X-Holdfast-Actions"));
	ck_assert_int_eq(hfd_ctl(&pg.t, "--json status", &ctl), 0);
	ck_assert_ptr_nonnull(a = json_parse(body, strlen(body), err, sizeof(err)));
	ck_assert_ptr_nonnull(b = json_parse(ctl, strlen(ctl), err, sizeof(err)));
	ck_assert_ptr_nonnull(page_proc(a, "w"));
	ck_assert_str_eq(json_get_str(page_proc(a, "w"), "state"),
	    json_get_str(page_proc(b, "w"), "state"));
	ck_assert_str_eq(json_get_str(a, "config"), json_get_str(b, "config"));
	ck_assert_ptr_nonnull(json_get_object(page_proc(a, "w"), "stats"));
	yajl_tree_free(a);
	yajl_tree_free(b);
	free(body);
	free(head);
	free(ctl);
	/* read-only by default */
	ck_assert_int_eq(page_get(&pg, "POST", "/action?do=stop&name=w",
	    "X-Holdfast-Action: 1\nAuthorization: Bearer " TOKEN, &body, NULL), 403);
	ck_assert_ptr_nonnull(strstr(body, "\"status\":403"));
	free(body);
	page_finish(&pg);
	free(w);
}
END_TEST

START_TEST(test_state_change_and_db)
{
	struct page	 pg;
	char		*w = page_worker("-D ConnectionRefused -u 600000");

	page_start(&pg, "status_state", "", w);
	ck_assert(page_wait(&pg, NULL, "state", "RUNNING"));
	ck_assert(page_wait(&pg, "db", "state", "down"));
	ck_assert(page_wait(&pg, "db", "reason", "ConnectionRefused"));
	ck_assert_int_eq(hfd_ctl(&pg.t, "stop w", NULL), 0);
	ck_assert(page_wait(&pg, NULL, "state", "STOPPED"));
	ck_assert_int_eq(hfd_ctl(&pg.t, "start w", NULL), 0);
	ck_assert(page_wait(&pg, NULL, "state", "RUNNING"));
	page_finish(&pg);
	free(w);
}
END_TEST

START_TEST(test_tail)
{
	struct page	 pg;
	char		*w = page_worker("-p 3"), *body;

	page_start(&pg, "status_tail", "", w);
	ck_assert(page_wait(&pg, NULL, "state", "RUNNING"));
	ck_assert(tu_wait_file_count(pg.t.log, "stdout line 2", 1, 5000));
	ck_assert_int_eq(page_get(&pg, "GET", "/tail?name=w", NULL, &body, NULL), 200);
	ck_assert_ptr_nonnull(strstr(body, "stdout line 2"));
	free(body);
	ck_assert_int_eq(page_get(&pg, "GET", "/tail?name=w&lines=1", NULL, &body, NULL), 200);
	ck_assert_ptr_null(strstr(body, "stdout line 0"));
	free(body);
	ck_assert_int_eq(page_get(&pg, "GET", "/tail?name=nosuch", NULL, &body, NULL), 404);
	ck_assert_ptr_nonnull(strstr(body, "\"error\":\"NOT_FOUND\""));
	free(body);
	ck_assert_int_eq(page_get(&pg, "GET", "/tail", NULL, NULL, NULL), 400);
	ck_assert_int_eq(page_get(&pg, "GET", "/tail?name=w&lines=x", NULL, NULL, NULL), 400);
	ck_assert_int_eq(page_get(&pg, "GET", "/tail?name=%zz", NULL, NULL, NULL), 400);
	page_finish(&pg);
	free(w);
}
END_TEST

#define ACT	"/action?do=restart&name=w"
#define CSRF	"X-Holdfast-Action: 1\n"
#define BEARER	"Authorization: Bearer " TOKEN "\n"

START_TEST(test_actions)
{
	struct page	 pg;
	char		*w = page_worker(""), *head;
	pid_t		 pid, pid2;

	page_start(&pg, "status_act", "status_actions = true\n"
	    "status_token_file = status.token\n", w);
	ck_assert(page_wait(&pg, NULL, "state", "RUNNING"));
	pid = supt_pid(&pg.t, "w");
	/* no token file yet: refused */
	ck_assert_int_eq(page_get(&pg, "POST", ACT, CSRF BEARER, NULL, NULL), 403);
	/* a token file others can read: refused */
	ck_assert_int_eq(tu_write_file(pg.tok, TOKEN "\n"), 0);
	ck_assert_int_eq(chmod(pg.tok, 0644), 0);
	ck_assert_int_eq(page_get(&pg, "POST", ACT, CSRF BEARER, NULL, NULL), 403);
	ck_assert_int_eq(chmod(pg.tok, 0600), 0);
	ck_assert_int_eq(page_get(&pg, "GET", "/status.json", NULL, NULL, &head), 200);
	ck_assert(has_header(head, "X-Holdfast-Actions: 1"));
	free(head);
	/* no token, a wrong one, no CSRF header, a foreign origin, GET */
	ck_assert_int_eq(page_get(&pg, "POST", ACT, CSRF, NULL, &head), 401);
	ck_assert(has_header(head, "WWW-Authenticate: Bearer"));
	free(head);
	ck_assert_int_eq(page_get(&pg, "POST", ACT, CSRF "Authorization: Bearer "
	    "tok-0123456789abcdef-xyZ\n", NULL, NULL), 401);
	ck_assert_int_eq(page_get(&pg, "POST", ACT, CSRF "Authorization: Bearer tok\n",
	    NULL, NULL), 401);
	ck_assert_int_eq(page_get(&pg, "POST", ACT, BEARER, NULL, NULL), 403);
	ck_assert_int_eq(page_get(&pg, "POST", ACT, CSRF BEARER
	    "Origin: http://evil.example\n", NULL, NULL), 403);
	ck_assert_int_eq(page_get(&pg, "GET", ACT, CSRF BEARER, NULL, NULL), 405);
	ck_assert_int_eq(supt_pid(&pg.t, "w"), pid);
	/* both, from the page's own origin: done */
	head = xasprintf(CSRF BEARER "Origin: http://127.0.0.1:%d\n", pg.port);
	ck_assert_int_eq(page_get(&pg, "POST", ACT, head, NULL, NULL), 200);
	free(head);
	ck_assert(supt_wait_state(&pg.t, "w", "RUNNING", pid, 5000));
	pid2 = supt_pid(&pg.t, "w");
	ck_assert_int_ne(pid2, pid);
	ck_assert_int_eq(page_get(&pg, "POST", "/action?do=stop&name=w", CSRF BEARER,
	    NULL, NULL), 200);
	ck_assert(page_wait(&pg, NULL, "state", "STOPPED"));
	ck_assert_int_eq(page_get(&pg, "POST", "/action?do=start&name=w", CSRF BEARER,
	    NULL, NULL), 200);
	ck_assert(page_wait(&pg, NULL, "state", "RUNNING"));
	ck_assert_int_eq(page_get(&pg, "POST", "/action?do=reload", CSRF BEARER,
	    NULL, NULL), 200);
	ck_assert_int_eq(page_get(&pg, "POST", "/action?do=stop&name=nosuch", CSRF BEARER,
	    NULL, NULL), 404);
	ck_assert_int_eq(page_get(&pg, "POST", "/action?do=explode&name=w", CSRF BEARER,
	    NULL, NULL), 400);
	ck_assert_int_eq(tu_count_in_file(pg.t.log, TOKEN), 0);
	ck_assert_int_eq(tu_count_in_file(pg.t.log, SECRET), 0);
	page_finish(&pg);
	free(w);
}
END_TEST

/* A raw connection that sends text and returns the fd. */
static int
raw_open(int port, const char *text)
{
	struct sockaddr_in	 sin = tu_loopback(port);
	int			 fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (text != NULL)
		ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

/* Everything fd says until EOF or timeout_ms (NUL-terminated). */
static char *
raw_read(int fd, int timeout_ms, int *eof)
{
	char		*buf = xcalloc(1, 65536);
	size_t		 len = 0;
	uint64_t	 end = hf_now_mono_ms() + (uint64_t)timeout_ms;
	ssize_t		 n;

	*eof = 0;
	while (len < 65535 && hf_now_mono_ms() < end) {
		struct pollfd pfd = { fd, POLLIN, 0 };

		if (poll(&pfd, 1, (int)(end - hf_now_mono_ms())) <= 0)
			continue;
		if ((n = read(fd, buf + len, 65535 - len)) <= 0) {
			*eof = 1;
			break;
		}
		len += (size_t)n;
	}
	return buf;
}

START_TEST(test_slowloris_and_malformed)
{
	struct page	 pg;
	char		*w = page_worker(""), *out, *big;
	int		 fd, eof;
	uint64_t	 t0;

	page_start(&pg, "status_slow", "", w);
	t0 = hf_now_mono_ms();
	fd = raw_open(pg.port, "GET /status.json HTTP/1.1\r\nHost: x\r\nX-Slow: ");
	/* others are served meanwhile, at once */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(page_get(&pg, "GET", "/status.json", NULL, NULL, NULL), 200);
	ck_assert_uint_lt(hf_now_mono_ms() - t0, 2000);
	out = raw_read(fd, 9000, &eof);
	ck_assert_msg(strstr(out, " 408 ") != NULL && eof, "slow client got: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "\"status\":408"));
	ck_assert_uint_ge(hf_now_mono_ms() - t0, 4500);
	free(out);
	close(fd);
	/* garbage, an oversized head, a body, an unknown page: JSON 4xx */
	fd = raw_open(pg.port, "GARBAGE\r\n\r\n");
	out = raw_read(fd, 3000, &eof);
	ck_assert_msg(strstr(out, " 400 ") != NULL && strstr(out, "\"status\":400"), "%s", out);
	free(out);
	close(fd);
	big = xcalloc(1, 20000);
	memset(big, 'a', 19999);
	out = xasprintf("GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", big);
	fd = raw_open(pg.port, out);
	free(out);
	out = raw_read(fd, 3000, &eof);
	ck_assert_msg(strstr(out, " 431 ") != NULL && strstr(out, "application/json"), "%s", out);
	free(out);
	free(big);
	close(fd);
	ck_assert_int_eq(tu_http(pg.port, "POST", "/action?do=reload", NULL, "x=1", 3,
	    &out, NULL, 5000), 413);
	ck_assert_ptr_nonnull(strstr(out, "\"status\":413"));
	free(out);
	ck_assert_int_eq(page_get(&pg, "GET", "/nope", NULL, &out, NULL), 404);
	ck_assert_ptr_nonnull(strstr(out, "\"error\":\"NOT_FOUND\""));
	free(out);
	ck_assert_int_eq(page_get(&pg, "DELETE", "/", NULL, NULL, NULL), 405);
	ck_assert_int_eq(page_get(&pg, "GET", "/status.json", NULL, NULL, NULL), 200);
	page_finish(&pg);
	free(w);
}
END_TEST

/* A listener of the test's own on a free port. */
static int
page_listener(int *port)
{
	struct sockaddr_in	 sin;
	int			 fd;

	*port = tu_free_port(SOCK_STREAM);
	sin = tu_loopback(*port);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

/* A reload moves the page to a new port; one that cannot be bound keeps it. */
START_TEST(test_reload_moves_listener)
{
	struct page	 pg;
	char		*w = page_worker("");
	int		 old, busy, bport;

	page_start(&pg, "status_reload", "", w);
	old = pg.port;
	pg.port = tu_free_port(SOCK_STREAM);
	page_conf(&pg, pg.port, "", w);
	ck_assert_int_eq(hfd_ctl(&pg.t, "reload", NULL), 0);
	ck_assert_int_eq(page_get(&pg, "GET", "/status.json", NULL, NULL, NULL), 200);
	ck_assert_int_lt(tu_http(old, "GET", "/status.json", NULL, NULL, 0, NULL, NULL,
	    2000), 0);
	/* an address in use: the reload goes on, the page stays where it was */
	busy = page_listener(&bport);
	page_conf(&pg, bport, "", w);
	ck_assert_int_eq(hfd_ctl(&pg.t, "reload", NULL), 0);
	ck_assert(tu_wait_file_count(pg.t.log, "status_listen: bind(", 1, 5000));
	ck_assert_int_eq(page_get(&pg, "GET", "/status.json", NULL, NULL, NULL), 200);
	close(busy);
	/* and off */
	page_conf(&pg, 0, "", w);
	page_finish(&pg);
	free(w);
}
END_TEST

/* The status code of GET path with Host: host. */
static int
host_get(struct page *pg, const char *path, const char *host)
{
	char	*h = xasprintf("Host: %s\n", host);
	int	 st = page_get(pg, "GET", path, h, NULL, NULL);

	free(h);
	return st;
}

START_TEST(test_host_allow_list)
{
	struct page	 pg;
	char		*w = page_worker(""), *self;
	const char	*good[] = { "localhost", "LocalHost:9", "[::1]:80", "app.localhost",
	    "status.example.com", "STATUS.Example.com:443", "corp.example",
	    "a.b.corp.example", "10.1.2.3:8080", "localhost." };
	const char	*bad[] = { "evil.example", "127.0.0.1.evil.example",
	    "xcorp.example", "status.example.com.evil", "localhost.evil", "[::1",
	    "a b", "[not-v6]:80" };

	page_start(&pg, "status_host", "status_hosts = status.example.com, .corp.example\n", w);
	self = xasprintf("127.0.0.1:%d", pg.port);
	ck_assert_int_eq(host_get(&pg, "/", self), 200);
	for (size_t i = 0; i < nitems(good); i++)
		ck_assert_msg(host_get(&pg, "/status.json", good[i]) == 200, "Host %s", good[i]);
	for (size_t i = 0; i < nitems(bad); i++) {
		int st = host_get(&pg, "/status.json", bad[i]);

		ck_assert_msg(st == 403 || st == 400, "Host %s: %d", bad[i], st);
	}
	ck_assert_int_eq(host_get(&pg, "/", "evil.example:80"), 403);
	/* the list is read in place by a reload */
	page_conf(&pg, pg.port, "", w);
	ck_assert_int_eq(hfd_ctl(&pg.t, "reload", NULL), 0);
	ck_assert_int_eq(host_get(&pg, "/", "status.example.com"), 403);
	ck_assert_int_eq(host_get(&pg, "/", self), 200);
	free(self);
	page_finish(&pg);
	free(w);
}
END_TEST

/* POST ACT from source address src (a loopback address); the status. */
static int
post_from(int port, const char *src, const char *hdrs)
{
	struct sockaddr_in	 sin = tu_loopback(port), me = tu_loopback(0);
	int			 fd = socket(AF_INET, SOCK_STREAM, 0), eof, st = -1;
	char			*req, *resp;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(inet_pton(AF_INET, src, &me.sin_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	req = xasprintf("POST " ACT " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n%s\r\n", hdrs);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	resp = raw_read(fd, 5000, &eof);
	sscanf(resp, "HTTP/1.1 %d", &st);
	close(fd);
	free(req);
	free(resp);
	return st;
}

START_TEST(test_token_throttle)
{
	struct page	 pg;
	char		*w = page_worker(""), *head;
	const char	*wrong = CSRF "Authorization: Bearer tok-0123456789abcdef-WRONG\n";
	const char	*right = "X-Holdfast-Action: 1\r\nAuthorization: Bearer " TOKEN "\r\n";
	const char	*wrong_raw = "X-Holdfast-Action: 1\r\nAuthorization: Bearer nope\r\n";
	pid_t		 pid;

	page_start(&pg, "status_throttle", "status_actions = true\n"
	    "status_token_file = status.token\n", w);
	ck_assert_int_eq(tu_write_file(pg.tok, TOKEN "\n"), 0);
	ck_assert_int_eq(chmod(pg.tok, 0600), 0);
	ck_assert(page_wait(&pg, NULL, "state", "RUNNING"));
	pid = supt_pid(&pg.t, "w");
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(page_get(&pg, "POST", ACT, wrong, NULL, NULL), 401);
	/* the sixth try, and the right token too, from that address: 429 */
	ck_assert_int_eq(page_get(&pg, "POST", ACT, wrong, NULL, &head), 429);
	ck_assert_msg(has_header(head, "Retry-After: "), "%s", head);
	free(head);
	ck_assert_int_eq(page_get(&pg, "POST", ACT, CSRF BEARER, NULL, NULL), 429);
	ck_assert_int_eq(supt_pid(&pg.t, "w"), pid);
	ck_assert_int_eq(tu_count_in_file(pg.t.log, "[STATUS_AUTH_FAIL] peer=127.0.0.1"), 5);
	/* reading is not throttled; another address is not */
	ck_assert_int_eq(page_get(&pg, "GET", "/status.json", NULL, NULL, NULL), 200);
	ck_assert_int_eq(post_from(pg.port, "127.0.0.2", wrong_raw), 401);
	ck_assert_int_eq(post_from(pg.port, "127.0.0.2", right), 200);
	ck_assert(supt_wait_state(&pg.t, "w", "RUNNING", pid, 5000));
	/* a right token cleared 127.0.0.2's count: four more wrong are 401 */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(post_from(pg.port, "127.0.0.2", wrong_raw), 401);
	page_finish(&pg);
	free(w);
}
END_TEST

/* Bad values are refused with file:line. */
START_TEST(test_bad_config)
{
	struct hfd	 t;
	char		*out = NULL, *cmd;
	const char	*bad[] = { "status_listen = udp:127.0.0.1:9101",
	    "status_listen = 127.0.0.1", "status_listen = 127.0.0.1:0",
	    "status_actions = maybe", "status_hosts = evil.example/x",
	    "status_hosts = a.example, ." };

	hfd_init(&t, "status_bad");
	for (size_t i = 0; i < nitems(bad); i++) {
		char *text = xasprintf("[holdfast]\ncontrol_socket = run/hf.sock\n%s\n", bad[i]);

		hfd_write_conf(&t, text);
		cmd = xasprintf("'%s/supervisor/holdfastd' -t -c '%s' 2>&1", tu_builddir(), t.conf);
		ck_assert_int_ne(tu_sh(cmd, &out), 0);
		ck_assert_msg(strstr(out, "holdfast.conf:3: status_") != NULL, "%s: %s", bad[i], out);
		free(out);
		free(cmd);
		free(text);
	}
	hfd_free(&t);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("status_page");
	TCase	*tc = tu_tcase(s, "status_page", 60);

	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(tc, test_page_and_json);
	tcase_add_test(tc, test_state_change_and_db);
	tcase_add_test(tc, test_tail);
	tcase_add_test(tc, test_actions);
	tcase_add_test(tc, test_slowloris_and_malformed);
	tcase_add_test(tc, test_reload_moves_listener);
	tcase_add_test(tc, test_bad_config);
	tcase_add_test(tc, test_host_allow_list);
	tcase_add_test(tc, test_token_throttle);
	return tu_run(s);
}
