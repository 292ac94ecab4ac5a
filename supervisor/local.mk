# supervisor/: holdfastd and holdfastctl.
sbin_PROGRAMS += supervisor/holdfastd
supervisor_holdfastd_SOURCES = supervisor/holdfastd.c
supervisor_holdfastd_LDADD = $(HOLDFAST_LIBS)
