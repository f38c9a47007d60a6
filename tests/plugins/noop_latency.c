/*
 * noop_latency: the benchmark's latency probe.  An async handler that
 * finishes every job at once, like noop_async, after recording how long
 * the job took from its push to its start.
 *
 * The producer (tests/bench/wqload) stamps each entry with its push time
 * in a field, `t` by default: microseconds of CLOCK_REALTIME taken just
 * before the XADD is written.  start() runs on the loop thread the moment
 * a worker starts the job, so now - t is the push-to-start latency: the
 * XADD, the blocked XREADGROUP waking, the reply's parsing, the local
 * queue and the worker.  Both sides read the same clock because they run
 * on the same machine.
 *
 * The latencies go into a log-linear histogram (exact below 1024 us, then
 * 128 sub-buckets per power of two: under 1% error), so recording costs a
 * few instructions and no allocation.  At fini (workqd stops at the end of
 * each run) and, with `every`, every N jobs, the plugin writes one line of
 * key=value pairs to `out` (through a temporary file and a rename, so a
 * reader never sees half a line):
 *
 *   count=10000 missing=0 negative=0 min_us=41 mean_us=63 p50_us=58
 *   p90_us=75 p99_us=120 p999_us=410 max_us=950
 *
 * Config:
 *   out: /path/latency.txt   where to write (required)
 *   field: t                 the push-time field
 *   every: 0                 also write every N jobs (0: only at fini)
 *
 * Only the loop thread touches the state: start() and fini() both run
 * there, so there is no lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <workqd/plugin.h>

#define EXACT		1024		/* values below are their own bucket */
#define SUB_BITS	7		/* 128 sub-buckets per power of two */
#define SUB		(1 << SUB_BITS)
#define MAX_LOG2	40		/* about 12 days in us: plenty */
#define NBUCKETS	(EXACT + (MAX_LOG2 - 10) * SUB)

struct lat {
	const struct wq_host	*host;
	char			*out;
	char			*field;
	int64_t			 every;
	uint64_t		 count;
	uint64_t		 missing;	/* jobs without a usable t */
	uint64_t		 negative;	/* t in the future: counted 0 */
	uint64_t		 min, max;
	double			 sum;
	uint64_t		 buckets[NBUCKETS];
};

static const char *const known[] = { "out", "field", "every", NULL };

static int
parse(const struct wq_host *host, const struct wq_node *conf,
    const char **out, const char **field, int64_t *every)
{
	*out = NULL;
	*field = "t";
	*every = 0;
	if (host->conf_keys(conf, known) < 0 ||
	    host->conf_str(conf, "out", out) < 0 ||
	    host->conf_str(conf, "field", field) < 0 ||
	    host->conf_int(conf, "every", every) < 0)
		return -1;
	if (*out == NULL || **out == '\0')
		return host->conf_error(conf, "noop_latency: `out` is "
		    "required: the file the percentiles are written to");
	if (*every < 0)
		return host->conf_error(conf, "noop_latency: `every` must "
		    "be 0 or more");
	return 0;
}

static int
lat_check(const struct wq_host *host, const struct wq_node *conf)
{
	const char *out, *field;
	int64_t every;

	return parse(host, conf, &out, &field, &every);
}

static int
lat_init(const struct wq_host *host, const struct wq_node *conf,
    void **state)
{
	const char *out, *field;
	int64_t every;
	struct lat *l;

	if (parse(host, conf, &out, &field, &every) < 0)
		return -1;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	l->host = host;
	l->every = every;
	l->min = UINT64_MAX;
	l->out = strdup(out);
	l->field = strdup(field);
	if (l->out == NULL || l->field == NULL) {
		free(l->out);
		free(l->field);
		free(l);
		return -1;
	}
	*state = l;
	return 0;
}

