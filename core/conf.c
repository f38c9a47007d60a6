/*
 * workqd's configuration (see conf.h).
 *
 * DESIGN: the YAML tree is checked section by section: each section
 * refuses keys it does not know (so a typo is an error, not a silently
 * ignored setting), reads its numbers and durations through a table of
 * fields (key, offset, range: nginx's ngx_command_t in miniature), and
 * checks its strings with a few lines of code each.  A new setting is one
 * line in a table and one in its section's key list; a new section is one
 * small function.  Defaults are set first, from the same values that
 * etc/workqd.yaml documents, and a key that is present overwrites them.
 *
 * The first error is kept by the YAML document (its errors are sticky), so
 * every check just returns -1 and the loader copies that one message out.
 * Strings point into the document, which the configuration keeps alive;
 * plugin subtrees are handed on unchecked, since each plugin checks its
 * own.  Queues and plugins are capped at 1024 each, which keeps the
 * quadratic uniqueness checks cheap on any file under the 1 MiB limit.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "conf.h"

#ifndef WQ_PLUGINDIR
#define WQ_PLUGINDIR	"/usr/local/lib/workqd/plugins"
#endif

#define MAX_QUEUES	1024
#define MAX_PLUGINS	1024
#define UNIX_PATH_MAX	sizeof(((struct sockaddr_un *)NULL)->sun_path)
#define SHOW_BYTES	68		/* of a value quoted in an error */

/* A number or a duration, stored at off in the section's struct. */
struct field {
	const char	*key;
	enum { F_UINT, F_INT, F_MS } kind;
	size_t		 off;
	int64_t		 min;
	int64_t		 max;		/* F_UINT and F_INT only */
};

static const char *const root_keys[] = {
	"log", "redis", "http", "consumer", "workers", "prefetch", "executor",
	"shutdown_timeout", "stall_threshold", "heartbeat", "takeover",
	"plugin_dir", "plugins", "queue_order", "queues", NULL
};
static const char *const log_keys[] = { "level", "format", NULL };
static const char *const redis_keys[] = {
	"address", "user", "password_file", "prefix", "group",
	"connect_timeout", "command_timeout", NULL
};
static const char *const http_keys[] = { "enabled", "listen", NULL };
static const char *const executor_keys[] = { "threads", "queue", NULL };
static const char *const queue_keys[] = {
	"name", "plugin", "timeout", "retries", "concurrency", "weight",
	"max_payload", "max_deliveries", "dead_max", "backoff", NULL
};
static const char *const backoff_keys[] = { "base", "factor", "cap", NULL };

static const char *const levels[] = {
	"err", "warning", "notice", "info", "debug", NULL
};
static const char *const formats[] = { "journal", "json", NULL };
static const char *const orders[] = { "strict", "weighted", NULL };

#define C(m)	offsetof(struct wq_conf, m)
static const struct field root_fields[] = {
	{ "workers", F_UINT, C(workers), 1, 4096 },
	{ "prefetch", F_UINT, C(prefetch), 1, 1000000 },
	{ "shutdown_timeout", F_MS, C(shutdown_timeout_ms), 0, 0 },
	{ "stall_threshold", F_MS, C(stall_ms), 0, 0 },
	{ "heartbeat", F_MS, C(heartbeat_ms), 1, 0 },
	{ "takeover", F_MS, C(takeover_ms), 1, 0 },
	{ NULL }
};
static const struct field executor_fields[] = {
	{ "threads", F_UINT, C(exec_threads), 1, 1024 },
	{ "queue", F_UINT, C(exec_queue), 1, 1000000 },
	{ NULL }
};
#undef C

static const struct field redis_fields[] = {
	{ "connect_timeout", F_MS,
	    offsetof(struct wq_conf_redis, connect_timeout_ms), 1, 0 },
	{ "command_timeout", F_MS,
	    offsetof(struct wq_conf_redis, command_timeout_ms), 1, 0 },
	{ NULL }
};

