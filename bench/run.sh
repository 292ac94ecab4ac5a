#!/usr/bin/env bash
# bench/run.sh: runs every bench/*.sh (BENCH_SHORT=1 for the short mode) and
# collects their tables into bench/RESULTS.md. Each script prints a markdown
# table of goal / measured / pass and exits 0 even when a goal is missed
# (a benchmark reports; it does not gate).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${BENCH_RESULTS:-$here/RESULTS.md}
{
	echo "# holdfast benchmark results"
	echo
	echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%F); mode: $([ -n "${BENCH_SHORT:-}" ] && echo short || echo full)"
	echo
} > "$out.tmp"
for b in "$here"/*.sh; do
	[ "$(basename "$b")" = run.sh ] && continue
	name=$(basename "$b" .sh)
	echo "== bench/$name" >&2
	{
		echo "## $name"
		echo
		echo "Reproduce: \`BENCH_SHORT=${BENCH_SHORT:-} bench/$name.sh\`"
		echo
		if ! bash "$b"; then echo; echo "(bench/$name.sh failed; see its output)"; fi
		echo
	} | tee -a "$out.tmp"
done
mv "$out.tmp" "$out"
echo "results: $out" >&2
