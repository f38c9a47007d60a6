/*
 * A bounded FIFO queue modelled on asyncio.Queue (Python 3.13), for the
 * loop thread only.
 *
 * Items are opaque pointers the queue holds but does not own.  maxsize is
 * the backpressure: put waits while the queue is full; maxsize <= 0 means
 * unbounded.  get waits while it is empty.  Waiters are served in FIFO
 * order and are woken on a later loop turn (wq_loop_soon), never from
 * inside the call that made room or added an item, so there is no
 * re-entrancy.  A woken waiter that finds its chance taken (a *_nowait call
 * got there first) goes back to the head of the line.
 *
 * A waiter is a struct the caller embeds and keeps valid while it waits.
 * Cancelling a waiter loses no item: a get waiter that was woken and is
 * cancelled passes its wakeup to the next one.
 *
 * task_done/join count items put and marked done; shutdown works like
 * Queue.shutdown in Python 3.13.  Functions that can fail return -1 with
 * errno EAGAIN (QueueFull/QueueEmpty), ESHUTDOWN (QueueShutDown) or EINVAL
 * (task_done called too often).
 */
#ifndef WQ_QUEUE_H
#define WQ_QUEUE_H

#include <stddef.h>
#include <sys/queue.h>

#include "loop.h"

struct wq_queue;
struct wq_queue_waiter;

/*
 * Called on the loop thread when a wait ends.  err is 0 or ESHUTDOWN.
 * get: item is the item taken (NULL on error).  put: item is the item that
 * was put, or, on error, the caller's item handed back.  room and join:
 * item is NULL.
 */
typedef void wq_queue_cb(struct wq_queue_waiter *w, void *item, int err);

/* Embedded by the caller; the members are private to queue.c. */
struct wq_queue_waiter {
	TAILQ_ENTRY(wq_queue_waiter)	 link;
	struct wq_call			 call;
	struct wq_queue			*queue;
	wq_queue_cb			*cb;
	void				*arg;	/* the caller's, untouched */
	void				*item;
	int				 kind;
	int				 state;
};

/* Returns NULL with errno set. */
struct wq_queue	*wq_queue_new(struct wq_loop *loop, int maxsize);
/* Waiters must be gone (cancelled or served); items left are forgotten. */
void		 wq_queue_free(struct wq_queue *q);

size_t	wq_queue_qsize(const struct wq_queue *q);
int	wq_queue_maxsize(const struct wq_queue *q);
int	wq_queue_empty(const struct wq_queue *q);
int	wq_queue_full(const struct wq_queue *q);
/* Free slots: maxsize - qsize, or SIZE_MAX when unbounded. */
size_t	wq_queue_room(const struct wq_queue *q);
/* Changes the bound (reload); putters are woken if room appears. */
int	wq_queue_set_maxsize(struct wq_queue *q, int maxsize);

/* 0, or -1 with EAGAIN (full), ESHUTDOWN, or ENOMEM (an unbounded queue
   could not grow).  Takes the item on success. */
int	wq_queue_put_nowait(struct wq_queue *q, void *item);
/* 0 with *item set, or -1 with EAGAIN (empty) or ESHUTDOWN (shut down
   and empty). */
int	wq_queue_get_nowait(struct wq_queue *q, void **item);

/*
 * put: 0 when the item went in at once (cb is not called), 1 when the
 * caller must wait (cb runs later with err 0 once the item is in, or with
 * ESHUTDOWN and the item handed back), -1 with ESHUTDOWN.
 */
int	wq_queue_put(struct wq_queue *q, struct wq_queue_waiter *w, void *item,
	    wq_queue_cb *cb, void *arg);
/* get: 0 with *item set, 1 to wait (cb gets the item), -1 ESHUTDOWN. */
int	wq_queue_get(struct wq_queue *q, struct wq_queue_waiter *w, void **item,
	    wq_queue_cb *cb, void *arg);
/*
 * The first half of put, for producers that size their work by the room
 * (the fetcher): 0 when there is room now, 1 to wait in line with the
 * putters until there is, -1 ESHUTDOWN.  The room is not reserved.
 */
int	wq_queue_wait_room(struct wq_queue *q, struct wq_queue_waiter *w,
	    wq_queue_cb *cb, void *arg);
/* Stops a wait; the callback will not run.  No-op when not waiting. */
void	wq_queue_cancel(struct wq_queue_waiter *w);
int	wq_queue_waiting(const struct wq_queue_waiter *w);

/* 0, or -1 with EINVAL when called more times than items were put. */
int	wq_queue_task_done(struct wq_queue *q);
/* Items put and not yet marked done. */
size_t	wq_queue_unfinished(const struct wq_queue *q);
/* 0 when nothing is unfinished, else 1 and cb runs once it is. */
int	wq_queue_join(struct wq_queue *q, struct wq_queue_waiter *w,
	    wq_queue_cb *cb, void *arg);

/*
 * After shutdown, put fails; get returns what is left, then fails.  With
 * immediate, what is left is dropped (drop(item, arg) is called for each,
 * if drop is not NULL) and counted as done, so join returns.  Every waiting
 * getter and putter is woken; those that cannot proceed get ESHUTDOWN.
 */
void	wq_queue_shutdown(struct wq_queue *q, int immediate,
	    void (*drop)(void *item, void *arg), void *arg);
int	wq_queue_is_shutdown(const struct wq_queue *q);

#endif /* WQ_QUEUE_H */
