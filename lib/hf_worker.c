/*
 * hf_worker: libholdfast's client side of the worker channel (see
 * holdfast/worker.h; the wire format is docs/protocol.md).
 *
 * Invariants:
 * - Nothing blocks: the descriptor is non-blocking, output that the
 *   socket does not take at once is queued (bounded) and written by
 *   holdfast_tick() when the descriptor is writable.
 * - The channel is lost once (h->lost), with the reason in h->err; every
 *   call after that is a no-op and holdfast_tick() returns -1.
 * - Nothing read from holdfastd is trusted: a frame is size-checked
 *   before it is parsed; a type this library does not know is ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "hf_json.h"
#include "holdfast/worker.h"

#define HFW_MAX_MSG		(64 * 1024)	/* a frame, without its newline */
#define HFW_MAX_QUEUE		(4 * 1024 * 1024)
#define HFW_STATUS_MAX		256
#define HFW_HB_DEFAULT_MS	1000
#define HFW_HB_MIN_MS		10
#define HFW_HB_MAX_MS		(3600 * 1000)

struct holdfast {
	int		 fd;		/* -1: not run by holdfastd */
	int		 lost;
	int		 version;	/* agreed in the welcome; 0 before it */
	int		 hb_ms;
	uint64_t	 next_hb;	/* monotonic ms */
	char		*in;		/* HFW_MAX_MSG + 2 */
	size_t		 inlen;
	char		*out;
	size_t		 outlen, outcap;
	char		 status[HFW_STATUS_MAX + 1];
	int		 status_pending;	/* set before the welcome */
	char		 err[160];
	void		(*log_cb)(void *, int, const char *);
	void		*log_arg;
};

static uint64_t
hfw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void hfw_log(struct holdfast *, int, const char *, ...) HOLDFAST_PRINTF(3, 4);

