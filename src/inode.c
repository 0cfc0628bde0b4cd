/*
 * inode: two chained hash maps over the same inodes, one by number and
 * one by (type, namespace, key), under one mutex.  Both grow by
 * doubling; neither ever shrinks below its start size.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "inode.h"

#define INODE_START_BUCKETS 1024

struct inode_map {
	struct inode **bucket;
	size_t size;  /* buckets, a power of two */
	size_t count; /* inodes in the map */
};

static pthread_mutex_t inode_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct inode_map by_ino, by_name;
static uint64_t next_ino = INODE_ROOT_INO + 1;

static size_t hash_ino(uint64_t ino)
{
	ino ^= ino >> 33;
	ino *= 0xff51afd7ed558ccdULL;
	ino ^= ino >> 33;
	return (size_t)ino;
}

static size_t hash_name(enum inode_type type, int64_t ns, const char *key,
			size_t key_len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)type;
	size_t i;

	h = (h ^ (uint64_t)ns) * 0x100000001b3ULL;
	for (i = 0; i < key_len; i++)
		h = (h ^ (unsigned char)key[i]) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 29));
}

static struct inode **ino_next(struct inode *in)
{
	return &in->ino_next;
}

static struct inode **name_next(struct inode *in)
{
	return &in->name_next;
}

static size_t ino_hash_of(struct inode *in)
{
	return hash_ino(in->ino);
}

static size_t name_hash_of(struct inode *in)
{
	return hash_name(in->type, in->ns, in->key, in->key_len);
}

static int map_init(struct inode_map *m)
{
	m->bucket = calloc(INODE_START_BUCKETS, sizeof(*m->bucket));
	m->size = INODE_START_BUCKETS;
	m->count = 0;
	return m->bucket ? 0 : -ENOMEM;
}

/* Double the buckets when the map is fuller than one per bucket. */
static void map_grow(struct inode_map *m,
		     struct inode **(*next)(struct inode *),
		     size_t (*hash)(struct inode *))
{
	struct inode **nb, *in, *after;
	size_t i, n = m->size * 2;

	if (m->count < m->size)
		return;
	nb = calloc(n, sizeof(*nb));
	if (!nb)
		return; /* longer chains, still correct */
	for (i = 0; i < m->size; i++) {
		for (in = m->bucket[i]; in; in = after) {
			after = *next(in);
			*next(in) = nb[hash(in) & (n - 1)];
			nb[hash(in) & (n - 1)] = in;
		}
	}
	free(m->bucket);
	m->bucket = nb;
	m->size = n;
}

static void map_add(struct inode_map *m, struct inode *in,
		    struct inode **(*next)(struct inode *),
		    size_t (*hash)(struct inode *))
{
	size_t b;

	map_grow(m, next, hash);
	b = hash(in) & (m->size - 1);
	*next(in) = m->bucket[b];
	m->bucket[b] = in;
	m->count++;
}

static void map_del(struct inode_map *m, struct inode *in,
		    struct inode **(*next)(struct inode *),
		    size_t (*hash)(struct inode *))
{
	struct inode **p = &m->bucket[hash(in) & (m->size - 1)];

	for (; *p; p = next(*p)) {
		if (*p == in) {
			*p = *next(in);
			*next(in) = NULL;
			m->count--;
			return;
		}
	}
}

int inode_table_init(void)
{
	if (map_init(&by_ino) || map_init(&by_name))
		return -ENOMEM;
	return 0;
}

void inode_table_free(void)
{
	size_t i;
	struct inode *in, *after;

	for (i = 0; i < by_ino.size; i++) {
		for (in = by_ino.bucket[i]; in; in = after) {
			after = in->ino_next;
			free(in->key);
			free(in);
		}
	}
	free(by_ino.bucket);
	free(by_name.bucket);
	memset(&by_ino, 0, sizeof(by_ino));
	memset(&by_name, 0, sizeof(by_name));
}

void inode_lock(void)
{
	pthread_mutex_lock(&inode_mutex);
}

void inode_unlock(void)
{
	pthread_mutex_unlock(&inode_mutex);
}

struct inode *inode_find(uint64_t ino)
{
	struct inode *in = by_ino.bucket[hash_ino(ino) & (by_ino.size - 1)];

	while (in && in->ino != ino)
		in = in->ino_next;
	return in;
}

struct inode *inode_by_name(enum inode_type type, int64_t ns, const char *key,
			    size_t key_len)
{
	size_t b = hash_name(type, ns, key, key_len) & (by_name.size - 1);
	struct inode *in;

	for (in = by_name.bucket[b]; in; in = in->name_next) {
		if (in->type == type && in->ns == ns &&
		    in->key_len == key_len && !memcmp(in->key, key, key_len))
			return in;
	}
	return NULL;
}

