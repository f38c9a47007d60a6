/*
 * http: an async handler that POSTs each job's payload to a URL (a
 * webhook), with libevent's HTTP client on workqd's event loop.
 *
 *   plugins:
 *     http:
 *       url: http://127.0.0.1:8080/hooks/job   # required; http:// only
 *       connect_timeout: 2s    # the connection must be up within this
 *       timeout: 10s           # the whole request, connect to last byte
 *       headers: {Authorization: Bearer 0123abcd}
 *
 * The request carries the payload as its body (Content-Type
 * application/octet-stream unless `headers` sets one), X-Workq-Job-Id,
 * X-Workq-Queue and X-Workq-Attempt, and each other field of the job as
 * X-Workq-<Field> (the name's words capitalized, every byte that is not a
 * letter or digit turned into '-'; a value holding CR, LF or NUL, or over
 * 8 KiB, is left out, as is a name already sent).
 *
 * The answer decides:  2xx done;  429, 408 and 5xx retry, after the
 * response's Retry-After (seconds or an HTTP-date, at most a day) when it
 * has one, else with the queue's backoff;  anything else (3xx, other 4xx)
 * is dead-lettered with "HTTP 404 Not Found".  No answer (refused, reset,
 * timed out) is retried with the reason.  Redirects are not followed.
 *
 * https:// is refused: libevent's HTTP client speaks TLS only through
 * libevent_openssl, which workqd does not link.  Put a local TLS proxy
 * (stunnel, nginx, haproxy) in front of an https endpoint.
 *
 * DESIGN: start() runs on the loop thread and must not block, so it only
 * builds the request and hands it to libevent; everything after happens in
 * libevent's callbacks and one timer per job, all on the loop thread, so
 * they never run at the same time and need no lock.  A host name is
 * resolved with evdns (asynchronously; a numeric address needs nothing).
 *
 * One connection per request.  libevent's evhttp_connection runs one
 * request at a time, so a shared keep-alive connection would queue
 * concurrent jobs behind the slowest one, and cancelling one request
 * resets the connection under the others.  A connection of its own gives
 * each job its own timeouts and its own cancel, at the cost of a TCP
 * handshake per job, small next to a webhook's work.  Requests say
 * "Connection: close".
 *
 * Exactly once.  Every way a job can end (the response, a failure, our
 * timer, the cancel hook) goes through finish(), which completes the job
 * only if the call still holds it, then stops the timer and cancels the
 * request, so neither can end the job again.  A timer and a response that
 * are both ready on the same loop turn run one after the other; the second
 * finds the job gone.  libevent calls our callbacks from inside its own
 * code and may touch the connection after they return (even after a
 * request's last callback), so a finished call is never freed there: it is
 * moved to a list of spent calls, freed by an event made active for the
 * next loop turn (or by fini).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1		/* strptime, timegm, strcasecmp */
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <workqd/plugin.h>

#define HEADERS_MAX		32
#define HEADER_VALUE_MAX	8192
#define FIELD_NAME_MAX		100
#define RETRY_AFTER_MAX_MS	(24LL * 3600 * 1000)
#define BACKSTOP_MS		60000	/* libevent's timeout, after ours */

static const struct wq_host *host;

struct http_conf {
	char		*target;	/* path and query */
	char		*addr;		/* host to connect to, no brackets */
	char		*host_header;
	unsigned	 port;
	int64_t		 connect_ms;
	int64_t		 timeout_ms;
	const char	*names[HEADERS_MAX];
	const char	*vals[HEADERS_MAX];
	size_t		 nheaders;
};

struct http;

/* One job's request. */
struct call {
	TAILQ_ENTRY(call)		 link;	/* on live, then on spent */
	struct http			*h;
	struct wq_job			*job;	/* NULL once completed */
	struct evhttp_connection	*conn;
	struct evhttp_request		*req;	/* NULL once libevent let go */
	struct event			*timer;
	int64_t				 started;	/* monotonic ms */
	int				 connecting;	/* timer: connected? */
	int				 status;	/* 0: no answer yet */
	char				 phrase[64];
	int64_t				 retry_after;	/* ms; -1: none */
	int				 error;		/* evhttp error + 1 */
};

