#!/bin/bash
# t_shared: two daemons mounting one database.  With kernel_cache_sec =
# 0 a change through one mount is seen through the other at once; with
# the default cache time, any open after the change sees it (kvfs
# invalidates the kernel's cached data at open), and everything is seen
# after kernel_cache_sec.  Appends from both mounts all arrive.
. "$(dirname "$0")/lib.sh"

kv_shared_mounts

# hold_write_lock DB: another program takes DB's write lock (BEGIN
# IMMEDIATE) and holds it until "$L/release" exists; returns once it
# holds it (or after 5 s), the program's PID in $locker.
hold_write_lock() {
	rm -f "$L/locked" "$L/release"
	py_bg '
import sqlite3
con = sqlite3.connect(a[0], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
open(a[1], "w").close()
while not os.path.exists(a[2]):
    time.sleep(0.02)
con.execute("COMMIT")' "$1" "$L/locked" "$L/release"
	locker=$!
	for _ in $(seq 1 100); do
		[ -e "$L/locked" ] && break
		sleep 0.05
	done
}

echo "from a" >"$A/k"
is "$(cat "$B/k" 2>&1)" "from a" "a key written through A is read through B"
head -c 500000 /dev/urandom >"$L/bin"
cp "$L/bin" "$A/bin"
same_file "$B/bin" "$L/bin" "a 500 KB binary value written through A, read through B"

cat "$B/k" >/dev/null
printf 'FROM A' >"$A/k"
is "$(cat "$B/k" 2>&1)" "FROM A" \
	"B reads a replacement of the same length (no stale page cache)"
echo "a longer value than before" >"$A/k"
is "$(cat "$B/k" 2>&1)" "a longer value than before" "B reads a longer value"
is "$(stat -c %s "$B/k" 2>&1)" 27 "B's stat shows the new size"

echo "from b" >"$B/k2"
is "$(ls "$A" | tr '\n' ' ')" "bin k k2 " "A lists the key B created"
rm "$A/k2"
fails_with "No such file or directory" "a key deleted through A is gone in B" \
	cat "$B/k2"

mkdir "$A/dir"
is "$(stat -c %F "$B/dir" 2>&1)" directory "a directory made through A is in B"
echo x >"$B/dir/x"
fails_with "Directory not empty" "A cannot rmdir what B filled" rmdir "$A/dir"
mkdir "${KV_MNTS[a]}/newns"
is "$(stat -c %F "${KV_MNTS[b]}/newns" 2>&1)" directory \
	"a namespace made through A is in B"

echo a >"$A/excl"
fails_with "File exists" "O_EXCL in B on a key A just created: EEXIST" py '
os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL)' "$B/excl"
is "$(cat "$A/excl")" a "the key keeps A's value"

# Appends from both mounts, two processes each, all arrive.
for p in 1 2; do
	kv_bg bash -c 'for i in $(seq 1 200); do
		echo "a$2 line $i" >>"$1"; done' _ "$A/shared.log" "$p"
	kv_bg bash -c 'for i in $(seq 1 200); do
		echo "b$2 line $i" >>"$1"; done' _ "$B/shared.log" "$p"
done
wait "${KV_BG_PIDS[@]}"
{
	for p in a1 a2 b1 b2; do
		for i in $(seq 1 200); do echo "$p line $i"; done
	done
} | sort >"$L/want.log"
sort "$A/shared.log" >"$L/got.log"
is "$(wc -l <"$A/shared.log")" 800 "800 lines appended through two mounts"
same_file "$L/got.log" "$L/want.log" "every appended line is there once, intact"
is "$(sort "$B/shared.log" | cksum)" "$(cksum <"$L/got.log")" \
	"B reads the same appended value as A"

# ---- the default kernel_cache_sec = 1 ---------------------------------------
kv_stop b
kv_write_config b "[namespace ns]"
kv_start b || bail "mount b again with the default cache time"
B=${KV_MNTS[b]}/ns

