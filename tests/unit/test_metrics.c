/*
 * core/metrics.c: job ends and refusals move the right counters, the
 * histograms count every job that ran in the right buckets, and the text is
 * Prometheus's exposition format 0.0.4: HELP and TYPE before each family,
 * every sample of a family together, label values escaped, cumulative
 * buckets ending with +Inf equal to _count, a bounded output.
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
#include <event2/buffer.h>

#include "metrics.h"

#define NOW_MS		1700000000000LL

static const struct wq_metrics_gauges gauges = {
	.version = "1.2.3", .local_jobs = 5, .local_capacity = 64,
	.workers = 8, .workers_busy = 3, .exec_threads = 4, .exec_busy = 2,
	.exec_held = 1, .exec_queued = 7, .redis_up = 1,
	.redis_reconnects = 2, .unconfirmed = 9, .loop_stalls = 11,
	.now_ms = NOW_MS,
};

/* The rendered text, NUL-terminated; the caller frees it. */
static char *
render(const struct wq_metrics *m)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *text;

	assert_non_null(b);
	assert_int_equal(wq_metrics_render(m, &gauges, b, SIZE_MAX), 0);
	len = evbuffer_get_length(b);
	text = malloc(len + 1);
	assert_non_null(text);
	evbuffer_remove(b, text, len);
	text[len] = '\0';
	evbuffer_free(b);
	return text;
}

static void
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	fail_msg("no line '%s' in:\n%s", line, text);
}

static int
ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len > n && memcmp(s + len - n, suffix, n) == 0;
}

/*
 * The grammar, line by line: "# HELP name text", then "# TYPE name type",
 * then samples of that family only (histograms: name_bucket, _sum,
 * _count); no family twice; label values quoted with only \\ \" \n escapes.
 */
static void
lint(const char *text)
{
	char fam[128] = "", type[16] = "", seen[8192] = " ";
	const char *p = text, *nl;

	while (*p != '\0') {
		assert_non_null(nl = strchr(p, '\n'));
		if (strncmp(p, "# HELP ", 7) == 0) {
			size_t n = strcspn(p + 7, " ");

			assert_true(n < sizeof(fam));
			memcpy(fam, p + 7, n);
			fam[n] = '\0';
			assert_null(strstr(seen, fam));
			strcat(seen, fam);
			strcat(seen, " ");
			assert_true(nl[1] == '#');
			p = nl + 1;
			assert_true(strncmp(p, "# TYPE ", 7) == 0);
			assert_true(strncmp(p + 7, fam, strlen(fam)) == 0);
			assert_int_equal(sscanf(p + 7 + strlen(fam), " %15s",
			    type), 1);
			p = strchr(p, '\n') + 1;
			continue;
		}
		size_t n = strcspn(p, "{ ");

		if (strcmp(type, "histogram") == 0)
			assert_true(ends_with(p, n, "_bucket") ||
			    ends_with(p, n, "_sum") || ends_with(p, n, "_count"));
		assert_true(strncmp(p, fam, strlen(fam)) == 0);
		if (p[n] == '{') {
			const char *q = p + n + 1;

			while (*q != '}') {
				q += strcspn(q, "=");
				assert_true(q[1] == '"');
				for (q += 2; *q != '"'; q++)
					if (*q == '\\') {
						q++;
						assert_non_null(strchr("\\\"n",
						    *q));
					} else
						assert_true(*q != '\n');
				q++;
				assert_true(*q == ',' || *q == '}');
				if (*q == ',')
					q++;
			}
			n = (size_t)(q + 1 - p);
		}
		assert_true(p[n] == ' ');
		p = nl + 1;
	}
}

static void
job_init(struct wq_job *job, const char *queue, const char *plugin)
{
	memset(job, 0, sizeof(*job));
	job->queue = queue;
	snprintf(job->plugin, sizeof(job->plugin), "%s", plugin);
	job->id_ms = NOW_MS - 1000;	/* pushed a second before now */
}

/* A job that ran for run_us and ended with this result and verdict. */
static void
ran(struct wq_metrics *m, const char *queue, const char *plugin,
    enum wq_outcome result, enum wq_verdict verdict, enum wq_reason reason,
    int64_t run_us, int64_t wait_ms)
{
	struct wq_job job;

	job_init(&job, queue, plugin);
	job.started_us = 1;
	job.result = result;
	job.verdict = verdict;
	job.reason = reason;
	job.id_ms = (uint64_t)(NOW_MS - run_us / 1000 - wait_ms);
	wq_metrics_job_ended(m, &job, run_us, NOW_MS);
}

