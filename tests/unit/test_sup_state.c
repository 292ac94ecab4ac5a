/*
 * test_sup_state: the restart policy, without a single child process.
 *
 * Guards the promises of docs/design.md §2 at the level of decisions: a RUNNING
 * process that dies is respawned at once; failed starts back off and go
 * FATAL after startretries in a row; an operator start revives FATAL with a
 * fresh count; a stop during backoff is immediate; a stop that times out
 * escalates to SIGKILL; a hung process is killed; a process not ready
 * within start_timeout is stopped and counted as a failed start (BACKOFF,
 * then FATAL after startretries); and the backoff delays
 * stay within their full-jitter bounds.
 */
#include <check.h>
#include <stdlib.h>

#include "cfg.h"
#include "sup_state.h"
#include "tu.h"
#include "util.h"

static struct sup_facts
facts(int attempts)
{
	struct sup_facts f = {
		.attempts = attempts, .startretries = 3,
		.autorestart = CFG_RESTART_ALWAYS, .backoff_reset_ms = 60000,
	};
	return f;
}

START_TEST(test_names)
{
	ck_assert_str_eq(sup_state_name(SUP_STOPPED), "STOPPED");
	ck_assert_str_eq(sup_state_name(SUP_STARTING), "STARTING");
	ck_assert_str_eq(sup_state_name(SUP_RUNNING), "RUNNING");
	ck_assert_str_eq(sup_state_name(SUP_BACKOFF), "BACKOFF");
	ck_assert_str_eq(sup_state_name(SUP_STOPPING), "STOPPING");
	ck_assert_str_eq(sup_state_name(SUP_EXITED), "EXITED");
	ck_assert_str_eq(sup_state_name(SUP_FATAL), "FATAL");
	ck_assert_str_eq(sup_state_name(SUP_NSTATES), "UNKNOWN");
	for (int s = 0; s < SUP_NSTATES; s++)
		ck_assert_int_eq(sup_state_parse(sup_state_name(s)), s);
	ck_assert_int_eq(sup_state_parse("RUNNINGX"), SUP_NSTATES);
}
END_TEST

START_TEST(test_start_and_ready)
{
	struct sup_facts f = facts(0);
	struct sup_decision d = sup_decide(SUP_STOPPED, SUP_EV_START, &f);

	ck_assert_int_eq(d.next, SUP_STARTING);
	ck_assert_int_eq(d.act, SUP_ACT_SPAWN);
	d = sup_decide(SUP_STARTING, SUP_EV_READY, &f);
	ck_assert_int_eq(d.next, SUP_RUNNING);
	ck_assert_int_eq(d.act, SUP_ACT_READY);
	/* A second start of a running process changes nothing. */
	d = sup_decide(SUP_RUNNING, SUP_EV_START, &f);
	ck_assert_int_eq(d.next, SUP_RUNNING);
	ck_assert_int_eq(d.act, SUP_ACT_NONE);
}
END_TEST

START_TEST(test_running_exit_respawns_at_once)
{
	struct sup_facts f = facts(0);
	struct sup_decision d;

	f.running_ms = 5;	/* even a short run: the first death is repaired now */
	d = sup_decide(SUP_RUNNING, SUP_EV_EXIT, &f);
	ck_assert_int_eq(d.next, SUP_STARTING);
	ck_assert_int_eq(d.act, SUP_ACT_SPAWN);
	ck_assert_int_eq(d.attempts, 1);
	/* A long run clears earlier failures. */
	f = facts(2);
	f.running_ms = 60000;
	d = sup_decide(SUP_RUNNING, SUP_EV_EXIT, &f);
	ck_assert_int_eq(d.act, SUP_ACT_SPAWN);
	ck_assert_int_eq(d.attempts, 0);
}
END_TEST

