#!/bin/bash
# t_lifecycle: starting and stopping.  /proc/mounts shows fuse.kvfs;
# fusermount3 -u, SIGTERM and SIGINT stop kvfs cleanly (exit status 0,
# no mount left) and the data persists; a file still open for writing
# when kvfs stops stores nothing; a value whose close() returned, or
# that was fsync'd, survives kill -9 of the daemon right after.
. "$(dirname "$0")/lib.sh"

kv_mount a "[namespace ns]"
M=$KV_MNT
N=$M/ns
L=$(kv_tmpdir)
kv_track_dir "$L"

is "$(awk -v m="$M" '$2 == m { print $3 }' /proc/mounts)" fuse.kvfs \
	"/proc/mounts shows the mount as type fuse.kvfs"
log=$(cat "${KV_LOGS[a]}")
like "$log" "*${KV_DBS[a]}*" "the start-up log names the database"
like "$log" "*$M*" "the start-up log names the mountpoint"

# persisted VERB: the data written below reads back after VERB.
head -c 65536 /dev/urandom >"$L/bin"
persisted() {
	same_file "$N/bin" "$L/bin" "after $1: the binary value"
	is "$(cat "$N/text" 2>&1)" "persisted text" "after $1: the text value"
	is "$(stat -c %F "$N/emptydir" 2>&1)" directory \
		"after $1: the empty mkdir'd directory"
	is "$(cat "$M/made/k" 2>&1)" "in a made namespace" \
		"after $1: the key in the namespace made with mkdir"
}
cp "$L/bin" "$N/bin"
echo "persisted text" >"$N/text"
mkdir "$N/emptydir" "$M/made"
echo "in a made namespace" >"$M/made/k"

# ---- clean stops -----------------------------------------------------------
# stopped HOW: the daemon stopped by HOW exited 0 and left no mount.
stopped() {
	if kv_stop a "$1"; then
		is "${KV_STATUS[a]}" 0 "$2: kvfs exits with status 0"
	else
		not_ok "$2: kvfs exits" "still running $KV_STOP_WAIT_SEC s later"
		_kv_stop_hard a
	fi
	if any_mount "$M"; then
		not_ok "$2: no mount is left" "$(grep -F " $M " /proc/mounts)"
	else
		ok "$2: no mount is left"
	fi
}
stopped umount "fusermount3 -u"
kv_start a || bail "mount a again after fusermount3 -u"
persisted "fusermount3 -u and a new mount"
stopped TERM SIGTERM
kv_start a || bail "mount a again after SIGTERM"
persisted "SIGTERM and a new mount"
stopped INT SIGINT
kv_start a || bail "mount a again after SIGINT"
persisted "SIGINT and a new mount"

# ---- a file open for writing when kvfs stops stores nothing ---------------
echo "old value" >"$N/keep"
py_bg '
f = open(a[0], "r+b"); f.write(b"half-written")
g = open(a[1], "wb"); g.write(b"half-written")
f.flush(); g.flush()
open(a[2], "w").close()
time.sleep(120)' "$N/keep" "$N/fresh-key" "$L/ready"
holder=$!
for _ in $(seq 1 100); do
	[ -e "$L/ready" ] && break
	sleep 0.1
done
check "a process holds two files open for writing" test -e "$L/ready"
stopped TERM "SIGTERM with files open for writing"
kill -KILL "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
log=$(cat "${KV_LOGS[a]}")
like "$log" "*keep*" "the log names the open file keep"
like "$log" "*fresh-key*" "the log names the open file fresh-key"
kv_start a || bail "mount a again after SIGTERM with open files"
is "$(cat "$N/keep" 2>&1)" "old value" \
	"an existing key open for writing at the stop keeps its old value"
is "$(cat "$N/fresh-key" 2>/dev/null)" "" \
	"a new key open for writing at the stop holds no half-written value"

# ---- kill -9 right after close() ------------------------------------------
run py '
src = open(a[1], "rb").read()
for i in range(20):
    with open(os.path.join(a[0], "k%02d" % i), "wb") as f:
        f.write(src[i:])
os.kill(int(a[2]), signal.SIGKILL)' "$N" "$L/bin" "${KV_PIDS[a]}"
is "$KV_LAST_OUT" "" "write 20 keys, close them, kill -9 the daemon"
kv_stop a KILL
is "${KV_STATUS[a]}" 137 "the daemon died of SIGKILL"
kv_start a || bail "mount a again after kill -9"
ok_keys=0
for i in $(seq 0 19); do
	tail -c +$((i + 1)) "$L/bin" | cmp -s - "$N/$(printf k%02d "$i")" &&
		ok_keys=$((ok_keys + 1))
done
is "$ok_keys" 20 "all 20 closed values survived kill -9"
persisted "kill -9 and a new mount"

run py '
f = open(a[0], "wb")
f.write(b"synced, never closed")
f.flush()
os.fsync(f.fileno())
os.kill(int(a[1]), signal.SIGKILL)
try:
    f.close()
except OSError:
    pass' "$N/synced" "${KV_PIDS[a]}"
kv_stop a KILL
kv_start a || bail "mount a again after fsync and kill -9"
is "$(cat "$N/synced" 2>&1)" "synced, never closed" \
	"a value fsync'd before kill -9 survived"

done_testing
