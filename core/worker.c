/*
 * The worker pool (see worker.h).
 *
 * DESIGN: a worker is a small state machine driven by callbacks on the loop:
 *
 *   GETTING --job--> [expired? unknown plugin? -> refuse]
 *           --> SEM (waiting for the queue's permit) --> RUNNING
 *   RUNNING --handler finished | timeout--> finish --> GETTING ...
 *
 * cycle() runs the machine for as long as each step completes at once (a
 * job already in the queue, an async handler that answers at once), so a
 * busy worker loops instead of recursing; it returns as soon as a step has
 * to wait, and the waiting step's callback calls cycle() again.
 *
 * A running job has two references: the worker's and the handler's.  The
 * handler's is dropped when the handler finishes (complete() for async
 * handlers, the executor's done for blocking ones); the worker's goes to
 * the settler.  A timeout makes the worker finish first; the handler's late
 * finish then only drops its reference (and, for a blocking handler, the
 * count of held executor threads).  Workers are freed only with the pool.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "host.h"
#include "log.h"
#include "module.h"
#include "sem.h"
#include "worker.h"

#define DEFAULT_TIMEOUT_MS	30000

enum state {
	W_IDLE = 0,
	W_GETTING,
	W_SEM,
	W_RUNNING,
	W_STOPPED
};

struct worker {
	TAILQ_ENTRY(worker)	 link;
	struct wq_pool		*pool;
	unsigned		 index;
	enum state		 state;
	int			 sem_held;
	struct wq_queue_waiter	 qw;
	struct wq_sem_waiter	 sw;
	struct event		*timer;
	struct wq_job		*job;
	struct wq_call		 kick;
};

struct wq_pool {
	struct wq_loop		*loop;
	struct wq_queue		*local;
	struct wq_exec		*exec;
	struct wq_pool_ops	 ops;
	TAILQ_HEAD(, worker)	 workers;
	unsigned		 nworkers;
	unsigned		 target;
	unsigned		 busy;
	unsigned		 held;
	uint64_t		 started;
	uint64_t		 timed_out;
	uint64_t		 rng;
	int			 running;
	int			 draining;
	void			(*drained)(void *);
	void			*drained_arg;
	struct wq_call		 drain_call;
};

static void	cycle(struct worker *w);

/* xorshift64*: the jitter needs spread, not secrecy. */
static double
rnd(struct wq_pool *pool)
{
	pool->rng ^= pool->rng >> 12;
	pool->rng ^= pool->rng << 25;
	pool->rng ^= pool->rng >> 27;
	return (double)((pool->rng * 2685821657736338717ULL) >> 11) /
	    9007199254740992.0;
}

static int
job_async(const struct wq_job *job)
{
	return wq_module_async(job->module);
}

static void
log_end(const struct wq_job *job, int64_t run_us)
{
	struct wq_log_job lj = {
		.id = wq_job_id(job), .queue = job->queue,
		.plugin = job->plugin, .attempt = job->entry.attempt,
		.duration_ms = run_us / 1000,
	};

	switch (job->verdict) {
	case WQ_VERDICT_ACK:
		lj.outcome = "done";
		wq_log_job(WQ_LOG_DEBUG, &lj, "job %s done in %lld ms",
		    lj.id, (long long)lj.duration_ms);
		break;
	case WQ_VERDICT_RETRY:
		lj.outcome = job->timed_out ? "timeout" : "retry";
		wq_log_job(WQ_LOG_WARNING, &lj, "job %s (attempt %u) failed: "
		    "%s; retry in %lld ms", lj.id, lj.attempt,
		    wq_job_last_error(job), (long long)(job->due_ms -
		    wq_clock_wall_ms()));
		break;
	case WQ_VERDICT_DEAD:
		lj.outcome = "dead";
		wq_log_job(WQ_LOG_WARNING, &lj, "job %s dead-lettered (%s): %s",
		    lj.id, wq_reason_name(job->reason),
		    wq_job_last_error(job));
		break;
	default:
		lj.outcome = "handed back";
		wq_log_job(WQ_LOG_DEBUG, &lj, "job %s handed back", lj.id);
		break;
	}
}

static void
drain_cb(struct wq_call *call)
{
	struct wq_pool *pool = (struct wq_pool *)((char *)call -
	    offsetof(struct wq_pool, drain_call));

	if (pool->drained != NULL && pool->busy == 0) {
		void (*fn)(void *) = pool->drained;

		pool->drained = NULL;
		fn(pool->drained_arg);
	}
}

