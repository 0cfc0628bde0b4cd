/*
 * fs: the FUSE file system, libfuse's low-level API.  The only module
 * that includes fuse headers.
 */
#ifndef KVFS_FS_H
#define KVFS_FS_H

#include <stdbool.h>

#include "config.h"

/*
 * The status file at the mount root: read-only, never listed, a name no
 * namespace may take.  `kvfs status MOUNTPOINT` prints it.
 */
#define FS_STATUS_NAME "^status"

struct fs_mount {
	const struct config *cfg;
	const char *mountpoint;
	const char *fuse_opts; /* -o options for libfuse, or NULL */
	bool is_foreground;
	bool is_debug; /* libfuse's own request trace */
	/* -o allow_other: the kernel checks permissions, else kvfs does */
	bool is_allow_other;
	/*
	 * A /dev/fd/N descriptor kvfs's parent mounted, with options kvfs
	 * cannot see: kvfs checks permissions itself, allow_other or not.
	 */
	bool is_fd;
};

/*
 * Mount, detach unless in the foreground, serve requests until
 * unmounted or signalled, then unmount.  The store is opened after
 * detaching.  Returns the process exit status.
 */
int fs_main(const struct fs_mount *m);

#endif
