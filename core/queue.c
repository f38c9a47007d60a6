/*
 * The local job queue (see queue.h).
 *
 * DESIGN: this is asyncio.Queue (Python 3.13) with the coroutines turned
 * inside out.  Items sit in a ring buffer of void pointers that grows by
 * doubling when it fills and never shrinks; a bounded queue is not
 * allocated to its maxsize up front.  A caller that must wait hands in an
 * embedded struct wq_queue_waiter, which goes on one of three FIFO lists:
 * getters, putters (wq_queue_wait_room waiters are putters that carry no
 * item) and joiners.  As with asyncio's _wakeup_next, an item put wakes the
 * first getter and an item taken wakes the first putter, one each; a
 * task_done that finishes the last item wakes every joiner.  Waking takes
 * the waiter off its list and queues its embedded wq_call with
 * wq_loop_soon, so the callback runs on a later pass of the loop and never
 * inside put, get or task_done.  When the call runs the waiter retries
 * with the queue as it finds it: a *_nowait call may have taken its chance
 * meanwhile, and then it goes back to the head of its line, where it was
 * (asyncio sends it to the tail).  A waiter is thus idle, waiting on a
 * list, or woken with its call queued.  Cancelling a woken waiter hands
 * its wakeup to the next one in line when the chance is still there
 * (asyncio's "if not self.empty() and not getter.cancelled()"), so a
 * cancelled waiter neither loses an item nor keeps its place.  A wait for
 * room takes no room, so when it runs it passes the wakeup on to the next
 * putter the same way: the room is not reserved.  shutdown wakes every
 * getter and putter at once and each one decides, when it runs, whether it
 * can proceed.  Like asyncio, put and get go ahead when they can without
 * asking who waits: waiters are FIFO among themselves.  Should the ring
 * fail to grow, the queue behaves as full until a get makes room, and
 * put_nowait fails with ENOMEM.  Everything here runs on the loop thread.
 *
 * A waiter must be zeroed (or have been used before) so that
 * wq_queue_cancel and wq_queue_waiting can tell that it is idle.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "queue.h"

#define RING_MIN	16

enum { W_IDLE = 0, W_WAITING, W_WOKEN };
enum { K_GET = 1, K_PUT, K_ROOM, K_JOIN };

TAILQ_HEAD(wlist, wq_queue_waiter);

struct wq_queue {
	struct wq_loop	*loop;
	int		 maxsize;	/* <= 0: unbounded */
	int		 shutdown;
	void		**ring;
	size_t		 cap;
	size_t		 head;
	size_t		 count;
	size_t		 unfinished;
	size_t		 nwaiters;	/* not idle: waiting or woken */
	struct wlist	 getters;
	struct wlist	 putters;	/* K_PUT and K_ROOM */
	struct wlist	 joiners;
};

static void	run(struct wq_call *call);

static struct wlist *
line(struct wq_queue *q, int kind)
{
	switch (kind) {
	case K_GET:
		return &q->getters;
	case K_JOIN:
		return &q->joiners;
	default:
		return &q->putters;
	}
}

static int
is_full(const struct wq_queue *q)
{
	return q->maxsize > 0 && q->count >= (size_t)q->maxsize;
}

/* Wakes the first waiter of a line, if any; it runs on a later pass. */
static int
wake(struct wq_queue *q, struct wlist *list)
{
	struct wq_queue_waiter *w;

	if ((w = TAILQ_FIRST(list)) == NULL)
		return 0;
	TAILQ_REMOVE(list, w, link);
	w->state = W_WOKEN;
	wq_loop_soon(q->loop, &w->call);
	return 1;
}

static void
wake_all(struct wq_queue *q, struct wlist *list)
{
	while (wake(q, list))
		continue;
}

static int
grow(struct wq_queue *q)
{
	size_t ncap = q->cap * 2, wrapped;
	void **ring;

	if (ncap > SIZE_MAX / sizeof(*ring) ||
	    (ring = realloc(q->ring, ncap * sizeof(*ring))) == NULL) {
		wq_log(WQ_LOG_ERR, "queue: out of memory at %zu items, "
		    "treating the queue as full", q->cap);
		errno = ENOMEM;
		return -1;
	}
	/* Unwrap: the items before head belong after the old end. */
	if (q->head + q->count > q->cap) {
		wrapped = q->head + q->count - q->cap;
		memcpy(ring + q->cap, ring, wrapped * sizeof(*ring));
	}
	q->ring = ring;
	q->cap = ncap;
	return 0;
}

