/*
 * hsrv: the bounded HTTP/1.1 server (see hsrv.h): accept with limits,
 * one state machine per connection, deadlines on one timer each.
 *
 * A connection is IDLE (kept alive, no byte of the next request yet),
 * READ (a request arriving), WAIT (the request is with the caller: no
 * reading, so pipelined requests are answered in order), WRITE (a reply
 * that did not fit the socket) or LINGER (an error was answered: the rest
 * of what the client sends is read and dropped for a moment, so the
 * client sees the answer rather than a reset).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "hsrv.h"
#include "log.h"
#include "util.h"

#define HSRV_RBUF		8192
#define HSRV_ADDR_BUCKETS	1024
#define HSRV_ACCEPT_BATCH	64
#define HSRV_LINGER_MS		1000
#define HSRV_XHDR		512

enum { C_IDLE, C_READ, C_WAIT, C_WRITE, C_LINGER };

struct hsrv_addr {
	struct hsrv_addr	*next;
	unsigned char		 key[17];	/* family, then the address */
	int			 n;
};

struct hsrv_req {
	struct hsrv_conn	*c;
	char			 xhdr[HSRV_XHDR];
	size_t			 xlen;
};

struct hsrv_conn {
	struct hsrv		*srv;
	LIST_ENTRY(hsrv_conn)	 link;
	int			 fd, state, in_cb, dead, eof, close_after;
	int			 is_head, got_bytes, head_done;
	uint64_t		 start_ms;
	struct event		*rev, *wev, *tev;
	char			*rbuf;
	size_t			 roff, rlen;
	struct hsrv_parser	 p;
	struct evbuffer		*out;
	struct hsrv_addr	*addr;
	char			 peer[INET6_ADDRSTRLEN];
	struct hsrv_req		 req;
};

struct hsrv {
	struct event_base	*base;
	int			 lfd, reserve_fd, stopping, nconns;
	struct event		*aev, *pause_ev;
	struct hsrv_limits	 lim;
	struct hsrv_cbs		 cbs;
	LIST_HEAD(, hsrv_conn)	 conns;
	int64_t			 body_mem;
	uint64_t		 seed;
	struct hsrv_addr	*addrs[HSRV_ADDR_BUCKETS];
	struct log_ratelimit	 rl_accept, rl_refuse;
};

static void hsrv_process(struct hsrv_conn *);
static void hsrv_queue(struct hsrv_conn *);

/* ---- per-address counts ---- */

