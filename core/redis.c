/*
 * One Redis connection that stays up (see redis.h).
 *
 * DESIGN: every command is a `struct cmd` (from a free list) on a FIFO
 * that mirrors hiredis's own callback list; hiredis hands each reply to
 * trampoline() with the cmd as privdata.  Because Redis answers in order,
 * the head of the FIFO is the only command that can be late, so one
 * persistent tick checks the head's deadline (and the connect deadline).
 * Dropping the connection is always redisAsyncFree: hiredis then runs every
 * pending callback with a NULL reply (our trampolines pass that on) and
 * frees the context, deferring the free when we are inside one of its
 * callbacks.  r->ac is cleared first, so hiredis's disconnect callback for
 * a context we dropped ourselves is recognised and ignored.
 *
 * States: IDLE -> CONNECTING -> HANDSHAKE (AUTH, CLIENT SETNAME) -> READY;
 * any failure -> WAIT (backoff timer) -> CONNECTING.
 *
 * SIGPIPE: hiredis 0.14 writes with write(2), which raises SIGPIPE when
 * Redis has closed the connection (a restart, CLIENT KILL, a crash) and
 * kills the process without a word.  The loop thread, the only one that
 * writes to Redis, blocks it (executor threads block every signal
 * already), so the write fails with EPIPE and the connection is handled as
 * lost; lost() takes the pending signal off the thread again.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

#include "clock.h"
#include "log.h"
#include "redis.h"

#define TICK_MS		100
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000

enum state { R_IDLE, R_CONNECTING, R_HANDSHAKE, R_READY, R_WAIT };

struct cmd {
	TAILQ_ENTRY(cmd)	 link;
	struct wq_redis		*r;
	wq_redis_cb		*cb;
	void			*arg;
	int64_t			 deadline_us;
};

TAILQ_HEAD(cmd_list, cmd);

struct wq_redis {
	struct wq_loop		*loop;
	char			*name;
	char			*unix_path;
	char			*host;
	int			 port;
	char			*user;
	char			*password_file;
	int64_t			 connect_timeout_ms;
	int64_t			 command_timeout_ms;
	struct wq_redis_events	 ev;

	redisAsyncContext	*ac;
	enum state		 state;
	struct cmd_list		 cmds;
	struct cmd_list		 spare;
	unsigned		 waiting;
	struct event		*tick;
	struct event		*retry;
	int64_t			 connect_deadline_us;
	unsigned		 failures;	/* since the last success */
	uint64_t		 connects;
	uint64_t		 timeouts;
	uint64_t		 rng;
	char			 last_error[160];
	char			 secret[512];	/* read before each connect,
						   wiped once sent */
};

static void	connect_now(struct wq_redis *r);

