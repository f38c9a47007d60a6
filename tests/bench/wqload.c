/*
 * wqload: the benchmark's load generator and stopwatch.
 *
 *   wqload [options] fill N            push N entries, pipelined, flat out
 *   wqload [options] rate R SECS       push R entries/s for SECS (R 0: flat
 *                                      out), each stamped with its push time
 *   wqload [options] ceiling N [script|raw]
 *                                      consume N pushed entries with
 *                                      workqd's own commands, without workqd
 *   wqload [options] drain N [-- workqd -c FILE]
 *                                      time workqd acknowledging a backlog
 *                                      of N entries (starting and stopping
 *                                      workqd itself when given the command)
 *   wqload [options] steady SECS [WARMUP]
 *                                      workqd's acknowledgement rate over
 *                                      SECS while a producer pushes
 *   wqload [options] floor SECS        push-to-read latency of a plain
 *                                      blocking consumer, for comparison
 *
 * Each mode prints one line of key=value pairs, its name first, that
 * tests/bench/run.sh reads.
 *
 * DESIGN: one synchronous hiredis connection, pipelined by hand
 * (redisAppendCommandArgv for a batch, then one redisGetReply per command),
 * so the client costs Redis as little as a client can.
 *
 * `rate` stamps each entry with a field `t`: CLOCK_REALTIME microseconds
 * taken just before the batch is written, which the latency plugin
 * (tests/plugins/noop_latency.c) subtracts from its own clock when the job
 * starts.  Entries go out as they fall due against the start time, so a
 * late wakeup sends a small burst instead of lowering the offered rate.
 *
 * `ceiling` is the most Redis can give workqd's command mix on this
 * machine: workqd's fetch (XREADGROUP COUNT <batch> ... >) and its
 * acknowledgement (EVAL of the very ack script workqd sends, from
 * core/script.c, with KEYS[1] the stream and ARGV the group and the ids),
 * one acknowledgement per batch read, in the order workqd sends them.
 * workqd keeps a read and the previous batch's acknowledgement in flight
 * at once on its two connections, so Redis need not wait for it; here the
 * reads are pipelined `depth` deep (-d, 2 by default) on one connection
 * for the same effect: each reply is answered with its acknowledgement
 * and the next read in one write, while Redis works on the read already
 * queued.  `raw` replaces the script with XACK and XTRIM MINID, the floor
 * the script's logic is compared with.
 *
 * `drain` and `steady` measure from outside, and read workqd's CPU time
 * and peak RSS from /proc.  `drain` polls XLEN (under a microsecond of
 * Redis time) every millisecond, every 100 us near either end.  The ack
 * script trims the stream to the oldest pending entry, so with no producer
 * running the stream's length is what is left to acknowledge, and it
 * reaches 0 when the last batch is acknowledged.  `steady` counts
 * acknowledgements as the group's entries-read minus its pending count
 * (XINFO GROUPS, Redis 7).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "script.h"

#define POLL_US		1000
#define FINE_US		100
#define STALL_US	(30 * 1000000LL)	/* no progress: give up */
#define MAX_BATCH	100000

struct opts {
	const char	*sock;
	const char	*host;
	int		 port;
	char		 key[256];
	const char	*prefix;
	const char	*queue;
	const char	*group;
	const char	*consumer;
	long		 batch;
	long		 payload;
	long		 pid;		/* workqd, for CPU and RSS */
	long		 redis_pid;	/* redis-server, for its CPU */
	long		 peer_pid;	/* another of ours (producer, consumer) */
};

static struct opts o = {
	.prefix = "workq", .queue = "bench", .group = "workqd",
	.consumer = "wqload", .batch = 1000, .payload = 16, .port = 6379,
};

static redisContext *c;

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "wqload: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int64_t
now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t
mono_us(void)
{
	return now_ns(CLOCK_MONOTONIC) / 1000;
}

