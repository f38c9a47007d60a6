/*
 * The reporter (see report.h).
 *
 * DESIGN: a timer runs a report every heartbeat period (every 250 ms until
 * the first one is confirmed, so a new daemon shows up at once).  A report
 * is a burst of commands on the command connection: one script that
 * rewrites this daemon's hash and its place in the live set with Redis's
 * clock (both keys share the {<prefix>} hash tag, so it is one atomic step
 * in a cluster too), then per queue a script of HINCRBYs for what was
 * counted since the last report, if anything, and an XPENDING summary.  A
 * report is skipped while the previous one still waits for replies, so a
 * slow Redis never piles them up.  The scripts are flags=allow-oom, like
 * every script workqd runs: they write a few bytes, and a full Redis is
 * exactly when the counters and the registry must keep going.
 *
 * The counts sent are taken from the metrics' per-queue totals: the
 * reporter remembers what it has sent and sends the difference, so it
 * keeps no counters of its own and the two can never disagree.
 *
 * Every command carries a small request that points back here.  Freeing
 * the reporter while requests wait only marks it; the last callback (the
 * connection answers them all, with NULL when it is freed) frees it.
 * Requests from before a reconfiguration carry an older generation and
 * leave the new queue list alone.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "log.h"
#include "report.h"
#include "script.h"

#define FIRST_MS	250

enum kind { K_BEAT, K_STATS, K_PENDING, K_FINAL, K_LEAVE };

struct rqueue {
	char				*name;
	char				*stream;	/* <prefix>:<name> */
	char				*stats_key;	/* {<prefix>:<name>}:stats */
	struct wq_metrics_totals	 sent;		/* taken as applied */
	uint64_t			 last_done;	/* at the last report */
	double				 rate;
};

struct wq_report {
	struct wq_loop		*loop;
	struct wq_redis		*cmd;
	struct wq_metrics	*m;
	const struct wq_pool	*pool;
	char			*consumer;
	char			*version;
	char			*host;
	long			 pid;
	int64_t			 started_ms;
	char			*group;
	char			*daemon_key;	/* {<prefix>}:daemon:<consumer> */
	char			*daemons_key;	/* {<prefix>}:daemons */
	int64_t			 period_ms;
	int64_t			 ttl_ms;
	struct rqueue		*queues;
	size_t			 nqueues;
	unsigned		 gen;
	struct event		*tick;
	unsigned		 waiting;
	int			 freed;
	int			 leaving;
	unsigned		 leave_waits;
	void			(*left)(void *);
	void			*left_arg;
	struct wq_call		 left_call;
	int64_t			 last_us;
	int			 warned;
	uint64_t		 reports;
};

struct req {
	struct wq_report		*r;
	unsigned			 gen;
	size_t				 qi;
	enum kind			 kind;
	struct wq_metrics_totals	 sent;
};

/* An argument vector of formatted strings; errors are sticky. */
struct args {
	char	**v;
	int	  n;
	int	  cap;
	int	  err;
};

static void	add(struct args *a, const char *fmt, ...) WQ_PRINTF(2, 3);
static char	*str(const char *fmt, ...) WQ_PRINTF(1, 2);

static void
add(struct args *a, const char *fmt, ...)
{
	va_list ap;
	char **v;

	if (a->err)
		return;
	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 32 : 2 * a->cap;
		if ((v = realloc(a->v, (size_t)a->cap * sizeof(*v))) == NULL) {
			a->err = 1;
			return;
		}
		a->v = v;
	}
	va_start(ap, fmt);
	if (vasprintf(&a->v[a->n], fmt, ap) < 0)
		a->err = 1;
	else
		a->n++;
	va_end(ap);
}

