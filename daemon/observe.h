/*
 * Observability, wired into the daemon: the metrics (fed by the pool's and
 * the broker's hooks), the HTTP endpoint (/metrics, /healthz) and the
 * reports to Redis (registry, heartbeat, counters).  Loop thread only.
 */
#ifndef WQD_OBSERVE_H
#define WQD_OBSERVE_H

#include <stdint.h>

#include "job.h"

struct wqd;

/* daemon.c build(): after the broker and the pool exist.  Refusals to
   listen are logged and retried; -1 only when out of memory (logged). */
int	wqd_observe_start(struct wqd *d);
/* daemon.c teardown(): before the broker is freed. */
void	wqd_observe_stop(struct wqd *d);
/* reload.c: after a new config was swapped in (queues, periods). */
void	wqd_observe_reload(struct wqd *d);
/* stop.c: the last counts and the registry entry go to Redis; done(arg)
   once Redis answered, or at once when it is down. */
void	wqd_observe_leave(struct wqd *d, void (*done)(void *), void *arg);

/* The pool's `ended` hook (ctx is the daemon). */
void	wqd_observe_ended(void *ctx, const struct wq_job *job, int64_t run_us);
/* The broker's `refused` hook (arg is the daemon). */
void	wqd_observe_refused(void *arg, const struct wq_job *job);

#endif /* WQD_OBSERVE_H */
