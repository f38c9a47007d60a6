/*
 * Unit tests for core/idset.c: the set of stream entry IDs.
 *
 * Besides the plain cases, random operations are checked against a
 * brute-force reference, on keys chosen to collide (the same ms with many
 * seqs and the other way round, and keys that share a home slot so that
 * clusters wrap around the end of the table), and after every deletion
 * the table is checked for the invariant that backward-shift deletion must
 * keep: no key sits behind an empty slot on its probe path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "idset.h"

struct key {
	uint64_t	ms, seq;
	int		in;		/* the reference: is it in the set? */
};

/* xorshift64, fixed seeds: the runs are the same every time. */
static uint64_t
next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The home slot of a key, as idset.c computes it (white box: used only to
   pick keys that collide, so a changed hash makes the test weaker, not
   wrong). */
static size_t
home(uint64_t ms, uint64_t seq, size_t cap)
{
	uint64_t h = (ms * 0x9e3779b97f4a7c15ULL) ^ (seq * 0xc2b2ae3d27d4eb4fULL);

	h ^= h >> 29;
	return (size_t)h & (cap - 1);
}

static int
slot_empty(const struct wq_idset *set, size_t i)
{
	return set->slots[i][0] == 0 && set->slots[i][1] == 0;
}

/*
 * The table is sound: cap is a power of two, len counts the keys, the
 * load stays at most 3/4, and every key can be reached from its home
 * without crossing an empty slot (found by probing, as has() does).
 */
static void
check_table(const struct wq_idset *set)
{
	size_t used = 0, mask;

	if (set->cap == 0) {
		assert_null(set->slots);
		assert_int_equal(set->len, 0);
		return;
	}
	assert_int_equal(set->cap & (set->cap - 1), 0);
	assert_true(set->len * 4 <= set->cap * 3);
	mask = set->cap - 1;
	for (size_t i = 0; i < set->cap; i++) {
		size_t j;

		if (slot_empty(set, i))
			continue;
		used++;
		for (j = home(set->slots[i][0], set->slots[i][1], set->cap);
		    j != i; j = (j + 1) & mask)
			if (slot_empty(set, j))
				fail_msg("key %llu-%llu in slot %zu is cut off "
				    "from its home by empty slot %zu",
				    (unsigned long long)set->slots[i][0],
				    (unsigned long long)set->slots[i][1], i, j);
		assert_true(wq_idset_has(set, set->slots[i][0],
		    set->slots[i][1]));
	}
	assert_int_equal(used, set->len);
}

/* The set holds exactly the keys marked in. */
static void
check_keys(const struct wq_idset *set, const struct key *k, size_t n)
{
	size_t in = 0;

	for (size_t i = 0; i < n; i++) {
		if (wq_idset_has(set, k[i].ms, k[i].seq) != k[i].in)
			fail_msg("key %zu (%llu-%llu): has %d, reference %d",
			    i, (unsigned long long)k[i].ms,
			    (unsigned long long)k[i].seq,
			    wq_idset_has(set, k[i].ms, k[i].seq), k[i].in);
		in += k[i].in != 0;
	}
	assert_int_equal(set->len, in);
}

/* One random operation on key k, checked against the reference. */
static void
random_op(struct wq_idset *set, struct key *k, uint64_t r)
{
	switch (r % 3) {
	case 0:
		assert_int_equal(wq_idset_add(set, k->ms, k->seq), k->in);
		k->in = 1;
		break;
	case 1:
		assert_int_equal(wq_idset_del(set, k->ms, k->seq), !k->in);
		k->in = 0;
		break;
	default:
		assert_int_equal(wq_idset_has(set, k->ms, k->seq), k->in);
		break;
	}
}

static void
test_empty(void **state)
{
	struct wq_idset set;

	(void)state;
	wq_idset_init(&set);
	assert_int_equal(set.cap, 0);
	assert_int_equal(set.len, 0);
	assert_int_equal(wq_idset_has(&set, 1, 0), 0);
	assert_int_equal(wq_idset_del(&set, 1, 0), 1);
	wq_idset_fini(&set);
	wq_idset_fini(&set);		/* fini leaves it empty and usable */
	assert_int_equal(wq_idset_add(&set, 1, 0), 0);
	wq_idset_fini(&set);
	assert_int_equal(set.cap, 0);
	assert_int_equal(wq_idset_has(&set, 1, 0), 0);
}

