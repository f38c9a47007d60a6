/*
 * core/yaml.c: positions, every refusal of hostile or unsupported input,
 * and the 0 / 1 / -1 contract of each typed getter with its messages.
 */
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

#include "yaml.h"

#define MIB	(1 << 20)

static char err[1024];

static struct wq_yaml *
load(const char *text)
{
	struct wq_yaml *doc;

	err[0] = '\0';
	doc = wq_yaml_load_buffer("t.yaml", text, strlen(text), err,
	    sizeof(err));
	if (doc == NULL)
		fail_msg("load failed: %s", err);
	assert_null(wq_yaml_error(doc));
	return doc;
}

/* Loading text must fail with exactly msg. */
static void
refused(const char *text, size_t len, const char *msg)
{
	struct wq_yaml *doc;

	err[0] = '\0';
	doc = wq_yaml_load_buffer("t.yaml", text, len, err, sizeof(err));
	assert_null(doc);
	assert_string_equal(err, msg);
}

static void
refuse(const char *text, const char *msg)
{
	refused(text, strlen(text), msg);
}

static void
assert_pos(const struct wq_node *n, unsigned line, unsigned column)
{
	assert_non_null(n);
	assert_int_equal(wq_node_line(n), line);
	assert_int_equal(wq_node_column(n), column);
}

static void
test_positions(void **state)
{
	struct wq_yaml *doc;
	const struct wq_node *root, *log, *list, *map, *y;
	const char *key = NULL;

	(void)state;
	doc = load("# a comment\n"
	    "log:\n"
	    "  level: info\n"
	    "list:\n"
	    "  - a\n"
	    "  - \"b\"\n"
	    "map: {x: 1, y: [2, 3]}\n");
	root = wq_yaml_root(doc);
	assert_int_equal(wq_node_type(root), WQ_NODE_MAP);
	assert_string_equal(wq_node_file(root), "t.yaml");
	assert_pos(root, 2, 1);
	assert_int_equal(wq_node_len(root), 3);
	assert_pos(wq_node_key(root, "log"), 2, 1);
	log = wq_node_get(root, "log");
	assert_pos(log, 3, 3);
	assert_pos(wq_node_key(log, "level"), 3, 3);
	assert_pos(wq_node_get(log, "level"), 3, 10);
	assert_string_equal(wq_node_scalar(wq_node_get(log, "level")), "info");
	list = wq_node_get(root, "list");
	assert_int_equal(wq_node_type(list), WQ_NODE_SEQ);
	assert_int_equal(wq_node_len(list), 2);
	assert_pos(wq_node_at(list, 0, NULL), 5, 5);
	assert_pos(wq_node_at(list, 1, NULL), 6, 5);
	assert_string_equal(wq_node_scalar(wq_node_at(list, 1, NULL)), "b");
	assert_null(wq_node_at(list, 2, NULL));
	map = wq_node_get(root, "map");
	assert_pos(map, 7, 6);
	assert_pos(wq_node_key(map, "x"), 7, 7);
	assert_pos(wq_node_get(map, "x"), 7, 10);
	y = wq_node_at(map, 1, &key);
	assert_string_equal(key, "y");
	assert_int_equal(wq_node_type(y), WQ_NODE_SEQ);
	assert_pos(y, 7, 16);
	assert_pos(wq_node_at(y, 1, NULL), 7, 20);
	/* Scalars have no items, collections no text. */
	assert_null(wq_node_scalar(map));
	assert_int_equal(wq_node_len(wq_node_get(map, "x")), 0);
	assert_null(wq_node_at(wq_node_get(map, "x"), 0, NULL));
	assert_null(wq_node_get(root, "nope"));
	assert_null(wq_node_get(list, "a"));
	assert_null(wq_node_key(root, "nope"));
	wq_yaml_free(doc);
}

static void
test_empty(void **state)
{
	static const char *const empties[] = {
		"", "\n", "# only a comment\n", "---\n", "--- \n...\n"
	};
	struct wq_yaml *doc;

	(void)state;
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		doc = load(empties[i]);
		assert_int_equal(wq_node_type(wq_yaml_root(doc)),
		    WQ_NODE_MAP);
		assert_int_equal(wq_node_len(wq_yaml_root(doc)), 0);
		wq_yaml_free(doc);
	}
	/* A document that is a bare scalar is kept as one. */
	doc = load("hello\n");
	assert_int_equal(wq_node_type(wq_yaml_root(doc)), WQ_NODE_SCALAR);
	assert_int_equal(wq_node_keys(wq_yaml_root(doc),
	    (const char *const[]){ NULL }), -1);
	assert_string_equal(wq_yaml_error(doc),
	    "t.yaml:1:1: expected a mapping, got a scalar");
	wq_yaml_free(doc);
}

