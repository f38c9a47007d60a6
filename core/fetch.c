/*
 * The fetcher (see fetch.h).
 *
 * DESIGN: one command at a time on the fetch connection, so the room it
 * asks for is the room it gets: nothing else puts into the local queue.
 * next() decides the next command from the state (room, each stream's
 * credit, orphans, drained marks) and every reply ends in next() again;
 * when there is no room it waits in the queue's putter line
 * (wq_queue_wait_room), like asyncio's put.
 *
 * Priority.  With one eligible queue, the read is always the blocking
 * form: it returns at once when entries wait, so a busy daemon pays one
 * round trip per batch.  With several, queues are read one at a time
 * without blocking, best first; a queue that comes back short is marked
 * drained; any entries fetched clear the marks, so a better queue is looked
 * at again before a worse one is read twice.  When all are drained, one
 * blocking read covers them all, each asked for room/m entries so that the
 * total never exceeds the room (COUNT applies per stream).
 *
 * A blocked read is interrupted (stop, reload, orphans found) with CLIENT
 * UNBLOCK sent on the command connection, or, failing that, by dropping the
 * fetch connection: entries Redis delivered just before are then pending
 * for us with their reply lost, and the janitor's reconciliation takes them
 * back.
 *
 * Failures.  A NULL reply (the connection dropped) waits for
 * wq_fetcher_up; an error reply arms the retry timer, and next() sends
 * nothing while it is armed, so a Redis that keeps refusing (loading its
 * data, a script refused) costs one round trip a second, never a spin.
 *
 * Quarantine (see fetch.h): the claim script stops before the first
 * suspect and says one waits; the orphan is then marked, and next() waits
 * (wq_queue_join) until nothing is queued or running, claims that suspect
 * alone, and waits again until it has finished before anything else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "fetch.h"
#include "log.h"
#include "script.h"

#define FETCH_MAX	1000	/* entries per read */
#define CLAIM_MAX	500	/* entries per claim */
#define BLOCK_MS	2000
#define RETRY_MS	1000
#define MAX_STREAMS	256
#define SUSPECT		"2"	/* delivered this often, still pending */
#define WATCH_MS	5000	/* the watchdog's period */
#define STUCK_MS	60000	/* no answer for this long: reconnect */

struct orphan {
	TAILQ_ENTRY(orphan)	 link;
	struct wq_stream	*stream;
	char			*consumer;
	int			 self;		/* our previous life */
	int			 suspect;	/* a suspect is next in line */
	char			 after[WQ_ID_MAX];
	unsigned		 asked;
	int			 alone;		/* asked for a suspect alone */
};

struct adopt {
	TAILQ_ENTRY(adopt)	 link;
	struct wq_stream	*stream;
	size_t			 n;
	char			(*ids)[WQ_ID_MAX];
};

struct wq_fetcher {
	struct wq_loop		*loop;
	struct wq_redis		*fetch;
	struct wq_redis		*cmd;
	struct wq_queue		*local;
	struct wq_stream_list	*streams;
	char			*group;
	char			*consumer;
	struct wq_fetcher_ops	 ops;
	enum wq_order		 order;

	TAILQ_HEAD(, orphan)	 orphans;
	TAILQ_HEAD(, adopt)	 adopts;
	int			 resumed;	/* own entries queued once */
	int			 busy;
	int			 blocking;
	int			 groups_ready;
	int			 groups_waiting;
	unsigned		 errors;	/* error replies in a row */
	long long		 client_id;
	int			 stopping;
	void			(*stopped)(void *);
	void			*stopped_arg;
	struct wq_queue_waiter	 roomw;
	struct wq_queue_waiter	 idlew;		/* until nothing runs */
	int			 isolating;	/* a suspect runs alone */
	struct wq_call		 kick_call;
	struct wq_call		 stop_call;
	struct event		*retry_ev;
	struct event		*watch_ev;
	int64_t			 busy_since_us;
	uint64_t		 sent;		/* commands sent */
	uint64_t		 sent_seen;	/* sent at the last idle tick */
	int			 idle_seen;	/* the last tick saw it idle */
	uint64_t		 rng;

	/* The outstanding command. */
	struct wq_stream	*read_one;	/* non-blocking read of one */
	unsigned		 asked;
	struct orphan		*claiming;
	struct adopt		*adopting;
};

