/*
 * test_spool: the CDR spool and the CDR record format.
 *
 * Guards the promise "no CDR of a finished call is lost": records synced
 * to the spool survive a reopen (a crash), come back in order, leave only
 * when acknowledged (after the DB commit), and a torn or corrupt last
 * record (power cut mid-write) is detected, logged and cut off while every
 * record before it is kept and new records still append cleanly; and
 * that the 64 KiB record limit holds on both sides (refused on write, the
 * CDR kept in rejected.spool; not trusted on replay).
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>

#include "cdr.h"
#include "log.h"
#include "spool.h"
#include "tu.h"
#include "util.h"


/* Local helpers: this suite needs no process or DB, so not tests/lib. */
static char *
tmpdir(void)
{
	char *t = xasprintf("%s/test_spool.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");

	ck_assert_ptr_nonnull(mkdtemp(t));
	return t;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
rmrf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int
count_in_file(const char *path, const char *needle)
{
	char	buf[8192];
	int	fd = open(path, O_RDONLY), n = 0;
	ssize_t	len;

	ck_assert_int_ne(fd, -1);
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	for (char *p = buf; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

struct collect {
	char	*recs[20000];
	int	 n;
};

static void
collect_cb(const char *data, size_t len, void *arg)
{
	struct collect *c = arg;

	c->recs[c->n++] = xstrndup(data, len);
}

static void
collect_free(struct collect *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->recs[i]);
	c->n = 0;
}

static void
append_n(struct spool *sp, int from, int n)
{
	for (int i = from; i < from + n; i++) {
		char rec[64];

		snprintf(rec, sizeof(rec), "record-%06d", i);
		spool_append(sp, rec, strlen(rec));
	}
}

static char *
only_segment(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	char		*path = NULL;

	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "cdr-", 4) == 0) {
			ck_assert_ptr_null(path);
			path = xasprintf("%s/%s", dir, de->d_name);
		}
	closedir(d);
	ck_assert_ptr_nonnull(path);
	return path;
}

static int
count_segments(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	int		 n = 0;

	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "cdr-", 4) == 0;
	closedir(d);
	return n;
}

START_TEST(test_roundtrip_and_ack)
{
	char			*dir = tmpdir(), err[256];
	struct spool		*sp = spool_open(dir, err, sizeof(err));
	struct collect		*c = calloc(1, sizeof(*c));
	struct spool_mark	 mark;

	ck_assert_ptr_nonnull(sp);
	append_n(sp, 0, 100);
	ck_assert_uint_eq(spool_pending(sp), 0);	/* not durable yet */
	ck_assert_int_eq(spool_sync(sp), 0);
	ck_assert_uint_eq(spool_pending(sp), 100);
	spool_close(sp);		/* a crash after the fsync */

	sp = spool_open(dir, err, sizeof(err));
	ck_assert_uint_eq(spool_pending(sp), 100);
	ck_assert_int_eq(spool_peek(sp, 30, 1 << 20, collect_cb, c, &mark), 30);
	ck_assert_str_eq(c->recs[0], "record-000000");
	ck_assert_str_eq(c->recs[29], "record-000029");
	spool_ack(sp, &mark);
	ck_assert_uint_eq(spool_pending(sp), 70);
	collect_free(c);
	ck_assert_int_eq(spool_peek(sp, 1000, 1 << 20, collect_cb, c, &mark), 70);
	ck_assert_str_eq(c->recs[0], "record-000030");
	/* new records while the old ones are in flight */
	append_n(sp, 100, 5);
	ck_assert_int_eq(spool_sync(sp), 0);
	spool_ack(sp, &mark);
	ck_assert_uint_eq(spool_pending(sp), 5);
	collect_free(c);
	ck_assert_int_eq(spool_peek(sp, 1000, 1 << 20, collect_cb, c, &mark), 5);
	ck_assert_str_eq(c->recs[0], "record-000100");
	spool_ack(sp, &mark);
	ck_assert_uint_eq(spool_pending(sp), 0);
	collect_free(c);
	spool_close(sp);
	/* everything acknowledged: nothing to replay */
	sp = spool_open(dir, err, sizeof(err));
	ck_assert_uint_eq(spool_pending(sp), 0);
	ck_assert_int_eq(spool_peek(sp, 1000, 1 << 20, collect_cb, c, &mark), 0);
	spool_close(sp);
	rmrf(dir);
	free(dir);
	free(c);
}
END_TEST

