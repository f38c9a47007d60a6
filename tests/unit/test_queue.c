/*
 * Unit tests for core/queue.c: asyncio.Queue's documented behaviour, driven
 * on a real loop stepped one turn at a time.
 *
 * Every waiter is a struct rec that records how its callback ran: how many
 * times, with what, in which order among all callbacks, and whether the call
 * that woke it had already returned (the no re-entrancy rule).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "loop.h"
#include "queue.h"

#define MAX_STEPS	200
#define ITEM(n)		((void *)(uintptr_t)(n))

/* Steps the loop until cond holds, for a bounded number of turns. */
#define STEP_UNTIL(loop, cond) do {					\
	for (int step_ = 0; step_ < MAX_STEPS && !(cond); step_++)	\
		assert_int_equal(wq_loop_step((loop), 1), 0);		\
	assert_true(cond);						\
} while (0)

struct rec {
	struct wq_queue_waiter	 w;
	int			 calls;
	void			*item;
	int			 err;
	int			 order;
	int			 saw_returned;
};

static int seq;		/* order of callbacks across a test */
static int returned;	/* set by a test once the waking call returned */

static void
rec_cb(struct wq_queue_waiter *w, void *item, int err)
{
	struct rec *r = w->arg;

	r->calls++;
	r->item = item;
	r->err = err;
	r->order = ++seq;
	r->saw_returned = returned;
}

/* Lets every pending call run, so that a test can assert what did not. */
static void
settle(struct wq_loop *loop)
{
	for (int i = 0; i < 5; i++)
		assert_int_equal(wq_loop_step(loop, 0), 0);
}

static int
setup(void **state)
{
	seq = 0;
	returned = 0;
	*state = wq_loop_new();
	return *state == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	wq_loop_free(*state);
	return 0;
}

static struct wq_queue *
new_queue(struct wq_loop *loop, int maxsize)
{
	struct wq_queue *q = wq_queue_new(loop, maxsize);

	assert_non_null(q);
	return q;
}

static void
expect_get(struct wq_queue *q, uintptr_t n)
{
	void *item = NULL;

	assert_int_equal(wq_queue_get_nowait(q, &item), 0);
	assert_ptr_equal(item, ITEM(n));
}

static void
test_put_waits_while_full(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 2);
	struct rec p = { 0 };

	assert_int_equal(wq_queue_put(q, &p.w, ITEM(1), rec_cb, &p), 0);
	assert_int_equal(wq_queue_put(q, &p.w, ITEM(2), rec_cb, &p), 0);
	assert_true(wq_queue_full(q));
	assert_int_equal(wq_queue_put(q, &p.w, ITEM(3), rec_cb, &p), 1);
	assert_true(wq_queue_waiting(&p.w));
	settle(loop);
	assert_int_equal(p.calls, 0);
	assert_int_equal(wq_queue_qsize(q), 2);

	expect_get(q, 1);
	STEP_UNTIL(loop, p.calls == 1);
	assert_int_equal(p.err, 0);
	assert_ptr_equal(p.item, ITEM(3));
	assert_false(wq_queue_waiting(&p.w));
	assert_int_equal(wq_queue_qsize(q), 2);
	expect_get(q, 2);
	expect_get(q, 3);
	wq_queue_free(q);
}

static void
test_get_waits_while_empty(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 0);
	struct rec g = { 0 };
	void *item = NULL;

	assert_int_equal(wq_queue_get(q, &g.w, &item, rec_cb, &g), 1);
	settle(loop);
	assert_int_equal(g.calls, 0);

	assert_int_equal(wq_queue_put_nowait(q, ITEM(7)), 0);
	STEP_UNTIL(loop, g.calls == 1);
	assert_int_equal(g.err, 0);
	assert_ptr_equal(g.item, ITEM(7));
	assert_true(wq_queue_empty(q));
	/* An item already there is returned at once, without the callback. */
	assert_int_equal(wq_queue_put_nowait(q, ITEM(8)), 0);
	assert_int_equal(wq_queue_get(q, &g.w, &item, rec_cb, &g), 0);
	assert_ptr_equal(item, ITEM(8));
	settle(loop);
	assert_int_equal(g.calls, 1);
	wq_queue_free(q);
}

