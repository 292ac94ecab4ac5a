/*
 * db_classify: every failure becomes a class (what the layer does about
 * it) and a CamelCase reason (what operators read), by these rules
 * (docs/design.md §4):
 *
 *   - the first error's SQLSTATE wins (a killed session first reports
 *     57P01, then libpq's own "server closed the connection");
 *   - connection-time messages carry a SQLSTATE only with PQERRORS_VERBOSE
 *     ("FATAL:  57P03: the database system is shutting down"), so it is
 *     parsed out of the message when the result has none;
 *   - Neon's proxy errors are XX000 and told apart by their text;
 *   - a broken connection (PQstatus == CONNECTION_BAD) is the final word:
 *     whatever the SQLSTATE said, the connection is gone.
 * Pure functions: unit-tested in tests/unit/test_db_classify.c.
 */
#include <ctype.h>
#include <string.h>

#include "db_int.h"
#include "util.h"

struct db_state_rule {
	const char	*sqlstate;	/* 5 chars, or 2 for a class prefix */
	enum db_class	 cls;
	const char	*reason;
};

/* Exact SQLSTATEs first, then two-character classes. */
static const struct db_state_rule db_state_rules[] = {
	{ "57P01", DB_CLASS_CONNECTION, "AdminShutdown" },
	{ "57P02", DB_CLASS_CONNECTION, "CrashShutdown" },
	{ "57P03", DB_CLASS_CONNECTION, "CannotConnectNow" },
	/* our own idle timeouts ended the session: reconnect at once */
	{ "57P05", DB_CLASS_CONNECTION, "IdleSessionTimeout" },
	{ "25P03", DB_CLASS_CONNECTION, "IdleInTransactionTimeout" },
	/* read-only after a failover: the pool must find the new primary */
	{ "25006", DB_CLASS_CONNECTION, "ReadOnlyTransaction" },
	{ "53300", DB_CLASS_CAPACITY, "TooManyConnections" },
	{ "53200", DB_CLASS_CAPACITY, "OutOfMemory" },
	{ "53100", DB_CLASS_CAPACITY, "DiskFull" },
	{ "57014", DB_CLASS_TIMEOUT, "StatementTimeout" },
	{ "40001", DB_CLASS_TRANSACTION, "SerializationFailure" },
	{ "40P01", DB_CLASS_TRANSACTION, "DeadlockDetected" },
	{ "55P03", DB_CLASS_LOCK, "LockTimeout" },
	{ "08007", DB_CLASS_UNKNOWN, "TransactionResolutionUnknown" },
	{ "40003", DB_CLASS_UNKNOWN, "StatementCompletionUnknown" },
	{ "28P01", DB_CLASS_CONFIG, "AuthenticationFailed" },
	{ "28000", DB_CLASS_CONFIG, "InvalidAuthorization" },
	{ "3D000", DB_CLASS_CONFIG, "UnknownDatabase" },
	{ "42501", DB_CLASS_DATA, "InsufficientPrivilege" },
	{ "23505", DB_CLASS_DATA, "UniqueViolation" },
	{ "23503", DB_CLASS_DATA, "ForeignKeyViolation" },
	{ "23502", DB_CLASS_DATA, "NotNullViolation" },
	{ "23514", DB_CLASS_DATA, "CheckViolation" },
	{ "22P02", DB_CLASS_DATA, "InvalidTextRepresentation" },
	{ "42601", DB_CLASS_DATA, "SyntaxError" },
	{ "42P01", DB_CLASS_DATA, "UndefinedTable" },
	{ "42703", DB_CLASS_DATA, "UndefinedColumn" },
	{ "42883", DB_CLASS_DATA, "UndefinedFunction" },
	{ "08", DB_CLASS_CONNECTION, "ConnectionFailure" },
	{ "53", DB_CLASS_CAPACITY, "InsufficientResources" },
	{ "57", DB_CLASS_CONNECTION, "OperatorIntervention" },
	{ "22", DB_CLASS_DATA, "DataException" },
	{ "23", DB_CLASS_DATA, "IntegrityViolation" },
	{ "42", DB_CLASS_DATA, "SqlError" },
	{ "XX", DB_CLASS_UNKNOWN, "InternalError" },
};

struct db_text_rule {
	const char	*needle;	/* case-insensitive substring */
	enum db_class	 cls;
	const char	*reason;
};

