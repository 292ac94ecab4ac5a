# common/db*: the database resilience layer (libpq, non-blocking).
noinst_LIBRARIES += common/libholdfastdb.a
common_libholdfastdb_a_SOURCES = common/db.c common/db.h common/db_int.h \
	common/db_conn.c common/db_pool.c common/db_breaker.c common/db_ready.c \
	common/db_classify.c common/db_conninfo.c common/db_listen.c \
	common/db_migrate.c common/db_dns.c common/db_lookup.c
nodist_common_libholdfastdb_a_SOURCES = common/db_schema.c
HOLDFAST_DB_LIBS = common/libholdfastdb.a common/libhfcommon.a $(LIBHOLDFAST_A) \
	$(LIBPQ_LIBS) $(LIBEVENT_LIBS) $(YAJL_LIBS) $(INIH_LIBS)

# The migrations, in version order, embedded in the binaries at build time
# (a worker needs no schema files at run time). Add new files here.
db_schema_files = \
	$(srcdir)/etc/schema/0001_init.sql \
	$(srcdir)/etc/schema/0002_http_read_functions.sql \
	$(srcdir)/etc/schema/0003_wa_session.sql \
	$(srcdir)/etc/schema/0004_http_conversation_body.sql \
	$(srcdir)/etc/schema/0005_calls_cdr_id.sql \
	$(srcdir)/etc/schema/0006_http_conversation_bodies.sql \
	$(srcdir)/etc/schema/0007_conversation_api_body.sql
EXTRA_DIST += common/db_schema.sh
BUILT_SOURCES += common/db_schema.c
CLEANFILES += common/db_schema.c
common/db_schema.c: $(srcdir)/common/db_schema.sh $(srcdir)/common/db.mk $(db_schema_files)
	$(AM_V_GEN)$(MKDIR_P) common && \
	$(SHELL) $(srcdir)/common/db_schema.sh $(db_schema_files) > $@-t && \
	mv $@-t $@
