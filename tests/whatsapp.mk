# tests of holdfast-whatsapp: unit suites for its pure parts, integration
# suites against a real PostgreSQL and graphsink (a local Graph API).
WA_TEST_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/workers/whatsapp

TEST_PROGS += tests/unit/test_wa_graph
tests_unit_test_wa_graph_SOURCES = tests/unit/test_wa_graph.c \
	workers/whatsapp/wa_graph.c workers/whatsapp/wa_graph.h
tests_unit_test_wa_graph_CFLAGS = $(WA_TEST_CFLAGS)
tests_unit_test_wa_graph_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TESTS += tests/unit/test_wa_graph

# graphsink: a local Graph API (tests and bench/whatsapp.sh).
TEST_PROGS += tests/tools/graphsink
tests_tools_graphsink_SOURCES = tests/tools/graphsink.c
tests_tools_graphsink_LDADD = $(HOLDFAST_LIBS) $(WA_TLS_LIBS)

# Integration: real PostgreSQL (pgt), graphsink, holdfast-whatsapp processes.
# wat: the rig these suites share (tests/lib).
tests_lib_libtu_a_SOURCES += tests/lib/wat.c tests/lib/wat.h
TEST_PROGS += tests/integration/test_whatsapp
tests_integration_test_whatsapp_SOURCES = tests/integration/test_whatsapp.c
tests_integration_test_whatsapp_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_whatsapp_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TESTS += tests/integration/test_whatsapp

TEST_PROGS += tests/integration/test_whatsapp_race
tests_integration_test_whatsapp_race_SOURCES = tests/integration/test_whatsapp_race.c
tests_integration_test_whatsapp_race_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_whatsapp_race_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TESTS += tests/integration/test_whatsapp_race

TEST_PROGS += tests/integration/test_whatsapp_outage
tests_integration_test_whatsapp_outage_SOURCES = tests/integration/test_whatsapp_outage.c
tests_integration_test_whatsapp_outage_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_whatsapp_outage_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TESTS += tests/integration/test_whatsapp_outage
