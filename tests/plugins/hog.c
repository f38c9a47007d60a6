/*
 * hog: an async test handler that misbehaves on purpose.  start() runs on
 * the event loop and busy-waits for the payload's milliseconds before it
 * returns WQ_DONE, holding the loop the whole time: the stall detector
 * must name it, and a hold longer than WatchdogSec must get the daemon
 * killed by systemd's watchdog (the systemd test puts such a job in a queue
 * with max_deliveries: 1, so the restarted daemon dead-letters it instead
 * of wedging again).
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <workqd/plugin.h>

static const struct wq_host *host;

static int
hog_init(const struct wq_host *h, const struct wq_node *conf, void **state)
{
	static const char *const known[] = { NULL };

	host = h;
	*state = NULL;
	return host->conf_keys(conf, known);
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static enum wq_outcome
hog_start(void *state, struct wq_job *job)
{
	const char *p = host->job_payload(job, NULL);
	int64_t ms = strtoll(p, NULL, 10), end;
	volatile uint64_t spins = 0;

	(void)state;
	host->log(WQ_LOG_INFO, "job %s: holding the loop for %lld ms",
	    host->job_id(job), (long long)ms);
	for (end = now_ns() + ms * 1000000; now_ns() < end;)
		spins++;
	return WQ_DONE;
}

WQ_PLUGIN(
	.name = "hog",
	.version = "1.0",
	.init = hog_init,
	.start = hog_start,
);
