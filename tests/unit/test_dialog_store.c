/*
 * test_dialog_store: the file that lets a replacement of holdfast-telephony
 * serve the dialogs its killed predecessor confirmed.
 *
 * Guards: every dialog confirmed and not ended comes back after a reopen
 * with every field it was stored with; an END is written only at commit
 * (once the CDRs are durable), so a dialog ended but not committed comes
 * back; a record torn by kill -9 in the middle of write() (cut short, or
 * garbage after the last record) is ignored and the records before it are
 * kept; the file is empty once no dialog is open, and rewritten when it
 * grows past its bound.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dialog_store.h"
#include "log.h"
#include "tu.h"
#include "util.h"

static char *
tmpdir(void)
{
	char *t = xasprintf("%s/test_dialog_store.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");

	ck_assert_ptr_nonnull(mkdtemp(t));
	return t;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
rmrf(char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static off_t
file_size(const char *dir)
{
	char		*p = xasprintf("%s/%s", dir, DIALOG_STORE_FILE);
	struct stat	 st;

	ck_assert_int_eq(stat(p, &st), 0);
	free(p);
	return st.st_size;
}

/* Dialog i: call-<i>, tag-<i>. */
static void
confirm(struct dialog_store *ds, int i)
{
	char			 cid[32], tag[32];
	struct sockaddr_in	*sin;
	struct dialog_rec	 d = {
		.call_id = cid, .to_tag = tag, .from_tag = i % 2 ? "ft" : NULL,
		.from_uri = "sip:a@127.0.0.1", .to_uri = "sip:b@127.0.0.1",
		.remote = "127.0.0.1:5071", .branch_key = "z9hG4bKx|127.0.0.1:5071|INVITE",
		.cseq = (uint32_t)i, .started_us = 1000 + i, .answered_us = 2000 + i,
		.confirmed_us = 3000 + i, .dstlen = sizeof(struct sockaddr_in),
	};

	snprintf(cid, sizeof(cid), "call-%d", i);
	snprintf(tag, sizeof(tag), "tag-%d", i);
	sin = (struct sockaddr_in *)&d.dst;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(5071);
	dialog_store_confirm(ds, &d);
}

struct seen {
	int	n;
	int	ids[64];
	int	fields_ok;
};

static void
seen_cb(const struct dialog_rec *d, void *arg)
{
	struct seen	*s = arg;
	int		 i = atoi(d->call_id + 5);
	char		 tag[32];

	snprintf(tag, sizeof(tag), "tag-%d", i);
	s->ids[s->n++] = i;
	if (strcmp(d->to_tag, tag) == 0 && (i % 2 ? d->from_tag != NULL &&
	    strcmp(d->from_tag, "ft") == 0 : d->from_tag == NULL) &&
	    strcmp(d->remote, "127.0.0.1:5071") == 0 && d->cseq == (uint32_t)i &&
	    d->started_us == 1000 + i && d->answered_us == 2000 + i &&
	    d->confirmed_us == 3000 + i && d->dstlen == sizeof(struct sockaddr_in) &&
	    ntohs(((const struct sockaddr_in *)&d->dst)->sin_port) == 5071 &&
	    strcmp(d->branch_key, "z9hG4bKx|127.0.0.1:5071|INVITE") == 0)
		s->fields_ok++;
}

/* Reopens dir (a new process) and returns which dialogs came back. */
static void
reopen(const char *dir, struct seen *s)
{
	char			 err[256];
	struct dialog_store	*ds = dialog_store_open(dir, err, sizeof(err));

	ck_assert_msg(ds != NULL, "%s", err);
	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(dialog_store_restore(ds, seen_cb, s), s->n);
	ck_assert_int_eq(dialog_store_open_count(ds), (size_t)s->n);
	dialog_store_close(ds);
}

static int
seen_has(const struct seen *s, int id)
{
	for (int i = 0; i < s->n; i++)
		if (s->ids[i] == id)
			return 1;
	return 0;
}

static struct dialog_store *
open_ok(const char *dir)
{
	char			 err[256];
	struct dialog_store	*ds = dialog_store_open(dir, err, sizeof(err));

	ck_assert_msg(ds != NULL, "%s", err);
	return ds;
}

