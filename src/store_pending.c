/*
 * store_pending: keys a mount has created and not yet put, kept in
 * memory over another store.
 *
 * A file created and closed after a write costs one write transaction
 * instead of two: put(STORE_PUT_LAZY) only checks that the key is
 * missing and remembers it here, with the attributes it was created
 * with, and the file's first put creates it.  Until then this mount
 * sees the key (empty, with those attributes) and no other program
 * does; a daemon killed before the file's first flush leaves nothing,
 * as no close returned.
 *
 * Reads of a pending key (stat, get, peek, lookup, its metadata and
 * attributes) are answered from memory, and listings and any() over
 * its range show it; a remove forgets it.  Any other change of a
 * pending key stores it first, as an empty value ("settles" it), then
 * goes to the store below, which never knows; so do a rename of a
 * directory and a bulk put, for the pending keys in their range.  A
 * settle that fails leaves the key pending.
 *
 * O_EXCL must hold against other mounts of the same database too, which
 * cannot see this table: a pending key is claimed with a write lock on
 * one byte of the file "<database>-claims", at an offset hashed from
 * the key, from the create until its put has returned.  An O_EXCL
 * create (STORE_PUT_CLAIM) elsewhere that finds the byte locked fails
 * with -EEXIST, as do an O_EXCL put (a symlink) and a rename without
 * replace; a create without O_EXCL goes on unclaimed.  The kernel drops
 * the locks of a killed daemon, so a claim never outlives its file.
 * Two keys whose 62-bit hashes meet would refuse each other's O_EXCL
 * while both are pending; the odds are 1 in 2^62 per pair.
 *
 * An entry stays in the table until the put that stores it has
 * returned, marked is_storing meanwhile: a read finding it answers from
 * it, a change waits for it to go.  So there is no moment when a key is
 * in neither place.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"

#define PD_BUCKETS 256

struct pd_entry {
	struct pd_entry *next;
	int64_t ns;
	bool is_storing; /* its put is running; gone when it returns */
	bool is_claimed; /* holds its byte of the claims file */
	struct store_attr attr;
	size_t len;
	char key[];
};

struct pd_store {
	struct store base;
	struct store_ops ops; /* optional calls as the store below has */
	struct store *in;
	int claim_fd;	  /* the claims file, -1: none */
	bool is_claim_rw; /* claim_fd may lock; else O_EXCL is eager */
	pthread_mutex_t lock;
	pthread_cond_t gone;   /* an is_storing entry left */
	unsigned count;	       /* lock; entries; read without it as a hint */
	uint64_t last_version; /* lock */
	struct pd_entry *bucket[PD_BUCKETS]; /* lock */
};

static struct pd_store *pd_of(struct store *st)
{
	return (struct pd_store *)st;
}

/* FNV-1a of the namespace and the key. */
static uint64_t pd_hash64(int64_t ns, const char *key, size_t len)
{
	uint64_t h = 14695981039346656037ull ^ (uint64_t)ns;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
	return h;
}

static unsigned pd_hash(int64_t ns, const char *key, size_t len)
{
	return (unsigned)(pd_hash64(ns, key, len) % PD_BUCKETS);
}

/*
 * Lock (F_WRLCK), unlock (F_UNLCK) or, with F_OFD_GETLK, test the byte
 * of the claims file that stands for key.  Open file description locks:
 * only this store's descriptor holds them, whatever else the process
 * opens or closes.  0, or -EEXIST where another one holds it.
 */
static int pd_claim_lock(struct pd_store *p, int64_t ns, const char *key,
			 size_t len, int cmd, short type)
{
	struct flock fl = {0};

	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)(pd_hash64(ns, key, len) >> 2);
	fl.l_len = 1;
	if (fcntl(p->claim_fd, cmd, &fl) < 0)
		return errno == EAGAIN || errno == EACCES ? -EEXIST : -errno;
	return cmd == F_OFD_GETLK && fl.l_type != F_UNLCK ? -EEXIST : 0;
}

/* Fast path: no pending key at all, nothing to look up. */
static bool pd_none(struct pd_store *p)
{
	return __atomic_load_n(&p->count, __ATOMIC_ACQUIRE) == 0;
}

/* Caller holds p->lock. */
static struct pd_entry **pd_slot(struct pd_store *p, int64_t ns,
				 const char *key, size_t len)
{
	struct pd_entry **pe = &p->bucket[pd_hash(ns, key, len)];

	for (; *pe; pe = &(*pe)->next) {
		if ((*pe)->ns == ns && (*pe)->len == len &&
		    !memcmp((*pe)->key, key, len))
			break;
	}
	return pe;
}

