/*
 * Decoding a stream entry: the fields a producer wrote with XADD, checked
 * and turned into what workqd acts on.  Everything here is untrusted input
 * and is read as bytes with lengths: nothing assumes NUL termination,
 * nothing allocates, and every refusal says which field and why, so the
 * entry can go to the dead letters with that reason (and a fuzzer can hammer
 * it).
 *
 * Fields workqd reads (any other field is kept for the handler):
 *   payload   required; the bytes handed to the handler
 *   plugin    the handler to run; default: the queue's
 *   id        the job id handlers see; default: the entry ID
 *   timeout   per-job timeout: ms or a duration (30s)
 *   retries   retries allowed after the first attempt
 *   at        do not start before this Unix time (seconds, fractions ok)
 *   delay     do not start before this many ms after the push
 *   expires   dead-letter as expired if not started by this Unix time
 *   attempt   which attempt this is (written by workqd on retries)
 */
#ifndef WQ_ENTRY_H
#define WQ_ENTRY_H

#include <stddef.h>
#include <stdint.h>

struct wq_field {
	const char	*name;
	size_t		 nlen;
	const char	*val;
	size_t		 vlen;
};

struct wq_entry {
	const char	*payload;
	size_t		 payload_len;
	const char	*plugin;	/* NULL: the queue's default */
	size_t		 plugin_len;
	const char	*id;		/* NULL: the entry ID */
	size_t		 id_len;
	int64_t		 timeout_ms;	/* -1: not given */
	int64_t		 retries;	/* -1: not given */
	int64_t		 due_ms;	/* Unix ms from at or delay; -1: now */
	int64_t		 expires_ms;	/* -1: never */
	uint32_t	 attempt;	/* 1 when not given */
};

/*
 * Decodes n fields.  push_ms is the entry ID's time (what delay counts
 * from).  Returns 0, or -1 with err like "field 'timeout': expected
 * milliseconds or a duration, got 'soon'".
 */
int	wq_entry_decode(struct wq_entry *e, const struct wq_field *f, size_t n,
	    uint64_t push_ms, int64_t max_payload, char *err, size_t errlen);

/* Nonzero if the field is one workqd itself reads or writes. */
int	wq_entry_reserved(const char *name, size_t len);

#endif /* WQ_ENTRY_H */
