# workers/telephony: build rules (see Makefile.am)
# The SIP, CDR and spool code is a library so the unit tests link it too.
noinst_LIBRARIES += workers/telephony/libtelephony.a
workers_telephony_libtelephony_a_SOURCES = \
	workers/telephony/sip_msg.c workers/telephony/sip_msg.h \
	workers/telephony/spool.c workers/telephony/spool.h \
	workers/telephony/cdr.c workers/telephony/cdr_sink.c workers/telephony/cdr.h \
	workers/telephony/sip_uas.c workers/telephony/sip_uas.h \
	workers/telephony/sip_src.c workers/telephony/sip_src.h \
	workers/telephony/siphash.c workers/telephony/siphash.h \
	workers/telephony/dialog_store.c workers/telephony/dialog_store.h
TELEPHONY_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/workers/telephony


pkglibexec_PROGRAMS += workers/telephony/holdfast-telephony
workers_telephony_holdfast_telephony_SOURCES = workers/telephony/telephony_main.c
workers_telephony_holdfast_telephony_CPPFLAGS = $(TELEPHONY_CPPFLAGS)
workers_telephony_holdfast_telephony_LDADD = workers/telephony/libtelephony.a $(WORKER_LIBS)
