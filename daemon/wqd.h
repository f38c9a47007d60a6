/*
 * The running daemon's parts, shared by the files of daemon/: daemon.c
 * builds and tears them down, stop.c runs the graceful stop, status.c
 * keeps systemd informed.  Loop thread only.
 */
#ifndef WQD_WQD_H
#define WQD_WQD_H

#include <stdint.h>

#include "broker.h"
#include "conf.h"
#include "daemon.h"
#include "exec.h"
#include "loop.h"
#include "queue.h"
#include "registry.h"
#include "worker.h"

struct event;

struct wqd {
	const struct wqd_options *opt;
	struct wq_conf		*conf;
	struct wq_loop		*loop;
	struct wq_exec		*exec;
	struct wq_registry	*reg;
	struct wq_queue		*local;
	struct wq_broker	*broker;
	struct wq_pool		*pool;
	char			 consumer[256];
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
	uint64_t		 last_acked;
	int64_t			 last_status_us;
};

/* stop.c: the graceful stop (SIGTERM, SIGINT); a second call exits at once. */
void	wqd_stop(struct wqd *d, const char *why);
/* stop.c: ends the loop (once); wqd_run then tears down and returns. */
void	wqd_finish(struct wqd *d);

/* status.c: STATUS= and WATCHDOG=1 timers. */
int	wqd_status_start(struct wqd *d);
void	wqd_status_stop(struct wqd *d);

#endif /* WQD_WQD_H */
