# workers/admin: holdfast-admin, the operator's tool for the database side.
bin_PROGRAMS += workers/admin/holdfast-admin
workers_admin_holdfast_admin_SOURCES = workers/admin/admin.c
workers_admin_holdfast_admin_LDADD = $(HOLDFAST_DB_LIBS) $(LIBCRYPT_LIBS)
