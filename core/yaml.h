/*
 * A YAML document read with libyaml into an immutable tree of nodes, each
 * remembering where it stood ("file:line:column", 1-based), and typed
 * getters that report errors at that position.
 *
 * The document owns every node and string; nodes are borrowed from it and
 * valid until wq_yaml_free.  Only mappings with scalar keys, sequences and
 * scalars are built: aliases, anchors' reuse and tags other than the core
 * schema are refused, as are duplicate keys, nesting deeper than 64 and
 * files over 1 MiB, so hostile input costs nothing.
 *
 * Errors are sticky, like a hiredis context's: the first one is kept in the
 * document ("file:line:column: message") and returned by wq_yaml_error.
 * Loop thread (or any one thread at a time); nothing here is shared.
 */
#ifndef WQ_YAML_H
#define WQ_YAML_H

#include <stddef.h>
#include <stdint.h>

#include "workqd/plugin.h"	/* struct wq_node, WQ_PRINTF */

struct wq_yaml;

enum wq_node_type {
	WQ_NODE_SCALAR,
	WQ_NODE_MAP,
	WQ_NODE_SEQ
};

/* Returns NULL and fills err ("file:line:column: message") on failure. */
struct wq_yaml	*wq_yaml_load_file(const char *path, char *err, size_t errlen);
/* Same, from memory; name is what positions are reported against. */
struct wq_yaml	*wq_yaml_load_buffer(const char *name, const char *buf,
		    size_t len, char *err, size_t errlen);
void		 wq_yaml_free(struct wq_yaml *doc);

/* The root node; an empty document gives an empty mapping. */
const struct wq_node	*wq_yaml_root(const struct wq_yaml *doc);
/* The first error recorded by a getter, or NULL. */
const char		*wq_yaml_error(const struct wq_yaml *doc);

enum wq_node_type	 wq_node_type(const struct wq_node *n);
unsigned		 wq_node_line(const struct wq_node *n);
unsigned		 wq_node_column(const struct wq_node *n);
const char		*wq_node_file(const struct wq_node *n);
/* A scalar's text (NUL-terminated), or NULL for mappings and sequences. */
const char		*wq_node_scalar(const struct wq_node *n);
/* Number of pairs (map) or items (seq); 0 for scalars. */
size_t			 wq_node_len(const struct wq_node *n);
/* The i-th item of a sequence, or the i-th value of a mapping (and its key
   in *key when key is not NULL).  NULL past the end. */
const struct wq_node	*wq_node_at(const struct wq_node *n, size_t i,
			    const char **key);
/* The value of key in a mapping, or NULL. */
const struct wq_node	*wq_node_get(const struct wq_node *map,
			    const char *key);
/* The key node of key in a mapping (for positions), or NULL. */
const struct wq_node	*wq_node_key(const struct wq_node *map,
			    const char *key);
/* Nonzero if n is a plain (unquoted) scalar. */
int			 wq_node_plain(const struct wq_node *n);
/* Nonzero if n is YAML's null: a plain "", "~" or "null" ("echo:"). */
int			 wq_node_null(const struct wq_node *n);
/* A new empty mapping positioned at node and owned by its document, for a
   section written as null or left out; NULL with errno ENOMEM. */
const struct wq_node	*wq_node_empty_map(const struct wq_node *at);

/*
 * Typed getters (node.c).  Each returns 0 and sets *val when map has key with a
 * value of the right type, 1 when key is absent (*val untouched), -1 when
 * the value is wrong, after recording a positioned error in the document.
 * Integers, booleans and durations must be plain (unquoted) scalars.
 * Durations: "250ms", "30s", "5m", "1h", "7d", "1.5s", or a number of ms.
 */
int	wq_node_str(const struct wq_node *map, const char *key,
	    const char **val);
int	wq_node_int(const struct wq_node *map, const char *key, int64_t *val);
int	wq_node_int_range(const struct wq_node *map, const char *key,
	    int64_t min, int64_t max, int64_t *val);
int	wq_node_bool(const struct wq_node *map, const char *key, int *val);
int	wq_node_ms(const struct wq_node *map, const char *key, int64_t *val);
/* A plain decimal number, as strtod reads it, finite. */
int	wq_node_float(const struct wq_node *map, const char *key,
	    double *val);
int	wq_node_strv(const struct wq_node *map, const char *key,
	    const char **val, size_t max, size_t *n);
/* -1 (with an error at the first unknown key) if map has a key that is not
   in the NULL-terminated list known; also -1 if map is not a mapping. */
int	wq_node_keys(const struct wq_node *map, const char *const *known);
/* Records "file:line:column: <message>" at node (if none yet); -1. */
int	wq_node_error(const struct wq_node *node, const char *fmt, ...)
	    WQ_PRINTF(2, 3);
/* Parses a duration scalar: 0 and *ms set, or -1. */
int	wq_parse_ms(const char *s, int64_t *ms);
/* s made fit to quote in an error message: control characters become
   '?', and a longer s is cut (on a UTF-8 boundary) with "...".  Returns
   buf, of size bytes (WQ_YAML_SHOW is enough). */
#define WQ_YAML_SHOW	48
const char	*wq_yaml_show(const char *s, char *buf, size_t size);

#endif /* WQ_YAML_H */

/*
 * yaml.c needs libyaml's <yaml.h>, which -Icore hides behind this file;
 * it defines WQ_YAML_LIBYAML and includes <yaml.h>, and gets here.
 */
#ifdef WQ_YAML_LIBYAML
#include_next <yaml.h>
#endif
