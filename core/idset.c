/*
 * A set of stream entry IDs (see idset.h).
 *
 * DESIGN: the table doubles when it is 3/4 full and never shrinks (it is
 * sized by the most entries one daemon held at once: prefetch plus workers
 * plus what is being settled).  Deleting shifts the following run of the
 * cluster back into the hole (Knuth's algorithm R), which keeps every probe
 * sequence unbroken without tombstones.
 */
#include <errno.h>
#include <stdlib.h>

#include "idset.h"

static size_t
slot_of(const struct wq_idset *set, uint64_t ms, uint64_t seq)
{
	uint64_t h = (ms * 0x9e3779b97f4a7c15ULL) ^ (seq * 0xc2b2ae3d27d4eb4fULL);

	h ^= h >> 29;
	return (size_t)h & (set->cap - 1);
}

static int
empty(const uint64_t *slot)
{
	return slot[0] == 0 && slot[1] == 0;
}

void
wq_idset_init(struct wq_idset *set)
{
	set->slots = NULL;
	set->cap = set->len = 0;
}

void
wq_idset_fini(struct wq_idset *set)
{
	free(set->slots);
	wq_idset_init(set);
}

static size_t
find(const struct wq_idset *set, uint64_t ms, uint64_t seq)
{
	size_t i = slot_of(set, ms, seq);

	while (!empty(set->slots[i]) &&
	    (set->slots[i][0] != ms || set->slots[i][1] != seq))
		i = (i + 1) & (set->cap - 1);
	return i;
}

static int
grow(struct wq_idset *set)
{
	struct wq_idset bigger = { .cap = set->cap != 0 ? set->cap * 2 : 64 };

	if ((bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots))) == NULL)
		return -1;
	for (size_t i = 0; i < set->cap; i++) {
		if (empty(set->slots[i]))
			continue;
		size_t j = find(&bigger, set->slots[i][0], set->slots[i][1]);

		bigger.slots[j][0] = set->slots[i][0];
		bigger.slots[j][1] = set->slots[i][1];
	}
	bigger.len = set->len;
	free(set->slots);
	*set = bigger;
	return 0;
}

int
wq_idset_add(struct wq_idset *set, uint64_t ms, uint64_t seq)
{
	size_t i;

	/* It would land in an empty slot and leave it empty, yet count. */
	if (ms == 0 && seq == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((set->len + 1) * 4 > set->cap * 3 && grow(set) < 0)
		return -1;
	i = find(set, ms, seq);
	if (!empty(set->slots[i]))
		return 1;
	set->slots[i][0] = ms;
	set->slots[i][1] = seq;
	set->len++;
	return 0;
}

int
wq_idset_has(const struct wq_idset *set, uint64_t ms, uint64_t seq)
{
	return set->cap != 0 && !empty(set->slots[find(set, ms, seq)]);
}

int
wq_idset_del(struct wq_idset *set, uint64_t ms, uint64_t seq)
{
	size_t hole, i, home, mask = set->cap - 1;

	if (set->cap == 0 || empty(set->slots[hole = find(set, ms, seq)]))
		return 1;
	for (i = (hole + 1) & mask; !empty(set->slots[i]); i = (i + 1) & mask) {
		home = slot_of(set, set->slots[i][0], set->slots[i][1]);
		/* Move i into the hole unless its home lies in (hole, i]. */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			set->slots[hole][0] = set->slots[i][0];
			set->slots[hole][1] = set->slots[i][1];
			hole = i;
		}
	}
	set->slots[hole][0] = set->slots[hole][1] = 0;
	set->len--;
	return 0;
}
