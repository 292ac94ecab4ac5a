/*
 * sup_spawn: vfork + exec of one worker instance.
 *
 * Everything holdfastd opens is close-on-exec, so a child inherits only
 * what is placed here on purpose, at fixed numbers, right before exec:
 *   0 /dev/null, 1 stdout pipe, 2 stderr pipe,
 *   3 the group's listening socket, or the instance slot's own one with
 *     listen_reuseport (LISTEN_FDS=1, LISTEN_PID=<child>),
 *   3 or 4 the channel socketpair (HOLDFAST_CHANNEL_FD).
 * The child gets its own process group (so a stop signal reaches its
 * children too) and PR_SET_PDEATHSIG(SIGKILL), set after any privilege
 * drop because a credential change clears it, and then re-checks that
 * holdfastd did not die before the setting took (getppid()).
 *
 * vfork, not fork: a respawn is on the path of a crash repair,
 * and on a VM fork() copying holdfastd's page tables, and the scheduler
 * running the new child only after holdfastd went back to sleep, cost
 * more than everything else holdfastd does. A vfork child borrows our
 * memory and runs at once while we wait until it has exec'd or exited.
 * So the child obeys the rules of a signal handler: it only makes system
 * calls (async-signal-safe ones) on data prepared before vfork (argv,
 * environment, descriptors, groups), allocates nothing and never returns
 * into our frames. What failed in it is written into struct sup_child,
 * which we share, and reported by us on the child's stderr pipe, where
 * its exit 127 is then reaped like any other. It also relies on holdfastd
 * having a single thread: in a threaded process glibc's setuid/setgid/
 * setgroups signal every thread to change its credentials too, which from
 * a vfork child would reach the parent's threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cfg.h"
#include "log.h"
#include "sup.h"
#include "sup_cgroup.h"
#include "sup_log.h"
#include "sup_sdnotify.h"
#include "util.h"

#define SUP_FD_LISTEN	3
#define SUP_FD_HIGH	64	/* sources are moved here before dup2 */

extern char **environ;

struct sup_child {
	const char	*path;
	char *const	*argv;
	char		**envp;
	char		*listen_pid;	/* "LISTEN_PID=" slot filled in the child */
	char		*watchdog_pid;	/* "WATCHDOG_PID=" slot (sup_sdnotify) */
	const char	*dir;
	int		 drop;		/* change user */
	uid_t		 uid;
	gid_t		 gid;
	const char	*user;
	gid_t		*groups;	/* the user's, from getgrouplist() */
	int		 ngroups;
	pid_t		 parent;
	int		 src[5];	/* devnull, out, err, listen, chan */
	int		 dst[5];
	int		 nfds;
	/* limits: prepared by sup_child_limits(), applied by sup_child_apply() */
	int		 cg_fds[SUP_CG_MAXFD];	/* cgroup.procs to write "0" into */
	int		 ncg;
	struct { int res; const char *name; struct rlimit rl; } rlim[3];
	int		 nrlim;
	int		 umask;		/* -1: holdfastd's */
	char		 oom[8];	/* oom_score_adj, as text; "": holdfastd's */
	int		 nnp;		/* PR_SET_NO_NEW_PRIVS */
	int		 setgrp;	/* group= without user=: gid and no others */
	/* written by the child (shared under vfork) when a step fails;
	 * volatile, or the compiler drops the stores before _exit() */
	const char	*volatile fail_what;
	const char	*volatile fail_obj;
	volatile int	 fail_errno;
};

