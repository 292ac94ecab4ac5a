/*
 * sup_ctl: the control socket holdfastctl talks to.
 *
 * JSON lines over a Unix stream socket (the chan layer): one request
 * {"cmd":"status","names":[...]} and one reply {"ok":true,...} or
 * {"ok":false,"error":"...","code":"..."} per line; `tail -f` keeps
 * streaming {"line":"..."} replies. The socket is mode 0600 (0660 and
 * chgrp'd with socket_group); each client's SO_PEERCRED must be root,
 * holdfastd's own uid, or (with socket_group) that group.
 */
#ifndef HOLDFAST_SUP_CTL_H
#define HOLDFAST_SUP_CTL_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

struct jw;
struct sup_proc;

/* Creates the socket: replaces a stale one, refuses to steal a live one.
 * 0, or -1 with the reason in err. */
int sup_ctl_listen(const char *path, const char *group, char *err, size_t errlen);
void sup_ctl_close(void);
/* Moves the socket to path, or re-applies group on the same path; on
 * failure (-1, reason in err) the running socket is left as it was. */
int sup_ctl_relisten(const char *path, const char *group, char *err, size_t errlen);
/*
 * What the status page (sup_web.c) shares with holdfastctl, so the two
 * never disagree. sup_ctl_status_json writes the members of a status reply
 * (pid, uptime_ms, config, procs, surge) into w, an open object;
 * sup_ctl_tail_json those of a tail reply (name, the last want lines; all
 * when want < 0). sup_ctl_restart_one restarts an instance, or a group or
 * "all" rolling, as `holdfastctl restart NAME` does.
 */
void sup_ctl_status_json(struct jw *, struct sup_proc **v, int n);
void sup_ctl_tail_json(struct jw *, const struct sup_proc *, long long want);
void sup_ctl_restart_one(const char *name);
/* A line of output from p, for `tail -f` clients. */
void sup_ctl_tail_line(struct sup_proc *, int stream, const char *line, size_t len);
/* cfgcli: a line of holdfastd's own log, for `maintail -f` clients. */
void sup_ctl_main_line(const char *line, size_t len);
/* Called at the end of each sup_pass(): answers clients whose
 * start/stop/restart has finished. */
void sup_ctl_pass_done(void);
/* p is being freed: drop its followers and waiters. */
void sup_ctl_proc_gone(struct sup_proc *);
/* A surge replacement took the slot of from: waits and follows go to it. */
void sup_ctl_proc_moved(struct sup_proc *from, struct sup_proc *to);

/* events: an event for the clients following events (`events -f`). */
struct sup_ev;
void sup_ctl_event(const struct sup_ev *);

/* In-place upgrade (sup_upgrade.c): the socket and the clients whose
 * replies could be flushed, as a "ctl" object (upgrader_fd marks the
 * client that asked; flush: write out queued replies first, and leave out
 * the clients where that fails); restore adopts them. The client that
 * asked gets its reply (a JSON line) from sup_ctl_upgrade_reply, once the
 * new image is wholly set up: a client told "upgraded" finds every
 * listener (status page, metrics) bound again. */
void sup_ctl_save(struct jw *, int upgrader_fd, int flush);
int sup_ctl_restore(yajl_val ctl, char *err, size_t errlen);
void sup_ctl_upgrade_reply(const char *reply);

#endif
