#!/usr/bin/env bash
# bench/events.sh: what holdfastd's events cost and how fast they travel.
#
# 1. Latency: a worker that exits 50 ms after each start (backoff_reset = 0:
#    respawned at once, every time) makes a state change to RUNNING some 15
#    times a second; an [event:lat] listener on RUNNING runs
#    bench/events_stamp (static: nothing runs before its main), which
#    writes the event's stamp (taken in sup_set_state) and its own start,
#    on the same clock. 200 samples (BENCH_SHORT=1: 50): median, p99, max.
# 2. Throughput: a testworker reports the database down and up again 1,000
#    times a second for 10 s (-B 1000 -b 10000: real "db" channel messages,
#    each one a "db" event), with an [event:rare] listener that filters
#    them all out. Rounds alternate with and without an `events -f --json`
#    follower (3 each; short: 1 of 3 s); holdfastd's CPU over each round
#    from /proc/PID/stat (utime + stime), and the follower's count of event
#    lines plus what it was told was dropped, against the events emitted
#    (the seq numbers of the round).
# 3. Idle cost: holdfastd's wake-ups (voluntary context switches, from
#    /proc/PID/status) over 10 s (short: 3 s) with metrics_listen, an
#    [event:NAME] listener and an `events -f` follower, against the same
#    config without them; one worker without a channel (/bin/sleep), so
#    no heartbeat wakes holdfastd in either.
# Prints a goal / measured / pass table and the load average; exits 0.
set -uo pipefail
src=${HOLDFAST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bld=${HOLDFAST_BUILDDIR:-$src/build}
[ -x "$bld/supervisor/holdfastd" ] || bld=$src
hd=$bld/supervisor/holdfastd ctl=$bld/supervisor/holdfastctl tw=$bld/tests/tools/testworker
[ -x "$tw" ] || make -C "$bld" tests/tools/testworker >/dev/null || exit 0
if [ -n "${BENCH_SHORT:-}" ]; then samples=50 rounds=1 secs=3; else samples=200 rounds=3 secs=10; fi
rate=1000

dir=$(mktemp -d /tmp/hf-bench-events.XXXXXX)
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; [ -n "${fpid:-}" ] && kill "$fpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
${CC:-cc} -O2 -static -o "$dir/events_stamp" "$src/bench/events_stamp.c" 2>/dev/null ||
	${CC:-cc} -O2 -o "$dir/events_stamp" "$src/bench/events_stamp.c" || exit 0
ctl() { "$ctl" -s "$dir/run/hf.sock" "$@"; }
start() {
	"$hd" -c "$dir/holdfast.conf" > "$dir/holdfastd.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do ctl status >/dev/null 2>&1 && return; sleep 0.05; done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null; pid=; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
last_seq() { ctl --json events | tail -1 | grep -o '"seq":[0-9]*' | cut -d: -f2; }

# ---- 1. latency ----------------------------------------------------------------
cat > "$dir/holdfast.conf" <<CONF
[holdfast]
control_socket = run/hf.sock
log_level = warn
[worker:blink]
command = $tw -E 50
startsecs = 0
backoff_reset = 0ms
[event:lat]
command = $dir/events_stamp $dir/lat
events = RUNNING
rate_limit = 0
CONF
start
for _ in $(seq 600); do
	[ -f "$dir/lat" ] && [ "$(wc -l < "$dir/lat")" -ge "$samples" ] && break
	sleep 0.05
done
stop
read -r lmed lp99 lmax ln < <(head -n "$samples" "$dir/lat" | awk '{print ($2 - $1) / 1000}' |
	sort -n | awk '{a[NR]=$1} END{i=int(NR*0.99); if(i<1)i=1; printf "%.2f %.2f %.2f %d\n", a[int((NR+1)/2)], a[i], a[NR], NR}')

# ---- 2. throughput and CPU --------------------------------------------------
cat > "$dir/holdfast.conf" <<CONF
[holdfast]
control_socket = run/hf.sock
log_level = warn
[worker:idle]
command = $tw
[event:rare]
command = $dir/events_stamp $dir/rare
events = FATAL, hung
CONF
start
hz=$(getconf CLK_TCK)
n=$((rate * secs))
: > "$dir/cpu_with" ; : > "$dir/cpu_without"; : > "$dir/seen"
for r in $(seq "$rounds"); do
	for mode in without with; do
		ctl stop flap >/dev/null 2>&1
		sed -i '/^\[worker:flap\]/,$d' "$dir/holdfast.conf"
		printf '[worker:flap]\ncommand = %s -B %d -b %d\nstartsecs = 0\nautorestart = false\n' \
		    "$tw" "$rate" "$n" >> "$dir/holdfast.conf"
		s0=$(last_seq)
		if [ "$mode" = with ]; then
			"$ctl" -s "$dir/run/hf.sock" --json events -f > "$dir/follow" 2>&1 &
			fpid=$!
			sleep 0.3
		fi
		t0=$(cpu_ticks)
		ctl reload >/dev/null
		ctl start flap >/dev/null 2>&1
		sleep "$secs"
		for _ in $(seq 100); do [ "$(last_seq)" -ge $((s0 + n)) ] && break; sleep 0.1; done
		t1=$(cpu_ticks)
		s1=$(last_seq)
		awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$secs" \
		    'BEGIN{printf "%.2f\n", (b-a)/hz/s*100}' >> "$dir/cpu_$mode"
		if [ "$mode" = with ]; then
			ctl stop idle >/dev/null; ctl start idle >/dev/null	# brings a late dropped count
			sleep 0.5
			kill "$fpid"; wait "$fpid" 2>/dev/null; fpid=
			got=$(awk -v a="$s0" -v b="$s1" 'match($0, /"seq":[0-9]+/) {
				q = substr($0, RSTART + 6, RLENGTH - 6) + 0
				if ($0 ~ /"type":"dropped"/) { if (q > a) d += $0 ~ /"count":/ ? substr($0, index($0, "\"count\":") + 8) + 0 : 0 }
				else if (q > a && q <= b) g++ }
				END { printf "%d %d\n", g, d }' "$dir/follow")
			echo "$((s1 - s0)) $got" >> "$dir/seen"
		fi
	done
done
stop

# ---- 3. idle ---------------------------------------------------------------------
idle_wakeups() {	# $1: 1 with events and metrics
	mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	{ printf '[holdfast]\ncontrol_socket = run/hf.sock\nlog_level = warn\n'
	  [ "$1" = 1 ] && printf 'metrics_listen = 127.0.0.1:%s\n' "$mport"
	  printf '[worker:quiet]\ncommand = /bin/sleep 3600\nstartsecs = 0\n'
	  [ "$1" = 1 ] && printf '[event:all]\ncommand = %s %s/idle\n' "$dir/events_stamp" "$dir"
	} > "$dir/holdfast.conf"
	start
	[ "$1" = 1 ] && { "$ctl" -s "$dir/run/hf.sock" events -f > /dev/null 2>&1 & fpid=$!; }
	# settled: the listener has run for the start's events (3 state changes)
	for _ in $(seq 100); do
		[ "$1" = 0 ] || [ "$(cat "$dir/idle" 2>/dev/null | wc -l)" -ge 2 ] && break
		sleep 0.1
	done
	sleep 2
	w0=$(awk '/^voluntary_ctxt_switches/{print $2}' "/proc/$pid/status")
	sleep "$secs"
	w1=$(awk '/^voluntary_ctxt_switches/{print $2}' "/proc/$pid/status")
	[ -n "${fpid:-}" ] && { kill "$fpid"; wait "$fpid" 2>/dev/null; fpid=; }
	stop
	echo $((w1 - w0))
}
idle_off=$(idle_wakeups 0)
idle_on=$(idle_wakeups 1)
med() { sort -n "$1" | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
cw=$(med "$dir/cpu_with"); cwo=$(med "$dir/cpu_without")
read -r emitted shown dropped < <(tail -1 "$dir/seen")

pass() { awk -v a="$1" -v b="$2" 'BEGIN{print (a <= b) ? "yes" : "NO"}'; }
printf '%-58s %-12s %-22s %s\n' "measure" "goal" "measured" "pass"
printf '%-58s %-12s %-22s %s\n' "state change -> listener command starts, median (n=$ln)" \
    "< 50 ms" "$lmed ms" "$(pass "$lmed" 50)"
printf '%-58s %-12s %-22s %s\n' "  p99 / max" "" "$lp99 / $lmax ms" ""
printf '%-58s %-12s %-22s %s\n' "holdfastd CPU, $rate events/s for ${secs}s, events -f following" \
    "< 10 %" "$cw % (median of $rounds)" "$(pass "$cw" 10)"
printf '%-58s %-12s %-22s %s\n' "  the same stream, no follower (baseline, interleaved)" "" "$cwo %" ""
printf '%-58s %-12s %-22s %s\n' "events emitted in the last round / shown by events -f" \
    "all, or counted" "$emitted / $shown (+$dropped dropped)" \
    "$([ $((shown + dropped)) -eq "$emitted" ] && echo yes || echo NO)"
printf '%-58s %-12s %-22s %s\n' "holdfastd wake-ups in ${secs}s idle: events and metrics on / off" \
    "no more" "$idle_on / $idle_off" "$([ "$idle_on" -le "$idle_off" ] && echo yes || echo NO)"
echo "Load average at the end: $(cut -d" " -f1-3 /proc/loadavg) on $(nproc) cores."
