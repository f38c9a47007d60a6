/*
 * The loaded plugins, by name (see registry.h).
 *
 * DESIGN: loading is all or nothing.  Plugins are opened, checked and
 * initialized in the order the config lists them; the first refusal stops
 * the load and drops every module loaded so far (running fini for those
 * whose init ran), so a failed reload leaves nothing behind and the
 * running registry untouched.  A plugin's conf_check and init report a bad
 * setting through the host's getters, which record a positioned error in
 * the config document; that error is the most precise one there is, so it
 * is returned as it stands.  Every other error is placed at the plugin's
 * key.  The registry's reference to a module is the one wq_module_open
 * gave; jobs take their own.
 *
 * A reload swaps in a new registry and retires the old one.  Its modules
 * live on until their last job; each one's close hook counts it down, and
 * the registry itself (a few bytes) lives until the count reaches zero,
 * so that it can tell its owner when the config its plugins borrowed from
 * may be freed: not before (a plugin may read its config until fini), and
 * not never (a daemon reloaded every minute for a year must not keep a
 * config per reload).  Loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "registry.h"
#include "yaml.h"

struct wq_registry {
	struct wq_module	**mods;
	size_t			  n;
	size_t			  open;		/* modules not yet closed */
	int			  retired;
	int			  dropping;	/* inside retire's loop */
	void			(*gone)(void *);
	void			 *gone_arg;
};

/* Places why at the plugin's key: "file:line:column: plugin 'x': why". */
static void
refuse(const struct wq_conf_plugin *p, const char *why, char *err,
    size_t errlen)
{
	if (p->key != NULL)
		snprintf(err, errlen, "%s:%u:%u: plugin '%s': %s",
		    wq_node_file(p->key), wq_node_line(p->key),
		    wq_node_column(p->key), p->name, why);
	else
		snprintf(err, errlen, "plugin '%s': %s", p->name, why);
}

/* The positioned error a plugin's conf_check or init recorded in the
   document, if it recorded one (there was none before it ran). */
static const char *
recorded(const struct wq_conf *conf, int had)
{
	if (conf->doc == NULL || had)
		return NULL;
	return wq_yaml_error(conf->doc);
}

/* The module loaded before m that declares the same name, or NULL. */
static struct wq_module *
namesake(const struct wq_registry *reg, const struct wq_module *m)
{
	const char *name = wq_module_desc(m)->name;

	for (size_t i = 0; i < reg->n; i++)
		if (reg->mods[i] != m &&
		    strcmp(wq_module_desc(reg->mods[i])->name, name) == 0)
			return reg->mods[i];
	return NULL;
}

/*
 * Runs conf_check and, unless check_only, init.  On refusal, why gets
 * "<path>: <reason>" and -1 is returned, or the document's positioned
 * error and 1.
 */
static int
prepare(struct wq_module *m, const struct wq_conf *conf,
    const struct wq_conf_plugin *p, const struct wq_host *host,
    int check_only, char *why, size_t whylen)
{
	int had = conf->doc != NULL && wq_yaml_error(conf->doc) != NULL;
	const char *pos;

	if (wq_module_conf_check(m, host, p->conf) == -1)
		snprintf(why, whylen, "%s: configuration refused",
		    wq_module_path(m));
	else if (check_only ||
	    wq_module_init(m, host, p->conf, why, whylen) == 0)
		return 0;
	if ((pos = recorded(conf, had)) == NULL)
		return -1;
	snprintf(why, whylen, "%s", pos);
	return 1;
}

static void
release(struct wq_registry *reg)
{
	if (reg->gone != NULL)
		reg->gone(reg->gone_arg);
	free(reg);
}

/* A module of reg was finalized and closed. */
static void
closed(void *arg)
{
	struct wq_registry *reg = arg;

	if (--reg->open == 0 && reg->retired && !reg->dropping) {
		if (reg->gone != NULL)
			wq_log(WQ_LOG_INFO, "plugin: the last job on the "
			    "previous plugins ended; they are unloaded");
		release(reg);
	}
}

static int
load_one(struct wq_registry *reg, const struct wq_conf *conf,
    const struct wq_conf_plugin *p, const struct wq_host *host,
    int check_only, char *err, size_t errlen)
{
	struct wq_module *m, *other;
	char why[1024];
	int r;

	if ((m = wq_module_open(conf->plugin_dir, p->name, why,
	    sizeof(why))) == NULL) {
		refuse(p, why, err, errlen);
		return -1;
	}
	reg->mods[reg->n++] = m;
	reg->open++;
	wq_module_on_close(m, closed, reg);
	if ((other = namesake(reg, m)) != NULL) {
		snprintf(why, sizeof(why), "%s: duplicate plugin name '%s' "
		    "(also declared by %s)", wq_module_path(m),
		    wq_module_desc(m)->name, wq_module_path(other));
		refuse(p, why, err, errlen);
		return -1;
	}
	if ((r = prepare(m, conf, p, host, check_only, why,
	    sizeof(why))) == 1)
		snprintf(err, errlen, "%s", why);
	else if (r == -1)
		refuse(p, why, err, errlen);
	return r == 0 ? 0 : -1;
}

static void
announce(const struct wq_module *m)
{
	const struct wq_plugin *d = wq_module_desc(m);

	wq_log(WQ_LOG_INFO, "plugin: loaded %s %s from %s", d->name,
	    d->version, wq_module_path(m));
}

struct wq_registry *
wq_registry_load(const struct wq_conf *conf, const struct wq_host *host,
    int check_only, char *err, size_t errlen)
{
	struct wq_registry *reg;

	if ((reg = calloc(1, sizeof(*reg))) == NULL ||
	    (reg->mods = calloc(conf->nplugins + 1, sizeof(*reg->mods))) ==
	    NULL) {
		free(reg);
		snprintf(err, errlen, "plugins: out of memory");
		return NULL;
	}
	for (size_t i = 0; i < conf->nplugins; i++)
		if (load_one(reg, conf, &conf->plugins[i], host, check_only,
		    err, errlen) == -1) {
			wq_registry_free(reg);
			return NULL;
		}
	if (!check_only)
		for (size_t i = 0; i < reg->n; i++)
			announce(reg->mods[i]);
	return reg;
}

void
wq_registry_retire(struct wq_registry *reg, void (*gone)(void *), void *arg)
{
	if (reg == NULL)
		return;
	reg->retired = 1;
	reg->gone = gone;
	reg->gone_arg = arg;
	reg->dropping = 1;
	/* Last loaded, first dropped: the reverse of the load order. */
	while (reg->n > 0)
		wq_module_unref(reg->mods[--reg->n]);
	reg->dropping = 0;
	free(reg->mods);
	reg->mods = NULL;
	if (reg->open == 0)
		release(reg);
}

void
wq_registry_free(struct wq_registry *reg)
{
	wq_registry_retire(reg, NULL, NULL);
}

struct wq_module *
wq_registry_get(const struct wq_registry *reg, const char *name)
{
	for (size_t i = 0; i < reg->n; i++)
		if (strcmp(wq_module_name(reg->mods[i]), name) == 0)
			return reg->mods[i];
	return NULL;
}

size_t
wq_registry_len(const struct wq_registry *reg)
{
	return reg->n;
}

struct wq_module *
wq_registry_at(const struct wq_registry *reg, size_t i)
{
	return i < reg->n ? reg->mods[i] : NULL;
}
