#!/usr/bin/env bash
# bench/limits.sh: what a cgroup per process costs a respawn.
#
# One holdfastd runs two plain workers (sleep), one without limits and one
# with memory_max (so holdfastd makes a cgroup before each spawn, the child
# joins it, and the cgroup is read, emptied and removed after each exit).
# They are SIGKILLed in turn, N times each (BENCH_SHORT=1: 20, else 100),
# and holdfastd's own share of each respawn is read from its debug line
# "spawned Nus after reaping the previous child" (reap -> vfork returned).
# Prints the medians and p90s of both and their ratio, with the load
# average; always exits 0. Needs a cgroup holdfastd can manage (root, a
# v1 memory hierarchy or a delegated v2 cgroup): otherwise says so.
set -uo pipefail
src=${HOLDFAST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bld=${HOLDFAST_BUILDDIR:-$src}
hd=$bld/supervisor/holdfastd ctl=$bld/supervisor/holdfastctl
if [ -n "${BENCH_SHORT:-}" ]; then kills=20; else kills=100; fi
dir=$(mktemp -d /tmp/hf-bench-limits.XXXXXX)
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
cat > "$dir/hf.conf" <<CONF
[holdfast]
control_socket = run/hf.sock
shutdown_timeout = 5s

[worker:plain]
command = /bin/sleep 100000
heartbeat_timeout = 0
startsecs = 0
backoff_reset = 0

[worker:cg]
command = /bin/sleep 100000
heartbeat_timeout = 0
startsecs = 0
backoff_reset = 0
memory_max = 256M
CONF
mkdir -p "$dir/run"
"$hd" -v -c "$dir/hf.conf" > "$dir/log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$dir/run/hf.sock" ] && break; sleep 0.05; done
if grep -q '\[CGROUP\] \[worker:cg\] cannot start' "$dir/log"; then
	echo "limits bench: no cgroup to manage here:"; grep 'cannot start' "$dir/log"
	exit 0
fi
pidof_() { "$ctl" -s "$dir/run/hf.sock" pid "$1" 2>/dev/null; }
wait_new() {	# name old_pid
	for _ in $(seq 400); do
		p=$(pidof_ "$1"); [ -n "$p" ] && [ "$p" != "$2" ] && [ "$p" != 0 ] && return
		sleep 0.005
	done
}
for i in $(seq "$kills"); do
	for w in plain cg; do
		old=$(pidof_ $w); kill -KILL "$old"; wait_new $w "$old"
	done
done
stats() {	# name: median p90 of the spawn share in us
	grep -o "$1: spawned [0-9]*us after reaping" "$dir/log" | grep -o '[0-9]*us' |
	    tr -d u | tr -d s | sort -n | awk '{a[NR]=$1} END {
		if (NR == 0) { print "none"; exit }
		printf "%d %d %d\n", a[int((NR+1)/2)], a[int(NR*0.9+0.5)], NR }'
}
read -r pm p9 pn <<<"$(stats plain)"
read -r cm c9 cn <<<"$(stats cg)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "respawn, holdfastd's share (reap -> vfork returned), interleaved, $kills kills each:"
printf "  %-28s median %6sus  p90 %6sus  (n=%s)\n" "no cgroup" "$pm" "$p9" "$pn"
printf "  %-28s median %6sus  p90 %6sus  (n=%s)\n" "memory_max (cgroup)" "$cm" "$c9" "$cn"
awk -v a="$pm" -v b="$cm" 'BEGIN { if (a > 0) printf "  ratio cgroup/plain (median): %.2f\n", b / a }'
echo "  cgroup kills reported: $(grep -c 'oom_kill=1' "$dir/log") (expected 0: SIGKILL by the bench)"
exit 0
