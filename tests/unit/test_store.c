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
#include <fcntl.h>
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

/*
 * The directory's files (the database, its journals, the folder of
 * value files and what it holds), then itself.
 */
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
		if (e->d_type == DT_DIR)
			remove_dir(path);
		else
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
	struct rows r = {0};
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

	/* A mount that still holds a file open in alpha stores nothing. */
	rc = put_val(f.st, alpha, K("late"), "v", 1, 0, NULL);
	CHECK(rc == -ENOENT, "a put into a removed namespace is -ENOENT (%d)",
	      rc);
	rc = f.st->ops->mkdir(f.st, alpha, K("d/"), &a);
	CHECK(rc == -ENOENT, "so is a mkdir in it (%d)", rc);
	put_val(f.st, beta, K("m"), "moving", 6, 0, NULL);
	rc = f.st->ops->rename(f.st, beta, K("m"), alpha, K("m"), STORE_KEY,
			       false);
	CHECK(rc == -ENOENT && value_is(f.st, beta, K("m"), "moving", 6),
	      "and a rename into it, which leaves the key (%d)", rc);
	f.st->ops->remove(f.st, beta, K("m"), STORE_KEY);

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
	/* SQLite alone would give the next namespace the id alpha had. */
	rc = f.st->ops->ns_create(f.st, "gamma", &id);
	CHECK(rc == 0 && id > beta,
	      "a namespace made later gets a new id, none a removed one had "
	      "(%d, %lld after %lld)",
	      rc, (long long)id, (long long)beta);
	rc = put_val(f.st, alpha, K("late"), "v", 1, 0, NULL);
	CHECK(rc == -ENOENT &&
		  list_rows(f.st, id, NULL, 0, NULL, 0, NO_LIMIT, &r) == 0 &&
		  r.n == 0,
	      "so a put into the removed alpha is still -ENOENT, and gamma "
	      "shows nothing (%d, %zu rows)",
	      rc, r.n);
	free(r.v);
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

