# workers/http: holdfast-http, the API worker (common/hsrv + common/db).
# The handlers live in a convenience library so the unit tests can link
# the pure parts (router, payload walker) without the program's main().
noinst_LIBRARIES += workers/http/libhfhttp.a
workers_http_libhfhttp_a_SOURCES = \
	workers/http/http_route.c workers/http/http_route.h \
	workers/http/wa_payload.c workers/http/wa_payload.h
workers_http_libhfhttp_a_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)

pkglibexec_PROGRAMS += workers/http/holdfast-http
workers_http_holdfast_http_SOURCES = \
	workers/http/http.h \
	workers/http/http_main.c \
	workers/http/http_alog.c \
	workers/http/http_auth.c \
	workers/http/http_crypt.c workers/http/http_crypt.h \
	workers/http/http_conv.c \
	workers/http/http_webhook.c \
	workers/http/http_metrics.c
workers_http_holdfast_http_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS) $(LIBCRYPT_CFLAGS)
workers_http_holdfast_http_LDADD = workers/http/libhfhttp.a $(WORKER_LIBS) $(CRYPTO_LIBS) $(LIBCRYPT_LIBS)

# holdfast-http's migration (0002, PL/pgSQL read functions) is embedded
# with the others: see the migration list in common/db.mk.