fails_with "No such file or directory" "cached: B looks up a missing name" \
	cat "$B/cached"
echo first >"$A/cached"
is "$(cat "$B/cached")" first \
	"cached: B reads the first value at once, though it just missed the name"
echo second >"$A/cached"
is "$(cat "$B/cached")" second \
	"cached: an open in B right after A's put sees the new value"
printf 'third value, longer' >"$A/cached"
is "$(cat "$B/cached")" "third value, longer" \
	"cached: an open in B right after a longer put sees all of it"
# B's kernel learns the new size by a stat or a listing (it keeps the
# old pages): the next open drops those pages, and reads all of it.
echo short >"$A/grown"
is "$(cat "$B/grown")" short "cached: B reads a short value"
printf 'a value grown much longer' >"$A/grown"
sleep 1.5
is "$(stat -c %s "$B/grown")" 25 "cached: B's stat after the cache time"
is "$(cat "$B/grown")" "a value grown much longer" \
	"cached: then an open in B reads all of the new value"
printf 'grown again, and longer still' >"$A/grown"
sleep 1.5
ls -l "$B" >/dev/null
is "$(cat "$B/grown")" "grown again, and longer still" \
	"cached: the same after a listing (ls -l)"
printf 'short again' >"$A/grown"
is "$(cat "$B/grown")" "short again" \
	"cached: and an open right after a shorter put reads just it"
rm "$A/grown"
rm "$A/cached"
sleep 1.5
fails_with "No such file or directory" \
	"cached: after kernel_cache_sec B sees the key deleted" cat "$B/cached"
echo late >"$A/late"
sleep 1.5
is "$(ls "$B" | grep -c '^late$')" 1 \
	"cached: after kernel_cache_sec B lists the new key"

# ---- mv of a directory onto one the other mount is filling ----------------
# A's mv -T src dst (dst empty when A looks) and B's write of dst/new
# both wait for a write lock another program holds; when it is free,
# B's put may commit first.  Then A's rename must fail (ENOTEMPTY) and
# dst/new stay: it replaced dst with everything under it, deleting a
# file whose close() had returned.
lost=0
for round in 1 2 3; do
	rm -rf "$A/src" "$A/dst"
	mkdir "$A/src" "$A/dst"
	echo keep >"$A/src/a"
	hold_write_lock "${KV_DBS[a]}"
	mv -T "$A/src" "$A/dst" 2>/dev/null &
	mover=$!
	sleep 0.3
	(echo important >"$B/dst/new") 2>/dev/null &
	writer=$!
	sleep 0.3
	touch "$L/release"
	wait "$locker"
	wait "$writer"
	wst=$?
	wait "$mover"
	if [ "$wst" = 0 ] && [ "$(cat "$A/dst/new" 2>&1)" != important ]; then
		lost=$((lost + 1))
	fi
done
is "$lost" 0 "mv -T onto a directory another mount fills: no closed file is lost (3 rounds)"
rm -rf "$A/src" "$A/dst"

# ---- a database locked by another program: EBUSY, never EIO -------------
kv_mount_shared c a "[store]
path = ${KV_DBS[a]}
busy_timeout_ms = 300
[mount]
kernel_cache_sec = 0
[namespace ns]"
C=${KV_MNTS[c]}/ns
echo "before the lock" >"$C/locked"
hold_write_lock "${KV_DBS[a]}"
check "another program holds the database's write lock" test -e "$L/locked"
is "$(cat "$C/locked" 2>&1)" "before the lock" "reads work while it is held"
fails_with "Device or resource busy" \
	"a put that waits past busy_timeout_ms fails with EBUSY" py '
f = open(a[0], "wb"); f.write(b"during the lock"); f.close()' "$C/locked"
touch "$L/release"
wait "$locker"
is "$(cat "$C/locked" 2>&1)" "before the lock" \
	"the failed put stored nothing"
printf 'after the lock' >"$C/locked"
is "$(cat "$C/locked" 2>&1)" "after the lock" "puts work again once it is free"

done_testing
