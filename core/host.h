/*
 * The host table handed to plugins (struct wq_host in <workqd/plugin.h>):
 * workqd's logging, config getters, job accessors, completion, executor
 * submission and loop timers, behind one table of function pointers.
 *
 * The table has no context argument, so the host keeps one process-wide
 * context (the loop and the executor) and a thread-local "current plugin",
 * set around every call into plugin code with wq_host_enter/leave, so that
 * a plugin's log lines carry its name and a plugin callback that blocks the
 * loop is reported by the stall detector with its plugin and job.
 */
#ifndef WQ_HOST_H
#define WQ_HOST_H

#include "exec.h"
#include "job.h"
#include "loop.h"
#include "workqd/plugin.h"

/* Loop thread, once at start-up.  loop and exec may be NULL (workqd -t):
   then submit, timers and the event base are unavailable. */
const struct wq_host	*wq_host_init(struct wq_loop *loop,
			    struct wq_exec *exec);
/* The table given by wq_host_init. */
const struct wq_host	*wq_host(void);
/*
 * complete() sets the job's outcome and queues job->call on the loop (on a
 * later turn even when called on the loop thread): whoever dispatches an
 * async job sets job->call.fn first.
 */

/* Any thread.  Brackets a call into a plugin's code. */
void	wq_host_enter(const char *plugin, const struct wq_job *job);
void	wq_host_leave(void);

#endif /* WQ_HOST_H */
