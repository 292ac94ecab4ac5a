/*
 * db_bench: the numbers behind bench/db.sh, each against a private
 * PostgreSQL 15 cluster (tests/lib/pgt) and, for outages, the fault proxy
 * in front of it (tests/tools/faultproxy), so "down" and "back" are
 * instantaneous and the measurement is the layer's, not pg_ctl's.
 *
 *   db_bench failfast N        p50/p99 of db_query -> callback, DB down
 *   db_bench recovery MS [N]   DB back -> first good query: N outages
 *                              of MS ms under steady demand (median, max),
 *                              then one idle (schedule only)
 *   db_bench tps CLIENTS SECS  PK SELECTs through the pool vs
 *                              pgbench -S -c CLIENTS -j 2, back to back
 *   db_bench within CLIENTS SECS  the fast-path cost of a request
 *                              deadline (db_query_within 2 s: a local
 *                              statement_timeout pipelined in front) vs
 *                              db_query, in alternating 500 ms slices
 *   db_bench pipe POOL CALLERS SECS SCALE ROUNDS DEPTH...
 *                              PK SELECTs from CALLERS concurrent callers
 *                              over a pool of POOL, once per DEPTH
 *                              (pipeline_depth; 1: off), and pgbench -S
 *                              -c POOL, interleaved in each of ROUNDS
 *                              rounds; medians of the rounds
 * Output: "key value" lines, parsed by bench/db.sh.
 */
#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cfg.h"
#include "db.h"
#include "fp.h"
#include "log.h"
#include "pgt.h"
#include "util.h"

struct bench {
	struct pgt		*pg;
	struct fp		*fp;
	struct event_base	*base;
	struct db		*db;
	struct cfg_database	 cfg;
	char			 conninfo[256];
};

static void
bench_up(struct bench *b, int proxy, int pool)
{
	memset(b, 0, sizeof(*b));
	log_init("db_bench", LOG_LVL_WARN);
	b->pg = pgt_start("max_connections = 100\n");
	pgt_createdb(b->pg, "bench", 0);
	if (proxy) {
		b->fp = fp_start(pgt_port(b->pg));
		snprintf(b->conninfo, sizeof(b->conninfo), "host=127.0.0.1 port=%d "
		    "dbname=bench user=postgres", fp_port(b->fp));
	} else
		snprintf(b->conninfo, sizeof(b->conninfo), "%s",
		    pgt_conninfo(b->pg, "bench"));
	db_config_defaults(&b->cfg);
	b->cfg.conninfo = b->conninfo;
	b->cfg.pool_size = pool;
	b->cfg.auto_migrate = 0;
	b->base = event_base_new();
}

static void
bench_start(struct bench *b)
{
	b->db = db_new(b->base, &b->cfg, "bench", "bench_loop");
	db_start(b->db);
}

