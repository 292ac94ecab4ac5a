/*
 * sup_group: groups of instances, name lookup, listening sockets and the
 * SIGHUP reload.
 *
 * A reload is applied by difference, per group: an unchanged section
 * (cfg_worker_equal) keeps its processes untouched and only points at the
 * new config, and so does one where only keys holdfastd alone reads
 * changed (their rows' reload class is CFG_RELOAD_INPLACE: startretries,
 * stopsignal, ...); another changed one with the
 * same size and listen address is restarted (rolling when it has several
 * instances); anything else is
 * retired (stopped gracefully, then freed by the pass) and replaced by a
 * new group. [holdfast] applies in place; [database], [whatsapp] and
 * state_dir, which the workers read, restart the workers that read them.
 * A config that does not load, or a section that cannot be applied (its
 * new listen address cannot be bound), changes nothing.
 *
 * Listening sockets outlive processes: a group holds one shared socket, or
 * with listen_reuseport one per instance slot, and a group replacing
 * another on the same address takes over the sockets of the slots both
 * have. A socket is closed only with the group holding it, which for a
 * retired group is once all its processes are down, so no socket is
 * closed under a process still accepting on it.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "cfg.h"
#include "chan.h"
#include "json.h"
#include "log.h"
#include "sup.h"
#include "sup_cgroup.h"
#include "sup_ctl.h"
#include "sup_event.h"
#include "sup_log.h"
#include "sup_metrics.h"
#include "sup_notify.h"
#include "sup_health.h"
#include "sup_sdnotify.h"
#include "sup_web.h"
#include "util.h"

int
sup_listen_bind(const struct cfg_listen *l, int reuseport, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res, *ai;
	int		 fd = -1, on = 1, rc, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = l->type;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(l->host, l->port, &hints, &res)) != 0) {
		snprintf(err, errlen, "listen %s: %s", l->spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, l->type | SOCK_CLOEXEC, 0)) == -1) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
		    sizeof(on)) == -1) || bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    (l->type == SOCK_STREAM && listen(fd, SOMAXCONN) == -1)) {
			saved = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(err, errlen, "bind(%s): %s", l->spec, strerror(saved));
	return fd;
}

int
sup_group_listen_fd(const struct sup_group *g, int index)
{
	if (g->g_nlisten == 0)
		return -1;
	return g->g_listen_fds[g->g_reuseport && index < g->g_nlisten ? index : 0];
}

/*
 * listen_reuseport: the kernel keeps hashing new connections to a slot's
 * socket whether or not a process accepts on it. A slot left down (an
 * operator stop, an exit not restarted, FATAL, or a slot a reload removed)
 * would swallow its share of them, so its socket is closed once the
 * process is gone (what is queued on it is reset: it arrived after the
 * process stopped accepting); the next start binds it again. A restart,
 * a respawn and BACKOFF keep it: the process comes back.
 */
void
sup_group_slot_state(struct sup_proc *p)
{
	struct sup_group	*g = p->p_group;
	int			*fd;

	if (!g->g_reuseport || p->p_index >= g->g_nlisten || p->p_extra)
		return;
	fd = &g->g_listen_fds[p->p_index];
	if (*fd == -1 || !(p->p_state == SUP_FATAL || p->p_state == SUP_EXITED ||
	    (p->p_state == SUP_STOPPED && !p->p_want_up)))
		return;
	close(*fd);
	*fd = -1;
	if (!sup.s_shutting_down)
		log_info("%s: listening socket closed while it is down "
		    "(listen_reuseport)", p->p_name);
}

int
sup_group_slot_open(struct sup_proc *p, char *err, size_t errlen)
{
	struct sup_group *g = p->p_group;

	if (!g->g_reuseport || g->g_wc == NULL || p->p_index >= g->g_nlisten ||
	    g->g_listen_fds[p->p_index] != -1)
		return 0;
	g->g_listen_fds[p->p_index] = sup_listen_bind(&g->g_wc->listen, 1, err, errlen);
	return g->g_listen_fds[p->p_index] == -1 ? -1 : 0;
}

