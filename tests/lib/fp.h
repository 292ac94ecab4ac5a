/*
 * fp: drives tests/tools/faultproxy from a test. The proxy sits on
 * 127.0.0.1 in front of a PostgreSQL port and is switched at run time
 * between pass, refuse, reset, blackhole, "delay N" and neon (see
 * faultproxy.c). It ends when the test process does.
 */
#ifndef HOLDFAST_FP_H
#define HOLDFAST_FP_H

struct fp;

/* Starts a proxy in front of 127.0.0.1:target_port; aborts the test on
 * failure. */
struct fp *fp_start(int target_port);
int fp_port(const struct fp *);
/* "pass", "refuse", "reset", "blackhole", "delay 200", "neon"; 0 or -1. */
int fp_set(struct fp *, const char *mode);
/* Connections the proxy accepted so far (refused ones are not seen). */
long fp_count(struct fp *);
void fp_stop(struct fp *);

#endif
