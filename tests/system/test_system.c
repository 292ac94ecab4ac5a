/*
 * test_system: the outage matrix. Guards holdfast's promise as a whole: with
 * the system started as a user starts it (holdfastd running the HTTP x2,
 * WhatsApp and telephony workers from one config) and load on every worker
 * at once (logins, conversation reads and signed webhooks over HTTP, SIP
 * calls from sipp, inbound messages flowing to the session worker), no
 * database fault kills a worker, makes HTTP answer anything but
 * 200/401/429/503, fails a call, or loses or duplicates a message or a call
 * record; each worker reports the DB down during the fault and up after it.
 * Process faults (kill -9 of each worker and of holdfastd, a hung worker,
 * `holdfastctl restart`) lose nothing either.
 *
 * Every cell (fault x worker) is recorded, then written as a markdown
 * table to the test log (and to $SYSTEM_TABLE: `make soak` writes
 * docs/outage-matrix.md); the assertions run after the table is written,
 * so a failing run still shows all its figures. SYSTEM_SOAK=1 is the full
 * form (20 s per fault, 60 s of flapping, 50 kills per worker, more load).
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <libpq-fe.h>

#include "fp.h"
#include "pgt.h"
#include "sys.h"
#include "tu.h"
#include "util.h"

/* ---- the run's shape: short (make check) or soak ---- */

struct shape {
	int	fault_ms, flap_ms, kills, http_rate, cps, settle_ms;
};

static struct shape	 sh;

static void
shape_init(void)
{
	if (getenv("SYSTEM_SOAK") != NULL)
		sh = (struct shape){ 20000, 62000, 50, 40, 30, 8000 };
	else
		sh = (struct shape){ 4000, 6000, 3, 15, 10, 3000 };
}

/* ---- one row per fault, figures per worker group ---- */

enum { G_HTTP, G_WA, G_TEL };

struct rec {
	char		 name[24];
	int		 dur_ms;
	int		 procfault;	/* a process fault: restarts are expected */
	/* per group */
	int		 down_seen[SYS_NGROUP], up_after[SYS_NGROUP];
	long		 rec_ms[SYS_NGROUP];
	int		 log_down[SYS_NGROUP], log_rec[SYS_NGROUP];
	int		 pids_same[SYS_NGROUP];
	long long	 restarts[SYS_NGROUP];
	long		 respawns[SYS_NGROUP], respawn_max_ms[SYS_NGROUP];
	long		 respawn_sum_ms[SYS_NGROUP];
	/* load and losses */
	struct sys_load	 load;
	long		 stored, unassigned, dup;
	struct sys_calls calls;
	long		 cdrs, cdr_dup, finished, finished_lost;
	char		 note[160];
};

#define MAXREC	24
static struct rec	 recs[MAXREC];
static int		 nrec;
static char		*fails[256];
static int		 nfails;

static void mfail(const struct rec *, const char *, ...) __attribute__((format(printf, 2, 3)));

/* Records a failed assertion; all are reported after the table. */
static void
mfail(const struct rec *r, const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (nfails < 256)
		fails[nfails++] = xasprintf("%s: %s", r->name, buf);
}

static int
group_of(int proc)
{
	return proc <= 1 ? G_HTTP : proc == 2 ? G_WA : G_TEL;
}

/* ---- polling the workers' DB state ---- */

/* Marks groups with any instance down. */
static void
poll_down(struct sys *s, struct rec *r)
{
	struct sys_proc p[SYS_NPROC];

	sys_status(s, p);
	for (int i = 0; i < SYS_NPROC; i++)
		if (strcmp(p[i].db, "down") == 0)
			r->down_seen[group_of(i)] = 1;
}

/* Waits until every instance of every group is up again, recording per
 * group the time from t_end until all its instances were up. A group that
 * must report the DB down but has not yet (a blackhole is noticed only
 * when a query or connect deadline passes) is waited on until it has been
 * down and up again, or for grace_ms. */
