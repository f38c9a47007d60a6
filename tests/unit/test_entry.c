/*
 * Unit tests for core/entry.c: decoding the fields of a stream entry.
 *
 * Every entry is built the way hiredis would not: all names and values are
 * packed back to back into one heap buffer of exactly their total size, with
 * no terminators and a stray digit after the last value, so a parser that
 * read past a length would see the next field's bytes (and ASan would see a
 * read past the buffer).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "entry.h"

#define PUSH_MS		1700000000123ULL
#define MAX_PAYLOAD	64
#define MAXF		16

struct fx {
	char		*buf;
	struct wq_field	 f[MAXF];
	size_t		 n;
	struct wq_entry	 e;
	char		 err[256];
};

/* A name or value with an explicit length (it may hold NUL bytes). */
struct bytes {
	const char	*p;
	size_t		 len;
};

#define B(s)	((struct bytes){ (s), sizeof(s) - 1 })
#define S(s)	((struct bytes){ (s), strlen(s) })

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	*state = fx;
	return fx == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	free(fx->buf);
	free(fx);
	return 0;
}

/* Packs n name/value pairs into one unterminated buffer (see above). */
static void
pack(struct fx *fx, const struct bytes *kv, size_t n)
{
	size_t total = 1, off = 0;

	assert_true(n <= MAXF);
	for (size_t i = 0; i < 2 * n; i++)
		total += kv[i].len;
	free(fx->buf);
	fx->buf = malloc(total);
	assert_non_null(fx->buf);
	for (size_t i = 0; i < n; i++) {
		memcpy(fx->buf + off, kv[2 * i].p, kv[2 * i].len);
		fx->f[i].name = fx->buf + off;
		fx->f[i].nlen = kv[2 * i].len;
		off += kv[2 * i].len;
		memcpy(fx->buf + off, kv[2 * i + 1].p, kv[2 * i + 1].len);
		fx->f[i].val = fx->buf + off;
		fx->f[i].vlen = kv[2 * i + 1].len;
		off += kv[2 * i + 1].len;
	}
	fx->buf[off] = '7';
	fx->n = n;
}

static int
decode_kv(struct fx *fx, const struct bytes *kv, size_t n)
{
	pack(fx, kv, n);
	memset(&fx->e, 0xa5, sizeof(fx->e));
	fx->err[0] = '\0';
	return wq_entry_decode(&fx->e, fx->f, fx->n, PUSH_MS, MAX_PAYLOAD,
	    fx->err, sizeof(fx->err));
}

/* Decodes NULL-terminated name, value string pairs. */
static int
decode(struct fx *fx, ...)
{
	struct bytes kv[2 * MAXF];
	const char *s;
	size_t n = 0;
	va_list ap;

	va_start(ap, fx);
	while ((s = va_arg(ap, const char *)) != NULL) {
		assert_true(n < 2 * MAXF);
		kv[n++] = S(s);
	}
	va_end(ap);
	assert_true(n % 2 == 0);
	return decode_kv(fx, kv, n / 2);
}

/* "payload" "x" plus one field name = value. */
static int
decode1(struct fx *fx, const char *name, const char *val)
{
	return decode(fx, "payload", "x", name, val, NULL);
}

static int
decode1b(struct fx *fx, const char *name, struct bytes val)
{
	struct bytes kv[] = { B("payload"), B("x"), S(name), val };

	return decode_kv(fx, kv, 2);
}

static void
refused(struct fx *fx, const char *name, const char *val, const char *err)
{
	if (decode1(fx, name, val) != -1)
		fail_msg("%s '%s' was accepted", name, val);
	assert_string_equal(fx->err, err);
}

/* Refused with an error that starts "field '<name>': ". */
static void
refused_field(struct fx *fx, const char *name, struct bytes val)
{
	char want[64];

	if (decode1b(fx, name, val) != -1)
		fail_msg("%s '%.*s' was accepted", name, (int)val.len, val.p);
	snprintf(want, sizeof(want), "field '%s': ", name);
	assert_memory_equal(fx->err, want, strlen(want));
}

