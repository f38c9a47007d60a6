/*
 * <workqd/plugin.h>: the one header a workqd job handler includes.
 *
 * A plugin is a shared object that exports one data descriptor named
 * `workqd_plugin` (use WQ_PLUGIN below).  workqd checks the descriptor's ABI
 * number and size by reading the file before it loads it, then checks the
 * name and the handlers, and refuses the file with a message that names it
 * and the reason.  Build one with
 *
 *   cc -shared -fPIC $(pkg-config --cflags workqd) p.c -o p.so
 *
 * A plugin calls workqd only through the host table, never by symbol, so
 * it also links with `$(pkg-config --libs workqd)` (-z defs: every symbol
 * resolved at build time; -z noexecstack), as workqd's own plugins do.
 *
 * A plugin has exactly one handler, chosen the way asyncio code chooses
 * between `def` run through `to_thread` and `async def`:
 *
 *   run    blocking: called on an executor thread; returns the outcome.
 *          It may block (sleep, read files, talk to a database), and
 *          should poll host->job_cancelled() while it does.
 *   start  async: called on the event loop thread; must not block.  It
 *          either returns an outcome at once or returns WQ_PENDING and calls
 *          host->complete() exactly once later, from any thread.
 *
 * Threads.  workqd has one loop thread that owns Redis I/O, timers and
 * signals, and a fixed pool of executor threads.  conf_check, init, fini,
 * start and cancel run on the loop thread; run runs on an executor thread,
 * several at once for different jobs: state shared between runs needs a
 * lock.  Each host function below says which thread may call it.
 *
 * Ownership.  Everything workqd hands a plugin is borrowed: a job is valid
 * until the plugin completes it (run returns, or complete() is called, even
 * after a timeout); a config node and the strings read from it are valid
 * until fini (in conf_check, until it returns).  Copy what you keep longer.
 * Nothing a plugin hands workqd is kept after the call: strings passed to
 * log, job_error and job_progress are copied.
 *
 * Outcomes.  Report why a job failed with job_error() before completing
 * it: the text goes to the log and, for a job that ends in the dead
 * letters, into its dead.error field.  WQ_FAIL retries with the queue's
 * backoff; WQ_RETRY retries after job_retry_in()'s delay when one was set;
 * both count as an attempt, and a job out of retries goes to the dead
 * letters.  WQ_DEAD skips the remaining retries.  A job that times out is
 * failed by workqd (error "timed out after N ms") whatever the handler
 * reports later.
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
			   was set, else after the backoff; counts as an
			   attempt, like WQ_FAIL */
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
 * fake one.  The table is valid from conf_check or init until the process
 * ends: keeping the pointer in a static is fine.  A function added after
 * ABI 1 is marked "appended"; check WQ_HOST_HAS(host, name) before calling
 * it, so the plugin also runs on an older workqd.
 */
struct wq_host {
	uint32_t abi;
	uint32_t size;

	/* Logging.  Any thread.  One line, prefixed with the plugin's name
	   ("<6>myplugin: ..."); prio is one of WQ_LOG_*.  Say which job a
	   line is about: "job %s: ...", host->job_id(job). */
	void	(*log)(int prio, const char *fmt, ...) WQ_PRINTF(2, 3);

