/*
 * sup_sdnotify: the receiving end of sd_notify(3) for every child (see
 * sup_sdnotify.h). What a child may send, one KEY=VALUE per line:
 *
 *   READY=1                 STARTING -> RUNNING (as the channel's "ready")
 *   STATUS=text             shown by holdfastctl status and the status page
 *   WATCHDOG=1              a sign of life; the first one arms the heartbeat
 *                           watchdog (notify = systemd: armed at READY=1)
 *   WATCHDOG=trigger        [WORKER_HUNG] now: killed and respawned
 *   STOPPING=1, RELOADING=1 recorded and shown (RELOADING until READY=1)
 *   EXTEND_TIMEOUT_USEC=N   start_timeout / stopwaitsecs extended by N us
 *   MAINPID=N               a forking program: N (its descendant) is the
 *                           process supervised once the child exits 0
 *   ERRNO=N                 recorded and shown
 *   X_HOLDFAST_DB=up|down   the database health holdfastctl health shows,
 *   X_HOLDFAST_DB_REASON=, X_HOLDFAST_DB_DETAIL=, X_HOLDFAST_DB_OP=,
 *   X_HOLDFAST_DB_ATTEMPTS= (as the channel's "db" message)
 *
 * Unknown keys are ignored, as systemd does.
 *
 * Invariants: a datagram counts only when the kernel's credentials name
 * an instance (its pid or its MAINPID) running as the uid it was started
 * with; anything else (another pid or uid, longer than SUP_SD_DGRAM_MAX,
 * descriptors attached: closed at once, no credentials) changes nothing
 * and is counted, and logged at most once a second. At most
 * SUP_SD_READ_BUDGET datagrams are read per loop iteration, so a flood
 * costs its sender's queue, never the loop.
 *
 * A main pid that is not our child: its exit is seen through a pidfd
 * (pidfd_open, Linux 5.3), or else by polling kill(pid, 0) every second;
 * as holdfastd is a subreaper, a daemon whose parent exits is reparented
 * to holdfastd, and then the reaper gets its real exit status first.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <event2/event.h>

#include "cfg.h"
#include "json.h"
#include "log.h"
#include "sup.h"
#include "sup_event.h"
#include "sup_health.h"
#include "sup_sdnotify.h"
#include "sup_upgrade.h"
#include "util.h"

#define SD_MAX_FDS	253	/* SCM_MAX_FD: what one datagram can carry */

enum sd_drop { SD_DROP_PID, SD_DROP_UID, SD_DROP_SIZE, SD_DROP_FDS, SD_DROP_CRED,
    SD_NDROP };

static const char *const sd_drop_names[SD_NDROP] = {
	"unknown_pid", "wrong_uid", "oversized", "fds", "no_credentials",
};

static struct {
	int		 fd;
	char		 name[64];	/* "@holdfast/<pid>/<random>" */
	struct event	*ev;
	uint64_t	 received, accepted;
	uint64_t	 dropped[SD_NDROP];
	uint64_t	 last_log_ms, unlogged;
} sd = { .fd = -1 };

/* ---- the socket --------------------------------------------------------- */

static void sd_read(evutil_socket_t, short, void *);

static int
sd_name_of(int fd, char *buf, size_t len)
{
	struct sockaddr_un	 sun;
	socklen_t		 sl = sizeof(sun);

	if (getsockname(fd, (struct sockaddr *)&sun, &sl) == -1 ||
	    sl <= offsetof(struct sockaddr_un, sun_path) + 1 || sun.sun_path[0] != '\0')
		return -1;
	snprintf(buf, len, "@%.*s", (int)(sl - offsetof(struct sockaddr_un, sun_path) - 1),
	    sun.sun_path + 1);
	return 0;
}

/* A new socket, bound to a fresh abstract name: no file to clean up, and
 * no directory a child running as another user must be able to reach. */
