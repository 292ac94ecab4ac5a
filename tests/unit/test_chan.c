/*
 * test_chan: the message channel between holdfastd, its workers and
 * holdfastctl (common/chan.c).
 *
 * Guards docs/design.md §3's promise that malformed, oversized, half or unknown
 * messages are rejected (with a reason the owner can send back) and never
 * crash the reader; that several messages in one read and one message
 * over several reads are framed right; and that the worker side speaks the
 * documented protocol (hello with version, heartbeats at the given
 * interval, ready, db state) and treats an unknown message from holdfastd
 * as fatal; that a peer that does not read is dropped once 4 MiB wait
 * for it, not buffered without end; and that messages written straight to
 * the socket or queued when it is full arrive once each, in order.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <event2/event.h>

#include "chan.h"
#include "json.h"
#include "tu.h"
#include "util.h"

#define MAXMSG	16

struct rec {
	int	 nmsg;
	char	*types[MAXMSG];
	int	 lost;
	int	 replyable;
	char	 err[200];
	int	 reply_on_loss;
};

static void
rec_cb(struct chan_peer *p, yajl_val msg, void *arg)
{
	struct rec *r = arg;

	if (msg == NULL) {
		r->lost++;
		r->replyable = chan_peer_replyable(p);
		snprintf(r->err, sizeof(r->err), "%s", chan_peer_error(p));
		if (r->reply_on_loss && r->replyable) {
			chan_send_error(p, chan_peer_error(p));
			chan_peer_close_after_flush(p);
		} else
			chan_peer_free(p);
		return;
	}
	if (r->nmsg < MAXMSG)
		r->types[r->nmsg++] = xstrdup(chan_msg_type(msg));
}

static void
rec_free(struct rec *r)
{
	for (int i = 0; i < r->nmsg; i++)
		free(r->types[i]);
}

/* Runs the loop until *flag >= want or 2 s pass. */
static void
spin(struct event_base *base, int *flag, int want)
{
	uint64_t end = hf_now_mono_ms() + 2000;

	while (*flag < want && hf_now_mono_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

static void
put(int fd, const char *s, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, s + off, len - off);

		if (n == -1 && errno == EAGAIN) {
			usleep(1000);
			continue;
		}
		ck_assert_int_gt(n, 0);
		off += n;
	}
}

static int sv[2];
static struct event_base *base;

static void
setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	base = event_base_new();
}

