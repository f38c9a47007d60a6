/*
 * workqd's configuration: the YAML file checked against its schema and
 * turned into an immutable struct wq_conf.  A reload builds a new one and
 * swaps it in; nothing ever changes a wq_conf after wq_conf_load returns.
 *
 * Every error is reported as "file:line:column: message" at the offending
 * key or value: unknown keys, wrong types, values out of range, a queue
 * naming a plugin that is not loaded.  etc/workqd.yaml documents each key
 * with its default; keep the two in step.
 */
#ifndef WQ_CONF_H
#define WQ_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "yaml.h"

enum wq_order {
	WQ_ORDER_STRICT = 0,	/* the first queue listed first */
	WQ_ORDER_WEIGHTED	/* by weight, at random */
};

struct wq_conf_backoff {
	int64_t		 base_ms;
	double		 factor;
	int64_t		 cap_ms;
};

struct wq_conf_queue {
	const char		*name;
	const char		*plugin;	/* the default plugin */
	int64_t			 timeout_ms;	/* 0: the plugin's default */
	int64_t			 retries;
	unsigned		 concurrency;	/* 0: only the pool limits it */
	unsigned		 weight;
	int64_t			 max_payload;	/* bytes */
	int64_t			 max_deliveries;
	int64_t			 dead_max;	/* dead-letter stream cap */
	struct wq_conf_backoff	 backoff;
	const struct wq_node	*node;		/* for error positions */
};

struct wq_conf_plugin {
	const char		*name;		/* loads <plugin_dir>/<name>.so */
	const struct wq_node	*key;		/* the key node, for positions */
	const struct wq_node	*conf;		/* its subtree: a mapping */
};

struct wq_conf_redis {
	const char	*address;	/* as written */
	const char	*unix_path;	/* set for unix:PATH */
	const char	*host;		/* set for HOST:PORT */
	int		 port;
	const char	*user;		/* NULL: the default user */
	const char	*password_file;	/* NULL: no AUTH */
	const char	*prefix;	/* streams are <prefix>:<queue> */
	const char	*group;		/* the consumer group */
	int64_t		 connect_timeout_ms;
	int64_t		 command_timeout_ms;
};

/* The HTTP endpoint (/metrics, /healthz). */
struct wq_conf_http {
	int		 enabled;
	const char	*listen;	/* as written: HOST:PORT */
	const char	*host;		/* the host part, without brackets */
	int		 port;		/* 0: any free port (it is logged) */
};

struct wq_conf {
	struct wq_yaml		*doc;		/* owns every string below */
	const char		*path;

	int			 log_level;
	enum wq_log_format	 log_format;

	struct wq_conf_redis	 redis;
	struct wq_conf_http	 http;
	const char		*consumer;	/* NULL: <hostname>:<instance> */

	unsigned		 workers;
	unsigned		 prefetch;	/* the local queue's maxsize */
	unsigned		 exec_threads;
	unsigned		 exec_queue;
	int64_t			 shutdown_timeout_ms;
	int64_t			 stall_ms;	/* 0: no stall detector */
	int64_t			 heartbeat_ms;	/* heartbeat period */
	int64_t			 takeover_ms;	/* a silent daemon is dead after */

	enum wq_order		 order;
	struct wq_conf_queue	*queues;
	size_t			 nqueues;

	const char		*plugin_dir;
	struct wq_conf_plugin	*plugins;
	size_t			 nplugins;
};

/* Returns NULL and fills err ("file:line:column: message"). */
struct wq_conf	*wq_conf_load(const char *path, char *err, size_t errlen);
struct wq_conf	*wq_conf_load_buffer(const char *name, const char *buf,
		    size_t len, char *err, size_t errlen);
void		 wq_conf_free(struct wq_conf *conf);

/* Nonzero if name can name a queue: 1 to 128 of a-z A-Z 0-9 _ . : - */
int	wq_conf_queue_name_valid(const char *name);

/* A queue's max_payload when the config does not say (bytes). */
#define WQ_CONF_MAX_PAYLOAD	1048576

/* The queue or plugin of that name, or NULL. */
const struct wq_conf_queue	*wq_conf_queue(const struct wq_conf *conf,
				    const char *name);
const struct wq_conf_plugin	*wq_conf_plugin(const struct wq_conf *conf,
				    const char *name);

#endif /* WQ_CONF_H */
