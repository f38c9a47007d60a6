/*
 * The Lua scripts (see script.h).
 *
 * DESIGN: each settlement script first checks that the entry is still
 * pending for this consumer (XPENDING id id 1 consumer), so running it
 * twice (a reply lost, the command resent) or after a peer took the entry
 * over (this daemon was frozen past the takeover bound) changes nothing.
 * The acknowledgement is the exception: it is batched and must stay cheap,
 * and XACK is idempotent by itself.
 *
 * Trimming: the consumer group hands entries out in ID order, so every
 * entry below the oldest one still pending (or, with nothing pending, up to
 * the last one delivered) is done; XTRIM MINID removes them for about
 * 0.3 us each.  Entries acknowledged out of order stay until the oldest
 * pending one goes; if that one lingers (delivered more than LINGER_MS ago:
 * a long job, a dead daemon's entry not yet taken over), the script XDELs
 * what it acknowledges instead, so a long job cannot let the stream grow
 * behind it.  Lingering is judged by the entry's idle time in the pending
 * list, not by its ID: a burst pushed within a second of a long job would
 * otherwise stay until the long job ends.
 *
 * Claims take entries in ID order and stop before the first suspect (an
 * entry delivered twice already: it may be what crashed a daemon), which
 * the fetcher then takes alone (see fetch.h, quarantine).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"

#define WQ_STR_(x)	#x
#define WQ_STR(x)	WQ_STR_(x)

/* The oldest pending entry delivered longer ago than this lingers: the
   acknowledgement script then deletes what it acknowledges behind it. */
#define LINGER_MS	100

/* Redis's clock, in ms: leases and schedules ignore the daemons' clocks. */
#define LUA_NOW \
	"local t = redis.call('TIME')\n" \
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

static const char ack_lua[] =
	"#!lua flags=allow-oom\n"
	"-- KEYS[1] stream; ARGV[1] group; ARGV[2..] entry ids done\n"
	"local key, group = KEYS[1], ARGV[1]\n"
	"local n = redis.call('XACK', key, group, unpack(ARGV, 2))\n"
	"local function split(id)\n"
	"  local d = string.find(id, '-', 1, true)\n"
	"  return tonumber(string.sub(id, 1, d - 1)), tonumber(string.sub(id, d + 1))\n"
	"end\n"
	"local p = redis.call('XPENDING', key, group, '-', '+', 1)\n"
	"local min, idle = nil, 0\n"
	"if #p > 0 then\n"
	"  min, idle = p[1][1], p[1][3]\n"
	"else\n"
	"  for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do\n"
	"    local name, last\n"
	"    for i = 1, #g, 2 do\n"
	"      if g[i] == 'name' then name = g[i + 1] end\n"
	"      if g[i] == 'last-delivered-id' then last = g[i + 1] end\n"
	"    end\n"
	"    if name == group then\n"
	"      local ms, seq = split(last)\n"
	"      min = string.format('%d-%d', ms, seq + 1)\n"
	"    end\n"
	"  end\n"
	"end\n"
	"if min == nil then return n end\n"
	"redis.call('XTRIM', key, 'MINID', min)\n"
	"if idle > " WQ_STR(LINGER_MS) " then\n"
	"  local minms, minseq = split(min)\n"
	"  for i = 2, #ARGV do\n"
	"    local ms, seq = split(ARGV[i])\n"
	"    if ms > minms or (ms == minms and seq >= minseq) then\n"
	"      redis.call('XDEL', key, ARGV[i])\n"
	"    end\n"
	"  end\n"
	"end\n"
	"return n\n";

static const char dead_lua[] =
	"#!lua flags=allow-oom\n"
	"-- KEYS[1] stream, KEYS[2] dead-letter stream\n"
	"-- ARGV[1] group, ARGV[2] consumer, ARGV[3] entry id, ARGV[4] cap,\n"
	"-- ARGV[5..] the dead entry's fields and values\n"
	"local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])\n"
	"if #p == 0 then return 0 end\n"
	"redis.call('XADD', KEYS[2], 'MAXLEN', '=', ARGV[4], '*', unpack(ARGV, 5))\n"
	"redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])\n"
	"redis.call('XDEL', KEYS[1], ARGV[3])\n"
	"return 1\n";

