/*
 * sup_cgroup: a cgroup per worker process (see sup_cgroup.h and
 * docs/deployment.md, "Limits and isolation").
 *
 * Which cgroup holdfastd manages is found once, at the first need, from
 * /proc/self/mountinfo and /proc/self/cgroup:
 *   v2 (the unified hierarchy): holdfastd's own cgroup C. holdfastd moves
 *     itself into C/supervisor and enables memory, pids and cpu (those C
 *     offers) in C/cgroup.subtree_control; that fails unless holdfastd is
 *     alone in C, as under systemd with Delegate=yes. A process gets
 *     C/GROUP.INDEX.N.
 *   v1: for each of memory, pids and cpu that is mounted, holdfastd's own
 *     cgroup of that hierarchy; a process gets GROUP.INDEX.N under each
 *     one it needs (memory always, when mounted: OOM kills are counted
 *     there).
 * A process uses v2 when v2 has every controller its limits need, else
 * v1 when v1 has them; otherwise its section cannot start, with the
 * reason (a limit the operator set is never silently dropped).
 *
 * Each process gets a new cgroup (so its OOM counter starts at 0 and a
 * surge replacement never shares its limits or its kill with the process
 * it replaces); the child writes itself into it before exec. When the
 * process has been reaped, whatever is left in the cgroup (a daemon that
 * double-forked out of the process group) is killed, with cgroup.kill on
 * v2, else by SIGKILL to each pid of cgroup.procs until none is left, and
 * the cgroup is removed; one still busy is retried on a timer.
 *
 * Everything here reads and writes cgroupfs and procfs, which answer from
 * memory: nothing blocks the loop.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "cfg.h"
#include "log.h"
#include "sup.h"
#include "sup_cgroup.h"
#include "util.h"

enum { CG_MEMORY = 0, CG_PIDS, CG_CPU, CG_NCTL };
static const char *const cg_ctl_names[CG_NCTL] = { "memory", "pids", "cpu" };

#define CG_CPU_PERIOD_US	100000
#define CG_KILL_PASSES		32	/* v1: passes over cgroup.procs */
#define CG_RETRY_MS		100	/* a cgroup still busy is removed again */
#define CG_RETRY_MAX		100
#define CG_MKDIR_TRIES		1000

struct sup_cg {
	int	 v2;
	int	 ndirs;
	char	*dirs[SUP_CG_MAXFD];	/* v1: [0] is the one counted and killed */
	int	 ctl[SUP_CG_MAXFD];	/* v1: CG_* of each dir; v2: -1 */
};

static struct {
	int		 inited;
	char		*v2_mnt, *v2_root;	/* the unified hierarchy, if mounted */
	char		*v2_base;		/* the cgroup managed, NULL: none */
	char		*v2_self;		/* holdfastd's own: v2_base/supervisor */
	char		*v2_why;
	int		 v2_ctl[CG_NCTL];	/* enabled for the children */
	char		*v1_mnt[CG_NCTL], *v1_root[CG_NCTL];
	char		*v1_base[CG_NCTL];	/* holdfastd's cgroup in each, or NULL */
	char		*v1_why[CG_NCTL];
	unsigned	 seq;
	struct sup_cg	**pend_cg;		/* cgroups waiting to be removed */
	int		 npend, pend_tries;
	struct event	*pend_ev;
} cg;

/* ---- small file helpers --------------------------------------------- */

static char *
cg_path(const char *dir, const char *file)
{
	return xasprintf("%s/%s", dir, file);
}

/* The whole of a small procfs/cgroupfs file, NUL-terminated; NULL on error. */
static char *
cg_read(const char *path)
{
	size_t	 cap = 4096, len = 0;
	char	*buf;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	buf = xmalloc(cap);
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap && cap < (1 << 22))
			buf = xrealloc(buf, cap *= 2);
		else if (len + 1 == cap)
			break;
	}
	close(fd);
	if (n == -1) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* Writes text into dir/file; 0, or -1 with errno. */
static int
cg_write(const char *dir, const char *file, const char *text)
{
	char	*path = cg_path(dir, file);
	int	 fd, rc = -1, e;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) != -1) {
		rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
		e = errno;
		close(fd);
		errno = e;
	}
	free(path);
	return rc;
}

