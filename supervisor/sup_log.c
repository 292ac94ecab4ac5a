/*
 * sup_log: capture of worker output (see sup_log.h).
 *
 * Invariants: when a process is reaped, what it wrote before dying is read
 * and logged before its pipes are closed (a worker's last words matter
 * most); each re-emitted line goes
 * out in one write(2) so lines of different workers never interleave; the
 * ring and the log files belong to the instance, not to one child, so
 * `tail` shows what happened before a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "cfg.h"
#include "log.h"
#include "sup.h"
#include "sup_ctl.h"
#include "sup_log.h"
#include "sup_upgrade.h"
#include "util.h"

struct sup_out {
	struct sup_proc	*o_proc;
	int		 o_stream;
	int		 o_fd;
	struct event	*o_ev;
	size_t		 o_len;
	char		 o_buf[SUP_LINE_MAX];
};

struct sup_ring {
	char	**r_lines;	/* grown up to r_cap as lines come (idle RSS) */
	unsigned char *r_stream; /* cfgcli: each line's SUP_STREAM_* */
	int	 r_alloc;
	int	 r_cap;
	int	 r_head;	/* index of the oldest line */
	int	 r_count;
};

struct sup_logfile {
	char	*l_path;
	int	 l_fd;
	int64_t	 l_size;
	int64_t	 l_max;
	int	 l_backups;
	int	 l_refs;	/* stdout and stderr may share one file */
	/* cfgcli: logfile_rotate hourly/daily */
	int64_t	 l_period_s;	/* 3600, 86400; 0: by size only */
	int64_t	 l_period;	/* the period (UTC) the file's lines belong to */
};

/* ---- ring ------------------------------------------------------------ */

struct sup_ring *
sup_ring_new(int cap)
{
	struct sup_ring *r = xcalloc(1, sizeof(*r));

	r->r_cap = cap > 0 ? cap : 1;
	return r;
}

void
sup_ring_free(struct sup_ring *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < r->r_alloc; i++)
		free(r->r_lines[i]);
	free(r->r_lines);
	free(r->r_stream);
	free(r);
}

void
sup_ring_push(struct sup_ring *r, const char *line, size_t len)
{
	sup_ring_push_stream(r, SUP_STREAM_ANY, line, len);
}

void
sup_ring_push_stream(struct sup_ring *r, int stream, const char *line, size_t len)
{
	int slot = (r->r_head + r->r_count) % r->r_cap;

	/* Not full yet: r_head is 0 and the slot is r_count. */
	if (r->r_count == r->r_alloc && r->r_alloc < r->r_cap) {
		int n = r->r_alloc < 16 ? 16 : r->r_alloc * 2;

		n = n < r->r_cap ? n : r->r_cap;
		r->r_lines = xreallocarray(r->r_lines, n, sizeof(char *));
		memset(r->r_lines + r->r_alloc, 0, (n - r->r_alloc) * sizeof(char *));
		r->r_stream = xreallocarray(r->r_stream, n, 1);
		r->r_alloc = n;
	}
	if (r->r_count == r->r_cap) {
		slot = r->r_head;
		r->r_head = (r->r_head + 1) % r->r_cap;
	} else
		r->r_count++;
	free(r->r_lines[slot]);
	r->r_lines[slot] = xstrndup(line, len);
	r->r_stream[slot] = (unsigned char)stream;
}

int
sup_ring_stream(const struct sup_ring *r, int i)
{
	if (i < 0 || i >= r->r_count)
		return SUP_STREAM_ANY;
	return r->r_stream[(r->r_head + i) % r->r_cap];
}

int
sup_ring_count(const struct sup_ring *r)
{
	return r->r_count;
}

const char *
sup_ring_get(const struct sup_ring *r, int i)
{
	if (i < 0 || i >= r->r_count)
		return NULL;
	return r->r_lines[(r->r_head + i) % r->r_cap];
}

/* ---- log files with size rotation ------------------------------------ */

/* cfgcli: the clock of time-based rotation (UTC seconds). */
static int64_t
sup_log_clock(void)
{
	return (int64_t)time(NULL);
}

