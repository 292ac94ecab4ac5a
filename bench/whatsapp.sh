#!/usr/bin/env bash
# bench/whatsapp.sh: holdfast-whatsapp's throughput and wake-up latency.
#
#  1. Sessions processed per second: N inbound messages (100k; 10k with
#     BENCH_SHORT=1) from N/20 contacts are stored first, then one and then
#     two worker instances assign them to sessions. The rate is taken from
#     the database's own clock (first to last processed_at).
#  2. End-to-end latency webhook-stored -> session updated (received_at ->
#     processed_at) with LISTEN/NOTIFY, one message at a time on an idle
#     worker; then the same with the notify trigger disabled and a 5 s
#     poll, which is the seed's polling design.
#
# A private PostgreSQL 15 (default durability settings) on 127.0.0.1, a
# graphsink, all on loopback. Prints a markdown table; always exits 0 once
# it has measured (a bench reports, it does not gate).
set -euo pipefail

short=${BENCH_SHORT:-}
build=${HOLDFAST_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
src=${HOLDFAST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
pgbin=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
worker=$build/workers/whatsapp/holdfast-whatsapp
sink=$build/tests/tools/graphsink
if [ -n "$short" ]; then nmsg=10000; nlat=100; npoll=12; else nmsg=100000; nlat=300; npoll=30; fi
ncontacts=$((nmsg / 20))

for f in "$worker" "$sink"; do
	[ -x "$f" ] || { echo "bench/whatsapp: $f not built (make && make tests/tools/graphsink)" >&2; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-bench-wa-XXXXXX")
chmod 755 "$dir"
pids=()
asuser() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
	asuser "$pgbin/pg_ctl" -D "$dir/pg" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- PostgreSQL ------------------------------------------------------------
port=$(free_port)
[ "$(id -u)" = 0 ] && chown postgres "$dir"
asuser "$pgbin/initdb" -D "$dir/pg" -A trust -U postgres >/dev/null
asuser "$pgbin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w \
	-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=50" start >/dev/null
psqlq() { psql -h 127.0.0.1 -p "$port" -U postgres -d bench -XAtq -v ON_ERROR_STOP=1 "$@"; }
psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -XAtqc "CREATE DATABASE bench"
{
	echo "BEGIN;"
	echo "CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());"
	for f in "$src"/etc/schema/[0-9][0-9][0-9][0-9]_*.sql; do
		v=$(basename "$f"); v=$((10#${v%%_*}))
		echo "\\i '$f'"
		echo "INSERT INTO schema_migrations (version) VALUES ($v);"
	done
	echo "COMMIT;"
} > "$dir/schema.sql"
psqlq -f "$dir/schema.sql" >/dev/null

# --- graphsink and the config ------------------------------------------------
"$sink" -P "$dir/gs.port" -t bench-token > "$dir/gs.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$dir/gs.port" ] && break; sleep 0.05; done
conf() {	# conf POLL AUTOREPLY [BATCH]
	cat > "$dir/holdfast.conf" <<EOF
[holdfast]
log_level = warn
[database]
conninfo = host=127.0.0.1 port=$port dbname=bench user=postgres
pool_size = 2
[whatsapp]
access_token = bench-token
graph_api_url = http://127.0.0.1:$(cat "$dir/gs.port")
api_version = v21.0
session_idle_timeout = 1h
poll_interval = $1
auto_reply = $2
batch_size = ${3:-100}
[worker:whatsapp]
command = holdfast-whatsapp
EOF
}
start_workers() {	# start_workers N
	wpids=()
	for i in $(seq 0 $(($1 - 1))); do
		"$worker" -c "$dir/holdfast.conf" -i "whatsapp:$i" >> "$dir/worker$i.log" 2>&1 &
		wpids+=($!)
		pids+=($!)
	done
	sleep 0.5
}
stop_workers() {
	for p in "${wpids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${wpids[@]}"; do wait "$p" 2>/dev/null || true; done
}
wait_assigned() {	# wait until nothing is unassigned (bounded: 10 min)
	for _ in $(seq 12000); do
		[ "$(psqlq -c "SELECT count(*) FROM wa_messages WHERE conversation_id IS NULL")" = 0 ] && return 0
		sleep 0.05
	done
	echo "bench/whatsapp: messages left unassigned" >&2
	return 1
}
reset_data() {
	psqlq -c "TRUNCATE wa_outbox, wa_statuses, wa_contacts, wa_messages, conversations RESTART IDENTITY CASCADE" >/dev/null
}

# --- 1. throughput --------------------------------------------------------------
throughput() {	# throughput INSTANCES BATCH -> "rate sessions sum"
	reset_data
	psqlq -c "INSERT INTO wa_messages (wamid, phone_number_id, wa_id, direction, body, sent_at)
		SELECT 'wamid.b.' || g, 'pn', 'c' || (g % $ncontacts), 'in', 'message ' || g,
		       now() - interval '1 minute' + g * interval '1 microsecond'
		FROM generate_series(1, $nmsg) g" >/dev/null
	psqlq -c "VACUUM ANALYZE wa_messages" >/dev/null
	conf 5s "" "$2"
	start_workers "$1"
	wait_assigned
	stop_workers
	psqlq -c "SELECT round($nmsg / extract(epoch FROM max(processed_at) - min(processed_at)))
		|| ' ' || (SELECT count(*) FROM conversations) || ' '
		|| (SELECT sum(msgs_in) FROM conversations) FROM wa_messages"
}
read -r rate1 sess1 sum1 <<< "$(throughput 1 100)"
read -r rate2 sess2 sum2 <<< "$(throughput 2 100)"
read -r rate3 sess3 sum3 <<< "$(throughput 1 1000)"

# --- 2. latency -------------------------------------------------------------------
latency() {	# latency COUNT GAP_S -> "p50 p95 p99" in ms
	reset_data
	start_workers 1
	for i in $(seq "$1"); do
		echo "INSERT INTO wa_messages (wamid, phone_number_id, wa_id, direction, body, sent_at)
			VALUES ('wamid.l.$i', 'pn', 'c' || ($i % 50), 'in', 'hello', now());"
		echo "SELECT pg_sleep($2);"
	done | psqlq >/dev/null
	wait_assigned
	stop_workers
	psqlq -c "SELECT array_to_string(array(SELECT round(v::numeric, 2) FROM unnest(
		percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY
		extract(epoch FROM processed_at - received_at) * 1000)) v), ' ')
		FROM wa_messages WHERE direction = 'in'"
}
conf 5s ""
read -r lp50 lp95 lp99 <<< "$(latency "$nlat" 0.02)"
# The seed's design: no notification, a poll every 5 s.
psqlq -c "ALTER TABLE wa_messages DISABLE TRIGGER wa_messages_notify" >/dev/null
conf 5s ""
read -r pp50 pp95 pp99 <<< "$(latency "$npoll" 0.5)"
psqlq -c "ALTER TABLE wa_messages ENABLE TRIGGER wa_messages_notify" >/dev/null