	/*
	 * Config getters, for conf_check() and init() only (loop thread).
	 * They read `key` of a mapping node.  Each returns 0 and sets *val when
	 * the key is there and has the right type, 1 when it is absent (*val
	 * untouched, so set your default first), and -1 when it is there but
	 * wrong; then workqd has recorded "file:line:column: message" and the
	 * plugin should return -1.  Strings are NUL-terminated and borrowed
	 * until fini (in conf_check, until it returns).  Integers, booleans
	 * and durations must be plain scalars.  Durations accept 250ms, 30s,
	 * 5m, 1h, 7d or a number of ms.
	 */
	int	(*conf_str)(const struct wq_node *map, const char *key,
		    const char **val);
	int	(*conf_int)(const struct wq_node *map, const char *key,
		    int64_t *val);
	int	(*conf_bool)(const struct wq_node *map, const char *key,
		    int *val);
	int	(*conf_ms)(const struct wq_node *map, const char *key,
		    int64_t *val);
	/* A sequence of strings: fills up to max borrowed pointers and sets
	   *n; more than max items is an error. */
	int	(*conf_strv)(const struct wq_node *map, const char *key,
		    const char **val, size_t max, size_t *n);
	/* Refuses any key of map not in the NULL-terminated list `known`:
	   call it first, so a misspelt key is an error, not a default. */
	int	(*conf_keys)(const struct wq_node *map,
		    const char *const *known);
	/* Records "file:line:column: message" at node (the first error
	   recorded wins); returns -1 for convenience.  Use it for a value
	   that has the right type but a wrong meaning. */
	int	(*conf_error)(const struct wq_node *node, const char *fmt, ...)
		    WQ_PRINTF(2, 3);

	/*
	 * Job accessors.  Any thread, while the plugin holds the job (from
	 * run or start until it completes the job).  Strings are borrowed
	 * like the job and NUL-terminated (values may also contain NUL
	 * bytes: use the length).
	 */
	const char	*(*job_id)(const struct wq_job *job);
	const char	*(*job_queue)(const struct wq_job *job);
	const char	*(*job_payload)(const struct wq_job *job, size_t *len);
	/* A field of the stream entry by name (the first one if the name
	   repeats), or NULL.  len may be NULL. */
	const char	*(*job_field)(const struct wq_job *job,
			    const char *name, size_t *len);
	/* The i-th field (0-based), in the entry's order, payload included;
	   returns -1 past the last one. */
	int		 (*job_field_at)(const struct wq_job *job, size_t i,
			    const char **name, const char **val, size_t *vlen);
	/* 1 for the first run, 2 for the first retry, and so on. */
	uint32_t	 (*job_attempt)(const struct wq_job *job);
	/* When the job times out, in Unix milliseconds (wall clock). */
	int64_t		 (*job_deadline)(const struct wq_job *job);
	/* Nonzero once the job timed out, or workqd is stopping and will
	   not wait for it any longer: finish now.  Blocking handlers should
	   poll it (every 50 ms or so: it is an atomic read); workqd cannot
	   interrupt a running run().  A handler that gives up because of a
	   stop should return WQ_RETRY: the job is then handed back at once
	   for another daemon, without counting an attempt. */
	int		 (*job_cancelled)(const struct wq_job *job);

	/*
	 * Reporting.  The thread that holds the job, before completing it
	 * (before run returns, or before complete()).  job_error sets the
	 * text logged and stored in dead.error (at most 255 bytes kept; the
	 * last call wins).  job_retry_in sets the delay of a WQ_RETRY.
	 */
	void	(*job_error)(struct wq_job *job, const char *fmt, ...)
		    WQ_PRINTF(2, 3);
	void	(*job_retry_in)(struct wq_job *job, int64_t ms);
	/* Progress of a long job, logged as "job <id>: 40%: resizing"; what
	   may be NULL. */
	void	(*job_progress)(struct wq_job *job, int percent,
		    const char *what);

	/*
	 * Completes a job whose start() returned WQ_PENDING.  Any thread,
	 * exactly once, also after cancel() (the outcome is then ignored,
	 * but the call is still owed: it releases the job).  The job must
	 * not be touched afterwards.  A second call is logged and ignored.
	 */
	void	(*complete)(struct wq_job *job, enum wq_outcome outcome);

