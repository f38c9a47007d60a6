/*
 * workqctl push QUEUE PAYLOAD [FIELD VALUE]...: one job, checked the way
 * workqd will read it (core/entry.c's wq_entry_decode, with the queue's
 * max_payload and Redis's clock for `delay`), then added with XADD.  A job
 * workqd would dead-letter as invalid is refused here with the same
 * reason, before it is pushed.  A queue or plugin the config does not know
 * is refused too, unless --force (the config read may not be the one the
 * daemons run).
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "entry.h"


static const char *
where(const struct ctl *c)
{
	return c->config != NULL ? c->config : "workqd's default config";
}

static void
check_known(const struct ctl *c, const char *queue,
    const struct wq_conf_queue *q, const struct wq_entry *e)
{
	char plugin[80];

	if (q == NULL)
		ctl_fail(CTL_EXIT_FAIL, "push: queue '%s' is not in %s, so no "
		    "daemon reads it (--force pushes anyway)", queue, where(c));
	if (e->plugin == NULL)
		return;
	snprintf(plugin, sizeof(plugin), "%.*s", (int)e->plugin_len,
	    e->plugin);
	if (wq_conf_plugin(c->conf, plugin) == NULL)
		ctl_fail(CTL_EXIT_FAIL, "push: field 'plugin': no plugin '%s' "
		    "in %s; the job would be dead-lettered (--force pushes "
		    "anyway)", plugin, where(c));
}

static void
print(const struct ctl *c, const char *queue, const redisReply *id)
{
	struct ctl_json j;

	if (!c->json) {
		printf("%s\n", id->str);
		return;
	}
	json_start(&j, stdout);
	json_open(&j, '{');
	json_key(&j, "queue");
	json_cstr(&j, queue);
	json_key(&j, "id");
	json_str(&j, id->str, id->len);
	json_close(&j, '}');
	json_finish(&j);
}

int
ctl_push(struct ctl *c)
{
	const char *queue = c->argc > 1 ? c->argv[1] : NULL;
	const struct wq_conf_queue *q;
	struct ctl_queues one;
	struct wq_field *f;
	struct wq_entry e;
	const char **argv;
	redisReply *id;
	size_t n;
	char err[256];

	if (c->argc < 3 || (c->argc - 3) % 2 != 0)
		ctl_usage("usage: push [--force] QUEUE PAYLOAD [FIELD "
		    "VALUE]...");
	for (int i = 3; i < c->argc; i += 2)
		if (c->argv[i][0] == '-')
			ctl_usage("push: '%s' is not a field name (options go "
			    "before QUEUE)", c->argv[i]);
	ctl_queues(c, &queue, 1, &one);
	q = wq_conf_queue(c->conf, queue);
	n = (size_t)(c->argc - 1) / 2;	/* payload, then the pairs */
	f = calloc(n, sizeof(*f));
	argv = calloc(2 * n + 3, sizeof(*argv));
	if (f == NULL || argv == NULL)
		ctl_fail(CTL_EXIT_FAIL, "out of memory");
	argv[0] = "XADD";
	argv[1] = ctl_stream_key(c, queue);
	argv[2] = "*";
	for (size_t i = 0; i < n; i++) {
		f[i].name = i == 0 ? "payload" : c->argv[1 + 2 * i];
		f[i].val = c->argv[2 + 2 * i];
		f[i].nlen = strlen(f[i].name);
		f[i].vlen = strlen(f[i].val);
		argv[3 + 2 * i] = f[i].name;
		argv[4 + 2 * i] = f[i].val;
	}
	if (wq_entry_decode(&e, f, n, (uint64_t)ctl_now(c), q != NULL ?
	    q->max_payload : WQ_CONF_MAX_PAYLOAD, err, sizeof(err)) < 0)
		ctl_fail(CTL_EXIT_FAIL, "push: %s", err);
	if (!c->force)
		check_known(c, queue, q, &e);
	id = ctl_check(ctl_cmdv(c, (int)(2 * n + 3), argv, NULL), "push");
	if (id->type != REDIS_REPLY_STRING)
		ctl_fail(CTL_EXIT_FAIL, "push: unexpected reply to XADD");
	print(c, queue, id);
	freeReplyObject(id);
	free(argv);
	free(f);
	return CTL_EXIT_OK;
}
