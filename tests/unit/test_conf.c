/*
 * core/conf.c: the sample etc/workqd.yaml loads and gives the documented
 * defaults (and so does an empty file), and each kind of mistake is
 * refused with its exact "file:line:column: message".
 *
 * Run from the top of the tree (make check does): the sample is read from
 * etc/workqd.yaml.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

#define SAMPLE		"etc/workqd.yaml"
#define PLUGINDIR	"/opt/workqd/plugins"

struct bad {
	const char	*text;
	const char	*err;
};

static char err[1024];

/* The sample with its @PLUGINDIR@ placeholder filled in, as make install
   does; the caller frees it. */
static char *
sample(size_t *len)
{
	FILE *f = fopen(SAMPLE, "r");
	char line[512], *buf = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&buf, &size);
	char *at;

	if (f == NULL)
		fail_msg("%s: cannot open (run from the top of the tree)",
		    SAMPLE);
	assert_non_null(out);
	while (fgets(line, sizeof(line), f) != NULL) {
		if ((at = strstr(line, "@PLUGINDIR@")) != NULL) {
			fwrite(line, 1, (size_t)(at - line), out);
			fprintf(out, "%s%s", PLUGINDIR, at + strlen("@PLUGINDIR@"));
		} else
			fputs(line, out);
	}
	fclose(f);
	fclose(out);
	*len = size;
	return buf;
}

static struct wq_conf *
load(const char *text)
{
	struct wq_conf *conf;

	err[0] = '\0';
	conf = wq_conf_load_buffer("t.yaml", text, strlen(text), err,
	    sizeof(err));
	if (conf == NULL)
		fail_msg("load failed: %s", err);
	return conf;
}

static void
refuse(const struct bad *b, size_t n)
{
	struct wq_conf *conf;

	for (size_t i = 0; i < n; i++) {
		err[0] = '\0';
		conf = wq_conf_load_buffer("t.yaml", b[i].text,
		    strlen(b[i].text), err, sizeof(err));
		if (conf != NULL) {
			wq_conf_free(conf);
			fail_msg("accepted:\n%s", b[i].text);
		}
		if (strcmp(err, b[i].err) != 0)
			fail_msg("for:\n%s\nexpected: %s\n     got: %s",
			    b[i].text, b[i].err, err);
	}
}

#define REFUSE(table)	refuse(table, sizeof(table) / sizeof(table[0]))

/* Every value etc/workqd.yaml documents, except plugin_dir. */
static void
assert_defaults(const struct wq_conf *c)
{
	const struct wq_conf_queue *q;

	assert_int_equal(c->log_level, WQ_LOG_INFO);
	assert_int_equal(c->log_format, WQ_LOG_JOURNAL);
	assert_string_equal(c->redis.address,
	    "unix:/run/redis/redis-server.sock");
	assert_string_equal(c->redis.unix_path, "/run/redis/redis-server.sock");
	assert_null(c->redis.host);
	assert_null(c->redis.user);
	assert_null(c->redis.password_file);
	assert_string_equal(c->redis.prefix, "workq");
	assert_string_equal(c->redis.group, "workqd");
	assert_int_equal(c->redis.connect_timeout_ms, 2000);
	assert_int_equal(c->redis.command_timeout_ms, 5000);
	assert_true(c->http.enabled);
	assert_string_equal(c->http.listen, "127.0.0.1:9187");
	assert_string_equal(c->http.host, "127.0.0.1");
	assert_int_equal(c->http.port, 9187);
	assert_null(c->consumer);
	assert_int_equal(c->workers, 8);
	assert_int_equal(c->prefetch, 64);
	assert_int_equal(c->exec_threads, 4);
	assert_int_equal(c->exec_queue, 64);
	assert_int_equal(c->shutdown_timeout_ms, 20000);
	assert_int_equal(c->stall_ms, 100);
	assert_int_equal(c->heartbeat_ms, 2000);
	assert_int_equal(c->takeover_ms, 10000);
	assert_int_equal(c->order, WQ_ORDER_STRICT);

	assert_int_equal(c->nplugins, 2);
	assert_string_equal(c->plugins[0].name, "echo");
	assert_string_equal(c->plugins[1].name, "sleep");
	for (size_t i = 0; i < c->nplugins; i++) {
		assert_int_equal(wq_node_type(c->plugins[i].conf),
		    WQ_NODE_MAP);
		assert_int_equal(wq_node_len(c->plugins[i].conf), 0);
		assert_non_null(c->plugins[i].key);
	}

	assert_int_equal(c->nqueues, 1);
	q = &c->queues[0];
	assert_string_equal(q->name, "default");
	assert_string_equal(q->plugin, "echo");
	assert_int_equal(q->timeout_ms, 0);
	assert_int_equal(q->retries, 25);
	assert_int_equal(q->concurrency, 0);
	assert_int_equal(q->weight, 1);
	assert_int_equal(q->max_payload, 1048576);
	assert_int_equal(q->max_deliveries, 5);
	assert_int_equal(q->dead_max, 100000);
	assert_int_equal(q->backoff.base_ms, 45000);
	assert_true(q->backoff.factor == 1.79);
	assert_int_equal(q->backoff.cap_ms, 3 * 86400000LL);
	assert_non_null(q->node);
}