static void
test_getters_fifo(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 0);
	struct rec g[4] = { 0 };
	void *item;

	for (int i = 0; i < 4; i++)
		assert_int_equal(wq_queue_get(q, &g[i].w, &item, rec_cb,
		    &g[i]), 1);
	/* One item at a time: only the first in line may get it. */
	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	STEP_UNTIL(loop, g[0].calls == 1);
	settle(loop);
	assert_int_equal(g[1].calls + g[2].calls + g[3].calls, 0);
	/* Several at once: still in the order the getters came. */
	for (uintptr_t n = 2; n <= 4; n++)
		assert_int_equal(wq_queue_put_nowait(q, ITEM(n)), 0);
	STEP_UNTIL(loop, g[1].calls + g[2].calls + g[3].calls == 3);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(g[i].calls, 1);
		assert_ptr_equal(g[i].item, ITEM(i + 1));
		assert_int_equal(g[i].order, i + 1);
	}
	wq_queue_free(q);
}

static void
test_putters_fifo(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 1);
	struct rec p[3] = { 0 };

	assert_int_equal(wq_queue_put_nowait(q, ITEM(10)), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(wq_queue_put(q, &p[i].w, ITEM(11 + i), rec_cb,
		    &p[i]), 1);
	for (int i = 0; i < 3; i++) {
		expect_get(q, 10 + (uintptr_t)i);
		STEP_UNTIL(loop, p[i].calls == 1);
		settle(loop);
		for (int j = i + 1; j < 3; j++)
			assert_int_equal(p[j].calls, 0);
		assert_int_equal(p[i].order, i + 1);
		assert_ptr_equal(p[i].item, ITEM(11 + i));
	}
	expect_get(q, 13);
	wq_queue_free(q);
}

static void
test_put_nowait_full(void **state)
{
	struct wq_queue *q = new_queue(*state, 1);

	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	errno = 0;
	assert_int_equal(wq_queue_put_nowait(q, ITEM(2)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(wq_queue_qsize(q), 1);
	assert_int_equal(wq_queue_unfinished(q), 1);
	expect_get(q, 1);
	wq_queue_free(q);
}

static void
test_get_nowait_empty(void **state)
{
	struct wq_queue *q = new_queue(*state, 1);
	void *item = ITEM(99);

	errno = 0;
	assert_int_equal(wq_queue_get_nowait(q, &item), -1);
	assert_int_equal(errno, EAGAIN);
	assert_ptr_equal(item, ITEM(99));
	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	expect_get(q, 1);
	errno = 0;
	assert_int_equal(wq_queue_get_nowait(q, &item), -1);
	assert_int_equal(errno, EAGAIN);
	wq_queue_free(q);
}

static void
test_task_done_too_many(void **state)
{
	struct wq_queue *q = new_queue(*state, 0);

	errno = 0;
	assert_int_equal(wq_queue_task_done(q), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	assert_int_equal(wq_queue_put_nowait(q, ITEM(2)), 0);
	assert_int_equal(wq_queue_unfinished(q), 2);
	expect_get(q, 1);
	expect_get(q, 2);
	/* Taking an item does not finish it; task_done does. */
	assert_int_equal(wq_queue_unfinished(q), 2);
	assert_int_equal(wq_queue_task_done(q), 0);
	assert_int_equal(wq_queue_task_done(q), 0);
	assert_int_equal(wq_queue_unfinished(q), 0);
	errno = 0;
	assert_int_equal(wq_queue_task_done(q), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(wq_queue_unfinished(q), 0);
	wq_queue_free(q);
}

static void
test_join_waits_for_task_done(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 0);
	struct rec j1 = { 0 }, j2 = { 0 };

	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	assert_int_equal(wq_queue_put_nowait(q, ITEM(2)), 0);
	assert_int_equal(wq_queue_join(q, &j1.w, rec_cb, &j1), 1);
	assert_int_equal(wq_queue_join(q, &j2.w, rec_cb, &j2), 1);
	expect_get(q, 1);
	expect_get(q, 2);
	settle(loop);
	assert_int_equal(j1.calls, 0);
	assert_int_equal(wq_queue_task_done(q), 0);
	settle(loop);
	assert_int_equal(j1.calls, 0);
	assert_int_equal(wq_queue_task_done(q), 0);
	/* Every joiner returns, as asyncio's Event.set wakes them all. */
	STEP_UNTIL(loop, j1.calls == 1 && j2.calls == 1);
	assert_int_equal(j1.err, 0);
	assert_null(j1.item);
	assert_int_equal(j2.err, 0);
	settle(loop);
	assert_int_equal(j1.calls, 1);
	wq_queue_free(q);
}

static void
test_join_nothing_unfinished(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 0);
	struct rec j = { 0 };

	assert_int_equal(wq_queue_join(q, &j.w, rec_cb, &j), 0);
	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	expect_get(q, 1);
	assert_int_equal(wq_queue_join(q, &j.w, rec_cb, &j), 1);
	assert_int_equal(wq_queue_task_done(q), 0);
	STEP_UNTIL(loop, j.calls == 1);
	assert_int_equal(wq_queue_join(q, &j.w, rec_cb, &j), 0);
	settle(loop);
	assert_int_equal(j.calls, 1);
	wq_queue_free(q);
}

/* The woken getter is cancelled before its call ran: the next one gets it. */
static void
test_cancel_woken_getter_passes_item(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 0);
	struct rec a = { 0 }, b = { 0 };
	void *item;

	assert_int_equal(wq_queue_get(q, &a.w, &item, rec_cb, &a), 1);
	assert_int_equal(wq_queue_get(q, &b.w, &item, rec_cb, &b), 1);
	assert_int_equal(wq_queue_put_nowait(q, ITEM(5)), 0);
	wq_queue_cancel(&a.w);
	assert_false(wq_queue_waiting(&a.w));
	STEP_UNTIL(loop, b.calls == 1);
	assert_ptr_equal(b.item, ITEM(5));
	assert_int_equal(b.err, 0);
	settle(loop);
	assert_int_equal(a.calls, 0);
	assert_true(wq_queue_empty(q));
	wq_queue_free(q);
}

/* With nobody else waiting, the item stays in the queue. */
static void
test_cancel_woken_getter_keeps_item(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 0);
	struct rec a = { 0 };
	void *item;

	assert_int_equal(wq_queue_get(q, &a.w, &item, rec_cb, &a), 1);
	assert_int_equal(wq_queue_put_nowait(q, ITEM(5)), 0);
	wq_queue_cancel(&a.w);
	settle(loop);
	assert_int_equal(a.calls, 0);
	assert_int_equal(wq_queue_qsize(q), 1);
	expect_get(q, 5);
	wq_queue_free(q);
}

