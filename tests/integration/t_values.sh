#!/bin/bash
# t_values: large values written through the mount are kept as files of
# their own in "<database>-values" (the writer's temporary file becomes
# the value, no copy), and everything about them holds as for values in
# the database: read back, overwrite, append, rename, delete, expiry,
# a write after fsync, a kill right after close, the CLI, removal of
# files nothing names, sync = full, and a database of the schema before
# value files.
. "$(dirname "$0")/lib.sh"

d=$(kv_tmpdir)
kv_track_dir "$d"
kv_mount a "[store]
path = $d/kvfs.db
sweep_sec = 1
[namespace ns]"
m=$KV_MNT/ns
db=$d/kvfs.db
vdir=$db-values
src=$(kv_tmpdir)
kv_track_dir "$src"

nfiles() { find "$vdir" -type f 2>/dev/null | wc -l; }
sql() { sqlite3 -cmd '.timeout 5000' "$db" "$@"; }

head -c $((3 * 1024 * 1024)) /dev/urandom >"$src/big"
head -c $((2 * 1024 * 1024)) /dev/urandom >"$src/big2"

check "a 3 MiB value is written" cp "$src/big" "$m/big"
same_file "$m/big" "$src/big" "it reads back whole"
is "$(nfiles)" 1 "it is kept as one file in the values folder"
is "$(sql "SELECT size = 3145728 AND length(value) = 0 AND vfile IS NOT NULL
	FROM kv WHERE key = CAST('big' AS BLOB)")" 1 \
	"its row names the file and holds no bytes"
is "$(sha "$vdir/$(sql "SELECT vfile FROM kv WHERE key = CAST('big' AS BLOB)")")" \
	"$(sha "$src/big")" "the file holds exactly the value"
check "a small value is written" sh -c "echo small >'$m/small'"
is "$(nfiles)" 1 "a small value stays in the database"

kv_remount a
same_file "$m/big" "$src/big" "the value file is read after a remount"
check "kvfs get reads a value file" sh -c \
	"'$KVFS_BIN' -c '${KV_CONFS[a]}' get ns big >'$src/got'"
same_file "$src/got" "$src/big" "kvfs get gives its bytes"

# Overwrite: the new value gets a new file, the old one goes.
old=$(sql "SELECT vfile FROM kv WHERE key = CAST('big' AS BLOB)")
check "overwrite the large value with another" cp "$src/big2" "$m/big"
same_file "$m/big" "$src/big2" "the new value reads back"
is "$(nfiles)" 1 "one file after the overwrite"
is "$([ -e "$vdir/$old" ] && echo kept || echo gone)" gone \
	"the replaced value's file is removed"
is "$(sql 'SELECT count(*) FROM vgc')" 0 "nothing is left to remove"

# Append grows the value in place.
check "append to a value file" sh -c "printf tail >>'$m/big'"
cat "$src/big2" >"$src/want" && printf tail >>"$src/want"
same_file "$m/big" "$src/want" "the appended value reads back"
is "$(nfiles)" 1 "an append keeps one file"

# Rename keeps the file; rm removes it.
check "rename a value file's key" mv "$m/big" "$m/moved"
same_file "$m/moved" "$src/want" "the renamed key reads back"
is "$(nfiles)" 1 "a rename keeps the file"
check "delete the key" rm "$m/moved"
is "$(nfiles)" 0 "deleting the key removes its file"

# A write after fsync (which stored the file as the value) must not
# change what was stored until the next store, and then change it whole.
check "write, fsync, write again, close" py '
f = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(f, b"A" * (2 * 1024 * 1024))
os.fsync(f)
with open(a[1], "wb") as s:
    s.write(open(a[0], "rb").read())
os.pwrite(f, b"B" * 10, 0)
os.close(f)
' "$m/cow" "$src/at-fsync"
is "$(head -c 3 "$src/at-fsync")" AAA "fsync stored the first bytes"
is "$(head -c 12 "$m/cow")" BBBBBBBBBBAA "close stored the later write"
is "$(stat -c %s "$m/cow")" 2097152 "and the size is unchanged"
is "$(nfiles)" 1 "only the newest value of it has a file"

# Expiry (set in the database: the mount accepts 60 s at least): the
# sweep (every second here) removes the row and its file.
check "another value file" cp "$src/big" "$m/soon"
is "$(nfiles)" 2 "two value files"
sql "UPDATE kv SET expiration = unixepoch() - 1
	WHERE key = CAST('soon' AS BLOB)"
