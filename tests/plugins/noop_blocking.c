/*
 * noop_blocking: the benchmark's blocking handler.  run() returns at once,
 * but a blocking handler always runs on an executor thread, so every job
 * pays the thread boundary: the submission under the executor's mutex, a
 * thread waking, and the hop back to the loop through the done list.  That
 * boundary is what a drain with this plugin measures.  Config: none.
 */
#include <stddef.h>

#include <workqd/plugin.h>

static int
noop_init(const struct wq_host *host, const struct wq_node *conf,
    void **state)
{
	static const char *const known[] = { NULL };

	*state = NULL;
	return host->conf_keys(conf, known);
}

static enum wq_outcome
noop_run(void *state, struct wq_job *job)
{
	(void)state;
	(void)job;
	return WQ_DONE;
}

WQ_PLUGIN(
	.name = "noop_blocking",
	.version = "1.0",
	.init = noop_init,
	.run = noop_run,
);
