/*
 * fs: the FUSE operations.  Each operation resolves inodes and names,
 * calls the store, and replies exactly once.  Helpers return 0 or a
 * negative errno; only the operations at the bottom of the file reply.
 *
 * Locks, always taken in this order: a namespace's change lock, then a
 * file's lock, then the inode table's lock.  The change lock is
 * fs->change_lock for the root and the local namespaces and one of
 * fs->remote_locks for a remote namespace (fs_lock_of), so that a slow
 * remote API holds up only its own namespace.  It is a read-write lock:
 * every operation that writes to the store holds it for writing, so that
 * a put, a rename and an unlink of one key never interleave; lookup,
 * getattr, open and readdir hold it for reading, so that the row they
 * read and the inode they give the kernel for it belong together (a
 * rename between the two would pair a name's old value with its new
 * inode).  No request takes two.  No lock but a change lock and a file's
 * lock is held across a store call.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "attr.h"
#include "config.h"
#include "file.h"
#include "fs.h"
#include "inode.h"
#include "log.h"
#include "name.h"
#include "notify.h"
#include "perm.h"
#include "store.h"

#define FS_KEY_BUF (STORE_KEY_MAX + 8)
#define FS_BLKSIZE 131072 /* st_blksize: cp's buffer size hint */
/*
 * Values up to this are read at open (larger ones kept as files are held
 * open then): a reader keeps the value it opened even if another mount
 * replaces it before the first read.
 */
#define FS_READ_AT_OPEN FILE_MEM_MAX
#define FS_CREATE_TRIES 8
#define FS_REMOTE_LOCKS                                                        \
	16 /* change locks shared by remote namespaces */ /* a create racing   \
							     other mounts'     \
							     deletes */
/*
 * TODO: a reader of a larger value takes its copy at the first read, not
 * at open; if another mount or the CLI replaces the key in between, that
 * read fails with ESTALE (the kernel would cut the new value at the old
 * size).  Copying at open would cost a full copy for every `head -c 10`
 * of a 25 MiB value.
 */
#define FS_DIR_BATCH   64
#define FS_DIR_COOKIES 4096 /* seekdir positions kept per open dir */

struct fs {
	const struct config *cfg;
	struct store *st;
	struct fuse_session *se;
	char *store_dir;	      /* for statfs's free space */
	int64_t start_ns;	      /* times of implied directories */
	pthread_rwlock_t change_lock; /* see the head of the file */
	/* The change locks of remote namespaces (fs_lock_of). */
	pthread_rwlock_t remote_locks[FS_REMOTE_LOCKS];
	int64_t *ro_ns; /* ids of read_only namespaces */
	const char *mountpoint;
	uint64_t puts;	  /* values stored since mount (atomic) */
	int open_files;	  /* files open now (atomic) */
	uint64_t dir_gen; /* bumped by every change of a directory's
			     attributes through this mount (atomic) */
	int ro_count;
	bool is_checking; /* kvfs checks permissions (fs_may) */
};

/* A name resolved against its parent directory. */
struct fs_name {
	int64_t ns;
	bool is_flat;
	bool is_value;	   /* the name had the ^v suffix */
	size_t prefix_len; /* bytes of key that are the parent's prefix */
	size_t len;	   /* bytes in key */
	/* The parent's prefix and a decoded name, each up to a whole key,
	   before the length check, and a '/' after them. */
	char key[2 * STORE_KEY_MAX + 8];
};

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/*
 * The change lock of namespace ns: change_lock for the mount's root and
 * every local namespace (they share renames), one of remote_locks for a
 * remote namespace, so that its requests to the API, retries included,
 * never hold up another namespace.  Nothing spans a remote namespace
 * and another one: a rename between them is EXDEV before any store call.
 */
static pthread_rwlock_t *fs_lock_of(struct fs *fs, int64_t ns)
{
	if (ns != 0 && !(fs->st->ops->caps(fs->st, ns) & STORE_CAP_RENAME))
		return &fs->remote_locks[(uint64_t)ns % FS_REMOTE_LOCKS];
	return &fs->change_lock;
}

static int64_t fs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* -EROFS if namespace ns is read-only, else 0. */
static int fs_writable(struct fs *fs, int64_t ns)
{
	int i;

	for (i = 0; i < fs->ro_count; i++)
		if (fs->ro_ns[i] == ns)
			return -EROFS;
	return 0;
}

static struct timespec fs_ts(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000,
			      .tv_nsec = ns % 1000000000};
	return ts;
}

/* --- attributes --------------------------------------------------- */

/* Fill st for inode number ino of type type from a (NULL: implied). */
static void fs_fill_stat(struct fs *fs, uint64_t ino, enum inode_type type,
			 const struct store_attr *a, struct stat *st)
{
	bool is_dir = type != INODE_KEY;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_nlink = 1;
	st->st_blksize = FS_BLKSIZE;
	st->st_uid = a && a->uid >= 0 ? (uid_t)a->uid : fs->cfg->uid;
	st->st_gid = a && a->gid >= 0 ? (gid_t)a->gid : fs->cfg->gid;
	if (a && a->mode)
		st->st_mode = a->mode;
	else if (is_dir)
		st->st_mode = S_IFDIR | fs->cfg->dir_mode;
	else
		st->st_mode = S_IFREG | fs->cfg->file_mode;
	if (a && !is_dir) {
		st->st_size = (off_t)a->size;
		st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	}
	st->st_mtim = fs_ts(a ? a->mtime_ns : fs->start_ns);
	st->st_ctim = fs_ts(a ? a->ctime_ns : fs->start_ns);
	st->st_atim = st->st_mtim;
}

/*
 * Seconds the kernel may cache a name or attributes: the configured
 * time, but never past the key's expiration.
 */
static double fs_cache_sec(struct fs *fs, const struct store_attr *a)
{
	/*
	 * An expiration set later is always at least 60 s ahead, so a name
	 * cached for at most 60 s never outlives its key.
	 */
	double sec =
	    fs->cfg->kernel_cache_sec < 60 ? fs->cfg->kernel_cache_sec : 60;
	double left;

	if (a && a->expiration > 0) {
		/* To the fraction of a second: the key expires at the
		   start of its expiration second. */
		left = (double)a->expiration - (double)fs_now_ns() / 1e9;
		if (left < sec)
			sec = left > 0 ? left : 0;
	}
	return sec;
}

/* --- open files shared between requests ---------------------------- */

/*
 * Borrow an open file (and its inode) beyond the inode lock, which the
 * caller holds: a release meanwhile does not free it.
 */
static void fs_file_hold(struct file *f)
{
	f->refs++;
	inode_open(f->in);
}

/* Give a borrowed file back; the last one frees it. */
static void fs_file_drop(struct file *f)
{
	struct inode *in = f->in;
	bool is_last;

	inode_lock();
	is_last = --f->refs == 0;
	inode_close(in);
	inode_unlock();
	if (is_last)
		file_free(f);
}

/*
 * A key changed by another program while files here still read the
 * version they opened: one inode cannot show the kernel two versions,
 * so the inode those files hold leaves the name, as if the key had been
 * replaced by a rename, and the name gets a new inode.  Returns true if
 * in was split off, also by another request since the caller looked.
 */
static bool fs_split_stale_locked(struct inode *in, uint64_t version)
{
	bool is_stale = false;
	struct file *f;

	if (in->is_unlinked)
		return in->type == INODE_KEY; /* split (or deleted) meanwhile */
	if (!in->writer && in->type == INODE_KEY) {
		for (f = in->files; f; f = f->next)
			if (!f->is_writable && f->version &&
			    f->version != version)
				is_stale = true;
	}
	if (is_stale)
		inode_unlink(INODE_KEY, in->ns, in->key, in->key_len);
	return is_stale;
}

static bool fs_split_stale(struct inode *in, uint64_t version)
{
	bool is_stale;

	inode_lock();
	is_stale = fs_split_stale_locked(in, version);
	inode_unlock();
	return is_stale;
}

/* May a file of in have a write on its way?  Caller holds the lock. */
static bool fs_is_writing_locked(const struct inode *in)
{
	const struct file *f;

	for (f = in->files; f; f = f->next)
		if (f->is_writable && !f->is_quiet)
			return true;
	return false;
}

/*
 * The size to send the kernel for in, whose stored size st holds.
 * While a file open for writing holds changes, the kernel must see the
 * size it will store, not the stored one.
 *
 * And while files write, never less than the size the kernel has: a
 * smaller one makes it cut its page cache, zeroing the tail of a page
 * that a WRITE still on its way to kvfs sends its bytes from.  The
 * kernel guards only writes that grow the file; with two files writing
 * one key, one's writes land inside the size the other's gave, and the
 * value stored had zeros where a write raced a stat.
 *
 * FIXME: kernel_size misses what another mount did until the kernel
 * asks again: a file that rewrites past the new end of a value another
 * mount shortened, inside the size the kernel still has, can have that
 * write zeroed by a stat racing it.  So can a write through one
 * descriptor racing the close of another descriptor of the same open.
 */
static void fs_writer_size(struct inode *in, struct stat *st)
{
	uint64_t size = (uint64_t)st->st_size;

	inode_lock();
	if (in->writer)
		size = in->writer_size;
	if (fs_is_writing_locked(in) && size < in->kernel_size)
		size = in->kernel_size;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	in->kernel_size = size;
	inode_unlock();
}

/*
 * The kernel was sent the attributes of version of in's key.  If that
 * is not the version its pages came from, it may have kept those pages
 * under the new size, or dropped them: the next open must not keep them.
 *
 * Only the first reply with attributes of an inode surely sets them:
 * the kernel makes its inode from it.  It drops the attributes of a
 * later reply when another reply overtook it, so after one attr_version
 * is unsure.
 */
static void fs_kernel_saw(struct inode *in, const struct store_attr *a)
{
	uint64_t version = a->version;

	inode_lock();
	/*
	 * A value this mount did not store, with nothing held here: its
	 * size is the kernel's from this reply on (fs_writer_size).
	 */
	if (version != in->stored_version && !in->writer)
		in->kernel_size = a->size;
	if (in->kernel_version != version)
		in->kernel_version = 0;
	in->attr_version = in->is_attr_sent ? 0 : version;
	in->is_attr_sent = true;
	inode_unlock();
}

/* --- names -------------------------------------------------------- */

/*
 * Resolve name in directory parent into *out: the key of the child
 * (without a trailing '/').  Returns 0, -ENOENT for the root (which
 * has namespaces, not keys), or the codec's errno.
 */
static int fs_resolve(struct inode *parent, const char *name,
		      struct fs_name *out)
{
	size_t seg_len;
	int rc;

	inode_lock();
	if (parent->type != INODE_NS && parent->type != INODE_DIR) {
		inode_unlock();
		return parent->type == INODE_ROOT ? -ENOENT : -ENOTDIR;
	}
	out->ns = parent->ns;
	out->is_flat = parent->is_flat;
	out->prefix_len = parent->key_len;
	memcpy(out->key, parent->key, parent->key_len);
	inode_unlock();

	rc = name_decode(name, strlen(name), out->is_flat ? NAME_FLAT : 0,
			 out->key + out->prefix_len, &seg_len, &out->is_value);
	if (rc == 0 && out->prefix_len + seg_len > STORE_KEY_MAX)
		rc = -ENAMETOOLONG;
	if (rc == 0 && out->is_flat &&
	    name_key_check(out->key, out->prefix_len + seg_len))
		rc = -EINVAL; /* "." or ".." spelled with escapes */
	out->len = out->prefix_len + seg_len;
	return rc;
}

/*
 * Take the change lock for a change of name in pin (n resolved before)
 * and resolve it again under the lock: a rename of pin or a parent
 * that came between gave it another prefix, and the change belongs
 * under the new one (the kernel does not hold a directory still while
 * it is renamed in the same parent).  room: bytes the caller appends
 * to the key.  Returns the lock, held; *rc is 0 or the errno to give.
 */
static pthread_rwlock_t *fs_lock_name(struct fs *fs, struct inode *pin,
				      const char *name, struct fs_name *n,
				      size_t room, int *rc)
{
	pthread_rwlock_t *lk;

	for (;;) {
		lk = fs_lock_of(fs, n->ns);
		pthread_rwlock_wrlock(lk);
		*rc = fs_resolve(pin, name, n);
		if (*rc || fs_lock_of(fs, n->ns) == lk)
			break;
		pthread_rwlock_unlock(lk); /* moved to a remote namespace */
	}
	if (*rc == 0 && n->len + room > STORE_KEY_MAX)
		*rc = -ENAMETOOLONG;
	return lk;
}

/* The inode's number and a copy of what identifies it, under the lock. */
static struct inode *fs_inode(fuse_ino_t ino)
{
	struct inode *in;

	inode_lock();
	in = inode_find(ino);
	inode_unlock();
	return in;
}

/* True (1) if the tree directory with prefix key[0..len) + '/' exists. */
static int fs_dir_exists(struct fs *fs, int64_t ns, const char *key, size_t len)
{
	char lo[FS_KEY_BUF + 1], hi[FS_KEY_BUF + 1];

	if (!store_children_range(key, len, lo, hi))
		return 0;
	return fs->st->ops->any(fs->st, ns, lo, len + 1, hi, len + 1);
}

/*
 * Attributes of a tree directory: its own row if mkdir made one, NULL
 * (implied) if only keys make it.  Returns 0 or a negative errno.
 */
static int fs_dir_attr(struct fs *fs, int64_t ns, const char *prefix,
		       size_t len, struct store_attr *a, bool *has_row)
{
	int rc = fs->st->ops->stat(fs->st, ns, prefix, len, STORE_DIR, a);

	*has_row = rc == 0;
	return rc == -ENOENT ? 0 : rc;
}

/*
 * Make sure the directory with prefix key has a row of its own: an
 * implied directory gets one when it is given attributes to keep.
 */
static int fs_dir_row(struct fs *fs, int64_t ns, const char *key, size_t len)
{
	struct store_attr a;
	bool has_row;
	int rc = fs_dir_attr(fs, ns, key, len, &a, &has_row);

	if (rc == 0 && !has_row) {
		a = (struct store_attr){.uid = -1, .gid = -1};
		a.mode = S_IFDIR | fs->cfg->dir_mode;
		rc = fs->st->ops->mkdir(fs->st, ns, key, len, &a);
	}
	return rc;
}

/* How long a directory emptied through this mount stays found. */
#define FS_EMPTIED_NS (60 * 1000000000LL)

/* This mount removed a name in directory pin (fs_dir_refill). */
static void fs_dir_emptied(struct inode *pin)
{
	int64_t now = fs_now_ns();

	inode_lock();
	if (pin->type == INODE_DIR)
		pin->emptied_ns = now;
	inode_unlock();
}

/*
 * A lookup of a missing name in a tree: a directory that only keys made
 * went away with its last key.  If this mount removed a name in it in
 * the last minute and the kernel still holds it (`rm -r` working
 * through it, a shell in it), it gets a row of its own, as mkdir gives:
 * a directory emptied through the mount stays until rmdir, as on a
 * local file system.  Without this, the rmdir that ends `rm -r` fails
 * with ENOENT once the kernel's cache time passed (and a stat of it
 * with ESTALE).  Returns 0 if the row is there now, else -ENOENT.
 * Caller holds the namespace's lock (shared: two lookups may both make
 * it, and one gets EEXIST).
 */
static int fs_dir_refill_in(struct fs *fs, struct inode *in, int64_t ns,
			    const char *prefix, size_t len)
{
	bool is_held;
	int rc;

	inode_lock();
	if (!in) /* the missing name's inode, if the kernel holds one */
		in = inode_by_name(INODE_DIR, ns, prefix, len);
	is_held = in && !in->is_unlinked && in->nlookup > 0 &&
		  fs_now_ns() - in->emptied_ns < FS_EMPTIED_NS;
	inode_unlock();
	if (!is_held || fs_writable(fs, ns))
		return -ENOENT;
	rc = fs_dir_row(fs, ns, prefix, len);
	return rc == 0 || rc == -EEXIST ? 0 : -ENOENT;
}

/* fs_dir_refill_in for name n, looked up and missing. */
static int fs_dir_refill(struct fs *fs, struct fs_name *n)
{
	if (n->len + 1 > STORE_KEY_MAX)
		return -ENOENT;
	n->key[n->len] = '/';
	return fs_dir_refill_in(fs, NULL, n->ns, n->key, n->len + 1);
}

/*
 * Look up a resolved name: fill *e for the kernel (with nlookup taken)
 * or return -ENOENT.
 */
