/*
 * Executor tests: a real loop stepped from the test thread, which is the
 * loop thread.  fns on executor threads only record into atomics (cmocka's
 * state is thread-local); every assertion runs on the test thread, and
 * every wait is a poll with a deadline.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "clock.h"
#include "exec.h"
#include "loop.h"

#define DEADLINE_MS	30000
#define STRESS_TASKS	100000

struct tt {
	struct wq_exec_task	 task;
	atomic_int		 fn_runs;
	int			 sleep_ms;	/* simulated blocking work */
	int			 gated;		/* waits for gate_open */
	int			 done_runs;	/* loop thread only */
	int			 done_ran;	/* wq_exec_task_ran() in done */
	int			 done_off_loop;
};

/* Per test, on the heap, so that a failed assertion (a longjmp out of the
   test) leaves the teardown nothing dangling to clean up. */
struct fx {
	struct wq_loop	*loop;
	struct wq_exec	*exec;
	struct tt	 t[16];
	struct tt	*many;
};

static pthread_t	 loop_tid;
static struct wq_exec	*cur_exec;

/* Recorded by fns on executor threads. */
static atomic_int	 running;
static atomic_int	 running_max;
static atomic_int	 fn_on_loop;
static atomic_int	 fn_bad_mask;
static atomic_int	 fn_bad_name;

/* The gate that blocking fns wait on. */
static pthread_mutex_t	 gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 gate_cond = PTHREAD_COND_INITIALIZER;
static int		 gate_open;

/* Loop thread only. */
static int		 dones;
static int		 resubmit_errno;
static struct tt	 resubmit;

#define TT(t)	((struct tt *)(void *)((char *)(t) - offsetof(struct tt, task)))

static void
gate_set(int open)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = open;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

static void
gate_wait(void)
{
	pthread_mutex_lock(&gate_lock);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void
note_running(void)
{
	int now = atomic_fetch_add(&running, 1) + 1;
	int max = atomic_load(&running_max);

	while (now > max && !atomic_compare_exchange_weak(&running_max, &max,
	    now))
		;
}

/* Executor thread: records where it runs, optionally blocks. */
static void
fn(struct wq_exec_task *task)
{
	struct tt *t = TT(task);
	struct timespec ts = { t->sleep_ms / 1000,
	    (t->sleep_ms % 1000) * 1000000L };

	note_running();
	if (pthread_equal(pthread_self(), loop_tid))
		atomic_fetch_add(&fn_on_loop, 1);
	atomic_fetch_add(&t->fn_runs, 1);
	if (t->gated)
		gate_wait();
	if (t->sleep_ms > 0)
		nanosleep(&ts, NULL);
	atomic_fetch_sub(&running, 1);
}

/* Executor thread: checks the signal mask and the thread name. */
static void
fn_inspect(struct wq_exec_task *task)
{
	sigset_t set;
	char name[16];

	pthread_sigmask(SIG_BLOCK, NULL, &set);
	if (!sigismember(&set, SIGTERM) || !sigismember(&set, SIGINT) ||
	    !sigismember(&set, SIGHUP))
		atomic_fetch_add(&fn_bad_mask, 1);
	if (pthread_getname_np(pthread_self(), name, sizeof(name)) != 0 ||
	    strcmp(name, "workqd-exec") != 0)
		atomic_fetch_add(&fn_bad_name, 1);
	fn(task);
}

/* Loop thread. */
static void
done(struct wq_exec_task *task)
{
	struct tt *t = TT(task);

	t->done_runs++;
	t->done_ran = wq_exec_task_ran(task);
	if (!pthread_equal(pthread_self(), loop_tid))
		t->done_off_loop++;
	dones++;
}

/* Loop thread: a done that tries to submit while the pool shuts down. */
static void
done_resubmit(struct wq_exec_task *task)
{
	done(task);
	resubmit.task.fn = fn;
	resubmit.task.done = done;
	if (wq_exec_submit(cur_exec, &resubmit.task) < 0)
		resubmit_errno = errno;
}

static void
reset(void)
{
	atomic_store(&running, 0);
	atomic_store(&running_max, 0);
	atomic_store(&fn_on_loop, 0);
	atomic_store(&fn_bad_mask, 0);
	atomic_store(&fn_bad_name, 0);
	gate_set(0);
	dones = 0;
	resubmit_errno = 0;
	memset(&resubmit, 0, sizeof(resubmit));
	loop_tid = pthread_self();
}

static void
tt_init(struct tt *t, int n, int gated, int sleep_ms)
{
	int i;

	memset(t, 0, n * sizeof(*t));
	for (i = 0; i < n; i++) {
		t[i].task.fn = fn;
		t[i].task.done = done;
		t[i].gated = gated;
		t[i].sleep_ms = sleep_ms;
	}
}

/* Steps the loop until dones reaches n; 0, or -1 at the deadline. */
static int
step_until_dones(struct wq_loop *loop, int n)
{
	int64_t end = wq_clock_mono_ms() + DEADLINE_MS;

	while (dones < n) {
		if (wq_clock_mono_ms() > end)
			return -1;
		wq_loop_step(loop, 10);
	}
	return 0;
}

/* Polls the stats, without stepping the loop, until busy and queued have
   the given values; 0, or -1 at the deadline. */
static int
wait_stats(struct wq_exec *exec, unsigned busy, unsigned queued)
{
	int64_t end = wq_clock_mono_ms() + DEADLINE_MS;
	struct wq_exec_stats st;

	for (;;) {
		wq_exec_stats(exec, &st);
		if (st.busy == busy && st.queued == queued)
			return 0;
		if (wq_clock_mono_ms() > end)
			return -1;
		sched_yield();
	}
}

/* Polls the fns' own count of running calls; 0, or -1 at the deadline. */
static int
wait_running(int n)
{
	int64_t end = wq_clock_mono_ms() + DEADLINE_MS;

	while (atomic_load(&running) != n) {
		if (wq_clock_mono_ms() > end)
			return -1;
		sched_yield();
	}
	return 0;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->loop = wq_loop_new()) == NULL) {
		free(fx);
		return -1;
	}
	reset();
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	/* Let a blocked fn of a failed test return so the join ends. */
	gate_set(1);
	wq_exec_free(fx->exec);
	wq_loop_free(fx->loop);
	free(fx->many);
	free(fx);
	return 0;
}