static int
sd_open(void)
{
	struct sockaddr_un	 sun;
	int			 fd, on = 1, n;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		log_warn("[NOTIFY] socket(AF_UNIX, SOCK_DGRAM)");
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "holdfast/%d/%08x",
	    (int)getpid(), (unsigned)(hf_rand_unit() * 4294967295.0));
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) == -1) {
		log_warn("[NOTIFY] bind(@%s)", sun.sun_path + 1);
		close(fd);
		return -1;
	}
	return fd;
}

void
sup_sdnotify_init(int fd)
{
	int on = 1;

	if (fd != -1 && (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == -1 ||
	    sd_name_of(fd, sd.name, sizeof(sd.name)) == -1)) {
		log_warnx("[NOTIFY] the saved notify socket is unusable: a new one");
		close(fd);
		fd = -1;
	}
	if (fd == -1 && (fd = sd_open()) != -1 &&
	    sd_name_of(fd, sd.name, sizeof(sd.name)) == -1) {
		close(fd);
		fd = -1;
	}
	if (fd == -1) {
		log_warnx("[NOTIFY] no notify socket: children get no NOTIFY_SOCKET");
		return;
	}
	hf_fd_set_cloexec(fd);
	hf_fd_set_nonblock(fd);
	sd.fd = fd;
	sd.ev = event_new(sup.s_base, fd, EV_READ | EV_PERSIST, sd_read, NULL);
	event_add(sd.ev, NULL);
	log_debug("[NOTIFY] socket=%s", sd.name);
}

void
sup_sdnotify_close(void)
{
	if (sd.ev != NULL)
		event_free(sd.ev);
	sd.ev = NULL;

	if (sd.fd != -1)
		close(sd.fd);
	sd.fd = -1;
}

void
sup_sdnotify_env(const struct sup_proc *p, char **env, size_t *n, char **wdpid)
{
	const struct cfg_worker *wc = p->p_group->g_wc;

	*wdpid = NULL;
	if (sd.fd == -1 || wc == NULL || wc->notify == CFG_NOTIFY_OFF)
		return;
	env[(*n)++] = xasprintf("NOTIFY_SOCKET=%s", sd.name);
	if (wc->heartbeat_timeout_ms > 0) {
		env[(*n)++] = xasprintf("WATCHDOG_USEC=%lld",
		    (long long)wc->heartbeat_timeout_ms * 1000);
		*wdpid = env[(*n)++] = xstrdup("WATCHDOG_PID=                    ");
	}
}

/* ---- ignored datagrams -------------------------------------------------- */

static void
sd_drop(enum sd_drop why, pid_t pid, uid_t uid)
{
	uint64_t now = hf_now_mono_ms();

	sd.dropped[why]++;
	if (sd.last_log_ms != 0 && now - sd.last_log_ms < SUP_SD_LOG_EVERY_MS) {
		sd.unlogged++;
		return;
	}
	log_warnx("[NOTIFY_IGNORED] reason=%s pid=%d uid=%d suppressed=%llu",
	    sd_drop_names[why], (int)pid, (int)uid, (unsigned long long)sd.unlogged);
	sd.last_log_ms = now;
	sd.unlogged = 0;
}

/* The instance a pid speaks for: its child, or its announced main pid. */
static struct sup_proc *
sd_find(pid_t pid)
{
	struct sup_proc *p;

	if (pid <= 0)
		return NULL;
	if ((p = sup_find_pid(pid)) != NULL)
		return p;
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next) {
		for (int i = 0; i < g->g_nprocs; i++)
			if (g->g_procs[i]->p_sd_mainpid == pid && g->g_procs[i]->p_pid != 0)
				return g->g_procs[i];
		for (int i = 0; i < g->g_nextra; i++)
			if (g->g_extra[i]->p_sd_mainpid == pid && g->g_extra[i]->p_pid != 0)
				return g->g_extra[i];
	}
	return NULL;
}

/* ---- the main pid --------------------------------------------------------- */

