/*
 * Opening, checking and reference counting one plugin (see module.h).
 *
 * DESIGN: no code of a plugin runs before the checks that can be made on
 * the file have passed.  dlopen runs constructors, so the file is opened
 * first (O_NOFOLLOW, then fstat on the descriptor: type, owner, mode), and
 * the descriptor's ABI number and size are read from that open file by
 * elf.c.  Only then is exactly that file loaded, through /proc/self/fd/N,
 * so a file swapped in the directory meanwhile is never what runs.
 *
 * glibc knows a loaded object by the names it was opened under and hands
 * the loaded object back when dlopen is given one of those names again,
 * whatever file the name now leads to.  Two things keep /proc/self/fd/N
 * meaning our file: the module keeps its descriptor open while it lives,
 * so no two live modules share a number; and before loading, a dlopen with
 * RTLD_NOLOAD asks whether some object already answers to the name (one
 * that dlclose could not unload, RTLD_NODELETE or C++ unique symbols, keeps
 * its name).  If one does and it is not this very file held by a live
 * module, the descriptor moves to another number.
 *
 * The module keeps a copy of the descriptor cut at the size the plugin
 * declared, so a field appended after the plugin was built reads as absent.
 * Every module is on the live list while it is open.  Loop thread only.
 */
#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf.h"
#include "module.h"

#define NAME_MAX_LEN	64
#define PROBES		8	/* descriptor numbers tried for a free name */

/* The descriptor of ABI 1, the smallest one workqd accepts. */
#define ABI1_SIZE	(offsetof(struct wq_plugin, cancel) + \
			    sizeof(((struct wq_plugin *)NULL)->cancel))

struct wq_module {
	LIST_ENTRY(wq_module)	 link;		/* on live while listed */
	int			 listed;
	char			 name[NAME_MAX_LEN + 1];
	char			*path;		/* <dir>/<name>.so */
	char			 proc[32];	/* /proc/self/fd/N */
	int			 fd;
	dev_t			 dev;
	ino_t			 ino;
	uint32_t		 declared;	/* the plugin's own size */
	void			*handle;
	struct wq_plugin	 desc;		/* cut at declared, rest 0 */
	void			*state;
	int			 inited;
	unsigned		 refs;
	void			(*closed)(void *);
	void			*closed_arg;
	char			 why[256];	/* the reason of a refusal */
};

static LIST_HEAD(, wq_module) live = LIST_HEAD_INITIALIZER(live);

static int
refuse(struct wq_module *m, const char *fmt, ...) WQ_PRINTF(2, 3);

static int
refuse(struct wq_module *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->why, sizeof(m->why), fmt, ap);
	va_end(ap);
	return -1;
}