static int fs_lookup_name(struct fs *fs, struct fs_name *n,
			  struct fuse_entry_param *e)
{
	struct store_attr a;
	struct inode *in;
	bool has_row, is_behind, has_key = false;
	int rc, tries;

	memset(e, 0, sizeof(*e));
	if (!n->is_flat && !n->is_value) {
		if (fs->st->ops->lookup) {
			/* A directory, or else the key, in one query. */
			bool is_dir;

			rc = fs->st->ops->lookup(fs->st, n->ns, n->key, n->len,
						 &a, &is_dir);
			if (rc == -ENOENT && fs_dir_refill(fs, n) == 0)
				rc = fs->st->ops->lookup(fs->st, n->ns, n->key,
							 n->len, &a, &is_dir);
			if (rc)
				return rc;
			has_key = !is_dir;
			rc = is_dir;
		} else {
			rc = fs_dir_exists(fs, n->ns, n->key, n->len);
		}
		if (rc < 0)
			return rc;
		if (rc == 1) {
			n->key[n->len] = '/';
			rc = fs_dir_attr(fs, n->ns, n->key, n->len + 1, &a,
					 &has_row);
			if (rc)
				return rc;
			in = inode_get(INODE_DIR, n->ns, false, n->key,
				       n->len + 1);
			if (!in)
				return -ENOMEM;
			fs_fill_stat(fs, in->ino, INODE_DIR,
				     has_row ? &a : NULL, &e->attr);
			goto found;
		}
	} else if (n->is_value) {
		rc = fs_dir_exists(fs, n->ns, n->key, n->len);
		if (rc <= 0)
			return rc < 0 ? rc : -ENOENT;
	}
	/*
	 * A rename through this mount can give the name another inode
	 * between the stat and inode_get(): an inode that knows a newer
	 * value than the row just read means the row is stale, read again.
	 */
	for (tries = 0;; tries++) {
		rc = has_key ? 0
			     : fs->st->ops->stat(fs->st, n->ns, n->key, n->len,
						 STORE_KEY, &a);
		has_key = false; /* read again if this one is stale */
		if (rc)
			return rc;
		in = inode_get(INODE_KEY, n->ns, n->is_flat, n->key, n->len);
		if (!in || tries == 3)
			break;
		inode_lock();
		is_behind = in->kernel_version > a.version;
		inode_unlock();
		if (!is_behind)
			break;
		inode_forget(in->ino, 1);
	}
	if (in && fs_split_stale(in, a.version)) {
		inode_forget(in->ino, 1);
		in = inode_get(INODE_KEY, n->ns, n->is_flat, n->key, n->len);
	}
	if (!in)
		return -ENOMEM;
	fs_fill_stat(fs, in->ino, INODE_KEY, &a, &e->attr);
	fs_kernel_saw(in, &a);
	fs_writer_size(in, &e->attr); /* else the kernel cuts its pages */
found:
	e->ino = in->ino;
	e->attr_timeout = e->entry_timeout = fs_cache_sec(fs, NULL);
	if (in->type == INODE_KEY)
		e->attr_timeout = e->entry_timeout = fs_cache_sec(fs, &a);
	return 0;
}

static int fs_lookup_ns(struct fs *fs, const char *name,
			struct fuse_entry_param *e)
{
	const struct config_ns *cns = config_find_ns(fs->cfg, name);
	struct store_attr a;
	struct inode *in;
	bool has_row;
	int64_t ns;
	int rc;

	rc = fs->st->ops->ns_find(fs->st, name, &ns);
	if (rc == 0)
		rc = fs_dir_attr(fs, ns, "", 0, &a, &has_row);
	if (rc)
		return rc;
	in = inode_get(INODE_NS, ns, cns && cns->layout == CONFIG_LAYOUT_FLAT,
		       "", 0);
	if (!in)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->ino = in->ino;
	e->attr_timeout = e->entry_timeout = fs_cache_sec(fs, NULL);
	fs_fill_stat(fs, in->ino, INODE_NS, has_row ? &a : NULL, &e->attr);
	return 0;
}

/* --- getattr ------------------------------------------------------ */

/*
 * The kernel asks for a directory's attributes again after every create
 * and unlink in it (default_permissions): its own row, which those do
 * not change, is kept for half the kernel's cache time.  Only a row, or
 * a namespace's top: an implied directory vanishes with its last key.
 */
static bool fs_dir_kept(struct fs *fs, struct inode *in, struct store_attr *a,
			bool *has_row)
{
	int64_t ttl_ns = (int64_t)(fs_cache_sec(fs, NULL) * 5e8);
	bool is_kept;

	inode_lock();
	is_kept = in->dir_attr_ns > 0 &&
		  in->dir_attr_gen ==
		      __atomic_load_n(&fs->dir_gen, __ATOMIC_ACQUIRE) &&
		  fs_now_ns() - in->dir_attr_ns < ttl_ns;
	if (is_kept) {
		*a = in->dir_attr;
		*has_row = in->dir_has_row;
	}
	inode_unlock();
	return is_kept;
}

/* Keep what was read after fs_dir_gen() gave gen. */
static void fs_dir_keep(struct inode *in, uint64_t gen,
			const struct store_attr *a, bool has_row)
{
	inode_lock();
	in->dir_attr = *a;
	in->dir_has_row = has_row;
	in->dir_attr_gen = gen;
	in->dir_attr_ns = fs_now_ns();
	inode_unlock();
}

static uint64_t fs_dir_gen(struct fs *fs)
{
	return __atomic_load_n(&fs->dir_gen, __ATOMIC_ACQUIRE);
}

/* A directory's attributes changed through this mount: forget them all. */
static void fs_dirs_changed(struct fs *fs)
{
	__atomic_add_fetch(&fs->dir_gen, 1, __ATOMIC_RELEASE);
}

/* Current attributes of inode in; -ESTALE if it no longer exists. */
static int fs_getattr_in(struct fs *fs, struct inode *in, struct stat *st,
			 double *timeout)
{
	char key[FS_KEY_BUF];
	struct store_attr a;
	enum inode_type type;
	bool has_row, is_unlinked, is_open;
	uint64_t ino, gen;
	int64_t ns;
	size_t len;
	int rc;

	inode_lock();
	type = in->type;
	ns = in->ns;
	ino = in->ino;
	len = in->key_len;
	memcpy(key, in->key, len);
	is_unlinked = in->is_unlinked;
	is_open = in->open_count > 0;
	inode_unlock();

	*timeout = fs_cache_sec(fs, NULL);
	switch (type) {
	case INODE_ROOT:
		fs_fill_stat(fs, ino, type, NULL, st);
		return 0;
	case INODE_STATUS:
		fs_fill_stat(fs, ino, INODE_KEY, NULL, st);
		/* Namespace names, counts and paths: not for every user. */
		st->st_mode = S_IFREG | 0440;
		*timeout = 0;
		return 0;
	case INODE_NS:
		if (!fs_dir_kept(fs, in, &a, &has_row)) {
			gen = fs_dir_gen(fs);
			rc = fs_dir_attr(fs, ns, "", 0, &a, &has_row);
			if (rc)
				return rc;
			fs_dir_keep(in, gen, &a, has_row);
		}
		fs_fill_stat(fs, ino, type, has_row ? &a : NULL, st);
		return 0;
	case INODE_DIR:
		if (fs_dir_kept(fs, in, &a, &has_row)) {
			fs_fill_stat(fs, ino, type, &a, st);
			return 0;
		}
		gen = fs_dir_gen(fs);
		rc = fs_dir_attr(fs, ns, key, len, &a, &has_row);
		if (rc == 0 && has_row)
			fs_dir_keep(in, gen, &a, has_row);
		if (rc == 0 && !has_row)
			rc = fs_dir_exists(fs, ns, key, len - 1) == 1 ? 0
								      : -ESTALE;
		if (rc == -ESTALE &&
		    fs_dir_refill_in(fs, in, ns, key, len) == 0)
			rc = fs_dir_attr(fs, ns, key, len, &a, &has_row);
		if (rc == 0)
			fs_fill_stat(fs, ino, type, has_row ? &a : NULL, st);
		if (rc == -ESTALE && is_open) {
			/* Removed while open: empty, nlink 0, as on ext4. */
			fs_fill_stat(fs, ino, type, NULL, st);
			st->st_nlink = 0;
			rc = 0;
		}
		return rc;
	case INODE_KEY:
		rc = is_unlinked ? -ENOENT
				 : fs->st->ops->stat(fs->st, ns, key, len,
						     STORE_KEY, &a);
		if (rc == 0 && fs_split_stale(in, a.version))
			return -ESTALE; /* answered from the open reader */
		if (rc == 0) {
			fs_fill_stat(fs, ino, type, &a, st);
			*timeout = fs_cache_sec(fs, &a);
			fs_kernel_saw(in, &a);
		}
		return rc == -ENOENT ? -ESTALE : rc;
	}
	return -EIO;
}

/*
 * Attributes of an inode whose key is gone but which an open file
 * holds: answered from the file, with nlink 0.
 */
static int fs_getattr_open(struct fs *fs, struct inode *in, struct stat *st)
{
	struct file *f, *r;
	uint64_t size = 0;

	inode_lock();
	f = in->files;
	for (r = in->files; r; r = r->next)
		if (!r->is_writable && r->version)
			f = r; /* what a reader holds, if one does */
	if (f)
		fs_file_hold(f);
	inode_unlock();
	if (!f)
		return -ESTALE;
	pthread_mutex_lock(&f->lock);
	size = f->is_loaded ? f->size : f->open_size;
	pthread_mutex_unlock(&f->lock);
	fs_file_drop(f);
	inode_lock();
	in->attr_version = 0; /* an open file's, not a stored version's */
	inode_unlock();
	fs_fill_stat(fs, in->ino, INODE_KEY, NULL, st);
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_nlink = 0;
	return 0;
}

static int fs_key_of(struct inode *in, int64_t *ns, char *key, size_t *len,
		     enum store_kind *kind)
{
	inode_lock();
	*ns = in->ns;
	*len = in->key_len;
	memcpy(key, in->key, in->key_len);
	*kind = in->type == INODE_KEY ? STORE_KEY : STORE_DIR;
	inode_unlock();
	/* A namespace keeps its own attributes in a directory row "". */
	return in->type == INODE_ROOT || in->type == INODE_STATUS ? -EPERM : 0;
}

/*
 * Who checks permissions.  With -o allow_other other users reach the
 * mount, and kvfs mounts with default_permissions: the kernel checks
 * modes and owners itself, and for that asks for a directory's
 * attributes again after every create and unlink in it, one more round
 * trip each (a quarter of an unlink's time).  Without allow_other the
 * kernel lets only the user who mounted in, and kvfs checks that user's
 * requests itself (fs->is_checking), by perm.c's rules, in lookup,
 * access, open, opendir, create, mknod, symlink, mkdir, unlink, rmdir,
 * rename, setattr and the xattr calls; a request by root skips all but
 * the execute bits, as the kernel would.
 *
 * FIXME: what kvfs cannot check itself is search permission where the
 * kernel does not ask: after `chmod 0 dir`, its owner still opens
 * dir/key by a name the kernel has cached, gets ENOENT (not EACCES) for
 * a name it has cached as missing, until the kernel's entry expires
 * (kernel_cache_sec), and reaches dir/. and dir/.. at any time, where
 * ext4 refuses at once.  The only user who could be refused is the one
 * who may chmod dir back, so this guards nothing; it is a difference
 * from ext4 alone.
 */

/* The caller of req, without its supplementary groups (fs_may_stat). */
static void fs_caller(fuse_req_t req, struct perm_caller *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	*c = (struct perm_caller){.uid = ctx->uid, .gid = ctx->gid};
}

/*
 * Give c the caller's supplementary groups, for a perm.c check that
 * answered -EAGAIN (they decide); none if the kernel cannot say.
 * Returns what to free once c is no longer used.
 */
static gid_t *fs_load_groups(fuse_req_t req, struct perm_caller *c)
{
	static const gid_t none;
	gid_t *groups;
	int n;

	n = fuse_req_getgroups(req, 0, NULL);
	groups = n > 0 ? malloc(sizeof(gid_t) * (size_t)n) : NULL;
	if (groups)
		n = fuse_req_getgroups(req, n, groups);
	c->groups = groups ? groups : &none;
	c->ngroups = groups && n > 0 ? n : 0;
	return groups;
}

/* May the caller of req have want (PERM_* bits) on a file of *st? */
static int fs_may_stat(fuse_req_t req, const struct stat *st, int want)
{
	struct perm_caller c;
	gid_t *groups;
	int rc;

	fs_caller(req, &c);
	rc = perm_may(&c, st->st_mode, st->st_uid, st->st_gid, want);
	if (rc == -EAGAIN) {
		groups = fs_load_groups(req, &c);
		rc = perm_may(&c, st->st_mode, st->st_uid, st->st_gid, want);
		free(groups);
	}
	return rc;
}

/*
 * Mode and owners of in for a permission check.  A key's come straight
 * from the store: fs_getattr_in would count them as given to the kernel.
 */
static int fs_perm_stat(struct fs *fs, struct inode *in, struct stat *st)
{
	char key[FS_KEY_BUF];
	enum store_kind kind;
	struct store_attr a;
	double timeout;
	size_t len;
	int64_t ns;
	int rc;

	if (in->type != INODE_KEY)
		return fs_getattr_in(fs, in, st, &timeout);
	fs_key_of(in, &ns, key, &len, &kind);
	rc = fs->st->ops->stat(fs->st, ns, key, len, STORE_KEY, &a);
	if (rc == 0)
		fs_fill_stat(fs, in->ino, INODE_KEY, &a, st);
	else if (rc == -ENOENT)
		rc = fs_getattr_open(fs, in, st); /* removed, still open */
	return rc;
}

/*
 * May the caller of req have want on in?  0, -EACCES, or the error of
 * reading in's attributes.  It only reads them, so it needs no change
 * lock; callers that hold one may call it inside.
 */
static int fs_may(fuse_req_t req, struct fs *fs, struct inode *in, int want)
{
	struct stat st;
	int rc;

	/* Root may do anything but run a file that no one may run. */
	if (!fs->is_checking || (fuse_req_ctx(req)->uid == 0 &&
				 (!(want & PERM_X) || in->type != INODE_KEY)))
		return 0;
	rc = fs_perm_stat(fs, in, &st);
	return rc ? rc : fs_may_stat(req, &st, want);
}

/*
 * Mode and owners of the key or directory a resolved name names (a
 * directory without a row of its own has the defaults); -ENOENT if
 * neither exists.
 */
static int fs_name_stat(struct fs *fs, const struct fs_name *n, struct stat *st)
{
	char dkey[FS_KEY_BUF];
	struct store_attr a;
	bool has_row;
	int rc;

	/* Where a directory has the name, the key beside it is name^v. */
	if (!n->is_flat && !n->is_value && n->len + 1 <= STORE_KEY_MAX) {
		memcpy(dkey, n->key, n->len);
		dkey[n->len] = '/'; /* a directory's row is its prefix */
		rc = fs_dir_attr(fs, n->ns, dkey, n->len + 1, &a, &has_row);
		if (rc == 0 && !has_row)
			rc = fs_dir_exists(fs, n->ns, n->key, n->len) == 1
				 ? 0
				 : -ENOENT;
		if (rc == 0) {
			fs_fill_stat(fs, 0, INODE_DIR, has_row ? &a : NULL, st);
			return 0;
		}
		if (rc != -ENOENT)
			return rc;
	}
	rc = fs->st->ops->stat(fs->st, n->ns, n->key, n->len, STORE_KEY, &a);
	if (rc == 0)
		fs_fill_stat(fs, 0, INODE_KEY, &a, st);
	return rc;
}

/*
 * May the caller of req take the name n out of directory pin (unlink,
 * rmdir, either side of a rename)?  Write and search on pin, and, where
 * pin is sticky, own pin or what n names.  Caller holds the change lock.
 */
static int fs_may_remove(fuse_req_t req, struct fs *fs, struct inode *pin,
			 const struct fs_name *n)
{
	struct perm_caller c;
	struct stat dst, st;
	int rc;

	if (!fs->is_checking || fuse_req_ctx(req)->uid == 0)
		return 0;
	rc = fs_perm_stat(fs, pin, &dst);
	if (rc == 0)
		rc = fs_may_stat(req, &dst, PERM_W | PERM_X);
	fs_caller(req, &c);
	if (rc || perm_sticky(&c, dst.st_mode, dst.st_uid, (uid_t)-1) == 0)
		return rc;
	rc = fs_name_stat(fs, n, &st);
	if (rc)
		return rc == -ENOENT ? 0 : rc; /* the operation says ENOENT */
	return perm_sticky(&c, dst.st_mode, dst.st_uid, st.st_uid);
}