/* The parent of pid from /proc (0 when unknown). */
static pid_t
sd_ppid(pid_t pid)
{
	char	 path[64], buf[512], *rp;
	int	 fd, ppid = 0;
	ssize_t	 n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((rp = strrchr(buf, ')')) == NULL || sscanf(rp + 1, " %*c %d", &ppid) != 1)
		return 0;
	return (pid_t)ppid;
}

/* A main pid must descend from the instance's child (or be an orphan
 * reparented to holdfastd running as the instance's uid): a child cannot
 * name another process for holdfastd to signal. */
static int
sd_mainpid_ok(const struct sup_proc *p, pid_t pid)
{
	pid_t		 cur = pid;
	struct stat	 st;
	char		 path[32];

	if (pid <= 1 || pid == getpid())
		return 0;
	if (pid == p->p_pid)
		return 1;
	for (int depth = 0; depth < 32 && cur > 1; depth++) {
		cur = sd_ppid(cur);
		if (cur == p->p_pid)
			return 1;
		if (cur == getpid()) {
			snprintf(path, sizeof(path), "/proc/%d", (int)pid);
			return sup_find_pid(pid) == NULL && stat(path, &st) == 0 &&
			    st.st_uid == p->p_sd_uid;
		}
	}
	return 0;
}

static void
sd_pid_unwatch(struct sup_proc *p)
{
	int fd;

	if (p->p_sd_pidev == NULL)
		return;
	fd = event_get_fd(p->p_sd_pidev);
	event_free(p->p_sd_pidev);
	p->p_sd_pidev = NULL;
	if (fd != -1)
		close(fd);
}

/* The main pid is gone (its pidfd is readable, or kill(0) says so). */
static void
sd_mainpid_gone(struct sup_proc *p)
{
	pid_t pid = p->p_sd_mainpid;

	sup_reap();	/* our child after all (reparented): its real status */
	if (p->p_exit_pending || p->p_pid != pid || !p->p_sd_adopted) {
		if (p->p_pid != pid && p->p_sd_mainpid == pid) {
			log_info("[WORKER_MAINPID] name=%s mainpid=%d exited before "
			    "pid=%d: forgotten", p->p_name, (int)pid, (int)p->p_pid);
			p->p_sd_mainpid = 0;
		}
		sd_pid_unwatch(p);
		sup_pass();
		return;
	}
	log_info("[WORKER_MAINPID] name=%s mainpid=%d exited (not our child: "
	    "status unknown, taken as code=0)", p->p_name, (int)pid);
	sd_pid_unwatch(p);
	p->p_exit_status = 0;
	p->p_exit_pending = 1;
	p->p_reaped_us = hf_now_mono_us();
	sup_pass();
}

static void
sd_pid_event(evutil_socket_t fd, short what, void *arg)
{
	struct sup_proc *p = arg;

	if (fd == -1 && kill(p->p_sd_mainpid, 0) == 0)
		return;		/* the poll: still there */
	if (fd == -1 && errno == EPERM)
		return;
	sd_mainpid_gone(p);
}

static void
sd_pid_watch(struct sup_proc *p)
{
	struct timeval	 tv = { 1, 0 };
	int		 fd = -1;

	sd_pid_unwatch(p);
	errno = ENOSYS;
#ifdef SYS_pidfd_open
	fd = (int)syscall(SYS_pidfd_open, p->p_sd_mainpid, 0);
#endif
	if (fd != -1) {
		hf_fd_set_cloexec(fd);
		p->p_sd_pidev = event_new(sup.s_base, fd, EV_READ, sd_pid_event, p);
		event_add(p->p_sd_pidev, NULL);
	} else if (errno == ESRCH) {
		p->p_sd_pidev = evtimer_new(sup.s_base, sd_pid_event, p);
		tv.tv_sec = 0;
		evtimer_add(p->p_sd_pidev, &tv);
	} else {
		p->p_sd_pidev = event_new(sup.s_base, -1, EV_PERSIST, sd_pid_event, p);
		event_add(p->p_sd_pidev, &tv);
	}
}

