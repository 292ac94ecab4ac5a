/*
 * dbfreeze_load: the HTTP clients of bench/dbfreeze.sh. Each client is a
 * thread that sends one request per fresh connection (Connection: close),
 * back to back or every -i ms, until -d seconds have passed (or, with -s,
 * until the first 200). One line per request on stdout, written at the
 * end:
 *     START_US END_US STATUS
 * in CLOCK_REALTIME microseconds, so the script can line requests up with
 * the moments it froze and thawed the database. STATUS -1: connection
 * error, -2: no answer within -t ms.
 *
 *   dbfreeze_load -p PORT [-c CLIENTS] [-d SECS] [-i MS] [-t MS] [-s]
 *                 [-H HEADER] [-n ROWS] PATH
 * PATH ending in '/' gets a random id in 1..ROWS appended per request.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct rec {
	int64_t	start_us, end_us;
	int	status;
};

struct client {
	pthread_t	 th;
	unsigned	 seed;
	struct rec	*recs;
	size_t		 n, cap;
};

static int		 opt_port, opt_clients = 1, opt_interval_ms, opt_stop200;
static int		 opt_timeout_ms = 10000, opt_rows = 1000;
static double		 opt_secs = 5;
static const char	*opt_header = "", *opt_path;
static int64_t		 end_us;
static volatile int	 got200;

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Waits for fd (events) until the request's deadline; 0, or -2. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd	pfd = { .fd = fd, .events = events };
	int64_t		left = (deadline - now_us()) / 1000;

	if (left <= 0)
		return -2;
	return poll(&pfd, 1, (int)left) == 1 ? 0 : -2;
}

/* One request on a fresh connection; returns the status or -1/-2. */
static int
request(const char *req, size_t len)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET,
				    .sin_port = htons(opt_port) };
	int64_t			deadline = now_us() + (int64_t)opt_timeout_ms * 1000;
	char			buf[4096];
	size_t			got = 0;
	ssize_t			n;
	int			fd, status = -1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS)
		goto out;
	if ((status = wait_fd(fd, POLLOUT, deadline)) != 0)
		goto out;
	status = -1;
	if (write(fd, req, len) != (ssize_t)len)
		goto out;
	/* The status line is all we need; then read to EOF (the reply). */
	for (;;) {
		if ((status = wait_fd(fd, POLLIN, deadline)) != 0)
			goto out;
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			got = 12;	/* keep the status line only */
	}
	buf[got] = '\0';
	status = -1;
	if (got >= 12)
		sscanf(buf, "HTTP/1.%*d %d", &status);
out:
	close(fd);
	return status;
}

static void
keep(struct client *c, int64_t start, int64_t end, int status)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		if ((c->recs = realloc(c->recs, c->cap * sizeof(*c->recs))) == NULL)
			abort();
	}
	c->recs[c->n++] = (struct rec){ start, end, status };
}

static void *
client_run(void *arg)
{
	struct client	*c = arg;
	char		 req[1024], path[512];
	int64_t		 t0;
	int		 len, status;

	while ((t0 = now_us()) < end_us && !(opt_stop200 && got200)) {
		size_t plen = strlen(opt_path);

		if (plen > 0 && opt_path[plen - 1] == '/')
			snprintf(path, sizeof(path), "%s%d", opt_path,
			    1 + (int)(rand_r(&c->seed) % (unsigned)opt_rows));
		else
			snprintf(path, sizeof(path), "%s", opt_path);
		len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Connection: close\r\n%s%s\r\n", path, opt_header,
		    opt_header[0] != '\0' ? "\r\n" : "");
		status = request(req, (size_t)len);
		keep(c, t0, now_us(), status);
		if (status == 200)
			got200 = 1;
		if (opt_interval_ms > 0) {
			int64_t next = t0 + (int64_t)opt_interval_ms * 1000 - now_us();

			if (next > 0)
				usleep((useconds_t)next);
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct client	*cs;
	int		 ch, i;
	size_t		 j;

	while ((ch = getopt(argc, argv, "p:c:d:i:t:sH:n:")) != -1) {
		switch (ch) {
		case 'p': opt_port = atoi(optarg); break;
		case 'c': opt_clients = atoi(optarg); break;
		case 'd': opt_secs = atof(optarg); break;
		case 'i': opt_interval_ms = atoi(optarg); break;
		case 't': opt_timeout_ms = atoi(optarg); break;
		case 's': opt_stop200 = 1; break;
		case 'H': opt_header = optarg; break;
		case 'n': opt_rows = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || opt_port <= 0 || opt_clients < 1)
		goto usage;
	opt_path = argv[optind];
	end_us = now_us() + (int64_t)(opt_secs * 1e6);
	if ((cs = calloc((size_t)opt_clients, sizeof(*cs))) == NULL)
		return 1;
	for (i = 0; i < opt_clients; i++) {
		cs[i].seed = (unsigned)(now_us() ^ (i * 2654435761u));
		if (pthread_create(&cs[i].th, NULL, client_run, &cs[i]) != 0)
			return 1;
	}
	for (i = 0; i < opt_clients; i++)
		pthread_join(cs[i].th, NULL);
	for (i = 0; i < opt_clients; i++) {
		for (j = 0; j < cs[i].n; j++)
			printf("%lld %lld %d\n", (long long)cs[i].recs[j].start_us,
			    (long long)cs[i].recs[j].end_us, cs[i].recs[j].status);
		free(cs[i].recs);
	}
	free(cs);
	return 0;
usage:
	fprintf(stderr, "usage: dbfreeze_load -p PORT [-c CLIENTS] [-d SECS] [-i MS] "
	    "[-t MS] [-s] [-H HEADER] [-n ROWS] PATH\n");
	return 2;
}