static void
block_sigpipe(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void
clear_sigpipe(void)
{
	struct timespec zero = { 0, 0 };
	sigset_t set, pending;

	if (sigpending(&pending) < 0 || !sigismember(&pending, SIGPIPE))
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigtimedwait(&set, NULL, &zero);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static struct cmd *
cmd_get(struct wq_redis *r)
{
	struct cmd *c = TAILQ_FIRST(&r->spare);

	if (c != NULL)
		TAILQ_REMOVE(&r->spare, c, link);
	else if ((c = malloc(sizeof(*c))) == NULL)
		return NULL;
	c->r = r;
	return c;
}

static void
cmd_put(struct wq_redis *r, struct cmd *c)
{
	TAILQ_INSERT_HEAD(&r->spare, c, link);
}

static void
trampoline(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct cmd *c = privdata;
	struct wq_redis *r = c->r;
	wq_redis_cb *cb = c->cb;
	void *arg = c->arg;

	(void)ac;
	TAILQ_REMOVE(&r->cmds, c, link);
	r->waiting--;
	cmd_put(r, c);
	if (cb != NULL)
		cb(r, reply, arg);
}

static int64_t
backoff_ms(struct wq_redis *r)
{
	unsigned n = r->failures < 16 ? r->failures : 16;
	int64_t ceiling = (int64_t)BACKOFF_MIN_MS << n;

	if (ceiling > BACKOFF_MAX_MS)
		ceiling = BACKOFF_MAX_MS;
	r->rng = r->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	/* Half fixed, half random: spread out, never a zero-delay storm. */
	return ceiling / 2 + (int64_t)((r->rng >> 33) % (uint64_t)(ceiling /
	    2 + 1));
}

/* Forgets the context (dropping it if still open) and waits to retry. */
static void
lost(struct wq_redis *r, const char *why)
{
	redisAsyncContext *ac = r->ac;
	int was_ready = r->state == R_READY;
	struct timeval tv;
	int64_t ms;

	r->ac = NULL;
	explicit_bzero(r->secret, sizeof(r->secret));
	snprintf(r->last_error, sizeof(r->last_error), "%s", why);
	if (ac != NULL)
		redisAsyncFree(ac);	/* NULL replies for what waits */
	clear_sigpipe();
	r->failures++;
	r->state = R_WAIT;
	ms = backoff_ms(r);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(r->retry, &tv);
	wq_log(was_ready || r->failures == 1 ? WQ_LOG_WARNING : WQ_LOG_INFO,
	    "redis %s: %s; reconnecting in %lld ms", r->name, why,
	    (long long)ms);
	if (was_ready && r->ev.down != NULL)
		r->ev.down(r, why, r->ev.arg);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	connect_now(arg);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wq_redis *r = arg;
	int64_t now = wq_clock_mono_us();
	struct cmd *head = TAILQ_FIRST(&r->cmds);

	(void)fd;
	(void)what;
	if ((r->state == R_CONNECTING && now > r->connect_deadline_us)) {
		lost(r, "connect timed out");
		return;
	}
	if (head != NULL && now > head->deadline_us &&
	    (r->state == R_READY || r->state == R_HANDSHAKE)) {
		r->timeouts++;
		lost(r, "no reply in time");
	}
}

static int
send_cmd(struct wq_redis *r, wq_redis_cb *cb, void *arg, int64_t timeout_ms,
    int argc, const char **argv, const size_t *lens, const char *fmt,
    size_t fmtlen)
{
	struct cmd *c;
	int rc;

	if (r->ac == NULL || (c = cmd_get(r)) == NULL)
		return -1;
	c->cb = cb;
	c->arg = arg;
	c->deadline_us = wq_clock_mono_us() + 1000 * (timeout_ms > 0 ?
	    timeout_ms : r->command_timeout_ms);
	TAILQ_INSERT_TAIL(&r->cmds, c, link);
	r->waiting++;
	if (fmt != NULL)
		rc = redisAsyncFormattedCommand(r->ac, trampoline, c, fmt,
		    fmtlen);
	else
		rc = redisAsyncCommandArgv(r->ac, trampoline, c, argc, argv,
		    lens);
	if (rc != REDIS_OK) {
		TAILQ_REMOVE(&r->cmds, c, link);
		r->waiting--;
		cmd_put(r, c);
		return -1;
	}
	return 0;
}

static void
ready(struct wq_redis *r)
{
	if (r->connects++ > 0 || r->failures > 0)
		wq_log(WQ_LOG_NOTICE, "redis %s: connected", r->name);
	r->state = R_READY;
	r->failures = 0;
	r->last_error[0] = '\0';
	if (r->ev.up != NULL)
		r->ev.up(r, r->ev.arg);
}

static void
setname_cb(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	(void)arg;
	if (reply == NULL)
		return;			/* lost() already runs */
	ready(r);
}

static void
auth_cb(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	char why[160];

	(void)arg;
	if (reply == NULL)
		return;
	if (wq_redis_error(reply) != NULL) {
		snprintf(why, sizeof(why), "AUTH refused: %s",
		    wq_redis_error(reply));
		lost(r, why);
	}
}

int
wq_redis_read_password(const char *file, char *buf, size_t size)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[4096];
	ssize_t n;
	int fd;

	if (file[0] != '/' && dir != NULL)
		snprintf(path, sizeof(path), "%s/%s", dir, file);
	else
		snprintf(path, sizeof(path), "%s", file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return 0;
}

/* Sends AUTH (with the secret read before connecting) and CLIENT SETNAME.
   Runs inside hiredis's connect callback: nothing here may drop the
   context, which hiredis still uses when the callback returns. */
static void
handshake(struct wq_redis *r)
{
	const char *argv[3];
	char name[160];
	int argc = 0;

	r->state = R_HANDSHAKE;
	if (r->password_file != NULL) {
		argv[argc++] = "AUTH";
		if (r->user != NULL)
			argv[argc++] = r->user;
		argv[argc++] = r->secret;
		send_cmd(r, auth_cb, NULL, 0, argc, argv, NULL, NULL, 0);
		explicit_bzero(r->secret, sizeof(r->secret));
	}
	snprintf(name, sizeof(name), "workqd-%s", r->name);
	argv[0] = "CLIENT";
	argv[1] = "SETNAME";
	argv[2] = name;
	/* An ACL may refuse SETNAME; only the reply's arrival matters. */
	send_cmd(r, setname_cb, NULL, 0, 3, argv, NULL, NULL, 0);
}

static void
connect_cb(const redisAsyncContext *ac, int status)
{
	struct wq_redis *r = ac->data;
	char why[200];

	if (r == NULL || r->ac != ac)
		return;
	if (status != REDIS_OK) {
		snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr);
		r->ac = NULL;		/* hiredis frees it after this call */
		lost(r, why);
		return;
	}
	handshake(r);
}

static void
disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct wq_redis *r = ac->data;
	char why[200];

	if (r == NULL || r->ac != ac)
		return;			/* one we dropped ourselves */
	snprintf(why, sizeof(why), "connection lost: %s",
	    status == REDIS_OK ? "closed" : ac->errstr);
	r->ac = NULL;			/* hiredis frees it after this call */
	lost(r, why);
}

