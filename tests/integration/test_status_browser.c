/*
 * test_status_browser: the status page in a real browser. Headless
 * Chromium loads it from a real holdfastd whose groups are running, DB
 * down and FATAL; the DOM it renders (after the script polled
 * /status.json under the page's Content-Security-Policy) must show each
 * instance with its state, and a screenshot is saved as
 * tests/integration/status-page.png ($STATUS_SCREENSHOT names another
 * file: docs/status-page.png is made that way). A second test keeps the
 * page open (Chromium driven over the DevTools protocol, tests/lib/cdp.h)
 * while an instance is stopped and a worker's database goes down: each
 * must be on screen in the first refresh that began after holdfastd knew
 * it (the page refreshes every second), and the time it took is printed.
 * Without chromium the suite says so and is skipped (77).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdp.h"
#include "supt.h"
#include "util.h"

static char *
browser_workers(void)
{
	char *tw = supt_tw(), *s;

	s = xasprintf("[worker:http]\ncommand = %s -S -P 300\nnumprocs = 2\n\n"
	    "[worker:whatsapp]\ncommand = %s -D NeonEndpointDisabled -u 600000\n\n"
	    "[worker:telephony]\ncommand = %s -x\nstartretries = 1\n"
	    "backoff_initial = 50ms\nfatal_retry = 0\n", tw, tw, tw);
	free(tw);
	return s;
}

/* chromium MODE (--dump-dom, --screenshot=FILE) on the page; its output. */
static char *
browser_run(struct hfd *t, int port, const char *mode)
{
	char	*out = NULL, *cmd;
	int	 rc;

	cmd = xasprintf("timeout 90 chromium --headless --disable-gpu --no-sandbox "
	    "--user-data-dir='%s/chromium' --window-size=1200,800 "
	    "--virtual-time-budget=3000 %s 'http://127.0.0.1:%d/#output=http:0' "
	    "2>>'%s/chromium.log'", t->dir, mode, port, t->dir);
	rc = tu_sh(cmd, &out);
	ck_assert_msg(rc == 0, "chromium failed (%d): see %s/chromium.log", rc, t->dir);
	free(cmd);
	return out;
}

START_TEST(test_page_in_chromium)
{
	struct hfd	 t;
	char		*w = browser_workers(), *text, *dom, *png, *mode, *out;
	int		 port = tu_free_port(SOCK_STREAM);

	hfd_init(&t, "status_browser");
	text = xasprintf("[holdfast]\ncontrol_socket = run/hf.sock\nshutdown_timeout = 5s\n"
	    "status_listen = 127.0.0.1:%d\n\n%s", port, w);
	hfd_write_conf(&t, text);
	hfd_spawn(&t, NULL);
	ck_assert_msg(hfd_wait_up(&t, 5000), "holdfastd did not come up");
	ck_assert(supt_wait_state(&t, "telephony", "FATAL", 0, 10000));
	ck_assert(supt_wait_state(&t, "http:1", "RUNNING", 0, 10000));
	ck_assert(tu_wait_file_count(t.log, "http:0: tick 2", 1, 5000));
	dom = browser_run(&t, port, "--dump-dom");
	ck_assert_msg(strstr(dom, "<td>http:0</td>") != NULL, "no http:0 in %s", dom);
	ck_assert_ptr_nonnull(strstr(dom, "<td>http:1</td>"));
	ck_assert_ptr_nonnull(strstr(dom, "st good\">RUNNING<"));
	ck_assert_ptr_nonnull(strstr(dom, "st bad\">FATAL<"));
	ck_assert_ptr_nonnull(strstr(dom, "down (NeonEndpointDisabled)"));
	ck_assert_ptr_nonnull(strstr(dom, "summary bad"));
	ck_assert_ptr_nonnull(strstr(dom, "tick "));	/* the output of http:0 */
	png = getenv("STATUS_SCREENSHOT") != NULL ? xstrdup(getenv("STATUS_SCREENSHOT")) :
	    tu_buildpath("tests/integration/status-page.png");
	unlink(png);
	mode = xasprintf("--screenshot='%s'", png);
	out = browser_run(&t, port, mode);
	ck_assert_msg(access(png, F_OK) == 0, "no screenshot at %s", png);
	free(out);
	free(mode);
	free(png);
	free(dom);
	free(text);
	free(w);
	supt_finish(&t);
}
END_TEST

static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* holdfastd reports instance name's database down. */
struct db_wait {
	struct hfd	*t;
	const char	*name;
};

static int
db_is_down(void *arg)
{
	struct db_wait	*w = arg;
	yajl_val	 tree, procs = supt_status(w->t, &tree), db;
	const char	*st;
	int		 down = 0;

	for (size_t i = 0; procs != NULL && i < procs->u.array.len; i++) {
		yajl_val p = procs->u.array.values[i];

		if (strcmp(json_get_str(p, "name"), w->name) == 0 &&
		    (db = json_get_object(p, "db")) != NULL &&
		    (st = json_get_str(db, "state")) != NULL)
			down = strcmp(st, "down") == 0;
	}
	yajl_tree_free(tree);
	return down;
}

