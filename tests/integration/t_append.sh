#!/bin/bash
# t_append: O_APPEND.  A file opened with O_APPEND that only appended is
# stored by appending its bytes to the key's current value, whatever
# offset the kernel thought it had, so concurrent appenders lose nothing.
. "$(dirname "$0")/lib.sh"

kv_mount a
N=$KV_MNT/ns
L=$(kv_tmpdir)
kv_track_dir "$L"

for p in 1 2 3 4; do
	kv_bg bash -c 'for i in $(seq 1 200); do
		echo "writer $2 line $i" >>"$1"; done' _ "$N/log" "$p"
done
wait "${KV_BG_PIDS[@]}"
for p in 1 2 3 4; do
	for i in $(seq 1 200); do echo "writer $p line $i"; done
done | sort >"$L/want"
sort "$N/log" >"$L/got"
is "$(wc -l <"$N/log")" 800 "4 processes x 200 appends: 800 lines"
same_file "$L/got" "$L/want" "every line is there exactly once, intact"
is "$(grep -c '^writer 3 line' "$N/log")" 200 "writer 3's 200 lines all arrived"
ordered=yes
for p in 1 2 3 4; do
	grep "^writer $p " "$N/log" | cut -d' ' -f4 >"$L/order.$p"
	seq 1 200 | cmp -s - "$L/order.$p" || ordered=no
done
is "$ordered" yes "each writer's lines are in the order it wrote them"

# The kernel's offset is stale: another writer replaced the value
# between the open and the write.  The append still goes at the end.
printf 12345 >"$N/app"
run py '
fd = os.open(a[0], os.O_WRONLY | os.O_APPEND)
with open(a[0], "wb") as g:
    g.write(b"ABCDEFGHIJ")
os.write(fd, b"xyz")
os.close(fd)
print(open(a[0], "rb").read().decode())' "$N/app"
is "$KV_LAST_OUT" ABCDEFGHIJxyz \
	"an O_APPEND file appends to the current value, not at its old offset"

printf base >"$N/app2"
run py '
fd1 = os.open(a[0], os.O_WRONLY | os.O_APPEND)
fd2 = os.open(a[0], os.O_WRONLY | os.O_APPEND)
os.write(fd1, b"-one")
os.write(fd2, b"-two")
os.close(fd1)
os.close(fd2)
print(open(a[0], "rb").read().decode())' "$N/app2"
is "$KV_LAST_OUT" "base-one-two" \
	"two open O_APPEND files: both appends arrive, in close order"

printf 'keep me' >"$N/app3"
check "O_APPEND file that writes nothing" py '
os.close(os.open(a[0], os.O_WRONLY | os.O_APPEND))' "$N/app3"
is "$(cat "$N/app3")" "keep me" "an append of nothing changes nothing"

printf 'old old old' >"$N/app4"
run py '
fd = os.open(a[0], os.O_RDWR | os.O_APPEND)
os.ftruncate(fd, 0)
os.write(fd, b"new")
os.close(fd)' "$N/app4"
is "$(cat "$N/app4")" new \
	"O_APPEND with a truncate is a replacement, not an append"

kv_remount a
N=$KV_MNT/ns
sort "$N/log" >"$L/got2"
same_file "$L/got2" "$L/want" "after remount: the 800 appended lines"

done_testing