static void
test_sample(void **state)
{
	struct wq_conf *conf;
	size_t len;
	char *text = sample(&len);

	(void)state;
	conf = wq_conf_load_buffer("workqd.yaml", text, len, err,
	    sizeof(err));
	if (conf == NULL)
		fail_msg("the sample does not load: %s", err);
	assert_defaults(conf);
	assert_string_equal(conf->path, "workqd.yaml");
	assert_string_equal(conf->plugin_dir, PLUGINDIR);
	assert_non_null(conf->doc);
	/* Positions point into the sample. */
	assert_string_equal(wq_node_file(conf->plugins[0].key), "workqd.yaml");
	assert_string_equal(wq_node_scalar(conf->plugins[0].key), "echo");
	assert_int_equal(wq_node_column(conf->plugins[0].key), 3);
	assert_int_equal(wq_node_type(conf->queues[0].node), WQ_NODE_MAP);
	assert_int_equal(wq_node_column(conf->queues[0].node), 5);
	wq_conf_free(conf);
	free(text);
}

static void
test_defaults(void **state)
{
	static const char *const empties[] = {
		"", "# nothing\n", "log:\nredis: ~\nexecutor:\n",
	};
	struct wq_conf *conf;

	(void)state;
	/* Keys left out take the sample's values. */
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		conf = load(empties[i]);
		assert_defaults(conf);
		assert_true(conf->plugin_dir[0] == '/');
		/* The default plugins still get mapping nodes. */
		assert_int_equal(wq_node_line(conf->plugins[0].conf), 1);
		wq_conf_free(conf);
	}
}

static void
test_placeholder(void **state)
{
	struct wq_conf *conf;
	FILE *f = fopen(SAMPLE, "r");
	char buf[8192];
	size_t len;

	(void)state;
	/* The sample as shipped, before make install: refused, not taken
	   for a path. */
	assert_non_null(f);
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	conf = wq_conf_load_buffer("workqd.yaml", buf, len, err, sizeof(err));
	assert_null(conf);
	assert_non_null(strstr(err, ": found character that cannot start "
	    "any token"));
}

static void
test_files(void **state)
{
	char path[] = "/tmp/test_conf.XXXXXX", expect[256];
	const char *text = "workers: 3\nqueues: [{name: a, plugin: echo}]\n";
	struct wq_conf *conf;
	int fd;

	(void)state;
	assert_null(wq_conf_load("/nonexistent/workqd.yaml", err,
	    sizeof(err)));
	assert_string_equal(err,
	    "/nonexistent/workqd.yaml: No such file or directory");

	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), strlen(text));
	close(fd);
	conf = wq_conf_load(path, err, sizeof(err));
	assert_non_null(conf);
	assert_string_equal(conf->path, path);
	assert_int_equal(conf->workers, 3);
	assert_string_equal(conf->queues[0].name, "a");
	wq_conf_free(conf);

	text = "workers: 0\n";
	assert_true((fd = open(path, O_WRONLY | O_TRUNC)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), strlen(text));
	close(fd);
	assert_null(wq_conf_load(path, err, sizeof(err)));
	snprintf(expect, sizeof(expect), "%s:1:10: workers: 0 is out of "
	    "range (1..4096)", path);
	assert_string_equal(err, expect);
	unlink(path);
}

