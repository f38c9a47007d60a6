/*
 * The Lua scripts that make each change of a job's state in Redis atomic,
 * and the one way to run them.
 *
 * Scripts are sent whole with EVAL, never EVALSHA: Redis caches the
 * compiled script under its SHA1 anyway, and a flushed script cache
 * (SCRIPT FLUSH, a restart, a failover) can then never cause a NOSCRIPT
 * error.  Every script a settlement runs is declared `flags=allow-oom`, so
 * workqd can still acknowledge and move jobs when Redis is out of memory
 * (each of them frees or moves memory; producers' XADDs are what fail).
 *
 * Keys of one queue share one Redis Cluster slot: the stream is
 * <prefix>:<queue>, the others {<prefix>:<queue>}:<what>.
 */
#ifndef WQ_SCRIPT_H
#define WQ_SCRIPT_H

#include <stddef.h>

#include "redis.h"

/* The consumer that unstarted entries are handed back to: it never
   heartbeats, so every daemon's janitor takes its entries at once. */
#define WQ_HANDBACK_CONSUMER	"workqd:handback"

enum wq_script {
	WQ_SCRIPT_ACK = 0,	/* XACK a batch, trim what nothing needs */
	WQ_SCRIPT_DEAD,		/* move one entry to the dead letters */
	WQ_SCRIPT_DEFER,	/* move one entry to the scheduled set */
	WQ_SCRIPT_MOVE,		/* move due scheduled entries back */
	WQ_SCRIPT_HANDBACK,	/* give unstarted entries back, uncounted */
	WQ_SCRIPT_HEARTBEAT,	/* say this daemon lives; detect a lapse */
	WQ_SCRIPT_REAP,		/* find dead consumers with pending entries */
	WQ_SCRIPT_CLAIM,	/* take a dead consumer's (or our previous
				   run's) entries, a suspect alone */
	WQ_SCRIPT_CLAIM_IDS,	/* take back entries of our own by id */
	WQ_SCRIPT_REPORT_BEAT,	/* this daemon's registry entry */
	WQ_SCRIPT_REPORT_STATS,	/* add to a queue's counters */
	WQ_SCRIPT_REPORT_LEAVE,	/* leave the registry */
	WQ_SCRIPT_COUNT
};

/* The script's source (for tests and the README's key list). */
const char	*wq_script_source(enum wq_script s);

/*
 * Runs a script: EVAL <source> nkeys keys... args...  argv holds the keys
 * then the args (nkeys + nargs items), lens their lengths (NULL: all are
 * C strings).  0, or -1 when the connection is not ready.
 */
int	wq_script_eval(struct wq_redis *r, enum wq_script s, wq_redis_cb *cb,
	    void *arg, int nkeys, int nargs, const char **argv,
	    const size_t *lens);
/*
 * The same without copying: v holds WQ_SCRIPT_ARGV0 slots left for this
 * function to fill, then the keys and the args (n items in all, C
 * strings).  For callers that build large vectors in buffers they keep.
 */
#define WQ_SCRIPT_ARGV0	3
int	wq_script_evalv(struct wq_redis *r, enum wq_script s, wq_redis_cb *cb,
	    void *arg, int nkeys, int n, const char **v);

#endif /* WQ_SCRIPT_H */
