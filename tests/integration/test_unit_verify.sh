#!/bin/sh
# test_unit_verify: the shipped systemd unit, etc/holdfast.service, is
# accepted by `systemd-analyze verify` with nothing to say (an unknown or
# misspelt key is only a warning there, so any output fails), and its
# `systemd-analyze security --offline=yes` exposure stays at 4.0 or below
# (the hardening of docs/deployment.md). ExecStart is pointed at the
# holdfastd just built, since verify checks that the binary exists; man
# pages are not looked up (not installed here).
# Exit 77 (skipped) without systemd-analyze, 0 when both hold, 1 otherwise.
set -u
src=${HOLDFAST_SRCDIR:-${srcdir:-.}}
build=${HOLDFAST_BUILDDIR:-$(pwd)}
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: no systemd-analyze on this machine" >&2
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-unit-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/sbin/holdfastd|$build/supervisor/holdfastd|g" "$src/etc/holdfast.service" \
    > "$tmp/holdfast.service"
out=$(systemd-analyze verify --man=no "$tmp/holdfast.service" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	echo "systemd-analyze verify etc/holdfast.service: exit $rc" >&2
	echo "$out" >&2
	exit 1
fi
score=$(systemd-analyze security --offline=yes "$src/etc/holdfast.service" 2>&1 |
    sed -n 's/.*Overall exposure level for holdfast.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security: exposure $score"
if ! systemd-analyze security --offline=yes --threshold=40 "$src/etc/holdfast.service" \
    >/dev/null 2>&1; then
	echo "exposure $score is above 4.0" >&2
	exit 1
fi
exit 0
