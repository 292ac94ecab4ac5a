/*
 * test_sip_msg: the SIP parser and response builder of holdfast-telephony.
 *
 * Guards the promise that every well-formed request sipp (or any RFC 3261
 * client) sends is understood, that responses carry what §8.2.6.2 demands
 * (all Via in order, From, To with a tag, Call-ID, CSeq, received/rport),
 * and that junk (RFC 4475-style torture input, truncations, random bytes)
 * gets a 400 when one can be formed and is dropped otherwise, never a crash.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip_msg.h"
#include "tu.h"

#define SIPP_BODY \
	"v=0\r\n" \
	"o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n" \
	"s=-\r\n" \
	"c=IN IP4 127.0.0.1\r\n" \
	"t=0 0\r\n" \
	"m=audio 6004 RTP/AVP 0\r\n" \
	"a=rtpmap:0 PCMU/8000\r\n"

static const char sipp_invite[] =
	"INVITE sip:service@127.0.0.1:5070 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-6412-1-0\r\n"
	"From: sipp <sip:sipp@127.0.0.1:5071>;tag=6412SIPpTag001\r\n"
	"To: service <sip:service@127.0.0.1:5070>\r\n"
	"Call-ID: 1-6412@127.0.0.1\r\n"
	"CSeq: 1 INVITE\r\n"
	"Contact: sip:sipp@127.0.0.1:5071\r\n"
	"Max-Forwards: 70\r\n"
	"Subject: Performance Test\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length:   129\r\n"
	"\r\n"
	SIPP_BODY;

static enum sip_parse
parse(struct sip_msg *m, const char *s)
{
	return sip_msg_parse(m, s, strlen(s));
}

START_TEST(test_sipp_invite)
{
	struct sip_msg m;

	ck_assert_int_eq(strlen(SIPP_BODY), 129);
	ck_assert_int_eq(parse(&m, sipp_invite), SIP_PARSE_OK);
	ck_assert_int_eq(m.is_request, 1);
	ck_assert_int_eq(m.method, SIP_INVITE);
	ck_assert_str_eq(m.ruri, "sip:service@127.0.0.1:5070");
	ck_assert_int_eq(m.nvia, 1);
	ck_assert_str_eq(m.top_via.transport, "UDP");
	ck_assert_str_eq(m.top_via.host, "127.0.0.1");
	ck_assert_int_eq(m.top_via.port, 5071);
	ck_assert_str_eq(m.top_via.branch, "z9hG4bK-6412-1-0");
	ck_assert_int_eq(m.top_via.has_rport, 0);
	ck_assert_str_eq(m.from.uri, "sip:sipp@127.0.0.1:5071");
	ck_assert_str_eq(m.from.tag, "6412SIPpTag001");
	ck_assert_str_eq(m.to.uri, "sip:service@127.0.0.1:5070");
	ck_assert_ptr_null(m.to.tag);
	ck_assert_str_eq(m.call_id, "1-6412@127.0.0.1");
	ck_assert_uint_eq(m.cseq, 1);
	ck_assert_int_eq(m.cseq_method, SIP_INVITE);
	ck_assert_int_eq(m.content_length, 129);
	ck_assert_int_eq(m.max_forwards, 70);
	ck_assert_uint_eq(m.body_len, 129);
	ck_assert(memcmp(m.body, SIPP_BODY, 129) == 0);
	sip_msg_free(&m);
}
END_TEST

START_TEST(test_response_copies_headers)
{
	static const char req[] =
	    "BYE sip:x@127.0.0.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKa;rport,"
	    " SIP/2.0/UDP 10.0.0.2:5080;branch=z9hG4bKb\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKc\r\n"
	    "From: <sip:a@b>;tag=f1\r\n"
	    "To: <sip:x@127.0.0.1>;tag=t1\r\n"
	    "Call-ID: abc\r\n"
	    "CSeq: 7 BYE\r\n"
	    "\r\n";
	struct sip_msg	 m;
	struct sip_resp	 r = { .code = 200, .to_tag = "mine" };
	char		 out[2048];
	int		 n;

	ck_assert_int_eq(parse(&m, req), SIP_PARSE_OK);
	ck_assert_int_eq(m.nvia, 2);
	ck_assert_int_eq(m.top_via.has_rport, 1);
	ck_assert_int_eq(m.top_via.port, 0);
	n = sip_build_response(out, sizeof(out), &m, "127.0.0.1", 40000, &r);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_nonnull(strstr(out, "SIP/2.0 200 OK\r\n"));
	ck_assert_ptr_nonnull(strstr(out,
	    "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKa;rport=40000;received=127.0.0.1,"
	    " SIP/2.0/UDP 10.0.0.2:5080;branch=z9hG4bKb\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKc\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "From: <sip:a@b>;tag=f1\r\n"));
	/* the request's To already has a tag: kept, not doubled */
	ck_assert_ptr_nonnull(strstr(out, "To: <sip:x@127.0.0.1>;tag=t1\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "Call-ID: abc\r\nCSeq: 7 BYE\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "Content-Length: 0\r\n\r\n"));
	ck_assert_int_eq(sip_response_port(&m, 40000), 40000);
	sip_msg_free(&m);
}
END_TEST

