/*
 * test_events: holdfastd's events with real processes. `holdfastctl
 * events` shows state changes and exits, numbered and stamped; `events
 * -f` follows them; [event:NAME] listeners run their command with the
 * event in the environment and on stdin, and a failing or slow command is
 * logged (and killed at its timeout); a follower that does not read is
 * bounded and told exactly how many events it missed, while holdfastd
 * keeps answering; a follower survives `holdfastctl upgrade`, and the
 * sequence goes on; bad [event:NAME] sections are refused with file:line;
 * an OOM kill under memory_max is an exit event with oom_kill 1 (skipped,
 * loudly, where holdfastd has no cgroup with the memory controller).
 */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "supt.h"
#include "util.h"

/* `holdfastctl --json events`: the event lines, parsed into a JSON array
 * text "[...]" for json_parse. */
static yajl_val
ev_list(struct hfd *t)
{
	char		*out = NULL, *arr, err[128];
	yajl_val	 v;

	ck_assert_int_eq(hfd_ctl(t, "--json events", &out), 0);
	arr = xasprintf("[%s]", out != NULL ? out : "");
	for (char *c = arr + 1; *c != '\0'; c++)	/* lines -> commas */
		if (*c == '\n' && c[1] != ']' && c[1] != '\0')
			*c = ',';
	v = json_parse(arr, strlen(arr), err, sizeof(err));
	ck_assert_msg(v != NULL && YAJL_IS_ARRAY(v), "events output is not JSON lines: %s",
	    err);
	free(arr);
	free(out);
	return v;
}

static yajl_val
ev_find(yajl_val list, const char *type, const char *key, const char *val)
{
	for (size_t i = 0; i < list->u.array.len; i++) {
		yajl_val	 e = list->u.array.values[i];
		const char	*t = json_get_str(e, "type");
		const char	*s = key != NULL ? json_get_str(e, key) : NULL;

		if (t != NULL && strcmp(t, type) == 0 && (key == NULL ||
		    (s != NULL && strcmp(s, val) == 0)))
			return e;
	}
	return NULL;
}

struct ev_wait {
	struct hfd	*t;
	const char	*type, *key, *val;
};

static int
ev_seen(void *arg)
{
	struct ev_wait	*w = arg;
	yajl_val	 list = ev_list(w->t);
	int		 found = ev_find(list, w->type, w->key, w->val) != NULL;

	yajl_tree_free(list);
	return found;
}

static char *
ev_worker(const char *name, const char *args, const char *extra)
{
	char *tw = supt_tw(), *s;

	s = xasprintf("[worker:%s]\ncommand = %s %s\nstartsecs = 0\n"
	    "backoff_initial = 50ms\nbackoff_max = 100ms\n%s\n", name, tw, args, extra);
	free(tw);
	return s;
}

START_TEST(test_events_ring)
{
	struct hfd	 t;
	char		*w = ev_worker("w", "-E 200", "startretries = 100");
	struct ev_wait	 ew = { &t, "exit", NULL, NULL };
	yajl_val	 list, e;
	long long	 prev = 0, seq, code = -1, oom = -1;

	supt_start(&t, "events-ring", w);
	ck_assert_msg(tu_wait_for(ev_seen, &ew, 5000), "no exit event");
	list = ev_list(&t);
	for (size_t i = 0; i < list->u.array.len; i++) {
		e = list->u.array.values[i];
		ck_assert_int_eq(json_get_int(e, "seq", &seq), 0);
		ck_assert_msg(seq > prev, "seq %lld after %lld", seq, prev);
		prev = seq;
		ck_assert_ptr_nonnull(json_get_str(e, "time"));
		ck_assert_ptr_nonnull(json_get_str(e, "type"));
	}
	e = ev_find(list, "state", "to", "RUNNING");
	ck_assert_msg(e != NULL, "no state event to RUNNING");
	ck_assert_str_eq(json_get_str(e, "from"), "STARTING");
	ck_assert_str_eq(json_get_str(e, "name"), "w");
	ck_assert_str_eq(json_get_str(e, "group"), "w");
	e = ev_find(list, "exit", "name", "w");
	ck_assert_int_eq(json_get_int(e, "code", &code), 0);
	ck_assert_int_eq(code, 0);
	ck_assert_int_eq(json_get_int(e, "oom_kill", &oom), 0);
	ck_assert_int_eq(oom, 0);
	yajl_tree_free(list);
	supt_finish(&t);
	free(w);
}
END_TEST

