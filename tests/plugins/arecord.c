/*
 * arecord: record.c's async twin, for the fault tests.  Each execution that
 * finishes appends "<job id> <pid> <start ms> <end ms>\n" to the file named
 * by `file:` with one write(2) to an O_APPEND descriptor.  Payload "ms=N"
 * waits N ms on a loop timer (the loop stays free), "abort" calls abort()
 * on the loop thread, anything else finishes at once.  A job that timed out
 * or was cancelled while it waited records nothing: workqd runs it again,
 * and only completed executions count.  Config: `file: PATH` (required).
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

struct wait {
	struct wq_job	*job;
	long long	 start;
};

static int
arecord_check(const struct wq_host *h, const struct wq_node *conf)
{
	static const char *const known[] = { "file", NULL };
	const char *file;

	if (h->conf_keys(conf, known) < 0)
		return -1;
	switch (h->conf_str(conf, "file", &file)) {
	case 0:
		return 0;
	case 1:
		return h->conf_error(conf, "arecord: `file:` is required");
	default:
		return -1;
	}
}

static int
arecord_init(const struct wq_host *h, const struct wq_node *conf,
    void **state)
{
	const char *file;

	host = h;
	*state = NULL;
	if (arecord_check(h, conf) < 0 || h->conf_str(conf, "file", &file) != 0)
		return -1;
	if ((fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) < 0) {
		h->log(WQ_LOG_ERR, "%s: %s", file, strerror(errno));
		return -1;
	}
	return 0;
}

static void
arecord_fini(void *state)
{
	(void)state;
	close(fd);
	fd = -1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum wq_outcome
record(struct wq_job *job, long long start)
{
	char line[160];
	int n = snprintf(line, sizeof(line), "%s %ld %lld %lld\n",
	    host->job_id(job), (long)getpid(), start, now_ms());

	if (n <= 0 || (size_t)n >= sizeof(line) ||
	    write(fd, line, (size_t)n) != n) {
		host->job_error(job, "arecord: cannot write the line");
		return WQ_FAIL;
	}
	return WQ_DONE;
}

static void
waited(void *arg)
{
	struct wait *w = arg;
	struct wq_job *job = w->job;
	long long start = w->start;

	free(w);
	host->complete(job, host->job_cancelled(job) ? WQ_RETRY :
	    record(job, start));
}

static enum wq_outcome
arecord_start(void *state, struct wq_job *job)
{
	const char *p = host->job_payload(job, NULL);
	long long start = now_ms(), ms;
	struct wait *w;

	(void)state;
	if (strcmp(p, "abort") == 0)
		abort();
	ms = strncmp(p, "ms=", 3) == 0 ? atoll(p + 3) : 0;
	if (ms <= 0)
		return record(job, start);
	if ((w = malloc(sizeof(*w))) == NULL) {
		host->job_error(job, "arecord: out of memory");
		return WQ_FAIL;
	}
	w->job = job;
	w->start = start;
	if (host->timer_add(ms, waited, w) == NULL) {
		free(w);
		host->job_error(job, "arecord: no timer");
		return WQ_FAIL;
	}
	return WQ_PENDING;
}

/* The timer still fires and completes the job; it then records nothing. */
static void
arecord_cancel(void *state, struct wq_job *job)
{
	(void)state;
	(void)job;
}

WQ_PLUGIN(
	.name = "arecord",
	.version = "1.0",
	.timeout_ms = 120000,
	.conf_check = arecord_check,
	.init = arecord_init,
	.fini = arecord_fini,
	.start = arecord_start,
	.cancel = arecord_cancel,
);
