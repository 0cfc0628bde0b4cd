#!/bin/bash
# t_tools_append: >> from two processes on one mount and a third on a
# second mount of the same database (every line arrives whole, none is
# lost), tee -a, truncate -s, and mmap: reading a value through a
# mapping, writing through MAP_SHARED, msync and close.  Values,
# metadata and expirations are read back through the second mount and
# after a remount.
. "$(dirname "$0")/lib.sh"

kv_tools_mounts
exp=$(($(date +%s) + 7200))

# meta FILE: its metadata and expiration.
meta() {
	printf '%s %s' "$(xget "$1" user.kv.metadata)" \
		"$(xget "$1" user.kv.expiration)"
}
tag() {
	setfattr -n user.kv.metadata -v "$2" "$1" &&
		setfattr -n user.kv.expiration -v "$exp" "$1"
}

# ---- >> from three processes, two mounts ------------------------------------------
# Each writer appends 300 lines with its own echo (one open, write and
# close each); every 10th line is 3000 bytes long.
printf 'header\n' >"$N/log"
tag "$N/log" '{"log":true}'
writer='for i in $(seq 1 300); do
	if [ $((i % 10)) -eq 0 ]; then
		printf "%s line %d %s end\n" "$2" "$i" "$(printf "%03000d" 0)"
	else
		echo "$2 line $i end"
	fi >>"$1"
done'
kv_bg bash -c "$writer" _ "$N/log" p1
kv_bg bash -c "$writer" _ "$N/log" p2
kv_bg bash -c "$writer" _ "$B/log" p3
wait "${KV_BG_PIDS[@]}"
{
	echo header
	for p in p1 p2 p3; do bash -c "$writer" _ /dev/stdout "$p"; done
} | sort >"$L/log.want"
sort "$B/log" >"$L/log.got"
is "$(wc -l <"$B/log")" 901 "second mount: 1 + 3 x 300 lines"
same_file "$L/log.got" "$L/log.want" \
	"second mount: every line is there once and whole (none torn, none lost)"
ordered=yes
for p in p1 p2 p3; do
	grep "^$p " "$B/log" | cut -d' ' -f3 >"$L/order.$p"
	seq 1 300 | cmp -s - "$L/order.$p" || ordered=no
done
is "$ordered" yes "each writer's lines are in the order it wrote them"
is "$(head -n 1 "$B/log")" header "the value before the appends is still first"
is "$(meta "$B/log")" "{\"log\":true} $exp" \
	"second mount: appends kept the key's metadata and expiration"

# ---- tee -a ----------------------------------------------------------------------------
printf 'one\n' >"$N/t1"
tag "$N/t1" '{"tee":1}'
check "tee -a onto a key and a new key" bash -c \
	'printf "two\nthree\n" | tee -a "$1" "$2" >/dev/null' _ "$N/t1" "$N/t2"
is "$(cat "$B/t1" 2>&1 | tr '\n' ' ')" "one two three " "second mount: tee -a appended"
is "$(cat "$B/t2" 2>&1 | tr '\n' ' ')" "two three " "second mount: tee -a created the other key"
is "$(meta "$B/t1")" "{\"tee\":1} $exp" "second mount: tee -a kept metadata and expiration"
check "tee -a through the second mount" bash -c \
	'echo four | tee -a "$1" >/dev/null' _ "$B/t1"
is "$(cat "$N/t1" 2>&1 | tr '\n' ' ')" "one two three four " \
	"the first mount reads the line appended through the second"