static void
check_drained(struct wq_pool *pool)
{
	if (pool->draining && pool->busy == 0 && pool->drained != NULL)
		wq_loop_soon(pool->loop, &pool->drain_call);
}

/* A handler that gave up because workqd is stopping (it saw the cancelled
   flag and asked for a retry, with no delay of its own) is handed back at
   once, without counting an attempt, even its last one: the stop is not
   the job's failure.  Another daemon runs it. */
static int
gave_up_for_stop(const struct wq_pool *pool, const struct wq_job *job)
{
	return pool->draining && job->result == WQ_RETRY && !job->timed_out &&
	    job->retry_in_ms < 0;
}

/* Ends the worker's job: verdict, log, settle, task_done. */
static void
finish(struct worker *w, int decided)
{
	struct wq_pool *pool = w->pool;
	struct wq_job *job = w->job;
	int64_t run_us = job->started_us != 0 ?
	    wq_clock_mono_us() - job->started_us : 0;

	w->job = NULL;
	w->state = W_IDLE;
	pool->busy--;
	if (w->sem_held) {
		wq_sem_release(job->sem);
		w->sem_held = 0;
	}
	if (!decided && gave_up_for_stop(pool, job)) {
		job->verdict = WQ_VERDICT_HANDBACK;
		job->reason = WQ_REASON_NONE;
	} else if (!decided)	/* only a retry needs the time */
		wq_job_verdict(job, job->result == WQ_DONE ? 0 :
		    wq_clock_wall_ms(), rnd(pool));
	log_end(job, run_us);
	if (pool->ops.ended != NULL)
		pool->ops.ended(pool->ops.ctx, job, run_us);
	pool->ops.settle(pool->ops.ctx, job);
	if (wq_queue_task_done(pool->local) < 0)
		wq_log(WQ_LOG_ERR, "worker: task_done: %m");
	check_drained(pool);
}

static void
refuse(struct worker *w, enum wq_verdict verdict, enum wq_reason reason)
{
	w->job->verdict = verdict;
	w->job->reason = reason;
	finish(w, 1);
}

static void
handler_release(struct wq_job *job)
{
	wq_module_unref(job->module);
	wq_job_unref(job);
}

/* The handler finished: loop thread. */
static void
handler_finished(struct wq_job *job)
{
	struct worker *w = job->owner;

	if (w->job != job) {		/* it overran; the worker moved on */
		if (!job_async(job))
			w->pool->held--;
		handler_release(job);
		return;
	}
	evtimer_del(w->timer);
	job->result = job->outcome;
	handler_release(job);
	finish(w, 0);
	cycle(w);
}

static void
async_complete(struct wq_call *call)
{
	handler_finished((struct wq_job *)((char *)call -
	    offsetof(struct wq_job, call)));
}

static void
exec_run(struct wq_exec_task *task)
{
	struct wq_job *job = (struct wq_job *)((char *)task -
	    offsetof(struct wq_job, task));
	const struct wq_plugin *desc = wq_module_desc(job->module);
	enum wq_outcome out;

	wq_host_enter(job->plugin, job);
	out = desc->run(wq_module_state(job->module), job);
	wq_host_leave();
	atomic_store(&job->completed, 1);
	job->outcome = out == WQ_PENDING ? WQ_FAIL : out;
}

static void
exec_done(struct wq_exec_task *task)
{
	struct wq_job *job = (struct wq_job *)((char *)task -
	    offsetof(struct wq_job, task));

	if (!wq_exec_task_ran(task)) {
		job->outcome = WQ_RETRY;
		snprintf(job->error, sizeof(job->error), "not run: stopping");
	}
	handler_finished(job);
}

/* Timeout: an async handler is asked to stop through its cancel hook. */
static void
cancel_async(struct wq_job *job)
{
	const struct wq_plugin *desc = wq_module_desc(job->module);

	if (desc->cancel == NULL)
		return;
	wq_host_enter(job->plugin, job);
	desc->cancel(wq_module_state(job->module), job);
	wq_host_leave();
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct wq_job *job = w->job;

	(void)fd;
	(void)what;
	job->timed_out = 1;
	atomic_store(&job->cancelled, 1);
	job->result = WQ_FAIL;
	wq_job_fault(job, "timed out after %lld ms", (long long)job->timeout_ms);
	w->pool->timed_out++;
	if (job_async(job))
		cancel_async(job);	/* complete() will follow */
	else if (wq_exec_cancel(&job->task) == 0)
		handler_release(job);	/* never started: nothing holds it */
	else {
		wq_exec_abandon(&job->task);
		w->pool->held++;
		wq_log(WQ_LOG_WARNING, "worker: job %s overran; %u executor "
		    "thread(s) held by overrunning handlers", wq_job_id(job),
		    w->pool->held);
	}
	finish(w, 0);
	cycle(w);
}