TAILQ_HEAD(call_list, call);

/* The plugin instance. */
struct http {
	struct http_conf	 conf;
	struct event_base	*base;
	struct evdns_base	*dns;		/* NULL for a numeric address */
	struct event		*reap;
	struct call_list	 live;
	struct call_list	 spent;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval
tv_ms(int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

/* Configuration. */

/*
 * A positioned complaint about the value of key (or, with sub, about the
 * value of sub in the mapping under key); about the whole map on an old
 * workqd without conf_node.  Returns -1.
 */
static int
bad(const struct wq_node *conf, const char *key, const char *sub,
    const char *fmt, ...) WQ_PRINTF(4, 5);

static int
bad(const struct wq_node *conf, const char *key, const char *sub,
    const char *fmt, ...)
{
	const struct wq_node *at = conf, *n;
	char msg[512];
	va_list ap;

	if (WQ_HOST_HAS(host, conf_node) &&
	    (n = host->conf_node(conf, key)) != NULL) {
		at = n;
		if (sub != NULL && (n = host->conf_node(at, sub)) != NULL)
			at = n;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sub != NULL)
		return host->conf_error(at, "%s: %s: %s", key, sub, msg);
	return host->conf_error(at, "%s: %s", key, msg);
}

static void
conf_free(struct http_conf *c)
{
	free(c->target);
	free(c->addr);
	free(c->host_header);
	memset(c, 0, sizeof(*c));
}

/* Fills addr, port, host_header and target from a parsed URL. */
static int
split_url(const struct evhttp_uri *u, struct http_conf *c)
{
	const char *h = evhttp_uri_get_host(u), *path = evhttp_uri_get_path(u);
	const char *query = evhttp_uri_get_query(u);
	int port = evhttp_uri_get_port(u);
	size_t len = strlen(h);

	c->port = port < 0 ? 80 : (unsigned)port;
	/* An IPv6 literal keeps its brackets in Host, not in the address. */
	if (h[0] == '[' && len > 2 && h[len - 1] == ']')
		c->addr = strndup(h + 1, len - 2);
	else
		c->addr = strdup(h);
	if (asprintf(&c->host_header, c->port == 80 ? "%s" : "%s:%u", h,
	    c->port) < 0)
		c->host_header = NULL;
	if (asprintf(&c->target, "%s%s%s", path != NULL && path[0] != '\0' ?
	    path : "/", query != NULL ? "?" : "", query != NULL ? query : "") <
	    0)
		c->target = NULL;
	return c->addr != NULL && c->host_header != NULL && c->target != NULL ?
	    0 : -1;
}

static int
parse_url(const struct wq_node *conf, struct http_conf *c)
{
	struct evhttp_uri *u;
	const char *url = NULL, *scheme, *h;
	int r = -1;

	if (host->conf_str(conf, "url", &url) != 0 || url[0] == '\0')
		return url != NULL ? bad(conf, "url", NULL, "required") :
		    host->conf_error(conf, "url: required: "
		    "http://host:port/path");
	if ((u = evhttp_uri_parse_with_flags(url, 0)) == NULL)
		return bad(conf, "url", NULL, "%s: not a valid URL", url);
	scheme = evhttp_uri_get_scheme(u);
	h = evhttp_uri_get_host(u);
	if (scheme != NULL && strcasecmp(scheme, "https") == 0)
		bad(conf, "url", NULL, "%s: https is not supported (libevent's "
		    "HTTP client has no TLS here); put a local TLS proxy in "
		    "front", url);
	else if (scheme == NULL || strcasecmp(scheme, "http") != 0)
		bad(conf, "url", NULL, "%s: expected http://host[:port]/path",
		    url);
	else if (evhttp_uri_get_userinfo(u) != NULL)
		bad(conf, "url", NULL, "%s: no credentials in the URL; use "
		    "headers: {Authorization: ...}", url);
	else if (h == NULL || h[0] == '\0' || evhttp_uri_get_port(u) == 0)
		bad(conf, "url", NULL, "%s: expected a host and a port from 1 "
		    "to 65535", url);
	else if (split_url(u, c) < 0)
		host->conf_error(conf, "http: out of memory");
	else
		r = 0;
	evhttp_uri_free(u);
	return r;
}

/* An HTTP token (RFC 9110 tchar). */
static int
token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)
		    != NULL))
			return 0;
	return 1;
}

