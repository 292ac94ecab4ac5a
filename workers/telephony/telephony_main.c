/*
 * holdfast-telephony: the SIP UAS worker. Wires the shared worker start-up
 * (config, channel, UDP socket from holdfastd or `listen`, DB layer) to the
 * UAS (sip_uas.c) and the CDR sink (cdr.c, spool.c).
 *
 * Invariant: the SIP socket is served from the first moment on, whatever
 * the DB does; the DB only ever sees CDRs that are already on disk.
 * Confirmed dialogs are also kept in the dialog store (dialog_store.h), so
 * a successor started after a crash answers their BYEs.
 * On SIGTERM: drain first (keep serving until no call is up, at most half
 * of stopwaitsecs and TEL_DRAIN_MAX_MS), so calls end where they began;
 * then stop reading, give calls still up their CDR, make every CDR
 * durable, let an insert in flight finish (up to 3 s), exit 0. What the DB
 * has not committed stays in the spool for the next start.
 */
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cdr.h"
#include "cfg.h"
#include "chan.h"
#include "dialog_store.h"
#include "json.h"
#include "log.h"
#include "sip_uas.h"
#include "util.h"
#include "worker.h"

#define TEL_STOP_FLUSH_MS	3000
#define TEL_DRAIN_MAX_MS	5000	/* longest wait for calls to end on stop */
#define TEL_DRAIN_TICK_MS	10
#define TEL_STATS_MS		5000	/* stats to holdfastd */
#define TEL_LOG_EVERY		12	/* ... and to the log every minute */

struct tel {
	struct worker	 w;
	struct sip_uas	*uas;
	struct cdr_sink	*cdr;
	struct dialog_store *ds;	/* confirmed dialogs, for a successor */
	struct event	*ev_stats;
	struct event	*ev_drain;
	struct event	*ev_usr1;
	uint64_t	 drain_until_ms;
	unsigned	 ticks;
};

/* An instance name as a directory name ("telephony:1": "telephony-1"). */
static char *
tel_spool_name(const char *instance)
{
	char *inst = xstrdup(instance);

	for (char *p = inst; *p != '\0'; p++)
		if (*p == ':' || *p == '/')
			*p = '-';
	return inst;
}

/* <state_dir>/telephony/<instance>: one spool per instance, so two
 * instances never share a file (spool_open also locks it). */
static char *
tel_spool_dir(const struct tel *t)
{
	char *inst = tel_spool_name(t->w.instance), *dir;

	dir = xasprintf("%s/telephony/%s", t->w.cfg->holdfast.state_dir, inst);
	free(inst);
	return dir;
}

/* 1 when name is the spool of an instance the configuration still has
 * (of any section: which ones run this program is not known here). */
static int
tel_spool_configured(const struct tel *t, const char *name)
{
	for (int i = 0; i < t->w.cfg->nworkers; i++) {
		const struct cfg_worker *wc = &t->w.cfg->workers[i];

		for (int k = 0; k < wc->numprocs; k++) {
			char	*inst = wc->numprocs == 1 ? xstrdup(wc->name) :
			    xasprintf("%s:%d", wc->name, k);
			char	*dir = tel_spool_name(inst);
			int	 same = strcmp(dir, name) == 0;

			free(inst);
			free(dir);
			if (same)
				return 1;
		}
	}
	return 0;
}

/*
 * Spools left by instances that no longer exist (numprocs lowered or
 * raised, a section renamed) would never be replayed: this instance
 * adopts them ([CDR_ORPHAN]). One that is still locked (its process is
 * still stopping) is left for the next start.
 */
static void
tel_adopt_orphans(struct tel *t)
{
	char		*top = xasprintf("%s/telephony", t->w.cfg->holdfast.state_dir);
	char		*own = tel_spool_name(t->w.instance);
	DIR		*d = opendir(top);
	struct dirent	*e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		char *dir;

		if (e->d_name[0] == '.' || strcmp(e->d_name, own) == 0 ||
		    tel_spool_configured(t, e->d_name))
			continue;
		dir = xasprintf("%s/%s", top, e->d_name);
		if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN)
			(void)cdr_sink_adopt(t->cdr, dir);
		free(dir);
	}
	if (d != NULL)
		closedir(d);
	free(own);
	free(top);
}

