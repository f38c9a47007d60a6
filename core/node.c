/*
 * Typed getters over a YAML tree (see yaml.h): a mapping's values read as
 * strings, integers, booleans, durations, numbers and string lists, each
 * checked where it stands and refused with an error at its position
 * ("file:line:column: key: expected ..., got ...").  They see the tree
 * only through yaml.h's accessors; yaml.c builds it.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "yaml.h"

static int
not_map(const struct wq_node *n)
{
	return wq_node_error(n, "expected a mapping, got %s",
	    wq_node_type(n) == WQ_NODE_SEQ ? "a sequence" : "a scalar");
}

/* The text of a plain (unquoted) scalar, or NULL. */
static const char *
plain(const struct wq_node *n)
{
	return wq_node_plain(n) ? wq_node_scalar(n) : NULL;
}

static const char *
kind(const struct wq_node *n)
{
	return wq_node_type(n) == WQ_NODE_MAP ? "a mapping" : "a sequence";
}

/*
 * The value of key for a getter: 0 with *v set, 1 if absent (a NULL map has
 * no keys), -1 with an error if map is not a mapping.
 */
static int
lookup(const struct wq_node *map, const char *key, const struct wq_node **v)
{
	*v = NULL;
	if (map == NULL)
		return 1;
	if (wq_node_type(map) != WQ_NODE_MAP)
		return not_map(map);
	*v = wq_node_get(map, key);
	return *v != NULL ? 0 : 1;
}

/* A typed getter's complaint about v, the value of key. */
static int
wrong(const struct wq_node *v, const char *key, const char *what)
{
	char buf[WQ_YAML_SHOW];

	if (wq_node_type(v) != WQ_NODE_SCALAR)
		return wq_node_error(v, "%s: expected %s, got %s", key, what,
		    kind(v));
	if (!wq_node_plain(v))
		return wq_node_error(v, "%s: expected %s, got the quoted "
		    "string '%s'", key, what, wq_yaml_show(wq_node_scalar(v),
		    buf, sizeof(buf)));
	return wq_node_error(v, "%s: expected %s, got '%s'", key, what,
	    wq_yaml_show(wq_node_scalar(v), buf, sizeof(buf)));
}

int
wq_node_str(const struct wq_node *map, const char *key, const char **val)
{
	const struct wq_node *v;
	int r;

	if ((r = lookup(map, key, &v)) != 0)
		return r;
	if (wq_node_type(v) != WQ_NODE_SCALAR)
		return wrong(v, key, "a string");
	*val = wq_node_null(v) ? "" : wq_node_scalar(v);
	return 0;
}

/* Decimal with an optional sign; 0 and *val, or -1 (garbage, overflow). */
static int
parse_int(const char *s, int64_t *val)
{
	const char *p = s + (*s == '-' || *s == '+');
	char *end;
	long long v;

	if (*p < '0' || *p > '9')
		return -1;
	for (const char *q = p; *q != '\0'; q++)
		if (*q < '0' || *q > '9')
			return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*val = v;
	return 0;
}

int
wq_node_int(const struct wq_node *map, const char *key, int64_t *val)
{
	const struct wq_node *v;
	const char *s;
	int64_t i;
	char buf[WQ_YAML_SHOW];
	int r;

	if ((r = lookup(map, key, &v)) != 0)
		return r;
	if ((s = plain(v)) == NULL)
		return wrong(v, key, "an integer");
	if (parse_int(s, &i) < 0) {
		const char *d = s + (s[0] == '-' || s[0] == '+');

		if (*d != '\0' && strspn(d, "0123456789") == strlen(d))
			return wq_node_error(v, "%s: %s is out of range",
			    key, wq_yaml_show(s, buf, sizeof(buf)));
		return wrong(v, key, "an integer");
	}
	*val = i;
	return 0;
}

int
wq_node_int_range(const struct wq_node *map, const char *key, int64_t min,
    int64_t max, int64_t *val)
{
	int64_t i;
	int r;

	if ((r = wq_node_int(map, key, &i)) != 0)
		return r;
	if (i < min || i > max)
		return wq_node_error(wq_node_get(map, key),
		    "%s: %lld is out of range (%lld..%lld)", key, (long long)i,
		    (long long)min, (long long)max);
	*val = i;
	return 0;
}

