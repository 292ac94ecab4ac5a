/*
 * test_telephony: holdfast-telephony against real clients and a real
 * PostgreSQL.
 *
 * Guards the promises of the telephony worker: calls are answered by the
 * RFC 3261 rules whatever the DB does (raw UDP requests for every method
 * and for junk; sipp's own uac, CANCEL and no-ACK scenarios), and every
 * finished call leaves exactly one row in `calls`, even when PostgreSQL
 * stops in the middle of a run, when the worker is killed with SIGKILL,
 * or when the spool's last record was torn by a crash; and a backlog is
 * stored in INSERT statements of bounded size (2000 rows, ~1 MiB).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "cdr.h"
#include "fp.h"
#include "hfd.h"
#include "pgt.h"
#include "sipp.h"
#include "spool.h"
#include "tu.h"
#include "util.h"

struct tel {
	struct hfd	 h;		/* h.pid: the worker, or holdfastd when
					 * supervised; h.log: its output */
	int		 port;
	int		 supervised;
	struct pgt	*pg;
	const char	*conninfo;
};

/* ---- the worker ---- */

static void
tel_conf(struct tel *t, const char *conninfo, const char *extra)
{
	char *text, *bin = tu_buildpath("workers/telephony/holdfast-telephony");

	text = xasprintf(
	    "[holdfast]\nstate_dir = %s/state\nlog_level = info\n"
	    "control_socket = run/hf.sock\nshutdown_timeout = 10s\n"
	    "[database]\nconninfo = %s\nconnect_timeout = 1s\n"
	    "backoff_initial = 100ms\nbackoff_max = 500ms\n"
	    "[worker:telephony]\ncommand = %s\n"
	    "listen = udp:127.0.0.1:%d\n%s",
	    t->h.dir, conninfo, bin, t->port, extra ? extra : "");
	hfd_write_conf(&t->h, text);
	free(text);
	free(bin);
}

static int
tel_sent_options_ok(void *arg);

/* The worker alone, or under holdfastd (which then owns the UDP socket
 * and hands it down through LISTEN_FDS). */
static void
tel_start(struct tel *t)
{
	char *argv[] = { tu_buildpath("workers/telephony/holdfast-telephony"), "-c",
	    t->h.conf, NULL };

	if (t->supervised)
		hfd_spawn(&t->h, NULL);
	else
		t->h.pid = tu_spawn(argv, NULL, t->h.log);
	ck_assert_msg(tu_wait_for(tel_sent_options_ok, t, 10000),
	    "holdfast-telephony does not answer OPTIONS");
	free(argv[0]);
}

static int
tel_status_has(struct tel *t, const char *needle)
{
	char	*out = NULL;
	int	 found;

	hfd_ctl(&t->h, "status telephony 2>&1", &out);
	found = out != NULL && strstr(out, needle) != NULL;
	free(out);
	return found;
}

struct status_wait {
	struct tel	*t;
	const char	*needle;
};

static int
tel_status_reached(void *arg)
{
	struct status_wait *w = arg;

	return tel_status_has(w->t, w->needle);
}

static struct tel *
tel_new_mode(int with_pg, int supervised, const char *extra)
{
	struct tel *t = calloc(1, sizeof(*t));

	t->supervised = supervised;
	hfd_init(&t->h, "telephony");
	t->port = tu_free_port(SOCK_DGRAM);
	if (with_pg) {
		/* pgt runs with synchronous_commit = off for speed; an
		 * immediate stop would then lose commits the worker saw
		 * succeed, which is not what these tests are about */
		t->pg = pgt_start("synchronous_commit = on\n");
		t->conninfo = pgt_createdb(t->pg, "hf", 1);
	} else	/* nothing listens there: the DB is down for good */
		t->conninfo = "host=127.0.0.1 port=1 dbname=none user=none";
	tel_conf(t, t->conninfo, extra);
	tel_start(t);
	return t;
}

static struct tel *
tel_new(int with_pg, const char *extra)
{
	return tel_new_mode(with_pg, 0, extra);
}

static void
tel_free(struct tel *t)
{
	hfd_free(&t->h);
	if (t->pg != NULL)
		pgt_destroy(t->pg);
	free(t);
}

static long long
tel_rows(struct tel *t, const char *where)
{
	char *sql = xasprintf("SELECT count(*) FROM calls WHERE %s", where);
	long long n = pgt_scalar(t->pg, "hf", sql);

	free(sql);
	return n;
}

struct rows_wait {
	struct tel	*t;
	const char	*where;
	long long	 want;
};

static int
tel_rows_reached(void *arg)
{
	struct rows_wait *w = arg;

	return tel_rows(w->t, w->where) >= w->want;
}

