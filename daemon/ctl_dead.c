/*
 * workqctl dead list|show|retry|purge: the dead letters of each queue
 * ({<prefix>:<queue>}:dead, a stream of the original fields plus dead.*).
 *
 * Entries are chosen by ID (what `dead list` shows), by age (--older-than:
 * the entry ID is the time it was dead-lettered) or all of them (--all,
 * which retry and purge demand rather than assume).  A retry pushes the
 * original fields back to the queue, without the dead.* fields and without
 * `attempt` (so the job gets its retries anew), and deletes the dead
 * letter, in one script: a job is never both dead and queued, and two
 * operators retrying the same entry push it once.  The dead-letter stream
 * and the queue's stream share a cluster slot ({<prefix>:<queue>}).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "job.h"

#define ERROR_SHOWN	80

static const char retry_lua[] =
	"#!lua\n"
	"-- KEYS[1] dead-letter stream, KEYS[2] the queue's stream; ARGV: ids.\n"
	"-- Returns, for each id, the new entry's id, 0 (no such dead letter)\n"
	"-- or -1 (nothing left to push: it stays).\n"
	"local out = {}\n"
	"for i, id in ipairs(ARGV) do\n"
	"  local e = redis.call('XRANGE', KEYS[1], id, id)\n"
	"  out[i] = 0\n"
	"  if #e == 1 then\n"
	"    local f, keep = e[1][2], {}\n"
	"    for j = 1, #f, 2 do\n"
	"      if string.sub(f[j], 1, 5) ~= 'dead.' and f[j] ~= 'attempt' then\n"
	"        keep[#keep + 1] = f[j]\n"
	"        keep[#keep + 1] = f[j + 1]\n"
	"      end\n"
	"    end\n"
	"    out[i] = -1\n"
	"    if #keep > 0 then\n"
	"      out[i] = redis.call('XADD', KEYS[2], '*', unpack(keep))\n"
	"      redis.call('XDEL', KEYS[1], id)\n"
	"    end\n"
	"  end\n"
	"end\n"
	"return out\n";

/* What a command found, for the summary and the exit code. */
struct tally {
	struct ctl_json	 j;
	long long	 count;
	int		 missing;
};

static void	tally_start(struct ctl *c, struct tally *t, const char *key);
static int	tally_end(struct ctl *c, struct tally *t, const int *found,
		    const char *what);

/* An integer reply's value; the reply is freed. */
static long long
count(redisReply *r, const char *what)
{
	long long n;

	ctl_check(r, what);
	n = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	freeReplyObject(r);
	return n;
}

/* The value of field name in an XRANGE entry's field array, or NULL. */
static const redisReply *
field(const redisReply *f, const char *name)
{
	return ctl_field(f, 0, name);
}

static const char *
fstr(const redisReply *f, const char *name)
{
	const redisReply *v = field(f, name);

	return v != NULL ? v->str : "";
}

static int64_t
id_ms(const char *id)
{
	uint64_t ms = 0, seq;

	wq_id_parse(id, strlen(id), &ms, &seq);
	return (int64_t)ms;
}

static void
check_id(const char *id)
{
	uint64_t ms, seq;

	if (wq_id_parse(id, strlen(id), &ms, &seq) < 0)
		ctl_usage("'%s' is not an entry ID (like 1700000000000-0)", id);
}

static void
json_entry(struct ctl_json *j, const char *queue, const redisReply *e,
    int64_t now)
{
	const redisReply *f = e->element[1];

	json_open(j, '{');
	json_key(j, "queue");
	json_cstr(j, queue);
	json_key(j, "id");
	json_str(j, e->element[0]->str, e->element[0]->len);
	json_key(j, "age_ms");
	json_int(j, now - id_ms(e->element[0]->str));
	json_key(j, "reason");
	json_cstr(j, fstr(f, "dead.reason"));
	json_key(j, "error");
	json_cstr(j, fstr(f, "dead.error"));
	json_key(j, "attempts");
	json_int(j, strtoll(fstr(f, "dead.attempts"), NULL, 10));
	json_key(j, "deliveries");
	json_int(j, strtoll(fstr(f, "dead.deliveries"), NULL, 10));
	json_key(j, "failed_at");
	json_int(j, strtoll(fstr(f, "dead.failed_at"), NULL, 10));
	json_key(j, "entry");
	json_cstr(j, fstr(f, "dead.entry"));
	ctl_json_fields(j, f, 0);
	json_close(j, '}');
}

