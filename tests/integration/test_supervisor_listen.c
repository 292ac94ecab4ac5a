/*
 * test_supervisor_listen: listen_reuseport, with real processes.
 *
 * Guards docs/design.md §6 ([worker:NAME] listen_reuseport): the connections a
 * client makes are spread over every instance of a TCP group (one
 * SO_REUSEPORT socket per instance slot) instead of going nearly all to
 * the instance that wins the shared accept; a slot keeps its socket when
 * its process is replaced, so a rolling restart refuses no connection;
 * a reload changing numprocs (2 -> 3 -> 2) adds and closes slot sockets
 * while the group keeps answering; a slot left down (stopped) gives its
 * share to the others instead of queueing it unanswered; switching the key on a running
 * address is kept for the next start; and the key is refused for UDP.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "supt.h"
#include "tu.h"

#define BURST	200

/*
 * Opens BURST connections while the instances are stopped (SIGSTOP), then
 * lets them go and reads each "OK <pid>": what a load generator opening
 * many connections at once does, without depending on who is scheduled
 * when. Counts the answers of each pid in pids[0..npids); returns how
 * many were answered at all.
 */
static int
lt_burst(int port, const pid_t *pids, int *counts, int npids)
{
	struct sockaddr_in	 sin = tu_loopback(port);
	int			 fds[BURST], answered = 0;
	char			 buf[64];

	memset(counts, 0, npids * sizeof(*counts));
	for (int j = 0; j < npids; j++)
		kill(pids[j], SIGSTOP);
	for (int i = 0; i < BURST; i++) {
		struct timeval tv = { 5, 0 };	/* a connection nobody accepts */

		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	for (int j = 0; j < npids; j++)
		kill(pids[j], SIGCONT);
	for (int i = 0; i < BURST; i++) {
		ssize_t n;

		if (fds[i] == -1)
			continue;
		if ((n = read(fds[i], buf, sizeof(buf) - 1)) > 3 &&
		    strncmp(buf, "OK ", 3) == 0) {
			buf[n] = '\0';
			answered++;
			for (int j = 0; j < npids; j++)
				if (atoi(buf + 3) == pids[j])
					counts[j]++;
		}
		close(fds[i]);
	}
	return answered;
}

/* The socket inode behind a worker's fd 3 ("socket:[123]"), or "". */
static char *
lt_fd3(pid_t pid)
{
	char	 path[64], *buf = xcalloc(1, 64);

	snprintf(path, sizeof(path), "/proc/%d/fd/3", (int)pid);
	if (readlink(path, buf, 63) == -1)
		buf[0] = '\0';
	return buf;
}

/* How many TCP sockets listen on 127.0.0.1:port. */
static int
lt_listeners(int port)
{
	char	*cmd = xasprintf("ss -Hltn 'sport = :%d' | wc -l", port), *out = NULL;
	int	 n = -1;

	if (tu_sh(cmd, &out) == 0 && out != NULL)
		n = atoi(out);
	free(out);
	free(cmd);
	return n;
}

struct lt_count {
	int	port;
	int	want;
};

static int
lt_listeners_are(void *arg)
{
	struct lt_count *c = arg;

	return lt_listeners(c->port) == c->want;
}

static char *
lt_ini(const char *tw, int numprocs, int port)
{
	return xasprintf("[worker:web]\ncommand = %s -a -r 150\nnumprocs = %d\n"
	    "listen = 127.0.0.1:%d\nlisten_reuseport = true\n", tw, numprocs, port);
}

START_TEST(test_reuseport_spreads)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *fd0, *fd1;
	int		 port = tu_free_port(SOCK_STREAM), counts[2];
	pid_t		 pids[2];

	ini = lt_ini(tw, 2, port);
	supt_start(&t, "sup-reuseport", ini);
	ck_assert(supt_wait_state(&t, "web:0", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "web:1", "RUNNING", 0, 5000));
	pids[0] = supt_pid(&t, "web:0");
	pids[1] = supt_pid(&t, "web:1");
	/* One socket per instance, each its own. */
	fd0 = lt_fd3(pids[0]);
	fd1 = lt_fd3(pids[1]);
	ck_assert_msg(strncmp(fd0, "socket:", 7) == 0, "web:0 fd 3: %s", fd0);
	ck_assert_str_ne(fd0, fd1);
	ck_assert_int_eq(lt_listeners(port), 2);
	/* The kernel hashes connections over both: a shared socket gives
	 * nearly all of a burst to one (it accepts until EAGAIN). 20% each
	 * is far inside what hashing 200 source ports gives. */
	ck_assert_int_eq(lt_burst(port, pids, counts, 2), BURST);
	fprintf(stderr, "spread: web:0 %d, web:1 %d\n", counts[0], counts[1]);
	ck_assert_msg(counts[0] >= BURST / 5 && counts[1] >= BURST / 5,
	    "uneven: web:0 %d, web:1 %d of %d", counts[0], counts[1], BURST);
	supt_finish(&t);
	free(fd0);
	free(fd1);
	free(ini);
	free(tw);
}
END_TEST

