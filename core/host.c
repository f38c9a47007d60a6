/*
 * The host table (see host.h).
 *
 * DESIGN: every function here is a thin adapter from the plugin ABI to a
 * core module; the only state is the process-wide context (loop, executor,
 * the loop thread's id) and the thread-local current plugin.  complete()
 * checks "exactly once" with an atomic exchange, because it may be called
 * from any thread, and hops to the loop with wq_loop_soon on the loop
 * thread (no syscall) or wq_loop_post elsewhere.  Submissions and timers
 * for plugins are small heap objects: they are not on the per-job hot path.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "host.h"
#include "log.h"
#include "module.h"
#include "yaml.h"

static struct {
	struct wq_loop	*loop;
	struct wq_exec	*exec;
	pthread_t	 loop_thread;
} ctx;

static __thread const char *cur_plugin;

void
wq_host_enter(const char *plugin, const struct wq_job *job)
{
	cur_plugin = plugin;
	if (ctx.loop != NULL && pthread_equal(pthread_self(), ctx.loop_thread))
		wq_loop_enter(ctx.loop, plugin,
		    job != NULL ? wq_job_id(job) : NULL);
}

void
wq_host_leave(void)
{
	if (ctx.loop != NULL && pthread_equal(pthread_self(), ctx.loop_thread))
		wq_loop_leave(ctx.loop);
	cur_plugin = NULL;
}

static void	host_log(int prio, const char *fmt, ...) WQ_PRINTF(2, 3);
static int	conf_error(const struct wq_node *node, const char *fmt, ...)
		    WQ_PRINTF(2, 3);
static void	job_error(struct wq_job *job, const char *fmt, ...)
		    WQ_PRINTF(2, 3);

static void
host_log(int prio, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (prio < WQ_LOG_ERR || prio > WQ_LOG_DEBUG)
		prio = WQ_LOG_INFO;
	wq_log(prio, "%s: %s", cur_plugin != NULL ? cur_plugin : "plugin",
	    msg);
}

static int
conf_error(const struct wq_node *node, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return wq_node_error(node, "%s", msg);
}

static const char *
kind(const struct wq_node *n)
{
	switch (wq_node_type(n)) {
	case WQ_NODE_MAP:
		return "a mapping";
	case WQ_NODE_SEQ:
		return "a sequence";
	default:
		return "a scalar";
	}
}

/* conf_strv's sibling for {name: value} mappings, written against yaml.h's
   public node API. */
static int
conf_strmap(const struct wq_node *map, const char *key, const char **names,
    const char **vals, size_t max, size_t *n)
{
	const struct wq_node *v, *item;
	size_t len;

	if (map == NULL)
		return 1;
	if (wq_node_type(map) != WQ_NODE_MAP)
		return wq_node_error(map, "expected a mapping, got %s",
		    kind(map));
	if ((v = wq_node_get(map, key)) == NULL)
		return 1;
	if (wq_node_type(v) == WQ_NODE_SCALAR && wq_node_null(v)) {
		*n = 0;
		return 0;
	}
	if (wq_node_type(v) != WQ_NODE_MAP)
		return wq_node_error(v, "%s: expected a mapping of strings, "
		    "got %s", key, kind(v));
	if ((len = wq_node_len(v)) > max)
		return wq_node_error(v, "%s: more than %zu entries", key, max);
	for (size_t i = 0; i < len; i++) {
		item = wq_node_at(v, i, &names[i]);
		if (wq_node_type(item) != WQ_NODE_SCALAR)
			return wq_node_error(item, "%s: %s: expected a string, "
			    "got %s", key, names[i], kind(item));
		vals[i] = wq_node_null(item) ? "" : wq_node_scalar(item);
	}
	*n = len;
	return 0;
}

static const char *
job_id(const struct wq_job *job)
{
	return wq_job_id(job);
}

static const char *
job_queue(const struct wq_job *job)
{
	return job->queue;
}

static const char *
job_payload(const struct wq_job *job, size_t *len)
{
	if (len != NULL)
		*len = job->entry.payload_len;
	return job->entry.payload;
}

static const char *
job_field(const struct wq_job *job, const char *name, size_t *len)
{
	const struct wq_field *f = wq_job_field(job, name);

	if (f == NULL)
		return NULL;
	if (len != NULL)
		*len = f->vlen;
	return f->val;
}

static int
job_field_at(const struct wq_job *job, size_t i, const char **name,
    const char **val, size_t *vlen)
{
	if (i >= job->nfields)
		return -1;
	*name = job->fields[i].name;
	*val = job->fields[i].val;
	if (vlen != NULL)
		*vlen = job->fields[i].vlen;
	return 0;
}

static uint32_t
job_attempt(const struct wq_job *job)
{
	return job->entry.attempt;
}

/* Computed when asked: the hot path reads one clock per job, not two. */
static int64_t
job_deadline(const struct wq_job *job)
{
	return wq_clock_wall_ms() + job->started_us / 1000 + job->timeout_ms -
	    wq_clock_mono_ms();
}

static int
job_cancelled(const struct wq_job *job)
{
	return atomic_load(&((struct wq_job *)job)->cancelled);
}

