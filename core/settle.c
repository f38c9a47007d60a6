/*
 * The settler (see settle.h).
 *
 * DESIGN: ids to acknowledge (or hand back) collect in an open batch per
 * stream and kind; a flush queued with wq_loop_soon sends the open batches
 * at the end of the loop turn, one in flight per stream and kind: what
 * arrives while one is in flight waits for its reply, so the batch size
 * follows the load by itself (one id when idle, up to BATCH_MAX under
 * load) and Redis gets few, large scripts instead of many small ones.
 * Batches and their buffers are kept on a spare list and reused.
 *
 * Outcomes not yet confirmed are counted (waiting); past the limit the
 * settler is full, which its owner reads (wq_settler_full) to stop
 * fetching, and relief is called once Redis has caught up to half the
 * limit: a daemon never runs ahead of what Redis records.
 *
 * A batch or job in flight sits on the `sent` lists; a reply settles it, a NULL reply (connection
 * lost: outcome unknown) or an error reply moves it to the `again` lists,
 * which are sent again when the connection is back, or after RETRY_MS for
 * errors (an OOM, a script refused).  Nothing leaves the stream's held set
 * before Redis has confirmed it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "log.h"
#include "script.h"
#include "settle.h"

#define BATCH_MAX	1000
#define RETRY_MS	1000
#define SPARE_MAX	8

/* An entry id, with its parsed form for the held set. */
struct bid {
	char		 id[WQ_ID_MAX];
	uint64_t	 ms, seq;
};

struct batch {
	TAILQ_ENTRY(batch)	 link;
	struct wq_settler	*settler;
	struct wq_stream	*stream;
	enum wq_script		 script;	/* ACK or HANDBACK */
	struct bid		*ids;
	size_t			 n, cap;
};

TAILQ_HEAD(batch_list, batch);

struct wq_settler {
	struct wq_loop		*loop;
	struct wq_redis		*redis;
	char			*group;
	char			*consumer;
	struct batch_list	 open;
	struct batch_list	 sent;
	struct batch_list	 again;
	struct batch_list	 spare;
	unsigned		 nspare;
	const char		**argv;		/* reused for every batch */
	size_t			 argv_cap;
	unsigned		 limit;		/* 0: none */
	int			 over;		/* waiting reached the limit */
	void			(*relief)(void *);
	void			*relief_arg;
	struct wq_job_list	 jobs_sent;
	struct wq_job_list	 jobs_again;
	struct wq_call		 flush_call;
	struct event		*retry_ev;
	unsigned		 waiting;
	unsigned		 failing;	/* error replies in a row */
	void			(*flushed)(void *);
	void			*flushed_arg;
	struct wq_settler_stats	 st;
};

static void	send_job(struct wq_settler *s, struct wq_job *job);

/* waiting went down: below half the limit, fetching may resume. */
static void
less_waiting(struct wq_settler *s, unsigned n)
{
	s->waiting -= n;
	if (s->over && s->waiting < s->limit / 2) {
		s->over = 0;
		if (s->relief != NULL)
			s->relief(s->relief_arg);
	}
}

static void
more_waiting(struct wq_settler *s)
{
	if (++s->waiting >= s->limit && s->limit > 0)
		s->over = 1;
}

static void
maybe_flushed(struct wq_settler *s)
{
	void (*fn)(void *) = s->flushed;

	if (fn == NULL || s->waiting > 0)
		return;
	s->flushed = NULL;
	fn(s->flushed_arg);
}

static void
arm_retry(struct wq_settler *s)
{
	struct timeval tv = WQ_TV_MS(RETRY_MS);

	if (!evtimer_pending(s->retry_ev, NULL))
		evtimer_add(s->retry_ev, &tv);
}

static void
batch_free(struct batch *b)
{
	free(b->ids);
	free(b);
}

/* A batch done with: kept for reuse, buffer and all, up to SPARE_MAX. */
static void
batch_done(struct wq_settler *s, struct batch *b)
{
	if (s->nspare >= SPARE_MAX) {
		batch_free(b);
		return;
	}
	b->n = 0;
	TAILQ_INSERT_HEAD(&s->spare, b, link);
	s->nspare++;
}

static int
in_flight(const struct wq_settler *s, const struct batch *b)
{
	const struct batch *x;

	TAILQ_FOREACH(x, &s->sent, link)
		if (x->stream == b->stream && x->script == b->script)
			return 1;
	return 0;
}

/*
 * An error reply (Redis loading its data after a restart, a script
 * refused): the command is sent again after RETRY_MS.  Only the first
 * error of a run is logged, and the end of the run, so a Redis that
 * refuses for a while costs two log lines, not one per batch per second.
 */
