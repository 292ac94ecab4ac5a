/*
 * test_metrics: /metrics from holdfastd (metrics_listen) over real HTTP.
 * With three groups (two instances sending stats, one whose database is
 * down, one killed by a signal) the exposition parses with a real parser
 * (the Python client's, and promtool when installed; a reason holding a
 * quote and a backslash is escaped), follows the naming
 * conventions, and agrees with `holdfastctl status --json` taken at the
 * same moment; every metric the shipped alert rules and dashboard use is
 * one holdfastd serves, and both files are valid; metrics_listen on
 * status_listen's address serves /metrics there, a reload moves it, and
 * an upgrade keeps it and the counters;
 * a real holdfast-http's requests by status reach holdfastd's /metrics.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supt.h"
#include "util.h"

static void
m_conf(struct hfd *t, int sport, int mport, const char *workers)
{
	char *text = xasprintf("[holdfast]\ncontrol_socket = run/hf.sock\n"
	    "shutdown_timeout = 5s\nstatus_listen = 127.0.0.1:%d\n"
	    "metrics_listen = 127.0.0.1:%d\n\n%s", sport, mport, workers);

	hfd_write_conf(t, text);
	free(text);
}

static char *
m_workers(void)
{
	char *tw = supt_tw(), *s;

	s = xasprintf("[worker:a]\ncommand = %s -S\nnumprocs = 2\nstartsecs = 0\n\n"
	    "[worker:b]\ncommand = %s -D 'Time\"out\\' -u 600000\nstartsecs = 0\n\n"
	    "[worker:c]\ncommand = /bin/sh -c 'sleep 0.2; kill -KILL $$$$'\nstartsecs = 0\n"
	    "autorestart = false\n", tw, tw);
	free(tw);
	return s;
}

static int
m_get(int port, const char *path, char **body, char **head)
{
	return tu_http(port, "GET", path, NULL, NULL, 0, body, head, 5000);
}

/* The value of the sample line that starts with head, or -1. */
static double
m_value(const char *text, const char *head)
{
	const char *p = strstr(text, head);

	return p != NULL ? strtod(p + strlen(head), NULL) : -1;
}

struct m_ready {
	struct hfd	*t;
	int		 port;
};

/* Everything the scrape should show has happened. */
static int
m_settled(void *arg)
{
	struct m_ready	*r = arg;
	char		*body = NULL;
	int		 ok;

	ok = m_get(r->port, "/metrics", &body, NULL) == 200 && body != NULL &&
	    strstr(body, "holdfast_worker_stat{group=\"a\",instance=\"a:1\",stat=\"served\"} 7") &&
	    strstr(body, "holdfast_instance_db_up{group=\"b\",instance=\"b\"} 0") &&
	    strstr(body, "holdfast_instance_state{group=\"c\",instance=\"c\",state=\"EXITED\"} 1");
	free(body);
	return ok;
}

/* The parser's verdict on text: 0 ok, 77 no parser; its output in *out. */
static int
m_parse(struct hfd *t, const char *text, char **out)
{
	char	*file = xasprintf("%s/scrape.txt", t->dir);
	char	*py = tu_srcpath("tests/tools/promcheck.py"), *cmd;
	int	 rc;

	tu_write_file(file, text);
	cmd = xasprintf("/usr/bin/python3 '%s' < '%s' 2>&1", py, file);
	rc = tu_sh(cmd, out);
	free(cmd);
	if (tu_sh("command -v promtool >/dev/null", NULL) == 0) {
		cmd = xasprintf("promtool check metrics < '%s' 2>&1", file);
		ck_assert_msg(tu_sh(cmd, NULL) == 0, "promtool check metrics failed on %s", file);
		free(cmd);
	} else
		fprintf(stderr, "test_metrics: promtool not installed (Debian package "
		    "prometheus): checked with the Python client's parser only\n");
	free(py);
	free(file);
	return rc;
}

/* Each instance of status --json has the same state and restarts. */
static void
m_agree(struct hfd *t, const char *text)
{
	yajl_val	 tree, procs = supt_status(t, &tree);
	char		 head[256];

	ck_assert_ptr_nonnull(procs);
	ck_assert_int_eq(procs->u.array.len, 4);
	for (size_t i = 0; i < procs->u.array.len; i++) {
		yajl_val	 p = procs->u.array.values[i];
		const char	*n = json_get_str(p, "name"), *g = json_get_str(p, "group");
		long long	 restarts, up;

		json_get_int(p, "restarts", &restarts);
		json_get_int(p, "uptime_ms", &up);
		snprintf(head, sizeof(head), "holdfast_instance_state{group=\"%s\","
		    "instance=\"%s\",state=\"%s\"} ", g, n, json_get_str(p, "state"));
		ck_assert_msg(m_value(text, head) == 1, "%s: state %s not 1 in /metrics", n,
		    json_get_str(p, "state"));
		snprintf(head, sizeof(head), "holdfast_instance_restarts_total{group=\"%s\","
		    "instance=\"%s\"} ", g, n);
		ck_assert_msg(m_value(text, head) == restarts, "%s: restarts %g, status %lld",
		    n, m_value(text, head), restarts);
		snprintf(head, sizeof(head), "holdfast_instance_uptime_seconds{group=\"%s\","
		    "instance=\"%s\"} ", g, n);
		ck_assert_msg(m_value(text, head) <= up / 1000.0 + 0.001 &&
		    m_value(text, head) >= up / 1000.0 - 2.0, "%s: uptime %g, status %lldms", n,
		    m_value(text, head), up);
	}
	yajl_tree_free(tree);
}

