#!/usr/bin/env bash
# bench/metrics.sh: the cost of a scrape of holdfastd's /metrics.
#
# holdfastd with 3 groups and 8 instances (4 + 3 + 1 testworkers, each
# sending a stats message), metrics_listen on loopback. One curl process
# makes N requests on one kept-alive connection (N = 1000; BENCH_SHORT=1:
# 200), alternating /metrics with /status.json (the status page's JSON of
# the same instances, the baseline in the same run); curl's time_total of
# each transfer (request written -> last byte read, no process start)
# gives the median and p99 of each, and their ratio. Also the size of a
# scrape. Prints a goal / measured / pass table and the load average.
set -uo pipefail
src=${HOLDFAST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bld=${HOLDFAST_BUILDDIR:-$src/build}
[ -x "$bld/supervisor/holdfastd" ] || bld=$src
hd=$bld/supervisor/holdfastd ctl=$bld/supervisor/holdfastctl tw=$bld/tests/tools/testworker
[ -x "$tw" ] || make -C "$bld" tests/tools/testworker >/dev/null || exit 0
command -v curl >/dev/null || { echo "metrics.sh: curl is not installed: skipped"; exit 0; }
if [ -n "${BENCH_SHORT:-}" ]; then n=200; else n=1000; fi

dir=$(mktemp -d /tmp/hf-bench-metrics.XXXXXX)
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$dir/holdfast.conf" <<CONF
[holdfast]
control_socket = run/hf.sock
log_level = warn
status_listen = 127.0.0.1:$port
metrics_listen = 127.0.0.1:$port
[worker:http]
command = $tw -S
numprocs = 4
[worker:wa]
command = $tw -S -D Timeout -u 1000
numprocs = 3
[worker:tel]
command = $tw -S
CONF
"$hd" -c "$dir/holdfast.conf" > "$dir/holdfastd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do "$ctl" -s "$dir/run/hf.sock" status >/dev/null 2>&1 && break; sleep 0.05; done
sleep 2		# every instance RUNNING, stats and DB reports in
urls=()
for _ in $(seq "$n"); do urls+=("http://127.0.0.1:$port/metrics" "http://127.0.0.1:$port/status.json"); done
curl -s -o /dev/null -w '%{url_effective} %{time_total} %{size_download}\n' "${urls[@]}" > "$dir/t"
procs=$("$ctl" -s "$dir/run/hf.sock" --json status | grep -o '"name":' | wc -l)
stat() { grep "$1" "$dir/t" | awk '{print $2 * 1000}' | sort -n |
	awk '{a[NR]=$1} END{i=int(NR*0.99); if(i<1)i=1; printf "%.3f %.3f\n", a[int((NR+1)/2)], a[i]}'; }
read -r mmed mp99 < <(stat /metrics)
read -r smed sp99 < <(stat /status.json)
bytes=$(grep /metrics "$dir/t" | tail -1 | awk '{print $3}')
printf '%-52s %-10s %-20s %s\n' "measure" "goal" "measured" "pass"
printf '%-52s %-10s %-20s %s\n' "scrape of /metrics, 3 groups, $procs instances, median" "<= 2 ms" \
    "$mmed ms" "$(awk -v a="$mmed" 'BEGIN{print a <= 2 ? "yes" : "NO"}')"
printf '%-52s %-10s %-20s %s\n' "  p99 (n=$n)" "" "$mp99 ms" ""
printf '%-52s %-10s %-20s %s\n' "  /status.json, same instances (baseline), median" "" "$smed ms (p99 $sp99)" ""
printf '%-52s %-10s %-20s %s\n' "  ratio /metrics : /status.json" "" \
    "$(awk -v a="$mmed" -v b="$smed" 'BEGIN{printf "%.2f", a / b}')" ""
printf '%-52s %-10s %-20s %s\n' "  size of a scrape" "" "$bytes bytes" ""
echo "Load average at the end: $(cut -d" " -f1-3 /proc/loadavg) on $(nproc) cores."
