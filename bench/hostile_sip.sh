#!/usr/bin/env bash
# bench/hostile_sip.sh: holdfast-telephony under hostile SIP traffic, the
# figures of the SIP edge:
#  1. bytes sent to a source that never ACKs / bytes it sent (goal <= 4);
#  2. CPU cost of one in-dialog request (a BYE with a bogus To tag) with
#     20,000 calls sharing its Call-ID / the cost with none (goal <= 2),
#     measured as the worker's CPU time (/proc/PID/stat) over rounds of
#     BYEs, interleaved with the baseline;
#  3. one poisoned CDR among 1,000 in the spool: time until the 999
#     others are stored (goal <= 2 s);
#  4. after the bursts and 64*T1: active calls 0, a normal sipp call
#     answered, [SIP_STATS] (SIGUSR1) with check=ok and cdr_stored equal to
#     the rows of `calls`.
#
# OLD_BIN=/path/to/holdfast-telephony runs figures 1 and 2 against that
# binary too (the code before a change), in the same run. Prints a
# markdown table; exits 0 unless the bench itself cannot run.
set -uo pipefail

build=${HOLDFAST_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=$build/workers/telephony/holdfast-telephony
pgbin=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
[ -x "$bin" ] || { echo "bench/hostile_sip: $bin not built" >&2; exit 1; }
command -v sipp >/dev/null || { echo "bench/hostile_sip: sipp not installed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench/hostile_sip: python3 needed" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hf-bench-hostile-sip.XXXXXX")
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
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_ctl_as() {
	as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" "$@"
}
psql_n() {
	as_pg "$pgbin/psql" -XAt -h 127.0.0.1 -p "$pgport" -U postgres -c "$1" hf 2>/dev/null
}

pgport=$(free_port 1)
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$work" "$work/pg"
as_pg "$pgbin/initdb" -D "$work/pg" -A trust -U postgres >/dev/null || exit 1
pg_ctl_as -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1" -w start >/dev/null || exit 1
as_pg "$pgbin/psql" -XAq -h 127.0.0.1 -p "$pgport" -U postgres -c "CREATE DATABASE hf" postgres || exit 1

# start_worker BIN NAME EXTRA_CONF: a worker in $work/NAME; sets worker_pid, sipport.
start_worker() {
	local wbin=$1 name=$2 extra=$3
	sipport=$(free_port 2)
	mkdir -p "$work/$name"
	cat > "$work/$name/holdfast.conf" <<EOF
[holdfast]
state_dir = $work/$name/state
log_level = info
[database]
conninfo = host=127.0.0.1 port=$pgport dbname=hf user=postgres
connect_timeout = 1s
backoff_initial = 100ms
backoff_max = 1s
[worker:telephony]
command = holdfast-telephony
listen = udp:127.0.0.1:$sipport
sip_t1 = 50ms
$extra
EOF
	"$wbin" -c "$work/$name/holdfast.conf" >"$work/$name/worker.log" 2>&1 &
	worker_pid=$!
	for _ in $(seq 100); do grep -q '\[DB_UP\]\|\[DB_RECOVERED\]' "$work/$name/worker.log" && break; sleep 0.1; done
}
stop_worker() {
	kill -TERM "$worker_pid" 2>/dev/null; wait "$worker_pid" 2>/dev/null; worker_pid=
}

# The UDP side of figures 1 and 2, in python (raw datagrams, exact bytes).
cat > "$work/sipload.py" <<'PYEOF'
import os, socket, sys, time
SDP = ("v=0\r\no=u 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 6000 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\n")
def req(method, port, branch, callid, ftag, totag, cseq, body=""):
    ct = "Content-Type: application/sdp\r\n" if body else ""
    tt = ";tag=" + totag if totag else ""
    return ("%s sip:svc@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
            "From: \"B\" <sip:b@127.0.0.1>;tag=%s\r\nTo: <sip:svc@127.0.0.1>%s\r\n"
            "Call-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\n%sContent-Length: %d\r\n\r\n%s"
            % (method, port, branch, ftag, tt, callid, cseq, method, ct, len(body), body)).encode()
def sock():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    return s
def drain(s, secs):
    s.settimeout(0.05)
    got = n = 0
    end = time.time() + secs
    while time.time() < end:
        try:
            got += len(s.recv(70000)); n += 1
        except socket.timeout:
            pass
    return got, n
def cpu(pid):
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
mode, port = sys.argv[1], int(sys.argv[2])
dst = ("127.0.0.1", port)
if mode == "noack":
    # one INVITE (no SDP, like a scanner's), never an ACK: bytes back / bytes sent
    s = sock()
    m = req("INVITE", s.getsockname()[1], "z9hG4bKnoack1", "noack-1@bench", "na", "", 1)
    s.sendto(m, dst)
    got, n = drain(s, float(sys.argv[3]))
    print("%d %d %d" % (len(m), got, n))
elif mode == "collide":
    # n INVITEs sharing one Call-ID (answered, never ACKed), or none; then
    # rounds of BYEs with a bogus To tag: CPU seconds per 1000 BYEs
    pid, ncoll, rounds = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    s = sock()
    me = s.getsockname()[1]
    cid = "collide-" + "x" * 200 + "@bench"
    for i in range(ncoll):
        s.sendto(req("INVITE", me, "z9hG4bKc%d" % i, cid, "fc", "", 1, SDP), dst)
        if i % 200 == 199:
            drain(s, 0.01)
    drain(s, 0.5)
    costs = []
    for r in range(rounds):
        c0 = cpu(pid)
        for i in range(1000):
            s.sendto(req("BYE", me, "z9hG4bKb%d.%d" % (r, i), cid, "fc", "bogus", 2), dst)
            if i % 100 == 99:
                drain(s, 0.002)
        drain(s, 0.2)
        costs.append(cpu(pid) - c0)
    print(" ".join("%.3f" % c for c in costs))
PYEOF

# ---- 1. amplification towards a source that never ACKs ----
amp() {	# amp BIN NAME: prints "ratio sent got datagrams"
	start_worker "$1" "$2" ""
	read -r sent got n < <(python3 "$work/sipload.py" noack "$sipport" 4.5)
	stop_worker
	echo "$(python3 -c "print('%.1f' % ($got / $sent))") $sent $got $n"
}

# ---- 2. colliding Call-IDs ----
collide() {	# collide BIN NAME NCOLL: CPU s per 1000 bogus BYEs, median of 5
	start_worker "$1" "$2" "max_calls = 100000
sip_source_rate = 1000000
answer_after = 60s"
	local costs
	costs=$(python3 "$work/sipload.py" collide "$sipport" "$worker_pid" "$3" 5)
	stop_worker
	echo "$costs" | tr ' ' '\n' | sort -n | sed -n 3p
}

read -r amp_new amp_sent amp_got amp_n < <(amp "$bin" amp-new)
amp_old="-"
if [ -n "${OLD_BIN:-}" ]; then read -r amp_old _ _ _ < <(amp "$OLD_BIN" amp-old); fi

# interleaved: none, colliding, none, colliding
c0a=$(collide "$bin" coll0a 0)
c1a=$(collide "$bin" coll1a 20000)
c0b=$(collide "$bin" coll0b 0)
c1b=$(collide "$bin" coll1b 20000)
coll_ratio=$(python3 -c "print('%.2f' % ((($c1a) + ($c1b)) / max(($c0a) + ($c0b), 0.001)))")
coll_old="-"
if [ -n "${OLD_BIN:-}" ]; then
	o0=$(collide "$OLD_BIN" ocoll0 0)
	o1=$(collide "$OLD_BIN" ocoll1 20000)
	coll_old=$(python3 -c "print('%.1f' % (($o1) / max(($o0), 0.001)))")
fi

# ---- 3. one poisoned CDR among 1000 ----
# a spool as an earlier version left it: version-1 records, record 500
# with a duration no bigint holds (PostgreSQL refuses its batch, 22003)
mkdir -p "$work/poison/state/telephony/telephony"
python3 - "$work/poison/state/telephony/telephony/cdr-0000000000000001.spool" <<'PYEOF'
import struct, sys, zlib
with open(sys.argv[1], "wb") as f:
    for i in range(1000):
        dur = "99999999999999999999" if i == 500 else "2500"
        rec = ("1\tpoison-%04d@bench\tsip:a@x\tsip:b@y\tft\ttt\t127.0.0.1:5060\t"
               "1700000000000000\t1700000000500000\t1700000002500000\t%s\t2000\t"
               "ANSWERED\t200\tNORMAL_CLEARING\trecv_bye" % (i, dur)).encode()
        f.write(b"HFS1" + struct.pack("<II", len(rec), zlib.crc32(rec)) + rec)
PYEOF
t0=$(date +%s.%N)
start_worker "$bin" poison ""
for _ in $(seq 300); do
	n=$(psql_n "SELECT count(*) FROM calls WHERE call_id LIKE 'poison-%'"); n=${n:-0}
	[ "$n" -ge 999 ] && break
	sleep 0.02
done
t1=$(date +%s.%N)
poison_s=$(python3 -c "print('%.2f' % ($t1 - $t0))")
poison_rej=$(grep -c '\[CDR_REJECTED\]' "$work/poison/worker.log")
stop_worker

# ---- 4. after a burst: nothing left, a normal call, stats = table ----
start_worker "$bin" burst "max_calls = 50"
python3 - "$sipport" <<'PYEOF'
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
me = s.getsockname()[1]
big = "a" * 9000
for i in range(2000):	# long headers, never ACKed, some with bad UTF-8
    name = big if i % 10 == 0 else ("\xff\xfe" if i % 10 == 1 else "b")
    m = ("INVITE sip:svc@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKburst%d;rport\r\n"
         "From: \"%s\" <sip:b@127.0.0.1>;tag=fb\r\nTo: <sip:svc@127.0.0.1>\r\nCall-ID: burst-%d@bench\r\n"
         "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % (me, i, name, i))
    s.sendto(m.encode("latin1"), ("127.0.0.1", port))
PYEOF
sleep 7.5	# 64*T1 = 3.2 s to give up, 3.2 s more for the tombstones
( cd "$work/burst" && sipp -sn uac "127.0.0.1:$sipport" -i 127.0.0.1 -p "$(free_port 2)" \
	-m 1 -nostdin -timeout 20s -timeout_error </dev/null >sipp.out 2>&1 )
sipp_rc=$?
sleep 1
kill -USR1 "$worker_pid"
sleep 0.5
stats=$(grep '\[SIP_STATS\]' "$work/burst/worker.log" | tail -1)
active=$(echo "$stats" | sed -n 's/.* active=\([0-9]*\).*/\1/p')
check=$(echo "$stats" | sed -n 's/.* check=\([a-zA-Z]*\).*/\1/p')
stored=$(echo "$stats" | sed -n 's/.* cdr_stored=\([0-9]*\).*/\1/p')
pending=$(echo "$stats" | sed -n 's/.* cdr_pending=\([0-9]*\).*/\1/p')
rows=$(psql_n "SELECT count(*) FROM calls WHERE call_id LIKE 'burst-%' OR call_id NOT LIKE '%@bench'")
maxrow=$(psql_n "SELECT max(octet_length(from_uri) + octet_length(coalesce(call_id,''))) FROM calls")
stop_worker

pass() { if [ "$1" = 1 ]; then echo yes; else echo NO; fi; }
ok() { python3 -c "import sys; print('yes' if $1 else 'NO')"; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| metric | goal | measured | pass |"
echo "|---|---|---|---|"
echo "| bytes to a source that never ACKs / bytes it sent | <= 4x | ${amp_new}x ($amp_got bytes in $amp_n datagrams for $amp_sent; before: ${amp_old}x) | $(ok "$amp_new <= 4") |"
echo "| CPU per bogus-To-tag BYE, 20,000 colliding Call-IDs / none | <= 2x | ${coll_ratio}x (CPU s per 1000 BYEs: none $c0a $c0b, colliding $c1a $c1b; before: ${coll_old}x) | $(ok "$coll_ratio <= 2") |"
echo "| 1 poisoned CDR among 1000: 999 others stored | <= 2 s | ${poison_s} s from worker start, rejected=$poison_rej | $(ok "$poison_s <= 2 and $poison_rej == 1") |"
echo "| after a 2000-INVITE burst + 64*T1: active calls | 0 | ${active:-?} (check=${check:-?}) | $(pass $(( ${active:-1} == 0 )) ) |"
echo "| a normal sipp call after the burst | answered | sipp rc=$sipp_rc | $(pass $((sipp_rc == 0))) |"
echo "| [SIP_STATS] cdr_stored = rows in calls | equal | ${stored:-?} (+${pending:-?} pending) vs $rows rows; longest row text ${maxrow:-?} B | $(pass $(( ${stored:--1} == ${rows:--2} && ${pending:-1} == 0 ))) |"