static void
sd_mainpid(struct sup_proc *p, const char *v)
{
	long long pid;

	if (hf_parse_int(v, 2, 0x7fffffff, &pid) == -1 || !sd_mainpid_ok(p, (pid_t)pid)) {
		log_warnx("[WORKER_MAINPID] name=%s pid=%d MAINPID=%.20s refused: not a "
		    "process of this instance", p->p_name, (int)p->p_pid, v);
		return;
	}
	if (pid == p->p_sd_mainpid || pid == p->p_pid)
		return;
	p->p_sd_mainpid = (pid_t)pid;
	log_info("[WORKER_MAINPID] name=%s pid=%d mainpid=%lld", p->p_name,
	    (int)p->p_pid, pid);
	sd_pid_watch(p);
}

int
sup_sdnotify_handover(struct sup_proc *p)
{
	pid_t main = p->p_sd_mainpid;

	if (main == 0 || main == p->p_pid || p->p_sd_adopted ||
	    !WIFEXITED(p->p_exit_status) || WEXITSTATUS(p->p_exit_status) != 0 ||
	    kill(main, 0) == -1)
		return 0;
	log_info("[WORKER_MAINPID] name=%s pid=%d exited code=0: supervising mainpid=%d",
	    p->p_name, (int)p->p_pid, (int)main);
	p->p_exit_pending = 0;
	p->p_pid = main;
	p->p_sd_adopted = 1;
	sup_upgrade_changed(1);
	return 1;
}

/* ---- the messages --------------------------------------------------------- */

