/*
 * Metrics (see metrics.h).
 *
 * DESIGN: one record per queue (found by name through a small hash table,
 * kept in first-seen order so the output is stable) holds the queue's
 * dead-letter counts by reason, its totals and Redis's pending figures, and
 * a short list of per-plugin series with the job counters and the two
 * histograms.  A job's end costs a hash of its queue name, a walk of that
 * queue's few plugins and a handful of increments; nothing allocates once
 * the series exist.
 *
 * Histograms keep per-bucket counts and the sum in microseconds; rendering
 * turns them into Prometheus's cumulative `le` buckets in seconds.  The
 * output is built family by family (every sample of a metric together, as
 * the format requires) in a scratch buffer, so a scrape that would exceed
 * its bound leaves the caller's buffer untouched.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>

#include "metrics.h"

#define BUCKETS		16	/* room for the longest bounds list */
#define REASONS		8	/* room for enum wq_reason */
#define HASH_SIZE	64
#define OTHER_PLUGIN	"(other)"

/* Upper bounds in microseconds, ascending; +Inf is implied. */
static const int64_t run_bounds[] = {
	1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000, 300000000
};
static const int64_t wait_bounds[] = {
	1000, 5000, 10000, 50000, 100000, 500000, 1000000, 5000000,
	10000000, 30000000, 60000000, 300000000, 900000000, 3600000000
};
#define NBOUNDS(a)	(sizeof(a) / sizeof((a)[0]))
_Static_assert(NBOUNDS(run_bounds) <= BUCKETS, "run_bounds");
_Static_assert(NBOUNDS(wait_bounds) <= BUCKETS, "wait_bounds");

struct hist {
	uint64_t	 counts[BUCKETS + 1];	/* the last one: above all */
	uint64_t	 count;
	int64_t		 sum_us;
};

struct series {
	TAILQ_ENTRY(series)	 link;
	char			*plugin;
	uint64_t		 done, failed, retried, timed_out;
	struct hist		 run, wait;
};

struct mqueue {
	TAILQ_ENTRY(mqueue)	 link;		/* first-seen order */
	struct mqueue		*next;		/* hash chain */
	char			*name;
	TAILQ_HEAD(, series)	 series;
	uint64_t		 dead[REASONS];
	int			 pending_known;
	uint64_t		 pending;
	int64_t			 oldest_ms;
};

struct wq_metrics {
	TAILQ_HEAD(, mqueue)	 queues;
	struct mqueue		*hash[HASH_SIZE];
	unsigned		 nseries;
	int64_t			 clock_offset_ms;
};

/* The scratch output: errors are sticky, checked once at the end. */
struct out {
	struct evbuffer	*buf;
	int		 err;
};

static unsigned
hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % HASH_SIZE;
}

static struct mqueue *
queue_find(const struct wq_metrics *m, const char *name)
{
	struct mqueue *q;

	for (q = m->hash[hash(name)]; q != NULL; q = q->next)
		if (strcmp(q->name, name) == 0)
			return q;
	return NULL;
}

static struct mqueue *
queue_get(struct wq_metrics *m, const char *name)
{
	struct mqueue *q;
	unsigned h;

	if ((q = queue_find(m, name)) != NULL)
		return q;
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->name = strdup(name)) == NULL) {
		free(q);
		return NULL;
	}
	TAILQ_INIT(&q->series);
	q->oldest_ms = -1;
	h = hash(name);
	q->next = m->hash[h];
	m->hash[h] = q;
	TAILQ_INSERT_TAIL(&m->queues, q, link);
	return q;
}

static struct series *
series_find(struct mqueue *q, const char *plugin)
{
	struct series *s;

	TAILQ_FOREACH(s, &q->series, link)
		if (strcmp(s->plugin, plugin) == 0)
			return s;
	return NULL;
}

/* The series of plugin in q; past the bound, the queue's "(other)". */
static struct series *
series_get(struct wq_metrics *m, struct mqueue *q, const char *plugin)
{
	struct series *s = series_find(q, plugin);

	if (s == NULL && m->nseries >= WQ_METRICS_MAX_SERIES) {
		plugin = OTHER_PLUGIN;
		s = series_find(q, plugin);
	}
	if (s != NULL)
		return s;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->plugin = strdup(plugin)) == NULL) {
		free(s);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&q->series, s, link);
	m->nseries++;
	return s;
}

static void
observe(struct hist *h, const int64_t *bounds, size_t n, int64_t us)
{
	size_t i;

	if (us < 0)
		us = 0;
	for (i = 0; i < n && us > bounds[i]; i++)
		continue;
	h->counts[i]++;
	h->count++;
	h->sum_us += us;
}