/* Every holdfast_* name in a shipped file is served. */
static void
m_docs_names(const char *rel, const char *text)
{
	char	*path = tu_srcpath(rel), *doc = tu_read_file(path, NULL);
	int	 n = 0;

	ck_assert_msg(doc != NULL, "%s missing", rel);
	for (char *p = doc; (p = strstr(p, "holdfast_")) != NULL; ) {
		size_t	 len = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
		char	*name = xstrndup(p, len), *typed = xasprintf("# TYPE %s ", name);

		ck_assert_msg(strstr(text, typed) != NULL, "%s uses %s, which holdfastd "
		    "does not serve", rel, name);
		free(typed);
		free(name);
		p += len;
		n++;
	}
	ck_assert_msg(n > 0, "%s names no metric", rel);
	free(doc);
	free(path);
}

static void
m_docs(const char *text)
{
	char	*json = tu_srcpath("docs/grafana-dashboard.json"), *rules = tu_srcpath("docs/alerts.yml");
	char	*body = tu_read_file(json, NULL), err[128], *cmd;
	yajl_val v;

	ck_assert_ptr_nonnull(body);
	v = json_parse(body, strlen(body), err, sizeof(err));
	ck_assert_msg(v != NULL && json_get_array(v, "panels") != NULL,
	    "docs/grafana-dashboard.json: %s", v == NULL ? err : "no panels");
	yajl_tree_free(v);
	free(body);
	m_docs_names("docs/grafana-dashboard.json", text);
	m_docs_names("docs/alerts.yml", text);
	if (tu_sh("command -v promtool >/dev/null", NULL) == 0) {
		cmd = xasprintf("promtool check rules '%s' 2>&1", rules);
		ck_assert_msg(tu_sh(cmd, NULL) == 0, "promtool check rules %s failed", rules);
	} else if (tu_sh("/usr/bin/python3 -c 'import yaml' 2>/dev/null", NULL) != 0) {
		fprintf(stderr, "test_metrics: neither promtool nor python3-yaml is "
		    "installed: docs/alerts.yml only checked for the metric names\n");
		cmd = NULL;
	} else {
		fprintf(stderr, "test_metrics: promtool not installed: docs/alerts.yml "
		    "checked for shape with python3-yaml only\n");
		cmd = xasprintf("/usr/bin/python3 -c 'import sys, yaml; d = yaml.safe_load("
		    "open(sys.argv[1])); r = [x for g in d[\"groups\"] for x in g[\"rules\"]]; "
		    "assert r and all(x[\"alert\"] and x[\"expr\"] and x[\"labels\"][\"severity\"]"
		    " for x in r)' '%s' 2>&1", rules);
		ck_assert_msg(tu_sh(cmd, NULL) == 0, "docs/alerts.yml is not rule groups");
	}
	free(cmd);
	free(json);
	free(rules);
}

