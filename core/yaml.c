/*
 * YAML documents as immutable trees with positions (see yaml.h).
 *
 * DESIGN: the tree is built from libyaml's event stream, not its document
 * API, so that everything hostile input could make expensive is refused
 * when its event arrives and before any work is done for it: an alias
 * (libyaml's document loader would expand a "billion laughs" for us), a
 * 65th level of nesting, a second document, a non-scalar key, a duplicate
 * key.  Duplicates are found with one hash table per load keyed by (mapping,
 * key), so a mapping with 100000 keys costs 100000 probes, not 5e9 strcmps.
 *
 * Every node and string lives in one arena owned by the document and is
 * freed with it, so a failed load, at any allocation, leaks nothing and
 * needs no unwinding.  While a collection is open its children are chained
 * through their `next` pointers; at its end event they are copied into an
 * array, so lookups index and nothing is ever reallocated in the arena.
 *
 * Errors are sticky: the first one, positioned and formatted, stays in the
 * document, and getters called after it still report their own outcome.
 * The tree never changes after the load; wq_node_empty_map is the one
 * thing that still allocates from the arena, which is why a document
 * belongs to one thread at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "yaml.h"
/* libyaml's header, through ours (see the end of yaml.h). */
#define WQ_YAML_LIBYAML
#include <yaml.h>

#define MAX_BYTES	(1 << 20)	/* files over 1 MiB are refused */
#define MAX_DEPTH	64		/* nested collections */
#define CHUNK_BYTES	(16 * 1024)
#define ALIGN		alignof(max_align_t)
#define CORE_TAG	"tag:yaml.org,2002:"

struct chunk {
	struct chunk	*next;
	size_t		 size;
	size_t		 used;
	max_align_t	 mem[];
};

struct wq_yaml {
	struct chunk		*chunks;	/* the arena: every node, string */
	const struct wq_node	*root;
	const char		*file;
	char			 err[1024];	/* the first error, or "" */
};

struct wq_node {
	struct wq_yaml		*doc;
	struct wq_node		*next;		/* sibling, while building */
	enum wq_node_type	 type;
	unsigned		 line;
	unsigned		 column;
	int			 plain;		/* a plain (unquoted) scalar */
	size_t			 len;		/* text bytes, items, pairs */
	char			*text;		/* scalars */
	struct wq_node		**kids;		/* items; keys and values */
};

/* An open collection while its children arrive. */
struct frame {
	struct wq_node	*node;
	struct wq_node	*head;
	struct wq_node	*tail;
	size_t		 n;		/* children so far, keys included */
};

struct slot {
	const struct wq_node	*map;
	const struct wq_node	*key;
};

struct build {
	struct wq_yaml	*doc;
	const char	*buf;
	size_t		 len;
	struct frame	 stack[MAX_DEPTH];
	int		 depth;
	int		 docs;
	struct wq_node	*root;
	struct slot	*keys;		/* (mapping, key) hash set */
	size_t		 nkeys;
	size_t		 cap;		/* a power of 2, or 0 */
};

static void *
arena(struct wq_yaml *doc, size_t n)
{
	struct chunk *c = doc->chunks;
	size_t size;

	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + ALIGN - 1) & ~(ALIGN - 1);
	if (c != NULL && c->size - c->used >= n) {
		c->used += n;
		return (char *)c->mem + c->used - n;
	}
	size = n > CHUNK_BYTES / 4 ? n : CHUNK_BYTES;
	if ((c = malloc(sizeof(*c) + size)) == NULL)
		return NULL;
	c->size = size;
	c->used = n;
	/* A big block gets a chunk of its own behind the current one, which
	   keeps serving the small allocations around it. */
	if (size == n && doc->chunks != NULL) {
		c->next = doc->chunks->next;
		doc->chunks->next = c;
	} else {
		c->next = doc->chunks;
		doc->chunks = c;
	}
	return c->mem;
}