/* logfile_rotate: the period a file's lines belong to starts as that of
 * its last write (mtime), so a file last written before the boundary (an
 * hour ago, yesterday, holdfastd down over midnight) is rotated at the
 * next line. */
static void
sup_logfile_period(struct sup_logfile *l, int rotate)
{
	struct stat st;

	l->l_period_s = rotate == CFG_ROTATE_HOURLY ? 3600 :
	    rotate == CFG_ROTATE_DAILY ? 86400 : 0;
	if (l->l_period_s == 0)
		return;
	l->l_period = fstat(l->l_fd, &st) == 0 ? (int64_t)st.st_mtime / l->l_period_s :
	    sup_log_clock() / l->l_period_s;
}

/* cfgcli: logfile_timestamps of the instance's group. */
static int
sup_stamped(const struct sup_proc *p)
{
	return p->p_group->g_wc != NULL && p->p_group->g_wc->logfile_timestamps;
}

/* "2026-12-04T17:05:35.123Z line" (allocated). */
static char *
sup_log_stamp(const char *line, size_t len)
{
	struct timespec	ts;
	struct tm	tm;
	char		when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	return xasprintf("%s.%03dZ %.*s", when, (int)(ts.tv_nsec / 1000000), (int)len, line);
}

struct sup_logfile *
sup_logfile_open(const char *path, int64_t maxbytes, int backups)
{
	struct sup_logfile	*l;
	struct stat		 st;
	int			 fd;

	(void)hf_mkdir_parents(path, 0755);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return NULL;
	l = xcalloc(1, sizeof(*l));
	l->l_path = xstrdup(path);
	l->l_fd = fd;
	l->l_size = fstat(fd, &st) == 0 ? st.st_size : 0;
	l->l_max = maxbytes;
	l->l_backups = backups;
	l->l_refs = 1;
	return l;
}

/*
 * path.N-1 -> path.N ... path -> path.1, then a fresh path. The current
 * file is hard-linked to path.1 and the fresh one renamed over it, so the
 * name never disappears, even for an instant (tail -F, log shippers).
 */
static void
sup_logfile_rotate(struct sup_logfile *l)
{
	char	*from, *to, *tmp;
	int	 fd;

	if (l->l_backups == 0) {
		if (ftruncate(l->l_fd, 0) == 0)
			l->l_size = 0;
		return;
	}
	for (int i = l->l_backups; i >= 2; i--) {
		from = xasprintf("%s.%d", l->l_path, i - 1);
		to = xasprintf("%s.%d", l->l_path, i);
		if (rename(from, to) == -1 && errno != ENOENT)
			log_warn("rename(%s, %s)", from, to);
		free(from);
		free(to);
	}
	to = xasprintf("%s.1", l->l_path);
	tmp = xasprintf("%s.new", l->l_path);
	(void)unlink(to);
	if (link(l->l_path, to) == -1)
		log_warn("link(%s, %s)", l->l_path, to);
	fd = open(tmp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_TRUNC, 0640);
	if (fd == -1 || rename(tmp, l->l_path) == -1) {
		log_warn("rotate(%s)", l->l_path);
		if (fd != -1)
			close(fd);
	} else {
		close(l->l_fd);
		l->l_fd = fd;
		l->l_size = 0;
	}
	free(to);
	free(tmp);
}

void
sup_logfile_write(struct sup_logfile *l, const char *buf, size_t len)
{
	ssize_t n;

	if (l->l_max > 0 && l->l_size > 0 && l->l_size + (int64_t)len > l->l_max)
		sup_logfile_rotate(l);
	else if (l->l_period_s > 0 && l->l_size > 0 &&
	    sup_log_clock() / l->l_period_s != l->l_period)
		sup_logfile_rotate(l);
	if (l->l_period_s > 0)
		l->l_period = sup_log_clock() / l->l_period_s;
	if ((n = write(l->l_fd, buf, len)) > 0)
		l->l_size += n;
}

