/*
 * The daemon (see daemon.h).
 *
 * DESIGN: wqd_run builds the parts in dependency order (config, loop,
 * executor, plugins, local queue, broker, worker pool), installs the
 * signal events and runs the loop; everything after that is driven by
 * events (stop.c, status.c).  Teardown runs only when no handler is still
 * running: otherwise exit() ends those threads.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon.h"
#include "host.h"
#include "job.h"
#include "log.h"
#include "module.h"
#include "observe.h"
#include "sdnotify.h"
#include "wqd.h"

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct wqd *d = arg;

	(void)what;
	if (sig == SIGHUP)
		wqd_reload(d);
	else
		wqd_stop(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void
fatal_cb(void *arg, const char *why)
{
	struct wqd *d = arg;

	(void)why;
	d->exit_code = WQD_EXIT_CONFIG;
	wqd_finish(d);
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
	if (gethostname(d->host, sizeof(d->host)) < 0)
		snprintf(d->host, sizeof(d->host), "localhost");
	d->host[sizeof(d->host) - 1] = '\0';
	if (d->conf->consumer != NULL)
		snprintf(d->consumer, sizeof(d->consumer), "%s",
		    d->conf->consumer);
	else
		snprintf(d->consumer, sizeof(d->consumer), "%s:%s", d->host,
		    d->opt->instance);
}

static int
events(struct wqd *d)
{
	struct event_base *base = wq_loop_base(d->loop);

	d->sig_term = evsignal_new(base, SIGTERM, signal_cb, d);
	d->sig_int = evsignal_new(base, SIGINT, signal_cb, d);
	d->sig_hup = evsignal_new(base, SIGHUP, signal_cb, d);
	if (d->sig_term == NULL || d->sig_int == NULL || d->sig_hup == NULL ||
	    event_add(d->sig_term, NULL) < 0 ||
	    event_add(d->sig_int, NULL) < 0 || event_add(d->sig_hup, NULL) < 0)
		return -1;
	return wqd_status_start(d);
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
	wqd_status_stop(d);
	free_event(d->deadline_ev);
	wqd_observe_stop(d);
	wq_broker_free(d->broker);
	wq_pool_free(d->pool);
	if (d->local != NULL)
		wq_queue_free(d->local);
	wq_registry_free(d->reg);
	wq_exec_free(d->exec);
	wq_loop_free(d->loop);
	wqd_reload_fini(d);
	wq_conf_free(d->conf);
	wq_job_cache_free();
}

static int
build(struct wqd *d)
{
	struct wq_pool_ops pops = { .resolve = resolve_cb,
	    .settle = settle_cb, .ended = wqd_observe_ended, .ctx = d };
	struct wq_broker_ops bops = { .fatal = fatal_cb,
	    .refused = wqd_observe_refused, .arg = d };
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
	d->broker_conf = d->boot_conf = d->conf;
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
	/* observe.c: metrics, /metrics and /healthz, reports to Redis. */
	if (wqd_observe_start(d) < 0)
		return WQD_EXIT_SOFTWARE;
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
	/* Static: when handlers still run at exit, teardown leaves the parts
	   to them, and they must stay reachable (for leak checkers too). */
	static struct wqd d;
	int rc;

	d = (struct wqd){ .opt = opt, .exit_code = WQD_EXIT_OK };
	LIST_INIT(&d.retired);
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
