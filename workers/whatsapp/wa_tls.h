/*
 * wa_tls: HTTPS for the Graph API client (libevent's OpenSSL
 * bufferevents). Peer certificates are verified against the system's
 * trust store (OpenSSL's default paths, so SSL_CERT_FILE/SSL_CERT_DIR
 * apply) and the host name (or IP address) of graph_api_url.
 *
 * evhttp cannot reconnect a connection built on a TLS bufferevent, so each
 * request gets a fresh connection that frees itself when done.
 */
#ifndef HOLDFAST_WA_TLS_H
#define HOLDFAST_WA_TLS_H

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>

struct wa_tls;

/* Exits with a message naming the failing call when OpenSSL cannot start. */
struct wa_tls *wa_tls_new(const char *host);
void wa_tls_free(struct wa_tls *);
/* A new connection to host:port over TLS; NULL when it cannot be built. */
struct evhttp_connection *wa_tls_connection(struct wa_tls *, struct event_base *,
    struct evdns_base *, int port);

/* The connection's last OpenSSL error (0 when none), and its reason text. */
unsigned long wa_tls_last_error(struct evhttp_connection *);
const char *wa_tls_error_string(unsigned long);

#endif
