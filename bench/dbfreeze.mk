# bench/dbfreeze.sh: holdfast-http while PostgreSQL freezes and thaws; its
# HTTP clients (built with the tests, and by the script on demand).
TEST_PROGS += bench/dbfreeze_load
bench_dbfreeze_load_SOURCES = bench/dbfreeze_load.c
EXTRA_DIST += bench/dbfreeze.sh
