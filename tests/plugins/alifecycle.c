/*
 * alifecycle: an async test plugin.  Payloads: ok (done at once) |
 * later:MS (done after MS ms through a loop timer) | hang (never finishes
 * by itself: only the cancel hook ends it, which is recorded as
 * "cancelled").  Records like lifecycle.c into `file:`, with the word
 * "cancelled" or "done" last.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <workqd/plugin.h>

static const struct wq_host *host;
static int fd = -1;

struct pending {
	struct wq_job	*job;
	struct wq_timer	*timer;
	struct pending	*next;
};

static struct pending *hanging;

static void
record(struct wq_job *job, const char *what)
{
	char line[256];
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "%s %u %lld %s\n", host->job_id(job),
	    host->job_attempt(job), (long long)ts.tv_sec * 1000 +
	    ts.tv_nsec / 1000000, what);
	if (write(fd, line, (size_t)n) != n)
		host->log(WQ_LOG_ERR, "alifecycle: record: %s", strerror(errno));
}

static int
al_init(const struct wq_host *h, const struct wq_node *conf, void **state)
{
	const char *file = NULL;

	host = h;
	*state = NULL;
	if (h->conf_str(conf, "file", &file) != 0)
		return h->conf_error(conf, "alifecycle: file: required");
	if ((fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
		return h->conf_error(conf, "alifecycle: %s: %s", file,
		    strerror(errno));
	return 0;
}

static void
al_fini(void *state)
{
	(void)state;
	if (fd >= 0)
		close(fd);
}

static void
later_done(void *arg)
{
	struct wq_job *job = arg;

	record(job, "done");
	host->complete(job, WQ_DONE);
}

static enum wq_outcome
al_start(void *state, struct wq_job *job)
{
	const char *p = host->job_payload(job, NULL);
	struct pending *h;

	(void)state;
	if (strncmp(p, "later:", 6) == 0) {
		if (host->timer_add(atol(p + 6), later_done, job) == NULL)
			return WQ_RETRY;
		return WQ_PENDING;
	}
	if (strcmp(p, "hang") == 0) {
		if ((h = calloc(1, sizeof(*h))) == NULL)
			return WQ_RETRY;
		h->job = job;
		h->next = hanging;
		hanging = h;
		return WQ_PENDING;
	}
	record(job, "done");
	return WQ_DONE;
}

static void
al_cancel(void *state, struct wq_job *job)
{
	struct pending **pp, *h;

	(void)state;
	for (pp = &hanging; (h = *pp) != NULL; pp = &h->next)
		if (h->job == job) {
			*pp = h->next;
			free(h);
			record(job, "cancelled");
			host->complete(job, WQ_FAIL);
			return;
		}
}

WQ_PLUGIN(
	.name = "alifecycle",
	.version = "1",
	.init = al_init,
	.fini = al_fini,
	.start = al_start,
	.cancel = al_cancel,
);
