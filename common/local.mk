# common/: the library every holdfast program links.
noinst_LIBRARIES += common/libholdfast.a
common_libholdfast_a_SOURCES = \
	common/log.c common/log.h \
	common/util.c common/util.h \
	common/json.c common/json.h \
	common/cfg.c common/cfg.h \
	common/chan.c common/chan.h

# Link line for programs using common/ (order: ours first, then system libs).
HOLDFAST_LIBS = common/libholdfast.a $(LIBEVENT_LIBS) $(YAJL_LIBS) $(INIH_LIBS)