START_TEST(test_response_to_tag_and_port)
{
	struct sip_msg	 m;
	struct sip_resp	 r = { .code = 180, .to_tag = "tt9" };
	char		 out[2048];

	ck_assert_int_eq(parse(&m, sipp_invite), SIP_PARSE_OK);
	ck_assert_int_gt(sip_build_response(out, sizeof(out), &m, "127.0.0.1", 5071, &r), 0);
	ck_assert_ptr_nonnull(strstr(out,
	    "To: service <sip:service@127.0.0.1:5070>;tag=tt9\r\n"));
	/* same host as the source: no received= */
	ck_assert_ptr_nonnull(strstr(out,
	    "Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-6412-1-0\r\n"));
	ck_assert_int_eq(sip_response_port(&m, 9999), 5071);
	/* a buffer too small is refused, not overrun */
	ck_assert_int_eq(sip_build_response(out, 40, &m, "127.0.0.1", 5071, &r), -1);
	sip_msg_free(&m);
}
END_TEST

/* RFC 4475 3.1.1.1-style: compact forms, odd case, LWS, folding. */
START_TEST(test_torture_wsinv)
{
	static const char req[] =
	    "OPTIONS sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"
	    "TO :\r\n"
	    " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"
	    "from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n"
	    "  ;\r\n"
	    "  tag = 98asjd8\r\n"
	    "MaX-fOrWaRdS: 0068\r\n"
	    "Call-ID: wsinv.ndaksdj@192.0.2.1\r\n"
	    "Content-Length   : 0\r\n"
	    "cseq: 0009\r\n"
	    "  OPTIONS\r\n"
	    "Via  : SIP  /   2.0\r\n"
	    " /UDP\r\n"
	    "    192.0.2.2;branch=390skdjuw\r\n"
	    "s :\r\n"
	    "NewFangledHeader:   newfangled value\r\n"
	    " continued newfangled value\r\n"
	    "v:  SIP  / 2.0  / UDP  192.0.2.1;branch=z9hG4bK-x\r\n"
	    "m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n"
	    "      newvalue ;\r\n"
	    "  secondparam ; q = 0.33\r\n"
	    "\r\n";
	struct sip_msg m;

	ck_assert_int_eq(parse(&m, req), SIP_PARSE_OK);
	ck_assert_int_eq(m.method, SIP_OPTIONS);
	ck_assert_str_eq(m.to.uri, "sip:vivekg@chair-dnrc.example.com");
	ck_assert_str_eq(m.to.tag, "1918181833n");
	ck_assert_str_eq(m.from.uri, "sip:jdrosen@example.com");
	ck_assert_str_eq(m.from.tag, "98asjd8");
	ck_assert_int_eq(m.max_forwards, 68);
	ck_assert_uint_eq(m.cseq, 9);
	ck_assert_int_eq(m.cseq_method, SIP_OPTIONS);
	ck_assert_int_eq(m.nvia, 2);
	ck_assert_str_eq(m.top_via.host, "192.0.2.2");
	ck_assert_str_eq(m.top_via.branch, "390skdjuw");
	ck_assert_int_eq(m.content_length, 0);
	sip_msg_free(&m);
}
END_TEST

START_TEST(test_no_content_length_means_rest)
{
	static const char req[] =
	    "MESSAGE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP [::1]:5062;branch=z9hG4bK1\r\n"
	    "f: <sip:c@d>;tag=1\r\nt: <sip:a@b>\r\ni: x1\r\nCSeq: 1 MESSAGE\r\n\r\nhello";
	struct sip_msg m;

	ck_assert_int_eq(parse(&m, req), SIP_PARSE_OK);
	ck_assert_int_eq(m.method, SIP_MESSAGE);
	ck_assert_str_eq(m.top_via.host, "::1");
	ck_assert_int_eq(m.top_via.port, 5062);
	ck_assert_uint_eq(m.body_len, 5);
	ck_assert(memcmp(m.body, "hello", 5) == 0);
	sip_msg_free(&m);
}
END_TEST