static void
args_free(struct args *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

static char *
str(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

static void
queues_free(struct rqueue *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(q[i].name);
		free(q[i].stream);
		free(q[i].stats_key);
	}
	free(q);
}

static void
destroy(struct wq_report *r)
{
	if (r->tick != NULL)
		event_free(r->tick);
	wq_loop_cancel(r->loop, &r->left_call);
	queues_free(r->queues, r->nqueues);
	free(r->consumer);
	free(r->version);
	free(r->host);
	free(r->group);
	free(r->daemon_key);
	free(r->daemons_key);
	free(r);
}

/* Ends a request: 0 if its reply may be used. */
static int
req_end(struct req *q, redisReply *reply, const char *what)
{
	struct wq_report *r = q->r;
	const char *err = wq_redis_error(reply);

	r->waiting--;
	if (r->freed)
		return -1;
	/* No stream or group yet (a new queue, a Redis that lost its
	   data): nothing is pending, nothing to warn about. */
	if (err != NULL && q->kind == K_PENDING &&
	    strncmp(err, "NOGROUP", 7) == 0)
		return -1;
	if (err != NULL) {
		if (!r->warned++)
			wq_log(WQ_LOG_WARNING, "report: %s: %s", what, err);
		return -1;
	}
	return reply == NULL ? -1 : 0;
}

static void
left_cb(struct wq_call *call)
{
	struct wq_report *r = (struct wq_report *)((char *)call -
	    offsetof(struct wq_report, left_call));
	void (*done)(void *) = r->left;

	r->left = NULL;
	if (done != NULL)
		done(r->left_arg);
}

static void
leave_step(struct wq_report *r)
{
	if (r->leave_waits > 0 && --r->leave_waits == 0)
		wq_loop_soon(r->loop, &r->left_call);
}

static void
sent_back(struct wq_metrics_totals *t, const struct wq_metrics_totals *d)
{
	t->done -= d->done;
	t->failed -= d->failed;
	t->retried -= d->retried;
	t->dead -= d->dead;
	t->expired -= d->expired;
	t->timed_out -= d->timed_out;
}

/* [count, smallest id, greatest id, consumers] */
static void
pending_reply(struct wq_report *r, struct rqueue *q, redisReply *reply)
{
	uint64_t ms = 0, seq;
	redisReply *min;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER)
		return;
	min = reply->element[1];
	if (min->type != REDIS_REPLY_STRING ||
	    wq_id_parse(min->str, min->len, &ms, &seq) < 0)
		wq_metrics_set_pending(r->m, q->name, 0, -1);
	else
		wq_metrics_set_pending(r->m, q->name,
		    (uint64_t)reply->element[0]->integer, (int64_t)ms);
}

static void
reply_cb(struct wq_redis *conn, redisReply *reply, void *arg)
{
	static const char *const what[] = {
		[K_BEAT] = "registry", [K_STATS] = "counters",
		[K_PENDING] = "XPENDING", [K_FINAL] = "counters",
		[K_LEAVE] = "leaving"
	};
	struct req *q = arg;
	struct wq_report *r = q->r;
	int ok = req_end(q, reply, what[q->kind]) == 0;
	struct rqueue *rq = q->gen == r->gen && q->qi < r->nqueues ?
	    &r->queues[q->qi] : NULL;

	(void)conn;
	if (r->freed) {
		if (r->waiting == 0)
			destroy(r);
		free(q);
		return;
	}
	if ((q->kind == K_STATS || q->kind == K_FINAL) && !ok &&
	    reply != NULL && rq != NULL)
		sent_back(&rq->sent, &q->sent);	/* refused: send again */
	else if (q->kind == K_BEAT && ok &&
	    reply->type == REDIS_REPLY_INTEGER) {
		r->reports++;
		r->warned = 0;
		wq_metrics_set_clock_offset(r->m, reply->integer -
		    wq_clock_wall_ms());
	} else if (q->kind == K_PENDING && rq != NULL) {
		if (ok)
			pending_reply(r, rq, reply);
		else if (reply != NULL)	/* NOGROUP: nothing yet */
			wq_metrics_set_pending(r->m, rq->name, 0, -1);
	}
	if (q->kind == K_LEAVE || q->kind == K_FINAL)
		leave_step(r);
	free(q);
}

#define PLAIN	(-1)	/* issue()'s script: a plain command */

/* Sends a (a plain command, or the keys and args of script, whose first
   nkeys are keys) and expects its reply as kind. */
static int
issue(struct wq_report *r, enum kind kind, size_t qi, int script, int nkeys,
    struct args *a, const struct wq_metrics_totals *sent)
{
	int rc;

	struct req *q;

	if (a->err || (q = calloc(1, sizeof(*q))) == NULL)
		return -1;
	q->r = r;
	q->gen = r->gen;
	q->qi = qi;
	q->kind = kind;
	if (sent != NULL)
		q->sent = *sent;
	rc = script == PLAIN ? wq_redis_command(r->cmd, reply_cb, q, 0, a->n,
	    (const char **)a->v, NULL) : wq_script_eval(r->cmd, script,
	    reply_cb, q, nkeys, (int)a->n - nkeys, (const char **)a->v, NULL);
	if (rc < 0) {
		free(q);
		return -1;
	}
	r->waiting++;
	return 0;
}

