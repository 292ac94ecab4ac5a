/*
 * notifyworker: a program that speaks only sd_notify (no holdfast
 * channel), for holdfastd's tests and bench/sdnotify. Its own few lines
 * send the datagrams, as any program in any language would.
 *
 *   -r MS     READY=1 after MS ms (default at once); -R never
 *   -t FILE   create FILE just before READY=1 is sent
 *   -s TEXT   STATUS=TEXT at start
 *   -w MS     WATCHDOG=1 every MS ms; -W MS stop pinging MS ms after start
 *   -T        WATCHDOG=trigger right after READY=1
 *   -D REASON X_HOLDFAST_DB=down with REASON after ready, -u MS later up
 *   -F        forking: a daemon child sends READY=1, the parent sends
 *             MAINPID=<child> and exits 0
 *   -f N      flood: N datagrams a second ("WATCHDOG=1"), sent every 10 ms
 *   -l PORT   serve HTTP on 127.0.0.1:PORT: 200 while -H FILE exists, else 503
 *   -H FILE   see -l
 *   -x USEC   EXTEND_TIMEOUT_USEC=USEC at start
 *   -e        check WATCHDOG_PID is our pid and WATCHDOG_USEC is set (exit 3)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

static struct {
	long	 ready_ms, wd_ms, wd_stop_ms, up_ms, flood;
	int	 no_ready, trigger, forking, port, check_env;
	const char *status, *down, *ready_file, *health_file, *extend;
	int	 fd, lfd;
	struct sockaddr_un sun;
	socklen_t sunlen;
} nw = { .wd_stop_ms = -1, .up_ms = -1, .fd = -1, .lfd = -1 };

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* sd_notify(3) in a few lines: one datagram to $NOTIFY_SOCKET. */
static void
notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");

	if (path == NULL)
		return;
	if (nw.fd == -1) {
		nw.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		memset(&nw.sun, 0, sizeof(nw.sun));
		nw.sun.sun_family = AF_UNIX;
		strncpy(nw.sun.sun_path, path, sizeof(nw.sun.sun_path) - 1);
		if (path[0] == '@')
			nw.sun.sun_path[0] = '\0';
		nw.sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	}
	(void)sendto(nw.fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&nw.sun,
	    nw.sunlen);
}

static void
touch(const char *file)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd != -1)
		close(fd);
}

static void
serve_one(void)
{
	int	 c = accept(nw.lfd, NULL, NULL);
	char	 buf[512];
	const char *r;

	if (c == -1)
		return;
	(void)!read(c, buf, sizeof(buf));
	r = nw.health_file != NULL && access(nw.health_file, F_OK) == 0 ?
	    "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n" :
	    "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nsick\n";
	(void)!write(c, r, strlen(r));
	close(c);
}

static void
listen_on(int port)
{
	struct sockaddr_in	 sin;
	int			 on = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	nw.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(nw.lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(nw.lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(nw.lfd, 16) == -1) {
		perror("notifyworker: bind");
		exit(1);
	}
}

static void
forking(void)
{
	char	 msg[64], c;
	int	 go[2];
	pid_t	 pid;

	/* The daemon speaks once its parent has named it (MAINPID=): before
	 * that, holdfastd does not know its pid and would ignore it. */
	if (pipe(go) == -1 || (pid = fork()) == -1)
		exit(1);
	if (pid == 0) {
		setsid();
		close(go[1]);
		(void)!read(go[0], &c, 1);
		notify("READY=1\nSTATUS=daemon");
		for (;;)
			pause();
	}
	snprintf(msg, sizeof(msg), "MAINPID=%d", (int)pid);
	notify(msg);
	(void)!write(go[1], "g", 1);
	usleep(100000);	/* the daemon's READY, then the hand-over */
	exit(0);
}

static void
check_env(void)
{
	const char *pid = getenv("WATCHDOG_PID"), *usec = getenv("WATCHDOG_USEC");

	if (pid == NULL || usec == NULL || atoi(pid) != (int)getpid() || atol(usec) <= 0) {
		fprintf(stderr, "notifyworker: WATCHDOG_PID=%s WATCHDOG_USEC=%s pid=%d\n",
		    pid ? pid : "-", usec ? usec : "-", (int)getpid());
		exit(3);
	}
}

static void
tick(long start, long *next_wd, int *ready, int *down)
{
	long	 t = now_ms() - start;
	char	 msg[128];

	if (!*ready && !nw.no_ready && t >= nw.ready_ms) {
		if (nw.ready_file != NULL)
			touch(nw.ready_file);
		notify("READY=1");
		*ready = 1;
		if (nw.trigger)
			notify("WATCHDOG=trigger");
		if (nw.down != NULL) {
			snprintf(msg, sizeof(msg), "X_HOLDFAST_DB=down\nX_HOLDFAST_DB_REASON=%s\n"
			    "X_HOLDFAST_DB_DETAIL=from notifyworker", nw.down);
			notify(msg);
			*down = 1;
		}
	}
	if (*down && nw.up_ms >= 0 && t >= nw.ready_ms + nw.up_ms) {
		notify("X_HOLDFAST_DB=up");
		*down = 0;
	}
	if (nw.wd_ms > 0 && t >= *next_wd && (nw.wd_stop_ms < 0 || t < nw.wd_stop_ms)) {
		notify("WATCHDOG=1");
		*next_wd = t + nw.wd_ms;
	}
}

int
main(int argc, char **argv)
{
	long	 start = now_ms(), next_wd = 0, sent = 0;
	int	 c, ready = 0, down = 0;

	while ((c = getopt(argc, argv, "r:Rt:s:w:W:TD:u:Ff:l:H:ex:")) != -1)
		switch (c) {
		case 'r': nw.ready_ms = atol(optarg); break;
		case 'R': nw.no_ready = 1; break;
		case 't': nw.ready_file = optarg; break;
		case 's': nw.status = optarg; break;
		case 'w': nw.wd_ms = atol(optarg); break;
		case 'W': nw.wd_stop_ms = atol(optarg); break;
		case 'T': nw.trigger = 1; break;
		case 'D': nw.down = optarg; break;
		case 'u': nw.up_ms = atol(optarg); break;
		case 'F': nw.forking = 1; break;
		case 'f': nw.flood = atol(optarg); break;
		case 'l': nw.port = atoi(optarg); break;
		case 'H': nw.health_file = optarg; break;
		case 'e': nw.check_env = 1; break;
		case 'x': nw.extend = optarg; break;
		default:
			fprintf(stderr, "notifyworker: bad option\n");
			return 2;
		}
	signal(SIGTERM, SIG_DFL);
	if (nw.check_env)
		check_env();
	if (nw.forking)
		forking();
	if (nw.port > 0)
		listen_on(nw.port);
	if (nw.extend != NULL) {
		char msg[64];

		snprintf(msg, sizeof(msg), "EXTEND_TIMEOUT_USEC=%s", nw.extend);
		notify(msg);
	}
	if (nw.status != NULL) {
		char msg[300];

		snprintf(msg, sizeof(msg), "STATUS=%s", nw.status);
		notify(msg);
	}
	for (;;) {
		struct pollfd pfd = { nw.lfd, POLLIN, 0 };

		tick(start, &next_wd, &ready, &down);
		if (nw.flood > 0) {	/* catches up: flood per second on average */
			for (long due = (now_ms() - start) * nw.flood / 1000; sent < due; sent++)
				notify("WATCHDOG=1");
			usleep(10000);
			continue;
		}
		if (poll(&pfd, nw.lfd != -1 ? 1 : 0, 20) > 0)
			serve_one();
	}
}