static void
test_values(void **state)
{
	struct wq_conf *conf;
	const struct wq_conf_queue *q;

	(void)state;
	conf = load(
	    "log: {level: debug, format: json}\n"
	    "redis:\n"
	    "  address: redis.example.com:6380\n"
	    "  user: workqd\n"
	    "  password_file: redis.pass\n"
	    "  prefix: jobs\n"
	    "  group: g1\n"
	    "  connect_timeout: 1500ms\n"
	    "  command_timeout: 1m\n"
	    "consumer: host-1:0\n"
	    "workers: 4096\n"
	    "prefetch: 1000000\n"
	    "executor: {threads: 1024, queue: 1}\n"
	    "shutdown_timeout: 0\n"
	    "stall_threshold: 0\n"
	    "heartbeat: 1s\n"
	    "takeover: 1001\n"
	    "plugin_dir: /usr/lib/workqd\n"
	    "plugins:\n"
	    "  http: {url: 'http://x', anything: [goes, here]}\n"
	    "  echo:\n"
	    "queue_order: weighted\n"
	    "queues:\n"
	    "  - name: Mail.out:2_x-y\n"
	    "    plugin: http\n"
	    "    timeout: 90s\n"
	    "    retries: 0\n"
	    "    concurrency: 3\n"
	    "    weight: 5\n"
	    "    max_payload: 536870912\n"
	    "    max_deliveries: 1\n"
	    "    dead_max: 1\n"
	    "    backoff: {base: 1s, factor: 1, cap: 1s}\n"
	    "  - name: b\n"
	    "    plugin: echo\n"
	    "    backoff: {factor: 2.5e0}\n");
	assert_int_equal(conf->log_level, WQ_LOG_DEBUG);
	assert_int_equal(conf->log_format, WQ_LOG_JSON);
	assert_string_equal(conf->redis.address, "redis.example.com:6380");
	assert_null(conf->redis.unix_path);
	assert_string_equal(conf->redis.host, "redis.example.com");
	assert_int_equal(conf->redis.port, 6380);
	assert_string_equal(conf->redis.user, "workqd");
	assert_string_equal(conf->redis.password_file, "redis.pass");
	assert_string_equal(conf->redis.prefix, "jobs");
	assert_string_equal(conf->redis.group, "g1");
	assert_int_equal(conf->redis.connect_timeout_ms, 1500);
	assert_int_equal(conf->redis.command_timeout_ms, 60000);
	assert_string_equal(conf->consumer, "host-1:0");
	assert_int_equal(conf->workers, 4096);
	assert_int_equal(conf->prefetch, 1000000);
	assert_int_equal(conf->exec_threads, 1024);
	assert_int_equal(conf->exec_queue, 1);
	assert_int_equal(conf->shutdown_timeout_ms, 0);
	assert_int_equal(conf->stall_ms, 0);
	assert_int_equal(conf->heartbeat_ms, 1000);
	assert_int_equal(conf->takeover_ms, 1001);
	assert_string_equal(conf->plugin_dir, "/usr/lib/workqd");
	assert_int_equal(conf->order, WQ_ORDER_WEIGHTED);

	/* Plugins keep their order and their subtree, unchecked; a plugin
	   with no value gets an empty mapping where it stands. */
	assert_int_equal(conf->nplugins, 2);
	assert_string_equal(conf->plugins[0].name, "http");
	assert_int_equal(wq_node_len(conf->plugins[0].conf), 2);
	assert_string_equal(wq_node_scalar(wq_node_get(conf->plugins[0].conf,
	    "url")), "http://x");
	assert_int_equal(wq_node_line(conf->plugins[0].key), 20);
	assert_int_equal(wq_node_column(conf->plugins[0].key), 3);
	assert_string_equal(conf->plugins[1].name, "echo");
	assert_int_equal(wq_node_type(conf->plugins[1].conf), WQ_NODE_MAP);
	assert_int_equal(wq_node_len(conf->plugins[1].conf), 0);
	assert_int_equal(wq_node_line(conf->plugins[1].conf), 21);

	assert_int_equal(conf->nqueues, 2);
	q = &conf->queues[0];
	assert_string_equal(q->name, "Mail.out:2_x-y");
	assert_string_equal(q->plugin, "http");
	assert_int_equal(q->timeout_ms, 90000);
	assert_int_equal(q->retries, 0);
	assert_int_equal(q->concurrency, 3);
	assert_int_equal(q->weight, 5);
	assert_int_equal(q->max_payload, 512 << 20);
	assert_int_equal(q->max_deliveries, 1);
	assert_int_equal(q->dead_max, 1);
	assert_int_equal(q->backoff.base_ms, 1000);
	assert_true(q->backoff.factor == 1.0);
	assert_int_equal(q->backoff.cap_ms, 1000);
	assert_int_equal(wq_node_line(q->node), 24);
	q = &conf->queues[1];
	assert_string_equal(q->name, "b");
	assert_int_equal(q->retries, 25);
	assert_int_equal(q->backoff.base_ms, 45000);
	assert_true(q->backoff.factor == 2.5);

	assert_ptr_equal(wq_conf_queue(conf, "b"), &conf->queues[1]);
	assert_ptr_equal(wq_conf_queue(conf, "Mail.out:2_x-y"),
	    &conf->queues[0]);
	assert_null(wq_conf_queue(conf, "mail.out:2_x-y"));
	assert_ptr_equal(wq_conf_plugin(conf, "echo"), &conf->plugins[1]);
	assert_null(wq_conf_plugin(conf, "sleep"));
	wq_conf_free(conf);
}

