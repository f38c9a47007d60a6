/*
 * Unit tests for core/worker.c: the worker pool on a real loop, with a real
 * local queue, a real executor and real plugins loaded from
 * $WQ_TEST_PLUGIN_DIR (good_async, good_blocking, and the w_* fixtures made
 * for these tests: w_async_later, w_block_sleep, w_block_gate).
 *
 * The test thread is the loop thread.  The plugins report each handler's
 * start and end through host->job_progress; the test hands them the real
 * host table with that one function wrapped, counting into atomics, because
 * blocking handlers call it on executor threads.  Everything else is seen
 * on the loop thread: what ops.resolve and ops.settle are given, the pool's
 * and the executor's stats.  Every wait is a poll with a deadline while the
 * loop is stepped; handlers that must stay busy wait on a pipe the test
 * holds (w_block_gate), never on the clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "exec.h"
#include "host.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "module.h"
#include "queue.h"
#include "sem.h"
#include "worker.h"

#define DEADLINE_MS	20000
#define MAXJOBS		256
#define MAXF		8

enum {
	M_ASYNC_LATER, M_BLOCK_SLEEP, M_BLOCK_GATE, M_GOOD_ASYNC,
	M_GOOD_BLOCKING, NMOD
};

static const char *const modnames[NMOD] = {
	"w_async_later", "w_block_sleep", "w_block_gate", "good_async",
	"good_blocking",
};

/* The default queue policy (etc/workqd.yaml). */
static const struct wq_policy defaults = {
	.timeout_ms = 0,
	.retries = 25,
	.backoff_base_ms = 30000,
	.backoff_factor = 1.55,
	.backoff_cap_ms = 7 * 86400000LL,
};

/* What ops.settle was handed for one job.  Loop thread. */
struct rec {
	int		 settled;
	enum wq_verdict	 verdict;
	enum wq_reason	 reason;
	enum wq_outcome	 result;
	int		 timed_out;
	int64_t		 due_ms;
	int64_t		 settled_ms;
	char		 error[256];
};

struct fx {
	struct wq_loop		*loop;
	struct wq_exec		*exec;
	struct wq_queue		*local;
	struct wq_pool		*pool;
	struct wq_module	*mod[NMOD];
	struct wq_host		 host;
	struct wq_sem		 sem;		/* queue a's limit */
	int			 sem_on;
	struct rec		 rec[MAXJOBS];
	int			 njobs;
	int			 nsettled;
	int			 nended;
	int			 resolves;
	int			 drained;
	int			 joined;
	struct wq_queue_waiter	 jw;
	unsigned		 max_busy;	/* sampled after each step */
	int			 gate[2];	/* w_block_gate waits on [0] */
};

/* Driven by the plugins through job_progress, from any thread. */
static atomic_int	 running, running_max, started, cancels;
static atomic_int	 running_q[2], max_q[2];	/* queues a, b */

static void
note_max(atomic_int *max, int now)
{
	int m = atomic_load(max);

	while (now > m && !atomic_compare_exchange_weak(max, &m, now))
		continue;
}

/* Any thread: the wrapped host->job_progress (see the fixtures). */
static void
progress(struct wq_job *job, int percent, const char *what)
{
	int q = job->queue != NULL && strcmp(job->queue, "a") == 0 ? 0 : 1;

	(void)percent;
	if (strcmp(what, "start") == 0) {
		atomic_fetch_add(&started, 1);
		note_max(&running_max, atomic_fetch_add(&running, 1) + 1);
		note_max(&max_q[q], atomic_fetch_add(&running_q[q], 1) + 1);
		return;
	}
	if (strcmp(what, "cancel") == 0)
		atomic_fetch_add(&cancels, 1);
	atomic_fetch_sub(&running, 1);
	atomic_fetch_sub(&running_q[q], 1);
}

static struct wq_module *
resolve(void *ctx, struct wq_job *job)
{
	struct fx *fx = ctx;

	fx->resolves++;
	for (int i = 0; i < NMOD; i++)
		if (strcmp(wq_module_name(fx->mod[i]), job->plugin) == 0) {
			wq_module_ref(fx->mod[i]);
			return fx->mod[i];
		}
	wq_job_fault(job, "unknown plugin '%s'", job->plugin);
	return NULL;
}

static void
settle(void *ctx, struct wq_job *job)
{
	struct fx *fx = ctx;
	struct rec *r;

	assert_true(job->id_seq < MAXJOBS);
	r = &fx->rec[job->id_seq];
	r->settled++;
	r->verdict = job->verdict;
	r->reason = job->reason;
	r->result = job->result;
	r->timed_out = job->timed_out;
	r->due_ms = job->due_ms;
	r->settled_ms = wq_clock_wall_ms();
	snprintf(r->error, sizeof(r->error), "%s", wq_job_last_error(job));
	fx->nsettled++;
	wq_job_unref(job);
}

static void
ended(void *ctx, const struct wq_job *job, int64_t run_us)
{
	struct fx *fx = ctx;

	(void)job;
	assert_true(run_us >= 0);
	fx->nended++;
}

static void
drained(void *arg)
{
	((struct fx *)arg)->drained++;
}

static void
joined(struct wq_queue_waiter *w, void *item, int err)
{
	struct fx *fx = w->arg;

	assert_null(item);
	assert_int_equal(err, 0);
	fx->joined++;
}

