/*
 * http_metrics: per-process counters in Prometheus text format. Requests
 * are counted by route label (never by raw path, so the series stay
 * bounded) and status; latency goes into a fixed-bucket histogram per
 * route; the DB layer's breaker and pool figures come from db_get_stats().
 * Each instance reports its own numbers; a scraper sums over instances.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>

#include "db.h"
#include "http.h"
#include "json.h"
#include "util.h"
#include "worker.h"

static const int http_m_statuses[] = {
	200, 400, 401, 403, 404, 405, 408, 413, 429, 431, 500, 503,
};
#define HTTP_M_NSTATUS	(nitems(http_m_statuses) + 1)	/* + "other" */

/* Upper bounds in microseconds; the +Inf bucket is the count. */
static const uint64_t http_m_buckets[] = {
	250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	500000, 1000000, 2500000, 5000000,
};
#define HTTP_M_NBUCKET	nitems(http_m_buckets)

struct http_m_route {
	uint64_t	by_status[HTTP_M_NSTATUS];
	int		other_status;			/* last "other" seen */
	uint64_t	bucket[HTTP_M_NBUCKET];
	uint64_t	count;
	uint64_t	sum_us;
};

struct http_metrics {
	struct http_m_route	r[HTTP_R_NROUTES + 1];
	uint64_t		sent_total;	/* events: in the last stats message */
};

struct http_metrics *
http_metrics_new(void)
{
	return xcalloc(1, sizeof(struct http_metrics));
}

void
http_metrics_free(struct http_metrics *hm)
{
	free(hm);
}

void
http_metrics_observe(struct http_metrics *hm, int route, int status, uint64_t dur_us)
{
	struct http_m_route	*m;
	size_t			 i;

	if (route < 0 || route > HTTP_R_NROUTES)
		route = HTTP_R_UNMATCHED;
	m = &hm->r[route];
	for (i = 0; i < nitems(http_m_statuses); i++)
		if (http_m_statuses[i] == status)
			break;
	if (i == nitems(http_m_statuses))
		m->other_status = status;
	m->by_status[i]++;
	for (i = 0; i < HTTP_M_NBUCKET; i++)
		if (dur_us <= http_m_buckets[i])
			m->bucket[i]++;
	m->count++;
	m->sum_us += dur_us;
}

/* events: one figure per status, summed over the routes. */
struct jw *
http_metrics_stats(struct http_metrics *hm)
{
	uint64_t	 by[HTTP_M_NSTATUS] = { 0 }, total = 0;
	struct jw	*w;
	char		 key[16];

	for (int r = 0; r <= HTTP_R_NROUTES; r++)
		for (size_t i = 0; i < HTTP_M_NSTATUS; i++) {
			by[i] += hm->r[r].by_status[i];
			total += hm->r[r].by_status[i];
		}
	if (total == hm->sent_total && hm->sent_total != 0)
		return NULL;
	hm->sent_total = total;
	w = jw_new();
	jw_obj_open(w);
	jw_kstr(w, "type", "stats");
	jw_kint(w, "requests", (long long)total);
	jw_key(w, "requests_by_status");
	jw_obj_open(w);
	for (size_t i = 0; i < HTTP_M_NSTATUS; i++) {
		if (by[i] == 0)
			continue;
		if (i < nitems(http_m_statuses))
			snprintf(key, sizeof(key), "%d", http_m_statuses[i]);
		else
			snprintf(key, sizeof(key), "other");
		jw_kint(w, key, (long long)by[i]);
	}
	jw_obj_close(w);
	jw_kint(w, "requests_503", (long long)by[nitems(http_m_statuses) - 1]);
	jw_obj_close(w);
	return w;
}

static void
http_metrics_requests(struct evbuffer *b, const struct http_metrics *hm)
{
	evbuffer_add_printf(b,
	    "# HELP holdfast_http_requests_total HTTP requests by route and status.\n"
	    "# TYPE holdfast_http_requests_total counter\n");
	for (int r = 0; r <= HTTP_R_NROUTES; r++)
		for (size_t i = 0; i < HTTP_M_NSTATUS; i++) {
			int st = i < nitems(http_m_statuses) ? http_m_statuses[i] :
			    hm->r[r].other_status;

			if (hm->r[r].by_status[i] == 0)
				continue;
			evbuffer_add_printf(b,
			    "holdfast_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
			    http_route_name(r), st,
			    (unsigned long long)hm->r[r].by_status[i]);
		}
}