/* The stats line, with the UAS invariant checked (see sip_uas_check). */
static void
tel_log_stats(struct tel *t, const char *tag)
{
	struct sip_uas_stats	s;
	struct cdr_stats	c;
	char			why[256];
	int			ok = sip_uas_check(t->uas, why, sizeof(why)) == 0;

	sip_uas_get_stats(t->uas, &s);
	cdr_sink_stats(t->cdr, &c);
	log_info("[%s] calls=%" PRIu64 " active=%" PRIu64 " answered=%" PRIu64
	    " cancelled=%" PRIu64 " no_ack=%" PRIu64 " rejected=%" PRIu64 " bad=%" PRIu64
	    " objects=%" PRIu64 " over_capacity=%" PRIu64 " rate_limited=%" PRIu64
	    " budget_drops=%" PRIu64 " sources=%" PRIu64 " cdr_stored=%" PRIu64
	    " cdr_pending=%" PRIu64 " cdr_rejected=%" PRIu64 " check=%s", tag,
	    s.calls, s.active, s.answered, s.cancelled, s.no_ack, s.rejected, s.bad,
	    s.objects, s.over_capacity, s.rate_limited, s.budget_drops, s.sources,
	    c.stored, c.pending, c.rejected, ok ? "ok" : "FAIL");
	if (!ok)
		log_errorx("[SIP_CHECK] invariant broken: %s", why);
}

/* SIGUSR1: the stats line now (operators, tests). */
static void
tel_on_usr1(evutil_socket_t fd, short what, void *arg)
{
	struct tel *t = arg;

	if (t->uas != NULL)
		tel_log_stats(t, "SIP_STATS");
}

/* For `holdfastctl status --json`. */
static void
tel_send_stats(struct tel *t)
{
	struct sip_uas_stats	 s;
	struct cdr_stats	 c;
	struct jw		*w = jw_new();

	sip_uas_get_stats(t->uas, &s);
	cdr_sink_stats(t->cdr, &c);
	jw_obj_open(w);
	jw_kstr(w, "type", "stats");
	jw_kint(w, "calls", (long long)s.calls);
	jw_kint(w, "active", (long long)s.active);
	jw_kint(w, "answered", (long long)s.answered);
	jw_kint(w, "cancelled", (long long)s.cancelled);
	jw_kint(w, "no_ack", (long long)s.no_ack);
	jw_kint(w, "rejected", (long long)s.rejected);
	jw_kint(w, "bad_packets", (long long)s.bad);
	jw_kint(w, "cdr_stored", (long long)c.stored);
	jw_kint(w, "cdr_replayed", (long long)c.replayed);
	jw_kint(w, "cdr_spooled", (long long)c.pending);
	jw_obj_close(w);
	chan_worker_send(w);
	jw_free(w);
}

static void
tel_on_stats(evutil_socket_t fd, short what, void *arg)
{
	struct tel *t = arg;

	tel_send_stats(t);
	if (++t->ticks % TEL_LOG_EVERY == 0)
		tel_log_stats(t, "SIP_STATS");
}

static void
tel_stopped(void *arg)
{
	struct tel *t = arg;

	tel_log_stats(t, "SIP_STATS");
	event_free(t->ev_stats);
	t->ev_stats = NULL;
	event_free(t->ev_usr1);
	t->ev_usr1 = NULL;
	sip_uas_free(t->uas);
	t->uas = NULL;
	cdr_sink_free(t->cdr);		/* makes the last CDRs durable */
	t->cdr = NULL;
	if (t->ds != NULL)
		dialog_store_commit_ends(t->ds);
	dialog_store_close(t->ds);
	t->ds = NULL;
	worker_exit_loop(&t->w);
}

/* The second half of stopping: no more reading, every CDR made durable. */
static void
tel_stop_now(struct tel *t)
{
	if (t->ev_drain != NULL) {
		event_free(t->ev_drain);
		t->ev_drain = NULL;
	}
	sip_uas_stop(t->uas);
	cdr_sink_shutdown(t->cdr, TEL_STOP_FLUSH_MS, tel_stopped, t);
}

/* Draining: calls (and new ones) are served until none is up. */
static void
tel_on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct tel		*t = arg;
	struct sip_uas_stats	 st;

	sip_uas_get_stats(t->uas, &st);
	if (st.active == 0 || hf_now_mono_ms() >= t->drain_until_ms) {
		if (st.active > 0)
			log_warnx("[SIP_DRAIN] %" PRIu64 " calls still up at the drain "
			    "deadline: ended with ended_by=shutdown", st.active);
		tel_stop_now(t);
	}
}

