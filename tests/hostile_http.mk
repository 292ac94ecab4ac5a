# tests/hostile: holdfast-http's edge against hostile clients (real
# sockets on loopback, a real worker; no database needed).
TEST_PROGS += tests/hostile/test_hostile_http
TESTS += tests/hostile/test_hostile_http
tests_hostile_test_hostile_http_SOURCES = tests/hostile/test_hostile_http.c
tests_hostile_test_hostile_http_CFLAGS = $(TEST_CFLAGS)
tests_hostile_test_hostile_http_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

# Its figures, and the throughput of this build beside an older one:
#   make bench-hostile-http   [HTTP_OLD_BUILDDIR=DIR | HTTP_OLD_REF=main]
#   make bench-http-ab        [same; ROUNDS=3 DUR=5]
EXTRA_DIST += bench/hostile_http.sh bench/http_ab.sh
bench-hostile-http: all
	HOLDFAST_BUILDDIR='$(abs_top_builddir)' HOLDFAST_SRCDIR='$(abs_top_srcdir)' \
		$(abs_top_srcdir)/bench/hostile_http.sh
bench-http-ab: all
	HOLDFAST_BUILDDIR='$(abs_top_builddir)' HOLDFAST_SRCDIR='$(abs_top_srcdir)' \
		$(abs_top_srcdir)/bench/http_ab.sh
.PHONY: bench-hostile-http bench-http-ab