/*
 * Copy the attributes of pending key (ns, key) into *a; false if the
 * key is not pending.
 */
static bool pd_peek_attr(struct pd_store *p, int64_t ns, const char *key,
			 size_t len, enum store_kind kind, struct store_attr *a)
{
	struct pd_entry *e;

	if (kind != STORE_KEY || pd_none(p))
		return false;
	pthread_mutex_lock(&p->lock);
	e = *pd_slot(p, ns, key, len);
	if (e && a)
		*a = e->attr;
	pthread_mutex_unlock(&p->lock);
	return e != NULL;
}

/* Remove e, whose put returned, and wake whoever waits for it. */
static void pd_done(struct pd_store *p, struct pd_entry *e)
{
	pthread_mutex_lock(&p->lock);
	*pd_slot(p, e->ns, e->key, e->len) = e->next;
	__atomic_store_n(&p->count, p->count - 1, __ATOMIC_RELEASE);
	if (e->is_claimed)
		pd_claim_lock(p, e->ns, e->key, e->len, F_OFD_SETLK, F_UNLCK);
	pthread_cond_broadcast(&p->gone);
	pthread_mutex_unlock(&p->lock);
	free(e);
}

/*
 * Take pending key (ns, key) to store it: returns its entry, now
 * is_storing, or NULL if the key is not pending (after waiting for a
 * put of it already running).  The caller stores it, then pd_done().
 */
static struct pd_entry *pd_claim(struct pd_store *p, int64_t ns,
				 const char *key, size_t len)
{
	struct pd_entry *e;

	if (pd_none(p))
		return NULL;
	pthread_mutex_lock(&p->lock);
	while ((e = *pd_slot(p, ns, key, len)) && e->is_storing)
		pthread_cond_wait(&p->gone, &p->lock);
	if (e)
		e->is_storing = true;
	pthread_mutex_unlock(&p->lock);
	return e;
}

/* Store e's key as an empty value with its attributes. */
static int pd_store_empty(struct pd_store *p, struct pd_entry *e)
{
	struct store_put put = {0};
	int rc;

	put.flags = STORE_PUT_EXCL;
	put.attr = e->attr;
	rc = p->in->ops->put(p->in, e->ns, e->key, e->len, &put, NULL);
	/*
	 * Another program put the key meanwhile: it holds a value, and
	 * the file that created it here replaces it at its close, as
	 * after any two opens without O_EXCL.
	 */
	return rc == -EEXIST ? 0 : rc;
}

/* Give back e, which the caller took and could not store: pending. */
static void pd_unclaim(struct pd_store *p, struct pd_entry *e)
{
	pthread_mutex_lock(&p->lock);
	e->is_storing = false;
	pthread_cond_broadcast(&p->gone);
	pthread_mutex_unlock(&p->lock);
}

/*
 * Store e, which the caller took (is_storing), as an empty value: done
 * on success, pending again on failure.
 */
static int pd_settle_entry(struct pd_store *p, struct pd_entry *e)
{
	int rc = pd_store_empty(p, e);

	if (rc == 0)
		pd_done(p, e);
	else
		pd_unclaim(p, e);
	return rc;
}

/* Store pending key (ns, key), if it is, before a change of it. */
static int pd_settle(struct pd_store *p, int64_t ns, const char *key,
		     size_t len)
{
	struct pd_entry *e = pd_claim(p, ns, key, len);

	return e ? pd_settle_entry(p, e) : 0;
}

static bool pd_in_range(const struct pd_entry *e, int64_t ns, const char *lo,
			size_t lo_len, const char *hi, size_t hi_len)
{
	size_t n;
	int c;

	if (ns >= 0 && e->ns != ns)
		return false;
	n = e->len < lo_len ? e->len : lo_len;
	c = memcmp(e->key, lo, n);
	if (c < 0 || (c == 0 && e->len < lo_len))
		return false;
	if (!hi)
		return true;
	n = e->len < hi_len ? e->len : hi_len;
	c = memcmp(e->key, hi, n);
	return c < 0 || (c == 0 && e->len < hi_len);
}

/*
 * Store every pending key of namespace ns (every namespace if ns < 0)
 * with lo <= key < hi (hi NULL: no bound) before a call that changes
 * that range in the store below.  Stops at the first failure.
 */
