/*
 * workqctl's connection to Redis: hiredis's synchronous API, with the
 * config's connect and command timeouts, and AUTH with the user and the
 * password file of the config (a relative path is looked up in
 * $CREDENTIALS_DIRECTORY, as workqd does).  A connection that fails or
 * times out ends workqctl with exit 69; credentials that cannot be read or
 * are refused end it with 78 (they are configuration).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "redis.h"
#include "yaml.h"

#define KEY_MAX		600
#define PASSWORD_MAX	1024

static const char *
address(const struct ctl *c)
{
	return c->server != NULL ? c->server : c->conf->redis.address;
}

static struct timeval
tv_ms(int64_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
	    .tv_usec = (ms % 1000) * 1000 };

	return tv;
}

/* HOST:PORT or [V6]:PORT into host and port; -1 if malformed. */
static int
host_port(const char *s, char *host, size_t len, int *port)
{
	const char *colon = strrchr(s, ':'), *h = s, *end = colon;
	char *stop;
	long p;

	if (colon == NULL)
		return -1;
	if (*s == '[') {
		h = s + 1;
		if (colon == s || colon[-1] != ']')
			return -1;
		end = colon - 1;
	}
	p = strtol(colon + 1, &stop, 10);
	if (end <= h || (size_t)(end - h) >= len || *stop != '\0' ||
	    colon[1] == '\0' || p < 1 || p > 65535)
		return -1;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	*port = (int)p;
	return 0;
}

static void
open_conn(struct ctl *c)
{
	const struct wq_conf_redis *r = &c->conf->redis;
	struct timeval ct = tv_ms(r->connect_timeout_ms);
	const char *a = address(c);
	char host[256];
	int port;

	if (strncmp(a, "unix:", 5) == 0)
		c->rc = redisConnectUnixWithTimeout(a + 5, ct);
	else if (host_port(a, host, sizeof(host), &port) == 0)
		c->rc = redisConnectWithTimeout(host, port, ct);
	else
		ctl_usage("-s: expected unix:/PATH or HOST:PORT, got '%s'", a);
	if (c->rc == NULL)
		ctl_fail(CTL_EXIT_UNAVAILABLE, "redis %s: out of memory", a);
	if (c->rc->err != 0)
		ctl_fail(CTL_EXIT_UNAVAILABLE, "redis %s: %s", a,
		    c->rc->errstr);
	redisSetTimeout(c->rc, tv_ms(r->command_timeout_ms));
}

static void
auth(struct ctl *c)
{
	const struct wq_conf_redis *r = &c->conf->redis;
	char password[PASSWORD_MAX];
	redisReply *reply;

	if (r->password_file == NULL)
		return;
	if (wq_redis_read_password(r->password_file, password,
	    sizeof(password)) < 0)
		ctl_fail(CTL_EXIT_CONFIG, "redis: password file %s: %s",
		    r->password_file, strerror(errno));
	if (r->user != NULL)
		reply = ctl_cmd(c, "AUTH %s %s", r->user, password);
	else
		reply = ctl_cmd(c, "AUTH %s", password);
	explicit_bzero(password, sizeof(password));
	if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(password, sizeof(password), "%s", reply->str);
		freeReplyObject(reply);
		ctl_fail(CTL_EXIT_CONFIG, "redis %s: AUTH: %s", address(c),
		    password);
	}
	freeReplyObject(reply);
}

void
ctl_connect(struct ctl *c)
{
	open_conn(c);
	auth(c);
}

void
ctl_disconnect(struct ctl *c)
{
	if (c->rc != NULL)
		redisFree(c->rc);
	c->rc = NULL;
}

static redisReply *
got(struct ctl *c, void *reply)
{
	if (reply == NULL)
		ctl_fail(CTL_EXIT_UNAVAILABLE, "redis %s: %s", address(c),
		    c->rc->err == REDIS_ERR_IO && (errno == EAGAIN ||
		    errno == EWOULDBLOCK) ? "no reply in time" : c->rc->errstr);
	return reply;
}

redisReply *
ctl_cmd(struct ctl *c, const char *fmt, ...)
{
	va_list ap;
	void *reply;

	va_start(ap, fmt);
	reply = redisvCommand(c->rc, fmt, ap);
	va_end(ap);
	return got(c, reply);
}

redisReply *
ctl_cmdv(struct ctl *c, int argc, const char **argv, const size_t *lens)
{
	return got(c, redisCommandArgv(c->rc, argc, argv, lens));
}

void
ctl_append(struct ctl *c, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = redisvAppendCommand(c->rc, fmt, ap);
	va_end(ap);
	if (rc != REDIS_OK)
		ctl_fail(CTL_EXIT_FAIL, "out of memory");
}

