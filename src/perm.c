/* perm: permission rules.  See perm.h. */
#include "perm.h"

#include <errno.h>
#include <sys/stat.h>

int perm_in_group(const struct perm_caller *c, gid_t gid)
{
	int i;

	if (c->gid == gid)
		return 1;
	if (!c->groups)
		return -1;
	for (i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return 1;
	return 0;
}

int perm_may(const struct perm_caller *c, mode_t mode, uid_t uid, gid_t gid,
	     int want)
{
	int bits, in_group;

	want &= PERM_R | PERM_W | PERM_X;
	if (c->uid == 0) {
		/* Root may search any directory, but run only a file that
		 * someone may run. */
		if ((want & PERM_X) && !S_ISDIR(mode) && !(mode & 0111))
			return -EACCES;
		return 0;
	}
	if (c->uid == uid) {
		bits = (int)(mode >> 6) & 7;
	} else {
		in_group = perm_in_group(c, gid);
		if (in_group < 0) {
			/* The group's bits and the others' agree: no need
			 * to know which class c is in. */
			if ((((mode >> 3) & 7) & want) != ((mode & 7) & want))
				return -EAGAIN;
			in_group = 0;
		}
		bits = (int)(in_group ? mode >> 3 : mode) & 7;
	}
	return (bits & want) == want ? 0 : -EACCES;
}

bool perm_is_owner(const struct perm_caller *c, uid_t uid)
{
	return c->uid == 0 || c->uid == uid;
}

int perm_sticky(const struct perm_caller *c, mode_t dir_mode, uid_t dir_uid,
		uid_t file_uid)
{
	if (!(dir_mode & S_ISVTX) || c->uid == 0 || c->uid == file_uid ||
	    c->uid == dir_uid)
		return 0;
	return -EPERM;
}

int perm_chown(const struct perm_caller *c, uid_t uid, gid_t gid, uid_t new_uid,
	       gid_t new_gid)
{
	int in_group;

	if (c->uid == 0)
		return 0;
	if (new_uid != (uid_t)-1 && new_uid != uid)
		return -EPERM; /* only root gives a file away */
	if (new_gid == (gid_t)-1 || new_gid == gid)
		return c->uid == uid ? 0 : -EPERM;
	if (c->uid != uid)
		return -EPERM;
	in_group = perm_in_group(c, new_gid);
	if (in_group < 0)
		return -EAGAIN;
	return in_group ? 0 : -EPERM;
}
