/*
 * test_pgt: the PostgreSQL cluster helper every DB test stands on. Guards
 * that a test gets a real, private server it can stop, crash, freeze and
 * restart, with the schema applied and recorded as migrated.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgt.h"
#include "tu.h"

START_TEST(test_lifecycle)
{
	struct pgt	*pg = pgt_start("max_connections = 20\n");
	char		*out = NULL;

	pgt_createdb(pg, "t1", 1);
	ck_assert_int_ge(pgt_scalar(pg, "t1", "SELECT count(*) FROM schema_migrations"), 1);
	ck_assert_int_eq(pgt_scalar(pg, "t1",
	    "SELECT (count(*) = max(version))::int FROM schema_migrations"), 1);
	ck_assert_int_eq(pgt_scalar(pg, "t1", "SELECT count(*) FROM calls"), 0);
	ck_assert_int_eq(pgt_psql(pg, "t1", "SHOW max_connections", &out), 0);
	ck_assert_str_eq(out, "20");
	free(out);
	ck_assert_int_eq(pgt_stop(pg, "fast"), 0);
	ck_assert_int_eq(pgt_scalar(pg, "t1", "SELECT 1"), -1);
	ck_assert_int_eq(pgt_restart(pg), 0);
	ck_assert_int_eq(pgt_scalar(pg, "t1", "SELECT 1"), 1);
	ck_assert_int_eq(pgt_kill9(pg), 0);
	ck_assert_int_eq(pgt_restart(pg), 0);
	ck_assert_int_eq(pgt_scalar(pg, "t1", "SELECT count(*) FROM users"), 0);
	ck_assert_int_eq(pgt_freeze(pg), 0);
	ck_assert_int_eq(pgt_thaw(pg), 0);
	ck_assert_int_eq(pgt_scalar(pg, "t1", "SELECT 2"), 2);
	pgt_destroy(pg);
}
END_TEST

START_TEST(test_cleanup_on_crash)
{
	/* A test process that dies without cleanup leaves no server behind. */
	int	 p[2];
	pid_t	 child, pm;
	char	 dir[512];
	int	 i;

	ck_assert_int_eq(pipe(p), 0);
	if ((child = fork()) == 0) {
		struct pgt *pg = pgt_start(NULL);
		pid_t pmp = pgt_postmaster_pid(pg);

		if (write(p[1], &pmp, sizeof(pmp)) < 0)
			_exit(1);
		snprintf(dir, sizeof(dir), "%s", pgt_datadir(pg));
		if (write(p[1], dir, sizeof(dir)) < 0)
			_exit(1);
		kill(getpid(), SIGKILL);
	}
	ck_assert_int_eq(read(p[0], &pm, sizeof(pm)), sizeof(pm));
	ck_assert_int_eq(read(p[0], dir, sizeof(dir)), sizeof(dir));
	for (i = 0; i < 500 && (kill(pm, 0) == 0 || access(dir, F_OK) == 0); i++)
		usleep(10000);
	ck_assert_msg(kill(pm, 0) == -1, "postmaster %d survived", (int)pm);
	ck_assert_msg(access(dir, F_OK) == -1, "%s left behind", dir);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("pgt");
	TCase	*tc = tu_tcase(s, "cluster", 60);

	tcase_add_test(tc, test_lifecycle);
	tcase_add_test(tc, test_cleanup_on_crash);
	return tu_run(s);
}