static const char defer_lua[] =
	"#!lua flags=allow-oom\n"
	"-- KEYS[1] stream, KEYS[2] scheduled set\n"
	"-- ARGV[1] group, ARGV[2] consumer, ARGV[3] entry id, ARGV[4] due (Unix ms),\n"
	"-- ARGV[5..] the fields and values the entry will have when it is due.\n"
	"-- The member starts with the entry id, so equal jobs stay distinct.\n"
	"local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])\n"
	"if #p == 0 then return 0 end\n"
	"redis.call('ZADD', KEYS[2], ARGV[4], cmsgpack.pack({ARGV[3], unpack(ARGV, 5)}))\n"
	"redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])\n"
	"redis.call('XDEL', KEYS[1], ARGV[3])\n"
	"return 1\n";

static const char move_lua[] =
	"#!lua flags=allow-oom\n"
	"-- KEYS[1] scheduled set, KEYS[2] stream; ARGV[1] how many at most\n"
	"-- Returns {moved, next due (Unix ms) or -1, now}.\n"
	LUA_NOW
	"local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))\n"
	"for _, m in ipairs(due) do\n"
	"  local f = cmsgpack.unpack(m)\n"
	"  table.remove(f, 1)\n"
	"  redis.call('XADD', KEYS[2], '*', unpack(f))\n"
	"  redis.call('ZREM', KEYS[1], m)\n"
	"end\n"
	"local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
	"return {#due, head[2] and tonumber(head[2]) or -1, now}\n";

static const char handback_lua[] =
	"#!lua flags=allow-oom\n"
	"-- KEYS[1] stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] hand-back\n"
	"-- consumer, ARGV[4..] entry ids that never started.  Their delivery\n"
	"-- count goes back down, so the next delivery counts as the first.\n"
	"local n = 0\n"
	"for i = 4, #ARGV do\n"
	"  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])\n"
	"  if #p == 1 then\n"
	"    local count = math.max(p[1][4] - 1, 0)\n"
	"    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[i], 'RETRYCOUNT', count, 'JUSTID')\n"
	"    n = n + 1\n"
	"  end\n"
	"end\n"
	"return n\n";

static const char heartbeat_lua[] =
	"#!lua flags=allow-oom\n"
	"-- KEYS[1] the queue's live-daemon set; ARGV[1] consumer, ARGV[2] lease ms\n"
	"-- Returns {previous expiry or -1, now}: an expiry in the past means\n"
	"-- peers may have taken this daemon's entries over.\n"
	LUA_NOW
	"local prev = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
	"redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])\n"
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 86400000)\n"
	"return {prev and tonumber(prev) or -1, now}\n";

static const char reap_lua[] =
	"#!lua flags=allow-oom\n"
	"-- KEYS[1] stream, KEYS[2] live-daemon set\n"
	"-- ARGV[1] group, ARGV[2] this consumer, ARGV[3] takeover ms,\n"
	"-- ARGV[4] hand-back consumer.  Returns {consumer, pending, ...} for\n"
	"-- each dead consumer still holding entries; forgets dead idle ones.\n"
	LUA_NOW
	"local out = {}\n"
	"local ok, cs = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])\n"
	"if not ok then return out end\n"
	"for _, c in ipairs(cs) do\n"
	"  local name, pending, idle\n"
	"  for i = 1, #c, 2 do\n"
	"    if c[i] == 'name' then name = c[i + 1]\n"
	"    elseif c[i] == 'pending' then pending = c[i + 1]\n"
	"    elseif c[i] == 'idle' then idle = c[i + 1] end\n"
	"  end\n"
	"  if name ~= ARGV[2] then\n"
	"    local exp = redis.call('ZSCORE', KEYS[2], name)\n"
	"    local dead\n"
	"    if name == ARGV[4] then dead = true\n"
	"    elseif exp then dead = tonumber(exp) < now\n"
	"    else dead = idle > tonumber(ARGV[3]) end\n"
	"    if dead and pending > 0 then\n"
	"      table.insert(out, name)\n"
	"      table.insert(out, pending)\n"
	"    elseif dead then\n"
	"      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)\n"
	"      redis.call('ZREM', KEYS[2], name)\n"
	"    end\n"
	"  end\n"
	"end\n"
	"return out\n";