static void
sd_set_status(struct sup_proc *p, const char *v)
{
	size_t	 n = strlen(v);
	char	*s;

	if (n > SUP_SD_STATUS_MAX)
		n = SUP_SD_STATUS_MAX;
	s = xstrndup(v, n);
	for (char *c = s; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	free(p->p_sd_status);
	p->p_sd_status = s;
	free(p->p_status_text);		/* the status text, whatever the transport */
	p->p_status_text = xstrdup(s);
}

static void
sd_ready(struct sup_proc *p)
{
	p->p_sd_flags = (p->p_sd_flags & ~SUP_SD_RELOADING) | SUP_SD_READY;
	if (p->p_state == SUP_STARTING) {
		sup_proc_event(p, SUP_EV_READY);
		sup_pass();
	}
}

static void
sd_watchdog(struct sup_proc *p, const char *v)
{
	if (strcmp(v, "trigger") == 0) {
		log_warnx("[WORKER_HUNG] name=%s pid=%d reason=WATCHDOG=trigger",
		    p->p_name, (int)p->p_pid);
		p->p_hung_kills++;	/* events and metrics count it as a hang */
		sup_event_hung(p, hf_now_mono_ms() - p->p_last_msg_ms);
		sup_proc_event(p, SUP_EV_HUNG);
		sup_pass();
		return;
	}
	if (strcmp(v, "1") != 0)
		return;
	p->p_last_msg_ms = hf_now_mono_ms();
	/* A pending watchdog timer is left alone (no heap operation per
	 * ping): when it fires, sup_hb_fire re-arms it for what is left. */
	if (!p->p_sd_watchdog || p->p_hbtimer == NULL ||
	    !evtimer_pending(p->p_hbtimer, NULL)) {
		p->p_sd_watchdog = 1;
		sup_hb_arm(p);
	}
}

static void
sd_extend(struct sup_proc *p, const char *v)
{
	long long us;

	if (hf_parse_int(v, 0, 1000000LL * 3600 * 24, &us) == -1)
		return;
	p->p_sd_extend_ms = hf_now_mono_ms() + (uint64_t)us / 1000;
}

/* The X_HOLDFAST_DB* keys of one datagram, as one channel "db" message. */
struct sd_db {
	const char	*state, *reason, *detail, *op, *attempts;
};

static void
sd_db_apply(struct sup_proc *p, const struct sd_db *db)
{
	long long attempts = 0;

	if (db->state == NULL)
		return;
	if (strcmp(db->state, "up") != 0 && strcmp(db->state, "down") != 0) {
		log_warnx("%s: notify: X_HOLDFAST_DB=%.20s: expected up or down",
		    p->p_name, db->state);
		return;
	}
	if (db->attempts != NULL)
		(void)hf_parse_int(db->attempts, 0, 1000000000, &attempts);
	sup_db_record(p, strcmp(db->state, "up") == 0, (int)attempts, db->op,
	    db->reason, db->detail);
}

/* Whether a line changes what the saved state holds (WATCHDOG=1, the
 * common case, does not: no save for it). */
static int
sd_line_saved(const char *line)
{
	return strcmp(line, "WATCHDOG") != 0;
}

static void
sd_line(struct sup_proc *p, char *line, struct sd_db *db)
{
	char *v = strchr(line, '=');

	if (v == NULL)
		return;
	*v++ = '\0';
	if (strcmp(line, "READY") == 0 && strcmp(v, "1") == 0)
		sd_ready(p);
	else if (strcmp(line, "STATUS") == 0)
		sd_set_status(p, v);
	else if (strcmp(line, "WATCHDOG") == 0)
		sd_watchdog(p, v);
	else if (strcmp(line, "STOPPING") == 0 && strcmp(v, "1") == 0)
		p->p_sd_flags |= SUP_SD_STOPPING;
	else if (strcmp(line, "RELOADING") == 0 && strcmp(v, "1") == 0)
		p->p_sd_flags |= SUP_SD_RELOADING;
	else if (strcmp(line, "EXTEND_TIMEOUT_USEC") == 0)
		sd_extend(p, v);
	else if (strcmp(line, "MAINPID") == 0)
		sd_mainpid(p, v);
	else if (strcmp(line, "ERRNO") == 0) {
		long long e;

		if (hf_parse_int(v, 0, 4095, &e) == 0)
			p->p_sd_errno = (int)e;
	} else if (strcmp(line, "X_HOLDFAST_DB") == 0)
		db->state = v;
	else if (strcmp(line, "X_HOLDFAST_DB_REASON") == 0)
		db->reason = v;
	else if (strcmp(line, "X_HOLDFAST_DB_DETAIL") == 0)
		db->detail = v;
	else if (strcmp(line, "X_HOLDFAST_DB_OP") == 0)
		db->op = v;
	else if (strcmp(line, "X_HOLDFAST_DB_ATTEMPTS") == 0)
		db->attempts = v;
}

/* One accepted datagram, NUL-terminated; lines acted on in order (the
 * DB keys together at the end), while the sender is still up. */
static void
sd_message(struct sup_proc *p, char *buf)
{
	struct sd_db	 db = { NULL, NULL, NULL, NULL, NULL };
	pid_t		 pid = p->p_pid;
	char		*save = NULL;
	int		 saved = 0;

	p->p_sd_msgs++;
	for (char *l = strtok_r(buf, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		if (p->p_pid != pid || p->p_state == SUP_STOPPED)
			return;		/* WATCHDOG=trigger and the like */
		saved |= sd_line_saved(l);
		sd_line(p, l, &db);
	}
	sd_db_apply(p, &db);
	if (saved)
		sup_upgrade_changed(0);	/* coalesced: a flood of STATUS= saves rarely */
}

/* Closes every descriptor a datagram carried; how many. */
static int
sd_close_fds(struct msghdr *mh, struct ucred **cred)
{
	int n = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred)))
			*cred = (struct ucred *)(void *)CMSG_DATA(c);
		else if (c->cmsg_type == SCM_RIGHTS) {
			int *fds = (int *)(void *)CMSG_DATA(c);
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++, n++)
				close(fds[i]);
		}
	}
	return n;
}

