/*
 * store_remote: the store kvfs opens (store_open()).  It routes every
 * call of a namespace with backend = cloudflare to that namespace's
 * Workers KV client (remote.c) and edge cache, and everything else to
 * the SQLite store.  Remote namespaces get ids from STORE_REMOTE_ID0 up,
 * never in the SQLite store, and appear under their config names in
 * ns_list() and ns_find(); a local namespace of the same name in the
 * database is hidden while the config says cloudflare.
 *
 * Design note: the edge cache.  Each remote namespace has a SQLite file
 * (cache_path) that is itself a kvfs store with one namespace "cache"
 * holding the rows this mount has seen: value, metadata, expiration as
 * the API gave them, and what only this mount keeps (mode, owner, times,
 * mkdir'ed directories).  Beside it, in the same file, two tables of
 * this module (its own connection, so this file includes sqlite3.h):
 *
 *   rc_fresh(key, is_present, is_pending, fetched_ns, listed_ns, used_ns)
 *     what the API said about one key and when; a row of the cache
 *     store exists exactly for the keys with is_present = 1.
 *     is_pending: created by this mount and not yet put (a file between
 *     create and its first close): never sent, never refreshed, dropped
 *     at the next start.
 *   rc_listed(prefix, fetched_ns)
 *     prefixes whose whole listing was fetched (readdir, and whether a
 *     directory has keys): list() and any() over that exact prefix are
 *     answered from the cache while it is fresh.  A key that a listing
 *     did not have is still asked for by its own GET, as Workers KV's
 *     get of a key never read goes to the origin.
 *
 * A key is fresh while fetched_ns is less than cache_ttl old; a fresh
 * key (present or missing) is answered without a request.  Otherwise
 * it is fetched: GET the value, then one list page with the key as
 * prefix for its metadata and expiration (the first key of that page is
 * the key itself when it is listed).  A listing (readdir) fetches the
 * whole prefix page by page and GETs the value of every key that is not
 * fresh, because the API's listing has no sizes; in the tree layout a
 * key below a subdirectory of the prefix gets a row without its value
 * (fetched_ns 0: never fresh, so never served) that only makes the
 * subdirectory appear.  Writes go to the API
 * first and into the cache only when the API took them, so a failed put
 * leaves the cached value as it was.
 *
 * The cache is bounded by cache_max_mb: after each call that fetched or
 * stored a value, rows are evicted least recently used first (rc_fresh
 * rows and listings with them), never the key just used.
 *
 * Threads: one mutex per remote namespace serialises its calls (and its
 * curl handle); the SQLite store has its own locking.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "config.h"
#include "log.h"
#include "remote.h"
#include "store.h"

#define STORE_REMOTE_ID0 (INT64_C(1) << 40)
#define RS_EVICT_BATCH	 64

static const char rs_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS rc_fresh(key BLOB PRIMARY KEY,"
    " is_present INTEGER NOT NULL, is_pending INTEGER NOT NULL DEFAULT 0,"
    " fetched_ns INTEGER NOT NULL, listed_ns INTEGER NOT NULL DEFAULT 0,"
    " used_ns INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS rc_fresh_used ON rc_fresh(used_ns)"
    " WHERE is_present;"
    "CREATE TABLE IF NOT EXISTS rc_listed(prefix BLOB PRIMARY KEY,"
    " fetched_ns INTEGER NOT NULL) WITHOUT ROWID;";

/* One remote namespace. */
struct rs_ns {
	int64_t id;
	const struct config_ns *cfg;
	struct remote *api;  /* lock */
	struct store *cache; /* the cache store */
	int64_t cns;	     /* the namespace in the cache store */
	sqlite3 *db;	     /* lock; rc_fresh and rc_listed */
	int64_t ttl_ns;
	uint64_t max_bytes;
	pthread_mutex_t lock;
};

struct rs_store {
	struct store base;
	struct store *local;
	struct rs_ns *ns;
	int ns_count;
};

/* What rc_fresh says about a key. */
struct rs_fresh {
	bool is_present;
	bool is_pending;
	int64_t fetched_ns; /* 0: never (a row the listing made) */
	int64_t listed_ns;
};

static struct rs_store *rs_of(struct store *st)
{
	return (struct rs_store *)st;
}

static struct rs_ns *rs_find(struct store *st, int64_t ns)
{
	struct rs_store *s = rs_of(st);

	if (ns < STORE_REMOTE_ID0 || ns >= STORE_REMOTE_ID0 + s->ns_count)
		return NULL;
	return &s->ns[ns - STORE_REMOTE_ID0];
}

static int64_t rs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- the bookkeeping tables --------------------------------------- */

static int rs_db_errno(struct rs_ns *r, int rc)
{
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_BUSY)
		return -EBUSY;
	if (rc == SQLITE_FULL)
		return -ENOSPC;
	log_warn("namespace %s: cache: %s", r->cfg->name,
		 sqlite3_errmsg(r->db));
	return -EIO;
}

static sqlite3_stmt *rs_prepare(struct rs_ns *r, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
		rs_db_errno(r, SQLITE_ERROR);
		return NULL;
	}
	return st;
}

static int rs_fresh_get(struct rs_ns *r, const char *key, size_t len,
			struct rs_fresh *f)
{
	sqlite3_stmt *st = rs_prepare(r, "SELECT is_present, is_pending,"
					 " fetched_ns, listed_ns FROM rc_fresh"
					 " WHERE key = ?1");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, key, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		f->is_present = sqlite3_column_int(st, 0);
		f->is_pending = sqlite3_column_int(st, 1);
		f->fetched_ns = sqlite3_column_int64(st, 2);
		f->listed_ns = sqlite3_column_int64(st, 3);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : rs_db_errno(r, rc);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Record what the API said about key at time now. */
static int rs_fresh_set(struct rs_ns *r, const char *key, size_t len,
			bool is_present, bool is_pending, int64_t now,
			int64_t listed_ns)
{
	sqlite3_stmt *st = rs_prepare(
	    r,
	    "INSERT OR REPLACE INTO rc_fresh(key, is_present, is_pending,"
	    " fetched_ns, listed_ns, used_ns) VALUES(?1, ?2, ?3, ?4, ?5, ?4)");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, key, (int)len, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, is_present);
	sqlite3_bind_int(st, 3, is_pending);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, listed_ns);
	rc = rs_db_errno(r, sqlite3_step(st));
	sqlite3_finalize(st);
	return rc;
}

static void rs_exec_key(struct rs_ns *r, const char *sql, const char *key,
			size_t len, int64_t n)
{
	sqlite3_stmt *st = rs_prepare(r, sql);

	if (!st)
		return;
	sqlite3_bind_blob(st, 1, key, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, n);
	rs_db_errno(r, sqlite3_step(st));
	sqlite3_finalize(st);
}