/* Adds an item the caller checked there is room for; wakes a getter. */
static int
push(struct wq_queue *q, void *item)
{
	if (q->count == q->cap && grow(q) < 0)
		return -1;
	q->ring[(q->head + q->count) % q->cap] = item;
	q->count++;
	q->unfinished++;
	wake(q, &q->getters);
	return 0;
}

static void *
pop(struct wq_queue *q)
{
	void *item = q->ring[q->head];

	if (++q->head == q->cap)
		q->head = 0;
	q->count--;
	return item;
}

/* Takes the first item; the slot it frees goes to the first putter. */
static void *
take(struct wq_queue *q)
{
	void *item = pop(q);

	wake(q, &q->putters);
	return item;
}

static int
enqueue(struct wq_queue *q, struct wq_queue_waiter *w, int kind, void *item,
    wq_queue_cb *cb, void *arg)
{
	w->queue = q;
	w->kind = kind;
	w->cb = cb;
	w->arg = arg;
	w->item = item;
	w->call.fn = run;
	w->call.queued = 0;
	w->state = W_WAITING;
	TAILQ_INSERT_TAIL(line(q, kind), w, link);
	q->nwaiters++;
	return 1;
}

/* A woken waiter that lost its chance keeps its place at the head. */
static void
requeue(struct wq_queue_waiter *w)
{
	w->state = W_WAITING;
	TAILQ_INSERT_HEAD(line(w->queue, w->kind), w, link);
}

/* Ends a wait.  The callback may reuse w or free the queue, so it is last. */
static void
finish(struct wq_queue_waiter *w, void *item, int err)
{
	w->state = W_IDLE;
	w->queue->nwaiters--;
	w->cb(w, item, err);
}

/* A woken waiter declined its chance: the next in line gets it. */
static void
pass_on(struct wq_queue *q, int kind)
{
	if (kind == K_GET && q->count > 0)
		wake(q, &q->getters);
	else if ((kind == K_PUT || kind == K_ROOM) && !is_full(q))
		wake(q, &q->putters);
}

static void
run_get(struct wq_queue_waiter *w)
{
	struct wq_queue *q = w->queue;

	if (q->count > 0)
		finish(w, take(q), 0);
	else if (q->shutdown)
		finish(w, NULL, ESHUTDOWN);
	else
		requeue(w);
}

static void
run_put(struct wq_queue_waiter *w)
{
	struct wq_queue *q = w->queue;

	if (q->shutdown)
		finish(w, w->item, ESHUTDOWN);
	else if (is_full(q) || push(q, w->item) < 0)
		requeue(w);
	else
		finish(w, w->item, 0);
}

static void
run_room(struct wq_queue_waiter *w)
{
	struct wq_queue *q = w->queue;

	if (q->shutdown)
		finish(w, NULL, ESHUTDOWN);
	else if (is_full(q))
		requeue(w);
	else {
		pass_on(q, K_ROOM);
		finish(w, NULL, 0);
	}
}

static void
run(struct wq_call *call)
{
	struct wq_queue_waiter *w = (struct wq_queue_waiter *)(void *)
	    ((char *)call - offsetof(struct wq_queue_waiter, call));

	switch (w->kind) {
	case K_GET:
		run_get(w);
		break;
	case K_PUT:
		run_put(w);
		break;
	case K_ROOM:
		run_room(w);
		break;
	default:
		finish(w, NULL, 0);
		break;
	}
}

struct wq_queue *
wq_queue_new(struct wq_loop *loop, int maxsize)
{
	struct wq_queue *q;
	size_t cap = RING_MIN;

	if (maxsize > 0 && (size_t)maxsize < cap)
		cap = (size_t)maxsize;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if ((q->ring = calloc(cap, sizeof(*q->ring))) == NULL) {
		free(q);
		errno = ENOMEM;
		return NULL;
	}
	q->loop = loop;
	q->maxsize = maxsize;
	q->cap = cap;
	TAILQ_INIT(&q->getters);
	TAILQ_INIT(&q->putters);
	TAILQ_INIT(&q->joiners);
	return q;
}

void
wq_queue_free(struct wq_queue *q)
{
	if (q == NULL)
		return;
	assert(q->nwaiters == 0);
	free(q->ring);
	free(q);
}

