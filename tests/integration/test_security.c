/*
 * test_security: the security review, one test per point, on
 * real processes (the source-level rules, SQL parameterised only and
 * constant-time compares, are test_security_grep.sh).
 *
 * Guards:
 * - the control socket with socket_group: mode 0660 and that group, a
 *   member (even by a supplementary group, as `usermod -aG` makes one)
 *   is let in, anyone else is refused by SO_PEERCRED even when the file
 *   mode would let them connect (0600 and the uid check without a group:
 *   test_supervisor_ctl);
 * - privilege drop: a worker with user=nobody runs with nobody's uid, gid
 *   and groups only (none of root's supplementary groups), while
 *   holdfastd stays root to supervise;
 * - no secret in any output: the real workers under holdfastd, with a
 *   DB password, access token, app secret, a user's password and the
 *   auth token they got, through a login, a wrong login, a bad webhook
 *   and a DB outage: none of them in holdfastd's log (which carries every
 *   worker's output), `holdfastctl status [--json]`, `health` or `tail`;
 * - login brute force is slowed per address: 429 after login_rate tries
 *   from one address, while /healthz answers, another address still logs
 *   the same user in, and the user's row is not locked.
 */
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#include "pgt.h"
#include "supt.h"
#include "tu.h"

/* ---- control socket: socket_group ---- */

/* In a child: become uid nobody with primary gid and supplementary groups
 * as given, send a status request, exit 0 when let in, 1 when refused,
 * 2 when the connect itself failed (the file mode stopped it). */