/* JavaScript: does cell col of instance name's row begin with prefix? */
static char *
cell_is(const char *name, int col, const char *prefix)
{
	return xasprintf("(function () { var r = document.getElementById('p-%s');"
	    " return !!r && r.children[%d].textContent.indexOf('%s') === 0; })()",
	    name, col, prefix);
}

/* That cell's text, for a failure's message (malloc'd, or NULL). */
static char *
cell_text(struct cdp *c, const char *name, int col)
{
	char	*js = xasprintf("(function () { var r = document.getElementById('p-%s');"
	    " return r ? r.children[%d].textContent : '(no row)'; })()", name, col);
	char	*v = cdp_eval(c, js, 5000);

	free(js);
	return v;
}

/*
 * Holdfastd already shows the change: the page must show it in the first
 * refresh begun after now. Returns the milliseconds it took to appear.
 */
static long long
page_follows(struct cdp *c, const char *name, int col, const char *prefix)
{
	long long	 t0 = now_ms(), began;
	char		*v = cdp_eval(c, "+document.body.dataset.polls", 5000);
	char		*after, *shown = cell_is(name, col, prefix), *what;

	ck_assert_msg(v != NULL, "the page does not answer");
	began = atoll(v);
	after = xasprintf("+(document.body.dataset.rendered || 0) > %lld", began);
	ck_assert_msg(cdp_wait_true(c, after, 15000), "no refresh after poll %lld", began);
	what = cell_text(c, name, col);
	ck_assert_msg(cdp_wait_true(c, shown, 0), "poll %lld shows %s's column %d as "
	    "\"%s\", not \"%s...\"", began + 1, name, col, what ? what : "?", prefix);
	free(what);
	free(after);
	free(shown);
	free(v);
	return now_ms() - t0;
}

START_TEST(test_page_follows_changes)
{
	struct hfd	 t;
	struct cdp	 c;
	struct db_wait	 dw = { &t, "whatsapp" };
	char		*tw = supt_tw(), *w, *text, *url, *open;
	int		 port = tu_free_port(SOCK_STREAM);
	long long	 ms;

	hfd_init(&t, "status_follow");
	w = xasprintf("[worker:http]\ncommand = %s\nnumprocs = 2\n\n"
	    "[worker:whatsapp]\ncommand = %s -U NeonEndpointDisabled\n", tw, tw);
	text = xasprintf("[holdfast]\ncontrol_socket = run/hf.sock\nshutdown_timeout = 5s\n"
	    "status_listen = 127.0.0.1:%d\n\n%s", port, w);
	hfd_write_conf(&t, text);
	hfd_spawn(&t, NULL);
	ck_assert_msg(hfd_wait_up(&t, 5000), "holdfastd did not come up");
	ck_assert(supt_wait_state(&t, "http:1", "RUNNING", 0, 10000));
	ck_assert(supt_wait_state(&t, "whatsapp", "RUNNING", 0, 10000));
	url = xasprintf("http://127.0.0.1:%d/", port);
	ck_assert_msg(cdp_start(&c, t.dir, url) == 0, "chromium did not open %s: see "
	    "%s/chromium.log", url, t.dir);
	open = cell_is("http:1", 2, "RUNNING");
	ck_assert_msg(cdp_wait_true(&c, open, 15000), "the page never showed http:1 RUNNING");
	/* a change is shown by the refresh after it: at most a period and a
	 * round trip later */
	ck_assert(cdp_wait_true(&c, "+document.body.dataset.period <= 1000", 0));

	ck_assert_int_eq(hfd_ctl(&t, "stop http:1 >/dev/null 2>&1", NULL), 0);
	ck_assert(supt_wait_state(&t, "http:1", "STOPPED", 0, 10000));
	ms = page_follows(&c, "http:1", 2, "STOPPED");
	printf("status_browser: a stopped instance on the open page after %lld ms\n", ms);

	kill(supt_pid(&t, "whatsapp"), SIGUSR2);
	ck_assert_msg(tu_wait_for(db_is_down, &dw, 10000), "holdfastd never saw the DB down");
	ms = page_follows(&c, "whatsapp", 6, "down (NeonEndpointDisabled)");
	printf("status_browser: a DB outage on the open page after %lld ms\n", ms);
	ck_assert(cdp_wait_true(&c, "document.getElementById('summary').className"
	    ".indexOf('summary warn') === 0", 0));

	cdp_stop(&c);
	free(open);
	free(url);
	free(text);
	free(w);
	free(tw);
	supt_finish(&t);
}
END_TEST

int
main(void)
{
	Suite	*s;
	TCase	*tc;

	if (tu_sh("command -v chromium >/dev/null", NULL) != 0) {
		printf("test_status_browser: chromium is not installed: skipped\n");
		return 77;
	}
	s = suite_create("status_browser");
	tc = tu_tcase(s, "browser", 120);
	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(tc, test_page_in_chromium);
	tcase_add_test(tc, test_page_follows_changes);
	return tu_run(s);
}