static int
sup_is_exec(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Looks for name in each directory of a ':'-separated list. */
static char *
sup_search(const char *list, const char *name)
{
	char	*copy, *dir, *save = NULL, *found = NULL;

	if (list == NULL || *list == '\0')
		return NULL;
	copy = xstrdup(list);
	for (dir = strtok_r(copy, ":", &save); dir != NULL && found == NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		char *path = xasprintf("%s/%s", dir, name);

		if (sup_is_exec(path))
			found = path;
		else
			free(path);
	}
	free(copy);
	return found;
}

static char *
sup_own_dir(void)
{
	char	 buf[PATH_MAX], *slash;
	ssize_t	 n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return NULL;
	*slash = '\0';
	return xstrdup(buf);
}

/*
 * A bare name is looked up in $HOLDFAST_LIBEXECDIR (a ':' list, for
 * running from a build tree), the installed libexec directory, the
 * directory holdfastd itself lives in, then PATH. A relative path with a
 * slash is relative to the config file's directory. NULL when not found.
 */
char *
sup_resolve_command(const char *cmd, const char *cfgdir)
{
	char	*own, *found;

	if (cmd[0] == '/')
		return xstrdup(cmd);
	if (strchr(cmd, '/') != NULL)
		return xasprintf("%s/%s", cfgdir != NULL ? cfgdir : ".", cmd);
	if ((found = sup_search(getenv("HOLDFAST_LIBEXECDIR"), cmd)) != NULL ||
	    (found = sup_search(PKGLIBEXECDIR, cmd)) != NULL)
		return found;
	if ((own = sup_own_dir()) != NULL) {
		found = sup_search(own, cmd);
		free(own);
		if (found != NULL)
			return found;
	}
	return sup_search(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin", cmd);
}

static int
sup_env_ours(const char *e, const struct cfg_worker *wc)
{
	static const char *const ours[] = {
		"HOLDFAST_CHANNEL_FD=", "HOLDFAST_INSTANCE=", "HOLDFAST_CONFIG=",
		"HOLDFAST_HEARTBEAT_MS=", "LISTEN_FDS=", "LISTEN_PID=",
		"LISTEN_FDNAMES=", "NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
	};

	for (size_t i = 0; i < nitems(ours); i++)
		if (strncmp(e, ours[i], strlen(ours[i])) == 0)
			return 1;
	for (int i = 0; i < wc->nenv; i++) {
		size_t n = strlen(wc->env[i].name);

		if (strncmp(e, wc->env[i].name, n) == 0 && e[n] == '=')
			return 1;
	}
	return 0;
}

/* holdfastd's environment, the section's environment=, then ours. */
static char **
sup_env(struct sup_proc *p, struct sup_child *c, int chanfd)
{
	const struct cfg_worker	*wc = p->p_group->g_wc;
	size_t			 n = 0, cap = 20 + wc->nenv;
	char			**env;

	for (char **e = environ; *e != NULL; e++)
		cap++;
	env = xcalloc(cap, sizeof(char *));
	for (char **e = environ; *e != NULL; e++)
		if (!sup_env_ours(*e, wc))
			env[n++] = xstrdup(*e);
	for (int i = 0; i < wc->nenv; i++)
		env[n++] = xasprintf("%s=%s", wc->env[i].name, wc->env[i].value);
	env[n++] = xasprintf("HOLDFAST_CONFIG=%s", sup.s_cfg->path);
	env[n++] = xasprintf("HOLDFAST_INSTANCE=%s", sup_proc_owner(p)->p_name);
	env[n++] = xasprintf("HOLDFAST_CHANNEL_FD=%d", chanfd);
	if (wc->heartbeat_timeout_ms > 0)
		env[n++] = xasprintf("HOLDFAST_HEARTBEAT_MS=%lld",
		    (long long)(wc->heartbeat_timeout_ms / 3 > 10 ?
		    wc->heartbeat_timeout_ms / 3 : 10));
	if (sup_group_listen_fd(p->p_group, p->p_index) != -1) {
		env[n++] = xstrdup("LISTEN_FDS=1");
		env[n++] = xasprintf("LISTEN_FDNAMES=%s", p->p_group->g_name);
		c->listen_pid = env[n++] = xstrdup("LISTEN_PID=                    ");
	}
	sup_sdnotify_env(p, env, &n, &c->watchdog_pid);
	env[n] = NULL;
	return env;
}

static void
sup_free_env(char **env)
{
	for (char **e = env; e != NULL && *e != NULL; e++)
		free(*e);
	free(env);
}

/* In the child: leaves the failed step for the parent (sup_spawn_report). */
static void __attribute__((noreturn))
sup_child_fail(struct sup_child *c, const char *what, const char *obj)
{
	c->fail_errno = errno;
	c->fail_what = what;
	c->fail_obj = obj;
	_exit(127);
}

/* Places the inherited descriptors; anything else is close-on-exec. The
 * sources are moved out of the way first (a source may sit on a target
 * number); src[] is ours too under vfork, so the copies go in a local. */
static void
sup_child_fds(struct sup_child *c)
{
	int high[nitems(c->src)];

	for (int i = 0; i < c->nfds; i++)
		if ((high[i] = fcntl(c->src[i], F_DUPFD_CLOEXEC, SUP_FD_HIGH)) == -1)
			sup_child_fail(c, "fcntl", "F_DUPFD_CLOEXEC");
	for (int i = 0; i < c->nfds; i++)
		if (dup2(high[i], c->dst[i]) == -1)
			sup_child_fail(c, "dup2", "inherited descriptor");
}

/* "LISTEN_PID=" + the child's pid, without stdio (async-signal-safe). */
static void
sup_child_listen_pid(char *slot, pid_t pid)
{
	char	 digits[16];
	int	 n = 0;

	do
		digits[n++] = '0' + pid % 10;
	while ((pid /= 10) > 0);
	while (n > 0)
		*slot++ = digits[--n];
	*slot = '\0';
}

/*
 * The signals whose disposition in holdfastd is not the default (libevent's
 * handlers, SIGPIPE ignored, whatever holdfastd inherited ignored): those a
 * child must reset. Scanned once, at the first spawn, after holdfastd.c
 * has installed its handlers; the usual ones are always included, so a
 * handler set later for one of them is still covered. Resetting only these
 * spares each respawn ~55 sigaction calls (60-90 us on the bench VM).
 */
static sigset_t	sup_sig_reset;

static void
sup_signals_scan(void)
{
	static const int usual[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGCHLD,
	    SIGPIPE, SIGUSR1, SIGUSR2, SIGALRM };
	static int	 done;
	struct sigaction sa;

	if (done)
		return;
	done = 1;
	sigemptyset(&sup_sig_reset);
	for (size_t i = 0; i < nitems(usual); i++)
		sigaddset(&sup_sig_reset, usual[i]);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &sa) == 0 &&
		    sa.sa_handler != SIG_DFL)
			sigaddset(&sup_sig_reset, sig);
}

