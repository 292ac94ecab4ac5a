/*
 * sup_upgrade: in-place upgrade and self-heal (see sup_upgrade.h).
 *
 * Invariants:
 * - Every descriptor the state names stays close-on-exec except in the
 *   few instructions between clearing the flag and execve (the upgrade
 *   path, or the crash handler), so a worker spawned at any other time
 *   inherits exactly what sup_spawn gives it; the restored image sets the
 *   flag again on every descriptor it adopts.
 * - Monotonic times are stored as they are: CLOCK_MONOTONIC is the same
 *   clock before and after execve. A pending timer is stored as its
 *   deadline on that clock.
 * - The crash handler touches only static memory prepared in advance (two
 *   complete states in two memfds, each with its descriptor list and its
 *   argv; `heal.cur` names the complete one) and calls only fcntl,
 *   clock_gettime, write, execveat, sigaction, sigprocmask and kill.
 * - Nothing is changed in a running holdfastd before the new image has
 *   checked the state: a refused upgrade leaves it exactly as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <elf.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <event2/event.h>

#include "cfg.h"
#include "chan.h"
#include "json.h"
#include "log.h"
#include "sup.h"
#include "sup_ctl.h"
#include "sup_log.h"
#include "sup_notify.h"
#include "sup_event.h"
#include "sup_metrics.h"
#include "sup_sdnotify.h"
#include "sup_upgrade.h"
#include "util.h"

#define SUP_HEAL_MAXFDS		4096
#define SUP_STATE_MAX		(512 * 1024 * 1024)
#define SUP_CHECK_OUT_MAX	2048

extern char **environ;

/* ---- build id ------------------------------------------------------------ */

static char upg_build[41];

static int
upg_note_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr)	*ph = &info->dlpi_phdr[i];
		const char		*p, *end;

		if (ph->p_type != PT_NOTE)
			continue;
		p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			const unsigned char *desc = (const unsigned char *)p +
			    sizeof(*n) + ((n->n_namesz + 3) & ~3u);

			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    memcmp(p + sizeof(*n), "GNU", 4) == 0) {
				for (unsigned j = 0; j < n->n_descsz && j < 20; j++)
					snprintf(upg_build + 2 * j, 3, "%02x", desc[j]);
				return 1;
			}
			p = (const char *)desc + ((n->n_descsz + 3) & ~3u);
		}
	}
	return 1;	/* the first object is the program itself */
}

const char *
sup_build_id(void)
{
	if (upg_build[0] == '\0') {
		dl_iterate_phdr(upg_note_cb, NULL);
		if (upg_build[0] == '\0')
			hf_strlcpy(upg_build, "none", sizeof(upg_build));
	}
	return upg_build;
}

/* ---- kept descriptors and bytes ----------------------------------------- */

static struct {
	int	*v;
	int	 n, cap;
} upg_keep;	/* descriptors named by the state being written */

static void
upg_keep_add(int fd)
{
	if (upg_keep.n == upg_keep.cap) {
		upg_keep.cap = upg_keep.cap ? upg_keep.cap * 2 : 64;
		upg_keep.v = xreallocarray(upg_keep.v, upg_keep.cap, sizeof(int));
	}
	upg_keep.v[upg_keep.n++] = fd;
}

void
sup_upgrade_put_fd(struct jw *w, const char *key, int fd)
{
	struct stat st;

	if (key != NULL)
		jw_key(w, key);
	if (fd < 0 || fstat(fd, &st) == -1) {
		jw_null(w);
		return;
	}
	jw_obj_open(w);
	jw_kint(w, "fd", fd);
	jw_kint(w, "ino", (long long)st.st_ino);
	jw_obj_close(w);
	upg_keep_add(fd);
}

int
sup_upgrade_get_fd(yajl_val obj, const char *key)
{
	yajl_val	 v = key != NULL ? json_get(obj, key) : obj;
	long long	 fd, ino;
	struct stat	 st;

	if (v == NULL || json_get_int(v, "fd", &fd) == -1 ||
	    json_get_int(v, "ino", &ino) == -1 || fd < 0 || fd > INT_MAX)
		return -1;
	if (fstat((int)fd, &st) == -1 || (long long)st.st_ino != ino) {
		log_warnx("[SUP_UPGRADE] descriptor %lld in the state is gone or "
		    "reused: dropped", fd);
		return -1;
	}
	return (int)fd;
}

void
sup_upgrade_put_bytes(struct jw *w, const char *key, const char *buf, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	char			*s = xmalloc(2 * len + 1);

	for (size_t i = 0; i < len; i++) {
		s[2 * i] = hex[(unsigned char)buf[i] >> 4];
		s[2 * i + 1] = hex[(unsigned char)buf[i] & 15];
	}
	jw_key(w, key);
	jw_strn(w, s, 2 * len);
	free(s);
}

static int
upg_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *
sup_upgrade_get_bytes(yajl_val obj, const char *key, size_t *len)
{
	const char	*s = json_get_str(obj, key);
	size_t		 n;
	char		*buf;

	if (s == NULL || (n = strlen(s)) % 2 != 0 || n == 0)
		return NULL;
	buf = xmalloc(n / 2);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = upg_hexval(s[2 * i]), lo = upg_hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(buf);
			return NULL;
		}
		buf[i] = (char)(hi << 4 | lo);
	}
	*len = n / 2;
	return buf;
}