/*
 * May the caller of req read (PERM_R) or change (PERM_W) the extended
 * attribute name of in?  Only user.* names are checked here, so that
 * other names get their own error first (ENOTSUP for the ACLs cp -p
 * tries to copy, as on ext4); a sticky directory's attributes are its
 * owner's (the VFS's xattr_permission).
 */
static int fs_may_xattr(fuse_req_t req, struct fs *fs, struct inode *in,
			const char *name, int want)
{
	struct perm_caller c;
	struct stat st;
	int rc;

	if (!fs->is_checking || fuse_req_ctx(req)->uid == 0 ||
	    attr_kind(name) < 0)
		return 0;
	rc = fs_perm_stat(fs, in, &st);
	if (rc)
		return rc;
	fs_caller(req, &c);
	if ((want & PERM_W) && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) &&
	    !perm_is_owner(&c, st.st_uid))
		return -EPERM;
	return fs_may_stat(req, &st, want);
}

/* The kernel's __FMODE_EXEC in an open's flags: an open by execve(). */
#define FS_FMODE_EXEC 0x20

/*
 * The access(2) bits an open with flags needs.  The kernel checked an
 * exec only for an x bit of anyone's; which class's counts is kvfs's.
 */
static int fs_open_want(int flags)
{
	int want = 0;

	if (flags & FS_FMODE_EXEC)
		return PERM_X; /* an exec reads what it may not read */
	if ((flags & O_ACCMODE) != O_WRONLY)
		want |= PERM_R;
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		want |= PERM_W;
	return want;
}

/*
 * May the caller of req rename from (in pin) to to (in npin)?  Both
 * sides as a removal, and a directory moving to another parent needs
 * write permission on itself (its ".." changes), as on ext4.
 */
static int fs_may_rename(fuse_req_t req, struct fs *fs, struct inode *pin,
			 const struct fs_name *from, struct inode *npin,
			 const struct fs_name *to)
{
	struct stat st;
	int rc;

	rc = fs_may_remove(req, fs, pin, from);
	if (rc == 0)
		rc = fs_may_remove(req, fs, npin, to);
	if (rc || pin == npin || !fs->is_checking ||
	    fuse_req_ctx(req)->uid == 0)
		return rc;
	rc = fs_name_stat(fs, from, &st);
	if (rc)
		return rc == -ENOENT ? 0 : rc; /* the rename says ENOENT */
	return S_ISDIR(st.st_mode) ? fs_may_stat(req, &st, PERM_W) : 0;
}

/*
 * May the caller of req change what to_set says of in?  As ext4 (the
 * VFS's setattr_prepare) rules, for a caller other than root:
 * - owner and group: perm_chown;
 * - mode: the owner alone (EPERM); a setgid bit is dropped, silently,
 *   when the file's group is not one of the owner's.  Anyone who may
 *   write the file may clear its setuid and setgid bits: the kernel
 *   does so by a mode change when someone else writes a setuid file.
 *   FIXME: kvfs cannot tell that change from a chown(f, -1, -1) by a
 *   non-owner who may write a setuid file, which ext4 refuses (EPERM)
 *   and kvfs lets clear the bits;
 * - a size without an open file: write permission, the owner's too;
 * - times: both set to now, whoever may write (EACCES); any other
 *   time, the owner alone (EPERM).  Times that come with a size are
 *   the truncate's own.
 */
static int fs_may_setattr(fuse_req_t req, struct fs *fs, struct inode *in,
			  struct stat *attr, int to_set,
			  const struct fuse_file_info *fi)
{
	const int times = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME;
	const int both_now =
	    times | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW;
	const mode_t privs = S_ISUID | S_ISGID;
	uid_t new_uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
	gid_t new_gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;
	gid_t *groups = NULL;
	struct perm_caller c;
	struct stat st;
	int rc;

	if (!fs->is_checking || fuse_req_ctx(req)->uid == 0)
		return 0;
	rc = fs_perm_stat(fs, in, &st);
	if (rc)
		return rc;
	fs_caller(req, &c);
	/* A truncate's write permission comes first, as on ext4. */
	if ((to_set & FUSE_SET_ATTR_SIZE) && !fi)
		rc = fs_may_stat(req, &st, PERM_W);
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		rc = perm_chown(&c, st.st_uid, st.st_gid, new_uid, new_gid);
		if (rc == -EAGAIN) {
			groups = fs_load_groups(req, &c);
			rc = perm_chown(&c, st.st_uid, st.st_gid, new_uid,
					new_gid);
		}
	}
	if (rc == 0 && (to_set & FUSE_SET_ATTR_MODE)) {
		if (!perm_is_owner(&c, st.st_uid)) {
			/*
			 * The kernel's own change when a writer who is not
			 * the owner writes: setuid off, and setgid where it
			 * drops it (group execution on, or the writer not
			 * of the group), so one bit or both.
			 */
			mode_t old = st.st_mode & 07777;
			mode_t now = attr->st_mode & 07777;
			bool drops = now != old &&
				     (now & ~privs) == (old & ~privs) &&
				     (now & ~old) == 0;

			rc = drops && fs_may_stat(req, &st, PERM_W) == 0
				 ? 0
				 : -EPERM;
		} else if (attr->st_mode & S_ISGID) {
			gid_t g = new_gid != (gid_t)-1 ? new_gid : st.st_gid;
			int in_group = perm_in_group(&c, g);

			if (in_group < 0 && !groups)
				groups = fs_load_groups(req, &c);
			if (in_group < 0)
				in_group = perm_in_group(&c, g);
			if (!in_group)
				attr->st_mode &= ~(mode_t)S_ISGID;
		}
	}
	free(groups);
	if (rc || !(to_set & times) || (to_set & FUSE_SET_ATTR_SIZE) ||
	    perm_is_owner(&c, st.st_uid))
		return rc;
	return (to_set & both_now) == both_now ? fs_may_stat(req, &st, PERM_W)
					       : -EPERM;
}

/* --- files -------------------------------------------------------- */

/* Copy the stored value into f unless it holds one already. */
static int fs_file_load(struct fs *fs, struct file *f)
{
	char key[FS_KEY_BUF];
	struct store_attr a;
	size_t len;
	int64_t ns;
	int rc;

	if (f->is_loaded)
		return 0;
	inode_lock();
	ns = f->in->ns;
	len = f->in->key_len;
	memcpy(key, f->in->key, len);
	inode_unlock();

	/* Appended bytes wait in the file; the value goes before them. */
	if (f->is_append_only && f->size > 0) {
		struct file *pending = file_new(f->in, false, false);
		uint64_t off;
		char buf[8192];
		size_t n;

		if (!pending)
			return -ENOMEM;
		rc = 0;
		for (off = 0; rc == 0 && off < f->size; off += n) {
			rc = file_read(f, off, buf, sizeof(buf), &n);
			if (rc == 0)
				rc = file_sink(pending, buf, n);
		}
		file_clear(f);
		if (rc == 0)
			rc = fs->st->ops->get(fs->st, ns, key, len, file_sink,
					      f, NULL);
		if (rc == -ENOENT)
			rc = 0;
		for (off = 0; rc == 0 && off < pending->size; off += n) {
			rc = file_read(pending, off, buf, sizeof(buf), &n);
			if (rc == 0)
				rc = file_sink(f, buf, n);
		}
		file_free(pending);
		f->is_dirty = true;
	} else {
		int fd = -1;

		file_clear(f);
		/* A value kept as a file is read from it, not copied. */
		rc =
		    fs->st->ops->open_value
			? fs->st->ops->open_value(fs->st, ns, key, len, &fd, &a)
			: 0;
		if (rc == 0 && fd >= 0)
			file_adopt_fd(f, fd, a.size);
		else if (rc == 0)
			rc = fs->st->ops->get(fs->st, ns, key, len, file_sink,
					      f, &a);
		if (rc == -ENOENT && f->is_writable)
			rc = 0;
		else if (rc == -ENOENT)
			rc = -ESTALE; /* another mount removed it: not EOF */
		else if (rc == 0 && f->open_version &&
			 a.version != f->open_version) {
			/*
			 * Another mount replaced the value since open: the
			 * kernel would cut the new value at the old size.
			 */
			file_clear(f);
			rc = -ESTALE;
		} else if (rc == 0 && !f->is_writable) {
			inode_lock();
			f->version = a.version;
			inode_unlock();
		}
	}
	if (rc == 0) {
		f->is_loaded = true;
		f->is_append_only = false;
	}
	return rc;
}

/* Which open files fs_hold_files() takes. */
enum fs_pick {
	FS_READERS,	 /* open read-only */
	FS_COPY_WRITERS, /* open for writing, holding a copy of the value */
};

static bool fs_picks(const struct file *f, enum fs_pick pick,
		     const struct file *but)
{
	if (f == but)
		return false;
	if (pick == FS_READERS)
		return !f->is_writable;
	return f->is_writable && (f->is_loaded || f->is_pending);
}

/*
 * The open files of in of the kind pick, but, each held (fs_file_hold),
 * in a new array of *n (NULL and 0 if none, or no memory: logged).
 * Caller holds the inode lock.
 */
static struct file **fs_hold_files(struct inode *in, enum fs_pick pick,
				   const struct file *but, int *n)
{
	struct file **files, *f;
	int count = 0;

	*n = 0;
	for (f = in ? in->files : NULL; f; f = f->next)
		count += fs_picks(f, pick, but);
	if (count == 0)
		return NULL;
	files = malloc(sizeof(*files) * (size_t)count);
	if (!files) {
		log_error("out of memory for %d open files", count);
		return NULL;
	}
	for (f = in->files; f; f = f->next) {
		if (fs_picks(f, pick, but)) {
			fs_file_hold(f);
			files[(*n)++] = f;
		}
	}
	return files;
}

/*
 * Before the value of key changes through this mount, let every file
 * still reading the old value take its copy.  Caller holds change_lock.
 */
static void fs_preserve_readers(struct fs *fs, int64_t ns, const char *key,
				size_t len)
{
	struct file **files;
	int i, n, rc;

	inode_lock();
	files = fs_hold_files(inode_by_name(INODE_KEY, ns, key, len),
			      FS_READERS, NULL, &n);
	inode_unlock();
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&files[i]->lock);
		rc = fs_file_load(fs, files[i]);
		pthread_mutex_unlock(&files[i]->lock);
		fs_file_drop(files[i]);
		if (rc) {
			char shown[LOG_KEY_BUF];

			/* ESTALE: another mount replaced it first. */
			log_warn("%s: an open reader's copy: %s",
				 log_key(shown, sizeof(shown), key, len),
				 strerror(-rc));
		}
	}
	free(files);
}

/*
 * Record f's size as its inode's pending size (f->lock held).  When f
 * stored, another file still holding changes to the inode, if one does,
 * gives the size: that is what the kernel has and what it will store.
 */
static void fs_writer_changed(struct file *f, bool is_stored)
{
	struct inode *in = f->in;
	struct file *r;

	inode_lock();
	f->is_pending = !is_stored;
	if (!is_stored) {
		in->pending_mtime_ns = 0; /* a write sets the time anew */
		in->writer = f;
		f->pending_size =
		    f->is_append_only ? f->append_base + f->size : f->size;
		in->writer_size = f->pending_size;
	} else if (in->writer == f) {
		in->writer = NULL;
		for (r = in->files; r; r = r->next) {
			if (r->is_pending) {
				in->writer = r;
				in->writer_size = r->pending_size;
			}
		}
	}
	inode_unlock();
}

/*
 * After f stored a new value under its own inode, files reading that
 * inode see it from their next read, as readers of a local file see a
 * rewrite in place (the kernel's page cache already has the new bytes).
 * Caller holds change_lock and f->lock.
 */
static void fs_refresh_readers(struct file *f)
{
	struct file **readers;
	int i, n;

	inode_lock();
	readers = fs_hold_files(f->in, FS_READERS, f, &n);
	for (i = 0; i < n; i++)
		readers[i]->version = 0; /* it reads the new value next */
	inode_unlock();
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&readers[i]->lock);
		file_clear(readers[i]);
		readers[i]->open_version = 0; /* the kernel has the new size */
		pthread_mutex_unlock(&readers[i]->lock);
		fs_file_drop(readers[i]);
	}
	free(readers);
}

/*
 * The kernel's page cache for in holds bytes that were never stored (a
 * write spoiled by the value limit, a put that failed): the next open
 * must not keep it.
 */
static void fs_forget_cache(struct inode *in)
{
	inode_lock();
	in->kernel_version = 0;
	in->attr_version = 0;
	inode_unlock();
}

/*
 * A file that created its key and was spoiled (over the value limit, or
 * no room) before anything was stored: remove the empty key its create
 * made, so that a failed `cp` leaves nothing behind.  Only while the key
 * is still empty, in case another mount has put a value since.  Caller
 * holds change_lock and f->lock.
 */
static void fs_drop_created(struct fs *fs, struct file *f)
{
	char key[FS_KEY_BUF];
	struct store_attr a;
	size_t len;
	int64_t ns;

	f->is_created = false;
	inode_lock();
	ns = f->in->ns;
	len = f->in->key_len;
	memcpy(key, f->in->key, len);
	inode_unlock();
	if (fs->st->ops->stat(fs->st, ns, key, len, STORE_KEY, &a) == 0 &&
	    a.size == 0 &&
	    fs->st->ops->remove(fs->st, ns, key, len, STORE_KEY) == 0) {
		inode_lock();
		inode_unlink(INODE_KEY, ns, key, len);
		inode_unlock();
	}
}

/*
 * Store f's content under its inode's current key.  Caller holds
 * change_lock and f->lock.  Nothing is stored for a file whose key was
 * deleted, or which a write over the limit spoiled.
 */
static int fs_file_store(struct fs *fs, struct file *f)
{
	struct store_attr out;
	struct store_put put = {0};
	char key[FS_KEY_BUF];
	bool is_unlinked, is_shared, was_unstored;
	size_t len;
	int64_t ns;
	int rc;

	if (f->is_too_big || f->is_out_of_space) {
		fs_forget_cache(f->in);
		if (f->is_created)
			fs_drop_created(fs, f);
		return f->is_too_big ? -EFBIG : -ENOSPC;
	}
	if (!f->is_dirty && !f->is_unstored)
		return 0;
	inode_lock();
	ns = f->in->ns;
	len = f->in->key_len;
	memcpy(key, f->in->key, len);
	is_unlinked = f->in->is_unlinked;
	put.attr.mtime_ns = f->in->pending_mtime_ns; /* cp -p, tar -x */
	inode_unlock();
	if (is_unlinked) {
		f->is_dirty = f->is_unstored = false;
		return 0;
	}
	if (!f->is_dirty) {
		put.flags = STORE_PUT_IF_PENDING;
		rc = fs->st->ops->put(fs->st, ns, key, len, &put, NULL);
		f->is_unstored = rc != 0; /* the release tries again */
		return rc;
	}
	was_unstored = f->is_unstored;
	f->is_unstored = false; /* the put creates the key, if need be */

	put.flags = STORE_PUT_KEEP_META | STORE_PUT_NEW_ONLY_ATTR;
	/* put.attr.mtime_ns was set above, with the key */
	if (f->is_append_only)
		put.flags |= STORE_PUT_APPEND;
	else if (f->fd >= 0)
		put.flags |= STORE_PUT_FD; /* the store may keep the file */
	put.fd = f->fd;
	put.size = f->size;
	put.read = file_put_read;
	put.ctx = f;
	put.attr.uid = -1;
	put.attr.gid = -1;
	rc = fs->st->ops->put(fs->st, ns, key, len, &put, &out);
	if (rc) {
		char shown[LOG_KEY_BUF];

		log_warn("put %s: %s", log_key(shown, sizeof(shown), key, len),
			 strerror(-rc));
		/*
		 * The flush, fsync or close reports the failure.  The file
		 * keeps its content: its next flush or fsync (its last
		 * close, say) tries again and reports that.  The release
		 * does not, after a close that failed (is_failed).
		 */
		f->is_too_big = rc == -EFBIG;
		f->is_dirty = !f->is_too_big;
		f->is_unstored = was_unstored;
		f->is_failed = true;
		fs_forget_cache(f->in);
		fs_writer_changed(f, true);
		return rc;
	}
	f->is_dirty = false;
	f->is_failed = false;
	f->is_created = false; /* a value is stored: keep it */
	if (put.flags & STORE_PUT_FD)
		f->is_fd_shared = true;
	__atomic_add_fetch(&fs->puts, 1, __ATOMIC_RELAXED);
	if (log_max_level >= LOG_DEBUG) {
		char shown[LOG_KEY_BUF];

		log_debug("put %s: %llu bytes%s",
			  log_key(shown, sizeof(shown), key, len),
			  (unsigned long long)put.size,
			  f->is_append_only ? " appended" : "");
	}
	fs_writer_changed(f, true);
	fs_refresh_readers(f);
	if (f->is_append_only)
		file_clear(f); /* the appended bytes are stored */
	inode_lock();
	is_shared = f->is_shared_write;
	f->in->stored_version = out.version;
	if (is_shared)
		f->in->kernel_version = f->in->attr_version = 0;
	else if (!f->is_append_only)
		f->in->kernel_version = out.version;
	inode_unlock();
	/*
	 * Two files wrote the inode at once: the kernel's pages hold the
	 * bytes of both, interleaved, but one put stored one file's bytes.
	 * The next open drops the pages (kernel_version 0), and the size
	 * is asked again.
	 */
	if (is_shared)
		fuse_lowlevel_notify_inval_inode(fs->se, f->in->ino, -1, 0);
	return 0;
}

