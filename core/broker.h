/*
 * The broker is workqd's side of Redis: two connections (one for the
 * blocking fetch, one for everything else, so acknowledgements never wait
 * behind a blocked read), the streams, and the fetcher, settler, janitor
 * and scheduler working on them.  The daemon talks to Redis only through it.
 *
 * It checks, on every connection, that Redis will not evict keys
 * (maxmemory-policy): a queue that can lose its entries silently is a
 * configuration error, reported through the fatal callback.
 *
 * Loop thread only.
 */
#ifndef WQ_BROKER_H
#define WQ_BROKER_H

#include <stdint.h>

#include "conf.h"
#include "job.h"
#include "queue.h"

struct wq_broker;
struct wq_redis;

struct wq_broker_ops {
	/* Redis is set up so that jobs could be lost: the daemon should
	   stop with a configuration error.  why is borrowed. */
	void	(*fatal)(void *arg, const char *why);
	/* Optional: the fetcher decided job without running it (a dead
	   letter, a deferral, a hand-back), for the metrics.  job is
	   borrowed. */
	void	(*refused)(void *arg, const struct wq_job *job);
	void	*arg;
};

struct wq_broker_stats {
	int		 connected;	/* both connections ready */
	const char	*last_error;	/* why Redis last failed, or "" */
	uint64_t	 reconnects;
	unsigned	 settling;	/* outcomes not yet confirmed */
	uint64_t	 acked, retried, deferred, dead, handed_back;
	uint64_t	 lapses;	/* our lease was found lapsed */
	uint64_t	 moved;		/* scheduled jobs moved back */
};

/* consumer is copied; conf must outlive the broker or the next
   wq_broker_configure.  NULL if out of memory. */
struct wq_broker	*wq_broker_new(struct wq_loop *loop,
			    const struct wq_conf *conf, const char *consumer,
			    struct wq_queue *local,
			    const struct wq_broker_ops *ops);
/* Whatever waits to be recorded is dropped: it stays pending in Redis. */
void			 wq_broker_free(struct wq_broker *b);

/* Connects (and keeps reconnecting) and starts fetching. */
void	wq_broker_start(struct wq_broker *b);
/* Takes a job whose verdict is set and records it (the pool's settle). */
void	wq_broker_settle(struct wq_broker *b, struct wq_job *job);
/* A queue item that will never run: hand it back (queue shutdown). */
void	wq_broker_handback(struct wq_broker *b, struct wq_job *job);
/* Applies a reloaded config: queues, limits, order, janitor timing. */
int	wq_broker_configure(struct wq_broker *b, const struct wq_conf *conf);

/* Stops fetching; done(arg) once no fetch is outstanding. */
void	wq_broker_stop_fetching(struct wq_broker *b, void (*done)(void *),
	    void *arg);
/* done(arg) once every outcome handed over is recorded. */
void	wq_broker_flush(struct wq_broker *b, void (*done)(void *), void *arg);
/* Leaves the live-daemon sets (just before exiting). */
void	wq_broker_leave(struct wq_broker *b);

void	wq_broker_stats(const struct wq_broker *b, struct wq_broker_stats *st);

/* The command connection, for the reporter's few commands of its own
   (report.h).  Borrowed: valid as long as the broker. */
struct wq_redis	*wq_broker_cmd(struct wq_broker *b);

#endif /* WQ_BROKER_H */
