# common/: the library every holdfast program links (libhfcommon: the name
# libholdfast is the public client library's, lib/local.mk).
noinst_LIBRARIES += common/libhfcommon.a
common_libhfcommon_a_SOURCES = \
	common/log.c common/log.h \
	common/util.c common/util.h \
	common/json.c common/json.h \
	common/buf.c common/buf.h \
	common/cfg.c common/cfg.h \
	common/chan.c common/chan.h common/chan_worker.c \
	common/hsrv.c common/hsrv_parse.c common/hsrv.h

# Link line for programs using common/ (order: ours first, then system libs).
# Our workers link libholdfast's own objects (the archive the shared library
# is made of), so they need no libholdfast.so at run time.
HOLDFAST_LIBS = common/libhfcommon.a $(LIBHOLDFAST_A) $(LIBEVENT_LIBS) $(YAJL_LIBS) $(INIH_LIBS)

# The start-up every worker shares (needs the DB layer of common/db.mk).
noinst_LIBRARIES += common/libhfworker.a
common_libhfworker_a_SOURCES = common/worker.c common/worker.h
# Link line for workers: worker start-up, DB layer, common, system libs.
WORKER_LIBS = common/libhfworker.a $(HOLDFAST_DB_LIBS)
