#!/bin/bash
# t_stat: what stat shows for a key: size, st_blocks (so du works),
# mtime (last put, or what utimensat set), type, mode and link count;
# opening without changing stores nothing again.
. "$(dirname "$0")/lib.sh"

kv_mount a
N=$KV_MNT/ns

# blocks_ok FILE: st_blocks covers the size, without more than a page of
# slack, and is 0 only for an empty value.
blocks_ok() {
	local size blocks
	read -r size blocks < <(stat -c '%s %b' "$1")
	if [ "$((blocks * 512))" -ge "$size" ] &&
		[ "$((blocks * 512))" -lt "$((size + 4096))" ] &&
		{ [ "$size" -eq 0 ] || [ "$blocks" -gt 0 ]; }; then
		ok "$2"
	else
		not_ok "$2" "size $size, st_blocks $blocks (512-byte units)"
	fi
}

head -c 5000 /dev/urandom >"$N/five"
is "$(stat -c %s "$N/five")" 5000 "size of a 5000-byte value"
blocks_ok "$N/five" "st_blocks of a 5000-byte value"
head -c 1048576 /dev/zero >"$N/mib"
blocks_ok "$N/mib" "st_blocks of a 1 MiB value"
is "$(du -k "$N/mib" | cut -f1)" 1024 "du -k of a 1 MiB value is 1024"
: >"$N/empty"
is "$(stat -c '%s %b' "$N/empty")" "0 0" "an empty value: size 0, 0 blocks"

is "$(stat -c %F "$N/five")" "regular file" "a key is a regular file"
is "$(stat -c %F "$N")" "directory" "a namespace is a directory"
is "$(stat -c %h "$N/five")" 1 "a key has one link"
is "$(stat -c %a "$N/five")" 644 "default file mode 0644"
is "$(stat -c %a "$N")" 755 "default directory mode 0755"
is "$(stat -c %u "$N/five")" "$(id -u)" "owner is the mounting user"

# ---- mtime ---------------------------------------------------------------
before=$(date +%s)
echo data >"$N/fresh"
after=$(date +%s)
m=$(stat -c %Y "$N/fresh")
if [ "$m" -ge "$((before - 1))" ] && [ "$m" -le "$((after + 1))" ]; then
	ok "mtime of a new key is the time of its put"
else
	not_ok "mtime of a new key is the time of its put" \
		"mtime $m, written between $before and $after"
fi

check "touch -d sets mtime" touch -d '2001-02-03 04:05:06 UTC' "$N/fresh"
is "$(stat -c %Y "$N/fresh")" 981173106 "stat shows the mtime touch -d set"
check "touch -d with nanoseconds" touch -d '@1000000000.123456789' "$N/five"
is "$(stat -c %.9Y "$N/five")" 1000000000.123456789 \
	"mtime keeps its nanoseconds"
is "$(cat "$N/fresh")" data "touch -d left the value alone"

check "open for writing and close without a change" py '
os.close(os.open(a[0], os.O_WRONLY))
open(a[0], "r+b").close()
open(a[0], "rb").read()' "$N/fresh"
is "$(stat -c %Y "$N/fresh")" 981173106 \
	"a file opened but not changed is not stored again (mtime kept)"

sleep 1
echo more >>"$N/fresh"
m=$(stat -c %Y "$N/fresh")
num_cmp "$m" -ge "$before" "an append moves mtime to now"

check "chmod 600" chmod 600 "$N/five"
is "$(stat -c %a "$N/five")" 600 "stat shows the new mode"
mkdir "$N/d"
check "touch -d on a mkdir'd directory" touch -d '2002-01-01 00:00:00 UTC' "$N/d"
is "$(stat -c %Y "$N/d")" 1009843200 "the directory shows the mtime set on it"

# ---- ls -l shows the same ------------------------------------------------
line=$(ls -l --time-style=+%s "$N/five")
like "$line" "-rw------- 1 * 5000 1000000000 $N/five" \
	"ls -l shows mode, size and mtime"

# ---- and all of it after a remount -----------------------------------------
kv_remount a
N=$KV_MNT/ns
is "$(stat -c '%s %.9Y %a' "$N/five")" "5000 1000000000.123456789 600" \
	"after remount: size, mtime with nanoseconds and mode kept"
is "$(stat -c %s "$N/fresh")" 10 "after remount: size of the appended key"
is "$(stat -c '%s %b' "$N/empty")" "0 0" "after remount: the empty value"
is "$(stat -c %Y "$N/d")" 1009843200 "after remount: the directory's mtime"

done_testing
