#!/bin/sh
# fatal_schedule.sh: when a program that dies 100 ms after every start is
# tried, and when it goes FATAL, under the given [worker] keys (default:
# none, i.e. the defaults). Three instances give three samples of the
# random backoff. Prints, per instance, the seconds of every spawn after
# the first and of FATAL. Usage: bench/fatal_schedule.sh [key=value ...]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/hf-fatal.XXXXXX)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
{
	printf '[holdfast]\ncontrol_socket = %s/sock\n' "$dir"
	printf '[worker:dies]\nnumprocs = 3\ncommand = /bin/sh -c "sleep 0.1; exit 1"\n'
	for kv in "$@"; do printf '%s\n' "$kv"; done
} >"$dir/holdfast.conf"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  keys: ${*:-defaults}"
"$here/supervisor/holdfastd" -c "$dir/holdfast.conf" 2>"$dir/log" &
pid=$!
until [ "$(grep -c '\[WORKER_FATAL\]' "$dir/log")" -ge 3 ]; do sleep 0.2; done
for i in 0 1 2; do
	awk -v n="dies:$i" '
	function t(s,  a) { split(substr(s, 12, 12), a, ":"); return a[1]*3600 + a[2]*60 + a[3] }
	index($0, "name=" n " ") && /\[WORKER_SPAWN\]/ { if (t0 == "") t0 = t($1); sp = sp sprintf(" %.1f", t($1) - t0) }
	index($0, "name=" n " ") && /\[WORKER_FATAL\]/ { f = t($1) - t0 }
	index($0, "name=" n " ") && /\[WORKER_READY\]/ { r++ }
	END { printf "%s spawns at:%s  FATAL at %.1f s (READY %d times)\n", n, sp, f, r }' "$dir/log"
done
