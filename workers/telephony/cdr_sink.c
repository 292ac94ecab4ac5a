/*
 * cdr_sink: the spool-then-DB path of CDRs. See cdr.h for the durability
 * decision.
 *
 * The sink has at most one INSERT in flight. It always sends the oldest
 * durable records first, so the DB sees CDRs in the order calls ended,
 * and replay after an outage is the same code path as normal operation
 * with bigger batches. States: idle, inserting, waiting for the DB
 * (db_when_up), or waiting on a retry timer (outcome unknown, an SQL
 * error that is not the data's).
 *
 * A batch refused as data (SQLSTATE class 22 or 23: one record the DB
 * will never take) is split: the next insert takes half as many records,
 * at once, down to the single bad record, which goes to rejected.spool;
 * each success doubles the size again. So the bad record costs
 * O(log batch) quick inserts and the others are stored meanwhile.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <libpq-fe.h>

#include "buf.h"
#include "cdr.h"
#include "db.h"
#include "log.h"
#include "spool.h"
#include "util.h"

#define CDR_MAX_INSERT		2000		/* records per statement */
#define CDR_MAX_INSERT_BYTES	(1024 * 1024)
#define CDR_RETRY_MS		1000

static const char cdr_insert_sql[] =
    "INSERT INTO calls (call_id, from_uri, to_uri, from_tag, to_tag, remote_addr,"
    " started_at, answered_at, ended_at, duration_ms, billsec_ms, disposition,"
    " sip_code, hangup_cause, ended_by, cdr_id)"
    " SELECT u.call_id, u.from_uri, u.to_uri, u.from_tag, u.to_tag, u.remote_addr,"
    " 'epoch'::timestamptz + u.started_us * interval '1 microsecond',"
    " 'epoch'::timestamptz + u.answered_us * interval '1 microsecond',"
    " 'epoch'::timestamptz + u.ended_us * interval '1 microsecond',"
    " u.duration_ms, u.billsec_ms, u.disposition, u.sip_code, u.hangup_cause, u.ended_by,"
    " coalesce(u.cdr_id, u.call_id)"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
    " $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],"
    " $11::bigint[], $12::text[], $13::int[], $14::text[], $15::text[], $16::text[])"
    " AS u(call_id, from_uri, to_uri, from_tag, to_tag, remote_addr, started_us,"
    " answered_us, ended_us, duration_ms, billsec_ms, disposition, sip_code,"
    " hangup_cause, ended_by, cdr_id)"
    " ON CONFLICT (cdr_id) DO NOTHING";

struct cdr_sink {
	struct event_base	*base;
	struct db		*db;
	struct spool		*spool;
	int			 batch;
	int64_t			 flush_ms;
	struct event		*ev_flush, *ev_retry, *ev_deadline;
	struct db_req		*inflight;
	struct spool_mark	 inflight_mark;
	int			 waiting_db;	/* db_when_up armed */
	int			 limit;		/* records per insert while splitting
						 * a refused batch; 0: not splitting */
	int			 replaying;
	int			 backlog;	/* an outage or an earlier run left records */
	uint64_t		 replay_start_ms, replay_count;
	void			(*on_sync)(void *);
	void			*on_sync_arg;
	void			(*done)(void *);
	void			*done_arg;
	struct cdr_stats	 st;
};

static void cdr_sink_kick(struct cdr_sink *);

struct cdr_insert {
	struct buf	 col[CDR_NCOLS];
	int		 n, bad;
};

/* Appends one element to a PostgreSQL array literal (valid UTF-8, cut:
 * version-1 records written before that rule are cleaned here). */
static void
cdr_array_add(struct buf *b, const char *v)
{
	char clean[CDR_TEXT_MAX + 1];

	buf_add(b, b->len == 0 ? "{" : ",", 1);
	if (v == NULL) {
		buf_add(b, "NULL", 4);
		return;
	}
	buf_add(b, "\"", 1);
	for (v = cdr_text_clean(v, clean); *v != '\0'; v++) {
		if (*v == '"' || *v == '\\')
			buf_add(b, "\\", 1);
		buf_add(b, v, 1);
	}
	buf_add(b, "\"", 1);
}

static void
cdr_insert_rec(const char *data, size_t len, void *arg)
{
	struct cdr_insert	*ins = arg;
	char			*copy = xmalloc(len + 1), *cols[CDR_NCOLS];

	memcpy(copy, data, len);
	if (cdr_decode(copy, len, cols) == -1) {
		/* cannot be ours unless the disk lied; keep it for a human */
		log_errorx("[CDR_BAD_RECORD] undecodable spool record of %zu bytes", len);
		ins->bad++;
	} else {
		for (int i = 0; i < CDR_NCOLS; i++)
			cdr_array_add(&ins->col[i], cols[i]);
		ins->n++;
	}
	free(copy);
}