static void
hfw_log(struct holdfast *h, int level, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	if (h->log_cb == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->log_cb(h->log_arg, level, msg);
}

static void
hfw_lose(struct holdfast *h, const char *why)
{
	if (h->lost)
		return;
	h->lost = 1;
	snprintf(h->err, sizeof(h->err), "%s", why);
	if (strcmp(why, "EOF") != 0)
		hfw_log(h, LOG_WARNING, "channel to holdfastd: %s", why);
}

/* A strict decimal in [min, max]. */
static int
hfw_parse_int(const char *s, long min, long max, long *out)
{
	char	*end;
	long	 v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Writes what is queued; -1 once the channel is lost. */
static int
hfw_flush(struct holdfast *h)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < h->outlen) {
		n = send(h->fd, h->out + off, h->outlen - off, MSG_NOSIGNAL);
		if (n == -1 && errno == ENOTSOCK)
			n = write(h->fd, h->out + off, h->outlen - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		hfw_lose(h, n == 0 ? "write returned 0" : strerror(errno));
		break;
	}
	memmove(h->out, h->out + off, h->outlen - off);
	h->outlen -= off;
	return h->lost ? -1 : 0;
}

/* Queues one frame (and its newline) and writes what it can. */
static int
hfw_send(struct holdfast *h, const char *msg, size_t len)
{
	char *grown;

	if (h->fd == -1 || h->lost)
		return 0;
	if (len > HFW_MAX_MSG) {
		errno = EMSGSIZE;
		return -1;
	}
	if (h->outlen + len + 1 > HFW_MAX_QUEUE) {
		errno = ENOBUFS;
		return -1;
	}
	if (h->outlen + len + 1 > h->outcap) {
		size_t cap = h->outcap * 2 > h->outlen + len + 1 ?
		    h->outcap * 2 : h->outlen + len + 1 + 4096;

		if ((grown = realloc(h->out, cap)) == NULL)
			return -1;
		h->out = grown;
		h->outcap = cap;
	}
	memcpy(h->out + h->outlen, msg, len);
	h->out[h->outlen + len] = '\n';
	h->outlen += len + 1;
	(void)hfw_flush(h);
	return 0;
}

/* Message building: {"type":"T" then members, then "}". */
struct hfw_msg {
	char	*buf;
	size_t	 cap;
};

static int
hfw_msg_open(struct hfw_msg *m, const char *type, size_t extra)
{
	m->cap = 64 + extra * 6;	/* "\u00XX" is the worst escape */
	if ((m->buf = malloc(m->cap)) == NULL)
		return -1;
	snprintf(m->buf, m->cap, "{\"type\":\"%s\"", type);
	return 0;
}

static void
hfw_msg_str(struct hfw_msg *m, const char *key, const char *val)
{
	size_t n = strlen(m->buf);

	if (val == NULL)
		return;
	snprintf(m->buf + n, m->cap - n, ",\"%s\":", key);
	(void)hfl_json_str(m->buf, m->cap, val);
}

static void
hfw_msg_int(struct hfw_msg *m, const char *key, long long val)
{
	size_t n = strlen(m->buf);

	snprintf(m->buf + n, m->cap - n, ",\"%s\":%lld", key, val);
}

static int
hfw_msg_send(struct holdfast *h, struct hfw_msg *m)
{
	size_t	 n = strlen(m->buf);
	int	 rc;

	snprintf(m->buf + n, m->cap - n, "}");
	rc = hfw_send(h, m->buf, n + 1);
	free(m->buf);
	return rc;
}

static size_t
hfw_len(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

static int
hfw_hello(struct holdfast *h, const char *program)
{
	struct hfw_msg	 m;
	const char	*inst = holdfast_instance(program);

	if (hfw_msg_open(&m, "hello", hfw_len(program) + hfw_len(inst) + 64) == -1)
		return -1;
	hfw_msg_int(&m, "version", HOLDFAST_PROTOCOL_VERSION);
	hfw_msg_str(&m, "program", program);
	hfw_msg_str(&m, "instance", inst);
	hfw_msg_int(&m, "pid", (long long)getpid());
	return hfw_msg_send(h, &m);
}

int
holdfast_open(struct holdfast **hp, const char *program)
{
	struct holdfast	*h;
	const char	*s = getenv("HOLDFAST_CHANNEL_FD");
	long		 fd, ms;

	*hp = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	h->fd = -1;
	h->hb_ms = HFW_HB_DEFAULT_MS;
	if (s == NULL || *s == '\0') {
		*hp = h;
		return 0;
	}
	if (hfw_parse_int(s, 0, INT_MAX, &fd) == -1 || fcntl((int)fd, F_GETFD) == -1 ||
	    (h->in = malloc(HFW_MAX_MSG + 2)) == NULL) {
		free(h);
		errno = EBADF;
		return -1;
	}
	if (hfw_parse_int(getenv("HOLDFAST_HEARTBEAT_MS"), HFW_HB_MIN_MS,
	    HFW_HB_MAX_MS, &ms) == 0)
		h->hb_ms = (int)ms;
	/* Not for our children: a worker's own children must not hold it. */
	unsetenv("HOLDFAST_CHANNEL_FD");
	h->fd = (int)fd;
	(void)fcntl(h->fd, F_SETFD, FD_CLOEXEC);
	(void)fcntl(h->fd, F_SETFL, fcntl(h->fd, F_GETFL) | O_NONBLOCK);
	h->next_hb = hfw_now_ms() + (uint64_t)h->hb_ms;
	(void)hfw_hello(h, program != NULL ? program : "worker");
	*hp = h;
	return 1;
}

void
holdfast_close(struct holdfast *h)
{
	if (h == NULL)
		return;
	if (h->fd != -1 && !h->lost)
		(void)hfw_flush(h);
	if (h->fd != -1)
		close(h->fd);
	free(h->in);
	free(h->out);
	free(h);
}

int
holdfast_connected(const struct holdfast *h)
{
	return h != NULL && h->fd != -1 && !h->lost;
}

const char *
holdfast_instance(const char *dflt)
{
	const char *s = getenv("HOLDFAST_INSTANCE");

	return s != NULL && *s != '\0' ? s : dflt;
}

int
holdfast_fd(const struct holdfast *h)
{
	return holdfast_connected(h) ? h->fd : -1;
}

int
holdfast_events(const struct holdfast *h)
{
	if (!holdfast_connected(h))
		return 0;
	return POLLIN | (h->outlen > 0 ? POLLOUT : 0);
}

int
holdfast_timeout_ms(const struct holdfast *h)
{
	uint64_t now = hfw_now_ms();

	if (!holdfast_connected(h))
		return -1;
	if (h->next_hb <= now)
		return 0;
	return h->next_hb - now > INT_MAX ? INT_MAX : (int)(h->next_hb - now);
}

const char *
holdfast_error(const struct holdfast *h)
{
	return h != NULL && h->lost ? h->err : NULL;
}

void
holdfast_set_log(struct holdfast *h, void (*cb)(void *, int, const char *), void *arg)
{
	if (h == NULL)
		return;
	h->log_cb = cb;
	h->log_arg = arg;
}

static void
hfw_send_status(struct holdfast *h)
{
	struct hfw_msg m;

	h->status_pending = 0;
	if (hfw_msg_open(&m, "status", sizeof(h->status)) == 0) {
		hfw_msg_str(&m, "text", h->status);
		(void)hfw_msg_send(h, &m);
	}
}

/* {"type":"welcome","version":N,"heartbeat_ms":M}: the version both speak. */
static void
hfw_welcome(struct holdfast *h, const char *frame, size_t len)
{
	long long v = 1, ms = 0;

	(void)hfl_json_get(frame, len, "version", NULL, 0, &v);
	h->version = v < 1 ? 1 : v > HOLDFAST_PROTOCOL_VERSION ?
	    HOLDFAST_PROTOCOL_VERSION : (int)v;
	if (hfl_json_get(frame, len, "heartbeat_ms", NULL, 0, &ms) == HFL_J_INT &&
	    ms >= HFW_HB_MIN_MS && ms <= HFW_HB_MAX_MS) {
		h->hb_ms = (int)ms;
		h->next_hb = hfw_now_ms() + (uint64_t)ms;
	}
	if (h->status_pending && h->version >= 2)
		hfw_send_status(h);
	h->status_pending = 0;
}

/* One frame from holdfastd (without its newline). */
static void
hfw_frame(struct holdfast *h, char *frame, size_t len)
{
	char type[32], detail[256];

	if (len > 0 && frame[len - 1] == '\r')
		len--;
	if (hfl_json_get(frame, len, "type", type, sizeof(type), NULL) != HFL_J_STR) {
		hfw_lose(h, "bad message from holdfastd (not a JSON object with a string \"type\")");
		return;
	}
	if (strcmp(type, "welcome") == 0)
		hfw_welcome(h, frame, len);
	else if (strcmp(type, "error") == 0) {
		if (hfl_json_get(frame, len, "detail", detail, sizeof(detail), NULL) != HFL_J_STR)
			snprintf(detail, sizeof(detail), "?");
		hfw_log(h, LOG_WARNING, "holdfastd rejected a message: %s", detail);
	} else
		/* Newer holdfastd: a type of a later version, ignored. */
		hfw_log(h, LOG_DEBUG, "ignored a \"%s\" message from holdfastd", type);
}

/* Dispatches every complete frame in h->in. */
static void
hfw_frames(struct holdfast *h)
{
	char	*nl;
	size_t	 used = 0;

	while (!h->lost && (nl = memchr(h->in + used, '\n', h->inlen - used)) != NULL) {
		size_t len = (size_t)(nl - (h->in + used));

		if (len > HFW_MAX_MSG) {
			hfw_lose(h, "message from holdfastd too large");
			return;
		}
		hfw_frame(h, h->in + used, len);
		used += len + 1;
	}
	memmove(h->in, h->in + used, h->inlen - used);
	h->inlen -= used;
	if (h->inlen > HFW_MAX_MSG)
		hfw_lose(h, "message from holdfastd too large");
}

static void
hfw_read(struct holdfast *h)
{
	ssize_t n;

	while (!h->lost) {
		n = read(h->fd, h->in + h->inlen, HFW_MAX_MSG + 2 - h->inlen);
		if (n > 0) {
			h->inlen += (size_t)n;
			hfw_frames(h);
		} else if (n == 0)
			hfw_lose(h, h->inlen > 0 ? "EOF in the middle of a message" : "EOF");
		else if (errno == EINTR)
			continue;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		else
			hfw_lose(h, strerror(errno));
	}
}

int
holdfast_tick(struct holdfast *h)
{
	static const char hb[] = "{\"type\":\"heartbeat\"}";
	uint64_t now;

	if (h == NULL || h->fd == -1)
		return 0;
	if (!h->lost)
		hfw_read(h);
	if (!h->lost && h->outlen > 0)
		(void)hfw_flush(h);
	now = hfw_now_ms();
	if (!h->lost && now >= h->next_hb) {
		h->next_hb = now + (uint64_t)h->hb_ms;
		(void)hfw_send(h, hb, sizeof(hb) - 1);
	}
	return h->lost ? -1 : 0;
}

int
holdfast_ready(struct holdfast *h)
{
	static const char m[] = "{\"type\":\"ready\"}";

	return h != NULL ? hfw_send(h, m, sizeof(m) - 1) : 0;
}

/* Cuts s to at most max bytes, not inside a UTF-8 sequence. */
static void
hfw_cut_utf8(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	s[max] = '\0';
}

int
holdfast_status(struct holdfast *h, const char *fmt, ...)
{
	char	 buf[HFW_STATUS_MAX * 4];
	va_list	 ap;

	if (h == NULL || fmt == NULL) {
		errno = EINVAL;
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	hfw_cut_utf8(buf, HFW_STATUS_MAX);
	memcpy(h->status, buf, strlen(buf) + 1);
	if (h->fd == -1 || h->lost)
		return 0;
	if (h->version == 0)
		h->status_pending = 1;	/* sent once the welcome says 2+ */
	else if (h->version >= 2)
		hfw_send_status(h);
	return 0;
}

int
holdfast_db_full(struct holdfast *h, int up, const char *op, const char *reason,
    int attempts, const char *detail)
{
	struct hfw_msg m;

	if (h == NULL || h->fd == -1 || h->lost)
		return 0;
	if (hfw_msg_open(&m, "db", hfw_len(op) + hfw_len(reason) + hfw_len(detail) + 64) == -1)
		return -1;
	hfw_msg_str(&m, "state", up ? "up" : "down");
	hfw_msg_str(&m, "op", op);
	hfw_msg_str(&m, "reason", reason);
	hfw_msg_int(&m, "attempts", attempts);
	hfw_msg_str(&m, "detail", detail);
	return hfw_msg_send(h, &m);
}

int
holdfast_db(struct holdfast *h, int up, const char *reason, const char *detail)
{
	return holdfast_db_full(h, up, NULL, reason, 0, detail);
}

int
holdfast_send_json(struct holdfast *h, const char *json, size_t len)
{
	char type[32];

	if (h == NULL || json == NULL || memchr(json, '\n', len) != NULL ||
	    (len <= HFW_MAX_MSG &&
	    hfl_json_get(json, len, "type", type, sizeof(type), NULL) != HFL_J_STR)) {
		errno = EINVAL;
		return -1;
	}
	return hfw_send(h, json, len);
}