static void
test_addresses(void **state)
{
	static const struct {
		const char	*text;
		const char	*host;
		int		 port;
		const char	*path;
	} ok[] = {
		{ "redis: {address: 'localhost:6379'}", "localhost", 6379 },
		{ "redis: {address: '127.0.0.1:1'}", "127.0.0.1", 1 },
		{ "redis: {address: '[::1]:65535'}", "::1", 65535 },
		{ "redis: {address: '[fe80::1%eth0]:6379'}", "fe80::1%eth0",
		    6379 },
		{ "redis: {address: 'unix:/tmp/r.sock'}", NULL, 0,
		    "/tmp/r.sock" },
	};
	static const struct bad bad[] = {
		{ "redis:\n  address: localhost\n", "t.yaml:2:12: address: "
		    "expected unix:/PATH or HOST:PORT, got 'localhost'" },
		{ "redis:\n  address: 'localhost:'\n", "t.yaml:2:12: address: "
		    "expected unix:/PATH or HOST:PORT, got 'localhost:'" },
		{ "redis:\n  address: ':6379'\n", "t.yaml:2:12: address: "
		    "expected unix:/PATH or HOST:PORT, got ':6379'" },
		{ "redis:\n  address: 'host:http'\n", "t.yaml:2:12: address: "
		    "expected unix:/PATH or HOST:PORT, got 'host:http'" },
		{ "redis:\n  address: 'host:-1'\n", "t.yaml:2:12: address: "
		    "expected unix:/PATH or HOST:PORT, got 'host:-1'" },
		{ "redis:\n  address: 'my host:1'\n", "t.yaml:2:12: address: "
		    "expected unix:/PATH or HOST:PORT, got 'my host:1'" },
		{ "redis:\n  address: 'host:0'\n", "t.yaml:2:12: address: "
		    "port 0 is out of range (1..65535)" },
		{ "redis:\n  address: 'host:65536'\n", "t.yaml:2:12: address: "
		    "port 65536 is out of range (1..65535)" },
		{ "redis:\n  address: 'host:99999999999999999999'\n",
		    "t.yaml:2:12: address: port 99999999999999999999 is out "
		    "of range (1..65535)" },
		{ "redis:\n  address: '::1:6379'\n", "t.yaml:2:12: address: "
		    "an IPv6 address goes in brackets, as in [::1]:6379" },
		{ "redis:\n  address: '[::1]6379'\n", "t.yaml:2:12: address: "
		    "expected unix:/PATH or HOST:PORT, got '[::1]6379'" },
		{ "redis:\n  address: '[]:6379'\n", "t.yaml:2:12: address: "
		    "expected unix:/PATH or HOST:PORT, got '[]:6379'" },
		{ "redis:\n  address: unix:run/redis.sock\n", "t.yaml:2:12: "
		    "address: the unix socket path must be absolute" },
		{ "redis:\n  address: 'unix:'\n", "t.yaml:2:12: "
		    "address: the unix socket path must be absolute" },
		{ "redis:\n  address: unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaa\n", "t.yaml:2:12: address: the unix socket "
		    "path is longer than 107 bytes" },
		{ "redis:\n  address: [a]\n", "t.yaml:2:12: address: "
		    "expected a string, got a sequence" },
	};
	struct wq_conf *conf;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		conf = load(ok[i].text);
		if (ok[i].host != NULL)
			assert_string_equal(conf->redis.host, ok[i].host);
		else
			assert_null(conf->redis.host);
		assert_int_equal(conf->redis.port, ok[i].port);
		if (ok[i].path != NULL)
			assert_string_equal(conf->redis.unix_path, ok[i].path);
		else
			assert_null(conf->redis.unix_path);
		wq_conf_free(conf);
	}
	REFUSE(bad);
}

