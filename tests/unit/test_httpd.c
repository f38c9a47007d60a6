/*
 * core/httpd.c on a real loop, with plain sockets as clients (the test
 * thread steps the loop between reads): the two routes and their status
 * codes, the bound on open connections (more wait, then get served), the
 * lifetime and idle timeout that close slow clients, and listening errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "clock.h"
#include "httpd.h"

#define DEADLINE_MS	5000

struct fake {
	int	healthy;
	int	fail_errno;
	int	scrapes;
};

struct client {
	int	fd;
	char	buf[8192];
	size_t	len;
	int	eof;
};

static struct wq_loop *loop;

static int
fake_metrics(void *arg, struct evbuffer *out, size_t max)
{
	struct fake *f = arg;

	f->scrapes++;
	if (f->fail_errno != 0) {
		evbuffer_add_printf(out, "partial");
		errno = f->fail_errno;
		return -1;
	}
	assert_true(max > 0);
	evbuffer_add_printf(out, "# TYPE x counter\nx %d\n", f->scrapes);
	return 0;
}

static int
fake_health(void *arg, char *why, size_t len)
{
	struct fake *f = arg;

	if (!f->healthy)
		snprintf(why, len, "redis: connection lost: %s", "EOF");
	return f->healthy;
}

static struct wq_httpd *
server(struct fake *f, const struct wq_httpd_limits *lim)
{
	struct wq_httpd_ops ops = { .metrics = fake_metrics,
	    .health = fake_health, .arg = f };
	char err[256];
	struct wq_httpd *h = wq_httpd_new(loop, "127.0.0.1", 0, lim, &ops, err,
	    sizeof(err));

	if (h == NULL)
		fail_msg("%s", err);
	assert_int_equal(wq_httpd_listen(h), 0);
	assert_int_equal(wq_httpd_listen(h), 0);	/* idempotent */
	assert_true(wq_httpd_port(h) > 0);
	return h;
}

static void
cl_open(struct client *c, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };

	memset(c, 0, sizeof(*c));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->fd >= 0);
	/* Loopback: the kernel completes the handshake from the backlog,
	   even while the server does not accept. */
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sin,
	    sizeof(sin)), 0);
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
}

