/*
 * inode: the table of inodes the kernel knows about.
 *
 * Each inode stands for the mount root, a namespace, a directory
 * (a key prefix ending in '/') or a key.  Inode numbers come from a
 * counter and are never reused while the daemon runs, so a number the
 * kernel still holds always means the same thing.  An inode lives while
 * the kernel holds a lookup on it (nlookup) or a file is open on it
 * (open_count); while it lives, a lookup of the same name returns it.
 *
 * When its key is deleted or replaced, the inode is "unlinked": it
 * leaves the name map (a later lookup of the name makes a new inode)
 * but stays in the number map until the kernel forgets it, so open
 * files keep working on it.
 *
 * Threads: every function takes the table's lock itself, except where
 * it says the caller holds it (inode_lock/inode_unlock).  Fields marked
 * "lock" may be read or written only under that lock.
 */
#ifndef KVFS_INODE_H
#define KVFS_INODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

enum inode_type {
	INODE_ROOT,
	INODE_NS,
	INODE_DIR,
	INODE_KEY,
	INODE_STATUS /* the mount's read-only status file */
};

struct file;

struct inode {
	uint64_t ino;
	enum inode_type type;
	int64_t ns;		  /* namespace id; 0 for the root */
	bool is_flat;		  /* namespace uses the flat layout */
	char *key;		  /* lock; INODE_DIR: prefix with '/', NS: "" */
	size_t key_len;		  /* lock */
	uint64_t nlookup;	  /* lock; lookups the kernel holds */
	int open_count;		  /* lock; open files and directories */
	bool is_unlinked;	  /* lock; key deleted or replaced */
	uint64_t kernel_version;  /* lock; value version the kernel caches */
	uint64_t attr_version;	  /* lock; the version of the attributes
				     the kernel has, 0: unsure */
	bool is_attr_sent;	  /* lock; the kernel was sent attributes */
	struct file *inval_by;	  /* lock; an open whose reply dropped the
				     kernel's pages, until its first request */
	struct file *files;	  /* lock; open files, linked by next */
	struct file *writer;	  /* lock; the file that last changed the
				     content and has not stored it, or NULL */
	uint64_t writer_size;	  /* lock; that file's size */
	uint64_t kernel_size;	  /* lock; the size the kernel has, as far
				     as kvfs can tell (fs_writer_size) */
	uint64_t stored_version;  /* lock; the version this mount stored
				     last */
	int64_t pending_mtime_ns; /* lock; mtime set while a writer had
				     changes not yet stored, 0: none */
	struct store_attr dir_attr; /* lock; a directory's own row, */
	bool dir_has_row;	    /* lock; or none (an implied namespace
				       top), as read at dir_attr_ns, */
	int64_t dir_attr_ns;	    /* lock; 0: not kept, */
	uint64_t dir_attr_gen;	    /* lock; and fs's dir_gen then */
	int64_t emptied_ns;	    /* lock; when this mount last removed a
				       name in this directory */
	struct inode *ino_next;	    /* lock; number map chain */
	struct inode *name_next;    /* lock; name map chain */
};

#define INODE_ROOT_INO 1

int inode_table_init(void);
void inode_table_free(void);

void inode_lock(void);
void inode_unlock(void);

/* The inode with number ino, or NULL.  Caller holds the lock. */
struct inode *inode_find(uint64_t ino);

/*
 * The live inode for (type, ns, key), created if missing, with nlookup
 * raised by one.  Returns NULL on allocation failure.  Takes the lock.
 */
struct inode *inode_get(enum inode_type type, int64_t ns, bool is_flat,
			const char *key, size_t key_len);

/*
 * The live inode for (type, ns, key), or NULL.  Caller holds the lock.
 */
struct inode *inode_by_name(enum inode_type type, int64_t ns, const char *key,
			    size_t key_len);

/* Drop n lookups; frees the inode when nothing holds it.  Takes the lock. */
void inode_forget(uint64_t ino, uint64_t n);

/* Open and close bookkeeping.  Caller holds the lock. */
void inode_open(struct inode *in);
void inode_close(struct inode *in); /* may free in */

/*
 * Mark the live inode of (type, ns, key) unlinked, if there is one, and
 * return it (or NULL).  Caller holds the lock.
 */
struct inode *inode_unlink(enum inode_type type, int64_t ns, const char *key,
			   size_t key_len);

/*
 * Give inodes their new names after a rename: the key inode (type
 * INODE_KEY) or every inode under a directory prefix (type INODE_DIR)
 * moves from (from_ns, from) to (to_ns, to).  Returns 0 or -ENOMEM.
 * Caller holds the lock.
 */
int inode_rename(enum inode_type type, int64_t from_ns, const char *from,
		 size_t from_len, int64_t to_ns, const char *to, size_t to_len);

/* Every inode with open files, for shutdown.  Caller holds the lock. */
void inode_each_open(void (*fn)(struct inode *in, void *ctx), void *ctx);

#endif