/* A cancelled getter that was not woken leaves the line for good. */
static void
test_cancel_waiting_getter_leaves_line(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 0);
	struct rec a = { 0 }, b = { 0 };
	void *item;

	assert_int_equal(wq_queue_get(q, &a.w, &item, rec_cb, &a), 1);
	assert_int_equal(wq_queue_get(q, &b.w, &item, rec_cb, &b), 1);
	wq_queue_cancel(&a.w);
	assert_false(wq_queue_waiting(&a.w));
	assert_int_equal(wq_queue_put_nowait(q, ITEM(6)), 0);
	STEP_UNTIL(loop, b.calls == 1);
	assert_ptr_equal(b.item, ITEM(6));
	assert_int_equal(wq_queue_put_nowait(q, ITEM(7)), 0);
	settle(loop);
	assert_int_equal(a.calls, 0);
	expect_get(q, 7);
	/* Cancelling an idle waiter does nothing. */
	wq_queue_cancel(&a.w);
	wq_queue_cancel(&b.w);
	wq_queue_free(q);
}

static void
test_cancel_woken_putter_passes_room(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 1);
	struct rec a = { 0 }, b = { 0 };

	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	assert_int_equal(wq_queue_put(q, &a.w, ITEM(2), rec_cb, &a), 1);
	assert_int_equal(wq_queue_put(q, &b.w, ITEM(3), rec_cb, &b), 1);
	expect_get(q, 1);
	wq_queue_cancel(&a.w);
	assert_false(wq_queue_waiting(&a.w));
	STEP_UNTIL(loop, b.calls == 1);
	assert_int_equal(b.err, 0);
	settle(loop);
	assert_int_equal(a.calls, 0);
	assert_int_equal(wq_queue_qsize(q), 1);
	expect_get(q, 3);
	/* The cancelled putter is out of the line too: nobody fills this. */
	settle(loop);
	assert_true(wq_queue_empty(q));
	wq_queue_free(q);
}