# ---- truncate -s -------------------------------------------------------------------------
head -c 100000 /dev/urandom >"$L/tr"
cp "$L/tr" "$N/tr"
tag "$N/tr" '{"tr":1}'
check "truncate -s to shrink" truncate -s 1000 "$N/tr"
head -c 1000 "$L/tr" >"$L/tr.1000"
same_file "$B/tr" "$L/tr.1000" "second mount: the first 1000 bytes are left"
check "truncate -s +500 to grow" truncate -s +500 "$N/tr"
cp "$L/tr.1000" "$L/tr.1500"
truncate -s 1500 "$L/tr.1500"
same_file "$B/tr" "$L/tr.1500" "second mount: grown with 500 zero bytes"
check "truncate -s 0" truncate -s 0 "$N/tr"
is "$(stat -c %s "$B/tr" 2>&1)" 0 "second mount: the value is empty"
is "$(meta "$B/tr")" "{\"tr\":1} $exp" \
	"second mount: truncate kept metadata and expiration"
check "truncate -s of a missing key creates it" truncate -s 4096 "$N/tr.new"
is "$(stat -c %s "$B/tr.new" 2>&1) $(tr -d '\0' <"$B/tr.new" | wc -c)" "4096 0" \
	"second mount: 4096 zero bytes"
fails_with "No such file or directory" "truncate -c of a missing key creates nothing" \
	bash -c 'truncate -c -s 10 "$1" && cat "$1"' _ "$N/tr.none"

# ---- mmap ------------------------------------------------------------------------------
head -c 300000 /dev/urandom >"$L/mm"
cp "$L/mm" "$N/mm"
tag "$N/mm" '{"mm":1}'
run py '
with open(a[0], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    data = bytes(m)
    m.close()
print(data == open(a[1], "rb").read())' "$N/mm" "$L/mm"
is "$KV_LAST_OUT" True "mmap read: the mapping holds the whole value"
write='
fd = os.open(a[0], os.O_RDWR)
m = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED)
m[0:5] = b"HELLO"
m[200000:200006] = b"WORLD!"
m[len(m) - 3:] = b"END"
m.flush()
m.close()
os.close(fd)'
check "mmap MAP_SHARED write, msync, close" py "$write" "$N/mm"
py '
b = bytearray(open(a[0], "rb").read())
b[0:5] = b"HELLO"
b[200000:200006] = b"WORLD!"
b[len(b) - 3:] = b"END"
open(a[0], "wb").write(b)' "$L/mm"
same_file "$B/mm" "$L/mm" "second mount: the bytes written through the mapping are stored"
is "$(meta "$B/mm")" "{\"mm\":1} $exp" \
	"second mount: the mapped write kept metadata and expiration"
check "mmap write into a key grown by ftruncate" py '
fd = os.open(a[0], os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 8192)
m = mmap.mmap(fd, 8192, flags=mmap.MAP_SHARED)
m[4096:4101] = b"ABCDE"
m.flush()
m.close()
os.close(fd)' "$N/mm2"
is "$(stat -c %s "$B/mm2" 2>&1) $(tr -d '\0' <"$B/mm2")" "8192 ABCDE" \
	"second mount: the grown key holds the mapped bytes"
check "mmap write, close the file, msync and unmap after" py '
fd = os.open(a[0], os.O_RDWR)
m = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED)
os.close(fd)
m[10:15] = b"LATER"
m.flush()
m.close()' "$N/mm"
py '
b = bytearray(open(a[0], "rb").read())
b[10:15] = b"LATER"
open(a[0], "wb").write(b)' "$L/mm"
same_file "$B/mm" "$L/mm" \
	"second mount: bytes written after close(), through the mapping, are stored"

# ---- after a remount ---------------------------------------------------------------------
kv_remount a
N=${KV_MNTS[a]}/ns
sort "$N/log" >"$L/log.got2"
same_file "$L/log.got2" "$L/log.want" "after remount: the appended lines"
is "$(cat "$N/t1" 2>&1 | tr '\n' ' ')" "one two three four " "after remount: the tee -a key"
same_file "$N/mm" "$L/mm" "after remount: the mmap-written key"
is "$(meta "$N/log") $(meta "$N/tr") $(meta "$N/mm")" \
	"{\"log\":true} $exp {\"tr\":1} $exp {\"mm\":1} $exp" \
	"after remount: metadata and expirations"

done_testing