static void
test_syntax_error(void **state)
{
	(void)state;
	refuse("a: 1\nb: [1, 2\n", "t.yaml:3:1: did not find expected ',' "
	    "or ']' while parsing a flow sequence");
	refuse("a: 1\n  b: 2\n", "t.yaml:2:4: mapping values are not "
	    "allowed in this context");
	refuse("a: @x\n", "t.yaml:1:4: found character that cannot start "
	    "any token while scanning for the next token");
	/* Invalid UTF-8 is found by libyaml's reader, which gives an offset:
	   the position is worked out from it. */
	refuse("a: 1\nb: x\xff\n", "t.yaml:2:5: invalid leading UTF-8 octet");
}

static void
test_refusals(void **state)
{
	(void)state;
	refuse("a: 1\nb: 2\na: 3\n", "t.yaml:3:1: duplicate key 'a'");
	refuse("m:\n  x: 1\n  y: {q: 1, q: 2}\n",
	    "t.yaml:3:13: duplicate key 'q'");
	refuse("x: &anchor 1\ny: *anchor\n",
	    "t.yaml:2:4: aliases are not supported");
	refuse("? [a, b]\n: 1\n", "t.yaml:1:3: mapping keys must be scalars");
	refuse("{a: 1, {b: 1}: 2}\n",
	    "t.yaml:1:8: mapping keys must be scalars");
	refuse("a: 1\n---\nb: 2\n",
	    "t.yaml:2:1: multiple documents are not supported");
	refuse("a: !custom 1\n", "t.yaml:1:4: tag '!custom' is not supported");
	refuse("a: !!map 1\n",
	    "t.yaml:1:4: tag 'tag:yaml.org,2002:map' is not supported");
	refuse("a: !!str [1]\n", "t.yaml:1:4: tag 'tag:yaml.org,2002:str' "
	    "does not fit a sequence");
	refuse("a: \"x\\0y\"\n", "t.yaml:1:4: NUL characters are not allowed");
	/* The same key in two different mappings is not a duplicate. */
	wq_yaml_free(load("a: {k: 1}\nb: {k: 2}\nk: 3\n"));
	/* Anchors alone are harmless. */
	wq_yaml_free(load("a: &x 1\n"));
}

static void
test_tags(void **state)
{
	struct wq_yaml *doc;
	const struct wq_node *root;
	int64_t i = 0;
	const char *s = NULL;

	(void)state;
	doc = load("a: !!int 5\nb: !!str 5\nc: !!map {}\n");
	root = wq_yaml_root(doc);
	assert_int_equal(wq_node_int(root, "a", &i), 0);
	assert_int_equal(i, 5);
	/* !!str makes a plain scalar a string, like quotes do. */
	assert_int_equal(wq_node_str(root, "b", &s), 0);
	assert_string_equal(s, "5");
	assert_int_equal(wq_node_int(root, "b", &i), -1);
	assert_int_equal(wq_node_type(wq_node_get(root, "c")), WQ_NODE_MAP);
	wq_yaml_free(doc);
}

static void
test_depth_bomb(void **state)
{
	char *buf = malloc(200001);
	struct wq_yaml *doc;
	size_t n;

	(void)state;
	assert_non_null(buf);
	/* 64 levels are fine (the root mapping is the first). */
	n = 0;
	buf[n++] = 'a';
	buf[n++] = ':';
	buf[n++] = ' ';
	for (int i = 0; i < 63; i++)
		buf[n++] = '[';
	for (int i = 0; i < 63; i++)
		buf[n++] = ']';
	buf[n] = '\0';
	doc = load(buf);
	wq_yaml_free(doc);
	/* 65 are not, and 100000 cost no more than 65. */
	memset(buf, '[', 100000);
	buf[100000] = '\0';
	refuse(buf, "t.yaml:1:65: nesting deeper than 64 levels");
	buf[0] = 'a';
	buf[1] = ':';
	buf[2] = ' ';
	refuse(buf, "t.yaml:1:67: nesting deeper than 64 levels");
	free(buf);
}

