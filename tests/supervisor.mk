# tests of supervisor/ and common/chan: units first, then real processes.
check_PROGRAMS += tests/tools/testworker
tests_tools_testworker_SOURCES = tests/tools/testworker.c
tests_tools_testworker_LDADD = $(HOLDFAST_LIBS)