static void
test_new_rejects(void **state)
{
	struct fx *fx = *state;
	struct wq_loop *loop = fx->loop;

	errno = 0;
	assert_null(wq_exec_new(loop, 0, 4));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(wq_exec_new(loop, 2, 0));
	assert_int_equal(errno, EINVAL);
}

static void
test_fn_off_loop_done_on_loop(void **state)
{
	struct fx *fx = *state;
	struct tt *t = fx->t;
	struct wq_exec_stats st;
	int i;

	tt_init(t, 10, 0, 0);
	fx->exec = wq_exec_new(fx->loop, 2, 16);
	assert_non_null(fx->exec);
	for (i = 0; i < 10; i++) {
		t[i].task.fn = fn_inspect;
		assert_int_equal(wq_exec_submit(fx->exec, &t[i].task), 0);
	}
	assert_int_equal(step_until_dones(fx->loop, 10), 0);
	for (i = 0; i < 10; i++) {
		assert_int_equal(atomic_load(&t[i].fn_runs), 1);
		assert_int_equal(t[i].done_runs, 1);
		assert_int_equal(t[i].done_ran, 1);
		assert_int_equal(t[i].done_off_loop, 0);
	}
	assert_int_equal(atomic_load(&fn_on_loop), 0);
	assert_int_equal(atomic_load(&fn_bad_mask), 0);
	assert_int_equal(atomic_load(&fn_bad_name), 0);
	wq_exec_stats(fx->exec, &st);
	assert_int_equal(st.threads, 2);
	assert_int_equal(st.busy, 0);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.queue_max, 16);
}