ok() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 <= b + 0) ? "yes" : "no" }'; }
echo "| measure | goal | measured | pass |"
echo "|---|---|---|---|"
echo "| sessions processed/s, 1 instance, batch 100 ($nmsg msgs, $sess1 sessions) | - | $rate1 msg/s | - |"
echo "| sessions processed/s, 2 instances, batch 100 ($nmsg msgs, $sess2 sessions) | - | $rate2 msg/s | - |"
echo "| sessions processed/s, 1 instance, batch 1000 ($nmsg msgs, $sess3 sessions) | - | $rate3 msg/s | - |"
echo "| each message counted once (sum of msgs_in) | $nmsg | $sum1 / $sum2 / $sum3 | $( [ "$sum1" = "$nmsg" ] && [ "$sum2" = "$nmsg" ] && [ "$sum3" = "$nmsg" ] && echo yes || echo no) |"
echo "| latency stored -> assigned, LISTEN/NOTIFY, p50 / p95 / p99 ($nlat msgs) | p50 <= 5 ms | $lp50 / $lp95 / $lp99 ms | $(ok "$lp50" 5) |"
echo "| same with the seed's 5 s polling, p50 / p95 / p99 ($npoll msgs) | - | $pp50 / $pp95 / $pp99 ms | - |"
echo
echo "LISTEN/NOTIFY answers in ${lp50} ms at the median where the seed's 5 s poll takes ${pp50} ms (about half the interval, as expected)."
