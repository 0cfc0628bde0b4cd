#!/bin/bash
# t_tools_copy: trees copied into, out of and within the mount with cp,
# cp -a, cp -r, rsync -a (and again with nothing changed), rsync
# --inplace, rsync -aX, tar -x and tar -c; touch, touch -d, touch -r.
# Each result is compared, through a second mount and after a remount,
# with what the same command leaves on the local file system (ext4):
# names, types, modes, owners, sizes, contents, mtimes to the
# nanosecond, symlink targets and user.* attributes (metadata,
# expiration).  Symlinks, empty directories and directory modes and
# times are part of every tree.
. "$(dirname "$0")/lib.sh"

kv_tools_mounts
exp=$(($(date +%s) + 7200))

# manifest DIR FIELDS: one line per entry below DIR (DIR itself is "."),
# sorted: path, type (f d l), then what FIELDS asks for: m mode, o
# owner, t mtime in ns, x user.* attributes of files and directories;
# always a file's size and SHA-256 and a symlink's target.
manifest() {
	python3 -c '
import hashlib, os, stat, sys
root, fields = sys.argv[1], sys.argv[2]
paths = ["."]
for dp, dns, fns in os.walk(root):
    rel = os.path.relpath(dp, root)
    paths += [os.path.normpath(os.path.join(rel, n)) for n in dns + fns]
for p in sorted(paths):
    full = os.path.join(root, p)
    st = os.lstat(full)
    t = "d" if stat.S_ISDIR(st.st_mode) else \
        "l" if stat.S_ISLNK(st.st_mode) else \
        "f" if stat.S_ISREG(st.st_mode) else "?"
    o = [p, t]
    if "m" in fields:
        o.append("%o" % stat.S_IMODE(st.st_mode))
    if "o" in fields:
        o.append("%d:%d" % (st.st_uid, st.st_gid))
    if "t" in fields:
        o.append(str(st.st_mtime_ns))
    if t == "f":
        o.append(str(st.st_size))
        o.append(hashlib.sha256(open(full, "rb").read()).hexdigest()[:16])
    if t == "l":
        o.append("-> " + os.readlink(full))
    if "x" in fields and t != "l":
        for n in sorted(os.listxattr(full, follow_symlinks=False)):
            if n.startswith("user."):
                v = os.getxattr(full, n, follow_symlinks=False)
                o.append("%s=%s" % (n, v.decode(errors="replace")))
    print(" ".join(o))' "$1" "$2" 2>&1
}
# same_tree GOT WANT FIELDS DESC: the two trees' manifests are equal;
# a failure shows the differing lines.
same_tree() {
	local got want
	got=$(manifest "$1" "$3")
	want=$(manifest "$2" "$3")
	if [ "$got" = "$want" ]; then
		ok "$4"
	else
		not_ok "$4" "manifest of $1 (+) against $2 (-), fields $3:" \
			"$(diff <(echo "$want") <(echo "$got") | grep '^[<>]' |
				head -n 20)"
	fi
}
# ---- the source tree, on the local file system -------------------------------
S=$L/src
mkdir -p "$S/d1/d2" "$S/empty"
echo one >"$S/a"
printf 'two\n' >"$S/d1/b"
head -c 200000 /dev/urandom >"$S/d1/d2/bin"
printf 'caf\xc3\xa9\n' >"$S/sp ace caf"$'\xc3\xa9'
: >"$S/d1/zero"
chmod 600 "$S/a"
chmod 755 "$S/d1/d2/bin"
chmod 751 "$S/d1"
chmod 700 "$S/empty"
chown 65534:65534 "$S/d1/b"
ln -s a "$S/link"
ln -s ../a "$S/d1/uplink"
ln -s /nonexistent/target "$S/dangling"
setfattr -n user.kv.metadata -v '{"x":1}' "$S/a" &&
	setfattr -n user.kv.expiration -v "$exp" "$S/d1/b" &&
	setfattr -n user.kv.metadata -v '{"b":[1,2]}' "$S/d1/b" &&
	setfattr -n user.other -v 'on a dir' "$S/d1" ||
	bail "the local file system ($L) does not take user.* attributes"