static void
refused(struct wq_settler *s, const char *what, const char *key,
    const char *err)
{
	s->st.errors++;
	if (s->failing++ == 0)
		wq_log(WQ_LOG_WARNING, "settle: %s on %s refused: %s; retrying "
		    "every %d ms", what, key, err, RETRY_MS);
	arm_retry(s);
}

static void
accepted(struct wq_settler *s)
{
	if (s->failing > 0)
		wq_log(WQ_LOG_NOTICE, "settle: Redis records outcomes again "
		    "after %u refusal(s)", s->failing);
	s->failing = 0;
}

static void
batch_reply(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	struct batch *b = arg;
	struct wq_settler *s = b->settler;

	(void)r;
	TAILQ_REMOVE(&s->sent, b, link);
	if (reply == NULL || wq_redis_error(reply) != NULL) {
		if (reply != NULL)
			refused(s, b->script == WQ_SCRIPT_ACK ?
			    "acknowledgement" : "hand-back", b->stream->key,
			    wq_redis_error(reply));
		TAILQ_INSERT_TAIL(&s->again, b, link);
		return;
	}
	accepted(s);
	for (size_t i = 0; i < b->n; i++)
		wq_idset_del(&b->stream->held, b->ids[i].ms, b->ids[i].seq);
	if (b->script == WQ_SCRIPT_ACK)
		s->st.acked += b->n;
	else
		s->st.handed_back += b->n;
	less_waiting(s, (unsigned)b->n);
	batch_done(s, b);
	/* What waited for this batch's reply goes out now. */
	if (!TAILQ_EMPTY(&s->open))
		wq_loop_soon(s->loop, &s->flush_call);
	maybe_flushed(s);
}

static void
send_batch(struct wq_settler *s, struct batch *b)
{
	size_t need = WQ_SCRIPT_ARGV0 + 4 + b->n, i = WQ_SCRIPT_ARGV0;
	const char **argv = s->argv;

	if (need > s->argv_cap) {
		if ((argv = realloc(s->argv, need * sizeof(*argv))) == NULL) {
			TAILQ_INSERT_TAIL(&s->again, b, link);
			arm_retry(s);
			return;
		}
		s->argv = argv;
		s->argv_cap = need;
	}
	argv[i++] = b->stream->key;
	argv[i++] = s->group;
	if (b->script == WQ_SCRIPT_HANDBACK) {
		argv[i++] = s->consumer;
		argv[i++] = WQ_HANDBACK_CONSUMER;
	}
	for (size_t j = 0; j < b->n; j++)
		argv[i++] = b->ids[j].id;
	if (wq_script_evalv(s->redis, b->script, batch_reply, b, 1, (int)i,
	    argv) == 0)
		TAILQ_INSERT_TAIL(&s->sent, b, link);
	else
		TAILQ_INSERT_TAIL(&s->again, b, link);
}

static void
flush_cb(struct wq_call *call)
{
	struct wq_settler *s = (struct wq_settler *)((char *)call -
	    offsetof(struct wq_settler, flush_call));
	struct batch *b, *next;

	for (b = TAILQ_FIRST(&s->open); b != NULL; b = next) {
		next = TAILQ_NEXT(b, link);
		if (in_flight(s, b))
			continue;	/* sent when that one's reply comes */
		TAILQ_REMOVE(&s->open, b, link);
		send_batch(s, b);
	}
}

static struct batch *
open_batch(struct wq_settler *s, struct wq_stream *stream,
    enum wq_script script)
{
	struct batch *b;

	TAILQ_FOREACH(b, &s->open, link)
		if (b->stream == stream && b->script == script &&
		    b->n < BATCH_MAX)
			return b;
	if ((b = TAILQ_FIRST(&s->spare)) != NULL) {
		TAILQ_REMOVE(&s->spare, b, link);
		s->nspare--;
	} else if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->settler = s;
	b->stream = stream;
	b->script = script;
	TAILQ_INSERT_TAIL(&s->open, b, link);
	return b;
}

static int
add_id(struct wq_settler *s, struct wq_job *job, enum wq_script script)
{
	struct batch *b = open_batch(s, job->stream, script);

	if (b == NULL)
		return -1;
	if (b->n == b->cap) {
		size_t cap = b->cap != 0 ? b->cap * 2 : 16;
		void *ids = realloc(b->ids, cap * sizeof(*b->ids));

		if (ids == NULL)
			return -1;
		b->ids = ids;
		b->cap = cap;
	}
	memcpy(b->ids[b->n].id, job->entry_id, WQ_ID_MAX);
	b->ids[b->n].ms = job->id_ms;
	b->ids[b->n++].seq = job->id_seq;
	more_waiting(s);
	wq_loop_soon(s->loop, &s->flush_call);
	return 0;
}

