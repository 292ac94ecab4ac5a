# supervisor/: holdfastd and holdfastctl. Neither links libpq: the
# supervisor must survive anything the database does (docs/design.md §1).
sbin_PROGRAMS += supervisor/holdfastd
supervisor_holdfastd_SOURCES = supervisor/holdfastd.c \
	supervisor/sup.h \
	supervisor/sup_state.c supervisor/sup_state.h \
	supervisor/sup_proc.c \
	supervisor/sup_group.c \
	supervisor/sup_spawn.c \
	supervisor/sup_chan.c \
	supervisor/sup_ctl.c supervisor/sup_ctl.h \
	supervisor/sup_log.c supervisor/sup_log.h \
	supervisor/sup_surge.c \
	supervisor/sup_notify.c supervisor/sup_notify.h \
	supervisor/sup_upgrade.c supervisor/sup_upgrade.h \
	supervisor/sup_web.c supervisor/sup_web_page.c supervisor/sup_web.h \
	supervisor/sup_web_guard.c supervisor/sup_web_guard.h \
	supervisor/sup_depends.c \
	supervisor/sup_cgroup.c supervisor/sup_cgroup.h \
	supervisor/sup_event.c supervisor/sup_event.h supervisor/sup_hook.c \
	supervisor/sup_metrics.c supervisor/sup_metrics.h \
	supervisor/sup_sdnotify.c supervisor/sup_sdnotify.h \
	supervisor/sup_health.c supervisor/sup_health.h
# libevent_core, not all of libevent (no evhttp/evdns here): less of it
# resident in a process that runs for months (idle RSS).
supervisor_holdfastd_LDADD = common/libhfcommon.a $(LIBEVENT_CORE_LIBS) \
	$(YAJL_LIBS) $(INIH_LIBS)

bin_PROGRAMS += supervisor/holdfastctl
supervisor_holdfastctl_SOURCES = supervisor/holdfastctl.c
# No libevent (it runs no loop); yajl and inih static when available
# (configure's CTL_LIBS), the whole binary a static PIE when possible
# (CTL_LDFLAGS): a short-lived client pays for every library the dynamic
# loader maps.
supervisor_holdfastctl_LDADD = common/libhfcommon.a $(CTL_LIBS)
supervisor_holdfastctl_LDFLAGS = $(AM_LDFLAGS) $(CTL_LDFLAGS)
# (pipeline) The same client linked dynamically, for `make check` only:
# valgrind's memcheck cannot follow a static libc (no malloc to replace,
# false reports in its string functions), so tests/system/valgrind.sh
# checks this build of the same object.
check_PROGRAMS += supervisor/holdfastctl-dynamic
supervisor_holdfastctl_dynamic_SOURCES = supervisor/holdfastctl.c
supervisor_holdfastctl_dynamic_LDADD = $(HOLDFAST_LIBS)
