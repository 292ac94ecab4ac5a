#!/usr/bin/env bash
# bench/telephony_crash.sh: what a kill -9 of holdfast-telephony costs.
#
# holdfastd runs the telephony worker (it holds the UDP socket, so
# requests queue while the replacement starts) against a private
# PostgreSQL. sipp's uac places 30 calls/s, each lasting CALL_MS (4 s); the
# worker is killed with SIGKILL by its PID KILL_AT seconds into the run.
# Printed: calls established at the kill (the replacement's
# [DIALOG_RESTORED] n=), how many of those ended with a BYE answered 200 by
# the replacement (their CDR has answered_at before the kill, ended_at
# after it, ended_by=recv_bye), sipp's failed calls, the CDR count check
# (rows, duplicates, rows >= sipp's successful calls), the load average.
#
# BASELINE_TELEPHONY=/path/to/an/older/holdfast-telephony runs the same
# scenario with that binary first, interleaved in the same invocation, for
# a before/after comparison. Exits 0 unless the bench cannot run.
set -uo pipefail

build=${HOLDFAST_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
hd=$build/supervisor/holdfastd ctl=$build/supervisor/holdfastctl
bin=$build/workers/telephony/holdfast-telephony
pgbin=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
rate=${RATE:-30} calls=${CALLS:-600} call_ms=${CALL_MS:-4000} kill_at=${KILL_AT:-8}
for f in "$hd" "$ctl" "$bin"; do
	[ -x "$f" ] || { echo "bench/telephony_crash: $f not built" >&2; exit 1; }
done
command -v sipp >/dev/null || { echo "bench/telephony_crash: sipp not installed" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hf-bench-telcrash.XXXXXX")
hd_pid=
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_ctl_as() { as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" "$@"; }
cleanup() {
	[ -n "$hd_pid" ] && kill "$hd_pid" 2>/dev/null && wait "$hd_pid" 2>/dev/null
	pg_ctl_as stop -m immediate >/dev/null 2>&1
	if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
free_port() {
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, int(sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"
}

pgport=$(free_port 1)
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$work" "$work/pg"
as_pg "$pgbin/initdb" -D "$work/pg" -A trust -U postgres >/dev/null || exit 1
pg_ctl_as -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1" -w start >/dev/null || exit 1
psql_n() { as_pg "$pgbin/psql" -XAt -h 127.0.0.1 -p "$pgport" -U postgres -c "$1" "$2" 2>/dev/null; }

# One run with worker binary $1 into database $2; prints a table row.
run() {
	local wbin=$1 db=$2 dir=$work/$2 sipport old new t0 kill_ts restored bye ok bad rows dups
	sipport=$(free_port 2)
	mkdir -p "$dir/run"
	psql_n "CREATE DATABASE $db" postgres >/dev/null
	cat > "$dir/holdfast.conf" <<EOF
[holdfast]
state_dir = $dir/state
log_level = info
control_socket = $dir/run/hf.sock
[database]
conninfo = host=127.0.0.1 port=$pgport dbname=$db user=postgres
connect_timeout = 1s
backoff_initial = 100ms
backoff_max = 1s
[worker:telephony]
command = $wbin
listen = udp:127.0.0.1:$sipport
EOF
	"$hd" -c "$dir/holdfast.conf" >"$dir/holdfastd.log" 2>&1 &
	hd_pid=$!
	for _ in $(seq 100); do grep -q '\[DB_UP\]\|\[DB_RECOVERED\]' "$dir/holdfastd.log" && break; sleep 0.1; done
	old=$("$ctl" -s "$dir/run/hf.sock" pid telephony 2>/dev/null)
	# a call whose INVITE died with the worker is never retransmitted to
	# completion by sipp: it fails after recv_timeout
	( cd "$dir" && sipp -sn uac "127.0.0.1:$sipport" -i 127.0.0.1 -p "$(free_port 2)" \
		-r "$rate" -m "$calls" -d "$call_ms" -recv_timeout 6s -nostdin \
		-trace_stat -stf sipp.csv -fd 1 -timeout 120s -timeout_error \
		</dev/null >sipp.out 2>&1 ) &
	local sipp_pid=$!
	sleep "$kill_at"
	kill_ts=$(psql_n "SELECT now()" "$db")
	kill -KILL "$old"
	wait "$sipp_pid"
	for _ in $(seq 50); do
		new=$("$ctl" -s "$dir/run/hf.sock" pid telephony 2>/dev/null)
		[ -n "$new" ] && [ "$new" != "$old" ] && break; sleep 0.1
	done
	read -r ok bad < <(awk -F';' 'NR==1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		NF > 1 { ok = $c["SuccessfulCall(C)"]; bad = $c["FailedCall(C)"] }
		END { print ok + 0, bad + 0 }' "$dir/sipp.csv")
	kill -TERM "$hd_pid"; wait "$hd_pid" 2>/dev/null; hd_pid=
	restored=$(grep -o '\[DIALOG_RESTORED\] n=[0-9]*' "$dir/holdfastd.log" | tail -1 | cut -d= -f2)
	# established before the kill (ACK'd: the store's view), ended after it
	# by a BYE the replacement answered
	bye=$(psql_n "SELECT count(*) FROM calls WHERE answered_at < '$kill_ts'
		AND ended_at > '$kill_ts' AND ended_by = 'recv_bye'" "$db")
	rows=$(psql_n "SELECT count(*) FROM calls" "$db")
	dups=$(psql_n "SELECT count(*) - count(DISTINCT call_id) FROM calls" "$db")
	echo "| $db | ${restored:-n/a} | ${bye:-?} | $bad | $ok | ${rows:-?} | ${dups:-?} | $(cut -d' ' -f1-3 /proc/loadavg) |"
}

echo "$rate calls/s, $calls calls of ${call_ms} ms, kill -9 of the worker at ${kill_at} s"
echo
echo "| binary | established at the kill (restored) | BYE 200 by the replacement | failed calls | sipp ok | CDR rows | duplicate CDRs | load avg |"
echo "|---|---|---|---|---|---|---|---|"
[ -n "${BASELINE_TELEPHONY:-}" ] && run "$BASELINE_TELEPHONY" baseline
run "$bin" current
