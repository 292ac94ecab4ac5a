/*
 * tu: helpers for integration tests (real processes, real sockets).
 * Every process a test starts is stopped by its PID, never by name; every
 * wait has a deadline.
 */
#ifndef HOLDFAST_TU_H
#define HOLDFAST_TU_H

#include <stddef.h>
#include <sys/types.h>
#include <netinet/in.h>

#include <check.h>

/*
 * Every suite's main(): tu_run runs the suite the way Check does by default
 * (each test forked unless CK_FORK=no, the timeouts of CK_DEFAULT_TIMEOUT
 * and of each test case, output per CK_VERBOSITY), frees it, and returns
 * the exit status: 0 when every test passed, 1 otherwise.
 */
int tu_run(Suite *s);
/* A test case added to s; timeout_s > 0 sets its timeout, 0 leaves the
 * default (CK_DEFAULT_TIMEOUT). */
TCase *tu_tcase(Suite *s, const char *name, int timeout_s);

/* $HOLDFAST_BUILDDIR / $HOLDFAST_SRCDIR (set by make check), else ".". */
const char *tu_builddir(void);
const char *tu_srcdir(void);
/* builddir + "/" + rel, malloc'd. */
char *tu_buildpath(const char *rel);
char *tu_srcpath(const char *rel);

/* A fresh directory under $TMPDIR (or /tmp); tu_rmrf removes a tree. */
char *tu_tmpdir(const char *tag);
void tu_rmrf(const char *path);
/* A port free on 127.0.0.1 right now (SOCK_STREAM or SOCK_DGRAM). */
int tu_free_port(int type);
/* 127.0.0.1:port, for connect/bind/sendto (tests use loopback only). */
struct sockaddr_in tu_loopback(int port);
/* A TCP socket connected to 127.0.0.1:port, nothing sent (aborts the test
 * on failure). */
int tu_connect(int port);
/* Sends all of buf: 0, or -1 once a send fails (the peer closed, ...). */
int tu_send_all(int fd, const void *buf, size_t len);
/* utime + stime of pid, in clock ticks (aborts when it cannot be read). */
long tu_cpu_ticks(pid_t pid);

/*
 * Starts argv[0] (a path) in its own process group with extra environment
 * entries ("K=V", NULL-terminated, may be NULL), stdout+stderr appended to
 * logpath (NULL: inherit). Returns the pid; aborts the test on failure.
 */
pid_t tu_spawn(char *const argv[], char *const env[], const char *logpath);
/* As tu_spawn, and fds[0..nfds-1] (at most 16) become the child's fds 3,
 * 4, ... (without FD_CLOEXEC) whatever their flags here. */
pid_t tu_spawn_fds(char *const argv[], char *const env[], const char *logpath,
    const int *fds, int nfds);
/* Waits up to timeout_ms; returns 0 with *status, or -1 on timeout. */
int tu_wait_pid(pid_t pid, int timeout_ms, int *status);
/* kill(pid, sig) and, for SIGKILL-class cleanup, kill the group too. */
void tu_kill(pid_t pid, int sig);
/* SIGTERM, wait up to timeout_ms, then SIGKILL the group; returns status. */
int tu_stop(pid_t pid, int timeout_ms);
int tu_pid_alive(pid_t pid);

/* Polls pred every 10 ms until it returns non-zero or timeout_ms passes.
 * Both waits return 1 when the condition was met, 0 on timeout. */
int tu_wait_for(int (*pred)(void *), void *arg, int timeout_ms);
/* Waits until file contains needle (count >= n). */
int tu_wait_file_count(const char *path, const char *needle, int n, int timeout_ms);

char *tu_read_file(const char *path, size_t *len);	/* NULL if missing */
int tu_write_file(const char *path, const char *text);
int tu_count_in_file(const char *path, const char *needle);
/* Copies the file at path to stderr when the environment has env set (a
 * worker's log, for a failure: HTTP_TEST_LOG=1 make check ...). */
void tu_show_file_if(const char *env, const char *path);
/* Runs sh -c cmd; returns its exit status (or -1), output in *out if not NULL. */
int tu_sh(const char *cmd, char **out);

/*
 * A minimal blocking HTTP/1.1 client for tests: one request on a fresh
 * connection to 127.0.0.1:port. Returns the status code (or -1 on a
 * connection error, -2 on timeout); *body gets the response body.
 */
int tu_http(int port, const char *method, const char *path,
    const char *headers, const char *body, size_t bodylen,
    char **resp_body, char **resp_headers, int timeout_ms);

#endif
