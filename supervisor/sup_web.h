/*
 * sup_web: holdfastd's status page, on a TCP listener of its own
 * (status_listen), served by common/hsrv from holdfastd's event loop.
 *
 * Routes (GET unless said):
 *   /             the page (HTML; its script and style are /status.js and
 *                 /status.css, so the Content-Security-Policy stays
 *                 default-src 'self' with nothing inline)
 *   /status.json  the status of every instance: the reply of
 *                 `holdfastctl status --json`, built by the same code
 *   /tail?name=NAME[&lines=N]  the last N (100) lines of an instance's
 *                 output, as `holdfastctl tail --json`
 *   POST /action?do=start|stop|restart|reload[&name=NAME]
 *                 only with status_actions = true, the bearer token of
 *                 status_token_file, the header X-Holdfast-Action: 1, and
 *                 an Origin (when sent) that is the page's own
 *   /metrics      Prometheus text (sup_metrics.c), only when metrics_listen
 *                 is this listener's address; a metrics_listen of its own
 *                 gets a listener with the same limits serving /metrics only
 * Every error is JSON ({"error","detail","status"}); nothing is cached.
 *
 * Cost: while no client is connected the listening socket is the only
 * thing in the event loop (hsrv arms a timer per connection only).
 */
#ifndef HOLDFAST_SUP_WEB_H
#define HOLDFAST_SUP_WEB_H

#include <stddef.h>

struct cfg_listen;

/* Serves on l (nothing when l->type is 0). 0, or -1 with a reason. */
int sup_web_start(const struct cfg_listen *l, char *err, size_t errlen);
/* Reload: serves on l instead (none when l->type is 0). On failure (-1,
 * reason in err) the running listener is kept. Connections to the old
 * listener finish what they asked and are closed. */
int sup_web_relisten(const struct cfg_listen *l, char *err, size_t errlen);
void sup_web_close(void);
/* events: metrics_listen ml: /metrics on the status page's listener when
 * ml is sl's address, else on a listener of its own (kept when ml is
 * unchanged, the old one kept on failure: -1 with a reason). */
int sup_web_metrics_relisten(const struct cfg_listen *ml, const struct cfg_listen *sl,
    char *err, size_t errlen);

/* The page, embedded (sup_web_page.c): no build step, no external asset. */
extern const char sup_web_html[];
extern const char sup_web_js[];
extern const char sup_web_css[];

#endif
