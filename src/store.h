/*
 * store: the backend interface.  kvfs's file system and CLI talk to a
 * store only through these calls; a backend is one file implementing
 * struct store_ops: store_sqlite.c (local namespaces) and
 * store_remote.c (Workers KV namespaces, routing the rest to SQLite).
 *
 * Model.  A store holds namespaces (name -> id).  A namespace holds
 * rows identified by (key, kind): kind STORE_KEY is a Workers KV key
 * (a value, or a symbolic link whose target is the value), kind
 * STORE_DIR is a directory made with mkdir, stored under its prefix
 * ("a/b/" for directory a/b) so that a directory's rows are exactly
 * the keys in [prefix, prefix with its last byte + 1).  Workers-KV-
 * facing views (list, export) skip STORE_DIR rows.
 *
 * Keys are compared as bytes (memcmp order, Workers KV's order).  A key
 * whose expiration is at or before now is expired: every call treats
 * it as missing, and a put over it starts fresh.
 *
 * Errors: every call returns 0 or a negative errno.  -ENOENT missing,
 * -EEXIST for STORE_PUT_EXCL over an existing key, -EBUSY when the
 * database stayed locked for busy_timeout_ms, -ENOSPC when its disk is
 * full, -EIO for anything unexpected (logged).  Never a positive code.
 *
 * Threads: a store may be used from any number of threads at once.
 */
#ifndef KVFS_STORE_H
#define KVFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STORE_KEY_MAX	512	 /* bytes of UTF-8, Workers KV's key limit */
#define STORE_VALUE_MAX 26214400 /* bytes, Workers KV's value limit */
#define STORE_META_MAX	1024	 /* bytes of compact JSON metadata */
#define STORE_XATTR_MAX                                                        \
	65536 /* bytes of other attributes per row,                            \
		 names and values together */

/* Flags for xattr_set(), as setxattr(2)'s. */
#define STORE_XATTR_CREATE  1 /* -EEXIST if the attribute exists */
#define STORE_XATTR_REPLACE 2 /* -ENODATA if it does not */

enum store_kind { STORE_KEY = 0, STORE_DIR = 1 };

/* What a row carries besides its value. */
struct store_attr {
	uint64_t size;	    /* value length in bytes */
	uint32_t mode;	    /* st_mode with type bits; 0: none stored */
	int64_t uid;	    /* owner, -1: none stored */
	int64_t gid;	    /* group, -1: none stored */
	int64_t mtime_ns;   /* last put, or what utimensat set */
	int64_t ctime_ns;   /* last change of value or attributes */
	int64_t expiration; /* seconds since the epoch, 0: never */
	uint64_t version;   /* changes whenever the value changes */
};

/* Which fields of struct store_attr a setattr call changes. */
#define STORE_SET_MODE	1
#define STORE_SET_UID	2
#define STORE_SET_GID	4
#define STORE_SET_MTIME 8

/* Flags for struct store_put. */
#define STORE_PUT_EXCL 1 /* fail with -EEXIST if the key exists */
#define STORE_PUT_APPEND                                                       \
	2 /* append to the current value; an append                            \
	     changes the value only and keeps metadata,                        \
	     expiration and attributes, with or without                        \
	     STORE_PUT_KEEP_META */
#define STORE_PUT_KEEP_META                                                    \
	4 /* keep metadata and expiration (file                                \
	     semantics); without it they are cleared,                          \
	     as by a Workers KV put */
#define STORE_PUT_NEW_ONLY_ATTR                                                \
	8 /* apply attr's mode/uid/gid only when                               \
	     the key is created */
#define STORE_PUT_FD                                                           \
	32 /* fd holds the value too, see struct                               \
	      store_put */
#define STORE_PUT_CREATE                                                       \
	16 /* with EXCL: the empty key of a file being                         \
	      created; a store without STORE_CAP_EXCL                          \
	      checks and keeps it locally until the file's                     \
	      first real put (ignored by stores with it) */
#define STORE_PUT_LAZY                                                         \
	64 /* with EXCL|CREATE, on a store that                                \
	      store_pending_wrap() made: keep the key in                       \
	      memory until its first put */