struct bad_case {
	const char	*name;
	const char	*msg;
	enum sip_parse	 want;
	int		 code;
	size_t		 len;	/* 0: strlen */
};

#define H_OK "Via: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKq\r\nFrom: <sip:a@b>;tag=1\r\n" \
	"To: <sip:c@d>\r\nCall-ID: bad1\r\n"

static const struct bad_case bad_cases[] = {
	{ "short body", "INVITE sip:c@d SIP/2.0\r\n" H_OK "CSeq: 1 INVITE\r\n"
	    "Content-Length: 500\r\n\r\nv=0\r\n", SIP_PARSE_BAD_ANSWERABLE, 400, 0 },
	{ "negative length", "OPTIONS sip:c@d SIP/2.0\r\n" H_OK "CSeq: 1 OPTIONS\r\n"
	    "Content-Length: -5\r\n\r\n", SIP_PARSE_BAD_ANSWERABLE, 400, 0 },
	{ "huge length", "OPTIONS sip:c@d SIP/2.0\r\n" H_OK "CSeq: 1 OPTIONS\r\n"
	    "Content-Length: 99999999999999999999\r\n\r\n", SIP_PARSE_BAD_ANSWERABLE, 400, 0 },
	{ "two lengths", "OPTIONS sip:c@d SIP/2.0\r\n" H_OK "CSeq: 1 OPTIONS\r\n"
	    "Content-Length: 0\r\nl: 3\r\n\r\nabc", SIP_PARSE_BAD_ANSWERABLE, 400, 0 },
	{ "cseq method mismatch", "INVITE sip:c@d SIP/2.0\r\n" H_OK
	    "CSeq: 1 ACK\r\n\r\n", SIP_PARSE_BAD_ANSWERABLE, 400, 0 },
	{ "bad cseq number", "OPTIONS sip:c@d SIP/2.0\r\n" H_OK
	    "CSeq: 99999999999 OPTIONS\r\n\r\n", SIP_PARSE_DROP, 0, 0 },
	{ "version 7", "OPTIONS sip:c@d SIP/7.0\r\n" H_OK "CSeq: 1 OPTIONS\r\n\r\n",
	    SIP_PARSE_BAD_ANSWERABLE, 505, 0 },
	{ "unknown scheme", "OPTIONS nobodyknowsthisscheme:totallyopaquecontent SIP/2.0\r\n"
	    H_OK "CSeq: 1 OPTIONS\r\n\r\n", SIP_PARSE_BAD_ANSWERABLE, 416, 0 },
	{ "no scheme", "OPTIONS nothing SIP/2.0\r\n" H_OK "CSeq: 1 OPTIONS\r\n\r\n",
	    SIP_PARSE_BAD_ANSWERABLE, 400, 0 },
	{ "two call-ids", "OPTIONS sip:c@d SIP/2.0\r\n" H_OK "Call-ID: other\r\n"
	    "CSeq: 1 OPTIONS\r\n\r\n", SIP_PARSE_BAD_ANSWERABLE, 400, 0 },
	{ "bad max-forwards", "OPTIONS sip:c@d SIP/2.0\r\n" H_OK "CSeq: 1 OPTIONS\r\n"
	    "Max-Forwards: 300\r\n\r\n", SIP_PARSE_BAD_ANSWERABLE, 400, 0 },
	{ "header without colon", "OPTIONS sip:c@d SIP/2.0\r\n" H_OK "CSeq: 1 OPTIONS\r\n"
	    "Junk header here\r\n\r\n", SIP_PARSE_BAD_ANSWERABLE, 400, 0 },
	{ "extra spaces in request line", "OPTIONS  sip:c@d  SIP/2.0\r\n" H_OK
	    "CSeq: 1 OPTIONS\r\n\r\n", SIP_PARSE_DROP, 0, 0 },
	{ "no call-id", "OPTIONS sip:c@d SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKq\r\n"
	    "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCSeq: 1 OPTIONS\r\n\r\n", SIP_PARSE_DROP, 0, 0 },
	{ "no via", "OPTIONS sip:c@d SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
	    "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", SIP_PARSE_DROP, 0, 0 },
	{ "bad via", "OPTIONS sip:c@d SIP/2.0\r\nVia: HTTP/1.1 10.1.1.1\r\n"
	    "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n",
	    SIP_PARSE_DROP, 0, 0 },
	{ "unclosed from", "OPTIONS sip:c@d SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKq\r\n"
	    "From: <sip:a@b;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n",
	    SIP_PARSE_DROP, 0, 0 },
	{ "no empty line", "OPTIONS sip:c@d SIP/2.0\r\n" H_OK "CSeq: 1 OPTIONS\r\n",
	    SIP_PARSE_DROP, 0, 0 },
	{ "http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", SIP_PARSE_DROP, 0, 0 },
	{ "binary", "\x01\x02\xff\xfe\x00\x10garbage\r\n\r\n", SIP_PARSE_DROP, 0, 17 },
	{ "nul in header", "OPTIONS sip:c@d SIP/2.0\r\nX: a\0b\r\n\r\n", SIP_PARSE_DROP, 0, 35 },
	{ "status junk", "SIP/2.0 2x0 OK\r\n" H_OK "CSeq: 1 INVITE\r\n\r\n", SIP_PARSE_DROP, 0, 0 },
	{ "keepalive", "\r\n\r\n", SIP_PARSE_DROP, 0, 0 },
};

