# tests of supervisor/ and common/chan: units first, then real processes.
TEST_PROGS += tests/tools/testworker
tests_tools_testworker_SOURCES = tests/tools/testworker.c
tests_tools_testworker_LDADD = $(HOLDFAST_LIBS)

TEST_PROGS += tests/unit/test_chan tests/unit/test_sup_state
TESTS += tests/unit/test_chan tests/unit/test_sup_state
tests_unit_test_chan_SOURCES = tests/unit/test_chan.c
tests_unit_test_chan_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_chan_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
tests_unit_test_sup_state_SOURCES = tests/unit/test_sup_state.c supervisor/sup_state.c
tests_unit_test_sup_state_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/supervisor
tests_unit_test_sup_state_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_sup_state_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

# Integration: real holdfastd, real testworkers, real sockets; supt.h is
# the rig they share, supt_notify.h a NOTIFY_SOCKET for it (tests/lib).
tests_lib_libtu_a_SOURCES += tests/lib/supt.h tests/lib/supt_notify.h \
	tests/lib/cdp.c tests/lib/cdp.h
TEST_PROGS += tests/integration/test_supervisor
TESTS += tests/integration/test_supervisor
tests_integration_test_supervisor_SOURCES = tests/integration/test_supervisor.c
tests_integration_test_supervisor_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_supervisor_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TEST_PROGS += tests/integration/test_supervisor_ctl
TESTS += tests/integration/test_supervisor_ctl
tests_integration_test_supervisor_ctl_SOURCES = tests/integration/test_supervisor_ctl.c
tests_integration_test_supervisor_ctl_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_supervisor_ctl_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TEST_PROGS += tests/integration/test_supervisor_ops
TESTS += tests/integration/test_supervisor_ops
tests_integration_test_supervisor_ops_SOURCES = tests/integration/test_supervisor_ops.c
tests_integration_test_supervisor_ops_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_supervisor_ops_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

TEST_PROGS += tests/integration/test_supervisor_spawn
TESTS += tests/integration/test_supervisor_spawn
tests_integration_test_supervisor_spawn_SOURCES = tests/integration/test_supervisor_spawn.c
tests_integration_test_supervisor_spawn_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_supervisor_spawn_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TEST_PROGS += tests/integration/test_supervisor_listen
TESTS += tests/integration/test_supervisor_listen
tests_integration_test_supervisor_listen_SOURCES = tests/integration/test_supervisor_listen.c
tests_integration_test_supervisor_listen_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_supervisor_listen_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TEST_PROGS += tests/integration/test_supervisor_upgrade
TESTS += tests/integration/test_supervisor_upgrade
tests_integration_test_supervisor_upgrade_SOURCES = tests/integration/test_supervisor_upgrade.c
tests_integration_test_supervisor_upgrade_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_supervisor_upgrade_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TEST_PROGS += tests/integration/test_supervisor_output
TESTS += tests/integration/test_supervisor_output
tests_integration_test_supervisor_output_SOURCES = tests/integration/test_supervisor_output.c
tests_integration_test_supervisor_output_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_supervisor_output_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TEST_PROGS += tests/integration/test_supervisor_surge
TESTS += tests/integration/test_supervisor_surge
tests_integration_test_supervisor_surge_SOURCES = tests/integration/test_supervisor_surge.c
tests_integration_test_supervisor_surge_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_supervisor_surge_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)

# The status page of holdfastd (status_listen), over real HTTP.
TEST_PROGS += tests/integration/test_status_page
TESTS += tests/integration/test_status_page
tests_integration_test_status_page_SOURCES = tests/integration/test_status_page.c
tests_integration_test_status_page_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_status_page_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
# The page in headless Chromium; skipped (77) when chromium is missing.
TEST_PROGS += tests/integration/test_status_browser
TESTS += tests/integration/test_status_browser
tests_integration_test_status_browser_SOURCES = tests/integration/test_status_browser.c
tests_integration_test_status_browser_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_status_browser_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
# The README shows it; test_status_browser makes it (STATUS_SCREENSHOT).
EXTRA_DIST += docs/status-page.png

# cfgcli: fatal_retry, depends_on, reload --dry-run, tail per stream,
# maintail, output timestamps and time-based rotation.
TEST_PROGS += tests/integration/test_supervisor_cfgcli
TESTS += tests/integration/test_supervisor_cfgcli
tests_integration_test_supervisor_cfgcli_SOURCES = tests/integration/test_supervisor_cfgcli.c
tests_integration_test_supervisor_cfgcli_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_supervisor_cfgcli_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
# limits: cgroups, rlimits, umask, group, no_new_privs, oom_score_adj
TEST_PROGS += tests/tools/limitworker
tests_tools_limitworker_SOURCES = tests/tools/limitworker.c
TEST_PROGS += tests/integration/test_limits
TESTS += tests/integration/test_limits
tests_integration_test_limits_SOURCES = tests/integration/test_limits.c
tests_integration_test_limits_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_limits_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TEST_PROGS += tests/unit/test_cfg_limits
TESTS += tests/unit/test_cfg_limits
tests_unit_test_cfg_limits_SOURCES = tests/unit/test_cfg_limits.c
tests_unit_test_cfg_limits_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_cfg_limits_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TESTS += tests/integration/test_unit_verify.sh
EXTRA_DIST += tests/integration/test_unit_verify.sh
# events: holdfastctl events, [event:NAME] listeners, metrics_listen.
TEST_PROGS += tests/integration/test_events
TESTS += tests/integration/test_events
tests_integration_test_events_SOURCES = tests/integration/test_events.c
tests_integration_test_events_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_events_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
TEST_PROGS += tests/integration/test_metrics
TESTS += tests/integration/test_metrics
tests_integration_test_metrics_SOURCES = tests/integration/test_metrics.c
tests_integration_test_metrics_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_metrics_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
EXTRA_DIST += tests/tools/promcheck.py docs/alerts.yml docs/grafana-dashboard.json \
	examples/events/webhook.sh examples/events/mail.sh

# sdnotify: sd_notify for every child, health_cmd/health_http
TEST_PROGS += tests/tools/notifyworker
tests_tools_notifyworker_SOURCES = tests/tools/notifyworker.c
TEST_PROGS += tests/integration/test_supervisor_sdnotify
TESTS += tests/integration/test_supervisor_sdnotify
tests_integration_test_supervisor_sdnotify_SOURCES = tests/integration/test_supervisor_sdnotify.c
tests_integration_test_supervisor_sdnotify_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_supervisor_sdnotify_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
# sdnotify: the Python example worker (examples/python-worker) under
# holdfastd with a real PostgreSQL; skipped without python3-psycopg2.
EXTRA_DIST += examples/python-worker/holdfast_example.py \
	examples/python-worker/README.md
TEST_PROGS += tests/integration/test_example_python
TESTS += tests/integration/test_example_python
tests_integration_test_example_python_SOURCES = tests/integration/test_example_python.c
tests_integration_test_example_python_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_example_python_LDADD = $(TU_LIBS) $(HOLDFAST_LIBS)