#define STORE_PUT_CLAIM                                                        \
	128 /* with LAZY: O_EXCL, the key must not be                          \
	       claimed by another mount either */
#define STORE_PUT_IF_PENDING                                                   \
	256 /* store the key, empty, only if a LAZY put                        \
	       left it pending (a created file's close                         \
	       that wrote nothing) */
#define STORE_PUT_NOT_DIR                                                      \
	512 /* with EXCL, on a store that                                      \
	       store_pending_wrap() made: fail with                            \
	       -EEXIST also if the key is a directory of                       \
	       the tree layout (key + '/' starts a key) */

/*
 * Capabilities, per namespace (caps()).  A store without one of them
 * still does what the call asks, with weaker guarantees, and the file
 * system adapts: see fs.c.
 */
#define STORE_CAP_RENAME 1 /* rename() works, in one transaction */
#define STORE_CAP_EXCL                                                         \
	2 /* STORE_PUT_EXCL is atomic against other                            \
	     clients, and an empty key may be put at create */
#define STORE_CAP_APPEND                                                       \
	4		  /* STORE_PUT_APPEND is atomic against other clients */
#define STORE_CAP_XATTR 8 /* other extended attributes on keys */
#define STORE_CAP_ALL	15

/*
 * Where a put's value comes from: read(ctx, off, buf, len) must fill
 * buf with len bytes of the value starting at off and return 0, or a
 * negative errno that aborts the put.
 */
struct store_put {
	int flags;     /* STORE_PUT_* */
	uint64_t size; /* bytes in the value (or to append) */
	int (*read)(void *ctx, uint64_t off, void *buf, size_t len);
	void *ctx;
	/*
	 * With STORE_PUT_FD (and without STORE_PUT_APPEND): an unlinked
	 * file, made in struct store's spill_dir, whose bytes are exactly
	 * the value.  The store may keep that very file as the value
	 * instead of copying it, so once the put succeeded the caller
	 * must never write to it again (reading is fine).
	 */
	int fd;
	struct store_attr attr; /* mode, uid, gid, mtime_ns (0: now) */
	const char *metadata;	/* JSON or NULL, without KEEP_META */
	int64_t expiration;	/* 0: none, without KEEP_META */
};

/* One row as list() reports it; key is valid during the callback. */
struct store_row {
	const char *key;
	size_t key_len;
	enum store_kind kind;
	struct store_attr attr;
	const char *metadata; /* NULL if none */
};

/* Return 0 to go on, 1 to stop early, a negative errno to fail. */
typedef int (*store_row_fn)(void *ctx, const struct store_row *row);
/* Receives a value in order, chunk by chunk. */
typedef int (*store_sink_fn)(void *ctx, const void *buf, size_t len);
typedef int (*store_ns_fn)(void *ctx, int64_t ns, const char *name);

struct store_usage {
	uint64_t bytes; /* value bytes stored, all namespaces */
	uint64_t keys;	/* rows, all namespaces */
};

/* One value of a put_many() call. */
struct store_item {
	const char *key;
	size_t key_len;
	const void *value;
	size_t size;
	const char *metadata; /* compact JSON, or NULL */
	int64_t expiration;   /* seconds since the epoch, 0: never */
};

struct store;

struct store_ops {
	void (*close)(struct store *st);

	int (*ns_list)(struct store *st, store_ns_fn fn, void *ctx);
	int (*ns_find)(struct store *st, const char *name, int64_t *ns);
	/* Creates the namespace; -EEXIST if it exists. */
	int (*ns_create)(struct store *st, const char *name, int64_t *ns);
	/* Removes an empty namespace; -ENOTEMPTY if it holds rows. */
	int (*ns_remove)(struct store *st, const char *name);