static void
job_reply(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	struct wq_job *job = arg;
	struct wq_settler *s = job->settler;

	(void)r;
	TAILQ_REMOVE(&s->jobs_sent, job, link);
	if (reply == NULL || wq_redis_error(reply) != NULL) {
		if (reply != NULL)
			refused(s, job->verdict == WQ_VERDICT_DEAD ?
			    "dead-lettering" : "scheduling", job->stream->key,
			    wq_redis_error(reply));
		TAILQ_INSERT_TAIL(&s->jobs_again, job, link);
		return;
	}
	accepted(s);
	if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 0)
		wq_log(WQ_LOG_NOTICE, "settle: job %s on %s is no longer "
		    "pending for this daemon (recorded by an attempt whose "
		    "reply was lost, or taken over by a peer); nothing to do",
		    wq_job_id(job), job->stream->key);
	else if (job->verdict == WQ_VERDICT_DEAD)
		s->st.dead++;
	else if (job->verdict == WQ_VERDICT_RETRY)
		s->st.retried++;
	else
		s->st.deferred++;
	wq_idset_del(&job->stream->held, job->id_ms, job->id_seq);
	less_waiting(s, 1);
	wq_job_unref(job);
	maybe_flushed(s);
}

/* The argument vector of a DEAD or DEFER script call. */
struct args {
	const char	**v;
	size_t		 *l;
	int		  n;
	char		  num[8][32];
	int		  nnum;
};

static void
arg(struct args *a, const char *s, size_t len)
{
	a->v[a->n] = s;
	a->l[a->n++] = len;
}

static void
arg_str(struct args *a, const char *s)
{
	arg(a, s, strlen(s));
}

static void
arg_num(struct args *a, int64_t v)
{
	char *p = a->num[a->nnum++];

	snprintf(p, sizeof(a->num[0]), "%" PRId64, v);
	arg_str(a, p);
}

/* The fields a retried or deferred entry carries when it comes back. */
static void
defer_fields(struct args *a, const struct wq_job *job)
{
	static const char *const drop[] = { "at", "delay", "attempt", "id" };

	for (size_t i = 0; i < job->nfields; i++) {
		const struct wq_field *f = &job->fields[i];
		size_t k;

		for (k = 0; k < 4; k++)
			if (f->nlen == strlen(drop[k]) &&
			    memcmp(f->name, drop[k], f->nlen) == 0)
				break;
		if (k < 4)
			continue;
		arg(a, f->name, f->nlen);
		arg(a, f->val, f->vlen);
	}
	arg_str(a, "id");
	arg_str(a, wq_job_id(job));
	arg_str(a, "attempt");
	arg_num(a, job->entry.attempt +
	    (job->verdict == WQ_VERDICT_RETRY ? 1 : 0));
}

static void
dead_fields(struct args *a, const struct wq_job *job)
{
	for (size_t i = 0; i < job->nfields; i++) {
		arg(a, job->fields[i].name, job->fields[i].nlen);
		arg(a, job->fields[i].val, job->fields[i].vlen);
	}
	arg_str(a, "dead.reason");
	arg_str(a, wq_reason_name(job->reason));
	arg_str(a, "dead.error");
	arg_str(a, wq_job_last_error(job));
	arg_str(a, "dead.attempts");
	arg_num(a, job->entry.attempt);
	arg_str(a, "dead.deliveries");
	arg_num(a, job->deliveries);
	arg_str(a, "dead.queue");
	arg_str(a, job->queue);
	arg_str(a, "dead.entry");
	arg_str(a, job->entry_id);
	arg_str(a, "dead.failed_at");
	arg_num(a, wq_clock_wall_ms());
}

static void
send_job(struct wq_settler *s, struct wq_job *job)
{
	int dead = job->verdict == WQ_VERDICT_DEAD, rc = -1;
	size_t cap = 2 * job->nfields + 24;
	struct args a = { .v = malloc(cap * sizeof(*a.v)),
	    .l = malloc(cap * sizeof(*a.l)) };

	job->settler = s;
	if (a.v != NULL && a.l != NULL) {
		arg_str(&a, job->stream->key);
		arg_str(&a, dead ? job->stream->dead_key :
		    job->stream->sched_key);
		arg_str(&a, s->group);
		arg_str(&a, s->consumer);
		arg_str(&a, job->entry_id);
		if (dead) {
			arg_num(&a, job->stream->dead_max);
			dead_fields(&a, job);
		} else {
			arg_num(&a, job->due_ms);
			defer_fields(&a, job);
		}
		rc = wq_script_eval(s->redis, dead ? WQ_SCRIPT_DEAD :
		    WQ_SCRIPT_DEFER, job_reply, job, 2, a.n - 2, a.v, a.l);
	}
	free(a.v);
	free(a.l);
	if (rc == 0)
		TAILQ_INSERT_TAIL(&s->jobs_sent, job, link);
	else
		TAILQ_INSERT_TAIL(&s->jobs_again, job, link);
}

