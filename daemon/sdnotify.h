/*
 * sd_notify(3) without libsystemd: one datagram to the unix socket named
 * by $NOTIFY_SOCKET (a leading '@' means the abstract namespace).  Linking
 * libsystemd for this is discouraged by systemd's own documentation, and
 * the protocol is twenty lines.  Does nothing when not run by systemd.
 */
#ifndef WQD_SDNOTIFY_H
#define WQD_SDNOTIFY_H

#include <stdint.h>

#include "workqd/plugin.h"	/* WQ_PRINTF */

/* 0 sent, 1 not under systemd, -1 failed (errno set). */
int	wqd_notify(const char *fmt, ...) WQ_PRINTF(1, 2);
/* The watchdog interval systemd asked for in $WATCHDOG_USEC (checking
   $WATCHDOG_PID), or 0. */
int64_t	wqd_notify_watchdog_usec(void);

#endif /* WQD_SDNOTIFY_H */
