# libhf: the worker channel as specified (docs/protocol.md), libholdfast
# as installed, and the C example under holdfastd.

# libholdfast's JSON, no-supervisor calls, argument checks, LISTEN_FDS.
TEST_PROGS += tests/unit/test_libholdfast
TESTS += tests/unit/test_libholdfast
tests_unit_test_libholdfast_SOURCES = tests/unit/test_libholdfast.c
tests_unit_test_libholdfast_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_libholdfast_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

# holdfastd's end of the protocol, spoken raw by a bash worker.
TEST_PROGS += tests/integration/test_protocol
TESTS += tests/integration/test_protocol
tests_integration_test_protocol_SOURCES = tests/integration/test_protocol.c
tests_integration_test_protocol_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_protocol_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

# examples/c-worker under holdfastd with a real PostgreSQL: ready, status
# text, its DB state through a PostgreSQL stop and start, in status and
# health.
TEST_PROGS += tests/integration/test_c_worker
TESTS += tests/integration/test_c_worker
tests_integration_test_c_worker_SOURCES = tests/integration/test_c_worker.c
tests_integration_test_c_worker_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_c_worker_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
EXTRA_tests_integration_test_c_worker_DEPENDENCIES = examples/c-worker/holdfast-example-c

# The installed library as an outside author meets it (make install
# DESTDIR=, pkg-config, cc examples/c-worker/*.c, run under holdfastd).
TESTS += tests/package/test_libholdfast.sh
EXTRA_DIST += tests/package/test_libholdfast.sh

# libholdfast's JSON reader and writer against yajl (tests/fuzz.mk:
# `make fuzz FUZZ_TARGETS=hfjson`; the corpus is replayed by make check).
FUZZ_ALL += hfjson
FUZZ_REPLAYS += tests/fuzz/replay_hfjson
TEST_PROGS += tests/fuzz/replay_hfjson
TESTS += tests/fuzz/replay_hfjson
tests_fuzz_replay_hfjson_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz.h tests/fuzz/fuzz_hfjson.c
tests_fuzz_replay_hfjson_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_TARGET='"hfjson"'
tests_fuzz_replay_hfjson_LDADD = $(HOLDFAST_LIBS)
tests/fuzz/bin/fuzz_hfjson: $(srcdir)/tests/fuzz/fuzz_hfjson.c $(srcdir)/lib/hf_json.c $(FUZZ_COMMON)
	@$(MKDIR_P) tests/fuzz/bin
	$(FUZZ_BUILD) $(srcdir)/tests/fuzz/fuzz_hfjson.c $(srcdir)/lib/hf_json.c \
		$(FUZZ_COMMON) $(FUZZ_LIBS)
