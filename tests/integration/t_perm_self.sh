#!/bin/bash
# t_perm_self: the permission checks kvfs makes itself on a mount without
# -o allow_other (no default_permissions there, see fs_may in src/fs.c).
# The mount belongs to nobody (65534), who alone may enter it: a python
# helper running as root opens /dev/fuse, mounts it with user_id=65534
# and hands the descriptor to kvfs, started as nobody with the mountpoint
# /dev/fd/N (so this works where /dev/fuse is root's alone).  Every
# check is what ext4 answers a user who is not root: modes on keys and
# directories for open, create, unlink, rename, mkdir, rmdir, truncate,
# utimes, chmod, chown and xattrs; access(2); the sticky bit; a group
# the caller is in; and that root, kept out without allow_other, gets
# EACCES from the kernel.
. "$(dirname "$0")/lib.sh"

id -u nobody >/dev/null 2>&1 && [ "$(id -u nobody)" = 65534 ] ||
	bail "this test needs the user nobody (65534)"
[ "$(id -u)" = 0 ] || bail "this test mounts for nobody: run it as root"

# nobody must reach the config, the database and the mountpoint: the
# test's directories go below one that others may pass through (the
# runner's own is root's alone).
KV_TMP_PARENT=$(mktemp -d "${TMPDIR:-/tmp}/kvfs-t_perm_self.XXXXXX") ||
	bail "mktemp -d failed"
kv_track_dir "$KV_TMP_PARENT"
chmod 0711 "$KV_TMP_PARENT"
kv_new a
chmod 0755 "${KV_DIRS[a]}"
chown -R 65534:65534 "${KV_DIRS[a]}"
MNT=${KV_MNTS[a]}
N=$MNT/ns

# start_a: mount for nobody, then start kvfs as nobody on /dev/fd/N.
start_a() {
	local pid
	pid=$(python3 - "$MNT" "${KV_LOGS[a]}" "$KVFS_BIN" \
		"${KV_CONFS[a]}" <<'EOF'
import ctypes, os, subprocess, sys
mnt, log, kvfs, conf = sys.argv[1:5]
fd = os.open("/dev/fuse", os.O_RDWR)
libc = ctypes.CDLL(None, use_errno=True)
opts = "fd=%d,rootmode=40000,user_id=65534,group_id=65534%s" % (
    fd, os.environ.get("KV_PARENT_OPTS", ""))
MS_NOSUID, MS_NODEV = 2, 4
if libc.mount(b"kvfs", mnt.encode(), b"fuse.kvfs",
              ctypes.c_ulong(MS_NOSUID | MS_NODEV), opts.encode()):
    sys.exit("mount: " + os.strerror(ctypes.get_errno()))
with open(log, "ab") as out:
    p = subprocess.Popen(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         kvfs, "-f", *os.environ.get("KV_KVFS_OPTS", "").split(), "-c", conf,
         "/dev/fd/%d" % fd],
        pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=out, stderr=out)
print(p.pid)
EOF
	) || bail "mount for nobody"
	KV_PIDS[a]=$pid
	is_mounted "$MNT" || bail "the mount for nobody is in /proc/mounts"
}

# nobody CMD...: run CMD as nobody:nogroup in the namespace (root may
# not enter it); member: the same with group 100 besides.
nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups env -C "$N" "$@"
}
member() {
	setpriv --reuid=65534 --regid=65534 --groups=100 env -C "$N" "$@"
}
# nobody_py CODE [ARG...]: lib.sh's py, run as nobody.
nobody_py() {
	nobody python3 -c "$_kv_py_prelude" "$@"
}
mode() {
	nobody stat -c '%a %u:%g' "$@" 2>&1 | tr '\n' ' '
}
eperm="Operation not permitted"
eacces="Permission denied"

start_a
check "nobody enters its own mount" nobody ls -d .
is "$(grep -c " $MNT fuse.kvfs .*user_id=65534" /proc/mounts)" 1 \
	"the mount is nobody's"
