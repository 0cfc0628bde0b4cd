/*
 * log: the one logger of kvfs.
 *
 * Messages go to stderr with a timestamp while kvfs runs in the
 * foreground, to syslog once it has detached.  Levels are syslog's.
 * Debug messages cost one comparison when debug logging is off.
 * Never pass a value's content to the logger: values are sessions and
 * tokens.  Log sizes, and key names through log_key().
 */
#ifndef KVFS_LOG_H
#define KVFS_LOG_H

#include <stddef.h>
#include <syslog.h>

extern int log_max_level; /* messages above this level are dropped */

/* Send messages to syslog from now on (after daemonizing). */
void log_use_syslog(void);

/* Write "kvfs: LEVEL: message" to stderr, without the time (commands). */
void log_use_plain(void);

/* Route libfuse's own messages into this logger. */
void log_capture_fuse(void);

void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_max_level >= LOG_DEBUG)                                \
			log_msg(LOG_DEBUG, __VA_ARGS__);                       \
	} while (0)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)

/*
 * Write a printable form of a key or name into buf (always
 * NUL-terminated): control bytes as \xNN, names over 96 bytes shortened
 * with "...".  Returns buf, for use as a printf argument.
 */
char *log_key(char *buf, size_t buf_size, const char *key, size_t key_len);

#define LOG_KEY_BUF 512

#endif
