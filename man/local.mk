# man: build rules (see Makefile.am)
dist_man_MANS += man/holdfast.conf.5