touch -d '2001-02-03 04:05:06.789123456' "$S/a" "$S/d1/b"
touch -d '2001-02-03 04:05:07' "$S/d1/d2/bin" "$S/d1/zero" "$S/sp ace caf"*
touch -h -d '2002-01-01 00:00:00.5' "$S/link" "$S/d1/uplink" "$S/dangling"
touch -d '2003-01-01 12:00:00.25' "$S/d1/d2" "$S/d1" "$S/empty" "$S"

# ---- cp --------------------------------------------------------------------
cp "$S/d1/d2/bin" "$N/single"
same_file "$B/single" "$S/d1/d2/bin" "second mount: cp of one file into the mount"
cp "$N/single" "$L/single.out"
same_file "$L/single.out" "$S/d1/d2/bin" "cp of one file out of the mount"

check "cp -r into the mount" cp -r "$S" "$N/cpr"
cp -r "$S" "$L/cpr"
same_tree "$B/cpr" "$L/cpr" mo \
	"second mount: cp -r into the mount left what it leaves on ext4"

check "cp -a into the mount" cp -a "$S" "$N/cpa"
same_tree "$B/cpa" "$S" mox "second mount: cp -a kept modes, owners and attributes"
same_tree "$B/cpa" "$S" t "second mount: cp -a kept every mtime"
is "$(xget "$B/cpa/d1/b" user.kv.expiration)" "$exp" \
	"second mount: cp -a gave the key its expiration"

check "cp -a within the mount" cp -a "$N/cpa" "$N/cpa2"
same_tree "$B/cpa2" "$S" mox "second mount: cp -a within the mount kept modes, owners, attributes"
same_tree "$B/cpa2" "$S" t "second mount: cp -a within the mount kept every mtime"
check "cp -r within the mount" cp -r "$N/cpa" "$N/cpr2"
cp -r "$S" "$L/cpr2"
same_tree "$B/cpr2" "$L/cpr2" mo "second mount: cp -r within the mount, as on ext4"

check "cp -a out of the mount" cp -a "$N/cpa" "$L/cpa.out"
same_tree "$L/cpa.out" "$S" mox "cp -a out of the mount kept modes, owners, attributes"
same_tree "$L/cpa.out" "$B/cpa" t "cp -a out of the mount kept the mount's mtimes"
check "cp -r out of the mount" cp -r "$N/cpa" "$L/cpr.out"
same_tree "$L/cpr.out" "$L/cpr" mo "cp -r out of the mount, as from ext4"

# ---- rsync -a ----------------------------------------------------------------
check "rsync -a into the mount" rsync -a "$S/" "$N/rs/"
same_tree "$B/rs" "$S" mot "second mount: rsync -a kept modes, owners and mtimes"
run rsync -a --itemize-changes "$S/" "$N/rs/"
is "$KV_LAST_OUT" "" "rsync -a again with nothing changed transfers nothing"
run rsync -a --stats "$S/" "$N/rs/"
like "$KV_LAST_OUT" "*Number of regular files transferred: 0*" \
	"rsync --stats agrees: 0 files transferred"
check "rsync -a out of the mount" rsync -a "$N/rs/" "$L/rs.out/"
same_tree "$L/rs.out" "$S" mot "rsync -a out of the mount kept modes, owners and mtimes"
run rsync -a --itemize-changes "$N/rs/" "$L/rs.out/"
is "$KV_LAST_OUT" "" "rsync -a out again with nothing changed transfers nothing"