/* The queue names, comma-separated; NULL if out of memory. */
static char *
queue_list(const struct wq_report *r)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < r->nqueues; i++)
		len += strlen(r->queues[i].name) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < r->nqueues; i++) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, r->queues[i].name);
	}
	return s;
}

static void
beat(struct wq_report *r)
{
	struct args a = { 0 };
	struct wq_pool_stats ps = { 0 };
	struct wq_metrics_totals t;
	char *list = queue_list(r);
	uint64_t done = 0;
	double rate = 0;

	if (r->pool != NULL)
		wq_pool_stats(r->pool, &ps);
	add(&a, "%s", r->daemon_key);
	add(&a, "%s", r->daemons_key);
	add(&a, "%s", r->consumer);
	add(&a, "%lld", (long long)r->ttl_ms);
	add(&a, "version");
	add(&a, "%s", r->version);
	add(&a, "pid");
	add(&a, "%ld", r->pid);
	add(&a, "host");
	add(&a, "%s", r->host);
	add(&a, "consumer");
	add(&a, "%s", r->consumer);
	add(&a, "started");
	add(&a, "%lld", (long long)r->started_ms);
	add(&a, "period");
	add(&a, "%lld", (long long)r->period_ms);
	add(&a, "busy");
	add(&a, "%u", ps.busy);
	add(&a, "capacity");
	add(&a, "%u", ps.workers);
	add(&a, "queues");
	add(&a, "%s", list != NULL ? list : "");
	a.err |= list == NULL;
	free(list);
	for (size_t i = 0; i < r->nqueues; i++) {
		wq_metrics_totals(r->m, r->queues[i].name, &t);
		done += t.done;
		rate += r->queues[i].rate;
		add(&a, "rate:%s", r->queues[i].name);
		add(&a, "%.2f", r->queues[i].rate);
	}
	add(&a, "done");
	add(&a, "%llu", (unsigned long long)done);
	add(&a, "rate");
	add(&a, "%.2f", rate);
	issue(r, K_BEAT, 0, WQ_SCRIPT_REPORT_BEAT, 2, &a, NULL);
	args_free(&a);
}

/* The queue's counts since the last batch, as one script: 1 if sent. */
static int
stats(struct wq_report *r, size_t qi, enum kind kind)
{
	struct rqueue *q = &r->queues[qi];
	struct wq_metrics_totals t, d;
	struct args a = { 0 };
	int rc;

	wq_metrics_totals(r->m, q->name, &t);
	d.done = t.done - q->sent.done;
	d.failed = t.failed - q->sent.failed;
	d.retried = t.retried - q->sent.retried;
	d.dead = t.dead - q->sent.dead;
	d.expired = t.expired - q->sent.expired;
	d.timed_out = t.timed_out - q->sent.timed_out;
	if (d.done + d.failed + d.retried + d.dead + d.expired +
	    d.timed_out == 0)
		return 0;
	add(&a, "%s", q->stats_key);
#define FIELD(f)	if (d.f > 0) { add(&a, #f); \
			    add(&a, "%llu", (unsigned long long)d.f); }
	FIELD(done) FIELD(failed) FIELD(retried) FIELD(dead) FIELD(expired)
	FIELD(timed_out)
#undef FIELD
	if ((rc = issue(r, kind, qi, WQ_SCRIPT_REPORT_STATS, 1, &a, &d)) == 0)
		q->sent = t;
	args_free(&a);
	return rc == 0;
}

static void
pending(struct wq_report *r, size_t qi)
{
	struct args a = { 0 };

	add(&a, "XPENDING");
	add(&a, "%s", r->queues[qi].stream);
	add(&a, "%s", r->group);
	issue(r, K_PENDING, qi, PLAIN, 0, &a, NULL);
	args_free(&a);
}

/* Jobs done per second, per queue, since the last report. */
static void
rates(struct wq_report *r)
{
	int64_t now = wq_clock_mono_us();
	struct wq_metrics_totals t;

	for (size_t i = 0; i < r->nqueues; i++) {
		struct rqueue *q = &r->queues[i];

		wq_metrics_totals(r->m, q->name, &t);
		q->rate = r->last_us == 0 || now <= r->last_us ? 0 :
		    (double)(t.done - q->last_done) * 1e6 /
		    (double)(now - r->last_us);
		q->last_done = t.done;
	}
	r->last_us = now;
}

static void
report(struct wq_report *r)
{
	if (r->waiting > 0 || !wq_redis_ready(r->cmd))
		return;
	rates(r);
	beat(r);
	for (size_t i = 0; i < r->nqueues; i++) {
		stats(r, i, K_STATS);
		pending(r, i);
	}
}

