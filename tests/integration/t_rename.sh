#!/bin/bash
# t_rename: mv within a directory, across directories, over an existing
# key; a file renamed while open stores under its new name; a reader
# holding a file open keeps reading the value it opened after the key is
# deleted or replaced by a rename.
. "$(dirname "$0")/lib.sh"

kv_mount a
M=$KV_MNT
N=$M/ns
L=$(kv_tmpdir)
kv_track_dir "$L"
noent="No such file or directory"

# ---- mv ------------------------------------------------------------------
echo one >"$N/a"
check "mv within a directory" mv "$N/a" "$N/b"
is "$(cat "$N/b" 2>&1)" one "the new name holds the value"
fails_with "$noent" "the old name is gone" cat "$N/a"

echo two >"$N/c"
check "mv over an existing key" mv "$N/c" "$N/b"
is "$(cat "$N/b" 2>&1)" two "the target holds the moved value"
fails_with "$noent" "the source is gone" cat "$N/c"
is "$(ls "$N" | tr '\n' ' ')" "b " "only the target is listed"

mkdir "$N/d1" "$N/d2"
head -c 100000 /dev/urandom >"$L/bin"
cp "$L/bin" "$N/d1/x"
check "mv across directories" mv "$N/d1/x" "$N/d2/x"
same_file "$N/d2/x" "$L/bin" "the moved value arrived whole"
is "$(ls -A "$N/d1" | wc -l)" 0 "the source directory is empty"
check "mv into a directory under a new name" mv "$N/b" "$N/d1/renamed"
is "$(cat "$N/d1/renamed" 2>&1)" two "read it under its new name"

mkdir "$M/other"
echo ns2 >"$N/tomove"
check "mv to another namespace" mv "$N/tomove" "$M/other/moved"
is "$(cat "$M/other/moved" 2>&1)" ns2 "the value is in the other namespace"
fails_with "$noent" "and no longer in the first" cat "$N/tomove"

fails_with "$noent" "rename of a missing key: ENOENT" py '
os.rename(a[0], a[1])' "$N/missing" "$N/x"
fails_with "Is a directory" "rename of a key over a directory: EISDIR" py '
os.rename(a[0], a[1])' "$N/d2/x" "$N/d1"
same_file "$N/d2/x" "$L/bin" "the failed rename left the key alone"

check "rename while open for writing" py '
f = open(a[0], "wb"); f.write(b"written before the rename")
os.rename(a[0], a[1]); f.write(b", and after"); f.close()' \
	"$N/open1" "$N/open2"
is "$(cat "$N/open2" 2>&1)" "written before the rename, and after" \
	"the put went to the file's new name"
fails_with "$noent" "and nothing was stored under the old name" \
	cat "$N/open1"

# ---- a reader keeps what it opened ------------------------------------------
head -c 300000 /dev/urandom >"$L/old"
head -c 200000 /dev/urandom >"$L/new"
cp "$L/old" "$N/r1"
run py '
f = open(a[0], "rb")
os.unlink(a[0])
data = f.read()
st = os.fstat(f.fileno())
f.close()
print(data == open(a[1], "rb").read(), st.st_size, st.st_nlink)' \
	"$N/r1" "$L/old"
is "$KV_LAST_OUT" "True 300000 0" \
	"an open reader reads the whole old value after rm (fstat: nlink 0)"
fails_with "$noent" "a new open after rm fails" cat "$N/r1"

cp "$L/old" "$N/r2"
cp "$L/new" "$N/r2.new"
run py '
f = open(a[0], "rb")
head = f.read(1000)
os.rename(a[0] + ".new", a[0])
data = head + f.read()
f.close()
print(data == open(a[1], "rb").read())' "$N/r2" "$L/old"
is "$KV_LAST_OUT" True \
	"an open reader reads the old value after mv replaced the key"
same_file "$N/r2" "$L/new" "a new open reads the new value"

cp "$L/old" "$N/r3"
cp "$L/new" "$N/r3.new"
run py '
import subprocess
f = open(a[0], "rb")
r = f.read(5000)
subprocess.run(["mv", "-f", a[0] + ".new", a[0]], check=True)
rest = f.read()
f.close()
print((r + rest) == open(a[1], "rb").read())' "$N/r3" "$L/old"
is "$KV_LAST_OUT" True "the same with mv run by another process"

printf 'before' >"$N/r4"
run py '
f = open(a[0], "rb")
with open(a[0], "wb") as w:
    w.write(b"after the O_TRUNC rewrite")