/* lookup(): a directory first, else the key, else -ENOENT. */
static void test_lookup(void)
{
	struct fixture f;
	struct store_attr a;
	bool is_dir;
	int rc;

	if (!setup(&f, "lookup"))
		return;
	CHECK(put_str(&f, K("k"), "value") == 0 &&
		  put_str(&f, K("both"), "key") == 0 &&
		  put_str(&f, K("both/child"), "c") == 0 &&
		  put_str(&f, K("d/child"), "c") == 0 &&
		  put_str(&f, K("k."), "a neighbour, not a child") == 0,
	      "put the keys to look up");
	memset(&a, 0, sizeof(a));
	rc = f.st->ops->lookup(f.st, f.ns, K("k"), &a, &is_dir);
	CHECK(rc == 0 && !is_dir && a.size == 5 && a.version > 0,
	      "a key: its attributes (%d, dir %d, size %llu)", rc, is_dir,
	      (unsigned long long)a.size);
	rc = f.st->ops->lookup(f.st, f.ns, K("d"), &a, &is_dir);
	CHECK(rc == 0 && is_dir, "keys under d/: a directory (%d)", rc);
	rc = f.st->ops->lookup(f.st, f.ns, K("both"), &a, &is_dir);
	CHECK(rc == 0 && is_dir,
	      "a key that also has keys under it: the directory wins (%d)", rc);
	rc = f.st->ops->lookup(f.st, f.ns, K("none"), &a, &is_dir);
	CHECK(rc == -ENOENT && !is_dir, "neither: -ENOENT (%d)", rc);
	rc = f.st->ops->lookup(f.st, f.ns, K("d/chil"), &a, &is_dir);
	CHECK(rc == -ENOENT, "a prefix of a key is nothing (%d)", rc);
	teardown(&f);
}

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
	{
		bool is_dir = true;

		rc = f.st->ops->lookup(f.st, f.ns, K("x/old1"), &a, &is_dir);
		CHECK(rc == -ENOENT && !is_dir,
		      "lookup of an expired key is -ENOENT (%d)", rc);
	}
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
	fails = put_str(&f, K("f/late"), "stored meanwhile") != 0;
	rc = f.st->ops->rename(f.st, f.ns, K("d/"), f.ns, K("f/"), STORE_DIR,
			       false);
	CHECK(fails == 0 && rc == -ENOTEMPTY &&
		  str_is(&f, K("f/late"), "stored meanwhile"),
	      "rename of d/ onto f/ holding a key is -ENOTEMPTY, the key "
	      "stays (%d)",
	      rc);
	fails = f.st->ops->remove(f.st, f.ns, K("f/late"), STORE_KEY) != 0;
	CHECK(fails == 0 && list_prefix(f.st, f.ns, K("d/"), &r) == 0 &&
		  r.n == DIR_KEYS + 3,
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

/* ---- metadata, expiration and other attributes ---- */

#define XNAME_MAX 64   /* room for any attribute name these tests use */
#define XNAMES	  16   /* attributes a list may report here */
#define DEEP_JSON 2100 /* nesting deeper than SQLite's JSON parser takes */
#define OK_DEEP	  500  /* nesting it takes: 1000 bytes of compact JSON */
#define JSON_BUF  8192

/* A NULL-terminated list of attribute names. */
#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_NAMES   ((const char *const[]){NULL})

/* Names reported by xattr_list, copied out of the callback. */
struct names {
	char v[XNAMES][XNAME_MAX];
	int n;
	int bad_ns;   /* calls whose ns argument was not 0 */
	int overflow; /* names that did not fit */
};

static int names_add(void *ctx, int64_t ns, const char *name)
{
	struct names *x = ctx;

	if (ns != 0)
		x->bad_ns++;
	if (x->n == XNAMES || strlen(name) >= XNAME_MAX) {
		x->overflow++;
		return 0;
	}
	strcpy(x->v[x->n++], name);
	return 0;
}

static int xlist(struct fixture *f, const char *key, size_t key_len,
		 enum store_kind kind, struct names *x)
{
	memset(x, 0, sizeof(*x));
	return f->st->ops->xattr_list(f->st, f->ns, key, key_len, kind,
				      names_add, x);
}

/* True if xattr_list gives exactly the names of want, in any order. */
static bool names_are(struct fixture *f, const char *key, size_t key_len,
		      enum store_kind kind, const char *const *want)
{
	struct names x;
	int rc = xlist(f, key, key_len, kind, &x), n;
	bool ok = rc == 0 && !x.overflow && !x.bad_ns;

	for (n = 0; want[n]; n++) {
		bool found = false;

		for (int i = 0; i < x.n; i++)
			if (!strcmp(x.v[i], want[n]))
				found = true;
		if (!found)
			ok = false;
	}
	if (x.n != n)
		ok = false;
	if (!ok) {
		printf("# xattr_list: %d with %d names, expected %d:", rc, x.n,
		       n);
		for (int i = 0; i < x.n; i++)
			printf(" %s", x.v[i]);
		printf("%s\n", x.bad_ns ? " (an ns argument was not 0)" : "");
	}
	return ok;
}

static int xset(struct fixture *f, const char *key, size_t key_len,
		enum store_kind kind, const char *name, const void *val,
		size_t len, int flags)
{
	return f->st->ops->xattr_set(f->st, f->ns, key, key_len, kind, name,
				     val, len, flags);
}

/* xattr_get into a buffer with room for any attribute. */
static int xget(struct fixture *f, const char *key, size_t key_len,
		enum store_kind kind, const char *name)
{
	unsigned char *buf = malloc(STORE_XATTR_MAX + 64);
	size_t len = 0;
	int rc;

	if (!buf) {
		perror("malloc");
		exit(2);
	}
	rc = f->st->ops->xattr_get(f->st, f->ns, key, key_len, kind, name, buf,
				   STORE_XATTR_MAX + 64, &len);
	free(buf);
	return rc;
}

static int xremove(struct fixture *f, const char *key, size_t key_len,
		   enum store_kind kind, const char *name)
{
	return f->st->ops->xattr_remove(f->st, f->ns, key, key_len, kind, name);
}

/*
 * True if attribute name of the row is exactly want[0..want_len), asked
 * for as getxattr(2) does: the length with size 0 (buf untouched), then
 * the bytes into a large buffer.
 */
static bool xattr_is(struct fixture *f, const char *key, size_t key_len,
		     enum store_kind kind, const char *name, const void *want,
		     size_t want_len)
{
	size_t cap = STORE_XATTR_MAX + 64, len0 = 0, len = 0;
	unsigned char *buf = malloc(cap);
	int rc0, rc;
	bool ok;

	if (!buf) {
		perror("malloc");
		exit(2);
	}
	memset(buf, 0xee, cap);
	rc0 = f->st->ops->xattr_get(f->st, f->ns, key, key_len, kind, name, buf,
				    0, &len0);
	ok = rc0 == 0 && len0 == want_len && buf[0] == 0xee;
	rc = f->st->ops->xattr_get(f->st, f->ns, key, key_len, kind, name, buf,
				   cap, &len);
	ok = ok && rc == 0 && len == want_len &&
	     (want_len == 0 || !memcmp(buf, want, want_len));
	if (!ok)
		printf("# xattr_get %s: size 0: %d, %zu; then %d, %zu bytes; "
		       "expected %zu bytes\n",
		       name, rc0, len0, rc, len, want_len);
	free(buf);
	return ok;
}

static int meta_set(struct fixture *f, const char *key, size_t key_len,
		    const char *json, size_t json_len)
{
	return f->st->ops->meta_set(f->st, f->ns, key, key_len, json, json_len);
}

/* meta_get into a buffer with room for any metadata. */
static int meta_rc(struct fixture *f, const char *key, size_t key_len)
{
	char buf[STORE_META_MAX + 64];
	size_t len = 0;

	return f->st->ops->meta_get(f->st, f->ns, key, key_len, buf,
				    sizeof(buf), &len);
}

/*
 * True if key's metadata is exactly want, asked for as getxattr(2)
 * does: the length with size 0 (buf untouched), then the bytes.
 */
static bool meta_is(struct fixture *f, const char *key, size_t key_len,
		    const char *want)
{
	char buf[STORE_META_MAX + 64];
	size_t want_len = strlen(want), len0 = 0, len = 0;
	int rc0, rc;
	bool ok;

	memset(buf, '#', sizeof(buf));
	rc0 = f->st->ops->meta_get(f->st, f->ns, key, key_len, buf, 0, &len0);
	ok = rc0 == 0 && len0 == want_len && buf[0] == '#';
	rc = f->st->ops->meta_get(f->st, f->ns, key, key_len, buf, sizeof(buf),
				  &len);
	ok = ok && rc == 0 && len == want_len && !memcmp(buf, want, want_len);
	if (!ok)
		printf("# meta_get: size 0: %d, %zu; then %d, %zu bytes "
		       "\"%.*s\"; expected %zu bytes \"%s\"\n",
		       rc0, len0, rc, len,
		       (int)(rc == 0 && len < sizeof(buf) ? len : 0), buf,
		       want_len, want);
	return ok;
}

static int expire(struct fixture *f, const char *key, size_t key_len,
		  int64_t expiration)
{
	return f->st->ops->expire(f->st, f->ns, key, key_len, expiration);
}

static int64_t expiration_of(struct fixture *f, const char *key, size_t key_len)
{
	struct store_attr a;
	int rc = stat_key(f, key, key_len, &a);

	return rc ? rc : a.expiration;
}

/*
 * Give key metadata {"d":1}, expiration exp and attributes user.a = A,
 * user.b = B; true if every call succeeds.
 */
static bool dress(struct fixture *f, const char *key, size_t key_len,
		  int64_t exp)
{
	return meta_set(f, key, key_len, K("{\"d\":1}")) == 0 &&
	       expire(f, key, key_len, exp) == 0 &&
	       xset(f, key, key_len, STORE_KEY, "user.a", "A", 1, 0) == 0 &&
	       xset(f, key, key_len, STORE_KEY, "user.b", "B", 1, 0) == 0;
}

/* True if key still has all that dress() gave it. */
static bool dressed(struct fixture *f, const char *key, size_t key_len,
		    int64_t exp)
{
	int64_t e = expiration_of(f, key, key_len);

	if (e != exp)
		printf("# expiration %lld, expected %lld\n", (long long)e,
		       (long long)exp);
	return e == exp && meta_is(f, key, key_len, "{\"d\":1}") &&
	       names_are(f, key, key_len, STORE_KEY,
			 NAMES("user.a", "user.b")) &&
	       xattr_is(f, key, key_len, STORE_KEY, "user.a", "A", 1) &&
	       xattr_is(f, key, key_len, STORE_KEY, "user.b", "B", 1);
}

/* True if key is there without metadata, expiration or attributes. */
static bool bare(struct fixture *f, const char *key, size_t key_len)
{
	int64_t e = expiration_of(f, key, key_len);
	int rc = meta_rc(f, key, key_len);

	if (e != 0 || rc != -ENODATA)
		printf("# expiration (or stat's error) %lld, meta_get %d\n",
		       (long long)e, rc);
	return e == 0 && rc == -ENODATA &&
	       names_are(f, key, key_len, STORE_KEY, NO_NAMES);
}

/*
 * A count from the database file itself, through a connection of our
 * own (the store's tables as store_sqlite.c creates them); -1 on error.
 */
static long long db_count(struct fixture *f, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	long long n = -1;
	int rc;

	rc = sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	}
	if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	if (n < 0)
		printf("# %s: %s\n", sql, db ? sqlite3_errmsg(db) : "no db");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

#define SQL_XATTRS "SELECT count(*) FROM xattr"
#define SQL_ORPHANS                                                            \
	"SELECT count(*) FROM xattr WHERE row NOT IN (SELECT id FROM kv)"
#define SQL_ROWS "SELECT count(*) FROM kv"

/* n copies of c at p; returns p + n. */
static char *fill(char *p, int c, size_t n)
{
	memset(p, c, n);
	return p + n;
}

/* {"k":"<n bytes of c>"}: 8 + n bytes of compact JSON, NUL-terminated. */
static size_t meta_of_size(char *out, int c, size_t n)
{
	char *p = out;

	memcpy(p, "{\"k\":\"", 6);
	p = fill(p + 6, c, n);
	memcpy(p, "\"}", 3);
	return 8 + n;
}

struct bad_json {
	const char *json;
	size_t len;
	const char *what;
};

static void test_meta(void)
{
	static const struct bad_json bad[] = {
	    {K(""), "empty input"},
	    {K(" \t\n"), "only whitespace"},
	    {K("{"), "an unclosed object"},
	    {K("{\"a\":}"), "a member without a value"},
	    {K("{\"a\" 1}"), "a member without a colon"},
	    {K("[1,]"), "a trailing comma"},
	    {K("{a:1}"), "an unquoted member name"},
	    {K("'a'"), "a single-quoted string"},
	    {K("nul"), "a misspelt literal"},
	    {K("\"open"), "an unterminated string"},
	    {K("\"a\nb\""), "a raw newline inside a string"},
	    {K("{\"a\":1} x"), "trailing garbage after an object"},
	    {K("{\"a\":1}}"), "a trailing extra brace"},
	    {K("1 2"), "two values"},
	    {K("{\"a\":1}\0"), "a trailing NUL byte"},
	    {K("{}\0{}"), "a NUL byte then more JSON"},
	    /* JSON5, which json() takes from SQLite 3.42 on. */
	    {K("0x10"), "a JSON5 hex number"},
	    {K("[1] // note"), "a JSON5 comment"},
	    {K("{\"a\":Infinity}"), "JSON5 Infinity"},
	    {K("[.5]"), "a JSON5 number without a leading digit"},
	    {K("\"a\\\nb\""), "a JSON5 escaped line break"},
	    /* JSON is UTF-8; json() does not check the bytes of a string. */
	    {K("\"\xff\""), "a string holding byte 0xff"},
	    {K("{\"\xc3\":1}"), "a member name cut inside a character"},
	    {K("[\"\xed\xa0\x80\"]"), "a UTF-16 surrogate in UTF-8"},
	    {K("\"\xc0\xaf\""), "an overlong form"},
	};
	struct fixture f;
	struct store_attr a = {.mode = MODE_DIR, .uid = -1, .gid = -1};
	struct store_put p;
	struct rows r = {0};
	struct src s;
	char *json = malloc(JSON_BUF), *want = malloc(JSON_BUF), *q, *end_quote;
	char buf[16];
	size_t len, n;
	int rc, changed = 0;

	if (!json || !want) {
		perror("malloc");
		exit(2);
	}
	if (!setup(&f, "meta")) {
		free(json);
		free(want);
		return;
	}

	CHECK(put_str(&f, K("m"), "value") == 0, "put a key for metadata");
	rc = f.st->ops->meta_get(f.st, f.ns, K("m"), buf, sizeof(buf), &len);
	CHECK(rc == -ENODATA,
	      "meta_get of a key without metadata is -ENODATA (%d)", rc);
	rc = f.st->ops->meta_get(f.st, f.ns, K("none"), buf, sizeof(buf), &len);
	CHECK(rc == -ENOENT, "meta_get of a missing key is -ENOENT (%d)", rc);
	rc = meta_set(&f, K("none"), K("{}"));
	CHECK(rc == -ENOENT && stat_key(&f, K("none"), &a) == -ENOENT,
	      "meta_set of a missing key is -ENOENT and creates nothing (%d)",
	      rc);
	a = (struct store_attr){.mode = MODE_DIR, .uid = -1, .gid = -1};
	rc = f.st->ops->mkdir(f.st, f.ns, K("d/"), &a);
	CHECK(rc == 0 && meta_set(&f, K("d/"), K("{}")) == -ENOENT &&
		  meta_rc(&f, K("d/")) == -ENOENT,
	      "meta_set/meta_get of a name that is only a directory row are "
	      "-ENOENT (metadata is a key's)");

	rc = meta_set(&f, K("m"), K("{\"a\":1}"));
	CHECK(rc == 0 && meta_is(&f, K("m"), "{\"a\":1}"),
	      "meta_set stores JSON, meta_get returns it (%d)", rc);
	CHECK(row_of(&f, K("m"), &r) == 0 && r.v[0].has_meta &&
		  !strcmp(r.v[0].meta, "{\"a\":1}"),
	      "list shows metadata set by meta_set");
	CHECK(str_is(&f, K("m"), "value"), "meta_set leaves the value");

	/* getxattr(2)'s way of copying. */
	len = 0;
	rc = f.st->ops->meta_get(f.st, f.ns, K("m"), NULL, 0, &len);
	CHECK(rc == 0 && len == 7,
	      "meta_get with size 0 and no buffer gives the length only (%d, "
	      "%zu)",
	      rc, len);
	memset(buf, '#', sizeof(buf));
	rc = f.st->ops->meta_get(f.st, f.ns, K("m"), buf, 6, &len);
	CHECK(rc == -ERANGE,
	      "meta_get with a size one short of the length is -ERANGE (%d)",
	      rc);
	memset(buf, '#', sizeof(buf));
	len = 0;
	rc = f.st->ops->meta_get(f.st, f.ns, K("m"), buf, 7, &len);
	CHECK(rc == 0 && len == 7 && !memcmp(buf, "{\"a\":1}", 7) &&
		  buf[7] == '#',
	      "meta_get with size exactly the length copies it and writes "
	      "nothing past it (%d, %zu)",
	      rc, len);

	/*
	 * Not JSON: -EINVAL, and the metadata stays.  Each call starts from
	 * {"a":1}, so one wrongly accepted input does not spoil the rest.
	 */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		meta_set(&f, K("m"), K("{\"a\":1}"));
		rc = meta_set(&f, K("m"), bad[i].json, bad[i].len);
		CHECK(rc == -EINVAL, "meta_set of %s is -EINVAL (%d)",
		      bad[i].what, rc);
		if (rc && !meta_is(&f, K("m"), "{\"a\":1}"))
			changed++;
	}
	meta_set(&f, K("m"), K("{\"a\":1}"));
	q = fill(json, '[', DEEP_JSON);
	fill(q, ']', DEEP_JSON);
	rc = meta_set(&f, K("m"), json, 2 * DEEP_JSON);
	CHECK(rc == -EINVAL,
	      "meta_set of arrays nested %d deep (past SQLite's JSON depth "
	      "limit) is -EINVAL (%d)",
	      DEEP_JSON, rc);
	if (rc && !meta_is(&f, K("m"), "{\"a\":1}"))
		changed++;
	CHECK(changed == 0,
	      "refused meta_set calls leave the metadata (%d changed it)",
	      changed);

	q = fill(json, '[', OK_DEEP);
	q = fill(q, ' ', 100);
	*fill(q, ']', OK_DEEP) = '\0';
	q = fill(want, '[', OK_DEEP);
	*fill(q, ']', OK_DEEP) = '\0';
	rc = meta_set(&f, K("m"), json, strlen(json));
	CHECK(rc == 0 && meta_is(&f, K("m"), want),
	      "meta_set of arrays nested %d deep (1000 bytes) works (%d)",
	      OK_DEEP, rc);

	/* The compact form. */
	rc = meta_set(&f, K("m"),
		      K(" {\t\"a b\" :\r\n [ 1 , \"x  y\\t z\" , { } ] ,\n"
			"  \"c\" : null ,\"e\": \"\" , \"t\" :true } \n"));
	CHECK(rc == 0 && meta_is(&f, K("m"),
				 "{\"a b\":[1,\"x  y\\t z\",{}],\"c\":null,"
				 "\"e\":\"\",\"t\":true}"),
	      "meta_set drops whitespace outside strings (space, tab, CR, LF) "
	      "and keeps it inside (%d)",
	      rc);
	CHECK(row_of(&f, K("m"), &r) == 0 && r.v[0].has_meta &&
		  !strcmp(r.v[0].meta, "{\"a b\":[1,\"x  y\\t z\",{}],"
				       "\"c\":null,\"e\":\"\",\"t\":true}"),
	      "list shows the compact form");
	rc = meta_set(&f, K("m"), K("  \" s p \"  "));
	CHECK(rc == 0 && meta_is(&f, K("m"), "\" s p \""),
	      "meta_set of a string with spaces around and inside (%d)", rc);
	rc = meta_set(&f, K("m"), K(" 42\n"));
	CHECK(rc == 0 && meta_is(&f, K("m"), "42"),
	      "meta_set of a bare number (%d)", rc);
	rc = meta_set(&f, K("m"), "{\"b\":2}IGNORED", 7);
	CHECK(rc == 0 && meta_is(&f, K("m"), "{\"b\":2}"),
	      "meta_set reads json_len bytes, not up to a NUL (%d)", rc);

	/* STORE_META_MAX bytes of compact form. */
	n = meta_of_size(want, 'x', STORE_META_MAX - 8);
	rc = meta_set(&f, K("m"), want, n);
	CHECK(n == STORE_META_MAX && rc == 0 && meta_is(&f, K("m"), want),
	      "meta_set of exactly STORE_META_MAX (%d) bytes works (%d)",
	      STORE_META_MAX, rc);
	n = meta_of_size(json, 'y', STORE_META_MAX - 7);
	rc = meta_set(&f, K("m"), json, n);
	CHECK(rc == -ERANGE,
	      "meta_set of STORE_META_MAX + 1 bytes is -ERANGE "
	      "(%d)",
	      rc);
	CHECK(meta_is(&f, K("m"), want),
	      "a refused meta_set (-ERANGE) leaves the metadata");
	n = meta_of_size(json, ' ', STORE_META_MAX - 7);
	rc = meta_set(&f, K("m"), json, n);
	CHECK(rc == -ERANGE,
	      "spaces inside strings count: %zu bytes of them is -ERANGE "
	      "(%d)",
	      n, rc);
	n = meta_of_size(want, ' ', STORE_META_MAX - 8);
	rc = meta_set(&f, K("m"), want, n);
	CHECK(rc == 0 && meta_is(&f, K("m"), want),
	      "... and exactly STORE_META_MAX bytes with spaces inside a "
	      "string works (%d)",
	      rc);

	/* A long input whose compact form is exactly the limit. */
	q = fill(json, ' ', 2000);
	q = fill(q, '{', 1);
	q = fill(q, '\n', 1500);
	q = fill(q, '"', 1);
	q = fill(q, 'k', 1);
	q = fill(q, '"', 1);
	q = fill(q, '\t', 500);
	q = fill(q, ':', 1);
	q = fill(q, ' ', 500);
	q = fill(q, '"', 1);
	q = fill(q, 'z', STORE_META_MAX - 8);
	end_quote = q;
	q = fill(q, '"', 1);
	q = fill(q, '\r', 300);
	q = fill(q, '}', 1);
	q = fill(q, ' ', 1000);
	meta_of_size(want, 'z', STORE_META_MAX - 8);
	rc = meta_set(&f, K("m"), json, (size_t)(q - json));
	CHECK(rc == 0 && meta_is(&f, K("m"), want),
	      "meta_set of %zu bytes whose compact form is STORE_META_MAX "
	      "works (%d)",
	      (size_t)(q - json), rc);
	end_quote[0] = 'z'; /* the string's closing quote, then a \r */
	end_quote[1] = '"';
	rc = meta_set(&f, K("m"), json, (size_t)(q - json));
	CHECK(rc == -ERANGE,
	      "... but one more byte in the string makes it -ERANGE (%d)", rc);

	/* NULL clears. */
	rc = meta_set(&f, K("m"), NULL, 0);
	CHECK(rc == 0 && meta_rc(&f, K("m")) == -ENODATA,
	      "meta_set of NULL clears the metadata (%d)", rc);
	CHECK(row_of(&f, K("m"), &r) == 0 && !r.v[0].has_meta,
	      "list shows no metadata once cleared");
	CHECK(str_is(&f, K("m"), "value"), "clearing leaves the value");

	put_init(&p, &s, "pv", 2);
	p.metadata = "{\"p\":1}";
	rc = f.st->ops->put(f.st, f.ns, K("pm"), &p, NULL);
	CHECK(rc == 0 && meta_is(&f, K("pm"), "{\"p\":1}"),
	      "meta_get returns metadata given to put (%d)", rc);

	free(r.v);
	free(json);
	free(want);
	teardown(&f);
}