static void
test_cancel_putter_keeps_room(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 1);
	struct rec a = { 0 }, b = { 0 }, c = { 0 };

	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	assert_int_equal(wq_queue_put(q, &a.w, ITEM(2), rec_cb, &a), 1);
	assert_int_equal(wq_queue_put(q, &b.w, ITEM(3), rec_cb, &b), 1);
	assert_int_equal(wq_queue_put(q, &c.w, ITEM(4), rec_cb, &c), 1);
	/* b is cancelled while waiting, a after being woken. */
	wq_queue_cancel(&b.w);
	expect_get(q, 1);
	wq_queue_cancel(&a.w);
	STEP_UNTIL(loop, c.calls == 1);
	expect_get(q, 4);
	settle(loop);
	assert_int_equal(a.calls + b.calls, 0);
	assert_true(wq_queue_empty(q));

	/* With nobody behind it, the slot it was woken for stays free. */
	assert_int_equal(wq_queue_put_nowait(q, ITEM(5)), 0);
	assert_int_equal(wq_queue_put(q, &a.w, ITEM(6), rec_cb, &a), 1);
	expect_get(q, 5);
	wq_queue_cancel(&a.w);
	settle(loop);
	assert_int_equal(a.calls, 0);
	assert_true(wq_queue_empty(q));
	assert_int_equal(wq_queue_put_nowait(q, ITEM(7)), 0);
	expect_get(q, 7);
	wq_queue_free(q);
}

/* A woken waiter whose chance a *_nowait call took keeps its place. */
static void
test_woken_waiter_keeps_place(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 1);
	struct rec a = { 0 }, b = { 0 }, p = { 0 }, r = { 0 };
	void *item;

	assert_int_equal(wq_queue_get(q, &a.w, &item, rec_cb, &a), 1);
	assert_int_equal(wq_queue_get(q, &b.w, &item, rec_cb, &b), 1);
	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	expect_get(q, 1);
	settle(loop);
	assert_int_equal(a.calls + b.calls, 0);
	assert_true(wq_queue_waiting(&a.w));
	assert_int_equal(wq_queue_put_nowait(q, ITEM(2)), 0);
	STEP_UNTIL(loop, a.calls == 1);
	assert_ptr_equal(a.item, ITEM(2));
	assert_int_equal(b.calls, 0);
	wq_queue_cancel(&b.w);

	/* The same for putters: a put_nowait takes the slot first. */
	assert_int_equal(wq_queue_put_nowait(q, ITEM(3)), 0);
	assert_int_equal(wq_queue_put(q, &p.w, ITEM(4), rec_cb, &p), 1);
	assert_int_equal(wq_queue_put(q, &r.w, ITEM(5), rec_cb, &r), 1);
	expect_get(q, 3);
	assert_int_equal(wq_queue_put_nowait(q, ITEM(6)), 0);
	settle(loop);
	assert_int_equal(p.calls + r.calls, 0);
	expect_get(q, 6);
	STEP_UNTIL(loop, p.calls == 1);
	assert_int_equal(r.calls, 0);
	expect_get(q, 4);
	STEP_UNTIL(loop, r.calls == 1);
	expect_get(q, 5);
	wq_queue_free(q);
}

static void
test_unbounded(void **state)
{
	struct wq_loop *loop = *state;
	struct rec p = { 0 };

	for (int maxsize = 0; maxsize >= -1; maxsize--) {
		struct wq_queue *q = new_queue(loop, maxsize);

		assert_int_equal(wq_queue_room(q), SIZE_MAX);
		/* Wrap the ring before it grows, so growth must unwrap. */
		for (uintptr_t n = 1; n <= 10; n++)
			assert_int_equal(wq_queue_put_nowait(q, ITEM(n)), 0);
		for (uintptr_t n = 1; n <= 10; n++)
			expect_get(q, n);
		for (uintptr_t n = 1; n <= 10000; n++)
			assert_int_equal(wq_queue_put(q, &p.w, ITEM(n), rec_cb,
			    &p), 0);
		assert_int_equal(wq_queue_qsize(q), 10000);
		assert_false(wq_queue_full(q));
		assert_int_equal(wq_queue_maxsize(q), maxsize);
		for (uintptr_t n = 1; n <= 10000; n++)
			expect_get(q, n);
		settle(loop);
		assert_int_equal(p.calls, 0);
		wq_queue_free(q);
	}
}

/*
 * Wakeups run on a later turn, never inside the call that caused them: the
 * flag set after that call returned is already set when the callback runs.
 */
