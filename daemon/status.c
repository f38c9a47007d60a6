/*
 * Keeping systemd informed (see wqd.h).
 *
 * DESIGN: two loop timers.  The status timer builds the STATUS= text once
 * a second (Redis state with the reason when it is down, busy workers,
 * local queue depth, the throughput of the last ten seconds) and sends it
 * only when it changed, so an idle daemon sends nothing and a busy one at
 * most one datagram a second.  While stopping it sends the drain's
 * progress and EXTEND_TIMEOUT_USEC= instead (see extend()).  The watchdog
 * timer sends WATCHDOG=1 at half the interval systemd asked for.  Both run
 * on the loop, so a wedged loop stops the pings and systemd restarts the
 * daemon: no thread of its own pretends all is well.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "sdnotify.h"
#include "wqd.h"

#define STATUS_MS	1000

/* Records how many jobs have finished (any outcome but a hand-back) at
   this status tick. */
static void
sample(struct wqd *d, uint64_t finished, int64_t now)
{
	unsigned i = d->rate_n % WQD_RATE_SAMPLES;

	d->rate_done[i] = finished;
	d->rate_us[i] = now;
	d->rate_n++;
}

/* Jobs finished per second between the oldest and the newest sample. */
static double
rate(const struct wqd *d)
{
	unsigned newest = (d->rate_n - 1) % WQD_RATE_SAMPLES;
	unsigned oldest = d->rate_n < WQD_RATE_SAMPLES ? 0 :
	    d->rate_n % WQD_RATE_SAMPLES;

	if (d->rate_n < 2 || d->rate_us[newest] <= d->rate_us[oldest])
		return 0;
	return (double)(d->rate_done[newest] - d->rate_done[oldest]) * 1e6 /
	    (double)(d->rate_us[newest] - d->rate_us[oldest]);
}

static void
status_text(const struct wqd *d, char *buf, size_t size)
{
	struct wq_broker_stats bs;
	struct wq_pool_stats ps;
	uint64_t failed;

	wq_broker_stats(d->broker, &bs);
	wq_pool_stats(d->pool, &ps);
	failed = bs.retried + bs.dead;
	snprintf(buf, size, "redis %s%s%s; %u/%u busy; %zu/%d queued; "
	    "%.0f jobs/s; %llu done, %llu failed",
	    bs.connected ? "connected" : "down",
	    !bs.connected && bs.last_error[0] != '\0' ? ": " : "",
	    bs.connected ? "" : bs.last_error, ps.busy, ps.workers,
	    wq_queue_qsize(d->local), wq_queue_maxsize(d->local), rate(d),
	    (unsigned long long)bs.acked, (unsigned long long)failed);
}

/* Sends text (and state before it), remembered as the last sent. */
static void
send_text(struct wqd *d, const char *state, const char *text)
{
	snprintf(d->status_sent, sizeof(d->status_sent), "%s", text);
	if (state != NULL)
		wqd_notify("%s\nSTATUS=%s", state, text);
	else
		wqd_notify("STATUS=%s", text);
}

void
wqd_status_send(struct wqd *d, const char *state)
{
	char text[sizeof(d->status_sent)];

	status_text(d, text, sizeof(text));
	send_text(d, state, text);
}

/* Sends STATUS= if it changed since it was last sent. */
static void
update(struct wqd *d)
{
	char text[sizeof(d->status_sent)];

	status_text(d, text, sizeof(text));
	if (strcmp(text, d->status_sent) == 0)
		return;
	send_text(d, NULL, text);
}

/*
 * While draining, tell systemd to wait until the stop's own end (the
 * shutdown_timeout, the cancel and flush graces and a margin, fixed when
 * the stop began), and not a moment longer: every message names the time left to
 * that same end.  This only matters when shutdown_timeout was set above
 * TimeoutStopSec; systemd never shortens its own timeout.
 */
static void
extend(struct wqd *d)
{
	struct wq_pool_stats ps;
	struct wq_broker_stats bs;
	int64_t left = d->stop_end_us - wq_clock_mono_us();

	wq_pool_stats(d->pool, &ps);
	wq_broker_stats(d->broker, &bs);
	if (left > 0)
		wqd_notify("EXTEND_TIMEOUT_USEC=%lld\nSTATUS=stopping: %u "
		    "job(s) running, %u outcome(s) to record",
		    (long long)left, ps.busy, bs.settling);
}

static void
status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wqd *d = arg;
	struct wq_broker_stats bs;

	(void)fd;
	(void)what;
	if (d->stopping) {
		extend(d);
		return;
	}
	wq_broker_stats(d->broker, &bs);
	sample(d, bs.acked + bs.retried + bs.dead, wq_clock_mono_us());
	update(d);
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
	int64_t wd = wqd_notify_watchdog_usec() / 2;
	struct timeval st = WQ_TV_MS(STATUS_MS);
	struct timeval wt = { .tv_sec = wd / 1000000,
	    .tv_usec = wd % 1000000 };

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
