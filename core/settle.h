/*
 * The settler records what became of each job in Redis, and only then lets
 * the entry leave the consumer group's pending list: acknowledged (done),
 * moved to the scheduled set (a retry, or a job not yet due), moved to the
 * dead letters, or handed back unstarted.  Until Redis confirms, the entry
 * stays pending and stays in its stream's held set.
 *
 * Acknowledgements are batched: the acks of a loop turn go out as one
 * script per queue, and while one is in flight the next batch grows, so a
 * busy daemon pays one round trip for many jobs.
 * Everything else is one script per job (they are the rare paths).  When
 * the connection drops, whatever waited for a reply is sent again once it
 * is back: each script is safe to run twice.
 *
 * Loop thread only.
 */
#ifndef WQ_SETTLE_H
#define WQ_SETTLE_H

#include <stdint.h>

#include "job.h"
#include "loop.h"
#include "redis.h"
#include "stream.h"

struct wq_settler;

struct wq_settler_stats {
	unsigned	waiting;	/* jobs and ids not yet confirmed */
	uint64_t	acked;
	uint64_t	retried;
	uint64_t	deferred;
	uint64_t	dead;
	uint64_t	handed_back;
	uint64_t	errors;		/* error replies (then retried) */
};

/* group and consumer are copied.  NULL if out of memory. */
struct wq_settler	*wq_settler_new(struct wq_loop *loop,
			    struct wq_redis *r, const char *group,
			    const char *consumer);
/* Drops whatever still waits (the entries stay pending in Redis). */
void			 wq_settler_free(struct wq_settler *s);

/* Takes the job (one reference); job->verdict says what to record. */
void	wq_settle(struct wq_settler *s, struct wq_job *job);
/* The connection is back: send again what waited. */
void	wq_settler_resume(struct wq_settler *s);
/* done(arg) runs once nothing waits (at once if nothing does). */
void	wq_settler_flush(struct wq_settler *s, void (*done)(void *),
	    void *arg);
void	wq_settler_stats(const struct wq_settler *s,
	    struct wq_settler_stats *st);
/*
 * Backpressure from Redis: once `limit` outcomes, plus two full batches
 * (one in flight, one filling), wait for confirmation the settler is full
 * (its owner should stop fetching); once they are down to half, relief(arg)
 * is called.  0: no limit.
 */
void	wq_settler_limit(struct wq_settler *s, unsigned limit,
	    void (*relief)(void *), void *arg);
int	wq_settler_full(const struct wq_settler *s);

#endif /* WQ_SETTLE_H */
