#!/bin/bash
# t_hostile_data: hostile offsets and sizes.  Writes at and past the
# 25 MiB value limit (EFBIG, the value untouched), at offsets up to
# 2^62 and negative (EFBIG, EINVAL), sparse writes in memory and past
# the 1 MiB spill (holes read as zeros, before and after the close),
# truncation to huge sizes through the path and an open descriptor
# (EFBIG, the value untouched), reads past the end, zero-length writes
# (nothing stored), O_APPEND mixed with pwrite and with a second
# writer, fallocate.  After each group the daemon is up and the
# sentinel keys are intact; t_limits has the basic limit cases.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hostile_lib.sh"

kv_mount a "[namespace ns]
[namespace keep]"
M=$KV_MNT
N=$M/ns
CAP=26214400
sentinels_init "$M/keep"
printf 'old value' >"$N/v"

# value_is FILE WANT DESC: FILE's stored value, read in a new process.
value_is() {
	is "$(cat "$1" 2>&1)" "$2" "$3"
}

# ---- offsets past the limit -------------------------------------------------
hx "writes at and past 25 MiB: EFBIG; negative offsets: EINVAL" '
CAP = 26214400
def pw(off, data=b"x", flags=0):
    fd = os.open(a[0], os.O_WRONLY | flags)
    try:
        os.pwrite(fd, data, off)
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
for off in (CAP, CAP + 1, CAP + 4096, 2**31, 2**32, 2**40, 2**62,
            2**63 - 2):
    want("EFBIG", "pwrite 1 byte at %d" % off, pw, off)
# A write crossing the limit is short (the bytes before it) or EFBIG.
def short(off, data):
    fd = os.open(a[0], os.O_WRONLY)
    try:
        n = os.pwrite(fd, data, off)
        if n >= len(data):
            bad.append("pwrite of %d at %d wrote all" % (len(data), off))
    except OSError as e:
        if e.errno != errno.EFBIG:
            raise
    try:
        os.close(fd)
    except OSError as e:
        if e.errno != errno.EFBIG:
            raise
want("OK", "pwrite 2 bytes at 25 MiB - 1 is short", short, CAP - 1, b"xy")
want("OK", "pwrite 8 KiB ending past 25 MiB is short", short, CAP - 8191,
     b"z" * 8192)
want("EINVAL", "pwrite at -1", pw, -1)
want("EINVAL", "pwrite at -2^63", pw, -2**63)
if get(a[0]) != b"old value":
    bad.append("value after the failed writes: %r" % get(a[0])[:40])
' "$N/v"
value_is "$N/v" "old value" "the value is untouched by writes past the limit"
is "$(stat -c %s "$N/v")" 9 "and so is its size"

run py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT)
n = os.pwrite(fd, b"E", 26214400 - 1)
os.close(fd)
st = os.stat(a[0])
with open(a[0], "rb") as f:
    head = f.read(4096)
    f.seek(26214400 - 2)
    tail = f.read(10)
print(n, st.st_size, head == bytes(4096), tail)' "$N/edge"
is "$KV_LAST_OUT" "1 26214400 True b'\\x00E'" \
	"one byte at 25 MiB - 1: a value of exactly 25 MiB, zeros before"
rm -f "$N/edge"
intact "after offsets past the limit"

# ---- sparse writes -----------------------------------------------------------
run py '
MiB = 1 << 20
fd = os.open(a[0], os.O_RDWR | os.O_CREAT | os.O_TRUNC)
os.pwrite(fd, b"A", 0)
os.pwrite(fd, b"B", 100000)       # a hole in memory
os.pwrite(fd, b"C", 3 * MiB)      # past the spill to a temporary file
os.pwrite(fd, b"D", 3 * MiB - 5)  # back inside the hole
early = os.pread(fd, 3 * MiB + 10, 0)
os.close(fd)
with open(a[0], "rb") as f:
    late = f.read()
want = bytearray(3 * MiB + 1)
want[0:1], want[100000:100001] = b"A", b"B"
want[3 * MiB - 5:3 * MiB - 4], want[3 * MiB:] = b"D", b"C"
print(early == want, late == want, len(late))' "$N/sparse"
is "$KV_LAST_OUT" "True True 3145729" \
	"sparse writes: holes read as zeros while open and after the close"
run py '
fd = os.open(a[0], os.O_WRONLY)
os.ftruncate(fd, 10)
os.pwrite(fd, b"Z", 20)
os.close(fd)
with open(a[0], "rb") as f:
    print(f.read())' "$N/sparse"
is "$KV_LAST_OUT" "b'A\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00Z'" \
	"shrink, then write past the end: the gap is zeros, not old bytes"
rm -f "$N/sparse"
intact "after sparse writes"

# ---- truncation to huge sizes -----------------------------------------------
hx "truncate past 25 MiB: EFBIG; to a negative size: EINVAL" '
CAP = 26214400
for size in (CAP + 1, 2**31, 2**40, 2**62, 2**63 - 1):
    want("EFBIG", "truncate to %d" % size, os.truncate, a[0], size)
