/*
 * workqctl daemons: the live daemons, from their registry.  A daemon is
 * live while its heartbeat has not expired: its entry in {<prefix>}:daemons
 * is scored by that expiry (Redis's clock) and its hash expires with it,
 * so a daemon that died vanishes by itself.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define NFIELDS	10

static const char *const fields[NFIELDS] = {
	"consumer", "host", "pid", "version", "heartbeat", "busy", "capacity",
	"started", "queues", "rate"
};

struct daemon {
	const char	*v[NFIELDS];	/* borrowed from the reply */
};

static const char *
get(const struct daemon *d, int i)
{
	return d->v[i] != NULL ? d->v[i] : "";
}

static long long
num(const struct daemon *d, int i)
{
	return strtoll(get(d, i), NULL, 10);
}

static void
fill(struct daemon *d, const redisReply *h)
{
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i + 1 < h->elements; i += 2)
		for (int k = 0; k < NFIELDS; k++)
			if (strcmp(h->element[i]->str, fields[k]) == 0)
				d->v[k] = h->element[i + 1]->str;
}

static void
json_daemon(struct ctl_json *j, const struct daemon *d, int64_t now)
{
	const char *q = get(d, 8), *comma;

	json_open(j, '{');
	json_key(j, "consumer");
	json_cstr(j, get(d, 0));
	json_key(j, "host");
	json_cstr(j, get(d, 1));
	json_key(j, "pid");
	json_int(j, num(d, 2));
	json_key(j, "version");
	json_cstr(j, get(d, 3));
	json_key(j, "heartbeat");
	json_int(j, num(d, 4));
	json_key(j, "heartbeat_age_ms");
	json_int(j, now - num(d, 4));
	json_key(j, "busy");
	json_int(j, num(d, 5));
	json_key(j, "capacity");
	json_int(j, num(d, 6));
	json_key(j, "started");
	json_int(j, num(d, 7));
	json_key(j, "jobs_per_second");
	json_num(j, strtod(get(d, 9), NULL));
	json_key(j, "queues");
	json_open(j, '[');
	while (*q != '\0') {
		comma = strchr(q, ',');
		json_str(j, q, comma != NULL ? (size_t)(comma - q) : strlen(q));
		q = comma != NULL ? comma + 1 : q + strlen(q);
	}
	json_close(j, ']');
	json_close(j, '}');
}

static void
row(struct ctl_table *t, const struct daemon *d, int64_t now)
{
	char age[32], up[32];

	ctl_age(age, sizeof(age), now - num(d, 4));
	ctl_age(up, sizeof(up), now - num(d, 7));
	table_cell(t, "%s", get(d, 0));
	table_cell(t, "%s", get(d, 1));
	table_cell(t, "%s", get(d, 2));
	table_cell(t, "%s", get(d, 3));
	table_cell(t, "%s ago", age);
	table_cell(t, "%lld/%lld", num(d, 5), num(d, 6));
	table_cell(t, "%s", get(d, 9));
	table_cell(t, "%s", up);
	table_cell(t, "%s", get(d, 8));
}

int
ctl_daemons(struct ctl *c)
{
	static const char *const heads[] = { "CONSUMER", "HOST", "PID",
	    "VERSION", "HEARTBEAT", "BUSY", "JOBS/S", "UP", "QUEUES", NULL };
	int64_t now = ctl_now(c);
	redisReply *z, **h;
	struct ctl_list l;
	struct daemon d;

	if (c->argc > 1)
		ctl_usage("daemons: no arguments expected");
	z = ctl_check(ctl_cmd(c, "ZRANGEBYSCORE %s %lld +inf",
	    ctl_key(c, NULL, "daemons"), (long long)now), "ZRANGEBYSCORE");
	if ((h = calloc(z->elements + 1, sizeof(*h))) == NULL)
		ctl_fail(CTL_EXIT_FAIL, "out of memory");
	for (size_t i = 0; i < z->elements; i++)
		ctl_append(c, "HGETALL %s", ctl_daemon_key(c,
		    z->element[i]->str));
	for (size_t i = 0; i < z->elements; i++)
		h[i] = ctl_check(ctl_reply(c), "HGETALL");
	ctl_list_begin(&l, c, "daemons", heads, "llrlrrrrl");
	for (size_t i = 0; i < z->elements; i++) {
		if (h[i]->type != REDIS_REPLY_ARRAY || h[i]->elements == 0)
			continue;	/* expired between the two reads */
		fill(&d, h[i]);
		if (l.t == NULL)
			json_daemon(&l.j, &d, now);
		else
			row(l.t, &d, now);
	}
	ctl_list_end(&l);
	for (size_t i = 0; i < z->elements; i++)
		freeReplyObject(h[i]);
	free(h);
	freeReplyObject(z);
	return CTL_EXIT_OK;
}
