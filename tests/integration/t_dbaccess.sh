#!/bin/bash
# t_dbaccess: a database kvfs may not write, and one that is not a
# kvfs database.  kvfs refuses to mount (exit status 1, nothing
# mounted) with one line naming the file, and leaves the file byte for
# byte as it was:
#   - a kvfs database on a read-only bind mount (root ignores file
#     modes, a read-only mount does not);
#   - a kvfs database only readable by the user kvfs runs as (nobody);
#   - a file of random bytes, and a file holding the first half of a
#     kvfs database (corrupt);
#   - an SQLite database of another application.
# The store is still fine afterwards: the original mounts and reads.
. "$(dirname "$0")/lib.sh"

kv_mount a
echo kept >"$KV_MNT/ns/k" || bail "store a key"
kv_stop a || bail "stop a"
DB=${KV_DBS[a]}
D=$(dirname "$DB")

# refuses ID DESC PATTERN [CMD...]: kvfs as configured for ID (or CMD,
# which runs kvfs another way) exits 1 without mounting, its last
# line matching PATTERN.
refuses() {
	local id=$1 desc=$2 pattern=$3 st
	shift 3
	if [ "$#" -gt 0 ]; then
		timeout 20 "$@" >>"${KV_LOGS[$id]}" 2>&1 </dev/null
		st=$?
	elif kv_start "$id"; then
		not_ok "$desc: kvfs refuses to mount" "it mounted"
		kv_stop "$id"
		return
	else
		st=${KV_STATUS[$id]}
	fi
	is "$st" 1 "$desc: kvfs exits with status 1"
	like "$(grep 'kvfs:' "${KV_LOGS[$id]}" | tail -n 1)" "$pattern" \
		"$desc: the message names the file and the cause"
	if any_mount "${KV_MNTS[$id]}"; then
		not_ok "$desc: nothing mounted"
	else
		ok "$desc: nothing mounted"
	fi
}

# A read-only bind mount of the database's folder.
sum=$(cat "$DB" "$DB-wal" 2>/dev/null | sha256sum)
ro=$(kv_tmpdir)
kv_track_dir "$ro"
mount --bind "$D" "$ro" && mount -o remount,bind,ro "$ro" ||
	bail "read-only bind mount"
dbaccess_cleanup() {
	local st=$?
	for id in "${KV_IDS[@]}"; do _kv_stop_hard "$id"; done
	any_mount "$ro" && { umount "$ro" || umount -l "$ro"; }
	(exit "$st")
	_kv_cleanup
}
trap dbaccess_cleanup EXIT
kv_new rofs "[store]
path = $ro/kvfs.db
[namespace ns]"
refuses rofs "read-only file system" \
	"*$ro/kvfs.db: cannot open database: no permission to write it*"
is "$(cat "$DB" "$DB-wal" 2>/dev/null | sha256sum)" "$sum" \
	"read-only file system: the database is untouched"
umount "$ro" || not_ok "undo the read-only bind mount"

# A user who may read the database but not write it.  Its files go in
# a folder of their own directly in $TMPDIR (the test run's folder is
# private to root), readable by all.
nobody=$(mktemp -d "${TMPDIR:-/tmp}/kvfs-t_dbaccess-nobody.XXXXXX") ||
	bail "mktemp -d"
kv_track_dir "$nobody"
chmod 755 "$nobody"
cp "$DB" "$nobody/kvfs.db"
chmod 644 "$nobody/kvfs.db"
mkdir -m 777 "$nobody/mnt"
printf '[store]\npath = %s\n[namespace ns]\n' "$nobody/kvfs.db" \
	>"$nobody/kvfs.ini"
chmod 644 "$nobody/kvfs.ini"
sum=$(sha256sum <"$nobody/kvfs.db")
kv_new asnobody
KV_MNTS[asnobody]=$nobody/mnt
refuses asnobody "read-only file (user nobody)" \
	"*$nobody/kvfs.db: cannot open database: no permission to write it*" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$KVFS_BIN" -f -c "$nobody/kvfs.ini" "$nobody/mnt"
is "$(sha256sum <"$nobody/kvfs.db")" "$sum" \
	"read-only file: the database is untouched"

# Corrupt and foreign files.
bad=$(kv_tmpdir)
kv_track_dir "$bad"
head -c 65536 /dev/urandom >"$bad/random.db"
head -c "$(($(stat -c %s "$DB") / 2))" "$DB" >"$bad/half.db"
sqlite3 "$bad/other.db" 'CREATE TABLE notes(t TEXT);
	INSERT INTO notes VALUES ("mine")' || bail "make another app's db"
for f in random half other; do
	sum=$(sha256sum <"$bad/$f.db")
	kv_new "$f" "[store]
path = $bad/$f.db
[namespace ns]"
	case $f in
	other) want="*$bad/$f.db: not a kvfs database (an SQLite database of another application)*" ;;
	*) want="*$bad/$f.db: *" ;;
	esac
	refuses "$f" "$f.db" "$want"
	is "$(sha256sum <"$bad/$f.db")" "$sum" "$f.db: byte for byte untouched"
	is "$(find "$bad" -name "$f.db-*" | wc -l)" 0 "$f.db: no -wal or -shm left beside it"
done

kv_start a || bail "the original database mounts again"
is "$(cat "$KV_MNT/ns/k")" kept "the original database still holds its key"

done_testing
