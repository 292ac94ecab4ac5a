#!/bin/sh
# Guards the migrations: every etc/schema/NNNN_name.sql is embedded in the
# binaries (listed in common/db.mk) and no two files share a version, so
# tests (which apply the directory) and production (which applies the
# embedded list) run the same schema.
src=${HOLDFAST_SRCDIR:-.}
rc=0
for f in "$src"/etc/schema/*.sql; do
	b=$(basename "$f")
	grep -q "etc/schema/$b" "$src/common/db.mk" ||
		{ echo "FAIL: $b is not listed in common/db.mk db_schema_files"; rc=1; }
done
dups=$(ls "$src"/etc/schema/*.sql | xargs -n1 basename | sed 's/_.*//' | sort | uniq -d)
[ -z "$dups" ] || { echo "FAIL: migration versions used twice: $dups"; rc=1; }
n=$(ls "$src"/etc/schema/*.sql | wc -l)
[ $rc -eq 0 ] && echo "ok: $n migrations, all embedded, versions unique"
exit $rc
