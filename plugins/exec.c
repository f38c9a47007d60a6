/*
 * exec: a blocking handler that runs a configured command for each job.
 *
 *   plugins:
 *     exec:
 *       command: [/usr/local/bin/resize, --quality, "80"]   # required
 *       grace: 5s           # SIGTERM, then SIGKILL this much later
 *       output_max: 4096    # bytes of stdout+stderr logged per job
 *       env: {LANG: C.UTF-8}
 *       cwd: /var/lib/resize
 *
 * The command runs without a shell: argv[0] is an absolute path, and the
 * job's data never becomes part of a command line.  The payload goes to
 * the command's stdin; the job's fields go into its environment:
 *
 *   WORKQ_JOB_ID, WORKQ_QUEUE, WORKQ_ATTEMPT, WORKQ_DEADLINE (Unix ms), and
 *   WORKQ_FIELD_<NAME> for every field but the payload, NAME uppercased
 *   with every byte that is not a letter or digit turned into '_' (a value
 *   holding a NUL byte or longer than 32 KiB is left out, as is a name
 *   seen before), plus PATH=/usr/bin:/bin and what `env:` sets.  Nothing
 *   else of workqd's environment is passed on.
 *
 * Exit status 0 is done; 75 (EX_TEMPFAIL, sysexits.h) asks for a retry;
 * anything else fails the job with "exit status N: <last line of stderr>".
 * stdout and stderr are logged line by line with the job id, at most
 * output_max bytes per job.
 *
 * DESIGN: run() happens on an executor thread and owns one child for its
 * whole life.  The child is spawned with posix_spawn into a process group
 * of its own, with every signal at its default and none blocked (executor
 * threads block them all, and a child would inherit that), stdin, stdout
 * and stderr on pipes, and every other descriptor closed.  One poll loop
 * then feeds the payload to stdin, reads stdout and stderr, and watches
 * the job: when it is cancelled (a timeout, or workqd stopping), the group
 * gets SIGTERM, and SIGKILL `grace` later.  The
 * loop notices the child's exit with waitid(WNOWAIT), which leaves it a
 * zombie: while it is one, its pid, which is also the group's id, cannot be
 * reused, so the SIGKILL that then goes to the whole group (whatever the
 * command left behind) cannot hit a stranger.  Only then is the child
 * reaped.  So no zombie and no orphan remain, except a process that left
 * the group on purpose (setsid, setpgid): that is out of this plugin's
 * reach, like a double fork out of a systemd unit without cgroups.
 *
 * workqd may exit with commands still running: a stop whose
 * shutdown_timeout ran out ends the process while executor threads are
 * inside run().  So every running child is on a list, and the plugin's
 * destructor (run by exit, after main, and by dlclose) sends SIGKILL to
 * each one's group, and to any spawned after: the commands do not outlive
 * workqd.  A child leaves the list before it is reaped, while its group id
 * is still its own.  (A destructor rather than atexit: an atexit handler
 * registered by a shared object outlives its dlclose under sanitizers.)
 *
 * A write to a pipe whose reader is gone raises SIGPIPE, which would kill
 * workqd.  Executor threads block it, and run() blocks it itself around
 * the loop so that the plugin is safe on any thread; a SIGPIPE raised by our
 * own write is then taken off the thread's pending set with sigtimedwait.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1		/* vasprintf, pipe2, posix_spawn's _np */
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <workqd/plugin.h>

#define ARGS_MAX	64		/* items of command */
#define ENV_MAX		64		/* entries of env */
#define FIELD_MAX	(32 * 1024)	/* longest field value passed on */
#define LINE_MAX_LEN	1024		/* longer lines are logged in pieces */
#define ERRLINE_MAX	160		/* stderr line kept for the error */
#define TICK_MS		50		/* how often cancellation is polled */
#define DRAIN_MS	200		/* output read after the child exited */
#define EX_TEMPFAIL	75

static const struct wq_host *host;

/* The children running now, for the kill at exit (see DESIGN). */
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, child) running = LIST_HEAD_INITIALIZER(running);
static int exiting;

struct exec_conf {
	const char	*argv[ARGS_MAX + 1];
	const char	*env_names[ENV_MAX];
	const char	*env_vals[ENV_MAX];
	size_t		 nenv;
	const char	*cwd;		/* NULL: workqd's */
	int64_t		 grace_ms;
	int64_t		 output_max;
};

