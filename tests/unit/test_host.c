/*
 * Host table tests (core/host.c): the job accessors and reports, complete()
 * exactly once from any thread, the appended config getters (conf_node,
 * conf_strmap), timers, and a stress of the whole async host path: an
 * async "plugin" whose start() submits blocking work with host->submit,
 * completing half its jobs from the executor threads and half from done()
 * on the loop, thousands of jobs through the real loop and executor.  Run
 * under -fsanitize=thread it shows the path race-free.
 *
 * The test thread is the loop thread.  Executor threads only record into
 * atomics; every assertion runs on the test thread, every wait is a poll
 * with a deadline.  Log lines are read back from a file that stands in for
 * stderr while a test captures them.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "clock.h"
#include "exec.h"
#include "host.h"
#include "job.h"
#include "loop.h"
#include "yaml.h"

#define DEADLINE_MS	30000
#define STRESS_JOBS	20000	/* 400 with WQ_TEST_SLOW set (valgrind) */
#define THREADS		4

/* Per test, on the heap: a failed assertion leaves teardown the rest. */
struct fx {
	struct wq_loop		*loop;
	struct wq_exec		*exec;
	const struct wq_host	*host;
	struct wq_job		*jobs[64];
	size_t			 njobs;
	struct pj		*pjs;
	size_t			 npjs;
	struct wq_yaml		*doc;
	FILE			*log;		/* stands in for stderr */
	int			 saved_stderr;
};

static pthread_t	loop_tid;

/* A job of the stress's plugin: its own record, reached from the job
   through job->owner, the way the worker pool reaches its worker. */
struct pj {
	struct wq_job	*job;
	size_t		 idx;
	atomic_int	 work_runs;
	int		 done_runs;	/* loop thread only */
	int		 completions;	/* loop thread only */
	int		 wrong;		/* loop thread only */
	enum wq_outcome	 want;
	char		 payload[24];
};

static atomic_int	work_on_loop;
static atomic_int	bad_payload;
static int		done_off_loop;		/* loop thread writes */
static int		start_retries;		/* loop thread */
static const struct wq_host *H;			/* the table under test */

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->loop = wq_loop_new()) == NULL)
		return -1;
	fx->saved_stderr = -1;
	loop_tid = pthread_self();
	atomic_store(&work_on_loop, 0);
	atomic_store(&bad_payload, 0);
	done_off_loop = 0;
	start_retries = 0;
	*state = fx;
	return 0;
}

static void
capture_end(struct fx *fx)
{
	if (fx->saved_stderr < 0)
		return;
	fflush(stderr);
	dup2(fx->saved_stderr, 2);
	close(fx->saved_stderr);
	fx->saved_stderr = -1;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	capture_end(fx);
	if (fx->log != NULL)
		fclose(fx->log);
	wq_exec_free(fx->exec);
	/* A timer still pending (a failed test) must not reach the freed
	   executor: from here on, submissions fail. */
	wq_host_init(fx->loop, NULL);
	/* Deliver what the executor posted before the jobs go. */
	for (int i = 0; i < 10; i++)
		wq_loop_step(fx->loop, 0);
	for (size_t i = 0; i < fx->njobs; i++)
		wq_job_unref(fx->jobs[i]);
	for (size_t i = 0; i < fx->npjs; i++)
		wq_job_unref(fx->pjs[i].job);
	free(fx->pjs);
	wq_yaml_free(fx->doc);
	wq_loop_free(fx->loop);
	wq_job_cache_free();
	free(fx);
	return 0;
}

/* Log lines go to a temporary file until capture_end. */
static void
capture(struct fx *fx)
{
	fx->log = tmpfile();
	assert_non_null(fx->log);
	fflush(stderr);
	fx->saved_stderr = dup(2);
	assert_true(fx->saved_stderr >= 0);
	assert_true(dup2(fileno(fx->log), 2) == 2);
}

/* Nonzero if a captured line contains s. */
static int
captured(struct fx *fx, const char *s)
{
	char line[1024];

	rewind(fx->log);
	while (fgets(line, sizeof(line), fx->log) != NULL)
		if (strstr(line, s) != NULL)
			return 1;
	return 0;
}

