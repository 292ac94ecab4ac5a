# examples/: programs written against the public libholdfast only, as a
# program outside the tree would be (docs/adding-a-worker.md).
#
# holdfast-example-c is built for `make check` and linked against the
# shared library of this build (found at run time through an rpath to
# lib/); tests/package/test_libholdfast.sh builds the same source against
# an installed copy with pkg-config.
EXTRA_DIST += examples/c-worker/README.md
TEST_PROGS += examples/c-worker/holdfast-example-c
examples_c_worker_holdfast_example_c_SOURCES = examples/c-worker/worker.c
examples_c_worker_holdfast_example_c_CPPFLAGS = -I$(top_srcdir)/lib
examples_c_worker_holdfast_example_c_CFLAGS = -std=gnu11 $(WARN_CFLAGS) \
	$(SAN_CFLAGS) $(LIBPQ_CFLAGS)
examples_c_worker_holdfast_example_c_LDFLAGS = $(AM_LDFLAGS) \
	-Wl,-rpath,$(abs_top_builddir)/lib
examples_c_worker_holdfast_example_c_LDADD = -Llib -lholdfast $(LIBPQ_LIBS)
EXTRA_examples_c_worker_holdfast_example_c_DEPENDENCIES = lib/$(LIBHOLDFAST_REAL)

# Under holdfastd with a real PostgreSQL: ready, status text, its DB state
# through a PostgreSQL stop and start, in status and health.
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