static const char claim_lua[] =
	"#!lua flags=allow-oom\n"
	"-- KEYS[1] stream, KEYS[2] live-daemon set\n"
	"-- ARGV[1] group, ARGV[2] from, ARGV[3] to, ARGV[4] count,\n"
	"-- ARGV[5] start after this id ('-': from the oldest),\n"
	"-- ARGV[6] 1 to check that `from` is still dead (0 when from == to),\n"
	"-- ARGV[7] 1: take the first entry alone, suspect or not (quarantine);\n"
	"--   0: take entries in order, stopping before the first suspect,\n"
	"-- ARGV[8] an entry delivered this many times already is a suspect.\n"
	"-- Returns {entries, delivery counts, 1 if a suspect waits, else 0}.\n"
	LUA_NOW
	"if ARGV[6] == '1' then\n"
	"  local exp = redis.call('ZSCORE', KEYS[2], ARGV[2])\n"
	"  if exp and tonumber(exp) >= now then return {{}, {}, 0} end\n"
	"end\n"
	"local start = ARGV[5] == '-' and '-' or '(' .. ARGV[5]\n"
	"local alone = ARGV[7] == '1'\n"
	"local p = redis.call('XPENDING', KEYS[1], ARGV[1], start, '+', alone and 1 or tonumber(ARGV[4]), ARGV[2])\n"
	"local ids, counts, waits = {}, {}, 0\n"
	"for _, e in ipairs(p) do\n"
	"  if not alone and e[4] >= tonumber(ARGV[8]) then waits = 1; break end\n"
	"  table.insert(ids, e[1]); counts[e[1]] = e[4] + 1\n"
	"end\n"
	"if #ids == 0 then return {{}, {}, waits} end\n"
	"local got = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, unpack(ids))\n"
	"local cs = {}\n"
	"for i, e in ipairs(got) do cs[i] = counts[e[1]] end\n"
	"return {got, cs, waits}\n";

static const char claim_ids_lua[] =
	"#!lua flags=allow-oom\n"
	"-- KEYS[1] stream; ARGV[1] group, ARGV[2] this consumer, ARGV[3..] ids\n"
	"-- of ours whose delivery was lost.  Returns {entries, counts}.\n"
	"local ids, counts = {}, {}\n"
	"for i = 3, #ARGV do\n"
	"  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])\n"
	"  if #p == 1 then\n"
	"    table.insert(ids, ARGV[i])\n"
	"    counts[ARGV[i]] = p[1][4] + 1\n"
	"  end\n"
	"end\n"
	"if #ids == 0 then return {{}, {}} end\n"
	"local got = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))\n"
	"local cs = {}\n"
	"for i, e in ipairs(got) do cs[i] = counts[e[1]] end\n"
	"return {got, cs}\n";

/* The reporter's (report.c): the daemon registry and the queues' counters. */
static const char report_beat_lua[] =
	"#!lua flags=allow-oom\n"
	"-- KEYS[1] this daemon's hash, KEYS[2] the live-daemon set\n"
	"-- ARGV[1] consumer, ARGV[2] expiry (ms), ARGV[3..] fields, values\n"
	"-- Returns Redis's clock (Unix ms): the heartbeat written.\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local ttl = tonumber(ARGV[2])\n"
	"redis.call('DEL', KEYS[1])\n"
	"redis.call('HSET', KEYS[1], 'heartbeat', now, unpack(ARGV, 3))\n"
	"redis.call('PEXPIRE', KEYS[1], ttl)\n"
	"redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])\n"
	"redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)\n"
	"if redis.call('PTTL', KEYS[2]) < ttl then\n"
	"  redis.call('PEXPIRE', KEYS[2], ttl)\n"
	"end\n"
	"return now\n";