want("EINVAL", "truncate to -1", os.truncate, a[0], -1)
def ftrunc(size, write=False):
    fd = os.open(a[0], os.O_RDWR)
    try:
        if write:
            os.write(fd, b"new")
        os.ftruncate(fd, size)
    finally:
        os.close(fd)
for size in (CAP + 1, 2**40, 2**63 - 1):
    want("EFBIG", "ftruncate to %d" % size, ftrunc, size)
    want("EFBIG", "write, then ftruncate to %d" % size, ftrunc, size, True)
' "$N/v"
# The writes before a failed ftruncate are kept, as on any file system.
value_is "$N/v" "new value" \
	"a failed ftruncate keeps the descriptor's earlier write"
printf 'old value' >"$N/v"
check "truncate -s 25 MiB works" truncate -s "$CAP" "$N/v"
is "$(stat -c %s "$N/v")" "$CAP" "the value is 25 MiB"
is "$(head -c 9 "$N/v")" "old value" "and keeps its first bytes"
check "truncate back to 9 bytes" truncate -s 9 "$N/v"
value_is "$N/v" "old value" "the value is whole again"
intact "after huge truncations"

# ---- reads past the end --------------------------------------------------------
run py '
out = []
fd = os.open(a[0], os.O_RDONLY)
for off in (8, 9, 10, 4096, 26214400, 2**40, 2**62):
    out.append(os.pread(fd, 100, off))
os.close(fd)
print(out)' "$N/v"
is "$KV_LAST_OUT" "[b'e', b'', b'', b'', b'', b'', b'']" \
	"reads at and past the end return nothing, at any offset"
printf 'old value' >"$N/w"
run py '
fd = os.open(a[0], os.O_RDWR)
os.pwrite(fd, b"!", 12)
print(os.pread(fd, 100, 0), os.pread(fd, 100, 13), os.pread(fd, 10, 2**40))
os.close(fd)' "$N/w"
is "$KV_LAST_OUT" "b'old value\\x00\\x00\\x00!' b'' b''" \
	"an open writer reads its own hole and nothing past its end"
rm -f "$N/w"

# ---- zero-length writes --------------------------------------------------------
touch -d '2001-01-01 00:00:00' "$N/v"
m0=$(stat -c %Y "$N/v")
run py '
fd = os.open(a[0], os.O_WRONLY)
print(os.write(fd, b""), os.pwrite(fd, b"", 5), os.pwrite(fd, b"", 2**40),
      os.pwrite(fd, b"", 26214400 + 1))
os.close(fd)
fd = os.open(a[0], os.O_WRONLY | os.O_APPEND)
print(os.write(fd, b""))
os.close(fd)' "$N/v"
is "$KV_LAST_OUT" $'0 0 0 0\n0' "zero-length writes write nothing, at any offset"
value_is "$N/v" "old value" "the value is unchanged"
is "$(stat -c %Y "$N/v")" "$m0" "and not stored again (the mtime is kept)"
intact "after reads past the end and empty writes"

# ---- O_APPEND mixes --------------------------------------------------------------
printf 'base' >"$N/ap"
run py '
fd = os.open(a[0], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"-A")
os.pwrite(fd, b"-B", 0)  # Linux appends whatever the offset
os.pwrite(fd, b"-C", 2**40)
os.write(fd, b"-D")
os.close(fd)
with open(a[0], "rb") as f:
    print(f.read())' "$N/ap"
is "$KV_LAST_OUT" "b'base-A-B-C-D'" \
	"O_APPEND with pwrite: every write appends, even at offset 2^40"
run py '
ap = os.open(a[0], os.O_WRONLY | os.O_APPEND)
rw = os.open(a[0], os.O_RDWR)
os.write(ap, b"+1")
os.pwrite(rw, b"B", 0)   # a second writer rewrites in place
os.write(ap, b"+2")
os.close(rw)
os.close(ap)
with open(a[0], "rb") as f:
    print(f.read())' "$N/ap"
like "$KV_LAST_OUT" "b'Base-A-B-C-D*+1+2'" \
	"O_APPEND beside a writer in place: the rewrite and both appends"
hx "O_APPEND past 25 MiB: short, then EFBIG, the value untouched" '
def append_big():
    n = os.write(fd, b"x" * 26214400)
    if n >= 26214400:
        bad.append("the append past 25 MiB wrote all")
    os.write(fd, b"y")
fd = os.open(a[0], os.O_WRONLY | os.O_APPEND)
want("EFBIG", "append of 25 MiB to a 12-byte value", append_big)
want("EFBIG", "close of the spoiled appender", os.close, fd)
' "$N/ap"
like "$(cat "$N/ap")" "Base-A-B-C-D*+1+2" "the failed append stored nothing"

# ---- fallocate -------------------------------------------------------------------
fails_with "Operation not supported" "fallocate: EOPNOTSUPP" \
	fallocate -l 4096 "$N/v"
value_is "$N/v" "old value" "fallocate changed nothing"
intact "after appends and fallocate"

kv_remount a
M=$KV_MNT
N=$M/ns
is "$(sentinels_sum "$M/keep")" "$SENTINEL_SUM" \
	"after a remount the sentinels are unchanged"
value_is "$N/v" "old value" "and so is the key the sweep aimed at"

done_testing
