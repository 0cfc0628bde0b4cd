/*
 * test_store: unit tests of the store contract (src/store.h), run
 * against store_sqlite on a real SQLite file in a fresh temporary
 * directory per test.  Written from the contract alone; each check's
 * text names the promise of store.h it holds the store to.
 *
 * The foreign-database check builds another application's database with
 * SQLite itself, the one reason this file includes sqlite3.h.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "store.h"

/* A string literal as (bytes, length), embedded NUL bytes included. */
#define K(s) (s), (sizeof(s) - 1)

#define KEY_BUF	    600 /* room for any key (512 bytes) and then some */
#define NO_LIMIT    1000000
#define MODE_FILE   (S_IFREG | 0644)
#define MODE_DIR    (S_IFDIR | 0755)
#define NS_PER_SEC  1000000000LL
#define BIG_VALUE   (3 * 1024 * 1024)
#define PAGE_KEYS   2500
#define DIR_KEYS    1000
#define THREADS	    4
#define THREAD_PUTS 200

struct fixture {
	char dir[128];
	char path[160];
	struct store *st;
	int64_t ns; /* namespace "test" */
};

/* Where a put reads its value from; optionally fails part way. */
struct src {
	const unsigned char *data;
	uint64_t size;
	uint64_t fail_at; /* reads reaching past this offset fail */
	int fail_rc;	  /* what they return; 0: never fail */
	int bad_reads;	  /* reads outside [0, size) */
};

/* Collects a value streamed by get. */
struct sink {
	unsigned char *data;
	size_t len, cap;
};

/* One row of a list, copied out of the callback. */
struct row_copy {
	char key[KEY_BUF];
	size_t key_len;
	enum store_kind kind;
	struct store_attr attr;
	bool has_meta;
	char meta[STORE_META_MAX + 1];
};

struct rows {
	struct row_copy *v;
	size_t n, cap;
	size_t stop_at; /* return 1 after this many rows; 0: never */
	int fail_rc;	/* return this at the first row; 0: never */
	int oversize;	/* rows whose key or metadata did not fit */
};

struct key_ref {
	const char *key;
	size_t len;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int key_cmp(const char *a, size_t a_len, const char *b, size_t b_len)
{
	int c = memcmp(a, b, a_len < b_len ? a_len : b_len);

	if (c)
		return c;
	return (a_len > b_len) - (a_len < b_len);
}

static int key_ref_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;

	return key_cmp(x->key, x->len, y->key, y->len);
}

/* A reproducible byte pattern (xorshift), so misplaced chunks show. */
static unsigned char *pattern(size_t len, uint32_t seed)
{
	unsigned char *p = malloc(len ? len : 1);
	uint32_t x = seed * 2654435761u | 1;

	if (!p) {
		perror("malloc");
		exit(2);
	}
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)(x >> 24);
	}
	return p;
}

/* ---- fixtures ---- */

static bool make_dir(struct fixture *f)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(f->dir, sizeof(f->dir), "%s/kvfs-test-store.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir)) {
		perror("mkdtemp");
		return false;
	}
	snprintf(f->path, sizeof(f->path), "%s/kvfs.db", f->dir);
	f->st = NULL;
	return true;
}

/* The directory's files (the database and its journals), then itself. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* A new store in a fresh directory, with namespace "test" in f->ns. */
static bool setup(struct fixture *f, const char *test)
{
	char err[256] = "";
	int rc;

	if (!make_dir(f))
		return false;
	rc = store_sqlite_open(f->path, 5000, false, &f->st, err, sizeof(err));
	if (rc) {
		CHECK(0, "%s: open a new store: %d (%s)", test, rc, err);
		f->st = NULL;
		remove_dir(f->dir);
		return false;
	}
	rc = f->st->ops->ns_create(f->st, "test", &f->ns);
	if (rc) {
		CHECK(0, "%s: create namespace \"test\": %d", test, rc);
		f->st->ops->close(f->st);
		remove_dir(f->dir);
		return false;
	}
	return true;
}

static void teardown(struct fixture *f)
{
	if (f->st)
		f->st->ops->close(f->st);
	f->st = NULL;
	remove_dir(f->dir);
}

/* ---- values in and out ---- */

static int src_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct src *s = ctx;

	if (off > s->size || len > s->size - off) {
		s->bad_reads++;
		return -ERANGE;
	}
	if (s->fail_rc && off + len > s->fail_at)
		return s->fail_rc;
	if (len)
		memcpy(buf, s->data + off, len);
	return 0;
}

static int sink_write(void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;

	if (s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		unsigned char *p;

		while (cap < s->len + len)
			cap *= 2;
		p = realloc(s->data, cap);
		if (!p)
			return -ENOMEM;
		s->data = p;
		s->cap = cap;
	}
	if (len)
		memcpy(s->data + s->len, buf, len);
	s->len += len;
	return 0;
}

/* A put of val: a regular file's mode, uid/gid 1000, mtime now. */
static void put_init(struct store_put *p, struct src *s, const void *val,
		     size_t len)
{
	memset(s, 0, sizeof(*s));
	s->data = val;
	s->size = len;
	memset(p, 0, sizeof(*p));
	p->size = len;
	p->read = src_read;
	p->ctx = s;
	p->attr.mode = MODE_FILE;
	p->attr.uid = 1000;
	p->attr.gid = 1000;
}

static int put_val(struct store *st, int64_t ns, const char *key,
		   size_t key_len, const void *val, size_t len, int flags,
		   struct store_attr *out)
{
	struct store_put p;
	struct src s;

	put_init(&p, &s, val, len);
	p.flags = flags;
	return st->ops->put(st, ns, key, key_len, &p, out);
}

static int put_str(struct fixture *f, const char *key, size_t key_len,
		   const char *val)
{
	return put_val(f->st, f->ns, key, key_len, val, strlen(val), 0, NULL);
}

static int get_val(struct store *st, int64_t ns, const char *key,
		   size_t key_len, struct sink *out, struct store_attr *attr)
{
	out->len = 0;
	return st->ops->get(st, ns, key, key_len, sink_write, out, attr);
}

/* True if key's value is exactly val[0..len). */
static bool value_is(struct store *st, int64_t ns, const char *key,
		     size_t key_len, const void *val, size_t len)
{
	struct sink s = {0};
	int rc = get_val(st, ns, key, key_len, &s, NULL);
	bool ok = rc == 0 && s.len == len &&
		  (len == 0 || memcmp(s.data, val, len) == 0);

	if (!ok)
		printf("# get: returned %d with %zu bytes, expected %zu\n", rc,
		       s.len, len);
	free(s.data);
	return ok;
}

static bool str_is(struct fixture *f, const char *key, size_t key_len,
		   const char *val)
{
	return value_is(f->st, f->ns, key, key_len, val, strlen(val));
}

static int stat_key(struct fixture *f, const char *key, size_t key_len,
		    struct store_attr *attr)
{
	return f->st->ops->stat(f->st, f->ns, key, key_len, STORE_KEY, attr);
}

/* ---- lists ---- */

static int rows_add(void *ctx, const struct store_row *row)
{
	struct rows *r = ctx;
	struct row_copy *c;

	if (r->fail_rc)
		return r->fail_rc;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct row_copy *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	c = &r->v[r->n++];
	memset(c, 0, sizeof(*c));
	if (row->key_len > sizeof(c->key)) {
		r->oversize++;
	} else {
		memcpy(c->key, row->key, row->key_len);
		c->key_len = row->key_len;
	}
	c->kind = row->kind;
	c->attr = row->attr;
	if (row->metadata) {
		c->has_meta = true;
		if (strlen(row->metadata) > STORE_META_MAX)
			r->oversize++;
		else
			strcpy(c->meta, row->metadata);
	}
	if (r->stop_at && r->n >= r->stop_at)
		return 1;
	return 0;
}

static int list_rows(struct store *st, int64_t ns, const char *lo,
		     size_t lo_len, const char *hi, size_t hi_len, int limit,
		     struct rows *r)
{
	r->n = 0;
	r->oversize = 0;
	return st->ops->list(st, ns, lo, lo_len, hi, hi_len, limit, rows_add,
			     r);
}

/* Rows in [prefix, store_prefix_end(prefix)). */
static int list_prefix(struct store *st, int64_t ns, const char *prefix,
		       size_t len, struct rows *r)
{
	char hi[KEY_BUF];

	store_prefix_end(prefix, len, hi);
	return list_rows(st, ns, prefix, len, hi, len, NO_LIMIT, r);
}

static int any_prefix(struct store *st, int64_t ns, const char *prefix,
		      size_t len)
{
	char hi[KEY_BUF];

	store_prefix_end(prefix, len, hi);
	return st->ops->any(st, ns, prefix, len, hi, len);
}

/* The row of exactly key (kind STORE_KEY), via a one-key range. */
static int row_of(struct fixture *f, const char *key, size_t key_len,
		  struct rows *r)
{
	char hi[KEY_BUF + 1];
	int rc;

	memcpy(hi, key, key_len);
	hi[key_len] = '\0';
	rc = list_rows(f->st, f->ns, key, key_len, hi, key_len + 1, 1, r);
	if (rc)
		return rc;
	if (r->n != 1 || r->v[0].kind != STORE_KEY ||
	    key_cmp(r->v[0].key, r->v[0].key_len, key, key_len))
		return -ENOENT;
	return 0;
}

static bool rows_have(const struct rows *r, const char *key, size_t key_len)
{
	for (size_t i = 0; i < r->n; i++)
		if (!key_cmp(r->v[i].key, r->v[i].key_len, key, key_len))
			return true;
	return false;
}

