# tests/: the shared test library, then one fragment per area.
#
# The fragments add their programs to TEST_PROGS. Those (and libtu.a)
# are built by `make check` only, and need Check: when configure did not
# find it, `make` still builds every production program and `make check`
# stops before building anything, saying what is missing.
if HAVE_CHECK
check_LIBRARIES += tests/lib/libtu.a
check_PROGRAMS += $(TEST_PROGS)
else
check_SCRIPTS = need-check
need-check:
	@echo "make check needs Check >= 0.11 (pkg-config module 'check')," >&2
	@echo "which configure did not find: install it and run configure again." >&2
	@exit 1
endif

# Only test programs (and benches linking libtu.a) see tests/lib's headers:
# TEST_CFLAGS carries the -I, production compiles do not.
tests_lib_libtu_a_SOURCES = tests/lib/tu.c tests/lib/tu.h \
	tests/lib/sipp.c tests/lib/sipp.h tests/lib/hfd.c tests/lib/hfd.h
tests_lib_libtu_a_CFLAGS = $(TEST_CFLAGS)
TU_LIBS = tests/lib/libtu.a $(CHECK_LIBS)
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/tests/lib

include $(srcdir)/tests/common.mk
include $(srcdir)/tests/db.mk
include $(srcdir)/tests/supervisor.mk
include $(srcdir)/tests/telephony.mk
include $(srcdir)/tests/http.mk
include $(srcdir)/tests/whatsapp.mk
include $(srcdir)/tests/fuzz.mk
include $(srcdir)/tests/hosting.mk
include $(srcdir)/tests/system.mk
include $(srcdir)/tests/hostile_sip.mk
include $(srcdir)/tests/hostile_http.mk
# libhf: protocol, libholdfast, examples
include $(srcdir)/tests/libhf.mk

# The unit suites alone: no PostgreSQL, no network, a minute. The Debian
# package's build runs these (debian/rules), and so can a release check:
#   make distcheck TESTS="`make -s --no-print-directory print-unit-tests`"
print-unit-tests:
	@for t in $(TESTS); do case $$t in tests/unit/*) echo $$t;; esac; done | tr '\n' ' '; echo
check-unit:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS="`$(MAKE) -s --no-print-directory print-unit-tests`"
.PHONY: check-unit print-unit-tests
