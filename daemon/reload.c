/*
 * SIGHUP: the config file and the plugins, applied anew while jobs run.
 *
 * DESIGN: a reload first builds everything it needs and only then changes
 * anything, so a failure at any step leaves the daemon exactly as it was:
 * the new file is parsed and checked (wq_conf_load), then every plugin it
 * lists is opened, checked and initialized into a new registry.  Either
 * error is logged with its position and the running config is kept.
 *
 * What can change under running jobs is applied in place: the log level
 * and format, the number of workers, the local queue's bound, the stall
 * threshold, the queues (limits, policies, order, new queues) and the
 * janitor's timing.  Plugins are hot-swapped: the new registry answers
 * every job that starts from now on (also jobs already fetched), while
 * jobs running on an old module keep it alive until they end (modules
 * are reference counted, module.h).  What the running parts were built
 * from and cannot change in flight (the Redis connection, the consumer
 * name, the executor, the group, the key prefix and the HTTP endpoint)
 * is reported as needing a restart and left as it is; it is compared with
 * the config the daemon started with, which is therefore kept to the end.
 *
 * Lifetime: a plugin borrows its config subtree until fini, and the
 * broker keeps the config it was last given, so a replaced config cannot
 * be freed at the swap.  It goes on the retired list and is freed once
 * the registry loaded from it says its last module is closed and neither
 * the daemon nor the broker still uses it; a reload with no job running
 * frees the previous config at once, so configs never pile up (the one
 * the daemon started with stays: see restart_only()).
 *
 * systemd is told RELOADING=1 (with MONOTONIC_USEC=, as systemd.service(5)
 * asks) before and READY=1 after, whatever the outcome.  Loop thread only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "host.h"
#include "log.h"
#include "observe.h"
#include "sdnotify.h"
#include "wqd.h"

struct wqd_retired {
	LIST_ENTRY(wqd_retired)	 link;
	struct wqd		*d;
	struct wq_conf		*conf;
	int			 lent;	/* its plugins are not all closed */
};

/* What a reload reports, built up as it goes. */
struct changes {
	char	text[768];
	size_t	len;
};

static void note(struct changes *c, const char *fmt, ...) WQ_PRINTF(2, 3);

static void
note(struct changes *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->len >= sizeof(c->text) - 1)
		return;
	if (c->len > 0)
		c->len += (size_t)snprintf(c->text + c->len,
		    sizeof(c->text) - c->len, ", ");
	va_start(ap, fmt);
	n = vsnprintf(c->text + c->len, sizeof(c->text) - c->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->len += (size_t)n;
	if (c->len > sizeof(c->text) - 1)
		c->len = sizeof(c->text) - 1;
}

static int
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static const char *
shown(const char *s)
{
	return s != NULL ? s : "(none)";
}

/* Logs one setting that only a restart can change; 1 if it changed. */
static int
fixed_str(const char *key, const char *now, const char *next)
{
	if (same(now, next))
		return 0;
	wq_log(WQ_LOG_WARNING, "workqd: reload: %s changed to %s: needs a "
	    "restart; still using %s", key, shown(next), shown(now));
	return 1;
}

static int
fixed_num(const char *key, long long now, long long next)
{
	if (now == next)
		return 0;
	wq_log(WQ_LOG_WARNING, "workqd: reload: %s changed to %lld: needs a "
	    "restart; still using %lld", key, next, now);
	return 1;
}

/* Reports every setting that cannot change live; returns whether the key
   prefix changed (then the queues cannot be reconfigured either). */
