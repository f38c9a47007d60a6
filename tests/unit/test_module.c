/*
 * Unit tests for core/module.c, core/elf.c and core/registry.c: every
 * refusal by its message, no code of a refused file run, the entry points
 * of good plugins called in order through a fake host, reference counting
 * and fini, and the registry's duplicate and error handling.
 *
 * The fixture plugins (the .c files of tests/fixtures) are found as .so in
 * $WQ_TEST_PLUGIN_DIR.  Each test copies the ones it needs into a fresh
 * temporary directory under the name it needs, with the mode it needs.
 * The fixtures report what ran through the fake host's log function.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/elf.h>

#include "module.h"
#include "registry.h"
#include "yaml.h"

#define LOG_LINES	32

struct env {
	char	 dir[256];		/* this test's plugin directory */
	char	 err[2048];
};

static char log_lines[LOG_LINES][128];
static int nlog;

static void WQ_PRINTF(2, 3)
fake_log(int prio, const char *fmt, ...)
{
	va_list ap;

	(void)prio;
	if (nlog == LOG_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(log_lines[nlog++], sizeof(log_lines[0]), fmt, ap);
	va_end(ap);
}

/* A config getter that refuses without recording a positioned error. */
static int
refuse_keys(const struct wq_node *map, const char *const *known)
{
	(void)map;
	(void)known;
	return -1;
}

static const struct wq_host host = {
	.abi = WQ_PLUGIN_ABI,
	.size = sizeof(struct wq_host),
	.log = fake_log,
	.conf_str = wq_node_str,
	.conf_keys = wq_node_keys,
	.conf_error = wq_node_error,
};

static const struct wq_host refusing_host = {
	.abi = WQ_PLUGIN_ABI,
	.size = sizeof(struct wq_host),
	.log = fake_log,
	.conf_keys = refuse_keys,
};

/* How many times line was logged. */
static int
logged(const char *line)
{
	int n = 0;

	for (int i = 0; i < nlog; i++)
		if (strcmp(log_lines[i], line) == 0)
			n++;
	return n;
}

/* Where line was logged first, or -1. */
static int
log_index(const char *line)
{
	for (int i = 0; i < nlog; i++)
		if (strcmp(log_lines[i], line) == 0)
			return i;
	return -1;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct env *env;

	if ((env = calloc(1, sizeof(*env))) == NULL)
		return -1;
	snprintf(env->dir, sizeof(env->dir), "%s/wq_module.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(env->dir) == NULL) {
		free(env);
		return -1;
	}
	nlog = 0;
	*state = env;
	return 0;
}

static int
teardown(void **state)
{
	struct env *env = *state;

	nftw(env->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(env);
	return 0;
}

/* Copies fixture <fixture>.so into the test's directory as <as>.so. */
static void
install(struct env *env, const char *fixture, const char *as, mode_t mode)
{
	const char *src_dir = getenv("WQ_TEST_PLUGIN_DIR");
	char src[PATH_MAX], dst[PATH_MAX], buf[8192];
	ssize_t n;
	int in, out;

	assert_non_null(src_dir);
	snprintf(src, sizeof(src), "%s/%s.so", src_dir, fixture);
	snprintf(dst, sizeof(dst), "%s/%s.so", env->dir, as);
	in = open(src, O_RDONLY | O_CLOEXEC);
	assert_true(in != -1);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(out != -1);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	assert_int_equal(fchmod(out, mode), 0);
	close(in);
	close(out);
}

static void
path_of(const struct env *env, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s.so", env->dir, name);
}

/* Opening name must fail with "<dir>/<name>.so: <reason>". */
static void
refused(struct env *env, const char *name, const char *reason)
{
	char want[PATH_MAX + 256];

	assert_null(wq_module_open(env->dir, name, env->err,
	    sizeof(env->err)));
	snprintf(want, sizeof(want), "%s/%s.so: %s", env->dir, name, reason);
	assert_string_equal(env->err, want);
}

/* Writes len bytes at off of <dir>/<name>.so. */
static void
patch(struct env *env, const char *name, off_t off, const void *buf,
    size_t len)
{
	char path[PATH_MAX];
	int fd;

	path_of(env, name, path, sizeof(path));
	assert_true((fd = open(path, O_WRONLY | O_CLOEXEC)) != -1);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

/* The byte at off of <dir>/<name>.so. */
static unsigned char
byte_at(struct env *env, const char *name, off_t off)
{
	char path[PATH_MAX];
	unsigned char b;
	int fd;

	path_of(env, name, path, sizeof(path));
	assert_true((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	close(fd);
	return b;
}

static void
test_name_valid(void **state)
{
	char name[80];

	(void)state;
	assert_true(wq_module_name_valid("echo"));
	assert_true(wq_module_name_valid("a-b_c9"));
	memset(name, 'a', 64);
	name[64] = '\0';
	assert_true(wq_module_name_valid(name));
	name[64] = 'a';
	name[65] = '\0';
	assert_false(wq_module_name_valid(name));
	assert_false(wq_module_name_valid(""));
	assert_false(wq_module_name_valid("Echo"));
	assert_false(wq_module_name_valid("../x"));
	assert_false(wq_module_name_valid("a/b"));
	assert_false(wq_module_name_valid("a.b"));
	assert_false(wq_module_name_valid(".hidden"));
	assert_false(wq_module_name_valid("a b"));
}

static void
test_invalid_name(void **state)
{
	struct env *env = *state;

	install(env, "good_async", "good_async", 0644);
	refused(env, "../x", "invalid plugin name");
	refused(env, "Echo", "invalid plugin name");
	refused(env, "good_async.so", "invalid plugin name");
	refused(env, "", "invalid plugin name");
}

static void
test_missing_file(void **state)
{
	struct env *env = *state;
	char dir[PATH_MAX + 8];

	refused(env, "nope", strerror(ENOENT));
	snprintf(dir, sizeof(dir), "%s/none", env->dir);
	assert_null(wq_module_open(dir, "nope", env->err, sizeof(env->err)));
	assert_non_null(strstr(env->err, "/none/nope.so: cannot open the "
	    "plugin directory: "));
}

static void
test_symlink(void **state)
{
	struct env *env = *state;
	char link[PATH_MAX];

	install(env, "good_async", "good_async", 0644);
	path_of(env, "link", link, sizeof(link));
	assert_int_equal(symlink("good_async.so", link), 0);
	refused(env, "link", "is a symbolic link");
}

static void
test_not_regular(void **state)
{
	struct env *env = *state;
	char path[PATH_MAX];

	path_of(env, "x", path, sizeof(path));
	assert_int_equal(mkdir(path, 0755), 0);
	refused(env, "x", "not a regular file");
	path_of(env, "fifo", path, sizeof(path));
	assert_int_equal(mkfifo(path, 0644), 0);
	refused(env, "fifo", "not a regular file");
}

static void
test_writable(void **state)
{
	struct env *env = *state;

	install(env, "good_async", "world", 0666);
	refused(env, "world", "is writable by group or others");
	install(env, "good_async", "group", 0664);
	refused(env, "group", "is writable by group or others");
	install(env, "good_async", "other", 0602);
	refused(env, "other", "is writable by group or others");
}

static void
test_owner(void **state)
{
	struct env *env = *state;
	char path[PATH_MAX];

	if (geteuid() != 0)
		skip();
	install(env, "good_async", "alien", 0644);
	path_of(env, "alien", path, sizeof(path));
	assert_int_equal(chown(path, 12345, 0), 0);
	refused(env, "alien", "owned by uid 12345, not by root or by "
	    "workqd's user");
}

static void
test_not_elf(void **state)
{
	struct env *env = *state;
	char path[PATH_MAX];
	int fd;

	path_of(env, "text", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "#!/bin/sh\necho hi\n", 18), 18);
	close(fd);
	refused(env, "text", "not an ELF file");
	path_of(env, "empty", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd != -1);
	close(fd);
	refused(env, "empty", "not an ELF file");
}

static void
test_elf_header(void **state)
{
	struct env *env = *state;
	unsigned char b = ELFCLASS32;
	uint16_t h;
	char path[PATH_MAX];

	install(env, "good_async", "class32", 0644);
	patch(env, "class32", EI_CLASS, &b, 1);
	refused(env, "class32", "not a 64-bit ELF file");

	install(env, "good_async", "arm", 0644);
	h = byte_at(env, "arm", offsetof(Elf64_Ehdr, e_machine)) ==
	    EM_AARCH64 ? EM_X86_64 : EM_AARCH64;
	patch(env, "arm", offsetof(Elf64_Ehdr, e_machine), &h, sizeof(h));
	refused(env, "arm", "built for another machine");

	install(env, "good_async", "endian", 0644);
	b = ELFDATA2LSB + ELFDATA2MSB - byte_at(env, "endian", EI_DATA);
	patch(env, "endian", EI_DATA, &b, 1);
	refused(env, "endian", "built for another machine");

	install(env, "good_async", "exec", 0644);
	h = ET_EXEC;
	patch(env, "exec", offsetof(Elf64_Ehdr, e_type), &h, sizeof(h));
	refused(env, "exec", "not a shared object");

	install(env, "good_async", "short", 0644);
	path_of(env, "short", path, sizeof(path));
	assert_int_equal(truncate(path, 200), 0);
	refused(env, "short", "truncated file");
	assert_int_equal(truncate(path, 40), 0);
	refused(env, "short", "truncated file");
}

static void
test_bad_abi(void **state)
{
	struct env *env = *state;

	install(env, "bad_abi", "bad_abi", 0644);
	refused(env, "bad_abi", "plugin ABI 99, workqd needs 1");
}

static void
test_small_size(void **state)
{
	struct env *env = *state;
	char want[64];

	install(env, "small_size", "small_size", 0644);
	snprintf(want, sizeof(want), "descriptor too small: 16 bytes, ABI 1 "
	    "needs %zu", sizeof(struct wq_plugin));
	refused(env, "small_size", want);
}

static void
test_no_descriptor(void **state)
{
	struct env *env = *state;

	install(env, "no_descriptor", "no_descriptor", 0644);
	refused(env, "no_descriptor", "no symbol workqd_plugin");
}

static void
test_handlers(void **state)
{
	struct env *env = *state;

	install(env, "no_handler", "no_handler", 0644);
	refused(env, "no_handler", "no handler: set run or start");
	install(env, "two_handlers", "two_handlers", 0644);
	refused(env, "two_handlers",
	    "two handlers: set run or start, not both");
}

/* A refused file's constructor never runs; dlopen would have run it. */
static void
test_no_code_runs(void **state)
{
	struct env *env = *state;
	char marker[PATH_MAX], path[PATH_MAX];
	struct stat st;
	void *h;

	snprintf(marker, sizeof(marker), "%s/marker", env->dir);
	assert_int_equal(setenv("WQ_TEST_CTOR_MARKER", marker, 1), 0);
	install(env, "ctor_marker", "ctor_marker", 0644);
	refused(env, "ctor_marker", "plugin ABI 99, workqd needs 1");
	assert_int_equal(stat(marker, &st), -1);
	assert_int_equal(errno, ENOENT);

	/* The control: loading the file does run the constructor. */
	path_of(env, "ctor_marker", path, sizeof(path));
	assert_non_null(h = dlopen(path, RTLD_NOW | RTLD_LOCAL));
	assert_int_equal(stat(marker, &st), 0);
	dlclose(h);
	unsetenv("WQ_TEST_CTOR_MARKER");
}

static void
test_good_async(void **state)
{
	struct env *env = *state;
	struct wq_module *m;
	char path[PATH_MAX];

	install(env, "good_async", "good_async", 0644);
	m = wq_module_open(env->dir, "good_async", env->err,
	    sizeof(env->err));
	assert_non_null(m);
	path_of(env, "good_async", path, sizeof(path));
	assert_string_equal(wq_module_path(m), path);
	assert_string_equal(wq_module_name(m), "good_async");
	assert_string_equal(wq_module_desc(m)->name, "good_async");
	assert_string_equal(wq_module_desc(m)->version, "1.0");
	assert_int_equal(wq_module_desc(m)->timeout_ms, 5000);
	assert_int_equal(wq_module_desc(m)->size, sizeof(struct wq_plugin));
	assert_true(wq_module_async(m));
	assert_int_equal(wq_module_refs(m), 0);
	assert_int_equal(nlog, 0);

	assert_int_equal(wq_module_conf_check(m, &host, NULL), 0);
	assert_int_equal(logged("good_async: conf_check"), 1);
	assert_int_equal(wq_module_init(m, &host, NULL, env->err,
	    sizeof(env->err)), 0);
	assert_int_equal(logged("good_async: init"), 1);
	assert_non_null(wq_module_state(m));
	assert_int_equal(wq_module_desc(m)->start(wq_module_state(m), NULL),
	    WQ_DONE);
	wq_module_unref(m);
	assert_int_equal(logged("good_async: fini"), 1);
}

static void
test_good_blocking(void **state)
{
	struct env *env = *state;
	struct wq_module *m;

	install(env, "good_blocking", "good_blocking", 0644);
	m = wq_module_open(env->dir, "good_blocking", env->err,
	    sizeof(env->err));
	assert_non_null(m);
	assert_false(wq_module_async(m));
	assert_null(wq_module_desc(m)->conf_check);
	assert_null(wq_module_desc(m)->init);
	assert_null(wq_module_desc(m)->cancel);
	assert_int_equal(wq_module_conf_check(m, &host, NULL), 0);
	assert_int_equal(wq_module_init(m, &host, NULL, env->err,
	    sizeof(env->err)), 0);
	assert_null(wq_module_state(m));
	assert_int_equal(wq_module_desc(m)->run(NULL, NULL), WQ_DONE);
	assert_int_equal(nlog, 0);
	wq_module_unref(m);
}

/* fini runs once, at the last reference, after init. */
static void
test_refcount(void **state)
{
	struct env *env = *state;
	struct wq_module *m;

	install(env, "good_async", "good_async", 0644);
	m = wq_module_open(env->dir, "good_async", env->err,
	    sizeof(env->err));
	assert_non_null(m);
	assert_int_equal(wq_module_init(m, &host, NULL, env->err,
	    sizeof(env->err)), 0);
	wq_module_ref(m);
	wq_module_ref(m);
	assert_int_equal(wq_module_refs(m), 2);
	/* The registry lets go first (a reload); the jobs still run. */
	wq_module_unref(m);
	assert_int_equal(wq_module_refs(m), 1);
	wq_module_unref(m);
	assert_int_equal(wq_module_refs(m), 0);
	assert_int_equal(logged("good_async: fini"), 0);
	wq_module_unref(m);
	assert_int_equal(logged("good_async: fini"), 1);
	assert_true(log_index("good_async: init") <
	    log_index("good_async: fini"));
}

static void
test_no_fini_without_init(void **state)
{
	struct env *env = *state;
	struct wq_module *m;

	install(env, "good_async", "good_async", 0644);
	m = wq_module_open(env->dir, "good_async", env->err,
	    sizeof(env->err));
	assert_non_null(m);
	wq_module_unref(m);
	assert_int_equal(nlog, 0);
}

static void
test_init_fails(void **state)
{
	struct env *env = *state;
	struct wq_module *m;
	char want[PATH_MAX + 32];

	install(env, "init_fails", "init_fails", 0644);
	m = wq_module_open(env->dir, "init_fails", env->err,
	    sizeof(env->err));
	assert_non_null(m);
	assert_int_equal(wq_module_init(m, &host, NULL, env->err,
	    sizeof(env->err)), -1);
	snprintf(want, sizeof(want), "%s/init_fails.so: init failed",
	    env->dir);
	assert_string_equal(env->err, want);
	assert_int_equal(logged("init_fails: init"), 1);
	wq_module_unref(m);
	assert_int_equal(logged("init_fails: fini"), 0);
}

/* Two plugins loaded at once each get their own object, and one file
   opened twice is one object. */
static void
test_distinct_objects(void **state)
{
	struct env *env = *state;
	struct wq_module *a, *b, *c;

	install(env, "good_async", "good_async", 0644);
	install(env, "good_blocking", "good_blocking", 0644);
	a = wq_module_open(env->dir, "good_async", env->err,
	    sizeof(env->err));
	assert_non_null(a);
	b = wq_module_open(env->dir, "good_blocking", env->err,
	    sizeof(env->err));
	assert_non_null(b);
	c = wq_module_open(env->dir, "good_async", env->err,
	    sizeof(env->err));
	assert_non_null(c);
	assert_string_equal(wq_module_desc(a)->name, "good_async");
	assert_string_equal(wq_module_desc(b)->name, "good_blocking");
	assert_string_equal(wq_module_desc(c)->name, "good_async");
	assert_ptr_equal(wq_module_desc(a)->start, wq_module_desc(c)->start);
	wq_module_unref(a);
	wq_module_unref(b);
	/* c's object must still be there. */
	assert_int_equal(wq_module_desc(c)->start(NULL, NULL), WQ_DONE);
	wq_module_unref(c);
}

/* Many plugins live at once, as a registry holds them. */
static void
test_many_live(void **state)
{
	struct env *env = *state;
	struct wq_module *m[16];
	char name[8];

	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		install(env, i % 2 == 0 ? "good_async" : "good_blocking", name,
		    0644);
		m[i] = wq_module_open(env->dir, name, env->err,
		    sizeof(env->err));
		assert_non_null(m[i]);
	}
	for (int i = 0; i < 16; i++) {
		assert_int_equal(wq_module_async(m[i]), i % 2 == 0);
		wq_module_unref(m[i]);
	}
}

/*
 * An object dlclose cannot unload keeps its /proc/self/fd name.  Leave one
 * behind under the numbers the next open will use and check that the
 * loader still loads its own file, not the object answering to the name.
 */
static void
test_stale_proc_name(void **state)
{
	struct env *env = *state;
	struct wq_module *m;
	char path[PATH_MAX], proc[64];
	int fd[2];
	void *h;

	install(env, "good_async", "good_async", 0644);
	install(env, "good_blocking", "good_blocking", 0644);
	path_of(env, "good_blocking", path, sizeof(path));
	/* wq_module_open takes the two lowest free numbers: the directory,
	   then the file.  Plant a stale object under each. */
	for (int i = 0; i < 2; i++) {
		fd[i] = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd[i] != -1);
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd[i]);
		h = dlopen(proc, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
		assert_non_null(h);
		dlclose(h);
	}
	close(fd[0]);
	close(fd[1]);
	m = wq_module_open(env->dir, "good_async", env->err,
	    sizeof(env->err));
	assert_non_null(m);
	assert_string_equal(wq_module_desc(m)->name, "good_async");
	assert_true(wq_module_async(m));
	wq_module_unref(m);
}

/* A hand-built config: plugin_dir and the plugins mapping of text. */
struct conf_fixture {
	struct wq_conf		conf;
	struct wq_conf_plugin	plugins[8];
};

static void
conf_make(struct conf_fixture *cf, struct env *env, const char *text)
{
	const struct wq_node *map;
	const char *key;
	size_t n;

	memset(cf, 0, sizeof(*cf));
	cf->conf.doc = wq_yaml_load_buffer("test.yaml", text, strlen(text),
	    env->err, sizeof(env->err));
	assert_non_null(cf->conf.doc);
	cf->conf.path = "test.yaml";
	cf->conf.plugin_dir = env->dir;
	map = wq_node_get(wq_yaml_root(cf->conf.doc), "plugins");
	assert_non_null(map);
	n = wq_node_len(map);
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		cf->plugins[i].conf = wq_node_at(map, i, &key);
		cf->plugins[i].name = key;
		cf->plugins[i].key = wq_node_key(map, key);
	}
	cf->conf.plugins = cf->plugins;
	cf->conf.nplugins = n;
}

static void
test_registry_load(void **state)
{
	struct env *env = *state;
	struct conf_fixture cf;
	struct wq_registry *reg;
	struct wq_module *m;

	install(env, "good_async", "good_async", 0644);
	install(env, "good_blocking", "good_blocking", 0644);
	conf_make(&cf, env, "plugins:\n  good_async:\n    greeting: hi\n"
	    "  good_blocking: {}\n");
	reg = wq_registry_load(&cf.conf, &host, 0, env->err,
	    sizeof(env->err));
	assert_non_null(reg);
	assert_int_equal(wq_registry_len(reg), 2);
	m = wq_registry_get(reg, "good_async");
	assert_non_null(m);
	assert_ptr_equal(m, wq_registry_at(reg, 0));
	assert_true(wq_module_async(m));
	assert_int_equal(wq_module_refs(m), 0);
	m = wq_registry_get(reg, "good_blocking");
	assert_ptr_equal(m, wq_registry_at(reg, 1));
	assert_false(wq_module_async(m));
	assert_null(wq_registry_get(reg, "nope"));
	assert_null(wq_registry_at(reg, 2));
	assert_int_equal(logged("good_async: conf_check"), 1);
	assert_int_equal(logged("good_async: init"), 1);
	assert_true(log_index("good_async: conf_check") <
	    log_index("good_async: init"));

	/* A job holding the module outlives the registry. */
	m = wq_registry_get(reg, "good_async");
	wq_module_ref(m);
	wq_registry_free(reg);
	assert_int_equal(logged("good_async: fini"), 0);
	wq_module_unref(m);
	assert_int_equal(logged("good_async: fini"), 1);
	wq_yaml_free(cf.conf.doc);
}

static void
test_registry_check_only(void **state)
{
	struct env *env = *state;
	struct conf_fixture cf;
	struct wq_registry *reg;

	install(env, "good_async", "good_async", 0644);
	conf_make(&cf, env, "plugins:\n  good_async: {}\n");
	reg = wq_registry_load(&cf.conf, &host, 1, env->err,
	    sizeof(env->err));
	assert_non_null(reg);
	assert_int_equal(wq_registry_len(reg), 1);
	assert_int_equal(logged("good_async: conf_check"), 1);
	assert_int_equal(logged("good_async: init"), 0);
	wq_registry_free(reg);
	assert_int_equal(logged("good_async: fini"), 0);
	wq_yaml_free(cf.conf.doc);
}

static void
test_registry_duplicate(void **state)
{
	struct env *env = *state;
	struct conf_fixture cf;
	char want[3 * PATH_MAX];

	install(env, "good_async", "good_async", 0644);
	install(env, "dup_name", "dup_name", 0644);
	conf_make(&cf, env, "plugins:\n  good_async: {}\n  dup_name: {}\n");
	assert_null(wq_registry_load(&cf.conf, &host, 0, env->err,
	    sizeof(env->err)));
	snprintf(want, sizeof(want), "test.yaml:3:3: plugin 'dup_name': "
	    "%s/dup_name.so: duplicate plugin name 'good_async' (also "
	    "declared by %s/good_async.so)", env->dir, env->dir);
	assert_string_equal(env->err, want);
	/* What was loaded before the refusal is unloaded. */
	assert_int_equal(logged("good_async: init"), 1);
	assert_int_equal(logged("good_async: fini"), 1);
	wq_yaml_free(cf.conf.doc);
}

static void
test_registry_open_error(void **state)
{
	struct env *env = *state;
	struct conf_fixture cf;
	char want[2 * PATH_MAX];

	install(env, "bad_abi", "bad_abi", 0644);
	conf_make(&cf, env, "plugins:\n  missing: {}\n");
	assert_null(wq_registry_load(&cf.conf, &host, 1, env->err,
	    sizeof(env->err)));
	snprintf(want, sizeof(want), "test.yaml:2:3: plugin 'missing': "
	    "%s/missing.so: %s", env->dir, strerror(ENOENT));
	assert_string_equal(env->err, want);
	wq_yaml_free(cf.conf.doc);

	conf_make(&cf, env, "# bad\nplugins:\n    bad_abi: {}\n");
	assert_null(wq_registry_load(&cf.conf, &host, 1, env->err,
	    sizeof(env->err)));
	snprintf(want, sizeof(want), "test.yaml:3:5: plugin 'bad_abi': "
	    "%s/bad_abi.so: plugin ABI 99, workqd needs 1", env->dir);
	assert_string_equal(env->err, want);
	wq_yaml_free(cf.conf.doc);
}

/* A setting the plugin refuses is reported where it stands. */
static void
test_registry_conf_refused(void **state)
{
	struct env *env = *state;
	struct conf_fixture cf;
	char want[2 * PATH_MAX];

	install(env, "good_async", "good_async", 0644);
	conf_make(&cf, env, "plugins:\n  good_async:\n    greting: hi\n");
	assert_null(wq_registry_load(&cf.conf, &host, 1, env->err,
	    sizeof(env->err)));
	assert_string_equal(env->err, "test.yaml:3:5: unknown key 'greting'");
	wq_yaml_free(cf.conf.doc);

	/* Refused with nothing recorded: placed at the plugin's key. */
	conf_make(&cf, env, "plugins:\n  good_async: {}\n");
	assert_null(wq_registry_load(&cf.conf, &refusing_host, 0, env->err,
	    sizeof(env->err)));
	snprintf(want, sizeof(want), "test.yaml:2:3: plugin 'good_async': "
	    "%s/good_async.so: configuration refused", env->dir);
	assert_string_equal(env->err, want);
	assert_int_equal(logged("good_async: init"), 0);
	wq_yaml_free(cf.conf.doc);
}

static void
test_registry_init_fails(void **state)
{
	struct env *env = *state;
	struct conf_fixture cf;
	struct wq_registry *reg;
	char want[2 * PATH_MAX];

	install(env, "good_async", "good_async", 0644);
	install(env, "init_fails", "init_fails", 0644);
	conf_make(&cf, env, "plugins:\n  good_async: {}\n  init_fails: {}\n");
	/* Checking only does not run init. */
	reg = wq_registry_load(&cf.conf, &host, 1, env->err,
	    sizeof(env->err));
	assert_non_null(reg);
	wq_registry_free(reg);
	assert_int_equal(logged("init_fails: init"), 0);
	nlog = 0;
	assert_null(wq_registry_load(&cf.conf, &host, 0, env->err,
	    sizeof(env->err)));
	snprintf(want, sizeof(want), "test.yaml:3:3: plugin 'init_fails': "
	    "%s/init_fails.so: init failed", env->dir);
	assert_string_equal(env->err, want);
	assert_int_equal(logged("init_fails: init"), 1);
	assert_int_equal(logged("init_fails: fini"), 0);
	assert_int_equal(logged("good_async: fini"), 1);
	wq_yaml_free(cf.conf.doc);
}

/* The gone callback of a retired registry: records the order of events. */
static int gone_calls;
static int gone_at_log;

static void
gone_cb(void *arg)
{
	struct conf_fixture *cf = arg;

	gone_calls++;
	gone_at_log = nlog;
	/* What the old plugins borrowed may go now (ASan would see a plugin
	   that read it later). */
	wq_yaml_free(cf->conf.doc);
	cf->conf.doc = NULL;
}

/* A retired registry with no job on its modules lets its config go at
   once, after fini. */
static void
test_registry_retire_idle(void **state)
{
	struct env *env = *state;
	struct conf_fixture cf;
	struct wq_registry *reg;

	install(env, "good_async", "good_async", 0644);
	install(env, "good_blocking", "good_blocking", 0644);
	conf_make(&cf, env, "plugins:\n  good_async: {}\n  good_blocking: {}\n");
	reg = wq_registry_load(&cf.conf, &host, 0, env->err,
	    sizeof(env->err));
	assert_non_null(reg);
	gone_calls = 0;
	wq_registry_retire(reg, gone_cb, &cf);
	assert_int_equal(gone_calls, 1);
	assert_int_equal(logged("good_async: fini"), 1);
	assert_true(log_index("good_async: fini") < gone_at_log);
	assert_null(cf.conf.doc);
}

/*
 * Hot swap: the plugin file is replaced (a new inode, as install(1) and
 * mv do it) and a new registry is loaded from a new config while a job
 * still runs on the old module.  New lookups get the new object; the old
 * one is finalized after its job, and only then may its config go.
 */
static void
test_registry_hot_swap(void **state)
{
	struct env *env = *state;
	struct conf_fixture old, cur;
	struct wq_registry *reg, *next;
	struct wq_module *job_mod, *m;
	char path[PATH_MAX];

	install(env, "good_async", "p", 0644);
	conf_make(&old, env, "plugins:\n  p: {}\n");
	reg = wq_registry_load(&old.conf, &host, 0, env->err,
	    sizeof(env->err));
	assert_non_null(reg);
	job_mod = wq_registry_get(reg, "p");
	wq_module_ref(job_mod);			/* a job runs on it */

	path_of(env, "p", path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	install(env, "good_blocking", "p", 0644);
	conf_make(&cur, env, "plugins:\n  p: {}\n");
	next = wq_registry_load(&cur.conf, &host, 0, env->err,
	    sizeof(env->err));
	assert_non_null(next);
	gone_calls = 0;
	wq_registry_retire(reg, gone_cb, &old);

	m = wq_registry_get(next, "p");
	assert_ptr_not_equal(m, job_mod);
	assert_false(wq_module_async(m));
	assert_string_equal(wq_module_desc(m)->name, "good_blocking");
	/* The old object is still mapped and its config still there. */
	assert_true(wq_module_async(job_mod));
	assert_int_equal(wq_module_desc(job_mod)->start(NULL, NULL), WQ_DONE);
	assert_int_equal(logged("good_async: fini"), 0);
	assert_int_equal(gone_calls, 0);
	assert_non_null(old.conf.doc);

	wq_module_unref(job_mod);		/* the job ends */
	assert_int_equal(logged("good_async: fini"), 1);
	assert_int_equal(gone_calls, 1);
	assert_true(log_index("good_async: fini") < gone_at_log);
	assert_int_equal(logged("good_blocking: fini"), 0);

	wq_registry_free(next);
	assert_int_equal(gone_calls, 1);
	wq_yaml_free(cur.conf.doc);
}

static void
count_cb(void *arg)
{
	(void)arg;
	gone_calls++;
}

/* The same unchanged file in two registries (a reload that changed only
   the plugin's config): one object, two instances, each finalized on its
   own. */
static void
test_registry_retire_twice_loaded(void **state)
{
	struct env *env = *state;
	struct conf_fixture cf;
	struct wq_registry *a, *b;
	struct wq_module *ma;

	install(env, "good_async", "good_async", 0644);
	conf_make(&cf, env, "plugins:\n  good_async: {}\n");
	a = wq_registry_load(&cf.conf, &host, 0, env->err, sizeof(env->err));
	b = wq_registry_load(&cf.conf, &host, 0, env->err, sizeof(env->err));
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(logged("good_async: init"), 2);
	ma = wq_registry_get(a, "good_async");
	wq_module_ref(ma);
	gone_calls = 0;
	wq_registry_retire(a, count_cb, NULL);
	assert_int_equal(gone_calls, 0);
	wq_module_unref(ma);
	assert_int_equal(gone_calls, 1);
	assert_int_equal(logged("good_async: fini"), 1);
	/* b's instance still works on the shared object. */
	assert_int_equal(wq_module_desc(wq_registry_get(b, "good_async"))->
	    start(NULL, NULL), WQ_DONE);
	wq_registry_free(b);
	assert_int_equal(logged("good_async: fini"), 2);
	wq_yaml_free(cf.conf.doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_name_valid),
		T(test_invalid_name),
		T(test_missing_file),
		T(test_symlink),
		T(test_not_regular),
		T(test_writable),
		T(test_owner),
		T(test_not_elf),
		T(test_elf_header),
		T(test_bad_abi),
		T(test_small_size),
		T(test_no_descriptor),
		T(test_handlers),
		T(test_no_code_runs),
		T(test_good_async),
		T(test_good_blocking),
		T(test_refcount),
		T(test_no_fini_without_init),
		T(test_init_fails),
		T(test_distinct_objects),
		T(test_many_live),
		T(test_stale_proc_name),
		T(test_registry_load),
		T(test_registry_check_only),
		T(test_registry_duplicate),
		T(test_registry_open_error),
		T(test_registry_conf_refused),
		T(test_registry_init_fails),
		T(test_registry_retire_idle),
		T(test_registry_hot_swap),
		T(test_registry_retire_twice_loaded),
#undef T
	};

	if (getenv("WQ_TEST_PLUGIN_DIR") == NULL) {
		fprintf(stderr, "test_module: set WQ_TEST_PLUGIN_DIR to the "
		    "directory of the fixture plugins\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