static int WQ_PRINTF(4, 0)
verror(struct wq_yaml *doc, unsigned line, unsigned column, const char *fmt,
    va_list ap)
{
	int n;

	errno = EINVAL;
	if (doc->err[0] != '\0')
		return -1;
	if (line > 0)
		n = snprintf(doc->err, sizeof(doc->err), "%s:%u:%u: ",
		    doc->file, line, column);
	else
		n = snprintf(doc->err, sizeof(doc->err), "%s: ", doc->file);
	if (n > 0 && (size_t)n < sizeof(doc->err))
		vsnprintf(doc->err + n, sizeof(doc->err) - (size_t)n, fmt, ap);
	return -1;
}

static int WQ_PRINTF(4, 5)
error_at(struct wq_yaml *doc, unsigned line, unsigned column,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(doc, line, column, fmt, ap);
	va_end(ap);
	return -1;
}

static int WQ_PRINTF(3, 4)
fail(struct build *b, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(b->doc, (unsigned)m->line + 1, (unsigned)m->column + 1, fmt,
	    ap);
	va_end(ap);
	return -1;
}

/* Running out of memory is not the file's fault: no position. */
static int
nomem(struct build *b)
{
	error_at(b->doc, 0, 0, "%s", strerror(ENOMEM));
	errno = ENOMEM;
	return -1;
}

static struct wq_node *
node_new(struct wq_yaml *doc, enum wq_node_type type, unsigned line,
    unsigned column)
{
	struct wq_node *n;

	if ((n = arena(doc, sizeof(*n))) == NULL)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->doc = doc;
	n->type = type;
	n->line = line;
	n->column = column;
	return n;
}

