/*
 * hf_listen: the descriptors passed by the systemd socket-activation
 * convention (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES), which holdfastd
 * follows for a section's `listen` socket. See holdfast/worker.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "holdfast/worker.h"

#define HFL_MAX_FDS	1024

static long
hfl_env_long(const char *name)
{
	const char	*s = getenv(name);
	char		*end;
	long		 v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno != 0 || *end != '\0' || v < 0 ? -1 : v;
}

int
holdfast_listen_fds(void)
{
	long pid = hfl_env_long("LISTEN_PID"), n = hfl_env_long("LISTEN_FDS");

	if (pid != (long)getpid() || n <= 0 || n > HFL_MAX_FDS)
		return 0;
	for (int fd = HOLDFAST_LISTEN_FDS_START; fd < HOLDFAST_LISTEN_FDS_START + n; fd++)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return (int)n;
}

int
holdfast_listen_name(int i, char *buf, size_t len)
{
	const char	*s = getenv("LISTEN_FDNAMES"), *end;
	size_t		 n;

	if (s == NULL || i < 0 || i >= holdfast_listen_fds() || len == 0)
		return -1;
	for (; i > 0; i--) {
		if ((s = strchr(s, ':')) == NULL)
			return -1;
		s++;
	}
	end = strchr(s, ':');
	n = end != NULL ? (size_t)(end - s) : strlen(s);
	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

int
holdfast_listen_socket(int type)
{
	int n = holdfast_listen_fds();

	for (int fd = HOLDFAST_LISTEN_FDS_START; fd < HOLDFAST_LISTEN_FDS_START + n; fd++) {
		int		 t;
		socklen_t	 len = sizeof(t);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &len) == 0 && t == type) {
			(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			return fd;
		}
	}
	return -1;
}
