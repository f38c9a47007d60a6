/*
 * Unit tests for core/log.c: the journald priority prefix, the level
 * filter, and JSON lines: the job's fields, escaping, bytes that are not
 * UTF-8, and a message too long for one line cut without breaking the
 * object.  stderr is pointed at a pipe for each test and read back.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

struct capture {
	int	saved;		/* the real stderr */
	int	rd;		/* the pipe's read end */
	char	buf[16384];
};

static int
setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));
	int fds[2];

	if (c == NULL || pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	/* Big enough for every line a test writes: no reader runs meanwhile. */
	fcntl(fds[1], F_SETPIPE_SZ, 1 << 17);
	c->saved = dup(STDERR_FILENO);
	dup2(fds[1], STDERR_FILENO);
	close(fds[1]);
	c->rd = fds[0];
	wq_log_set_level(WQ_LOG_INFO);
	wq_log_set_format(WQ_LOG_JOURNAL);
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct capture *c = *state;

	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	close(c->rd);
	free(c);
	return 0;
}

/* Everything logged so far, as one string. */
static const char *
output(struct capture *c)
{
	ssize_t n;
	size_t len = 0;

	fcntl(c->rd, F_SETFL, O_NONBLOCK);
	while (len < sizeof(c->buf) - 1 &&
	    (n = read(c->rd, c->buf + len, sizeof(c->buf) - 1 - len)) > 0)
		len += (size_t)n;
	c->buf[len] = '\0';
	return c->buf;
}

static void
test_journal_prefix(void **state)
{
	wq_log(WQ_LOG_WARNING, "redis: %s", "down");
	wq_log(WQ_LOG_ERR, "two\nlines");
	assert_string_equal(output(*state), "<4>redis: down\n<3>two lines\n");
}

static void
test_level_filter(void **state)
{
	wq_log(WQ_LOG_DEBUG, "hidden");
	wq_log_set_level(WQ_LOG_DEBUG);
	assert_int_equal(wq_log_level(), WQ_LOG_DEBUG);
	wq_log(WQ_LOG_DEBUG, "shown");
	wq_log_set_level(WQ_LOG_ERR);
	wq_log(WQ_LOG_WARNING, "hidden too");
	assert_string_equal(output(*state), "<7>shown\n");
	assert_int_equal(wq_log_parse_level("notice"), WQ_LOG_NOTICE);
	assert_int_equal(wq_log_parse_level("loud"), -1);
}

static void
test_json_job(void **state)
{
	struct wq_log_job lj = { .id = "17-0", .queue = "default",
	    .plugin = "echo", .attempt = 2, .duration_ms = 12,
	    .outcome = "done" };

	wq_log_set_format(WQ_LOG_JSON);
	wq_log_job(WQ_LOG_INFO, &lj, "job %s done", lj.id);
	wq_log(WQ_LOG_NOTICE, "plain");
	assert_string_equal(output(*state),
	    "{\"priority\":6,\"message\":\"job 17-0 done\",\"job\":\"17-0\","
	    "\"queue\":\"default\",\"plugin\":\"echo\",\"attempt\":2,"
	    "\"duration_ms\":12,\"outcome\":\"done\"}\n"
	    "{\"priority\":5,\"message\":\"plain\"}\n");
}

/* Unknown members are left out: attempt 0, a negative duration, NULL. */
static void
test_json_absent(void **state)
{
	struct wq_log_job lj = { .id = "x", .duration_ms = -1 };

	wq_log_set_format(WQ_LOG_JSON);
	wq_log_job(WQ_LOG_WARNING, &lj, "m");
	assert_string_equal(output(*state),
	    "{\"priority\":4,\"message\":\"m\",\"job\":\"x\"}\n");
}

static void
test_json_escape(void **state)
{
	struct wq_log_job lj = { .id = "a\"b\\c", .duration_ms = -1 };

	wq_log_set_format(WQ_LOG_JSON);
	wq_log_job(WQ_LOG_INFO, &lj, "q\"b\\t\x01\x1f\x7f");
	assert_string_equal(output(*state),
	    "{\"priority\":6,\"message\":\"q\\\"b\\\\t\\u0001\\u001f\\u007f\","
	    "\"job\":\"a\\\"b\\\\c\"}\n");
}

/* UTF-8 passes; anything else becomes U+FFFD, byte by byte. */
static void
test_json_utf8(void **state)
{
	wq_log_set_format(WQ_LOG_JSON);
	/* é, the euro sign, an emoji: kept as they are. */
	wq_log(WQ_LOG_INFO, "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* A lone continuation byte, an overlong '/', a surrogate, a
	   truncated sequence, a byte that never starts one. */
	wq_log(WQ_LOG_INFO, "\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82|\xff");
	assert_string_equal(output(*state),
	    "{\"priority\":6,\"message\":\"\xc3\xa9 \xe2\x82\xac "
	    "\xf0\x9f\x98\x80\"}\n"
	    "{\"priority\":6,\"message\":\"\xef\xbf\xbd|\xef\xbf\xbd"
	    "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
	    "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\"}\n");
}

/* A message longer than a line: cut, marked, and still one object. */
static void
test_long_line(void **state)
{
	char big[9000];
	const char *out;
	size_t len;

	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	wq_log_set_format(WQ_LOG_JSON);
	wq_log(WQ_LOG_INFO, "%s", big);
	out = output(*state);
	len = strlen(out);
	assert_true(len > 4096);
	assert_string_equal(out + len - 2, "}\n");
	assert_ptr_equal(strchr(out, '\n'), out + len - 1);
	/* The cut falls between whole escapes: an even run of backslashes
	   before the closing quote. */
	assert_true(out[len - 3] == '"' && out[len - 4] != '\\');

	wq_log_set_format(WQ_LOG_JOURNAL);
	wq_log(WQ_LOG_INFO, "%s", big);
	out = output(*state);
	assert_string_equal(out + strlen(out) - 4, "...\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_journal_prefix),
		T(test_level_filter),
		T(test_json_job),
		T(test_json_absent),
		T(test_json_escape),
		T(test_json_utf8),
		T(test_long_line),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
