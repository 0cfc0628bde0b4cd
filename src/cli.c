/*
 * cli: get, put, delete, namespaces, list, import and export, with
 * Workers KV's semantics (a put replaces value, metadata and expiration
 * together) and its JSON shapes (wrangler kv bulk put for import and
 * export, the list result for list).  JSON through jansson.  Messages
 * name the key and the limit; values never reach stderr.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "name.h"
#include "store.h"

#define CLI_EXP_MAX  2147483647LL /* Workers KV's 32-bit field */
#define CLI_LIST_MAX 1000	  /* keys per list page */

struct cli {
	struct config cfg;
	struct store *st;
	const char *cmd;
	int argc; /* the command's words, argv[0] the command */
	char **argv;
	bool is_partial; /* something was left out of the output */
};

/*
 * A -c among the command's words is a key or a value only where the
 * usage line has room for it; elsewhere it was meant as the option.
 */
static void cli_misplaced_c(const struct cli *c)
{
	int i;

	for (i = 1; i < c->argc; i++)
		if (!strcmp(c->argv[i], "-c")) {
			fprintf(stderr,
				"kvfs: %s: -c goes before the command: "
				"kvfs -c CONFIG %s ...\n",
				c->cmd, c->cmd);
			return;
		}
}

/* What c's command was given does not fit its usage line. */
static int cli_usage(const struct cli *c)
{
	cli_misplaced_c(c);
	fprintf(stderr,
		"kvfs: %s: missing or unexpected arguments\n"
		"usage: kvfs [-c CONFIG] COMMAND ...\n"
		"  get NAMESPACE KEY [--metadata]\n"
		"  put NAMESPACE KEY [FILE|-] [--metadata JSON] "
		"[--expiration SECONDS] [--ttl SECONDS]\n"
		"  delete NAMESPACE KEY\n"
		"  namespaces\n"
		"  list NAMESPACE [--prefix P] [--limit N] [--cursor C]\n"
		"  list NAMESPACE --all --jsonl [--prefix P]\n"
		"  import NAMESPACE FILE\n"
		"  export NAMESPACE\n",
		c->cmd);
	return 2;
}