static int fs_store_locked(struct fs *fs, struct file *f)
{
	int rc;

	pthread_rwlock_t *lk = fs_lock_of(fs, f->in->ns);
	pthread_rwlock_wrlock(lk);
	pthread_mutex_lock(&f->lock);
	rc = fs_file_store(fs, f);
	pthread_mutex_unlock(&f->lock);
	pthread_rwlock_unlock(lk);
	return rc;
}

/*
 * Hold the file of the value of key in f, if it is kept as one and is
 * still the version *a; 0 if f holds it now.
 */
static int fs_open_held_value(struct fs *fs, struct file *f, int64_t ns,
			      const char *key, size_t len,
			      const struct store_attr *a)
{
	struct store_attr now;
	int fd = -1;

	if (fs->st->ops->open_value(fs->st, ns, key, len, &fd, &now) || fd < 0)
		return -ENOENT;
	if (now.version != a->version) {
		close(fd);
		return -ESTALE;
	}
	file_adopt_fd(f, fd, now.size);
	return 0;
}

/* Make the open file for inode in; fills fi.  */
static int fs_open_in(struct fs *fs, struct inode *in,
		      struct fuse_file_info *fi, bool is_created,
		      const struct store_attr *known)
{
	bool is_writable = (fi->flags & O_ACCMODE) != O_RDONLY;
	bool is_append = (fi->flags & O_APPEND) && is_writable;
	bool is_unlinked, is_attr_stale;
	struct store_attr a;
	char key[FS_KEY_BUF];
	struct file *f, *r;
	size_t len;
	int64_t ns;
	int rc;

	f = file_new(in, is_writable, is_append && !(fi->flags & O_TRUNC));
	if (!f)
		return -ENOMEM;
	f->is_created = is_created;
	inode_lock();
	ns = in->ns;
	len = in->key_len;
	memcpy(key, in->key, len);
	is_unlinked = in->is_unlinked;
	inode_unlock();
	if (is_unlinked) {
		/*
		 * The key was deleted or replaced since the kernel looked
		 * the name up: its value now belongs to another inode.
		 */
		file_free(f);
		return -ESTALE;
	}

	if (known && is_writable) {
		a = *known; /* the put that created the key returned it */
		rc = 0;
		f->is_loaded = true;
	} else if (fi->flags & O_TRUNC) {
		rc = fs->st->ops->stat(fs->st, ns, key, len, STORE_KEY, &a);
		f->is_loaded = true;
		f->is_dirty = rc != 0 || a.size > 0;
		if (rc == -ENOENT && !is_created)
			rc = -ESTALE;
	} else if (is_writable) {
		rc = fs->st->ops->stat(fs->st, ns, key, len, STORE_KEY, &a);
		f->append_base = rc == 0 ? a.size : 0;
	} else {
		rc = fs->st->ops->peek(fs->st, ns, key, len, FS_READ_AT_OPEN,
				       file_sink, f, &a);
		f->is_loaded = rc == 0 && a.size <= FS_READ_AT_OPEN;
		f->open_version = f->is_loaded ? 0 : a.version;
		/*
		 * A value kept as a file is held open from here: another
		 * mount may delete or replace the key before the first read.
		 */
		if (rc == 0 && !f->is_loaded && fs->st->ops->open_value &&
		    fs_open_held_value(fs, f, ns, key, len, &a) == 0)
			f->is_loaded = true;
	}
	if (rc == -ENOENT)
		rc = -ESTALE; /* the kernel looks the name up again */
	if (rc) {
		file_free(f);
		return rc;
	}
	f->open_size = a.size;
	/*
	 * Nothing was put at create: the file's first store (a flush, an
	 * fsync or the release) creates the key.  A store without
	 * STORE_CAP_EXCL puts even an empty file; STORE_PUT_LAZY left a
	 * pending key, stored empty by a flush that has nothing to store
	 * (STORE_PUT_IF_PENDING), so that it never replaces what another
	 * open of the same key stored meanwhile.
	 */
	if (is_created) {
		f->is_loaded = true;
		if (fs->st->ops->caps(fs->st, ns) & STORE_CAP_EXCL)
			f->is_unstored = true;
		else
			f->is_dirty = true;
	}

	/*
	 * Checked where f joins the inode's files: two opens at once may
	 * each have read another version.
	 */
	inode_lock();
	if (fs_split_stale_locked(in, a.version)) {
		inode_unlock();
		file_free(f);
		return -ESTALE; /* the kernel looks the name up again */
	}
	if (!is_writable && f->is_loaded)
		f->version = a.version;
	/*
	 * The kernel drops the pages of an open without keep_cache after
	 * the reply: until that open's first request, another open must
	 * not keep what may still be there.
	 */
	fi->keep_cache = in->kernel_version == a.version && !in->inval_by;
	if (!fi->keep_cache)
		in->inval_by = f;
	in->kernel_version = a.version;
	/*
	 * Without keep_cache the kernel drops the pages itself; its size
	 * and times must be asked again only if they are another
	 * version's (or a writer's here).
	 */
	is_attr_stale = in->attr_version != a.version || in->writer;
	/*
	 * The kernel's size: 0 after an O_TRUNC open, else, unless other
	 * files write, this version's (it asks again if it has another).
	 */
	if (fi->flags & O_TRUNC)
		in->kernel_size = 0;
	else if (is_writable && !fs_is_writing_locked(in))
		in->kernel_size = a.size;
	for (r = in->files; is_writable && r; r = r->next) {
		if (r->is_writable)
			r->is_shared_write = f->is_shared_write = true;
	}
	f->next = in->files;
	in->files = f;
	inode_open(in);
	inode_unlock();
	__atomic_add_fetch(&fs->open_files, 1, __ATOMIC_RELAXED);
	if (fi->flags & O_TRUNC)
		fs_writer_changed(f, false);
	/* A create's reply carries the attributes itself. */
	if (!fi->keep_cache && !is_created && is_attr_stale)
		fuse_lowlevel_notify_inval_inode(fs->se, in->ino, -1, 0);
	fi->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

static struct file *fs_file(struct fuse_file_info *fi)
{
	return (struct file *)(uintptr_t)fi->fh;
}

/* A request on f: its open (and the kernel's page drop) has finished. */
static void fs_file_opened(struct file *f)
{
	inode_lock();
	if (f->in->inval_by == f)
		f->in->inval_by = NULL;
	inode_unlock();
}

/* --- directories -------------------------------------------------- */

/*
 * The positions handed out as directory offsets for one open dir: in a
 * namespace, the next key to read with the directory's prefix taken
 * off, so that a listing renamed (or whose parent is) goes on where it
 * was under the new name.
 */
struct fs_dir {
	pthread_mutex_t lock;
	uint64_t next; /* next cookie; 1 and 2 are "." and ".." */
	char *pos[FS_DIR_COOKIES];
	size_t pos_len[FS_DIR_COOKIES];
};

/* Remember where a listing goes on after cookie c. */
static int fs_dir_remember(struct fs_dir *d, uint64_t c, const char *pos,
			   size_t len)
{
	size_t i = c % FS_DIR_COOKIES;
	char *p = malloc(len + 1);

	if (!p)
		return -ENOMEM;
	memcpy(p, pos, len);
	free(d->pos[i]);
	d->pos[i] = p;
	d->pos_len[i] = len;
	return 0;
}

/* One entry of a listing, before it goes into the reply buffer. */
struct fs_entry {
	enum inode_type type;
	char name[NAME_NAME_MAX + 1];
	char key[FS_KEY_BUF]; /* the child's key, or prefix for a dir */
	size_t key_len;
	struct store_attr attr;
	bool has_attr;
};

/* A reply buffer being filled by readdir or readdirplus. */
struct fs_fill {
	fuse_req_t req;
	struct fs *fs;
	struct fs_dir *d;
	struct inode *dir;
	bool is_plus;
	/* The caller may not search dir: entries without attributes (an
	 * entry of readdirplus with ino 0), so that the kernel caches no
	 * name it could open without a lookup. */
	bool is_blind;
	char *buf;
	size_t size, used;
	bool is_full;
};

/*
 * Add one entry with cookie c to the reply.  Returns 0 if added, 1 if
 * the buffer is full, or a negative errno.
 */
static int fs_fill_add(struct fs_fill *fl, struct fs_entry *en, uint64_t c,
		       const char *pos, size_t pos_len)
{
	struct fuse_entry_param e;
	struct inode *in = NULL;
	size_t need;
	int rc;

	memset(&e, 0, sizeof(e));
	if (fl->is_plus && !fl->is_blind) {
		in = inode_get(en->type, fl->dir->ns, fl->dir->is_flat, en->key,
			       en->key_len);
		if (in && en->type == INODE_KEY &&
		    fs_split_stale(in, en->attr.version)) {
			inode_forget(in->ino, 1);
			in = inode_get(en->type, fl->dir->ns, fl->dir->is_flat,
				       en->key, en->key_len);
		}
		if (!in)
			return -ENOMEM;
		e.ino = in->ino;
		fs_fill_stat(fl->fs, in->ino, en->type,
			     en->has_attr ? &en->attr : NULL, &e.attr);
		if (en->type == INODE_KEY) {
			fs_kernel_saw(in, &en->attr);
			fs_writer_size(in, &e.attr);
		}
		e.attr_timeout = e.entry_timeout =
		    fs_cache_sec(fl->fs, en->has_attr ? &en->attr : NULL);
		need = fuse_add_direntry_plus(fl->req, fl->buf + fl->used,
					      fl->size - fl->used, en->name, &e,
					      (off_t)c);
	} else {
		inode_lock();
		in = inode_by_name(en->type, fl->dir->ns, en->key, en->key_len);
		e.attr.st_ino = in ? in->ino : (1ULL << 63) | c;
		inode_unlock();
		e.attr.st_mode =
		    en->type == INODE_KEY && en->has_attr && en->attr.mode
			? en->attr.mode
		    : en->type == INODE_KEY ? S_IFREG
					    : S_IFDIR;
		if (fl->is_plus)
			need = fuse_add_direntry_plus(
			    fl->req, fl->buf + fl->used, fl->size - fl->used,
			    en->name, &e, (off_t)c);
		else
			need = fuse_add_direntry(fl->req, fl->buf + fl->used,
						 fl->size - fl->used, en->name,
						 &e.attr, (off_t)c);
		in = NULL;
	}
	if (need > fl->size - fl->used) {
		if (in)
			inode_forget(in->ino, 1);
		fl->is_full = true;
		return 1;
	}
	rc = fs_dir_remember(fl->d, c, pos, pos_len);
	if (rc) {
		if (in)
			inode_forget(in->ino, 1);
		return rc;
	}
	fl->used += need;
	fl->d->next = c + 1;
	return 0;
}

struct fs_ns_list {
	struct fs_fill *fl;
	const char *after; /* emit names after this one */
	size_t after_len;
	int rc;
};

static int fs_ns_entry(void *ctx, int64_t ns, const char *name)
{
	struct fs_ns_list *l = ctx;
	struct fs_entry en = {.type = INODE_NS};
	size_t len = strlen(name);
	int cmp;

	(void)ns;
	cmp = memcmp(name, l->after, len < l->after_len ? len : l->after_len);
	if (l->after_len && (cmp < 0 || (cmp == 0 && len <= l->after_len)))
		return 0;
	if (len > NAME_NAME_MAX)
		return 0;
	memcpy(en.name, name, len + 1);
	/* A namespace inode is found by its id, with the empty key. */
	l->rc = 0;
	{
		struct fuse_entry_param e;
		int rc = l->fl->is_plus ? fs_lookup_ns(l->fl->fs, name, &e) : 0;
		size_t need;

		if (rc) {
			l->rc = rc;
			return 1;
		}
		if (l->fl->is_plus) {
			need = fuse_add_direntry_plus(
			    l->fl->req, l->fl->buf + l->fl->used,
			    l->fl->size - l->fl->used, en.name, &e,
			    (off_t)l->fl->d->next);
		} else {
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = (1ULL << 62) | (uint64_t)ns;
			e.attr.st_mode = S_IFDIR;
			need = fuse_add_direntry(
			    l->fl->req, l->fl->buf + l->fl->used,
			    l->fl->size - l->fl->used, en.name, &e.attr,
			    (off_t)l->fl->d->next);
		}
		if (need > l->fl->size - l->fl->used) {
			if (l->fl->is_plus)
				inode_forget(e.ino, 1);
			l->fl->is_full = true;
			return 1;
		}
		rc = fs_dir_remember(l->fl->d, l->fl->d->next, name, len);
		if (rc) {
			l->rc = rc;
			return 1;
		}
		l->fl->used += need;
		l->fl->d->next++;
	}
	return 0;
}

/* A batch of rows copied out of the store's list callback. */
struct fs_rows {
	int n;
	struct {
		char key[FS_KEY_BUF];
		size_t key_len;
		enum store_kind kind;
		struct store_attr attr;
	} row[FS_DIR_BATCH];
};

static int fs_rows_add(void *ctx, const struct store_row *r)
{
	struct fs_rows *rows = ctx;

	if (r->key_len > STORE_KEY_MAX)
		return 0; /* no such key can be stored; skip it */
	memcpy(rows->row[rows->n].key, r->key, r->key_len);
	rows->row[rows->n].key_len = r->key_len;
	rows->row[rows->n].kind = r->kind;
	rows->row[rows->n].attr = r->attr;
	return ++rows->n == FS_DIR_BATCH;
}

/*
 * Turn one row of a tree or flat listing into an entry.  *next gets
 * the position after it (what the listing reads next).  Returns 1 if
 * the row is an entry, 0 if it is skipped, or a negative errno.
 */
/*
 * True (1) if key is also a directory.  after is the row that follows
 * key in the listing (NULL if unknown): rows under key + '/' would come
 * between the two, so it usually answers without a query.
 */
static int fs_is_shadowed(struct fs *fs, int64_t ns, const char *key,
			  size_t len, const char *after, size_t after_len)
{
	unsigned char c;

	if (after && (after_len < len || memcmp(after, key, len)))
		return 0; /* after is past every key that starts with key */
	if (after && after_len > len) {
		c = (unsigned char)after[len];
		if (c == '/')
			return 1;
		if (c > '/')
			return 0;
	}
	return fs_dir_exists(fs, ns, key, len);
}

static int fs_row_entry(struct fs *fs, struct inode *dir, const char *prefix,
			size_t prefix_len, const char *key, size_t key_len,
			enum store_kind kind, const struct store_attr *a,
			const char *after, size_t after_len,
			struct fs_entry *en, char *next, size_t *next_len)
{
	const char *rest = key + prefix_len, *slash;
	size_t rest_len = key_len - prefix_len, seg_len, name_len;
	bool has_row;
	int rc, flags = 0;

	if (key_len < prefix_len || memcmp(key, prefix, prefix_len))
		return -EIO; /* the store's range gave a row outside it */
	memcpy(next, key, key_len);
	next[key_len] = '\0';
	*next_len = key_len + 1; /* the smallest key after this one */
	slash = dir->is_flat ? NULL : memchr(rest, '/', rest_len);
	if (kind == STORE_DIR && rest_len == 0)
		return 0; /* the directory's own row */
	if (slash) {
		seg_len = (size_t)(slash - rest);
		en->type = INODE_DIR;
		en->key_len = prefix_len + seg_len + 1;
		memcpy(en->key, key, en->key_len);
		store_prefix_end(en->key, en->key_len, next);
		*next_len = en->key_len; /* past the whole subtree */
		if (kind == STORE_DIR && rest_len == seg_len + 1) {
			en->attr = *a;
			en->has_attr = true;
		} else {
			rc = fs_dir_attr(fs, dir->ns, en->key, en->key_len,
					 &en->attr, &has_row);
			if (rc)
				return rc;
			en->has_attr = has_row;
		}
	} else {
		if (kind != STORE_KEY)
			return 0;
		seg_len = rest_len;
		en->type = INODE_KEY;
		en->key_len = key_len;
		memcpy(en->key, key, key_len);
		en->attr = *a;
		en->has_attr = true;
		if (dir->is_flat) {
			flags = NAME_FLAT;
		} else {
			rc = fs_is_shadowed(fs, dir->ns, key, key_len, after,
					    after_len);
			if (rc < 0)
				return rc;
			if (rc == 1)
				flags = NAME_VALUE;
		}
	}
	rc = name_encode(rest, seg_len, flags, en->name, &name_len);
	return rc ? 0 : 1; /* a name that cannot be shown is skipped */
}

/*
 * List the directory's keys from rel (a position fs_dir_remember() kept,
 * relative to the directory's prefix; empty: the beginning).
 */
static int fs_list_keys(struct fs_fill *fl, const char *rel, size_t rel_len)
{
	char prefix[FS_KEY_BUF], end[FS_KEY_BUF], pos[FS_KEY_BUF + 1];
	char next[FS_KEY_BUF + 1];
	size_t prefix_len, pos_len, next_len;
	struct fs_rows *rows;
	struct fs_entry en;
	int i, rc = 0;

	inode_lock();
	prefix_len = fl->dir->key_len;
	memcpy(prefix, fl->dir->key, prefix_len);
	inode_unlock();
	store_prefix_end(prefix, prefix_len, end);
	/*
	 * Under a longer name than it was read under, prefix + rel may
	 * pass the longest key: cut at STORE_KEY_MAX + 1 bytes, which no
	 * key of at most STORE_KEY_MAX sits between.
	 */
	memcpy(pos, prefix, prefix_len);
	pos_len = prefix_len + rel_len;
	if (pos_len > STORE_KEY_MAX + 1)
		pos_len = STORE_KEY_MAX + 1;
	memcpy(pos + prefix_len, rel, pos_len - prefix_len);

	rows = malloc(sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	while (rc == 0 && !fl->is_full) {
		rows->n = 0;
		rc =
		    fl->fs->st->ops->list(fl->fs->st, fl->dir->ns, pos, pos_len,
					  prefix_len ? end : NULL, prefix_len,
					  FS_DIR_BATCH, fs_rows_add, rows);
		if (rc || rows->n == 0)
			break;
		for (i = 0; i < rows->n && rc == 0; i++) {
			memset(&en, 0, sizeof(en));
			rc = fs_row_entry(
			    fl->fs, fl->dir, prefix, prefix_len,
			    rows->row[i].key, rows->row[i].key_len,
			    rows->row[i].kind, &rows->row[i].attr,
			    i + 1 < rows->n ? rows->row[i + 1].key : NULL,
			    i + 1 < rows->n ? rows->row[i + 1].key_len : 0, &en,
			    next, &next_len);
			if (rc == 1)
				rc = fs_fill_add(fl, &en, fl->d->next,
						 next + prefix_len,
						 next_len - prefix_len);
			if (rc == 1)
				break; /* full */
			if (rc < 0)
				break;
			rc = 0;
			memcpy(pos, next, next_len);
			pos_len = next_len;
			if (en.type == INODE_DIR && en.key_len)
				break; /* go on after the subtree */
		}
		if (rc == 1)
			rc = 0;
	}
	free(rows);
	return rc;
}

/* --- operations --------------------------------------------------- */

static void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	(void)fs;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO)
		conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->max_write < 1024 * 1024 &&
	    conn->capable & FUSE_CAP_SPLICE_READ)
		conn->max_write = 1024 * 1024;
}