static void
drop(void *item, void *arg)
{
	(void)arg;
	wq_job_unref(item);
}

static void
step(struct fx *fx)
{
	struct wq_pool_stats st;

	assert_int_equal(wq_loop_step(fx->loop, 5), 0);
	if (fx->pool != NULL) {
		wq_pool_stats(fx->pool, &st);
		if (st.busy > fx->max_busy)
			fx->max_busy = st.busy;
	}
}

/* Steps the loop until cond holds; fails the test at the deadline. */
#define STEP_UNTIL(fx, cond) do {					\
	int64_t end_ = wq_clock_mono_ms() + DEADLINE_MS;		\
	while (!(cond)) {						\
		if (wq_clock_mono_ms() > end_)				\
			fail_msg("%s:%d: still not %s", __FILE__,	\
			    __LINE__, #cond);				\
		step(fx);						\
	}								\
} while (0)

/* Lets pending calls and wakeups run, so a test can assert what did not
   happen. */
static void
settle_down(struct fx *fx, int turns)
{
	for (int i = 0; i < turns; i++)
		step(fx);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	atomic_store(&running, 0);
	atomic_store(&running_max, 0);
	atomic_store(&started, 0);
	atomic_store(&cancels, 0);
	for (int q = 0; q < 2; q++) {
		atomic_store(&running_q[q], 0);
		atomic_store(&max_q[q], 0);
	}
	fx->gate[0] = fx->gate[1] = -1;
	if ((fx->loop = wq_loop_new()) == NULL ||
	    (fx->local = wq_queue_new(fx->loop, 0)) == NULL ||
	    pipe(fx->gate) < 0)
		return -1;
	*state = fx;
	return 0;
}

static void
gate_open(struct fx *fx)
{
	if (fx->gate[1] != -1) {
		close(fx->gate[1]);
		fx->gate[1] = -1;
	}
}

/* Frees everything; after a failed test, as much as it safely can. */
static int
teardown(void **state)
{
	struct fx *fx = *state;
	struct wq_exec_stats es;
	int64_t end = wq_clock_mono_ms() + DEADLINE_MS;

	gate_open(fx);
	if (fx->pool != NULL) {
		wq_queue_shutdown(fx->local, 1, drop, NULL);
		wq_pool_cancel(fx->pool);
		wq_pool_drain(fx->pool, NULL, NULL);
	}
	while (fx->exec != NULL && wq_clock_mono_ms() < end) {
		wq_exec_stats(fx->exec, &es);
		if (es.busy == 0 && es.queued == 0)
			break;
		wq_loop_step(fx->loop, 5);
	}
	wq_exec_free(fx->exec);
	for (int i = 0; i < 20; i++)
		wq_loop_step(fx->loop, 1);
	wq_queue_cancel(&fx->jw);
	wq_pool_free(fx->pool);
	wq_queue_free(fx->local);
	for (int i = 0; i < NMOD; i++)
		if (fx->mod[i] != NULL)
			wq_module_unref(fx->mod[i]);
	wq_loop_free(fx->loop);
	if (fx->gate[0] != -1)
		close(fx->gate[0]);
	free(fx);
	wq_job_cache_free();
	return 0;
}

/* Creates the executor and the pool, and loads and inits the plugins. */
static void
begin(struct fx *fx, unsigned threads, unsigned queue_max, unsigned workers)
{
	const char *dir = getenv("WQ_TEST_PLUGIN_DIR");
	char err[512];

	assert_non_null(dir);
	fx->exec = wq_exec_new(fx->loop, threads, queue_max);
	assert_non_null(fx->exec);
	fx->host = *wq_host_init(fx->loop, fx->exec);
	fx->host.job_progress = progress;
	for (int i = 0; i < NMOD; i++) {
		fx->mod[i] = wq_module_open(dir, modnames[i], err, sizeof(err));
		if (fx->mod[i] == NULL)
			fail_msg("%s", err);
		if (wq_module_init(fx->mod[i], &fx->host, NULL, err,
		    sizeof(err)) < 0)
			fail_msg("%s", err);
	}
	fx->pool = wq_pool_new(fx->loop, fx->local, fx->exec, workers,
	    &(struct wq_pool_ops){ .resolve = resolve, .settle = settle,
	    .ended = ended, .ctx = fx });
	assert_non_null(fx->pool);
}

/*
 * A job as the fetcher makes it: entry ID "1-<n>", fields decoded from a
 * heap backing, the queue ("a" is limited by fx->sem when sem_on), the
 * default policy.  The fields are "payload" and the NULL-terminated
 * name, value pairs that follow.  Not queued yet: see push().
 */
