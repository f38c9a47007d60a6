/*
 * Loop tests: wq_loop_soon ordering and re-entrancy, cancel, wq_loop_post
 * from many threads with its coalesced wakeup, and the stall detector.
 * The test thread is the loop thread; posting threads only post, and every
 * assertion runs on the test thread.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/event.h>

#include "clock.h"
#include "loop.h"

#define DEADLINE_MS	30000
#define POSTERS		8
#define POSTS		10000

struct pcall;

struct rec {
	struct wq_call	 call;
	int		 id;
	int		 runs;
	struct rec	*also;		/* queued from inside this call */
	struct rec	*cancels;	/* cancelled from inside this call */
};

/* Per test, so that a failed assertion leaves nothing for the next. */
struct fx {
	struct wq_loop	*loop;
	struct pcall	*calls;
};

static struct wq_loop	*cur_loop;
static pthread_t	 loop_tid;
static int		 order[16];
static int		 norder;
static int		 depth;		/* > 0 inside a soon call */
static int		 nested;	/* a call ran inside another */
static int		 in_timer;	/* > 0 inside the timer callback */
static int		 ran_in_timer;

#define REC(c)	((struct rec *)(void *)((char *)(c) - offsetof(struct rec, call)))

static void
rec_cb(struct wq_call *call)
{
	struct rec *r = REC(call);

	if (depth > 0)
		nested++;
	if (in_timer > 0)
		ran_in_timer++;
	depth++;
	r->runs++;
	if (norder < (int)(sizeof(order) / sizeof(order[0])))
		order[norder++] = r->id;
	if (r->also != NULL)
		wq_loop_soon(cur_loop, &r->also->call);
	if (r->cancels != NULL)
		wq_loop_cancel(cur_loop, &r->cancels->call);
	depth--;
}

static void
recs_init(struct rec *r, int n)
{
	int i;

	memset(r, 0, n * sizeof(*r));
	for (i = 0; i < n; i++) {
		r[i].call.fn = rec_cb;
		r[i].id = i;
	}
}

static void
reset(void)
{
	memset(order, 0, sizeof(order));
	norder = 0;
	depth = 0;
	nested = 0;
	in_timer = 0;
	ran_in_timer = 0;
	loop_tid = pthread_self();
}

/* Steps the loop until *counter reaches n; 0, or -1 at the deadline. */
static int
step_until(struct wq_loop *loop, const int *counter, int n)
{
	int64_t end = wq_clock_mono_ms() + DEADLINE_MS;

	while (*counter < n) {
		if (wq_clock_mono_ms() > end)
			return -1;
		wq_loop_step(loop, 10);
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
	cur_loop = fx->loop;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	wq_loop_free(fx->loop);
	free(fx->calls);
	free(fx);
	cur_loop = NULL;
	return 0;
}

static void
test_soon_fifo(void **state)
{
	struct fx *fx = *state;
	struct wq_loop *loop = fx->loop;
	struct rec r[4];

	recs_init(r, 4);
	wq_loop_soon(loop, &r[2].call);
	wq_loop_soon(loop, &r[0].call);
	wq_loop_soon(loop, &r[3].call);
	wq_loop_soon(loop, &r[1].call);
	assert_int_equal(norder, 0);
	assert_int_equal(step_until(loop, &norder, 4), 0);
	assert_int_equal(order[0], 2);
	assert_int_equal(order[1], 0);
	assert_int_equal(order[2], 3);
	assert_int_equal(order[3], 1);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rec *r = arg;

	(void)fd;
	(void)what;
	in_timer++;
	wq_loop_soon(cur_loop, &r[0].call);
	wq_loop_soon(cur_loop, &r[1].call);
	in_timer--;
}

static void
test_soon_not_reentrant(void **state)
{
	struct fx *fx = *state;
	struct wq_loop *loop = fx->loop;
	struct timeval tv = { 0, 0 };
	struct rec r[3];

	recs_init(r, 3);
	/* 0 queues 2 while it runs: 2 goes after 1, on a later pass. */
	r[0].also = &r[2];
	assert_int_equal(event_base_once(wq_loop_base(loop), -1, EV_TIMEOUT,
	    timer_cb, r, &tv), 0);
	assert_int_equal(step_until(loop, &norder, 3), 0);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 1);
	assert_int_equal(order[2], 2);
	assert_int_equal(ran_in_timer, 0);
	assert_int_equal(nested, 0);
}