static size_t
hsrv_addr_key(const struct sockaddr_storage *ss, unsigned char key[17])
{
	memset(key, 0, 17);
	key[0] = (unsigned char)ss->ss_family;
	if (ss->ss_family == AF_INET6)
		memcpy(key + 1, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	else if (ss->ss_family == AF_INET)
		memcpy(key + 1, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	return 17;
}

static struct hsrv_addr **
hsrv_addr_slot(struct hsrv *srv, const unsigned char key[17])
{
	uint64_t		 h = srv->seed;
	struct hsrv_addr	**pp;

	for (int i = 0; i < 17; i++)
		h = (h ^ key[i]) * 0x100000001b3ULL;
	h ^= h >> 29;
	for (pp = &srv->addrs[h % HSRV_ADDR_BUCKETS]; *pp != NULL; pp = &(*pp)->next)
		if (memcmp((*pp)->key, key, 17) == 0)
			break;
	return pp;
}

static void
hsrv_addr_put(struct hsrv *srv, struct hsrv_addr *a)
{
	struct hsrv_addr **pp;

	if (a == NULL || --a->n > 0)
		return;
	pp = hsrv_addr_slot(srv, a->key);
	*pp = a->next;
	free(a);
}

/* ---- connections: life and death ---- */

static void
hsrv_conn_free(struct hsrv_conn *c)
{
	struct hsrv *srv = c->srv;

	if (c->in_cb) {
		c->dead = 1;
		return;
	}
	LIST_REMOVE(c, link);
	srv->nconns--;
	hsrv_addr_put(srv, c->addr);
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->tev);
	close(c->fd);
	hsrv_parser_free(&c->p);
	evbuffer_free(c->out);
	free(c->rbuf);
	free(c);
}

static void
hsrv_arm(struct hsrv_conn *c, uint64_t deadline_ms)
{
	uint64_t	now = hf_now_mono_ms();
	uint64_t	ms = deadline_ms > now ? deadline_ms - now : 0;
	struct timeval	tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	event_add(c->tev, &tv);
}

/* The deadline of a request being read: head, then whole request. */
static void
hsrv_arm_request(struct hsrv_conn *c)
{
	const struct hsrv_limits *l = &c->srv->lim;
	uint64_t d = c->start_ms + (uint64_t)l->request_timeout_ms;

	if (!c->head_done && c->start_ms + (uint64_t)l->header_timeout_ms < d)
		d = c->start_ms + (uint64_t)l->header_timeout_ms;
	hsrv_arm(c, d);
}

static void
hsrv_begin_request(struct hsrv_conn *c)
{
	c->state = C_READ;
	c->head_done = 0;
	c->start_ms = hf_now_mono_ms();
	hsrv_arm_request(c);
}

static int
hsrv_mem(void *arg, int64_t delta)
{
	struct hsrv *srv = arg;

	if (delta > 0 && srv->body_mem + delta > srv->lim.max_body_memory)
		return -1;
	srv->body_mem += delta;
	return 0;
}

/* ---- replies ---- */

static void
hsrv_head_out(struct hsrv_conn *c, int status, const char *ctype, size_t len)
{
	int keep = !c->close_after;

	evbuffer_add_printf(c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%s%.*s\r\n", status, hsrv_reason(status), ctype,
	    len, !keep ? "Connection: close\r\n" :
	    c->p.minor == 0 ? "Connection: keep-alive\r\n" : "",
	    (int)c->req.xlen, c->req.xhdr);
}

static size_t
hsrv_error_json(char *buf, size_t size, int status, const char *detail)
{
	int n = snprintf(buf, size, "{\"error\":\"%s\",\"detail\":\"%s\",\"status\":%d}",
	    hsrv_status_word(status), detail, status);

	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* Answers an error of the server's own and closes after it (lingering). */
static void
hsrv_error(struct hsrv_conn *c, int status, const char *detail)
{
	struct hsrv	*srv = c->srv;
	char		 body[256];
	size_t		 len = hsrv_error_json(body, sizeof(body), status, detail);

	if (srv->cbs.refused != NULL)
		srv->cbs.refused(status, c->p.method != NULL ? c->p.method : "-",
		    c->p.target != NULL ? c->p.target : "-", c->peer, srv->cbs.arg);
	c->req.xlen = 0;
	c->close_after = 1;
	c->is_head = c->p.method != NULL && strcmp(c->p.method, "HEAD") == 0;
	hsrv_head_out(c, status, "application/json", len);
	if (!c->is_head)
		evbuffer_add(c->out, body, len);
	hsrv_parser_reset(&c->p);
	hsrv_queue(c);
}

/* The reply is out: linger, close, or wait for the next request. */
static void
hsrv_written(struct hsrv_conn *c)
{
	event_del(c->wev);
	if (c->close_after) {
		shutdown(c->fd, SHUT_WR);
		c->state = C_LINGER;
		c->roff = c->rlen = 0;
		event_add(c->rev, NULL);
		hsrv_arm(c, hf_now_mono_ms() + HSRV_LINGER_MS);
		return;
	}
	c->state = C_IDLE;
	if (c->roff == c->rlen && c->eof) {
		hsrv_conn_free(c);
		return;
	}
	hsrv_arm(c, hf_now_mono_ms() + (uint64_t)c->srv->lim.keepalive_timeout_ms);
	event_add(c->rev, NULL);
	if (c->roff < c->rlen)
		event_active(c->rev, EV_READ, 0);
}

static void
hsrv_flush(struct hsrv_conn *c)
{
	while (evbuffer_get_length(c->out) > 0) {
		if (evbuffer_write(c->out, c->fd) > 0)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			event_del(c->rev);
			event_add(c->wev, NULL);
			hsrv_arm(c, hf_now_mono_ms() + (uint64_t)c->srv->lim.request_timeout_ms);
			return;
		}
		hsrv_conn_free(c);
		return;
	}
	hsrv_written(c);
}

/*
 * Replies are written from the write event, made active here: later in
 * the same loop iteration, after what the caller queued before it (the
 * access log line is written before its reply can arrive).
 */
static void
hsrv_queue(struct hsrv_conn *c)
{
	c->state = C_WRITE;
	event_active(c->wev, EV_WRITE, 0);
}

void
hsrv_reply(struct hsrv_req *req, int status, const char *ctype,
    const char *body, size_t len)
{
	struct hsrv_conn *c = req->c;

	c->close_after = !c->p.keepalive || c->srv->stopping || c->eof;
	hsrv_head_out(c, status, ctype, len);
	if (!c->is_head)
		evbuffer_add(c->out, body, len);
	req->xlen = 0;
	hsrv_parser_reset(&c->p);
	hsrv_queue(c);
}

void
hsrv_add_header(struct hsrv_req *req, const char *name, const char *value)
{
	int n;

	if (strpbrk(name, "\r\n") != NULL || strpbrk(value, "\r\n") != NULL)
		return;
	n = snprintf(req->xhdr + req->xlen, sizeof(req->xhdr) - req->xlen,
	    "%s: %s\r\n", name, value);
	if (n > 0 && (size_t)n < sizeof(req->xhdr) - req->xlen)
		req->xlen += (size_t)n;
	else
		req->xhdr[req->xlen] = '\0';
}

/* ---- reading ---- */

static int
hsrv_head_done(struct hsrv_conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct hsrv	*srv = c->srv;
	int64_t		 limit = srv->cbs.body_limit(&c->req, srv->cbs.arg);

	c->head_done = 1;
	c->is_head = strcmp(c->p.method, "HEAD") == 0;
	if (hsrv_parser_body(&c->p, limit) == HSRV_ERROR) {
		hsrv_error(c, c->p.status, c->p.detail);
		return -1;
	}
	/* Best effort: a client that gets no 100 sends its body anyway. */
	if (c->p.expect100 && (c->p.clen > 0 || c->p.chunked) && c->roff == c->rlen)
		(void)send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	hsrv_arm_request(c);
	return 0;
}

/* Hands a complete request over; 0: stop processing this connection. */
static int
hsrv_dispatch(struct hsrv_conn *c)
{
	struct hsrv *srv = c->srv;

	c->state = C_WAIT;
	c->req.xlen = 0;
	event_del(c->tev);
	c->in_cb = 1;
	srv->cbs.request(&c->req, srv->cbs.arg);
	c->in_cb = 0;
	if (c->dead) {
		hsrv_conn_free(c);
		return 0;
	}
	/* Waiting (on the DB): the read event stays registered (taking it
	 * off and back on would cost two epoll_ctl per request); a client
	 * that sends more meanwhile is read into rbuf, up to its size, and
	 * waits for the reply (hsrv_read_waiting). */
	return 0;
}

static void
hsrv_process(struct hsrv_conn *c)
{
	size_t	used;
	int	r;

	while (c->state == C_IDLE || c->state == C_READ) {
		if (c->roff == c->rlen) {
			c->roff = c->rlen = 0;
			return;
		}
		if (c->state == C_IDLE)
			hsrv_begin_request(c);
		c->got_bytes = 1;
		r = hsrv_parse(&c->p, c->rbuf + c->roff, c->rlen - c->roff, &used);
		c->roff += used;
		if (r == HSRV_HEAD) {
			/* Goes on even with no byte left: a request may end here. */
			if (hsrv_head_done(c) == -1)
				return;
			r = hsrv_parse(&c->p, c->rbuf + c->roff, c->rlen - c->roff, &used);
			c->roff += used;
		}
		if (r == HSRV_ERROR) {
			hsrv_error(c, c->p.status, c->p.detail);
			return;
		}
		if (r == HSRV_DONE && !hsrv_dispatch(c))
			return;
	}
}

static void
hsrv_linger_read(struct hsrv_conn *c)
{
	char	buf[16384];
	ssize_t	n = read(c->fd, buf, sizeof(buf));

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		hsrv_conn_free(c);
}

/*
 * Readable while a request is being answered: a pipelined request or the
 * client's EOF. What fits in rbuf is kept for after the reply; with rbuf
 * full, at EOF or on an error the read event is taken off until the reply
 * is out (hsrv_written puts it back), so a level-triggered wake-up cannot
 * spin. The connection is never freed here: its request is in use.
 */
static void
hsrv_read_waiting(struct hsrv_conn *c)
{
	ssize_t n = -1;

	if (c->rlen < HSRV_RBUF && !c->eof)
		n = read(c->fd, c->rbuf + c->rlen, HSRV_RBUF - c->rlen);
	if (n > 0) {
		c->rlen += (size_t)n;
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 0)
		c->eof = 1;
	event_del(c->rev);
}

static void
hsrv_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hsrv_conn	*c = arg;
	ssize_t			 n;

	if (c->state == C_LINGER) {
		hsrv_linger_read(c);
		return;
	}
	if (c->state == C_WRITE || c->state == C_WAIT) {
		hsrv_read_waiting(c);	/* a reply first */
		return;
	}
	if (c->rlen < HSRV_RBUF && !c->eof) {
		n = read(fd, c->rbuf + c->rlen, HSRV_RBUF - c->rlen);
		if (n < 0 && (errno == EAGAIN || errno == EINTR) && c->roff == c->rlen)
			return;
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			hsrv_conn_free(c);
			return;
		}
		if (n == 0) {
			/* Half-closed: answer what is complete, then close. */
			c->eof = 1;
			event_del(c->rev);
			if (c->roff == c->rlen || c->state == C_READ) {
				hsrv_conn_free(c);
				return;
			}
		}
		if (n > 0)
			c->rlen += (size_t)n;
	}
	hsrv_process(c);
}

