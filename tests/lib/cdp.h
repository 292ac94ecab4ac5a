/*
 * cdp: a headless Chromium driven over the DevTools protocol, for tests of
 * the status page. Chromium runs with --remote-debugging-pipe: the test
 * writes commands (JSON, each ended by a NUL byte) to the browser's fd 3
 * and reads answers and events from its fd 4, so no port is opened. One
 * page is created and attached (flat session); cdp_eval() runs JavaScript
 * in it. Every read has a deadline; cdp_stop() closes the browser and kills
 * its process group if it does not go.
 */
#ifndef HOLDFAST_CDP_H
#define HOLDFAST_CDP_H

#include <sys/types.h>

struct cdp {
	pid_t	 pid;
	int	 wfd;		/* the browser's fd 3 */
	int	 rfd;		/* the browser's fd 4 */
	char	*buf;		/* bytes read, not yet a whole message */
	size_t	 len, cap;
	int	 next_id;
	char	*session;	/* the page's session id */
};

/* The browser's path, or NULL when none is installed. */
const char *cdp_browser(void);
/* Starts the browser (profile and log under dir) on url; 0 or -1. */
int cdp_start(struct cdp *, const char *dir, const char *url);
/*
 * Evaluates expr in the page; its value as a string (JSON for a non-string),
 * malloc'd, or NULL on an exception or a timeout (timeout_ms).
 */
char *cdp_eval(struct cdp *, const char *expr, int timeout_ms);
/* Polls expr every 20 ms until it is "true"; 1 when it was, 0 on timeout. */
int cdp_wait_true(struct cdp *, const char *expr, int timeout_ms);
void cdp_stop(struct cdp *);

#endif