/* `holdfastctl events -f` in the background, its output in file. */
static pid_t
ev_follow(struct hfd *t, const char *file)
{
	char	*ctl = tu_buildpath("supervisor/holdfastctl");
	char	*argv[] = { ctl, (char *)"-s", t->sock, (char *)"--json", (char *)"events",
	    (char *)"-f", NULL };
	pid_t	 pid = tu_spawn(argv, NULL, file);

	free(ctl);
	return pid;
}

START_TEST(test_events_follow)
{
	struct hfd	 t;
	char		*w = ev_worker("w", "", ""), *file;
	pid_t		 f;

	supt_start(&t, "events-follow", w);
	ck_assert(supt_wait_state(&t, "w", "RUNNING", 0, 5000));
	file = xasprintf("%s/follow.out", t.dir);
	f = ev_follow(&t, file);
	ck_assert_msg(tu_wait_file_count(file, "\"to\":\"RUNNING\"", 1, 5000),
	    "the ring did not come first");
	ck_assert_int_eq(hfd_ctl(&t, "stop w", NULL), 0);
	ck_assert_msg(tu_wait_file_count(file, "\"to\":\"STOPPED\"", 1, 5000),
	    "events -f did not show the stop");
	ck_assert_int_eq(tu_count_in_file(file, "\"type\":\"exit\""), 1);
	ck_assert(tu_pid_alive(f));
	tu_stop(f, 2000);
	supt_finish(&t);
	free(file);
	free(w);
}
END_TEST

START_TEST(test_events_hook)
{
	struct hfd	 t;
	char		*out, *w, *conf, *text;

	hfd_init(&t, "events-hook");
	out = xasprintf("%s/hook.out", t.dir);
	w = ev_worker("w", "-E 150", "startretries = 100\nautorestart = false");
	conf = xasprintf("%s[worker:other]\ncommand = /bin/sleep 30\nstartsecs = 0\n\n"
	    "[event:log]\ncommand = /bin/sh -c '{ echo \"TYPE=$HOLDFAST_EVENT_TYPE "
	    "NAME=$HOLDFAST_EVENT_NAME CODE=$HOLDFAST_EVENT_CODE TO=$HOLDFAST_EVENT_TO\"; "
	    "cat; echo; } >> %s'\nevents = exit, EXITED\nworkers = w\n\n"
	    "[event:bad]\ncommand = /bin/sh -c 'exit 3'\nevents = exit\n\n"
	    "[event:slow]\ncommand = /bin/sleep 30\nevents = exit\ntimeout = 200ms\n\n"
	    "[event:q]\ncommand = /bin/sleep 2\nevents = state\nqueue = 1\n\n"
	    "[event:r]\ncommand = /bin/true\nevents = state\nrate_limit = 1\n",
	    w, out);
	supt_write_conf(&t, conf);
	hfd_spawn(&t, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert_msg(tu_wait_file_count(out, "TYPE=exit NAME=w CODE=0", 1, 5000),
	    "the listener did not run with the event in its environment");
	ck_assert_msg(tu_wait_file_count(out, "TYPE=state NAME=w CODE= TO=EXITED", 1, 5000),
	    "the state filter (EXITED) did not match");
	text = tu_read_file(out, NULL);
	ck_assert_msg(strstr(text, "\"type\":\"exit\",\"name\":\"w\"") != NULL,
	    "no event JSON on stdin: %s", text);
	ck_assert_msg(strstr(text, "NAME=other") == NULL, "workers = w let other through");
	ck_assert_msg(strstr(text, "TO=RUNNING") == NULL, "events = EXITED let RUNNING through");
	ck_assert_msg(tu_wait_file_count(t.log, "[EVENT_HOOK] name=bad", 1, 5000) &&
	    tu_count_in_file(t.log, "result=failed code=3") >= 1, "a failing command not logged");
	ck_assert_msg(tu_wait_file_count(t.log, "result=timeout", 1, 5000),
	    "a command past its timeout was not killed and logged");
	ck_assert_int_eq(tu_count_in_file(t.log, "[EVENT_HOOK] name=log"), 0);
	ck_assert_msg(tu_count_in_file(t.log, "[EVENT_HOOK] name=q result=dropped "
	    "reason=queue") == 1, "a full queue did not drop (once logged)");
	ck_assert_msg(tu_count_in_file(t.log, "[EVENT_HOOK] name=r result=dropped "
	    "reason=rate_limit") == 1, "rate_limit did not drop (once logged)");
	free(text);
	free(conf);
	supt_finish(&t);
	free(out);
	free(w);
}
END_TEST

/* A raw control connection that asks to follow and then does not read. */
static int
ev_stalled(struct hfd *t)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	const char		*req = "{\"cmd\":\"events\",\"follow\":true}\n";
	int			fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), sz = 4096;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	hf_strlcpy(sun.sun_path, t->sock, sizeof(sun.sun_path));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	return fd;
}