static void
cl_send(struct client *c, const char *s)
{
	assert_int_equal(write(c->fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void
cl_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
}

/* Reads what is there; 1 once a whole response (or the end) is in. */
static int
cl_poll(struct client *c)
{
	const char *body, *cl;
	ssize_t n;

	while (!c->eof && c->len < sizeof(c->buf) - 1) {
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (n == 0)
			c->eof = 1;
		if (n <= 0)
			break;
		c->len += (size_t)n;
	}
	c->buf[c->len] = '\0';
	if (c->eof)
		return 1;
	if ((body = strstr(c->buf, "\r\n\r\n")) == NULL)
		return 0;
	body += 4;
	if ((cl = strcasestr(c->buf, "Content-Length: ")) == NULL)
		return 0;
	return c->len - (size_t)(body - c->buf) >=
	    strtoul(cl + 16, NULL, 10);
}

/* Steps the loop until cond(arg) or the deadline; the result of cond. */
static int
until(int (*cond)(void *), void *arg, int64_t ms)
{
	int64_t end = wq_clock_mono_ms() + ms;

	while (!cond(arg)) {
		if (wq_clock_mono_ms() > end)
			return 0;
		wq_loop_step(loop, 10);
	}
	return 1;
}

static int
answered(void *arg)
{
	return cl_poll(arg);
}

/* Sends one request and waits for the answer: the status code. */
static int
request(int port, const char *req, struct client *c)
{
	cl_open(c, port);
	cl_send(c, req);
	assert_true(until(answered, c, DEADLINE_MS));
	cl_close(c);
	return atoi(c->buf + strlen("HTTP/1.1 "));
}

static const char *
body(const struct client *c)
{
	const char *b = strstr(c->buf, "\r\n\r\n");

	return b != NULL ? b + 4 : "";
}

static int
closed(void *arg)
{
	struct client *c = arg;

	cl_poll(c);
	return c->eof;
}

static int
setup(void **state)
{
	(void)state;
	loop = wq_loop_new();
	return loop == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	wq_loop_free(loop);
	return 0;
}

static void
test_routes(void **state)
{
	struct fake f = { .healthy = 1 };
	struct wq_httpd *h = server(&f, NULL);
	int port = wq_httpd_port(h);
	struct client c;

	(void)state;
	assert_int_equal(request(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", &c), 200);
	assert_non_null(strcasestr(c.buf, "\r\nContent-Type: text/plain; "
	    "version=0.0.4; charset=utf-8\r\n"));
	assert_string_equal(body(&c), "# TYPE x counter\nx 1\n");

	assert_int_equal(request(port, "GET /healthz HTTP/1.0\r\n\r\n", &c),
	    200);
	assert_string_equal(body(&c), "ok\n");
	f.healthy = 0;
	assert_int_equal(request(port, "GET /healthz HTTP/1.0\r\n\r\n", &c),
	    503);
	assert_string_equal(body(&c), "redis: connection lost: EOF\n");

	/* A failed render: a 500 that says why, nothing of the partial
	   text. */
	f.fail_errno = EFBIG;
	assert_int_equal(request(port, "GET /metrics HTTP/1.0\r\n\r\n", &c),
	    500);
	assert_string_equal(body(&c),
	    "metrics: the output exceeds its bound\n");

	assert_int_equal(request(port, "GET /nope HTTP/1.0\r\n\r\n", &c),
	    404);
	/* A query string does not change the route. */
	assert_int_equal(request(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n",
	    &c), 500);
	f.fail_errno = 0;
	/* HEAD: the headers of a GET, no body. */
	cl_open(&c, port);
	cl_send(&c, "HEAD /metrics HTTP/1.0\r\n\r\n");
	assert_true(until(closed, &c, DEADLINE_MS));
	cl_close(&c);
	assert_non_null(strstr(c.buf, " 200 OK\r\n"));
	assert_non_null(strcasestr(c.buf, "\r\nContent-Length: 21\r\n"));
	assert_string_equal(body(&c), "");
	assert_int_equal(request(port, "POST /metrics HTTP/1.0\r\n"
	    "Content-Length: 0\r\n\r\n", &c), 501);
	assert_int_equal(request(port, "garbage\r\n\r\n", &c), 400);
	wq_httpd_free(h);
}

static void
test_keepalive(void **state)
{
	struct fake f = { .healthy = 1 };
	struct wq_httpd *h = server(&f, NULL);
	struct client c;

	(void)state;
	/* Two scrapes on one connection, as Prometheus does. */
	cl_open(&c, wq_httpd_port(h));
	cl_send(&c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_true(until(answered, &c, DEADLINE_MS));
	assert_string_equal(body(&c), "# TYPE x counter\nx 1\n");
	c.len = 0;
	cl_send(&c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_true(until(answered, &c, DEADLINE_MS));
	assert_string_equal(body(&c), "# TYPE x counter\nx 2\n");
	assert_int_equal(wq_httpd_connections(h), 1);
	cl_close(&c);
	wq_httpd_free(h);
}

struct many {
	struct wq_httpd	*h;
	struct client	*c;
	int		 n;
	int		 want;
};

static int
n_answered(void *arg)
{
	struct many *m = arg;
	int got = 0;

	assert_true(wq_httpd_connections(m->h) <= 3);
	for (int i = 0; i < m->n; i++)
		if (m->c[i].fd >= 0 && cl_poll(&m->c[i]))
			got++;
	return got >= m->want;
}

static int
none_open(void *arg)
{
	return wq_httpd_connections(arg) == 0;
}

static void
test_connection_limit(void **state)
{
	struct wq_httpd_limits lim = { .connections = 3 };
	struct fake f = { .healthy = 1 };
	struct wq_httpd *h = server(&f, &lim);
	struct client c[5];
	struct many m = { .h = h, .c = c, .n = 5, .want = 3 };
	int waiting = 0, first = -1;

	(void)state;
	for (int i = 0; i < 5; i++) {
		cl_open(&c[i], wq_httpd_port(h));
		cl_send(&c[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	}
	/* Three are served (and kept alive); two wait in the backlog. */
	assert_true(until(n_answered, &m, DEADLINE_MS));
	for (int i = 0; i < 100; i++)
		wq_loop_step(loop, 1);
	assert_int_equal(wq_httpd_connections(h), 3);
	for (int i = 0; i < 5; i++) {
		if (!cl_poll(&c[i]))
			waiting++;
		else if (first < 0)
			first = i;
	}
	assert_int_equal(waiting, 2);
	assert_false(c[first].eof);

	/* One closes: a waiting one gets its place and its answer. */
	cl_close(&c[first]);
	m.want = 3;
	assert_true(until(n_answered, &m, DEADLINE_MS));
	cl_close(&c[0 == first ? 1 : 0]);
	m.want = 3;
	assert_true(until(n_answered, &m, DEADLINE_MS));
	for (int i = 0; i < 5; i++)
		if (c[i].fd >= 0) {
			assert_true(cl_poll(&c[i]));
			assert_non_null(strstr(c[i].buf, "HTTP/1.1 200"));
		}

	/* When clients leave, the places free at once (not after the
	   lifetime). */
	for (int i = 0; i < 5; i++)
		if (c[i].fd >= 0)
			cl_close(&c[i]);
	assert_true(until(none_open, h, 2000));
	wq_httpd_free(h);
}

static void
test_timeouts(void **state)
{
	struct wq_httpd_limits lim = { .timeout_ms = 200, .lifetime_ms = 400 };
	struct fake f = { .healthy = 1 };
	struct wq_httpd *h = server(&f, &lim);
	struct client idle, slow;
	int64_t start = wq_clock_mono_ms(), next = start;

	(void)state;
	/* Silent: evhttp's idle timeout closes it. */
	cl_open(&idle, wq_httpd_port(h));
	assert_true(until(closed, &idle, DEADLINE_MS));
	assert_int_equal(idle.len, 0);
	cl_close(&idle);

	/* A byte every 100 ms beats the idle timeout, not the lifetime. */
	cl_open(&slow, wq_httpd_port(h));
	start = next = wq_clock_mono_ms();
	while (!closed(&slow)) {
		assert_true(wq_clock_mono_ms() - start < DEADLINE_MS);
		if (wq_clock_mono_ms() >= next) {
			/* The server may have shut it already. */
			if (write(slow.fd, "G", 1) < 0)
				break;
			next += 100;
		}
		wq_loop_step(loop, 10);
	}
	assert_true(wq_clock_mono_ms() - start >= 400);
	cl_close(&slow);
	assert_true(until(none_open, h, 2000));
	wq_httpd_free(h);
}

static void
test_listen_errors(void **state)
{
	struct fake f = { .healthy = 1 };
	struct wq_httpd_ops ops = { .metrics = fake_metrics,
	    .health = fake_health, .arg = &f };
	struct wq_httpd *h = server(&f, NULL), *h2;
	char err[256];

	(void)state;
	h2 = wq_httpd_new(loop, "127.0.0.1", wq_httpd_port(h), NULL, &ops,
	    err, sizeof(err));
	assert_non_null(h2);
	assert_int_equal(wq_httpd_port(h2), -1);
	assert_int_equal(wq_httpd_listen(h2), -1);
	assert_int_equal(errno, EADDRINUSE);
	/* Once the port is free, listening again works (the daemon
	   retries). */
	wq_httpd_free(h);
	assert_int_equal(wq_httpd_listen(h2), 0);
	wq_httpd_free(h2);

	assert_null(wq_httpd_new(loop, "no-such-host.invalid", 1, NULL, &ops,
	    err, sizeof(err)));
	assert_true(strncmp(err, "http: cannot resolve 'no-such-host."
	    "invalid': ", 35) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_connection_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_timeouts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_listen_errors, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
