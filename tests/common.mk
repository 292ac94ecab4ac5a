# tests of common/ (cfg, json, util, log) and of the test library itself.
# Unit suites: Check, each test forked; no processes beyond their own.
COMMON_TESTS = tests/unit/test_tu tests/unit/test_cfg tests/unit/test_util \
	tests/unit/test_json tests/unit/test_log
TEST_PROGS += $(COMMON_TESTS)
TESTS += $(COMMON_TESTS)

tests_unit_test_tu_SOURCES = tests/unit/test_tu.c
tests_unit_test_tu_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_tu_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

tests_unit_test_cfg_SOURCES = tests/unit/test_cfg.c
tests_unit_test_cfg_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_cfg_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

# The key rows against the manual, the example and the DB layer.
TEST_PROGS += tests/unit/test_cfg_rows
TESTS += tests/unit/test_cfg_rows
tests_unit_test_cfg_rows_SOURCES = tests/unit/test_cfg_rows.c
tests_unit_test_cfg_rows_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_cfg_rows_LDADD = $(TU_LIBS) $(HOLDFAST_DB_LIBS)

# cfgcli: include, ${VAR} expansion, depends_on and the new keys at load.
TEST_PROGS += tests/unit/test_cfg_include
TESTS += tests/unit/test_cfg_include
tests_unit_test_cfg_include_SOURCES = tests/unit/test_cfg_include.c
tests_unit_test_cfg_include_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_cfg_include_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

tests_unit_test_util_SOURCES = tests/unit/test_util.c
tests_unit_test_util_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_util_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

tests_unit_test_json_SOURCES = tests/unit/test_json.c
tests_unit_test_json_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_json_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

tests_unit_test_log_SOURCES = tests/unit/test_log.c
tests_unit_test_log_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_log_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

# The migration list embedded in the binaries matches etc/schema/.
TESTS += tests/check_schema.sh
EXTRA_DIST += tests/check_schema.sh

# hsrv's request parser (common/hsrv_parse.c).
TEST_PROGS += tests/unit/test_hsrv_parse
TESTS += tests/unit/test_hsrv_parse
tests_unit_test_hsrv_parse_SOURCES = tests/unit/test_hsrv_parse.c
tests_unit_test_hsrv_parse_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_hsrv_parse_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
