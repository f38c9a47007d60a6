/*
 * Decoding a stream entry (see entry.h).
 *
 * DESIGN: one pass over the fields; each field workqd knows has a small
 * parser that reads (pointer, length) and reports in the entry's own terms.
 * A field given twice is refused rather than guessed at.  Numbers are
 * parsed by hand on the byte range, because values are not guaranteed to be
 * NUL-terminated and strtoll would accept spaces, signs and hex.
 */
#include <stdio.h>
#include <string.h>

#include "entry.h"
#include "module.h"
#include "yaml.h"

#define MAX_TIME_S	253402300799LL	/* 9999-12-31T23:59:59Z */
#define MAX_MS		(MAX_TIME_S * 1000)	/* bounds timeout and delay */
#define MAX_RETRIES	1000
#define MAX_ATTEMPT	1000000
#define MAX_ID		128

struct parse {
	struct wq_entry	*e;
	char		*err;
	size_t		 errlen;
	unsigned	 seen;
};

/* Copies at most 32 bytes of v into out, unprintable bytes as '?'. */
static const char *
shown(const char *v, size_t len, char *out, size_t size)
{
	size_t i, n = len < size - 4 ? len : size - 4;

	for (i = 0; i < n; i++)
		out[i] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
	if (n < len)
		memcpy(out + i, "...", 4);
	else
		out[i] = '\0';
	return out;
}

static int
fail(struct parse *p, const struct wq_field *f, const char *what)
{
	char name[40], val[40];

	snprintf(p->err, p->errlen, "field '%s': %s, got '%s'",
	    shown(f->name, f->nlen, name, sizeof(name)), what,
	    shown(f->val, f->vlen, val, sizeof(val)));
	return -1;
}

/* Decimal digits only, no sign, at most max. */
static int
parse_uint(const char *s, size_t len, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

/* Unix seconds with an optional fraction ("1700000000.25") to ms. */
static int
parse_time(const char *s, size_t len, int64_t *ms)
{
	const char *dot = memchr(s, '.', len);
	size_t ilen = dot != NULL ? (size_t)(dot - s) : len;
	int64_t sec, frac = 0, scale = 100;

	if (parse_uint(s, ilen, MAX_TIME_S, &sec) < 0)
		return -1;
	if (dot != NULL) {
		if (ilen + 1 == len)
			return -1;
		for (size_t i = ilen + 1; i < len; i++, scale /= 10) {
			if (s[i] < '0' || s[i] > '9' || i - ilen > 9)
				return -1;
			frac += (s[i] - '0') * scale;
		}
	}
	*ms = sec * 1000 + frac;
	return 0;
}

static int
parse_duration(const char *s, size_t len, int64_t *ms)
{
	char buf[32];

	if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return wq_parse_ms(buf, ms);
}

static int
printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

static int
plugin_field(struct parse *p, const struct wq_field *f)
{
	char name[65];

	if (f->vlen == 0 || f->vlen >= sizeof(name))
		return fail(p, f, "expected a plugin name");
	memcpy(name, f->val, f->vlen);
	name[f->vlen] = '\0';
	/* A NUL inside would cut the name short to one that passes. */
	if (strlen(name) != f->vlen || !wq_module_name_valid(name))
		return fail(p, f, "expected a plugin name ([a-z0-9_-]{1,64})");
	p->e->plugin = f->val;
	p->e->plugin_len = f->vlen;
	return 0;
}

static int
time_field(struct parse *p, const struct wq_field *f, int64_t *out)
{
	if (parse_time(f->val, f->vlen, out) < 0)
		return fail(p, f, "expected a Unix time in seconds");
	return 0;
}

enum {
	F_PAYLOAD = 1 << 0, F_PLUGIN = 1 << 1, F_ID = 1 << 2,
	F_TIMEOUT = 1 << 3, F_RETRIES = 1 << 4, F_AT = 1 << 5,
	F_DELAY = 1 << 6, F_EXPIRES = 1 << 7, F_ATTEMPT = 1 << 8
};

static const struct {
	const char	*name;
	unsigned	 bit;
} known[] = {
	{ "payload", F_PAYLOAD }, { "plugin", F_PLUGIN }, { "id", F_ID },
	{ "timeout", F_TIMEOUT }, { "retries", F_RETRIES }, { "at", F_AT },
	{ "delay", F_DELAY }, { "expires", F_EXPIRES },
	{ "attempt", F_ATTEMPT },
};

static unsigned
field_bit(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].name) == len &&
		    memcmp(known[i].name, name, len) == 0)
			return known[i].bit;
	return 0;
}