static void
test_add_has_del(void **state)
{
	struct wq_idset set;

	(void)state;
	wq_idset_init(&set);
	assert_int_equal(wq_idset_add(&set, 1700000000000ULL, 0), 0);
	assert_int_equal(wq_idset_add(&set, 1700000000000ULL, 1), 0);
	assert_int_equal(wq_idset_add(&set, 1700000000001ULL, 0), 0);
	assert_int_equal(set.len, 3);
	/* Duplicates are reported and not counted. */
	assert_int_equal(wq_idset_add(&set, 1700000000000ULL, 1), 1);
	assert_int_equal(set.len, 3);
	assert_int_equal(wq_idset_has(&set, 1700000000000ULL, 0), 1);
	assert_int_equal(wq_idset_has(&set, 1700000000000ULL, 1), 1);
	assert_int_equal(wq_idset_has(&set, 1700000000000ULL, 2), 0);
	assert_int_equal(wq_idset_has(&set, 1, 1700000000000ULL), 0);
	assert_int_equal(wq_idset_del(&set, 1700000000000ULL, 1), 0);
	assert_int_equal(wq_idset_del(&set, 1700000000000ULL, 1), 1);
	assert_int_equal(wq_idset_has(&set, 1700000000000ULL, 1), 0);
	assert_int_equal(wq_idset_has(&set, 1700000000000ULL, 0), 1);
	assert_int_equal(set.len, 2);
	/* The extremes are IDs like any other. */
	assert_int_equal(wq_idset_add(&set, UINT64_MAX, UINT64_MAX), 0);
	assert_int_equal(wq_idset_add(&set, 0, 1), 0);
	assert_int_equal(wq_idset_add(&set, 1, 0), 0);
	assert_int_equal(wq_idset_has(&set, UINT64_MAX, UINT64_MAX), 1);
	assert_int_equal(wq_idset_has(&set, 0, 1), 1);
	assert_int_equal(wq_idset_has(&set, 1, 0), 1);
	assert_int_equal(set.len, 5);
	check_table(&set);
	wq_idset_fini(&set);
}

/* (0, 0) is not a stream ID (Redis refuses it); it marks empty slots, so
   the set must refuse it rather than count a key it cannot hold. */