START_TEST(test_restore_open_dialogs)
{
	char			*dir = tmpdir();
	struct dialog_store	*ds = open_ok(dir);
	struct seen		 s;

	for (int i = 0; i < 6; i++)
		confirm(ds, i);
	dialog_store_end(ds, "call-1", "tag-1");
	dialog_store_end(ds, "call-4", "tag-4");
	dialog_store_commit_ends(ds);
	dialog_store_end(ds, "call-2", "tag-2");	/* its CDR not durable yet */
	/* kill -9 here: no close */
	reopen(dir, &s);
	ck_assert_int_eq(s.n, 4);
	ck_assert_int_eq(s.fields_ok, 4);
	ck_assert(seen_has(&s, 0) && seen_has(&s, 2) && seen_has(&s, 3) && seen_has(&s, 5));
	dialog_store_close(ds);
	rmrf(dir);
}
END_TEST

/* kill -9 in the middle of write(): the last record is cut short. */
START_TEST(test_torn_tail)
{
	char			*dir = tmpdir(), *path = xasprintf("%s/%s", dir, DIALOG_STORE_FILE);
	struct dialog_store	*ds = open_ok(dir);
	struct seen		 s;
	off_t			 two;

	confirm(ds, 0);
	confirm(ds, 1);
	two = file_size(dir);
	confirm(ds, 2);
	dialog_store_close(ds);
	ck_assert_int_eq(truncate(path, two + (file_size(dir) - two) / 2), 0);
	reopen(dir, &s);
	ck_assert_int_eq(s.n, 2);
	ck_assert_int_eq(s.fields_ok, 2);
	ck_assert(seen_has(&s, 0) && seen_has(&s, 1));
	/* the torn bytes are gone: new records after them are read back */
	ck_assert_int_eq(file_size(dir), two);
	ds = open_ok(dir);
	confirm(ds, 7);
	dialog_store_close(ds);
	reopen(dir, &s);
	ck_assert_int_eq(s.n, 3);
	ck_assert(seen_has(&s, 7));
	free(path);
	rmrf(dir);
}
END_TEST

/* A record whose bytes changed (checksum) and garbage after the last one. */
START_TEST(test_torn_checksum_and_garbage)
{
	char			*dir = tmpdir(), *path = xasprintf("%s/%s", dir, DIALOG_STORE_FILE);
	struct dialog_store	*ds = open_ok(dir);
	struct seen		 s;
	off_t			 one;
	int			 fd;

	confirm(ds, 0);
	one = file_size(dir);
	confirm(ds, 1);
	dialog_store_close(ds);
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "X", 1, one + 20), 1);	/* in record 2's payload */
	close(fd);
	reopen(dir, &s);
	ck_assert_int_eq(s.n, 1);
	ck_assert(seen_has(&s, 0));
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "HFD1\377\377", 6), 6);
	close(fd);
	reopen(dir, &s);
	ck_assert_int_eq(s.n, 1);
	ck_assert_int_eq(s.fields_ok, 1);
	free(path);
	rmrf(dir);
}
END_TEST

START_TEST(test_compaction)
{
	char			*dir = tmpdir();
	struct dialog_store	*ds = open_ok(dir);
	struct seen		 s;
	char			 cid[32], tag[32];

	for (int i = 0; i < 10; i++)
		confirm(ds, i);
	for (int i = 0; i < 10; i++) {
		snprintf(cid, sizeof(cid), "call-%d", i);
		snprintf(tag, sizeof(tag), "tag-%d", i);
		dialog_store_end(ds, cid, tag);
	}
	dialog_store_commit_ends(ds);
	ck_assert_int_eq(file_size(dir), 0);		/* nothing open */
	/* one dialog stays open while many come and go: the file stays bounded */
	confirm(ds, 63);
	for (int i = 0; i < 20000; i++) {
		snprintf(cid, sizeof(cid), "call-%d", i % 60);
		snprintf(tag, sizeof(tag), "tag-%d", i % 60);
		confirm(ds, i % 60);
		dialog_store_end(ds, cid, tag);
		dialog_store_commit_ends(ds);
	}
	ck_assert_int_le(file_size(dir), DIALOG_STORE_COMPACT);
	dialog_store_close(ds);
	reopen(dir, &s);
	ck_assert_int_eq(s.n, 1);
	ck_assert(seen_has(&s, 63));
	rmrf(dir);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("dialog_store");
	TCase	*tc = tu_tcase(s, "dialog_store", 0);

	log_init("test_dialog_store", LOG_LVL_INFO);
	tcase_add_test(tc, test_restore_open_dialogs);
	tcase_add_test(tc, test_torn_tail);
	tcase_add_test(tc, test_torn_checksum_and_garbage);
	tcase_add_test(tc, test_compaction);
	return tu_run(s);
}