static void	next(struct wq_fetcher *f);
static void	create_groups(struct wq_fetcher *f);

static void
free_orphan(struct orphan *o)
{
	free(o->consumer);
	free(o);
}

static void
free_adopt(struct adopt *a)
{
	free(a->ids);
	free(a);
}

static void
retry_later(struct wq_fetcher *f)
{
	struct timeval tv = WQ_TV_MS(RETRY_MS);

	evtimer_add(f->retry_ev, &tv);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wq_fetcher *f = arg;

	(void)fd;
	(void)what;
	if (!f->groups_ready && f->groups_waiting == 0)
		create_groups(f);
	else
		next(f);
}

static void
refuse(struct wq_fetcher *f, struct wq_job *job, enum wq_verdict verdict,
    enum wq_reason reason)
{
	job->verdict = verdict;
	job->reason = reason;
	f->ops.refuse(f->ops.ctx, job);
}

static int
fill_fields(struct wq_job *job, const redisReply *fr)
{
	size_t n = fr->elements / 2;
	struct wq_field *fields = wq_job_fields(job, n);

	if (fields == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const redisReply *k = fr->element[2 * i];
		const redisReply *v = fr->element[2 * i + 1];

		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			return -1;
		fields[i].name = k->str;
		fields[i].nlen = k->len;
		fields[i].val = v->str;
		fields[i].vlen = v->len;
	}
	return 0;
}

/* The handler to run: the entry's `plugin` (checked by the decoder to be
   1 to 64 bytes) or the queue's default. */
static void
set_plugin(struct wq_job *job, const struct wq_stream *s)
{
	const char *name = job->entry.plugin != NULL ? job->entry.plugin :
	    s->plugin;
	size_t len = job->entry.plugin != NULL ? job->entry.plugin_len :
	    strlen(s->plugin);

	if (len >= sizeof(job->plugin))
		len = sizeof(job->plugin) - 1;
	memcpy(job->plugin, name, len);
	job->plugin[len] = '\0';
}

/* Decides where a fresh job goes: the local queue or a refusal. */
static void
route(struct wq_fetcher *f, struct wq_stream *s, struct wq_job *job,
    const redisReply *fr)
{
	char err[200];

	if (fr == NULL || fr->type != REDIS_REPLY_ARRAY) {
		/* Deleted while pending: nothing to run, forget it. */
		refuse(f, job, WQ_VERDICT_ACK, WQ_REASON_NONE);
		return;
	}
	if (fill_fields(job, fr) < 0 || wq_entry_decode(&job->entry,
	    job->fields, job->nfields, job->id_ms, s->max_payload, err,
	    sizeof(err)) < 0) {
		wq_job_fault(job, "%s", job->nfields == 0 && fr->elements > 0 ?
		    "out of memory" : err);
		refuse(f, job, WQ_VERDICT_DEAD, WQ_REASON_INVALID);
		return;
	}
	set_plugin(job, s);
	if (job->deliveries > s->max_deliveries) {
		wq_job_fault(job, "delivered %u times (max_deliveries %lld): "
		    "it may crash workqd", job->deliveries,
		    (long long)s->max_deliveries);
		refuse(f, job, WQ_VERDICT_DEAD, WQ_REASON_POISON);
		return;
	}
	if (job->entry.due_ms >= 0 && job->entry.due_ms > wq_clock_wall_ms()) {
		job->due_ms = job->entry.due_ms;
		refuse(f, job, WQ_VERDICT_DEFER, WQ_REASON_NONE);
		return;
	}
	job->inflight = 1;
	s->inflight++;
	if (wq_queue_put_nowait(f->local, job) < 0) {
		s->inflight--;
		job->inflight = 0;
		refuse(f, job, WQ_VERDICT_HANDBACK, WQ_REASON_NONE);
	}
}

