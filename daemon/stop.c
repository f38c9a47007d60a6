/*
 * The graceful stop.
 *
 * DESIGN: a stop runs three things at once and waits for the first two:
 *
 *   fetching stops (a blocked read is interrupted);
 *   the local queue shuts down immediately, handing every unstarted job
 *   back to Redis for another daemon, uncounted;
 *   the pool drains: running jobs finish, up to shutdown_timeout;
 *
 * then the outcomes are flushed to Redis, the daemon leaves the live sets
 * and the loop ends.  At the deadline, jobs still running are left pending
 * in Redis (taken over by a peer, or resumed by the next start).  A second
 * SIGTERM or SIGINT ends the loop at once: everything not confirmed is
 * still pending in Redis, so nothing is lost.
 */
#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "sdnotify.h"
#include "wqd.h"

#define FLUSH_GRACE_MS	2000

void
wqd_finish(struct wqd *d)
{
	if (d->finished++)
		return;
	wq_loop_stop(d->loop);
}

static void
left(void *arg)
{
	wqd_finish(arg);
}

static void
flushed(void *arg)
{
	struct wqd *d = arg;

	wq_log(WQ_LOG_NOTICE, "workqd: stopped cleanly");
	wq_broker_leave(d->broker);
	/* Give the ZREMs a moment to go out; nothing depends on them. */
	wq_broker_flush(d->broker, left, d);
}

static void
stop_step(void *arg)
{
	struct wqd *d = arg;

	if (--d->stop_waits > 0)
		return;
	evtimer_del(d->deadline_ev);
	wq_broker_flush(d->broker, flushed, d);
}

static void
handback(void *item, void *arg)
{
	wq_broker_handback(arg, item);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wqd *d = arg;
	struct wq_pool_stats ps;
	struct timeval tv = WQ_TV_MS(FLUSH_GRACE_MS);

	(void)fd;
	(void)what;
	if (d->stopping == 2) {
		wq_log(WQ_LOG_WARNING, "workqd: could not record every "
		    "outcome in time; those jobs stay pending in Redis");
		wqd_finish(d);
		return;
	}
	wq_pool_stats(d->pool, &ps);
	wq_log(WQ_LOG_WARNING, "workqd: shutdown_timeout reached with %u "
	    "job(s) running; leaving them pending for another daemon or the "
	    "next start", ps.busy);
	d->stopping = 2;
	evtimer_add(d->deadline_ev, &tv);
	wq_broker_flush(d->broker, flushed, d);
}

void
wqd_stop(struct wqd *d, const char *why)
{
	struct timeval tv = WQ_TV_MS(d->conf->shutdown_timeout_ms);
	struct wq_pool_stats ps;

	if (d->stopping) {
		wq_log(WQ_LOG_NOTICE, "workqd: %s again: exiting now; what was "
		    "not recorded stays pending in Redis", why);
		wqd_finish(d);
		return;
	}
	d->stopping = 1;
	if ((d->deadline_ev = evtimer_new(wq_loop_base(d->loop), deadline_cb,
	    d)) == NULL) {
		wq_log(WQ_LOG_ERR, "workqd: %s: out of memory; exiting now", why);
		wqd_finish(d);
		return;
	}
	wq_pool_stats(d->pool, &ps);
	wq_log(WQ_LOG_NOTICE, "workqd: %s: stopping; handing back %zu "
	    "unstarted job(s), waiting up to %lld ms for %u running", why,
	    wq_queue_qsize(d->local), (long long)d->conf->shutdown_timeout_ms,
	    ps.busy);
	wqd_notify("STOPPING=1\nSTATUS=stopping: draining %u job(s)", ps.busy);
	evtimer_add(d->deadline_ev, &tv);
	d->stop_waits = 2;
	wq_broker_stop_fetching(d->broker, stop_step, d);
	wq_queue_shutdown(d->local, 1, handback, d->broker);
	wq_pool_cancel(d->pool);
	wq_pool_drain(d->pool, stop_step, d);
}