struct sup_proc *
sup_proc_new(struct sup_group *g, int index)
{
	struct sup_proc *p = xcalloc(1, sizeof(*p));
	int lines = sup.s_cfg != NULL ? sup.s_cfg->holdfast.tail_lines : 1000;

	p->p_group = g;
	p->p_index = index;
	p->p_name = g->g_nprocs == 1 ? xstrdup(g->g_name) :
	    xasprintf("%s:%d", g->g_name, index);
	p->p_state = SUP_STOPPED;
	p->p_state_since_ms = hf_now_mono_ms();
	p->p_want_up = g->g_wc->autostart;
	p->p_ring = sup_ring_new(lines);
	p->p_db.d_state = -1;
	sup_proc_logfiles(p);
	return p;
}

void
sup_proc_free(struct sup_proc *p)
{
	sup_ctl_proc_gone(p);
	sup_cgroup_forget(p);	/* limits */
	sup_chan_detach(p);
	sup_out_detach(p);
	if (p->p_timer != NULL)
		event_free(p->p_timer);
	if (p->p_hbtimer != NULL)
		event_free(p->p_hbtimer);
	sup_proc_logfiles_close(p);
	sup_ring_free(p->p_ring);
	free(p->p_db.d_op);
	free(p->p_db.d_reason);
	free(p->p_db.d_detail);
	free(p->p_stats);
	free(p->p_status_text);	/* libhf */
	sup_metrics_free(p);	/* events */
	sup_sdnotify_proc_free(p);	/* sdnotify */
	sup_health_free(p);
	free(p->p_name);
	free(p);
}

/* Whether g's sockets can go to a group listening on spec the same way. */
static int
sup_listen_compatible(const struct sup_group *g, const char *spec, int reuseport)
{
	return g != NULL && g->g_nlisten > 0 && g->g_listen_spec != NULL &&
	    strcmp(g->g_listen_spec, spec) == 0 && g->g_reuseport == reuseport;
}

/* Hands the sockets "from" holds for the slots both have to "to", where
 * "to" has none; the slots only one of them has stay where they are. */
static void
sup_listen_move(struct sup_group *to, struct sup_group *from)
{
	int n = to->g_nlisten < from->g_nlisten ? to->g_nlisten : from->g_nlisten;

	for (int i = 0; i < n; i++)
		if (to->g_listen_fds[i] == -1 && from->g_listen_fds[i] != -1) {
			to->g_listen_fds[i] = from->g_listen_fds[i];
			from->g_listen_fds[i] = -1;
		}
}

/* Gives back what "from" took from "to"; a slot of "to" that was down had
 * no socket, and must not keep the one "from" bound for it. */
static void
sup_listen_give_back(struct sup_group *to, struct sup_group *from)
{
	sup_listen_move(to, from);
	for (int i = 0; i < to->g_nprocs; i++)
		sup_group_slot_state(to->g_procs[i]);
}

static void
sup_listen_close(struct sup_group *g)
{
	for (int i = 0; i < g->g_nlisten; i++)
		if (g->g_listen_fds[i] != -1)
			close(g->g_listen_fds[i]);
	free(g->g_listen_fds);
	free(g->g_listen_spec);
	g->g_listen_fds = NULL;
	g->g_listen_spec = NULL;
	g->g_nlisten = 0;
}

/*
 * The group's listening sockets: one, or one per instance slot with
 * listen_reuseport. The slots a group it replaces already has are taken
 * over when the address is the same (no window without a listener, and
 * what is queued on them stays queued); the others are bound. On failure
 * what was taken is given back and the rest closed.
 */
static int
sup_group_listen(struct sup_group *g, struct sup_group *old, char *err, size_t errlen)
{
	const struct cfg_worker	*wc = g->g_wc;

	if (wc->listen.type == 0)
		return 0;
	g->g_reuseport = wc->listen_reuseport;
	g->g_nlisten = g->g_reuseport ? wc->numprocs : 1;
	g->g_listen_fds = xreallocarray(NULL, g->g_nlisten, sizeof(int));
	g->g_listen_spec = xstrdup(wc->listen.spec);
	for (int i = 0; i < g->g_nlisten; i++)
		g->g_listen_fds[i] = -1;
	if (sup_listen_compatible(old, wc->listen.spec, g->g_reuseport))
		sup_listen_move(g, old);
	for (int i = 0; i < g->g_nlisten; i++) {
		if (g->g_listen_fds[i] != -1)
			continue;
		g->g_listen_fds[i] = sup_listen_bind(&wc->listen, g->g_reuseport, err, errlen);
		if (g->g_listen_fds[i] == -1) {
			if (sup_listen_compatible(old, wc->listen.spec, g->g_reuseport))
				sup_listen_give_back(old, g);
			sup_listen_close(g);
			return -1;
		}
	}
	return 0;
}

