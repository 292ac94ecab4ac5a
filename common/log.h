/*
 * log: one line per event, on stderr (holdfastd captures workers' stderr).
 *
 *   2026-11-28T13:02:20.123Z INFO holdfastd[4242]: [WORKER_READY] name=http:0 pid=4250
 *
 * UTC timestamp with milliseconds, level, program[pid], then the message.
 * The bracketed tags ([DB_DOWN], [WORKER_EXIT], ...) are part of the message
 * and are what operators grep for: one format per recurring event.
 * Shaped after OpenBSD's log.c: log_warn appends strerror(errno), the *x
 * variants do not; fatal/fatalx log then exit(1).
 */
#ifndef HOLDFAST_LOG_H
#define HOLDFAST_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* Sets the program name shown in every line and the threshold. */
void log_init(const char *progname, int level);
void log_set_level(int level);
int log_get_level(void);
/* "error", "warn", "info", "debug" -> level; -1 when unknown. */
int log_level_parse(const char *name);
const char *log_level_name(int level);
/* Send lines to fd instead of stderr (tests); -1 restores stderr. */
void log_set_fd(int fd);

/*
 * Every line's prefix, "2026-11-28T13:02:20.123Z INFO prog[pid]: ", into
 * buf; its length, as snprintf's. The time of day is formatted once a
 * second and the pid asked once a process: no system call per line.
 */
int log_format_prefix(char *buf, size_t size, int level);
/*
 * One line exactly as log_vlog would write it (prefix, text with control
 * characters neutralised, newline, NUL), cut to fit size (at least 128),
 * into buf, written nowhere, whatever the level threshold: for a caller
 * that buffers lines (the HTTP access log). Its length, newline included.
 */
size_t log_vformat(char *buf, size_t size, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_vlog(int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Non-blocking output (holdfastd): lines go to stderr through a bounded
 * queue (LOG_NB_QUEUE bytes) that a stalled reader (a wedged journald, a
 * pipe nobody reads) can never make the caller wait on. A line that does
 * not fit is dropped and counted against its source; once the queue has
 * drained, one "[LOG_DROPPED] name=<source> lines=N" line per source says
 * what was lost. stderr is written with send(MSG_DONTWAIT) when it is a
 * socket, through a private O_NONBLOCK descriptor (/proc/self/fd/2 opened
 * again, so other holders of the pipe keep their blocking mode) when it is
 * a pipe or a terminal; a regular file is written directly as before.
 * Not thread-safe: for single-threaded programs.
 *
 * log_nb_enable: returns the descriptor to watch for writability (the
 * caller flushes with log_nb_flush when it is), or -1 when stderr is left
 * blocking. want(1) is called when queued bytes wait, want(0) once the
 * queue is empty; want may be NULL until there is an event loop (lines
 * queue meanwhile), and a second call only replaces it.
 */
#define LOG_NB_QUEUE	(256 * 1024)
int log_nb_enable(void (*want)(int));
void log_nb_disable(void);
/* Writes what the reader takes now; 1 while bytes remain queued. */
int log_nb_flush(void);
/* Best effort before an exec or exit: waits up to ms for the reader. */
void log_nb_drain(int ms);
/* One line from source ("http:0"; NULL: this program), given as pieces
 * that end with its newline: queued, written, or dropped and counted. */
struct iovec;
void log_out(const char *source, const struct iovec *iov, int iovcnt);
/* One write of buf, bypassing the queue, that never blocks when the
 * non-blocking mode is on (dropped on EAGAIN), else a plain write to the
 * log: async-signal-safe, for a signal handler's last words. */
void log_nb_write_raw(const char *buf, size_t len);
/* Lines dropped so far and not yet reported. */
unsigned long log_nb_dropped(void);

/*
 * A token bucket for lines that bad input can trigger at line rate (a SIP
 * flood of junk): log_ratelimit_ok() says whether this line may be written;
 * when lines were suppressed, the next allowed line is preceded by a count.
 */
struct log_ratelimit {
	double		 lr_tokens;
	double		 lr_rate;	/* lines per second */
	double		 lr_burst;
	unsigned long	 lr_suppressed;
	unsigned long long lr_last_us;
};
void log_ratelimit_init(struct log_ratelimit *, double rate, double burst);
int log_ratelimit_ok(struct log_ratelimit *);

/* cfgcli: fn sees every line the log_* calls of this process format
 * (with its newline) before it is written (holdfastd keeps its recent
 * lines for `holdfastctl maintail`); NULL removes it. */
void log_set_tap(void (*fn)(const char *line, size_t len));

#endif