static void
host_up(struct fx *fx, unsigned threads)
{
	if (threads > 0) {
		fx->exec = wq_exec_new(fx->loop, threads, 64);
		assert_non_null(fx->exec);
	}
	fx->host = H = wq_host_init(fx->loop, fx->exec);
	assert_non_null(fx->host);
}

/* A job with fields name=value pairs (NULL-terminated), not copied. */
static struct wq_job *
job_make(struct fx *fx, const char *const *kv)
{
	struct wq_job *job = wq_job_new();
	struct wq_field *f;
	size_t n = 0;

	assert_non_null(job);
	assert_true(fx->njobs < sizeof(fx->jobs) / sizeof(fx->jobs[0]));
	fx->jobs[fx->njobs++] = job;
	while (kv[2 * n] != NULL)
		n++;
	assert_non_null(f = wq_job_fields(job, n));
	for (size_t i = 0; i < n; i++) {
		f[i].name = kv[2 * i];
		f[i].nlen = strlen(kv[2 * i]);
		f[i].val = kv[2 * i + 1];
		f[i].vlen = strlen(kv[2 * i + 1]);
		if (strcmp(kv[2 * i], "payload") == 0) {
			job->entry.payload = f[i].val;
			job->entry.payload_len = f[i].vlen;
		}
	}
	assert_int_equal(wq_job_set_id(job, "1700000000000-7", 15), 0);
	job->queue = "mail";
	job->entry.attempt = 3;
	/* Started now with a 30 s timeout. */
	job->started_us = wq_clock_mono_us();
	job->timeout_ms = 30000;
	return job;
}

static int completions;

static void
count_completion(struct wq_call *call)
{
	(void)call;
	completions++;
}

static void
test_accessors(void **state)
{
	struct fx *fx = *state;
	static const char *const kv[] = {
		"payload", "hello", "to", "a@example.org",
		"to", "b@example.org", "id", "welcome-42", NULL
	};
	struct wq_job *job;
	const char *name, *val;
	char big[400];
	size_t len;

	host_up(fx, 0);
	job = job_make(fx, kv);
	assert_string_equal(H->job_id(job), "1700000000000-7");
	job->entry.id = "welcome-42";	/* what entry.c sets from `id` */
	assert_string_equal(H->job_id(job), "welcome-42");
	assert_string_equal(H->job_queue(job), "mail");
	assert_string_equal(H->job_payload(job, &len), "hello");
	assert_int_equal(len, 5);
	assert_non_null(H->job_payload(job, NULL));
	/* The first of a repeated name; NULL for a missing one. */
	assert_string_equal(H->job_field(job, "to", &len), "a@example.org");
	assert_int_equal(len, 13);
	assert_null(H->job_field(job, "cc", &len));
	assert_int_equal(H->job_field_at(job, 2, &name, &val, &len), 0);
	assert_string_equal(name, "to");
	assert_string_equal(val, "b@example.org");
	assert_int_equal(H->job_field_at(job, 4, &name, &val, &len), -1);
	assert_int_equal(H->job_attempt(job), 3);
	/* The deadline, in wall-clock ms, is 30 s after the start (a few
	   ms of slack for the clocks read at different instants). */
	assert_in_range(H->job_deadline(job), wq_clock_wall_ms() + 29990,
	    wq_clock_wall_ms() + 30010);
	assert_int_equal(H->job_cancelled(job), 0);
	atomic_store(&job->cancelled, 1);
	assert_int_equal(H->job_cancelled(job), 1);

	/* Reports: the last error wins, cut at 255 bytes; no negative delay. */
	H->job_error(job, "first");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	H->job_error(job, "second: %s", big);
	assert_int_equal(strlen(job->error), sizeof(job->error) - 1);
	assert_memory_equal(job->error, "second: xxx", 11);
	H->job_retry_in(job, 1500);
	assert_int_equal(job->retry_in_ms, 1500);
	H->job_retry_in(job, -5);
	assert_int_equal(job->retry_in_ms, 0);
}

