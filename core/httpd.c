/*
 * The HTTP endpoint (see httpd.h).
 *
 * DESIGN: evhttp parses and answers; this file routes two paths and keeps
 * the server from costing the loop more than a bounded amount.
 *
 * libevent 2.1 has no limit on evhttp's connections (2.2 adds
 * evhttp_set_max_connections), so this file counts them itself.  evhttp
 * asks us for each new connection's bufferevent (evhttp_set_bevcb); we
 * create it, keep a reference of our own (bufferevent_incref, meant for
 * exactly this), and note its deadline.  When evhttp is done with a
 * connection it frees the bufferevent, which clears its callbacks; our
 * reference keeps the object (and its socket, which closes with the last
 * reference) until a sweep sees the cleared callbacks and lets go.  So the
 * count of tracked bufferevents bounds the open sockets: at the limit the
 * listener is disabled and new connections wait in the kernel's backlog
 * until a sweep frees a place.  A connection past its lifetime (a client
 * that trickles a byte every few seconds beats an idle timeout) is shut
 * down; evhttp sees the end and frees it.  Our reference is only ever
 * ours, so letting go of it early is always safe.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "clock.h"
#include "httpd.h"
#include "log.h"

#define SWEEP_MS	100
#define GRACE_MS	5000	/* after a shutdown, before letting go */
#define BACKLOG		64
#define MAX_HEADERS	8192
#define MAX_BODY	1024
#define WHY_MAX		512

struct conn {
	TAILQ_ENTRY(conn)	 link;
	struct bufferevent	*bev;
	int64_t			 deadline_ms;	/* monotonic */
	int			 shut;
};

struct wq_httpd {
	struct wq_loop		*loop;
	struct evhttp		*http;
	struct evhttp_bound_socket *bound;
	struct evconnlistener	*listener;
	struct event		*sweep_ev;
	struct wq_httpd_ops	 ops;
	struct wq_httpd_limits	 lim;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	int			 port;
	TAILQ_HEAD(, conn)	 conns;
	unsigned		 nconns;
	int			 paused;
	int64_t			 warned_ms;
};

/* Lets go of our reference: the socket closes if evhttp is done too. */
static void
release(struct wq_httpd *h, struct conn *c)
{
	TAILQ_REMOVE(&h->conns, c, link);
	h->nconns--;
	bufferevent_decref(c->bev);
	free(c);
}

static int
evhttp_done(struct bufferevent *bev)
{
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;
	void *arg;

	bufferevent_getcb(bev, &rd, &wr, &ev, &arg);
	return rd == NULL && wr == NULL && ev == NULL;
}

static void
sweep(struct wq_httpd *h)
{
	int64_t now = wq_clock_mono_ms();
	struct conn *c, *tmp;
	evutil_socket_t fd;

	for (c = TAILQ_FIRST(&h->conns); c != NULL; c = tmp) {
		tmp = TAILQ_NEXT(c, link);
		if (evhttp_done(c->bev) || now >= c->deadline_ms + GRACE_MS) {
			release(h, c);
			continue;
		}
		if (c->shut || now < c->deadline_ms)
			continue;
		/* Past its lifetime (or over the limit): evhttp reads the
		   end and frees the connection itself. */
		c->shut = 1;
		if ((fd = bufferevent_getfd(c->bev)) >= 0)
			shutdown(fd, SHUT_RDWR);
	}
	if (h->paused && h->nconns < h->lim.connections) {
		h->paused = 0;
		evconnlistener_enable(h->listener);
	}
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wq_httpd *h = arg;
	struct timeval tv = WQ_TV_MS(SWEEP_MS);

	(void)fd;
	(void)what;
	sweep(h);
	if (h->nconns > 0)
		evtimer_add(h->sweep_ev, &tv);
}

static void
limit_reached(struct wq_httpd *h)
{
	int64_t now = wq_clock_mono_ms();

	h->paused = 1;
	evconnlistener_disable(h->listener);
	if (h->warned_ms == 0 || now - h->warned_ms >= 60000) {
		h->warned_ms = now;
		wq_log(WQ_LOG_WARNING, "http: %u connections open (the "
		    "limit); new ones wait until one closes", h->nconns);
	}
}

/* evhttp's new connection: its bufferevent, tracked. */
static struct bufferevent *
new_conn(struct event_base *base, void *arg)
{
	struct wq_httpd *h = arg;
	struct timeval tv = WQ_TV_MS(SWEEP_MS);
	struct bufferevent *bev;
	struct conn *c;

	sweep(h);
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	/* Out of memory: evhttp copes with NULL, and one untracked
	   connection is no harm. */
	if (bev == NULL || (c = calloc(1, sizeof(*c))) == NULL)
		return bev;
	bufferevent_incref(bev);
	c->bev = bev;
	c->deadline_ms = wq_clock_mono_ms() + h->lim.lifetime_ms;
	TAILQ_INSERT_TAIL(&h->conns, c, link);
	if (++h->nconns > h->lim.connections) {
		/* Accepted in the same burst as the last allowed one: shut
		   it at once (its socket is set after we return). */
		c->deadline_ms = wq_clock_mono_ms();
		event_active(h->sweep_ev, EV_TIMEOUT, 0);
	} else if (!evtimer_pending(h->sweep_ev, NULL))
		evtimer_add(h->sweep_ev, &tv);
	if (h->nconns >= h->lim.connections && !h->paused)
		limit_reached(h);
	return bev;
}

static void
reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, struct evbuffer *body)
{
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	char len[32];

	evhttp_add_header(hdr, "Content-Type", type);
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	/* evhttp 2.1 would send a HEAD response's body: the length only. */
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		snprintf(len, sizeof(len), "%zu", evbuffer_get_length(body));
		evhttp_add_header(hdr, "Content-Length", len);
		evbuffer_drain(body, evbuffer_get_length(body));
	}
	evhttp_send_reply(req, code, reason, body);
}

