/*
 * holdfast-admin: the operator's tool for the database side (holdfastctl
 * never touches the database).
 *
 *   holdfast-admin [-c FILE] migrate        apply missing migrations, exit
 *   holdfast-admin [-c FILE] useradd EMAIL  create a user; the password is
 *                                           read from stdin (a prompt on a
 *                                           tty), never from argv, where
 *                                           any local user could read it
 *
 * The config is -c FILE, else $HOLDFAST_CONFIG, else the installed one;
 * only [database] is used. Blocking libpq is fine here: this is a
 * one-shot tool, not an event loop. Passwords are hashed with crypt(3)
 * yescrypt ($y$), the hash holdfast-http verifies at login.
 * Exit codes: 0 done, 1 failed (message on stderr), 2 usage.
 */
#include <crypt.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cfg.h"
#include "db.h"
#include "log.h"
#include "util.h"

#define ADMIN_PWMAX	1024

static void
admin_usage(void)
{
	fprintf(stderr, "usage: holdfast-admin [-c config] migrate\n"
	    "       holdfast-admin [-c config] useradd EMAIL   (password on stdin)\n");
	exit(2);
}

static int
admin_migrate(const struct cfg *cfg)
{
	char	err[512];
	int	n;

	if ((n = db_migrate_blocking(cfg->database.conninfo, err, sizeof(err))) < 0) {
		log_errorx("migrate: %s", err);
		return 1;
	}
	log_info("[DB_MIGRATE] schema at version %d (%d applied now)",
	    db_schema_version(), n);
	return 0;
}

/* One line from fp without its newline; -1 on EOF or an empty line. */
static int
admin_read_line(FILE *fp, char *buf, size_t size)
{
	size_t n;

	if (fgets(buf, size, fp) == NULL)
		return -1;
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* Prompts with echo off when stdin is a terminal. */
static int
admin_prompt(const char *prompt, char *buf, size_t size)
{
	struct termios	old, noecho;
	int		rc;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(0, &old) == -1)
		return admin_read_line(stdin, buf, size);
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(0, TCSAFLUSH, &noecho);
	rc = admin_read_line(stdin, buf, size);
	tcsetattr(0, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return rc;
}

static int
admin_read_password(char *pw, size_t size)
{
	char again[ADMIN_PWMAX];

	if (!isatty(0))
		return admin_read_line(stdin, pw, size);
	if (admin_prompt("Password: ", pw, size) == -1 ||
	    admin_prompt("Again: ", again, sizeof(again)) == -1)
		return -1;
	if (strcmp(pw, again) != 0) {
		explicit_bzero(again, sizeof(again));
		log_errorx("useradd: the passwords differ");
		return -1;
	}
	explicit_bzero(again, sizeof(again));
	return 0;
}

/* yescrypt hash of pw (malloc'd), or NULL. */
static char *
admin_hash(const char *pw)
{
	struct crypt_data	*cd = xcalloc(1, sizeof(*cd));
	char			*salt, *h, *out = NULL;

	if ((salt = crypt_gensalt_ra("$y$", 0, NULL, 0)) == NULL) {
		log_warn("crypt_gensalt_ra($y$)");
		free(cd);
		return NULL;
	}
	h = crypt_r(pw, salt, cd);
	if (h != NULL && strncmp(h, "$y$", 3) == 0)
		out = xstrdup(h);
	else
		log_errorx("crypt_r: yescrypt is not available");
	free(salt);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return out;
}

static int
admin_insert_user(const struct cfg *cfg, const char *email, const char *hash)
{
	const char	*params[2] = { email, hash };
	PGconn		*pg = PQconnectdb(cfg->database.conninfo);
	PGresult	*r;
	int		 rc = 1;

	if (PQstatus(pg) != CONNECTION_OK) {
		log_errorx("useradd: %.*s", (int)strcspn(PQerrorMessage(pg), "\n"),
		    PQerrorMessage(pg));
		PQfinish(pg);
		return 1;
	}
	r = PQexecParams(pg, "INSERT INTO users (email, password_hash) "
	    "VALUES ($1, $2) ON CONFLICT (email) DO NOTHING RETURNING id",
	    2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		log_errorx("useradd: %.*s", (int)strcspn(PQresultErrorMessage(r), "\n"),
		    PQresultErrorMessage(r));
	else if (PQntuples(r) == 0)
		log_errorx("useradd: %s: user already exists", email);
	else {
		log_info("useradd: %s: user %s created", email, PQgetvalue(r, 0, 0));
		rc = 0;
	}
	PQclear(r);
	PQfinish(pg);
	return rc;
}

static int
admin_useradd(const struct cfg *cfg, const char *email)
{
	char	 pw[ADMIN_PWMAX], err[512], *hash;
	int	 rc;

	if (strchr(email, '@') == NULL || strlen(email) > 254) {
		log_errorx("useradd: %s: not an email address", email);
		return 1;
	}
	if (admin_read_password(pw, sizeof(pw)) == -1) {
		log_errorx("useradd: no password on stdin");
		return 1;
	}
	hash = admin_hash(pw);
	explicit_bzero(pw, sizeof(pw));
	if (hash == NULL)
		return 1;
	/* The users table may not exist yet on a fresh database. */
	if (db_migrate_blocking(cfg->database.conninfo, err, sizeof(err)) < 0) {
		log_errorx("useradd: %s", err);
		free(hash);
		return 1;
	}
	rc = admin_insert_user(cfg, email, hash);
	free(hash);
	return rc;
}

int
main(int argc, char **argv)
{
	const char	*cfgpath = NULL;
	struct cfg	*cfg;
	char		 err[CFG_ERRLEN];
	int		 ch, rc;

	log_init("holdfast-admin", LOG_LVL_INFO);
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch == 'c')
			cfgpath = optarg;
		else
			admin_usage();
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		admin_usage();
	if (strcmp(argv[0], "migrate") == 0 && argc == 1)
		;
	else if (strcmp(argv[0], "useradd") == 0 && argc == 2)
		;
	else
		admin_usage();
	if ((cfg = cfg_load_for_worker(cfgpath, err, sizeof(err))) == NULL) {
		fprintf(stderr, "holdfast-admin: %s\n", err);
		return 2;
	}
	log_set_level(cfg->holdfast.log_level);
	if (strcmp(argv[0], "migrate") == 0)
		rc = admin_migrate(cfg);
	else
		rc = admin_useradd(cfg, argv[1]);
	cfg_free(cfg);
	return rc;
}
