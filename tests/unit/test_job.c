/*
 * Unit tests for core/job.c: the verdict that turns an outcome into what
 * Redis must record, the retry schedule (checked with a fixed seed), the
 * free list, entry IDs and field access.  No loop is needed: all of it is
 * pure or loop-thread bookkeeping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "job.h"

#define NOW		1700000000000LL
#define DAY_MS		86400000LL
#define CAP_MS		(3 * DAY_MS)

/* The default queue policy (etc/workqd.yaml). */
static const struct wq_policy defaults = {
	.timeout_ms = 0,
	.retries = 25,
	.backoff_base_ms = 45000,
	.backoff_factor = 1.79,
	.backoff_cap_ms = CAP_MS,
};

static int
teardown_group(void **state)
{
	(void)state;
	wq_job_cache_free();
	return 0;
}

/* A job as the fetcher leaves it: decoded entry with nothing given. */
static struct wq_job *
mkjob(enum wq_outcome result, uint32_t attempt)
{
	struct wq_job *job = wq_job_new();

	assert_non_null(job);
	job->entry.timeout_ms = job->entry.retries = -1;
	job->entry.due_ms = job->entry.expires_ms = -1;
	job->entry.attempt = attempt;
	job->policy = defaults;
	job->result = result;
	return job;
}

/* A fixed 64-bit LCG (Knuth's MMIX constants) mapped to [0, 1). */
static double
lcg(uint64_t *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*x >> 11) / 9007199254740992.0;
}

static void
test_verdict_done(void **state)
{
	struct wq_job *job = mkjob(WQ_DONE, 1);

	(void)state;
	job->reason = WQ_REASON_EXPIRED;	/* left over: must be reset */
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->verdict, WQ_VERDICT_ACK);
	assert_int_equal(job->reason, WQ_REASON_NONE);
	/* Done is done, even on the last attempt or past it. */
	job->entry.attempt = 1000;
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->verdict, WQ_VERDICT_ACK);
	wq_job_unref(job);
}

static void
test_verdict_dead(void **state)
{
	struct wq_job *job = mkjob(WQ_DEAD, 1);

	(void)state;
	job->retry_in_ms = 1000;
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->verdict, WQ_VERDICT_DEAD);
	assert_int_equal(job->reason, WQ_REASON_REJECTED);
	job->entry.attempt = 26;
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->verdict, WQ_VERDICT_DEAD);
	assert_int_equal(job->reason, WQ_REASON_REJECTED);
	wq_job_unref(job);
}

static void
test_verdict_fail_retries(void **state)
{
	static const double rnds[] = { 0.0, 0.25, 0.5, 0.999999999 };
	enum wq_outcome outs[] = { WQ_FAIL, WQ_RETRY };

	(void)state;
	for (size_t o = 0; o < 2; o++) {
		for (uint32_t attempt = 1; attempt <= 25; attempt++) {
			for (size_t r = 0; r < 4; r++) {
				struct wq_job *job = mkjob(outs[o], attempt);
				int64_t ceil = wq_backoff_ceiling(&defaults,
				    attempt);

				job->reason = WQ_REASON_INVALID;
				wq_job_verdict(job, NOW, rnds[r]);
				assert_int_equal(job->verdict,
				    WQ_VERDICT_RETRY);
				assert_int_equal(job->reason, WQ_REASON_NONE);
				assert_in_range(job->due_ms, NOW, NOW + ceil);
				assert_int_equal(job->due_ms, NOW +
				    (int64_t)(rnds[r] * (double)ceil));
				wq_job_unref(job);
			}
		}
	}
}

static void
test_verdict_retry_in(void **state)
{
	struct wq_job *job = mkjob(WQ_RETRY, 3);

	(void)state;
	/* An explicit delay wins over the backoff, whatever the jitter. */
	job->retry_in_ms = 5000;
	wq_job_verdict(job, NOW, 0.9);
	assert_int_equal(job->verdict, WQ_VERDICT_RETRY);
	assert_int_equal(job->due_ms, NOW + 5000);
	job->retry_in_ms = 0;
	wq_job_verdict(job, NOW, 0.9);
	assert_int_equal(job->due_ms, NOW);
	/* Longer than the cap is still what the handler asked for. */
	job->retry_in_ms = 30 * DAY_MS;
	wq_job_verdict(job, NOW, 0.9);
	assert_int_equal(job->due_ms, NOW + 30 * DAY_MS);
	/* Not set: the backoff. */
	job->retry_in_ms = -1;
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->due_ms, NOW + 144184 / 2);
	/* WQ_FAIL ignores retry_in: failures back off. */
	job->result = WQ_FAIL;
	job->retry_in_ms = 5000;
	wq_job_verdict(job, NOW, 0.0);
	assert_int_equal(job->due_ms, NOW);
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->due_ms, NOW + 144184 / 2);
	/* A timed-out job backs off even if it had asked for a delay. */
	job->result = WQ_RETRY;
	job->timed_out = 1;
	wq_job_verdict(job, NOW, 0.0);
	assert_int_equal(job->verdict, WQ_VERDICT_RETRY);
	assert_int_equal(job->due_ms, NOW);
	job->result = WQ_FAIL;
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->due_ms, NOW + 144184 / 2);
	wq_job_unref(job);
}

