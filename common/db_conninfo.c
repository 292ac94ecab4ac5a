/*
 * db_conninfo: the conninfo string as the layer hands it to libpq.
 *
 * - Parsed here (key = value, single quotes, backslash escapes), not by
 *   PQconninfoParse, because that refuses the whole string for one key
 *   this libpq does not know (load_balance_hosts is PG16+): such keys are
 *   dropped with a warning after checking PQconndefaults(), instead of
 *   turning a library upgrade into an outage. URIs (postgresql://) go to
 *   libpq as they are (expand_dbname).
 * - The layer adds application_name=holdfast-<program>, keepalives and
 *   tcp_user_timeout; session settings (statement_timeout, ...) are SET
 *   after connecting, not passed as startup options, because PgBouncer in
 *   transaction mode rejects those.
 * - Host names: libpq would resolve a `host` without `hostaddr` with a
 *   blocking getaddrinfo(); db_dns.c resolves them with evdns first.
 * - Redaction: password=... never reaches a log.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "log.h"
#include "util.h"

static void
db_kv_push(char ***keys, char ***vals, int *n, const char *k, const char *v)
{
	*keys = xreallocarray(*keys, *n + 2, sizeof(char *));
	*vals = xreallocarray(*vals, *n + 2, sizeof(char *));
	(*keys)[*n] = xstrdup(k);
	(*vals)[*n] = xstrdup(v);
	(*n)++;
	(*keys)[*n] = NULL;
	(*vals)[*n] = NULL;
}

/* Reads one value at *pp (quoted or bare) into a new string. */
static char *
db_kv_value(const char **pp)
{
	const char	*p = *pp;
	char		*out = xmalloc(strlen(p) + 1), *o = out;

	if (*p == '\'') {
		for (p++; *p != '\0' && *p != '\''; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			*o++ = *p;
		}
		if (*p == '\'')
			p++;
	} else {
		for (; *p != '\0' && !isspace((unsigned char)*p); p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			*o++ = *p;
		}
	}
	*o = '\0';
	*pp = p;
	return out;
}

/*
 * Splits "k=v k2='v 2'" into NULL-terminated arrays. Returns the count, or
 * -1 with a reason in err.
 */
int
db_conninfo_parse(const char *s, char ***keys, char ***vals, char *err,
    size_t errlen)
{
	int	 n = 0;

	*keys = xcalloc(1, sizeof(char *));
	*vals = xcalloc(1, sizeof(char *));
	while (*s != '\0') {
		const char	*k;
		char		*key, *val;

		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		for (k = s; *s != '\0' && *s != '=' && !isspace((unsigned char)*s); s++)
			;
		key = xstrndup(k, s - k);
		while (isspace((unsigned char)*s))
			s++;
		if (*s != '=') {
			snprintf(err, errlen, "conninfo: missing \"=\" after \"%s\"", key);
			free(key);
			for (int i = 0; i < n; i++) {
				free((*keys)[i]);
				free((*vals)[i]);
			}
			free(*keys);
			free(*vals);
			*keys = *vals = NULL;
			return -1;
		}
		for (s++; isspace((unsigned char)*s); s++)
			;
		val = db_kv_value(&s);
		db_kv_push(keys, vals, &n, key, val);
		free(key);
		free(val);
	}
	return n;
}

static int
db_conninfo_known(const PQconninfoOption *defs, const char *key)
{
	for (; defs->keyword != NULL; defs++)
		if (strcmp(defs->keyword, key) == 0)
			return 1;
	return 0;
}

static int
db_kv_has(char **keys, int n, const char *key)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return 1;
	return 0;
}