static void
wait_up(struct sys *s, struct rec *r, long long t_end, int must_down, int timeout_ms)
{
	const int	 grace_ms = 8000;
	int		 left = SYS_NGROUP;

	while (left > 0 && sys_now_ms() - t_end < timeout_ms) {
		struct sys_proc	 p[SYS_NPROC];
		int		 up[SYS_NGROUP] = { 1, 1, 1 };
		long long	 el = sys_now_ms() - t_end;

		sys_status(s, p);
		for (int i = 0; i < SYS_NPROC; i++)
			if (strcmp(p[i].db, "up") != 0) {
				up[group_of(i)] = 0;
				if (strcmp(p[i].db, "down") == 0)
					r->down_seen[group_of(i)] = 1;
			}
		for (int g = 0; g < SYS_NGROUP; g++)
			if (up[g] && !r->up_after[g] &&
			    (!must_down || r->down_seen[g] || el > grace_ms)) {
				r->up_after[g] = 1;
				r->rec_ms[g] = el;
				left--;
			}
		sys_sleep_ms(100);
	}
}

/* ---- the load around each fault ---- */

struct load {
	pid_t	 http, sipp;
	int	 total_ms;
};

static void
load_start(struct sys *s, struct rec *r, struct load *l, int total_ms)
{
	l->total_ms = total_ms;
	l->http = sys_load_start(s, r->name, sh.http_rate, total_ms);
	l->sipp = sys_sipp_start(s, r->name, sh.cps, sh.cps * total_ms / 1000);
}

/* Waits for the load to end and for the system to have caught up (every
 * acknowledged message stored and assigned, every call's CDR written);
 * records the figures. */
static void
load_finish(struct sys *s, struct rec *r, struct load *l)
{
	long long t0;

	sys_load_wait(s, l->http, r->name, l->total_ms, &r->load);
	sys_sipp_wait(s, l->sipp, r->name, &r->calls, l->total_ms + 60000);
	t0 = sys_now_ms();
	do {
		r->stored = sys_msgs_stored(s, r->name);
		r->unassigned = sys_msgs_unassigned(s, r->name);
		r->cdrs = sys_cdrs(s, l->sipp);
		r->finished_lost = sys_cdrs_finished_lost(s, r->name, &r->finished);
		if (r->stored == r->load.acked && r->unassigned == 0 &&
		    r->cdrs >= r->calls.ok && r->finished_lost == 0)
			break;
		sys_sleep_ms(250);
	} while (sys_now_ms() - t0 < 30000);
	r->dup = sys_msgs_dup(s, r->name);
	r->cdr_dup = sys_cdrs_dup(s);
}

/* ---- before/after ---- */

struct snap {
	struct sys_proc	 p[SYS_NPROC];
	long		 log_off;
};

static void
snap_take(struct sys *s, struct snap *sn)
{
	sys_status(s, sn->p);
	sn->log_off = sys_log_size(s);
}

static void
snap_compare(struct sys *s, struct rec *r, const struct snap *before)
{
	struct sys_proc	 now[SYS_NPROC];

	sys_status(s, now);
	for (int g = 0; g < SYS_NGROUP; g++) {
		r->pids_same[g] = 1;
		r->restarts[g] = 0;
	}
	for (int i = 0; i < SYS_NPROC; i++) {
		int g = group_of(i);

		if (now[i].pid != before->p[i].pid)
			r->pids_same[g] = 0;
		r->restarts[g] += now[i].restarts - before->p[i].restarts;
	}
	for (int g = 0; g < SYS_NGROUP; g++) {
		r->log_down[g] = sys_log_count(s, before->log_off, sys_group_names[g], "[DB_DOWN]");
		r->log_rec[g] = sys_log_count(s, before->log_off, sys_group_names[g], "[DB_RECOVERED]");
	}
}

/* ---- database faults ---- */

struct fault {
	const char	*name;
	void		(*begin)(struct sys *);
	void		(*tick)(struct sys *, long elapsed_ms);	/* or NULL */
	void		(*end)(struct sys *);
	int		 marks_down;	/* the workers must report the DB down */
	const char	*note;
};

static void f_stop(struct sys *s) { ck_assert_int_eq(pgt_stop(s->pg, "fast"), 0); }
static void f_start(struct sys *s) { ck_assert_int_eq(pgt_restart(s->pg), 0); }
static void f_kill9(struct sys *s) { ck_assert_int_eq(pgt_kill9(s->pg), 0); }
static void f_blackhole(struct sys *s) { ck_assert_int_eq(fp_set(s->fp, "blackhole"), 0); }
static void f_pass(struct sys *s) { ck_assert_int_eq(fp_set(s->fp, "pass"), 0); }