/* Opens (recovers) the spool in dir with the log going to logpath. */
static struct spool *
open_logged(const char *dir, const char *logpath)
{
	int		 logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	char		 err[256];
	struct spool	*sp;

	log_set_fd(logfd);
	sp = spool_open(dir, err, sizeof(err));
	log_set_fd(-1);
	close(logfd);
	ck_assert_msg(sp != NULL, "%s", err);
	return sp;
}

/* A power cut in the middle of the last record. */
static void
torn_case(int how)
{
	char		*dir = tmpdir(), err[256], *seg, *logpath;
	struct spool	*sp = spool_open(dir, err, sizeof(err));
	struct collect	*c = calloc(1, sizeof(*c));
	struct spool_mark mark;
	struct stat	 st;
	int		 fd;

	append_n(sp, 0, 10);
	ck_assert_int_eq(spool_sync(sp), 0);
	spool_close(sp);
	seg = only_segment(dir);
	ck_assert_int_eq(stat(seg, &st), 0);
	fd = open(seg, O_RDWR);
	if (how == 0)		/* the last record cut short */
		ck_assert_int_eq(ftruncate(fd, st.st_size - 5), 0);
	else if (how == 1) {	/* its last byte flipped: checksum fails */
		ck_assert_int_eq(pwrite(fd, "X", 1, st.st_size - 1), 1);
	} else			/* half a header of an eleventh record */
		ck_assert_int_eq(pwrite(fd, "HFS1\x05", 5, st.st_size), 5);
	close(fd);

	logpath = xasprintf("%s/log", dir);
	sp = open_logged(dir, logpath);
	ck_assert_int_eq(count_in_file(logpath, "[SPOOL_TORN]"), 1);
	ck_assert_uint_eq(spool_pending(sp), how == 2 ? 10 : 9);
	/* appends after recovery land after the good records */
	append_n(sp, 100, 2);
	ck_assert_int_eq(spool_sync(sp), 0);
	spool_close(sp);
	sp = spool_open(dir, err, sizeof(err));
	ck_assert_uint_eq(spool_pending(sp), how == 2 ? 12 : 11);
	while (spool_peek(sp, 1000, 1 << 20, collect_cb, c, &mark) > 0)
		spool_ack(sp, &mark);
	ck_assert_int_eq(c->n, how == 2 ? 12 : 11);
	ck_assert_str_eq(c->recs[0], "record-000000");
	ck_assert_str_eq(c->recs[8], "record-000008");
	ck_assert_str_eq(c->recs[c->n - 1], "record-000101");
	collect_free(c);
	spool_close(sp);
	rmrf(dir);
	free(dir);
	free(seg);
	free(logpath);
	free(c);
}

START_TEST(test_torn_truncated)
{
	torn_case(0);
}
END_TEST

START_TEST(test_torn_checksum)
{
	torn_case(1);
}
END_TEST

START_TEST(test_torn_header)
{
	torn_case(2);
}
END_TEST

/* Past SPOOL_SEGMENT_MAX the spool rotates; acknowledged segments go. */
START_TEST(test_rotation)
{
	char		*dir = tmpdir(), err[256], big[4000];
	struct spool	*sp = spool_open(dir, err, sizeof(err));
	struct collect	*c = calloc(1, sizeof(*c));
	struct spool_mark mark;
	int		 total = 0;

	memset(big, 'b', sizeof(big));
	for (int i = 0; i < 3000; i++) {
		snprintf(big, 16, "%08d", i);
		big[8] = 'b';
		spool_append(sp, big, sizeof(big));
		if (i % 100 == 99)
			ck_assert_int_eq(spool_sync(sp), 0);
	}
	ck_assert_int_ge(count_segments(dir), 2);
	while (spool_peek(sp, 500, 1 << 20, collect_cb, c, &mark) > 0) {
		ck_assert_int_eq(strncmp(c->recs[0], big, 0), 0);
		for (int i = 0; i < c->n; i++) {
			char want[16];

			snprintf(want, sizeof(want), "%08d", total + i);
			ck_assert_int_eq(strncmp(c->recs[i], want, 8), 0);
		}
		total += c->n;
		collect_free(c);
		spool_ack(sp, &mark);
	}
	ck_assert_int_eq(total, 3000);
	ck_assert_uint_eq(spool_pending(sp), 0);
	ck_assert_int_le(count_segments(dir), 1);
	spool_close(sp);
	rmrf(dir);
	free(dir);
	free(c);
}
END_TEST