void
sup_logfile_close(struct sup_logfile *l)
{
	if (l == NULL || --l->l_refs > 0)
		return;
	close(l->l_fd);
	free(l->l_path);
	free(l);
}

/* "dir/http.log" for instance 1 of 2 -> "dir/http-1.log". */
static char *
sup_logfile_name(const char *path, const struct sup_proc *p)
{
	const char	*base = strrchr(path, '/'), *dot;

	if (p->p_group->g_nprocs <= 1)
		return xstrdup(path);
	base = base != NULL ? base + 1 : path;
	if ((dot = strrchr(base, '.')) == NULL || dot == base)
		return xasprintf("%s-%d", path, p->p_index);
	return xasprintf("%.*s-%d%s", (int)(dot - path), path, p->p_index, dot);
}

static struct sup_logfile *
sup_logfile_for(const struct sup_proc *p, const char *path)
{
	const struct cfg_worker	*wc = p->p_group->g_wc;
	struct sup_logfile	*l;
	char			*name = sup_logfile_name(path, p);

	if ((l = sup_logfile_open(name, wc->logfile_maxbytes, wc->logfile_backups)) == NULL)
		log_warn("[%s] open(%s)", p->p_name, name);
	else
		sup_logfile_period(l, wc->logfile_rotate);
	free(name);
	return l;
}

void
sup_proc_logfiles(struct sup_proc *p)
{
	const struct cfg_worker *wc = p->p_group->g_wc;

	sup_proc_logfiles_close(p);
	if (wc == NULL || wc->stdout_logfile == NULL)
		return;
	p->p_logs[0] = sup_logfile_for(p, wc->stdout_logfile);
	if (wc->stderr_logfile != NULL &&
	    strcmp(wc->stderr_logfile, wc->stdout_logfile) != 0) {
		p->p_logs[1] = sup_logfile_for(p, wc->stderr_logfile);
	} else if (p->p_logs[0] != NULL) {
		p->p_logs[1] = p->p_logs[0];
		p->p_logs[0]->l_refs++;
	}
}

void
sup_proc_logfiles_close(struct sup_proc *p)
{
	for (int i = 0; i < 2; i++) {
		sup_logfile_close(p->p_logs[i]);
		p->p_logs[i] = NULL;
	}
}

/* ---- holdfastd's stderr: never waited on ------------------------------ */

static struct event	*sup_log_ev;

static void
sup_log_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)log_nb_flush();
}

static void
sup_log_want(int on)
{
	if (sup_log_ev == NULL)
		return;
	if (on)
		event_add(sup_log_ev, NULL);
	else
		event_del(sup_log_ev);
}

static void
sup_log_atexit(void)
{
	log_nb_drain(SUP_LOG_DRAIN_MS);
}

void
sup_log_nb_early(void)
{
	static int registered;

	if (!registered)
		atexit(sup_log_atexit);
	registered = 1;
	(void)log_nb_enable(NULL);
}

void
sup_log_nb_init(struct event_base *base)
{
	int fd;

	if (sup_log_ev != NULL)
		sup_log_nb_close();
	if ((fd = log_nb_enable(sup_log_want)) == -1)
		return;
	sup_log_ev = event_new(base, fd, EV_WRITE | EV_PERSIST, sup_log_writable, NULL);
	/* A descriptor epoll cannot watch (/dev/null): written directly. */
	if (sup_log_ev == NULL || event_add(sup_log_ev, NULL) == -1) {
		if (sup_log_ev != NULL)
			event_free(sup_log_ev);
		sup_log_ev = NULL;
		log_nb_disable();
		return;
	}
	event_del(sup_log_ev);
	(void)log_nb_flush();	/* arms the event for what queued before */
	log_debug("[LOG_NB] stderr is written without blocking: queue=%d bytes",
	    LOG_NB_QUEUE);
}

void
sup_log_nb_close(void)
{
	log_nb_drain(SUP_LOG_DRAIN_MS);
	log_nb_disable();
	if (sup_log_ev != NULL)
		event_free(sup_log_ev);
	sup_log_ev = NULL;
}