check "rsync -aX into the mount" rsync -aX "$S/" "$N/rsx/"
same_tree "$B/rsx" "$S" motx "second mount: rsync -aX kept attributes too"
is "$(xget "$B/rsx/d1/b" user.kv.expiration)" "$exp" \
	"second mount: rsync -aX gave the key its expiration"
run rsync -aX --itemize-changes "$S/" "$N/rsx/"
is "$KV_LAST_OUT" "" "rsync -aX again with nothing changed transfers nothing"
check "rsync -aX out of the mount" rsync -aX "$N/rsx/" "$L/rsx.out/"
same_tree "$L/rsx.out" "$S" motx "rsync -aX out of the mount kept everything"

# rsync without --inplace writes a temporary file and renames it over
# the key: the key's own metadata goes (as on ext4).  With --inplace
# (and the delta algorithm) it rewrites the key: the metadata stays.
head -c 300000 /dev/urandom >"$L/big"
for d in "$N" "$L/local"; do
	mkdir -p "$d"
	cp "$L/big" "$d/ip" && cp "$L/big" "$d/tmp"
	setfattr -n user.kv.metadata -v '{"keep":true}' "$d/ip"
	setfattr -n user.kv.metadata -v '{"keep":true}' "$d/tmp"
done
printf 'CHANGED' | dd of="$L/big" bs=1 seek=150000 conv=notrunc 2>/dev/null
# -I: the size is the same and the mtime may be in the same second.
check "rsync --inplace --no-whole-file onto a key" \
	rsync -I --inplace --no-whole-file "$L/big" "$N/ip"
rsync -I --inplace --no-whole-file "$L/big" "$L/local/ip"
same_file "$B/ip" "$L/big" "second mount: rsync --inplace stored the new value"
is "$(xget "$B/ip" user.kv.metadata)" "$(xget "$L/local/ip" user.kv.metadata)" \
	"second mount: rsync --inplace kept the key's metadata (as on ext4)"
check "rsync without --inplace onto a key" rsync -I "$L/big" "$N/tmp"
rsync -I "$L/big" "$L/local/tmp"
same_file "$B/tmp" "$L/big" "second mount: rsync stored the new value"
is "$(xget "$B/tmp" user.kv.metadata)" "$(xget "$L/local/tmp" user.kv.metadata)" \
	"second mount: rsync's rename dropped the key's metadata (as on ext4)"
is "$(ls -A "$B" | grep -c '^\.')" 0 "second mount: no rsync temporary file is left"

# ---- tar -x and tar -c ---------------------------------------------------------
tar -C "$S" -cf "$L/src.tar" . || bail "tar -c of the local tree"
mkdir "$N/tx" "$L/tx"
check "tar -x into the mount" tar -C "$N/tx" -xf "$L/src.tar"
tar -C "$L/tx" -xf "$L/src.tar"
same_tree "$B/tx" "$L/tx" mo "second mount: tar -x kept modes and owners, directories included"
same_tree "$B/tx" "$L/tx" t "second mount: tar -x kept every mtime, directories included"
tar -C "$S" --format=posix --xattrs --xattrs-include='user.*' \
	-cf "$L/srcx.tar" . || bail "tar --xattrs -c of the local tree"
mkdir "$N/txx"
check "tar --xattrs -x (posix format) into the mount" \
	tar -C "$N/txx" --xattrs --xattrs-include='user.*' -xf "$L/srcx.tar"
same_tree "$B/txx" "$S" mox "second mount: tar --xattrs kept modes, owners, attributes"
same_tree "$B/txx" "$S" t "second mount: tar --format=posix kept mtimes to the nanosecond"
check "tar -c (posix format, mtimes in ns) out of the mount exits 0" \
	tar -C "$N/tx" --format=posix -cf "$L/out.tar" .
mkdir "$L/tx.out"
tar -C "$L/tx.out" -xf "$L/out.tar"
same_tree "$L/tx.out" "$B/tx" mot "the archive made from the mount holds the mount's tree"

