#!/usr/bin/env bash
# bench/hostile_http.sh: holdfast-http's edge under hostile clients, this
# build beside an older one (main by default), on loopback, no database:
#
# - 40 clients each holding a 4 MiB webhook POST (all but its last byte)
#   with max_connections = 32: the worker's RSS growth, and how many were
#   refused at accept (goal: growth <= 40 MB);
# - a header trickled at 1 byte/s with request_timeout = 5s: seconds until
#   the worker answers (goal: 408 within the deadline + 1 s; the run gives
#   up at 15 s);
# - the worker under `ulimit -n 64` with 120 connections held for 10 s:
#   its CPU use and its log lines per minute (goal: CPU < 5 %, < 100
#   lines a minute).
#
# The two builds alternate, ROUNDS times (default 1). Prints a markdown
# table with the load average; exits 0 even when a goal is missed.
#
#   HTTP_OLD_BUILDDIR=DIR   the old build (else main is built in a temp dir)
#   HTTP_OLD_REF=REF        what to build when there is none (default main)
#   ROUNDS=N
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${HOLDFAST_SRCDIR:-$(cd "$here/.." && pwd)}
build=${HOLDFAST_BUILDDIR:-$src}
rounds=${ROUNDS:-1}
tmp=$(mktemp -d /tmp/hf-bench-hostile.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

old=${HTTP_OLD_BUILDDIR:-}
if [ -z "$old" ]; then
	old=$tmp/old
	mkdir -p "$old"
	git -C "$src" archive "${HTTP_OLD_REF:-main}" | tar -x -C "$old"
	(cd "$old" && ./autogen.sh && ./configure && nice make -j2 workers/http/holdfast-http) \
		>"$tmp/old-build.log" 2>&1 || { echo "old build failed: $tmp/old-build.log"; exit 1; }
fi

cat > "$tmp/hostile.py" <<'EOF'
import os, socket, subprocess, sys, time

prog, kind, tmp = sys.argv[1], sys.argv[2], sys.argv[3]

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    return p

def start(extra, nofile=0):
    port = free_port()
    conf = os.path.join(tmp, "h.conf")
    with open(conf, "w") as f:
        f.write("[holdfast]\nlog_level = info\n[database]\n"
                "conninfo = host=127.0.0.1 port=1 dbname=x user=x\n"
                "connect_timeout = 1s\nbackoff_initial = 1s\nbackoff_max = 10s\n"
                "[worker:http]\ncommand = holdfast-http\nlisten = 127.0.0.1:%d\n%s"
                % (port, extra))
    log = open(os.path.join(tmp, "h.log"), "wb")
    cmd = "exec %s -c %s" % (prog, conf)
    if nofile:
        cmd = "ulimit -n %d && %s" % (nofile, cmd)
    p = subprocess.Popen(["/bin/sh", "-c", cmd], stdout=log, stderr=log)
    for _ in range(200):
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=1)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if c.recv(100).startswith(b"HTTP/1.1 200"):
                c.close(); break
            c.close()
        except OSError:
            pass
        time.sleep(0.05)
    return p, port

def stop(p):
    p.terminate()
    try: p.wait(5)
    except subprocess.TimeoutExpired: p.kill(); p.wait()

def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

def ticks(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])