static struct sup_group *
sup_group_make(const struct cfg_worker *wc, struct sup_group *old, char *err,
    size_t errlen)
{
	struct sup_group *g = xcalloc(1, sizeof(*g));

	g->g_name = xstrdup(wc->name);
	g->g_wc = wc;
	g->g_roll_next = -1;
	if (sup_group_listen(g, old, err, errlen) == -1) {
		free(g->g_name);
		free(g);
		return NULL;
	}
	g->g_nprocs = wc->numprocs;
	g->g_procs = xcalloc(g->g_nprocs, sizeof(*g->g_procs));
	for (int i = 0; i < g->g_nprocs; i++) {
		g->g_procs[i] = sup_proc_new(g, i);
		sup_group_slot_state(g->g_procs[i]);	/* autostart = false */
	}
	return g;
}

struct sup_group *
sup_group_new(const struct cfg_worker *wc, char *err, size_t errlen)
{
	return sup_group_make(wc, NULL, err, errlen);
}

void
sup_group_free(struct sup_group *g)
{
	for (int i = 0; i < g->g_nprocs; i++)
		sup_proc_free(g->g_procs[i]);
	for (int i = 0; i < g->g_nextra; i++)
		sup_proc_free(g->g_extra[i]);
	free(g->g_extra);
	sup_listen_close(g);
	free(g->g_procs);
	free(g->g_name);
	free(g);
}

struct sup_group *
sup_group_find(const char *name)
{
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		if (!g->g_retired && strcmp(g->g_name, name) == 0)
			return g;
	return NULL;
}

int
sup_lookup(const char *name, struct sup_proc ***out)
{
	struct sup_proc	**v = NULL;
	int		 n = 0;

	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next) {
		if (g->g_retired)
			continue;
		for (int i = 0; i < g->g_nprocs; i++) {
			struct sup_proc *p = g->g_procs[i];

			if (strcmp(name, "all") != 0 && strcmp(name, g->g_name) != 0 &&
			    strcmp(name, p->p_name) != 0)
				continue;
			v = xreallocarray(v, n + 1, sizeof(*v));
			v[n++] = p;
		}
	}
	*out = v;
	return n;
}

/* ---- reload ---------------------------------------------------------- */

static void
sup_group_retire(struct sup_group *g)
{
	g->g_retired = 1;
	g->g_roll_next = -1;
	for (int i = 0; i < g->g_nprocs; i++) {
		sup_proc_stop(g->g_procs[i]);
		sup_ctl_proc_gone(g->g_procs[i]);
	}
	(void)sup_surge_stop_all(g, 0);
	g->g_wc = NULL;
}

static void
sup_group_append(struct sup_group *g)
{
	struct sup_group **gp = &sup.s_groups;

	while (*gp != NULL)
		gp = &(*gp)->g_next;
	*gp = g;
}

/* What a reload does to one [worker:NAME] section of the new config. */
enum sup_reload_kind {
	RELOAD_SAME = 0,	/* unchanged: keep the processes */
	RELOAD_INPLACE,		/* only holdfastd's own keys changed: keep them too */
	RELOAD_RESTART,		/* changed, same size and listen: restart in place */
	RELOAD_NEW,		/* a new group (added, or replacing the old one) */
};

struct sup_reload_plan {
	struct sup_group	*old;	/* the running group of that name, or NULL */
	struct sup_group	*donor;	/* whose listening socket "made" may take */
	struct sup_group	*made;	/* RELOAD_NEW: built, not yet in the table */
	enum sup_reload_kind	 kind;
};

/* Whether every key that differs applies in place (its row's reload
 * class): then the processes keep running. */
static int
sup_inplace_only(const struct cfg_worker *a, const struct cfg_worker *b)
{
	const char		*keys[64];
	const struct cfg_row	*k;
	int			 n = cfg_worker_diff(a, b, keys, 64);

	if (n > 64)
		return 0;
	for (int i = 0; i < n; i++)
		if ((k = cfg_row_find("worker", keys[i])) == NULL ||
		    k->reload != CFG_RELOAD_INPLACE)
			return 0;
	return 1;
}