static void
test_log_and_progress(void **state)
{
	struct fx *fx = *state;
	static const char *const kv[] = { "payload", "p", NULL };
	struct wq_job *job;

	host_up(fx, 0);
	job = job_make(fx, kv);
	strcpy(job->plugin, "resize");
	capture(fx);
	wq_host_enter("resize", job);
	H->log(WQ_LOG_NOTICE, "hello %d", 42);
	H->log(99, "odd priority");
	H->job_progress(job, 40, "scaling");
	H->job_progress(job, 90, NULL);
	wq_host_leave();
	H->log(WQ_LOG_INFO, "outside");
	capture_end(fx);
	assert_true(captured(fx, "<5>resize: hello 42\n"));
	assert_true(captured(fx, "<6>resize: odd priority\n"));
	assert_true(captured(fx,
	    "<6>resize: job 1700000000000-7: 40%: scaling\n"));
	assert_true(captured(fx, "<6>resize: job 1700000000000-7: 90%\n"));
	assert_true(captured(fx, "<6>plugin: outside\n"));
}

static void
step_until_completions(struct fx *fx, int n)
{
	int64_t end = wq_clock_mono_ms() + DEADLINE_MS;

	while (completions < n && wq_clock_mono_ms() < end)
		wq_loop_step(fx->loop, 10);
	assert_int_equal(completions, n);
}

static void
test_complete_once(void **state)
{
	struct fx *fx = *state;
	static const char *const kv[] = { "payload", "p", NULL };
	struct wq_job *a, *b;

	host_up(fx, 0);
	completions = 0;
	a = job_make(fx, kv);
	b = job_make(fx, kv);
	a->call.fn = b->call.fn = count_completion;
	strcpy(a->plugin, "p");
	capture(fx);
	/* On the loop thread: queued for a later turn, never run inside. */
	H->complete(a, WQ_RETRY);
	assert_int_equal(completions, 0);
	H->complete(a, WQ_DONE);
	step_until_completions(fx, 1);
	assert_int_equal(a->outcome, WQ_RETRY);
	/* WQ_PENDING is no outcome: a failure, with a reason. */
	H->complete(b, WQ_PENDING);
	step_until_completions(fx, 2);
	for (int i = 0; i < 5; i++)
		wq_loop_step(fx->loop, 0);
	capture_end(fx);
	assert_int_equal(completions, 2);
	assert_int_equal(b->outcome, WQ_FAIL);
	assert_string_equal(b->error, "completed with WQ_PENDING");
	assert_true(captured(fx, "p: job 1700000000000-7 completed twice; "
	    "ignored"));
}

/* Completers race to complete the same jobs from several threads. */
struct racer {
	pthread_t	  tid;
	struct wq_job	**jobs;
	size_t		  n;
	atomic_int	 *go;
};

static void *
racer(void *arg)
{
	struct racer *r = arg;

	while (!atomic_load(r->go))
		;
	for (size_t i = 0; i < r->n; i++)
		H->complete(r->jobs[i], WQ_DONE);
	return NULL;
}

static void
test_complete_any_thread(void **state)
{
	struct fx *fx = *state;
	static const char *const kv[] = { "payload", "p", NULL };
	struct racer r[4];
	atomic_int go = 0;

	host_up(fx, 0);
	completions = 0;
	for (int i = 0; i < 32; i++) {
		job_make(fx, kv)->call.fn = count_completion;
		strcpy(fx->jobs[i]->plugin, "p");
	}
	capture(fx);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){ .jobs = fx->jobs, .n = 32, .go = &go };
		assert_int_equal(pthread_create(&r[i].tid, NULL, racer, &r[i]),
		    0);
	}
	atomic_store(&go, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(r[i].tid, NULL);
	step_until_completions(fx, 32);
	for (int i = 0; i < 5; i++)
		wq_loop_step(fx->loop, 0);
	capture_end(fx);
	/* Each job once, whichever thread won; the losers were logged. */
	assert_int_equal(completions, 32);
	for (int i = 0; i < 32; i++)
		assert_int_equal(fx->jobs[i]->outcome, WQ_DONE);
	assert_true(captured(fx, "completed twice; ignored"));
}

/* The counter of eventfd fd (Linux shows it in fdinfo), or -1. */
static long long
eventfd_count(int fd)
{
	char path[64], line[128];
	long long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "eventfd-count: %llx", &n) == 1)
			break;
	fclose(f);
	return n;
}

/*
 * Completions from other threads while the loop is busy: the first one
 * writes the loop's eventfd, the others find the list non-empty and add
 * to it.  One wakeup, one turn delivers them all.
 */
