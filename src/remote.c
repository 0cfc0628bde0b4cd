/*
 * remote: requests to the Workers KV REST API with libcurl, one easy
 * handle per namespace (so connections and TLS sessions are reused),
 * retries with backoff, and the JSON of list answers with jansson.
 * It never logs the token, a value or a URL (URLs hold keys: keys are
 * logged through log_key()).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "log.h"
#include "remote.h"
#include "store.h"

#define REMOTE_CONNECT_MS 5000
#define REMOTE_ATTEMPT_MIN_MS                                                  \
	10000 /* an attempt may always take this long,                         \
		 whatever is left of the retry budget */
#define REMOTE_BACKOFF_FIRST_MS 250
#define REMOTE_BACKOFF_MAX_MS	8000
#define REMOTE_BODY_MAX                                                        \
	(STORE_VALUE_MAX + 4 * 1024 * 1024) /* bytes of an answer */
#define REMOTE_EXPLORER "/cdn-cgi/explorer/api"

struct remote {
	CURL *curl;
	char *root; /* .../storage/kv/namespaces/ID, no trailing '/' */
	char *auth; /* "Authorization: Bearer TOKEN": secret */
	char *name; /* the namespace's directory name, for logs */
	int retry_max_ms;
	long retry_after_sec; /* from the last answer, -1: none */
};

/* One request, as remote_send() performs it. */
struct remote_req {
	const char *method;
	const char *url;
	const void *body; /* NULL: none */
	size_t body_len;
	const char *content_type;
	curl_mime *mime; /* instead of body */
	struct remote_buf *answer;
	const char *what; /* for log lines: "get", "put", ... */
	const char *key;  /* for log lines, or NULL */
	size_t key_len;
};

int remote_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) ? -EIO : 0;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n >= m && !strcmp(s + n - m, tail);
}

