#!/bin/bash
# t_tools_perm: chmod, chown, chgrp and touch as an unprivileged user
# (nobody, through setpriv on a mount with -o allow_other), checked
# against what ext4 allows: the owner may chmod, only root may give a
# file away, a non-owner gets EPERM, modes are enforced on keys and on
# directories (kvfs always mounts with default_permissions).  Owners and
# modes are kept per key and per directory, across a remount.  Symbolic
# links: ln -s, readlink, links to keys and directories, dangling ones,
# what the CLI shows (a key whose value is the target), a remount.  Hard
# links fail with EPERM.
. "$(dirname "$0")/lib.sh"

# start_a: mount a with -o allow_other, so that nobody may enter it.
start_a() {
	kv_start a -f ${KVFS_TEST_DEBUG:+-d} -o allow_other \
		-c "${KV_CONFS[a]}" "${KV_MNTS[a]}" ||
		bail "mount a with -o allow_other"
}
remount_a() {
	kv_stop a || bail "mount a stops on fusermount3 -u"
	start_a
}
kv_new a
start_a
kv_mount_shared b a "[mount]
kernel_cache_sec = 0
[namespace ns]"
N=${KV_MNTS[a]}/ns
B=${KV_MNTS[b]}/ns
eperm="Operation not permitted"
eacces="Permission denied"

# nobody CMD...: run CMD as nobody:nogroup, no other groups, in $N (the
# test directories above the mount are root's alone; a relative path
# from the working directory never crosses them).
nobody() {
	(cd "$N" && setpriv --reuid=65534 --regid=65534 --clear-groups "$@")
}
owner() {
	stat -c '%a %u:%g' "$1" 2>&1
}

id -u nobody >/dev/null 2>&1 && [ "$(id -u nobody)" = 65534 ] ||
	bail "this test needs the user nobody (65534)"
check "nobody can enter the mount (allow_other)" nobody ls -d .

# ---- keys owned by root ----------------------------------------------------------
echo "root's" >"$N/rootkey"
is "$(nobody cat rootkey 2>&1)" "root's" "nobody reads a 644 key of root's"
fails_with "$eperm" "nobody cannot chmod a key of root's: EPERM" \
	nobody chmod 666 rootkey
fails_with "$eperm" "nobody cannot chown a key of root's to itself: EPERM" \
	nobody chown 65534 rootkey
fails_with "$eacces" "nobody cannot write a 644 key of root's: EACCES" \
	nobody sh -c 'echo x >>rootkey'
# touch reports its failed open(O_WRONLY), on ext4 too.
fails_with "$eacces" "nobody cannot touch -d a key of root's: EACCES" \
	nobody touch -d 2001-01-01 rootkey
fails_with "$eperm" "nobody cannot utime a key of root's to a given time: EPERM" \
	nobody /usr/bin/python3 -c 'import os, sys; os.utime(sys.argv[1], (1, 1))' \
	rootkey
fails_with "$eacces" "nobody cannot utime a key of root's to now: EACCES" \
	nobody /usr/bin/python3 -c 'import os, sys; os.utime(sys.argv[1])' rootkey
fails_with "$eacces" "nobody cannot create a key in root's 755 namespace" \
	nobody sh -c 'echo x >newkey'
fails_with "$eacces" "nobody cannot delete a key in root's 755 namespace" \
	nobody rm -f rootkey
is "$(cat "$B/rootkey") $(owner "$B/rootkey")" "root's 644 0:0" \
	"second mount: root's key is untouched"
chmod 600 "$N/rootkey"
fails_with "$eacces" "after chmod 600 by root nobody cannot read it: EACCES" \
	nobody cat rootkey

