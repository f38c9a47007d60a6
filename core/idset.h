/*
 * A set of stream entry IDs (ms, seq): open addressing with linear probing
 * and backward-shift deletion, so lookups stay O(1) without tombstones.
 * The broker keeps one per queue: every entry of its own it knows about,
 * so it can tell its own pending entries whose delivery was lost from the
 * ones it holds.  Loop thread only.
 */
#ifndef WQ_IDSET_H
#define WQ_IDSET_H

#include <stddef.h>
#include <stdint.h>

struct wq_idset {
	uint64_t	(*slots)[2];	/* {0, 0} marks an empty slot */
	size_t		 cap;		/* a power of two, or 0 */
	size_t		 len;
};

void	wq_idset_init(struct wq_idset *set);
void	wq_idset_fini(struct wq_idset *set);
/* 0 added, 1 already there, -1 out of memory (ENOMEM).  (0, 0) is not an
   ID (it marks empty slots): -1 with EINVAL. */
int	wq_idset_add(struct wq_idset *set, uint64_t ms, uint64_t seq);
/* 0 removed, 1 was not there. */
int	wq_idset_del(struct wq_idset *set, uint64_t ms, uint64_t seq);
int	wq_idset_has(const struct wq_idset *set, uint64_t ms, uint64_t seq);

#endif /* WQ_IDSET_H */
