#!/bin/bash
# t_tools_find: find with -name, -newer, -size, -mtime, -type; du -s;
# df and df -i; wc; grep -r; diff -r between the mount and a local copy;
# xargs rm over thousands of keys.  Each is compared with the same
# command on the local copy (ext4) and the store is read back through a
# second mount, the CLI and a remount.
. "$(dirname "$0")/lib.sh"

kv_tools_mounts
M=${KV_MNTS[a]}
cli() {
	"$KVFS_BIN" -c "${KV_CONFS[a]}" "$@"
}

# ---- a tree, made locally and copied in with rsync -a -------------------------------
S=$L/tree
mkdir -p "$S/docs/old" "$S/src/lib" "$S/empty"
for i in $(seq 1 20); do
	printf 'note %d\nTODO: item %d\n' "$i" "$i" >"$S/docs/n$i.txt"
done
for i in 1 2 3; do
	printf 'archived %d\n' "$i" >"$S/docs/old/a$i.txt"
done
head -c 50000 /dev/urandom >"$S/src/blob.bin"
head -c 2000 /dev/urandom >"$S/src/lib/small.bin"
printf 'int main(void) { return 0; } /* TODO */\n' >"$S/src/main.c"
printf 'x' >"$S/src/one-byte"
: >"$S/src/empty-value"
ln -s ../docs "$S/src/docs-link"
touch -d '40 days ago' "$S/docs/old/"*.txt
touch -d '10 days ago' "$S/docs/n1.txt" "$S/docs/n2.txt"
touch -d '2 hours ago' "$S/src/ref"
touch -d '3 hours ago' "$S/docs/n3.txt"
touch -d '1 hour ago' "$S/src/main.c" "$S/src/blob.bin"
rsync -a "$S/" "$N/tree/" || bail "rsync -a of the tree into the mount"

# same_find DESC FIND-ARGS...: find gives the same relative paths in the
# mount (through the second mount) and in the local tree.
same_find() {
	local desc=$1 got want
	shift
	got=$(cd "$B/tree" && find . "$@" 2>&1 | sort)
	want=$(cd "$S" && find . "$@" 2>&1 | sort)
	if [ -n "$want" ] && [ "$got" = "$want" ]; then
		ok "$desc"
	else
		not_ok "$desc" "find . $*" "expected: $(show "$want")" \
			"got:      $(show "$got")"
	fi
}
same_find "find -name" -name 'n1*.txt'
same_find "find -type d" -type d
same_find "find -type l" -type l
same_find "find -type f -empty" -type f -empty
same_find "find -newer" -type f -newer "src/ref"
same_find "find -size +10k" -size +10k
same_find "find -size -2c" -type f -size -2c
same_find "find -size 1 (512-byte blocks)" -type f -size 1
same_find "find -mtime +30" -mtime +30
same_find "find -mtime -1" -type f -mtime -1
same_find "find -mmin -150" -type f -mmin -150
same_find "find -perm and -name together" -type f -perm 644 -name '*.c'
same_find "find -L follows the link" -L -path './src/docs-link/old/*'

# ---- du -s --------------------------------------------------------------------------
# The bytes of the tree's values (symlinks hold their target) and its
# directories' sizes, as kvfs shows them.
bytes=$(cd "$N/tree" && find . -type f -printf '%s\n' |
	awk '{ s += $1 } END { print s }')
links=$(cd "$N/tree" && find . -type l -printf '%s\n' |
	awk '{ s += $1 } END { print s }')
dirs=$(cd "$N/tree" && find . -type d -printf '%s\n' |
	awk '{ s += $1 } END { print s }')
