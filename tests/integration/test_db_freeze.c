/*
 * test_db_freeze: a database that stops answering without closing
 * anything (SIGSTOP of the real server, or the fault proxy's blackhole on
 * live connections), against the DB layer's request deadlines:
 * - a request with a deadline of its own (db_query_within) gets
 *   QueryTimeout at that deadline, not at query_timeout (30 s here, past
 *   the 10 s the test waits for any callback);
 * - two such deadlines in a row with no answer in between open the
 *   breaker (reason QueryTimeout, [DB_DEADLINE] and [DB_DOWN] logged,
 *   deadline_hits counted) and later requests fail fast; one deadline
 *   followed by an answer does not;
 * - the transaction-local statement_timeout: a slow statement comes back
 *   as the server's 57014 before the deadline (an answer: the breaker
 *   stays closed), the session's statement_timeout is untouched after it,
 *   and a batch still gets exactly its own results;
 * - after the thaw, db_ready() alone (a readiness probe, no queries)
 *   brings the layer back, with the backoff schedule too slow to do it;
 * - the proxy resumes connections it accepted while blackholed.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <poll.h>

#include "dbt_env.h"
#include "tu.h"

#define DEADLINE_MS	500

/* Both connections of the pool open and idle. */
static void
warm_pool(struct env *e)
{
	struct dbt_res	a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	db_query(e->db, "warm", "SELECT pg_sleep(0.05)", 0, NULL, dbt_cb(), &a);
	db_query(e->db, "warm", "SELECT pg_sleep(0.05)", 0, NULL, dbt_cb(), &b);
	ck_assert(dbt_run_until(e->base, &a.done, 10000) && a.ok);
	ck_assert(dbt_run_until(e->base, &b.done, 10000) && b.ok);
}

/* The fixture with a layer whose own deadlines are far away. */
static void
freeze_env(struct env *e, int proxy)
{
	env_up(e, NULL, proxy, 0);
	e->cfg.statement_timeout_ms = 25000;
	e->cfg.query_timeout_ms = 30000;
	env_start(e, 1);
	warm_pool(e);
}

/* Starts a request with DEADLINE_MS; r is reset. */
static void
start_within(struct env *e, const char *sql, struct dbt_res *r)
{
	memset(r, 0, sizeof(*r));
	r->t0 = hf_now_mono_us();
	db_query_within(e->db, DEADLINE_MS, "test_within", sql, 0, NULL, dbt_cb(), r);
	ck_assert_msg(!r->done, "callback called from inside db_query_within");
}

static void
query_within(struct env *e, const char *sql, struct dbt_res *r)
{
	start_within(e, sql, r);
	ck_assert_msg(dbt_run_until(e->base, &r->done, 10000),
	    "no answer to %s within 10 s", sql);
}

static void
assert_deadline(const struct dbt_res *r)
{
	ck_assert(!r->ok);
	ck_assert_int_eq(r->cls, DB_CLASS_TIMEOUT);
	ck_assert_str_eq(r->reason, "QueryTimeout");
	ck_assert_str_eq(r->sqlstate, "");
}

/* Two requests in flight on a frozen server: both at the deadline, then
 * the breaker is open. */
static void
two_deadlines(struct env *e)
{
	struct dbt_res	a, b;

	start_within(e, "SELECT 1", &a);
	start_within(e, "SELECT 2", &b);
	ck_assert_msg(dbt_run_until(e->base, &a.done, 10000), "no answer within 10 s");
	ck_assert_msg(dbt_run_until(e->base, &b.done, 10000), "no answer within 10 s");
	assert_deadline(&a);
	assert_deadline(&b);
}

static void
assert_open_on_deadlines(struct env *e)
{
	struct db_state	st;
	struct db_stats	ss;
	struct dbt_res	r;

	db_get_state(e->db, &st);
	ck_assert_int_eq(st.up, 0);
	ck_assert_str_eq(st.reason, "QueryTimeout");
	db_get_stats(e->db, &ss);
	ck_assert_uint_eq(ss.deadline_hits, 2);
	ck_assert_uint_eq(ss.breaker_trips, 1);
	ck_assert_int_eq(dbt_log_count("[DB_DEADLINE] op=test_within reason=QueryTimeout"), 2);
	ck_assert_int_eq(dbt_log_count("[DB_DEADLINE] op=test_within reason=QueryTimeout streak=2"), 1);
	ck_assert_int_eq(dbt_log_count("[DB_DOWN] op=test_loop try=1"), 1);
	ck_assert_int_ge(dbt_log_count("reason=QueryTimeout"), 3);
	/* later requests fail fast, the deadline unused */
	query_within(e, "SELECT 3", &r);
	ck_assert(!r.ok);
	ck_assert_int_eq(r.cls, DB_CLASS_DOWN);
	ck_assert_str_eq(r.reason, "QueryTimeout");
	db_get_stats(e->db, &ss);
	ck_assert_uint_ge(ss.failfast, 1);
}

