/*
 * test_cfg_limits: the limits keys of [worker:NAME] and [holdfast]
 * (memory_max, cpu_quota, pids_max, cgroup, rlimit_*, umask, group,
 * no_new_privs, oom_score_adj): defaults, every accepted form, and each
 * bad value refused with "file:line: reason".
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "tu.h"
#include "util.h"

static char	*tmp, *conf;
static char	 err[CFG_ERRLEN];

static void
setup(void)
{
	tmp = tu_tmpdir("cfg-limits");
	conf = xasprintf("%s/holdfast.conf", tmp);
}

static void
teardown(void)
{
	tu_rmrf(tmp);
	free(tmp);
	free(conf);
}

#define WORKER "[worker:w]\ncommand = /bin/true\n"

static struct cfg *
load_worker(const char *keys)
{
	char *text = xasprintf(WORKER "%s", keys);

	ck_assert_int_eq(tu_write_file(conf, text), 0);
	free(text);
	err[0] = '\0';
	return cfg_load(conf, err, sizeof(err));
}

/* keys (one line, after the two of WORKER) refused with reason's prefix. */
static void
refused(const char *keys, const char *prefix)
{
	struct cfg	*cfg = load_worker(keys);
	char		*want = xasprintf("%s:3: %s", conf, prefix);

	ck_assert_msg(cfg == NULL, "accepted: %s", keys);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got \"%s\", want \"%s...\"",
	    err, want);
	free(want);
}

START_TEST(test_limit_defaults)
{
	struct cfg		*cfg = load_worker("");
	const struct cfg_worker	*w;

	ck_assert_ptr_nonnull(cfg);
	w = cfg_worker_find(cfg, "w");
	ck_assert_int_eq(w->memory_max, 0);
	ck_assert_int_eq(w->cpu_quota, 0);
	ck_assert_int_eq(w->pids_max, 0);
	ck_assert_int_eq(w->cgroup, 0);
	ck_assert(w->rlimit_nofile == CFG_RLIM_INHERIT);
	ck_assert(w->rlimit_core == CFG_RLIM_INHERIT);
	ck_assert(w->rlimit_as == CFG_RLIM_INHERIT);
	ck_assert_int_eq(w->umask, -1);
	ck_assert_ptr_null(w->group);
	ck_assert_int_eq(w->no_new_privs, 0);
	ck_assert_int_eq(w->oom_score_adj, 0);
	ck_assert_int_eq(cfg->holdfast.oom_score_adj, -900);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_limit_values)
{
	struct cfg		*cfg = load_worker("memory_max = 64M\ncpu_quota = 150%\n"
	    "pids_max = 64\ncgroup = yes\nrlimit_nofile = 4096\nrlimit_core = unlimited\n"
	    "rlimit_as = 2G\numask = 0027\ngroup = daemon\nno_new_privs = true\n"
	    "oom_score_adj = -100\n");
	const struct cfg_worker	*w;

	ck_assert_msg(cfg != NULL, "%s", err);
	w = cfg_worker_find(cfg, "w");
	ck_assert(w->memory_max == 64 * HF_MIB);
	ck_assert_int_eq(w->cpu_quota, 150);
	ck_assert_int_eq(w->pids_max, 64);
	ck_assert_int_eq(w->cgroup, 1);
	ck_assert(w->rlimit_nofile == 4096);
	ck_assert(w->rlimit_core == CFG_RLIM_INFINITY);
	ck_assert(w->rlimit_as == 2 * HF_GIB);
	ck_assert_int_eq(w->umask, 027);
	ck_assert_str_eq(w->group, "daemon");
	ck_assert_int_eq(w->no_new_privs, 1);
	ck_assert_int_eq(w->oom_score_adj, -100);
	cfg_free(cfg);
	cfg = load_worker("umask = 0\ncpu_quota = \nrlimit_core = 0\n");
	ck_assert_msg(cfg != NULL, "%s", err);
	w = cfg_worker_find(cfg, "w");
	ck_assert_int_eq(w->umask, 0);
	ck_assert_int_eq(w->cpu_quota, 0);
	ck_assert(w->rlimit_core == 0);
	cfg_free(cfg);
}
END_TEST

START_TEST(test_limit_bad_values)
{
	refused("memory_max = lots\n", "memory_max: bad size \"lots\"");
	refused("memory_max = -1\n", "memory_max: bad size");
	refused("cpu_quota = 50\n", "cpu_quota: bad value \"50\" (expected a percentage");
	refused("cpu_quota = 0.5%\n", "cpu_quota: bad value \"0.5%\"");
	refused("cpu_quota = 100001%\n", "cpu_quota: bad value");
	refused("cpu_quota = %\n", "cpu_quota: bad value");
	refused("pids_max = -1\n", "pids_max: bad value \"-1\"");
	refused("pids_max = many\n", "pids_max: bad value");
	refused("cgroup = maybe\n", "cgroup: bad value \"maybe\"");
	refused("rlimit_nofile = abc\n", "rlimit_nofile: bad value \"abc\" (expected unlimited");
	refused("rlimit_nofile = 0\n", "rlimit_nofile: bad value \"0\"");
	refused("rlimit_as = 1K\n", "rlimit_as: bad value \"1K\"");
	refused("rlimit_core = -5\n", "rlimit_core: bad value");
	refused("umask = 999\n", "umask: bad value \"999\" (expected octal digits");
	refused("umask = 08\n", "umask: bad value \"08\"");
	refused("umask = 01777\n", "umask: bad value \"01777\"");
	refused("umask = u=rwx\n", "umask: bad value");
	refused("no_new_privs = sometimes\n", "no_new_privs: bad value \"sometimes\"");
	refused("oom_score_adj = 2000\n", "oom_score_adj: bad value \"2000\" "
	    "(expected an integer in -1000..1000)");
	refused("oom_score_adj = -1001\n", "oom_score_adj: bad value");
	ck_assert_int_eq(tu_write_file(conf, "[holdfast]\noom_score_adj = low\n"), 0);
	ck_assert_ptr_null(cfg_load(conf, err, sizeof(err)));
	{
		char *want = xasprintf("%s:2: oom_score_adj: bad value \"low\"", conf);

		ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
		free(want);
	}
}
END_TEST

/* A changed limit restarts the group (cfg_worker_equal sees it). */
START_TEST(test_limit_diff)
{
	struct cfg	*a = load_worker("cpu_quota = 50%\numask = 022\n"), *b;
	const char	*keys[8];

	ck_assert_ptr_nonnull(a);
	b = load_worker("cpu_quota = 60%\numask = 022\nrlimit_as = 1G\n");
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(cfg_worker_diff(cfg_worker_find(a, "w"), cfg_worker_find(b, "w"),
	    keys, 8), 2);
	ck_assert_str_eq(keys[0], "cpu_quota");
	ck_assert_str_eq(keys[1], "rlimit_as");
	cfg_free(a);
	cfg_free(b);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("cfg_limits");
	TCase	*tc = tu_tcase(s, "limits", 30);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_limit_defaults);
	tcase_add_test(tc, test_limit_values);
	tcase_add_test(tc, test_limit_bad_values);
	tcase_add_test(tc, test_limit_diff);
	return tu_run(s);
}