/* Neon's proxy (XX000 or no SQLSTATE at all), matched on message text. */
static const struct db_text_rule db_neon_rules[] = {
	{ "endpoint has been disabled", DB_CLASS_PERMANENT, "NeonEndpointDisabled" },
	{ "compute time quota", DB_CLASS_PERMANENT, "NeonQuotaExceeded" },
	{ "exceeded the data transfer quota", DB_CLASS_PERMANENT, "NeonQuotaExceeded" },
	{ "endpoint cannot be found", DB_CLASS_PERMANENT, "NeonEndpointNotFound" },
	{ "endpoint could not be found", DB_CLASS_PERMANENT, "NeonEndpointNotFound" },
	{ "couldn't connect to compute node", DB_CLASS_CONNECTION, "NeonComputeUnavailable" },
	{ "control plane request failed", DB_CLASS_CONNECTION, "NeonComputeUnavailable" },
	{ "failed to acquire permit", DB_CLASS_CAPACITY, "NeonRateLimited" },
	{ "too many connections attempts", DB_CLASS_CAPACITY, "NeonRateLimited" },
	{ "rate limit exceeded", DB_CLASS_CAPACITY, "NeonRateLimited" },
};

/* libpq's own messages (no SQLSTATE): network and configuration. */
static const struct db_text_rule db_libpq_rules[] = {
	{ "connection refused", DB_CLASS_CONNECTION, "ConnectionRefused" },
	{ "connection reset", DB_CLASS_CONNECTION, "ConnectionReset" },
	{ "timeout expired", DB_CLASS_CONNECTION, "ConnectTimeout" },
	{ "timed out", DB_CLASS_CONNECTION, "ConnectTimeout" },
	{ "server closed the connection unexpectedly", DB_CLASS_CONNECTION, "ServerClosed" },
	{ "ssl syscall error: eof", DB_CLASS_CONNECTION, "ServerClosed" },
	{ "ssl connection has been closed", DB_CLASS_CONNECTION, "ServerClosed" },
	{ "no connection to the server", DB_CLASS_CONNECTION, "ServerClosed" },
	{ "could not translate host name", DB_CLASS_CONNECTION, "HostNotFound" },
	{ "network is unreachable", DB_CLASS_CONNECTION, "NetworkUnreachable" },
	{ "no route to host", DB_CLASS_CONNECTION, "NetworkUnreachable" },
	{ "broken pipe", DB_CLASS_CONNECTION, "ConnectionReset" },
	{ "could not send data", DB_CLASS_CONNECTION, "ConnectionLost" },
	{ "could not receive data", DB_CLASS_CONNECTION, "ConnectionLost" },
	{ "invalid connection option", DB_CLASS_CONFIG, "InvalidOption" },
	{ "invalid sslmode value", DB_CLASS_CONFIG, "InvalidOption" },
	{ "invalid port number", DB_CLASS_CONFIG, "InvalidOption" },
	{ "invalid integer value", DB_CLASS_CONFIG, "InvalidOption" },
	{ "invalid value for parameter", DB_CLASS_CONFIG, "InvalidOption" },
	{ "missing \"=\" after", DB_CLASS_CONFIG, "InvalidOption" },
	{ "password authentication failed", DB_CLASS_CONFIG, "AuthenticationFailed" },
	{ "no password supplied", DB_CLASS_CONFIG, "PasswordRequired" },
	{ "no pg_hba.conf entry", DB_CLASS_CONFIG, "InvalidAuthorization" },
	{ "certificate", DB_CLASS_CONFIG, "CertificateError" },
	{ "does not exist", DB_CLASS_CONFIG, "UnknownDatabase" },
	{ "session is read-only", DB_CLASS_CONNECTION, "ReadOnlyServer" },
	{ "server is in hot standby mode", DB_CLASS_CONNECTION, "ReadOnlyServer" },
};

static const char *
db_strcasestr(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return hay;
	return NULL;
}

static const struct db_text_rule *
db_match_text(const struct db_text_rule *rules, size_t n, const char *msg)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (db_strcasestr(msg, rules[i].needle) != NULL)
			return &rules[i];
	return NULL;
}

static const struct db_state_rule *
db_match_state(const char *sqlstate)
{
	size_t	i;

	for (i = 0; i < nitems(db_state_rules); i++) {
		size_t l = strlen(db_state_rules[i].sqlstate);

		if (strncmp(sqlstate, db_state_rules[i].sqlstate, l) == 0)
			return &db_state_rules[i];
	}
	return NULL;
}

/*
 * Finds "ERROR:  XX000:" / "FATAL:  57P03:" in a verbose libpq message and
 * copies the SQLSTATE out. Returns 1 when found.
 */
static int
db_sqlstate_from_text(const char *msg, char out[6])
{
	static const char *const sev[] = { "FATAL:  ", "ERROR:  ", "PANIC:  " };
	size_t	 i, j;

	for (i = 0; i < nitems(sev); i++) {
		const char *p = strstr(msg, sev[i]);

		if (p == NULL)
			continue;
		p += strlen(sev[i]);
		for (j = 0; j < 5; j++)
			if (!isupper((unsigned char)p[j]) && !isdigit((unsigned char)p[j]))
				break;
		if (j == 5 && p[5] == ':') {
			memcpy(out, p, 5);
			out[5] = '\0';
			return 1;
		}
	}
	return 0;
}

