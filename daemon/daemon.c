/*
 * The daemon (see daemon.h).
 *
 * DESIGN: wqd_run builds the parts in dependency order (config, loop,
 * executor, plugins, local queue, broker, worker pool), installs the
 * signal events and runs the loop.  Everything after that is driven by
 * events.  A stop runs three things at once and waits for the first two:
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
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "broker.h"
#include "clock.h"
#include "conf.h"
#include "daemon.h"
#include "exec.h"
#include "host.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "module.h"
#include "queue.h"
#include "registry.h"
#include "sdnotify.h"
#include "worker.h"

#define STATUS_MS	1000
#define FLUSH_GRACE_MS	2000

struct wqd {
	const struct wqd_options *opt;
	struct wq_conf		*conf;
	struct wq_loop		*loop;
	struct wq_exec		*exec;
	struct wq_registry	*reg;
	struct wq_queue		*local;
	struct wq_broker	*broker;
	struct wq_pool		*pool;
	char			 consumer[256];
	struct event		*sig_term;
	struct event		*sig_int;
	struct event		*sig_hup;
	struct event		*status_ev;
	struct event		*watchdog_ev;
	struct event		*deadline_ev;
	int			 stopping;
	int			 stop_waits;
	int			 finished;
	int			 exit_code;
	uint64_t		 last_acked;
	int64_t			 last_status_us;
};

static void
finish(struct wqd *d)
{
	if (d->finished++)
		return;
	wq_loop_stop(d->loop);
}

static void
left(void *arg)
{
	finish(arg);
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
		finish(d);
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

static void
stop(struct wqd *d, const char *why)
{
	struct timeval tv = WQ_TV_MS(d->conf->shutdown_timeout_ms);
	struct wq_pool_stats ps;

	if (d->stopping) {
		wq_log(WQ_LOG_NOTICE, "workqd: %s again: exiting now; what was "
		    "not recorded stays pending in Redis", why);
		finish(d);
		return;
	}
	d->stopping = 1;
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

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct wqd *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		wq_log(WQ_LOG_NOTICE, "workqd: SIGHUP: reloading is not "
		    "supported yet; restart to apply changes");
		return;
	}
	stop(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

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

static void
fatal_cb(void *arg, const char *why)
{
	struct wqd *d = arg;

	(void)why;
	d->exit_code = WQD_EXIT_CONFIG;
	finish(d);
}

static struct wq_module *
resolve_cb(void *ctx, struct wq_job *job)
{
	struct wqd *d = ctx;
	struct wq_module *m = wq_registry_get(d->reg, job->plugin);

	if (m == NULL) {
		wq_job_fault(job, "field 'plugin': no plugin '%s' is loaded",
		    job->plugin);
		return NULL;
	}
	wq_module_ref(m);
	return m;
}

static void
settle_cb(void *ctx, struct wq_job *job)
{
	struct wqd *d = ctx;

	wq_broker_settle(d->broker, job);
}

static void
consumer_name(struct wqd *d)
{
	char host[200];

	if (d->conf->consumer != NULL) {
		snprintf(d->consumer, sizeof(d->consumer), "%s",
		    d->conf->consumer);
		return;
	}
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(d->consumer, sizeof(d->consumer), "%s:%s", host,
	    d->opt->instance);
}

static int
events(struct wqd *d)
{
	struct event_base *base = wq_loop_base(d->loop);
	int64_t wd = wqd_notify_watchdog_usec();
	struct timeval st = WQ_TV_MS(STATUS_MS);
	struct timeval wt = { .tv_sec = wd / 2000000,
	    .tv_usec = (wd / 2) % 1000000 };

	d->sig_term = evsignal_new(base, SIGTERM, signal_cb, d);
	d->sig_int = evsignal_new(base, SIGINT, signal_cb, d);
	d->sig_hup = evsignal_new(base, SIGHUP, signal_cb, d);
	d->status_ev = event_new(base, -1, EV_PERSIST, status_cb, d);
	d->watchdog_ev = event_new(base, -1, EV_PERSIST, watchdog_cb, d);
	d->deadline_ev = evtimer_new(base, deadline_cb, d);
	if (d->sig_term == NULL || d->sig_int == NULL || d->sig_hup == NULL ||
	    d->status_ev == NULL || d->watchdog_ev == NULL ||
	    d->deadline_ev == NULL || event_add(d->sig_term, NULL) < 0 ||
	    event_add(d->sig_int, NULL) < 0 || event_add(d->sig_hup, NULL) < 0 ||
	    event_add(d->status_ev, &st) < 0)
		return -1;
	if (wd > 0 && event_add(d->watchdog_ev, &wt) < 0)
		return -1;
	return 0;
}

static void
free_event(struct event *ev)
{
	if (ev != NULL)
		event_free(ev);
}

static void
teardown(struct wqd *d)
{
	struct wq_pool_stats ps = { 0 };

	if (d->pool != NULL)
		wq_pool_stats(d->pool, &ps);
	if (ps.busy > 0 || ps.held > 0)
		return;		/* handlers still run: let exit() end them */
	free_event(d->sig_term);
	free_event(d->sig_int);
	free_event(d->sig_hup);
	free_event(d->status_ev);
	free_event(d->watchdog_ev);
	free_event(d->deadline_ev);
	wq_broker_free(d->broker);
	wq_pool_free(d->pool);
	if (d->local != NULL)
		wq_queue_free(d->local);
	wq_registry_free(d->reg);
	wq_exec_free(d->exec);
	wq_loop_free(d->loop);
	wq_conf_free(d->conf);
	wq_job_cache_free();
}