static long long
tel_wait_rows(struct tel *t, const char *where, long long want, int timeout_ms)
{
	struct rows_wait w = { t, where, want };

	tu_wait_for(tel_rows_reached, &w, timeout_ms);
	return tel_rows(t, where);
}

/* ---- sipp ---- */

/* sipp against this worker; files in its directory under tag. */
static void
tel_sipp(struct tel *t, const char *scenario, int rate, int calls, const char *tag,
    struct sipp_opts *o)
{
	*o = (struct sipp_opts){ .dir = t->h.dir, .tag = tag, .scenario = scenario,
	    .port = t->port, .rate = rate, .calls = calls, .timeout_s = 60 };
}

static void
tel_sipp_run(struct tel *t, const char *scenario, int rate, int calls,
    struct sipp_result *r, const char *tag)
{
	struct sipp_opts o;

	tel_sipp(t, scenario, rate, calls, tag, &o);
	sipp_run(&o, r);
}

/* ---- raw UDP ---- */

static int
udp_client(int *port)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		len = sizeof(sin);
	int			fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
udp_send(int fd, int port, const char *msg, size_t len)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(sendto(fd, msg, len, 0, (struct sockaddr *)&sin, sizeof(sin)),
	    (ssize_t)len);
}

/* One datagram within timeout_ms, NUL-terminated; -1 when none came. */
static int
udp_recv(int fd, char *buf, size_t len, int timeout_ms)
{
	struct timeval	tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	ssize_t		n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(fd, buf, len - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

static int
tel_sent_options_ok(void *arg)
{
	struct tel	*t = arg;
	char		 buf[4096], *msg;
	int		 cport, fd = udp_client(&cport), ok;

	msg = xasprintf("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKping%d\r\n"
	    "From: <sip:t@127.0.0.1>;tag=p\r\nTo: <sip:x@127.0.0.1>\r\n"
	    "Call-ID: ping-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
	    cport, cport, cport);
	udp_send(fd, t->port, msg, strlen(msg));
	ok = udp_recv(fd, buf, sizeof(buf), 200) > 0 && strncmp(buf, "SIP/2.0 200 ", 12) == 0;
	close(fd);
	free(msg);
	return ok;
}

#define SDP "v=0\r\no=u 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" \
	"t=0 0\r\nm=audio 6000 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\n"

/* A request from the client socket; method, call-id, to-tag (may be ""). */
static char *
req(const char *method, int cport, const char *branch, const char *callid,
    const char *totag, int cseq, const char *body)
{
	return xasprintf("%s sip:svc@127.0.0.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
	    "Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKproxy\r\n"
	    "From: \"T\" <sip:t@127.0.0.1>;tag=ft1\r\n"
	    "To: <sip:svc@127.0.0.1>%s%s\r\n"
	    "Call-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\n"
	    "Contact: <sip:t@127.0.0.1:%d>\r\n%s"
	    "Content-Length: %zu\r\n\r\n%s",
	    method, cport, branch, *totag ? ";tag=" : "", totag, callid, cseq,
	    strcmp(method, "ACK") == 0 ? "ACK" : method, cport,
	    body ? "Content-Type: application/sdp\r\n" : "",
	    body ? strlen(body) : 0, body ? body : "");
}

/* Sends and waits for the first response with a final (or given) code. */
static int
exchange(int fd, int port, const char *msg, char *out, size_t outlen, int want)
{
	udp_send(fd, port, msg, strlen(msg));
	for (int i = 0; i < 10; i++) {
		if (udp_recv(fd, out, outlen, 1000) < 0)
			return -1;
		if (want == 0 || atoi(out + 8) == want)
			return atoi(out + 8);
	}
	return -1;
}

static void
header_value(const char *msg, const char *name, char *out, size_t len)
{
	const char *p = strstr(msg, name);

	out[0] = '\0';
	if (p != NULL) {
		p += strlen(name);
		snprintf(out, len, "%.*s", (int)strcspn(p, "\r\n"), p);
	}
}

/* ---- tests without a database ---- */

START_TEST(test_methods)
{
	struct tel	*t = tel_new(0, NULL);
	char		 buf[8192], *m, *via;
	int		 cport, fd = udp_client(&cport);

	m = req("OPTIONS", cport, "z9hG4bKo1", "opt-1", "", 1, NULL);
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 0), 200);
	ck_assert_ptr_nonnull(strstr(buf, "\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\r\nAccept: application/sdp\r\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\r\nSupported:"));
	/* both Via, in order, the top one with rport and received filled in */
	via = xasprintf("Via: SIP/2.0/UDP 127.0.0.1:%d;"
	    "branch=z9hG4bKo1;rport=%d;received=127.0.0.1\r\nVia: SIP/2.0/UDP "
	    "10.9.9.9:5060;branch=z9hG4bKproxy\r\n", cport, cport);
	ck_assert_ptr_nonnull(strstr(buf, via));
	free(via);
	ck_assert_ptr_nonnull(strstr(buf, "From: \"T\" <sip:t@127.0.0.1>;tag=ft1\r\n"));
	ck_assert_ptr_nonnull(strstr(buf, "To: <sip:svc@127.0.0.1>;tag="));
	ck_assert_ptr_nonnull(strstr(buf, "Call-ID: opt-1\r\nCSeq: 1 OPTIONS\r\n"));
	free(m);

	m = req("REGISTER", cport, "z9hG4bKr1", "reg-1", "", 1, NULL);
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 0), 405);
	ck_assert_ptr_nonnull(strstr(buf, "\r\nAllow: "));
	free(m);
	m = req("SUBSCRIBE", cport, "z9hG4bKs1", "sub-1", "", 1, NULL);
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 0), 501);
	free(m);
	m = req("FROBNICATE", cport, "z9hG4bKf1", "frob-1", "", 1, NULL);
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 0), 501);
	free(m);
	m = req("BYE", cport, "z9hG4bKb1", "nodialog-1", "xyz", 2, NULL);
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 0), 481);
	free(m);
	m = req("CANCEL", cport, "z9hG4bKnone", "nodialog-2", "", 1, NULL);
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 0), 481);
	free(m);
	close(fd);
	tel_free(t);
}
END_TEST

