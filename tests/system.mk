# tests/system/: the whole system under load and faults (the outage
# matrix). `make check` runs its short form; `make soak` the full one and
# writes docs/outage-matrix.md.
TEST_PROGS += tests/system/sysload
tests_system_sysload_SOURCES = tests/system/sysload.c
tests_system_sysload_CFLAGS = $(TEST_CFLAGS)
tests_system_sysload_LDADD = $(TU_LIBS) $(CRYPTO_LIBS)

TEST_PROGS += tests/system/test_system
tests_system_test_system_SOURCES = tests/system/test_system.c \
	tests/system/sys.c tests/system/sys.h
tests_system_test_system_CFLAGS = $(TEST_CFLAGS) $(LIBPQ_CFLAGS)
tests_system_test_system_LDADD = $(TU_LIBS) $(HOLDFAST_DB_LIBS)
TESTS += tests/system/test_system

EXTRA_DIST += docs/outage-matrix.md

# The full matrix (~15 minutes): 20 s per fault, 60 s of flapping, 50
# kill -9 per worker, more load; the table goes to docs/outage-matrix.md.
soak: $(check_PROGRAMS) $(check_SCRIPTS) $(bin_PROGRAMS) $(sbin_PROGRAMS) \
	$(pkglibexec_PROGRAMS)
	HOLDFAST_BUILDDIR=$(abs_builddir) HOLDFAST_SRCDIR=$(abs_srcdir) \
	SYSTEM_SOAK=1 SYSTEM_TABLE=$(abs_srcdir)/docs/outage-matrix.md \
	    $(builddir)/tests/system/test_system
.PHONY: soak

# Every program under valgrind memcheck, doing real work, then a clean
# shutdown: no error, no definite or indirect leak. About 35 s
# of CPU (90 s wall on a 2-core machine at load 8); skips (77) without
# valgrind and in the sanitizer build. `make valgrind` runs it alone.
TESTS += tests/system/valgrind.sh
EXTRA_DIST += tests/system/valgrind.sh tests/valgrind.supp

valgrind: $(check_PROGRAMS) $(bin_PROGRAMS) $(sbin_PROGRAMS) $(pkglibexec_PROGRAMS)
	HOLDFAST_BUILDDIR=$(abs_builddir) HOLDFAST_SRCDIR=$(abs_srcdir) \
	    $(abs_srcdir)/tests/system/valgrind.sh
.PHONY: valgrind
