/*
 * testworker: a worker that misbehaves on request, for holdfastd's tests
 * and bench/respawn. It speaks the real channel (chan_worker_open), so
 * what the tests see is what a real worker would cause.
 *
 *   -s FILE   first thing: append "<CLOCK_MONOTONIC ns> <pid>\n" to FILE
 *   -x        exit(1) at once, before the channel
 *   -F FILE   exit(1) at once while FILE exists (a fault an operator fixes)
 *   -C MS     crash (SIGSEGV) MS ms after start
 *   -E MS     exit(0) MS ms after start
 *   -H MS     hang MS ms after ready: stop heartbeating, block forever
 *   -T        ignore SIGTERM (only SIGKILL stops it)
 *   -R        never send ready
 *   -r MS     send ready after MS ms (default at once)
 *   -D REASON report the DB down with REASON, then -u MS later up
 *   -U REASON each SIGUSR2 flips the DB state it reports: down with
 *             REASON, then up, ... (an outage a test starts when it likes)
 *   -p N      print N lines to stdout and N to stderr at start
 *   -P MS     print a line to stdout every MS ms
 *   -f N      flood: print N lines of 200 bytes to stdout at start
 *   -a        accept on the inherited TCP socket (LISTEN_FDS) and answer
 *             each connection with "OK <pid>\n"
 *   -A MS     as -a, but accept and send ready only MS ms after start (a
 *             worker warming up before it serves)
 *   -O        leave an orphan: a grandchild that exits 200 ms later
 *   -S        send a "stats" message ({"served":7}) once ready
 *   -X        no channel: ignore HOLDFAST_CHANNEL_FD (a plain program)
 *   -B RATE   events: once ready, report the DB down ("flap") and up again,
 *             RATE changes a second (each one an event in holdfastd),
 *   -b MAX    until MAX changes were sent (default: for ever)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <event2/event.h>

#include "chan.h"
#include "json.h"
#include "log.h"
#include "util.h"

static struct {
	struct event_base	*base;
	long			 crash_ms, exit_ms, hang_ms, ready_ms, up_ms, tick_ms;
	long			 accept_ms;
	int			 no_ready, ignore_term, lines, accept, no_chan, stats, flood;
	const char		*down_reason, *flip_reason;
	int			 flipped_down;
	int			 listen_fd;
	struct event		*ev_accept;
	long			 ticks;
	long			 flap_rate, flap_max, flaps;	/* -B, -b */
} tw = { .crash_ms = -1, .exit_ms = -1, .hang_ms = -1, .up_ms = -1, .listen_fd = -1 };

static void
tw_stamp(const char *file, const struct timespec *ts)
{
	char	 buf[64];
	int	 fd, n;

	if ((fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1)
		return;
	n = snprintf(buf, sizeof(buf), "%lld %d\n",
	    (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec, (int)getpid());
	(void)!write(fd, buf, n);
	close(fd);
}

static void
tw_after(long ms, event_callback_fn fn)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms >= 0)
		event_base_once(tw.base, -1, EV_TIMEOUT, fn, NULL, &tv);
}

static void
tw_crash(evutil_socket_t fd, short what, void *arg)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	log_info("crashing on purpose");
	raise(SIGSEGV);
}

static void
tw_exit(evutil_socket_t fd, short what, void *arg)
{
	log_info("exiting on purpose");
	exit(0);
}

static void
tw_hang(evutil_socket_t fd, short what, void *arg)
{
	log_info("hanging on purpose");
	for (;;)
		pause();
}

static void
tw_up(evutil_socket_t fd, short what, void *arg)
{
	chan_worker_db(1, "testworker", NULL, 0, NULL);
}

/* -B: every 10 ms, the changes due by now (a steady RATE a second). */
static void
tw_flap(evutil_socket_t fd, short what, void *arg)
{
	static struct timespec	t0;
	struct timespec		now;
	long			due;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (t0.tv_sec == 0)
		t0 = now;
	due = (long)(((now.tv_sec - t0.tv_sec) * 1000.0 +
	    (now.tv_nsec - t0.tv_nsec) / 1e6) * tw.flap_rate / 1000.0) + 1;
	if (tw.flap_max > 0 && due > tw.flap_max)
		due = tw.flap_max;
	for (; tw.flaps < due; tw.flaps++)
		chan_worker_db(tw.flaps % 2, "testworker", tw.flaps % 2 ? NULL : "flap", 1,
		    NULL);
}

static void
tw_flap_start(void)
{
	struct timeval	 tv = { 0, 10000 };
	struct event	*ev = event_new(tw.base, -1, EV_PERSIST, tw_flap, NULL);

	event_add(ev, &tv);
	tw_flap(-1, 0, NULL);
}

static void
tw_flip(evutil_socket_t fd, short what, void *arg)
{
	tw.flipped_down = !tw.flipped_down;
	if (tw.flipped_down)
		chan_worker_db(0, "testworker", tw.flip_reason, 1, "outage on SIGUSR2");
	else
		chan_worker_db(1, "testworker", NULL, 0, NULL);
}

static void
tw_ready(evutil_socket_t fd, short what, void *arg)
{
	chan_worker_ready();
	if (tw.stats) {
		struct jw *w = jw_new();

		jw_obj_open(w);
		jw_kstr(w, "type", "stats");
		jw_kint(w, "served", 7);
		jw_obj_close(w);
		chan_worker_send(w);
		jw_free(w);
	}
	tw_after(tw.hang_ms, tw_hang);
	if (tw.flap_rate > 0)
		tw_flap_start();
}

