/*
 * The event loop: one libevent event_base and the thread that runs it.
 *
 * Everything on the loop (queues, workers, Redis contexts, every struct
 * event) belongs to the loop thread.  Two ways in:
 *
 *   wq_loop_soon   loop thread: run a call after the current callback
 *                  returns (asyncio's call_soon), so a wakeup never runs
 *                  inside the function that caused it;
 *   wq_loop_post   any thread: run a call on the loop thread (asyncio's
 *                  call_soon_threadsafe), with one coalesced wakeup.
 *
 * A wq_call is embedded in its owner's struct: queuing never allocates.
 * The loop also watches for stalls: code that runs plugin callbacks wraps
 * them in wq_loop_enter/wq_loop_leave, and a callback that holds the loop
 * longer than the stall threshold is logged with its plugin and job.
 */
#ifndef WQ_LOOP_H
#define WQ_LOOP_H

#include <stdint.h>
#include <sys/queue.h>

struct event_base;
struct wq_loop;

struct wq_call {
	TAILQ_ENTRY(wq_call)	 link;
	void			(*fn)(struct wq_call *call);
	int			 queued;	/* 1: soon list, 2: posted */
};

TAILQ_HEAD(wq_call_list, wq_call);

/* Returns NULL with errno set. */
struct wq_loop		*wq_loop_new(void);
/* Loop thread, after wq_loop_run returned; pending calls are dropped. */
void			 wq_loop_free(struct wq_loop *loop);
struct event_base	*wq_loop_base(struct wq_loop *loop);

/* Runs until wq_loop_stop; 0 or -1. */
int	wq_loop_run(struct wq_loop *loop);
/* Loop thread: wq_loop_run returns after the current callback. */
void	wq_loop_stop(struct wq_loop *loop);
/* Runs one turn of the loop, blocking at most timeout_ms (tests). */
int	wq_loop_step(struct wq_loop *loop, int timeout_ms);

/* Loop thread.  call must stay valid until it ran or was cancelled;
   queuing an already queued call does nothing.  Only soon calls can be
   cancelled. */
void	wq_loop_soon(struct wq_loop *loop, struct wq_call *call);
void	wq_loop_cancel(struct wq_loop *loop, struct wq_call *call);
/* Any thread.  call must stay valid until it ran. */
void	wq_loop_post(struct wq_loop *loop, struct wq_call *call);

/* Stall detector.  Loop thread.  plugin and job are borrowed for the
   duration of the callback; a threshold <= 0 turns it off. */
void	wq_loop_set_stall(struct wq_loop *loop, int64_t threshold_ms);
void	wq_loop_enter(struct wq_loop *loop, const char *plugin,
	    const char *job);
void	wq_loop_leave(struct wq_loop *loop);
/* Stalls seen so far (metrics) and the longest one in ms. */
uint64_t wq_loop_stalls(const struct wq_loop *loop, int64_t *max_ms);

#endif /* WQ_LOOP_H */
