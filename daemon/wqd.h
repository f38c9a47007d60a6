/*
 * The running daemon's parts, shared by the files of daemon/: daemon.c
 * builds and tears them down, stop.c runs the graceful stop, reload.c
 * applies a new config on SIGHUP, status.c keeps systemd informed.  Loop
 * thread only.
 */
#ifndef WQD_WQD_H
#define WQD_WQD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "broker.h"
#include "conf.h"
#include "daemon.h"
#include "exec.h"
#include "loop.h"
#include "queue.h"
#include "registry.h"
#include "worker.h"

struct event;
struct wqd_observe;
struct wqd_retired;

#define WQD_RATE_SAMPLES	10	/* seconds of throughput in STATUS= */

struct wqd {
	const struct wqd_options *opt;
	struct wq_conf		*conf;		/* the running config */
	const struct wq_conf	*broker_conf;	/* the broker's, maybe older */
	const struct wq_conf	*boot_conf;	/* what restart-only parts use */
	LIST_HEAD(, wqd_retired) retired;	/* older configs still lent */
	struct wq_loop		*loop;
	struct wq_exec		*exec;
	struct wq_registry	*reg;
	struct wq_queue		*local;
	struct wq_broker	*broker;
	struct wq_pool		*pool;
	struct wqd_observe	*observe;	/* observe.c */
	char			 consumer[256];
	char			 host[200];	/* gethostname(), or "localhost";
						   room left for ":instance" */
	struct event		*sig_term;
	struct event		*sig_int;
	struct event		*sig_hup;
	struct event		*status_ev;
	struct event		*watchdog_ev;
	struct event		*deadline_ev;
	int			 stopping;
	int			 stop_waits;
	int			 finished;
	int			 exit_code;
	int64_t			 stop_end_us;	/* EXTEND_TIMEOUT_USEC target */

	/* status.c */
	char			 status_sent[256];
	uint64_t		 rate_done[WQD_RATE_SAMPLES];
	int64_t			 rate_us[WQD_RATE_SAMPLES];
	unsigned		 rate_n;
};

/* stop.c: the graceful stop (SIGTERM, SIGINT); a second call exits at once. */
void	wqd_stop(struct wqd *d, const char *why);
/* stop.c: ends the loop (once); wqd_run then tears down and returns. */
void	wqd_finish(struct wqd *d);

/* status.c: STATUS= and WATCHDOG=1 timers. */
int	wqd_status_start(struct wqd *d);
void	wqd_status_stop(struct wqd *d);
/* status.c: sends `state` (a notify line such as "READY=1", or NULL) with
   the current STATUS= text, which is then not sent again unchanged. */
void	wqd_status_send(struct wqd *d, const char *state);

/* reload.c: SIGHUP.  Applies the config file anew, or keeps the running
   one and logs why. */
void	wqd_reload(struct wqd *d);
/* reload.c: at teardown, frees the older configs still kept. */
void	wqd_reload_fini(struct wqd *d);

#endif /* WQD_WQD_H */
