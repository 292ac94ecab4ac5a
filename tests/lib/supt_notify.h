/*
 * supt_notify: a NOTIFY_SOCKET for holdfastd under test, as systemd's:
 * datagrams kept in arrival order, waited on with a deadline.
 */
#ifndef HOLDFAST_SUPT_NOTIFY_H
#define HOLDFAST_SUPT_NOTIFY_H

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "supt.h"

#define NOTE_MAX	512

struct notes {
	int	 fd;
	char	*msg[NOTE_MAX];
	int	 n;
};

/* Binds a datagram socket at path ("@name": abstract). */
static void
notes_open(struct notes *ns, const char *path)
{
	struct sockaddr_un	sun;
	socklen_t		len;

	memset(ns, 0, sizeof(*ns));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path) + (path[0] != '@');
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	ns->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(ns->fd, 0);
	ck_assert_msg(bind(ns->fd, (struct sockaddr *)&sun, len) == 0, "bind(%s): %s",
	    path, strerror(errno));
}

/* Takes what arrives for ms; returns the number of datagrams taken. */
static int
notes_recv(struct notes *ns, int ms)
{
	uint64_t	deadline = hf_now_mono_ms() + ms;
	int		got = 0;

	for (;;) {
		struct pollfd	pfd = { ns->fd, POLLIN, 0 };
		int64_t		left = (int64_t)(deadline - hf_now_mono_ms());
		char		buf[1024];
		ssize_t		r;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0 ||
		    (r = recv(ns->fd, buf, sizeof(buf) - 1, 0)) <= 0)
			return got;
		buf[r] = '\0';
		if (ns->n < NOTE_MAX)
			ns->msg[ns->n++] = xstrdup(buf);
		got++;
	}
}

/* Index of the first datagram from "from" on containing needle, or -1. */
static int
notes_wait(struct notes *ns, const char *needle, int from, int ms)
{
	uint64_t deadline = hf_now_mono_ms() + ms;

	for (;;) {
		for (int i = from; i < ns->n; i++)
			if (strstr(ns->msg[i], needle) != NULL)
				return i;
		if (hf_now_mono_ms() >= deadline)
			return -1;
		notes_recv(ns, 20);
	}
}

/* Datagrams in [from, to) containing needle. */
static __attribute__((unused)) int
notes_count(struct notes *ns, const char *needle, int from, int to)
{
	int c = 0;

	for (int i = from; i < to && i < ns->n; i++)
		c += strstr(ns->msg[i], needle) != NULL;
	return c;
}

static void
notes_close(struct notes *ns)
{
	for (int i = 0; i < ns->n; i++)
		free(ns->msg[i]);
	close(ns->fd);
}

/* Two WATCHDOG=1 after index from, within ms: the pings go on. */
static __attribute__((unused)) int
notes_pings_go_on(struct notes *ns, int from, int ms)
{
	int i = notes_wait(ns, "WATCHDOG=1", from, ms);

	return i >= 0 && notes_wait(ns, "WATCHDOG=1", i + 1, ms) > i;
}

#endif
