/*
 * fuzz_attr: libFuzzer harness for the attribute parsers.  The input is
 * tried as an attribute name, as an expiration and a TTL at several
 * clocks, and as metadata through the store's JSON compaction.  An
 * accepted expiration must lie in Workers KV's range and read back
 * (getxattr's decimal text) to itself; accepted metadata must be UTF-8,
 * and its compact form compact again unchanged, never longer than the
 * input and free of NUL bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "name.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int64_t clocks[] = {0, 1700000000, ATTR_EXP_MAX - 60,
				 ATTR_EXP_MAX};

static char db_dir[] = "/tmp/kvfs-fuzz-attr.XXXXXX";
static char db_path[sizeof(db_dir) + 16];
static struct store *db;

static void db_remove(void)
{
	char path[sizeof(db_path) + 8];
	const char *ext[] = {"", "-wal", "-shm", "-claims"};

	if (db)
		db->ops->close(db);
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s%s", db_path, ext[i]);
		unlink(path);
	}
	/* Values are kept in the database here: the directory is empty. */
	snprintf(path, sizeof(path), "%s-values", db_path);
	rmdir(path);
	rmdir(db_dir);
}

/* A store on a temporary file, made once per process. */
static struct store *db_get(void)
{
	char err[256];

	if (db || !mkdtemp(db_dir))
		return db;
	snprintf(db_path, sizeof(db_path), "%s/kvfs.db", db_dir);
	if (store_sqlite_open(db_path, 1000, false, &db, err, sizeof(err)))
		abort();
	atexit(db_remove);
	return db;
}

static void check_name(const char *s, size_t size)
{
	char name[512];
	size_t n = strnlen(s, size < sizeof(name) ? size : sizeof(name) - 1);
	int kind;

	memcpy(name, s, n);
	name[n] = '\0';
	kind = attr_kind(name);
	if (kind == -EINVAL && strcmp(name, "user."))
		abort(); /* only "user." alone is EINVAL */
	if (kind == -EOPNOTSUPP && !strncmp(name, "user.", 5))
		abort(); /* every user.X is an attribute */
	if (kind < 0)
		return;
	if (kind < ATTR_OTHER || kind > ATTR_KV_TTL)
		abort();
	if (strncmp(name, "user.", 5) || !name[5])
		abort(); /* only user.X names are attributes */
}

static void check_expiration(const char *s, size_t size, int kind, int64_t now)
{
	int64_t exp, sec, again;
	char text[32];
	int len;

	if (attr_expiration(kind, s, size, now, &exp))
		return;
	if (attr_parse_sec(s, size, &sec))
		abort(); /* accepted a value that is not a number */
	if (exp < now + ATTR_TTL_MIN || exp > ATTR_EXP_MAX)
		abort();
	if (exp != (kind == ATTR_KV_TTL ? now + sec : sec))
		abort();
	if (attr_ttl_left(exp, now) < ATTR_TTL_MIN)
		abort();

	/* What getxattr answers must set the same expiration again. */
	len = snprintf(text, sizeof(text), "%" PRId64, exp);
	if (attr_expiration(ATTR_KV_EXP, text, (size_t)len, now, &again) ||
	    again != exp)
		abort();
	len = snprintf(text, sizeof(text), "%" PRId64, attr_ttl_left(exp, now));
	if (attr_expiration(ATTR_KV_TTL, text, (size_t)len, now, &again) ||
	    again != exp)
		abort();
}

static void check_meta(const char *s, size_t size)
{
	struct store *st = db_get();
	char *out = NULL, *again = NULL;
	size_t out_len, again_len;

	if (!st || memchr(s, '\0', size))
		return; /* NUL bytes are refused before SQLite sees them */
	if (st->ops->json_compact(st, s, size, &out, &out_len))
		return;
	if (!name_utf8_valid(s, size))
		abort(); /* JSON is UTF-8 */
	if (out_len > size || strlen(out) != out_len)
		abort();
	if (st->ops->json_compact(st, out, out_len, &again, &again_len))
		abort(); /* the compact form must be JSON */
	if (again_len != out_len || memcmp(again, out, out_len))
		abort(); /* and compact already */
	free(again);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t i;

	if (size > 4096)
		return 0;
	check_name(s, size);
	for (i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		check_expiration(s, size, ATTR_KV_EXP, clocks[i]);
		check_expiration(s, size, ATTR_KV_TTL, clocks[i]);
	}
	check_meta(s, size);
	return 0;
}