/* The number after "key " on a line of a flat-keyed file, or 0. */
static long long
cg_read_key(const char *dir, const char *file, const char *key)
{
	char		*path = cg_path(dir, file), *text = cg_read(path), *s;
	long long	 v = 0;
	size_t		 klen = strlen(key);

	for (s = text; s != NULL && *s != '\0'; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL)
		if (strncmp(s, key, klen) == 0 && s[klen] == ' ') {
			v = strtoll(s + klen + 1, NULL, 10);
			break;
		}
	free(text);
	free(path);
	return v;
}

static int
cg_has_word(const char *list, const char *word, const char *seps)
{
	size_t n = strlen(word);

	for (const char *s = list; s != NULL && *s != '\0'; ) {
		size_t len = strcspn(s, seps);

		if (len == n && strncmp(s, word, n) == 0)
			return 1;
		s += len;
		s += *s != '\0';
	}
	return 0;
}

/* ---- finding the cgroup to manage ------------------------------------ */

/* mount point + a cgroup path, less the mount's root (a cgroup namespace
 * or a bind mount of a subtree). */
static char *
cg_join(const char *mnt, const char *root, const char *path)
{
	size_t rl = strlen(root);

	if (strcmp(root, "/") != 0 && strncmp(path, root, rl) == 0 &&
	    (path[rl] == '/' || path[rl] == '\0'))
		path += rl;
	while (*path == '/')
		path++;
	return *path == '\0' ? xstrdup(mnt) : xasprintf("%s/%s", mnt, path);
}

/* /proc/self/mountinfo: "id parent maj:min root mountpoint opts ... - type src superopts" */
static void
cg_mounts(void)
{
	char *text = cg_read("/proc/self/mountinfo"), *line, *save = NULL;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *f[6], *dash = strstr(line, " - "), type[32], super[256];
		int   n = 0;

		if (dash == NULL || sscanf(dash + 3, "%31s %*s %255s", type, super) != 2)
			continue;
		*dash = '\0';
		for (char *s = strtok(line, " "); s != NULL && n < 6; s = strtok(NULL, " "))
			f[n++] = s;
		if (n < 5)
			continue;
		if (strcmp(type, "cgroup2") == 0 && cg.v2_mnt == NULL) {
			cg.v2_mnt = xstrdup(f[4]);
			cg.v2_root = xstrdup(f[3]);
		} else if (strcmp(type, "cgroup") == 0)
			for (int i = 0; i < CG_NCTL; i++)
				if (cg.v1_mnt[i] == NULL && cg_has_word(super, cg_ctl_names[i], ",")) {
					cg.v1_mnt[i] = xstrdup(f[4]);
					cg.v1_root[i] = xstrdup(f[3]);
				}
	}
	free(text);
}

/* The cgroup paths of pid from /proc/PID/cgroup: v2 ("0::/x"), and v1
 * for each controller (NULL where absent). Caller frees. */
static void
cg_proc_paths(pid_t pid, char **v2, char *v1[CG_NCTL])
{
	char	 path[64], *text, *line, *save = NULL;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	*v2 = NULL;
	for (int i = 0; i < CG_NCTL; i++)
		v1[i] = NULL;
	text = cg_read(path);
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (c2 == NULL)
			continue;
		*c2 = '\0';
		if (c2 == c1 + 1 && strncmp(line, "0:", 2) == 0 && *v2 == NULL)
			*v2 = xstrdup(c2 + 1);
		for (int i = 0; i < CG_NCTL; i++)
			if (v1[i] == NULL && cg_has_word(c1 + 1, cg_ctl_names[i], ","))
				v1[i] = xstrdup(c2 + 1);
	}
	free(text);
}

/* v2: own is holdfastd's cgroup; moves holdfastd into own/supervisor
 * (unless it is there already: an upgrade, a self-heal) and enables the
 * controllers for the siblings. */
