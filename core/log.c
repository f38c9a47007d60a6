/*
 * Logging to stderr for journald (see log.h).
 *
 * DESIGN: the level and format are atomics so that a reload can change them
 * while executor threads log.  A line is formatted into a stack buffer and
 * written with a single write(2); lines longer than the buffer are cut and
 * marked with "...", never split.  Messages may carry bytes from outside
 * (a plugin's error text, a command's output): in JSON, control
 * characters are escaped and bytes that are not UTF-8 become U+FFFD, so
 * every line stays valid JSON for whatever reads it.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define LINE_MAX_BYTES	4096

static atomic_int log_level = WQ_LOG_INFO;
static atomic_int log_format = WQ_LOG_JOURNAL;

static const char *const level_names[] = {
	[WQ_LOG_ERR] = "err",
	[WQ_LOG_WARNING] = "warning",
	[WQ_LOG_NOTICE] = "notice",
	[WQ_LOG_INFO] = "info",
	[WQ_LOG_DEBUG] = "debug",
};

void
wq_log_set_level(int level)
{
	atomic_store(&log_level, level);
}

void
wq_log_set_format(enum wq_log_format format)
{
	atomic_store(&log_format, (int)format);
}

int
wq_log_level(void)
{
	return atomic_load(&log_level);
}

int
wq_log_parse_level(const char *name)
{
	for (int i = WQ_LOG_ERR; i <= WQ_LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

size_t
wq_log_utf8_len(const unsigned char *s, size_t avail)
{
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	unsigned lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4 || n > avail)
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* Appends s to buf as the inside of a JSON string. */
static size_t
json_escape(char *buf, size_t len, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p != '\0' && len + 7 < size) {
		if (*p == '"' || *p == '\\') {
			buf[len++] = '\\';
			buf[len++] = (char)*p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			memcpy(buf + len, "\\u00", 4);
			buf[len + 4] = hex[*p >> 4];
			buf[len + 5] = hex[*p & 15];
			len += 6;
			p++;
		} else if (*p < 0x80)
			buf[len++] = (char)*p++;
		else if ((n = wq_log_utf8_len(p, SIZE_MAX)) > 0) {
			memcpy(buf + len, p, n);
			len += n;
			p += n;
		} else {
			memcpy(buf + len, "\xef\xbf\xbd", 3);	/* U+FFFD */
			len += 3;
			p++;
		}
	}
	return len;
}

static size_t
json_str(char *buf, size_t len, size_t size, const char *key, const char *val)
{
	if (val == NULL || len + strlen(key) + 8 >= size)
		return len;
	len += (size_t)snprintf(buf + len, size - len, ",\"%s\":\"", key);
	len = json_escape(buf, len, size, val);
	if (len + 1 < size)
		buf[len++] = '"';
	return len;
}

static size_t
json_int(char *buf, size_t len, size_t size, const char *key, int64_t val)
{
	int n = snprintf(buf + len, size - len, ",\"%s\":%lld", key,
	    (long long)val);

	return n > 0 && (size_t)n < size - len ? len + (size_t)n : len;
}

static size_t
format_json(char *buf, size_t size, int prio, const char *msg,
    const struct wq_log_job *job)
{
	size_t len;

	len = (size_t)snprintf(buf, size, "{\"priority\":%d", prio);
	len = json_str(buf, len, size, "message", msg);
	if (job != NULL) {
		len = json_str(buf, len, size, "job", job->id);
		len = json_str(buf, len, size, "queue", job->queue);
		len = json_str(buf, len, size, "plugin", job->plugin);
		if (job->attempt > 0)
			len = json_int(buf, len, size, "attempt", job->attempt);
		if (job->duration_ms >= 0)
			len = json_int(buf, len, size, "duration_ms",
			    job->duration_ms);
		len = json_str(buf, len, size, "outcome", job->outcome);
	}
	if (len + 2 < size)
		buf[len++] = '}';
	return len;
}

static void emit(int, const struct wq_log_job *, const char *, va_list)
    WQ_PRINTF(3, 0);

static void
emit(int prio, const struct wq_log_job *job, const char *fmt, va_list ap)
{
	char msg[LINE_MAX_BYTES], line[LINE_MAX_BYTES + 512];
	size_t len;
	int n, saved = errno;

	if (prio > atomic_load(&log_level))
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= (int)sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	for (char *p = msg; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	if (atomic_load(&log_format) == WQ_LOG_JSON)
		len = format_json(line, sizeof(line) - 1, prio, msg, job);
	else
		len = (size_t)snprintf(line, sizeof(line) - 1, "<%d>%s", prio,
		    msg);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* Best effort: there is nowhere to report a failed log write. */
	if (write(STDERR_FILENO, line, len) < 0)
		(void)0;
	errno = saved;
}

void
wq_logv(int prio, const char *fmt, va_list ap)
{
	emit(prio, NULL, fmt, ap);
}

void
wq_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(prio, NULL, fmt, ap);
	va_end(ap);
}

void
wq_log_job(int prio, const struct wq_log_job *job, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(prio, job, fmt, ap);
	va_end(ap);
}