/* At unmount: say what open files had not stored, and free them all. */
static void fs_close_at_exit(struct inode *in, void *ctx)
{
	char shown[LOG_KEY_BUF];
	struct file *f;

	(void)ctx;
	while ((f = in->files)) {
		if (f->is_writable && f->is_dirty)
			log_warn("%s was open for writing at shutdown: not "
				 "stored",
				 log_key(shown, sizeof(shown), in->key,
					 in->key_len));
		in->files = f->next;
		file_free(f);
	}
}

static void fs_op_destroy(void *userdata)
{
	inode_lock();
	inode_each_open(fs_close_at_exit, userdata);
	inode_unlock();
}

static int fs_lookup_status(struct fs *fs, struct fuse_entry_param *e)
{
	struct inode *in = inode_get(INODE_STATUS, 0, false, FS_STATUS_NAME,
				     strlen(FS_STATUS_NAME));

	if (!in)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->ino = in->ino;
	fs_fill_stat(fs, in->ino, INODE_KEY, NULL, &e->attr);
	e->attr.st_mode = S_IFREG | 0444;
	return 0;
}

struct fs_status {
	struct fs *fs;
	struct file *f; /* NULL in the first pass */
	uint64_t keys, bytes;
	int rc;
};

static int fs_status_ns(void *ctx, int64_t ns, const char *name)
{
	struct fs_status *s = ctx;
	struct store_usage u = {0};
	char line[512];
	int n;

	s->rc = s->fs->st->ops->ns_usage(s->fs->st, ns, &u);
	if (s->rc)
		return 1;
	s->keys += u.keys;
	s->bytes += u.bytes;
	if (!s->f)
		return 0; /* the first pass only adds up */
	n = snprintf(line, sizeof(line),
		     "namespace %s: %llu keys, %llu bytes%s\n", name,
		     (unsigned long long)u.keys, (unsigned long long)u.bytes,
		     fs_writable(s->fs, ns) ? " (read-only)" : "");
	s->rc = file_sink(s->f, line, (size_t)n);
	return s->rc ? 1 : 0;
}

/* Write the status text into f. */
static int fs_status_text(struct fs *fs, struct file *f)
{
	struct fs_status s = {.fs = fs};
	char head[4096];
	int n, rc;

	/* Totals over the namespaces listed, remote ones included. */
	rc = fs->st->ops->ns_list(fs->st, fs_status_ns, &s);
	if (rc || s.rc)
		return rc ? rc : s.rc;
	n = snprintf(
	    head, sizeof(head),
	    "mountpoint: %s\nstore: %s\nconfig: %s\n"
	    "keys: %llu\nbytes: %llu\nopen files: %d\n"
	    "puts since mount: %llu\n",
	    fs->mountpoint, fs->cfg->store_path,
	    fs->cfg->file ? fs->cfg->file : "(the default)",
	    (unsigned long long)s.keys, (unsigned long long)s.bytes,
	    __atomic_load_n(&fs->open_files, __ATOMIC_RELAXED),
	    (unsigned long long)__atomic_load_n(&fs->puts, __ATOMIC_RELAXED));
	s.f = f;
	rc = file_sink(f, head, (size_t)n);
	if (rc == 0)
		rc = fs->st->ops->ns_list(fs->st, fs_status_ns, &s);
	return rc ? rc : s.rc;
}

static void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct inode *pin = fs_inode(parent);
	struct fs_name n;
	int rc;

	if (!pin) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	pthread_rwlock_t *lk = fs_lock_of(fs, pin->ns);
	pthread_rwlock_rdlock(lk);
	rc = fs_may(req, fs, pin, PERM_X);
	if (rc) {
		; /* no search permission */
	} else if (pin->type == INODE_ROOT && !strcmp(name, FS_STATUS_NAME)) {
		rc = fs_lookup_status(fs, &e);
	} else if (pin->type == INODE_ROOT) {
		rc = fs_lookup_ns(fs, name, &e);
	} else {
		rc = fs_resolve(pin, name, &n);
		if (rc == 0)
			rc = fs_lookup_name(fs, &n, &e);
		if (rc == -EINVAL || rc == -EILSEQ)
			rc = -ENOENT; /* no key has such a name */
	}
	pthread_rwlock_unlock(lk);
	/*
	 * ENOENT is not cached by the kernel (no negative entry): a key
	 * another mount or the CLI puts is there for the next open.
	 */
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(ino, nlookup);
	fuse_reply_none(req);
}

