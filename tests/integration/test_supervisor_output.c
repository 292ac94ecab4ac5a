/*
 * test_supervisor_output: holdfastd is never blocked by its own output.
 *
 * Guards: with holdfastd's stderr a pipe whose reader has stopped reading
 * and a worker flooding output, supervision goes on (a killed worker is
 * respawned, `holdfastctl status` answers, the sd_notify watchdog pings
 * keep coming, no stall guard fires); once the reader resumes, the lines
 * that did not fit are accounted for by one [LOG_DROPPED] line per source.
 */
#include <fcntl.h>
#include <sys/ioctl.h>

#include "supt.h"
#include "supt_notify.h"
#include "tu.h"

/* The read end of holdfastd's stderr, and what was read from it. */
struct reader {
	int	 fd;
	char	*got;
	size_t	 len;
};

/* holdfastd with stdout and stderr on a small pipe the test holds. */
static void
ot_spawn(struct hfd *t, struct reader *r, char *const env[])
{
	char	*log = t->log;
	int	 p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	(void)fcntl(p[0], F_SETPIPE_SZ, 4096);
	fcntl(p[1], F_SETFD, 0);
	/* The child opens this path: a new description of our pipe. */
	t->log = xasprintf("/proc/self/fd/%d", p[1]);
	hfd_spawn(t, env);
	free(t->log);
	t->log = log;
	close(p[1]);
	r->fd = p[0];
	r->got = NULL;
	r->len = 0;
}

/* Bytes waiting in the pipe. */
static int
ot_queued(void *arg)
{
	struct reader	*r = arg;
	int		 n = 0, cap = fcntl(r->fd, F_GETPIPE_SZ);

	return ioctl(r->fd, FIONREAD, &n) == 0 && cap > 0 && n >= cap - 512;
}

/* Reads what is there, for up to ms; keeps it in r->got. */
static void
ot_read(struct reader *r, int ms)
{
	uint64_t deadline = hf_now_mono_ms() + ms;

	for (;;) {
		struct pollfd	 pfd = { r->fd, POLLIN, 0 };
		int64_t		 left = (int64_t)(deadline - hf_now_mono_ms());
		char		 buf[65536];
		ssize_t		 n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0 ||
		    (n = read(r->fd, buf, sizeof(buf))) <= 0)
			return;
		r->got = xrealloc(r->got, r->len + n + 1);
		memcpy(r->got + r->len, buf, n);
		r->len += n;
		r->got[r->len] = '\0';
	}
}

static int
ot_has(struct reader *r, const char *needle, int ms)
{
	uint64_t deadline = hf_now_mono_ms() + ms;

	for (;;) {
		if (r->got != NULL && strstr(r->got, needle) != NULL)
			return 1;
		if (hf_now_mono_ms() >= deadline)
			return 0;
		ot_read(r, 50);
	}
}

START_TEST(test_output_stalled_reader)
{
	struct hfd	 t;
	struct notes	 ns;
	struct reader	 r;
	char		*tw = supt_tw(), *path, *w;
	char		*env[3] = { NULL, "WATCHDOG_USEC=2000000", NULL };
	pid_t		 victim, victim2;
	int		 i, fd;

	hfd_init(&t, "out_stall");
	path = xasprintf("%s/notify.sock", t.dir);
	notes_open(&ns, path);
	env[0] = xasprintf("NOTIFY_SOCKET=%s", path);
	w = xasprintf("[worker:victim]\ncommand = %s\nstartsecs = 0\n"
	    "backoff_initial = 100ms\n\n"
	    "[worker:flood]\ncommand = %s -f 3000 -P 2\nstartsecs = 0\n"
	    "autostart = false\n", tw, tw);
	supt_write_conf(&t, w);
	ot_spawn(&t, &r, env);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert(supt_wait_state(&t, "victim", "RUNNING", 0, 5000));
	ck_assert(notes_wait(&ns, "READY=1", 0, 5000) >= 0);
	victim = supt_pid(&t, "victim");
	/* The reader stops: what holdfastd writes from now on fills the pipe. */
	ot_read(&r, 100);
	ck_assert_int_eq(hfd_ctl(&t, "start flood >/dev/null 2>&1", NULL), 0);
	ck_assert_msg(tu_wait_for(ot_queued, &r, 10000), "holdfastd's stderr pipe never filled");
	/* 3000 lines of 200 bytes: far more than the pipe and the queue hold. */
	usleep(500 * 1000);
	i = ns.n;
	kill(victim, SIGKILL);
	ck_assert_msg(supt_wait_state(&t, "victim", "RUNNING", victim, 5000),
	    "a killed worker was not respawned while the output reader stalled");
	victim2 = supt_pid(&t, "victim");
	ck_assert_int_ne(victim2, victim);
	ck_assert_msg(supt_wait_state(&t, "flood", "RUNNING", 0, 5000),
	    "status does not answer while the output reader stalled");
	ck_assert_msg(notes_pings_go_on(&ns, i, 3000),
	    "watchdog pings stopped while the output reader stalled");
	/* The reader resumes: the drop count per source comes through. */
	ck_assert_msg(ot_has(&r, "[LOG_DROPPED] name=flood lines=", 10000),
	    "no [LOG_DROPPED] for flood once the reader resumed");
	/* Everything read goes to the rig's log (supt_finish checks it). */
	if ((fd = open(t.log, O_WRONLY | O_CREAT | O_APPEND, 0644)) != -1) {
		(void)!write(fd, r.got, r.len);
		close(fd);
	}
	ck_assert_msg(strstr(r.got, "reason=stall") == NULL,
	    "the stall guard had to re-execute holdfastd");
	/* Flood lines kept their order: the queue never reorders. */
	ck_assert_ptr_nonnull(strstr(r.got, "flood: flood 000000 "));
	close(r.fd);
	supt_finish(&t);
	notes_close(&ns);
	free(r.got);
	free(env[0]);
	free(path);
	free(w);
	free(tw);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("supervisor_output");
	TCase	*tc = tu_tcase(s, "output", 60);

	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(tc, test_output_stalled_reader);
	return tu_run(s);
}
