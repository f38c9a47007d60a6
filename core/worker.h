/*
 * The worker pool: a fixed number of workers, each a state machine on the
 * loop (an asyncio task, not a thread).  A worker gets a job from the local
 * queue, checks that it may still start (expiry, a known plugin), takes a
 * permit of its queue's semaphore, runs it (an async handler on the loop, a
 * blocking one on the executor) under a timeout (asyncio's wait_for),
 * decides the verdict, hands the job to the settler and marks the queue
 * item done.  One failure never stops the others (gather with
 * return_exceptions=True).
 *
 * On timeout an async handler's cancel hook is called; a blocking handler
 * cannot be stopped safely, so its job's cancelled flag is set, the worker
 * moves on, and the executor thread counts as held until the handler
 * returns.
 *
 * Loop thread only.
 */
#ifndef WQ_WORKER_H
#define WQ_WORKER_H

#include <stdint.h>

#include "exec.h"
#include "job.h"
#include "loop.h"
#include "queue.h"

struct wq_pool;

struct wq_pool_ops {
	/*
	 * The module to run job on, with a reference taken for the job, or
	 * NULL after setting job's fault (an unknown plugin, say).
	 */
	struct wq_module	*(*resolve)(void *ctx, struct wq_job *job);
	/* Takes the job (one reference): records its verdict and drops it. */
	void			 (*settle)(void *ctx, struct wq_job *job);
	/* Optional: a job ended (ran or was refused); for the metrics. */
	void			 (*ended)(void *ctx, const struct wq_job *job,
				    int64_t run_us);
	void			*ctx;
};

struct wq_pool_stats {
	unsigned	workers;	/* slots */
	unsigned	busy;		/* running a job or waiting for a permit */
	unsigned	held;		/* executor threads held by overruns */
	uint64_t	started;
	uint64_t	timed_out;
};

/* Returns NULL with errno set.  exec may be NULL if no plugin blocks. */
struct wq_pool	*wq_pool_new(struct wq_loop *loop, struct wq_queue *local,
		    struct wq_exec *exec, unsigned workers,
		    const struct wq_pool_ops *ops);
/* No job may be running (after the drain callback ran). */
void		 wq_pool_free(struct wq_pool *pool);

/* Starts the workers. */
void	wq_pool_start(struct wq_pool *pool);
/* Reload: more workers start at once; extra ones stop when idle. */
int	wq_pool_resize(struct wq_pool *pool, unsigned workers);
/*
 * Stop: workers stop taking jobs (shut the local queue down first so idle
 * workers wake); a job waiting for its permit is handed back unstarted;
 * running jobs go on.  done(arg) runs once no job runs.
 */
void	wq_pool_drain(struct wq_pool *pool, void (*done)(void *), void *arg);
/*
 * Asks every running job to stop by setting its cancelled flag (the daemon
 * does it when shutdown_timeout runs out).  A handler that gives up should
 * return WQ_RETRY: during a drain such a job is handed back at once,
 * uncounted, instead of waiting out a backoff.  Cancel hooks are for
 * timeouts only.
 */
void	wq_pool_cancel(struct wq_pool *pool);

void	wq_pool_stats(const struct wq_pool *pool, struct wq_pool_stats *st);

#endif /* WQ_WORKER_H */