isnt "$(grep " $MNT " /proc/mounts | grep -c default_permissions)" 1 \
	"without default_permissions: kvfs checks"
fails_with "$eacces" "root is kept out without allow_other (EACCES)" \
	ls "$N"

# ---- keys --------------------------------------------------------------------
check "nobody writes a key" nobody sh -c 'echo v1 >k'
is "$(mode k)" "644 65534:65534 " "the key is nobody's, mode from its umask"
check "nobody chmods its key 444" nobody chmod 444 k
fails_with "$eacces" "its owner cannot write a 444 key: EACCES" \
	nobody sh -c 'echo v2 >>k'
fails_with "$eacces" "nor open it O_TRUNC" nobody_py \
	'os.close(os.open(a[0], os.O_RDONLY | os.O_TRUNC))' k
fails_with "$eacces" "nor truncate it by name" nobody truncate -s 0 k
is "$(nobody cat k)" v1 "the 444 key still holds its value"
fails_with "$eacces" "nor set a user xattr on it" \
	nobody setfattr -n user.x -v 1 k
fails_with "$eacces" "nor set its expiration" \
	nobody setfattr -n user.kv.expiration_ttl -v 3600 k
check "but its owner may chmod it" nobody chmod 644 k
check "and touch -d it (a given time: the owner's right)" \
	nobody touch -d '2001-02-03 04:05:06' k
check "and set a user xattr once writable" nobody setfattr -n user.x -v 1 k
check "nobody chmods it 200 (write only)" nobody chmod 200 k
fails_with "$eacces" "a 200 key cannot be read by its owner" nobody cat k
fails_with "$eacces" "nor its xattrs" nobody getfattr -n user.x k
check "but it can be written" nobody sh -c 'echo v3 >k'
check "access(W_OK) of a 200 key: yes" nobody test -w k
check_fails "access(R_OK) of a 200 key: no" nobody test -r k
check_fails "access(X_OK) of a 200 key: no" nobody test -x k
nobody chmod 644 k
is "$(nobody cat k)" v3 "the write to the 200 key was stored"
check "access(R_OK) of a 644 key: yes" nobody test -r k
fails_with "$eperm" "the owner cannot give a key away (chown): EPERM" \
	nobody chown 0 k
fails_with "$eperm" "nor chgrp it to a group it is not in" nobody chgrp 0 k
check "a member of group 100 may chgrp its key to 100" member chgrp 100 k
is "$(mode k)" "644 65534:100 " "the key's new group"
check "chmod 2755 of it by its owner, no longer in group 100" \
	nobody chmod 2755 k
is "$(mode k)" "755 65534:100 " "the setgid bit is dropped, as on ext4"
check "a member of group 100 may set it" member chmod 2755 k
is "$(mode k)" "2755 65534:100 " "the setgid bit kept"
nobody chmod 644 k
check "a member makes sg setgid, group 100" \
	member sh -c 'mkdir sg && chgrp 100 sg && chmod 2775 sg'
check "nobody makes sg/sub and sg/f" nobody sh -c 'mkdir sg/sub && echo x >sg/f'
is "$(mode sg/sub sg/f)" "2755 65534:100 644 65534:100 " \
	"a setgid directory's group passes on, and its setgid bit to directories"
fails_with "$eacces" "the kernel runs no key without an x bit" nobody ./k
check "nobody writes a script, mode 0411 (x for group and others only)" \
	nobody sh -c 'printf "#!/bin/sh\necho ran\n" >x && chmod 0411 x'
fails_with "$eacces" "its owner may not run it: the owner's bits count" \
	nobody ./x
check "at 0511 it runs" nobody sh -c 'chmod 0511 x && ./x'
check "a 0111 program runs (an exec needs x, not r)" \
	nobody sh -c 'cp /bin/true tru && chmod 0111 tru && ./tru'
check "cp -p of a 444 key (its ACL copy gets ENOTSUP, not EACCES)" \
	nobody sh -c 'echo p >ro && chmod 444 ro && cp -p ro ro2'
