/*
 * The Redis connection against a fake server on a unix socket, served by
 * the same loop (no Redis): the handshake (AUTH with a user and a password
 * read from a relative password_file in $CREDENTIALS_DIRECTORY, then
 * CLIENT SETNAME), a refused password retried, a server that stops
 * answering (the command timeout drops the connection and every waiting
 * callback gets a NULL reply), a server that goes away while we write
 * (SIGPIPE must not kill the process), and a server that is not there at
 * the start.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "conf.h"
#include "loop.h"
#include "redis.h"

enum mode {
	M_OK,		/* +OK to everything */
	M_SILENT,	/* answers the handshake, then nothing */
	M_CLOSE		/* answers the handshake, then closes on the next */
};

struct fake {
	struct wq_loop		*loop;
	char			 dir[64];
	char			 path[96];
	int			 lfd;
	struct event		*lev;
	int			 cfd;
	struct event		*cev;
	enum mode		 mode;
	const char		*password;	/* AUTH wants it; NULL: any */
	char			 buf[65536];
	size_t			 len;
	unsigned		 accepted;
	unsigned		 commands;
	char			 log[4096];	/* commands, "|"-separated */
};

struct client {
	struct wq_redis	*r;
	unsigned	 ups;
	unsigned	 downs;
	unsigned	 replies;
	unsigned	 nulls;
};

static struct fake fk;

static void
drop_client(void)
{
	if (fk.cev != NULL) {
		event_free(fk.cev);
		fk.cev = NULL;
	}
	if (fk.cfd >= 0) {
		close(fk.cfd);
		fk.cfd = -1;
	}
	fk.len = 0;
}

/* One array of bulk strings from buf, as "A B C"; 0 if incomplete. */
static size_t
parse(const char *buf, size_t len, char *out, size_t outlen)
{
	const char *p = buf, *end = buf + len, *nl;
	long n, blen;
	size_t o = 0;

	if (len < 4 || *p != '*' || (nl = memchr(p, '\n', len)) == NULL)
		return 0;
	n = strtol(p + 1, NULL, 10);
	p = nl + 1;
	out[0] = '\0';
	for (long i = 0; i < n; i++) {
		if (p >= end || *p != '$' ||
		    (nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return 0;
		blen = strtol(p + 1, NULL, 10);
		p = nl + 1;
		if (end - p < blen + 2)
			return 0;
		if (o + (size_t)blen + 2 < outlen) {
			if (i > 0)
				out[o++] = ' ';
			memcpy(out + o, p, (size_t)blen);
			o += (size_t)blen;
			out[o] = '\0';
		}
		p += blen + 2;
	}
	return (size_t)(p - buf);
}

static void
answer(const char *cmd)
{
	const char *reply = "+OK\r\n", *sp = strrchr(cmd, ' ');
	int handshake = strncmp(cmd, "AUTH", 4) == 0 ||
	    strncmp(cmd, "CLIENT SETNAME", 14) == 0;

	fk.commands++;
	strncat(fk.log, cmd, sizeof(fk.log) - strlen(fk.log) - 2);
	strcat(fk.log, "|");
	if (strncmp(cmd, "AUTH", 4) == 0 && fk.password != NULL &&
	    (sp == NULL || strcmp(sp + 1, fk.password) != 0))
		reply = "-WRONGPASS invalid username-password pair\r\n";
	else if (fk.mode == M_SILENT && !handshake)
		return;
	else if (fk.mode == M_CLOSE && !handshake) {
		/* Unread data left behind makes the close a reset. */
		drop_client();
		return;
	}
	assert_int_equal(write(fk.cfd, reply, strlen(reply)),
	    (ssize_t)strlen(reply));
}

static void
client_cb(evutil_socket_t fd, short what, void *arg)
{
	char cmd[1024];
	ssize_t n;
	size_t used;

	(void)what;
	(void)arg;
	n = read(fd, fk.buf + fk.len, sizeof(fk.buf) - fk.len);
	if (n <= 0) {
		drop_client();
		return;
	}
	fk.len += (size_t)n;
	while (fk.cfd >= 0 && (used = parse(fk.buf, fk.len, cmd,
	    sizeof(cmd))) > 0) {
		memmove(fk.buf, fk.buf + used, fk.len - used);
		fk.len -= used;
		answer(cmd);
	}
}

static void
accept_cb(evutil_socket_t fd, short what, void *arg)
{
	int c = accept(fd, NULL, NULL);

	(void)what;
	(void)arg;
	if (c < 0)
		return;
	drop_client();
	fk.accepted++;
	fk.cfd = c;
	fk.cev = event_new(wq_loop_base(fk.loop), c, EV_READ | EV_PERSIST,
	    client_cb, NULL);
	assert_non_null(fk.cev);
	event_add(fk.cev, NULL);
}

static void
fake_listen(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	fk.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fk.lfd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fk.path);
	assert_int_equal(bind(fk.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fk.lfd, 8), 0);
	fk.lev = event_new(wq_loop_base(fk.loop), fk.lfd, EV_READ | EV_PERSIST,
	    accept_cb, NULL);
	assert_non_null(fk.lev);
	event_add(fk.lev, NULL);
}

static void
up_cb(struct wq_redis *r, void *arg)
{
	(void)r;
	((struct client *)arg)->ups++;
}

static void
down_cb(struct wq_redis *r, const char *why, void *arg)
{
	(void)r;
	(void)why;
	((struct client *)arg)->downs++;
}

static void
reply_cb(struct wq_redis *r, struct redisReply *reply, void *arg)
{
	struct client *c = arg;

	(void)r;
	c->replies++;
	if (reply == NULL)
		c->nulls++;
}

static struct wq_redis *
client_new(struct client *c, const char *user, const char *password_file,
    int64_t command_timeout_ms)
{
	struct wq_conf_redis conf = { .unix_path = fk.path, .user = user,
	    .password_file = password_file, .connect_timeout_ms = 1000,
	    .command_timeout_ms = command_timeout_ms };
	struct wq_redis_events ev = { .up = up_cb, .down = down_cb, .arg = c };

	memset(c, 0, sizeof(*c));
	c->r = wq_redis_new(fk.loop, &conf, "test", &ev);
	assert_non_null(c->r);
	return c->r;
}

/* Steps the loop until *counter reaches want or the deadline passes. */
static int
step_until(const unsigned *counter, unsigned want, int64_t ms)
{
	int64_t end = wq_clock_mono_ms() + ms;

	while (*counter < want && wq_clock_mono_ms() < end)
		wq_loop_step(fk.loop, 20);
	return *counter >= want;
}

static int
setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	fk.cfd = fk.lfd = -1;
	snprintf(fk.dir, sizeof(fk.dir), "/tmp/wq-test-redis.XXXXXX");
	assert_non_null(mkdtemp(fk.dir));
	snprintf(fk.path, sizeof(fk.path), "%s/redis.sock", fk.dir);
	fk.loop = wq_loop_new();
	assert_non_null(fk.loop);
	return 0;
}