static void rs_touch(struct rs_ns *r, const char *key, size_t len)
{
	rs_exec_key(r, "UPDATE rc_fresh SET used_ns = ?2 WHERE key = ?1", key,
		    len, rs_now_ns());
}

/* True if the listing of prefix was fetched after since_ns. */
static bool rs_listed(struct rs_ns *r, const char *prefix, size_t len,
		      int64_t since_ns)
{
	sqlite3_stmt *st =
	    rs_prepare(r, "SELECT 1 FROM rc_listed"
			  " WHERE prefix = ?1 AND fetched_ns > ?2");
	bool yes;

	if (!st)
		return false;
	sqlite3_bind_blob(st, 1, prefix, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since_ns);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/* --- the cache store ---------------------------------------------- */

static int rs_buf_sink(void *ctx, const void *buf, size_t len)
{
	struct remote_buf *b = ctx;
	char *p;

	if (b->len + len + 1 > b->cap) {
		p = realloc(b->data, b->len + len + 1);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = b->len + len + 1;
	}
	memcpy(b->data + b->len, buf, len);
	b->len += len;
	return 0;
}

static int rs_buf_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct remote_buf *b = ctx;

	if (off + len > b->len)
		return -EIO;
	memcpy(buf, b->data + off, len);
	return 0;
}

