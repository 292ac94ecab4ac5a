# workers/admin: build rules (see Makefile.am)
