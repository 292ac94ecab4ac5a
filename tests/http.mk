# tests of holdfast-http: the pure parts (router, payload walker, signature)
# as unit suites, the worker itself against a real PostgreSQL.
HTTP_UNIT_LIBS = workers/http/libhfhttp.a $(TU_LIBS) $(HOLDFAST_LIBS) $(CRYPTO_LIBS)

TEST_PROGS += tests/unit/test_http_route tests/unit/test_wa_payload
TESTS += tests/unit/test_http_route tests/unit/test_wa_payload
tests_unit_test_http_route_SOURCES = tests/unit/test_http_route.c
tests_unit_test_http_route_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/workers/http
tests_unit_test_http_route_LDADD = $(HTTP_UNIT_LIBS)
tests_unit_test_wa_payload_SOURCES = tests/unit/test_wa_payload.c \
	tests/unit/test_http_samples.h
tests_unit_test_wa_payload_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/workers/http
tests_unit_test_wa_payload_LDADD = $(HTTP_UNIT_LIBS)

TEST_PROGS += tests/integration/test_http
TESTS += tests/integration/test_http
tests_integration_test_http_SOURCES = tests/integration/test_http.c
tests_integration_test_http_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/workers/http \
	-I$(top_srcdir)/tests/unit
tests_integration_test_http_LDADD = $(HTTP_UNIT_LIBS) $(LIBCRYPT_LIBS)

# The libFuzzer target (built by hand with clang; see its header) and the
# benchmark (make bench).
EXTRA_DIST += bench/http.sh

# holdfast-http against a frozen database (SIGSTOP, proxy blackhole) and
# readiness polling as the only demand.
TEST_PROGS += tests/integration/test_http_freeze
TESTS += tests/integration/test_http_freeze
tests_integration_test_http_freeze_SOURCES = tests/integration/test_http_freeze.c
tests_integration_test_http_freeze_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_http_freeze_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS) $(LIBCRYPT_LIBS)
