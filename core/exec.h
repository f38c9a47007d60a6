/*
 * The executor: a fixed pool of threads for blocking work (asyncio's
 * run_in_executor and to_thread).
 *
 * Work goes in from the loop thread through a bounded submission queue (a
 * mutex, a condition variable and a list); each task's fn runs on an
 * executor thread, then its done runs on the loop thread, handed back with
 * wq_loop_post, whose wakeup is written only when the loop's list goes from
 * empty to non-empty, so completions that pile up while the loop is busy
 * cost one wakeup.  A task is a struct the caller embeds: submitting never
 * allocates.
 *
 * The executor never runs more threads than it was created with.  A task
 * whose caller gave up on it (a timed-out blocking handler) still occupies
 * its thread until fn returns; the pool counts such threads as held.
 */
#ifndef WQ_EXEC_H
#define WQ_EXEC_H

#include <stdatomic.h>
#include <sys/queue.h>

#include "loop.h"

struct wq_exec;

struct wq_exec_task {
	/* Set by the caller. */
	void		(*fn)(struct wq_exec_task *task);	/* executor thread */
	void		(*done)(struct wq_exec_task *task);	/* loop thread */
	/* Private to exec.c. */
	TAILQ_ENTRY(wq_exec_task) link;
	struct wq_call	 call;
	struct wq_exec	*exec;
	atomic_int	 abandoned;
	int		 state;
};

/* Loop thread.  Returns NULL with errno set. */
struct wq_exec	*wq_exec_new(struct wq_loop *loop, unsigned threads,
		    unsigned queue_max);
/*
 * Loop thread.  Stops taking tasks, lets running ones finish, joins the
 * threads.  Tasks still queued are not run; their done is called with
 * wq_exec_task_ran() false.  Blocks while fn calls are running.
 * Tasks that ran (including those that finish during the join) were
 * already posted to the loop: their done runs on a later loop turn, after
 * this returns, and never touches the freed executor.  The caller keeps
 * such tasks valid and keeps running the loop until their done ran
 * (wq_loop_free drops calls still pending).
 */
void		 wq_exec_free(struct wq_exec *exec);

/* Loop thread.  0, or -1 with EAGAIN (queue full) or ESHUTDOWN. */
int	wq_exec_submit(struct wq_exec *exec, struct wq_exec_task *task);
/* Loop thread.  Removes a task that has not started: 0, and done will
   not be called; -1 with EBUSY when it already runs or ran. */
int	wq_exec_cancel(struct wq_exec_task *task);
/* Loop thread.  The caller no longer waits for this running task: it
   counts as holding a thread until fn returns (done still runs). */
void	wq_exec_abandon(struct wq_exec_task *task);
/* In done: whether fn ran (0 when wq_exec_free dropped the task). */
int	wq_exec_task_ran(const struct wq_exec_task *task);

struct wq_exec_stats {
	unsigned	threads;	/* size of the pool */
	unsigned	busy;		/* threads running a task */
	unsigned	held;		/* of those, running an abandoned task */
	unsigned	queued;		/* submitted, not started */
	unsigned	queue_max;
};

/* Any thread. */
void	wq_exec_stats(struct wq_exec *exec, struct wq_exec_stats *st);

#endif /* WQ_EXEC_H */
