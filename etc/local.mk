# etc: build rules (see Makefile.am)
