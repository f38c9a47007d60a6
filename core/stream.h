/*
 * A stream: one queue as workqd runs it.  Its Redis key names, the policy
 * its jobs get, the semaphore that caps how many of its jobs run at once
 * inside the shared worker pool, and what this daemon holds of it.
 *
 * Streams live as long as the broker: a reload changes their policy and
 * limits in place (jobs copy the policy when fetched, so a reload never
 * changes a job under way); a queue removed from the config stays, idle.
 * Loop thread only.
 */
#ifndef WQ_STREAM_H
#define WQ_STREAM_H

#include <stdint.h>
#include <sys/queue.h>

#include "conf.h"
#include "idset.h"
#include "job.h"
#include "sem.h"

struct wq_stream {
	TAILQ_ENTRY(wq_stream)	 link;
	char			*name;
	char			*key;		/* <prefix>:<name> */
	char			*dead_key;	/* {<prefix>:<name>}:dead */
	char			*sched_key;	/* {<prefix>:<name>}:scheduled */
	char			*alive_key;	/* {<prefix>:<name>}:alive */

	int			 active;	/* listed in the current config */
	unsigned		 rank;		/* its place in the config */
	unsigned		 weight;
	char			 plugin[65];	/* the default plugin */
	struct wq_policy	 policy;
	int64_t			 max_payload;
	int64_t			 max_deliveries;
	int64_t			 dead_max;
	unsigned		 concurrency;	/* 0: no limit of its own */
	struct wq_sem		 sem;

	unsigned		 inflight;	/* queued locally or running */
	struct wq_idset		 held;		/* every entry of ours we know */
	int			 drained;	/* found empty this round */
	int64_t			 next_due;	/* earliest scheduled, Redis ms;
						   -1: none known */
	int64_t			 noted;		/* earliest due noted since the
						   last move was sent, or -1 */
	int			 moving;	/* a move script is under way */
	int64_t			 beat_us;	/* the last lease renewal confirmed
						   was sent then (monotonic); 0:
						   none yet */
};

TAILQ_HEAD(wq_stream_list, wq_stream);

/* NULL if out of memory. */
struct wq_stream	*wq_stream_new(struct wq_loop *loop,
			    const struct wq_conf *conf,
			    const struct wq_conf_queue *q, unsigned rank);
void			 wq_stream_free(struct wq_stream *s);
/* Applies a (re)loaded config's settings for this queue. */
void			 wq_stream_configure(struct wq_stream *s,
			    const struct wq_conf_queue *q, unsigned rank);
/* How many more jobs it may have queued or running (UINT32_MAX: any). */
unsigned		 wq_stream_credit(const struct wq_stream *s);

/* The stream of that key or name in list, or NULL. */
struct wq_stream	*wq_stream_by_key(struct wq_stream_list *list,
			    const char *key, size_t len);
struct wq_stream	*wq_stream_by_name(struct wq_stream_list *list,
			    const char *name);

#endif /* WQ_STREAM_H */