static void
cdr_insert_free(struct cdr_insert *ins)
{
	for (int i = 0; i < CDR_NCOLS; i++)
		buf_free(&ins->col[i]);
}

static void
cdr_sink_on_up(void *arg)
{
	struct cdr_sink *s = arg;

	s->waiting_db = 0;
	cdr_sink_kick(s);
}

static void
cdr_sink_retry_later(struct cdr_sink *s)
{
	struct timeval tv = { CDR_RETRY_MS / 1000, (CDR_RETRY_MS % 1000) * 1000 };

	evtimer_add(s->ev_retry, &tv);
}

static void
cdr_sink_replay_note(struct cdr_sink *s, int n)
{
	if (!s->replaying)
		return;
	s->replay_count += n;
	s->st.replayed += n;
	if (spool_pending(s->spool) == 0) {
		uint64_t ms = hf_now_mono_ms() - s->replay_start_ms;

		log_info("[CDR_REPLAY] done records=%" PRIu64 " in %" PRIu64 " ms (%.0f/s)",
		    s->replay_count, ms, ms ? s->replay_count * 1000.0 / ms : 0.0);
		s->replaying = 0;
	}
}

/* The one record the DB refuses goes to rejected.spool, so it cannot
 * block every CDR behind it and is still there for an operator. */
static void
cdr_reject_rec(const char *data, size_t len, void *arg)
{
	struct cdr_sink *s = arg;

	log_errorx("[CDR_REJECTED] record kept in rejected.spool: %.*s",
	    (int)(len > 200 ? 200 : len), data);
	if (spool_reject(s->spool, data, len) == 0)
		s->st.rejected++;
}

/* SQLSTATE class 22 (data exception) or 23 (integrity): the records'
 * fault, not the statement's or the schema's. */
static int
cdr_refused_as_data(const struct db_error *err)
{
	return err->cls == DB_CLASS_DATA && (strncmp(err->sqlstate, "22", 2) == 0 ||
	    strncmp(err->sqlstate, "23", 2) == 0);
}

/* Halves the next insert, at once; a batch of one is the bad record. */
static void
cdr_sink_split(struct cdr_sink *s, const struct db_error *err)
{
	struct spool_mark	mark;
	int			n = s->inflight_mark.nrec;

	if (n > 1) {
		s->limit = n / 2;
		log_warnx("[CDR_INSERT] batch of %d refused (%s %s): retrying %d of them",
		    n, err->reason, err->sqlstate, s->limit);
	} else {
		log_warnx("[CDR_INSERT] record refused (%s %s): %s", err->reason,
		    err->sqlstate, err->message);
		if (spool_peek(s->spool, 1, 0, cdr_reject_rec, s, &mark) == 1)
			spool_ack(s->spool, &mark);
	}
	cdr_sink_kick(s);
}

/* Rows the INSERT really added (ON CONFLICT skipped the others). */
static uint64_t
cdr_inserted(PGresult *const *res, int nres, uint64_t sent)
{
	const char *n;

	if (nres < 1 || res[nres - 1] == NULL)
		return sent;
	n = PQcmdTuples(res[nres - 1]);
	return n != NULL && *n != '\0' ? strtoull(n, NULL, 10) : sent;
}

static void
cdr_sink_stored(struct cdr_sink *s, PGresult *const *res, int nres)
{
	uint64_t sent = (uint64_t)s->inflight_mark.nrec;
	uint64_t rows = cdr_inserted(res, nres, sent);

	spool_ack(s->spool, &s->inflight_mark);
	s->st.stored += rows;
	s->st.duplicates += sent > rows ? sent - rows : 0;
	cdr_sink_replay_note(s, s->inflight_mark.nrec);
	if (s->limit > 0 && (s->limit *= 2) >= CDR_MAX_INSERT)
		s->limit = 0;
	cdr_sink_kick(s);
}

static void
cdr_sink_on_insert(const struct db_error *err, PGresult *const *res, int nres, void *arg)
{
	struct cdr_sink *s = arg;

	s->inflight = NULL;
	if (err == NULL)
		cdr_sink_stored(s, res, nres);
	else if (cdr_refused_as_data(err))
		cdr_sink_split(s, err);
	else if (db_error_unavailable(err) && err->cls != DB_CLASS_TIMEOUT) {
		s->waiting_db = 1;
		s->backlog = 1;
		db_when_up(s->db, cdr_sink_on_up, s);
	} else {
		log_warnx("[CDR_INSERT] %s: %s; retrying", err->reason, err->message);
		cdr_sink_retry_later(s);
	}
	if (s->done != NULL && s->inflight == NULL)
		event_active(s->ev_deadline, EV_TIMEOUT, 0);
}