/*
 * True if list(lo, hi, limit) returns exactly the first `limit` of
 * keys[] (in memcmp order) that fall in [lo, hi), all as STORE_KEY rows.
 */
static bool list_matches(struct fixture *f, const struct key_ref *keys,
			 size_t n, const char *lo, size_t lo_len,
			 const char *hi, size_t hi_len, int limit)
{
	struct key_ref *want = calloc(n ? n : 1, sizeof(*want));
	struct rows r = {0};
	size_t n_want = 0;
	bool ok = true;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (key_cmp(keys[i].key, keys[i].len, lo, lo_len) < 0)
			continue;
		if (hi && key_cmp(keys[i].key, keys[i].len, hi, hi_len) >= 0)
			continue;
		want[n_want++] = keys[i];
	}
	qsort(want, n_want, sizeof(*want), key_ref_cmp);
	if (n_want > (size_t)limit)
		n_want = (size_t)limit;

	rc = list_rows(f->st, f->ns, lo, lo_len, hi, hi_len, limit, &r);
	if (rc || r.n != n_want || r.oversize) {
		printf("# list: returned %d with %zu rows, expected %zu\n", rc,
		       r.n, n_want);
		ok = false;
	}
	for (size_t i = 0; ok && i < n_want; i++) {
		if (r.v[i].kind != STORE_KEY ||
		    key_cmp(r.v[i].key, r.v[i].key_len, want[i].key,
			    want[i].len)) {
			printf("# list: row %zu is not the expected key\n", i);
			ok = false;
		}
	}
	free(r.v);
	free(want);
	return ok;
}

/* ---- open ---- */

static bool read_file(const char *path, unsigned char **data, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	struct sink s = {0};
	unsigned char buf[4096];
	size_t n;

	if (!fp)
		return false;
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		sink_write(&s, buf, n);
	fclose(fp);
	*data = s.data;
	*len = s.len;
	return true;
}

static bool write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");
	bool ok;

	if (!fp)
		return false;
	ok = fputs(text, fp) >= 0;
	return fclose(fp) == 0 && ok;
}

/* Opening path must fail with -EINVAL, one line of err, no change. */
static void check_refused(const char *path, const char *what)
{
	unsigned char *before = NULL, *after = NULL;
	size_t before_len = 0, after_len = 0;
	struct store *st = NULL;
	char err[256] = "";
	int rc;

	if (!read_file(path, &before, &before_len)) {
		CHECK(0, "open %s: could not read the test file", what);
		return;
	}
	rc = store_sqlite_open(path, 5000, false, &st, err, sizeof(err));
	CHECK(rc == -EINVAL, "open %s fails with -EINVAL (got %d)", what, rc);
	CHECK(err[0] != '\0' && !strchr(err, '\n'),
	      "open %s says why in one line: \"%s\"", what, err);
	if (rc == 0 && st)
		st->ops->close(st);
	CHECK(read_file(path, &after, &after_len) && after_len == before_len &&
		  memcmp(before, after, before_len) == 0,
	      "open %s leaves its %zu bytes unchanged", what, before_len);
	free(before);
	free(after);
}

static void test_open_refuses_foreign_files(void)
{
	struct fixture f;
	char path[256];
	sqlite3 *db = NULL;
	int rc;

	if (!make_dir(&f))
		return;

	snprintf(path, sizeof(path), "%s/notes.txt", f.dir);
	if (!write_file(path, "Shopping list\n- milk\n- eggs\n- a database "
			      "that is not one\n"))
		CHECK(0, "write the text file");
	check_refused(path, "a text file");

	snprintf(path, sizeof(path), "%s/other.db", f.dir);
	rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db,
				  "CREATE TABLE notes(id INTEGER PRIMARY KEY,"
				  " body TEXT);"
				  "INSERT INTO notes(body) VALUES ('hello');",
				  NULL, NULL, NULL);
	sqlite3_close(db);
	if (rc != SQLITE_OK)
		CHECK(0, "create another application's database: %d", rc);
	check_refused(path, "another application's SQLite database");

	remove_dir(f.dir);
}

static void test_open_and_persistence(void)
{
	struct fixture f;
	struct store *st2 = NULL;
	struct store_attr a;
	struct rows r = {0};
	struct stat sb;
	char err[256] = "";
	int64_t ns = -1, ns_again = -1;
	int rc;

	if (!make_dir(&f))
		return;

	rc = store_sqlite_open(f.path, 5000, false, &f.st, err, sizeof(err));
	CHECK(rc == 0 && f.st, "open creates a new store (%d: %s)", rc, err);
	if (rc || !f.st) {
		f.st = NULL;
		teardown(&f);
		return;
	}
	CHECK(stat(f.path, &sb) == 0 && S_ISREG(sb.st_mode),
	      "open creates the database file");

	rc = f.st->ops->ns_create(f.st, "kept", &ns);
	CHECK(rc == 0, "create a namespace in the new store (%d)", rc);
	f.ns = ns;
	CHECK(put_str(&f, K("greeting"), "hello, world") == 0,
	      "put a key before closing");
	{
		struct store_put p;
		struct src s;

		put_init(&p, &s, "v", 1);
		p.metadata = "{\"k\":1}";
		p.attr.mode = S_IFREG | 0600;
		CHECK(f.st->ops->put(f.st, ns, K("with-meta"), &p, NULL) == 0,
		      "put a key with metadata and mode before closing");
	}
	a = (struct store_attr){.mode = MODE_DIR, .uid = 1000, .gid = 1000};
	CHECK(f.st->ops->mkdir(f.st, ns, K("dir/"), &a) == 0,
	      "mkdir before closing");

	/* A second store object on the same file sees the first's writes. */
	rc = store_sqlite_open(f.path, 5000, false, &st2, err, sizeof(err));
	CHECK(rc == 0, "a second open of the same file works (%d: %s)", rc,
	      err);
	if (rc == 0) {
		CHECK(value_is(st2, ns, K("greeting"), "hello, world", 12),
		      "a second store on the same file sees a put");
		st2->ops->close(st2);
	}

	f.st->ops->close(f.st);
	f.st = NULL;
	CHECK(stat(f.path, &sb) == 0 && sb.st_size > 0,
	      "the database file exists and is not empty after close");

	rc = store_sqlite_open(f.path, 5000, false, &f.st, err, sizeof(err));
	CHECK(rc == 0, "reopen the store (%d: %s)", rc, err);
	if (rc) {
		f.st = NULL;
		teardown(&f);
		return;
	}
	rc = f.st->ops->ns_find(f.st, "kept", &ns_again);
	CHECK(rc == 0 && ns_again == ns,
	      "after reopen the namespace has the same id");
	CHECK(value_is(f.st, ns, K("greeting"), "hello, world", 12),
	      "after reopen the value is there");
	rc = stat_key(&f, K("with-meta"), &a);
	CHECK(rc == 0 && a.mode == (S_IFREG | 0600) && a.size == 1,
	      "after reopen stat shows mode and size");
	rc = row_of(&f, K("with-meta"), &r);
	CHECK(rc == 0 && r.v[0].has_meta && !strcmp(r.v[0].meta, "{\"k\":1}"),
	      "after reopen list shows the metadata");
	rc = f.st->ops->stat(f.st, ns, K("dir/"), STORE_DIR, &a);
	CHECK(rc == 0 && a.mode == MODE_DIR,
	      "after reopen the directory row is there (%d)", rc);
	CHECK(f.st->ops->ns_create(f.st, "kept", &ns_again) == -EEXIST,
	      "after reopen creating the namespace again is -EEXIST");
	free(r.v);
	teardown(&f);
}

/* ---- namespaces ---- */

struct ns_seen {
	const char *name;
	int64_t id;
	int count;
	bool id_ok;
};

static int ns_visit(void *ctx, int64_t ns, const char *name)
{
	struct ns_seen *seen = ctx;

	for (; seen->name; seen++) {
		if (strcmp(seen->name, name))
			continue;
		seen->count++;
		seen->id_ok = ns == seen->id;
	}
	return 0;
}