is "$(mode ro2)" "444 65534:65534 " "cp -p kept the mode"

# ---- a group's bits --------------------------------------------------------------
nobody chmod 604 k
check "an owner's 6 bits let it read" nobody cat k
nobody chmod 064 k
fails_with "$eacces" "an owner is judged by the owner's bits alone (064)" \
	nobody cat k
nobody chmod 644 k

# ---- directories ----------------------------------------------------------------
check "nobody makes a directory" nobody mkdir d
check "and a key in it" nobody sh -c 'echo in >d/k'
check "chmod 555 on it" nobody chmod 555 d
fails_with "$eacces" "no create in a 555 directory" nobody sh -c 'echo x >d/new'
fails_with "$eacces" "no mknod in it" nobody_py \
	'os.mknod(a[0], 0o644 | stat.S_IFREG)' d/new2
fails_with "$eacces" "no symlink in it" nobody ln -s k d/l
fails_with "$eacces" "no mkdir in it" nobody mkdir d/sub
fails_with "$eacces" "no unlink from it" nobody rm -f d/k
fails_with "$eacces" "no rename within it" nobody mv d/k d/k2
fails_with "$eacces" "no rename out of it" nobody mv d/k k2
fails_with "$eacces" "no rename into it" nobody mv k d/k3
is "$(nobody ls d | tr '\n' ' ')" "k " "the 555 directory holds what it held"
check "a key in a 555 directory can still be rewritten" \
	nobody sh -c 'echo in2 >d/k'
check "chmod 755 again" nobody chmod 755 d
check "now rename works" nobody mv d/k d/k2
check "and unlink" nobody rm d/k2
check "and rmdir" nobody rmdir d

check "nobody makes e/sub" nobody mkdir -p e/sub
check "chmod 555 e" nobody chmod 555 e
fails_with "$eacces" "no rmdir of a directory in a 555 directory" \
	nobody rmdir e/sub
nobody chmod 755 e
check "chmod 555 e/sub" nobody chmod 555 e/sub
fails_with "$eacces" \
	"a 555 directory cannot move to another parent (its .. changes)" \
	nobody mv e/sub sub
check "but it may be renamed within its parent" nobody mv e/sub e/sub2

check "nobody makes f with a key" nobody sh -c 'mkdir f && echo x >f/k'
check "chmod 300 f (no read)" nobody chmod 300 f
fails_with "$eacces" "no listing of a 300 directory" nobody ls f
is "$(nobody cat f/k 2>&1)" x "a 300 directory can be passed through"
check "chmod 600 f (no search)" nobody chmod 600 f
# A lookup the kernel has not cached reaches kvfs: the name f/new was
# never looked up.
fails_with "$eacces" "no lookup in a 600 directory" nobody cat f/new
check_fails "access(X_OK) of a 600 directory: no" nobody test -x f
check_fails "no cd into a 600 directory" nobody sh -c 'cd f'
nobody chmod 755 f

# ---- the sticky bit, and what root made -----------------------------------------
check "nobody makes a sticky 1777 directory" \
	nobody sh -c 'mkdir t && chmod 1777 t'
check "nobody writes t/roots" nobody sh -c "echo \"root's\" >t/roots"
check "and t/suid, t/rw" \
	nobody sh -c 'echo s >t/suid && echo s >t/suid2 && echo w >t/rw &&
		echo s >t/suid3 && echo s >t/sgid && chmod 666 t/rw &&
		mkdir t/rd'
check "and g/k, then chmod 600 g (no search)" \
	nobody sh -c 'mkdir g && echo gk >g/k && chmod 600 g'
