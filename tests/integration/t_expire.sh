#!/bin/bash
# t_expire: expired keys (issue 3).  A key whose expiration is at or
# before now is gone everywhere at once, between sweeps too: stat, cat,
# getfattr fail with ENOENT, ls leaves it out, and the same name created
# again starts fresh, without the old metadata, expiration or
# attributes.  The kernel's caches do not keep an expired key alive: a
# real TTL of 60 s on a mount with kernel_cache_sec = 3600 is gone by
# the second boundary of its expiration.  The background sweep
# (sweep_sec) deletes expired rows and their attributes from the store,
# without ever showing an expired key or losing a live one in a listing.
#
# Apart from the real 60 s TTL, expirations are written straight into
# the database with sqlite3 (the minimum TTL is 60 s).
. "$(dirname "$0")/lib.sh"

enoent="No such file or directory"
noattr="No such attribute"

# sq ID SQL: a read-only query on mount ID's database.
sq() {
	sqlite3 -readonly -cmd '.timeout 5000' "${KV_DBS[$1]}" "$2" 2>&1
}
# sqw ID SQL: a write to mount ID's database (shared while mounted).
sqw() {
	sqlite3 -cmd '.timeout 5000' "${KV_DBS[$1]}" "$2" 2>&1
}
# keys NS KEY...: the SQL condition for these keys of namespace NS.
keys() {
	local ns=$1 k list=
	shift
	for k in "$@"; do
		list="$list${list:+, }CAST('$k' AS BLOB)"
	done
	printf "ns = (SELECT id FROM ns WHERE name = '%s') AND kind = 0 AND key IN (%s)" \
		"$ns" "$list"
}
# gx FILE NAME: the attribute's value through getfattr, or its error.
gx() {
	getfattr --absolute-names --only-values -n "$2" -- "$1" 2>&1
}
# sleep_until T: sleep until the wall clock reads T (seconds, may be
# fractional).
sleep_until() {
	python3 -c 'import sys, time
d = float(sys.argv[1]) - time.time()
if d > 0:
    time.sleep(d)' "$1"
}
# names FILE: the names listxattr gives, sorted, on one line.
names() {
	py 'print(" ".join(sorted(os.listxattr(a[0]))))' "$1" 2>&1
}
# mount_with ID CONFIG DESC: mount ID with CONFIG (a whole config with
# its own [store] section), one check that it mounts; if it does not,
# mount it with the default [store] and [namespace ns] so that the
# checks that follow still run.
mount_with() {
	kv_new "$1" "$2"
	if kv_start "$1"; then
		ok "$3"
	else
		not_ok "$3" "kvfs refused the config: $(show "$2")"
		kv_write_config "$1" "[namespace ns]"
		kv_start "$1" || bail "mount $1 with the default config"
	fi
}

# ---- a real TTL of 60 s, on a mount that lets the kernel cache 1 hour -------
# Started first; the other parts run while the 60 s pass.
kv_mount c "[mount]
kernel_cache_sec = 3600
[namespace ns]"
C=${KV_MNTS[c]}/ns

now0=$(date +%s)
echo one >"$C/t1"
setfattr -n user.kv.metadata -v '{"t":1}' "$C/t1"
setfattr -n user.note -v old "$C/t1"
check "TTL 60 on t1" setfattr -n user.kv.expiration_ttl -v 60 "$C/t1"
E1=$(gx "$C/t1" user.kv.expiration)
now1=$(date +%s)
if [[ $E1 =~ ^[0-9]+$ ]] && [ "$E1" -ge $((now0 + 60)) ] &&
	[ "$E1" -le $((now1 + 60)) ]; then
	ok "t1 expires 60 s from now"
else
	not_ok "t1 expires 60 s from now" \
		"expected $((now0 + 60))..$((now1 + 60)), got $(show "$E1")"
	E1=$((now1 + 60))
fi
stat "$C/t1" >/dev/null
cat "$C/t1" >/dev/null
ls -l "$C" >/dev/null

