/*
 * test_protocol: holdfastd's end of the worker channel as docs/protocol.md
 * specifies it, spoken by a worker written in bash (no holdfast code):
 * version negotiation both ways (a newer worker is answered with
 * holdfastd's version, an older one with its own), unknown members
 * ignored, an unknown type answered with an error that changes nothing,
 * the version-2 "status" text shown by status --json and kept across
 * `holdfastctl upgrade`.
 */
#include <check.h>

#include "supt.h"

/* A worker speaking the protocol raw: hello with version V and a member
 * no version defines, logs what holdfastd answers, then an unknown type,
 * a status text, ready, and heartbeats until holdfastd goes away. */
static char *
raw_worker(const char *name, int version)
{
	return xasprintf("[worker:%s]\ncommand = /bin/bash -c '"
	    "fd=$HOLDFAST_CHANNEL_FD; "
	    "echo \"{\\\"type\\\":\\\"hello\\\",\\\"version\\\":%d,\\\"program\\\":\\\"raw\\\","
	    "\\\"from_the_future\\\":{\\\"a\\\":[1,2]}}\" >&$fd; "
	    "IFS= read -r l <&$fd; echo \"got $l\"; "
	    "echo \"{\\\"type\\\":\\\"no_such_type\\\"}\" >&$fd; "
	    "IFS= read -r l <&$fd; echo \"got $l\"; "
	    "echo \"{\\\"type\\\":\\\"status\\\",\\\"text\\\":\\\"raw v%d\\\"}\" >&$fd; "
	    "echo \"{\\\"type\\\":\\\"ready\\\"}\" >&$fd; "
	    "while sleep 0.2; do echo \"{\\\"type\\\":\\\"heartbeat\\\"}\" >&$fd || exit 0; done'\n"
	    "startsecs = 1h\nheartbeat_timeout = 2s\nstopsignal = KILL\n\n",
	    name, version, version);
}

static char *
status_text(struct hfd *t, const char *name)
{
	yajl_val	 tree, procs = supt_status(t, &tree);
	char		*text = NULL;

	for (size_t i = 0; procs != NULL && i < procs->u.array.len; i++) {
		yajl_val p = procs->u.array.values[i];

		if (strcmp(json_get_str(p, "name"), name) == 0 &&
		    json_get_str(p, "status_text") != NULL)
			text = xstrdup(json_get_str(p, "status_text"));
	}
	yajl_tree_free(tree);
	return text;
}

START_TEST(test_protocol_negotiation)
{
	struct hfd	 t;
	char		*newer = raw_worker("newer", 99), *older = raw_worker("older", 1);
	char		*ini = xasprintf("%s%s", newer, older), *text;

	supt_start(&t, "protocol", ini);
	ck_assert_msg(supt_wait_state(&t, "newer", "RUNNING", 0, 10000), "newer not RUNNING");
	ck_assert_msg(supt_wait_state(&t, "older", "RUNNING", 0, 10000), "older not RUNNING");
	/* Each is answered with the lower of the two versions. */
	ck_assert_int_eq(supt_log_count(&t,
	    "got {\"type\":\"welcome\",\"version\":2,\"heartbeat_ms\":666}"), 1);
	ck_assert_int_eq(supt_log_count(&t,
	    "got {\"type\":\"welcome\",\"version\":1,\"heartbeat_ms\":666}"), 1);
	/* An unknown type: an error reply, a log line, nothing else. */
	ck_assert_int_eq(supt_log_count(&t,
	    "got {\"type\":\"error\",\"ok\":false,\"error\":\"unknown message type\","
	    "\"detail\":\"unknown message type\"}"), 2);
	ck_assert_int_eq(supt_log_count(&t, "channel: unknown message type \"no_such_type\""), 2);
	text = status_text(&t, "newer");
	ck_assert_msg(text != NULL && strcmp(text, "raw v99") == 0, "status_text %s", text);
	free(text);
	text = status_text(&t, "older");
	ck_assert_msg(text != NULL && strcmp(text, "raw v1") == 0, "status_text %s", text);
	free(text);
	ck_assert_int_eq(supt_log_count(&t, "malformed"), 0);
	/* An in-place upgrade keeps the channel and what it said. */
	ck_assert_int_eq(hfd_ctl(&t, "upgrade >/dev/null", NULL), 0);
	text = status_text(&t, "newer");
	ck_assert_msg(text != NULL && strcmp(text, "raw v99") == 0,
	    "status_text after upgrade: %s", text);
	free(text);
	ck_assert_int_eq(supt_log_count(&t, "[WORKER_HUNG]"), 0);
	supt_finish(&t);
	free(newer);
	free(older);
	free(ini);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("protocol");
	TCase	*tc = tu_tcase(s, "protocol", 60);

	tcase_add_test(tc, test_protocol_negotiation);
	return tu_run(s);
}
