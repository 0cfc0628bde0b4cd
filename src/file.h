/*
 * file: the content of one open file, the open-file buffer.
 *
 * Design note: the lifecycle.  A file is made at open.  Its content is
 * the key's value, copied lazily: a reader gets it at open when the
 * value is small, else at its first read; a writer at its first
 * operation that needs the old bytes; O_TRUNC starts empty, and an
 * O_APPEND writer collects only the bytes it appends.  Writes change the
 * content only; flush (close), fsync and release store it with one put
 * and clear is_dirty; an append-only file then forgets its pending
 * bytes.  Content lives in memory up to FILE_MEM_MAX bytes and in an
 * unlinked temporary file beyond, so memory stays bounded with many
 * large files open.  A write that would take the content past the
 * value limit fails with -EFBIG and marks the file so that nothing is
 * stored at close.
 *
 * Threads: lock guards every field but in and next; fs.c takes it
 * around every call here.
 */
#ifndef KVFS_FILE_H
#define KVFS_FILE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FILE_MEM_MAX (1024 * 1024) /* bytes held in memory per file */

struct inode;

struct file {
	struct inode *in;      /* the inode, kept alive by open_count */
	struct file *next;     /* inode lock; the inode's list of files */
	int refs;	       /* inode lock; 1 while open, +1 per borrower */
	uint64_t version;      /* inode lock; store version of what a reader
				  holds, 0: nothing yet */
	bool is_pending;       /* inode lock; holds changes not stored */
	uint64_t pending_size; /* inode lock; the size it will store */
	bool is_shared_write;  /* inode lock; another file wrote the
				  same inode while this one was open */
	bool is_quiet;	       /* inode lock; flushed (closed) since its
				  last write: no write of it in flight */
	pthread_mutex_t lock;
	bool is_writable;      /* opened for writing */
	bool is_loaded;	       /* content holds the whole value */
	bool is_append_only;   /* O_APPEND, nothing but appends so far */
	bool is_dirty;	       /* content differs from what was stored */
	bool is_too_big;       /* a write crossed the value limit */
	bool is_out_of_space;  /* a write found the temporary space full:
				  the content has a hole, nothing is stored */
	bool is_created;       /* this open created the key */
	bool is_unstored;      /* ... without storing it: its first store
				  puts it, empty if nothing else did */
	bool is_written;       /* written or truncated since open (an
				  O_TRUNC alone waits for release) */
	bool is_failed;	       /* its last store failed, and said so: a
				  flush or fsync tries again, the release
				  does not */
	uint64_t size;	       /* bytes of content */
	uint64_t append_base;  /* value size at open, for append-only files */
	uint64_t open_version; /* a reader not loaded at open: the version
				  the kernel's size came from, 0: any */
	uint64_t open_size;    /* the value's size at open */
	char *mem;	       /* content while in memory */
	size_t mem_cap;	       /* bytes allocated at mem */
	int fd;		       /* content after spilling, else -1 */
	bool is_fd_shared;     /* fd is also a stored value (a put kept
				  it, or it came from open_value): copied
				  before any change */
};

/*
 * Where content goes past FILE_MEM_MAX: dir (kept, not copied), or
 * $TMPDIR, else /tmp, when dir is NULL.  Set once before any file.
 */
void file_set_spill_dir(const char *dir);

/* A new, empty, unloaded file.  NULL on allocation failure. */
struct file *file_new(struct inode *in, bool is_writable, bool is_append);
void file_free(struct file *f);

/* Drop the content: the file is empty and unloaded again. */
void file_clear(struct file *f);

/* Append len bytes at the end (loading a value); a store_sink_fn. */
int file_sink(void *f, const void *buf, size_t len);

/* Copy up to len bytes at off into buf; *n gets the count (0 at EOF). */
int file_read(struct file *f, uint64_t off, void *buf, size_t len, size_t *n);

/* Write len bytes at off.  -EFBIG past the value limit, -ENOSPC. */
int file_write(struct file *f, uint64_t off, const void *buf, size_t len);

/* Set the size, zero-filling when it grows.  -EFBIG past the limit. */
int file_truncate(struct file *f, uint64_t size);

/* Take fd (size bytes, read-only, shared) as the whole content. */
void file_adopt_fd(struct file *f, int fd, uint64_t size);

/* Fill buf with len bytes of content at off; a store_put reader. */
int file_put_read(void *f, uint64_t off, void *buf, size_t len);

#endif