/* The cached metadata of key (malloc'ed) or NULL. */
static int rs_cached_meta(struct rs_ns *r, const char *key, size_t len,
			  char **meta)
{
	size_t n;
	int rc;

	*meta = NULL;
	rc = r->cache->ops->meta_get(r->cache, r->cns, key, len, NULL, 0, &n);
	if (rc == -ENODATA || rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	*meta = malloc(n + 1);
	if (!*meta)
		return -ENOMEM;
	rc = r->cache->ops->meta_get(r->cache, r->cns, key, len, *meta, n, &n);
	if (rc) {
		free(*meta);
		*meta = NULL;
		return rc == -ENODATA ? 0 : rc;
	}
	(*meta)[n] = '\0';
	return 0;
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/*
 * Make the cache row of key hold value, metadata and expiration as the
 * API gave them, keeping what this mount set (mode, owner, times) and
 * the row's version when nothing changed.
 */
static int rs_apply(struct rs_ns *r, const char *key, size_t len,
		    const struct remote_buf *value, const char *meta,
		    int64_t expiration)
{
	struct remote_buf old = {0};
	struct store_attr a;
	struct store_put put = {0};
	char *old_meta = NULL;
	int rc;

	rc = r->cache->ops->get(r->cache, r->cns, key, len, rs_buf_sink, &old,
				&a);
	if (rc == 0)
		rc = rs_cached_meta(r, key, len, &old_meta);
	if (rc == 0 && a.expiration == expiration && old.len == value->len &&
	    (!old.len || !memcmp(old.data, value->data, old.len)) &&
	    str_same(old_meta, meta))
		goto done;
	if (rc && rc != -ENOENT)
		goto done;

	put.flags = STORE_PUT_NEW_ONLY_ATTR;
	put.size = value->len;
	put.read = rs_buf_read;
	put.ctx = (void *)value;
	put.attr.uid = -1;
	put.attr.gid = -1;
	put.metadata = meta;
	put.expiration = expiration;
	rc = r->cache->ops->put(r->cache, r->cns, key, len, &put, NULL);
done:
	free(old.data);
	free(old_meta);
	return rc;
}

/* Drop key from the cache store; a missing row is fine. */
static int rs_drop(struct rs_ns *r, const char *key, size_t len)
{
	int rc = r->cache->ops->remove(r->cache, r->cns, key, len, STORE_KEY);

	return rc == -ENOENT ? 0 : rc;
}

/* Evict least recently used rows until the cache is within its bound. */
static void rs_evict(struct rs_ns *r, const char *keep, size_t keep_len)
{
	struct store_usage u;
	sqlite3_stmt *st;
	int rc, n;

	for (;;) {
		if (r->cache->ops->ns_usage(r->cache, r->cns, &u) ||
		    u.bytes <= r->max_bytes)
			return;
		st = rs_prepare(r, "SELECT key FROM rc_fresh WHERE is_present"
				   " AND NOT is_pending AND key != ?1"
				   " ORDER BY used_ns LIMIT ?2");
		if (!st)
			return;
		sqlite3_bind_blob(st, 1, keep ? keep : "", (int)keep_len,
				  SQLITE_STATIC);
		sqlite3_bind_int(st, 2, RS_EVICT_BATCH);
		n = 0;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *k = sqlite3_column_blob(st, 0);
			size_t klen = (size_t)sqlite3_column_bytes(st, 0);

			rs_drop(r, k ? k : "", klen);
			rs_exec_key(r, "DELETE FROM rc_fresh WHERE key = ?1",
				    k ? k : "", klen, 0);
			n++;
		}
		sqlite3_finalize(st);
		/*
		 * The listings no longer have every key of theirs.  TODO: a
		 * directory whose values exceed cache_max_mb is listed from
		 * the API again for each page of an ls, since the rows of
		 * its listing get evicted; listing rows would need to be
		 * kept apart from the values.
		 */
		sqlite3_exec(r->db, "DELETE FROM rc_listed", NULL, NULL, NULL);
		if (!n)
			return;
	}
}

/* --- fetching ----------------------------------------------------- */

/* The metadata and expiration of one key, from a list page. */
struct rs_attrs {
	const char *key;
	size_t len;
	bool is_found;
	char *meta;
	int64_t expiration;
};

static int rs_attrs_key(void *ctx, const struct remote_key *k)
{
	struct rs_attrs *a = ctx;

	if (a->is_found || k->name_len != a->len ||
	    memcmp(k->name, a->key, a->len))
		return 0;
	a->is_found = true;
	a->expiration = k->expiration;
	if (k->metadata) {
		a->meta = strdup(k->metadata);
		if (!a->meta)
			return -ENOMEM;
	}
	return 0;
}

/*
 * Stale-if-error: rc is the failure of a refresh of a key (or listing)
 * the cache knows.  Returns 0 (serve the cache, logged) when the option
 * is on and the failure is the API's being unreachable or failing;
 * else rc.
 */
static int rs_stale(struct rs_ns *r, int rc, const char *what)
{
	if (rc != -EIO || !r->cfg->remote.is_stale_if_error)
		return rc;
	log_warn("namespace %s: %s: the API failed, serving the cached copy "
		 "(stale_if_error)",
		 r->cfg->name, what);
	return 0;
}

/*
 * Fetch key from the API into the cache: its value, and its metadata
 * and expiration from a list page unless is_listed (a fresh listing
 * put them in the cache already).  has_cached: the cache holds a value
 * that stale_if_error may serve.
 */
static int rs_fetch(struct rs_ns *r, const char *key, size_t len,
		    bool has_cached, bool is_listed)
{
	struct remote_buf value = {0};
	struct rs_attrs a = {.key = key, .len = len};
	int64_t now = rs_now_ns();
	char *cursor = NULL;
	int rc;

	rc = remote_get(r->api, key, len, &value);
	if (rc == -ENOENT) {
		rc = rs_drop(r, key, len);
		if (rc == 0)
			rc = rs_fresh_set(r, key, len, false, false, now, 0);
		goto done;
	}
	if (rc == 0 && is_listed) {
		struct store_attr cached;

		rc = rs_cached_meta(r, key, len, &a.meta);
		if (rc == 0)
			rc = r->cache->ops->stat(r->cache, r->cns, key, len,
						 STORE_KEY, &cached);
		a.expiration = rc == 0 ? cached.expiration : 0;
	} else if (rc == 0) {
		rc = remote_list(r->api, key, len, NULL, 10, rs_attrs_key, &a,
				 &cursor);
	}
	if (rc)
		goto done;
	rc = rs_apply(r, key, len, &value, a.meta, a.expiration);
	if (rc == 0)
		rc = rs_fresh_set(r, key, len, true, false, now, 0);
done:
	free(cursor);
	free(a.meta);
	free(value.data);
	if (rc && has_cached)
		return rs_stale(r, rc, "get");
	return rc;
}

/*
 * Make the cache answer for key: fetch it unless it is fresh (or
 * is_forced: ask the API whatever the cache says).
 */
static int rs_ensure(struct rs_ns *r, const char *key, size_t len,
		     bool is_forced)
{
	int64_t since = rs_now_ns() - r->ttl_ns;
	struct rs_fresh f;
	int rc;

	rc = rs_fresh_get(r, key, len, &f);
	if (rc && rc != -ENOENT)
		return rc;
	if (rc == 0 && f.is_pending)
		return 0;
	if (rc == 0 && f.fetched_ns > since && !is_forced)
		return 0;
	return rs_fetch(r, key, len, rc == 0 && f.is_present && f.fetched_ns,
			rc == 0 && f.is_present && f.listed_ns > since);
}

/* State of one listing fetch. */
struct rs_listing {
	struct rs_ns *r;
	int64_t start_ns;
	size_t prefix_len;
};

static int rs_listing_key(void *ctx, const struct remote_key *k)
{
	struct rs_listing *l = ctx;
	struct rs_ns *r = l->r;
	struct remote_buf value = {0};
	struct rs_fresh f;
	bool is_deep;
	int rc;

	if (k->name_len > STORE_KEY_MAX || k->name_len < l->prefix_len)
		return 0;
	rc = rs_fresh_get(r, k->name, k->name_len, &f);
	if (rc && rc != -ENOENT)
		return rc;
	if (rc == 0 && f.is_pending)
		return 0;
	/*
	 * In the tree layout a key below a subdirectory only makes that
	 * directory appear: its value (and size) is fetched when it is
	 * itself read or listed, so that ls of a namespace's top does not
	 * GET every value of the namespace.
	 */
	is_deep =
	    r->cfg->layout == CONFIG_LAYOUT_TREE &&
	    memchr(k->name + l->prefix_len, '/', k->name_len - l->prefix_len);
	if (rc == 0 && f.is_present &&
	    (is_deep || f.fetched_ns > l->start_ns - r->ttl_ns)) {
		/* The value is fresh; metadata and expiration may not be. */
		rc = r->cache->ops->get(r->cache, r->cns, k->name, k->name_len,
					rs_buf_sink, &value, NULL);
		if (rc == 0)
			rc = rs_apply(r, k->name, k->name_len, &value,
				      k->metadata, k->expiration);
		if (rc == 0)
			rs_exec_key(r,
				    "UPDATE rc_fresh SET listed_ns = ?2"
				    " WHERE key = ?1",
				    k->name, k->name_len, l->start_ns);
		free(value.data);
		value = (struct remote_buf){0};
		if (rc != -ENOENT)
			return rc;
	}
	if (is_deep) {
		/* A row with no value yet: never fresh, so never served. */
		rc = rs_apply(r, k->name, k->name_len, &value, k->metadata,
			      k->expiration);
		if (rc == 0)
			rc = rs_fresh_set(r, k->name, k->name_len, true, false,
					  0, l->start_ns);
		return rc;
	}
	/* TODO: the API's listing has no sizes, so each key costs a GET. */
	rc = remote_get(r->api, k->name, k->name_len, &value);
	if (rc == 0)
		rc = rs_apply(r, k->name, k->name_len, &value, k->metadata,
			      k->expiration);
	if (rc == 0)
		rc = rs_fresh_set(r, k->name, k->name_len, true, false,
				  rs_now_ns(), l->start_ns);
	free(value.data);
	return rc == -ENOENT ? 0 : rc; /* deleted since it was listed */
}

/* Keys under prefix the listing that started at start_ns did not see. */
static int rs_listing_prune(struct rs_ns *r, const char *prefix, size_t len,
			    int64_t start_ns)
{
	sqlite3_stmt *st = rs_prepare(
	    r, "SELECT key FROM rc_fresh WHERE is_present AND NOT is_pending"
	       " AND listed_ns < ?2 AND fetched_ns < ?2"
	       " AND substr(key, 1, length(?1)) = ?1");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, prefix, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, start_ns);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = sqlite3_column_blob(st, 0);
		size_t klen = (size_t)sqlite3_column_bytes(st, 0);

		rc = rs_drop(r, k ? k : "", klen);
		if (rc == 0)
			rc = rs_fresh_set(r, k ? k : "", klen, false, false,
					  start_ns, 0);
		if (rc)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : rc > 0 ? rs_db_errno(r, rc) : rc;
}

/*
 * Make the cache hold the whole listing of prefix, fetched if stale or
 * is_forced.
 */
static int rs_ensure_listing(struct rs_ns *r, const char *prefix, size_t len,
			     bool is_forced)
{
	struct rs_listing l = {
	    .r = r, .start_ns = rs_now_ns(), .prefix_len = len};
	char *cursor = NULL, *next;
	sqlite3_stmt *st;
	int rc;

	if (!is_forced && rs_listed(r, prefix, len, l.start_ns - r->ttl_ns))
		return 0;
	do {
		rc = remote_list(r->api, prefix, len, cursor, REMOTE_LIST_LIMIT,
				 rs_listing_key, &l, &next);
		free(cursor);
		cursor = next;
	} while (rc == 0 && cursor);
	free(cursor);
	if (rc)
		return rs_stale(r, rc, "list");
	rc = rs_listing_prune(r, prefix, len, l.start_ns);
	if (rc)
		return rc;
	st = rs_prepare(r, "INSERT OR REPLACE INTO rc_listed(prefix,"
			   " fetched_ns) VALUES(?1, ?2)");
	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, prefix, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, l.start_ns);
	rc = rs_db_errno(r, sqlite3_step(st));
	sqlite3_finalize(st);
	return rc;
}