static void
row(struct ctl_table *t, const char *queue, const redisReply *e,
    int64_t now)
{
	const redisReply *f = e->element[1], *err = field(f, "dead.error");
	char age[32];

	ctl_age(age, sizeof(age), now - id_ms(e->element[0]->str));
	table_cell(t, "%s", queue);
	table_cell(t, "%s", e->element[0]->str);
	table_cell(t, "%s", age);
	table_cell(t, "%s", fstr(f, "dead.reason"));
	table_cell(t, "%s", fstr(f, "dead.attempts"));
	table_cell(t, "%s", fstr(f, "plugin"));
	table_bytes(t, err != NULL ? err->str : "", err != NULL ?
	    err->len : 0);
}

/* XRANGE's end for --older-than: IDs below now - age, exclusive. */
static void
range_end(const struct ctl *c, int64_t now, char *buf, size_t len)
{
	if (c->older_than_ms >= 0)
		snprintf(buf, len, "(%lld-0", (long long)(now -
		    c->older_than_ms));
	else
		snprintf(buf, len, "+");
}

static int
list(struct ctl *c, const struct ctl_queues *q, int64_t now)
{
	static const char *const heads[] = { "QUEUE", "ID", "AGE", "REASON",
	    "ATTEMPTS", "PLUGIN", "ERROR", NULL };
	struct ctl_list l;
	char end[64];
	redisReply *r;
	long long total;

	if (c->argc > 2)
		ctl_usage("dead list: IDs go to dead show");
	range_end(c, now, end, sizeof(end));
	ctl_list_begin(&l, c, "queues", heads, "llrlrll");
	for (size_t k = 0; k < q->n; k++) {
		const char *dead = ctl_key(c, q->names[k], "dead");

		total = count(ctl_cmd(c, "XLEN %s", dead), "XLEN");
		r = ctl_check(c->limit > 0 ? ctl_cmd(c, "XRANGE %s - %s COUNT "
		    "%ld", dead, end, c->limit) : ctl_cmd(c, "XRANGE %s - %s",
		    dead, end), "XRANGE");
		if (l.t == NULL) {
			json_open(&l.j, '{');
			json_key(&l.j, "queue");
			json_cstr(&l.j, q->names[k]);
			json_key(&l.j, "total");
			json_int(&l.j, total);
			json_key(&l.j, "entries");
			json_open(&l.j, '[');
		}
		for (size_t i = 0; i < r->elements; i++)
			if (l.t == NULL)
				json_entry(&l.j, q->names[k], r->element[i],
				    now);
			else
				row(l.t, q->names[k], r->element[i], now);
		if (l.t == NULL) {
			json_close(&l.j, ']');
			json_close(&l.j, '}');
		} else if (c->older_than_ms < 0 && total > (long long)r->elements)
			fprintf(stderr, "workqctl: %s: %zu of %lld dead letters "
			    "shown (--limit 0 shows all)\n", q->names[k],
			    r->elements, total);
		freeReplyObject(r);
	}
	ctl_list_end(&l);
	return CTL_EXIT_OK;
}

/* A value shown on one line: C escapes for what is not printable. */
static void
show_value(const redisReply *v)
{
	for (size_t i = 0; i < v->len; i++) {
		unsigned char ch = (unsigned char)v->str[i];

		if (ch == '\n')
			fputs("\\n", stdout);
		else if (ch == '\\')
			fputs("\\\\", stdout);
		else if (ch < ' ' || ch == 0x7f)
			printf("\\x%02x", ch);
		else
			putchar(ch);
	}
	putchar('\n');
}

static void
show_entry(const char *queue, const redisReply *e)
{
	const redisReply *f = e->element[1];

	printf("%s %s\n", queue, e->element[0]->str);
	for (size_t x = 0; x + 1 < f->elements; x += 2) {
		printf("  %s: ", f->element[x]->str);
		show_value(f->element[x + 1]);
	}
}