START_TEST(test_malformed)
{
	struct tel	*t = tel_new(0, NULL);
	char		 buf[8192], *m;
	int		 cport, fd = udp_client(&cport);
	static const char junk[] = "\x00\x01\x02\xff garbage \r\n\r\n";

	/* junk: no answer, one log line, and the worker keeps serving */
	udp_send(fd, t->port, junk, sizeof(junk) - 1);
	udp_send(fd, t->port, "GET / HTTP/1.1\r\n\r\n", 18);
	ck_assert_int_eq(udp_recv(fd, buf, sizeof(buf), 300), -1);
	ck_assert(tu_wait_file_count(t->h.log, "[SIP_BAD]", 2, 5000));
	/* readable enough to answer: 400 */
	m = req("OPTIONS", cport, "z9hG4bKbad", "bad-1", "", 1, NULL);
	strstr(m, "Content-Length: 0")[16] = '9';
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 0), 400);
	free(m);
	m = req("INVITE", cport, "z9hG4bKbad2", "bad-2", "", 1, NULL);
	memcpy(strstr(m, "CSeq: 1 INVITE"), "CSeq: 1 BYEEEE", 14);
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 0), 400);
	free(m);
	ck_assert(tu_pid_alive(t->h.pid));
	ck_assert(tel_sent_options_ok(t));
	close(fd);
	tel_free(t);
}
END_TEST

/* The 200 is resent T1, 2T1, ... until the ACK; a retransmitted INVITE
 * gets it again and never starts a second call; BYE ends the call. */
