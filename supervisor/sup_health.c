/*
 * sup_health: health_cmd and health_http (see sup_health.h).
 *
 *   [WORKER_HEALTHY] name=web pid=42 check=http after=3 (readiness passed)
 *   [WORKER_HEALTH_FAIL] name=web pid=42 check=cmd result=exit=1 failures=1/3
 *   [WORKER_UNHEALTHY] name=web pid=42 check=cmd failures=3/3 last=timeout
 *
 * Invariants: one check at a time per instance, each with its deadline
 * on the instance's health timer; a check's result is ignored unless the
 * instance still runs the pid it was started for; a health_cmd that
 * outlives its deadline is killed with its process group and reaped
 * later by the reaper, which hands it back here (sup_health_reaped).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <event2/event.h>

#include "cfg.h"
#include "json.h"
#include "log.h"
#include "sup.h"
#include "sup_event.h"
#include "sup_health.h"
#include "util.h"

struct sup_health {
	struct sup_proc	*p;
	struct event	*timer;		/* next check, or the running one's deadline */
	pid_t		 for_pid;	/* the instance's pid the check is for */
	pid_t		 cmd_pid;	/* running health_cmd, 0 */
	int		 fd;		/* health_http connection, -1 */
	struct event	*io;
	char		*req;
	size_t		 reqlen, reqoff;
	char		 reply[SUP_HEALTH_REPLY_MAX + 1];
	size_t		 replylen;
	int		 running;
	int		 failures;	/* in a row */
	int		 passed;	/* a check passed since the spawn */
	unsigned long long checks, failed;
	char		 last[48];
};

static void sup_health_start(evutil_socket_t, short, void *);

static const char *
sup_health_kind(const struct cfg_worker *wc)
{
	return wc->health_cmd != NULL ? "cmd" : "http";
}

static int
sup_health_configured(const struct sup_proc *p)
{
	const struct cfg_worker *wc = p->p_group->g_wc;

	return wc != NULL && (wc->health_cmd != NULL || wc->health_http != NULL);
}

int
sup_health_awaits_ready(const struct sup_proc *p)
{
	return sup_health_configured(p) &&
	    p->p_group->g_wc->health_mode != CFG_HEALTH_LIVENESS;
}

static void
sup_health_arm(struct sup_health *h, int64_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_del(h->timer);
	evtimer_add(h->timer, &tv);
}

/* Ends the check in progress without a result. */
static void
sup_health_abort(struct sup_health *h)
{
	if (h->cmd_pid > 0 && kill(-h->cmd_pid, SIGKILL) == -1)
		(void)kill(h->cmd_pid, SIGKILL);
	h->cmd_pid = 0;	/* reaped later as a stray */
	if (h->io != NULL)
		event_free(h->io);
	h->io = NULL;
	if (h->fd != -1)
		close(h->fd);
	h->fd = -1;
	free(h->req);
	h->req = NULL;
	h->running = 0;
}

/* ---- results ----------------------------------------------------------- */

static void
sup_health_passed(struct sup_health *h)
{
	struct sup_proc *p = h->p;

	h->failures = 0;
	hf_strlcpy(h->last, "ok", sizeof(h->last));
	if (!h->passed)
		log_info("[WORKER_HEALTHY] name=%s pid=%d check=%s after=%llu",
		    p->p_name, (int)p->p_pid, sup_health_kind(p->p_group->g_wc), h->checks);
	h->passed = 1;
	if (p->p_state == SUP_STARTING && sup_health_awaits_ready(p)) {
		sup_proc_event(p, SUP_EV_READY);
		sup_pass();
	}
}

static void
sup_health_failed(struct sup_health *h, const char *why)
{
	struct sup_proc		*p = h->p;
	const struct cfg_worker	*wc = p->p_group->g_wc;
	int			 live;

	hf_strlcpy(h->last, why, sizeof(h->last));
	h->failed++;
	if ((int64_t)(hf_now_mono_ms() - p->p_spawn_ms) < wc->health_start_period_ms) {
		log_debug("%s: health check failed (%s) within health_start_period",
		    p->p_name, why);
		return;
	}
	live = wc->health_mode == CFG_HEALTH_LIVENESS ? (p->p_state == SUP_RUNNING ||
	    p->p_state == SUP_STARTING) : wc->health_mode == CFG_HEALTH_BOTH &&
	    p->p_state == SUP_RUNNING;
	if (!live)
		return;
	h->failures++;
	log_warnx("[WORKER_HEALTH_FAIL] name=%s pid=%d check=%s result=%s failures=%d/%d",
	    p->p_name, (int)p->p_pid, sup_health_kind(wc), why, h->failures,
	    wc->health_retries);
	if (h->failures < wc->health_retries)
		return;
	log_warnx("[WORKER_UNHEALTHY] name=%s pid=%d check=%s failures=%d/%d last=%s: "
	    "restarting it", p->p_name, (int)p->p_pid, sup_health_kind(wc), h->failures,
	    wc->health_retries, why);
	h->failures = 0;
	p->p_hung_kills++;	/* events and metrics count it as a hang */
	sup_event_hung(p, hf_now_mono_ms() - p->p_last_msg_ms);
	sup_proc_event(p, SUP_EV_HUNG);
	sup_pass();
}