/*
 * The prefix a list call over [lo, hi) needs: the prefix whose range
 * hi ends (hi minus one in its last byte), cut to what lo shares with
 * it.  hi NULL: the whole namespace.
 */
static size_t rs_range_prefix(const char *lo, size_t lo_len, const char *hi,
			      size_t hi_len, char *out)
{
	size_t n = 0;

	if (!hi || !hi_len)
		return 0;
	memcpy(out, hi, hi_len);
	out[hi_len - 1] = (char)(out[hi_len - 1] - 1);
	while (n < hi_len && n < lo_len && lo[n] == out[n])
		n++;
	return n;
}

/* --- the remote namespace's operations ---------------------------- */

static int rs_stat(struct rs_ns *r, const char *key, size_t len,
		   enum store_kind kind, struct store_attr *attr)
{
	int rc = 0;

	if (kind == STORE_KEY)
		rc = rs_ensure(r, key, len, false);
	if (rc == 0)
		rc =
		    r->cache->ops->stat(r->cache, r->cns, key, len, kind, attr);
	if (rc == 0 && kind == STORE_KEY)
		rs_touch(r, key, len);
	return rc;
}

/* Read all of put's value (after base, if any) into *b. */
static int rs_put_value(const struct store_put *put, struct remote_buf *b)
{
	size_t at = b->len;
	char *p;

	if (b->len + put->size > STORE_VALUE_MAX)
		return -EFBIG;
	p = realloc(b->data, b->len + put->size + 1);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = b->len + put->size + 1;
	b->len += put->size;
	return put->size ? put->read(put->ctx, 0, b->data + at, put->size) : 0;
}

/* A file being created: checked against the API, kept local till put. */
static int rs_put_create(struct rs_ns *r, const char *key, size_t len,
			 const struct store_put *put, struct store_attr *out)
{
	struct store_attr a;
	int rc = rs_ensure(r, key, len, true);

	if (rc == 0)
		rc = r->cache->ops->stat(r->cache, r->cns, key, len, STORE_KEY,
					 &a);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	rc = r->cache->ops->put(r->cache, r->cns, key, len, put, out);
	if (rc == 0)
		rc = rs_fresh_set(r, key, len, true, true, rs_now_ns(), 0);
	return rc;
}

static int rs_put(struct rs_ns *r, const char *key, size_t len,
		  const struct store_put *put, struct store_attr *out)
{
	bool keeps = put->flags & (STORE_PUT_KEEP_META | STORE_PUT_APPEND);
	struct remote_buf value = {0};
	struct store_put cp = *put;
	struct store_attr a;
	char *meta = NULL;
	int64_t expiration = put->expiration;
	bool exists;
	int rc;

	if (put->flags & STORE_PUT_CREATE)
		return rs_put_create(r, key, len, put, out);
	rc = rs_ensure(r, key, len, put->flags & STORE_PUT_EXCL);
	if (rc)
		return rc;
	rc = r->cache->ops->stat(r->cache, r->cns, key, len, STORE_KEY, &a);
	if (rc && rc != -ENOENT)
		return rc;
	exists = rc == 0;
	if (exists && (put->flags & STORE_PUT_EXCL))
		return -EEXIST;

	/*
	 * TODO: O_EXCL and appends are read-modify-write: the API has no
	 * conditional put, so a put by another client between our check
	 * (or read) and this put is overwritten (two machines creating
	 * one name both succeed; concurrent appends can lose one).
	 */
	rc = 0;
	if (exists && (put->flags & STORE_PUT_APPEND))
		rc = r->cache->ops->get(r->cache, r->cns, key, len, rs_buf_sink,
					&value, NULL);
	if (rc == 0)
		rc = rs_put_value(put, &value);
	if (rc == 0 && keeps) {
		expiration = exists ? a.expiration : 0;
		/*
		 * The API refuses an expiration less than 60 s away: a
		 * rewrite of a key about to expire keeps it 60 s more.
		 */
		if (expiration && expiration < time(NULL) + 60)
			expiration = time(NULL) + 60;
		if (exists)
			rc = rs_cached_meta(r, key, len, &meta);
	} else if (rc == 0 && put->metadata) {
		meta = strdup(put->metadata);
		rc = meta ? 0 : -ENOMEM;
	}
	if (rc == 0)
		rc = remote_put(r->api, key, len, value.data, value.len, meta,
				expiration);
	if (rc)
		goto done;

	cp.flags &= ~(STORE_PUT_APPEND | STORE_PUT_EXCL);
	cp.size = value.len;
	cp.read = rs_buf_read;
	cp.ctx = &value;
	rc = r->cache->ops->put(r->cache, r->cns, key, len, &cp, out);
	if (rc == 0)
		rc = rs_fresh_set(r, key, len, true, false, rs_now_ns(), 0);
	rs_evict(r, key, len);
done:
	free(meta);
	free(value.data);
	return rc;
}

static int rs_remove(struct rs_ns *r, const char *key, size_t len,
		     enum store_kind kind)
{
	struct store_attr a;
	int rc;

	if (kind != STORE_KEY)
		return r->cache->ops->remove(r->cache, r->cns, key, len, kind);
	rc = rs_stat(r, key, len, STORE_KEY, &a);
	if (rc == 0)
		rc = remote_delete(r->api, key, len);
	if (rc == 0)
		rc = rs_drop(r, key, len);
	if (rc == 0)
		rc = rs_fresh_set(r, key, len, false, false, rs_now_ns(), 0);
	return rc;
}

/*
 * Put key's cached value again with metadata meta and expiration: how
 * the API changes either (it has no call for metadata alone).
 */
static int rs_reput(struct rs_ns *r, const char *key, size_t len,
		    const char *meta, int64_t expiration)
{
	struct remote_buf value = {0};
	int rc;

	rc = rs_ensure(r, key, len, false);
	if (rc == 0)
		rc = r->cache->ops->get(r->cache, r->cns, key, len, rs_buf_sink,
					&value, NULL);
	if (rc == 0)
		rc = remote_put(r->api, key, len, value.data, value.len, meta,
				expiration);
	free(value.data);
	return rc;
}

