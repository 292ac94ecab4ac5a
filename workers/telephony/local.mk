# workers/telephony: build rules (see Makefile.am)
# The SIP, CDR and spool code is a library so the unit tests link it too.
noinst_LIBRARIES += workers/telephony/libtelephony.a
workers_telephony_libtelephony_a_SOURCES = \
	workers/telephony/sip_msg.c workers/telephony/sip_msg.h \
	workers/telephony/spool.c workers/telephony/spool.h \
	workers/telephony/cdr.c workers/telephony/cdr_sink.c workers/telephony/cdr.h \
	workers/telephony/sip_uas.c workers/telephony/sip_uas.h
TELEPHONY_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/workers/telephony

# holdfast-telephony (main.c) is linked once common/cfg, chan and db land.