/* Neon disables the endpoint: live sessions end (57P01, as at a compute
 * suspend) and every new connection gets the endpoint-disabled error. */
static void
f_neon(struct sys *s)
{
	ck_assert_int_eq(fp_set(s->fp, "neon"), 0);
	sys_psql(s, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	    "WHERE application_name LIKE 'holdfast-%'");
}

static int	 flap_last;

static void
f_flap_tick(struct sys *s, long elapsed)
{
	/* down, up, down, ...: the fault's length is an odd number of 2 s
	 * halves, so it ends down and the recovery time means something */
	int down = (int)((elapsed / 2000) % 2 == 0);

	if (down != flap_last)
		ck_assert_int_eq(fp_set(s->fp, down ? "reset" : "pass"), 0);
	flap_last = down;
}

static void
f_flap_begin(struct sys *s)
{
	flap_last = -1;
	f_flap_tick(s, 0);
}

/* Connections exhausted: a holder (an ordinary role, like the workers)
 * takes every slot that is not reserved for superusers and keeps them; its
 * superuser session ends the workers' sessions, whose slots it then takes
 * too. Writes one byte on fd once it holds them all. After each round of
 * terminations it keeps asking for slots, every 2 ms, for 300 ms:
 * a worker reconnects as soon as it sees its session end, and a holder
 * that slept meanwhile could lose every freed slot to the workers (the
 * fault then never reaches them; seen once under ASan, where the
 * workers are slower to notice and the slots were free by then). */
static pid_t	 holder;

/* Takes free slots until none is left (or 400 are held). */
static int
holder_grab(const char *hog, int n)
{
	PGconn *c = NULL;

	while (n < 400 && PQstatus(c = PQconnectdb(hog)) == CONNECTION_OK)
		n++;
	PQfinish(c);
	return n;
}

static void
holder_main(const char *ci, int fd)
{
	char		*hog = xasprintf("%s application_name=sys-holder", ci);
	PGconn		*su = PQconnectdb(ci);
	int		 n = 0, told = 0;
	uint64_t	 until;

	*strstr(hog, "user=postgres") = '\0';
	hog = xasprintf("%s user=sys_hog application_name=sys-holder", hog);
	for (;;) {
		n = holder_grab(hog, n);
		PQclear(PQexec(su, "SELECT pg_terminate_backend(pid) FROM "
		    "pg_stat_activity WHERE application_name LIKE 'holdfast-%'"));
		if (!told && n > 0)
			told = write(fd, "x", 1) == 1;
		for (until = hf_now_mono_ms() + 300; hf_now_mono_ms() < until; ) {
			n = holder_grab(hog, n);
			usleep(2000);
		}
	}
}

