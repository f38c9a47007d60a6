/*
 * Unit tests for core/sem.c: asyncio.Semaphore's behaviour (FIFO waiters,
 * the fairness rule, permits granted on a later turn), on a real loop
 * stepped one turn at a time.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "loop.h"
#include "sem.h"

#define MAX_STEPS	200

/* Steps the loop until cond holds, for a bounded number of turns. */
#define STEP_UNTIL(loop, cond) do {					\
	for (int step_ = 0; step_ < MAX_STEPS && !(cond); step_++)	\
		assert_int_equal(wq_loop_step((loop), 1), 0);		\
	assert_true(cond);						\
} while (0)

struct rec {
	struct wq_sem_waiter	 w;
	int			 calls;
	int			 order;
	int			 saw_returned;
	unsigned		 held;	/* sem->held when the callback ran */
};

static int seq;		/* order of callbacks across a test */
static int returned;	/* set once the call that granted had returned */

static void
rec_cb(struct wq_sem_waiter *w)
{
	struct rec *r = w->arg;

	r->calls++;
	r->order = ++seq;
	r->saw_returned = returned;
	r->held = w->sem->held;
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

static void
test_acquire_now_or_wait(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_sem sem;
	struct rec a = { 0 }, b = { 0 }, c = { 0 };

	wq_sem_init(&sem, loop, 2);
	assert_int_equal(wq_sem_free(&sem), 2);
	assert_false(wq_sem_locked(&sem));
	assert_int_equal(wq_sem_acquire(&sem, &a.w, rec_cb, &a), 0);
	assert_int_equal(wq_sem_acquire(&sem, &b.w, rec_cb, &b), 0);
	assert_int_equal(wq_sem_free(&sem), 0);
	assert_true(wq_sem_locked(&sem));
	assert_int_equal(wq_sem_acquire(&sem, &c.w, rec_cb, &c), 1);
	settle(loop);
	assert_int_equal(a.calls + b.calls + c.calls, 0);

	wq_sem_release(&sem);
	STEP_UNTIL(loop, c.calls == 1);
	assert_int_equal(c.held, 2);
	wq_sem_release(&sem);
	wq_sem_release(&sem);
	assert_int_equal(wq_sem_free(&sem), 2);
	assert_int_equal(sem.held, 0);
	wq_sem_fini(&sem);
}

static void
test_fifo(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_sem sem;
	struct rec w[4] = { 0 };

	wq_sem_init(&sem, loop, 1);
	assert_int_equal(wq_sem_try_acquire(&sem), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(wq_sem_acquire(&sem, &w[i].w, rec_cb, &w[i]),
		    1);
	for (int i = 0; i < 4; i++) {
		wq_sem_release(&sem);
		STEP_UNTIL(loop, w[i].calls == 1);
		settle(loop);
		for (int j = i + 1; j < 4; j++)
			assert_int_equal(w[j].calls, 0);
		assert_int_equal(w[i].order, i + 1);
		assert_int_equal(sem.held, 1);
	}
	wq_sem_release(&sem);
	assert_int_equal(sem.held, 0);
	wq_sem_fini(&sem);
}

/*
 * A released permit is the first waiter's from the moment of release: a
 * try_acquire or acquire in between neither takes it nor jumps the line.
 */
static void
test_fairness(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_sem sem;
	struct rec w = { 0 }, x = { 0 };

	wq_sem_init(&sem, loop, 1);
	assert_int_equal(wq_sem_try_acquire(&sem), 0);
	errno = 0;
	assert_int_equal(wq_sem_try_acquire(&sem), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(wq_sem_acquire(&sem, &w.w, rec_cb, &w), 1);
	wq_sem_release(&sem);
	assert_true(wq_sem_locked(&sem));
	errno = 0;
	assert_int_equal(wq_sem_try_acquire(&sem), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(wq_sem_acquire(&sem, &x.w, rec_cb, &x), 1);
	STEP_UNTIL(loop, w.calls == 1);
	settle(loop);
	assert_int_equal(x.calls, 0);
	assert_int_equal(sem.held, 1);
	wq_sem_release(&sem);
	STEP_UNTIL(loop, x.calls == 1);
	wq_sem_release(&sem);
	assert_int_equal(sem.held, 0);
	wq_sem_fini(&sem);
}

/* The next waiter runs on a later turn, never inside release. */
static void
test_release_grants_later(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_sem sem;
	struct rec w = { 0 };

	wq_sem_init(&sem, loop, 1);
	assert_int_equal(wq_sem_try_acquire(&sem), 0);
	assert_int_equal(wq_sem_acquire(&sem, &w.w, rec_cb, &w), 1);
	returned = 0;
	wq_sem_release(&sem);
	returned = 1;
	assert_int_equal(w.calls, 0);
	/* Granted at once, though: the permit is held for the waiter. */
	assert_int_equal(sem.held, 1);
	STEP_UNTIL(loop, w.calls == 1);
	assert_int_equal(w.saw_returned, 1);
	assert_int_equal(w.held, 1);
	wq_sem_release(&sem);
	wq_sem_fini(&sem);
}

static void
test_cancel_granted_passes_permit(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_sem sem;
	struct rec a = { 0 }, b = { 0 };

	wq_sem_init(&sem, loop, 1);
	assert_int_equal(wq_sem_try_acquire(&sem), 0);
	assert_int_equal(wq_sem_acquire(&sem, &a.w, rec_cb, &a), 1);
	assert_int_equal(wq_sem_acquire(&sem, &b.w, rec_cb, &b), 1);
	wq_sem_release(&sem);
	wq_sem_cancel(&a.w);
	STEP_UNTIL(loop, b.calls == 1);
	settle(loop);
	assert_int_equal(a.calls, 0);
	assert_int_equal(sem.held, 1);

	/* With nobody behind it, the permit becomes free again. */
	assert_int_equal(wq_sem_acquire(&sem, &a.w, rec_cb, &a), 1);
	wq_sem_release(&sem);
	wq_sem_cancel(&a.w);
	settle(loop);
	assert_int_equal(a.calls, 0);
	assert_int_equal(sem.held, 0);
	assert_int_equal(wq_sem_free(&sem), 1);
	assert_int_equal(wq_sem_try_acquire(&sem), 0);
	wq_sem_release(&sem);
	wq_sem_fini(&sem);
}

static void
test_cancel_waiting(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_sem sem;
	struct rec a = { 0 }, b = { 0 };

	wq_sem_init(&sem, loop, 1);
	/* Cancelling an idle waiter does nothing. */
	wq_sem_cancel(&a.w);
	assert_int_equal(wq_sem_try_acquire(&sem), 0);
	assert_int_equal(wq_sem_acquire(&sem, &a.w, rec_cb, &a), 1);
	assert_int_equal(wq_sem_acquire(&sem, &b.w, rec_cb, &b), 1);
	wq_sem_cancel(&a.w);
	assert_int_equal(sem.held, 1);
	wq_sem_release(&sem);
	STEP_UNTIL(loop, b.calls == 1);
	settle(loop);
	assert_int_equal(a.calls, 0);
	wq_sem_release(&sem);
	assert_false(wq_sem_locked(&sem));
	wq_sem_fini(&sem);
}

static void
test_unlimited(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_sem sem;
	struct rec w = { 0 };

	wq_sem_init(&sem, loop, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(wq_sem_acquire(&sem, &w.w, rec_cb, &w), 0);
	assert_int_equal(wq_sem_try_acquire(&sem), 0);
	assert_int_equal(sem.held, 1001);
	assert_int_equal(wq_sem_free(&sem), UINT_MAX);
	assert_false(wq_sem_locked(&sem));
	for (int i = 0; i < 1001; i++)
		wq_sem_release(&sem);
	assert_int_equal(sem.held, 0);
	settle(loop);
	assert_int_equal(w.calls, 0);
	wq_sem_fini(&sem);
}

static void
test_set_limit_up(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_sem sem;
	struct rec w[3] = { 0 };

	wq_sem_init(&sem, loop, 1);
	assert_int_equal(wq_sem_try_acquire(&sem), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(wq_sem_acquire(&sem, &w[i].w, rec_cb, &w[i]),
		    1);
	wq_sem_set_limit(&sem, 3);
	assert_int_equal(w[0].calls + w[1].calls, 0);
	STEP_UNTIL(loop, w[0].calls == 1 && w[1].calls == 1);
	settle(loop);
	assert_int_equal(w[2].calls, 0);
	assert_int_equal(sem.held, 3);

	/* 0 lifts the limit: the last waiter goes too. */
	wq_sem_set_limit(&sem, 0);
	STEP_UNTIL(loop, w[2].calls == 1);
	assert_int_equal(sem.held, 4);
	for (int i = 0; i < 4; i++)
		wq_sem_release(&sem);
	wq_sem_fini(&sem);
}

/* Lowering the limit takes no permit back; waiters wait for the new one. */
static void
test_set_limit_down(void **state)
{
	struct wq_loop *loop = *state;
	struct wq_sem sem;
	struct rec w = { 0 };

	wq_sem_init(&sem, loop, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(wq_sem_try_acquire(&sem), 0);
	wq_sem_set_limit(&sem, 1);
	assert_int_equal(sem.held, 3);
	assert_int_equal(wq_sem_free(&sem), 0);
	assert_true(wq_sem_locked(&sem));
	assert_int_equal(wq_sem_acquire(&sem, &w.w, rec_cb, &w), 1);
	for (unsigned left = 2; left >= 1; left--) {
		wq_sem_release(&sem);
		settle(loop);
		assert_int_equal(w.calls, 0);
		assert_int_equal(sem.held, left);
	}
	wq_sem_release(&sem);
	STEP_UNTIL(loop, w.calls == 1);
	assert_int_equal(sem.held, 1);
	wq_sem_release(&sem);
	wq_sem_fini(&sem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_acquire_now_or_wait),
		T(test_fifo),
		T(test_fairness),
		T(test_release_grants_later),
		T(test_cancel_granted_passes_permit),
		T(test_cancel_waiting),
		T(test_unlimited),
		T(test_set_limit_up),
		T(test_set_limit_down),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