static void
sleep_until_us(int64_t t)
{
	struct timespec ts = { t / 1000000, (t % 1000000) * 1000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

/* The next reply of the pipeline; dies on a lost connection.  Caller
   frees it. */
static redisReply *
reply(void)
{
	void *r;

	if (redisGetReply(c, &r) != REDIS_OK || r == NULL)
		die("redis: %s", c->errstr[0] != '\0' ? c->errstr :
		    "connection lost");
	return r;
}

static void
expect_ok(const char *what)
{
	redisReply *r = reply();

	if (r->type == REDIS_REPLY_ERROR)
		die("%s: %s", what, r->str);
	freeReplyObject(r);
}

static void
append(int argc, const char **argv, const size_t *lens)
{
	if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK)
		die("redis: %s", c->errstr);
}

static redisReply *
command(int argc, const char **argv)
{
	append(argc, argv, NULL);
	return reply();
}

static long long
integer(redisReply *r, const char *what)
{
	long long v;

	if (r->type != REDIS_REPLY_INTEGER)
		die("%s: unexpected reply (%s)", what,
		    r->type == REDIS_REPLY_ERROR ? r->str : "not an integer");
	v = r->integer;
	freeReplyObject(r);
	return v;
}

static long long
xlen(void)
{
	const char *argv[] = { "XLEN", o.key };

	return integer(command(2, argv), "XLEN");
}

/* ---- /proc: the CPU time and peak RSS of a process ---- */

/* On-CPU nanoseconds of every thread (schedstat: ns resolution), or -1. */
static int64_t
cpu_ns(long pid)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	int64_t sum = 0;

	snprintf(path, sizeof(path), "/proc/%ld/task", pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char p[sizeof(path) + sizeof(de->d_name) + 16];
		unsigned long long ns;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s/schedstat", path, de->d_name);
		if ((f = fopen(p, "r")) == NULL)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += (int64_t)ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

/* utime + stime from /proc/PID/stat, in microseconds (tick resolution). */
static int64_t
cpu_tick_us(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces. */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		return -1;
	return (int64_t)((ut + st) * 1000000ULL /
	    (unsigned long long)sysconf(_SC_CLK_TCK));
}

static long
vm_hwm_kib(long pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Busy and total jiffies of the whole machine, from /proc/stat. */
static void
machine_jiffies(int64_t *busy, int64_t *total)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	*busy = *total = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			*total += (int64_t)v[i];
		*busy = *total - (int64_t)(v[3] + v[4]);	/* idle, iowait */
	}
	fclose(f);
}

struct cpu {
	int64_t	ns, tick_us, redis_ns, self_ns, busy, total;
};

static void
cpu_take(struct cpu *s)
{
	s->ns = o.pid > 0 ? cpu_ns(o.pid) : -1;
	s->tick_us = o.pid > 0 ? cpu_tick_us(o.pid) : -1;
	s->redis_ns = o.redis_pid > 0 ? cpu_ns(o.redis_pid) : -1;
	s->self_ns = cpu_ns(getpid()) + (o.peer_pid > 0 ?
	    cpu_ns(o.peer_pid) : 0);
	machine_jiffies(&s->busy, &s->total);
}

/*
 * The share of the machine's CPU time that went to processes other than
 * workqd, Redis, this one and its peer (-x) during the window, in percent:
 * the other tenants of the cores, which the figures cannot subtract.
 */
static double
others_pct(const struct cpu *a, const struct cpu *b)
{
	double tick_ns = 1e9 / (double)sysconf(_SC_CLK_TCK);
	double total = (double)(b->total - a->total) * tick_ns;
	double ours = (double)(b->self_ns - a->self_ns);

	if (total <= 0)
		return 0;
	if (a->ns >= 0)
		ours += (double)(b->ns - a->ns);
	if (a->redis_ns >= 0)
		ours += (double)(b->redis_ns - a->redis_ns);
	ours = (double)(b->busy - a->busy) * tick_ns - ours;
	return ours > 0 ? 100 * ours / total : 0;
}

/* " cpu_us_per_job=... cpu_tick_us_per_job=... redis_cpu_us_per_job=...
   rss_kib=..." for jobs done between a and b. */
static void
print_cpu(const struct cpu *a, const struct cpu *b, long long jobs)
{
	double n = jobs > 0 ? (double)jobs : 1;

	if (a->ns >= 0 && b->ns >= 0)
		printf(" cpu_us_per_job=%.3f", (double)(b->ns - a->ns) / 1e3 / n);
	if (a->tick_us >= 0 && b->tick_us >= 0)
		printf(" cpu_tick_us_per_job=%.3f",
		    (double)(b->tick_us - a->tick_us) / n);
	if (a->redis_ns >= 0 && b->redis_ns >= 0)
		printf(" redis_cpu_us_per_job=%.3f",
		    (double)(b->redis_ns - a->redis_ns) / 1e3 / n);
	if (o.pid > 0)
		printf(" rss_kib=%ld", vm_hwm_kib(o.pid));
	printf(" others_pct=%.0f", others_pct(a, b));
}

/* ---- pushing ---- */

/* Appends n XADDs; stamp: a `t` field with the push time. */
static void
append_pushes(long n, const char *payload, int stamp)
{
	char t[32];
	const char *argv[7] = { "XADD", o.key, "*", "payload", payload, "t",
	    t };
	size_t lens[7] = { 4, strlen(o.key), 1, 7, (size_t)o.payload, 1, 0 };

	if (stamp) {
		lens[6] = (size_t)snprintf(t, sizeof(t), "%" PRId64,
		    now_ns(CLOCK_REALTIME) / 1000);
	}
	for (long i = 0; i < n; i++)
		append(stamp ? 7 : 5, argv, lens);
}

static void
read_pushes(long n)
{
	for (long i = 0; i < n; i++)
		expect_ok("XADD");
}

static char *
make_payload(void)
{
	char *p = malloc((size_t)o.payload + 1);

	if (p == NULL)
		die("out of memory");
	for (long i = 0; i < o.payload; i++)
		p[i] = (char)('a' + i % 26);
	p[o.payload] = '\0';
	return p;
}

static int
mode_fill(long long n)
{
	char *payload = make_payload();
	int64_t t0 = mono_us(), dt;
	long long done = 0;

	while (done < n) {
		long k = n - done < o.batch ? (long)(n - done) : o.batch;

		append_pushes(k, payload, 0);
		read_pushes(k);
		done += k;
	}
	dt = mono_us() - t0;
	printf("fill jobs=%lld secs=%.3f jobs_per_s=%.0f xlen=%lld\n", n,
	    (double)dt / 1e6, (double)n * 1e6 / (double)(dt > 0 ? dt : 1),
	    xlen());
	free(payload);
	return 0;
}

static int
mode_rate(double rate, double secs)
{
	char *payload = make_payload();
	int64_t t0 = mono_us(), end = t0 + (int64_t)(secs * 1e6), now, dt;
	long long sent = 0;
	struct cpu a, b;

	cpu_take(&a);
	while ((now = mono_us()) < end) {
		long long due = rate > 0 ?
		    (long long)((double)(now - t0) * rate / 1e6) + 1 - sent :
		    o.batch;
		long k;

		if (due <= 0) {
			sleep_until_us(t0 + (int64_t)((double)sent * 1e6 /
			    rate));
			continue;
		}
		k = due < o.batch ? (long)due : o.batch;
		append_pushes(k, payload, 1);
		read_pushes(k);
		sent += k;
	}
	dt = mono_us() - t0;
	cpu_take(&b);
	printf("rate offered=%.0f jobs=%lld secs=%.3f jobs_per_s=%.0f", rate,
	    sent, (double)dt / 1e6, (double)sent * 1e6 / (double)dt);
	print_cpu(&a, &b, sent);
	printf("\n");
	free(payload);
	return 0;
}

/* ---- the ceiling ---- */

static void
create_group(void)
{
	const char *argv[] = { "XGROUP", "CREATE", o.key, o.group, "0",
	    "MKSTREAM" };
	redisReply *r = command(6, argv);

	if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)
		die("XGROUP CREATE: %s", r->str);
	freeReplyObject(r);
}