static int64_t
job_timeout(const struct wq_job *job)
{
	const struct wq_plugin *desc = wq_module_desc(job->module);

	if (job->entry.timeout_ms > 0)
		return job->entry.timeout_ms;
	if (job->policy.timeout_ms > 0)
		return job->policy.timeout_ms;
	return desc->timeout_ms > 0 ? desc->timeout_ms : DEFAULT_TIMEOUT_MS;
}

/* Starts the handler.  Returns 1 if the job runs on, 0 if it finished. */
static int
dispatch(struct worker *w)
{
	struct wq_job *job = w->job;
	const struct wq_plugin *desc = wq_module_desc(job->module);
	struct timeval tv;
	enum wq_outcome out;

	w->state = W_RUNNING;
	job->timeout_ms = job_timeout(job);
	tv = (struct timeval)WQ_TV_MS(job->timeout_ms);
	job->started_us = wq_clock_mono_us();
	job->refs++;			/* the handler's reference */
	w->pool->started++;
	if (!job_async(job)) {
		job->task.fn = exec_run;
		job->task.done = exec_done;
		if (wq_exec_submit(w->pool->exec, &job->task) == 0) {
			evtimer_add(w->timer, &tv);
			return 1;
		}
		job->result = WQ_RETRY;
		wq_job_fault(job, "executor queue full");
		handler_release(job);
		finish(w, 0);
		return 0;
	}
	job->call.fn = async_complete;
	wq_host_enter(job->plugin, job);
	out = desc->start(wq_module_state(job->module), job);
	wq_host_leave();
	if (out == WQ_PENDING) {
		/* Armed only now: most async handlers answer at once. */
		evtimer_add(w->timer, &tv);
		return 1;
	}
	if (atomic_exchange(&job->completed, 1) != 0) {
		/* complete() was called and start() returned a final outcome
		   too: the queued completion will finish the job. */
		wq_log(WQ_LOG_ERR, "%s: job %s: start() returned an outcome "
		    "after calling complete()", job->plugin, wq_job_id(job));
		evtimer_add(w->timer, &tv);
		return 1;
	}
	job->result = out;
	handler_release(job);
	finish(w, 0);
	return 0;
}

static void
sem_granted(struct wq_sem_waiter *sw)
{
	struct worker *w = sw->arg;

	w->sem_held = 1;
	if (dispatch(w) == 0)
		cycle(w);
}

/* Takes a job out of the queue.  Returns 1 if it runs on, 0 if done. */
static int
begin(struct worker *w, struct wq_job *job)
{
	w->job = job;
	job->owner = w;
	w->pool->busy++;
	if (job->entry.expires_ms >= 0 &&
	    wq_clock_wall_ms() > job->entry.expires_ms) {
		wq_job_fault(job, "not started before it expired");
		refuse(w, WQ_VERDICT_DEAD, WQ_REASON_EXPIRED);
		return 0;
	}
	if ((job->module = w->pool->ops.resolve(w->pool->ops.ctx, job)) ==
	    NULL) {
		refuse(w, WQ_VERDICT_DEAD, WQ_REASON_INVALID);
		return 0;
	}
	if (job->sem != NULL) {
		if (wq_sem_acquire(job->sem, &w->sw, sem_granted, w) == 1) {
			w->state = W_SEM;
			return 1;
		}
		w->sem_held = 1;
	}
	return dispatch(w);
}

static void
got_job(struct wq_queue_waiter *qw, void *item, int err)
{
	struct worker *w = qw->arg;

	if (err != 0) {
		w->state = W_STOPPED;
		return;
	}
	if (begin(w, item) == 0)
		cycle(w);
}

static void
cycle(struct worker *w)
{
	struct wq_pool *pool = w->pool;
	void *item;
	int r;

	for (;;) {
		if (pool->draining || w->index >= pool->target) {
			w->state = W_STOPPED;
			return;
		}
		r = wq_queue_get(pool->local, &w->qw, &item, got_job, w);
		if (r == 1) {
			w->state = W_GETTING;
			return;
		}
		if (r < 0) {
			w->state = W_STOPPED;
			return;
		}
		if (begin(w, item) == 1)
			return;
	}
}