# t2: looked up (and cached by the kernel for an hour) before its TTL.
echo two >"$C/t2"
stat "$C/t2" >/dev/null
cat "$C/t2" >/dev/null
check "TTL 60 on t2, already in the kernel's cache" \
	setfattr -n user.kv.expiration_ttl -v 60 "$C/t2"
stat "$C/t2" >/dev/null
E2=$(gx "$C/t2" user.kv.expiration)

# t3: TTL set through the open file before its first close.
check "TTL 60 on t3 with fsetxattr before the first close" py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b"three\n")
os.setxattr(fd, "user.kv.expiration_ttl", b"60")
os.close(fd)
os.stat(a[0])' "$C/t3"
E3=$(gx "$C/t3" user.kv.expiration)

# d/t4: in a directory, listed before and after.
mkdir "$C/d"
echo four >"$C/d/t4"
ls -l "$C/d" >/dev/null
check "TTL 60 on d/t4" setfattr -n user.kv.expiration_ttl -v 60 "$C/d/t4"
E4=$(gx "$C/d/t4" user.kv.expiration)
ls -l "$C/d" >/dev/null
echo stays >"$C/stay"
stat "$C/stay" >/dev/null

emin=$E1 emax=$E1
for e in "$E2" "$E3" "$E4"; do
	if ! [[ $e =~ ^[0-9]+$ ]]; then
		not_ok "the TTLs gave expirations" "got $(show "$e")"
		continue
	fi
	[ "$e" -lt "$emin" ] && emin=$e
	[ "$e" -gt "$emax" ] && emax=$e
done

# The same with an expiration the mount learns from the store: a key
# written through a second mount of c's database, its expiration set
# with sqlite3, looked up through c 1.5 s before it (in the middle of a
# second) is gone 0.3 s after it.
kv_mount_shared c2 c "[namespace ns]"
echo soon >"${KV_MNTS[c2]}/ns/soon"
sqw c "UPDATE kv SET expiration = strftime('%s','now') + 3
	WHERE $(keys ns soon)"
Es=$(sq c "SELECT expiration FROM kv WHERE $(keys ns soon)")
sleep_until "$((Es - 2)).5"
is "$(cat "$C/soon" 2>&1)" soon "(c) 1.5 s before its expiration the key reads"
stat "$C/soon" >/dev/null 2>&1
sleep_until "$Es.3"
fails_with "$enoent" "(c) 0.3 s after its expiration stat fails, kernel cache 1 h" \
	stat "$C/soon"
fails_with "$enoent" "(c) and cat fails" cat "$C/soon"
kv_stop c2

# ---- expiry between sweeps, checked at each access -------------------------------
# A long sweep interval, so that nothing but the access checks see the
# expired rows.
mount_with a "[store]
path = kvfs.db
sweep_sec = 3600
[namespace ns]" "a mount with sweep_sec = 3600"
A=${KV_MNTS[a]}/ns

echo edge >"$A/edge"
echo old >"$A/gone"
setfattr -n user.kv.metadata -v '{"old": true}' "$A/gone"
setfattr -n user.note -v old "$A/gone"
setfattr -n user.kv.expiration_ttl -v 3600 "$A/gone"
mkdir "$A/dd"
echo old2 >"$A/dd/gone2"
setfattr -n user.note -v old2 "$A/dd/gone2"
echo old3 >"$A/gone3"
echo old4 >"$A/gone4"
echo stays >"$A/stay"
stat "$A/gone" "$A/dd/gone2" "$A/gone3" "$A/gone4" >/dev/null
ls -l "$A" "$A/dd" >/dev/null
id_gone=$(sq a "SELECT id FROM kv WHERE $(keys ns gone)")

# An expiration equal to now: expired at once.  (Nothing looked edge up
# for more than the kernel's 1 s cache time.)
sleep 1.2
sqw a "UPDATE kv SET expiration = strftime('%s','now')
	WHERE $(keys ns edge)"
