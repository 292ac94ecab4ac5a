/*
 * chan: one line-framed JSON message layer for the worker channel and the
 * control socket (see chan.h for the wire format).
 *
 * Invariants:
 * - A peer reports its loss exactly once, as a NULL message to its dispatch
 *   callback; EOF, I/O errors, oversized and unparsable frames all take
 *   that path, with the reason in chan_peer_error().
 * - The callback may free the peer (or ask for close-after-flush) at any
 *   time, even while a batch of frames is being dispatched: a peer is only
 *   really freed once the layer has unwound (pe_busy).
 * - Nothing read from a peer is trusted: a frame is size-checked before it
 *   is parsed and type-checked before it is dispatched.
 * - Output goes out in the order it was sent: a message is written through
 *   to the socket only while nothing is queued before it; what the socket
 *   does not take is queued, and EV_WRITE is enabled only then, so an idle
 *   peer never wakes the loop for writability.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "chan.h"
#include "json.h"
#include "log.h"
#include "util.h"

/* Output a slow reader may leave queued before it is dropped. */
#define CHAN_MAX_QUEUE	(4 * 1024 * 1024)

struct chan_peer {
	struct bufferevent	*pe_bev;
	struct event		*pe_lostev;	/* deferred loss report */
	chan_dispatch_cb	 pe_cb;
	void			*pe_arg;
	int			 pe_fd;
	int			 pe_busy;	/* inside the dispatch loop */
	int			 pe_dead;	/* freed by the owner while busy */
	int			 pe_lost;	/* loss already reported */
	int			 pe_replyable;	/* lost to a protocol error */
	int			 pe_closing;	/* free once output drained */
	int			 pe_full;	/* output queue overflowed */
	int			 pe_nosock;	/* not a socket: always queue */
	char			 pe_err[160];
};

static void chan_read_cb(struct bufferevent *, void *);
static void chan_write_cb(struct bufferevent *, void *);
static void chan_event_cb(struct bufferevent *, short, void *);

static void
chan_really_free(struct chan_peer *p)
{
	if (p->pe_lostev != NULL)
		event_free(p->pe_lostev);
	bufferevent_free(p->pe_bev);
	free(p);
}

void
chan_peer_free(struct chan_peer *p)
{
	if (p == NULL)
		return;
	if (p->pe_busy) {
		p->pe_dead = 1;
		return;
	}
	chan_really_free(p);
}

/* Reports the loss once; the owner decides whether to free or reply. */
static void
chan_lose(struct chan_peer *p, int replyable, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
chan_lose(struct chan_peer *p, int replyable, const char *fmt, ...)
{
	va_list	 ap;

	if (p->pe_lost)
		return;
	p->pe_lost = 1;
	p->pe_replyable = replyable;
	va_start(ap, fmt);
	vsnprintf(p->pe_err, sizeof(p->pe_err), fmt, ap);
	va_end(ap);
	bufferevent_disable(p->pe_bev, EV_READ);
	p->pe_busy++;
	p->pe_cb(p, NULL, p->pe_arg);
	p->pe_busy--;
}

static void
chan_lost_deferred(evutil_socket_t fd, short what, void *arg)
{
	struct chan_peer	*p = arg;
	char			 why[sizeof(p->pe_err)];

	hf_strlcpy(why, p->pe_err, sizeof(why));
	chan_lose(p, 0, "%s", why);
	if (p->pe_dead)
		chan_really_free(p);
}

struct chan_peer *
chan_peer_new(struct event_base *base, int fd, chan_dispatch_cb cb, void *arg)
{
	struct chan_peer *p = xcalloc(1, sizeof(*p));

	/* Both are no-ops (one F_GET each) for what accept4 already set. */
	hf_fd_set_cloexec(fd);
	hf_fd_set_nonblock(fd);
	p->pe_fd = fd;
	p->pe_cb = cb;
	p->pe_arg = arg;
	p->pe_bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (p->pe_bev == NULL)
		fatalx("bufferevent_socket_new(fd %d) failed", fd);
	p->pe_lostev = event_new(base, -1, 0, chan_lost_deferred, p);
	/* Read no further than one over-limit frame ahead. */
	bufferevent_setwatermark(p->pe_bev, EV_READ, 0, CHAN_MAX_MSG + 2);
	bufferevent_setcb(p->pe_bev, chan_read_cb, NULL, chan_event_cb, p);
	/* EV_WRITE waits for something to be queued (chan_send_raw). */
	bufferevent_enable(p->pe_bev, EV_READ);
	return p;
}

yajl_val
chan_parse_frame(const char *buf, size_t len, char *err, size_t errlen)
{
	yajl_val	 v;

	if (len > CHAN_MAX_MSG) {
		snprintf(err, errlen, "message too large (%zu bytes, limit %d)",
		    len, CHAN_MAX_MSG);
		return NULL;
	}
	if ((v = json_parse(buf, len, err, errlen)) == NULL)
		return NULL;
	if (!YAJL_IS_OBJECT(v)) {
		snprintf(err, errlen, "message is not a JSON object");
		yajl_tree_free(v);
		return NULL;
	}
	if (chan_msg_type(v) == NULL) {
		snprintf(err, errlen, "message has no string \"type\" or \"cmd\"");
		yajl_tree_free(v);
		return NULL;
	}
	return v;
}

const char *
chan_msg_type(yajl_val msg)
{
	const char *t = json_get_str(msg, "type");

	return t != NULL ? t : json_get_str(msg, "cmd");
}

/* Takes one complete frame off the input; 1 dispatched, 0 none, -1 lost. */
static int
chan_one_frame(struct chan_peer *p, struct evbuffer *in)
{
	struct evbuffer_ptr	 eol;
	size_t			 len, eollen;
	char			*buf, err[160];
	yajl_val		 msg;

	eol = evbuffer_search_eol(in, NULL, &eollen, EVBUFFER_EOL_LF);
	if (eol.pos == -1) {
		if (evbuffer_get_length(in) > CHAN_MAX_MSG) {
			chan_lose(p, 1, "message too large (over %d bytes)", CHAN_MAX_MSG);
			return -1;
		}
		return 0;
	}
	len = eol.pos;
	if (len > CHAN_MAX_MSG) {
		chan_lose(p, 1, "message too large (%zu bytes, limit %d)", len, CHAN_MAX_MSG);
		return -1;
	}
	buf = xmalloc(len + 1);
	evbuffer_remove(in, buf, len);
	evbuffer_drain(in, eollen);
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	msg = chan_parse_frame(buf, len, err, sizeof(err));
	free(buf);
	if (msg == NULL) {
		chan_lose(p, 1, "bad message: %s", err);
		return -1;
	}
	p->pe_cb(p, msg, p->pe_arg);
	yajl_tree_free(msg);
	return 1;
}

static void
chan_read_cb(struct bufferevent *bev, void *arg)
{
	struct chan_peer	*p = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);

	p->pe_busy++;
	while (!p->pe_dead && !p->pe_lost && !p->pe_closing &&
	    chan_one_frame(p, in) == 1)
		;
	p->pe_busy--;
	if (p->pe_dead)
		chan_really_free(p);
}

