/*
 * test_db_classify: every failure the DB layer can meet maps to the class
 * that decides what happens (breaker or not, retry or not, 503 or not)
 * and to the reason word operators read in [DB_DOWN] lines and holdfastctl.
 * Messages are the real texts of libpq 15, PostgreSQL 15 and Neon's proxy.
 * Also: conninfo redaction (no secret reaches a log) and parsing.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "tu.h"

struct ccase {
	const char	*sqlstate;
	const char	*msg;
	int		 conn_bad;
	enum db_class	 cls;
	const char	*reason;
};

static const struct ccase ccases[] = {
	{ NULL, "connection to server at \"127.0.0.1\", port 5 failed: Connection refused\n"
	    "\tIs the server running on that host and accepting TCP/IP connections?\n",
	    1, DB_CLASS_CONNECTION, "ConnectionRefused" },
	{ NULL, "server closed the connection unexpectedly\n\tThis probably means "
	    "the server terminated abnormally\n", 1, DB_CLASS_CONNECTION, "ServerClosed" },
	{ NULL, "could not receive data from server: Connection reset by peer\n", 1,
	    DB_CLASS_CONNECTION, "ConnectionReset" },
	{ NULL, "connection to server at \"10.0.0.1\", port 5432 failed: timeout expired\n",
	    1, DB_CLASS_CONNECTION, "ConnectTimeout" },
	{ NULL, "SSL SYSCALL error: EOF detected\n", 1, DB_CLASS_CONNECTION, "ServerClosed" },
	{ NULL, "could not translate host name \"db.invalid\" to address: Name or "
	    "service not known\n", 1, DB_CLASS_CONNECTION, "HostNotFound" },
	{ NULL, "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  "
	    "57P03: the database system is shutting down\n", 1,
	    DB_CLASS_CONNECTION, "CannotConnectNow" },
	{ NULL, "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  "
	    "53300: sorry, too many clients already\n", 1, DB_CLASS_CAPACITY,
	    "TooManyConnections" },
	{ NULL, "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  "
	    "28P01: password authentication failed for user \"x\"\n", 1,
	    DB_CLASS_CONFIG, "AuthenticationFailed" },
	{ NULL, "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  "
	    "3D000: database \"nope\" does not exist\n", 1, DB_CLASS_CONFIG,
	    "UnknownDatabase" },
	{ NULL, "invalid connection option \"load_balance_hosts\"\n", 1,
	    DB_CLASS_CONFIG, "InvalidOption" },
	{ NULL, "connection to server at \"ep-x.neon.tech\", port 5432 failed: ERROR:  "
	    "XX000: The endpoint has been disabled. Enable it using Neon API and "
	    "retry.\n", 1, DB_CLASS_PERMANENT, "NeonEndpointDisabled" },
	{ NULL, "connection to server at \"h\", port 5432 failed: ERROR:  The endpoint "
	    "has been disabled. Enable it using the API and retry.\n", 1,
	    DB_CLASS_PERMANENT, "NeonEndpointDisabled" },
	{ "XX000", "Your account or project has exceeded the compute time quota. "
	    "Upgrade your plan to increase limits.", 1, DB_CLASS_PERMANENT,
	    "NeonQuotaExceeded" },
	{ "XX000", "The requested endpoint could not be found, or you don't have "
	    "access to it. Please check the provided ID and try again.", 1,
	    DB_CLASS_PERMANENT, "NeonEndpointNotFound" },
	{ "XX000", "Couldn't connect to compute node: connection refused", 1,
	    DB_CLASS_CONNECTION, "NeonComputeUnavailable" },
	{ "XX000", "Control plane request failed", 1, DB_CLASS_CONNECTION,
	    "NeonComputeUnavailable" },
	{ "XX000", "Failed to acquire permit to connect to the database. Too many "
	    "database connection attempts are currently ongoing.", 1,
	    DB_CLASS_CAPACITY, "NeonRateLimited" },
	{ "57P01", "terminating connection due to administrator command", 1,
	    DB_CLASS_CONNECTION, "AdminShutdown" },
	{ "57P02", "terminating connection because of crash of another server process",
	    1, DB_CLASS_CONNECTION, "CrashShutdown" },
	{ "57014", "canceling statement due to statement timeout", 0,
	    DB_CLASS_TIMEOUT, "StatementTimeout" },
	{ "57014", "canceling statement due to user request", 0,
	    DB_CLASS_TIMEOUT, "QueryCanceled" },
	{ "40001", "could not serialize access due to concurrent update", 0,
	    DB_CLASS_TRANSACTION, "SerializationFailure" },
	{ "40P01", "deadlock detected", 0, DB_CLASS_TRANSACTION, "DeadlockDetected" },
	{ "55P03", "canceling statement due to lock timeout", 0, DB_CLASS_LOCK,
	    "LockTimeout" },
	{ "25006", "cannot execute INSERT in a read-only transaction", 0,
	    DB_CLASS_CONNECTION, "ReadOnlyTransaction" },
	{ "23505", "duplicate key value violates unique constraint \"x\"", 0,
	    DB_CLASS_DATA, "UniqueViolation" },
	{ "22012", "division by zero", 0, DB_CLASS_DATA, "DataException" },
	{ "42P01", "relation \"nope\" does not exist", 0, DB_CLASS_DATA,
	    "UndefinedTable" },
	{ "P0001", "custom", 0, DB_CLASS_DATA, "SqlError" },
	{ "08006", "connection failure", 1, DB_CLASS_CONNECTION, "ConnectionFailure" },
	{ "08007", "transaction resolution unknown", 0, DB_CLASS_UNKNOWN,
	    "TransactionResolutionUnknown" },
	/* the connection is gone: a statement-level SQLSTATE is not the end */
	{ "22012", "division by zero", 1, DB_CLASS_CONNECTION, "ServerClosed" },
	{ NULL, "something nobody has seen", 1, DB_CLASS_CONNECTION,
	    "ConnectionFailure" },
};

