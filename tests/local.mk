# tests/: the shared test library, then one fragment per area.
check_LIBRARIES += tests/lib/libtu.a

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
