/*
 * The scheduler's ordering, without Redis: whatever order due times are
 * learned in, across queues, the scheduler's next look is at the earliest
 * one, a later note never postpones it, and a queue whose move is under way
 * is left to its answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "conf.h"
#include "loop.h"
#include "redis.h"
#include "sched.h"
#include "stream.h"

struct fixture {
	struct wq_loop		*loop;
	struct wq_redis		*redis;
	struct wq_stream_list	 streams;
	struct wq_stream	*q[3];
	struct wq_sched		*sched;
};

static int
setup(void **state)
{
	static struct fixture f;
	static struct wq_conf conf = { .redis = { .prefix = "workq",
	    .unix_path = "/nonexistent", .connect_timeout_ms = 1000,
	    .command_timeout_ms = 1000 } };
	static struct wq_conf_queue q = { .name = "q", .plugin = "p",
	    .retries = 25, .weight = 1, .max_payload = 1024,
	    .max_deliveries = 5, .dead_max = 10,
	    .backoff = { 1000, 2.0, 10000 } };
	static const char *names[3] = { "a", "b", "c" };
	struct wq_redis_events ev = { 0 };

	f.loop = wq_loop_new();
	assert_non_null(f.loop);
	/* Never started: the scheduler is only asked what it would do. */
	f.redis = wq_redis_new(f.loop, &conf.redis, "test", &ev);
	assert_non_null(f.redis);
	TAILQ_INIT(&f.streams);
	for (int i = 0; i < 3; i++) {
		q.name = names[i];
		f.q[i] = wq_stream_new(f.loop, &conf, &q, (unsigned)i);
		assert_non_null(f.q[i]);
		TAILQ_INSERT_TAIL(&f.streams, f.q[i], link);
	}
	f.sched = wq_sched_new(f.loop, f.redis, &f.streams);
	assert_non_null(f.sched);
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	struct wq_stream *s;

	wq_sched_free(f->sched);
	while ((s = TAILQ_FIRST(&f->streams)) != NULL) {
		TAILQ_REMOVE(&f->streams, s, link);
		wq_stream_free(s);
	}
	wq_redis_free(f->redis);
	wq_loop_free(f->loop);
	return 0;
}

static void
test_nothing_scheduled(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(wq_sched_next(f->sched), -1);
}

static void
test_earliest_across_queues(void **state)
{
	struct fixture *f = *state;
	int64_t now = wq_clock_wall_ms();

	wq_sched_note(f->sched, f->q[0], now + 5000);
	assert_int_equal(wq_sched_next(f->sched), now + 5000);
	wq_sched_note(f->sched, f->q[2], now + 300);
	assert_int_equal(wq_sched_next(f->sched), now + 300);
	wq_sched_note(f->sched, f->q[1], now + 900);
	assert_int_equal(wq_sched_next(f->sched), now + 300);
	/* A later job of the earliest queue does not postpone its look. */
	wq_sched_note(f->sched, f->q[2], now + 7000);
	assert_int_equal(wq_sched_next(f->sched), now + 300);
	/* An earlier one brings it forward. */
	wq_sched_note(f->sched, f->q[0], now + 100);
	assert_int_equal(wq_sched_next(f->sched), now + 100);
}

static void
test_moving_queue_left_to_its_answer(void **state)
{
	struct fixture *f = *state;
	int64_t now = wq_clock_wall_ms();

	wq_sched_note(f->sched, f->q[0], now + 100);
	wq_sched_note(f->sched, f->q[1], now + 400);
	f->q[0]->moving = 1;
	assert_int_equal(wq_sched_next(f->sched), now + 400);
	f->q[0]->moving = 0;
	assert_int_equal(wq_sched_next(f->sched), now + 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nothing_scheduled, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_earliest_across_queues,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_moving_queue_left_to_its_answer, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