/* Replay: the records an outage (or an earlier run) left, logged with
 * their rate; the normal trickle of fresh CDRs is not a replay. */
static void
cdr_sink_start_replay(struct cdr_sink *s, uint64_t pending)
{
	if (s->replaying || !s->backlog)
		return;
	s->backlog = 0;
	s->replaying = 1;
	s->replay_count = 0;
	s->replay_start_ms = hf_now_mono_ms();
	log_info("[CDR_REPLAY] start pending=%" PRIu64, pending);
}

/* Sends the oldest durable records, unless an insert is in flight or the
 * sink waits for the DB. */
static void
cdr_sink_kick(struct cdr_sink *s)
{
	struct cdr_insert	 ins;
	const char		*params[CDR_NCOLS];
	int			 n;

	if (s->db == NULL || s->inflight != NULL || s->waiting_db ||
	    evtimer_pending(s->ev_retry, NULL) || spool_pending(s->spool) == 0)
		return;
	cdr_sink_start_replay(s, spool_pending(s->spool));
	memset(&ins, 0, sizeof(ins));
	n = spool_peek(s->spool, s->limit > 0 ? s->limit : CDR_MAX_INSERT, CDR_MAX_INSERT_BYTES,
	    cdr_insert_rec, &ins, &s->inflight_mark);
	if (n <= 0 || ins.n == 0) {
		if (n > 0)	/* only undecodable records: nothing to send */
			spool_ack(s->spool, &s->inflight_mark);
		cdr_insert_free(&ins);
		if (n < 0)
			cdr_sink_retry_later(s);
		return;
	}
	for (int i = 0; i < CDR_NCOLS; i++) {
		buf_add(&ins.col[i], "}", 1);
		params[i] = ins.col[i].p;
	}
	s->inflight = db_query(s->db, "cdr_insert", cdr_insert_sql, CDR_NCOLS, params,
	    cdr_sink_on_insert, s);
	cdr_insert_free(&ins);
}

void
cdr_sink_flush(struct cdr_sink *s)
{
	if (spool_buffered(s->spool) > 0) {
		if (spool_sync(s->spool) == -1) {
			/* calls go on; the records stay in memory and the next
			 * flush tries again */
			s->st.sync_failures++;
			log_warn("[CDR_SPOOL] fsync of %zu records failed", spool_buffered(s->spool));
			if (!evtimer_pending(s->ev_flush, NULL)) {
				struct timeval tv = { 1, 0 };

				evtimer_add(s->ev_flush, &tv);
			}
		}
		if (s->on_sync != NULL)
			s->on_sync(s->on_sync_arg);
	}
	cdr_sink_kick(s);
}

static void
cdr_sink_on_flush(evutil_socket_t fd, short what, void *arg)
{
	cdr_sink_flush(arg);
}

static void
cdr_sink_on_retry(evutil_socket_t fd, short what, void *arg)
{
	cdr_sink_kick(arg);
}

static void
cdr_sink_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct cdr_sink *s = arg;
	void (*done)(void *) = s->done;

	if (done == NULL)
		return;
	if (s->inflight != NULL)
		log_info("[CDR_SPOOL] stopping with an insert in flight; its records stay spooled");
	log_info("[CDR_SPOOL] stopping: %" PRIu64 " records left in the spool",
	    spool_pending(s->spool));
	s->done = NULL;
	done(s->done_arg);
}