static enum sup_reload_kind
sup_reload_kind_of(const struct cfg_worker *wc, const struct sup_group *old)
{
	if (old == NULL)
		return RELOAD_NEW;
	if (cfg_worker_equal(old->g_wc, wc))
		return RELOAD_SAME;
	if (sup_inplace_only(old->g_wc, wc))
		return RELOAD_INPLACE;
	if (old->g_nprocs == wc->numprocs && old->g_reuseport == wc->listen_reuseport &&
	    strcmp(old->g_wc->listen.spec ? old->g_wc->listen.spec : "",
	    wc->listen.spec ? wc->listen.spec : "") == 0)
		return RELOAD_RESTART;
	return RELOAD_NEW;
}

/* Gives back the listening sockets a new group took over, and frees it. */
static void
sup_reload_unmake(struct sup_reload_plan *pl)
{
	struct sup_group *g = pl->made;

	if (g == NULL)
		return;
	if (pl->donor != NULL && g->g_listen_spec != NULL &&
	    sup_listen_compatible(pl->donor, g->g_listen_spec, g->g_reuseport))
		sup_listen_give_back(pl->donor, g);
	sup_group_free(g);
	pl->made = NULL;
}

/* A section renamed with its listen address kept: the new group takes the
 * socket of the group that goes away, as a replaced group does. */
static struct sup_group *
sup_reload_donor(const struct cfg *ncfg, const struct cfg_worker *wc)
{
	if (wc->listen.spec == NULL)
		return NULL;
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		if (!g->g_retired &&
		    sup_listen_compatible(g, wc->listen.spec, wc->listen_reuseport) &&
		    cfg_worker_find(ncfg, g->g_name) == NULL)
			return g;
	return NULL;
}

/*
 * listen_reuseport switched on a running address cannot be applied: the
 * shared socket and SO_REUSEPORT ones cannot be bound to it together, and
 * closing first would refuse connections. The running mode is kept (put
 * back into ncfg so the running config says what runs) until the address
 * changes or holdfastd restarts.
 */
static void
sup_reload_keep_reuseport(struct cfg *ncfg)
{
	for (int i = 0; i < ncfg->nworkers; i++) {
		struct cfg_worker	*wc = &ncfg->workers[i];
		struct sup_group	*old = sup_group_find(wc->name);

		if (old == NULL || wc->listen.spec == NULL ||
		    old->g_reuseport == wc->listen_reuseport ||
		    !sup_listen_compatible(old, wc->listen.spec, old->g_reuseport))
			continue;
		log_warnx("reload: [worker:%s] listen_reuseport changed on a running "
		    "address: keeping %s until holdfastd restarts", wc->name,
		    old->g_reuseport ? "true" : "false");
		wc->listen_reuseport = old->g_reuseport;
	}
}

/*
 * Decides every section and builds the groups to add (binding their new
 * listen addresses) before anything running is touched: a section that
 * cannot be applied (an address in use) refuses the whole reload, which
 * then changes nothing. 0, or -1 with "[worker:NAME]: reason" in err.
 */
static int
sup_reload_prepare(const struct cfg *ncfg, struct sup_reload_plan *plan,
    char *err, size_t errlen)
{
	char why[256];

	for (int i = 0; i < ncfg->nworkers; i++) {
		const struct cfg_worker *wc = &ncfg->workers[i];

		plan[i].old = sup_group_find(wc->name);
		plan[i].kind = sup_reload_kind_of(wc, plan[i].old);
		if (plan[i].kind != RELOAD_NEW)
			continue;
		plan[i].donor = plan[i].old != NULL ? plan[i].old : sup_reload_donor(ncfg, wc);
		if ((plan[i].made = sup_group_make(wc, plan[i].donor, why, sizeof(why))) == NULL) {
			snprintf(err, errlen, "%s: [worker:%s]: %s", ncfg->path, wc->name, why);
			while (i-- > 0)
				sup_reload_unmake(&plan[i]);
			return -1;
		}
	}
	return 0;
}

/*
 * A changed section restarts its group (rolling when it has several
 * instances), leaving alone the instances an operator stopped; a changed
 * autostart is an order, though: true starts them all, false stops them
 * all (supervisord's `update` does the same by re-adding the group).
 */