static void test_namespaces(void)
{
	struct fixture f;
	struct store_attr a = {.mode = MODE_DIR, .uid = -1, .gid = -1};
	int64_t alpha = -1, beta = -1, id = -1;
	int rc;

	if (!setup(&f, "namespaces"))
		return;

	rc = f.st->ops->ns_create(f.st, "alpha", &alpha);
	CHECK(rc == 0, "ns_create alpha (%d)", rc);
	rc = f.st->ops->ns_find(f.st, "alpha", &id);
	CHECK(rc == 0 && id == alpha, "ns_find alpha gives its id");
	rc = f.st->ops->ns_create(f.st, "alpha", &id);
	CHECK(rc == -EEXIST, "ns_create of an existing name is -EEXIST (%d)",
	      rc);
	rc = f.st->ops->ns_find(f.st, "nope", &id);
	CHECK(rc == -ENOENT, "ns_find of a missing name is -ENOENT (%d)", rc);
	rc = f.st->ops->ns_create(f.st, "beta", &beta);
	CHECK(rc == 0 && beta != alpha && beta != f.ns,
	      "ns_create beta gives a new id");

	{
		struct ns_seen seen[] = {{"alpha", alpha, 0, false},
					 {"beta", beta, 0, false},
					 {"test", f.ns, 0, false},
					 {NULL, 0, 0, false}};

		rc = f.st->ops->ns_list(f.st, ns_visit, seen);
		CHECK(rc == 0 && seen[0].count == 1 && seen[1].count == 1 &&
			  seen[2].count == 1,
		      "ns_list reports each namespace once");
		CHECK(seen[0].id_ok && seen[1].id_ok && seen[2].id_ok,
		      "ns_list reports each namespace with its id");
	}

	CHECK(put_val(f.st, alpha, K("k"), "in alpha", 8, 0, NULL) == 0 &&
		  put_val(f.st, beta, K("k"), "in beta", 7, 0, NULL) == 0,
	      "put the same key in two namespaces");
	CHECK(value_is(f.st, alpha, K("k"), "in alpha", 8) &&
		  value_is(f.st, beta, K("k"), "in beta", 7),
	      "namespaces keep their own values of one key");

	rc = f.st->ops->ns_remove(f.st, "alpha");
	CHECK(rc == -ENOTEMPTY,
	      "ns_remove of a namespace with a key is -ENOTEMPTY (%d)", rc);
	CHECK(f.st->ops->ns_find(f.st, "alpha", &id) == 0 &&
		  value_is(f.st, alpha, K("k"), "in alpha", 8),
	      "a refused ns_remove leaves the namespace and its key");
	CHECK(f.st->ops->remove(f.st, alpha, K("k"), STORE_KEY) == 0,
	      "remove alpha's key");
	rc = f.st->ops->ns_remove(f.st, "alpha");
	CHECK(rc == 0, "ns_remove of an empty namespace (%d)", rc);
	rc = f.st->ops->ns_find(f.st, "alpha", &id);
	CHECK(rc == -ENOENT, "a removed namespace is gone (%d)", rc);
	rc = f.st->ops->ns_remove(f.st, "alpha");
	CHECK(rc == -ENOENT, "ns_remove of a missing namespace is -ENOENT (%d)",
	      rc);

	CHECK(f.st->ops->remove(f.st, beta, K("k"), STORE_KEY) == 0 &&
		  f.st->ops->mkdir(f.st, beta, K("d/"), &a) == 0,
	      "leave only a directory row in beta");
	rc = f.st->ops->ns_remove(f.st, "beta");
	CHECK(
	    rc == -ENOTEMPTY,
	    "ns_remove of a namespace with a directory row is -ENOTEMPTY (%d)",
	    rc);
	CHECK(f.st->ops->remove(f.st, beta, K("d/"), STORE_DIR) == 0 &&
		  f.st->ops->ns_remove(f.st, "beta") == 0,
	      "ns_remove of beta once it is empty");
	teardown(&f);
}

/* ---- put and get ---- */

/* Put val under key, then check out, stat and get agree with it. */
static void check_round_trip(struct fixture *f, const char *key, size_t key_len,
			     const unsigned char *val, size_t len,
			     const char *what)
{
	struct store_attr out, st_attr, get_attr;
	struct sink s = {0};
	int rc;

	memset(&out, 0xa5, sizeof(out));
	rc = put_val(f->st, f->ns, key, key_len, val, len, 0, &out);
	CHECK(rc == 0 && out.size == len, "put %s: out.size is %zu (%d)", what,
	      len, rc);
	rc = stat_key(f, key, key_len, &st_attr);
	CHECK(rc == 0 && st_attr.size == len && st_attr.mode == MODE_FILE &&
		  st_attr.uid == 1000 && st_attr.gid == 1000,
	      "stat %s: size %zu, put's mode, uid and gid", what, len);
	CHECK(rc == 0 && st_attr.version == out.version,
	      "stat %s: the version put reported", what);
	memset(&get_attr, 0, sizeof(get_attr));
	rc = get_val(f->st, f->ns, key, key_len, &s, &get_attr);
	CHECK(rc == 0 && s.len == len &&
		  (len == 0 || memcmp(s.data, val, len) == 0),
	      "get %s: the same %zu bytes (%d, %zu bytes)", what, len, rc,
	      s.len);
	CHECK(rc == 0 && get_attr.size == len &&
		  get_attr.version == out.version,
	      "get %s: fills attr with size and version", what);
	free(s.data);
}

static void test_put_get(void)
{
	struct fixture f;
	unsigned char bytes[256], *big, *max;
	char long_key[512];
	struct store_attr a;
	struct sink s = {0};
	int rc;

	if (!setup(&f, "put/get"))
		return;

	for (int i = 0; i < 256; i++)
		bytes[i] = (unsigned char)i;
	big = pattern(BIG_VALUE, 1);
	max = pattern(STORE_VALUE_MAX, 2);
	memset(long_key, 'k', sizeof(long_key));

	check_round_trip(&f, K("empty"), (const unsigned char *)"", 0,
			 "an empty value");
	check_round_trip(&f, K("small"), (const unsigned char *)"hello", 5,
			 "a small value");
	check_round_trip(&f, K("binary"), bytes, sizeof(bytes),
			 "all 256 byte values");
	check_round_trip(&f, K("big"), big, BIG_VALUE, "a 3 MiB value");
	check_round_trip(&f, K("max"), max, STORE_VALUE_MAX,
			 "a value of exactly STORE_VALUE_MAX bytes");
	check_round_trip(&f, long_key, sizeof(long_key),
			 (const unsigned char *)"long", 4, "a 512-byte key");
	check_round_trip(&f, K("odd \x01\x7f\xc3\xa9 key\0with NUL"),
			 (const unsigned char *)"odd", 3,
			 "a key with control bytes and NUL");

	s.len = 0;
	memset(&a, 0, sizeof(a));
	rc = f.st->ops->peek(f.st, f.ns, K("small"), 5, sink_write, &s, &a);
	CHECK(rc == 0 && a.size == 5 && s.len == 5 &&
		  !memcmp(s.data, "hello", 5),
	      "peek with max_size == size streams the value (%d)", rc);
	s.len = 0;
	memset(&a, 0, sizeof(a));
	rc = f.st->ops->peek(f.st, f.ns, K("small"), 4, sink_write, &s, &a);
	CHECK(rc == 0 && a.size == 5 && s.len == 0,
	      "peek with max_size < size fills attr, streams nothing (%d)", rc);
	s.len = 0;
	rc = f.st->ops->peek(f.st, f.ns, K("big"), BIG_VALUE, sink_write, &s,
			     &a);
	CHECK(rc == 0 && a.size == BIG_VALUE && s.len == BIG_VALUE &&
		  !memcmp(s.data, big, BIG_VALUE),
	      "peek of 3 MiB within max_size streams all of it (%d)", rc);
	rc = f.st->ops->peek(f.st, f.ns, K("missing"), 100, sink_write, &s, &a);
	CHECK(rc == -ENOENT, "peek of a missing key is -ENOENT (%d)", rc);

	rc = get_val(f.st, f.ns, K("missing"), &s, NULL);
	CHECK(rc == -ENOENT, "get of a missing key is -ENOENT (%d)", rc);
	CHECK(s.len == 0, "get of a missing key streams nothing");
	rc = stat_key(&f, K("missing"), &a);
	CHECK(rc == -ENOENT, "stat of a missing key is -ENOENT (%d)", rc);
	rc = stat_key(&f, K("empty"), &a);
	CHECK(rc == 0 && a.size == 0, "an empty value is present, not missing");
	rc = f.st->ops->stat(f.st, f.ns, K("small"), STORE_DIR, &a);
	CHECK(rc == -ENOENT, "stat of a key as STORE_DIR is -ENOENT (%d)", rc);
	CHECK(put_val(f.st, f.ns, K("no-out"), "x", 1, 0, NULL) == 0 &&
		  f.st->ops->get(f.st, f.ns, K("no-out"), sink_write, &s,
				 NULL) == 0,
	      "put with out NULL and get with attr NULL work");

	free(s.data);
	free(big);
	free(max);
	teardown(&f);
}

static void test_versions_and_times(void)
{
	struct fixture f;
	struct store_attr a1, a2, a3, a4, a5, st_attr;
	struct store_put p;
	struct src s;
	int64_t before, after;
	int rc;

	if (!setup(&f, "versions"))
		return;

	before = now_ns();
	rc = put_val(f.st, f.ns, K("v"), "first", 5, 0, &a1);
	after = now_ns();
	CHECK(rc == 0, "put a first value");
	CHECK(a1.mtime_ns >= before - NS_PER_SEC &&
		  a1.mtime_ns <= after + NS_PER_SEC,
	      "put with mtime_ns 0 sets mtime to now");
	CHECK(put_val(f.st, f.ns, K("v"), "second!", 7, 0, &a2) == 0 &&
		  a2.version != a1.version,
	      "a put changes the version (replace)");
	CHECK(put_val(f.st, f.ns, K("v"), "third", 5, 0, &a3) == 0 &&
		  a3.version != a2.version && a3.version != a1.version,
	      "each put changes the version (same size as an earlier one)");
	CHECK(put_val(f.st, f.ns, K("v"), "+", 1, STORE_PUT_APPEND, &a4) == 0 &&
		  a4.version != a3.version,
	      "an append changes the version");
	CHECK(stat_key(&f, K("v"), &st_attr) == 0 &&
		  st_attr.version == a4.version,
	      "stat shows the last put's version");

	CHECK(f.st->ops->remove(f.st, f.ns, K("v"), STORE_KEY) == 0 &&
		  put_val(f.st, f.ns, K("v"), "fifth", 5, 0, &a5) == 0,
	      "remove the key and put it again");
	CHECK(a5.version != a4.version, "a key put again after remove has a "
					"new version (its value changed)");

	put_init(&p, &s, "m", 1);
	p.attr.mtime_ns = 1234567890123456789LL;
	rc = f.st->ops->put(f.st, f.ns, K("mt"), &p, NULL);
	CHECK(rc == 0 && stat_key(&f, K("mt"), &st_attr) == 0 &&
		  st_attr.mtime_ns == 1234567890123456789LL,
	      "put with a given mtime_ns stores it");
	teardown(&f);
}

