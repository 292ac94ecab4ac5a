# lib/: libholdfast, the public client library for programs run by
# holdfastd (header holdfast/worker.h, libholdfast.so.N, holdfast.pc;
# holdfast-worker(3), docs/protocol.md).
#
# The tree is Linux/ELF only, so the shared library is built by the
# explicit rules below (-shared, -Wl,-soname) rather than libtool: LT_INIT
# would route every program's link through libtool and turn in-tree
# programs into wrapper scripts, for one library with one platform.
# The objects are compiled once, position-independent, into
# lib/libholdfast_pic.a: the shared library is that archive, whole, and
# our own workers link the same archive (common/chan_worker.c drives it
# from libevent), so there is a single copy of the client code.
noinst_LIBRARIES += lib/libholdfast_pic.a
lib_libholdfast_pic_a_SOURCES = lib/hf_worker.c lib/hf_listen.c \
	lib/hf_json.c lib/hf_json.h
lib_libholdfast_pic_a_CPPFLAGS = -include $(top_builddir)/config.h -I$(top_srcdir)/lib
lib_libholdfast_pic_a_CFLAGS = -std=gnu11 $(WARN_CFLAGS) $(SAN_CFLAGS) \
	-fPIC -fvisibility=hidden
LIBHOLDFAST_A = lib/libholdfast_pic.a

holdfastincludedir = $(includedir)/holdfast
holdfastinclude_HEADERS = lib/holdfast/worker.h
pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = lib/holdfast.pc
EXTRA_DIST += lib/holdfast.pc.in

# libholdfast.so.X.Y.Z, soname libholdfast.so.X: X changes when the ABI
# breaks (configure.ac sets both).
LIBHOLDFAST_SONAME = libholdfast.so.$(LIBHOLDFAST_SOVERSION)
LIBHOLDFAST_REAL = libholdfast.so.$(LIBHOLDFAST_VERSION)
all-local: lib/$(LIBHOLDFAST_REAL)
lib/$(LIBHOLDFAST_REAL): lib/libholdfast_pic.a
	$(AM_V_CCLD)$(CC) -shared -Wl,-soname,$(LIBHOLDFAST_SONAME) \
		$(CFLAGS) $(AM_LDFLAGS) $(LDFLAGS) -o $@ \
		-Wl,--whole-archive lib/libholdfast_pic.a -Wl,--no-whole-archive && \
	ln -sf $(LIBHOLDFAST_REAL) lib/$(LIBHOLDFAST_SONAME) && \
	ln -sf $(LIBHOLDFAST_REAL) lib/libholdfast.so
CLEANFILES += lib/libholdfast.so lib/libholdfast.so.*

install-exec-local:
	$(MKDIR_P) '$(DESTDIR)$(libdir)'
	$(INSTALL_DATA) lib/$(LIBHOLDFAST_REAL) '$(DESTDIR)$(libdir)/$(LIBHOLDFAST_REAL)'
	cd '$(DESTDIR)$(libdir)' && \
	ln -sf $(LIBHOLDFAST_REAL) $(LIBHOLDFAST_SONAME) && \
	ln -sf $(LIBHOLDFAST_SONAME) libholdfast.so
uninstall-local:
	rm -f '$(DESTDIR)$(libdir)/$(LIBHOLDFAST_REAL)' \
	      '$(DESTDIR)$(libdir)/$(LIBHOLDFAST_SONAME)' \
	      '$(DESTDIR)$(libdir)/libholdfast.so'