	/* Attributes of one row; -ENOENT if missing or expired. */
	int (*stat)(struct store *st, int64_t ns, const char *key,
		    size_t key_len, enum store_kind kind,
		    struct store_attr *attr);
	/* Streams the value into fn, then fills *attr (may be NULL). */
	int (*get)(struct store *st, int64_t ns, const char *key,
		   size_t key_len, store_sink_fn fn, void *ctx,
		   struct store_attr *attr);
	/*
	 * Fills *attr, and streams the value into fn only when it is at
	 * most max_size bytes (callers compare attr->size to max_size).
	 */
	int (*peek)(struct store *st, int64_t ns, const char *key,
		    size_t key_len, uint64_t max_size, store_sink_fn fn,
		    void *ctx, struct store_attr *attr);
	/* Stores a value in one transaction; fills *out (may be NULL). */
	int (*put)(struct store *st, int64_t ns, const char *key,
		   size_t key_len, const struct store_put *put,
		   struct store_attr *out);
	/* Creates a STORE_DIR row; -EEXIST if it exists. */
	int (*mkdir)(struct store *st, int64_t ns, const char *prefix,
		     size_t prefix_len, const struct store_attr *attr);
	/* Removes one row; -ENOENT if missing. */
	int (*remove)(struct store *st, int64_t ns, const char *key,
		      size_t key_len, enum store_kind kind);
	/* Changes the fields named by mask (STORE_SET_*). */
	int (*setattr)(struct store *st, int64_t ns, const char *key,
		       size_t key_len, enum store_kind kind, int mask,
		       const struct store_attr *attr);
	/*
	 * Rows with lo <= key < hi (hi NULL: no upper bound), ordered by
	 * key then kind, at most limit of them, live ones only.
	 */
	int (*list)(struct store *st, int64_t ns, const char *lo, size_t lo_len,
		    const char *hi, size_t hi_len, int limit, store_row_fn fn,
		    void *ctx);
	/* True (1) if any live row has lo <= key < hi, else 0. */
	int (*any)(struct store *st, int64_t ns, const char *lo, size_t lo_len,
		   const char *hi, size_t hi_len);
	/*
	 * Optional: what a name is, in one read: *is_dir if any live key
	 * starts with key + '/' (tree layout), else the key's attributes
	 * (0, or -ENOENT).  The same as any() then stat() of the key.
	 */
	int (*lookup)(struct store *st, int64_t ns, const char *key,
		      size_t key_len, struct store_attr *attr, bool *is_dir);
	/*
	 * Renames a key, or (kind STORE_DIR) every row under prefix from
	 * to prefix to, in one transaction.  noreplace: -EEXIST if the
	 * target exists.  A replaced target key is removed.
	 */
	int (*rename)(struct store *st, int64_t from_ns, const char *from,
		      size_t from_len, int64_t to_ns, const char *to,
		      size_t to_len, enum store_kind kind, bool noreplace);
	int (*usage)(struct store *st, struct store_usage *usage);
	/* The same for one namespace. */
	int (*ns_usage)(struct store *st, int64_t ns,
			struct store_usage *usage);