static void
test_soon_twice_runs_once(void **state)
{
	struct fx *fx = *state;
	struct wq_loop *loop = fx->loop;
	struct rec r[2];

	recs_init(r, 2);
	wq_loop_soon(loop, &r[0].call);
	wq_loop_soon(loop, &r[1].call);
	wq_loop_soon(loop, &r[0].call);
	assert_int_equal(step_until(loop, &norder, 2), 0);
	wq_loop_step(loop, 10);
	assert_int_equal(norder, 2);
	assert_int_equal(r[0].runs, 1);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 1);

	/* Once it ran, it can be queued again. */
	wq_loop_soon(loop, &r[0].call);
	assert_int_equal(step_until(loop, &norder, 3), 0);
	assert_int_equal(r[0].runs, 2);
}

static void
test_cancel(void **state)
{
	struct fx *fx = *state;
	struct wq_loop *loop = fx->loop;
	struct rec r[3];

	recs_init(r, 3);
	wq_loop_soon(loop, &r[0].call);
	wq_loop_soon(loop, &r[1].call);
	wq_loop_soon(loop, &r[2].call);
	wq_loop_cancel(loop, &r[1].call);
	wq_loop_cancel(loop, &r[1].call);	/* not queued: nothing */
	assert_int_equal(step_until(loop, &norder, 2), 0);
	wq_loop_step(loop, 10);
	assert_int_equal(norder, 2);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 2);
	assert_int_equal(r[1].runs, 0);

	/* A cancelled call can be queued again. */
	wq_loop_soon(loop, &r[1].call);
	assert_int_equal(step_until(loop, &norder, 3), 0);
	assert_int_equal(r[1].runs, 1);
}

static void
test_cancel_in_same_pass(void **state)
{
	struct fx *fx = *state;
	struct wq_loop *loop = fx->loop;
	struct rec r[3];

	recs_init(r, 3);
	/* 0 and 1 are drained together; 0 cancels 1 before it runs.  Then
	   the list must still work: 2, queued afterwards, runs. */
	r[0].cancels = &r[1];
	wq_loop_soon(loop, &r[0].call);
	wq_loop_soon(loop, &r[1].call);
	assert_int_equal(step_until(loop, &norder, 1), 0);
	wq_loop_step(loop, 10);
	assert_int_equal(r[1].runs, 0);
	wq_loop_soon(loop, &r[2].call);
	assert_int_equal(step_until(loop, &norder, 2), 0);
	assert_int_equal(r[2].runs, 1);
	assert_int_equal(r[1].runs, 0);
}

struct pcall {
	struct wq_call	 call;
	int		 runs;		/* loop thread only */
	int		 off_loop;
};

struct poster {
	pthread_t	 tid;
	struct wq_loop	*loop;
	struct pcall	*calls;
	atomic_int	*go;
};

static int	delivered;

#define PCALL(c) \
	((struct pcall *)(void *)((char *)(c) - offsetof(struct pcall, call)))

static void
pcall_cb(struct wq_call *call)
{
	struct pcall *p = PCALL(call);

	p->runs++;
	if (!pthread_equal(pthread_self(), loop_tid))
		p->off_loop++;
	delivered++;
}

static void *
poster(void *arg)
{
	struct poster *ps = arg;
	int i;

	while (!atomic_load(ps->go))
		;
	/* Yielding now and then lets the loop drain while others post. */
	for (i = 0; i < POSTS; i++) {
		wq_loop_post(ps->loop, &ps->calls[i].call);
		if (i % 128 == 127)
			sched_yield();
	}
	return NULL;
}

static struct pcall *
posters_start(struct poster *ps, struct wq_loop *loop, atomic_int *go)
{
	struct pcall *calls = calloc(POSTERS * POSTS, sizeof(*calls));
	int i;

	assert_non_null(calls);
	for (i = 0; i < POSTERS * POSTS; i++)
		calls[i].call.fn = pcall_cb;
	for (i = 0; i < POSTERS; i++) {
		ps[i].loop = loop;
		ps[i].calls = calls + i * POSTS;
		ps[i].go = go;
		assert_int_equal(pthread_create(&ps[i].tid, NULL, poster,
		    &ps[i]), 0);
	}
	atomic_store(go, 1);
	return calls;
}

static void
check_calls(const struct pcall *calls)
{
	int i;

	for (i = 0; i < POSTERS * POSTS; i++) {
		if (calls[i].runs != 1 || calls[i].off_loop != 0)
			fail_msg("call %d: runs %d off_loop %d", i,
			    calls[i].runs, calls[i].off_loop);
	}
}