static void
test_http(void **state)
{
	static const struct {
		const char	*text;
		int		 enabled;
		const char	*host;
		int		 port;
	} ok[] = {
		{ "http: {listen: '0.0.0.0:80'}", 1, "0.0.0.0", 80 },
		{ "http: {listen: 'localhost:0'}", 1, "localhost", 0 },
		{ "http: {listen: '[::1]:9187', enabled: yes}", 1, "::1", 9187 },
		{ "http: {enabled: false}", 0, "127.0.0.1", 9187 },
		{ "http: {enabled: off, listen: '10.0.0.1:1'}", 0, "10.0.0.1",
		    1 },
		{ "http: off", 0, "127.0.0.1", 9187 },
		{ "http: on", 1, "127.0.0.1", 9187 },
		{ "http:", 1, "127.0.0.1", 9187 },
		{ "http: {}", 1, "127.0.0.1", 9187 },
	};
	static const struct bad bad[] = {
		{ "http: {listen: localhost}\n", "t.yaml:1:16: listen: "
		    "expected HOST:PORT, got 'localhost'" },
		{ "http: {listen: 'unix:/tmp/m.sock'}\n", "t.yaml:1:16: "
		    "listen: expected HOST:PORT, got 'unix:/tmp/m.sock'" },
		{ "http: {listen: 'h:65536'}\n", "t.yaml:1:16: listen: port "
		    "65536 is out of range (0..65535)" },
		{ "http: {listen: '::1:80'}\n", "t.yaml:1:16: listen: an "
		    "IPv6 address goes in brackets, as in [::1]:80" },
		{ "http: {listen: 9187}\n", "t.yaml:1:16: listen: expected "
		    "HOST:PORT, got '9187'" },
		{ "http: {enabled: maybe}\n", "t.yaml:1:17: enabled: expected "
		    "a boolean (true or false), got 'maybe'" },
		{ "http: {port: 9187}\n", "t.yaml:1:8: unknown key 'port'" },
		{ "http: [a]\n", "t.yaml:1:7: http: expected a mapping" },
		{ "http: 9187\n", "t.yaml:1:7: http: expected a boolean (true "
		    "or false), got '9187'" },
	};
	struct wq_conf *conf;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		conf = load(ok[i].text);
		assert_int_equal(conf->http.enabled, ok[i].enabled);
		assert_string_equal(conf->http.host, ok[i].host);
		assert_int_equal(conf->http.port, ok[i].port);
		wq_conf_free(conf);
	}
	REFUSE(bad);
}

static void
test_unknown_keys(void **state)
{
	static const struct bad bad[] = {
		{ "workers: 8\nwrkers: 8\n", "t.yaml:2:1: unknown key 'wrkers'" },
		{ "log:\n  levle: info\n", "t.yaml:2:3: unknown key 'levle'" },
		{ "redis:\n  prefix: a\n  adress: x\n",
		    "t.yaml:3:3: unknown key 'adress'" },
		{ "executor: {threads: 2, queues: 3}\n",
		    "t.yaml:1:24: unknown key 'queues'" },
		{ "queues:\n  - name: a\n    plugin: echo\n    retry: 3\n",
		    "t.yaml:4:5: unknown key 'retry'" },
		{ "queues:\n  - name: a\n    plugin: echo\n    backoff:\n"
		    "      bsae: 1s\n", "t.yaml:5:7: unknown key 'bsae'" },
	};

	(void)state;
	REFUSE(bad);
}