struct ev_seq {
	struct hfd	*t;
	long long	 want;
};

static int
ev_seq_reached(void *arg)
{
	struct ev_seq	*s = arg;
	char		*out = NULL, *p;
	long long	 seq = 0;

	hfd_ctl(s->t, "--json events", &out);
	for (p = out; p != NULL && (p = strstr(p, "\"seq\":")) != NULL; p += 6)
		seq = atoll(p + 6);
	free(out);
	return seq >= s->want;
}

START_TEST(test_events_slow_follower)
{
	struct hfd	 t;
	char		*w = ev_worker("flap", "-B 3000 -b 6000",
	    "[worker:idle]\ncommand = /bin/sleep 60\nstartsecs = 0\n");
	struct ev_seq	 es = { &t, 6000 };
	FILE		*in;
	char		 line[512];
	long long	 first = 0, last = 0, seq, got = 0, dropped = 0, markers = 0, c;
	char		*ctl = tu_buildpath("supervisor/holdfastctl"), *cmd;
	int		 fd;

	hfd_init(&t, "events-slow");
	supt_write_conf(&t, "[worker:idle]\ncommand = /bin/sleep 60\nstartsecs = 0\n");
	hfd_spawn(&t, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	fd = ev_stalled(&t);
	/* the flapping worker comes with a reload: every change after the
	 * follower subscribed */
	supt_write_conf(&t, w);
	ck_assert_int_eq(hfd_ctl(&t, "reload", NULL), 0);
	ck_assert_msg(tu_wait_for(ev_seq_reached, &es, 20000), "6000 events not reached");
	/* holdfastd answered all along (ev_seq_reached asked it). Now read;
	 * a second later, with the queue drained, one more change (idle
	 * stopped) brings the count of what was dropped before it. */
	cmd = xasprintf("(sleep 1; '%s' -s '%s' stop idle) >/dev/null 2>&1 &", ctl, t.sock);
	ck_assert_int_eq(tu_sh(cmd, NULL), 0);
	in = fdopen(fd, "r");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), in));	/* the ok reply */
	while (fgets(line, sizeof(line), in) != NULL) {
		char *p = strstr(line, "\"seq\":");

		ck_assert_ptr_nonnull(p);
		seq = atoll(p + 6);
		if (strstr(line, "\"type\":\"dropped\"") != NULL) {
			c = atoll(strstr(line, "\"count\":") + 8);
			dropped += c;
			markers++;
			continue;
		}
		if (first == 0)
			first = seq;
		got++;
		last = seq;
		if (strstr(line, "\"to\":\"STOPPED\"") != NULL && strstr(line, "\"idle\""))
			break;
	}
	fclose(in);
	free(cmd);
	free(ctl);
	ck_assert_msg(markers > 0 && dropped > 0, "a stalled follower was never dropped "
	    "from (got %lld)", got);
	ck_assert_msg(got + dropped == last - first + 1, "events %lld..%lld: %lld received "
	    "+ %lld counted as dropped", first, last, got, dropped);
	supt_finish(&t);
	free(w);
}
END_TEST