int remote_open(const struct config_ns *ns, struct remote **out)
{
	const struct config_remote *c = &ns->remote;
	struct remote *r = calloc(1, sizeof(*r));
	int n;

	if (!r)
		return -ENOMEM;
	r->curl = curl_easy_init();
	r->name = strdup(ns->name);
	if (ends_with(c->api_base, REMOTE_EXPLORER))
		n = asprintf(&r->root, "%s/storage/kv/namespaces/%s",
			     c->api_base, ns->id);
	else
		n = asprintf(&r->root,
			     "%s/accounts/%s/storage/kv/namespaces/%s",
			     c->api_base, c->account_id, ns->id);
	if (n < 0)
		r->root = NULL;
	if (asprintf(&r->auth, "Authorization: Bearer %s", c->api_token) < 0)
		r->auth = NULL;
	r->retry_max_ms = c->retry_max_sec * 1000;
	if (!r->curl || !r->name || !r->root || !r->auth) {
		remote_close(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

void remote_close(struct remote *r)
{
	if (!r)
		return;
	if (r->curl)
		curl_easy_cleanup(r->curl);
	if (r->auth)
		explicit_bzero(r->auth, strlen(r->auth));
	free(r->auth);
	free(r->root);
	free(r->name);
	free(r);
}

/* --- pure helpers ------------------------------------------------- */

size_t remote_escape(const char *key, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)key[i];

		if (isalnum(c) && c < 0x80)
			out[o++] = (char)c;
		else if (c == '-' || c == '.' || c == '_' || c == '~')
			out[o++] = (char)c;
		else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return o;
}

int remote_retry_after(const char *value, time_t now, long *sec)
{
	const char *s = value;
	long n = 0;
	time_t t;

	while (*s == ' ' || *s == '\t')
		s++;
	if (isdigit((unsigned char)*s)) {
		for (; isdigit((unsigned char)*s); s++) {
			if (n > 86400)
				return -EINVAL;
			n = n * 10 + (*s - '0');
		}
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (*s)
			return -EINVAL;
		*sec = n;
		return 0;
	}
	t = curl_getdate(s, NULL);
	if (t == -1)
		return -EINVAL;
	*sec = t > now ? (long)(t - now) : 0;
	return 0;
}

/* The compact JSON of j, malloc'ed, or NULL for null/absent. */
static char *json_compact(json_t *j, int *rc)
{
	char *s;

	*rc = 0;
	if (!j || json_is_null(j))
		return NULL;
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		*rc = -ENOMEM;
	return s;
}

static int parse_key(json_t *item, remote_key_fn fn, void *ctx)
{
	json_t *name = json_object_get(item, "name");
	json_t *exp = json_object_get(item, "expiration");
	struct remote_key k = {0};
	char *meta;
	int rc;

	if (!json_is_string(name))
		return -EIO;
	k.name = json_string_value(name);
	k.name_len = json_string_length(name);
	if (json_is_integer(exp))
		k.expiration = json_integer_value(exp);
	else if (json_is_real(exp))
		k.expiration = (int64_t)json_real_value(exp);
	meta = json_compact(json_object_get(item, "metadata"), &rc);
	if (rc)
		return rc;
	k.metadata = meta;
	rc = fn(ctx, &k);
	free(meta);
	return rc;
}

int remote_parse_list(const char *body, size_t len, remote_key_fn fn, void *ctx,
		      char **cursor)
{
	json_t *root, *result, *info, *cur;
	size_t i;
	int rc = 0;

	*cursor = NULL;
	root = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
	if (!root)
		return -EIO;
	result = json_object_get(root, "result");
	if (!json_is_true(json_object_get(root, "success")) ||
	    !json_is_array(result)) {
		rc = -EIO;
		goto free_root;
	}
	for (i = 0; i < json_array_size(result) && !rc; i++)
		rc = parse_key(json_array_get(result, i), fn, ctx);
	info = json_object_get(root, "result_info");
	cur = json_object_get(info, "cursor");
	if (!rc && json_is_string(cur) && json_string_length(cur)) {
		*cursor = strdup(json_string_value(cur));
		if (!*cursor)
			rc = -ENOMEM;
	}
free_root:
	json_decref(root);
	return rc;
}

/* --- requests ----------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct remote_buf *b = ctx;
	size_t len = size * n, cap;
	char *p;

	if (b->len + len > REMOTE_BODY_MAX)
		return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
	if (b->len + len + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return 0;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
	struct remote *r = ctx;
	size_t len = size * n;
	char line[128];
	long sec;

	if (len > 12 && len < sizeof(line) &&
	    !strncasecmp(data, "Retry-After:", 12)) {
		memcpy(line, data + 12, len - 12);
		line[len - 12] = '\0';
		if (remote_retry_after(line, time(NULL), &sec) == 0)
			r->retry_after_sec = sec;
	}
	return len;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One attempt; *status gets the HTTP status or 0. */
static CURLcode attempt(struct remote *r, const struct remote_req *q,
			long timeout_ms, long *status)
{
	struct curl_slist *hdrs = NULL, *h;
	char ctype[128];
	CURLcode cc;

	curl_easy_reset(r->curl);
	r->retry_after_sec = -1;
	if (q->answer)
		q->answer->len = 0;
	h = curl_slist_append(hdrs, r->auth);
	if (h)
		hdrs = h;
	if (q->content_type) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s",
			 q->content_type);
		h = curl_slist_append(hdrs, ctype);
		if (h)
			hdrs = h;
	}
	/* A 25 MiB put must not wait for "100 Continue". */
	h = curl_slist_append(hdrs, "Expect:");
	if (h)
		hdrs = h;
	curl_easy_setopt(r->curl, CURLOPT_URL, q->url);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(r->curl, CURLOPT_CUSTOMREQUEST, q->method);
	curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)REMOTE_CONNECT_MS);
	curl_easy_setopt(r->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, q->answer);
	curl_easy_setopt(r->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->curl, CURLOPT_HEADERDATA, r);
	if (q->mime)
		curl_easy_setopt(r->curl, CURLOPT_MIMEPOST, q->mime);
	else if (q->body) {
		curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)q->body_len);
		curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, q->body);
	}
	if (!strcmp(q->method, "GET"))
		curl_easy_setopt(r->curl, CURLOPT_HTTPGET, 1L);
	cc = curl_easy_perform(r->curl);
	*status = 0;
	if (cc == CURLE_OK)
		curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hdrs);
	return cc;
}

static bool is_transient(CURLcode cc, long status)
{
	if (cc == CURLE_OK)
		return status == 429 || status >= 500;
	/* Our own limits (an answer too large, no memory) are not. */
	return cc != CURLE_WRITE_ERROR && cc != CURLE_OUT_OF_MEMORY &&
	       cc != CURLE_URL_MALFORMAT && cc != CURLE_UNSUPPORTED_PROTOCOL;
}