/* Takes entry i of array `entries` (stealing its reply) as a job. */
static int
take(struct wq_fetcher *f, struct wq_stream *s, redisReply *entries,
    size_t i, uint32_t deliveries)
{
	redisReply *e = entries->element[i];
	struct wq_job *job;

	if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING)
		return 0;
	if ((job = wq_job_new()) == NULL)
		return -1;
	if (wq_job_set_id(job, e->element[0]->str, e->element[0]->len) < 0 ||
	    wq_idset_add(&s->held, job->id_ms, job->id_seq) != 0) {
		wq_job_unref(job);	/* held already (or no memory): the
					   janitor reconciles */
		return 0;
	}
	entries->element[i] = NULL;
	wq_job_set_backing(job, e, freeReplyObject);
	job->stream = s;
	job->queue = s->name;
	job->policy = s->policy;
	job->sem = &s->sem;
	job->deliveries = deliveries;
	if (f->stopping) {
		refuse(f, job, WQ_VERDICT_HANDBACK, WQ_REASON_NONE);
		return 1;
	}
	route(f, s, job, e->element[1]);
	return 1;
}

/* [[key, [entry...]], ...] from XREADGROUP.  Returns entries taken. */
static size_t
take_read(struct wq_fetcher *f, redisReply *reply)
{
	size_t got = 0;

	if (reply->type != REDIS_REPLY_ARRAY)
		return 0;
	for (size_t i = 0; i < reply->elements; i++) {
		redisReply *kv = reply->element[i];
		struct wq_stream *s;

		if (kv->type != REDIS_REPLY_ARRAY || kv->elements != 2 ||
		    kv->element[0]->type != REDIS_REPLY_STRING ||
		    kv->element[1]->type != REDIS_REPLY_ARRAY ||
		    (s = wq_stream_by_key(f->streams, kv->element[0]->str,
		    kv->element[0]->len)) == NULL)
			continue;
		for (size_t j = 0; j < kv->element[1]->elements; j++)
			got += take(f, s, kv->element[1], j, 1) > 0;
		if (f->read_one == s && kv->element[1]->elements < f->asked)
			s->drained = 1;
	}
	return got;
}

static void
clear_drained(struct wq_fetcher *f)
{
	struct wq_stream *s;

	TAILQ_FOREACH(s, f->streams, link)
		s->drained = 0;
}

/* The outstanding command has its answer: nothing is outstanding now. */
static void
end_command(struct wq_fetcher *f)
{
	f->busy = f->blocking = 0;
	f->read_one = NULL;
	f->claiming = NULL;
	f->adopting = NULL;
	if (f->stopping)
		wq_loop_soon(f->loop, &f->stop_call);
}

/*
 * Returns 1, having ended the command, if it failed.  With no reply the
 * connection is gone and wq_fetcher_up follows.  An error reply (a Redis
 * still loading its data, a refused script, a lost consumer group) is
 * retried after RETRY_MS, never at once: fetching again straight away
 * would spin, one round trip after another.  Only the first error of a run
 * is logged, and the end of the run.
 */
static int
failed(struct wq_fetcher *f, redisReply *reply, const char *what)
{
	const char *err = wq_redis_error(reply);

	if (reply != NULL && err == NULL) {
		if (f->errors > 0)
			wq_log(WQ_LOG_NOTICE, "fetch: %s works again after %u "
			    "error(s)", what, f->errors);
		f->errors = 0;
		return 0;
	}
	end_command(f);
	if (reply == NULL || f->stopping)
		return 1;
	if (strncmp(err, "NOGROUP", 7) == 0) {
		if (f->errors++ == 0)
			wq_log(WQ_LOG_NOTICE, "fetch: %s: the consumer group "
			    "is gone; creating it again", err);
		f->groups_ready = 0;
		if (f->errors == 1)
			create_groups(f);
		else
			retry_later(f);
		return 1;
	}
	if (f->errors++ == 0)
		wq_log(WQ_LOG_WARNING, "fetch: %s: %s; retrying every %d ms",
		    what, err, RETRY_MS);
	retry_later(f);
	return 1;
}

static void
after_command(struct wq_fetcher *f)
{
	end_command(f);
	if (!f->stopping)
		next(f);
}

static void
read_reply(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	struct wq_fetcher *f = arg;
	int blocking = f->blocking;

	(void)r;
	if (failed(f, reply, "XREADGROUP"))
		return;
	if (reply->type == REDIS_REPLY_NIL) {
		if (f->read_one != NULL)
			f->read_one->drained = 1;
		else if (blocking)
			clear_drained(f);
	} else if (take_read(f, reply) > 0 || blocking)
		clear_drained(f);
	after_command(f);
}

/* {entries, counts[, a suspect waits]} from the claim scripts.  Returns
   entries taken; *waits is set from the flag. */
