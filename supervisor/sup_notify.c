/*
 * sup_notify: tells systemd (or anything listening on NOTIFY_SOCKET) how
 * holdfastd is doing, with the datagram protocol of sd_notify(3):
 *
 *   READY=1      once every autostart worker is RUNNING, or has settled
 *                into BACKOFF/FATAL (then STATUS= says which), so that
 *                `systemctl start` returns when the service is usable and
 *                never hangs on a worker that cannot start;
 *   STATUS=...   "3/3 running; db: http up, whatsapp down (ConnectionRefused)"
 *                whenever that line changes (shown by `systemctl status`);
 *   RELOADING=1  at SIGHUP / `holdfastctl reload`, READY=1 again after;
 *   STOPPING=1   when the shutdown starts;
 *   WATCHDOG=1   every WATCHDOG_USEC / 2, from the event loop, so a wedged
 *                loop stops the pings and systemd restarts holdfastd.
 *
 * Invariants: no libsystemd (a sendto is all it takes); the variables are
 * never passed to workers (sup_spawn.c strips them), so a worker cannot
 * speak for holdfastd; a lost datagram is logged once and never fatal.
 * State changes are coalesced: sup_notify_changed() only activates an
 * event, and the line is computed once the current callback is done.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cfg.h"
#include "log.h"
#include "sup.h"
#include "sup_notify.h"
#include "sup_upgrade.h"
#include "util.h"

static struct {
	int			 fd;
	struct sockaddr_un	 sun;
	socklen_t		 sunlen;
	int			 ready;		/* READY=1 sent since start/reload */
	int			 warned;
	char			 status[512];
	struct event		*ev_update;
	struct event		*ev_watchdog;
} sn = { .fd = -1 };

/* One datagram; 0, or -1 (logged once). */
static int
sup_notify_send(const char *msg)
{
	if (sn.fd == -1)
		return 0;
	if (sendto(sn.fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sn.sun, sn.sunlen) == -1) {
		if (!sn.warned++)
			log_warn("sendto(NOTIFY_SOCKET %s%s)",
			    sn.sun.sun_path[0] == '\0' ? "@" : "",
			    sn.sun.sun_path + (sn.sun.sun_path[0] == '\0'));
		return -1;
	}
	log_debug("%s: %s", __func__, msg);
	return 0;
}