static void fs_op_forget_multi(fuse_req_t req, size_t count,
			       struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		inode_forget(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_op_getattr(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode *in = fs_inode(ino);
	double timeout;
	struct stat st;
	int rc;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	pthread_rwlock_t *lk = fs_lock_of(fs, in->ns);
	pthread_rwlock_rdlock(lk);
	rc = fs_getattr_in(fs, in, &st, &timeout);
	if (rc == -ESTALE) {
		rc = fs_getattr_open(fs, in, &st);
		timeout = 0;
	}
	pthread_rwlock_unlock(lk);
	if (rc == 0 && in->type == INODE_KEY)
		fs_writer_size(in, &st);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

/*
 * ftruncate(2) of the open file f: its copy of the value, stored at its
 * next flush.  Caller holds change_lock.
 */
static int fs_file_cut(struct fs *fs, struct file *f, uint64_t size)
{
	int rc;

	pthread_mutex_lock(&f->lock);
	rc = fs_file_load(fs, f);
	if (rc == 0 && f->size != size)
		rc = file_truncate(f, size);
	if (rc == 0) {
		f->is_written = true;
		fs_writer_changed(f, false);
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

/*
 * Truncate the copy of each file open for writing on in that holds one
 * (loaded, or with appends not yet stored), as ftruncate(2) on it
 * would: its close stores its own bytes, and they must be cut too.
 * Caller holds change_lock.
 */
static void fs_truncate_writers(struct fs *fs, struct inode *in, uint64_t size)
{
	struct file **files;
	int i, n;

	inode_lock();
	files = fs_hold_files(in, FS_COPY_WRITERS, NULL, &n);
	inode_unlock();
	for (i = 0; i < n; i++) {
		/* as its own ftruncate */
		(void)fs_file_cut(fs, files[i], size);
		fs_file_drop(files[i]);
	}
	free(files);
}

/*
 * truncate(2) of a key's path: the stored value now, and the copies of
 * the files open for writing on it, stored at their close.
 */
static int fs_truncate_key(struct fs *fs, struct inode *in, uint64_t size)
{
	struct file *f = file_new(in, true, false);
	int rc;

	if (!f)
		return -ENOMEM;
	fs_truncate_writers(fs, in, size);
	rc = fs_file_load(fs, f);
	if (rc == 0 && f->size != size)
		rc = file_truncate(f, size);
	if (rc == 0)
		rc = fs_file_store(fs, f);
	file_free(f);
	return rc;
}

/*
 * A time set while a writer holds changes (cp -p and tar -x set it on
 * the open file before closing) must survive the put at close.  Kept
 * once the setattr is stored: a refused one sets nothing.
 */
static void fs_pending_mtime(struct inode *in, int64_t mtime_ns)
{
	struct file *f;

	inode_lock();
	for (f = in->files; f; f = f->next)
		if (f->is_writable)
			in->pending_mtime_ns = mtime_ns;
	inode_unlock();
}

static int fs_setattr_in(struct fs *fs, struct inode *in, struct stat *attr,
			 int to_set, struct fuse_file_info *fi)
{
	struct store_attr a = {.uid = -1, .gid = -1};
	char key[FS_KEY_BUF];
	enum store_kind kind;
	int mask = 0, rc;
	size_t len;
	int64_t ns;

	rc = fs_key_of(in, &ns, key, &len, &kind);
	if (rc)
		return rc;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (kind == STORE_DIR)
			return -EISDIR;
		if (fi)
			rc = fs_file_cut(fs, fs_file(fi),
					 (uint64_t)attr->st_size);
		else
			rc = fs_truncate_key(fs, in, (uint64_t)attr->st_size);
		if (rc)
			return rc;
		inode_lock();
		in->kernel_size = (uint64_t)attr->st_size; /* it cut too */
		inode_unlock();
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		a.mode = attr->st_mode;
		mask |= STORE_SET_MODE;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		a.uid = attr->st_uid;
		mask |= STORE_SET_UID;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		a.gid = attr->st_gid;
		mask |= STORE_SET_GID;
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		a.mtime_ns = to_set & FUSE_SET_ATTR_MTIME_NOW
				 ? fs_now_ns()
				 : (int64_t)attr->st_mtim.tv_sec * 1000000000 +
				       attr->st_mtim.tv_nsec;
		mask |= STORE_SET_MTIME;
	}
	if (!mask)
		return 0;
	if (kind == STORE_DIR) {
		rc = fs_dir_row(fs, ns, key, len);
		if (rc)
			return rc;
	}
	if (a.mode && kind == STORE_KEY)
		a.mode = (a.mode & 07777) | S_IFREG;
	else if (a.mode)
		a.mode = (a.mode & 07777) | S_IFDIR;
	rc = fs->st->ops->setattr(fs->st, ns, key, len, kind, mask, &a);
	if (rc == 0 && (mask & STORE_SET_MTIME))
		fs_pending_mtime(in, a.mtime_ns);
	return rc;
}

static void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			  int to_set, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode *in = fs_inode(ino);
	double timeout;
	struct stat st;
	int rc;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = fs_writable(fs, in->ns);
	if (rc == 0) {
		pthread_rwlock_t *lk = fs_lock_of(fs, in->ns);
		pthread_rwlock_wrlock(lk);
		rc = fs_may_setattr(req, fs, in, attr, to_set, fi);
		if (rc == 0)
			rc = fs_setattr_in(fs, in, attr, to_set, fi);
		if (in->type != INODE_KEY)
			fs_dirs_changed(fs);
		pthread_rwlock_unlock(lk);
	}
	if (rc == 0)
		rc = fs_getattr_in(fs, in, &st, &timeout);
	if (rc == -ESTALE && fi) {
		rc = fs_getattr_open(fs, in, &st);
		timeout = 0;
	}
	if (rc == 0 && in->type == INODE_KEY)
		fs_writer_size(in, &st); /* an open writer's size, if any */
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

/* The status file: made at open, read with direct I/O (its size is 0). */
static void fs_open_status(struct fs *fs, struct inode *in, fuse_req_t req,
			   struct fuse_file_info *fi)
{
	struct file *f;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	f = file_new(in, false, false);
	if (!f) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = fs_status_text(fs, f);
	if (rc) {
		file_free(f);
		fuse_reply_err(req, -rc);
		return;
	}
	f->is_loaded = true;
	inode_lock();
	f->next = in->files;
	in->files = f;
	inode_open(in);
	inode_unlock();
	__atomic_add_fetch(&fs->open_files, 1, __ATOMIC_RELAXED);
	fi->direct_io = 1;
	fi->fh = (uint64_t)(uintptr_t)f;
	fuse_reply_open(req, fi);
}

/*
 * An open with O_TRUNC by a caller other than root clears setuid, and
 * setgid where group execution is on or the caller is not of the
 * file's group, as truncate(2) does: with atomic O_TRUNC the kernel
 * sends no mode change for it.  Caller holds the change lock.
 */
static int fs_trunc_drops_privs(fuse_req_t req, struct fs *fs, struct inode *in)
{
	struct perm_caller c;
	gid_t *groups = NULL;
	struct stat st, now;
	int in_group, rc;

	if (fuse_req_ctx(req)->uid == 0)
		return 0;
	rc = fs_perm_stat(fs, in, &st);
	if (rc || !(st.st_mode & (S_ISUID | S_ISGID)))
		return rc;
	now.st_mode = st.st_mode & ~(mode_t)S_ISUID;
	if ((st.st_mode & S_ISGID) && !(st.st_mode & S_IXGRP)) {
		fs_caller(req, &c);
		in_group = perm_in_group(&c, st.st_gid);
		if (in_group < 0) {
			groups = fs_load_groups(req, &c);
			in_group = perm_in_group(&c, st.st_gid);
		}
		free(groups);
		if (in_group != 1)
			now.st_mode &= ~(mode_t)S_ISGID;
	} else {
		now.st_mode &= ~(mode_t)S_ISGID;
	}
	return fs_setattr_in(fs, in, &now, FUSE_SET_ATTR_MODE, NULL);
}

static void fs_op_open(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode *in = fs_inode(ino);
	pthread_rwlock_t *lk;
	int rc;

	if (in && in->type == INODE_STATUS) {
		rc = fs_may(req, fs, in, PERM_R);
		if (rc)
			fuse_reply_err(req, -rc);
		else
			fs_open_status(fs, in, req, fi);
		return;
	}
	if (!in || in->type != INODE_KEY) {
		fuse_reply_err(req, in ? EISDIR : ESTALE);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		rc = fs_writable(fs, in->ns);
		if (rc) {
			fuse_reply_err(req, -rc);
			return;
		}
	}
	lk = fs_lock_of(fs, in->ns);
	if (fi->flags & O_TRUNC)
		pthread_rwlock_wrlock(lk);
	else
		pthread_rwlock_rdlock(lk);
	rc = fs_may(req, fs, in, fs_open_want(fi->flags));
	if (rc == 0 && (fi->flags & O_TRUNC))
		rc = fs_trunc_drops_privs(req, fs, in);
	if (rc == 0)
		rc = fs_open_in(fs, in, fi, false, NULL);
	pthread_rwlock_unlock(lk);
	if (rc)
		fuse_reply_err(req, -rc);
	else if (fuse_reply_open(req, fi) == -ENOENT)
		fuse_reply_err(req, EINTR); /* unreachable: no reply to undo */
}

/*
 * The group of a new key or directory in pin: the caller's, or pin's
 * where pin has the setgid bit, which a new directory then gets too (in
 * *mode), as on ext4.
 */
static gid_t fs_new_gid(fuse_req_t req, struct fs *fs, struct inode *pin,
			mode_t *mode)
{
	double timeout;
	struct stat st;

	if (fs_getattr_in(fs, pin, &st, &timeout) || !(st.st_mode & S_ISGID))
		return fuse_req_ctx(req)->gid;
	if (S_ISDIR(*mode))
		*mode |= S_ISGID;
	return st.st_gid;
}

/*
 * Creates the key of n as an empty value, or with flags STORE_PUT_LAZY
 * (and STORE_PUT_CLAIM for O_EXCL) only in memory until the file's
 * first put: see store_pending.c.  Caller holds change_lock.
 */
static int fs_create_key(struct fs *fs, fuse_req_t req, struct inode *pin,
			 struct fs_name *n, mode_t mode, int flags,
			 const char *link_target, struct store_attr *out)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct store_put put = {0};
	int rc;

	rc = fs_writable(fs, n->ns);
	if (rc)
		return rc;
	if (name_key_check(n->key, n->len))
		return -EINVAL; /* "." or ".." at a namespace's top */
	/* A value of a name a directory took is allowed; a file, not. */
	if (!n->is_flat && !n->is_value)
		flags |= STORE_PUT_NOT_DIR;
	if (n->is_value) {
		rc = fs_dir_exists(fs, n->ns, n->key, n->len);
		if (rc <= 0)
			return rc < 0 ? rc : -EINVAL;
	}
	put.flags =
	    STORE_PUT_EXCL | (link_target ? 0 : STORE_PUT_CREATE) | flags;
	put.attr.mode = mode;
	put.attr.uid = ctx->uid;
	put.attr.gid = fs_new_gid(req, fs, pin, &put.attr.mode);
	if (link_target) {
		put.size = strlen(link_target);
		put.read = file_put_read;
	}
	if (link_target) {
		struct file *f = file_new(NULL, true, false);

		if (!f)
			return -ENOMEM;
		rc = file_sink(f, link_target, put.size);
		put.ctx = f;
		if (rc == 0)
			rc = fs->st->ops->put(fs->st, n->ns, n->key, n->len,
					      &put, NULL);
		file_free(f);
		return rc;
	}
	return fs->st->ops->put(fs->st, n->ns, n->key, n->len, &put, out);
}

/*
 * The entry of the key of n that this mount's create just put, with the
 * attributes *a the put returned: no need to read them back.
 */
static int fs_created_entry(struct fs *fs, struct fs_name *n,
			    const struct store_attr *a,
			    struct fuse_entry_param *e)
{
	struct inode *in;

	in = inode_get(INODE_KEY, n->ns, n->is_flat, n->key, n->len);
	if (!in)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	fs_fill_stat(fs, in->ino, INODE_KEY, a, &e->attr);
	fs_kernel_saw(in, a);
	e->ino = in->ino;
	e->attr_timeout = e->entry_timeout = fs_cache_sec(fs, a);
	return 0;
}

static void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode *pin = fs_inode(parent), *in;
	struct fuse_entry_param e;
	mode_t mode_reg = S_IFREG | (mode & 07777);
	bool is_created = true, is_excl;
	struct store_attr a;
	struct fs_name n;
	int rc, tries, lazy, again;

	if (!pin) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = fs_resolve(pin, name, &n);
	if (rc == -ENOENT)
		rc = -EPERM; /* files cannot live at the mount root */
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	is_excl = fs->st->ops->caps(fs->st, n.ns) & STORE_CAP_EXCL;
	lazy = STORE_PUT_LAZY | (fi->flags & O_EXCL ? STORE_PUT_CLAIM : 0);
	pthread_rwlock_t *lk = fs_lock_name(fs, pin, name, &n, 0, &again);
	for (tries = 0; again == 0; tries++) {
		rc = fs_may(req, fs, pin, PERM_W | PERM_X);
		if (rc == 0)
			rc = fs_create_key(fs, req, pin, &n, mode_reg, lazy,
					   NULL, &a);
		is_created = rc != -EEXIST;
		if (rc == -EEXIST && !(fi->flags & O_EXCL))
			rc = 0;
		if (rc == 0 && is_created && is_excl)
			rc = fs_created_entry(fs, &n, &a, &e);
		else if (rc == 0)
			rc = fs_lookup_name(fs, &n, &e);
		if (rc == 0) {
			in = fs_inode(e.ino);
			/* Another mount made it first: an open of it. */
			if (!is_created)
				rc = fs_may(req, fs, in,
					    fs_open_want(fi->flags));
			if (rc == 0)
				rc = fs_open_in(fs, in, fi, is_created,
						is_created && is_excl ? &a
								      : NULL);
			if (rc)
				inode_forget(e.ino, 1);
		}
		/* Another mount deleted the key between two steps. */
		if ((rc != -ENOENT && rc != -ESTALE) ||
		    tries == FS_CREATE_TRIES)
			break;
	}
	if (again)
		rc = again;
	pthread_rwlock_unlock(lk);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_create(req, &e, fi);
}

static void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, dev_t rdev)
{
	struct fs *fs = fs_of(req);
	struct inode *pin = fs_inode(parent);
	struct fuse_entry_param e;
	struct fs_name n;
	int rc;

	(void)rdev;
	if (!S_ISREG(mode)) {
		fuse_reply_err(req, EPERM); /* no devices, fifos, sockets */
		return;
	}
	rc = pin ? fs_resolve(pin, name, &n) : -ESTALE;
	if (rc == -ENOENT)
		rc = -EPERM;
	if (rc == 0) {
		pthread_rwlock_t *lk = fs_lock_name(fs, pin, name, &n, 0, &rc);
		if (rc == 0)
			rc = fs_may(req, fs, pin, PERM_W | PERM_X);
		if (rc == 0)
			rc = fs_create_key(fs, req, pin, &n, mode, 0, NULL,
					   NULL);
		if (rc == 0)
			rc = fs_lookup_name(fs, &n, &e);
		pthread_rwlock_unlock(lk);
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			  const char *name)
{
	struct fs *fs = fs_of(req);
	struct inode *pin = fs_inode(parent);
	struct fuse_entry_param e;
	struct fs_name n;
	int rc;

	rc = pin ? fs_resolve(pin, name, &n) : -ESTALE;
	if (rc == -ENOENT)
		rc = -EPERM;
	if (rc == 0 && strlen(link) > STORE_VALUE_MAX)
		rc = -ENAMETOOLONG;
	if (rc == 0) {
		pthread_rwlock_t *lk = fs_lock_name(fs, pin, name, &n, 0, &rc);
		if (rc == 0)
			rc = fs_may(req, fs, pin, PERM_W | PERM_X);
		if (rc == 0)
			rc = fs_create_key(fs, req, pin, &n, S_IFLNK | 0777, 0,
					   link, NULL);
		if (rc == 0)
			rc = fs_lookup_name(fs, &n, &e);
		pthread_rwlock_unlock(lk);
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct inode *in = fs_inode(ino);
	struct file *f;
	char *target;
	size_t n;
	int rc;

	if (!in || in->type != INODE_KEY) {
		fuse_reply_err(req, in ? EINVAL : ESTALE);
		return;
	}
	f = file_new(in, false, false);
	if (!f) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = fs_file_load(fs, f);
	target = rc == 0 ? malloc(f->size + 1) : NULL;
	if (rc == 0 && !target)
		rc = -ENOMEM;
	if (rc == 0)
		rc = file_read(f, 0, target, f->size, &n);
	if (rc == 0) {
		target[n] = '\0';
		fuse_reply_readlink(req, target);
	} else {
		fuse_reply_err(req, rc == -ENOENT ? ESTALE : -rc);
	}
	free(target);
	file_free(f);
}

/*
 * Read from the content of the file that holds changes to the same
 * inode, if another one does: as on a local file system, what one
 * descriptor wrote is read through any other before it is closed (git
 * writes a pack and reads it back that way).  Returns 1 if it did.
 */
static int fs_read_writer(struct file *f, uint64_t off, char *buf, size_t size,
			  size_t *n, int *rc)
{
	struct file *w;
	int used = 0;

	inode_lock();
	w = f->in->writer;
	if (w && w != f)
		fs_file_hold(w);
	else
		w = NULL;
	inode_unlock();
	if (!w)
		return 0;
	pthread_mutex_lock(&w->lock);
	if (w->is_loaded && !w->is_append_only) {
		*rc = file_read(w, off, buf, size, n);
		used = 1;
	}
	pthread_mutex_unlock(&w->lock);
	fs_file_drop(w);
	return used;
}

static void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct file *f = fs_file(fi);
	char *buf = malloc(size ? size : 1);
	size_t n = 0;
	int rc = 0;

	(void)ino;
	fs_file_opened(f);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (!f->is_writable &&
	    fs_read_writer(f, (uint64_t)off, buf, size, &n, &rc))
		goto reply;
	pthread_mutex_lock(&f->lock);
	rc = fs_file_load(fs, f);
	if (rc == 0)
		rc = file_read(f, (uint64_t)off, buf, size, &n);
	pthread_mutex_unlock(&f->lock);
reply:
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, n);
	free(buf);
}

static void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct file *f = fs_file(fi);
	uint64_t end;
	int rc = 0;

	(void)ino;
	fs_file_opened(f);
	pthread_mutex_lock(&f->lock);
	end = (uint64_t)off + size; /* the kernel's size after this write */
	if (f->is_append_only)
		off = (off_t)f->size; /* appends go after what is pending */
	else
		rc = fs_file_load(fs, f);
	if (rc == 0)
		rc = file_write(f, (uint64_t)off, buf, size);
	if (rc == 0) {
		f->is_written = true;
		fs_writer_changed(f, false);
		inode_lock();
		f->is_quiet = false;
		if (f->in->kernel_size < end)
			f->in->kernel_size = end;
		inode_unlock();
	}
	pthread_mutex_unlock(&f->lock);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

/*
 * Every close() of a descriptor flushes, also the close of a copy: a
 * shell's "cmd > key" opens with O_TRUNC, moves the descriptor with
 * dup2() and closes the original before cmd writes anything.  Storing
 * that bare truncation would show readers an empty value and lose the
 * old one if cmd then fails; so a file that was truncated by O_TRUNC
 * but not yet written stores at a later flush, or at release.
 */
static void fs_op_flush(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct file *f = fs_file(fi);
	bool is_bare_trunc;
	int rc = 0;

	(void)ino;
	fs_file_opened(f);
	pthread_mutex_lock(&f->lock);
	is_bare_trunc = f->is_dirty && !f->is_written && !f->is_too_big &&
			!f->is_out_of_space;
	pthread_mutex_unlock(&f->lock);
	if (!is_bare_trunc)
		rc = fs_store_locked(fs_of(req), f);
	inode_lock();
	f->is_quiet = true;
	inode_unlock();
	fuse_reply_err(req, -rc);
}

static void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	int rc = fs_store_locked(fs_of(req), fs_file(fi));

	(void)ino;
	(void)datasync;
	fuse_reply_err(req, -rc);
}

static void fs_op_release(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct file *f = fs_file(fi), **p;
	struct inode *in = f->in;
	char key[FS_KEY_BUF];
	bool is_last, is_lost;
	size_t len = 0;
	int64_t ns = 0;
	int rc;

	(void)ino;
	/*
	 * Pages of a shared mapping may arrive after the last flush.  A
	 * file whose last store failed was told so at its close: nothing
	 * is stored behind its back now.
	 */
	rc = f->is_failed ? -ECANCELED : fs_store_locked(fs, f);
	if (rc && rc != -EFBIG && rc != -ECANCELED)
		log_warn("release: could not store a file: %s", strerror(-rc));
	fs_writer_changed(f, true);
	inode_lock();
	if (in->inval_by == f)
		in->inval_by = NULL;
	for (p = &in->files; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			break;
		}
	}
	/* A created file nothing could store, and nothing else will. */
	is_lost = rc && f->is_unstored && !in->files && fs->st->ops->forget;
	if (is_lost) {
		ns = in->ns;
		len = in->key_len;
		memcpy(key, in->key, len);
	}
	is_last = --f->refs == 0;
	inode_close(in);
	inode_unlock();
	if (is_lost)
		fs->st->ops->forget(fs->st, ns, key, len);
	__atomic_sub_fetch(&fs->open_files, 1, __ATOMIC_RELAXED);
	if (is_last)
		file_free(f);
	fuse_reply_err(req, 0);
}

/* n names a key whose inode the kernel has from this mount. */
static bool fs_is_known_key(const struct fs_name *n)
{
	struct inode *in;
	bool is_known;

	inode_lock();
	in = inode_by_name(INODE_KEY, n->ns, n->key, n->len);
	is_known = in && !in->is_unlinked && in->nlookup > 0;
	inode_unlock();
	return is_known;
}

static void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct inode *pin = fs_inode(parent);
	struct fs_name n;
	int rc;

	rc = pin ? fs_resolve(pin, name, &n) : -ESTALE;
	if (rc == 0)
		rc = fs_writable(fs, n.ns);
	/*
	 * The kernel unlinks only what it looked up as a file; a name it
	 * did not get from this mount may have become a directory.
	 */
	if (rc == 0 && !n.is_flat && !n.is_value && !fs_is_known_key(&n) &&
	    fs_dir_exists(fs, n.ns, n.key, n.len) == 1)
		rc = -EISDIR;
	if (rc == 0) {
		pthread_rwlock_t *lk = fs_lock_name(fs, pin, name, &n, 0, &rc);
		if (rc == 0)
			rc = fs_may_remove(req, fs, pin, &n);
		if (rc == 0) {
			fs_preserve_readers(fs, n.ns, n.key, n.len);
			rc = fs->st->ops->remove(fs->st, n.ns, n.key, n.len,
						 STORE_KEY);
			/* Open writers of a key still there keep storing. */
			if (rc == 0 || rc == -ENOENT) {
				inode_lock();
				inode_unlink(INODE_KEY, n.ns, n.key, n.len);
				inode_unlock();
				fs_dir_emptied(pin);
			}
		}
		if (rc == 0 && log_max_level >= LOG_DEBUG) {
			char shown[LOG_KEY_BUF];

			log_debug("delete %s",
				  log_key(shown, sizeof(shown), n.key, n.len));
		}
		pthread_rwlock_unlock(lk);
	}
	fuse_reply_err(req, -rc);
}

/*
 * A namespace name must also be writable in a config file's section
 * header: 1 to 255 bytes of UTF-8 without control characters.
 */
static int fs_ns_name_check(const char *name)
{
	size_t i, len = strlen(name);

	if (!strcmp(name, FS_STATUS_NAME))
		return -EEXIST;
	if (len > 255)
		return -ENAMETOOLONG;
	if (!name_utf8_valid(name, len))
		return -EILSEQ;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return -EINVAL;
	return 0;
}

