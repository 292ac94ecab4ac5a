#!/usr/bin/env bash
# bench/db.sh: the DB layer's goals, measured against a private PostgreSQL
# 15 cluster (and the fault proxy for outages). BENCH_SHORT=1: short mode.
#   fail-fast p99 with the DB down            goal <= 50 us
#   recovery under steady demand              goal <= 300 ms
#   recovery idle                             goal <= backoff step + 50 ms
#   PK SELECT throughput vs pgbench -S        goal >= 80 %
#   PK SELECT, pool of 2, 32 concurrent callers, pipelined (pipeline_depth
#   8) and not (1), vs pgbench -M prepared -S -c 2, side by side:
#   ROUNDS (3) interleaved rounds, medians   goal (pipelined) >= 150 %
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${HOLDFAST_BUILDDIR:-$(pwd)}
export HOLDFAST_SRCDIR=${HOLDFAST_SRCDIR:-$(cd "$here/.." && pwd)}
export HOLDFAST_BUILDDIR=$build
make -s -C "$build" bench/db_bench tests/tools/faultproxy >&2
bin=$build/bench/db_bench

if [ -n "${BENCH_SHORT:-}" ]; then
	calls=20000; down=1000; rounds=5; secs=3; scale=2; clients=2; psecs=3
else
	calls=200000; down=2000; rounds=15; secs=10; scale=10; clients=${BENCH_CLIENTS:-2}; psecs=8
fi
prounds=${ROUNDS:-3} callers=${BENCH_CALLERS:-32} depth=${BENCH_DEPTH:-8}

declare -A v
while read -r k val; do v[$k]=$val; done < <(
	"$bin" failfast "$calls"
	"$bin" recovery "$down" "$rounds"
	"$bin" tps "$clients" "$secs" "$scale"
	"$bin" pipe "$clients" "$callers" "$psecs" "$scale" "$prounds" 1 "$depth" |
		grep -v '^round' | sed 's/^/pipe_/'
)

pass() { if awk "BEGIN{exit !($1)}"; then echo yes; else echo NO; fi; }
ratio=$(awk "BEGIN{printf \"%.0f\", 100*${v[holdfast_tps]}/${v[pgbench_tps]}}")
idle_goal=$(( ${v[recovery_idle_step_ms]} + 50 ))

echo "| measure | goal | measured | pass |"
echo "|---|---|---|---|"
echo "| fail-fast p99, DB down (${v[failfast_calls]} calls; p50 ${v[failfast_p50_us]} us) | <= 50 us | ${v[failfast_p99_us]} us | $(pass "${v[failfast_p99_us]} <= 50") |"
echo "| recovery under steady demand, median of ${v[recovery_rounds]} outages of ${down} ms (max ${v[recovery_demand_max_ms]} ms) | <= 300 ms | ${v[recovery_demand_ms]} ms | $(pass "${v[recovery_demand_ms]} <= 300") |"
echo "| recovery idle (step ceiling ${v[recovery_idle_step_ms]} ms) | <= ${idle_goal} ms | ${v[recovery_idle_ms]} ms | $(pass "${v[recovery_idle_ms]} <= $idle_goal") |"
echo "| PK SELECT TPS, pool of $clients vs pgbench -S -c $clients -j 2 (${v[pgbench_tps]}) | >= 80 % | ${v[holdfast_tps]} (${ratio} %) | $(pass "$ratio >= 80") |"
pp=$(awk "BEGIN{printf \"%.0f\", 100*${v[pipe_depth_${depth}_tps]}/${v[pipe_pgbench_tps]}}")
pu=$(awk "BEGIN{printf \"%.0f\", 100*${v[pipe_depth_1_tps]}/${v[pipe_pgbench_tps]}}")
echo "| PK SELECT TPS, pool of $clients, $callers callers, pipeline_depth=$depth vs pgbench -M prepared -S -c $clients (${v[pipe_pgbench_tps]}; median of $prounds interleaved rounds) | >= 150 % | ${v[pipe_depth_${depth}_tps]} (${pp} %) | $(pass "$pp >= 150") |"
echo "| the same, pipeline_depth=1 (unpipelined) | - | ${v[pipe_depth_1_tps]} (${pu} %) | - |"
echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
