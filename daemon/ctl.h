/*
 * workqctl: the operator's command line.  It talks to Redis only (hiredis's
 * synchronous API), so it works with no daemon running; it reads the same
 * config file as workqd for the address, the credentials, the key prefix,
 * the group and the queues.
 *
 *   ctl.c          main: options, the command table, usage, exit codes
 *   ctl_redis.c    the connection and the commands' plumbing
 *   ctl_stats.c    stats            ctl_daemons.c   daemons
 *   ctl_push.c     push             ctl_dead.c      dead list|show|retry|purge
 *   ctl_sched.c    scheduled list
 *   ctl_json.c     a small JSON writer (--json)
 *   ctl_table.c    aligned text tables (the default)
 *
 * Everything is printed on stdout, errors on stderr; ctl_fail and
 * ctl_usage print and exit.
 */
#ifndef WQD_CTL_H
#define WQD_CTL_H

#include <stdint.h>
#include <stdio.h>

#include <hiredis/hiredis.h>

#include "conf.h"
#include "workqd/plugin.h"	/* WQ_PRINTF */

/* Exit codes (sysexits.h). */
#define CTL_EXIT_OK		0
#define CTL_EXIT_FAIL		1
#define CTL_EXIT_USAGE		64
#define CTL_EXIT_UNAVAILABLE	69
#define CTL_EXIT_CONFIG		78

#define CTL_DEFAULT_CONFIG	WQ_SYSCONFDIR "/workqd/workqd.yaml"
#define CTL_MAX_QUEUE_OPTS	64
#define CTL_BATCH		500	/* entries per script or range */

/* Options, as given (struct ctl's `used`). */
#define CTL_O_QUEUE	(1 << 0)
#define CTL_O_OLDER	(1 << 1)
#define CTL_O_LIMIT	(1 << 2)
#define CTL_O_ALL	(1 << 3)
#define CTL_O_FORCE	(1 << 4)

struct ctl {
	const char		*config;	/* the file read, or NULL */
	const char		*server;	/* -s, or NULL */
	int			 json;
	const char		*queue_opts[CTL_MAX_QUEUE_OPTS];	/* -q */
	size_t			 nqueue_opts;
	int64_t			 older_than_ms;	/* -1: not given */
	long			 limit;		/* 0: no limit */
	int			 all;
	int			 force;
	int			 used;		/* CTL_O_*: options given */
	struct wq_conf		*conf;		/* the file's, or defaults */
	const char		*prefix;
	const char		*group;
	redisContext		*rc;
	int			 argc;		/* the command's arguments */
	char			**argv;		/* argv[0]: the command */
};

/* Prints "workqctl: <message>" on stderr and exits with code. */
void	ctl_fail(int code, const char *fmt, ...) WQ_PRINTF(2, 3)
	    __attribute__((noreturn));
/* A usage error: the message and a hint, exit 64. */
void	ctl_usage(const char *fmt, ...) WQ_PRINTF(1, 2)
	    __attribute__((noreturn));

/* Exits 64 naming the first option given that `what` does not take. */
void	ctl_allow(const struct ctl *c, int allowed, const char *what);

/* ctl_redis.c: connects and authenticates, or exits (69, 78). */
void		 ctl_connect(struct ctl *c);
void		 ctl_disconnect(struct ctl *c);
/* A command; exits 69 when the connection fails.  An error reply is
   returned like any other (ctl_check makes it fatal).  Free the reply. */
redisReply	*ctl_cmd(struct ctl *c, const char *fmt, ...);
redisReply	*ctl_cmdv(struct ctl *c, int argc, const char **argv,
		    const size_t *lens);
/* Exits 1 with "what: error" if reply is an error reply. */
redisReply	*ctl_check(redisReply *reply, const char *what);
/* Pipelining: queue a command, then read its reply (in order). */
void		 ctl_append(struct ctl *c, const char *fmt, ...);
redisReply	*ctl_reply(struct ctl *c);
/* Redis's clock, Unix ms. */
int64_t		 ctl_now(struct ctl *c);
/* Key names (static buffers, valid until the next call of the same). */
const char	*ctl_stream_key(const struct ctl *c, const char *queue);
const char	*ctl_key(const struct ctl *c, const char *queue,
		    const char *what);
const char	*ctl_daemon_key(const struct ctl *c, const char *consumer);

/* The queues a command works on: its --queue options, or every queue of
   the config.  Exits 64 for a queue name that is not valid. */
struct ctl_queues {
	const char	**names;
	size_t		  n;
};
void	ctl_queues(struct ctl *c, const char **given, size_t ngiven,
	    struct ctl_queues *q);

/* Durations like 90s, 5m, 1h, 7d, or plain ms; exits 64 if malformed. */
int64_t	ctl_duration(const char *opt, const char *s);
/* "5m03s ago"-style ages and compact durations. */
void	ctl_age(char *buf, size_t len, int64_t ms);

/* ctl_redis.c: the value of field name among a reply's (field, value)
   pairs, which start at index first; NULL if absent.  A name given twice
   has its first value. */
const redisReply *ctl_field(const redisReply *f, size_t first,
		    const char *name);
/* Writes those pairs as the member "fields": {...} of j. */
struct ctl_json;
void	ctl_json_fields(struct ctl_json *j, const redisReply *f, size_t first);

/* ctl_json.c */
struct ctl_json {
	FILE		*f;
	int		 depth;
	unsigned char	 state[32];	/* per depth: 0 empty, 1 a value,
					   2 a key waiting for its value */
};

void	json_start(struct ctl_json *j, FILE *f);
void	json_finish(struct ctl_json *j);	/* the final newline */
void	json_open(struct ctl_json *j, int brace);	/* '{' or '[' */
void	json_close(struct ctl_json *j, int brace);	/* '}' or ']' */
void	json_key(struct ctl_json *j, const char *key);
void	json_str(struct ctl_json *j, const char *s, size_t len);
void	json_cstr(struct ctl_json *j, const char *s);
void	json_int(struct ctl_json *j, long long v);
void	json_num(struct ctl_json *j, double v);
void	json_null(struct ctl_json *j);

/* ctl_table.c */
struct ctl_table;

/* heads: NULL-terminated; align: one 'l' or 'r' a column. */
struct ctl_table	*table_new(const char *const *heads, const char *align);
/* The next cell, printf-style; a row ends after the last column.
   Control characters become '?' and long cells are cut at width. */
void			 table_cell(struct ctl_table *t, const char *fmt, ...)
			    WQ_PRINTF(2, 3);
/* A cell from bytes that may hold anything (payloads, errors). */
void			 table_bytes(struct ctl_table *t, const char *s,
			    size_t len);
/* Prints and frees. */
void			 table_print(struct ctl_table *t, FILE *f);

/* A command's list of items on stdout: a table, or with --json the
   document {"<name>": [...]}, whose items the caller writes into j. */
struct ctl_list {
	struct ctl_json		 j;	/* with --json */
	struct ctl_table	*t;	/* otherwise; NULL with --json */
};
void	ctl_list_begin(struct ctl_list *l, const struct ctl *c,
	    const char *name, const char *const *heads, const char *align);
/* Prints the table, or closes the JSON document. */
void	ctl_list_end(struct ctl_list *l);

/* The commands: each returns the exit code. */
int	ctl_stats(struct ctl *c);
int	ctl_daemons(struct ctl *c);
int	ctl_push(struct ctl *c);
int	ctl_dead(struct ctl *c);
int	ctl_scheduled(struct ctl *c);

#endif /* WQD_CTL_H */
