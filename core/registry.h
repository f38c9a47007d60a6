/*
 * The registry: the plugins workqd has loaded, by name.  Building one from
 * the config is the single path that `workqd -t`, start-up and reload all
 * take: open each plugin listed under `plugins:`, check its config (and,
 * unless only checking, initialize it), refuse a descriptor name that is
 * already taken.  Errors carry the config position of the plugin's key.
 *
 * Loop thread only.
 */
#ifndef WQ_REGISTRY_H
#define WQ_REGISTRY_H

#include <stddef.h>

#include "conf.h"
#include "module.h"

struct wq_registry;

/*
 * Loads every plugin of conf.  With check_only, runs conf_check and not
 * init (workqd -t).  Returns NULL with err "file:line:column: plugin
 * <name>: <path>: <reason>".
 */
struct wq_registry	*wq_registry_load(const struct wq_conf *conf,
			    const struct wq_host *host, int check_only,
			    char *err, size_t errlen);
/* Drops the registry's reference to each module. */
void			 wq_registry_free(struct wq_registry *reg);
/*
 * Hot swap: drops the registry's references like wq_registry_free, then
 * calls gone(arg) once every module of reg is finalized and closed: at
 * once if no job holds one, else after the last such job.  The config the
 * registry was loaded from must live until then (plugins borrow their
 * config subtree until fini).
 */
void			 wq_registry_retire(struct wq_registry *reg,
			    void (*gone)(void *), void *arg);

/* The module loaded as name (borrowed: wq_module_ref it to keep it). */
struct wq_module	*wq_registry_get(const struct wq_registry *reg,
			    const char *name);
size_t			 wq_registry_len(const struct wq_registry *reg);
struct wq_module	*wq_registry_at(const struct wq_registry *reg, size_t i);

#endif /* WQ_REGISTRY_H */