/* Returns what happened: "restarted", or "stopped" (autostart now false). */
static const char *
sup_reload_restart(struct sup_group *g, const struct cfg_worker *wc)
{
	int flip = g->g_wc->autostart != wc->autostart;

	log_info("reload: [worker:%s] changed: %s", wc->name, flip && !wc->autostart ?
	    "autostart = false, stopping it" : "restarting it");
	g->g_wc = wc;
	for (int i = 0; i < g->g_nprocs; i++) {
		sup_proc_logfiles(g->g_procs[i]);
		if (flip)
			g->g_procs[i]->p_want_up = wc->autostart;
	}
	if (flip && !wc->autostart) {
		for (int i = 0; i < g->g_nprocs; i++)
			sup_proc_stop(g->g_procs[i]);
		return "stopped";
	}
	sup_group_restart(g, 1);
	return "restarted";
}

/* Supervision settings only: the processes keep running with them. */
static void
sup_reload_inplace(struct sup_group *g, const struct cfg_worker *wc)
{
	int flip = g->g_wc->autostart != wc->autostart;

	log_info("reload: [worker:%s] changed: applied without a restart", wc->name);
	g->g_wc = wc;
	for (int i = 0; i < g->g_nprocs; i++) {
		struct sup_proc *p = g->g_procs[i];

		p->p_stopsig = wc->stopsignal;
		sup_proc_logfiles(p);
		sup_health_reloaded(p);	/* sdnotify: checks added or removed */
		if (flip && wc->autostart && !p->p_want_up)
			sup_proc_start(p);
		else if (flip && !wc->autostart)
			sup_proc_stop(p);
	}
}

/* A group whose processes speak the channel runs holdfast worker code,
 * which reads [database], [whatsapp] and state_dir from the file itself; a
 * STARTING one may be such a worker that has not said hello yet; and one
 * failing to start (BACKOFF, FATAL) may have failed on the very values
 * just fixed, so it gets a fresh round of startretries. */
static int
sup_group_reads_config(const struct sup_group *g)
{
	for (int i = 0; i < g->g_nprocs; i++) {
		const struct sup_proc *p = g->g_procs[i];

		if (p->p_hello || p->p_state == SUP_STARTING ||
		    p->p_state == SUP_BACKOFF || p->p_state == SUP_FATAL)
			return 1;
	}
	return 0;
}

/* Keeps the newest lines of every ring within the new tail_lines. */
static void
sup_reload_tail_lines(int lines)
{
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		for (int i = 0; i < g->g_nprocs; i++) {
			struct sup_proc	*p = g->g_procs[i];
			struct sup_ring	*r = sup_ring_new(lines);
			int		 n = sup_ring_count(p->p_ring);

			for (int j = n > lines ? n - lines : 0; j < n; j++) {
				const char *l = sup_ring_get(p->p_ring, j);

				sup_ring_push_stream(r, sup_ring_stream(p->p_ring, j), l,
				    strlen(l));
			}
			sup_ring_free(p->p_ring);
			p->p_ring = r;
		}
}

static void
sup_keep_str(char **slot, const char *old)
{
	free(*slot);
	*slot = old != NULL ? xstrdup(old) : NULL;
}

/* status_listen: the new address is bound before the old one is let go;
 * when it cannot be, the old listener stays and ncfg says so. */
static void
sup_reload_web(const struct cfg_holdfast *o, struct cfg_holdfast *n)
{
	char err[CFG_ERRLEN];

	if (sup_web_relisten(&n->status_listen, err, sizeof(err)) == 0) {
		log_info("reload: [holdfast] status_listen changed: applied");
		return;
	}
	log_warnx("reload: [holdfast] status_listen: %s; keeping %s", err,
	    o->status_listen.type != 0 ? o->status_listen.spec : "none");
	cfg_listen_copy(&n->status_listen, &o->status_listen);
}

/* events: metrics_listen, bound like status_listen (kept on failure). */
static void
sup_reload_metrics(const struct cfg_holdfast *o, struct cfg_holdfast *n)
{
	char err[CFG_ERRLEN];

	if (sup_web_metrics_relisten(&n->metrics_listen, &n->status_listen, err,
	    sizeof(err)) == 0) {
		log_info("reload: [holdfast] metrics_listen: applied");
		return;
	}
	log_warnx("reload: [holdfast] metrics_listen: %s; keeping %s", err,
	    o->metrics_listen.type != 0 ? o->metrics_listen.spec : "none");
	cfg_listen_copy(&n->metrics_listen, &o->metrics_listen);
}