# ---- touch -----------------------------------------------------------------------
mkdir "$N/t"
check "touch creates an empty key" touch "$N/t/new"
is "$(stat -c '%F %s' "$B/t/new" 2>&1)" "regular empty file 0" \
	"second mount: an empty key"
check "touch -d sets a time with nanoseconds" \
	touch -d '2010-05-06 07:08:09.123456789' "$N/t/new"
is "$(stat -c %.9Y "$B/t/new" 2>&1)" \
	"$(date -d '2010-05-06 07:08:09' +%s).123456789" \
	"second mount: the key's mtime is what touch -d set"
echo value >"$N/t/ref"
touch -d '1999-12-31 23:59:58.5' "$N/t/ref"
echo value2 >"$N/t/copy"
setfattr -n user.kv.metadata -v '{"t":1}' "$N/t/copy"
check "touch -r" touch -r "$N/t/ref" "$N/t/copy"
is "$(stat -c %.9Y "$B/t/copy" 2>&1)" "$(stat -c %.9Y "$B/t/ref" 2>&1)" \
	"second mount: touch -r copied the reference's mtime"
is "$(cat "$B/t/copy") $(xget "$B/t/copy" user.kv.metadata)" 'value2 {"t":1}' \
	"second mount: touch left value and metadata alone"
before=$(date +%s)
check "touch of an existing key" touch "$N/t/ref"
num_cmp "$(stat -c %Y "$B/t/ref" 2>&1)" -ge "$before" \
	"second mount: touch set the mtime to now"
is "$(cat "$B/t/ref" 2>&1)" value "second mount: and kept the value"
mkdir "$N/t/dir"
check "touch -d on a directory" touch -d '2004-04-04 04:04:04' "$N/t/dir"
is "$(stat -c %Y "$B/t/dir" 2>&1)" "$(date -d '2004-04-04 04:04:04' +%s)" \
	"second mount: the directory's mtime"
# What cp -p, cp -a and tar -x do for each file: write, set the times
# on the open file (futimens), close.
futimens='
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"written then timed")
os.utime(fd, ns=(1115269505500000000, 1115269505500000000))
os.close(fd)'
check "write, futimens, close" py "$futimens" "$N/t/futimens"
py "$futimens" "$L/futimens"
is "$(stat -c %.9Y "$B/t/futimens" 2>&1)" "$(stat -c %.9Y "$L/futimens")" \
	"second mount: the mtime set on an open file before close stays (as on ext4)"

# ---- after a remount ---------------------------------------------------------------
kv_remount a
N=${KV_MNTS[a]}/ns
same_tree "$N/cpa" "$S" mox "after remount: the cp -a tree's modes, owners, attributes"
same_tree "$N/cpa" "$S" t "after remount: the cp -a tree's mtimes"
same_tree "$N/rs" "$S" mot "after remount: the rsync -a tree, symlinks included"
same_tree "$N/rsx" "$S" motx "after remount: the rsync -aX tree"
same_tree "$N/tx" "$L/tx" mo "after remount: the tar -x tree's modes and owners"
same_tree "$N/tx" "$L/tx" t "after remount: the tar -x tree's mtimes"
same_tree "$N/txx" "$S" mox "after remount: the tar --xattrs tree's modes, owners, attributes"
same_tree "$N/txx" "$S" t "after remount: the tar --xattrs tree's mtimes"
is "$(stat -c %.9Y "$N/t/futimens" 2>&1)" "$(stat -c %.9Y "$L/futimens")" \
	"after remount: the mtime set with futimens before close"
is "$(stat -c '%s %.9Y' "$N/t/new" 2>&1)" \
	"0 $(date -d '2010-05-06 07:08:09' +%s).123456789" \
	"after remount: the touched key's size and mtime"
run rsync -aX --itemize-changes "$S/" "$N/rsx/"
is "$KV_LAST_OUT" "" "after remount: rsync -aX still has nothing to transfer"

done_testing