/* ---- holdfastd's own log file ----------------------------------------- */

static int	 sup_log_fd = -1;	/* log_file, or -1: stderr */

int
sup_log_own(const char *path, const char *why)
{
	int fd = -1;

	if (path != NULL) {
		(void)hf_mkdir_parents(path, 0755);
		if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) == -1) {
			log_warn("[LOG_REOPEN] path=%s why=%s result=failed: keeping the "
			    "current log", path, why);
			return -1;
		}
	}
	/* Lines queued for stderr go first, then stderr is left alone. */
	sup_log_nb_close();
	log_set_fd(fd);
	if (sup_log_fd != -1)
		close(sup_log_fd);
	sup_log_fd = fd;
	if (fd == -1 && sup.s_base != NULL)
		sup_log_nb_init(sup.s_base);
	log_info("[LOG_REOPEN] path=%s why=%s result=ok", path != NULL ? path : "stderr",
	    why);
	return 0;
}

int
sup_log_reopen_workers(void)
{
	int n = 0;

	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		for (int i = 0; i < g->g_nprocs; i++)
			if (g->g_wc != NULL && g->g_wc->stdout_logfile != NULL) {
				sup_proc_logfiles(g->g_procs[i]);
				n++;
			}
	return n;
}

int
sup_reopen(const char *why)
{
	const char	*path = sup.s_cfg->holdfast.log_file;
	int		 n;

	if (path != NULL)
		(void)sup_log_own(path, why);
	n = sup_log_reopen_workers();
	log_info("[LOG_REOPEN] why=%s holdfastd=%s worker_files=%d", why,
	    path != NULL ? path : "stderr", n);
	return n;
}

/* ---- lines ------------------------------------------------------------ */

/* What is kept of a line (its ring, log file, tail -f clients). */
static void
sup_log_store(struct sup_proc *p, int stream, const char *line, size_t len)
{
	if (p->p_ring != NULL)
		sup_ring_push_stream(p->p_ring, stream, line, len);
	sup_upgrade_changed(0);
	if (p->p_logs[stream] != NULL) {
		char *buf = xmalloc(len + 1);

		memcpy(buf, line, len);
		buf[len] = '\n';
		sup_logfile_write(p->p_logs[stream], buf, len + 1);
		free(buf);
	}
	sup_ctl_tail_line(p, stream, line, len);
}

void
sup_log_line(struct sup_proc *x, int stream, const char *line, size_t len)
{
	struct sup_proc	*p = sup_proc_owner(x);	/* an extra's instance */
	struct iovec	 iov[4];
	char		 nl = '\n';

	iov[0].iov_base = x->p_name;
	iov[0].iov_len = strlen(x->p_name);
	iov[1].iov_base = (char *)": ";
	iov[1].iov_len = 2;
	iov[2].iov_base = (char *)line;
	iov[2].iov_len = len;
	iov[3].iov_base = &nl;
	iov[3].iov_len = 1;
	log_out(x->p_name, iov, 4);
	if (sup_stamped(p)) {		/* cfgcli: logfile_timestamps */
		char *stamped = sup_log_stamp(line, len);

		sup_log_store(p, stream, stamped, strlen(stamped));
		free(stamped);
	} else
		sup_log_store(p, stream, line, len);
}

/* Emits the complete lines in the buffer; a full buffer is a cut line. */
static void
sup_out_lines(struct sup_out *o, int flush)
{
	char	*start = o->o_buf, *nl;
	size_t	 left = o->o_len;

	while ((nl = memchr(start, '\n', left)) != NULL) {
		sup_log_line(o->o_proc, o->o_stream, start, nl - start);
		left -= nl - start + 1;
		start = nl + 1;
	}
	if (left > 0 && (flush || left == sizeof(o->o_buf))) {
		sup_log_line(o->o_proc, o->o_stream, start, left);
		left = 0;
	}
	memmove(o->o_buf, start, left);
	o->o_len = left;
}

