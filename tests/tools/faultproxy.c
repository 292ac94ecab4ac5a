/*
 * faultproxy: a TCP proxy on 127.0.0.1 in front of PostgreSQL that a test
 * switches between faults at run time, so the DB layer is tested against
 * real sockets failing in real ways, not against mocks.
 *
 *   faultproxy TARGET_PORT [LISTEN_PORT]
 *
 * Prints "ready PORT" on stdout, then reads commands on stdin, one per
 * line, answering each with one line ("ok ..." or "error ..."):
 *   pass        forward both ways (the default)
 *   refuse      close the listening socket: connects are refused
 *   reset       RST every live connection (SO_LINGER 0); new ones too
 *   blackhole   accept, forward nothing: live connections freeze mid-stream
 *               (sockets stay open, bytes are held, as on a path that
 *               drops every packet); leaving it forwards what was held
 *               and connects the ones accepted meanwhile to the server
 *   delay N     forward everything N ms late
 *   neon        answer the startup message as Neon's proxy does for a
 *               disabled endpoint: ErrorResponse, severity ERROR, XX000
 *   count       "ok N": connections accepted so far
 * EOF on stdin (the test is gone) ends the proxy: it never outlives its
 * test. Loopback only.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

enum fp_mode { FP_PASS, FP_REFUSE, FP_RESET, FP_BLACKHOLE, FP_DELAY, FP_NEON };

struct fp_chunk {
	TAILQ_ENTRY(fp_chunk)	 ch_entry;
	struct timeval		 ch_due;
	struct evbuffer		*ch_buf;
};
TAILQ_HEAD(fp_chunks, fp_chunk);

struct fp_conn;

/* One direction of a proxied connection. */
struct fp_dir {
	struct fp_conn		*d_conn;
	struct bufferevent	*d_from, *d_to;
	struct fp_chunks	 d_chunks;	/* delayed data */
	struct event		*d_timer;
};

struct fp_conn {
	LIST_ENTRY(fp_conn)	 c_entry;
	struct bufferevent	*c_client, *c_server;
	struct fp_dir		 c_up, c_down;
	int			 c_neon;	/* answering as Neon */
};

static struct event_base	*fp_base;
static LIST_HEAD(, fp_conn)	 fp_conns = LIST_HEAD_INITIALIZER(fp_conns);
static enum fp_mode		 fp_mode = FP_PASS;
static int			 fp_delay_ms;
static int			 fp_target_port;
static int			 fp_port;
static evutil_socket_t		 fp_lfd = -1;
static struct event		*fp_ev_accept;
static unsigned long		 fp_accepted;

static void fp_on_accept(evutil_socket_t, short, void *);