static int
show(struct ctl *c, const struct ctl_queues *q, int64_t now)
{
	int *found = calloc((size_t)c->argc + 1, sizeof(*found)), rc;
	struct tally t;
	redisReply *r;

	if (c->argc < 3)
		ctl_usage("dead show: which ID? (dead list shows them)");
	if (found == NULL)
		ctl_fail(CTL_EXIT_FAIL, "out of memory");
	for (int i = 2; i < c->argc; i++)
		check_id(c->argv[i]);
	tally_start(c, &t, "entries");
	for (int i = 2; i < c->argc; i++)
		for (size_t k = 0; k < q->n; k++) {
			r = ctl_check(ctl_cmd(c, "XRANGE %s %s %s", ctl_key(c,
			    q->names[k], "dead"), c->argv[i], c->argv[i]),
			    "XRANGE");
			for (size_t e = 0; e < r->elements; e++) {
				found[i - 2] = 1;
				if (c->json)
					json_entry(&t.j, q->names[k],
					    r->element[e], now);
				else
					show_entry(q->names[k], r->element[e]);
			}
			freeReplyObject(r);
		}
	rc = tally_end(c, &t, found, "show");
	free(found);
	return rc;
}

/* Runs the retry script on ids; reports each pushed entry. */
static void
retry_ids(struct ctl *c, const char *queue, const char **ids, size_t n,
    struct tally *t, int *found)
{
	const char **argv = calloc(n + 5, sizeof(*argv));
	redisReply *r;

	if (argv == NULL)
		ctl_fail(CTL_EXIT_FAIL, "out of memory");
	argv[0] = "EVAL";
	argv[1] = retry_lua;
	argv[2] = "2";
	argv[3] = ctl_key(c, queue, "dead");
	argv[4] = ctl_stream_key(c, queue);
	memcpy(argv + 5, ids, n * sizeof(*ids));
	r = ctl_check(ctl_cmdv(c, (int)n + 5, argv, NULL), "dead retry");
	for (size_t i = 0; i < r->elements && i < n; i++) {
		const redisReply *v = r->element[i];

		if (v->type == REDIS_REPLY_INTEGER && v->integer == 0)
			continue;
		if (found != NULL)
			found[i] = 1;
		if (v->type == REDIS_REPLY_INTEGER) {
			fprintf(stderr, "workqctl: dead retry: %s %s has only "
			    "dead.* fields: left as it is\n", queue, ids[i]);
			continue;
		}
		t->count++;
		if (c->json) {
			json_open(&t->j, '{');
			json_key(&t->j, "queue");
			json_cstr(&t->j, queue);
			json_key(&t->j, "id");
			json_cstr(&t->j, ids[i]);
			json_key(&t->j, "new_id");
			json_str(&t->j, v->str, v->len);
			json_close(&t->j, '}');
		} else
			printf("%s %s -> %s\n", queue, ids[i], v->str);
	}
	freeReplyObject(r);
	free(argv);
}

/* Every dead letter of queue (older than --older-than), in batches. */
static void
retry_range(struct ctl *c, const char *queue, int64_t now, struct tally *t)
{
	const char *ids[CTL_BATCH];
	char start[64] = "-", end[64];
	redisReply *r;
	size_t n;

	range_end(c, now, end, sizeof(end));
	do {
		r = ctl_check(ctl_cmd(c, "XRANGE %s %s %s COUNT %d", ctl_key(c,
		    queue, "dead"), start, end, CTL_BATCH), "XRANGE");
		n = r->elements;
		for (size_t i = 0; i < n; i++)
			ids[i] = r->element[i]->element[0]->str;
		if (n > 0) {
			retry_ids(c, queue, ids, n, t, NULL);
			snprintf(start, sizeof(start), "(%s", ids[n - 1]);
		}
		freeReplyObject(r);
	} while (n == CTL_BATCH);
}

/* What retry and purge select: IDs, --older-than or --all, one of them. */
static int
selection(const struct ctl *c, const char *what)
{
	int by_id = c->argc > 2;

	if (by_id + (c->older_than_ms >= 0) + c->all != 1)
		ctl_usage("dead %s: give IDs, --older-than DURATION or --all "
		    "(one of them)", what);
	for (int i = 2; i < c->argc; i++)
		check_id(c->argv[i]);
	return by_id;
}

static void
tally_start(struct ctl *c, struct tally *t, const char *key)
{
	memset(t, 0, sizeof(*t));
	if (!c->json)
		return;
	json_start(&t->j, stdout);
	json_open(&t->j, '{');
	json_key(&t->j, key);
	json_open(&t->j, '[');
}

