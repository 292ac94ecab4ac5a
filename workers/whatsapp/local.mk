# workers/whatsapp: holdfast-whatsapp, the session processor.
# Built on request until common/cfg, chan and db link (then pkglibexec_PROGRAMS).
EXTRA_PROGRAMS = workers/whatsapp/holdfast-whatsapp
workers_whatsapp_holdfast_whatsapp_SOURCES = \
	workers/whatsapp/wa_main.c \
	workers/whatsapp/wa.h workers/whatsapp/wa_loop.c \
	workers/whatsapp/wa_session.h workers/whatsapp/wa_session.c \
	workers/whatsapp/wa_status.c \
	workers/whatsapp/wa_outbox.h workers/whatsapp/wa_outbox.c \
	workers/whatsapp/wa_graph.h workers/whatsapp/wa_graph.c \
	workers/whatsapp/wa_tls.h workers/whatsapp/wa_tls.c
# HTTPS to the Graph API: libevent's OpenSSL bufferevents (libevent_openssl
# ships with libevent 2.1; configure checks libcrypto, these come with it).
WA_TLS_LIBS = -levent_openssl -lssl $(CRYPTO_LIBS)
workers_whatsapp_holdfast_whatsapp_LDADD = $(WORKER_LIBS) $(WA_TLS_LIBS)
