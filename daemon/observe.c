/*
 * Observability in the daemon (see observe.h).
 *
 * DESIGN: the metrics object counts what the pool and the broker report
 * through their hooks; a scrape samples the other figures (the local
 * queue, the pool, the executor, the broker, the loop) into gauges and
 * renders, all on the loop thread, without a Redis round trip.  /healthz
 * answers from the same place, so a wedged loop answers nothing at all,
 * which is the failure a health check must see.
 *
 * The endpoint is not essential to running jobs: if its address is taken
 * the daemon runs on, logs it once, and tries to listen again every few
 * seconds.  A listen address that does not resolve is a lasting mistake:
 * logged, and the endpoint stays off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/time.h>

#include <event2/event.h>

#include "clock.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "observe.h"
#include "report.h"
#include "wqd.h"

#define RETRY_MS	5000

struct wqd_observe {
	struct wqd		*d;
	struct wq_metrics	*metrics;
	struct wq_httpd		*httpd;
	struct wq_report	*report;
	struct event		*retry_ev;
	char			 where[300];	/* the host, as in a URL */
	int			 port;		/* as configured */
	int			 warned;
};

static int
metrics_cb(void *arg, struct evbuffer *out, size_t max)
{
	struct wqd_observe *o = arg;
	struct wqd *d = o->d;
	struct wq_metrics_gauges g = { .version = WQ_VERSION };
	struct wq_pool_stats ps;
	struct wq_exec_stats es;
	struct wq_broker_stats bs;

	wq_pool_stats(d->pool, &ps);
	wq_exec_stats(d->exec, &es);
	wq_broker_stats(d->broker, &bs);
	g.local_jobs = wq_queue_qsize(d->local);
	g.local_capacity = (unsigned)wq_queue_maxsize(d->local);
	g.workers = ps.workers;
	g.workers_busy = ps.busy;
	g.exec_threads = es.threads;
	g.exec_busy = es.busy;
	g.exec_held = es.held;
	g.exec_queued = es.queued;
	g.redis_up = bs.connected;
	g.redis_reconnects = bs.reconnects;
	g.unconfirmed = bs.settling;
	g.loop_stalls = wq_loop_stalls(d->loop, NULL);
	g.now_ms = wq_clock_wall_ms();
	return wq_metrics_render(o->metrics, &g, out, max);
}

static int
health_cb(void *arg, char *why, size_t len)
{
	struct wqd_observe *o = arg;
	struct wq_broker_stats bs;

	if (o->d->stopping) {
		snprintf(why, len, "stopping");
		return 0;
	}
	wq_broker_stats(o->d->broker, &bs);
	if (bs.connected)
		return 1;
	if (bs.last_error[0] != '\0')
		snprintf(why, len, "redis: connection lost: %s", bs.last_error);
	else
		snprintf(why, len, "redis: connecting");
	return 0;
}

static void
try_listen(struct wqd_observe *o)
{
	struct timeval tv = WQ_TV_MS(RETRY_MS);

	if (wq_httpd_listen(o->httpd) == 0) {
		wq_log(WQ_LOG_NOTICE, "http: listening on %s:%d (/metrics, "
		    "/healthz)", o->where, wq_httpd_port(o->httpd));
		o->warned = 0;
		return;
	}
	if (!o->warned++)
		wq_log(WQ_LOG_ERR, "http: cannot listen on %s:%d: %m; running "
		    "without /metrics and /healthz, trying again every %d s",
		    o->where, o->port, RETRY_MS / 1000);
	evtimer_add(o->retry_ev, &tv);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	try_listen(arg);
}

/* The endpoint, from the config the daemon starts with (a new address
   needs a restart). */
