/*
 * test_hostile_sip: the SIP UAS of holdfast-telephony under hostile
 * traffic, in process (a real UDP socket on loopback, the real event
 * loop, T1 = 10 ms so 64*T1 passes in 640 ms).
 *
 * Each test replays one attack and checks, after every burst, the UAS
 * invariant (sip_uas_check: every call object has a live timer, the
 * counters agree with the tables), and that the UAS still serves:
 *  - INVITEs whose echoed headers are long (legal, up to SIP_MAX_MSG) are
 *    answered and never leak a call slot;
 *  - a source that never ACKs gets at most 4x the bytes it sent, while a
 *    peer that loses one ACK still completes its call;
 *  - over max_calls: one stateless 503, never retransmitted;
 *  - a source over sip_source_rate gets 503s, not calls;
 *  - thousands of INVITEs sharing one Call-ID: a BYE with a bogus To tag
 *    is 481, the real dialog still ends with 200;
 *  - torture messages in the spirit of RFC 4475, and a flood from many
 *    ports: afterwards no call is left and a normal call is answered.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "siphash.h"
#include "sip_msg.h"
#include "sip_uas.h"
#include "tu.h"
#include "util.h"

#define T1_MS	10

struct rig {
	struct event_base	*base;
	struct sip_uas		*uas;
	int			 sfd, port;	/* the UAS socket */
	int			 cfd, cport;	/* one client */
};