static void
append_read(void)
{
	char count[24];
	const char *argv[] = { "XREADGROUP", "GROUP", o.group, o.consumer,
	    "COUNT", count, "STREAMS", o.key, ">" };

	snprintf(count, sizeof(count), "%ld", o.batch);
	append(9, argv, NULL);
}

/* The ids of an XREADGROUP reply, borrowed from it, into ids[]. */
static size_t
read_ids(redisReply *r, const char **ids, size_t *lens)
{
	redisReply *entries;
	size_t n = 0;

	if (r->type == REDIS_REPLY_NIL)
		return 0;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
	    r->element[0]->elements != 2)
		die("XREADGROUP: unexpected reply (%s)",
		    r->type == REDIS_REPLY_ERROR ? r->str : "shape");
	entries = r->element[0]->element[1];
	for (size_t i = 0; i < entries->elements; i++) {
		redisReply *id = entries->element[i]->element[0];

		ids[n] = id->str;
		lens[n++] = id->len;
	}
	return n;
}

/*
 * The acknowledgement of the n ids in v[5..] (lengths in l[5..]), as
 * workqd sends it: EVAL <ack script> 1 <stream> <group> <ids...>.  v[0..4]
 * are filled here.  Returns the number of replies to expect.
 */
static int
append_ack(const char **v, size_t *l, size_t n)
{
	v[0] = "EVAL";
	v[1] = wq_script_source(WQ_SCRIPT_ACK);
	v[2] = "1";
	v[3] = o.key;
	v[4] = o.group;
	for (int i = 0; i < 5; i++)
		l[i] = strlen(v[i]);
	append((int)n + 5, v, l);
	return 1;
}