static void
test_empty(void **state)
{
	static const char head[] =
	    "# HELP workqd_build_info workqd's version, as a label; the value "
	    "is always 1.\n"
	    "# TYPE workqd_build_info gauge\n"
	    "workqd_build_info{version=\"1.2.3\"} 1\n"
	    "# HELP workqd_local_queue_jobs Jobs fetched and not yet started.\n"
	    "# TYPE workqd_local_queue_jobs gauge\n"
	    "workqd_local_queue_jobs 5\n";
	struct wq_metrics *m = wq_metrics_new();
	char *text;

	(void)state;
	assert_non_null(m);
	text = render(m);
	lint(text);
	/* The head, byte for byte. */
	assert_true(strncmp(text, head, strlen(head)) == 0);
	has_line(text, "workqd_local_queue_capacity 64");
	has_line(text, "workqd_workers 8");
	has_line(text, "workqd_workers_busy 3");
	has_line(text, "workqd_executor_threads 4");
	has_line(text, "workqd_executor_threads_busy 2");
	has_line(text, "workqd_executor_threads_held 1");
	has_line(text, "workqd_executor_queued 7");
	has_line(text, "workqd_redis_up 1");
	has_line(text, "# TYPE workqd_redis_reconnects_total counter");
	has_line(text, "workqd_redis_reconnects_total 2");
	has_line(text, "workqd_outcomes_unconfirmed 9");
	has_line(text, "workqd_loop_stalls_total 11");
	/* Families with no series yet still say what they are. */
	has_line(text, "# TYPE workqd_jobs_done_total counter");
	has_line(text, "# TYPE workqd_job_run_seconds histogram");
	assert_null(strstr(text, "workqd_jobs_done_total{"));
	free(text);
	wq_metrics_free(m);
}

