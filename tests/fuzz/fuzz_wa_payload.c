/*
 * fuzz_wa_payload: the WhatsApp webhook body walker and its signature check
 * (workers/http/wa_payload.c), as holdfast-http runs them on a POST to
 * /webhook/whatsapp.
 *
 * Checked beyond "no crash, no leak": every message kept has the fields it
 * is keyed on (id, sender), its raw JSON and its errors[] JSON parse again
 * (they are stored in the database as json), and the signature check
 * accepts the body's own signature and refuses the input's first line as a
 * header unless it is that signature.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "util.h"
#include "wa_payload.h"

static void
fuzz_wa_json(const char *what, const char *s)
{
	char		err[160];
	yajl_val	v;

	if (s == NULL)
		return;
	if ((v = json_parse(s, strlen(s), err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_wa_payload: %s is not JSON (%s): %s\n", what, err, s);
		abort();
	}
	yajl_tree_free(v);
}

static void
fuzz_wa_walk(const uint8_t *data, size_t size)
{
	struct wa_payload	p;
	char			err[256];

	if (wa_payload_parse((const char *)data, size, &p, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
	}
	for (size_t i = 0; i < p.nmsgs; i++) {
		if (p.msgs[i].wamid == NULL || p.msgs[i].wa_id == NULL)
			abort();
		fuzz_wa_json("message raw", p.msgs[i].raw);
	}
	for (size_t i = 0; i < p.nsts; i++) {
		if (p.sts[i].wamid == NULL || p.sts[i].status == NULL)
			abort();
		fuzz_wa_json("status errors", p.sts[i].errors);
	}
	wa_payload_free(&p);
}

/* First line: a header value; the rest: the body. */
static void
fuzz_wa_signature(const uint8_t *data, size_t size)
{
	const char	*nl = memchr(data, '\n', size);
	char		*header, own[72];
	const char	*body;
	size_t		 blen;

	if (nl == NULL)
		return;
	header = xstrndup((const char *)data, (size_t)(nl - (const char *)data));
	body = nl + 1;
	blen = size - (size_t)(body - (const char *)data);
	wa_signature_make("test_app_secret", body, blen, own);
	if (wa_signature_check("test_app_secret", body, blen, own) != 0)
		abort();
	if (wa_signature_check("test_app_secret", body, blen, header) == 0 &&
	    strncasecmp(header, own, 71) != 0)
		abort();	/* accepted a signature that is not the body's */
	(void)wa_signature_check("", body, blen, header);
	free(header);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_wa_walk(data, size);
	fuzz_wa_signature(data, size);
	return 0;
}