START_TEST(test_reuseport_rolling_restart_no_refused)
{
	struct hfd	 t;
	struct supt_client c;
	char		*tw = supt_tw(), *ini, *fd0, *fd0_new;
	int		 port = tu_free_port(SOCK_STREAM);
	pid_t		 p0, p1;

	ini = lt_ini(tw, 2, port);
	supt_start(&t, "sup-reuseport-roll", ini);
	ck_assert(supt_wait_state(&t, "web:0", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "web:1", "RUNNING", 0, 5000));
	p0 = supt_pid(&t, "web:0");
	p1 = supt_pid(&t, "web:1");
	fd0 = lt_fd3(p0);
	supt_client_start(&c, &t, port, 0);
	ck_assert_int_eq(hfd_ctl(&t, "restart web >/dev/null", NULL), 0);
	ck_assert_msg(supt_wait_state(&t, "web:1", "RUNNING", p1, 5000), "web:1 not restarted");
	ck_assert_msg(supt_wait_state(&t, "web:0", "RUNNING", p0, 5000), "web:0 not restarted");
	tu_sh("sleep 0.2", NULL);
	supt_client_finish(&c);
	ck_assert_msg(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "client: %s", c.rep);
	ck_assert_msg(strstr(c.rep, " reset=0 ") != NULL, "client: %s", c.rep);
	/* The new web:0 inherited its slot's socket, not a new one. */
	fd0_new = lt_fd3(supt_pid(&t, "web:0"));
	ck_assert_str_eq(fd0_new, fd0);
	ck_assert_int_eq(lt_listeners(port), 2);
	supt_client_free(&c);
	supt_finish(&t);
	free(fd0);
	free(fd0_new);
	free(ini);
	free(tw);
}
END_TEST

static int
lt_pid_gone(void *arg)
{
	return !tu_pid_alive(*(pid_t *)arg);
}

/* Reloads to numprocs n and waits until every instance runs with a new
 * pid and exactly n sockets listen (the closed slot's process is down). */
static void
lt_reload_to(struct hfd *t, const char *tw, int port, int n, pid_t *pids)
{
	struct lt_count	 want = { port, n };
	pid_t		 old[3] = { pids[0], pids[1], pids[2] };
	char		*ini = lt_ini(tw, n, port), name[16];

	supt_write_conf(t, ini);
	kill(t->pid, SIGHUP);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "web:%d", i);
		ck_assert_msg(supt_wait_state(t, name, "RUNNING", old[i], 5000),
		    "%s not running after the reload to %d", name, n);
		pids[i] = supt_pid(t, name);
	}
	for (int i = 0; i < 3; i++)
		ck_assert_msg(old[i] == 0 || tu_wait_for(lt_pid_gone, &old[i], 5000),
		    "old instance %d still running", (int)old[i]);
	ck_assert_msg(tu_wait_for(lt_listeners_are, &want, 5000),
	    "%d sockets listen, want %d", lt_listeners(port), n);
	free(ini);
}

