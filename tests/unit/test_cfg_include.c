/*
 * test_cfg_include: the operator-facing config features around the keys:
 * "include = PATTERN" (sorted, relative to the including file, nested,
 * cycles refused, errors naming the included file and line), ${VAR} and
 * ${VAR:-default} expansion with $$, and depends_on checked at load
 * (unknown names, itself, cycles), with the new keys' bad values refused
 * with "file:line: reason".
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "tu.h"
#include "util.h"

static char	*tmp;
static char	 err[CFG_ERRLEN];

static void
setup(void)
{
	tmp = tu_tmpdir("cfginc");
	err[0] = '\0';
}

static void
teardown(void)
{
	tu_rmrf(tmp);
	free(tmp);
}

/* Writes tmp/rel (its directory made first). */
static void
put(const char *rel, const char *text)
{
	char	path[1024], *slash;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	if ((slash = strrchr(path, '/')) != NULL && slash > path + strlen(tmp)) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	ck_assert_int_eq(tu_write_file(path, text), 0);
}

static struct cfg *
load_main(const char *text)
{
	char		 path[1024];

	put("holdfast.conf", text);
	snprintf(path, sizeof(path), "%s/holdfast.conf", tmp);
	err[0] = '\0';
	return cfg_load(path, err, sizeof(err));
}

/* Asserts a refusal whose message is "tmp/rel:line: reason". */
static void
refused(const char *text, const char *rel, int line, const char *reason)
{
	struct cfg	*cfg = load_main(text);
	char		 want[CFG_ERRLEN];

	ck_assert_msg(cfg == NULL, "accepted:\n%s", text);
	snprintf(want, sizeof(want), "%s/%s:%d: %s", tmp, rel, line, reason);
	ck_assert_str_eq(err, want);
}