static size_t
take_claim(struct wq_fetcher *f, struct wq_stream *s, redisReply *reply,
    char *last, size_t lastlen, int *waits)
{
	redisReply *entries, *counts;
	size_t got = 0;

	*waits = 0;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2)
		return 0;
	entries = reply->element[0];
	counts = reply->element[1];
	if (entries->type != REDIS_REPLY_ARRAY ||
	    counts->type != REDIS_REPLY_ARRAY)
		return 0;
	if (reply->elements > 2 &&
	    reply->element[2]->type == REDIS_REPLY_INTEGER)
		*waits = reply->element[2]->integer != 0;
	for (size_t i = 0; i < entries->elements; i++) {
		redisReply *e = entries->element[i];
		uint32_t n = i < counts->elements &&
		    counts->element[i]->type == REDIS_REPLY_INTEGER ?
		    (uint32_t)counts->element[i]->integer : 1;

		if (last != NULL && e != NULL && e->type == REDIS_REPLY_ARRAY &&
		    e->elements == 2 && e->element[0]->len < lastlen)
			snprintf(last, lastlen, "%s", e->element[0]->str);
		got += take(f, s, entries, i, n) > 0;
	}
	return got;
}

static void
claim_reply(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	struct wq_fetcher *f = arg;
	struct orphan *o = f->claiming;
	char last[WQ_ID_MAX] = "";
	size_t got, listed;
	int waits;

	(void)r;
	if (failed(f, reply, "claim"))
		return;
	got = take_claim(f, o->stream, reply, last, sizeof(last), &waits);
	if (o->self && got > 0)
		memcpy(o->after, last, sizeof(o->after));
	listed = got > 0 ? reply->element[0]->elements : 0;
	if (o->alone && got > 0) {
		f->isolating = 1;
		wq_log(WQ_LOG_NOTICE, "fetch: running entry %s of %s on %s "
		    "alone: it was delivered before and never finished, so it "
		    "may be what crashed a daemon (max_deliveries %lld)", last,
		    o->self ? "this daemon's previous run" : o->consumer,
		    o->stream->key, (long long)o->stream->max_deliveries);
	} else if (got > 0)
		wq_log(WQ_LOG_NOTICE, "fetch: took %zu pending entries of %s "
		    "on %s", got, o->self ? "this daemon's previous run" :
		    o->consumer, o->stream->key);
	o->suspect = waits;
	if (!waits && (got == 0 || listed < o->asked)) {
		TAILQ_REMOVE(&f->orphans, o, link);
		free_orphan(o);
	}
	after_command(f);
}

static void
adopt_reply(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	struct wq_fetcher *f = arg;
	struct adopt *a = f->adopting;
	int waits;

	(void)r;
	if (failed(f, reply, "adopt"))
		return;
	TAILQ_REMOVE(&f->adopts, a, link);
	wq_log(WQ_LOG_NOTICE, "fetch: took back %zu entries of ours on %s "
	    "whose delivery was lost", take_claim(f, a->stream, reply, NULL, 0,
	    &waits), a->stream->key);
	free_adopt(a);
	after_command(f);
}

static unsigned
min3(size_t a, unsigned b, unsigned c)
{
	size_t m = a < b ? a : b;

	return (unsigned)(m < c ? m : c);
}

/* Claims entries of o in order; alone: the one suspect next in line. */
static int
send_claim(struct wq_fetcher *f, struct orphan *o, size_t room, int alone)
{
	char count[16];
	const char *argv[10] = { o->stream->key, o->stream->alive_key,
	    f->group, o->consumer, f->consumer, count,
	    o->self ? (o->after[0] != '\0' ? o->after : "-") : "-",
	    o->self ? "0" : "1", alone ? "1" : "0", SUSPECT };

	o->asked = alone ? 1 : min3(room, wq_stream_credit(o->stream),
	    CLAIM_MAX);
	o->alone = alone;
	snprintf(count, sizeof(count), "%u", o->asked);
	f->claiming = o;
	return wq_script_eval(f->fetch, WQ_SCRIPT_CLAIM, claim_reply, f, 2, 8,
	    argv, NULL);
}

