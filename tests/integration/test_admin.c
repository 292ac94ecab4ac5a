/*
 * test_admin: holdfast-admin, the operator's way to prepare the database:
 * `migrate` applies the schema once (again is a no-op), `useradd EMAIL`
 * takes the password from stdin only and stores a yescrypt hash that
 * verifies, refuses a duplicate, and a database that is down is an error
 * message and exit 1, not a crash.
 */
#include <check.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgt.h"
#include "tu.h"

static char *
write_conf(const char *dir, const char *conninfo)
{
	char	*path, *text;

	if (asprintf(&path, "%s/holdfast.conf", dir) == -1 ||
	    asprintf(&text, "[holdfast]\nlog_level = info\n[database]\n"
	    "conninfo = %s\n", conninfo) == -1)
		abort();
	ck_assert_int_eq(tu_write_file(path, text), 0);
	free(text);
	return path;
}

static int
admin(const char *conf, const char *args, const char *input, char **out)
{
	char	*bin = tu_buildpath("workers/admin/holdfast-admin"), *cmd;
	int	 rc;

	if (asprintf(&cmd, "printf '%s' | %s -c %s %s 2>&1", input, bin, conf,
	    args) == -1)
		abort();
	rc = tu_sh(cmd, out);
	free(cmd);
	free(bin);
	return rc;
}

START_TEST(test_migrate_and_useradd)
{
	struct pgt	*pg = pgt_start(NULL);
	char		*dir = tu_tmpdir("admin"), *conf, *out = NULL, *hash = NULL;
	struct crypt_data cd;

	conf = write_conf(dir, pgt_createdb(pg, "hf", 0));
	ck_assert_int_eq(admin(conf, "migrate", "", &out), 0);
	ck_assert_msg(strstr(out, "[DB_MIGRATE] version 1 (init) applied") != NULL, "%s", out);
	free(out);
	ck_assert_int_eq(admin(conf, "migrate", "", &out), 0);
	ck_assert_msg(strstr(out, "(0 applied now)") != NULL, "%s", out);
	free(out);
	/* every version once, none skipped */
	ck_assert_int_ge(pgt_scalar(pg, "hf", "SELECT count(*) FROM schema_migrations"), 1);
	ck_assert_int_eq(pgt_scalar(pg, "hf",
	    "SELECT (count(*) = max(version))::int FROM schema_migrations"), 1);

	ck_assert_int_eq(admin(conf, "useradd ops@example.com", "s3cret-pw\\n", &out), 0);
	ck_assert_msg(strstr(out, "s3cret") == NULL, "%s", out);
	free(out);
	ck_assert_int_eq(pgt_psql(pg, "hf", "SELECT password_hash FROM users "
	    "WHERE email = 'ops@example.com'", &hash), 0);
	ck_assert_msg(strncmp(hash, "$y$", 3) == 0, "%s", hash);
	memset(&cd, 0, sizeof(cd));
	ck_assert_str_eq(crypt_r("s3cret-pw", hash, &cd), hash);
	free(hash);
	/* a duplicate is refused; no password is refused */
	ck_assert_int_eq(admin(conf, "useradd ops@example.com", "x\\n", &out), 1);
	ck_assert(strstr(out, "already exists") != NULL);
	free(out);
	ck_assert_int_eq(admin(conf, "useradd b@example.com", "", &out), 1);
	free(out);
	ck_assert_int_eq(admin(conf, "frobnicate", "", &out), 2);
	free(out);
	/* the database down: a message and 1 */
	ck_assert_int_eq(pgt_stop(pg, "fast"), 0);
	ck_assert_int_eq(admin(conf, "migrate", "", &out), 1);
	ck_assert_msg(strstr(out, "migrate:") != NULL, "%s", out);
	free(out);
	free(conf);
	tu_rmrf(dir);
	free(dir);
	pgt_destroy(pg);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("admin");
	TCase	*tc = tu_tcase(s, "admin", 60);

	tcase_add_test(tc, test_migrate_and_useradd);
	return tu_run(s);
}