struct wq_metrics *
wq_metrics_new(void)
{
	struct wq_metrics *m = calloc(1, sizeof(*m));

	if (m != NULL)
		TAILQ_INIT(&m->queues);
	return m;
}

void
wq_metrics_free(struct wq_metrics *m)
{
	struct mqueue *q;
	struct series *s;

	if (m == NULL)
		return;
	while ((q = TAILQ_FIRST(&m->queues)) != NULL) {
		TAILQ_REMOVE(&m->queues, q, link);
		while ((s = TAILQ_FIRST(&q->series)) != NULL) {
			TAILQ_REMOVE(&q->series, s, link);
			free(s->plugin);
			free(s);
		}
		free(q->name);
		free(q);
	}
	free(m);
}

int
wq_metrics_add_queue(struct wq_metrics *m, const char *queue,
    const char *plugin)
{
	struct mqueue *q = queue_get(m, queue);

	if (q == NULL || (plugin != NULL && series_get(m, q, plugin) == NULL))
		return -1;
	return 0;
}

/* Dead letters and expiries, whoever decided them. */
static void
count_dead(struct mqueue *q, const struct wq_job *job)
{
	if (job->verdict != WQ_VERDICT_DEAD)
		return;
	if ((unsigned)job->reason < REASONS)
		q->dead[job->reason]++;
}

void
wq_metrics_job_ended(struct wq_metrics *m, const struct wq_job *job,
    int64_t run_us, int64_t now_ms)
{
	struct mqueue *q = queue_get(m, job->queue);
	struct series *s;
	int64_t start_ms;

	if (q == NULL)
		return;		/* out of memory: not counted */
	count_dead(q, job);
	if (job->started_us == 0 || (s = series_get(m, q, job->plugin)) ==
	    NULL)
		return;		/* refused or handed back before it ran */
	if (job->verdict == WQ_VERDICT_ACK)
		s->done++;
	else
		s->failed++;
	if (job->verdict == WQ_VERDICT_RETRY)
		s->retried++;
	if (job->timed_out)
		s->timed_out++;
	observe(&s->run, run_bounds, NBOUNDS(run_bounds), run_us);
	start_ms = now_ms - run_us / 1000;
	observe(&s->wait, wait_bounds, NBOUNDS(wait_bounds),
	    (start_ms - (int64_t)job->id_ms) * 1000);
}

void
wq_metrics_job_refused(struct wq_metrics *m, const struct wq_job *job)
{
	struct mqueue *q = queue_get(m, job->queue);

	if (q != NULL)
		count_dead(q, job);
}

void
wq_metrics_set_pending(struct wq_metrics *m, const char *queue, uint64_t n,
    int64_t oldest_ms)
{
	struct mqueue *q = queue_get(m, queue);

	if (q == NULL)
		return;
	q->pending_known = 1;
	q->pending = n;
	q->oldest_ms = oldest_ms;
}

void
wq_metrics_set_clock_offset(struct wq_metrics *m, int64_t ms)
{
	m->clock_offset_ms = ms;
}

void
wq_metrics_totals(const struct wq_metrics *m, const char *queue,
    struct wq_metrics_totals *t)
{
	const struct mqueue *q = queue_find(m, queue);
	const struct series *s;

	memset(t, 0, sizeof(*t));
	if (q == NULL)
		return;
	/* Summed when asked (each heartbeat), not kept per job. */
	TAILQ_FOREACH(s, &q->series, link) {
		t->done += s->done;
		t->failed += s->failed;
		t->retried += s->retried;
		t->timed_out += s->timed_out;
	}
	for (unsigned r = 0; r < REASONS; r++)
		t->dead += q->dead[r];
	t->expired = q->dead[WQ_REASON_EXPIRED];
}

/* Rendering. */

static void	putf(struct out *o, const char *fmt, ...) WQ_PRINTF(2, 3);

static void
addn(struct out *o, const char *s, size_t len)
{
	if (o->err == 0 && evbuffer_add(o->buf, s, len) < 0)
		o->err = ENOMEM;
}

static void
add(struct out *o, const char *s)
{
	addn(o, s, strlen(s));
}

static void
putf(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (o->err == 0 && evbuffer_add_vprintf(o->buf, fmt, ap) < 0)
		o->err = ENOMEM;
	va_end(ap);
}

/* A label value: backslash, double quote and newline escaped. */
static void
label(struct out *o, const char *name, const char *val, int first)
{
	const char *run = val;

	putf(o, "%s%s=\"", first ? "" : ",", name);
	for (; *val != '\0'; val++) {
		const char *esc = *val == '\\' ? "\\\\" : *val == '"' ?
		    "\\\"" : *val == '\n' ? "\\n" : NULL;

		if (esc == NULL)
			continue;
		addn(o, run, (size_t)(val - run));
		add(o, esc);
		run = val + 1;
	}
	add(o, run);
	add(o, "\"");
}