static void test_expire(void)
{
	struct fixture f;
	struct store_attr a;
	struct rows r = {0};
	struct sink sk = {0};
	int64_t now = (int64_t)time(NULL), later = now + 3600;
	int rc;

	if (!setup(&f, "expire"))
		return;

	CHECK(put_str(&f, K("e"), "ev") == 0 &&
		  meta_set(&f, K("e"), K("{\"e\":1}")) == 0 &&
		  xset(&f, K("e"), STORE_KEY, "user.e", "E", 1, 0) == 0,
	      "put a key with metadata and an attribute to expire");
	rc = expire(&f, K("e"), later);
	CHECK(rc == 0 && expiration_of(&f, K("e")) == later,
	      "expire sets the expiration stat shows (%d)", rc);
	CHECK(row_of(&f, K("e"), &r) == 0 && r.v[0].attr.expiration == later,
	      "list shows the expiration");
	CHECK(str_is(&f, K("e"), "ev") && meta_is(&f, K("e"), "{\"e\":1}") &&
		  xattr_is(&f, K("e"), STORE_KEY, "user.e", "E", 1),
	      "expire leaves the value, metadata and attributes");
	rc = expire(&f, K("e"), later + 60);
	CHECK(rc == 0 && expiration_of(&f, K("e")) == later + 60,
	      "expire changes an expiration (%d)", rc);
	rc = expire(&f, K("e"), 0);
	CHECK(rc == 0 && expiration_of(&f, K("e")) == 0,
	      "expire with 0 clears it (%d)", rc);
	a = (struct store_attr){.mode = MODE_DIR, .uid = -1, .gid = -1};
	rc = f.st->ops->mkdir(f.st, f.ns, K("d/"), &a);
	CHECK(rc == 0 && expire(&f, K("d/"), later) == -ENOENT,
	      "expire of a name that is only a directory row is -ENOENT");
	rc = expire(&f, K("none"), later);
	CHECK(rc == -ENOENT && stat_key(&f, K("none"), &a) == -ENOENT,
	      "expire of a missing key is -ENOENT and creates nothing (%d)",
	      rc);

	rc = expire(&f, K("e"), now - 10);
	CHECK(rc == 0 && stat_key(&f, K("e"), &a) == -ENOENT,
	      "expire to a time in the past makes the key missing (%d)", rc);
	CHECK(get_val(f.st, f.ns, K("e"), &sk, NULL) == -ENOENT, "... for get");
	CHECK(meta_rc(&f, K("e")) == -ENOENT, "... for meta_get");
	CHECK(meta_set(&f, K("e"), K("{}")) == -ENOENT, "... for meta_set");
	CHECK(xget(&f, K("e"), STORE_KEY, "user.e") == -ENOENT,
	      "... for xattr_get");
	CHECK(xset(&f, K("e"), STORE_KEY, "user.f", "F", 1, 0) == -ENOENT,
	      "... for xattr_set");
	{
		struct names x;

		CHECK(xlist(&f, K("e"), STORE_KEY, &x) == -ENOENT,
		      "... for xattr_list");
	}
	CHECK(xremove(&f, K("e"), STORE_KEY, "user.e") == -ENOENT,
	      "... for xattr_remove");
	rc = expire(&f, K("e"), 0);
	CHECK(rc == -ENOENT && stat_key(&f, K("e"), &a) == -ENOENT,
	      "expire cannot bring an expired key back (%d)", rc);

	CHECK(put_str(&f, K("e2"), "now") == 0, "put a key to expire now");
	rc = expire(&f, K("e2"), (int64_t)time(NULL));
	CHECK(rc == 0 && stat_key(&f, K("e2"), &a) == -ENOENT,
	      "expire to exactly now makes the key missing (%d)", rc);
	free(sk.data);
	free(r.v);
	teardown(&f);
}

