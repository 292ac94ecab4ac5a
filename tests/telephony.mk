# tests of holdfast-telephony: SIP parser, spool, and the worker under sipp.
TELEPHONY_TEST_LIBS = workers/telephony/libtelephony.a $(TU_LIBS) $(HOLDFAST_DB_LIBS)

TEST_PROGS += tests/unit/test_sip_msg
tests_unit_test_sip_msg_SOURCES = tests/unit/test_sip_msg.c
tests_unit_test_sip_msg_CPPFLAGS = $(TELEPHONY_CPPFLAGS)
tests_unit_test_sip_msg_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_sip_msg_LDADD = $(TELEPHONY_TEST_LIBS)
TESTS += tests/unit/test_sip_msg

TEST_PROGS += tests/unit/test_spool
tests_unit_test_spool_SOURCES = tests/unit/test_spool.c
tests_unit_test_spool_CPPFLAGS = $(TELEPHONY_CPPFLAGS)
tests_unit_test_spool_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_spool_LDADD = $(TELEPHONY_TEST_LIBS)
TESTS += tests/unit/test_spool

EXTRA_DIST += tests/sipp/uac_cancel.xml tests/sipp/uac_noack.xml bench/telephony.sh bench/telephony_crash.sh

TEST_PROGS += tests/integration/test_telephony
tests_integration_test_telephony_SOURCES = tests/integration/test_telephony.c
tests_integration_test_telephony_CPPFLAGS = $(TELEPHONY_CPPFLAGS)
tests_integration_test_telephony_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_telephony_LDADD = $(TELEPHONY_TEST_LIBS)
TESTS += tests/integration/test_telephony

TEST_PROGS += tests/unit/test_dialog_store
tests_unit_test_dialog_store_SOURCES = tests/unit/test_dialog_store.c
tests_unit_test_dialog_store_CPPFLAGS = $(TELEPHONY_CPPFLAGS)
tests_unit_test_dialog_store_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_dialog_store_LDADD = $(TELEPHONY_TEST_LIBS)
TESTS += tests/unit/test_dialog_store

TEST_PROGS += tests/integration/test_telephony_crash
tests_integration_test_telephony_crash_SOURCES = tests/integration/test_telephony_crash.c
tests_integration_test_telephony_crash_CPPFLAGS = $(TELEPHONY_CPPFLAGS)
tests_integration_test_telephony_crash_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_telephony_crash_LDADD = $(TELEPHONY_TEST_LIBS)
TESTS += tests/integration/test_telephony_crash