static int
reserved(const char *name)
{
	static const char *const own[] = {
		"Host", "Content-Length", "Connection", "Transfer-Encoding",
		NULL
	};

	for (size_t i = 0; own[i] != NULL; i++)
		if (strcasecmp(name, own[i]) == 0)
			return 1;
	return strncasecmp(name, "X-Workq-", 8) == 0;
}

static int
parse_headers(const struct wq_node *conf, struct http_conf *c)
{
	if (!WQ_HOST_HAS(host, conf_strmap)) {
		if (WQ_HOST_HAS(host, conf_node) &&
		    host->conf_node(conf, "headers") == NULL)
			return 0;
		return host->conf_error(conf, "headers: this workqd is too "
		    "old to read it");
	}
	if (host->conf_strmap(conf, "headers", c->names, c->vals, HEADERS_MAX,
	    &c->nheaders) < 0)
		return -1;
	for (size_t i = 0; i < c->nheaders; i++) {
		if (!token(c->names[i]))
			return bad(conf, "headers", c->names[i],
			    "not a header name");
		if (reserved(c->names[i]))
			return bad(conf, "headers", c->names[i],
			    "set by the plugin");
		if (strpbrk(c->vals[i], "\r\n") != NULL)
			return bad(conf, "headers", c->names[i],
			    "CR or LF in the value");
	}
	return 0;
}

static int
parse(const struct wq_node *conf, struct http_conf *c)
{
	static const char *const known[] = {
		"url", "connect_timeout", "timeout", "headers", NULL
	};

	memset(c, 0, sizeof(*c));
	c->connect_ms = 2000;
	c->timeout_ms = 10000;
	if (host->conf_keys(conf, known) < 0 || parse_url(conf, c) < 0 ||
	    host->conf_ms(conf, "connect_timeout", &c->connect_ms) < 0 ||
	    host->conf_ms(conf, "timeout", &c->timeout_ms) < 0 ||
	    parse_headers(conf, c) < 0)
		goto fail;
	if (c->connect_ms <= 0 || c->connect_ms > 3600000) {
		bad(conf, "connect_timeout", NULL, "expected 1ms to 1h");
		goto fail;
	}
	if (c->timeout_ms <= 0 || c->timeout_ms > 3600000) {
		bad(conf, "timeout", NULL, "expected 1ms to 1h");
		goto fail;
	}
	return 0;
fail:
	conf_free(c);
	return -1;
}

static int
http_check(const struct wq_host *h, const struct wq_node *conf)
{
	struct http_conf c;

	host = h;
	if (parse(conf, &c) < 0)
		return -1;
	conf_free(&c);
	return 0;
}

/* Outcomes. */

static void	reap_cb(evutil_socket_t fd, short what, void *arg);

/* Ends the call's job, once: see DESIGN.  fmt may be NULL. */
static void
finish(struct call *c, enum wq_outcome out, const char *fmt, ...)
    WQ_PRINTF(3, 4);

static void
finish(struct call *c, enum wq_outcome out, const char *fmt, ...)
{
	struct wq_job *job = c->job;
	struct evhttp_request *req = c->req;
	char msg[256];
	va_list ap;

	if (job == NULL)
		return;
	c->job = NULL;
	c->req = NULL;
	evtimer_del(c->timer);
	if (req != NULL)
		evhttp_cancel_request(req);
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		host->job_error(job, "%s", msg);
	}
	if (out == WQ_RETRY && c->retry_after >= 0)
		host->job_retry_in(job, c->retry_after);
	TAILQ_REMOVE(&c->h->live, c, link);
	TAILQ_INSERT_TAIL(&c->h->spent, c, link);
	event_active(c->h->reap, EV_TIMEOUT, 0);
	host->complete(job, out);
}