static void test_xattr(void)
{
	static const char bin[] = {'\0', 'a', '\0', '\xff', '\0'};
	struct fixture f, g;
	struct store_attr a = {.mode = MODE_DIR, .uid = -1, .gid = -1};
	unsigned char buf[16];
	struct names x;
	size_t len;
	int rc;

	if (!setup(&f, "xattr"))
		return;

	CHECK(put_str(&f, K("x"), "val") == 0, "put a key for attributes");
	CHECK(names_are(&f, K("x"), STORE_KEY, NO_NAMES),
	      "a new key lists no attributes");
	rc = xget(&f, K("x"), STORE_KEY, "user.a");
	CHECK(rc == -ENODATA,
	      "xattr_get of an attribute the key lacks is -ENODATA (%d)", rc);
	rc = xget(&f, K("none"), STORE_KEY, "user.a");
	CHECK(rc == -ENOENT, "xattr_get of a missing key is -ENOENT (%d)", rc);
	rc = xset(&f, K("none"), STORE_KEY, "user.a", "A", 1, 0);
	CHECK(rc == -ENOENT && stat_key(&f, K("none"), &a) == -ENOENT,
	      "xattr_set of a missing key is -ENOENT, creates nothing (%d)",
	      rc);
	rc = xlist(&f, K("none"), STORE_KEY, &x);
	CHECK(rc == -ENOENT, "xattr_list of a missing key is -ENOENT (%d)", rc);
	rc = xremove(&f, K("none"), STORE_KEY, "user.a");
	CHECK(rc == -ENOENT, "xattr_remove of a missing key is -ENOENT (%d)",
	      rc);
	rc = xset(&f, K("x"), STORE_DIR, "user.a", "A", 1, 0);
	CHECK(rc == -ENOENT,
	      "xattr_set of a key as STORE_DIR (no such row) is -ENOENT (%d)",
	      rc);

	rc = xset(&f, K("x"), STORE_KEY, "user.a", "alpha", 5, 0);
	CHECK(rc == 0 && xattr_is(&f, K("x"), STORE_KEY, "user.a", "alpha", 5),
	      "xattr_set then xattr_get (%d)", rc);
	len = 0;
	rc = f.st->ops->xattr_get(f.st, f.ns, K("x"), STORE_KEY, "user.a", NULL,
				  0, &len);
	CHECK(rc == 0 && len == 5,
	      "xattr_get with size 0 and no buffer gives the length (%d, %zu)",
	      rc, len);
	rc = f.st->ops->xattr_get(f.st, f.ns, K("x"), STORE_KEY, "user.a", buf,
				  4, &len);
	CHECK(rc == -ERANGE,
	      "xattr_get with a size one short of the length is -ERANGE (%d)",
	      rc);
	memset(buf, '#', sizeof(buf));
	len = 0;
	rc = f.st->ops->xattr_get(f.st, f.ns, K("x"), STORE_KEY, "user.a", buf,
				  5, &len);
	CHECK(rc == 0 && len == 5 && !memcmp(buf, "alpha", 5) && buf[5] == '#',
	      "xattr_get with size exactly the length copies it and writes "
	      "nothing past it (%d, %zu)",
	      rc, len);

	rc = xset(&f, K("x"), STORE_KEY, "user.bin", bin, sizeof(bin), 0);
	CHECK(rc == 0 &&
		  xattr_is(&f, K("x"), STORE_KEY, "user.bin", bin, sizeof(bin)),
	      "a binary value with NUL bytes comes back whole (%d)", rc);
	rc = xset(&f, K("x"), STORE_KEY, "user.empty", "", 0, 0);
	CHECK(rc == 0 && xattr_is(&f, K("x"), STORE_KEY, "user.empty", "", 0),
	      "an empty value is stored and is not -ENODATA (%d)", rc);
	CHECK(names_are(&f, K("x"), STORE_KEY,
			NAMES("user.a", "user.bin", "user.empty")),
	      "xattr_list gives each name once, with ns argument 0");

	/* Flags. */
	rc = xset(&f, K("x"), STORE_KEY, "user.a", "other", 5,
		  STORE_XATTR_CREATE);
	CHECK(rc == -EEXIST,
	      "STORE_XATTR_CREATE of an existing attribute is -EEXIST (%d)",
	      rc);
	CHECK(xattr_is(&f, K("x"), STORE_KEY, "user.a", "alpha", 5),
	      "... and leaves its value");
	rc = xset(&f, K("x"), STORE_KEY, "user.c", "c", 1, STORE_XATTR_CREATE);
	CHECK(rc == 0 && xattr_is(&f, K("x"), STORE_KEY, "user.c", "c", 1),
	      "STORE_XATTR_CREATE of a new attribute creates it (%d)", rc);
	rc = xset(&f, K("x"), STORE_KEY, "user.r", "r", 1, STORE_XATTR_REPLACE);
	CHECK(rc == -ENODATA,
	      "STORE_XATTR_REPLACE of a missing attribute is -ENODATA (%d)",
	      rc);
	CHECK(xget(&f, K("x"), STORE_KEY, "user.r") == -ENODATA,
	      "... and does not create it");
	rc = xset(&f, K("x"), STORE_KEY, "user.a", "beta!!", 6,
		  STORE_XATTR_REPLACE);
	CHECK(rc == 0 && xattr_is(&f, K("x"), STORE_KEY, "user.a", "beta!!", 6),
	      "STORE_XATTR_REPLACE of an existing attribute replaces it (%d)",
	      rc);
	rc = xset(&f, K("x"), STORE_KEY, "user.a", "g", 1, 0);
	CHECK(rc == 0 && xattr_is(&f, K("x"), STORE_KEY, "user.a", "g", 1),
	      "xattr_set without flags replaces a shorter value (%d)", rc);

	/* Remove. */
	rc = xremove(&f, K("x"), STORE_KEY, "user.c");
	CHECK(rc == 0 && xget(&f, K("x"), STORE_KEY, "user.c") == -ENODATA,
	      "xattr_remove removes the attribute (%d)", rc);
	rc = xremove(&f, K("x"), STORE_KEY, "user.c");
	CHECK(rc == -ENODATA,
	      "xattr_remove of a missing attribute is -ENODATA (%d)", rc);
	CHECK(names_are(&f, K("x"), STORE_KEY,
			NAMES("user.a", "user.bin", "user.empty")),
	      "xattr_list no longer gives a removed name");
	CHECK(xattr_is(&f, K("x"), STORE_KEY, "user.bin", bin, sizeof(bin)),
	      "removing one attribute leaves the others");
	CHECK(str_is(&f, K("x"), "val") && meta_rc(&f, K("x")) == -ENODATA,
	      "attributes leave the value, and are not metadata");
	rc = meta_set(&f, K("x"), K("{\"m\":1}"));
	CHECK(rc == 0 && names_are(&f, K("x"), STORE_KEY,
				   NAMES("user.a", "user.bin", "user.empty")),
	      "metadata is not one of the other attributes xattr_list gives");

	/* STORE_DIR rows, and a key of the same name. */
	a = (struct store_attr){.mode = MODE_DIR, .uid = -1, .gid = -1};
	CHECK(f.st->ops->mkdir(f.st, f.ns, K("d/"), &a) == 0 &&
		  put_str(&f, K("d/"), "key d/") == 0,
	      "make a directory row d/ and a key d/");
	CHECK(names_are(&f, K("d/"), STORE_DIR, NO_NAMES),
	      "a new directory row lists no attributes");
	rc = xset(&f, K("d/"), STORE_DIR, "user.dir", "D", 1, 0);
	CHECK(rc == 0 && xattr_is(&f, K("d/"), STORE_DIR, "user.dir", "D", 1),
	      "xattr_set and xattr_get on a directory row (%d)", rc);
	rc = xset(&f, K("d/"), STORE_KEY, "user.key", "K", 1, 0);
	CHECK(rc == 0 && xattr_is(&f, K("d/"), STORE_KEY, "user.key", "K", 1),
	      "xattr_set and xattr_get on the key of the same name (%d)", rc);
	CHECK(xget(&f, K("d/"), STORE_DIR, "user.key") == -ENODATA &&
		  xget(&f, K("d/"), STORE_KEY, "user.dir") == -ENODATA,
	      "the directory row and the key keep separate attributes");
	CHECK(names_are(&f, K("d/"), STORE_DIR, NAMES("user.dir")) &&
		  names_are(&f, K("d/"), STORE_KEY, NAMES("user.key")),
	      "xattr_list of each gives only its own");
	rc = xset(&f, K("d/"), STORE_DIR, "user.dir", "E", 1,
		  STORE_XATTR_CREATE);
	CHECK(rc == -EEXIST, "STORE_XATTR_CREATE on a directory row (%d)", rc);
	rc = xset(&f, K("d/"), STORE_DIR, "user.no", "E", 1,
		  STORE_XATTR_REPLACE);
	CHECK(rc == -ENODATA, "STORE_XATTR_REPLACE on a directory row (%d)",
	      rc);
	rc = xremove(&f, K("d/"), STORE_DIR, "user.dir");
	CHECK(rc == 0 && names_are(&f, K("d/"), STORE_DIR, NO_NAMES) &&
		  names_are(&f, K("d/"), STORE_KEY, NAMES("user.key")),
	      "xattr_remove on a directory row leaves the key's (%d)", rc);
	rc = xset(&f, K("nodir/"), STORE_DIR, "user.a", "A", 1, 0);
	CHECK(rc == -ENOENT,
	      "xattr_set of a missing directory row is -ENOENT (%d)", rc);

	/* Namespaces. */
	g = f;
	rc = f.st->ops->ns_create(f.st, "other", &g.ns);
	CHECK(rc == 0 && put_str(&g, K("x"), "other x") == 0 &&
		  names_are(&g, K("x"), STORE_KEY, NO_NAMES),
	      "the same key in another namespace has no attributes");
	rc = xset(&g, K("x"), STORE_KEY, "user.a", "ns2", 3, 0);
	CHECK(rc == 0 && xattr_is(&g, K("x"), STORE_KEY, "user.a", "ns2", 3) &&
		  xattr_is(&f, K("x"), STORE_KEY, "user.a", "g", 1),
	      "namespaces keep their own attributes of one key (%d)", rc);
	teardown(&f);
}

static void test_xattr_limit(void)
{
	struct fixture f;
	struct store_attr a = {.mode = MODE_DIR, .uid = -1, .gid = -1};
	unsigned char *v1 = pattern(STORE_XATTR_MAX, 7);
	unsigned char *v2 = pattern(STORE_XATTR_MAX, 8);
	char meta[STORE_META_MAX + 1];
	/* user.a (6) + 1000 + user.b (6) + B_FULL: the limit exactly. */
	const size_t a_len = 1000, b_full = STORE_XATTR_MAX - 12 - a_len;
	int rc;

	if (!setup(&f, "xattr limit")) {
		free(v1);
		free(v2);
		return;
	}

	CHECK(put_str(&f, K("l"), "v") == 0, "put a key to fill");
	rc = xset(&f, K("l"), STORE_KEY, "user.a", v1, a_len, 0);
	CHECK(rc == 0, "set user.a, %zu bytes (%d)", a_len, rc);
	rc = xset(&f, K("l"), STORE_KEY, "user.b", v1, b_full, 0);
	CHECK(rc == 0 && xattr_is(&f, K("l"), STORE_KEY, "user.b", v1, b_full),
	      "set user.b, %zu bytes: names and values exactly "
	      "STORE_XATTR_MAX (%d)",
	      b_full, rc);
	rc = xset(&f, K("l"), STORE_KEY, "user.c", "", 0, 0);
	CHECK(rc == -ENOSPC,
	      "a new attribute past STORE_XATTR_MAX is -ENOSPC (%d)", rc);
	CHECK(xget(&f, K("l"), STORE_KEY, "user.c") == -ENODATA,
	      "... and is not created");
	rc = xset(&f, K("l"), STORE_KEY, "user.b", v2, b_full + 1, 0);
	CHECK(rc == -ENOSPC,
	      "replacing user.b with one byte more is -ENOSPC (%d)", rc);
	rc = xset(&f, K("l"), STORE_KEY, "user.b", v2, b_full + 1,
		  STORE_XATTR_REPLACE);
	CHECK(rc == -ENOSPC, "... with STORE_XATTR_REPLACE too (%d)", rc);
	CHECK(xattr_is(&f, K("l"), STORE_KEY, "user.b", v1, b_full) &&
		  xattr_is(&f, K("l"), STORE_KEY, "user.a", v1, a_len),
	      "refused calls (-ENOSPC) leave the earlier values");
	rc = xset(&f, K("l"), STORE_KEY, "user.b", v2, b_full, 0);
	CHECK(rc == 0 && xattr_is(&f, K("l"), STORE_KEY, "user.b", v2, b_full),
	      "replacing user.b with as many new bytes works: only the new "
	      "size counts (%d)",
	      rc);
	rc = xset(&f, K("l"), STORE_KEY, "user.b", v1, b_full,
		  STORE_XATTR_REPLACE);
	CHECK(rc == 0 && xattr_is(&f, K("l"), STORE_KEY, "user.b", v1, b_full),
	      "... with STORE_XATTR_REPLACE too (%d)", rc);
	rc = xset(&f, K("l"), STORE_KEY, "user.b", "s", 1, 0);
	if (rc == 0)
		rc = xset(&f, K("l"), STORE_KEY, "user.b", v2, b_full, 0);
	CHECK(rc == 0 && xattr_is(&f, K("l"), STORE_KEY, "user.b", v2, b_full),
	      "shrink user.b to 1 byte, then grow it back to the limit (%d)",
	      rc);

	/* Names count: user.aaa (8) + 999 is one byte over, user.aa not. */
	rc = xremove(&f, K("l"), STORE_KEY, "user.a");
	CHECK(rc == 0, "remove user.a (%d)", rc);
	rc = xset(&f, K("l"), STORE_KEY, "user.a", v1, a_len + 1, 0);
	CHECK(rc == -ENOSPC,
	      "user.a with %zu bytes is one byte over: -ENOSPC (%d)", a_len + 1,
	      rc);
	rc = xset(&f, K("l"), STORE_KEY, "user.aaa", v1, a_len - 1, 0);
	CHECK(rc == -ENOSPC,
	      "user.aaa with %zu bytes: its name counts, one byte over (%d)",
	      a_len - 1, rc);
	rc = xset(&f, K("l"), STORE_KEY, "user.aa", v1, a_len - 1, 0);
	CHECK(rc == 0 &&
		  xattr_is(&f, K("l"), STORE_KEY, "user.aa", v1, a_len - 1),
	      "user.aa with %zu bytes fills the row exactly (%d)", a_len - 1,
	      rc);
	CHECK(names_are(&f, K("l"), STORE_KEY, NAMES("user.aa", "user.b")),
	      "the row has just the attributes that fit");

	/* Metadata is not among them; another row has its own limit. */
	meta_of_size(meta, 'm', STORE_META_MAX - 8);
	rc = meta_set(&f, K("l"), meta, STORE_META_MAX);
	CHECK(rc == 0 && meta_is(&f, K("l"), meta),
	      "a full row still takes STORE_META_MAX bytes of metadata (%d)",
	      rc);
	CHECK(put_str(&f, K("l2"), "v") == 0 &&
		  xset(&f, K("l2"), STORE_KEY, "user.x", v1,
		       STORE_XATTR_MAX - 6, 0) == 0,
	      "another key takes STORE_XATTR_MAX bytes of its own");

	/* One attribute alone, on a directory row. */
	CHECK(f.st->ops->mkdir(f.st, f.ns, K("ld/"), &a) == 0,
	      "make a directory row to fill");
	rc =
	    xset(&f, K("ld/"), STORE_DIR, "user.x", v1, STORE_XATTR_MAX - 5, 0);
	CHECK(rc == -ENOSPC,
	      "one attribute of STORE_XATTR_MAX + 1 bytes, name included, is "
	      "-ENOSPC (%d)",
	      rc);
	CHECK(names_are(&f, K("ld/"), STORE_DIR, NO_NAMES),
	      "... and is not created");
	rc =
	    xset(&f, K("ld/"), STORE_DIR, "user.x", v1, STORE_XATTR_MAX - 6, 0);
	CHECK(rc == 0 && xattr_is(&f, K("ld/"), STORE_DIR, "user.x", v1,
				  STORE_XATTR_MAX - 6),
	      "one attribute of exactly STORE_XATTR_MAX bytes works (%d)", rc);
	free(v1);
	free(v2);
	teardown(&f);
}