	/*
	 * A key's metadata, copied into buf as getxattr(2) does: *len
	 * gets its length; size 0 asks for the length only; -ERANGE if
	 * size is too small; -ENODATA if the key has none.
	 */
	int (*meta_get)(struct store *st, int64_t ns, const char *key,
			size_t key_len, void *buf, size_t size, size_t *len);
	/*
	 * Set a key's metadata to json (validated, stored in compact
	 * form: -EINVAL if not JSON, -ERANGE if the compact form is over
	 * STORE_META_MAX) or clear it (json NULL).
	 */
	int (*meta_set)(struct store *st, int64_t ns, const char *key,
			size_t key_len, const char *json, size_t json_len);
	/* Set a key's expiration, seconds since the epoch, 0: never. */
	int (*expire)(struct store *st, int64_t ns, const char *key,
		      size_t key_len, int64_t expiration);
	/*
	 * Other extended attributes of a row, at most STORE_XATTR_MAX
	 * bytes per row (-ENOSPC).  get copies like meta_get; -ENODATA
	 * for an attribute the row does not have.  list calls fn with
	 * each name (the ns argument is 0).  A put without
	 * STORE_PUT_KEEP_META removes them all.
	 */
	int (*xattr_get)(struct store *st, int64_t ns, const char *key,
			 size_t key_len, enum store_kind kind, const char *name,
			 void *buf, size_t size, size_t *len);
	int (*xattr_set)(struct store *st, int64_t ns, const char *key,
			 size_t key_len, enum store_kind kind, const char *name,
			 const void *value, size_t size, int flags);
	int (*xattr_list)(struct store *st, int64_t ns, const char *key,
			  size_t key_len, enum store_kind kind, store_ns_fn fn,
			  void *ctx);
	int (*xattr_remove)(struct store *st, int64_t ns, const char *key,
			    size_t key_len, enum store_kind kind,
			    const char *name);
	/*
	 * Put every item as Workers KV does (value, metadata and
	 * expiration replaced; other attributes cleared) in one
	 * transaction: all are stored or none.  On failure *failed gets
	 * the index of the item that failed, or n when no item did (the
	 * database was busy, a request to the API failed).  A remote
	 * namespace takes the items in bulk requests of REMOTE_BULK_MAX:
	 * those before the failing request stay stored.
	 */
	int (*put_many)(struct store *st, int64_t ns,
			const struct store_item *items, size_t n,
			size_t *failed);
	/*
	 * The compact form of json[0..len) as meta_set() would store it,
	 * into *out (malloc'ed, NUL-terminated, length in *out_len);
	 * -EINVAL if it is not JSON.
	 */
	int (*json_compact)(struct store *st, const char *json, size_t len,
			    char **out, size_t *out_len);
	/* Remove at most limit expired keys; *removed gets the count. */
	int (*sweep)(struct store *st, int limit, int *removed);
	/*
	 * Optional (NULL: not offered).  Fills *attr and, when the value
	 * is kept as a file of its own, sets *fd to a new read-only
	 * descriptor of it: the value's bytes as they were, whatever
	 * later puts do.  Otherwise *fd is -1 (use get()).
	 */
	int (*open_value)(struct store *st, int64_t ns, const char *key,
			  size_t key_len, int *fd, struct store_attr *attr);
	/* STORE_CAP_* bits of namespace ns. */
	int (*caps)(struct store *st, int64_t ns);
	/*
	 * Optional: drop what put(STORE_PUT_LAZY) keeps of key, storing
	 * nothing: the last file of a created key closed, unable to put.
	 */
	void (*forget)(struct store *st, int64_t ns, const char *key,
		       size_t key_len);
};

struct store {
	const struct store_ops *ops;
	/*
	 * Where a caller should make the unlinked files it hands to
	 * put() with STORE_PUT_FD, so that the store can keep them
	 * without a copy; NULL: anywhere.
	 */
	const char *spill_dir;
};

/*
 * Open (creating if missing) the SQLite store at path.  is_sync_full:
 * fsync at every commit (SQLite's synchronous=FULL) rather than at
 * checkpoints (NORMAL, which in WAL mode loses nothing when a process
 * dies, only at a power loss).  A file that is
 * not a kvfs database is refused with -EINVAL and left untouched; err
 * gets one line saying why.
 */
int store_sqlite_open(const char *path, int busy_timeout_ms, bool is_sync_full,
		      struct store **out, char *err, size_t err_size);

struct config;

/*
 * Open the store of cfg: the SQLite store at cfg->store_path, with the
 * namespaces whose backend is cloudflare routed to Workers KV through
 * an edge cache each (store_remote.c).  On failure err gets one line.
 */
int store_open(const struct config *cfg, struct store **out, char *err,
	       size_t err_size);

/*
 * A store over in that keeps keys created with STORE_PUT_LAZY in memory
 * until their first put (store_pending.c), claiming O_EXCL ones in the
 * file db_path + "-claims"; closing it closes in.
 */
int store_pending_wrap(struct store *in, const char *db_path,
		       struct store **out);

/*
 * The upper bound of a prefix range: prefix with its last byte + 1,
 * written to out (len bytes).  Keys are UTF-8, so the last byte is never
 * 0xff.
 */
void store_prefix_end(const char *prefix, size_t len, char *out);

/*
 * The range of the keys under directory key (key + '/' into lo, its end
 * into hi, each of len + 1 bytes, buffers of STORE_KEY_MAX + 1).  False
 * if key + '/' is too long to start any key.
 */
bool store_children_range(const char *key, size_t len, char *lo, char *hi);

#endif
