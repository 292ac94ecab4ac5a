# tests/hostile: the SIP edge of holdfast-telephony under hostile traffic
# (in process, no database), and the UAS fuzz target's corpus replay.
TEST_PROGS += tests/hostile/test_hostile_sip
tests_hostile_test_hostile_sip_SOURCES = tests/hostile/test_hostile_sip.c
tests_hostile_test_hostile_sip_CPPFLAGS = $(TELEPHONY_CPPFLAGS)
tests_hostile_test_hostile_sip_CFLAGS = $(TEST_CFLAGS)
tests_hostile_test_hostile_sip_LDADD = workers/telephony/libtelephony.a $(TU_LIBS) $(HOLDFAST_DB_LIBS)
TESTS += tests/hostile/test_hostile_sip

# tests/fuzz/fuzz_sip_uas: the UAS on sequences of datagrams (see the
# file); its corpus is replayed by `make check` like the other targets'
# (tests/fuzz.mk), and `make fuzz FUZZ_TARGETS=sip_uas` runs it.
FUZZ_ALL += sip_uas
TEST_PROGS += tests/fuzz/replay_sip_uas
TESTS += tests/fuzz/replay_sip_uas
tests_fuzz_replay_sip_uas_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz.h \
	tests/fuzz/fuzz_sip_uas.c
tests_fuzz_replay_sip_uas_CPPFLAGS = $(TELEPHONY_CPPFLAGS) -DFUZZ_TARGET='"sip_uas"'
tests_fuzz_replay_sip_uas_LDADD = workers/telephony/libtelephony.a $(HOLDFAST_DB_LIBS)
FUZZ_SIP_UAS_SRCS = $(srcdir)/workers/telephony/sip_msg.c \
	$(srcdir)/workers/telephony/sip_uas.c $(srcdir)/workers/telephony/sip_src.c \
	$(srcdir)/workers/telephony/siphash.c $(srcdir)/workers/telephony/cdr.c \
	$(srcdir)/workers/telephony/cdr_sink.c $(srcdir)/workers/telephony/spool.c
tests/fuzz/bin/fuzz_sip_uas: $(srcdir)/tests/fuzz/fuzz_sip_uas.c $(FUZZ_SIP_UAS_SRCS) \
		$(FUZZ_COMMON) common/libholdfastdb.a
	@$(MKDIR_P) tests/fuzz/bin
	$(FUZZ_BUILD) -I$(srcdir)/workers/telephony $(LIBPQ_CFLAGS) \
		$(srcdir)/tests/fuzz/fuzz_sip_uas.c $(FUZZ_SIP_UAS_SRCS) $(FUZZ_COMMON) \
		common/libholdfastdb.a $(LIBPQ_LIBS) $(FUZZ_LIBS)
