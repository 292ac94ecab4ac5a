/*
 * test_status_browser: the status page in a real browser. Headless
 * Chromium loads it from a real holdfastd whose groups are running, DB
 * down and FATAL; the DOM it renders (after the script polled
 * /status.json under the page's Content-Security-Policy) must show each
 * instance with its state, and a screenshot is saved as
 * tests/integration/status-page.png ($STATUS_SCREENSHOT names another
 * file: docs/status-page.png is made that way). Without chromium the suite
 * says so and is skipped (77).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	return tu_run(s);
}
