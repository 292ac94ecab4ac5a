/*
 * wa_payload: the WhatsApp Cloud API webhook body, walked into plain
 * structs, and the X-Hub-Signature-256 check. Pure functions (no I/O, no
 * globals), so they can be unit-tested and fuzzed on their own.
 *
 * One body batches many updates across entry[] / changes[] / messages[] /
 * statuses[]. Every message is kept, whatever its type: an unknown type is
 * stored with its type name and its JSON, never dropped. Updates that
 * cannot be keyed (no id, no sender, no timestamp) are counted in
 * `skipped`, since without an id they cannot be deduplicated.
 */
#ifndef HOLDFAST_WA_PAYLOAD_H
#define HOLDFAST_WA_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

struct wa_message {
	char	*wamid;			/* messages[].id */
	char	*phone_number_id;	/* value.metadata.phone_number_id */
	char	*wa_id;			/* messages[].from */
	char	*type;			/* "text", "image", ... as sent */
	char	*body;			/* text body, caption, ...; NULL if none */
	char	*profile_name;		/* from value.contacts[], NULL if none */
	int64_t	 timestamp;		/* Unix seconds, the message's own */
	char	*raw;			/* the message object as JSON */
};

struct wa_status {
	char	*wamid;			/* statuses[].id */
	char	*status;		/* sent, delivered, read, failed, played, ... */
	char	*phone_number_id;
	char	*recipient_id;		/* NULL if absent */
	int64_t	 timestamp;
	char	*errors;		/* errors[] as JSON, NULL if none */
};

struct wa_payload {
	struct wa_message	*msgs;
	size_t			 nmsgs;
	struct wa_status	*sts;
	size_t			 nsts;
	size_t			 skipped;	/* updates without the fields to key them */
};

/*
 * Parses len bytes of a webhook body. Returns 0 and fills out (free with
 * wa_payload_free, also after an error), or -1 with a one-line reason in
 * err when the body is not JSON or not an object. A body for another
 * object type, or with no updates, parses to an empty payload.
 */
int wa_payload_parse(const char *buf, size_t len, struct wa_payload *out,
    char *err, size_t errlen);
void wa_payload_free(struct wa_payload *);

/*
 * Checks an X-Hub-Signature-256 header ("sha256=" + 64 hex digits) against
 * the HMAC-SHA256 of the raw body keyed with secret, in constant time.
 * Returns 0 on a match, -1 when the header is missing (NULL), malformed or
 * wrong.
 */
int wa_signature_check(const char *secret, const char *body, size_t len,
    const char *header);
/* "sha256=<hex>" for body (tests and tools); out must hold 72 bytes. */
void wa_signature_make(const char *secret, const char *body, size_t len,
    char out[72]);

#endif