static void
test_zero_id(void **state)
{
	struct wq_idset set;

	(void)state;
	wq_idset_init(&set);
	errno = 0;
	assert_int_equal(wq_idset_add(&set, 0, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(set.len, 0);
	assert_int_equal(wq_idset_has(&set, 0, 0), 0);
	assert_int_equal(wq_idset_del(&set, 0, 0), 1);
	for (uint64_t i = 1; i <= 40; i++)
		assert_int_equal(wq_idset_add(&set, i, i), 0);
	assert_int_equal(wq_idset_add(&set, 0, 0), -1);
	assert_int_equal(set.len, 40);
	assert_int_equal(wq_idset_has(&set, 0, 0), 0);
	assert_int_equal(wq_idset_del(&set, 0, 0), 1);
	assert_int_equal(set.len, 40);
	check_table(&set);
	wq_idset_fini(&set);
}

static void
test_growth(void **state)
{
	enum { N = 200000 };
	struct wq_idset set;
	size_t caps = 0, cap = 0;

	(void)state;
	wq_idset_init(&set);
	for (uint64_t i = 0; i < N; i++) {
		/* Bursts of entries in the same ms, as XADD makes them. */
		assert_int_equal(wq_idset_add(&set, 1700000000000ULL + i / 7,
		    i % 7), 0);
		if (set.cap != cap) {
			assert_true(set.cap == 64 || set.cap == 2 * cap);
			cap = set.cap;
			caps++;
		}
	}
	assert_int_equal(set.len, N);
	assert_true(caps >= 12);		/* 64 .. 262144 .. */
	check_table(&set);
	for (uint64_t i = 0; i < N; i++)
		assert_int_equal(wq_idset_has(&set, 1700000000000ULL + i / 7,
		    i % 7), 1);
	assert_int_equal(wq_idset_has(&set, 1700000000000ULL + N / 7, 6), 0);
	/* Delete every other one; the table does not shrink. */
	for (uint64_t i = 0; i < N; i += 2)
		assert_int_equal(wq_idset_del(&set, 1700000000000ULL + i / 7,
		    i % 7), 0);
	assert_int_equal(set.len, N / 2);
	assert_int_equal(set.cap, cap);
	check_table(&set);
	for (uint64_t i = 0; i < N; i++)
		assert_int_equal(wq_idset_has(&set, 1700000000000ULL + i / 7,
		    i % 7), (int)(i % 2));
	/* Refill: no growth needed for what fitted before. */
	for (uint64_t i = 0; i < N; i += 2)
		assert_int_equal(wq_idset_add(&set, 1700000000000ULL + i / 7,
		    i % 7), 0);
	assert_int_equal(set.cap, cap);
	assert_int_equal(set.len, N);
	wq_idset_fini(&set);
}

/*
 * 100000 random operations on 1536 keys: 512 sharing one ms, 512 sharing
 * one seq, 512 spread out.  The set hovers around half of them, so the
 * table stays small and its clusters long.
 */
static void
test_random_vs_reference(void **state)
{
	enum { NK = 1536, OPS = 100000 };
	struct key *k = calloc(NK, sizeof(*k));
	struct wq_idset set;
	uint64_t x = 0x2545f4914f6cdd1dULL;

	(void)state;
	assert_non_null(k);
	for (size_t i = 0; i < 512; i++) {
		k[i] = (struct key){ 1700000000000ULL, i, 0 };
		k[512 + i] = (struct key){ 1700000000001ULL + i, 3, 0 };
		k[1024 + i] = (struct key){ next(&x) | 1, next(&x), 0 };
	}
	wq_idset_init(&set);
	for (size_t op = 0; op < OPS; op++) {
		uint64_t r = next(&x);

		random_op(&set, &k[(r >> 8) % NK], r);
		if (op % 997 == 0) {
			check_table(&set);
			check_keys(&set, k, NK);
		}
	}
	check_table(&set);
	check_keys(&set, k, NK);
	/* Empty it completely: every deletion keeps the table sound. */
	for (size_t i = 0; i < NK; i++) {
		if (k[i].in) {
			assert_int_equal(wq_idset_del(&set, k[i].ms, k[i].seq),
			    0);
			k[i].in = 0;
		}
	}
	assert_int_equal(set.len, 0);
	check_table(&set);
	check_keys(&set, k, NK);
	for (size_t i = 0; i < set.cap; i++)
		assert_true(slot_empty(&set, i));
	wq_idset_fini(&set);
	free(k);
}

/*
 * Keys that all have their home in the last two or first two slots of the
 * first table (64 slots), at most 47 of them so it does not grow: one long
 * cluster that wraps around the end, where every deletion shifts keys back
 * across the wrap.  The table is checked after every operation.
 */
static void
test_wrapping_cluster(void **state)
{
	enum { NK = 47, CAP = 64, OPS = 60000 };
	struct key k[NK];
	struct wq_idset set;
	size_t n = 0;
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	(void)state;
	/* Half with one ms and many seqs, half the other way round. */
	for (uint64_t seq = 0; n < NK / 2; seq++) {
		size_t h = home(42, seq, CAP);

		if (h >= CAP - 2 || h < 2)
			k[n++] = (struct key){ 42, seq, 0 };
	}
	for (uint64_t ms = 1; n < NK; ms++) {
		size_t h = home(ms, 7, CAP);

		if (h >= CAP - 2 || h < 2)
			k[n++] = (struct key){ ms, 7, 0 };
	}
	wq_idset_init(&set);
	/* Fill it: one cluster of 47 around the wrap. */
	for (size_t i = 0; i < NK; i++) {
		assert_int_equal(wq_idset_add(&set, k[i].ms, k[i].seq), 0);
		k[i].in = 1;
	}
	assert_int_equal(set.cap, CAP);
	check_table(&set);
	check_keys(&set, k, NK);
	for (size_t op = 0; op < OPS; op++) {
		uint64_t r = next(&x);

		random_op(&set, &k[(r >> 8) % NK], r);
		check_table(&set);
		if (op % 101 == 0)
			check_keys(&set, k, NK);
	}
	assert_int_equal(set.cap, CAP);
	check_keys(&set, k, NK);
	/* Take them out from the front of the cluster, then refill. */
	for (size_t i = 0; i < NK; i++) {
		assert_int_equal(wq_idset_del(&set, k[i].ms, k[i].seq),
		    !k[i].in);
		k[i].in = 0;
		check_table(&set);
		check_keys(&set, k, NK);
	}
	assert_int_equal(set.len, 0);
	wq_idset_fini(&set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_add_has_del),
		cmocka_unit_test(test_zero_id),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_random_vs_reference),
		cmocka_unit_test(test_wrapping_cluster),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