START_TEST(test_include_sorted_and_relative)
{
	struct cfg	*cfg;

	put("conf.d/20-b.conf", "[worker:b]\ncommand = /bin/true\n");
	put("conf.d/10-a.conf", "[worker:a]\ncommand = /bin/true\n");
	put("conf.d/notes.txt", "not ini at all\n");
	/* the include sits inside [holdfast], which carries on after it */
	cfg = load_main("[holdfast]\ninclude = conf.d/*.conf\nlog_level = debug\n"
	    "[worker:z]\ncommand = /bin/true\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->nworkers, 3);
	ck_assert_str_eq(cfg->workers[0].name, "a");
	ck_assert_str_eq(cfg->workers[1].name, "b");
	ck_assert_str_eq(cfg->workers[2].name, "z");
	ck_assert_int_eq(cfg->holdfast.log_level, 3);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_include_missing)
{
	struct cfg	*cfg;
	char		 want[CFG_ERRLEN];

	/* a wildcard that matches nothing, even in a missing directory: fine */
	cfg = load_main("include = nowhere.d/*.conf\n[worker:a]\ncommand = /bin/true\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	cfg_free(cfg);
	/* a plain name must exist */
	snprintf(want, sizeof(want), "include: %s/extra.conf: No such file or directory",
	    tmp);
	refused("[holdfast]\n\ninclude = extra.conf\n", "holdfast.conf", 3, want);
	refused("include =\n", "holdfast.conf", 1, "include: empty pattern");
	/* only regular files: never a device, a FIFO or a directory */
	refused("include = /dev/null\n", "holdfast.conf", 1,
	    "include: /dev/null: not a regular file");
	snprintf(want, sizeof(want), "include: %s/sub.d: not a regular file", tmp);
	put("sub.d/x", "");
	refused("include = sub.*\n", "holdfast.conf", 1, want);
}
END_TEST

/* An included file's error names that file and its own line. */
START_TEST(test_include_error_names_file)
{
	char	want[CFG_ERRLEN];

	put("conf.d/x.conf", "; comment\n[worker:x]\nnumproc = 2\n");
	refused("[worker:a]\ncommand = /bin/true\ninclude = conf.d/*.conf\n",
	    "conf.d/x.conf", 3, "unknown key \"numproc\"");
	/* a section given twice across files says where the first is */
	put("conf.d/x.conf", "[worker:a]\ncommand = /bin/true\n");
	snprintf(want, sizeof(want),
	    "duplicate section [worker:a] (first at %s/conf.d/x.conf:1)", tmp);
	refused("include = conf.d/x.conf\n[worker:a]\ncommand = /bin/true\n",
	    "holdfast.conf", 2, want);
}
END_TEST

START_TEST(test_include_cycle_and_depth)
{
	char	want[CFG_ERRLEN];

	put("a.conf", "include = b.conf\n");
	put("b.conf", "include = a.conf\n");
	snprintf(want, sizeof(want), "include: %s/a.conf: a cycle (the file is already "
	    "being read)", tmp);
	refused("include = ./a.conf\n", "b.conf", 1, want);
	/* itself */
	snprintf(want, sizeof(want), "include: %s/holdfast.conf: a cycle (the file is "
	    "already being read)", tmp);
	refused("include = holdfast.conf\n", "holdfast.conf", 1, want);
	/* a chain deeper than 8 files */
	for (int i = 1; i <= 9; i++) {
		char name[32], text[64];

		snprintf(name, sizeof(name), "d%d.conf", i);
		snprintf(text, sizeof(text), "include = d%d.conf\n", i + 1);
		put(name, text);
	}
	put("d10.conf", "");
	snprintf(want, sizeof(want), "include: %s/d8.conf: nested deeper than 8 files", tmp);
	refused("include = d1.conf\n", "d7.conf", 1, want);
}
END_TEST

START_TEST(test_expand)
{
	struct cfg		*cfg;
	const struct cfg_worker	*w;

	setenv("HF_T_CMD", "/bin/echo", 1);
	setenv("HF_T_EMPTY", "", 1);
	unsetenv("HF_T_UNSET");
	setenv("HF_T_NESTED", "${HF_T_CMD}", 1);
	cfg = load_main("[worker:a]\n"
	    "command = ${HF_T_CMD} x${HF_T_UNSET:-dflt}y ${HF_T_EMPTY:-e} $$HOME $HOME "
	    "${HF_T_NESTED} $${HF_T_CMD}\n"
	    "numprocs = ${HF_T_UNSET:-3}\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	w = cfg_worker_find(cfg, "a");
	ck_assert_int_eq(w->argc, 7);
	ck_assert_str_eq(w->argv[0], "/bin/echo");
	ck_assert_str_eq(w->argv[1], "xdflty");
	ck_assert_str_eq(w->argv[2], "e");
	ck_assert_str_eq(w->argv[3], "$HOME");
	ck_assert_str_eq(w->argv[4], "$HOME");
	ck_assert_str_eq(w->argv[5], "${HF_T_CMD}");	/* not expanded again */
	ck_assert_str_eq(w->argv[6], "${HF_T_CMD}");
	ck_assert_int_eq(w->numprocs, 3);
	cfg_free(cfg);
	/* an include pattern expands too */
	setenv("HF_T_DIR", "conf.d", 1);
	put("conf.d/a.conf", "[worker:a]\ncommand = /bin/true\n");
	cfg = load_main("include = ${HF_T_DIR}/*.conf\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->nworkers, 1);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_expand_refused)
{
	unsetenv("HF_T_UNSET");
	setenv("HF_T_N", "two", 1);
	refused("[worker:a]\ncommand = /bin/true\nuser = ${HF_T_UNSET}\n", "holdfast.conf", 3,
	    "user: ${HF_T_UNSET} is not set (a default is written ${HF_T_UNSET:-default})");
	refused("[worker:a]\ncommand = ${HF_T_UNSET\n", "holdfast.conf", 2,
	    "command: unterminated \"${HF_T_UNSET\" (expected ${NAME} or ${NAME:-default})");
	refused("[worker:a]\ncommand = ${1X}\n", "holdfast.conf", 2,
	    "command: bad variable name after \"${\" (expected ${NAME} or ${NAME:-default})");
	/* the expanded value is checked like a written one */
	refused("[worker:a]\ncommand = /bin/true\nnumprocs = ${HF_T_N}\n", "holdfast.conf", 3,
	    "numprocs: bad value \"two\" (expected an integer in 1..256)");
}
END_TEST

START_TEST(test_depends)
{
	struct cfg		*cfg;
	const struct cfg_worker	*w;

	cfg = load_main("[worker:app]\ncommand = /bin/true\ndepends_on = db , cache,\n"
	    "depends_timeout = 0\n"
	    "[worker:db]\ncommand = /bin/true\n[worker:cache]\ncommand = /bin/true\n"
	    "depends_on = db\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	w = cfg_worker_find(cfg, "app");
	ck_assert_int_eq(w->ndepends, 2);
	ck_assert_str_eq(w->depends[0], "db");
	ck_assert_str_eq(w->depends[1], "cache");
	ck_assert_int_eq(w->depends_timeout_ms, 0);
	ck_assert_int_eq(cfg_worker_find(cfg, "db")->ndepends, 0);
	ck_assert_int_eq(cfg_worker_find(cfg, "db")->depends_timeout_ms, 60000);
	cfg_free(cfg);
	refused("[worker:app]\ncommand = /bin/true\ndepends_on = nope\n", "holdfast.conf", 1,
	    "[worker:app] depends_on: no section [worker:nope]");
	refused("[worker:app]\ncommand = /bin/true\ndepends_on = app\n", "holdfast.conf", 1,
	    "[worker:app] depends_on: names itself");
	refused("[worker:a]\ncommand = /bin/true\ndepends_on = b\n"
	    "[worker:b]\ncommand = /bin/true\ndepends_on = c\n"
	    "[worker:c]\ncommand = /bin/true\ndepends_on = a\n", "holdfast.conf", 1,
	    "[worker:a] depends_on: a cycle of dependencies");
	refused("[worker:a]\ncommand = /bin/true\ndepends_on = b, b\n"
	    "[worker:b]\ncommand = /bin/true\n", "holdfast.conf", 1,
	    "[worker:a] depends_on: b named twice");
}
END_TEST

START_TEST(test_new_keys)
{
	struct cfg		*cfg;
	const struct cfg_worker	*w;

	cfg = load_main("[worker:a]\ncommand = /bin/true\nfatal_retry = 0\n"
	    "logfile_timestamps = true\nlogfile_rotate = daily\n"
	    "[worker:b]\ncommand = /bin/true\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	w = cfg_worker_find(cfg, "a");
	ck_assert_int_eq(w->fatal_retry_ms, 0);
	ck_assert_int_eq(w->logfile_timestamps, 1);
	ck_assert_int_eq(w->logfile_rotate, CFG_ROTATE_DAILY);
	w = cfg_worker_find(cfg, "b");
	ck_assert_int_eq(w->fatal_retry_ms, 5 * 60 * 1000);
	ck_assert_int_eq(w->startretries, 13);
	ck_assert_int_eq(w->logfile_timestamps, 0);
	ck_assert_int_eq(w->logfile_rotate, CFG_ROTATE_SIZE);
	cfg_free(cfg);
	refused("[worker:a]\ncommand = /bin/true\nlogfile_rotate = weekly\n", "holdfast.conf",
	    3, "logfile_rotate: bad value \"weekly\" (expected size, hourly or daily)");
	refused("[worker:a]\ncommand = /bin/true\nfatal_retry = soon\n", "holdfast.conf", 3,
	    "fatal_retry: bad duration \"soon\" (expected e.g. 500ms, 5s, 2m, 1h; "
	    "0ms..2592000000ms)");
	refused("[worker:a]\ncommand = /bin/true\ndepends_timeout = -1s\n", "holdfast.conf", 3,
	    "depends_timeout: bad duration \"-1s\" (expected e.g. 500ms, 5s, 2m, 1h; "
	    "0ms..86400000ms)");
	refused("[worker:a]\ncommand = /bin/true\nlogfile_timestamps = maybe\n",
	    "holdfast.conf", 3, "logfile_timestamps: bad value \"maybe\" (expected true or "
	    "false)");
}
END_TEST

/*
 * The default retry budget before FATAL spans at least a minute, whatever
 * the random part of each backoff: startretries - 1 backoffs of at least
 * half of 100ms, 200ms, ... capped at 30s (72.0 s and more; 141.1 s at
 * most), as holdfastd computes them (hf_backoff_half_jitter_ms).
 */
START_TEST(test_default_fatal_budget)
{
	struct cfg_worker	w;
	int64_t			lo = 0, hi = 0;

	cfg_worker_defaults(&w);
	ck_assert_int_eq(w.startretries, 13);
	for (int attempt = 1; attempt < w.startretries; attempt++) {
		lo += hf_backoff_half_jitter_ms(w.backoff_initial_ms, w.backoff_max_ms,
		    attempt - 1, 0.0);
		hi += hf_backoff_half_jitter_ms(w.backoff_initial_ms, w.backoff_max_ms,
		    attempt - 1, 0.999999);
	}
	ck_assert_int_ge(lo, 60000);
	ck_assert_int_eq(lo, 70550);
	ck_assert_int_le(hi, 141100);
	ck_assert_int_ge(hi, 141000);
	ck_assert_int_eq(w.fatal_retry_ms, 5 * 60 * 1000);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("cfg_include");
	TCase	*tc = tu_tcase(s, "cfg_include", 0);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_include_sorted_and_relative);
	tcase_add_test(tc, test_include_missing);
	tcase_add_test(tc, test_include_error_names_file);
	tcase_add_test(tc, test_include_cycle_and_depth);
	tcase_add_test(tc, test_expand);
	tcase_add_test(tc, test_expand_refused);
	tcase_add_test(tc, test_depends);
	tcase_add_test(tc, test_new_keys);
	tcase_add_test(tc, test_default_fatal_budget);
	return tu_run(s);
}
