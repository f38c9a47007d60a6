/*
 * The broker (see broker.h).
 *
 * DESIGN: the broker owns the parts and routes events between them; it
 * decides nothing about jobs (their verdicts are the worker's).  When the
 * command connection comes up it checks the eviction policy, then lets the
 * settler resend what waited and starts the janitor and the scheduler;
 * when the fetch connection comes up the fetcher recreates the groups and
 * fetches.  A job the pool finishes goes to the settler, after giving its
 * queue's credit back so a concurrency-limited queue can be fetched from
 * again; one retried or deferred is also noted to the scheduler, so it
 * knows when to move it back.  While the settler is full (Redis behind in
 * confirming outcomes) the fetcher is paused, and kicked on relief.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "broker.h"
#include "fetch.h"
#include "janitor.h"
#include "log.h"
#include "redis.h"
#include "sched.h"
#include "settle.h"
#include "stream.h"

struct wq_broker {
	struct wq_loop		*loop;
	const struct wq_conf	*conf;
	char			*consumer;
	struct wq_queue		*local;
	struct wq_broker_ops	 ops;
	struct wq_stream_list	 streams;
	struct wq_redis		*fetch;
	struct wq_redis		*cmd;
	struct wq_fetcher	*fetcher;
	struct wq_settler	*settler;
	struct wq_janitor	*janitor;
	struct wq_sched		*sched;
	int			 policy_warned;
	int			 leaving;
};

static void
release(struct wq_broker *b, struct wq_job *job)
{
	if (!job->inflight)
		return;
	job->inflight = 0;
	if (job->stream->inflight-- == job->stream->concurrency &&
	    job->stream->concurrency > 0)
		wq_fetcher_kick(b->fetcher, 0);
}

void
wq_broker_settle(struct wq_broker *b, struct wq_job *job)
{
	release(b, job);
	if (job->verdict == WQ_VERDICT_RETRY || job->verdict == WQ_VERDICT_DEFER)
		wq_sched_note(b->sched, job->stream, job->due_ms);
	wq_settle(b->settler, job);
}

void
wq_broker_handback(struct wq_broker *b, struct wq_job *job)
{
	job->verdict = WQ_VERDICT_HANDBACK;
	wq_broker_settle(b, job);
}

/* Fetching pauses while Redis is behind in confirming outcomes. */
static int
paused(void *ctx)
{
	struct wq_broker *b = ctx;

	return wq_settler_full(b->settler);
}

static void
relief(void *arg)
{
	struct wq_broker *b = arg;

	wq_fetcher_kick(b->fetcher, 0);
}

/* Outcomes allowed to wait for Redis before fetching pauses, besides the
   settler's own two batches: a few local queues' worth. */
static void
apply(struct wq_broker *b, const struct wq_conf *conf)
{
	wq_fetcher_set_order(b->fetcher, conf->order);
	wq_settler_limit(b->settler, 4 * conf->prefetch + conf->workers,
	    relief, b);
}

static void
refuse(void *ctx, struct wq_job *job)
{
	struct wq_broker *b = ctx;

	if (b->ops.refused != NULL)
		b->ops.refused(b->ops.arg, job);
	wq_broker_settle(b, job);
}

static void
policy_reply(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	struct wq_broker *b = arg;
	const char *policy;
	char why[256];

	(void)r;
	if (reply == NULL)
		return;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
		if (!b->policy_warned++)
			wq_log(WQ_LOG_WARNING, "broker: cannot read Redis's "
			    "maxmemory-policy (%s); make sure it is noeviction",
			    wq_redis_error(reply) != NULL ?
			    wq_redis_error(reply) : "unexpected reply");
		return;
	}
	policy = reply->element[1]->str;
	if (strncmp(policy, "allkeys-", 8) != 0)
		return;
	snprintf(why, sizeof(why), "Redis's maxmemory-policy is %s: when "
	    "full it would evict queued jobs; set it to noeviction", policy);
	wq_log(WQ_LOG_ERR, "broker: %s", why);
	b->ops.fatal(b->ops.arg, why);
}

static void
cmd_up(struct wq_redis *r, void *arg)
{
	struct wq_broker *b = arg;
	const char *argv[3] = { "CONFIG", "GET", "maxmemory-policy" };

	wq_redis_command(r, policy_reply, b, 0, 3, argv, NULL);
	wq_settler_resume(b->settler);
	wq_sched_start(b->sched);
	if (!b->leaving)
		wq_janitor_start(b->janitor);
}

static void
fetch_up(struct wq_redis *r, void *arg)
{
	struct wq_broker *b = arg;

	(void)r;
	wq_fetcher_up(b->fetcher);
}

static int
add_streams(struct wq_broker *b, const struct wq_conf *conf)
{
	struct wq_stream *s;

	TAILQ_FOREACH(s, &b->streams, link)
		s->active = 0;
	for (size_t i = 0; i < conf->nqueues; i++) {
		const struct wq_conf_queue *q = &conf->queues[i];

		if ((s = wq_stream_by_name(&b->streams, q->name)) != NULL) {
			wq_stream_configure(s, q, (unsigned)i);
			continue;
		}
		if ((s = wq_stream_new(b->loop, conf, q, (unsigned)i)) == NULL)
			return -1;
		TAILQ_INSERT_TAIL(&b->streams, s, link);
	}
	return 0;
}