START_TEST(test_events_upgrade)
{
	struct hfd	 t;
	char		*w = ev_worker("w", "", "\n[event:long]\ncommand = /bin/sleep 30\n"
	    "events = RUNNING\ntimeout = 1h\n"), *file, *text, *p;
	long long	 before, after;
	pid_t		 f;

	supt_start(&t, "events-upgrade", w);
	ck_assert(supt_wait_state(&t, "w", "RUNNING", 0, 5000));
	file = xasprintf("%s/follow.out", t.dir);
	f = ev_follow(&t, file);
	ck_assert(tu_wait_file_count(file, "\"to\":\"RUNNING\"", 1, 5000));
	ck_assert_int_eq(hfd_ctl(&t, "upgrade", NULL), 0);
	ck_assert_msg(tu_wait_file_count(file, "\"result\":\"upgraded\"", 1, 5000),
	    "the follower was not told of the upgrade");
	ck_assert_msg(tu_count_in_file(t.log, "[EVENT_HOOK] name=long seq=") == 1 &&
	    tu_count_in_file(t.log, "result=killed reason=upgrade") == 1,
	    "the listener's command was not killed at the upgrade");
	ck_assert_msg(tu_wait_file_count(t.log, "reaped stray pid=", 1, 5000),
	    "the killed command was not reaped by the new image");
	ck_assert_int_eq(hfd_ctl(&t, "stop w", NULL), 0);
	ck_assert(tu_wait_file_count(file, "\"to\":\"STOPPED\"", 1, 5000));
	text = tu_read_file(file, NULL);
	p = strstr(text, "\"to\":\"RUNNING\"");
	while (p > text && strncmp(p, "\"seq\":", 6) != 0)
		p--;
	before = atoll(p + 6);
	p = strstr(text, "\"to\":\"STOPPED\"");
	while (p > text && strncmp(p, "\"seq\":", 6) != 0)
		p--;
	after = atoll(p + 6);
	ck_assert_msg(after > before + 1, "seq went from %lld to %lld across the upgrade",
	    before, after);
	free(text);
	tu_stop(f, 2000);
	supt_finish(&t);
	free(file);
	free(w);
}
END_TEST

struct ev_oom {
	struct hfd	*t;
	int		 skip;
};

/* An exit event with oom_kill 1, or the section refused for want of a
 * cgroup (skip). */
static int
ev_oom_seen(void *arg)
{
	struct ev_oom	*o = arg;
	char		*out = NULL;
	int		 found;

	o->skip = tu_count_in_file(o->t->log, "[CGROUP] [worker:hog] cannot start") > 0;
	hfd_ctl(o->t, "--json events", &out);
	found = out != NULL && strstr(out, "\"type\":\"exit\",\"name\":\"hog\"") != NULL &&
	    strstr(out, "\"oom_kill\":1") != NULL;
	free(out);
	return found || o->skip;
}

/* memory_max (limits): the kernel's OOM kill is an exit event with
 * oom_kill 1, and exits_total{cause="oom"} in /metrics. */