static uint64_t
hash(const struct wq_node *map, const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL ^ (uint64_t)(uintptr_t)map;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

static struct slot *
probe(struct slot *t, size_t cap, const struct wq_node *map,
    const struct wq_node *key)
{
	size_t i = hash(map, key->text, key->len) & (cap - 1);

	for (; t[i].map != NULL; i = (i + 1) & (cap - 1))
		if (t[i].map == map && t[i].key->len == key->len &&
		    memcmp(t[i].key->text, key->text, key->len) == 0)
			break;
	return &t[i];
}

static int
grow(struct build *b)
{
	size_t cap = b->cap == 0 ? 64 : b->cap * 2;
	struct slot *t;

	if ((t = calloc(cap, sizeof(*t))) == NULL)
		return -1;
	for (size_t i = 0; i < b->cap; i++)
		if (b->keys[i].map != NULL)
			*probe(t, cap, b->keys[i].map, b->keys[i].key) =
			    b->keys[i];
	free(b->keys);
	b->keys = t;
	b->cap = cap;
	return 0;
}

/* 0 if key is new in map (and remembers it), 1 if it is a duplicate. */
static int
key_seen(struct build *b, const struct wq_node *map,
    const struct wq_node *key)
{
	struct slot *s;

	if (2 * (b->nkeys + 1) > b->cap && grow(b) < 0)
		return -1;
	s = probe(b->keys, b->cap, map, key);
	if (s->map != NULL)
		return 1;
	s->map = map;
	s->key = key;
	b->nkeys++;
	return 0;
}

const char *
wq_yaml_show(const char *s, char *buf, size_t size)
{
	size_t n = strlen(s), i;

	if (n >= size - 4) {
		for (n = size - 4; n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80;
		    n--)
			;
	}
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	strcpy(buf + i, n < strlen(s) ? "..." : "");
	return buf;
}

static int
add(struct build *b, struct wq_node *n, const yaml_mark_t *m)
{
	struct frame *f;
	int r;

	if (b->depth == 0) {
		b->root = n;
		return 0;
	}
	f = &b->stack[b->depth - 1];
	if (f->node->type == WQ_NODE_MAP && f->n % 2 == 0) {
		char buf[WQ_YAML_SHOW];

		if ((r = key_seen(b, f->node, n)) < 0)
			return nomem(b);
		if (r > 0)
			return fail(b, m, "duplicate key '%s'",
			    wq_yaml_show(n->text, buf, sizeof(buf)));
	}
	if (f->tail == NULL)
		f->head = n;
	else
		f->tail->next = n;
	f->tail = n;
	f->n++;
	return 0;
}

/* Core schema tags only; !!str makes a plain scalar a string. */
static int
tag_ok(struct build *b, const yaml_mark_t *m, const char *tag,
    enum wq_node_type type, int *plain)
{
	static const char *const scalars[] = {
		"str", "int", "bool", "null", "float", NULL
	};
	const char *t;
	char buf[WQ_YAML_SHOW];

	if (tag == NULL)
		return 0;
	if (strncmp(tag, CORE_TAG, strlen(CORE_TAG)) != 0)
		goto bad;
	t = tag + strlen(CORE_TAG);
	if (type == WQ_NODE_MAP)
		return strcmp(t, "map") == 0 ? 0 : fail(b, m,
		    "tag '%s' does not fit a mapping", wq_yaml_show(tag, buf,
		    sizeof(buf)));
	if (type == WQ_NODE_SEQ)
		return strcmp(t, "seq") == 0 ? 0 : fail(b, m,
		    "tag '%s' does not fit a sequence", wq_yaml_show(tag, buf,
		    sizeof(buf)));
	for (size_t i = 0; scalars[i] != NULL; i++)
		if (strcmp(t, scalars[i]) == 0) {
			if (i == 0)
				*plain = 0;
			return 0;
		}
bad:
	return fail(b, m, "tag '%s' is not supported", wq_yaml_show(tag, buf,
	    sizeof(buf)));
}

static int
on_scalar(struct build *b, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	struct wq_node *n;
	size_t len = ev->data.scalar.length;
	int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

	if (tag_ok(b, m, (const char *)ev->data.scalar.tag, WQ_NODE_SCALAR,
	    &plain) < 0)
		return -1;
	if (memchr(ev->data.scalar.value, '\0', len) != NULL)
		return fail(b, m, "NUL characters are not allowed");
	n = node_new(b->doc, WQ_NODE_SCALAR, (unsigned)m->line + 1,
	    (unsigned)m->column + 1);
	if (n == NULL || (n->text = arena(b->doc, len + 1)) == NULL)
		return nomem(b);
	memcpy(n->text, ev->data.scalar.value, len);
	n->text[len] = '\0';
	n->len = len;
	n->plain = plain;
	return add(b, n, m);
}

static int
on_start(struct build *b, const yaml_event_t *ev, enum wq_node_type type)
{
	const yaml_mark_t *m = &ev->start_mark;
	const yaml_char_t *tag = type == WQ_NODE_MAP ?
	    ev->data.mapping_start.tag : ev->data.sequence_start.tag;
	struct frame *f;
	struct wq_node *n;
	int plain = 0;

	if (b->depth == MAX_DEPTH)
		return fail(b, m, "nesting deeper than %d levels", MAX_DEPTH);
	f = b->depth > 0 ? &b->stack[b->depth - 1] : NULL;
	if (f != NULL && f->node->type == WQ_NODE_MAP && f->n % 2 == 0)
		return fail(b, m, "mapping keys must be scalars");
	if (tag_ok(b, m, (const char *)tag, type, &plain) < 0)
		return -1;
	n = node_new(b->doc, type, (unsigned)m->line + 1,
	    (unsigned)m->column + 1);
	if (n == NULL)
		return nomem(b);
	f = &b->stack[b->depth++];
	memset(f, 0, sizeof(*f));
	f->node = n;
	return 0;
}

static int
on_end(struct build *b, const yaml_event_t *ev)
{
	struct frame *f = &b->stack[--b->depth];
	struct wq_node *n = f->node, *kid;
	size_t i = 0;

	if (f->n > 0 &&
	    (n->kids = arena(b->doc, f->n * sizeof(*n->kids))) == NULL)
		return nomem(b);
	for (kid = f->head; kid != NULL; kid = kid->next)
		n->kids[i++] = kid;
	n->len = n->type == WQ_NODE_MAP ? f->n / 2 : f->n;
	return add(b, n, &ev->start_mark);
}

static int
on_event(struct build *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (b->docs++ > 0)
			return fail(b, &ev->start_mark,
			    "multiple documents are not supported");
		return 0;
	case YAML_ALIAS_EVENT:
		return fail(b, &ev->start_mark, "aliases are not supported");
	case YAML_SCALAR_EVENT:
		return on_scalar(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(b, ev, WQ_NODE_SEQ);
	case YAML_MAPPING_START_EVENT:
		return on_start(b, ev, WQ_NODE_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(b, ev);
	default:
		return 0;
	}
}

/* Line and column of a byte offset, for reader errors (bad encodings),
   which libyaml reports with an offset and no mark. */
static void
locate(const struct build *b, size_t off, yaml_mark_t *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < off && i < b->len; i++) {
		if (b->buf[i] == '\n') {
			m->line++;
			m->column = 0;
		} else if (((unsigned char)b->buf[i] & 0xc0) != 0x80)
			m->column++;
	}
}

static int
parser_error(struct build *b, const yaml_parser_t *p)
{
	yaml_mark_t m = p->problem_mark;
	const char *problem = p->problem != NULL ? p->problem : "syntax error";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return nomem(b);
	case YAML_READER_ERROR:
		locate(b, p->problem_offset, &m);
		return fail(b, &m, "%s", problem);
	default:
		if (p->context != NULL)
			return fail(b, &m, "%s %s", problem, p->context);
		return fail(b, &m, "%s", problem);
	}
}