/* SPOOL_MAX_RECORD on write: a record over it is refused, nothing of it
 * buffered; one of exactly that size goes through. */
START_TEST(test_record_limit_write)
{
	char		*dir = tmpdir(), err[256], *big = xcalloc(1, SPOOL_MAX_RECORD + 1);
	struct spool	*sp = spool_open(dir, err, sizeof(err));
	struct collect	*c = calloc(1, sizeof(*c));
	struct spool_mark mark;

	memset(big, 'r', SPOOL_MAX_RECORD + 1);
	ck_assert_int_eq(spool_append(sp, big, SPOOL_MAX_RECORD + 1), -1);
	ck_assert_uint_eq(spool_buffered(sp), 0);
	ck_assert_int_eq(spool_append(sp, big, SPOOL_MAX_RECORD), 0);
	ck_assert_int_eq(spool_sync(sp), 0);
	spool_close(sp);
	sp = spool_open(dir, err, sizeof(err));
	ck_assert_uint_eq(spool_pending(sp), 1);
	ck_assert_int_eq(spool_peek(sp, 10, 1 << 20, collect_cb, c, &mark), 1);
	ck_assert_uint_eq(strlen(c->recs[0]), SPOOL_MAX_RECORD);
	collect_free(c);
	spool_close(sp);
	rmrf(dir);
	free(dir);
	free(big);
	free(c);
}
END_TEST

/* A CDR with a From URI far over any limit (no SIP_MAX_MSG request
 * carries one) is cut to CDR_TEXT_MAX bytes per column before it is
 * spooled: its record is small, it is stored like any other, and nothing
 * reaches rejected.spool. (Before the cut it was over SPOOL_MAX_RECORD
 * and set aside.) */
START_TEST(test_record_limit_cdr)
{
	char			*dir = tmpdir(), *uri = xmalloc(SPOOL_MAX_RECORD + 1), *rej;
	struct event_base	*base = event_base_new();
	struct cdr_sink		*s = cdr_sink_new(base, NULL, dir, 1, 10);
	struct cdr_stats	 st;
	struct stat		 sb;
	struct cdr		 c = { .call_id = "huge-1", .to_uri = "sip:b@x",
	    .remote_addr = "127.0.0.1:5060", .disposition = CDR_ANSWERED,
	    .sip_code = 200, .hangup_cause = "NORMAL_CLEARING", .ended_by = "recv_bye" };
	size_t			 len;
	char			*rec;

	memset(uri, 'u', SPOOL_MAX_RECORD);
	uri[SPOOL_MAX_RECORD] = '\0';
	c.from_uri = uri;
	rec = cdr_encode(&c, &len);
	ck_assert_uint_lt(len, CDR_NCOLS * (CDR_TEXT_MAX + 1) + 1);
	free(rec);
	cdr_sink_add(s, &c);
	c.call_id = "small-1";
	c.from_uri = "sip:a@x";
	cdr_sink_add(s, &c);
	cdr_sink_flush(s);
	cdr_sink_stats(s, &st);
	ck_assert_uint_eq(st.rejected, 0);
	ck_assert_uint_eq(st.pending, 2);
	rej = xasprintf("%s/rejected.spool", dir);
	ck_assert_int_eq(stat(rej, &sb), -1);
	cdr_sink_free(s);
	event_base_free(base);
	rmrf(dir);
	free(dir);
	free(rej);
	free(uri);
}
END_TEST