static void
test_defaults(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(decode(fx, "payload", "hello", NULL), 0);
	assert_ptr_equal(fx->e.payload, fx->f[0].val);
	assert_int_equal(fx->e.payload_len, 5);
	assert_memory_equal(fx->e.payload, "hello", 5);
	assert_null(fx->e.plugin);
	assert_int_equal(fx->e.plugin_len, 0);
	assert_null(fx->e.id);
	assert_int_equal(fx->e.id_len, 0);
	assert_int_equal(fx->e.timeout_ms, -1);
	assert_int_equal(fx->e.retries, -1);
	assert_int_equal(fx->e.due_ms, -1);
	assert_int_equal(fx->e.expires_ms, -1);
	assert_int_equal(fx->e.attempt, 1);
}

static void
test_all_fields(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(decode(fx, "id", "order-42", "plugin", "echo",
	    "timeout", "30s", "retries", "3", "at", "1700000100.5",
	    "expires", "1700000200", "attempt", "4", "color", "blue",
	    "payload", "{\"a\":1}", NULL), 0);
	assert_int_equal(fx->e.id_len, 8);
	assert_memory_equal(fx->e.id, "order-42", 8);
	assert_int_equal(fx->e.plugin_len, 4);
	assert_memory_equal(fx->e.plugin, "echo", 4);
	assert_int_equal(fx->e.timeout_ms, 30000);
	assert_int_equal(fx->e.retries, 3);
	assert_int_equal(fx->e.due_ms, 1700000100500LL);
	assert_int_equal(fx->e.expires_ms, 1700000200000LL);
	assert_int_equal(fx->e.attempt, 4);
	assert_int_equal(fx->e.payload_len, 7);
	assert_memory_equal(fx->e.payload, "{\"a\":1}", 7);
}

static void
test_payload_missing(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(decode(fx, NULL), -1);
	assert_string_equal(fx->err, "field 'payload': missing");
	assert_int_equal(decode(fx, "plugin", "echo", "retries", "2",
	    "Payload", "x", "payloads", "x", NULL), -1);
	assert_string_equal(fx->err, "field 'payload': missing");
	/* No field at all, with a NULL array. */
	assert_int_equal(wq_entry_decode(&fx->e, NULL, 0, PUSH_MS, MAX_PAYLOAD,
	    fx->err, sizeof(fx->err)), -1);
	assert_string_equal(fx->err, "field 'payload': missing");
}

static void
test_payload_empty_and_binary(void **state)
{
	struct fx *fx = *state;
	struct bytes bin[] = { B("payload"), B("a\0b\xff\n") };

	assert_int_equal(decode(fx, "payload", "", NULL), 0);
	assert_int_equal(fx->e.payload_len, 0);
	assert_non_null(fx->e.payload);
	assert_int_equal(decode_kv(fx, bin, 1), 0);
	assert_int_equal(fx->e.payload_len, 5);
	assert_memory_equal(fx->e.payload, "a\0b\xff\n", 5);
}

static void
test_payload_limit(void **state)
{
	struct fx *fx = *state;
	char big[MAX_PAYLOAD + 2];

	memset(big, 'p', sizeof(big));
	big[MAX_PAYLOAD] = '\0';
	assert_int_equal(decode(fx, "payload", big, NULL), 0);
	assert_int_equal(fx->e.payload_len, MAX_PAYLOAD);
	big[MAX_PAYLOAD] = 'p';
	big[MAX_PAYLOAD + 1] = '\0';
	assert_int_equal(decode(fx, "payload", big, NULL), -1);
	assert_string_equal(fx->err,
	    "field 'payload': 65 bytes, over the limit of 64");
	/* A limit of 0 still takes an empty payload. */
	pack(fx, (struct bytes[]){ B("payload"), B("") }, 1);
	assert_int_equal(wq_entry_decode(&fx->e, fx->f, 1, PUSH_MS, 0, fx->err,
	    sizeof(fx->err)), 0);
	pack(fx, (struct bytes[]){ B("payload"), B("x") }, 1);
	assert_int_equal(wq_entry_decode(&fx->e, fx->f, 1, PUSH_MS, 0, fx->err,
	    sizeof(fx->err)), -1);
	assert_string_equal(fx->err,
	    "field 'payload': 1 bytes, over the limit of 0");
}