static int
parse(struct build *b)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int r = 0, done = 0;

	if (!yaml_parser_initialize(&p))
		return nomem(b);
	yaml_parser_set_input_string(&p, (const unsigned char *)b->buf,
	    b->len);
	while (r == 0 && !done) {
		if (!yaml_parser_parse(&p, &ev)) {
			r = parser_error(b, &p);
			break;
		}
		r = on_event(b, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return r;
}

void
wq_yaml_free(struct wq_yaml *doc)
{
	struct chunk *c, *next;

	if (doc == NULL)
		return;
	for (c = doc->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(doc);
}

static struct wq_yaml *
doc_new(const char *name)
{
	struct wq_yaml *doc;
	size_t len = strlen(name);
	char *file;

	if ((doc = calloc(1, sizeof(*doc))) == NULL)
		return NULL;
	if ((file = arena(doc, len + 1)) == NULL) {
		wq_yaml_free(doc);
		return NULL;
	}
	memcpy(file, name, len + 1);
	doc->file = file;
	return doc;
}

static void
copy_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

static void
oom(const char *name, char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", name, strerror(ENOMEM));
	errno = ENOMEM;
}

struct wq_yaml *
wq_yaml_load_buffer(const char *name, const char *buf, size_t len,
    char *err, size_t errlen)
{
	struct build b = { .buf = buf, .len = len };
	struct wq_yaml *doc;
	struct wq_node *root;

	if ((doc = doc_new(name)) == NULL) {
		oom(name, err, errlen);
		return NULL;
	}
	b.doc = doc;
	if (len > MAX_BYTES) {
		error_at(doc, 0, 0, "larger than 1 MiB");
		goto fail;
	}
	if (parse(&b) < 0)
		goto fail;
	/* No document, or an empty one, is an empty mapping. */
	root = b.root;
	if (root == NULL || (root->type == WQ_NODE_SCALAR && root->plain &&
	    root->len == 0)) {
		root = node_new(doc, WQ_NODE_MAP, root != NULL ? root->line : 1,
		    root != NULL ? root->column : 1);
		if (root == NULL) {
			error_at(doc, 0, 0, "%s", strerror(ENOMEM));
			goto fail;
		}
	}
	doc->root = root;
	free(b.keys);
	return doc;
fail:
	/* errno is still what the error set: EINVAL, or ENOMEM. */
	copy_err(err, errlen, doc->err);
	free(b.keys);
	wq_yaml_free(doc);
	return NULL;
}

/* Reads at most max + 1 bytes of path, so a larger file is seen as such
   without reading it all (and /dev/stdin or a pipe works too). */
static char *
slurp(const char *path, size_t max, size_t *len)
{
	char *buf;
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	if ((buf = malloc(max + 1)) == NULL)
		goto fail;
	*len = 0;
	while (*len <= max) {
		n = read(fd, buf + *len, max + 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	return buf;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

struct wq_yaml *
wq_yaml_load_file(const char *path, char *err, size_t errlen)
{
	struct wq_yaml *doc;
	size_t len = 0;
	char *buf;

	buf = slurp(path, MAX_BYTES, &len);
	if (buf == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (len > MAX_BYTES) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: larger than 1 MiB", path);
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	doc = wq_yaml_load_buffer(path, buf, len, err, errlen);
	free(buf);
	return doc;
}

const struct wq_node *
wq_yaml_root(const struct wq_yaml *doc)
{
	return doc->root;
}

const char *
wq_yaml_error(const struct wq_yaml *doc)
{
	return doc->err[0] != '\0' ? doc->err : NULL;
}

enum wq_node_type
wq_node_type(const struct wq_node *n)
{
	return n->type;
}

unsigned
wq_node_line(const struct wq_node *n)
{
	return n->line;
}

unsigned
wq_node_column(const struct wq_node *n)
{
	return n->column;
}

const char *
wq_node_file(const struct wq_node *n)
{
	return n->doc->file;
}

const char *
wq_node_scalar(const struct wq_node *n)
{
	return n != NULL && n->type == WQ_NODE_SCALAR ? n->text : NULL;
}

size_t
wq_node_len(const struct wq_node *n)
{
	return n != NULL && n->type != WQ_NODE_SCALAR ? n->len : 0;
}

const struct wq_node *
wq_node_at(const struct wq_node *n, size_t i, const char **key)
{
	if (n == NULL || n->type == WQ_NODE_SCALAR || i >= n->len)
		return NULL;
	if (n->type == WQ_NODE_SEQ)
		return n->kids[i];
	if (key != NULL)
		*key = n->kids[2 * i]->text;
	return n->kids[2 * i + 1];
}

static size_t
find(const struct wq_node *map, const char *key)
{
	if (map == NULL || map->type != WQ_NODE_MAP)
		return SIZE_MAX;
	for (size_t i = 0; i < map->len; i++)
		if (strcmp(map->kids[2 * i]->text, key) == 0)
			return i;
	return SIZE_MAX;
}

const struct wq_node *
wq_node_get(const struct wq_node *map, const char *key)
{
	size_t i = find(map, key);

	return i != SIZE_MAX ? map->kids[2 * i + 1] : NULL;
}

const struct wq_node *
wq_node_key(const struct wq_node *map, const char *key)
{
	size_t i = find(map, key);

	return i != SIZE_MAX ? map->kids[2 * i] : NULL;
}

int
wq_node_plain(const struct wq_node *n)
{
	return n != NULL && n->type == WQ_NODE_SCALAR && n->plain;
}

int
wq_node_null(const struct wq_node *n)
{
	return n != NULL && n->type == WQ_NODE_SCALAR && n->plain &&
	    (n->len == 0 || strcmp(n->text, "~") == 0 ||
	    strcmp(n->text, "null") == 0 || strcmp(n->text, "Null") == 0 ||
	    strcmp(n->text, "NULL") == 0);
}

const struct wq_node *
wq_node_empty_map(const struct wq_node *at)
{
	struct wq_node *n;

	n = node_new(at->doc, WQ_NODE_MAP, at->line, at->column);
	if (n == NULL)
		errno = ENOMEM;
	return n;
}

int
wq_node_error(const struct wq_node *node, const char *fmt, ...)
{
	va_list ap;

	if (node == NULL) {
		errno = EINVAL;
		return -1;
	}
	va_start(ap, fmt);
	verror(node->doc, node->line, node->column, fmt, ap);
	va_end(ap);
	return -1;
}
