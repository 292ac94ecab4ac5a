/*
 * test_cfg_rows: the key rows are the one description of the config file.
 * Every row (common/cfg.c and each workers/NAME/keys.def) is documented in
 * its section of holdfast.conf(5) and of etc/holdfast.conf, and every key
 * either documents is a row of that section; the rows are well formed
 * (unique names, a one-line doc, a range that holds the default); the
 * keys a reload applies in place are the ones the manual lists; the
 * DB layer's defaults are the rows' defaults; and every worker directory
 * is gathered by autogen.sh (a new one needs ./autogen.sh again).
 */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "db.h"
#include "tu.h"
#include "util.h"

static const char *const sections[] = { "holdfast", "database", "whatsapp", "worker",
    "event" };	/* events: [event:NAME] */

#define MAXKEYS	256

/* The keys a document names, each with its section. */
struct doc_keys {
	const char	*what;		/* for messages */
	int		 n;
	char		 sect[MAXKEYS][16];
	char		 key[MAXKEYS][64];
};

static void
doc_add(struct doc_keys *d, const char *sect, const char *key, size_t len)
{
	ck_assert_msg(d->n < MAXKEYS, "more than %d keys in %s", MAXKEYS, d->what);
	snprintf(d->sect[d->n], sizeof(d->sect[0]), "%s", sect);
	snprintf(d->key[d->n], sizeof(d->key[0]), "%.*s", (int)len, key);
	d->n++;
}

static int
doc_has(const struct doc_keys *d, const char *sect, const char *key)
{
	for (int i = 0; i < d->n; i++)
		if (strcmp(d->sect[i], sect) == 0 && strcmp(d->key[i], key) == 0)
			return 1;
	return 0;
}

/* "[worker:x]" -> "worker"; "[database]" -> "database". */
static void
sect_of(const char *hdr, char *out, size_t len)
{
	size_t n = strcspn(hdr + 1, ":]");

	snprintf(out, len, "%.*s", (int)n, hdr + 1);
}

/* etc/holdfast.conf: "key = value" and commented-out ";key = value" lines,
 * under "[section]" or commented-out ";[section]" headers. */
static void
etc_keys(struct doc_keys *d)
{
	char	*path = tu_srcpath("etc/holdfast.conf"), *text = tu_read_file(path, NULL);
	char	 sect[16] = "";

	ck_assert_ptr_nonnull(text);
	d->what = "etc/holdfast.conf";
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		char	*s = line + (*line == ';');
		size_t	 n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");

		if (*s == '[')
			sect_of(s, sect, sizeof(sect));
		else if (n > 0 && s[n + strspn(s + n, " \t")] == '=')
			doc_add(d, sect, s, n);
	}
	free(text);
	free(path);
}

/* holdfast.conf(5): from ".SH [holdfast]" to ".SH ENVIRONMENT", the first
 * line of each ".TP" entry names its keys: .BR a ", " b " (...)". */
static void
man_keys(struct doc_keys *d)
{
	char	*path = tu_srcpath("man/holdfast.conf.5"), *text = tu_read_file(path, NULL);
	char	*s, *end, sect[16] = "";

	ck_assert_ptr_nonnull(text);
	d->what = "man/holdfast.conf.5";
	ck_assert_ptr_nonnull(s = strstr(text, "\n.SH [holdfast]\n"));
	ck_assert_ptr_nonnull(end = strstr(s, "\n.SH ENVIRONMENT\n"));
	*end = '\0';
	for (; s != NULL; s = strchr(s + 1, '\n')) {
		if (strncmp(s, "\n.SH [", 6) == 0)
			sect_of(s + 5, sect, sizeof(sect));
		if (strncmp(s, "\n.TP\n.B", 7) != 0)
			continue;
		s += 7 + strcspn(s + 7, " ");
		for (;;) {
			size_t n;

			s += strspn(s, " ");
			n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
			ck_assert_msg(n > 0, "a .TP entry in [%s] of %s names no key", sect, d->what);
			doc_add(d, sect, s, n);
			s += n;
			if (strncmp(s, " \", \" ", 6) != 0)
				break;
			s += 6;
		}
	}
	free(text);
	free(path);
}

/* Every row is in d, in its section; every key of d is a row there. */
static void
rows_match(const struct doc_keys *d)
{
	int	rows = 0;

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		for (const struct cfg_row *k = cfg_rows(sections[i]); k->name != NULL; k++) {
			ck_assert_msg(doc_has(d, sections[i], k->name),
			    "row %s of [%s] missing from %s", k->name, sections[i], d->what);
			rows++;
		}
	for (int i = 0; i < d->n; i++)
		ck_assert_msg(cfg_row_find(d->sect[i], d->key[i]) != NULL,
		    "%s documents %s in [%s], which has no such row", d->what, d->key[i],
		    d->sect[i]);
	ck_assert_msg(rows >= 70, "only %d rows", rows);
}

START_TEST(test_rows_in_example)
{
	struct doc_keys *d = calloc(1, sizeof(*d));

	etc_keys(d);
	rows_match(d);
	free(d);
}
END_TEST

START_TEST(test_rows_in_manual)
{
	struct doc_keys *d = calloc(1, sizeof(*d));

	man_keys(d);
	rows_match(d);
	free(d);
}
END_TEST