# ---- root gives keys and directories away ------------------------------------------
check "root gives a key away (chown)" chown 65534:65534 "$N/rootkey"
is "$(owner "$B/rootkey")" "600 65534:65534" "second mount: the key's new owner"
check "its new owner may chmod it" nobody chmod 640 rootkey
is "$(owner "$B/rootkey")" "640 65534:65534" "second mount: the owner's chmod is stored"
fails_with "$eperm" "its owner cannot give it back to root: EPERM" \
	nobody chown 0 rootkey
fails_with "$eperm" "its owner cannot chgrp it to a group it is not in: EPERM" \
	nobody chgrp 0 rootkey
check "its owner may set its time" nobody touch -d '2001-02-03 04:05:06' rootkey
is "$(stat -c %Y "$B/rootkey" 2>&1)" "$(date -d '2001-02-03 04:05:06' +%s)" \
	"second mount: the owner's touch -d is stored"

mkdir "$N/home"
check "root gives a directory away" chown 65534:65534 "$N/home"
is "$(owner "$B/home")" "755 65534:65534" "second mount: the directory's owner"

# ---- what nobody makes in its own directory ------------------------------------------
check "nobody creates a key in its directory" \
	nobody sh -c 'umask 027 && echo mine >home/k'
is "$(owner "$B/home/k")" "640 65534:65534" \
	"second mount: the new key is nobody's, mode from its umask"
check "nobody makes a subdirectory" nobody mkdir home/sub
check "and chmods it 700" nobody chmod 700 home/sub
is "$(owner "$B/home/sub")" "700 65534:65534" "second mount: the subdirectory's owner and mode"
echo "root's inside" >"$N/home/byroot"
check "nobody may delete root's key in nobody's directory" nobody rm -f home/byroot
fails_with "No such file or directory" "second mount: it is gone" cat "$B/home/byroot"
check "nobody chmods its directory 555" nobody chmod 555 home
fails_with "$eacces" "nobody cannot create in its 555 directory: EACCES" \
	nobody sh -c 'echo x >home/k2'
fails_with "$eacces" "nobody cannot delete from its 555 directory: EACCES" \
	nobody rm -f home/k
fails_with "$eacces" "nobody cannot rename in its 555 directory: EACCES" \
	nobody mv home/k home/k3
check "nobody chmods its directory back to 755" nobody chmod 755 home
check "then renames its key" nobody mv home/k home/k3
is "$(cat "$B/home/k3" 2>&1) $(owner "$B/home/k3")" "mine 640 65534:65534" \
	"second mount: the renamed key keeps owner and mode"

mkdir "$N/private"
echo secret >"$N/private/s"
chmod 750 "$N/private"
fails_with "$eacces" "nobody cannot list root's 750 directory: EACCES" \
	nobody ls private
fails_with "$eacces" "nobody cannot read a key below it: EACCES" \
	nobody cat private/s
check "root chgrps the directory to nogroup" chgrp 65534 "$N/private"
is "$(nobody ls private 2>&1)" s "now nobody lists it through its group"
is "$(owner "$B/private")" "750 0:65534" "second mount: the directory's group and mode"

# ---- after a remount ---------------------------------------------------------------------
remount_a
N=${KV_MNTS[a]}/ns
is "$(cd "$N" && stat -c '%n %a %u:%g' rootkey home home/k3 home/sub private \
	private/s 2>&1 | tr '\n' ' ')" \
	"rootkey 640 65534:65534 home 755 65534:65534 home/k3 640 65534:65534 home/sub 700 65534:65534 private 750 0:65534 private/s 644 0:0 " \
	"after remount: every owner and mode, per key and per directory"
is "$(stat -c %Y "$N/rootkey" 2>&1)" "$(date -d '2001-02-03 04:05:06' +%s)" \
	"after remount: the mtime nobody set"
fails_with "$eperm" "after remount: nobody still cannot chmod what is not its own" \
	nobody chmod 777 private
fails_with "$eacces" "after remount: nobody still cannot write into root's namespace" \
	nobody sh -c 'echo x >newkey'

