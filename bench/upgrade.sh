#!/usr/bin/env bash
# bench/upgrade.sh: what `holdfastctl upgrade` and holdfastd's self-heal
# cost the service.
#
# holdfastd runs holdfast-http x2 (listen_reuseport) and holdfast-telephony
# (no database: the DB is down on purpose, /healthz and calls do not need
# it), plus a testworker printing a line every 20 ms (tail ring traffic,
# so the kept state is rewritten as often as it ever is).
#
# 1. 10 upgrades in a row, idle: time from the command to the "upgraded"
#    reply, as holdfastctl's wall time (its own start included) and as
#    holdfastd measures it (request read -> reply sent, the "ms" field).
# 2. Under load (wrk on /healthz, 32 connections; sipp calls at 20/s of
#    1 s each), four runs of the same length, in turn: a baseline with
#    nothing happening, 10 upgrades spread over the run, SIGSEGV + SIGABRT
#    + SIGSEGV to holdfastd (3 self-heals: the most allowed in a minute),
#    and for scale what these replace: kill -9 of holdfastd (systemd's
#    Restart= would start it again; here it is restarted by this script).
#    For each: requests, failed requests (non-2xx and socket errors, connect
#    refusals apart), calls ok/failed, whether holdfastd's and every
#    worker's pid stayed the same, p99, and the 1-minute load average.
# 3. The cost of keeping the heal state current: saves, median and max
#    time per save, state size (holdfastd -v logs each save).
#
# BENCH_SHORT=1: 6 s runs instead of 12 s. Prints markdown tables; exits 0
# even when a goal is missed (a benchmark reports, it does not gate).
# Needs wrk and sipp.
set -uo pipefail
src=${HOLDFAST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bld=${HOLDFAST_BUILDDIR:-$src}
hd=$bld/supervisor/holdfastd ctl=$bld/supervisor/holdfastctl
tw=$bld/tests/tools/testworker
for b in "$hd" "$ctl" "$tw" "$bld/workers/http/holdfast-http" \
    "$bld/workers/telephony/holdfast-telephony"; do
	[ -x "$b" ] || { echo "bench/upgrade: $b not built" >&2; exit 1; }
done
command -v wrk >/dev/null && command -v sipp >/dev/null ||
	{ echo "bench/upgrade: needs wrk and sipp" >&2; exit 1; }
dur=12
[ -n "${BENCH_SHORT:-}" ] && dur=6

dir=$(mktemp -d /tmp/hf-bench-upgrade.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	wait 2>/dev/null
	if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
free_port() {
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, int(sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"
}
hport=$(free_port 1) sport=$(free_port 2)
cat > "$dir/holdfast.conf" <<CONF
[holdfast]
control_socket = run/hf.sock
state_dir = $dir/state
log_level = warn
tail_lines = 1000
[database]
conninfo = host=127.0.0.1 port=1 dbname=hf user=postgres
connect_timeout = 1s
backoff_max = 5s
[whatsapp]
verify_token = bench
app_secret = bench
[worker:http]
command = $bld/workers/http/holdfast-http
listen = 127.0.0.1:$hport
numprocs = 2
listen_reuseport = true
max_connections = 4096
[worker:telephony]
command = $bld/workers/telephony/holdfast-telephony
listen = udp:127.0.0.1:$sport
max_calls = 100000
[worker:chatty]
command = $tw -P 20
CONF
start_hfd() {
	"$hd" -v -c "$dir/holdfast.conf" >> "$dir/holdfastd.log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do
		[ "$("$ctl" -s "$dir/run/hf.sock" status 2>/dev/null | grep -c RUNNING)" = 4 ] && return
		sleep 0.05
	done
	echo "bench/upgrade: holdfastd did not come up" >&2
	exit 1
}
ctlc() { "$ctl" -s "$dir/run/hf.sock" "$@"; }
pids() { echo "$pid $(ctlc pid http:0 http:1 telephony chatty | paste -sd' ')"; }
start_hfd
sleep 1

# ---- 1. idle upgrades ----
: > "$dir/idle"
for i in $(seq 10); do
	t0=${EPOCHREALTIME/./}
	ctlc --json upgrade > "$dir/reply"
	t1=${EPOCHREALTIME/./}
	ms=$(sed -n 's/.*"ms":\([0-9]*\).*/\1/p' "$dir/reply")
	echo "$(( t1 - t0 )) $ms" >> "$dir/idle"
done
stats() {	# column -> "median max" (ms, one decimal)
	sort -n -k"$1" "$dir/$2" | awk -v c="$1" -v div="$3" '{v[NR]=$c} END {
		printf "%.1f %.1f\n", v[int((NR+1)/2)]/div, v[NR]/div }'
}
read -r wall_med wall_max <<< "$(stats 1 idle 1000)"
read -r srv_med srv_max <<< "$(stats 2 idle 1)"
load_idle=$(cut -d' ' -f1 /proc/loadavg)

# ---- 2. under load ----
# One run of wrk and sipp while "$@" happens; prints one table row.
run_load() {
	local name=$1; shift
	local before after calls=$((20 * dur)) s_ok s_bad
	before=$(pids)
	( wrk -t2 -c32 -d${dur}s --latency "http://127.0.0.1:$hport/healthz" > "$dir/wrk.$name" 2>&1 ) &
	local wp=$!
	( cd "$dir" && sipp -sn uac "127.0.0.1:$sport" -i 127.0.0.1 -p "$(free_port 2)" \
		-r 20 -d 1000 -m $calls -nostdin -trace_stat -stf "sipp.$name.csv" -fd 1 \
		-timeout $((dur + 30))s -timeout_error </dev/null > "sipp.$name.out" 2>&1 ) &
	local sp=$!
	sleep 1
	"$@"
	wait $wp
	wait $sp
	after=$(pids)
	read -r s_ok s_bad < <(awk -F';' 'NR==1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		NF > 1 { ok = $col["SuccessfulCall(C)"]; bad = $col["FailedCall(C)"] }
		END { print ok + 0, bad + 0 }' "$dir/sipp.$name.csv" 2>/dev/null)
	awk -v name="$name" -v same="$([ "$before" = "$after" ] && echo yes || echo "NO ($before -> $after)")" \
	    -v ok="${s_ok:-?}" -v bad="${s_bad:-?}" -v load="$(cut -d' ' -f1 /proc/loadavg)" '
		/requests in/ { req = $1 }
		/Socket errors/ { gsub(",", ""); conn = $4; other = $6 + $8 + $10 }
		/Non-2xx/ { non2xx = $5 }
		/^ +99%/ { p99 = $2 }
		END { printf "| %s | %d | %d | %d | %s | %s / %s | %s | %s |\n", name, req,
		    non2xx + other, conn, p99, ok, bad, same, load }' "$dir/wrk.$name"
}
nothing() { sleep $((dur - 1)); }
upgrades() {
	local gap=$(( dur * 1000 / 12 ))
	for _ in $(seq 10); do
		ctlc upgrade > /dev/null || echo "upgrade failed" >&2
		sleep "$(awk -v g=$gap 'BEGIN{print g/1000}')"
	done
}
heals() {
	local gap=$(( dur * 1000 / 4 ))
	for s in SEGV ABRT SEGV; do
		kill -s $s "$pid"
		sleep "$(awk -v g=$gap 'BEGIN{print g/1000}')"
	done
}
kill9() {
	sleep 2
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	start_hfd
}
{
	echo "| run (${dur} s, wrk -c32 /healthz + sipp 20 calls/s) | requests | failed requests | refused connects | p99 | calls ok / failed | holdfastd + worker pids same | load avg 1m |"
	echo "|---|---|---|---|---|---|---|---|"
	run_load baseline nothing
	run_load "10 upgrades" upgrades
	run_load "SIGSEGV, SIGABRT, SIGSEGV" heals
	run_load "kill -9 of holdfastd (for scale)" kill9
} > "$dir/table"

# ---- 3. the kept state ----
read -r saves us_med us_max bytes < <(grep -o 'state saved bytes=[0-9]* fds=[0-9]* us=[0-9]*' \
	"$dir/holdfastd.log" | sed 's/.*bytes=\([0-9]*\).*us=\([0-9]*\)/\2 \1/' | sort -n |
	awk '{v[NR]=$1; b=$2} END { print NR, v[int((NR+1)/2)], v[NR], b }')
upgraded=$(grep -c 'result=upgraded' "$dir/holdfastd.log")
read -r heal_med heal_max < <(grep -o 'result=restored.* ms=[0-9]*' "$dir/holdfastd.log" |
	sed 's/.* ms=//' | sort -n | awk '{v[NR]=$1} END { print v[int((NR+1)/2)], v[NR] }')
healed=$(grep -c 'result=restored' "$dir/holdfastd.log")

pass() { [ "$1" = 1 ] && echo yes || echo NO; }
echo "Machine: $(nproc) cores; load average before the runs $load_idle, after $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| measure | goal | measured | pass |"
echo "|---|---|---|---|"
echo "| upgrade, command -> \"upgraded\" reply (holdfastctl wall time, 10 in a row, idle) | median and max <= 50 ms | median $wall_med ms, max $wall_max ms | $(pass "$(awk -v m="$wall_max" 'BEGIN{print (m <= 50)}')") |"
echo "| same, as holdfastd measures it (request read -> reply sent) | | median $srv_med ms, max $srv_max ms | |"
echo "| self-heal, signal -> restored image (from its log) | | median $heal_med ms, max $heal_max ms | |"
echo "| upgrades / self-heals completed (log) | 20 / 3 | $upgraded / $healed | $(pass $((upgraded == 20 && healed == 3))) |"
echo "| kept heal state: saves, time per save (median / max), size | | $saves saves, ${us_med} us / ${us_max} us, $bytes bytes (4 instances with 1000-line rings + chatty) | |"
echo
cat "$dir/table"
echo
echo "Goal for the upgrade and self-heal rows: 0 failed requests, 0 refused connects, 0 failed calls, pids the same."