static int rs_meta_set(struct rs_ns *r, const char *key, size_t len,
		       const char *json, size_t json_len)
{
	struct store_attr a;
	char *compact = NULL;
	size_t n;
	int rc;

	rc = rs_stat(r, key, len, STORE_KEY, &a);
	if (rc == 0 && json)
		rc = r->cache->ops->json_compact(r->cache, json, json_len,
						 &compact, &n);
	if (rc == 0 && compact && n > STORE_META_MAX)
		rc = -ERANGE;
	if (rc == 0)
		rc = rs_reput(r, key, len, compact, a.expiration);
	if (rc == 0)
		rc = r->cache->ops->meta_set(r->cache, r->cns, key, len, json,
					     json_len);
	free(compact);
	return rc;
}

static int rs_expire(struct rs_ns *r, const char *key, size_t len,
		     int64_t expiration)
{
	struct store_attr a;
	char *meta = NULL;
	int rc;

	rc = rs_stat(r, key, len, STORE_KEY, &a);
	if (rc == 0)
		rc = rs_cached_meta(r, key, len, &meta);
	if (rc == 0)
		rc = rs_reput(r, key, len, meta, expiration);
	if (rc == 0)
		rc = r->cache->ops->expire(r->cache, r->cns, key, len,
					   expiration);
	free(meta);
	return rc;
}

/* Append one JSON object of item to the bulk array a. */
static int rs_bulk_item(json_t *a, const struct store_item *it)
{
	json_t *o = json_object(), *meta = NULL;
	char *b64 = NULL;
	int rc = -ENOMEM;

	if (!o)
		return -ENOMEM;
	if (it->metadata) {
		meta = json_loads(it->metadata, JSON_DECODE_ANY, NULL);
		if (!meta) {
			rc = -EINVAL;
			goto free_o;
		}
	}
	b64 = malloc(4 * ((it->size + 2) / 3) + 1);
	if (!b64)
		goto free_meta;
	{
		static const char tab[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789+/";
		const unsigned char *v = it->value;
		size_t i, o2 = 0;

		for (i = 0; i + 2 < it->size; i += 3) {
			b64[o2++] = tab[v[i] >> 2];
			b64[o2++] = tab[(v[i] & 3) << 4 | v[i + 1] >> 4];
			b64[o2++] = tab[(v[i + 1] & 15) << 2 | v[i + 2] >> 6];
			b64[o2++] = tab[v[i + 2] & 63];
		}
		if (i < it->size) {
			b64[o2++] = tab[v[i] >> 2];
			if (i + 1 < it->size) {
				b64[o2++] =
				    tab[(v[i] & 3) << 4 | v[i + 1] >> 4];
				b64[o2++] = tab[(v[i + 1] & 15) << 2];
			} else {
				b64[o2++] = tab[(v[i] & 3) << 4];
				b64[o2++] = '=';
			}
			b64[o2++] = '=';
		}
		b64[o2] = '\0';
	}
	if (json_object_set_new(o, "key", json_stringn(it->key, it->key_len)) ||
	    json_object_set_new(o, "value", json_string(b64)) ||
	    json_object_set_new(o, "base64", json_true()) ||
	    (it->expiration &&
	     json_object_set_new(o, "expiration",
				 json_integer(it->expiration))) ||
	    (meta && json_object_set(o, "metadata", meta)) ||
	    json_array_append(a, o))
		goto free_b64;
	rc = 0;
free_b64:
	free(b64);
free_meta:
	json_decref(meta);
free_o:
	json_decref(o);
	return rc;
}

/* One bulk request of items[0..n); falls back to one put per item. */
static int rs_bulk(struct rs_ns *r, const struct store_item *items, size_t n,
		   size_t *failed)
{
	json_t *a = json_array();
	char *body = NULL;
	size_t i;
	int rc = a ? 0 : -ENOMEM;

	*failed = n;
	for (i = 0; i < n && rc == 0; i++) {
		rc = rs_bulk_item(a, &items[i]);
		if (rc)
			*failed = i;
	}
	if (rc == 0) {
		body = json_dumps(a, JSON_COMPACT);
		rc = body ? remote_bulk_put(r->api, body, strlen(body))
			  : -ENOMEM;
	}
	for (i = 0; rc == -ENOSYS && i < n; i++) {
		if (i == 0)
			log_debug("namespace %s: no bulk endpoint, one put per "
				  "key",
				  r->cfg->name);
		rc = remote_put(r->api, items[i].key, items[i].key_len,
				items[i].value, items[i].size,
				items[i].metadata, items[i].expiration);
		if (rc)
			*failed = i;
		else
			rc = -ENOSYS;
	}
	if (rc == -ENOSYS)
		rc = 0;
	for (i = 0; i < n; i++)
		rs_exec_key(r, "DELETE FROM rc_fresh WHERE key = ?1",
			    items[i].key, items[i].key_len, 0);
	for (i = 0; i < n; i++)
		rs_drop(r, items[i].key, items[i].key_len);
	sqlite3_exec(r->db, "DELETE FROM rc_listed", NULL, NULL, NULL);
	free(body);
	json_decref(a);
	return rc;
}

static int rs_put_many(struct rs_ns *r, const struct store_item *items,
		       size_t n, size_t *failed)
{
	size_t at, k;
	int rc = 0;

	*failed = n;
	for (at = 0; at < n && rc == 0; at += k) {
		k = n - at < REMOTE_BULK_MAX ? n - at : REMOTE_BULK_MAX;
		rc = rs_bulk(r, items + at, k, failed);
		if (rc)
			*failed = *failed < k ? *failed + at : n;
	}
	return rc;
}

/* --- routing ------------------------------------------------------ */

#define RS_LOCK(r)   pthread_mutex_lock(&(r)->lock)
#define RS_UNLOCK(r) pthread_mutex_unlock(&(r)->lock)

static void rs_close(struct store *st)
{
	struct rs_store *s = rs_of(st);
	int i;

	for (i = 0; i < s->ns_count; i++) {
		struct rs_ns *r = &s->ns[i];

		if (r->db)
			sqlite3_close(r->db);
		if (r->cache)
			r->cache->ops->close(r->cache);
		remote_close(r->api);
		pthread_mutex_destroy(&r->lock);
	}
	free(s->ns);
	if (s->local)
		s->local->ops->close(s->local);
	free(s);
}

static struct rs_ns *rs_by_name(struct rs_store *s, const char *name)
{
	int i;

	for (i = 0; i < s->ns_count; i++)
		if (!strcmp(s->ns[i].cfg->name, name))
			return &s->ns[i];
	return NULL;
}

/* Namespaces gathered for rs_ns_list(). */
struct rs_names {
	struct rs_store *s;
	struct rs_name {
		int64_t id;
		char *name;
	} * v;
	size_t n;
};

static int rs_names_add(void *ctx, int64_t ns, const char *name)
{
	struct rs_names *l = ctx;
	struct rs_name *v;

	if (ns < STORE_REMOTE_ID0 && rs_by_name(l->s, name))
		return 0; /* hidden by the remote namespace of that name */
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	v[l->n].id = ns;
	v[l->n].name = strdup(name);
	if (!v[l->n].name)
		return -ENOMEM;
	l->n++;
	return 0;
}

static int rs_names_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rs_name *)a)->name,
		      ((const struct rs_name *)b)->name);
}