static void
arm(struct wq_report *r)
{
	int64_t ms = r->reports == 0 && r->period_ms > FIRST_MS ? FIRST_MS :
	    r->period_ms;
	struct timeval tv = WQ_TV_MS(ms);

	evtimer_add(r->tick, &tv);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wq_report *r = arg;

	(void)fd;
	(void)what;
	if (r->leaving)
		return;
	report(r);
	arm(r);
}

/* The queue list of conf; what was sent for a queue is kept across a
   reload. */
static int
set_queues(struct wq_report *r, const struct wq_conf *conf)
{
	struct rqueue *qs = calloc(conf->nqueues + 1, sizeof(*qs));
	const char *p = conf->redis.prefix;

	if (qs == NULL)
		return -1;
	for (size_t i = 0; i < conf->nqueues; i++) {
		const char *name = conf->queues[i].name;

		qs[i].name = strdup(name);
		qs[i].stream = str("%s:%s", p, name);
		qs[i].stats_key = str("{%s:%s}:stats", p, name);
		if (qs[i].name == NULL || qs[i].stream == NULL ||
		    qs[i].stats_key == NULL) {
			queues_free(qs, i + 1);
			return -1;
		}
		/* A queue new to the list starts from what is counted now
		   (nothing, unless it was dropped and came back). */
		wq_metrics_totals(r->m, name, &qs[i].sent);
		qs[i].last_done = qs[i].sent.done;
		for (size_t j = 0; j < r->nqueues; j++)
			if (strcmp(r->queues[j].name, name) == 0) {
				qs[i].sent = r->queues[j].sent;
				qs[i].last_done = r->queues[j].last_done;
			}
	}
	queues_free(r->queues, r->nqueues);
	r->queues = qs;
	r->nqueues = conf->nqueues;
	r->gen++;
	return 0;
}

struct wq_report *
wq_report_new(struct wq_loop *loop, struct wq_redis *cmd,
    const struct wq_conf *conf, const struct wq_report_ident *id,
    struct wq_metrics *m, const struct wq_pool *pool)
{
	struct wq_report *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->loop = loop;
	r->cmd = cmd;
	r->m = m;
	r->pool = pool;
	r->pid = id->pid;
	r->started_ms = id->started_ms;
	r->left_call.fn = left_cb;
	if ((r->consumer = strdup(id->consumer)) == NULL ||
	    (r->version = strdup(id->version)) == NULL ||
	    (r->host = strdup(id->host)) == NULL ||
	    (r->group = strdup(conf->redis.group)) == NULL ||
	    (r->daemon_key = str("{%s}:daemon:%s", conf->redis.prefix,
	    id->consumer)) == NULL ||
	    (r->daemons_key = str("{%s}:daemons", conf->redis.prefix)) ==
	    NULL ||
	    (r->tick = evtimer_new(wq_loop_base(loop), tick_cb, r)) == NULL ||
	    wq_report_configure(r, conf) < 0) {
		destroy(r);
		return NULL;
	}
	return r;
}

void
wq_report_free(struct wq_report *r)
{
	if (r == NULL)
		return;
	if (r->waiting == 0) {
		destroy(r);
		return;
	}
	r->freed = 1;
	evtimer_del(r->tick);
	wq_loop_cancel(r->loop, &r->left_call);
}

void
wq_report_start(struct wq_report *r)
{
	arm(r);
}

int
wq_report_configure(struct wq_report *r, const struct wq_conf *conf)
{
	if (set_queues(r, conf) < 0)
		return -1;
	r->period_ms = conf->heartbeat_ms;
	r->ttl_ms = conf->takeover_ms;
	return 0;
}

void
wq_report_leave(struct wq_report *r, void (*done)(void *), void *arg)
{
	struct args a = { 0 };

	if (r->leaving)
		return;
	r->leaving = 1;
	r->left = done;
	r->left_arg = arg;
	evtimer_del(r->tick);
	if (wq_redis_ready(r->cmd)) {
		for (size_t i = 0; i < r->nqueues; i++)
			r->leave_waits += (unsigned)stats(r, i, K_FINAL);
		add(&a, "%s", r->daemon_key);
		add(&a, "%s", r->daemons_key);
		add(&a, "%s", r->consumer);
		if (issue(r, K_LEAVE, 0, WQ_SCRIPT_REPORT_LEAVE, 2, &a,
		    NULL) == 0)
			r->leave_waits++;
		args_free(&a);
	}
	if (r->leave_waits == 0)
		wq_loop_soon(r->loop, &r->left_call);
}