fails_with "$enoent" "a key whose expiration is now: stat fails with ENOENT" \
	stat "$A/edge"
is "$(ls "$A" | grep -c '^edge$')" 0 "and ls leaves it out"

sqw a "UPDATE kv SET expiration = strftime('%s','now') + 2
	WHERE $(keys ns gone dd/gone2 gone3 gone4)"
E=$(sq a "SELECT expiration FROM kv WHERE $(keys ns gone)")
is "$(cat "$A/gone" 2>&1)" old "before its expiration the key reads as before"
is "$(gx "$A/gone" user.note)" old "and keeps its attributes"
sleep_until $((E + 1))

fails_with "$enoent" "expired: stat fails with ENOENT" stat "$A/gone"
fails_with "$enoent" "expired: cat fails with ENOENT" cat "$A/gone"
fails_with "$enoent" "expired: open O_RDONLY fails with ENOENT" py '
os.open(a[0], os.O_RDONLY)' "$A/gone"
fails_with "$enoent" "expired: open O_WRONLY (no O_CREAT) fails with ENOENT" py '
os.open(a[0], os.O_WRONLY)' "$A/gone"
fails_with "$enoent" "expired: getfattr fails with ENOENT" \
	getfattr -n user.note "$A/gone"
fails_with "$enoent" "expired: a key in a directory, stat fails with ENOENT" \
	stat "$A/dd/gone2"
is "$(ls "$A" | tr '\n' ' ')" "dd stay " "expired: ls leaves the expired keys out"
is "$(ls -A "$A/dd" | tr '\n' ' ')" "" "expired: ls of the directory shows nothing"
is "$(find "$A" | sort | tr '\n' ' ')" "$A $A/dd $A/stay " \
	"expired: find sees only the live entries"
check_fails "expired: test -e is false" test -e "$A/gone3"
rows=$(sq a "SELECT count(*) FROM kv WHERE $(keys ns gone dd/gone2 gone3 gone4)")
diag "(rows of the expired keys still in the table: $rows)"

check "a new file with the expired key's name" \
	bash -c 'echo fresh >"$1"' _ "$A/gone"
is "$(cat "$A/gone" 2>&1)" fresh "it reads the new value"
is "$(names "$A/gone")" "" "it has no attribute of the old key"
fails_with "$noattr" "no old metadata" getfattr -n user.kv.metadata "$A/gone"
fails_with "$noattr" "no old user.note" getfattr -n user.note "$A/gone"
fails_with "$noattr" "no old expiration" getfattr -n user.kv.expiration "$A/gone"
is "$(sq a "SELECT quote(metadata), expiration, value FROM kv WHERE $(keys ns gone)")" \
	"NULL|0|fresh" "the store: no metadata, no expiration, the new value"
is "$(sq a "SELECT count(*) FROM xattr WHERE row IN
	(SELECT id FROM kv WHERE $(keys ns gone))${id_gone:+ OR row = $id_gone}")" 0 \
	"the store keeps no attribute row of the old key"
check "O_CREAT|O_EXCL over an expired key works" py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b"new2")
os.close(fd)' "$A/dd/gone2"
is "$(cat "$A/dd/gone2" 2>&1)|$(names "$A/dd/gone2")" "new2|" \
	"it holds the new value and no old attribute"
check "mkdir with an expired key's name works" mkdir "$A/gone3"
is "$(stat -c %F "$A/gone3" 2>&1)" directory "it is a directory"
check "appending to an expired key works" bash -c 'echo app >>"$1"' _ "$A/gone4"
is "$(cat "$A/gone4" 2>&1)" app "the append starts from an empty value"
is "$(cat "$A/stay" 2>&1)" stays "the permanent key is untouched"

# ---- the background sweep ------------------------------------------------------
mount_with b "[store]
path = kvfs.db
sweep_sec = 1
[namespace ns]" "a mount with sweep_sec = 1"
B=${KV_MNTS[b]}/ns
for k in s1 s2 s3 k4 k5; do
	echo "$k" >"$B/$k"
	setfattr -n user.kv.metadata -v "{\"k\":\"$k\"}" "$B/$k"
	setfattr -n user.note -v "$k" "$B/$k"
