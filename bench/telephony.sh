#!/usr/bin/env bash
# bench/telephony.sh: how many calls per second holdfast-telephony answers
# with 0 failed calls (sipp's built-in uac, rising rate), with the DB up
# (CDRs stored in PostgreSQL) and with the DB down (CDRs spooled to disk),
# and how fast the spool is replayed once the DB is back.
#
# Full mode: 10 s per rate step; BENCH_SHORT=1: 3 s steps, fewer rates.
# Prints a markdown table (goal / measured / pass); always exits 0 unless
# the bench itself cannot run. Everything runs on 127.0.0.1 in a temp dir.
set -uo pipefail

build=${HOLDFAST_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=$build/workers/telephony/holdfast-telephony
pgbin=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
if [ -n "${BENCH_SHORT:-}" ]; then
	step=3; rates="500 1000 2000 3000"
else
	step=10; rates="500 1000 1500 2000 2500 3000 4000 5000"
fi
[ -x "$bin" ] || { echo "bench/telephony: $bin not built" >&2; exit 1; }
command -v sipp >/dev/null || { echo "bench/telephony: sipp not installed" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hf-bench-telephony.XXXXXX")
worker_pid=
cleanup() {
	[ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
	pg_ctl_as stop -m immediate >/dev/null 2>&1
	if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, int(sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"
}

# PostgreSQL refuses to run as root: run it as `postgres` in a dir it owns.
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_ctl_as() {
	as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" "$@"
}

pgport=$(free_port 1)
sipport=$(free_port 2)
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$work" "$work/pg"
as_pg "$pgbin/initdb" -D "$work/pg" -A trust -U postgres >/dev/null || exit 1
pg_ctl_as -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1" -w start >/dev/null || exit 1
as_pg "$pgbin/psql" -XAq -h 127.0.0.1 -p "$pgport" -U postgres -c "CREATE DATABASE hf" postgres || exit 1

psql_n() {
	as_pg "$pgbin/psql" -XAt -h 127.0.0.1 -p "$pgport" -U postgres -c "$1" hf 2>/dev/null
}

cat > "$work/holdfast.conf" <<EOF
[holdfast]
state_dir = $work/state
log_level = info
[database]
conninfo = host=127.0.0.1 port=$pgport dbname=hf user=postgres
connect_timeout = 1s
backoff_initial = 100ms
backoff_max = 1s
[worker:telephony]
command = holdfast-telephony
listen = udp:127.0.0.1:$sipport
max_calls = 100000
# one sipp socket stands for a whole trunk (an SBC): its rate of new
# INVITEs is the bench's subject, not a flood
sip_source_rate = 100000
EOF

"$bin" -c "$work/holdfast.conf" >"$work/worker.log" 2>&1 &
worker_pid=$!
for _ in $(seq 100); do grep -q '\[DB_UP\]\|\[DB_RECOVERED\]' "$work/worker.log" && break; sleep 0.1; done

# One sipp run: prints "ok failed rc".
sipp_step() {
	local rate=$1 calls=$(( $1 * step )) tag=$2
	( cd "$work" && sipp -sn uac "127.0.0.1:$sipport" -i 127.0.0.1 -p "$(free_port 2)" \
		-r "$rate" -m "$calls" -nostdin -trace_stat -stf "$tag.csv" -fd 1 \
		-timeout $((step + 60))s -timeout_error </dev/null >"$tag.out" 2>&1 )
	local rc=$?
	awk -F';' -v rc=$rc 'NR==1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		NF > 1 { ok = $col["SuccessfulCall(C)"]; bad = $col["FailedCall(C)"] }
		END { print ok + 0, bad + 0, rc }' "$work/$tag.csv"
}

# Rising rates until the first step with a failed call; echoes the best rate.
ramp() {
	local phase=$1 best=0 total=0
	for r in $rates; do
		read -r ok bad rc < <(sipp_step "$r" "$phase-$r")
		total=$((total + ok))
		echo "  $phase: $r calls/s x ${step}s: ok=$ok failed=$bad sipp_rc=$rc" >&2
		[ "$bad" = 0 ] && [ "$rc" = 0 ] || break
		best=$r
	done
	echo "$best $total"
}

wait_rows() {
	local want=$1 n=0
	for _ in $(seq 600); do
		n=$(psql_n "SELECT count(*) FROM calls"); n=${n:-0}
		[ "$n" -ge "$want" ] && break
		sleep 0.1
	done
	echo "$n"
}

read -r up_best up_total < <(ramp db_up)

pg_ctl_as stop -m fast -w >/dev/null
for _ in $(seq 100); do grep -q '\[DB_DOWN\]' "$work/worker.log" && break; sleep 0.1; done
read -r down_best down_total < <(ramp db_down)
spooled=$(du -sh "$work/state" 2>/dev/null | cut -f1)

pg_ctl_as -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1" -w start >/dev/null
for _ in $(seq 1200); do grep -q '\[CDR_REPLAY\] done' "$work/worker.log" && break; sleep 0.1; done
replay=$(grep -o '\[CDR_REPLAY\] done records=[0-9]* in [0-9]* ms ([0-9]*/s)' "$work/worker.log" | tail -1)
replay_rate=$(echo "$replay" | sed -n 's/.*(\([0-9]*\)\/s).*/\1/p')

# Every call the worker saw gets a CDR: calls still up at SIGTERM (a BYE
# lost under overload: sipp may count such a call as done when a stray
# 200 answers its BYE) get one with ended_by=shutdown.
kill -TERM "$worker_pid"; wait "$worker_pid" 2>/dev/null; worker_pid=
handled=$(grep -o '\[SIP_STATS\] calls=[0-9]*' "$work/worker.log" | tail -1 | cut -d= -f2)
all_rows=$(wait_rows "${handled:-0}")
dups=$(psql_n "SELECT count(*) - count(DISTINCT call_id) FROM calls")
left=$(psql_n "SELECT count(*) FROM calls WHERE ended_by = 'shutdown'")

pass() { if [ "$1" = 1 ]; then echo yes; else echo NO; fi; }
echo "| metric | goal | measured | pass |"
echo "|---|---|---|---|"
echo "| max call rate, DB up, 0 failed (${step}s steps) | >= 1000 calls/s | $up_best calls/s | $(pass $((up_best >= 1000))) |"
echo "| max call rate, DB down (spooling), 0 failed | >= DB-up rate ($up_best) | $down_best calls/s | $(pass $((down_best >= up_best))) |"
echo "| spool size at the end of the outage | - | ${spooled:-?} | - |"
echo "| spool replay after recovery | report | ${replay_rate:-?} records/s (${replay:-no replay line}) | $(pass $((${replay_rate:-0} > 0))) |"
echo "| CDR rows = calls the worker handled, no duplicates | ${handled:-?}, 0 | $all_rows, ${dups:-?} (sipp successful: $((up_total + down_total)); ended at SIGTERM: ${left:-?}) | $(pass $((all_rows == ${handled:-0} && ${dups:-1} == 0 && all_rows >= up_total + down_total))) |"