static int
send_adopt(struct wq_fetcher *f, struct adopt *a)
{
	size_t n = WQ_SCRIPT_ARGV0 + 3 + a->n;
	const char **v = malloc(n * sizeof(*v)), **argv = v + WQ_SCRIPT_ARGV0;
	int rc;

	if (v == NULL)
		return -1;
	argv[0] = a->stream->key;
	argv[1] = f->group;
	argv[2] = f->consumer;
	for (size_t i = 0; i < a->n; i++)
		argv[3 + i] = a->ids[i];
	f->adopting = a;
	rc = wq_script_evalv(f->fetch, WQ_SCRIPT_CLAIM_IDS, adopt_reply, f, 1,
	    (int)n, v);
	free(v);
	return rc;
}

static double
rnd(struct wq_fetcher *f)
{
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return (double)(f->rng >> 11) / 9007199254740992.0;
}

/* The streams that may be read now, best first. */
static size_t
eligible(struct wq_fetcher *f, struct wq_stream **v)
{
	struct wq_stream *s;
	size_t n = 0;

	TAILQ_FOREACH(s, f->streams, link)
		if (wq_stream_credit(s) > 0 && n < MAX_STREAMS)
			v[n++] = s;
	for (size_t i = 1; i < n; i++)		/* by rank; n is small */
		for (size_t j = i; j > 0 && v[j - 1]->rank > v[j]->rank; j--) {
			s = v[j];
			v[j] = v[j - 1];
			v[j - 1] = s;
		}
	if (f->order != WQ_ORDER_WEIGHTED)
		return n;
	for (size_t i = 0; i + 1 < n; i++) {	/* weighted shuffle */
		double total = 0, x;
		size_t j;

		for (j = i; j < n; j++)
			total += v[j]->weight;
		x = rnd(f) * total;
		for (j = i; j + 1 < n && x >= v[j]->weight; j++)
			x -= v[j]->weight;
		s = v[i];
		v[i] = v[j];
		v[j] = s;
	}
	return n;
}

static int
send_read(struct wq_fetcher *f, struct wq_stream **v, size_t m,
    unsigned count, int blocking)
{
	const char *argv[10 + 2 * MAX_STREAMS];
	char cnt[16], blk[16];
	int argc = 0;

	snprintf(cnt, sizeof(cnt), "%u", count);
	snprintf(blk, sizeof(blk), "%d", BLOCK_MS);
	argv[argc++] = "XREADGROUP";
	argv[argc++] = "GROUP";
	argv[argc++] = f->group;
	argv[argc++] = f->consumer;
	argv[argc++] = "COUNT";
	argv[argc++] = cnt;
	if (blocking) {
		argv[argc++] = "BLOCK";
		argv[argc++] = blk;
	}
	argv[argc++] = "STREAMS";
	for (size_t i = 0; i < m; i++)
		argv[argc++] = v[i]->key;
	for (size_t i = 0; i < m; i++)
		argv[argc++] = ">";
	f->blocking = blocking;
	f->read_one = m == 1 && !blocking ? v[0] : NULL;
	f->asked = count;
	return wq_redis_command(f->fetch, read_reply, f,
	    blocking ? BLOCK_MS + 5000 : 0, argc, argv, NULL);
}

static int
next_read(struct wq_fetcher *f, size_t room)
{
	struct wq_stream *v[MAX_STREAMS];
	size_t m = eligible(f, v), i;
	unsigned count;

	if (m == 0)
		return 0;		/* kicked when credit frees */
	if (m == 1)
		return send_read(f, v, 1, min3(room, wq_stream_credit(v[0]),
		    FETCH_MAX), 1) == 0;
	for (i = 0; i < m; i++)
		if (!v[i]->drained)
			return send_read(f, &v[i], 1, min3(room,
			    wq_stream_credit(v[i]), FETCH_MAX), 0) == 0;
	if (m > room)
		m = room;
	count = (unsigned)(room / m);
	for (i = 0; i < m; i++)
		count = min3(count, wq_stream_credit(v[i]), FETCH_MAX);
	return send_read(f, v, m, count, 1) == 0;
}

/* A queue waiter's wakeup (room, or nothing left running): try again. */
static void
wake_cb(struct wq_queue_waiter *w, void *item, int err)
{
	(void)item;
	if (err == 0)
		next(w->arg);
}

static struct orphan *
first_orphan(struct wq_fetcher *f)
{
	struct orphan *o;

	TAILQ_FOREACH(o, &f->orphans, link)
		if (wq_stream_credit(o->stream) > 0)
			return o;
	return NULL;
}