/* One datagram received: checked, then acted on or counted. */
static void
sd_datagram(struct msghdr *mh, char *buf, size_t n)
{
	struct ucred	*cred = NULL;
	struct sup_proc	*p;
	int		 nfds;

	sd.received++;
	nfds = sd_close_fds(mh, &cred);
	if (cred == NULL)
		sd_drop(SD_DROP_CRED, 0, 0);
	else if (nfds > 0 || (mh->msg_flags & MSG_CTRUNC))
		sd_drop(SD_DROP_FDS, cred->pid, cred->uid);
	else if (n > SUP_SD_DGRAM_MAX || (mh->msg_flags & MSG_TRUNC))
		sd_drop(SD_DROP_SIZE, cred->pid, cred->uid);
	else if ((p = sd_find(cred->pid)) == NULL)
		sd_drop(SD_DROP_PID, cred->pid, cred->uid);
	else if (cred->uid != p->p_sd_uid && cred->uid != 0)
		sd_drop(SD_DROP_UID, cred->pid, cred->uid);
	else if (p->p_group->g_wc != NULL && p->p_group->g_wc->notify == CFG_NOTIFY_OFF)
		sd_drop(SD_DROP_PID, cred->pid, cred->uid);
	else {
		sd.accepted++;
		buf[n] = '\0';
		sd_message(p, buf);
	}
}

/*
 * Up to SUP_SD_READ_BUDGET datagrams per wake-up, SD_BATCH per recvmmsg
 * (a flood costs a system call per batch), then the loop moves on: the
 * socket stays readable and the rest comes at its next iteration, so a
 * flood never keeps the loop from anything else. The kernel bounds what
 * waits (net.unix.max_dgram_qlen datagrams; a sender then blocks or gets
 * EAGAIN): a flood costs its sender, not holdfastd's memory.
 */
#define SD_BATCH	16
#define SD_CTL_LEN	(CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * SD_MAX_FDS))

static void
sd_read(evutil_socket_t fd, short what, void *arg)
{
	static char		 bufs[SD_BATCH][SUP_SD_DGRAM_MAX + 1];
	static union {
		char		 buf[SD_CTL_LEN];
		struct cmsghdr	 align;
	}			 ctls[SD_BATCH];
	struct iovec		 iov[SD_BATCH];
	struct mmsghdr		 mm[SD_BATCH];
	int			 n;

	for (int done = 0; done < SUP_SD_READ_BUDGET && sd.fd != -1; done += n) {
		memset(mm, 0, sizeof(mm));
		for (int i = 0; i < SD_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = SUP_SD_DGRAM_MAX;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = ctls[i].buf;
			mm[i].msg_hdr.msg_controllen = SD_CTL_LEN;
		}
		n = recvmmsg(sd.fd, mm, SD_BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC,
		    NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++)
			sd_datagram(&mm[i].msg_hdr, bufs[i], mm[i].msg_len);
		if (n < SD_BATCH)
			return;
	}
}

/* ---- the instance's life --------------------------------------------------- */

void
sup_sdnotify_spawned(struct sup_proc *p)
{
	sd_pid_unwatch(p);
	free(p->p_sd_status);
	p->p_sd_status = NULL;
	free(p->p_status_text);		/* a new process has said nothing yet */
	p->p_status_text = NULL;
	p->p_sd_mainpid = 0;
	p->p_sd_adopted = 0;
	p->p_sd_watchdog = 0;
	p->p_sd_errno = 0;
	p->p_sd_flags = 0;
	p->p_sd_extend_ms = 0;
}

void
sup_sdnotify_exited(struct sup_proc *p)
{
	/* Its child failed (no hand-over): the main pid it named goes too,
	 * as systemd would stop what is left of the service. */
	if (p->p_sd_mainpid > 0 && !p->p_sd_adopted && kill(p->p_sd_mainpid, SIGTERM) == 0)
		log_warnx("[WORKER_MAINPID] name=%s mainpid=%d: its parent exited %s: "
		    "SIGTERM", p->p_name, (int)p->p_sd_mainpid, p->p_last_exit);
	sd_pid_unwatch(p);
	p->p_sd_watchdog = 0;
	p->p_sd_adopted = 0;
	p->p_sd_mainpid = 0;
}