for _ in 1 2 3 4 5 6 7 8 9 10; do
	[ "$(nfiles)" = 1 ] && break
	sleep 0.5
done
is "$(nfiles)" 1 "the sweep removes an expired key's file"
is "$(sql "SELECT count(*) FROM kv WHERE key = CAST('soon' AS BLOB)")" 0 \
	"and its row"

# A kill right after close: the value is there, whole.
check "write a value file" cp "$src/big" "$m/survivor"
kv_stop a KILL
kv_start a || bail "restart after SIGKILL"
same_file "$m/survivor" "$src/big" "a value whose close returned survives SIGKILL"
is "$(sql 'PRAGMA integrity_check')" ok "the database is intact"

# Files that nothing names: an old one is removed at start, a young one
# (maybe another process's put between link and commit) is kept.
head -c 100 /dev/urandom >"$vdir/0123456789abcdef0123456789abcdef"
touch -d '2 hours ago' "$vdir/0123456789abcdef0123456789abcdef"
head -c 100 /dev/urandom >"$vdir/fedcba9876543210fedcba9876543210"
kv_remount a
is "$([ -e "$vdir/0123456789abcdef0123456789abcdef" ] && echo kept || echo gone)" \
	gone "an old file no row names is removed at start"
is "$([ -e "$vdir/fedcba9876543210fedcba9876543210" ] && echo kept || echo gone)" \
	kept "a young one is left alone"
same_file "$m/survivor" "$src/big" "named files are kept"
rm -f "$vdir/fedcba9876543210fedcba9876543210"

# sync = full: the same, with the file synced before its row.
kv_mount f "[store]
path = $(kv_tmpdir)/kvfs.db
sync = full
[namespace ns]"
check "a value file with sync = full" cp "$src/big" "$KV_MNT/ns/big"
same_file "$KV_MNT/ns/big" "$src/big" "reads back with sync = full"
kv_track_dir "$(dirname "${KV_DBS[f]}")"

# A database reached through a symbolic link: the folder is named from
# the real path, so every path to the database finds the same one.
ln -s "$db" "$d/link.db"
kv_new l "[store]
path = $d/link.db
[namespace ns]" "$d/link.db"
kv_start l || bail "mount l through a symbolic link to the database"
check "a 3 MiB value through the link" cp "$src/big2" "${KV_MNTS[l]}/ns/linked"
same_file "$m/linked" "$src/big2" "the mount of the real path reads it"
same_file "${KV_MNTS[l]}/ns/survivor" "$src/big" \
	"the mount of the link reads one the other wrote"
check_fails "no folder is named from the link" test -e "$d/link.db-values"

# A folder an earlier kvfs named from the link is moved at start.
kv_stop l
name=$(sql "SELECT vfile FROM kv WHERE key = CAST('linked' AS BLOB)")
mkdir "$d/link.db-values" && mv "$vdir/$name" "$d/link.db-values/" ||
	bail "make a values folder named from the link"
kv_start l || bail "mount l again"
same_file "$m/linked" "$src/big2" \
	"a value file in the link's old folder is moved to the real one"
check_fails "and the old folder is removed" test -e "$d/link.db-values"
kv_stop l
kv_stop a
mv "$vdir" "$d/link.db-values" || bail "move the values folder"
kv_start l || bail "mount l again"
same_file "${KV_MNTS[l]}/ns/survivor" "$src/big" \
	"the whole folder named from the link is moved when the real one is missing"
check_fails "and only the real path's folder is left" test -e "$d/link.db-values"
kv_stop l
kv_start a || bail "mount a again"

# A database of schema 1 (values only in rows) is upgraded at start.
kv_stop a
sqlite3 "$db" "DROP TRIGGER kv_del_vfile; DROP TRIGGER kv_upd_vfile;
	DROP INDEX kv_vfile; DROP TABLE vgc;
	UPDATE kv SET vfile = NULL WHERE vfile IS NOT NULL;
	ALTER TABLE kv DROP COLUMN vfile; PRAGMA user_version = 1;" ||
	bail "make a schema 1 database"
kv_start a || bail "mount a schema 1 database"
is "$(sql 'PRAGMA user_version')" 2 "a schema 1 database is upgraded"
is "$(cat "$m/small")" small "its values are kept"
check "a value file is written after the upgrade" cp "$src/big2" "$m/new"
same_file "$m/new" "$src/big2" "and reads back"

done_testing
