/*
 * events_stamp: the [event:NAME] listener of bench/events.sh.
 *
 *   events_stamp FILE
 *
 * Built static (no dynamic loader before main), it appends
 * "HOLDFAST_EVENT_TIME_US now_us" to FILE as its first act: the event's
 * wall-clock stamp (taken by holdfastd at the state change) and the
 * moment the listener's command started, on the same clock.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct timespec	 ts;
	const char	*ev = getenv("HOLDFAST_EVENT_TIME_US");
	char		 line[96];
	int		 fd, n;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (argc != 2 || ev == NULL)
		return 2;
	n = snprintf(line, sizeof(line), "%s %lld\n", ev,
	    (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	if ((fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1)
		return 1;
	(void)!write(fd, line, (size_t)n);
	close(fd);
	return 0;
}