/* Reports the IDs found nowhere; the exit code. */
static int
tally_end(struct ctl *c, struct tally *t, const int *found,
    const char *what)
{
	for (int i = 2; found != NULL && i < c->argc; i++)
		if (!found[i - 2]) {
			fprintf(stderr, "workqctl: dead %s: no dead letter %s\n",
			    what, c->argv[i]);
			t->missing++;
		}
	if (c->json) {
		json_close(&t->j, ']');
		json_key(&t->j, "not_found");
		json_open(&t->j, '[');
		for (int i = 2; found != NULL && i < c->argc; i++)
			if (!found[i - 2])
				json_cstr(&t->j, c->argv[i]);
		json_close(&t->j, ']');
		json_close(&t->j, '}');
		json_finish(&t->j);
	} else if (strcmp(what, "show") != 0)
		printf("%s %lld dead letter(s)\n", strcmp(what, "retry") == 0 ?
		    "pushed back" : "purged", t->count);
	return t->missing > 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

static int
retry(struct ctl *c, const struct ctl_queues *q, int64_t now)
{
	int by_id = selection(c, "retry");
	int *found = calloc((size_t)c->argc + 1, sizeof(*found));
	struct tally t;

	if (found == NULL)
		ctl_fail(CTL_EXIT_FAIL, "out of memory");
	tally_start(c, &t, "retried");
	for (size_t k = 0; k < q->n; k++)
		if (by_id)
			retry_ids(c, q->names[k], (const char **)c->argv + 2,
			    (size_t)c->argc - 2, &t, found);
		else
			retry_range(c, q->names[k], now, &t);
	by_id = tally_end(c, &t, by_id ? found : NULL, "retry");
	free(found);
	return by_id;
}

static void
purged(struct ctl *c, struct tally *t, const char *queue, long long n)
{
	t->count += n;
	if (!c->json)
		return;
	json_open(&t->j, '{');
	json_key(&t->j, "queue");
	json_cstr(&t->j, queue);
	json_key(&t->j, "count");
	json_int(&t->j, n);
	json_close(&t->j, '}');
}

static int
purge(struct ctl *c, const struct ctl_queues *q, int64_t now)
{
	int by_id = selection(c, "purge");
	int *found = calloc((size_t)c->argc + 1, sizeof(*found));
	struct tally t;
	long long n;

	if (found == NULL)
		ctl_fail(CTL_EXIT_FAIL, "out of memory");
	tally_start(c, &t, "purged");
	for (size_t k = 0; k < q->n; k++) {
		const char *dead = ctl_key(c, q->names[k], "dead");

		n = 0;
		if (c->all) {
			ctl_append(c, "XLEN %s", dead);
			ctl_append(c, "DEL %s", dead);
			n = count(ctl_reply(c), "XLEN");
			count(ctl_reply(c), "DEL");
		} else if (!by_id)
			n = count(ctl_cmd(c, "XTRIM %s MINID %lld-0", dead,
			    (long long)(now - c->older_than_ms)), "XTRIM");
		else
			for (int i = 0; i < c->argc - 2; i++)
				if (count(ctl_cmd(c, "XDEL %s %s", dead,
				    c->argv[i + 2]), "XDEL") > 0) {
					found[i] = 1;
					n++;
				}
		purged(c, &t, q->names[k], n);
	}
	by_id = tally_end(c, &t, by_id ? found : NULL, "purge");
	free(found);
	return by_id;
}

int
ctl_dead(struct ctl *c)
{
	static const struct {
		const char	*name;
		int		(*run)(struct ctl *, const struct ctl_queues *,
				    int64_t);
		int		 options;
	} subs[] = {
		{ "list", list, CTL_O_QUEUE | CTL_O_OLDER | CTL_O_LIMIT },
		{ "show", show, CTL_O_QUEUE },
		{ "retry", retry, CTL_O_QUEUE | CTL_O_OLDER | CTL_O_ALL },
		{ "purge", purge, CTL_O_QUEUE | CTL_O_OLDER | CTL_O_ALL },
	};
	const char *sub = c->argc > 1 ? c->argv[1] : "";
	struct ctl_queues q;
	char what[32];

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(sub, subs[i].name) != 0)
			continue;
		snprintf(what, sizeof(what), "dead %s", sub);
		ctl_allow(c, subs[i].options, what);
		ctl_queues(c, c->queue_opts, c->nqueue_opts, &q);
		return subs[i].run(c, &q, ctl_now(c));
	}
	ctl_usage("dead: expected list, show, retry or purge");
}