/* The same ids with XACK, then XTRIM MINID: one consumer reads in order,
   so everything up to the last id is acknowledged and MINID is its
   successor. */
static int
append_ack_raw(const char **v, size_t *l, size_t n)
{
	const char *last = v[5 + n - 1];
	const char *dash = memchr(last, '-', l[5 + n - 1]);
	char minid[64];
	const char *argv[] = { "XTRIM", o.key, "MINID", minid };

	v[2] = "XACK";
	v[3] = o.key;
	v[4] = o.group;
	for (int i = 2; i < 5; i++)
		l[i] = strlen(v[i]);
	append((int)n + 3, v + 2, l + 2);
	snprintf(minid, sizeof(minid), "%.*s-%llu", (int)(dash - last), last,
	    strtoull(dash + 1, NULL, 10) + 1);
	append(4, argv, NULL);
	return 2;
}

/*
 * Replies come back in the order the commands went out: the ring holds
 * what each outstanding command was, oldest first.
 */
enum { K_READ = 'R', K_ACK = 'A' };

struct ring {
	char	k[64];
	size_t	head, n;
};

static void
ring_push(struct ring *r, char kind)
{
	if (r->n == sizeof(r->k))
		die("pipeline too deep");
	r->k[(r->head + r->n++) % sizeof(r->k)] = kind;
}

static char
ring_pop(struct ring *r)
{
	char kind = r->k[r->head];

	r->head = (r->head + 1) % sizeof(r->k);
	r->n--;
	return kind;
}

static int
mode_ceiling(long long n, int raw, int depth)
{
	const char **v = malloc(((size_t)o.batch + 5) * sizeof(*v));
	size_t *l = malloc(((size_t)o.batch + 5) * sizeof(*l));
	struct ring ring = { .n = 0 };
	struct cpu a, b;
	long long done = 0, reads = 0, asked = 0, acks = 0;
	int64_t t0, dt;

	if (v == NULL || l == NULL)
		die("out of memory");
	create_group();
	cpu_take(&a);
	t0 = mono_us();
	/* `depth` reads in flight: Redis never waits for this client. */
	for (int i = 0; i < depth && asked < n; i++, asked += o.batch) {
		append_read();
		ring_push(&ring, K_READ);
	}
	while (ring.n > 0) {
		redisReply *r = reply();
		size_t got;

		if (ring_pop(&ring) != K_READ) {
			if (r->type == REDIS_REPLY_ERROR)
				die("%s: %s", raw ? "XACK/XTRIM" : "EVAL ack",
				    r->str);
			freeReplyObject(r);
			continue;
		}
		reads++;
		if ((got = read_ids(r, v + 5, l + 5)) > 0) {
			for (int k = raw ? append_ack_raw(v, l, got) :
			    append_ack(v, l, got); k > 0; k--)
				ring_push(&ring, K_ACK);
			acks++;
			done += (long long)got;
		}
		if (got > 0 && asked < n) {
			append_read();
			ring_push(&ring, K_READ);
			asked += o.batch;
		}
		freeReplyObject(r);
	}
	dt = mono_us() - t0;
	cpu_take(&b);
	printf("ceiling mix=%s batch=%ld depth=%d jobs=%lld reads=%lld "
	    "acks=%lld secs=%.3f jobs_per_s=%.0f xlen=%lld", raw ? "raw" :
	    "script", o.batch, depth, done, reads, acks, (double)dt / 1e6,
	    (double)done * 1e6 / (double)dt, xlen());
	print_cpu(&a, &b, done);
	printf("\n");
	free(v);
	free(l);
	return done == n ? 0 : 1;
}

