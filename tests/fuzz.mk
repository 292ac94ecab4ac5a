# tests/fuzz: libFuzzer targets for every parser that reads outside input,
# and their corpus replay in `make check`.
#
# Each tests/fuzz/fuzz_NAME.c defines LLVMFuzzerTestOneInput() over the real
# parser. It is linked two ways:
#  - tests/fuzz/replay_NAME (TEST_PROGS, TESTS): with replay.c and the
#    normal compiler; replays tests/fuzz/corpus/NAME/ (ASan/UBSan under
#    --enable-sanitizers). Plain `make` and `make check` never need clang.
#  - tests/fuzz/bin/fuzz_NAME (`make fuzz`): with clang's libFuzzer, ASan and
#    UBSan, the parser's sources compiled in.
#
#   make fuzz [FUZZ_SECONDS=600] [FUZZ_TARGETS="sip json"]
#       runs each target for FUZZ_SECONDS from its corpus; new inputs go to
#       tests/fuzz/work/NAME/, crashes to tests/fuzz/crashes/NAME/, the log to
#       tests/fuzz/work/NAME.log; fails when any target crashed.
#   make fuzz-merge
#       adds to the committed corpus tests/fuzz/corpus/NAME/ the inputs of
#       work/NAME/ that bring new coverage (-merge=1). A crash is committed
#       by hand, as corpus/NAME/crash-WHAT, with the fix.
#   make clean-fuzz
#       removes the clang builds (work/ and crashes/ are kept).

FUZZ_ALL = cfg chan json sip wa_payload http
FUZZ_TARGETS = $(FUZZ_ALL)
FUZZ_SECONDS = 60
FUZZ_NICE = 10
FUZZ_CC = clang
FUZZ_FLAGS = -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS) $(YAJL_CFLAGS) $(INIH_CFLAGS) \
	$(CRYPTO_CFLAGS)
FUZZ_COMMON = $(srcdir)/common/log.c $(srcdir)/common/util.c \
	$(srcdir)/common/json.c $(srcdir)/common/cfg.c $(srcdir)/common/chan.c
FUZZ_LIBS = $(LIBEVENT_LIBS) $(YAJL_LIBS) $(INIH_LIBS)
FUZZ_BUILD = $(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_CPPFLAGS) -I$(srcdir)/tests/fuzz -o $@

FUZZ_REPLAYS = tests/fuzz/replay_cfg tests/fuzz/replay_chan tests/fuzz/replay_json \
	tests/fuzz/replay_sip tests/fuzz/replay_wa_payload tests/fuzz/replay_http
TEST_PROGS += $(FUZZ_REPLAYS)
TESTS += $(FUZZ_REPLAYS)
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/dict

tests_fuzz_replay_cfg_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz.h tests/fuzz/fuzz_cfg.c
tests_fuzz_replay_cfg_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_TARGET='"cfg"'
tests_fuzz_replay_cfg_LDADD = $(HOLDFAST_LIBS)
tests/fuzz/bin/fuzz_cfg: $(srcdir)/tests/fuzz/fuzz_cfg.c $(FUZZ_COMMON)
	@$(MKDIR_P) tests/fuzz/bin
	$(FUZZ_BUILD) $(srcdir)/tests/fuzz/fuzz_cfg.c $(FUZZ_COMMON) $(FUZZ_LIBS)

tests_fuzz_replay_chan_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz.h tests/fuzz/fuzz_chan.c
tests_fuzz_replay_chan_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_TARGET='"chan"'
tests_fuzz_replay_chan_LDADD = $(HOLDFAST_LIBS)
tests/fuzz/bin/fuzz_chan: $(srcdir)/tests/fuzz/fuzz_chan.c $(FUZZ_COMMON)
	@$(MKDIR_P) tests/fuzz/bin
	$(FUZZ_BUILD) $(srcdir)/tests/fuzz/fuzz_chan.c $(FUZZ_COMMON) $(FUZZ_LIBS)

tests_fuzz_replay_json_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz.h tests/fuzz/fuzz_json.c
tests_fuzz_replay_json_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_TARGET='"json"'
tests_fuzz_replay_json_LDADD = $(HOLDFAST_LIBS)
tests/fuzz/bin/fuzz_json: $(srcdir)/tests/fuzz/fuzz_json.c $(FUZZ_COMMON)
	@$(MKDIR_P) tests/fuzz/bin
	$(FUZZ_BUILD) $(srcdir)/tests/fuzz/fuzz_json.c $(FUZZ_COMMON) $(FUZZ_LIBS)

tests_fuzz_replay_sip_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz.h tests/fuzz/fuzz_sip.c
tests_fuzz_replay_sip_CPPFLAGS = $(TELEPHONY_CPPFLAGS) -DFUZZ_TARGET='"sip"'
tests_fuzz_replay_sip_LDADD = workers/telephony/libtelephony.a $(HOLDFAST_LIBS)
tests/fuzz/bin/fuzz_sip: $(srcdir)/tests/fuzz/fuzz_sip.c $(srcdir)/workers/telephony/sip_msg.c \
		$(FUZZ_COMMON)
	@$(MKDIR_P) tests/fuzz/bin
	$(FUZZ_BUILD) -I$(srcdir)/workers/telephony $(srcdir)/tests/fuzz/fuzz_sip.c \
		$(srcdir)/workers/telephony/sip_msg.c $(FUZZ_COMMON) $(FUZZ_LIBS)