static int
ctl_as(const char *sock, gid_t gid, const gid_t *groups, int ngroups)
{
	struct passwd		*pw = getpwnam("nobody");
	struct sockaddr_un	 sun;
	pid_t			 child;
	int			 status;

	if ((child = fork()) == 0) {
		char	buf[4096] = "";
		int	fd;
		ssize_t	n, got = 0;

		if (setgroups(ngroups, groups) == -1 || setgid(gid) == -1 ||
		    setuid(pw->pw_uid) == -1)
			_exit(3);
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			_exit(2);
		(void)!send(fd, "{\"cmd\":\"status\"}\n", 17, MSG_NOSIGNAL);
		while (got < (ssize_t)sizeof(buf) - 1 &&
		    (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
			got += n;
			if (memchr(buf, '\n', got) != NULL)
				break;
		}
		_exit(strstr(buf, "\"denied\"") != NULL ? 1 : strstr(buf, "procs") ? 0 : 4);
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_ctl_socket_group)
{
	struct hfd	 t;
	struct group	*gr = getgrnam("nogroup");
	struct stat	 st;
	gid_t		 other = 4242, member[1], none[1] = { 4242 };
	char		*run;

	if (getuid() != 0 || gr == NULL || getpwnam("nobody") == NULL) {
		fprintf(stderr, "test_ctl_socket_group: needs root, nobody, nogroup\n");
		return;
	}
	member[0] = gr->gr_gid;
	hfd_init(&t, "sec-group");
	hfd_write_conf(&t, "[holdfast]\ncontrol_socket = run/hf.sock\n"
	    "socket_group = nogroup\n");
	hfd_spawn(&t, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert_int_eq(stat(t.sock, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0660);
	ck_assert_int_eq(st.st_gid, gr->gr_gid);
	run = xasprintf("%s/run", t.dir);
	chmod(t.dir, 0755);
	chmod(run, 0755);
	/* A member by a supplementary group only: let in. */
	ck_assert_int_eq(ctl_as(t.sock, other, member, 1), 0);
	/* A member by its primary group: let in. */
	ck_assert_int_eq(ctl_as(t.sock, gr->gr_gid, none, 1), 0);
	/* Not a member: the file mode stops it... */
	ck_assert_int_eq(ctl_as(t.sock, other, none, 1), 2);
	/* ...and with the mode opened up, SO_PEERCRED still refuses it. */
	chmod(t.sock, 0666);
	ck_assert_int_eq(ctl_as(t.sock, other, none, 1), 1);
	ck_assert_int_eq(supt_log_count(&t, "control: refused uid 65534 gid 4242"), 1);
	ck_assert_int_eq(hfd_ctl(&t, "status >/dev/null", NULL), 0);
	free(run);
	supt_finish(&t);
}
END_TEST

/* ---- privilege drop ---- */

START_TEST(test_privilege_drop)
{
	struct hfd	 t;
	struct passwd	*pw = getpwnam("nobody");
	char		*tw, *ini, *v, *want;
	gid_t		 groups[64];
	int		 ng = 64;
	pid_t		 w;

	if (getuid() != 0 || pw == NULL) {
		fprintf(stderr, "test_privilege_drop: needs root and nobody\n");
		return;
	}
	hfd_init(&t, "sec-user");
	tw = supt_tw_reachable(&t);
	ini = xasprintf("[worker:u]\ncommand = %s\nuser = nobody\n", tw);
	supt_write_conf(&t, ini);
	/* holdfastd as root with supplementary groups (adm, disk) that a
	 * careless drop would leave to the worker. */
	hfd_spawn_argv(&t, (char *[]){ "/usr/bin/setpriv", "--groups=4,6", "--", NULL },
	    NULL, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert(supt_wait_state(&t, "u", "RUNNING", 0, 5000));
	w = supt_pid(&t, "u");
	ck_assert_int_gt(w, 0);
	/* holdfastd keeps root (it must signal and reap any worker)... */
	v = supt_proc_field(t.pid, "Uid:");
	ck_assert_str_eq(v, "0\t0\t0\t0");
	free(v);
	v = supt_proc_field(t.pid, "Groups:");
	ck_assert_str_eq(v, "4 6");
	free(v);
	/* ...the worker has nobody's ids and groups and nothing else. */
	v = supt_proc_field(w, "Uid:");
	want = xasprintf("%d\t%d\t%d\t%d", (int)pw->pw_uid, (int)pw->pw_uid,
	    (int)pw->pw_uid, (int)pw->pw_uid);
	ck_assert_str_eq(v, want);
	free(v);
	free(want);
	v = supt_proc_field(w, "Gid:");
	want = xasprintf("%d\t%d\t%d\t%d", (int)pw->pw_gid, (int)pw->pw_gid,
	    (int)pw->pw_gid, (int)pw->pw_gid);
	ck_assert_str_eq(v, want);
	free(v);
	free(want);
	ck_assert_int_ge(getgrouplist("nobody", pw->pw_gid, groups, &ng), 0);
	v = supt_proc_field(w, "Groups:");
	want = xstrdup("");
	for (int i = 0; i < ng; i++) {
		char *n = xasprintf("%s%s%d", want, i ? " " : "", (int)groups[i]);

		free(want);
		want = n;
	}
	ck_assert_msg(strcmp(v, want) == 0, "worker groups \"%s\", nobody's \"%s\"", v, want);
	free(v);
	free(want);
	v = supt_proc_field(w, "CapEff:");
	ck_assert_str_eq(v, "0000000000000000");
	free(v);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

/* ---- the real workers under holdfastd, on a real PostgreSQL ---- */

#define PW_DB		"SECRETPW1"
#define TOK_WA		"SECRETTOK2"
#define APP_SECRET	"SECRETAPP3"
#define VERIFY		"SECRETVFY4"
#define USER_PW		"SECRETUSR5-horse"
#define WRONG_PW	"SECRETBAD6-battery"
#define EMAIL		"agent@example.com"

struct rig {
	struct hfd	 t;
	struct pgt	*pg;
	int		 http, sip;
};

static int
rig_ready(void *arg)
{
	return tu_http(*(int *)arg, "GET", "/readyz", NULL, NULL, 0, NULL, NULL, 2000) == 200;
}

static int
rig_unready(void *arg)
{
	return tu_http(*(int *)arg, "GET", "/readyz", NULL, NULL, 0, NULL, NULL, 2000) == 503;
}

static void
rig_start(struct rig *r, const char *tag, int login_rate)
{
	char	*http = tu_buildpath("workers/http/holdfast-http");
	char	*wa = tu_buildpath("workers/whatsapp/holdfast-whatsapp");
	char	*tel = tu_buildpath("workers/telephony/holdfast-telephony");
	char	*admin = tu_buildpath("workers/admin/holdfast-admin");
	char	*ini, *text, *cmd;

	r->pg = pgt_start(NULL);
	pgt_createdb(r->pg, "hf", 1);
	r->http = tu_free_port(SOCK_STREAM);
	r->sip = tu_free_port(SOCK_DGRAM);
	ini = xasprintf("[worker:http]\ncommand = %s\nlisten = 127.0.0.1:%d\n"
	    "login_rate = %d\n"
	    "[worker:whatsapp]\ncommand = %s\n"
	    "[worker:telephony]\ncommand = %s\nlisten = udp:127.0.0.1:%d\n",
	    http, r->http, login_rate, wa, tel, r->sip);
	hfd_init(&r->t, tag);
	/* log_level = debug: the most a log can say. */
	text = xasprintf("[holdfast]\ncontrol_socket = run/hf.sock\nstate_dir = var\n"
	    "log_level = debug\nshutdown_timeout = 5s\ntail_lines = 500\n"
	    "[database]\nconninfo = %s password=" PW_DB "\n"
	    "connect_timeout = 1s\nbackoff_initial = 100ms\nbackoff_max = 500ms\n"
	    "[whatsapp]\nverify_token = " VERIFY "\napp_secret = " APP_SECRET "\n"
	    "access_token = " TOK_WA "\ngraph_api_url = http://127.0.0.1:9\n\n%s",
	    pgt_conninfo(r->pg, "hf"), ini);
	hfd_write_conf(&r->t, text);
	cmd = xasprintf("printf '%%s\\n' '" USER_PW "' | %s -c %s useradd " EMAIL
	    " >>%s/admin.log 2>&1", admin, r->t.conf, r->t.dir);
	ck_assert_int_eq(tu_sh(cmd, NULL), 0);
	hfd_spawn_argv(&r->t, NULL, (char *[]){ "-v", NULL }, NULL);
	ck_assert(hfd_wait_up(&r->t, 5000));
	ck_assert_msg(tu_wait_for(rig_ready, &r->http, 20000), "http never ready");
	free(cmd);
	free(text);
	free(ini);
	free(http);
	free(wa);
	free(tel);
	free(admin);
}

static void
rig_stop(struct rig *r)
{
	supt_finish(&r->t);
	pgt_destroy(r->pg);
}

/* POST /api/auth/login; the token on 200 (malloc'd), else NULL. */
static char *
login(int port, const char *pw, int *status)
{
	char	*body = xasprintf("{\"email\":\"" EMAIL "\",\"password\":\"%s\"}", pw);
	char	*rb = NULL, *tok = NULL, *s;

	*status = tu_http(port, "POST", "/api/auth/login",
	    "Content-Type: application/json\r\n", body, strlen(body), &rb, NULL, 10000);
	if (*status == 200 && rb != NULL && (s = strstr(rb, "\"token\"")) != NULL &&
	    (s = strchr(s + 7, '"')) != NULL)
		tok = strndup(s + 1, strcspn(s + 1, "\""));
	free(rb);
	free(body);
	return tok;
}

/* Fails the test when text contains any of the secrets. */
static void
assert_clean(const char *what, const char *text, const char *token)
{
	const char *secrets[] = { PW_DB, TOK_WA, APP_SECRET, VERIFY, USER_PW,
	    WRONG_PW, token };

	ck_assert_msg(text != NULL, "%s: no output", what);
	for (size_t i = 0; i < nitems(secrets); i++)
		ck_assert_msg(strstr(text, secrets[i]) == NULL,
		    "%s contains the secret \"%s\"", what, secrets[i]);
}

static void
assert_ctl_clean(struct rig *r, const char *args, const char *token)
{
	char *out = NULL;

	hfd_ctl(&r->t, args, &out);
	assert_clean(args, out, token);
	free(out);
}

START_TEST(test_no_secret_in_output)
{
	struct rig	 r;
	char		*tok, *auth, *rb = NULL, *log, *admin;
	const char	*body = "{\"object\":\"whatsapp_business_account\",\"entry\":[]}";
	int		 st;

	rig_start(&r, "sec-secrets", 100);
	ck_assert(supt_wait_state(&r.t, "whatsapp", "RUNNING", 0, 10000));
	ck_assert(supt_wait_state(&r.t, "telephony", "RUNNING", 0, 10000));
	tok = login(r.http, USER_PW, &st);
	ck_assert_int_eq(st, 200);
	ck_assert_ptr_nonnull(tok);
	ck_assert_int_ge(strlen(tok), 16);
	auth = xasprintf("Authorization: Bearer %s\r\n", tok);
	ck_assert_int_eq(tu_http(r.http, "GET", "/api/conversations", auth, NULL, 0,
	    &rb, NULL, 5000), 200);
	free(rb);
	ck_assert(login(r.http, WRONG_PW, &st) == NULL);
	ck_assert_int_eq(st, 401);
	/* A webhook with a wrong signature, and the handshake with the right
	 * and a wrong verify token (both tokens travel in the query). */
	ck_assert_int_eq(tu_http(r.http, "POST", "/webhooks/whatsapp",
	    "Content-Type: application/json\r\nX-Hub-Signature-256: sha256="
	    "0000000000000000000000000000000000000000000000000000000000000000\r\n",
	    body, strlen(body), NULL, NULL, 5000), 401);
	ck_assert_int_eq(tu_http(r.http, "GET", "/webhooks/whatsapp?hub.mode=subscribe"
	    "&hub.verify_token=" VERIFY "&hub.challenge=12345", NULL, NULL, 0, NULL, NULL,
	    5000), 200);
	ck_assert_int_eq(tu_http(r.http, "GET", "/webhooks/whatsapp?hub.mode=subscribe"
	    "&hub.verify_token=" WRONG_PW "&hub.challenge=1", NULL, NULL, 0, NULL, NULL,
	    5000), 403);
	/* An outage: every worker reports the DB down (with libpq's detail),
	 * then up again. */
	ck_assert_int_eq(pgt_stop(r.pg, "fast"), 0);
	ck_assert(tu_wait_for(rig_unready, &r.http, 10000));
	ck_assert(login(r.http, USER_PW, &st) == NULL);
	ck_assert_int_eq(st, 503);
	ck_assert(tu_wait_file_count(r.t.log, "[DB_DOWN]", 2, 10000));
	assert_ctl_clean(&r, "--json status", tok);
	assert_ctl_clean(&r, "status", tok);
	ck_assert_int_eq(pgt_restart(r.pg), 0);
	ck_assert(tu_wait_for(rig_ready, &r.http, 20000));
	ck_assert(tu_wait_file_count(r.t.log, "[DB_RECOVERED]", 1, 10000));
	/* Every output an operator can see. */
	assert_ctl_clean(&r, "--json status", tok);
	assert_ctl_clean(&r, "status", tok);
	assert_ctl_clean(&r, "health", tok);
	assert_ctl_clean(&r, "--json health", tok);
	assert_ctl_clean(&r, "tail http", tok);
	assert_ctl_clean(&r, "tail whatsapp", tok);
	assert_ctl_clean(&r, "tail telephony", tok);
	assert_ctl_clean(&r, "--json tail http", tok);
	/* holdfastd's log (every worker's output is in it), shutdown included,
	 * and holdfast-admin's. */
	ck_assert_int_eq(tu_stop(r.t.pid, 10000), 0);
	r.t.pid = 0;
	log = tu_read_file(r.t.log, NULL);
	ck_assert_ptr_nonnull(strstr(log, "[DB_DOWN]"));
	ck_assert_ptr_nonnull(strstr(log, "http: "));
	ck_assert_ptr_nonnull(strstr(log, "whatsapp: "));
	ck_assert_ptr_nonnull(strstr(log, "telephony: "));
	assert_clean("holdfastd's log", log, tok);
	free(log);
	admin = xasprintf("%s/admin.log", r.t.dir);
	log = tu_read_file(admin, NULL);
	assert_clean("holdfast-admin's output", log != NULL ? log : "", tok);
	free(log);
	free(admin);
	rig_stop(&r);
	free(auth);
	free(tok);
}
END_TEST

/* curl from a chosen local address (another "client" on loopback). */
static int
login_from(int port, const char *addr, const char *pw)
{
	char	*cmd = xasprintf("curl -s -o /dev/null -w '%%{http_code}' --interface %s "
	    "-H 'Content-Type: application/json' -d '{\"email\":\"" EMAIL "\","
	    "\"password\":\"%s\"}' http://127.0.0.1:%d/api/auth/login", addr, pw, port);
	char	*out = NULL;
	int	 code;

	ck_assert_int_eq(tu_sh(cmd, &out), 0);
	code = atoi(out);
	free(out);
	free(cmd);
	return code;
}

START_TEST(test_login_rate_per_address)
{
	struct rig	 r;
	char		*sql;

	rig_start(&r, "sec-rate", 3);
	/* Three tries a minute from 127.0.0.1, the fourth is slowed down. */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(login_from(r.http, "127.0.0.1", WRONG_PW), 401);
	ck_assert_int_eq(login_from(r.http, "127.0.0.1", WRONG_PW), 429);
	/* The limit is on the address, before any password check: even the
	 * right password waits. */
	ck_assert_int_eq(login_from(r.http, "127.0.0.1", USER_PW), 429);
	/* The service is not slowed: health, and another address logs the
	 * same user in at once (the account is not locked). */
	ck_assert_int_eq(tu_http(r.http, "GET", "/healthz", NULL, NULL, 0, NULL, NULL,
	    2000), 200);
	ck_assert_int_eq(login_from(r.http, "127.0.0.2", USER_PW), 200);
	/* Nothing in the DB holds the user's row: it can be locked NOWAIT. */
	sql = xasprintf("BEGIN; SELECT id FROM users WHERE email = '" EMAIL "' "
	    "FOR UPDATE NOWAIT; ROLLBACK;");
	ck_assert_int_eq(pgt_psql(r.pg, "hf", sql, NULL), 0);
	ck_assert_int_eq(pgt_scalar(r.pg, "hf", "SELECT count(*) FROM pg_locks l "
	    "JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'users' "
	    "AND l.mode <> 'AccessShareLock'"), 0);
	free(sql);
	rig_stop(&r);
}
END_TEST

/* ---- size limits (the table in docs/deployment.md) ---- */

/* A raw TCP connection to 127.0.0.1:port, or -1. */
static int
tcp_connect(int port)
{
	struct sockaddr_in	sin = tu_loopback(port);
	int			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads until EOF or ms pass; returns the bytes read (-1: timed out). */
static ssize_t
read_to_eof(int fd, char *buf, size_t len, int ms)
{
	uint64_t	deadline = hf_now_mono_ms() + ms;
	size_t		got = 0;

	for (;;) {
		struct pollfd	pfd = { fd, POLLIN, 0 };
		int64_t		left = (int64_t)(deadline - hf_now_mono_ms());
		ssize_t		n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		if ((n = read(fd, buf + got, len - 1 - got)) <= 0) {
			buf[got] = '\0';
			return (ssize_t)got;
		}
		got += (size_t)n;
		if (got >= len - 1)
			return (ssize_t)got;
	}
}

static int
hup(void *arg)
{
	return tu_http(*(int *)arg, "GET", "/healthz", NULL, NULL, 0, NULL, NULL, 2000) == 200;
}

/* The HTTP limits not covered by test_http (max_body, max_webhook_body:
 * 413 there), the control socket's client cap and the config's line
 * length. No database needed: the worker serves /healthz without one. */
/*
 * The size limits, one a test. Each HTTP one runs holdfastd with one
 * holdfast-http worker on a free port, keys (its limits) added to its
 * section, and returns that port once /healthz answers.
 */
static int
limits_start(struct hfd *t, const char *tag, const char *keys)
{
	char	*http = tu_buildpath("workers/http/holdfast-http"), *ini;
	int	 port = tu_free_port(SOCK_STREAM);

	ini = xasprintf("[database]\nconninfo = host=127.0.0.1 port=9 dbname=x connect_timeout=1\n"
	    "[worker:h]\ncommand = %s\nlisten = 127.0.0.1:%d\n%s", http, port, keys);
	supt_start(t, tag, ini);
	ck_assert(tu_wait_for(hup, &port, 15000));
	free(ini);
	free(http);
	return port;
}

/* max_header_size: 9 KiB of headers is answered 431 in JSON. */
START_TEST(test_limit_header_size)
{
	struct hfd	 t;
	char		*hdr, *rb = NULL;
	int		 port = limits_start(&t, "sec-limits",
	    "max_header_size = 8KiB\nrequest_timeout = 500ms\n");

	hdr = xmalloc(9 * 1024 + 32);
	snprintf(hdr, 32, "X-Pad: ");
	memset(hdr + 7, 'a', 9 * 1024);
	strcpy(hdr + 7 + 9 * 1024, "\r\n");
	ck_assert_int_eq(tu_http(port, "GET", "/healthz", hdr, NULL, 0, &rb, NULL, 5000), 431);
	ck_assert_ptr_nonnull(strstr(rb, "\"status\":431"));
	free(rb);
	free(hdr);
	supt_finish(&t);
}
END_TEST

/* request_timeout: a client that never finishes its request is cut off
 * (slowloris), well before a second. */
START_TEST(test_limit_request_timeout)
{
	struct hfd	 t;
	char		 buf[4096];
	int		 fd, port = limits_start(&t, "sec-limits",
	    "max_header_size = 8KiB\nrequest_timeout = 500ms\n");
	uint64_t	 t0;
	ssize_t		 got;

	ck_assert_int_ge(fd = tcp_connect(port), 0);
	ck_assert_int_gt(write(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 32), 0);
	t0 = hf_now_mono_ms();
	got = read_to_eof(fd, buf, sizeof(buf), 5000);
	ck_assert_msg(got >= 0, "a half request was kept open for 5 s");
	ck_assert_msg(hf_now_mono_ms() - t0 < 3000, "closed only after %llums",
	    (unsigned long long)(hf_now_mono_ms() - t0));
	close(fd);
	supt_finish(&t);
}
END_TEST

/* max_connections: with 3 connections held, a 4th is told 503. */
START_TEST(test_limit_connections)
{
	struct hfd	 t;
	char		 buf[4096], *rb = NULL;
	int		 held[3], port = limits_start(&t, "sec-limits", "max_connections = 3\n");

	for (int i = 0; i < 3; i++) {
		ck_assert_int_ge(held[i] = tcp_connect(port), 0);
		ck_assert_int_gt(write(held[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 34), 0);
		ck_assert_int_gt(read(held[i], buf, sizeof(buf)), 0);
	}
	ck_assert_int_eq(tu_http(port, "GET", "/healthz", NULL, NULL, 0, &rb, NULL, 5000), 503);
	ck_assert_ptr_nonnull(strstr(rb, "Too many connections"));
	free(rb);
	for (int i = 0; i < 3; i++)
		close(held[i]);
	ck_assert(tu_wait_for(hup, &port, 5000));
	supt_finish(&t);
}
END_TEST

/* The control socket takes 64 clients; the next is told so, and
 * holdfastctl works again once they are gone. */
START_TEST(test_limit_ctl_clients)
{
	struct hfd	 t;
	char		*out = NULL;
	int		 fds[70], n;

	limits_start(&t, "sec-limits", "");
	for (n = 0; n < 64; n++) {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", t.sock);
		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_eq(connect(fds[n], (struct sockaddr *)&sun, sizeof(sun)), 0);
	}
	ck_assert_int_eq(hfd_ctl(&t, "status 2>&1", &out), 1);
	ck_assert_msg(strstr(out, "too many control connections") != NULL, "%s", out);
	free(out);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert_int_eq(hfd_ctl(&t, "status >/dev/null", NULL), 0);
	supt_finish(&t);
}
END_TEST

/* The config: a line over 4 KiB is refused with file:line. */
START_TEST(test_limit_config_line)
{
	char	*dir = tu_tmpdir("sec-cfgline"), *conf = xasprintf("%s/l.conf", dir);
	char	*line = xmalloc(5001), *text, *cmd, *out = NULL, *hd;

	memset(line, 'x', 5000);
	line[5000] = '\0';
	text = xasprintf("[holdfast]\nlog_level = info ; %s\n", line);
	tu_write_file(conf, text);
	hd = tu_buildpath("supervisor/holdfastd");
	cmd = xasprintf("%s -t -c %s 2>&1", hd, conf);
	ck_assert_int_eq(tu_sh(cmd, &out), 1);
	ck_assert_msg(strstr(out, "l.conf:2: line too long") != NULL, "%s", out);
	free(out);
	free(cmd);
	free(hd);
	free(text);
	free(line);
	free(conf);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("security");
	TCase	*tc = tu_tcase(s, "security", 90);

	tcase_add_test(tc, test_ctl_socket_group);
	tcase_add_test(tc, test_privilege_drop);
	tcase_add_test(tc, test_no_secret_in_output);
	tcase_add_test(tc, test_login_rate_per_address);
	tcase_add_test(tc, test_limit_header_size);
	tcase_add_test(tc, test_limit_request_timeout);
	tcase_add_test(tc, test_limit_connections);
	tcase_add_test(tc, test_limit_ctl_clients);
	tcase_add_test(tc, test_limit_config_line);
	return tu_run(s);
}