static void
sup_out_close(struct sup_out *o)
{
	sup_out_lines(o, 1);
	o->o_proc->p_out[o->o_stream] = NULL;
	event_free(o->o_ev);
	close(o->o_fd);
	free(o);
}

/*
 * Returns -1 once the pipe is at EOF (or broken) and was closed, 0 when it
 * is drained or a bounded number of reads were done: a worker that writes
 * without pause must not keep the loop from everything else.
 */
static int
sup_out_read(struct sup_out *o)
{
	ssize_t n;

	for (int i = 0; i < 16; i++) {
		n = read(o->o_fd, o->o_buf + o->o_len, sizeof(o->o_buf) - o->o_len);
		if (n > 0) {
			o->o_len += n;
			sup_out_lines(o, 0);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		sup_out_close(o);
		return -1;
	}
	return 0;
}

static void
sup_out_cb(evutil_socket_t fd, short what, void *arg)
{
	sup_out_read(arg);
}

void
sup_out_attach(struct sup_proc *p, int stream, int fd)
{
	/* Not calloc: o_buf stays untouched (not resident) until output comes. */
	struct sup_out *o = xmalloc(sizeof(*o));

	o->o_len = 0;
	if (p->p_out[stream] != NULL)
		sup_out_close(p->p_out[stream]);
	o->o_proc = p;
	o->o_stream = stream;
	o->o_fd = fd;
	o->o_ev = event_new(sup.s_base, fd, EV_READ | EV_PERSIST, sup_out_cb, o);
	event_add(o->o_ev, NULL);
	p->p_out[stream] = o;
}

void
sup_out_detach(struct sup_proc *p)
{
	for (int i = 0; i < 2; i++)
		if (p->p_out[i] != NULL && sup_out_read(p->p_out[i]) == 0)
			sup_out_close(p->p_out[i]);
}

int
sup_out_state(const struct sup_proc *p, int stream, const char **partial, size_t *len)
{
	const struct sup_out *o = p->p_out[stream];

	if (o == NULL)
		return -1;
	*partial = o->o_buf;
	*len = o->o_len;
	return o->o_fd;
}

void
sup_out_adopt(struct sup_proc *p, int stream, int fd, const char *partial, size_t len)
{
	hf_fd_set_cloexec(fd);
	hf_fd_set_nonblock(fd);
	sup_out_attach(p, stream, fd);
	if (partial != NULL && len <= sizeof(p->p_out[stream]->o_buf)) {
		memcpy(p->p_out[stream]->o_buf, partial, len);
		p->p_out[stream]->o_len = len;
	}
}

/* ---- cfgcli: holdfastd's own recent lines (maintail) --------------------- */

static struct sup_ring	*sup_main_ring;
static int		 sup_main_busy;	/* a line logged while one is handled */

static void
sup_log_main_tap(const char *line, size_t len)
{
	if (sup_main_ring == NULL || sup_main_busy)
		return;
	sup_main_busy = 1;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	sup_ring_push(sup_main_ring, line, len);
	sup_ctl_main_line(line, len);
	sup_main_busy = 0;
}

void
sup_log_main_init(int lines)
{
	sup_main_ring = sup_ring_new(lines);
	log_set_tap(sup_log_main_tap);
}

const struct sup_ring *
sup_log_main_ring(void)
{
	return sup_main_ring;
}

/* The newest lines kept within the new size (tail_lines); 0: freed. */
void
sup_log_main_resize(int lines)
{
	struct sup_ring	*r;
	int		 n;

	if (sup_main_ring == NULL) {
		if (lines > 0)
			sup_log_main_init(lines);
		return;
	}
	if (lines <= 0) {
		log_set_tap(NULL);
		sup_ring_free(sup_main_ring);
		sup_main_ring = NULL;
		return;
	}
	r = sup_ring_new(lines);
	n = sup_ring_count(sup_main_ring);
	for (int i = n > lines ? n - lines : 0; i < n; i++) {
		const char *l = sup_ring_get(sup_main_ring, i);

		sup_ring_push(r, l, strlen(l));
	}
	sup_ring_free(sup_main_ring);
	sup_main_ring = r;
}