#define Q(m)	offsetof(struct wq_conf_queue, m)
static const struct field queue_fields[] = {
	{ "timeout", F_MS, Q(timeout_ms), 0, 0 },
	{ "retries", F_INT, Q(retries), 0, 1000 },
	{ "concurrency", F_UINT, Q(concurrency), 0, 4096 },
	{ "weight", F_UINT, Q(weight), 1, 1000000 },
	{ "max_payload", F_INT, Q(max_payload), 1, 512 << 20 },
	{ "max_deliveries", F_INT, Q(max_deliveries), 1, INT64_MAX },
	{ "dead_max", F_INT, Q(dead_max), 1, INT64_MAX },
	{ NULL }
};
#undef Q

static const struct field backoff_fields[] = {
	{ "base", F_MS, offsetof(struct wq_conf_backoff, base_ms), 0, 0 },
	{ "cap", F_MS, offsetof(struct wq_conf_backoff, cap_ms), 0, 0 },
	{ NULL }
};

/* The defaults, as etc/workqd.yaml documents them. */
static void
defaults(struct wq_conf *conf)
{
	conf->log_level = WQ_LOG_INFO;
	conf->log_format = WQ_LOG_JOURNAL;
	conf->redis.address = "unix:/run/redis/redis-server.sock";
	conf->redis.unix_path = conf->redis.address + strlen("unix:");
	conf->redis.prefix = "workq";
	conf->redis.group = "workqd";
	conf->redis.connect_timeout_ms = 2000;
	conf->redis.command_timeout_ms = 5000;
	conf->http.enabled = 1;
	conf->http.listen = "127.0.0.1:9187";
	conf->http.port = 9187;
	conf->workers = 8;
	conf->prefetch = 64;
	conf->exec_threads = 4;
	conf->exec_queue = 64;
	conf->shutdown_timeout_ms = 20000;
	conf->stall_ms = 100;
	conf->heartbeat_ms = 2000;
	conf->takeover_ms = 10000;
	conf->plugin_dir = WQ_PLUGINDIR;
	conf->order = WQ_ORDER_STRICT;
}

static void
queue_defaults(struct wq_conf_queue *q)
{
	q->timeout_ms = 0;
	q->retries = 25;
	q->concurrency = 0;
	q->weight = 1;
	q->max_payload = WQ_CONF_MAX_PAYLOAD;
	q->max_deliveries = 5;
	q->dead_max = 100000;
	q->backoff.base_ms = 45000;
	q->backoff.factor = 1.79;
	q->backoff.cap_ms = 3 * 86400000LL;
}

static int
load_fields(const struct wq_node *map, const struct field *f, void *base)
{
	char *p;
	int64_t v;
	int r;

	for (; f->key != NULL; f++) {
		p = (char *)base + f->off;
		if (f->kind == F_MS)
			r = wq_node_ms(map, f->key, &v);
		else
			r = wq_node_int_range(map, f->key, f->min, f->max, &v);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (f->kind == F_MS && v < f->min)
			return wq_node_error(wq_node_get(map, f->key),
			    "%s: must be greater than 0", f->key);
		if (f->kind == F_UINT)
			*(unsigned *)(void *)p = (unsigned)v;
		else
			*(int64_t *)(void *)p = v;
	}
	return 0;
}

/*
 * The mapping under key, checked for unknown keys: *sec is NULL when it
 * is absent or null (every key takes its default).
 */
static int
section(const struct wq_node *map, const char *key, const char *const *known,
    const struct wq_node **sec)
{
	const struct wq_node *v = wq_node_get(map, key);

	*sec = NULL;
	if (v == NULL || wq_node_null(v))
		return 0;
	if (wq_node_type(v) != WQ_NODE_MAP)
		return wq_node_error(v, "%s: expected a mapping", key);
	*sec = v;
	return wq_node_keys(v, known);
}

/* s cut short and without control characters, for an error message. */
static const char *
show(const char *s, char *buf)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < SHOW_BYTES - 4; i++)
		buf[i] = (unsigned char)s[i] < ' ' || s[i] == 0x7f ? '?' : s[i];
	strcpy(buf + i, s[i] != '\0' ? "..." : "");
	return buf;
}