static void
test_alias_bomb(void **state)
{
	(void)state;
	/* A billion laughs: refused at the first alias, before any
	   expansion. */
	refuse("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
	    "t.yaml:2:8: aliases are not supported");
	/* A merge key is an alias too. */
	refuse("base: &b {x: 1}\nm:\n  <<: *b\n",
	    "t.yaml:3:7: aliases are not supported");
}

static char *
big(size_t len)
{
	char *buf = malloc(len + 1);

	assert_non_null(buf);
	memset(buf, 'x', len);
	buf[0] = '#';
	buf[len - 1] = '\n';
	buf[len] = '\0';
	return buf;
}

static void
test_big(void **state)
{
	char path[] = "/tmp/test_yaml.XXXXXX";
	char *buf;
	struct wq_yaml *doc;
	int fd;

	(void)state;
	/* Exactly 1 MiB (a comment) is read; one byte more is not. */
	buf = big(MIB);
	doc = load(buf);
	assert_int_equal(wq_node_len(wq_yaml_root(doc)), 0);
	wq_yaml_free(doc);
	free(buf);
	buf = big(MIB + 1);
	refused(buf, MIB + 1, "t.yaml: larger than 1 MiB");

	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, buf, MIB + 1), MIB + 1);
	close(fd);
	assert_null(wq_yaml_load_file(path, err, sizeof(err)));
	assert_non_null(strstr(err, ": larger than 1 MiB"));
	assert_memory_equal(err, path, strlen(path));
	unlink(path);
	free(buf);
}

static void
test_file(void **state)
{
	char path[] = "/tmp/test_yaml.XXXXXX";
	struct wq_yaml *doc;
	char expect[256];
	const char *text = "a: 1\nb: [x\n";
	int fd;

	(void)state;
	assert_null(wq_yaml_load_file("/nonexistent/workqd.yaml", err,
	    sizeof(err)));
	assert_string_equal(err,
	    "/nonexistent/workqd.yaml: No such file or directory");
	assert_null(wq_yaml_load_file("/tmp", err, sizeof(err)));
	assert_string_equal(err, "/tmp: Is a directory");

	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, "k: v\n", 5), 5);
	close(fd);
	doc = wq_yaml_load_file(path, err, sizeof(err));
	assert_non_null(doc);
	assert_string_equal(wq_node_file(wq_yaml_root(doc)), path);
	assert_string_equal(wq_node_scalar(wq_node_get(wq_yaml_root(doc),
	    "k")), "v");
	wq_yaml_free(doc);

	/* Errors name the file as given. */
	assert_true((fd = open(path, O_WRONLY | O_TRUNC)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), strlen(text));
	close(fd);
	assert_null(wq_yaml_load_file(path, err, sizeof(err)));
	snprintf(expect, sizeof(expect), "%s:3:1: did not find expected ',' "
	    "or ']' while parsing a flow sequence", path);
	assert_string_equal(err, expect);
	/* A short error buffer is cut, not overrun; none is fine too. */
	assert_null(wq_yaml_load_file(path, err, 5));
	assert_int_equal(strlen(err), 4);
	assert_null(wq_yaml_load_file(path, NULL, 0));
	unlink(path);
}

static const char getters_doc[] =
    "s: hello\n"		/* 1 */
    "q: \"8\"\n"		/* 2 */
    "i: 8\n"			/* 3 */
    "neg: -12\n"		/* 4 */
    "max: 9223372036854775807\n"	/* 5 */
    "over: 9223372036854775808\n"	/* 6 */
    "word: eight\n"		/* 7 */
    "m: {a: 1}\n"		/* 8 */
    "seq: [a, b, c]\n"		/* 9 */
    "b1: yes\n"			/* 10 */
    "b2: \"true\"\n"		/* 11 */
    "b3: maybe\n"		/* 12 */
    "d1: 250ms\n"		/* 13 */
    "d2: 1.5s\n"		/* 14 */
    "d3: \"30s\"\n"		/* 15 */
    "d4: 5 minutes\n"		/* 16 */
    "f1: 1.55\n"		/* 17 */
    "f2: \"2\"\n"		/* 18 */
    "f3: 1.5x\n"		/* 19 */
    "n1:\n"			/* 20 */
    "n2: ~\n"			/* 21 */
    "lst: [x, [y]]\n"		/* 22 */
    "plus: +7\n"		/* 23 */
    "oct: 0x10\n";		/* 24 */