	/*
	 * run_in_executor: runs fn(arg) on an executor thread, then done(arg)
	 * (if not NULL) on the loop thread.  Loop thread only.  Returns -1
	 * when the executor's submission queue is full or workqd is stopping
	 * (try again later, or complete the job with WQ_RETRY).  The work is
	 * not tied to a job: a cancelled job's fn still runs, and the plugin
	 * still owes the job one complete(), from fn or from done.  arg is
	 * the plugin's, untouched by workqd.
	 */
	int	(*submit)(void (*fn)(void *arg), void (*done)(void *arg),
		    void *arg);

	/*
	 * One-shot timer on the loop: cb(arg) runs on the loop thread after
	 * ms.  Loop thread only.  Returns NULL when out of memory.  The timer
	 * is freed when it fires or is cancelled: do not cancel it from its
	 * own callback or after it fired.
	 */
	struct wq_timer	*(*timer_add)(int64_t ms, void (*cb)(void *arg),
			    void *arg);
	void		 (*timer_cancel)(struct wq_timer *timer);

	/* The loop's struct event_base, for plugins doing their own I/O on
	   the loop with libevent (link with libevent too).  Loop thread only;
	   NULL under workqd -t, where nothing runs. */
	void	*(*event_base)(void);

	/*
	 * Appended (after the first release of ABI 1): check WQ_HOST_HAS.
	 *
	 * conf_node: the value node of key in map, or NULL if absent; for
	 * positioning conf_error at a value, and for reading a nested
	 * mapping with the getters above.  conf_strmap: a mapping of strings
	 * ({Name: value}), like conf_strv: fills up to max borrowed names
	 * and values in the file's order and sets *n; more than max pairs or
	 * a value that is not a string is an error (a null value reads as "").
	 */
	const struct wq_node *(*conf_node)(const struct wq_node *map,
			    const char *key);
	int	(*conf_strmap)(const struct wq_node *map, const char *key,
		    const char **names, const char **vals, size_t max,
		    size_t *n);
};

/* Nonzero if the host table has function f (a field added after ABI 1). */
#define WQ_HOST_HAS(host, f)						\
	((host)->size >= offsetof(struct wq_host, f) +			\
	    sizeof((host)->f) && (host)->f != NULL)

/*
 * The descriptor.  Export it with WQ_PLUGIN(...).  Set exactly one of run
 * and start; every other entry point may be NULL.
 */
struct wq_plugin {
	uint32_t	 abi;		/* WQ_PLUGIN_ABI */
	uint32_t	 size;		/* sizeof(struct wq_plugin) */
	const char	*name;		/* unique among loaded plugins */
	const char	*version;
	int64_t		 timeout_ms;	/* default job timeout; 0: 30 s.  The
					   queue's and the job's own win. */

	/* workqd -t: validate conf (the plugin's own subtree, an empty
	   mapping when absent) without side effects.  Loop thread.  0 or -1.
	   workqd runs it before init too, so init may assume a valid conf. */
	int	(*conf_check)(const struct wq_host *host,
		    const struct wq_node *conf);
	/* Set up; *state is handed back to every call.  Loop thread.  0, or
	   -1 to refuse to start (record why with conf_error or log).  The
	   loop is not running yet: timers and submit wait for it. */
	int	(*init)(const struct wq_host *host, const struct wq_node *conf,
		    void **state);
	/* Tear down after the last job of this instance.  Loop thread. */
	void	(*fini)(void *state);

	/* Blocking handler: executor thread, several at once. */
	enum wq_outcome	(*run)(void *state, struct wq_job *job);
	/* Async handler: loop thread, must not block. */
	enum wq_outcome	(*start)(void *state, struct wq_job *job);
	/*
	 * Async only: the job timed out.  Loop thread, at most once per job.
	 * Stop the work, then call complete() (at once, or later).  It may
	 * come for a job the plugin has just completed, when the timeout and
	 * the completion meet on the same loop turn: then do nothing more.
	 * A stopping workqd does not call it: it waits for running jobs up
	 * to shutdown_timeout, then sets job_cancelled and exits.
	 */
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
