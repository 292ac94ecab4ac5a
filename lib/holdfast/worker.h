/*
 * holdfast/worker.h: the client side of holdfastd's worker channel, for
 * programs that run under holdfastd (libholdfast; see holdfast-worker(3)
 * and docs/protocol.md).
 *
 * A worker opens the channel once at start-up, then tells holdfastd when
 * it serves (ready), what it is doing (status text) and how its database
 * is (up/down with a reason). Heartbeats are sent by the library: the
 * program only has to watch one descriptor and call holdfast_tick() when
 * it is ready or when holdfast_timeout_ms() has passed, from whatever loop
 * it runs (poll, epoll, libevent, libuv, GLib...). Without holdfastd
 * (HOLDFAST_CHANNEL_FD unset) every call is a harmless no-op, so the same
 * binary runs by hand.
 *
 * The library has no dependency beyond libc, never blocks, never writes to
 * stdout/stderr on its own (see holdfast_set_log) and is not thread-safe:
 * use one handle from one thread.
 */
#ifndef HOLDFAST_PUBLIC_WORKER_H
#define HOLDFAST_PUBLIC_WORKER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HOLDFAST_API		__attribute__((visibility("default")))
#define HOLDFAST_PRINTF(a, b)	__attribute__((format(printf, a, b)))
#else
#define HOLDFAST_API
#define HOLDFAST_PRINTF(a, b)
#endif

/* The highest channel protocol version this library speaks. */
#define HOLDFAST_PROTOCOL_VERSION	2
/* The first descriptor of the systemd socket-activation convention. */
#define HOLDFAST_LISTEN_FDS_START	3

struct holdfast;

/*
 * Opens the channel named by HOLDFAST_CHANNEL_FD (and removes the variable,
 * so the worker's own children do not inherit it), sends the hello and
 * arms the heartbeat (HOLDFAST_HEARTBEAT_MS, then holdfastd's welcome).
 * program names the worker in holdfastd's logs ("my-worker").
 * Returns 1 connected, 0 when not run by holdfastd (the handle is still
 * valid and every call a no-op), -1 when HOLDFAST_CHANNEL_FD is not a
 * usable descriptor (errno set; *hp is NULL).
 */
HOLDFAST_API int holdfast_open(struct holdfast **hp, const char *program);
/* Closes the channel and frees the handle (NULL is fine). */
HOLDFAST_API void holdfast_close(struct holdfast *);
/* 1 while the channel to holdfastd is up. */
HOLDFAST_API int holdfast_connected(const struct holdfast *);
/* The instance name holdfastd gave this process (HOLDFAST_INSTANCE, e.g.
 * "api:1"), or dflt when there is none. */
HOLDFAST_API const char *holdfast_instance(const char *dflt);

/* --- event loop integration ------------------------------------------ */

/* The descriptor to watch, -1 when not connected. */
HOLDFAST_API int holdfast_fd(const struct holdfast *);
/* The poll(2) events to watch it for: POLLIN, plus POLLOUT while output
 * is queued (a peer that reads slowly). */
HOLDFAST_API int holdfast_events(const struct holdfast *);
/* Milliseconds until holdfast_tick() must be called even if the
 * descriptor stays quiet (the next heartbeat); -1 when not connected. */
HOLDFAST_API int holdfast_timeout_ms(const struct holdfast *);
/*
 * Does what is due: reads and handles holdfastd's messages, writes queued
 * output, sends a heartbeat when one is due. Never blocks. Returns 0, or
 * -1 once the channel is lost (holdfastd exited or broke the protocol;
 * see holdfast_error()): a worker should then stop, since holdfastd
 * kills the workers it leaves behind anyway.
 */
HOLDFAST_API int holdfast_tick(struct holdfast *);
/* Why the channel was lost ("EOF", ...), or NULL. */
HOLDFAST_API const char *holdfast_error(const struct holdfast *);

/* --- what a worker reports ------------------------------------------- */

/* The worker serves: holdfastd moves it from STARTING to RUNNING. */
HOLDFAST_API int holdfast_ready(struct holdfast *);
/* One line of free text shown by `holdfastctl status --json` ("status_text"),
 * at most 256 bytes (longer is cut). Needs protocol 2: before holdfastd's
 * welcome the last text is kept and sent once the welcome says 2 or more;
 * an older holdfastd never gets it. */
HOLDFAST_API int holdfast_status(struct holdfast *, const char *fmt, ...)
	HOLDFAST_PRINTF(2, 3);
/*
 * The worker's database: up (1) or down (0), with a short CamelCase reason
 * ("ConnectionRefused", "AuthFailed"...) and a free-text detail (both may
 * be NULL). Shown in the DB and REASON columns of `holdfastctl status`; a
 * down database makes `holdfastctl health` fail.
 */
HOLDFAST_API int holdfast_db(struct holdfast *, int up, const char *reason,
    const char *detail);
/* holdfast_db with the operation that saw the state ("query", "listen")
 * and how many attempts it made; op NULL and attempts 0 leave them out. */
HOLDFAST_API int holdfast_db_full(struct holdfast *, int up, const char *op,
    const char *reason, int attempts, const char *detail);
/*
 * Sends one message as is: a complete JSON object with a string "type"
 * member, on one line (no newline), at most 64 KiB. For the "stats"
 * message and any type this header does not wrap.
 */
HOLDFAST_API int holdfast_send_json(struct holdfast *, const char *json, size_t len);

/* The send calls return 0 when the message was written or queued (or when
 * not connected), -1 with errno on a bad argument (EINVAL, EMSGSIZE) or a
 * full output queue (ENOBUFS). */

/* Log messages of the library (a rejected message, a lost channel), for
 * the program's own log; level is a syslog(3) priority. */
HOLDFAST_API void holdfast_set_log(struct holdfast *,
    void (*cb)(void *arg, int level, const char *msg), void *arg);

/* --- sockets passed by holdfastd (systemd socket activation) ----------- */

/*
 * The number of descriptors passed from HOLDFAST_LISTEN_FDS_START on, per
 * LISTEN_FDS when LISTEN_PID is this process (0 otherwise), made
 * close-on-exec. holdfastd passes the `listen` socket of the worker's
 * section this way (one, named after the section in LISTEN_FDNAMES); a
 * program started by systemd gets its sockets the same way.
 */
HOLDFAST_API int holdfast_listen_fds(void);
/* The name of the i-th passed descriptor (LISTEN_FDNAMES), copied into buf;
 * -1 when there is none. */
HOLDFAST_API int holdfast_listen_name(int i, char *buf, size_t len);
/* The first passed descriptor that is a socket of this type (SOCK_STREAM,
 * SOCK_DGRAM), made non-blocking; -1 when none. */
HOLDFAST_API int holdfast_listen_socket(int type);

#ifdef __cplusplus
}
#endif

#endif