static void
hsrv_write_cb(evutil_socket_t fd, short what, void *arg)
{
	hsrv_flush(arg);
}

static void
hsrv_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hsrv_conn *c = arg;

	if (c->state == C_READ && c->got_bytes)
		hsrv_error(c, 408, "Request not received in time");
	else
		hsrv_conn_free(c);
}

/* ---- accepting ---- */

static void
hsrv_refuse(struct hsrv *srv, int fd, const char *peer, const char *why)
{
	char	buf[4096], body[160], resp[400];
	size_t	blen = hsrv_error_json(body, sizeof(body), 503, why);
	int	n;

	/* What already arrived is dropped, so the close is a FIN, not a RST. */
	(void)recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Retry-After: 1\r\nConnection: close\r\n\r\n%s", blen, body);
	(void)send(fd, resp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	if (log_ratelimit_ok(&srv->rl_refuse))
		log_warnx("[HTTP_CONN_REFUSED] reason=\"%s\" addr=%s conns=%d", why,
		    peer, srv->nconns);
	if (srv->cbs.refused != NULL)
		srv->cbs.refused(503, "-", "-", peer, srv->cbs.arg);
}

static void
hsrv_peer_str(const struct sockaddr_storage *ss, char *out, size_t size)
{
	const void *a = ss->ss_family == AF_INET6 ?
	    (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr :
	    (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	if (inet_ntop(ss->ss_family, a, out, (socklen_t)size) == NULL)
		hf_strlcpy(out, "-", size);
}

static struct hsrv_conn *
hsrv_conn_new(struct hsrv *srv, int fd, struct hsrv_addr *a, const char *peer)
{
	struct hsrv_conn *c = xcalloc(1, sizeof(*c));

	c->srv = srv;
	c->fd = fd;
	c->addr = a;
	c->req.c = c;
	hf_strlcpy(c->peer, peer, sizeof(c->peer));
	c->rbuf = xmalloc(HSRV_RBUF);
	c->out = evbuffer_new();
	c->rev = event_new(srv->base, fd, EV_READ | EV_PERSIST, hsrv_read_cb, c);
	c->wev = event_new(srv->base, fd, EV_WRITE | EV_PERSIST, hsrv_write_cb, c);
	c->tev = evtimer_new(srv->base, hsrv_timer_cb, c);
	if (c->out == NULL || c->rev == NULL || c->wev == NULL || c->tev == NULL)
		fatalx("hsrv: out of memory");
	hsrv_parser_init(&c->p, srv->lim.max_header);
	c->p.mem = hsrv_mem;
	c->p.mem_arg = srv;
	LIST_INSERT_HEAD(&srv->conns, c, link);
	srv->nconns++;
	return c;
}

static void
hsrv_admit(struct hsrv *srv, int fd, const struct sockaddr_storage *ss)
{
	unsigned char		 key[17];
	char			 peer[INET6_ADDRSTRLEN];
	struct hsrv_addr	**pp, *a;
	struct hsrv_conn	*c;

	hsrv_peer_str(ss, peer, sizeof(peer));
	if (srv->nconns >= srv->lim.max_conns) {
		hsrv_refuse(srv, fd, peer, "Too many connections");
		return;
	}
	hsrv_addr_key(ss, key);
	pp = hsrv_addr_slot(srv, key);
	if (*pp != NULL && (*pp)->n >= srv->lim.max_conns_per_addr) {
		hsrv_refuse(srv, fd, peer, "Too many connections from this address");
		return;
	}
	if ((a = *pp) == NULL) {
		a = *pp = xcalloc(1, sizeof(*a));
		memcpy(a->key, key, sizeof(a->key));
	}
	a->n++;
	c = hsrv_conn_new(srv, fd, a, peer);
	c->state = C_READ;
	c->start_ms = hf_now_mono_ms();
	event_add(c->rev, NULL);
	hsrv_arm_request(c);
}

static void
hsrv_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hsrv *srv = arg;

	if (srv->lfd != -1)
		event_add(srv->aev, NULL);
}

/*
 * Out of descriptors (or kernel memory): the waiting connection stays in
 * the backlog and the socket stays readable, so accepting now would spin.
 * One waiting client is shed with the reserve descriptor (it sees a close,
 * not a hang), then accepting pauses.
 */
static void
hsrv_accept_pause(struct hsrv *srv, int err)
{
	struct timeval	tv = { 0, HSRV_ACCEPT_PAUSE_MS * 1000 };
	int		fd;

	if ((err == EMFILE || err == ENFILE) && srv->reserve_fd != -1) {
		close(srv->reserve_fd);
		if ((fd = accept(srv->lfd, NULL, NULL)) != -1)
			close(fd);
		srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (log_ratelimit_ok(&srv->rl_accept))
		log_warnx("[HTTP_ACCEPT_PAUSED] error=\"%s\" conns=%d pause_ms=%d",
		    strerror(err), srv->nconns, HSRV_ACCEPT_PAUSE_MS);
	event_del(srv->aev);
	evtimer_add(srv->pause_ev, &tv);
}

static void
hsrv_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct hsrv		*srv = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	int			 fd;

	for (int i = 0; i < HSRV_ACCEPT_BATCH && srv->lfd != -1; i++) {
		sl = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			hsrv_admit(srv, fd, &ss);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			hsrv_accept_pause(srv, errno);
		else if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    log_ratelimit_ok(&srv->rl_accept))
			log_warn("[HTTP_ACCEPT_ERROR] accept");
		return;
	}
}

/* ---- the server ---- */

struct hsrv *
hsrv_new(struct event_base *base, int fd, const struct hsrv_limits *lim,
    const struct hsrv_cbs *cbs)
{
	struct hsrv *srv = xcalloc(1, sizeof(*srv));

	srv->base = base;
	srv->lfd = fd;
	srv->lim = *lim;
	srv->cbs = *cbs;
	LIST_INIT(&srv->conns);
	if (getrandom(&srv->seed, sizeof(srv->seed), GRND_NONBLOCK) != sizeof(srv->seed))
		srv->seed = hf_now_mono_us() ^ (uint64_t)getpid() << 32;
	srv->seed |= 1;
	log_ratelimit_init(&srv->rl_accept, 0.1, 3);
	log_ratelimit_init(&srv->rl_refuse, 0.2, 5);
	srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	hf_fd_set_nonblock(fd);
	srv->aev = event_new(base, fd, EV_READ | EV_PERSIST, hsrv_accept_cb, srv);
	srv->pause_ev = evtimer_new(base, hsrv_resume_cb, srv);
	if (srv->aev == NULL || srv->pause_ev == NULL)
		fatalx("hsrv: out of memory");
	event_add(srv->aev, NULL);
	return srv;
}

void
hsrv_stop_accepting(struct hsrv *srv)
{
	struct hsrv_conn *c, *next;

	srv->stopping = 1;
	if (srv->lfd == -1)
		return;
	event_del(srv->aev);
	event_del(srv->pause_ev);
	close(srv->lfd);
	srv->lfd = -1;
	/* Kept-alive connections with nothing sent: close them now. */
	for (c = LIST_FIRST(&srv->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		if (c->state == C_IDLE && c->roff == c->rlen)
			hsrv_conn_free(c);
	}
}

void
hsrv_free(struct hsrv *srv)
{
	struct hsrv_conn *c;

	if (srv == NULL)
		return;
	hsrv_stop_accepting(srv);
	while ((c = LIST_FIRST(&srv->conns)) != NULL) {
		c->in_cb = 0;
		hsrv_conn_free(c);
	}
	event_free(srv->aev);
	event_free(srv->pause_ev);
	if (srv->reserve_fd != -1)
		close(srv->reserve_fd);
	free(srv);
}

int
hsrv_nconns(const struct hsrv *srv)
{
	return srv->nconns;
}

int
hsrv_nbusy(const struct hsrv *srv, uint64_t fresh_ms)
{
	const struct hsrv_conn	*c;
	uint64_t		 now = hf_now_mono_ms();
	int			 n = 0;

	LIST_FOREACH(c, &srv->conns, link)
		n += c->state == C_WAIT || c->state == C_WRITE ||
		    (c->state == C_READ && now < c->start_ms + fresh_ms);
	return n;
}

int64_t
hsrv_body_memory(const struct hsrv *srv)
{
	return srv->body_mem;
}

/* ---- the request, for the caller ---- */

const char *
hsrv_method(const struct hsrv_req *req)
{
	return req->c->p.method;
}

const char *
hsrv_target(const struct hsrv_req *req)
{
	return req->c->p.target;
}

const char *
hsrv_header(const struct hsrv_req *req, const char *name)
{
	return hsrv_parser_header(&req->c->p, name);
}

const char *
hsrv_peer(const struct hsrv_req *req)
{
	return req->c->peer;
}

char *
hsrv_body(const struct hsrv_req *req, size_t *len)
{
	*len = req->c->p.bodylen;
	return req->c->p.body;
}
