/*
 * sup_chan: the supervisor's end of each worker channel.
 *
 * Second level of the dispatch: the chan layer has already framed, size-
 * checked and parsed each message; here each type is checked for the
 * members it needs before anything is recorded. Unknown or malformed
 * messages get an error reply and a log line; they never change a
 * process's state. Any message counts as a sign of life for the watchdog.
 */
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "chan.h"
#include "json.h"
#include "log.h"
#include "sup.h"
#include "sup_event.h"
#include "sup_metrics.h"
#include "sup_notify.h"
#include "sup_upgrade.h"
#include "util.h"

static void sup_hb_fire(evutil_socket_t, short, void *);

void
sup_hb_arm(struct sup_proc *p)
{
	struct timeval tv;

	/* sdnotify: armed by the channel's hello or a first WATCHDOG=1 */
	if (p->p_heartbeat_ms <= 0 || (!p->p_hello && !p->p_sd_watchdog) ||
	    p->p_pid == 0 || p->p_state == SUP_STOPPING) {
		if (p->p_hbtimer != NULL)
			evtimer_del(p->p_hbtimer);
		return;
	}
	if (p->p_hbtimer == NULL)
		p->p_hbtimer = evtimer_new(sup.s_base, sup_hb_fire, p);
	tv.tv_sec = p->p_heartbeat_ms / 1000;
	tv.tv_usec = (p->p_heartbeat_ms % 1000) * 1000;
	evtimer_add(p->p_hbtimer, &tv);
}

static void
sup_hb_fire(evutil_socket_t fd, short what, void *arg)
{
	struct sup_proc	*p = arg;
	uint64_t	 silent = hf_now_mono_ms() - p->p_last_msg_ms;

	/* sdnotify: a WATCHDOG=1 ping does not re-arm a pending timer; the
	 * deadline is the last ping's + heartbeat_timeout. */
	if (silent < (uint64_t)p->p_heartbeat_ms) {
		struct timeval tv;
		int64_t left = p->p_heartbeat_ms - (int64_t)silent;

		tv.tv_sec = left / 1000;
		tv.tv_usec = (left % 1000) * 1000;
		evtimer_add(p->p_hbtimer, &tv);
		return;
	}
	log_warnx("[WORKER_HUNG] name=%s pid=%d silent=%llums timeout=%lldms",
	    p->p_name, (int)p->p_pid,
	    (unsigned long long)(hf_now_mono_ms() - p->p_last_msg_ms),
	    (long long)p->p_heartbeat_ms);
	p->p_hung_kills++;
	sup_event_hung(p, hf_now_mono_ms() - p->p_last_msg_ms);
	sup_proc_event(p, SUP_EV_HUNG);
	sup_pass();
}

static void
sup_db_set(char **slot, const char *v)
{
	free(*slot);
	*slot = v != NULL ? xstrdup(v) : NULL;
}

/* {"type":"db","state":"up"|"down","op":..,"reason":..,"attempts":n,"detail":..} */
static int
sup_msg_db(struct sup_proc *p, yajl_val msg)
{
	const char	*state = json_get_str(msg, "state");
	long long	 attempts = 0;
	int		 up;

	if (state == NULL || (strcmp(state, "up") != 0 && strcmp(state, "down") != 0))
		return -1;
	up = strcmp(state, "up") == 0;
	(void)json_get_int(msg, "attempts", &attempts);
	sup_db_record(p, up, (int)attempts, json_get_str(msg, "op"),
	    json_get_str(msg, "reason"), json_get_str(msg, "detail"));
	return 0;
}

void
sup_db_record(struct sup_proc *p, int up, int attempts, const char *op,
    const char *reason, const char *detail)
{
	sup_metrics_db(p, up, reason);	/* events (channel and sd_notify alike) */
	if (p->p_db.d_state != up) {
		sup_event_db(p, up, reason, op);
		p->p_db.d_since_us = hf_now_real_us();
	}
	p->p_db.d_state = up;
	sup_notify_changed();
	p->p_db.d_attempts = attempts;
	sup_db_set(&p->p_db.d_op, op);
	sup_db_set(&p->p_db.d_reason, reason);
	sup_db_set(&p->p_db.d_detail, detail);
}