static void
test_plugin(void **state)
{
	struct fx *fx = *state;
	char name[66], want[128];

	assert_int_equal(decode1(fx, "plugin", "a"), 0);
	assert_int_equal(fx->e.plugin_len, 1);
	assert_int_equal(decode1(fx, "plugin", "img_resize-2"), 0);
	assert_int_equal(fx->e.plugin_len, 12);
	assert_memory_equal(fx->e.plugin, "img_resize-2", 12);
	memset(name, 'z', sizeof(name));
	name[64] = '\0';
	assert_int_equal(decode1(fx, "plugin", name), 0);
	assert_int_equal(fx->e.plugin_len, 64);
	name[64] = 'z';
	name[65] = '\0';
	/* Long values are shown cut to 36 bytes. */
	snprintf(want, sizeof(want), "field 'plugin': expected a plugin name, "
	    "got '%.36s...'", name);
	refused(fx, "plugin", name, want);
	refused(fx, "plugin", "", "field 'plugin': expected a plugin name, "
	    "got ''");
	refused(fx, "plugin", "Echo", "field 'plugin': expected a plugin name "
	    "([a-z0-9_-]{1,64}), got 'Echo'");
	refused(fx, "plugin", "../echo", "field 'plugin': expected a plugin "
	    "name ([a-z0-9_-]{1,64}), got '../echo'");
	refused_field(fx, "plugin", S("ec ho"));
	refused_field(fx, "plugin", S("echo.so"));
	refused_field(fx, "plugin", S("\xc3\xa9"));
	/* A NUL inside must not cut the name short to a valid one. */
	refused_field(fx, "plugin", B("echo\0evil"));
	refused_field(fx, "plugin", B("echo\0"));
}

static void
test_id(void **state)
{
	struct fx *fx = *state;
	char id[130];

	assert_int_equal(decode1(fx, "id", "x"), 0);
	assert_int_equal(fx->e.id_len, 1);
	assert_int_equal(decode1(fx, "id", "!order/42~{}"), 0);
	assert_int_equal(fx->e.id_len, 12);
	assert_memory_equal(fx->e.id, "!order/42~{}", 12);
	memset(id, 'i', sizeof(id));
	id[128] = '\0';
	assert_int_equal(decode1(fx, "id", id), 0);
	assert_int_equal(fx->e.id_len, 128);
	id[128] = 'i';
	id[129] = '\0';
	refused_field(fx, "id", S(id));
	refused(fx, "id", "", "field 'id': expected 1 to 128 printable bytes, "
	    "got ''");
	refused(fx, "id", "a\tb", "field 'id': expected 1 to 128 printable "
	    "bytes, got 'a?b'");
	refused_field(fx, "id", B("a\0b"));
	refused_field(fx, "id", S("a\x7f"));
	refused_field(fx, "id", S("caf\xc3\xa9"));
	refused_field(fx, "id", S("line\n"));
}