static void
test_wrong_types(void **state)
{
	static const struct bad bad[] = {
		{ "log:\n  level: info\nworkers: eight\n", "t.yaml:3:10: "
		    "workers: expected an integer, got 'eight'" },
		{ "workers: \"8\"\n", "t.yaml:1:10: workers: expected an "
		    "integer, got the quoted string '8'" },
		{ "workers:\n", "t.yaml:1:9: workers: expected an integer, "
		    "got ''" },
		{ "heartbeat: 2 seconds\n", "t.yaml:1:12: heartbeat: expected "
		    "a duration (250ms, 30s, 5m, 1h, 7d), got '2 seconds'" },
		{ "log: debug\n", "t.yaml:1:6: log: expected a mapping" },
		{ "redis: [a]\n", "t.yaml:1:8: redis: expected a mapping" },
		{ "executor: 4\n", "t.yaml:1:11: executor: expected a mapping" },
		{ "- a\n- b\n", "t.yaml:1:1: expected a mapping, got a "
		    "sequence" },
		{ "consumer: {a: 1}\n", "t.yaml:1:11: consumer: expected a "
		    "string, got a mapping" },
		{ "log: {level: [info]}\n", "t.yaml:1:14: level: expected a "
		    "string, got a sequence" },
		{ "log: {level: loud}\n", "t.yaml:1:14: level: 'loud' is not "
		    "one of err, warning, notice, info, debug" },
		{ "log: {format: syslog}\n", "t.yaml:1:15: format: 'syslog' is "
		    "not one of journal, json" },
		{ "queue_order: random\n", "t.yaml:1:14: queue_order: 'random' "
		    "is not one of strict, weighted" },
		{ "plugins: [echo]\n", "t.yaml:1:10: plugins: expected a "
		    "mapping" },
		{ "plugins:\n  echo: yes\n", "t.yaml:2:9: plugin 'echo': "
		    "expected a mapping" },
		{ "queues: {name: a}\n", "t.yaml:1:9: queues: expected a "
		    "non-empty sequence of mappings" },
		{ "queues: []\n", "t.yaml:1:9: queues: expected a non-empty "
		    "sequence of mappings" },
		{ "queues:\n", "t.yaml:1:8: queues: expected a non-empty "
		    "sequence of mappings" },
		{ "queues: [a]\n", "t.yaml:1:10: expected a mapping, got a "
		    "scalar" },
		{ "queues:\n  - name: a\n    plugin: echo\n    backoff: 1s\n",
		    "t.yaml:4:14: backoff: expected a mapping" },
		{ "queues:\n  - name: a\n    plugin: echo\n    backoff: "
		    "{factor: '2'}\n", "t.yaml:4:23: factor: expected a number, "
		    "got the quoted string '2'" },
		{ "queues:\n  - name: a\n    plugin: echo\n    backoff: "
		    "{factor: fast}\n", "t.yaml:4:23: factor: expected a number, "
		    "got 'fast'" },
		{ "queues:\n  - name: [a]\n    plugin: echo\n", "t.yaml:2:11: "
		    "name: expected a string, got a sequence" },
	};

	(void)state;
	REFUSE(bad);
}