def holders():
    p, port = start("max_connections = 32\n")
    r0 = rss_kib(p.pid)
    head = (b"POST /webhooks/whatsapp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 4194304\r\n\r\n")
    socks = []
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", port)); s.sendall(head); socks.append(s)
    time.sleep(0.5)
    refused = 0
    for s in socks:
        s.setblocking(False)
        try:
            if b"Too many connections" in s.recv(4096): refused += 1
        except OSError:
            pass
    chunk, sent = b"x" * 65536, [0] * 40
    alive = set(range(40)); end = time.time() + 10
    while alive and time.time() < end:
        for i in list(alive):
            want = 4 * 1024 * 1024 - 1 - sent[i]
            if want == 0: alive.discard(i); continue
            try: sent[i] += socks[i].send(chunk[:min(want, 65536)])
            except BlockingIOError: pass
            except OSError: alive.discard(i)
        time.sleep(0.001)
    # What is still in the kernel's socket buffers reaches the worker
    # later: measure once its RSS stops moving (10 s at most).
    r1, prev = rss_kib(p.pid), -1
    for _ in range(20):
        if r1 == prev: break
        time.sleep(0.5); prev, r1 = r1, rss_kib(p.pid)
    for s in socks: s.close()
    stop(p)
    print("holders %d %d %d" % ((r1 - r0) // 1024, refused, sum(1 for x in sent if x >= 4 * 1024 * 1024 - 1)))

def slowloris():
    import select
    p, port = start("request_timeout = 5s\n")
    s = socket.create_connection(("127.0.0.1", port))
    req, t0, answer = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100, time.time(), b""
    for i in range(15):
        try: s.send(req[i:i + 1])
        except OSError: break
        if select.select([s], [], [], 1.0)[0]:
            try: answer = s.recv(4096)
            except OSError: pass
            break
    took = time.time() - t0
    status = answer.split(b" ")[1].decode() if answer.startswith(b"HTTP/") else ("closed" if took < 15 else "none")
    s.close(); stop(p)
    print("slowloris %.2f %s" % (took, status))

def fdlimit():
    p, port = start("", nofile=64)
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(120)]
    time.sleep(1)
    lines0 = open(os.path.join(tmp, "h.log"), "rb").read().count(b"\n")
    t0, w0 = ticks(p.pid), time.time()
    time.sleep(10)
    t1, w1 = ticks(p.pid), time.time()
    lines1 = open(os.path.join(tmp, "h.log"), "rb").read().count(b"\n")
    for s in socks: s.close()
    ok = 0
    for _ in range(100):
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=1)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            ok = c.recv(100).startswith(b"HTTP/1.1 200"); c.close()
            if ok: break
        except OSError:
            pass
        time.sleep(0.1)
    stop(p)
    hz = os.sysconf("SC_CLK_TCK")
    print("fdlimit %.1f %.0f %s" % (100.0 * (t1 - t0) / hz / (w1 - w0),
          (lines1 - lines0) * 60 / (w1 - w0), "yes" if ok else "no"))

{"holders": holders, "slowloris": slowloris, "fdlimit": fdlimit}[kind]()
EOF

run() {	# run BUILD KIND
	mkdir -p "$tmp/run"
	nice python3 "$tmp/hostile.py" "$1/workers/http/holdfast-http" "$2" "$tmp/run"
}

declare -A res
for r in $(seq "$rounds"); do
	for kind in holders slowloris fdlimit; do
		for b in new old; do
			dir=$build; [ $b = old ] && dir=$old
			res[$b.$kind]+="$(run "$dir" $kind | cut -d' ' -f2-);"
		done
	done
done
load=$(cut -d' ' -f1-3 /proc/loadavg)

last() { echo "${res[$1]}" | tr ';' '\n' | grep -v '^$' | tail -1; }
echo "## hostile HTTP (bench/hostile_http.sh, $rounds round(s), old = ${HTTP_OLD_BUILDDIR:-${HTTP_OLD_REF:-main}})"
echo
echo "Load average after the runs: $load"
echo
echo "| measure | old (evhttp) | new (hsrv) | goal |"
echo "|---|---|---|---|"
read -r o_mb o_ref o_full <<< "$(last old.holders)"
read -r n_mb n_ref n_full <<< "$(last new.holders)"
echo "| 40 x 4 MiB POST holders, max_connections 32: RSS growth | ${o_mb} MB | ${n_mb} MB | <= 40 MB |"
echo "| same: refused at accept / clients whose whole body was sent (kernel or worker took it) | ${o_ref} / ${o_full} | ${n_ref} / ${n_full} | 8 refused |"
read -r o_s o_st <<< "$(last old.slowloris)"
read -r n_s n_st <<< "$(last new.slowloris)"
echo "| 1 byte/s header, request_timeout 5s: answer after | ${o_s} s (${o_st}) | ${n_s} s (${n_st}) | 408 within 6 s |"
read -r o_cpu o_lines o_ok <<< "$(last old.fdlimit)"
read -r n_cpu n_lines n_ok <<< "$(last new.fdlimit)"
echo "| ulimit -n 64, 120 connections held 10 s: CPU | ${o_cpu} % | ${n_cpu} % | < 5 % |"
echo "| same: log lines per minute | ${o_lines} | ${n_lines} | < 100 |"
echo "| same: /healthz 200 once the clients are gone | ${o_ok} | ${n_ok} | yes |"