static void test_put_flags(void)
{
	struct fixture f;
	struct store_attr a, before;
	struct store_put p;
	struct src s;
	unsigned char *chunk;
	int rc;

	if (!setup(&f, "put flags"))
		return;

	/* STORE_PUT_EXCL */
	CHECK(put_str(&f, K("ex"), "one") == 0, "put a key to exclude");
	stat_key(&f, K("ex"), &before);
	rc = put_val(f.st, f.ns, K("ex"), "two", 3, STORE_PUT_EXCL, NULL);
	CHECK(rc == -EEXIST,
	      "STORE_PUT_EXCL over an existing key is -EEXIST (%d)", rc);
	CHECK(str_is(&f, K("ex"), "one"),
	      "a refused STORE_PUT_EXCL leaves the value");
	CHECK(stat_key(&f, K("ex"), &a) == 0 && a.version == before.version,
	      "a refused STORE_PUT_EXCL leaves the version");
	rc = put_val(f.st, f.ns, K("ex-new"), "new", 3, STORE_PUT_EXCL, NULL);
	CHECK(rc == 0 && str_is(&f, K("ex-new"), "new"),
	      "STORE_PUT_EXCL of a new key stores it (%d)", rc);

	/* STORE_PUT_APPEND */
	CHECK(put_str(&f, K("ap"), "hello") == 0, "put a key to append to");
	rc = put_val(f.st, f.ns, K("ap"), " world", 6, STORE_PUT_APPEND, &a);
	CHECK(rc == 0 && a.size == 11 && str_is(&f, K("ap"), "hello world"),
	      "STORE_PUT_APPEND appends (%d)", rc);
	rc = put_val(f.st, f.ns, K("ap"), "", 0, STORE_PUT_APPEND, &a);
	CHECK(rc == 0 && a.size == 11 && str_is(&f, K("ap"), "hello world"),
	      "appending nothing leaves the value (%d)", rc);
	chunk = pattern(BIG_VALUE, 3);
	put_init(&p, &s, chunk, BIG_VALUE);
	p.flags = STORE_PUT_APPEND;
	rc = f.st->ops->put(f.st, f.ns, K("ap"), &p, &a);
	CHECK(rc == 0 && s.bad_reads == 0 && a.size == 11 + BIG_VALUE,
	      "append 3 MiB: read offsets stay in [0, size) (%d, %d bad)", rc,
	      s.bad_reads);
	{
		unsigned char *whole = malloc(11 + BIG_VALUE);

		memcpy(whole, "hello world", 11);
		memcpy(whole + 11, chunk, BIG_VALUE);
		CHECK(value_is(f.st, f.ns, K("ap"), whole, 11 + BIG_VALUE),
		      "append 3 MiB: the value is the old one then the chunk");
		free(whole);
	}
	free(chunk);
	rc = put_val(f.st, f.ns, K("ap-new"), "abc", 3, STORE_PUT_APPEND, NULL);
	CHECK(rc == 0 && str_is(&f, K("ap-new"), "abc"),
	      "STORE_PUT_APPEND to a missing key creates it (%d)", rc);

	/* STORE_PUT_NEW_ONLY_ATTR */
	put_init(&p, &s, "x", 1);
	p.flags = STORE_PUT_NEW_ONLY_ATTR;
	p.attr.mode = S_IFREG | 0600;
	p.attr.uid = 11;
	p.attr.gid = 12;
	rc = f.st->ops->put(f.st, f.ns, K("na"), &p, NULL);
	CHECK(rc == 0 && stat_key(&f, K("na"), &a) == 0 &&
		  a.mode == (S_IFREG | 0600) && a.uid == 11 && a.gid == 12,
	      "STORE_PUT_NEW_ONLY_ATTR applies mode/uid/gid to a new key");
	p.attr.mode = S_IFREG | 0644;
	p.attr.uid = 21;
	p.attr.gid = 22;
	rc = f.st->ops->put(f.st, f.ns, K("na"), &p, NULL);
	CHECK(rc == 0 && stat_key(&f, K("na"), &a) == 0 &&
		  a.mode == (S_IFREG | 0600) && a.uid == 11 && a.gid == 12,
	      "STORE_PUT_NEW_ONLY_ATTR keeps an existing key's mode/uid/gid");
	p.flags = 0;
	rc = f.st->ops->put(f.st, f.ns, K("na"), &p, NULL);
	CHECK(rc == 0 && stat_key(&f, K("na"), &a) == 0 &&
		  a.mode == (S_IFREG | 0644) && a.uid == 21 && a.gid == 22,
	      "a put without STORE_PUT_NEW_ONLY_ATTR applies mode/uid/gid");
	teardown(&f);
}

static void test_metadata(void)
{
	struct fixture f;
	struct store_attr a;
	struct store_put p;
	struct rows r = {0};
	struct src s;
	int64_t later = (int64_t)time(NULL) + 3600;
	int rc;

	if (!setup(&f, "metadata"))
		return;

	put_init(&p, &s, "one", 3);
	p.metadata = "{\"a\":1}";
	p.expiration = later;
	rc = f.st->ops->put(f.st, f.ns, K("m"), &p, NULL);
	CHECK(rc == 0, "put with metadata and expiration (%d)", rc);
	CHECK(stat_key(&f, K("m"), &a) == 0 && a.expiration == later,
	      "stat shows the expiration");
	CHECK(row_of(&f, K("m"), &r) == 0 && r.v[0].has_meta &&
		  !strcmp(r.v[0].meta, "{\"a\":1}") &&
		  r.v[0].attr.expiration == later && r.v[0].attr.size == 3,
	      "list shows the metadata, expiration and size");

	put_init(&p, &s, "two!", 4);
	p.flags = STORE_PUT_KEEP_META;
	rc = f.st->ops->put(f.st, f.ns, K("m"), &p, NULL);
	CHECK(rc == 0 && str_is(&f, K("m"), "two!"),
	      "put with STORE_PUT_KEEP_META replaces the value (%d)", rc);
	CHECK(stat_key(&f, K("m"), &a) == 0 && a.expiration == later,
	      "STORE_PUT_KEEP_META keeps the expiration");
	CHECK(row_of(&f, K("m"), &r) == 0 && r.v[0].has_meta &&
		  !strcmp(r.v[0].meta, "{\"a\":1}"),
	      "STORE_PUT_KEEP_META keeps the metadata");

	put_init(&p, &s, "tri", 3);
	p.flags = STORE_PUT_KEEP_META | STORE_PUT_APPEND;
	rc = f.st->ops->put(f.st, f.ns, K("m"), &p, NULL);
	CHECK(
	    rc == 0 && str_is(&f, K("m"), "two!tri") &&
		row_of(&f, K("m"), &r) == 0 && r.v[0].has_meta &&
		r.v[0].attr.expiration == later,
	    "an append with STORE_PUT_KEEP_META keeps metadata and expiration");

	put_init(&p, &s, "four", 4);
	p.metadata = "{\"b\":2}";
	rc = f.st->ops->put(f.st, f.ns, K("m"), &p, NULL);
	CHECK(rc == 0 && row_of(&f, K("m"), &r) == 0 && r.v[0].has_meta &&
		  !strcmp(r.v[0].meta, "{\"b\":2}") &&
		  r.v[0].attr.expiration == 0,
	      "a put with new metadata and no expiration replaces both");

	put_init(&p, &s, "five", 4);
	rc = f.st->ops->put(f.st, f.ns, K("m"), &p, NULL);
	CHECK(rc == 0 && row_of(&f, K("m"), &r) == 0 && !r.v[0].has_meta,
	      "a put without STORE_PUT_KEEP_META clears the metadata");

	put_init(&p, &s, "six", 3);
	p.expiration = later;
	p.metadata = "{\"c\":3}";
	f.st->ops->put(f.st, f.ns, K("m"), &p, NULL);
	put_init(&p, &s, "seven", 5);
	rc = f.st->ops->put(f.st, f.ns, K("m"), &p, NULL);
	CHECK(rc == 0 && stat_key(&f, K("m"), &a) == 0 && a.expiration == 0,
	      "a put without STORE_PUT_KEEP_META clears the expiration");
	CHECK(row_of(&f, K("m"), &r) == 0 && !r.v[0].has_meta,
	      "... and the metadata with it");
	free(r.v);
	teardown(&f);
}

