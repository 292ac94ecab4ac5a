/*
 * json: yajl_tree for reading, yajl_gen for writing. The writer latches its
 * first error so callers can chain calls and check once at jw_buf().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "json.h"
#include "log.h"
#include "util.h"

/*
 * Deeper nesting is refused before yajl sees it: yajl_tree_free() recurses
 * once per level, so a body of '[' * 400000 + ']' * 400000 (800 KB, within
 * the webhook limit) overflowed the 8 MiB stack on free. Nothing holdfast
 * reads is nested more than ~10 levels.
 */
#define JSON_MAX_DEPTH	128

/* Skips a comment at s[i] ("/" already seen); returns the index of its end. */
static size_t
json_skip_comment(const char *s, size_t len, size_t i)
{
	if (i + 1 < len && s[i + 1] == '/') {
		while (i < len && s[i] != '\n')
			i++;
	} else if (i + 1 < len && s[i + 1] == '*') {
		for (i += 2; i + 1 < len && !(s[i] == '*' && s[i + 1] == '/'); i++)
			;
		i++;
	}
	return i;
}

/* 1 when arrays/objects nest deeper than JSON_MAX_DEPTH (strings and the
 * comments yajl_tree accepts are skipped, so brackets in them do not count). */
static int
json_too_deep(const char *s, size_t len)
{
	int	depth = 0, instr = 0;

	for (size_t i = 0; i < len; i++) {
		if (instr) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				instr = 0;
		} else if (s[i] == '"')
			instr = 1;
		else if (s[i] == '/')
			i = json_skip_comment(s, len, i);
		else if (s[i] == '[' || s[i] == '{') {
			if (++depth > JSON_MAX_DEPTH)
				return 1;
		} else if (s[i] == ']' || s[i] == '}')
			depth--;
	}
	return 0;
}

yajl_val
json_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	char		*copy;
	yajl_val	 v;

	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "NUL byte in JSON text");
		return NULL;
	}
	if (json_too_deep(buf, len)) {
		snprintf(err, errlen, "JSON nested deeper than %d levels", JSON_MAX_DEPTH);
		return NULL;
	}
	copy = xmalloc(len + 1);
	memcpy(copy, buf, len);
	copy[len] = '\0';
	v = yajl_tree_parse(copy, err, errlen);
	free(copy);
	if (v == NULL && errlen > 0) {
		/* yajl's messages span lines; keep the first one. */
		char *nl = strchr(err, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (err[0] == '\0')
			snprintf(err, errlen, "invalid JSON");
	}
	return v;
}

yajl_val
json_get(yajl_val obj, const char *key)
{
	if (obj == NULL || !YAJL_IS_OBJECT(obj))
		return NULL;
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (strcmp(obj->u.object.keys[i], key) == 0)
			return obj->u.object.values[i];
	return NULL;
}

const char *
json_get_str(yajl_val obj, const char *key)
{
	yajl_val v = json_get(obj, key);

	return v != NULL && YAJL_IS_STRING(v) ? v->u.string : NULL;
}

int
json_get_int(yajl_val obj, const char *key, long long *out)
{
	yajl_val v = json_get(obj, key);

	if (v == NULL || !YAJL_IS_INTEGER(v))
		return -1;
	*out = YAJL_GET_INTEGER(v);
	return 0;
}

int
json_get_bool(yajl_val obj, const char *key, int *out)
{
	yajl_val v = json_get(obj, key);

	if (v == NULL || !(YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)))
		return -1;
	*out = YAJL_IS_TRUE(v);
	return 0;
}

yajl_val
json_get_array(yajl_val obj, const char *key)
{
	yajl_val v = json_get(obj, key);

	return v != NULL && YAJL_IS_ARRAY(v) ? v : NULL;
}

yajl_val
json_get_object(yajl_val obj, const char *key)
{
	yajl_val v = json_get(obj, key);

	return v != NULL && YAJL_IS_OBJECT(v) ? v : NULL;
}

struct jw {
	yajl_gen	 g;
	int		 failed;
	int		 lenient;	/* json_dump's: errors are not latched */
};

static struct jw *
jw_alloc(int lenient)
{
	struct jw *w = xcalloc(1, sizeof(*w));

	w->g = yajl_gen_alloc(NULL);
	if (w->g == NULL)
		fatalx("yajl_gen_alloc failed");
	/* Invalid UTF-8 from outside must never yield invalid JSON. */
	if (!lenient)
		yajl_gen_config(w->g, yajl_gen_validate_utf8, 1);
	w->lenient = lenient;
	return w;
}

