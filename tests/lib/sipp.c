/*
 * sipp: running SIPp from the tests (see sipp.h). sipp is started with
 * tu_spawn, so it has a PID of its own and a failed assertion in the test
 * never leaves it running unseen; its counters come from its CSV.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "sipp.h"
#include "tu.h"
#include "util.h"

#define SIPP_BIN	"/usr/bin/sipp"
#define SIPP_NARGS	40

static char *
sipp_path(const struct sipp_opts *o, const char *ext)
{
	return xasprintf("%s/%s.%s", o->dir, o->tag, ext);
}

/* The argv for o; every string in it is malloc'd (freed by sipp_argv_free). */
static void
sipp_argv(const struct sipp_opts *o, char **argv)
{
	int n = 0;

	argv[n++] = xstrdup(SIPP_BIN);
	if (strcmp(o->scenario, "uac") == 0) {
		argv[n++] = xstrdup("-sn");
		argv[n++] = xstrdup("uac");
	} else {
		argv[n++] = xstrdup("-sf");
		argv[n++] = xasprintf("%s/tests/sipp/%s", tu_srcdir(), o->scenario);
	}
	argv[n++] = xasprintf("127.0.0.1:%d", o->port);
	argv[n++] = xstrdup("-i");
	argv[n++] = xstrdup("127.0.0.1");
	argv[n++] = xstrdup("-p");
	argv[n++] = xasprintf("%d", tu_free_port(SOCK_DGRAM));
	argv[n++] = xstrdup("-r");
	argv[n++] = xasprintf("%d", o->rate);
	argv[n++] = xstrdup("-m");
	argv[n++] = xasprintf("%d", o->calls);
	argv[n++] = xstrdup("-nostdin");
	argv[n++] = xstrdup("-trace_stat");
	argv[n++] = xstrdup("-stf");
	argv[n++] = sipp_path(o, "csv");
	argv[n++] = xstrdup("-fd");
	argv[n++] = xstrdup("1");
	argv[n++] = xstrdup("-trace_err");
	argv[n++] = xstrdup("-error_file");
	argv[n++] = sipp_path(o, "err");
	argv[n++] = xstrdup("-trace_shortmsg");
	argv[n++] = xstrdup("-shortmessage_file");
	argv[n++] = sipp_path(o, "short");
	argv[n++] = xstrdup("-timeout");
	argv[n++] = xasprintf("%ds", o->timeout_s);
	argv[n++] = xstrdup("-timeout_error");
	if (o->recv_timeout != NULL) {
		argv[n++] = xstrdup("-recv_timeout");
		argv[n++] = xstrdup(o->recv_timeout);
	}
	argv[n] = NULL;
}

pid_t
sipp_start(const struct sipp_opts *o)
{
	char	*argv[SIPP_NARGS], *log = sipp_path(o, "sipp.log");
	pid_t	 pid;

	sipp_argv(o, argv);
	pid = tu_spawn(argv, NULL, log);
	for (int i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(log);
	return pid;
}

void
sipp_wait(pid_t pid, const struct sipp_opts *o, int timeout_ms, struct sipp_result *r)
{
	char	*csv = sipp_path(o, "csv");
	int	 status = -1;

	if (tu_wait_pid(pid, timeout_ms, &status) != 0)
		status = tu_stop(pid, 5000);	/* sipp writes its stats on TERM */
	r->rc = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	r->ok = sipp_stat(csv, "SuccessfulCall(C)");
	r->failed = sipp_stat(csv, "FailedCall(C)");
	free(csv);
}

void
sipp_run(const struct sipp_opts *o, struct sipp_result *r)
{
	sipp_wait(sipp_start(o), o, (o->timeout_s + 10) * 1000, r);
}

long long
sipp_stat(const char *csv, const char *col)
{
	char		*text = tu_read_file(csv, NULL), *hdr, *last, *p;
	int		 idx = -1, i = 0;
	long long	 v = -1;

	if (text == NULL)
		return -1;
	hdr = text;
	if ((p = strchr(hdr, '\n')) == NULL)
		goto out;
	*p = '\0';
	/* the last non-empty line holds the final cumulative counters */
	last = p + 1;
	for (char *q = last; (q = strchr(q, '\n')) != NULL; q++)
		if (q[1] != '\0' && q[1] != '\n')
			last = q + 1;
	for (char *tok = strtok(hdr, ";"); tok != NULL; tok = strtok(NULL, ";"), i++)
		if (strcmp(tok, col) == 0)
			idx = i;
	for (i = 0, p = last; idx >= 0 && p != NULL; i++) {
		if (i == idx) {
			v = atoll(p);
			break;
		}
		p = strchr(p, ';');
		p = p ? p + 1 : NULL;
	}
out:
	free(text);
	return v;
}
