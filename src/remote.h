/*
 * remote: the Workers KV REST API (Cloudflare API v4, "Workers KV
 * Namespace") of one namespace, over libcurl.  The only file that
 * includes curl.h.  It knows URLs, requests, retries and JSON shapes;
 * it keeps no state about keys (the edge cache is store_remote.c's).
 *
 * Requests go to BASE/accounts/ACCOUNT/storage/kv/namespaces/ID/...,
 * except when BASE ends in "/cdn-cgi/explorer/api": Miniflare's local
 * explorer serves the same API without the accounts/ACCOUNT part.
 *
 * Errors, as everywhere in kvfs, are negative errno values: -ENOENT for
 * a missing key (404 on a value), -EACCES for 401 and 403 (logged with
 * the namespace's name), -EFBIG for 413, -EINVAL for another 4xx the
 * API refused, -ENOSYS for an endpoint the server does not have (404 on
 * a bulk endpoint: Miniflare), -EIO when the server could not be reached
 * or kept failing (connection errors, timeouts, 429 and 5xx are retried
 * with exponential backoff, honouring Retry-After, for at most
 * retry_max_sec seconds in all).
 *
 * Threads: a struct remote may be used by one thread at a time; the
 * caller serialises (store_remote.c holds a lock per namespace).  The
 * API token is never logged.
 */
#ifndef KVFS_REMOTE_H
#define KVFS_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

#define REMOTE_LIST_LIMIT 1000	/* keys per list page, the API's maximum */
#define REMOTE_BULK_MAX	  10000 /* pairs per bulk request */

struct remote;

/* A growing byte buffer; free data with free(). */
struct remote_buf {
	char *data;
	size_t len;
	size_t cap;
};

/* One key of a list page; strings valid during the callback only. */
struct remote_key {
	const char *name;
	size_t name_len;
	int64_t expiration;   /* seconds since the epoch, 0: never */
	const char *metadata; /* compact JSON, NULL: none */
};

/* Return 0 to go on, a negative errno to stop with it. */
typedef int (*remote_key_fn)(void *ctx, const struct remote_key *k);

/* Call once before any thread starts (curl_global_init). */
int remote_global_init(void);

/*
 * A client for namespace ns (backend = cloudflare).  name is the
 * directory name, for log lines.  Returns 0 or -ENOMEM.
 */
int remote_open(const struct config_ns *ns, struct remote **out);
void remote_close(struct remote *r);

/* The value of key into *value (reset first). */
int remote_get(struct remote *r, const char *key, size_t key_len,
	       struct remote_buf *value);
/*
 * Put value with metadata (compact JSON or NULL) and expiration
 * (seconds since the epoch, 0: never): the API replaces all three.
 */
int remote_put(struct remote *r, const char *key, size_t key_len,
	       const void *value, size_t size, const char *metadata,
	       int64_t expiration);
/* Delete key; deleting a missing key succeeds, as in the API. */
int remote_delete(struct remote *r, const char *key, size_t key_len);
/*
 * One page of keys starting with prefix: calls fn per key, then sets
 * *cursor to the next page's cursor (malloc'ed) or NULL at the end.
 * cursor_in NULL: the first page.  A page may be empty and still not
 * the last.
 */
int remote_list(struct remote *r, const char *prefix, size_t prefix_len,
		const char *cursor_in, int limit, remote_key_fn fn, void *ctx,
		char **cursor);
/*
 * PUT .../bulk with body, a JSON array of {key, value, base64?,
 * expiration?, metadata?} (at most REMOTE_BULK_MAX); -ENOSYS if the
 * server has no such endpoint.
 */
int remote_bulk_put(struct remote *r, const char *body, size_t len);
/* POST .../bulk/delete with a JSON array of keys; -ENOSYS likewise. */
int remote_bulk_delete(struct remote *r, const char *body, size_t len);

/* --- pure helpers, exported for the unit tests --------------------- */

/*
 * Percent-encode key[0..len) for a URL path or query: every byte but
 * A-Z a-z 0-9 - . _ ~ becomes %XX (so '/', '%', '?', ' ' and non-ASCII
 * round-trip).  out needs 3 * len + 1 bytes; returns the length.
 */
size_t remote_escape(const char *key, size_t len, char *out);

/*
 * Seconds to wait from a Retry-After header value: delta-seconds or an
 * HTTP-date (compared with now).  Returns 0 and *sec (never negative),
 * or -EINVAL for anything else.
 */
int remote_retry_after(const char *value, time_t now, long *sec);

/*
 * Parse one list answer body[0..len): calls fn per key of "result",
 * sets *cursor from result_info.cursor (NULL when empty or missing, the
 * end).  -EIO if the body is not such an answer or success is false.
 */
int remote_parse_list(const char *body, size_t len, remote_key_fn fn, void *ctx,
		      char **cursor);

#endif