static int
is_number(enum cfg_type t)
{
	return t == CFG_T_INT || t == CFG_T_DUR || t == CFG_T_SIZE;
}

START_TEST(test_rows_well_formed)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		for (const struct cfg_row *k = cfg_rows(sections[i]); k->name != NULL; k++) {
			ck_assert_msg(cfg_row_find(sections[i], k->name) == k,
			    "[%s] %s has two rows", sections[i], k->name);
			ck_assert_msg(k->doc != NULL && *k->doc != '\0' &&
			    strchr(k->doc, '\n') == NULL, "[%s] %s: doc", sections[i], k->name);
			ck_assert_msg(!is_number(k->type) || k->min <= k->max,
			    "[%s] %s: min > max", sections[i], k->name);
			ck_assert_msg(k->def != NULL || strcmp(k->name, "command") == 0 ||
			    strcmp(k->name, "query_timeout") == 0,
			    "[%s] %s has no default", sections[i], k->name);
		}
	ck_assert_ptr_null(cfg_rows("worker:http"));
	ck_assert_ptr_null(cfg_row_find("holdfast", "numprocs"));
}
END_TEST

/* The in-place list of RELOADING in the manual is the rows' INPLACE set. */
START_TEST(test_inplace_keys_in_manual)
{
	char	*path = tu_srcpath("man/holdfast.conf.5"), *text = tu_read_file(path, NULL);
	char	*s, *end, word[64];
	int	 listed = 0, inplace = 0;

	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(s = strstr(text, "that holdfastd alone reads changed\n"));
	ck_assert_ptr_nonnull(end = strstr(s, "they apply to the running processes"));
	*end = '\0';
	for (s = strchr(s, '\n'); *s != '\0'; s++) {
		size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz_");

		if (n == 0 || isalpha((unsigned char)s[-1]))
			continue;
		snprintf(word, sizeof(word), "%.*s", (int)n, s);
		s += n - 1;
		if (cfg_row_find("worker", word) == NULL)
			continue;
		ck_assert_msg(cfg_row_find("worker", word)->reload == CFG_RELOAD_INPLACE,
		    "the manual lists %s as applied in place; its row says restart", word);
		listed++;
	}
	for (const struct cfg_row *k = cfg_rows("worker"); k->name != NULL; k++)
		inplace += k->reload == CFG_RELOAD_INPLACE;
	ck_assert_int_eq(listed, inplace);
	ck_assert_int_eq(inplace, 21 + 7);	/* + sdnotify's health_* */
	free(text);
	free(path);
}
END_TEST

/* The DB layer's defaults are the rows' (query_timeout derived once). */
START_TEST(test_db_defaults)
{
	struct cfg_database	a, b;

	db_config_defaults(&a);
	cfg_database_defaults(&b);
	ck_assert_ptr_null(a.conninfo);
	ck_assert_str_eq(b.conninfo, "dbname=holdfast");
	free(b.conninfo);
	b.conninfo = NULL;
	ck_assert(memcmp(&a, &b, sizeof(a)) == 0);
	ck_assert_int_eq(a.statement_timeout_ms, 30000);
	ck_assert_int_eq(a.query_timeout_ms, 35000);
}
END_TEST

/* 1 when the file at rel (under the source tree) contains needle. */
static int
src_has(const char *rel, const char *needle)
{
	char	*path = tu_srcpath(rel), *text = tu_read_file(path, NULL);
	int	 found = text != NULL && strstr(text, needle) != NULL;

	free(text);
	free(path);
	return found;
}

/* workers/workers.mk and workers/all_keys.def name every worker directory. */
START_TEST(test_workers_gathered)
{
	char		*path = tu_srcpath("workers"), *rel, *want;
	DIR		*dir = opendir(path);
	struct dirent	*e;
	int		 n = 0;

	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		rel = xasprintf("workers/%s/keys.def", e->d_name);
		want = xasprintf("#include \"%s/keys.def\"", e->d_name);
		ck_assert_msg(!src_has(rel, "CFG_KEY(") || src_has("workers/all_keys.def", want),
		    "%s is not in workers/all_keys.def: run ./autogen.sh", rel);
		free(rel);
		free(want);
		rel = xasprintf("workers/%s/local.mk", e->d_name);
		want = xasprintf("include $(srcdir)/%s", rel);
		ck_assert_msg(!src_has(rel, "") || src_has("workers/workers.mk", want),
		    "%s is not in workers/workers.mk: run ./autogen.sh", rel);
		n += src_has(rel, "");
		free(rel);
		free(want);
	}
	closedir(dir);
	free(path);
	ck_assert_int_ge(n, 5);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("cfg_rows");
	TCase	*tc = tu_tcase(s, "cfg_rows", 0);

	tcase_add_test(tc, test_rows_in_example);
	tcase_add_test(tc, test_rows_in_manual);
	tcase_add_test(tc, test_rows_well_formed);
	tcase_add_test(tc, test_inplace_keys_in_manual);
	tcase_add_test(tc, test_db_defaults);
	tcase_add_test(tc, test_workers_gathered);
	return tu_run(s);
}