/*
 * A request usually arrives with the connection: read what is there now
 * and dispatch it from here, so its reply can go out in this loop turn.
 * Nothing there, EOF or an error are left to the read event, which sees
 * them again and handles them as it always does.
 */
void
chan_peer_read_now(struct chan_peer *p)
{
	struct evbuffer		*in = bufferevent_get_input(p->pe_bev);
	size_t			 have = evbuffer_get_length(in), want;
	struct evbuffer_iovec	 v;
	ssize_t			 n = 0;

	if (have > CHAN_MAX_MSG + 1)
		return;
	/* One recv into the input (evbuffer_read would ask FIONREAD first);
	 * a longer request is finished by the read event. The bufferevent
	 * keeps its input's end frozen but while it reads. */
	want = CHAN_MAX_MSG + 2 - have < 4096 ? CHAN_MAX_MSG + 2 - have : 4096;
	evbuffer_unfreeze(in, 0);
	if (evbuffer_reserve_space(in, want, &v, 1) == 1) {
		do
			n = recv(p->pe_fd, v.iov_base, want, MSG_DONTWAIT);
		while (n == -1 && errno == EINTR);
		v.iov_len = n > 0 ? (size_t)n : 0;
		evbuffer_commit_space(in, &v, n > 0 ? 1 : 0);
	}
	evbuffer_freeze(in, 0);
	if (n > 0)
		chan_read_cb(p->pe_bev, p);
}

