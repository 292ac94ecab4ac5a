# workers/whatsapp: build rules (see Makefile.am)
