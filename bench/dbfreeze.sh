#!/usr/bin/env bash
# bench/dbfreeze.sh: holdfast-http while PostgreSQL freezes (SIGSTOP of the
# postmaster and every backend, by PID) and thaws (SIGCONT), with 16
# clients on a DB route (GET /api/conversations/{id}, bearer token).
#
# Per round (ROUNDS, default 3; normal and frozen phases interleaved):
#   normal   16 clients for FREEZE_SECS, /healthz sampled every 10 ms
#   frozen   the same load; the DB frozen for FREEZE_SECS, then thawed
#            with the load still running (first 200 after the thaw: the
#            "loaded" recovery)
#   readyz   frozen again, the breaker opened by a short load, the load
#            stopped, the DB thawed, then only GET /readyz every 20 ms
#            until 200 (the "readyz-only" recovery)
# and once: PostgreSQL's own restart time (pg_ctl start to the first
# successful connection) for comparison with the recoveries.
# Goals: 100 % of DB-route requests answered (503) within
# db_request_timeout + 100 ms; 99 % of those started after the first
# deadline answered in <= 5 ms; /healthz p99 frozen ~ normal; first 200
# <= 300 ms after the thaw.
# Prints a markdown table (medians over the rounds, worst in brackets) and
# the load average; exits 0 even when a goal is missed.
# PIPELINE_DEPTH (8): the workers' pipeline_depth (1: off, to compare).
# BENCH_SHORT=1: 1 round of 5 s. HTTP_BENCH_LOG=FILE keeps the worker's log;
# PG_EXTRA_CONF adds postgresql.conf lines; DBFREEZE_KEEP=1 keeps the data.
# Needs: python3, PostgreSQL 15 binaries; root (the cluster runs as
# `postgres`) or a user that may run initdb.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${HOLDFAST_SRCDIR:-$(cd "$here/.." && pwd)}
build=${HOLDFAST_BUILDDIR:-$src}
pgbin=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
rounds=${ROUNDS:-3} fsecs=${FREEZE_SECS:-6} clients=16 rows=1000
deadline_ms=2000
[ -n "${BENCH_SHORT:-}" ] && rounds=1 fsecs=5
make -s -C "$build" bench/dbfreeze_load workers/http/holdfast-http >&2
load=$build/bench/dbfreeze_load

