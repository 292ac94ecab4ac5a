#!/usr/bin/env bash
# bench/sdnotify.sh: what sd_notify from children costs holdfastd.
#
# 4 children (tests/tools/notifyworker -f) send 10,000 datagrams a second
# in all ("WATCHDOG=1": each one also re-arms the instance's watchdog
# timer) to holdfastd's notify socket. holdfastd's CPU (utime + stime from
# /proc/PID/stat) over each phase of N seconds is compared with a baseline
# phase where 4 idle notifyworkers run instead (same process count, no
# datagrams). Phases alternate (flood, idle, flood, idle, ...) so both see
# the same machine; the load average is printed. Goal: the flood adds less
# than 5 % of one core. BENCH_SHORT=1: 3 rounds of 3 s (default 5 of 6 s).
# Then the watchdog: a child pings WATCHDOG=1 every 100 ms for 1 s and
# stops; with heartbeat_timeout = 1s it must be respawned within
# WATCHDOG_USEC + 100 ms of its last ping. From holdfastd's log: the
# [WORKER_HUNG] line's silent= (time since the last ping) plus the time
# from that line to the next [WORKER_SPAWN], minus the timeout. With
# backoff_reset = 0 every hang is a first incident (as in bench/respawn.sh):
# otherwise hangs a second apart back off, by design.
# Prints a goal / measured table; always exits 0.
set -uo pipefail
src=${HOLDFAST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bld=${HOLDFAST_BUILDDIR:-$src/build}
[ -x "$bld/supervisor/holdfastd" ] || bld=$src
hd=$bld/supervisor/holdfastd ctl=$bld/supervisor/holdfastctl
nw=$bld/tests/tools/notifyworker
[ -x "$nw" ] || make -C "$bld" tests/tools/notifyworker >/dev/null || exit 0
if [ -n "${BENCH_SHORT:-}" ]; then rounds=3 secs=3; else rounds=5 secs=6; fi
rate=${SDN_RATE:-10000}

dir=$(mktemp -d /tmp/hf-bench-sdnotify.XXXXXX)
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
cat > "$dir/holdfast.conf" <<CONF
[holdfast]
control_socket = run/hf.sock
log_level = info
[worker:flood]
command = $nw -f $((rate / 4))
numprocs = 4
autostart = false
[worker:quiet]
command = $nw
numprocs = 4
autostart = false
[worker:wd]
command = $nw -w 100 -W 1000
notify = systemd
heartbeat_timeout = 1s
backoff_reset = 0ms
autostart = false
CONF
"$hd" -c "$dir/holdfast.conf" > "$dir/holdfastd.log" 2>&1 &
pid=$!
c() { "$ctl" -s "$dir/run/hf.sock" "$@"; }
for _ in $(seq 100); do c status >/dev/null 2>&1 && break; sleep 0.05; done
hz=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
accepted() { c --json status 2>/dev/null | sed -n 's/.*"notify":{[^}]*"accepted":\([0-9]*\).*/\1/p' | tail -1; }

# One phase: group g runs alone for secs; prints "cpu_pct msgs_per_s".
phase() {
	local g=$1 other=$2 t0 t1 a0 a1 s0 s1
	c stop "$other" >/dev/null 2>&1
	c start "$g" >/dev/null 2>&1
	sleep 0.5
	a0=$(accepted); t0=$(ticks); s0=$(date +%s.%N)
	sleep "$secs"
	a1=$(accepted); t1=$(ticks); s1=$(date +%s.%N)
	awk -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" -v hz="$hz" \
	    -v a0="$a0" -v a1="$a1" 'BEGIN { dt = s1 - s0;
	    printf "%.2f %.0f\n", 100 * (t1 - t0) / hz / dt, (a1 - a0) / dt }'
}

echo "== bench/sdnotify: $rate datagrams/s from 4 children, ${rounds}x${secs}s per phase"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
fl=() id=() rt=()
for r in $(seq "$rounds"); do
	read -r f m < <(phase flood quiet)
	read -r i _ < <(phase quiet flood)
	printf "round %d: flood %5.2f%% cpu (%s msgs/s)   idle %5.2f%% cpu\n" "$r" "$f" "$m" "$i"
	fl+=("$f") id+=("$i") rt+=("$m")
done
c stop all >/dev/null 2>&1
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# The watchdog: hangs in a row (each respawn pings for 1 s, then stops).
n_wd=$([ -n "${BENCH_SHORT:-}" ] && echo 5 || echo 10)
c start wd >/dev/null 2>&1
for _ in $(seq $((n_wd * 30))); do
	[ "$(grep -c '\[WORKER_HUNG\] name=wd' "$dir/holdfastd.log")" -ge "$n_wd" ] && break
	sleep 0.1
done
sleep 0.3
c stop wd >/dev/null 2>&1
over=$(grep -E '\[WORKER_(HUNG|SPAWN)\] name=wd' "$dir/holdfastd.log" | awk '
	function ms(ts) { split(substr(ts, 12, 12), a, ":"); return (a[1] * 3600 + a[2] * 60 + a[3]) * 1000 }
	/WORKER_HUNG/ { match($0, /silent=[0-9]+/); s = substr($0, RSTART + 7, RLENGTH - 7);
	    match($0, /timeout=[0-9]+/); to = substr($0, RSTART + 8, RLENGTH - 8); h = ms($1); next }
	/WORKER_SPAWN/ && h { print s - to + ms($1) - h; h = 0 }' | sort -g)
n_over=$(printf '%s\n' $over | grep -c .)
max_over=$(printf '%s\n' $over | tail -1)
med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mf=$(med "${fl[@]}") mi=$(med "${id[@]}") mr=$(med "${rt[@]}")
extra=$(awk -v f="$mf" -v i="$mi" 'BEGIN { printf "%.2f", f - i }')
pass=$(awk -v e="$extra" 'BEGIN { print (e < 5 ? "pass" : "FAIL") }')
echo
echo "| measure | goal | measured | pass |"
echo "|---|---|---|---|"
printf "| %s | %s | %s | %s |\n" "datagrams/s accepted during flood" "~$rate" "$mr" "-"
printf "| %s | %s | %s | %s |\n" "holdfastd CPU, idle baseline" "-" "$mi %" "-"
printf "| %s | %s | %s | %s |\n" "holdfastd CPU, flood" "-" "$mf %" "-"
printf "| %s | %s | %s | %s |\n" "added by the flood (% of one core)" "< 5" "$extra" "$pass"
printf "| %s | %s | %s | %s |\n" "watchdog: respawn after last ping - timeout" "< 100 ms" \
    "max ${max_over:-?} ms (n=$n_over)" \
    "$(awk -v m="${max_over:-999}" -v n="$n_over" 'BEGIN { print (n > 0 && m < 100 ? "pass" : "FAIL") }')"
echo "watchdog overshoots (ms): $(echo $over)"
grep -c NOTIFY_IGNORED "$dir/holdfastd.log" | sed 's/^/[NOTIFY_IGNORED] lines: /'
exit 0
