/*
 * file: the open-file buffer.  Memory first, an unlinked temporary file
 * once the content passes FILE_MEM_MAX.  Knows nothing of the store or
 * of FUSE.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "store.h"

static const char *file_spill_dir;

void file_set_spill_dir(const char *dir)
{
	file_spill_dir = dir;
}

struct file *file_new(struct inode *in, bool is_writable, bool is_append)
{
	struct file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->in = in;
	f->refs = 1;
	f->is_writable = is_writable;
	f->is_append_only = is_append;
	f->fd = -1;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

void file_clear(struct file *f)
{
	free(f->mem);
	f->mem = NULL;
	f->mem_cap = 0;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->is_fd_shared = false;
	f->size = 0;
	f->is_loaded = false;
}

void file_free(struct file *f)
{
	if (!f)
		return;
	file_clear(f);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* A new unlinked temporary file, or a negative errno. */
static int file_tmp(void)
{
	const char *dir = file_spill_dir;
	int fd;

	if (!dir)
		dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		int err = errno;

		log_warn("cannot make a temporary file in %s: %s", dir,
			 strerror(err));
		return err == ENOSPC || err == EDQUOT ? -ENOSPC : -EIO;
	}
	return fd;
}

/*
 * Before the content changes, give a file whose fd is a stored value a
 * private copy (copy_file_range: the kernel copies, or shares blocks).
 */
static int file_own(struct file *f)
{
	uint64_t off = 0;
	ssize_t n;
	int fd;

	if (f->fd < 0 || !f->is_fd_shared)
		return 0;
	fd = file_tmp();
	if (fd < 0)
		return fd;
	while (off < f->size) {
		loff_t in = (loff_t)off, out = (loff_t)off;

		n = copy_file_range(f->fd, &in, fd, &out, f->size - off, 0);
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			close(fd);
			return err == ENOSPC || err == EDQUOT ? -ENOSPC : -EIO;
		}
		off += (uint64_t)n;
	}
	close(f->fd);
	f->fd = fd;
	f->is_fd_shared = false;
	return 0;
}

void file_adopt_fd(struct file *f, int fd, uint64_t size)
{
	file_clear(f);
	f->fd = fd;
	f->is_fd_shared = true;
	f->size = size;
}

/* Move the content from memory into an unlinked temporary file. */
static int file_spill(struct file *f)
{
	ssize_t n;
	int fd = file_tmp();

	if (fd < 0)
		return fd;
	n = f->size ? pwrite(fd, f->mem, f->size, 0) : 0;
	if (n < 0 || (uint64_t)n != f->size) {
		int err = n < 0 ? errno : ENOSPC;

		close(fd);
		return err == ENOSPC ? -ENOSPC : -EIO;
	}
	free(f->mem);
	f->mem = NULL;
	f->mem_cap = 0;
	f->fd = fd;
	return 0;
}

/* Make room for content up to end bytes, spilling if it grows large. */
static int file_reserve(struct file *f, uint64_t end)
{
	size_t cap;
	char *m;

	if (end > STORE_VALUE_MAX)
		return -EFBIG;
	if (f->fd >= 0 || end <= f->mem_cap)
		return 0;
	if (end > FILE_MEM_MAX)
		return file_spill(f);
	cap = f->mem_cap ? f->mem_cap : 4096;
	while (cap < end)
		cap *= 2;
	m = realloc(f->mem, cap);
	if (!m)
		return -ENOMEM;
	f->mem = m;
	f->mem_cap = cap;
	return 0;
}

/* Write at off without touching the size bookkeeping. */
static int file_pwrite(struct file *f, uint64_t off, const void *buf,
		       size_t len)
{
	ssize_t n;

	if (f->fd < 0) {
		memcpy(f->mem + off, buf, len);
		return 0;
	}
	while (len > 0) {
		n = pwrite(f->fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 && errno != ENOSPC ? -EIO : -ENOSPC;
		buf = (const char *)buf + n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Zero the content between size and end, which is past the size. */
static int file_zero_fill(struct file *f, uint64_t end)
{
	if (end <= f->size)
		return 0;
	if (f->fd < 0) {
		memset(f->mem + f->size, 0, end - f->size);
		return 0;
	}
	return ftruncate(f->fd, (off_t)end) ? -EIO : 0;
}

int file_write(struct file *f, uint64_t off, const void *buf, size_t len)
{
	uint64_t end = off + len;
	int rc;

	if (off > STORE_VALUE_MAX || end > STORE_VALUE_MAX ||
	    (f->is_append_only && f->append_base + end > STORE_VALUE_MAX)) {
		f->is_too_big = true;
		return -EFBIG;
	}
	rc = file_own(f);
	if (rc == 0)
		rc = file_reserve(f, end);
	if (rc == 0 && off > f->size)
		rc = file_zero_fill(f, off);
	if (rc == 0)
		rc = file_pwrite(f, off, buf, len);
	if (rc == -ENOSPC)
		f->is_out_of_space = true;
	if (rc)
		return rc;
	if (end > f->size)
		f->size = end;
	f->is_dirty = true;
	return 0;
}

int file_sink(void *ctx, const void *buf, size_t len)
{
	struct file *f = ctx;
	bool was_dirty = f->is_dirty;
	int rc = file_write(f, f->size, buf, len);

	f->is_dirty = was_dirty;
	return rc;
}

int file_truncate(struct file *f, uint64_t size)
{
	int rc;

	if (size > STORE_VALUE_MAX)
		return -EFBIG;
	rc = file_own(f);
	if (rc)
		return rc;
	if (size > f->size) {
		rc = file_reserve(f, size);
		if (rc == 0)
			rc = file_zero_fill(f, size);
		if (rc)
			return rc;
	} else if (f->fd >= 0 && ftruncate(f->fd, (off_t)size)) {
		return -EIO;
	}
	f->size = size;
	f->is_dirty = true;
	return 0;
}

int file_read(struct file *f, uint64_t off, void *buf, size_t len, size_t *n)
{
	ssize_t got;
	size_t done = 0;

	*n = 0;
	if (off >= f->size)
		return 0;
	if (len > f->size - off)
		len = (size_t)(f->size - off);
	if (f->fd < 0) {
		memcpy(buf, f->mem + off, len);
		*n = len;
		return 0;
	}
	while (done < len) {
		got = pread(f->fd, (char *)buf + done, len - done,
			    (off_t)(off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -EIO;
		done += (size_t)got;
	}
	*n = done;
	return 0;
}

int file_put_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	size_t n;
	int rc = file_read(ctx, off, buf, len, &n);

	return rc ? rc : n == len ? 0 : -EIO;
}