static void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fs *fs = fs_of(req);
	struct inode *pin = fs_inode(parent);
	struct store_attr a = {0};
	struct fuse_entry_param e;
	struct fs_name n;
	int64_t ns;
	int rc;

	if (pin && pin->type == INODE_ROOT) {
		rc = fs_ns_name_check(name);
		if (rc == 0)
			rc = fs_may(req, fs, pin, PERM_W | PERM_X);
		if (rc == 0)
			rc = fs->st->ops->ns_create(fs->st, name, &ns);
		if (rc == 0) {
			/* The namespace's own row keeps its creator. */
			a.mode = S_IFDIR | (mode & 07777);
			a.uid = ctx->uid;
			a.gid = fs_new_gid(req, fs, pin, &a.mode);
			rc = fs->st->ops->mkdir(fs->st, ns, "", 0, &a);
		}
		if (rc == 0)
			rc = fs_lookup_ns(fs, name, &e);
		goto reply;
	}
	rc = pin ? fs_resolve(pin, name, &n) : -ESTALE;
	if (rc == 0)
		rc = fs_writable(fs, n.ns);
	if (rc == 0 && n.is_flat)
		rc = -EPERM; /* a flat namespace has no directories */
	if (rc == 0 && n.is_value)
		rc = -EINVAL;
	if (rc == 0 && n.len + 1 > STORE_KEY_MAX)
		rc = -ENAMETOOLONG;
	if (rc == 0) {
		pthread_rwlock_t *lk = fs_lock_name(fs, pin, name, &n, 1, &rc);
		if (rc == 0)
			rc = fs_may(req, fs, pin, PERM_W | PERM_X);
		if (rc == 0)
			rc = fs_dir_exists(fs, n.ns, n.key, n.len);
		if (rc == 0) {
			a.mode = S_IFDIR | (mode & 07777);
			a.uid = ctx->uid;
			a.gid = fs_new_gid(req, fs, pin, &a.mode);
			n.key[n.len] = '/';
			rc = fs->st->ops->mkdir(fs->st, n.ns, n.key, n.len + 1,
						&a);
		} else if (rc == 1) {
			rc = -EEXIST;
		}
		if (rc == 0)
			rc = fs_lookup_name(fs, &n, &e);
		fs_dirs_changed(fs);
		pthread_rwlock_unlock(lk);
	}
reply:
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

/* 1 if the directory with prefix has anything but its own row. */
static int fs_dir_has_children(struct fs *fs, int64_t ns, const char *prefix,
			       size_t len)
{
	struct fs_rows *rows = malloc(sizeof(*rows));
	char end[FS_KEY_BUF];
	int rc, i, found = 0;

	if (!rows)
		return -ENOMEM;
	rows->n = 0;
	store_prefix_end(prefix, len, end);
	rc = fs->st->ops->list(fs->st, ns, prefix, len, end, len, 2,
			       fs_rows_add, rows);
	for (i = 0; rc == 0 && i < rows->n; i++)
		if (rows->row[i].kind != STORE_DIR ||
		    rows->row[i].key_len != len)
			found = 1;
	free(rows);
	return rc ? rc : found;
}

static void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct inode *pin = fs_inode(parent);
	struct fs_name n;
	int rc;

	if (pin && pin->type == INODE_ROOT) {
		rc = config_find_ns(fs->cfg, name)
			 ? -EPERM
			 : fs_may(req, fs, pin, PERM_W | PERM_X);
		if (rc == 0)
			rc = fs->st->ops->ns_remove(fs->st, name);
		fuse_reply_err(req, -rc);
		return;
	}
	rc = pin ? fs_resolve(pin, name, &n) : -ESTALE;
	if (rc == 0)
		rc = fs_writable(fs, n.ns);
	if (rc == 0 && n.is_flat)
		rc = -ENOTDIR;
	if (rc == 0 && n.len + 1 > STORE_KEY_MAX)
		rc = -ENOENT;
	if (rc == 0) {
		pthread_rwlock_t *lk = fs_lock_name(fs, pin, name, &n, 1, &rc);
		if (rc == 0)
			rc = fs_may_remove(req, fs, pin, &n);
		n.key[n.len++] = '/';
		if (rc == 0)
			rc = fs_dir_has_children(fs, n.ns, n.key, n.len);
		if (rc == 1)
			rc = -ENOTEMPTY;
		if (rc == 0)
			rc = fs->st->ops->remove(fs->st, n.ns, n.key, n.len,
						 STORE_DIR);
		/*
		 * A directory that only its keys made (no mkdir row) went
		 * away with its last key: the kernel still knows it, so
		 * `rm -r` and `find -delete` end with its rmdir.  It is
		 * empty and gone, which is what rmdir asks.
		 */
		if (rc == -ENOENT)
			rc = 0;
		if (rc == 0) {
			inode_lock();
			inode_unlink(INODE_DIR, n.ns, n.key, n.len);
			inode_unlock();
			fs_dir_emptied(pin);
		}
		fs_dirs_changed(fs);
		pthread_rwlock_unlock(lk);
	}
	fuse_reply_err(req, -rc);
}

/* Rename a key or a directory; caller holds change_lock. */
static int fs_rename_names(struct fs *fs, struct fs_name *from,
			   struct fs_name *to, unsigned int flags)
{
	bool noreplace = flags & RENAME_NOREPLACE;
	int rc, is_dir = 0;

	/* mv copies and deletes where the store cannot rename. */
	if (!(fs->st->ops->caps(fs->st, from->ns) & STORE_CAP_RENAME) ||
	    !(fs->st->ops->caps(fs->st, to->ns) & STORE_CAP_RENAME))
		return -EXDEV;

	if (!from->is_flat && !from->is_value)
		is_dir = fs_dir_exists(fs, from->ns, from->key, from->len);
	if (is_dir < 0)
		return is_dir;
	/* name^v is the value beside directory name, as for a create. */
	if (to->is_value) {
		rc = is_dir ? 0 : fs_dir_exists(fs, to->ns, to->key, to->len);
		if (rc <= 0)
			return rc < 0 ? rc : -EINVAL;
	}
	if (is_dir) {
		if (to->is_flat || to->len + 1 > STORE_KEY_MAX)
			return to->is_flat ? -EXDEV : -ENAMETOOLONG;
		if (!to->is_flat &&
		    fs->st->ops->stat(fs->st, to->ns, to->key, to->len,
				      STORE_KEY, NULL) == 0 &&
		    fs_dir_exists(fs, to->ns, to->key, to->len) == 0)
			return -ENOTDIR;
		from->key[from->len++] = '/';
		to->key[to->len++] = '/';
		rc = fs_dir_has_children(fs, to->ns, to->key, to->len);
		if (rc == 1)
			return noreplace ? -EEXIST : -ENOTEMPTY;
		if (rc < 0)
			return rc;
		rc = fs->st->ops->rename(fs->st, from->ns, from->key, from->len,
					 to->ns, to->key, to->len, STORE_DIR,
					 noreplace);
		if (rc == 0) {
			inode_lock();
			rc = inode_rename(INODE_DIR, from->ns, from->key,
					  from->len, to->ns, to->key, to->len);
			inode_unlock();
		}
		return rc;
	}
	if (name_key_check(to->key, to->len))
		return -EINVAL;
	if (!to->is_flat && !to->is_value &&
	    fs_dir_exists(fs, to->ns, to->key, to->len) == 1)
		return -EISDIR;
	fs_preserve_readers(fs, to->ns, to->key, to->len);
	rc = fs->st->ops->rename(fs->st, from->ns, from->key, from->len, to->ns,
				 to->key, to->len, STORE_KEY, noreplace);
	if (rc == 0) {
		inode_lock();
		rc = inode_rename(INODE_KEY, from->ns, from->key, from->len,
				  to->ns, to->key, to->len);
		inode_unlock();
	}
	return rc;
}

static void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname,
			 unsigned int flags)
{
	struct fs *fs = fs_of(req);
	struct inode *pin = fs_inode(parent), *npin = fs_inode(newparent);
	struct fs_name *from, *to;
	int rc;

	/* No exchange (see README); no whiteout (a device, for overlayfs) */
	if (flags & (RENAME_EXCHANGE | RENAME_WHITEOUT)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!pin || !npin) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	from = malloc(sizeof(*from));
	to = malloc(sizeof(*to));
	rc = from && to ? 0 : -ENOMEM;
	if (rc == 0)
		rc = fs_resolve(pin, name, from);
	if (rc == 0)
		rc = fs_resolve(npin, newname, to);
	if (rc == -ENOENT)
		rc = -EPERM; /* renaming namespaces is not supported */
	if (rc == 0)
		rc = fs_writable(fs, from->ns);
	if (rc == 0)
		rc = fs_writable(fs, to->ns);
	if (rc == 0) {
		pthread_rwlock_t *lk =
		    fs_lock_name(fs, pin, name, from, 0, &rc);
		if (rc == 0)
			rc = fs_resolve(npin, newname, to);
		if (rc == 0)
			rc = fs_may_rename(req, fs, pin, from, npin, to);
		if (rc == 0)
			rc = fs_rename_names(fs, from, to, flags);
		if (rc == 0)
			fs_dir_emptied(pin);
		fs_dirs_changed(fs);
		pthread_rwlock_unlock(lk);
	}
	free(from);
	free(to);
	fuse_reply_err(req, -rc);
}

static void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		       const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	fuse_reply_err(req, EPERM); /* a key has exactly one name */
}

/*
 * access(2), and chdir's check: only asked when kvfs checks permissions
 * (the kernel answers itself with default_permissions).  Write access
 * to a read_only namespace is EROFS, as on a read-only mount.
 */
static void fs_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct fs *fs = fs_of(req);
	struct inode *in = fs_inode(ino);
	int rc, want;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	want = (mask & R_OK ? PERM_R : 0) | (mask & W_OK ? PERM_W : 0) |
	       (mask & X_OK ? PERM_X : 0);
	rc = 0;
	if ((want & PERM_W) && in->type != INODE_ROOT)
		rc = fs_writable(fs, in->ns);
	if (rc == 0 && want)
		rc = fs_may(req, fs, in, want);
	fuse_reply_err(req, -rc);
}

static void fs_op_opendir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct inode *in = fs_inode(ino);
	struct fs_dir *d;
	int rc;

	if (!in || in->type == INODE_KEY) {
		fuse_reply_err(req, in ? ENOTDIR : ESTALE);
		return;
	}
	rc = fs_may(req, fs_of(req), in, PERM_R);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->next = 1;
	inode_lock();
	inode_open(in);
	inode_unlock();
	fi->fh = (uint64_t)(uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void fs_readdir_any(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi, bool is_plus)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	struct fs_fill fl = {.req = req,
			     .fs = fs_of(req),
			     .d = d,
			     .is_plus = is_plus,
			     .size = size};
	uint64_t c = (uint64_t)off;
	struct fs_entry dot;
	const char *pos = "";
	size_t pos_len = 0;
	int rc = 0;

	fl.dir = fs_inode(ino);
	fl.buf = malloc(size);
	if (!fl.buf || !fl.dir) {
		free(fl.buf);
		fuse_reply_err(req, fl.buf ? ESTALE : ENOMEM);
		return;
	}
	pthread_rwlock_t *lk = fs_lock_of(fl.fs, fl.dir->ns);
	pthread_rwlock_rdlock(lk);
	fl.is_blind = is_plus && fl.dir->type != INODE_ROOT &&
		      fs_may(req, fl.fs, fl.dir, PERM_X) != 0;
	pthread_mutex_lock(&d->lock);
	if (c >= 3 && (c + FS_DIR_COOKIES < d->next || c >= d->next ||
		       !d->pos[c % FS_DIR_COOKIES])) {
		/* A position we no longer remember: start again. */
		c = 0;
	}
	if (c >= 3) {
		pos = d->pos[c % FS_DIR_COOKIES];
		pos_len = d->pos_len[c % FS_DIR_COOKIES];
	}
	d->next = c + 1;
	/* "." and ".." first, then the entries. */
	memset(&dot, 0, sizeof(dot));
	while (c < 2 && !fl.is_full) {
		struct stat st = {.st_ino = ino, .st_mode = S_IFDIR};

		strcpy(dot.name, c == 0 ? "." : "..");
		if (is_plus) {
			struct fuse_entry_param e = {.ino = 0, .attr = st};

			rc = (int)fuse_add_direntry_plus(
			    req, fl.buf + fl.used, size - fl.used, dot.name, &e,
			    (off_t)c + 1);
		} else {
			rc = (int)fuse_add_direntry(req, fl.buf + fl.used,
						    size - fl.used, dot.name,
						    &st, (off_t)c + 1);
		}
		if ((size_t)rc > size - fl.used) {
			fl.is_full = true;
			break;
		}
		fl.used += (size_t)rc;
		c++;
		d->next = c + 1;
	}
	rc = 0;
	if (!fl.is_full && c == 2) {
		/* Cookie 2 continues at the start of the listing. */
		d->next = 3;
		fs_dir_remember(d, 2, "", 0);
	}
	if (!fl.is_full) {
		if (fl.dir->type == INODE_ROOT) {
			struct fs_ns_list l = {
			    .fl = &fl, .after = pos, .after_len = pos_len};

			rc =
			    fl.fs->st->ops->ns_list(fl.fs->st, fs_ns_entry, &l);
			if (rc == 0)
				rc = l.rc;
		} else {
			rc = fs_list_keys(&fl, pos, pos_len);
		}
	}
	pthread_mutex_unlock(&d->lock);
	pthread_rwlock_unlock(lk);
	if (rc && fl.used == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, fl.buf, fl.used);
	free(fl.buf);
}

static void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	fs_readdir_any(req, ino, size, off, fi, false);
}

static void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			      off_t off, struct fuse_file_info *fi)
{
	fs_readdir_any(req, ino, size, off, fi, true);
}

static void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			     struct fuse_file_info *fi)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	struct inode *in;
	int i;

	for (i = 0; i < FS_DIR_COOKIES; i++)
		free(d->pos[i]);
	pthread_mutex_destroy(&d->lock);
	free(d);
	inode_lock();
	in = inode_find(ino);
	if (in)
		inode_close(in);
	inode_unlock();
	fuse_reply_err(req, 0);
}

static void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct store_usage u = {0};
	struct statvfs disk, out;
	int rc;

	(void)ino;
	rc = fs->st->ops->usage(fs->st, &u);
	if (rc == 0 && statvfs(fs->store_dir, &disk))
		rc = -errno;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	memset(&out, 0, sizeof(out));
	out.f_bsize = 4096;
	out.f_frsize = 4096;
	out.f_bfree = (fsblkcnt_t)((unsigned __int128)disk.f_bavail *
				   disk.f_frsize / 4096);
	out.f_bavail = out.f_bfree;
	out.f_blocks = out.f_bfree + (u.bytes + 4095) / 4096;
	if (out.f_blocks == 0)
		out.f_blocks = 1;
	out.f_files = u.keys + disk.f_favail + 1;
	out.f_ffree = disk.f_favail;
	out.f_favail = disk.f_favail;
	out.f_namemax = NAME_NAME_MAX;
	fuse_reply_statfs(req, &out);
}

/*
 * Extended attributes.  user.kv.metadata and user.kv.expiration are the
 * key's Workers KV metadata and expiration; user.kv.expiration_ttl is a
 * second view of the expiration in seconds from now, never listed (its
 * value changes every second, so copying tools must not carry it).
 * Other user.* attributes are stored per row.  No handler answers
 * ENOSYS: the kernel would refuse every xattr call for good.
 */
/* Reply with value as getxattr(2) expects it for a buffer of size. */
static void fs_reply_xattr(fuse_req_t req, const char *value, size_t len,
			   size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
}