START_TEST(test_running_crash_loop_backs_off)
{
	struct sup_facts f = facts(1);
	struct sup_decision d;

	f.running_ms = 100;
	d = sup_decide(SUP_RUNNING, SUP_EV_EXIT, &f);
	ck_assert_int_eq(d.next, SUP_BACKOFF);
	ck_assert_int_eq(d.act, SUP_ACT_BACKOFF);
	/* however often it happens, a process that reached RUNNING is never
	 * given up on: the backoff grows (to backoff_max), FATAL never comes */
	for (int i = 2; i < 3 * f.startretries; i++) {
		f = facts(i);
		f.running_ms = 100;
		d = sup_decide(SUP_RUNNING, SUP_EV_EXIT, &f);
		ck_assert_int_eq(d.next, SUP_BACKOFF);
		ck_assert_int_eq(d.attempts, i + 1);
	}
}
END_TEST

START_TEST(test_failed_starts_back_off_then_fatal)
{
	struct sup_facts f = facts(0);
	struct sup_decision d;
	enum sup_state st = SUP_STARTING;

	for (int i = 1; i < f.startretries; i++) {
		d = sup_decide(st, SUP_EV_EXIT, &f);
		ck_assert_int_eq(d.next, SUP_BACKOFF);
		ck_assert_int_eq(d.act, SUP_ACT_BACKOFF);
		ck_assert_int_eq(d.attempts, i);
		f.attempts = d.attempts;
		d = sup_decide(SUP_BACKOFF, SUP_EV_BACKOFF_DONE, &f);
		ck_assert_int_eq(d.next, SUP_STARTING);
		ck_assert_int_eq(d.act, SUP_ACT_SPAWN);
		ck_assert_int_eq(d.attempts, i);	/* the count survives the retry */
	}
	d = sup_decide(st, SUP_EV_EXIT, &f);
	ck_assert_int_eq(d.next, SUP_FATAL);
	ck_assert_int_eq(d.attempts, f.startretries);
	/* FATAL stays down on its own... */
	f.attempts = d.attempts;
	ck_assert_int_eq(sup_decide(SUP_FATAL, SUP_EV_BACKOFF_DONE, &f).next, SUP_FATAL);
	ck_assert_int_eq(sup_decide(SUP_FATAL, SUP_EV_STOP, &f).act, SUP_ACT_NONE);
	/* ...until an operator starts it, with a fresh count. */
	d = sup_decide(SUP_FATAL, SUP_EV_START, &f);
	ck_assert_int_eq(d.next, SUP_STARTING);
	ck_assert_int_eq(d.act, SUP_ACT_SPAWN);
	ck_assert_int_eq(d.attempts, 0);
}
END_TEST

START_TEST(test_startretries_zero)
{
	struct sup_facts f = facts(0);

	f.startretries = 0;
	ck_assert_int_eq(sup_decide(SUP_STARTING, SUP_EV_EXIT, &f).next, SUP_FATAL);
}
END_TEST

START_TEST(test_stop_paths)
{
	struct sup_facts f = facts(0);
	struct sup_decision d;

	d = sup_decide(SUP_RUNNING, SUP_EV_STOP, &f);
	ck_assert_int_eq(d.next, SUP_STOPPING);
	ck_assert_int_eq(d.act, SUP_ACT_TERM);
	d = sup_decide(SUP_STARTING, SUP_EV_STOP, &f);
	ck_assert_int_eq(d.next, SUP_STOPPING);
	d = sup_decide(SUP_STOPPING, SUP_EV_STOP_TIMEOUT, &f);
	ck_assert_int_eq(d.next, SUP_STOPPING);
	ck_assert_int_eq(d.act, SUP_ACT_KILL);
	d = sup_decide(SUP_STOPPING, SUP_EV_EXIT, &f);
	ck_assert_int_eq(d.next, SUP_STOPPED);
	/* A stop while backing off: nothing runs, so it is immediate. */
	d = sup_decide(SUP_BACKOFF, SUP_EV_STOP, &f);
	ck_assert_int_eq(d.next, SUP_STOPPED);
	ck_assert_int_eq(d.act, SUP_ACT_CANCEL);
	/* A late "ready" from a process being stopped is ignored. */
	ck_assert_int_eq(sup_decide(SUP_STOPPING, SUP_EV_READY, &f).next, SUP_STOPPING);
}
END_TEST

