/*
 * sup_metrics: Prometheus text from holdfastd (metrics_listen, served by
 * sup_web.c at /metrics). One scrape covers every instance: its state,
 * uptime, restarts, exits by cause, failed starts, hung kills, the
 * database as its channel reports it (up, seconds down by reason), CPU
 * seconds and resident memory of its process (/proc), and the numbers of
 * the last "stats" message it sent. The values are those of `holdfastctl
 * status --json` at the same moment. Names follow Prometheus' conventions
 * (holdfast_ prefix, _total counters, base units, HELP and TYPE lines);
 * counters count since holdfastd started and survive an upgrade.
 *
 * Cost: nothing at all between scrapes; a scrape reads two small /proc
 * files per running instance.
 */
#ifndef HOLDFAST_SUP_METRICS_H
#define HOLDFAST_SUP_METRICS_H

#include <yajl/yajl_tree.h>

struct buf;
struct jw;
struct sup_proc;

/* The whole exposition into b (appended). */
void sup_metrics_text(struct buf *b);
/* Counting, called where it happens. */
void sup_metrics_exit(struct sup_proc *, int status);
void sup_metrics_db(struct sup_proc *, int up, const char *reason);
void sup_metrics_free(struct sup_proc *);
/* A surge replacement x takes the slot of p: p's counters become x's. */
void sup_metrics_moved(struct sup_proc *p, struct sup_proc *x);
/* Upgrade: the counters of one instance into/out of its saved object. */
void sup_metrics_save(struct jw *, const struct sup_proc *);
void sup_metrics_restore(struct sup_proc *, yajl_val o);

#endif