START_TEST(test_invite_retransmissions)
{
	struct tel	*t = tel_new(0, "sip_t1 = 50ms\n");
	char		 buf[8192], totag[128], *inv, *m;
	int		 cport, fd = udp_client(&cport), n200 = 0;

	inv = req("INVITE", cport, "z9hG4bKinv1", "call-rt-1", "", 1, SDP);
	udp_send(fd, t->port, inv, strlen(inv));
	for (int i = 0; i < 20 && udp_recv(fd, buf, sizeof(buf), 400) > 0; i++) {
		if (atoi(buf + 8) != 200)
			continue;
		if (n200++ == 0) {
			header_value(buf, "\r\nTo: <sip:svc@127.0.0.1>;tag=", totag, sizeof(totag));
			/* a valid SDP answer with a codec from the offer */
			ck_assert_ptr_nonnull(strstr(buf, "\r\nContent-Type: application/sdp\r\n"));
			ck_assert_ptr_nonnull(strstr(buf, "\r\nm=audio 4"));
			ck_assert_ptr_nonnull(strstr(buf, " RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"));
			ck_assert_ptr_nonnull(strstr(buf, "\r\nContact: <sip:"));
		}
		if (n200 == 2)
			break;
	}
	/* 0 and 50 ms: a source that has sent no ACK yet gets at most 4x the
	 * bytes it sent (sip_src.h), which leaves room for the 200 and one
	 * retransmission of it: a peer that lost one ACK still completes */
	ck_assert_int_ge(n200, 2);
	ck_assert_int_gt(strlen(totag), 0);
	/* the INVITE again: the same 200 (same tag), not a new call */
	ck_assert_int_eq(exchange(fd, t->port, inv, buf, sizeof(buf), 200), 200);
	ck_assert_ptr_nonnull(strstr(buf, totag));
	m = req("ACK", cport, "z9hG4bKack1", "call-rt-1", totag, 1, NULL);
	udp_send(fd, t->port, m, strlen(m));
	free(m);
	/* after the ACK the retransmissions stop */
	while (udp_recv(fd, buf, sizeof(buf), 300) > 0)
		;
	ck_assert_int_eq(udp_recv(fd, buf, sizeof(buf), 300), -1);
	m = req("BYE", cport, "z9hG4bKbye1", "call-rt-1", totag, 2, NULL);
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 0), 200);
	/* a resent BYE gets the same 200 (Timer J) */
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 0), 200);
	free(m);
	/* a new BYE on the ended dialog: 481 */
	m = req("BYE", cport, "z9hG4bKbye2", "call-rt-1", totag, 3, NULL);
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 0), 481);
	free(m);
	/* a late copy of the INVITE is absorbed, not a second call */
	udp_send(fd, t->port, inv, strlen(inv));
	ck_assert_int_eq(udp_recv(fd, buf, sizeof(buf), 300), -1);
	free(inv);
	close(fd);
	hfd_stop(&t->h, 10000);
	ck_assert_int_eq(tu_count_in_file(t->h.log, "[SIP_STATS] calls=1 active=0 answered=1 "), 1);
	tel_free(t);
}
END_TEST

START_TEST(test_max_calls)
{
	struct tel	*t = tel_new(0, "max_calls = 2\nanswer_after = 10s\n");
	char		 buf[8192], *m;
	int		 cport, fd = udp_client(&cport);

	for (int i = 0; i < 2; i++) {
		char id[32], br[32];

		snprintf(id, sizeof(id), "mc-%d", i);
		snprintf(br, sizeof(br), "z9hG4bKmc%d", i);
		m = req("INVITE", cport, br, id, "", 1, SDP);
		ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 180), 180);
		free(m);
	}
	m = req("INVITE", cport, "z9hG4bKmc3", "mc-3", "", 1, SDP);
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 503), 503);
	ck_assert_ptr_nonnull(strstr(buf, "\r\nRetry-After: "));
	free(m);
	close(fd);
	tel_free(t);
}
END_TEST

/* ---- tests with PostgreSQL ---- */

START_TEST(test_uac_1000)
{
	struct tel		*t = tel_new(1, NULL);
	struct sipp_result	 r;

	tel_sipp_run(t, "uac", 100, 1000, &r, "uac");
	ck_assert_msg(r.rc == 0, "sipp exit %d, %lld ok, %lld failed", r.rc, r.ok, r.failed);
	ck_assert_int_eq(r.ok, 1000);
	ck_assert_int_eq(r.failed, 0);
	ck_assert_int_eq(tel_wait_rows(t, "true", 1000, 10000), 1000);
	ck_assert_int_eq(tel_rows(t, "disposition = 'ANSWERED' AND sip_code = 200 AND "
	    "hangup_cause = 'NORMAL_CLEARING' AND ended_by = 'recv_bye' AND "
	    "answered_at IS NOT NULL AND duration_ms >= billsec_ms AND "
	    "from_uri LIKE 'sip:sipp@%' AND to_tag IS NOT NULL AND "
	    "remote_addr LIKE '127.0.0.1:%'"), 1000);
	tel_free(t);
}
END_TEST

/* PostgreSQL stops for the middle of the run: no call fails, the CDRs
 * are spooled and replayed, exactly once each. */
START_TEST(test_db_outage)
{
	struct tel		*t = tel_new_mode(1, 1, NULL);
	struct sipp_opts	 o;
	struct sipp_result	 r;
	struct status_wait	 down = { t, " down" };
	pid_t			 pid;

	tel_sipp(t, "uac", 100, 1000, "outage", &o);
	pid = sipp_start(&o);
	sleep(3);
	ck_assert_int_eq(pgt_stop(t->pg, "immediate"), 0);
	/* holdfastctl shows the worker's DB down while its calls go on */
	ck_assert(tu_wait_for(tel_status_reached, &down, 3000));
	ck_assert(tel_status_has(t, "RUNNING"));
	sleep(3);
	ck_assert_int_eq(pgt_restart(t->pg), 0);
	sipp_wait(pid, &o, 70000, &r);
	ck_assert_msg(r.rc == 0, "sipp exit %d, %lld ok, %lld failed", r.rc, r.ok, r.failed);
	ck_assert_int_eq(r.ok, 1000);
	ck_assert_int_eq(r.failed, 0);
	ck_assert_int_eq(tel_wait_rows(t, "true", 1000, 30000), 1000);
	ck_assert_int_eq(pgt_scalar(t->pg, "hf", "SELECT count(DISTINCT call_id) FROM calls"), 1000);
	ck_assert_int_ge(tu_count_in_file(t->h.log, "[DB_DOWN]"), 1);
	ck_assert_int_ge(tu_count_in_file(t->h.log, "[CDR_REPLAY] done"), 1);
	tel_free(t);
}
END_TEST

