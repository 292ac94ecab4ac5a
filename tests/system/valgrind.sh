#!/usr/bin/env bash
# tests/system/valgrind.sh: every program shuts down clean under valgrind
# (valgrind shows no leak on a clean shutdown of each program).
#
# Against a real PostgreSQL (run as `postgres`), each of the six programs
# runs under memcheck doing real work, then stops the way an operator
# stops it:
#   holdfast-admin  migrate; useradd with the password on stdin
#   holdfastd       -t (config check); then supervising the three
#                   workers, each itself under valgrind (its config's
#                   command= line), respawning telephony after a kill -9;
#                   stopped by SIGTERM to its PID
#   holdfast-http   /healthz, /readyz, login, conversation list and read,
#                   a signed WhatsApp webhook, /metrics
#   holdfast-whatsapp  assigns that message to a conversation and hands
#                   the auto-reply to a local Graph API (graphsink, HTTPS)
#   holdfast-telephony  a SIP call (sipp: INVITE/ACK/BYE) and its CDR
#   all three       PostgreSQL stopped: 503s, a call's CDR spooled to
#                   disk; PostgreSQL started again: reconnect, replay
#   status page     holdfastd's own HTTP listener: the page, its script,
#                   /status.json, /tail, an action with a wrong token
#                   (401), an unknown Host (403), a request that is not
#                   HTTP (400)
#   holdfastctl     status, --json status, health, tail, reload
#                   (whatsapp's settings changed: it alone restarts),
#                   restart http (rolling: the old http processes exit
#                   under valgrind too)
# Every valgrind must end with "ERROR SUMMARY: 0 errors": definite and
# indirect leaks count as errors (--errors-for-leak-kinds), as does any
# invalid read/write or use of uninitialised memory. "Still reachable"
# and "possibly lost" memory is not an error (what a library may keep
# until exit); today every program ends with none of either, and the
# summary line of each log is printed so a new one shows.
# tests/valgrind.supp holds suppressions for third-party allocations
# only, each with its reason (libgssapi_krb5's globals, via libpq); never
# for our own code.
#
# Exit 0 pass, 1 fail, 77 skip (no valgrind, PostgreSQL, curl, python3,
# sipp or openssl, or a sanitizer build: ASan and valgrind do not mix).
# VALGRIND_KEEP=1 keeps the directory (logs in DIR/vg/); VALGRIND_SHOW=all
# lists the still-reachable and possibly-lost blocks in those logs too.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${HOLDFAST_SRCDIR:-$(cd "$here/../.." && pwd)}
build=${HOLDFAST_BUILDDIR:-$src}
pgbin=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

skip() { echo "SKIP: $*"; exit 77; }
command -v valgrind >/dev/null || skip "valgrind is not installed"
for t in curl python3 sipp openssl; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done
[ -x "$pgbin/initdb" ] || skip "no PostgreSQL binaries in $pgbin"
hfd=$build/supervisor/holdfastd
ctl=$build/supervisor/holdfastctl
# a static holdfastctl (configure's default) cannot be memchecked: the same
# object linked dynamically, built by make check, stands in for it
[ -x "$build/supervisor/holdfastctl-dynamic" ] && ctl=$build/supervisor/holdfastctl-dynamic
admin=$build/workers/admin/holdfast-admin
http=$build/workers/http/holdfast-http
wa=$build/workers/whatsapp/holdfast-whatsapp
tel=$build/workers/telephony/holdfast-telephony
sink=$build/tests/tools/graphsink
for b in "$hfd" "$ctl" "$admin" "$http" "$wa" "$tel" "$sink"; do
	[ -x "$b" ] || { echo "FAIL: $b is not built"; exit 1; }
done
if grep -a -q __asan_init "$hfd"; then
	skip "sanitizer build (valgrind cannot run ASan binaries)"
fi

