/*
 * holdfastd: the supervisor. One process, one libevent loop: it binds the
 * workers' listening sockets once, forks and execs each worker instance,
 * restarts what dies (sup_proc.c), records what the workers say about the
 * database without ever touching it (no libpq here), and answers
 * holdfastctl on the control socket (sup_ctl.c).
 *
 * Signals arrive only through libevent: SIGCHLD reaps, SIGTERM/SIGINT stop
 * everything in reverse priority order and exit 0, SIGHUP reloads the
 * config, SIGUSR1 reopens the log files (sup_reopen), SIGUSR2 replaces the image in place (sup_upgrade.c); SIGSEGV,
 * SIGBUS, SIGABRT, SIGFPE and SIGILL re-execute it from the kept state
 * (a real signal handler, sup_upgrade.c). It never daemonizes itself: run
 * it under systemd (Type=notify, sup_notify.c), a container runtime (it
 * reaps strays as PID 1) or a terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "cfg.h"
#include "log.h"
#include "sup.h"
#include "sup_cgroup.h"
#include "sup_ctl.h"
#include "sup_event.h"
#include "sup_log.h"
#include "sup_notify.h"
#include "sup_sdnotify.h"
#include "sup_upgrade.h"
#include "sup_web.h"
#include "util.h"

#define DEFAULT_CONFIG	SYSCONFDIR "/holdfast.conf"
#define NSIGS		6

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: holdfastd [-ftv] [-c config]\n"
	    "  -c FILE  configuration (default " DEFAULT_CONFIG ")\n"
	    "  -f       stay in the foreground (always the case; accepted for scripts)\n"
	    "  -t       check the configuration and exit\n"
	    "  -v       verbose (debug) logging\n");
	exit(2);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	char err[CFG_ERRLEN];

	switch (sig) {
	case SIGCHLD:
		sup_reap();
		sup_pass();
		break;
	case SIGHUP:
		if (sup.s_shutting_down)
			break;
		log_info("SIGHUP: reloading %s", sup.s_cfgpath);
		(void)sup_reload(err, sizeof(err), NULL);
		break;
	case SIGUSR1:
		sup_reopen("SIGUSR1");
		break;
	case SIGUSR2:
		log_info("SIGUSR2: upgrading in place");
		(void)sup_upgrade(-1, err, sizeof(err));
		break;
	default:
		sup_shutdown(sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
}

static int
test_config(const char *path)
{
	char		 err[CFG_ERRLEN];
	struct cfg	*cfg;

	if ((cfg = cfg_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%s: configuration ok (%d worker section%s)\n", cfg->path,
	    cfg->nworkers, cfg->nworkers == 1 ? "" : "s");
	cfg_free(cfg);
	return 0;
}

/* Groups in priority order (low first), so autostart follows it too. A
 * listen address that cannot be bound stops holdfastd: better refuse to
 * start than run a service nobody can reach. */
static void
setup_groups(void)
{
	char			 err[256];
	struct sup_group	**tail = &sup.s_groups;
	int			 n = sup.s_cfg->nworkers, *done = xcalloc(n + 1, sizeof(int));

	for (int k = 0; k < n; k++) {
		int best = -1;

		for (int i = 0; i < n; i++)
			if (!done[i] && (best == -1 || sup.s_cfg->workers[i].priority <
			    sup.s_cfg->workers[best].priority))
				best = i;
		done[best] = 1;
		if ((*tail = sup_group_new(&sup.s_cfg->workers[best], err, sizeof(err))) == NULL) {
			sup_ctl_close();
			fatalx("[worker:%s]: %s", sup.s_cfg->workers[best].name, err);
		}
		tail = &(*tail)->g_next;
	}
	free(done);
}

/* The status page: its listener is not inherited across an upgrade or a
 * self-heal (close-on-exec), so each image binds it; failing to at start
 * is a config error, after a re-exec only a warning (the workers run). */
static void
setup_web(int restoring)
{
	char err[CFG_ERRLEN];

	if (sup_web_start(&sup.s_cfg->holdfast.status_listen, err, sizeof(err)) == 0 &&
	    sup_web_metrics_relisten(&sup.s_cfg->holdfast.metrics_listen,
	    &sup.s_cfg->holdfast.status_listen, err, sizeof(err)) == 0)	/* events */
		return;
	if (!restoring) {
		sup_ctl_close();
		fatalx("status_listen: %s", err);
	}
	log_warnx("status_listen: %s; no status page", err);
}