int
wq_module_name_valid(const char *name)
{
	size_t n;

	for (n = 0; name[n] != '\0'; n++) {
		char c = name[n];

		if (n == NAME_MAX_LEN || !((c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

static int
open_file(struct wq_module *m, const char *dir)
{
	char file[NAME_MAX_LEN + 4];
	int dfd, saved;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return refuse(m, "cannot open the plugin directory: %s",
		    strerror(errno));
	snprintf(file, sizeof(file), "%s.so", m->name);
	/* O_NONBLOCK: a FIFO planted under the name must not hang us. */
	m->fd = openat(dfd, file,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	saved = errno;
	close(dfd);
	if (m->fd == -1 && saved == ELOOP)
		return refuse(m, "is a symbolic link");
	if (m->fd == -1)
		return refuse(m, "%s", strerror(saved));
	return 0;
}

static int
check_file(struct wq_module *m)
{
	struct stat st;

	if (fstat(m->fd, &st) == -1)
		return refuse(m, "%s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return refuse(m, "not a regular file");
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return refuse(m, "owned by uid %u, not by root or by "
		    "workqd's user", (unsigned)st.st_uid);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return refuse(m, "is writable by group or others");
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	return 0;
}

/* Checks the descriptor's ABI and size in the file, before dlopen. */
static int
peek(struct wq_module *m)
{
	struct wq_plugin d;
	size_t n;

	if (wq_elf_read_symbol(m->fd, WQ_PLUGIN_SYMBOL, &d,
	    offsetof(struct wq_plugin, name), m->why, sizeof(m->why)) == -1)
		return -1;
	if (d.abi != WQ_PLUGIN_ABI)
		return refuse(m, "plugin ABI %u, workqd needs %d",
		    (unsigned)d.abi, WQ_PLUGIN_ABI);
	if (d.size < ABI1_SIZE)
		return refuse(m, "descriptor too small: %u bytes, ABI %d "
		    "needs %zu", (unsigned)d.size, WQ_PLUGIN_ABI, ABI1_SIZE);
	m->declared = d.size;
	/* The symbol must really be as large as the part we will copy. */
	n = d.size < sizeof(d) ? d.size : sizeof(d);
	return wq_elf_read_symbol(m->fd, WQ_PLUGIN_SYMBOL, &d, n, m->why,
	    sizeof(m->why));
}

/* The live module holding handle, or NULL. */
static struct wq_module *
holder(void *handle)
{
	struct wq_module *o;

	LIST_FOREACH(o, &live, link)
		if (o->handle == handle)
			return o;
	return NULL;
}

/* Picks a descriptor number whose /proc/self/fd name leads dlopen to our
   file (see DESIGN). */
static int
fresh_name(struct wq_module *m)
{
	struct wq_module *o;
	void *h;
	int fd;

	for (int i = 0; i < PROBES; i++) {
		snprintf(m->proc, sizeof(m->proc), "/proc/self/fd/%d", m->fd);
		if ((h = dlopen(m->proc, RTLD_LAZY | RTLD_NOLOAD)) == NULL) {
			(void)dlerror();
			return 0;
		}
		o = holder(h);
		dlclose(h);
		if (o != NULL && o->dev == m->dev && o->ino == m->ino)
			return 0;
		if ((fd = fcntl(m->fd, F_DUPFD_CLOEXEC, m->fd + 1)) == -1)
			return refuse(m, "%s", strerror(errno));
		close(m->fd);
		m->fd = fd;
	}
	return refuse(m, "another object is already loaded as %s", m->proc);
}

static int
load(struct wq_module *m)
{
	const struct wq_plugin *d;
	const char *e;
	size_t n;

	if (fresh_name(m) == -1)
		return -1;
	if ((m->handle = dlopen(m->proc, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		return refuse(m, "%s", e != NULL ? e : "dlopen failed");
	}
	if ((d = dlsym(m->handle, WQ_PLUGIN_SYMBOL)) == NULL) {
		(void)dlerror();
		return refuse(m, "no symbol %s", WQ_PLUGIN_SYMBOL);
	}
	if (d->abi != WQ_PLUGIN_ABI || d->size != m->declared)
		return refuse(m, "descriptor differs from the file's");
	n = m->declared < sizeof(m->desc) ? m->declared : sizeof(m->desc);
	memcpy(&m->desc, d, n);
	m->desc.size = (uint32_t)n;
	return 0;
}

static int
check_desc(struct wq_module *m)
{
	const struct wq_plugin *d = &m->desc;
	size_t len;

	if (d->name == NULL)
		return refuse(m, "descriptor has no name");
	len = strnlen(d->name, NAME_MAX_LEN + 1);
	if (len == 0 || len > NAME_MAX_LEN)
		return refuse(m, "descriptor name must have 1 to %d characters",
		    NAME_MAX_LEN);
	/* It goes into log lines and messages as it is. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)d->name[i] <= ' ' ||
		    (unsigned char)d->name[i] >= 0x7f)
			return refuse(m, "descriptor name must be printable "
			    "ASCII without spaces");
	if (d->version == NULL)
		return refuse(m, "descriptor has no version");
	if (d->timeout_ms < 0)
		return refuse(m, "timeout_ms is negative");
	if (d->run == NULL && d->start == NULL)
		return refuse(m, "no handler: set run or start");
	if (d->run != NULL && d->start != NULL)
		return refuse(m, "two handlers: set run or start, not both");
	if (d->cancel != NULL && d->start == NULL)
		return refuse(m, "cancel is only for a start handler");
	return 0;
}

static void
destroy(struct wq_module *m)
{
	if (m->listed)
		LIST_REMOVE(m, link);
	if (m->handle != NULL)
		dlclose(m->handle);
	/* Closed after dlclose: the number names the object until then. */
	if (m->fd != -1)
		close(m->fd);
	free(m->path);
	free(m);
}

struct wq_module *
wq_module_open(const char *dir, const char *name, char *err, size_t errlen)
{
	struct wq_module *m;

	if (!wq_module_name_valid(name)) {
		snprintf(err, errlen, "%s/%s.so: invalid plugin name", dir,
		    name);
		return NULL;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    asprintf(&m->path, "%s/%s.so", dir, name) == -1) {
		snprintf(err, errlen, "%s/%s.so: %s", dir, name,
		    strerror(ENOMEM));
		free(m);
		return NULL;
	}
	m->fd = -1;
	m->refs = 1;
	strcpy(m->name, name);
	if (open_file(m, dir) == -1 || check_file(m) == -1 ||
	    peek(m) == -1 || load(m) == -1 || check_desc(m) == -1)
		goto fail;
	LIST_INSERT_HEAD(&live, m, link);
	m->listed = 1;
	return m;
fail:
	snprintf(err, errlen, "%s: %s", m->path, m->why);
	destroy(m);
	return NULL;
}

int
wq_module_conf_check(struct wq_module *m, const struct wq_host *host,
    const struct wq_node *conf)
{
	if (m->desc.conf_check == NULL)
		return 0;
	return m->desc.conf_check(host, conf) == 0 ? 0 : -1;
}

int
wq_module_init(struct wq_module *m, const struct wq_host *host,
    const struct wq_node *conf, char *err, size_t errlen)
{
	void *state = NULL;

	assert(!m->inited);
	if (m->desc.init != NULL && m->desc.init(host, conf, &state) != 0) {
		snprintf(err, errlen, "%s: init failed", m->path);
		return -1;
	}
	m->state = state;
	m->inited = 1;
	return 0;
}

void
wq_module_ref(struct wq_module *m)
{
	m->refs++;
}

void
wq_module_unref(struct wq_module *m)
{
	void (*closed)(void *) = m->closed;
	void *arg = m->closed_arg;

	assert(m->refs > 0);
	if (--m->refs > 0)
		return;
	if (m->inited && m->desc.fini != NULL)
		m->desc.fini(m->state);
	destroy(m);
	if (closed != NULL)
		closed(arg);
}

void
wq_module_on_close(struct wq_module *m, void (*fn)(void *), void *arg)
{
	m->closed = fn;
	m->closed_arg = arg;
}

/* The name the module was opened as (the registry's key and the name jobs
   and queues use); the plugin's own name is wq_module_desc(m)->name. */
const char *
wq_module_name(const struct wq_module *m)
{
	return m->name;
}

const char *
wq_module_path(const struct wq_module *m)
{
	return m->path;
}

const struct wq_plugin *
wq_module_desc(const struct wq_module *m)
{
	return &m->desc;
}

void *
wq_module_state(const struct wq_module *m)
{
	return m->state;
}

int
wq_module_async(const struct wq_module *m)
{
	return m->desc.start != NULL;
}

unsigned
wq_module_refs(const struct wq_module *m)
{
	return m->refs - 1;
}