/* Retry-After: delay-seconds or an HTTP-date; ms, or -1. */
static int64_t
retry_after(const char *v)
{
	static const char *const dates[] = {
		"%a, %d %b %Y %H:%M:%S GMT",	/* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT",	/* RFC 850 */
		"%a %b %e %H:%M:%S %Y",		/* asctime */
	};
	struct tm tm;
	const char *end;
	char *num_end;
	long long s;

	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		errno = 0;
		s = strtoll(v, &num_end, 10);
		if (errno != 0 || s > RETRY_AFTER_MAX_MS / 1000)
			return RETRY_AFTER_MAX_MS;
		return strspn(num_end, " \t") == strlen(num_end) ?
		    s * 1000 : -1;
	}
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		if ((end = strptime(v, dates[i], &tm)) != NULL &&
		    strspn(end, " \t") == strlen(end)) {
			s = ((long long)timegm(&tm) - (long long)time(NULL)) *
			    1000;
			return s < 0 ? 0 : s > RETRY_AFTER_MAX_MS ?
			    RETRY_AFTER_MAX_MS : s;
		}
	}
	return -1;
}

/* The server answered with c->status. */
static void
judge(struct call *c)
{
	int s = c->status;

	if (s >= 200 && s <= 299)
		finish(c, WQ_DONE, NULL);
	else if (s == 429 || s == 408 || (s >= 500 && s <= 599))
		finish(c, WQ_RETRY, "HTTP %d %s", s, c->phrase);
	else {
		c->retry_after = -1;
		finish(c, WQ_DEAD, "HTTP %d %s", s, c->phrase);
	}
}

static const char *
error_name(int error)
{
	switch (error - 1) {
	case EVREQ_HTTP_TIMEOUT:
		return "timed out";
	case EVREQ_HTTP_EOF:
		return "connection closed before the response";
	case EVREQ_HTTP_INVALID_HEADER:
		return "malformed response";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection reset";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "response too large";
	default:
		return "cannot connect";	/* no error callback */
	}
}

/* libevent's callbacks.  Loop thread. */

static int
header_cb(struct evhttp_request *req, void *arg)
{
	struct call *c = arg;
	const char *v;

	c->status = evhttp_request_get_response_code(req);
	snprintf(c->phrase, sizeof(c->phrase), "%s",
	    evhttp_request_get_response_code_line(req) != NULL ?
	    evhttp_request_get_response_code_line(req) : "");
	v = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Retry-After");
	c->retry_after = v != NULL ? retry_after(v) : -1;
	return 0;
}

/* The body is of no interest: libevent drains what this was shown. */
static void
chunk_cb(struct evhttp_request *req, void *arg)
{
	(void)req;
	(void)arg;
}

static void
error_cb(enum evhttp_request_error error, void *arg)
{
	struct call *c = arg;

	c->error = (int)error + 1;
}

/* The request's last callback: req is freed by libevent after it. */
static void
done_cb(struct evhttp_request *req, void *arg)
{
	struct call *c = arg;
	const struct http_conf *conf = &c->h->conf;

	c->req = NULL;
	if (c->job == NULL)
		return;
	if (c->status == 0 && req != NULL &&
	    evhttp_request_get_response_code(req) != 0)
		header_cb(req, c);
	if (c->status != 0)
		judge(c);
	else
		finish(c, WQ_RETRY, "%s:%u: %s", conf->addr, conf->port,
		    error_name(c->error));
}

/* Nonzero once the connection is established. */
static int
connected(struct call *c)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;

	return fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	const struct http_conf *conf = &c->h->conf;
	struct timeval tv;
	int64_t left;

	(void)fd;
	(void)what;
	if (c->connecting) {
		if (!connected(c)) {
			finish(c, WQ_RETRY, "connect to %s:%u timed out after "
			    "%lld ms", conf->addr, conf->port,
			    (long long)conf->connect_ms);
			return;
		}
		c->connecting = 0;
		left = c->started + conf->timeout_ms - mono_ms();
		if (left > 0) {
			tv = tv_ms(left);
			evtimer_add(c->timer, &tv);
			return;
		}
	}
	finish(c, WQ_RETRY, "no response from %s:%u within %lld ms", conf->addr,
	    conf->port, (long long)conf->timeout_ms);
}

