#!/bin/bash
# t_dirs: directories inside a namespace (tree layout) and namespaces
# at the mount root.  A mkdir'd directory is stored: it survives a
# remount and `rm dir/*`, and only rmdir removes it (ENOTEMPTY while
# anything is under it).  mkdir at the root makes a namespace; rmdir of
# a namespace named in the config fails.
. "$(dirname "$0")/lib.sh"

kv_mount a "[namespace ns]"
M=$KV_MNT
N=$M/ns

# ---- tree layout: key user/1 is file 1 in directory user ------------------
check "mkdir in a namespace" mkdir "$N/user"
check "write user/1" bash -c 'echo one >"$1"' _ "$N/user/1"
is "$(cat "$N/user/1")" one "read user/1 back"
is "$(stat -c %F "$N/user")" directory "user is a directory"
is "$(ls "$N/user")" 1 "the directory lists its key's last segment"
check "mkdir -p of nested directories" mkdir -p "$N/a/b/c"
echo deep >"$N/a/b/c/d"
is "$(cat "$N/a/b/c/d")" deep "a key three directories down"

fails_with "Directory not empty" "rmdir of a non-empty directory: ENOTEMPTY" \
	rmdir "$N/user"
fails_with "File exists" "mkdir of an existing directory: EEXIST" \
	mkdir "$N/user"
fails_with "File exists" "mkdir over an existing key: EEXIST" \
	mkdir "$N/user/1"
check "rm dir/*" bash -c 'rm "$1"/*' _ "$N/user"
is "$(stat -c %F "$N/user" 2>&1)" directory \
	"rm dir/* leaves the mkdir'd directory"
is "$(ls -A "$N/user" | wc -l)" 0 "and it is empty"

mkdir "$N/keep" "$N/drop"
check "rmdir of an empty directory" rmdir "$N/drop"
fails_with "No such file or directory" "the removed directory is gone" \
	stat "$N/drop"

# ---- wrong types ---------------------------------------------------------
echo file >"$N/f"
fails_with "Not a directory" "creating f/g where f is a file: ENOTDIR" \
	bash -c 'echo x >"$1"' _ "$N/f/g"
fails_with "Not a directory" "mkdir f/g where f is a file: ENOTDIR" \
	mkdir "$N/f/g"
fails_with "Is a directory" "writing to a directory's name: EISDIR" \
	bash -c 'echo x >"$1"' _ "$N/keep"
fails_with "Is a directory" "O_CREAT|O_WRONLY on a directory: EISDIR" py '
os.open(a[0], os.O_WRONLY | os.O_CREAT)' "$N/keep"
fails_with "Not a directory" "rmdir of a key: ENOTDIR" rmdir "$N/f"
fails_with "Is a directory" "unlink of a directory: EISDIR" py '
os.unlink(a[0])' "$N/keep"
fails_with "No such file or directory" "a file under a missing directory" \
	bash -c 'echo x >"$1"' _ "$N/nodir/x"

# ---- namespaces at the root ----------------------------------------------
check "mkdir at the mount root creates a namespace" mkdir "$M/made"
echo v >"$M/made/k"
is "$(cat "$M/made/k")" v "the new namespace holds a key"
check "mkdir of another namespace" mkdir "$M/spare"
fails_with "File exists" "mkdir of an existing namespace: EEXIST" mkdir "$M/made"
check_fails "rmdir of the namespace named in the config fails" rmdir "$N"
is "$(stat -c %F "$N" 2>&1)" directory "the config's namespace is still there"
is "$(cat "$N/f")" file "and its keys too"
fails_with "Directory not empty" "rmdir of a non-empty namespace: ENOTEMPTY" \
	rmdir "$M/made"

# ---- after a remount ------------------------------------------------------
kv_remount a
M=$KV_MNT
N=$M/ns
is "$(stat -c %F "$N/user" 2>&1)" directory \
	"after remount: the empty mkdir'd directory is still there"
is "$(stat -c %F "$N/keep" 2>&1)" directory "after remount: keep is there"
fails_with "No such file or directory" "after remount: the rmdir'd one is not" \
	stat "$N/drop"
is "$(ls -U "$N" | tr '\n' ' ')" "a f keep user " \
	"after remount: the namespace lists exactly its entries"
is "$(cat "$N/a/b/c/d")" deep "after remount: the nested key"
is "$(ls "$M" | tr '\n' ' ')" "made ns spare " \
	"after remount: the namespaces made with mkdir are listed"
is "$(cat "$M/made/k" 2>&1)" v "after remount: the new namespace's key"
check "rmdir of an empty namespace" rmdir "$M/spare"
check_fails "rmdir of the config's namespace still fails" rmdir "$N"

kv_remount a
M=$KV_MNT
is "$(ls "$M" | tr '\n' ' ')" "made ns " \
	"after another remount: the removed namespace stays removed"

# Directories that only keys made (here by the CLI, as by an import or
# another program) go away with their last key; removing them the way
# tools do still works.
N=$M/ns
kv() { "$KVFS_BIN" -c "${KV_CONFS[a]}" "$@"; }
for k in imp/a imp/sub/b imp/sub/deeper/c fd/x fd/y/z two/only; do
	echo "$k" | kv put ns "$k" - || bail "kvfs put $k"
done
check "rm -r of directories only keys made" rm -r "$N/imp"
fails_with "No such file or directory" "and they are gone" stat "$N/imp"
check "find -delete of them" find "$N/fd" -delete
fails_with "No such file or directory" "and they are gone too" stat "$N/fd"
check "rm of the last key, then rmdir" sh -c "rm '$N/two/only' && rmdir '$N/two'"
# rm -r of a big directory outlasts the kernel's cache time: its last
# rmdir must find the directory its keys made, though they are gone.
echo x | kv put ns slow/only - || bail "kvfs put slow/only"
check "rm of the last key, past the cache time, then rmdir" \
	sh -c "cd '$N/slow' && rm only && sleep 1.5 && rmdir '$N/slow'"
fails_with "No such file or directory" "and it is gone" stat "$N/slow"
# Emptied through the mount and used again: it stays, as mkdir made it.
for k in kept/k again/k; do
	echo x | kv put ns "$k" - || bail "kvfs put $k"
done
ls "$N/kept" "$N/again" >/dev/null
rm "$N/kept/k" "$N/again/k"
sleep 1.5
is "$(stat -c %F "$N/kept" 2>&1)" directory \
	"a directory emptied through the mount, past the cache time: still a directory"
check "mkdir -p of it, then a key in it" \
	sh -c "mkdir -p '$N/again' && echo y > '$N/again/k2'"
is "$(cat "$N/again/k2" 2>&1)" y "and the key is there"
is "$(ls "$N" | grep -c '^kept$')" 1 "the emptied directory is listed"
check "rm -rf of it" rm -rf "$N/kept" "$N/again"
fails_with "No such file or directory" "and it is gone" stat "$N/kept"
is "$(kv list ns --prefix imp/ | grep -c '"name"')" 0 "no key is left under them"
echo v >"$N/stay"
fails_with "Not a directory" "rmdir of a key is still ENOTDIR" rmdir "$N/stay"
fails_with "No such file or directory" "rmdir of a name never made: ENOENT" \
	rmdir "$N/never"

done_testing
