/*
 * siphash: SipHash-2-4. See siphash.h.
 */
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "siphash.h"
#include "util.h"

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND(v0, v1, v2, v3) do {					\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

static uint64_t
siphash_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t
siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *data, size_t len)
{
	const uint8_t	*p = data;
	uint64_t	 k0 = siphash_le64(key), k1 = siphash_le64(key + 8);
	uint64_t	 v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t	 v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t	 b = (uint64_t)len << 56, m;
	size_t		 left = len & 7;
	const uint8_t	*end = p + (len - left);

	for (; p != end; p += 8) {
		m = siphash_le64(p);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t i = 0; i < left; i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

void
siphash_random_key(uint8_t key[SIPHASH_KEY_LEN])
{
	uint64_t mix[2];

	if (getrandom(key, SIPHASH_KEY_LEN, 0) == SIPHASH_KEY_LEN)
		return;
	mix[0] = hf_now_mono_us() ^ 0x9e3779b97f4a7c15ULL;
	mix[1] = ((uint64_t)getpid() << 32) ^ (uint64_t)hf_now_real_us();
	memcpy(key, mix, SIPHASH_KEY_LEN);
}