size_t
wq_queue_qsize(const struct wq_queue *q)
{
	return q->count;
}

int
wq_queue_maxsize(const struct wq_queue *q)
{
	return q->maxsize;
}

int
wq_queue_empty(const struct wq_queue *q)
{
	return q->count == 0;
}

int
wq_queue_full(const struct wq_queue *q)
{
	return is_full(q);
}

size_t
wq_queue_room(const struct wq_queue *q)
{
	if (q->maxsize <= 0)
		return SIZE_MAX;
	return is_full(q) ? 0 : (size_t)q->maxsize - q->count;
}

int
wq_queue_set_maxsize(struct wq_queue *q, int maxsize)
{
	size_t room;

	q->maxsize = maxsize;
	/* One wakeup per free slot; a putter already woken just retries. */
	for (room = wq_queue_room(q); room > 0; room--)
		if (!wake(q, &q->putters))
			break;
	return 0;
}

int
wq_queue_put_nowait(struct wq_queue *q, void *item)
{
	if (q->shutdown) {
		errno = ESHUTDOWN;
		return -1;
	}
	if (is_full(q)) {
		errno = EAGAIN;
		return -1;
	}
	return push(q, item);
}

int
wq_queue_get_nowait(struct wq_queue *q, void **item)
{
	if (q->count == 0) {
		errno = q->shutdown ? ESHUTDOWN : EAGAIN;
		return -1;
	}
	*item = take(q);
	return 0;
}

int
wq_queue_put(struct wq_queue *q, struct wq_queue_waiter *w, void *item,
    wq_queue_cb *cb, void *arg)
{
	if (q->shutdown) {
		errno = ESHUTDOWN;
		return -1;
	}
	if (!is_full(q) && push(q, item) == 0)
		return 0;
	return enqueue(q, w, K_PUT, item, cb, arg);
}

int
wq_queue_get(struct wq_queue *q, struct wq_queue_waiter *w, void **item,
    wq_queue_cb *cb, void *arg)
{
	if (q->count > 0) {
		*item = take(q);
		return 0;
	}
	if (q->shutdown) {
		errno = ESHUTDOWN;
		return -1;
	}
	return enqueue(q, w, K_GET, NULL, cb, arg);
}

int
wq_queue_wait_room(struct wq_queue *q, struct wq_queue_waiter *w,
    wq_queue_cb *cb, void *arg)
{
	if (q->shutdown) {
		errno = ESHUTDOWN;
		return -1;
	}
	if (!is_full(q))
		return 0;
	return enqueue(q, w, K_ROOM, NULL, cb, arg);
}

void
wq_queue_cancel(struct wq_queue_waiter *w)
{
	struct wq_queue *q;

	if (w->state == W_IDLE)
		return;
	q = w->queue;
	if (w->state == W_WAITING)
		TAILQ_REMOVE(line(q, w->kind), w, link);
	else {
		wq_loop_cancel(q->loop, &w->call);
		pass_on(q, w->kind);
	}
	w->state = W_IDLE;
	q->nwaiters--;
}

int
wq_queue_waiting(const struct wq_queue_waiter *w)
{
	return w->state != W_IDLE;
}

int
wq_queue_task_done(struct wq_queue *q)
{
	if (q->unfinished == 0) {
		errno = EINVAL;
		return -1;
	}
	if (--q->unfinished == 0)
		wake_all(q, &q->joiners);
	return 0;
}

size_t
wq_queue_unfinished(const struct wq_queue *q)
{
	return q->unfinished;
}

int
wq_queue_join(struct wq_queue *q, struct wq_queue_waiter *w,
    wq_queue_cb *cb, void *arg)
{
	if (q->unfinished == 0)
		return 0;
	return enqueue(q, w, K_JOIN, NULL, cb, arg);
}

void
wq_queue_shutdown(struct wq_queue *q, int immediate,
    void (*drop)(void *item, void *arg), void *arg)
{
	void *item;

	q->shutdown = 1;
	if (immediate) {
		while (q->count > 0) {
			item = pop(q);
			if (q->unfinished > 0)
				q->unfinished--;
			if (drop != NULL)
				drop(item, arg);
		}
		if (q->unfinished == 0)
			wake_all(q, &q->joiners);
	}
	wake_all(q, &q->getters);
	wake_all(q, &q->putters);
}

int
wq_queue_is_shutdown(const struct wq_queue *q)
{
	return q->shutdown;
}
