#!/usr/bin/env bash
# bench/ctl.sh: `holdfastctl status` wall time against runit's `sv status`,
# both asking a live supervisor about 3 running services, measured with
# hyperfine (-N: no shell; fork + exec + dynamic loading + the reply
# included) in 5 interleaved rounds: per command the median over the rounds
# of hyperfine's mean and of its median wall time, and of user+system CPU
# (which the machine's load disturbs least).
#   holdfastctl -s SOCK status      the socket given: no config read
#   holdfastctl -c CONF status      the socket found in the config
#   (the build's holdfastctl is a static PIE when configure could)
#   holdfastctl, only libc shared   the same object, yajl/inih static
#   holdfastctl, dynamic yajl/inih  the same object linked the way it was
#                                   before (yajl, inih, libc shared):
#                                   what static linking saves
#   sv status A B C                 runit (runsv per service)
# BENCH_BASELINE=DIR (another build's tree, e.g. of the previous commit)
# adds that build's holdfastd and holdfastctl, run side by side with ours
# on their own socket and interleaved the same way: old against new in one
# run on one machine. BENCH_FEW=1 keeps only `holdfastctl -s SOCK status`,
# the baseline's and sv: shorter rounds, so more of them interleave finely
# (e.g. BENCH_FEW=1 BENCH_ROUNDS=30 BENCH_RUNS=60).
# A second table follows: the same commands interleaved run by run
# (bench/ctl_interleave.c, BENCH_CYCLES runs each, default 1000), which a
# burst of load on a shared machine cannot pin on one command.
# Needs hyperfine and runit's sv/runsv (apt-get install hyperfine runit);
# without them it says so and exits 0. Prints the load average.
set -uo pipefail
src=${HOLDFAST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bld=${HOLDFAST_BUILDDIR:-$src/build}
[ -x "$bld/supervisor/holdfastd" ] || bld=$src
hd=$bld/supervisor/holdfastd ctl=$bld/supervisor/holdfastctl
tw=$bld/tests/tools/testworker
for t in hyperfine sv runsv; do
	command -v "$t" >/dev/null || { echo "bench/ctl.sh: $t not installed, skipped"; exit 0; }
done
[ -x "$tw" ] || make -C "$bld" tests/tools/testworker >/dev/null || exit 0
rounds=${BENCH_ROUNDS:-5} runs=${BENCH_RUNS:-100}
[ -n "${BENCH_SHORT:-}" ] && runs=50

dir=$(mktemp -d /tmp/hf-bench-ctl.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

cat > "$dir/holdfast.conf" <<CONF
[holdfast]
control_socket = $dir/hf.sock
log_level = warn
[worker:w]
command = $tw
numprocs = 3
CONF
"$hd" -c "$dir/holdfast.conf" > "$dir/holdfastd.log" 2>&1 &
pids+=($!)
base=${BENCH_BASELINE:-}
if [ -n "$base" ]; then
	[ -x "$base/supervisor/holdfastd" ] && [ -x "$base/supervisor/holdfastctl" ] ||
	    { echo "bench/ctl.sh: no holdfastd/holdfastctl in $base"; exit 1; }
	sed "s|$dir/hf.sock|$dir/base.sock|" "$dir/holdfast.conf" > "$dir/base.conf"
	"$base/supervisor/holdfastd" -c "$dir/base.conf" > "$dir/base.log" 2>&1 &
	pids+=($!)
fi
for s in a b c; do
	mkdir -p "$dir/sv/$s"
	printf '#!/bin/sh\nexec sleep 1000000\n' > "$dir/sv/$s/run"
	chmod +x "$dir/sv/$s/run"
	runsv "$dir/sv/$s" >/dev/null 2>&1 &
	pids+=($!)
done
for _ in $(seq 100); do
	"$ctl" -s "$dir/hf.sock" status >/dev/null 2>&1 &&
	    { [ -z "$base" ] || "$ctl" -s "$dir/base.sock" status >/dev/null 2>&1; } &&
	    sv status "$dir/sv/a" 2>/dev/null | grep -q '^run' && break
	sleep 0.05
done

# The same holdfastctl object, linked as before (yajl and inih shared),
# and with only libc shared.
dyn= libc=
if ${CC:-cc} -o "$dir/holdfastctl-dyn" "$bld/supervisor/holdfastctl.o" \
    "$bld/common/libhfcommon.a" -lyajl -linih 2>/dev/null; then
	dyn=$dir/holdfastctl-dyn
fi
ld=$(pkg-config --variable=libdir yajl 2>/dev/null)
if [ -n "$ld" ] && ${CC:-cc} -o "$dir/holdfastctl-libc" "$bld/supervisor/holdfastctl.o" \
    "$bld/common/libhfcommon.a" "$ld/libyajl_s.a" "$ld/libinih.a" 2>/dev/null; then
	libc=$dir/holdfastctl-libc
fi

# Every binary measured starts from the disk, as an installed one does
# after a boot: the build tree's holdfastctl is the linker's output, and
# its page-cache pages cost 4 more page faults per exec (~45 us here)
# than the same file read back from disk (or copied: fewer still). So
# ours and the baseline's are copied into $dir as `make install` would,
# and they, sv and the variants built above are written back and evicted.
evict() {
	python3 -c 'import os, sys
for f in sys.argv[1:]:
    fd = os.open(f, os.O_RDONLY); os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$@"
}
install -m 0755 "$ctl" "$dir/holdfastctl" && ctl=$dir/holdfastctl
if [ -n "$base" ]; then
	install -m 0755 "$base/supervisor/holdfastctl" "$dir/base-holdfastctl"
	basectl=$dir/base-holdfastctl
fi
evict "$ctl" ${basectl:+"$basectl"} $dyn $libc "$(command -v sv)"

names=("holdfastctl -s SOCK status")
cmds=("$ctl -s $dir/hf.sock status")
few=${BENCH_FEW:-}
if [ -n "$few" ]; then
	libc= dyn=
else
	names+=("holdfastctl -c CONF status")
	cmds+=("$ctl -c $dir/holdfast.conf status")
fi
if [ -n "$libc" ]; then
	names+=("holdfastctl -s SOCK status, only libc shared")
	cmds+=("$libc -s $dir/hf.sock status")
fi
if [ -n "$dyn" ]; then
	names+=("holdfastctl -s SOCK status, yajl+inih+libc shared (as before)")
	cmds+=("$dyn -s $dir/hf.sock status")
fi
if [ -n "$base" ]; then
	names+=("baseline holdfastctl -s SOCK status (baseline holdfastd)")
	cmds+=("$basectl -s $dir/base.sock status")
	if [ -z "$few" ]; then
		names+=("holdfastctl -s SOCK status (baseline holdfastd)")
		cmds+=("$ctl -s $dir/base.sock status")
	fi
fi
names+=("sv status a b c (runit)")
cmds+=("sv status $dir/sv/a $dir/sv/b $dir/sv/c")

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A mean med cpu
for r in $(seq "$rounds"); do
	hyperfine -N -w 20 -r "$runs" --export-json "$dir/r$r.json" \
	    "${cmds[@]}" >/dev/null 2>"$dir/hyperfine.err" || { echo "hyperfine failed:"; cat "$dir/hyperfine.err"; exit 0; }
	i=0
	while read -r m md cpu; do
		mean[$i,$r]=$m
		med[$i,$r]=$md
		cpu[$i,$r]=$cpu
		i=$((i + 1))
	done < <(python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%.3f %.3f %.3f" % (r["mean"]*1000, r["median"]*1000, (r["user"]+r["system"])*1000))' "$dir/r$r.json")
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
col() { for r in $(seq "$rounds"); do eval "echo \${$1[$2,$r]}"; done; }
last=$(( ${#cmds[@]} - 1 ))
sv_mean=$(median $(col mean "$last")) sv_med=$(median $(col med "$last"))
sv_cpu=$(median $(col cpu "$last"))
pct() { awk "BEGIN{printf \"%.0f %%\", 100*$1/$2}"; }
echo "| command | mean ms (vs sv) | median ms (vs sv) | user+sys CPU ms (vs sv) | means per round |"
echo "|---|---|---|---|---|"
for i in $(seq 0 "$last"); do
	m=$(median $(col mean "$i")) d=$(median $(col med "$i")) c=$(median $(col cpu "$i"))
	echo "| ${names[$i]} | $m ($(pct "$m" "$sv_mean")) | $d ($(pct "$d" "$sv_med")) | $c ($(pct "$c" "$sv_cpu")) | $(col mean "$i" | tr '\n' ' ')|"
done

# Run by run: every command once per cycle, the order rotated.
cycles=${BENCH_CYCLES:-1000}
[ -n "${BENCH_SHORT:-}" ] && cycles=300
${CC:-cc} -O2 -o "$dir/ctl_interleave" "$src/bench/ctl_interleave.c" 2>/dev/null || exit 0
args=()
for c in "${cmds[@]}"; do
	read -ra w <<< "$c"
	w[0]=$(command -v "${w[0]}")
	[ ${#args[@]} -gt 0 ] && args+=(--)
	args+=("${w[@]}")
done
echo
echo "interleaved run by run, $cycles runs each (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
"$dir/ctl_interleave" "$cycles" "${args[@]}" > "$dir/il.txt" || exit 0
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
read -r sv_imed sv_imean _ < <(tail -n 1 "$dir/il.txt")
echo "| command | median ms (vs sv) | mean ms (vs sv) | p10 ms | p90 ms |"
echo "|---|---|---|---|---|"
i=0
while read -r md m p10 p90; do
	echo "| ${names[$i]} | $md ($(pct "$md" "$sv_imed")) | $m ($(pct "$m" "$sv_imean")) | $p10 | $p90 |"
	i=$((i + 1))
done < "$dir/il.txt"
