/*
 * The janitor (see janitor.h).
 *
 * DESIGN: a pass sends, for each queue, three commands on the command
 * connection: the heartbeat script, the reap script and an XPENDING of our
 * own entries idle longer than a reply may take.  Their replies feed the
 * fetcher (orphans to take over, lost deliveries to take back), which owns
 * the local queue's room.  A pass is skipped while the previous one still
 * waits for replies, so a slow Redis never piles passes up.
 *
 * The lease is longer than the period (takeover vs heartbeat in the config),
 * so a daemon survives a few missed beats; a peer's janitor declares it
 * dead only once Redis's clock passes the lease, and claims with a script
 * that re-checks the lease atomically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "janitor.h"
#include "log.h"
#include "script.h"

#define ADOPT_MAX	100

struct wq_janitor {
	struct wq_loop		*loop;
	struct wq_redis		*cmd;
	struct wq_fetcher	*fetcher;
	struct wq_stream_list	*streams;
	char			*group;
	char			*consumer;
	int64_t			 period_ms;
	int64_t			 lease_ms;
	int64_t			 reply_ms;
	struct event		*tick;
	unsigned		 waiting;
	int			 running;
	uint64_t		 lapses;
	unsigned		 failing;	/* error replies in a row */
};

struct req {
	struct wq_janitor	*j;
	struct wq_stream	*s;
	int64_t			 sent_us;
};

static struct req *
req_new(struct wq_janitor *j, struct wq_stream *s)
{
	struct req *q = malloc(sizeof(*q));

	if (q != NULL) {
		q->j = j;
		q->s = s;
		q->sent_us = wq_clock_mono_us();
		j->waiting++;
	}
	return q;
}

/* Ends a request; returns 0 if the reply is usable.  Of a run of error
   replies (a Redis loading its data), the first and the end are logged. */
static int
req_end(struct req *q, struct redisReply *reply, const char *what)
{
	struct wq_janitor *j = q->j;
	const char *err = wq_redis_error(reply);

	j->waiting--;
	if (err != NULL && j->failing++ == 0)
		wq_log(WQ_LOG_WARNING, "janitor: %s on %s: %s; trying again "
		    "every heartbeat", what, q->s->key, err);
	else if (reply != NULL && err == NULL && j->failing > 0) {
		wq_log(WQ_LOG_NOTICE, "janitor: Redis answers again after %u "
		    "error(s)", j->failing);
		j->failing = 0;
	}
	return reply == NULL || err != NULL || !j->running ? -1 : 0;
}

static void
lapsed(struct wq_janitor *j, const struct wq_stream *s, const char *how)
{
	j->lapses++;
	wq_log(WQ_LOG_WARNING, "janitor: this daemon's lease on %s lapsed %s "
	    "(was it frozen or cut off?): peers may have taken its entries "
	    "over, and some jobs may run twice", s->key, how);
}

/*
 * {previous expiry or -1, now}.  The lease lapsed when Redis says it
 * expired, or is gone (a peer's reap removes the lease of a dead consumer
 * once it has taken its entries).  But a renewal from a connection we
 * dropped can still arrive late (a proxy that held it, as in a partition)
 * and make a lapsed lease look fresh, so our own clock counts too: no
 * renewal confirmed for longer than the lease means it may have lapsed.
 */
static void
check_lapse(struct wq_janitor *j, const struct wq_stream *s,
    const redisReply *reply)
{
	long long prev = reply->element[0]->integer;
	long long now = reply->element[1]->integer;
	long long gap = (wq_clock_mono_us() - s->beat_us) / 1000;
	char how[80];

	if (prev >= 0 && prev < now) {
		snprintf(how, sizeof(how), "%lld ms ago", now - prev);
		lapsed(j, s, how);
	} else if (prev < 0) {
		lapsed(j, s, "and a peer removed it");
	} else if (gap > j->lease_ms) {
		snprintf(how, sizeof(how), "or nearly: no renewal was "
		    "confirmed for %lld ms", gap);
		lapsed(j, s, how);
	}
}

static void
beat_reply(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	struct req *q = arg;
	struct wq_stream *s = q->s;
	int ok;

	(void)r;
	ok = req_end(q, reply, "heartbeat") == 0 &&
	    reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
	    reply->element[0]->type == REDIS_REPLY_INTEGER &&
	    reply->element[1]->type == REDIS_REPLY_INTEGER;
	/* The first renewal only starts the clock. */
	if (ok && s->beat_us != 0)
		check_lapse(q->j, s, reply);
	if (reply != NULL && wq_redis_error(reply) == NULL &&
	    (ok || s->beat_us != 0))
		s->beat_us = q->sent_us;
	free(q);
}

static void
reap_reply(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	struct req *q = arg;

	(void)r;
	if (req_end(q, reply, "reap") == 0 && reply->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i + 1 < reply->elements; i += 2)
			if (reply->element[i]->type == REDIS_REPLY_STRING)
				wq_fetcher_orphans(q->j->fetcher, q->s,
				    reply->element[i]->str,
				    (unsigned)reply->element[i + 1]->integer);
	free(q);
}