redisReply *
ctl_reply(struct ctl *c)
{
	void *reply = NULL;

	if (redisGetReply(c->rc, &reply) != REDIS_OK)
		reply = NULL;
	return got(c, reply);
}

redisReply *
ctl_check(redisReply *reply, const char *what)
{
	char err[512];

	if (reply->type != REDIS_REPLY_ERROR)
		return reply;
	snprintf(err, sizeof(err), "%s", reply->str);
	freeReplyObject(reply);
	/* Credentials missing from the config: a configuration error. */
	if (strncmp(err, "NOAUTH", 6) == 0)
		ctl_fail(CTL_EXIT_CONFIG, "%s: %s (the config's redis.user "
		    "and redis.password_file)", what, err);
	ctl_fail(CTL_EXIT_FAIL, "%s: %s", what, err);
}

int64_t
ctl_now(struct ctl *c)
{
	redisReply *r = ctl_check(ctl_cmd(c, "TIME"), "TIME");
	int64_t ms;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		freeReplyObject(r);
		ctl_fail(CTL_EXIT_FAIL, "TIME: unexpected reply");
	}
	ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
	    strtoll(r->element[1]->str, NULL, 10) / 1000;
	freeReplyObject(r);
	return ms;
}

/* A ring of buffers: a few keys can be in use at once. */
static char *
key_buf(void)
{
	static char bufs[4][KEY_MAX];
	static unsigned next;

	return bufs[next++ % 4];
}

const char *
ctl_stream_key(const struct ctl *c, const char *queue)
{
	char *k = key_buf();

	snprintf(k, KEY_MAX, "%s:%s", c->prefix, queue);
	return k;
}

const char *
ctl_key(const struct ctl *c, const char *queue, const char *what)
{
	char *k = key_buf();

	if (queue != NULL)
		snprintf(k, KEY_MAX, "{%s:%s}:%s", c->prefix, queue, what);
	else	/* the daemons' keys */
		snprintf(k, KEY_MAX, "{%s}:%s", c->prefix, what);
	return k;
}

const char *
ctl_daemon_key(const struct ctl *c, const char *consumer)
{
	char *k = key_buf();

	snprintf(k, KEY_MAX, "{%s}:daemon:%s", c->prefix, consumer);
	return k;
}

void
ctl_queues(struct ctl *c, const char **given, size_t ngiven,
    struct ctl_queues *q)
{
	static const char *names[1024];

	if (ngiven > 0) {
		for (size_t i = 0; i < ngiven; i++)
			if (!wq_conf_queue_name_valid(given[i]))
				ctl_usage("'%s' is not a valid queue name (1 "
				    "to 128 of a-z A-Z 0-9 _ . : -)", given[i]);
		q->names = given;
		q->n = ngiven;
		return;
	}
	for (size_t i = 0; i < c->conf->nqueues && i < 1024; i++)
		names[i] = c->conf->queues[i].name;
	q->names = names;
	q->n = c->conf->nqueues < 1024 ? c->conf->nqueues : 1024;
}

int64_t
ctl_duration(const char *opt, const char *s)
{
	int64_t ms;

	if (wq_parse_ms(s, &ms) < 0 || ms < 0)
		ctl_usage("%s: expected a duration (250ms, 30s, 5m, 1h, 7d), "
		    "got '%s'", opt, s);
	return ms;
}

void
ctl_age(char *buf, size_t len, int64_t ms)
{
	int64_t s = ms / 1000;

	if (ms < 0)
		ms = 0, s = 0;
	if (ms < 1000)
		snprintf(buf, len, "%lldms", (long long)ms);
	else if (s < 60)
		snprintf(buf, len, "%lld.%llds", (long long)s,
		    (long long)(ms % 1000 / 100));
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", (long long)(s / 60),
		    (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldd%02lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
}

const redisReply *
ctl_field(const redisReply *f, size_t first, const char *name)
{
	for (size_t i = first; i + 1 < f->elements; i += 2)
		if (strcmp(f->element[i]->str, name) == 0)
			return f->element[i + 1];
	return NULL;
}

void
ctl_json_fields(struct ctl_json *j, const redisReply *f, size_t first)
{
	json_key(j, "fields");
	json_open(j, '{');
	for (size_t i = first; i + 1 < f->elements; i += 2) {
		/* A name given twice keeps its first value. */
		if (ctl_field(f, first, f->element[i]->str) != f->element[i + 1])
			continue;
		json_key(j, f->element[i]->str);
		json_str(j, f->element[i + 1]->str, f->element[i + 1]->len);
	}
	json_close(j, '}');
}
