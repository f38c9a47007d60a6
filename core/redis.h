/*
 * One Redis connection that stays up: hiredis's async API on the loop,
 * plus what hiredis 0.14 lacks.
 *
 *   - Command timeouts.  Replies come in order, so only the oldest command
 *     waiting for its reply can be late; a tick compares its deadline with
 *     the clock, and a late reply (a hung Redis, a lost packet, a frozen
 *     proxy) drops the connection.
 *   - Reconnection, forever, with capped exponential backoff and jitter,
 *     and a connect timeout.
 *   - The handshake: AUTH (user and a password read from a file at each
 *     connect, so a rotated secret is picked up) and CLIENT SETNAME, before
 *     the owner hears "up".
 *
 * When the connection drops, every command still waiting gets its callback
 * with a NULL reply: the outcome is unknown (the command may or may not
 * have run).  Callers design for that.  Loop thread only, like hiredis.
 */
#ifndef WQ_REDIS_H
#define WQ_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "loop.h"

struct redisReply;
struct wq_redis;

/* reply is borrowed: valid during the call (steal sub-replies by setting
   their slot to NULL).  NULL: no reply, outcome unknown. */
typedef void wq_redis_cb(struct wq_redis *r, struct redisReply *reply,
    void *arg);

struct wq_redis_events {
	/* Connected and authenticated: commands may be sent. */
	void	(*up)(struct wq_redis *r, void *arg);
	/* Lost (after every waiting callback got its NULL reply). */
	void	(*down)(struct wq_redis *r, const char *why, void *arg);
	void	*arg;
};

/* name is for the log ("redis fetch: ...") and CLIENT SETNAME.  Blocks
   SIGPIPE on the calling (loop) thread: hiredis writes with write(2). */
struct wq_redis	*wq_redis_new(struct wq_loop *loop,
		    const struct wq_conf_redis *conf, const char *name,
		    const struct wq_redis_events *ev);
/* Waiting callbacks get NULL replies; no event is sent. */
void		 wq_redis_free(struct wq_redis *r);

/* Starts connecting (and reconnecting after every loss). */
void	wq_redis_start(struct wq_redis *r);
/* Closes the connection; it comes back after the backoff. */
void	wq_redis_drop(struct wq_redis *r, const char *why);
int	wq_redis_ready(const struct wq_redis *r);

/*
 * Sends a command.  timeout_ms: how long the reply may take (0: the
 * configured command timeout; a blocking command passes its BLOCK time
 * plus a margin).  Returns 0, or -1 when the connection is not ready (cb
 * is not called).
 */
int	wq_redis_command(struct wq_redis *r, wq_redis_cb *cb, void *arg,
	    int64_t timeout_ms, int argc, const char **argv,
	    const size_t *argvlen);
/* Same, for a command already in the Redis protocol (pipelines). */
int	wq_redis_formatted(struct wq_redis *r, wq_redis_cb *cb, void *arg,
	    int64_t timeout_ms, const char *cmd, size_t len);

/* The error text of an error reply, or NULL for any other reply. */
const char	*wq_redis_error(const struct redisReply *reply);

struct wq_redis_stats {
	int		 ready;
	uint64_t	 reconnects;	/* successful connects after the first */
	uint64_t	 timeouts;	/* connections dropped for a late reply */
	unsigned	 waiting;	/* commands waiting for their reply */
	const char	*last_error;	/* why it last dropped, or "" */
};

void	wq_redis_stats(const struct wq_redis *r, struct wq_redis_stats *st);

/*
 * The password in file: its contents, without trailing CR or LF, NUL-
 * terminated in buf (cut at size - 1 bytes).  A relative path is taken in
 * $CREDENTIALS_DIRECTORY when that is set (systemd's LoadCredential=).
 * 0, or -1 with errno.  Any thread (workqctl uses it too).
 */
int	wq_redis_read_password(const char *file, char *buf, size_t size);

#endif /* WQ_REDIS_H */