static void
f_exhaust(struct sys *s)
{
	const char	*ci = pgt_conninfo(s->pg, "hf");
	int		 p[2];
	char		 b;

	ck_assert_int_eq(sys_psql(s, "DO $$ BEGIN CREATE ROLE sys_hog LOGIN; "
	    "EXCEPTION WHEN duplicate_object THEN NULL; END $$"), 0);
	ck_assert_int_eq(pipe(p), 0);
	if ((holder = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* never outlives the test */
		close(p[0]);
		holder_main(ci, p[1]);
		_exit(0);
	}
	ck_assert_int_gt(holder, 0);
	close(p[1]);
	ck_assert_int_eq(read(p[0], &b, 1), 1);
	close(p[0]);
}

static void
f_unexhaust(struct sys *s)
{
	(void)s;
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	holder = 0;
}

/* Every statement slow: a session holds ACCESS EXCLUSIVE locks on the
 * tables the workers use, so their statements wait until statement_timeout
 * (1 s) cancels them (57014): a statement-level failure, the DB stays up. */
static pid_t	 locker;

static void
f_lock(struct sys *s)
{
	char	 port[16];
	char	*psql = xasprintf("%s/psql", pgt_bindir());
	char	*sql = xasprintf("BEGIN; LOCK TABLE users, auth_tokens, wa_messages, "
	    "conversations, calls IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(%d); COMMIT",
	    sh.fault_ms / 1000 + 30);
	char	*argv[] = { psql, "-XAtq", "-h", "127.0.0.1", "-p", port, "-U",
	    "postgres", "-d", "hf", "-c", sql, NULL };
	char	*env[] = { "PGAPPNAME=sys-locker", NULL };
	char	*log;

	snprintf(port, sizeof(port), "%d", pgt_port(s->pg));
	log = xasprintf("%s/locker.log", s->dir);
	locker = tu_spawn(argv, env, log);
	free(log);
	free(psql);
	free(sql);
}

static void
f_unlock(struct sys *s)
{
	sys_psql(s, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	    "WHERE application_name = 'sys-locker'");
	tu_wait_pid(locker, 10000, NULL);
	tu_kill(locker, SIGKILL);
	locker = 0;
}

static const struct fault faults[] = {
	{ "pg-stopped", f_stop, NULL, f_start, 1, "pg_ctl stop -m fast" },
	{ "pg-sigkill", f_kill9, NULL, f_start, 1, "postmaster SIGKILL, crash recovery" },
	{ "blackhole", f_blackhole, NULL, f_pass, 1, "proxy forwards nothing" },
	{ "neon-disabled", f_neon, NULL, f_pass, 1, "57P01 then Neon XX000 at connect" },
	{ "conn-exhausted", f_exhaust, NULL, f_unexhaust, 1, "a role holds all 37 non-reserved slots" },
	{ "stmt-timeout", f_lock, NULL, f_unlock, 0, "tables locked, 57014 after 1 s" },
	{ "flapping", f_flap_begin, f_flap_tick, f_pass, 1, "proxy reset/pass every 2 s" },
};

/* The losses every fault is held to: nothing acknowledged lost,
 * nothing duplicated, no 500. */
static void
proc_check(struct rec *r)
{
	if (r->load.s500 != 0 || r->load.sother != 0)
		mfail(r, "HTTP 500: %ld, other: %ld", r->load.s500, r->load.sother);
	if (r->stored != r->load.acked || r->unassigned != 0 || r->dup != 0)
		mfail(r, "messages acked %ld stored %ld unassigned %ld dup %ld",
		    r->load.acked, r->stored, r->unassigned, r->dup);
	if (r->cdr_dup != 0)
		mfail(r, "%ld duplicated CDRs", r->cdr_dup);
	if (r->finished_lost != 0)
		mfail(r, "%ld of %ld finished calls have no CDR", r->finished_lost, r->finished);
}

static void
run_db_fault(struct sys *s, const struct fault *f)
{
	struct rec	*r = &recs[nrec++];
	struct snap	 before;
	struct load	 l;
	long long	 t0, t_end;

	snprintf(r->name, sizeof(r->name), "%s", f->name);
	snprintf(r->note, sizeof(r->note), "%s", f->note);
	r->dur_ms = strcmp(f->name, "flapping") == 0 ? sh.flap_ms : sh.fault_ms;
	snap_take(s, &before);
	load_start(s, r, &l, 1500 + r->dur_ms + sh.settle_ms);
	sys_sleep_ms(1500);
	f->begin(s);
	t0 = sys_now_ms();
	while (sys_now_ms() - t0 < r->dur_ms) {
		if (f->tick != NULL)
			f->tick(s, sys_now_ms() - t0);
		poll_down(s, r);
		sys_sleep_ms(200);
	}
	f->end(s);
	t_end = sys_now_ms();
	wait_up(s, r, t_end, f->marks_down, 60000);
	load_finish(s, r, &l);
	snap_compare(s, r, &before);
	for (int g = 0; g < SYS_NGROUP; g++) {
		if (!r->pids_same[g] || r->restarts[g] != 0)
			mfail(r, "%s restarted (%lld restarts)", sys_group_names[g], r->restarts[g]);
		if (!r->up_after[g])
			mfail(r, "%s: DB not up within 60 s of the fault's end", sys_group_names[g]);
		if (f->marks_down && (!r->down_seen[g] || r->log_down[g] == 0 || r->log_rec[g] == 0))
			mfail(r, "%s: DB down seen %d, [DB_DOWN] %d, [DB_RECOVERED] %d",
			    sys_group_names[g], r->down_seen[g], r->log_down[g], r->log_rec[g]);
	}
	proc_check(r);
	if (r->load.connerr || r->load.timeout)
		mfail(r, "HTTP connection errors %ld, timeouts %ld", r->load.connerr, r->load.timeout);
	if (r->calls.failed != 0 || r->calls.ok <= 0)
		mfail(r, "sipp: %lld calls ok, %lld failed", r->calls.ok, r->calls.failed);
	if (r->cdrs != r->calls.ok)
		mfail(r, "CDRs %ld for %lld successful calls", r->cdrs, r->calls.ok);
}

/* ---- process faults ---- */

static int
wait_respawn(struct sys *s, int proc, long long oldpid, int timeout_ms)
{
	long long t0 = sys_now_ms();

	while (sys_now_ms() - t0 < timeout_ms) {
		struct sys_proc p[SYS_NPROC];

		sys_status(s, p);
		if (strcmp(p[proc].state, "RUNNING") == 0 && p[proc].pid != oldpid &&
		    p[proc].pid > 0)
			return 1;
		sys_sleep_ms(20);
	}
	return 0;
}

static void
respawned(struct rec *r, int g, long ms)
{
	r->respawns[g]++;
	r->respawn_sum_ms[g] += ms;
	if (ms > r->respawn_max_ms[g])
		r->respawn_max_ms[g] = ms;
}

static struct rec *
proc_begin(struct sys *s, const char *name, const char *note, struct snap *before,
    struct load *l, int total_ms)
{
	struct rec *r = &recs[nrec++];

	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->note, sizeof(r->note), "%s", note);
	r->procfault = 1;
	snap_take(s, before);
	load_start(s, r, l, total_ms);
	sys_sleep_ms(1000);
	return r;
}