struct respawn_wait {
	struct tel	*t;
	pid_t		 old;
};

static int
tel_respawned(void *arg)
{
	struct respawn_wait	*w = arg;
	pid_t			 p = hfd_pid(&w->t->h, "telephony");

	return p > 0 && p != w->old && tel_status_has(w->t, "RUNNING");
}

/* SIGKILL of the worker in the middle of a run under holdfastd: it is
 * respawned on the same (held) socket, calls resume, and no CDR of a call
 * the caller saw finish is lost. */
START_TEST(test_kill9)
{
	struct tel		*t = tel_new_mode(1, 1, NULL);
	struct sipp_opts	 o;
	struct sipp_result	 r;
	struct respawn_wait	 rw = { t, 0 };
	pid_t			 pid;

	rw.old = hfd_pid(&t->h, "telephony");
	ck_assert_int_gt(rw.old, 0);
	/* a call whose 200 died with the worker after its 100 was seen is
	 * never retransmitted by sipp: give up on such calls after 5 s */
	tel_sipp(t, "uac", 100, 600, "kill9", &o);
	o.recv_timeout = "5s";
	pid = sipp_start(&o);
	sleep(2);
	ck_assert_int_eq(kill(rw.old, SIGKILL), 0);
	ck_assert(tu_wait_for(tel_respawned, &rw, 10000));
	sipp_wait(pid, &o, 70000, &r);
	/* only calls in progress at the kill may fail */
	ck_assert_msg(r.ok >= 500 && r.failed <= 100, "%lld ok, %lld failed", r.ok, r.failed);
	/* every call sipp saw end has its row (there may be more: calls whose
	 * BYE 200 was lost with the killed process) */
	tel_wait_rows(t, "true", r.ok, 20000);
	ck_assert_int_ge(tel_rows(t, "disposition = 'ANSWERED' AND ended_by = 'recv_bye'"), r.ok);
	ck_assert_int_eq(pgt_scalar(t->pg, "hf", "SELECT count(DISTINCT call_id) FROM calls"),
	    tel_rows(t, "true"));
	tel_free(t);
}
END_TEST

/* Neon disables the endpoint mid-run (live connections reset, new ones
 * get Neon's "endpoint has been disabled" error), then enables it again:
 * no call fails, every CDR lands exactly once. */
START_TEST(test_neon_disabled)
{
	struct tel		*t = calloc(1, sizeof(*t));
	struct sipp_opts	 o;
	struct sipp_result	 r;
	struct fp		*fp;
	char			*conninfo;
	pid_t			 pid;

	hfd_init(&t->h, "telephony");
	t->port = tu_free_port(SOCK_DGRAM);
	t->pg = pgt_start("synchronous_commit = on\n");
	pgt_createdb(t->pg, "hf", 1);
	fp = fp_start(pgt_port(t->pg));
	conninfo = xasprintf("host=127.0.0.1 port=%d dbname=hf user=postgres", fp_port(fp));
	t->conninfo = conninfo;
	tel_conf(t, conninfo, NULL);
	tel_start(t);
	tel_sipp(t, "uac", 100, 600, "neon", &o);
	pid = sipp_start(&o);
	sleep(2);
	ck_assert_int_eq(fp_set(fp, "reset"), 0);
	ck_assert_int_eq(fp_set(fp, "neon"), 0);
	sleep(2);
	ck_assert_int_eq(fp_set(fp, "pass"), 0);
	sipp_wait(pid, &o, 70000, &r);
	ck_assert_msg(r.rc == 0 && r.ok == 600 && r.failed == 0, "sipp exit %d, %lld ok, "
	    "%lld failed", r.rc, r.ok, r.failed);
	ck_assert_int_eq(tel_wait_rows(t, "true", 600, 30000), 600);
	ck_assert_int_eq(pgt_scalar(t->pg, "hf", "SELECT count(DISTINCT call_id) FROM calls"), 600);
	ck_assert_int_ge(tu_count_in_file(t->h.log, "reason=NeonEndpointDisabled"), 1);
	ck_assert_int_ge(tu_count_in_file(t->h.log, "[DB_RECOVERED]"), 1);
	fp_stop(fp);
	tel_free(t);
	free(conninfo);
}
END_TEST

