# bench/: benchmarks, run by `make bench` (BENCH_SHORT=1 make bench for the
# short mode CI can afford). Each bench/NAME.sh prints a goal/measured table.
EXTRA_DIST += bench/run.sh
bench: all $(check_PROGRAMS)
	HOLDFAST_BUILDDIR='$(abs_top_builddir)' HOLDFAST_SRCDIR='$(abs_top_srcdir)' \
		$(abs_top_srcdir)/bench/run.sh
.PHONY: bench
include $(srcdir)/bench/db.mk
include $(srcdir)/bench/dbfreeze.mk

# bench/respawn.sh: crash -> respawn latency, idle RSS/CPU, status time.
EXTRA_DIST += bench/respawn.sh bench/respawn_stamp.c
noinst_PROGRAMS += bench/respawn_helper
bench_respawn_helper_SOURCES = bench/respawn_helper.c
bench_respawn_helper_LDADD = $(HOLDFAST_LIBS)
bench-respawn: all
	$(MAKE) $(AM_MAKEFLAGS) tests/tools/testworker
	HOLDFAST_BUILDDIR='$(abs_top_builddir)' HOLDFAST_SRCDIR='$(abs_top_srcdir)' \
		$(abs_top_srcdir)/bench/respawn.sh
.PHONY: bench-respawn

# bench/upgrade.sh: holdfastctl upgrade and self-heal latency and their
# cost under wrk + sipp load.
EXTRA_DIST += bench/upgrade.sh
bench-upgrade: all
	$(MAKE) $(AM_MAKEFLAGS) tests/tools/testworker
	HOLDFAST_BUILDDIR='$(abs_top_builddir)' HOLDFAST_SRCDIR='$(abs_top_srcdir)' \
		$(abs_top_srcdir)/bench/upgrade.sh
.PHONY: bench-upgrade

# bench/surge.sh: `holdfastctl restart` under wrk, restart_mode surge
# against stop-first, one and two instances.
EXTRA_DIST += bench/surge.sh
bench-surge: all
	HOLDFAST_BUILDDIR='$(abs_top_builddir)' HOLDFAST_SRCDIR='$(abs_top_srcdir)' \
		$(abs_top_srcdir)/bench/surge.sh
.PHONY: bench-surge

# bench/status_page.sh: the status page's idle cost (wake-ups, memory)
# and /status.json latency.
EXTRA_DIST += bench/status_page.sh

# (pipeline) bench/ctl.sh: `holdfastctl status` wall time vs runit's
# `sv status`, hyperfine, interleaved rounds.
EXTRA_DIST += bench/ctl.sh bench/ctl_interleave.c
bench-ctl: all
	$(MAKE) $(AM_MAKEFLAGS) tests/tools/testworker
	HOLDFAST_BUILDDIR='$(abs_top_builddir)' HOLDFAST_SRCDIR='$(abs_top_srcdir)' \
		$(abs_top_srcdir)/bench/ctl.sh
.PHONY: bench-ctl

# bench/limits.sh: what a cgroup per process (memory_max) costs a respawn,
# interleaved with a worker without one.
EXTRA_DIST += bench/limits.sh
bench-limits: all
	HOLDFAST_BUILDDIR='$(abs_top_builddir)' HOLDFAST_SRCDIR='$(abs_top_srcdir)' \
		$(abs_top_srcdir)/bench/limits.sh
.PHONY: bench-limits
# events: bench/events.sh (state change -> listener latency; 1,000 events/s
# with a follower) and bench/metrics.sh (a /metrics scrape, 8 instances).
EXTRA_DIST += bench/events.sh bench/events_stamp.c bench/metrics.sh
bench-events: all
	$(MAKE) $(AM_MAKEFLAGS) tests/tools/testworker
	HOLDFAST_BUILDDIR='$(abs_top_builddir)' HOLDFAST_SRCDIR='$(abs_top_srcdir)' \
		$(abs_top_srcdir)/bench/events.sh
	HOLDFAST_BUILDDIR='$(abs_top_builddir)' HOLDFAST_SRCDIR='$(abs_top_srcdir)' \
		$(abs_top_srcdir)/bench/metrics.sh
.PHONY: bench-events

# bench/sdnotify.sh (sdnotify): holdfastd's CPU under 10,000 sd_notify
# datagrams/s from 4 children, against an idle baseline.
EXTRA_DIST += bench/sdnotify.sh
bench-sdnotify: all
	$(MAKE) $(AM_MAKEFLAGS) tests/tools/notifyworker
	HOLDFAST_BUILDDIR='$(abs_top_builddir)' HOLDFAST_SRCDIR='$(abs_top_srcdir)' \
		$(abs_top_srcdir)/bench/sdnotify.sh
.PHONY: bench-sdnotify