int
wq_entry_reserved(const char *name, size_t len)
{
	return field_bit(name, len) != 0;
}

static int
one_field(struct parse *p, const struct wq_field *f, unsigned bit,
    uint64_t push_ms)
{
	struct wq_entry *e = p->e;
	int64_t v;

	switch (bit) {
	case F_PAYLOAD:
		e->payload = f->val;
		e->payload_len = f->vlen;
		return 0;
	case F_PLUGIN:
		return plugin_field(p, f);
	case F_ID:
		if (f->vlen == 0 || f->vlen > MAX_ID ||
		    !printable(f->val, f->vlen))
			return fail(p, f, "expected 1 to 128 printable bytes");
		e->id = f->val;
		e->id_len = f->vlen;
		return 0;
	case F_TIMEOUT:
		if (parse_duration(f->val, f->vlen, &v) < 0 || v <= 0 ||
		    v > MAX_MS)
			return fail(p, f, "expected milliseconds or a "
			    "duration such as 30s");
		e->timeout_ms = v;
		return 0;
	case F_RETRIES:
		if (parse_uint(f->val, f->vlen, MAX_RETRIES, &v) < 0)
			return fail(p, f, "expected a number from 0 to 1000");
		e->retries = v;
		return 0;
	case F_AT:
		return time_field(p, f, &e->due_ms);
	case F_DELAY:
		if (parse_duration(f->val, f->vlen, &v) < 0 || v > MAX_MS)
			return fail(p, f, "expected milliseconds or a "
			    "duration such as 30s");
		/* Bounded like `at`, so the sum cannot overflow. */
		if (push_ms > (uint64_t)(MAX_MS - v))
			return fail(p, f, "expected a delay that ends by the "
			    "year 9999");
		e->due_ms = (int64_t)push_ms + v;
		return 0;
	case F_EXPIRES:
		return time_field(p, f, &e->expires_ms);
	case F_ATTEMPT:
		if (parse_uint(f->val, f->vlen, MAX_ATTEMPT, &v) < 0 || v < 1)
			return fail(p, f, "expected a number from 1");
		e->attempt = (uint32_t)v;
		return 0;
	}
	return 0;
}

int
wq_entry_decode(struct wq_entry *e, const struct wq_field *f, size_t n,
    uint64_t push_ms, int64_t max_payload, char *err, size_t errlen)
{
	struct parse p = { .e = e, .err = err, .errlen = errlen };

	memset(e, 0, sizeof(*e));
	e->timeout_ms = e->retries = e->due_ms = e->expires_ms = -1;
	e->attempt = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned bit = field_bit(f[i].name, f[i].nlen);

		if (bit == 0)
			continue;
		if (p.seen & bit)
			return fail(&p, &f[i], "given twice");
		if ((bit == F_AT && (p.seen & F_DELAY)) ||
		    (bit == F_DELAY && (p.seen & F_AT)))
			return fail(&p, &f[i], "'at' and 'delay' both given");
		p.seen |= bit;
		if (one_field(&p, &f[i], bit, push_ms) < 0)
			return -1;
	}
	if (!(p.seen & F_PAYLOAD)) {
		snprintf(err, errlen, "field 'payload': missing");
		return -1;
	}
	if ((int64_t)e->payload_len > max_payload) {
		snprintf(err, errlen, "field 'payload': %zu bytes, over the "
		    "limit of %lld", e->payload_len, (long long)max_payload);
		return -1;
	}
	return 0;
}