START_TEST(test_deadline_opens_breaker)
{
	struct env e;

	freeze_env(&e, 0);
	ck_assert_int_eq(pgt_freeze(e.pg), 0);
	two_deadlines(&e);
	assert_open_on_deadlines(&e);
	ck_assert_int_eq(pgt_thaw(e.pg), 0);
	env_assert_recovered(&e, 5000);
	env_down(&e);
}
END_TEST

/* One deadline, then an answer, then one more: never two in a row. */
START_TEST(test_answer_resets_streak)
{
	struct env	e;
	struct dbt_res	r;
	struct db_stats	ss;

	freeze_env(&e, 0);
	ck_assert_int_eq(pgt_freeze(e.pg), 0);
	query_within(&e, "SELECT 1", &r);
	assert_deadline(&r);
	ck_assert(db_is_up(e.db));
	ck_assert_int_eq(pgt_thaw(e.pg), 0);
	query_within(&e, "SELECT 1", &r);
	ck_assert_msg(r.ok, "%s %s", r.reason, r.message);
	ck_assert_int_eq(pgt_freeze(e.pg), 0);
	query_within(&e, "SELECT 1", &r);
	assert_deadline(&r);
	ck_assert_int_eq(pgt_thaw(e.pg), 0);
	ck_assert(db_is_up(e.db));
	db_get_stats(e.db, &ss);
	ck_assert_uint_eq(ss.deadline_hits, 2);
	ck_assert_uint_eq(ss.breaker_trips, 0);
	ck_assert_int_eq(dbt_log_count("[DB_DOWN]"), 0);
	ck_assert_int_eq(dbt_log_count("streak=2"), 0);
	env_down(&e);
}
END_TEST

/* The server cancels a slow statement itself, just before the deadline. */
START_TEST(test_local_statement_timeout)
{
	struct env		 e;
	struct dbt_res		 r;
	struct db_stats		 ss;
	const struct db_stmt	 two[2] = {
		{ "SELECT 'one'", 0, NULL }, { "SELECT 'two'", 0, NULL } };

	freeze_env(&e, 0);
	query_within(&e, "SELECT pg_sleep(3)", &r);
	ck_assert(!r.ok);
	ck_assert_int_eq(r.cls, DB_CLASS_TIMEOUT);
	ck_assert_str_eq(r.reason, "StatementTimeout");
	ck_assert_str_eq(r.sqlstate, "57014");
	/* it runs with the local value ... */
	query_within(&e, "SELECT current_setting('statement_timeout')", &r);
	ck_assert(r.ok);
	ck_assert_msg(strcmp(r.value, "25s") != 0 && strstr(r.value, "ms") != NULL,
	    "statement_timeout %s", r.value);
	/* ... and the session keeps its own afterwards */
	dbt_query(e.base, e.db, "SELECT current_setting('statement_timeout')", 0, NULL, &r);
	ck_assert(r.ok);
	ck_assert_str_eq(r.value, "25s");
	/* a batch gets its own results, and only them */
	memset(&r, 0, sizeof(r));
	db_batch_within(e.db, DEADLINE_MS, "test_within", two, 2, dbt_cb(), &r);
	ck_assert(dbt_run_until(e.base, &r.done, 10000));
	ck_assert(r.ok);
	ck_assert_str_eq(r.value, "two");
	/* an answer each time: nothing counted, the breaker closed */
	db_get_stats(e.db, &ss);
	ck_assert_uint_eq(ss.deadline_hits, 0);
	ck_assert(db_is_up(e.db));
	env_down(&e);
}
END_TEST

struct ready_res {
	int	done;
	int	ok;
	char	reason[64];
};

