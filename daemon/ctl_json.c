/*
 * A small JSON writer for --json: one document on stdout, written as it
 * goes.  Strings from Redis may hold any bytes; valid UTF-8 passes
 * through, control characters are escaped, and a byte that is not part of
 * valid UTF-8 becomes U+FFFD, so the output is always valid JSON.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ctl.h"
#include "log.h"

/* Before a key or a value: the comma, unless first or after a key. */
static void
sep(struct ctl_json *j)
{
	unsigned char *st = &j->state[j->depth];

	if (*st == 1)
		fputc(',', j->f);
	*st = 1;
}

void
json_start(struct ctl_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

void
json_finish(struct ctl_json *j)
{
	fputc('\n', j->f);
}

void
json_open(struct ctl_json *j, int brace)
{
	sep(j);
	fputc(brace, j->f);
	if (j->depth + 1 < (int)sizeof(j->state))
		j->depth++;
	j->state[j->depth] = 0;
}

void
json_close(struct ctl_json *j, int brace)
{
	fputc(brace, j->f);
	if (j->depth > 0)
		j->depth--;
}

static void
string(struct ctl_json *j, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, len;

	fputc('"', j->f);
	while (i < n) {
		if (s[i] == '"' || s[i] == '\\')
			fprintf(j->f, "\\%c", s[i]);
		else if (s[i] == '\n')
			fputs("\\n", j->f);
		else if (s[i] == '\t')
			fputs("\\t", j->f);
		else if (s[i] < 0x20 || s[i] == 0x7f)
			fprintf(j->f, "\\u%04x", s[i]);
		else if ((len = wq_log_utf8_len(s + i, n - i)) == 0)
			fputs("\\ufffd", j->f);
		else {
			fwrite(s + i, 1, len, j->f);
			i += len;
			continue;
		}
		i++;
	}
	fputc('"', j->f);
}

void
json_key(struct ctl_json *j, const char *key)
{
	sep(j);
	string(j, key, strlen(key));
	fputc(':', j->f);
	j->state[j->depth] = 2;	/* the value needs no comma */
}

void
json_str(struct ctl_json *j, const char *s, size_t len)
{
	sep(j);
	string(j, s, len);
}

void
json_cstr(struct ctl_json *j, const char *s)
{
	if (s == NULL)
		json_null(j);
	else
		json_str(j, s, strlen(s));
}

void
json_int(struct ctl_json *j, long long v)
{
	sep(j);
	fprintf(j->f, "%lld", v);
}

void
json_num(struct ctl_json *j, double v)
{
	sep(j);
	if (isfinite(v))
		fprintf(j->f, "%.6g", v);
	else
		fputs("null", j->f);
}

void
json_null(struct ctl_json *j)
{
	sep(j);
	fputs("null", j->f);
}