static void
chan_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct chan_peer	*p = arg;
	size_t			 left;

	if (p->pe_closing) {
		chan_really_free(p);
		return;
	}
	left = evbuffer_get_length(bufferevent_get_input(bev));
	if ((what & BEV_EVENT_TIMEOUT) && left == 0) {
		/* Idle is fine (a `tail -f` client never writes); only half a
		 * message left hanging is an error. */
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		chan_lose(p, 1, "timed out in the middle of a message (%zu bytes)", left);
	else if ((what & BEV_EVENT_EOF) && left > 0)
		chan_lose(p, 1, "EOF in the middle of a message (%zu bytes)", left);
	else if (what & BEV_EVENT_EOF)
		chan_lose(p, 0, "EOF");
	else
		chan_lose(p, 0, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	if (p->pe_dead)
		chan_really_free(p);
}

/*
 * Writes as much of the frame and its newline as the socket takes now;
 * the number of bytes written (0 when none, or on an error, which the
 * bufferevent then meets again and reports as the peer's loss).
 */
static size_t
chan_write_through(struct chan_peer *p, const char *json, size_t len)
{
	struct iovec	 iov[2] = {
		{ .iov_base = (void *)json, .iov_len = len },
		{ .iov_base = "\n", .iov_len = 1 },
	};
	struct msghdr	 mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t		 n;

	do
		n = sendmsg(p->pe_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == ENOTSOCK)
		p->pe_nosock = 1;
	return n > 0 ? (size_t)n : 0;
}

int
chan_send_raw(struct chan_peer *p, const char *json, size_t len)
{
	struct evbuffer	*out;
	size_t		 done = 0;

	if (p == NULL || p->pe_dead || p->pe_full)
		return -1;
	out = bufferevent_get_output(p->pe_bev);
	if (evbuffer_get_length(out) + len > CHAN_MAX_QUEUE) {
		p->pe_full = 1;
		if (!p->pe_lost && !p->pe_closing) {
			snprintf(p->pe_err, sizeof(p->pe_err), "output queue full");
			bufferevent_disable(p->pe_bev, EV_READ | EV_WRITE);
			event_active(p->pe_lostev, 0, 0);
		}
		return -1;
	}
	/* Nothing queued before it: straight to the socket, no loop turn. */
	if (evbuffer_get_length(out) == 0 && !p->pe_nosock &&
	    (done = chan_write_through(p, json, len)) == len + 1)
		return 0;
	if (done < len) {
		if (evbuffer_add(out, json + done, len - done) == -1 ||
		    evbuffer_add(out, "\n", 1) == -1)
			return -1;
	} else if (evbuffer_add(out, "\n", 1) == -1)
		return -1;
	if (!(bufferevent_get_enabled(p->pe_bev) & EV_WRITE))
		bufferevent_enable(p->pe_bev, EV_WRITE);
	return 0;
}

int
chan_send_jw(struct chan_peer *p, struct jw *w)
{
	const char	*buf;
	size_t		 len;

	if ((buf = jw_buf(w, &len)) == NULL)
		return -1;
	return chan_send_raw(p, buf, len);
}

int
chan_send_error(struct chan_peer *p, const char *detail)
{
	struct jw	*w = jw_new();
	int		 rc;

	jw_obj_open(w);
	jw_kstr(w, "type", "error");
	jw_kbool(w, "ok", 0);
	jw_kstr(w, "error", detail);
	jw_kstr(w, "detail", detail);
	jw_obj_close(w);
	rc = chan_send_jw(p, w);
	jw_free(w);
	return rc;
}

const char *
chan_peer_error(const struct chan_peer *p)
{
	return p->pe_err[0] != '\0' ? p->pe_err : "no error";
}

int
chan_peer_fd(const struct chan_peer *p)
{
	return p->pe_fd;
}

void
chan_peer_set_read_timeout(struct chan_peer *p, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	bufferevent_set_timeouts(p->pe_bev, ms > 0 ? &tv : NULL, NULL);
}

int
chan_peer_flush(struct chan_peer *p, int timeout_ms)
{
	struct evbuffer	*out = bufferevent_get_output(p->pe_bev);
	uint64_t	 deadline = hf_now_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct pollfd	 pfd = { .fd = p->pe_fd, .events = POLLOUT };
	int		 n;

	while (evbuffer_get_length(out) > 0) {
		if ((n = evbuffer_write(out, p->pe_fd)) > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) ||
		    hf_now_mono_ms() >= deadline)
			return -1;
		(void)poll(&pfd, 1, (int)(deadline - hf_now_mono_ms()));
	}
	return 0;
}

char *
chan_peer_unread(const struct chan_peer *p, size_t *len)
{
	struct evbuffer	*in = bufferevent_get_input(p->pe_bev);
	char		*buf;

	if ((*len = evbuffer_get_length(in)) == 0)
		return NULL;
	buf = xmalloc(*len);
	evbuffer_copyout(in, buf, *len);
	return buf;
}

void
chan_peer_feed(struct chan_peer *p, const char *buf, size_t len)
{
	struct evbuffer *in = bufferevent_get_input(p->pe_bev);

	if (len == 0)
		return;
	/* Frozen at its end but while the bufferevent reads: an add fails. */
	evbuffer_unfreeze(in, 0);
	evbuffer_add(in, buf, len);
	evbuffer_freeze(in, 0);
	bufferevent_trigger(p->pe_bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS |
	    BEV_TRIG_IGNORE_WATERMARKS);
}

int
chan_peer_gone(const struct chan_peer *p)
{
	return p->pe_lost || p->pe_closing || p->pe_dead;
}

size_t
chan_peer_queued(const struct chan_peer *p)
{
	return p->pe_dead ? 0 : evbuffer_get_length(bufferevent_get_output(p->pe_bev));
}

int
chan_peer_replyable(const struct chan_peer *p)
{
	return p->pe_replyable;
}

static void
chan_write_cb(struct bufferevent *bev, void *arg)
{
	struct chan_peer *p = arg;

	if (p->pe_busy) {
		p->pe_dead = 1;
		return;
	}
	chan_really_free(p);
}

void
chan_peer_close_after_flush(struct chan_peer *p)
{
	p->pe_closing = 1;
	p->pe_lost = 1;
	bufferevent_disable(p->pe_bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(p->pe_bev)) == 0) {
		chan_peer_free(p);
		return;
	}
	/* The write callback fires once the output buffer is empty. */
	bufferevent_setwatermark(p->pe_bev, EV_WRITE, 0, 0);
	bufferevent_setcb(p->pe_bev, NULL, chan_write_cb, chan_event_cb, p);
}