static int pd_settle_range(struct pd_store *p, int64_t ns, const char *lo,
			   size_t lo_len, const char *hi, size_t hi_len)
{
	struct pd_entry *e;
	bool is_waiting;
	int i, rc = 0;

	if (pd_none(p))
		return 0;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		e = NULL;
		is_waiting = false;
		for (i = 0; i < PD_BUCKETS && !e; i++) {
			for (e = p->bucket[i]; e; e = e->next) {
				if (!pd_in_range(e, ns, lo, lo_len, hi, hi_len))
					continue;
				if (!e->is_storing)
					break;
				is_waiting = true;
			}
		}
		if (e) {
			e->is_storing = true;
			pthread_mutex_unlock(&p->lock);
			rc = pd_settle_entry(p, e);
			pthread_mutex_lock(&p->lock);
			if (rc)
				break;
		} else if (is_waiting) {
			pthread_cond_wait(&p->gone, &p->lock);
		} else {
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static int pd_settle_ns(struct pd_store *p, int64_t ns)
{
	return pd_settle_range(p, ns, "", 0, NULL, 0);
}

/* True if a key of ns in [lo, hi) is pending. */
static bool pd_any_in(struct pd_store *p, int64_t ns, const char *lo,
		      size_t lo_len, const char *hi, size_t hi_len)
{
	struct pd_entry *e = NULL;
	int i;

	if (pd_none(p))
		return false;
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < PD_BUCKETS && !e; i++) {
		for (e = p->bucket[i]; e; e = e->next)
			if (pd_in_range(e, ns, lo, lo_len, hi, hi_len))
				break;
	}
	pthread_mutex_unlock(&p->lock);
	return e != NULL;
}

/* --- creating ------------------------------------------------------ */

static int pd_any(struct store *st, int64_t ns, const char *lo, size_t lo_len,
		  const char *hi, size_t hi_len);
static int pd_lookup(struct store *st, int64_t ns, const char *key, size_t len,
		     struct store_attr *a, bool *is_dir);

/* STORE_PUT_NOT_DIR: -EEXIST if a key, pending or stored, is under key/. */
static int pd_not_dir(struct pd_store *p, int64_t ns, const char *key,
		      size_t len)
{
	char lo[STORE_KEY_MAX + 2], hi[STORE_KEY_MAX + 2];
	int rc;

	if (!store_children_range(key, len, lo, hi))
		return 0;
	rc = pd_any(&p->base, ns, lo, len + 1, hi, len + 1);
	return rc > 0 ? -EEXIST : rc;
}

/*
 * 0 if the store below has no key (and with not_dir no directory)
 * named key, else -EEXIST or the error.  Both in one read where the
 * store can: a create is then one read and one write.
 */
static int pd_absent(struct pd_store *p, int64_t ns, const char *key,
		     size_t len, bool not_dir)
{
	struct store_attr a;
	bool is_dir;
	int rc;

	if (not_dir && p->in->ops->lookup) {
		rc = pd_lookup(&p->base, ns, key, len, &a, &is_dir);
	} else {
		rc = not_dir ? pd_not_dir(p, ns, key, len) : 0;
		if (rc == 0)
			rc = p->in->ops->stat(p->in, ns, key, len, STORE_KEY,
					      &a);
	}
	return rc == 0 ? -EEXIST : rc == -ENOENT ? 0 : rc;
}

/*
 * put(STORE_PUT_LAZY): -EEXIST if the key exists (here or below, or
 * with STORE_PUT_CLAIM claimed by another mount), else remember it with
 * put's attributes, returned in *out.  The caller makes sure no other
 * create of the same key runs in this process meanwhile (fs.c holds the
 * namespace's change lock).
 */
static int pd_create(struct pd_store *p, int64_t ns, const char *key,
		     size_t len, const struct store_put *put,
		     struct store_attr *out)
{
	bool is_claim = put->flags & STORE_PUT_CLAIM;
	struct pd_entry *e, **pe;
	struct timespec ts;
	int64_t now;
	int rc;

	if (pd_peek_attr(p, ns, key, len, STORE_KEY, NULL))
		return -EEXIST;
	e = calloc(1, sizeof(*e) + len);
	if (!e)
		return -ENOMEM;
	/* Without O_EXCL a name claimed elsewhere is created unclaimed. */
	rc = p->is_claim_rw
		 ? pd_claim_lock(p, ns, key, len, F_OFD_SETLK, F_WRLCK)
		 : -EEXIST;
	e->is_claimed = rc == 0;
	rc = e->is_claimed || !is_claim ? 0 : rc;
	if (rc == 0)
		rc = pd_absent(p, ns, key, len, put->flags & STORE_PUT_NOT_DIR);
	if (rc) {
		if (e->is_claimed)
			pd_claim_lock(p, ns, key, len, F_OFD_SETLK, F_UNLCK);
		free(e);
		return rc;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	e->ns = ns;
	e->len = len;
	memcpy(e->key, key, len);
	e->attr = put->attr;
	e->attr.size = 0;
	e->attr.mtime_ns = put->attr.mtime_ns ? put->attr.mtime_ns : now;
	e->attr.ctime_ns = now;
	e->attr.expiration = 0;
	pthread_mutex_lock(&p->lock);
	pe = pd_slot(p, ns, key, len);
	/* Versions are times in ns, as the store's; each one new. */
	e->attr.version = (uint64_t)now > p->last_version ? (uint64_t)now
							  : p->last_version + 1;
	p->last_version = e->attr.version;
	*pe = e;
	__atomic_store_n(&p->count, p->count + 1, __ATOMIC_RELEASE);
	if (out)
		*out = e->attr;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* --- the store's calls --------------------------------------------- */

static void pd_close(struct store *st)
{
	struct pd_store *p = pd_of(st);
	struct pd_entry *e, *next;
	int i;

	/* What no close stored is not kept. */
	for (i = 0; i < PD_BUCKETS; i++) {
		for (e = p->bucket[i]; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	p->in->ops->close(p->in);
	if (p->claim_fd >= 0)
		close(p->claim_fd); /* and with it every claim */
	pthread_cond_destroy(&p->gone);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int pd_ns_list(struct store *st, store_ns_fn fn, void *ctx)
{
	return pd_of(st)->in->ops->ns_list(pd_of(st)->in, fn, ctx);
}

static int pd_ns_find(struct store *st, const char *name, int64_t *ns)
{
	return pd_of(st)->in->ops->ns_find(pd_of(st)->in, name, ns);
}

static int pd_ns_create(struct store *st, const char *name, int64_t *ns)
{
	return pd_of(st)->in->ops->ns_create(pd_of(st)->in, name, ns);
}

static int pd_ns_remove(struct store *st, const char *name)
{
	struct pd_store *p = pd_of(st);
	int64_t ns;
	int rc = p->in->ops->ns_find(p->in, name, &ns);

	/* This mount has files in it. */
	if (rc == 0 && pd_any_in(p, ns, "", 0, NULL, 0))
		rc = -ENOTEMPTY;
	return rc ? rc : p->in->ops->ns_remove(p->in, name);
}

static int pd_stat(struct store *st, int64_t ns, const char *key, size_t len,
		   enum store_kind kind, struct store_attr *a)
{
	struct pd_store *p = pd_of(st);

	if (pd_peek_attr(p, ns, key, len, kind, a))
		return 0;
	return p->in->ops->stat(p->in, ns, key, len, kind, a);
}

static int pd_get(struct store *st, int64_t ns, const char *key, size_t len,
		  store_sink_fn fn, void *ctx, struct store_attr *a)
{
	struct pd_store *p = pd_of(st);
	struct store_attr pa;

	if (pd_peek_attr(p, ns, key, len, STORE_KEY, &pa)) {
		if (a)
			*a = pa;
		return 0; /* empty: nothing for fn */
	}
	return p->in->ops->get(p->in, ns, key, len, fn, ctx, a);
}

static int pd_peek(struct store *st, int64_t ns, const char *key, size_t len,
		   uint64_t max_size, store_sink_fn fn, void *ctx,
		   struct store_attr *a)
{
	struct pd_store *p = pd_of(st);

	if (pd_peek_attr(p, ns, key, len, STORE_KEY, a))
		return 0;
	return p->in->ops->peek(p->in, ns, key, len, max_size, fn, ctx, a);
}

static int pd_put(struct store *st, int64_t ns, const char *key, size_t len,
		  const struct store_put *put, struct store_attr *out)
{
	struct pd_store *p = pd_of(st);
	struct store_put merged;
	struct pd_entry *e;
	int rc;

	if ((put->flags & STORE_PUT_LAZY) &&
	    (p->in->ops->caps(p->in, ns) & STORE_CAP_EXCL) &&
	    (p->is_claim_rw || !(put->flags & STORE_PUT_CLAIM)))
		return pd_create(p, ns, key, len, put, out);
	if (put->flags & STORE_PUT_IF_PENDING)
		return pd_settle(p, ns, key, len);
	merged = *put;
	merged.flags &= ~(STORE_PUT_LAZY | STORE_PUT_CLAIM | STORE_PUT_NOT_DIR);
	rc = put->flags & STORE_PUT_NOT_DIR ? pd_not_dir(p, ns, key, len) : 0;
	if (rc)
		return rc;
	if (put->flags & STORE_PUT_EXCL) {
		/* The key exists here, stored or not, or another claims it. */
		if (pd_peek_attr(p, ns, key, len, STORE_KEY, NULL))
			return -EEXIST;
		rc = p->claim_fd < 0
			 ? 0
			 : pd_claim_lock(p, ns, key, len, F_OFD_GETLK, F_WRLCK);
		return rc ? rc
			  : p->in->ops->put(p->in, ns, key, len, &merged, out);
	}
	e = pd_claim(p, ns, key, len);
	if (e) {
		/* The put creates the key: with the attributes it had. */
		merged.flags |= STORE_PUT_NEW_ONLY_ATTR;
		if (!merged.attr.mode)
			merged.attr.mode = e->attr.mode;
		if (merged.attr.uid < 0)
			merged.attr.uid = e->attr.uid;
		if (merged.attr.gid < 0)
			merged.attr.gid = e->attr.gid;
	}
	rc = p->in->ops->put(p->in, ns, key, len, &merged, out);
	if (e && rc == 0)
		pd_done(p, e);
	else if (e)
		pd_unclaim(p, e); /* still pending, and still claimed */
	return rc;
}

/*
 * -EEXIST if another mount claims the name of directory prefix (which
 * ends in '/') for a file it is creating.
 */
static int pd_dir_claimed(struct pd_store *p, int64_t ns, const char *prefix,
			  size_t len)
{
	if (p->claim_fd < 0 || len < 2 || prefix[len - 1] != '/')
		return 0;
	return pd_claim_lock(p, ns, prefix, len - 1, F_OFD_GETLK, F_WRLCK);
}

static int pd_mkdir(struct store *st, int64_t ns, const char *prefix,
		    size_t len, const struct store_attr *a)
{
	struct pd_store *p = pd_of(st);
	int rc = pd_dir_claimed(p, ns, prefix, len);

	return rc ? rc : p->in->ops->mkdir(p->in, ns, prefix, len, a);
}

static int pd_remove(struct store *st, int64_t ns, const char *key, size_t len,
		     enum store_kind kind)
{
	struct pd_store *p = pd_of(st);
	struct pd_entry *e =
	    kind == STORE_KEY ? pd_claim(p, ns, key, len) : NULL;
	int rc;

	/* A pending key has nothing to remove below: it is forgotten. */
	if (e)
		pd_done(p, e);
	rc = p->in->ops->remove(p->in, ns, key, len, kind);
	return e && rc == -ENOENT ? 0 : rc;
}

static void pd_forget(struct store *st, int64_t ns, const char *key, size_t len)
{
	struct pd_store *p = pd_of(st);
	struct pd_entry *e = pd_claim(p, ns, key, len);

	if (e)
		pd_done(p, e);
}

static int pd_setattr(struct store *st, int64_t ns, const char *key, size_t len,
		      enum store_kind kind, int mask,
		      const struct store_attr *a)
{
	struct pd_store *p = pd_of(st);
	int rc = kind == STORE_KEY ? pd_settle(p, ns, key, len) : 0;

	return rc ? rc
		  : p->in->ops->setattr(p->in, ns, key, len, kind, mask, a);
}

/* --- listings: the store's rows with the pending keys merged in --- */

struct pd_merge {
	struct store_row *rows; /* pending keys in the range, in order */
	size_t n, next;
	store_row_fn fn;
	void *ctx;
	int limit, count; /* rows given to fn */
	int stop;	  /* fn's or the limit's nonzero answer */
};

static int pd_key_cmp(const char *a, size_t a_len, const char *b, size_t b_len)
{
	int c = memcmp(a, b, a_len < b_len ? a_len : b_len);

	return c ? c : (a_len > b_len) - (a_len < b_len);
}

static int pd_row_cmp(const void *a, const void *b)
{
	const struct store_row *x = a, *y = b;

	return pd_key_cmp(x->key, x->key_len, y->key, y->key_len);
}

/* Give fn one row: its answer, or 1 once limit rows went. */
static int pd_give(struct pd_merge *m, const struct store_row *r)
{
	int rc = m->fn(m->ctx, r);

	m->count++;
	m->stop = rc ? rc : m->count >= m->limit;
	return m->stop;
}

/* A row of the store below, after the pending keys before it. */
static int pd_merge_row(void *ctx, const struct store_row *r)
{
	struct pd_merge *m = ctx;
	const struct store_row *p;
	int c, rc;

	while (m->next < m->n) {
		p = &m->rows[m->next];
		c = pd_key_cmp(p->key, p->key_len, r->key, r->key_len);
		if (c > 0 || (c == 0 && r->kind < STORE_KEY))
			break;
		m->next++;
		rc = pd_give(m, p);
		if (rc)
			return rc;
		if (c == 0 && r->kind == STORE_KEY)
			return 0; /* pending here: this mount's create wins */
	}
	return pd_give(m, r);
}

static void pd_merge_free(struct pd_merge *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free((char *)m->rows[i].key);
	free(m->rows);
}

/* Copy the pending keys of ns in [lo, hi) into m, sorted. */
static int pd_merge_collect(struct pd_store *p, struct pd_merge *m, int64_t ns,
			    const char *lo, size_t lo_len, const char *hi,
			    size_t hi_len)
{
	struct store_row *r;
	struct pd_entry *e;
	size_t cap = 0;
	int i, rc = 0;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < PD_BUCKETS && rc == 0; i++) {
		for (e = p->bucket[i]; e && rc == 0; e = e->next) {
			if (!pd_in_range(e, ns, lo, lo_len, hi, hi_len))
				continue;
			if (m->n == cap) {
				cap = cap ? 2 * cap : 8;
				r = realloc(m->rows, cap * sizeof(*r));
				if (!r) {
					rc = -ENOMEM;
					break;
				}
				m->rows = r;
			}
			r = &m->rows[m->n];
			memset(r, 0, sizeof(*r));
			r->key = malloc(e->len ? e->len : 1);
			if (!r->key) {
				rc = -ENOMEM;
				break;
			}
			memcpy((char *)r->key, e->key, e->len);
			r->key_len = e->len;
			r->kind = STORE_KEY;
			r->attr = e->attr;
			m->n++;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (m->n > 1)
		qsort(m->rows, m->n, sizeof(*m->rows), pd_row_cmp);
	return rc;
}

static int pd_list(struct store *st, int64_t ns, const char *lo, size_t lo_len,
		   const char *hi, size_t hi_len, int limit, store_row_fn fn,
		   void *ctx)
{
	struct pd_store *p = pd_of(st);
	struct pd_merge m = {.fn = fn, .ctx = ctx, .limit = limit};
	int rc, rc2 = 0;

	if (!pd_any_in(p, ns, lo, lo_len, hi, hi_len))
		return p->in->ops->list(p->in, ns, lo, lo_len, hi, hi_len,
					limit, fn, ctx);
	rc = pd_merge_collect(p, &m, ns, lo, lo_len, hi, hi_len);
	if (rc == 0)
		rc = p->in->ops->list(p->in, ns, lo, lo_len, hi, hi_len, limit,
				      pd_merge_row, &m);
	/*
	 * The store ran out of rows before limit: the pending keys after
	 * its last one follow.  (Had it given limit rows, so had fn, and
	 * the next page starts after the last of them.)
	 */
	while (rc == 0 && !m.stop && m.next < m.n)
		rc2 = pd_give(&m, &m.rows[m.next++]);
	pd_merge_free(&m);
	return rc ? rc : rc2 < 0 ? rc2 : 0;
}

static int pd_any(struct store *st, int64_t ns, const char *lo, size_t lo_len,
		  const char *hi, size_t hi_len)
{
	struct pd_store *p = pd_of(st);

	if (pd_any_in(p, ns, lo, lo_len, hi, hi_len))
		return 1;
	return p->in->ops->any(p->in, ns, lo, lo_len, hi, hi_len);
}

static int pd_lookup(struct store *st, int64_t ns, const char *key, size_t len,
		     struct store_attr *a, bool *is_dir)
{
	struct pd_store *p = pd_of(st);
	char lo[STORE_KEY_MAX + 2], hi[STORE_KEY_MAX + 2];
	struct store_attr pa;
	bool is_pending;
	int rc;

	/*
	 * Looked at before the store: an entry gone by then was stored
	 * before the store is read.  A pending key under key/ makes key a
	 * directory, as a stored one does.
	 */
	is_pending = pd_peek_attr(p, ns, key, len, STORE_KEY, &pa);
	rc = p->in->ops->lookup(p->in, ns, key, len, a, is_dir);
	if (rc == 0 && *is_dir)
		return 0;
	if (store_children_range(key, len, lo, hi) &&
	    pd_any_in(p, ns, lo, len + 1, hi, len + 1)) {
		*is_dir = true;
		return 0;
	}
	if (is_pending) {
		*a = pa;
		*is_dir = false;
		rc = 0;
	}
	return rc;
}

/* Settle the pending keys of [k, k's prefix end) in namespace ns. */
static int pd_settle_prefix(struct pd_store *p, int64_t ns, const char *k,
			    size_t len)
{
	char hi[STORE_KEY_MAX + 1];

	if (len == 0)
		return pd_settle_ns(p, ns);
	store_prefix_end(k, len, hi);
	return pd_settle_range(p, ns, k, len, hi, len);
}

static int pd_rename(struct store *st, int64_t from_ns, const char *from,
		     size_t from_len, int64_t to_ns, const char *to,
		     size_t to_len, enum store_kind kind, bool noreplace)
{
	struct pd_store *p = pd_of(st);
	int rc = 0;

	/* Not onto a name another mount claims for O_EXCL. */
	if (noreplace && kind == STORE_KEY && p->claim_fd >= 0)
		rc = pd_claim_lock(p, to_ns, to, to_len, F_OFD_GETLK, F_WRLCK);
	else if (noreplace)
		rc = pd_dir_claimed(p, to_ns, to, to_len);
	if (rc) {
		;
	} else if (kind == STORE_KEY) {
		rc = pd_settle(p, from_ns, from, from_len);
		if (rc == 0)
			rc = pd_settle(p, to_ns, to, to_len);
	} else {
		rc = pd_settle_prefix(p, from_ns, from, from_len);
		if (rc == 0)
			rc = pd_settle_prefix(p, to_ns, to, to_len);
	}

	return rc ? rc
		  : p->in->ops->rename(p->in, from_ns, from, from_len, to_ns,
				       to, to_len, kind, noreplace);
}

static int pd_usage(struct store *st, struct store_usage *u)
{
	return pd_of(st)->in->ops->usage(pd_of(st)->in, u);
}

static int pd_ns_usage(struct store *st, int64_t ns, struct store_usage *u)
{
	return pd_of(st)->in->ops->ns_usage(pd_of(st)->in, ns, u);
}

static int pd_meta_get(struct store *st, int64_t ns, const char *key,
		       size_t len, void *buf, size_t size, size_t *out_len)
{
	struct pd_store *p = pd_of(st);

	if (pd_peek_attr(p, ns, key, len, STORE_KEY, NULL))
		return -ENODATA;
	return p->in->ops->meta_get(p->in, ns, key, len, buf, size, out_len);
}

static int pd_meta_set(struct store *st, int64_t ns, const char *key,
		       size_t len, const char *json, size_t json_len)
{
	struct pd_store *p = pd_of(st);
	int rc = pd_settle(p, ns, key, len);

	return rc ? rc
		  : p->in->ops->meta_set(p->in, ns, key, len, json, json_len);
}

static int pd_expire(struct store *st, int64_t ns, const char *key, size_t len,
		     int64_t expiration)
{
	struct pd_store *p = pd_of(st);
	int rc = pd_settle(p, ns, key, len);

	return rc ? rc : p->in->ops->expire(p->in, ns, key, len, expiration);
}

static int pd_xattr_get(struct store *st, int64_t ns, const char *key,
			size_t len, enum store_kind kind, const char *name,
			void *buf, size_t size, size_t *out_len)
{
	struct pd_store *p = pd_of(st);

	/* The kernel asks for security.capability before a first write. */
	if (pd_peek_attr(p, ns, key, len, kind, NULL))
		return -ENODATA;
	return p->in->ops->xattr_get(p->in, ns, key, len, kind, name, buf, size,
				     out_len);
}

static int pd_xattr_set(struct store *st, int64_t ns, const char *key,
			size_t len, enum store_kind kind, const char *name,
			const void *value, size_t size, int flags)
{
	struct pd_store *p = pd_of(st);
	int rc = kind == STORE_KEY ? pd_settle(p, ns, key, len) : 0;

	return rc ? rc
		  : p->in->ops->xattr_set(p->in, ns, key, len, kind, name,
					  value, size, flags);
}

static int pd_xattr_list(struct store *st, int64_t ns, const char *key,
			 size_t len, enum store_kind kind, store_ns_fn fn,
			 void *ctx)
{
	struct pd_store *p = pd_of(st);

	if (pd_peek_attr(p, ns, key, len, kind, NULL))
		return 0; /* none yet */
	return p->in->ops->xattr_list(p->in, ns, key, len, kind, fn, ctx);
}

static int pd_xattr_remove(struct store *st, int64_t ns, const char *key,
			   size_t len, enum store_kind kind, const char *name)
{
	struct pd_store *p = pd_of(st);
	int rc = kind == STORE_KEY ? pd_settle(p, ns, key, len) : 0;

	return rc ? rc
		  : p->in->ops->xattr_remove(p->in, ns, key, len, kind, name);
}

static int pd_put_many(struct store *st, int64_t ns,
		       const struct store_item *items, size_t n, size_t *failed)
{
	struct pd_store *p = pd_of(st);
	int rc = pd_settle_ns(p, ns);

	*failed = n;
	return rc ? rc : p->in->ops->put_many(p->in, ns, items, n, failed);
}

static int pd_json_compact(struct store *st, const char *json, size_t len,
			   char **out, size_t *out_len)
{
	return pd_of(st)->in->ops->json_compact(pd_of(st)->in, json, len, out,
						out_len);
}

static int pd_sweep(struct store *st, int limit, int *removed)
{
	return pd_of(st)->in->ops->sweep(pd_of(st)->in, limit, removed);
}

static int pd_open_value(struct store *st, int64_t ns, const char *key,
			 size_t len, int *fd, struct store_attr *a)
{
	struct pd_store *p = pd_of(st);

	if (pd_peek_attr(p, ns, key, len, STORE_KEY, a)) {
		*fd = -1;
		return 0;
	}
	return p->in->ops->open_value(p->in, ns, key, len, fd, a);
}

static int pd_caps(struct store *st, int64_t ns)
{
	return pd_of(st)->in->ops->caps(pd_of(st)->in, ns);
}

static const struct store_ops pd_ops = {
    .close = pd_close,
    .ns_list = pd_ns_list,
    .ns_find = pd_ns_find,
    .ns_create = pd_ns_create,
    .ns_remove = pd_ns_remove,
    .stat = pd_stat,
    .get = pd_get,
    .peek = pd_peek,
    .put = pd_put,
    .mkdir = pd_mkdir,
    .remove = pd_remove,
    .setattr = pd_setattr,
    .list = pd_list,
    .any = pd_any,
    .lookup = pd_lookup,
    .rename = pd_rename,
    .usage = pd_usage,
    .ns_usage = pd_ns_usage,
    .meta_get = pd_meta_get,
    .meta_set = pd_meta_set,
    .expire = pd_expire,
    .xattr_get = pd_xattr_get,
    .xattr_set = pd_xattr_set,
    .xattr_list = pd_xattr_list,
    .xattr_remove = pd_xattr_remove,
    .put_many = pd_put_many,
    .json_compact = pd_json_compact,
    .sweep = pd_sweep,
    .open_value = pd_open_value,
    .caps = pd_caps,
    .forget = pd_forget,
};

int store_pending_wrap(struct store *in, const char *db_path,
		       struct store **out)
{
	struct pd_store *p = calloc(1, sizeof(*p));
	char path[PATH_MAX + 16], *real;

	if (!p)
		return -ENOMEM;
	/* One file for every path of one database, symlinks too. */
	real = realpath(db_path, NULL);
	snprintf(path, sizeof(path), "%s-claims", real ? real : db_path);
	free(real);
	p->claim_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	p->is_claim_rw = p->claim_fd >= 0;
	if (p->claim_fd < 0) {
		log_warn("%s: %s; O_EXCL creates store an empty key at once",
			 path, strerror(errno));
		/* Still enough to see other mounts' claims. */
		p->claim_fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	p->ops = pd_ops;
	if (!in->ops->lookup)
		p->ops.lookup = NULL;
	if (!in->ops->open_value)
		p->ops.open_value = NULL;
	p->base.ops = &p->ops;
	p->base.spill_dir = in->spill_dir;
	p->in = in;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->gone, NULL);
	*out = &p->base;
	return 0;
}
