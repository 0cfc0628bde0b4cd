#!/bin/bash
# t_tools_mv: mv as users run it.  Within a directory, across
# directories and namespaces, over an existing key while a reader holds
# it (no reader ever sees the key missing), a whole directory of 10,000
# keys in one transaction, and RENAME_NOREPLACE (mv --no-clobber and
# renameat2).  Every result is read back through a second mount of the
# same database and again after a remount: values, metadata, expiration.
. "$(dirname "$0")/lib.sh"

kv_tools_mounts
M=${KV_MNTS[a]}
noent="No such file or directory"
exp=$(($(date +%s) + 7200))

# tag FILE META: give a key metadata and the expiration $exp.
tag() {
	setfattr -n user.kv.metadata -v "$2" "$1" &&
		setfattr -n user.kv.expiration -v "$exp" "$1"
}

# ---- within a directory, across directories, between namespaces ------------
echo one >"$N/a"
tag "$N/a" '{"k":"a"}'
check "mv within a directory" mv "$N/a" "$N/a2"
is "$(cat "$B/a2" 2>&1)" one "second mount: the new name holds the value"
fails_with "$noent" "second mount: the old name is gone" cat "$B/a"
is "$(xget "$B/a2" user.kv.metadata)" '{"k":"a"}' \
	"second mount: the renamed key keeps its metadata"
is "$(xget "$B/a2" user.kv.expiration)" "$exp" \
	"second mount: the renamed key keeps its expiration"

mkdir -p "$N/d1/deep" "$N/d2"
head -c 150000 /dev/urandom >"$L/bin"
cp "$L/bin" "$N/d1/deep/bin"
tag "$N/d1/deep/bin" '{"k":"bin"}'
check "mv across directories" mv "$N/d1/deep/bin" "$N/d2/"
same_file "$B/d2/bin" "$L/bin" "second mount: the moved value arrived whole"
is "$(xget "$B/d2/bin" user.kv.metadata)" '{"k":"bin"}' \
	"second mount: the key moved across directories keeps its metadata"
is "$(ls -A "$B/d1/deep" 2>&1)" "" "second mount: the source directory is empty"

mkdir "$M/other"
echo ns2 >"$N/tomove"
tag "$N/tomove" '{"k":"ns"}'
check "mv of a key to another namespace" mv "$N/tomove" "$M/other/"
is "$(cat "${KV_MNTS[b]}/other/tomove" 2>&1)" ns2 \
	"second mount: the value is in the other namespace"
is "$(xget "${KV_MNTS[b]}/other/tomove" user.kv.expiration)" "$exp" \
	"second mount: it keeps its expiration in the other namespace"
fails_with "$noent" "second mount: and it is gone from the first" \
	cat "$B/tomove"

mkdir -p "$N/tree/x/y"
for i in 1 2 3; do echo "t$i" >"$N/tree/x/y/k$i"; done
echo top >"$N/tree/top"
tag "$N/tree/x/y/k2" '{"k":"tree"}'
check "mv of a directory tree to another namespace" mv "$N/tree" "$M/other/"
is "$(cd "${KV_MNTS[b]}/other/tree" 2>&1 && find . -type f | sort |
	xargs cat 2>&1 | tr '\n' ' ')" "top t1 t2 t3 " \
	"second mount: every key of the tree is in the other namespace"
is "$(xget "${KV_MNTS[b]}/other/tree/x/y/k2" user.kv.metadata)" \
	'{"k":"tree"}' "second mount: a moved key in the tree keeps its metadata"
fails_with "$noent" "second mount: the tree is gone from the first namespace" \
	ls "$B/tree"

# ---- over an existing key, while a reader holds the old value ---------------
head -c 200000 /dev/urandom >"$L/old"
head -c 120000 /dev/urandom >"$L/new"
cp "$L/old" "$N/target"
tag "$N/target" '{"v":"old"}'
cp "$L/new" "$N/target.new"
setfattr -n user.kv.metadata -v '{"v":"new"}' "$N/target.new"
run py '
import subprocess
f = open(a[0], "rb")
head = f.read(4096)
subprocess.run(["mv", "-f", a[0] + ".new", a[0]], check=True)
data = head + f.read()
f.close()
print(data == open(a[1], "rb").read())' "$N/target" "$L/old"
is "$KV_LAST_OUT" True \
	"a reader that opened the key before mv replaced it reads the old value"
