/*
 * Aligned text tables, the default output: a header row in capitals, then
 * one row per item, columns separated by two spaces, numbers aligned to
 * the right.  Cells are kept until the table is printed, so each column
 * is as wide as its widest cell.  Whatever a cell holds is shown on one
 * line: control characters become '?', and a cell longer than CELL_MAX
 * bytes is cut with "...".  A list (ctl_list_*) is such a table, or the
 * same items as one JSON array with --json.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define CELL_MAX	60

struct ctl_table {
	size_t		 ncols;
	const char	*const *heads;
	const char	*align;
	char		**cells;	/* row by row */
	size_t		 n;
	size_t		 cap;
};

static void *
xrealloc(void *p, size_t size)
{
	if ((p = realloc(p, size)) == NULL)
		ctl_fail(CTL_EXIT_FAIL, "out of memory");
	return p;
}

struct ctl_table *
table_new(const char *const *heads, const char *align)
{
	struct ctl_table *t = xrealloc(NULL, sizeof(*t));

	memset(t, 0, sizeof(*t));
	t->heads = heads;
	t->align = align;
	while (heads[t->ncols] != NULL)
		t->ncols++;
	return t;
}

void
table_bytes(struct ctl_table *t, const char *s, size_t len)
{
	size_t n = len > CELL_MAX ? CELL_MAX - 3 : len;
	char *cell = xrealloc(NULL, n + 4);

	/* Cut between characters, not inside one. */
	while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;

	for (size_t i = 0; i < n; i++)
		cell[i] = (unsigned char)s[i] < ' ' || s[i] == 0x7f ? '?' :
		    s[i];
	strcpy(cell + n, n < len ? "..." : "");
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 64 : 2 * t->cap;
		t->cells = xrealloc(t->cells, t->cap * sizeof(*t->cells));
	}
	t->cells[t->n++] = cell;
}

void
table_cell(struct ctl_table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		ctl_fail(CTL_EXIT_FAIL, "out of memory");
	table_bytes(t, s, (size_t)n);
	free(s);
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t
width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void
line(const struct ctl_table *t, const char *const *row, const size_t *w,
    FILE *f)
{
	for (size_t c = 0; c < t->ncols; c++) {
		size_t pad = w[c] - width(row[c]);
		int last = c + 1 == t->ncols;

		if (t->align[c] == 'r')
			fprintf(f, "%*s%s", (int)pad, "", row[c]);
		else
			fprintf(f, "%s%*s", row[c], last ? 0 : (int)pad, "");
		fputs(last ? "\n" : "  ", f);
	}
}

void
table_print(struct ctl_table *t, FILE *f)
{
	size_t *w = xrealloc(NULL, t->ncols * sizeof(*w));

	for (size_t c = 0; c < t->ncols; c++)
		w[c] = width(t->heads[c]);
	for (size_t i = 0; i < t->n; i++)
		if (width(t->cells[i]) > w[i % t->ncols])
			w[i % t->ncols] = width(t->cells[i]);
	line(t, t->heads, w, f);
	for (size_t i = 0; i + t->ncols <= t->n; i += t->ncols)
		line(t, (const char *const *)t->cells + i, w, f);
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
	free(w);
	free(t);
}

void
ctl_list_begin(struct ctl_list *l, const struct ctl *c, const char *name,
    const char *const *heads, const char *align)
{
	l->t = NULL;
	if (!c->json) {
		l->t = table_new(heads, align);
		return;
	}
	json_start(&l->j, stdout);
	json_open(&l->j, '{');
	json_key(&l->j, name);
	json_open(&l->j, '[');
}

void
ctl_list_end(struct ctl_list *l)
{
	if (l->t != NULL) {
		table_print(l->t, stdout);
		return;
	}
	json_close(&l->j, ']');
	json_close(&l->j, '}');
	json_finish(&l->j);
}