START_TEST(test_metrics_scrape)
{
	struct hfd	 t;
	int		 sport = tu_free_port(SOCK_STREAM), mport = tu_free_port(SOCK_STREAM);
	char		*w = m_workers(), *body = NULL, *head = NULL, *parsed = NULL;
	struct m_ready	 r = { &t, 0 };
	int		 rc;

	hfd_init(&t, "metrics");
	m_conf(&t, sport, mport, w);
	hfd_spawn(&t, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert(supt_wait_state(&t, "c", "EXITED", 0, 5000));
	r.port = mport;
	ck_assert_msg(tu_wait_for(m_settled, &r, 10000), "the scrape never showed the workers");
	ck_assert_int_eq(m_get(mport, "/metrics", &body, &head), 200);
	ck_assert_msg(strstr(head, "text/plain; version=0.0.4") != NULL, "%s", head);
	m_agree(&t, body);
	rc = m_parse(&t, body, &parsed);
	ck_assert_msg(rc == 0 || rc == 77, "the exposition does not parse: %s", parsed);
	if (rc == 77)
		fprintf(stderr, "test_metrics: %s", parsed);
	else
		ck_assert_msg(strstr(parsed, "holdfast_instance_db_down_seconds_total{group=b,"
		    "instance=b,reason=Time\"out\\}") != NULL, "parsed: %s", parsed);
	ck_assert(m_value(body, "holdfast_instance_db_down_seconds_total{group=\"b\","
	    "instance=\"b\",reason=\"Time\\\"out\\\\\"} ") > 0);	/* escaped */
	ck_assert(m_value(body, "holdfast_instance_exits_total{group=\"c\",instance=\"c\","
	    "cause=\"signal\"} ") == 1);
	ck_assert(m_value(body, "holdfast_instance_resident_memory_bytes{group=\"a\","
	    "instance=\"a:0\"} ") > 0);
	ck_assert(m_value(body, "holdfast_instance_cpu_seconds_total{group=\"a\","
	    "instance=\"a:0\"} ") >= 0);
	m_docs(body);
	free(body);
	free(head);
	free(parsed);
	body = NULL;
	ck_assert_int_eq(m_get(sport, "/metrics", &body, NULL), 404);
	free(body);
	supt_finish(&t);
	free(w);
}
END_TEST

START_TEST(test_metrics_shared)
{
	struct hfd	 t;
	int		 port = tu_free_port(SOCK_STREAM), mport = tu_free_port(SOCK_STREAM);
	char		*w = m_workers(), *body = NULL;

	hfd_init(&t, "metrics-shared");
	m_conf(&t, port, port, w);
	hfd_spawn(&t, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert_int_eq(m_get(port, "/metrics", &body, NULL), 200);
	ck_assert_ptr_nonnull(strstr(body, "# TYPE holdfast_instance_state gauge"));
	free(body);
	ck_assert_int_eq(m_get(port, "/status.json", NULL, NULL), 200);
	m_conf(&t, port, mport, w);
	ck_assert_int_eq(hfd_ctl(&t, "reload", NULL), 0);
	ck_assert_int_eq(m_get(port, "/metrics", NULL, NULL), 404);
	ck_assert_int_eq(m_get(mport, "/metrics", NULL, NULL), 200);
	ck_assert_int_eq(m_get(mport, "/status.json", NULL, NULL), 404);
	/* an upgrade binds the listener again and keeps the counters */
	ck_assert(supt_wait_state(&t, "c", "EXITED", 0, 5000));
	ck_assert_int_eq(hfd_ctl(&t, "upgrade", NULL), 0);
	ck_assert_int_eq(m_get(mport, "/metrics", &body, NULL), 200);
	ck_assert_msg(m_value(body, "holdfast_instance_exits_total{group=\"c\",instance=\"c\","
	    "cause=\"signal\"} ") == 1, "the exit counter did not survive the upgrade");
	free(body);
	supt_finish(&t);
	free(w);
}
END_TEST

struct m_http {
	int	 port, mport;
};

static int
m_http_up(void *arg)
{
	struct m_http *h = arg;

	return tu_http(h->port, "GET", "/healthz", NULL, NULL, 0, NULL, NULL, 1000) > 0;
}

/* holdfast-http's counters, sent on its channel, in holdfastd's scrape. */
static int
m_http_counted(void *arg)
{
	struct m_http	*h = arg;
	char		*body = NULL;
	int		 ok;

	ok = m_get(h->mport, "/metrics", &body, NULL) == 200 && body != NULL &&
	    strstr(body, "holdfast_worker_stat{group=\"h\",instance=\"h\","
	    "stat=\"requests_by_status_404\"} 3\n") != NULL;
	free(body);
	return ok;
}

START_TEST(test_metrics_http)
{
	struct hfd	 t;
	struct m_http	 h = { tu_free_port(SOCK_STREAM), tu_free_port(SOCK_STREAM) };
	char		*http = tu_buildpath("workers/http/holdfast-http"), *ini;

	ini = xasprintf("[holdfast]\ncontrol_socket = run/hf.sock\nmetrics_listen = "
	    "127.0.0.1:%d\n[database]\nconninfo = host=127.0.0.1 port=9 dbname=x "
	    "connect_timeout=1\n[worker:h]\ncommand = %s\nlisten = 127.0.0.1:%d\n",
	    h.mport, http, h.port);
	hfd_init(&t, "metrics-http");
	hfd_write_conf(&t, ini);
	hfd_spawn(&t, NULL);
	ck_assert(hfd_wait_up(&t, 5000));
	ck_assert_msg(tu_wait_for(m_http_up, &h, 15000), "holdfast-http did not serve");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(tu_http(h.port, "GET", "/no/such/route", NULL, NULL, 0, NULL,
		    NULL, 5000), 404);
	ck_assert_msg(tu_wait_for(m_http_counted, &h, 15000),
	    "holdfast-http's requests by status never reached /metrics");
	supt_finish(&t);
	free(ini);
	free(http);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc = tcase_create("metrics");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_metrics_scrape);
	tcase_add_test(tc, test_metrics_shared);
	tcase_add_test(tc, test_metrics_http);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
