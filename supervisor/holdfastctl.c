/*
 * holdfastctl: the operator's (and scripts') client for holdfastd.
 *
 * One request per connection over the control socket (JSON lines; see
 * sup_ctl.h). Output is an aligned table, or the raw replies with --json.
 * Exit codes are a contract (docs/design.md §3): 0 all good; 3 a named process is
 * not RUNNING (status) or a DB is down (health); 2 usage; 4 no such
 * process; 1 cannot reach the supervisor (or it refused the request).
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "cfg.h"
#include "json.h"
#include "util.h"

#define CTL_EXIT_OK		0
#define CTL_EXIT_UNREACHABLE	1
#define CTL_EXIT_USAGE		2
#define CTL_EXIT_NOT_RUNNING	3
#define CTL_EXIT_NO_SUCH	4

#define CTL_REPLY_START		(16 * 1024)
/* How long a request/reply command polls for the reply before it sleeps
 * in read(2) (see ctl_read). */
#define CTL_SPIN_US		1000
#define CTL_REPLY_MAX		(16 * 1024 * 1024)

static struct {
	const char	*sock;
	const char	*cfgpath;
	int		 json;
	int		 follow;
	int		 nowait;
	int		 waiting;	/* this request waits for the processes */
	long		 lines;
	const char	*signal;	/* signal SIG */
	long long	 count;		/* scale N */
	int		 fd;
	uint64_t	 spin_until_us;	/* ctl_read polls until then */
	char		*buf;
	size_t		 len, cap;
	/* cfgcli */
	int		 dry_run;	/* reload --dry-run */
	const char	*stream;	/* tail NAME stdout|stderr */
} ctl = { .lines = 100, .fd = -1 };