START_TEST(test_cancel_and_noack)
{
	struct tel		*t = tel_new(1, "answer_after = 2s\nsip_t1 = 30ms\n");
	struct sipp_result	 r;

	tel_sipp_run(t, "uac_cancel.xml", 50, 50, &r, "cancel");
	ck_assert_msg(r.rc == 0, "sipp cancel exit %d, %lld ok", r.rc, r.ok);
	ck_assert_int_eq(r.ok, 50);
	ck_assert_int_eq(tel_wait_rows(t, "disposition = 'CANCELLED' AND sip_code = 487 AND "
	    "hangup_cause = 'ORIGINATOR_CANCEL' AND ended_by = 'recv_cancel' AND "
	    "answered_at IS NULL AND billsec_ms = 0", 50, 10000), 50);
	hfd_stop(&t->h, 10000);
	tel_conf(t, t->conninfo, "sip_t1 = 30ms\n");
	tel_start(t);
	tel_sipp_run(t, "uac_noack.xml", 20, 20, &r, "noack");
	ck_assert_msg(r.rc == 0, "sipp noack exit %d, %lld ok", r.rc, r.ok);
	ck_assert_int_eq(r.ok, 20);
	ck_assert_int_eq(tel_wait_rows(t, "disposition = 'NO_ACK' AND sip_code = 200 AND "
	    "ended_by = 'ack_timeout' AND answered_at IS NOT NULL", 20, 10000), 20);
	tel_free(t);
}
END_TEST

static char *
spool_segment(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	char		*path = NULL;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "cdr-", 4) == 0 && path == NULL)
			path = xasprintf("%s/%s", dir, de->d_name);
	closedir(d);
	return path;
}

/* CDRs spooled while the DB was unreachable, the last record torn by a
 * crash: the worker reports it, and stores every other record. */
START_TEST(test_truncated_spool)
{
	struct tel		*t = tel_new(0, NULL);
	struct sipp_result	 r;
	char			*spooldir, *seg;
	struct stat		 st;
	struct pgt		*pg;

	tel_sipp_run(t, "uac", 100, 50, &r, "spool");
	ck_assert_int_eq(r.ok, 50);
	hfd_stop(&t->h, 10000);
	spooldir = xasprintf("%s/state/telephony/telephony", t->h.dir);
	seg = spool_segment(spooldir);
	ck_assert_ptr_nonnull(seg);
	ck_assert_int_eq(stat(seg, &st), 0);
	ck_assert_int_eq(truncate(seg, st.st_size - 7), 0);
	pg = pgt_start(NULL);
	t->pg = pg;
	t->conninfo = pgt_createdb(pg, "hf", 1);
	tel_conf(t, t->conninfo, NULL);
	tel_start(t);
	ck_assert_int_eq(tel_wait_rows(t, "true", 49, 15000), 49);
	ck_assert_int_eq(tu_count_in_file(t->h.log, "[SPOOL_TORN]"), 1);
	free(seg);
	free(spooldir);
	tel_free(t);
}
END_TEST

/*
 * Spools n CDRs as an earlier version would have left them (version-1
 * records, text not cut): call ids prefix-000000..., From URIs of uri_len
 * characters. The record numbered poison (-1: none) has a duration no
 * bigint holds, so PostgreSQL refuses any batch holding it (22003).
 */
static void
tel_spool_cdrs_in(struct tel *t, const char *inst, const char *prefix, int n, size_t uri_len,
    int poison)
{
	char		*dir = xasprintf("%s/state/telephony/%s", t->h.dir, inst);
	char		*uri = xmalloc(uri_len + 1), err[256];
	struct spool	*sp = spool_open(dir, err, sizeof(err));

	ck_assert_msg(sp != NULL, "%s", err);
	memset(uri, 'u', uri_len);
	memcpy(uri, "sip:", 4);
	uri[uri_len] = '\0';
	for (int i = 0; i < n; i++) {
		char *rec = xasprintf("1\t%s-%06d\t%s\tsip:svc@127.0.0.1\tft\ttt\t"
		    "127.0.0.1:5060\t1700000000000000\t1700000000500000\t1700000002500000\t"
		    "%s\t2000\tANSWERED\t200\tNORMAL_CLEARING\trecv_bye", prefix, i, uri,
		    i == poison ? "99999999999999999999" : "2500");

		ck_assert_int_eq(spool_append(sp, rec, strlen(rec)), 0);
		free(rec);
	}
	ck_assert_int_eq(spool_sync(sp), 0);
	spool_close(sp);
	free(uri);
	free(dir);
}

