/*
 * test_telephony_crash: a kill -9 of holdfast-telephony loses no
 * established call.
 *
 * A real holdfastd runs the telephony worker (holdfastd holds the UDP
 * socket, so requests queue while the replacement starts) against a real
 * PostgreSQL. A raw UDP client establishes N calls (INVITE, 200, ACK); the
 * worker is killed with SIGKILL by its PID; once holdfastd has started the
 * replacement, every call's BYE must be answered 200 (by the replacement,
 * which logs [DIALOG_RESTORED] n=N), a re-INVITE in a restored dialog gets
 * the answer of a live dialog (488, not 481), and `calls` holds exactly one
 * complete CDR per call (ANSWERED, ended by its BYE, answer time kept);
 * and a restored call that gets no BYE ends after dialog_restore_max with
 * its one CDR (ended_by=restored_timeout).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hfd.h"
#include "pgt.h"
#include "tu.h"
#include "util.h"

#define NCALLS	20

struct rig {
	struct hfd	 h;
	int		 port;
	struct pgt	*pg;
	int		 fd, cport;	/* the UAC's socket */
	int		 guard_fd;	/* see rig_guard */
	pid_t		 guard;
	char		 totag[NCALLS][64];
};

/* ---- the UAC: raw UDP ---- */

static void
udp_send(struct rig *r, const char *msg)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(r->port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(sendto(r->fd, msg, strlen(msg), 0, (struct sockaddr *)&sin,
	    sizeof(sin)), (ssize_t)strlen(msg));
}