# ---- symbolic links -------------------------------------------------------------------------
echo target >"$N/t"
mkdir -p "$N/dir/sub"
echo deep >"$N/dir/sub/k"
check "ln -s to a key" ln -s t "$N/l"
check "ln -s to a directory" ln -s dir/sub "$N/dl"
check "ln -s with .. in the target" ln -s ../t "$N/dir/up"
check "ln -s to a missing target" ln -s /nonexistent/x "$N/dangling"
check "ln -s to a local file outside the mount" ln -s /etc/hostname "$N/abs"
is "$(readlink "$B/l") $(readlink "$B/dl") $(readlink "$B/dir/up") \
$(readlink "$B/dangling")" "t dir/sub ../t /nonexistent/x" \
	"second mount: readlink returns every target"
is "$(stat -c '%F %s' "$B/l" 2>&1)" "symbolic link 1" \
	"second mount: a symbolic link, its size the target's length"
is "$(cat "$B/l" "$B/dir/up" "$B/dl/k" 2>&1 | tr '\n' ' ')" "target target deep " \
	"second mount: reading through the links reaches their targets"
fails_with "No such file or directory" "a dangling link: ENOENT when followed" \
	cat "$B/dangling"
is "$("$KVFS_BIN" -c "${KV_CONFS[a]}" get ns l 2>&1) \
$("$KVFS_BIN" -c "${KV_CONFS[a]}" get ns dir/up 2>&1)" "t ../t" \
	"CLI get: a symbolic link is a key whose value is its target"
"$KVFS_BIN" -c "${KV_CONFS[a]}" export ns >"${KV_DIRS[a]}/export.json" 2>&1
run py '
import json
print(" ".join("%s=%s" % (e["key"], e["value"]) for e in json.load(open(a[0]))
               if e["key"] in ("l", "dl", "dangling")))' "${KV_DIRS[a]}/export.json"
is "$KV_LAST_OUT" "dangling=/nonexistent/x dl=dir/sub l=t" \
	"CLI export: the links are keys whose values are their targets"
check "chmod through a link changes the target (as on ext4)" chmod 600 "$N/l"
is "$(stat -c %a "$B/t") $(stat -c '%F' "$B/l")" "600 symbolic link" \
	"second mount: the target's mode changed, the link is still a link"
chmod 644 "$N/t"
check "mv of a link" mv "$N/dir/up" "$N/dir/sub/up2"
is "$(readlink "$B/dir/sub/up2")" "../t" "second mount: the moved link keeps its target"
check "rm of a link" rm "$N/abs"
is "$(cat "$B/t" 2>&1)" target "second mount: rm of a link left its target"
fails_with "File exists" "ln -s onto an existing key: EEXIST" ln -s x "$N/t"

# ---- hard links ---------------------------------------------------------------------------------
fails_with "$eperm" "ln (a hard link): EPERM" ln "$N/t" "$N/hard"
fails_with "$eperm" "ln into another directory: EPERM" ln "$N/t" "$N/dir/hard"
fails_with "$eperm" "cp -l: EPERM" cp -l "$N/t" "$N/hard2"
fails_with "$eperm" "link(2) from python: EPERM" py 'os.link(a[0], a[1])' \
	"$N/t" "$N/hard3"
is "$(ls "$B" | tr '\n' ' ')" "dangling dir dl home l private rootkey t " \
	"second mount: no failed hard link left a key"
is "$(stat -c %h "$B/t" 2>&1)" 1 "second mount: the key still has one link"

remount_a
N=${KV_MNTS[a]}/ns
is "$(readlink "$N/l") $(readlink "$N/dl") $(readlink "$N/dir/sub/up2") \
$(readlink "$N/dangling")" "t dir/sub ../t /nonexistent/x" \
	"after remount: every link and its target"
is "$(cat "$N/dl/k" 2>&1)" deep "after remount: a link to a directory still leads there"

done_testing
