/*
 * cdp: see cdp.h. The messages are small and few (a test evaluates a
 * handful of expressions a second), so each call writes one command and
 * reads until its answer, dropping the events in between.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdp.h"
#include "json.h"
#include "tu.h"
#include "util.h"

#define CDP_MSG_MAX	(16 * 1024 * 1024)

const char *
cdp_browser(void)
{
	static const char *const paths[] = {
		"/usr/bin/chromium", "/usr/bin/chromium-browser", NULL
	};
	int	i;

	for (i = 0; paths[i] != NULL; i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

static long long
cdp_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
cdp_write(int fd, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One message: the JSON, then the NUL that ends it. */
static int
cdp_send(struct cdp *c, struct jw *w)
{
	size_t		 len;
	const char	*p = jw_buf(w, &len);

	if (p == NULL || cdp_write(c->wfd, p, len) == -1)
		return -1;
	return cdp_write(c->wfd, "", 1);
}

/* The next whole message (NUL-terminated in c->buf), or NULL at deadline. */
static yajl_val
cdp_next(struct cdp *c, long long deadline)
{
	struct pollfd	 pfd = { .fd = c->rfd, .events = POLLIN };
	char		*end, err[128];
	yajl_val	 v;
	ssize_t		 n;
	long long	 left;

	while ((end = c->len > 0 ? memchr(c->buf, '\0', c->len) : NULL) == NULL) {
		if ((left = deadline - cdp_now_ms()) <= 0 || c->len >= CDP_MSG_MAX)
			return NULL;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if (c->cap - c->len < 65536) {
			c->cap = c->cap * 2 + 65536;
			c->buf = xrealloc(c->buf, c->cap);
		}
		if ((n = read(c->rfd, c->buf + c->len, c->cap - c->len)) == 0)
			return NULL;	/* the browser is gone */
		if (n > 0)
			c->len += (size_t)n;
	}
	v = json_parse(c->buf, (size_t)(end - c->buf), err, sizeof(err));
	c->len -= (size_t)(end + 1 - c->buf);
	memmove(c->buf, end + 1, c->len);
	return v;
}

/*
 * Sends method in the page's session when there is one, with params made
 * of skey: sval (a string) and bkey: true, each when not NULL; returns the
 * answer's "result", in *msg's tree (the caller frees *msg), or NULL on
 * an error answer or a timeout.
 */
static yajl_val
cdp_call(struct cdp *c, const char *method, const char *skey, const char *sval,
    const char *bkey, yajl_val *msg, int timeout_ms)
{
	struct jw	*w = jw_new();
	long long	 id, want = ++c->next_id, deadline = cdp_now_ms() + timeout_ms;
	yajl_val	 m;
	int		 rc;

	jw_obj_open(w);
	jw_kint(w, "id", want);
	jw_kstr(w, "method", method);
	if (c->session != NULL)
		jw_kstr(w, "sessionId", c->session);
	jw_key(w, "params");
	jw_obj_open(w);
	if (skey != NULL)
		jw_kstr(w, skey, sval);
	if (bkey != NULL)
		jw_kbool(w, bkey, 1);
	jw_obj_close(w);
	jw_obj_close(w);
	rc = cdp_send(c, w);
	jw_free(w);
	*msg = NULL;
	while (rc == 0 && (m = cdp_next(c, deadline)) != NULL) {
		if (json_get_int(m, "id", &id) == 0 && id == want) {
			*msg = m;
			return json_get_object(m, "result");
		}
		yajl_tree_free(m);
	}
	return NULL;
}

/* In the child: the pipe ends moved to fds 3 and 4 (see tu_spawn_fds). */
static pid_t
cdp_spawn(struct cdp *c, const char *dir, int in[2], int out[2])
{
	const char	*bin = cdp_browser();
	char		*prof = xasprintf("--user-data-dir=%s/cdp-profile", dir);
	char		*log = xasprintf("%s/chromium.log", dir);
	char *const	 argv[] = { (char *)bin, "--headless", "--disable-gpu",
	    "--no-sandbox", "--remote-debugging-pipe", "--no-first-run",
	    "--window-size=1200,800", prof, "about:blank", NULL };
	int		 fds[2] = { in[0], out[1] };
	pid_t		 pid;

	pid = tu_spawn_fds(argv, NULL, log, fds, 2);
	close(in[0]);
	close(out[1]);
	c->wfd = in[1];
	c->rfd = out[0];
	free(prof);
	free(log);
	return pid;
}

static char *
cdp_str_result(yajl_val res, const char *key)
{
	const char *s = res != NULL ? json_get_str(res, key) : NULL;

	return s != NULL ? xstrdup(s) : NULL;
}

int
cdp_start(struct cdp *c, const char *dir, const char *url)
{
	int		 in[2], out[2];
	yajl_val	 msg, res;
	char		*target;

	memset(c, 0, sizeof(*c));
	if (cdp_browser() == NULL || pipe2(in, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(out, O_CLOEXEC) == -1) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	c->pid = cdp_spawn(c, dir, in, out);
	res = cdp_call(c, "Target.createTarget", "url", url, NULL, &msg, 30000);
	target = cdp_str_result(res, "targetId");
	yajl_tree_free(msg);
	if (target != NULL) {
		res = cdp_call(c, "Target.attachToTarget", "targetId", target,
		    "flatten", &msg, 10000);
		c->session = cdp_str_result(res, "sessionId");
		yajl_tree_free(msg);
	}
	free(target);
	return c->session != NULL ? 0 : -1;
}

char *
cdp_eval(struct cdp *c, const char *expr, int timeout_ms)
{
	yajl_val	 msg, res, val;
	char		*out = NULL;

	res = cdp_call(c, "Runtime.evaluate", "expression", expr, "returnByValue",
	    &msg, timeout_ms);
	if (res != NULL && json_get(res, "exceptionDetails") == NULL &&
	    (val = json_get_object(res, "result")) != NULL) {
		if (json_get_str(val, "value") != NULL)
			out = xstrdup(json_get_str(val, "value"));
		else if (json_get(val, "value") != NULL)
			out = json_dump(json_get(val, "value"));
	}
	yajl_tree_free(msg);
	return out;
}

int
cdp_wait_true(struct cdp *c, const char *expr, int timeout_ms)
{
	long long	 deadline = cdp_now_ms() + timeout_ms;
	char		*v;
	int		 ok;

	do {
		v = cdp_eval(c, expr, 5000);
		ok = v != NULL && strcmp(v, "true") == 0;
		free(v);
		if (ok)
			return 1;
		poll(NULL, 0, 20);
	} while (cdp_now_ms() < deadline);
	return 0;
}

void
cdp_stop(struct cdp *c)
{
	yajl_val	msg;
	int		status;

	if (c->pid > 0) {
		free(c->session);
		c->session = NULL;	/* Browser.close is for the browser */
		cdp_call(c, "Browser.close", NULL, NULL, NULL, &msg, 5000);
		yajl_tree_free(msg);
		close(c->wfd);
		if (tu_wait_pid(c->pid, 5000, &status) == -1)
			tu_stop(c->pid, 1000);
		close(c->rfd);
	}
	free(c->buf);
	free(c->session);
	memset(c, 0, sizeof(*c));
}
