/*
 * hf_json: the little JSON libholdfast needs, without a dependency: a
 * strict reader of one flat lookup in an object (holdfastd's messages),
 * and a writer of escaped strings. Internal to the library.
 */
#ifndef HOLDFAST_HF_JSON_H
#define HOLDFAST_HF_JSON_H

#include <stddef.h>

/* What hfl_json_get found. */
enum hfl_jtype {
	HFL_J_BAD = -1,		/* not one valid JSON object */
	HFL_J_NONE = 0,		/* valid, no such top-level member */
	HFL_J_STR,		/* a string, unescaped into buf (cut to fit) */
	HFL_J_INT,		/* an integer that fits a long long, in *num */
	HFL_J_OTHER,		/* anything else (float, bool, null, object...) */
};

/* Validates the whole text as one JSON object and looks up key among its
 * top-level members (the last one wins, like most parsers). */
enum hfl_jtype hfl_json_get(const char *js, size_t len, const char *key,
    char *buf, size_t buflen, long long *num);

/* Appends s as a JSON string (quotes included) to dst, NUL-terminated;
 * returns the length it needs (like snprintf: compare with dstlen). */
size_t hfl_json_str(char *dst, size_t dstlen, const char *s);

#endif