START_TEST(test_bad)
{
	const struct bad_case	*c = &bad_cases[_i];
	struct sip_msg		 m;
	enum sip_parse		 rc;

	rc = sip_msg_parse(&m, c->msg, c->len ? c->len : strlen(c->msg));
	ck_assert_msg(rc == c->want, "%s: got %d want %d (%s)", c->name, rc, c->want,
	    m.err_reason ? m.err_reason : "-");
	if (c->want == SIP_PARSE_BAD_ANSWERABLE) {
		struct sip_resp	r = { .code = m.err_code, .to_tag = "x" };
		char		out[2048];

		ck_assert_int_eq(m.err_code, c->code);
		ck_assert_ptr_nonnull(m.err_reason);
		/* a bad-but-answerable request can always be answered */
		ck_assert_int_gt(sip_build_response(out, sizeof(out), &m, "10.1.1.1", 5060, &r), 0);
	}
	sip_msg_free(&m);
}
END_TEST

START_TEST(test_oversize)
{
	size_t		 pad = SIP_MAX_MSG + 100;
	char		*req = malloc(pad + 512);
	struct sip_msg	 m;
	int		 n;

	n = snprintf(req, 512, "OPTIONS sip:c@d SIP/2.0\r\n" H_OK "CSeq: 1 OPTIONS\r\nX-Pad: ");
	memset(req + n, 'a', pad);
	strcpy(req + n + pad, "\r\n\r\n");
	ck_assert_int_eq(parse(&m, req), SIP_PARSE_BAD_ANSWERABLE);
	ck_assert_int_eq(m.err_code, 513);
	sip_msg_free(&m);
	free(req);
}
END_TEST

/* A request with n Via header lines, one hop each. */
static char *
via_request(int n)
{
	size_t	 cap = 256 + (size_t)n * 64;
	char	*s = malloc(cap);
	int	 off = snprintf(s, cap, "OPTIONS sip:c@d SIP/2.0\r\n");

	for (int i = 0; i < n; i++)
		off += snprintf(s + off, cap - off,
		    "Via: SIP/2.0/UDP 10.0.%d.%d;branch=z9hG4bKv%d\r\n", i / 200, i % 200 + 1, i);
	snprintf(s + off, cap - off, "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
	    "Call-ID: via-limit\r\nCSeq: 1 OPTIONS\r\n\r\n");
	return s;
}

/* SIP_MAX_VIA (32) Via lines are kept, in order; one more is a 400 "too
 * many Via", still answerable (docs/deployment.md, size limits). */
START_TEST(test_via_limit)
{
	struct sip_resp	 r = { .code = 400, .to_tag = "x" };
	struct sip_msg	 m;
	char		*req, out[8192];

	req = via_request(SIP_MAX_VIA);
	ck_assert_int_eq(parse(&m, req), SIP_PARSE_OK);
	ck_assert_int_eq(m.nvia, SIP_MAX_VIA);
	ck_assert_str_eq(m.via[SIP_MAX_VIA - 1], "SIP/2.0/UDP 10.0.0.32;branch=z9hG4bKv31");
	sip_msg_free(&m);
	free(req);

	req = via_request(SIP_MAX_VIA + 1);
	ck_assert_int_eq(parse(&m, req), SIP_PARSE_BAD_ANSWERABLE);
	ck_assert_int_eq(m.err_code, 400);
	ck_assert_str_eq(m.err_reason, "too many Via");
	ck_assert_int_eq(m.nvia, SIP_MAX_VIA);
	ck_assert_int_gt(sip_build_response(out, sizeof(out), &m, "10.1.1.1", 5060, &r), 0);
	ck_assert_ptr_nonnull(strstr(out, "SIP/2.0 400 "));
	sip_msg_free(&m);
	free(req);
}
END_TEST

