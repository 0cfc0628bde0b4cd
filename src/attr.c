/*
 * attr: extended attribute names and expiration values; the rules are
 * in the design note in attr.h.  Runs on every xattr request, so it
 * must never allocate, lock, log or read the clock (the caller passes
 * now, which is what makes it testable).
 */
#include <errno.h>
#include <string.h>

#include "attr.h"

int attr_kind(const char *name)
{
	if (!strcmp(name, ATTR_META))
		return ATTR_KV_META;
	if (!strcmp(name, ATTR_EXP))
		return ATTR_KV_EXP;
	if (!strcmp(name, ATTR_TTL))
		return ATTR_KV_TTL;
	if (!strncmp(name, "user.", 5))
		return name[5] ? ATTR_OTHER : -EINVAL; /* as ext4 */
	return -EOPNOTSUPP;
}

int attr_parse_sec(const char *value, size_t size, int64_t *sec)
{
	int64_t n = 0;
	size_t i;

	if (size == 0 || size > ATTR_DIGITS_MAX)
		return -EINVAL;
	for (i = 0; i < size; i++) {
		if (value[i] < '0' || value[i] > '9')
			return -EINVAL;
		n = n * 10 + (value[i] - '0');
	}
	*sec = n;
	return 0;
}

int attr_expiration(int kind, const char *value, size_t size, int64_t now,
		    int64_t *exp)
{
	int64_t v;
	int rc;

	if (kind != ATTR_KV_EXP && kind != ATTR_KV_TTL)
		return -EINVAL;
	rc = attr_parse_sec(value, size, &v);
	if (rc)
		return rc;
	if (kind == ATTR_KV_TTL) {
		if (v < ATTR_TTL_MIN || v > ATTR_EXP_MAX)
			return -EINVAL;
		v += now;
	}
	if (v < now + ATTR_TTL_MIN || v > ATTR_EXP_MAX)
		return -EINVAL;
	*exp = v;
	return 0;
}

int64_t attr_ttl_left(int64_t exp, int64_t now)
{
	return exp > now ? exp - now : 0;
}
