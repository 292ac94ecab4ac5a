/*
 * worker: the common start-up of every worker. See worker.h.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "holdfast/worker.h"
#include "cfg.h"
#include "chan.h"
#include "db.h"
#include "log.h"
#include "util.h"
#include "worker.h"

/*
 * libevent's own messages ("Error from accept() call", ...) would go to
 * stderr unformatted and unbounded: they go through log.c instead, tagged
 * and rate limited (a fault that repeats at loop speed costs a few lines
 * a minute, with the count of the suppressed ones).
 */
static struct log_ratelimit worker_evlog_rl;

static void
worker_evlog(int severity, const char *msg)
{
	if (severity == EVENT_LOG_DEBUG || !log_ratelimit_ok(&worker_evlog_rl))
		return;
	if (severity == EVENT_LOG_MSG)
		log_info("[LIBEVENT] %s", msg);
	else
		log_warnx("[LIBEVENT] severity=%s %s",
		    severity == EVENT_LOG_WARN ? "warn" : "error", msg);
}

static void
worker_usage(const char *program)
{
	fprintf(stderr, "usage: holdfast-%s [-v] [-c config] [-i instance]\n", program);
	exit(2);
}

static void
worker_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	if (sig == SIGHUP) {
		/* holdfastd restarts a worker whose settings changed; a worker
		 * run by hand just notes it. */
		log_info("SIGHUP ignored (holdfastd restarts changed workers)");
		return;
	}
	if (w->stopping)
		return;
	w->stopping = 1;
	log_info("signal %d: stopping", (int)sig);
	if (w->on_stop != NULL)
		w->on_stop(w, w->on_stop_arg);
	else
		worker_exit_loop(w);
}

static void
worker_signals(struct worker *w)
{
	signal(SIGPIPE, SIG_IGN);
	w->ev_sigterm = evsignal_new(w->base, SIGTERM, worker_on_signal, w);
	w->ev_sigint = evsignal_new(w->base, SIGINT, worker_on_signal, w);
	w->ev_sighup = evsignal_new(w->base, SIGHUP, worker_on_signal, w);
	evsignal_add(w->ev_sigterm, NULL);
	evsignal_add(w->ev_sigint, NULL);
	evsignal_add(w->ev_sighup, NULL);
}

void
worker_init(struct worker *w, int argc, char **argv, const char *program)
{
	const char	*cfgpath = NULL, *instance = NULL;
	char		 err[CFG_ERRLEN], name[80];
	int		 ch, verbose = 0;

	memset(w, 0, sizeof(*w));
	w->program = program;
	w->listen_fd = -1;
	while ((ch = getopt(argc, argv, "c:i:v")) != -1) {
		switch (ch) {
		case 'c': cfgpath = optarg; break;
		case 'i': instance = optarg; break;
		case 'v': verbose++; break;
		default: worker_usage(program);
		}
	}
	if (instance != NULL)
		setenv("HOLDFAST_INSTANCE", instance, 1);
	w->instance = chan_worker_instance(program);
	snprintf(name, sizeof(name), "holdfast-%s", program);
	log_init(name, LOG_LVL_INFO);
	log_ratelimit_init(&worker_evlog_rl, 0.2, 5);
	event_set_log_callback(worker_evlog);
	if ((w->cfg = cfg_load_for_worker(cfgpath, err, sizeof(err))) == NULL) {
		log_errorx("%s", err);
		exit(2);
	}
	log_set_level(verbose ? LOG_LVL_DEBUG : w->cfg->holdfast.log_level);
	w->wcfg = cfg_worker_for_instance(w->cfg, w->instance, program);
	if (w->wcfg == NULL) {
		log_errorx("%s: no [worker:%s] section", w->cfg->path, program);
		exit(2);
	}
	if ((w->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	worker_signals(w);
	if (chan_worker_open(w->base, name, NULL, NULL) < 0)
		fatalx("HOLDFAST_CHANNEL_FD is not a usable descriptor");
}

static int
worker_bind(const struct cfg_listen *l, int type)
{
	struct addrinfo	 hints, *res, *ai;
	int		 fd = -1, on = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = type;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(l->host, l->port, &hints, &res)) != 0)
		fatalx("listen %s: %s", l->spec, gai_strerror(rc));
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		fd = socket(ai->ai_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    (type == SOCK_STREAM && listen(fd, 1024) == -1)) {
			log_warn("bind(%s)", l->spec);
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd == -1)
		fatalx("cannot listen on %s", l->spec);
	return fd;
}

int
worker_listen(struct worker *w, int type)
{
	/* The first inherited socket of this type (systemd's convention). */
	if ((w->listen_fd = holdfast_listen_socket(type)) != -1) {
		w->listen_inherited = 1;
		return w->listen_fd;
	}
	if (w->wcfg->listen.type == 0)
		fatalx("[worker:%s] has no listen address and none was inherited",
		    w->wcfg->name);
	if (w->wcfg->listen.type != type)
		fatalx("listen %s: wrong socket type for this worker", w->wcfg->listen.spec);
	w->listen_fd = worker_bind(&w->wcfg->listen, type);
	return w->listen_fd;
}

static void
worker_db_state(const struct db_state *st, void *arg)
{
	if (st->up < 0)
		return;
	chan_worker_db(st->up, st->op, st->reason, st->attempts, st->detail);
}

struct db *
worker_db_start(struct worker *w, const char *op)
{
	w->db = db_new(w->base, &w->cfg->database, w->program, op);
	db_on_state(w->db, worker_db_state, w);
	db_start(w->db);
	return w->db;
}

void
worker_ready(struct worker *w)
{
	chan_worker_ready();
}

void
worker_set_on_stop(struct worker *w, void (*cb)(struct worker *, void *), void *arg)
{
	w->on_stop = cb;
	w->on_stop_arg = arg;
}

void
worker_exit_loop(struct worker *w)
{
	event_base_loopbreak(w->base);
}

int
worker_run(struct worker *w)
{
	event_base_dispatch(w->base);
	log_info("stopped");
	chan_worker_close();
	if (w->db != NULL)
		db_free(w->db);
	if (w->listen_fd != -1)
		close(w->listen_fd);
	event_free(w->ev_sigterm);
	event_free(w->ev_sigint);
	event_free(w->ev_sighup);
	event_base_free(w->base);
	cfg_free(w->cfg);
	return 0;
}
