/*
 * Keeping systemd informed: STATUS= once a second (Redis state, busy
 * workers, local queue depth, throughput) and WATCHDOG=1 at half the
 * interval systemd asked for.  Both are sent from loop timers, so a wedged
 * loop stops the watchdog pings and systemd restarts the daemon.
 */
#include <event2/event.h>

#include "clock.h"
#include "sdnotify.h"
#include "wqd.h"

#define STATUS_MS	1000

static void
status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wqd *d = arg;
	struct wq_broker_stats bs;
	struct wq_pool_stats ps;
	int64_t now = wq_clock_mono_us();
	double rate;

	(void)fd;
	(void)what;
	if (d->stopping)
		return;
	wq_broker_stats(d->broker, &bs);
	wq_pool_stats(d->pool, &ps);
	rate = d->last_status_us == 0 ? 0 : (double)(bs.acked -
	    d->last_acked) * 1e6 / (double)(now - d->last_status_us);
	d->last_acked = bs.acked;
	d->last_status_us = now;
	wqd_notify("STATUS=redis %s%s%s; %u/%u busy; %zu/%u queued; "
	    "%llu done, %.0f/s", bs.connected ? "connected" : "down",
	    bs.connected ? "" : ": ", bs.connected ? "" : bs.last_error,
	    ps.busy, ps.workers, wq_queue_qsize(d->local), d->conf->prefetch,
	    (unsigned long long)bs.acked, rate);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	wqd_notify("WATCHDOG=1");
}

int
wqd_status_start(struct wqd *d)
{
	struct event_base *base = wq_loop_base(d->loop);
	int64_t wd = wqd_notify_watchdog_usec();
	struct timeval st = WQ_TV_MS(STATUS_MS);
	struct timeval wt = { .tv_sec = wd / 2000000,
	    .tv_usec = (wd / 2) % 1000000 };

	d->status_ev = event_new(base, -1, EV_PERSIST, status_cb, d);
	d->watchdog_ev = event_new(base, -1, EV_PERSIST, watchdog_cb, d);
	if (d->status_ev == NULL || d->watchdog_ev == NULL ||
	    event_add(d->status_ev, &st) < 0)
		return -1;
	if (wd > 0 && event_add(d->watchdog_ev, &wt) < 0)
		return -1;
	return 0;
}

void
wqd_status_stop(struct wqd *d)
{
	if (d->status_ev != NULL)
		event_free(d->status_ev);
	if (d->watchdog_ev != NULL)
		event_free(d->watchdog_ev);
	d->status_ev = d->watchdog_ev = NULL;
}
