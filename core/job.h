/*
 * A job: one stream entry on its way from Redis through a handler and back
 * to Redis as an outcome.
 *
 * The fields are not copied: the job keeps the hiredis reply of its entry
 * (`backing`) and points into it.  Jobs come from a free list, so taking
 * one costs no allocation once the daemon is warm.
 *
 * Ownership.  A job has one owner at a time: the fetcher, then the local
 * queue, then a worker, then the settler that records its outcome in Redis
 * and frees it.  While a handler runs, the handler holds a second reference
 * (refs == 2): a blocking handler that overran its timeout keeps the job
 * alive after the worker has let go of it.  Both references are dropped on
 * the loop thread; the last one frees the job.  Handlers on executor
 * threads only read the job and write its report (outcome, error,
 * retry_in) before completing it.
 */
#ifndef WQ_JOB_H
#define WQ_JOB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "entry.h"
#include "exec.h"
#include "loop.h"
#include "workqd/plugin.h"

#define WQ_ID_MAX	48	/* "18446744073709551615-18446744073709551615" */
#define WQ_INLINE_FIELDS 8

struct wq_module;
struct wq_sem;
struct wq_stream;

/* What the settler must do in Redis. */
enum wq_verdict {
	WQ_VERDICT_ACK = 0,	/* done: acknowledge and remove */
	WQ_VERDICT_RETRY,	/* acknowledge, schedule attempt + 1 at due_ms */
	WQ_VERDICT_DEFER,	/* not yet due (at/delay): schedule as it is */
	WQ_VERDICT_DEAD,	/* dead-letter with reason and error */
	WQ_VERDICT_HANDBACK,	/* not started, or given up for a stop: hand
				   back to other daemons, uncounted */
	WQ_VERDICT_DROP		/* no longer ours (lease lost): forget it */
};

/* Why a job went to the dead letters (the `dead.reason` field). */
enum wq_reason {
	WQ_REASON_NONE = 0,
	WQ_REASON_EXHAUSTED,	/* failed with no retries left */
	WQ_REASON_REJECTED,	/* the handler said WQ_DEAD */
	WQ_REASON_EXPIRED,	/* `expires` passed before it started */
	WQ_REASON_INVALID,	/* a field is missing or malformed */
	WQ_REASON_POISON	/* delivered more than max_deliveries times */
};

/* The retry and timeout policy of the job's queue, copied at fetch. */
struct wq_policy {
	int64_t		timeout_ms;	/* 0: the plugin's default */
	int64_t		retries;
	int64_t		backoff_base_ms;
	double		backoff_factor;
	int64_t		backoff_cap_ms;
};

struct wq_job {
	/* Identity. */
	struct wq_stream	*stream;	/* where it came from */
	const char		*queue;		/* its name, as long as stream */
	char			 entry_id[WQ_ID_MAX];
	uint64_t		 id_ms, id_seq;	/* entry_id parsed */
	uint32_t		 deliveries;	/* Redis's delivery count */

	/* The entry, borrowed from backing. */
	struct wq_field		*fields;
	size_t			 nfields;
	struct wq_field		 inline_fields[WQ_INLINE_FIELDS];
	void			*backing;
	void			(*backing_free)(void *);
	struct wq_entry		 entry;		/* decoded fields */
	char			 plugin[65];	/* handler to run */
	struct wq_policy	 policy;
	struct wq_sem		*sem;		/* the queue's limit */

	/* Running. */
	struct wq_module	*module;
	int64_t			 started_us;	/* monotonic */
	int64_t			 timeout_ms;	/* the timeout applied */
	atomic_int		 cancelled;
	atomic_int		 completed;	/* complete() called */
	int			 timed_out;
	unsigned		 refs;		/* loop thread */
	struct wq_exec_task	 task;		/* blocking: the run */
	struct wq_call		 call;		/* the hop back to the loop */
	void			*owner;		/* the worker running it */
	void			*settler;	/* the settler recording it */
	int			 inflight;	/* counted in stream->inflight */

	/*
	 * The handler's report: written by the thread running the handler,
	 * read on the loop only after the handler finished.  A handler that
	 * overran its timeout is never read from again: the worker decides
	 * with `result` and `fault` instead.
	 */
	enum wq_outcome		 outcome;
	int64_t			 retry_in_ms;	/* < 0: not set */
	char			 error[256];

	/* The verdict.  Loop thread only. */
	enum wq_outcome		 result;	/* what counts: outcome, or
						   WQ_FAIL on timeout */
	char			 fault[128];	/* workqd's own error text */
	enum wq_verdict		 verdict;
	enum wq_reason		 reason;
	int64_t			 due_ms;	/* RETRY/DEFER: Unix ms */

	TAILQ_ENTRY(wq_job)	 link;		/* whoever owns it */
};

TAILQ_HEAD(wq_job_list, wq_job);

/* Loop thread.  A job with refs == 1 and nothing else set; NULL if out
   of memory. */
struct wq_job	*wq_job_new(void);
/* Loop thread.  Drops a reference; the last one frees the backing reply
   and returns the job to the free list. */
void		 wq_job_unref(struct wq_job *job);
/* Loop thread.  Frees the free list (at exit, for valgrind). */
void		 wq_job_cache_free(void);

/* Room for the job's n fields, to be filled by the caller (inline for a
   few fields, else allocated); NULL if out of memory. */
struct wq_field	*wq_job_fields(struct wq_job *job, size_t n);
/* Takes ownership of what the fields point into, freed with fn. */
void	wq_job_set_backing(struct wq_job *job, void *backing,
	    void (*fn)(void *));
/* The value of field name, or NULL. */
const struct wq_field *wq_job_field(const struct wq_job *job,
	    const char *name);
/* Parses "ms-seq" into the job's entry id; -1 if malformed. */
int	wq_job_set_id(struct wq_job *job, const char *id, size_t len);
/* Parses a stream entry id "ms-seq"; -1 if malformed. */
int	wq_id_parse(const char *id, size_t len, uint64_t *ms, uint64_t *seq);
/* The job id users see: the `id` field if given, else the entry id. */
const char *wq_job_id(const struct wq_job *job);

/* Loop thread: sets workqd's own error text (a refusal, a timeout). */
void	wq_job_fault(struct wq_job *job, const char *fmt, ...) WQ_PRINTF(2, 3);
/* The error to record: workqd's fault if any, else the handler's. */
const char *wq_job_last_error(const struct wq_job *job);

/*
 * Decides what a finished job means for Redis, from its result, its
 * attempt, its policy and now_ms: sets verdict, reason and due_ms.  rnd is
 * a uniform random number in [0, 1) for the jitter.
 */
void	wq_job_verdict(struct wq_job *job, int64_t now_ms, double rnd);
/* The full-jitter backoff ceiling of retry n (n >= 1): min(cap,
   base * factor^(n-1)). */
int64_t	wq_backoff_ceiling(const struct wq_policy *p, uint32_t n);

const char *wq_reason_name(enum wq_reason reason);
const char *wq_outcome_name(enum wq_outcome outcome);

#endif /* WQ_JOB_H */
