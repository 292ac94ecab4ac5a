/*
 * wa_graph: request building and answer classification for the Cloud
 * API's send-message call. Pure functions; see wa_graph.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "util.h"
#include "wa_graph.h"

/* Codes Meta documents as "try again later" in its Cloud API error codes. */
static const long long wa_retry_codes[] = {
	130429,		/* throughput limit */
	131056,		/* pair rate limit */
	4, 80007,	/* app / account rate limits */
	131000, 131016,	/* something went wrong / service unavailable (HTTP 500) */
	2, 133004,	/* temporarily unavailable (HTTP 503) */
};

/* Codes that a retry of the same request cannot fix. */
static const long long wa_permanent_codes[] = {
	131047,		/* outside the 24-hour window: templates only */
	131026,		/* undeliverable */
	131021, 100, 131008, 131009,	/* bad parameters */
	0, 190,		/* authentication */
	10, 131005,	/* permissions */
	131048, 131049, 131050,
};

static int
wa_code_in(long long code, const long long *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == code)
			return 1;
	return 0;
}

int
wa_graph_code_retryable(long long code)
{
	return wa_code_in(code, wa_retry_codes, nitems(wa_retry_codes));
}

static int
wa_graph_code_permanent(long long code)
{
	if (code >= 200 && code <= 299)		/* permission errors */
		return 1;
	return wa_code_in(code, wa_permanent_codes, nitems(wa_permanent_codes));
}

/* A path segment we put in a URL as is: no separators, no escapes. */
static int
wa_segment_ok(const char *s)
{
	return s != NULL && *s != '\0' && strpbrk(s, "/?#% \t\r\n") == NULL;
}

char *
wa_graph_url(const char *base, const char *version, const char *phone_number_id)
{
	size_t len;

	if (base == NULL || !wa_segment_ok(version) || !wa_segment_ok(phone_number_id))
		return NULL;
	len = strlen(base);
	while (len > 0 && base[len - 1] == '/')
		len--;
	return xasprintf("%.*s/%s/%s/messages", (int)len, base, version, phone_number_id);
}

char *
wa_graph_text_body(const char *to, const char *text, size_t *lenp)
{
	struct jw	*jw = jw_new();
	const char	*buf;
	char		*out;
	size_t		 len;

	jw_obj_open(jw);
	jw_kstr(jw, "messaging_product", "whatsapp");
	jw_kstr(jw, "recipient_type", "individual");
	jw_kstr(jw, "to", to);
	jw_kstr(jw, "type", "text");
	jw_key(jw, "text");
	jw_obj_open(jw);
	jw_kbool(jw, "preview_url", 0);
	jw_kstr(jw, "body", text);
	jw_obj_close(jw);
	jw_obj_close(jw);
	if ((buf = jw_buf(jw, &len)) == NULL)
		fatalx("wa_graph_text_body: JSON writer failed");
	out = xstrndup(buf, len);
	jw_free(jw);
	if (lenp != NULL)
		*lenp = len;
	return out;
}

/* messages[0].id of a success answer, or NULL. */
static const char *
wa_graph_wamid(yajl_val root)
{
	yajl_val msgs = json_get_array(root, "messages");

	if (msgs == NULL || msgs->u.array.len == 0)
		return NULL;
	return json_get_str(msgs->u.array.values[0], "id");
}

static void
wa_graph_ok(yajl_val root, struct wa_send_result *r)
{
	const char *id = wa_graph_wamid(root);

	if (id == NULL || *id == '\0' || strlen(id) >= sizeof(r->wamid)) {
		/* Accepted or not, we cannot tell which message it was: a
		 * retry might send it twice, so this is not retried. */
		r->cls = WA_SEND_PERMANENT;
		snprintf(r->error, sizeof(r->error),
		    "http=%d: success answer without messages[0].id", r->http_status);
		return;
	}
	r->cls = WA_SEND_OK;
	hf_strlcpy(r->wamid, id, sizeof(r->wamid));
}

/* The decision for an error answer: the code first, the HTTP status last. */
static enum wa_send_class
wa_graph_error_class(int http_status, long long code)
{
	if (code >= 0 && wa_graph_code_retryable(code))
		return WA_SEND_RETRY;
	if (code >= 0 && wa_graph_code_permanent(code))
		return WA_SEND_PERMANENT;
	if (http_status >= 500 || http_status == 429 || http_status == 408)
		return WA_SEND_RETRY;
	return WA_SEND_PERMANENT;
}

static void
wa_graph_error(yajl_val root, struct wa_send_result *r)
{
	yajl_val	 err = json_get_object(root, "error");
	const char	*msg = json_get_str(err, "message");
	const char	*details = json_get_str(json_get_object(err, "error_data"), "details");
	long long	 code;

	if (json_get_int(err, "code", &code) == 0)
		r->code = code;
	r->cls = wa_graph_error_class(r->http_status, r->code);
	snprintf(r->error, sizeof(r->error), "http=%d code=%lld: %s%s%s",
	    r->http_status, r->code, msg != NULL ? msg : "(no message)",
	    details != NULL ? ": " : "", details != NULL ? details : "");
}

void
wa_graph_classify(int http_status, const char *body, size_t len,
    const char *neterr, struct wa_send_result *r)
{
	char		 perr[128];
	yajl_val	 root = NULL;

	memset(r, 0, sizeof(*r));
	r->http_status = http_status;
	r->code = -1;
	if (http_status == 0) {
		r->cls = WA_SEND_RETRY;
		snprintf(r->error, sizeof(r->error), "network: %s",
		    neterr != NULL ? neterr : "no answer");
		return;
	}
	if (body != NULL && len > 0)
		root = json_parse(body, len, perr, sizeof(perr));
	if (http_status >= 200 && http_status < 300)
		wa_graph_ok(root, r);
	else if (root != NULL && json_get_object(root, "error") != NULL)
		wa_graph_error(root, r);
	else {
		r->cls = wa_graph_error_class(http_status, -1);
		snprintf(r->error, sizeof(r->error), "http=%d: answer without a Graph error",
		    http_status);
	}
	if (root != NULL)
		yajl_tree_free(root);
}

const char *
wa_send_class_name(enum wa_send_class c)
{
	switch (c) {
	case WA_SEND_OK:	return "ok";
	case WA_SEND_RETRY:	return "retry";
	case WA_SEND_PERMANENT:	return "permanent";
	}
	return "?";
}

int64_t
wa_graph_retry_delay_ms(int64_t base_ms, int64_t cap_ms, int attempts, double rnd)
{
	int64_t c = hf_backoff_ceiling_ms(base_ms, cap_ms, attempts > 0 ? attempts - 1 : 0);

	return c - c / 2 + (int64_t)(rnd * (double)(c / 2));
}