static void
cg_setup_v2(char *own)
{
	const char	*slash = strrchr(own, '/');
	char		*ctls, *path, pid[24];

	if (slash != NULL && strcmp(slash + 1, "supervisor") == 0) {
		cg.v2_base = xstrndup(own, (size_t)(slash - own));
		cg.v2_self = own;
	} else {
		cg.v2_base = own;
		cg.v2_self = cg_path(own, "supervisor");
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		if ((mkdir(cg.v2_self, 0755) == -1 && errno != EEXIST) ||
		    cg_write(cg.v2_self, "cgroup.procs", pid) == -1) {
			cg.v2_why = xasprintf("cannot move holdfastd into %s: %s (a delegated "
			    "cgroup is needed: systemd's Delegate=yes)", cg.v2_self, strerror(errno));
			free(cg.v2_base);
			free(cg.v2_self);
			cg.v2_base = cg.v2_self = NULL;
			return;
		}
	}
	path = cg_path(cg.v2_base, "cgroup.controllers");
	ctls = cg_read(path);
	free(path);
	for (int i = 0; i < CG_NCTL; i++) {
		char plus[16];

		if (!cg_has_word(ctls, cg_ctl_names[i], " \n"))
			continue;
		snprintf(plus, sizeof(plus), "+%s", cg_ctl_names[i]);
		if (cg_write(cg.v2_base, "cgroup.subtree_control", plus) == 0)
			cg.v2_ctl[i] = 1;
		else if (cg.v2_why == NULL)
			cg.v2_why = xasprintf("enabling %s in %s/cgroup.subtree_control: %s "
			    "(holdfastd must be alone in its cgroup)", plus, cg.v2_base,
			    strerror(errno));
	}
	free(ctls);
}

/* "GROUP.INDEX.N" */
static int
cg_ours(const char *name)
{
	const char *dot2 = strrchr(name, '.'), *dot1;

	if (dot2 == NULL || dot2 == name || dot2[1] == '\0' ||
	    strspn(dot2 + 1, "0123456789") != strlen(dot2 + 1))
		return 0;
	for (dot1 = dot2 - 1; dot1 > name && *dot1 != '.'; dot1--)
		;
	return dot1 > name && dot1 + 1 < dot2 &&
	    strspn(dot1 + 1, "0123456789") == (size_t)(dot2 - dot1 - 1);
}

/* Empty cgroups of ours left in base by a holdfastd that could not remove
 * them (killed by SIGKILL): rmdir removes only an empty one. */
static void
cg_sweep(const char *base)
{
	DIR		*d = opendir(base);
	struct dirent	*e;
	int		 n = 0;

	while (d != NULL && (e = readdir(d)) != NULL)
		if (e->d_type == DT_DIR && cg_ours(e->d_name)) {
			char *dir = cg_path(base, e->d_name);

			n += rmdir(dir) == 0;
			free(dir);
		}
	if (d != NULL)
		closedir(d);
	if (n > 0)
		log_info("[CGROUP] %s: %d empty cgroup%s left by an earlier holdfastd removed",
		    base, n, n == 1 ? "" : "s");
}

static void
cg_setup(void)
{
	char	*v2, *v1[CG_NCTL];

	cg.inited = 1;
	cg_mounts();
	cg_proc_paths(getpid(), &v2, v1);
	if (cg.v2_mnt != NULL && v2 != NULL)
		cg_setup_v2(cg_join(cg.v2_mnt, cg.v2_root, v2));
	else
		cg.v2_why = xstrdup("no cgroup v2 hierarchy is mounted");
	for (int i = 0; i < CG_NCTL; i++) {
		char *dir;

		if (cg.v1_mnt[i] == NULL || v1[i] == NULL) {
			cg.v1_why[i] = xasprintf("no cgroup v1 %s hierarchy", cg_ctl_names[i]);
		} else if (access((dir = cg_join(cg.v1_mnt[i], cg.v1_root[i], v1[i])),
		    W_OK) == -1) {
			cg.v1_why[i] = xasprintf("%s: %s", dir, strerror(errno));
			free(dir);
		} else
			cg.v1_base[i] = dir;
		free(v1[i]);
	}
	free(v2);
	if (cg.v2_base != NULL)
		cg_sweep(cg.v2_base);
	for (int i = 0; i < CG_NCTL; i++)
		if (cg.v1_base[i] != NULL)
			cg_sweep(cg.v1_base[i]);
	log_info("[CGROUP] v2=%s%s%s%s v1 memory=%s pids=%s cpu=%s",
	    cg.v2_base != NULL ? cg.v2_base : "none",
	    cg.v2_ctl[CG_MEMORY] ? " +memory" : "", cg.v2_ctl[CG_PIDS] ? " +pids" : "",
	    cg.v2_ctl[CG_CPU] ? " +cpu" : "",
	    cg.v1_base[CG_MEMORY] ? cg.v1_base[CG_MEMORY] : "none",
	    cg.v1_base[CG_PIDS] ? cg.v1_base[CG_PIDS] : "none",
	    cg.v1_base[CG_CPU] ? cg.v1_base[CG_CPU] : "none");
	if (cg.v2_why != NULL)
		log_info("[CGROUP] v2: %s", cg.v2_why);
}