/*
 * [holdfast]: everything applies at once. log_level (unless -v), tail_lines
 * and shutdown_timeout are holdfastd's own (workers take log_level when
 * they next start); the control socket is moved or
 * re-permissioned, or, when that fails, kept with a warning and its old
 * values put back into ncfg so the running config says what runs. Returns
 * 1 when state_dir changed: the workers read it, so they must restart.
 */
static int
sup_reload_holdfast(const struct cfg *ocfg, struct cfg *ncfg)
{
	const struct cfg_holdfast	*o = &ocfg->holdfast;
	struct cfg_holdfast		*n = &ncfg->holdfast;
	const char			*keys[16];
	char				 err[CFG_ERRLEN];
	int				 nk, sock = 0, workers = 0;

	nk = cfg_section_diff(ocfg, ncfg, "holdfast", keys, 16);
	for (int i = 0; i < nk && i < 16; i++) {
		if (strcmp(keys[i], "control_socket") == 0 ||
		    strcmp(keys[i], "socket_group") == 0) {
			sock = 1;
			continue;	/* logged below, once done */
		} else if (strcmp(keys[i], "status_listen") == 0) {
			sup_reload_web(o, n);
			sup_reload_metrics(o, n);	/* events: /metrics may live there */
			continue;
		} else if (strcmp(keys[i], "metrics_listen") == 0) {	/* events */
			sup_reload_metrics(o, n);
			continue;
		} else if (cfg_row_find("holdfast", keys[i])->reload == CFG_RELOAD_RESTART)
			workers = 1;	/* state_dir: the workers read it */
		else if (strcmp(keys[i], "tail_lines") == 0) {
			sup_reload_tail_lines(n->tail_lines);
			sup_log_main_resize(n->tail_lines);	/* cfgcli: maintail */
		}
		else if (strcmp(keys[i], "log_file") == 0) {
			log_info("reload: [holdfast] log_file changed: now %s",
			    n->log_file != NULL ? n->log_file : "stderr");
			sup_log_own(n->log_file, "reload");
			continue;
		}
		else if (strcmp(keys[i], "log_level") == 0) {
			/* Workers read it too, but a restart of every worker
			 * (calls included) is too much for a log level. */
			log_info("reload: [holdfast] log_level changed: %s; workers take "
			    "it at their next start", sup.s_verbose ?
			    "holdfastd stays at debug (-v)" : "applied to holdfastd");
			continue;
		}
		if (strcmp(keys[i], "oom_score_adj") == 0)	/* limits */
			sup_cgroup_self_oom(n->oom_score_adj);
		log_info("reload: [holdfast] %s changed: applied", keys[i]);
	}
	log_set_level(sup.s_verbose ? LOG_LVL_DEBUG : n->log_level);
	if (sock && sup_ctl_relisten(n->control_socket, n->socket_group, err,
	    sizeof(err)) == 0)
		log_info("reload: [holdfast] control socket now %s (%s%s)", n->control_socket,
		    n->socket_group ? "0660, group " : "0600", n->socket_group ?
		    n->socket_group : "");
	else if (sock) {
		log_warnx("reload: [holdfast] control_socket/socket_group: %s; keeping "
		    "%s%s%s", err, o->control_socket, o->socket_group ? " group " : "",
		    o->socket_group ? o->socket_group : "");
		sup_keep_str(&n->control_socket, o->control_socket);
		sup_keep_str(&n->socket_group, o->socket_group);
	}
	return workers;
}

/* Names the changed keys of a shared section; 1 when any changed. Values
 * are never logged: conninfo and the WhatsApp secrets live here. */
static int
sup_reload_shared(const struct cfg *ocfg, const struct cfg *ncfg, const char *section)
{
	const char	*keys[32];
	char		 list[512] = "";
	int		 nk = cfg_section_diff(ocfg, ncfg, section, keys, 32);

	for (int i = 0; i < nk && i < 32; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
		    i > 0 ? ", " : "", keys[i]);
	if (nk > 0)
		log_info("reload: [%s] changed (%s): restarting the workers that read it",
		    section, list);
	return nk > 0;
}