void
sup_sdnotify_proc_free(struct sup_proc *p)
{
	sd_pid_unwatch(p);
	free(p->p_sd_status);
	p->p_sd_status = NULL;
}

int
sup_sdnotify_awaits_ready(const struct sup_proc *p)
{
	const struct cfg_worker *wc = p->p_group->g_wc;

	return sd.fd != -1 && wc != NULL && wc->notify == CFG_NOTIFY_SYSTEMD;
}

int64_t
sup_sdnotify_extend_left(const struct sup_proc *p)
{
	uint64_t now = hf_now_mono_ms();

	return p->p_sd_extend_ms > now ? (int64_t)(p->p_sd_extend_ms - now) : 0;
}

void
sup_sdnotify_state(struct sup_proc *p, enum sup_state st)
{
	if (st == SUP_RUNNING && sup_sdnotify_awaits_ready(p) && p->p_heartbeat_ms > 0 &&
	    !p->p_sd_watchdog) {
		p->p_sd_watchdog = 1;
		p->p_last_msg_ms = hf_now_mono_ms();
		sup_hb_arm(p);
	}
}

/* ---- status and the saved state -------------------------------------------- */

void
sup_sdnotify_proc_json(struct jw *w, const struct sup_proc *p)
{
	const struct cfg_worker *wc = p->p_group->g_wc;

	jw_key(w, "notify");
	jw_obj_open(w);
	jw_kstr(w, "mode", wc == NULL ? "?" : wc->notify == CFG_NOTIFY_SYSTEMD ?
	    "systemd" : wc->notify == CFG_NOTIFY_OFF ? "off" : "auto");
	jw_kint(w, "messages", (long long)p->p_sd_msgs);
	if (p->p_sd_status != NULL)
		jw_kstr(w, "status", p->p_sd_status);
	if (p->p_sd_mainpid != 0)
		jw_kint(w, "mainpid", p->p_sd_mainpid);
	if (p->p_sd_errno != 0)
		jw_kint(w, "errno", p->p_sd_errno);
	jw_kbool(w, "ready", (p->p_sd_flags & SUP_SD_READY) != 0);
	jw_kbool(w, "watchdog", p->p_sd_watchdog);
	jw_kbool(w, "stopping", (p->p_sd_flags & SUP_SD_STOPPING) != 0);
	jw_kbool(w, "reloading", (p->p_sd_flags & SUP_SD_RELOADING) != 0);
	jw_obj_close(w);
}

void
sup_sdnotify_json(struct jw *w)
{
	uint64_t ignored = 0;

	for (int i = 0; i < SD_NDROP; i++)
		ignored += sd.dropped[i];
	jw_key(w, "notify");
	jw_obj_open(w);
	if (sd.fd != -1)
		jw_kstr(w, "socket", sd.name);
	jw_kint(w, "received", (long long)sd.received);
	jw_kint(w, "accepted", (long long)sd.accepted);
	jw_kint(w, "ignored", (long long)ignored);
	for (int i = 0; i < SD_NDROP; i++)
		jw_kint(w, sd_drop_names[i], (long long)sd.dropped[i]);
	jw_obj_close(w);
}

void
sup_sdnotify_save(struct jw *w)
{
	sup_upgrade_put_fd(w, "sdnotify_sock", sd.fd);
}

int
sup_sdnotify_saved_fd(yajl_val state)
{
	return sup_upgrade_get_fd(state, "sdnotify_sock");
}

void
sup_sdnotify_proc_restored(struct sup_proc *p)
{
	p->p_sd_pidev = NULL;
	if (p->p_sd_mainpid != 0 && p->p_pid != 0)
		sd_pid_watch(p);
	if (p->p_sd_watchdog)
		sup_hb_arm(p);
	sup_health_state(p, p->p_state);
}
