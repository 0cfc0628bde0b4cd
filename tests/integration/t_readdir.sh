#!/bin/bash
# t_readdir: how listings reach the store.  `ls -l` of a large directory
# gets every entry's attributes with the listing (readdirplus): the
# daemon's request trace shows no LOOKUP or GETATTR per file.  A
# directory whose subdirectories hold many keys lists only the
# subdirectories.  seekdir back to a position telldir gave returns the
# same entries again.
. "$(dirname "$0")/lib.sh"

export KVFS_TEST_DEBUG=1
kv_mount a
N=$KV_MNT/ns
log=${KV_LOGS[a]}

check "create 2,000 keys and a subdirectory" py '
d = a[0]
os.mkdir(d + "/big")
for i in range(2000):
    with open("%s/big/f%04d" % (d, i), "w") as f:
        f.write("v")
os.mkdir(d + "/big/sub")
with open(d + "/big/sub/x", "w") as f:
    f.write("x")' "$N"

kv_remount a # the kernel forgets every name and attribute
N=$KV_MNT/ns
before=$(grep -c 'opcode: LOOKUP\|opcode: GETATTR' "$log")
is "$(ls -l "$N/big" | awk 'NR > 1' | wc -l)" 2001 "ls -l lists 2,001 entries"
after=$(grep -c 'opcode: LOOKUP\|opcode: GETATTR' "$log")
num_cmp "$((after - before))" -le 5 \
	"ls -l of 2,001 entries: at most 5 LOOKUP/GETATTR requests, not one per file"
is "$(ls -l "$N/big" | awk '$NF == "f0007" { print $1, $5 }')" \
	"-rw-r--r-- 1" "the mode and size that readdirplus gave are right"

# ---- subtrees are skipped ----------------------------------------------
check "a tree: 3 subdirectories of 500 keys, 2 files" py '
d = a[0] + "/tree"
os.mkdir(d)
for s in ("a", "b", "c"):
    os.mkdir(d + "/" + s)
    for i in range(500):
        with open("%s/%s/k%03d" % (d, s, i), "w") as f:
            f.write("v")
for n in ("a.txt", "z"):
    with open(d + "/" + n, "w") as f:
        f.write("f")' "$N"
kv_remount a
N=$KV_MNT/ns
before=$(grep -c 'READDIR' "$log")
is "$(ls -U "$N/tree" | tr '\n' ' ')" "a.txt a b c z " \
	"the top of the tree lists its 3 subdirectories and 2 files, in key order ('.' sorts before '/')"
after=$(grep -c 'READDIR' "$log")
num_cmp "$((after - before))" -le 3 \
	"listing the top takes at most 3 readdir requests, whatever lies below"

# ---- seekdir -----------------------------------------------------------
run py '
import ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
class Dirent(ctypes.Structure):
    _fields_ = [("ino", ctypes.c_uint64), ("off", ctypes.c_int64),
                ("reclen", ctypes.c_ushort), ("type", ctypes.c_ubyte),
                ("name", ctypes.c_char * 256)]
libc.opendir.restype = ctypes.c_void_p
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.readdir.argtypes = [ctypes.c_void_p]
libc.telldir.restype = ctypes.c_long
libc.telldir.argtypes = [ctypes.c_void_p]
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
d = libc.opendir(a[0].encode())
def take(n):
    out = []
    for _ in range(n):
        e = libc.readdir(d)
        if not e:
            break
        out.append(e.contents.name.decode())
    return out
take(700)
pos = libc.telldir(d)
first = take(300)
take(500)
libc.seekdir(d, pos)
again = take(300)
print(len(first), first == again, first[0], first[-1])' "$N/big"
is "$KV_LAST_OUT" "300 True f0698 f0997" \
	"seekdir back to a telldir position lists the same 300 entries again"

# ---- a listing goes on under a new name ---------------------------------
# The directory being listed, or its parent, renamed to a shorter and a
# longer name between two reads: every entry once, as on a local file
# system (the positions kvfs keeps were whole keys of the old name: the
# listing stopped short, repeated entries, or read past the key and
# crashed the daemon).
for how in self:s self:selflonger parent:p parent:parentlonger; do
	what=${how%%:*}
	to=${how#*:}
	run py '
import os, sys
root, what, to = a[0], a[1], a[2]
os.makedirs(root + "/lr/d")
for i in range(1500):
    open("%s/lr/d/k%04d" % (root, i), "w").close()
it = os.scandir(root + "/lr/d")
seen = [next(it).name for _ in range(5)]
if what == "self":
    os.rename(root + "/lr/d", root + "/lr/" + to)
else:
    os.rename(root + "/lr", root + "/" + to)
seen += [e.name for e in it]
it.close()
want = ["k%04d" % i for i in range(1500)]
print(len(seen), sorted(seen) == want)' "$N" "$what" "$to"
	is "$KV_LAST_OUT" "1500 True" \
		"listing a directory while its $what is renamed to '$to': every entry once"
	is "$(cat "$N/big/f0001" 2>&1)" v "  and the daemon still answers"
	rm -rf "$N/lr" "$N/$to"
done

done_testing
