/*
 * fuzz_chan: the channel / control-socket message layer (common/chan.c) on
 * an arbitrary byte stream, the way a misbehaving worker or holdfastctl
 * client would send it.
 *
 * The input is first given whole to chan_parse_frame(), then streamed over
 * a real socketpair into a chan_peer driven by libevent, with a dispatch
 * callback shaped like holdfastd's (sup_chan.c / sup_ctl.c): it reads the
 * members the supervisor reads, answers with a reply or an error, and on
 * loss replies to a replyable peer and closes after flush, else frees it.
 * Checked: every dispatched message has a string type, the loss is
 * reported exactly once, and the peer always ends (no hang, no leak).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "chan.h"
#include "fuzz.h"
#include "json.h"
#include "log.h"

struct fuzz_chan {
	const uint8_t	*in;		/* bytes still to send */
	size_t		 inlen;
	int		 fd;		/* our end of the socketpair */
	int		 losses;	/* NULL messages seen */
	int		 eof;		/* the peer closed its end */
	struct event	*wev, *rev;
};

/* What holdfastd reads of a worker's or client's message. */
static void
fuzz_chan_read(struct chan_peer *peer, yajl_val msg)
{
	const char	*type = chan_msg_type(msg);
	long long	 n;
	struct jw	*w;

	if (type == NULL)
		abort();	/* chan_parse_frame promised a type */
	(void)json_get_str(msg, "state");
	(void)json_get_int(msg, "attempts", &n);
	(void)json_get_array(msg, "names");
	if (strcmp(type, "hello") == 0 && json_get_int(msg, "version", &n) == 0) {
		w = jw_new();
		jw_obj_open(w);
		jw_kstr(w, "type", "welcome");
		jw_kint(w, "version", CHAN_PROTO_VERSION);
		jw_obj_close(w);
		chan_send_jw(peer, w);
		jw_free(w);
	} else if (strcmp(type, "heartbeat") != 0) {
		chan_send_error(peer, type);
	}
}

static void
fuzz_chan_dispatch(struct chan_peer *peer, yajl_val msg, void *arg)
{
	struct fuzz_chan *fc = arg;

	if (msg != NULL) {
		if (fc->losses > 0)
			abort();	/* a message after the loss */
		fuzz_chan_read(peer, msg);
		return;
	}
	if (++fc->losses > 1)
		abort();	/* the loss is reported once */
	if (chan_peer_replyable(peer)) {
		chan_send_error(peer, chan_peer_error(peer));
		chan_peer_close_after_flush(peer);
	} else
		chan_peer_free(peer);
}

/* Our end: feed the input, then half-close. */
static void
fuzz_chan_write(evutil_socket_t fd, short what, void *arg)
{
	struct fuzz_chan	*fc = arg;
	ssize_t			 n;

	n = send(fd, fc->in, fc->inlen, MSG_NOSIGNAL);
	if (n > 0) {
		fc->in += n;
		fc->inlen -= (size_t)n;
	} else if (n == -1 && errno != EAGAIN)
		fc->inlen = 0;	/* the peer is gone */
	if (fc->inlen == 0)
		shutdown(fd, SHUT_WR);
	else
		event_add(fc->wev, NULL);
}

/* Drain the replies until the peer closes its end. */
static void
fuzz_chan_read_replies(evutil_socket_t fd, short what, void *arg)
{
	struct fuzz_chan	*fc = arg;
	char			 buf[65536];
	ssize_t			 n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		;
	if (n == 0 || (n == -1 && errno != EAGAIN))
		fc->eof = 1;
}

static struct event_base *
fuzz_chan_base(void)
{
	static struct event_base *base;

	if (base == NULL) {
		log_set_level(LOG_LVL_ERROR);
		if ((base = event_base_new()) == NULL)
			abort();
	}
	return base;
}

static void
fuzz_chan_stream(const uint8_t *data, size_t size)
{
	struct event_base	*base = fuzz_chan_base();
	struct fuzz_chan	 fc = { .in = data, .inlen = size };
	int			 sv[2], loops = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	fc.fd = sv[1];
	chan_peer_new(base, sv[0], fuzz_chan_dispatch, &fc);
	fc.wev = event_new(base, sv[1], EV_WRITE, fuzz_chan_write, &fc);
	fc.rev = event_new(base, sv[1], EV_READ | EV_PERSIST, fuzz_chan_read_replies, &fc);
	if (size == 0)
		shutdown(sv[1], SHUT_WR);
	else
		event_add(fc.wev, NULL);
	event_add(fc.rev, NULL);
	while (!fc.eof) {
		if (++loops > 100000) {
			fprintf(stderr, "fuzz_chan: the peer never ended\n");
			abort();
		}
		event_base_loop(base, EVLOOP_ONCE);
	}
	if (fc.losses != 1)
		abort();	/* the peer closed without reporting its loss */
	event_free(fc.wev);
	event_free(fc.rev);
	close(sv[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		err[160];
	yajl_val	msg;

	if ((msg = chan_parse_frame((const char *)data, size, err, sizeof(err))) != NULL) {
		if (chan_msg_type(msg) == NULL)
			abort();
		yajl_tree_free(msg);
	} else if (err[0] == '\0')
		abort();
	fuzz_chan_stream(data, size);
	return 0;
}
