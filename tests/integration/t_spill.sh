#!/bin/bash
# t_spill: memory stays bounded while many large files are open for
# writing, and a full spill folder is an error, not a loss.  kvfs keeps
# each open file's content in memory up to 1 MiB, then in an unlinked
# file in the folder <database>-values (README; $TMPDIR without it).
#   - KVFS_SPILL_FILES files (default 10; KVFS_SOAK_FULL=1 or `make
#     soak`: 50) open for writing at once, each written round-robin in
#     1 MiB writes up to 25 MiB, then closed: every value is stored
#     whole and the daemon's peak RSS (VmHWM) stays under
#     KVFS_SPILL_RSS_MIB (default 16 MiB + 1.25 MiB per file, the
#     figure README states).
#   - the database and its values folder on an 8 MiB tmpfs: a 20 MiB
#     rewrite of a stored key fails with ENOSPC on the write that
#     crosses the space, close() reports it too, and the key keeps its
#     old value; a new key written that way stores nothing (it stays
#     empty, as its create made it).  The daemon stays up and later
#     writes work.
. "$(dirname "$0")/lib.sh"

if [ "${KVFS_SOAK_FULL:-0}" = 1 ]; then FILES=50; else FILES=10; fi
FILES=${KVFS_SPILL_FILES:-$FILES}
# Up to 1 MiB of each open file stays in memory (a round of 1 MiB writes
# holds that much in every file at once), over the daemon's own.
RSS_MIB=${KVFS_SPILL_RSS_MIB:-$((16 + FILES * 5 / 4))}

spill=$(kv_tmpdir)
kv_track_dir "$spill"
kv_mount a
N=$KV_MNT/ns

many='
import hashlib, os
d, files, mib = a[0], int(a[1]), 25
fds = [os.open(os.path.join(d, "big%02d" % i), os.O_WRONLY | os.O_CREAT |
               os.O_TRUNC) for i in range(files)]
for m in range(mib):
    for i, fd in enumerate(fds):
        chunk = hashlib.sha256(b"%d.%d" % (i, m)).digest() * 32768
        os.write(fd, chunk)
print(sum(1 for n in os.listdir("/proc/%s/fd" % a[2])
          if os.readlink("/proc/%s/fd/%s" % (a[2], n)).endswith("(deleted)")))
for fd in fds:
    os.close(fd)
'
run py "$many" "$N" "$FILES" "${KV_PIDS[a]}"
st=$?
is "$st" 0 "$FILES files of 25 MiB written at once, all closed ($KV_LAST_OUT)"
num_cmp "${KV_LAST_OUT:-0}" -ge "$FILES" \
	"while open, the daemon held a temporary file per large file"
sizes=$(stat -c %s "$N"/big* | sort -u)
is "$sizes" 26214400 "every value is stored with its 25 MiB"
check_one='
import hashlib, os
d = a[0]
bad = 0
for i in range(int(a[1])):
    want = b"".join(hashlib.sha256(b"%d.%d" % (i, m)).digest() * 32768
                    for m in range(25))
    bad += open(os.path.join(d, "big%02d" % i), "rb").read() != want
print(bad)
'
is "$(py "$check_one" "$N" "$FILES" 2>&1)" 0 "every value is stored byte for byte"
hwm=$(awk '/^VmHWM/ { print int($2 / 1024) }' "/proc/${KV_PIDS[a]}/status")
diag "daemon peak RSS (VmHWM): $hwm MiB with $FILES files of 25 MiB open"
# AddressSanitizer's shadow memory and quarantine say nothing of kvfs's.
if ldd "$KVFS_BIN" 2>/dev/null | grep -q libasan; then
	skip "the daemon's peak RSS stays under $RSS_MIB MiB" \
		"kvfs is built with SANITIZE=1 ($hwm MiB)"
else
	num_cmp "$hwm" -lt "$RSS_MIB" \
		"the daemon's peak RSS stays under $RSS_MIB MiB ($hwm MiB)"
