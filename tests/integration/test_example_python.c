/*
 * test_example_python: examples/python-worker under holdfastd, against a
 * real PostgreSQL. The example speaks only sd_notify (standard library)
 * and probes the database with psycopg2; its DB state, forced down by
 * stopping PostgreSQL, must show in `holdfastctl status` and
 * `holdfastctl health`, and come back up after PostgreSQL restarts.
 * Skipped (77) without Debian's python3-psycopg2.
 */
#include <sys/socket.h>

#include "pgt.h"
#include "supt.h"
#include "tu.h"

#define PYTHON	"/usr/bin/python3"

struct db_want {
	struct hfd	*t;
	const char	*state;
	const char	*reason;	/* NULL: any */
};

/* The "db" state of instance "py" in status --json is w->state. */
static int
db_is(void *arg)
{
	struct db_want	*w = arg;
	yajl_val	 tree, procs = supt_status(w->t, &tree);
	int		 ok = 0;

	for (size_t i = 0; procs != NULL && i < procs->u.array.len; i++) {
		yajl_val	 p = procs->u.array.values[i];
		const char	*st = json_get_str(json_get_object(p, "db"), "state");
		const char	*why = json_get_str(json_get_object(p, "db"), "reason");

		if (strcmp(json_get_str(p, "name"), "py") == 0 && st != NULL)
			ok = strcmp(st, w->state) == 0 && (w->reason == NULL ||
			    (why != NULL && strcmp(why, w->reason) == 0));
	}
	yajl_tree_free(tree);
	return ok;
}

START_TEST(test_python_example_db_health)
{
	struct pgt	*pg = pgt_start(NULL);
	const char	*dsn = pgt_createdb(pg, "pyex", 0);
	char		*script = tu_srcpath("examples/python-worker/holdfast_example.py");
	char		*ini, *out = NULL;
	struct hfd	 t;
	struct db_want	 w;

	ini = xasprintf("[worker:py]\ncommand = %s %s --dsn '%s' --interval 0.3 "
	    "--timeout 1\nnotify = systemd\nheartbeat_timeout = 5s\n", PYTHON, script, dsn);
	supt_start(&t, "example-python", ini);
	ck_assert_msg(supt_wait_state(&t, "py", "RUNNING", 0, 20000), "py never RUNNING");
	w.t = &t;
	w.reason = NULL;
	w.state = "up";
	ck_assert_msg(tu_wait_for(db_is, &w, 20000), "the example never reported the DB up");
	ck_assert_int_eq(hfd_ctl(&t, "health", &out), 0);
	free(out);

	ck_assert_int_eq(pgt_stop(pg, "fast"), 0);
	w.state = "down";
	w.reason = "ConnectionRefused";	/* once the lost connection is retried */
	ck_assert_msg(tu_wait_for(db_is, &w, 20000), "the DB stop never showed");
	ck_assert_int_eq(hfd_ctl(&t, "health", &out), 3);
	ck_assert_msg(strstr(out, "ConnectionRefused") != NULL, "health:\n%s", out);
	free(out);
	ck_assert_int_eq(hfd_ctl(&t, "status py", &out), 0);
	ck_assert_msg(strstr(out, "down") != NULL && strstr(out, "RUNNING") != NULL,
	    "status:\n%s", out);
	free(out);

	ck_assert_int_eq(pgt_restart(pg), 0);
	w.state = "up";
	w.reason = NULL;
	ck_assert_msg(tu_wait_for(db_is, &w, 20000), "the DB restart never showed");
	ck_assert_int_eq(hfd_ctl(&t, "health", &out), 0);
	free(out);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_HUNG]"), 0);
	ck_assert_int_eq(supt_log_count(&t, "[NOTIFY_IGNORED]"), 0);
	supt_finish(&t);
	pgt_destroy(pg);
	free(ini);
	free(script);
}
END_TEST

int
main(void)
{
	Suite	*s;
	TCase	*tc;

	if (tu_sh(PYTHON " -c 'import psycopg2' 2>/dev/null", NULL) != 0) {
		printf("test_example_python: " PYTHON " cannot import psycopg2 "
		    "(apt-get install python3-psycopg2): skipped\n");
		return 77;
	}
	s = suite_create("example_python");
	tc = tu_tcase(s, "python", 90);
	tcase_add_test(tc, test_python_example_db_health);
	return tu_run(s);
}