static void
test_completions_coalesce(void **state)
{
	struct fx *fx = *state;
	static const char *const kv[] = { "payload", "p", NULL };
	long long before[1024], n;
	struct racer r[4];
	atomic_int go = 0;
	int fd, woken = -1, nwoken = 0;

	host_up(fx, 0);
	completions = 0;
	for (fd = 0; fd < 1024; fd++)
		before[fd] = eventfd_count(fd);
	for (int i = 0; i < 64; i++)
		job_make(fx, kv)->call.fn = count_completion;
	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){ .jobs = fx->jobs + 16 * i, .n = 16,
		    .go = &go };
		assert_int_equal(pthread_create(&r[i].tid, NULL, racer, &r[i]),
		    0);
	}
	atomic_store(&go, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(r[i].tid, NULL);
	/* 64 posts, the loop still: exactly one eventfd was written, once. */
	for (fd = 0; fd < 1024; fd++)
		if ((n = eventfd_count(fd)) >= 0 && n != before[fd]) {
			woken = fd;
			nwoken++;
			assert_int_equal(n - (before[fd] < 0 ? 0 : before[fd]),
			    1);
		}
	assert_int_equal(nwoken, 1);
	assert_int_equal(completions, 0);
	assert_int_equal(wq_loop_step(fx->loop, 1000), 0);
	assert_int_equal(completions, 64);
	assert_int_equal(eventfd_count(woken), 0);
}

/* The stress's plugin.  work: executor thread; done and start: loop. */

#define PJ_OF(call) \
	((struct pj *)((struct wq_job *)(void *)((char *)(call) - \
	    offsetof(struct wq_job, call)))->owner)

/* What the plugin reports before completing: any thread holding the job. */
static void
report(struct pj *p)
{
	if (p->want == WQ_RETRY)
		H->job_retry_in(p->job, (int64_t)p->idx);
	else if (p->want != WQ_DONE)
		H->job_error(p->job, "job %zu failed", p->idx);
	H->complete(p->job, p->want);
}

static void
work(void *arg)
{
	struct pj *p = arg;
	size_t len;
	const char *payload = H->job_payload(p->job, &len);

	if (pthread_equal(pthread_self(), loop_tid))
		atomic_fetch_add(&work_on_loop, 1);
	if (len != strlen(p->payload) || memcmp(payload, p->payload, len) != 0)
		atomic_fetch_add(&bad_payload, 1);
	atomic_fetch_add(&p->work_runs, 1);
	/* Complete from the executor thread: done must not touch it. */
	if (p->idx % 2 == 0)
		report(p);
}

static void
done(void *arg)
{
	struct pj *p = arg;

	if (!pthread_equal(pthread_self(), loop_tid))
		done_off_loop++;
	p->done_runs++;
	if (p->idx % 2 == 1)
		report(p);
}

static void	start(void *arg);

/* A full submission queue: try again on a later turn, from a timer. */
static void
start(void *arg)
{
	struct pj *p = arg;

	if (H->submit(work, done, p) == 0)
		return;
	start_retries++;
	assert_non_null(H->timer_add(1, start, p));
}

static void
stress_completed(struct wq_call *call)
{
	struct pj *p = PJ_OF(call);

	p->completions++;
	if (p->job->outcome != p->want ||
	    (p->want == WQ_RETRY && p->job->retry_in_ms != (int64_t)p->idx) ||
	    ((p->want == WQ_FAIL || p->want == WQ_DEAD) &&
	    strstr(p->job->error, "failed") == NULL))
		p->wrong++;
	completions++;
}

