/*
 * wa_graph: the WhatsApp Cloud API's send-message call as pure functions:
 * the URL and the JSON body of a request, and the classification of its
 * answer. Nothing here touches the network or the database, so every rule
 * (which error codes are worth a retry) is unit-tested on its own.
 *
 * The rule that matters most: decide on the Graph error `code`, not on the
 * HTTP status. Throttling comes back as HTTP 400 with code 130429, and an
 * unknown 4xx is not retried (repeating a bad request cannot fix it), while
 * any 5xx or network failure is.
 */
#ifndef HOLDFAST_WA_GRAPH_H
#define HOLDFAST_WA_GRAPH_H

#include <stddef.h>

enum wa_send_class {
	WA_SEND_OK = 0,		/* accepted: wamid is set */
	WA_SEND_RETRY,		/* try again later (rate limit, 5xx, network) */
	WA_SEND_PERMANENT,	/* never retry as is: mark the row failed */
};

struct wa_send_result {
	enum wa_send_class	 cls;
	int			 http_status;	/* 0 when no HTTP answer */
	long long		 code;		/* Graph error code, -1 when none */
	char			 wamid[256];	/* on WA_SEND_OK */
	char			 error[300];	/* one line for last_error */
};

/*
 * {base}/{version}/{phone_number_id}/messages, with one slash between the
 * parts however the base is written. Returns NULL when version or
 * phone_number_id would change the path (a '/', '?', '#', '%' or space in
 * them). Caller frees.
 */
char *wa_graph_url(const char *base, const char *version, const char *phone_number_id);
/* The JSON body of a free-form text message to wa_id. Caller frees. */
char *wa_graph_text_body(const char *to, const char *text, size_t *lenp);
/* 1 when a Graph error code means "retry later", 0 when permanent. */
int wa_graph_code_retryable(long long code);
/*
 * Classifies one answer. http_status 0 means the request got no answer
 * (neterr says why: "timeout", "connection refused", ...).
 */
void wa_graph_classify(int http_status, const char *body, size_t len,
    const char *neterr, struct wa_send_result *);
const char *wa_send_class_name(enum wa_send_class);

#endif
