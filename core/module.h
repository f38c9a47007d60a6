/*
 * A module is one loaded plugin: the shared object opened safely, its
 * descriptor checked, and the state its init returned.  Modules are
 * reference counted: the registry holds one reference and every job that
 * runs on the module holds one, so a module replaced by a reload is
 * finalized and closed only after its last job (hot swap).
 *
 * Opening follows the rules a root daemon owes its plugin directory (sudo
 * applies the same to its plugins): the name must match ^[a-z0-9_-]{1,64}$
 * and maps to <dir>/<name>.so only; the file is opened with O_NOFOLLOW, must
 * be a regular file owned by root or by the daemon's user and writable by
 * neither group nor others; the descriptor's ABI number and size are read
 * from that open file before any of its code runs (elf.h); then exactly
 * that file is loaded through /proc/self/fd, and the name and the set of
 * handlers are checked.  Every refusal names the file and the reason.
 *
 * Loop thread only.
 */
#ifndef WQ_MODULE_H
#define WQ_MODULE_H

#include <stddef.h>

#include "workqd/plugin.h"

struct wq_module;

/* Nonzero if name is a valid plugin name. */
int	wq_module_name_valid(const char *name);

/* Opens and checks <dir>/<name>.so; NULL with err "<path>: <reason>".
   The module starts with one reference and is not initialized. */
struct wq_module	*wq_module_open(const char *dir, const char *name,
			    char *err, size_t errlen);
/* Runs the plugin's conf_check (workqd -t); 0 or -1.  conf is borrowed. */
int	wq_module_conf_check(struct wq_module *m, const struct wq_host *host,
	    const struct wq_node *conf);
/* Runs the plugin's init; 0 or -1 with err "<path>: init failed". */
int	wq_module_init(struct wq_module *m, const struct wq_host *host,
	    const struct wq_node *conf, char *err, size_t errlen);

void	wq_module_ref(struct wq_module *m);
/* Drops a reference; the last one runs fini (if init ran) and dlcloses. */
void	wq_module_unref(struct wq_module *m);
/* Sets the one hook run after the last reference is gone: fini has run
   and the object is closed, so what the plugin borrowed (its config
   subtree) may go.  fn(arg) must not touch m. */
void	wq_module_on_close(struct wq_module *m, void (*fn)(void *),
	    void *arg);

const char		*wq_module_name(const struct wq_module *m);
const char		*wq_module_path(const struct wq_module *m);
const struct wq_plugin	*wq_module_desc(const struct wq_module *m);
void			*wq_module_state(const struct wq_module *m);
/* Nonzero for an async (start) handler, zero for a blocking one (run). */
int			 wq_module_async(const struct wq_module *m);
/* Jobs holding the module (references beyond the registry's). */
unsigned		 wq_module_refs(const struct wq_module *m);

#endif /* WQ_MODULE_H */