static int
build(struct wqd *d)
{
	struct wq_pool_ops pops = { .resolve = resolve_cb,
	    .settle = settle_cb, .ctx = d };
	struct wq_broker_ops bops = { .fatal = fatal_cb, .arg = d };
	char err[1024];

	if ((d->loop = wq_loop_new()) == NULL ||
	    (d->exec = wq_exec_new(d->loop, d->conf->exec_threads,
	    d->conf->exec_queue)) == NULL) {
		wq_log(WQ_LOG_ERR, "workqd: cannot start: %m");
		return WQD_EXIT_SOFTWARE;
	}
	d->reg = wq_registry_load(d->conf, wq_host_init(d->loop, d->exec), 0,
	    err, sizeof(err));
	if (d->reg == NULL) {
		wq_log(WQ_LOG_ERR, "%s", err);
		return WQD_EXIT_CONFIG;
	}
	if ((d->local = wq_queue_new(d->loop, (int)d->conf->prefetch)) ==
	    NULL ||
	    (d->broker = wq_broker_new(d->loop, d->conf, d->consumer,
	    d->local, &bops)) == NULL ||
	    (d->pool = wq_pool_new(d->loop, d->local, d->exec,
	    d->conf->workers, &pops)) == NULL || events(d) < 0) {
		wq_log(WQ_LOG_ERR, "workqd: cannot start: %m");
		return WQD_EXIT_SOFTWARE;
	}
	wq_loop_set_stall(d->loop, d->conf->stall_ms);
	return WQD_EXIT_OK;
}

static void
announce(const struct wqd *d)
{
	char queues[512] = "";
	size_t len = 0;

	for (size_t i = 0; i < d->conf->nqueues && len < sizeof(queues); i++)
		len += (size_t)snprintf(queues + len, sizeof(queues) - len,
		    "%s%s", i > 0 ? ", " : "", d->conf->queues[i].name);
	wq_log(WQ_LOG_NOTICE, "workqd %s: consumer %s; %u workers, prefetch "
	    "%u, %u executor threads; queues %s; redis %s", WQ_VERSION,
	    d->consumer, d->conf->workers, d->conf->prefetch,
	    d->conf->exec_threads, queues, d->conf->redis.address);
}

static struct wq_conf *
load(const char *path)
{
	char err[1024];
	struct wq_conf *conf = wq_conf_load(path, err, sizeof(err));

	if (conf == NULL)
		wq_log(WQ_LOG_ERR, "%s", err);
	return conf;
}

int
wqd_run(const struct wqd_options *opt)
{
	struct wqd d = { .opt = opt, .exit_code = WQD_EXIT_OK };
	int rc;

	if ((d.conf = load(opt->config)) == NULL)
		return WQD_EXIT_CONFIG;
	wq_log_set_level(d.conf->log_level);
	wq_log_set_format(d.conf->log_format);
	consumer_name(&d);
	if ((rc = build(&d)) != WQD_EXIT_OK) {
		teardown(&d);
		return rc;
	}
	announce(&d);
	wq_broker_start(d.broker);
	wq_pool_start(d.pool);
	wqd_notify("READY=1\nSTATUS=started; connecting to redis %s",
	    d.conf->redis.address);
	if (wq_loop_run(d.loop) < 0) {
		wq_log(WQ_LOG_ERR, "workqd: event loop failed");
		d.exit_code = WQD_EXIT_SOFTWARE;
	}
	teardown(&d);
	return d.exit_code;
}

int
wqd_check(const struct wqd_options *opt)
{
	char err[1024];
	struct wq_conf *conf = wq_conf_load(opt->config, err, sizeof(err));
	struct wq_registry *reg;

	if (conf == NULL) {
		fprintf(stderr, "%s\n", err);
		return WQD_EXIT_CONFIG;
	}
	wq_log_set_level(WQ_LOG_WARNING);
	reg = wq_registry_load(conf, wq_host_init(NULL, NULL), 1, err,
	    sizeof(err));
	if (reg == NULL) {
		fprintf(stderr, "%s\n", err);
		wq_conf_free(conf);
		return WQD_EXIT_CONFIG;
	}
	wq_registry_free(reg);
	wq_conf_free(conf);
	printf("configuration OK\n");
	return WQD_EXIT_OK;
}