START_TEST(test_restart_and_shutdown)
{
	struct sup_facts f = facts(2);
	struct sup_decision d;

	f.restart_pending = 1;
	d = sup_decide(SUP_STOPPING, SUP_EV_EXIT, &f);
	ck_assert_int_eq(d.next, SUP_STARTING);
	ck_assert_int_eq(d.act, SUP_ACT_SPAWN);
	ck_assert_int_eq(d.attempts, 0);
	f.shutting_down = 1;
	d = sup_decide(SUP_STOPPING, SUP_EV_EXIT, &f);
	ck_assert_int_eq(d.next, SUP_STOPPED);
}
END_TEST

START_TEST(test_hung)
{
	struct sup_facts f = facts(0);

	ck_assert_int_eq(sup_decide(SUP_RUNNING, SUP_EV_HUNG, &f).act, SUP_ACT_KILL);
	ck_assert_int_eq(sup_decide(SUP_RUNNING, SUP_EV_HUNG, &f).next, SUP_RUNNING);
	ck_assert_int_eq(sup_decide(SUP_STARTING, SUP_EV_HUNG, &f).act, SUP_ACT_KILL);
	ck_assert_int_eq(sup_decide(SUP_STOPPED, SUP_EV_HUNG, &f).act, SUP_ACT_NONE);
}
END_TEST

START_TEST(test_start_timeout)
{
	struct sup_facts f = facts(0);
	struct sup_decision d = sup_decide(SUP_STARTING, SUP_EV_START_TIMEOUT, &f);

	/* Graceful first: stopsignal, SIGKILL after stopwaitsecs as usual. */
	ck_assert_int_eq(d.next, SUP_STOPPING);
	ck_assert_int_eq(d.act, SUP_ACT_TERM);
	d = sup_decide(SUP_STOPPING, SUP_EV_STOP_TIMEOUT, &f);
	ck_assert_int_eq(d.act, SUP_ACT_KILL);
	/* Its exit is a failed start, not an operator stop. */
	f.start_timed_out = 1;
	d = sup_decide(SUP_STOPPING, SUP_EV_EXIT, &f);
	ck_assert_int_eq(d.next, SUP_BACKOFF);
	ck_assert_int_eq(d.act, SUP_ACT_BACKOFF);
	ck_assert_int_eq(d.attempts, 1);
	f.attempts = 2;
	d = sup_decide(SUP_STOPPING, SUP_EV_EXIT, &f);
	ck_assert_int_eq(d.next, SUP_FATAL);
	ck_assert_int_eq(d.attempts, 3);
	/* An operator restart meanwhile, or the shutdown, wins. */
	f.restart_pending = 1;
	d = sup_decide(SUP_STOPPING, SUP_EV_EXIT, &f);
	ck_assert_int_eq(d.next, SUP_STARTING);
	f.restart_pending = 0;
	f.shutting_down = 1;
	d = sup_decide(SUP_STOPPING, SUP_EV_EXIT, &f);
	ck_assert_int_eq(d.next, SUP_STOPPED);
	/* Only a STARTING process can time out. */
	d = sup_decide(SUP_RUNNING, SUP_EV_START_TIMEOUT, &f);
	ck_assert_int_eq(d.next, SUP_RUNNING);
	ck_assert_int_eq(d.act, SUP_ACT_NONE);
}
END_TEST

START_TEST(test_autorestart)
{
	struct sup_facts f = facts(0);

	f.running_ms = 90000;
	f.autorestart = CFG_RESTART_NEVER;
	ck_assert_int_eq(sup_decide(SUP_RUNNING, SUP_EV_EXIT, &f).next, SUP_EXITED);
	f.autorestart = CFG_RESTART_UNEXPECTED;
	f.exit_expected = 1;
	ck_assert_int_eq(sup_decide(SUP_RUNNING, SUP_EV_EXIT, &f).next, SUP_EXITED);
	f.exit_expected = 0;
	ck_assert_int_eq(sup_decide(SUP_RUNNING, SUP_EV_EXIT, &f).next, SUP_STARTING);
	ck_assert_int_eq(sup_decide(SUP_EXITED, SUP_EV_START, &f).next, SUP_STARTING);
}
END_TEST

