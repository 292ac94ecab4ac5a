#!/usr/bin/env bash
# bench/status_page.sh: what the status page costs holdfastd.
#
# Two holdfastd run side by side with the same 3 workers (plain programs,
# no channel, so nothing else wakes holdfastd): one without status_listen,
# one with it. Over the same idle seconds (60; BENCH_SHORT=1: 10) both
# are measured at once: wake-ups (context switches of holdfastd, from
# /proc/PID/status) and RSS. Then a browser's worth of load on the second
# one (/status.json every second, as the page polls) for the same time,
# and the latency of /status.json over one keep-alive connection (median
# and p99 of 2000 requests; 500 in short mode). Prints a goal / measured /
# pass table; always exits 0.
set -uo pipefail
src=${HOLDFAST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bld=${HOLDFAST_BUILDDIR:-$src/build}
[ -x "$bld/supervisor/holdfastd" ] || bld=$src
hd=$bld/supervisor/holdfastd ctl=$bld/supervisor/holdfastctl
if [ -n "${BENCH_SHORT:-}" ]; then idle=10 reqs=500; else idle=60 reqs=2000; fi
command -v python3 >/dev/null || { echo "python3 is not installed: skipped"; exit 0; }

dir=$(mktemp -d /tmp/hf-bench-status.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# start NAME EXTRA: a holdfastd in $dir/NAME; its pid in $pid
start() {
	mkdir -p "$dir/$1"
	cat > "$dir/$1/holdfast.conf" <<CONF
[holdfast]
control_socket = run/hf.sock
log_level = warn
$2
[worker:quiet]
command = sleep 100000
numprocs = 3
startsecs = 0
CONF
	"$hd" -c "$dir/$1/holdfast.conf" > "$dir/$1/holdfastd.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 100); do "$ctl" -s "$dir/$1/run/hf.sock" status >/dev/null 2>&1 && return; sleep 0.05; done
}
switches() { awk '/ctxt_switches/{s+=$2} END{print s}' "/proc/$1/status"; }
rss() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
anon() { awk '/^Private_Dirty:/{print $2}' "/proc/$1/smaps_rollup"; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

start off ""
off=$pid
start on "status_listen = 127.0.0.1:$port"
on=$pid
sleep 2
s_off=$(switches "$off") s_on=$(switches "$on")
sleep "$idle"
w_off=$(( $(switches "$off") - s_off )) w_on=$(( $(switches "$on") - s_on ))
r_off=$(rss "$off") r_on=$(rss "$on") a_off=$(anon "$off") a_on=$(anon "$on")

# the page open: /status.json every second
s_on=$(switches "$on") t0=$(ticks "$on")
end=$(( $(date +%s) + idle ))
while [ "$(date +%s)" -lt "$end" ]; do
	curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$port/status.json"
	sleep 1
done
w_open=$(( $(switches "$on") - s_on ))
hz=$(getconf CLK_TCK)
cpu_open=$(awk -v a="$t0" -v b="$(ticks "$on")" -v hz="$hz" -v s="$idle" 'BEGIN{printf "%.3f", (b-a)/hz/s*100}')

read -r med p99 < <(python3 - "$port" "$reqs" <<'PY'
import http.client, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
t = []
for _ in range(int(sys.argv[2])):
    a = time.perf_counter()
    c.request("GET", "/status.json")
    r = c.getresponse(); r.read()
    t.append((time.perf_counter() - a) * 1e6)
t.sort()
print(int(t[len(t) // 2]), int(t[int(len(t) * 0.99)]))
PY
)
load=$(cut -d' ' -f1-3 /proc/loadavg)
pass() { awk -v a="$1" -v b="$2" 'BEGIN{print (a <= b) ? "yes" : "NO"}'; }
echo "Load average: $load. 3 idle workers; ${idle} s windows; both holdfastd measured at once."
echo
echo "| figure | goal | measured | pass |"
echo "|---|---|---|---|"
echo "| wake-ups in ${idle} s idle, no page (status_listen off) | 0 | $w_off | $(pass "$w_off" 0) |"
echo "| wake-ups in ${idle} s idle, page on, no browser | same as off | $w_on | $(pass "$w_on" "$w_off") |"
echo "| private dirty memory, page off / on | on - off <= 64 KiB | ${a_off} / ${a_on} KiB | $(pass $(( a_on - a_off )) 64) |"
echo "| RSS, page off / on (the difference: the page's code, file-backed) | (figure) | ${r_off} / ${r_on} KiB | - |"
echo "| page open (/status.json every 1 s): wake-ups, CPU | (what a browser costs) | $w_open, ${cpu_open} % | - |"
echo "| /status.json latency, keep-alive, 3 instances | (figure) | median ${med} us, p99 ${p99} us | - |"