tmp=$(mktemp -d /tmp/hf-bench-dbfreeze.XXXXXX)
chmod 755 "$tmp"
wpid= wpid0=
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pm_pid() { head -1 "$tmp/pg/postmaster.pid" 2>/dev/null || true; }
# Frozen and thawed by PID: the postmaster and its children, each with one
# kill(1) so the moment is sharp (the PIDs are looked up before). freeze
# and thaw write the time of that moment to the file given.
freeze() {
	local pm kids
	pm=$(pm_pid); kids=$(pgrep -P "$pm" | tr '\n' ' ')
	kill -STOP "$pm" $kids
	echo "$(now_us)" > "$1"
	kids=$(pgrep -P "$pm" | tr '\n' ' ')	# forked meanwhile
	kill -STOP $kids
}
thaw() {
	local pm kids
	pm=$(pm_pid); [ -n "$pm" ] || return 0
	kids=$(pgrep -P "$pm" | tr '\n' ' ')
	echo "$(now_us)" > "$1"
	kill -CONT $kids "$pm"
}
cleanup() {
	thaw /dev/null 2>/dev/null || true
	for p in $wpid $wpid0; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
	as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
	if [ -n "${DBFREEZE_KEEP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now_us() { echo $(( $(date +%s%N) / 1000 )); }
psql_hf() { "$pgbin/psql" -XAtq -h 127.0.0.1 -p "$pgport" -U postgres -d "$1" -c "$2"; }

# ---- PostgreSQL ----
pgport=$(free_port)
[ "$(id -u)" = 0 ] && chown postgres "$tmp"
as_pg "$pgbin/initdb" -D "$tmp/pg" -U postgres -A trust >/dev/null
cat >> "$tmp/pg/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pgport
unix_socket_directories = '$tmp'
fsync = off
log_connections = on
log_line_prefix = '%m [%p] '
${PG_EXTRA_CONF:-}
EOF
pg_start() { as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w start >/dev/null; }
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
	FROM generate_series(1, $rows) i;" >/dev/null

# ---- holdfast-http: defaults for every timeout and the backoff ----
port=$(free_port)
cat > "$tmp/http.conf" <<EOF
[holdfast]
log_level = warn
[database]
conninfo = host=127.0.0.1 port=$pgport dbname=hf user=postgres
pool_size = 4
pipeline_depth = ${PIPELINE_DEPTH:-8}
[whatsapp]
verify_token = bench
app_secret = bench
[worker:http]
command = holdfast-http
listen = 127.0.0.1:$port
max_connections = 4096
EOF
"$build/workers/http/holdfast-http" -c "$tmp/http.conf" 2>>"${HTTP_BENCH_LOG:-/dev/null}" &
wpid=$!
# The baseline for the cost of the deadline on the fast path: a second
# worker with db_request_timeout = 0 (no local statement_timeout sent).
port0=$(free_port)
sed -e "s/^listen = .*/listen = 127.0.0.1:$port0/" -e '$a db_request_timeout = 0' \
    "$tmp/http.conf" > "$tmp/http0.conf"
"$build/workers/http/holdfast-http" -c "$tmp/http0.conf" 2>/dev/null &
wpid0=$!
ready() { "$load" -p "${2:-$port}" -c 1 -d 30 -i 20 -t 2000 -s /readyz > "$tmp/$1"; }
ready warmup.ready
ready warmup0.ready "$port0"

dbload() {	# dbload SECS OUT [PORT]
	"$load" -p "${3:-$port}" -c $clients -d "$1" -t 10000 -n $rows \
	    -H "Authorization: Bearer $token" /api/conversations/ > "$2"
}
healthz() { "$load" -p "$port" -c 1 -d "$1" -i 10 -t 10000 /healthz > "$2"; }

la0=$(cut -d' ' -f1-3 /proc/loadavg)
dbload 2 /dev/null	# warm-up: the pool's connections, the token cache
dbload 2 /dev/null "$port0"
for r in $(seq "$rounds"); do
	# no request deadline (baseline of the fast path)
	dbload "$fsecs" "$tmp/b$r.db" "$port0"
	# normal
	healthz "$fsecs" "$tmp/n$r.healthz" & h=$!
	dbload "$fsecs" "$tmp/n$r.db"
	wait $h
	# frozen, thawed under load
	healthz "$fsecs" "$tmp/f$r.healthz" & h=$!
	dbload $((fsecs + 2)) "$tmp/f$r.db" & l=$!
	sleep 0.3
	freeze "$tmp/f$r.freeze"
	sleep "$fsecs"
	thaw "$tmp/f$r.thaw"
	wait $h $l
	ready "f$r.settle"
	# frozen, then readiness polling only
	freeze /dev/null
	dbload 3 /dev/null
	thaw "$tmp/z$r.thaw"
	ready "z$r.ready"
	dbload 1 /dev/null
done
# PostgreSQL's own restart: pg_ctl start to the first connection.
as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -m fast -w stop >/dev/null
t0=$(now_us)
as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" start >/dev/null
until "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$pgport"; do sleep 0.005; done
pg_restart_ms=$(( ($(now_us) - t0) / 1000 ))
la1=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$tmp" "$rounds" "$deadline_ms" "$pg_restart_ms" "$la0" "$la1" "$fsecs" <<'EOF'
import os, sys, statistics as st, datetime, re
tmp, rounds, dl, pgr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def recs(p):
    return [tuple(map(int, l.split())) for l in open(p) if l.strip()]
def one(p):
    return int(open(p).read())
def p99(v):
    v = sorted(v); return v[min(len(v) - 1, int(0.99 * len(v)))] if v else float("nan")
rows = {k: [] for k in ("within", "fast", "n_frozen", "n_after", "h_norm", "h_frz", "loaded", "readyz", "rps_norm", "rps_frz", "rps_base", "p50_norm", "p50_base", "pg_loaded", "pg_readyz")}
# "connection received" moments in PostgreSQL's log (log_connections)
conns = []
for l in open(f"{tmp}/pg.log"):
    m = re.match(r"(\d+-\d+-\d+ \d+:\d+:\d+\.\d+) UTC \[\d+\] LOG:  connection received", l)
    if m:
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
        conns.append(int(t.timestamp() * 1e6))
def pg_accept(t):
    return (min((c for c in conns if c >= t), default=float("nan")) - t) / 1000
def rps(d):
    return len(d) / max(1e-9, (max(x[1] for x in d) - min(x[0] for x in d)) / 1e6)
def p50(d):
    return st.median([x[1] - x[0] for x in d if x[2] == 200]) / 1000
for r in range(1, rounds + 1):
    fz, th = one(f"{tmp}/f{r}.freeze"), one(f"{tmp}/f{r}.thaw")
    db = recs(f"{tmp}/f{r}.db")
    # started while frozen, with the whole deadline + 100 ms before the thaw
    frozen = [x for x in db if fz <= x[0] <= th - (dl + 100) * 1000]
    ok = [x for x in frozen if x[2] == 503 and x[1] - x[0] <= (dl + 100) * 1000]
    first = min((x[1] for x in db if x[0] >= fz and x[2] == 503), default=th)
    after = [x for x in frozen if x[0] >= first]
    fast = [x for x in after if x[2] == 503 and x[1] - x[0] <= 5000]
    rows["within"].append(100.0 * len(ok) / max(1, len(frozen)))
    rows["fast"].append(100.0 * len(fast) / max(1, len(after)))
    rows["n_frozen"].append(len(frozen)); rows["n_after"].append(len(after))
    rows["rps_frz"].append(len(after) / max(1e-9, (th - first) / 1e6))
    nd, bd = recs(f"{tmp}/n{r}.db"), recs(f"{tmp}/b{r}.db")
    rows["rps_norm"].append(rps(nd)); rows["rps_base"].append(rps(bd))
    rows["p50_norm"].append(p50(nd)); rows["p50_base"].append(p50(bd))
    rows["pg_loaded"].append(pg_accept(th))
    rows["h_norm"].append(p99([x[1] - x[0] for x in recs(f"{tmp}/n{r}.healthz")]) / 1000)
    rows["h_frz"].append(p99([x[1] - x[0] for x in recs(f"{tmp}/f{r}.healthz") if fz <= x[0] <= th]) / 1000)
    rows["loaded"].append((min((x[1] for x in db if x[1] > th and x[2] == 200), default=float("nan")) - th) / 1000)
    zt = one(f"{tmp}/z{r}.thaw")
    rows["pg_readyz"].append(pg_accept(zt))
    rows["readyz"].append((min((x[1] for x in recs(f"{tmp}/z{r}.ready") if x[2] == 200), default=float("nan")) - zt) / 1000)
med = lambda k: st.median(rows[k])
def fmt(k, worst, unit="", nd=1):
    return f"{med(k):.{nd}f}{unit} (worst {worst(rows[k]):.{nd}f}{unit})"
yes = lambda c: "yes" if c else "NO"
print(f"{rounds} round(s) of {sys.argv[7]} s frozen, 16 clients, db_request_timeout {dl} ms, pool_size 4, pipeline_depth {os.environ.get('PIPELINE_DEPTH', '8')}, every other timeout and the backoff at their defaults.")
print()
print("| measure | goal | measured | pass |")
print("|---|---|---|---|")
print(f"| DB-route requests started while frozen answered 503 within {dl}+100 ms (n={sum(rows['n_frozen'])}) | 100 % | {fmt('within', min, ' %')} | {yes(min(rows['within']) >= 100)} |")
print(f"| of those started after the first deadline, answered <= 5 ms (n={sum(rows['n_after'])}) | >= 99 % | {fmt('fast', min, ' %')} | {yes(min(rows['fast']) >= 99)} |")
print(f"| DB-route req/s: breaker open vs normal | - | {med('rps_frz'):.0f} vs {med('rps_norm'):.0f} | - |")
print(f"| /healthz p99: frozen vs normal (same run, interleaved) | ~ unchanged | {fmt('h_frz', max, ' ms', 2)} vs {fmt('h_norm', max, ' ms', 2)} | {yes(med('h_frz') <= 2 * med('h_norm') + 1)} |")
print(f"| first 200 after the thaw, 16 clients loading | <= 300 ms | {fmt('loaded', max, ' ms')}; PostgreSQL's first accept after SIGCONT {fmt('pg_loaded', max, ' ms')} of it | {yes(max(rows['loaded']) <= 300)} |")
print(f"| first /readyz 200 after the thaw, readiness polling (20 ms) only | <= 300 ms | {fmt('readyz', max, ' ms')}; PostgreSQL's first accept {fmt('pg_readyz', max, ' ms')} of it | {yes(max(rows['readyz']) <= 300)} |")
print(f"| cost of the deadline on the fast path: DB-route req/s and p50 with db_request_timeout 2 s vs 0 (same run, interleaved) | within noise | {med('rps_norm'):.0f} req/s, {med('p50_norm'):.2f} ms vs {med('rps_base'):.0f} req/s, {med('p50_base'):.2f} ms ({100 * med('rps_norm') / med('rps_base'):.0f} %) | - |")
print(f"| PostgreSQL's own restart (pg_ctl start -> first connection), for comparison | - | {pgr} ms | - |")
print()
print(f"Load average before / after: {sys.argv[5]} / {sys.argv[6]} ({__import__('os').cpu_count()} cores).")
EOF
