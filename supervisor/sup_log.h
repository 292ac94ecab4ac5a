/*
 * sup_log: worker output. A worker's stdout and stderr are pipes read by
 * holdfastd; every line is re-emitted on holdfastd's stderr prefixed with
 * the instance name, kept in the instance's ring buffer (tail_lines lines,
 * kept across restarts) for `holdfastctl tail`, appended to the optional
 * stdout_logfile/stderr_logfile (rotated by size), and pushed to any
 * `tail -f` client.
 */
#ifndef HOLDFAST_SUP_LOG_H
#define HOLDFAST_SUP_LOG_H

#include <stddef.h>
#include <stdint.h>

struct sup_proc;
struct sup_ring;
struct sup_logfile;

/* Lines longer than this are cut into several. */
#define SUP_LINE_MAX	4096

/* holdfastd's stderr through log.c's non-blocking queue, flushed by an
 * event on base when the reader takes more (sup_log_nb_init, after every
 * start and every image restore); sup_log_nb_close waits at most
 * SUP_LOG_DRAIN_MS for the reader, then writes directly again. */
#define SUP_LOG_DRAIN_MS	100
struct event_base;
void sup_log_nb_init(struct event_base *);
/* From the first line on, before there is an event loop (lines queue). */
void sup_log_nb_early(void);
void sup_log_nb_close(void);

/* holdfastd's own log: path (NULL: stderr) opened again, appending, and
 * made where every line goes (log_file; SIGUSR1 and `holdfastctl reopen`
 * after a log rotation); one [LOG_REOPEN] line. -1 when it cannot be
 * opened (the previous destination is kept). */
int sup_log_own(const char *path, const char *why);
/* The worker log files (stdout_logfile, stderr_logfile) opened again;
 * how many instances have one. */
int sup_log_reopen_workers(void);

/* Starts reading fd (a pipe's read end) for stream 0 (stdout) or 1 (stderr). */
void sup_out_attach(struct sup_proc *, int stream, int fd);
/* Reads what is left and closes both pipes (the proc is going away). */
void sup_out_detach(struct sup_proc *);
/* One line of output (without its newline). */
void sup_log_line(struct sup_proc *, int stream, const char *line, size_t len);

/* In-place upgrade: a capture's pipe and the partial line read so far
 * (-1 when none), and a capture re-attached with that partial line. */
int sup_out_state(const struct sup_proc *, int stream, const char **partial, size_t *len);
void sup_out_adopt(struct sup_proc *, int stream, int fd, const char *partial, size_t len);

struct sup_ring *sup_ring_new(int cap);
void sup_ring_free(struct sup_ring *);
void sup_ring_push(struct sup_ring *, const char *line, size_t len);
int sup_ring_count(const struct sup_ring *);
/* The i-th oldest line kept, i in [0, count). */
const char *sup_ring_get(const struct sup_ring *, int i);

/* Opens (appending) a log file rotated at maxbytes, keeping backups old
 * files (path.1 .. path.N). NULL with errno on failure. */
struct sup_logfile *sup_logfile_open(const char *path, int64_t maxbytes, int backups);
void sup_logfile_write(struct sup_logfile *, const char *buf, size_t len);
void sup_logfile_close(struct sup_logfile *);
/* Sets up p_logs from the group's config (per-instance name when numprocs > 1). */
void sup_proc_logfiles(struct sup_proc *);
void sup_proc_logfiles_close(struct sup_proc *);

/* cfgcli: which stream each ring line came from (tail NAME stderr). Lines
 * pushed without one (restored by an upgrade) are SUP_STREAM_ANY. */
#define SUP_STREAM_OUT	0
#define SUP_STREAM_ERR	1
#define SUP_STREAM_ANY	2
void sup_ring_push_stream(struct sup_ring *, int stream, const char *line, size_t len);
int sup_ring_stream(const struct sup_ring *, int i);
/* cfgcli: holdfastd's own recent log lines, for `holdfastctl maintail`
 * (tail_lines of them; installed by sup_log_main_init). */
void sup_log_main_init(int lines);
const struct sup_ring *sup_log_main_ring(void);
void sup_log_main_resize(int lines);

#endif