same_file "$B/target" "$L/new" "second mount: the key holds the moved value"
fails_with "$noent" "second mount: the moved name is gone" \
	stat "$B/target.new"
is "$(xget "$B/target" user.kv.metadata)" '{"v":"new"}' \
	"second mount: the target has the moved file's metadata (as on ext4)"
is "$(xget "$B/target" user.kv.expiration)" ENODATA \
	"second mount: and not the replaced key's expiration (as on ext4)"

# A writer replaces the key 300 times with mv, readers through both mounts
# open it all the while: every open succeeds and reads one whole version.
printf 'version 0 end\n' >"$N/hot"
kv_bg bash -c 'for i in $(seq 1 300); do
	printf "version %d %0*d end\n" "$i" $((i * 7)) 0 >"$1.tmp" &&
		mv -f "$1.tmp" "$1" || exit 1
done; touch "$2"' _ "$N/hot" "$L/hot.done"
writer=$!
reader='
n = bad = 0
errs = {}
while True:
    done = os.path.exists(a[1])
    try:
        with open(a[0], "rb") as f:
            v = f.read()
        n += 1
        if not (v.startswith(b"version ") and v.endswith(b" end\n")):
            bad += 1
    except OSError as e:
        errs[e.strerror] = errs.get(e.strerror, 0) + 1
    if done:
        break
print("reads>0" if n else "no reads", "torn=%d" % bad, "errors=%r" % errs)'
py_bg "$reader" "$N/hot" "$L/hot.done" >"$L/reader.a"
ra=$!
py_bg "$reader" "$B/hot" "$L/hot.done" >"$L/reader.b"
rb=$!
wait "$writer"
is "$?" 0 "300 mv -f over a key that readers keep opening"
wait "$ra" "$rb"
is "$(cat "$L/reader.a")" "reads>0 torn=0 errors={}" \
	"a reader on the same mount never saw the key missing or torn"
is "$(cat "$L/reader.b")" "reads>0 torn=0 errors={}" \
	"a reader on a second mount never saw the key missing or torn"
is "$(cat "$B/hot")" "$(printf 'version 300 %0*d end' 2100 0)" \
	"second mount: the last version won"

# ---- RENAME_NOREPLACE ----------------------------------------------------------
echo src >"$N/nc.src"
echo dst >"$N/nc.dst"
check "mv --no-clobber onto an existing key exits 0 (coreutils 9.1)" \
	mv --no-clobber "$N/nc.src" "$N/nc.dst"
is "$(cat "$B/nc.dst" 2>&1) $(cat "$B/nc.src" 2>&1)" "dst src" \
	"second mount: mv --no-clobber replaced nothing, moved nothing"
renameat2='
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
if libc.renameat2(-100, a[0].encode(), -100, a[1].encode(), 1) != 0:
    e = ctypes.get_errno()
    raise OSError(e, os.strerror(e))'
fails_with "File exists" "renameat2 RENAME_NOREPLACE onto a key: EEXIST" \
	py "$renameat2" "$N/nc.src" "$N/nc.dst"
is "$(cat "$B/nc.dst" 2>&1)" dst "second mount: the target is untouched"
mkdir -p "$N/ncdir1" "$N/ncdir2"
echo in1 >"$N/ncdir1/f"
echo in2 >"$N/ncdir2/g"
fails_with "File exists" \
	"renameat2 RENAME_NOREPLACE of a directory onto a directory: EEXIST" \
	py "$renameat2" "$N/ncdir1" "$N/ncdir2"
is "$(cat "$B/ncdir1/f" "$B/ncdir2/g" 2>&1 | tr '\n' ' ')" "in1 in2 " \
	"second mount: both directories are untouched"
check "renameat2 RENAME_NOREPLACE to a free name" \
	py "$renameat2" "$N/nc.src" "$N/nc.free"
is "$(cat "$B/nc.free" 2>&1)" src "second mount: the key moved to the free name"
check "mv --no-clobber to a free name" mv --no-clobber "$N/nc.free" "$N/nc.free2"
is "$(cat "$B/nc.free2" 2>&1)" src "second mount: mv --no-clobber moved it"

