/*
 * The janitor keeps the consumer group honest, every heartbeat period:
 *
 *   - it renews this daemon's lease in each queue's live-daemon set
 *     ({<prefix>:<queue>}:alive, scored by expiry in Redis's clock), and
 *     notices when the lease had lapsed (the daemon was frozen or cut
 *     off: Redis says so, or no renewal was confirmed for a lease's time);
 *   - it finds consumers whose lease expired while they still hold
 *     entries, and hands them to the fetcher to take over;
 *   - it lists this daemon's own pending entries that it does not hold
 *     (their delivery reply was lost with a connection) and has the
 *     fetcher take them back.
 *
 * A daemon's entries are never taken while its lease is renewed, however
 * long they wait or run: liveness is the daemon's heartbeat, not the
 * entries' idle time.  Loop thread only.
 */
#ifndef WQ_JANITOR_H
#define WQ_JANITOR_H

#include <stdint.h>

#include "fetch.h"
#include "redis.h"
#include "stream.h"

struct wq_janitor;

/* group and consumer are copied.  NULL if out of memory. */
struct wq_janitor	*wq_janitor_new(struct wq_loop *loop,
			    struct wq_redis *cmd, struct wq_fetcher *fetcher,
			    struct wq_stream_list *streams, const char *group,
			    const char *consumer, int64_t period_ms,
			    int64_t lease_ms, int64_t reply_ms);
void			 wq_janitor_free(struct wq_janitor *j);

/* Runs a pass now and every period after (the command connection is up). */
void	wq_janitor_start(struct wq_janitor *j);
/* Stops the passes and takes this daemon out of the live sets, so its
   leftover entries are taken over at once. */
void	wq_janitor_leave(struct wq_janitor *j);
void	wq_janitor_set_period(struct wq_janitor *j, int64_t period_ms,
	    int64_t lease_ms);
/* Times this daemon found its own lease lapsed. */
uint64_t	wq_janitor_lapses(const struct wq_janitor *j);

#endif /* WQ_JANITOR_H */