/* Nonzero when no job is queued or running; else waits until then. */
static int
idle(struct wq_fetcher *f)
{
	if (wq_queue_waiting(&f->idlew))
		return 0;
	return wq_queue_join(f->local, &f->idlew, wake_cb, f) == 0;
}

static struct orphan *
suspect_orphan(struct wq_fetcher *f)
{
	struct orphan *o;

	TAILQ_FOREACH(o, &f->orphans, link)
		if (o->suspect && wq_stream_credit(o->stream) > 0)
			return o;
	return NULL;
}

/* The owner's pause (its outcomes wait for Redis to confirm them). */
static int
paused(const struct wq_fetcher *f)
{
	return f->ops.paused != NULL && f->ops.paused(f->ops.ctx);
}

/* Nonzero when no command may go out now, whatever the room. */
static int
held_up(struct wq_fetcher *f)
{
	return f->stopping || f->busy || !f->groups_ready ||
	    !wq_redis_ready(f->fetch) || evtimer_pending(f->retry_ev, NULL);
}

static void
next(struct wq_fetcher *f)
{
	size_t room;
	struct orphan *o;
	struct adopt *a;
	int sent;

	if (held_up(f) || wq_queue_waiting(&f->roomw))
		return;
	if ((room = wq_queue_room(f->local)) == 0) {
		if (wq_queue_wait_room(f->local, &f->roomw, wake_cb, f) == 0)
			wq_fetcher_kick(f, 0);
		return;
	}
	if (paused(f))
		return;			/* kicked when Redis catches up */
	if (f->isolating && !idle(f))
		return;			/* a suspect runs alone */
	f->isolating = 0;
	if ((o = suspect_orphan(f)) != NULL) {
		if (!idle(f))
			return;
		sent = send_claim(f, o, 1, 1) == 0;
	} else if ((a = TAILQ_FIRST(&f->adopts)) != NULL)
		sent = send_adopt(f, a) == 0;
	else if ((o = first_orphan(f)) != NULL)
		sent = send_claim(f, o, room, 0) == 0;
	else
		sent = next_read(f, room);
	f->busy = sent;
	f->sent += (uint64_t)sent;
	if (sent)
		f->busy_since_us = wq_clock_mono_us();
}

static int
has_work(struct wq_fetcher *f)
{
	struct wq_stream *s;

	if (TAILQ_FIRST(&f->adopts) != NULL || first_orphan(f) != NULL)
		return 1;
	TAILQ_FOREACH(s, f->streams, link)
		if (wq_stream_credit(s) > 0)
			return 1;
	return 0;
}

/*
 * The watchdog.  Workers that silently stop consuming after a reconnect
 * are what users of other queues complain about most, so the fetcher
 * checks itself: found idle (connected, nothing outstanding, no backoff,
 * room in the local queue, not paused, a queue with credit) on two ticks
 * in a row with no command sent in between, it fetches again; a command with no
 * answer for STUCK_MS (the connection's own timeouts should have dropped
 * it long before) drops the connection.  Either is a bug somewhere, so it
 * is logged.
 */
static void
watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wq_fetcher *f = arg;
	size_t room = wq_queue_room(f->local);

	(void)fd;
	(void)what;
	if (held_up(f) || wq_queue_waiting(&f->idlew) || room == 0 ||
	    paused(f) || !has_work(f)) {
		f->idle_seen = 0;
		if (f->busy && !f->stopping && wq_clock_mono_us() -
		    f->busy_since_us > (int64_t)STUCK_MS * 1000) {
			wq_log(WQ_LOG_WARNING, "fetch: watchdog: no answer for "
			    "%d s; reconnecting", STUCK_MS / 1000);
			wq_redis_drop(f->fetch, "fetch watchdog: no answer");
		}
		return;
	}
	if (!f->idle_seen || f->sent != f->sent_seen) {
		f->idle_seen = 1;
		f->sent_seen = f->sent;
		return;
	}
	f->idle_seen = 0;
	wq_log(WQ_LOG_WARNING, "fetch: watchdog: idle with room for %zu "
	    "job(s) and nothing outstanding; fetching again", room);
	wq_queue_cancel(&f->roomw);
	next(f);
}

static void
kick_cb(struct wq_call *call)
{
	next((struct wq_fetcher *)((char *)call -
	    offsetof(struct wq_fetcher, kick_call)));
}