done
ids=$(sq b "SELECT group_concat(id) FROM kv WHERE $(keys ns s1 s2 s3)")
sqw b "UPDATE kv SET expiration = strftime('%s','now') + 2
	WHERE $(keys ns s1 s2 s3)"
E=$(sq b "SELECT max(expiration) FROM kv WHERE $(keys ns s1 s2 s3)")
# Expired at E; the next sweep is at most 1 s later.  0.5 s of slack.
sleep_until "$E.5"
sleep 1
is "$(sq b "SELECT count(*) FROM kv WHERE $(keys ns s1 s2 s3)")" 0 \
	"within the sweep interval the expired rows are deleted"
is "$(sq b "SELECT count(*) FROM xattr WHERE row IN (${ids:-0})")" 0 \
	"and their attribute rows too"
is "$(sq b "SELECT count(*) FROM kv WHERE $(keys ns k4 k5) AND metadata IS NOT NULL")" 2 \
	"the live rows are still there with their metadata"
is "$(sq b "SELECT count(*) FROM xattr WHERE row IN (SELECT id FROM kv WHERE $(keys ns k4 k5))")" 2 \
	"and with their attribute rows"
is "$(sq b "SELECT n.keys = (SELECT count(*) FROM kv WHERE ns = n.id) AND
	n.bytes = (SELECT coalesce(sum(size), 0) FROM kv WHERE ns = n.id)
	FROM ns n WHERE name = 'ns'")" 1 \
	"the namespace's key and byte counts match its rows after the sweep"
is "$(ls "$B" | tr '\n' ' ')" "k4 k5 " "ls shows the live keys"

# Many expired keys among live ones: listings during the sweep show
# exactly the live keys, requests are answered quickly meanwhile, and
# every expired row goes.
mkdir "$B/batch"
check "2000 keys written" py '
for i in range(2000):
    with open("%s/b%04d" % (a[0], i), "wb") as f:
        f.write(b"v%d" % i)' "$B/batch"
sqw b "UPDATE kv SET expiration = strftime('%s','now') + 2
	WHERE ns = (SELECT id FROM ns WHERE name = 'ns') AND kind = 0
	AND key >= CAST('batch/' AS BLOB) AND key < CAST('batch0' AS BLOB)
	AND CAST(substr(CAST(key AS TEXT), 8) AS INTEGER) % 2 = 0"
E=$(sq b "SELECT max(expiration) FROM kv WHERE ns = (SELECT id FROM ns WHERE name = 'ns')")
n=$(sq b "SELECT count(*) FROM kv WHERE expiration > 0")
[ "$n" = 1000 ] || diag "(the UPDATE gave $n keys an expiration, not 1000)"
run py '
import sqlite3
want = set("b%04d" % i for i in range(1, 2000, 2))
db = sqlite3.connect("file:%s?mode=ro" % a[1], uri=True, timeout=5)
t_exp = float(a[2])
while time.time() < t_exp + 0.05:
    time.sleep(0.01)
listings = bad = 0
worst = 0.0
gone_at = None
deadline = t_exp + 30
while time.time() < deadline:
    t0 = time.time()
    names = set(os.listdir(a[0]))
    os.stat(a[0] + "/b0001")
    with open(a[0] + "/b1999", "rb") as f:
        f.read()
    worst = max(worst, time.time() - t0)
    listings += 1
    if names != want:
        bad += 1
        if bad == 1:
            print("# first bad listing: %d names, missing %s, extra %s" % (
                len(names), sorted(want - names)[:5], sorted(names - want)[:5]))
    left = db.execute("SELECT count(*) FROM kv WHERE expiration > 0").fetchone()[0]
    if left == 0 and gone_at is None:
        gone_at = time.time() - t_exp
    if gone_at is not None and listings >= 3:
        break
