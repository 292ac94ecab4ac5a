/*
 * wa_tls: TLS connections for the Graph API client. See wa_tls.h.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "log.h"
#include "util.h"
#include "wa_tls.h"

struct wa_tls {
	SSL_CTX	*ctx;
	char	*host;
	int	 host_is_ip;
};

struct wa_tls *
wa_tls_new(const char *host)
{
	struct wa_tls	*t = xcalloc(1, sizeof(*t));
	unsigned char	 buf[16];

	if ((t->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fatalx("SSL_CTX_new: %s", ERR_error_string(ERR_get_error(), NULL));
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_default_verify_paths(t->ctx) != 1)
		log_warnx("SSL_CTX_set_default_verify_paths failed: certificates will not verify");
	t->host = xstrdup(host);
	t->host_is_ip = inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
	return t;
}

void
wa_tls_free(struct wa_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t->host);
	free(t);
}

/* SNI and the name the certificate must carry. */
static SSL *
wa_tls_ssl(struct wa_tls *t)
{
	SSL			*ssl = SSL_new(t->ctx);
	X509_VERIFY_PARAM	*vp;

	if (ssl == NULL)
		return NULL;
	vp = SSL_get0_param(ssl);
	if (t->host_is_ip)
		X509_VERIFY_PARAM_set1_ip_asc(vp, t->host);
	else {
		SSL_set_tlsext_host_name(ssl, t->host);
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		X509_VERIFY_PARAM_set1_host(vp, t->host, 0);
	}
	return ssl;
}

struct evhttp_connection *
wa_tls_connection(struct wa_tls *t, struct event_base *base, struct evdns_base *dns, int port)
{
	SSL			 *ssl = wa_tls_ssl(t);
	struct bufferevent	 *bev;
	struct evhttp_connection *conn;

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* Servers often close without close_notify; the HTTP framing decides. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	conn = evhttp_connection_base_bufferevent_new(base, dns, bev, t->host, (unsigned short)port);
	if (conn == NULL)
		bufferevent_free(bev);
	return conn;
}

unsigned long
wa_tls_last_error(struct evhttp_connection *conn)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);

	return bev != NULL ? bufferevent_get_openssl_error(bev) : 0;
}

const char *
wa_tls_error_string(unsigned long e)
{
	const char *r = ERR_reason_error_string(e);

	return r != NULL ? r : "handshake failed";
}
