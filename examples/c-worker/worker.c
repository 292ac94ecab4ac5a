/*
 * holdfast-example-c: a worker written against the public libholdfast
 * only (holdfast/worker.h), as a program outside the holdfast tree would
 * be. It probes its own PostgreSQL with libpq, without blocking, every
 * EXAMPLE_PROBE_MS (default 1000) and reports the result to holdfastd:
 * `holdfastctl status` shows its DB column, `holdfastctl health` fails
 * while the database is down. When holdfastd passes it a `listen` socket
 * it answers each connection with one line, "db up" or "db down REASON".
 *
 * The database: EXAMPLE_CONNINFO, or libpq's own defaults and PG*
 * variables (PGHOST, PGPORT, PGUSER, PGDATABASE...).
 *
 * Build it outside the tree:
 *   cc -o holdfast-example-c worker.c $(pkg-config --cflags --libs holdfast libpq)
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <holdfast/worker.h>
#include <libpq-fe.h>

enum ex_db { EX_IDLE, EX_CONNECTING, EX_QUERYING };

struct ex {
	struct holdfast	*hf;
	const char	*conninfo;
	int		 probe_ms;
	int		 listen_fd;
	PGconn		*conn;		/* kept between probes */
	enum ex_db	 db;
	PostgresPollingStatusType want;	/* while connecting */
	uint64_t	 next_probe, deadline;
	int		 up;		/* -1 not known yet */
	char		 reason[64];
	long		 probes, served;
	int		 ready;
};

static volatile sig_atomic_t ex_stop;

static void
ex_on_signal(int sig)
{
	ex_stop = sig;
}

static uint64_t
ex_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
ex_log(void *arg, int level, const char *msg)
{
	(void)arg;
	fprintf(stderr, "holdfast-example-c: %s%s\n",
	    level <= LOG_WARNING ? "warning: " : "", msg);
}

/* A short CamelCase reason from libpq's message (the DB and REASON
 * columns of holdfastctl status). */