struct wq_broker *
wq_broker_new(struct wq_loop *loop, const struct wq_conf *conf,
    const char *consumer, struct wq_queue *local,
    const struct wq_broker_ops *ops)
{
	struct wq_broker *b = calloc(1, sizeof(*b));
	struct wq_redis_events cev = { .up = cmd_up, .arg = b };
	struct wq_redis_events fev = { .up = fetch_up, .arg = b };
	struct wq_fetcher_ops fops = { .refuse = refuse, .paused = paused,
	    .ctx = b };

	if (b == NULL)
		return NULL;
	b->loop = loop;
	b->conf = conf;
	b->local = local;
	b->ops = *ops;
	TAILQ_INIT(&b->streams);
	if ((b->consumer = strdup(consumer)) == NULL ||
	    add_streams(b, conf) < 0 ||
	    (b->cmd = wq_redis_new(loop, &conf->redis, "cmd", &cev)) == NULL ||
	    (b->fetch = wq_redis_new(loop, &conf->redis, "fetch", &fev)) ==
	    NULL ||
	    (b->settler = wq_settler_new(loop, b->cmd, conf->redis.group,
	    consumer)) == NULL ||
	    (b->fetcher = wq_fetcher_new(loop, b->fetch, b->cmd, local,
	    &b->streams, conf->redis.group, consumer, &fops)) == NULL ||
	    (b->janitor = wq_janitor_new(loop, b->cmd, b->fetcher, &b->streams,
	    conf->redis.group, consumer, conf->heartbeat_ms, conf->takeover_ms,
	    2 * conf->redis.command_timeout_ms)) == NULL ||
	    (b->sched = wq_sched_new(loop, b->cmd, &b->streams)) == NULL) {
		wq_broker_free(b);
		return NULL;
	}
	apply(b, conf);
	return b;
}

void
wq_broker_free(struct wq_broker *b)
{
	struct wq_stream *s;

	if (b == NULL)
		return;
	/* Connections first: their waiting callbacks (answered NULL) still
	   point into the settler, fetcher and janitor. */
	wq_redis_free(b->fetch);
	wq_redis_free(b->cmd);
	wq_janitor_free(b->janitor);
	wq_sched_free(b->sched);
	wq_fetcher_free(b->fetcher);
	wq_settler_free(b->settler);
	while ((s = TAILQ_FIRST(&b->streams)) != NULL) {
		TAILQ_REMOVE(&b->streams, s, link);
		wq_stream_free(s);
	}
	free(b->consumer);
	free(b);
}

void
wq_broker_start(struct wq_broker *b)
{
	wq_redis_start(b->cmd);
	wq_redis_start(b->fetch);
}

int
wq_broker_configure(struct wq_broker *b, const struct wq_conf *conf)
{
	if (add_streams(b, conf) < 0)
		return -1;
	b->conf = conf;
	apply(b, conf);
	wq_janitor_set_period(b->janitor, conf->heartbeat_ms,
	    conf->takeover_ms);
	/* New queues need their groups; a blocked read must see them. */
	if (wq_redis_ready(b->fetch))
		wq_fetcher_up(b->fetcher);
	wq_fetcher_kick(b->fetcher, 1);
	return 0;
}

void
wq_broker_stop_fetching(struct wq_broker *b, void (*done)(void *), void *arg)
{
	wq_fetcher_stop(b->fetcher, done, arg);
}

void
wq_broker_flush(struct wq_broker *b, void (*done)(void *), void *arg)
{
	wq_settler_flush(b->settler, done, arg);
}

void
wq_broker_leave(struct wq_broker *b)
{
	b->leaving = 1;
	wq_janitor_leave(b->janitor);
}

void
wq_broker_stats(const struct wq_broker *b, struct wq_broker_stats *st)
{
	struct wq_redis_stats cs, fs;
	struct wq_settler_stats ss;

	st->moved = wq_sched_moved(b->sched);
	wq_redis_stats(b->cmd, &cs);
	wq_redis_stats(b->fetch, &fs);
	wq_settler_stats(b->settler, &ss);
	st->connected = cs.ready && fs.ready;
	st->last_error = cs.last_error[0] != '\0' ? cs.last_error :
	    fs.last_error;
	st->reconnects = cs.reconnects + fs.reconnects;
	st->settling = ss.waiting;
	st->acked = ss.acked;
	st->retried = ss.retried;
	st->deferred = ss.deferred;
	st->dead = ss.dead;
	st->handed_back = ss.handed_back;
	st->lapses = wq_janitor_lapses(b->janitor);
}

struct wq_redis *
wq_broker_cmd(struct wq_broker *b)
{
	return b->cmd;
}