FUZZ_HTTP_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/workers/http $(CRYPTO_CFLAGS)
FUZZ_HTTP_LIBS = workers/http/libhfhttp.a $(HOLDFAST_LIBS) $(CRYPTO_LIBS)

tests_fuzz_replay_wa_payload_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz.h \
	tests/fuzz/fuzz_wa_payload.c
tests_fuzz_replay_wa_payload_CPPFLAGS = $(FUZZ_HTTP_CPPFLAGS) -DFUZZ_TARGET='"wa_payload"'
tests_fuzz_replay_wa_payload_LDADD = $(FUZZ_HTTP_LIBS)
tests/fuzz/bin/fuzz_wa_payload: $(srcdir)/tests/fuzz/fuzz_wa_payload.c \
		$(srcdir)/workers/http/wa_payload.c $(FUZZ_COMMON)
	@$(MKDIR_P) tests/fuzz/bin
	$(FUZZ_BUILD) -I$(srcdir)/workers/http $(srcdir)/tests/fuzz/fuzz_wa_payload.c \
		$(srcdir)/workers/http/wa_payload.c $(FUZZ_COMMON) $(FUZZ_LIBS) $(CRYPTO_LIBS)

tests_fuzz_replay_http_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz.h tests/fuzz/fuzz_http.c
tests_fuzz_replay_http_CPPFLAGS = $(FUZZ_HTTP_CPPFLAGS) -DFUZZ_TARGET='"http"'
tests_fuzz_replay_http_LDADD = $(FUZZ_HTTP_LIBS)
tests/fuzz/bin/fuzz_http: $(srcdir)/tests/fuzz/fuzz_http.c \
		$(srcdir)/workers/http/http_route.c $(srcdir)/common/hsrv_parse.c $(FUZZ_COMMON)
	@$(MKDIR_P) tests/fuzz/bin
	$(FUZZ_BUILD) -I$(srcdir)/workers/http $(srcdir)/tests/fuzz/fuzz_http.c \
		$(srcdir)/workers/http/http_route.c $(srcdir)/common/hsrv_parse.c \
		$(FUZZ_COMMON) $(FUZZ_LIBS)

# Frames and datagrams are bounded at 64 KiB; let the fuzzer reach the limits.
FUZZ_MAXLEN_ARGS = case $$t in chan|sip) echo -max_len=70000;; wa_payload) echo -max_len=32768;; *) echo -max_len=8192;; esac

fuzz-build:
	@for t in $(FUZZ_TARGETS); do \
		$(MAKE) $(AM_MAKEFLAGS) tests/fuzz/bin/fuzz_$$t || exit 1; \
	done

fuzz: fuzz-build
	@fail=0; for t in $(FUZZ_TARGETS); do \
		$(MKDIR_P) tests/fuzz/work/$$t tests/fuzz/crashes/$$t; \
		dict=; test -f $(srcdir)/tests/fuzz/dict/$$t.dict && \
			dict=-dict=$(srcdir)/tests/fuzz/dict/$$t.dict; \
		echo "fuzz $$t: $(FUZZ_SECONDS)s, log tests/fuzz/work/$$t.log"; \
		if nice -n $(FUZZ_NICE) tests/fuzz/bin/fuzz_$$t $$dict \
			`$(FUZZ_MAXLEN_ARGS)` -max_total_time=$(FUZZ_SECONDS) \
			-print_final_stats=1 -artifact_prefix=tests/fuzz/crashes/$$t/ \
			tests/fuzz/work/$$t $(srcdir)/tests/fuzz/corpus/$$t \
			>tests/fuzz/work/$$t.log 2>&1; then :; else \
			fail=1; echo "fuzz $$t: CRASH, see tests/fuzz/crashes/$$t/"; \
			grep -a -m3 'ERROR:\|SUMMARY:' tests/fuzz/work/$$t.log; fi; \
		grep -a 'DONE\|stat::number_of_executed_units\|stat::average_exec_per_sec' \
			tests/fuzz/work/$$t.log | tail -3 | sed "s/^/  /"; \
	done; exit $$fail

# Only inputs of at most 1 KiB are merged, to keep the committed corpus small
# (the seeds cover the size limits).
fuzz-merge: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
		rm -rf tests/fuzz/work/$$t.small; \
		$(MKDIR_P) tests/fuzz/work/$$t tests/fuzz/work/$$t.small; \
		find tests/fuzz/work/$$t -type f -size -2k \
			-exec cp {} tests/fuzz/work/$$t.small/ \; ; \
		tests/fuzz/bin/fuzz_$$t -merge=1 `$(FUZZ_MAXLEN_ARGS)` \
			$(srcdir)/tests/fuzz/corpus/$$t tests/fuzz/work/$$t.small \
			2>&1 | grep MERGE-OUTER || exit 1; \
	done

clean-fuzz:
	-rm -rf tests/fuzz/bin
.PHONY: fuzz fuzz-build fuzz-merge clean-fuzz
