#!/usr/bin/env bash
# test_libholdfast.sh: libholdfast as a worker author outside the tree
# meets it. `make install DESTDIR=` into a temp dir; the installed
# library has its soname and symlinks, the header and holdfast.pc are
# there; examples/c-worker/*.c is compiled with nothing but
# `pkg-config --cflags --libs holdfast libpq` against that copy; and the
# binary, run by the installed holdfastd, says ready and reports its
# database (unreachable here: port 1) down with a reason in
# `holdfastctl status` and `holdfastctl health`.
#
# Part of `make check` (needs cc, pkg-config, libpq's .pc; no server).
# Everything it starts is stopped by PID; the temp dir goes, on failure too.
set -euo pipefail

SRC=${HOLDFAST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${HOLDFAST_BUILDDIR:-$SRC}
say() { printf 'test_libholdfast: %s\n' "$*" >&2; }
die() { say "FAIL: $*"; exit 1; }

WORK=$(mktemp -d /tmp/holdfast-libhf.XXXXXX)
HFPID=
cleanup() {
	local rc=$?
	set +e
	if [ -n "$HFPID" ] && kill -0 "$HFPID" 2>/dev/null; then
		kill -TERM "$HFPID"
		for _ in $(seq 50); do kill -0 "$HFPID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$HFPID" 2>/dev/null
		wait "$HFPID" 2>/dev/null
	fi
	if [ $rc -ne 0 ] && [ -f "$WORK/holdfastd.log" ]; then
		echo "== holdfastd.log (last 30 lines)"; tail -30 "$WORK/holdfastd.log"
	fi
	[ -n "${TU_KEEP:-}" ] && [ $rc -ne 0 ] && { say "kept $WORK"; exit $rc; }
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- install -----------------------------------------------------------------
DEST=$WORK/root
make -s -C "$BUILD" install DESTDIR="$DEST" >"$WORK/install.log" 2>&1 ||
	{ tail -20 "$WORK/install.log"; die "make install DESTDIR=$DEST"; }
PC=$(find "$DEST" -name holdfast.pc -path '*/pkgconfig/*')
[ -n "$PC" ] || die "no holdfast.pc installed"
LIBDIR=$(dirname "$(dirname "$PC")")
REAL=$(cd "$LIBDIR" && ls libholdfast.so.*.*.* 2>/dev/null) || die "no libholdfast.so.X.Y.Z in $LIBDIR"
SONAME=$(readelf -d "$LIBDIR/$REAL" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
case $SONAME in libholdfast.so.[0-9]*) ;; *) die "soname of $REAL: '$SONAME'";; esac
[ "$(readlink "$LIBDIR/$SONAME")" = "$REAL" ] || die "$SONAME does not point to $REAL"
[ "$(readlink -f "$LIBDIR/libholdfast.so")" = "$(readlink -f "$LIBDIR/$REAL")" ] ||
	die "libholdfast.so (the link-time name) does not lead to $REAL"
HDR=$(find "$DEST" -path '*/include/holdfast/worker.h')
[ -n "$HDR" ] || die "holdfast/worker.h not installed"
# Only the API is exported.
bad=$(nm -D --defined-only "$LIBDIR/$REAL" | awk '$2 ~ /^[TDB]$/ && $3 !~ /^holdfast_/ {print $3}')
[ -z "$bad" ] || die "exported beyond holdfast_*: $bad"
say "installed: $REAL (soname $SONAME), $(basename "$PC"), include/holdfast/worker.h"

# --- build the example outside the tree -------------------------------------
# The .pc says the configured prefix; installed under DESTDIR, the same
# prefix is found below $DEST (what a relocated install looks like).
export PKG_CONFIG_PATH=$(dirname "$PC")
ver=$(pkg-config --modversion holdfast) || die "pkg-config does not find holdfast"
prefix=$(pkg-config --variable=prefix holdfast)
flags=$(pkg-config --define-variable=prefix="$DEST$prefix" --cflags --libs holdfast) ||
	die "pkg-config --cflags --libs holdfast"
case $flags in *"-I$DEST"*"-L$DEST"*"-lholdfast"*|*"-L$DEST"*"-I$DEST"*"-lholdfast"*) ;;
	*) die "pkg-config flags do not point into the install: $flags";; esac
flags="$flags $(pkg-config --cflags --libs libpq)" || die "pkg-config libpq"
# A sanitizer build's library needs its runtime in the program too.
san=
readelf -d "$LIBDIR/$REAL" | grep -q 'libasan' && san="-fsanitize=address,undefined"
mkdir "$WORK/ext"
cp "$SRC"/examples/c-worker/*.c "$WORK/ext/"
(cd "$WORK/ext" && ${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror \
	$san -o holdfast-example-c *.c $flags) >"$WORK/cc.log" 2>&1 ||
	{ cat "$WORK/cc.log"; die "the example does not build against the installed library"; }
readelf -d "$WORK/ext/holdfast-example-c" | grep -q "NEEDED.*\[$SONAME\]" ||
	die "the example does not link $SONAME"
say "built examples/c-worker/*.c with pkg-config holdfast $ver: $flags"

# --- run it under the installed holdfastd ------------------------------------
HFD=$(find "$DEST" -path '*/sbin/holdfastd')
CTL=$(find "$DEST" -path '*/bin/holdfastctl')
[ -x "$HFD" ] && [ -x "$CTL" ] || die "holdfastd/holdfastctl not installed"
cat >"$WORK/holdfast.conf" <<CONF
[holdfast]
control_socket = $WORK/hf.sock
shutdown_timeout = 5s

[worker:ext]
command = $WORK/ext/holdfast-example-c
startsecs = 1h
heartbeat_timeout = 3s
environment = LD_LIBRARY_PATH=$LIBDIR, EXAMPLE_PROBE_MS=100, EXAMPLE_CONNINFO="host=127.0.0.1 port=1 dbname=none user=none connect_timeout=1"
CONF
"$HFD" -f -c "$WORK/holdfast.conf" >"$WORK/holdfastd.log" 2>&1 &
HFPID=$!
ctl() { "$CTL" -s "$WORK/hf.sock" "$@"; }
ok=
for _ in $(seq 100); do
	kill -0 "$HFPID" 2>/dev/null || die "holdfastd exited"
	if ctl status 2>/dev/null | grep -Eq '^ext +RUNNING .* down .*ConnectionRefused'; then
		ok=1; break
	fi
	sleep 0.1
done
ctl status >&2 || true
[ -n "$ok" ] || die "ext not RUNNING with its DB down (ConnectionRefused) within 10 s"
rc=0; ctl health >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 3 ] || die "holdfastctl health exited $rc with the DB down, expected 3"
ctl --json status | grep -q '"status_text":"probes=[0-9]* db=down' ||
	die "no status text in status --json"
grep -q '\[WORKER_READY\] name=ext ' "$WORK/holdfastd.log" || die "no [WORKER_READY] for ext"
kill -TERM "$HFPID"
rc=0; wait "$HFPID" || rc=$?
HFPID=
[ "$rc" -eq 0 ] || die "holdfastd exited $rc on SIGTERM"
grep -q 'EXAMPLE_STOP' "$WORK/holdfastd.log" || die "the example did not stop cleanly"
say "ok: ready, DB down (ConnectionRefused) in status and health, status text, clean stop"