static void
run_kill9(struct sys *s)
{
	struct snap	 before;
	struct load	 l;
	int		 per = 1200;
	struct rec	*r = proc_begin(s, "kill9-workers", "", &before, &l,
	    2000 + SYS_NPROC * sh.kills * (per + 1000));

	for (int k = 0; k < sh.kills; k++)
		for (int i = 0; i < SYS_NPROC; i++) {
			struct sys_proc	 p[SYS_NPROC];
			long long	 t0;

			sys_sleep_ms(200 + random() % (per - 400));
			sys_status(s, p);
			if (p[i].pid <= 0)
				continue;
			kill((pid_t)p[i].pid, SIGKILL);
			t0 = sys_now_ms();
			if (!wait_respawn(s, i, p[i].pid, 20000))
				mfail(r, "%s not respawned within 20 s", sys_proc_names[i]);
			else
				respawned(r, group_of(i), (long)(sys_now_ms() - t0));
		}
	load_finish(s, r, &l);
	snap_compare(s, r, &before);
	snprintf(r->note, sizeof(r->note), "%d x kill -9 per instance; "
	    "calls in flight at a telephony kill may fail", sh.kills);
	proc_check(r);
	/* a call sipp saw finish has its CDR: only in-flight ones may be gone */
	if (r->cdrs < r->calls.ok)
		mfail(r, "CDRs %ld < %lld finished calls", r->cdrs, r->calls.ok);
}

static int
pid_gone(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return access(path, F_OK) != 0;
}

static void
run_hang(struct sys *s)
{
	struct snap	 before;
	struct load	 l;
	struct sys_proc	 p[SYS_NPROC];
	struct rec	*r = proc_begin(s, "hang-whatsapp", "SIGSTOP; heartbeat_timeout 3 s",
	    &before, &l, 12000);
	long long	 t0;

	sys_status(s, p);
	kill((pid_t)p[2].pid, SIGSTOP);
	t0 = sys_now_ms();
	if (!wait_respawn(s, 2, p[2].pid, 30000))
		mfail(r, "the hung whatsapp worker was not replaced within 30 s");
	else
		respawned(r, G_WA, (long)(sys_now_ms() - t0));
	if (!pid_gone((pid_t)p[2].pid)) {
		mfail(r, "the hung worker %lld is still there", p[2].pid);
		kill((pid_t)p[2].pid, SIGKILL);
	}
	load_finish(s, r, &l);
	snap_compare(s, r, &before);
	if (sys_log_count(s, before.log_off, "", "[WORKER_HUNG]") == 0)
		mfail(r, "no [WORKER_HUNG] in holdfastd's log");
	proc_check(r);
	if (r->calls.failed != 0 || r->cdrs != r->calls.ok)
		mfail(r, "calls ok %lld failed %lld CDRs %ld", r->calls.ok, r->calls.failed, r->cdrs);
}