static void
ready_cb(const struct db_error *err, PGresult *const *res, int nres, void *arg)
{
	struct ready_res *r = arg;

	r->done = 1;
	r->ok = err == NULL;
	snprintf(r->reason, sizeof(r->reason), "%s", err != NULL ? err->reason : "");
}

static int
ready_once(struct env *e, int wait_ms)
{
	struct ready_res r = { 0 };

	db_ready(e->db, wait_ms, ready_cb, &r);
	ck_assert_msg(!r.done, "db_ready answered from inside the call");
	ck_assert(dbt_run_until(e->base, &r.done, 10000));
	return r.ok;
}

/*
 * With the backoff schedule an hour long, only demand can bring the layer
 * back: here the only demand is db_ready(), as from /readyz.
 */
START_TEST(test_ready_drives_probe)
{
	struct env	e;
	uint64_t	end;
	int		ok = 0, polls = 0;

	env_up(&e, NULL, 0, 0);
	e.cfg.statement_timeout_ms = 25000;
	e.cfg.query_timeout_ms = 30000;
	e.cfg.backoff_initial_ms = 3600 * 1000;
	e.cfg.backoff_max_ms = 3600 * 1000;
	env_start(&e, 1);
	warm_pool(&e);
	ck_assert(ready_once(&e, 300));
	ck_assert_int_eq(pgt_freeze(e.pg), 0);
	two_deadlines(&e);
	ck_assert(!db_is_up(e.db));
	/* frozen: the probe it starts cannot succeed; the answer is 503 */
	ck_assert(!ready_once(&e, 300));
	ck_assert_int_eq(pgt_thaw(e.pg), 0);
	end = hf_now_mono_ms() + 10000;
	while (!ok && hf_now_mono_ms() < end) {
		ok = ready_once(&e, 300);
		polls++;
		if (!ok)
			dbt_run_for(e.base, 50);
	}
	ck_assert_msg(ok, "db_ready never saw the DB back (%d polls)", polls);
	ck_assert(db_is_up(e.db));
	ck_assert_int_eq(dbt_log_count("[DB_RECOVERED] op=test_loop"), 1);
	assert_query_ok(&e);
	env_down(&e);
}
END_TEST

/* The same freeze through the proxy: live connections blackholed. */
START_TEST(test_blackhole_mid_connection)
{
	struct env e;

	freeze_env(&e, 1);
	ck_assert_int_eq(fp_set(e.fp, "blackhole"), 0);
	two_deadlines(&e);
	assert_open_on_deadlines(&e);
	ck_assert_int_eq(fp_set(e.fp, "pass"), 0);
	env_assert_recovered(&e, 5000);
	env_down(&e);
}
END_TEST

/*
 * A connection the proxy accepted while blackholed reaches the server once
 * the blackhole ends (a probe stuck in its handshake then completes,
 * rather than waiting for its connect deadline). SSLRequest -> 'N'.
 */
START_TEST(test_proxy_resumes_accepted)
{
	struct env		e;
	struct sockaddr_in	sin;
	struct pollfd		pfd;
	unsigned char		req[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
	char			c = 0;
	int			fd;

	env_up(&e, NULL, 1, 0);
	ck_assert_int_eq(fp_set(e.fp, "blackhole"), 0);
	sin = (struct sockaddr_in){ .sin_family = AF_INET,
	    .sin_port = htons(fp_port(e.fp)), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(write(fd, req, sizeof(req)), 8);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 300), 0);	/* blackholed: silence */
	ck_assert_int_eq(fp_set(e.fp, "pass"), 0);
	ck_assert_msg(poll(&pfd, 1, 5000) == 1, "no answer after the blackhole ended");
	ck_assert_int_eq(read(fd, &c, 1), 1);
	ck_assert_int_eq(c, 'N');
	close(fd);
	env_down(&e);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("db_freeze");
	TCase	*tc = tu_tcase(s, "freeze", 60);

	tcase_add_test(tc, test_deadline_opens_breaker);
	tcase_add_test(tc, test_answer_resets_streak);
	tcase_add_test(tc, test_local_statement_timeout);
	tcase_add_test(tc, test_ready_drives_probe);
	tcase_add_test(tc, test_blackhole_mid_connection);
	tcase_add_test(tc, test_proxy_resumes_accepted);
	return tu_run(s);
}
