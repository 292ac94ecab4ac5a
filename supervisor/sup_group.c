/*
 * sup_group: groups of instances, name lookup, listening sockets and the
 * SIGHUP reload.
 *
 * A reload is applied by difference, per group: an unchanged section
 * (cfg_worker_equal) keeps its processes untouched and only points at the
 * new config; a changed one with the same size and listen address is
 * restarted (rolling when it has several instances); anything else is
 * retired (stopped, then freed by the pass) and replaced by a new group.
 * A config that does not load changes nothing.
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
#include "log.h"
#include "sup.h"
#include "sup_ctl.h"
#include "sup_log.h"
#include "sup_notify.h"
#include "util.h"

int
sup_listen_bind(const char *spec, int type, const char *host, const char *port,
    char *err, size_t errlen)
{
	struct addrinfo	 hints, *res, *ai;
	int		 fd = -1, on = 1, rc, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = type;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "listen %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, type | SOCK_CLOEXEC, 0)) == -1) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    (type == SOCK_STREAM && listen(fd, SOMAXCONN) == -1)) {
			saved = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(err, errlen, "bind(%s): %s", spec, strerror(saved));
	return fd;
}

static struct sup_proc *
sup_proc_new(struct sup_group *g, int index)
{
	struct sup_proc *p = xcalloc(1, sizeof(*p));
	int lines = sup.s_cfg != NULL ? sup.s_cfg->holdfast.tail_lines : 1000;

	p->p_group = g;
	p->p_index = index;
	p->p_name = g->g_nprocs == 1 ? xstrdup(g->g_name) :
	    xasprintf("%s:%d", g->g_name, index);
	p->p_state = SUP_STOPPED;
	p->p_state_since_ms = now_mono_ms();
	p->p_want_up = g->g_wc->autostart;
	p->p_ring = sup_ring_new(lines);
	p->p_db.d_state = -1;
	sup_proc_logfiles(p);
	return p;
}

static void
sup_proc_free(struct sup_proc *p)
{
	sup_ctl_proc_gone(p);
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
	free(p->p_name);
	free(p);
}

/* The group's listening socket: taken over from a group it replaces when
 * the address is the same (no window without a listener), else bound. */
static int
sup_group_listen(struct sup_group *g, struct sup_group *old, char *err, size_t errlen)
{
	const struct cfg_listen *l = &g->g_wc->listen;

	g->g_listen_fd = -1;
	if (l->type == 0)
		return 0;
	g->g_listen_spec = xstrdup(l->spec);
	if (old != NULL && old->g_listen_fd != -1 && old->g_listen_spec != NULL &&
	    strcmp(old->g_listen_spec, l->spec) == 0) {
		g->g_listen_fd = old->g_listen_fd;
		old->g_listen_fd = -1;
		return 0;
	}
	g->g_listen_fd = sup_listen_bind(l->spec, l->type, l->host, l->port, err, errlen);
	return g->g_listen_fd == -1 ? -1 : 0;
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
		free(g->g_listen_spec);
		free(g->g_name);
		free(g);
		return NULL;
	}
	g->g_nprocs = wc->numprocs;
	g->g_procs = xcalloc(g->g_nprocs, sizeof(*g->g_procs));
	for (int i = 0; i < g->g_nprocs; i++)
		g->g_procs[i] = sup_proc_new(g, i);
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
	if (g->g_listen_fd != -1)
		close(g->g_listen_fd);
	free(g->g_listen_spec);
	free(g->g_procs);
	free(g->g_name);
	free(g);
}

static struct sup_group *
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

/* Applies one section of the new config to the running group (or none). */
static void
sup_reload_section(const struct cfg_worker *wc, struct sup_group *old)
{
	struct sup_group	*g;
	char			 err[256];

	if (old != NULL && cfg_worker_equal(old->g_wc, wc)) {
		old->g_wc = wc;
		return;
	}
	if (old != NULL && old->g_nprocs == wc->numprocs &&
	    strcmp(old->g_wc->listen.spec ? old->g_wc->listen.spec : "",
	    wc->listen.spec ? wc->listen.spec : "") == 0) {
		log_info("reload: [worker:%s] changed: restarting it", wc->name);
		old->g_wc = wc;
		for (int i = 0; i < old->g_nprocs; i++)
			sup_proc_logfiles(old->g_procs[i]);
		sup_group_restart(old, 1);
		return;
	}
	if ((g = sup_group_make(wc, old, err, sizeof(err))) == NULL) {
		log_warnx("reload: [worker:%s]: %s", wc->name, err);
		return;
	}
	log_info("reload: [worker:%s] %s", wc->name, old != NULL ? "replaced" : "added");
	if (old != NULL)
		sup_group_retire(old);
	sup_group_append(g);
}

int
sup_reload(char *err, size_t errlen)
{
	struct cfg		*ncfg, *ocfg = sup.s_cfg;
	struct sup_group	*g;

	sup_notify_reloading();	/* READY=1 follows once settled again */
	if ((ncfg = cfg_load(sup.s_cfgpath, err, errlen)) == NULL) {
		log_warnx("reload: keeping the running configuration: %s", err);
		return -1;
	}
	log_info("reload: %s", ncfg->path);
	log_set_level(ncfg->holdfast.log_level);
	if (strcmp(ncfg->holdfast.control_socket, ocfg->holdfast.control_socket) != 0)
		log_warnx("reload: control_socket change needs a restart of holdfastd");
	sup.s_cfg = ncfg;
	for (g = sup.s_groups; g != NULL; g = g->g_next)
		if (!g->g_retired && cfg_worker_find(ncfg, g->g_name) == NULL) {
			log_info("reload: [worker:%s] removed", g->g_name);
			sup_group_retire(g);
		}
	for (int i = 0; i < ncfg->nworkers; i++)
		sup_reload_section(&ncfg->workers[i], sup_group_find(ncfg->workers[i].name));
	cfg_free(ocfg);
	sup_pass();
	return 0;
}