/* Default dispositions first, then unblock (vfork happened with all
 * signals blocked), so nothing reaches a handler inherited from holdfastd. */
static void
sup_child_signals(void)
{
	sigset_t set;

	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&sup_sig_reset, sig) == 1)
			signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

/* limits, in the child: into its cgroup(s), first thing (the descriptors
 * are still where holdfastd opened them, and nothing forked escapes). */
static void
sup_child_cgroup(struct sup_child *c)
{
	for (int i = 0; i < c->ncg; i++)
		if (write(c->cg_fds[i], "0", 1) != 1)
			sup_child_fail(c, "write", "cgroup.procs");
}

/* limits, in the child: rlimits, umask and oom_score_adj, once the
 * descriptors are placed (a small rlimit_nofile would refuse the moves)
 * and while still privileged (raising a hard limit, a negative score). */
static void
sup_child_limits(struct sup_child *c)
{
	int fd;

	for (int i = 0; i < c->nrlim; i++)
		if (setrlimit(c->rlim[i].res, &c->rlim[i].rl) == -1)
			sup_child_fail(c, "setrlimit", c->rlim[i].name);
	if (c->umask != -1)
		umask((mode_t)c->umask);
	if (c->oom[0] == '\0')
		return;
	if ((fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC)) == -1 ||
	    write(fd, c->oom, strlen(c->oom)) == -1)
		sup_child_fail(c, "write", "/proc/self/oom_score_adj");
	close(fd);
}