struct inode *inode_get(enum inode_type type, int64_t ns, bool is_flat,
			const char *key, size_t key_len)
{
	struct inode *in;

	inode_lock();
	in = inode_by_name(type, ns, key, key_len);
	if (!in) {
		in = calloc(1, sizeof(*in));
		if (in)
			in->key = malloc(key_len + 1);
		if (!in || !in->key) {
			free(in);
			inode_unlock();
			return NULL;
		}
		memcpy(in->key, key, key_len);
		in->key[key_len] = '\0';
		in->key_len = key_len;
		in->type = type;
		in->ns = ns;
		in->is_flat = is_flat;
		in->ino = type == INODE_ROOT ? INODE_ROOT_INO : next_ino++;
		map_add(&by_ino, in, ino_next, ino_hash_of);
		map_add(&by_name, in, name_next, name_hash_of);
	}
	in->nlookup++;
	inode_unlock();
	return in;
}

/* Free in if neither the kernel nor an open file holds it. */
static void inode_maybe_free(struct inode *in)
{
	if (in->nlookup > 0 || in->open_count > 0 || in->type == INODE_ROOT)
		return;
	if (!in->is_unlinked)
		map_del(&by_name, in, name_next, name_hash_of);
	map_del(&by_ino, in, ino_next, ino_hash_of);
	free(in->key);
	free(in);
}

void inode_forget(uint64_t ino, uint64_t n)
{
	struct inode *in;

	inode_lock();
	in = inode_find(ino);
	if (in) {
		in->nlookup = in->nlookup > n ? in->nlookup - n : 0;
		inode_maybe_free(in);
	}
	inode_unlock();
}

void inode_open(struct inode *in)
{
	in->open_count++;
}

void inode_close(struct inode *in)
{
	in->open_count--;
	inode_maybe_free(in);
}

struct inode *inode_unlink(enum inode_type type, int64_t ns, const char *key,
			   size_t key_len)
{
	struct inode *in = inode_by_name(type, ns, key, key_len);

	if (in) {
		map_del(&by_name, in, name_next, name_hash_of);
		in->is_unlinked = true;
	}
	return in;
}

/* Give one inode a new key: out of the name map, rename, back in. */
static int inode_rekey(struct inode *in, int64_t ns, const char *key,
		       size_t key_len)
{
	char *k = malloc(key_len + 1);

	if (!k)
		return -ENOMEM;
	memcpy(k, key, key_len);
	k[key_len] = '\0';
	map_del(&by_name, in, name_next, name_hash_of);
	free(in->key);
	in->key = k;
	in->key_len = key_len;
	in->ns = ns;
	map_add(&by_name, in, name_next, name_hash_of);
	return 0;
}

int inode_rename(enum inode_type type, int64_t from_ns, const char *from,
		 size_t from_len, int64_t to_ns, const char *to, size_t to_len)
{
	struct inode *in, *after, **moved = NULL;
	size_t i, n = 0, cap = 0;
	char *key;
	int rc = 0;

	if (type == INODE_KEY) {
		inode_unlink(INODE_KEY, to_ns, to, to_len);
		in = inode_by_name(INODE_KEY, from_ns, from, from_len);
		return in ? inode_rekey(in, to_ns, to, to_len) : 0;
	}

	inode_unlink(INODE_DIR, to_ns, to, to_len);
	/* Collect first: rekeying moves inodes between buckets. */
	for (i = 0; i < by_name.size; i++) {
		for (in = by_name.bucket[i]; in; in = after) {
			after = in->name_next;
			if (in->ns != from_ns || in->key_len < from_len ||
			    memcmp(in->key, from, from_len) ||
			    (in->type != INODE_DIR && in->type != INODE_KEY))
				continue;
			if (n == cap) {
				struct inode **m;

				cap = cap ? cap * 2 : 64;
				m = realloc(moved, cap * sizeof(*m));
				if (!m) {
					free(moved);
					return -ENOMEM;
				}
				moved = m;
			}
			moved[n++] = in;
		}
	}
	for (i = 0; i < n && rc == 0; i++) {
		in = moved[i];
		key = malloc(to_len + in->key_len - from_len + 1);
		if (!key) {
			rc = -ENOMEM;
			break;
		}
		memcpy(key, to, to_len);
		memcpy(key + to_len, in->key + from_len,
		       in->key_len - from_len);
		rc = inode_rekey(in, to_ns, key,
				 to_len + in->key_len - from_len);
		free(key);
	}
	free(moved);
	return rc;
}

void inode_each_open(void (*fn)(struct inode *in, void *ctx), void *ctx)
{
	struct inode *in;
	size_t i;

	for (i = 0; i < by_ino.size; i++)
		for (in = by_ino.bucket[i]; in; in = in->ino_next)
			if (in->files)
				fn(in, ctx);
}
