/*
 * sup_web_guard: what the status page checks before it answers, apart
 * from the token itself (sup_web.c).
 *
 * Host: a page that answers any Host header can be read by a hostile site
 * through DNS rebinding (its name made to resolve to 127.0.0.1 after the
 * browser loaded it). A request is served only when its Host is an IP
 * literal (v4, or v6 in brackets), "localhost" or a name under
 * ".localhost" (browsers resolve those themselves), or a name of the
 * status_hosts list (a ".example.com" entry matches that domain and every
 * name under it; common/cfg.c checks the list's syntax); a request without
 * Host (HTTP/1.0, no browser) passes.
 *
 * Failed tokens: each address that sends a wrong token has a count; after
 * WEB_AUTH_FAILS of them within WEB_AUTH_WINDOW_MS, every action from that
 * address (with a right token too, or guessing would go on) is answered
 * 429 until the window that began with the first failure is over. The
 * table has WEB_AUTH_SLOTS entries, the oldest replaced first: bounded,
 * no timer (entries expire when looked at).
 */
#ifndef HOLDFAST_SUP_WEB_GUARD_H
#define HOLDFAST_SUP_WEB_GUARD_H

#include <stdint.h>

#define WEB_AUTH_FAILS		5
#define WEB_AUTH_WINDOW_MS	60000
#define WEB_AUTH_SLOTS		64

/* 1 when the Host header value (or NULL) may be served, given the
 * status_hosts list (comma or space separated, NULL: none). */
int web_host_allowed(const char *host, const char *allowed);

/* Seconds until addr may try again (0: it may now), at now_ms. */
int web_auth_blocked(const char *addr, uint64_t now_ms);
/* A wrong token from addr; returns its failures in the current window. */
int web_auth_failed(const char *addr, uint64_t now_ms);
/* A right token from addr: its count is cleared. */
void web_auth_passed(const char *addr);

#endif
