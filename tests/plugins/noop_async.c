/*
 * noop_async: the benchmark's async handler.  It finishes every job on the
 * event loop the moment it starts, so a drain measures workqd itself: the
 * fetch, the local queue, the worker and the batched acknowledgement, with
 * no handler cost on top.  Config: none.
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
noop_start(void *state, struct wq_job *job)
{
	(void)state;
	(void)job;
	return WQ_DONE;
}

WQ_PLUGIN(
	.name = "noop_async",
	.version = "1.0",
	.init = noop_init,
	.start = noop_start,
);
