/*
 * sup_metrics: the Prometheus exposition (see sup_metrics.h).
 *
 * Invariants: every family is written as HELP, TYPE, then all its
 * samples, once per scrape; label values are escaped (\\, \", \n); a
 * number the exposition cannot hold (NaN, a non-numeric stat) is left
 * out rather than written badly.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "buf.h"
#include "json.h"
#include "sup.h"
#include "sup_event.h"
#include "sup_metrics.h"
#include "util.h"

#define DBDOWN_REASONS	16
#define STAT_DEPTH	4

struct sup_dbdown {
	int	 cur;			/* index of the reason now down, -1: up */
	int64_t	 since_us;
	int	 n;
	struct {
		char	 reason[64];
		double	 secs;
	} r[DBDOWN_REASONS];
};

static const char *const exit_causes[SUP_EXIT_NCAUSES] = {
	"clean", "code", "signal", "oom",
};

/* ---- counting ------------------------------------------------------------- */

static struct sup_dbdown *
dbdown(struct sup_proc *p)
{
	if (p->p_dbdown == NULL) {
		p->p_dbdown = xcalloc(1, sizeof(*p->p_dbdown));
		p->p_dbdown->cur = -1;
	}
	return p->p_dbdown;
}

/* The down period under way ends now. */
static void
dbdown_close(struct sup_dbdown *d)
{
	if (d->cur >= 0)
		d->r[d->cur].secs += (hf_now_real_us() - d->since_us) / 1e6;
	d->cur = -1;
}

static int
dbdown_reason(struct sup_dbdown *d, const char *reason)
{
	if (reason == NULL || *reason == '\0')
		reason = "unknown";
	for (int i = 0; i < d->n; i++)
		if (strcmp(d->r[i].reason, reason) == 0)
			return i;
	if (d->n == DBDOWN_REASONS)	/* the last slot takes every other one */
		return DBDOWN_REASONS - 1;
	hf_strlcpy(d->r[d->n].reason, d->n == DBDOWN_REASONS - 1 ? "other" : reason,
	    sizeof(d->r[0].reason));
	return d->n++;
}

void
sup_metrics_db(struct sup_proc *p, int up, const char *reason)
{
	struct sup_dbdown *d = dbdown(p);

	dbdown_close(d);
	if (!up) {
		d->cur = dbdown_reason(d, reason);
		d->since_us = hf_now_real_us();
	}
}

void
sup_metrics_exit(struct sup_proc *p, int status)
{
	int cause;

	if (p->p_oom_kill)
		cause = SUP_EXIT_OOM;
	else if (WIFSIGNALED(status))
		cause = SUP_EXIT_SIGNAL;
	else
		cause = WEXITSTATUS(status) == 0 ? SUP_EXIT_CLEAN : SUP_EXIT_CODE;
	p->p_exits[cause]++;
	if (p->p_dbdown != NULL)	/* its reports end with it */
		dbdown_close(p->p_dbdown);
}

void
sup_metrics_moved(struct sup_proc *p, struct sup_proc *x)
{
	for (int c = 0; c < SUP_EXIT_NCAUSES; c++)
		x->p_exits[c] += p->p_exits[c];
	x->p_start_failures += p->p_start_failures;
	x->p_hung_kills += p->p_hung_kills;
	if (p->p_dbdown != NULL) {
		struct sup_dbdown *d = dbdown(x);

		dbdown_close(p->p_dbdown);
		for (int i = 0; i < p->p_dbdown->n; i++) {
			int k = dbdown_reason(d, p->p_dbdown->r[i].reason);

			d->r[k].secs += p->p_dbdown->r[i].secs;
		}
	}
	memset(p->p_exits, 0, sizeof(p->p_exits));
	p->p_start_failures = p->p_hung_kills = 0;
	sup_metrics_free(p);
}

void
sup_metrics_free(struct sup_proc *p)
{
	free(p->p_dbdown);
	p->p_dbdown = NULL;
}

/* ---- the exposition -------------------------------------------------------- */