# Only root may give a key away, and root may not enter this mount: make
# t and t/roots root's in the database, with the mount stopped.
kv_stop a || bail "stop the mount for nobody"
python3 - "${KV_DBS[a]}" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE kv SET uid = 0, gid = 0 WHERE key = CAST('t/roots' AS BLOB)")
db.execute("UPDATE kv SET uid = 0, gid = 0 WHERE key = CAST('t/' AS BLOB)")
db.execute("UPDATE kv SET uid = 0, gid = 0 WHERE key = CAST('t/rw' AS BLOB)")
db.execute("UPDATE kv SET uid = 0, gid = 0, mode = 35309"  # S_IFREG | 04755
           " WHERE key = CAST('t/suid' AS BLOB)")
db.execute("UPDATE kv SET uid = 0, gid = 0, mode = 35327"  # S_IFREG | 04777
           " WHERE key = CAST('t/suid2' AS BLOB)")
db.execute("UPDATE kv SET uid = 0, gid = 0, mode = 35327"  # S_IFREG | 04777
           " WHERE key = CAST('t/suid3' AS BLOB)")
db.execute("UPDATE kv SET uid = 0, gid = 0, mode = 36343"  # S_IFREG | 06767
           " WHERE key = CAST('t/sgid' AS BLOB)")
db.execute("UPDATE kv SET uid = 0, gid = 0 WHERE key = CAST('t/rd/' AS BLOB)")
db.commit()
EOF
start_a
is "$(mode t t/roots)" "1777 0:0 644 0:0 " "after a remount: t and t/roots are root's"
# After the remount the kernel has no name below g: ls -l lists the
# names and can stat none of them, and the listing left nothing cached.
check_fails "ls -l of a 600 directory fails (as on ext4)" nobody ls -l g
like "$KV_LAST_OUT" "*cannot access 'g/k': Permission denied*" \
	"ls -l: no attributes of g/k"
like "$KV_LAST_OUT" "*-????????? ? ? ? ?"*" k" "ls -l: but the name k is listed"
fails_with "$eacces" "a key in it cannot be opened after the listing" \
	nobody cat g/k
fails_with "$eacces" "nobody cannot write root's 644 key" \
	nobody sh -c 'echo x >t/roots'
fails_with "$eperm" "nobody cannot chmod root's key" nobody chmod 666 t/roots
fails_with "$eperm" "not even to the mode it has" nobody chmod 644 t/roots
is "$(mode t/suid)" "4755 0:0 " "root's setuid key"
fails_with "$eperm" "nobody cannot chmod away its setuid bit" \
	nobody chmod 755 t/suid
fails_with "$eperm" "nor chown(-1, -1) it" nobody_py 'os.chown(a[0], -1, -1)' \
	t/suid
fails_with "$eacces" "nor truncate(2) it: write permission comes first" \
	nobody_py 'os.truncate(a[0], 0)' t/suid
is "$(mode t/suid)" "4755 0:0 " "root's key is still setuid"
is "$(nobody cat t/suid)" s "and holds its value"
check "nobody writes root's 4777 key" nobody sh -c 'echo x >>t/suid2'
is "$(mode t/suid2)" "777 0:0 " \
	"which drops its setuid bit, as on ext4 (the kernel's mode change)"
check "nobody opens root's 4777 key O_TRUNC" nobody_py \
	'os.close(os.open(a[0], os.O_WRONLY | os.O_TRUNC))' t/suid3
is "$(mode t/suid3)" "777 0:0 " "which drops its setuid bit, as on ext4"
check "nobody writes root's 6767 key (setgid, no group execution)" \
	nobody sh -c 'echo x >>t/sgid'
is "$(mode t/sgid):$(nobody tail -c 2 t/sgid)" "2767 0:0 :x" \
	"which drops setuid, the one bit the kernel drops here (was EPERM)"
check "nobody may touch root's 666 key (both times now)" nobody touch t/rw
fails_with "$eperm" "but not touch -m it (atime left alone: a given time)" \
	nobody touch -m t/rw
fails_with "$eperm" "user xattrs of a sticky directory are its owner's" \
	nobody setfattr -n user.b -v 1 t
fails_with "$eperm" "nobody cannot set a given time on root's key" \
	nobody_py 'os.utime(a[0], (1, 1))' t/roots
