/*
 * wa_payload: walks a WhatsApp webhook body (see wa_payload.h; the shape
 * is Meta's Cloud API webhook payload) into messages and statuses, and checks its
 * signature. Invariant: nothing here allocates state that outlives the
 * call except the returned payload, and no input can make it crash: every
 * member is type-checked before use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "json.h"
#include "util.h"
#include "wa_payload.h"

/* ---- small typed accessors ---- */

static char *
wa_strdup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Meta sends timestamps as strings of Unix seconds; accept a number too. */
static int
wa_timestamp(yajl_val obj, int64_t *out)
{
	const char	*s = json_get_str(obj, "timestamp");
	long long	 v;

	if (s != NULL) {
		if (hf_parse_int(s, 0, INT64_C(253402300799), &v) == -1)
			return -1;
	} else if (json_get_int(obj, "timestamp", &v) == -1 ||
	    v < 0 || v > INT64_C(253402300799))
		return -1;
	*out = v;
	return 0;
}

/* A string at obj.a.b (b may be NULL). */
static const char *
wa_path_str(yajl_val obj, const char *a, const char *b)
{
	yajl_val v = json_get_object(obj, a);

	return b == NULL ? json_get_str(obj, a) : json_get_str(v, b);
}

/* The human-readable part of a message, by type; NULL when it has none. */
static const char *
wa_message_body(yajl_val m, const char *type)
{
	yajl_val	 inter;
	const char	*s;

	if (strcmp(type, "text") == 0)
		return wa_path_str(m, "text", "body");
	if (strcmp(type, "button") == 0)
		return wa_path_str(m, "button", "text");
	if (strcmp(type, "reaction") == 0)
		return wa_path_str(m, "reaction", "emoji");
	if (strcmp(type, "interactive") == 0) {
		inter = json_get_object(m, "interactive");
		if ((s = wa_path_str(inter, "button_reply", "title")) != NULL)
			return s;
		return wa_path_str(inter, "list_reply", "title");
	}
	/* image, video, document, sticker, ...: the caption if any */
	return wa_path_str(m, type, "caption");
}

/* ---- the walk ---- */

struct wa_ctx {
	struct wa_payload	*out;
	size_t			 capm, caps;
	const char		*phone_number_id;
	yajl_val		 contacts;
};

static const char *
wa_profile_name(yajl_val contacts, const char *wa_id)
{
	size_t i;

	if (contacts == NULL)
		return NULL;
	for (i = 0; i < contacts->u.array.len; i++) {
		yajl_val	 c = contacts->u.array.values[i];
		const char	*id = json_get_str(c, "wa_id");

		if (id != NULL && strcmp(id, wa_id) == 0)
			return wa_path_str(c, "profile", "name");
	}
	return NULL;
}

static void
wa_add_message(struct wa_ctx *c, yajl_val m)
{
	const char		*id = json_get_str(m, "id"), *from = json_get_str(m, "from");
	const char		*type = json_get_str(m, "type");
	struct wa_message	*wm;
	int64_t			 ts;

	if (id == NULL || from == NULL || c->phone_number_id == NULL ||
	    *id == '\0' || wa_timestamp(m, &ts) == -1) {
		c->out->skipped++;
		return;
	}
	if (type == NULL)
		type = "unknown";
	if (c->out->nmsgs == c->capm) {
		c->capm = c->capm ? c->capm * 2 : 8;
		c->out->msgs = xreallocarray(c->out->msgs, c->capm, sizeof(*wm));
	}
	wm = &c->out->msgs[c->out->nmsgs++];
	wm->wamid = xstrdup(id);
	wm->phone_number_id = xstrdup(c->phone_number_id);
	wm->wa_id = xstrdup(from);
	wm->type = xstrdup(type);
	wm->body = wa_strdup_or_null(wa_message_body(m, type));
	wm->profile_name = wa_strdup_or_null(wa_profile_name(c->contacts, from));
	wm->timestamp = ts;
	wm->raw = json_dump(m);
}

