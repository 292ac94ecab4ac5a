# tests/hostile: the SIP edge of holdfast-telephony under hostile traffic
# (in process, no database), and the UAS fuzz target's corpus replay.
check_PROGRAMS += tests/hostile/test_hostile_sip
tests_hostile_test_hostile_sip_SOURCES = tests/hostile/test_hostile_sip.c
tests_hostile_test_hostile_sip_CPPFLAGS = $(TELEPHONY_CPPFLAGS)
tests_hostile_test_hostile_sip_CFLAGS = $(TEST_CFLAGS)
tests_hostile_test_hostile_sip_LDADD = workers/telephony/libtelephony.a $(TU_LIBS) $(HOLDFAST_DB_LIBS)
TESTS += tests/hostile/test_hostile_sip