static void
run_kill_hfd(struct sys *s)
{
	struct snap	 before;
	struct load	 l;
	struct sys_proc	 p[SYS_NPROC];
	struct rec	*r = proc_begin(s, "kill9-holdfastd", "", &before, &l, 12000);
	long long	 t0, t;
	int		 orphans = 0, status;

	sys_status(s, p);
	kill(s->hfd, SIGKILL);
	t0 = sys_now_ms();
	tu_wait_pid(s->hfd, 5000, &status);
	for (int i = 0; i < SYS_NPROC; i++) {
		for (t = sys_now_ms(); !pid_gone((pid_t)p[i].pid) && sys_now_ms() - t < 5000; )
			sys_sleep_ms(20);
		if (!pid_gone((pid_t)p[i].pid)) {
			orphans++;
			kill((pid_t)p[i].pid, SIGKILL);
		}
	}
	sys_spawn_hfd(s);
	if (!sys_wait_all_running(s, 30000))
		mfail(r, "the system was not back within 30 s");
	t = sys_now_ms() - t0;
	for (int g = 0; g < SYS_NGROUP; g++)
		respawned(r, g, (long)t);
	if (tu_http(s->http_port, "GET", "/healthz", NULL, NULL, 0, NULL, NULL, 5000) != 200)
		mfail(r, "HTTP port not back");
	load_finish(s, r, &l);
	for (int i = 0; i < SYS_NPROC; i++)	/* a new holdfastd counts from 0 */
		before.p[i].restarts = 0;
	snap_compare(s, r, &before);
	snprintf(r->note, sizeof(r->note), "%d orphans; refused connections and failed "
	    "calls while down are expected", orphans);
	if (orphans != 0)
		mfail(r, "%d orphan workers outlived holdfastd", orphans);
	proc_check(r);
	if (r->cdrs < r->calls.ok)
		mfail(r, "CDRs %ld < %lld finished calls", r->cdrs, r->calls.ok);
}

static void
run_restart(struct sys *s, const char *what)
{
	struct snap	 before;
	struct load	 l;
	char		 name[24], *cmd = xasprintf("restart %s >/dev/null 2>&1", what);
	struct rec	*r;
	long long	 t0;

	snprintf(name, sizeof(name), "restart-%s", what);
	r = proc_begin(s, name, "holdfastctl restart (surge for http, rolling for the rest)", &before, &l, 10000);
	t0 = sys_now_ms();
	if (sys_ctl(s, cmd, NULL) != 0)
		mfail(r, "holdfastctl %s failed", cmd);
	if (!sys_wait_all_running(s, 30000))
		mfail(r, "not all RUNNING with the DB up within 30 s");
	for (int g = 0; g < SYS_NGROUP; g++)
		if (strcmp(what, "all") == 0 || strcmp(what, sys_group_names[g]) == 0)
			respawned(r, g, (long)(sys_now_ms() - t0));
	load_finish(s, r, &l);
	snap_compare(s, r, &before);
	proc_check(r);
	if (r->load.connerr != 0 || r->load.timeout != 0)
		mfail(r, "HTTP connection errors %ld, timeouts %ld", r->load.connerr, r->load.timeout);
	if (r->calls.failed != 0 || r->cdrs != r->calls.ok)
		mfail(r, "calls ok %lld failed %lld CDRs %ld", r->calls.ok, r->calls.failed, r->cdrs);
	free(cmd);
}

/*
 * holdfastd replaced in place (sig 0: `holdfastctl upgrade`) or healing
 * from its own fault (sig): same holdfastd PID, the workers untouched, so
 * clients see nothing at all: no refused connection, no failed call.
 */
