/*
 * Metrics: what workqd counts about its jobs, and the Prometheus text
 * exposition format (version 0.0.4) that shows them at /metrics.
 *
 * Job counters and histograms live here, per queue and per plugin, and are
 * updated by the loop thread as jobs end: plain integers, no locks.  What
 * other parts own (the local queue, the pool, the executor, the Redis
 * connections) is sampled by the caller when a scrape comes and handed to
 * wq_metrics_render as gauges, so this module depends on none of them.
 * Redis's view of each queue (pending entries, the oldest one) is set by
 * the reporter, which asks Redis every heartbeat, never on a scrape.
 *
 * Series are bounded: at most WQ_METRICS_MAX_SERIES (queue, plugin) pairs;
 * jobs beyond that are counted under plugin "(other)" of their queue.
 *
 * Loop thread only.
 */
#ifndef WQ_METRICS_H
#define WQ_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"

#define WQ_METRICS_MAX_SERIES	256

struct evbuffer;
struct wq_metrics;

/* Figures sampled at scrape time by the caller. */
struct wq_metrics_gauges {
	const char	*version;
	size_t		 local_jobs;		/* the local queue */
	unsigned	 local_capacity;
	unsigned	 workers;
	unsigned	 workers_busy;
	unsigned	 exec_threads;
	unsigned	 exec_busy;
	unsigned	 exec_held;		/* held by overrunning handlers */
	unsigned	 exec_queued;
	int		 redis_up;		/* both connections ready */
	uint64_t	 redis_reconnects;
	unsigned	 unconfirmed;		/* outcomes not yet in Redis */
	uint64_t	 loop_stalls;
	int64_t		 now_ms;		/* Unix ms, for ages */
};

/* A queue's job totals, for the reporter's counters in Redis. */
struct wq_metrics_totals {
	uint64_t	done;
	uint64_t	failed;
	uint64_t	retried;
	uint64_t	dead;
	uint64_t	expired;
	uint64_t	timed_out;
};

/* NULL if out of memory. */
struct wq_metrics	*wq_metrics_new(void);
void			 wq_metrics_free(struct wq_metrics *m);

/* Makes queue's series exist (all zero) before its first job, with its
   default plugin; names are copied.  -1 if out of memory. */
int	wq_metrics_add_queue(struct wq_metrics *m, const char *queue,
	    const char *plugin);

/*
 * The pool ended job (the pool's `ended` hook): it ran for run_us, or was
 * refused before it started (started_us == 0).  now_ms is the wall clock,
 * for the wait since the push (the entry ID's time).  job is borrowed.
 */
void	wq_metrics_job_ended(struct wq_metrics *m, const struct wq_job *job,
	    int64_t run_us, int64_t now_ms);
/* The fetcher decided job without running it (invalid, poison, ...). */
void	wq_metrics_job_refused(struct wq_metrics *m, const struct wq_job *job);

/* Redis's view of queue: n entries pending in the group, the oldest
   pushed at oldest_ms (Unix ms, Redis's clock; < 0: none pending). */
void	wq_metrics_set_pending(struct wq_metrics *m, const char *queue,
	    uint64_t n, int64_t oldest_ms);
/* Redis's clock minus ours, in ms, for the pending ages. */
void	wq_metrics_set_clock_offset(struct wq_metrics *m, int64_t ms);

/* The totals of queue so far (all zero for a queue never seen). */
void	wq_metrics_totals(const struct wq_metrics *m, const char *queue,
	    struct wq_metrics_totals *t);

/*
 * Appends the exposition text to out: 0, or -1 with errno EFBIG when it
 * would exceed max bytes (what was appended is removed again) or ENOMEM.
 */
int	wq_metrics_render(const struct wq_metrics *m,
	    const struct wq_metrics_gauges *g, struct evbuffer *out,
	    size_t max);

#endif /* WQ_METRICS_H */