int
wq_node_bool(const struct wq_node *map, const char *key, int *val)
{
	static const char *const names[] = {
		"false", "true", "no", "yes", "off", "on"
	};
	const struct wq_node *v;
	const char *s;
	int r;

	if ((r = lookup(map, key, &v)) != 0)
		return r;
	if ((s = plain(v)) != NULL)
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strcasecmp(s, names[i]) == 0) {
				*val = (int)(i % 2);
				return 0;
			}
	return wrong(v, key, "a boolean (true or false)");
}

/* Digits to an int64; -1 on overflow or if there are none. */
static int
digits(const char **s, int64_t *v, int *n)
{
	*v = 0;
	for (*n = 0; **s >= '0' && **s <= '9'; (*s)++, (*n)++) {
		if (*v > (INT64_MAX - (**s - '0')) / 10)
			return -1;
		*v = *v * 10 + (**s - '0');
	}
	return *n > 0 ? 0 : -1;
}

int
wq_parse_ms(const char *s, int64_t *ms)
{
	static const struct {
		const char	*name;
		int64_t		 ms;
	} units[] = {
		{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	int64_t whole, frac = 0, scale = 1, unit = 0;
	int n, nfrac = 0;

	if (digits(&s, &whole, &n) < 0)
		return -1;
	if (*s == '.') {
		s++;
		if (digits(&s, &frac, &nfrac) < 0 || nfrac > 9)
			return -1;
		for (int i = 0; i < nfrac; i++)
			scale *= 10;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(s, units[i].name) == 0)
			unit = units[i].ms;
	/* The fraction must come to whole milliseconds: frac * unit is
	   below 1e9 * 8.64e7 < INT64_MAX. */
	if (unit == 0 || whole > INT64_MAX / unit || (frac * unit) % scale)
		return -1;
	if (whole * unit > INT64_MAX - frac * unit / scale)
		return -1;
	*ms = whole * unit + frac * unit / scale;
	return 0;
}

int
wq_node_ms(const struct wq_node *map, const char *key, int64_t *val)
{
	const struct wq_node *v;
	const char *s;
	int64_t ms;
	int r;

	if ((r = lookup(map, key, &v)) != 0)
		return r;
	if ((s = plain(v)) == NULL || wq_parse_ms(s, &ms) < 0)
		return wrong(v, key, "a duration (250ms, 30s, 5m, 1h, 7d)");
	*val = ms;
	return 0;
}

int
wq_node_float(const struct wq_node *map, const char *key, double *val)
{
	const struct wq_node *v;
	const char *s;
	char *end;
	double d;
	int r;

	if ((r = lookup(map, key, &v)) != 0)
		return r;
	if ((s = plain(v)) == NULL || *s == '\0' ||
	    strspn(s, "0123456789+-.eE") != strlen(s))
		return wrong(v, key, "a number");
	errno = 0;
	d = strtod(s, &end);
	if (*end != '\0' || errno != 0 || !isfinite(d))
		return wrong(v, key, "a number");
	*val = d;
	return 0;
}

int
wq_node_strv(const struct wq_node *map, const char *key, const char **val,
    size_t max, size_t *n)
{
	const struct wq_node *v;
	int r;

	if ((r = lookup(map, key, &v)) != 0)
		return r;
	if (wq_node_null(v)) {
		*n = 0;
		return 0;
	}
	if (wq_node_type(v) != WQ_NODE_SEQ)
		return wrong(v, key, "a sequence of strings");
	if (wq_node_len(v) > max)
		return wq_node_error(v, "%s: more than %zu items", key, max);
	for (size_t i = 0; i < wq_node_len(v); i++) {
		const struct wq_node *item = wq_node_at(v, i, NULL);

		if (wq_node_type(item) != WQ_NODE_SCALAR)
			return wq_node_error(item, "%s: expected a string, "
			    "got %s", key, kind(item));
	}
	for (size_t i = 0; i < wq_node_len(v); i++)
		val[i] = wq_node_scalar(wq_node_at(v, i, NULL));
	*n = wq_node_len(v);
	return 0;
}

int
wq_node_keys(const struct wq_node *map, const char *const *known)
{
	char buf[WQ_YAML_SHOW];
	const char *name;
	size_t k;

	if (map == NULL)
		return 0;
	if (wq_node_type(map) != WQ_NODE_MAP)
		return not_map(map);
	for (size_t i = 0; i < wq_node_len(map); i++) {
		(void)wq_node_at(map, i, &name);
		for (k = 0; known[k] != NULL; k++)
			if (strcmp(name, known[k]) == 0)
				break;
		if (known[k] == NULL)
			return wq_node_error(wq_node_key(map, name),
			    "unknown key '%s'", wq_yaml_show(name, buf,
			    sizeof(buf)));
	}
	return 0;
}