static void
run_hfd_inplace(struct sys *s, const char *name, int sig, int times)
{
	struct snap	 before;
	struct load	 l;
	struct rec	*r = proc_begin(s, name, "", &before, &l, 3000 + times * 1200);
	long long	 t0, sum = 0, max = 0;
	const char	*tag = sig == 0 ? "[SUP_UPGRADE] result=upgraded" : "[SUP_HEAL] signal=";

	for (int k = 0; k < times; k++) {
		t0 = sys_now_ms();
		if (sig == 0 && sys_ctl(s, "upgrade >/dev/null 2>&1", NULL) != 0)
			mfail(r, "holdfastctl upgrade %d failed", k + 1);
		if (sig != 0)
			kill(s->hfd, sig);
		if (!sys_wait_all_running(s, 10000))
			mfail(r, "not all RUNNING within 10 s after %s %d", name, k + 1);
		t0 = sys_now_ms() - t0;
		sum += t0;
		max = t0 > max ? t0 : max;
		if (pid_gone(s->hfd))
			mfail(r, "holdfastd %d is gone", (int)s->hfd);
		sys_sleep_ms(800);
	}
	load_finish(s, r, &l);
	snap_compare(s, r, &before);
	snprintf(r->note, sizeof(r->note), "%d x %s; back avg %lld / max %lld ms; "
	    "%d %s lines", times, sig == 0 ? "holdfastctl upgrade" : strsignal(sig),
	    sum / times, max, sys_log_count(s, before.log_off, "", tag), tag);
	proc_check(r);
	for (int g = 0; g < SYS_NGROUP; g++)
		if (!r->pids_same[g] || r->restarts[g] != 0)
			mfail(r, "%s: worker PIDs changed or restarts %lld",
			    sys_group_names[g], r->restarts[g]);
	if (sys_log_count(s, before.log_off, "", tag) < times)
		mfail(r, "fewer than %d %s lines", times, tag);
	if (r->load.connerr != 0 || r->load.timeout != 0)
		mfail(r, "HTTP connection errors %ld, timeouts %ld", r->load.connerr,
		    r->load.timeout);
	if (r->calls.failed != 0 || r->cdrs != r->calls.ok)
		mfail(r, "calls ok %lld failed %lld CDRs %ld", r->calls.ok,
		    r->calls.failed, r->cdrs);
}

/* ---- the table ---- */

static void
row(FILE *f, const struct rec *r, int g)
{
	const char	*yn[] = { "no", "yes" };
	char		 load[160], loss[128], rec[64];

	if (g == G_HTTP)
		snprintf(load, sizeof(load), "200:%ld 401:%ld 429:%ld 503:%ld **500:%ld** "
		    "other:%ld connerr:%ld timeout:%ld", r->load.s200, r->load.s401,
		    r->load.s429, r->load.s503, r->load.s500, r->load.sother,
		    r->load.connerr, r->load.timeout);
	else if (g == G_WA)
		snprintf(load, sizeof(load), "webhooks acked %ld", r->load.acked);
	else
		snprintf(load, sizeof(load), "calls ok %lld, failed %lld", r->calls.ok,
		    r->calls.failed);
	if (g == G_HTTP)
		snprintf(loss, sizeof(loss), "-");
	else if (g == G_WA)
		snprintf(loss, sizeof(loss), "lost %ld, dup %ld, unassigned %ld",
		    r->load.acked - r->stored, r->dup, r->unassigned);
	else
		snprintf(loss, sizeof(loss), "CDRs %ld; finished calls %ld, without CDR %ld; "
		    "dup %ld", r->cdrs, r->finished, r->finished_lost, r->cdr_dup);
	if (r->procfault)
		snprintf(rec, sizeof(rec), r->respawns[g] ? "respawn avg %ld / max %ld ms (n=%ld)"
		    : "-", r->respawns[g] ? r->respawn_sum_ms[g] / r->respawns[g] : 0,
		    r->respawn_max_ms[g], r->respawns[g]);
	else
		snprintf(rec, sizeof(rec), r->up_after[g] ? "%ld ms" : "not up", r->rec_ms[g]);
	fprintf(f, "| %s | %s | %s / %lld | %s / %s | %d / %d | %s | %s | %s |\n",
	    g == 0 ? r->name : "", sys_group_names[g], yn[r->pids_same[g]], r->restarts[g],
	    r->procfault ? "-" : yn[r->down_seen[g]], r->procfault ? "-" : yn[r->up_after[g]],
	    r->log_down[g], r->log_rec[g], rec, load, loss);
}

