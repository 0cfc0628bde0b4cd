/*
 * test_perm: the permission rules kvfs applies when it checks requests
 * itself (perm.h).  Exact cases for each rule, and, when run as root,
 * agreement with the kernel: every mode from 0000 to 0777 on files and
 * directories owned by the caller, by a group it is in and by others,
 * asked for every combination of r, w and x through faccessat(2) by a
 * process of uid 65534 with the supplementary group 100, and by root.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perm.h"

#include "check.h"

#define NOBODY 65534
#define GROUP  100 /* a supplementary group of the unprivileged caller */

static void test_rules(void)
{
	const gid_t in100[] = {GROUP};
	struct perm_caller me = {.uid = 1000, .gid = 1000};
	struct perm_caller root = {.uid = 0, .gid = 0};
	struct perm_caller member = {
	    .uid = 1000, .gid = 1000, .groups = in100, .ngroups = 1};

	CHECK(perm_may(&me, S_IFREG | 0600, 1000, 1000, PERM_R | PERM_W) == 0,
	      "the owner's rw- allows read and write");
	CHECK(perm_may(&me, S_IFREG | 0400, 1000, 1000, PERM_W) == -EACCES,
	      "the owner's r-- refuses write");
	CHECK(perm_may(&me, S_IFREG | 0077, 1000, 1000, PERM_R) == -EACCES,
	      "the owner is judged by the owner's bits alone");
	CHECK(perm_may(&me, S_IFREG | 0640, 2000, 1000, PERM_R) == 0,
	      "the caller's own gid is the file's group: group bits");
	CHECK(perm_may(&me, S_IFREG | 0640, 2000, GROUP, PERM_R) == -EAGAIN,
	      "groups unknown and group r != other r: ask with the groups");
	CHECK(perm_may(&member, S_IFREG | 0640, 2000, GROUP, PERM_R) == 0,
	      "with the groups: a member reads through the group's bits");
	CHECK(perm_may(&member, S_IFREG | 0604, 2000, GROUP, PERM_R) == -EACCES,
	      "a member is judged by the group's bits alone");
	CHECK(perm_may(&me, S_IFREG | 0644, 2000, GROUP, PERM_R) == 0,
	      "group and other agree: no need for the groups");
	CHECK(perm_may(&me, S_IFREG | 0640, 2000, GROUP, PERM_W) == -EACCES,
	      "group and other agree on w: refused without the groups");
	CHECK(perm_may(&root, S_IFREG | 0000, 2000, 2000, PERM_R | PERM_W) == 0,
	      "root reads and writes a 000 file");
	CHECK(perm_may(&root, S_IFREG | 0000, 2000, 2000, PERM_X) == -EACCES,
	      "root runs no file without an x bit");
	CHECK(perm_may(&root, S_IFREG | 0001, 2000, 2000, PERM_X) == 0,
	      "root runs a file that anyone may run");
	CHECK(perm_may(&root, S_IFDIR | 0000, 2000, 2000, PERM_X) == 0,
	      "root searches a 000 directory");

	CHECK(perm_is_owner(&me, 1000) && !perm_is_owner(&me, 2000) &&
		  perm_is_owner(&root, 2000),
	      "owner: the file's uid, or root");

	CHECK(perm_sticky(&me, S_IFDIR | 0777, 2000, 3000) == 0,
	      "no sticky bit: anyone with write may delete");
	CHECK(perm_sticky(&me, S_IFDIR | 01777, 2000, 3000) == -EPERM,
	      "sticky: not the file's owner nor the directory's: EPERM");
	CHECK(perm_sticky(&me, S_IFDIR | 01777, 2000, 1000) == 0,
	      "sticky: the file's owner may");
	CHECK(perm_sticky(&me, S_IFDIR | 01777, 1000, 3000) == 0,
	      "sticky: the directory's owner may");
	CHECK(perm_sticky(&root, S_IFDIR | 01777, 2000, 3000) == 0,
	      "sticky: root may");

	CHECK(perm_chown(&root, 1000, 1000, 0, 0) == 0, "root gives away");
	CHECK(perm_chown(&me, 1000, 1000, 2000, (gid_t)-1) == -EPERM,
	      "the owner cannot give a file away");
	CHECK(perm_chown(&me, 1000, 1000, 1000, (gid_t)-1) == 0,
	      "the owner may chown to itself");
	CHECK(perm_chown(&me, 2000, 2000, 2000, (gid_t)-1) == -EPERM,
	      "a non-owner may not, even to the same uid");
	CHECK(perm_chown(&me, 1000, 1000, (uid_t)-1, GROUP) == -EAGAIN,
	      "chgrp to another group: ask with the groups");
	CHECK(perm_chown(&member, 1000, 1000, (uid_t)-1, GROUP) == 0,
	      "the owner may chgrp to a group it is in");
	CHECK(perm_chown(&member, 1000, 1000, (uid_t)-1, 0) == -EPERM,
	      "but not to a group it is not in");
	CHECK(perm_chown(&member, 2000, 1000, (uid_t)-1, GROUP) == -EPERM,
	      "a non-owner may not chgrp");
	CHECK(perm_chown(&me, 1000, 1000, (uid_t)-1, 1000) == 0,
	      "the owner may chgrp to the file's own group");
}

