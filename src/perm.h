/*
 * perm: the permission rules kvfs applies itself when the kernel does
 * not (a mount without -o allow_other; see fs.c, "Who checks
 * permissions").  Pure functions of a caller and a file's mode and
 * owners, as Linux's generic_permission and the VFS's owner checks
 * decide them; no state, no I/O, safe from any thread.
 *
 * A caller with uid 0 is taken to hold CAP_DAC_OVERRIDE, CAP_FOWNER and
 * CAP_CHOWN, as root does unless it dropped them: kvfs cannot see a
 * request's capabilities, only its uid.
 */
#ifndef KVFS_PERM_H
#define KVFS_PERM_H

#include <stdbool.h>
#include <sys/types.h>

/* What a caller wants of a file: the rwx bits of one class. */
#define PERM_R 4
#define PERM_W 2
#define PERM_X 1

struct perm_caller {
	uid_t uid;
	gid_t gid;
	/*
	 * Supplementary groups, or NULL while not known: asking the kernel
	 * for them costs a read of /proc, so perm_may asks for them only
	 * when they decide the answer.
	 */
	const gid_t *groups;
	int ngroups;
};

/*
 * May c have want (PERM_* bits) on a file of mode (type bits included)
 * owned by uid:gid?  0 yes, -EACCES no, -EAGAIN when c->groups is NULL
 * and whether c is in gid decides: ask again with the groups.
 */
int perm_may(const struct perm_caller *c, mode_t mode, uid_t uid, gid_t gid,
	     int want);

/* 1 if c is in group gid, 0 if not, -1 if only c->groups can say. */
int perm_in_group(const struct perm_caller *c, gid_t gid);

/* True if c may change what the owner alone may (chmod, utimes to a
 * given time): c owns uid's file or is root. */
bool perm_is_owner(const struct perm_caller *c, uid_t uid);

/*
 * May c delete or rename away a file owned by file_uid from a directory
 * of dir_mode owned by dir_uid, as far as the sticky bit goes?  0 or
 * -EPERM.  (Write and search on the directory are perm_may's.)
 */
int perm_sticky(const struct perm_caller *c, mode_t dir_mode, uid_t dir_uid,
		uid_t file_uid);

/*
 * May c change a file owned by uid:gid to new_uid:new_gid ((uid_t)-1
 * and (gid_t)-1: unchanged)?  Root may; the owner may keep its uid and
 * set a group it is in.  0, -EPERM, or -EAGAIN as perm_may.
 */
int perm_chown(const struct perm_caller *c, uid_t uid, gid_t gid, uid_t new_uid,
	       gid_t new_gid);

#endif