static void	call_free(struct call *c);

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	struct call *c;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&h->spent)) != NULL) {
		TAILQ_REMOVE(&h->spent, c, link);
		call_free(c);
	}
}

/* The request. */

/* X-Workq-<Name> for a field: words capitalized, other bytes '-'. */
static int
field_header(const char *name, char *out, size_t size)
{
	size_t n = strlen(name), off = sizeof("X-Workq-") - 1;
	int word = 1;

	if (n == 0 || n > FIELD_NAME_MAX || off + n + 1 > size)
		return -1;
	memcpy(out, "X-Workq-", off);
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9'))) {
			out[off + i] = '-';
			word = 1;
			continue;
		}
		if (word && ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		out[off + i] = ch;
		word = 0;
	}
	out[off + n] = '\0';
	return 0;
}

static int
add(struct evkeyvalq *hs, const char *name, const char *val)
{
	if (evhttp_find_header(hs, name) != NULL)
		return 0;		/* first come, first kept */
	return evhttp_add_header(hs, name, val);
}

static int
add_fields(struct evkeyvalq *hs, struct wq_job *job)
{
	char name[sizeof("X-Workq-") + FIELD_NAME_MAX];
	const char *fname, *val;
	size_t vlen;

	for (size_t i = 0; host->job_field_at(job, i, &fname, &val, &vlen) == 0;
	    i++) {
		if (strcmp(fname, "payload") == 0 || vlen > HEADER_VALUE_MAX ||
		    memchr(val, '\0', vlen) != NULL ||
		    memchr(val, '\r', vlen) != NULL ||
		    memchr(val, '\n', vlen) != NULL ||
		    field_header(fname, name, sizeof(name)) < 0)
			continue;
		if (add(hs, name, val) < 0)
			return -1;
	}
	return 0;
}

static int
add_headers(struct call *c, struct evhttp_request *req)
{
	const struct http_conf *conf = &c->h->conf;
	struct evkeyvalq *hs = evhttp_request_get_output_headers(req);
	char attempt[16];

	snprintf(attempt, sizeof(attempt), "%u",
	    (unsigned)host->job_attempt(c->job));
	if (evhttp_add_header(hs, "Host", conf->host_header) < 0 ||
	    evhttp_add_header(hs, "Connection", "close") < 0)
		return -1;
	for (size_t i = 0; i < conf->nheaders; i++)
		if (add(hs, conf->names[i], conf->vals[i]) < 0)
			return -1;
	if (add(hs, "Content-Type", "application/octet-stream") < 0 ||
	    add(hs, "User-Agent", "workqd-http/1.0") < 0 ||
	    add(hs, "X-Workq-Job-Id", host->job_id(c->job)) < 0 ||
	    add(hs, "X-Workq-Queue", host->job_queue(c->job)) < 0 ||
	    add(hs, "X-Workq-Attempt", attempt) < 0)
		return -1;
	return add_fields(hs, c->job);
}

static struct evhttp_request *
build(struct call *c)
{
	struct evhttp_request *req = evhttp_request_new(done_cb, c);
	const char *payload;
	size_t len;

	if (req == NULL)
		return NULL;
	evhttp_request_set_header_cb(req, header_cb);
	evhttp_request_set_chunked_cb(req, chunk_cb);
	evhttp_request_set_error_cb(req, error_cb);
	payload = host->job_payload(c->job, &len);
	if (add_headers(c, req) < 0 || evbuffer_add(
	    evhttp_request_get_output_buffer(req), payload, len) < 0) {
		evhttp_request_free(req);
		return NULL;
	}
	return req;
}

static void
call_free(struct call *c)
{
	if (c->conn != NULL)
		evhttp_connection_free(c->conn);
	if (c->timer != NULL)
		event_free(c->timer);
	free(c);
}

