/*
 * slow: a blocking test handler for the stop and reload tests.  The payload
 * is "MS" or "MS poll": sleep MS milliseconds on the executor thread, and
 * with "poll" give up (WQ_RETRY, "cancelled") as soon as job_cancelled()
 * says so; without it the handler ignores cancellation, like a database
 * call that cannot be interrupted.
 *
 * It logs "slow[TAG]: job ID: started" and "... done after MS ms", and
 * "slow[TAG]: fini" when its instance is torn down, so a test can see which
 * instance (which config, which loaded file) ran a job and when the old
 * one went away after a reload.  Config: `tag: TEXT` (default "-").
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <workqd/plugin.h>

#define STEP_MS	10

static const struct wq_host *host;

struct slow {
	char	tag[64];
};

static int
parse(const struct wq_host *h, const struct wq_node *conf, const char **tag)
{
	static const char *const known[] = { "tag", NULL };

	*tag = "-";
	if (h->conf_keys(conf, known) < 0 || h->conf_str(conf, "tag", tag) < 0)
		return -1;
	return 0;
}

static int
slow_check(const struct wq_host *h, const struct wq_node *conf)
{
	const char *tag;

	return parse(h, conf, &tag);
}

static int
slow_init(const struct wq_host *h, const struct wq_node *conf, void **state)
{
	struct slow *s = calloc(1, sizeof(*s));
	const char *tag;

	host = h;
	if (s == NULL || parse(h, conf, &tag) < 0) {
		free(s);
		return -1;
	}
	/* Copied: a test checks the config may go after fini, not before. */
	strncpy(s->tag, tag, sizeof(s->tag) - 1);
	*state = s;
	return 0;
}

static void
slow_fini(void *state)
{
	struct slow *s = state;

	host->log(WQ_LOG_INFO, "slow[%s]: fini", s->tag);
	free(s);
}

static void
nap(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static enum wq_outcome
slow_run(void *state, struct wq_job *job)
{
	const struct slow *s = state;
	const char *p = host->job_payload(job, NULL);
	int poll = strstr(p, "poll") != NULL;
	long long ms = strtoll(p, NULL, 10), left;

	host->log(WQ_LOG_INFO, "slow[%s]: job %s: started", s->tag,
	    host->job_id(job));
	for (left = ms; left > 0; left -= STEP_MS) {
		if (poll && host->job_cancelled(job)) {
			host->log(WQ_LOG_INFO, "slow[%s]: job %s: cancelled",
			    s->tag, host->job_id(job));
			host->job_error(job, "cancelled");
			return WQ_RETRY;
		}
		nap(left < STEP_MS ? left : STEP_MS);
	}
	host->log(WQ_LOG_INFO, "slow[%s]: job %s: done after %lld ms", s->tag,
	    host->job_id(job), ms);
	return WQ_DONE;
}

WQ_PLUGIN(
	.name = "slow",
	.version = "1.0",
	.timeout_ms = 600000,
	.conf_check = slow_check,
	.init = slow_init,
	.fini = slow_fini,
	.run = slow_run,
);