print(f.read().decode())' "$N/r4"
is "$KV_LAST_OUT" "after the O_TRUNC rewrite" \
	"an open reader sees a rewrite in place through O_TRUNC"

# ---- after a remount -------------------------------------------------------
kv_remount a
M=$KV_MNT
N=$M/ns
same_file "$N/d2/x" "$L/bin" "after remount: the key moved across directories"
is "$(cat "$N/d1/renamed" 2>&1)" two "after remount: the renamed key"
is "$(cat "$N/open2" 2>&1)" "written before the rename, and after" \
	"after remount: the key renamed while open"
same_file "$N/r2" "$L/new" "after remount: the replaced key has the new value"
is "$(ls -U "$N" | tr '\n' ' ')" "d1 d2 open2 r2 r3 r4 " \
	"after remount: exactly the expected names"

# ---- names a rename may not make --------------------------------------------
# name^v is the value beside directory name: a rename makes it only
# where that directory is, as a create does; a directory never.
echo vv >"$N/vsrc"
mkdir "$N/vdir" "$N/vdir2"
rename_errno() {
	py '
try:
    os.rename(a[0], a[1])
    print("renamed")
except OSError as e:
    print(os.strerror(e.errno))' "$@"
}
is "$(rename_errno "$N/vsrc" "$N/w^v")" "Invalid argument" \
	"rename to w^v without a directory w: EINVAL"
is "$(rename_errno "$N/vdir" "$N/vdir2^v")" "Invalid argument" \
	"rename of a directory to vdir2^v: EINVAL"
check "mv to vdir2^v beside the directory vdir2" mv -T "$N/vsrc" "$N/vdir2^v"
is "$(cat "$N/vdir2^v" 2>&1):$(ls "$N" | grep '^[vw]' | tr '\n' ' ')" \
	"vv:vdir vdir2 vdir2^v " \
	"  the value is there, and nothing else moved"
rm -r "$N/vdir" "$N/vdir2" "$N/vdir2^v"
echo w >"$N/wsrc"
run py '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.renameat2(-100, a[0].encode(), -100, a[1].encode(), 4)
print(rc, os.strerror(ctypes.get_errno()) if rc else "", os.path.exists(a[0]))' \
	"$N/wsrc" "$N/wdst"
is "$KV_LAST_OUT" "-1 Invalid argument True" \
	"renameat2 with RENAME_WHITEOUT: EINVAL, the source stays (no whiteouts)"
rm -f "$N/wsrc"

# ---- changes through a directory while it is renamed -----------------------
# One process renames rd <-> re in a loop; another creates, renames and
# unlinks files through a descriptor of the directory.  On a local file
# system every change lands in the one directory the descriptor names;
# kvfs used the directory's name from before it took its lock, so files
# came to life under the old name (rd and re both, and every rename
# after that ENOTEMPTY) and renames and unlinks failed with ENOENT.
race='
import collections, errno, os, sys, time
root = a[0]
os.mkdir(root + "/rd")
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w)
    os.set_blocking(r, False)
    x, y = root + "/rd", root + "/re"
    bad = 0
    while True:
        try:
            if os.read(r, 1) == b"":
                break
        except BlockingIOError:
            pass
        try:
            os.rename(x, y)
            x, y = y, x
        except OSError:
            bad += 1
    os._exit(min(bad, 100))
os.close(r)
dfd = os.open(root + "/rd", os.O_RDONLY | os.O_DIRECTORY)
errs = collections.Counter()
def do(what, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except OSError as e:
        errs[what + " " + errno.errorcode[e.errno]] += 1
for i in range(400):
    do("create", lambda: os.close(os.open("f%d" % i, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dfd)))
for i in range(400):
    do("rename", os.rename, "f%d" % i, "g%d" % i, src_dir_fd=dfd, dst_dir_fd=dfd)
for i in range(0, 400, 2):
    do("unlink", os.unlink, "g%d" % i, dir_fd=dfd)
os.close(w)
_, st = os.waitpid(pid, 0)
left = sorted(os.listdir(dfd), key=lambda n: int(n[1:]))
os.close(dfd)
dirs = sorted(n for n in os.listdir(root) if n in ("rd", "re"))
want = ["g%d" % i for i in range(1, 400, 2)]
print(dict(errs) or "no errors", os.waitstatus_to_exitcode(st), len(dirs), left == want)'
run py "$race" "$N"
is "$KV_LAST_OUT" "no errors 0 1 True" \
	"creates, renames and unlinks through a directory renamed meanwhile: all land in it"
rm -rf "$N/rd" "$N/re"

done_testing
