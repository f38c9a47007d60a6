/*
 * The event loop (see loop.h).
 *
 * DESIGN: wq_loop_soon queues calls on a list drained by one persistent
 * event that is made active with event_active(), so calls run after the
 * current callback returns and in the order they were queued.  A drain takes
 * the whole list first: calls queued while draining run on the next pass.
 *
 * wq_loop_post is the only door from other threads.  Like nginx's thread
 * pool and Redis's module pipe, a poster appends to a mutex-protected list
 * and writes the eventfd only when the list goes from empty to non-empty;
 * the loop reads the eventfd, swaps the whole list out under the lock and
 * runs the calls unlocked.  The order matters: the eventfd is read before
 * the swap, so a post that lands in between is either in the swapped list
 * or sees an empty list and writes again.
 *
 * The stall detector times the plugin callbacks bracketed by
 * wq_loop_enter/leave, and a lag timer catches stalls anywhere else: it
 * fires every threshold/2 and complains when it fires a threshold late.
 * It reads the coarse monotonic clock: stalls are counted in tens of
 * milliseconds, and every plugin call is timed, so the cheap clock keeps
 * the hot path lean.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "loop.h"

struct wq_loop {
	struct event_base	*base;
	struct event		*soon_ev;
	struct wq_call_list	 soon;

	int			 wake_fd;
	struct event		*wake_ev;
	pthread_mutex_t		 lock;		/* guards posted */
	struct wq_call_list	 posted;

	struct event		*step_ev;	/* bounds wq_loop_step */

	int64_t			 stall_ms;
	struct event		*lag_ev;
	int64_t			 lag_last_us;
	const char		*cur_plugin;
	const char		*cur_job;
	int64_t			 cur_start_us;
	uint64_t		 stalls;
	int64_t			 stall_max_ms;
};

static void
run_list(struct wq_call_list *list)
{
	struct wq_call *call;

	while ((call = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, call, link);
		call->queued = 0;
		call->fn(call);
	}
}

/*
 * Runs the calls queued before this pass started.  The pass ends at a
 * marker kept on the list itself, so a call may cancel another call of the
 * same pass (which then never runs) and calls queued meanwhile wait for the
 * next pass.
 */
static void
soon_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wq_loop *loop = arg;
	struct wq_call mark = { .fn = NULL };
	struct wq_call *call;

	(void)fd;
	(void)what;
	TAILQ_INSERT_TAIL(&loop->soon, &mark, link);
	while ((call = TAILQ_FIRST(&loop->soon)) != &mark) {
		TAILQ_REMOVE(&loop->soon, call, link);
		call->queued = 0;
		call->fn(call);
	}
	TAILQ_REMOVE(&loop->soon, &mark, link);
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wq_loop *loop = arg;
	struct wq_call_list batch = TAILQ_HEAD_INITIALIZER(batch);
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		wq_log(WQ_LOG_ERR, "loop: eventfd read: %m");
	pthread_mutex_lock(&loop->lock);
	TAILQ_CONCAT(&batch, &loop->posted, link);
	pthread_mutex_unlock(&loop->lock);
	run_list(&batch);
}

static void
step_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

struct wq_loop *
wq_loop_new(void)
{
	struct wq_loop *loop;

	if ((loop = calloc(1, sizeof(*loop))) == NULL)
		return NULL;
	TAILQ_INIT(&loop->soon);
	TAILQ_INIT(&loop->posted);
	pthread_mutex_init(&loop->lock, NULL);
	loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->wake_fd < 0 || (loop->base = event_base_new()) == NULL)
		goto fail;
	loop->soon_ev = event_new(loop->base, -1, 0, soon_cb, loop);
	loop->wake_ev = event_new(loop->base, loop->wake_fd,
	    EV_READ | EV_PERSIST, wake_cb, loop);
	loop->step_ev = evtimer_new(loop->base, step_cb, loop);
	if (loop->soon_ev == NULL || loop->wake_ev == NULL ||
	    loop->step_ev == NULL || event_add(loop->wake_ev, NULL) < 0)
		goto fail;
	return loop;
fail:
	wq_loop_free(loop);
	errno = errno != 0 ? errno : ENOMEM;
	return NULL;
}

void
wq_loop_free(struct wq_loop *loop)
{
	if (loop == NULL)
		return;
	if (loop->lag_ev != NULL)
		event_free(loop->lag_ev);
	if (loop->soon_ev != NULL)
		event_free(loop->soon_ev);
	if (loop->wake_ev != NULL)
		event_free(loop->wake_ev);
	if (loop->step_ev != NULL)
		event_free(loop->step_ev);
	if (loop->base != NULL)
		event_base_free(loop->base);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}