static struct call *
call_new(struct http *h, struct wq_job *job)
{
	struct call *c = calloc(1, sizeof(*c));
	struct timeval backstop = tv_ms(h->conf.timeout_ms + BACKSTOP_MS);

	if (c == NULL)
		return NULL;
	c->h = h;
	c->job = job;
	c->retry_after = -1;
	c->started = mono_ms();
	if ((c->timer = evtimer_new(h->base, timer_cb, c)) == NULL ||
	    (c->conn = evhttp_connection_base_new(h->base, h->dns,
	    h->conf.addr, (ev_uint16_t)h->conf.port)) == NULL) {
		call_free(c);
		return NULL;
	}
	/* libevent's own timeout only backs ours up (see timer_cb). */
	evhttp_connection_set_timeout_tv(c->conn, &backstop);
	evhttp_connection_set_flags(c->conn, EVHTTP_CON_READ_ON_WRITE_ERROR);
	evhttp_connection_set_max_headers_size(c->conn, 65536);
	return c;
}

static enum wq_outcome
http_start(void *state, struct wq_job *job)
{
	struct http *h = state;
	struct call *c;
	struct timeval tv;

	if ((c = call_new(h, job)) == NULL || (c->req = build(c)) == NULL) {
		if (c != NULL)
			call_free(c);
		host->job_error(job, "out of memory");
		return WQ_RETRY;
	}
	c->connecting = h->conf.connect_ms < h->conf.timeout_ms;
	tv = tv_ms(c->connecting ? h->conf.connect_ms : h->conf.timeout_ms);
	evtimer_add(c->timer, &tv);
	TAILQ_INSERT_TAIL(&h->live, c, link);
	/* A connection refused at once ends the job from in here: done_cb
	   runs inside evhttp_make_request, and c is spent when it returns. */
	if (evhttp_make_request(c->conn, c->req, EVHTTP_REQ_POST,
	    h->conf.target) < 0) {
		c->req = NULL;		/* freed by libevent on failure */
		finish(c, WQ_RETRY, "cannot send the request to %s:%u",
		    h->conf.addr, h->conf.port);
	}
	return WQ_PENDING;
}

static void
http_cancel(void *state, struct wq_job *job)
{
	struct http *h = state;
	struct call *c;

	TAILQ_FOREACH(c, &h->live, link)
		if (c->job == job) {
			finish(c, WQ_RETRY, "cancelled");
			return;
		}
	/* Not found: finished already, its completion on its way. */
}

/* Lifecycle. */

static int
numeric(const char *addr)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return evutil_inet_pton(AF_INET, addr, buf) == 1 ||
	    evutil_inet_pton(AF_INET6, addr, buf) == 1;
}

static void
http_fini(void *state)
{
	struct http *h = state;
	struct call *c;

	reap_cb(-1, 0, h);
	/* Jobs hold the module, so none can be live; be safe anyway. */
	while ((c = TAILQ_FIRST(&h->live)) != NULL) {
		TAILQ_REMOVE(&h->live, c, link);
		call_free(c);
	}
	if (h->dns != NULL)
		evdns_base_free(h->dns, 0);
	if (h->reap != NULL)
		event_free(h->reap);
	conf_free(&h->conf);
	free(h);
}

static int
http_init(const struct wq_host *hst, const struct wq_node *conf, void **state)
{
	struct http *h = calloc(1, sizeof(*h));

	host = hst;
	if (h == NULL)
		return -1;
	TAILQ_INIT(&h->live);
	TAILQ_INIT(&h->spent);
	if (parse(conf, &h->conf) < 0) {
		free(h);
		return -1;
	}
	if ((h->base = host->event_base()) == NULL ||
	    (h->reap = event_new(h->base, -1, 0, reap_cb, h)) == NULL)
		goto fail;
	if (!numeric(h->conf.addr) && (h->dns = evdns_base_new(h->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL) {
		host->log(WQ_LOG_ERR, "cannot set up DNS resolution for %s",
		    h->conf.addr);
		goto fail;
	}
	*state = h;
	return 0;
fail:
	http_fini(h);
	return -1;
}

WQ_PLUGIN(
	.name = "http",
	.version = "1.0",
	.conf_check = http_check,
	.init = http_init,
	.fini = http_fini,
	.start = http_start,
	.cancel = http_cancel,
);