static void
text(struct evhttp_request *req, int code, const char *reason,
    const char *msg)
{
	struct evbuffer *body = evhttp_request_get_output_buffer(req);

	evbuffer_add_printf(body, "%s\n", msg);
	reply(req, code, reason, "text/plain; charset=utf-8", body);
}

static void
metrics(struct wq_httpd *h, struct evhttp_request *req)
{
	struct evbuffer *body = evhttp_request_get_output_buffer(req);
	char why[WHY_MAX];

	if (h->ops.metrics(h->ops.arg, body, h->lim.max_output) < 0) {
		snprintf(why, sizeof(why), "metrics: %s", errno == EFBIG ?
		    "the output exceeds its bound" : strerror(errno));
		wq_log(WQ_LOG_WARNING, "http: /metrics: %s", why);
		evbuffer_drain(body, evbuffer_get_length(body));
		text(req, 500, "Internal Server Error", why);
		return;
	}
	reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
	    body);
}

static void
health(struct wq_httpd *h, struct evhttp_request *req)
{
	char why[WHY_MAX] = "";

	if (h->ops.health(h->ops.arg, why, sizeof(why)))
		text(req, 200, "OK", "ok");
	else
		text(req, 503, "Service Unavailable", why[0] != '\0' ? why :
		    "unhealthy");
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct wq_httpd *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	if (path == NULL)
		text(req, 400, "Bad Request", "bad request");
	else if (strcmp(path, "/metrics") == 0)
		metrics(h, req);
	else if (strcmp(path, "/healthz") == 0)
		health(h, req);
	else
		text(req, 404, "Not Found", "not found: try /metrics or "
		    "/healthz");
}

static void
limits(struct wq_httpd_limits *l, const struct wq_httpd_limits *given)
{
	if (given != NULL)
		*l = *given;
	if (l->connections == 0)
		l->connections = WQ_HTTPD_CONNECTIONS;
	if (l->timeout_ms <= 0)
		l->timeout_ms = WQ_HTTPD_TIMEOUT_MS;
	if (l->lifetime_ms <= 0)
		l->lifetime_ms = WQ_HTTPD_LIFETIME_MS;
	if (l->max_output == 0)
		l->max_output = WQ_HTTPD_MAX_OUTPUT;
}

static int
resolve(struct wq_httpd *h, const char *host, int port, char *err,
    size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
	    .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai;
	char serv[16];
	int rc;

	snprintf(serv, sizeof(serv), "%d", port);
	if ((rc = getaddrinfo(host, serv, &hints, &ai)) != 0) {
		snprintf(err, errlen, "http: cannot resolve '%s': %s", host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	memcpy(&h->addr, ai->ai_addr, ai->ai_addrlen);
	h->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

struct wq_httpd *
wq_httpd_new(struct wq_loop *loop, const char *host, int port,
    const struct wq_httpd_limits *lim, const struct wq_httpd_ops *ops,
    char *err, size_t errlen)
{
	struct event_base *base = wq_loop_base(loop);
	struct wq_httpd *h = calloc(1, sizeof(*h));
	struct timeval tv;

	snprintf(err, errlen, "http: %s", strerror(ENOMEM));
	if (h == NULL)
		return NULL;
	h->loop = loop;
	h->ops = *ops;
	h->port = -1;
	TAILQ_INIT(&h->conns);
	limits(&h->lim, lim);
	if (resolve(h, host, port, err, errlen) < 0)
		goto fail;
	if ((h->http = evhttp_new(base)) == NULL ||
	    (h->sweep_ev = evtimer_new(base, sweep_cb, h)) == NULL)
		goto fail;
	tv = (struct timeval)WQ_TV_MS(h->lim.timeout_ms);
	evhttp_set_timeout_tv(h->http, &tv);
	evhttp_set_max_headers_size(h->http, MAX_HEADERS);
	evhttp_set_max_body_size(h->http, MAX_BODY);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_bevcb(h->http, new_conn, h);
	evhttp_set_gencb(h->http, request_cb, h);
	return h;
fail:
	wq_httpd_free(h);
	errno = ENOMEM;
	return NULL;
}

void
wq_httpd_free(struct wq_httpd *h)
{
	struct conn *c;

	if (h == NULL)
		return;
	/* evhttp frees its connections and the listener; our references
	   then close the sockets. */
	if (h->http != NULL)
		evhttp_free(h->http);
	while ((c = TAILQ_FIRST(&h->conns)) != NULL)
		release(h, c);
	if (h->sweep_ev != NULL)
		event_free(h->sweep_ev);
	free(h);
}

int
wq_httpd_listen(struct wq_httpd *h)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct evconnlistener *lev;
	int e;

	if (h->bound != NULL)
		return 0;
	lev = evconnlistener_new_bind(wq_loop_base(h->loop), NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE |
	    LEV_OPT_DISABLED, BACKLOG, (struct sockaddr *)&h->addr,
	    (int)h->addrlen);
	if (lev == NULL)
		return -1;
	if ((h->bound = evhttp_bind_listener(h->http, lev)) == NULL) {
		e = errno;
		evconnlistener_free(lev);
		errno = e != 0 ? e : ENOMEM;
		return -1;
	}
	h->listener = lev;
	if (getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&ss,
	    &len) == 0)
		h->port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	evconnlistener_enable(lev);
	return 0;
}

int
wq_httpd_port(const struct wq_httpd *h)
{
	return h->port;
}

unsigned
wq_httpd_connections(const struct wq_httpd *h)
{
	return h->nconns;
}