/* The three owners of the kernel comparison's files. */
static const struct {
	uid_t uid;
	gid_t gid;
	const char *who;
} owners[] = {
    {NOBODY, 0, "the caller's"},
    {0, GROUP, "a group the caller is in"},
    {0, 0, "others'"},
};

/*
 * Compare perm_may with faccessat(2) for every file below dir (named
 * "<f|d><owner><mode>"), as caller c; returns the mismatches and writes
 * the first into first.
 */
static int compare(int dir, const struct perm_caller *c, char *first,
		   size_t size)
{
	int bad = 0, o, mode, want, t;
	char name[32];

	for (t = 0; t < 2; t++)
		for (o = 0; o < 3; o++)
			for (mode = 0; mode <= 0777; mode++)
				for (want = 1; want <= 7; want++) {
					int k, p;

					snprintf(name, sizeof(name), "%c%d%o",
						 t ? 'd' : 'f', o, mode);
					k = faccessat(dir, name, want,
						      AT_EACCESS)
						? -errno
						: 0;
					p = perm_may(c,
						     (t ? S_IFDIR : S_IFREG) |
							 (mode_t)mode,
						     owners[o].uid,
						     owners[o].gid, want);
					if (k == p)
						continue;
					if (!bad++)
						snprintf(first, size,
							 "%s: uid %d wants %d:"
							 " kernel %d, perm %d",
							 name, (int)c->uid,
							 want, k, p);
				}
	return bad;
}

static void test_kernel(void)
{
	char dir[] = "/tmp/kvfs-test-perm.XXXXXX", path[64], first[160] = "";
	const gid_t groups[] = {GROUP};
	struct perm_caller nobody = {
	    .uid = NOBODY, .gid = NOBODY, .groups = groups, .ngroups = 1};
	struct perm_caller root = {.uid = 0, .gid = 0};
	int fds[2], o, mode, t, dfd, status, bad;
	pid_t pid;

	if (geteuid() != 0) {
		printf("ok %d - # SKIP the kernel comparison needs root\n",
		       ++check_count);
		return;
	}
	if (!mkdtemp(dir) || chmod(dir, 0755)) {
		CHECK(0, "make %s", dir);
		return;
	}
	for (t = 0; t < 2; t++)
		for (o = 0; o < 3; o++)
			for (mode = 0; mode <= 0777; mode++) {
				snprintf(path, sizeof(path), "%s/%c%d%o", dir,
					 t ? 'd' : 'f', o, mode);
				if (t ? mkdir(path, 0700)
				      : close(open(path, O_CREAT | O_WRONLY,
						   0600))) {
					CHECK(0, "create %s", path);
					return;
				}
				if (chown(path, owners[o].uid, owners[o].gid) ||
				    chmod(path, (mode_t)mode)) {
					CHECK(0, "chown/chmod %s", path);
					return;
				}
			}
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	bad = compare(dfd, &root, first, sizeof(first));
	CHECK(bad == 0,
	      "root: perm_may agrees with the kernel on 3072 "
	      "files and directories x 7 wants (%d differ%s%s)",
	      bad, bad ? "; first: " : "", first);

	if (pipe(fds) || (pid = fork()) < 0) {
		CHECK(0, "fork");
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		if (setgroups(1, groups) || setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			_exit(2);
		bad = compare(dfd, &nobody, first, sizeof(first));
		if (write(fds[1], first, sizeof(first)) < 0)
			_exit(2);
		_exit(bad ? 1 : 0);
	}
	close(fds[1]);
	if (read(fds[0], first, sizeof(first)) < 0)
		first[0] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "uid 65534 in group 100: perm_may agrees with the kernel on "
	      "its own files, its group's and others' (%s)",
	      WIFEXITED(status) && WEXITSTATUS(status) == 2
		  ? "could not become 65534"
	      : first[0] ? first
			 : "none differ");
	close(dfd);
	for (t = 0; t < 2; t++)
		for (o = 0; o < 3; o++)
			for (mode = 0; mode <= 0777; mode++) {
				snprintf(path, sizeof(path), "%s/%c%d%o", dir,
					 t ? 'd' : 'f', o, mode);
				if (t ? rmdir(path) : unlink(path))
					CHECK(0, "remove %s", path);
			}
	rmdir(dir);
}

int main(void)
{
	test_rules();
	test_kernel();
	printf("1..%d\n", check_count);
	return CHECK_DONE();
}