static void
test_concurrency_cap(void **state)
{
	struct fx *fx = *state;
	struct tt *t = fx->t;
	int i;

	tt_init(t, 9, 1, 0);
	fx->exec = wq_exec_new(fx->loop, 3, 16);
	assert_non_null(fx->exec);
	for (i = 0; i < 9; i++)
		assert_int_equal(wq_exec_submit(fx->exec, &t[i].task), 0);
	/* Three run and block; six wait their turn. */
	assert_int_equal(wait_stats(fx->exec, 3, 6), 0);
	assert_int_equal(wait_running(3), 0);
	for (i = 0; i < 20; i++)
		wq_loop_step(fx->loop, 1);
	assert_int_equal(atomic_load(&running), 3);
	assert_int_equal(atomic_load(&running_max), 3);
	assert_int_equal(dones, 0);
	gate_set(1);
	assert_int_equal(step_until_dones(fx->loop, 9), 0);
	assert_int_equal(atomic_load(&running_max), 3);
}

static void
test_queue_full_and_cancel(void **state)
{
	struct fx *fx = *state;
	struct tt *t = fx->t;	/* blocker, a, b, c */

	tt_init(t, 4, 0, 0);
	t[0].gated = 1;
	fx->exec = wq_exec_new(fx->loop, 1, 2);
	assert_non_null(fx->exec);
	assert_int_equal(wq_exec_submit(fx->exec, &t[0].task), 0);
	assert_int_equal(wait_stats(fx->exec, 1, 0), 0);
	assert_int_equal(wq_exec_submit(fx->exec, &t[1].task), 0);
	assert_int_equal(wq_exec_submit(fx->exec, &t[2].task), 0);
	errno = 0;
	assert_int_equal(wq_exec_submit(fx->exec, &t[3].task), -1);
	assert_int_equal(errno, EAGAIN);

	/* Cancelling a queued task makes room; a running one is busy. */
	assert_int_equal(wq_exec_cancel(&t[1].task), 0);
	assert_int_equal(wq_exec_submit(fx->exec, &t[3].task), 0);
	errno = 0;
	assert_int_equal(wq_exec_cancel(&t[0].task), -1);
	assert_int_equal(errno, EBUSY);

	gate_set(1);
	assert_int_equal(step_until_dones(fx->loop, 3), 0);
	assert_int_equal(atomic_load(&t[1].fn_runs), 0);
	assert_int_equal(t[1].done_runs, 0);
	assert_int_equal(t[0].done_runs, 1);
	assert_int_equal(t[2].done_runs, 1);
	assert_int_equal(t[3].done_runs, 1);
	/* A task that ran cannot be cancelled either. */
	errno = 0;
	assert_int_equal(wq_exec_cancel(&t[2].task), -1);
	assert_int_equal(errno, EBUSY);
	/* Give a stray done for the cancelled task a chance to show. */
	wq_loop_step(fx->loop, 10);
	assert_int_equal(t[1].done_runs, 0);
	assert_int_equal(dones, 3);
}

static void
test_abandon_holds(void **state)
{
	struct fx *fx = *state;
	struct tt *t = fx->t;
	struct wq_exec_stats st;

	tt_init(t, 1, 1, 0);
	fx->exec = wq_exec_new(fx->loop, 1, 4);
	assert_non_null(fx->exec);
	assert_int_equal(wq_exec_submit(fx->exec, &t[0].task), 0);
	assert_int_equal(wait_stats(fx->exec, 1, 0), 0);
	assert_int_equal(wait_running(1), 0);
	wq_exec_stats(fx->exec, &st);
	assert_int_equal(st.held, 0);

	wq_exec_abandon(&t[0].task);
	wq_exec_abandon(&t[0].task);
	wq_exec_stats(fx->exec, &st);
	assert_int_equal(st.busy, 1);
	assert_int_equal(st.held, 1);
	assert_int_equal(atomic_load(&running), 1);

	gate_set(1);
	assert_int_equal(wait_stats(fx->exec, 0, 0), 0);
	wq_exec_stats(fx->exec, &st);
	assert_int_equal(st.held, 0);
	assert_int_equal(step_until_dones(fx->loop, 1), 0);
	assert_int_equal(t[0].done_runs, 1);
	assert_int_equal(t[0].done_ran, 1);
}

