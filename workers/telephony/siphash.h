/*
 * siphash: SipHash-2-4 (Aumasson and Bernstein), a keyed hash for the
 * tables that outside input fills (calls, dialogs, sources): with a random
 * key nobody outside can choose keys that land in one bucket.
 */
#ifndef HOLDFAST_SIPHASH_H
#define HOLDFAST_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN	16

uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *data, size_t len);
/* Fills key from getrandom(); falls back to a clock/pid mix only when the
 * kernel has none (never on Linux >= 3.17). */
void siphash_random_key(uint8_t key[SIPHASH_KEY_LEN]);

#endif