START_TEST(test_parse_frame)
{
	char		 err[160];
	yajl_val	 v;
	char		*big;

	v = chan_parse_frame("{\"type\":\"ready\"}", 16, err, sizeof(err));
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(chan_msg_type(v), "ready");
	yajl_tree_free(v);
	v = chan_parse_frame("{\"cmd\":\"status\"}", 16, err, sizeof(err));
	ck_assert_str_eq(chan_msg_type(v), "status");
	yajl_tree_free(v);
	ck_assert_ptr_null(chan_parse_frame("[1,2]", 5, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a JSON object"));
	ck_assert_ptr_null(chan_parse_frame("{\"x\":1}", 7, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "type"));
	ck_assert_ptr_null(chan_parse_frame("{\"type\":1}", 10, err, sizeof(err)));
	ck_assert_ptr_null(chan_parse_frame("garbage", 7, err, sizeof(err)));
	ck_assert_ptr_null(chan_parse_frame("{\"type\":\"a\"", 11, err, sizeof(err)));
	ck_assert_ptr_null(chan_parse_frame("{\"type\":\"a\0\"}", 13, err, sizeof(err)));
	big = xmalloc(CHAN_MAX_MSG + 2);
	memset(big, ' ', CHAN_MAX_MSG + 1);
	memcpy(big, "{\"type\":\"a\"}", 12);
	ck_assert_ptr_null(chan_parse_frame(big, CHAN_MAX_MSG + 1, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "too large"));
	/* Exactly at the limit is fine. */
	v = chan_parse_frame(big, CHAN_MAX_MSG, err, sizeof(err));
	ck_assert_ptr_nonnull(v);
	yajl_tree_free(v);
	free(big);
}
END_TEST

START_TEST(test_framing)
{
	struct rec		 r = { 0 };
	struct chan_peer	*p = chan_peer_new(base, sv[0], rec_cb, &r);
	const char		*two = "{\"type\":\"a\"}\n{\"type\":\"b\"}\r\n{\"type\":";

	ck_assert_ptr_nonnull(p);
	put(sv[1], two, strlen(two));
	spin(base, &r.nmsg, 2);
	ck_assert_int_eq(r.nmsg, 2);
	ck_assert_str_eq(r.types[0], "a");
	ck_assert_str_eq(r.types[1], "b");
	put(sv[1], "\"c\"}\n", 5);
	spin(base, &r.nmsg, 3);
	ck_assert_int_eq(r.nmsg, 3);
	ck_assert_str_eq(r.types[2], "c");
	ck_assert_int_eq(r.lost, 0);
	close(sv[1]);
	spin(base, &r.lost, 1);
	ck_assert_int_eq(r.lost, 1);
	ck_assert_str_eq(r.err, "EOF");
	ck_assert_int_eq(r.replyable, 0);
	rec_free(&r);
}
END_TEST

/* Reads what the peer replied until EOF. */
static char *
drain(int fd)
{
	char	*buf = xcalloc(1, 65536);
	size_t	 len = 0;
	ssize_t	 n;

	while (len < 65535 && (n = read(fd, buf + len, 65535 - len)) > 0)
		len += n;
	return buf;
}

static void
check_rejected(const char *input, size_t len, int shut, const char *why)
{
	struct rec	 r = { .reply_on_loss = 1 };
	char		*reply;

	chan_peer_new(base, sv[0], rec_cb, &r);
	put(sv[1], input, len);
	if (shut)
		shutdown(sv[1], SHUT_WR);
	spin(base, &r.lost, 1);
	ck_assert_int_eq(r.lost, 1);
	ck_assert_int_eq(r.replyable, 1);
	ck_assert_msg(strstr(r.err, why) != NULL, "reason \"%s\" lacks \"%s\"", r.err, why);
	/* The owner's error reply reaches the client before the close. */
	for (int i = 0; i < 20; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	reply = drain(sv[1]);
	ck_assert_msg(strstr(reply, "\"type\":\"error\"") != NULL, "reply: %s", reply);
	ck_assert_ptr_nonnull(strstr(reply, why));
	free(reply);
	rec_free(&r);
}

START_TEST(test_garbage)
{
	check_rejected("this is not json\n", 17, 0, "bad message");
}
END_TEST

START_TEST(test_not_object)
{
	check_rejected("[\"type\"]\n", 9, 0, "not a JSON object");
}
END_TEST

START_TEST(test_oversized)
{
	size_t	 len = 1024 * 1024;
	char	*big = xmalloc(len);

	memset(big, 'x', len);
	hf_fd_set_nonblock(sv[1]);
	/* Written from a child: the reader stops reading at the limit. */
	if (fork() == 0) {
		hf_fd_set_nonblock(sv[1]);
		for (size_t off = 0; off < len; ) {
			ssize_t n = write(sv[1], big + off, len - off);

			if (n > 0)
				off += n;
			else if (n == -1 && errno != EAGAIN)
				_exit(0);
			else
				usleep(1000);
		}
		_exit(0);
	}
	{
		struct rec r = { 0 };

		chan_peer_new(base, sv[0], rec_cb, &r);
		spin(base, &r.lost, 1);
		ck_assert_int_eq(r.lost, 1);
		ck_assert_int_eq(r.replyable, 1);
		ck_assert_ptr_nonnull(strstr(r.err, "too large"));
	}
	free(big);
}
END_TEST

/* The send queue limit of docs/deployment.md (CHAN_MAX_QUEUE in chan.c). */
#define DOC_MAX_QUEUE	(4 * 1024 * 1024)

/* A peer that never reads: what is sent to it queues up to 4 MiB, then
 * sends fail and the peer is dropped, not buffered without end. */
START_TEST(test_send_queue_limit)
{
	struct rec		 r = { 0 };
	struct chan_peer	*p = chan_peer_new(base, sv[0], rec_cb, &r);
	size_t			 len = 32 * 1024 - 1, queued = 0;	/* + "\n" */
	char			*msg = xmalloc(len);
	int			 i;

	memset(msg, ' ', len);
	memcpy(msg, "{\"type\":\"a\"}", 12);
	/* the loop does not run: all of it stays in the output queue */
	for (i = 0; i < 4 * DOC_MAX_QUEUE / (int)(len + 1); i++) {
		if (chan_send_raw(p, msg, len) == -1)
			break;
		queued += len + 1;
	}
	/* What the socket took at once (written through) is not queued. */
	ck_assert_int_eq(ioctl(sv[1], FIONREAD, &i), 0);
	ck_assert_int_eq(queued, chan_peer_queued(p) + i);
	queued = chan_peer_queued(p);
	ck_assert_msg(queued <= DOC_MAX_QUEUE && queued > DOC_MAX_QUEUE - (len + 1),
	    "%zu bytes queued before a send failed", queued);
	/* Once over, nothing more is taken, not even a small message. */
	ck_assert_int_eq(chan_send_raw(p, "{\"type\":\"b\"}", 12), -1);
	spin(base, &r.lost, 1);
	ck_assert_int_eq(r.lost, 1);
	ck_assert_str_eq(r.err, "output queue full");
	free(msg);
	rec_free(&r);
}
END_TEST

/* Sends frame i: a "seq" and a pad of a length that varies with i. */
static int
send_seq(struct chan_peer *p, int i)
{
	char	 buf[8192];
	int	 pad = (i * 977) % 6000, n;

	n = snprintf(buf, sizeof(buf), "{\"type\":\"m\",\"seq\":%d,\"pad\":\"", i);
	memset(buf + n, 'a' + i % 26, pad);
	n += pad;
	n += snprintf(buf + n, sizeof(buf) - n, "\"}");
	return chan_send_raw(p, buf, n);
}

/* Checks the frames read so far (lines in buf) are seq *next, *next+1...
 * in order, each whole; keeps an unfinished line for later. */
static void
check_seq(char *buf, size_t *len, int *next)
{
	char	*line = buf, *nl;

	while ((nl = memchr(line, '\n', buf + *len - line)) != NULL) {
		char		 err[160];
		const char	*pad;
		yajl_val	 v = chan_parse_frame(line, nl - line, err, sizeof(err));
		long long	 seq = -1;

		ck_assert_msg(v != NULL, "frame %d: %s", *next, err);
		ck_assert_int_eq(json_get_int(v, "seq", &seq), 0);
		ck_assert_int_eq(seq, *next);
		pad = json_get_str(v, "pad");
		ck_assert_int_eq(strlen(pad), (size_t)((seq * 977) % 6000));
		/* One assertion a frame: check records each one with a write. */
		ck_assert_int_eq(strspn(pad, (char []){ 'a' + seq % 26, '\0' }),
		    strlen(pad));
		yajl_tree_free(v);
		(*next)++;
		line = nl + 1;
	}
	*len -= line - buf;
	memmove(buf, line, *len);
}

/*
 * A message goes straight to the socket while nothing is queued before it;
 * what the socket does not take (EAGAIN, or half a frame) is queued and
 * written from the loop. Sends keep coming while the reader drains slowly:
 * every frame must arrive once, whole, in order, whichever way it went.
 */
START_TEST(test_write_through_order)
{
	struct rec		 r = { 0 };
	struct chan_peer	*p = chan_peer_new(base, sv[0], rec_cb, &r);
	size_t			 cap = 1 << 20, len = 0;
	char			*buf = xmalloc(cap);
	int			 sent = 0, next = 0, avail, through = 0;
	uint64_t		 end;
	ssize_t			 n;

	hf_fd_set_nonblock(sv[1]);
	/* Idle: only the read event is in the loop, no EPOLLOUT wake-ups. */
	ck_assert_int_eq(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 1);
	/* Nothing queued: written through, readable without a loop turn. */
	ck_assert_int_eq(send_seq(p, sent++), 0);
	ck_assert_int_eq(chan_peer_queued(p), 0);
	ck_assert_int_eq(ioctl(sv[1], FIONREAD, &avail), 0);
	ck_assert_int_gt(avail, 0);
	/* Fill the socket until the rest has to be queued. */
	while (chan_peer_queued(p) == 0)
		ck_assert_int_eq(send_seq(p, sent++), 0);
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(send_seq(p, sent++), 0);
	ck_assert_int_gt(chan_peer_queued(p), 0);
	ck_assert_int_eq(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 2);
	/* Drain a bit faster than frames come (about 3000 bytes each), so the
	 * sends go through the queue first and straight out later on. */
	end = hf_now_mono_ms() + 10000;
	while (next < sent && hf_now_mono_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if ((n = read(sv[1], buf + len, 8000)) > 0) {
			len += n;
			check_seq(buf, &len, &next);
		}
		if (sent < 2000)
			ck_assert_int_eq(send_seq(p, sent++), 0);
		if (chan_peer_queued(p) == 0)
			through++;
	}
	ck_assert_int_gt(through, 0);
	ck_assert_int_eq(next, sent);
	ck_assert_int_eq(len, 0);
	ck_assert_int_eq(chan_peer_queued(p), 0);
	for (int i = 0; i < 5; i++)	/* the write event sees the queue empty */
		event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 1);
	/* Drained: the next one is written through again. */
	ck_assert_int_eq(send_seq(p, sent++), 0);
	ck_assert_int_eq(chan_peer_queued(p), 0);
	ck_assert_int_eq(r.lost, 0);
	chan_peer_free(p);
	free(buf);
	rec_free(&r);
}
END_TEST

/* A peer's first frames are dispatched by chan_peer_read_now without the
 * loop; an unfinished frame still goes the loop's way (EOF inside it). */
START_TEST(test_read_now)
{
	struct rec		 r = { .reply_on_loss = 1 };
	struct chan_peer	*p = chan_peer_new(base, sv[0], rec_cb, &r);
	char			*reply;

	chan_peer_read_now(p);		/* nothing there yet */
	ck_assert_int_eq(r.nmsg, 0);
	ck_assert_int_eq(r.lost, 0);
	put(sv[1], "{\"type\":\"a\"}\n{\"type\":\"b\"}\n{\"type\":", 35);
	chan_peer_read_now(p);
	ck_assert_int_eq(r.nmsg, 2);
	ck_assert_str_eq(r.types[1], "b");
	shutdown(sv[1], SHUT_WR);
	spin(base, &r.lost, 1);
	ck_assert_int_eq(r.replyable, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "EOF in the middle"));
	for (int i = 0; i < 20; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	reply = drain(sv[1]);
	ck_assert_ptr_nonnull(strstr(reply, "EOF in the middle"));
	free(reply);
	rec_free(&r);
}
END_TEST

/* Bytes read before an upgrade are given to the new peer and dispatched
 * from the loop, ahead of what the socket brings after them. */
START_TEST(test_feed)
{
	struct rec		 r = { 0 };
	struct chan_peer	*p = chan_peer_new(base, sv[0], rec_cb, &r);

	chan_peer_feed(p, "{\"type\":\"a\"}\n{\"type\"", 20);
	put(sv[1], ":\"b\"}\n", 6);
	spin(base, &r.nmsg, 2);
	ck_assert_int_eq(r.nmsg, 2);
	ck_assert_str_eq(r.types[0], "a");
	ck_assert_str_eq(r.types[1], "b");
	chan_peer_free(p);
	rec_free(&r);
}
END_TEST

START_TEST(test_half_message)
{
	check_rejected("{\"type\":\"rea", 12, 1, "EOF in the middle");
}
END_TEST

static int freed_after;

static void
free_first_cb(struct chan_peer *p, yajl_val msg, void *arg)
{
	ck_assert_ptr_nonnull(msg);	/* no loss report after our own free */
	freed_after++;
	chan_peer_free(p);
}

START_TEST(test_half_message_timeout)
{
	struct rec		 r = { 0 };
	struct chan_peer	*p = chan_peer_new(base, sv[0], rec_cb, &r);
	uint64_t		 end = hf_now_mono_ms() + 300;

	chan_peer_set_read_timeout(p, 50);
	/* Idle past the timeout: still connected. */
	while (hf_now_mono_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	ck_assert_int_eq(r.lost, 0);
	put(sv[1], "{\"type\":\"a\"}\n", 13);
	spin(base, &r.nmsg, 1);
	ck_assert_int_eq(r.nmsg, 1);
	/* Half a message left hanging: lost, with a reason to send back. */
	put(sv[1], "{\"type\":", 8);
	spin(base, &r.lost, 1);
	ck_assert_int_eq(r.lost, 1);
	ck_assert_int_eq(r.replyable, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "timed out in the middle"));
	rec_free(&r);
}
END_TEST

START_TEST(test_free_inside_dispatch)
{
	/* The owner frees the peer on the first of several buffered frames:
	 * no later frame is dispatched and nothing is touched after the free
	 * (ASan builds catch the latter). */
	const char *three = "{\"type\":\"a\"}\n{\"type\":\"b\"}\n{\"type\":\"c\"}\n";

	chan_peer_new(base, sv[0], free_first_cb, NULL);
	put(sv[1], three, strlen(three));
	spin(base, &freed_after, 1);
	for (int i = 0; i < 10; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(freed_after, 1);
	/* The descriptor was closed with the peer. */
	ck_assert_int_eq(write(sv[1], "x", 1), -1);
}
END_TEST

/* ---- worker side --------------------------------------------------- */

static char *
read_line(int fd)
{
	static char	 buf[8192];
	static size_t	 len;
	char		*nl, *out;
	ssize_t		 n;

	while ((nl = memchr(buf, '\n', len)) == NULL) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			return NULL;
		len += n;
	}
	out = xstrndup(buf, nl - buf);
	len -= nl + 1 - buf;
	memmove(buf, nl + 1, len);
	return out;
}

static yajl_val
read_msg(int fd)
{
	char		*line = read_line(fd), err[128];
	yajl_val	 v;

	ck_assert_ptr_nonnull(line);
	v = json_parse(line, strlen(line), err, sizeof(err));
	ck_assert_msg(v != NULL, "bad line %s", line);
	free(line);
	return v;
}

static void
worker_open(int hb_ms)
{
	char fd[16], hb[16];

	snprintf(fd, sizeof(fd), "%d", sv[0]);
	snprintf(hb, sizeof(hb), "%d", hb_ms);
	setenv("HOLDFAST_CHANNEL_FD", fd, 1);
	setenv("HOLDFAST_HEARTBEAT_MS", hb, 1);
	setenv("HOLDFAST_INSTANCE", "test:1", 1);
	ck_assert_int_eq(chan_worker_open(base, "holdfast-test", NULL, NULL), 1);
	ck_assert_ptr_null(getenv("HOLDFAST_CHANNEL_FD"));
}

START_TEST(test_worker_protocol)
{
	yajl_val	 v;
	long long	 n;
	struct timeval	 tv = { 0, 200000 };

	worker_open(20);
	event_base_loop(base, EVLOOP_NONBLOCK);
	v = read_msg(sv[1]);
	ck_assert_str_eq(json_get_str(v, "type"), "hello");
	ck_assert_int_eq(json_get_int(v, "version", &n), 0);
	ck_assert_int_eq(n, CHAN_PROTO_VERSION);
	ck_assert_str_eq(json_get_str(v, "instance"), "test:1");
	ck_assert_int_eq(json_get_int(v, "pid", &n), 0);
	ck_assert_int_eq(n, getpid());
	yajl_tree_free(v);
	chan_worker_ready();
	chan_worker_db(0, "loop", "NeonEndpointDisabled", 3, "endpoint disabled");
	event_base_loop(base, EVLOOP_NONBLOCK);
	v = read_msg(sv[1]);
	ck_assert_str_eq(json_get_str(v, "type"), "ready");
	yajl_tree_free(v);
	v = read_msg(sv[1]);
	ck_assert_str_eq(json_get_str(v, "type"), "db");
	ck_assert_str_eq(json_get_str(v, "state"), "down");
	ck_assert_str_eq(json_get_str(v, "reason"), "NeonEndpointDisabled");
	ck_assert_int_eq(json_get_int(v, "attempts", &n), 0);
	ck_assert_int_eq(n, 3);
	yajl_tree_free(v);
	/* Heartbeats every 20 ms: several within 200 ms. */
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	for (int i = 0; i < 3; i++) {
		v = read_msg(sv[1]);
		ck_assert_str_eq(json_get_str(v, "type"), "heartbeat");
		yajl_tree_free(v);
	}
	chan_worker_close();
}
END_TEST

static int lost_called;

static void
on_lost(void *arg)
{
	lost_called++;
}

START_TEST(test_worker_lost)
{
	char fd[16];

	snprintf(fd, sizeof(fd), "%d", sv[0]);
	setenv("HOLDFAST_CHANNEL_FD", fd, 1);
	ck_assert_int_eq(chan_worker_open(base, "t", on_lost, NULL), 1);
	close(sv[1]);
	spin(base, &lost_called, 1);
	ck_assert_int_eq(lost_called, 1);
	ck_assert_int_eq(chan_worker_connected(), 0);
}
END_TEST

/* Runs the worker's loop for ms. */
static void
worker_run_ms(int ms)
{
	for (int i = 0; i < ms; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

/* 1 when fd has something to read within ms. */
static int
readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

static void
expect_hello(void)
{
	yajl_val v;

	event_base_loop(base, EVLOOP_NONBLOCK);	/* libevent may hold it queued */
	v = read_msg(sv[1]);

	ck_assert_str_eq(json_get_str(v, "type"), "hello");
	yajl_tree_free(v);
}

/* A newer holdfastd may send types (and members) an older worker does not
 * know: the worker ignores them and keeps its channel (docs/protocol.md). */
START_TEST(test_worker_ignores_unknown)
{
	static const char future[] =
	    "{\"type\":\"from_a_newer_holdfastd\",\"x\":{\"deep\":[1,2.5,null]}}\n"
	    "{\"type\":\"welcome\",\"version\":7,\"heartbeat_ms\":1000,\"extra\":true}\n";
	yajl_val v;

	worker_open(1000);
	expect_hello();
	put(sv[1], future, strlen(future));
	worker_run_ms(50);
	ck_assert_int_eq(chan_worker_connected(), 1);
	chan_worker_ready();
	event_base_loop(base, EVLOOP_NONBLOCK);
	v = read_msg(sv[1]);
	ck_assert_str_eq(json_get_str(v, "type"), "ready");
	yajl_tree_free(v);
	chan_worker_close();
}
END_TEST

/* "status" is protocol 2: kept until the welcome, sent when it says 2. */
START_TEST(test_worker_status_v2)
{
	static const char welcome[] = "{\"type\":\"welcome\",\"version\":2,\"heartbeat_ms\":1000}\n";
	yajl_val v;

	worker_open(1000);
	expect_hello();
	chan_worker_status("first");
	chan_worker_status("loading \"cache\" \xc3\xa9\n");
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_msg(!readable(sv[1], 50), "status sent before the welcome");
	put(sv[1], welcome, strlen(welcome));
	worker_run_ms(20);
	v = read_msg(sv[1]);
	ck_assert_str_eq(json_get_str(v, "type"), "status");
	ck_assert_str_eq(json_get_str(v, "text"), "loading \"cache\" \xc3\xa9\n");
	yajl_tree_free(v);
	ck_assert_msg(!readable(sv[1], 20), "more than the last status sent");
	chan_worker_status("now");
	v = read_msg(sv[1]);
	ck_assert_str_eq(json_get_str(v, "text"), "now");
	yajl_tree_free(v);
	chan_worker_close();
}
END_TEST

/* An older holdfastd (welcome version 1) never gets a "status". */
START_TEST(test_worker_status_v1)
{
	static const char welcome[] = "{\"type\":\"welcome\",\"version\":1,\"heartbeat_ms\":1000}\n";
	yajl_val v;

	worker_open(1000);
	expect_hello();
	chan_worker_status("kept for protocol 2");
	put(sv[1], welcome, strlen(welcome));
	worker_run_ms(20);
	chan_worker_status("again");
	chan_worker_ready();
	v = read_msg(sv[1]);
	ck_assert_str_eq(json_get_str(v, "type"), "ready");
	yajl_tree_free(v);
	chan_worker_close();
}
END_TEST

static void
worker_open_lost(void)
{
	char fd[16];

	snprintf(fd, sizeof(fd), "%d", sv[0]);
	setenv("HOLDFAST_CHANNEL_FD", fd, 1);
	ck_assert_int_eq(chan_worker_open(base, "t", on_lost, NULL), 1);
}

/* A frame over 64 KiB from holdfastd, or one that is not a JSON object
 * with a string "type", loses the channel. */
START_TEST(test_worker_oversized_frame)
{
	char *big = xmalloc(70000);

	memset(big, ' ', 70000);
	worker_open_lost();
	put(sv[1], big, 70000);
	spin(base, &lost_called, 1);
	ck_assert_int_eq(lost_called, 1);
	ck_assert_int_eq(chan_worker_connected(), 0);
	chan_worker_close();
	free(big);
}
END_TEST

START_TEST(test_worker_bad_frame)
{
	worker_open_lost();
	put(sv[1], "[1]\n", 4);
	spin(base, &lost_called, 1);
	ck_assert_int_eq(lost_called, 1);
	ck_assert_int_eq(chan_worker_connected(), 0);
	chan_worker_close();
}
END_TEST

START_TEST(test_worker_env)
{
	unsetenv("HOLDFAST_CHANNEL_FD");
	ck_assert_int_eq(chan_worker_open(base, "t", NULL, NULL), 0);
	chan_worker_ready();	/* a no-op without a supervisor */
	setenv("HOLDFAST_CHANNEL_FD", "abc", 1);
	ck_assert_int_eq(chan_worker_open(base, "t", NULL, NULL), -1);
	setenv("HOLDFAST_CHANNEL_FD", "999", 1);
	ck_assert_int_eq(chan_worker_open(base, "t", NULL, NULL), -1);
	unsetenv("HOLDFAST_INSTANCE");
	ck_assert_str_eq(chan_worker_instance("dflt"), "dflt");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("chan");
	TCase	*tc = tu_tcase(s, "chan", 0);

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_parse_frame);
	tcase_add_test(tc, test_framing);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_not_object);
	tcase_add_test(tc, test_oversized);
	tcase_add_test(tc, test_send_queue_limit);
	tcase_add_test(tc, test_write_through_order);
	tcase_add_test(tc, test_read_now);
	tcase_add_test(tc, test_feed);
	tcase_add_test(tc, test_half_message);
	tcase_add_test(tc, test_half_message_timeout);
	tcase_add_test(tc, test_free_inside_dispatch);
	tcase_add_test(tc, test_worker_protocol);
	tcase_add_test(tc, test_worker_lost);
	tcase_add_test(tc, test_worker_ignores_unknown);
	tcase_add_test(tc, test_worker_status_v2);
	tcase_add_test(tc, test_worker_status_v1);
	tcase_add_test(tc, test_worker_oversized_frame);
	tcase_add_test(tc, test_worker_bad_frame);
	tcase_add_test(tc, test_worker_env);
	return tu_run(s);
}