/* Appends one framed record to a segment, as spool_sync would. */
static void
write_frame(const char *seg, const char *data, size_t n)
{
	unsigned char	hdr[12] = { 'H', 'F', 'S', '1' };
	uint32_t	crc = spool_crc32(data, n);
	int		fd = open(seg, O_WRONLY | O_APPEND);

	for (int i = 0; i < 4; i++) {		/* little-endian length, crc32 */
		hdr[4 + i] = (unsigned char)(n >> (8 * i));
		hdr[8 + i] = (unsigned char)(crc >> (8 * i));
	}
	ck_assert_int_eq(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
}

/* SPOOL_MAX_RECORD on replay: a frame that claims more (here a whole,
 * checksummed one) is not trusted, since its length cannot be told from
 * a torn one's; the segment is cut there as torn, the records before it
 * are kept. */
START_TEST(test_record_limit_replay)
{
	char		*dir = tmpdir(), err[256], *seg, *logpath, *big;
	size_t		 n = SPOOL_MAX_RECORD + 1;
	struct spool	*sp = spool_open(dir, err, sizeof(err));

	append_n(sp, 0, 2);
	ck_assert_int_eq(spool_sync(sp), 0);
	spool_close(sp);
	seg = only_segment(dir);
	big = xcalloc(1, n);
	memset(big, 'r', n);
	write_frame(seg, big, n);
	write_frame(seg, "record-000002", 13);

	logpath = xasprintf("%s/log", dir);
	sp = open_logged(dir, logpath);
	ck_assert_int_eq(count_in_file(logpath, "[SPOOL_TORN]"), 1);
	ck_assert_int_eq(count_in_file(logpath, "kept=2 records"), 1);
	ck_assert_int_eq(count_in_file(logpath, "bad frame header"), 1);
	ck_assert_uint_eq(spool_pending(sp), 2);
	spool_close(sp);
	rmrf(dir);
	free(dir);
	free(seg);
	free(logpath);
	free(big);
}
END_TEST

START_TEST(test_cdr_encode_decode)
{
	struct cdr c = {
		.call_id = "1-42@127.0.0.1", .from_uri = "sip:a\tb@x",
		.to_uri = "sip:back\\slash@y", .from_tag = "ft", .to_tag = NULL,
		.remote_addr = "127.0.0.1:5071", .started_us = 1700000000000000LL,
		.answered_us = 1700000000500000LL, .ended_us = 1700000002500000LL,
		.disposition = CDR_ANSWERED, .sip_code = 200,
		.hangup_cause = "NORMAL_CLEARING", .ended_by = "recv_bye",
	};
	size_t	 len;
	char	*rec = cdr_encode(&c, &len), *cols[CDR_NCOLS];

	rec = xrealloc(rec, len + 1);
	ck_assert_ptr_null(memchr(rec, '\n', len));
	ck_assert_int_eq(cdr_decode(rec, len, cols), 0);
	ck_assert_str_eq(cols[0], "1-42@127.0.0.1");
	ck_assert_str_eq(cols[1], "sip:a\tb@x");
	ck_assert_str_eq(cols[2], "sip:back\\slash@y");
	ck_assert_ptr_null(cols[4]);
	ck_assert_str_eq(cols[6], "1700000000000000");
	ck_assert_str_eq(cols[9], "2500");	/* duration_ms */
	ck_assert_str_eq(cols[10], "2000");	/* billsec_ms */
	ck_assert_str_eq(cols[11], "ANSWERED");
	ck_assert_str_eq(cols[12], "200");
	ck_assert_str_eq(cols[14], "recv_bye");
	ck_assert_ptr_null(cols[15]);		/* no cdr_id given */
	free(rec);
	rec = xstrdup("3\tfuture\t");
	ck_assert_int_eq(cdr_decode(rec, strlen(rec), cols), -1);
	free(rec);
	/* a version-1 record (15 columns) still decodes; its cdr_id is NULL */
	rec = xstrdup("1\tid\tf\tt\t\\N\t\\N\t\\N\t1\t\\N\t2\t1\t0\tFAILED\t\\N\t\\N\t\\N");
	ck_assert_int_eq(cdr_decode(rec, strlen(rec), cols), 0);
	ck_assert_str_eq(cols[0], "id");
	ck_assert_ptr_null(cols[15]);
	free(rec);
}
END_TEST

/* One writer per spool directory: a second opener is refused with a
 * reason naming the directory, and may open it once the first closed. */
START_TEST(test_spool_lock)
{
	char		*dir = tmpdir(), err[512];
	struct spool	*a = spool_open(dir, err, sizeof(err)), *b;

	ck_assert_msg(a != NULL, "%s", err);
	b = spool_open(dir, err, sizeof(err));
	ck_assert_ptr_null(b);
	ck_assert_msg(strstr(err, "in use by another process") != NULL &&
	    strstr(err, dir) != NULL, "%s", err);
	spool_close(a);
	b = spool_open(dir, err, sizeof(err));
	ck_assert_msg(b != NULL, "%s", err);
	spool_close(b);
	rmrf(dir);
	free(dir);
}
END_TEST

/* Text reaches the DB as valid UTF-8 of at most CDR_TEXT_MAX bytes. */
START_TEST(test_cdr_text_clean)
{
	char	 out[CDR_TEXT_MAX + 1], *big = xmalloc(50000);

	ck_assert_str_eq(cdr_text_clean("plain", out), "plain");
	ck_assert_str_eq(cdr_text_clean("caf\xc3\xa9", out), "caf\xc3\xa9");
	ck_assert_str_eq(cdr_text_clean("a\xff\xfe" "b", out), "a??b");
	ck_assert_str_eq(cdr_text_clean("\xc3(", out), "?(");		/* cut sequence */
	ck_assert_str_eq(cdr_text_clean("\xed\xa0\x80", out), "???");	/* surrogate */
	ck_assert_str_eq(cdr_text_clean("\xf0\x9f\x98\x80!", out), "\xf0\x9f\x98\x80!");
	ck_assert_str_eq(cdr_text_clean("\xc0\xaf", out), "??");		/* overlong */
	memset(big, 'x', 49999);
	big[49999] = '\0';
	ck_assert_uint_eq(strlen(cdr_text_clean(big, out)), CDR_TEXT_MAX);
	/* never cut inside a character */
	for (int i = 0; i < 49998; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[255] = 'x';
	cdr_text_clean(big + 1, out);	/* starts mid-character: '?' first */
	ck_assert_int_eq(out[0], '?');
	ck_assert_uint_le(strlen(out), CDR_TEXT_MAX);
	free(big);
}
END_TEST

/* One id per INVITE transaction: a reused Call-ID is another CDR. */
START_TEST(test_cdr_make_id)
{
	char a[CDR_ID_LEN + 1], b[CDR_ID_LEN + 1], c[CDR_ID_LEN + 1];

	cdr_make_id(a, "cid", "ft", 1, "z9hG4bK1|127.0.0.1:5060|INVITE");
	cdr_make_id(b, "cid", "ft", 2, "z9hG4bK2|127.0.0.1:5060|INVITE");
	cdr_make_id(c, "cid", "ft", 1, "z9hG4bK1|127.0.0.1:5060|INVITE");
	ck_assert_uint_eq(strlen(a), CDR_ID_LEN);
	ck_assert_str_ne(a, b);
	ck_assert_str_eq(a, c);		/* stable: a replay is the same record */
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("spool");
	TCase	*tc = tu_tcase(s, "spool", 0);

	log_init("test_spool", LOG_LVL_INFO);
	tcase_add_test(tc, test_roundtrip_and_ack);
	tcase_add_test(tc, test_torn_truncated);
	tcase_add_test(tc, test_torn_checksum);
	tcase_add_test(tc, test_torn_header);
	tcase_add_test(tc, test_rotation);
	tcase_add_test(tc, test_record_limit_write);
	tcase_add_test(tc, test_record_limit_replay);
	tcase_add_test(tc, test_record_limit_cdr);
	tcase_add_test(tc, test_cdr_encode_decode);
	tcase_add_test(tc, test_cdr_text_clean);
	tcase_add_test(tc, test_cdr_make_id);
	tcase_add_test(tc, test_spool_lock);
	return tu_run(s);
}