/* Every namespace, local and remote, in byte order of the names. */
static int rs_ns_list(struct store *st, store_ns_fn fn, void *ctx)
{
	struct rs_store *s = rs_of(st);
	struct rs_names l = {.s = s};
	size_t i;
	int rc;

	rc = s->local->ops->ns_list(s->local, rs_names_add, &l);
	for (i = 0; i < (size_t)s->ns_count && rc == 0; i++)
		rc = rs_names_add(&l, s->ns[i].id, s->ns[i].cfg->name);
	if (rc == 0 && l.n)
		qsort(l.v, l.n, sizeof(*l.v), rs_names_cmp);
	for (i = 0; i < l.n && rc == 0; i++)
		rc = fn(ctx, l.v[i].id, l.v[i].name);
	for (i = 0; i < l.n; i++)
		free(l.v[i].name);
	free(l.v);
	return rc;
}

static int rs_ns_find(struct store *st, const char *name, int64_t *ns)
{
	struct rs_ns *r = rs_by_name(rs_of(st), name);

	if (r) {
		*ns = r->id;
		return 0;
	}
	return rs_of(st)->local->ops->ns_find(rs_of(st)->local, name, ns);
}

static int rs_ns_create(struct store *st, const char *name, int64_t *ns)
{
	struct rs_ns *r = rs_by_name(rs_of(st), name);

	if (r) {
		*ns = r->id;
		return -EEXIST;
	}
	return rs_of(st)->local->ops->ns_create(rs_of(st)->local, name, ns);
}

static int rs_ns_remove(struct store *st, const char *name)
{
	if (rs_by_name(rs_of(st), name))
		return -EPERM;
	return rs_of(st)->local->ops->ns_remove(rs_of(st)->local, name);
}

#define LOCAL(st) (rs_of(st)->local)

static int rs_op_stat(struct store *st, int64_t ns, const char *key, size_t len,
		      enum store_kind kind, struct store_attr *attr)
{
	struct rs_ns *r = rs_find(st, ns);
	struct store_attr scratch;
	int rc;

	if (!r)
		return LOCAL(st)->ops->stat(LOCAL(st), ns, key, len, kind,
					    attr);
	RS_LOCK(r);
	rc = rs_stat(r, key, len, kind, attr ? attr : &scratch);
	RS_UNLOCK(r);
	return rc;
}

static int rs_op_get(struct store *st, int64_t ns, const char *key, size_t len,
		     store_sink_fn fn, void *ctx, struct store_attr *attr)
{
	struct rs_ns *r = rs_find(st, ns);
	int rc;

	if (!r)
		return LOCAL(st)->ops->get(LOCAL(st), ns, key, len, fn, ctx,
					   attr);
	RS_LOCK(r);
	rc = rs_ensure(r, key, len, false);
	if (rc == 0)
		rc = r->cache->ops->get(r->cache, r->cns, key, len, fn, ctx,
					attr);
	if (rc == 0)
		rs_touch(r, key, len);
	rs_evict(r, key, len);
	RS_UNLOCK(r);
	return rc;
}

static int rs_op_peek(struct store *st, int64_t ns, const char *key, size_t len,
		      uint64_t max_size, store_sink_fn fn, void *ctx,
		      struct store_attr *attr)
{
	struct rs_ns *r = rs_find(st, ns);
	int rc;

	if (!r)
		return LOCAL(st)->ops->peek(LOCAL(st), ns, key, len, max_size,
					    fn, ctx, attr);
	RS_LOCK(r);
	rc = rs_ensure(r, key, len, false);
	if (rc == 0)
		rc = r->cache->ops->peek(r->cache, r->cns, key, len, max_size,
					 fn, ctx, attr);
	if (rc == 0)
		rs_touch(r, key, len);
	rs_evict(r, key, len);
	RS_UNLOCK(r);
	return rc;
}

static int rs_op_put(struct store *st, int64_t ns, const char *key, size_t len,
		     const struct store_put *put, struct store_attr *out)
{
	struct rs_ns *r = rs_find(st, ns);
	int rc;

	if (!r)
		return LOCAL(st)->ops->put(LOCAL(st), ns, key, len, put, out);
	RS_LOCK(r);
	rc = rs_put(r, key, len, put, out);
	RS_UNLOCK(r);
	return rc;
}

/* Directories made with mkdir are this mount's own (Workers KV has none). */
static int rs_op_mkdir(struct store *st, int64_t ns, const char *prefix,
		       size_t len, const struct store_attr *attr)
{
	struct rs_ns *r = rs_find(st, ns);

	if (!r)
		return LOCAL(st)->ops->mkdir(LOCAL(st), ns, prefix, len, attr);
	return r->cache->ops->mkdir(r->cache, r->cns, prefix, len, attr);
}

static int rs_op_remove(struct store *st, int64_t ns, const char *key,
			size_t len, enum store_kind kind)
{
	struct rs_ns *r = rs_find(st, ns);
	int rc;

	if (!r)
		return LOCAL(st)->ops->remove(LOCAL(st), ns, key, len, kind);
	RS_LOCK(r);
	rc = rs_remove(r, key, len, kind);
	RS_UNLOCK(r);
	return rc;
}

/* Mode, owner and times of remote keys live in this mount's cache only. */
static int rs_op_setattr(struct store *st, int64_t ns, const char *key,
			 size_t len, enum store_kind kind, int mask,
			 const struct store_attr *attr)
{
	struct rs_ns *r = rs_find(st, ns);
	int rc = 0;

	if (!r)
		return LOCAL(st)->ops->setattr(LOCAL(st), ns, key, len, kind,
					       mask, attr);
	RS_LOCK(r);
	if (kind == STORE_KEY)
		rc = rs_ensure(r, key, len, false);
	if (rc == 0)
		rc = r->cache->ops->setattr(r->cache, r->cns, key, len, kind,
					    mask, attr);
	RS_UNLOCK(r);
	return rc;
}

static int rs_op_list(struct store *st, int64_t ns, const char *lo,
		      size_t lo_len, const char *hi, size_t hi_len, int limit,
		      store_row_fn fn, void *ctx)
{
	struct rs_ns *r = rs_find(st, ns);
	char prefix[STORE_KEY_MAX + 8];
	size_t plen;
	int rc;

	if (!r)
		return LOCAL(st)->ops->list(LOCAL(st), ns, lo, lo_len, hi,
					    hi_len, limit, fn, ctx);
	if (hi_len > STORE_KEY_MAX + 1)
		return -EINVAL;
	plen = rs_range_prefix(lo, lo_len, hi, hi_len, prefix);
	/*
	 * A listing from its start (a new ls) asks the API again; the
	 * following pages of it come from what that fetched.
	 */
	RS_LOCK(r);
	rc = rs_ensure_listing(r, prefix, plen, lo_len == plen);
	RS_UNLOCK(r);
	if (rc == 0)
		rc = r->cache->ops->list(r->cache, r->cns, lo, lo_len, hi,
					 hi_len, limit, fn, ctx);
	return rc;
}

