/*
 * The executor (see exec.h).
 *
 * DESIGN: after nginx's thread pool and Redis's bio.c.  The pool owns one
 * mutex, one condition variable and a TAILQ of submitted tasks; the loop
 * thread appends under the mutex and signals, and each of the N threads
 * created by wq_exec_new pops a task, marks it running, calls fn unlocked,
 * marks it ran and hands it back with wq_loop_post.  A submission signals
 * only when a thread sleeps that no earlier signal is already waking (idle
 * against wakeups), so a burst wakes each idle thread once and busy threads
 * take the rest without a futex call.  Results need no list of
 * their own here: the loop's post list is already a done list with one
 * coalesced wakeup, and the task's embedded wq_call makes posting allocation
 * free.  The mutex guards the queue, every task's state and the counters
 * (busy, held, queued), so wq_exec_stats is a consistent snapshot from any
 * thread, and cancel and abandon decide under the same lock that a worker
 * takes to start or finish a task.  Executor threads block every signal:
 * the loop thread alone handles them.
 *
 * Shutdown: wq_exec_free sets the flag and wakes everyone; a thread exits
 * when it sees the flag instead of popping, so queued tasks are never
 * started, and running fns finish before the join returns.  The tasks left
 * queued get their done right there, with ran false.  A task that ran was
 * already posted, and its done arrives on a later loop turn: the posted
 * call reads only the task, never the pool, so it stays safe after the pool
 * is freed.  The counters are settled before the post for the same reason.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "log.h"

enum {
	WQ_EXEC_QUEUED = 1,	/* on exec->queue */
	WQ_EXEC_RUNNING,	/* fn runs on an executor thread */
	WQ_EXEC_RAN,		/* fn returned; done posted to the loop */
	WQ_EXEC_DROPPED,	/* never ran: wq_exec_free calls done */
	WQ_EXEC_CANCELLED	/* never ran: no done */
};

TAILQ_HEAD(wq_exec_list, wq_exec_task);

struct wq_exec {
	struct wq_loop		*loop;
	pthread_mutex_t		 lock;		/* guards queue .. shutdown */
	pthread_cond_t		 cond;		/* queue non-empty or shutdown */
	struct wq_exec_list	 queue;
	unsigned		 queued;
	unsigned		 queue_max;
	unsigned		 busy;
	unsigned		 held;
	unsigned		 idle;		/* threads waiting on cond */
	unsigned		 wakeups;	/* signals not yet taken */
	int			 shutdown;
	unsigned		 nthreads;	/* started; set in wq_exec_new */
	pthread_t		 tids[];
};

#define TASK_OF(c) \
	((struct wq_exec_task *)(void *)((char *)(c) - \
	    offsetof(struct wq_exec_task, call)))

/* Loop thread: the posted half of a task that ran.  It must not touch the
   pool, which may be gone by now (see DESIGN). */
static void
deliver(struct wq_call *call)
{
	struct wq_exec_task *task = TASK_OF(call);

	assert(task->state == WQ_EXEC_RAN);
	task->done(task);
}

/* Executor thread, lock held: takes the next task, or NULL on shutdown. */
static struct wq_exec_task *
take(struct wq_exec *exec)
{
	struct wq_exec_task *task;

	while (TAILQ_EMPTY(&exec->queue) && !exec->shutdown) {
		exec->idle++;
		pthread_cond_wait(&exec->cond, &exec->lock);
		exec->idle--;
		if (exec->wakeups > 0)
			exec->wakeups--;
	}
	if (exec->shutdown)
		return NULL;
	task = TAILQ_FIRST(&exec->queue);
	TAILQ_REMOVE(&exec->queue, task, link);
	exec->queued--;
	exec->busy++;
	if (atomic_load(&task->abandoned))
		exec->held++;
	task->state = WQ_EXEC_RUNNING;
	return task;
}

static void *
worker(void *arg)
{
	struct wq_exec *exec = arg;
	struct wq_exec_task *task;

	pthread_mutex_lock(&exec->lock);
	while ((task = take(exec)) != NULL) {
		pthread_mutex_unlock(&exec->lock);
		task->fn(task);
		pthread_mutex_lock(&exec->lock);
		exec->busy--;
		if (atomic_load(&task->abandoned))
			exec->held--;
		task->state = WQ_EXEC_RAN;
		pthread_mutex_unlock(&exec->lock);
		/* The loop may run done, which may free the task, at once. */
		wq_loop_post(exec->loop, &task->call);
		pthread_mutex_lock(&exec->lock);
	}
	pthread_mutex_unlock(&exec->lock);
	return NULL;
}

/* Loop thread: wakes every thread and waits for the running fns. */
static void
stop(struct wq_exec *exec)
{
	unsigned i;

	pthread_mutex_lock(&exec->lock);
	exec->shutdown = 1;
	pthread_cond_broadcast(&exec->cond);
	pthread_mutex_unlock(&exec->lock);
	for (i = 0; i < exec->nthreads; i++)
		pthread_join(exec->tids[i], NULL);
}

