#!/usr/bin/python3
"""A holdfast worker in Python: sd_notify from the standard library (a few
lines sending datagrams to $NOTIFY_SOCKET) and its own PostgreSQL health,
probed with psycopg2 (Debian: python3-psycopg2) and reported to holdfastd
with holdfast's X_HOLDFAST_DB keys, so `holdfastctl status` and
`holdfastctl health` show it like the DB column of holdfast's own workers.

    [worker:pyexample]
    command = /usr/share/doc/holdfast/examples/python-worker/holdfast_example.py
    notify = systemd
    heartbeat_timeout = 10s

The database comes from --dsn, else $HOLDFAST_EXAMPLE_DSN, else the
[database] conninfo of the holdfast.conf holdfastd names in
$HOLDFAST_CONFIG. Messages sent (man holdfastd(8), "NOTIFY PROTOCOL"):
READY=1 after the first probe; STATUS= with the last result; WATCHDOG=1
every WATCHDOG_USEC / 2; X_HOLDFAST_DB=up|down with X_HOLDFAST_DB_REASON,
X_HOLDFAST_DB_DETAIL, X_HOLDFAST_DB_OP and X_HOLDFAST_DB_ATTEMPTS after
every probe; STOPPING=1 on SIGTERM.
"""

import argparse
import configparser
import os
import signal
import socket
import sys
import time

import psycopg2


class Notifier:
    """sd_notify(3): one datagram per message; nothing without NOTIFY_SOCKET."""

    def __init__(self):
        addr = os.environ.get("NOTIFY_SOCKET", "")
        self.addr = "\0" + addr[1:] if addr.startswith("@") else addr
        self.sock = None
        if self.addr:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def send(self, **keys):
        if self.sock is None:
            return
        text = "\n".join("%s=%s" % (k, str(v).replace("\n", " ")) for k, v in keys.items())
        try:
            self.sock.sendto(text.encode("utf-8", "replace")[:4096], self.addr)
        except OSError as e:
            print("sd_notify: %s" % e, file=sys.stderr, flush=True)


def watchdog_interval():
    """Half of WATCHDOG_USEC, in seconds, when the watchdog is meant for us."""
    usec, pid = os.environ.get("WATCHDOG_USEC"), os.environ.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 2e6


def dsn_from_config(path):
    cp = configparser.ConfigParser(interpolation=None, strict=False,
                                   inline_comment_prefixes=(";", "#"))
    cp.read(path)
    return cp.get("database", "conninfo", fallback="dbname=holdfast")


def classify(err):
    """A short reason, as holdfast's own workers report them."""
    text = str(err)
    if "Connection refused" in text or "No such file or directory" in text:
        return "ConnectionRefused"
    if "closed the connection" in text or "terminating connection" in text:
        return "ConnectionLost"
    if "timeout" in text.lower():
        return "Timeout"
    if "password authentication failed" in text or "no pg_hba.conf entry" in text:
        return "AuthFailed"
    if "does not exist" in text:
        return "NoSuchDatabase"
    if "shutting down" in text or "starting up" in text:
        return "ServerStarting" if "starting" in text else "ServerShuttingDown"
    code = getattr(err, "pgcode", None)
    return code or type(err).__name__


class Probe:
    """SELECT 1 on a kept connection, reconnecting after any failure."""

    def __init__(self, dsn, timeout):
        self.dsn, self.timeout, self.conn, self.failures = dsn, timeout, None, 0

    def run(self):
        """(up, reason, detail)."""
        try:
            if self.conn is None:
                self.conn = psycopg2.connect(self.dsn, connect_timeout=self.timeout,
                                             application_name="holdfast-python-example")
                self.conn.autocommit = True
            with self.conn.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchone()
            self.failures = 0
            return True, None, None
        except psycopg2.Error as e:
            self.failures += 1
            if self.conn is not None:
                try:
                    self.conn.close()
                except psycopg2.Error:
                    pass
            self.conn = None
            detail = (str(e).strip().splitlines() or [type(e).__name__])[0]
            return False, classify(e), detail[:200]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", help="libpq connection string")
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between probes")
    ap.add_argument("--timeout", type=int, default=2, help="connect timeout, seconds")
    args = ap.parse_args()
    dsn = args.dsn or os.environ.get("HOLDFAST_EXAMPLE_DSN") or \
        dsn_from_config(os.environ.get("HOLDFAST_CONFIG", "/etc/holdfast/holdfast.conf"))

    notify = Notifier()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    probe = Probe(dsn, args.timeout)
    wd = watchdog_interval()
    next_probe = next_ping = time.monotonic()
    ready = False
    while not stopping:
        now = time.monotonic()
        if now >= next_probe:
            up, reason, detail = probe.run()
            if up:
                notify.send(X_HOLDFAST_DB="up", X_HOLDFAST_DB_OP="probe",
                            X_HOLDFAST_DB_ATTEMPTS=0, STATUS="database up")
            else:
                notify.send(X_HOLDFAST_DB="down", X_HOLDFAST_DB_REASON=reason,
                            X_HOLDFAST_DB_DETAIL=detail, X_HOLDFAST_DB_OP="probe",
                            X_HOLDFAST_DB_ATTEMPTS=probe.failures,
                            STATUS="database down: %s" % reason)
            print("db %s%s" % ("up" if up else "down", "" if up else " " + reason), flush=True)
            if not ready:
                notify.send(READY=1)
                ready = True
            next_probe = time.monotonic() + args.interval
        if wd is not None and now >= next_ping:
            notify.send(WATCHDOG=1)
            next_ping = now + wd
        wake = min(next_probe, next_ping) if wd is not None else next_probe
        time.sleep(max(0.01, min(0.5, wake - time.monotonic())))
    notify.send(STOPPING=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
