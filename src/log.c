/*
 * log: stderr with timestamps in the foreground, syslog when detached.
 * Owns nothing but the choice of sink; never prints values.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <fuse_log.h>

#include "log.h"

int log_max_level = LOG_INFO;
static bool log_to_syslog;
static bool log_is_plain;

void log_use_plain(void)
{
	log_is_plain = true;
}

void log_use_syslog(void)
{
	openlog("kvfs", LOG_PID, LOG_DAEMON);
	log_to_syslog = true;
}

static void log_vmsg(int level, const char *fmt, va_list ap)
{
	static const char *names[] = {"emerg", "alert", "crit", "error",
				      "warn",  "note",	"info", "debug"};
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (level > log_max_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (log_to_syslog) {
		syslog(level, "%s", line);
		return;
	}
	if (log_is_plain) {
		fprintf(stderr, "kvfs: %s: %s\n", names[level & 7], line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%04d-%02d-%02d %02d:%02d:%02d.%03ld kvfs %s: %s\n",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[level & 7],
		line);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/*
 * libfuse writes some messages in pieces (its unknown-option error in
 * four): collect them into one line, logged at its newline.
 */
static void log_from_fuse(enum fuse_log_level level, const char *fmt,
			  va_list ap)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char part[2048];
	static size_t used;

	pthread_mutex_lock(&lock);
	vsnprintf(part + used, sizeof(part) - used, fmt, ap);
	used += strlen(part + used);
	if (used > 0 && (part[used - 1] == '\n' || used + 1 >= sizeof(part))) {
		log_msg((int)level, "%s", part);
		used = 0;
	}
	pthread_mutex_unlock(&lock);
}

void log_capture_fuse(void)
{
	fuse_set_log_func(log_from_fuse);
}

char *log_key(char *buf, size_t buf_size, const char *key, size_t key_len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0, shown = key_len > 96 ? 96 : key_len;

	/* Cut before a character, not inside one (10xxxxxx continues). */
	while (shown > 0 && shown < key_len &&
	       ((unsigned char)key[shown] & 0xc0) == 0x80)
		shown--;
	for (i = 0; i < shown && o + 8 < buf_size; i++) {
		unsigned char c = (unsigned char)key[i];

		if (c < 0x20 || c == 0x7f || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else {
			buf[o++] = (char)c;
		}
	}
	if (shown < key_len && o + 4 < buf_size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}
