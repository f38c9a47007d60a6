/*
 * workqctl scheduled list: what waits in each queue's scheduled set
 * ({<prefix>:<queue>}:scheduled): retries waiting for their backoff and
 * jobs pushed with `at` or `delay`.  Members are MessagePack arrays (the
 * original entry ID, then the fields), scored by due time; a read-only
 * script unpacks them in Redis, so workqctl needs no MessagePack of its
 * own.  Soonest first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const char list_lua[] =
	"#!lua flags=no-writes\n"
	"-- KEYS[1] scheduled set; ARGV[1] how many (0: all).\n"
	"-- Returns {due, {entry id, field, value, ...}} per member, soonest\n"
	"-- first; a member that does not unpack gives {due, {}}.\n"
	"local n = tonumber(ARGV[1])\n"
	"local m = redis.call('ZRANGE', KEYS[1], 0, n > 0 and n - 1 or -1, "
	"'WITHSCORES')\n"
	"local out = {}\n"
	"for i = 1, #m, 2 do\n"
	"  local ok, f = pcall(cmsgpack.unpack, m[i])\n"
	"  if not ok or type(f) ~= 'table' then f = {} end\n"
	"  for j = 1, #f do f[j] = tostring(f[j]) end\n"
	"  out[#out + 1] = {m[i + 1], f}\n"
	"end\n"
	"return out\n";

/* The value of a field in {entry id, field, value, ...}, or NULL. */
static const redisReply *
field(const redisReply *f, const char *name)
{
	return ctl_field(f, 1, name);
}

static const char *
fstr(const redisReply *f, const char *name, const char *dflt)
{
	const redisReply *v = field(f, name);

	return v != NULL ? v->str : dflt;
}

static void
json_item(struct ctl_json *j, const char *queue, const redisReply *it,
    int64_t now)
{
	const redisReply *f = it->element[1];
	long long due = strtoll(it->element[0]->str, NULL, 10);

	json_open(j, '{');
	json_key(j, "queue");
	json_cstr(j, queue);
	json_key(j, "due");
	json_int(j, due);
	json_key(j, "due_in_ms");
	json_int(j, due - now);
	json_key(j, "entry");
	if (f->elements > 0)
		json_str(j, f->element[0]->str, f->element[0]->len);
	else
		json_null(j);
	ctl_json_fields(j, f, 1);
	json_close(j, '}');
}

static void
row(struct ctl_table *t, const char *queue, const redisReply *it,
    int64_t now)
{
	const redisReply *f = it->element[1], *p = field(f, "payload");
	long long due = strtoll(it->element[0]->str, NULL, 10);
	char in[32];

	ctl_age(in, sizeof(in), due - now);
	table_cell(t, "%s", queue);
	table_cell(t, due >= now ? "in %s" : "%s overdue", in);
	table_cell(t, "%s", fstr(f, "attempt", "1"));
	table_cell(t, "%s", fstr(f, "plugin", "-"));
	table_cell(t, "%s", fstr(f, "id", f->elements > 0 ?
	    f->element[0]->str : "?"));
	table_bytes(t, p != NULL ? p->str : "", p != NULL ? p->len : 0);
}

int
ctl_scheduled(struct ctl *c)
{
	static const char *const heads[] = { "QUEUE", "DUE", "ATTEMPT",
	    "PLUGIN", "JOB", "PAYLOAD", NULL };
	struct ctl_queues q;
	struct ctl_list l;
	char limit[32];
	redisReply *r;
	int64_t now;

	if (c->argc != 2 || strcmp(c->argv[1], "list") != 0)
		ctl_usage("scheduled: expected list");
	ctl_queues(c, c->queue_opts, c->nqueue_opts, &q);
	now = ctl_now(c);
	snprintf(limit, sizeof(limit), "%ld", c->limit);
	ctl_list_begin(&l, c, "scheduled", heads, "llrlll");
	for (size_t k = 0; k < q.n; k++) {
		const char *argv[] = { "EVAL", list_lua, "1",
		    ctl_key(c, q.names[k], "scheduled"), limit };

		r = ctl_check(ctl_cmdv(c, 5, argv, NULL), "scheduled list");
		for (size_t i = 0; i < r->elements; i++) {
			if (r->element[i]->elements != 2)
				continue;
			if (l.t == NULL)
				json_item(&l.j, q.names[k], r->element[i],
				    now);
			else
				row(l.t, q.names[k], r->element[i], now);
		}
		freeReplyObject(r);
	}
	ctl_list_end(&l);
	return CTL_EXIT_OK;
}
