/*
 * worker: what every holdfast worker does before its own work, in one
 * place: options (-c FILE, -i INSTANCE, -v), the config, logging named after
 * the instance, the event base, SIGTERM/SIGINT/SIGHUP through libevent,
 * SIGPIPE ignored, the channel to holdfastd, the listening socket (inherited
 * through LISTEN_FDS/LISTEN_PID, or bound from `listen` when run by hand),
 * and the DB layer with its state forwarded to holdfastd.
 */
#ifndef HOLDFAST_WORKER_H
#define HOLDFAST_WORKER_H

#include <event2/event.h>

struct cfg;
struct cfg_worker;
struct db;

struct worker {
	const char		*program;	/* "http" */
	const char		*instance;	/* "http:0" */
	struct event_base	*base;
	struct cfg		*cfg;
	const struct cfg_worker	*wcfg;		/* this worker's section (or defaults) */
	struct db		*db;		/* NULL until worker_db_start() */
	int			 listen_fd;	/* -1 when none */
	int			 listen_inherited;
	int			 stopping;
	void			(*on_stop)(struct worker *, void *);
	void			*on_stop_arg;
	struct event		*ev_sigterm, *ev_sigint, *ev_sighup;
};

/*
 * Parses argv, loads the config (HOLDFAST_CONFIG or -c; exits 2 with
 * "file:line: reason" on a bad one), sets up logging and signals, opens
 * the channel. program is the short name ("http"); it is also the
 * instance (and so the [worker:NAME] section) when neither -i nor
 * HOLDFAST_INSTANCE names one.
 */
void worker_init(struct worker *, int argc, char **argv, const char *program);
/*
 * The listening socket of the given type (SOCK_STREAM/SOCK_DGRAM): the
 * first inherited one (LISTEN_FDS, when LISTEN_PID is ours), else a new
 * socket bound to the section's `listen`. Exits with a message naming the
 * address when it cannot bind. Returns the fd (non-blocking, CLOEXEC).
 */
int worker_listen(struct worker *, int type);
/* Creates and starts the DB layer; its state goes to holdfastd. */
struct db *worker_db_start(struct worker *, const char *op);
/* Tells holdfastd we serve. */
void worker_ready(struct worker *);
/* Called once on SIGTERM/SIGINT; the default breaks the loop. The callback
 * should stop accepting, finish or persist work, then call worker_exit_loop. */
void worker_set_on_stop(struct worker *, void (*)(struct worker *, void *), void *);
void worker_exit_loop(struct worker *);
/* Runs the loop; returns the exit code. Frees everything on the way out. */
int worker_run(struct worker *);

#endif