static void test_failed_read(void)
{
	struct fixture f;
	struct store_attr before, a;
	struct store_usage u0, u1;
	struct store_put p;
	struct src s;
	unsigned char *big = pattern(BIG_VALUE, 4);
	int rc;

	if (!setup(&f, "failed read")) {
		free(big);
		return;
	}

	CHECK(put_str(&f, K("old"), "old value") == 0 &&
		  stat_key(&f, K("old"), &before) == 0 &&
		  f.st->ops->usage(f.st, &u0) == 0,
	      "put a value to overwrite");

	put_init(&p, &s, big, BIG_VALUE);
	s.fail_rc = -EPROTO;
	s.fail_at = 0;
	rc = f.st->ops->put(f.st, f.ns, K("old"), &p, NULL);
	CHECK(rc < 0, "a put whose read fails at once fails (%d)", rc);
	CHECK(rc == -EPROTO, "... with the read callback's errno (%d)", rc);
	CHECK(str_is(&f, K("old"), "old value") &&
		  stat_key(&f, K("old"), &a) == 0 &&
		  a.version == before.version && a.size == 9,
	      "... and leaves the old value and version");

	put_init(&p, &s, big, BIG_VALUE);
	s.fail_rc = -EPROTO;
	s.fail_at = BIG_VALUE / 2;
	rc = f.st->ops->put(f.st, f.ns, K("old"), &p, NULL);
	CHECK(rc == -EPROTO && str_is(&f, K("old"), "old value"),
	      "a put whose read fails half way leaves the old value (%d)", rc);

	p.flags = STORE_PUT_APPEND;
	rc = f.st->ops->put(f.st, f.ns, K("old"), &p, NULL);
	CHECK(rc == -EPROTO && str_is(&f, K("old"), "old value"),
	      "an append whose read fails half way leaves the value (%d)", rc);

	p.flags = 0;
	rc = f.st->ops->put(f.st, f.ns, K("new"), &p, NULL);
	CHECK(rc == -EPROTO && stat_key(&f, K("new"), &a) == -ENOENT,
	      "a new key whose read fails is not created (%d)", rc);
	CHECK(f.st->ops->usage(f.st, &u1) == 0 && u1.bytes == u0.bytes &&
		  u1.keys == u0.keys,
	      "failed puts leave usage unchanged");
	free(big);
	teardown(&f);
}

/* ---- remove, mkdir, setattr ---- */

static void test_remove_mkdir_setattr(void)
{
	struct fixture f;
	struct store_attr a, b, set;
	int rc;

	if (!setup(&f, "remove/mkdir/setattr"))
		return;

	CHECK(put_str(&f, K("gone"), "bye") == 0, "put a key to remove");
	rc = f.st->ops->remove(f.st, f.ns, K("gone"), STORE_KEY);
	CHECK(rc == 0, "remove a key (%d)", rc);
	CHECK(stat_key(&f, K("gone"), &a) == -ENOENT,
	      "a removed key is missing for stat");
	rc = f.st->ops->remove(f.st, f.ns, K("gone"), STORE_KEY);
	CHECK(rc == -ENOENT, "remove of a missing key is -ENOENT (%d)", rc);

	a = (struct store_attr){.mode = MODE_DIR, .uid = 1000, .gid = 1000};
	rc = f.st->ops->mkdir(f.st, f.ns, K("m/"), &a);
	CHECK(rc == 0, "mkdir m/ (%d)", rc);
	rc = f.st->ops->stat(f.st, f.ns, K("m/"), STORE_DIR, &b);
	CHECK(rc == 0 && b.mode == MODE_DIR && b.uid == 1000 && b.gid == 1000,
	      "stat of the directory row shows its mode, uid, gid (%d)", rc);
	rc = f.st->ops->mkdir(f.st, f.ns, K("m/"), &a);
	CHECK(rc == -EEXIST, "mkdir of an existing directory is -EEXIST (%d)",
	      rc);
	CHECK(stat_key(&f, K("m/"), &b) == -ENOENT,
	      "a directory row is not a key");
	CHECK(any_prefix(f.st, f.ns, K("m/")) == 1,
	      "any() sees a directory row");

	CHECK(put_str(&f, K("sa"), "attrs") == 0 &&
		  stat_key(&f, K("sa"), &a) == 0,
	      "put a key for setattr");
	set = (struct store_attr){.mode = S_IFREG | 0600, .uid = 7, .gid = 8};
	rc = f.st->ops->setattr(f.st, f.ns, K("sa"), STORE_KEY, STORE_SET_MODE,
				&set);
	CHECK(rc == 0 && stat_key(&f, K("sa"), &b) == 0 &&
		  b.mode == (S_IFREG | 0600) && b.uid == 1000 && b.gid == 1000,
	      "setattr STORE_SET_MODE changes the mode only (%d)", rc);
	rc = f.st->ops->setattr(f.st, f.ns, K("sa"), STORE_KEY, STORE_SET_UID,
				&set);
	CHECK(rc == 0 && stat_key(&f, K("sa"), &b) == 0 && b.uid == 7 &&
		  b.gid == 1000,
	      "setattr STORE_SET_UID changes the uid only (%d)", rc);
	rc = f.st->ops->setattr(f.st, f.ns, K("sa"), STORE_KEY, STORE_SET_GID,
				&set);
	CHECK(rc == 0 && stat_key(&f, K("sa"), &b) == 0 && b.uid == 7 &&
		  b.gid == 8,
	      "setattr STORE_SET_GID changes the gid (%d)", rc);
	set.mtime_ns = 1000000000LL * 1500000000 + 42;
	rc = f.st->ops->setattr(f.st, f.ns, K("sa"), STORE_KEY, STORE_SET_MTIME,
				&set);
	CHECK(rc == 0 && stat_key(&f, K("sa"), &b) == 0 &&
		  b.mtime_ns == set.mtime_ns && b.mode == (S_IFREG | 0600),
	      "setattr STORE_SET_MTIME sets mtime to the nanosecond (%d)", rc);
	CHECK(b.ctime_ns >= a.ctime_ns, "setattr does not move ctime back");
	CHECK(b.size == 5 && str_is(&f, K("sa"), "attrs"),
	      "setattr leaves the value");
	set.mode = MODE_DIR | 0700;
	set.uid = 9;
	rc = f.st->ops->setattr(f.st, f.ns, K("m/"), STORE_DIR,
				STORE_SET_MODE | STORE_SET_UID, &set);
	CHECK(rc == 0 &&
		  f.st->ops->stat(f.st, f.ns, K("m/"), STORE_DIR, &b) == 0 &&
		  b.mode == (MODE_DIR | 0700) && b.uid == 9,
	      "setattr of a directory row (%d)", rc);
	rc = f.st->ops->setattr(f.st, f.ns, K("nope"), STORE_KEY,
				STORE_SET_MODE, &set);
	CHECK(rc == -ENOENT, "setattr of a missing key is -ENOENT (%d)", rc);

	rc = f.st->ops->remove(f.st, f.ns, K("m/"), STORE_DIR);
	CHECK(rc == 0 && f.st->ops->stat(f.st, f.ns, K("m/"), STORE_DIR, &b) ==
			     -ENOENT,
	      "remove a directory row (%d)", rc);
	teardown(&f);
}

/* ---- expiration ---- */