static void
connect_now(struct wq_redis *r)
{
	redisAsyncContext *ac;
	char why[200];

	if (r->password_file != NULL &&
	    wq_redis_read_password(r->password_file, r->secret,
	    sizeof(r->secret)) < 0) {
		snprintf(why, sizeof(why), "password file %s: %s",
		    r->password_file, strerror(errno));
		lost(r, why);
		return;
	}
	r->state = R_CONNECTING;
	r->connect_deadline_us = wq_clock_mono_us() +
	    1000 * r->connect_timeout_ms;
	ac = r->unix_path != NULL ? redisAsyncConnectUnix(r->unix_path) :
	    redisAsyncConnect(r->host, r->port);
	if (ac == NULL) {
		lost(r, "cannot connect: out of memory");
		return;
	}
	if (ac->err != 0) {
		snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr);
		redisAsyncFree(ac);
		lost(r, why);
		return;
	}
	ac->data = r;
	r->ac = ac;
	redisLibeventAttach(ac, wq_loop_base(r->loop));
	redisAsyncSetConnectCallback(ac, connect_cb);
	redisAsyncSetDisconnectCallback(ac, disconnect_cb);
}

struct wq_redis *
wq_redis_new(struct wq_loop *loop, const struct wq_conf_redis *conf,
    const char *name, const struct wq_redis_events *ev)
{
	struct wq_redis *r = calloc(1, sizeof(*r));
	struct timeval tv = WQ_TV_MS(TICK_MS);

	if (r == NULL)
		return NULL;
	block_sigpipe();
	r->loop = loop;
	r->ev = *ev;
	TAILQ_INIT(&r->cmds);
	TAILQ_INIT(&r->spare);
	r->port = conf->port;
	r->connect_timeout_ms = conf->connect_timeout_ms;
	r->command_timeout_ms = conf->command_timeout_ms;
	r->rng = (uint64_t)wq_clock_mono_us() ^ (uint64_t)(uintptr_t)r;
	r->name = strdup(name);
	r->unix_path = dup_or_null(conf->unix_path);
	r->host = dup_or_null(conf->host);
	r->user = dup_or_null(conf->user);
	r->password_file = dup_or_null(conf->password_file);
	r->tick = event_new(wq_loop_base(loop), -1, EV_PERSIST, tick_cb, r);
	r->retry = evtimer_new(wq_loop_base(loop), retry_cb, r);
	if (r->name == NULL || r->tick == NULL || r->retry == NULL ||
	    (conf->unix_path != NULL && r->unix_path == NULL) ||
	    (conf->host != NULL && r->host == NULL) ||
	    event_add(r->tick, &tv) < 0) {
		wq_redis_free(r);
		return NULL;
	}
	return r;
}

void
wq_redis_free(struct wq_redis *r)
{
	redisAsyncContext *ac;
	struct cmd *c;

	if (r == NULL)
		return;
	if ((ac = r->ac) != NULL) {
		r->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	while ((c = TAILQ_FIRST(&r->spare)) != NULL) {
		TAILQ_REMOVE(&r->spare, c, link);
		free(c);
	}
	if (r->tick != NULL)
		event_free(r->tick);
	if (r->retry != NULL)
		event_free(r->retry);
	free(r->name);
	free(r->unix_path);
	free(r->host);
	free(r->user);
	free(r->password_file);
	explicit_bzero(r->secret, sizeof(r->secret));
	free(r);
}

void
wq_redis_start(struct wq_redis *r)
{
	if (r->state == R_IDLE)
		connect_now(r);
}

void
wq_redis_drop(struct wq_redis *r, const char *why)
{
	if (r->state == R_READY || r->state == R_HANDSHAKE ||
	    r->state == R_CONNECTING)
		lost(r, why);
}

int
wq_redis_ready(const struct wq_redis *r)
{
	return r->state == R_READY;
}

int
wq_redis_command(struct wq_redis *r, wq_redis_cb *cb, void *arg,
    int64_t timeout_ms, int argc, const char **argv, const size_t *argvlen)
{
	if (r->state != R_READY)
		return -1;
	return send_cmd(r, cb, arg, timeout_ms, argc, argv, argvlen, NULL, 0);
}

int
wq_redis_formatted(struct wq_redis *r, wq_redis_cb *cb, void *arg,
    int64_t timeout_ms, const char *cmd, size_t len)
{
	if (r->state != R_READY)
		return -1;
	return send_cmd(r, cb, arg, timeout_ms, 0, NULL, NULL, cmd, len);
}

const char *
wq_redis_error(const struct redisReply *reply)
{
	return reply != NULL && reply->type == REDIS_REPLY_ERROR ?
	    reply->str : NULL;
}

void
wq_redis_stats(const struct wq_redis *r, struct wq_redis_stats *st)
{
	st->ready = r->state == R_READY;
	st->reconnects = r->connects > 0 ? r->connects - 1 : 0;
	st->timeouts = r->timeouts;
	st->waiting = r->waiting;
	st->last_error = r->last_error;
}
