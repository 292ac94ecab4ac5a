/*
 * sup_notify: the systemd notification protocol (sd_notify(3)) without
 * libsystemd, so `Type=notify` and `WatchdogSec=` work in holdfast.service.
 * Everything here is a no-op when NOTIFY_SOCKET is unset.
 */
#ifndef HOLDFAST_SUP_NOTIFY_H
#define HOLDFAST_SUP_NOTIFY_H

#include <event2/event.h>

/* Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID; arms the watchdog
 * ping (every WATCHDOG_USEC / 2) when it is meant for this process. */
void sup_notify_init(struct event_base *);
/* Something a STATUS= line shows changed (a state, a worker's DB state):
 * recomputed and sent once the current event is done, READY=1 with it
 * the first time every autostart worker has settled. */
void sup_notify_changed(void);
void sup_notify_reloading(void);	/* RELOADING=1 (READY=1 follows) */
void sup_notify_stopping(void);		/* STOPPING=1 */
void sup_notify_close(void);

#endif
