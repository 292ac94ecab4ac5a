# common/db*: the database resilience layer (libpq, non-blocking).
noinst_LIBRARIES += common/libholdfastdb.a
common_libholdfastdb_a_SOURCES = common/db.c common/db.h
HOLDFAST_DB_LIBS = common/libholdfastdb.a common/libholdfast.a \
	$(LIBPQ_LIBS) $(LIBEVENT_LIBS) $(YAJL_LIBS) $(INIH_LIBS)