static void
esc(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '\\': buf_adds(b, "\\\\"); break;
		case '"': buf_adds(b, "\\\""); break;
		case '\n': buf_adds(b, "\\n"); break;
		default: buf_add(b, s, 1); break;
		}
}

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{group="..",instance=".."[,extra="val"]} */
static void
sample_head(struct buf *b, const char *name, const struct sup_proc *p,
    const char *extra, const char *val)
{
	buf_printf(b, "%s{group=\"", name);
	esc(b, p->p_group->g_name);
	buf_adds(b, "\",instance=\"");
	esc(b, p->p_name);
	if (extra != NULL) {
		buf_printf(b, "\",%s=\"", extra);
		esc(b, val);
	}
	buf_adds(b, "\"} ");
}

static void
sample_int(struct buf *b, const char *name, const struct sup_proc *p,
    const char *extra, const char *val, long long v)
{
	sample_head(b, name, p, extra, val);
	buf_printf(b, "%lld\n", v);
}

static void
sample_dbl(struct buf *b, const char *name, const struct sup_proc *p,
    const char *extra, const char *val, double v)
{
	sample_head(b, name, p, extra, val);
	buf_printf(b, "%.6f\n", v);
}

/* /proc/PID/stat's utime+stime (seconds) and statm's resident (bytes). */
static int
proc_usage(pid_t pid, double *cpu, long long *rss)
{
	char			 path[64], text[1024], *s;
	unsigned long long	 ut, st, pages;
	ssize_t			 n;
	int			 fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	/* after "pid (comm) ": state is field 3, utime 14, stime 15 */
	if ((s = strrchr(text, ')')) == NULL ||
	    sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		return -1;
	*cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	if (sscanf(text, "%*u %llu", &pages) != 1)
		return -1;
	*rss = (long long)pages * sysconf(_SC_PAGESIZE);
	return 0;
}

/* Calls fn for each instance slot of every group. */
typedef void metric_fn(struct buf *, const struct sup_proc *, void *);

static void
each(struct buf *b, metric_fn *fn, void *arg)
{
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		for (int i = 0; i < g->g_nprocs; i++)
			fn(b, g->g_procs[i], arg);
}

static void
m_state(struct buf *b, const struct sup_proc *p, void *arg)
{
	(void)arg;
	for (int s = 0; s < SUP_NSTATES; s++)
		sample_int(b, "holdfast_instance_state", p, "state", sup_state_name(s),
		    p->p_state == (enum sup_state)s);
}

static void
m_uptime(struct buf *b, const struct sup_proc *p, void *arg)
{
	uint64_t now = *(const uint64_t *)arg;

	sample_dbl(b, "holdfast_instance_uptime_seconds", p, NULL, NULL,
	    p->p_pid != 0 ? (double)(now - p->p_spawn_ms) / 1000.0 : 0.0);
}

static void
m_restarts(struct buf *b, const struct sup_proc *p, void *arg)
{
	(void)arg;
	sample_int(b, "holdfast_instance_restarts_total", p, NULL, NULL, p->p_restarts);
}

static void
m_exits(struct buf *b, const struct sup_proc *p, void *arg)
{
	(void)arg;
	for (int c = 0; c < SUP_EXIT_NCAUSES; c++)
		sample_int(b, "holdfast_instance_exits_total", p, "cause", exit_causes[c],
		    (long long)p->p_exits[c]);
}

static void
m_failures(struct buf *b, const struct sup_proc *p, void *arg)
{
	(void)arg;
	sample_int(b, "holdfast_instance_start_failures_total", p, NULL, NULL,
	    (long long)p->p_start_failures);
}

static void
m_hung(struct buf *b, const struct sup_proc *p, void *arg)
{
	(void)arg;
	sample_int(b, "holdfast_instance_hung_kills_total", p, NULL, NULL,
	    (long long)p->p_hung_kills);
}

static void
m_db_up(struct buf *b, const struct sup_proc *p, void *arg)
{
	(void)arg;
	if (p->p_db.d_state >= 0)
		sample_int(b, "holdfast_instance_db_up", p, NULL, NULL, p->p_db.d_state);
}

static void
m_db_down(struct buf *b, const struct sup_proc *p, void *arg)
{
	const struct sup_dbdown	*d = p->p_dbdown;
	int64_t			 now = *(const int64_t *)arg;

	for (int i = 0; d != NULL && i < d->n; i++)
		sample_dbl(b, "holdfast_instance_db_down_seconds_total", p, "reason",
		    d->r[i].reason, d->r[i].secs + (i == d->cur ?
		    (now - d->since_us) / 1e6 : 0.0));
}

/* The numbers of the last stats message, flattened: {"a":{"b":1}} is
 * stat="a_b". */
static void
stat_walk(struct buf *b, const struct sup_proc *p, yajl_val v, char *path,
    size_t len, int depth)
{
	if (YAJL_IS_NUMBER(v)) {
		if (YAJL_IS_INTEGER(v))
			sample_int(b, "holdfast_worker_stat", p, "stat", path,
			    YAJL_GET_INTEGER(v));
		else if (YAJL_IS_DOUBLE(v) && YAJL_GET_DOUBLE(v) == YAJL_GET_DOUBLE(v))
			sample_dbl(b, "holdfast_worker_stat", p, "stat", path,
			    YAJL_GET_DOUBLE(v));
		return;
	}
	if (!YAJL_IS_OBJECT(v) || depth >= STAT_DEPTH)
		return;
	for (size_t i = 0; i < v->u.object.len; i++) {
		size_t at = strlen(path);

		if (depth == 0 && strcmp(v->u.object.keys[i], "type") == 0)
			continue;
		snprintf(path + at, len - at, "%s%s", at > 0 ? "_" : "",
		    v->u.object.keys[i]);
		stat_walk(b, p, v->u.object.values[i], path, len, depth + 1);
		path[at] = '\0';
	}
}

static void
m_stats(struct buf *b, const struct sup_proc *p, void *arg)
{
	char		 err[64], path[256] = "";
	yajl_val	 v;

	(void)arg;
	if (p->p_stats == NULL ||
	    (v = json_parse(p->p_stats, strlen(p->p_stats), err, sizeof(err))) == NULL)
		return;
	stat_walk(b, p, v, path, sizeof(path), 0);
	yajl_tree_free(v);
}

static void
usage_families(struct buf *b)
{
	struct buf	rss = BUF_INIT;
	double		cpu;
	long long	mem;

	family(b, "holdfast_instance_cpu_seconds_total", "counter",
	    "CPU time (user and system) of the instance's process.");
	family(&rss, "holdfast_instance_resident_memory_bytes", "gauge",
	    "Resident memory of the instance's process.");
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		for (int i = 0; i < g->g_nprocs; i++) {
			const struct sup_proc *p = g->g_procs[i];

			if (p->p_pid == 0 || proc_usage(p->p_pid, &cpu, &mem) == -1)
				continue;
			sample_dbl(b, "holdfast_instance_cpu_seconds_total", p, NULL, NULL, cpu);
			sample_int(&rss, "holdfast_instance_resident_memory_bytes", p, NULL,
			    NULL, mem);
		}
	if (rss.len > 0)
		buf_add(b, rss.p, rss.len);
	buf_free(&rss);
}

static void
supervisor_families(struct buf *b)
{
	double		cpu;
	long long	rss;

	family(b, "holdfast_supervisor_uptime_seconds", "gauge",
	    "Seconds since holdfastd started (an upgrade keeps counting).");
	buf_printf(b, "holdfast_supervisor_uptime_seconds %.3f\n",
	    (double)(hf_now_mono_ms() - sup.s_started_ms) / 1000.0);
	family(b, "holdfast_events_total", "counter",
	    "Events emitted (the sequence number of the last one).");
	buf_printf(b, "holdfast_events_total %llu\n", (unsigned long long)sup_event_seq());
	if (proc_usage(getpid(), &cpu, &rss) == 0) {
		family(b, "holdfast_supervisor_cpu_seconds_total", "counter",
		    "CPU time (user and system) of holdfastd itself.");
		buf_printf(b, "holdfast_supervisor_cpu_seconds_total %.2f\n", cpu);
		family(b, "holdfast_supervisor_resident_memory_bytes", "gauge",
		    "Resident memory of holdfastd itself.");
		buf_printf(b, "holdfast_supervisor_resident_memory_bytes %lld\n", rss);
	}
}

void
sup_metrics_text(struct buf *b)
{
	uint64_t	now_ms = hf_now_mono_ms();
	int64_t		now_us = hf_now_real_us();

	supervisor_families(b);
	family(b, "holdfast_instance_state", "gauge",
	    "1 for the state the instance is in, 0 for the others.");
	each(b, m_state, NULL);
	family(b, "holdfast_instance_uptime_seconds", "gauge",
	    "Seconds since the instance's process was started (0 when none runs).");
	each(b, m_uptime, &now_ms);
	family(b, "holdfast_instance_restarts_total", "counter",
	    "Starts of the instance after its first.");
	each(b, m_restarts, NULL);
	family(b, "holdfast_instance_exits_total", "counter",
	    "Exits of the instance's process by cause: clean (code 0), code, signal, oom.");
	each(b, m_exits, NULL);
	family(b, "holdfast_instance_start_failures_total", "counter",
	    "Exits before the instance was ready (failed starts).");
	each(b, m_failures, NULL);
	family(b, "holdfast_instance_hung_kills_total", "counter",
	    "Kills of the instance for a silent heartbeat.");
	each(b, m_hung, NULL);
	family(b, "holdfast_instance_db_up", "gauge",
	    "1 when the instance reports the database up, 0 down (absent: unknown).");
	each(b, m_db_up, NULL);
	family(b, "holdfast_instance_db_down_seconds_total", "counter",
	    "Seconds the instance reported the database down, by reason.");
	each(b, m_db_down, &now_us);
	usage_families(b);
	/* untyped: a worker's stats mix counters (requests) and gauges
	 * (active calls); holdfastd cannot tell which is which */
	family(b, "holdfast_worker_stat", "untyped",
	    "The numbers of the last stats message of the instance, by name.");
	each(b, m_stats, NULL);
}

/* ---- upgrade ------------------------------------------------------------------ */

void
sup_metrics_save(struct jw *w, const struct sup_proc *p)
{
	const struct sup_dbdown *d = p->p_dbdown;

	jw_key(w, "metrics");
	jw_obj_open(w);
	jw_key(w, "exits");
	jw_arr_open(w);
	for (int c = 0; c < SUP_EXIT_NCAUSES; c++)
		jw_int(w, (long long)p->p_exits[c]);
	jw_arr_close(w);
	jw_kint(w, "start_failures", (long long)p->p_start_failures);
	jw_kint(w, "hung_kills", (long long)p->p_hung_kills);
	if (d != NULL) {
		jw_kint(w, "db_cur", d->cur);
		jw_kint(w, "db_since_us", d->since_us);
		jw_key(w, "db_down");
		jw_obj_open(w);
		for (int i = 0; i < d->n; i++) {
			jw_key(w, d->r[i].reason);
			jw_double(w, d->r[i].secs);
		}
		jw_obj_close(w);
	}
	jw_obj_close(w);
}

void
sup_metrics_restore(struct sup_proc *p, yajl_val o)
{
	yajl_val	 m = json_get_object(o, "metrics"), v, dd;
	long long	 n;

	if (m == NULL)
		return;
	if ((v = json_get_array(m, "exits")) != NULL)
		for (size_t c = 0; c < v->u.array.len && c < SUP_EXIT_NCAUSES; c++)
			if (YAJL_IS_INTEGER(v->u.array.values[c]))
				p->p_exits[c] = (uint64_t)YAJL_GET_INTEGER(v->u.array.values[c]);
	if (json_get_int(m, "start_failures", &n) == 0)
		p->p_start_failures = (uint64_t)n;
	if (json_get_int(m, "hung_kills", &n) == 0)
		p->p_hung_kills = (uint64_t)n;
	if ((dd = json_get_object(m, "db_down")) == NULL)
		return;
	{
		struct sup_dbdown *d = dbdown(p);

		for (size_t i = 0; i < dd->u.object.len && d->n < DBDOWN_REASONS; i++) {
			hf_strlcpy(d->r[d->n].reason, dd->u.object.keys[i],
			    sizeof(d->r[0].reason));
			d->r[d->n++].secs = YAJL_IS_NUMBER(dd->u.object.values[i]) ?
			    YAJL_GET_DOUBLE(dd->u.object.values[i]) : 0.0;
		}
		if (json_get_int(m, "db_cur", &n) == 0 && n >= 0 && n < d->n) {
			d->cur = (int)n;
			(void)json_get_int(m, "db_since_us", &n);
			d->since_us = n;
		}
	}
}