static int
teardown(void **state)
{
	char file[160];

	(void)state;
	drop_client();
	if (fk.lev != NULL)
		event_free(fk.lev);
	if (fk.lfd >= 0)
		close(fk.lfd);
	wq_loop_free(fk.loop);
	unlink(fk.path);
	snprintf(file, sizeof(file), "%s/pw", fk.dir);
	unlink(file);
	rmdir(fk.dir);
	unsetenv("CREDENTIALS_DIRECTORY");
	return 0;
}

static void
write_secret(const char *secret)
{
	char file[160];
	FILE *f;

	snprintf(file, sizeof(file), "%s/pw", fk.dir);
	assert_non_null(f = fopen(file, "w"));
	fprintf(f, "%s\n", secret);
	fclose(f);
}

/* AUTH user password, the password from $CREDENTIALS_DIRECTORY/pw with
   its newline dropped, then CLIENT SETNAME; only then "up". */
static void
test_handshake(void **state)
{
	struct client c;
	const char *argv[1] = { "PING" };

	(void)state;
	fake_listen();
	write_secret("s3cret");
	setenv("CREDENTIALS_DIRECTORY", fk.dir, 1);
	client_new(&c, "alice", "pw", 1000);
	wq_redis_start(c.r);
	assert_true(step_until(&c.ups, 1, 3000));
	assert_true(wq_redis_ready(c.r));
	assert_string_equal(fk.log, "AUTH alice s3cret|CLIENT SETNAME "
	    "workqd-test|");
	assert_int_equal(wq_redis_command(c.r, reply_cb, &c, 0, 1, argv, NULL),
	    0);
	assert_true(step_until(&c.replies, 1, 3000));
	assert_int_equal(c.nulls, 0);
	wq_redis_free(c.r);
}

