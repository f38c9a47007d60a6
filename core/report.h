/*
 * The reporter: what this daemon tells Redis about itself, every heartbeat
 * period, on the broker's command connection, so that operators (and
 * workqctl) see every daemon and the totals without asking any of them:
 *
 *   {<prefix>}:daemon:<consumer>   hash: version, pid, host, consumer,
 *                                  started (Unix ms, our clock), heartbeat
 *                                  (Unix ms, Redis's), busy, capacity,
 *                                  queues, period, done, rate and
 *                                  rate:<queue> (jobs done per second over
 *                                  the last period); it expires after
 *                                  `takeover`;
 *   {<prefix>}:daemons             sorted set of consumers, scored by when
 *                                  their heartbeat expires (Unix ms);
 *   {<prefix>:<queue>}:stats       hash of counters summed over all daemons
 *                                  (done, failed, retried, dead, expired,
 *                                  timed_out), raised with HINCRBY in one
 *                                  batch per queue and period, never per
 *                                  job.
 *
 * It also reads each queue's XPENDING summary every period and hands it to
 * the metrics, so a scrape never waits for Redis.  Counts are sent at most
 * once: a batch whose reply is lost with the connection is taken as
 * applied; one that Redis refused (an error reply) is sent again.
 *
 * Loop thread only.
 */
#ifndef WQ_REPORT_H
#define WQ_REPORT_H

#include <stdint.h>

#include "conf.h"
#include "loop.h"
#include "metrics.h"
#include "redis.h"
#include "worker.h"

struct wq_report;

/* Who this daemon is; the strings are copied. */
struct wq_report_ident {
	const char	*consumer;
	const char	*version;
	const char	*host;
	long		 pid;
	int64_t		 started_ms;	/* Unix ms */
};

/* cmd is the broker's command connection; m and pool must outlive the
   reporter (pool may be NULL: busy and capacity are then 0).  NULL if out
   of memory. */
struct wq_report	*wq_report_new(struct wq_loop *loop,
			    struct wq_redis *cmd, const struct wq_conf *conf,
			    const struct wq_report_ident *id,
			    struct wq_metrics *m, const struct wq_pool *pool);
/* Commands still waiting for replies keep a small part of it alive until
   their callbacks ran (wq_redis_free answers them). */
void			 wq_report_free(struct wq_report *r);

/* Starts the timer: a report as soon as the connection is up, then every
   heartbeat period. */
void	wq_report_start(struct wq_report *r);
/* Applies a reloaded config (queues, period, expiry): 0 or -1 (ENOMEM). */
int	wq_report_configure(struct wq_report *r, const struct wq_conf *conf);
/*
 * Stopping: stops the timer, sends what was counted since the last report
 * and removes this daemon from the registry; done(arg) runs once Redis
 * answered (at once when the connection is down).
 */
void	wq_report_leave(struct wq_report *r, void (*done)(void *), void *arg);

#endif /* WQ_REPORT_H */