static void
test_stress_async_path(void **state)
{
	struct fx *fx = *state;
	static const enum wq_outcome outs[] = { WQ_DONE, WQ_RETRY, WQ_FAIL,
	    WQ_DEAD };
	int64_t end = wq_clock_mono_ms() + DEADLINE_MS * 4;
	size_t jobs = getenv("WQ_TEST_SLOW") != NULL ? STRESS_JOBS / 50 :
	    STRESS_JOBS;
	struct pj *p;
	size_t i;

	host_up(fx, THREADS);
	completions = 0;
	fx->pjs = calloc(jobs, sizeof(*fx->pjs));
	assert_non_null(fx->pjs);
	for (i = 0; i < jobs; i++, fx->npjs++) {
		p = &fx->pjs[i];
		p->idx = i;
		p->want = outs[(i / 2) % 4];
		snprintf(p->payload, sizeof(p->payload), "job %zu", i);
		assert_non_null(p->job = wq_job_new());
		p->job->entry.payload = p->payload;
		p->job->entry.payload_len = strlen(p->payload);
		p->job->owner = p;
		p->job->call.fn = stress_completed;
		strcpy(p->job->plugin, "stress");
		wq_host_enter("stress", p->job);
		start(p);
		wq_host_leave();
		if (i % 256 == 0)
			wq_loop_step(fx->loop, 0);
	}
	while ((size_t)completions < jobs && wq_clock_mono_ms() < end)
		wq_loop_step(fx->loop, 10);
	/* Let the dones of the jobs completed on executor threads come in. */
	for (int spins = 0; spins < 100; spins++)
		wq_loop_step(fx->loop, 1);
	assert_int_equal(completions, jobs);
	for (i = 0; i < jobs; i++) {
		p = &fx->pjs[i];
		if (atomic_load(&p->work_runs) != 1 || p->done_runs != 1 ||
		    p->completions != 1 || p->wrong != 0)
			fail_msg("job %zu: work %d done %d completions %d "
			    "wrong %d", i, atomic_load(&p->work_runs),
			    p->done_runs, p->completions, p->wrong);
	}
	assert_int_equal(atomic_load(&work_on_loop), 0);
	assert_int_equal(atomic_load(&bad_payload), 0);
	assert_int_equal(done_off_loop, 0);
	print_message("%zu jobs, %d submissions retried on a full queue\n",
	    jobs, start_retries);
}

static int fired;

static void
fire(void *arg)
{
	(void)arg;
	fired++;
}

static void
test_timers(void **state)
{
	struct fx *fx = *state;
	struct wq_timer *keep, *drop;
	int64_t start_ms, end;

	host_up(fx, 0);
	fired = 0;
	start_ms = wq_clock_mono_ms();
	end = start_ms + DEADLINE_MS;
	keep = H->timer_add(30, fire, NULL);
	drop = H->timer_add(30, fire, NULL);
	assert_non_null(keep);
	assert_non_null(drop);
	H->timer_cancel(drop);
	H->timer_cancel(NULL);
	while (fired == 0 && wq_clock_mono_ms() < end)
		wq_loop_step(fx->loop, 50);
	assert_int_equal(fired, 1);
	assert_true(wq_clock_mono_ms() - start_ms >= 30);
	/* The cancelled one never fires. */
	for (int i = 0; i < 5; i++)
		wq_loop_step(fx->loop, 20);
	assert_int_equal(fired, 1);
	assert_ptr_equal(H->event_base(), wq_loop_base(fx->loop));
}

/* Under workqd -t there is no loop: nothing may be scheduled. */
static void
test_no_loop(void **state)
{
	(void)state;
	H = wq_host_init(NULL, NULL);
	assert_int_equal(H->submit(work, done, NULL), -1);
	assert_null(H->timer_add(10, fire, NULL));
	assert_null(H->event_base());
	assert_ptr_equal(wq_host(), H);
}

static const struct wq_node *
load(struct fx *fx, const char *text)
{
	char err[256];

	fx->doc = wq_yaml_load_buffer("t.yaml", text, strlen(text), err,
	    sizeof(err));
	if (fx->doc == NULL)
		fail_msg("%s", err);
	return wq_yaml_root(fx->doc);
}

