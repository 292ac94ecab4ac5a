/*
 * sys: the whole holdfast system as a user starts it, for the system tests:
 * a real PostgreSQL (pgt) behind the fault proxy (fp), one config, one
 * holdfastd running the HTTP (x2), WhatsApp and telephony workers, and the
 * load around it (sysload for HTTP and webhooks, sipp for calls). Every
 * process is started and stopped by its pid; every wait has a deadline.
 */
#ifndef HOLDFAST_SYS_H
#define HOLDFAST_SYS_H

#include <sys/types.h>

#define SYS_NPROC	4	/* http:0, http:1, whatsapp, telephony */
#define SYS_NGROUP	3

extern const char *const sys_proc_names[SYS_NPROC];
extern const char *const sys_group_names[SYS_NGROUP];

struct sys {
	struct pgt	*pg;
	struct fp	*fp;
	char		*dir, *conf, *log, *sock;
	pid_t		 hfd;		/* holdfastd */
	int		 http_port, sip_port;
};

/* One instance as `holdfastctl --json status` shows it. */
struct sys_proc {
	char		 state[16];
	char		 db[16];	/* up, down, unknown */
	long long	 pid, restarts;
};

struct sys_load {
	long	s200, s401, s429, s500, s503, sother, connerr, timeout;
	long	webhooks, acked;
};

struct sys_calls {
	long long	 ok, failed;
	int		 status;	/* sipp's exit code; -1: killed */
};

/* pg_opts: extra postgresql.conf lines; whatsapp_extra / http_extra go
 * into those workers' sections. Waits until every worker is RUNNING with
 * its DB up. */
void sys_start(struct sys *, const char *pg_opts, const char *worker_extra);
void sys_finish(struct sys *);
/* Starts holdfastd again on the same config (after a kill -9). */
void sys_spawn_hfd(struct sys *);
int sys_wait_all_running(struct sys *, int timeout_ms);

int sys_ctl(struct sys *, const char *args, char **out);
/* Fills procs[SYS_NPROC]; returns how many were found. */
int sys_status(struct sys *, struct sys_proc *procs);

/* Lines of the holdfastd log from byte offset since that come from group
 * (prefix "http:" or "whatsapp: ") and contain needle. */
long sys_log_size(struct sys *);
int sys_log_count(struct sys *, long since, const char *group, const char *needle);

/* HTTP load (tests/system/sysload) for duration_ms at rate req/s. */
pid_t sys_load_start(struct sys *, const char *tag, int rate, int duration_ms);
void sys_load_wait(struct sys *, pid_t, const char *tag, int total_ms, struct sys_load *);
/* Of the wamids acknowledged with 200 under tag: how many are stored
 * (each once) and how many are still without a conversation. */
long sys_msgs_stored(struct sys *, const char *tag);
long sys_msgs_unassigned(struct sys *, const char *tag);
long sys_msgs_dup(struct sys *, const char *tag);

/* sipp's uac at rate cps for calls calls. */
pid_t sys_sipp_start(struct sys *, const char *tag, int rate, int calls);
void sys_sipp_wait(struct sys *, pid_t, const char *tag, struct sys_calls *, int timeout_ms);
/* Call rows (CDRs) of the calls made by sipp process pid; duplicates. */
long sys_cdrs(struct sys *, pid_t sipp);
long sys_cdrs_dup(struct sys *);
/* Of the calls sipp (tag) saw finish (BYE answered 200): how many have no
 * CDR; *finished gets how many finished. -1 when unknown. */
long sys_cdrs_finished_lost(struct sys *, const char *tag, long *finished);

/* Psql on the test database (directly, not through the proxy). */
long long sys_scalar(struct sys *, const char *sql);
int sys_psql(struct sys *, const char *sql);

long long sys_now_ms(void);
void sys_sleep_ms(long ms);

#endif
