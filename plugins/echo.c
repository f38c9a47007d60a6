/*
 * echo: an async handler that logs each job's payload and finishes at once.
 *
 * The smallest useful plugin, and a template: an async handler runs on the
 * event loop thread, so it must never block.  Returning an outcome from
 * start() finishes the job there and then; a handler that waits for
 * something (a timer, a socket) returns WQ_PENDING instead and calls
 * host->complete() later.  Config: none.
 *
 *   redis-cli XADD workq:default '*' payload hello
 *   -> <6>echo: job 1700000000000-0: hello
 */
#include <stddef.h>

#include <workqd/plugin.h>

/* The host table: kept from init, it is valid for the daemon's life. */
static const struct wq_host *host;

static int
echo_init(const struct wq_host *h, const struct wq_node *conf, void **state)
{
	static const char *const known[] = { NULL };

	host = h;
	*state = NULL;
	return host->conf_keys(conf, known);	/* no settings: refuse any */
}

static enum wq_outcome
echo_start(void *state, struct wq_job *job)
{
	size_t len, i;
	const char *p = host->job_payload(job, &len);
	char text[257];

	(void)state;
	/* Payloads are bytes: show at most 256 of them, unprintable as '.'. */
	for (i = 0; i < len && i < sizeof(text) - 1; i++)
		text[i] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.';
	text[i] = '\0';
	host->log(WQ_LOG_INFO, "job %s: %s%s", host->job_id(job), text,
	    len > i ? "..." : "");
	return WQ_DONE;
}

WQ_PLUGIN(
	.name = "echo",
	.version = "1.0",
	.conf_check = NULL,
	.init = echo_init,
	.start = echo_start,
);