/* Loop thread.  Threads inherit the creator's signal mask, so blocking
   everything around pthread_create leaves no window for a signal to land on
   an executor thread. */
static int
start(struct wq_exec *exec, unsigned threads)
{
	sigset_t all, old;
	int rc = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (exec->nthreads < threads) {
		rc = pthread_create(&exec->tids[exec->nthreads], NULL, worker,
		    exec);
		if (rc != 0)
			break;
		pthread_setname_np(exec->tids[exec->nthreads], "workqd-exec");
		exec->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		wq_log(WQ_LOG_ERR, "exec: cannot start thread %u of %u: %s",
		    exec->nthreads + 1, threads, strerror(rc));
		errno = rc;
		return -1;
	}
	return 0;
}

struct wq_exec *
wq_exec_new(struct wq_loop *loop, unsigned threads, unsigned queue_max)
{
	struct wq_exec *exec;

	if (loop == NULL || threads == 0 || queue_max == 0) {
		errno = EINVAL;
		return NULL;
	}
	exec = calloc(1, sizeof(*exec) + threads * sizeof(exec->tids[0]));
	if (exec == NULL)
		return NULL;
	exec->loop = loop;
	exec->queue_max = queue_max;
	TAILQ_INIT(&exec->queue);
	pthread_mutex_init(&exec->lock, NULL);
	pthread_cond_init(&exec->cond, NULL);
	if (start(exec, threads) < 0)
		goto fail;
	return exec;
fail:
	wq_exec_free(exec);
	errno = errno != 0 ? errno : ENOMEM;
	return NULL;
}

void
wq_exec_free(struct wq_exec *exec)
{
	struct wq_exec_list dropped = TAILQ_HEAD_INITIALIZER(dropped);
	struct wq_exec_task *task;
	int saved = errno;

	if (exec == NULL)
		return;
	stop(exec);
	/* Mark them all first: a done that cancels a sibling gets EBUSY. */
	TAILQ_CONCAT(&dropped, &exec->queue, link);
	exec->queued = 0;
	TAILQ_FOREACH(task, &dropped, link)
		task->state = WQ_EXEC_DROPPED;
	while ((task = TAILQ_FIRST(&dropped)) != NULL) {
		TAILQ_REMOVE(&dropped, task, link);
		task->done(task);
	}
	pthread_cond_destroy(&exec->cond);
	pthread_mutex_destroy(&exec->lock);
	free(exec);
	errno = saved;
}

int
wq_exec_submit(struct wq_exec *exec, struct wq_exec_task *task)
{
	int err = 0;

	pthread_mutex_lock(&exec->lock);
	if (exec->shutdown)
		err = ESHUTDOWN;
	else if (exec->queued >= exec->queue_max)
		err = EAGAIN;
	else {
		memset(&task->call, 0, sizeof(task->call));
		task->call.fn = deliver;
		task->exec = exec;
		atomic_store(&task->abandoned, 0);
		task->state = WQ_EXEC_QUEUED;
		TAILQ_INSERT_TAIL(&exec->queue, task, link);
		exec->queued++;
		/* Wake a sleeping thread only if none is already on its way:
		   a burst of submissions costs a wakeup per idle thread, not a
		   futex call per task, and busy threads just loop. */
		if (exec->idle > exec->wakeups) {
			exec->wakeups++;
			pthread_cond_signal(&exec->cond);
		}
	}
	pthread_mutex_unlock(&exec->lock);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

int
wq_exec_cancel(struct wq_exec_task *task)
{
	struct wq_exec *exec = task->exec;
	int queued;

	pthread_mutex_lock(&exec->lock);
	queued = task->state == WQ_EXEC_QUEUED;
	if (queued) {
		TAILQ_REMOVE(&exec->queue, task, link);
		exec->queued--;
		task->state = WQ_EXEC_CANCELLED;
	}
	pthread_mutex_unlock(&exec->lock);
	if (!queued) {
		errno = EBUSY;
		return -1;
	}
	return 0;
}

void
wq_exec_abandon(struct wq_exec_task *task)
{
	struct wq_exec *exec = task->exec;

	pthread_mutex_lock(&exec->lock);
	/* A queued task is counted when it starts (see take). */
	if (!atomic_exchange(&task->abandoned, 1) &&
	    task->state == WQ_EXEC_RUNNING)
		exec->held++;
	pthread_mutex_unlock(&exec->lock);
}

int
wq_exec_task_ran(const struct wq_exec_task *task)
{
	return task->state == WQ_EXEC_RAN;
}

void
wq_exec_stats(struct wq_exec *exec, struct wq_exec_stats *st)
{
	pthread_mutex_lock(&exec->lock);
	st->threads = exec->nthreads;
	st->busy = exec->busy;
	st->held = exec->held;
	st->queued = exec->queued;
	st->queue_max = exec->queue_max;
	pthread_mutex_unlock(&exec->lock);
}
