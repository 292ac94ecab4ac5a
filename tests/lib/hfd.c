/*
 * hfd: the holdfastd rig of the integration tests (see hfd.h). Every wait
 * has a deadline; holdfastd is only ever stopped by the PID it was
 * started with.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hfd.h"
#include "tu.h"
#include "util.h"

void
hfd_init(struct hfd *h, const char *tag)
{
	memset(h, 0, sizeof(*h));
	h->dir = tu_tmpdir(tag);
	h->conf = xasprintf("%s/holdfast.conf", h->dir);
	h->sock = xasprintf("%s/run/hf.sock", h->dir);
	h->log = xasprintf("%s/holdfastd.log", h->dir);
}

void
hfd_write_conf(struct hfd *h, const char *text)
{
	ck_assert_msg(tu_write_file(h->conf, text) == 0, "cannot write %s", h->conf);
}

void
hfd_spawn(struct hfd *h, char *const env[])
{
	hfd_spawn_argv(h, NULL, NULL, env);
}

/* Appends the NULL-terminated list add (may be NULL) to argv[0..*n). */
static void
hfd_argv_add(char **argv, size_t *n, size_t max, char *const add[])
{
	for (; add != NULL && *add != NULL; add++) {
		ck_assert_msg(*n < max, "hfd: more than %zu arguments", max);
		argv[(*n)++] = *add;
	}
}

void
hfd_spawn_argv(struct hfd *h, char *const wrap[], char *const opts[], char *const env[])
{
	char	*argv[32], *hd[] = { tu_buildpath("supervisor/holdfastd"), NULL };
	char	*conf[] = { "-c", h->conf, NULL };
	size_t	 n = 0;

	hfd_argv_add(argv, &n, nitems(argv) - 1, wrap);
	hfd_argv_add(argv, &n, nitems(argv) - 1, hd);
	hfd_argv_add(argv, &n, nitems(argv) - 1, opts);
	hfd_argv_add(argv, &n, nitems(argv) - 1, conf);
	argv[n] = NULL;
	h->pid = tu_spawn(argv, env, h->log);
	free(hd[0]);
}

int
hfd_is_up(void *h)
{
	return hfd_ctl(h, "pid >/dev/null 2>&1", NULL) == 0;
}

int
hfd_wait_up(struct hfd *h, int timeout_ms)
{
	return tu_wait_for(hfd_is_up, h, timeout_ms);
}

int
hfd_ctl(struct hfd *h, const char *args, char **out)
{
	return hfd_ctl_at(h->sock, args, out);
}

int
hfd_ctl_at(const char *sock, const char *args, char **out)
{
	char	*ctl = tu_buildpath("supervisor/holdfastctl");
	char	*cmd = xasprintf("%s -s %s %s", ctl, sock, args);
	int	 rc = tu_sh(cmd, out);

	free(cmd);
	free(ctl);
	return rc;
}

pid_t
hfd_pid(struct hfd *h, const char *name)
{
	char	*args = xasprintf("pid %s 2>/dev/null", name), *out = NULL;
	pid_t	 pid = 0;

	if (hfd_ctl(h, args, &out) == 0 && out != NULL)
		pid = (pid_t)atoi(out);
	free(out);
	free(args);
	return pid;
}

int
hfd_stop(struct hfd *h, int timeout_ms)
{
	int status = -1;

	if (h->pid > 0)
		status = tu_stop(h->pid, timeout_ms);
	h->pid = 0;
	return status;
}

void
hfd_free(struct hfd *h)
{
	hfd_stop(h, 10000);
	if (getenv("HFD_KEEP") == NULL)
		tu_rmrf(h->dir);
	free(h->dir);
	free(h->conf);
	free(h->sock);
	free(h->log);
	memset(h, 0, sizeof(*h));
}