/* The vfork child: system calls only, see the top of the file. */
static void __attribute__((noreturn))
sup_child(struct sup_child *c)
{
	sup_child_signals();
	setpgid(0, 0);
	sup_child_cgroup(c);
	sup_child_fds(c);
	sup_child_limits(c);
	if (c->dir != NULL && chdir(c->dir) == -1)
		sup_child_fail(c, "chdir", c->dir);
	if (c->setgrp && (setgid(c->gid) == -1 || setgroups(1, &c->gid) == -1))
		sup_child_fail(c, "setgid", "group");
	if (c->drop && (setgid(c->gid) == -1 ||
	    setgroups(c->ngroups, c->groups) == -1 || setuid(c->uid) == -1))
		sup_child_fail(c, "setuid", c->user);
	if (c->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		sup_child_fail(c, "prctl", "PR_SET_NO_NEW_PRIVS");
	/* After the drop: changing credentials clears the death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		sup_child_fail(c, "prctl", "PR_SET_PDEATHSIG");
	if (getppid() != c->parent)
		_exit(0);	/* holdfastd died before the line above */
	if (c->listen_pid != NULL)
		sup_child_listen_pid(c->listen_pid + 11, getpid());
	if (c->watchdog_pid != NULL)
		sup_child_listen_pid(c->watchdog_pid + 13, getpid());
	execve(c->path, c->argv, c->envp);
	sup_child_fail(c, "execve", c->path);
}

/* Own function, so that no local of sup_spawn() lives across vfork. */
static pid_t
sup_vfork_exec(struct sup_child *c)
{
	pid_t pid;

	if ((pid = vfork()) == 0)
		sup_child(c);
	return pid;
}

/* group= (a name or a number), looked up here: the child cannot (NSS). */
static int
sup_child_group(const char *group, gid_t *gid, char *err, size_t errlen)
{
	struct group	*gr;
	long long	 n;

	if ((gr = getgrnam(group)) != NULL)
		*gid = gr->gr_gid;
	else if (hf_parse_int(group, 0, INT_MAX, &n) == 0)
		*gid = (gid_t)n;
	else {
		snprintf(err, errlen, "getgrnam(%s): no such group", group);
		return -1;
	}
	return 0;
}

/* The user's ids and groups, looked up here: the child cannot (NSS).
 * group= replaces the user's own primary group. */
static int
sup_child_user(struct sup_child *c, const char *user, const char *group, char *err,
    size_t errlen)
{
	struct passwd	*pw;
	int		 n = 16;

	if (getuid() != 0 || (user == NULL && group == NULL))
		return 0;
	if (user == NULL) {
		c->setgrp = 1;
		return sup_child_group(group, &c->gid, err, errlen);
	}
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "getpwnam(%s): no such user", user);
		return -1;
	}
	c->drop = 1;
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	if (group != NULL && sup_child_group(group, &c->gid, err, errlen) == -1)
		return -1;
	c->user = user;
	/* A list too small for the user's groups fails and sets n to the
	 * size needed: then a second try with that. */
	c->groups = xreallocarray(NULL, n, sizeof(gid_t));
	if (getgrouplist(user, c->gid, c->groups, &n) == -1) {
		c->groups = xreallocarray(c->groups, n, sizeof(gid_t));
		if (getgrouplist(user, c->gid, c->groups, &n) == -1) {
			snprintf(err, errlen, "getgrouplist(%s): failed", user);
			return -1;
		}
	}
	c->ngroups = n;
	return 0;
}

static void
sup_child_fd(struct sup_child *c, int src, int dst)
{
	c->src[c->nfds] = src;
	c->dst[c->nfds++] = dst;
}

struct sup_pipes {
	int	 sv[2];		/* channel: [0] ours, [1] the child's */
	int	 out[2];	/* stdout: [0] ours, [1] the child's */
	int	 err[2];
};

static void
sup_pipes_close(struct sup_pipes *pp)
{
	int *fds[] = { pp->sv, pp->out, pp->err };

	for (size_t i = 0; i < nitems(fds); i++)
		for (int j = 0; j < 2; j++)
			if (fds[i][j] != -1)
				close(fds[i][j]);
}

static int
sup_pipes_open(struct sup_pipes *pp, char *err, size_t errlen)
{
	pp->sv[0] = pp->sv[1] = pp->out[0] = pp->out[1] = pp->err[0] = pp->err[1] = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pp->sv) == -1 ||
	    pipe2(pp->out, O_CLOEXEC) == -1 || pipe2(pp->err, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "socketpair/pipe2: %s", strerror(errno));
		sup_pipes_close(pp);
		return -1;
	}
	return 0;
}

/* Parent side after fork: keep our ends, give the child its own group. */
static void
sup_spawned(struct sup_proc *p, pid_t pid, struct sup_pipes *pp)
{
	/* No setpgid(pid, pid) here: a vfork child has done it already. */
	close(pp->sv[1]);
	close(pp->out[1]);
	close(pp->err[1]);
	hf_fd_set_nonblock(pp->out[0]);
	hf_fd_set_nonblock(pp->err[0]);
	sup_out_attach(p, 0, pp->out[0]);
	sup_out_attach(p, 1, pp->err[0]);
	sup_chan_attach(p, pp->sv[0]);
}

/* limits: the section's rlimits, umask, oom_score_adj, no_new_privs and
 * cgroup, prepared for sup_child_limits(). */