START_TEST(test_reuseport_reload_numprocs)
{
	struct hfd	 t;
	struct supt_client c;
	char		*tw = supt_tw(), *ini;
	int		 port = tu_free_port(SOCK_STREAM), counts[3];
	pid_t		 pids[3] = { 0, 0, 0 };

	ini = lt_ini(tw, 2, port);
	supt_start(&t, "sup-reuseport-reload", ini);
	ck_assert(supt_wait_state(&t, "web:0", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "web:1", "RUNNING", 0, 5000));
	pids[0] = supt_pid(&t, "web:0");
	pids[1] = supt_pid(&t, "web:1");
	supt_client_start(&c, &t, port, 0);

	lt_reload_to(&t, tw, port, 3, pids);
	ck_assert_int_eq(lt_burst(port, pids, counts, 3), BURST);
	fprintf(stderr, "3 instances: %d %d %d\n", counts[0], counts[1], counts[2]);
	ck_assert_msg(counts[0] > 0 && counts[1] > 0 && counts[2] > 0,
	    "an instance got nothing: %d %d %d", counts[0], counts[1], counts[2]);

	lt_reload_to(&t, tw, port, 2, pids);
	pids[2] = 0;
	ck_assert_int_eq(lt_burst(port, pids, counts, 2), BURST);
	ck_assert(counts[0] > 0 && counts[1] > 0);

	/* Nothing refused through both reloads. A connection hashed to the
	 * slot closed by 3 -> 2 after its process stopped accepting is reset
	 * (holdfast.conf(5)): counted, not failed. */
	supt_client_finish(&c);
	ck_assert_msg(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "client: %s", c.rep);
	supt_client_free(&c);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

/* A slot left down must not swallow its share of the connections: its
 * socket is closed while it is stopped and bound again by its start. */
START_TEST(test_reuseport_stopped_slot_closed)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini;
	int		 port = tu_free_port(SOCK_STREAM), counts[2];
	pid_t		 pids[2];

	ini = lt_ini(tw, 2, port);
	supt_start(&t, "sup-reuseport-stop", ini);
	ck_assert(supt_wait_state(&t, "web:0", "RUNNING", 0, 5000));
	ck_assert(supt_wait_state(&t, "web:1", "RUNNING", 0, 5000));
	pids[0] = supt_pid(&t, "web:0");
	pids[1] = supt_pid(&t, "web:1");
	ck_assert_int_eq(hfd_ctl(&t, "stop web:1 >/dev/null", NULL), 0);
	ck_assert(supt_wait_state(&t, "web:1", "STOPPED", 0, 5000));
	ck_assert_int_eq(lt_listeners(port), 1);
	ck_assert_int_eq(lt_burst(port, pids, counts, 1), BURST);
	ck_assert_int_eq(counts[0], BURST);
	ck_assert_int_eq(hfd_ctl(&t, "start web:1 >/dev/null", NULL), 0);
	ck_assert(supt_wait_state(&t, "web:1", "RUNNING", pids[1], 5000));
	pids[1] = supt_pid(&t, "web:1");
	ck_assert_int_eq(lt_listeners(port), 2);
	ck_assert_int_eq(lt_burst(port, pids, counts, 2), BURST);
	ck_assert(counts[0] > 0 && counts[1] > 0);
	supt_finish(&t);
	free(ini);
	free(tw);
}
END_TEST

/* A shared socket and SO_REUSEPORT ones cannot coexist on one address:
 * switching the key on a running address is kept for the next start. */
START_TEST(test_reuseport_switch_kept)
{
	struct hfd	 t;
	char		*tw = supt_tw(), *ini, *ini2;
	int		 port = tu_free_port(SOCK_STREAM);
	pid_t		 p0;

	ini = xasprintf("[worker:web]\ncommand = %s -a -r 150\nnumprocs = 2\n"
	    "listen = 127.0.0.1:%d\n", tw, port);
	supt_start(&t, "sup-reuseport-switch", ini);
	ck_assert(supt_wait_state(&t, "web:0", "RUNNING", 0, 5000));
	p0 = supt_pid(&t, "web:0");
	ini2 = lt_ini(tw, 2, port);
	supt_write_conf(&t, ini2);
	ck_assert_int_eq(hfd_ctl(&t, "reload >/dev/null 2>&1", NULL), 0);
	ck_assert_int_eq(supt_log_count(&t,
	    "[worker:web] listen_reuseport changed on a running address"), 1);
	ck_assert_int_eq(lt_listeners(port), 1);
	ck_assert_int_eq(supt_pid(&t, "web:0"), p0);
	supt_finish(&t);
	free(ini);
	free(ini2);
	free(tw);
}
END_TEST

START_TEST(test_reuseport_tcp_only)
{
	char	*dir = tu_tmpdir("sup-reuseport-t"), *hd = tu_buildpath("supervisor/holdfastd");
	char	*conf = xasprintf("%s/h.conf", dir), *cmd, *out = NULL;

	tu_write_file(conf, "[worker:sip]\ncommand = /bin/true\n"
	    "listen = udp:127.0.0.1:5999\nlisten_reuseport = true\n");
	cmd = xasprintf("%s -t -c %s 2>&1", hd, conf);
	ck_assert_int_ne(tu_sh(cmd, &out), 0);
	ck_assert_msg(strstr(out, "listen_reuseport needs a TCP listen address") != NULL,
	    "holdfastd -t said: %s", out);
	free(out);
	free(cmd);
	tu_rmrf(dir);
	free(dir);
	free(conf);
	free(hd);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("supervisor_listen");
	TCase	*tc = tu_tcase(s, "listen", 60);

	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(tc, test_reuseport_spreads);
	tcase_add_test(tc, test_reuseport_rolling_restart_no_refused);
	tcase_add_test(tc, test_reuseport_reload_numprocs);
	tcase_add_test(tc, test_reuseport_stopped_slot_closed);
	tcase_add_test(tc, test_reuseport_switch_kept);
	tcase_add_test(tc, test_reuseport_tcp_only);
	return tu_run(s);
}