/* The options the layer adds unless the conninfo sets them itself. */
static void
db_conninfo_defaults(struct db *db, char ***keys, char ***vals, int *n)
{
	char	 buf[64];
	int64_t	 ka = db->db_cfg.keepalives_idle_ms / 1000;

	if (ka < 1)
		ka = 1;
	if (!db_kv_has(*keys, *n, "application_name")) {
		snprintf(buf, sizeof(buf), "holdfast-%s", db->db_program);
		db_kv_push(keys, vals, n, "application_name", buf);
	}
	db_kv_push(keys, vals, n, "keepalives", "1");
	snprintf(buf, sizeof(buf), "%lld", (long long)ka);
	db_kv_push(keys, vals, n, "keepalives_idle", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)(ka / 3 > 0 ? ka / 3 : 1));
	db_kv_push(keys, vals, n, "keepalives_interval", buf);
	db_kv_push(keys, vals, n, "keepalives_count", "3");
	snprintf(buf, sizeof(buf), "%lld", (long long)db->db_cfg.tcp_user_timeout_ms);
	db_kv_push(keys, vals, n, "tcp_user_timeout", buf);
	/* Not used by libpq in async mode (the layer keeps its own deadline),
	 * but honoured by tools given the same string. */
	snprintf(buf, sizeof(buf), "%lld", (long long)
	    (db->db_cfg.connect_timeout_ms + 999) / 1000);
	if (!db_kv_has(*keys, *n, "connect_timeout"))
		db_kv_push(keys, vals, n, "connect_timeout", buf);
}

/*
 * Builds db->db_keys/db_vals from conninfo. Returns 0, or -1 when the
 * string cannot be parsed at all (then a connect attempt reports it).
 */
int
db_conninfo_build(struct db *db, const char *conninfo)
{
	PQconninfoOption	*defs = PQconndefaults();
	char			**keys, **vals, **ok, **okv, err[256];
	int			 n, i, m = 0;

	if (strncmp(conninfo, "postgres://", 11) == 0 ||
	    strncmp(conninfo, "postgresql://", 13) == 0) {
		keys = vals = NULL;
		n = 0;
		db_kv_push(&keys, &vals, &n, "dbname", conninfo);
	} else if ((n = db_conninfo_parse(conninfo, &keys, &vals, err, sizeof(err))) < 0) {
		log_warnx("[DB_POOL] %s", err);
		keys = vals = NULL;
		n = 0;
		db_kv_push(&keys, &vals, &n, "dbname", "");
	}
	ok = xcalloc(1, sizeof(char *));
	okv = xcalloc(1, sizeof(char *));
	for (i = 0; i < n; i++) {
		if (defs != NULL && !db_conninfo_known(defs, keys[i]))
			log_warnx("[DB_POOL] conninfo option \"%s\" is not known to "
			    "this libpq (%d): ignored", keys[i], PQlibVersion());
		else
			db_kv_push(&ok, &okv, &m, keys[i], vals[i]);
		free(keys[i]);
		free(vals[i]);
	}
	free(keys);
	free(vals);
	if (defs != NULL)
		PQconninfoFree(defs);
	db_conninfo_defaults(db, &ok, &okv, &m);
	db->db_keys = (const char **)ok;
	db->db_vals = (const char **)okv;
	db->db_nkeys = m;
	return 0;
}

/* conninfo with the password value replaced (key=value and URI forms). */
char *
db_conninfo_redact(const char *conninfo)
{
	char	*out = xstrdup(conninfo), *p, *at, *colon;
	size_t	 i;

	if ((p = strstr(out, "://")) != NULL && (at = strchr(p, '@')) != NULL &&
	    (colon = memchr(p + 3, ':', at - p - 3)) != NULL) {
		char *r = xasprintf("%.*s:***%s", (int)(colon - out), out, at);
		free(out);
		out = r;
	}
	for (p = out; (p = strstr(p, "password")) != NULL; p++) {
		char	*v = p + 8, *end, *r;

		while (*v == ' ')
			v++;
		if (*v != '=' || (p > out && !isspace((unsigned char)p[-1]) &&
		    p[-1] != '?' && p[-1] != '&'))
			continue;
		for (v++; *v == ' '; v++)
			;
		end = v;
		if (*end == '\'') {
			for (end++; *end != '\0' && *end != '\''; end++)
				if (*end == '\\' && end[1] != '\0')
					end++;
			if (*end == '\'')
				end++;
		} else
			while (*end != '\0' && !isspace((unsigned char)*end) && *end != '&')
				end++;
		i = v - out;
		r = xasprintf("%.*s***%s", (int)i, out, end);
		free(out);
		out = r;
		p = out + i;
	}
	return out;
}
