/*
 * The scheduler (see sched.h).
 *
 * DESIGN: each stream remembers the earliest due time of its scheduled
 * set (stream->next_due, Redis's clock; -1: nothing scheduled).  One timer
 * is armed for the earliest of them; when it fires, the streams that are
 * due run the move script, which moves up to MOVE_MAX due jobs and answers
 * with the new earliest due time and Redis's "now", so the next timer is
 * armed from Redis's own clock and our offset from it (skew_ms) matters
 * only for the due times we learn from our own settler.  A move that hit
 * MOVE_MAX runs again at once.  The poll timer runs the move script on
 * every stream twice a second.
 *
 * The settler's deferrals and the moves share the command connection, so
 * Redis runs them in the order they were sent: a move's answer covers every
 * deferral sent before it, but not one noted after it was sent.  Those are
 * kept in stream->noted and survive the answer.
 */
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "log.h"
#include "sched.h"
#include "script.h"

#define POLL_MS		500
#define MOVE_MAX	100

struct wq_sched {
	struct wq_loop		*loop;
	struct wq_redis		*cmd;
	struct wq_stream_list	*streams;
	struct event		*poll_ev;
	struct event		*due_ev;
	int64_t			 skew_ms;	/* Redis's clock minus ours */
	uint64_t		 moved;
};

struct move {
	struct wq_sched		*s;
	struct wq_stream	*st;
};

static void	move(struct wq_sched *s, struct wq_stream *st);

/* The earlier of two due times, -1 meaning none. */
static int64_t
earlier(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	return b < 0 || a < b ? a : b;
}

int64_t
wq_sched_next(const struct wq_sched *s)
{
	const struct wq_stream *st;
	int64_t first = -1;

	/* A stream whose move is under way is left out: its answer re-arms
	   the timer (else a past-due stream would spin it at zero delay). */
	TAILQ_FOREACH(st, s->streams, link)
		if (!st->moving && st->next_due >= 0 &&
		    (first < 0 || st->next_due < first))
			first = st->next_due;
	return first;
}

/* Arms the timer for the earliest due time we know of. */
static void
arm(struct wq_sched *s)
{
	int64_t first = wq_sched_next(s), delay;
	struct timeval tv;

	if (first < 0) {
		evtimer_del(s->due_ev);
		return;
	}
	delay = first - (wq_clock_wall_ms() + s->skew_ms);
	if (delay < 0)
		delay = 0;
	tv = (struct timeval)WQ_TV_MS(delay);
	evtimer_add(s->due_ev, &tv);
}

static void
move_reply(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	struct move *m = arg;
	struct wq_sched *s = m->s;
	struct wq_stream *st = m->st;
	long long n;

	(void)r;
	free(m);
	st->moving = 0;
	if (reply == NULL)
		return;			/* wq_sched_start runs again */
	if (wq_redis_error(reply) != NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 3) {
		wq_log(WQ_LOG_WARNING, "sched: moving due jobs of %s: %s",
		    st->key, wq_redis_error(reply) != NULL ?
		    wq_redis_error(reply) : "unexpected reply");
		return;			/* the poll tries again */
	}
	n = reply->element[0]->integer;
	s->moved += (uint64_t)n;
	st->next_due = earlier(reply->element[1]->integer, st->noted);
	s->skew_ms = reply->element[2]->integer - wq_clock_wall_ms();
	if (n > 0)
		wq_log(WQ_LOG_DEBUG, "sched: %lld due job(s) back in %s", n,
		    st->key);
	if (n == MOVE_MAX)
		move(s, st);
	arm(s);
}

static void
move(struct wq_sched *s, struct wq_stream *st)
{
	const char *argv[3] = { st->sched_key, st->key, NULL };
	char count[16];
	struct move *m;

	if (st->moving || !st->active || !wq_redis_ready(s->cmd) ||
	    (m = malloc(sizeof(*m))) == NULL)
		return;
	snprintf(count, sizeof(count), "%d", MOVE_MAX);
	argv[2] = count;
	m->s = s;
	m->st = st;
	if (wq_script_eval(s->cmd, WQ_SCRIPT_MOVE, move_reply, m, 2, 1, argv,
	    NULL) < 0) {
		free(m);
		return;
	}
	st->moving = 1;
	st->noted = -1;
}

static void
due_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wq_sched *s = arg;
	int64_t now = wq_clock_wall_ms() + s->skew_ms;
	struct wq_stream *st;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(st, s->streams, link)
		if (st->next_due >= 0 && st->next_due <= now)
			move(s, st);
	/* A timer may fire a hair early for our estimate of Redis's clock:
	   what is not moved yet keeps its timer. */
	arm(s);
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wq_sched *s = arg;
	struct wq_stream *st;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(st, s->streams, link)
		move(s, st);
}

struct wq_sched *
wq_sched_new(struct wq_loop *loop, struct wq_redis *cmd,
    struct wq_stream_list *streams)
{
	struct wq_sched *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->loop = loop;
	s->cmd = cmd;
	s->streams = streams;
	s->poll_ev = event_new(wq_loop_base(loop), -1, EV_PERSIST, poll_cb, s);
	s->due_ev = evtimer_new(wq_loop_base(loop), due_cb, s);
	if (s->poll_ev == NULL || s->due_ev == NULL) {
		wq_sched_free(s);
		return NULL;
	}
	return s;
}

void
wq_sched_free(struct wq_sched *s)
{
	if (s == NULL)
		return;
	if (s->poll_ev != NULL)
		event_free(s->poll_ev);
	if (s->due_ev != NULL)
		event_free(s->due_ev);
	free(s);
}

void
wq_sched_start(struct wq_sched *s)
{
	struct timeval tv = WQ_TV_MS(POLL_MS);

	event_add(s->poll_ev, &tv);
	poll_cb(-1, 0, s);
}

void
wq_sched_note(struct wq_sched *s, struct wq_stream *st, int64_t due_ms)
{
	int64_t due = due_ms + s->skew_ms;

	st->noted = earlier(st->noted, due);
	if (st->next_due < 0 || due < st->next_due) {
		st->next_due = due;
		arm(s);
	}
}

uint64_t
wq_sched_moved(const struct wq_sched *s)
{
	return s->moved;
}