struct cdr_sink *
cdr_sink_new(struct event_base *base, struct db *db, const char *spool_dir,
    int batch, int64_t flush_ms)
{
	struct cdr_sink	*s = xcalloc(1, sizeof(*s));
	char		 err[512];

	if ((s->spool = spool_open(spool_dir, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	s->base = base;
	s->db = db;
	s->batch = batch > 0 ? batch : 1;
	s->flush_ms = flush_ms > 0 ? flush_ms : 1;
	s->ev_flush = evtimer_new(base, cdr_sink_on_flush, s);
	s->ev_retry = evtimer_new(base, cdr_sink_on_retry, s);
	s->ev_deadline = evtimer_new(base, cdr_sink_on_deadline, s);
	if (spool_pending(s->spool) > 0) {
		log_info("[CDR_SPOOL] %" PRIu64 " records from an earlier run to replay",
		    spool_pending(s->spool));
		s->backlog = 1;
	}
	cdr_sink_kick(s);
	return s;
}

void
cdr_sink_free(struct cdr_sink *s)
{
	if (s == NULL)
		return;
	if (s->inflight != NULL)
		db_cancel(s->inflight);
	if (spool_buffered(s->spool) > 0 && spool_sync(s->spool) == -1)
		log_warn("[CDR_SPOOL] final fsync failed");
	event_free(s->ev_flush);
	event_free(s->ev_retry);
	event_free(s->ev_deadline);
	spool_close(s->spool);
	free(s);
}

struct cdr_adopt {
	struct cdr_sink	*s;
	int		 failed;
};

static void
cdr_adopt_rec(const char *data, size_t len, void *arg)
{
	struct cdr_adopt *a = arg;

	if (spool_append(a->s->spool, data, len) == -1)
		a->failed = 1;
}

/* Unlinks the empty segments of an adopted spool, then the directory
 * (which stays when rejected.spool is there for a human). */
static void
cdr_adopt_cleanup(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*e;
	struct stat	 sb;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *path;

		if (strncmp(e->d_name, "cdr-", 4) != 0)
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		if (stat(path, &sb) == 0 && sb.st_size == 0)
			(void)unlink(path);
		free(path);
	}
	closedir(d);
	(void)rmdir(dir);
}

long
cdr_sink_adopt(struct cdr_sink *s, const char *dir)
{
	struct cdr_adopt	 a = { s, 0 };
	struct spool_mark	 mark;
	struct spool		*o;
	char			 err[512];
	long			 total = 0;
	int			 n;

	if ((o = spool_open(dir, err, sizeof(err))) == NULL) {
		log_warnx("[CDR_ORPHAN] dir=%s not adopted: %s", dir, err);
		return -1;
	}
	while ((n = spool_peek(o, CDR_MAX_INSERT, CDR_MAX_INSERT_BYTES, cdr_adopt_rec, &a,
	    &mark)) > 0 && !a.failed) {
		/* ours durable first; a crash in between replays both copies,
		 * which cdr_id makes harmless */
		if (spool_sync(s->spool) == -1) {
			log_warn("[CDR_ORPHAN] dir=%s: fsync of our spool", dir);
			break;
		}
		spool_ack(o, &mark);
		total += n;
	}
	if (total > 0 || spool_pending(o) > 0)
		log_info("[CDR_ORPHAN] dir=%s adopted=%ld left=%" PRIu64, dir, total,
		    spool_pending(o));
	if (total > 0)
		s->backlog = 1;
	spool_close(o);
	cdr_adopt_cleanup(dir);
	cdr_sink_kick(s);
	return total;
}

void
cdr_sink_set_on_sync(struct cdr_sink *s, void (*cb)(void *), void *arg)
{
	s->on_sync = cb;
	s->on_sync_arg = arg;
}

void
cdr_sink_add(struct cdr_sink *s, const struct cdr *c)
{
	size_t	 len;
	char	*rec = cdr_encode(c, &len);

	s->st.added++;
	if (spool_append(s->spool, rec, len) == -1) {
		/* over SPOOL_MAX_RECORD: no SIP_MAX_MSG request makes one, and
		 * it is not worth the calls in progress; kept for a human */
		cdr_reject_rec(rec, len, s);
		free(rec);
		return;
	}
	free(rec);
	if (spool_buffered(s->spool) >= (size_t)s->batch)
		cdr_sink_flush(s);
	else if (!evtimer_pending(s->ev_flush, NULL)) {
		struct timeval tv = { s->flush_ms / 1000, (s->flush_ms % 1000) * 1000 };

		evtimer_add(s->ev_flush, &tv);
	}
}

void
cdr_sink_shutdown(struct cdr_sink *s, int64_t timeout_ms, void (*done)(void *), void *arg)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	s->done = done;
	s->done_arg = arg;
	evtimer_del(s->ev_flush);
	cdr_sink_flush(s);
	if (s->inflight == NULL)
		event_active(s->ev_deadline, EV_TIMEOUT, 0);
	else
		evtimer_add(s->ev_deadline, &tv);
}

size_t
cdr_sink_buffered(const struct cdr_sink *s)
{
	return spool_buffered(s->spool);
}

void
cdr_sink_stats(const struct cdr_sink *s, struct cdr_stats *st)
{
	*st = s->st;
	st->pending = spool_pending(s->spool);
}