static const char report_stats_lua[] =
	"#!lua flags=allow-oom\n"
	"-- KEYS[1] a queue's counters; ARGV: field, increment, ...\n"
	"for i = 1, #ARGV, 2 do\n"
	"  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])\n"
	"end\n"
	"return 1\n";

static const char report_leave_lua[] =
	"#!lua flags=allow-oom\n"
	"-- KEYS[1] this daemon's hash, KEYS[2] the live-daemon set\n"
	"-- ARGV[1] consumer\n"
	"redis.call('DEL', KEYS[1])\n"
	"return redis.call('ZREM', KEYS[2], ARGV[1])\n";

static const char *const sources[WQ_SCRIPT_COUNT] = {
	[WQ_SCRIPT_ACK] = ack_lua,
	[WQ_SCRIPT_DEAD] = dead_lua,
	[WQ_SCRIPT_DEFER] = defer_lua,
	[WQ_SCRIPT_MOVE] = move_lua,
	[WQ_SCRIPT_HANDBACK] = handback_lua,
	[WQ_SCRIPT_HEARTBEAT] = heartbeat_lua,
	[WQ_SCRIPT_REAP] = reap_lua,
	[WQ_SCRIPT_CLAIM] = claim_lua,
	[WQ_SCRIPT_CLAIM_IDS] = claim_ids_lua,
	[WQ_SCRIPT_REPORT_BEAT] = report_beat_lua,
	[WQ_SCRIPT_REPORT_STATS] = report_stats_lua,
	[WQ_SCRIPT_REPORT_LEAVE] = report_leave_lua,
};

const char *
wq_script_source(enum wq_script s)
{
	return s < WQ_SCRIPT_COUNT ? sources[s] : NULL;
}

/* The first WQ_SCRIPT_ARGV0 words: EVAL, the source, the number of keys
   (written into nk). */
static void
head(const char **v, enum wq_script s, char *nk, size_t nklen, int nkeys)
{
	snprintf(nk, nklen, "%d", nkeys);
	v[0] = "EVAL";
	v[1] = sources[s];
	v[2] = nk;
}

int
wq_script_eval(struct wq_redis *r, enum wq_script s, wq_redis_cb *cb,
    void *arg, int nkeys, int nargs, const char **argv, const size_t *lens)
{
	const char *small_v[64], **v = small_v;
	size_t small_l[64], *l = small_l;
	int n = WQ_SCRIPT_ARGV0 + nkeys + nargs, rc;
	char nk[16];

	if (n > 64) {
		v = malloc((size_t)n * sizeof(*v));
		l = malloc((size_t)n * sizeof(*l));
		if (v == NULL || l == NULL) {
			free(v);
			free(l);
			return -1;
		}
	}
	head(v, s, nk, sizeof(nk), nkeys);
	for (int i = 0; i < WQ_SCRIPT_ARGV0; i++)
		l[i] = strlen(v[i]);
	for (int i = 0; i < nkeys + nargs; i++) {
		v[WQ_SCRIPT_ARGV0 + i] = argv[i];
		l[WQ_SCRIPT_ARGV0 + i] = lens != NULL ? lens[i] :
		    strlen(argv[i]);
	}
	rc = wq_redis_command(r, cb, arg, 0, n, v, l);
	if (v != small_v) {
		free(v);
		free(l);
	}
	return rc;
}

int
wq_script_evalv(struct wq_redis *r, enum wq_script s, wq_redis_cb *cb,
    void *arg, int nkeys, int n, const char **v)
{
	char nk[16];

	head(v, s, nk, sizeof(nk), nkeys);
	return wq_redis_command(r, cb, arg, 0, n, v, NULL);
}