/* Print "kvfs: CMD: ..." with the key shown safely. */
static void cli_fail(struct cli *c, const char *key, size_t key_len,
		     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void cli_fail(struct cli *c, const char *key, size_t key_len,
		     const char *fmt, ...)
{
	char shown[LOG_KEY_BUF], msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (key)
		fprintf(stderr, "kvfs: %s '%s': %s\n", c->cmd,
			log_key(shown, sizeof(shown), key, key_len), msg);
	else
		fprintf(stderr, "kvfs: %s: %s\n", c->cmd, msg);
}

/* --- JSON out --------------------------------------------------------- */
/*
 * JSON is written here rather than by json_dumps, which writes a double
 * with 17 digits (0.1 as 0.10000000000000001, 1e2 as 100.0): metadata
 * would come out spelled otherwise than it went in, and longer, while
 * the 1024-byte limit is on the text.  A number is written as
 * JavaScript's JSON.stringify writes it, which is what Workers KV keeps
 * of metadata wrangler read from a file: the fewest digits that read
 * back as the same double, with an exponent from 1e21 up and below
 * 1e-6.  Strings are escaped as it does too.  Members stay in order,
 * where JavaScript moves those named like array indexes ("8") first.
 */
static void cli_json_zeros(FILE *f, int n)
{
	while (n-- > 0)
		fputc('0', f);
}

static void cli_json_real(FILE *f, double v)
{
	char buf[40], digits[20];
	const char *s = buf;
	int p, k = 0, n;

	if (!isfinite(v)) { /* JSON.stringify(Infinity) */
		fputs("null", f);
		return;
	}
	if (v == 0) { /* -0 too */
		fputc('0', f);
		return;
	}
	for (p = 1; p < 17; p++) {
		snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
	if (*s == '-')
		fputc(*s++, f);
	for (; *s != 'e'; s++)
		if (*s != '.')
			digits[k++] = *s;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	n = atoi(s + 1) + 1; /* digits[0] is the n-th before the point */
	if (k <= n && n <= 21) {
		fprintf(f, "%.*s", k, digits);
		cli_json_zeros(f, n - k);
	} else if (0 < n && n <= 21) {
		fprintf(f, "%.*s.%.*s", n, digits, k - n, digits + n);
	} else if (-6 < n && n <= 0) {
		fputs("0.", f);
		cli_json_zeros(f, -n);
		fprintf(f, "%.*s", k, digits);
	} else {
		fprintf(f, "%c%s%.*se%+d", digits[0], k > 1 ? "." : "", k - 1,
			digits + 1, n - 1);
	}
}

/* A string as JSON.stringify writes it (jansson's \u escapes are upper case).
 */
static void cli_json_string(FILE *f, const char *s, size_t len)
{
	static const char short_esc[] = "\bb\ff\nn\rr\tt\"\"\\\\";
	const char *e;
	size_t i;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		e = ch ? strchr(short_esc, ch) : NULL;
		if (e && (e - short_esc) % 2 == 0)
			fprintf(f, "\\%c", e[1]);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void cli_json_break(FILE *f, int indent, int depth)
{
	if (indent)
		fprintf(f, "\n%*s", indent * depth, "");
}

static void cli_json_write(FILE *f, json_t *j, int indent, int depth)
{
	const char *key;
	size_t key_len, i = 0;
	json_t *v;

	if (json_is_object(j) && json_object_size(j)) {
		fputc('{', f);
		json_object_keylen_foreach(j, key, key_len, v)
		{
			if (i++)
				fputc(',', f);
			cli_json_break(f, indent, depth + 1);
			cli_json_string(f, key, key_len);
			fputs(indent ? ": " : ":", f);
			cli_json_write(f, v, indent, depth + 1);
		}
		cli_json_break(f, indent, depth);
		fputc('}', f);
	} else if (json_is_array(j) && json_array_size(j)) {
		fputc('[', f);
		json_array_foreach(j, i, v)
		{
			if (i)
				fputc(',', f);
			cli_json_break(f, indent, depth + 1);
			cli_json_write(f, v, indent, depth + 1);
		}
		cli_json_break(f, indent, depth);
		fputc(']', f);
	} else if (json_is_real(j)) {
		cli_json_real(f, json_real_value(j));
	} else if (json_is_string(j)) {
		cli_json_string(f, json_string_value(j), json_string_length(j));
	} else if (json_is_integer(j)) {
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
	} else {
		fputs(json_is_true(j)	  ? "true"
		      : json_is_false(j)  ? "false"
		      : json_is_object(j) ? "{}"
		      : json_is_array(j)  ? "[]"
					  : "null",
		      f);
	}
}

/* Numbers in an import file are read as doubles, as JavaScript does. */
#define CLI_JSON_IN (JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL)

/* A whole number j (in int64_t's range) into *out, else false. */
static bool cli_json_whole(const json_t *j, int64_t *out)
{
	double v = json_number_value(j);

	if (json_is_integer(j)) {
		*out = json_integer_value(j);
		return true;
	}
	if (!json_is_real(j) || v != floor(v) || !(fabs(v) < 0x1p63))
		return false;
	*out = (int64_t)v;
	return true;
}

/*
 * Stored metadata (SQLite's json() checked it): integers exact where
 * they fit 64 bits, else read as doubles.  NULL for a number beyond the
 * doubles (1e400), which SQLite takes and jansson does not.
 */
static json_t *cli_json_stored(const char *text)
{
	size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
	json_t *j = json_loads(text, flags, NULL);

	return j ? j : json_loads(text, flags | JSON_DECODE_INT_AS_REAL, NULL);
}

/* j as JSON text (malloc'ed), compact or indented by indent spaces. */
static char *cli_json_text(json_t *j, int indent)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	cli_json_write(f, j, indent, 0);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Why a key is refused, in Workers KV's words, or NULL if it is valid. */
static const char *cli_key_problem(const char *key, size_t len, char *buf,
				   size_t size)
{
	switch (name_key_check(key, len)) {
	case 0:
		return NULL;
	case -ENAMETOOLONG:
		snprintf(buf, size,
			 "UTF-8 encoded length of %zu exceeds key length "
			 "limit of %d",
			 len, NAME_KEY_MAX);
		return buf;
	case -EILSEQ:
		return "key is not valid UTF-8";
	default:
		return len == 0 ? "key name cannot be empty"
				: "'.' and '..' are not allowed as key names";
	}
}

/*
 * Find the namespace.  One the config names but the store lacks is made
 * for a command that writes; for one that reads it is empty, and cli_ns
 * returns 1 without making it (a read leaves no namespace behind).
 * Else 0, or a negative errno with the message printed.
 */
static int cli_ns(struct cli *c, const char *name, int64_t *ns, bool is_read)
{
	int rc = c->st->ops->ns_find(c->st, name, ns);

	if (rc == -ENOENT && config_find_ns(&c->cfg, name)) {
		if (is_read)
			return 1;
		rc = c->st->ops->ns_create(c->st, name, ns);
	}
	if (rc == -ENOENT)
		cli_fail(c, NULL, 0, "no namespace '%s'", name);
	else if (rc)
		cli_fail(c, NULL, 0, "%s: %s", name, strerror(-rc));
	return rc;
}

/*
 * cli_ns for a command that changes the namespace: one the config makes
 * read_only refuses, as the mount does (EROFS).
 */
static int cli_ns_writable(struct cli *c, const char *name, int64_t *ns)
{
	const struct config_ns *cns = config_find_ns(&c->cfg, name);

	if (cns && cns->is_read_only) {
		cli_fail(c, NULL, 0,
			 "namespace '%s' is read-only (read_only = true in "
			 "the config)",
			 name);
		return -EROFS;
	}
	return cli_ns(c, name, ns, false);
}

/* True (and said) if key is one Workers KV refuses ("", ".", 513 bytes). */
static bool cli_key_refused(struct cli *c, const char *key)
{
	size_t len = strlen(key);
	char why[128];
	const char *problem = cli_key_problem(key, len, why, sizeof(why));

	if (problem)
		cli_fail(c, key, len, "%s", problem);
	return problem != NULL;
}

/*
 * A whole number in [min, max]; else a message naming the key (if not
 * NULL) and the limit, and -2 if text is not a number at all (bad usage,
 * exit status 2), -1 if it is out of range (a refused request, 1).
 */
static int64_t cli_number(struct cli *c, const char *key, const char *opt,
			  const char *text, int64_t min, int64_t max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (isspace((unsigned char)*text)) /* strtoll skips it; no one else */
		end = (char *)text;
	if (end == text || *end || errno || v < min || v > max) {
		cli_fail(c, key, key ? strlen(key) : 0,
			 "invalid %s '%s': expected a whole number from %lld "
			 "to %lld",
			 opt, text, (long long)min, (long long)max);
		return end == text || *end ? -2 : -1;
	}
	return v;
}

/*
 * True once a write to stdout failed and the command said so; else
 * cli_main() checks stdout at the end (most output is buffered until
 * then) and says what failed.
 */
static bool cli_out_said;

static int cli_write_all(const void *buf, size_t len)
{
	errno = 0;
	if (fwrite(buf, 1, len, stdout) == len)
		return 0;
	cli_out_said = true;
	return errno ? -errno : -EIO;
}

static int cli_sink_stdout(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	return cli_write_all(buf, len);
}

static int cli_get(struct cli *c, int argc, char **argv)
{
	bool want_meta = argc == 4 && !strcmp(argv[3], "--metadata");
	size_t key_len, len;
	char *meta;
	int64_t ns;
	int rc;

	if (argc != 3 && !want_meta)
		return cli_usage(c);
	if (cli_key_refused(c, argv[2]))
		return 1;
	rc = cli_ns(c, argv[1], &ns, true);
	if (rc < 0)
		return 1;
	key_len = strlen(argv[2]);
	if (rc == 1) {
		cli_fail(c, argv[2], key_len, "no such key in %s", argv[1]);
		return 1;
	}
	if (want_meta) {
		rc = c->st->ops->meta_get(c->st, ns, argv[2], key_len, NULL, 0,
					  &len);
		if (rc == -ENODATA) {
			puts("null");
			return 0;
		}
		meta = rc ? NULL : malloc(len + 1);
		if (meta)
			rc = c->st->ops->meta_get(c->st, ns, argv[2], key_len,
						  meta, len + 1, &len);
		if (meta && rc == 0)
			printf("%.*s\n", (int)len, meta);
		free(meta);
	} else {
		rc = c->st->ops->get(c->st, ns, argv[2], key_len,
				     cli_sink_stdout, NULL, NULL);
	}
	if (rc == -ENOENT)
		cli_fail(c, argv[2], key_len, "no such key in %s", argv[1]);
	else if (rc)
		cli_fail(c, argv[2], key_len, "%s", strerror(-rc));
	return rc ? 1 : 0;
}

/* Read a whole file (or stdin) of at most the value limit. */
static int cli_slurp(struct cli *c, const char *key, const char *path,
		     char **out, size_t *len)
{
	FILE *f = !path || !strcmp(path, "-") ? stdin : fopen(path, "rb");
	size_t cap = 65536, n;
	char *buf = malloc(cap), *b;

	*len = 0;
	if (!f || !buf) {
		cli_fail(c, NULL, 0, "%s: %s", path, strerror(errno));
		free(buf);
		return -1;
	}
	while ((n = fread(buf + *len, 1, cap - *len, f)) > 0) {
		*len += n;
		if (*len > STORE_VALUE_MAX)
			break;
		if (*len == cap) {
			cap *= 2;
			b = realloc(buf, cap);
			if (!b)
				break;
			buf = b;
		}
	}
	if (ferror(f) || *len > STORE_VALUE_MAX || *len == cap) {
		if (*len > STORE_VALUE_MAX)
			cli_fail(c, key, strlen(key),
				 "value length exceeds limit of %d",
				 STORE_VALUE_MAX);
		else
			cli_fail(c, NULL, 0, "%s: %s", path ? path : "stdin",
				 strerror(errno ? errno : ENOMEM));
		free(buf);
		if (f != stdin)
			fclose(f);
		return -1;
	}
	if (f != stdin)
		fclose(f);
	*out = buf;
	return 0;
}

static int cli_put(struct cli *c, int argc, char **argv)
{
	const char *file = NULL, *meta_text = NULL, *exp_text = NULL;
	const char *ttl_text = NULL;
	int64_t expiration = 0, ttl, now = time(NULL), ns;
	struct store_item item = {0};
	char *value = NULL, *compact = NULL;
	size_t failed, compact_len;
	int i, rc;

	if (argc < 3)
		return cli_usage(c);
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--metadata") && i + 1 < argc)
			meta_text = argv[++i];
		else if (!strcmp(argv[i], "--expiration") && i + 1 < argc)
			exp_text = argv[++i];
		else if (!strcmp(argv[i], "--ttl") && i + 1 < argc)
			ttl_text = argv[++i];
		else if (!file && (argv[i][0] != '-' || !argv[i][1]))
			file = argv[i];
		else
			return cli_usage(c);
	}
	item.key = argv[2];
	item.key_len = strlen(argv[2]);
	if (cli_key_refused(c, item.key))
		return 1;
	if (exp_text) { /* with both, the TTL wins: only a number asked */
		expiration = cli_number(c, item.key, "expiration", exp_text,
					ttl_text ? 0 : now + 60,
					ttl_text ? INT64_MAX : CLI_EXP_MAX);
		if (expiration < 0)
			return expiration == -2 ? 2 : 1;
	}
	if (ttl_text) {
		ttl = cli_number(c, item.key, "ttl", ttl_text, 60,
				 CLI_EXP_MAX - now);
		if (ttl < 0)
			return ttl == -2 ? 2 : 1;
		expiration = now + ttl; /* the TTL wins, as in Workers KV */
	}
	if (meta_text) {
		/* Compacted as the mount does, numbers kept as written. */
		rc = c->st->ops->json_compact(c->st, meta_text,
					      strlen(meta_text), &compact,
					      &compact_len);
		if (rc) {
			cli_fail(c, item.key, item.key_len,
				 "metadata is not JSON");
			return 1;
		}
		if (compact_len > STORE_META_MAX) {
			cli_fail(c, item.key, item.key_len,
				 "metadata length of %zu exceeds limit of %d",
				 compact_len, STORE_META_MAX);
			free(compact);
			return 1;
		}
	}
	if (cli_ns_writable(c, argv[1], &ns) ||
	    cli_slurp(c, item.key, file, &value, &item.size)) {
		free(compact);
		return 1;
	}
	item.value = value;
	item.metadata = compact;
	item.expiration = expiration;
	rc = c->st->ops->put_many(c->st, ns, &item, 1, &failed);
	if (rc)
		cli_fail(c, item.key, item.key_len, "%s", strerror(-rc));
	free(value);
	free(compact);
	return rc ? 1 : 0;
}

static int cli_delete(struct cli *c, int argc, char **argv)
{
	int64_t ns;
	int rc;

	if (argc != 3)
		return cli_usage(c);
	if (cli_key_refused(c, argv[2]) || cli_ns_writable(c, argv[1], &ns))
		return 1;
	rc = c->st->ops->remove(c->st, ns, argv[2], strlen(argv[2]), STORE_KEY);
	if (rc == -ENOENT)
		rc = 0; /* deleting a missing key succeeds, as in Workers KV */
	if (rc)
		cli_fail(c, argv[2], strlen(argv[2]), "%s", strerror(-rc));
	return rc ? 1 : 0;
}

static int cli_print_ns(void *ctx, int64_t ns, const char *name)
{
	(void)ctx;
	(void)ns;
	printf("%s\n", name);
	return 0;
}

static int cli_namespaces(struct cli *c, int argc, char **argv)
{
	int64_t ns;
	int i, rc;

	(void)argv;
	if (argc != 1)
		return cli_usage(c);
	rc = c->st->ops->ns_list(c->st, cli_print_ns, NULL);
	if (rc) {
		cli_fail(c, NULL, 0, "%s", strerror(-rc));
		return 1;
	}
	/* and those the config names that nothing made yet */
	for (i = 0; i < c->cfg.ns_count; i++) {
		rc = cli_ns(c, c->cfg.ns[i].name, &ns, true);
		if (rc < 0)
			return 1;
		if (rc == 1)
			printf("%s\n", c->cfg.ns[i].name);
	}
	return 0;
}

/*
 * Listing, page by page.  A cursor is the last key of the previous page
 * in base64 (opaque to users, as Workers KV's); the next page starts
 * after it.  Directory rows of the tree layout are never shown.
 */
struct cli_page {
	struct cli *c;
	json_t *keys;
	char last[STORE_KEY_MAX + 1];
	size_t last_len;
	int rows;   /* rows the last store call gave, keys or not */
	int keys_n; /* keys on the page so far */
	bool is_jsonl;
};

static json_t *cli_key_json(struct cli *c, const struct store_row *r)
{
	json_t *o = json_object(), *meta;

	json_object_set_new(o, "name", json_stringn(r->key, r->key_len));
	if (r->attr.expiration)
		json_object_set_new(o, "expiration",
				    json_integer(r->attr.expiration));
	if (r->metadata) {
		meta = cli_json_stored(r->metadata);
		if (json_is_null(meta)) { /* as import reads it: none */
			json_decref(meta);
		} else if (meta) {
			json_object_set_new(o, "metadata", meta);
		} else {
			/*
			 * FIXME: jansson refuses numbers beyond the doubles
			 * ({"n":1e400}), which SQLite and the mount accept:
			 * such metadata is left out, said here, and the
			 * command exits 1, rather than carried as text.
			 */
			cli_fail(c, r->key, r->key_len,
				 "metadata %s cannot be written as JSON here "
				 "(a number beyond the doubles?): left out",
				 r->metadata);
			c->is_partial = true;
		}
	}
	return o;
}

static int cli_page_row(void *ctx, const struct store_row *r)
{
	struct cli_page *p = ctx;
	json_t *o;
	char *line;

	p->rows++;
	memcpy(p->last, r->key, r->key_len);
	p->last_len = r->key_len;
	if (r->kind != STORE_KEY)
		return 0;
	p->keys_n++;
	o = cli_key_json(p->c, r);
	if (!p->is_jsonl) {
		json_array_append_new(p->keys, o);
		return 0;
	}
	line = cli_json_text(o, 0);
	json_decref(o);
	if (!line)
		return -ENOMEM;
	printf("%s\n", line);
	free(line);
	return 0;
}

static char *cli_base64url(const char *key, size_t len)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789-_";
	char *out = malloc(len * 4 / 3 + 4), *o = out;
	const unsigned char *k = (const unsigned char *)key;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		*o++ = b64[k[i] >> 2];
		*o++ = b64[((k[i] & 3) << 4) | (k[i + 1] >> 4)];
		*o++ = b64[((k[i + 1] & 15) << 2) | (k[i + 2] >> 6)];
		*o++ = b64[k[i + 2] & 63];
	}
	if (i < len) {
		*o++ = b64[k[i] >> 2];
		if (i + 1 < len) {
			*o++ = b64[((k[i] & 3) << 4) | (k[i + 1] >> 4)];
			*o++ = b64[(k[i + 1] & 15) << 2];
		} else {
			*o++ = b64[(k[i] & 3) << 4];
		}
	}
	*o = '\0';
	return out;
}