static int status_errno(struct remote *r, const struct remote_req *q,
			CURLcode cc, long status)
{
	char shown[LOG_KEY_BUF] = "";

	if (q->key)
		log_key(shown, sizeof(shown), q->key, q->key_len);
	if (cc == CURLE_OK && status >= 200 && status < 300)
		return 0;
	if (cc == CURLE_OK && status == 404)
		return -ENOENT;
	if (cc == CURLE_OK && (status == 401 || status == 403)) {
		log_warn("namespace %s: %s %s: HTTP %ld: the API refused the "
			 "token (it needs Workers KV Storage: Edit)",
			 r->name, q->what, shown, status);
		return -EACCES;
	}
	if (cc == CURLE_OK && status == 413)
		return -EFBIG;
	if (cc == CURLE_WRITE_ERROR)
		return -EFBIG;
	if (cc != CURLE_OK)
		log_warn("namespace %s: %s %s: %s", r->name, q->what, shown,
			 curl_easy_strerror(cc));
	else
		log_warn("namespace %s: %s %s: HTTP %ld", r->name, q->what,
			 shown, status);
	if (cc == CURLE_OK && status == 405)
		return -ENOSYS;
	if (cc == CURLE_OK && status >= 400 && status < 500 && status != 429)
		return -EINVAL;
	return -EIO;
}

/*
 * Perform q, retrying connection failures, timeouts, 429 and 5xx with
 * exponential backoff (or the server's Retry-After) while the retry
 * budget lasts.  Returns 0 for a 2xx answer, else a negative errno.
 */