static void
tel_on_stop(struct worker *w, void *arg)
{
	struct tel	*t = arg;
	struct timeval	 tv = { 0, TEL_DRAIN_TICK_MS * 1000 };
	int64_t		 drain = w->wcfg->stopwaitsecs_ms / 2;

	evtimer_del(t->ev_stats);
	if (drain > TEL_DRAIN_MAX_MS)
		drain = TEL_DRAIN_MAX_MS;
	t->drain_until_ms = hf_now_mono_ms() + (drain > 0 ? drain : 0);
	t->ev_drain = event_new(w->base, -1, EV_PERSIST, tel_on_drain, t);
	evtimer_add(t->ev_drain, &tv);
	tel_on_drain(-1, 0, t);
}

/* Held answers go out first, then the dialogs whose CDRs are now durable
 * are marked ended: a crash in between restores them (their BYE gets 200
 * again, the second CDR is a no-op) instead of answering 481. */
static void
tel_on_cdr_sync(void *arg)
{
	struct tel *t = arg;

	if (t->uas != NULL)
		sip_uas_on_cdr_sync(t->uas);
	if (t->ds != NULL && cdr_sink_buffered(t->cdr) == 0)
		dialog_store_commit_ends(t->ds);
}

static void
tel_adopt(const struct dialog_rec *d, void *arg)
{
	sip_uas_adopt_dialog(arg, d);
}

/* The dialogs a killed predecessor had confirmed are served from here on. */
static void
tel_dialogs_restore(struct tel *t, const char *dir)
{
	char	err[512];
	int	n;

	if ((t->ds = dialog_store_open(dir, err, sizeof(err))) == NULL) {
		log_warnx("[DIALOG_STORE] %s: confirmed calls will not survive a crash", err);
		return;
	}
	n = dialog_store_restore(t->ds, tel_adopt, t->uas);
	log_info("[DIALOG_RESTORED] n=%d", n);
	sip_uas_set_dialog_store(t->uas, t->ds);
}

static void
tel_uas_cfg(const struct cfg_worker *wc, struct sip_uas_cfg *uc)
{
	memset(uc, 0, sizeof(*uc));
	uc->t1_ms = wc->sip_t1_ms;
	uc->answer_after_ms = wc->answer_after_ms;
	uc->max_calls = wc->max_calls;
	uc->rtp_port_min = wc->rtp_port_min;
	uc->rtp_port_max = wc->rtp_port_max;
	uc->source_rate = wc->sip_source_rate;
	uc->dialog_restore_max_ms = wc->dialog_restore_max_ms;
}

int
main(int argc, char **argv)
{
	static struct tel	 t;
	struct sip_uas_cfg	 uc;
	struct timeval		 tv = { TEL_STATS_MS / 1000, 0 };
	char			*dir;
	int			 fd;

	worker_init(&t.w, argc, argv, "telephony");
	fd = worker_listen(&t.w, SOCK_DGRAM);
	log_info("[SIP_LISTEN] %s fd=%d%s", t.w.wcfg->listen.spec ? t.w.wcfg->listen.spec : "-",
	    fd, t.w.listen_inherited ? " (inherited)" : "");
	worker_db_start(&t.w, "telephony_cdr");
	dir = tel_spool_dir(&t);
	t.cdr = cdr_sink_new(t.w.base, t.w.db, dir, t.w.wcfg->cdr_batch, t.w.wcfg->cdr_flush_ms);
	tel_adopt_orphans(&t);
	tel_uas_cfg(t.w.wcfg, &uc);
	t.uas = sip_uas_new(t.w.base, fd, &uc, t.cdr);
	tel_dialogs_restore(&t, dir);
	free(dir);
	cdr_sink_set_on_sync(t.cdr, tel_on_cdr_sync, &t);
	t.ev_stats = event_new(t.w.base, -1, EV_PERSIST, tel_on_stats, &t);
	evtimer_add(t.ev_stats, &tv);
	t.ev_usr1 = evsignal_new(t.w.base, SIGUSR1, tel_on_usr1, &t);
	evsignal_add(t.ev_usr1, NULL);
	worker_set_on_stop(&t.w, tel_on_stop, &t);
	worker_ready(&t.w);
	/* the loop ends in tel_stopped, with the UAS and the sink freed */
	return worker_run(&t.w);
}
