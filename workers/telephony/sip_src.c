/*
 * sip_src: per-source limits. See sip_src.h.
 *
 * An open hash table would need tombstones; this is a chained table of
 * fixed size (2 x SIP_SRC_MAX buckets) over entries that also sit on a
 * recency list: the head is the most recently seen source, the tail the
 * first to go when the table is full or idle.
 */
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "siphash.h"
#include "sip_src.h"
#include "util.h"

#define SIP_SRC_BUCKETS		(2 * SIP_SRC_MAX)	/* a power of two */
#define SIP_SRC_KEYLEN		18			/* 16 address + 2 port */

struct sip_src {
	struct sip_src	*hnext;
	struct sip_src	*prev, *next;		/* recency */
	uint8_t		 key[SIP_SRC_KEYLEN];
	uint32_t	 bucket;
	uint64_t	 seen_ms;
	uint64_t	 bytes_in, bytes_out;
	double		 tokens;
	uint64_t	 refill_ms;
	int		 proven;
};

struct sip_srcs {
	struct sip_src	**b;
	struct sip_src	*head, *tail;
	size_t		 n;
	double		 rate;
	uint8_t		 hkey[SIPHASH_KEY_LEN];
};

struct sip_srcs *
sip_srcs_new(int rate_per_s)
{
	struct sip_srcs *t = xcalloc(1, sizeof(*t));

	t->b = xcalloc(SIP_SRC_BUCKETS, sizeof(*t->b));
	t->rate = rate_per_s > 0 ? rate_per_s : 1000;
	siphash_random_key(t->hkey);
	return t;
}

static void
sip_srcs_unlink(struct sip_srcs *t, struct sip_src *s)
{
	struct sip_src **pp = &t->b[s->bucket];

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		t->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		t->tail = s->prev;
	t->n--;
}

void
sip_srcs_free(struct sip_srcs *t)
{
	struct sip_src *s, *next;

	if (t == NULL)
		return;
	for (s = t->head; s != NULL; s = next) {
		next = s->next;
		free(s);
	}
	free(t->b);
	free(t);
}

static void
sip_srcs_key(const struct sockaddr *sa, uint8_t key[SIP_SRC_KEYLEN])
{
	memset(key, 0, SIP_SRC_KEYLEN);
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		memcpy(key, &s6->sin6_addr, 16);
		memcpy(key + 16, &s6->sin6_port, 2);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		key[10] = key[11] = 0xff;	/* v4-mapped */
		memcpy(key + 12, &s4->sin_addr, 4);
		memcpy(key + 16, &s4->sin_port, 2);
	}
}

static void
sip_srcs_to_front(struct sip_srcs *t, struct sip_src *s)
{
	if (t->head == s)
		return;
	s->prev->next = s->next;	/* s is not the head: prev exists */
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		t->tail = s->prev;
	s->prev = NULL;
	s->next = t->head;
	t->head->prev = s;
	t->head = s;
}

/* Drops idle sources, and the oldest one when the table is full. */
static void
sip_srcs_expire(struct sip_srcs *t, uint64_t now_ms)
{
	for (int i = 0; i < 8 && t->tail != NULL; i++) {
		struct sip_src *s = t->tail;

		if (t->n < SIP_SRC_MAX && now_ms - s->seen_ms < SIP_SRC_IDLE_MS)
			break;
		sip_srcs_unlink(t, s);
		free(s);
	}
}

struct sip_src *
sip_srcs_get(struct sip_srcs *t, const struct sockaddr *sa, socklen_t len, uint64_t now_ms)
{
	uint8_t		 key[SIP_SRC_KEYLEN];
	uint32_t	 h;
	struct sip_src	*s;

	(void)len;
	sip_srcs_key(sa, key);
	h = (uint32_t)siphash24(t->hkey, key, sizeof(key)) & (SIP_SRC_BUCKETS - 1);
	for (s = t->b[h]; s != NULL; s = s->hnext)
		if (memcmp(s->key, key, sizeof(key)) == 0) {
			s->seen_ms = now_ms;
			sip_srcs_to_front(t, s);
			return s;
		}
	sip_srcs_expire(t, now_ms);
	s = xcalloc(1, sizeof(*s));
	memcpy(s->key, key, sizeof(key));
	s->bucket = h;
	s->seen_ms = s->refill_ms = now_ms;
	s->tokens = 2 * t->rate;
	s->hnext = t->b[h];
	t->b[h] = s;
	s->next = t->head;
	if (t->head != NULL)
		t->head->prev = s;
	t->head = s;
	if (t->tail == NULL)
		t->tail = s;
	t->n++;
	return s;
}

size_t
sip_srcs_count(const struct sip_srcs *t)
{
	return t->n;
}

void
sip_src_rx(struct sip_src *s, size_t bytes)
{
	s->bytes_in += bytes;
}

int
sip_src_invite_ok(struct sip_srcs *t, struct sip_src *s, uint64_t now_ms)
{
	s->tokens += (double)(now_ms - s->refill_ms) * t->rate / 1000.0;
	s->refill_ms = now_ms;
	if (s->tokens > 2 * t->rate)
		s->tokens = 2 * t->rate;
	if (s->tokens < 1.0)
		return 0;
	s->tokens -= 1.0;
	return 1;
}

int
sip_src_may_send(struct sip_src *s, size_t n)
{
	if (!s->proven && s->bytes_out + n > SIP_SRC_AMP * s->bytes_in)
		return 0;
	s->bytes_out += n;
	return 1;
}

void
sip_src_proven(struct sip_src *s)
{
	s->proven = 1;
}

int
sip_src_is_proven(const struct sip_src *s)
{
	return s->proven;
}

void
sip_src_bytes(const struct sip_src *s, uint64_t *in, uint64_t *out)
{
	*in = s->bytes_in;
	*out = s->bytes_out;
}
