/*
 * The HTTP endpoint: libevent's evhttp on the loop's event_base, serving
 *
 *   GET /metrics   the Prometheus text (the ops' metrics callback);
 *   GET /healthz   200 "ok", or 503 with the reason (the ops' health).
 *
 * It shares the loop with the jobs, so it is built never to hold it: the
 * answers are computed from figures already in memory (no Redis command
 * on a scrape), the /metrics text is bounded, at most `connections` are
 * open at once (more wait in the listen backlog), and each connection has
 * an idle timeout and a lifetime.  Any other path gets 404; methods
 * other than GET and HEAD get evhttp's 501.
 *
 * Loop thread only.
 */
#ifndef WQ_HTTPD_H
#define WQ_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define WQ_HTTPD_CONNECTIONS	64
#define WQ_HTTPD_TIMEOUT_MS	5000
#define WQ_HTTPD_LIFETIME_MS	60000
#define WQ_HTTPD_MAX_OUTPUT	(4 << 20)

struct evbuffer;
struct wq_httpd;

struct wq_httpd_ops {
	/* Appends the /metrics text to out, at most max bytes: 0, or -1
	   with errno set (the scrape gets a 500 saying why). */
	int	(*metrics)(void *arg, struct evbuffer *out, size_t max);
	/* 1 when healthy; else 0 with why filled (a 503 with that text). */
	int	(*health)(void *arg, char *why, size_t len);
	void	*arg;
};

/* Zero members take the defaults above. */
struct wq_httpd_limits {
	unsigned	connections;	/* open at once */
	int64_t		timeout_ms;	/* a read or write idle this long */
	int64_t		lifetime_ms;	/* a connection open this long */
	size_t		max_output;	/* bytes of /metrics */
};

/*
 * Resolves host (once: a retry never waits for DNS on the loop) and sets
 * the server up without listening yet.  NULL with err filled ("cannot
 * resolve ...") or errno ENOMEM.  lim may be NULL.
 */
struct wq_httpd	*wq_httpd_new(struct wq_loop *loop, const char *host,
		    int port, const struct wq_httpd_limits *lim,
		    const struct wq_httpd_ops *ops, char *err, size_t errlen);
/* Closes the listener and every connection. */
void		 wq_httpd_free(struct wq_httpd *h);

/* Starts listening: 0 (also when already listening), or -1 with errno
   (EADDRINUSE, EACCES, ...). */
int	wq_httpd_listen(struct wq_httpd *h);
/* The port listened on (useful with port 0), or -1. */
int	wq_httpd_port(const struct wq_httpd *h);
/* Connections open now. */
unsigned wq_httpd_connections(const struct wq_httpd *h);

#endif /* WQ_HTTPD_H */
