/*
 * The scheduler brings due jobs back: retries and jobs pushed with `at` or
 * `delay` wait in each queue's scheduled set ({<prefix>:<queue>}:scheduled,
 * scored by due time in Unix ms), and the scheduler moves each one back
 * into the stream when it is due, with one script that moves it and
 * removes it atomically, so with several daemons each due job comes back
 * exactly once.
 *
 * Timing without busy polling: the scheduler knows the earliest due time
 * of each queue (the move script returns it; a daemon that schedules a job
 * tells its scheduler at once) and sets a timer for it, so a job is moved
 * within a few milliseconds of its time; a slow poll (twice a second)
 * catches jobs scheduled by daemons that died before moving them.  Due
 * times are compared with Redis's clock, whose offset from ours is
 * measured on every reply.  Loop thread only.
 */
#ifndef WQ_SCHED_H
#define WQ_SCHED_H

#include <stdint.h>

#include "redis.h"
#include "stream.h"

struct wq_sched;

/* NULL if out of memory. */
struct wq_sched	*wq_sched_new(struct wq_loop *loop, struct wq_redis *cmd,
		    struct wq_stream_list *streams);
void		 wq_sched_free(struct wq_sched *s);

/* The command connection is up: move what is due, then keep at it. */
void	wq_sched_start(struct wq_sched *s);
/* A job of stream st is due at due_ms (Unix ms, our clock). */
void	wq_sched_note(struct wq_sched *s, struct wq_stream *st, int64_t due_ms);
/* The earliest due time known (Redis's clock, Unix ms), -1 if none: the
   next time the scheduler looks. */
int64_t	wq_sched_next(const struct wq_sched *s);
/* Jobs moved back so far. */
uint64_t wq_sched_moved(const struct wq_sched *s);

#endif /* WQ_SCHED_H */
