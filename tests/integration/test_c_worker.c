/*
 * test_c_worker: examples/c-worker (a worker on the public libholdfast
 * only) under a real holdfastd, against a real PostgreSQL. It becomes
 * RUNNING by its own "ready" (startsecs = 1h), shows a status text, takes
 * its `listen` socket through LISTEN_FDS, and its DB state follows a
 * PostgreSQL stop and start in `holdfastctl status` and `holdfastctl
 * health`, while the process itself is never restarted (its heartbeats
 * keep flowing from its own poll loop).
 */
#include <check.h>
#include <signal.h>
#include <sys/socket.h>

#include "pgt.h"
#include "supt.h"

struct cw_db {
	struct hfd	*t;
	const char	*want;		/* "up" / "down" */
	char		 state[16], reason[64], text[300];
	long long	 restarts;
};

/* The example's DB state, reason and status text from status --json. */
static int
cw_db_read(struct cw_db *d)
{
	yajl_val	 tree, procs = supt_status(d->t, &tree);
	const char	*s;

	d->state[0] = d->reason[0] = d->text[0] = '\0';
	for (size_t i = 0; procs != NULL && i < procs->u.array.len; i++) {
		yajl_val p = procs->u.array.values[i], db = json_get_object(p, "db");

		if (strcmp(json_get_str(p, "name"), "cex") != 0)
			continue;
		snprintf(d->state, sizeof(d->state), "%s", json_get_str(db, "state"));
		s = json_get_str(db, "reason");
		snprintf(d->reason, sizeof(d->reason), "%s", s != NULL ? s : "");
		s = json_get_str(p, "status_text");
		snprintf(d->text, sizeof(d->text), "%s", s != NULL ? s : "");
		json_get_int(p, "restarts", &d->restarts);
	}
	yajl_tree_free(tree);
	return d->state[0] != '\0';
}

static int
cw_db_is(void *arg)
{
	struct cw_db *d = arg;

	return cw_db_read(d) && strcmp(d->state, d->want) == 0;
}

static int
cw_wait_db(struct cw_db *d, const char *want, int timeout_ms)
{
	d->want = want;
	return tu_wait_for(cw_db_is, d, timeout_ms);
}

/* The one line the example answers on its listening socket. */
static char *
cw_ask(int port)
{
	struct sockaddr_in	 sin = tu_loopback(port);
	char			 buf[128];
	ssize_t			 n;
	int			 fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return xstrdup(buf);
}

START_TEST(test_c_worker_db_outage)
{
	struct pgt	*pg = pgt_start(NULL);
	struct hfd	 t;
	struct cw_db	 d = { .t = &t };
	char		*bin = tu_buildpath("examples/c-worker/holdfast-example-c");
	int		 port = tu_free_port(SOCK_STREAM);
	char		*ini, *out = NULL, *line;
	pid_t		 pid;

	ini = xasprintf("[worker:cex]\ncommand = %s\nstartsecs = 1h\n"
	    "heartbeat_timeout = 3s\nlisten = 127.0.0.1:%d\n"
	    "environment = EXAMPLE_CONNINFO=\"%s connect_timeout=2\", EXAMPLE_PROBE_MS=200\n",
	    bin, port, pgt_conninfo(pg, "postgres"));
	supt_start(&t, "c-worker", ini);
	/* RUNNING within seconds with startsecs = 1h: its own "ready". */
	ck_assert_msg(supt_wait_state(&t, "cex", "RUNNING", 0, 10000), "example not RUNNING");
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_READY] name=cex "), 1);
	pid = supt_pid(&t, "cex");
	ck_assert_msg(cw_wait_db(&d, "up", 10000), "DB not up: %s %s", d.state, d.reason);
	ck_assert_msg(strncmp(d.text, "probes=", 7) == 0 && strstr(d.text, "db=up") != NULL,
	    "status_text: \"%s\"", d.text);
	ck_assert_int_eq(hfd_ctl(&t, "health", &out), 0);
	free(out);
	line = cw_ask(port);
	ck_assert_str_eq(line, "db up\n");
	free(line);
	ck_assert_int_eq(supt_log_count(&t, "listen_fd=3"), 1);

	/* PostgreSQL stops: down with a reason, in status and health. */
	ck_assert_int_eq(pgt_stop(pg, "fast"), 0);
	ck_assert_msg(cw_wait_db(&d, "down", 10000), "DB not down: %s", d.state);
	ck_assert_msg(strcmp(d.reason, "ConnectionRefused") == 0 ||
	    strcmp(d.reason, "ConnectionLost") == 0 || strcmp(d.reason, "ShuttingDown") == 0,
	    "reason \"%s\"", d.reason);
	ck_assert_int_eq(hfd_ctl(&t, "health", &out), 3);
	ck_assert_msg(strstr(out, "cex") != NULL && strstr(out, "down") != NULL,
	    "health output: %s", out);
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "status", &out), 0);
	ck_assert_msg(strstr(out, " down ") != NULL, "status output: %s", out);
	free(out);
	line = cw_ask(port);
	ck_assert_msg(strncmp(line, "db down ", 8) == 0, "answer: %s", line);
	free(line);

	/* And up again, the same process all along. */
	ck_assert_int_eq(pgt_restart(pg), 0);
	ck_assert_msg(cw_wait_db(&d, "up", 15000), "DB not up again: %s %s", d.state, d.reason);
	ck_assert_int_eq(hfd_ctl(&t, "health", &out), 0);
	free(out);
	ck_assert_int_eq(supt_pid(&t, "cex"), pid);
	ck_assert_int_eq(d.restarts, 0);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_HUNG]"), 0);

	/* SIGTERM: a clean exit of its own loop. */
	ck_assert_int_eq(hfd_stop(&t, 10000), 0);
	ck_assert_int_eq(tu_count_in_file(t.log, "[EXAMPLE_STOP]"), 1);
	supt_finish(&t);
	pgt_destroy(pg);
	free(bin);
	free(ini);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("c_worker");
	TCase	*tc = tu_tcase(s, "c_worker", 90);

	tcase_add_test(tc, test_c_worker_db_outage);
	return tu_run(s);
}