static void test_expired(void)
{
	struct fixture f;
	struct store_attr a, set = {.mode = S_IFREG | 0600};
	struct store_put p;
	struct rows r = {0};
	struct sink sk = {0};
	struct src s;
	int64_t now = (int64_t)time(NULL), soon;
	static const char *const old[] = {"x/old1", "x/old2", "x/old3",
					  "x/old4", "x/old5"};
	int rc;

	if (!setup(&f, "expired"))
		return;

	CHECK(put_str(&f, K("x/live"), "live") == 0,
	      "put a live key beside the expired ones");
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		put_init(&p, &s, "stale", 5);
		p.metadata = "{\"old\":true}";
		p.expiration = now - 1;
		p.attr.mode = S_IFREG | 0644;
		rc = f.st->ops->put(f.st, f.ns, old[i], strlen(old[i]), &p,
				    NULL);
		if (rc)
			CHECK(0, "put %s with an expiration in the past: %d",
			      old[i], rc);
	}
	rc = stat_key(&f, K("x/old1"), &a);
	CHECK(rc == -ENOENT, "stat of an expired key is -ENOENT (%d)", rc);
	rc = get_val(f.st, f.ns, K("x/old1"), &sk, NULL);
	CHECK(rc == -ENOENT && sk.len == 0,
	      "get of an expired key is -ENOENT (%d)", rc);
	rc = list_prefix(f.st, f.ns, K("x/"), &r);
	CHECK(rc == 0 && r.n == 1 && rows_have(&r, K("x/live")),
	      "list skips expired keys (%d, %zu rows)", rc, r.n);
	rc = any_prefix(f.st, f.ns, K("x/old"));
	CHECK(rc == 0, "any() is 0 over only expired keys (%d)", rc);
	rc = f.st->ops->remove(f.st, f.ns, K("x/old1"), STORE_KEY);
	CHECK(rc == -ENOENT, "remove of an expired key is -ENOENT (%d)", rc);
	rc = f.st->ops->setattr(f.st, f.ns, K("x/old2"), STORE_KEY,
				STORE_SET_MODE, &set);
	CHECK(rc == -ENOENT, "setattr of an expired key is -ENOENT (%d)", rc);
	rc = f.st->ops->rename(f.st, f.ns, K("x/old2"), f.ns, K("x/new"),
			       STORE_KEY, false);
	CHECK(rc == -ENOENT && stat_key(&f, K("x/new"), &a) == -ENOENT,
	      "rename of an expired key is -ENOENT (%d)", rc);

	/* A put over an expired key starts fresh. */
	rc = put_val(f.st, f.ns, K("x/old1"), "new1", 4, STORE_PUT_EXCL, NULL);
	CHECK(rc == 0 && str_is(&f, K("x/old1"), "new1"),
	      "STORE_PUT_EXCL over an expired key succeeds (%d)", rc);
	CHECK(stat_key(&f, K("x/old1"), &a) == 0 && a.expiration == 0,
	      "... and the new key has no expiration");
	put_init(&p, &s, "new2", 4);
	p.flags = STORE_PUT_APPEND | STORE_PUT_KEEP_META;
	rc = f.st->ops->put(f.st, f.ns, K("x/old2"), &p, NULL);
	CHECK(rc == 0 && str_is(&f, K("x/old2"), "new2"),
	      "an append over an expired key starts from empty (%d)", rc);
	CHECK(row_of(&f, K("x/old2"), &r) == 0 && !r.v[0].has_meta &&
		  r.v[0].attr.expiration == 0,
	      "STORE_PUT_KEEP_META over an expired key keeps neither metadata "
	      "nor expiration");
	put_init(&p, &s, "new3", 4);
	p.flags = STORE_PUT_NEW_ONLY_ATTR;
	p.attr.mode = S_IFREG | 0600;
	rc = f.st->ops->put(f.st, f.ns, K("x/old3"), &p, NULL);
	CHECK(rc == 0 && stat_key(&f, K("x/old3"), &a) == 0 &&
		  a.mode == (S_IFREG | 0600),
	      "STORE_PUT_NEW_ONLY_ATTR over an expired key applies the new "
	      "mode (%d)",
	      rc);
	CHECK(put_str(&f, K("x/src"), "src") == 0, "put x/src");
	rc = f.st->ops->rename(f.st, f.ns, K("x/src"), f.ns, K("x/old4"),
			       STORE_KEY, true);
	CHECK(rc == 0 && str_is(&f, K("x/old4"), "src"),
	      "rename noreplace onto an expired key succeeds (%d)", rc);

	{
		int64_t fleeting = -1;

		rc = f.st->ops->ns_create(f.st, "fleeting", &fleeting);
		put_init(&p, &s, "gone", 4);
		p.expiration = now - 1;
		if (rc == 0)
			rc = f.st->ops->put(f.st, fleeting, K("k"), &p, NULL);
		if (rc == 0)
			rc = f.st->ops->ns_remove(f.st, "fleeting");
		CHECK(rc == 0,
		      "ns_remove of a namespace holding only an "
		      "expired key succeeds (%d)",
		      rc);
	}

	/* The expiration boundary: expired at or before now. */
	put_init(&p, &s, "edge", 4);
	p.expiration = (int64_t)time(NULL);
	rc = f.st->ops->put(f.st, f.ns, K("x/edge"), &p, NULL);
	CHECK(rc == 0 && stat_key(&f, K("x/edge"), &a) == -ENOENT,
	      "a key whose expiration is exactly now is expired");

	/* A key that expires while the store is open (the one sleep). */
	soon = (int64_t)time(NULL) + 2;
	put_init(&p, &s, "soon", 4);
	p.expiration = soon;
	p.metadata = "{\"soon\":1}";
	rc = f.st->ops->put(f.st, f.ns, K("x/soon"), &p, NULL);
	CHECK(rc == 0 && stat_key(&f, K("x/soon"), &a) == 0 &&
		  a.expiration == soon,
	      "a key expiring in 2 s is there now (%d)", rc);
	while ((int64_t)time(NULL) <= soon)
		usleep(100000);
	CHECK(stat_key(&f, K("x/soon"), &a) == -ENOENT,
	      "once its time passes, stat says -ENOENT");
	CHECK(get_val(f.st, f.ns, K("x/soon"), &sk, NULL) == -ENOENT,
	      "once its time passes, get says -ENOENT");
	CHECK(f.st->ops->peek(f.st, f.ns, K("x/soon"), 100, sink_write, &sk,
			      &a) == -ENOENT,
	      "once its time passes, peek says -ENOENT");
	rc = list_prefix(f.st, f.ns, K("x/"), &r);
	CHECK(rc == 0 && !rows_have(&r, K("x/soon")) &&
		  rows_have(&r, K("x/live")),
	      "once its time passes, list skips it");
	CHECK(any_prefix(f.st, f.ns, K("x/soon")) == 0,
	      "once its time passes, any() is 0");
	put_init(&p, &s, "again", 5);
	p.flags = STORE_PUT_APPEND | STORE_PUT_KEEP_META;
	rc = f.st->ops->put(f.st, f.ns, K("x/soon"), &p, NULL);
	CHECK(rc == 0 && str_is(&f, K("x/soon"), "again") &&
		  row_of(&f, K("x/soon"), &r) == 0 && !r.v[0].has_meta &&
		  r.v[0].attr.expiration == 0,
	      "a put over it starts fresh (%d)", rc);
	free(sk.data);
	free(r.v);
	teardown(&f);
}

/* ---- list and any ---- */

static const struct key_ref order_keys[] = {
    {K("a")},	{K("a\0")}, {K("a\0b")}, {K("a\x7f")},	  {K("a\xc3\xa9")},
    {K("a/")},	{K("a/b")}, {K("a%")},	 {K("a%b")},	  {K("a_")},
    {K("a_b")}, {K("ab")},  {K("aB")},	 {K("A")},	  {K("B")},
    {K("\0")},	{K("b")},   {K("a0")},	 {K("\xc3\xa9")}, {K("\x7f")},
    {K("z")},	{K("a&")},  {K("a`")},	 {K("a.")},
};

#define ORDER_KEYS (sizeof(order_keys) / sizeof(order_keys[0]))

static void test_list(void)
{
	struct fixture f;
	struct store_attr a = {.mode = MODE_DIR, .uid = -1, .gid = -1};
	struct rows r = {0};
	char hi[KEY_BUF];
	int rc, fails = 0;

	if (!setup(&f, "list"))
		return;

	for (size_t i = 0; i < ORDER_KEYS; i++)
		if (put_val(f.st, f.ns, order_keys[i].key, order_keys[i].len,
			    "v", 1, 0, NULL))
			fails++;
	CHECK(fails == 0, "put %zu keys with odd bytes", ORDER_KEYS);

	CHECK(
	    list_matches(&f, order_keys, ORDER_KEYS, "", 0, NULL, 0, NO_LIMIT),
	    "list of everything is in memcmp order");
	store_prefix_end(K("a%"), hi);
	CHECK(
	    list_matches(&f, order_keys, ORDER_KEYS, K("a%"), hi, 2, NO_LIMIT),
	    "list of prefix \"a%%\" treats %% literally");
	store_prefix_end(K("a_"), hi);
	CHECK(
	    list_matches(&f, order_keys, ORDER_KEYS, K("a_"), hi, 2, NO_LIMIT),
	    "list of prefix \"a_\" treats _ literally");
	CHECK(
	    list_matches(&f, order_keys, ORDER_KEYS, K("a"), K("a/"), NO_LIMIT),
	    "list honours lo (inclusive) and hi (exclusive)");
	CHECK(list_matches(&f, order_keys, ORDER_KEYS, K("a\0"), NULL, 0, 3),
	      "list from a lo with a NUL byte, limit 3");
	CHECK(list_matches(&f, order_keys, ORDER_KEYS, K("a\x7f"),
			   K("a\xc3\xa9\0"), NO_LIMIT),
	      "list between 0x7f and a UTF-8 sequence");
	CHECK(list_matches(&f, order_keys, ORDER_KEYS, K("A"), NULL, 0, 1),
	      "list with limit 1");
	CHECK(list_matches(&f, order_keys, ORDER_KEYS, K("zz"), NULL, 0,
			   NO_LIMIT),
	      "list past the last key is empty");

	rc = f.st->ops->mkdir(f.st, f.ns, K("a/"), &a);
	CHECK(rc == 0, "mkdir a/ beside the key a/ (%d)", rc);
	rc = list_prefix(f.st, f.ns, K("a/"), &r);
	CHECK(rc == 0 && r.n == 3, "list of a/ has 3 rows (%d, %zu)", rc, r.n);
	CHECK(r.n == 3 && !key_cmp(r.v[0].key, r.v[0].key_len, K("a/")) &&
		  r.v[0].kind == STORE_KEY &&
		  !key_cmp(r.v[1].key, r.v[1].key_len, K("a/")) &&
		  r.v[1].kind == STORE_DIR &&
		  !key_cmp(r.v[2].key, r.v[2].key_len, K("a/b")) &&
		  r.v[2].kind == STORE_KEY,
	      "list orders by key then kind: key a/, dir a/, key a/b");
	CHECK(r.n == 3 && r.v[1].attr.mode == MODE_DIR,
	      "list shows a directory row's mode");

	r.stop_at = 2;
	rc = list_rows(f.st, f.ns, "", 0, NULL, 0, NO_LIMIT, &r);
	CHECK(rc == 0 && r.n == 2,
	      "a callback returning 1 stops the list, which returns 0 (%d, %zu "
	      "rows)",
	      rc, r.n);
	r.stop_at = 0;
	r.fail_rc = -ECANCELED;
	rc = list_rows(f.st, f.ns, "", 0, NULL, 0, NO_LIMIT, &r);
	CHECK(rc == -ECANCELED,
	      "a callback's negative errno fails the list with it (%d)", rc);
	r.fail_rc = 0;

	CHECK(any_prefix(f.st, f.ns, K("a%")) == 1, "any() of prefix a%%");
	CHECK(any_prefix(f.st, f.ns, K("c")) == 0, "any() of an empty range");
	CHECK(f.st->ops->any(f.st, f.ns, K("a/b"), K("a/b\0")) == 1,
	      "any() of the one-key range [a/b, a/b\\0)");
	CHECK(f.st->ops->any(f.st, f.ns, K("a/b\0"), K("a/c")) == 0,
	      "any() of (a/b, a/c) is 0");
	CHECK(any_prefix(f.st, f.ns, K("a%\x7f")) == 0,
	      "any() of prefix a%%\\x7f is 0 (a\\x7f does not match)");
	free(r.v);
	teardown(&f);
}