/* ---- watching workqd ---- */

static long long
pending(void)
{
	const char *argv[] = { "XPENDING", o.key, o.group };
	redisReply *r = command(3, argv);
	long long p = 0;

	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER)
		p = r->element[0]->integer;
	else if (r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOGROUP", 7) != 0)
		die("XPENDING: %s", r->str);
	freeReplyObject(r);
	return p;
}

/*
 * How long to sleep before the next poll: fine (FINE_US) while waiting for
 * the first acknowledgement and when the end is near by the rate so far,
 * coarse (POLL_US) in between, so both ends of even a small drain are
 * timed to a fraction of a millisecond without the stopwatch taking a
 * core for itself.
 */
static int64_t
poll_gap(int64_t tfirst, long long first_len, long long len, int64_t t)
{
	double rate;

	if (tfirst == 0 || t <= tfirst || len >= first_len)
		return FINE_US;
	rate = (double)(first_len - len) / (double)(t - tfirst);
	return (double)len / rate < 3 * POLL_US ? FINE_US : POLL_US;
}

/*
 * The daemon under test, started by the stopwatch itself so that the clock
 * starts at its exec and the first acknowledgement cannot be missed.  Its
 * stdout goes to stderr: stdout carries only the result line.
 */
static pid_t
spawn(char **cmd)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(2, 1);
		execvp(cmd[0], cmd);
		fprintf(stderr, "wqload: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* SIGTERM, as at the end of any run, then its exit status (-1: a signal). */
static int
stop(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
mode_drain(long long n, char **cmd)
{
	int64_t t0 = mono_us(), tfirst = 0, tlast_change, t;
	long long len, first_len = 0, last_len = n, p = 0;
	struct cpu a, b;
	pid_t child = -1;

	if (cmd[0] != NULL) {
		t0 = mono_us();
		child = spawn(cmd);
		if (o.pid == 0)
			o.pid = child;
	}
	tlast_change = t0;
	for (;;) {
		len = xlen();
		t = mono_us();
		if (len < n && tfirst == 0) {
			tfirst = t;
			first_len = len;
			cpu_take(&a);
		}
		if (len == 0 && (p = pending()) == 0)
			break;
		if (child > 0 && waitpid(child, NULL, WNOHANG) == child)
			die("drain: %s exited before the backlog was drained",
			    cmd[0]);
		if (len != last_len) {
			last_len = len;
			tlast_change = t;
		} else if (t - tlast_change > STALL_US) {
			p = pending();
			printf("drain stalled jobs=%lld xlen=%lld pending=%lld "
			    "secs_without_progress=%.1f\n", n, len, p,
			    (double)(t - tlast_change) / 1e6);
			if (child > 0)
				stop(child);
			return 1;
		}
		sleep_until_us(t + poll_gap(tfirst, first_len, len, t));
	}
	cpu_take(&b);
	/* Entries left when the first acknowledgement showed were all
	   acknowledged between tfirst and t. */
	printf("drain jobs=%lld window_jobs=%lld secs=%.4f jobs_per_s=%.0f "
	    "startup_ms=%.1f total_secs=%.4f", n, first_len,
	    (double)(t - tfirst) / 1e6,
	    (double)first_len * 1e6 / (double)(t > tfirst ? t - tfirst : 1),
	    (double)(tfirst - t0) / 1e3, (double)(t - t0) / 1e6);
	print_cpu(&a, &b, first_len);
	if (child > 0)
		printf(" exit=%d", stop(child));
	printf("\n");
	return 0;
}

/* The group's acknowledged count: entries-read - pending (Redis 7). */
static long long
acked(void)
{
	const char *argv[] = { "XINFO", "GROUPS", o.key };
	redisReply *r = command(3, argv);
	long long read = -1, pend = -1;

	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements;
	    i++) {
		redisReply *g = r->element[i];
		int ours = 0;

		for (size_t j = 0; j + 1 < g->elements; j += 2)
			if (strcmp(g->element[j]->str, "name") == 0)
				ours = strcmp(g->element[j + 1]->str,
				    o.group) == 0;
		for (size_t j = 0; ours && j + 1 < g->elements; j += 2) {
			const char *k = g->element[j]->str;
			redisReply *val = g->element[j + 1];

			if (strcmp(k, "entries-read") == 0 &&
			    val->type == REDIS_REPLY_INTEGER)
				read = val->integer;
			else if (strcmp(k, "pending") == 0)
				pend = val->integer;
		}
	}
	freeReplyObject(r);
	if (read < 0 || pend < 0)
		die("XINFO GROUPS: no entries-read for group %s (Redis 7 "
		    "needed)", o.group);
	return read - pend;
}

static int
mode_steady(double secs, double warmup)
{
	int64_t t0 = mono_us(), ta, tb;
	long long a0, a1, len0, len1;
	struct cpu a, b;

	sleep_until_us(t0 + (int64_t)(warmup * 1e6));
	a0 = acked();
	ta = mono_us();
	cpu_take(&a);
	len0 = xlen();
	sleep_until_us(ta + (int64_t)(secs * 1e6));
	a1 = acked();
	tb = mono_us();
	cpu_take(&b);
	len1 = xlen();
	printf("steady jobs=%lld secs=%.3f jobs_per_s=%.0f backlog_start=%lld "
	    "backlog_end=%lld", a1 - a0, (double)(tb - ta) / 1e6,
	    (double)(a1 - a0) * 1e6 / (double)(tb - ta), len0, len1);
	print_cpu(&a, &b, a1 - a0);
	printf("\n");
	return 0;
}

/* ---- the latency floor ---- */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int64_t
rank(const int64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n + 0.999999);

	return n == 0 ? 0 : v[(i > 0 ? i : 1) - 1];
}

