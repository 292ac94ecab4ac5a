# tests of the DB layer (common/db*), the PostgreSQL cluster helper and the
# fault proxy every DB-facing test can put in front of PostgreSQL.
tests_lib_libtu_a_SOURCES += tests/lib/pgt.c tests/lib/pgt.h

check_PROGRAMS += tests/integration/test_pgt
tests_integration_test_pgt_SOURCES = tests/integration/test_pgt.c
tests_integration_test_pgt_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_pgt_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TESTS += tests/integration/test_pgt
