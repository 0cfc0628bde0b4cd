/*
 * attr: the names and values of extended attributes as kvfs reads them.
 * Pure functions, no state, no I/O, safe from any thread; fs.c asks
 * them before it touches the store.
 *
 * Design note: what an expiration value may be.
 *
 * user.kv.expiration is an absolute time, user.kv.expiration_ttl the
 * same time as seconds from now.  Both are written as 1 to 18 decimal
 * digits and nothing else: no sign, no spaces (leading, trailing or
 * inside), no newline, no exponent, no NUL.  Leading zeros are allowed
 * ("0060" is 60).  18 digits is more than any valid value needs and
 * little enough that the sum with now never overflows an int64_t.
 * The result must lie in [now + 60, 2147483647]: Workers KV refuses an
 * expiration less than 60 s ahead and stores it in a 32-bit field.
 * Everything else is -EINVAL.
 *
 * user.kv.metadata is JSON; the store validates and compacts it (with
 * SQLite), since parsing JSON is a job for a library.
 */
#ifndef KVFS_ATTR_H
#define KVFS_ATTR_H

#include <stddef.h>
#include <stdint.h>

#define ATTR_META "user.kv.metadata"
#define ATTR_EXP  "user.kv.expiration"
#define ATTR_TTL  "user.kv.expiration_ttl"

#define ATTR_EXP_MAX	2147483647LL /* seconds since the epoch */
#define ATTR_TTL_MIN	60	     /* seconds, Workers KV's minimum */
#define ATTR_DIGITS_MAX 18	     /* digits in an expiration value */

enum attr_kind { ATTR_OTHER, ATTR_KV_META, ATTR_KV_EXP, ATTR_KV_TTL };

/*
 * Which attribute the NUL-terminated name is: one of enum attr_kind
 * (ATTR_OTHER for any other "user.X" with X not empty), -EOPNOTSUPP for
 * names outside user.* (security.*, system.*, trusted.*), -EINVAL for
 * "user." alone (what ext4 answers).
 */
int attr_kind(const char *name);

/*
 * Parse value[0..size) (not NUL-terminated) as a whole number of
 * seconds: 1 to ATTR_DIGITS_MAX decimal digits.  Stores it in *sec and
 * returns 0, or returns -EINVAL.
 */
int attr_parse_sec(const char *value, size_t size, int64_t *sec);

/*
 * The absolute expiration set by writing value[0..size) to the
 * attribute of kind ATTR_KV_EXP or ATTR_KV_TTL at time now (seconds
 * since the epoch), in *exp.  Returns 0 or -EINVAL (see the design
 * note); -EINVAL also for any other kind.
 */
int attr_expiration(int kind, const char *value, size_t size, int64_t now,
		    int64_t *exp);

/* What user.kv.expiration_ttl reads for expiration exp at now: >= 0. */
int64_t attr_ttl_left(int64_t exp, int64_t now);

#endif