/* The t field of entry e (an [id, [k, v, ...]] reply), or -1. */
static int64_t
stamp(const redisReply *e)
{
	const redisReply *f = e->element[1];

	for (size_t j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements;
	    j += 2)
		if (strcmp(f->element[j]->str, "t") == 0)
			return strtoll(f->element[j + 1]->str, NULL, 10);
	return -1;
}

/*
 * The floor under workqd's push-to-start latency: a plain blocking
 * consumer (XREADGROUP BLOCK, then XACK) that records now - t for every
 * entry as soon as the reply is parsed.  It shows what Redis, the socket
 * and the scheduler of this machine cost before workqd adds anything.
 */
static int
mode_floor(double secs)
{
	size_t cap = 1 << 16, n = 0;
	int64_t *v = malloc(cap * sizeof(*v));
	int64_t end = mono_us() + (int64_t)(secs * 1e6);
	const char *argv[] = { "XREADGROUP", "GROUP", o.group, o.consumer,
	    "COUNT", "1000", "BLOCK", "100", "STREAMS", o.key, ">" };

	if (v == NULL)
		die("out of memory");
	create_group();
	while (mono_us() < end) {
		redisReply *r = command(11, argv), *entries;
		int64_t now = now_ns(CLOCK_REALTIME) / 1000;
		const char *ack[3 + 1000] = { "XACK", o.key, o.group };
		size_t k = 3;

		if (r->type == REDIS_REPLY_NIL) {
			freeReplyObject(r);
			continue;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 1)
			die("XREADGROUP: unexpected reply");
		entries = r->element[0]->element[1];
		for (size_t i = 0; i < entries->elements; i++) {
			int64_t t = stamp(entries->element[i]);

			if (n == cap && (v = realloc(v, (cap *= 2) *
			    sizeof(*v))) == NULL)
				die("out of memory");
			if (t >= 0)
				v[n++] = now > t ? now - t : 0;
			ack[k++] = entries->element[i]->element[0]->str;
		}
		if (k > 3)
			integer(command((int)k, ack), "XACK");
		freeReplyObject(r);
	}
	qsort(v, n, sizeof(*v), cmp_i64);
	printf("floor count=%zu p50_us=%" PRId64 " p90_us=%" PRId64
	    " p99_us=%" PRId64 " p999_us=%" PRId64 " max_us=%" PRId64 "\n", n,
	    rank(v, n, 0.5), rank(v, n, 0.9), rank(v, n, 0.99),
	    rank(v, n, 0.999), n > 0 ? v[n - 1] : 0);
	free(v);
	return 0;
}