/* Calls a getter on g, the root of a fresh document, and checks the
   error it records. */
#define GETTER_FAILS(call, msg) do {					\
	struct wq_yaml *d_ = load(getters_doc);				\
	const struct wq_node *g = wq_yaml_root(d_);			\
									\
	assert_int_equal((call), -1);					\
	assert_string_equal(wq_yaml_error(d_), (msg));			\
	wq_yaml_free(d_);						\
} while (0)

static void
test_str(void **state)
{
	struct wq_yaml *doc = load(getters_doc);
	const struct wq_node *root = wq_yaml_root(doc);
	const char *s = "untouched";

	(void)state;
	assert_int_equal(wq_node_str(root, "absent", &s), 1);
	assert_string_equal(s, "untouched");
	assert_int_equal(wq_node_str(root, "s", &s), 0);
	assert_string_equal(s, "hello");
	assert_int_equal(wq_node_str(root, "q", &s), 0);
	assert_string_equal(s, "8");
	assert_int_equal(wq_node_str(root, "i", &s), 0);
	assert_string_equal(s, "8");
	/* A null is the empty string. */
	assert_int_equal(wq_node_str(root, "n1", &s), 0);
	assert_string_equal(s, "");
	assert_int_equal(wq_node_str(root, "n2", &s), 0);
	assert_string_equal(s, "");
	/* A NULL map has no keys. */
	assert_int_equal(wq_node_str(NULL, "s", &s), 1);
	assert_null(wq_yaml_error(doc));
	wq_yaml_free(doc);
	GETTER_FAILS(wq_node_str(g, "m", &s),
	    "t.yaml:8:4: m: expected a string, got a mapping");
	GETTER_FAILS(wq_node_str(g, "seq", &s),
	    "t.yaml:9:6: seq: expected a string, got a sequence");
	GETTER_FAILS(wq_node_str(wq_node_get(g, "s"), "x", &s),
	    "t.yaml:1:4: expected a mapping, got a scalar");
	GETTER_FAILS(wq_node_str(wq_node_get(g, "seq"), "x", &s),
	    "t.yaml:9:6: expected a mapping, got a sequence");
}