static int
sup_msg_hello(struct sup_proc *p, yajl_val msg)
{
	long long	 version;
	struct jw	*w;

	if (json_get_int(msg, "version", &version) == -1 || version < 1)
		return -1;
	/* Both sides speak the lower of the two versions (docs/protocol.md):
	 * an older worker is welcome as is, a newer one is told ours. */
	if (version > CHAN_PROTO_VERSION)
		version = CHAN_PROTO_VERSION;
	p->p_hello = 1;
	free(p->p_status_text);		/* a new process has said nothing yet */
	p->p_status_text = NULL;
	sup_upgrade_changed(1);
	w = jw_new();
	jw_obj_open(w);
	jw_kstr(w, "type", "welcome");
	jw_kint(w, "version", version);
	jw_kint(w, "heartbeat_ms", p->p_heartbeat_ms > 0 ? p->p_heartbeat_ms / 3 : 1000);
	jw_obj_close(w);
	chan_send_jw(p->p_chan, w);
	jw_free(w);
	return 0;
}

/* Keeps the "stats" payload as text for status --json. */
static int
sup_msg_stats(struct sup_proc *p, yajl_val msg)
{
	char *text = json_dump(msg);

	if (text != NULL) {
		free(p->p_stats);
		p->p_stats = text;
		sup_upgrade_changed(0);	/* kept across a self-heal too */
	}
	return 0;
}

/* {"type":"status","text":"..."} (version 2): kept for status --json,
 * cut to SUP_STATUS_TEXT_MAX bytes on a UTF-8 boundary. */
static int
sup_msg_status(struct sup_proc *p, yajl_val msg)
{
	const char	*text = json_get_str(msg, "text");
	size_t		 n;

	if (text == NULL)
		return -1;
	free(p->p_status_text);
	p->p_status_text = xstrdup(text);
	if ((n = strlen(text)) > SUP_STATUS_TEXT_MAX) {
		n = SUP_STATUS_TEXT_MAX;
		while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
			n--;
		p->p_status_text[n] = '\0';
	}
	sup_upgrade_changed(0);
	return 0;
}

static void
sup_chan_lost(struct sup_proc *p, struct chan_peer *peer)
{
	if (strcmp(chan_peer_error(peer), "EOF") != 0)
		log_warnx("%s: channel: %s", p->p_name, chan_peer_error(peer));
	sup_chan_detach(p);
}

static void
sup_chan_dispatch(struct chan_peer *peer, yajl_val msg, void *arg)
{
	struct sup_proc	*p = arg;
	const char	*type;
	int		 rc = 0;

	if (msg == NULL) {
		sup_chan_lost(p, peer);
		return;
	}
	p->p_last_msg_ms = hf_now_mono_ms();
	type = chan_msg_type(msg);
	if (strcmp(type, "heartbeat") == 0)
		;
	else if (strcmp(type, "hello") == 0)
		rc = sup_msg_hello(p, msg);
	else if (strcmp(type, "ready") == 0) {
		sup_proc_event(p, SUP_EV_READY);
		sup_pass();
	} else if (strcmp(type, "db") == 0)
		rc = sup_msg_db(p, msg);
	else if (strcmp(type, "stats") == 0)
		rc = sup_msg_stats(p, msg);
	else if (strcmp(type, "status") == 0)
		rc = sup_msg_status(p, msg);
	else {
		log_warnx("%s: channel: unknown message type \"%.40s\"", p->p_name, type);
		chan_send_error(p->p_chan, "unknown message type");
		return;
	}
	if (rc == -1) {
		log_warnx("%s: channel: malformed \"%s\" message", p->p_name, type);
		chan_send_error(p->p_chan, "malformed message");
	}
	if (p->p_chan != NULL)
		sup_hb_arm(p);
}

void
sup_chan_attach(struct sup_proc *p, int fd)
{
	sup_chan_detach(p);
	p->p_hello = 0;
	p->p_last_msg_ms = hf_now_mono_ms();
	p->p_chan = chan_peer_new(sup.s_base, fd, sup_chan_dispatch, p);
}

void
sup_chan_detach(struct sup_proc *p)
{
	if (p->p_chan != NULL) {
		chan_peer_free(p->p_chan);
		p->p_chan = NULL;
	}
	if (p->p_hbtimer != NULL)
		evtimer_del(p->p_hbtimer);
}