static void
test_wakeups_not_reentrant(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 1);
	struct rec g = { 0 }, p = { 0 }, j = { 0 }, r = { 0 };
	void *item;

	assert_int_equal(wq_queue_get(q, &g.w, &item, rec_cb, &g), 1);
	returned = 0;
	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	returned = 1;
	STEP_UNTIL(loop, g.calls == 1);
	assert_int_equal(g.saw_returned, 1);

	assert_int_equal(wq_queue_put_nowait(q, ITEM(2)), 0);
	assert_int_equal(wq_queue_put(q, &p.w, ITEM(3), rec_cb, &p), 1);
	returned = 0;
	expect_get(q, 2);
	returned = 1;
	STEP_UNTIL(loop, p.calls == 1);
	assert_int_equal(p.saw_returned, 1);

	assert_int_equal(wq_queue_wait_room(q, &r.w, rec_cb, &r), 1);
	returned = 0;
	expect_get(q, 3);
	returned = 1;
	STEP_UNTIL(loop, r.calls == 1);
	assert_int_equal(r.saw_returned, 1);

	assert_int_equal(wq_queue_join(q, &j.w, rec_cb, &j), 1);
	for (int i = 0; i < 2; i++)
		assert_int_equal(wq_queue_task_done(q), 0);
	returned = 0;
	assert_int_equal(wq_queue_task_done(q), 0);
	returned = 1;
	STEP_UNTIL(loop, j.calls == 1);
	assert_int_equal(j.saw_returned, 1);
	wq_queue_free(q);
}

static void
test_shutdown_graceful(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 2);
	struct rec p = { 0 }, j = { 0 };
	void *item;

	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	assert_int_equal(wq_queue_put_nowait(q, ITEM(2)), 0);
	assert_int_equal(wq_queue_put(q, &p.w, ITEM(3), rec_cb, &p), 1);
	assert_int_equal(wq_queue_join(q, &j.w, rec_cb, &j), 1);
	wq_queue_shutdown(q, 0, NULL, NULL);
	assert_true(wq_queue_is_shutdown(q));

	/* The waiting putter gets its item back. */
	STEP_UNTIL(loop, p.calls == 1);
	assert_int_equal(p.err, ESHUTDOWN);
	assert_ptr_equal(p.item, ITEM(3));
	errno = 0;
	assert_int_equal(wq_queue_put_nowait(q, ITEM(4)), -1);
	assert_int_equal(errno, ESHUTDOWN);
	errno = 0;
	assert_int_equal(wq_queue_put(q, &p.w, ITEM(4), rec_cb, &p), -1);
	assert_int_equal(errno, ESHUTDOWN);
	errno = 0;
	assert_int_equal(wq_queue_wait_room(q, &p.w, rec_cb, &p), -1);
	assert_int_equal(errno, ESHUTDOWN);

	/* What is left comes out, then get fails. */
	assert_int_equal(wq_queue_get(q, &p.w, &item, rec_cb, &p), 0);
	assert_ptr_equal(item, ITEM(1));
	expect_get(q, 2);
	errno = 0;
	assert_int_equal(wq_queue_get(q, &p.w, &item, rec_cb, &p), -1);
	assert_int_equal(errno, ESHUTDOWN);
	errno = 0;
	assert_int_equal(wq_queue_get_nowait(q, &item), -1);
	assert_int_equal(errno, ESHUTDOWN);

	/* Not immediate: the items still count until task_done. */
	assert_int_equal(wq_queue_unfinished(q), 2);
	settle(loop);
	assert_int_equal(j.calls, 0);
	assert_int_equal(wq_queue_task_done(q), 0);
	assert_int_equal(wq_queue_task_done(q), 0);
	STEP_UNTIL(loop, j.calls == 1);
	assert_int_equal(p.calls, 1);
	wq_queue_free(q);
}

static void
test_shutdown_wakes_getters(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 0);
	struct rec g[3] = { 0 };
	void *item;

	for (int i = 0; i < 3; i++)
		assert_int_equal(wq_queue_get(q, &g[i].w, &item, rec_cb,
		    &g[i]), 1);
	/* g[0] is woken for this item before the shutdown: it still gets it. */
	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	wq_queue_shutdown(q, 0, NULL, NULL);
	STEP_UNTIL(loop, g[0].calls + g[1].calls + g[2].calls == 3);
	assert_int_equal(g[0].err, 0);
	assert_ptr_equal(g[0].item, ITEM(1));
	for (int i = 1; i < 3; i++) {
		assert_int_equal(g[i].calls, 1);
		assert_int_equal(g[i].err, ESHUTDOWN);
		assert_null(g[i].item);
	}
	wq_queue_free(q);
}