static void
tw_tick(evutil_socket_t fd, short what, void *arg)
{
	printf("tick %ld\n", ++tw.ticks);
	fflush(stdout);
}

static void
tw_flood(int n)
{
	char pad[180];

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < n; i++)
		printf("flood %06d %s\n", i, pad);
	fflush(stdout);
}

static void
tw_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	char	 buf[64];
	int	 fd, n;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
		n = snprintf(buf, sizeof(buf), "OK %d\n", (int)getpid());
		(void)!write(fd, buf, n);
		close(fd);
	}
}

static void
tw_on_term(evutil_socket_t sig, short what, void *arg)
{
	log_info("SIGTERM: stopping");
	if (tw.ev_accept != NULL)
		event_del(tw.ev_accept);
	event_base_loopbreak(tw.base);
}

static void
tw_listen(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

	if (pid == NULL || fds == NULL || atoi(pid) != getpid() || atoi(fds) < 1) {
		log_errorx("-a: no inherited socket (LISTEN_PID=%s)", pid ? pid : "unset");
		exit(2);
	}
	tw.listen_fd = 3;
	hf_fd_set_cloexec(tw.listen_fd);
	hf_fd_set_nonblock(tw.listen_fd);
}

static void
tw_accept_start(evutil_socket_t fd, short what, void *arg)
{
	tw.ev_accept = event_new(tw.base, tw.listen_fd, EV_READ | EV_PERSIST,
	    tw_on_accept, NULL);
	event_add(tw.ev_accept, NULL);
}

/* A double fork: the grandchild is re-parented to the nearest subreaper. */
static void
tw_orphan(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (fork() == 0) {
			usleep(200000);
			_exit(0);
		}
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void
tw_options(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "s:xF:C:E:H:TRr:D:U:u:p:P:aA:XOSf:B:b:")) != -1) {
		switch (ch) {
		case 's': break;
		case 'x': exit(1);
		case 'F':
			if (access(optarg, F_OK) == 0)
				exit(1);
			break;
		case 'C': tw.crash_ms = atol(optarg); break;
		case 'E': tw.exit_ms = atol(optarg); break;
		case 'H': tw.hang_ms = atol(optarg); break;
		case 'T': tw.ignore_term = 1; break;
		case 'R': tw.no_ready = 1; break;
		case 'r': tw.ready_ms = atol(optarg); break;
		case 'D': tw.down_reason = optarg; break;
		case 'U': tw.flip_reason = optarg; break;
		case 'u': tw.up_ms = atol(optarg); break;
		case 'p': tw.lines = atoi(optarg); break;
		case 'P': tw.tick_ms = atol(optarg); break;
		case 'a': tw.accept = 1; break;
		case 'A':
			tw.accept = 1;
			tw.ready_ms = tw.accept_ms = atol(optarg);
			break;
		case 'X': tw.no_chan = 1; break;
		case 'O': tw_orphan(); break;
		case 'S': tw.stats = 1; break;
		case 'f': tw.flood = atoi(optarg); break;
		case 'B': tw.flap_rate = atol(optarg); break;
		case 'b': tw.flap_max = atol(optarg); break;
		default:
			fprintf(stderr, "testworker: bad option\n");
			exit(2);
		}
	}
}

static void
tw_print(int n)
{
	for (int i = 0; i < n; i++) {
		printf("stdout line %d\n", i);
		fprintf(stderr, "stderr line %d\n", i);
	}
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct timespec	 start;
	struct event	*ev_term, *ev_tick = NULL, *ev_flip = NULL;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "-s") == 0)
			tw_stamp(argv[i + 1], &start);
	log_init("testworker", LOG_LVL_INFO);
	tw_options(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (tw.ignore_term)
		signal(SIGTERM, SIG_IGN);
	tw.base = event_base_new();
	if (!tw.ignore_term) {
		ev_term = evsignal_new(tw.base, SIGTERM, tw_on_term, NULL);
		evsignal_add(ev_term, NULL);
	}
	if (!tw.no_chan && chan_worker_open(tw.base, "testworker", NULL, NULL) < 0)
		fatalx("HOLDFAST_CHANNEL_FD is not usable");
	if (tw.accept) {
		tw_listen();
		if (tw.accept_ms > 0)
			tw_after(tw.accept_ms, tw_accept_start);
		else
			tw_accept_start(-1, 0, NULL);
	}
	tw_print(tw.lines);
	tw_flood(tw.flood);
	if (tw.down_reason != NULL)
		chan_worker_db(0, "testworker", tw.down_reason, 1, "simulated outage");
	tw_after(tw.up_ms, tw_up);
	if (tw.flip_reason != NULL) {
		ev_flip = evsignal_new(tw.base, SIGUSR2, tw_flip, NULL);
		evsignal_add(ev_flip, NULL);
	}
	tw_after(tw.crash_ms, tw_crash);
	tw_after(tw.exit_ms, tw_exit);
	if (!tw.no_ready)
		tw_after(tw.ready_ms, tw_ready);
	if (tw.tick_ms > 0) {
		struct timeval tv = { tw.tick_ms / 1000, (tw.tick_ms % 1000) * 1000 };

		ev_tick = event_new(tw.base, -1, EV_PERSIST, tw_tick, NULL);
		event_add(ev_tick, &tv);
	}
	event_base_dispatch(tw.base);
	return 0;
}