static void
http_metrics_latency(struct evbuffer *b, const struct http_metrics *hm)
{
	evbuffer_add_printf(b,
	    "# HELP holdfast_http_request_duration_seconds Time from request to reply.\n"
	    "# TYPE holdfast_http_request_duration_seconds histogram\n");
	for (int r = 0; r <= HTTP_R_NROUTES; r++) {
		const char *name = http_route_name(r);

		if (hm->r[r].count == 0)
			continue;
		for (size_t i = 0; i < HTTP_M_NBUCKET; i++)
			evbuffer_add_printf(b,
			    "holdfast_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
			    name, http_m_buckets[i] / 1e6,
			    (unsigned long long)hm->r[r].bucket[i]);
		evbuffer_add_printf(b,
		    "holdfast_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
		    "holdfast_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
		    "holdfast_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
		    name, (unsigned long long)hm->r[r].count, name,
		    hm->r[r].sum_us / 1e6, name, (unsigned long long)hm->r[r].count);
	}
}

static void
http_metrics_gauge(struct evbuffer *b, const char *name, const char *type,
    const char *help, unsigned long long v)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n",
	    name, help, name, type, name, v);
}

static void
http_metrics_db(struct evbuffer *b, struct db *db)
{
	struct db_stats	s;

	db_demand(db);	/* reports on the DB: counts as demand (a probe) */
	db_get_stats(db, &s);
	http_metrics_gauge(b, "holdfast_db_up", "gauge",
	    "1 when this process's breaker is closed.", (unsigned long long)db_is_up(db));
	http_metrics_gauge(b, "holdfast_db_breaker_trips_total", "counter",
	    "Times the DB was marked down.", s.breaker_trips);
	http_metrics_gauge(b, "holdfast_db_pool_size", "gauge", "Configured pool size.",
	    (unsigned long long)s.pool_size);
	http_metrics_gauge(b, "holdfast_db_pool_open", "gauge", "Open connections.",
	    (unsigned long long)s.open);
	http_metrics_gauge(b, "holdfast_db_pool_idle", "gauge", "Idle connections.",
	    (unsigned long long)s.idle);
	http_metrics_gauge(b, "holdfast_db_pool_busy", "gauge", "Busy connections.",
	    (unsigned long long)s.busy);
	http_metrics_gauge(b, "holdfast_db_pool_waiting", "gauge",
	    "Requests queued for a connection.", (unsigned long long)s.waiting);
	http_metrics_gauge(b, "holdfast_db_queries_total", "counter", "Queries run.",
	    s.queries);
	http_metrics_gauge(b, "holdfast_db_errors_total", "counter", "Queries failed.",
	    s.errors);
	http_metrics_gauge(b, "holdfast_db_failfast_total", "counter",
	    "Requests refused without trying while the DB was down.", s.failfast);
	http_metrics_gauge(b, "holdfast_db_connects_total", "counter",
	    "Connections opened.", s.connects);
	http_metrics_gauge(b, "holdfast_db_connect_failures_total", "counter",
	    "Connection attempts that failed.", s.connect_failures);
	http_metrics_gauge(b, "holdfast_db_recycled_total", "counter",
	    "Connections replaced after pool_recycle.", s.recycled);
	http_metrics_gauge(b, "holdfast_db_pre_pings_total", "counter",
	    "Pre-ping validations.", s.pre_pings);
	http_metrics_gauge(b, "holdfast_db_deadline_hits_total", "counter",
	    "Request deadlines reached with no answer from the DB.", s.deadline_hits);
	http_metrics_gauge(b, "holdfast_db_pipelined_total", "counter",
	    "Requests sent behind others on a busy connection (pipeline_depth).",
	    s.pipelined);
	http_metrics_gauge(b, "holdfast_db_lookup_batches_total", "counter",
	    "Statements that answered several lookups at once.", s.lookup_batches);
	http_metrics_gauge(b, "holdfast_db_lookups_batched_total", "counter",
	    "Lookups answered by a batch statement.", s.lookups_batched);
}

void
http_metrics(struct http_call *call)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 len;

	/* Which instance answered: several share one port. */
	evbuffer_add_printf(b, "# HELP holdfast_http_info This instance.\n"
	    "# TYPE holdfast_http_info gauge\n"
	    "holdfast_http_info{instance=\"%s\",pid=\"%ld\"} 1\n",
	    call->srv->w->instance, (long)getpid());
	http_metrics_requests(b, call->srv->metrics);
	http_metrics_latency(b, call->srv->metrics);
	http_metrics_db(b, call->srv->db);
	http_metrics_gauge(b, "holdfast_http_connections", "gauge",
	    "Open client connections.",
	    (unsigned long long)hsrv_nconns(call->srv->hs));
	http_metrics_gauge(b, "holdfast_http_body_memory_bytes", "gauge",
	    "Request body bytes buffered (max_body_memory bounds it).",
	    (unsigned long long)hsrv_body_memory(call->srv->hs));
	len = evbuffer_get_length(b);
	http_reply(call, 200, "text/plain; version=0.0.4",
	    (const char *)evbuffer_pullup(b, -1), len);
	evbuffer_free(b);
}
