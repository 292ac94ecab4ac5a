# man: build rules (see Makefile.am)
