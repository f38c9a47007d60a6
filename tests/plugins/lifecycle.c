/*
 * lifecycle: a blocking test plugin whose payload says what to do, and
 * which records every run (one line, one write(2), O_APPEND) in the file
 * named by its `file:` setting:
 *
 *   "<job id> <attempt> <start Unix ms> <end Unix ms> <queue>\n"
 *
 * Payloads: ok | fail | dead | retry:MS | failuntil:N (fail while the
 * attempt is below N) | sleep:MS (polls cancellation; RETRY if cancelled) |
 * hold:MS (sleeps without looking at cancellation) | concurrent:MS (sleeps,
 * counting how many run at once; the peak goes into the record line).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <workqd/plugin.h>

static const struct wq_host *host;
static int fd = -1;
static atomic_int running, peak;

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int
lc_init(const struct wq_host *h, const struct wq_node *conf, void **state)
{
	const char *file = NULL;

	host = h;
	*state = NULL;
	if (h->conf_str(conf, "file", &file) != 0)
		return h->conf_error(conf, "lifecycle: file: required");
	if ((fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
		return h->conf_error(conf, "lifecycle: %s: %s", file,
		    strerror(errno));
	return 0;
}

static void
lc_fini(void *state)
{
	(void)state;
	if (fd >= 0)
		close(fd);
}

static void
record(struct wq_job *job, long long start, int extra)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%s %u %lld %lld %s %d\n",
	    host->job_id(job), host->job_attempt(job), start, now_ms(),
	    host->job_queue(job), extra);

	if (write(fd, line, (size_t)n) != n)
		host->log(WQ_LOG_ERR, "lifecycle: record: %s", strerror(errno));
}

static enum wq_outcome
sleep_polling(struct wq_job *job, long ms)
{
	for (; ms > 0; ms -= 10) {
		if (host->job_cancelled(job))
			return WQ_RETRY;
		nap(ms < 10 ? ms : 10);
	}
	return WQ_DONE;
}

static enum wq_outcome
lc_run(void *state, struct wq_job *job)
{
	const char *p = host->job_payload(job, NULL);
	long long start = now_ms();
	enum wq_outcome out = WQ_DONE;
	int extra = 0;

	(void)state;
	if (strcmp(p, "fail") == 0) {
		host->job_error(job, "asked to fail");
		out = WQ_FAIL;
	} else if (strcmp(p, "dead") == 0) {
		host->job_error(job, "asked to die");
		out = WQ_DEAD;
	} else if (strncmp(p, "retry:", 6) == 0) {
		host->job_retry_in(job, atol(p + 6));
		out = WQ_RETRY;
	} else if (strncmp(p, "failuntil:", 10) == 0) {
		if (host->job_attempt(job) < (unsigned)atoi(p + 10)) {
			host->job_error(job, "attempt %u is too early",
			    host->job_attempt(job));
			out = WQ_FAIL;
		}
	} else if (strncmp(p, "sleep:", 6) == 0)
		out = sleep_polling(job, atol(p + 6));
	else if (strncmp(p, "hold:", 5) == 0)
		nap(atol(p + 5));
	else if (strncmp(p, "concurrent:", 11) == 0) {
		int now = atomic_fetch_add(&running, 1) + 1, old = peak;

		while (now > old && !atomic_compare_exchange_weak(&peak, &old,
		    now))
			;
		nap(atol(p + 11));
		atomic_fetch_sub(&running, 1);
		extra = atomic_load(&peak);
	}
	record(job, start, extra);
	return out;
}

WQ_PLUGIN(
	.name = "lifecycle",
	.version = "1",
	.timeout_ms = 5000,
	.init = lc_init,
	.fini = lc_fini,
	.run = lc_run,
);
