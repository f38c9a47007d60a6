/*
 * <workqd/plugin.h>: the one header a workqd job handler includes.
 *
 * A plugin is a shared object that exports one data descriptor named
 * `workqd_plugin` (use WQ_PLUGIN below).  workqd checks the descriptor's ABI
 * number and size by reading the file before it loads it, then checks the
 * name and the handlers, and refuses the file with a message that names it
 * and the reason.
 *
 * A plugin has exactly one handler, chosen the way asyncio code chooses
 * between `def` run through `to_thread` and `async def`:
 *
 *   run    blocking: called on an executor thread; returns the outcome.
 *          It may block (sleep, read files, talk to a database).
 *   start  async: called on the event loop thread; must not block.  It
 *          either returns an outcome at once or returns WQ_PENDING and calls
 *          host->complete() exactly once later, from any thread.
 *
 * Threads.  workqd has one loop thread that owns Redis I/O, timers and
 * signals, and a fixed pool of executor threads.  Each prototype below says
 * which thread may call it.
 *
 * Ownership.  Everything workqd hands a plugin is borrowed: a job is valid
 * until the plugin completes it (run returns, or complete() is called); a
 * config node is valid until fini.  Copy what you keep longer.  Nothing a
 * plugin hands workqd is kept after the call.
 *
 * Growth.  Structs grow only by appending fields; `size` tells each side how
 * much the other knows.  WQ_PLUGIN_ABI changes only for incompatible changes.
 */
#ifndef WORKQD_PLUGIN_H
#define WORKQD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WQ_PLUGIN_ABI	1

#if defined(__GNUC__)
#define WQ_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#else
#define WQ_PRINTF(f, a)
#endif

/* What became of a job.  Outcomes, not errno values. */
enum wq_outcome {
	WQ_DONE = 0,	/* finished: the entry is acknowledged and removed */
	WQ_FAIL,	/* failed: retried with backoff while retries remain,
			   then dead-lettered */
	WQ_RETRY,	/* asks for a retry, after job_retry_in()'s delay if one
			   was set, else after the backoff */
	WQ_DEAD,	/* failed for good: dead-lettered now, never retried */
	WQ_PENDING	/* start() only: complete() will be called later */
};

/* syslog priorities, as journald reads them. */
enum {
	WQ_LOG_ERR = 3,
	WQ_LOG_WARNING = 4,
	WQ_LOG_NOTICE = 5,
	WQ_LOG_INFO = 6,
	WQ_LOG_DEBUG = 7
};

struct wq_job;		/* a job, borrowed while the handler holds it */
struct wq_node;		/* a node of the YAML config, borrowed until fini */
struct wq_timer;	/* a one-shot timer on the loop */

/*
 * The host table: everything workqd offers a plugin.  Plugins link with
 * -z defs and call workqd only through this table, so tests can hand them a
 * fake one.  Check host->size before using a field added after ABI 1.
 */
struct wq_host {
	uint32_t abi;
	uint32_t size;

	/* Logging.  Any thread.  One line, prefixed with the plugin's name. */
	void	(*log)(int prio, const char *fmt, ...) WQ_PRINTF(2, 3);

	/*
	 * Config getters, for conf_check() and init() only (loop thread).
	 * They read `key` of a mapping node.  Each returns 0 and sets *val when
	 * the key is there and has the right type, 1 when it is absent (*val
	 * untouched, so set your default first), and -1 when it is there but
	 * wrong; then workqd has recorded "file:line:column: message" and the
	 * plugin should return -1.  Strings are NUL-terminated and borrowed
	 * until fini.  Durations accept 250ms, 30s, 5m, 1h or a number of ms.
	 */
	int	(*conf_str)(const struct wq_node *map, const char *key,
		    const char **val);
	int	(*conf_int)(const struct wq_node *map, const char *key,
		    int64_t *val);
	int	(*conf_bool)(const struct wq_node *map, const char *key,
		    int *val);
	int	(*conf_ms)(const struct wq_node *map, const char *key,
		    int64_t *val);
	/* A sequence of strings: fills up to max borrowed pointers. */
	int	(*conf_strv)(const struct wq_node *map, const char *key,
		    const char **val, size_t max, size_t *n);
	/* Refuses any key of map not in the NULL-terminated list `known`. */
	int	(*conf_keys)(const struct wq_node *map,
		    const char *const *known);
	/* Records a positioned error about node; returns -1 for convenience. */
	int	(*conf_error)(const struct wq_node *node, const char *fmt, ...)
		    WQ_PRINTF(2, 3);