static struct wq_job *
mkjob(struct fx *fx, const char *queue, const char *plugin,
    const char *payload, ...)
{
	const char *kv[2 * MAXF];
	struct wq_field *f;
	struct wq_job *job;
	size_t n = 0, size = 0, off = 0;
	char id[32], err[256], *buf;
	va_list ap;

	assert_true(fx->njobs < MAXJOBS);
	kv[n++] = "payload";
	kv[n++] = payload;
	va_start(ap, payload);
	while ((kv[n] = va_arg(ap, const char *)) != NULL) {
		kv[n + 1] = va_arg(ap, const char *);
		n += 2;
		assert_true(n < 2 * MAXF);
	}
	va_end(ap);
	for (size_t i = 0; i < n; i++)
		size += strlen(kv[i]) + 1;
	assert_non_null(job = wq_job_new());
	assert_non_null(buf = malloc(size));
	wq_job_set_backing(job, buf, free);
	assert_non_null(f = wq_job_fields(job, n / 2));
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(kv[i]);

		memcpy(buf + off, kv[i], len + 1);
		if (i % 2 == 0) {
			f[i / 2].name = buf + off;
			f[i / 2].nlen = len;
		} else {
			f[i / 2].val = buf + off;
			f[i / 2].vlen = len;
		}
		off += len + 1;
	}
	snprintf(id, sizeof(id), "1-%d", fx->njobs++);
	assert_int_equal(wq_job_set_id(job, id, strlen(id)), 0);
	if (wq_entry_decode(&job->entry, job->fields, job->nfields, job->id_ms,
	    1 << 20, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	job->queue = queue;
	snprintf(job->plugin, sizeof(job->plugin), "%s", plugin);
	job->policy = defaults;
	job->sem = fx->sem_on && strcmp(queue, "a") == 0 ? &fx->sem : NULL;
	return job;
}

static int
push(struct fx *fx, struct wq_job *job)
{
	assert_int_equal(wq_queue_put_nowait(fx->local, job), 0);
	return (int)job->id_seq;
}

/* The gate's read end, as w_block_gate's payload. */
static const char *
gate_payload(struct fx *fx)
{
	static char s[16];

	snprintf(s, sizeof(s), "%d", fx->gate[0]);
	return s;
}

static void
stats(struct fx *fx, struct wq_pool_stats *st)
{
	wq_pool_stats(fx->pool, st);
}

/* Every job settled exactly once and marked done in the queue; no worker
   busy; every module reference taken for a job dropped. */
static void
all_settled(struct fx *fx)
{
	struct wq_pool_stats st;

	for (int i = 0; i < fx->njobs; i++)
		if (fx->rec[i].settled != 1)
			fail_msg("job %d settled %d times", i,
			    fx->rec[i].settled);
	assert_int_equal(fx->nsettled, fx->njobs);
	assert_int_equal(wq_queue_unfinished(fx->local), 0);
	stats(fx, &st);
	assert_int_equal(st.busy, 0);
	for (int i = 0; i < NMOD; i++)
		assert_int_equal(wq_module_refs(fx->mod[i]), 0);
}

static void
expect(struct fx *fx, int i, enum wq_verdict v, enum wq_reason r)
{
	struct rec *rec = &fx->rec[i];

	if (rec->settled != 1 || rec->verdict != v || rec->reason != r)
		fail_msg("job %d: settled %d, verdict %d reason %s (%s); "
		    "expected verdict %d reason %s", i, rec->settled,
		    rec->verdict, wq_reason_name(rec->reason), rec->error, v,
		    wq_reason_name(r));
}

/*
 * Jobs of every kind end with the verdict their outcome calls for, each
 * settled exactly once, each marked done in the queue (join returns).
 */
static void
test_outcomes(void **state)
{
	struct fx *fx = *state;
	static const struct {
		int		 mod;
		const char	*payload;
		enum wq_outcome	 out;
	} kinds[] = {
		{ M_GOOD_ASYNC, "x", WQ_DONE },
		{ M_GOOD_BLOCKING, "x", WQ_DONE },
		{ M_ASYNC_LATER, "0 done", WQ_DONE },
		{ M_ASYNC_LATER, "0 fail", WQ_FAIL },
		{ M_ASYNC_LATER, "0 retry", WQ_RETRY },
		{ M_ASYNC_LATER, "0 dead", WQ_DEAD },
		{ M_ASYNC_LATER, "3 done", WQ_DONE },
		{ M_ASYNC_LATER, "3 fail", WQ_FAIL },
		{ M_ASYNC_LATER, "2 retry", WQ_RETRY },
		{ M_ASYNC_LATER, "1 dead", WQ_DEAD },
		{ M_BLOCK_SLEEP, "0 done", WQ_DONE },
		{ M_BLOCK_SLEEP, "2 fail", WQ_FAIL },
		{ M_BLOCK_SLEEP, "1 retry", WQ_RETRY },
		{ M_BLOCK_SLEEP, "0 dead", WQ_DEAD },
	};
	enum { K = sizeof(kinds) / sizeof(kinds[0]), ROUNDS = 4 };
	int exhausted[2];
	struct wq_pool_stats st;
	int64_t t0 = wq_clock_wall_ms();

	begin(fx, 2, 64, 4);
	for (int r = 0; r < ROUNDS; r++)
		for (int k = 0; k < K; k++)
			push(fx, mkjob(fx, "b", modnames[kinds[k].mod],
			    kinds[k].payload, NULL));
	/* Out of retries: by the entry's field, and by the policy. */
	exhausted[0] = push(fx, mkjob(fx, "b", "w_async_later", "2 fail",
	    "retries", "0", NULL));
	exhausted[1] = push(fx, mkjob(fx, "b", "w_block_sleep", "1 retry",
	    "attempt", "26", NULL));
	assert_int_equal(wq_queue_join(fx->local, &fx->jw, joined, fx), 1);
	wq_pool_start(fx->pool);
	STEP_UNTIL(fx, fx->nsettled == fx->njobs);
	STEP_UNTIL(fx, fx->joined == 1);
	settle_down(fx, 5);
	all_settled(fx);
	assert_int_equal(fx->joined, 1);
	for (int r = 0; r < ROUNDS; r++) {
		for (int k = 0; k < K; k++) {
			int i = r * K + k;
			struct rec *rec = &fx->rec[i];

			assert_int_equal(rec->result, kinds[k].out);
			assert_int_equal(rec->timed_out, 0);
			switch (kinds[k].out) {
			case WQ_DONE:
				expect(fx, i, WQ_VERDICT_ACK, WQ_REASON_NONE);
				break;
			case WQ_DEAD:
				expect(fx, i, WQ_VERDICT_DEAD,
				    WQ_REASON_REJECTED);
				break;
			default:
				expect(fx, i, WQ_VERDICT_RETRY,
				    WQ_REASON_NONE);
				/* Attempt 1: within the first ceiling. */
				assert_in_range(rec->due_ms, t0,
				    rec->settled_ms + 30000);
				break;
			}
		}
	}
	expect(fx, exhausted[0], WQ_VERDICT_DEAD, WQ_REASON_EXHAUSTED);
	expect(fx, exhausted[1], WQ_VERDICT_DEAD, WQ_REASON_EXHAUSTED);
	stats(fx, &st);
	assert_int_equal(st.workers, 4);
	assert_int_equal(st.started, fx->njobs);
	assert_int_equal(st.timed_out, 0);
	assert_int_equal(st.held, 0);
	assert_int_equal(fx->nended, fx->njobs);
	assert_int_equal(fx->resolves, fx->njobs);
	assert_int_equal(atomic_load(&running), 0);
	assert_in_range(atomic_load(&running_max), 1, 4);
	assert_in_range(fx->max_busy, 1, 4);
	/* The local queue is empty and nobody waits to join it any more. */
	assert_int_equal(wq_queue_qsize(fx->local), 0);
	assert_int_equal(wq_queue_join(fx->local, &fx->jw, joined, fx), 0);
}

/* Never more jobs at once than workers, and all of them used. */
static void
test_workers_bound(void **state)
{
	struct fx *fx = *state;

	begin(fx, 8, 64, 3);
	for (int i = 0; i < 30; i++)
		push(fx, mkjob(fx, "b", i % 2 ? "w_block_sleep" :
		    "w_async_later", "5 done", NULL));
	wq_pool_start(fx->pool);
	STEP_UNTIL(fx, fx->nsettled == fx->njobs);
	all_settled(fx);
	for (int i = 0; i < fx->njobs; i++)
		expect(fx, i, WQ_VERDICT_ACK, WQ_REASON_NONE);
	assert_int_equal(atomic_load(&running_max), 3);
	assert_in_range(fx->max_busy, 1, 3);
	assert_int_equal(atomic_load(&started), 30);
}

/* A queue limited to 2 runs at most 2 jobs at once in a pool of 8, while
   another queue uses the rest of the pool. */
static void
test_sem_limit(void **state)
{
	struct fx *fx = *state;

	wq_sem_init(&fx->sem, fx->loop, 2);
	fx->sem_on = 1;
	begin(fx, 8, 64, 8);
	for (int i = 0; i < 48; i++)
		push(fx, mkjob(fx, i % 2 ? "b" : "a", (i / 2) % 2 ?
		    "w_block_sleep" : "w_async_later", i % 2 ? "20 done" :
		    "5 done", NULL));
	wq_pool_start(fx->pool);
	STEP_UNTIL(fx, fx->nsettled == fx->njobs);
	all_settled(fx);
	for (int i = 0; i < fx->njobs; i++)
		expect(fx, i, WQ_VERDICT_ACK, WQ_REASON_NONE);
	assert_int_equal(atomic_load(&max_q[0]), 2);
	assert_in_range(atomic_load(&max_q[1]), 3, 8);
	assert_in_range(atomic_load(&running_max), 4, 8);
	assert_int_equal(fx->sem.held, 0);
	assert_int_equal(wq_sem_free(&fx->sem), 2);
	wq_sem_fini(&fx->sem);
}

/*
 * An async job that overruns its timeout: the cancel hook runs, the job
 * is retried with workqd's fault, and the late completion only drops the
 * handler's references.  The entry's timeout wins over the queue's.
 */
static void
test_async_timeout(void **state)
{
	struct fx *fx = *state;
	struct wq_pool_stats st;
	struct wq_job *job;
	int a, b, c;

	begin(fx, 2, 64, 3);
	a = push(fx, mkjob(fx, "b", "w_async_later", "60000 done",
	    "timeout", "50", NULL));
	job = mkjob(fx, "b", "w_async_later", "60000 done", NULL);
	job->policy.timeout_ms = 40;
	b = push(fx, job);
	job = mkjob(fx, "b", "w_async_later", "60000 done", "timeout", "30ms",
	    NULL);
	job->policy.timeout_ms = 60000;
	c = push(fx, job);
	wq_pool_start(fx->pool);
	STEP_UNTIL(fx, fx->nsettled == 3);
	for (int i = 0; i < 3; i++) {
		expect(fx, i, WQ_VERDICT_RETRY, WQ_REASON_NONE);
		assert_int_equal(fx->rec[i].result, WQ_FAIL);
		assert_int_equal(fx->rec[i].timed_out, 1);
		assert_in_range(fx->rec[i].due_ms, fx->rec[i].settled_ms - 1000,
		    fx->rec[i].settled_ms + 30000);
	}
	assert_string_equal(fx->rec[a].error, "timed out after 50 ms");
	assert_string_equal(fx->rec[b].error, "timed out after 40 ms");
	assert_string_equal(fx->rec[c].error, "timed out after 30 ms");
	assert_int_equal(atomic_load(&cancels), 3);
	/* The completions the cancel hook made arrive and are dropped. */
	STEP_UNTIL(fx, wq_module_refs(fx->mod[M_ASYNC_LATER]) == 0);
	settle_down(fx, 5);
	all_settled(fx);
	stats(fx, &st);
	assert_int_equal(st.timed_out, 3);
	assert_int_equal(st.started, 3);
	assert_int_equal(st.held, 0);
	assert_int_equal(atomic_load(&running), 0);
}

/*
 * A blocking job that overruns: its worker moves on at once while the
 * executor thread stays held until the handler returns; a job stuck in the
 * executor's queue behind held threads times out without ever running;
 * the executor never runs more handlers than it has threads.
 */
static void
test_blocking_timeout(void **state)
{
	struct fx *fx = *state;
	struct wq_pool_stats st;
	struct wq_exec_stats es;
	int j0, j1, j2, j3;

	begin(fx, 2, 8, 2);
	wq_pool_start(fx->pool);
	/* 200 ms: time enough for the handler to start first. */
	j0 = push(fx, mkjob(fx, "b", "w_block_gate", gate_payload(fx),
	    "timeout", "200", NULL));
	STEP_UNTIL(fx, fx->rec[j0].settled == 1);
	expect(fx, j0, WQ_VERDICT_RETRY, WQ_REASON_NONE);
	assert_int_equal(fx->rec[j0].timed_out, 1);
	assert_string_equal(fx->rec[j0].error, "timed out after 200 ms");
	stats(fx, &st);
	assert_int_equal(st.busy, 0);		/* the slot is free again */
	assert_int_equal(st.held, 1);
	assert_int_equal(st.timed_out, 1);
	wq_exec_stats(fx->exec, &es);
	assert_int_equal(es.busy, 1);
	assert_int_equal(es.held, 1);
	assert_int_equal(atomic_load(&running), 1);

	/* The free slot and the free thread run the next job. */
	j1 = push(fx, mkjob(fx, "b", "w_block_sleep", "0 done", NULL));
	STEP_UNTIL(fx, fx->rec[j1].settled == 1);
	expect(fx, j1, WQ_VERDICT_ACK, WQ_REASON_NONE);
	stats(fx, &st);
	assert_int_equal(st.held, 1);

	/* A second overrun holds the second thread. */
	j2 = push(fx, mkjob(fx, "b", "w_block_gate", gate_payload(fx),
	    "timeout", "200", NULL));
	STEP_UNTIL(fx, fx->rec[j2].settled == 1);
	expect(fx, j2, WQ_VERDICT_RETRY, WQ_REASON_NONE);
	stats(fx, &st);
	assert_int_equal(st.held, 2);
	wq_exec_stats(fx->exec, &es);
	assert_int_equal(es.busy, 2);
	assert_int_equal(es.held, 2);

	/* No thread left: this one waits in the executor's queue and times
	   out there, never started. */
	j3 = push(fx, mkjob(fx, "b", "w_block_sleep", "0 done", "timeout",
	    "100", NULL));
	STEP_UNTIL(fx, fx->rec[j3].settled == 1);
	expect(fx, j3, WQ_VERDICT_RETRY, WQ_REASON_NONE);
	assert_string_equal(fx->rec[j3].error, "timed out after 100 ms");
	assert_int_equal(atomic_load(&started), 3);
	wq_exec_stats(fx->exec, &es);
	assert_int_equal(es.queued, 0);
	assert_int_equal(es.busy, 2);
	stats(fx, &st);
	assert_int_equal(st.held, 2);
	assert_int_equal(st.timed_out, 3);
	assert_int_equal(st.busy, 0);
	/* Held stays held as long as the handlers run. */
	settle_down(fx, 10);
	stats(fx, &st);
	assert_int_equal(st.held, 2);
	assert_int_equal(wq_module_refs(fx->mod[M_BLOCK_GATE]), 2);

	gate_open(fx);
	STEP_UNTIL(fx, (stats(fx, &st), st.held == 0));
	wq_exec_stats(fx->exec, &es);
	assert_int_equal(es.busy, 0);
	assert_int_equal(es.held, 0);
	assert_int_equal(es.threads, 2);
	assert_int_equal(atomic_load(&running), 0);
	assert_in_range(atomic_load(&running_max), 1, 2);
	settle_down(fx, 5);
	/* The late returns settled nothing twice. */
	all_settled(fx);
	assert_int_equal(fx->nended, 4);
}

/* A blocking handler that polls job_cancelled stops soon after its
   timeout, and its thread is released. */
static void
test_blocking_cancelled_flag(void **state)
{
	struct fx *fx = *state;
	struct wq_pool_stats st;
	int j;

	begin(fx, 1, 8, 1);
	j = push(fx, mkjob(fx, "b", "w_block_sleep", "600000 done", "timeout",
	    "30", NULL));
	wq_pool_start(fx->pool);
	STEP_UNTIL(fx, fx->rec[j].settled == 1);
	expect(fx, j, WQ_VERDICT_RETRY, WQ_REASON_NONE);
	assert_string_equal(fx->rec[j].error, "timed out after 30 ms");
	/* Ten minutes of sleep, cut short by the flag. */
	STEP_UNTIL(fx, (stats(fx, &st), st.held == 0));
	assert_int_equal(atomic_load(&running), 0);
	all_settled(fx);
}

/* A job past its `expires` goes to the dead letters without running. */
static void
test_expired(void **state)
{
	struct fx *fx = *state;
	struct wq_pool_stats st;
	int old, fresh, now;
	char soon[32];

	snprintf(soon, sizeof(soon), "%lld",
	    (long long)(wq_clock_wall_ms() / 1000 + 3600));
	begin(fx, 1, 8, 2);
	old = push(fx, mkjob(fx, "b", "w_async_later", "0 done", "expires",
	    "1000000000", NULL));
	fresh = push(fx, mkjob(fx, "b", "w_async_later", "0 done", "expires",
	    soon, NULL));
	now = push(fx, mkjob(fx, "b", "w_block_sleep", "0 done", "expires",
	    "1000000000.5", NULL));
	wq_pool_start(fx->pool);
	STEP_UNTIL(fx, fx->nsettled == fx->njobs);
	all_settled(fx);
	expect(fx, old, WQ_VERDICT_DEAD, WQ_REASON_EXPIRED);
	expect(fx, now, WQ_VERDICT_DEAD, WQ_REASON_EXPIRED);
	assert_string_equal(fx->rec[old].error, "not started before it "
	    "expired");
	expect(fx, fresh, WQ_VERDICT_ACK, WQ_REASON_NONE);
	assert_int_equal(atomic_load(&started), 1);
	assert_int_equal(fx->resolves, 1);	/* refused before resolving */
	assert_int_equal(fx->nended, 3);
	stats(fx, &st);
	assert_int_equal(st.started, 1);
}

/* An unknown plugin is dead-lettered as invalid; the others run on. */
static void
test_unknown_plugin(void **state)
{
	struct fx *fx = *state;
	struct wq_pool_stats st;
	int bad, good;

	begin(fx, 1, 8, 1);
	bad = push(fx, mkjob(fx, "b", "nope", "x", NULL));
	good = push(fx, mkjob(fx, "b", "good_async", "x", NULL));
	wq_pool_start(fx->pool);
	STEP_UNTIL(fx, fx->nsettled == fx->njobs);
	all_settled(fx);
	expect(fx, bad, WQ_VERDICT_DEAD, WQ_REASON_INVALID);
	assert_string_equal(fx->rec[bad].error, "unknown plugin 'nope'");
	expect(fx, good, WQ_VERDICT_ACK, WQ_REASON_NONE);
	stats(fx, &st);
	assert_int_equal(st.started, 1);
	assert_int_equal(fx->nended, 2);
}

/*
 * Drain: the job waiting for its queue's permit is handed back unstarted
 * at once, running jobs finish, idle workers take nothing more, and done
 * runs once, after the last running job.
 */
static void
test_drain(void **state)
{
	struct fx *fx = *state;
	struct wq_pool_stats st;
	struct wq_job *job;
	void *item;
	int j0, j1, j2, j3;

	wq_sem_init(&fx->sem, fx->loop, 1);
	fx->sem_on = 1;
	begin(fx, 2, 8, 4);
	j0 = push(fx, mkjob(fx, "a", "w_async_later", "100 done", NULL));
	j1 = push(fx, mkjob(fx, "a", "good_async", "x", NULL));
	j2 = push(fx, mkjob(fx, "b", "w_block_gate", gate_payload(fx), NULL));
	wq_pool_start(fx->pool);
	STEP_UNTIL(fx, atomic_load(&started) == 2 &&
	    (stats(fx, &st), st.busy == 3));
	assert_int_equal(fx->rec[j1].settled, 0);
	assert_int_equal(wq_module_refs(fx->mod[M_GOOD_ASYNC]), 1);

	wq_pool_drain(fx->pool, drained, fx);
	/* Handed back right there, and its module reference dropped. */
	expect(fx, j1, WQ_VERDICT_HANDBACK, WQ_REASON_NONE);
	assert_int_equal(wq_module_refs(fx->mod[M_GOOD_ASYNC]), 0);
	assert_int_equal(fx->drained, 0);
	stats(fx, &st);
	assert_int_equal(st.busy, 2);
	assert_int_equal(st.started, 2);

	/* Draining workers take no new job. */
	j3 = push(fx, mkjob(fx, "b", "good_async", "x", NULL));
	STEP_UNTIL(fx, fx->rec[j0].settled == 1);
	expect(fx, j0, WQ_VERDICT_ACK, WQ_REASON_NONE);
	settle_down(fx, 10);
	assert_int_equal(fx->drained, 0);
	assert_int_equal(fx->rec[j3].settled, 0);
	assert_int_equal(wq_queue_qsize(fx->local), 1);

	gate_open(fx);
	STEP_UNTIL(fx, fx->drained == 1);
	expect(fx, j2, WQ_VERDICT_ACK, WQ_REASON_NONE);
	settle_down(fx, 10);
	assert_int_equal(fx->drained, 1);
	assert_int_equal(fx->rec[j3].settled, 0);
	assert_int_equal(fx->sem.held, 0);

	/* The job nobody took: what the daemon hands back itself. */
	assert_int_equal(wq_queue_get_nowait(fx->local, &item), 0);
	job = item;
	assert_int_equal((int)job->id_seq, j3);
	wq_job_unref(job);
	assert_int_equal(wq_queue_task_done(fx->local), 0);
	fx->rec[j3].settled = 1;
	fx->nsettled++;
	all_settled(fx);
	wq_sem_fini(&fx->sem);
}

/* Drain with nothing running: done runs on a later turn, once. */
static void
test_drain_idle(void **state)
{
	struct fx *fx = *state;

	begin(fx, 1, 8, 3);
	wq_pool_start(fx->pool);
	settle_down(fx, 3);
	wq_pool_drain(fx->pool, drained, fx);
	assert_int_equal(fx->drained, 0);
	STEP_UNTIL(fx, fx->drained == 1);
	settle_down(fx, 5);
	assert_int_equal(fx->drained, 1);
	/* Stopped workers leave new items alone. */
	push(fx, mkjob(fx, "b", "good_async", "x", NULL));
	settle_down(fx, 5);
	assert_int_equal(fx->nsettled, 0);
	assert_int_equal(fx->drained, 1);
}

/*
 * The daemon's stop: shut the queue down, tell running jobs, drain.  The
 * cancelled flag is only a hint: an async job is not cancelled and
 * finishes; a blocking job that sees the flag and gives up with WQ_FAIL is
 * retried as usual; one that asks for a retry is handed back at once, even
 * on its last attempt (the stop is not the job's failure).
 */
static void
test_shutdown_cancel_drain(void **state)
{
	struct fx *fx = *state;
	int a, b, c, d, left;

	begin(fx, 4, 8, 4);
	a = push(fx, mkjob(fx, "b", "w_async_later", "300 done", NULL));
	b = push(fx, mkjob(fx, "b", "w_block_sleep", "600000 done", NULL));
	c = push(fx, mkjob(fx, "b", "w_block_sleep", "600000 retry", NULL));
	d = push(fx, mkjob(fx, "b", "w_block_sleep", "600000 retry",
	    "retries", "0", NULL));
	left = push(fx, mkjob(fx, "b", "good_async", "x", NULL));
	wq_pool_start(fx->pool);
	STEP_UNTIL(fx, atomic_load(&started) == 4);
	wq_queue_shutdown(fx->local, 1, drop, NULL);
	fx->rec[left].settled = 1;		/* dropped by the queue */
	fx->nsettled++;
	wq_pool_cancel(fx->pool);
	wq_pool_drain(fx->pool, drained, fx);
	STEP_UNTIL(fx, fx->drained == 1);
	all_settled(fx);
	assert_int_equal(atomic_load(&cancels), 0);
	expect(fx, a, WQ_VERDICT_ACK, WQ_REASON_NONE);
	expect(fx, b, WQ_VERDICT_RETRY, WQ_REASON_NONE);
	expect(fx, c, WQ_VERDICT_HANDBACK, WQ_REASON_NONE);
	expect(fx, d, WQ_VERDICT_HANDBACK, WQ_REASON_NONE);
	assert_int_equal(fx->rec[b].timed_out, 0);
	assert_int_equal(fx->rec[b].result, WQ_FAIL);
	assert_memory_equal(fx->rec[b].error, "cancelled after ", 16);
	assert_int_equal(fx->rec[c].result, WQ_RETRY);
	assert_int_equal(atomic_load(&running), 0);
}

/* Resizing: more workers start at once; extra ones stop when idle. */
static void
test_resize(void **state)
{
	struct fx *fx = *state;
	struct wq_pool_stats st;

	begin(fx, 2, 8, 2);
	for (int i = 0; i < 80; i++)
		push(fx, mkjob(fx, "b", "w_async_later", "10 done", NULL));
	/* Not started: growing starts nothing yet. */
	assert_int_equal(wq_pool_resize(fx->pool, 3), 0);
	assert_int_equal(wq_pool_resize(fx->pool, 2), 0);
	settle_down(fx, 5);
	assert_int_equal(atomic_load(&started), 0);
	wq_pool_start(fx->pool);
	STEP_UNTIL(fx, atomic_load(&started) >= 4);
	assert_int_equal(atomic_load(&running_max), 2);
	stats(fx, &st);
	assert_int_equal(st.workers, 2);

	assert_int_equal(wq_pool_resize(fx->pool, 6), 0);
	stats(fx, &st);
	assert_int_equal(st.workers, 6);
	STEP_UNTIL(fx, atomic_load(&running_max) == 6);
	assert_true(fx->nsettled < fx->njobs - 10);

	/* Shrinking: the extra workers finish their jobs, then stop. */
	assert_int_equal(wq_pool_resize(fx->pool, 1), 0);
	STEP_UNTIL(fx, (stats(fx, &st), st.busy <= 1));
	atomic_store(&running_max, atomic_load(&running));
	fx->max_busy = 0;
	assert_true(fx->nsettled < fx->njobs - 5);
	STEP_UNTIL(fx, fx->nsettled == fx->njobs);
	assert_int_equal(atomic_load(&running_max), 1);
	assert_int_equal(fx->max_busy, 1);
	all_settled(fx);
	for (int i = 0; i < fx->njobs; i++)
		expect(fx, i, WQ_VERDICT_ACK, WQ_REASON_NONE);
	stats(fx, &st);
	assert_int_equal(st.workers, 1);

	/* And up again: the stopped workers come back. */
	assert_int_equal(wq_pool_resize(fx->pool, 4), 0);
	for (int i = 0; i < 8; i++)
		push(fx, mkjob(fx, "b", "w_async_later", "20 done", NULL));
	atomic_store(&running_max, 0);
	STEP_UNTIL(fx, fx->nsettled == fx->njobs);
	assert_int_equal(atomic_load(&running_max), 4);
	all_settled(fx);
}

/* A full executor queue: the job is retried, not lost. */
static void
test_exec_full(void **state)
{
	struct fx *fx = *state;
	struct wq_exec_stats es;
	int j0, j1, j2;

	begin(fx, 1, 1, 3);
	wq_pool_start(fx->pool);
	j0 = push(fx, mkjob(fx, "b", "w_block_gate", gate_payload(fx), NULL));
	STEP_UNTIL(fx, atomic_load(&started) == 1);
	j1 = push(fx, mkjob(fx, "b", "w_block_gate", gate_payload(fx), NULL));
	STEP_UNTIL(fx, (wq_exec_stats(fx->exec, &es), es.queued == 1));
	j2 = push(fx, mkjob(fx, "b", "good_blocking", "x", NULL));
	STEP_UNTIL(fx, fx->rec[j2].settled == 1);
	expect(fx, j2, WQ_VERDICT_RETRY, WQ_REASON_NONE);
	assert_int_equal(fx->rec[j2].result, WQ_RETRY);
	assert_string_equal(fx->rec[j2].error, "executor queue full");
	gate_open(fx);
	STEP_UNTIL(fx, fx->nsettled == fx->njobs);
	expect(fx, j0, WQ_VERDICT_ACK, WQ_REASON_NONE);
	expect(fx, j1, WQ_VERDICT_ACK, WQ_REASON_NONE);
	all_settled(fx);
}

struct opener {
	pthread_t	 thread;
	pid_t		 tid;		/* the test thread */
	int		 fd;		/* the gate's write end */
	atomic_int	 go;
};

/* The state letter of thread tid ('R', 'S', ...), or 0. */
static char
thread_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : 0;
}