static void
tel_spool_cdrs_v1(struct tel *t, const char *prefix, int n, size_t uri_len, int poison)
{
	tel_spool_cdrs_in(t, "telephony", prefix, n, uri_len, poison);
}

static void
tel_spool_cdrs(struct tel *t, const char *prefix, int n, size_t uri_len)
{
	tel_spool_cdrs_v1(t, prefix, n, uri_len, -1);
}

/* Of the rows whose call_id is LIKE pattern, the most one INSERT
 * statement stored (rows of one statement share its xmin). */
static long long
tel_rows_per_insert(struct tel *t, const char *pattern)
{
	char		*sql = xasprintf("SELECT max(n) FROM (SELECT count(*) AS n FROM calls "
	    "WHERE call_id LIKE '%s' GROUP BY xmin::text) s", pattern);
	long long	 n = pgt_scalar(t->pg, "hf", sql);

	ck_assert_msg(n >= 1, "%s: %lld", sql, n);
	free(sql);
	return n;
}

/* The CDR insert batch limits of docs/deployment.md: at most 2000 rows
 * and about 1 MiB of records per statement. A backlog of 4500 small CDRs
 * and 600 of 4 KiB each (an outage's worth) is split into several
 * statements, and every CDR is stored once. */
START_TEST(test_cdr_batch_split)
{
	struct tel	*t = calloc(1, sizeof(*t));

	hfd_init(&t->h, "telephony");
	t->port = tu_free_port(SOCK_DGRAM);
	t->pg = pgt_start(NULL);
	t->conninfo = pgt_createdb(t->pg, "hf", 1);
	tel_spool_cdrs(t, "small", 4500, 40);
	tel_spool_cdrs(t, "big", 600, 4096);
	tel_conf(t, t->conninfo, NULL);
	tel_start(t);
	ck_assert_int_eq(tel_wait_rows(t, "true", 5100, 30000), 5100);
	ck_assert_int_eq(pgt_scalar(t->pg, "hf", "SELECT count(DISTINCT call_id) FROM calls"), 5100);
	/* 2000 rows at the most; 4500 small ones (~0.6 MiB) need three */
	ck_assert_int_le(tel_rows_per_insert(t, "%"), 2000);
	ck_assert_int_ge(pgt_scalar(t->pg, "hf", "SELECT count(DISTINCT xmin::text) "
	    "FROM calls WHERE call_id LIKE 'small-%'"), 3);
	/* ~1 MiB at the most: 256 records of 4 KiB, and the one that
	 * crosses the line */
	ck_assert_int_le(tel_rows_per_insert(t, "big-%"), 1024 * 1024 / 4096 + 1);
	ck_assert_int_ge(pgt_scalar(t->pg, "hf", "SELECT count(DISTINCT xmin::text) "
	    "FROM calls WHERE call_id LIKE 'big-%'"), 3);
	tel_free(t);
}
END_TEST

/* One record the DB refuses among 1000 (a backlog of version-1 records):
 * the batch is split until it is alone, the 1000 others are stored, the
 * bad one is set aside in rejected.spool and never retried. */
START_TEST(test_cdr_poisoned_record)
{
	struct tel	*t = calloc(1, sizeof(*t));
	char		*rejected;

	hfd_init(&t->h, "telephony");
	t->port = tu_free_port(SOCK_DGRAM);
	t->pg = pgt_start(NULL);
	t->conninfo = pgt_createdb(t->pg, "hf", 1);
	tel_spool_cdrs_v1(t, "pois", 1001, 40, 500);
	tel_conf(t, t->conninfo, NULL);
	tel_start(t);
	ck_assert_int_eq(tel_wait_rows(t, "true", 1000, 20000), 1000);
	ck_assert_int_eq(tel_rows(t, "call_id = 'pois-000500'"), 0);
	rejected = xasprintf("%s/state/telephony/telephony/rejected.spool", t->h.dir);
	ck_assert(tu_wait_file_count(t->h.log, "[CDR_REJECTED]", 1, 5000));
	ck_assert_int_eq(access(rejected, F_OK), 0);
	sleep(2);	/* never retried: still one rejection, no more rows */
	ck_assert_int_eq(tu_count_in_file(t->h.log, "[CDR_REJECTED]"), 1);
	ck_assert_int_eq(tel_rows(t, "true"), 1000);
	free(rejected);
	tel_free(t);
}
END_TEST

/* Spools of instances the configuration no longer has (numprocs was 2,
 * a section was renamed) are adopted and replayed; a spool another
 * process holds is refused with a clear reason. */
