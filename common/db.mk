# common: build rules (see Makefile.am)