static void
fp_die(const char *what)
{
	fprintf(stderr, "faultproxy: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
fp_listen(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			one = 1;

	fp_lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fp_lfd == -1)
		fp_die("socket");
	setsockopt(fp_lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(fp_port);
	if (bind(fp_lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		fp_die("bind(127.0.0.1)");
	if (listen(fp_lfd, 128) == -1)
		fp_die("listen");
	getsockname(fp_lfd, (struct sockaddr *)&sin, &len);
	fp_port = ntohs(sin.sin_port);
	fp_ev_accept = event_new(fp_base, fp_lfd, EV_READ | EV_PERSIST,
	    fp_on_accept, NULL);
	event_add(fp_ev_accept, NULL);
}

static void
fp_unlisten(void)
{
	if (fp_lfd == -1)
		return;
	event_free(fp_ev_accept);
	close(fp_lfd);
	fp_lfd = -1;
}

static void
fp_dir_clear(struct fp_dir *d)
{
	struct fp_chunk *ch;

	while ((ch = TAILQ_FIRST(&d->d_chunks)) != NULL) {
		TAILQ_REMOVE(&d->d_chunks, ch, ch_entry);
		evbuffer_free(ch->ch_buf);
		free(ch);
	}
	if (d->d_timer != NULL)
		event_free(d->d_timer);
	d->d_timer = NULL;
}

/* Closes both sides; with rst, the kernel sends RST instead of FIN. */
static void
fp_conn_close(struct fp_conn *c, int rst)
{
	struct bufferevent	*bevs[2] = { c->c_client, c->c_server };
	struct linger		 lg = { 1, 0 };
	int			 i;

	for (i = 0; i < 2; i++) {
		if (bevs[i] == NULL)
			continue;
		if (rst)
			setsockopt(bufferevent_getfd(bevs[i]), SOL_SOCKET,
			    SO_LINGER, &lg, sizeof(lg));
		bufferevent_free(bevs[i]);
	}
	fp_dir_clear(&c->c_up);
	fp_dir_clear(&c->c_down);
	LIST_REMOVE(c, c_entry);
	free(c);
}

static void
fp_dir_flush(evutil_socket_t fd, short what, void *arg)
{
	struct fp_dir	*d = arg;
	struct fp_chunk	*ch;
	struct timeval	 now, left;

	event_base_gettimeofday_cached(fp_base, &now);
	while ((ch = TAILQ_FIRST(&d->d_chunks)) != NULL) {
		if (evutil_timercmp(&ch->ch_due, &now, >)) {
			evutil_timersub(&ch->ch_due, &now, &left);
			evtimer_add(d->d_timer, &left);
			return;
		}
		TAILQ_REMOVE(&d->d_chunks, ch, ch_entry);
		if (d->d_to != NULL)
			bufferevent_write_buffer(d->d_to, ch->ch_buf);
		evbuffer_free(ch->ch_buf);
		free(ch);
	}
}

static void
fp_dir_delay(struct fp_dir *d, struct evbuffer *in)
{
	struct fp_chunk	*ch = calloc(1, sizeof(*ch));
	struct timeval	 now, dl = { fp_delay_ms / 1000, (fp_delay_ms % 1000) * 1000 };

	ch->ch_buf = evbuffer_new();
	evbuffer_add_buffer(ch->ch_buf, in);
	event_base_gettimeofday_cached(fp_base, &now);
	evutil_timeradd(&now, &dl, &ch->ch_due);
	TAILQ_INSERT_TAIL(&d->d_chunks, ch, ch_entry);
	if (d->d_timer == NULL)
		d->d_timer = evtimer_new(fp_base, fp_dir_flush, d);
	if (!evtimer_pending(d->d_timer, NULL))
		fp_dir_flush(-1, 0, d);
}

static void
fp_on_read(struct bufferevent *bev, void *arg)
{
	struct fp_dir	*d = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	if (fp_mode == FP_BLACKHOLE)
		return;	/* data stays unread: the peer sees silence */
	if (fp_mode == FP_DELAY || !TAILQ_EMPTY(&d->d_chunks))
		fp_dir_delay(d, in);
	else
		bufferevent_write_buffer(d->d_to, in);
}

static void
fp_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct fp_conn *c = ((struct fp_dir *)arg)->d_conn;

	if (what & BEV_EVENT_CONNECTED)
		return;
	fp_conn_close(c, (what & BEV_EVENT_ERROR) != 0);
}

/* The Neon answer: wait for the startup packet, then the ErrorResponse. */
static void
fp_neon_read(struct bufferevent *bev, void *arg)
{
	static const char	 msg[] = "The endpoint has been disabled. "
	    "Enable it using Neon API and retry.";
	struct fp_conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	unsigned char		 hdr[8];
	uint32_t		 len, code, n;
	char			 body[256];
	size_t			 blen = 0;

	if (evbuffer_copyout(in, hdr, 8) < 8)
		return;
	len = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
	code = (uint32_t)hdr[4] << 24 | hdr[5] << 16 | hdr[6] << 8 | hdr[7];
	if (evbuffer_get_length(in) < len)
		return;
	evbuffer_drain(in, len);
	if (code == 80877103 || code == 80877104) {	/* SSL/GSS request */
		bufferevent_write(bev, "N", 1);
		return;
	}
	body[blen++] = 'S'; memcpy(body + blen, "ERROR", 6); blen += 6;
	body[blen++] = 'V'; memcpy(body + blen, "ERROR", 6); blen += 6;
	body[blen++] = 'C'; memcpy(body + blen, "XX000", 6); blen += 6;
	body[blen++] = 'M'; memcpy(body + blen, msg, sizeof(msg)); blen += sizeof(msg);
	body[blen++] = '\0';
	n = htonl((uint32_t)blen + 4);
	bufferevent_write(bev, "E", 1);
	bufferevent_write(bev, &n, 4);
	bufferevent_write(bev, body, blen);
	c->c_neon = 2;	/* close once written */
}

static void
fp_neon_written(struct bufferevent *bev, void *arg)
{
	struct fp_conn *c = arg;

	if (c->c_neon == 2)
		fp_conn_close(c, 0);
}

static void
fp_neon_event(struct bufferevent *bev, short what, void *arg)
{
	fp_conn_close(arg, 0);
}

static void
fp_start_pass(struct fp_conn *c)
{
	struct sockaddr_in sin;

	c->c_server = bufferevent_socket_new(fp_base, -1, BEV_OPT_CLOSE_ON_FREE);
	c->c_up.d_from = c->c_client;
	c->c_up.d_to = c->c_server;
	c->c_down.d_from = c->c_server;
	c->c_down.d_to = c->c_client;
	bufferevent_setcb(c->c_client, fp_on_read, NULL, fp_on_event, &c->c_up);
	bufferevent_setcb(c->c_server, fp_on_read, NULL, fp_on_event, &c->c_down);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(fp_target_port);
	if (bufferevent_socket_connect(c->c_server, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1) {
		fp_conn_close(c, 1);
		return;
	}
	bufferevent_enable(c->c_client, EV_READ | EV_WRITE);
	bufferevent_enable(c->c_server, EV_READ | EV_WRITE);
	/* bytes that arrived while blackholed */
	if (evbuffer_get_length(bufferevent_get_input(c->c_client)) > 0)
		fp_on_read(c->c_client, &c->c_up);
}

static void
fp_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct fp_conn	*c;
	int		 fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	fp_accepted++;
	c = calloc(1, sizeof(*c));
	TAILQ_INIT(&c->c_up.d_chunks);
	TAILQ_INIT(&c->c_down.d_chunks);
	c->c_up.d_conn = c->c_down.d_conn = c;
	LIST_INSERT_HEAD(&fp_conns, c, c_entry);
	c->c_client = bufferevent_socket_new(fp_base, fd, BEV_OPT_CLOSE_ON_FREE);
	switch (fp_mode) {
	case FP_RESET:
		fp_conn_close(c, 1);
		break;
	case FP_NEON:
		c->c_neon = 1;
		bufferevent_setcb(c->c_client, fp_neon_read, fp_neon_written,
		    fp_neon_event, c);
		bufferevent_enable(c->c_client, EV_READ | EV_WRITE);
		break;
	case FP_BLACKHOLE:
		/* accepted, and then nothing at all */
		bufferevent_setcb(c->c_client, NULL, NULL, fp_on_event, &c->c_up);
		bufferevent_enable(c->c_client, EV_READ);
		break;
	default:
		fp_start_pass(c);
	}
}

/*
 * Data held back while blackholed flows again; connections accepted
 * meanwhile are connected to the server now, their held bytes (a
 * startup packet) sent once it answers.
 */
static void
fp_resume_all(void)
{
	struct fp_conn *c, *next;

	for (c = LIST_FIRST(&fp_conns); c != NULL; c = next) {
		next = LIST_NEXT(c, c_entry);
		if (c->c_neon)
			continue;
		if (c->c_server == NULL) {
			fp_start_pass(c);	/* may close c */
			continue;
		}
		fp_on_read(c->c_client, &c->c_up);
		fp_on_read(c->c_server, &c->c_down);
	}
}

static void
fp_reset_all(void)
{
	struct fp_conn *c;

	while ((c = LIST_FIRST(&fp_conns)) != NULL)
		fp_conn_close(c, 1);
}

static void
fp_command(const char *line, char *reply, size_t size)
{
	enum fp_mode	 prev = fp_mode;

	snprintf(reply, size, "ok");
	if (strcmp(line, "pass") == 0)
		fp_mode = FP_PASS;
	else if (strcmp(line, "refuse") == 0)
		fp_mode = FP_REFUSE;
	else if (strcmp(line, "reset") == 0)
		fp_mode = FP_RESET;
	else if (strcmp(line, "blackhole") == 0)
		fp_mode = FP_BLACKHOLE;
	else if (strcmp(line, "neon") == 0)
		fp_mode = FP_NEON;
	else if (strncmp(line, "delay ", 6) == 0) {
		fp_mode = FP_DELAY;
		fp_delay_ms = atoi(line + 6);
	} else if (strcmp(line, "count") == 0) {
		snprintf(reply, size, "ok %lu", fp_accepted);
		return;
	} else {
		snprintf(reply, size, "error unknown command");
		return;
	}
	if (fp_mode == FP_REFUSE)
		fp_unlisten();
	else if (fp_lfd == -1)
		fp_listen();
	if (fp_mode == FP_RESET)
		fp_reset_all();
	if (prev == FP_BLACKHOLE && fp_mode != FP_BLACKHOLE)
		fp_resume_all();
}

static void
fp_on_stdin(evutil_socket_t fd, short what, void *arg)
{
	static char	 buf[4096];
	static size_t	 len;
	char		 reply[64], *nl;
	ssize_t		 n;

	n = read(fd, buf + len, sizeof(buf) - 1 - len);
	if (n <= 0) {
		fp_reset_all();
		exit(0);
	}
	len += n;
	buf[len] = '\0';
	while ((nl = strchr(buf, '\n')) != NULL) {
		*nl = '\0';
		fp_command(buf, reply, sizeof(reply));
		printf("%s\n", reply);
		fflush(stdout);
		len -= nl + 1 - buf;
		memmove(buf, nl + 1, len + 1);
	}
}

int
main(int argc, char **argv)
{
	struct event *ev;

	if (argc < 2) {
		fprintf(stderr, "usage: faultproxy TARGET_PORT [LISTEN_PORT]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	fp_target_port = atoi(argv[1]);
	fp_port = argc > 2 ? atoi(argv[2]) : 0;
	fp_base = event_base_new();
	fp_listen();
	ev = event_new(fp_base, 0, EV_READ | EV_PERSIST, fp_on_stdin, NULL);
	event_add(ev, NULL);
	printf("ready %d\n", fp_port);
	fflush(stdout);
	event_base_dispatch(fp_base);
	return 0;
}