/* A refused password is not fatal: the connection is retried (with the
   file read again), and a right password then gets through. */
static void
test_wrong_password(void **state)
{
	struct client c;
	struct wq_redis_stats st;

	(void)state;
	fake_listen();
	fk.password = "right";
	write_secret("wrong");
	setenv("CREDENTIALS_DIRECTORY", fk.dir, 1);
	client_new(&c, NULL, "pw", 1000);
	wq_redis_start(c.r);
	assert_true(step_until(&fk.accepted, 2, 3000));
	assert_int_equal(c.ups, 0);
	wq_redis_stats(c.r, &st);
	assert_false(st.ready);
	assert_non_null(strstr(st.last_error, "AUTH refused: WRONGPASS"));
	write_secret("right");
	assert_true(step_until(&c.ups, 1, 6000));
	assert_non_null(strstr(fk.log, "AUTH right|"));
	wq_redis_free(c.r);
}

/* A server that stops answering: the oldest command's deadline passes,
   the connection is dropped, every waiting callback gets NULL, the owner
   hears "down", and the connection comes back. */
static void
test_timeout(void **state)
{
	struct client c;
	struct wq_redis_stats st;
	const char *argv[1] = { "PING" };
	int64_t t0;

	(void)state;
	fake_listen();
	fk.mode = M_SILENT;
	client_new(&c, NULL, NULL, 300);
	wq_redis_start(c.r);
	assert_true(step_until(&c.ups, 1, 3000));
	t0 = wq_clock_mono_ms();
	for (int i = 0; i < 3; i++)
		assert_int_equal(wq_redis_command(c.r, reply_cb, &c, 0, 1,
		    argv, NULL), 0);
	assert_true(step_until(&c.replies, 3, 3000));
	assert_int_equal(c.nulls, 3);
	assert_true(wq_clock_mono_ms() - t0 >= 300);
	assert_int_equal(c.downs, 1);
	wq_redis_stats(c.r, &st);
	assert_int_equal(st.timeouts, 1);
	assert_string_equal(st.last_error, "no reply in time");
	assert_true(step_until(&c.ups, 2, 3000));
	wq_redis_free(c.r);
}

/* The server closes while we keep writing: write(2) on the dead socket
   would raise SIGPIPE and kill the test with it; instead the connection
   is lost and comes back. */
static void
test_sigpipe(void **state)
{
	struct client c;
	const char *argv[2] = { "ECHO", NULL };
	static char big[256 * 1024];
	sigset_t pending;

	(void)state;
	fake_listen();
	fk.mode = M_CLOSE;
	client_new(&c, NULL, NULL, 2000);
	wq_redis_start(c.r);
	assert_true(step_until(&c.ups, 1, 3000));
	memset(big, 'x', sizeof(big) - 1);
	argv[1] = big;
	for (int i = 0; i < 8; i++)
		wq_redis_command(c.r, reply_cb, &c, 0, 2, argv, NULL);
	assert_true(step_until(&c.downs, 1, 3000));
	assert_int_equal(c.nulls, c.replies);
	/* No SIGPIPE is left pending on this thread either. */
	assert_int_equal(sigpending(&pending), 0);
	assert_false(sigismember(&pending, SIGPIPE));
	fk.mode = M_OK;
	assert_true(step_until(&c.ups, 2, 3000));
	wq_redis_free(c.r);
}

/* Nothing listens at the start: not ready, commands refused, retried
   with backoff until the server appears. */
static void
test_down_at_start(void **state)
{
	struct client c;
	struct wq_redis_stats st;
	const char *argv[1] = { "PING" };
	int64_t end;

	(void)state;
	client_new(&c, NULL, NULL, 1000);
	wq_redis_start(c.r);
	end = wq_clock_mono_ms() + 400;
	while (wq_clock_mono_ms() < end)
		wq_loop_step(fk.loop, 20);
	assert_false(wq_redis_ready(c.r));
	assert_int_equal(wq_redis_command(c.r, reply_cb, &c, 0, 1, argv, NULL),
	    -1);
	wq_redis_stats(c.r, &st);
	assert_non_null(strstr(st.last_error, "cannot connect"));
	fake_listen();
	assert_true(step_until(&c.ups, 1, 8000));
	wq_redis_free(c.r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrong_password, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigpipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_down_at_start, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