static void
test_free_drops_queued(void **state)
{
	struct fx *fx = *state;
	struct tt *t = fx->t;
	int i;

	tt_init(t, 4, 0, 0);
	/* The blocker is still sleeping when wq_exec_free sets the flag, so
	   the single thread never takes another task. */
	t[0].sleep_ms = 200;
	t[3].task.done = done_resubmit;
	fx->exec = cur_exec = wq_exec_new(fx->loop, 1, 8);
	assert_non_null(fx->exec);
	for (i = 0; i < 4; i++)
		assert_int_equal(wq_exec_submit(fx->exec, &t[i].task), 0);
	assert_int_equal(wait_stats(fx->exec, 1, 3), 0);
	wq_exec_free(fx->exec);
	fx->exec = cur_exec = NULL;

	/* Joined: the blocker ran, the queued ones got done with ran 0. */
	assert_int_equal(atomic_load(&t[0].fn_runs), 1);
	for (i = 1; i < 4; i++) {
		assert_int_equal(atomic_load(&t[i].fn_runs), 0);
		assert_int_equal(t[i].done_runs, 1);
		assert_int_equal(t[i].done_ran, 0);
	}
	assert_int_equal(resubmit_errno, ESHUTDOWN);
	assert_int_equal(atomic_load(&resubmit.fn_runs), 0);
	assert_int_equal(resubmit.done_runs, 0);

	/* The blocker's done was posted: the loop delivers it afterwards. */
	assert_int_equal(t[0].done_runs, 0);
	assert_int_equal(step_until_dones(fx->loop, 4), 0);
	assert_int_equal(t[0].done_runs, 1);
	assert_int_equal(t[0].done_ran, 1);
}

static void
test_free_delivers_posted(void **state)
{
	struct fx *fx = *state;
	struct tt *t = fx->t;
	int i;

	tt_init(t, 3, 0, 0);
	fx->exec = wq_exec_new(fx->loop, 2, 8);
	assert_non_null(fx->exec);
	for (i = 0; i < 3; i++)
		assert_int_equal(wq_exec_submit(fx->exec, &t[i].task), 0);
	/* All ran and were posted, but the loop has not turned. */
	assert_int_equal(wait_stats(fx->exec, 0, 0), 0);
	wq_exec_free(fx->exec);
	fx->exec = NULL;
	assert_int_equal(dones, 0);
	assert_int_equal(step_until_dones(fx->loop, 3), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(t[i].done_runs, 1);
		assert_int_equal(t[i].done_ran, 1);
	}
}

static void
test_stress(void **state)
{
	struct fx *fx = *state;
	struct tt *t;
	int64_t end = wq_clock_mono_ms() + DEADLINE_MS * 4;
	int i, next = 0, again = 0;

	t = fx->many = malloc(STRESS_TASKS * sizeof(*t));
	assert_non_null(t);
	tt_init(t, STRESS_TASKS, 0, 0);
	fx->exec = wq_exec_new(fx->loop, 4, 64);
	assert_non_null(fx->exec);
	while (dones < STRESS_TASKS && wq_clock_mono_ms() < end) {
		while (next < STRESS_TASKS &&
		    wq_exec_submit(fx->exec, &t[next].task) == 0)
			next++;
		if (next < STRESS_TASKS) {
			assert_int_equal(errno, EAGAIN);
			again++;
		}
		wq_loop_step(fx->loop, 10);
	}
	assert_int_equal(dones, STRESS_TASKS);
	for (i = 0; i < STRESS_TASKS; i++) {
		if (atomic_load(&t[i].fn_runs) != 1 || t[i].done_runs != 1 ||
		    t[i].done_ran != 1 || t[i].done_off_loop != 0)
			fail_msg("task %d: fn %d done %d ran %d", i,
			    atomic_load(&t[i].fn_runs), t[i].done_runs,
			    t[i].done_ran);
	}
	assert_true(again > 0);
	assert_in_range(atomic_load(&running_max), 1, 4);
	assert_int_equal(atomic_load(&fn_on_loop), 0);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_new_rejects),
		T(test_fn_off_loop_done_on_loop),
		T(test_concurrency_cap),
		T(test_queue_full_and_cancel),
		T(test_abandon_holds),
		T(test_free_drops_queued),
		T(test_free_delivers_posted),
		T(test_stress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