struct dropped {
	int	 n;
	void	*items[8];
};

static void
drop_cb(void *item, void *arg)
{
	struct dropped *d = arg;

	d->items[d->n++] = item;
}

static void
test_shutdown_immediate(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 2);
	struct rec p = { 0 }, r = { 0 }, j = { 0 };
	struct dropped d = { 0 };

	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	assert_int_equal(wq_queue_put_nowait(q, ITEM(2)), 0);
	assert_int_equal(wq_queue_put(q, &p.w, ITEM(3), rec_cb, &p), 1);
	assert_int_equal(wq_queue_wait_room(q, &r.w, rec_cb, &r), 1);
	assert_int_equal(wq_queue_join(q, &j.w, rec_cb, &j), 1);
	returned = 0;
	wq_queue_shutdown(q, 1, drop_cb, &d);
	returned = 1;

	assert_int_equal(d.n, 2);
	assert_ptr_equal(d.items[0], ITEM(1));
	assert_ptr_equal(d.items[1], ITEM(2));
	assert_true(wq_queue_empty(q));
	assert_int_equal(wq_queue_unfinished(q), 0);
	assert_int_equal(p.calls + r.calls + j.calls, 0);
	STEP_UNTIL(loop, p.calls == 1 && r.calls == 1 && j.calls == 1);
	assert_int_equal(p.err, ESHUTDOWN);
	assert_ptr_equal(p.item, ITEM(3));
	assert_int_equal(r.err, ESHUTDOWN);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.saw_returned, 1);
	errno = 0;
	assert_int_equal(wq_queue_task_done(q), -1);
	assert_int_equal(errno, EINVAL);
	wq_queue_free(q);
}

/* Items already taken stay unfinished: join waits for their task_done. */
static void
test_shutdown_immediate_taken_items(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 0);
	struct rec g[2] = { 0 }, j = { 0 };
	struct dropped d = { 0 };
	void *item;

	for (uintptr_t n = 1; n <= 3; n++)
		assert_int_equal(wq_queue_put_nowait(q, ITEM(n)), 0);
	expect_get(q, 1);
	assert_int_equal(wq_queue_join(q, &j.w, rec_cb, &j), 1);
	wq_queue_shutdown(q, 1, drop_cb, &d);
	assert_int_equal(d.n, 2);
	assert_int_equal(wq_queue_unfinished(q), 1);
	settle(loop);
	assert_int_equal(j.calls, 0);
	assert_int_equal(wq_queue_task_done(q), 0);
	STEP_UNTIL(loop, j.calls == 1);
	wq_queue_free(q);

	/* A getter woken for an item the shutdown dropped gets ESHUTDOWN. */
	q = new_queue(loop, 0);
	assert_int_equal(wq_queue_get(q, &g[0].w, &item, rec_cb, &g[0]), 1);
	assert_int_equal(wq_queue_get(q, &g[1].w, &item, rec_cb, &g[1]), 1);
	assert_int_equal(wq_queue_put_nowait(q, ITEM(9)), 0);
	d.n = 0;
	wq_queue_shutdown(q, 1, NULL, &d);
	assert_int_equal(d.n, 0);
	STEP_UNTIL(loop, g[0].calls == 1 && g[1].calls == 1);
	assert_int_equal(g[0].err, ESHUTDOWN);
	assert_null(g[0].item);
	assert_int_equal(g[1].err, ESHUTDOWN);
	wq_queue_free(q);
}