/* ---- one process's cgroup ------------------------------------------- */

int
sup_cgroup_wanted(const struct cfg_worker *wc)
{
	return wc != NULL && (wc->cgroup || wc->memory_max > 0 || wc->cpu_quota > 0 ||
	    wc->pids_max > 0);
}

static void
cg_needs(const struct cfg_worker *wc, int need[CG_NCTL])
{
	need[CG_MEMORY] = wc->memory_max > 0;
	need[CG_PIDS] = wc->pids_max > 0;
	need[CG_CPU] = wc->cpu_quota > 0;
}

static void
cg_free(struct sup_cg *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < c->ndirs; i++)
		free(c->dirs[i]);
	free(c);
}

static int
cg_add_dir(struct sup_cg *c, const char *base, const char *name, int ctl)
{
	char *dir = cg_path(base, name);

	if (mkdir(dir, 0755) == -1) {
		int e = errno;

		free(dir);
		errno = e;
		return -1;
	}
	c->ctl[c->ndirs] = ctl;
	c->dirs[c->ndirs++] = dir;
	return 0;
}

static void
cg_rmdirs(struct sup_cg *c)
{
	for (int i = 0; i < c->ndirs; i++)
		(void)rmdir(c->dirs[i]);
}

/* Makes the directories: a name free in every base (another holdfastd, or
 * one before a full restart, may have left one of that name). */
static int
cg_make(struct sup_cg *c, const char *const bases[], const int ctls[], int n,
    const struct sup_proc *p)
{
	for (int tries = 0; tries < CG_MKDIR_TRIES; tries++) {
		char name[128];

		snprintf(name, sizeof(name), "%s.%d.%u", p->p_group->g_name, p->p_index,
		    cg.seq++);
		for (int i = 0; i < n; i++)
			if (cg_add_dir(c, bases[i], name, ctls[i]) == -1)
				break;
		if (c->ndirs == n)
			return 0;
		if (errno != EEXIST)
			return -1;
		cg_rmdirs(c);
		for (int i = 0; i < c->ndirs; i++)
			free(c->dirs[i]);
		c->ndirs = 0;
	}
	errno = EEXIST;
	return -1;
}