fails_with "$eacces" "nobody cannot touch root's key to now" \
	nobody_py 'os.utime(a[0])' t/roots
fails_with "$eperm" \
	"sticky 1777 directory of root's: nobody cannot delete root's key" \
	nobody rm -f t/roots
fails_with "$eperm" "nor rename it" nobody mv t/roots t/mine
# A key of nobody's beside root's directory t/rd (t/rd^v) does not make
# the name t/rd nobody's: it names the directory.
check "nobody puts a key t/rd^v beside root's directory t/rd" \
	nobody sh -c 'echo v >t/rd^v'
fails_with "$eperm" "nobody still cannot rmdir root's t/rd (sticky t)" \
	nobody rmdir t/rd
fails_with "$eperm" "nor rename it" nobody mv -T t/rd t/rd2
check "but removes its own key t/rd^v" nobody rm t/rd^v
check "but nobody creates its own key there" nobody sh -c 'echo m >t/mine'
check "and deletes it" nobody rm t/mine
is "$(nobody cat t/roots)" "root's" "root's key in the sticky directory is intact"

# ---- a read-only namespace --------------------------------------------------------
kv_stop a || bail "stop the mount for nobody"
cat >"${KV_CONFS[a]}" <<EOF
[store]
path = ${KV_DBS[a]}
[namespace ns]
read_only = true
EOF
chown 65534:65534 "${KV_CONFS[a]}"
start_a
check_fails "access(W_OK) in a read_only namespace: no (EROFS)" \
	nobody test -w k
check "access(R_OK) there: yes" nobody test -r k

check "kvfs on /dev/fd/N ends at fusermount3 -u" kv_stop a

# A parent that mounts /dev/fd/N with allow_other, for kvfs run with
# -o allow_other: kvfs cannot see whether the parent asked the kernel to
# check (default_permissions), so it checks itself.  It did not: any
# user read and wrote nobody's 600 key.
printf '[store]\npath = %s\n[namespace ns]\n' "${KV_DBS[a]}" \
	>"${KV_CONFS[a]}"
chown 65534:65534 "${KV_CONFS[a]}"
KV_PARENT_OPTS=,allow_other KV_KVFS_OPTS="-o allow_other" start_a
check "nobody makes a 600 key" nobody sh -c 'echo mine >own && chmod 600 own'
other() {
	setpriv --reuid=12345 --regid=12345 --clear-groups env -C "$N" "$@"
}
fails_with "$eacces" "allow_other on /dev/fd/N: another user cannot read it" \
	other cat own
fails_with "$eacces" "nor write it" other sh -c 'echo theirs >own'
fails_with "$eperm" "nor chmod it" other chmod 666 own
is "$(nobody cat own)" mine "the key holds nobody's value"
fails_with "$eacces" "nor read the status file (namespaces, sizes, paths)" \
	other cat "$MNT/^status"
like "$(nobody cat "$MNT/^status")" "*namespace ns:*" \
	"which the mount's owner reads"
check "kvfs with allow_other on /dev/fd/N ends at fusermount3 -u" kv_stop a

# /dev/fd/N must be /dev/fuse: anything else is refused before a byte
# is read or written.
scratch=${KV_DIRS[a]}/scratch
printf 'not a fuse device' >"$scratch"
fails_with "not a descriptor of /dev/fuse" \
	"kvfs refuses /dev/fd/N open on a regular file" \
	"$KVFS_BIN" -f -c "${KV_CONFS[a]}" /dev/fd/5 5<>"$scratch"
is "$(cat "$scratch")" "not a fuse device" "and leaves the file as it was"
fails_with "not a descriptor of /dev/fuse" "and on /dev/null" \
	"$KVFS_BIN" -c "${KV_CONFS[a]}" /dev/fd/0 </dev/null
fails_with "Bad file descriptor" "and a descriptor that is not open" \
	"$KVFS_BIN" -c "${KV_CONFS[a]}" /dev/fd/99
done_testing