/* A ring line: a JSON string when it is valid UTF-8, else {"x":hex}. */
static int
upg_utf8_ok(const unsigned char *s)
{
	while (*s != '\0') {
		int n = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2 :
		    (*s & 0xf8) == 0xf0 ? 3 : -1;

		if (n < 0)
			return 0;
		s++;
		while (n-- > 0)
			if ((*s++ & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

/* ---- the state: field tables --------------------------------------------- */

enum upg_type { UT_INT, UT_I64, UT_U64, UT_STR, UT_CHARS, UT_STATE };

struct upg_field {
	const char	*key;
	enum upg_type	 type;
	size_t		 off;
	size_t		 size;
};

#define PF(k, t, m) { k, t, offsetof(struct sup_proc, m), sizeof(((struct sup_proc *)0)->m) }
#define GF(k, t, m) { k, t, offsetof(struct sup_group, m), sizeof(((struct sup_group *)0)->m) }

/* One row per field: adding a field to the state is adding a row. */
static const struct upg_field upg_proc_fields[] = {
	PF("name", UT_STR, p_name),
	PF("state", UT_STATE, p_state),
	PF("state_since_ms", UT_U64, p_state_since_ms),
	PF("pid", UT_INT, p_pid),
	PF("spawn_ms", UT_U64, p_spawn_ms),
	PF("ready_ms", UT_U64, p_ready_ms),
	PF("restarts", UT_INT, p_restarts),
	PF("spawns", UT_INT, p_spawns),
	PF("attempts", UT_INT, p_attempts),
	PF("want_up", UT_INT, p_want_up),
	PF("restart_pending", UT_INT, p_restart_pending),
	PF("rolling", UT_INT, p_rolling),
	PF("exit_pending", UT_INT, p_exit_pending),
	PF("exit_status", UT_INT, p_exit_status),
	PF("last_exit", UT_CHARS, p_last_exit),
	PF("start_timed_out", UT_INT, p_start_timed_out),
	PF("stopsig", UT_INT, p_stopsig),
	PF("stopwait_ms", UT_I64, p_stopwait_ms),
	PF("heartbeat_ms", UT_I64, p_heartbeat_ms),
	PF("hello", UT_INT, p_hello),
	PF("last_msg_ms", UT_U64, p_last_msg_ms),
	PF("stats", UT_STR, p_stats),
	PF("db_state", UT_INT, p_db.d_state),
	PF("db_since_us", UT_I64, p_db.d_since_us),
	PF("db_attempts", UT_INT, p_db.d_attempts),
	PF("db_op", UT_STR, p_db.d_op),
	PF("db_reason", UT_STR, p_db.d_reason),
	PF("db_detail", UT_STR, p_db.d_detail),
	PF("surging", UT_INT, p_surging),
	/* libhf */
	PF("status_text", UT_STR, p_status_text),
	/* sdnotify */
	PF("sd_status", UT_STR, p_sd_status),
	PF("sd_mainpid", UT_INT, p_sd_mainpid),
	PF("sd_adopted", UT_INT, p_sd_adopted),
	PF("sd_watchdog", UT_INT, p_sd_watchdog),
	PF("sd_errno", UT_INT, p_sd_errno),
	PF("sd_flags", UT_INT, p_sd_flags),
	PF("sd_uid", UT_INT, p_sd_uid),
	PF("sd_msgs", UT_U64, p_sd_msgs),
	PF("sd_extend_ms", UT_U64, p_sd_extend_ms),
};

static const struct upg_field upg_group_fields[] = {
	GF("name", UT_STR, g_name),
	GF("reuseport", UT_INT, g_reuseport),
	GF("listen_spec", UT_STR, g_listen_spec),
	GF("retired", UT_INT, g_retired),
	GF("roll_next", UT_INT, g_roll_next),
	GF("roll_only_up", UT_INT, g_roll_only_up),
	GF("scale_base", UT_INT, g_scale_base),
};

static void
upg_put_fields(struct jw *w, const void *obj, const struct upg_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *at = (const char *)obj + f[i].off;

		switch (f[i].type) {
		case UT_INT:	jw_kint(w, f[i].key, *(const int *)at); break;
		case UT_I64:	jw_kint(w, f[i].key, *(const int64_t *)at); break;
		case UT_U64:	jw_kint(w, f[i].key, (long long)*(const uint64_t *)at); break;
		case UT_CHARS:	jw_kstr(w, f[i].key, at); break;
		case UT_STATE:
			jw_kstr(w, f[i].key, sup_state_name(*(const enum sup_state *)at));
			break;
		case UT_STR:
			if (*(char *const *)at != NULL)
				jw_kstr(w, f[i].key, *(char *const *)at);
			break;
		}
	}
}

static void
upg_get_fields(yajl_val o, void *obj, const struct upg_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char		*at = (char *)obj + f[i].off;
		const char	*s = json_get_str(o, f[i].key);
		long long	 v;
		enum sup_state	 st;

		switch (f[i].type) {
		case UT_INT:
		case UT_I64:
		case UT_U64:
			if (json_get_int(o, f[i].key, &v) == -1)
				break;
			if (f[i].type == UT_INT)
				*(int *)at = (int)v;
			else if (f[i].type == UT_I64)
				*(int64_t *)at = v;
			else
				*(uint64_t *)at = (uint64_t)v;
			break;
		case UT_CHARS:
			if (s != NULL)
				hf_strlcpy(at, s, f[i].size);
			break;
		case UT_STATE:
			if (s != NULL && (st = sup_state_parse(s)) != SUP_NSTATES)
				*(enum sup_state *)at = st;
			break;
		case UT_STR:
			if (s != NULL) {
				free(*(char **)at);
				*(char **)at = xstrdup(s);
			}
			break;
		}
	}
}

/* ---- the state: writing --------------------------------------------------- */

static int upg_flushing;	/* writing an upgrade's state: flush queued output */

/* Deadline of a pending libevent timer on CLOCK_MONOTONIC, or -1. */
static long long
upg_timer_deadline(struct event *ev)
{
	struct timeval	 at, now;
	long long	 left_ms;

	if (ev == NULL || !event_pending(ev, EV_TIMEOUT, &at))
		return -1;
	evutil_gettimeofday(&now, NULL);
	left_ms = ((long long)at.tv_sec - now.tv_sec) * 1000 +
	    ((long long)at.tv_usec - now.tv_usec) / 1000;
	return (long long)hf_now_mono_ms() + (left_ms > 0 ? left_ms : 0);
}

static void
upg_put_proc(struct jw *w, const struct sup_proc *p)
{
	const char	*partial;
	size_t		 len;
	char		*in;
	int		 fd;

	jw_obj_open(w);
	upg_put_fields(w, p, upg_proc_fields, nitems(upg_proc_fields));
	sup_metrics_save(w, p);		/* events: the counters go on */
	jw_kint(w, "timer_at_ms", upg_timer_deadline(p->p_timer));
	/* A worker reads its channel at once; what it was not sent in 20 ms
	 * (a welcome, an error reply) is lost, nothing else. */
	if (upg_flushing && p->p_chan != NULL && !chan_peer_gone(p->p_chan))
		(void)chan_peer_flush(p->p_chan, 20);
	if (p->p_chan != NULL && !chan_peer_gone(p->p_chan)) {
		jw_key(w, "chan");
		jw_obj_open(w);
		sup_upgrade_put_fd(w, "sock", chan_peer_fd(p->p_chan));
		if ((in = chan_peer_unread(p->p_chan, &len)) != NULL)
			sup_upgrade_put_bytes(w, "in", in, len);
		free(in);
		jw_obj_close(w);
	}
	jw_key(w, "out");
	jw_arr_open(w);
	for (int s = 0; s < 2; s++) {
		if ((fd = sup_out_state(p, s, &partial, &len)) == -1) {
			jw_null(w);
			continue;
		}
		jw_obj_open(w);
		sup_upgrade_put_fd(w, "pipe", fd);
		if (len > 0)
			sup_upgrade_put_bytes(w, "partial", partial, len);
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_key(w, "ring");
	jw_arr_open(w);
	for (int i = 0; i < sup_ring_count(p->p_ring); i++) {
		const char *line = sup_ring_get(p->p_ring, i);

		if (upg_utf8_ok((const unsigned char *)line))
			jw_str(w, line);
		else {
			jw_obj_open(w);
			sup_upgrade_put_bytes(w, "x", line, strlen(line));
			jw_obj_close(w);
		}
	}
	jw_arr_close(w);
	jw_obj_close(w);
}

static void
upg_put_group(struct jw *w, const struct sup_group *g)
{
	jw_obj_open(w);
	upg_put_fields(w, g, upg_group_fields, nitems(upg_group_fields));
	jw_key(w, "listen");
	jw_arr_open(w);
	for (int i = 0; i < g->g_nlisten; i++)
		sup_upgrade_put_fd(w, NULL, g->g_listen_fds[i]);
	jw_arr_close(w);
	jw_key(w, "procs");
	jw_arr_open(w);
	for (int i = 0; i < g->g_nprocs; i++)
		upg_put_proc(w, g->g_procs[i]);
	jw_arr_close(w);
	/* Surge replacements and old processes (only in a heal state: an
	 * upgrade waits for them): the restored image stops them. */
	jw_key(w, "extra_pids");
	jw_arr_open(w);
	for (int i = 0; i < g->g_nextra; i++)
		if (g->g_extra[i]->p_pid != 0)
			jw_int(w, g->g_extra[i]->p_pid);
	jw_arr_close(w);
	jw_obj_close(w);
}

struct upg_request {
	int		 reply_fd;	/* -2: no upgrade (heal state); -1: SIGUSR2 */
	uint64_t	 t0_us;
};

/* The whole state; the descriptors it names are in upg_keep. */
static struct jw *
upg_write_state(const struct upg_request *rq)
{
	struct jw	*w = jw_new();
	const char	*fmt = getenv("HOLDFAST_TEST_STATE_FORMAT");
	long long	 f = SUP_STATE_FORMAT;

	/* Tests write a foreign format to see it refused. */
	if (fmt != NULL && rq->reply_fd != -2)
		(void)hf_parse_int(fmt, 0, 1000000, &f);
	upg_keep.n = 0;
	upg_flushing = rq->reply_fd != -2;
	jw_obj_open(w);
	jw_kint(w, "format", f);
	jw_kint(w, "min_reader", f);
	jw_kstr(w, "version", PACKAGE_VERSION);
	jw_kstr(w, "build", sup_build_id());
	jw_kint(w, "pid", (long long)getpid());
	jw_kint(w, "started_ms", (long long)sup.s_started_ms);
	jw_kint(w, "verbose", sup.s_verbose);
	jw_kstr(w, "config", sup.s_cfgpath);
	jw_kbool(w, "shutting_down", sup.s_shutting_down);
	sup_event_save(w);		/* events: the sequence goes on */
	if (rq->reply_fd != -2) {
		jw_key(w, "upgrade");
		jw_obj_open(w);
		jw_kint(w, "reply_fd", rq->reply_fd);
		jw_kint(w, "t0_us", (long long)rq->t0_us);
		jw_obj_close(w);
	}
	sup_ctl_save(w, rq->reply_fd, rq->reply_fd != -2);
	sup_sdnotify_save(w);	/* sdnotify: the children's NOTIFY_SOCKET */
	jw_key(w, "groups");
	jw_arr_open(w);
	for (struct sup_group *g = sup.s_groups; g != NULL; g = g->g_next)
		upg_put_group(w, g);
	jw_arr_close(w);
	jw_obj_close(w);
	return w;
}

static int
upg_memfd_write(int fd, const char *buf, size_t len)
{
	size_t	 off = 0;
	ssize_t	 n;

	if (ftruncate(fd, (off_t)len) == -1)
		return -1;
	while (off < len) {
		if ((n = pwrite(fd, buf + off, len - off, (off_t)off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += n;
	}
	return 0;
}

/* ---- self-heal ------------------------------------------------------------ */

static const int heal_sigs[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };

static struct {
	volatile sig_atomic_t	 armed;		/* heal.cur names a complete state */
	volatile sig_atomic_t	 cur;
	int			 memfd[2];
	int			 fds[2][SUP_HEAL_MAXFDS];
	int			 nfds[2];
	char			*argv[2][16];
	char			 fdarg[2][16];
	int			 target;	/* the image to execute */
	int			 exefd;		/* this image, O_PATH */
	int			 fallback;	/* the image before an upgrade, or -1 */
	char			 exe_path[PATH_MAX];
	char			 cfgpath[PATH_MAX];
	int			 verbose;
	char			 healarg[256];
	int64_t			 hist[SUP_HEAL_MAX + 1];	/* recent heals, mono ms */
	int			 nhist;
	int			 lastsig;	/* the signal of this heal, or 0 */
	pid_t			 manager;	/* the service manager (our parent: PID 1 for
						 * systemd itself), or 0 */
	volatile int64_t	 alive_ms;	/* the loop's last watchdog ping */
	int64_t			 stall_ms;	/* stall guard limit; 0: off */
	timer_t			 stall_timer;
	struct event		*ev_save;
	struct event		*ev_ring;
	/* the cost of keeping the state current */
	unsigned long long	 saves, save_us, save_max_us, save_bytes, last_us;
} heal = { .memfd = { -1, -1 }, .target = -1, .exefd = -1, .fallback = -1 };

static char heal_altstack[64 * 1024];

/* Digits of v at s (async-signal-safe); returns the end. */
static char *
heal_itoa(char *s, char *end, long long v)
{
	char	 d[24];
	int	 n = 0;

	if (v < 0)
		v = 0;
	do
		d[n++] = '0' + v % 10;
	while ((v /= 10) > 0 && n < (int)sizeof(d));
	while (n > 0 && s < end)
		*s++ = d[--n];
	return s;
}

static void
heal_say(const char *a, int sig, const char *b)
{
	char	 buf[160], *s = buf, *end = buf + sizeof(buf) - 1;
	size_t	 n;

	for (n = 0; a[n] != '\0' && s < end; n++)
		*s++ = a[n];
	s = heal_itoa(s, end, sig);
	for (n = 0; b[n] != '\0' && s < end; n++)
		*s++ = b[n];
	*s++ = '\n';
	/* Never blocks: a stalled stderr reader must not wedge a heal. */
	log_nb_write_raw(buf, (size_t)(s - buf));
}

static void __attribute__((noreturn))
heal_die(int sig)
{
	struct sigaction	sa;
	sigset_t		set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	kill(getpid(), sig);
	_exit(128 + sig);
}

/*
 * The self-heal: async-signal-safe calls on static data only. Counts the
 * heals of the last SUP_HEAL_WINDOW_MS (passed from image to image in
 * --healed), gives up past SUP_HEAL_MAX, else clears close-on-exec on the
 * descriptors of the current state and executes this image on it.
 */
static void
heal_go(int sig)
{
	int		 cur = heal.cur, recent = 0;
	struct timespec	 ts;
	int64_t		 now;
	char		*s = heal.healarg, *end = heal.healarg + sizeof(heal.healarg) - 1;

	if (!heal.armed || heal.target == -1) {
		heal_say("[SUP_HEAL] signal=", sig, " result=exit reason=no-state");
		heal_die(sig);
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	s = heal_itoa(s, end, sig);
	for (int i = 0; i < heal.nhist; i++)
		if (now - heal.hist[i] < SUP_HEAL_WINDOW_MS) {
			recent++;
			*s++ = ',';
			s = heal_itoa(s, end - 1, heal.hist[i]);
		}
	if (recent >= SUP_HEAL_MAX) {
		heal_say("[SUP_HEAL] signal=", sig, " result=exit reason=crash-loop "
		    "(too many self-heals in the last minute)");
		heal_die(sig);
	}
	*s++ = ',';
	s = heal_itoa(s, end, now);
	*s = '\0';
	heal_say("[SUP_HEAL] signal=", sig, " result=re-exec");
	for (int i = 0; i < heal.nfds[cur]; i++)
		fcntl(heal.fds[cur][i], F_SETFD, 0);
	fcntl(heal.memfd[cur], F_SETFD, 0);
	syscall(SYS_execveat, heal.target, "", heal.argv[cur], environ, AT_EMPTY_PATH);
	heal_say("[SUP_HEAL] signal=", sig, " result=exit reason=execveat-failed");
	heal_die(sig);
}

/*
 * A fatal signal. One sent by the service manager that started us (our
 * parent, under NOTIFY_SOCKET) is its watchdog giving up on us: it is
 * already stopping the unit and would SIGKILL everything after
 * TimeoutAbortSec, so holdfastd dies at once for Restart= to act.
 */
static void
heal_handler(int sig, siginfo_t *si, void *uc)
{
	if (si != NULL && si->si_code == SI_USER && heal.manager > 0 &&
	    si->si_pid == heal.manager) {
		heal_say("[SUP_HEAL] signal=", sig, " result=exit reason=service-manager");
		heal_die(sig);
	}
	heal_go(sig);
}

/*
 * The stall guard, when a watchdog is expected (WATCHDOG_USEC): a timer
 * signal every WATCHDOG_USEC/8 checks that the event loop pinged within
 * 5/8 of it, and heals (SIGALRM) a loop that did not, before the service
 * manager's deadline. Works inside a blocked system call too.
 */
static void
heal_stall_handler(int sig, siginfo_t *si, void *uc)
{
	struct timespec	ts;
	int64_t		now;

	if (si == NULL || si->si_code != SI_TIMER || heal.stall_ms <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (now - heal.alive_ms <= heal.stall_ms)
		return;
	heal_say("[SUP_HEAL] event loop silent past the watchdog margin: signal=", sig,
	    " reason=stall");
	heal_go(sig);
}

void
sup_heal_alive(void)
{
	const char *knob = getenv("HOLDFAST_TEST_STALL");

	heal.alive_ms = (int64_t)hf_now_mono_ms();
	/* Tests: a wedged event loop, while the file exists (removed here). */
	if (knob != NULL && unlink(knob) == 0)
		for (;;)
			pause();
}

void
sup_heal_watch(long long watchdog_us)
{
	struct sigaction	 sa;
	struct sigevent		 sev;
	struct itimerspec	 its;
	sigset_t		 set;
	long long		 step_us = watchdog_us / 8 > 1000 ? watchdog_us / 8 : 1000;

	heal.alive_ms = (int64_t)hf_now_mono_ms();
	heal.stall_ms = watchdog_us * 5 / 8 / 1000;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = heal_stall_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	/* A heal's handler left every signal blocked across execve: the guard
	 * must work while this image restores, not only once it runs. */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGALRM;
	its.it_value.tv_sec = its.it_interval.tv_sec = step_us / 1000000;
	its.it_value.tv_nsec = its.it_interval.tv_nsec = step_us % 1000000 * 1000;
	if (timer_create(CLOCK_MONOTONIC, &sev, &heal.stall_timer) == -1 ||
	    timer_settime(heal.stall_timer, 0, &its, NULL) == -1) {
		log_warn("[SUP_HEAL] timer_create: no stall guard");
		heal.stall_ms = 0;
		return;
	}
	log_info("[SUP_HEAL] stall guard: a loop silent for %lldms is re-executed",
	    (long long)heal.stall_ms);
}

/*
 * Off for good: once the event loop has returned, holdfastd is exiting, and
 * a slow exit (a large free, a sanitizer's leak check) is no stall to heal.
 */
void
sup_heal_unwatch(void)
{
	if (heal.stall_ms <= 0)
		return;
	heal.stall_ms = 0;
	timer_delete(heal.stall_timer);
}

/*
 * The start of the argv of an image that restores the state in fd:
 * argv0 -c cfgpath [-v] --restore-state fd (written into fdbuf, 16
 * bytes). Returns how many it set; the caller adds its own and the NULL.
 */
static int
upg_restore_argv(char **argv, const char *argv0, const char *cfgpath, int verbose,
    char *fdbuf, int fd)
{
	int n = 0;

	snprintf(fdbuf, 16, "%d", fd);
	argv[n++] = (char *)argv0;
	argv[n++] = (char *)"-c";
	argv[n++] = (char *)cfgpath;
	if (verbose)
		argv[n++] = (char *)"-v";
	argv[n++] = (char *)"--restore-state";
	argv[n++] = fdbuf;
	return n;
}

/* argv of a restoring image: state in memfd. */
static void
heal_build_argv(char **argv, char *fdbuf, int memfd, const char *failed)
{
	int n = upg_restore_argv(argv, "holdfastd", heal.cfgpath, heal.verbose, fdbuf,
	    memfd);

	argv[n++] = (char *)"--healed";
	argv[n++] = heal.healarg;
	if (failed != NULL) {
		argv[n++] = (char *)"--upgrade-failed";
		argv[n++] = (char *)failed;
	}
	argv[n] = NULL;
}

static void
heal_parse_history(const char *s)
{
	char		*end;
	long long	 v;

	if (s == NULL)
		return;
	heal.lastsig = (int)strtol(s, &end, 10);
	while (*end == ',' && heal.nhist < (int)nitems(heal.hist)) {
		v = strtoll(end + 1, &end, 10);
		heal.hist[heal.nhist++] = v;
	}
	/* Keep only the most recent SUP_HEAL_MAX: the handler adds one. */
	while (heal.nhist > SUP_HEAL_MAX) {
		memmove(heal.hist, heal.hist + 1, (heal.nhist - 1) * sizeof(heal.hist[0]));
		heal.nhist--;
	}
}

void
sup_heal_init(const struct sup_upgrade_args *a, const char *cfgpath, int verbose)
{
	struct sigaction	 sa;
	stack_t			 ss;
	sigset_t		 set;
	ssize_t			 n;
	char			*del;

	if ((n = readlink("/proc/self/exe", heal.exe_path, sizeof(heal.exe_path) - 1)) > 0) {
		heal.exe_path[n] = '\0';
		/* Re-executed from a replaced file: the path is the new file. */
		if ((del = strstr(heal.exe_path, " (deleted)")) != NULL && del[10] == '\0')
			*del = '\0';
	}
	heal.exefd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	heal.target = heal.exefd;
	heal.fallback = a->fallback_fd;
	if (heal.fallback != -1) {
		hf_fd_set_cloexec(heal.fallback);
		heal.target = heal.fallback;	/* until restored */
	}
	hf_strlcpy(heal.cfgpath, cfgpath, sizeof(heal.cfgpath));
	heal.verbose = verbose;
	heal_parse_history(a->healed);
	if (a->restore_fd != -1) {
		/* A crash while restoring: the same state again, into the old
		 * image when this is an upgrade. */
		heal.memfd[0] = a->restore_fd;
		heal_build_argv(heal.argv[0], heal.fdarg[0], a->restore_fd,
		    heal.fallback != -1 ? "the new image crashed while restoring "
		    "the state" : NULL);
		heal.cur = 0;
		heal.armed = 1;
	}
	ss.ss_sp = heal_altstack;
	ss.ss_size = sizeof(heal_altstack);
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) == -1)
		log_warn("sigaltstack");
	heal.manager = getenv("NOTIFY_SOCKET") != NULL ? getppid() : 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = heal_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	sigemptyset(&set);
	for (size_t i = 0; i < nitems(heal_sigs); i++) {
		sigaction(heal_sigs[i], &sa, NULL);
		sigaddset(&set, heal_sigs[i]);
	}
	/* A handler's own signal stays blocked across execve. */
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* Writes the state into the memfd not in use, then makes it current. */
static void
heal_save(void)
{
	struct upg_request	 rq = { .reply_fd = -2 };
	struct jw		*w;
	const char		*buf;
	size_t			 len;
	uint64_t		 t0 = hf_now_mono_us(), us;
	int			 next = heal.armed ? !heal.cur : 0;

	if (heal.memfd[next] == -1)
		return;
	w = upg_write_state(&rq);
	if ((buf = jw_buf(w, &len)) == NULL || upg_keep.n > SUP_HEAL_MAXFDS ||
	    upg_memfd_write(heal.memfd[next], buf, len) == -1) {
		log_warnx("[SUP_HEAL] could not save the state (%zu descriptors): "
		    "a crash now would be a full restart", (size_t)upg_keep.n);
		jw_free(w);
		return;
	}
	memcpy(heal.fds[next], upg_keep.v, upg_keep.n * sizeof(int));
	heal.nfds[next] = upg_keep.n;
	heal_build_argv(heal.argv[next], heal.fdarg[next], heal.memfd[next], NULL);
	heal.cur = next;	/* only now: a crash before uses the other one */
	heal.armed = 1;
	jw_free(w);
	us = hf_now_mono_us() - t0;
	heal.saves++;
	heal.last_us = us;
	heal.save_us += us;
	heal.save_bytes = len;
	if (us > heal.save_max_us)
		heal.save_max_us = us;
	log_debug("[SUP_HEAL] state saved bytes=%zu fds=%d us=%llu", len, upg_keep.n,
	    (unsigned long long)us);
}

static void
heal_save_cb(evutil_socket_t fd, short what, void *arg)
{
	if (heal.ev_ring != NULL)
		evtimer_del(heal.ev_ring);
	heal_save();
}

/*
 * Output-only changes wait SUP_STATE_RING_MS, or 20 times as long as the
 * last save took when that is longer: with big rings and chatty workers,
 * keeping the state current costs at most ~5 % of one CPU.
 */
void
sup_upgrade_changed(int urgent)
{
	struct timeval	tv;
	long long	ms = (long long)heal.last_us * 20 / 1000;

	if (heal.ev_save == NULL)
		return;
	ms = ms > SUP_STATE_RING_MS ? (ms < 5000 ? ms : 5000) : SUP_STATE_RING_MS;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = ms % 1000 * 1000;
	if (urgent)
		event_active(heal.ev_save, EV_TIMEOUT, 1);
	else if (!evtimer_pending(heal.ev_ring, NULL))
		evtimer_add(heal.ev_ring, &tv);
}

void
sup_upgrade_arm(void)
{
	for (int i = 0; i < 2; i++) {
		if (heal.memfd[i] != -1)
			continue;
		if ((heal.memfd[i] = memfd_create("holdfastd-state", MFD_CLOEXEC)) == -1) {
			log_warn("[SUP_HEAL] memfd_create: no self-heal");
			return;
		}
	}
	heal.ev_save = event_new(sup.s_base, -1, 0, heal_save_cb, NULL);
	heal.ev_ring = evtimer_new(sup.s_base, heal_save_cb, NULL);
	heal_save();
}

void
sup_upgrade_close(void)
{
	sup_heal_unwatch();
	heal.armed = 0;
	if (heal.ev_save != NULL)
		event_free(heal.ev_save);
	if (heal.ev_ring != NULL)
		event_free(heal.ev_ring);
	heal.ev_save = heal.ev_ring = NULL;
	for (int i = 0; i < 2; i++)
		if (heal.memfd[i] != -1)
			close(heal.memfd[i]);
	heal.memfd[0] = heal.memfd[1] = -1;
	if (heal.exefd != -1)
		close(heal.exefd);
	heal.exefd = heal.target = -1;
	free(upg_keep.v);
	upg_keep.v = NULL;
	upg_keep.n = upg_keep.cap = 0;
}

/* ---- upgrade: the check, then execve ------------------------------------- */

/*
 * `PATH --check-state FD -c CONFIG` in a child, the state on FD, its
 * output captured: 0 when it exits 0 within SUP_UPGRADE_CHECK_MS, else -1
 * with its last output line (or how it ended) in err.
 */
static int
upg_check(const char *path, int memfd, char *err, size_t errlen)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	sigset_t			 all, none;
	char				 fdbuf[16], out[SUP_CHECK_OUT_MAX], *nl;
	char				*argv[8];
	int				 pp[2], status = 0, target = memfd == 100 ? 101 : 100;
	int				 n = 0, rc, done = 0;
	size_t				 len = 0;
	pid_t				 pid;
	uint64_t			 deadline = hf_now_mono_ms() + SUP_UPGRADE_CHECK_MS;

	if (pipe2(pp, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		return -1;
	}
	snprintf(fdbuf, sizeof(fdbuf), "%d", target);
	argv[n++] = (char *)path;
	argv[n++] = (char *)"--check-state";
	argv[n++] = fdbuf;
	argv[n++] = (char *)"-c";
	argv[n++] = sup.s_cfgpath;
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sup.s_devnull, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pp[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pp[1], STDERR_FILENO);
	posix_spawn_file_actions_adddup2(&fa, memfd, target);
	posix_spawnattr_init(&at);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&pid, path, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(pp[1]);
	if (rc != 0) {
		close(pp[0]);
		snprintf(err, errlen, "cannot run %s: %s", path, strerror(rc));
		return -1;
	}
	/* Its output until EOF, then its exit; all within the deadline. */
	while (!done && hf_now_mono_ms() < deadline) {
		struct pollfd	pfd = { .fd = pp[0], .events = POLLIN };
		ssize_t		r;

		if (poll(&pfd, 1, (int)(deadline - hf_now_mono_ms())) <= 0)
			continue;
		if ((r = read(pp[0], out + len, sizeof(out) - 1 - len)) > 0)
			len += r;
		else if (r == 0 || (errno != EINTR && errno != EAGAIN))
			done = 1;
		if (len == sizeof(out) - 1)
			done = 1;
	}
	close(pp[0]);
	out[len] = '\0';
	while ((rc = waitpid(pid, &status, WNOHANG)) == 0 && hf_now_mono_ms() < deadline)
		usleep(1000);
	if (rc == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(err, errlen, "%s --check-state did not finish within %dms",
		    path, SUP_UPGRADE_CHECK_MS);
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	while (len > 0 && out[len - 1] == '\n')
		out[--len] = '\0';
	nl = strrchr(out, '\n');
	if (WIFSIGNALED(status))
		snprintf(err, errlen, "%s --check-state was killed by signal %d%s%s", path,
		    WTERMSIG(status), len ? ": " : "", nl ? nl + 1 : out);
	else if (WEXITSTATUS(status) == 2)
		snprintf(err, errlen, "%s does not take --check-state (exit 2: a holdfastd "
		    "without in-place upgrade, or not a holdfastd)", path);
	else
		snprintf(err, errlen, "%s --check-state failed (exit %d): %s", path,
		    WEXITSTATUS(status), len ? (nl ? nl + 1 : out) : "no output");
	return -1;
}

static void
upg_cloexec(const int *fds, int n, int on)
{
	for (int i = 0; i < n; i++)
		fcntl(fds[i], F_SETFD, on ? FD_CLOEXEC : 0);
}

int
sup_upgrade(int reply_fd, char *err, size_t errlen)
{
	struct upg_request	 rq = { .reply_fd = reply_fd, .t0_us = hf_now_mono_us() };
	const char		*buf;
	char			*argv[16], fdbuf[16], fbbuf[16];
	size_t			 len;
	struct jw		*w;
	int			 memfd, fb, n, saved;
	sigset_t		 block, old;

	if (sup.s_shutting_down) {
		snprintf(err, errlen, "holdfastd is shutting down");
		return -1;
	}
	if (sup_surge_busy()) {
		snprintf(err, errlen, "surge in progress (a replacement starting or an "
		    "old process stopping), retry in a moment");
		return -1;
	}
	if (heal.exe_path[0] == '\0') {
		snprintf(err, errlen, "cannot tell which file holdfastd runs from");
		return -1;
	}
	if ((memfd = memfd_create("holdfastd-upgrade", MFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "memfd_create: %s", strerror(errno));
		return -1;
	}
	w = upg_write_state(&rq);
	if ((buf = jw_buf(w, &len)) == NULL || upg_memfd_write(memfd, buf, len) == -1) {
		snprintf(err, errlen, "cannot write the state: %s", strerror(errno));
		jw_free(w);
		close(memfd);
		return -1;
	}
	jw_free(w);
	if (upg_check(heal.exe_path, memfd, err, errlen) == -1) {
		log_warnx("[SUP_UPGRADE] result=refused binary=%s reason=\"%s\"",
		    heal.exe_path, err);
		close(memfd);
		return -1;
	}
	if ((fb = open("/proc/self/exe", O_PATH)) == -1) {
		snprintf(err, errlen, "open(/proc/self/exe): %s", strerror(errno));
		close(memfd);
		return -1;
	}
	log_info("[SUP_UPGRADE] phase=exec from=%s/%s binary=%s state_bytes=%zu fds=%d "
	    "check_ms=%llu heal_saves=%llu heal_save_avg_us=%llu heal_save_max_us=%llu",
	    PACKAGE_VERSION, sup_build_id(), heal.exe_path, len, upg_keep.n,
	    (unsigned long long)((hf_now_mono_us() - rq.t0_us) / 1000), heal.saves,
	    heal.saves ? heal.save_us / heal.saves : 0, heal.save_max_us);
	sup_notify_reloading();
	/* events: a listener's command is not carried over: killed, logged */
	(void)sup_hook_stop_all("upgrade");
	/* Queued output is lost at the exec: give a slow reader a moment. */
	log_nb_drain(SUP_LOG_DRAIN_MS / 2);
	snprintf(fbbuf, sizeof(fbbuf), "%d", fb);
	n = upg_restore_argv(argv, heal.exe_path, sup.s_cfgpath, sup.s_verbose, fdbuf, memfd);
	argv[n++] = (char *)"--fallback-exe";
	argv[n++] = fbbuf;
	argv[n] = NULL;
	/* Signals arriving from here on stay pending across execve and are
	 * taken by the new image once it has its handlers. */
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &old);
	upg_cloexec(upg_keep.v, upg_keep.n, 0);
	fcntl(memfd, F_SETFD, 0);
	if (getenv("HOLDFAST_TEST_FAIL_EXEC") == NULL)	/* tests: execve failing */
		execve(heal.exe_path, argv, environ);
	else
		errno = ENOEXEC;
	saved = errno;
	upg_cloexec(upg_keep.v, upg_keep.n, 1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(memfd);
	close(fb);
	snprintf(err, errlen, "execve(%s): %s", heal.exe_path, strerror(saved));
	log_warnx("[SUP_UPGRADE] result=failed reason=\"%s\": carrying on", err);
	sup_notify_changed();
	return -1;
}

/* ---- restore ---------------------------------------------------------------- */

static struct {
	yajl_val	 tree;
	int		 fd;
	const char	*failed;
	int		 from_upgrade;
	uint64_t	 t0_us;
	char		 old_version[64];
	char		 old_build[48];
	int		 groups, procs, dropped;
} rs = { .fd = -1 };

/* Reads and parses a state; checks its format. NULL with a reason. */
static yajl_val
upg_load(int fd, char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf, perr[256];
	size_t		 off = 0;
	ssize_t		 n;
	yajl_val	 v;
	long long	 format = -1, min_reader = -1;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "state descriptor %d: %s", fd, strerror(errno));
		return NULL;
	}
	if (st.st_size <= 0 || st.st_size > SUP_STATE_MAX) {
		snprintf(err, errlen, "state descriptor %d: size %lld is not a state", fd,
		    (long long)st.st_size);
		return NULL;
	}
	buf = xmalloc(st.st_size);
	while (off < (size_t)st.st_size) {
		if ((n = pread(fd, buf + off, st.st_size - off, (off_t)off)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			snprintf(err, errlen, "reading the state: %s",
			    n == 0 ? "short read" : strerror(errno));
			free(buf);
			return NULL;
		}
		off += n;
	}
	v = json_parse(buf, off, perr, sizeof(perr));
	free(buf);
	if (v == NULL) {
		snprintf(err, errlen, "the state is not valid JSON: %s", perr);
		return NULL;
	}
	(void)json_get_int(v, "format", &format);
	(void)json_get_int(v, "min_reader", &min_reader);
	if (format < SUP_STATE_FORMAT_OLDEST || min_reader > SUP_STATE_FORMAT ||
	    min_reader < 0) {
		snprintf(err, errlen, "state format %lld (readable from format %lld) written "
		    "by holdfastd %s: this holdfastd %s reads formats %d to %d", format,
		    min_reader, json_get_str(v, "version") ? json_get_str(v, "version") : "?",
		    PACKAGE_VERSION, SUP_STATE_FORMAT_OLDEST, SUP_STATE_FORMAT);
		yajl_tree_free(v);
		return NULL;
	}
	if (json_get_array(v, "groups") == NULL || json_get_object(v, "ctl") == NULL) {
		snprintf(err, errlen, "the state has no groups or no control socket");
		yajl_tree_free(v);
		return NULL;
	}
	return v;
}

static void
upg_collect_fds(yajl_val v, int *fds, int *n, int max)
{
	long long fd, ino;

	if (YAJL_IS_OBJECT(v)) {
		if (json_get_int(v, "fd", &fd) == 0 && json_get_int(v, "ino", &ino) == 0 &&
		    *n < max)
			fds[(*n)++] = (int)fd;
		for (size_t i = 0; i < v->u.object.len; i++)
			upg_collect_fds(v->u.object.values[i], fds, n, max);
	} else if (YAJL_IS_ARRAY(v))
		for (size_t i = 0; i < v->u.array.len; i++)
			upg_collect_fds(v->u.array.values[i], fds, n, max);
}

int
sup_upgrade_check(int fd, const char *cfgpath)
{
	char		 err[CFG_ERRLEN];
	const char	*knob = getenv("HOLDFAST_TEST_FAIL_RESTORE");
	struct cfg	*cfg;
	yajl_val	 v;

	if (knob != NULL && strcmp(knob, "check") == 0) {
		fprintf(stderr, "holdfastd %s: HOLDFAST_TEST_FAIL_RESTORE=check: "
		    "refusing the state\n", PACKAGE_VERSION);
		return 1;
	}
	if ((v = upg_load(fd, err, sizeof(err))) == NULL) {
		fprintf(stderr, "holdfastd %s: %s\n", PACKAGE_VERSION, err);
		return 1;
	}
	if ((cfg = cfg_load(cfgpath, err, sizeof(err))) == NULL) {
		fprintf(stderr, "holdfastd %s: %s\n", PACKAGE_VERSION, err);
		yajl_tree_free(v);
		return 1;
	}
	printf("holdfastd %s (build %s): state ok (format %d, %zu groups), config ok\n",
	    PACKAGE_VERSION, sup_build_id(), SUP_STATE_FORMAT,
	    json_get_array(v, "groups")->u.array.len);
	cfg_free(cfg);
	yajl_tree_free(v);
	return 0;
}

/* Back to the image that was running before the upgrade, on the same
 * state, telling it why; returns only when that failed. */
static void
upg_fallback(const struct sup_upgrade_args *a, const char *why)
{
	static char	 reason[512], fdbuf[16];
	char		*argv[16];
	int		 n;

	if (a->fallback_fd == -1)
		return;
	log_errorx("[SUP_UPGRADE] result=failed reason=\"%s\": going back to the "
	    "previous image", why);
	snprintf(reason, sizeof(reason), "%s", why);
	n = upg_restore_argv(argv, "holdfastd", heal.cfgpath, heal.verbose, fdbuf,
	    a->restore_fd);
	argv[n++] = (char *)"--upgrade-failed";
	argv[n++] = reason;
	argv[n] = NULL;
	fcntl(a->restore_fd, F_SETFD, 0);
	syscall(SYS_execveat, a->fallback_fd, "", argv, environ, AT_EMPTY_PATH);
	log_warn("[SUP_UPGRADE] execveat(previous image)");
}

int
sup_upgrade_restore(const struct sup_upgrade_args *a, const char *cfgpath, int verbose)
{
	char		 err[CFG_ERRLEN];
	const char	*knob = getenv("HOLDFAST_TEST_FAIL_RESTORE"), *s;
	yajl_val	 up;
	long long	 v;

	if ((rs.tree = upg_load(a->restore_fd, err, sizeof(err))) == NULL)
		goto fail;
	heal.nfds[0] = 0;
	upg_collect_fds(rs.tree, heal.fds[0], &heal.nfds[0], SUP_HEAL_MAXFDS);
	/* Tests: a new image that fails, or crashes, while restoring. */
	if (knob != NULL && strcmp(knob, "restore") == 0 && a->fallback_fd != -1) {
		snprintf(err, sizeof(err), "HOLDFAST_TEST_FAIL_RESTORE=restore");
		goto fail;
	}
	if (knob != NULL && strcmp(knob, "crash") == 0 && a->fallback_fd != -1)
		raise(SIGSEGV);
	if (sup_upgrade_get_fd(json_get_object(rs.tree, "ctl"), "fd") == -1) {
		snprintf(err, sizeof(err), "the control socket named in the state is not open");
		goto fail;
	}
	if ((s = json_get_str(rs.tree, "config")) != NULL)
		cfgpath = s;
	if ((sup.s_cfg = cfg_load(cfgpath, err, sizeof(err))) == NULL)
		goto fail;
	rs.fd = a->restore_fd;
	rs.failed = a->failed;
	sup.s_cfgpath = xstrdup(sup.s_cfg->path);
	sup.s_verbose = verbose;
	if (json_get_int(rs.tree, "verbose", &v) == 0 && v)
		sup.s_verbose = 1;
	log_set_level(sup.s_verbose ? LOG_LVL_DEBUG : sup.s_cfg->holdfast.log_level);
	sup.s_started_ms = hf_now_mono_ms();
	if (json_get_int(rs.tree, "started_ms", &v) == 0 && v > 0)
		sup.s_started_ms = (uint64_t)v;
	if ((up = json_get_object(rs.tree, "upgrade")) != NULL) {
		rs.from_upgrade = 1;
		if (json_get_int(up, "t0_us", &v) == 0)
			rs.t0_us = (uint64_t)v;
	}
	hf_strlcpy(rs.old_version, json_get_str(rs.tree, "version") ?
	    json_get_str(rs.tree, "version") : "?", sizeof(rs.old_version));
	hf_strlcpy(rs.old_build, json_get_str(rs.tree, "build") ?
	    json_get_str(rs.tree, "build") : "?", sizeof(rs.old_build));
	return 0;
fail:
	upg_fallback(a, err);
	log_errorx("[SUP_UPGRADE] result=exit reason=\"cannot restore the state: %s\"", err);
	if (rs.tree != NULL)
		yajl_tree_free(rs.tree);
	rs.tree = NULL;
	return -1;
}

static struct sup_proc *
upg_proc(struct sup_group *g, int index, yajl_val o)
{
	struct sup_proc	*p = xcalloc(1, sizeof(*p));
	yajl_val	 ring = json_get_array(o, "ring"), out = json_get_array(o, "out");
	yajl_val	 chan = json_get_object(o, "chan");
	long long	 at;
	uint64_t	 last_msg;
	int		 hello, fd;
	char		*bytes;
	size_t		 len;

	p->p_group = g;
	p->p_index = index;
	p->p_state = SUP_STOPPED;
	p->p_db.d_state = -1;
	upg_get_fields(o, p, upg_proc_fields, nitems(upg_proc_fields));
	sup_metrics_restore(p, o);	/* events */
	if (p->p_name == NULL)
		p->p_name = g->g_nprocs == 1 ? xstrdup(g->g_name) :
		    xasprintf("%s:%d", g->g_name, index);
	p->p_ring = sup_ring_new(sup.s_cfg->holdfast.tail_lines);
	for (size_t i = 0; ring != NULL && i < ring->u.array.len; i++) {
		yajl_val l = ring->u.array.values[i];

		if (YAJL_IS_STRING(l))
			sup_ring_push(p->p_ring, l->u.string, strlen(l->u.string));
		else if ((bytes = sup_upgrade_get_bytes(l, "x", &len)) != NULL) {
			sup_ring_push(p->p_ring, bytes, len);
			free(bytes);
		}
	}
	if (g->g_wc != NULL)
		sup_proc_logfiles(p);
	for (int s = 0; s < 2 && out != NULL && (size_t)s < out->u.array.len; s++) {
		yajl_val po = out->u.array.values[s];

		if (!YAJL_IS_OBJECT(po) || (fd = sup_upgrade_get_fd(po, "pipe")) == -1)
			continue;
		bytes = sup_upgrade_get_bytes(po, "partial", &len);
		sup_out_adopt(p, s, fd, bytes, bytes != NULL ? len : 0);
		free(bytes);
	}
	if (chan != NULL && (fd = sup_upgrade_get_fd(chan, "sock")) != -1) {
		hello = p->p_hello;
		last_msg = p->p_last_msg_ms;
		sup_chan_attach(p, fd);
		p->p_hello = hello;
		p->p_last_msg_ms = last_msg;
		if ((bytes = sup_upgrade_get_bytes(chan, "in", &len)) != NULL)
			chan_peer_feed(p->p_chan, bytes, len);
		free(bytes);
		sup_hb_arm(p);
	}
	if (json_get_int(o, "timer_at_ms", &at) == 0 && at >= 0)
		sup_timer_arm(p, at > (long long)hf_now_mono_ms() ? at - (long long)hf_now_mono_ms() : 0);
	sup_sdnotify_proc_restored(p);	/* sdnotify: main pid, watchdog, checks */
	rs.procs++;
	return p;
}

/* A surge cut short by a self-heal: its replacement and old processes
 * (not in the state) are stopped; the running instances are kept. */
static void
upg_surge_abandon(struct sup_group *g, yajl_val pids)
{
	for (int i = 0; i < g->g_nprocs; i++) {
		struct sup_proc *p = g->g_procs[i];

		if (!p->p_surging)
			continue;
		log_warnx("[WORKER_SURGE_FAILED] name=%s pid=%d reason=restored: a "
		    "surge was in progress, the running process is kept", p->p_name,
		    (int)p->p_pid);
		p->p_surging = 0;
		p->p_rolling = 0;
		g->g_roll_next = -1;
	}
	for (size_t i = 0; pids != NULL && i < pids->u.array.len; i++) {
		yajl_val	 v = pids->u.array.values[i];
		siginfo_t	 si;
		pid_t		 pid;

		/* Only a child of ours: the state may be older than a reap. */
		if (!YAJL_IS_INTEGER(v) || (pid = (pid_t)YAJL_GET_INTEGER(v)) <= 1 ||
		    waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1)
			continue;
		log_info("[WORKER_SURGE] group=%s phase=abandon pid=%d: stopping it",
		    g->g_name, (int)pid);
		if (kill(-pid, SIGTERM) == -1)
			(void)kill(pid, SIGTERM);
	}
}

/* The section of the same name when the group can keep running under it
 * (same size and listen address), else NULL: the group is then retired. */
static const struct cfg_worker *
upg_match(const struct sup_group *g)
{
	const struct cfg_worker *wc = cfg_worker_find(sup.s_cfg, g->g_name);

	/* Scaled by `holdfastctl scale` from the file's numprocs: kept. */
	if (wc != NULL && !g->g_retired && g->g_scale_base > 0 &&
	    wc->numprocs == g->g_scale_base)
		((struct cfg_worker *)wc)->numprocs = g->g_nprocs;

	if (g->g_retired || wc == NULL || wc->numprocs != g->g_nprocs ||
	    wc->listen_reuseport != g->g_reuseport ||
	    strcmp(wc->listen.spec ? wc->listen.spec : "",
	    g->g_listen_spec ? g->g_listen_spec : "") != 0)
		return NULL;
	return wc;
}

static struct sup_group *
upg_group(yajl_val o)
{
	struct sup_group	*g = xcalloc(1, sizeof(*g));
	yajl_val		 listen = json_get_array(o, "listen");
	yajl_val		 procs = json_get_array(o, "procs");

	g->g_roll_next = -1;
	upg_get_fields(o, g, upg_group_fields, nitems(upg_group_fields));
	if (g->g_name == NULL)
		g->g_name = xstrdup("?");
	g->g_nprocs = procs != NULL ? (int)procs->u.array.len : 0;
	g->g_wc = upg_match(g);
	if (listen != NULL && listen->u.array.len > 0) {
		g->g_nlisten = (int)listen->u.array.len;
		g->g_listen_fds = xreallocarray(NULL, g->g_nlisten, sizeof(int));
		for (int i = 0; i < g->g_nlisten; i++)
			if ((g->g_listen_fds[i] = sup_upgrade_get_fd(listen->u.array.values[i],
			    NULL)) != -1)
				hf_fd_set_cloexec(g->g_listen_fds[i]);
	}
	g->g_procs = xcalloc(g->g_nprocs + 1, sizeof(*g->g_procs));
	for (int i = 0; i < g->g_nprocs; i++)
		g->g_procs[i] = upg_proc(g, i, procs->u.array.values[i]);
	upg_surge_abandon(g, json_get_array(o, "extra_pids"));
	rs.groups++;
	return g;
}

static char *
upg_reply(void)
{
	struct jw	*w = jw_new();
	char		*s;

	jw_obj_open(w);
	if (rs.failed != NULL) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "upgrade failed: the new holdfastd could not "
		    "take over (%s); holdfastd %s (build %s) was restored and keeps "
		    "running", rs.failed, PACKAGE_VERSION, sup_build_id());
		jw_kbool(w, "ok", 0);
		jw_kstr(w, "code", "failed");
		jw_kstr(w, "error", msg);
	} else {
		jw_kbool(w, "ok", 1);
		jw_kbool(w, "upgraded", 1);
		jw_kint(w, "pid", (long long)getpid());
		jw_kstr(w, "old_version", rs.old_version);
		jw_kstr(w, "old_build", rs.old_build);
		jw_kstr(w, "new_version", PACKAGE_VERSION);
		jw_kstr(w, "new_build", sup_build_id());
		jw_kint(w, "ms", (long long)((hf_now_mono_us() - rs.t0_us) / 1000));
		jw_kint(w, "instances", rs.procs);
	}
	jw_obj_close(w);
	/* Never NULL: text from the old image that the writer refuses (not
	 * UTF-8) must not leave the waiting client without an answer. */
	if ((s = jw_dup(w)) == NULL)
		s = xstrdup(rs.failed != NULL ? "{\"ok\":false,\"code\":\"failed\","
		    "\"error\":\"upgrade failed; the old holdfastd keeps running\"}" :
		    "{\"ok\":true,\"upgraded\":true}");
	jw_free(w);
	return s;
}

/* Groups and control socket from the state; the config's other sections
 * as new groups; groups the config no longer runs the same way retired. */
void
sup_upgrade_adopt(void)
{
	char			 err[256];
	yajl_val		 groups = json_get_array(rs.tree, "groups");
	struct sup_group	**tail = &sup.s_groups, *g;
	int			 shutting = 0;

	sup_event_restore(rs.tree);	/* events */
	sup_sdnotify_init(sup_sdnotify_saved_fd(rs.tree));	/* sdnotify */
	for (size_t i = 0; i < groups->u.array.len; i++) {
		*tail = upg_group(groups->u.array.values[i]);
		tail = &(*tail)->g_next;
	}
	for (int i = 0; i < sup.s_cfg->nworkers; i++) {
		const struct cfg_worker *wc = &sup.s_cfg->workers[i];

		for (g = sup.s_groups; g != NULL; g = g->g_next)
			if (g->g_wc == wc)
				break;
		if (g != NULL)
			continue;
		/* A section changed in shape, or added, since the last reload. */
		for (g = sup.s_groups; g != NULL; g = g->g_next)
			if (!g->g_retired && g->g_wc == NULL && strcmp(g->g_name, wc->name) == 0) {
				log_warnx("[SUP_UPGRADE] [worker:%s] changed since the last "
				    "reload: retiring the running group", wc->name);
				g->g_retired = 1;
				g->g_roll_next = -1;
				for (int k = 0; k < g->g_nprocs; k++)
					sup_proc_stop(g->g_procs[k]);
			}
		if ((*tail = sup_group_new(wc, err, sizeof(err))) == NULL)
			log_warnx("[SUP_UPGRADE] [worker:%s] not started: %s (run "
			    "`holdfastctl reload`)", wc->name, err);
		else
			tail = &(*tail)->g_next;
	}
	for (g = sup.s_groups; g != NULL; g = g->g_next)
		if (!g->g_retired && g->g_wc == NULL) {
			g->g_retired = 1;
			for (int k = 0; k < g->g_nprocs; k++)
				sup_proc_stop(g->g_procs[k]);
		}
	if (sup_ctl_restore(json_get_object(rs.tree, "ctl"), err, sizeof(err)) == -1)
		fatalx("[SUP_UPGRADE] %s", err);
	(void)json_get_bool(rs.tree, "shutting_down", &shutting);
	if (shutting)
		sup_shutdown("restored while shutting down");
}

void
sup_upgrade_restored(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);	/* what the old image blocked */
	if (rs.failed != NULL)
		log_warnx("[SUP_UPGRADE] result=failed reason=\"%s\" restored=%s/%s pid=%d",
		    rs.failed, PACKAGE_VERSION, sup_build_id(), (int)getpid());
	else if (rs.from_upgrade)
		log_info("[SUP_UPGRADE] result=upgraded old=%s/%s new=%s/%s pid=%d "
		    "groups=%d instances=%d ms=%llu", rs.old_version, rs.old_build,
		    PACKAGE_VERSION, sup_build_id(), (int)getpid(), rs.groups, rs.procs,
		    (unsigned long long)((hf_now_mono_us() - rs.t0_us) / 1000));
	/* events */
	if (rs.failed != NULL)
		sup_event_upgrade("failed", rs.old_version, rs.failed);
	else if (rs.from_upgrade)
		sup_event_upgrade("upgraded", rs.old_version, NULL);
	else if (heal.lastsig != 0)
		sup_event_upgrade("healed", rs.old_version, NULL);
	/* The client that asked hears only now, with every listener of this
	 * image bound (setup_web ran after the adoption). */
	if (rs.from_upgrade) {
		char *reply = upg_reply();

		sup_ctl_upgrade_reply(reply);
		free(reply);
	}
	if (heal.lastsig != 0)
		log_warnx("[SUP_HEAL] signal=%d result=restored pid=%d groups=%d "
		    "instances=%d heals_last_minute=%d max=%d ms=%lld", heal.lastsig,
		    (int)getpid(), rs.groups, rs.procs, heal.nhist, SUP_HEAL_MAX,
		    heal.nhist > 0 ? (long long)hf_now_mono_ms() -
		    (long long)heal.hist[heal.nhist - 1] : -1LL);
	sup_reap();	/* children that exited while no image was running */
	/* A descriptor the state named but nothing adopted (closed and reused
	 * since the state was saved, before a crash) lost close-on-exec to
	 * the handler: it must not reach a worker. */
	for (int i = 0; i < heal.nfds[0]; i++) {
		int fl = fcntl(heal.fds[0][i], F_GETFD);

		if (fl != -1 && !(fl & FD_CLOEXEC)) {
			log_debug("[SUP_UPGRADE] closing descriptor %d: named in the state, "
			    "not adopted", heal.fds[0][i]);
			close(heal.fds[0][i]);
		}
	}
	heal.nfds[0] = 0;
	yajl_tree_free(rs.tree);
	rs.tree = NULL;
	/* This memfd is the state being restored: the heal state moves to
	 * two fresh ones (sup_upgrade_arm), this one goes. */
	heal.armed = 0;
	heal.memfd[0] = -1;
	if (rs.fd != -1)
		close(rs.fd);
	rs.fd = -1;
	if (heal.fallback != -1)
		close(heal.fallback);
	heal.fallback = -1;
	heal.target = heal.exefd;
}