static int
http_start(struct wqd_observe *o)
{
	const struct wq_conf_http *c = &o->d->conf->http;
	struct wq_httpd_ops ops = { .metrics = metrics_cb,
	    .health = health_cb, .arg = o };
	char err[512];

	if (!c->enabled)
		return 0;
	snprintf(o->where, sizeof(o->where), strchr(c->host, ':') != NULL ?
	    "[%s]" : "%s", c->host);
	o->port = c->port;
	if ((o->retry_ev = evtimer_new(wq_loop_base(o->d->loop), retry_cb,
	    o)) == NULL)
		return -1;
	if ((o->httpd = wq_httpd_new(o->d->loop, c->host, c->port, NULL, &ops,
	    err, sizeof(err))) == NULL) {
		if (errno == ENOMEM)
			return -1;
		wq_log(WQ_LOG_ERR, "%s; running without /metrics and /healthz",
		    err);
		return 0;
	}
	try_listen(o);
	return 0;
}

static int
add_queues(struct wqd_observe *o, const struct wq_conf *conf)
{
	for (size_t i = 0; i < conf->nqueues; i++)
		if (wq_metrics_add_queue(o->metrics, conf->queues[i].name,
		    conf->queues[i].plugin) < 0)
			return -1;
	return 0;
}

static int
report_start(struct wqd_observe *o)
{
	struct wqd *d = o->d;
	struct wq_report_ident id = { .consumer = d->consumer,
	    .version = WQ_VERSION, .host = d->host, .pid = (long)getpid(),
	    .started_ms = wq_clock_wall_ms() };

	if ((o->report = wq_report_new(d->loop, wq_broker_cmd(d->broker),
	    d->conf, &id, o->metrics, d->pool)) == NULL)
		return -1;
	wq_report_start(o->report);
	return 0;
}

int
wqd_observe_start(struct wqd *d)
{
	struct wqd_observe *o = calloc(1, sizeof(*o));

	if ((d->observe = o) == NULL)
		goto fail;
	o->d = d;
	if ((o->metrics = wq_metrics_new()) == NULL ||
	    add_queues(o, d->conf) < 0 || report_start(o) < 0 ||
	    http_start(o) < 0)
		goto fail;
	return 0;
fail:
	wq_log(WQ_LOG_ERR, "workqd: cannot start the metrics: %s",
	    strerror(ENOMEM));
	return -1;
}

void
wqd_observe_stop(struct wqd *d)
{
	struct wqd_observe *o = d->observe;

	if (o == NULL)
		return;
	wq_httpd_free(o->httpd);
	if (o->retry_ev != NULL)
		event_free(o->retry_ev);
	wq_report_free(o->report);
	wq_metrics_free(o->metrics);
	free(o);
	d->observe = NULL;
}

void
wqd_observe_reload(struct wqd *d)
{
	struct wqd_observe *o = d->observe;

	if (o == NULL)
		return;
	if (add_queues(o, d->conf) < 0 ||
	    wq_report_configure(o->report, d->conf) < 0)
		wq_log(WQ_LOG_WARNING, "workqd: reload: the metrics keep the "
		    "previous queues: %s", strerror(ENOMEM));
}

void
wqd_observe_leave(struct wqd *d, void (*done)(void *), void *arg)
{
	if (d->observe == NULL || d->observe->report == NULL) {
		done(arg);
		return;
	}
	wq_report_leave(d->observe->report, done, arg);
}

void
wqd_observe_ended(void *ctx, const struct wq_job *job, int64_t run_us)
{
	struct wqd *d = ctx;

	struct timeval tv;

	if (d->observe == NULL)
		return;
	/* libevent's time cached for this loop turn: a wait measured in ms
	   needs no clock read of its own per job. */
	if (event_base_gettimeofday_cached(wq_loop_base(d->loop), &tv) < 0)
		gettimeofday(&tv, NULL);
	wq_metrics_job_ended(d->observe->metrics, job, run_us,
	    (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

void
wqd_observe_refused(void *arg, const struct wq_job *job)
{
	struct wqd *d = arg;

	if (d->observe != NULL)
		wq_metrics_job_refused(d->observe->metrics, job);
}