static int
restart_only(const struct wq_conf *now, const struct wq_conf *next)
{
	const struct wq_conf_redis *a = &now->redis, *b = &next->redis;

	fixed_str("redis.address", a->address, b->address);
	fixed_str("redis.user", a->user, b->user);
	fixed_str("redis.password_file", a->password_file, b->password_file);
	fixed_str("redis.group", a->group, b->group);
	fixed_num("redis.connect_timeout", a->connect_timeout_ms,
	    b->connect_timeout_ms);
	fixed_num("redis.command_timeout", a->command_timeout_ms,
	    b->command_timeout_ms);
	fixed_str("consumer", now->consumer, next->consumer);
	fixed_num("executor.threads", now->exec_threads, next->exec_threads);
	fixed_num("executor.queue", now->exec_queue, next->exec_queue);
	fixed_num("http.enabled", now->http.enabled, next->http.enabled);
	if (now->http.enabled && next->http.enabled)
		fixed_str("http.listen", now->http.listen, next->http.listen);
	if (!fixed_str("redis.prefix", a->prefix, b->prefix))
		return 0;
	wq_log(WQ_LOG_WARNING, "workqd: reload: the queues keep their "
	    "settings until that restart");
	return 1;
}

/* Frees every retired config nobody uses any more. */
static void
sweep(struct wqd *d)
{
	struct wqd_retired *r, *next;

	for (r = LIST_FIRST(&d->retired); r != NULL; r = next) {
		next = LIST_NEXT(r, link);
		if (r->lent || r->conf == d->conf ||
		    r->conf == d->broker_conf || r->conf == d->boot_conf)
			continue;
		LIST_REMOVE(r, link);
		wq_conf_free(r->conf);
		free(r);
	}
}

/* Older configs still kept for jobs or the broker (not the boot one). */
static unsigned
kept(const struct wqd *d)
{
	const struct wqd_retired *r;
	unsigned n = 0;

	LIST_FOREACH(r, &d->retired, link)
		n += r->conf != d->boot_conf;
	return n;
}

/* The registry loaded from r->conf has closed its last module. */
static void
plugins_gone(void *arg)
{
	struct wqd_retired *r = arg;

	r->lent = 0;
	sweep(r->d);
}

static void
apply_pool(struct wqd *d, const struct wq_conf *conf, struct changes *c)
{
	if (conf->workers != d->conf->workers) {
		if (wq_pool_resize(d->pool, conf->workers) < 0)
			wq_log(WQ_LOG_ERR, "workqd: reload: cannot resize the "
			    "pool to %u workers: %m", conf->workers);
		else
			note(c, "workers %u -> %u", d->conf->workers,
			    conf->workers);
	}
	if (conf->prefetch != d->conf->prefetch) {
		if (wq_queue_set_maxsize(d->local, (int)conf->prefetch) < 0)
			wq_log(WQ_LOG_ERR, "workqd: reload: cannot set prefetch "
			    "to %u: %m", conf->prefetch);
		else
			note(c, "prefetch %u -> %u", d->conf->prefetch,
			    conf->prefetch);
	}
	if (conf->stall_ms != d->conf->stall_ms) {
		wq_loop_set_stall(d->loop, conf->stall_ms);
		note(c, "stall_threshold %lld -> %lld ms",
		    (long long)d->conf->stall_ms, (long long)conf->stall_ms);
	}
	if (conf->shutdown_timeout_ms != d->conf->shutdown_timeout_ms)
		note(c, "shutdown_timeout %lld -> %lld ms",
		    (long long)d->conf->shutdown_timeout_ms,
		    (long long)conf->shutdown_timeout_ms);
}

static void
apply_queues(struct wqd *d, const struct wq_conf *conf, int keep,
    struct changes *c)
{
	if (keep)
		return;
	if (wq_broker_configure(d->broker, conf) < 0) {
		wq_log(WQ_LOG_ERR, "workqd: reload: cannot apply the queues: "
		    "%m; they keep their settings");
		return;
	}
	d->broker_conf = conf;
	note(c, "%zu queue(s)", conf->nqueues);
}

static const char *const level_names[] = {
	[WQ_LOG_ERR] = "err", [WQ_LOG_WARNING] = "warning",
	[WQ_LOG_NOTICE] = "notice", [WQ_LOG_INFO] = "info",
	[WQ_LOG_DEBUG] = "debug",
};