static void
job_error(struct wq_job *job, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(job->error, sizeof(job->error), fmt, ap);
	va_end(ap);
}

static void
job_retry_in(struct wq_job *job, int64_t ms)
{
	job->retry_in_ms = ms < 0 ? 0 : ms;
}

static void
job_progress(struct wq_job *job, int percent, const char *what)
{
	wq_log(WQ_LOG_INFO, "%s: job %s: %d%%%s%s",
	    cur_plugin != NULL ? cur_plugin : job->plugin, wq_job_id(job),
	    percent, what != NULL ? ": " : "", what != NULL ? what : "");
}

static void
complete(struct wq_job *job, enum wq_outcome outcome)
{
	if (atomic_exchange(&job->completed, 1) != 0) {
		wq_log(WQ_LOG_ERR, "%s: job %s completed twice; ignored",
		    job->plugin, wq_job_id(job));
		return;
	}
	job->outcome = outcome == WQ_PENDING ? WQ_FAIL : outcome;
	if (outcome == WQ_PENDING)
		snprintf(job->error, sizeof(job->error),
		    "completed with WQ_PENDING");
	if (pthread_equal(pthread_self(), ctx.loop_thread))
		wq_loop_soon(ctx.loop, &job->call);
	else
		wq_loop_post(ctx.loop, &job->call);
}

struct submission {
	struct wq_exec_task	 task;
	void			(*fn)(void *);
	void			(*done)(void *);
	void			*arg;
	const char		*plugin;
};

static void
submission_run(struct wq_exec_task *task)
{
	struct submission *s = (struct submission *)task;

	wq_host_enter(s->plugin, NULL);
	s->fn(s->arg);
	wq_host_leave();
}

static void
submission_done(struct wq_exec_task *task)
{
	struct submission *s = (struct submission *)task;

	wq_host_enter(s->plugin, NULL);
	if (s->done != NULL)
		s->done(s->arg);
	wq_host_leave();
	free(s);
}

static int
submit(void (*fn)(void *), void (*done)(void *), void *arg)
{
	struct submission *s;

	if (ctx.exec == NULL || fn == NULL || (s = calloc(1, sizeof(*s))) ==
	    NULL)
		return -1;
	s->task.fn = submission_run;
	s->task.done = submission_done;
	s->fn = fn;
	s->done = done;
	s->arg = arg;
	s->plugin = cur_plugin;
	if (wq_exec_submit(ctx.exec, &s->task) < 0) {
		free(s);
		return -1;
	}
	return 0;
}

struct wq_timer {
	struct event	*ev;
	void		(*cb)(void *);
	void		*arg;
	const char	*plugin;
};

static void
timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct wq_timer *t = arg;

	(void)fd;
	(void)what;
	wq_host_enter(t->plugin, NULL);
	t->cb(t->arg);
	wq_host_leave();
	event_free(t->ev);
	free(t);
}

static struct wq_timer *
timer_add(int64_t ms, void (*cb)(void *), void *arg)
{
	struct timeval tv;
	struct wq_timer *t;

	if (ctx.loop == NULL || cb == NULL || (t = calloc(1, sizeof(*t))) ==
	    NULL)
		return NULL;
	ms = ms < 0 ? 0 : ms;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	t->cb = cb;
	t->arg = arg;
	t->plugin = cur_plugin;
	t->ev = evtimer_new(wq_loop_base(ctx.loop), timer_fire, t);
	if (t->ev == NULL || evtimer_add(t->ev, &tv) < 0) {
		if (t->ev != NULL)
			event_free(t->ev);
		free(t);
		return NULL;
	}
	return t;
}

static void
timer_cancel(struct wq_timer *t)
{
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t);
}

static void *
event_base(void)
{
	return ctx.loop != NULL ? wq_loop_base(ctx.loop) : NULL;
}

static const struct wq_host table = {
	.abi = WQ_PLUGIN_ABI,
	.size = sizeof(struct wq_host),
	.log = host_log,
	.conf_str = wq_node_str,
	.conf_int = wq_node_int,
	.conf_bool = wq_node_bool,
	.conf_ms = wq_node_ms,
	.conf_strv = wq_node_strv,
	.conf_keys = wq_node_keys,
	.conf_error = conf_error,
	.job_id = job_id,
	.job_queue = job_queue,
	.job_payload = job_payload,
	.job_field = job_field,
	.job_field_at = job_field_at,
	.job_attempt = job_attempt,
	.job_deadline = job_deadline,
	.job_cancelled = job_cancelled,
	.job_error = job_error,
	.job_retry_in = job_retry_in,
	.job_progress = job_progress,
	.complete = complete,
	.submit = submit,
	.timer_add = timer_add,
	.timer_cancel = timer_cancel,
	.event_base = event_base,
	.conf_node = wq_node_get,	/* NULL for a NULL map or not one */
	.conf_strmap = conf_strmap,
};

const struct wq_host *
wq_host_init(struct wq_loop *loop, struct wq_exec *exec)
{
	ctx.loop = loop;
	ctx.exec = exec;
	ctx.loop_thread = pthread_self();
	return &table;
}

const struct wq_host *
wq_host(void)
{
	return &table;
}
