/*
 * dbt: what the DB layer's integration tests share: a config with short
 * timeouts (so suites run in seconds), the layer's log captured in a file
 * to assert on its lines, and synchronous wrappers that run the event
 * loop until a query's callback arrives (always with a deadline).
 */
#ifndef HOLDFAST_DBT_H
#define HOLDFAST_DBT_H

#include <event2/event.h>

#include "cfg.h"
#include "db.h"

struct dbt_res {
	int		 done;
	int		 ok;
	enum db_class	 cls;
	char		 reason[64];
	char		 sqlstate[6];
	char		 message[256];
	char		 value[256];	/* first row, first column */
	int		 ntuples;
	int		 retry_after;
	uint64_t	 us;		/* from the call to the callback */
	uint64_t	 t0;
};

/* Log lines go to a temp file from now on. */
void dbt_log_capture(void);
int dbt_log_count(const char *needle);
char *dbt_log_text(void);
/* Short timeouts: connect 1s, statement 2s, query 3s, backoff 50..400ms,
 * probe_min_interval 100ms, pool_size 2. */
void dbt_cfg(struct cfg_database *, const char *conninfo);
/* Runs the loop until *flag != 0 or timeout_ms; returns *flag. */
int dbt_run_until(struct event_base *, volatile int *flag, int timeout_ms);
/* Runs the loop for ms. */
void dbt_run_for(struct event_base *, int ms);
/* Runs until db_is_up() == want (1/0). */
int dbt_wait_up(struct event_base *, struct db *, int want, int timeout_ms);
/* One query, run to completion (deadline 10 s). */
void dbt_query(struct event_base *, struct db *, const char *sql,
    int nparams, const char *const *params, struct dbt_res *);
db_result_cb dbt_cb(void);
int dbt_open_fds(void);

#endif