# ---- a directory of 10,000 keys in one transaction ---------------------------
mkdir -p "$N/big/empty"
check "10,000 keys in 10 directories" py '
for d in range(10):
    os.mkdir("%s/sub%d" % (a[0], d))
    for i in range(1000):
        with open("%s/sub%d/k%04d" % (a[0], d, i), "w") as f:
            f.write("value %d/%d\n" % (d, i))' "$N/big"
tag "$N/big/sub3/k0003" '{"k":"deep"}'
chmod 600 "$N/big/sub7/k0777"
touch -d '2001-02-03 04:05:06' "$N/big/sub9/k0999"

# A reader of the database itself counts the rows below each name in
# one read transaction at a time while mv runs: each snapshot has every
# key under one name and none under the other.
db=${KV_DBS[a]}
py_bg '
import sqlite3
db = sqlite3.connect("file:%s?mode=ro" % a[0], uri=True,
                     isolation_level=None)
db.execute("PRAGMA busy_timeout = 5000")
q = ("SELECT (SELECT count(*) FROM kv WHERE key >= ? AND key < ?),"
     " (SELECT count(*) FROM kv WHERE key >= ? AND key < ?)")
args = (b"big/", b"big0", b"moved/", b"moved0")
seen = set()
while True:
    done = os.path.exists(a[1])
    seen.add(db.execute(q, args).fetchone())
    if done:
        break
print(" ".join("%d,%d" % s for s in sorted(seen)))' "$db" "$L/mv.done" \
	>"$L/snapshots"
snap=$!
sleep 0.3
start=$SECONDS
check "mv of a directory holding 10,000 keys" mv "$N/big" "$N/moved"
touch "$L/mv.done"
wait "$snap"
num_cmp $((SECONDS - start)) -le 10 "the mv took at most 10 s"
rows=$(tr ' ' '\n' <"$L/snapshots" | sed -n 's/^0,\([0-9]*\)$/\1/p')
num_cmp "${rows:-0}" -ge 10000 "the database reader saw all keys under moved/"
is "$(cat "$L/snapshots")" "0,$rows $rows,0" \
	"every database snapshot had all keys under one name, none under both"
is "$(find "$B/moved" -type f | wc -l)" 10000 \
	"second mount: 10,000 keys under the new name"
fails_with "$noent" "second mount: the old name is gone" ls "$B/big"
is "$(cat "$B/moved/sub4/k0444" 2>&1)" "value 4/444" \
	"second mount: a moved key's value"
is "$(stat -c %F "$B/moved/empty" 2>&1)" directory \
	"second mount: the empty directory moved too"
is "$(xget "$B/moved/sub3/k0003" user.kv.metadata) \
$(xget "$B/moved/sub3/k0003" user.kv.expiration)" "{\"k\":\"deep\"} $exp" \
	"second mount: a moved key keeps metadata and expiration"
is "$(stat -c %a "$B/moved/sub7/k0777" 2>&1)" 600 \
	"second mount: a moved key keeps its mode"
is "$(stat -c %Y "$B/moved/sub9/k0999" 2>&1)" \
	"$(date -d '2001-02-03 04:05:06' +%s)" \
	"second mount: a moved key keeps its mtime"

# ---- after a remount ---------------------------------------------------------
kv_remount a
M=${KV_MNTS[a]}
N=$M/ns
is "$(ls -A "$N" | tr '\n' ' ')" \
	"a2 d1 d2 hot moved nc.dst nc.free2 ncdir1 ncdir2 target " \
	"after remount: exactly the expected names"
is "$(ls -A "$M/other" | tr '\n' ' ')" "tomove tree " \
	"after remount: the other namespace holds what was moved there"
is "$(find "$N/moved" -type f | wc -l)" 10000 \
	"after remount: 10,000 keys under the moved directory"
same_file "$N/target" "$L/new" "after remount: the replaced key"
same_file "$N/d2/bin" "$L/bin" "after remount: the key moved across directories"
is "$(xget "$N/a2" user.kv.metadata) $(xget "$N/a2" user.kv.expiration)" \
	"{\"k\":\"a\"} $exp" "after remount: the renamed key's metadata and expiration"

done_testing