static void __attribute__((noreturn))
ctl_usage(void)
{
	fprintf(stderr,
	    "usage: holdfastctl [-s socket | -c config] [--json] [--no-wait] command [args]\n"
	    "commands:\n"
	    "  status [NAME...]             state of every (or the named) process\n"
	    "  start|stop|restart NAME...|all  (waits until done, unless --no-wait)\n"
	    "  reload [--dry-run]           re-read the configuration (or say what it would do)\n"
	    "  health                       database state seen by each worker\n"
	    "  pid [NAME...]                holdfastd's pid, or the workers'\n"
	    "  tail [-f] [-n LINES] NAME [stdout|stderr]  recent output of one instance\n"
	    "  maintail [-f] [-n LINES]     holdfastd's own recent log\n"
	    "  shutdown                     stop every worker and holdfastd\n"
	    "  upgrade                      re-execute holdfastd's binary in place (same pid)\n"
	    "  scale GROUP N                run N instances (adds or removes the highest only)\n"
	    "  signal SIG NAME...           send any signal (HUP, USR1, 10) to instances or groups\n"
	    "  reopen                       reopen holdfastd's and the workers' log files\n"
	    "  events [-f]                  recent events, one a line (-f: and follow)\n"
	    "  version\n");
	exit(CTL_EXIT_USAGE);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
ctl_die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("holdfastctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

/* -s, else the control_socket of -c (or of the default config). */
static char *
ctl_socket_path(void)
{
	char		 err[CFG_ERRLEN];
	struct cfg	*cfg;
	char		*path;
	const char	*file = ctl.cfgpath;

	if (ctl.sock != NULL)
		return xstrdup(ctl.sock);
	if (file == NULL && getenv("HOLDFAST_SOCKET") != NULL)
		return xstrdup(getenv("HOLDFAST_SOCKET"));
	if (file == NULL)
		file = SYSCONFDIR "/holdfast.conf";
	if ((cfg = cfg_load(file, err, sizeof(err))) == NULL)
		ctl_die(CTL_EXIT_UNREACHABLE, "%s (use -s SOCKET or -c CONFIG)", err);
	path = xstrdup(cfg->holdfast.control_socket);
	cfg_free(cfg);
	return path;
}

static void
ctl_connect(void)
{
	struct sockaddr_un	 sun;
	char			*path = ctl_socket_path();
	struct timeval		 tv = { 10, 0 };

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		ctl_die(CTL_EXIT_UNREACHABLE, "%s: socket path too long", path);
	hf_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((ctl.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		ctl_die(CTL_EXIT_UNREACHABLE, "socket(AF_UNIX): %s", strerror(errno));
	/* tail -f and a waited-on start/stop/restart take as long as they
	 * take. Set before connect: the request follows the connect at once,
	 * and holdfastd, woken by the connect, answers it in the same turn
	 * when it is already there. */
	if (!ctl.follow && !ctl.waiting)
		setsockopt(ctl.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(ctl.fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		ctl_die(CTL_EXIT_UNREACHABLE, "connect(%s): %s (is holdfastd running?)",
		    path, strerror(errno));
	free(path);
}

static void
ctl_send(struct jw *w)
{
	const char	*req;
	char		*buf;
	size_t		 len, off = 0;
	ssize_t		 n;

	if ((req = jw_buf(w, &len)) == NULL)
		ctl_die(CTL_EXIT_USAGE, "cannot encode the request");
	/* the request and its newline in one write: one wake-up of holdfastd */
	buf = xmalloc(len + 1);
	memcpy(buf, req, len);
	buf[len++] = '\n';
	/* send(MSG_NOSIGNAL): holdfastd refuses a client (not allowed, too
	 * many connections) by writing the reason and closing; the write
	 * then fails with EPIPE, and the reason is still there to read. */
	while (off < len) {
		n = send(ctl.fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			break;
		if (n <= 0)
			ctl_die(CTL_EXIT_UNREACHABLE, "write: %s", strerror(errno));
		off += n;
	}
	free(buf);
	if (!ctl.follow && !ctl.waiting)
		ctl.spin_until_us = hf_now_mono_us() + CTL_SPIN_US;
}

/*
 * read(2) for the reply. holdfastd answers a status in tens of
 * microseconds; sleeping in read and being woken for the reply cost
 * holdfastctl about as much again (measured: a round trip +123 us with a
 * blocking read, +79 us polling). So for up to CTL_SPIN_US after a
 * request, it polls without blocking, yielding the CPU between tries (to
 * holdfastd, when they share one), then blocks as before (SO_RCVTIMEO).
 */
static ssize_t
ctl_read(void *p, size_t len)
{
	ssize_t n;

	while (ctl.spin_until_us != 0) {
		n = recv(ctl.fd, p, len, MSG_DONTWAIT);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return n;
		if (hf_now_mono_us() >= ctl.spin_until_us)
			ctl.spin_until_us = 0;
		else
			sched_yield();
	}
	return read(ctl.fd, p, len);
}

/* The next reply line, parsed; NULL at EOF. */
static yajl_val
ctl_recv(char **raw)
{
	char		*nl, err[256];
	ssize_t		 n;
	yajl_val	 v;

	while ((nl = ctl.buf ? memchr(ctl.buf, '\n', ctl.len) : NULL) == NULL) {
		/* A status reply is about 1 KB: start small (no mmap, no page
		 * faults), double while a line does not fit. */
		if (ctl.len + 4096 > ctl.cap) {
			if (ctl.cap > CTL_REPLY_MAX)
				ctl_die(CTL_EXIT_UNREACHABLE, "reply too large");
			ctl.cap = ctl.cap ? ctl.cap * 2 : CTL_REPLY_START;
			ctl.buf = xrealloc(ctl.buf, ctl.cap);
		}
		n = ctl_read(ctl.buf + ctl.len, ctl.cap - ctl.len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			ctl_die(CTL_EXIT_UNREACHABLE, "read: %s", strerror(errno));
		if (n == 0)
			return NULL;
		ctl.len += n;
	}
	*nl = '\0';
	if ((v = json_parse(ctl.buf, nl - ctl.buf, err, sizeof(err))) == NULL)
		ctl_die(CTL_EXIT_UNREACHABLE, "bad reply from holdfastd: %s", err);
	*raw = xstrdup(ctl.buf);
	ctl.len -= nl + 1 - ctl.buf;
	memmove(ctl.buf, nl + 1, ctl.len);
	return v;
}

/* The one reply to a request; exits with the mapped code on an error. */
static yajl_val
ctl_reply(void)
{
	yajl_val	 v;
	char		*raw;
	const char	*code, *msg;
	int		 ok = 0;

	if ((v = ctl_recv(&raw)) == NULL)
		ctl_die(CTL_EXIT_UNREACHABLE, "holdfastd closed the connection");
	if (ctl.json)
		puts(raw);
	free(raw);
	if (json_get_bool(v, "ok", &ok) == 0 && ok)
		return v;
	code = json_get_str(v, "code");
	msg = json_get_str(v, "error");
	if (!ctl.json)
		fprintf(stderr, "holdfastctl: %s\n", msg ? msg : "request failed");
	if (code != NULL && strcmp(code, "nosuchprocess") == 0)
		exit(CTL_EXIT_NO_SUCH);
	if (code != NULL && strcmp(code, "usage") == 0)
		exit(CTL_EXIT_USAGE);
	exit(CTL_EXIT_UNREACHABLE);
}

static yajl_val
ctl_request(const char *cmd, char **names, int nnames)
{
	struct jw *w = jw_new();

	jw_obj_open(w);
	jw_kstr(w, "cmd", cmd);
	jw_key(w, "names");
	jw_arr_open(w);
	for (int i = 0; i < nnames; i++)
		jw_str(w, names[i]);
	jw_arr_close(w);
	if (strcmp(cmd, "tail") == 0 || strcmp(cmd, "maintail") == 0) {
		jw_kbool(w, "follow", ctl.follow);
		jw_kint(w, "lines", ctl.lines);
	}
	if (ctl.stream != NULL)
		jw_kstr(w, "stream", ctl.stream);
	if (strcmp(cmd, "reload") == 0 && ctl.dry_run)
		jw_kbool(w, "dry_run", 1);
	if (strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0 ||
	    strcmp(cmd, "restart") == 0 || strcmp(cmd, "scale") == 0) {
		ctl.waiting = !ctl.nowait;
		jw_kbool(w, "wait", ctl.waiting);
	}
	if (strcmp(cmd, "signal") == 0)
		jw_kstr(w, "signal", ctl.signal);
	if (strcmp(cmd, "scale") == 0)
		jw_kint(w, "count", ctl.count);
	if (strcmp(cmd, "events") == 0)		/* events */
		jw_kbool(w, "follow", ctl.follow);
	jw_obj_close(w);
	ctl_connect();
	ctl_send(w);
	jw_free(w);
	return ctl_reply();
}

/* ---- output ------------------------------------------------------------ */

static void
ctl_dur(long long ms, char *buf, size_t len)
{
	long long s = ms / 1000;

	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

#define CTL_NCOLS	7

struct ctl_row {
	char	 col[CTL_NCOLS][160];
};

static void
ctl_row_of(yajl_val p, struct ctl_row *r)
{
	yajl_val	 db = json_get_object(p, "db");
	const char	*dbst = json_get_str(db, "state"), *reason;
	long long	 pid = 0, up = 0, restarts = 0, since = -1, retry;
	char		 d[32];

	json_get_int(p, "pid", &pid);
	json_get_int(p, "uptime_ms", &up);
	json_get_int(p, "restarts", &restarts);
	json_get_int(db, "since_ms", &since);
	snprintf(r->col[0], sizeof(r->col[0]), "%s", json_get_str(p, "name"));
	snprintf(r->col[1], sizeof(r->col[1]), "%s", json_get_str(p, "state"));
	if (pid > 0) {
		snprintf(r->col[2], sizeof(r->col[2]), "%lld", pid);
		ctl_dur(up, r->col[3], sizeof(r->col[3]));
	} else {
		hf_strlcpy(r->col[2], "-", sizeof(r->col[2]));
		hf_strlcpy(r->col[3], "-", sizeof(r->col[3]));
	}
	snprintf(r->col[4], sizeof(r->col[4]), "%lld", restarts);
	if (dbst == NULL || since < 0)
		hf_strlcpy(r->col[5], dbst ? dbst : "unknown", sizeof(r->col[5]));
	else {
		ctl_dur(since, d, sizeof(d));
		snprintf(r->col[5], sizeof(r->col[5]), "%s %s", dbst, d);
	}
	reason = json_get_str(db, "reason");
	if (json_get_str(p, "waiting_for") != NULL) {	/* cfgcli: depends_on */
		snprintf(r->col[6], sizeof(r->col[6]), "waiting for %s",
		    json_get_str(p, "waiting_for"));
		return;
	}
	if (reason == NULL && json_get_str(p, "state") != NULL &&
	    strcmp(json_get_str(p, "state"), "RUNNING") != 0)
		reason = json_get_str(p, "last_exit");
	/* sdnotify: else the status text the program sent (channel or STATUS=) */
	if (reason == NULL)
		reason = json_get_str(p, "status_text");
	if (reason == NULL)
		reason = json_get_str(json_get_object(p, "notify"), "status");
	snprintf(r->col[6], sizeof(r->col[6]), "%s", reason ? reason : "-");
	if (json_get_int(p, "retry_in_ms", &retry) == 0) {	/* cfgcli: fatal_retry */
		ctl_dur(retry, d, sizeof(d));
		snprintf(r->col[6] + strlen(r->col[6]), sizeof(r->col[6]) - strlen(r->col[6]),
		    ", retry in %s", d);
	}
}

static void
ctl_table(yajl_val procs)
{
	static const char *const hdr[CTL_NCOLS] = {
		"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "DB", "REASON",
	};
	size_t		 n = procs->u.array.len, w[CTL_NCOLS];
	struct ctl_row	*rows = xcalloc(n + 1, sizeof(*rows));

	for (int c = 0; c < CTL_NCOLS; c++) {
		hf_strlcpy(rows[0].col[c], hdr[c], sizeof(rows[0].col[c]));
		w[c] = strlen(hdr[c]);
	}
	for (size_t i = 0; i < n; i++) {
		ctl_row_of(procs->u.array.values[i], &rows[i + 1]);
		for (int c = 0; c < CTL_NCOLS; c++)
			if (strlen(rows[i + 1].col[c]) > w[c])
				w[c] = strlen(rows[i + 1].col[c]);
	}
	for (size_t i = 0; i <= n; i++) {
		for (int c = 0; c < CTL_NCOLS - 1; c++)
			printf("%-*s  ", (int)w[c], rows[i].col[c]);
		printf("%s\n", rows[i].col[CTL_NCOLS - 1]);
	}
	free(rows);
}

/* ---- commands ----------------------------------------------------------- */

static int
ctl_any(yajl_val procs, const char *key, const char *sub, const char *value, int equal)
{
	for (size_t i = 0; i < procs->u.array.len; i++) {
		yajl_val	 p = procs->u.array.values[i];
		const char	*s = sub ? json_get_str(json_get_object(p, key), sub) :
		    json_get_str(p, key);

		if (s != NULL && (strcmp(s, value) == 0) == equal)
			return 1;
	}
	return 0;
}

/* Sends cmd; the reply's "procs", shown as a table unless --json. */
static yajl_val
ctl_procs_request(const char *cmd, char **names, int n, yajl_val *reply)
{
	yajl_val	 v = ctl_request(cmd, names, n);
	yajl_val	 procs = json_get_array(v, "procs");

	if (procs == NULL)
		ctl_die(CTL_EXIT_UNREACHABLE, "bad reply from holdfastd: no procs");
	if (!ctl.json)
		ctl_table(procs);
	*reply = v;
	return procs;
}

static int
ctl_status(const char *cmd, char **names, int n)
{
	yajl_val	 v;
	yajl_val	 procs = ctl_procs_request(cmd, names, n, &v);
	int		 rc = CTL_EXIT_OK;

	if (!ctl.json && json_get_array(v, "surge") != NULL) {
		printf("\nstarting replacements and old processes stopping (surge, scale):\n");
		ctl_table(json_get_array(v, "surge"));
	}
	if (strcmp(cmd, "status") == 0 && ctl_any(procs, "state", NULL, "RUNNING", 0))
		rc = CTL_EXIT_NOT_RUNNING;
	if (strcmp(cmd, "health") == 0 && ctl_any(procs, "db", "state", "down", 1))
		rc = CTL_EXIT_NOT_RUNNING;
	yajl_tree_free(v);
	return rc;
}

static int
ctl_pid(char **names, int n)
{
	yajl_val	 v = ctl_request("pid", names, n), procs;
	long long	 pid;

	if (ctl.json)
		;
	else if ((procs = json_get_array(v, "procs")) == NULL) {
		if (json_get_int(v, "pid", &pid) == 0)
			printf("%lld\n", pid);
	} else
		for (size_t i = 0; i < procs->u.array.len; i++)
			if (json_get_int(procs->u.array.values[i], "pid", &pid) == 0)
				printf("%lld\n", pid);
	yajl_tree_free(v);
	return CTL_EXIT_OK;
}

static int
ctl_tail(char **names, int n)
{
	yajl_val	 v, lines;
	char		*raw;
	const char	*line;

	if (n == 2 && strcmp(names[1], "stdout") != 0 && strcmp(names[1], "stderr") != 0) {
		fprintf(stderr, "holdfastctl: tail: the stream is stdout or stderr, not "
		    "\"%s\"\n", names[1]);
		exit(CTL_EXIT_USAGE);
	}
	if (n == 2)
		ctl.stream = names[1];
	if (n != 1 && n != 2)
		ctl_usage();
	v = ctl_request(names == NULL ? "maintail" : "tail", names, names == NULL ? 0 : 1);
	if (!ctl.json && (lines = json_get_array(v, "lines")) != NULL)
		for (size_t i = 0; i < lines->u.array.len; i++)
			if (YAJL_IS_STRING(lines->u.array.values[i]))
				puts(lines->u.array.values[i]->u.string);
	fflush(stdout);
	yajl_tree_free(v);
	while (ctl.follow && (v = ctl_recv(&raw)) != NULL) {
		if (ctl.json)
			puts(raw);
		else if ((line = json_get_str(v, "line")) != NULL)
			puts(line);
		else if (json_get_str(v, "error") != NULL)
			fprintf(stderr, "holdfastctl: %s\n", json_get_str(v, "error"));
		fflush(stdout);
		free(raw);
		yajl_tree_free(v);
	}
	return CTL_EXIT_OK;
}

static int
ctl_simple(const char *cmd, char **names, int n, const char *done)
{
	yajl_val	 v = ctl_request(cmd, names, n);
	yajl_val	 procs = json_get_array(v, "procs");
	const char	*ver;

	if (!ctl.json && procs != NULL)
		ctl_table(procs);
	else if (!ctl.json && (ver = json_get_str(v, "version")) != NULL)
		printf("holdfastctl %s, holdfastd %s%s%s%s\n", PACKAGE_VERSION, ver,
		    json_get_str(v, "build") ? " (build " : "",
		    json_get_str(v, "build") ? json_get_str(v, "build") : "",
		    json_get_str(v, "build") ? ")" : "");
	else if (!ctl.json && done != NULL)
		puts(done);
	yajl_tree_free(v);
	return CTL_EXIT_OK;
}

/* cfgcli: "a, b" of a JSON array of strings into buf. */
static void
ctl_join(yajl_val arr, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; arr != NULL && i < arr->u.array.len; i++)
		if (YAJL_IS_STRING(arr->u.array.values[i]))
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i > 0 ? ", " : "",
			    arr->u.array.values[i]->u.string);
}

/* cfgcli: reload --dry-run, like supervisorctl's reread. */
static int
ctl_reload_dry(void)
{
	yajl_val	 v = ctl_request("reload", NULL, 0);
	yajl_val	 sec = json_get_array(v, "sections"), ch = json_get_array(v, "changes");
	size_t		 ns = sec != NULL ? sec->u.array.len : 0;
	size_t		 nc = ch != NULL ? ch->u.array.len : 0;
	char		 keys[1024];

	for (size_t i = 0; !ctl.json && i < ns; i++) {
		ctl_join(json_get_array(sec->u.array.values[i], "keys"), keys, sizeof(keys));
		printf("[%s]: %s\n", json_get_str(sec->u.array.values[i], "section"), keys);
	}
	for (size_t i = 0; !ctl.json && i < nc; i++) {
		yajl_val c = ch->u.array.values[i];

		ctl_join(json_get_array(c, "keys"), keys, sizeof(keys));
		printf("%s: would be %s%s%s%s\n", json_get_str(c, "group"),
		    json_get_str(c, "change"), keys[0] ? " (" : "", keys, keys[0] ? ")" : "");
	}
	if (!ctl.json)
		puts(ns + nc == 0 ? "dry run: a reload would change nothing" :
		    "dry run: nothing changed");
	yajl_tree_free(v);
	return CTL_EXIT_OK;
}

/* reload: what it did to each group, like supervisorctl's update. */
static int
ctl_reload(void)
{
	yajl_val	 v, ch;
	size_t		 n;

	if (ctl.dry_run)
		return ctl_reload_dry();
	v = ctl_request("reload", NULL, 0);
	ch = json_get_array(v, "changes");
	n = ch != NULL ? ch->u.array.len : 0;

	if (!ctl.json) {
		for (size_t i = 0; i < n; i++)
			printf("%s: %s\n", json_get_str(ch->u.array.values[i], "group"),
			    json_get_str(ch->u.array.values[i], "change"));
		puts(n == 0 ? "reloaded: no worker changed" : "reloaded");
	}
	yajl_tree_free(v);
	return CTL_EXIT_OK;
}

/* start/stop/restart: after waiting, 3 when a started one is not RUNNING. */
static int
ctl_change(const char *cmd, char **names, int n)
{
	yajl_val	 v;
	yajl_val	 procs = ctl_procs_request(cmd, names, n, &v);
	int		 rc = CTL_EXIT_OK;

	if (ctl.waiting && strcmp(cmd, "stop") != 0 &&
	    ctl_any(procs, "state", NULL, "RUNNING", 0))
		rc = CTL_EXIT_NOT_RUNNING;
	yajl_tree_free(v);
	return rc;
}

/* upgrade: answered by the new image on the same connection. */
static int
ctl_upgrade(void)
{
	yajl_val	 v = ctl_request("upgrade", NULL, 0);
	long long	 pid = 0, ms = -1;

	(void)json_get_int(v, "pid", &pid);
	(void)json_get_int(v, "ms", &ms);
	if (!ctl.json)
		printf("upgraded: holdfastd %s (build %s) -> %s (build %s), pid %lld, %lld ms\n",
		    json_get_str(v, "old_version") ? json_get_str(v, "old_version") : "?",
		    json_get_str(v, "old_build") ? json_get_str(v, "old_build") : "?",
		    json_get_str(v, "new_version") ? json_get_str(v, "new_version") : "?",
		    json_get_str(v, "new_build") ? json_get_str(v, "new_build") : "?", pid, ms);
	yajl_tree_free(v);
	return CTL_EXIT_OK;
}

/* signal SIG NAME...: the pids signalled, one per line. */
static int
ctl_signal(char **args, int n)
{
	yajl_val	 v, pids;
	long long	 pid;

	if (n < 2)
		ctl_usage();
	ctl.signal = args[0];
	v = ctl_request("signal", args + 1, n - 1);
	pids = json_get_array(v, "signalled");
	for (size_t i = 0; !ctl.json && pids != NULL && i < pids->u.array.len; i++)
		if (json_get_int(pids->u.array.values[i], "pid", &pid) == 0)
			printf("%s\t%lld\tSIG%s\n", json_get_str(pids->u.array.values[i], "name"),
			    pid, json_get_str(v, "signal") ? json_get_str(v, "signal") : "?");
	n = pids != NULL && pids->u.array.len > 0 ? CTL_EXIT_OK : CTL_EXIT_NOT_RUNNING;
	if (n != CTL_EXIT_OK && !ctl.json)
		fprintf(stderr, "holdfastctl: no running process to signal\n");
	yajl_tree_free(v);
	return n;
}

static int
ctl_scale(char **args, int n)
{
	if (n != 2)
		ctl_usage();
	if (hf_parse_int(args[1], 1, 256, &ctl.count) == -1) {
		fprintf(stderr, "holdfastctl: scale: bad count \"%s\" (an integer "
		    "in 1..256)\n", args[1]);
		exit(CTL_EXIT_USAGE);
	}
	return ctl_change("scale", args, 1);
}

/* ---- events ------------------------------------------------------------- */

/* "17:05:35.123 state http:0 STARTING -> RUNNING pid=4250" */
static void
ctl_event_text(yajl_val v)
{
	const char	*t = json_get_str(v, "time"), *type = json_get_str(v, "type");
	const char	*name = json_get_str(v, "name");

	printf("%.12s %s%s%s", t != NULL && strlen(t) > 11 ? t + 11 : "?",
	    type != NULL ? type : "?", name != NULL ? " " : "", name != NULL ? name : "");
	for (size_t i = 0; YAJL_IS_OBJECT(v) && i < v->u.object.len; i++) {
		const char	*k = v->u.object.keys[i];
		yajl_val	 x = v->u.object.values[i];

		if (strcmp(k, "time") == 0 || strcmp(k, "time_us") == 0 ||
		    strcmp(k, "type") == 0 || strcmp(k, "name") == 0 ||
		    strcmp(k, "group") == 0)
			continue;
		if (YAJL_IS_STRING(x))
			printf(" %s=%s", k, x->u.string);
		else if (YAJL_IS_INTEGER(x))
			printf(" %s=%lld", k, YAJL_GET_INTEGER(x));
	}
	putchar('\n');
}

/* events [-f]: the recent ones, then (-f) each as it happens. Output is
 * one event a line: JSON with --json, else text. */
static int
ctl_events(int n)
{
	yajl_val	 v;
	long long	 count = 0;
	char		*raw;
	int		 json = ctl.json;

	if (n != 0)
		ctl_usage();
	ctl.json = 0;		/* the first reply is not an event */
	v = ctl_request("events", NULL, 0);
	ctl.json = json;
	(void)json_get_int(v, "count", &count);
	yajl_tree_free(v);
	while ((count-- > 0 || ctl.follow) && (v = ctl_recv(&raw)) != NULL) {
		if (json_get_str(v, "error") != NULL) {
			fprintf(stderr, "holdfastctl: %s\n", json_get_str(v, "error"));
			exit(CTL_EXIT_UNREACHABLE);
		}
		if (ctl.json)
			puts(raw);
		else
			ctl_event_text(v);
		fflush(stdout);
		free(raw);
		yajl_tree_free(v);
	}
	return CTL_EXIT_OK;
}

static int
ctl_run(const char *cmd, char **args, int n)
{
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "health") == 0)
		return ctl_status(cmd, args, n);
	if (strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0 ||
	    strcmp(cmd, "restart") == 0) {
		if (n == 0)
			ctl_usage();
		return ctl_change(cmd, args, n);
	}
	if (strcmp(cmd, "pid") == 0)
		return ctl_pid(args, n);
	if (strcmp(cmd, "tail") == 0)
		return ctl_tail(args, n);
	if (strcmp(cmd, "maintail") == 0 && n == 0)	/* cfgcli */
		return ctl_tail(NULL, 1);
	if (strcmp(cmd, "signal") == 0)
		return ctl_signal(args, n);
	if (strcmp(cmd, "scale") == 0)
		return ctl_scale(args, n);
	if (strcmp(cmd, "events") == 0)		/* events */
		return ctl_events(n);
	if (n != 0)
		ctl_usage();
	if (strcmp(cmd, "reload") == 0)
		return ctl_reload();
	if (strcmp(cmd, "shutdown") == 0)
		return ctl_simple(cmd, NULL, 0, "shutting down");
	if (strcmp(cmd, "version") == 0)
		return ctl_simple(cmd, NULL, 0, NULL);
	if (strcmp(cmd, "upgrade") == 0)
		return ctl_upgrade();
	if (strcmp(cmd, "reopen") == 0)
		return ctl_simple(cmd, NULL, 0, "reopened");
	fprintf(stderr, "holdfastctl: unknown command \"%s\"\n", cmd);
	ctl_usage();
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "no-wait", no_argument, NULL, 'W' },
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "dry-run", no_argument, NULL, 'D' },	/* cfgcli: reload --dry-run */
		{ NULL, 0, NULL, 0 },
	};
	long long	 n;
	int		 ch, rc;

	while ((ch = getopt_long(argc, argv, "s:c:fjn:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': ctl.sock = optarg; break;
		case 'c': ctl.cfgpath = optarg; break;
		case 'f': ctl.follow = 1; break;
		case 'j': ctl.json = 1; break;
		case 'W': ctl.nowait = 1; break;
		case 'D': ctl.dry_run = 1; break;
		case 'n':
			if (hf_parse_int(optarg, 0, 1000000, &n) == -1)
				ctl_usage();
			ctl.lines = (long)n;
			break;
		default: ctl_usage();
		}
	}
	if (optind >= argc)
		ctl_usage();
	if (strcmp(argv[optind], "version") == 0 && ctl.sock == NULL &&
	    ctl.cfgpath == NULL && getenv("HOLDFAST_SOCKET") == NULL) {
		printf("holdfastctl %s\n", PACKAGE_VERSION);
		return CTL_EXIT_OK;
	}
	rc = ctl_run(argv[optind], argv + optind + 1, argc - optind - 1);
	free(ctl.buf);		/* a clean exit frees everything (valgrind.sh) */
	return rc;
}