static void
test_ranges(void **state)
{
	static const struct bad bad[] = {
		{ "workers: 0\n", "t.yaml:1:10: workers: 0 is out of range "
		    "(1..4096)" },
		{ "workers: 4097\n", "t.yaml:1:10: workers: 4097 is out of "
		    "range (1..4096)" },
		{ "workers: -1\n", "t.yaml:1:10: workers: -1 is out of range "
		    "(1..4096)" },
		{ "workers: 99999999999999999999\n", "t.yaml:1:10: workers: "
		    "99999999999999999999 is out of range" },
		{ "prefetch: 0\n", "t.yaml:1:11: prefetch: 0 is out of range "
		    "(1..1000000)" },
		{ "prefetch: 1000001\n", "t.yaml:1:11: prefetch: 1000001 is "
		    "out of range (1..1000000)" },
		{ "executor:\n  threads: 1025\n", "t.yaml:2:12: threads: 1025 "
		    "is out of range (1..1024)" },
		{ "executor:\n  threads: 0\n", "t.yaml:2:12: threads: 0 "
		    "is out of range (1..1024)" },
		{ "executor:\n  queue: 0\n", "t.yaml:2:10: queue: 0 is out of "
		    "range (1..1000000)" },
		{ "heartbeat: 0\n", "t.yaml:1:12: heartbeat: must be greater "
		    "than 0" },
		{ "takeover: 0s\n", "t.yaml:1:11: takeover: must be greater "
		    "than 0" },
		{ "takeover: 2s\n", "t.yaml:1:11: takeover: must be longer "
		    "than heartbeat" },
		{ "heartbeat: 10s\n", "t.yaml:1:12: takeover: must be longer "
		    "than heartbeat" },
		{ "redis: {connect_timeout: 0}\n", "t.yaml:1:26: "
		    "connect_timeout: must be greater than 0" },
		{ "redis: {command_timeout: 0ms}\n", "t.yaml:1:26: "
		    "command_timeout: must be greater than 0" },
		{ "shutdown_timeout: -1s\n", "t.yaml:1:19: shutdown_timeout: "
		    "expected a duration (250ms, 30s, 5m, 1h, 7d), got '-1s'" },
		{ "queues:\n  - {name: a, plugin: echo, weight: 0}\n",
		    "t.yaml:2:37: weight: 0 is out of range (1..1000000)" },
		{ "queues:\n  - {name: a, plugin: echo, retries: 1001}\n",
		    "t.yaml:2:38: retries: 1001 is out of range (0..1000)" },
		{ "queues:\n  - {name: a, plugin: echo, retries: -1}\n",
		    "t.yaml:2:38: retries: -1 is out of range (0..1000)" },
		{ "queues:\n  - {name: a, plugin: echo, max_payload: 0}\n",
		    "t.yaml:2:42: max_payload: 0 is out of range "
		    "(1..536870912)" },
		{ "queues:\n  - {name: a, plugin: echo, max_payload: "
		    "536870913}\n", "t.yaml:2:42: max_payload: 536870913 is "
		    "out of range (1..536870912)" },
		{ "queues:\n  - {name: a, plugin: echo, max_deliveries: 0}\n",
		    "t.yaml:2:45: max_deliveries: 0 is out of range "
		    "(1..9223372036854775807)" },
		{ "queues:\n  - {name: a, plugin: echo, dead_max: 0}\n",
		    "t.yaml:2:39: dead_max: 0 is out of range "
		    "(1..9223372036854775807)" },
		{ "queues:\n  - {name: a, plugin: echo, concurrency: 4097}\n",
		    "t.yaml:2:42: concurrency: 4097 is out of range (0..4096)" },
		{ "queues:\n  - {name: a, plugin: echo, timeout: 1.5}\n",
		    "t.yaml:2:38: timeout: expected a duration (250ms, 30s, 5m, "
		    "1h, 7d), got '1.5'" },
		{ "queues:\n  - name: a\n    plugin: echo\n    backoff:\n"
		    "      factor: 0.99\n", "t.yaml:5:15: factor: must be at "
		    "least 1.0" },
		{ "queues:\n  - name: a\n    plugin: echo\n    backoff:\n"
		    "      base: 1m\n      cap: 30s\n", "t.yaml:6:12: backoff: "
		    "cap must not be shorter than base" },
		{ "queues:\n  - name: a\n    plugin: echo\n    backoff:\n"
		    "      base: 8d\n", "t.yaml:5:13: backoff: cap must not be "
		    "shorter than base" },
	};

	(void)state;
	REFUSE(bad);
}

static void
test_strings(void **state)
{
	static const struct bad bad[] = {
		{ "consumer: 'my host'\n", "t.yaml:1:11: consumer: must be 1 "
		    "to 128 printable characters without spaces" },
		{ "consumer: \"a\\tb\"\n", "t.yaml:1:11: consumer: must be 1 "
		    "to 128 printable characters without spaces" },
		{ "consumer: ccccccccccccccccccccccccccccccccccccccccccccccccc"
		    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
		    "cccccccccccccccccccccc\n", "t.yaml:1:11: consumer: must be "
		    "1 to 128 printable characters without spaces" },
		{ "redis: {prefix: ''}\n", "t.yaml:1:17: prefix: must be "
		    "non-empty, without spaces or braces" },
		{ "redis: {prefix: '{a}'}\n", "t.yaml:1:17: prefix: must be "
		    "non-empty, without spaces or braces" },
		{ "redis: {group: 'a b'}\n", "t.yaml:1:16: group: must be "
		    "non-empty, without spaces or braces" },
		{ "redis: {group: }\n", "t.yaml:1:16: group: must be "
		    "non-empty, without spaces or braces" },
		{ "plugin_dir: plugins\n", "t.yaml:1:13: plugin_dir: must be "
		    "an absolute path" },
		{ "plugin_dir: ''\n", "t.yaml:1:13: plugin_dir: must be "
		    "an absolute path" },
	};
	struct wq_conf *conf;
	char text[256];

	(void)state;
	REFUSE(bad);
	/* 128 characters are fine; "" and null mean "not set". */
	snprintf(text, sizeof(text), "consumer: %0128d\n", 7);
	conf = load(text);
	assert_int_equal(strlen(conf->consumer), 128);
	wq_conf_free(conf);
	conf = load("consumer: ~\nredis: {user: '', password_file: }\n");
	assert_null(conf->consumer);
	assert_null(conf->redis.user);
	assert_null(conf->redis.password_file);
	wq_conf_free(conf);
}