START_TEST(test_events_oom)
{
	struct hfd	 t;
	char		*lw = tu_buildpath("tests/tools/limitworker"), *ini, *body = NULL;
	struct ev_oom	 o = { &t, 0 };
	int		 port = tu_free_port(SOCK_STREAM);

	ini = xasprintf("[worker:hog]\ncommand = %s alloc\nmemory_max = 64M\n"
	    "heartbeat_timeout = 0\nstartsecs = 100ms\n", lw);
	hfd_init(&t, "events-oom");
	{
		char *text = xasprintf("[holdfast]\ncontrol_socket = run/hf.sock\n"
		    "shutdown_timeout = 5s\nmetrics_listen = 127.0.0.1:%d\n\n%s", port, ini);

		hfd_write_conf(&t, text);
		free(text);
	}
	hfd_spawn(&t, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert_msg(tu_wait_for(ev_oom_seen, &o, 20000), "no exit event with oom_kill 1");
	if (o.skip)
		fprintf(stderr, "SKIP: test_events_oom: no cgroup holdfastd can manage with "
		    "the memory controller on this machine\n");
	else {
		ck_assert_int_eq(tu_http(port, "GET", "/metrics", NULL, NULL, 0, &body, NULL,
		    5000), 200);
		ck_assert_msg(strstr(body, "holdfast_instance_exits_total{group=\"hog\","
		    "instance=\"hog\",cause=\"oom\"} 0\n") == NULL &&
		    strstr(body, "cause=\"oom\"}") != NULL, "no OOM exit in /metrics");
		free(body);
	}
	supt_finish(&t);
	free(ini);
	free(lw);
}
END_TEST

/* holdfastd -t on a config: refused with "file:line: reason". */
static void
ev_refused(const char *body, int line, const char *why)
{
	struct hfd	 t;
	char		*cmd, *out = NULL, *exe = tu_buildpath("supervisor/holdfastd");
	char		*want;
	int		 rc;

	hfd_init(&t, "events-cfg");
	hfd_write_conf(&t, body);
	cmd = xasprintf("'%s' -t -c '%s' 2>&1", exe, t.conf);
	rc = tu_sh(cmd, &out);
	want = xasprintf("holdfast.conf:%d: ", line);
	ck_assert_msg(rc != 0 && out != NULL && strstr(out, want) != NULL &&
	    strstr(out, why) != NULL, "config not refused as expected (want line %d, "
	    "\"%s\"): %s", line, why, out != NULL ? out : "");
	free(want);
	free(out);
	free(cmd);
	free(exe);
	hfd_free(&t);
}

START_TEST(test_events_cfg)
{
	ev_refused("[holdfast]\n\n[event:x]\nevents = exit\n", 3, "[event:x] has no command");
	ev_refused("[event:x]\ncommand = /bin/true\nevents = exit, nope\n", 1,
	    "unknown event \"nope\"");
	ev_refused("[event:x]\ncommand = /bin/true\nworkers = ghost\n", 1,
	    "no [worker:ghost] section");
	ev_refused("[event:x]\ncommand = /bin/true\nrate_limit = -1\n", 3, "rate_limit");
	ev_refused("[event:x]\ncommand = /bin/true\ntimeout = 0\n", 3, "timeout");
	ev_refused("[event:x]\ncommand = /bin/true\nqueue = many\n", 3, "queue");
	ev_refused("[event:x]\ncommand = /bin/true\n[event:x]\ncommand = /bin/true\n", 3,
	    "duplicate section [event:x]");
	ev_refused("[holdfast]\nmetrics_listen = nowhere\n", 2, "metrics_listen");
	ev_refused("[holdfast]\nmetrics_listen = udp:127.0.0.1:9105\n", 2, "metrics_listen");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("events");
	TCase	*tc = tcase_create("events");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_events_ring);
	tcase_add_test(tc, test_events_follow);
	tcase_add_test(tc, test_events_hook);
	tcase_add_test(tc, test_events_slow_follower);
	tcase_add_test(tc, test_events_upgrade);
	tcase_add_test(tc, test_events_cfg);
	tcase_add_test(tc, test_events_oom);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
