/*
 * fuzz_json: json_parse() and the getters every JSON reader here uses
 * (channel messages, control requests, the login body, webhook bodies).
 *
 * A parsed tree is walked with the typed getters on every key it has,
 * read the way the login handler reads {"email","password"}, written back
 * through the jw_* writer, and the writer's output must parse again: what
 * holdfast writes from what it read is always valid JSON. All of it runs
 * on a thread with a small stack (see LLVMFuzzerTestOneInput).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"

#define FUZZ_JSON_MAXDEPTH	64	/* deeper values are written as null */
#define FUZZ_JSON_STACK		(256 * 1024)

static void
fuzz_json_getters(yajl_val obj)
{
	long long	i;
	int		b;

	for (size_t k = 0; k < obj->u.object.len; k++) {
		const char *key = obj->u.object.keys[k];

		if (json_get(obj, key) == NULL)
			abort();
		(void)json_get_str(obj, key);
		(void)json_get_int(obj, key, &i);
		(void)json_get_bool(obj, key, &b);
		(void)json_get_array(obj, key);
		(void)json_get_object(obj, key);
	}
}

/* Writes v with jw_*, checking the getters on each object on the way. */
static void
fuzz_json_write(struct jw *w, yajl_val v, int depth)
{
	if (depth > FUZZ_JSON_MAXDEPTH || v == NULL) {
		jw_null(w);
	} else if (YAJL_IS_OBJECT(v)) {
		fuzz_json_getters(v);
		jw_obj_open(w);
		for (size_t k = 0; k < v->u.object.len; k++) {
			jw_key(w, v->u.object.keys[k]);
			fuzz_json_write(w, v->u.object.values[k], depth + 1);
		}
		jw_obj_close(w);
	} else if (YAJL_IS_ARRAY(v)) {
		jw_arr_open(w);
		for (size_t k = 0; k < v->u.array.len; k++)
			fuzz_json_write(w, v->u.array.values[k], depth + 1);
		jw_arr_close(w);
	} else if (YAJL_IS_STRING(v)) {
		jw_str(w, v->u.string);
	} else if (YAJL_IS_INTEGER(v)) {
		jw_int(w, YAJL_GET_INTEGER(v));
	} else if (YAJL_IS_DOUBLE(v)) {
		jw_double(w, YAJL_GET_DOUBLE(v));
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		jw_bool(w, YAJL_IS_TRUE(v));
	} else {
		jw_null(w);	/* null, or a number out of every range */
	}
}

/* The login handler's reading of its body. */
static void
fuzz_json_login(yajl_val root, size_t size)
{
	const char *email = json_get_str(root, "email");
	const char *password = json_get_str(root, "password");

	/* A value is never longer than the text it came from. */
	if ((email != NULL && strlen(email) > size) ||
	    (password != NULL && strlen(password) > size))
		abort();
}

static void
fuzz_json_one(const uint8_t *data, size_t size)
{
	char		 err[256];
	const char	*out;
	size_t		 outlen;
	yajl_val	 root, again;
	struct jw	*w;

	if ((root = json_parse((const char *)data, size, err, sizeof(err))) == NULL) {
		if (err[0] == '\0' || strchr(err, '\n') != NULL)
			abort();	/* the reason is one non-empty line */
		return;
	}
	fuzz_json_login(root, size);
	w = jw_new();
	fuzz_json_write(w, root, 0);
	if ((out = jw_buf(w, &outlen)) != NULL) {
		if ((again = json_parse(out, outlen, err, sizeof(err))) == NULL) {
			fprintf(stderr, "fuzz_json: own output does not parse: %s\n%.*s\n",
			    err, (int)outlen, out);
			abort();
		}
		yajl_tree_free(again);
	}
	jw_free(w);
	yajl_tree_free(root);
}

/* One input at a time, handed to a long-lived thread (creating a thread
 * per input costs more than the parse). */
static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	const uint8_t	*data;
	size_t		 size;
	int		 pending;	/* an input waits for the thread */
} fuzz_json_box = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0 };

static void *
fuzz_json_thread(void *arg)
{
	pthread_mutex_lock(&fuzz_json_box.mu);
	for (;;) {
		while (!fuzz_json_box.pending)
			pthread_cond_wait(&fuzz_json_box.cv, &fuzz_json_box.mu);
		fuzz_json_one(fuzz_json_box.data, fuzz_json_box.size);
		fuzz_json_box.pending = 0;
		pthread_cond_broadcast(&fuzz_json_box.cv);
	}
	return NULL;
}

/*
 * Runs on a thread with a small stack (FUZZ_JSON_STACK), so that recursion
 * as deep as the input is nested (yajl_tree_free() recurses) overflows with
 * inputs of tens of KB, as it would with the MB-sized bodies a webhook may
 * carry on the real 8 MiB stack.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	started;
	pthread_attr_t	attr;
	pthread_t	t;

	if (!started) {
		if (pthread_attr_init(&attr) != 0 ||
		    pthread_attr_setstacksize(&attr, FUZZ_JSON_STACK) != 0 ||
		    pthread_create(&t, &attr, fuzz_json_thread, NULL) != 0)
			abort();
		pthread_attr_destroy(&attr);
		started = 1;
	}
	pthread_mutex_lock(&fuzz_json_box.mu);
	fuzz_json_box.data = data;
	fuzz_json_box.size = size;
	fuzz_json_box.pending = 1;
	pthread_cond_broadcast(&fuzz_json_box.cv);
	while (fuzz_json_box.pending)
		pthread_cond_wait(&fuzz_json_box.cv, &fuzz_json_box.mu);
	pthread_mutex_unlock(&fuzz_json_box.mu);
	return 0;
}