struct event_base *
wq_loop_base(struct wq_loop *loop)
{
	return loop->base;
}

int
wq_loop_run(struct wq_loop *loop)
{
	return event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY) < 0 ?
	    -1 : 0;
}

void
wq_loop_stop(struct wq_loop *loop)
{
	event_base_loopbreak(loop->base);
}

int
wq_loop_step(struct wq_loop *loop, int timeout_ms)
{
	struct timeval tv = WQ_TV_MS(timeout_ms);
	int rc;

	/* A timer of our own, not loopexit: an exit left pending by an early
	   return would end a later wq_loop_run. */
	evtimer_add(loop->step_ev, &tv);
	rc = event_base_loop(loop->base, EVLOOP_ONCE);
	evtimer_del(loop->step_ev);
	return rc < 0 ? -1 : 0;
}

void
wq_loop_soon(struct wq_loop *loop, struct wq_call *call)
{
	if (call->queued)
		return;
	call->queued = 1;
	TAILQ_INSERT_TAIL(&loop->soon, call, link);
	event_active(loop->soon_ev, 0, 0);
}

void
wq_loop_cancel(struct wq_loop *loop, struct wq_call *call)
{
	if (call->queued != 1)
		return;			/* not queued, or posted: not ours */
	TAILQ_REMOVE(&loop->soon, call, link);
	call->queued = 0;
}

void
wq_loop_post(struct wq_loop *loop, struct wq_call *call)
{
	uint64_t one = 1;
	int was_empty;

	pthread_mutex_lock(&loop->lock);
	was_empty = TAILQ_EMPTY(&loop->posted);
	call->queued = 2;
	TAILQ_INSERT_TAIL(&loop->posted, call, link);
	pthread_mutex_unlock(&loop->lock);
	if (was_empty && write(loop->wake_fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		wq_log(WQ_LOG_ERR, "loop: eventfd write: %m");
}

static void
stall_note(struct wq_loop *loop, int64_t ms, const char *plugin,
    const char *job)
{
	loop->stalls++;
	if (ms > loop->stall_max_ms)
		loop->stall_max_ms = ms;
	if (plugin != NULL)
		wq_log(WQ_LOG_WARNING, "loop: plugin %s blocked the loop for "
		    "%lld ms (job %s)", plugin, (long long)ms,
		    job != NULL ? job : "-");
	else
		wq_log(WQ_LOG_WARNING, "loop: stalled for %lld ms",
		    (long long)ms);
}

static void
lag_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wq_loop *loop = arg;
	int64_t now = wq_clock_coarse_us();
	int64_t late_ms = (now - loop->lag_last_us) / 1000 - loop->stall_ms / 2;

	(void)fd;
	(void)what;
	/* A plugin stall was already reported by wq_loop_leave. */
	if (late_ms >= loop->stall_ms && loop->cur_plugin == NULL &&
	    loop->cur_start_us < loop->lag_last_us)
		stall_note(loop, late_ms, NULL, NULL);
	loop->lag_last_us = now;
}

void
wq_loop_set_stall(struct wq_loop *loop, int64_t threshold_ms)
{
	struct timeval tv = WQ_TV_MS(threshold_ms / 2);

	loop->stall_ms = threshold_ms;
	if (loop->lag_ev != NULL) {
		event_free(loop->lag_ev);
		loop->lag_ev = NULL;
	}
	if (threshold_ms <= 0)
		return;
	loop->lag_ev = event_new(loop->base, -1, EV_PERSIST, lag_cb, loop);
	if (loop->lag_ev == NULL || event_add(loop->lag_ev, &tv) < 0)
		wq_log(WQ_LOG_ERR, "loop: cannot arm the stall detector");
	loop->lag_last_us = wq_clock_coarse_us();
}

void
wq_loop_enter(struct wq_loop *loop, const char *plugin, const char *job)
{
	loop->cur_plugin = plugin;
	loop->cur_job = job;
	loop->cur_start_us = wq_clock_coarse_us();
}

void
wq_loop_leave(struct wq_loop *loop)
{
	int64_t now = wq_clock_coarse_us();
	int64_t ms = (now - loop->cur_start_us) / 1000;

	if (loop->stall_ms > 0 && ms >= loop->stall_ms)
		stall_note(loop, ms, loop->cur_plugin, loop->cur_job);
	loop->cur_plugin = NULL;
	loop->cur_job = NULL;
	loop->cur_start_us = now;
}

uint64_t
wq_loop_stalls(const struct wq_loop *loop, int64_t *max_ms)
{
	if (max_ms != NULL)
		*max_ms = loop->stall_max_ms;
	return loop->stalls;
}
