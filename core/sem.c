/*
 * The per-queue concurrency limit (see sem.h).
 *
 * DESIGN: asyncio.Semaphore (Python 3.13) for callbacks.  held counts the
 * permits given out, limit bounds it (0: no bound).  A permit goes to a
 * waiter at the moment it is woken, not when its callback runs: grant()
 * takes the waiter off the FIFO list, counts the permit as held and queues
 * the waiter's embedded wq_call with wq_loop_soon, so the callback runs on
 * a later pass of the loop and never inside release.  Reserving the permit
 * at wake time is what makes the fairness rule hold: between a release and
 * the waiter's turn nobody can slip in, because the permit is already
 * held.  The invariant is that a free permit and a waiting waiter never
 * coexist once a public function returns: every function that can free a
 * permit (release, set_limit, cancelling a granted waiter) ends in
 * grant().  A waiter is idle, waiting on the list, or granted with its
 * call queued; cancelling a granted waiter gives its permit back through
 * grant(), so it goes to the next waiter or becomes free.  Loop thread
 * only.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>

#include "log.h"
#include "sem.h"

enum { S_IDLE = 0, S_WAITING, S_GRANTED };

static void
run(struct wq_call *call)
{
	struct wq_sem_waiter *w = (struct wq_sem_waiter *)(void *)
	    ((char *)call - offsetof(struct wq_sem_waiter, call));

	w->state = S_IDLE;
	w->cb(w);
}

/* Hands the free permits to the first waiters, in order. */
static void
grant(struct wq_sem *sem)
{
	struct wq_sem_waiter *w;

	while (wq_sem_free(sem) > 0 &&
	    (w = TAILQ_FIRST(&sem->waiters)) != NULL) {
		TAILQ_REMOVE(&sem->waiters, w, link);
		sem->held++;
		w->state = S_GRANTED;
		wq_loop_soon(sem->loop, &w->call);
	}
}

void
wq_sem_init(struct wq_sem *sem, struct wq_loop *loop, unsigned limit)
{
	sem->loop = loop;
	sem->limit = limit;
	sem->held = 0;
	TAILQ_INIT(&sem->waiters);
}

void
wq_sem_fini(struct wq_sem *sem)
{
	assert(TAILQ_EMPTY(&sem->waiters));
	(void)sem;
}

int
wq_sem_acquire(struct wq_sem *sem, struct wq_sem_waiter *w, wq_sem_cb *cb,
    void *arg)
{
	if (!wq_sem_locked(sem)) {
		sem->held++;
		return 0;
	}
	w->sem = sem;
	w->cb = cb;
	w->arg = arg;
	w->call.fn = run;
	w->call.queued = 0;
	w->state = S_WAITING;
	TAILQ_INSERT_TAIL(&sem->waiters, w, link);
	return 1;
}

int
wq_sem_try_acquire(struct wq_sem *sem)
{
	if (wq_sem_locked(sem)) {
		errno = EAGAIN;
		return -1;
	}
	sem->held++;
	return 0;
}

void
wq_sem_release(struct wq_sem *sem)
{
	if (sem->held == 0) {
		wq_log(WQ_LOG_ERR, "sem: release without a permit held");
		return;
	}
	sem->held--;
	grant(sem);
}

void
wq_sem_cancel(struct wq_sem_waiter *w)
{
	struct wq_sem *sem;

	if (w->state == S_IDLE)
		return;
	sem = w->sem;
	if (w->state == S_WAITING)
		TAILQ_REMOVE(&sem->waiters, w, link);
	else {
		wq_loop_cancel(sem->loop, &w->call);
		sem->held--;
	}
	w->state = S_IDLE;
	grant(sem);
}

void
wq_sem_set_limit(struct wq_sem *sem, unsigned limit)
{
	sem->limit = limit;
	grant(sem);
}

unsigned
wq_sem_free(const struct wq_sem *sem)
{
	if (sem->limit == 0)
		return UINT_MAX;
	return sem->held < sem->limit ? sem->limit - sem->held : 0;
}

int
wq_sem_locked(const struct wq_sem *sem)
{
	return wq_sem_free(sem) == 0 || !TAILQ_EMPTY(&sem->waiters);
}
