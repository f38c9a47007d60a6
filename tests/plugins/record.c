/*
 * record: the fault tests' blocking handler.  Each execution that finishes
 * appends one line to the file named by `file:` in its config,
 *
 *   <job id> <pid> <start ms> <end ms>\n
 *
 * with a single write(2) to an O_APPEND descriptor, so lines from several
 * threads and several daemons never interleave and a line is either all
 * there or not at all (a daemon killed mid-job leaves none).  The payload
 * says what the job does:
 *
 *   ms=N     sleep N ms first (on the executor thread)
 *   abort    call abort(): the poison pill that takes the daemon down
 *   other    nothing: record and finish at once
 *
 * The sleep ignores job_cancelled(): a test job always runs to its end, so
 * an execution either completed (one line) or was killed with its daemon.
 * Config: `file: PATH` (required).
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

static int
record_check(const struct wq_host *h, const struct wq_node *conf)
{
	static const char *const known[] = { "file", NULL };
	const char *file;

	if (h->conf_keys(conf, known) < 0)
		return -1;
	switch (h->conf_str(conf, "file", &file)) {
	case 0:
		return 0;
	case 1:
		return h->conf_error(conf, "record: `file:` is required");
	default:
		return -1;
	}
}

static int
record_init(const struct wq_host *h, const struct wq_node *conf,
    void **state)
{
	const char *file;
	int *fd;

	host = h;
	if (record_check(h, conf) < 0 || h->conf_str(conf, "file", &file) != 0)
		return -1;
	if ((fd = malloc(sizeof(*fd))) == NULL)
		return -1;
	if ((*fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) < 0) {
		h->log(WQ_LOG_ERR, "%s: %s", file, strerror(errno));
		free(fd);
		return -1;
	}
	*state = fd;
	return 0;
}

static void
record_fini(void *state)
{
	int *fd = state;

	close(*fd);
	free(fd);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
nap(long long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static enum wq_outcome
record_run(void *state, struct wq_job *job)
{
	const char *p = host->job_payload(job, NULL);
	long long start = now_ms();
	char line[160];
	int n;

	if (strcmp(p, "abort") == 0)
		abort();
	if (strncmp(p, "ms=", 3) == 0)
		nap(atoll(p + 3));
	n = snprintf(line, sizeof(line), "%s %ld %lld %lld\n",
	    host->job_id(job), (long)getpid(), start, now_ms());
	if (n <= 0 || (size_t)n >= sizeof(line) ||
	    write(*(int *)state, line, (size_t)n) != n) {
		host->job_error(job, "record: cannot write the line");
		return WQ_FAIL;
	}
	return WQ_DONE;
}

WQ_PLUGIN(
	.name = "record",
	.version = "1.0",
	.timeout_ms = 120000,
	.conf_check = record_check,
	.init = record_init,
	.fini = record_fini,
	.run = record_run,
);
