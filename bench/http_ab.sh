#!/usr/bin/env bash
# bench/http_ab.sh: holdfast-http of this build (hsrv) beside an older
# build (main by default: evhttp), same machine, same database, the runs
# interleaved (old, new, old, new ...) so that load drifts hit both:
# wrk -t2 -c64 on /healthz and on GET /api/conversations/{id} (random ids
# over 100k rows, bearer token, as bench/http.sh). One instance per build,
# pool_size 4, each on its own port, started beside each other.
# Prints per-run req/s and p99, the median ratio new/old per route and the
# load average. Goal: no regression (ratio >= 0.95, within noise).
#
#   HTTP_OLD_BUILDDIR=DIR   the old build (else HTTP_OLD_REF, default main,
#                           is built in a temp dir)
#   ROUNDS=N (default 3), DUR=seconds per run (default 5), WARM (default 2)
# Needs: wrk, python3, PostgreSQL 15 binaries; run as root (the cluster
# runs as `postgres`) or as a user that may run initdb.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${HOLDFAST_SRCDIR:-$(cd "$here/.." && pwd)}
build=${HOLDFAST_BUILDDIR:-$src}
pgbin=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
rounds=${ROUNDS:-3} dur=${DUR:-5} warm=${WARM:-2}
conns=64
rows=100000

tmp=$(mktemp -d /tmp/hf-bench-ab.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
psql_hf() { "$pgbin/psql" -XAtq -h 127.0.0.1 -p "$pgport" -U postgres -d "$1" -c "$2"; }

# ---- PostgreSQL ----
pgport=$(free_port)
[ "$(id -u)" = 0 ] && chown postgres "$tmp"
as_pg "$pgbin/initdb" -D "$tmp/pg" -U postgres -A trust >/dev/null
cat >> "$tmp/pg/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pgport
unix_socket_directories = '$tmp'
max_connections = 100
shared_buffers = 128MB
fsync = off
EOF
pg_start() { as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w start >/dev/null; }
pg_stop() { as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -m fast -w stop >/dev/null; }
pg_start
psql_hf postgres "CREATE DATABASE hf"
for f in "$src"/etc/schema/*.sql; do
	"$pgbin/psql" -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pgport" -U postgres -d hf -f "$f" >/dev/null
done
token=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
psql_hf hf "
CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
INSERT INTO schema_migrations (version) SELECT generate_series(1, $(ls "$src"/etc/schema/*.sql | wc -l)) ON CONFLICT DO NOTHING;
INSERT INTO users (email, password_hash) VALUES ('bench@example.com', '\$y\$j9T\$none\$none');
INSERT INTO auth_tokens (token_hash, user_id, expires_at)
	SELECT sha256(convert_to('$token', 'UTF8')), id, now() + interval '1 day' FROM users;
INSERT INTO conversations (id, phone_number_id, wa_id, status, opened_at, last_message_at)
	SELECT i, '106540352242922', (16500000000 + i)::text, 'open', now() - interval '1 hour', now()
	FROM generate_series(1, $rows) i;
INSERT INTO wa_messages (wamid, phone_number_id, wa_id, direction, body, sent_at, conversation_id)
	SELECT 'wamid.' || i || '.' || j, '106540352242922', (16500000000 + i)::text,
	       CASE j WHEN 1 THEN 'in' ELSE 'out' END, 'message ' || j, now(), i
	FROM generate_series(1, $rows) i, generate_series(1, 2) j;" >/dev/null
psql_hf hf "VACUUM ANALYZE" >/dev/null

old=${HTTP_OLD_BUILDDIR:-}
if [ -z "$old" ]; then
	old=$tmp/old
	mkdir -p "$old"
	git -C "$src" archive "${HTTP_OLD_REF:-main}" | tar -x -C "$old"
	(cd "$old" && ./autogen.sh && ./configure && nice make -j2 workers/http/holdfast-http) \
		>"$tmp/old-build.log" 2>&1 || { echo "old build failed"; exit 1; }
fi

# ---- one instance of each build ----
start_http() {	# start_http NAME BUILD -> port in $tmp/NAME.port
	local port
	port=$(free_port)
	cat > "$tmp/$1.conf" <<EOF
[holdfast]
log_level = warn
[database]
conninfo = host=127.0.0.1 port=$pgport dbname=hf user=postgres
pool_size = 4
[whatsapp]
verify_token = bench
app_secret = bench
[worker:http]
command = holdfast-http
listen = 127.0.0.1:$port
max_connections = 4096
EOF
	"$2/workers/http/holdfast-http" -c "$tmp/$1.conf" 2>>"$tmp/$1.log" &
	pids+=($!)
	for _ in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && break
		sleep 0.1
	done
	echo "$port" > "$tmp/$1.port"
}
start_http old "$old"
start_http new "$build"
oport=$(cat "$tmp/old.port") nport=$(cat "$tmp/new.port")

cat > "$tmp/report.lua" <<'EOF'
done = function(s, lat, req)
	io.write(string.format("RESULT %.0f %.3f %d\n", s.requests / (s.duration / 1e6),
		lat:percentile(99) / 1000, s.errors.status))
end
EOF
cat > "$tmp/conv.lua" <<EOF
math.randomseed(os.time())
wrk.headers["Authorization"] = "Bearer $token"
request = function()
	return wrk.format("GET", "/api/conversations/" .. math.random(1, $rows))
end
EOF
cat "$tmp/report.lua" >> "$tmp/conv.lua"

wrk_run() {	# wrk_run URL SCRIPT -> "rps p99 non2xx"
	wrk -t2 -c$conns -d${warm}s -s "$2" "$1" >/dev/null 2>&1
	wrk -t2 -c$conns -d${dur}s -s "$2" "$1" 2>/dev/null | awk '/^RESULT/ {print $2, $3, $4}'
}

echo "## holdfast-http: old (${HTTP_OLD_BUILDDIR:-${HTTP_OLD_REF:-main}}, evhttp) vs new (hsrv), interleaved"
echo
echo "| round | route | old req/s | old p99 ms | new req/s | new p99 ms | new/old |"
echo "|---|---|---|---|---|---|---|"
declare -A ratios
for r in $(seq "$rounds"); do
	for route in healthz conv; do
		if [ $route = healthz ]; then path=/healthz script=$tmp/report.lua
		else path="" script=$tmp/conv.lua; fi
		read -r o_rps o_p99 o_bad <<< "$(wrk_run "http://127.0.0.1:$oport$path" "$script")"
		read -r n_rps n_p99 n_bad <<< "$(wrk_run "http://127.0.0.1:$nport$path" "$script")"
		ratio=$(awk -v a="$n_rps" -v b="$o_rps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
		ratios[$route]+="$ratio "
		echo "| $r | $route | $o_rps | $o_p99 | $n_rps | $n_p99 | $ratio |"
		[ "$o_bad$n_bad" = 00 ] || echo "| | (non-2xx: old $o_bad, new $n_bad) | | | | | |"
	done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "Median new/old: /healthz $(echo "${ratios[healthz]}" | median)," \
	"GET /api/conversations/{id} $(echo "${ratios[conv]}" | median) (goal >= 0.95)."
echo "Load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