static void
test_int(void **state)
{
	struct wq_yaml *doc = load(getters_doc);
	const struct wq_node *root = wq_yaml_root(doc);
	int64_t v = 42;

	(void)state;
	assert_int_equal(wq_node_int(root, "absent", &v), 1);
	assert_int_equal(v, 42);
	assert_int_equal(wq_node_int(root, "i", &v), 0);
	assert_int_equal(v, 8);
	assert_int_equal(wq_node_int(root, "neg", &v), 0);
	assert_int_equal(v, -12);
	assert_int_equal(wq_node_int(root, "plus", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(wq_node_int(root, "max", &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(wq_node_int_range(root, "i", 1, 8, &v), 0);
	assert_int_equal(v, 8);
	assert_int_equal(wq_node_int_range(root, "absent", 1, 8, &v), 1);
	assert_null(wq_yaml_error(doc));
	wq_yaml_free(doc);
	GETTER_FAILS(wq_node_int(g, "word", &v),
	    "t.yaml:7:7: word: expected an integer, got 'eight'");
	GETTER_FAILS(wq_node_int(g, "q", &v),
	    "t.yaml:2:4: q: expected an integer, got the quoted string '8'");
	GETTER_FAILS(wq_node_int(g, "over", &v),
	    "t.yaml:6:7: over: 9223372036854775808 is out of range");
	GETTER_FAILS(wq_node_int(g, "oct", &v),
	    "t.yaml:24:6: oct: expected an integer, got '0x10'");
	GETTER_FAILS(wq_node_int(g, "d2", &v),
	    "t.yaml:14:5: d2: expected an integer, got '1.5s'");
	GETTER_FAILS(wq_node_int(g, "n1", &v),
	    "t.yaml:20:4: n1: expected an integer, got ''");
	GETTER_FAILS(wq_node_int(g, "m", &v),
	    "t.yaml:8:4: m: expected an integer, got a mapping");
	GETTER_FAILS(wq_node_int_range(g, "i", 1, 4, &v),
	    "t.yaml:3:4: i: 8 is out of range (1..4)");
	GETTER_FAILS(wq_node_int_range(g, "neg", 0, 4, &v),
	    "t.yaml:4:6: neg: -12 is out of range (0..4)");
	GETTER_FAILS(wq_node_int_range(g, "word", 0, 4, &v),
	    "t.yaml:7:7: word: expected an integer, got 'eight'");
}

static void
test_bool(void **state)
{
	static const struct {
		const char	*text;
		int		 val;
	} ok[] = {
		{ "true", 1 }, { "false", 0 }, { "yes", 1 }, { "no", 0 },
		{ "on", 1 }, { "off", 0 }, { "True", 1 }, { "NO", 0 },
		{ "Off", 0 }, { "YES", 1 },
	};
	struct wq_yaml *doc;
	char text[64];
	int b;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "b: %s\n", ok[i].text);
		doc = load(text);
		b = -1;
		assert_int_equal(wq_node_bool(wq_yaml_root(doc), "b", &b), 0);
		assert_int_equal(b, ok[i].val);
		wq_yaml_free(doc);
	}
	doc = load(getters_doc);
	b = 7;
	assert_int_equal(wq_node_bool(wq_yaml_root(doc), "absent", &b), 1);
	assert_int_equal(b, 7);
	assert_int_equal(wq_node_bool(wq_yaml_root(doc), "b1", &b), 0);
	assert_int_equal(b, 1);
	wq_yaml_free(doc);
	GETTER_FAILS(wq_node_bool(g, "b2", &b), "t.yaml:11:5: b2: "
	    "expected a boolean (true or false), got the quoted string "
	    "'true'");
	GETTER_FAILS(wq_node_bool(g, "b3", &b), "t.yaml:12:5: b3: "
	    "expected a boolean (true or false), got 'maybe'");
	GETTER_FAILS(wq_node_bool(g, "i", &b), "t.yaml:3:4: i: "
	    "expected a boolean (true or false), got '8'");
}

static void
test_parse_ms(void **state)
{
	static const struct {
		const char	*text;
		int64_t		 ms;
	} ok[] = {
		{ "0", 0 }, { "250", 250 }, { "250ms", 250 }, { "30s", 30000 },
		{ "5m", 300000 }, { "1h", 3600000 }, { "7d", 604800000 },
		{ "1.5s", 1500 }, { "0.25m", 15000 }, { "0.001s", 1 },
		{ "1.500s", 1500 }, { "2.5d", 216000000 },
		{ "9223372036854775807", INT64_MAX },
		{ "9223372036854775807ms", INT64_MAX },
		{ "106751991167d", 106751991167LL * 86400000 },
	};
	static const char *const bad[] = {
		"", "-1", "-5s", "+5s", "s", "ms", "5 s", "5S", "5sec", "1.5",
		"0.0005s", "1.", ".5s", "1..5s", "1e3", "0x10", "5ms5",
		"9223372036854775808", "9223372036854775808ms",
		"106751991168d", "9223372036854775807s",
		"1.0000000001s", "nan", "inf", " 5s",
	};
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ms = -1;
		if (wq_parse_ms(ok[i].text, &ms) != 0 || ms != ok[i].ms)
			fail_msg("'%s': got %lld", ok[i].text, (long long)ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = -7;
		if (wq_parse_ms(bad[i], &ms) != -1 || ms != -7)
			fail_msg("'%s' was accepted", bad[i]);
	}
}

static void
test_ms(void **state)
{
	struct wq_yaml *doc = load(getters_doc);
	const struct wq_node *root = wq_yaml_root(doc);
	int64_t v = 99;

	(void)state;
	assert_int_equal(wq_node_ms(root, "absent", &v), 1);
	assert_int_equal(v, 99);
	assert_int_equal(wq_node_ms(root, "d1", &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(wq_node_ms(root, "d2", &v), 0);
	assert_int_equal(v, 1500);
	assert_int_equal(wq_node_ms(root, "i", &v), 0);
	assert_int_equal(v, 8);
	wq_yaml_free(doc);
	GETTER_FAILS(wq_node_ms(g, "d3", &v), "t.yaml:15:5: d3: expected "
	    "a duration (250ms, 30s, 5m, 1h, 7d), got the quoted string "
	    "'30s'");
	GETTER_FAILS(wq_node_ms(g, "d4", &v), "t.yaml:16:5: d4: expected "
	    "a duration (250ms, 30s, 5m, 1h, 7d), got '5 minutes'");
	GETTER_FAILS(wq_node_ms(g, "neg", &v), "t.yaml:4:6: neg: expected "
	    "a duration (250ms, 30s, 5m, 1h, 7d), got '-12'");
	GETTER_FAILS(wq_node_ms(g, "seq", &v), "t.yaml:9:6: seq: expected "
	    "a duration (250ms, 30s, 5m, 1h, 7d), got a sequence");
}

static void
test_float(void **state)
{
	struct wq_yaml *doc = load(getters_doc);
	const struct wq_node *root = wq_yaml_root(doc);
	double d = 0.5;

	(void)state;
	assert_int_equal(wq_node_float(root, "absent", &d), 1);
	assert_true(d == 0.5);
	assert_int_equal(wq_node_float(root, "f1", &d), 0);
	assert_true(d == 1.55);
	assert_int_equal(wq_node_float(root, "i", &d), 0);
	assert_true(d == 8.0);
	wq_yaml_free(doc);
	GETTER_FAILS(wq_node_float(g, "f2", &d), "t.yaml:18:5: f2: "
	    "expected a number, got the quoted string '2'");
	GETTER_FAILS(wq_node_float(g, "f3", &d), "t.yaml:19:5: f3: "
	    "expected a number, got '1.5x'");
	GETTER_FAILS(wq_node_float(g, "oct", &d), "t.yaml:24:6: oct: "
	    "expected a number, got '0x10'");

	doc = load("a: 1e999\nb: nan\nc: .\n");
	assert_int_equal(wq_node_float(wq_yaml_root(doc), "a", &d), -1);
	assert_int_equal(wq_node_float(wq_yaml_root(doc), "b", &d), -1);
	assert_int_equal(wq_node_float(wq_yaml_root(doc), "c", &d), -1);
	assert_string_equal(wq_yaml_error(doc),
	    "t.yaml:1:4: a: expected a number, got '1e999'");
	wq_yaml_free(doc);
}

static void
test_strv(void **state)
{
	struct wq_yaml *doc = load(getters_doc);
	const struct wq_node *root = wq_yaml_root(doc);
	const char *v[4] = { NULL };
	size_t n = 99;

	(void)state;
	assert_int_equal(wq_node_strv(root, "absent", v, 4, &n), 1);
	assert_int_equal(n, 99);
	assert_int_equal(wq_node_strv(root, "seq", v, 4, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0], "a");
	assert_string_equal(v[2], "c");
	assert_null(v[3]);
	assert_int_equal(wq_node_strv(root, "seq", v, 3, &n), 0);
	assert_int_equal(wq_node_strv(root, "n1", v, 4, &n), 0);
	assert_int_equal(n, 0);
	wq_yaml_free(doc);
	GETTER_FAILS(wq_node_strv(g, "seq", v, 2, &n),
	    "t.yaml:9:6: seq: more than 2 items");
	GETTER_FAILS(wq_node_strv(g, "lst", v, 4, &n),
	    "t.yaml:22:10: lst: expected a string, got a sequence");
	GETTER_FAILS(wq_node_strv(g, "s", v, 4, &n),
	    "t.yaml:1:4: s: expected a sequence of strings, got 'hello'");
}

static void
test_keys(void **state)
{
	static const char *const known[] = { "workers", "log", NULL };
	struct wq_yaml *doc;

	(void)state;
	doc = load("workers: 8\nlog: {}\n");
	assert_int_equal(wq_node_keys(wq_yaml_root(doc), known), 0);
	assert_int_equal(wq_node_keys(NULL, known), 0);
	assert_null(wq_yaml_error(doc));
	wq_yaml_free(doc);

	doc = load("workers: 8\nlog:\n  x: 1\nwrkers: 3\nalso: 1\n");
	assert_int_equal(wq_node_keys(wq_yaml_root(doc), known), -1);
	assert_string_equal(wq_yaml_error(doc),
	    "t.yaml:4:1: unknown key 'wrkers'");
	wq_yaml_free(doc);

	doc = load("log: [1]\n");
	assert_int_equal(wq_node_keys(wq_node_get(wq_yaml_root(doc), "log"),
	    known), -1);
	assert_string_equal(wq_yaml_error(doc),
	    "t.yaml:1:6: expected a mapping, got a sequence");
	wq_yaml_free(doc);
}

static void
test_sticky(void **state)
{
	struct wq_yaml *doc = load(getters_doc);
	const struct wq_node *root = wq_yaml_root(doc);
	int64_t v;
	const char *s;

	(void)state;
	assert_int_equal(wq_node_int(root, "word", &v), -1);
	/* Later calls still report their own outcome; the first error
	   stays. */
	assert_int_equal(wq_node_int(root, "i", &v), 0);
	assert_int_equal(wq_node_int(root, "q", &v), -1);
	assert_int_equal(wq_node_str(root, "s", &s), 0);
	assert_int_equal(wq_node_error(wq_node_get(root, "s"), "late %d", 1),
	    -1);
	assert_string_equal(wq_yaml_error(doc),
	    "t.yaml:7:7: word: expected an integer, got 'eight'");
	wq_yaml_free(doc);
}

static void
test_node_error(void **state)
{
	struct wq_yaml *doc = load("a:\n  b: [1, 2]\n");
	const struct wq_node *b = wq_node_get(wq_node_get(wq_yaml_root(doc),
	    "a"), "b");

	(void)state;
	assert_int_equal(wq_node_error(NULL, "nothing"), -1);
	assert_null(wq_yaml_error(doc));
	assert_int_equal(wq_node_error(wq_node_at(b, 1, NULL), "bad item %d",
	    2), -1);
	assert_string_equal(wq_yaml_error(doc), "t.yaml:2:10: bad item 2");
	wq_yaml_free(doc);
}

static void
test_null_and_empty_map(void **state)
{
	struct wq_yaml *doc;
	const struct wq_node *root, *m;

	(void)state;
	doc = load("a:\nb: ~\nc: null\nd: \"\"\ne: 'null'\nf: x\ng: {}\n"
	    "h: NULL\n");
	root = wq_yaml_root(doc);
	assert_true(wq_node_null(wq_node_get(root, "a")));
	assert_true(wq_node_null(wq_node_get(root, "b")));
	assert_true(wq_node_null(wq_node_get(root, "c")));
	assert_true(wq_node_null(wq_node_get(root, "h")));
	assert_false(wq_node_null(wq_node_get(root, "d")));
	assert_false(wq_node_null(wq_node_get(root, "e")));
	assert_false(wq_node_null(wq_node_get(root, "f")));
	assert_false(wq_node_null(wq_node_get(root, "g")));
	assert_false(wq_node_null(NULL));

	m = wq_node_empty_map(wq_node_get(root, "b"));
	assert_non_null(m);
	assert_int_equal(wq_node_type(m), WQ_NODE_MAP);
	assert_int_equal(wq_node_len(m), 0);
	assert_pos(m, 2, 4);
	assert_string_equal(wq_node_file(m), "t.yaml");
	/* It is a real node of the document: errors land there. */
	assert_int_equal(wq_node_keys(m, (const char *const[]){ NULL }), 0);
	assert_int_equal(wq_node_error(m, "url: missing"), -1);
	assert_string_equal(wq_yaml_error(doc), "t.yaml:2:4: url: missing");
	wq_yaml_free(doc);
}

static void
test_many_keys(void **state)
{
	size_t size = 20000 * 16, n = 0;
	char *buf = malloc(size);
	struct wq_yaml *doc;

	(void)state;
	assert_non_null(buf);
	for (int i = 0; i < 20000; i++)
		n += (size_t)snprintf(buf + n, size - n, "k%d: %d\n", i, i);
	doc = load(buf);
	assert_int_equal(wq_node_len(wq_yaml_root(doc)), 20000);
	assert_string_equal(wq_node_scalar(wq_node_get(wq_yaml_root(doc),
	    "k19999")), "19999");
	wq_yaml_free(doc);
	/* A duplicate at the very end is still found. */
	n += (size_t)snprintf(buf + n, size - n, "k7: x\n");
	refuse(buf, "t.yaml:20001:1: duplicate key 'k7'");
	free(buf);
}

static void
test_show(void **state)
{
	char text[300];

	(void)state;
	/* Values quoted in errors are cut short and lose control
	   characters. */
	snprintf(text, sizeof(text), "a: {%s: 1, %s: 2}\n",
	    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
	    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk");
	refuse(text, "t.yaml:1:69: duplicate key "
	    "'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...'");
	refuse("\"a\\tb\": 1\n\"a\\tb\": 2\n",
	    "t.yaml:2:1: duplicate key 'a?b'");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_depth_bomb),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_big),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_str),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_parse_ms),
		cmocka_unit_test(test_ms),
		cmocka_unit_test(test_float),
		cmocka_unit_test(test_strv),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_sticky),
		cmocka_unit_test(test_node_error),
		cmocka_unit_test(test_null_and_empty_map),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_show),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