print("listings %d bad %d" % (listings, bad))
print("worst %.3f" % worst)
print("gone %s" % ("after %.1f s" % gone_at if gone_at is not None else "never"))
' "$B/batch" "${KV_DBS[b]}" "$E"
out=$KV_LAST_OUT
printf '%s\n' "$out" | grep '^#'
is "$(printf '%s\n' "$out" | sed -n 's/^listings [0-9]* bad //p')" 0 \
	"every listing during the sweep shows exactly the 1000 live keys"
worst=$(printf '%s\n' "$out" | sed -n 's/^worst //p')
if [ -n "$worst" ] && awk -v w="$worst" 'BEGIN { exit !(w < 1.0) }'; then
	ok "requests during the sweep are answered within 1 s (worst $worst s)"
else
	not_ok "requests during the sweep are answered within 1 s" \
		"got: $(show "$out")"
fi
like "$out" "*gone after *" "all 1000 expired rows are swept (within 30 s)"
is "$(sq b "SELECT count(*) FROM kv WHERE key >= CAST('batch/' AS BLOB)
	AND key < CAST('batch0' AS BLOB) AND kind = 0")" 1000 \
	"the 1000 live keys are all still in the store"
is "$(cat "$B/batch/b1001" 2>&1)" v1001 "a live key reads its value"

# ---- back to the real TTL of 60 s -------------------------------------------------
# Looked up again in the middle of a second, 1.5 s before the first
# expiration; gone 0.3 s after the last one.
if [ "$(date +%s)" -lt $((emin - 2)) ]; then
	sleep_until "$((emin - 2)).5"
	st=$(stat -c %n "$C/t1" "$C/t2" "$C/t3" "$C/d/t4" 2>&1 | wc -l)
	is "$st" 4 "1.5 s before the expiration the four keys are still there"
	is "$(cat "$C/t1" "$C/t2" "$C/t3" "$C/d/t4" 2>&1 | tr '\n' ' ')" \
		"one two three four " "and they read their values"
	ttl=$(gx "$C/t1" user.kv.expiration_ttl)
	now=$(date +%s)
	is "$ttl" $((E1 - now)) "user.kv.expiration_ttl gives the seconds left"
else
	for d in "still there before the expiration" "values before the expiration" \
		"user.kv.expiration_ttl before the expiration"; do
		skip "$d" "the checks above took until the expiration"
	done
fi
# Each key 0.3 s after its own expiration.
for v in E2 E3 E4; do
	[[ ${!v} =~ ^[0-9]+$ ]] || printf -v "$v" %s "$emax"
done
sleep_until "$E1.3"
fails_with "$enoent" "TTL 60, kernel cache 1 h: 0.3 s after its expiration t1 stat fails" \
	stat "$C/t1"
fails_with "$enoent" "t1 cat fails too" cat "$C/t1"
fails_with "$enoent" "t1 getfattr fails too" getfattr -n user.note "$C/t1"
sleep_until "$E2.3"
fails_with "$enoent" "t2 (cached before its TTL was set): stat fails 0.3 s after" \
	stat "$C/t2"
fails_with "$enoent" "t2 cat fails" cat "$C/t2"
sleep_until "$E3.3"
fails_with "$enoent" "t3 (TTL set before the first close): stat fails 0.3 s after" \
	stat "$C/t3"
sleep_until "$E4.3"
fails_with "$enoent" "d/t4: stat fails 0.3 s after" stat "$C/d/t4"
is "$(ls "$C" | tr '\n' ' ')" "d stay " "ls leaves the expired keys out"
is "$(ls -A "$C/d" | tr '\n' ' ')" "" "ls of the directory shows nothing"
is "$(cat "$C/stay" 2>&1)" stays "the permanent key is still there"
check "t1 created again" bash -c 'echo new >"$1"' _ "$C/t1"
is "$(cat "$C/t1" 2>&1)|$(names "$C/t1")" "new|" \
	"the new t1 has the new value and none of the old attributes"

done_testing