static int rs_op_any(struct store *st, int64_t ns, const char *lo,
		     size_t lo_len, const char *hi, size_t hi_len)
{
	struct rs_ns *r = rs_find(st, ns);
	char prefix[STORE_KEY_MAX + 8];
	size_t plen;
	int rc;

	if (!r)
		return LOCAL(st)->ops->any(LOCAL(st), ns, lo, lo_len, hi,
					   hi_len);
	if (hi_len > STORE_KEY_MAX + 1)
		return -EINVAL;
	plen = rs_range_prefix(lo, lo_len, hi, hi_len, prefix);
	RS_LOCK(r);
	rc = rs_ensure_listing(r, prefix, plen, false);
	RS_UNLOCK(r);
	if (rc == 0)
		rc = r->cache->ops->any(r->cache, r->cns, lo, lo_len, hi,
					hi_len);
	return rc;
}

/* A local namespace's in one query; a remote one's as any() then stat(). */
static int rs_op_lookup(struct store *st, int64_t ns, const char *key,
			size_t key_len, struct store_attr *attr, bool *is_dir)
{
	char lo[STORE_KEY_MAX + 2], hi[STORE_KEY_MAX + 2];
	int rc = 0;

	if (!rs_find(st, ns))
		return LOCAL(st)->ops->lookup(LOCAL(st), ns, key, key_len, attr,
					      is_dir);
	*is_dir = false;
	if (store_children_range(key, key_len, lo, hi))
		rc = rs_op_any(st, ns, lo, key_len + 1, hi, key_len + 1);
	if (rc < 0)
		return rc;
	*is_dir = rc == 1;
	return *is_dir ? 0 : rs_op_stat(st, ns, key, key_len, STORE_KEY, attr);
}

/* Workers KV has no rename: mv copies and deletes (see fs.c). */
static int rs_op_rename(struct store *st, int64_t from_ns, const char *from,
			size_t from_len, int64_t to_ns, const char *to,
			size_t to_len, enum store_kind kind, bool noreplace)
{
	if (rs_find(st, from_ns) || rs_find(st, to_ns))
		return -EXDEV;
	return LOCAL(st)->ops->rename(LOCAL(st), from_ns, from, from_len, to_ns,
				      to, to_len, kind, noreplace);
}

static int rs_op_usage(struct store *st, struct store_usage *usage)
{
	return LOCAL(st)->ops->usage(LOCAL(st), usage);
}

/* What this mount's cache holds of a remote namespace. */
static int rs_op_ns_usage(struct store *st, int64_t ns,
			  struct store_usage *usage)
{
	struct rs_ns *r = rs_find(st, ns);

	if (!r)
		return LOCAL(st)->ops->ns_usage(LOCAL(st), ns, usage);
	return r->cache->ops->ns_usage(r->cache, r->cns, usage);
}

static int rs_op_meta_get(struct store *st, int64_t ns, const char *key,
			  size_t len, void *buf, size_t size, size_t *out)
{
	struct rs_ns *r = rs_find(st, ns);
	int rc;

	if (!r)
		return LOCAL(st)->ops->meta_get(LOCAL(st), ns, key, len, buf,
						size, out);
	RS_LOCK(r);
	rc = rs_ensure(r, key, len, false);
	if (rc == 0)
		rc = r->cache->ops->meta_get(r->cache, r->cns, key, len, buf,
					     size, out);
	RS_UNLOCK(r);
	return rc;
}

static int rs_op_meta_set(struct store *st, int64_t ns, const char *key,
			  size_t len, const char *json, size_t json_len)
{
	struct rs_ns *r = rs_find(st, ns);
	int rc;

	if (!r)
		return LOCAL(st)->ops->meta_set(LOCAL(st), ns, key, len, json,
						json_len);
	RS_LOCK(r);
	rc = rs_meta_set(r, key, len, json, json_len);
	RS_UNLOCK(r);
	return rc;
}

static int rs_op_expire(struct store *st, int64_t ns, const char *key,
			size_t len, int64_t expiration)
{
	struct rs_ns *r = rs_find(st, ns);
	int rc;

	if (!r)
		return LOCAL(st)->ops->expire(LOCAL(st), ns, key, len,
					      expiration);
	RS_LOCK(r);
	rc = rs_expire(r, key, len, expiration);
	RS_UNLOCK(r);
	return rc;
}

/*
 * Other extended attributes: Workers KV keys have none (ENOTSUP to set
 * one); directories, which are this mount's own, keep them locally.
 */
static int rs_op_xattr_get(struct store *st, int64_t ns, const char *key,
			   size_t len, enum store_kind kind, const char *name,
			   void *buf, size_t size, size_t *out)
{
	struct rs_ns *r = rs_find(st, ns);

	if (!r)
		return LOCAL(st)->ops->xattr_get(LOCAL(st), ns, key, len, kind,
						 name, buf, size, out);
	if (kind == STORE_KEY)
		return -ENODATA;
	return r->cache->ops->xattr_get(r->cache, r->cns, key, len, kind, name,
					buf, size, out);
}

static int rs_op_xattr_set(struct store *st, int64_t ns, const char *key,
			   size_t len, enum store_kind kind, const char *name,
			   const void *value, size_t size, int flags)
{
	struct rs_ns *r = rs_find(st, ns);

	if (!r)
		return LOCAL(st)->ops->xattr_set(LOCAL(st), ns, key, len, kind,
						 name, value, size, flags);
	if (kind == STORE_KEY)
		return -ENOTSUP;
	return r->cache->ops->xattr_set(r->cache, r->cns, key, len, kind, name,
					value, size, flags);
}

static int rs_op_xattr_list(struct store *st, int64_t ns, const char *key,
			    size_t len, enum store_kind kind, store_ns_fn fn,
			    void *ctx)
{
	struct rs_ns *r = rs_find(st, ns);

	if (!r)
		return LOCAL(st)->ops->xattr_list(LOCAL(st), ns, key, len, kind,
						  fn, ctx);
	if (kind == STORE_KEY)
		return 0;
	return r->cache->ops->xattr_list(r->cache, r->cns, key, len, kind, fn,
					 ctx);
}

