/*
 * db_dns: host names resolved without blocking the loop.
 *
 * libpq resolves `host` with a blocking getaddrinfo() unless `hostaddr` is
 * given; a slow or dead resolver would then freeze the whole worker (a
 * Neon endpoint is always a DNS name). So when the conninfo names hosts
 * and no hostaddr, every connection attempt first resolves them with evdns
 * (libevent's resolver: /etc/resolv.conf and /etc/hosts), then hands libpq
 * host (still used for TLS SNI and certificate checks) plus hostaddr.
 * Each attempt resolves afresh, so a changed record is followed. A host
 * that does not resolve is left out of the attempt (with its port); none
 * resolving is a HostNotFound failure. The connect deadline covers DNS.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>

#include "buf.h"
#include "db_int.h"
#include "log.h"
#include "util.h"

struct db_dns_q {
	struct db_dns		*q_dns;
	int			 q_i;
	struct evdns_getaddrinfo_request *q_req;
};

/* One attempt's resolution; outlives its connection if cancelled. */
struct db_dns {
	struct db_conn		*d_conn;	/* NULL once abandoned */
	int			 d_n, d_pending;
	char			**d_addr;	/* per host: address or NULL */
	struct db_dns_q		*d_q;
	int			 d_failnow;
};

static int
db_dns_numeric(const char *h)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return *h == '\0' || *h == '/' || *h == '@' ||
	    inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

static char **
db_split(const char *s, int *n)
{
	char	**v = NULL, *copy = xstrdup(s), *p = copy, *tok;

	*n = 0;
	while ((tok = strsep(&p, ",")) != NULL) {
		v = xreallocarray(v, *n + 1, sizeof(char *));
		v[(*n)++] = xstrdup(tok);
	}
	free(copy);
	return v;
}