/* Key i of the pagination set: "p", then i's decimal digits as tokens. */
static size_t page_key(int i, char *out)
{
	static const struct key_ref digit[10] = {
	    {K("\0")},
	    {K("a")},
	    {K("Z")},
	    {K("/")},
	    {K("%")},
	    {K("_")},
	    {K("\x7f")},
	    {K("\xc3\xa9")},
	    {K("\xe2\x82\xac")},
	    {K("\xf0\x9f\x98\x80")},
	};
	char digits[16];
	size_t len = 0;

	out[len++] = 'p';
	snprintf(digits, sizeof(digits), "%d", i);
	for (char *d = digits; *d; d++) {
		memcpy(out + len, digit[*d - '0'].key, digit[*d - '0'].len);
		len += digit[*d - '0'].len;
	}
	return len;
}

/* Walks [p, q) in pages of limit rows; true if it meets want[] exactly. */
static bool paginate(struct fixture *f, const struct key_ref *want, size_t n,
		     int limit)
{
	struct rows r = {0};
	char lo[KEY_BUF + 1] = "p";
	size_t lo_len = 1, seen = 0;
	bool ok = true;

	for (;;) {
		int rc = list_rows(f->st, f->ns, lo, lo_len, "q", 1, limit, &r);

		if (rc || r.oversize || r.n > (size_t)limit) {
			printf("# page from row %zu: %d, %zu rows\n", seen, rc,
			       r.n);
			ok = false;
			break;
		}
		if (r.n == 0)
			break;
		for (size_t i = 0; i < r.n && ok; i++, seen++) {
			if (seen >= n ||
			    key_cmp(r.v[i].key, r.v[i].key_len, want[seen].key,
				    want[seen].len)) {
				printf("# page: row %zu is not key %zu\n", i,
				       seen);
				ok = false;
			}
		}
		if (!ok)
			break;
		memcpy(lo, r.v[r.n - 1].key, r.v[r.n - 1].key_len);
		lo[r.v[r.n - 1].key_len] = '\0';
		lo_len = r.v[r.n - 1].key_len + 1;
	}
	if (ok && seen != n) {
		printf("# pagination saw %zu keys of %zu\n", seen, n);
		ok = false;
	}
	free(r.v);
	return ok;
}

static void test_pagination(void)
{
	struct fixture f;
	static char keys[PAGE_KEYS][24];
	struct key_ref want[PAGE_KEYS];
	int fails = 0;

	if (!setup(&f, "pagination"))
		return;

	for (int i = 0; i < PAGE_KEYS; i++) {
		want[i].key = keys[i];
		want[i].len = page_key(i, keys[i]);
	}
	/* Insert out of key order; 7919 is prime, so each i comes once. */
	for (int j = 0; j < PAGE_KEYS; j++) {
		int i = (int)((j * 7919L) % PAGE_KEYS);

		if (put_val(f.st, f.ns, want[i].key, want[i].len, &i, sizeof(i),
			    0, NULL))
			fails++;
	}
	fails += put_str(&f, K("o9"), "outside") != 0;
	fails += put_str(&f, K("q"), "outside") != 0;
	CHECK(fails == 0, "put %d keys to paginate over", PAGE_KEYS);

	qsort(want, PAGE_KEYS, sizeof(want[0]), key_ref_cmp);
	CHECK(paginate(&f, want, PAGE_KEYS, 97),
	      "pages of 97, next lo = last key + NUL, visit all %d keys once "
	      "in order",
	      PAGE_KEYS);
	CHECK(paginate(&f, want, PAGE_KEYS, 1),
	      "pages of 1 visit all %d keys once in order (pa, pa\\0, ...)",
	      PAGE_KEYS);
	teardown(&f);
}

/* ---- rename ---- */

static void test_rename_key(void)
{
	struct fixture f;
	struct store_attr a;
	struct store_put p;
	struct rows r = {0};
	struct src s;
	int64_t other = -1;
	int rc;

	if (!setup(&f, "rename"))
		return;

	put_init(&p, &s, "A", 1);
	p.metadata = "{\"m\":\"a\"}";
	p.attr.mode = S_IFREG | 0640;
	CHECK(f.st->ops->put(f.st, f.ns, K("r/a"), &p, NULL) == 0,
	      "put r/a to rename");
	rc = f.st->ops->rename(f.st, f.ns, K("r/a"), f.ns, K("r/b"), STORE_KEY,
			       true);
	CHECK(rc == 0, "rename r/a to a new name r/b (%d)", rc);
	CHECK(stat_key(&f, K("r/a"), &a) == -ENOENT,
	      "the old name is missing after rename");
	CHECK(str_is(&f, K("r/b"), "A") && stat_key(&f, K("r/b"), &a) == 0 &&
		  a.mode == (S_IFREG | 0640),
	      "the new name has the value and mode");
	CHECK(row_of(&f, K("r/b"), &r) == 0 && r.v[0].has_meta &&
		  !strcmp(r.v[0].meta, "{\"m\":\"a\"}"),
	      "the new name has the metadata");

	CHECK(put_str(&f, K("r/c"), "C") == 0, "put r/c");
	rc = f.st->ops->rename(f.st, f.ns, K("r/b"), f.ns, K("r/c"), STORE_KEY,
			       true);
	CHECK(rc == -EEXIST,
	      "rename noreplace onto an existing key is -EEXIST (%d)", rc);
	CHECK(str_is(&f, K("r/b"), "A") && str_is(&f, K("r/c"), "C"),
	      "a refused rename leaves both keys");
	rc = f.st->ops->rename(f.st, f.ns, K("r/b"), f.ns, K("r/c"), STORE_KEY,
			       false);
	CHECK(rc == 0 && str_is(&f, K("r/c"), "A") &&
		  stat_key(&f, K("r/b"), &a) == -ENOENT,
	      "rename onto an existing key replaces it (%d)", rc);
	CHECK(list_prefix(f.st, f.ns, K("r/"), &r) == 0 && r.n == 1,
	      "the replaced key is gone (%zu rows under r/)", r.n);
	rc = f.st->ops->rename(f.st, f.ns, K("r/none"), f.ns, K("r/x"),
			       STORE_KEY, false);
	CHECK(rc == -ENOENT, "rename of a missing key is -ENOENT (%d)", rc);

	rc = f.st->ops->ns_create(f.st, "other", &other);
	CHECK(rc == 0, "create a second namespace (%d)", rc);
	rc = f.st->ops->rename(f.st, f.ns, K("r/c"), other, K("moved"),
			       STORE_KEY, false);
	CHECK(rc == 0 && stat_key(&f, K("r/c"), &a) == -ENOENT &&
		  value_is(f.st, other, K("moved"), "A", 1),
	      "rename of a key across namespaces (%d)", rc);

	a = (struct store_attr){.mode = MODE_DIR, .uid = -1, .gid = -1};
	CHECK(f.st->ops->mkdir(f.st, f.ns, K("cd/"), &a) == 0 &&
		  put_str(&f, K("cd/1"), "1") == 0 &&
		  put_str(&f, K("cd/2"), "2") == 0,
	      "make a directory with two keys");
	rc = f.st->ops->rename(f.st, f.ns, K("cd/"), other, K("od/"), STORE_DIR,
			       true);
	CHECK(rc == 0 && any_prefix(f.st, f.ns, K("cd/")) == 0 &&
		  list_prefix(f.st, other, K("od/"), &r) == 0 && r.n == 3 &&
		  value_is(f.st, other, K("od/2"), "2", 1),
	      "rename of a directory across namespaces (%d)", rc);
	free(r.v);
	teardown(&f);
}