fi
is "$(find "/proc/${KV_PIDS[a]}/fd" -lname '*(deleted)' | wc -l)" 0 \
	"no temporary file is left open"
rm -f "$N"/big*

# A full spill folder: the database and its values folder on a tmpfs.
small=$(kv_tmpdir)
kv_track_dir "$small"
mount -t tmpfs -o size=8m tmpfs "$small" || bail "mount a tmpfs"
# At exit: the daemons first (they hold the tmpfs), then the tmpfs.
spill_cleanup() {
	local st=$? id
	for id in "${KV_IDS[@]}"; do _kv_stop_hard "$id"; done
	any_mount "$small" && { umount "$small" || umount -l "$small"; }
	(exit "$st")
	_kv_cleanup
}
trap spill_cleanup EXIT
kv_stop a
kv_new full "[store]
path = $small/kvfs.db
[namespace ns]"
kv_start full || bail "mount with the database on an 8 MiB tmpfs"
N=$KV_MNT/ns

head -c 300000 /dev/urandom >"$spill/old"
cp "$spill/old" "$N/keep" || bail "store keep"
rewrite='
import os
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
err = None
try:
    for i in range(20):
        os.write(fd, b"x" * 1048576)
except OSError as e:
    err = e
print(i, err.strerror if err else "no error")
try:
    os.close(fd)
    print("close ok")
except OSError as e:
    print("close:", e.strerror)
'
run py "$rewrite" "$N/keep"
like "$KV_LAST_OUT" "[0-9]* No space left on device*" \
	"a 20 MiB rewrite fails with ENOSPC when the spill folder is full"
diag "$KV_LAST_OUT"
same_file "$N/keep" "$spill/old" "the key keeps its old value"
run py "$rewrite" "$N/new"
like "$KV_LAST_OUT" "[0-9]* No space left on device*" "a new 20 MiB key: ENOSPC"
check_fails "the new key is not stored (nothing was, its create neither)" \
	test -e "$N/new"
is "$(find "/proc/${KV_PIDS[full]}/fd" -lname '*(deleted)' | wc -l)" 0 \
	"the failed files' temporary files are closed, their space free again"
head -c 3000000 /dev/urandom >"$spill/mid"
check "a 3 MiB write works after the failures" cp "$spill/mid" "$N/mid"
same_file "$N/mid" "$spill/mid" "and is stored"
kv_stop full || not_ok "kvfs stops"

# A value written long before its close, whose put then waits for the
# database while another kvfs process opens the store (its sweep takes
# a value file no row names for an hour for junk): the value is kept.
# The sweep judged the file by its last write, and deleted a value whose
# close() then returned.
kv_start a || bail "mount a again"
run py '
import glob, os, sqlite3, subprocess, threading, time
key, db, pid, kvfs, conf = a[0], a[1], a[2], a[3], a[4]
fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"v" * (2 << 20))  # past 1 MiB: a spill file of the daemon
old = time.time() - 7200
spills = 0
for p in glob.glob("/proc/%s/fd/*" % pid):
    try:
        if os.readlink(p).startswith(os.path.realpath(db) + "-values/"):
            os.utime(p, (old, old))  # written two hours ago
            spills += 1
    except OSError:
        pass  # an fd closed meanwhile
lock = sqlite3.connect(db, isolation_level=None)
lock.execute("BEGIN IMMEDIATE")
closed = []
t = threading.Thread(target=lambda: closed.append(os.close(fd)))
t.start()
time.sleep(0.5)  # the put waits for the lock, its file linked
subprocess.run([kvfs, "-c", conf, "list", "ns"], capture_output=True)
lock.execute("COMMIT")
t.join()
with open(key, "rb") as f:
    print(spills, closed == [None], f.read() == b"v" * (2 << 20))' \
	"${KV_MNTS[a]}/ns/late" "${KV_DBS[a]}" "${KV_PIDS[a]}" "$KVFS_BIN" "${KV_CONFS[a]}"
is "$KV_LAST_OUT" "1 True True" \
	"a value written 2 h before its close, swept while its put waits: kept"

done_testing