static void
test_plugins(void **state)
{
	static const struct bad bad[] = {
		{ "plugins:\n  echo: {}\nqueues:\n  - name: default\n"
		    "    plugin: foo\n", "t.yaml:5:13: queue 'default': plugin "
		    "'foo' is not loaded (add it under plugins:)" },
		{ "plugins:\n  http: {}\n", "t.yaml:1:1: queue 'default': "
		    "plugin 'echo' is not loaded (add it under plugins:)" },
		{ "plugins:\nqueues: [{name: a, plugin: echo}]\n",
		    "t.yaml:2:28: queue 'a': plugin 'echo' is not loaded (add "
		    "it under plugins:)" },
		{ "plugins:\n  Echo: {}\n", "t.yaml:2:3: plugin name 'Echo' is "
		    "not valid (1 to 64 of a-z 0-9 _ -)" },
		{ "plugins:\n  '../x': {}\n", "t.yaml:2:3: plugin name '../x' "
		    "is not valid (1 to 64 of a-z 0-9 _ -)" },
		{ "plugins:\n  '': {}\n", "t.yaml:2:3: plugin name '' is not "
		    "valid (1 to 64 of a-z 0-9 _ -)" },
		{ "plugins:\n  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaa: {}\n", "t.yaml:2:3: plugin name 'aaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' "
		    "is not valid (1 to 64 of a-z 0-9 _ -)" },
		{ "plugins:\n  echo: {}\n  echo: {}\n",
		    "t.yaml:3:3: duplicate key 'echo'" },
	};
	struct wq_conf *conf;

	(void)state;
	REFUSE(bad);
	/* 64 characters, digits, '_' and '-' are fine. */
	conf = load("plugins:\n  a_b-9: {}\n  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: {}\n"
	    "queues: [{name: q, plugin: a_b-9}]\n");
	assert_int_equal(conf->nplugins, 2);
	assert_string_equal(conf->queues[0].plugin, "a_b-9");
	wq_conf_free(conf);
}

static void
test_queues(void **state)
{
	static const struct bad bad[] = {
		{ "queues:\n  - name: a\n    plugin: echo\n  - name: b\n"
		    "    plugin: echo\n  - name: a\n    plugin: sleep\n",
		    "t.yaml:6:11: duplicate queue 'a'" },
		{ "queues:\n  - plugin: echo\n", "t.yaml:2:5: missing key "
		    "'name'" },
		{ "queues:\n  - name: a\n", "t.yaml:2:5: queue 'a': missing "
		    "key 'plugin'" },
		{ "queues:\n  - name: 'a b'\n    plugin: echo\n", "t.yaml:2:11: "
		    "name: 'a b' is not a valid queue name (1 to 128 of a-z A-Z "
		    "0-9 _ . : -)" },
		{ "queues:\n  - name: a/b\n    plugin: echo\n", "t.yaml:2:11: "
		    "name: 'a/b' is not a valid queue name (1 to 128 of a-z A-Z "
		    "0-9 _ . : -)" },
		{ "queues:\n  - name: ''\n    plugin: echo\n", "t.yaml:2:11: "
		    "name: '' is not a valid queue name (1 to 128 of a-z A-Z "
		    "0-9 _ . : -)" },
	};
	char *text;
	size_t n = 0, size = 1100 * 40;

	(void)state;
	REFUSE(bad);
	/* More than 1024 queues are refused. */
	text = malloc(size);
	assert_non_null(text);
	n += (size_t)snprintf(text + n, size - n, "queues:\n");
	for (int i = 0; i < 1025; i++)
		n += (size_t)snprintf(text + n, size - n,
		    "  - {name: q%d, plugin: echo}\n", i);
	assert_null(wq_conf_load_buffer("t.yaml", text, n, err, sizeof(err)));
	assert_string_equal(err, "t.yaml:2:3: queues: more than 1024 queues");
	free(text);
}

static void
test_yaml_errors(void **state)
{
	static const struct bad bad[] = {
		{ "workers: 8\nworkers: 9\n",
		    "t.yaml:2:1: duplicate key 'workers'" },
		{ "a: &x 1\nworkers: *x\n",
		    "t.yaml:2:10: aliases are not supported" },
		{ "workers: [8\n", "t.yaml:2:1: did not find expected ',' or "
		    "']' while parsing a flow sequence" },
	};

	(void)state;
	REFUSE(bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_placeholder),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_plugins),
		cmocka_unit_test(test_queues),
		cmocka_unit_test(test_yaml_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
