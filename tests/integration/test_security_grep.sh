#!/bin/sh
# test_security_grep: source-level rules of the security review
# that a grep can hold, so a change that breaks one fails `make check`:
#
#  1. SQL is parameterised only: no SQL text is built with printf-style
#     formatting (sprintf/snprintf/asprintf/xasprintf/evbuffer_add_printf
#     with a format that starts with an SQL keyword) outside the allow-list
#     below, each entry with its reason.
#  2. The simple-protocol calls (PQexec, PQsendQuery: no parameters
#     possible) appear only where listed below, with the reason.
#  3. The webhook HMAC is compared in constant time: wa_signature_check()
#     uses CRYPTO_memcmp and no memcmp/strcmp on the digest, and the
#     webhook route calls it (the functional check, a bad signature
#     answered 401 with nothing stored, is test_http's webhook tests).
#     The verify token and password hashes are compared the same way.
#
# Exit 0 when every rule holds, 1 with the offending file:line otherwise.
set -u
src=${HOLDFAST_SRCDIR:-${srcdir:-.}}
cd "$src" || exit 1
fail=0

# ---- 1. SQL built with printf-style formatting ----
# "file|text in the format" and why it is safe.
ALLOW_FMT='
common/db_listen.c|LISTEN %s|LISTEN takes an identifier, which libpq cannot bind as a parameter; the channel name is quoted with PQescapeIdentifier first
'
hits=$(perl -0777 -ne '
	my $f = $ARGV;
	while (/\b((?:x?v?as|v?sn?|evbuffer_add_)printf)\s*\(([^;]*?)"\s*((?:SELECT|INSERT|UPDATE|DELETE|WITH|LISTEN|NOTIFY|UNLISTEN|SET|CREATE|ALTER|DROP|COPY|TRUNCATE|BEGIN|COMMIT|ROLLBACK|PREPARE|EXECUTE|DO|CALL|GRANT|REVOKE|VACUUM|ANALYZE|LOCK)\b[^"]*)"/gs) {
		my $pos = $-[0]; my $line = 1 + (substr($_, 0, $pos) =~ tr/\n//);
		print "$f:$line|$3\n";
	}' $(find common workers supervisor -name '*.c' | sort))
echo "$hits" | while IFS='|' read -r where text; do
	[ -n "$where" ] || continue
	file=${where%%:*}
	if echo "$ALLOW_FMT" | grep -a -F -q "$file|$text|"; then
		echo "allowed: $where: \"$text\""
		continue
	fi
	echo "FAIL: $where: SQL built with printf-style formatting: \"$text\""
	echo x >> "${TMPDIR:-/tmp}/hf-secgrep.$$"
done
if [ -e "${TMPDIR:-/tmp}/hf-secgrep.$$" ]; then
	rm -f "${TMPDIR:-/tmp}/hf-secgrep.$$"
	fail=1
fi
# The rule must see something to be worth anything: the allow-listed
# LISTEN is there, so the scanner works.
echo "$hits" | grep -a -q 'db_listen.c:.*|LISTEN %s' || {
	echo "FAIL: the scanner no longer finds the known LISTEN %s (is it broken?)"
	fail=1
}

# ---- 2. simple-protocol calls ----
ALLOW_SIMPLE='
common/db_conn.c|PQsendQuery|nparams < 0 only: migration scripts and LISTEN, constant text (or an escaped identifier), never values
common/db_migrate.c|PQexec|holdfast-admin migrate: the embedded migration scripts, constant text
'
for hit in $(grep -n -E '\b(PQexec|PQsendQuery)\s*\(' $(find common workers supervisor -name '*.c') |
    sed -E 's/^([^:]+):([0-9]+):.*\b(PQexec|PQsendQuery)\s*\(.*/\1:\2|\3/'); do
	file=${hit%%:*}
	fn=${hit#*|}
	if echo "$ALLOW_SIMPLE" | grep -a -F -q "$file|$fn|"; then
		echo "allowed: ${hit%%|*}: $fn"
	else
		echo "FAIL: ${hit%%|*}: $fn (no parameters possible) outside the allow-list"
		fail=1
	fi
done

# ---- 3. constant-time comparisons of secrets ----
body=$(awk '/^wa_signature_check\(/,/^}/' workers/http/wa_payload.c)
if [ -z "$body" ]; then
	echo "FAIL: wa_signature_check() not found in workers/http/wa_payload.c"
	fail=1
else
	echo "$body" | grep -a -q 'CRYPTO_memcmp(' ||
	    { echo "FAIL: wa_signature_check() does not use CRYPTO_memcmp"; fail=1; }
	# The only plain comparison allowed is the public "sha256=" prefix.
	if echo "$body" | grep -E '(^|[^_])(memcmp|bcmp|strcmp|strcasecmp|strncmp|strncasecmp)\s*\(' |
	    grep -v 'strncmp(header, "sha256=", 7)' | grep -a -q .; then
		echo "FAIL: wa_signature_check() compares with a variable-time function"
		fail=1
	fi
fi
grep -q 'wa_signature_check(' workers/http/http_webhook.c ||
    { echo "FAIL: the webhook route does not call wa_signature_check()"; fail=1; }
grep -q 'CRYPTO_memcmp(' workers/http/http_crypt.c ||
    { echo "FAIL: password hashes not compared with CRYPTO_memcmp"; fail=1; }
awk '/^http_streq_ct\(/,/^}/' workers/http/http_webhook.c | grep -a -q CRYPTO_memcmp ||
    { echo "FAIL: the verify token is not compared in constant time"; fail=1; }

[ $fail -eq 0 ] && echo "security grep rules: ok"
exit $fail