static void
table(FILE *f)
{
	fprintf(f, "| fault | worker | same PIDs / restarts | DB down seen / up after "
	    "| [DB_DOWN] / [DB_RECOVERED] | recovery (fault end -> DB up) or respawn "
	    "| load | losses after recovery |\n");
	fprintf(f, "|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < nrec; i++)
		for (int g = 0; g < SYS_NGROUP; g++)
			row(f, &recs[i], g);
	fprintf(f, "\nFaults: ");
	for (int i = 0; i < nrec; i++) {
		fprintf(f, "%s%s (%s", i ? "; " : "", recs[i].name, recs[i].note);
		if (recs[i].dur_ms)
			fprintf(f, ", %.1f s", recs[i].dur_ms / 1000.0);
		fprintf(f, ")");
	}
	fprintf(f, ".\n");
}

static void
write_table(void)
{
	const char	*path = getenv("SYSTEM_TABLE");
	FILE		*f;
	time_t		 now = time(NULL);
	char		 date[64];

	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	fprintf(stderr, "\n");
	table(stderr);
	if (path == NULL || (f = fopen(path, "we")) == NULL)
		return;
	fprintf(f, "# The outage matrix\n\nGenerated by `make soak` (tests/system/test_system "
	    "with SYSTEM_SOAK=%s) on %s: %d s per fault, %d s of flapping, %d kill -9 per "
	    "worker instance; load %d HTTP requests/s (1 login, 3 conversation reads, 6 "
	    "signed webhooks in 10) and %d SIP calls/s (sipp uac) throughout. "
	    "Figures are per phase; HTTP counts cover the whole phase (before, during "
	    "and after the fault).\n\n", getenv("SYSTEM_SOAK") ? getenv("SYSTEM_SOAK") : "",
	    date, sh.fault_ms / 1000, sh.flap_ms / 1000, sh.kills, sh.http_rate, sh.cps);
	table(f);
	fprintf(f, "\nResult: %s\n", nfails == 0 ? "all assertions held" : "FAILURES:");
	for (int i = 0; i < nfails; i++)
		fprintf(f, "- %s\n", fails[i]);
	fclose(f);
}

/* ---- the test ---- */

START_TEST(test_outage_matrix)
{
	struct sys	 s;
	const char	*only = getenv("SYSTEM_ONLY");	/* debugging: one fault */

	shape_init();
	srandom((unsigned)time(NULL));
	sys_start(&s, "max_connections = 40\nsuperuser_reserved_connections = 3\n"
	    "synchronous_commit = on\n", NULL);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		if (only == NULL || strstr(only, faults[i].name) != NULL)
			run_db_fault(&s, &faults[i]);
	if (only == NULL || strstr(only, "kill9-workers"))
		run_kill9(&s);
	if (only == NULL || strstr(only, "hang"))
		run_hang(&s);
	if (only == NULL || strstr(only, "restart"))
		run_restart(&s, "http");
	if (only == NULL || strstr(only, "restart"))
		run_restart(&s, "all");
	if (only == NULL || strstr(only, "upgrade"))
		run_hfd_inplace(&s, "upgrade-holdfastd", 0, sh.kills > 3 ? 10 : 3);
	if (only == NULL || strstr(only, "heal"))
		run_hfd_inplace(&s, "segv-holdfastd", SIGSEGV, 1);
	if (only == NULL || strstr(only, "heal"))
		run_hfd_inplace(&s, "abort-holdfastd", SIGABRT, 1);
	if (only == NULL || strstr(only, "kill9-holdfastd"))
		run_kill_hfd(&s);
	write_table();
	sys_finish(&s);
	for (int i = 0; i < nfails; i++)
		fprintf(stderr, "FAIL %s\n", fails[i]);
	ck_assert_msg(nfails == 0, "%d failed assertions, first: %s", nfails,
	    nfails ? fails[0] : "");
}
END_TEST

int
main(void)
{
	Suite	*su = suite_create("system");
	/* soak runs take ~15 minutes; the short form a few */
	TCase	*tc = tu_tcase(su, "outage_matrix", getenv("SYSTEM_SOAK") ? 3600 : 600);

	tcase_add_test(tc, test_outage_matrix);
	return tu_run(su);
}
