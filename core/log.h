/*
 * Logging: one line per message on stderr, prefixed with its syslog
 * priority ("<4>redis: reconnect in 400ms: Connection refused"), which
 * journald turns into the entry's priority.  With format json each line is
 * one JSON object instead.  Messages start with their subsystem.
 *
 * Any thread may log: a line is built in a local buffer and written with
 * one write(2), so lines from threads never interleave.
 */
#ifndef WQ_LOG_H
#define WQ_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include "workqd/plugin.h"	/* WQ_LOG_ERR .. WQ_LOG_DEBUG, WQ_PRINTF */

enum wq_log_format {
	WQ_LOG_JOURNAL = 0,	/* "<6>text" */
	WQ_LOG_JSON		/* {"priority":6,"message":"text",...} */
};

/* What a job line carries besides its text; NULL/0 members are left out. */
struct wq_log_job {
	const char	*id;
	const char	*queue;
	const char	*plugin;
	uint32_t	 attempt;
	int64_t		 duration_ms;	/* < 0: not known */
	const char	*outcome;
};

/* Any thread; takes effect for the next line. */
void	wq_log_set_level(int level);
void	wq_log_set_format(enum wq_log_format format);
int	wq_log_level(void);
/* Parses "err", "warning", "notice", "info", "debug"; -1 if unknown. */
int	wq_log_parse_level(const char *name);
/* The length of the well-formed UTF-8 sequence at s, of at most avail
   bytes (RFC 3629: no overlong forms, no surrogates, nothing above
   U+10FFFF; ASCII is 1), or 0.  A NUL-terminated s may pass SIZE_MAX:
   the NUL ends any sequence.  Any thread. */
size_t	wq_log_utf8_len(const unsigned char *s, size_t avail);

/* Any thread. */
void	wq_log(int prio, const char *fmt, ...) WQ_PRINTF(2, 3);
void	wq_logv(int prio, const char *fmt, va_list ap) WQ_PRINTF(2, 0);
/* Any thread: a line about one job (json gets the job's fields as keys). */
void	wq_log_job(int prio, const struct wq_log_job *job, const char *fmt, ...)
	    WQ_PRINTF(3, 4);

#endif /* WQ_LOG_H */