static void
test_set_maxsize_wakes_putters(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 1);
	struct rec p[3] = { 0 };

	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(wq_queue_put(q, &p[i].w, ITEM(2 + i), rec_cb,
		    &p[i]), 1);
	assert_int_equal(wq_queue_set_maxsize(q, 3), 0);
	assert_int_equal(wq_queue_maxsize(q), 3);
	assert_int_equal(wq_queue_room(q), 2);
	STEP_UNTIL(loop, p[0].calls == 1 && p[1].calls == 1);
	settle(loop);
	assert_int_equal(p[2].calls, 0);
	assert_int_equal(wq_queue_qsize(q), 3);
	assert_true(wq_queue_full(q));

	/* Unbounded: everyone goes in. */
	assert_int_equal(wq_queue_set_maxsize(q, 0), 0);
	STEP_UNTIL(loop, p[2].calls == 1);
	assert_int_equal(p[2].err, 0);
	assert_int_equal(wq_queue_qsize(q), 4);

	/* Lowering the bound keeps the items and makes the queue full. */
	assert_int_equal(wq_queue_set_maxsize(q, 2), 0);
	assert_true(wq_queue_full(q));
	assert_int_equal(wq_queue_room(q), 0);
	errno = 0;
	assert_int_equal(wq_queue_put_nowait(q, ITEM(9)), -1);
	assert_int_equal(errno, EAGAIN);
	for (uintptr_t n = 1; n <= 4; n++)
		expect_get(q, n);
	wq_queue_free(q);
}

static void
test_wait_room(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 1);
	struct rec r = { 0 }, p = { 0 };

	assert_int_equal(wq_queue_wait_room(q, &r.w, rec_cb, &r), 0);
	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	/* A putter came first: it is served first and fills the queue. */
	assert_int_equal(wq_queue_put(q, &p.w, ITEM(2), rec_cb, &p), 1);
	assert_int_equal(wq_queue_wait_room(q, &r.w, rec_cb, &r), 1);
	settle(loop);
	assert_int_equal(r.calls, 0);
	expect_get(q, 1);
	STEP_UNTIL(loop, p.calls == 1);
	settle(loop);
	assert_int_equal(r.calls, 0);
	assert_true(wq_queue_full(q));

	/* Room appears: the waiter is told, and nothing is put for it. */
	expect_get(q, 2);
	STEP_UNTIL(loop, r.calls == 1);
	assert_int_equal(r.err, 0);
	assert_null(r.item);
	assert_true(wq_queue_empty(q));
	assert_int_equal(wq_queue_room(q), 1);
	wq_queue_free(q);
}

/* A room waiter takes no room: the putter behind it is woken as well. */
static void
test_wait_room_passes_on(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_queue *q = new_queue(loop, 1);
	struct rec r1 = { 0 }, r2 = { 0 }, p = { 0 };

	assert_int_equal(wq_queue_put_nowait(q, ITEM(1)), 0);
	assert_int_equal(wq_queue_wait_room(q, &r1.w, rec_cb, &r1), 1);
	assert_int_equal(wq_queue_put(q, &p.w, ITEM(2), rec_cb, &p), 1);
	expect_get(q, 1);
	STEP_UNTIL(loop, r1.calls == 1 && p.calls == 1);
	assert_true(r1.order < p.order);
	expect_get(q, 2);

	/* Cancelled after being woken, it passes the room on likewise. */
	assert_int_equal(wq_queue_put_nowait(q, ITEM(3)), 0);
	assert_int_equal(wq_queue_wait_room(q, &r1.w, rec_cb, &r1), 1);
	assert_int_equal(wq_queue_wait_room(q, &r2.w, rec_cb, &r2), 1);
	expect_get(q, 3);
	wq_queue_cancel(&r1.w);
	STEP_UNTIL(loop, r2.calls == 1);
	settle(loop);
	assert_int_equal(r1.calls, 1);
	wq_queue_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_put_waits_while_full),
		T(test_get_waits_while_empty),
		T(test_getters_fifo),
		T(test_putters_fifo),
		T(test_put_nowait_full),
		T(test_get_nowait_empty),
		T(test_task_done_too_many),
		T(test_join_waits_for_task_done),
		T(test_join_nothing_unfinished),
		T(test_cancel_woken_getter_passes_item),
		T(test_cancel_woken_getter_keeps_item),
		T(test_cancel_waiting_getter_leaves_line),
		T(test_cancel_woken_putter_passes_room),
		T(test_cancel_putter_keeps_room),
		T(test_woken_waiter_keeps_place),
		T(test_unbounded),
		T(test_wakeups_not_reentrant),
		T(test_shutdown_graceful),
		T(test_shutdown_wakes_getters),
		T(test_shutdown_immediate),
		T(test_shutdown_immediate_taken_items),
		T(test_set_maxsize_wakes_putters),
		T(test_wait_room),
		T(test_wait_room_passes_on),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