/* Puts over keys with metadata, expiration and attributes. */
static void test_attrs_and_put(void)
{
	struct fixture f;
	struct store_put p;
	struct src s;
	int64_t later = (int64_t)time(NULL) + 3600;
	int rc;

	if (!setup(&f, "attributes and put"))
		return;

	CHECK(put_str(&f, K("k1"), "one") == 0 && dress(&f, K("k1"), later) &&
		  dressed(&f, K("k1"), later),
	      "give k1 metadata, an expiration and two attributes");
	rc = put_str(&f, K("k1"), "new");
	CHECK(rc == 0 && names_are(&f, K("k1"), STORE_KEY, NO_NAMES),
	      "a put without STORE_PUT_KEEP_META removes the attributes (%d)",
	      rc);
	CHECK(bare(&f, K("k1")),
	      "... and the metadata and expiration with them (k1 is bare)");
	CHECK(xset(&f, K("k1"), STORE_KEY, "user.n", "N", 1,
		   STORE_XATTR_CREATE) == 0,
	      "... so a STORE_XATTR_CREATE of a fresh attribute works");

	CHECK(put_str(&f, K("k2"), "two") == 0 && dress(&f, K("k2"), later),
	      "dress k2");
	put_init(&p, &s, "+more", 5);
	p.flags = STORE_PUT_APPEND;
	rc = f.st->ops->put(f.st, f.ns, K("k2"), &p, NULL);
	CHECK(rc == 0 && str_is(&f, K("k2"), "two+more"),
	      "an append without STORE_PUT_KEEP_META appends (%d)", rc);
	CHECK(dressed(&f, K("k2"), later),
	      "... and, changing the value only, keeps metadata, expiration "
	      "and attributes");

	CHECK(put_str(&f, K("k3"), "three") == 0 && dress(&f, K("k3"), later),
	      "dress k3");
	put_init(&p, &s, "kept", 4);
	p.flags = STORE_PUT_KEEP_META;
	p.metadata = "{\"ignored\":1}";
	p.expiration = later + 99;
	rc = f.st->ops->put(f.st, f.ns, K("k3"), &p, NULL);
	CHECK(rc == 0 && str_is(&f, K("k3"), "kept"),
	      "a put with STORE_PUT_KEEP_META stores the value (%d)", rc);
	CHECK(dressed(&f, K("k3"), later),
	      "... and keeps metadata, expiration and attributes (put's "
	      "metadata and expiration unused)");
	put_init(&p, &s, "+", 1);
	p.flags = STORE_PUT_KEEP_META | STORE_PUT_APPEND;
	rc = f.st->ops->put(f.st, f.ns, K("k3"), &p, NULL);
	CHECK(rc == 0 && str_is(&f, K("k3"), "kept+") &&
		  dressed(&f, K("k3"), later),
	      "an append with STORE_PUT_KEEP_META keeps them all (%d)", rc);

	/* Failed puts change nothing. */
	CHECK(put_str(&f, K("k4"), "four") == 0 && dress(&f, K("k4"), later),
	      "dress k4");
	rc = put_val(f.st, f.ns, K("k4"), "x", 1, STORE_PUT_EXCL, NULL);
	CHECK(rc == -EEXIST && dressed(&f, K("k4"), later),
	      "a refused STORE_PUT_EXCL leaves them all (%d)", rc);
	put_init(&p, &s, "failing", 7);
	s.fail_rc = -EPROTO;
	s.fail_at = 3;
	rc = f.st->ops->put(f.st, f.ns, K("k4"), &p, NULL);
	CHECK(rc == -EPROTO && str_is(&f, K("k4"), "four") &&
		  dressed(&f, K("k4"), later),
	      "a put without STORE_PUT_KEEP_META whose read fails leaves "
	      "them all (%d)",
	      rc);

	/* An expired key's attributes do not come back. */
	CHECK(put_str(&f, K("k5"), "five") == 0 && dress(&f, K("k5"), later) &&
		  expire(&f, K("k5"), (int64_t)time(NULL) - 10) == 0,
	      "dress k5, then let it expire");
	put_init(&p, &s, "reborn", 6);
	p.flags = STORE_PUT_KEEP_META;
	rc = f.st->ops->put(f.st, f.ns, K("k5"), &p, NULL);
	CHECK(rc == 0 && str_is(&f, K("k5"), "reborn") && bare(&f, K("k5")),
	      "a STORE_PUT_KEEP_META put over an expired key starts without "
	      "attributes (%d)",
	      rc);

	CHECK(db_count(&f, SQL_ORPHANS) == 0,
	      "the xattr table holds no attribute of a missing row");
	CHECK(db_count(&f, SQL_XATTRS) == 7,
	      "the xattr table holds only k1's, k2's, k3's and k4's "
	      "attributes (7)");
	teardown(&f);
}

static void test_attrs_rename_remove(void)
{
	struct fixture f, g;
	struct store_attr a = {.mode = MODE_DIR, .uid = -1, .gid = -1};
	int64_t later = (int64_t)time(NULL) + 3600;
	int rc;

	if (!setup(&f, "attributes, rename and remove"))
		return;

	/* The target is made last, so its row is the newest. */
	CHECK(put_str(&f, K("rs"), "src") == 0 && dress(&f, K("rs"), later) &&
		  put_str(&f, K("rt"), "dst") == 0 &&
		  xset(&f, K("rt"), STORE_KEY, "user.t", "T", 1, 0) == 0,
	      "dress rs, give rt an attribute user.t");
	rc = f.st->ops->rename(f.st, f.ns, K("rs"), f.ns, K("rn"), STORE_KEY,
			       true);
	CHECK(rc == 0 && str_is(&f, K("rn"), "src") &&
		  dressed(&f, K("rn"), later),
	      "rename to a new name keeps metadata, expiration, attributes "
	      "(%d)",
	      rc);
	{
		struct names x;

		CHECK(xlist(&f, K("rs"), STORE_KEY, &x) == -ENOENT,
		      "the old name has no attributes to list (-ENOENT)");
	}
	rc = f.st->ops->rename(f.st, f.ns, K("rn"), f.ns, K("rt"), STORE_KEY,
			       false);
	CHECK(rc == 0 && str_is(&f, K("rt"), "src") &&
		  dressed(&f, K("rt"), later),
	      "rename onto an existing key: the target has the source's "
	      "attributes only, not user.t (%d)",
	      rc);
	CHECK(db_count(&f, SQL_ORPHANS) == 0,
	      "the replaced target's attributes are gone from the xattr "
	      "table");
	CHECK(put_str(&f, K("fresh"), "f") == 0 && bare(&f, K("fresh")),
	      "a key made after the replaced one has no attributes");

	CHECK(put_str(&f, K("plain"), "p") == 0 &&
		  put_str(&f, K("rt2"), "t") == 0 &&
		  xset(&f, K("rt2"), STORE_KEY, "user.t", "T", 1, 0) == 0 &&
		  meta_set(&f, K("rt2"), K("{\"t\":1}")) == 0,
	      "give rt2 an attribute and metadata");
	rc = f.st->ops->rename(f.st, f.ns, K("plain"), f.ns, K("rt2"),
			       STORE_KEY, false);
	CHECK(rc == 0 && str_is(&f, K("rt2"), "p") && bare(&f, K("rt2")),
	      "a bare key renamed onto rt2 leaves it bare (%d)", rc);

	g = f;
	rc = f.st->ops->ns_create(f.st, "other", &g.ns);
	CHECK(rc == 0, "create a second namespace (%d)", rc);
	rc = f.st->ops->rename(f.st, f.ns, K("rt"), g.ns, K("moved"), STORE_KEY,
			       false);
	CHECK(rc == 0 && dressed(&g, K("moved"), later),
	      "rename across namespaces keeps them all (%d)", rc);

	/* A directory's rows keep theirs. */
	CHECK(f.st->ops->mkdir(f.st, f.ns, K("rd/"), &a) == 0 &&
		  put_str(&f, K("rd/k"), "k") == 0 &&
		  xset(&f, K("rd/"), STORE_DIR, "user.dir", "D", 1, 0) == 0 &&
		  xset(&f, K("rd/k"), STORE_KEY, "user.k", "K", 1, 0) == 0,
	      "a directory row and a key under it, each with an attribute");
	rc = f.st->ops->rename(f.st, f.ns, K("rd/"), f.ns, K("re/"), STORE_DIR,
			       true);
	CHECK(rc == 0 &&
		  xattr_is(&f, K("re/"), STORE_DIR, "user.dir", "D", 1) &&
		  xattr_is(&f, K("re/k"), STORE_KEY, "user.k", "K", 1) &&
		  names_are(&f, K("re/"), STORE_DIR, NAMES("user.dir")),
	      "rename of a directory keeps its rows' attributes (%d)", rc);

	/* Remove, then put again. */
	CHECK(put_str(&f, K("rm"), "rm") == 0 && dress(&f, K("rm"), later),
	      "dress rm (the newest row)");
	rc = f.st->ops->remove(f.st, f.ns, K("rm"), STORE_KEY);
	CHECK(rc == 0, "remove rm (%d)", rc);
	{
		struct names x;

		CHECK(xlist(&f, K("rm"), STORE_KEY, &x) == -ENOENT &&
			  xget(&f, K("rm"), STORE_KEY, "user.a") == -ENOENT,
		      "a removed key's attributes are -ENOENT");
	}
	CHECK(put_val(f.st, f.ns, K("rm"), "again", 5, STORE_PUT_KEEP_META,
		      NULL) == 0 &&
		  bare(&f, K("rm")),
	      "a key put again after remove (even with STORE_PUT_KEEP_META) "
	      "starts without attributes");
	CHECK(f.st->ops->mkdir(f.st, f.ns, K("rmd/"), &a) == 0 &&
		  xset(&f, K("rmd/"), STORE_DIR, "user.d", "D", 1, 0) == 0 &&
		  f.st->ops->remove(f.st, f.ns, K("rmd/"), STORE_DIR) == 0 &&
		  f.st->ops->mkdir(f.st, f.ns, K("rmd/"), &a) == 0 &&
		  names_are(&f, K("rmd/"), STORE_DIR, NO_NAMES),
	      "a directory made again after remove starts without "
	      "attributes");
	CHECK(db_count(&f, SQL_ORPHANS) == 0,
	      "the xattr table holds no attribute of a missing row");
	teardown(&f);
}