START_TEST(test_cdr_orphan_spools)
{
	struct tel	*t = calloc(1, sizeof(*t));
	char		*orphan, err[512];
	struct spool	*sp;

	hfd_init(&t->h, "telephony");
	t->port = tu_free_port(SOCK_DGRAM);
	t->pg = pgt_start(NULL);
	t->conninfo = pgt_createdb(t->pg, "hf", 1);
	tel_spool_cdrs_in(t, "telephony-1", "orph1", 30, 40, -1);
	tel_spool_cdrs_in(t, "oldname", "orph2", 20, 40, -1);
	tel_conf(t, t->conninfo, NULL);
	tel_start(t);
	ck_assert_int_eq(tel_wait_rows(t, "call_id LIKE 'orph%'", 50, 20000), 50);
	ck_assert_int_eq(tu_count_in_file(t->h.log, "[CDR_ORPHAN]"), 2);
	orphan = xasprintf("%s/state/telephony/oldname", t->h.dir);
	ck_assert_int_eq(access(orphan, F_OK), -1);	/* emptied and removed */
	free(orphan);
	/* the running worker holds its spool: a second writer is refused */
	orphan = xasprintf("%s/state/telephony/telephony", t->h.dir);
	sp = spool_open(orphan, err, sizeof(err));
	ck_assert_ptr_null(sp);
	ck_assert_msg(strstr(err, "in use by another process") != NULL, "%s", err);
	free(orphan);
	tel_free(t);
}
END_TEST

/* A Call-ID reused by a second INVITE transaction (a 488, then an
 * answered call): two CDRs, two rows. */
START_TEST(test_cdr_reused_callid)
{
	struct tel	*t = tel_new(1, NULL);
	char		 buf[8192], totag[128], *m;
	int		 cport, fd = udp_client(&cport);
	const char	*bad_sdp = "v=0\r\no=u 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
	    "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 6000 RTP/AVP 96\r\n";

	m = req("INVITE", cport, "z9hG4bKreuse1", "reuse-1", "", 1, bad_sdp);
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 488), 488);
	free(m);
	header_value(buf, "To: <sip:svc@127.0.0.1>;tag=", totag, sizeof(totag));
	m = req("ACK", cport, "z9hG4bKreuse1", "reuse-1", totag, 1, NULL);
	udp_send(fd, t->port, m, strlen(m));
	free(m);
	m = req("INVITE", cport, "z9hG4bKreuse2", "reuse-1", "", 2, SDP);
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 200), 200);
	free(m);
	header_value(buf, "To: <sip:svc@127.0.0.1>;tag=", totag, sizeof(totag));
	m = req("ACK", cport, "z9hG4bKreuse3", "reuse-1", totag, 2, NULL);
	udp_send(fd, t->port, m, strlen(m));
	free(m);
	m = req("BYE", cport, "z9hG4bKreuse4", "reuse-1", totag, 3, NULL);
	ck_assert_int_eq(exchange(fd, t->port, m, buf, sizeof(buf), 200), 200);
	ck_assert_int_eq(tel_wait_rows(t, "call_id = 'reuse-1'", 2, 10000), 2);
	ck_assert_int_eq(tel_rows(t, "call_id = 'reuse-1' AND disposition = 'REJECTED' "
	    "AND sip_code = 488"), 1);
	ck_assert_int_eq(tel_rows(t, "call_id = 'reuse-1' AND disposition = 'ANSWERED' "
	    "AND ended_by = 'recv_bye'"), 1);
	free(m);
	close(fd);
	tel_free(t);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("telephony");
	TCase	*sip = tu_tcase(s, "sip", 60), *cdr = tu_tcase(s, "cdr", 120);
	char	*bin = tu_buildpath("workers/telephony/holdfast-telephony");

	if (access(bin, X_OK) != 0) {
		printf("SKIP: %s is not built\n", bin);
		return 77;
	}
	free(bin);
	tcase_add_test(sip, test_methods);
	tcase_add_test(sip, test_malformed);
	tcase_add_test(sip, test_invite_retransmissions);
	tcase_add_test(sip, test_max_calls);
	tcase_add_test(cdr, test_uac_1000);
	tcase_add_test(cdr, test_db_outage);
	tcase_add_test(cdr, test_kill9);
	tcase_add_test(cdr, test_neon_disabled);
	tcase_add_test(cdr, test_cancel_and_noack);
	tcase_add_test(cdr, test_truncated_spool);
	tcase_add_test(cdr, test_cdr_batch_split);
	tcase_add_test(cdr, test_cdr_poisoned_record);
	tcase_add_test(cdr, test_cdr_reused_callid);
	tcase_add_test(cdr, test_cdr_orphan_spools);
	return tu_run(s);
}