START_TEST(test_classify)
{
	const struct ccase	*c = &ccases[_i];
	struct db_error		 e;

	db_classify(&e, c->sqlstate, c->msg, c->conn_bad);
	ck_assert_msg(e.cls == c->cls, "case %d (%s): class %s, want %s", _i,
	    c->msg, db_class_name(e.cls), db_class_name(c->cls));
	ck_assert_str_eq(e.reason, c->reason);
	ck_assert(strchr(e.message, '\n') == NULL);
	ck_assert_int_ge(e.retry_after_s, 1);
}
END_TEST

START_TEST(test_sqlstate_from_verbose_text)
{
	struct db_error e;

	db_classify(&e, NULL, "connection to server at \"127.0.0.1\", port 1 failed: "
	    "FATAL:  57P03: the database system is starting up\n", 1);
	ck_assert_str_eq(e.sqlstate, "57P03");
	ck_assert_str_eq(e.message, "FATAL:  57P03: the database system is starting up");
}
END_TEST

START_TEST(test_unavailable)
{
	struct db_error e = { 0 };
	static const enum db_class yes[] = { DB_CLASS_CONNECTION, DB_CLASS_DOWN,
	    DB_CLASS_CAPACITY, DB_CLASS_CONFIG, DB_CLASS_PERMANENT,
	    DB_CLASS_TIMEOUT, DB_CLASS_TRANSACTION, DB_CLASS_LOCK };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		e.cls = yes[i];
		ck_assert(db_error_unavailable(&e));
	}
	e.cls = DB_CLASS_DATA;
	ck_assert(!db_error_unavailable(&e));
	e.cls = DB_CLASS_UNKNOWN;
	ck_assert(!db_error_unavailable(&e));
	ck_assert(!db_error_unavailable(NULL));
}
END_TEST

START_TEST(test_redact)
{
	static const char *const in[][2] = {
		{ "host=a password=s3cret user=u", "host=a password=*** user=u" },
		{ "host=a password = 's3 cret' user=u", "host=a password = *** user=u" },
		{ "password=s3cret", "password=***" },
		{ "postgresql://u:s3cret@h:5432/db", "postgresql://u:***@h:5432/db" },
		{ "postgresql://h/db?user=u&password=s3cret&x=1",
		    "postgresql://h/db?user=u&password=***&x=1" },
		{ "host=a user=u", "host=a user=u" },
		{ "host=a passwordfile=x", "host=a passwordfile=x" },
	};
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char *r = db_conninfo_redact(in[i][0]);

		ck_assert_str_eq(r, in[i][1]);
		ck_assert(strstr(r, "s3") == NULL);
		free(r);
	}
}
END_TEST

START_TEST(test_conninfo_parse)
{
	char	**k, **v, err[128];
	int	  n, i;

	n = db_conninfo_parse(" host=a port = 5 application_name='x y\\'z' ", &k, &v,
	    err, sizeof(err));
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(k[2], "application_name");
	ck_assert_str_eq(v[2], "x y'z");
	ck_assert_str_eq(v[1], "5");
	for (i = 0; i < n; i++) {
		free(k[i]);
		free(v[i]);
	}
	free(k);
	free(v);
	ck_assert_int_eq(db_conninfo_parse("host", &k, &v, err, sizeof(err)), -1);
	ck_assert(strstr(err, "missing \"=\"") != NULL);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("db_classify");
	TCase	*tc = tu_tcase(s, "classify", 0);

	tcase_add_loop_test(tc, test_classify, 0, sizeof(ccases) / sizeof(ccases[0]));
	tcase_add_test(tc, test_sqlstate_from_verbose_text);
	tcase_add_test(tc, test_unavailable);
	tcase_add_test(tc, test_redact);
	tcase_add_test(tc, test_conninfo_parse);
	return tu_run(s);
}