static void
test_verdict_exhausted(void **state)
{
	struct wq_job *job = mkjob(WQ_FAIL, 25);

	(void)state;
	/* retries 25: attempts 1..26, the 26th failure is final. */
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->verdict, WQ_VERDICT_RETRY);
	job->entry.attempt = 26;
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->verdict, WQ_VERDICT_DEAD);
	assert_int_equal(job->reason, WQ_REASON_EXHAUSTED);
	/* A retry request cannot go past the limit either. */
	job->result = WQ_RETRY;
	job->retry_in_ms = 10;
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->verdict, WQ_VERDICT_DEAD);
	assert_int_equal(job->reason, WQ_REASON_EXHAUSTED);
	/* The entry's retries field wins over the policy, both ways. */
	job->result = WQ_FAIL;
	job->entry.retries = 30;
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->verdict, WQ_VERDICT_RETRY);
	job->entry.retries = 2;
	job->entry.attempt = 2;
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->verdict, WQ_VERDICT_RETRY);
	job->entry.attempt = 3;
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->verdict, WQ_VERDICT_DEAD);
	assert_int_equal(job->reason, WQ_REASON_EXHAUSTED);
	/* retries 0: the first failure is final, whatever the policy. */
	job->entry.retries = 0;
	job->entry.attempt = 1;
	job->policy.retries = 1000;
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->verdict, WQ_VERDICT_DEAD);
	assert_int_equal(job->reason, WQ_REASON_EXHAUSTED);
	/* And a policy of 0 with no field. */
	job->entry.retries = -1;
	job->policy.retries = 0;
	wq_job_verdict(job, NOW, 0.5);
	assert_int_equal(job->verdict, WQ_VERDICT_DEAD);
	wq_job_unref(job);
}

static void
test_backoff_ceiling(void **state)
{
	struct wq_policy p = defaults;

	(void)state;
	assert_int_equal(wq_backoff_ceiling(&p, 1), 45000);
	assert_int_equal(wq_backoff_ceiling(&p, 2), 80550);
	assert_int_equal(wq_backoff_ceiling(&p, 3), 144184);
	/* 45000 * 1.79^9 = 8489650.12...: whole ms, cut down. */
	assert_int_equal(wq_backoff_ceiling(&p, 10), 8489650);
	assert_int_equal(wq_backoff_ceiling(&p, 15), 156010901);
	/* 45000 * 1.79^15 = 279.3e6 > 3 days: capped from n = 16. */
	assert_int_equal(wq_backoff_ceiling(&p, 16), CAP_MS);
	assert_int_equal(wq_backoff_ceiling(&p, 25), CAP_MS);
	assert_int_equal(wq_backoff_ceiling(&p, 1000), CAP_MS);
	/* pow() overflows to infinity: still the cap. */
	assert_int_equal(wq_backoff_ceiling(&p, UINT32_MAX), CAP_MS);
	/* n = 0 is read as the first retry. */
	assert_int_equal(wq_backoff_ceiling(&p, 0), 45000);
	/* The schedule never goes down. */
	for (uint32_t n = 1; n < 100; n++)
		assert_true(wq_backoff_ceiling(&p, n) <=
		    wq_backoff_ceiling(&p, n + 1));
	/* A base above the cap is cut to it; factor 1 is a fixed delay. */
	p.backoff_base_ms = 2 * CAP_MS;
	assert_int_equal(wq_backoff_ceiling(&p, 1), CAP_MS);
	p.backoff_base_ms = 1000;
	p.backoff_factor = 1.0;
	assert_int_equal(wq_backoff_ceiling(&p, 1), 1000);
	assert_int_equal(wq_backoff_ceiling(&p, 500), 1000);
}

