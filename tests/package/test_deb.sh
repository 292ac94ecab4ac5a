#!/usr/bin/env bash
# test_deb.sh: build the Debian package from a clean clone, install it,
# run holdfastd from the installed paths with the packaged config against
# a private PostgreSQL, check it as a member of the holdfast group, then
# purge the package and check that nothing is left behind.
#
# Debian 12, as root (CI runs it from .ci/run). Not part of `make check`:
# it installs packages and creates system users. Everything it starts is
# stopped by PID and everything it creates is removed, on failure too.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
PGBIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
T0=$(date +%s)
say() { printf '%s [%3ds] %s\n' "test_deb:" $(($(date +%s) - T0)) "$*" >&2; }
die() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (installs a package, adds users)"
if dpkg-query -W -f='${Status}' holdfast 2>/dev/null | grep -q 'ok installed'; then
	die "holdfast is already installed here; this test installs and purges it"
fi

WORK=$(mktemp -d /tmp/holdfast-deb.XXXXXX)
chmod 755 "$WORK"		# postgres and the test user enter it
HFPID= PGDATA= TESTUSER= INSTALLED= MADE_RUN=

cleanup() {
	local rc=$?
	set +e
	if [ -n "$HFPID" ] && kill -0 "$HFPID" 2>/dev/null; then
		kill -TERM "$HFPID"
		for _ in $(seq 50); do kill -0 "$HFPID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$HFPID" 2>/dev/null
		wait "$HFPID" 2>/dev/null
	fi
	if [ -n "$PGDATA" ] && [ -f "$PGDATA/postmaster.pid" ]; then
		(cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop) >/dev/null 2>&1
	fi
	[ -n "$TESTUSER" ] && userdel "$TESTUSER" 2>/dev/null
	if [ -n "$INSTALLED" ] && dpkg-query -W holdfast >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q holdfast >/dev/null 2>&1
	fi
	[ -n "$MADE_RUN" ] && rm -rf /run/holdfast
	if [ $rc -ne 0 ] && [ -f "$WORK/holdfastd.log" ]; then
		echo "== holdfastd.log (last 40 lines)"; tail -40 "$WORK/holdfastd.log"
	fi
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() {	# port_free PORT tcp|udp
	local flag=-ltn
	[ "$2" = udp ] && flag=-lun
	! ss -H "$flag" "sport = :$1" 2>/dev/null | grep -q .
}
pick_port() {	# pick_port START tcp|udp
	local p=$1
	while ! port_free "$p" "$2"; do p=$((p + 1)); done
	echo "$p"
}

# --- build ------------------------------------------------------------------
say "clone $TOP (committed HEAD) into $WORK/src"
git clone -q "$TOP" "$WORK/src"
say "build dependencies (apt-get build-dep)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q dpkg-dev debhelper dh-autoreconf lintian fakeroot \
	"postgresql-15" curl iproute2 util-linux >"$WORK/apt.log" 2>&1 ||
	{ apt-get update -q >>"$WORK/apt.log" 2>&1 &&
	  apt-get install -y -q dpkg-dev debhelper dh-autoreconf lintian fakeroot \
		postgresql-15 curl iproute2 util-linux >>"$WORK/apt.log" 2>&1; } ||
	{ tail -20 "$WORK/apt.log"; die "apt-get install"; }
(cd "$WORK/src" && apt-get build-dep -y -q ./) >>"$WORK/apt.log" 2>&1 ||
	{ tail -20 "$WORK/apt.log"; die "apt-get build-dep"; }

say "dpkg-buildpackage -us -uc -b"
(cd "$WORK/src" && dpkg-buildpackage -us -uc -b -j"$(nproc)") >"$WORK/build.log" 2>&1 ||
	{ tail -40 "$WORK/build.log"; die "dpkg-buildpackage"; }
grep -E '^# of (tests|pass|fail|error)|^(PASS|FAIL|ERROR):' "$WORK/build.log" | sed 's/^/  /' >&2 || true
DEB=$(ls "$WORK"/holdfast_*.deb | grep -v dbgsym)

say "lintian $(basename "$DEB")"
# TMPDIR: lintian leaves two mldbm-elf-* files behind in it per run.
TMPDIR=$WORK lintian --info --tag-display-limit 0 "$WORK"/holdfast_*.changes >"$WORK/lintian.log" 2>&1 || true
grep -v "running with root privileges" "$WORK/lintian.log" | sed 's/^/  /' >&2 || true
grep -q '^E: ' "$WORK/lintian.log" && die "lintian reports errors"

# --- what the package ships = what `make install` installs -----------------
# Besides make install's files the package adds only the Debian parts:
# the conffile, the unit, changelog/copyright and the docs dh_installdocs
# copies (and the examples dh_installexamples copies). Man pages are
# compressed by dh_compress.
say "package contents against make install DESTDIR="
make -s -C "$WORK/src" install DESTDIR="$WORK/destdir" >/dev/null
(cd "$WORK/destdir" && find . ! -type d | sed 's|^\.||; s|\(/man/.*\)$|\1.gz|' | sort) >"$WORK/make-install.list"
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\.||' | sort >"$WORK/deb.list"
grep -v -x -E '/etc/holdfast/holdfast\.conf|/(usr/)?lib/systemd/system/holdfast\.service|/usr/share/doc/holdfast/(changelog\.gz|copyright|README\.md|deployment\.md\.gz|design\.md\.gz|README\.md\.gz|deployment\.md|design\.md|protocol\.md\.gz|protocol\.md|alerts\.yml(\.gz)?|grafana-dashboard\.json(\.gz)?|examples/.*)' \
	"$WORK/deb.list" >"$WORK/deb-upstream.list"
diff -u "$WORK/make-install.list" "$WORK/deb-upstream.list" >&2 ||
	die "the package and make install differ"
say "  $(wc -l <"$WORK/deb.list") files, $(wc -l <"$WORK/make-install.list") from make install"

# --- install ----------------------------------------------------------------
say "apt-get install $(basename "$DEB")"
INSTALLED=1
apt-get install -y -q "$DEB" >"$WORK/install.log" 2>&1 ||
	{ tail -20 "$WORK/install.log"; die "apt-get install"; }
for f in /usr/sbin/holdfastd /usr/bin/holdfastctl /usr/bin/holdfast-admin \
	 /usr/libexec/holdfast/holdfast-http /usr/libexec/holdfast/holdfast-whatsapp \
	 /usr/libexec/holdfast/holdfast-telephony; do
	[ -x "$f" ] || die "$f missing"
done
for f in /etc/holdfast/holdfast.conf /usr/share/man/man8/holdfastd.8.gz \
	 /usr/share/man/man1/holdfastctl.1.gz /usr/share/man/man5/holdfast.conf.5.gz; do
	[ -f "$f" ] || die "$f missing"
done
UNIT=$(dpkg -L holdfast | grep '/systemd/system/holdfast\.service$') || die "no unit"
[ -L /etc/systemd/system/multi-user.target.wants/holdfast.service ] ||
	die "the unit is not enabled"
dpkg-query -W -f='${Conffiles}\n' holdfast | grep -q ' /etc/holdfast/holdfast.conf ' ||
	die "/etc/holdfast/holdfast.conf is not a conffile"
getent passwd holdfast >/dev/null || die "no holdfast user"
getent group holdfast >/dev/null || die "no holdfast group"
[ "$(stat -c %U:%G:%a /var/lib/holdfast)" = holdfast:holdfast:750 ] ||
	die "/var/lib/holdfast is $(stat -c %U:%G:%a /var/lib/holdfast)"
[ "$(stat -c %U:%G:%a /etc/holdfast/holdfast.conf)" = root:holdfast:640 ] ||
	die "holdfast.conf is $(stat -c %U:%G:%a /etc/holdfast/holdfast.conf)"
/usr/sbin/holdfastd -t -c /etc/holdfast/holdfast.conf >/dev/null 2>&1 ||
	die "the packaged config does not load"
say "  installed: binaries, workers in /usr/libexec/holdfast, $UNIT enabled, user and group"
# libholdfast from the package, as a worker author uses it.
pkg-config --exists holdfast || die "pkg-config does not find holdfast.pc"
cc -o "$WORK/holdfast-example-c" "$WORK"/src/examples/c-worker/*.c \
	$(pkg-config --cflags --libs holdfast libpq) ||
	die "examples/c-worker does not build against the installed libholdfast"
"$WORK/holdfast-example-c" </dev/null >/dev/null 2>&1 &
EXPID=$!
sleep 1
kill -TERM "$EXPID"; wait "$EXPID" || die "the example built against the package failed to run"
say "  libholdfast: pkg-config holdfast $(pkg-config --modversion holdfast), examples/c-worker built and run"

# --- a private PostgreSQL ---------------------------------------------------
PGPORT=$(pick_port 56432 tcp)
say "PostgreSQL on 127.0.0.1:$PGPORT"
mkdir -p "$WORK/pg"
chown postgres: "$WORK/pg"
PGDATA=$WORK/pg/data
(cd / && runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust --no-sync) >/dev/null
(cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/pg/log" -w \
	-o "-p $PGPORT -k $WORK/pg -c listen_addresses=127.0.0.1" start) >/dev/null
PSQL=("$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres)
"${PSQL[@]}" -c "CREATE ROLE holdfast LOGIN" -c "CREATE DATABASE holdfast OWNER holdfast"

# --- holdfastd from the installed paths, the packaged config ----------------
# Only the conninfo's port and the listen ports change; control_socket
# (/run/holdfast, which systemd's RuntimeDirectory= would make), state_dir,
# socket_group and the workers' user stay as packaged.
HTTP_PORT=$(pick_port 18080 tcp)
SIP_PORT=$(pick_port 15060 udp)
mkdir -p "$WORK/etc"
sed -e "s/^\(conninfo *= .*\)port=5432/\1port=$PGPORT/" \
    -e "s/^\(listen *= \)127\.0\.0\.1:8080/\1127.0.0.1:$HTTP_PORT/" \
    -e "s/^\(listen *= \)udp:127\.0\.0\.1:5060/\1udp:127.0.0.1:$SIP_PORT/" \
    /etc/holdfast/holdfast.conf >"$WORK/etc/holdfast.conf"
grep -q "port=$PGPORT" "$WORK/etc/holdfast.conf" || die "conninfo not rewritten"
chown root:holdfast "$WORK/etc/holdfast.conf"
chmod 0640 "$WORK/etc/holdfast.conf"
if [ ! -d /run/holdfast ]; then mkdir -m 0755 /run/holdfast; MADE_RUN=1; fi

say "holdfastd -f -c $WORK/etc/holdfast.conf (HTTP $HTTP_PORT, SIP $SIP_PORT)"
/usr/sbin/holdfastd -f -c "$WORK/etc/holdfast.conf" >"$WORK/holdfastd.log" 2>&1 &
HFPID=$!

TESTUSER=hfdebtest$$
useradd --system --no-create-home --shell /usr/sbin/nologin -G holdfast "$TESTUSER"
CTL=(runuser -u "$TESTUSER" -- /usr/bin/holdfastctl -c "$WORK/etc/holdfast.conf")
ok=
for _ in $(seq 120); do
	kill -0 "$HFPID" 2>/dev/null || die "holdfastd exited"
	if "${CTL[@]}" status >/dev/null 2>&1 && "${CTL[@]}" health >/dev/null 2>&1; then
		ok=1; break
	fi
	sleep 0.5
done
"${CTL[@]}" status >&2 || true
[ -n "$ok" ] || die "workers not all RUNNING with the DB up within 60 s (as $TESTUSER)"
n=$("${CTL[@]}" status | grep -c ' RUNNING ') || true
[ "$n" -eq 4 ] || die "$n processes RUNNING, expected 4 (http:0, http:1, whatsapp, telephony)"
"${CTL[@]}" --json status | grep -q '"down"' && die "a worker reports its DB down"
curl -sf "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null || die "/readyz on $HTTP_PORT"
users=$(ps -o user= --ppid "$HFPID" | sort -u | tr '\n' ' ')
[ "$users" = "holdfast " ] || die "workers run as: $users"
if runuser -u nobody -- /usr/bin/holdfastctl -s /run/holdfast/holdfast.sock status >/dev/null 2>&1; then
	die "holdfastctl let in a user outside the holdfast group"
fi
say "  4 workers RUNNING as holdfast, DB up, /readyz 200; holdfastctl: group member in, nobody out"

say "stop holdfastd (SIGTERM to $HFPID)"
kill -TERM "$HFPID"
rc=0; wait "$HFPID" || rc=$?
HFPID=
[ "$rc" -eq 0 ] || die "holdfastd exited $rc on SIGTERM"
(cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop) >/dev/null
PGDATA=
userdel "$TESTUSER"; TESTUSER=
[ -n "$MADE_RUN" ] && rm -rf /run/holdfast && MADE_RUN=

# --- purge ------------------------------------------------------------------
say "apt-get purge holdfast"
dpkg -L holdfast >"$WORK/dpkg-L.list"
apt-get purge -y -q holdfast >"$WORK/purge.log" 2>&1 ||
	{ tail -20 "$WORK/purge.log"; die "apt-get purge"; }
INSTALLED=
left=
while read -r f; do
	[ -d "$f" ] && continue	# directories (some shared, /lib a symlink) stay
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done <"$WORK/dpkg-L.list"
for d in /etc/holdfast /var/lib/holdfast /var/log/holdfast /usr/libexec/holdfast \
	 /usr/share/doc/holdfast /etc/systemd/system/multi-user.target.wants/holdfast.service; do
	[ -e "$d" ] || [ -L "$d" ] && left="$left $d"
done
[ -z "$left" ] || die "left after purge:$left"
getent passwd holdfast >/dev/null && die "the holdfast user is left after purge"
getent group holdfast >/dev/null && die "the holdfast group is left after purge"
say "ok: built, installed, ran, purged clean ($(($(date +%s) - T0)) s)"