/* The first line of msg without "connection to server ... failed: ". */
static void
db_message_line(char *dst, size_t size, const char *msg)
{
	const char	*p = msg, *f;
	size_t		 n;

	if (strncmp(p, "connection to server", 20) == 0 &&
	    (f = strstr(p, "failed: ")) != NULL && strchr(p, '\n') > f)
		p = f + 8;
	n = strcspn(p, "\n");
	if (n >= size)
		n = size - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

void
dbc_set_error(struct db_error *e, enum db_class cls, const char *reason,
    const char *message)
{
	memset(e, 0, sizeof(*e));
	e->cls = cls;
	e->reason = reason;
	e->retry_after_s = 1;
	if (message != NULL)
		db_message_line(e->message, sizeof(e->message), message);
}

/*
 * Classifies one failure. sqlstate may be NULL or "" (then it is looked
 * for in msg); conn_bad says the connection is gone (CONNECTION_BAD).
 */
void
db_classify(struct db_error *e, const char *sqlstate, const char *msg,
    int conn_bad)
{
	const struct db_text_rule	*t;
	const struct db_state_rule	*s;
	char				 st[6] = "";

	if (msg == NULL)
		msg = "";
	if (sqlstate != NULL && strlen(sqlstate) == 5)
		hf_strlcpy(st, sqlstate, sizeof(st));
	else
		db_sqlstate_from_text(msg, st);
	dbc_set_error(e, DB_CLASS_UNKNOWN, "DatabaseError", msg);
	hf_strlcpy(e->sqlstate, st, sizeof(e->sqlstate));
	if ((st[0] == '\0' || strcmp(st, "XX000") == 0) &&
	    (t = db_match_text(db_neon_rules, nitems(db_neon_rules), msg)) != NULL) {
		e->cls = t->cls;
		e->reason = t->reason;
	} else if (st[0] != '\0' && (s = db_match_state(st)) != NULL) {
		e->cls = s->cls;
		e->reason = s->reason;
		if (strcmp(st, "57014") == 0 && db_strcasestr(msg, "statement timeout") == NULL)
			e->reason = "QueryCanceled";
	} else if (st[0] != '\0') {
		e->cls = DB_CLASS_DATA;
		e->reason = "SqlError";
	} else if ((t = db_match_text(db_libpq_rules, nitems(db_libpq_rules), msg)) != NULL) {
		e->cls = t->cls;
		e->reason = t->reason;
	} else if (conn_bad) {
		e->cls = DB_CLASS_CONNECTION;
		e->reason = "ConnectionFailure";
	}
	/* The connection is gone: whatever the statement said, this is now a
	 * connection-level failure (configuration and Neon verdicts stand). */
	if (conn_bad && (e->cls == DB_CLASS_TIMEOUT || e->cls == DB_CLASS_DATA ||
	    e->cls == DB_CLASS_TRANSACTION || e->cls == DB_CLASS_LOCK ||
	    e->cls == DB_CLASS_UNKNOWN)) {
		e->cls = DB_CLASS_CONNECTION;
		e->reason = "ServerClosed";
	}
}

void
db_classify_result(struct db_error *e, const PGresult *r, int conn_bad)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	if (msg == NULL)
		msg = PQresultErrorMessage(r);
	db_classify(e, st, msg, conn_bad);
}

int
db_class_is_connection(enum db_class c)
{
	return c == DB_CLASS_CONNECTION || c == DB_CLASS_CAPACITY ||
	    c == DB_CLASS_CONFIG || c == DB_CLASS_PERMANENT;
}

/*
 * Whether demand may trigger a probe: only for transient connection
 * failures. Capacity problems want a longer backoff, and configuration
 * errors or a disabled Neon endpoint need an operator, not more attempts.
 */
int
db_reason_demand_probe(const struct db_error *e)
{
	return e->cls == DB_CLASS_CONNECTION;
}

int
db_error_unavailable(const struct db_error *e)
{
	return e != NULL && e->cls != DB_CLASS_OK && e->cls != DB_CLASS_DATA &&
	    e->cls != DB_CLASS_UNKNOWN;
}

const char *
db_class_name(enum db_class c)
{
	static const char *const names[] = {
		"ok", "connection", "down", "capacity", "config", "permanent",
		"timeout", "transaction", "lock", "data", "unknown",
	};

	if ((unsigned)c >= nitems(names))
		return "unknown";
	return names[c];
}