static void
setup(int restoring)
{
	char err[CFG_ERRLEN];

	signal(SIGPIPE, SIG_IGN);
	/* Orphans of our workers (a daemonized grandchild) come to us, as
	 * they would to PID 1 in a container, and are reaped and logged. */
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("prctl(PR_SET_CHILD_SUBREAPER)");
	if ((sup.s_devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		fatal("open(/dev/null)");
	if ((sup.s_base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if (sup.s_cfg->holdfast.log_file != NULL)
		(void)sup_log_own(sup.s_cfg->holdfast.log_file, restoring ? "restore" : "start");
	else
		sup_log_nb_init(sup.s_base);
	if (restoring)
		sup_upgrade_adopt();	/* the groups and sockets of the image before */
	else {
		if (sup_ctl_listen(sup.s_cfg->holdfast.control_socket,
		    sup.s_cfg->holdfast.socket_group, err, sizeof(err)) == -1)
			fatalx("%s", err);
		sup_sdnotify_init(-1);	/* before the first spawn */
		setup_groups();
	}
	/* events: followers on the control socket, [event:NAME] listeners */
	sup_event_set_sink(sup_ctl_event);
	sup_hook_configure(sup.s_cfg);
	setup_web(restoring);
	sup_notify_init(sup.s_base);
	sup_cgroup_init(sup.s_cfg, restoring);	/* limits */
}

static void
teardown(struct event **evs, int nevs)
{
	sup_ctl_close();
	sup_web_close();
	(void)sup_hook_stop_all("shutdown");	/* events: none outlives holdfastd */
	sup_hook_close();
	sup_event_close();
	sup_notify_close();
	sup_sdnotify_close();
	sup_upgrade_close();
	sup_log_nb_close();
	while (sup.s_groups != NULL) {
		struct sup_group *g = sup.s_groups;

		sup.s_groups = g->g_next;
		sup_group_free(g);
	}
	sup_cgroup_close();	/* limits: after the groups, whose cgroups it removes */
	for (int i = 0; i < nevs; i++)
		event_free(evs[i]);
	if (sup.s_shutdown_timer != NULL)
		event_free(sup.s_shutdown_timer);
	event_base_free(sup.s_base);
	cfg_free(sup.s_cfg);
	free(sup.s_cfgpath);
}

/* Loads the config (or the state of the image before) and runs until
 * everything is stopped. */
static int
run(const char *cfgpath, int verbose, const struct sup_upgrade_args *ua)
{
	char		 err[CFG_ERRLEN];
	struct event	*evs[NSIGS];
	const int	 sigs[NSIGS] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };
	int		 restoring = ua->restore_fd != -1;

	log_init("holdfastd", LOG_LVL_INFO);
	sup_log_main_init(1000);	/* cfgcli: maintail; resized from tail_lines */
	sup_log_nb_early();	/* a stalled stderr must not hold up a restore */
	sup_heal_init(ua, cfgpath, verbose);
	if (restoring) {
		if (sup_upgrade_restore(ua, cfgpath, verbose) == -1)
			return 1;
	} else if ((sup.s_cfg = cfg_load(cfgpath, err, sizeof(err))) == NULL) {
		log_errorx("%s", err);
		return 1;
	} else {
		sup.s_cfgpath = xstrdup(sup.s_cfg->path);
		sup.s_verbose = verbose;
		log_set_level(verbose ? LOG_LVL_DEBUG : sup.s_cfg->holdfast.log_level);
		sup.s_started_ms = hf_now_mono_ms();
	}
	setup(restoring);
	sup_log_main_resize(sup.s_cfg->holdfast.tail_lines);	/* cfgcli */
	for (int i = 0; i < NSIGS; i++) {
		evs[i] = evsignal_new(sup.s_base, sigs[i], on_signal, NULL);
		evsignal_add(evs[i], NULL);
	}
	if (restoring)
		sup_upgrade_restored();
	else
		log_info("started: pid %d, config %s, control socket %s, %d group%s",
		    (int)getpid(), sup.s_cfg->path, sup.s_cfg->holdfast.control_socket,
		    sup.s_cfg->nworkers, sup.s_cfg->nworkers == 1 ? "" : "s");
	sup_upgrade_arm();
	sup_pass();
	sup_notify_changed();	/* READY=1 at once when nothing autostarts */
	event_base_dispatch(sup.s_base);
	sup_heal_unwatch();	/* exiting: no longer a loop to watch */
	event_base_loop(sup.s_base, EVLOOP_NONBLOCK);	/* flush last replies */
	log_info("stopped");
	teardown(evs, NSIGS);
	sup_log_main_resize(0);		/* cfgcli: maintail's lines freed */
	return sup.s_exit_code;
}

/* An internal option's descriptor number. */
static int
fd_arg(const char *s)
{
	long long n;

	if (hf_parse_int(s, 0, 1 << 20, &n) == -1)
		usage();
	return (int)n;
}

int
main(int argc, char **argv)
{
	/* Internal: given by one holdfastd image to the next (sup_upgrade.h). */
	static const struct option longopts[] = {
		{ "restore-state", required_argument, NULL, 'R' },
		{ "check-state", required_argument, NULL, 'K' },
		{ "fallback-exe", required_argument, NULL, 'F' },
		{ "healed", required_argument, NULL, 'H' },
		{ "upgrade-failed", required_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	struct sup_upgrade_args ua = { .restore_fd = -1, .check_fd = -1, .fallback_fd = -1 };
	const char	*cfgpath = DEFAULT_CONFIG;
	int		 ch, verbose = 0, test = 0;

	while ((ch = getopt_long(argc, argv, "c:ftvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': cfgpath = optarg; break;
		case 'f': break;
		case 't': test = 1; break;
		case 'v': verbose = 1; break;
		case 'R': ua.restore_fd = fd_arg(optarg); break;
		case 'K': ua.check_fd = fd_arg(optarg); break;
		case 'F': ua.fallback_fd = fd_arg(optarg); break;
		case 'H': ua.healed = optarg; break;
		case 'U': ua.failed = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (ua.check_fd != -1)
		return sup_upgrade_check(ua.check_fd, cfgpath);
	return test ? test_config(cfgpath) : run(cfgpath, verbose, &ua);
}