/* Sweep until nothing is left (at most 20 calls); checks each call. */
static int sweep_all(struct fixture *f, int limit, int *calls, bool *ok)
{
	int total = 0;

	*calls = 0;
	*ok = true;
	for (int i = 0; i < 20; i++) {
		long long before = db_count(f, SQL_ROWS), after;
		int removed = -1,
		    rc = f->st->ops->sweep(f->st, limit, &removed);

		after = db_count(f, SQL_ROWS);
		(*calls)++;
		if (rc || removed < 0 || removed > limit ||
		    before - after != removed) {
			printf("# sweep %d: %d, removed %d of %lld rows\n", i,
			       rc, removed, before - after);
			*ok = false;
			break;
		}
		total += removed;
		if (removed == 0)
			break;
	}
	return total;
}

static void test_sweep(void)
{
	struct fixture f, g;
	struct store_attr a = {.mode = MODE_DIR, .uid = -1, .gid = -1};
	struct store_usage u;
	int64_t now = (int64_t)time(NULL);
	char key[32];
	int removed = -1, calls = 0, fails = 0, rc;
	bool ok;

	if (!setup(&f, "sweep"))
		return;

	rc = f.st->ops->sweep(f.st, 10, &removed);
	CHECK(rc == 0 && removed == 0,
	      "sweep of a store with nothing expired removes 0 (%d, %d)", rc,
	      removed);

	g = f;
	fails += f.st->ops->ns_create(f.st, "other", &g.ns) != 0;
	fails +=
	    put_val(f.st, f.ns, K("s/live"), "0123456789", 10, 0, NULL) != 0;
	fails += xset(&f, K("s/live"), STORE_KEY, "user.l", "L", 1, 0) != 0;
	fails += put_str(&f, K("s/future"), "01234567890123456789") != 0;
	fails += expire(&f, K("s/future"), now + 3600) != 0;
	fails += xset(&f, K("s/future"), STORE_KEY, "user.f", "F", 1, 0) != 0;
	fails += f.st->ops->mkdir(f.st, f.ns, K("s/d/"), &a) != 0;
	fails += xset(&f, K("s/d/"), STORE_DIR, "user.d", "D", 1, 0) != 0;
	fails += put_str(&g, K("o/live"), "01234") != 0;
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "s/old%d", i);
		fails += put_val(f.st, f.ns, key, strlen(key), "expired", 7, 0,
				 NULL) != 0;
		fails += meta_set(&f, key, strlen(key), K("{\"o\":1}")) != 0;
		fails += xset(&f, key, strlen(key), STORE_KEY, "user.o1", "1",
			      1, 0) != 0;
		fails += xset(&f, key, strlen(key), STORE_KEY, "user.o2", "2",
			      1, 0) != 0;
		fails += expire(&f, key, strlen(key), now - 10) != 0;
	}
	fails += put_str(&g, K("o/old"), "012") != 0;
	fails += xset(&g, K("o/old"), STORE_KEY, "user.o3", "3", 1, 0) != 0;
	fails += expire(&g, K("o/old"), now - 10) != 0;
	CHECK(fails == 0,
	      "4 live rows, 6 expired keys in two namespaces, with attributes");
	CHECK(db_count(&f, SQL_ROWS) == 10 && db_count(&f, SQL_XATTRS) == 14,
	      "before the sweep the database holds 10 rows, 14 attributes");

	rc = f.st->ops->sweep(f.st, 0, &removed);
	CHECK(rc == 0 && removed == 0 && db_count(&f, SQL_ROWS) == 10,
	      "sweep with limit 0 removes nothing (%d, %d)", rc, removed);
	removed = -1;
	rc = f.st->ops->sweep(f.st, 2, &removed);
	CHECK(rc == 0 && removed == 2 && db_count(&f, SQL_ROWS) == 8,
	      "sweep with limit 2 removes 2 of the 6 expired keys (%d, %d)", rc,
	      removed);
	removed = sweep_all(&f, 2, &calls, &ok);
	CHECK(ok, "each sweep removes at most its limit and reports the rows "
		  "it removed");
	CHECK(removed == 4 && calls == 3,
	      "sweeps of 2 remove the other 4, then report 0 (%d in %d calls)",
	      removed, calls);
	rc = f.st->ops->sweep(f.st, 10, &removed);
	CHECK(rc == 0 && removed == 0, "a sweep after that removes 0 (%d, %d)",
	      rc, removed);

	CHECK(str_is(&f, K("s/live"), "0123456789") &&
		  str_is(&f, K("s/future"), "01234567890123456789") &&
		  str_is(&g, K("o/live"), "01234") &&
		  f.st->ops->stat(f.st, f.ns, K("s/d/"), STORE_DIR, &a) == 0,
	      "sweep leaves keys without expiration, with a future one, and "
	      "directory rows");
	CHECK(db_count(&f, SQL_ROWS) == 4, "the database holds those 4 rows");
	CHECK(names_are(&f, K("s/live"), STORE_KEY, NAMES("user.l")) &&
		  names_are(&f, K("s/future"), STORE_KEY, NAMES("user.f")) &&
		  names_are(&f, K("s/d/"), STORE_DIR, NAMES("user.d")),
	      "sweep leaves the live rows' attributes");
	CHECK(db_count(&f, "SELECT count(*) FROM xattr WHERE name IN "
			   "('user.o1', 'user.o2', 'user.o3')") == 0,
	      "the swept keys' attributes are gone from the xattr table");
	CHECK(db_count(&f, SQL_ORPHANS) == 0 && db_count(&f, SQL_XATTRS) == 3,
	      "the xattr table holds just the 3 live attributes");
	CHECK(f.st->ops->usage(f.st, &u) == 0 && u.bytes == 35 && u.keys == 3,
	      "usage after the sweep: 35 bytes in 3 keys, the directory row "
	      "not one (%llu, %llu)",
	      (unsigned long long)u.bytes, (unsigned long long)u.keys);

	CHECK(put_str(&f, K("s/old4"), "back") == 0 && bare(&f, K("s/old4")),
	      "a swept key put again starts without attributes");

	/* Expired at or before now; a limit above the count takes all. */
	fails = 0;
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "s/n%d", i);
		fails += put_str(&f, key, strlen(key), "n") != 0;
		fails += xset(&f, key, strlen(key), STORE_KEY, "user.n", "N", 1,
			      0) != 0;
		fails += expire(&f, key, strlen(key),
				i ? now - i : (int64_t)time(NULL)) != 0;
	}
	CHECK(fails == 0, "3 more keys expire, one of them at exactly now");
	rc = f.st->ops->sweep(f.st, 100, &removed);
	CHECK(rc == 0 && removed == 3,
	      "sweep with limit 100 removes all 3 in one call (%d, %d)", rc,
	      removed);
	CHECK(db_count(&f, SQL_ROWS) == 5 && db_count(&f, SQL_ORPHANS) == 0 &&
		  db_count(&f, SQL_XATTRS) == 3,
	      "the database holds 5 rows and the 3 live attributes");
	CHECK(f.st->ops->usage(f.st, &u) == 0 && u.bytes == 39 && u.keys == 4,
	      "usage after the second sweep: 39 bytes in 4 keys (%llu, %llu)",
	      (unsigned long long)u.bytes, (unsigned long long)u.keys);
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

/* ---- store_pending: keys created and not yet put ---- */

/* A file's create: put(EXCL|CREATE|LAZY, and flags) of an empty value. */
static int lazy_create_out(struct store *st, int64_t ns, const char *key,
			   int flags, struct store_attr *out)
{
	struct store_put p = {0};

	p.flags = STORE_PUT_EXCL | STORE_PUT_CREATE | STORE_PUT_LAZY | flags;
	p.attr.mode = S_IFREG | 0600;
	p.attr.uid = 7;
	p.attr.gid = 8;
	return st->ops->put(st, ns, key, strlen(key), &p, out);
}

/* Without O_EXCL. */
static int lazy_create(struct store *st, int64_t ns, const char *key,
		       struct store_attr *out)
{
	return lazy_create_out(st, ns, key, 0, out);
}

static int lazy_create_flags(struct store *st, int64_t ns, const char *key,
			     int flags)
{
	return lazy_create_out(st, ns, key, flags, NULL);
}

/* A file's store at close: value, attributes only for a new key. */
static int close_put(struct store *st, int64_t ns, const char *key,
		     const char *val)
{
	struct store_put p;
	struct src s;

	put_init(&p, &s, val, strlen(val));
	p.flags = STORE_PUT_KEEP_META | STORE_PUT_NEW_ONLY_ATTR;
	p.attr.mode = 0;
	p.attr.uid = -1;
	p.attr.gid = -1;
	return st->ops->put(st, ns, key, strlen(key), &p, NULL);
}

static int stat_s(struct store *st, int64_t ns, const char *key,
		  struct store_attr *a)
{
	return st->ops->stat(st, ns, key, strlen(key), STORE_KEY, a);
}

static int name_count(void *ctx, int64_t unused, const char *name)
{
	(void)unused;
	(void)name;
	++*(int *)ctx;
	return 0;
}

struct lazy_worker {
	pthread_t thread;
	struct store *st;
	int64_t ns;
	int id, failed;
};

/* Creates, then stores, keys "p<id>/<i>"; id 0 lists meanwhile. */
static void *lazy_worker_run(void *arg)
{
	struct lazy_worker *w = arg;
	struct rows r = {0};
	char key[32];

	for (int i = 0; i < THREAD_PUTS; i++) {
		snprintf(key, sizeof(key), "p%d/%03d", w->id, i);
		if (w->id == 0) {
			w->failed += list_rows(w->st, w->ns, "p", 1, "q", 1,
					       NO_LIMIT, &r) != 0;
			continue;
		}
		w->failed += lazy_create(w->st, w->ns, key, NULL) != 0;
		w->failed += close_put(w->st, w->ns, key, key) != 0;
	}
	free(r.v);
	return NULL;
}

