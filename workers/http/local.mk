# workers/http: build rules (see Makefile.am)