START_TEST(test_response_parse)
{
	static const char resp[] = "SIP/2.0 200 OK\r\n" H_OK "CSeq: 1 INVITE\r\n\r\n";
	struct sip_msg m;

	ck_assert_int_eq(parse(&m, resp), SIP_PARSE_OK);
	ck_assert_int_eq(m.is_request, 0);
	ck_assert_int_eq(m.status, 200);
	ck_assert_str_eq(m.reason, "OK");
	sip_msg_free(&m);
}
END_TEST

/* Every prefix of a valid INVITE: no crash, no read past the end. */
START_TEST(test_truncations)
{
	size_t len = strlen(sipp_invite);

	for (size_t i = 0; i <= len; i++) {
		struct sip_msg	m;
		char		*copy = malloc(i ? i : 1);

		memcpy(copy, sipp_invite, i);
		(void)sip_msg_parse(&m, copy, i);
		sip_msg_free(&m);
		free(copy);
	}
}
END_TEST

/* Random byte flips of a valid INVITE (fixed seed, bounded). */
START_TEST(test_mutations)
{
	size_t		len = strlen(sipp_invite);
	unsigned	seed = 42;
	char		*copy = malloc(len);

	for (int round = 0; round < 20000; round++) {
		struct sip_msg	m;
		struct sip_resp	r = { .code = 400, .to_tag = "t" };
		char		out[4096];

		memcpy(copy, sipp_invite, len);
		for (int k = 0; k < 1 + round % 4; k++)
			copy[rand_r(&seed) % len] = (char)(rand_r(&seed) & 0xff);
		if (sip_msg_parse(&m, copy, len) != SIP_PARSE_DROP)
			(void)sip_build_response(out, sizeof(out), &m, "127.0.0.1", 1, &r);
		sip_msg_free(&m);
	}
	free(copy);
}
END_TEST

START_TEST(test_sdp_answer)
{
	static const char offer[] =
	    "v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
	    "m=video 5000 RTP/AVP 96\r\nm=audio 6000 RTP/AVP 101 0 8\r\n"
	    "a=rtpmap:101 opus/48000/2\r\n";
	char out[1024];

	ck_assert_int_gt(sip_sdp_answer(out, sizeof(out), SIPP_BODY, 129, "127.0.0.1", 40002, 7), 0);
	ck_assert_ptr_nonnull(strstr(out, "m=audio 40002 RTP/AVP 0\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "a=rtpmap:0 PCMU/8000\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "c=IN IP4 127.0.0.1\r\n"));
	ck_assert_int_gt(sip_sdp_answer(out, sizeof(out), offer, strlen(offer), "10.0.0.1", 40000, 7), 0);
	ck_assert_ptr_nonnull(strstr(out, "m=audio 40000 RTP/AVP 101\r\na=rtpmap:101 opus/48000/2\r\n"));
	ck_assert_int_eq(sip_sdp_answer(out, sizeof(out), "v=0\r\nm=video 1 RTP/AVP 31\r\n", 26,
	    "10.0.0.1", 40000, 7), 0);
	ck_assert_int_eq(sip_sdp_answer(out, sizeof(out), "m=audio 1 RTP/AVP 99\r\n", 22,
	    "10.0.0.1", 40000, 7), 0);
	ck_assert_int_gt(sip_sdp_answer(out, sizeof(out), NULL, 0, "10.0.0.1", 40000, 7), 0);
	ck_assert_ptr_nonnull(strstr(out, "m=audio 40000 RTP/AVP 0 8\r\n"));
}
END_TEST

static Suite *
sip_msg_suite(void)
{
	Suite	*s = suite_create("sip_msg");
	TCase	*tc = tu_tcase(s, "parse", 0);

	tcase_add_test(tc, test_sipp_invite);
	tcase_add_test(tc, test_response_copies_headers);
	tcase_add_test(tc, test_response_to_tag_and_port);
	tcase_add_test(tc, test_torture_wsinv);
	tcase_add_test(tc, test_no_content_length_means_rest);
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_via_limit);
	tcase_add_test(tc, test_response_parse);
	tcase_add_test(tc, test_truncations);
	tcase_add_test(tc, test_mutations);
	tcase_add_test(tc, test_sdp_answer);
	return s;
}

int
main(void)
{
	return tu_run(sip_msg_suite());
}
