#!/bin/bash
# t_diskfull: the database's disk is full.  The store lives on a 24 MiB
# tmpfs; keys of 1 MiB are written until one fails: the failure is
# ENOSPC (at write or close, never EIO), every key stored before is
# intact (checksums, and after a remount), integrity_check says ok, the
# daemon stays up.  On a disk that full rm may fail with ENOSPC too
# (SQLite writes its log to delete; README, known limits): once space
# is freed on that disk (a ballast file is removed), rm works, and
# writes work again.
. "$(dirname "$0")/lib.sh"

fs=$(kv_tmpdir)
kv_track_dir "$fs"
mount -t tmpfs -o size=24m tmpfs "$fs" || bail "mount a tmpfs"
diskfull_cleanup() {
	local st=$?
	_kv_stop_hard a
	any_mount "$fs" && { umount "$fs" || umount -l "$fs"; }
	(exit "$st")
	_kv_cleanup
}
trap diskfull_cleanup EXIT
kv_new a "[store]
path = $fs/kvfs.db
[namespace ns]"
KV_DBS[a]=$fs/kvfs.db
kv_start a || bail "mount a with its database on a 24 MiB tmpfs"
N=$KV_MNT/ns
head -c 4194304 /dev/zero >"$fs/ballast"

fill='
import hashlib, os
d, log = a[0], a[1]
i = 0
while True:
    body = os.urandom(1048576)
    name = "k%03d" % i
    try:
        with open(os.path.join(d, name), "wb") as f:
            f.write(hashlib.sha256(body).hexdigest().encode() + b" " + body)
    except OSError as e:
        print(i, e.strerror)
        break
    with open(log, "a") as l:
        l.write(name + "\n")
    i += 1
'
verify='
import hashlib, os
d, log = a[0], a[1]
bad = 0
for name in open(log).read().split():
    v = open(os.path.join(d, name), "rb").read()
    digest, _, body = v.partition(b" ")
    bad += hashlib.sha256(body).hexdigest().encode() != digest
print(bad)
'
log=${KV_DIRS[a]}/stored.log
: >"$log"
run py "$fill" "$N" "$log"
like "$KV_LAST_OUT" "* No space left on device" \
	"writing until the disk is full ends with ENOSPC ($KV_LAST_OUT)"
stored=$(wc -l <"$log")
num_cmp "$stored" -gt 5 "keys were stored before ($stored)"
is "$(py "$verify" "$N" "$log")" 0 "every key stored before is intact"
check "the daemon is up: ls works" ls "$N"
is "$(sqlite3 -readonly "$fs/kvfs.db" 'PRAGMA integrity_check' 2>&1)" ok \
	"integrity_check ok"

# A delete writes too: it works (a value kept as a file frees its
# space) or fails with ENOSPC, never anything else.
first=$(head -n 1 "$log")
if run rm "$N/$first"; then
	ok "a full disk: rm works"
else
	like "$KV_LAST_OUT" "*No space left on device" "a full disk: rm fails with ENOSPC"
fi
rm "$fs/ballast"
for k in $(head -n 6 "$log"); do
	[ -e "$N/$k" ] || [ "$k" = "$first" ] || not_ok "$k is there"
	rm -f "$N/$k" || not_ok "rm $k"
done
sed -i 1,6d "$log"
: >"${KV_DIRS[a]}/again.log"
run py 'import hashlib, os
body = os.urandom(1048576)
with open(a[0], "wb") as f:
    f.write(hashlib.sha256(body).hexdigest().encode() + b" " + body)' "$N/again"
is "$?" 0 "once space is freed a 1 MiB write works again"
echo again >>"$log"
kv_remount a
is "$(py "$verify" "$N" "$log")" 0 "after a remount every stored key is intact"

# An fsync that fails on the full disk, then one after space is freed:
# the second stores (it returned 0 and stored nothing), and so would
# the close.
printf old >"$N/retry"
run py '
import errno, os
key, ballast = a[0], a[1]
fd = os.open(key, os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"new" * 200000)
with open(ballast, "wb") as b:
    try:
        while True:
            b.write(b"\0" * 65536)
            b.flush()
    except OSError:
        pass
try:
    os.fsync(fd)
    first = "stored"
except OSError as e:
    first = errno.errorcode[e.errno]
os.unlink(ballast)
os.fsync(fd)
os.close(fd)
with open(key, "rb") as f:
    print(first, f.read() == b"new" * 200000)' "$N/retry" "$fs/ballast2"
is "$KV_LAST_OUT" "ENOSPC True" \
	"fsync: ENOSPC on a full disk; after space is freed, fsync stores"
kv_remount a
is "$(head -c 6 "$N/retry" 2>&1)" newnew "  and the value is there after a remount"

done_testing