/* One of the NULL-terminated names: its index in *val. */
static int
choice(const struct wq_node *map, const char *key, const char *const *names,
    int *val)
{
	const char *s;
	char list[128] = "", buf[SHOW_BYTES];
	int r;

	if ((r = wq_node_str(map, key, &s)) != 0)
		return r < 0 ? -1 : 0;
	for (int i = 0; names[i] != NULL; i++) {
		if (strcmp(s, names[i]) == 0) {
			*val = i;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    "%s%s", i > 0 ? ", " : "", names[i]);
	}
	return wq_node_error(wq_node_get(map, key), "%s: '%s' is not one of "
	    "%s", key, show(s, buf), list);
}

/* Printable ASCII without spaces and without the characters of forbid. */
static int
clean(const char *s, const char *forbid)
{
	for (; *s != '\0'; s++)
		if (*s < '!' || *s > '~' || strchr(forbid, *s) != NULL)
			return 0;
	return 1;
}

/* 1..max of a-z, 0-9, the characters of punct, and A-Z if upper. */
static int
name_ok(const char *s, size_t max, const char *punct, int upper)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    (upper && *s >= 'A' && *s <= 'Z') ||
		    strchr(punct, *s) != NULL))
			return 0;
	return 1;
}

int
wq_conf_queue_name_valid(const char *name)
{
	return name_ok(name, 128, "_.:-", 1);
}

static int
load_log(struct wq_conf *conf, const struct wq_node *root)
{
	const struct wq_node *sec;
	int level = conf->log_level - WQ_LOG_ERR;
	int format = (int)conf->log_format;

	if (section(root, "log", log_keys, &sec) < 0 ||
	    choice(sec, "level", levels, &level) < 0 ||
	    choice(sec, "format", formats, &format) < 0)
		return -1;
	conf->log_level = WQ_LOG_ERR + level;
	conf->log_format = (enum wq_log_format)format;
	return 0;
}

/*
 * s as HOST:PORT, or [V6ADDR]:PORT: the host copied into *hostp, the port
 * checked against min..65535.  key and expect name the setting in errors.
 */
