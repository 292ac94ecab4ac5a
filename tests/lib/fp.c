/*
 * fp: the test side of faultproxy. The proxy reads commands on its stdin
 * and answers one line each on its stdout; its stdin is a pipe only this
 * process writes, so the proxy exits however the test ends.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fp.h"

struct fp {
	pid_t	 pid;
	FILE	*in;	/* commands */
	FILE	*out;	/* replies */
	int	 port;
};

static char *
fp_binary(void)
{
	const char	*b = getenv("HOLDFAST_BUILDDIR");
	char		*path;

	if (asprintf(&path, "%s/tests/tools/faultproxy", b ? b : ".") == -1)
		abort();
	return path;
}

struct fp *
fp_start(int target_port)
{
	struct fp	*fp = calloc(1, sizeof(*fp));
	int		 in[2], out[2];
	char		 tport[16], line[128], *bin = fp_binary();

	if (fp == NULL || pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1)
		ck_abort_msg("fp_start: pipe");
	snprintf(tport, sizeof(tport), "%d", target_port);
	if ((fp->pid = fork()) == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(bin, "faultproxy", tport, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	fp->in = fdopen(in[1], "w");
	fp->out = fdopen(out[0], "r");
	if (fgets(line, sizeof(line), fp->out) == NULL ||
	    sscanf(line, "ready %d", &fp->port) != 1)
		ck_abort_msg("fp_start: %s did not start", bin);
	free(bin);
	return fp;
}

int
fp_port(const struct fp *fp)
{
	return fp->port;
}

static int
fp_cmd(struct fp *fp, const char *cmd, char *reply, size_t size)
{
	if (fprintf(fp->in, "%s\n", cmd) < 0 || fflush(fp->in) != 0 ||
	    fgets(reply, size, fp->out) == NULL)
		return -1;
	return strncmp(reply, "ok", 2) == 0 ? 0 : -1;
}

int
fp_set(struct fp *fp, const char *mode)
{
	char reply[64];

	return fp_cmd(fp, mode, reply, sizeof(reply));
}

long
fp_count(struct fp *fp)
{
	char reply[64];

	if (fp_cmd(fp, "count", reply, sizeof(reply)) == -1)
		return -1;
	return atol(reply + 3);
}

void
fp_stop(struct fp *fp)
{
	if (fp == NULL)
		return;
	fclose(fp->in);	/* EOF: the proxy exits */
	fclose(fp->out);
	if (waitpid(fp->pid, NULL, 0) == -1)
		kill(fp->pid, SIGKILL);
	free(fp);
}