static void
test_conf_strmap(void **state)
{
	struct fx *fx = *state;
	const struct wq_node *root = load(fx,
	    "env: {LANG: C.UTF-8, EMPTY: , QUOTED: \"a: b\"}\n"
	    "none: ~\n"
	    "list: [a, b]\n"
	    "deep: {A: {B: c}}\n"
	    "big: {A: 1, B: 2, C: 3}\n");
	const char *names[2 + 1], *vals[2 + 1];
	size_t n = 99;

	host_up(fx, 0);
	assert_true(WQ_HOST_HAS(H, conf_strmap));
	assert_true(WQ_HOST_HAS(H, conf_node));
	assert_int_equal(H->conf_strmap(root, "env", names, vals, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "LANG");
	assert_string_equal(vals[0], "C.UTF-8");
	assert_string_equal(names[1], "EMPTY");
	assert_string_equal(vals[1], "");
	assert_string_equal(names[2], "QUOTED");
	assert_string_equal(vals[2], "a: b");
	/* Absent: 1, untouched; null: an empty mapping. */
	n = 99;
	assert_int_equal(H->conf_strmap(root, "nope", names, vals, 3, &n), 1);
	assert_int_equal(n, 99);
	assert_int_equal(H->conf_strmap(root, "none", names, vals, 3, &n), 0);
	assert_int_equal(n, 0);
	assert_null(wq_yaml_error(fx->doc));
	/* Wrong: the first error is kept, with its position. */
	assert_int_equal(H->conf_strmap(root, "list", names, vals, 3, &n), -1);
	assert_string_equal(wq_yaml_error(fx->doc),
	    "t.yaml:3:7: list: expected a mapping of strings, got a sequence");
}

static void
test_conf_strmap_errors(void **state)
{
	struct fx *fx = *state;
	const struct wq_node *root = load(fx,
	    "deep: {A: {B: c}}\n"
	    "big: {A: 1, B: 2, C: 3}\n");
	const char *names[2], *vals[2];
	size_t n;

	host_up(fx, 0);
	assert_int_equal(H->conf_strmap(root, "deep", names, vals, 2, &n), -1);
	assert_string_equal(wq_yaml_error(fx->doc),
	    "t.yaml:1:11: deep: A: expected a string, got a mapping");
	wq_yaml_free(fx->doc);
	root = load(fx, "big: {A: 1, B: 2, C: 3}\n");
	assert_int_equal(H->conf_strmap(root, "big", names, vals, 2, &n), -1);
	assert_string_equal(wq_yaml_error(fx->doc),
	    "t.yaml:1:6: big: more than 2 entries");
	wq_yaml_free(fx->doc);
	root = load(fx, "- a\n");
	assert_int_equal(H->conf_strmap(root, "x", names, vals, 2, &n), -1);
	assert_string_equal(wq_yaml_error(fx->doc),
	    "t.yaml:1:1: expected a mapping, got a sequence");
}

static void
test_conf_node(void **state)
{
	struct fx *fx = *state;
	const struct wq_node *root = load(fx,
	    "http:\n"
	    "  url: http://x/\n"
	    "  timeout: 2s\n");
	const struct wq_node *http, *url;
	int64_t ms = 0;
	const char *s = NULL;

	host_up(fx, 0);
	assert_non_null(http = H->conf_node(root, "http"));
	/* The getters read a nested mapping found with conf_node. */
	assert_int_equal(H->conf_ms(http, "timeout", &ms), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(H->conf_str(http, "url", &s), 0);
	assert_string_equal(s, "http://x/");
	assert_null(H->conf_node(root, "nope"));
	assert_null(H->conf_node(NULL, "http"));
	url = H->conf_node(http, "url");
	assert_null(H->conf_node(url, "x"));	/* a scalar has no keys */
	/* conf_error points at the value conf_node found. */
	assert_int_equal(H->conf_error(url, "unreachable: %s", s), -1);
	assert_string_equal(wq_yaml_error(fx->doc),
	    "t.yaml:2:8: unreachable: http://x/");
}

/* A plugin built against ABI 1's table must see the appended functions as
   absent. */
static void
test_host_has(void **state)
{
	struct fx *fx = *state;
	struct wq_host old;

	host_up(fx, 0);
	old = *H;
	old.size = (uint32_t)offsetof(struct wq_host, conf_node);
	assert_false(WQ_HOST_HAS(&old, conf_node));
	assert_false(WQ_HOST_HAS(&old, conf_strmap));
	assert_true(WQ_HOST_HAS(&old, event_base));
	assert_int_equal(H->size, sizeof(struct wq_host));
	assert_int_equal(H->abi, WQ_PLUGIN_ABI);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_accessors),
		T(test_log_and_progress),
		T(test_complete_once),
		T(test_complete_any_thread),
		T(test_completions_coalesce),
		T(test_stress_async_path),
		T(test_timers),
		T(test_no_loop),
		T(test_conf_strmap),
		T(test_conf_strmap_errors),
		T(test_conf_node),
		T(test_host_has),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