/* Every cell answers; events that make no sense leave the state alone. */
START_TEST(test_total)
{
	struct sup_facts f = facts(0);

	for (int s = 0; s < SUP_NSTATES; s++)
		for (int e = 0; e < SUP_NEVENTS; e++) {
			struct sup_decision d = sup_decide(s, e, &f);

			ck_assert(d.next >= 0 && d.next < SUP_NSTATES);
			ck_assert_ptr_nonnull(d.why);
			if (d.act == SUP_ACT_NONE)
				ck_assert_int_eq(d.next, s);
		}
	ck_assert_int_eq(sup_decide(SUP_NSTATES, SUP_EV_START, &f).act, SUP_ACT_NONE);
}
END_TEST

/*
 * The table and the state diagram (sup_transition_ok) are written apart;
 * every decision for every fact combination is an edge of the diagram, and
 * the diagram has no edge the table never takes.
 */
START_TEST(test_table_within_diagram)
{
	unsigned seen[SUP_NSTATES] = { 0 };

	for (int bits = 0; bits < 64; bits++)
		for (int a = 0; a < 4; a++) {
			struct sup_facts f = facts(a);

			f.autorestart = bits & 1 ? CFG_RESTART_NEVER :
			    bits & 2 ? CFG_RESTART_UNEXPECTED : CFG_RESTART_ALWAYS;
			f.exit_expected = (bits >> 2) & 1;
			f.restart_pending = (bits >> 3) & 1;
			f.shutting_down = (bits >> 4) & 1;
			f.start_timed_out = (bits >> 5) & 1;
			f.startretries = 3;
			for (int r = 0; r < 2; r++) {
				f.running_ms = r ? f.backoff_reset_ms + 1 : 0;
				for (int s = 0; s < SUP_NSTATES; s++)
					for (int e = 0; e < SUP_NEVENTS; e++) {
						int n = sup_decide(s, e, &f).next;

						ck_assert_msg(sup_transition_ok(s, n),
						    "%s -%s-> %s not in the diagram",
						    sup_state_name(s), sup_event_name(e),
						    sup_state_name(n));
						seen[s] |= 1u << n;
					}
			}
		}
	for (int s = 0; s < SUP_NSTATES; s++)
		for (int n = 0; n < SUP_NSTATES; n++)
			if (n != s)
				ck_assert_msg(sup_transition_ok(s, n) ==
				    !!(seen[s] & (1u << n)), "edge %s -> %s",
				    sup_state_name(s), sup_state_name(n));
	ck_assert(!sup_transition_ok(SUP_NSTATES, SUP_STOPPED));
}
END_TEST

START_TEST(test_backoff_bounds)
{
	for (int attempt = 0; attempt < 40; attempt++) {
		int64_t ceil = hf_backoff_ceiling_ms(100, 30000, attempt);

		ck_assert_int_le(ceil, 30000);
		ck_assert_int_ge(ceil, 100);
		if (attempt < 8)
			ck_assert_int_eq(ceil, 100LL << attempt);
		for (int i = 0; i < 200; i++) {
			int64_t ms = hf_backoff_full_jitter_ms(100, 30000, attempt, hf_rand_unit());

			ck_assert_int_ge(ms, 0);
			ck_assert_int_le(ms, ceil);
		}
		ck_assert_int_le(hf_backoff_full_jitter_ms(100, 30000, attempt, 0.999999), ceil);
		ck_assert_int_eq(hf_backoff_full_jitter_ms(100, 30000, attempt, 0.0), 0);
	}
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("sup_state");
	TCase	*tc = tu_tcase(s, "table", 0);

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_start_and_ready);
	tcase_add_test(tc, test_running_exit_respawns_at_once);
	tcase_add_test(tc, test_running_crash_loop_backs_off);
	tcase_add_test(tc, test_failed_starts_back_off_then_fatal);
	tcase_add_test(tc, test_startretries_zero);
	tcase_add_test(tc, test_stop_paths);
	tcase_add_test(tc, test_restart_and_shutdown);
	tcase_add_test(tc, test_hung);
	tcase_add_test(tc, test_start_timeout);
	tcase_add_test(tc, test_autorestart);
	tcase_add_test(tc, test_total);
	tcase_add_test(tc, test_table_within_diagram);
	tcase_add_test(tc, test_backoff_bounds);
	return tu_run(s);
}
