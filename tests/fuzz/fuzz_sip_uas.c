/*
 * fuzz_sip_uas: holdfast-telephony's UAS (workers/telephony/sip_uas.c) on
 * a sequence of datagrams, not only the parser: calls are created,
 * answered, cancelled, ended and timed out by what the input says, and
 * after every datagram the UAS invariant (sip_uas_check: every call
 * object has a live timer, the counters agree with the tables) must hold.
 *
 * Input: chunks separated by the line "%%". The first byte of a chunk
 * picks the sender (one of four client sockets: byte % 4) and is not
 * sent; a chunk whose first byte is '~' sends nothing and lets 5 ms of
 * timers run (T1 is 1 ms: retransmissions, Timer H, tombstones).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "fuzz.h"
#include "log.h"
#include "sip_uas.h"
#include "util.h"

#define FUZZ_NCLIENTS	4

static int fuzz_sfd = -1, fuzz_cfd[FUZZ_NCLIENTS];
static struct sockaddr_in fuzz_to;

static int
fuzz_udp(struct sockaddr_in *sin)
{
	socklen_t	len = sizeof(*sin);
	int		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) == -1)
		abort();
	return fd;
}

static void
fuzz_setup(void)
{
	struct sockaddr_in sin;

	if (fuzz_sfd != -1)
		return;
	log_init("fuzz_sip_uas", LOG_LVL_ERROR);
	fuzz_sfd = fuzz_udp(&fuzz_to);
	for (int i = 0; i < FUZZ_NCLIENTS; i++)
		fuzz_cfd[i] = fuzz_udp(&sin);
}

static void
fuzz_run(struct event_base *base, int ms)
{
	uint64_t end = hf_now_mono_ms() + (uint64_t)ms;

	do {
		struct timeval tv = { 0, 1000 };

		event_base_loopexit(base, &tv);
		event_base_loop(base, 0);
	} while (hf_now_mono_ms() < end);
}

static void
fuzz_drain(void)
{
	char buf[2048];

	for (int i = 0; i < FUZZ_NCLIENTS; i++)
		while (recv(fuzz_cfd[i], buf, sizeof(buf), 0) >= 0)
			;
}

static void
fuzz_check(const struct sip_uas *u)
{
	char why[256];

	if (sip_uas_check(u, why, sizeof(why)) != 0) {
		fprintf(stderr, "fuzz_sip_uas: invariant broken: %s\n", why);
		abort();
	}
}

static void
fuzz_chunk(struct event_base *base, struct sip_uas *u, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	if (p[0] == '~')
		fuzz_run(base, 5);
	else if (n > 1) {
		(void)sendto(fuzz_cfd[p[0] % FUZZ_NCLIENTS], p + 1, n - 1, 0,
		    (struct sockaddr *)&fuzz_to, sizeof(fuzz_to));
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	fuzz_check(u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_uas_cfg	 cfg = { .t1_ms = 1, .max_calls = 4, .rtp_port_min = 40000,
	    .rtp_port_max = 40010, .source_rate = 1000, .answer_after_ms = 2 };
	struct event_base	*base;
	struct sip_uas		*u;
	const uint8_t		*p = data, *end = data + size;

	fuzz_setup();
	base = event_base_new();
	u = sip_uas_new(base, fuzz_sfd, &cfg, NULL);
	while (p < end) {
		const uint8_t *sep = memmem(p, (size_t)(end - p), "\n%%\n", 4);
		const uint8_t *stop = sep != NULL ? sep : end;

		fuzz_chunk(base, u, p, (size_t)(stop - p));
		p = sep != NULL ? sep + 4 : end;
	}
	fuzz_run(base, 1);
	fuzz_check(u);
	sip_uas_free(u);
	event_base_free(base);
	fuzz_drain();
	return 0;
}
