# tests/hostile: holdfast-http's edge against hostile clients (real
# sockets on loopback, a real worker; no database needed).
check_PROGRAMS += tests/hostile/test_hostile_http
TESTS += tests/hostile/test_hostile_http
tests_hostile_test_hostile_http_SOURCES = tests/hostile/test_hostile_http.c
tests_hostile_test_hostile_http_CFLAGS = $(TEST_CFLAGS)
tests_hostile_test_hostile_http_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