/* A check ended: the next one is armed, then the result is acted on. */
static void
sup_health_done(struct sup_health *h, int ok, const char *why)
{
	struct sup_proc		*p = h->p;
	const struct cfg_worker	*wc = p->p_group->g_wc;

	sup_health_abort(h);
	if (wc == NULL || p->p_pid != h->for_pid || p->p_pid == 0)
		return;
	h->checks++;
	sup_health_arm(h, wc->health_interval_ms);
	if (ok)
		sup_health_passed(h);
	else
		sup_health_failed(h, why);
}

static struct sup_health *
sup_health_find_cmd(pid_t pid)
{
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next) {
		for (int i = 0; i < g->g_nprocs; i++)
			if (g->g_procs[i]->p_health != NULL &&
			    g->g_procs[i]->p_health->cmd_pid == pid)
				return g->g_procs[i]->p_health;
		for (int i = 0; i < g->g_nextra; i++)
			if (g->g_extra[i]->p_health != NULL &&
			    g->g_extra[i]->p_health->cmd_pid == pid)
				return g->g_extra[i]->p_health;
	}
	return NULL;
}

int
sup_health_reaped(pid_t pid, int status)
{
	struct sup_health	*h = sup_health_find_cmd(pid);
	char			 why[48];

	if (h == NULL)
		return 0;
	h->cmd_pid = 0;
	if (WIFEXITED(status))
		snprintf(why, sizeof(why), "exit=%d", WEXITSTATUS(status));
	else
		snprintf(why, sizeof(why), "signal=%d", WTERMSIG(status));
	sup_health_done(h, WIFEXITED(status) && WEXITSTATUS(status) == 0, why);
	return 1;
}

/* ---- health_cmd --------------------------------------------------------- */

