/*
 * libFuzzer target for stream entry decoding (core/entry.c): the input is
 * split at '\n' into field names and values, alternately (a name left
 * without a value gets an empty one), so names and values are any bytes but
 * the newline, NUL included.  Each name and value is copied into a heap
 * block of exactly its length with no terminator, as hiredis never
 * promises one, so a read past a length is an ASan report.  The entry is
 * decoded at three push times and with a short error buffer, and whatever
 * comes back is checked against what entry.h promises.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *       -Icore/include -iquote core tests/fuzz/fuzz_entry.c core/entry.c \
 *       core/yaml.c core/node.c core/module.c core/elf.c core/log.c -lyaml -ldl \
 *       -o /tmp/fuzz_entry
 *   mkdir -p /tmp/corpus
 *   /tmp/fuzz_entry -max_total_time=60 -max_len=1024 /tmp/corpus \
 *       tests/fuzz/corpus/entry
 *
 * New inputs go to the first directory, so the seeds here stay as they are.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"

#define MAX_FIELDS	64
#define MAX_PAYLOAD	64
#define MAX_MS		253402300799999LL	/* 9999-12-31T23:59:59.999Z */

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) __builtin_trap(); } while (0)

/* p points into one of the values, and p + len does not run past it. */
static int
within(const struct wq_field *f, size_t n, const char *p, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (p == f[i].val && len == f[i].vlen)
			return 1;
	return 0;
}

static void
check_entry(const struct wq_entry *e, const struct wq_field *f, size_t n)
{
	CHECK(e->payload != NULL && within(f, n, e->payload, e->payload_len));
	CHECK(e->payload_len <= MAX_PAYLOAD);
	if (e->plugin != NULL) {
		CHECK(within(f, n, e->plugin, e->plugin_len));
		CHECK(e->plugin_len >= 1 && e->plugin_len <= 64);
		for (size_t i = 0; i < e->plugin_len; i++) {
			char c = e->plugin[i];

			CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			    c == '_' || c == '-');
		}
	}
	if (e->id != NULL) {
		CHECK(within(f, n, e->id, e->id_len));
		CHECK(e->id_len >= 1 && e->id_len <= 128);
		for (size_t i = 0; i < e->id_len; i++)
			CHECK(e->id[i] > 0x20 && e->id[i] < 0x7f);
	}
	CHECK(e->timeout_ms == -1 ||
	    (e->timeout_ms > 0 && e->timeout_ms <= MAX_MS));
	CHECK(e->retries >= -1 && e->retries <= 1000);
	CHECK(e->due_ms >= -1 && e->due_ms <= MAX_MS);
	CHECK(e->expires_ms >= -1 && e->expires_ms <= MAX_MS);
	CHECK(e->attempt >= 1 && e->attempt <= 1000000);
}

static void
decode(const struct wq_field *f, size_t n, uint64_t push_ms)
{
	struct wq_entry e;
	char err[200], small[8];
	int r;

	memset(err, 'X', sizeof(err));
	r = wq_entry_decode(&e, f, n, push_ms, MAX_PAYLOAD, err, sizeof(err));
	if (r == 0)
		check_entry(&e, f, n);
	else {
		CHECK(r == -1);
		CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		CHECK(strncmp(err, "field '", 7) == 0);
	}
	memset(small, 'X', sizeof(small));
	CHECK(wq_entry_decode(&e, f, n, push_ms, MAX_PAYLOAD, small,
	    sizeof(small)) == r);
	if (r != 0)
		CHECK(small[sizeof(small) - 1] == '\0');
}

/* A heap copy of exactly len bytes (ASan's redzone right after it). */
static char *
copy(const uint8_t *p, size_t len)
{
	char *c = malloc(len > 0 ? len : 1);

	if (c != NULL && len > 0)
		memcpy(c, p, len);
	return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wq_field f[MAX_FIELDS] = { { NULL, 0, NULL, 0 } };
	char *bufs[2 * MAX_FIELDS];
	const uint8_t *p = data, *end = data + size, *nl;
	size_t n = 0, nbufs = 0;

	while (p < end && n < MAX_FIELDS) {
		const uint8_t *part[2];
		size_t len[2];

		for (int k = 0; k < 2; k++) {
			nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
			part[k] = p;
			len[k] = (size_t)((nl != NULL ? nl : end) - p);
			p = nl != NULL ? nl + 1 : end;
		}
		if ((bufs[nbufs] = copy(part[0], len[0])) == NULL)
			break;
		if ((bufs[nbufs + 1] = copy(part[1], len[1])) == NULL) {
			free(bufs[nbufs]);
			break;
		}
		f[n].name = bufs[nbufs];
		f[n].nlen = len[0];
		f[n].val = bufs[nbufs + 1];
		f[n].vlen = len[1];
		nbufs += 2;
		n++;
	}
	decode(f, n, 1700000000000ULL);
	decode(f, n, 0);
	decode(f, n, UINT64_MAX);
	for (size_t i = 0; i < nbufs; i++)
		free(bufs[i]);
	return 0;
}
