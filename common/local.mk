# common/: the library every holdfast program links.
noinst_LIBRARIES += common/libholdfast.a
common_libholdfast_a_SOURCES = \
	common/log.c common/log.h \
	common/util.c common/util.h \
	common/json.c common/json.h \
	common/buf.c common/buf.h \
	common/cfg.c common/cfg.h \
	common/chan.c common/chan.h \
	common/hsrv.c common/hsrv_parse.c common/hsrv.h

# Link line for programs using common/ (order: ours first, then system libs).
HOLDFAST_LIBS = common/libholdfast.a $(LIBEVENT_LIBS) $(YAJL_LIBS) $(INIH_LIBS)

# The start-up every worker shares (needs the DB layer of common/db.mk).
noinst_LIBRARIES += common/libhfworker.a
common_libhfworker_a_SOURCES = common/worker.c common/worker.h
# Link line for workers: worker start-up, DB layer, common, system libs.
WORKER_LIBS = common/libhfworker.a $(HOLDFAST_DB_LIBS)