/* FNV-1a of a key: the check part of a cursor. */
static uint32_t cli_cursor_check(const char *key, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h;
}

/*
 * A cursor: the last key of a page in base64url, a dot and a check of 8
 * hex digits, so that a string that is no cursor of ours is refused
 * rather than read as a position.
 */
static char *cli_cursor_encode(const char *key, size_t len)
{
	char *b = cli_base64url(key, len), *out;

	if (!b || asprintf(&out, "%s.%08x", b, cli_cursor_check(key, len)) < 0)
		out = NULL;
	free(b);
	return out;
}

/*
 * Decode base64 (standard or URL alphabet, padding optional, line
 * breaks and spaces skipped as base64(1) and Node.js do).  -EINVAL for
 * anything that is not the encoding of some bytes: a stray character,
 * text after the padding, a length no bytes give ("A", "AAAAA") or
 * bits set past the last byte ("AB==" for "AA=="), which lenient
 * decoders drop and so store other bytes than were meant.
 */
static int cli_base64_decode(const char *in, size_t in_len, char *out,
			     size_t *out_len)
{
	unsigned int acc = 0;
	size_t i, n = 0, digits = 0, pad = 0;
	int bits = 0, v;

	for (i = 0; i < in_len; i++) {
		char ch = in[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (ch == '=') {
			pad++;
			continue;
		}
		if (ch >= 'A' && ch <= 'Z')
			v = ch - 'A';
		else if (ch >= 'a' && ch <= 'z')
			v = ch - 'a' + 26;
		else if (ch >= '0' && ch <= '9')
			v = ch - '0' + 52;
		else if (ch == '+' || ch == '-')
			v = 62;
		else if (ch == '/' || ch == '_')
			v = 63;
		else
			return -EINVAL;
		if (pad)
			return -EINVAL;
		digits++;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (digits % 4 == 1 || (pad && (pad > 2 || (digits + pad) % 4)) ||
	    (acc & ((1u << bits) - 1)))
		return -EINVAL;
	*out_len = n;
	return 0;
}

/* The position after a cursor (the key it names plus a NUL byte). */
static int cli_cursor_start(struct cli *c, const char *cursor, char *pos,
			    size_t *pos_len)
{
	const char *dot = strrchr(cursor, '.');
	unsigned long check;
	char *end;
	size_t n;

	if (!dot || (size_t)(dot - cursor) > (STORE_KEY_MAX + 2) / 3 * 4 ||
	    cli_base64_decode(cursor, (size_t)(dot - cursor), pos, &n) ||
	    n == 0 || strlen(dot + 1) != 8)
		goto bad;
	check = strtoul(dot + 1, &end, 16);
	if (*end || check != cli_cursor_check(pos, n))
		goto bad;
	pos[n] = '\0';
	*pos_len = n + 1;
	return 0;
bad:
	cli_fail(c, NULL, 0, "invalid cursor '%s'", cursor);
	return -1;
}

/* One page of at most limit rows from pos; fills p. */
static int cli_list_page(struct cli *c, int64_t ns, const char *pos,
			 size_t pos_len, const char *prefix, size_t prefix_len,
			 int limit, struct cli_page *p)
{
	char end[STORE_KEY_MAX + 1];

	p->rows = 0;
	if (prefix_len)
		store_prefix_end(prefix, prefix_len, end);
	return c->st->ops->list(c->st, ns, pos, pos_len,
				prefix_len ? end : NULL, prefix_len, limit,
				cli_page_row, p);
}

static int cli_list(struct cli *c, int argc, char **argv)
{
	const char *prefix = "", *cursor = NULL;
	struct cli_page p = {.c = c};
	char pos[STORE_KEY_MAX + 2], *next, *text;
	bool is_all = false, is_complete = false, is_more;
	int want;
	size_t pos_len, prefix_len;
	int64_t limit = CLI_LIST_MAX, ns;
	json_t *out;
	int i, rc, cmp;

	if (argc < 2)
		return cli_usage(c);
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--prefix") && i + 1 < argc)
			prefix = argv[++i];
		else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
			limit = cli_number(c, NULL, "limit", argv[++i], 1,
					   CLI_LIST_MAX);
		else if (!strcmp(argv[i], "--cursor") && i + 1 < argc)
			cursor = argv[++i];
		else if (!strcmp(argv[i], "--all"))
			is_all = true;
		else if (!strcmp(argv[i], "--jsonl"))
			p.is_jsonl = true;
		else
			return cli_usage(c);
	}
	if (limit < 0)
		return 2; /* a bad --limit is bad usage */
	if (is_all != p.is_jsonl || (is_all && cursor)) {
		fprintf(stderr, "kvfs: list: --all and --jsonl go together, "
				"without --cursor\n");
		return cli_usage(c);
	}
	prefix_len = strlen(prefix);
	if (prefix_len > STORE_KEY_MAX) {
		cli_fail(c, prefix, prefix_len,
			 "prefix length exceeds limit of %d", STORE_KEY_MAX);
		return 1;
	}
	rc = cli_ns(c, argv[1], &ns, true);
	if (rc < 0)
		return 1;
	is_more = rc == 0; /* 1: configured, not made yet: empty */
	rc = 0;
	memcpy(pos, prefix, prefix_len);
	pos_len = prefix_len;
	if (cursor && cli_cursor_start(c, cursor, pos, &pos_len))
		return 1;
	/* A cursor before the prefix starts at the prefix (byte order). */
	cmp = memcmp(pos, prefix, pos_len < prefix_len ? pos_len : prefix_len);
	if (cmp < 0 || (cmp == 0 && pos_len < prefix_len)) {
		memcpy(pos, prefix, prefix_len);
		pos_len = prefix_len;
	}

	if (is_all) {
		while (is_more) {
			rc = cli_list_page(c, ns, pos, pos_len, prefix,
					   prefix_len, CLI_LIST_MAX, &p);
			memcpy(pos, p.last, p.last_len);
			pos[p.last_len] = '\0';
			pos_len = p.last_len + 1;
			is_more = rc == 0 && p.rows == CLI_LIST_MAX;
		}
	} else {
		p.keys = json_array();
		/* Directory rows are not keys: read on until the page
		   holds limit keys or the rows run out. */
		is_complete = !is_more;
		while (is_more) {
			want = (int)limit - p.keys_n;
			rc = cli_list_page(c, ns, pos, pos_len, prefix,
					   prefix_len, want, &p);
			is_complete = p.rows < want;
			memcpy(pos, p.last, p.last_len);
			pos[p.last_len] = '\0';
			pos_len = p.last_len + 1;
			is_more = rc == 0 && !is_complete && p.keys_n < limit;
		}
		out = json_object();
		json_object_set_new(out, "keys", p.keys);
		json_object_set_new(out, "list_complete",
				    json_boolean(is_complete));
		if (!is_complete) {
			next = cli_cursor_encode(p.last, p.last_len);
			json_object_set_new(out, "cursor",
					    json_string(next ? next : ""));
			free(next);
		}
		text = rc == 0 ? cli_json_text(out, 2) : NULL;
		if (rc == 0 && !text)
			rc = -ENOMEM;
		if (rc == 0)
			printf("%s\n", text);
		free(text);
		json_decref(out);
	}
	if (rc)
		cli_fail(c, NULL, 0, "%s", strerror(-rc));
	return rc || c->is_partial ? 1 : 0;
}

/* --- import and export ------------------------------------------------ */

struct cli_import {
	struct store_item *items;
	char **owned; /* buffers to free: values decoded, metadata */
	size_t n, n_owned;
};

static void cli_import_free(struct cli_import *im)
{
	size_t i;

	for (i = 0; i < im->n_owned; i++)
		free(im->owned[i]);
	free(im->owned);
	free(im->items);
}

static char *cli_own(struct cli_import *im, char *p)
{
	if (p)
		im->owned[im->n_owned++] = p;
	return p;
}

/* Check entry i of an import and fill its item; message on failure. */
static int cli_import_entry(struct cli *c, struct cli_import *im, size_t i,
			    json_t *e, int64_t now)
{
	struct store_item *it = &im->items[i];
	json_t *key = json_object_get(e, "key"), *value, *b64, *exp, *ttl,
	       *meta;
	const char *problem;
	char why[128], *buf;
	int64_t t = 0;
	size_t n;

	if (!json_is_object(e) || !json_is_string(key)) {
		fprintf(stderr,
			"kvfs: import: entry %zu: needs a string 'key'\n", i);
		return -1;
	}
	it->key = json_string_value(key);
	it->key_len = json_string_length(key);
	value = json_object_get(e, "value");
	b64 = json_object_get(e, "base64");
	exp = json_object_get(e, "expiration");
	ttl = json_object_get(e, "expiration_ttl");
	meta = json_object_get(e, "metadata");
#define CLI_BAD(...)                                                           \
	do {                                                                   \
		char shown_[LOG_KEY_BUF];                                      \
		fprintf(                                                       \
		    stderr, "kvfs: import: entry %zu, key '%s': ", i,          \
		    log_key(shown_, sizeof(shown_), it->key, it->key_len));    \
		fprintf(stderr, __VA_ARGS__);                                  \
		fprintf(stderr, "\n");                                         \
		return -1;                                                     \
	} while (0)
	problem = cli_key_problem(it->key, it->key_len, why, sizeof(why));
	if (problem)
		CLI_BAD("%s", problem);
	if (!json_is_string(value))
		CLI_BAD("needs a string 'value'");
	if (b64 && !json_is_boolean(b64))
		CLI_BAD("'base64' must be true or false");
	it->value = json_string_value(value);
	it->size = json_string_length(value);
	if (json_is_true(b64)) {
		buf = cli_own(im, malloc(it->size * 3 / 4 + 3));
		if (!buf || cli_base64_decode(it->value, it->size, buf, &n))
			CLI_BAD("'value' is not base64");
		it->value = buf;
		it->size = n;
	}
	if (it->size > STORE_VALUE_MAX)
		CLI_BAD("value length of %zu exceeds limit of %d", it->size,
			STORE_VALUE_MAX);
	if (json_is_null(ttl)) /* null is left out, as for metadata */
		ttl = NULL;
	if (json_is_null(exp))
		exp = NULL;
	if (ttl) { /* the TTL wins: the expiration is not looked at */
		if (!cli_json_whole(ttl, &t))
			CLI_BAD(
			    "invalid expiration_ttl: must be a whole number of "
			    "seconds");
		if (t < 60)
			CLI_BAD("invalid expiration_ttl of %" PRId64
				": must be at least 60",
				t);
		if (t > CLI_EXP_MAX - now)
			CLI_BAD("invalid expiration_ttl of %" PRId64
				": ends after %lld, the last second Workers KV "
				"takes",
				t, CLI_EXP_MAX);
		it->expiration = now + t;
	} else if (exp) {
		if (!cli_json_whole(exp, &t))
			CLI_BAD("invalid expiration: must be a whole number of "
				"seconds since 1970");
		if (t < now + 60)
			CLI_BAD(
			    "invalid expiration of %" PRId64
			    ": expiration times must be at least 60 seconds "
			    "in the future",
			    t);
		if (t > CLI_EXP_MAX)
			CLI_BAD(
			    "invalid expiration of %" PRId64
			    ": after %lld, the last second Workers KV takes",
			    t, CLI_EXP_MAX);
		it->expiration = t;
	}
	/*
	 * The file's numbers were read as JavaScript reads them (doubles),
	 * and metadata is written as JSON.stringify writes it: what Workers
	 * KV keeps when wrangler imports the same file (1e2 is stored as
	 * 100, 0.10 as 0.1).  put --metadata and the mount keep the text as
	 * given.  FIXME: a number beyond the doubles (1e400), which
	 * JavaScript reads as Infinity and writes as null, fails the whole
	 * file here with jansson's "real number overflow".
	 */
	if (meta && !json_is_null(meta)) {
		buf = cli_own(im, cli_json_text(meta, 0));
		if (!buf || strlen(buf) > STORE_META_MAX)
			CLI_BAD("metadata length of %zu exceeds limit of %d",
				buf ? strlen(buf) : 0, STORE_META_MAX);
		it->metadata = buf;
	}
#undef CLI_BAD
	return 0;
}

static bool cli_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Say why put_many failed: at entry failed, or at none (im->n). */
static void cli_import_failed(struct cli *c, const struct cli_import *im,
			      size_t failed, const char *ns_name, int rc)
{
	const struct config_ns *ns = config_find_ns(&c->cfg, ns_name);
	const char *what = ns && ns->backend == CONFIG_BACKEND_CLOUDFLARE
			       ? "what the API took before that is stored"
			       : "nothing was imported";

	if (failed < im->n)
		cli_fail(c, im->items[failed].key, im->items[failed].key_len,
			 "entry %zu: %s; %s", failed, strerror(-rc), what);
	else
		cli_fail(c, NULL, 0, "%s; %s", strerror(-rc), what);
}

static int cli_import(struct cli *c, int argc, char **argv)
{
	struct cli_import im = {0};
	json_error_t jerr;
	json_t *all;
	size_t i, failed;
	int64_t now = time(NULL), ns;
	int rc = 0;

	if (argc != 3)
		return cli_usage(c);
	if (cli_is_dir(argv[2])) {
		fprintf(stderr, "kvfs: import: %s: %s\n", argv[2],
			strerror(EISDIR));
		return 1;
	}
	all = !strcmp(argv[2], "-")
		  ? json_loadf(stdin, CLI_JSON_IN, &jerr)
		  : json_load_file(argv[2], CLI_JSON_IN, &jerr);
	if (!all && jerr.line < 1) /* the file could not be read */
		fprintf(stderr, "kvfs: import: %s: %s\n", argv[2], jerr.text);
	else if (!all) /* a one-line file needs the column */
		fprintf(stderr, "kvfs: import: %s:%d:%d: %s\n", argv[2],
			jerr.line, jerr.column, jerr.text);
	if (!all)
		return 1;
	if (!json_is_array(all)) {
		fprintf(stderr, "kvfs: import: %s: expected a JSON array\n",
			argv[2]);
		json_decref(all);
		return 1;
	}
	im.n = json_array_size(all);
	im.items = calloc(im.n ? im.n : 1, sizeof(*im.items));
	im.owned = calloc(im.n ? im.n * 2 : 1, sizeof(*im.owned));
	if (!im.items || !im.owned)
		rc = -1;
	for (i = 0; rc == 0 && i < im.n; i++)
		rc = cli_import_entry(c, &im, i, json_array_get(all, i), now);
	if (rc == 0 && cli_ns_writable(c, argv[1], &ns))
		rc = -1;
	if (rc == 0) {
		rc = c->st->ops->put_many(c->st, ns, im.items, im.n, &failed);
		if (rc)
			cli_import_failed(c, &im, failed, argv[1], rc);
	}
	cli_import_free(&im);
	json_decref(all);
	return rc ? 1 : 0;
}

/* Collects one value for export. */
struct cli_buf {
	char *p;
	size_t len, cap;
};

static int cli_buf_sink(void *ctx, const void *data, size_t len)
{
	struct cli_buf *b = ctx;
	char *p;

	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		p = realloc(b->p, b->cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

struct cli_export {
	struct cli *c;
	int64_t ns;
	size_t count;
	struct cli_buf value;
	int rc;
};

/* Standard base64 with padding, as wrangler writes it. */
static char *cli_base64_encode(const char *in, size_t len)
{
	char *s = cli_base64url(in, len), *p;
	size_t n;

	if (!s)
		return NULL;
	for (p = s; *p; p++)
		*p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
	n = strlen(s);
	p = realloc(s, n + 3);
	if (!p) {
		free(s);
		return NULL;
	}
	while (n % 4)
		p[n++] = '=';
	p[n] = '\0';
	return p;
}

/*
 * Write the export entry of k, an entry of a list page (cli_key_json:
 * its name, expiration and metadata), with its value read now.
 */
static int cli_export_entry(struct cli_export *x, json_t *k)
{
	json_t *name = json_object_get(k, "name"), *o, *v;
	const char *key = json_string_value(name);
	char *line, *b64;
	int rc;

	x->value.len = 0;
	rc = x->c->st->ops->get(x->c->st, x->ns, key, json_string_length(name),
				cli_buf_sink, &x->value, NULL);
	if (rc == -ENOENT)
		return 0; /* deleted or expired since the page was read */
	if (rc)
		return rc;
	o = json_object();
	json_object_set(o, "key", name);
	if (name_utf8_valid(x->value.p ? x->value.p : "", x->value.len)) {
		json_object_set_new(
		    o, "value",
		    json_stringn(x->value.p ? x->value.p : "", x->value.len));
	} else {
		b64 = cli_base64_encode(x->value.p, x->value.len);
		json_object_set_new(o, "value", json_string(b64 ? b64 : ""));
		json_object_set_new(o, "base64", json_true());
		free(b64);
	}
	v = json_object_get(k, "expiration");
	if (v)
		json_object_set(o, "expiration", v);
	v = json_object_get(k, "metadata");
	if (v)
		json_object_set(o, "metadata", v);
	line = cli_json_text(o, 0);
	json_decref(o);
	if (!line)
		return -ENOMEM;
	printf("%s%s", x->count++ ? ",\n" : "\n", line);
	free(line);
	return 0;
}

static int cli_export(struct cli *c, int argc, char **argv)
{
	struct cli_export x = {.c = c};
	char pos[STORE_KEY_MAX + 2];
	struct cli_page p = {.c = c};
	size_t pos_len = 0;
	int rc;

	if (argc != 2)
		return cli_usage(c);
	rc = cli_ns(c, argv[1], &x.ns, true);
	if (rc < 0)
		return 1;
	if (rc == 1) { /* what an empty namespace exports */
		printf("[]\n");
		return 0;
	}
	printf("[");
	/*
	 * Known limit: for a remote namespace each value not cached is one
	 * GET.  The API's only bulk read, POST bulk/get (100 keys a
	 * request), answers text values only: a binary value would come
	 * back as lossy text that cannot be told from a real one, so
	 * export reads every value whole, one request each.
	 */
	do {
		/* One page of names first, then each value. */
		p.rows = 0;
		p.keys = json_array();
		rc = c->st->ops->list(c->st, x.ns, pos, pos_len, NULL, 0,
				      CLI_LIST_MAX, cli_page_row, &p);
		if (rc == 0) {
			size_t i;

			for (i = 0; rc == 0 && i < json_array_size(p.keys); i++)
				rc = cli_export_entry(
				    &x, json_array_get(p.keys, i));
		}
		json_decref(p.keys);
		memcpy(pos, p.last, p.last_len);
		pos[p.last_len] = '\0';
		pos_len = p.last_len + 1;
	} while (rc == 0 && p.rows == CLI_LIST_MAX);
	printf("%s]\n", x.count ? "\n" : "");
	free(x.value.p);
	if (rc)
		cli_fail(c, NULL, 0, "%s", strerror(-rc));
	return rc || c->is_partial ? 1 : 0;
}

static const struct cli_command {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
} cli_commands[] = {
    {"get", cli_get},	    {"put", cli_put},
    {"delete", cli_delete}, {"namespaces", cli_namespaces},
    {"list", cli_list},	    {"import", cli_import},
    {"export", cli_export},
};

#define CLI_COMMAND_COUNT (sizeof(cli_commands) / sizeof(cli_commands[0]))

bool cli_is_command(const char *word)
{
	size_t i;

	for (i = 0; i < CLI_COMMAND_COUNT; i++)
		if (!strcmp(word, cli_commands[i].name))
			return true;
	return false;
}

int cli_main(const char *config, int argc, char **argv)
{
	struct cli c = {.cmd = argv[0], .argc = argc, .argv = argv};
	char err[1024];
	size_t i;
	int rc;

	log_use_plain();
	if (config)
		rc = config_load(config, &c.cfg, err, sizeof(err));
	else
		rc = config_default(&c.cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "kvfs: %s\n", err);
		return 2;
	}
	if (access(c.cfg.store_path, F_OK) != 0 && !config) {
		cli_misplaced_c(&c);
		fprintf(stderr,
			"kvfs: %s: no database yet (mount once, or "
			"use -c CONFIG)\n",
			c.cfg.store_path);
		config_free(&c.cfg);
		return 1;
	}
	rc = store_open(&c.cfg, &c.st, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "kvfs: %s\n", err);
		config_free(&c.cfg);
		return 1;
	}
	rc = 2;
	for (i = 0; i < CLI_COMMAND_COUNT; i++)
		if (!strcmp(argv[0], cli_commands[i].name))
			rc = cli_commands[i].run(&c, argc, argv);
	errno = 0;
	if ((fflush(stdout) != 0 || ferror(stdout)) && !cli_out_said) {
		cli_fail(&c, NULL, 0, "stdout: %s",
			 strerror(errno ? errno : EIO));
		rc = 1;
	}
	c.st->ops->close(c.st);
	config_free(&c.cfg);
	return rc;
}