/*
 * The whole schedule of the default policy: 25 retries with a fixed-seed
 * jitter stay within their ceilings, and with the jitter at its mean (0.5)
 * the 25 waits add up to about 17 days.  That mean is the figure to quote
 * for the default backoff (the sum of the ceilings is about 34 days;
 * Sidekiq's 25 retries average about 20 days).
 */
static void
test_backoff_schedule(void **state)
{
	uint64_t seed = 20240601;
	int64_t sum = 0, sum_rnd = 0, max_ceil = 0;

	(void)state;
	for (uint32_t n = 1; n <= 25; n++) {
		struct wq_job *job = mkjob(WQ_FAIL, n);
		int64_t ceil = wq_backoff_ceiling(&defaults, n), wait;

		wq_job_verdict(job, NOW, lcg(&seed));
		assert_int_equal(job->verdict, WQ_VERDICT_RETRY);
		wait = job->due_ms - NOW;
		assert_in_range(wait, 0, ceil);
		sum_rnd += wait;
		wq_job_verdict(job, NOW, 0.5);
		sum += job->due_ms - NOW;
		max_ceil = ceil > max_ceil ? ceil : max_ceil;
		wq_job_unref(job);
	}
	assert_int_equal(max_ceil, CAP_MS);
	assert_in_range(sum, 10 * DAY_MS, 25 * DAY_MS);
	/* 1472718040 ms, give or take a millisecond per term for pow(). */
	assert_in_range(sum, 1472718040 - 25, 1472718040 + 25);
	assert_in_range(sum_rnd, 0, 2 * sum + 25);
	/* The 26th failure of a default job goes to the dead letters. */
	{
		struct wq_job *job = mkjob(WQ_FAIL, 26);

		wq_job_verdict(job, NOW, 0.5);
		assert_int_equal(job->verdict, WQ_VERDICT_DEAD);
		wq_job_unref(job);
	}
}

static int backing_frees;

static void
backing_free(void *p)
{
	backing_frees++;
	free(p);
}

static void
test_free_list(void **state)
{
	struct wq_job *a, *b;
	const size_t zeroed = offsetof(struct wq_job, error);
	static const unsigned char zero[offsetof(struct wq_job, error)];

	(void)state;
	a = wq_job_new();
	assert_non_null(a);
	/* Dirty everything a job can carry. */
	memset(a, 0x5a, sizeof(*a));
	a->refs = 1;
	a->fields = NULL;
	a->backing = NULL;
	snprintf(a->error, sizeof(a->error), "old error");
	snprintf(a->fault, sizeof(a->fault), "old fault");
	wq_job_unref(a);
	b = wq_job_new();
	assert_ptr_equal(a, b);		/* reused, not allocated */
	assert_int_equal(b->refs, 1);
	assert_int_equal(b->retry_in_ms, -1);
	assert_int_equal(b->result, WQ_FAIL);
	assert_int_equal(b->verdict, WQ_VERDICT_ACK);
	assert_int_equal(b->reason, WQ_REASON_NONE);
	assert_int_equal(b->due_ms, 0);
	assert_string_equal(b->error, "");
	assert_string_equal(b->fault, "");
	assert_int_equal(atomic_load(&b->cancelled), 0);
	assert_int_equal(atomic_load(&b->completed), 0);
	assert_int_equal(b->timed_out, 0);
	assert_null(b->fields);
	assert_int_equal(b->nfields, 0);
	assert_null(b->backing);
	assert_null(b->module);
	assert_null(b->sem);
	assert_null(b->stream);
	assert_string_equal(b->entry_id, "");
	assert_string_equal(b->plugin, "");
	/* The entry reads "nothing given" until decoded. */
	assert_int_equal(b->entry.timeout_ms, -1);
	assert_int_equal(b->entry.retries, -1);
	assert_int_equal(b->entry.due_ms, -1);
	assert_int_equal(b->entry.expires_ms, -1);
	assert_int_equal(b->entry.attempt, 1);
	/* Every other byte before the report, but retry_in_ms and refs, is 0. */
	b->retry_in_ms = 0;
	b->refs = 0;
	b->entry.timeout_ms = b->entry.retries = 0;
	b->entry.due_ms = b->entry.expires_ms = 0;
	b->entry.attempt = 0;
	assert_memory_equal(b, zero, zeroed);
	b->refs = 1;
	wq_job_unref(b);
}