/* Opens the gate once the test thread sleeps inside wq_exec_free (joining
   the executor's thread), so that the stop comes before the gate. */
static void *
opener_run(void *arg)
{
	struct opener *o = arg;
	struct timespec ms = { 0, 1000000 };
	int64_t end;

	while (!atomic_load(&o->go))
		nanosleep(&ms, NULL);
	end = wq_clock_mono_ms() + 2000;
	while (thread_state(o->tid) != 'S' && wq_clock_mono_ms() < end)
		nanosleep(&ms, NULL);
	close(o->fd);
	return NULL;
}

/*
 * The executor stops with a job still in its queue: that job is retried
 * with "not run: stopping" and the running one finishes normally.  The
 * test thread blocks in wq_exec_free until the running handler returns,
 * so a helper thread opens the gate; should the executor's thread still
 * get to the queued job first, that job simply runs, and the test says so.
 */
static void
test_exec_stopped(void **state)
{
	struct fx *fx = *state;
	struct wq_exec_stats es;
	struct opener o = { .tid = (pid_t)syscall(SYS_gettid) };
	int j0, j1;

	begin(fx, 1, 4, 2);
	wq_pool_start(fx->pool);
	j0 = push(fx, mkjob(fx, "b", "w_block_gate", gate_payload(fx), NULL));
	STEP_UNTIL(fx, atomic_load(&started) == 1);
	j1 = push(fx, mkjob(fx, "b", "good_blocking", "x", NULL));
	STEP_UNTIL(fx, (wq_exec_stats(fx->exec, &es), es.queued == 1));
	o.fd = fx->gate[1];
	fx->gate[1] = -1;
	assert_int_equal(pthread_create(&o.thread, NULL, opener_run, &o), 0);
	atomic_store(&o.go, 1);
	wq_exec_free(fx->exec);		/* joins j0's thread, drops j1 */
	fx->exec = NULL;
	assert_int_equal(pthread_join(o.thread, NULL), 0);
	STEP_UNTIL(fx, fx->nsettled == fx->njobs);
	expect(fx, j0, WQ_VERDICT_ACK, WQ_REASON_NONE);
	all_settled(fx);
	if (fx->rec[j1].verdict == WQ_VERDICT_ACK &&
	    atomic_load(&started) == 1)
		skip();			/* the thread took j1 before the stop */
	expect(fx, j1, WQ_VERDICT_RETRY, WQ_REASON_NONE);
	assert_int_equal(fx->rec[j1].result, WQ_RETRY);
	assert_string_equal(fx->rec[j1].error, "not run: stopping");
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_outcomes),
		T(test_workers_bound),
		T(test_sem_limit),
		T(test_async_timeout),
		T(test_blocking_timeout),
		T(test_blocking_cancelled_flag),
		T(test_expired),
		T(test_unknown_plugin),
		T(test_drain),
		T(test_drain_idle),
		T(test_shutdown_cancel_drain),
		T(test_resize),
		T(test_exec_full),
		T(test_exec_stopped),
#undef T
	};

	if (getenv("WQ_TEST_PLUGIN_DIR") == NULL) {
		fprintf(stderr, "test_worker: set WQ_TEST_PLUGIN_DIR to the "
		    "directory of the fixture plugins\n");
		return 1;
	}
	/* The pool logs every retry and dead letter at warning. */
	wq_log_set_level(WQ_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