/* One entry of the `holdfastctl reload` reply: {"group":…,"change":…}. */
static void
sup_reload_note(struct jw *changes, const char *group, const char *change)
{
	if (changes == NULL)
		return;
	jw_obj_open(changes);
	jw_kstr(changes, "group", group);
	jw_kstr(changes, "change", change);
	jw_obj_close(changes);
}

static void
sup_reload_apply(const struct cfg *ncfg, struct sup_reload_plan *plan, int shared,
    struct jw *changes)
{
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		if (!g->g_retired && cfg_worker_find(ncfg, g->g_name) == NULL) {
			log_info("reload: [worker:%s] removed: stopping it", g->g_name);
			sup_reload_note(changes, g->g_name, "removed");
			sup_group_retire(g);
		}
	for (int i = 0; i < ncfg->nworkers; i++) {
		const struct cfg_worker	*wc = &ncfg->workers[i];
		struct sup_group	*old = plan[i].old;

		switch (plan[i].kind) {
		case RELOAD_SAME:
		case RELOAD_INPLACE:
			if (plan[i].kind == RELOAD_INPLACE) {
				sup_reload_inplace(old, wc);
				sup_reload_note(changes, wc->name, "updated");
			}
			old->g_wc = wc;
			if (shared && sup_group_reads_config(old)) {
				log_info("reload: [worker:%s] restarting for the shared "
				    "settings", wc->name);
				sup_reload_note(changes, wc->name, "restarted");
				sup_group_restart(old, 1);
			}
			break;
		case RELOAD_RESTART:
			sup_reload_note(changes, wc->name, sup_reload_restart(old, wc));
			break;
		case RELOAD_NEW:
			log_info("reload: [worker:%s] %s", wc->name, old != NULL ?
			    "replaced" : "added");
			sup_reload_note(changes, wc->name, old != NULL ? "replaced" : "added");
			if (old != NULL)
				sup_group_retire(old);
			sup_group_append(plan[i].made);
			break;
		}
	}
}

/*
 * Nothing running is touched until the new config has loaded and every
 * section can be applied; then [holdfast] is applied, the changed and
 * removed groups are handled, and a change in [database], [whatsapp] or
 * state_dir restarts (rolling) the groups that read them, since every
 * respawn would pick the new values up anyway, one crash at a time.
 */
int
sup_reload(char *err, size_t errlen, struct jw *changes)
{
	struct cfg		*ncfg, *ocfg = sup.s_cfg;
	struct sup_reload_plan	*plan;
	int			 shared;

	sup_notify_reloading();	/* READY=1 follows once settled again */
	if ((ncfg = cfg_load(sup.s_cfgpath, err, errlen)) == NULL) {
		log_warnx("reload: keeping the running configuration: %s", err);
		sup_event_reload(0, err);	/* events */
		return -1;
	}
	plan = xcalloc(ncfg->nworkers + 1, sizeof(*plan));
	sup.s_cfg = ncfg;	/* new groups size their rings from it */
	sup_reload_keep_reuseport(ncfg);
	sup_scale_keep(ncfg);
	if (sup_reload_prepare(ncfg, plan, err, errlen) == -1) {
		sup.s_cfg = ocfg;
		log_warnx("reload: keeping the running configuration: %s", err);
		sup_event_reload(0, err);	/* events */
		free(plan);
		cfg_free(ncfg);
		return -1;
	}
	log_info("reload: %s", ncfg->path);
	shared = sup_reload_holdfast(ocfg, ncfg);
	shared |= sup_reload_shared(ocfg, ncfg, "database");
	shared |= sup_reload_shared(ocfg, ncfg, "whatsapp");
	sup_reload_apply(ncfg, plan, shared, changes);
	sup_hook_configure(ncfg);	/* events: listeners kept by name */
	sup_event_reload(1, NULL);
	free(plan);
	cfg_free(ocfg);
	sup_pass();
	return 0;
}

/* ---- cfgcli: reload --dry-run ------------------------------------------- */

/* The running settings a reload keeps (scale, listen_reuseport; see
 * sup_scale_keep and sup_reload_keep_reuseport), put into ncfg silently. */