/* The section's limits into the new cgroup; -1 with what failed in *what. */
static int
cg_limits(const struct sup_cg *c, const struct cfg_worker *wc, const char **what)
{
	char	 num[64];

	for (int i = 0; i < c->ndirs; i++) {
		int ctl = c->v2 ? -1 : c->ctl[i];
		const char *d = c->dirs[i];

		if (wc->memory_max > 0 && (c->v2 || ctl == CG_MEMORY)) {
			snprintf(num, sizeof(num), "%lld", (long long)wc->memory_max);
			*what = c->v2 ? "memory.max" : "memory.limit_in_bytes";
			if (cg_write(d, *what, num) == -1)
				return -1;
			/* swap included; absent without swap accounting */
			if (c->v2)
				(void)cg_write(d, "memory.swap.max", "0");
			else
				(void)cg_write(d, "memory.memsw.limit_in_bytes", num);
		}
		if (wc->pids_max > 0 && (c->v2 || ctl == CG_PIDS)) {
			snprintf(num, sizeof(num), "%d", wc->pids_max);
			if (cg_write(d, *what = "pids.max", num) == -1)
				return -1;
		}
		if (wc->cpu_quota > 0 && c->v2) {
			snprintf(num, sizeof(num), "%lld %d",
			    (long long)wc->cpu_quota * CG_CPU_PERIOD_US / 100, CG_CPU_PERIOD_US);
			if (cg_write(d, *what = "cpu.max", num) == -1)
				return -1;
		} else if (wc->cpu_quota > 0 && ctl == CG_CPU) {
			snprintf(num, sizeof(num), "%d", CG_CPU_PERIOD_US);
			if (cg_write(d, *what = "cpu.cfs_period_us", num) == -1)
				return -1;
			snprintf(num, sizeof(num), "%lld",
			    (long long)wc->cpu_quota * CG_CPU_PERIOD_US / 100);
			if (cg_write(d, *what = "cpu.cfs_quota_us", num) == -1)
				return -1;
		}
	}
	return 0;
}

/* Where p's next process goes: v2 when it has every controller needed,
 * else v1. Fills bases/ctls; the count, or -1 with the reason. */
static int
cg_choose(const struct cfg_worker *wc, const char *bases[], int ctls[], int *v2,
    char *err, size_t errlen)
{
	int	need[CG_NCTL], v2ok = cg.v2_base != NULL, v1ok = 1, n = 0;

	cg_needs(wc, need);
	for (int i = 0; i < CG_NCTL; i++) {
		v2ok &= !need[i] || cg.v2_ctl[i];
		v1ok &= !need[i] || cg.v1_base[i] != NULL;
	}
	*v2 = v2ok;
	if (v2ok) {
		bases[0] = cg.v2_base;
		ctls[0] = -1;
		return 1;
	}
	/* memory whenever mounted (OOM kills are counted there), the others
	 * when needed; with none needed, any one to follow the processes */
	for (int i = 0; v1ok && i < CG_NCTL; i++)
		if (cg.v1_base[i] != NULL && (need[i] || i == CG_MEMORY)) {
			bases[n] = cg.v1_base[i];
			ctls[n++] = i;
		}
	for (int i = 0; v1ok && n == 0 && i < CG_NCTL; i++)
		if (cg.v1_base[i] != NULL) {
			bases[n] = cg.v1_base[i];
			ctls[n++] = i;
		}
	if (v1ok && n > 0)
		return n;
	for (int i = 0; i < CG_NCTL; i++)
		if (need[i] && !cg.v2_ctl[i] && cg.v1_base[i] == NULL) {
			snprintf(err, errlen, "%s needs the %s controller, and holdfastd has no "
			    "cgroup to manage with it (v2: %s; v1: %s)",
			    i == CG_MEMORY ? "memory_max" : i == CG_PIDS ? "pids_max" : "cpu_quota",
			    cg_ctl_names[i], cg.v2_why ? cg.v2_why : "controller not offered",
			    cg.v1_why[i]);
			return -1;
		}
	if (need[CG_MEMORY] || need[CG_PIDS] || need[CG_CPU])
		snprintf(err, errlen, "the limits need%s%s%s in one cgroup version; v2 "
		    "offers%s%s%s, v1%s%s%s", need[CG_MEMORY] ? " memory" : "",
		    need[CG_PIDS] ? " pids" : "", need[CG_CPU] ? " cpu" : "",
		    cg.v2_ctl[CG_MEMORY] ? " memory" : "", cg.v2_ctl[CG_PIDS] ? " pids" : "",
		    cg.v2_ctl[CG_CPU] ? " cpu" : "", cg.v1_base[CG_MEMORY] ? " memory" : "",
		    cg.v1_base[CG_PIDS] ? " pids" : "", cg.v1_base[CG_CPU] ? " cpu" : "");
	else
		snprintf(err, errlen, "cgroup = true, and holdfastd has no cgroup to manage "
		    "(v2: %s; v1: %s)", cg.v2_why ? cg.v2_why : "none",
		    cg.v1_why[CG_MEMORY] ? cg.v1_why[CG_MEMORY] : "memory hierarchy unusable");
	return -1;
}

