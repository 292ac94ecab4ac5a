/*
 * sipp: SIPp, the SIP load generator, as every test runs it: one command
 * line (127.0.0.1 only; final statistics to dir/tag.csv, each message to
 * dir/tag.short, unexpected ones to dir/tag.err, its output to
 * dir/tag.sipp.log), started as a process of its own and stopped by PID.
 */
#ifndef HOLDFAST_SIPP_H
#define HOLDFAST_SIPP_H

#include <sys/types.h>

struct sipp_opts {
	const char	*dir;		/* where the files named by tag go */
	const char	*tag;
	const char	*scenario;	/* "uac" (built in) or a file in tests/sipp/ */
	int		 port;		/* calls go to 127.0.0.1:port */
	int		 rate;		/* calls per second */
	int		 calls;		/* then sipp ends */
	int		 timeout_s;	/* sipp gives up after this, and fails */
	const char	*recv_timeout;	/* NULL, or how long a call may wait for
					 * a message before it fails ("5s") */
};

struct sipp_result {
	int		 rc;		/* sipp's exit code; -1: killed or lost */
	long long	 ok, failed;	/* calls, from its statistics; -1: none */
};

pid_t sipp_start(const struct sipp_opts *);
/*
 * Waits up to timeout_ms for sipp started with o to end (past that, it is
 * sent SIGTERM, on which it writes its statistics) and reads its counters.
 */
void sipp_wait(pid_t, const struct sipp_opts *o, int timeout_ms, struct sipp_result *);
/* sipp_start then sipp_wait, with sipp's own timeout and a margin. */
void sipp_run(const struct sipp_opts *, struct sipp_result *);
/* Column col of the last line of a sipp -trace_stat CSV; -1 when missing. */
long long sipp_stat(const char *csv, const char *col);

#endif