static void test_rename_dir(void)
{
	struct fixture f;
	struct store_attr a = {.mode = MODE_DIR, .uid = 1000, .gid = 1000};
	struct rows r = {0};
	char key[32], val[32];
	int fails = 0, rc;
	bool ok;

	if (!setup(&f, "rename dir"))
		return;

	fails += f.st->ops->mkdir(f.st, f.ns, K("d/"), &a) != 0;
	fails += f.st->ops->mkdir(f.st, f.ns, K("d/sub/"), &a) != 0;
	fails += put_str(&f, K("d/sub/x"), "deep") != 0;
	for (int i = 0; i < DIR_KEYS; i++) {
		snprintf(key, sizeof(key), "d/k%04d", i);
		snprintf(val, sizeof(val), "value %d", i);
		fails += put_val(f.st, f.ns, key, strlen(key), val, strlen(val),
				 0, NULL) != 0;
	}
	fails += put_str(&f, K("d"), "plain d") != 0;
	fails += put_str(&f, K("d0"), "after d/") != 0;
	fails += put_str(&f, K("c/x"), "before d/") != 0;
	CHECK(fails == 0, "make d/ with %d keys, a subdirectory, neighbours",
	      DIR_KEYS);

	fails = f.st->ops->mkdir(f.st, f.ns, K("f/"), &a) != 0;
	rc = f.st->ops->rename(f.st, f.ns, K("d/"), f.ns, K("f/"), STORE_DIR,
			       true);
	CHECK(fails == 0 && rc == -EEXIST,
	      "rename noreplace of d/ onto an existing directory f/ is -EEXIST "
	      "(%d)",
	      rc);
	CHECK(list_prefix(f.st, f.ns, K("d/"), &r) == 0 && r.n == DIR_KEYS + 3,
	      "a refused directory rename moves nothing (%zu rows)", r.n);

	rc = f.st->ops->rename(f.st, f.ns, K("d/"), f.ns, K("e/"), STORE_DIR,
			       true);
	CHECK(rc == 0, "rename directory d/ to e/ in one call (%d)", rc);
	CHECK(any_prefix(f.st, f.ns, K("d/")) == 0, "nothing is left under d/");
	rc = list_prefix(f.st, f.ns, K("e/"), &r);
	CHECK(rc == 0 && r.n == DIR_KEYS + 3, "all %d rows are under e/ (%zu)",
	      DIR_KEYS + 3, r.n);
	ok = r.n == DIR_KEYS + 3;
	for (int i = 0; ok && i < DIR_KEYS; i++) {
		snprintf(key, sizeof(key), "e/k%04d", i);
		ok = rows_have(&r, key, strlen(key));
	}
	CHECK(ok, "every key d/kNNNN is now e/kNNNN");
	CHECK(
	    f.st->ops->stat(f.st, f.ns, K("e/"), STORE_DIR, &a) == 0 &&
		a.mode == MODE_DIR &&
		f.st->ops->stat(f.st, f.ns, K("e/sub/"), STORE_DIR, &a) == 0 &&
		f.st->ops->stat(f.st, f.ns, K("d/"), STORE_DIR, &a) == -ENOENT,
	    "the directory rows moved too, d/ -> e/, d/sub/ -> e/sub/");
	CHECK(str_is(&f, K("e/k0000"), "value 0") &&
		  str_is(&f, K("e/k0999"), "value 999") &&
		  str_is(&f, K("e/sub/x"), "deep"),
	      "moved keys keep their values");
	CHECK(str_is(&f, K("d"), "plain d") &&
		  str_is(&f, K("d0"), "after d/") &&
		  str_is(&f, K("c/x"), "before d/"),
	      "keys beside the prefix (d, d0, c/x) stay");

	fails = f.st->ops->mkdir(f.st, f.ns, K("a_/"), &a) != 0;
	fails += put_str(&f, K("a_/1"), "under a_") != 0;
	fails += put_str(&f, K("ab/1"), "under ab") != 0;
	rc = f.st->ops->rename(f.st, f.ns, K("a_/"), f.ns, K("z/"), STORE_DIR,
			       true);
	CHECK(fails == 0 && rc == 0 && str_is(&f, K("z/1"), "under a_") &&
		  str_is(&f, K("ab/1"), "under ab"),
	      "rename of prefix a_/ treats _ literally (ab/1 stays)");
	free(r.v);
	teardown(&f);
}

/* ---- usage ---- */

static bool usage_delta(struct fixture *f, struct store_usage *base,
			int64_t bytes, int64_t keys)
{
	struct store_usage u;
	bool ok;

	if (f->st->ops->usage(f->st, &u))
		return false;
	ok = (int64_t)(u.bytes - base->bytes) == bytes &&
	     (int64_t)(u.keys - base->keys) == keys;
	if (!ok)
		printf("# usage moved by %lld bytes, %lld keys\n",
		       (long long)(u.bytes - base->bytes),
		       (long long)(u.keys - base->keys));
	*base = u;
	return ok;
}

static void test_usage(void)
{
	struct fixture f;
	struct store_usage u;
	unsigned char *val = pattern(100, 5);
	int64_t other = -1;

	if (!setup(&f, "usage")) {
		free(val);
		return;
	}

	CHECK(f.st->ops->usage(f.st, &u) == 0 && u.bytes == 0 && u.keys == 0,
	      "a new store uses 0 bytes in 0 keys");
	put_val(f.st, f.ns, K("u1"), val, 100, 0, NULL);
	CHECK(usage_delta(&f, &u, 100, 1), "put 100 bytes: +100 bytes, +1 key");
	put_val(f.st, f.ns, K("u1"), val, 40, 0, NULL);
	CHECK(usage_delta(&f, &u, -60, 0), "replace with 40 bytes: -60 bytes");
	put_val(f.st, f.ns, K("u1"), val, 5, STORE_PUT_APPEND, NULL);
	CHECK(usage_delta(&f, &u, 5, 0), "append 5 bytes: +5 bytes");
	put_val(f.st, f.ns, K("u1"), val, 5, STORE_PUT_EXCL, NULL);
	CHECK(usage_delta(&f, &u, 0, 0), "a refused STORE_PUT_EXCL: no change");
	f.st->ops->ns_create(f.st, "other", &other);
	put_val(f.st, other, K("u2"), val, 30, 0, NULL);
	CHECK(usage_delta(&f, &u, 30, 1),
	      "put 30 bytes in another namespace: +30 bytes, +1 key");
	put_val(f.st, f.ns, K("u3"), "", 0, 0, NULL);
	CHECK(usage_delta(&f, &u, 0, 1), "put an empty value: +1 key");
	put_val(f.st, f.ns, K("u4"), val, 10, 0, NULL);
	CHECK(usage_delta(&f, &u, 10, 1), "put 10 bytes: +10 bytes, +1 key");
	f.st->ops->rename(f.st, other, K("u2"), f.ns, K("u4"), STORE_KEY,
			  false);
	CHECK(usage_delta(&f, &u, -10, -1),
	      "rename onto a 10-byte key: -10 bytes, -1 key");
	f.st->ops->remove(f.st, f.ns, K("u1"), STORE_KEY);
	CHECK(usage_delta(&f, &u, -45, -1), "remove 45 bytes: -45, -1 key");
	f.st->ops->remove(f.st, f.ns, K("u4"), STORE_KEY);
	f.st->ops->remove(f.st, f.ns, K("u3"), STORE_KEY);
	CHECK(usage_delta(&f, &u, -30, -2) && u.bytes == 0 && u.keys == 0,
	      "remove the rest: back to 0 bytes, 0 keys");
	free(val);
	teardown(&f);
}

/* ---- threads ---- */

struct worker {
	pthread_t thread;
	struct store *st;
	int64_t ns;
	int id;
	int failed;
	int first_rc;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char key[32], val[64];

	for (int i = 0; i < THREAD_PUTS; i++) {
		int rc;

		snprintf(key, sizeof(key), "t%d/%03d", w->id, i);
		snprintf(val, sizeof(val), "thread %d put %d", w->id, i);
		rc = put_val(w->st, w->ns, key, strlen(key), val, strlen(val),
			     0, NULL);
		if (rc) {
			if (!w->failed)
				w->first_rc = rc;
			w->failed++;
		}
	}
	return NULL;
}

static void test_threads(void)
{
	struct fixture f;
	struct worker w[THREADS];
	struct rows r = {0};
	char key[32], val[64];
	int failed = 0, first_rc = 0, wrong = 0, rc;

	if (!setup(&f, "threads"))
		return;

	for (int t = 0; t < THREADS; t++) {
		w[t] = (struct worker){.st = f.st, .ns = f.ns, .id = t};
		if (pthread_create(&w[t].thread, NULL, worker_run, &w[t])) {
			perror("pthread_create");
			exit(2);
		}
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(w[t].thread, NULL);
		failed += w[t].failed;
		if (w[t].failed && !first_rc)
			first_rc = w[t].first_rc;
	}
	CHECK(failed == 0,
	      "%d threads each put %d keys to one store: %d failed (first: %d)",
	      THREADS, THREAD_PUTS, failed, first_rc);
	rc = list_rows(f.st, f.ns, "t", 1, "u", 1, NO_LIMIT, &r);
	CHECK(rc == 0 && r.n == THREADS * THREAD_PUTS,
	      "all %d keys are listed (%zu)", THREADS * THREAD_PUTS, r.n);
	for (int t = 0; t < THREADS; t++) {
		for (int i = 0; i < THREAD_PUTS; i++) {
			snprintf(key, sizeof(key), "t%d/%03d", t, i);
			snprintf(val, sizeof(val), "thread %d put %d", t, i);
			if (!value_is(f.st, f.ns, key, strlen(key), val,
				      strlen(val)))
				wrong++;
		}
	}
	CHECK(wrong == 0, "every key has its value (%d wrong)", wrong);
	free(r.v);
	teardown(&f);
}

/* ---- store_prefix_end ---- */

static void test_prefix_end(void)
{
	char out[8];

	memset(out, 'X', sizeof(out));
	store_prefix_end("a/", 2, out);
	CHECK(!memcmp(out, "a0", 2), "store_prefix_end(\"a/\") is \"a0\"");
	store_prefix_end("a%", 2, out);
	CHECK(!memcmp(out, "a&", 2), "store_prefix_end(\"a%%\") is \"a&\"");
	store_prefix_end("x\x7f", 2, out);
	CHECK(!memcmp(out, "x\x80", 2),
	      "store_prefix_end(\"x\\x7f\") is \"x\\x80\"");
	store_prefix_end("\0", 1, out);
	CHECK(out[0] == 1, "store_prefix_end(\"\\0\") is \"\\x01\"");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);

	test_prefix_end();
	test_open_refuses_foreign_files();
	test_open_and_persistence();
	test_namespaces();
	test_put_get();
	test_versions_and_times();
	test_put_flags();
	test_metadata();
	test_failed_read();
	test_remove_mkdir_setattr();
	test_expired();
	test_list();
	test_pagination();
	test_rename_key();
	test_rename_dir();
	test_usage();
	test_threads();

	printf("1..%d\n", check_count);
	return CHECK_DONE();
}