static void
sup_dry_keep(struct cfg *ncfg)
{
	for (int i = 0; i < ncfg->nworkers; i++) {
		struct cfg_worker	*wc = &ncfg->workers[i];
		struct sup_group	*g = sup_group_find(wc->name);

		if (g == NULL)
			continue;
		if (g->g_scale_base != 0 && wc->numprocs == g->g_scale_base)
			wc->numprocs = g->g_nprocs;
		if (wc->listen.spec != NULL && g->g_reuseport != wc->listen_reuseport &&
		    sup_listen_compatible(g, wc->listen.spec, g->g_reuseport))
			wc->listen_reuseport = g->g_reuseport;
	}
}

/* {"group","change","keys":[...]} for one group of a dry run. */
static void
sup_dry_note(struct jw *w, const char *group, const char *change,
    const struct cfg_worker *a, const struct cfg_worker *b)
{
	const char	*keys[64];
	int		 n = a != NULL && b != NULL ? cfg_worker_diff(a, b, keys, 64) : 0;

	jw_obj_open(w);
	jw_kstr(w, "group", group);
	jw_kstr(w, "change", change);
	jw_key(w, "keys");
	jw_arr_open(w);
	for (int i = 0; i < n && i < 64; i++)
		jw_str(w, keys[i]);
	jw_arr_close(w);
	jw_obj_close(w);
}

/* The changed keys of the shared sections, as {"section","keys"}; 1 when
 * the workers must restart for them. */
static int
sup_dry_sections(const struct cfg *ocfg, const struct cfg *ncfg, struct jw *w)
{
	static const char *const sections[] = { "holdfast", "database", "whatsapp" };
	const char	*keys[64];
	int		 shared = 0;

	jw_key(w, "sections");
	jw_arr_open(w);
	for (size_t s = 0; s < nitems(sections); s++) {
		int n = cfg_section_diff(ocfg, ncfg, sections[s], keys, 64);

		if (n == 0)
			continue;
		jw_obj_open(w);
		jw_kstr(w, "section", sections[s]);
		jw_key(w, "keys");
		jw_arr_open(w);
		for (int i = 0; i < n && i < 64; i++) {
			jw_str(w, keys[i]);
			shared |= s > 0 || cfg_row_find(sections[s], keys[i])->reload ==
			    CFG_RELOAD_RESTART;
		}
		jw_arr_close(w);
		jw_obj_close(w);
	}
	jw_arr_close(w);
	return shared;
}

/* What one section of the new file would do to its running group. */
static void
sup_dry_group(const struct cfg *ncfg, const struct cfg_worker *wc, int shared, struct jw *w)
{
	struct sup_group	*old = sup_group_find(wc->name);
	const struct cfg_worker	*ow = old != NULL ? old->g_wc : NULL;

	(void)ncfg;
	switch (sup_reload_kind_of(wc, old)) {
	case RELOAD_SAME:
		if (shared && sup_group_reads_config(old))
			sup_dry_note(w, wc->name, "restarted", NULL, NULL);
		break;
	case RELOAD_INPLACE:
		sup_dry_note(w, wc->name, shared && sup_group_reads_config(old) ?
		    "restarted" : "updated", ow, wc);
		break;
	case RELOAD_RESTART:
		sup_dry_note(w, wc->name, ow->autostart && !wc->autostart ? "stopped" :
		    "restarted", ow, wc);
		break;
	case RELOAD_NEW:
		sup_dry_note(w, wc->name, old != NULL ? "replaced" : "added", ow, wc);
		break;
	}
}

int
sup_reload_dry_run(char *err, size_t errlen, struct jw *w)
{
	struct cfg	*ncfg;
	int		 shared;

	if ((ncfg = cfg_load(sup.s_cfgpath, err, errlen)) == NULL)
		return -1;
	sup_dry_keep(ncfg);
	shared = sup_dry_sections(sup.s_cfg, ncfg, w);
	jw_key(w, "changes");
	jw_arr_open(w);
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		if (!g->g_retired && cfg_worker_find(ncfg, g->g_name) == NULL)
			sup_dry_note(w, g->g_name, "removed", NULL, NULL);
	for (int i = 0; i < ncfg->nworkers; i++)
		sup_dry_group(ncfg, &ncfg->workers[i], shared, w);
	jw_arr_close(w);
	cfg_free(ncfg);
	return 0;
}
