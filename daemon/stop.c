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
 * and the loop ends.  Running jobs are not cancelled when the stop begins:
 * a job cut short would be retried later with a backoff and an attempt
 * spent, while most jobs finish well within shutdown_timeout.  At the
 * deadline they are told to stop (job_cancelled) and get CANCEL_GRACE_MS
 * to do so: a handler that gives up and asks for a retry is handed back at
 * once (worker.c), one that finishes is recorded.  What still runs after
 * that is left pending in Redis, taken over by a peer or resumed by the
 * next start.  Then, however the stop got there, the outcomes already
 * known get FLUSH_GRACE_MS to reach Redis (and the daemon to leave the
 * live sets), answered or not.  systemd is asked to wait that long and no longer
 * (EXTEND_TIMEOUT_USEC=, status.c).  A second SIGTERM or SIGINT ends the
 * loop at once: everything not confirmed is still pending in Redis, so
 * nothing is lost.
 */
#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "observe.h"
#include "sdnotify.h"
#include "wqd.h"

#define CANCEL_GRACE_MS	2000	/* cancelled jobs' time to return */
#define FLUSH_GRACE_MS	2000	/* known outcomes' time to reach Redis */
#define EXTEND_MARGIN_MS 3000	/* for the exit itself, beyond the graces */

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
reported(void *arg)
{
	struct wqd *d = arg;

	/* Give the ZREMs a moment to go out; nothing depends on them. */
	wq_broker_flush(d->broker, left, d);
}

static void
flushed(void *arg)
{
	struct wqd *d = arg;

	wq_log(WQ_LOG_NOTICE, "workqd: stopped cleanly");
	wq_broker_leave(d->broker);
	/* observe.c: the last counts and the registry entry go to Redis. */
	wqd_observe_leave(d, reported, d);
}

/* The last stage: what is known goes to Redis, for FLUSH_GRACE_MS at
   most, whether Redis answers or not. */
static void
flush(struct wqd *d)
{
	struct timeval grace = WQ_TV_MS(FLUSH_GRACE_MS);

	d->stopping = 3;
	evtimer_add(d->deadline_ev, &grace);
	wq_broker_flush(d->broker, flushed, d);
}

static void
stop_step(void *arg)
{
	struct wqd *d = arg;

	/* Once the flush has begun (past the cancel grace), a job that ends
	   changes nothing: the flush's own deadline runs. */
	if (--d->stop_waits > 0 || d->stopping == 3)
		return;
	flush(d);
}

static void
handback(void *item, void *arg)
{
	wq_broker_handback(arg, item);
}

/* The stop's deadlines: shutdown_timeout, then the two graces. */
static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wqd *d = arg;
	struct wq_pool_stats ps;
	struct timeval cancel = WQ_TV_MS(CANCEL_GRACE_MS);

	(void)fd;
	(void)what;
	wq_pool_stats(d->pool, &ps);
	switch (d->stopping) {
	case 1:
		wq_log(WQ_LOG_WARNING, "workqd: shutdown_timeout reached with "
		    "%u job(s) running; asking them to stop", ps.busy);
		wq_pool_cancel(d->pool);
		d->stopping = 2;
		evtimer_add(d->deadline_ev, &cancel);
		break;
	case 2:
		wq_log(WQ_LOG_WARNING, "workqd: %u job(s) still running; leaving "
		    "them pending for another daemon or the next start",
		    ps.busy);
		flush(d);
		break;
	default:
		wq_log(WQ_LOG_WARNING, "workqd: could not record every "
		    "outcome in time; those jobs stay pending in Redis");
		wqd_finish(d);
	}
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
	d->stop_end_us = wq_clock_mono_us() + (d->conf->shutdown_timeout_ms +
	    CANCEL_GRACE_MS + FLUSH_GRACE_MS + EXTEND_MARGIN_MS) * 1000;
	wqd_notify("STOPPING=1\nEXTEND_TIMEOUT_USEC=%lld\nSTATUS=stopping: "
	    "draining %u job(s)", (long long)(d->stop_end_us -
	    wq_clock_mono_us()), ps.busy);
	evtimer_add(d->deadline_ev, &tv);
	d->stop_waits = 2;
	wq_broker_stop_fetching(d->broker, stop_step, d);
	wq_queue_shutdown(d->local, 1, handback, d->broker);
	wq_pool_drain(d->pool, stop_step, d);
}