static void
stop_cb(struct wq_call *call)
{
	struct wq_fetcher *f = (struct wq_fetcher *)((char *)call -
	    offsetof(struct wq_fetcher, stop_call));
	void (*fn)(void *) = f->stopped;

	if (f->busy || fn == NULL)
		return;
	f->stopped = NULL;
	fn(f->stopped_arg);
}

static void
client_id_reply(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	struct wq_fetcher *f = arg;

	(void)r;
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
		f->client_id = reply->integer;
}

/* This daemon's own pending entries, left by its previous run, come first. */
static void
queue_resume(struct wq_fetcher *f)
{
	struct wq_stream *s;
	struct orphan *o;

	f->resumed = 1;
	TAILQ_FOREACH(s, f->streams, link) {
		if ((o = calloc(1, sizeof(*o))) == NULL ||
		    (o->consumer = strdup(f->consumer)) == NULL) {
			free(o);
			continue;
		}
		o->stream = s;
		o->self = 1;
		TAILQ_INSERT_HEAD(&f->orphans, o, link);
	}
}

/*
 * XGROUP CREATE's reply.  BUSYGROUP (it exists) is the usual answer.  Any
 * other error (out of memory: MKSTREAM is refused then; no permission) is
 * logged and fetching starts anyway: if the group really is missing, the
 * read says NOGROUP and the groups are created again after RETRY_MS.
 */
static void
group_reply(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	struct wq_fetcher *f = arg;
	const char *err = wq_redis_error(reply);

	(void)r;
	if (reply == NULL)
		return;			/* wq_fetcher_up follows */
	if (err != NULL && strncmp(err, "BUSYGROUP", 9) != 0 &&
	    f->errors++ == 0)
		wq_log(WQ_LOG_ERR, "fetch: XGROUP CREATE: %s", err);
	if (--f->groups_waiting == 0) {
		f->groups_ready = 1;
		next(f);
	}
}

static void
create_groups(struct wq_fetcher *f)
{
	const char *argv[6] = { "XGROUP", "CREATE", NULL, f->group, "0",
	    "MKSTREAM" };
	struct wq_stream *s;

	f->groups_ready = 0;
	f->groups_waiting = 0;
	TAILQ_FOREACH(s, f->streams, link) {
		argv[2] = s->key;
		if (wq_redis_command(f->fetch, group_reply, f, 0, 6, argv,
		    NULL) == 0)
			f->groups_waiting++;
	}
	if (f->groups_waiting == 0) {
		f->groups_ready = wq_redis_ready(f->fetch);
		next(f);
	}
}

/*
 * Whatever was outstanding on the old connection has had its NULL reply
 * (end_command), and a reload may call this with a read outstanding: the
 * groups' commands then queue behind it.  A backoff is dropped: the new
 * connection is tried at once.
 */
void
wq_fetcher_up(struct wq_fetcher *f)
{
	const char *id[2] = { "CLIENT", "ID" };

	f->client_id = -1;
	evtimer_del(f->retry_ev);
	if (!f->resumed)
		queue_resume(f);
	wq_redis_command(f->fetch, client_id_reply, f, 0, 2, id, NULL);
	create_groups(f);
}

static void
interrupt(struct wq_fetcher *f)
{
	char id[32];
	const char *argv[3] = { "CLIENT", "UNBLOCK", id };

	if (!f->busy || !f->blocking)
		return;
	snprintf(id, sizeof(id), "%lld", f->client_id);
	if (f->client_id < 0 ||
	    wq_redis_command(f->cmd, NULL, NULL, 0, 3, argv, NULL) < 0)
		wq_redis_drop(f->fetch, "interrupting a blocked read");
}

void
wq_fetcher_kick(struct wq_fetcher *f, int hard)
{
	if (hard)
		interrupt(f);
	wq_loop_soon(f->loop, &f->kick_call);
}

void
wq_fetcher_orphans(struct wq_fetcher *f, struct wq_stream *s,
    const char *consumer, unsigned pending)
{
	struct orphan *o;

	TAILQ_FOREACH(o, &f->orphans, link)
		if (o->stream == s && strcmp(o->consumer, consumer) == 0)
			return;
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (o->consumer = strdup(consumer)) == NULL) {
		free(o);
		return;
	}
	o->stream = s;
	TAILQ_INSERT_TAIL(&f->orphans, o, link);
	wq_log(WQ_LOG_NOTICE, "fetch: %s holds %u entries of %s and is gone; "
	    "taking them over", consumer, pending, s->key);
	wq_fetcher_kick(f, 1);
}

