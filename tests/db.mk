# tests of the DB layer (common/db*), the PostgreSQL cluster helper and the
# fault proxy every DB-facing test can put in front of PostgreSQL.
tests_lib_libtu_a_SOURCES += tests/lib/pgt.c tests/lib/pgt.h

TEST_PROGS += tests/integration/test_pgt
tests_integration_test_pgt_SOURCES = tests/integration/test_pgt.c
tests_integration_test_pgt_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_pgt_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TESTS += tests/integration/test_pgt

tests_lib_libtu_a_SOURCES += tests/lib/fp.c tests/lib/fp.h
TEST_PROGS += tests/tools/faultproxy
tests_tools_faultproxy_SOURCES = tests/tools/faultproxy.c
tests_tools_faultproxy_LDADD = $(LIBEVENT_LIBS)

# dbt: the DB suites' helpers; dbt_env.h: the fault suites' fixture.
tests_lib_libtu_a_SOURCES += tests/lib/dbt.c tests/lib/dbt.h tests/lib/dbt_env.h
DBT_LIBS = $(TU_LIBS) $(HOLDFAST_DB_LIBS)

TEST_PROGS += tests/integration/test_db_faults
tests_integration_test_db_faults_SOURCES = tests/integration/test_db_faults.c
tests_integration_test_db_faults_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_db_faults_LDADD = $(DBT_LIBS)
TESTS += tests/integration/test_db_faults

TEST_PROGS += tests/unit/test_db_classify
tests_unit_test_db_classify_SOURCES = tests/unit/test_db_classify.c
tests_unit_test_db_classify_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_db_classify_LDADD = $(DBT_LIBS)
TESTS += tests/unit/test_db_classify

TEST_PROGS += tests/integration/test_db_basic
tests_integration_test_db_basic_SOURCES = tests/integration/test_db_basic.c
tests_integration_test_db_basic_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_db_basic_LDADD = $(DBT_LIBS)
TESTS += tests/integration/test_db_basic

TEST_PROGS += tests/integration/test_admin
tests_integration_test_admin_SOURCES = tests/integration/test_admin.c
tests_integration_test_admin_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_admin_LDADD = $(TU_LIBS) $(HOLDFAST_DB_LIBS) $(LIBCRYPT_LIBS)
TESTS += tests/integration/test_admin

TEST_PROGS += tests/integration/test_db_network
tests_integration_test_db_network_SOURCES = tests/integration/test_db_network.c
tests_integration_test_db_network_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_db_network_LDADD = $(DBT_LIBS)
TESTS += tests/integration/test_db_network

# A frozen database against request deadlines, the breaker and db_ready().
TEST_PROGS += tests/integration/test_db_freeze
tests_integration_test_db_freeze_SOURCES = tests/integration/test_db_freeze.c
tests_integration_test_db_freeze_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_db_freeze_LDADD = $(DBT_LIBS)
TESTS += tests/integration/test_db_freeze

# (pipeline) Requests multiplexed over one connection's libpq pipeline:
# errors, timeouts and lost connections with several requests in it.
TEST_PROGS += tests/integration/test_db_pipeline
tests_integration_test_db_pipeline_SOURCES = tests/integration/test_db_pipeline.c
tests_integration_test_db_pipeline_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_db_pipeline_LDADD = $(DBT_LIBS)
TESTS += tests/integration/test_db_pipeline

TEST_PROGS += tests/integration/test_db_lookup
tests_integration_test_db_lookup_SOURCES = tests/integration/test_db_lookup.c
tests_integration_test_db_lookup_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_db_lookup_LDADD = $(DBT_LIBS)
TESTS += tests/integration/test_db_lookup

TEST_PROGS += tests/integration/test_conv_body
tests_integration_test_conv_body_SOURCES = tests/integration/test_conv_body.c
tests_integration_test_conv_body_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_conv_body_LDADD = $(DBT_LIBS)
TESTS += tests/integration/test_conv_body
