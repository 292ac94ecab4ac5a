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
