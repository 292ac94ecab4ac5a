#!/usr/bin/env bash
# bench/surge.sh: what `holdfastctl restart http` costs clients, with
# restart_mode = surge (the replacement starts first, the old process is
# stopped once it is ready) against stop-first, for a single-instance and
# a two-instance HTTP group.
#
# holdfastd runs four holdfast-http groups on their own ports (no
# database: it is down on purpose, /healthz does not need it):
# one1 (numprocs 1, surge), one2 (numprocs 1, stop-first), two1 and two2
# (numprocs 2 with listen_reuseport, surge and stop-first). For each group,
# in every round, in turn: a steady run of wrk on /healthz with nothing
# happening, then a run during which `holdfastctl restart GROUP` is issued
# 1 s in. Rounds interleave the groups so drift in the machine's load hits
# them alike. Per group: requests, errors (non-2xx and socket errors,
# connect refusals included), p99 steady and during the restart (the worst
# of the rounds), their ratio, and the 1-minute load average.
#
# BENCH_SHORT=1: 3 s runs and 1 round instead of 6 s and 3. Prints a
# markdown table; exits 0 even when a goal is missed (a benchmark reports,
# it does not gate). Needs wrk.
set -uo pipefail
src=${HOLDFAST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bld=${HOLDFAST_BUILDDIR:-$src}
hd=$bld/supervisor/holdfastd ctl=$bld/supervisor/holdfastctl
http=$bld/workers/http/holdfast-http
for b in "$hd" "$ctl" "$http"; do
	[ -x "$b" ] || { echo "bench/surge: $b not built" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "bench/surge: needs wrk" >&2; exit 1; }
dur=6 rounds=3
[ -n "${BENCH_SHORT:-}" ] && dur=3 rounds=1

dir=$(mktemp -d /tmp/hf-bench-surge.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	wait 2>/dev/null
	if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
groups="one1 one2 two1 two2"
declare -A port mode nprocs
for g in $groups; do port[$g]=$(free_port); done
mode[one1]=surge mode[one2]=stop-first mode[two1]=surge mode[two2]=stop-first
nprocs[one1]=1 nprocs[one2]=1 nprocs[two1]=2 nprocs[two2]=2
{
	cat <<CONF
[holdfast]
control_socket = run/hf.sock
state_dir = $dir/state
log_level = info
[database]
conninfo = host=127.0.0.1 port=1 dbname=hf user=postgres
connect_timeout = 1s
backoff_max = 5s
[whatsapp]
verify_token = bench
app_secret = bench
CONF
	for g in $groups; do
		printf '[worker:%s]\ncommand = %s\nlisten = 127.0.0.1:%s\nnumprocs = %s\n' \
		    "$g" "$http" "${port[$g]}" "${nprocs[$g]}"
		printf 'restart_mode = %s\nmax_connections = 4096\n' "${mode[$g]}"
		[ "${nprocs[$g]}" -gt 1 ] && printf 'listen_reuseport = true\n'
	done
} > "$dir/holdfast.conf"
ctlc() { "$ctl" -s "$dir/run/hf.sock" "$@"; }
"$hd" -c "$dir/holdfast.conf" >> "$dir/holdfastd.log" 2>&1 &
pid=$!
for _ in $(seq 200); do
	[ "$(ctlc status 2>/dev/null | grep -c RUNNING)" = 6 ] && break
	sleep 0.05
done
[ "$(ctlc status 2>/dev/null | grep -c RUNNING)" = 6 ] ||
	{ echo "bench/surge: holdfastd did not come up" >&2; exit 1; }
sleep 1

# wrk_run NAME GROUP [restart]: one run; "requests errors p99ms" into $dir/res.
wrk_run() {
	local name=$1 g=$2 what=${3:-}
	wrk -t2 -c16 -d${dur}s --latency "http://127.0.0.1:${port[$g]}/healthz" \
	    > "$dir/wrk.$name" 2>&1 &
	local wp=$!
	if [ -n "$what" ]; then
		sleep 1
		ctlc restart "$g" > /dev/null || echo "bench/surge: restart $g failed" >&2
	fi
	wait $wp
	awk -v name="$name" -v g="$g" -v load="$(cut -d' ' -f1 /proc/loadavg)" '
		/requests in/ { req = $1 }
		/Socket errors/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
		/Non-2xx/ { err += $5 }
		/^ +99%/ { p = $2; ms = p + 0
			if (p ~ /us$/) ms /= 1000; else if (p ~ /[0-9]s$/) ms *= 1000 }
		END { print name, g, req + 0, err + 0, ms, load }' "$dir/wrk.$name" >> "$dir/res"
}
: > "$dir/res"
for r in $(seq "$rounds"); do
	for g in $groups; do
		wrk_run steady "$g"
		wrk_run restart "$g" restart
	done
done
surges=$(grep -c 'phase=ready' "$dir/holdfastd.log")
failed=$(grep -c 'WORKER_SURGE_FAILED' "$dir/holdfastd.log")

echo "Machine: $(nproc) cores; $rounds round(s) of ${dur} s runs, wrk -t2 -c16 /healthz; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| group | restart_mode | instances | requests steady / restart | errors steady / restart | p99 steady | p99 during restart | ratio | load avg 1m (last run) |"
echo "|---|---|---|---|---|---|---|---|---|"
for g in $groups; do
	awk -v g="$g" -v m="${mode[$g]}" -v n="${nprocs[$g]}" '
		$2 == g && $1 == "steady" { sr += $3; se += $4; if ($5 > sp) sp = $5 }
		$2 == g && $1 == "restart" { rr += $3; re += $4; if ($5 > rp) rp = $5; load = $6 }
		END { printf "| %s | %s | %d | %d / %d | %d / %d | %.2f ms | %.2f ms | %.1fx | %s |\n",
		    g, m, n, sr, rr, se, re, sp, rp, (sp > 0 ? rp / sp : 0), load }' "$dir/res"
done
echo
echo "Surge replacements ready: $surges (expected $((rounds * 3)): 1 + 2 per round); [WORKER_SURGE_FAILED]: $failed."
echo "Goal (surge rows): 0 errors during the restart, p99 no more than 2x the steady state."
