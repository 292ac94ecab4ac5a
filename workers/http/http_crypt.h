/*
 * http_crypt: crypt(3) password checks on a helper thread, results on the
 * event loop (see http_crypt.c for why).
 */
#ifndef HOLDFAST_HTTP_CRYPT_H
#define HOLDFAST_HTTP_CRYPT_H

struct event_base;

/* Starts the helper thread; results are delivered on base. */
void http_crypt_init(struct event_base *base);
/*
 * Queues a check of password against a crypt(3) hash; cb(ok, arg) runs
 * later on the loop (ok: 1 match, 0 not). Returns 0, or -1 when the queue
 * is full (the caller answers 503).
 */
int http_crypt_verify(const char *password, const char *hash,
    void (*cb)(int ok, void *arg), void *arg);
/* The same check, synchronously (start-up and tests). */
int http_crypt_check(const char *password, const char *hash);

#endif