int
sup_cgroup_prepare(struct sup_proc *p, int *fds, int *nfds, char *err, size_t errlen)
{
	const struct cfg_worker	*wc = p->p_group->g_wc;
	const char		*bases[SUP_CG_MAXFD], *what = "mkdir";
	int			 ctls[SUP_CG_MAXFD], n, v2;
	struct sup_cg		*c;

	*nfds = 0;
	if (!sup_cgroup_wanted(wc))
		return 0;
	if (!cg.inited)
		cg_setup();
	if (p->p_cg != NULL)		/* not released: never expected */
		sup_cgroup_exited(p);
	if ((n = cg_choose(wc, bases, ctls, &v2, err, errlen)) == -1)
		return -1;
	c = xcalloc(1, sizeof(*c));
	c->v2 = v2;
	if (cg_make(c, bases, ctls, n, p) == -1 || cg_limits(c, wc, &what) == -1) {
		snprintf(err, errlen, "cgroup %s: %s: %s", c->ndirs > 0 ? c->dirs[0] :
		    bases[0], what, strerror(errno));
		cg_rmdirs(c);
		cg_free(c);
		return -1;
	}
	for (int i = 0; i < c->ndirs; i++) {
		char *procs = cg_path(c->dirs[i], "cgroup.procs");

		fds[i] = open(procs, O_WRONLY | O_CLOEXEC);
		free(procs);
		if (fds[i] == -1) {
			snprintf(err, errlen, "cgroup %s: cgroup.procs: %s", c->dirs[i],
			    strerror(errno));
			while (i-- > 0)
				close(fds[i]);
			cg_rmdirs(c);
			cg_free(c);
			return -1;
		}
	}
	*nfds = c->ndirs;
	p->p_cg = c;
	return 0;
}

void
sup_cgroup_spawned(struct sup_proc *p, int *fds, int nfds, int started)
{
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (!started && p->p_cg != NULL) {
		cg_rmdirs(p->p_cg);
		cg_free(p->p_cg);
		p->p_cg = NULL;
	}
}

/* The pids listed in dir's cgroup.procs, SIGKILLed when kill; -1 when it
 * cannot be read. */
static int
cg_procs(const char *dir, int kill_them)
{
	char	*procs = cg_path(dir, "cgroup.procs"), *text = cg_read(procs);
	int	 n = 0;

	free(procs);
	if (text == NULL)
		return -1;
	for (char *s = text; *s != '\0'; s += strcspn(s, "\n"), s += *s == '\n') {
		long pid = strtol(s, NULL, 10);

		if (pid > 0 && (!kill_them || kill((pid_t)pid, SIGKILL) == 0))
			n++;
	}
	free(text);
	return n;
}

/* SIGKILL to everything in the cgroup: cgroup.kill (v2, Linux 5.14), else
 * each listed pid, again until none is listed (a fork in between is seen
 * on the next pass; SIGKILLed processes stay listed until they are gone,
 * so the passes are bounded). How many processes were there. */
static int
cg_kill(const struct sup_cg *c)
{
	int left = cg_procs(c->dirs[0], 0);

	if (left <= 0)
		return 0;
	if (c->v2 && cg_write(c->dirs[0], "cgroup.kill", "1") == 0)
		return left;
	for (int pass = 0; pass < CG_KILL_PASSES && cg_procs(c->dirs[0], 1) > 0; pass++)
		;
	return left;
}

static void cg_pend_add(struct sup_cg *);

void
sup_cgroup_exited(struct sup_proc *p)
{
	struct sup_cg	*c = p->p_cg;
	int		 left;

	p->p_oom_kill = 0;
	if (c == NULL)
		return;
	p->p_cg = NULL;
	if (c->v2)
		p->p_oom_kill = (int)cg_read_key(c->dirs[0], "memory.events", "oom_kill");
	else
		for (int i = 0; i < c->ndirs; i++)
			if (c->ctl[i] == CG_MEMORY)
				p->p_oom_kill = (int)cg_read_key(c->dirs[i],
				    "memory.oom_control", "oom_kill");
	p->p_oom_kills += p->p_oom_kill;
	if ((left = cg_kill(c)) > 0)
		log_info("[WORKER_CGROUP] name=%s killed=%d: left in its cgroup after it ended",
		    p->p_name, left);
	cg_pend_add(c);
}