static int
host_port(const struct wq_node *v, const char *key, const char *expect,
    const char *s, int min, const char **hostp, int *portp)
{
	const char *colon, *host = s, *end;
	char *copy, buf[SHOW_BYTES];
	long port = 0;

	if (*s == '[') {
		host = s + 1;
		if ((end = strchr(host, ']')) == NULL || end[1] != ':')
			goto bad;
		colon = end + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			goto bad;
		if (memchr(s, ':', (size_t)(colon - s)) != NULL)
			return wq_node_error(v, "%s: an IPv6 address goes in "
			    "brackets, as in [::1]:%s", key, colon + 1);
		end = colon;
	}
	for (const char *p = colon + 1; *p >= '0' && *p <= '9' && port < 65536;
	    p++)
		port = port * 10 + (*p - '0');
	if (end == host || colon[1] == '\0' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		goto bad;
	if (port < min || port > 65535)
		return wq_node_error(v, "%s: port %s is out of range "
		    "(%d..65535)", key, colon + 1, min);
	if ((copy = strndup(host, (size_t)(end - host))) == NULL)
		return -1;
	if (!clean(copy, *s == '[' ? "/[]" : "/[]:")) {
		free(copy);
		goto bad;
	}
	*hostp = copy;
	*portp = (int)port;
	return 0;
bad:
	return wq_node_error(v, "%s: expected %s, got '%s'", key, expect,
	    show(s, buf));
}

static int
address(const struct wq_node *sec, struct wq_conf_redis *r)
{
	const struct wq_node *v = wq_node_get(sec, "address");
	const char *path;
	int rc;

	if ((rc = wq_node_str(sec, "address", &r->address)) != 0)
		return rc < 0 ? -1 : 0;
	if (strncmp(r->address, "unix:", 5) != 0) {
		r->unix_path = NULL;
		return host_port(v, "address", "unix:/PATH or HOST:PORT",
		    r->address, 1, &r->host, &r->port);
	}
	path = r->address + 5;
	if (path[0] != '/')
		return wq_node_error(v, "address: the unix socket path must "
		    "be absolute");
	if (strlen(path) >= UNIX_PATH_MAX)
		return wq_node_error(v, "address: the unix socket path is "
		    "longer than %zu bytes", UNIX_PATH_MAX - 1);
	r->unix_path = path;
	return 0;
}

/* A string that may not be empty nor hold spaces or braces (which Redis
   Cluster would read as a hash tag). */
static int
key_part(const struct wq_node *sec, const char *key, const char **val)
{
	const char *s;
	int r;

	if ((r = wq_node_str(sec, key, &s)) != 0)
		return r < 0 ? -1 : 0;
	if (*s == '\0' || !clean(s, "{}"))
		return wq_node_error(wq_node_get(sec, key), "%s: must be "
		    "non-empty, without spaces or braces", key);
	*val = s;
	return 0;
}

/* A string where "" means NULL. */
static int
optional(const struct wq_node *map, const char *key, const char **val)
{
	const char *s;
	int r;

	if ((r = wq_node_str(map, key, &s)) != 0)
		return r < 0 ? -1 : 0;
	*val = *s != '\0' ? s : NULL;
	return 0;
}

static int
load_redis(struct wq_conf *conf, const struct wq_node *root)
{
	struct wq_conf_redis *r = &conf->redis;
	const struct wq_node *sec;

	if (section(root, "redis", redis_keys, &sec) < 0 ||
	    address(sec, r) < 0 ||
	    optional(sec, "user", &r->user) < 0 ||
	    optional(sec, "password_file", &r->password_file) < 0 ||
	    key_part(sec, "prefix", &r->prefix) < 0 ||
	    key_part(sec, "group", &r->group) < 0)
		return -1;
	return load_fields(sec, redis_fields, r);
}

/* http: a mapping, or a plain boolean as a shorthand (http: off). */
static int
load_http(struct wq_conf *conf, const struct wq_node *root)
{
	struct wq_conf_http *h = &conf->http;
	const struct wq_node *v = wq_node_get(root, "http"), *sec;
	int r = 1;

	if (v != NULL && wq_node_type(v) == WQ_NODE_SCALAR &&
	    !wq_node_null(v)) {
		if (wq_node_bool(root, "http", &h->enabled) < 0)
			return -1;
	} else if (section(root, "http", http_keys, &sec) < 0 ||
	    wq_node_bool(sec, "enabled", &h->enabled) < 0 ||
	    (r = wq_node_str(sec, "listen", &h->listen)) < 0)
		return -1;
	else if (r == 0 && host_port(wq_node_get(sec, "listen"), "listen",
	    "HOST:PORT", h->listen, 0, &h->host, &h->port) < 0)
		return -1;
	/* The default's host is copied too: wq_conf_free frees it. */
	if (h->host == NULL && (h->host = strdup("127.0.0.1")) == NULL)
		return -1;
	return 0;
}

static int
load_daemon(struct wq_conf *conf, const struct wq_node *root)
{
	const struct wq_node *sec;
	const char *s;
	int order = (int)conf->order, r;

	if (optional(root, "consumer", &conf->consumer) < 0)
		return -1;
	s = conf->consumer;
	if (s != NULL && (strlen(s) > 128 || !clean(s, "")))
		return wq_node_error(wq_node_get(root, "consumer"), "consumer: "
		    "must be 1 to 128 printable characters without spaces");
	if (load_fields(root, root_fields, conf) < 0 ||
	    section(root, "executor", executor_keys, &sec) < 0 ||
	    load_fields(sec, executor_fields, conf) < 0 ||
	    choice(root, "queue_order", orders, &order) < 0)
		return -1;
	conf->order = (enum wq_order)order;
	if ((r = wq_node_str(root, "plugin_dir", &s)) < 0)
		return -1;
	if (r == 0 && s[0] != '/')
		return wq_node_error(wq_node_get(root, "plugin_dir"),
		    "plugin_dir: must be an absolute path");
	if (r == 0)
		conf->plugin_dir = s;
	return 0;
}

static int
add_plugin(struct wq_conf *conf, const char *name, const struct wq_node *key,
    const struct wq_node *val)
{
	struct wq_conf_plugin *p = &conf->plugins[conf->nplugins];

	char buf[SHOW_BYTES];

	if (!name_ok(name, 64, "_-", 0))
		return wq_node_error(key, "plugin name '%s' is not valid "
		    "(1 to 64 of a-z 0-9 _ -)", show(name, buf));
	if (val != NULL && wq_node_null(val))
		val = wq_node_empty_map(val);
	else if (val != NULL && wq_node_type(val) != WQ_NODE_MAP)
		return wq_node_error(val, "plugin '%s': expected a mapping",
		    name);
	if (val == NULL)
		return -1;
	p->name = name;
	p->key = key;
	p->conf = val;
	conf->nplugins++;
	return 0;
}

static int
load_plugins(struct wq_conf *conf, const struct wq_node *root)
{
	const struct wq_node *v = wq_node_get(root, "plugins"), *val;
	const char *name;
	size_t n;

	/* Left out, it is the sample's echo: {} and sleep: {}. */
	if (v == NULL) {
		if ((conf->plugins = calloc(2, sizeof(*conf->plugins))) == NULL)
			return -1;
		return add_plugin(conf, "echo", root, wq_node_empty_map(root)) <
		    0 || add_plugin(conf, "sleep", root,
		    wq_node_empty_map(root)) < 0 ? -1 : 0;
	}
	if (wq_node_null(v))
		return 0;
	if (wq_node_type(v) != WQ_NODE_MAP)
		return wq_node_error(v, "plugins: expected a mapping");
	if ((n = wq_node_len(v)) > MAX_PLUGINS)
		return wq_node_error(v, "plugins: more than %d plugins",
		    MAX_PLUGINS);
	if (n > 0 && (conf->plugins = calloc(n, sizeof(*conf->plugins))) ==
	    NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		val = wq_node_at(v, i, &name);
		if (add_plugin(conf, name, wq_node_key(v, name), val) < 0)
			return -1;
	}
	return 0;
}

static int
load_backoff(struct wq_conf_backoff *b, const struct wq_node *q)
{
	const struct wq_node *sec;

	if (section(q, "backoff", backoff_keys, &sec) < 0 ||
	    load_fields(sec, backoff_fields, b) < 0 ||
	    wq_node_float(sec, "factor", &b->factor) < 0)
		return -1;
	if (b->factor < 1.0)
		return wq_node_error(wq_node_get(sec, "factor"), "factor: must "
		    "be at least 1.0");
	if (b->cap_ms < b->base_ms)
		return wq_node_error(wq_node_get(sec, wq_node_get(sec, "cap") !=
		    NULL ? "cap" : "base"), "backoff: cap must not be shorter "
		    "than base");
	return 0;
}

/* The queue's name and plugin: both required, the name unique, the plugin
   loaded. */
static int
queue_names(struct wq_conf *conf, struct wq_conf_queue *q,
    const struct wq_node *map)
{
	const struct wq_node *v;
	char buf[SHOW_BYTES];
	int r;

	if ((r = wq_node_str(map, "name", &q->name)) != 0)
		return r < 0 ? -1 : wq_node_error(map, "missing key 'name'");
	v = wq_node_get(map, "name");
	if (!wq_conf_queue_name_valid(q->name))
		return wq_node_error(v, "name: '%s' is not a valid queue "
		    "name (1 to 128 of a-z A-Z 0-9 _ . : -)", show(q->name, buf));
	if (wq_conf_queue(conf, q->name) != NULL)
		return wq_node_error(v, "duplicate queue '%s'", q->name);
	if ((r = wq_node_str(map, "plugin", &q->plugin)) != 0)
		return r < 0 ? -1 : wq_node_error(map, "queue '%s': missing "
		    "key 'plugin'", q->name);
	if (wq_conf_plugin(conf, q->plugin) == NULL)
		return wq_node_error(wq_node_get(map, "plugin"), "queue '%s': "
		    "plugin '%s' is not loaded (add it under plugins:)",
		    q->name, show(q->plugin, buf));
	return 0;
}

static int
add_queue(struct wq_conf *conf, const struct wq_node *map)
{
	struct wq_conf_queue *q = &conf->queues[conf->nqueues];

	queue_defaults(q);
	q->node = map;
	if (wq_node_keys(map, queue_keys) < 0 ||
	    queue_names(conf, q, map) < 0 ||
	    load_fields(map, queue_fields, q) < 0 ||
	    load_backoff(&q->backoff, map) < 0)
		return -1;
	/* Counted only now: wq_conf_queue must not find it half made. */
	conf->nqueues++;
	return 0;
}

static int
load_queues(struct wq_conf *conf, const struct wq_node *root)
{
	const struct wq_node *v = wq_node_get(root, "queues");
	size_t n = 1;

	if (v != NULL && (wq_node_type(v) != WQ_NODE_SEQ ||
	    (n = wq_node_len(v)) == 0))
		return wq_node_error(v, "queues: expected a non-empty "
		    "sequence of mappings");
	if (n > MAX_QUEUES)
		return wq_node_error(v, "queues: more than %d queues",
		    MAX_QUEUES);
	if ((conf->queues = calloc(n, sizeof(*conf->queues))) == NULL)
		return -1;
	/* Left out, it is the sample's one queue, default, run by echo. */
	if (v == NULL) {
		struct wq_conf_queue *q = conf->queues;

		queue_defaults(q);
		q->name = "default";
		q->plugin = "echo";
		q->node = root;
		if (wq_conf_plugin(conf, q->plugin) == NULL)
			return wq_node_error(root, "queue 'default': plugin "
			    "'echo' is not loaded (add it under plugins:)");
		conf->nqueues = 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (add_queue(conf, wq_node_at(v, i, NULL)) < 0)
			return -1;
	return 0;
}

static int
load_all(struct wq_conf *conf)
{
	const struct wq_node *root = wq_yaml_root(conf->doc), *v;

	if (wq_node_keys(root, root_keys) < 0 ||
	    load_log(conf, root) < 0 ||
	    load_redis(conf, root) < 0 ||
	    load_http(conf, root) < 0 ||
	    load_daemon(conf, root) < 0 ||
	    load_plugins(conf, root) < 0 ||
	    load_queues(conf, root) < 0)
		return -1;
	if (conf->takeover_ms <= conf->heartbeat_ms) {
		v = wq_node_get(root, "takeover");
		return wq_node_error(v != NULL ? v : wq_node_get(root,
		    "heartbeat"), "takeover: must be longer than heartbeat");
	}
	return 0;
}

static struct wq_conf *
build(struct wq_yaml *doc, const char *name, char *err, size_t errlen)
{
	struct wq_conf *conf;
	size_t len = strlen(name);

	if ((conf = calloc(1, sizeof(*conf) + len + 1)) == NULL) {
		wq_yaml_free(doc);
		goto fail;
	}
	conf->path = memcpy(conf + 1, name, len + 1);
	conf->doc = doc;
	defaults(conf);
	if (load_all(conf) == 0)
		return conf;
	if (wq_yaml_error(doc) != NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s", wq_yaml_error(doc));
		wq_conf_free(conf);
		errno = EINVAL;
		return NULL;
	}
	wq_conf_free(conf);
fail:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", name, strerror(ENOMEM));
	errno = ENOMEM;
	return NULL;
}

struct wq_conf *
wq_conf_load(const char *path, char *err, size_t errlen)
{
	struct wq_yaml *doc;

	if ((doc = wq_yaml_load_file(path, err, errlen)) == NULL)
		return NULL;
	return build(doc, path, err, errlen);
}

struct wq_conf *
wq_conf_load_buffer(const char *name, const char *buf, size_t len,
    char *err, size_t errlen)
{
	struct wq_yaml *doc;

	if ((doc = wq_yaml_load_buffer(name, buf, len, err, errlen)) == NULL)
		return NULL;
	return build(doc, name, err, errlen);
}

void
wq_conf_free(struct wq_conf *conf)
{
	if (conf == NULL)
		return;
	free((char *)conf->redis.host);
	free((char *)conf->http.host);
	free(conf->queues);
	free(conf->plugins);
	wq_yaml_free(conf->doc);
	free(conf);
}

const struct wq_conf_queue *
wq_conf_queue(const struct wq_conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->nqueues; i++)
		if (strcmp(conf->queues[i].name, name) == 0)
			return &conf->queues[i];
	return NULL;
}

const struct wq_conf_plugin *
wq_conf_plugin(const struct wq_conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->nplugins; i++)
		if (strcmp(conf->plugins[i].name, name) == 0)
			return &conf->plugins[i];
	return NULL;
}