static void
test_refs_and_backing(void **state)
{
	struct wq_job *job = wq_job_new();
	char *backing = malloc(16);

	(void)state;
	assert_non_null(backing);
	backing_frees = 0;
	wq_job_set_backing(job, backing, backing_free);
	job->refs++;			/* a handler's reference */
	wq_job_unref(job);
	assert_int_equal(backing_frees, 0);
	wq_job_unref(job);
	assert_int_equal(backing_frees, 1);
	/* A backing with no free function is left alone. */
	job = wq_job_new();
	assert_null(job->backing);
	wq_job_set_backing(job, &backing_frees, NULL);
	wq_job_unref(job);
	assert_int_equal(backing_frees, 1);
}

/* Many jobs at once: past the free list's bound, all freed (valgrind). */
static void
test_many(void **state)
{
	enum { N = 5000 };
	struct wq_job **jobs = calloc(N, sizeof(*jobs)), *job;

	(void)state;
	assert_non_null(jobs);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			jobs[i] = wq_job_new();
			assert_non_null(jobs[i]);
			assert_int_equal(jobs[i]->refs, 1);
			assert_non_null(wq_job_fields(jobs[i], (size_t)(i % 12)));
		}
		for (int i = 0; i < N; i++)
			wq_job_unref(jobs[i]);
	}
	free(jobs);
	wq_job_cache_free();
	wq_job_cache_free();
	/* An empty free list allocates again. */
	job = wq_job_new();
	assert_non_null(job);
	assert_int_equal(job->refs, 1);
	wq_job_unref(job);
}

static void
test_fields(void **state)
{
	struct wq_job *job = wq_job_new();
	struct wq_field *f;
	char names[20][8];

	(void)state;
	/* Up to WQ_INLINE_FIELDS: inside the job. */
	f = wq_job_fields(job, WQ_INLINE_FIELDS);
	assert_ptr_equal(f, job->inline_fields);
	assert_int_equal(job->nfields, WQ_INLINE_FIELDS);
	f = wq_job_fields(job, 0);
	assert_ptr_equal(f, job->inline_fields);
	assert_int_equal(job->nfields, 0);
	assert_null(wq_job_field(job, "payload"));
	/* More: allocated, and an earlier allocation is not leaked. */
	f = wq_job_fields(job, 9);
	assert_non_null(f);
	assert_ptr_not_equal(f, job->inline_fields);
	f = wq_job_fields(job, 20);
	assert_non_null(f);
	assert_ptr_not_equal(f, job->inline_fields);
	assert_int_equal(job->nfields, 20);
	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "f%d", i);
		f[i].name = names[i];
		f[i].nlen = strlen(names[i]);
		f[i].val = "value";
		f[i].vlen = (size_t)i % 6;
	}
	assert_ptr_equal(wq_job_field(job, "f0"), &f[0]);
	assert_ptr_equal(wq_job_field(job, "f19"), &f[19]);
	assert_int_equal(wq_job_field(job, "f13")->vlen, 1);
	assert_null(wq_job_field(job, "f"));
	assert_null(wq_job_field(job, "f199"));
	assert_null(wq_job_field(job, "F1"));
	assert_null(wq_job_field(job, ""));
	/* Back to inline frees the allocation. */
	assert_ptr_equal(wq_job_fields(job, 2), job->inline_fields);
	job->inline_fields[0] = (struct wq_field){ "payload", 7, "x", 1 };
	job->inline_fields[1] = (struct wq_field){ "payloadx", 7, "y", 1 };
	/* Names compare by length: the first match wins. */
	assert_ptr_equal(wq_job_field(job, "payload"), &job->inline_fields[0]);
	/* And an allocation left at unref is freed there. */
	assert_non_null(wq_job_fields(job, 100));
	wq_job_unref(job);
}

