/*
 * workqctl stats: per queue, what Redis holds (the stream's length, the
 * entries pending in the group, the scheduled set, the dead letters) and
 * the counters every daemon adds to ({<prefix>:<queue>}:stats).
 *
 * Jobs per second come from the daemons' own reports: each live daemon
 * writes, every heartbeat, how many jobs of each queue it finished per
 * second over its last period (rate:<queue> in its registry hash); the sum
 * is the queue's rate, at once and without sampling twice.  It is as old
 * as the last heartbeat (2 s by default).
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define NCOUNTERS	6

static const char *const counters[NCOUNTERS + 1] = {
	"done", "failed", "retried", "dead", "expired", "timed_out", NULL
};

struct qstats {
	long long	length;
	long long	pending;
	long long	scheduled;
	long long	dead;
	long long	count[NCOUNTERS];	/* as counters[] */
	double		rate;
};

static long long
integer(redisReply *r)
{
	long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;

	freeReplyObject(r);
	return v;
}

/* XPENDING's summary: its count; 0 when the stream or group is absent. */
static long long
pending_count(redisReply *r)
{
	long long v = r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER ?
	    r->element[0]->integer : 0;

	freeReplyObject(r);
	return v;
}

static void
read_counters(redisReply *r, struct qstats *s)
{
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY &&
	    i + 1 < r->elements; i += 2)
		for (int k = 0; counters[k] != NULL; k++)
			if (strcmp(r->element[i]->str, counters[k]) == 0)
				s->count[k] = strtoll(r->element[i + 1]->str,
				    NULL, 10);
	freeReplyObject(r);
}

/* Adds each live daemon's rate:<queue> to st[]. */
static void
rates(struct ctl *c, const struct ctl_queues *q, struct qstats *st,
    int64_t now)
{
	redisReply *d = ctl_check(ctl_cmd(c, "ZRANGEBYSCORE %s %lld +inf",
	    ctl_key(c, NULL, "daemons"), (long long)now), "ZRANGEBYSCORE");
	redisReply *r;
	char field[160];

	for (size_t i = 0; i < d->elements; i++)
		for (size_t k = 0; k < q->n; k++) {
			snprintf(field, sizeof(field), "rate:%s", q->names[k]);
			ctl_append(c, "HGET %s %s", ctl_daemon_key(c,
			    d->element[i]->str), field);
		}
	for (size_t i = 0; i < d->elements; i++)
		for (size_t k = 0; k < q->n; k++) {
			r = ctl_reply(c);
			if (r->type == REDIS_REPLY_STRING)
				st[k].rate += strtod(r->str, NULL);
			freeReplyObject(r);
		}
	freeReplyObject(d);
}

static void
gather(struct ctl *c, const struct ctl_queues *q, struct qstats *st)
{
	for (size_t k = 0; k < q->n; k++) {
		ctl_append(c, "XLEN %s", ctl_stream_key(c, q->names[k]));
		ctl_append(c, "XPENDING %s %s", ctl_stream_key(c,
		    q->names[k]), c->group);
		ctl_append(c, "ZCARD %s", ctl_key(c, q->names[k],
		    "scheduled"));
		ctl_append(c, "XLEN %s", ctl_key(c, q->names[k], "dead"));
		ctl_append(c, "HGETALL %s", ctl_key(c, q->names[k], "stats"));
	}
	for (size_t k = 0; k < q->n; k++) {
		st[k].length = integer(ctl_reply(c));
		st[k].pending = pending_count(ctl_reply(c));
		st[k].scheduled = integer(ctl_reply(c));
		st[k].dead = integer(ctl_reply(c));
		read_counters(ctl_reply(c), &st[k]);
	}
}

static void
json_queue(struct ctl_json *j, const char *name, const struct qstats *st)
{
	json_open(j, '{');
	json_key(j, "queue");
	json_cstr(j, name);
	json_key(j, "length");
	json_int(j, st->length);
	json_key(j, "pending");
	json_int(j, st->pending);
	json_key(j, "scheduled");
	json_int(j, st->scheduled);
	json_key(j, "dead");
	json_int(j, st->dead);
	json_key(j, "counters");
	json_open(j, '{');
	for (int i = 0; i < NCOUNTERS; i++) {
		json_key(j, counters[i]);
		json_int(j, st->count[i]);
	}
	json_close(j, '}');
	json_key(j, "jobs_per_second");
	json_num(j, st->rate);
	json_close(j, '}');
}

static void
row(struct ctl_table *t, const char *name, const struct qstats *st)
{
	table_cell(t, "%s", name);
	table_cell(t, "%lld", st->length);
	table_cell(t, "%lld", st->pending);
	table_cell(t, "%lld", st->scheduled);
	table_cell(t, "%lld", st->dead);
	table_cell(t, "%lld", st->count[0]);
	table_cell(t, "%lld", st->count[1]);
	table_cell(t, "%.1f", st->rate);
}

static void
print(const struct ctl *c, const struct ctl_queues *q,
    const struct qstats *st)
{
	static const char *const heads[] = { "QUEUE", "LENGTH", "PENDING",
	    "SCHEDULED", "DEAD", "DONE", "FAILED", "JOBS/S", NULL };
	struct ctl_list l;

	ctl_list_begin(&l, c, "queues", heads, "lrrrrrrr");
	for (size_t k = 0; k < q->n; k++)
		if (l.t == NULL)
			json_queue(&l.j, q->names[k], &st[k]);
		else
			row(l.t, q->names[k], &st[k]);
	ctl_list_end(&l);
}

int
ctl_stats(struct ctl *c)
{
	struct ctl_queues q;
	struct qstats *st;

	/* Queues as arguments (stats a b) or options (stats -q a -q b). */
	if (c->argc > 1 && c->nqueue_opts > 0)
		ctl_usage("stats: give queues as arguments or with -q, not "
		    "both");
	if (c->argc > 1)
		ctl_queues(c, (const char **)c->argv + 1, (size_t)c->argc - 1,
		    &q);
	else
		ctl_queues(c, c->queue_opts, c->nqueue_opts, &q);
	if ((st = calloc(q.n + 1, sizeof(*st))) == NULL)
		ctl_fail(CTL_EXIT_FAIL, "out of memory");
	gather(c, &q, st);
	rates(c, &q, st, ctl_now(c));
	print(c, &q, st);
	free(st);
	return CTL_EXIT_OK;
}