static int rs_op_xattr_remove(struct store *st, int64_t ns, const char *key,
			      size_t len, enum store_kind kind,
			      const char *name)
{
	struct rs_ns *r = rs_find(st, ns);

	if (!r)
		return LOCAL(st)->ops->xattr_remove(LOCAL(st), ns, key, len,
						    kind, name);
	if (kind == STORE_KEY)
		return -ENODATA;
	return r->cache->ops->xattr_remove(r->cache, r->cns, key, len, kind,
					   name);
}

static int rs_op_put_many(struct store *st, int64_t ns,
			  const struct store_item *items, size_t n,
			  size_t *failed)
{
	struct rs_ns *r = rs_find(st, ns);
	int rc;

	if (!r)
		return LOCAL(st)->ops->put_many(LOCAL(st), ns, items, n,
						failed);
	RS_LOCK(r);
	rc = rs_put_many(r, items, n, failed);
	RS_UNLOCK(r);
	return rc;
}

static int rs_op_json_compact(struct store *st, const char *json, size_t len,
			      char **out, size_t *out_len)
{
	return LOCAL(st)->ops->json_compact(LOCAL(st), json, len, out, out_len);
}

static int rs_op_sweep(struct store *st, int limit, int *removed)
{
	return LOCAL(st)->ops->sweep(LOCAL(st), limit, removed);
}

/* Remote values are never files of their own: get() them. */
static int rs_op_open_value(struct store *st, int64_t ns, const char *key,
			    size_t len, int *fd, struct store_attr *attr)
{
	*fd = -1;
	if (rs_find(st, ns))
		return 0;
	return LOCAL(st)->ops->open_value(LOCAL(st), ns, key, len, fd, attr);
}

static int rs_op_caps(struct store *st, int64_t ns)
{
	if (rs_find(st, ns))
		return 0;
	return LOCAL(st)->ops->caps(LOCAL(st), ns);
}

static const struct store_ops rs_ops = {
    .close = rs_close,
    .ns_list = rs_ns_list,
    .ns_find = rs_ns_find,
    .ns_create = rs_ns_create,
    .ns_remove = rs_ns_remove,
    .stat = rs_op_stat,
    .get = rs_op_get,
    .peek = rs_op_peek,
    .put = rs_op_put,
    .mkdir = rs_op_mkdir,
    .remove = rs_op_remove,
    .setattr = rs_op_setattr,
    .list = rs_op_list,
    .any = rs_op_any,
    .lookup = rs_op_lookup,
    .rename = rs_op_rename,
    .usage = rs_op_usage,
    .ns_usage = rs_op_ns_usage,
    .meta_get = rs_op_meta_get,
    .meta_set = rs_op_meta_set,
    .expire = rs_op_expire,
    .xattr_get = rs_op_xattr_get,
    .xattr_set = rs_op_xattr_set,
    .xattr_list = rs_op_xattr_list,
    .xattr_remove = rs_op_xattr_remove,
    .put_many = rs_op_put_many,
    .json_compact = rs_op_json_compact,
    .sweep = rs_op_sweep,
    .caps = rs_op_caps,
    .open_value = rs_op_open_value,
};

/* --- opening ------------------------------------------------------ */

/* Drop what a previous run left pending (created, never put). */
static int rs_drop_pending(struct rs_ns *r)
{
	sqlite3_stmt *st = rs_prepare(r, "SELECT key FROM rc_fresh"
					 " WHERE is_pending");
	int rc;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		rs_drop(r, sqlite3_column_blob(st, 0) ?: "",
			(size_t)sqlite3_column_bytes(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return rs_db_errno(r, rc);
	return sqlite3_exec(r->db, "DELETE FROM rc_fresh WHERE is_pending",
			    NULL, NULL, NULL) == SQLITE_OK
		   ? 0
		   : rs_db_errno(r, SQLITE_ERROR);
}

static int rs_ns_open(const struct config *cfg, const struct config_ns *c,
		      struct rs_ns *r, char *err, size_t err_size)
{
	int rc;

	r->cfg = c;
	r->ttl_ns = (int64_t)c->remote.cache_ttl_sec * 1000000000;
	r->max_bytes = (uint64_t)c->remote.cache_max_mb * 1024 * 1024;
	pthread_mutex_init(&r->lock, NULL);
	rc = remote_open(c, &r->api);
	if (rc) {
		snprintf(err, err_size, "namespace %s: %s", c->name,
			 strerror(-rc));
		return rc;
	}
	rc = store_sqlite_open(c->remote.cache_path, cfg->busy_timeout_ms,
			       false, &r->cache, err, err_size);
	if (rc)
		return rc;
	rc = r->cache->ops->ns_find(r->cache, "cache", &r->cns);
	if (rc == -ENOENT)
		rc = r->cache->ops->ns_create(r->cache, "cache", &r->cns);
	if (rc == 0 &&
	    sqlite3_open_v2(c->remote.cache_path, &r->db, SQLITE_OPEN_READWRITE,
			    NULL) != SQLITE_OK)
		rc = -EIO;
	if (rc == 0) {
		sqlite3_busy_timeout(r->db, cfg->busy_timeout_ms);
		if (sqlite3_exec(r->db, rs_schema_sql, NULL, NULL, NULL))
			rc = -EIO;
	}
	if (rc == 0)
		rc = rs_drop_pending(r);
	if (rc)
		snprintf(err, err_size, "%s: cannot open the cache: %s",
			 c->remote.cache_path,
			 r->db ? sqlite3_errmsg(r->db) : strerror(-rc));
	return rc;
}

int store_open(const struct config *cfg, struct store **out, char *err,
	       size_t err_size)
{
	struct rs_store *s;
	int i, n = 0, rc;

	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_size, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	s->base.ops = &rs_ops;
	rc = store_sqlite_open(cfg->store_path, cfg->busy_timeout_ms,
			       cfg->is_sync_full, &s->local, err, err_size);
	if (rc)
		goto fail;
	s->base.spill_dir = s->local->spill_dir;
	for (i = 0; i < cfg->ns_count; i++)
		n += cfg->ns[i].backend == CONFIG_BACKEND_CLOUDFLARE;
	if (n) {
		rc = remote_global_init();
		s->ns = calloc((size_t)n, sizeof(*s->ns));
		if (!s->ns)
			rc = -ENOMEM;
		if (rc) {
			snprintf(err, err_size, "%s", strerror(-rc));
			goto fail;
		}
	}
	for (i = 0; i < cfg->ns_count; i++) {
		if (cfg->ns[i].backend != CONFIG_BACKEND_CLOUDFLARE)
			continue;
		s->ns[s->ns_count].id = STORE_REMOTE_ID0 + s->ns_count;
		rc = rs_ns_open(cfg, &cfg->ns[i], &s->ns[s->ns_count++], err,
				err_size);
		if (rc)
			goto fail;
	}
	*out = &s->base;
	return 0;
fail:
	rs_close(&s->base);
	return rc;
}
