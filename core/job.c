/*
 * Jobs (see job.h): allocation from a free list, field access, and the
 * verdict that turns a handler's outcome into what Redis must record.
 *
 * DESIGN: the free list belongs to the loop thread, where jobs are made and
 * dropped; it keeps at most FREE_MAX jobs, so a burst does not pin memory.
 * The verdict is pure (outcome, attempt, policy, now, a random number in,
 * decision out) so that the retry schedule is unit-tested with a fixed
 * seed and no Redis.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

#define FREE_MAX	4096

static struct wq_job_list free_jobs = TAILQ_HEAD_INITIALIZER(free_jobs);
static size_t nfree;

struct wq_job *
wq_job_new(void)
{
	struct wq_job *job = TAILQ_FIRST(&free_jobs);

	if (job != NULL) {
		TAILQ_REMOVE(&free_jobs, job, link);
		nfree--;
	} else if ((job = malloc(sizeof(*job))) == NULL)
		return NULL;
	memset(job, 0, offsetof(struct wq_job, error));
	job->error[0] = '\0';
	job->result = WQ_FAIL;
	job->fault[0] = '\0';
	job->verdict = WQ_VERDICT_ACK;
	job->reason = WQ_REASON_NONE;
	job->due_ms = 0;
	job->retry_in_ms = -1;
	job->refs = 1;
	/* Not decoded yet: nothing given (an expiry of 0 would read as
	   "expired in 1970"). */
	job->entry.timeout_ms = job->entry.retries = -1;
	job->entry.due_ms = job->entry.expires_ms = -1;
	job->entry.attempt = 1;
	return job;
}

void
wq_job_unref(struct wq_job *job)
{
	if (--job->refs > 0)
		return;
	if (job->backing != NULL && job->backing_free != NULL)
		job->backing_free(job->backing);
	if (job->fields != NULL && job->fields != job->inline_fields)
		free(job->fields);
	if (nfree >= FREE_MAX) {
		free(job);
		return;
	}
	TAILQ_INSERT_HEAD(&free_jobs, job, link);
	nfree++;
}

void
wq_job_cache_free(void)
{
	struct wq_job *job;

	while ((job = TAILQ_FIRST(&free_jobs)) != NULL) {
		TAILQ_REMOVE(&free_jobs, job, link);
		free(job);
	}
	nfree = 0;
}

struct wq_field *
wq_job_fields(struct wq_job *job, size_t n)
{
	if (job->fields != NULL && job->fields != job->inline_fields)
		free(job->fields);
	job->fields = n <= WQ_INLINE_FIELDS ? job->inline_fields :
	    malloc(n * sizeof(*job->fields));
	job->nfields = job->fields != NULL ? n : 0;
	return job->fields;
}

void
wq_job_set_backing(struct wq_job *job, void *backing, void (*fn)(void *))
{
	job->backing = backing;
	job->backing_free = fn;
}

const struct wq_field *
wq_job_field(const struct wq_job *job, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < job->nfields; i++)
		if (job->fields[i].nlen == len &&
		    memcmp(job->fields[i].name, name, len) == 0)
			return &job->fields[i];
	return NULL;
}

static int
parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int
wq_id_parse(const char *id, size_t len, uint64_t *ms, uint64_t *seq)
{
	const char *dash = memchr(id, '-', len);

	if (dash == NULL || len >= WQ_ID_MAX ||
	    parse_u64(id, (size_t)(dash - id), ms) < 0 ||
	    parse_u64(dash + 1, len - (size_t)(dash - id) - 1, seq) < 0)
		return -1;
	return 0;
}

int
wq_job_set_id(struct wq_job *job, const char *id, size_t len)
{
	if (wq_id_parse(id, len, &job->id_ms, &job->id_seq) < 0)
		return -1;
	memcpy(job->entry_id, id, len);
	job->entry_id[len] = '\0';
	return 0;
}

const char *
wq_job_id(const struct wq_job *job)
{
	/* Field values are NUL-terminated by hiredis; the id field was
	   checked to be printable, so it has no NUL inside. */
	return job->entry.id != NULL ? job->entry.id : job->entry_id;
}

void
wq_job_fault(struct wq_job *job, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(job->fault, sizeof(job->fault), fmt, ap);
	va_end(ap);
}

const char *
wq_job_last_error(const struct wq_job *job)
{
	return job->fault[0] != '\0' ? job->fault : job->error;
}

int64_t
wq_backoff_ceiling(const struct wq_policy *p, uint32_t n)
{
	double ms = (double)p->backoff_base_ms *
	    pow(p->backoff_factor, (double)(n > 0 ? n - 1 : 0));

	return ms >= (double)p->backoff_cap_ms ? p->backoff_cap_ms :
	    (int64_t)ms;
}

void
wq_job_verdict(struct wq_job *job, int64_t now_ms, double rnd)
{
	int64_t retries = job->entry.retries >= 0 ? job->entry.retries :
	    job->policy.retries;
	uint32_t attempt = job->entry.attempt;

	job->reason = WQ_REASON_NONE;
	switch (job->result) {
	case WQ_DONE:
		job->verdict = WQ_VERDICT_ACK;
		return;
	case WQ_DEAD:
		job->verdict = WQ_VERDICT_DEAD;
		job->reason = WQ_REASON_REJECTED;
		return;
	default:
		break;
	}
	if ((int64_t)attempt > retries) {
		job->verdict = WQ_VERDICT_DEAD;
		job->reason = WQ_REASON_EXHAUSTED;
		return;
	}
	job->verdict = WQ_VERDICT_RETRY;
	if (job->result == WQ_RETRY && !job->timed_out &&
	    job->retry_in_ms >= 0)
		job->due_ms = now_ms + job->retry_in_ms;
	else
		job->due_ms = now_ms +
		    (int64_t)(rnd * (double)wq_backoff_ceiling(&job->policy,
		    attempt));
}

const char *
wq_reason_name(enum wq_reason reason)
{
	static const char *const names[] = {
		[WQ_REASON_NONE] = "none",
		[WQ_REASON_EXHAUSTED] = "exhausted",
		[WQ_REASON_REJECTED] = "rejected",
		[WQ_REASON_EXPIRED] = "expired",
		[WQ_REASON_INVALID] = "invalid",
		[WQ_REASON_POISON] = "poison",
	};

	return (size_t)reason < sizeof(names) / sizeof(names[0]) ?
	    names[reason] : "unknown";
}

const char *
wq_outcome_name(enum wq_outcome outcome)
{
	static const char *const names[] = {
		[WQ_DONE] = "done",
		[WQ_FAIL] = "failed",
		[WQ_RETRY] = "retry",
		[WQ_DEAD] = "dead",
		[WQ_PENDING] = "pending",
	};

	return (size_t)outcome < sizeof(names) / sizeof(names[0]) ?
	    names[outcome] : "unknown";
}