static const char *
ex_classify(const char *msg)
{
	static const struct { const char *needle, *reason; } map[] = {
		{ "Connection refused", "ConnectionRefused" },
		{ "No such file or directory", "ConnectionRefused" },
		{ "authentication failed", "AuthFailed" },
		{ "does not exist", "DatabaseMissing" },
		{ "shutting down", "ShuttingDown" },
		{ "starting up", "StartingUp" },
		{ "terminating connection", "ConnectionLost" },
		{ "server closed the connection", "ConnectionLost" },
		{ "no connection to the server", "ConnectionLost" },
		{ "timeout", "Timeout" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strstr(msg, map[i].needle) != NULL)
			return map[i].reason;
	return "Unavailable";
}

/* Tells holdfastd, on a change only; the first result also means ready
 * (the worker serves, with its database or without). */
static void
ex_report(struct ex *x, int up, const char *reason, const char *detail)
{
	if (up != x->up || strcmp(reason, x->reason) != 0) {
		x->up = up;
		snprintf(x->reason, sizeof(x->reason), "%s", reason);
		holdfast_db(x->hf, up, up ? NULL : reason, detail);
		fprintf(stderr, "holdfast-example-c: [EXAMPLE_DB] state=%s reason=%s\n",
		    up ? "up" : "down", up ? "-" : reason);
	}
	holdfast_status(x->hf, "probes=%ld db=%s served=%ld", x->probes,
	    up ? "up" : "down", x->served);
	if (!x->ready) {
		x->ready = 1;
		holdfast_ready(x->hf);
	}
	x->db = EX_IDLE;
	x->next_probe = ex_now_ms() + (uint64_t)x->probe_ms;
}

static void
ex_fail(struct ex *x, const char *why)
{
	char	 detail[256];
	char	*nl;

	snprintf(detail, sizeof(detail), "%s",
	    why != NULL ? why : x->conn != NULL ? PQerrorMessage(x->conn) : "out of memory");
	if ((nl = strchr(detail, '\n')) != NULL)
		*nl = '\0';
	PQfinish(x->conn);
	x->conn = NULL;
	ex_report(x, 0, ex_classify(detail), detail);
}

static void
ex_query(struct ex *x)
{
	if (!PQsendQueryParams(x->conn, "SELECT 1", 0, NULL, NULL, NULL, NULL, 0)) {
		ex_fail(x, NULL);
		return;
	}
	x->db = EX_QUERYING;
}

static void
ex_probe_start(struct ex *x)
{
	x->probes++;
	x->deadline = ex_now_ms() + (uint64_t)(x->probe_ms > 1000 ? 3 * x->probe_ms : 3000);
	if (x->conn != NULL) {
		ex_query(x);
		return;
	}
	x->conn = PQconnectStart(x->conninfo);
	if (x->conn == NULL || PQstatus(x->conn) == CONNECTION_BAD) {
		ex_fail(x, NULL);
		return;
	}
	x->db = EX_CONNECTING;
	x->want = PGRES_POLLING_WRITING;
}

/* The DB socket is ready (or the deadline passed). */
static void
ex_probe_step(struct ex *x)
{
	PGresult *res;

	if (ex_now_ms() >= x->deadline) {
		ex_fail(x, "probe timeout");
		return;
	}
	if (x->db == EX_CONNECTING) {
		x->want = PQconnectPoll(x->conn);
		if (x->want == PGRES_POLLING_FAILED)
			ex_fail(x, NULL);
		else if (x->want == PGRES_POLLING_OK)
			ex_query(x);
		return;
	}
	if (!PQconsumeInput(x->conn)) {
		ex_fail(x, NULL);
		return;
	}
	while (!PQisBusy(x->conn)) {
		if ((res = PQgetResult(x->conn)) == NULL) {
			ex_report(x, 1, "", NULL);
			return;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			PQclear(res);
			ex_fail(x, NULL);
			return;
		}
		PQclear(res);
	}
}

static void
ex_serve(struct ex *x)
{
	char	 line[96];
	int	 fd, n;

	while ((fd = accept(x->listen_fd, NULL, NULL)) != -1) {
		n = snprintf(line, sizeof(line), "db %s%s%s\n",
		    x->up == 1 ? "up" : x->up == 0 ? "down" : "unknown",
		    x->up == 0 ? " " : "", x->up == 0 ? x->reason : "");
		(void)send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		x->served++;
	}
}

static int
ex_timeout(const struct ex *x)
{
	uint64_t	 now = ex_now_ms(), due = x->db == EX_IDLE ? x->next_probe : x->deadline;
	int		 t = due > now ? (int)(due - now) : 0, h = holdfast_timeout_ms(x->hf);

	return h >= 0 && h < t ? h : t;
}

static void
ex_loop(struct ex *x)
{
	struct pollfd	 pfd[3];

	while (!ex_stop) {
		pfd[0].fd = holdfast_fd(x->hf);
		pfd[0].events = (short)holdfast_events(x->hf);
		pfd[1].fd = x->db != EX_IDLE ? PQsocket(x->conn) : -1;
		pfd[1].events = x->db == EX_CONNECTING && x->want == PGRES_POLLING_WRITING ?
		    POLLOUT : POLLIN;
		pfd[2].fd = x->listen_fd;
		pfd[2].events = POLLIN;
		pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
		if (poll(pfd, 3, ex_timeout(x)) == -1 && errno != EINTR)
			break;
		/* Ready or not, the library knows what is due (heartbeats). */
		if (holdfast_tick(x->hf) == -1) {
			fprintf(stderr, "holdfast-example-c: holdfastd gone (%s): exiting\n",
			    holdfast_error(x->hf));
			break;
		}
		if (x->db == EX_IDLE && ex_now_ms() >= x->next_probe)
			ex_probe_start(x);
		else if (x->db != EX_IDLE && (pfd[1].revents != 0 || ex_now_ms() >= x->deadline))
			ex_probe_step(x);
		if (pfd[2].revents != 0)
			ex_serve(x);
	}
}

int
main(void)
{
	struct ex		 x = { .up = -1, .listen_fd = -1, .db = EX_IDLE };
	struct sigaction	 sa;
	const char		*ms = getenv("EXAMPLE_PROBE_MS");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ex_on_signal;	/* no SA_RESTART: poll returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	x.conninfo = getenv("EXAMPLE_CONNINFO") != NULL ? getenv("EXAMPLE_CONNINFO") : "";
	x.probe_ms = ms != NULL && atoi(ms) >= 10 ? atoi(ms) : 1000;
	if (holdfast_open(&x.hf, "holdfast-example-c") == -1) {
		perror("holdfast-example-c: HOLDFAST_CHANNEL_FD");
		return 1;
	}
	holdfast_set_log(x.hf, ex_log, NULL);
	x.listen_fd = holdfast_listen_socket(SOCK_STREAM);
	fprintf(stderr, "holdfast-example-c: [EXAMPLE_START] instance=%s supervised=%d listen_fd=%d\n",
	    holdfast_instance("holdfast-example-c"), holdfast_connected(x.hf), x.listen_fd);
	holdfast_status(x.hf, "starting");
	ex_loop(&x);
	fprintf(stderr, "holdfast-example-c: [EXAMPLE_STOP] probes=%ld\n", x.probes);
	PQfinish(x.conn);
	holdfast_close(x.hf);
	if (x.listen_fd != -1)
		close(x.listen_fd);
	return 0;
}
