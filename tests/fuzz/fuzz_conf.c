/*
 * libFuzzer target for the configuration loader: any bytes go through
 * libyaml, the tree builder and the schema checks, and whatever comes back
 * (a configuration or an error) is used and freed.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *       -Icore/include -iquote core \
 *       tests/fuzz/fuzz_conf.c core/conf.c core/yaml.c core/node.c \
 *       core/log.c -lyaml \
 *       -o /tmp/fuzz_conf
 *   mkdir -p /tmp/corpus
 *   /tmp/fuzz_conf -max_total_time=60 -max_len=4096 /tmp/corpus \
 *       tests/fuzz/corpus/conf
 *
 * New inputs go to the first directory, so the seeds here stay as they are.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads what a loaded configuration offers, so that a dangling pointer
   into a freed or half-built document shows up under ASan. */
static size_t
touch(const struct wq_conf *conf)
{
	size_t n = strlen(conf->path) + strlen(conf->plugin_dir) +
	    strlen(conf->redis.address) + strlen(conf->redis.prefix) +
	    strlen(conf->redis.group);

	for (size_t i = 0; i < conf->nplugins; i++) {
		n += strlen(conf->plugins[i].name);
		n += wq_node_len(conf->plugins[i].conf);
		n += wq_node_line(conf->plugins[i].key);
		if (wq_conf_plugin(conf, conf->plugins[i].name) == NULL)
			__builtin_trap();
	}
	for (size_t i = 0; i < conf->nqueues; i++) {
		n += strlen(conf->queues[i].name);
		if (wq_conf_queue(conf, conf->queues[i].name) !=
		    &conf->queues[i] ||
		    wq_conf_plugin(conf, conf->queues[i].plugin) == NULL)
			__builtin_trap();
	}
	if (conf->redis.host != NULL)
		n += strlen(conf->redis.host);
	if (conf->consumer != NULL)
		n += strlen(conf->consumer);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wq_conf *conf;
	char err[256];

	conf = wq_conf_load_buffer("fuzz.yaml", (const char *)data, size, err,
	    sizeof(err));
	if (conf != NULL) {
		if (touch(conf) == 0)
			__builtin_trap();
		wq_conf_free(conf);
	} else if (strncmp(err, "fuzz.yaml:", 10) != 0)
		__builtin_trap();
	return 0;
}