static int
udp_bound(int *port)
{
	struct sockaddr_in	sin = tu_loopback(0);
	socklen_t		len = sizeof(sin);
	int			fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
rig_init(struct rig *r, int max_calls, int source_rate /* 0: 1000, the default */)
{
	struct sip_uas_cfg cfg = { .t1_ms = T1_MS, .max_calls = max_calls,
	    .rtp_port_min = 40000, .rtp_port_max = 40100,
	    .source_rate = source_rate > 0 ? source_rate : 1000 };

	memset(r, 0, sizeof(*r));
	r->base = event_base_new();
	r->sfd = udp_bound(&r->port);
	r->cfd = udp_bound(&r->cport);
	r->uas = sip_uas_new(r->base, r->sfd, &cfg, NULL);
}

static void
rig_free(struct rig *r)
{
	sip_uas_free(r->uas);
	event_base_free(r->base);
	close(r->sfd);
	close(r->cfd);
}

/* Runs the loop for ms. */
static void
rig_run(struct rig *r, int ms)
{
	uint64_t end = hf_now_mono_ms() + (uint64_t)ms;

	while (hf_now_mono_ms() < end) {
		struct timeval tv = { 0, 2000 };

		event_base_loopexit(r->base, &tv);
		event_base_loop(r->base, 0);
	}
}

static void
rig_check(struct rig *r)
{
	char why[256];

	ck_assert_msg(sip_uas_check(r->uas, why, sizeof(why)) == 0, "invariant: %s", why);
}

static void
send_from(struct rig *r, int fd, const char *msg, size_t len)
{
	struct sockaddr_in sin = tu_loopback(r->port);

	ck_assert_int_eq(sendto(fd, msg, len, 0, (struct sockaddr *)&sin, sizeof(sin)),
	    (ssize_t)len);
}

static void
rig_send(struct rig *r, const char *msg)
{
	send_from(r, r->cfd, msg, strlen(msg));
	rig_run(r, 1);
}

/* Drains the client socket: datagrams and bytes; the last one in buf. */
static int
rig_recv_all(struct rig *r, int fd, char *buf, size_t len, size_t *bytes)
{
	int	n = 0;
	ssize_t	k;

	while ((k = recv(fd, buf, len - 1, 0)) >= 0) {
		buf[k] = '\0';
		n++;
		if (bytes != NULL)
			*bytes += (size_t)k;
	}
	return n;
}

/* Waits (running the loop) for a response with code want; 1 if it came. */
static int
rig_expect(struct rig *r, int want, char *buf, size_t len)
{
	for (int i = 0; i < 200; i++) {
		ssize_t k;

		rig_run(r, 2);
		while ((k = recv(r->cfd, buf, len - 1, 0)) >= 0) {
			buf[k] = '\0';
			if (k > 12 && atoi(buf + 8) == want)
				return 1;
		}
	}
	return 0;
}

#define SDP "v=0\r\no=u 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" \
	"t=0 0\r\nm=audio 6000 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\n"

/* A request; extra is put before Content-Length (may hold more headers). */
static char *
req(const char *method, int cport, const char *branch, const char *callid,
    const char *ftag, const char *totag, int cseq, const char *extra, const char *body)
{
	return xasprintf("%s sip:svc@127.0.0.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
	    "From: \"T\" <sip:t@127.0.0.1>;tag=%s\r\n"
	    "To: <sip:svc@127.0.0.1>%s%s\r\n"
	    "Call-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\n"
	    "Contact: <sip:t@127.0.0.1:%d>\r\n%s%s"
	    "Content-Length: %zu\r\n\r\n%s",
	    method, cport, branch, ftag, *totag ? ";tag=" : "", totag, callid, cseq,
	    method, cport, extra ? extra : "",
	    body ? "Content-Type: application/sdp\r\n" : "",
	    body ? strlen(body) : 0, body ? body : "");
}

static void
header_value(const char *msg, const char *name, char *out, size_t len)
{
	const char *p = strstr(msg, name);

	out[0] = '\0';
	if (p != NULL) {
		p += strlen(name);
		snprintf(out, len, "%.*s", (int)strcspn(p, "\r\n;"), p);
	}
}

/* A whole normal call from the rig's client: INVITE, 200, ACK, BYE, 200. */
static void
rig_normal_call(struct rig *r, const char *id)
{
	char	 buf[65536], totag[128], branch[64], *m;

	snprintf(branch, sizeof(branch), "z9hG4bK%s", id);
	m = req("INVITE", r->cport, branch, id, "nf", "", 1, NULL, SDP);
	rig_send(r, m);
	free(m);
	ck_assert_msg(rig_expect(r, 200, buf, sizeof(buf)), "normal call %s: no 200", id);
	header_value(buf, "To: <sip:svc@127.0.0.1>;tag=", totag, sizeof(totag));
	ck_assert_str_ne(totag, "");
	snprintf(branch, sizeof(branch), "z9hG4bK%sack", id);
	m = req("ACK", r->cport, branch, id, "nf", totag, 1, NULL, NULL);
	rig_send(r, m);
	free(m);
	snprintf(branch, sizeof(branch), "z9hG4bK%sbye", id);
	m = req("BYE", r->cport, branch, id, "nf", totag, 2, NULL, NULL);
	rig_send(r, m);
	free(m);
	/* a copy of the INVITE's 200 may still be on its way (T1 is short) */
	for (int i = 0; i < 10; i++) {
		ck_assert_msg(rig_expect(r, 200, buf, sizeof(buf)), "normal call %s: BYE not 200",
		    id);
		if (strstr(buf, "CSeq: 2 BYE") != NULL)
			break;
	}
	ck_assert_msg(strstr(buf, "CSeq: 2 BYE") != NULL, "200 is not the BYE's: %s", buf);
	rig_check(r);
}

/* Runs past every timer a call can have (64*T1 to give up, 64*T1 more as
 * a tombstone) and checks that nothing is left. */
static void
rig_settle(struct rig *r)
{
	struct sip_uas_stats st;

	rig_run(r, 2 * 64 * T1_MS + 200);
	rig_recv_all(r, r->cfd, (char[2048]){ 0 }, 2048, NULL);
	rig_check(r);
	sip_uas_get_stats(r->uas, &st);
	ck_assert_uint_eq(st.active, 0);
	ck_assert_uint_eq(st.objects, 0);
}

START_TEST(test_siphash_vectors)
{
	/* the reference implementation's vectors: key 00..0f, input 00..(n-1) */
	static const uint64_t want[] = {
		0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL,
		0x85676696d7fb7e2dULL, 0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
		0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL, 0x93f5f5799a932462ULL,
		0x9e0082df0ba9e4b0ULL,
	};
	uint8_t key[16], in[16];

	for (int i = 0; i < 16; i++)
		key[i] = in[i] = (uint8_t)i;
	for (size_t n = 0; n < nitems(want); n++)
		ck_assert_msg(siphash24(key, in, n) == want[n], "siphash24 of %zu bytes", n);
}
END_TEST

/* Long, legal headers: a 10 KB From display name and 30 Via lines. */
START_TEST(test_long_headers_no_leak)
{
	struct rig	 r;
	char		 buf[65536], *extra, *name, *m, branch[32], id[32];

	rig_init(&r, 5, 0);
	name = xmalloc(10001);
	memset(name, 'a', 10000);
	name[10000] = '\0';
	extra = xstrdup("");
	for (int v = 0; v < 30; v++) {
		char *e = xasprintf("%sVia: SIP/2.0/UDP 10.0.%d.1:5060;branch=z9hG4bKv%d%s\r\n",
		    extra, v, v, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");

		free(extra);
		extra = e;
	}
	for (int i = 0; i < 6; i++) {
		snprintf(branch, sizeof(branch), "z9hG4bKlong%d", i);
		snprintf(id, sizeof(id), "long-%d", i);
		m = xasprintf("INVITE sip:svc@127.0.0.1 SIP/2.0\r\n"
		    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n%s"
		    "From: \"%s\" <sip:t@127.0.0.1>;tag=f%d\r\nTo: <sip:svc@127.0.0.1>\r\n"
		    "Call-ID: %s\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
		    "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
		    r.cport, branch, extra, name, i, id, strlen(SDP), SDP);
		ck_assert_int_lt(strlen(m), SIP_MAX_MSG);
		rig_send(&r, m);
		free(m);
		ck_assert_msg(rig_expect(&r, 200, buf, sizeof(buf)),
		    "INVITE %d with long headers got no 200", i);
		rig_check(&r);
	}
	free(name);
	free(extra);
	rig_settle(&r);
	rig_normal_call(&r, "after-long");
	rig_free(&r);
}
END_TEST

/* A source that never ACKs: everything we send it <= 4x what it sent. */
/*
 * Many short header lines within SIP_MAX_MSG are legal: 300 Via lines and
 * 2000 extension headers each get an answer (400 "too many Via", or 200),
 * never a silent drop, and leak nothing.
 */
START_TEST(test_many_header_lines)
{
	struct rig	 r;
	char		 buf[65536], *vias = xstrdup(""), *hdrs = xstrdup(""), *m;

	rig_init(&r, 5, 0);
	for (int v = 0; v < 300; v++) {
		char *e = xasprintf("%sVia: SIP/2.0/UDP 10.0.0.%d;branch=z9hG4bK%d\r\n",
		    vias, v % 250, v);

		free(vias);
		vias = e;
	}
	for (int h = 0; h < 2000; h++) {
		char *e = xasprintf("%sX:%d\r\n", hdrs, h % 10);

		free(hdrs);
		hdrs = e;
	}
	m = xasprintf("INVITE sip:svc@127.0.0.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKmanyvia;rport\r\n%s"
	    "From: <sip:t@127.0.0.1>;tag=mv\r\nTo: <sip:svc@127.0.0.1>\r\n"
	    "Call-ID: many-via\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
	    "Content-Length: 0\r\n\r\n", r.cport, vias);
	ck_assert_int_lt(strlen(m), SIP_MAX_MSG);
	rig_send(&r, m);
	free(m);
	ck_assert_msg(rig_expect(&r, 400, buf, sizeof(buf)),
	    "an INVITE with 301 Via lines got no 400");
	rig_check(&r);
	m = xasprintf("INVITE sip:svc@127.0.0.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKmanyhdr;rport\r\n%s"
	    "From: <sip:t@127.0.0.1>;tag=mh\r\nTo: <sip:svc@127.0.0.1>\r\n"
	    "Call-ID: many-hdr\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
	    "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
	    r.cport, hdrs, strlen(SDP), SDP);
	ck_assert_int_lt(strlen(m), SIP_MAX_MSG);
	rig_send(&r, m);
	free(m);
	ck_assert_msg(rig_expect(&r, 200, buf, sizeof(buf)),
	    "an INVITE with 2000 short headers got no 200");
	rig_check(&r);
	free(vias);
	free(hdrs);
	rig_settle(&r);
	rig_normal_call(&r, "after-many-lines");
	rig_free(&r);
}
END_TEST

START_TEST(test_noack_amplification)
{
	struct rig	 r;
	char		 buf[65536], *m;
	size_t		 in, out = 0;
	int		 n;

	rig_init(&r, 100, 0);
	m = req("INVITE", r.cport, "z9hG4bKamp", "amp-1", "fa", "", 1, NULL, NULL);
	in = strlen(m);
	rig_send(&r, m);
	free(m);
	rig_run(&r, 64 * T1_MS + 100);
	n = rig_recv_all(&r, r.cfd, buf, sizeof(buf), &out);
	ck_assert_msg(out <= 4 * in, "sent %zu bytes in %d datagrams for an INVITE of %zu "
	    "bytes (%.1fx)", out, n, in, (double)out / in);
	/* it was answered all the same: a late-offer caller gets its 200 */
	ck_assert_int_ge(n, 1);
	ck_assert_msg(strncmp(buf, "SIP/2.0 200 ", 12) == 0, "last answer: %.40s", buf);
	rig_settle(&r);
	rig_free(&r);
}
END_TEST

/* ACK loss is normal: the peer whose first ACK is lost gets the 200 again
 * and its second ACK confirms the call. */
START_TEST(test_lossy_peer_completes)
{
	struct rig	 r;
	char		 buf[65536], totag[128], *m;
	int		 got = 0;

	rig_init(&r, 100, 0);
	m = req("INVITE", r.cport, "z9hG4bKlossy", "lossy-1", "fl", "", 1, NULL, SDP);
	rig_send(&r, m);
	free(m);
	ck_assert(rig_expect(&r, 200, buf, sizeof(buf)));
	/* the ACK is "lost": the 200 must come again */
	got = rig_expect(&r, 200, buf, sizeof(buf));
	ck_assert_msg(got, "the 200 was not retransmitted to a peer that lost its ACK");
	header_value(buf, "To: <sip:svc@127.0.0.1>;tag=", totag, sizeof(totag));
	m = req("ACK", r.cport, "z9hG4bKlossyack", "lossy-1", "fl", totag, 1, NULL, NULL);
	rig_send(&r, m);
	free(m);
	m = req("BYE", r.cport, "z9hG4bKlossybye", "lossy-1", "fl", totag, 2, NULL, NULL);
	rig_send(&r, m);
	free(m);
	for (int i = 0; i < 10; i++) {
		ck_assert_msg(rig_expect(&r, 200, buf, sizeof(buf)), "BYE of the lossy call");
		if (strstr(buf, "CSeq: 2 BYE") != NULL)
			break;
	}
	ck_assert_msg(strstr(buf, "CSeq: 2 BYE") != NULL, "BYE of the lossy call: %s", buf);
	rig_settle(&r);
	rig_free(&r);
}
END_TEST

/* Over max_calls: a stateless 503, sent once, and no call object. */
START_TEST(test_over_capacity_503_once)
{
	struct rig		 r;
	char			 buf[65536], *m;
	struct sip_uas_stats	 st;
	int			 n503 = 0;

	rig_init(&r, 1, 0);
	m = req("INVITE", r.cport, "z9hG4bKcap1", "cap-1", "fc", "", 1, NULL, SDP);
	rig_send(&r, m);
	free(m);
	ck_assert(rig_expect(&r, 200, buf, sizeof(buf)));
	m = req("INVITE", r.cport, "z9hG4bKcap2", "cap-2", "fc", "", 1, NULL, SDP);
	rig_send(&r, m);
	free(m);
	rig_run(&r, 16 * T1_MS);
	for (ssize_t k; (k = recv(r.cfd, buf, sizeof(buf) - 1, 0)) >= 0;) {
		buf[k] = '\0';
		n503 += atoi(buf + 8) == 503 && strstr(buf, "Call-ID: cap-2") != NULL;
	}
	ck_assert_int_eq(n503, 1);
	sip_uas_get_stats(r.uas, &st);
	ck_assert_uint_eq(st.objects, 1);
	rig_check(&r);
	rig_settle(&r);
	rig_free(&r);
}
END_TEST

/* One source over sip_source_rate: 503s, and the burst leaves nothing. */
START_TEST(test_source_rate)
{
	struct rig		 r;
	struct sip_uas_stats	 st;
	char			*m, branch[32], id[32];

	rig_init(&r, 10000, 5);
	for (int i = 0; i < 50; i++) {
		snprintf(branch, sizeof(branch), "z9hG4bKrate%d", i);
		snprintf(id, sizeof(id), "rate-%d", i);
		m = req("INVITE", r.cport, branch, id, "fr", "", 1, NULL, SDP);
		send_from(&r, r.cfd, m, strlen(m));
		free(m);
	}
	rig_run(&r, 20);
	rig_check(&r);
	sip_uas_get_stats(r.uas, &st);
	ck_assert_uint_le(st.calls, 11);	/* burst 2 x 5, and a token refilled */
	ck_assert_uint_ge(st.rate_limited, 39);
	rig_settle(&r);
	rig_run(&r, 1000);		/* the bucket refills */
	rig_normal_call(&r, "after-rate");
	rig_free(&r);
}
END_TEST

/* Many calls sharing one Call-ID: a BYE with a bogus To tag is 481, the
 * real dialog is found among them. */
START_TEST(test_callid_collisions)
{
	struct rig	 r;
	char		 buf[65536], totag[128], *m, branch[32];
	char		 callid[1001];

	rig_init(&r, 100000, 1000000);
	memset(callid, 'c', 1000);
	callid[1000] = '\0';
	for (int i = 0; i < 3000; i++) {
		snprintf(branch, sizeof(branch), "z9hG4bKcoll%d", i);
		m = req("INVITE", r.cport, branch, callid, "fx", "", 1, NULL, SDP);
		send_from(&r, r.cfd, m, strlen(m));
		free(m);
		if (i % 100 == 99)
			rig_run(&r, 1);
	}
	rig_run(&r, 20);
	rig_recv_all(&r, r.cfd, buf, sizeof(buf), NULL);
	rig_check(&r);
	m = req("BYE", r.cport, "z9hG4bKbogus", callid, "fx", "bogus", 2, NULL, NULL);
	rig_send(&r, m);
	free(m);
	ck_assert(rig_expect(&r, 481, buf, sizeof(buf)));
	/* one more call with that Call-ID, then its real BYE */
	m = req("INVITE", r.cport, "z9hG4bKcollreal", callid, "fy", "", 1, NULL, SDP);
	rig_send(&r, m);
	free(m);
	for (;;) {
		ck_assert(rig_expect(&r, 200, buf, sizeof(buf)));
		if (strstr(buf, "tag=fy") != NULL)
			break;
	}
	header_value(buf, "To: <sip:svc@127.0.0.1>;tag=", totag, sizeof(totag));
	m = req("BYE", r.cport, "z9hG4bKcollrealbye", callid, "fy", totag, 2, NULL, NULL);
	rig_send(&r, m);
	free(m);
	for (;;) {
		ck_assert(rig_expect(&r, 200, buf, sizeof(buf)));
		if (strstr(buf, "CSeq: 2 BYE") != NULL)
			break;
	}
	rig_check(&r);
	rig_settle(&r);
	rig_free(&r);
}
END_TEST

/* Messages in the spirit of RFC 4475 (and worse), each followed by the
 * invariant; then a normal call. */
static const char *const torture[] = {
	/* wide range of valid characters, escaped and folded headers */
	"INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"
	"TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"
	"from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n"
	"  tag = 98asjd8\r\nMaX-fOrWaRdS: 0068\r\nCall-ID: wsinv.ndaksdj@192.0.2.1\r\n"
	"Content-Length   : 0\r\ncseq: 0009\r\n  INVITE\r\n"
	"Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\ns :\r\n"
	"NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n\r\n",
	/* no Call-ID */
	"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKnc\r\n"
	"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCSeq: 1 INVITE\r\n"
	"Content-Length: 0\r\n\r\n",
	/* negative and huge Content-Length */
	"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKneg\r\n"
	"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: neg\r\nCSeq: 1 INVITE\r\n"
	"Content-Length: -999\r\n\r\n",
	"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKhuge\r\n"
	"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: huge\r\nCSeq: 1 INVITE\r\n"
	"Content-Length: 99999999999999999999\r\n\r\n",
	/* CSeq method does not match */
	"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKmm\r\n"
	"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: mm\r\nCSeq: 1 BYE\r\n"
	"Content-Length: 0\r\n\r\n",
	/* unknown scheme, unknown method, bad version */
	"INVITE nobody:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKsch\r\n"
	"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: sch\r\nCSeq: 1 INVITE\r\n"
	"Content-Length: 0\r\n\r\n",
	"NEWMETHOD sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKnm\r\n"
	"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: nm\r\nCSeq: 1 NEWMETHOD\r\n"
	"Content-Length: 0\r\n\r\n",
	"INVITE sip:a@b SIP/7.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKver\r\n"
	"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: ver\r\nCSeq: 1 INVITE\r\n"
	"Content-Length: 0\r\n\r\n",
	/* Max-Forwards 0, a response, CRLF keepalives, binary junk */
	"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKmf\r\n"
	"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: mf\r\nCSeq: 1 INVITE\r\n"
	"Max-Forwards: 0\r\nContent-Length: 0\r\n\r\n",
	"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKr\r\n"
	"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: r\r\nCSeq: 1 INVITE\r\n"
	"Content-Length: 0\r\n\r\n",
	"\r\n\r\n",
	"\x01\x02\xff\xfe INVITE \x00\x00",
	/* a non-UTF-8 From and a body shorter than announced */
	"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKutf\r\n"
	"From: \"\xff\xfe\xc3\" <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: utf\r\n"
	"CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 500\r\n\r\nv=0\r\n",
	/* ACK, CANCEL and BYE for nothing, a re-INVITE for nothing */
	"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKack\r\n"
	"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=zz\r\nCall-ID: none\r\nCSeq: 1 ACK\r\n"
	"Content-Length: 0\r\n\r\n",
	"CANCEL sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKcan\r\n"
	"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: none\r\nCSeq: 1 CANCEL\r\n"
	"Content-Length: 0\r\n\r\n",
	"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKre\r\n"
	"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=zz\r\nCall-ID: none\r\nCSeq: 2 INVITE\r\n"
	"Content-Length: 0\r\n\r\n",
};

START_TEST(test_torture)
{
	struct rig	r;
	char		buf[65536];

	rig_init(&r, 100, 0);
	for (size_t i = 0; i < nitems(torture); i++) {
		size_t len = strlen(torture[i]);

		if (i == nitems(torture) - 5)	/* the one with NUL bytes */
			len = 14;
		send_from(&r, r.cfd, torture[i], len);
		rig_run(&r, 5);
		rig_check(&r);
	}
	rig_recv_all(&r, r.cfd, buf, sizeof(buf), NULL);
	rig_settle(&r);
	rig_normal_call(&r, "after-torture");
	rig_free(&r);
}
END_TEST

/* INVITEs from 200 ports that never ACK: afterwards nothing is left, the
 * bytes each got stay within the budget, a normal call is answered. */
START_TEST(test_flood)
{
	struct rig	 r;
	int		 fds[200], ports[200];
	size_t		 in[200] = { 0 }, out[200] = { 0 };
	char		 buf[65536], *m, branch[32], id[32];

	rig_init(&r, 100000, 1000000);
	for (int i = 0; i < 200; i++)
		fds[i] = udp_bound(&ports[i]);
	for (int k = 0; k < 10; k++) {
		for (int i = 0; i < 200; i++) {
			snprintf(branch, sizeof(branch), "z9hG4bKfl%d.%d", i, k);
			snprintf(id, sizeof(id), "flood-%d-%d", i, k);
			m = req("INVITE", ports[i], branch, id, "ff", "", 1, NULL,
			    k % 2 ? SDP : NULL);
			send_from(&r, fds[i], m, strlen(m));
			in[i] += strlen(m);
			free(m);
		}
		rig_run(&r, 5);
		rig_check(&r);
		for (int i = 0; i < 200; i++)
			rig_recv_all(&r, fds[i], buf, sizeof(buf), &out[i]);
	}
	rig_run(&r, 2 * 64 * T1_MS + 200);
	for (int i = 0; i < 200; i++) {
		rig_recv_all(&r, fds[i], buf, sizeof(buf), &out[i]);
		ck_assert_msg(out[i] <= 4 * in[i], "source %d: %zu bytes for %zu", i, out[i],
		    in[i]);
		close(fds[i]);
	}
	rig_settle(&r);
	rig_normal_call(&r, "after-flood");
	rig_free(&r);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("hostile_sip");
	TCase	*tc = tu_tcase(s, "sip", 60);

	tcase_add_test(tc, test_siphash_vectors);
	tcase_add_test(tc, test_long_headers_no_leak);
	tcase_add_test(tc, test_many_header_lines);
	tcase_add_test(tc, test_noack_amplification);
	tcase_add_test(tc, test_lossy_peer_completes);
	tcase_add_test(tc, test_over_capacity_503_once);
	tcase_add_test(tc, test_source_rate);
	tcase_add_test(tc, test_callid_collisions);
	tcase_add_test(tc, test_torture);
	tcase_add_test(tc, test_flood);
	return tu_run(s);
}
