/*
 * fuzz_sip: holdfast-telephony's SIP parser (workers/telephony/sip_msg.c)
 * on arbitrary datagrams, and what the worker does next with a parsed one.
 *
 * A request that parsed (or is answerable with a 4xx/5xx) gets a response
 * built from it exactly as the UAS builds one, and that response must parse
 * again as a response with the same status, Call-ID, CSeq, Via count, top
 * branch and From tag:
 * holdfast never emits a SIP message it could not read itself. The SDP
 * answerer runs on the body and on the raw input as an offer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sip_msg.h"

static char fuzz_out[SIP_MAX_DATAGRAM + 4096];

static int
fuzz_sip_same(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

static void
fuzz_sip_check_reply(const struct sip_msg *req, int code, const char *out, int n)
{
	struct sip_msg	rsp;
	enum sip_parse	rc;

	rc = sip_msg_parse(&rsp, out, (size_t)n);
	if (rc != SIP_PARSE_OK || rsp.is_request || rsp.status != code ||
	    strcmp(rsp.call_id, req->call_id) != 0 || rsp.cseq != req->cseq ||
	    rsp.nvia != req->nvia || !fuzz_sip_same(rsp.top_via.branch, req->top_via.branch) ||
	    !fuzz_sip_same(rsp.from.tag, req->from.tag)) {
		fprintf(stderr, "fuzz_sip: own %d response does not read back "
		    "(outcome %d, %s):\n%.*s\n", code, rc,
		    rsp.err_reason != NULL ? rsp.err_reason : "fields differ", n, out);
		abort();
	}
	sip_msg_free(&rsp);
}

/* The UAS's answer to a request: 200 with an SDP body, or the error. */
static void
fuzz_sip_answer(const struct sip_msg *req, enum sip_parse outcome)
{
	struct sip_resp	 r = { 0 };
	char		 sdp[2048];
	int		 n;

	r.code = outcome == SIP_PARSE_OK ? 200 : req->err_code;
	r.to_tag = "fz1234";
	r.extra = "Contact: <sip:holdfast@127.0.0.1:5060>\r\nAllow: INVITE, ACK, BYE\r\n";
	if (outcome == SIP_PARSE_OK && req->method == SIP_INVITE) {
		n = sip_sdp_answer(sdp, sizeof(sdp), req->body_len > 0 ? req->body : NULL,
		    req->body_len, "127.0.0.1", 40000, 42);
		if (n > 0) {
			r.body = sdp;
			r.body_len = (size_t)n;
		}
	}
	(void)sip_response_port(req, 5062);
	n = sip_build_response(fuzz_out, sizeof(fuzz_out), req, "127.0.0.2", 5062, &r);
	if (n > 0)
		fuzz_sip_check_reply(req, r.code, fuzz_out, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_msg	m;
	enum sip_parse	rc;
	char		sdp[512];

	rc = sip_msg_parse(&m, (const char *)data, size);
	if (rc != SIP_PARSE_DROP && m.is_request && m.method != SIP_ACK)
		fuzz_sip_answer(&m, rc);
	else if (rc == SIP_PARSE_OK)
		(void)sip_method_name(m.cseq_method);
	sip_msg_free(&m);
	(void)sip_sdp_answer(sdp, sizeof(sdp), (const char *)data, size,
	    "::1", 49998, 1);
	return 0;
}
