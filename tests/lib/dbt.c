/*
 * dbt: shared helpers of the DB layer's integration tests (see dbt.h).
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbt.h"
#include "log.h"
#include "util.h"

static char dbt_logpath[256];

void
dbt_log_capture(void)
{
	int fd;

	snprintf(dbt_logpath, sizeof(dbt_logpath), "/tmp/holdfast-dbt-%d.log",
	    (int)getpid());
	fd = open(dbt_logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	log_init("test", LOG_LVL_DEBUG);
	log_set_fd(fd);
	if (getenv("DBT_KEEP_LOG") == NULL)
		unlink(dbt_logpath);	/* read through /proc/self/fd below */
	snprintf(dbt_logpath, sizeof(dbt_logpath), "/proc/%d/fd/%d",
	    (int)getpid(), fd);
}

char *
dbt_log_text(void)
{
	FILE	*f = fopen(dbt_logpath, "re");
	char	*buf;
	size_t	 n;

	if (f == NULL)
		return xstrdup("");
	buf = xmalloc(1 << 20);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

int
dbt_log_count(const char *needle)
{
	char	*t = dbt_log_text(), *p = t;
	int	 n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	free(t);
	return n;
}

void
dbt_cfg(struct cfg_database *c, const char *conninfo)
{
	db_config_defaults(c);
	c->conninfo = (char *)conninfo;
	c->pool_size = 2;
	c->connect_timeout_ms = 1000;
	c->statement_timeout_ms = 2000;
	c->query_timeout_ms = 3000;
	c->backoff_initial_ms = 50;
	c->backoff_max_ms = 400;
	c->probe_min_interval_ms = 100;
}

static void
dbt_tick(evutil_socket_t fd, short what, void *arg)
{
}

int
dbt_run_until(struct event_base *base, volatile int *flag, int timeout_ms)
{
	uint64_t	 end = hf_now_mono_ms() + timeout_ms;
	struct event	*t = event_new(base, -1, EV_PERSIST, dbt_tick, NULL);
	struct timeval	 tv = { 0, 5000 };

	event_add(t, &tv);
	while (!*flag && hf_now_mono_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return *flag;
}

void
dbt_run_for(struct event_base *base, int ms)
{
	int never = 0;

	dbt_run_until(base, &never, ms);
}

int
dbt_wait_up(struct event_base *base, struct db *db, int want, int timeout_ms)
{
	uint64_t	end = hf_now_mono_ms() + timeout_ms;
	struct db_state	st;

	for (;;) {
		db_get_state(db, &st);
		if (st.up == want || hf_now_mono_ms() >= end)
			return st.up == want;
		dbt_run_for(base, 5);
	}
}

static void
dbt_on_result(const struct db_error *e, PGresult *const *res, int nres,
    void *arg)
{
	struct dbt_res *r = arg;

	r->done = 1;
	r->us = hf_now_mono_us() - r->t0;
	if (e != NULL) {
		r->ok = 0;
		r->cls = e->cls;
		snprintf(r->reason, sizeof(r->reason), "%s", e->reason);
		snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", e->sqlstate);
		snprintf(r->message, sizeof(r->message), "%s", e->message);
		r->retry_after = e->retry_after_s;
		return;
	}
	r->ok = 1;
	r->cls = DB_CLASS_OK;
	if (nres > 0) {
		r->ntuples = PQntuples(res[nres - 1]);
		if (r->ntuples > 0 && PQnfields(res[nres - 1]) > 0)
			snprintf(r->value, sizeof(r->value), "%s",
			    PQgetvalue(res[nres - 1], 0, 0));
	}
}

db_result_cb
dbt_cb(void)
{
	return dbt_on_result;
}

void
dbt_query(struct event_base *base, struct db *db, const char *sql,
    int nparams, const char *const *params, struct dbt_res *r)
{
	memset(r, 0, sizeof(*r));
	r->t0 = hf_now_mono_us();
	db_query(db, "test", sql, nparams, params, dbt_on_result, r);
	ck_assert_msg(!r->done, "callback called from inside db_query");
	ck_assert_msg(dbt_run_until(base, &r->done, 10000), "no callback for %s", sql);
}

int
dbt_open_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*de;
	int		 n = 0;

	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}
