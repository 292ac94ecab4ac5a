/*
 * fuzz_hfjson: libholdfast's own JSON (lib/hf_json.c), the reader of
 * holdfastd's messages in every worker and the writer of every string a
 * worker sends. Checked against yajl (what holdfastd parses with):
 *  - what the reader accepts as an object, yajl accepts as an object too
 *    (for input within the reader's nesting bound and without bytes
 *    >= 0x80, which the reader passes through and yajl validates);
 *  - whatever bytes a worker hands the writer, {"k":<written>} is valid
 *    JSON to yajl, so holdfastd never refuses a frame for its strings,
 *    and the reader reads the string back as written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hf_json.h"
#include "json.h"

static void
fuzz_hfjson_read(const char *s, size_t len)
{
	static const char *const keys[] = { "type", "version", "heartbeat_ms", "detail", "" };
	char		 buf[64], err[128];
	long long	 n;
	enum hfl_jtype	 t = HFL_J_BAD;
	int		 ascii = 1;
	yajl_val	 v;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		t = hfl_json_get(s, len, keys[i], buf, sizeof(buf), &n);
	for (size_t i = 0; i < len; i++)
		ascii &= (unsigned char)s[i] < 0x80 && s[i] != '\0';
	if (t == HFL_J_BAD || !ascii)
		return;
	v = json_parse(s, len, err, sizeof(err));
	if (v == NULL || !YAJL_IS_OBJECT(v))
		abort();	/* the reader accepted what holdfastd would not */
	yajl_tree_free(v);
}

static void
fuzz_hfjson_write(const char *s, size_t len)
{
	char		*in = malloc(len + 1), *out, *frame, back[64], err[128];
	size_t		 need;
	yajl_val	 v;

	memcpy(in, s, len);
	in[len] = '\0';
	out = calloc(1, 1);
	need = hfl_json_str(out, 1, in) + 1;
	free(out);
	out = calloc(1, need);
	if (hfl_json_str(out, need, in) != need - 1)
		abort();
	frame = malloc(need + 8);
	snprintf(frame, need + 8, "{\"k\":%s}", out);
	if ((v = json_parse(frame, strlen(frame), err, sizeof(err))) == NULL)
		abort();	/* holdfastd would refuse the frame */
	yajl_tree_free(v);
	if (hfl_json_get(frame, strlen(frame), "k", back, sizeof(back), NULL) != HFL_J_STR)
		abort();
	free(frame);
	free(out);
	free(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_hfjson_read((const char *)data, size);
	fuzz_hfjson_write((const char *)data, size);
	return 0;
}