static void
db_free_list(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static const char *
db_kv_get(struct db *db, const char *key)
{
	for (int i = 0; i < db->db_nkeys; i++)
		if (strcmp(db->db_keys[i], key) == 0)
			return db->db_vals[i];
	return NULL;
}

/* Called once after the conninfo is built: is resolution ours to do? */
void
db_dns_setup(struct db *db)
{
	const char	*host = db_kv_get(db, "host");
	char		**hosts;
	int		  n, i, need = 0;

	if (host == NULL || db_kv_get(db, "hostaddr") != NULL)
		return;
	hosts = db_split(host, &n);
	for (i = 0; i < n; i++)
		if (!db_dns_numeric(hosts[i]))
			need = 1;
	db_free_list(hosts, n);
	if (!need)
		return;
	db->db_dns_base = evdns_base_new(db->db_base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (db->db_dns_base == NULL)
		log_warnx("[DB_POOL] evdns_base_new failed: libpq will resolve "
		    "host names itself (blocking)");
}

/* Joins the kept entries of v into "a,b" (or NULL when none). */
static char *
db_join(char **v, int n, char **addr)
{
	struct buf	b = BUF_INIT;

	for (int i = 0; i < n; i++) {
		if (addr[i] == NULL)
			continue;
		if (b.p != NULL)
			buf_add(&b, ",", 1);
		buf_adds(&b, v[i]);
	}
	return b.p;
}

/* All answers are in: start libpq with host, hostaddr (and port) lists
 * restricted to the hosts that resolved. */
static void
db_dns_finish(struct db_dns *d)
{
	struct db_conn	*c = d->d_conn;
	struct db	*db = c->dc_db;
	const char	*port = db_kv_get(db, "port");
	char		**hosts, **ports = NULL;
	char		*h, *a, *p = NULL;
	int		  n, np = 0;

	hosts = db_split(db_kv_get(db, "host"), &n);
	h = db_join(hosts, n, d->d_addr);
	a = db_join(d->d_addr, n, d->d_addr);
	if (port != NULL && strchr(port, ',') != NULL) {
		ports = db_split(port, &np);
		if (np == n)
			p = db_join(ports, n, d->d_addr);
	}
	dbc_start_libpq(c, h, a, p);
	free(h);
	free(a);
	free(p);
	db_free_list(hosts, n);
	if (ports != NULL)
		db_free_list(ports, np);
}

static void
db_dns_release(struct db_dns *d)
{
	db_free_list(d->d_addr, d->d_n);
	free(d->d_q);
	free(d);
}

static void
db_dns_answer(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct db_dns_q	*q = arg;
	struct db_dns	*d = q->q_dns;
	char		 buf[INET6_ADDRSTRLEN];
	struct evutil_addrinfo *ai_head = ai;

	q->q_req = NULL;
	/* IPv4 first when both come back: a server listening on 127.0.0.1
	 * only is the common case, and libpq gets one address per host. */
	for (struct evutil_addrinfo *p = ai; err == 0 && p != NULL; p = p->ai_next)
		if (p->ai_family == AF_INET) {
			struct evutil_addrinfo *tmp = p;

			p = ai;
			ai = tmp;
			ai_head = p;
			break;
		}
	if (err == 0 && ai != NULL) {
		const void *src = ai->ai_family == AF_INET6 ?
		    (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr :
		    (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;

		if (inet_ntop(ai->ai_family, src, buf, sizeof(buf)) != NULL)
			d->d_addr[q->q_i] = xstrdup(buf);
	}
	if (ai_head != NULL)
		evutil_freeaddrinfo(ai_head);
	if (--d->d_pending > 0)
		return;
	if (d->d_conn == NULL)
		db_dns_release(d);
	else if (d->d_failnow)
		;	/* still inside db_dns_start: it finishes */
	else {
		d->d_conn->dc_dns = NULL;
		db_dns_finish(d);
		db_dns_release(d);
	}
}

/*
 * Resolves the hosts for c, then calls dbc_start_libpq(). Returns 0, or -1
 * when resolution is not ours to do (libpq is started by the caller).
 */
int
db_dns_start(struct db_conn *c)
{
	struct db	*db = c->dc_db;
	struct db_dns	*d;
	struct evutil_addrinfo hints;
	char		**hosts;
	int		  n, i;

	if (db->db_dns_base == NULL)
		return -1;
	hosts = db_split(db_kv_get(db, "host"), &n);
	d = xcalloc(1, sizeof(*d));
	d->d_conn = c;
	d->d_n = n;
	d->d_addr = xcalloc(n, sizeof(char *));
	d->d_q = xcalloc(n, sizeof(*d->d_q));
	d->d_pending = n + 1;	/* +1: answers arriving synchronously */
	d->d_failnow = 1;
	c->dc_dns = d;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	for (i = 0; i < n; i++) {
		d->d_q[i].q_dns = d;
		d->d_q[i].q_i = i;
		if (db_dns_numeric(hosts[i])) {
			d->d_addr[i] = xstrdup(hosts[i]);
			d->d_pending--;
			continue;
		}
		d->d_q[i].q_req = evdns_getaddrinfo(db->db_dns_base, hosts[i],
		    NULL, &hints, db_dns_answer, &d->d_q[i]);
	}
	db_free_list(hosts, n);
	d->d_failnow = 0;
	if (--d->d_pending == 0) {
		c->dc_dns = NULL;
		db_dns_finish(d);
		db_dns_release(d);
	}
	return 0;
}

/* The connection goes away while resolving: abandon the answers. */
void
db_dns_abandon(struct db_conn *c)
{
	struct db_dns	*d = c->dc_dns;
	int		 i;

	if (d == NULL)
		return;
	c->dc_dns = NULL;
	d->d_conn = NULL;
	d->d_pending++;		/* cancel answers synchronously: hold d */
	for (i = 0; i < d->d_n; i++)
		if (d->d_q[i].q_req != NULL)
			evdns_getaddrinfo_cancel(d->d_q[i].q_req);
	if (--d->d_pending == 0)
		db_dns_release(d);
}

void
db_dns_free(struct db *db)
{
	if (db->db_dns_base != NULL)
		evdns_base_free(db->db_dns_base, 0);
	db->db_dns_base = NULL;
}