void
wq_fetcher_adopt(struct wq_fetcher *f, struct wq_stream *s,
    const char *const *ids, size_t n)
{
	struct adopt *a;

	if (n == 0 || (a = calloc(1, sizeof(*a))) == NULL)
		return;
	if ((a->ids = calloc(n, sizeof(*a->ids))) == NULL) {
		free(a);
		return;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(a->ids[i], sizeof(a->ids[i]), "%s", ids[i]);
	a->n = n;
	a->stream = s;
	TAILQ_INSERT_TAIL(&f->adopts, a, link);
	wq_fetcher_kick(f, 1);
}

struct wq_fetcher *
wq_fetcher_new(struct wq_loop *loop, struct wq_redis *fetch,
    struct wq_redis *cmd, struct wq_queue *local,
    struct wq_stream_list *streams, const char *group, const char *consumer,
    const struct wq_fetcher_ops *ops)
{
	struct wq_fetcher *f = calloc(1, sizeof(*f));
	struct timeval watch = WQ_TV_MS(WATCH_MS);

	if (f == NULL)
		return NULL;
	f->loop = loop;
	f->fetch = fetch;
	f->cmd = cmd;
	f->local = local;
	f->streams = streams;
	f->ops = *ops;
	f->client_id = -1;
	f->rng = (uint64_t)wq_clock_mono_us() | 1;
	f->kick_call.fn = kick_cb;
	f->stop_call.fn = stop_cb;
	TAILQ_INIT(&f->orphans);
	TAILQ_INIT(&f->adopts);
	f->group = strdup(group);
	f->consumer = strdup(consumer);
	f->retry_ev = evtimer_new(wq_loop_base(loop), retry_cb, f);
	f->watch_ev = event_new(wq_loop_base(loop), -1, EV_PERSIST, watch_cb,
	    f);
	if (f->group == NULL || f->consumer == NULL || f->retry_ev == NULL ||
	    f->watch_ev == NULL || event_add(f->watch_ev, &watch) < 0) {
		wq_fetcher_free(f);
		return NULL;
	}
	return f;
}

void
wq_fetcher_free(struct wq_fetcher *f)
{
	struct orphan *o;
	struct adopt *a;

	if (f == NULL)
		return;
	wq_queue_cancel(&f->roomw);
	wq_queue_cancel(&f->idlew);
	wq_loop_cancel(f->loop, &f->kick_call);
	wq_loop_cancel(f->loop, &f->stop_call);
	while ((o = TAILQ_FIRST(&f->orphans)) != NULL) {
		TAILQ_REMOVE(&f->orphans, o, link);
		free_orphan(o);
	}
	while ((a = TAILQ_FIRST(&f->adopts)) != NULL) {
		TAILQ_REMOVE(&f->adopts, a, link);
		free_adopt(a);
	}
	if (f->retry_ev != NULL)
		event_free(f->retry_ev);
	if (f->watch_ev != NULL)
		event_free(f->watch_ev);
	free(f->group);
	free(f->consumer);
	free(f);
}

void
wq_fetcher_set_order(struct wq_fetcher *f, enum wq_order order)
{
	f->order = order;
}

void
wq_fetcher_stop(struct wq_fetcher *f, void (*done)(void *), void *arg)
{
	f->stopping = 1;
	f->stopped = done;
	f->stopped_arg = arg;
	wq_queue_cancel(&f->roomw);
	wq_queue_cancel(&f->idlew);
	wq_loop_cancel(f->loop, &f->kick_call);
	evtimer_del(f->retry_ev);
	event_del(f->watch_ev);
	interrupt(f);
	wq_loop_soon(f->loop, &f->stop_call);
}

int
wq_fetcher_busy(const struct wq_fetcher *f)
{
	return f->busy;
}

int
wq_fetcher_resuming(const struct wq_fetcher *f)
{
	const struct orphan *o;

	if (!f->resumed)
		return 1;
	TAILQ_FOREACH(o, &f->orphans, link)
		if (o->self)
			return 1;
	return 0;
}
