#!/usr/bin/python3
"""promcheck: parses a Prometheus text exposition (stdin) with the
reference Python client's parser and prints one line per sample as
"name{label=value,...} value" (labels sorted), so a C test can compare
values. Exit 77 when the parser is not installed, 1 when the text does
not parse, or breaks a convention the parser lets through: a counter
whose sample name lacks _total, a family without HELP."""
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("python3-prometheus-client is not installed", file=sys.stderr)
    sys.exit(77)

text = sys.stdin.read()
helps = {l.split()[2] for l in text.splitlines() if l.startswith("# HELP ")}
try:
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if fam.type == "counter" and not s.name.endswith("_total"):
                sys.exit("counter sample without _total: " + s.name)
            base = s.name[:-6] if fam.type == "counter" else s.name
            if s.name not in helps and base + "_total" not in helps:
                sys.exit("no HELP for " + s.name)
            labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
            print("%s{%s} %r" % (s.name, labels, s.value))
except ValueError as e:
    sys.exit("does not parse: %s" % e)