static void
bench_run_ms(struct bench *b, int ms)
{
	uint64_t end = hf_now_mono_ms() + ms;

	while (hf_now_mono_ms() < end)
		event_base_loop(b->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static int
bench_state(struct bench *b)
{
	struct db_state st;

	db_get_state(b->db, &st);
	return st.up;
}

static void
bench_wait_state(struct bench *b, int want, int ms)
{
	uint64_t end = hf_now_mono_ms() + ms;

	while (bench_state(b) != want && hf_now_mono_ms() < end)
		bench_run_ms(b, 1);
	if (bench_state(b) != want) {
		fprintf(stderr, "db_bench: state %d never reached\n", want);
		exit(1);
	}
}

static void
bench_down(struct bench *b)
{
	db_free(b->db);
	event_base_free(b->base);
	fp_stop(b->fp);
	pgt_destroy(b->pg);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct timing {
	uint64_t	 t0;
	uint64_t	 us;
	int		 done, ok;
};

static void
on_timed(const struct db_error *e, PGresult *const *res, int nres, void *arg)
{
	struct timing *t = arg;

	t->us = hf_now_mono_us() - t->t0;
	t->done = 1;
	t->ok = e == NULL;
}

static int
bench_failfast(int n)
{
	struct bench	 b;
	uint64_t	*lat = xcalloc(n, sizeof(*lat));
	int		 i;

	bench_up(&b, 1, 4);
	fp_set(b.fp, "refuse");
	b.cfg.backoff_initial_ms = 60000;	/* no probe during the run */
	b.cfg.backoff_max_ms = 60000;
	b.cfg.probe_min_interval_ms = 60000;
	bench_start(&b);
	bench_wait_state(&b, 0, 5000);
	for (i = 0; i < n; i++) {
		struct timing t = { hf_now_mono_us(), 0, 0, 0 };

		db_query(b.db, "bench", "SELECT 1", 0, NULL, on_timed, &t);
		while (!t.done)
			event_base_loop(b.base, EVLOOP_ONCE);
		lat[i] = t.us;
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("failfast_calls %d\nfailfast_p50_us %llu\nfailfast_p99_us %llu\n",
	    n, (unsigned long long)lat[n / 2], (unsigned long long)lat[n * 99 / 100]);
	free(lat);
	bench_down(&b);
	return 0;
}

/* Fires a query every ms until one succeeds; returns ms since t0. */
static uint64_t
bench_demand_until_ok(struct bench *b, uint64_t t0)
{
	struct timing	t = { 0, 0, 1, 0 };

	for (;;) {
		if (t.done) {
			if (t.ok)
				return hf_now_mono_ms() - t0;
			t.done = 0;
			t.t0 = hf_now_mono_us();
			db_query(b->db, "bench", "SELECT 1", 0, NULL, on_timed, &t);
		}
		bench_run_ms(b, 1);
		if (hf_now_mono_ms() - t0 > 60000)
			return (uint64_t)-1;
	}
}

/* One outage under steady demand (a query whenever the last one
 * answered, at most every ms); returns DB back -> first good query, ms. */
static uint64_t
bench_recovery_demand(struct bench *b, int down_ms)
{
	struct timing	t = { 0, 0, 1, 0 };
	uint64_t	t0;

	bench_wait_state(b, 1, 5000);
	fp_set(b->fp, "reset");
	fp_set(b->fp, "refuse");
	bench_wait_state(b, 0, 5000);
	t0 = hf_now_mono_ms();
	while (hf_now_mono_ms() - t0 < (uint64_t)down_ms || !t.done) {
		if (t.done && hf_now_mono_ms() - t0 < (uint64_t)down_ms) {
			t.done = 0;
			t.t0 = hf_now_mono_us();
			db_query(b->db, "bench", "SELECT 1", 0, NULL, on_timed, &t);
		}
		bench_run_ms(b, 1);
	}
	fp_set(b->fp, "pass");
	return bench_demand_until_ok(b, hf_now_mono_ms());
}

static int
bench_recovery(int down_ms, int rounds)
{
	struct bench	 b;
	uint64_t	 t0, ms, *v = xcalloc(rounds, sizeof(*v));
	struct db_state	 st;
	int		 i;

	bench_up(&b, 1, 4);
	bench_start(&b);
	for (i = 0; i < rounds; i++)
		v[i] = bench_recovery_demand(&b, down_ms);
	qsort(v, rounds, sizeof(*v), cmp_u64);
	printf("recovery_rounds %d\nrecovery_demand_ms %llu\n"
	    "recovery_demand_max_ms %llu\n", rounds,
	    (unsigned long long)v[rounds / 2], (unsigned long long)v[rounds - 1]);
	free(v);
	db_free(b.db);

	/* idle: only the schedule probes; compare with the step's ceiling */
	bench_start(&b);
	bench_wait_state(&b, 1, 5000);
	fp_set(b.fp, "reset");
	fp_set(b.fp, "refuse");
	bench_wait_state(&b, 0, 5000);
	bench_run_ms(&b, down_ms);
	db_get_state(b.db, &st);
	fp_set(b.fp, "pass");
	t0 = hf_now_mono_ms();
	bench_wait_state(&b, 1, 60000);
	ms = hf_now_mono_ms() - t0;
	printf("recovery_idle_ms %llu\nrecovery_idle_step_ms %lld\n",
	    (unsigned long long)ms, (long long)hf_backoff_ceiling_ms(
	    b.cfg.backoff_initial_ms, b.cfg.backoff_max_ms, st.attempts - 1));
	bench_down(&b);
	return 0;
}

struct tps {
	struct db	*db;
	uint64_t	 done;
	uint64_t	 errors;
	int		 stop;
	char		 aid[16];
	int		 accounts;
	int64_t		 within;	/* db_query_within's deadline, 0: db_query */
	int		 inflight;
};

static void tps_fire(struct tps *);

static void
on_tps(const struct db_error *e, PGresult *const *res, int nres, void *arg)
{
	struct tps *t = arg;

	t->inflight--;
	if (e != NULL)
		t->errors++;
	t->done++;
	if (!t->stop)
		tps_fire(t);
}

static void
tps_fire(struct tps *t)
{
	const char *p[1] = { t->aid };

	snprintf(t->aid, sizeof(t->aid), "%d", 1 + (int)(hf_rand_unit() * t->accounts));
	t->inflight++;
	if (t->within > 0)
		db_query_within(t->db, t->within, "bench", "SELECT $1::int + 1", 1, p,
		    on_tps, t);
	else if (t->accounts == 0)
		db_query(t->db, "bench", "SELECT $1::int + 1", 1, p, on_tps, t);
	else
		db_query(t->db, "bench", "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
		    1, p, on_tps, t);
}

static double
bench_pgbench(struct bench *b, const char *args)
{
	char	*cmd, *out = NULL;
	FILE	*f;
	char	 line[512];
	double	 tps = -1;

	cmd = xasprintf("%s/pgbench -h 127.0.0.1 -p %d -U postgres %s bench 2>&1",
	    pgt_bindir(), pgt_port(b->pg), args);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "tps = %lf", &tps) == 1)
			break;
	while (fgets(line, sizeof(line), f) != NULL)
		;
	pclose(f);
	free(cmd);
	free(out);
	return tps;
}

static int
bench_tps(int clients, int secs, int scale)
{
	struct bench	 b;
	struct tps	 t;
	char		 args[128];
	double		 pgb;
	uint64_t	 t0;
	int		 i;

	bench_up(&b, 0, clients);
	snprintf(args, sizeof(args), "-i -q -s %d", scale);
	bench_pgbench(&b, args);
	snprintf(args, sizeof(args), "-S -n -c %d -j 2 -T %d", clients, secs);
	pgb = bench_pgbench(&b, args);
	bench_start(&b);
	bench_wait_state(&b, 1, 5000);
	memset(&t, 0, sizeof(t));
	t.db = b.db;
	t.accounts = scale * 100000;
	/* warm the pool: one request per connection in flight */
	struct tps *ts = xcalloc(clients, sizeof(*ts));
	for (i = 0; i < clients; i++) {
		ts[i] = t;
		tps_fire(&ts[i]);
	}
	bench_run_ms(&b, 300);
	for (i = 0; i < clients; i++)
		ts[i].done = ts[i].errors = 0;
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	t0 = hf_now_mono_ms();
	while (hf_now_mono_ms() - t0 < (uint64_t)secs * 1000)
		event_base_loop(b.base, EVLOOP_ONCE);
	getrusage(RUSAGE_SELF, &ru1);
	t.done = t.errors = 0;
	for (i = 0; i < clients; i++) {
		t.done += ts[i].done;
		t.errors += ts[i].errors;
		ts[i].stop = 1;
	}
	printf("holdfast_cpu_us_per_query %.1f\n", ((ru1.ru_utime.tv_sec -
	    ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e6 +
	    (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
	    ru0.ru_stime.tv_usec)) / (double)(t.done ? t.done : 1));
	printf("pgbench_tps %.0f\nholdfast_tps %.0f\nholdfast_errors %llu\n", pgb,
	    (double)t.done * 1000.0 / (double)(hf_now_mono_ms() - t0),
	    (unsigned long long)t.errors);
	bench_run_ms(&b, 200);
	free(ts);
	bench_down(&b);
	return 0;
}

/*
 * Closed loop of CLIENTS requests in flight, alternating 500 ms slices of
 * db_query and db_query_within (so drift in the machine's load hits both
 * alike); prints the throughput of each.
 */
static int
bench_within(int clients, int secs)
{
	struct bench	 b;
	struct tps	*ts;
	uint64_t	 done[2] = { 0, 0 }, ms[2] = { 0, 0 }, t0, n0;
	int		 i, v, slice;

	bench_up(&b, 0, clients);
	bench_start(&b);
	bench_wait_state(&b, 1, 5000);
	ts = xcalloc(clients, sizeof(*ts));
	for (slice = 0; slice < secs * 2 * 2; slice++) {
		v = slice % 2;
		for (i = 0; i < clients; i++) {
			memset(&ts[i], 0, sizeof(ts[i]));
			ts[i].db = b.db;
			ts[i].accounts = 0;
			ts[i].within = v ? 2000 : 0;
			ts[i].stop = 0;
			tps_fire(&ts[i]);
		}
		bench_run_ms(&b, 50);	/* settle: not counted */
		n0 = 0;
		for (i = 0; i < clients; i++)
			n0 += ts[i].done;
		t0 = hf_now_mono_ms();
		while (hf_now_mono_ms() - t0 < 500)
			event_base_loop(b.base, EVLOOP_ONCE);
		for (i = 0; i < clients; i++) {
			done[v] += ts[i].done;
			ts[i].stop = 1;
		}
		done[v] -= n0;
		ms[v] += hf_now_mono_ms() - t0;
		for (;;) {	/* drain the ones in flight */
			int left = 0;

			for (i = 0; i < clients; i++)
				left += ts[i].inflight;
			if (left == 0)
				break;
			event_base_loop(b.base, EVLOOP_ONCE);
		}
	}
	printf("within_plain_qps %.0f\n", 1000.0 * done[0] / ms[0]);
	printf("within_deadline_qps %.0f\n", 1000.0 * done[1] / ms[1]);
	free(ts);
	bench_down(&b);
	return 0;
}

/* One closed-loop run of callers over a fresh layer; returns q/s. */
static double
pipe_run(struct bench *b, int depth, int callers, int secs, int scale,
    uint64_t *pipelined)
{
	struct tps	*ts = xcalloc(callers, sizeof(*ts));
	struct db_stats	 st;
	uint64_t	 t0, n = 0, errs = 0, ms;
	int		 i, left;

	b->cfg.pipeline_depth = depth;
	bench_start(b);
	bench_wait_state(b, 1, 5000);
	for (i = 0; i < callers; i++) {
		ts[i].db = b->db;
		ts[i].accounts = scale * 100000;
		tps_fire(&ts[i]);
	}
	bench_run_ms(b, 300);	/* warm: connections open, statements prepared */
	for (i = 0; i < callers; i++)
		ts[i].done = ts[i].errors = 0;
	db_get_stats(b->db, &st);
	*pipelined = st.pipelined;
	t0 = hf_now_mono_ms();
	while (hf_now_mono_ms() - t0 < (uint64_t)secs * 1000)
		event_base_loop(b->base, EVLOOP_ONCE);
	ms = hf_now_mono_ms() - t0;
	for (i = 0; i < callers; i++) {
		n += ts[i].done;
		errs += ts[i].errors;
		ts[i].stop = 1;
	}
	db_get_stats(b->db, &st);
	*pipelined = st.pipelined - *pipelined;
	do {
		event_base_loop(b->base, EVLOOP_ONCE);
		for (left = 0, i = 0; i < callers; i++)
			left += ts[i].inflight;
	} while (left > 0);
	db_free(b->db);
	b->db = NULL;
	free(ts);
	if (errs > 0) {
		fprintf(stderr, "db_bench: %llu errors at depth %d\n",
		    (unsigned long long)errs, depth);
		exit(1);
	}
	return (double)n * 1000.0 / (double)ms;
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
bench_pipe(int pool, int callers, int secs, int scale, int rounds,
    int ndepth, char **depths)
{
	struct bench	 b;
	char		 args[128];
	double		*v = xcalloc((size_t)(ndepth + 1) * rounds, sizeof(*v));
	uint64_t	 piped;
	int		 r, d;

	bench_up(&b, 0, pool);
	snprintf(args, sizeof(args), "-i -q -s %d", scale);
	bench_pgbench(&b, args);
	snprintf(args, sizeof(args), "-S -n -M prepared -c %d -j %d -T %d", pool,
	    pool < 2 ? 1 : 2, secs);
	for (r = 0; r < rounds; r++) {
		v[r] = bench_pgbench(&b, args);
		printf("round %d pgbench_tps %.0f\n", r, v[r]);
		for (d = 0; d < ndepth; d++) {
			double q = pipe_run(&b, atoi(depths[d]), callers, secs,
			    scale, &piped);

			v[(d + 1) * rounds + r] = q;
			printf("round %d depth_%s_tps %.0f pipelined %llu\n", r,
			    depths[d], q, (unsigned long long)piped);
		}
		fflush(stdout);
	}
	for (d = 0; d <= ndepth; d++)
		qsort(v + d * rounds, rounds, sizeof(*v), cmp_dbl);
	printf("pgbench_tps %.0f\n", v[rounds / 2]);
	for (d = 0; d < ndepth; d++)
		printf("depth_%s_tps %.0f\n", depths[d], v[(d + 1) * rounds + rounds / 2]);
	free(v);
	bench_down(&b);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 8 && strcmp(argv[1], "pipe") == 0)
		return bench_pipe(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]),
		    atoi(argv[5]), atoi(argv[6]), argc - 7, argv + 7);
	if (argc >= 3 && strcmp(argv[1], "failfast") == 0)
		return bench_failfast(atoi(argv[2]));
	if (argc >= 3 && strcmp(argv[1], "recovery") == 0)
		return bench_recovery(atoi(argv[2]), argc > 3 ? atoi(argv[3]) : 5);
	if (argc >= 4 && strcmp(argv[1], "tps") == 0)
		return bench_tps(atoi(argv[2]), atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 10);
	if (argc >= 4 && strcmp(argv[1], "within") == 0)
		return bench_within(atoi(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: db_bench failfast N | recovery MS [ROUNDS] | "
	    "tps CLIENTS SECS [SCALE] | within CLIENTS SECS | "
	    "pipe POOL CALLERS SECS SCALE ROUNDS DEPTH...\n");
	return 2;
}