static int
udp_recv(struct rig *r, char *buf, size_t len, int timeout_ms)
{
	struct timeval	tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	ssize_t		n;

	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if ((n = recv(r->fd, buf, len - 1, 0)) < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

#define SDP "v=0\r\no=u 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" \
	"t=0 0\r\nm=audio 6000 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\n"

static char *
req(struct rig *r, const char *method, const char *branch, int call, const char *totag,
    int cseq, const char *body)
{
	return xasprintf("%s sip:svc@127.0.0.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
	    "From: <sip:t@127.0.0.1>;tag=ft%d\r\nTo: <sip:svc@127.0.0.1>%s%s\r\n"
	    "Call-ID: crash-%d\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\n"
	    "Contact: <sip:t@127.0.0.1:%d>\r\n%sContent-Length: %zu\r\n\r\n%s",
	    method, r->cport, branch, call, *totag ? ";tag=" : "", totag, call, cseq,
	    method, r->cport, body ? "Content-Type: application/sdp\r\n" : "",
	    body ? strlen(body) : 0, body ? body : "");
}

/* Sends msg; the code of the first response to it with a code >= 200 (its
 * Call-ID and CSeq method must match), -1 when none came within 10 s. */
static int
exchange(struct rig *r, const char *msg, const char *callid_hdr, const char *cseq_hdr,
    char *out, size_t outlen)
{
	udp_send(r, msg);
	for (int i = 0; i < 50; i++) {
		if (udp_recv(r, out, outlen, 200) < 0) {
			if (i % 5 == 4)
				udp_send(r, msg);	/* a UAC retransmits (Timer E) */
			continue;
		}
		if (atoi(out + 8) >= 200 && strstr(out, callid_hdr) != NULL &&
		    strstr(out, cseq_hdr) != NULL)
			return atoi(out + 8);
	}
	return -1;
}

static void
to_tag_of(const char *resp, char *out, size_t len)
{
	const char *to = strstr(resp, "\r\nTo:"), *tag = to ? strstr(to, ";tag=") : NULL;

	ck_assert_ptr_nonnull(tag);
	snprintf(out, len, "%.*s", (int)strcspn(tag + 5, "\r\n;>"), tag + 5);
}

static void
call_establish(struct rig *r, int i)
{
	char	 buf[8192], br[32], cid[64], *m;

	snprintf(br, sizeof(br), "z9hG4bKinv%d", i);
	snprintf(cid, sizeof(cid), "Call-ID: crash-%d\r\n", i);
	m = req(r, "INVITE", br, i, "", 1, SDP);
	ck_assert_int_eq(exchange(r, m, cid, "CSeq: 1 INVITE", buf, sizeof(buf)), 200);
	free(m);
	to_tag_of(buf, r->totag[i], sizeof(r->totag[i]));
	snprintf(br, sizeof(br), "z9hG4bKack%d", i);
	m = req(r, "ACK", br, i, r->totag[i], 1, NULL);
	udp_send(r, m);
	free(m);
}

static int
call_bye(struct rig *r, int i)
{
	char	 buf[8192], br[32], cid[64], *m;
	int	 code;

	snprintf(br, sizeof(br), "z9hG4bKbye%d", i);
	snprintf(cid, sizeof(cid), "Call-ID: crash-%d\r\n", i);
	m = req(r, "BYE", br, i, r->totag[i], 2, NULL);
	code = exchange(r, m, cid, "CSeq: 2 BYE", buf, sizeof(buf));
	free(m);
	return code;
}

/* Answered once every datagram sent before it was handled (one socket,
 * read in order): the ACKs have confirmed their dialogs. */
static int
options_ok(struct rig *r)
{
	char	 buf[4096], *m = req(r, "OPTIONS", "z9hG4bKopt", 9999, "", 1, NULL);
	int	 code = exchange(r, m, "Call-ID: crash-9999", "CSeq: 1 OPTIONS", buf, sizeof(buf));

	free(m);
	return code == 200;
}

/* ---- holdfastd and the worker ---- */

struct respawn {
	struct rig	*r;
	pid_t		 old, now;
};

static int
respawned(void *arg)
{
	struct respawn	*w = arg;
	char		*out = NULL;
	int		 running;

	w->now = hfd_pid(&w->r->h, "telephony");
	hfd_ctl(&w->r->h, "status telephony 2>&1", &out);
	running = out != NULL && strstr(out, "RUNNING") != NULL;
	free(out);
	return w->now > 0 && w->now != w->old && running;
}

static int
answers_options(void *arg)
{
	return options_ok(arg);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/*
 * Check ends a failed test with _exit, so no atexit handler stops
 * holdfastd: a guard process holds the read end of a pipe only this
 * process writes to; EOF without the "done" byte (the test died) makes it
 * SIGKILL holdfastd's process group (the workers die with it) and remove
 * the rig's directory. It leads its own process group, which Check does
 * not kill when the test ends.
 */
static void
rig_guard(struct rig *r)
{
	int	p[2];
	char	c = 0;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	if ((r->guard = fork()) == 0) {
		setpgid(0, 0);	/* Check SIGKILLs the test's process group */
		close(p[1]);
		while (read(p[0], &c, 1) == -1 && errno == EINTR)
			;
		if (c != 'd') {
			kill(-r->h.pid, SIGKILL);
			kill(r->h.pid, SIGKILL);
			nftw(r->h.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		}
		_exit(0);
	}
	close(p[0]);
	r->guard_fd = p[1];
}

static struct rig *
rig_new(const char *extra)
{
	struct rig		*r = xcalloc(1, sizeof(*r));
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	socklen_t		 len = sizeof(sin);
	char			*bin = tu_buildpath("workers/telephony/holdfast-telephony"), *text;
	const char		*conninfo;

	hfd_init(&r->h, "telephony_crash");
	r->port = tu_free_port(SOCK_DGRAM);
	r->pg = pgt_start("synchronous_commit = on\n");
	conninfo = pgt_createdb(r->pg, "hf", 1);
	text = xasprintf(
	    "[holdfast]\nstate_dir = %s/state\nlog_level = info\n"
	    "control_socket = run/hf.sock\nshutdown_timeout = 10s\n"
	    "[database]\nconninfo = %s\nconnect_timeout = 1s\n"
	    "backoff_initial = 100ms\nbackoff_max = 500ms\n"
	    "[worker:telephony]\ncommand = %s\nlisten = udp:127.0.0.1:%d\n%s",
	    r->h.dir, conninfo, bin, r->port, extra ? extra : "");
	hfd_write_conf(&r->h, text);
	free(text);
	free(bin);
	r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(r->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(r->fd, (struct sockaddr *)&sin, &len);
	r->cport = ntohs(sin.sin_port);
	hfd_spawn(&r->h, NULL);
	rig_guard(r);
	if (!tu_wait_for(answers_options, r, 15000)) {
		char *cmd = xasprintf("tail -20 %s >&2", r->h.log);

		ck_assert(system(cmd) >= 0);
		free(cmd);
		ck_abort_msg("the worker does not answer");
	}
	return r;
}

static void
rig_free(struct rig *r)
{
	close(r->fd);
	hfd_free(&r->h);
	ck_assert_int_eq(write(r->guard_fd, "d", 1), 1);
	close(r->guard_fd);
	waitpid(r->guard, NULL, 0);
	pgt_destroy(r->pg);
	free(r);
}

static long long
rows(struct rig *r, const char *where)
{
	char		*sql = xasprintf("SELECT count(*) FROM calls WHERE call_id LIKE "
	    "'crash-%%' AND %s", where);
	long long	 n = pgt_scalar(r->pg, "hf", sql);

	free(sql);
	return n;
}

struct rows_wait {
	struct rig	*r;
	long long	 want;
};

static int
rows_reached(void *arg)
{
	struct rows_wait *w = arg;

	return rows(w->r, "true") >= w->want;
}

START_TEST(test_kill9_keeps_established_calls)
{
	struct rig	*r = rig_new(NULL);
	struct respawn	 w = { r, 0, 0 };
	struct rows_wait rw = { r, NCALLS };
	char		 buf[8192], *m, *needle;
	int		 ok = 0;

	for (int i = 0; i < NCALLS; i++)
		call_establish(r, i);
	ck_assert(options_ok(r));
	w.old = hfd_pid(&r->h, "telephony");
	ck_assert_int_gt(w.old, 0);
	ck_assert_int_eq(kill(w.old, SIGKILL), 0);
	ck_assert_msg(tu_wait_for(respawned, &w, 15000), "no replacement");
	/* a re-INVITE of a restored dialog is answered as in a live one */
	m = req(r, "INVITE", "z9hG4bKreinv0", 0, r->totag[0], 3, SDP);
	ck_assert_int_eq(exchange(r, m, "Call-ID: crash-0\r\n", "CSeq: 3 INVITE", buf,
	    sizeof(buf)), 488);
	free(m);
	for (int i = 0; i < NCALLS; i++)
		ok += call_bye(r, i) == 200;
	ck_assert_int_eq(ok, NCALLS);
	needle = xasprintf("[%d]: [DIALOG_RESTORED] n=%d", (int)w.now, NCALLS);
	ck_assert_msg(tu_count_in_file(r->h.log, needle) == 1, "no '%s' in the log", needle);
	free(needle);
	/* exactly one complete CDR per call */
	tu_wait_for(rows_reached, &rw, 20000);
	ck_assert_int_eq(rows(r, "true"), NCALLS);
	ck_assert_int_eq(pgt_scalar(r->pg, "hf",
	    "SELECT count(DISTINCT call_id) FROM calls WHERE call_id LIKE 'crash-%'"), NCALLS);
	ck_assert_int_eq(rows(r, "disposition = 'ANSWERED' AND ended_by = 'recv_bye' AND "
	    "sip_code = 200 AND answered_at IS NOT NULL AND answered_at >= started_at AND "
	    "ended_at >= answered_at AND to_tag IS NOT NULL AND from_tag LIKE 'ft%'"), NCALLS);
	/* a second BYE finds the dialog gone */
	m = req(r, "BYE", "z9hG4bKbye2nd", 1, r->totag[1], 4, NULL);
	ck_assert_int_eq(exchange(r, m, "Call-ID: crash-1\r\n", "CSeq: 4 BYE", buf,
	    sizeof(buf)), 481);
	free(m);
	rig_free(r);
}
END_TEST

/* A restored call that never gets its BYE ends dialog_restore_max after
 * its ACK, with one complete CDR (ended_by=restored_timeout). */
START_TEST(test_restored_timeout)
{
	struct rig	*r = rig_new("dialog_restore_max = 3s\n");
	struct respawn	 w = { r, 0, 0 };
	struct rows_wait rw = { r, 2 };

	call_establish(r, 0);
	call_establish(r, 1);
	ck_assert(options_ok(r));
	w.old = hfd_pid(&r->h, "telephony");
	ck_assert_int_eq(kill(w.old, SIGKILL), 0);
	ck_assert_msg(tu_wait_for(respawned, &w, 15000), "no replacement");
	ck_assert_int_eq(call_bye(r, 0), 200);
	tu_wait_for(rows_reached, &rw, 20000);
	ck_assert_int_eq(rows(r, "true"), 2);
	ck_assert_int_eq(rows(r, "call_id = 'crash-0' AND ended_by = 'recv_bye'"), 1);
	ck_assert_int_eq(rows(r, "call_id = 'crash-1' AND ended_by = 'restored_timeout' AND "
	    "disposition = 'ANSWERED' AND answered_at IS NOT NULL AND "
	    "ended_at >= answered_at + interval '3 s'"), 1);
	ck_assert_int_eq(call_bye(r, 1), 481);		/* it is over */
	rig_free(r);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("telephony_crash");
	TCase	*tc = tu_tcase(s, "crash", 90);
	char	*bin = tu_buildpath("workers/telephony/holdfast-telephony");

	if (access(bin, X_OK) != 0) {
		printf("SKIP: %s is not built\n", bin);
		free(bin);
		return 77;
	}
	free(bin);
	tcase_add_test(tc, test_kill9_keeps_established_calls);
	tcase_add_test(tc, test_restored_timeout);
	return tu_run(s);
}