static void
pending_reply(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	struct req *q = arg;
	const char *ids[ADOPT_MAX];
	size_t n = 0;
	uint64_t ms, seq;

	(void)r;
	if (req_end(q, reply, "XPENDING") == 0 &&
	    reply->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < reply->elements && n < ADOPT_MAX; i++) {
			redisReply *e = reply->element[i];

			if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
			    e->element[0]->type != REDIS_REPLY_STRING ||
			    wq_id_parse(e->element[0]->str, e->element[0]->len,
			    &ms, &seq) < 0 || wq_idset_has(&q->s->held, ms, seq))
				continue;
			ids[n++] = e->element[0]->str;
		}
		wq_fetcher_adopt(q->j->fetcher, q->s, ids, n);
	}
	free(q);
}

static void
pass_stream(struct wq_janitor *j, struct wq_stream *s)
{
	char lease[24], idle[24], count[16];
	const char *beat[4] = { s->alive_key, j->consumer, lease };
	const char *reap[6] = { s->key, s->alive_key, j->group, j->consumer,
	    lease, WQ_HANDBACK_CONSUMER };
	const char *pend[9] = { "XPENDING", s->key, j->group, "IDLE", idle,
	    "-", "+", count, j->consumer };
	struct req *q;

	snprintf(lease, sizeof(lease), "%lld", (long long)j->lease_ms);
	snprintf(idle, sizeof(idle), "%lld", (long long)j->reply_ms);
	snprintf(count, sizeof(count), "%d", ADOPT_MAX);
	if ((q = req_new(j, s)) != NULL && wq_script_eval(j->cmd,
	    WQ_SCRIPT_HEARTBEAT, beat_reply, q, 1, 2, beat, NULL) < 0) {
		j->waiting--;
		free(q);
	}
	if ((q = req_new(j, s)) != NULL && wq_script_eval(j->cmd,
	    WQ_SCRIPT_REAP, reap_reply, q, 2, 4, reap, NULL) < 0) {
		j->waiting--;
		free(q);
	}
	if (wq_fetcher_resuming(j->fetcher))
		return;
	if ((q = req_new(j, s)) != NULL && wq_redis_command(j->cmd,
	    pending_reply, q, 0, 9, pend, NULL) < 0) {
		j->waiting--;
		free(q);
	}
}

static void
pass(struct wq_janitor *j)
{
	struct wq_stream *s;

	if (j->waiting > 0 || !wq_redis_ready(j->cmd))
		return;
	TAILQ_FOREACH(s, j->streams, link)
		if (s->active)
			pass_stream(j, s);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pass(arg);
}

struct wq_janitor *
wq_janitor_new(struct wq_loop *loop, struct wq_redis *cmd,
    struct wq_fetcher *fetcher, struct wq_stream_list *streams,
    const char *group, const char *consumer, int64_t period_ms,
    int64_t lease_ms, int64_t reply_ms)
{
	struct wq_janitor *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->loop = loop;
	j->cmd = cmd;
	j->fetcher = fetcher;
	j->streams = streams;
	j->period_ms = period_ms;
	j->lease_ms = lease_ms;
	j->reply_ms = reply_ms;
	j->group = strdup(group);
	j->consumer = strdup(consumer);
	j->tick = event_new(wq_loop_base(loop), -1, EV_PERSIST, tick_cb, j);
	if (j->group == NULL || j->consumer == NULL || j->tick == NULL) {
		wq_janitor_free(j);
		return NULL;
	}
	return j;
}

void
wq_janitor_free(struct wq_janitor *j)
{
	if (j == NULL)
		return;
	if (j->tick != NULL)
		event_free(j->tick);
	free(j->group);
	free(j->consumer);
	free(j);
}

void
wq_janitor_start(struct wq_janitor *j)
{
	struct timeval tv = WQ_TV_MS(j->period_ms);

	j->running = 1;
	event_add(j->tick, &tv);
	pass(j);
}

void
wq_janitor_leave(struct wq_janitor *j)
{
	const char *argv[3] = { "ZREM", NULL, j->consumer };
	struct wq_stream *s;

	j->running = 0;
	event_del(j->tick);
	TAILQ_FOREACH(s, j->streams, link) {
		argv[1] = s->alive_key;
		wq_redis_command(j->cmd, NULL, NULL, 0, 3, argv, NULL);
	}
}

void
wq_janitor_set_period(struct wq_janitor *j, int64_t period_ms,
    int64_t lease_ms)
{
	j->period_ms = period_ms;
	j->lease_ms = lease_ms;
	if (j->running) {
		struct timeval tv = WQ_TV_MS(period_ms);

		event_add(j->tick, &tv);
	}
}

uint64_t
wq_janitor_lapses(const struct wq_janitor *j)
{
	return j->lapses;
}