static void
test_id_parse(void **state)
{
	static const char *const bad[] = {
		"", "-", "1", "1-", "-1", "1--2", "1-2-3", "a-1", "1-a",
		"+1-2", "1-+2", " 1-2", "1-2 ", "1.5-2", "0x1-2",
		"18446744073709551616-0",		/* ms overflows */
		"0-18446744073709551616",		/* seq overflows */
		"99999999999999999999-0",
		"000000000000000000001-0",		/* 21 digits */
	};
	uint64_t ms, seq;

	(void)state;
	assert_int_equal(wq_id_parse("1700000000000-0", 15, &ms, &seq), 0);
	assert_int_equal(ms, 1700000000000ULL);
	assert_int_equal(seq, 0);
	assert_int_equal(wq_id_parse("0-1", 3, &ms, &seq), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(seq, 1);
	assert_int_equal(wq_id_parse("18446744073709551615-18446744073709551615",
	    41, &ms, &seq), 0);
	assert_true(ms == UINT64_MAX && seq == UINT64_MAX);
	assert_int_equal(wq_id_parse("00000000000000000001-007", 24, &ms,
	    &seq), 0);
	assert_true(ms == 1 && seq == 7);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = seq = 42;
		if (wq_id_parse(bad[i], strlen(bad[i]), &ms, &seq) != -1)
			fail_msg("'%s' was accepted", bad[i]);
	}
	/* By length: a prefix of a longer string. */
	assert_int_equal(wq_id_parse("12-34junk", 5, &ms, &seq), 0);
	assert_true(ms == 12 && seq == 34);
	assert_int_equal(wq_id_parse("12-34-56", 5, &ms, &seq), 0);
	assert_int_equal(wq_id_parse("12", 0, &ms, &seq), -1);
}

static void
test_set_id_and_job_id(void **state)
{
	struct wq_job *job = wq_job_new();
	const char *max = "18446744073709551615-18446744073709551615";

	(void)state;
	assert_int_equal(wq_job_set_id(job, "1700000000000-5xyz", 15), 0);
	assert_string_equal(job->entry_id, "1700000000000-5");
	assert_true(job->id_ms == 1700000000000ULL && job->id_seq == 5);
	assert_string_equal(wq_job_id(job), "1700000000000-5");
	assert_int_equal(wq_job_set_id(job, max, strlen(max)), 0);
	assert_string_equal(job->entry_id, max);
	/* A bad ID leaves the old one. */
	assert_int_equal(wq_job_set_id(job, "nope", 4), -1);
	assert_string_equal(job->entry_id, max);
	/* The `id` field, when given, is what users see. */
	job->entry.id = "order-42";
	job->entry.id_len = 8;
	assert_string_equal(wq_job_id(job), "order-42");
	wq_job_unref(job);
}

static void
test_errors_and_names(void **state)
{
	struct wq_job *job = wq_job_new();
	char longer[300];

	(void)state;
	assert_string_equal(wq_job_last_error(job), "");
	snprintf(job->error, sizeof(job->error), "handler said no");
	assert_string_equal(wq_job_last_error(job), "handler said no");
	wq_job_fault(job, "timed out after %d ms", 50);
	assert_string_equal(job->fault, "timed out after 50 ms");
	assert_string_equal(wq_job_last_error(job), "timed out after 50 ms");
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	wq_job_fault(job, "%s", longer);
	assert_int_equal(strlen(job->fault), sizeof(job->fault) - 1);
	wq_job_unref(job);

	assert_string_equal(wq_reason_name(WQ_REASON_NONE), "none");
	assert_string_equal(wq_reason_name(WQ_REASON_EXHAUSTED), "exhausted");
	assert_string_equal(wq_reason_name(WQ_REASON_REJECTED), "rejected");
	assert_string_equal(wq_reason_name(WQ_REASON_EXPIRED), "expired");
	assert_string_equal(wq_reason_name(WQ_REASON_INVALID), "invalid");
	assert_string_equal(wq_reason_name(WQ_REASON_POISON), "poison");
	assert_string_equal(wq_reason_name((enum wq_reason)99), "unknown");
	assert_string_equal(wq_outcome_name(WQ_DONE), "done");
	assert_string_equal(wq_outcome_name(WQ_FAIL), "failed");
	assert_string_equal(wq_outcome_name(WQ_RETRY), "retry");
	assert_string_equal(wq_outcome_name(WQ_DEAD), "dead");
	assert_string_equal(wq_outcome_name(WQ_PENDING), "pending");
	assert_string_equal(wq_outcome_name((enum wq_outcome)-1), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdict_done),
		cmocka_unit_test(test_verdict_dead),
		cmocka_unit_test(test_verdict_fail_retries),
		cmocka_unit_test(test_verdict_retry_in),
		cmocka_unit_test(test_verdict_exhausted),
		cmocka_unit_test(test_backoff_ceiling),
		cmocka_unit_test(test_backoff_schedule),
		cmocka_unit_test(test_free_list),
		cmocka_unit_test(test_refs_and_backing),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_id_parse),
		cmocka_unit_test(test_set_id_and_job_id),
		cmocka_unit_test(test_errors_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, teardown_group);
}