static void
kick_cb(struct wq_call *call)
{
	cycle((struct worker *)((char *)call - offsetof(struct worker, kick)));
}

static int
add_worker(struct wq_pool *pool)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return -1;
	w->pool = pool;
	w->index = pool->nworkers;
	w->kick.fn = kick_cb;
	if ((w->timer = evtimer_new(wq_loop_base(pool->loop), timeout_cb,
	    w)) == NULL) {
		free(w);
		return -1;
	}
	TAILQ_INSERT_TAIL(&pool->workers, w, link);
	pool->nworkers++;
	return 0;
}

struct wq_pool *
wq_pool_new(struct wq_loop *loop, struct wq_queue *local, struct wq_exec *exec,
    unsigned workers, const struct wq_pool_ops *ops)
{
	struct wq_pool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL)
		return NULL;
	pool->loop = loop;
	pool->local = local;
	pool->exec = exec;
	pool->ops = *ops;
	pool->rng = (uint64_t)wq_clock_mono_us() ^ ((uint64_t)getpid() << 32) ^
	    0x9e3779b97f4a7c15ULL;
	pool->drain_call.fn = drain_cb;
	TAILQ_INIT(&pool->workers);
	if (wq_pool_resize(pool, workers) < 0) {
		wq_pool_free(pool);
		errno = ENOMEM;
		return NULL;
	}
	return pool;
}

void
wq_pool_free(struct wq_pool *pool)
{
	struct worker *w;

	if (pool == NULL)
		return;
	while ((w = TAILQ_FIRST(&pool->workers)) != NULL) {
		TAILQ_REMOVE(&pool->workers, w, link);
		wq_queue_cancel(&w->qw);
		wq_loop_cancel(pool->loop, &w->kick);
		event_free(w->timer);
		free(w);
	}
	wq_loop_cancel(pool->loop, &pool->drain_call);
	free(pool);
}

void
wq_pool_start(struct wq_pool *pool)
{
	struct worker *w;

	pool->running = 1;
	TAILQ_FOREACH(w, &pool->workers, link)
		if (w->index < pool->target && w->state == W_IDLE)
			wq_loop_soon(pool->loop, &w->kick);
}

int
wq_pool_resize(struct wq_pool *pool, unsigned workers)
{
	struct worker *w;

	while (pool->nworkers < workers)
		if (add_worker(pool) < 0)
			return -1;
	pool->target = workers;
	TAILQ_FOREACH(w, &pool->workers, link) {
		if (w->index >= workers && w->state == W_GETTING) {
			wq_queue_cancel(&w->qw);
			w->state = W_STOPPED;
		} else if (w->index < workers && pool->running &&
		    !pool->draining && (w->state == W_STOPPED ||
		    w->state == W_IDLE)) {
			w->state = W_IDLE;
			wq_loop_soon(pool->loop, &w->kick);
		}
	}
	return 0;
}

void
wq_pool_drain(struct wq_pool *pool, void (*done)(void *), void *arg)
{
	struct worker *w;

	pool->draining = 1;
	pool->drained = done;
	pool->drained_arg = arg;
	TAILQ_FOREACH(w, &pool->workers, link) {
		wq_loop_cancel(pool->loop, &w->kick);
		if (w->state == W_GETTING) {
			wq_queue_cancel(&w->qw);
			w->state = W_STOPPED;
		} else if (w->state == W_SEM) {
			/* Not started: give it back untouched. */
			wq_sem_cancel(&w->sw);
			wq_module_unref(w->job->module);
			w->job->module = NULL;
			refuse(w, WQ_VERDICT_HANDBACK, WQ_REASON_NONE);
			w->state = W_STOPPED;
		}
	}
	if (pool->busy == 0 && done != NULL)
		wq_loop_soon(pool->loop, &pool->drain_call);
}

void
wq_pool_cancel(struct wq_pool *pool)
{
	struct worker *w;

	TAILQ_FOREACH(w, &pool->workers, link)
		if (w->state == W_RUNNING && w->job != NULL)
			atomic_store(&w->job->cancelled, 1);
}

void
wq_pool_stats(const struct wq_pool *pool, struct wq_pool_stats *st)
{
	st->workers = pool->target;
	st->busy = pool->busy;
	st->held = pool->held;
	st->started = pool->started;
	st->timed_out = pool->timed_out;
}