static void
wa_add_status(struct wa_ctx *c, yajl_val s)
{
	const char		*id = json_get_str(s, "id"), *st = json_get_str(s, "status");
	struct wa_status	*ws;
	int64_t			 ts;

	if (id == NULL || st == NULL || *id == '\0' || *st == '\0' ||
	    wa_timestamp(s, &ts) == -1) {
		c->out->skipped++;
		return;
	}
	if (c->out->nsts == c->caps) {
		c->caps = c->caps ? c->caps * 2 : 8;
		c->out->sts = xreallocarray(c->out->sts, c->caps, sizeof(*ws));
	}
	ws = &c->out->sts[c->out->nsts++];
	ws->wamid = xstrdup(id);
	ws->status = xstrdup(st);
	ws->phone_number_id = wa_strdup_or_null(c->phone_number_id);
	ws->recipient_id = wa_strdup_or_null(json_get_str(s, "recipient_id"));
	ws->timestamp = ts;
	ws->errors = json_dump(json_get_array(s, "errors"));
}

/* Calls fn on each element of obj[key] when it is an array. */
static void
wa_each(struct wa_ctx *c, yajl_val obj, const char *key,
    void (*fn)(struct wa_ctx *, yajl_val))
{
	yajl_val	arr = json_get_array(obj, key);
	size_t		i;

	for (i = 0; arr != NULL && i < arr->u.array.len; i++)
		fn(c, arr->u.array.values[i]);
}

static void
wa_change(struct wa_ctx *c, yajl_val change)
{
	yajl_val value = json_get_object(change, "value");

	if (value == NULL)
		return;
	c->phone_number_id = wa_path_str(value, "metadata", "phone_number_id");
	c->contacts = json_get_array(value, "contacts");
	wa_each(c, value, "messages", wa_add_message);
	wa_each(c, value, "statuses", wa_add_status);
}

static void
wa_entry(struct wa_ctx *c, yajl_val entry)
{
	wa_each(c, entry, "changes", wa_change);
}

int
wa_payload_parse(const char *buf, size_t len, struct wa_payload *out,
    char *err, size_t errlen)
{
	struct wa_ctx	 c;
	yajl_val	 root;

	memset(out, 0, sizeof(*out));
	if ((root = json_parse(buf, len, err, errlen)) == NULL)
		return -1;
	if (!YAJL_IS_OBJECT(root)) {
		snprintf(err, errlen, "webhook body is not a JSON object");
		yajl_tree_free(root);
		return -1;
	}
	memset(&c, 0, sizeof(c));
	c.out = out;
	wa_each(&c, root, "entry", wa_entry);
	yajl_tree_free(root);
	return 0;
}

void
wa_payload_free(struct wa_payload *p)
{
	size_t i;

	for (i = 0; i < p->nmsgs; i++) {
		struct wa_message *m = &p->msgs[i];

		free(m->wamid); free(m->phone_number_id); free(m->wa_id);
		free(m->type); free(m->body); free(m->profile_name); free(m->raw);
	}
	for (i = 0; i < p->nsts; i++) {
		struct wa_status *s = &p->sts[i];

		free(s->wamid); free(s->status); free(s->phone_number_id);
		free(s->recipient_id); free(s->errors);
	}
	free(p->msgs);
	free(p->sts);
	memset(p, 0, sizeof(*p));
}

/* ---- X-Hub-Signature-256 ---- */

static void
wa_hmac(const char *secret, const char *body, size_t len, unsigned char mac[32])
{
	unsigned int maclen = 32;

	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)body, len, mac, &maclen);
}

int
wa_signature_check(const char *secret, const char *body, size_t len,
    const char *header)
{
	unsigned char	 want[32], got[32];
	const char	*hex;
	int		 hi, lo;

	if (header == NULL || secret == NULL || *secret == '\0' ||
	    strncmp(header, "sha256=", 7) != 0)
		return -1;
	hex = header + 7;
	if (strlen(hex) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		if ((hi = hf_hex_digit(hex[2 * i])) < 0 ||
		    (lo = hf_hex_digit(hex[2 * i + 1])) < 0)
			return -1;
		got[i] = (unsigned char)(hi << 4 | lo);
	}
	wa_hmac(secret, body, len, want);
	return CRYPTO_memcmp(want, got, sizeof(want)) == 0 ? 0 : -1;
}

void
wa_signature_make(const char *secret, const char *body, size_t len, char out[72])
{
	unsigned char mac[32];

	wa_hmac(secret, body, len, mac);
	memcpy(out, "sha256=", 7);
	for (int i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
}