int
sup_cgroup_oom_killed(const struct sup_proc *p)
{
	return p->p_oom_kill;
}

void
sup_cgroup_forget(struct sup_proc *p)
{
	if (p->p_cg != NULL)
		cg_pend_add(p->p_cg);
	p->p_cg = NULL;
}

/* ---- removal, retried while the killed processes die ---------------- */

static int
cg_try_remove(struct sup_cg *c)
{
	int busy = 0;

	for (int i = 0; i < c->ndirs; i++)
		if (c->dirs[i] != NULL && rmdir(c->dirs[i]) == -1 && errno != ENOENT)
			busy = 1;
	return busy ? -1 : 0;
}

static void
cg_pend_cb(evutil_socket_t fd, short what, void *arg)
{
	int n = 0;

	(void)fd;
	(void)what;
	(void)arg;
	cg.pend_tries++;
	for (int i = 0; i < cg.npend; i++) {
		struct sup_cg *c = cg.pend_cg[i];

		if (cg_kill(c), cg_try_remove(c) == 0)
			cg_free(c);
		else if (cg.pend_tries >= CG_RETRY_MAX) {
			log_warnx("[CGROUP] %s: still busy after %d s; left in place",
			    c->dirs[0], CG_RETRY_MAX * CG_RETRY_MS / 1000);
			cg_free(c);
		} else
			cg.pend_cg[n++] = c;
	}
	cg.npend = n;
	if (n > 0) {
		struct timeval tv = { 0, CG_RETRY_MS * 1000 };

		evtimer_add(cg.pend_ev, &tv);
	} else
		cg.pend_tries = 0;
}

static void
cg_pend_add(struct sup_cg *c)
{
	struct timeval tv = { 0, CG_RETRY_MS * 1000 };

	if (cg_try_remove(c) == 0 || sup.s_base == NULL) {
		cg_free(c);
		return;
	}
	cg.pend_cg = xreallocarray(cg.pend_cg, (size_t)cg.npend + 1, sizeof(*cg.pend_cg));
	cg.pend_cg[cg.npend++] = c;
	if (cg.pend_ev == NULL)
		cg.pend_ev = evtimer_new(sup.s_base, cg_pend_cb, NULL);
	if (!evtimer_pending(cg.pend_ev, NULL))
		evtimer_add(cg.pend_ev, &tv);
}

/* ---- start, upgrade, exit ------------------------------------------- */

/* After an upgrade or a self-heal: the running processes' cgroups, from
 * /proc/PID/cgroup, when they are ours (GROUP.INDEX.N under a base). */
static void
cg_adopt(struct sup_proc *p)
{
	char		*v2, *v1[CG_NCTL];
	struct sup_cg	*c = xcalloc(1, sizeof(*c));

	cg_proc_paths(p->p_pid, &v2, v1);
	for (int i = 0; i < CG_NCTL; i++) {
		char *dir = v1[i] != NULL && cg.v1_base[i] != NULL ?
		    cg_join(cg.v1_mnt[i], cg.v1_root[i], v1[i]) : NULL;
		size_t bl = cg.v1_base[i] != NULL ? strlen(cg.v1_base[i]) : 0;

		if (dir != NULL && strncmp(dir, cg.v1_base[i], bl) == 0 && dir[bl] == '/' &&
		    strchr(dir + bl + 1, '/') == NULL && c->ndirs < SUP_CG_MAXFD) {
			c->ctl[c->ndirs] = i;
			c->dirs[c->ndirs++] = dir;
		} else
			free(dir);
		free(v1[i]);
	}
	if (c->ndirs == 0 && v2 != NULL && cg.v2_base != NULL) {
		char	*dir = cg_join(cg.v2_mnt, cg.v2_root, v2);
		size_t	 bl = strlen(cg.v2_base);

		if (strcmp(dir, cg.v2_self) != 0 && strncmp(dir, cg.v2_base, bl) == 0 &&
		    dir[bl] == '/' && strchr(dir + bl + 1, '/') == NULL) {
			c->v2 = 1;
			c->dirs[c->ndirs++] = dir;
		} else
			free(dir);
	}
	free(v2);
	if (c->ndirs > 0)
		p->p_cg = c;
	else
		free(c);
}