static void test_pending(void)
{
	struct store *other, *p, *q;
	sqlite3 *raw = NULL;
	struct store_attr a, b;
	struct lazy_worker w[THREADS];
	struct fixture f;
	struct rows r = {0};
	char err[256] = "", key[32];
	bool is_dir = false;
	int rc, n = 0, failed = 0, wrong = 0;
	size_t len = 1;

	if (!setup(&f, "pending"))
		return;
	rc = store_pending_wrap(f.st, f.path, &p);
	CHECK(rc == 0, "pending: wrap a store: %d", rc);
	if (rc) {
		teardown(&f);
		return;
	}
	f.st = p; /* closing it closes the store below */
	rc = store_sqlite_open(f.path, 5000, false, &other, err, sizeof(err));
	CHECK(rc == 0, "pending: a second program opens the store: %d (%s)", rc,
	      err);
	if (rc) {
		teardown(&f);
		return;
	}

	rc = lazy_create(p, f.ns, "a", &a);
	CHECK(rc == 0 && a.size == 0 && a.mode == (S_IFREG | 0600) &&
		  a.uid == 7 && a.gid == 8 && a.version > 0 && a.mtime_ns > 0,
	      "pending: a lazy create returns the key's attributes (%d)", rc);
	CHECK(stat_s(other, f.ns, "a", &b) == -ENOENT,
	      "pending: another program does not see a key not yet put");
	rc = stat_s(p, f.ns, "a", &b);
	CHECK(rc == 0 && b.mode == a.mode && b.version == a.version,
	      "pending: this store stats it with its attributes (%d)", rc);
	CHECK(value_is(p, f.ns, K("a"), "", 0), "pending: its value is empty");
	rc = p->ops->xattr_get(p, f.ns, K("a"), STORE_KEY,
			       "security.capability", NULL, 0, &len);
	CHECK(rc == -ENODATA, "pending: it has no attribute (%d)", rc);
	CHECK(p->ops->meta_get(p, f.ns, K("a"), NULL, 0, &len) == -ENODATA,
	      "pending: it has no metadata");
	rc = p->ops->xattr_list(p, f.ns, K("a"), STORE_KEY, name_count, &n);
	CHECK(rc == 0 && n == 0, "pending: it lists no attributes (%d, %d)", rc,
	      n);
	CHECK(lazy_create(p, f.ns, "a", NULL) == -EEXIST,
	      "pending: a second create of it finds it exists");
	CHECK(put_val(p, f.ns, K("a"), "x", 1, STORE_PUT_EXCL, NULL) == -EEXIST,
	      "pending: an O_EXCL put of it finds it exists");
	CHECK(stat_s(other, f.ns, "a", &b) == -ENOENT,
	      "pending: reads and refused creates store nothing");

	rc = close_put(p, f.ns, "a", "hello");
	CHECK(rc == 0, "pending: the file's put stores it: %d", rc);
	rc = stat_s(other, f.ns, "a", &b);
	CHECK(rc == 0 && b.mode == (S_IFREG | 0600) && b.uid == 7 &&
		  b.gid == 8 && b.size == 5 && b.version > a.version,
	      "pending: stored with the attributes of its create (%d, mode "
	      "%o, uid %lld)",
	      rc, b.mode, (long long)b.uid);
	CHECK(value_is(other, f.ns, K("a"), "hello", 5),
	      "pending: another program reads the value put");
	rc = stat_s(p, f.ns, "a", &a);
	CHECK(rc == 0 && a.version == b.version,
	      "pending: this store now reads it from below (%d)", rc);

	CHECK(lazy_create(p, f.ns, "d/b", NULL) == 0 &&
		  lazy_create(p, f.ns, "c", NULL) == 0,
	      "pending: two more lazy creates");
	rc = any_prefix(p, f.ns, K("c/"));
	CHECK(rc == 0, "pending: nothing is under c/ (%d)", rc);
	CHECK(any_prefix(p, f.ns, K("d/")) == 1 &&
		  any_prefix(other, f.ns, K("d/")) == 0,
	      "pending: any() sees d/b under d/, here only");
	rc = p->ops->lookup(p, f.ns, K("c"), &b, &is_dir);
	CHECK(rc == 0 && !is_dir && b.size == 0 && b.uid == 7,
	      "pending: lookup finds c, a key (%d)", rc);
	rc = p->ops->lookup(p, f.ns, K("d"), &b, &is_dir);
	CHECK(rc == 0 && is_dir, "pending: lookup of d sees d/b (%d)", rc);
	rc = list_rows(p, f.ns, "", 0, NULL, 0, NO_LIMIT, &r);
	CHECK(rc == 0 && r.n == 3 &&
		  !key_cmp(r.v[0].key, r.v[0].key_len, K("a")) &&
		  !key_cmp(r.v[1].key, r.v[1].key_len, K("c")) &&
		  !key_cmp(r.v[2].key, r.v[2].key_len, K("d/b")) &&
		  r.v[1].attr.mode == (S_IFREG | 0600),
	      "pending: a listing has every key, in order (%d, %zu rows)", rc,
	      r.n);
	rc = list_rows(p, f.ns, "b", 1, NULL, 0, 1, &r);
	CHECK(rc == 0 && r.n == 1 &&
		  !key_cmp(r.v[0].key, r.v[0].key_len, K("c")),
	      "pending: a page of 1 from b holds c only (%zu rows)", r.n);
	rc = list_rows(p, f.ns, "c", 1, "d0", 2, 5, &r);
	CHECK(rc == 0 && r.n == 2 &&
		  !key_cmp(r.v[1].key, r.v[1].key_len, K("d/b")),
	      "pending: a range ending past d/b holds it last (%zu rows)", r.n);
	r.stop_at = 1;
	rc = list_rows(p, f.ns, "", 0, NULL, 0, NO_LIMIT, &r);
	CHECK(rc == 0 && r.n == 1,
	      "pending: a callback's stop ends the merged listing (%zu rows)",
	      r.n);
	r.stop_at = 0;
	CHECK(stat_s(other, f.ns, "c", &b) == -ENOENT &&
		  stat_s(other, f.ns, "d/b", &b) == -ENOENT,
	      "pending: reads and listings store nothing");
	rc = put_val(other, f.ns, K("c"), "theirs", 6, 0, NULL);
	rc = rc ? rc : list_rows(p, f.ns, "c", 1, "c0", 2, 5, &r);
	CHECK(rc == 0 && r.n == 1 && r.v[0].attr.size == 0,
	      "pending: a key stored elsewhere meanwhile is listed once, "
	      "as pending here (%d, %zu rows)",
	      rc, r.n);
	p->ops->remove(p, f.ns, K("c"), STORE_KEY);
	p->ops->remove(p, f.ns, K("d/b"), STORE_KEY);

	lazy_create(p, f.ns, "u", NULL);
	put_val(p, f.ns, K("u"), "", 0, STORE_PUT_IF_PENDING, NULL);
	rc = stat_s(other, f.ns, "u", &b);
	CHECK(rc == 0 && b.mode == (S_IFREG | 0600),
	      "pending: a close with nothing written stores it empty (%d)", rc);
	put_val(other, f.ns, K("u"), "theirs", 6, 0, NULL);
	put_val(p, f.ns, K("u"), "", 0, STORE_PUT_IF_PENDING, NULL);
	CHECK(value_is(other, f.ns, K("u"), "theirs", 6),
	      "pending: and not again over what another open stored");

	lazy_create(p, f.ns, "e", NULL);
	rc = p->ops->remove(p, f.ns, K("e"), STORE_KEY);
	CHECK(rc == 0 && stat_s(p, f.ns, "e", &b) == -ENOENT &&
		  stat_s(other, f.ns, "e", &b) == -ENOENT,
	      "pending: remove of a pending key leaves nothing (%d)", rc);
	lazy_create(p, f.ns, "f", NULL);
	rc = p->ops->rename(p, f.ns, K("f"), f.ns, K("g"), STORE_KEY, false);
	CHECK(rc == 0 && stat_s(other, f.ns, "g", &b) == 0 &&
		  stat_s(p, f.ns, "f", &b) == -ENOENT,
	      "pending: rename stores it under the new name (%d)", rc);
	put_str(&f, K("h"), "theirs");
	CHECK(lazy_create(p, f.ns, "h", NULL) == -EEXIST,
	      "pending: a lazy create of a stored key finds it exists");
	lazy_create(p, f.ns, "i", NULL);
	put_val(other, f.ns, K("i"), "theirs", 6, 0, NULL);
	rc = close_put(p, f.ns, "i", "mine");
	CHECK(rc == 0 && value_is(other, f.ns, K("i"), "mine", 4),
	      "pending: a put after another program's replaces it (%d)", rc);
	lazy_create(p, f.ns, "j", NULL);
	put_val(other, f.ns, K("j"), "theirs", 6, 0, NULL);
	a.mode = S_IFREG | 0640;
	rc = p->ops->setattr(p, f.ns, K("j"), STORE_KEY, STORE_SET_MODE, &a);
	CHECK(rc == 0 && stat_s(other, f.ns, "j", &b) == 0 &&
		  b.mode == (S_IFREG | 0640) &&
		  value_is(other, f.ns, K("j"), "theirs", 6),
	      "pending: a change of a key another program put meanwhile "
	      "applies to that key (%d)",
	      rc);

	/* The tree layout: a name with keys under it is a directory. */
	put_val(other, f.ns, K("td/x"), "theirs", 6, 0, NULL);
	CHECK(lazy_create_flags(p, f.ns, "td", STORE_PUT_NOT_DIR) == -EEXIST,
	      "pending: NOT_DIR: a create of a stored directory's name: "
	      "EEXIST");
	CHECK(put_val(p, f.ns, K("td"), "l", 1,
		      STORE_PUT_EXCL | STORE_PUT_NOT_DIR, NULL) == -EEXIST,
	      "pending: NOT_DIR: and a stored put of it (a symlink): EEXIST");
	lazy_create(p, f.ns, "tp/x", NULL);
	CHECK(lazy_create_flags(p, f.ns, "tp", STORE_PUT_NOT_DIR) == -EEXIST,
	      "pending: NOT_DIR: a create of a name pending keys make a "
	      "directory: EEXIST");
	rc = lazy_create_flags(p, f.ns, "tq", STORE_PUT_NOT_DIR);
	CHECK(rc == 0 && stat_s(p, f.ns, "tq", &b) == 0,
	      "pending: NOT_DIR: a free name is created (%d)", rc);
	CHECK(lazy_create(p, f.ns, "td", NULL) == 0,
	      "pending: without NOT_DIR (the flat layout) the name is a key");
	CHECK(stat_s(other, f.ns, "td", &b) == -ENOENT &&
		  stat_s(other, f.ns, "tq", &b) == -ENOENT,
	      "pending: none of it stored anything");
	p->ops->remove(p, f.ns, K("tp/x"), STORE_KEY);
	p->ops->remove(p, f.ns, K("tq"), STORE_KEY);
	p->ops->remove(p, f.ns, K("td"), STORE_KEY);

	for (int t = 0; t < THREADS; t++) {
		w[t] = (struct lazy_worker){.st = p, .ns = f.ns, .id = t};
		if (pthread_create(&w[t].thread, NULL, lazy_worker_run,
				   &w[t])) {
			perror("pthread_create");
			exit(2);
		}
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(w[t].thread, NULL);
		failed += w[t].failed;
	}
	for (int t = 1; t < THREADS; t++) {
		for (int i = 0; i < THREAD_PUTS; i++) {
			snprintf(key, sizeof(key), "p%d/%03d", t, i);
			if (!value_is(other, f.ns, key, strlen(key), key,
				      strlen(key)))
				wrong++;
		}
	}
	CHECK(failed == 0 && wrong == 0,
	      "pending: %d threads create and put while one lists: %d "
	      "failed, %d values wrong",
	      THREADS - 1, failed, wrong);

	/* O_EXCL: two mounts of one database, each with its table. */
	rc = store_sqlite_open(f.path, 100, false, &q, err, sizeof(err));
	if (rc == 0)
		rc = store_pending_wrap(q, f.path, &q);
	CHECK(rc == 0, "claims: a second mount's store: %d", rc);
	if (rc) {
		other->ops->close(other);
		teardown(&f);
		return;
	}
	rc = lazy_create_flags(p, f.ns, "x", STORE_PUT_CLAIM);
	CHECK(rc == 0 && stat_s(other, f.ns, "x", &b) == -ENOENT,
	      "claims: an O_EXCL create stores nothing either (%d)", rc);
	CHECK(lazy_create_flags(q, f.ns, "x", STORE_PUT_CLAIM) == -EEXIST,
	      "claims: another mount's O_EXCL create of it: EEXIST");
	CHECK(put_val(q, f.ns, K("x"), "l", 1, STORE_PUT_EXCL, NULL) == -EEXIST,
	      "claims: another mount's O_EXCL put (a symlink): EEXIST");
	CHECK(lazy_create_flags(q, f.ns, "y", STORE_PUT_CLAIM) == 0,
	      "claims: another key is free to claim");
	lazy_create(q, f.ns, "v", NULL);
	rc = q->ops->rename(q, f.ns, K("v"), f.ns, K("x"), STORE_KEY, true);
	CHECK(rc == -EEXIST && stat_s(other, f.ns, "x", &b) == -ENOENT,
	      "claims: a rename without replace onto a claimed name: "
	      "EEXIST (%d)",
	      rc);
	CHECK(lazy_create(q, f.ns, "x", NULL) == 0,
	      "claims: a create without O_EXCL of it goes on, unclaimed");
	a.mode = S_IFDIR | 0755;
	rc = q->ops->mkdir(q, f.ns, K("x/"), &a);
	CHECK(rc == -EEXIST, "claims: a mkdir of a claimed name: EEXIST (%d)",
	      rc);
	rc = q->ops->mkdir(q, f.ns, K("dd/"), &a);
	rc = rc ? rc
		: q->ops->rename(q, f.ns, K("dd/"), f.ns, K("x/"), STORE_DIR,
				 true);
	CHECK(rc == -EEXIST,
	      "claims: a directory renamed without replace onto a claimed "
	      "name: EEXIST (%d)",
	      rc);
	CHECK(sqlite3_open(f.path, &raw) == SQLITE_OK &&
		  sqlite3_exec(raw, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
		      SQLITE_OK,
	      "claims: another program takes the database's write lock");
	a.mode = S_IFREG | 0604;
	rc = q->ops->setattr(q, f.ns, K("v"), STORE_KEY, STORE_SET_MODE, &a);
	CHECK(rc < 0 && stat_s(q, f.ns, "v", &b) == 0 && b.size == 0,
	      "claims: a change that cannot store a pending key fails and "
	      "leaves it pending (%d)",
	      rc);
	sqlite3_exec(raw, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(raw);
	rc = q->ops->setattr(q, f.ns, K("v"), STORE_KEY, STORE_SET_MODE, &a);
	CHECK(rc == 0 && stat_s(other, f.ns, "v", &b) == 0 &&
		  b.mode == (S_IFREG | 0604) && b.uid == 7,
	      "claims: then the change stores it, with its create's owner "
	      "(%d)",
	      rc);
	rc = close_put(p, f.ns, "x", "mine");
	CHECK(rc == 0 && value_is(other, f.ns, K("x"), "mine", 4),
	      "claims: the claimed key's put stores it (%d)", rc);
	CHECK(lazy_create_flags(q, f.ns, "x", STORE_PUT_CLAIM) == -EEXIST,
	      "claims: once stored it exists for the other mount");
	lazy_create_flags(p, f.ns, "w", STORE_PUT_CLAIM);
	rc = p->ops->remove(p, f.ns, K("w"), STORE_KEY);
	CHECK(rc == 0 && lazy_create_flags(q, f.ns, "w", STORE_PUT_CLAIM) == 0,
	      "claims: a claimed key removed before its put is free again "
	      "(%d)",
	      rc);
	q->ops->close(q);
	rc = lazy_create_flags(p, f.ns, "y", STORE_PUT_CLAIM);
	CHECK(rc == 0 &&
		  lazy_create_flags(p, f.ns, "y", STORE_PUT_CLAIM) == -EEXIST,
	      "claims: the claims of a closed mount are free again, "
	      "and this mount's own claim holds here");

	lazy_create(p, f.ns, "z", NULL);
	p->ops->close(p);
	f.st = NULL;
	CHECK(stat_s(other, f.ns, "z", &b) == -ENOENT,
	      "pending: a key never put is not stored when the store closes");
	other->ops->close(other);
	teardown(&f);
	free(r.v);
}

/* ---- store_prefix_end ---- */

/* Files in dir, "." and ".." aside; -1 if it cannot be read. */
static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* An unlinked file in the store's spill_dir holding val[0..len). */
static int spill_file(struct store *st, const void *val, size_t len)
{
	int fd =
	    st->spill_dir ? open(st->spill_dir, O_TMPFILE | O_RDWR, 0600) : -1;

	if (fd >= 0 && pwrite(fd, val, len, 0) != (ssize_t)len) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void test_value_files(void)
{
	unsigned char *big = pattern(BIG_VALUE, 41);
	unsigned char *big2 = pattern(BIG_VALUE, 42);
	unsigned char part[4096];
	struct store_attr a;
	struct store_put p;
	struct src s;
	struct fixture f;
	char vdir[200];
	int fd, rfd, rc;

	if (!setup(&f, "value files"))
		goto out;
	snprintf(vdir, sizeof(vdir), "%s-values", f.path);
	CHECK(f.st->spill_dir && !strcmp(f.st->spill_dir, vdir),
	      "spill_dir is the folder of value files next to the database");
	fd = spill_file(f.st, big, BIG_VALUE);
	CHECK(fd >= 0, "an unlinked file can be made in spill_dir");
	if (fd < 0)
		goto close;
	put_init(&p, &s, big, BIG_VALUE);
	p.flags = STORE_PUT_FD;
	p.fd = fd;
	rc = f.st->ops->put(f.st, f.ns, K("big"), &p, NULL);
	CHECK(rc == 0, "put with STORE_PUT_FD: %d", rc);
	CHECK(s.bad_reads == 0, "put with STORE_PUT_FD reads nothing amiss");
	CHECK(count_files(vdir) == 1, "the put kept its file as the value");
	CHECK(value_is(f.st, f.ns, K("big"), big, BIG_VALUE),
	      "get returns a value kept as a file");
	rfd = -1;
	rc = f.st->ops->open_value(f.st, f.ns, K("big"), &rfd, &a);
	CHECK(rc == 0 && rfd >= 0 && a.size == BIG_VALUE,
	      "open_value gives a descriptor of a value file: %d", rc);
	close(fd);

	/* Appending grows the file in place; the old reader's bytes stay. */
	put_init(&p, &s, "tail", 4);
	p.flags = STORE_PUT_APPEND;
	rc = f.st->ops->put(f.st, f.ns, K("big"), &p, &a);
	CHECK(rc == 0 && a.size == BIG_VALUE + 4,
	      "an append to a value file: %d, size %llu", rc,
	      (unsigned long long)a.size);
	CHECK(count_files(vdir) == 1, "an append keeps the one value file");
	CHECK(rfd >= 0 &&
		  pread(rfd, part, sizeof(part), 0) == (ssize_t)sizeof(part) &&
		  !memcmp(part, big, sizeof(part)),
	      "a descriptor from open_value still reads the value's bytes");

	/* Replaced by a small value: the file goes, the descriptor reads. */
	CHECK(put_str(&f, K("big"), "small") == 0, "put a small value over it");
	CHECK(count_files(vdir) == 0,
	      "the replaced value's file is removed after the commit");
	CHECK(str_is(&f, K("big"), "small"), "the small value is read back");
	CHECK(rfd >= 0 &&
		  pread(rfd, part, sizeof(part), 4096) ==
		      (ssize_t)sizeof(part) &&
		  !memcmp(part, big + 4096, sizeof(part)),
	      "an open descriptor outlives the value file's removal");
	if (rfd >= 0)
		close(rfd);

	/* Rename keeps the file; remove and sweep remove it. */
	fd = spill_file(f.st, big2, BIG_VALUE);
	put_init(&p, &s, big2, BIG_VALUE);
	p.flags = STORE_PUT_FD;
	p.fd = fd;
	CHECK(fd >= 0 && f.st->ops->put(f.st, f.ns, K("b2"), &p, NULL) == 0,
	      "put a second value file");
	if (fd >= 0)
		close(fd);
	rc = f.st->ops->rename(f.st, f.ns, K("b2"), f.ns, K("b3"), STORE_KEY,
			       false);
	CHECK(rc == 0 && count_files(vdir) == 1 &&
		  value_is(f.st, f.ns, K("b3"), big2, BIG_VALUE),
	      "a renamed key keeps its value file: %d", rc);
	rc = f.st->ops->remove(f.st, f.ns, K("b3"), STORE_KEY);
	CHECK(rc == 0 && count_files(vdir) == 0,
	      "removing the key removes its value file: %d", rc);

	/* A put that fails leaves no file behind. */
	fd = spill_file(f.st, big, BIG_VALUE);
	put_init(&p, &s, big, BIG_VALUE);
	p.flags = STORE_PUT_FD | STORE_PUT_EXCL;
	p.fd = fd;
	CHECK(fd >= 0 &&
		  f.st->ops->put(f.st, f.ns, K("big"), &p, NULL) == -EEXIST,
	      "an exclusive put over a key fails");
	CHECK(count_files(vdir) == 0, "a failed put leaves no value file");
	CHECK(str_is(&f, K("big"), "small"), "and the old value is kept");
	if (fd >= 0)
		close(fd);
close:
	teardown(&f);
out:
	free(big);
	free(big2);
}

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
	test_lookup();
	test_list();
	test_pagination();
	test_rename_key();
	test_rename_dir();
	test_usage();
	test_meta();
	test_expire();
	test_xattr();
	test_xattr_limit();
	test_attrs_and_put();
	test_attrs_rename_remove();
	test_sweep();
	test_threads();
	test_pending();
	test_value_files();

	printf("1..%d\n", check_count);
	return CHECK_DONE();
}