t0=$(date +%s)
tmp=$(mktemp -d /tmp/hf-valgrind.XXXXXX)
chmod 755 "$tmp"
mkdir "$tmp/vg" "$tmp/state"
hfd_pid=
sink_pid=
cleanup() {
	# holdfastd's workers die with it; everything else here is ours too
	[ -n "$hfd_pid" ] && kill -KILL "$hfd_pid" 2>/dev/null
	[ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null
	as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
	if [ -n "${VALGRIND_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
# vg_report all|errors: one line per valgrind log (errors: only the logs
# of finished runs that found errors), with the reports of a failing
# one; sets bad=1 on a failure and n to the number of logs.
vg_report() {
	local log name sum leak
	n=0
	for log in "$tmp"/vg/*.log; do
		[ -e "$log" ] || continue
		n=$((n + 1))
		name=$(basename "$log" .log)
		sum=$(sed -n 's/^==[0-9]*== ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log")
		leak=$(sed -n 's/^==[0-9]*==  *\(definitely\|indirectly\|possibly\) lost: \([0-9,]*\) bytes.*/\1=\2/p; s/^==[0-9]*==  *still reachable: \([0-9,]*\) bytes.*/reachable=\1/p; s/^==[0-9]*==  *suppressed: \([0-9,]*\) bytes.*/suppressed=\1/p' "$log" | tr '\n' ' ')
		if [ "$sum" = 0 ] || { [ "$1" = errors ] && [ -z "$sum" ]; }; then
			[ "$1" = all ] && echo "ok   $name: 0 errors ${leak:-(all freed)}"
			continue
		fi
		echo "FAIL $name: ${sum:-no ERROR SUMMARY (killed before exit?), }${sum:+ errors} $leak"
		# the reports themselves, after valgrind's banner
		sed -e '1,/^==[0-9]*== Parent PID/d' -e '/^==[0-9]*== *$/d' "$log" | head -80
		bad=1
	done
}
fail() { echo "FAIL: $*"; vg_report errors; exit 1; }
step() { echo "-- $(( $(date +%s) - t0 ))s: $*"; }
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
free_port() {
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"
}
psql_hf() { "$pgbin/psql" -XAtq -h 127.0.0.1 -p "$pgport" -U postgres -d hf -c "$1"; }
# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds.
wait_for() {
	local end=$(( $(date +%s) + $1 )); shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# One memcheck setup for every program; TAG names its log files.
# --vgdb=no: no gdbserver FIFOs in /tmp (valgrind removes them only when
# the program exits by itself; one the test kills left three behind).
vg_opts() {
	echo "--leak-check=full --show-leak-kinds=${VALGRIND_SHOW:-definite,indirect}" \
	    "--errors-for-leak-kinds=definite,indirect --error-exitcode=99" \
	    "--num-callers=30 --child-silent-after-fork=yes --vgdb=no" \
	    "--suppressions=$src/tests/valgrind.supp" \
	    "--log-file=$tmp/vg/$1.%p.log"
}
# vg TAG PROGRAM ARGS...: runs it under memcheck, exit status kept
# (124 when it hangs for 3 minutes).
vg() {
	local tag=$1; shift
	# shellcheck disable=SC2046
	timeout -k 10 180 valgrind $(vg_opts "$tag") "$@"
}
curl() { command curl --max-time 60 "$@"; }

# ---- PostgreSQL ----
step "PostgreSQL"
pgport=$(free_port tcp)
[ "$(id -u)" = 0 ] && chown postgres "$tmp"
as_pg "$pgbin/initdb" -D "$tmp/pg" -U postgres -A trust >/dev/null
cat >> "$tmp/pg/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pgport
unix_socket_directories = '$tmp'
fsync = off
EOF
as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w start >/dev/null
"$pgbin/psql" -XAtq -h 127.0.0.1 -p "$pgport" -U postgres -d postgres -c "CREATE DATABASE hf"

# ---- graphsink: the Graph API the auto-reply goes to, over TLS ----
# (a certificate for 127.0.0.1 that only SSL_CERT_FILE makes trusted)
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" \
	-out "$tmp/cert.pem" >/dev/null 2>&1 || fail "openssl req: no certificate"
"$sink" -P "$tmp/sink.port" -t vg-token -r "$tmp/sink.log" \
	-T "$tmp/cert.pem" -K "$tmp/key.pem" 2>"$tmp/sink.err" &
sink_pid=$!
wait_for 10 test -s "$tmp/sink.port" || fail "graphsink did not start"

# ---- the configuration: workers under valgrind, generous deadlines ----
http_port=$(free_port tcp)
status_port=$(free_port tcp)
sip_port=$(free_port udp)
head -c 24 /dev/urandom | base64 > "$tmp/status.token"
chmod 600 "$tmp/status.token"
secret=vg-app-secret
email=agent@example.com
password='correct horse battery'
cat > "$tmp/holdfast.conf" <<EOF
[holdfast]
control_socket = run/hf.sock
tail_lines = 1000
state_dir = $tmp/state
log_level = info
shutdown_timeout = 120s
status_listen = 127.0.0.1:$status_port
status_actions = true
status_token_file = $tmp/status.token
[database]
conninfo = host=127.0.0.1 port=$pgport dbname=hf user=postgres
pool_size = 2
statement_timeout = 30s
connect_timeout = 30s
backoff_initial = 100ms
backoff_max = 1s
[whatsapp]
verify_token = vg-verify
app_secret = $secret
access_token = vg-token
graph_api_url = https://127.0.0.1:$(cat "$tmp/sink.port")
poll_interval = 1s
[worker:http]
command = valgrind $(vg_opts http) $http
numprocs = 2
listen = 127.0.0.1:$http_port
startsecs = 120s
heartbeat_timeout = 120s
stopwaitsecs = 120s
[worker:whatsapp]
command = valgrind $(vg_opts whatsapp) $wa
environment = SSL_CERT_FILE=$tmp/cert.pem
startsecs = 120s
heartbeat_timeout = 120s
stopwaitsecs = 120s
[worker:telephony]
command = valgrind $(vg_opts telephony) $tel
listen = udp:127.0.0.1:$sip_port
startsecs = 120s
heartbeat_timeout = 120s
stopwaitsecs = 120s
EOF

# ---- holdfast-admin ----
step "holdfast-admin migrate, useradd"
vg admin "$admin" -c "$tmp/holdfast.conf" migrate >"$tmp/admin.log" 2>&1 ||
	fail "holdfast-admin migrate: exit $? ($(tail -3 "$tmp/admin.log"))"
printf '%s\n' "$password" | vg admin "$admin" -c "$tmp/holdfast.conf" useradd "$email" \
	>>"$tmp/admin.log" 2>&1 || fail "holdfast-admin useradd: exit $? ($(tail -3 "$tmp/admin.log"))"

# ---- holdfastd and its workers ----
step "holdfastd -t, holdfastd"
vg holdfastd "$hfd" -t -c "$tmp/holdfast.conf" >"$tmp/check.log" 2>&1 ||
	fail "holdfastd -t: exit $? ($(tail -3 "$tmp/check.log"))"
# not through vg(): $! must be valgrind's PID (holdfastd's), not a subshell's
# shellcheck disable=SC2046
valgrind $(vg_opts holdfastd) "$hfd" -c "$tmp/holdfast.conf" >"$tmp/holdfastd.log" 2>&1 &
hfd_pid=$!
sock=$tmp/run/hf.sock
ctl_q() { "$ctl" -s "$sock" "$@"; }		# polling: not under valgrind
ctl_vg() { vg holdfastctl "$ctl" -s "$sock" "$@"; }
all_up() { ctl_q status >/dev/null && ctl_q health >/dev/null; }
wait_for 240 all_up || fail "the workers did not all come up ($tmp/holdfastd.log)"

# holdfastd's respawn path first, before any work: a worker killed -9
# (its valgrind cannot report: its log is dropped; the respawned one then
# does the calls, and its log is checked).
step "kill -9 telephony: respawned"
tel_pid=$(ctl_q pid telephony)
kill -KILL "$tel_pid"
respawned() { p=$(ctl_q pid telephony) && [ -n "$p" ] && [ "$p" != "$tel_pid" ] && all_up; }
wait_for 240 respawned || fail "telephony was not respawned after kill -9"
rm -f "$tmp/vg/telephony.$tel_pid.log"

# ---- real work ----
step "HTTP"
url=http://127.0.0.1:$http_port
for r in healthz readyz; do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/$r")" = 200 ] || fail "GET /$r"
done
login=$(curl -s -f -H 'Content-Type: application/json' \
	-d "{\"email\":\"$email\",\"password\":\"$password\"}" "$url/api/auth/login") ||
	fail "POST /api/auth/login"
token=$(printf '%s' "$login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
auth="Authorization: Bearer $token"

step "WhatsApp webhook"
wamid=wamid.vg.$$
body=$(printf '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Valgrind"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"%s","timestamp":"%s","type":"text","text":{"body":"hello valgrind"}}]},"field":"messages"}]}]}' "$wamid" "$(date +%s)")
sig=sha256=$(printf '%s' "$body" | python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())' "$secret")
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	-H "X-Hub-Signature-256: $sig" --data-binary "$body" "$url/webhooks/whatsapp")" = 200 ] ||
	fail "POST /webhooks/whatsapp"
assigned() { [ -n "$(psql_hf "SELECT conversation_id FROM wa_messages WHERE wamid = '$wamid' AND conversation_id IS NOT NULL")" ]; }
wait_for 120 assigned || fail "the webhook's message was not assigned to a conversation"
replied() { [ "$(psql_hf "SELECT count(*) FROM wa_outbox WHERE status = 'sent'")" -ge 1 ]; }
wait_for 120 replied || fail "the auto-reply was not sent to graphsink"
conv=$(psql_hf "SELECT conversation_id FROM wa_messages WHERE wamid = '$wamid'")
for path in /api/conversations "/api/conversations/$conv" /api/calls; do
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" "$url$path")" = 200 ] ||
		fail "GET $path"
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/metrics")" = 200 ] || fail "GET /metrics"

step "status page"
surl=http://127.0.0.1:$status_port
code() { command curl --max-time 60 -s -o /dev/null -w '%{http_code}' "$@"; }
for r in / /status.js /status.css /status.json "/tail?name=http:0&lines=5"; do
	[ "$(code "$surl$r")" = 200 ] || fail "status page: GET $r"
done
[ "$(code -X POST -H 'X-Holdfast-Action: 1' -H 'Authorization: Bearer wrong-token-0123456789' \
	"$surl/action?do=restart&name=http:0")" = 401 ] || fail "status page: a wrong token was not 401"
[ "$(code -H 'Host: evil.example' "$surl/status.json")" = 403 ] ||
	fail "status page: a foreign Host was not 403"
[ "$(printf 'NOT HTTP\r\n\r\n' | python3 -c 'import socket,sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30)
s.sendall(sys.stdin.buffer.read()); print(s.recv(64).split()[1].decode())' "$status_port")" = 400 ] ||
	fail "status page: garbage was not answered 400"

step "SIP call"
sip_call() {
	sipp -sn uac "127.0.0.1:$sip_port" -i 127.0.0.1 -p "$(free_port udp)" -m 1 -r 1 \
		-nostdin -timeout 120s -timeout_error -trace_err -error_file "$tmp/sipp.err" \
		>>"$tmp/sipp.log" 2>&1 || fail "sipp: the call failed ($tmp/sipp.err)"
}
sip_call
cdrs() { [ "$(psql_hf "SELECT count(*) FROM calls")" -ge "$1" ]; }
wait_for 120 cdrs 1 || fail "no CDR for the call"

# The outage paths: breaker open, 503s, the call's CDR spooled to disk,
# reconnection, spool replay.
step "PostgreSQL down: 503, a call spooled; PostgreSQL back"
as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -m fast -w stop >/dev/null
db_503() { [ "$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" "$url/api/conversations")" = 503 ]; }
wait_for 60 db_503 || fail "GET /api/conversations with the DB down: not 503"
sip_call
as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w start >/dev/null
wait_for 120 cdrs 2 || fail "the spooled CDR was not replayed"
wait_for 120 all_up || fail "the workers did not see the DB come back"

# reload: a [holdfast] key and one worker's setting changed (that worker
# alone restarts); then a rolling restart of http.
step "holdfastctl status, health, tail, reload, restart http"
sed -i -e 's/^tail_lines = .*/tail_lines = 500/' \
	-e '/^\[worker:whatsapp\]/,/^\[/s/^stopwaitsecs = .*/stopwaitsecs = 110s/' "$tmp/holdfast.conf"
wa_pid=$(ctl_q pid whatsapp)
for c in status "--json status" health "tail -n 5 telephony" reload "restart http"; do
	# shellcheck disable=SC2086
	ctl_vg $c >>"$tmp/ctl.log" 2>&1 || fail "holdfastctl $c: exit $?"
done
wa_new() { p=$(ctl_q pid whatsapp) && [ -n "$p" ] && [ "$p" != "$wa_pid" ] && all_up; }
wait_for 240 wa_new || fail "whatsapp was not restarted by the reload"
wait_for 240 all_up || fail "the workers did not all come back after the restart"

# ---- clean shutdown ----
step "SIGTERM to holdfastd"
kill -TERM "$hfd_pid"
# bounded: shutdown_timeout (120 s) is holdfastd's own bound
wait_for 180 sh -c "! kill -0 $hfd_pid" || fail "holdfastd still running 180 s after SIGTERM"
rc=0
wait "$hfd_pid" || rc=$?
hfd_pid=
bad=0
# 99: valgrind's own verdict (--error-exitcode); the logs below say why
[ "$rc" = 0 ] || { echo "FAIL: holdfastd exited $rc ($tmp/holdfastd.log)"; bad=1; }

# ---- the verdict: every valgrind log ----
step "valgrind logs"
vg_report all
# admin x2, holdfastd x2 (-t, then the daemon), holdfastctl x6, http x4
# (two, then two after the restart), whatsapp x2 (before and after the
# reload), telephony (the respawned one)
[ "$n" -ge 17 ] || fail "only $n valgrind logs in $tmp/vg (expected 17)"
step "done"
exit "$bad"