static unsigned
bucket(uint64_t v)
{
	unsigned log2, sub;

	if (v < EXACT)
		return (unsigned)v;
	log2 = 63 - (unsigned)__builtin_clzll(v);	/* v >= 1024: log2 >= 10 */
	if (log2 >= MAX_LOG2)
		return NBUCKETS - 1;
	sub = (unsigned)(v >> (log2 - SUB_BITS)) & (SUB - 1);
	return EXACT + (log2 - 10) * SUB + sub;
}

/* The largest value bucket b holds: percentiles err on the high side. */
static uint64_t
bucket_top(unsigned b)
{
	unsigned log2, sub;

	if (b < EXACT)
		return b;
	log2 = (b - EXACT) / SUB + 10;
	sub = (b - EXACT) % SUB;
	return ((uint64_t)(SUB + sub + 1) << (log2 - SUB_BITS)) - 1;
}

/* The value at rank ceil(q * count), from the histogram. */
static uint64_t
percentile(const struct lat *l, double q)
{
	uint64_t rank = (uint64_t)(q * (double)l->count + 0.999999), seen = 0;

	if (rank == 0)
		rank = 1;
	for (unsigned b = 0; b < NBUCKETS; b++)
		if ((seen += l->buckets[b]) >= rank)
			return bucket_top(b) < l->max ? bucket_top(b) : l->max;
	return l->max;
}

static void
dump(const struct lat *l)
{
	size_t n = strlen(l->out) + 8;
	char *tmp = malloc(n);
	FILE *f;

	if (tmp == NULL)
		return;
	snprintf(tmp, n, "%s.tmp", l->out);
	if ((f = fopen(tmp, "w")) == NULL) {
		l->host->log(WQ_LOG_ERR, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return;
	}
	fprintf(f, "count=%" PRIu64 " missing=%" PRIu64 " negative=%" PRIu64
	    " min_us=%" PRIu64 " mean_us=%.1f p50_us=%" PRIu64
	    " p90_us=%" PRIu64 " p99_us=%" PRIu64 " p999_us=%" PRIu64
	    " max_us=%" PRIu64 "\n", l->count, l->missing, l->negative,
	    l->count > 0 ? l->min : 0,
	    l->count > 0 ? l->sum / (double)l->count : 0.0,
	    percentile(l, 0.50), percentile(l, 0.90), percentile(l, 0.99),
	    percentile(l, 0.999), l->max);
	if (fclose(f) != 0 || rename(tmp, l->out) != 0)
		l->host->log(WQ_LOG_ERR, "%s: %s", l->out, strerror(errno));
	free(tmp);
}

static void
lat_fini(void *state)
{
	struct lat *l = state;

	dump(l);
	free(l->out);
	free(l->field);
	free(l);
}

/* The field's value as an unsigned decimal, or -1. */
static int
field_u64(const char *p, size_t len, uint64_t *v)
{
	*v = 0;
	if (p == NULL || len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		*v = *v * 10 + (uint64_t)(p[i] - '0');
	}
	return 0;
}

static enum wq_outcome
lat_start(void *state, struct wq_job *job)
{
	struct lat *l = state;
	struct timespec ts;
	uint64_t t, now, v;
	size_t len;
	const char *p;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	p = l->host->job_field(job, l->field, &len);
	if (field_u64(p, len, &t) < 0) {
		l->missing++;
		return WQ_DONE;
	}
	if (now >= t)
		v = now - t;
	else {
		v = 0;
		l->negative++;
	}
	l->buckets[bucket(v)]++;
	l->count++;
	l->sum += (double)v;
	if (v < l->min)
		l->min = v;
	if (v > l->max)
		l->max = v;
	if (l->every > 0 && l->count % (uint64_t)l->every == 0)
		dump(l);
	return WQ_DONE;
}

WQ_PLUGIN(
	.name = "noop_latency",
	.version = "1.0",
	.conf_check = lat_check,
	.init = lat_init,
	.fini = lat_fini,
	.start = lat_start,
);