static void
test_jobs(void **state)
{
	struct wq_metrics *m = wq_metrics_new();
	struct wq_metrics_totals t;
	struct wq_job job;
	char *text;

	(void)state;
	assert_int_equal(wq_metrics_add_queue(m, "mail", "echo"), 0);
	ran(m, "mail", "echo", WQ_DONE, WQ_VERDICT_ACK, WQ_REASON_NONE,
	    3000, 20);
	ran(m, "mail", "echo", WQ_DONE, WQ_VERDICT_ACK, WQ_REASON_NONE,
	    3000, 20);
	ran(m, "mail", "sleep", WQ_FAIL, WQ_VERDICT_RETRY, WQ_REASON_NONE,
	    2000000, 0);
	ran(m, "mail", "sleep", WQ_FAIL, WQ_VERDICT_DEAD,
	    WQ_REASON_EXHAUSTED, 10, 0);
	ran(m, "mail", "sleep", WQ_DEAD, WQ_VERDICT_DEAD, WQ_REASON_REJECTED,
	    10, 0);
	/* A timeout: the worker decided WQ_FAIL, then a retry. */
	job_init(&job, "mail", "sleep");
	job.started_us = 1;
	job.timed_out = 1;
	job.result = WQ_FAIL;
	job.verdict = WQ_VERDICT_RETRY;
	wq_metrics_job_ended(m, &job, 5000000, NOW_MS);
	/* Refused before it started: dead, never ran, no plugin series. */
	job_init(&job, "mail", "nosuch");
	job.verdict = WQ_VERDICT_DEAD;
	job.reason = WQ_REASON_EXPIRED;
	wq_metrics_job_ended(m, &job, 0, NOW_MS);
	/* Handed back at a stop: nothing at all. */
	job_init(&job, "mail", "echo");
	job.verdict = WQ_VERDICT_HANDBACK;
	wq_metrics_job_ended(m, &job, 0, NOW_MS);
	/* The fetcher's refusals, on a queue first seen here. */
	job_init(&job, "other", "echo");
	job.verdict = WQ_VERDICT_DEAD;
	job.reason = WQ_REASON_POISON;
	wq_metrics_job_refused(m, &job);
	job.verdict = WQ_VERDICT_DEFER;
	job.reason = WQ_REASON_NONE;
	wq_metrics_job_refused(m, &job);

	wq_metrics_totals(m, "mail", &t);
	assert_int_equal(t.done, 2);
	assert_int_equal(t.failed, 4);
	assert_int_equal(t.retried, 2);
	assert_int_equal(t.dead, 3);
	assert_int_equal(t.expired, 1);
	assert_int_equal(t.timed_out, 1);
	wq_metrics_totals(m, "other", &t);
	assert_int_equal(t.dead, 1);
	assert_int_equal(t.done + t.failed + t.expired, 0);
	wq_metrics_totals(m, "never", &t);
	assert_int_equal(t.dead + t.done, 0);

	text = render(m);
	lint(text);
	has_line(text, "workqd_jobs_done_total{queue=\"mail\",plugin=\"echo\"} 2");
	has_line(text, "workqd_jobs_done_total{queue=\"mail\",plugin=\"sleep\"} 0");
	has_line(text, "workqd_jobs_failed_total{queue=\"mail\",plugin=\"sleep\"} 4");
	has_line(text, "workqd_jobs_retried_total{queue=\"mail\",plugin=\"sleep\"} 2");
	has_line(text, "workqd_jobs_timed_out_total{queue=\"mail\",plugin=\"sleep\"} 1");
	has_line(text, "workqd_jobs_dead_total{queue=\"mail\",reason=\"exhausted\"} 1");
	has_line(text, "workqd_jobs_dead_total{queue=\"mail\",reason=\"rejected\"} 1");
	has_line(text, "workqd_jobs_dead_total{queue=\"mail\",reason=\"expired\"} 1");
	has_line(text, "workqd_jobs_dead_total{queue=\"mail\",reason=\"invalid\"} 0");
	has_line(text, "workqd_jobs_dead_total{queue=\"other\",reason=\"poison\"} 1");
	has_line(text, "workqd_jobs_expired_total{queue=\"mail\"} 1");
	has_line(text, "workqd_jobs_expired_total{queue=\"other\"} 0");
	assert_null(strstr(text, "nosuch"));
	/* Run times: 3 ms twice (le 0.005), 2 s (le 2.5), 10 us twice
	   (le 0.001), 5 s (le 5). */
	has_line(text, "workqd_job_run_seconds_bucket{queue=\"mail\","
	    "plugin=\"echo\",le=\"0.001\"} 0");
	has_line(text, "workqd_job_run_seconds_bucket{queue=\"mail\","
	    "plugin=\"echo\",le=\"0.005\"} 2");
	has_line(text, "workqd_job_run_seconds_bucket{queue=\"mail\","
	    "plugin=\"echo\",le=\"+Inf\"} 2");
	has_line(text, "workqd_job_run_seconds_sum{queue=\"mail\","
	    "plugin=\"echo\"} 0.006");
	has_line(text, "workqd_job_run_seconds_count{queue=\"mail\","
	    "plugin=\"echo\"} 2");
	has_line(text, "workqd_job_run_seconds_bucket{queue=\"mail\","
	    "plugin=\"sleep\",le=\"0.001\"} 2");
	has_line(text, "workqd_job_run_seconds_bucket{queue=\"mail\","
	    "plugin=\"sleep\",le=\"1\"} 2");
	has_line(text, "workqd_job_run_seconds_bucket{queue=\"mail\","
	    "plugin=\"sleep\",le=\"2.5\"} 3");
	has_line(text, "workqd_job_run_seconds_bucket{queue=\"mail\","
	    "plugin=\"sleep\",le=\"5\"} 4");
	has_line(text, "workqd_job_run_seconds_bucket{queue=\"mail\","
	    "plugin=\"sleep\",le=\"300\"} 4");
	has_line(text, "workqd_job_run_seconds_sum{queue=\"mail\","
	    "plugin=\"sleep\"} 7.00002");
	/* Waits: 20 ms for the echo jobs; the timed-out job was pushed a
	   second before now and ran 5 s: it waited 0 (clamped). */
	has_line(text, "workqd_job_wait_seconds_bucket{queue=\"mail\","
	    "plugin=\"echo\",le=\"0.01\"} 0");
	has_line(text, "workqd_job_wait_seconds_bucket{queue=\"mail\","
	    "plugin=\"echo\",le=\"0.05\"} 2");
	has_line(text, "workqd_job_wait_seconds_sum{queue=\"mail\","
	    "plugin=\"echo\"} 0.04");
	has_line(text, "workqd_job_wait_seconds_bucket{queue=\"mail\","
	    "plugin=\"sleep\",le=\"0.001\"} 4");
	has_line(text, "workqd_job_wait_seconds_count{queue=\"mail\","
	    "plugin=\"sleep\"} 4");
	has_line(text, "workqd_job_wait_seconds_bucket{queue=\"mail\","
	    "plugin=\"sleep\",le=\"+Inf\"} 4");
	/* Pending figures appear once Redis was asked. */
	assert_null(strstr(text, "workqd_pending_entries{"));
	free(text);
	wq_metrics_free(m);
}