want=$(cd "$S" && find . -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
is "$bytes" "$want" "the keys' sizes add up to the local files' sizes"
is "$(du -sb "$N/tree" | cut -f1)" "$((bytes + links + dirs))" \
	"du -sb (apparent size) is the bytes stored"
nfiles=$(find "$N/tree" -type f | wc -l)
alloc=$(du -sB1 "$N/tree" | cut -f1)
num_cmp "$alloc" -ge "$bytes" "du -s (blocks) is at least the bytes stored"
num_cmp "$alloc" -le $((bytes + links + (nfiles + 1) * 4096)) \
	"du -s (blocks) is the bytes stored within block rounding"

# ---- wc, grep -r, diff -r ---------------------------------------------------------
is "$(cd "$N/tree" && wc -l -w -c docs/*.txt src/main.c 2>&1)" \
	"$(cd "$S" && wc -l -w -c docs/*.txt src/main.c)" "wc -lwc, as on the local copy"
is "$(cd "$N/tree" && grep -r -n TODO . 2>&1 | sort)" \
	"$(cd "$S" && grep -r -n TODO . | sort)" "grep -r -n, as on the local copy"
is "$(cd "$N/tree" && grep -R -l 'archived 2' . 2>&1 | sort)" \
	"$(cd "$S" && grep -R -l 'archived 2' . | sort)" \
	"grep -R (following the link), as on the local copy"
check "diff -r --no-dereference between the local tree and the mount" \
	diff -r --no-dereference "$S" "$N/tree"
echo "changed through b" >"$B/tree/docs/n5.txt"
rm "$B/tree/docs/n6.txt"
run diff -r --no-dereference "$S" "$N/tree"
is "$KV_LAST_OUT" "diff -r --no-dereference $S/docs/n5.txt $N/tree/docs/n5.txt
1,2c1
< note 5
< TODO: item 5
---
> changed through b
Only in $S/docs: n6.txt" "diff -r shows exactly the two changes made through the second mount"

# ---- df, df -i ------------------------------------------------------------------------
is "$(df --output=fstype "$M" 2>&1 | tail -n 1)" fuse.kvfs "df shows the type fuse.kvfs"
used() { df -B1 --output=used "$M" | tail -n 1 | tr -d ' '; }
iused() { df --output=iused "$M" | tail -n 1 | tr -d ' '; }
check "df -i on the mount" df -i "$M"
u0=$(used)
i0=$(iused)
mkdir "$M/dfns"
head -c 5000000 /dev/urandom >"$M/dfns/big"
for i in $(seq 1 100); do echo "$i" >"$M/dfns/k$i"; done
u1=$(used)
i1=$(iused)
stored=$((5000000 + $(cat "$M"/dfns/k* | wc -c)))
num_cmp $((u1 - u0)) -ge $((stored - 4096)) \
	"df: used grew by the bytes stored ($stored), less at most a block"
num_cmp $((u1 - u0)) -le $((stored + 4096)) \
	"df: used grew by the bytes stored, plus at most a block"
num_cmp $((i1 - i0)) -ge 101 "df -i: IUsed grew by at least the 101 keys"
num_cmp $((i1 - i0)) -le 102 "df -i: IUsed grew by the 101 keys (and the namespace)"
rm -r "$M/dfns"
num_cmp "$(used)" -le $((u0 + 4096)) "df: used fell back after rm"
num_cmp "$(iused)" -le $((i0 + 1)) "df -i: IUsed fell back after rm"
df_free=$(df -B1 --output=avail "$M" | tail -n 1 | tr -d ' ')
disk_free=$(df -B1 --output=avail "$(dirname "${KV_DBS[a]}")" | tail -n 1 | tr -d ' ')
num_cmp $((df_free > disk_free ? df_free - disk_free : disk_free - df_free)) \
	-le 104857600 "df: the mount's free space is the database disk's (within 100 MB)"

# ---- xargs rm over thousands of keys -------------------------------------------------
check "3000 keys in one directory, 3000 in another" py '
for d in ("many", "keep"):
    os.mkdir("%s/%s" % (a[0], d))
    for i in range(3000):
        with open("%s/%s/k%04d" % (a[0], d, i), "w") as f:
            f.write("%d\n" % i)' "$N"
i0=$(iused)
check "find -print0 | xargs -0 rm over 3000 keys" bash -c \
	'find "$1" -type f -name "k*" -print0 | xargs -0 rm' _ "$N/many"
is "$(ls -A "$B/many" 2>&1)" "" "second mount: the directory is empty"
is "$(cli list ns --prefix many/ 2>&1 | tr -d ' \n')" '{"keys":[],"list_complete":true}' \
	"CLI list: no key is left under many/"
is "$(ls "$B/keep" | wc -l)" 3000 "second mount: the other directory's 3000 keys are all there"
num_cmp "$(iused)" -le $((i0 - 3000)) "df -i: IUsed fell by the 3000 keys"
check "ls | xargs rm over the other 3000" bash -c \
	'cd "$1" && ls | xargs rm --' _ "$N/keep"
is "$(ls -A "$B/keep" 2>&1)" "" "second mount: that directory is empty too"
is "$(cli list ns --prefix keep/ 2>&1 | tr -d ' \n')" '{"keys":[],"list_complete":true}' \
	"CLI list: no key is left under keep/"

# ---- after a remount ---------------------------------------------------------------------
kv_remount a
N=${KV_MNTS[a]}/ns
rsync -a "$S/docs/n6.txt" "$S/docs/n5.txt" "$N/tree/docs/"
check "after remount and restoring the two keys: diff -r finds no difference" \
	diff -r --no-dereference "$S" "$N/tree"
is "$(find "$N/many" "$N/keep" -mindepth 1 2>&1 | wc -l)" 0 \
	"after remount: both emptied directories are empty"
same_find "after remount: find -mtime +30" -mtime +30

done_testing
