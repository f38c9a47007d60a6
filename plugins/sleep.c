/*
 * sleep: a blocking handler that sleeps for the payload's milliseconds.
 *
 * A template for handlers that block (disk, a database driver, a CPU-bound
 * step): run() is called on an executor thread, never on the event loop,
 * and returns the outcome.  A blocking handler cannot be killed safely, so
 * it should poll host->job_cancelled() and give up when asked: after its
 * timeout or when workqd stops.  Config: `max: 60s`, the longest sleep
 * allowed (default 10 minutes).
 *
 *   redis-cli XADD workq:default '*' plugin sleep payload 250
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <workqd/plugin.h>

#define STEP_MS	50

static const struct wq_host *host;

struct sleep_conf {
	int64_t	max_ms;
};

static int
parse(const struct wq_host *h, const struct wq_node *conf, int64_t *max_ms)
{
	static const char *const known[] = { "max", NULL };

	*max_ms = 600000;
	if (h->conf_keys(conf, known) < 0 || h->conf_ms(conf, "max", max_ms) < 0)
		return -1;
	return 0;
}

static int
sleep_check(const struct wq_host *h, const struct wq_node *conf)
{
	int64_t max_ms;

	return parse(h, conf, &max_ms);
}

static int
sleep_init(const struct wq_host *h, const struct wq_node *conf, void **state)
{
	struct sleep_conf *c = malloc(sizeof(*c));

	host = h;
	if (c == NULL || parse(h, conf, &c->max_ms) < 0) {
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

static void
sleep_fini(void *state)
{
	free(state);
}

static void
nap(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static enum wq_outcome
sleep_run(void *state, struct wq_job *job)
{
	const struct sleep_conf *c = state;
	const char *p = host->job_payload(job, NULL);
	char *end;
	long long ms, total;

	errno = 0;
	ms = strtoll(p, &end, 10);
	if (errno != 0 || end == p || *end != '\0' || ms < 0 || ms > c->max_ms) {
		/* Retrying would not help: fail for good, with the reason. */
		host->job_error(job, "payload: expected 0 to %lld ms",
		    (long long)c->max_ms);
		return WQ_DEAD;
	}
	for (total = ms; ms > 0; ms -= STEP_MS) {
		if (host->job_cancelled(job)) {
			host->job_error(job, "cancelled");
			return WQ_RETRY;
		}
		nap(ms < STEP_MS ? ms : STEP_MS);
	}
	host->log(WQ_LOG_INFO, "job %s: slept %lld ms", host->job_id(job), total);
	return WQ_DONE;
}

WQ_PLUGIN(
	.name = "sleep",
	.version = "1.0",
	.timeout_ms = 60000,
	.conf_check = sleep_check,
	.init = sleep_init,
	.fini = sleep_fini,
	.run = sleep_run,
);