static void
test_post_many_threads(void **state)
{
	struct fx *fx = *state;
	struct wq_loop *loop = fx->loop;
	struct poster ps[POSTERS];
	struct pcall *calls;
	atomic_int go = 0;
	int64_t end = wq_clock_mono_ms() + DEADLINE_MS;
	int i, before, drains = 0, most = 0;

	delivered = 0;
	calls = fx->calls = posters_start(ps, loop, &go);
	/* Step while they post; a step runs at most one drain of the post
	   list, so the calls a step ran are what one wakeup delivered. */
	while (delivered < POSTERS * POSTS && wq_clock_mono_ms() < end) {
		before = delivered;
		wq_loop_step(loop, 10);
		if (delivered > before)
			drains++;
		if (delivered - before > most)
			most = delivered - before;
	}
	for (i = 0; i < POSTERS; i++)
		pthread_join(ps[i].tid, NULL);
	wq_loop_step(loop, 10);
	assert_int_equal(delivered, POSTERS * POSTS);
	check_calls(calls);
	assert_true(most > 1);
	assert_true(drains < POSTERS * POSTS);
	print_message("%d posts in %d drains, at most %d in one\n",
	    POSTERS * POSTS, drains, most);
}

static void
test_post_coalesces(void **state)
{
	struct fx *fx = *state;
	struct wq_loop *loop = fx->loop;
	struct poster ps[POSTERS];
	struct pcall *calls;
	atomic_int go = 0;
	int i;

	delivered = 0;
	/* The loop does not turn while they post, so every post after the
	   first finds the list non-empty: one wakeup, one drain. */
	calls = fx->calls = posters_start(ps, loop, &go);
	for (i = 0; i < POSTERS; i++)
		pthread_join(ps[i].tid, NULL);
	assert_int_equal(delivered, 0);
	assert_int_equal(wq_loop_step(loop, 1000), 0);
	assert_int_equal(delivered, POSTERS * POSTS);
	check_calls(calls);
	wq_loop_step(loop, 0);
	assert_int_equal(delivered, POSTERS * POSTS);
}

static void
busy_wait_ms(int64_t ms)
{
	int64_t end = wq_clock_mono_us() + ms * 1000;

	while (wq_clock_mono_us() < end)
		;
}

static void
slow_cb(struct wq_call *call)
{
	(void)call;
	wq_loop_enter(cur_loop, "slowplugin", "job-1");
	busy_wait_ms(50);
	wq_loop_leave(cur_loop);
	norder++;
}

static void
test_stall_detector(void **state)
{
	struct fx *fx = *state;
	struct wq_loop *loop = fx->loop;
	struct wq_call call = { .fn = slow_cb };
	int64_t max_ms = -1;
	uint64_t n;

	assert_int_equal(wq_loop_stalls(loop, &max_ms), 0);
	assert_int_equal(max_ms, 0);

	/* Off by default: a slow callback is not counted. */
	wq_loop_enter(loop, "slowplugin", "job-0");
	busy_wait_ms(50);
	wq_loop_leave(loop);
	assert_int_equal(wq_loop_stalls(loop, NULL), 0);

	/* On: a quick callback is not a stall, a 50 ms one is. */
	wq_loop_set_stall(loop, 20);
	wq_loop_enter(loop, "quickplugin", "job-0");
	wq_loop_leave(loop);
	assert_int_equal(wq_loop_stalls(loop, NULL), 0);
	wq_loop_enter(loop, "slowplugin", "job-1");
	busy_wait_ms(50);
	wq_loop_leave(loop);
	assert_int_equal(wq_loop_stalls(loop, &max_ms), 1);
	/* The detector reads the coarse clock (a tick is up to 4 ms). */
	assert_true(max_ms >= 40);

	/* The same from a callback on the loop (the lag timer may count the
	   turn as well, hence at least one more). */
	wq_loop_soon(loop, &call);
	assert_int_equal(step_until(loop, &norder, 1), 0);
	n = wq_loop_stalls(loop, &max_ms);
	assert_true(n >= 2);
	assert_true(max_ms >= 40);

	/* Off again. */
	wq_loop_set_stall(loop, 0);
	wq_loop_enter(loop, "slowplugin", "job-2");
	busy_wait_ms(50);
	wq_loop_leave(loop);
	assert_int_equal(wq_loop_stalls(loop, NULL), n);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_soon_fifo),
		T(test_soon_not_reentrant),
		T(test_soon_twice_runs_once),
		T(test_cancel),
		T(test_cancel_in_same_pass),
		T(test_post_many_threads),
		T(test_post_coalesces),
		T(test_stall_detector),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
