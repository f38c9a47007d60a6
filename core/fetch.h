/*
 * The fetcher moves entries from Redis into the local queue, never more
 * than the queue has room for (backpressure) nor more of one queue than its
 * concurrency allows, through the consumer group so every entry it takes is
 * recorded in Redis as pending for this daemon before it is handed over.
 *
 * Each round it takes, in order:
 *   1. this daemon's own pending entries left by its previous life (a
 *      restart resumes them first);
 *   2. entries of dead daemons (orphans), once the janitor has found them;
 *   3. new entries, queue by queue in priority order (or weighted at
 *      random), without blocking; and when every queue is empty, one
 *      blocking read over all of them.
 *
 * Entries that must not run are refused on the spot (through the refuse
 * callback, to the settler): malformed ones, ones delivered too often
 * (poison pills) and ones not yet due.
 *
 * Quarantine.  Taking entries back after a crash counts a delivery for
 * each, also for those that never started (they waited in the local
 * queue), so innocent jobs held next to a poison pill would reach
 * max_deliveries with it.  An entry taken back that was delivered twice
 * already is a suspect: suspects are taken one at a time and run alone
 * (nothing else queued or running, no other fetch), so a crash then counts
 * against the entry that caused it and no other.
 *
 * A watchdog checks every few seconds that the fetcher is not idle with
 * room to fill, or waiting for an answer far longer than the connection's
 * timeouts allow; it logs and fetches again (or reconnects) if so.  Loop
 * thread only.
 */
#ifndef WQ_FETCH_H
#define WQ_FETCH_H

#include "conf.h"
#include "job.h"
#include "queue.h"
#include "redis.h"
#include "stream.h"

struct wq_fetcher;

struct wq_fetcher_ops {
	/* Takes a job that must not run (job->verdict is set). */
	void	(*refuse)(void *ctx, struct wq_job *job);
	/* Optional: nonzero pauses fetching (the owner's outcomes wait for
	   Redis); the owner calls wq_fetcher_kick when it clears. */
	int	(*paused)(void *ctx);
	void	*ctx;
};

/* fetch reads (it blocks); cmd is used to interrupt a blocked read.
   group and consumer are copied.  NULL if out of memory. */
struct wq_fetcher	*wq_fetcher_new(struct wq_loop *loop,
			    struct wq_redis *fetch, struct wq_redis *cmd,
			    struct wq_queue *local,
			    struct wq_stream_list *streams, const char *group,
			    const char *consumer, const struct wq_fetcher_ops *ops);
void			 wq_fetcher_free(struct wq_fetcher *f);

void	wq_fetcher_set_order(struct wq_fetcher *f, enum wq_order order);
/* The fetch connection is up: (re)create the groups, then fetch. */
void	wq_fetcher_up(struct wq_fetcher *f);
/* Something changed (credit freed, streams reconfigured): fetch again,
   interrupting a blocked read when interrupt is set. */
void	wq_fetcher_kick(struct wq_fetcher *f, int interrupt);
/* Dead daemon `consumer` holds `pending` entries of stream s. */
void	wq_fetcher_orphans(struct wq_fetcher *f, struct wq_stream *s,
	    const char *consumer, unsigned pending);
/* Entries of ours whose delivery was lost: take them back by id. */
void	wq_fetcher_adopt(struct wq_fetcher *f, struct wq_stream *s,
	    const char *const *ids, size_t n);
/* Stops for good; done(arg) once no read is outstanding. */
void	wq_fetcher_stop(struct wq_fetcher *f, void (*done)(void *),
	    void *arg);
/* Nonzero while a fetch is outstanding or about to be. */
int	wq_fetcher_busy(const struct wq_fetcher *f);
/* Nonzero until this daemon's entries from its previous run are taken
   back (the janitor leaves our own pending entries alone until then). */
int	wq_fetcher_resuming(const struct wq_fetcher *f);

#endif /* WQ_FETCH_H */