/* # HELP and # TYPE.  The help texts are ours: no escaping needed. */
static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	putf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Microseconds as seconds, without trailing zeros ("0.005", "2.5", "60"). */
static void
seconds(char *buf, size_t len, int64_t us)
{
	char *p;

	snprintf(buf, len, "%lld.%06lld", (long long)(us / 1000000),
	    (long long)(us % 1000000));
	p = buf + strlen(buf) - 1;
	while (*p == '0')
		*p-- = '\0';
	if (*p == '.')
		*p = '\0';
}

static void
sample_qp(struct out *o, const char *name, const struct mqueue *q,
    const struct series *s, uint64_t v)
{
	add(o, name);
	label(o, "queue", q->name, 1);
	label(o, "plugin", s->plugin, 0);
	putf(o, "} %llu\n", (unsigned long long)v);
}

static void
hist_lines(struct out *o, const char *name, const struct mqueue *q,
    const struct series *s, const struct hist *h, const int64_t *bounds,
    size_t n)
{
	uint64_t cum = 0;
	char le[32];

	for (size_t i = 0; i <= n; i++) {
		cum += h->counts[i];
		if (i < n)
			seconds(le, sizeof(le), bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		putf(o, "%s_bucket{", name);
		label(o, "queue", q->name, 1);
		label(o, "plugin", s->plugin, 0);
		label(o, "le", le, 0);
		putf(o, "} %llu\n", (unsigned long long)cum);
	}
	seconds(le, sizeof(le), h->sum_us);
	putf(o, "%s_sum{", name);
	label(o, "queue", q->name, 1);
	label(o, "plugin", s->plugin, 0);
	putf(o, "} %s\n%s_count{", le, name);
	label(o, "queue", q->name, 1);
	label(o, "plugin", s->plugin, 0);
	putf(o, "} %llu\n", (unsigned long long)h->count);
}

/* The per-(queue, plugin) counters: the field at off of each series. */
static void
series_family(struct out *o, const struct wq_metrics *m, const char *name,
    const char *help, size_t off)
{
	const struct mqueue *q;
	const struct series *s;
	char open[128];

	family(o, name, "counter", help);
	snprintf(open, sizeof(open), "%s{", name);
	TAILQ_FOREACH(q, &m->queues, link)
		TAILQ_FOREACH(s, &q->series, link)
			sample_qp(o, open, q, s,
			    *(const uint64_t *)(const void *)
			    ((const char *)s + off));
}

static void
hist_family(struct out *o, const struct wq_metrics *m, const char *name,
    const char *help, int run)
{
	const struct mqueue *q;
	const struct series *s;

	family(o, name, "histogram", help);
	TAILQ_FOREACH(q, &m->queues, link)
		TAILQ_FOREACH(s, &q->series, link) {
			if (run)
				hist_lines(o, name, q, s, &s->run, run_bounds,
				    NBOUNDS(run_bounds));
			else
				hist_lines(o, name, q, s, &s->wait,
				    wait_bounds, NBOUNDS(wait_bounds));
		}
}

static void
job_families(struct out *o, const struct wq_metrics *m)
{
	series_family(o, m, "workqd_jobs_done_total", "Jobs whose handler "
	    "succeeded.", offsetof(struct series, done));
	series_family(o, m, "workqd_jobs_failed_total", "Attempts that did "
	    "not succeed (an error, a timeout, a rejection), retried or not.",
	    offsetof(struct series, failed));
	series_family(o, m, "workqd_jobs_retried_total", "Failed attempts "
	    "scheduled to run again.", offsetof(struct series, retried));
	series_family(o, m, "workqd_jobs_timed_out_total", "Attempts stopped "
	    "by their timeout.", offsetof(struct series, timed_out));
	hist_family(o, m, "workqd_job_run_seconds", "How long handlers ran.",
	    1);
	hist_family(o, m, "workqd_job_wait_seconds", "Time from a job's push "
	    "(its entry ID) to its start.", 0);
}

static void
queue_families(struct out *o, const struct wq_metrics *m, int64_t now_ms)
{
	const struct mqueue *q;
	char age[32];

	family(o, "workqd_jobs_dead_total", "counter", "Jobs moved to the "
	    "dead letters, by reason.");
	TAILQ_FOREACH(q, &m->queues, link)
		for (unsigned r = WQ_REASON_NONE + 1; r < REASONS; r++) {
			if (strcmp(wq_reason_name(r), "unknown") == 0)
				break;
			add(o, "workqd_jobs_dead_total{");
			label(o, "queue", q->name, 1);
			label(o, "reason", wq_reason_name(r), 0);
			putf(o, "} %llu\n", (unsigned long long)q->dead[r]);
		}
	family(o, "workqd_jobs_expired_total", "counter", "Jobs dead-lettered "
	    "because they had not started before their expires time.");
	TAILQ_FOREACH(q, &m->queues, link) {
		add(o, "workqd_jobs_expired_total{");
		label(o, "queue", q->name, 1);
		putf(o, "} %llu\n",
		    (unsigned long long)q->dead[WQ_REASON_EXPIRED]);
	}
	family(o, "workqd_pending_entries", "gauge", "Entries delivered to "
	    "the group's daemons and not yet acknowledged (XPENDING), read "
	    "every heartbeat.");
	TAILQ_FOREACH(q, &m->queues, link)
		if (q->pending_known) {
			add(o, "workqd_pending_entries{");
			label(o, "queue", q->name, 1);
			putf(o, "} %llu\n", (unsigned long long)q->pending);
		}
	family(o, "workqd_pending_oldest_age_seconds", "gauge", "Time since "
	    "the oldest pending entry was pushed; 0 when none is pending.");
	TAILQ_FOREACH(q, &m->queues, link)
		if (q->pending_known) {
			int64_t ms = q->oldest_ms < 0 ? 0 : now_ms +
			    m->clock_offset_ms - q->oldest_ms;

			seconds(age, sizeof(age), (ms < 0 ? 0 : ms) * 1000);
			add(o, "workqd_pending_oldest_age_seconds{");
			label(o, "queue", q->name, 1);
			putf(o, "} %s\n", age);
		}
}

static void
single(struct out *o, const char *name, const char *type, const char *help,
    unsigned long long v)
{
	family(o, name, type, help);
	putf(o, "%s %llu\n", name, v);
}

static void
daemon_families(struct out *o, const struct wq_metrics_gauges *g)
{
	family(o, "workqd_build_info", "gauge", "workqd's version, as a "
	    "label; the value is always 1.");
	add(o, "workqd_build_info{");
	label(o, "version", g->version != NULL ? g->version : "", 1);
	add(o, "} 1\n");
	single(o, "workqd_local_queue_jobs", "gauge", "Jobs fetched and not "
	    "yet started.", g->local_jobs);
	single(o, "workqd_local_queue_capacity", "gauge", "The local queue's "
	    "bound (prefetch).", g->local_capacity);
	single(o, "workqd_workers", "gauge", "Worker slots.", g->workers);
	single(o, "workqd_workers_busy", "gauge", "Workers running a job or "
	    "waiting for its queue's permit.", g->workers_busy);
	single(o, "workqd_executor_threads", "gauge", "Threads for blocking "
	    "handlers.", g->exec_threads);
	single(o, "workqd_executor_threads_busy", "gauge", "Executor threads "
	    "running a handler.", g->exec_busy);
	single(o, "workqd_executor_threads_held", "gauge", "Executor threads "
	    "held by handlers that overran their timeout.", g->exec_held);
	single(o, "workqd_executor_queued", "gauge", "Blocking jobs waiting "
	    "for an executor thread.", g->exec_queued);
	single(o, "workqd_redis_up", "gauge", "1 when both Redis connections "
	    "are ready, else 0.", g->redis_up != 0);
	single(o, "workqd_redis_reconnects_total", "counter", "Redis "
	    "connections made again after a loss.", g->redis_reconnects);
	single(o, "workqd_outcomes_unconfirmed", "gauge", "Job outcomes sent "
	    "to Redis and not yet confirmed.", g->unconfirmed);
	single(o, "workqd_loop_stalls_total", "counter", "Times a callback "
	    "held the event loop longer than stall_threshold.",
	    g->loop_stalls);
}

int
wq_metrics_render(const struct wq_metrics *m,
    const struct wq_metrics_gauges *g, struct evbuffer *out, size_t max)
{
	struct out o = { .buf = evbuffer_new() };
	int rc = 0;

	if (o.buf == NULL) {
		errno = ENOMEM;
		return -1;
	}
	daemon_families(&o, g);
	job_families(&o, m);
	queue_families(&o, m, g->now_ms);
	if (o.err == 0 && evbuffer_get_length(o.buf) > max)
		o.err = EFBIG;
	if (o.err == 0 && evbuffer_add_buffer(out, o.buf) < 0)
		o.err = ENOMEM;
	if (o.err != 0) {
		errno = o.err;
		rc = -1;
	}
	evbuffer_free(o.buf);
	return rc;
}
