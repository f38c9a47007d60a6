/*
 * Clocks.  Monotonic time measures durations and arms timers; wall time
 * (Unix milliseconds) is only for what users see and for job fields that
 * carry times (at, expires).
 */
#ifndef WQ_CLOCK_H
#define WQ_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
wq_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Monotonic microseconds.  Any thread. */
static inline int64_t
wq_clock_mono_us(void)
{
	return wq_clock_ns(CLOCK_MONOTONIC) / 1000;
}

/* Monotonic microseconds at the kernel tick's resolution (1 to 4 ms):
   a few ns to read, for measuring what is counted in tens of ms. */
static inline int64_t
wq_clock_coarse_us(void)
{
	return wq_clock_ns(CLOCK_MONOTONIC_COARSE) / 1000;
}

/* Monotonic milliseconds.  Any thread. */
static inline int64_t
wq_clock_mono_ms(void)
{
	return wq_clock_ns(CLOCK_MONOTONIC) / 1000000;
}

/* Unix time in milliseconds.  Any thread. */
static inline int64_t
wq_clock_wall_ms(void)
{
	return wq_clock_ns(CLOCK_REALTIME) / 1000000;
}

/* Fills a struct timeval for libevent from milliseconds. */
#define WQ_TV_MS(ms)	{ .tv_sec = (ms) / 1000, .tv_usec = ((ms) % 1000) * 1000 }

#endif /* WQ_CLOCK_H */