static int
sup_child_limits_prepare(struct sup_proc *p, struct sup_child *c, char *err,
    size_t errlen)
{
	const struct cfg_worker	*wc = p->p_group->g_wc;
	const struct { int res; const char *name; int64_t v; } rl[] = {
		{ RLIMIT_NOFILE, "rlimit_nofile", wc->rlimit_nofile },
		{ RLIMIT_CORE, "rlimit_core", wc->rlimit_core },
		{ RLIMIT_AS, "rlimit_as", wc->rlimit_as },
	};

	for (size_t i = 0; i < nitems(rl); i++) {
		rlim_t v = rl[i].v == CFG_RLIM_INFINITY ? RLIM_INFINITY : (rlim_t)rl[i].v;

		if (rl[i].v == CFG_RLIM_INHERIT)
			continue;
		c->rlim[c->nrlim].res = rl[i].res;
		c->rlim[c->nrlim].name = rl[i].name;
		c->rlim[c->nrlim].rl.rlim_cur = c->rlim[c->nrlim].rl.rlim_max = v;
		c->nrlim++;
	}
	c->umask = wc->umask;
	c->nnp = wc->no_new_privs;
	/* written unless holdfastd has that value itself (no /proc needed) */
	if (wc->oom_score_adj != sup_cgroup_own_oom())
		snprintf(c->oom, sizeof(c->oom), "%d", wc->oom_score_adj);
	return sup_cgroup_prepare(p, c->cg_fds, &c->ncg, err, errlen);
}

/* Everything the child needs, prepared before fork. */
static void
sup_child_prepare(struct sup_proc *p, struct sup_child *c, struct sup_pipes *pp)
{
	const struct cfg_worker	*wc = p->p_group->g_wc;
	int			 chanfd, lfd = sup_group_listen_fd(p->p_group, p->p_index);

	chanfd = lfd != -1 ? SUP_FD_LISTEN + 1 : SUP_FD_LISTEN;
	c->argv = wc->argv;
	c->envp = sup_env(p, c, chanfd);
	c->dir = wc->directory;
	c->parent = getpid();
	sup_child_fd(c, sup.s_devnull, STDIN_FILENO);
	sup_child_fd(c, pp->out[1], STDOUT_FILENO);
	sup_child_fd(c, pp->err[1], STDERR_FILENO);
	if (lfd != -1)
		sup_child_fd(c, lfd, SUP_FD_LISTEN);
	sup_child_fd(c, pp->sv[1], chanfd);
}

/* A step that failed in the child, told on its stderr: the instance's
 * output capture logs it, and the reaper sees its exit 127. */
static void
sup_spawn_report(const struct sup_child *c, int errfd)
{
	if (c->fail_what != NULL)
		dprintf(errfd, "holdfastd: %s(%s): %s\n", c->fail_what, c->fail_obj,
		    strerror(c->fail_errno));
}

/*
 * Starts one child for p. Returns its pid, or -1 with the reason in err
 * (command not found, unknown user, out of descriptors, vfork failure);
 * an exec failure shows up instead as the child's exit 127 and its
 * message on the instance's stderr.
 */
pid_t
sup_spawn(struct sup_proc *p, char *err, size_t errlen)
{
	const struct cfg_worker	*wc = p->p_group->g_wc;
	struct sup_child	 c;
	struct sup_pipes	 pp;
	sigset_t		 all, old;
	pid_t			 pid = -1;

	memset(&c, 0, sizeof(c));
	if ((c.path = sup_resolve_command(wc->argv[0], sup.s_cfg->dir)) == NULL) {
		snprintf(err, errlen, "command not found: %s", wc->argv[0]);
		return -1;
	}
	if (sup_group_slot_open(p, err, errlen) == -1 ||
	    sup_child_user(&c, wc->user, wc->group, err, errlen) == -1 ||
	    sup_child_limits_prepare(p, &c, err, errlen) == -1 ||
	    sup_pipes_open(&pp, err, errlen) == -1) {
		sup_cgroup_spawned(p, c.cg_fds, c.ncg, 0);
		free(c.groups);
		free((char *)c.path);
		return -1;
	}
	sup_child_prepare(p, &c, &pp);
	sup_signals_scan();
	/* All signals blocked across vfork: until the child has reset the
	 * handlers libevent installed, a signal sent to it (a stop right
	 * after a start) would run libevent's handler in it, on our memory,
	 * and be reported to *our* loop through libevent's socketpair: a
	 * SIGTERM would look like one for holdfastd. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = sup_vfork_exec(&c);
	sigprocmask(SIG_SETMASK, &old, NULL);
	sup_cgroup_spawned(p, c.cg_fds, c.ncg, pid != -1);
	if (pid == -1) {
		snprintf(err, errlen, "vfork(%s): %s", p->p_name, strerror(errno));
		sup_pipes_close(&pp);
	} else {
		sup_spawn_report(&c, pp.err[1]);
		sup_spawned(p, pid, &pp);
		p->p_sd_uid = c.drop ? c.uid : geteuid();
	}
	sup_free_env(c.envp);
	free(c.groups);
	free((char *)c.path);
	return pid;
}