static void
apply_log(const struct wq_conf *now, const struct wq_conf *next,
    struct changes *c)
{
	if (next->log_level != now->log_level)
		note(c, "log level %s -> %s", level_names[now->log_level],
		    level_names[next->log_level]);
	if (next->log_format != now->log_format)
		note(c, "log format %s -> %s",
		    now->log_format == WQ_LOG_JSON ? "json" : "journal",
		    next->log_format == WQ_LOG_JSON ? "json" : "journal");
}

/* Swaps in conf and reg; the old pair is retired (see DESIGN). */
static void
swap(struct wqd *d, struct wq_conf *conf, struct wq_registry *reg,
    struct wqd_retired *r)
{
	struct wq_registry *old = d->reg;

	r->d = d;
	r->conf = d->conf;
	r->lent = 1;
	LIST_INSERT_HEAD(&d->retired, r, link);
	d->reg = reg;
	d->conf = conf;
	wq_registry_retire(old, plugins_gone, r);
	sweep(d);
}

/* Loads the file and its plugins; NULL (logged) if either is refused. */
static struct wq_conf *
prepare(struct wqd *d, struct wq_registry **reg)
{
	char err[1024];
	struct wq_conf *conf;

	if ((conf = wq_conf_load(d->opt->config, err, sizeof(err))) == NULL) {
		wq_log(WQ_LOG_ERR, "workqd: reload refused: %s; keeping the "
		    "running configuration", err);
		return NULL;
	}
	if ((*reg = wq_registry_load(conf, wq_host(), 0, err,
	    sizeof(err))) == NULL) {
		wq_log(WQ_LOG_ERR, "workqd: reload refused: %s; keeping the "
		    "running configuration and plugins", err);
		wq_conf_free(conf);
		return NULL;
	}
	return conf;
}

void
wqd_reload(struct wqd *d)
{
	struct changes c = { .len = 0 };
	struct wq_registry *reg;
	struct wq_conf *conf;
	struct wqd_retired *r;

	if (d->stopping) {
		wq_log(WQ_LOG_NOTICE, "workqd: SIGHUP while stopping: ignored");
		return;
	}
	wqd_notify("RELOADING=1\nMONOTONIC_USEC=%lld\nSTATUS=reloading %s",
	    (long long)wq_clock_mono_us(), d->opt->config);
	wq_log(WQ_LOG_NOTICE, "workqd: SIGHUP: reloading %s", d->opt->config);
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		wq_log(WQ_LOG_ERR, "workqd: reload refused: out of memory");
		goto ready;
	}
	if ((conf = prepare(d, &reg)) == NULL) {
		free(r);
		goto ready;
	}
	apply_log(d->conf, conf, &c);
	apply_pool(d, conf, &c);
	apply_queues(d, conf, restart_only(d->boot_conf, conf), &c);
	note(&c, "%zu plugin(s) loaded anew", wq_registry_len(reg));
	swap(d, conf, reg, r);
	/* The metrics and reports follow the queues the broker runs. */
	if (d->broker_conf == d->conf)
		wqd_observe_reload(d);
	wq_log(WQ_LOG_NOTICE, "workqd: reloaded %s: %s", d->opt->config,
	    c.text);
	wq_log(WQ_LOG_DEBUG, "workqd: reload: %u older config(s) kept for "
	    "running jobs", kept(d));
	wq_log_set_level(conf->log_level);
	wq_log_set_format(conf->log_format);
ready:
	wqd_status_send(d, "READY=1");
}

void
wqd_reload_fini(struct wqd *d)
{
	struct wqd_retired *r;

	/* The process ends: what old plugins still borrow is never read. */
	while ((r = LIST_FIRST(&d->retired)) != NULL) {
		LIST_REMOVE(r, link);
		wq_conf_free(r->conf);
		free(r);
	}
}