static void
test_timeout(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char	*in;
		int64_t		 ms;
	} ok[] = {
		{ "1", 1 }, { "1500", 1500 }, { "250ms", 250 },
		{ "30s", 30000 }, { "1.5s", 1500 }, { "2m", 120000 },
		{ "1h", 3600000 }, { "1d", 86400000 },
	};
	static const char *const bad[] = {
		"0", "0s", "0ms", "-5", "+5", " 5", "5 ", "5x", "", "1.5",
		"0x10", "1e3", "s", ".5s", "5S", "99999999999999999999",
		"1234567890123456789012345678901234",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (decode1(fx, "timeout", ok[i].in) != 0)
			fail_msg("timeout '%s': %s", ok[i].in, fx->err);
		assert_int_equal(fx->e.timeout_ms, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused_field(fx, "timeout", S(bad[i]));
	refused(fx, "timeout", "abc", "field 'timeout': expected milliseconds "
	    "or a duration such as 30s, got 'abc'");
	refused(fx, "timeout", "0", "field 'timeout': expected milliseconds "
	    "or a duration such as 30s, got '0'");
	refused_field(fx, "timeout", B("5\0"));
	/* Bounded by the year 9999, as `at` is, so deadlines cannot
	   overflow. */
	assert_int_equal(decode1(fx, "timeout", "253402300799000"), 0);
	assert_int_equal(fx->e.timeout_ms, 253402300799000LL);
	refused_field(fx, "timeout", S("253402300799001"));
	refused_field(fx, "timeout", S("9223372036854775807"));
	refused_field(fx, "timeout", B("5s\0"));
}

static void
test_retries(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = {
		"1001", "-1", "+1", "1e3", "", " 1", "1 ", "0x1", "1.0",
		"99999999999999999999999",
	};

	assert_int_equal(decode1(fx, "retries", "0"), 0);
	assert_int_equal(fx->e.retries, 0);
	assert_int_equal(decode1(fx, "retries", "25"), 0);
	assert_int_equal(fx->e.retries, 25);
	assert_int_equal(decode1(fx, "retries", "1000"), 0);
	assert_int_equal(fx->e.retries, 1000);
	assert_int_equal(decode1(fx, "retries", "0007"), 0);
	assert_int_equal(fx->e.retries, 7);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused_field(fx, "retries", S(bad[i]));
	refused(fx, "retries", "1001", "field 'retries': expected a number "
	    "from 0 to 1000, got '1001'");
	refused_field(fx, "retries", B("1\0"));
}

static void
test_at(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char	*in;
		int64_t		 ms;
	} ok[] = {
		{ "0", 0 },
		{ "1700000000", 1700000000000LL },
		{ "1700000000.25", 1700000000250LL },
		{ "1700000000.5", 1700000000500LL },
		{ "1700000000.007", 1700000000007LL },
		/* Below a millisecond is dropped, not rounded. */
		{ "1700000000.123456789", 1700000000123LL },
		{ "1700000000.9999", 1700000000999LL },
		{ "253402300799", 253402300799000LL },
		{ "253402300799.999", 253402300799999LL },
	};
	static const char *const bad[] = {
		"", ".5", "1.", "-1", "+1", "1e9", " 1", "1 ", "1.5s",
		"1700000000.1234567891", "1700000000,5", "1.2.3", "253402300800",
		"99999999999999999999", "1700000000.-5", "now",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (decode1(fx, "at", ok[i].in) != 0)
			fail_msg("at '%s': %s", ok[i].in, fx->err);
		assert_int_equal(fx->e.due_ms, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused_field(fx, "at", S(bad[i]));
	refused(fx, "at", "tomorrow", "field 'at': expected a Unix time in "
	    "seconds, got 'tomorrow'");
	refused_field(fx, "at", B("1700000000\0"));
	refused_field(fx, "at", B("17\0000"));
}

static void
test_delay(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(decode1(fx, "delay", "5000"), 0);
	assert_int_equal(fx->e.due_ms, (int64_t)PUSH_MS + 5000);
	assert_int_equal(decode1(fx, "delay", "5s"), 0);
	assert_int_equal(fx->e.due_ms, (int64_t)PUSH_MS + 5000);
	assert_int_equal(decode1(fx, "delay", "0"), 0);
	assert_int_equal(fx->e.due_ms, (int64_t)PUSH_MS);
	assert_int_equal(decode1(fx, "delay", "1d"), 0);
	assert_int_equal(fx->e.due_ms, (int64_t)PUSH_MS + 86400000);
	refused(fx, "delay", "soon", "field 'delay': expected milliseconds or "
	    "a duration such as 30s, got 'soon'");
	refused_field(fx, "delay", S("-5"));
	refused_field(fx, "delay", S(""));
	refused_field(fx, "delay", B("5\0"));
	/* Huge delays are refused, not wrapped around past INT64_MAX. */
	refused_field(fx, "delay", S("9223372036854775807"));
	refused_field(fx, "delay", S("106751991167d"));
	refused_field(fx, "delay", S("3000000000000000"));
}

static void
test_delay_push_ms(void **state)
{
	struct fx *fx = *state;

	pack(fx, (struct bytes[]){ B("payload"), B(""), B("delay"),
	    B("250") }, 2);
	assert_int_equal(wq_entry_decode(&fx->e, fx->f, 2, 0, MAX_PAYLOAD,
	    fx->err, sizeof(fx->err)), 0);
	assert_int_equal(fx->e.due_ms, 250);
	/* An entry ID from a producer that set its own time far ahead. */
	assert_int_equal(wq_entry_decode(&fx->e, fx->f, 2, UINT64_MAX,
	    MAX_PAYLOAD, fx->err, sizeof(fx->err)), -1);
	assert_int_equal(wq_entry_decode(&fx->e, fx->f, 2,
	    (uint64_t)INT64_MAX, MAX_PAYLOAD, fx->err, sizeof(fx->err)), -1);
	assert_string_equal(fx->err, "field 'delay': expected a delay that "
	    "ends by the year 9999, got '250'");
	/* Up to 9999-12-31T23:59:59Z. */
	pack(fx, (struct bytes[]){ B("payload"), B(""), B("delay"),
	    B("253402300798000") }, 2);
	assert_int_equal(wq_entry_decode(&fx->e, fx->f, 2, 1000, MAX_PAYLOAD,
	    fx->err, sizeof(fx->err)), 0);
	assert_int_equal(fx->e.due_ms, 253402300799000LL);
	assert_int_equal(wq_entry_decode(&fx->e, fx->f, 2, 1001, MAX_PAYLOAD,
	    fx->err, sizeof(fx->err)), -1);
}

static void
test_at_and_delay(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(decode(fx, "payload", "x", "at", "1700000000",
	    "delay", "5s", NULL), -1);
	assert_string_equal(fx->err, "field 'delay': 'at' and 'delay' both "
	    "given, got '5s'");
	assert_int_equal(decode(fx, "delay", "5s", "payload", "x", "at",
	    "1700000000", NULL), -1);
	assert_string_equal(fx->err, "field 'at': 'at' and 'delay' both "
	    "given, got '1700000000'");
}

static void
test_expires(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(decode1(fx, "expires", "1700000000.5"), 0);
	assert_int_equal(fx->e.expires_ms, 1700000000500LL);
	assert_int_equal(fx->e.due_ms, -1);
	assert_int_equal(decode(fx, "payload", "x", "expires", "1700000300",
	    "delay", "1m", NULL), 0);
	assert_int_equal(fx->e.expires_ms, 1700000300000LL);
	assert_int_equal(fx->e.due_ms, (int64_t)PUSH_MS + 60000);
	refused(fx, "expires", "1h", "field 'expires': expected a Unix time "
	    "in seconds, got '1h'");
	refused_field(fx, "expires", S(""));
	refused_field(fx, "expires", S("-1"));
}

static void
test_attempt(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(decode1(fx, "attempt", "1"), 0);
	assert_int_equal(fx->e.attempt, 1);
	assert_int_equal(decode1(fx, "attempt", "26"), 0);
	assert_int_equal(fx->e.attempt, 26);
	assert_int_equal(decode1(fx, "attempt", "1000000"), 0);
	assert_int_equal(fx->e.attempt, 1000000);
	refused(fx, "attempt", "0", "field 'attempt': expected a number from "
	    "1, got '0'");
	refused_field(fx, "attempt", S("1000001"));
	refused_field(fx, "attempt", S("-1"));
	refused_field(fx, "attempt", S(""));
	refused_field(fx, "attempt", S("2nd"));
}

static void
test_twice(void **state)
{
	struct fx *fx = *state;
	static const char *const fields[][2] = {
		{ "payload", "y" }, { "plugin", "echo" }, { "id", "a" },
		{ "timeout", "5" }, { "retries", "1" }, { "at", "1" },
		{ "delay", "1" }, { "expires", "1" }, { "attempt", "2" },
	};
	char want[128];

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *k = fields[i][0], *v = fields[i][1];

		assert_int_equal(decode(fx, "payload", "x", k, v, k, v, NULL),
		    -1);
		snprintf(want, sizeof(want), "field '%s': given twice, got "
		    "'%s'", k, v);
		assert_string_equal(fx->err, want);
	}
	/* Twice, even when the first one is fine and the second is not. */
	assert_int_equal(decode(fx, "payload", "x", "retries", "1", "retries",
	    "bad", NULL), -1);
	assert_string_equal(fx->err, "field 'retries': given twice, got 'bad'");
	/* Unknown fields may repeat. */
	assert_int_equal(decode(fx, "tag", "a", "payload", "x", "tag", "b",
	    NULL), 0);
}

static void
test_unknown_ignored(void **state)
{
	struct fx *fx = *state;
	struct bytes kv[] = {
		B("payload\0"), B("not the payload"),
		B("Payload"), B("nor this"),
		B("retry"), B("bad"),
		B(""), B(""),
		B("\xff\x00\x01"), B("\x80"),
		B("payload"), B("real"),
		B("timeouts"), B("never"),
		B("at "), B("never"),
	};

	assert_int_equal(decode_kv(fx, kv, sizeof(kv) / sizeof(kv[0]) / 2), 0);
	assert_int_equal(fx->e.payload_len, 4);
	assert_memory_equal(fx->e.payload, "real", 4);
	assert_int_equal(fx->e.timeout_ms, -1);
	assert_int_equal(fx->e.due_ms, -1);
	assert_int_equal(fx->e.retries, -1);
}

static void
test_reserved(void **state)
{
	static const char *const yes[] = {
		"payload", "plugin", "id", "timeout", "retries", "at", "delay",
		"expires", "attempt",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(wq_entry_reserved(yes[i], strlen(yes[i])));
	assert_false(wq_entry_reserved("payloads", 8));
	assert_false(wq_entry_reserved("payload\0", 8));
	assert_false(wq_entry_reserved("Payload", 7));
	assert_false(wq_entry_reserved("", 0));
	/* By length: "attempts" cut to 7 bytes is "attempt". */
	assert_true(wq_entry_reserved("attempts", 7));
	assert_false(wq_entry_reserved("at", 1));
}

/* Names and values cut out of one string by length, with what follows each
   one being more digits or name bytes. */
static void
test_by_length(void **state)
{
	struct fx *fx = *state;
	/*             0         1         2         3         4         5  */
	/*             0123456789012345678901234567890123456789012345678901 */
	const char *s = "retries5timeouts250sattempt3payloadhelloat17000000001";
	struct wq_field f[5] = {
		{ s + 0, 7, s + 7, 1 },		/* retries=5 (not 59) */
		{ s + 8, 7, s + 16, 3 },	/* timeout=250 (not 250s) */
		{ s + 20, 7, s + 27, 1 },	/* attempt=3 */
		{ s + 28, 7, s + 35, 4 },	/* payload=hell */
		{ s + 40, 2, s + 42, 10 },	/* at=1700000000 */
	};
	size_t len = strlen(s);
	char *copy = malloc(len);

	/* The same bytes, unterminated, at the end of a heap block. */
	assert_non_null(copy);
	memcpy(copy, s, len);
	for (size_t i = 0; i < 5; i++) {
		f[i].name = copy + (f[i].name - s);
		f[i].val = copy + (f[i].val - s);
	}
	assert_int_equal(wq_entry_decode(&fx->e, f, 5, PUSH_MS, MAX_PAYLOAD,
	    fx->err, sizeof(fx->err)), 0);
	assert_int_equal(fx->e.retries, 5);
	assert_int_equal(fx->e.timeout_ms, 250);
	assert_int_equal(fx->e.attempt, 3);
	assert_int_equal(fx->e.payload_len, 4);
	assert_int_equal(fx->e.due_ms, 1700000000000LL);
	/* The last value runs to the end of the block: "00000001". */
	f[4].vlen = 11;
	assert_int_equal(wq_entry_decode(&fx->e, f, 5, PUSH_MS, MAX_PAYLOAD,
	    fx->err, sizeof(fx->err)), 0);
	assert_int_equal(fx->e.due_ms, 17000000001000LL);
	free(copy);
}

static void
test_error_text(void **state)
{
	struct fx *fx = *state;
	char big[101], want[128];

	memset(big, 'b', 100);
	big[100] = '\0';
	snprintf(want, sizeof(want), "field 'retries': expected a number from "
	    "0 to 1000, got '%.36s...'", big);
	refused(fx, "retries", big, want);
	/* Unprintable bytes are shown as '?'. */
	assert_int_equal(decode1b(fx, "timeout", B("\x1b[31m\xff")), -1);
	assert_string_equal(fx->err, "field 'timeout': expected milliseconds "
	    "or a duration such as 30s, got '?[31m?'");
	/* A short buffer gets a cut, terminated message. */
	pack(fx, (struct bytes[]){ B("payload"), B("x"), B("retries"),
	    B("x") }, 2);
	memset(fx->err, 'Z', sizeof(fx->err));
	assert_int_equal(wq_entry_decode(&fx->e, fx->f, 2, PUSH_MS, MAX_PAYLOAD,
	    fx->err, 10), -1);
	assert_string_equal(fx->err, "field 're");
	assert_int_equal(fx->err[10], 'Z');
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_defaults),
		T(test_all_fields),
		T(test_payload_missing),
		T(test_payload_empty_and_binary),
		T(test_payload_limit),
		T(test_plugin),
		T(test_id),
		T(test_timeout),
		T(test_retries),
		T(test_at),
		T(test_delay),
		T(test_delay_push_ms),
		T(test_at_and_delay),
		T(test_expires),
		T(test_attempt),
		T(test_twice),
		T(test_unknown_ignored),
		T(test_reserved),
		T(test_by_length),
		T(test_error_text),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