void
wq_settle(struct wq_settler *s, struct wq_job *job)
{
	enum wq_script script = WQ_SCRIPT_ACK;

	switch (job->verdict) {
	case WQ_VERDICT_DROP:
		wq_idset_del(&job->stream->held, job->id_ms, job->id_seq);
		wq_job_unref(job);
		return;
	case WQ_VERDICT_HANDBACK:
		script = WQ_SCRIPT_HANDBACK;
		/* FALLTHROUGH */
	case WQ_VERDICT_ACK:
		if (add_id(s, job, script) < 0)
			break;
		wq_job_unref(job);
		return;
	default:
		break;
	}
	more_waiting(s);
	send_job(s, job);
}

static void
resend(struct wq_settler *s)
{
	struct wq_job_list jobs = TAILQ_HEAD_INITIALIZER(jobs);
	struct batch_list batches = TAILQ_HEAD_INITIALIZER(batches);
	struct wq_job *job;
	struct batch *b;

	if (!wq_redis_ready(s->redis))
		return;
	TAILQ_CONCAT(&batches, &s->again, link);
	TAILQ_CONCAT(&jobs, &s->jobs_again, link);
	while ((b = TAILQ_FIRST(&batches)) != NULL) {
		TAILQ_REMOVE(&batches, b, link);
		send_batch(s, b);
	}
	while ((job = TAILQ_FIRST(&jobs)) != NULL) {
		TAILQ_REMOVE(&jobs, job, link);
		send_job(s, job);
	}
	wq_loop_soon(s->loop, &s->flush_call);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	resend(arg);
}

struct wq_settler *
wq_settler_new(struct wq_loop *loop, struct wq_redis *r, const char *group,
    const char *consumer)
{
	struct wq_settler *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->loop = loop;
	s->redis = r;
	TAILQ_INIT(&s->open);
	TAILQ_INIT(&s->sent);
	TAILQ_INIT(&s->again);
	TAILQ_INIT(&s->spare);
	TAILQ_INIT(&s->jobs_sent);
	TAILQ_INIT(&s->jobs_again);
	s->flush_call.fn = flush_cb;
	s->group = strdup(group);
	s->consumer = strdup(consumer);
	s->retry_ev = evtimer_new(wq_loop_base(loop), retry_cb, s);
	if (s->group == NULL || s->consumer == NULL || s->retry_ev == NULL) {
		wq_settler_free(s);
		return NULL;
	}
	return s;
}

static void
free_batches(struct batch_list *list)
{
	struct batch *b;

	while ((b = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, b, link);
		batch_free(b);
	}
}

static void
free_jobs(struct wq_job_list *list)
{
	struct wq_job *job;

	while ((job = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, job, link);
		wq_job_unref(job);
	}
}

void
wq_settler_free(struct wq_settler *s)
{
	if (s == NULL)
		return;
	wq_loop_cancel(s->loop, &s->flush_call);
	free_batches(&s->open);
	free_batches(&s->again);
	free_jobs(&s->jobs_again);
	/* What is in flight belongs to the connection's callbacks: the
	   caller frees the connection first, which answers them NULL. */
	free_batches(&s->sent);
	free_batches(&s->spare);
	free(s->argv);
	free_jobs(&s->jobs_sent);
	if (s->retry_ev != NULL)
		event_free(s->retry_ev);
	free(s->group);
	free(s->consumer);
	free(s);
}

void
wq_settler_resume(struct wq_settler *s)
{
	resend(s);
}

void
wq_settler_flush(struct wq_settler *s, void (*done)(void *), void *arg)
{
	s->flushed = done;
	s->flushed_arg = arg;
	maybe_flushed(s);
}

void
wq_settler_stats(const struct wq_settler *s, struct wq_settler_stats *st)
{
	*st = s->st;
	st->waiting = s->waiting;
}

void
wq_settler_limit(struct wq_settler *s, unsigned limit, void (*relief)(void *),
    void *arg)
{
	s->limit = limit > 0 ? limit + 2 * BATCH_MAX : 0;
	s->relief = relief;
	s->relief_arg = arg;
	s->over = s->limit > 0 && s->waiting >= s->limit;
}

int
wq_settler_full(const struct wq_settler *s)
{
	return s->over;
}