/* NOTIFY_SOCKET: a path, or "@name" for the abstract namespace. */
static int
sup_notify_addr(const char *path)
{
	size_t n = strlen(path);

	if ((path[0] != '/' && path[0] != '@') || n < 2 || n >= sizeof(sn.sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET=%s: not a socket path or @name; ignored", path);
		return -1;
	}
	memset(&sn.sun, 0, sizeof(sn.sun));
	sn.sun.sun_family = AF_UNIX;
	memcpy(sn.sun.sun_path, path, n);
	if (path[0] == '@')
		sn.sun.sun_path[0] = '\0';
	sn.sunlen = offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/');
	return 0;
}

/* "http up" / "whatsapp down (ConnectionRefused)" for a group whose DB
 * state is known; nothing for one that never said (db=unknown). */
static void
sup_notify_group_db(const struct sup_group *g, char *buf, size_t len, int *ngroups)
{
	const struct sup_proc	*down = NULL;
	int			 up = 0;

	for (int i = 0; i < g->g_nprocs; i++) {
		if (g->g_procs[i]->p_db.d_state == 0 && down == NULL)
			down = g->g_procs[i];
		up += g->g_procs[i]->p_db.d_state == 1;
	}
	if (down == NULL && up == 0)
		return;
	snprintf(buf + strlen(buf), len - strlen(buf), "%s%s %s%s%s%s",
	    (*ngroups)++ ? ", " : "; db: ", g->g_name, down ? "down" : "up",
	    down && down->p_db.d_reason ? " (" : "",
	    down && down->p_db.d_reason ? down->p_db.d_reason : "",
	    down && down->p_db.d_reason ? ")" : "");
}

static int
sup_notify_alive(void)
{
	int n = 0;

	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		for (int i = 0; i < g->g_nprocs; i++)
			n += g->g_procs[i]->p_pid != 0;
	return n;
}

/* Builds the STATUS= text; returns 1 when every wanted process settled. */
static int
sup_notify_status(char *buf, size_t len)
{
	int	 want = 0, running = 0, settled = 1, ngroups = 0;
	char	 notup[160] = "";

	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		for (int i = 0; i < g->g_nprocs && !g->g_retired; i++) {
			struct sup_proc *p = g->g_procs[i];

			if (!p->p_want_up)
				continue;
			want++;
			running += p->p_state == SUP_RUNNING;
			if (p->p_state == SUP_BACKOFF || p->p_state == SUP_FATAL)
				snprintf(notup + strlen(notup), sizeof(notup) - strlen(notup),
				    "%s%s %s", notup[0] ? ", " : "", p->p_name,
				    sup_state_name(p->p_state));
			else if (p->p_state != SUP_RUNNING && !sup_depends_stalled(p))
				settled = 0;	/* cfgcli: not when held by a failing dependency */
		}
	if (sup.s_shutting_down) {
		snprintf(buf, len, "stopping: %d still up", sup_notify_alive());
		return 0;
	}
	snprintf(buf, len, "%s%d/%d running%s%s%s", settled ? "" : "starting: ",
	    running, want, notup[0] ? " (" : "", notup, notup[0] ? ")" : "");
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		if (!g->g_retired)
			sup_notify_group_db(g, buf, len, &ngroups);
	return settled;
}

static void
sup_notify_update(evutil_socket_t fd, short what, void *arg)
{
	char	 status[512], msg[600];
	int	 settled = sup_notify_status(status, sizeof(status));

	if (settled && !sn.ready) {
		sn.ready = 1;
		snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	} else if (strcmp(status, sn.status) != 0) {
		snprintf(msg, sizeof(msg), "STATUS=%s", status);
	} else
		return;
	snprintf(sn.status, sizeof(sn.status), "%s", status);
	(void)sup_notify_send(msg);
}

static void
sup_notify_ping(evutil_socket_t fd, short what, void *arg)
{
	sup_heal_alive();	/* the stall guard's sign of life */
	(void)sup_notify_send("WATCHDOG=1");
}

/* WATCHDOG_USEC applies to us unless WATCHDOG_PID names another process. */
static void
sup_notify_watchdog(struct event_base *base)
{
	const char	*usec = getenv("WATCHDOG_USEC"), *wpid = getenv("WATCHDOG_PID");
	long long	 us;
	char		*end;
	struct timeval	 tv;

	if (usec == NULL || (wpid != NULL && atoll(wpid) != (long long)getpid()))
		return;
	errno = 0;
	us = strtoll(usec, &end, 10);
	if (errno != 0 || *end != '\0' || us <= 0) {
		log_warnx("WATCHDOG_USEC=%s: not a positive number; ignored", usec);
		return;
	}
	tv.tv_sec = us / 2 / 1000000;
	tv.tv_usec = us / 2 % 1000000;
	sn.ev_watchdog = event_new(base, -1, EV_PERSIST, sup_notify_ping, NULL);
	event_add(sn.ev_watchdog, &tv);
	log_info("watchdog: WATCHDOG=1 every %lldms", us / 2000);
	sup_heal_watch(us);
	sup_notify_ping(-1, 0, NULL);
}

void
sup_notify_init(struct event_base *base)
{
	const char *path = getenv("NOTIFY_SOCKET");

	if (path == NULL || sup_notify_addr(path) == -1)
		return;
	if ((sn.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		log_warn("socket(AF_UNIX, SOCK_DGRAM) for NOTIFY_SOCKET");
		return;
	}
	sn.ev_update = event_new(base, -1, 0, sup_notify_update, NULL);
	log_info("notify: NOTIFY_SOCKET=%s", path);
	sup_notify_watchdog(base);
}

void
sup_notify_changed(void)
{
	sup_upgrade_changed(1);	/* the same changes keep the saved state current */
	if (sn.ev_update != NULL)
		event_active(sn.ev_update, EV_TIMEOUT, 1);
}

void
sup_notify_reloading(void)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)hf_now_mono_us());
	(void)sup_notify_send(msg);
	sn.ready = 0;
	sup_notify_changed();
}

void
sup_notify_stopping(void)
{
	(void)sup_notify_send("STOPPING=1");
	sup_notify_changed();
}

void
sup_notify_close(void)
{
	if (sn.ev_update != NULL)
		event_free(sn.ev_update);
	if (sn.ev_watchdog != NULL)
		event_free(sn.ev_watchdog);
	if (sn.fd != -1)
		close(sn.fd);
	sn.ev_update = sn.ev_watchdog = NULL;
	sn.fd = -1;
}
