#!/bin/bash
# t_limits: the value cap (26,214,400 bytes: exactly that works, the
# write that crosses it fails with EFBIG and the file then stores
# nothing) and statfs (name length 1024, used bytes follow the writes,
# never zero blocks).
. "$(dirname "$0")/lib.sh"

kv_mount a
N=$KV_MNT/ns
L=$(kv_tmpdir)
kv_track_dir "$L"
CAP=26214400
efbig="File too large"

# ---- statfs before --------------------------------------------------------
is "$(stat -f -c %l "$KV_MNT")" 1024 "statfs name length is 1024"
read -r blocks free bsize < <(stat -f -c '%b %f %S' "$KV_MNT")
num_cmp "$blocks" -gt 0 "statfs reports a non-zero block count"
num_cmp "$blocks" -ge "$free" "statfs: total blocks >= free blocks"
used0=$(((blocks - free) * bsize))

# ---- exactly the cap ------------------------------------------------------
head -c "$CAP" /dev/urandom >"$L/cap"
check "cp of a value of exactly 26,214,400 bytes" cp "$L/cap" "$N/cap"
is "$(stat -c %s "$N/cap")" "$CAP" "its size is 26,214,400"
same_file "$N/cap" "$L/cap" "and it reads back exactly"

read -r blocks free bsize < <(stat -f -c '%b %f %S' "$KV_MNT")
used1=$(((blocks - free) * bsize))
num_cmp "$((used1 - used0))" -ge $((CAP - 1048576)) \
	"statfs used bytes grew by about 25 MiB after the write"

# ---- over the cap ---------------------------------------------------------
echo "old value" >"$N/victim"
head -c 31457280 /dev/urandom >"$L/30mib"
fails_with "$efbig" "cp of 30 MiB over an existing key: EFBIG" \
	cp "$L/30mib" "$N/victim"
is "$(cat "$N/victim" 2>&1)" "old value" "the key keeps its old value"
fails_with "$efbig" "cp of 30 MiB to a new key: EFBIG" cp "$L/30mib" "$N/new30"
fails_with "No such file or directory" "and no empty key is left behind" \
	stat "$N/new30"
is "$("$KVFS_BIN" -c "${KV_CONFS[a]}" list ns --prefix new30 | grep -c '"name"')" \
	0 "the CLI does not list it either"
fails_with "$efbig" "dd to a new key past the cap: EFBIG" \
	dd if=/dev/zero of="$N/new25" bs=1 count=1 seek="$CAP" status=none
fails_with "No such file or directory" "and it leaves no key" stat "$N/new25"

# The write that crosses the cap may store the bytes up to it (a short
# write, as POSIX says for a file size limit); the next write fails.
run py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
total = os.write(fd, b"x" * (26214400 - 10))
err = "no error"
try:
    for _ in range(3):
        total += os.write(fd, b"y" * 11)
except OSError as e:
    err = e.strerror
try:
    os.close(fd)
except OSError as e:
    pass
print(total <= 26214400, err)' "$N/victim"
is "$KV_LAST_OUT" "True $efbig" \
	"writes crossing the cap fail with EFBIG, nothing past the cap taken"
is "$(cat "$N/victim" 2>&1)" "old value" \
	"after a failed write the file stores nothing at close"

fails_with "$efbig" "dd seek to the cap and write one byte: EFBIG" \
	dd if=/dev/zero of="$N/sparse" bs=1 count=1 seek="$CAP" status=none
fails_with "$efbig" "truncate -s 26214401: EFBIG" \
	truncate -s $((CAP + 1)) "$N/victim"
is "$(cat "$N/victim" 2>&1)" "old value" "the failed truncate changed nothing"
check "truncate -s 26214400 works" truncate -s "$CAP" "$N/victim"
is "$(stat -c %s "$N/victim")" "$CAP" "the value is now exactly at the cap"
fails_with "$efbig" "appending one byte to a value at the cap: EFBIG" \
	bash -c 'printf x >>"$1"' _ "$N/victim"
is "$(stat -c %s "$N/victim")" "$CAP" "the failed append stored nothing"

# ---- used bytes follow deletes too -----------------------------------------
rm -f "$N/cap" "$N/victim" "$N/sparse"
read -r blocks free bsize < <(stat -f -c '%b %f %S' "$KV_MNT")
used2=$(((blocks - free) * bsize))
num_cmp "$used2" -lt "$((used1 - CAP / 2))" \
	"statfs used bytes shrank after the big keys were removed"

kv_remount a
read -r blocks free bsize < <(stat -f -c '%b %f %S' "$KV_MNT")
used3=$(((blocks - free) * bsize))
num_cmp "$used3" -lt "$((used1 - CAP / 2))" \
	"after remount the used bytes still leave out the removed keys"
is "$(stat -f -c %l "$KV_MNT")" 1024 "after remount: name length 1024"

done_testing
