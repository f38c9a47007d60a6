/*
 * A counting semaphore modelled on asyncio.Semaphore, for the loop thread
 * only: the per-queue concurrency limit inside the shared worker pool.
 *
 * acquire succeeds at once only when a permit is free and nobody waits
 * (asyncio's fairness since 3.11.1); otherwise the caller waits in FIFO
 * order and its callback runs on a later loop turn with the permit held.
 * A waiter that was granted a permit and is then cancelled gives the permit
 * to the next waiter, so no permit is lost.  A limit of 0 means unlimited.
 */
#ifndef WQ_SEM_H
#define WQ_SEM_H

#include <sys/queue.h>

#include "loop.h"

struct wq_sem_waiter;

/* Loop thread; the permit is held when it runs. */
typedef void wq_sem_cb(struct wq_sem_waiter *w);

/* Embedded by the caller; the members are private to sem.c. */
struct wq_sem_waiter {
	TAILQ_ENTRY(wq_sem_waiter)	 link;
	struct wq_call			 call;
	struct wq_sem			*sem;
	wq_sem_cb			*cb;
	void				*arg;	/* the caller's, untouched */
	int				 state;
};

TAILQ_HEAD(wq_sem_waiters, wq_sem_waiter);

/* Embedded by its owner. */
struct wq_sem {
	struct wq_loop		*loop;
	unsigned		 limit;		/* 0: unlimited */
	unsigned		 held;
	struct wq_sem_waiters	 waiters;
};

void	wq_sem_init(struct wq_sem *sem, struct wq_loop *loop, unsigned limit);
/* No waiter may be left. */
void	wq_sem_fini(struct wq_sem *sem);

/* 0: acquired now (cb not called); 1: waiting, cb runs once granted. */
int	wq_sem_acquire(struct wq_sem *sem, struct wq_sem_waiter *w,
	    wq_sem_cb *cb, void *arg);
/* 0: acquired; -1 with EAGAIN when no permit is free or others wait. */
int	wq_sem_try_acquire(struct wq_sem *sem);
/* Gives a permit back; the first waiter is granted it on a later turn. */
void	wq_sem_release(struct wq_sem *sem);
void	wq_sem_cancel(struct wq_sem_waiter *w);

/* Changes the limit (reload); waiters are granted permits that appear.
   Permits held above a lowered limit stay held until released. */
void	wq_sem_set_limit(struct wq_sem *sem, unsigned limit);
/* Permits free now (UINT_MAX when unlimited). */
unsigned wq_sem_free(const struct wq_sem *sem);
int	wq_sem_locked(const struct wq_sem *sem);

#endif /* WQ_SEM_H */
