/*
 * Guards: nothing a client sends to holdfast-http's pure parsers crashes
 * them or reads out of bounds: the webhook payload walker, the signature
 * check, the router, the access log's redaction and the cursor parser.
 * A libFuzzer target (clang), outside `make check`:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -include config.h \
 *     -Icommon -Iworkers/http tests/fuzz/fuzz_http.c workers/http/wa_payload.c \
 *     workers/http/http_route.c common/json.c common/util.c common/log.c \
 *     -lyajl -lcrypto -o fuzz_http && ./fuzz_http -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_route.h"
#include "wa_payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wa_payload	 p;
	char			 err[128], out[256], *s;
	long long		 id;
	int64_t			 us;

	wa_payload_parse((const char *)data, size, &p, err, sizeof(err));
	wa_payload_free(&p);
	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	wa_signature_check("secret", (const char *)data, size, s);
	http_route_match(s, &id);
	http_redact_uri(s, out, sizeof(out));
	http_parse_cursor(s, &us, &id);
	free(s);
	return 0;
}
