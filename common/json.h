/*
 * json: small helpers over yajl. Parsing goes through yajl_tree (messages
 * here are small and bounded); writing goes through a yajl_gen wrapper.
 */
#ifndef HOLDFAST_JSON_H
#define HOLDFAST_JSON_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

/*
 * Parses len bytes (need not be NUL-terminated). Returns the tree, or NULL
 * with a one-line reason in err. Free with yajl_tree_free().
 */
yajl_val json_parse(const char *buf, size_t len, char *err, size_t errlen);

/* Member of an object by key; NULL when absent or obj is not an object. */
yajl_val json_get(yajl_val obj, const char *key);
/* Typed getters: NULL / -1 when absent or of another type. */
const char *json_get_str(yajl_val obj, const char *key);
int json_get_int(yajl_val obj, const char *key, long long *out);
int json_get_bool(yajl_val obj, const char *key, int *out);
yajl_val json_get_array(yajl_val obj, const char *key);
yajl_val json_get_object(yajl_val obj, const char *key);

/* A JSON writer. Every call after an error is a no-op; jw_done reports it. */
struct jw;
struct jw *jw_new(void);
void jw_free(struct jw *);
void jw_obj_open(struct jw *);
void jw_obj_close(struct jw *);
void jw_arr_open(struct jw *);
void jw_arr_close(struct jw *);
void jw_key(struct jw *, const char *key);
void jw_str(struct jw *, const char *s);	/* NULL writes null */
void jw_strn(struct jw *, const char *s, size_t len);
void jw_int(struct jw *, long long v);
void jw_double(struct jw *, double v);
void jw_bool(struct jw *, int v);
void jw_null(struct jw *);
/* key + value in one call */
void jw_kstr(struct jw *, const char *key, const char *s);
void jw_kint(struct jw *, const char *key, long long v);
void jw_kbool(struct jw *, const char *key, int v);
/* The text so far (NUL-terminated), or NULL after an error. */
const char *jw_buf(struct jw *, size_t *len);
/* A malloc'd copy of the text so far, or NULL after an error. */
char *jw_dup(struct jw *);
/* Clears the writer for reuse. */
void jw_reset(struct jw *);

/*
 * Writes a parsed value again (yajl_tree keeps no source text): objects,
 * arrays and scalars as they were, numbers in their original text.
 */
void jw_value(struct jw *, yajl_val v);
/*
 * A parsed value as JSON text (malloc'd); NULL only when v is NULL. It
 * writes on past a generator error, as the copies it replaced did
 * (yajl_gen refuses a 128th level of nesting, which json_parse accepts).
 */
char *json_dump(yajl_val v);

#endif