static void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			   size_t size)
{
	struct fs *fs = fs_of(req);
	struct inode *in = fs_inode(ino);
	int xa = attr_kind(name);
	char key[FS_KEY_BUF], num[32], *buf = NULL;
	enum store_kind kind;
	struct store_attr a;
	size_t len = 0, klen;
	int64_t ns;
	int rc;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (xa == -EINVAL) {
		fuse_reply_err(req, EINVAL); /* "user." alone, as ext4 */
		return;
	}
	rc = fs_may_xattr(req, fs, in, name, PERM_R);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	rc = fs_key_of(in, &ns, key, &klen, &kind);
	if (rc || xa < 0 || (xa != ATTR_OTHER && kind != STORE_KEY)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	switch (xa) {
	case ATTR_KV_META:
		buf = size ? malloc(size) : NULL;
		rc = size && !buf ? -ENOMEM
				  : fs->st->ops->meta_get(fs->st, ns, key, klen,
							  buf, size, &len);
		break;
	case ATTR_KV_EXP:
	case ATTR_KV_TTL:
		rc = fs->st->ops->stat(fs->st, ns, key, klen, kind, &a);
		if (rc == 0 && a.expiration == 0)
			rc = -ENODATA;
		if (rc == 0) {
			int64_t v = a.expiration;

			if (xa == ATTR_KV_TTL)
				v = attr_ttl_left(v, time(NULL));
			len = (size_t)snprintf(num, sizeof(num), "%lld",
					       (long long)v);
		}
		break;
	default:
		buf = size ? malloc(size) : NULL;
		rc = size && !buf
			 ? -ENOMEM
			 : fs->st->ops->xattr_get(fs->st, ns, key, klen, kind,
						  name, buf, size, &len);
	}
	if (rc == -ENOENT)
		rc = -ENODATA; /* an implied directory has no attributes */
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fs_reply_xattr(req, buf ? buf : num, len, size);
	free(buf);
}

/* Collects attribute names for listxattr, NUL after each. */
struct fs_names {
	char *buf;
	size_t len, cap;
	int rc;
};

static int fs_names_add(void *ctx, int64_t unused, const char *name)
{
	struct fs_names *l = ctx;
	size_t n = strlen(name) + 1;
	char *b;

	(void)unused;
	if (l->len + n > l->cap) {
		l->cap = (l->len + n) * 2;
		b = realloc(l->buf, l->cap);
		if (!b) {
			l->rc = -ENOMEM;
			return 1;
		}
		l->buf = b;
	}
	memcpy(l->buf + l->len, name, n);
	l->len += n;
	return 0;
}

static void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs *fs = fs_of(req);
	struct inode *in = fs_inode(ino);
	struct fs_names l = {0};
	char key[FS_KEY_BUF];
	enum store_kind kind;
	struct store_attr a;
	size_t klen, len;
	int64_t ns;
	int rc;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = fs_key_of(in, &ns, key, &klen, &kind);
	if (rc) {
		fs_reply_xattr(req, "", 0, size); /* root and namespaces */
		return;
	}
	if (kind == STORE_KEY) {
		rc =
		    fs->st->ops->meta_get(fs->st, ns, key, klen, NULL, 0, &len);
		if (rc == 0)
			fs_names_add(&l, 0, ATTR_META);
		rc = fs->st->ops->stat(fs->st, ns, key, klen, kind, &a);
		if (rc == 0 && a.expiration)
			fs_names_add(&l, 0, ATTR_EXP);
	}
	rc = fs->st->ops->xattr_list(fs->st, ns, key, klen, kind, fs_names_add,
				     &l);
	if (rc == -ENOENT)
		rc = 0;
	if (rc == 0)
		rc = l.rc;
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fs_reply_xattr(req, l.buf ? l.buf : "", l.len, size);
	free(l.buf);
}

/* Set or clear the expiration through user.kv.expiration(_ttl). */
static int fs_set_expiration(struct fs *fs, int64_t ns, const char *key,
			     size_t klen, int xa, const char *value,
			     size_t size)
{
	int64_t v;
	int rc = attr_expiration(xa, value, size, time(NULL), &v);

	if (rc)
		return rc;
	return fs->st->ops->expire(fs->st, ns, key, klen, v);
}

/* Whether the attribute xa exists, for XATTR_CREATE and _REPLACE. */
static int fs_kv_xattr_exists(struct fs *fs, int64_t ns, const char *key,
			      size_t klen, int xa)
{
	struct store_attr a;
	size_t len;
	int rc;

	if (xa == ATTR_KV_META) {
		rc =
		    fs->st->ops->meta_get(fs->st, ns, key, klen, NULL, 0, &len);
		return rc == 0 ? 1 : rc == -ENODATA ? 0 : rc;
	}
	rc = fs->st->ops->stat(fs->st, ns, key, klen, STORE_KEY, &a);
	return rc ? rc : a.expiration != 0;
}

static int fs_setxattr_in(struct fs *fs, struct inode *in, const char *name,
			  const char *value, size_t size, int flags)
{
	int xa = attr_kind(name), rc, has;
	char key[FS_KEY_BUF];
	enum store_kind kind;
	size_t klen;
	int64_t ns;

	if (xa < 0)
		return xa;
	rc = fs_key_of(in, &ns, key, &klen, &kind);
	if (rc || (xa != ATTR_OTHER && kind != STORE_KEY))
		return -EPERM;
	if (xa != ATTR_OTHER && (flags & (XATTR_CREATE | XATTR_REPLACE))) {
		has = fs_kv_xattr_exists(fs, ns, key, klen, xa);
		if (has < 0)
			return has;
		if (has && (flags & XATTR_CREATE))
			return -EEXIST;
		if (!has && (flags & XATTR_REPLACE))
			return -ENODATA;
	}
	switch (xa) {
	case ATTR_KV_META:
		return fs->st->ops->meta_set(fs->st, ns, key, klen, value,
					     size);
	case ATTR_KV_EXP:
	case ATTR_KV_TTL:
		return fs_set_expiration(fs, ns, key, klen, xa, value, size);
	}
	if (kind == STORE_DIR) {
		rc = fs_dir_row(fs, ns, key, klen);
		if (rc)
			return rc;
	}
	return fs->st->ops->xattr_set(
	    fs->st, ns, key, klen, kind, name, value, size,
	    (flags & XATTR_CREATE ? STORE_XATTR_CREATE : 0) |
		(flags & XATTR_REPLACE ? STORE_XATTR_REPLACE : 0));
}

static void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			   const char *value, size_t size, int flags)
{
	struct fs *fs = fs_of(req);
	struct inode *in = fs_inode(ino);
	int rc;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = in->type == INODE_ROOT ? -EPERM : fs_writable(fs, in->ns);
	if (rc == 0) {
		pthread_rwlock_t *lk = fs_lock_of(fs, in->ns);
		pthread_rwlock_wrlock(lk);
		rc = fs_may_xattr(req, fs, in, name, PERM_W);
		if (rc == 0)
			rc = fs_setxattr_in(fs, in, name, value, size, flags);
		fs_dirs_changed(fs); /* ctime */
		pthread_rwlock_unlock(lk);
	}
	fuse_reply_err(req, rc == -ENOENT ? ESTALE : -rc);
}

static void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs *fs = fs_of(req);
	struct inode *in = fs_inode(ino);
	int xa = attr_kind(name), rc, has;
	char key[FS_KEY_BUF];
	enum store_kind kind;
	size_t klen;
	int64_t ns;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = fs_may_xattr(req, fs, in, name, PERM_W);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	rc = fs_key_of(in, &ns, key, &klen, &kind);
	if (rc || xa < 0 || (xa != ATTR_OTHER && kind != STORE_KEY)) {
		fuse_reply_err(req, rc || xa >= 0 ? ENODATA : -xa);
		return;
	}
	rc = fs_writable(fs, ns);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	pthread_rwlock_t *lk = fs_lock_of(fs, in->ns);
	pthread_rwlock_wrlock(lk);
	if (xa == ATTR_OTHER) {
		rc = fs->st->ops->xattr_remove(fs->st, ns, key, klen, kind,
					       name);
	} else {
		has = fs_kv_xattr_exists(fs, ns, key, klen, xa);
		rc = has < 0 ? has : has == 0 ? -ENODATA : 0;
		if (rc == 0 && xa == ATTR_KV_META)
			rc = fs->st->ops->meta_set(fs->st, ns, key, klen, NULL,
						   0);
		else if (rc == 0)
			rc = fs->st->ops->expire(fs->st, ns, key, klen, 0);
	}
	fs_dirs_changed(fs); /* ctime */
	pthread_rwlock_unlock(lk);
	fuse_reply_err(req, rc == -ENOENT ? ENODATA : -rc);
}

/* --- the sweep of expired keys -------------------------------------- */

#define FS_SWEEP_BATCH 500

struct fs_sweeper {
	struct fs *fs;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool is_stopping; /* lock */
};

/*
 * Every sweep_sec seconds, delete expired keys in batches, each its own
 * short transaction, so that other requests wait for one batch at most.
 * Expired keys are already invisible; the sweep only frees their space.
 */
static void *fs_sweep_main(void *arg)
{
	struct fs_sweeper *sw = arg;
	struct timespec until;
	int removed, total, rc;

	pthread_mutex_lock(&sw->lock);
	while (!sw->is_stopping) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += sw->fs->cfg->sweep_sec;
		while (!sw->is_stopping &&
		       pthread_cond_timedwait(&sw->wake, &sw->lock, &until) !=
			   ETIMEDOUT)
			;
		if (sw->is_stopping)
			break;
		pthread_mutex_unlock(&sw->lock);
		total = 0;
		do {
			rc = sw->fs->st->ops->sweep(sw->fs->st, FS_SWEEP_BATCH,
						    &removed);
			total += removed;
		} while (rc == 0 && removed == FS_SWEEP_BATCH);
		if (rc)
			log_warn("sweep: %s", strerror(-rc));
		if (total)
			log_info("sweep removed %d expired keys", total);
		pthread_mutex_lock(&sw->lock);
	}
	pthread_mutex_unlock(&sw->lock);
	return NULL;
}

static int fs_sweep_start(struct fs_sweeper *sw, struct fs *fs)
{
	sw->fs = fs;
	sw->is_stopping = false;
	pthread_mutex_init(&sw->lock, NULL);
	pthread_cond_init(&sw->wake, NULL);
	return -pthread_create(&sw->thread, NULL, fs_sweep_main, sw);
}

static void fs_sweep_stop(struct fs_sweeper *sw)
{
	pthread_mutex_lock(&sw->lock);
	sw->is_stopping = true;
	pthread_cond_signal(&sw->wake);
	pthread_mutex_unlock(&sw->lock);
	pthread_join(sw->thread, NULL);
	pthread_cond_destroy(&sw->wake);
	pthread_mutex_destroy(&sw->lock);
}

static const struct fuse_lowlevel_ops fs_ops = {
    .init = fs_op_init,
    .destroy = fs_op_destroy,
    .lookup = fs_op_lookup,
    .access = fs_op_access,
    .forget = fs_op_forget,
    .forget_multi = fs_op_forget_multi,
    .getattr = fs_op_getattr,
    .setattr = fs_op_setattr,
    .readlink = fs_op_readlink,
    .mknod = fs_op_mknod,
    .mkdir = fs_op_mkdir,
    .unlink = fs_op_unlink,
    .rmdir = fs_op_rmdir,
    .symlink = fs_op_symlink,
    .rename = fs_op_rename,
    .link = fs_op_link,
    .open = fs_op_open,
    .read = fs_op_read,
    .write = fs_op_write,
    .flush = fs_op_flush,
    .release = fs_op_release,
    .fsync = fs_op_fsync,
    .opendir = fs_op_opendir,
    .readdir = fs_op_readdir,
    .readdirplus = fs_op_readdirplus,
    .releasedir = fs_op_releasedir,
    .statfs = fs_op_statfs,
    .setxattr = fs_op_setxattr,
    .getxattr = fs_op_getxattr,
    .listxattr = fs_op_listxattr,
    .removexattr = fs_op_removexattr,
    .create = fs_op_create,
};

/* --- start-up ----------------------------------------------------- */

/* Make sure every namespace of the config exists in the store. */
static int fs_create_namespaces(struct fs *fs)
{
	int64_t ns;
	int i, rc;

	fs->ro_ns = calloc((size_t)fs->cfg->ns_count + 1, sizeof(*fs->ro_ns));
	if (!fs->ro_ns)
		return -ENOMEM;
	for (i = 0; i < fs->cfg->ns_count; i++) {
		rc = fs->st->ops->ns_find(fs->st, fs->cfg->ns[i].name, &ns);
		if (rc == -ENOENT)
			rc = fs->st->ops->ns_create(fs->st, fs->cfg->ns[i].name,
						    &ns);
		if (rc && rc != -EEXIST)
			return rc;
		if (fs->cfg->ns[i].is_read_only)
			fs->ro_ns[fs->ro_count++] = ns;
	}
	return 0;
}

static int fs_open_store(struct fs *fs)
{
	char err[512], *slash;
	struct store *st;
	int rc;

	rc = store_open(fs->cfg, &st, err, sizeof(err));
	if (rc) {
		log_error("%s", err);
		return rc;
	}
	rc = store_pending_wrap(st, fs->cfg->store_path, &fs->st);
	if (rc) {
		st->ops->close(st);
		return rc;
	}
	fs->store_dir = strdup(fs->cfg->store_path);
	if (!fs->store_dir)
		return -ENOMEM;
	slash = strrchr(fs->store_dir, '/');
	if (slash && slash != fs->store_dir)
		*slash = '\0';
	else if (slash)
		slash[1] = '\0';
	rc = fs_create_namespaces(fs);
	if (rc)
		log_error("%s: cannot create namespaces: %s",
			  fs->cfg->store_path, strerror(-rc));
	return rc;
}

static int fs_session_args(const struct fs_mount *m, struct fuse_args *args)
{
	char opts[4096];

	/* Who checks permissions: see fs_may. */
	snprintf(opts, sizeof(opts), "subtype=kvfs,fsname=%s%s%s%s",
		 m->cfg->file ? m->cfg->file : "kvfs",
		 m->is_allow_other ? ",default_permissions" : "",
		 m->fuse_opts && *m->fuse_opts ? "," : "",
		 m->fuse_opts ? m->fuse_opts : "");
	if (fuse_opt_add_arg(args, "kvfs") || fuse_opt_add_arg(args, "-o") ||
	    fuse_opt_add_arg(args, opts))
		return -ENOMEM;
	if (m->is_debug && fuse_opt_add_arg(args, "-d"))
		return -ENOMEM;
	return 0;
}

int fs_main(const struct fs_mount *m)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *loop;
	struct fs fs = {.cfg = m->cfg,
			.mountpoint = m->mountpoint,
			.is_checking = !m->is_allow_other || m->is_fd};
	pthread_rwlockattr_t lock_attr;
	struct fs_sweeper sweeper;
	int i, rc, status = 1;

	fs.start_ns = fs_now_ns();
	pthread_rwlockattr_init(&lock_attr);
	/* Writers first: a stream of lookups must not starve a put. */
	pthread_rwlockattr_setkind_np(
	    &lock_attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fs.change_lock, &lock_attr);
	for (i = 0; i < FS_REMOTE_LOCKS; i++)
		pthread_rwlock_init(&fs.remote_locks[i], &lock_attr);
	pthread_rwlockattr_destroy(&lock_attr);
	if (inode_table_init() || !inode_get(INODE_ROOT, 0, false, "", 0)) {
		log_error("out of memory");
		return 1;
	}
	if (fs_session_args(m, &args))
		goto free_args;
	fs.se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &fs);
	if (!fs.se) {
		status = 2; /* libfuse refused an option (and said which) */
		goto free_args;
	}
	if (fuse_set_signal_handlers(fs.se))
		goto destroy_session;
	if (fuse_session_mount(fs.se, m->mountpoint)) {
		log_error("%s: cannot mount", m->mountpoint);
		goto remove_handlers;
	}
	if (fuse_daemonize(m->is_foreground))
		goto unmount;
	if (!m->is_foreground)
		log_use_syslog();
	/* SQLite connections must not cross fork(): open after detaching. */
	if (fs_open_store(&fs))
		goto unmount;
	file_set_spill_dir(fs.st->spill_dir);
	log_info("mounted %s on %s (store %s, namespaces in config: %d)",
		 m->cfg->file ? m->cfg->file : "the default config",
		 m->mountpoint, m->cfg->store_path, m->cfg->ns_count);

	rc = fs_sweep_start(&sweeper, &fs);
	if (rc) {
		log_error("cannot start the sweep: %s", strerror(-rc));
		goto close_store;
	}
	loop = fuse_loop_cfg_create();
	if (!loop)
		goto stop_sweep;
	rc = notify_systemd("READY=1");
	if (rc)
		log_warn("cannot notify systemd: %s", strerror(-rc));
	fuse_loop_cfg_set_clone_fd(loop, 0);
	fuse_loop_cfg_set_max_threads(loop, 16);
	fuse_loop_cfg_set_idle_threads(loop, 4);
	rc = fuse_session_loop_mt(fs.se, loop);
	fuse_loop_cfg_destroy(loop);
	status = rc < 0 ? 1 : 0;
	log_info("unmounting %s", m->mountpoint);
	notify_systemd("STOPPING=1");
stop_sweep:
	fs_sweep_stop(&sweeper);
close_store:
	fuse_session_unmount(fs.se);
	fs.st->ops->close(fs.st);
	free(fs.store_dir);
	free(fs.ro_ns);
	goto remove_handlers;
unmount:
	fuse_session_unmount(fs.se);
remove_handlers:
	fuse_remove_signal_handlers(fs.se);
destroy_session:
	fuse_session_destroy(fs.se);
free_args:
	fuse_opt_free_args(&args);
	inode_table_free();
	return status;
}
