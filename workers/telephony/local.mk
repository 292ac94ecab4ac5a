# workers/telephony: build rules (see Makefile.am)