	/*
	 * Job accessors.  Any thread that holds the job.  Strings are
	 * NUL-terminated (values may also contain NUL bytes: use the length).
	 */
	const char	*(*job_id)(const struct wq_job *job);
	const char	*(*job_queue)(const struct wq_job *job);
	const char	*(*job_payload)(const struct wq_job *job, size_t *len);
	/* A field of the stream entry by name, or NULL. */
	const char	*(*job_field)(const struct wq_job *job,
			    const char *name, size_t *len);
	/* The i-th field (0-based); returns -1 past the last one. */
	int		 (*job_field_at)(const struct wq_job *job, size_t i,
			    const char **name, const char **val, size_t *vlen);
	/* 1 for the first run, 2 for the first retry, and so on. */
	uint32_t	 (*job_attempt)(const struct wq_job *job);
	/* When the job times out, in Unix milliseconds. */
	int64_t		 (*job_deadline)(const struct wq_job *job);
	/* Nonzero once the job timed out or workqd is stopping: finish soon.
	   Blocking handlers should poll it; it is an atomic read. */
	int		 (*job_cancelled)(const struct wq_job *job);

	/* Reporting.  The thread that holds the job, before completing it. */
	void	(*job_error)(struct wq_job *job, const char *fmt, ...)
		    WQ_PRINTF(2, 3);
	void	(*job_retry_in)(struct wq_job *job, int64_t ms);
	/* Progress of a long job, logged as "job <id>: 40%: resizing". */
	void	(*job_progress)(struct wq_job *job, int percent,
		    const char *what);

	/*
	 * Completes a job whose start() returned WQ_PENDING.  Any thread,
	 * exactly once, also after cancel() (the outcome is then ignored).
	 * The job must not be touched afterwards.
	 */
	void	(*complete)(struct wq_job *job, enum wq_outcome outcome);

	/*
	 * run_in_executor: runs fn(arg) on an executor thread, then done(arg)
	 * on the loop thread.  Loop thread only.  Returns -1 when the
	 * executor's submission queue is full (try again later, or fail).
	 */
	int	(*submit)(void (*fn)(void *arg), void (*done)(void *arg),
		    void *arg);

	/* One-shot timer on the loop.  Loop thread only.  The timer is freed
	   when it fires or is cancelled; do not cancel it after it fired. */
	struct wq_timer	*(*timer_add)(int64_t ms, void (*cb)(void *arg),
			    void *arg);
	void		 (*timer_cancel)(struct wq_timer *timer);

	/* The loop's struct event_base, for plugins doing their own I/O on
	   the loop with libevent.  Loop thread only. */
	void	*(*event_base)(void);
};

/*
 * The descriptor.  Export it with WQ_PLUGIN(...).  Set exactly one of run
 * and start.
 */
struct wq_plugin {
	uint32_t	 abi;		/* WQ_PLUGIN_ABI */
	uint32_t	 size;		/* sizeof(struct wq_plugin) */
	const char	*name;		/* unique among loaded plugins */
	const char	*version;
	int64_t		 timeout_ms;	/* default job timeout; 0: 30 s */

	/* workqd -t: validate conf (the plugin's own subtree, an empty
	   mapping when absent) without side effects.  Loop thread.  0 or -1. */
	int	(*conf_check)(const struct wq_host *host,
		    const struct wq_node *conf);
	/* Set up; *state is handed back to every call.  Loop thread. */
	int	(*init)(const struct wq_host *host, const struct wq_node *conf,
		    void **state);
	/* Tear down after the last job of this instance.  Loop thread. */
	void	(*fini)(void *state);

	/* Blocking handler: executor thread. */
	enum wq_outcome	(*run)(void *state, struct wq_job *job);
	/* Async handler: loop thread, must not block. */
	enum wq_outcome	(*start)(void *state, struct wq_job *job);
	/* Async only: the job timed out or workqd is stopping.  Loop thread.
	   Stop the work, then call complete() (at once, or later). */
	void		(*cancel)(void *state, struct wq_job *job);
};

#define WQ_PLUGIN_SYMBOL	"workqd_plugin"

#define WQ_PLUGIN(...)							\
	extern const struct wq_plugin workqd_plugin;			\
	__attribute__((visibility("default")))				\
	const struct wq_plugin workqd_plugin = {			\
		.abi = WQ_PLUGIN_ABI,					\
		.size = sizeof(struct wq_plugin),			\
		__VA_ARGS__						\
	}

#ifdef __cplusplus
}
#endif

#endif /* WORKQD_PLUGIN_H */