/* One of the child's output pipes, split into lines. */
struct out {
	int		 fd;		/* -1 once at EOF */
	const char	*name;		/* "stdout" or "stderr" */
	int		 prio;
	size_t		 len;
	char		 line[LINE_MAX_LEN];
};

/* One run of the command. */
struct child {
	LIST_ENTRY(child)	 link;		/* on running, while listed */
	int			 listed;
	const struct exec_conf	*conf;
	struct wq_job		*job;
	pid_t			 pid;		/* also the process group */
	int			 in;		/* stdin's write end, or -1 */
	const char		*payload;
	size_t			 left;		/* payload bytes not written */
	struct out		 out[2];
	int64_t			 logged;	/* output bytes logged */
	int			 truncated;
	char			 errline[ERRLINE_MAX];
	int			 epipe;		/* our write raised SIGPIPE */
	int			 cancelled;	/* signalled: job_cancelled */
	int64_t			 kill_at;	/* SIGKILL due (monotonic ms);
						   0: no SIGTERM yet, -1: sent */
	int			 exited;	/* a zombie, not reaped yet */
	int64_t			 drain_until;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Configuration. */

static int
env_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
	    *s == '_'))
		return 0;
	for (s++; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/*
 * A positioned complaint about the value of key (or, with sub, about the
 * value of sub in the mapping under key); about the whole map on an old
 * workqd without conf_node.  Returns -1.
 */
static int
bad(const struct wq_node *conf, const char *key, const char *sub,
    const char *fmt, ...) WQ_PRINTF(4, 5);

static int
bad(const struct wq_node *conf, const char *key, const char *sub,
    const char *fmt, ...)
{
	const struct wq_node *at = conf, *n;
	char msg[512];
	va_list ap;

	if (WQ_HOST_HAS(host, conf_node) &&
	    (n = host->conf_node(conf, key)) != NULL) {
		at = n;
		if (sub != NULL && (n = host->conf_node(at, sub)) != NULL)
			at = n;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sub != NULL)
		return host->conf_error(at, "%s: %s: %s", key, sub, msg);
	return host->conf_error(at, "%s: %s", key, msg);
}

static int
check_command(const struct wq_node *conf, const char *path)
{
	struct stat st;

	if (path[0] != '/')
		return bad(conf, "command", NULL, "%s: must be an absolute "
		    "path (no shell, no PATH search)", path);
	if (stat(path, &st) < 0 || (S_ISREG(st.st_mode) &&
	    access(path, X_OK) < 0))
		return bad(conf, "command", NULL, "%s: %s", path,
		    strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bad(conf, "command", NULL, "%s: not a regular file",
		    path);
	return 0;
}

static int
check_env(const struct wq_node *conf, struct exec_conf *c)
{
	if (!WQ_HOST_HAS(host, conf_strmap)) {
		if (WQ_HOST_HAS(host, conf_node) &&
		    host->conf_node(conf, "env") == NULL)
			return 0;
		return host->conf_error(conf, "env: this workqd is too old "
		    "to read it");
	}
	if (host->conf_strmap(conf, "env", c->env_names, c->env_vals,
	    ENV_MAX, &c->nenv) < 0)
		return -1;
	for (size_t i = 0; i < c->nenv; i++) {
		if (!env_name_ok(c->env_names[i]))
			return bad(conf, "env", c->env_names[i], "not a "
			    "variable name ([A-Za-z_][A-Za-z0-9_]*)");
		if (strncmp(c->env_names[i], "WORKQ_", 6) == 0)
			return bad(conf, "env", c->env_names[i], "WORKQ_ "
			    "names are set by workqd");
	}
	return 0;
}

static int
parse(const struct wq_node *conf, struct exec_conf *c)
{
	static const char *const known[] = {
		"command", "grace", "output_max", "env", "cwd", NULL
	};
	struct stat st;
	size_t argc = 0;
	int r;

	memset(c, 0, sizeof(*c));
	c->grace_ms = 5000;
	c->output_max = 4096;
	if (host->conf_keys(conf, known) < 0 ||
	    (r = host->conf_strv(conf, "command", c->argv, ARGS_MAX,
	    &argc)) < 0)
		return -1;
	if (r == 1)
		return host->conf_error(conf, "command: required: a sequence "
		    "[/absolute/path, arg, ...]");
	if (argc == 0)
		return bad(conf, "command", NULL, "expected [/absolute/path, "
		    "arg, ...]");
	c->argv[argc] = NULL;
	if (check_command(conf, c->argv[0]) < 0 ||
	    host->conf_ms(conf, "grace", &c->grace_ms) < 0 ||
	    host->conf_int(conf, "output_max", &c->output_max) < 0 ||
	    host->conf_str(conf, "cwd", &c->cwd) < 0 || check_env(conf, c) < 0)
		return -1;
	if (c->grace_ms < 0 || c->grace_ms > 3600000)
		return bad(conf, "grace", NULL, "expected 0 to 1h");
	if (c->output_max < 0 || c->output_max > 1048576)
		return bad(conf, "output_max", NULL, "expected 0 to 1048576 "
		    "bytes");
	if (c->cwd == NULL || c->cwd[0] == '\0') {
		c->cwd = NULL;		/* "cwd:" alone: workqd's */
		return 0;
	}
	if (c->cwd[0] != '/')
		return bad(conf, "cwd", NULL, "%s: must be an absolute path",
		    c->cwd);
	if (stat(c->cwd, &st) < 0)
		return bad(conf, "cwd", NULL, "%s: %s", c->cwd,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return bad(conf, "cwd", NULL, "%s: not a directory", c->cwd);
	return 0;
}

/* At exit: SIGKILL to the group of every command still running. */
__attribute__((destructor)) static void
kill_running(void)
{
	struct child *ch;

	pthread_mutex_lock(&running_lock);
	exiting = 1;
	LIST_FOREACH(ch, &running, link)
		kill(-ch->pid, SIGKILL);
	pthread_mutex_unlock(&running_lock);
}

/* Lists a child just spawned; one spawned while exiting dies at once. */
static void
track(struct child *ch)
{
	pthread_mutex_lock(&running_lock);
	if (exiting)
		kill(-ch->pid, SIGKILL);
	LIST_INSERT_HEAD(&running, ch, link);
	ch->listed = 1;
	pthread_mutex_unlock(&running_lock);
}

static void
untrack(struct child *ch)
{
	pthread_mutex_lock(&running_lock);
	if (ch->listed)
		LIST_REMOVE(ch, link);
	ch->listed = 0;
	pthread_mutex_unlock(&running_lock);
}

static int
exec_check(const struct wq_host *h, const struct wq_node *conf)
{
	struct exec_conf c;

	host = h;
	return parse(conf, &c);
}

static int
exec_init(const struct wq_host *h, const struct wq_node *conf, void **state)
{
	struct exec_conf *c = malloc(sizeof(*c));

	host = h;
	if (c == NULL || parse(conf, c) < 0) {
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

static void
exec_fini(void *state)
{
	free(state);
}

/* The environment. */

struct env {
	char	**v;
	size_t	  n, cap;
};

static int
env_add(struct env *e, char *s)
{
	if (s == NULL)
		return -1;
	if (e->n + 2 > e->cap) {
		size_t cap = e->cap == 0 ? 32 : e->cap * 2;
		char **v = realloc(e->v, cap * sizeof(*v));

		if (v == NULL) {
			free(s);
			return -1;
		}
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
	return 0;
}

static char *
strdupf(const char *fmt, ...) WQ_PRINTF(1, 2);

static char *
strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

/* Nonzero if e already sets the variable of "NAME=value" string s. */
static int
env_has(const struct env *e, const char *s)
{
	size_t len = strcspn(s, "=");

	for (size_t i = 0; i < e->n; i++)
		if (strncmp(e->v[i], s, len + 1) == 0)
			return 1;
	return 0;
}

/* WORKQ_FIELD_<NAME>=value, or NULL (out of memory). */
static char *
field_var(const char *name, const char *val, size_t vlen)
{
	size_t nlen = strlen(name), off = sizeof("WORKQ_FIELD_") - 1;
	char *s = malloc(off + nlen + 1 + vlen + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, "WORKQ_FIELD_", off);
	for (size_t i = 0; i < nlen; i++) {
		char ch = name[i];

		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		else if (!((ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9')))
			ch = '_';
		s[off + i] = ch;
	}
	s[off + nlen] = '=';
	memcpy(s + off + nlen + 1, val, vlen);
	s[off + nlen + 1 + vlen] = '\0';
	return s;
}

static int
env_fields(struct env *e, struct wq_job *job)
{
	const char *name, *val;
	size_t vlen;
	char *s;

	for (size_t i = 0; host->job_field_at(job, i, &name, &val, &vlen) == 0;
	    i++) {
		if (strcmp(name, "payload") == 0 || vlen > FIELD_MAX ||
		    memchr(val, '\0', vlen) != NULL)
			continue;
		if ((s = field_var(name, val, vlen)) == NULL)
			return -1;
		if (env_has(e, s))
			free(s);
		else if (env_add(e, s) < 0)
			return -1;
	}
	return 0;
}

static void
env_free(struct env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
}

/* The child's whole environment: NULL when out of memory. */
static char **
environment(const struct exec_conf *c, struct wq_job *job)
{
	struct env e = { NULL, 0, 0 };
	size_t i;

	/* The configured env comes first, so it may replace PATH. */
	for (i = 0; i < c->nenv; i++)
		if (env_add(&e, strdupf("%s=%s", c->env_names[i],
		    c->env_vals[i])) < 0)
			goto fail;
	if ((!env_has(&e, "PATH=") &&
	    env_add(&e, strdupf("PATH=/usr/bin:/bin")) < 0) ||
	    env_add(&e, strdupf("WORKQ_JOB_ID=%s", host->job_id(job))) < 0 ||
	    env_add(&e, strdupf("WORKQ_QUEUE=%s", host->job_queue(job))) < 0 ||
	    env_add(&e, strdupf("WORKQ_ATTEMPT=%u",
	    (unsigned)host->job_attempt(job))) < 0 ||
	    env_add(&e, strdupf("WORKQ_DEADLINE=%lld",
	    (long long)host->job_deadline(job))) < 0 ||
	    env_fields(&e, job) < 0)
		goto fail;
	return e.v;
fail:
	env_free(&e);
	return NULL;
}

static void
environment_free(char **v)
{
	struct env e = { v, 0, 0 };

	while (v != NULL && v[e.n] != NULL)
		e.n++;
	env_free(&e);
}

/* Spawning. */

/* A pipe whose ends are both above 2, so the dup2 onto 0, 1 and 2 in the
   child cannot clobber one end with the other. */
static int
pipe_above2(int fd[2])
{
	if (pipe2(fd, O_CLOEXEC) < 0)
		return -1;
	for (int i = 0; i < 2; i++)
		if (fd[i] <= 2) {
			int nfd = fcntl(fd[i], F_DUPFD_CLOEXEC, 3);

			if (nfd < 0) {
				close(fd[0]);
				close(fd[1]);
				return -1;
			}
			close(fd[i]);
			fd[i] = nfd;
		}
	return 0;
}

static void
close_pair(int fd[2])
{
	if (fd[0] >= 0)
		close(fd[0]);
	if (fd[1] >= 0)
		close(fd[1]);
}

static int
spawn_setup(const struct exec_conf *c, posix_spawn_file_actions_t *fa,
    posix_spawnattr_t *at, int in[2], int out[2], int err[2])
{
	sigset_t none, all;

	sigemptyset(&none);
	sigfillset(&all);
	if (posix_spawn_file_actions_adddup2(fa, in[0], 0) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, out[1], 1) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, err[1], 2) != 0 ||
	    posix_spawn_file_actions_addclosefrom_np(fa, 3) != 0 ||
	    (c->cwd != NULL &&
	    posix_spawn_file_actions_addchdir_np(fa, c->cwd) != 0))
		return -1;
	if (posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0 ||
	    posix_spawnattr_setpgroup(at, 0) != 0 ||
	    posix_spawnattr_setsigmask(at, &none) != 0 ||
	    posix_spawnattr_setsigdefault(at, &all) != 0)
		return -1;
	return 0;
}

/* Starts the command: 0, or an errno value. */
static int
spawn(struct child *ch, char **envp)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int rc;

	if (pipe_above2(in) < 0 || pipe_above2(out) < 0 ||
	    pipe_above2(err) < 0) {
		rc = errno;
		close_pair(in);
		close_pair(out);
		return rc;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	if ((rc = spawn_setup(ch->conf, &fa, &at, in, out, err)) == 0)
		rc = posix_spawn(&ch->pid, ch->conf->argv[0], &fa, &at,
		    (char *const *)ch->conf->argv, envp);
	else
		rc = ENOMEM;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (rc != 0) {
		close(in[1]);
		close(out[0]);
		close(err[0]);
		return rc;
	}
	ch->in = in[1];
	ch->out[0].fd = out[0];
	ch->out[1].fd = err[0];
	fcntl(ch->in, F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	return 0;
}

/* Output. */

static void
log_line(struct child *ch, struct out *o, const char *p, size_t len)
{
	char text[LINE_MAX_LEN + 1];

	for (size_t i = 0; i < len; i++)
		text[i] = (unsigned char)p[i] < 0x20 && p[i] != '\t' ? '?' :
		    p[i] == 0x7f ? '?' : p[i];
	text[len] = '\0';
	if (o == &ch->out[1] && len > 0) {
		size_t n = len < sizeof(ch->errline) ? len :
		    sizeof(ch->errline) - 1;

		memcpy(ch->errline, text, n);
		ch->errline[n] = '\0';
	}
	if (ch->truncated)
		return;
	if (ch->logged + (int64_t)len > ch->conf->output_max) {
		ch->truncated = 1;
		host->log(WQ_LOG_WARNING, "job %s: output over %lld bytes; "
		    "the rest is not logged", host->job_id(ch->job),
		    (long long)ch->conf->output_max);
		return;
	}
	ch->logged += (int64_t)len;
	host->log(o->prio, "job %s: %s: %s", host->job_id(ch->job), o->name,
	    text);
}

/* Logs the complete lines of o's buffer (and the rest, at EOF). */
static void
lines(struct child *ch, struct out *o, int eof)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(o->line + start, '\n', o->len - start)) != NULL) {
		log_line(ch, o, o->line + start,
		    (size_t)(nl - o->line) - start);
		start = (size_t)(nl - o->line) + 1;
	}
	/* A line too long for the buffer goes in pieces; the end of the
	   output may lack its newline. */
	if (start < o->len && (eof || (start == 0 &&
	    o->len == sizeof(o->line)))) {
		log_line(ch, o, o->line + start, o->len - start);
		start = o->len;
	}
	memmove(o->line, o->line + start, o->len - start);
	o->len -= start;
}

static void
drain(struct child *ch, struct out *o)
{
	ssize_t n;

	while (o->fd >= 0) {
		n = read(o->fd, o->line + o->len, sizeof(o->line) - o->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(o->fd);
			o->fd = -1;
			lines(ch, o, 1);
			return;
		}
		o->len += (size_t)n;
		lines(ch, o, 0);
	}
}

static void
close_in(struct child *ch)
{
	if (ch->in >= 0) {
		close(ch->in);
		ch->in = -1;
	}
}

static void
feed(struct child *ch)
{
	ssize_t n;

	while (ch->in >= 0 && ch->left > 0) {
		n = write(ch->in, ch->payload, ch->left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			/* The command closed its stdin: it may not want it. */
			ch->epipe |= errno == EPIPE;
			close_in(ch);
			return;
		}
		ch->payload += n;
		ch->left -= (size_t)n;
	}
	close_in(ch);		/* all written: the command sees EOF */
}

/* Supervision. */

static void
signal_group(struct child *ch, int sig)
{
	/* The group's id is the child's pid, held by the unreaped child. */
	if (kill(-ch->pid, sig) < 0 && errno != ESRCH)
		host->log(WQ_LOG_ERR, "job %s: kill(-%d, %d): %s",
		    host->job_id(ch->job), (int)ch->pid, sig, strerror(errno));
}

/* Sends SIGTERM once the job is cancelled (it timed out, or workqd is
   stopping: workqd decides both and records the timeout itself), SIGKILL
   after grace. */
static void
supervise(struct child *ch, int64_t now)
{
	if (ch->kill_at == 0) {
		if (!(ch->cancelled = host->job_cancelled(ch->job) != 0))
			return;
		signal_group(ch, SIGTERM);
		ch->kill_at = now + ch->conf->grace_ms;
		if (ch->kill_at == 0)
			ch->kill_at = 1;
	}
	if (ch->kill_at > 0 && now >= ch->kill_at) {
		signal_group(ch, SIGKILL);
		ch->kill_at = -1;	/* done: only the reaping is left */
	}
}

/* Once the child is a zombie: whatever it left in its group goes. */
static void
check_exit(struct child *ch, int64_t now)
{
	siginfo_t si;

	if (ch->exited)
		return;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)ch->pid, &si, WEXITED | WNOHANG | WNOWAIT) <
	    0 || si.si_pid == 0)
		return;
	ch->exited = 1;
	ch->drain_until = now + DRAIN_MS;
	signal_group(ch, SIGKILL);
	close_in(ch);
}

/* How long poll may sleep. */
static int
tick(const struct child *ch, int64_t now)
{
	int64_t ms = TICK_MS;

	if (ch->exited)
		ms = ch->drain_until - now;
	else if (ch->kill_at > 0 && ch->kill_at - now < ms)
		ms = ch->kill_at - now;
	return ms < 0 ? 0 : (int)ms;
}

static void
wait_io(struct child *ch, int64_t now)
{
	struct pollfd pf[3];
	nfds_t n = 0;

	for (int i = 0; i < 2; i++)
		if (ch->out[i].fd >= 0)
			pf[n++] = (struct pollfd){ ch->out[i].fd, POLLIN, 0 };
	if (ch->in >= 0 && !ch->exited)
		pf[n++] = (struct pollfd){ ch->in, POLLOUT, 0 };
	if (poll(pf, n, tick(ch, now)) < 0 && errno != EINTR)
		host->log(WQ_LOG_ERR, "job %s: poll: %s",
		    host->job_id(ch->job), strerror(errno));
	if (ch->in >= 0 && !ch->exited)
		feed(ch);
	drain(ch, &ch->out[0]);
	drain(ch, &ch->out[1]);
}

/* Runs the child until it and its group are gone; returns its status. */
static int
supervise_all(struct child *ch)
{
	int64_t now;
	int status = 0;

	for (;;) {
		now = mono_ms();
		check_exit(ch, now);
		if (ch->exited && ((ch->out[0].fd < 0 && ch->out[1].fd < 0) ||
		    now >= ch->drain_until))
			break;
		if (!ch->exited)
			supervise(ch, now);
		wait_io(ch, now);
	}
	untrack(ch);
	while (waitpid(ch->pid, &status, 0) < 0 && errno == EINTR)
		;
	for (int i = 0; i < 2; i++) {
		if (ch->out[i].fd >= 0) {
			close(ch->out[i].fd);
			ch->out[i].fd = -1;
		}
		lines(ch, &ch->out[i], 1);
	}
	return status;
}

/* The outcome. */

static enum wq_outcome
verdict(struct child *ch, int status)
{
	const char *sep = ch->errline[0] != '\0' ? ": " : "";

	if (ch->cancelled) {
		/* Timed out (workqd has recorded it and ignores this outcome)
		   or workqd is stopping: hand it back. */
		host->job_error(ch->job, "cancelled, killed");
		return WQ_RETRY;
	}
	if (WIFSIGNALED(status)) {
		host->job_error(ch->job, "killed by signal %d (SIG%s)%s%s",
		    WTERMSIG(status), sigabbrev_np(WTERMSIG(status)) != NULL ?
		    sigabbrev_np(WTERMSIG(status)) : "?", sep, ch->errline);
		return WQ_FAIL;
	}
	if (WEXITSTATUS(status) == 0)
		return WQ_DONE;
	host->job_error(ch->job, "exit status %d%s%s", WEXITSTATUS(status), sep,
	    ch->errline);
	return WEXITSTATUS(status) == EX_TEMPFAIL ? WQ_RETRY : WQ_FAIL;
}

/* SIGPIPE stays blocked on this thread while the child runs (see DESIGN). */
static void
sigpipe_block(sigset_t *old, int *was_pending)
{
	sigset_t pipe, pending;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigpending(&pending);
	*was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, old);
}

static void
sigpipe_restore(const sigset_t *old, int was_pending, int raised)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pipe;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	if (raised && !was_pending)
		while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static enum wq_outcome
exec_run(void *state, struct wq_job *job)
{
	struct child ch = {
		.conf = state, .job = job, .in = -1,
		.out = { { .fd = -1, .name = "stdout", .prio = WQ_LOG_INFO },
		    { .fd = -1, .name = "stderr", .prio = WQ_LOG_WARNING } },
	};
	char **envp;
	sigset_t old;
	int rc, status, was_pending;

	if ((envp = environment(ch.conf, job)) == NULL) {
		host->job_error(job, "out of memory");
		return WQ_RETRY;
	}
	ch.payload = host->job_payload(job, &ch.left);
	sigpipe_block(&old, &was_pending);
	rc = spawn(&ch, envp);
	environment_free(envp);
	if (rc != 0) {
		sigpipe_restore(&old, was_pending, 0);
		host->job_error(job, "cannot run %s: %s", ch.conf->argv[0],
		    strerror(rc));
		return WQ_FAIL;
	}
	track(&ch);
	status = supervise_all(&ch);
	sigpipe_restore(&old, was_pending, ch.epipe);
	return verdict(&ch, status);
}

WQ_PLUGIN(
	.name = "exec",
	.version = "1.0",
	.conf_check = exec_check,
	.init = exec_init,
	.fini = exec_fini,
	.run = exec_run,
);
