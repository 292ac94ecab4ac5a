# bench/: benchmarks, run by `make bench` (BENCH_SHORT=1 make bench for the
# short mode CI can afford). Each bench/NAME.sh prints a goal/measured table.
EXTRA_DIST += bench/run.sh
bench: all
	HOLDFAST_BUILDDIR='$(abs_top_builddir)' HOLDFAST_SRCDIR='$(abs_top_srcdir)' \
		$(abs_top_srcdir)/bench/run.sh
.PHONY: bench
include $(srcdir)/bench/db.mk