static void __attribute__((noreturn))
sup_health_child(const struct sup_proc *p, const char *cmd, const struct passwd *pw)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	for (int fd = 0; fd < 3; fd++)
		dup2(sup.s_devnull, fd);
	if (pw != NULL && (setgid(pw->pw_gid) == -1 ||
	    initgroups(pw->pw_name, pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1))
		_exit(126);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	setenv("HOLDFAST_INSTANCE", p->p_name, 1);
	{
		char pid[16];

		snprintf(pid, sizeof(pid), "%d", (int)p->p_pid);
		setenv("HOLDFAST_PID", pid, 1);
	}
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

static void
sup_health_cmd(struct sup_health *h, const struct cfg_worker *wc)
{
	struct passwd	*pw = NULL;
	sigset_t	 all, old;
	pid_t		 pid;

	if (wc->user != NULL && getuid() == 0 && (pw = getpwnam(wc->user)) == NULL) {
		sup_health_done(h, 0, "no-such-user");
		return;
	}
	/* Signals blocked across fork, as in sup_spawn: until the child has
	 * reset libevent's handlers, a signal to it would reach our loop. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0)
		sup_health_child(h->p, wc->health_cmd, pw);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		sup_health_done(h, 0, "fork-failed");
		return;
	}
	h->cmd_pid = pid;
}

/* ---- health_http -------------------------------------------------------- */

static void
sup_health_http_io(evutil_socket_t fd, short what, void *arg)
{
	struct sup_health	*h = arg;
	int			 err = 0, code;
	socklen_t		 len = sizeof(err);
	ssize_t			 n;
	char			 why[48];

	if (h->reqoff == 0 && h->req != NULL &&
	    (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0)) {
		sup_health_done(h, 0, err == ECONNREFUSED ? "refused" : "connect-failed");
		return;
	}
	if (h->req != NULL && h->reqoff < h->reqlen) {
		if ((n = send(fd, h->req + h->reqoff, h->reqlen - h->reqoff,
		    MSG_NOSIGNAL)) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				sup_health_done(h, 0, "send-failed");
			return;
		}
		if ((h->reqoff += (size_t)n) < h->reqlen)
			return;
		event_free(h->io);
		h->io = event_new(sup.s_base, fd, EV_READ | EV_PERSIST, sup_health_http_io, h);
		event_add(h->io, NULL);
		return;
	}
	n = recv(fd, h->reply + h->replylen, SUP_HEALTH_REPLY_MAX - h->replylen, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		h->replylen += (size_t)n;
	h->reply[h->replylen] = '\0';
	if (n > 0 && strchr(h->reply, '\n') == NULL && h->replylen < SUP_HEALTH_REPLY_MAX)
		return;
	if (sscanf(h->reply, "HTTP/%*d.%*d %d", &code) != 1) {
		sup_health_done(h, 0, n <= 0 ? "no-reply" : "bad-reply");
		return;
	}
	snprintf(why, sizeof(why), "status=%d", code);
	sup_health_done(h, code >= 200 && code < 400, why);
}

static void
sup_health_http(struct sup_health *h, const struct cfg_worker *wc)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	char			*host = NULL, *path = NULL;
	int			 port, fd;

	memset(&ss, 0, sizeof(ss));
	if (cfg_health_url(wc->health_http, &host, &port, &path) == -1) {
		sup_health_done(h, 0, "bad-url");
		return;
	}
	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, host, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, host, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	h->req = xasprintf("GET %s HTTP/1.0\r\nHost: %s:%d\r\nUser-Agent: holdfastd-health\r\n"
	    "Connection: close\r\n\r\n", path, host, port);
	h->reqlen = strlen(h->req);
	h->reqoff = 0;
	h->replylen = 0;
	free(host);
	free(path);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    (connect(fd, (struct sockaddr *)&ss, sl) == -1 && errno != EINPROGRESS)) {
		int e = errno;

		if (fd != -1)
			close(fd);
		sup_health_done(h, 0, e == ECONNREFUSED ? "refused" : "connect-failed");
		return;
	}
	h->fd = fd;
	h->io = event_new(sup.s_base, fd, EV_WRITE | EV_PERSIST, sup_health_http_io, h);
	event_add(h->io, NULL);
}

/* ---- the schedule -------------------------------------------------------- */

/* The health timer: a check is due, or the running one is late. */
static void
sup_health_start(evutil_socket_t fd, short what, void *arg)
{
	struct sup_health	*h = arg;
	struct sup_proc		*p = h->p;
	const struct cfg_worker	*wc = p->p_group->g_wc;

	if (h->running) {
		sup_health_done(h, 0, "timeout");
		return;
	}
	if (wc == NULL || p->p_pid == 0 || !sup_health_configured(p))
		return;
	h->running = 1;
	h->for_pid = p->p_pid;
	sup_health_arm(h, wc->health_timeout_ms);
	if (wc->health_cmd != NULL)
		sup_health_cmd(h, wc);
	else
		sup_health_http(h, wc);
}

void
sup_health_state(struct sup_proc *p, enum sup_state st)
{
	struct sup_health *h = p->p_health;

	if (!sup_health_configured(p) || (st != SUP_STARTING && st != SUP_RUNNING) ||
	    (st == SUP_RUNNING && p->p_group->g_wc->health_mode == CFG_HEALTH_READINESS)) {
		if (h != NULL) {
			sup_health_abort(h);
			evtimer_del(h->timer);
		}
		return;
	}
	if (h == NULL) {
		h = p->p_health = xcalloc(1, sizeof(*h));
		h->p = p;
		h->fd = -1;
		h->timer = evtimer_new(sup.s_base, sup_health_start, h);
	}
	if (st == SUP_STARTING) {
		sup_health_abort(h);
		h->failures = 0;
		h->passed = 0;
		sup_health_arm(h, 0);	/* the first check at once */
	} else if (!evtimer_pending(h->timer, NULL))
		sup_health_arm(h, p->p_group->g_wc->health_interval_ms);
}

void
sup_health_reloaded(struct sup_proc *p)
{
	struct sup_health *h = p->p_health;

	if (!sup_health_configured(p) || (p->p_state != SUP_STARTING &&
	    p->p_state != SUP_RUNNING)) {
		sup_health_state(p, SUP_STOPPED);	/* stops what runs */
		return;
	}
	if (h == NULL || (!h->running && !evtimer_pending(h->timer, NULL)))
		sup_health_state(p, p->p_state == SUP_STARTING ? SUP_STARTING : SUP_RUNNING);
}

void
sup_health_json(struct jw *w, const struct sup_proc *p)
{
	const struct sup_health	*h = p->p_health;
	const struct cfg_worker	*wc = p->p_group->g_wc;

	if (h == NULL || wc == NULL || !sup_health_configured(p))
		return;
	jw_key(w, "health");
	jw_obj_open(w);
	jw_kstr(w, "check", sup_health_kind(wc));
	jw_kstr(w, "mode", wc->health_mode == CFG_HEALTH_LIVENESS ? "liveness" :
	    wc->health_mode == CFG_HEALTH_READINESS ? "readiness" : "both");
	jw_kint(w, "checks", (long long)h->checks);
	jw_kint(w, "failed", (long long)h->failed);
	jw_kint(w, "failures", h->failures);
	jw_kbool(w, "passed", h->passed);
	if (h->last[0] != '\0')
		jw_kstr(w, "last", h->last);
	jw_obj_close(w);
}

void
sup_health_free(struct sup_proc *p)
{
	struct sup_health *h = p->p_health;

	if (h == NULL)
		return;
	sup_health_abort(h);
	event_free(h->timer);
	free(h);
	p->p_health = NULL;
}
