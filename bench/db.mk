# bench/db*: the DB layer's numbers. db_bench links the test library (its
# private cluster and fault proxy), so it is built with the tests, and
# bench/db.sh builds it on demand.
TEST_PROGS += bench/db_bench
bench_db_bench_SOURCES = bench/db_bench.c
bench_db_bench_CFLAGS = $(TEST_CFLAGS)
bench_db_bench_LDADD = tests/lib/libtu.a $(HOLDFAST_DB_LIBS) $(CHECK_LIBS)
EXTRA_DIST += bench/db.sh