struct jw *
jw_new(void)
{
	return jw_alloc(0);
}

void
jw_free(struct jw *w)
{
	if (w == NULL)
		return;
	yajl_gen_free(w->g);
	free(w);
}

void
jw_reset(struct jw *w)
{
	yajl_gen_reset(w->g, NULL);
	yajl_gen_clear(w->g);
	w->failed = 0;
}

static void
jw_check(struct jw *w, yajl_gen_status st)
{
	if (st != yajl_gen_status_ok && !w->lenient)
		w->failed = 1;
}

#define JW_GUARD(w)	do { if ((w)->failed) return; } while (0)

void jw_obj_open(struct jw *w) { JW_GUARD(w); jw_check(w, yajl_gen_map_open(w->g)); }
void jw_obj_close(struct jw *w) { JW_GUARD(w); jw_check(w, yajl_gen_map_close(w->g)); }
void jw_arr_open(struct jw *w) { JW_GUARD(w); jw_check(w, yajl_gen_array_open(w->g)); }
void jw_arr_close(struct jw *w) { JW_GUARD(w); jw_check(w, yajl_gen_array_close(w->g)); }
void jw_null(struct jw *w) { JW_GUARD(w); jw_check(w, yajl_gen_null(w->g)); }
void jw_bool(struct jw *w, int v) { JW_GUARD(w); jw_check(w, yajl_gen_bool(w->g, v)); }
void jw_int(struct jw *w, long long v) { JW_GUARD(w); jw_check(w, yajl_gen_integer(w->g, v)); }
void jw_double(struct jw *w, double v) { JW_GUARD(w); jw_check(w, yajl_gen_double(w->g, v)); }

void
jw_strn(struct jw *w, const char *s, size_t len)
{
	JW_GUARD(w);
	jw_check(w, yajl_gen_string(w->g, (const unsigned char *)s, len));
}

void
jw_str(struct jw *w, const char *s)
{
	if (s == NULL)
		jw_null(w);
	else
		jw_strn(w, s, strlen(s));
}

void
jw_key(struct jw *w, const char *key)
{
	jw_strn(w, key, strlen(key));
}

void
jw_kstr(struct jw *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_str(w, s);
}

void
jw_kint(struct jw *w, const char *key, long long v)
{
	jw_key(w, key);
	jw_int(w, v);
}

void
jw_kbool(struct jw *w, const char *key, int v)
{
	jw_key(w, key);
	jw_bool(w, v);
}

const char *
jw_buf(struct jw *w, size_t *len)
{
	const unsigned char	*buf;
	size_t			 n;

	if (w->failed || yajl_gen_get_buf(w->g, &buf, &n) != yajl_gen_status_ok)
		return NULL;
	if (len != NULL)
		*len = n;
	return (const char *)buf;
}

char *
jw_dup(struct jw *w)
{
	const char	*buf;
	size_t		 len;

	return (buf = jw_buf(w, &len)) != NULL ? xstrndup(buf, len) : NULL;
}

static void
jw_number(struct jw *w, const char *text)
{
	JW_GUARD(w);
	jw_check(w, yajl_gen_number(w->g, text, strlen(text)));
}

void
jw_value(struct jw *w, yajl_val v)
{
	if (YAJL_IS_OBJECT(v)) {
		jw_obj_open(w);
		for (size_t i = 0; i < v->u.object.len; i++) {
			jw_key(w, v->u.object.keys[i]);
			jw_value(w, v->u.object.values[i]);
		}
		jw_obj_close(w);
	} else if (YAJL_IS_ARRAY(v)) {
		jw_arr_open(w);
		for (size_t i = 0; i < v->u.array.len; i++)
			jw_value(w, v->u.array.values[i]);
		jw_arr_close(w);
	} else if (YAJL_IS_STRING(v))
		jw_str(w, v->u.string);
	else if (YAJL_IS_NUMBER(v))
		jw_number(w, v->u.number.r);
	else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		jw_bool(w, YAJL_IS_TRUE(v));
	else
		jw_null(w);
}

char *
json_dump(yajl_val v)
{
	struct jw	*w;
	char		*s;

	if (v == NULL)
		return NULL;
	w = jw_alloc(1);
	jw_value(w, v);
	s = jw_dup(w);
	jw_free(w);
	return s;
}