static void
test_buckets(void **state)
{
	struct wq_metrics *m = wq_metrics_new();
	char *text;

	(void)state;
	/* On a bound counts in that bucket (le is "less or equal"); one
	   above goes to the next; beyond the last, only +Inf. */
	ran(m, "q", "p", WQ_DONE, WQ_VERDICT_ACK, 0, 1000, 0);
	ran(m, "q", "p", WQ_DONE, WQ_VERDICT_ACK, 0, 1001, 0);
	ran(m, "q", "p", WQ_DONE, WQ_VERDICT_ACK, 0, 400000000, 0);
	text = render(m);
	lint(text);
	has_line(text, "workqd_job_run_seconds_bucket{queue=\"q\","
	    "plugin=\"p\",le=\"0.001\"} 1");
	has_line(text, "workqd_job_run_seconds_bucket{queue=\"q\","
	    "plugin=\"p\",le=\"0.005\"} 2");
	has_line(text, "workqd_job_run_seconds_bucket{queue=\"q\","
	    "plugin=\"p\",le=\"300\"} 2");
	has_line(text, "workqd_job_run_seconds_bucket{queue=\"q\","
	    "plugin=\"p\",le=\"+Inf\"} 3");
	has_line(text, "workqd_job_run_seconds_sum{queue=\"q\","
	    "plugin=\"p\"} 400.002001");
	has_line(text, "workqd_job_run_seconds_count{queue=\"q\","
	    "plugin=\"p\"} 3");
	has_line(text, "workqd_job_wait_seconds_bucket{queue=\"q\","
	    "plugin=\"p\",le=\"3600\"} 3");
	free(text);
	wq_metrics_free(m);
}

static void
test_escaping(void **state)
{
	struct wq_metrics *m = wq_metrics_new();
	struct wq_metrics_gauges g = gauges;
	struct evbuffer *b = evbuffer_new();
	char *text;

	(void)state;
	ran(m, "a\"b\\c\nd", "p", WQ_DONE, WQ_VERDICT_ACK, 0, 1, 0);
	text = render(m);
	lint(text);
	has_line(text, "workqd_jobs_done_total{queue=\"a\\\"b\\\\c\\nd\","
	    "plugin=\"p\"} 1");
	free(text);
	g.version = "x\"y";
	assert_int_equal(wq_metrics_render(m, &g, b, SIZE_MAX), 0);
	assert_true(evbuffer_search(b, "workqd_build_info{version=\"x\\\"y\"} "
	    "1\n", strlen("workqd_build_info{version=\"x\\\"y\"} 1\n"),
	    NULL).pos >= 0);
	evbuffer_free(b);
	wq_metrics_free(m);
}

static void
test_pending(void **state)
{
	struct wq_metrics *m = wq_metrics_new();
	char *text;

	(void)state;
	assert_int_equal(wq_metrics_add_queue(m, "a", NULL), 0);
	wq_metrics_set_pending(m, "a", 12, NOW_MS - 90500);
	wq_metrics_set_pending(m, "b", 0, -1);
	/* Redis's clock runs 500 ms ahead of ours. */
	wq_metrics_set_clock_offset(m, 500);
	text = render(m);
	lint(text);
	has_line(text, "workqd_pending_entries{queue=\"a\"} 12");
	has_line(text, "workqd_pending_oldest_age_seconds{queue=\"a\"} 91");
	has_line(text, "workqd_pending_entries{queue=\"b\"} 0");
	has_line(text, "workqd_pending_oldest_age_seconds{queue=\"b\"} 0");
	/* A queue added without a plugin has no job series, only its own. */
	has_line(text, "workqd_jobs_expired_total{queue=\"a\"} 0");
	assert_null(strstr(text, "workqd_jobs_done_total{queue=\"a\""));
	free(text);
	wq_metrics_free(m);
}

static void
test_bounds(void **state)
{
	struct wq_metrics *m = wq_metrics_new();
	struct evbuffer *b = evbuffer_new();
	char name[32], *text;

	(void)state;
	/* Series past the bound fold into one "(other)" per queue. */
	for (int i = 0; i < WQ_METRICS_MAX_SERIES + 10; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		ran(m, "q", name, WQ_DONE, WQ_VERDICT_ACK, 0, 1, 0);
	}
	ran(m, "r", "late", WQ_DONE, WQ_VERDICT_ACK, 0, 1, 0);
	text = render(m);
	lint(text);
	snprintf(name, sizeof(name), "p%d", WQ_METRICS_MAX_SERIES - 1);
	assert_non_null(strstr(text, name));
	snprintf(name, sizeof(name), "\"p%d\"", WQ_METRICS_MAX_SERIES);
	assert_null(strstr(text, name));
	has_line(text, "workqd_jobs_done_total{queue=\"q\",plugin=\"(other)\"} 10");
	has_line(text, "workqd_jobs_done_total{queue=\"r\",plugin=\"(other)\"} 1");
	free(text);

	/* An output over the bound is refused, and nothing is appended. */
	evbuffer_add(b, "x", 1);
	errno = 0;
	assert_int_equal(wq_metrics_render(m, &gauges, b, 4096), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(evbuffer_get_length(b), 1);
	evbuffer_free(b);
	wq_metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_jobs),
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