/* ---- main ---- */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: wqload [-s socket | -h host -p port] [-q queue] "
	    "[-P prefix]\n"
	    "              [-g group] [-b batch] [-z payload-bytes] "
	    "[-d depth]\n"
	    "              [-w workqd-pid] [-r redis-pid] [-x peer-pid] "
	    "mode args\n"
	    "  fill N                 push N entries flat out, pipelined\n"
	    "  rate R SECS            push R entries/s (0: flat out), "
	    "stamped t=<us>\n"
	    "  ceiling N [script|raw] workqd's commands without workqd\n"
	    "  drain N [cmd...]       time workqd acknowledging N entries;\n"
	    "                         cmd: start it, stop it at the end\n"
	    "  steady SECS [WARMUP]   workqd's acknowledgement rate\n"
	    "  floor SECS             push-to-read latency of a plain "
	    "consumer\n");
	exit(64);
}

static long long
num(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		usage();
	return v;
}

static double
real(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || v < 0)
		usage();
	return v;
}

static void
connect_redis(void)
{
	struct timeval tv = { 10, 0 };

	c = o.sock != NULL ? redisConnectUnixWithTimeout(o.sock, tv) :
	    redisConnectWithTimeout(o.host, o.port, tv);
	if (c == NULL || c->err)
		die("connect: %s", c != NULL ? c->errstr : "out of memory");
	snprintf(o.key, sizeof(o.key), "%s:%s", o.prefix, o.queue);
}

static int
run(int argc, char **argv, int depth)
{
	if (strcmp(argv[0], "fill") == 0 && argc == 2)
		return mode_fill(num(argv[1]));
	if (strcmp(argv[0], "rate") == 0 && argc == 3)
		return mode_rate(real(argv[1]), real(argv[2]));
	if (strcmp(argv[0], "ceiling") == 0 && (argc == 2 || argc == 3))
		return mode_ceiling(num(argv[1]), argc == 3 &&
		    strcmp(argv[2], "raw") == 0, depth);
	if (strcmp(argv[0], "drain") == 0 && argc >= 2)
		return mode_drain(num(argv[1]), argv + 2 + (argc > 2 &&
		    strcmp(argv[2], "--") == 0));
	if (strcmp(argv[0], "steady") == 0 && (argc == 2 || argc == 3))
		return mode_steady(real(argv[1]), argc == 3 ? real(argv[2]) : 1);
	if (strcmp(argv[0], "floor") == 0 && argc == 2)
		return mode_floor(real(argv[1]));
	usage();
	return 64;
}

int
main(int argc, char **argv)
{
	int ch, depth = 2, rc;

	while ((ch = getopt(argc, argv, "+s:h:p:q:P:g:b:d:z:w:r:x:")) != -1) {
		switch (ch) {
		case 's': o.sock = optarg; break;
		case 'h': o.host = optarg; break;
		case 'p': o.port = (int)num(optarg); break;
		case 'q': o.queue = optarg; break;
		case 'P': o.prefix = optarg; break;
		case 'g': o.group = optarg; break;
		case 'b': o.batch = (long)num(optarg); break;
		case 'd': depth = (int)num(optarg); break;
		case 'z': o.payload = (long)num(optarg); break;
		case 'w': o.pid = (long)num(optarg); break;
		case 'r': o.redis_pid = (long)num(optarg); break;
		case 'x': o.peer_pid = (long)num(optarg); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || (o.sock == NULL && o.host == NULL) || o.batch < 1 ||
	    o.batch > MAX_BATCH || depth < 1 || depth > 16)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	connect_redis();
	rc = run(argc, argv, depth);
	redisFree(c);
	return rc;
}
