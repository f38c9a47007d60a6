/*
 * Streams (see stream.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

static char *
key_of(const char *prefix, const char *name, const char *what)
{
	char *key;
	int n = what != NULL ?
	    asprintf(&key, "{%s:%s}:%s", prefix, name, what) :
	    asprintf(&key, "%s:%s", prefix, name);

	return n < 0 ? NULL : key;
}

struct wq_stream *
wq_stream_new(struct wq_loop *loop, const struct wq_conf *conf,
    const struct wq_conf_queue *q, unsigned rank)
{
	struct wq_stream *s = calloc(1, sizeof(*s));
	const char *prefix = conf->redis.prefix;

	if (s == NULL)
		return NULL;
	s->name = strdup(q->name);
	s->key = key_of(prefix, q->name, NULL);
	s->dead_key = key_of(prefix, q->name, "dead");
	s->sched_key = key_of(prefix, q->name, "scheduled");
	s->alive_key = key_of(prefix, q->name, "alive");
	wq_idset_init(&s->held);
	wq_sem_init(&s->sem, loop, 0);
	s->next_due = s->noted = -1;
	if (s->name == NULL || s->key == NULL || s->dead_key == NULL ||
	    s->sched_key == NULL || s->alive_key == NULL) {
		wq_stream_free(s);
		return NULL;
	}
	wq_stream_configure(s, q, rank);
	return s;
}

void
wq_stream_free(struct wq_stream *s)
{
	if (s == NULL)
		return;
	wq_sem_fini(&s->sem);
	wq_idset_fini(&s->held);
	free(s->name);
	free(s->key);
	free(s->dead_key);
	free(s->sched_key);
	free(s->alive_key);
	free(s);
}

void
wq_stream_configure(struct wq_stream *s, const struct wq_conf_queue *q,
    unsigned rank)
{
	s->active = 1;
	s->rank = rank;
	s->weight = q->weight;
	snprintf(s->plugin, sizeof(s->plugin), "%s", q->plugin);
	s->policy.timeout_ms = q->timeout_ms;
	s->policy.retries = q->retries;
	s->policy.backoff_base_ms = q->backoff.base_ms;
	s->policy.backoff_factor = q->backoff.factor;
	s->policy.backoff_cap_ms = q->backoff.cap_ms;
	s->max_payload = q->max_payload;
	s->max_deliveries = q->max_deliveries;
	s->dead_max = q->dead_max;
	s->concurrency = q->concurrency;
	wq_sem_set_limit(&s->sem, q->concurrency);
}

unsigned
wq_stream_credit(const struct wq_stream *s)
{
	if (!s->active)
		return 0;
	if (s->concurrency == 0)
		return UINT32_MAX;
	return s->inflight >= s->concurrency ? 0 : s->concurrency - s->inflight;
}

struct wq_stream *
wq_stream_by_key(struct wq_stream_list *list, const char *key, size_t len)
{
	struct wq_stream *s;

	TAILQ_FOREACH(s, list, link)
		if (strlen(s->key) == len && memcmp(s->key, key, len) == 0)
			return s;
	return NULL;
}

struct wq_stream *
wq_stream_by_name(struct wq_stream_list *list, const char *name)
{
	struct wq_stream *s;

	TAILQ_FOREACH(s, list, link)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}