static int remote_send(struct remote *r, const struct remote_req *q)
{
	int64_t start = now_ms(), left, wait_ms;
	int64_t backoff = REMOTE_BACKOFF_FIRST_MS;
	long status;
	CURLcode cc;
	int tries = 0;

	for (;;) {
		left = r->retry_max_ms - (now_ms() - start);
		cc = attempt(r, q,
			     (long)(left > REMOTE_ATTEMPT_MIN_MS
					? left
					: REMOTE_ATTEMPT_MIN_MS),
			     &status);
		tries++;
		if (!is_transient(cc, status))
			break;
		wait_ms = r->retry_after_sec >= 0 ? r->retry_after_sec * 1000
						  : backoff;
		left = r->retry_max_ms - (now_ms() - start);
		if (wait_ms > left)
			break;
		log_debug("namespace %s: %s: %s, retry %d in %lld ms", r->name,
			  q->what, cc ? curl_easy_strerror(cc) : "server busy",
			  tries, (long long)wait_ms);
		struct timespec ts = {.tv_sec = wait_ms / 1000,
				      .tv_nsec = (wait_ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
		backoff = backoff * 2 > REMOTE_BACKOFF_MAX_MS
			      ? REMOTE_BACKOFF_MAX_MS
			      : backoff * 2;
	}
	if (log_max_level >= LOG_DEBUG) {
		char shown[LOG_KEY_BUF] = "";

		if (q->key)
			log_key(shown, sizeof(shown), q->key, q->key_len);
		log_debug("namespace %s: %s %s: %s %ld after %d tries", r->name,
			  q->what, shown, q->method, cc ? -1L : status, tries);
	}
	return status_errno(r, q, cc, status);
}

/* URL root/what/KEY?query into *url (malloc'ed). */
static int key_url(struct remote *r, const char *what, const char *key,
		   size_t key_len, const char *query, char **url)
{
	char *esc = malloc(3 * key_len + 1);
	int n;

	if (!esc)
		return -ENOMEM;
	remote_escape(key, key_len, esc);
	n = asprintf(url, "%s/%s/%s%s", r->root, what, esc, query ? query : "");
	free(esc);
	if (n < 0) {
		*url = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* A request without a body on one key's value; the answer into answer. */
static int value_req(struct remote *r, const char *method, const char *what,
		     const char *key, size_t key_len, struct remote_buf *answer)
{
	struct remote_req q = {.method = method,
			       .answer = answer,
			       .what = what,
			       .key = key,
			       .key_len = key_len};
	char *url;
	int rc;

	rc = key_url(r, "values", key, key_len, NULL, &url);
	if (rc)
		return rc;
	q.url = url;
	rc = remote_send(r, &q);
	free(url);
	return rc;
}

int remote_get(struct remote *r, const char *key, size_t key_len,
	       struct remote_buf *value)
{
	int rc;

	value->len = 0;
	rc = value_req(r, "GET", "get", key, key_len, value);
	if (rc == 0 && value->len > STORE_VALUE_MAX)
		rc = -EFBIG;
	return rc;
}

int remote_put(struct remote *r, const char *key, size_t key_len,
	       const void *value, size_t size, const char *metadata,
	       int64_t expiration)
{
	struct remote_buf answer = {0};
	struct remote_req q = {.method = "PUT",
			       .answer = &answer,
			       .what = "put",
			       .key = key,
			       .key_len = key_len};
	char query[48] = "", *url;
	curl_mimepart *part;
	int rc;

	if (expiration)
		snprintf(query, sizeof(query), "?expiration=%lld",
			 (long long)expiration);
	rc = key_url(r, "values", key, key_len, query, &url);
	if (rc)
		return rc;
	q.url = url;
	if (metadata) {
		q.mime = curl_mime_init(r->curl);
		part = q.mime ? curl_mime_addpart(q.mime) : NULL;
		if (part) {
			curl_mime_name(part, "value");
			curl_mime_data(part, size ? value : "", size);
			part = curl_mime_addpart(q.mime);
		}
		if (part) {
			curl_mime_name(part, "metadata");
			curl_mime_data(part, metadata, CURL_ZERO_TERMINATED);
		}
		rc = part ? 0 : -ENOMEM;
	} else {
		q.body = size ? value : "";
		q.body_len = size;
		q.content_type = "application/octet-stream";
	}
	if (rc == 0)
		rc = remote_send(r, &q);
	curl_mime_free(q.mime);
	free(url);
	free(answer.data);
	return rc;
}

int remote_delete(struct remote *r, const char *key, size_t key_len)
{
	struct remote_buf answer = {0};
	int rc = value_req(r, "DELETE", "delete", key, key_len, &answer);

	free(answer.data);
	return rc == -ENOENT ? 0 : rc;
}

int remote_list(struct remote *r, const char *prefix, size_t prefix_len,
		const char *cursor_in, int limit, remote_key_fn fn, void *ctx,
		char **cursor)
{
	struct remote_buf answer = {0};
	struct remote_req q = {.method = "GET",
			       .answer = &answer,
			       .what = "list",
			       .key = prefix,
			       .key_len = prefix_len};
	size_t clen = cursor_in ? strlen(cursor_in) : 0;
	char *esc = malloc(3 * (prefix_len + clen) + 2), *url;
	int rc;

	*cursor = NULL;
	if (!esc)
		return -ENOMEM;
	remote_escape(prefix, prefix_len, esc);
	remote_escape(cursor_in ? cursor_in : "", clen, esc + strlen(esc) + 1);
	rc = asprintf(&url, "%s/keys?limit=%d%s%s%s%s", r->root, limit,
		      prefix_len ? "&prefix=" : "", esc, clen ? "&cursor=" : "",
		      esc + strlen(esc) + 1);
	free(esc);
	if (rc < 0)
		return -ENOMEM;
	q.url = url;
	rc = remote_send(r, &q);
	free(url);
	if (rc == 0)
		rc = remote_parse_list(answer.data ? answer.data : "",
				       answer.len, fn, ctx, cursor);
	if (rc == -EIO && answer.len)
		log_warn("namespace %s: list: an answer that is not a list "
			 "of keys",
			 r->name);
	free(answer.data);
	return rc;
}

static int bulk(struct remote *r, const char *method, const char *what,
		const char *body, size_t len)
{
	struct remote_buf answer = {0};
	struct remote_req q = {.method = method,
			       .answer = &answer,
			       .what = what,
			       .body = body,
			       .body_len = len,
			       .content_type = "application/json"};
	char *url;
	int rc;

	if (asprintf(&url, "%s/%s", r->root,
		     strcmp(what, "bulk put") ? "bulk/delete" : "bulk") < 0)
		return -ENOMEM;
	q.url = url;
	rc = remote_send(r, &q);
	free(url);
	free(answer.data);
	/* A server without the endpoint (Miniflare) answers 404. */
	return rc == -ENOENT ? -ENOSYS : rc;
}

int remote_bulk_put(struct remote *r, const char *body, size_t len)
{
	return bulk(r, "PUT", "bulk put", body, len);
}

int remote_bulk_delete(struct remote *r, const char *body, size_t len)
{
	return bulk(r, "POST", "bulk delete", body, len);
}