static int	cg_own_oom;	/* holdfastd's oom_score_adj, as last read */

/* Lowers holdfastd's own oom_score_adj; says so either way. */
static void
cg_self_oom(int adj)
{
	char	 num[16], *now;

	snprintf(num, sizeof(num), "%d", adj);
	if (cg_write("/proc/self", "oom_score_adj", num) == 0)
		log_info("[OOM] holdfastd oom_score_adj=%d", adj);
	else
		log_info("[OOM] holdfastd oom_score_adj=%d not set: %s (lowering it needs "
		    "CAP_SYS_RESOURCE)", adj, strerror(errno));
	now = cg_read("/proc/self/oom_score_adj");
	cg_own_oom = now != NULL ? atoi(now) : 0;
	free(now);
}

int
sup_cgroup_own_oom(void)
{
	return cg_own_oom;
}

void
sup_cgroup_self_oom(int adj)
{
	cg_self_oom(adj);
}

void
sup_cgroup_init(const struct cfg *cfg, int restoring)
{
	int want = 0;

	cg_self_oom(cfg->holdfast.oom_score_adj);
	for (int i = 0; i < cfg->nworkers; i++)
		want |= sup_cgroup_wanted(&cfg->workers[i]);
	if (!want || cg.inited)
		return;
	cg_setup();
	for (int i = 0; i < cfg->nworkers; i++) {
		const char	*bases[SUP_CG_MAXFD];
		int		 ctls[SUP_CG_MAXFD], v2;
		char		 err[512];

		if (sup_cgroup_wanted(&cfg->workers[i]) &&
		    cg_choose(&cfg->workers[i], bases, ctls, &v2, err, sizeof(err)) == -1)
			log_errorx("[CGROUP] [worker:%s] cannot start: %s", cfg->workers[i].name,
			    err);
	}
	if (!restoring)
		return;
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		for (int i = 0; i < g->g_nprocs; i++)
			if (g->g_procs[i]->p_pid != 0 && sup_cgroup_wanted(g->g_wc))
				cg_adopt(g->g_procs[i]);
}

/* At exit, the loop gone: cgroups whose killed processes are still dying
 * (a killed process counts until it is reaped, by holdfastd when it is
 * the subreaper) get a short while, reaping, before they are left. */
#define CG_CLOSE_TRIES	50
#define CG_CLOSE_US	2000

void
sup_cgroup_close(void)
{
	for (int t = 0; t < CG_CLOSE_TRIES && cg.npend > 0; t++) {
		int n = 0;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		for (int i = 0; i < cg.npend; i++) {
			(void)cg_kill(cg.pend_cg[i]);
			if (cg_try_remove(cg.pend_cg[i]) == 0)
				cg_free(cg.pend_cg[i]);
			else
				cg.pend_cg[n++] = cg.pend_cg[i];
		}
		if ((cg.npend = n) > 0)
			usleep(CG_CLOSE_US);
	}
	for (int i = 0; i < cg.npend; i++) {
		log_warnx("[CGROUP] %s: still busy at exit; left in place", cg.pend_cg[i]->dirs[0]);
		cg_free(cg.pend_cg[i]);
	}
	free(cg.pend_cg);
	cg.pend_cg = NULL;
	cg.npend = 0;
	if (cg.pend_ev != NULL)
		event_free(cg.pend_ev);
	cg.pend_ev = NULL;
	free(cg.v2_mnt);
	free(cg.v2_root);
	free(cg.v2_base);
	free(cg.v2_self);
	free(cg.v2_why);
	for (int i = 0; i < CG_NCTL; i++) {
		free(cg.v1_mnt[i]);
		free(cg.v1_root[i]);
		free(cg.v1_base[i]);
		free(cg.v1_why[i]);
	}
	memset(&cg, 0, sizeof(cg));
}
