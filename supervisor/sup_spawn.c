/*
 * sup_spawn: fork + exec of one worker instance.
 *
 * Everything holdfastd opens is close-on-exec, so a child inherits only
 * what is placed here on purpose, at fixed numbers, right before exec:
 *   0 /dev/null, 1 stdout pipe, 2 stderr pipe,
 *   3 the group's listening socket (LISTEN_FDS=1, LISTEN_PID=<child>),
 *   3 or 4 the channel socketpair (HOLDFAST_CHANNEL_FD).
 * The child gets its own process group (so a stop signal reaches its
 * children too) and PR_SET_PDEATHSIG(SIGKILL), set after any privilege
 * drop because a credential change clears it, and then re-checks that
 * holdfastd did not die before the setting took (getppid()).
 * All allocation happens in the parent before fork(): the child only
 * makes system calls, which keeps a respawn within a millisecond or two.
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
#include <sys/socket.h>
#include <sys/stat.h>

#include "cfg.h"
#include "log.h"
#include "sup.h"
#include "sup_log.h"
#include "util.h"

#define SUP_FD_LISTEN	3
#define SUP_FD_HIGH	64	/* sources are moved here before dup2 */

extern char **environ;

struct sup_child {
	const char	*path;
	char *const	*argv;
	char		**envp;
	char		*listen_pid;	/* "LISTEN_PID=" slot filled in the child */
	const char	*dir;
	int		 drop;		/* change user */
	uid_t		 uid;
	gid_t		 gid;
	const char	*user;
	pid_t		 parent;
	int		 src[5];	/* devnull, out, err, listen, chan */
	int		 dst[5];
	int		 nfds;
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
	size_t			 n = 0, cap = 16 + wc->nenv;
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
	env[n++] = xasprintf("HOLDFAST_INSTANCE=%s", p->p_name);
	env[n++] = xasprintf("HOLDFAST_CHANNEL_FD=%d", chanfd);
	if (wc->heartbeat_timeout_ms > 0)
		env[n++] = xasprintf("HOLDFAST_HEARTBEAT_MS=%lld",
		    (long long)(wc->heartbeat_timeout_ms / 3 > 10 ?
		    wc->heartbeat_timeout_ms / 3 : 10));
	if (p->p_group->g_listen_fd != -1) {
		env[n++] = xstrdup("LISTEN_FDS=1");
		env[n++] = xasprintf("LISTEN_FDNAMES=%s", p->p_group->g_name);
		c->listen_pid = env[n++] = xstrdup("LISTEN_PID=                    ");
	}
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

static void __attribute__((noreturn))
sup_child_fail(const char *what, const char *obj)
{
	dprintf(STDERR_FILENO, "holdfastd: %s(%s): %s\n", what, obj, strerror(errno));
	_exit(127);
}

/* Places the inherited descriptors; anything else is close-on-exec. */
static void
sup_child_fds(struct sup_child *c)
{
	for (int i = 0; i < c->nfds; i++)
		if ((c->src[i] = fcntl(c->src[i], F_DUPFD_CLOEXEC, SUP_FD_HIGH)) == -1)
			_exit(127);
	for (int i = 0; i < c->nfds; i++)
		if (dup2(c->src[i], c->dst[i]) == -1)
			_exit(127);
}

/* Default dispositions first, then unblock (fork happened with all
 * signals blocked), so nothing reaches a handler inherited from holdfastd. */
static void
sup_child_signals(void)
{
	sigset_t set;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

static void __attribute__((noreturn))
sup_child(struct sup_child *c)
{
	sup_child_signals();
	setpgid(0, 0);
	sup_child_fds(c);
	if (c->dir != NULL && chdir(c->dir) == -1)
		sup_child_fail("chdir", c->dir);
	if (c->drop && (setgid(c->gid) == -1 || initgroups(c->user, c->gid) == -1 ||
	    setuid(c->uid) == -1))
		sup_child_fail("setuid", c->user);
	/* After the drop: changing credentials clears the death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		sup_child_fail("prctl", "PR_SET_PDEATHSIG");
	if (getppid() != c->parent)
		_exit(0);	/* holdfastd died before the line above */
	if (c->listen_pid != NULL)
		snprintf(c->listen_pid + 11, 20, "%d", (int)getpid());
	execve(c->path, c->argv, c->envp);
	sup_child_fail("execve", c->path);
}

static int
sup_child_user(struct sup_child *c, const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	if (user == NULL || getuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "getpwnam(%s): no such user", user);
		return -1;
	}
	c->drop = 1;
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	c->user = user;
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
	close(pp->sv[1]);
	close(pp->out[1]);
	close(pp->err[1]);
	setpgid(pid, pid);	/* also done by the child: whichever runs first */
	fd_set_nonblock(pp->out[0]);
	fd_set_nonblock(pp->err[0]);
	sup_out_attach(p, 0, pp->out[0]);
	sup_out_attach(p, 1, pp->err[0]);
	sup_chan_attach(p, pp->sv[0]);
}

/* Everything the child needs, prepared before fork. */
static void
sup_child_prepare(struct sup_proc *p, struct sup_child *c, struct sup_pipes *pp)
{
	const struct cfg_worker	*wc = p->p_group->g_wc;
	int			 chanfd;

	chanfd = p->p_group->g_listen_fd != -1 ? SUP_FD_LISTEN + 1 : SUP_FD_LISTEN;
	c->argv = wc->argv;
	c->envp = sup_env(p, c, chanfd);
	c->dir = wc->directory;
	c->parent = getpid();
	sup_child_fd(c, sup.s_devnull, STDIN_FILENO);
	sup_child_fd(c, pp->out[1], STDOUT_FILENO);
	sup_child_fd(c, pp->err[1], STDERR_FILENO);
	if (p->p_group->g_listen_fd != -1)
		sup_child_fd(c, p->p_group->g_listen_fd, SUP_FD_LISTEN);
	sup_child_fd(c, pp->sv[1], chanfd);
}

/*
 * Starts one child for p. Returns its pid, or -1 with the reason in err
 * (command not found, unknown user, out of descriptors, fork failure);
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
	if (sup_child_user(&c, wc->user, err, errlen) == -1 ||
	    sup_pipes_open(&pp, err, errlen) == -1) {
		free((char *)c.path);
		return -1;
	}
	sup_child_prepare(p, &c, &pp);
	/* All signals blocked across fork: until the child has reset the
	 * handlers libevent installed, a signal sent to it (a stop right
	 * after a start) would be reported to *our* loop through libevent's
	 * shared socketpair, and a SIGTERM would look like one for holdfastd. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) == 0)
		sup_child(&c);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		snprintf(err, errlen, "fork(%s): %s", p->p_name, strerror(errno));
		sup_pipes_close(&pp);
	} else
		sup_spawned(p, pid, &pp);
	sup_free_env(c.envp);
	free((char *)c.path);
	return pid;
}
