#!/bin/bash
# t_io: values read and written with the ordinary tools: echo >, cat,
# printf, dd, head, tail, truncate, cp, rm, rsync, and Python for the
# open flags the shell cannot express.  Ends with a remount showing
# that what was written is what the store kept.
. "$(dirname "$0")/lib.sh"

kv_mount a
N=$KV_MNT/ns
L=$(kv_tmpdir)
kv_track_dir "$L"

# ---- echo, cat, printf ---------------------------------------------------
check "echo > creates a key" bash -c 'echo hello >"$1"' _ "$N/greeting"
is "$(cat "$N/greeting")" hello "cat reads back what echo wrote"
is "$(stat -c %s "$N/greeting")" 6 "stat size is the value's length"

printf 'a\0b\377\n\001\r\x7f\0' >"$L/printf"
printf 'a\0b\377\n\001\r\x7f\0' >"$N/printf"
same_file "$N/printf" "$L/printf" "printf with NUL and high bytes reads back"

py 'open(a[0], "wb").write(bytes(range(256)) * 64)' "$L/bytes"
cat "$L/bytes" >"$N/bytes"
same_file "$N/bytes" "$L/bytes" "all 256 byte values read back exactly"

# ---- dd, head, tail ------------------------------------------------------
head -c 307200 /dev/urandom >"$L/rand"
cp "$L/rand" "$N/rand"
same_file "$N/rand" "$L/rand" "300 KiB random value reads back"
dd if="$N/rand" bs=1000 skip=7 count=20 of="$L/skip.got" 2>/dev/null
dd if="$L/rand" bs=1000 skip=7 count=20 of="$L/skip.want" 2>/dev/null
same_file "$L/skip.got" "$L/skip.want" "dd skip reads the right bytes"
dd if="$N/rand" bs=1 skip=307190 of="$L/tail.got" 2>/dev/null
is "$(stat -c %s "$L/tail.got")" 10 "dd skip near the end stops at the end"

head -c 3000 /dev/urandom >"$L/patch"
cp "$L/rand" "$L/rand.want"
dd if="$L/patch" of="$L/rand.want" bs=1 seek=5001 conv=notrunc 2>/dev/null
check "dd seek conv=notrunc writes into a value" \
	dd if="$L/patch" of="$N/rand" bs=1 seek=5001 conv=notrunc
same_file "$N/rand" "$L/rand.want" "dd seek changed only its bytes"

dd if="$L/patch" of="$L/sparse.want" bs=4096 seek=3 2>/dev/null
dd if="$L/patch" of="$N/sparse" bs=4096 seek=3 2>/dev/null
same_file "$N/sparse" "$L/sparse.want" "dd seek past the end leaves zeros"

head -c 1234 "$N/rand" >"$L/head.got"
head -c 1234 "$L/rand.want" >"$L/head.want"
same_file "$L/head.got" "$L/head.want" "head -c is byte-exact"
tail -c 4321 "$N/rand" >"$L/tail.got"
tail -c 4321 "$L/rand.want" >"$L/tail.want"
same_file "$L/tail.got" "$L/tail.want" "tail -c is byte-exact"
is "$(tail -c 1 "$N/printf" | od -An -tx1 | tr -d ' ')" 00 \
	"tail -c 1 returns the last byte, a NUL"

# ---- empty values --------------------------------------------------------
: >"$N/empty"
is "$(stat -c %s "$N/empty" 2>&1)" 0 "an empty write makes a key of size 0"
cat "$N/empty" >"$L/empty.out"
is "$(stat -c %s "$L/empty.out")" 0 "cat of the empty value prints nothing"
check "touch creates a key" touch "$N/touched"
is "$(stat -c %s "$N/touched" 2>&1)" 0 "the touched key is an empty value"

# ---- O_TRUNC, writes in place, truncate ----------------------------------
echo "a long value that is going to be cut" >"$N/trunc"
printf short >"$N/trunc"
is "$(cat "$N/trunc")" short "> (O_TRUNC) replaces the whole value"

printf 0123456789abcdef >"$N/inplace"
check "open r+ and write in the middle" py '
f = open(a[0], "r+b"); f.seek(4); f.write(b"XY"); f.close()' "$N/inplace"
is "$(cat "$N/inplace")" 0123XY6789abcdef \
	"a write without O_TRUNC keeps the rest of the value"
check "pwrite at an offset through O_WRONLY" py '
fd = os.open(a[0], os.O_WRONLY); os.pwrite(fd, b"__", 14); os.close(fd)' \
	"$N/inplace"
is "$(cat "$N/inplace")" 0123XY6789abcd__ "pwrite replaced the last bytes only"

check "truncate -s shrinks" truncate -s 4 "$N/inplace"
is "$(cat "$N/inplace")" 0123 "the shrunk value is its first 4 bytes"
check "truncate -s grows" truncate -s 8 "$N/inplace"
printf '0123\0\0\0\0' >"$L/grown"
same_file "$N/inplace" "$L/grown" "growing by truncate appends NUL bytes"
check "ftruncate on an open descriptor" py '
fd = os.open(a[0], os.O_RDWR); os.ftruncate(fd, 2); os.close(fd)' "$N/inplace"
is "$(cat "$N/inplace")" 01 "the value after ftruncate"

# truncate(2) of the path cuts what open writers hold too, as on tmpfs.
is "$(py '
p = a[0]
fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"abcdef")
os.truncate(p, 2)
os.write(fd, b"X")
os.close(fd)
print(repr(open(p, "rb").read()))
fd = os.open(p, os.O_WRONLY | os.O_APPEND)
os.write(fd, b"12345")
os.truncate(p, 4)
os.write(fd, b"!")
os.close(fd)
print(repr(open(p, "rb").read()))' "$N/cut" | tr '\n' ' ')" \
	"b'ab\\x00\\x00\\x00\\x00X' b'ab\\x00\\x00!' " \
	"truncate of the path while a writer and an appender hold bytes not yet stored"
is "$(py '
p = a[0]
with open(p, "wb") as f:
    f.write(b"0123456789" * 10)
fds = [os.open(p, os.O_RDWR) for _ in range(70)]
for i, fd in enumerate(fds):
    os.pwrite(fd, b"w", i)
os.truncate(p, 2)
for fd in fds[1:] + fds[:1]:
    os.close(fd)
print(len(open(p, "rb").read()))' "$N/cut" 2>&1)" 2 \
	"truncate of the path cuts all of 70 writers' copies"

run py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"x" * 30)
size = os.fstat(fd).st_size
os.close(fd)
print(size, os.stat(a[0]).st_size)' "$N/fstat"
is "$KV_LAST_OUT" "30 30" \
	"fstat of a file open for writing shows 30 bytes, and close stores them"

run py '
f = open(a[0], "w+b")
f.write(b"abc" * 50000)
f.seek(3000); f.write(b"XYZ")
f.seek(0); d = f.read()
print(len(d), d[2998:3004].decode())
f.close()' "$N/sameopen"
is "$KV_LAST_OUT" "150000 bcXYZa" "an open file reads back its own writes"
is "$(stat -c %s "$N/sameopen")" 150000 "and stores them at close"

# ---- O_APPEND, O_EXCL ------------------------------------------------------
echo one >"$N/log"
echo two >>"$N/log"
echo three >>"$N/log"
is "$(cat "$N/log")" $'one\ntwo\nthree' ">> (O_APPEND) appends"

fails_with "File exists" "O_CREAT|O_EXCL on an existing key: EEXIST" py '
os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL)' "$N/log"
is "$(cat "$N/log")" $'one\ntwo\nthree' "the failed O_EXCL open left the value"
check "O_CREAT|O_EXCL on a new key succeeds" py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL)
os.write(fd, b"excl"); os.close(fd)' "$N/excl"
is "$(cat "$N/excl")" excl "the O_EXCL file stored its value"

# ---- cp, rm, rsync -------------------------------------------------------
head -c 1048576 /dev/urandom >"$L/big"
check "cp a 1 MiB file in" cp "$L/big" "$N/big"
same_file "$N/big" "$L/big" "the copy in is identical"
check "cp it out again" cp "$N/big" "$L/big.out"
same_file "$L/big.out" "$L/big" "the copy out is identical"

check "rm a key" rm "$N/big"
fails_with "No such file or directory" "cat after rm: ENOENT" cat "$N/big"
is "$(ls "$N" | grep -c '^big$')" 0 "ls no longer shows the removed key"
fails_with "No such file or directory" "rm of a missing key: ENOENT" \
	rm "$N/big"

head -c 200000 /dev/urandom >"$L/rs"
cp "$L/rs" "$N/rs"
{
	head -c 50000 "$L/rs"
	printf 'changed in the middle'
	tail -c +50001 "$L/rs"
} >"$L/rs.new"
check "rsync --inplace --no-whole-file updates a value" \
	rsync -I --inplace --no-whole-file "$L/rs.new" "$N/rs"
same_file "$N/rs" "$L/rs.new" "the value after rsync --inplace"
head -c 70000 /dev/urandom >"$L/rs2"
check "rsync (temporary file, then rename over)" rsync -I "$L/rs2" "$N/rs"
same_file "$N/rs" "$L/rs2" "the value after rsync's rename"
is "$(ls -a "$N" | grep -c '^\.rs\.')" 0 "rsync left no temporary key"

# ---- unlink before close, mmap -------------------------------------------
check "write, unlink, then close" py '
f = open(a[0], "wb"); f.write(b"discard me"); f.flush()
os.unlink(a[0]); f.close()' "$N/gone"
fails_with "No such file or directory" \
	"a file unlinked before close stores nothing" stat "$N/gone"

head -c 8192 /dev/zero | tr '\0' a >"$N/mapped"
check "write through a shared mapping" py '
fd = os.open(a[0], os.O_RDWR)
m = mmap.mmap(fd, 8192)
m[4096:4101] = b"HELLO"
m.flush(); m.close(); os.close(fd)' "$N/mapped"
{
	head -c 4096 /dev/zero | tr '\0' a
	printf HELLO
	head -c 4091 /dev/zero | tr '\0' a
} >"$L/mapped"
same_file "$N/mapped" "$L/mapped" "the mapped write reached the value"

# ---- two files writing one key ---------------------------------------------
# File b opens after file a: a's big write sets the kernel's size, so b's
# small writes land inside it, where the kernel does not guard them
# against a reply with a smaller size.  A process stats the key all the
# while; b closes last, and its close must store b's bytes, every one.
run py '
open(a[0], "wb").close()
end = time.monotonic() + 3
pid = os.fork()
if pid == 0:
    while time.monotonic() < end:
        os.stat(a[0])
    os._exit(0)
rounds = bad = 0
while time.monotonic() < end:
    rounds += 1
    fa = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    fb = os.open(a[0], os.O_WRONLY | os.O_TRUNC)
    os.write(fa, b"a" * 200000)
    want = bytes((rounds + i) % 251 + 1 for i in range(4000))
    for off in range(0, len(want), 100):
        os.write(fb, want[off:off + 100])
    os.close(fa)
    os.close(fb)
    bad += open(a[0], "rb").read() != want
    open(a[1], "wb").write(want)
os.waitpid(pid, 0)
print(rounds, bad)' "$N/rival" "$L/rival"
num_cmp "${KV_LAST_OUT% *}" -gt 20 "two files wrote one key over and over (${KV_LAST_OUT% *} rounds)"
is "${KV_LAST_OUT#* }" 0 "with stats meanwhile, the last close always stored exactly its bytes"
same_file "$N/rival" "$L/rival" "the key holds the last round's bytes"

# The size the kernel has follows O_TRUNC opens and writes, not only what
# kvfs last told it: sizes and SEEK_END are those of a local file.
run py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"a" * 200000); os.close(fd)
os.stat(a[0])
fd = os.open(a[0], os.O_WRONLY | os.O_TRUNC); os.write(fd, b"b" * 10); os.close(fd)
fd = os.open(a[0], os.O_RDWR); os.write(fd, b"hi")
print(os.stat(a[0]).st_size)
os.lseek(fd, 0, os.SEEK_END); os.write(fd, b"END"); os.close(fd)
print(open(a[0], "rb").read().decode())' "$N/resize"
is "$KV_LAST_OUT" $'10\nhibbbbbbbbEND' "a rewrite after a shrink: stat and SEEK_END see the new size"
run py '
open(a[0], "wb").close()
fa = os.open(a[0], os.O_WRONLY); os.write(fa, b"a" * 200000)
fb = os.open(a[0], os.O_WRONLY | os.O_TRUNC); print(os.stat(a[0]).st_size)
os.write(fb, b"x"); print(os.stat(a[0]).st_size)
os.lseek(fb, 0, os.SEEK_END); os.write(fb, b"y")
os.close(fa); os.close(fb)
print(open(a[0], "rb").read().decode(), os.stat(a[0]).st_size)' "$N/resize"
is "$KV_LAST_OUT" $'0\n1\nxy 2' "O_TRUNC while another file writes: sizes as on a local file system"
rm -f "$N/resize"

# ---- after a remount, the store holds exactly what was written ------------
kv_remount a
N=$KV_MNT/ns
is "$(cat "$N/greeting")" hello "after remount: echo'd value"
same_file "$N/printf" "$L/printf" "after remount: printf binary value"
same_file "$N/bytes" "$L/bytes" "after remount: 256 byte values"
same_file "$N/rand" "$L/rand.want" "after remount: the dd-patched value"
is "$(stat -c %s "$N/empty" 2>&1)" 0 "after remount: the empty value"
is "$(cat "$N/log")" $'one\ntwo\nthree' "after remount: the appended value"
same_file "$N/mapped" "$L/mapped" "after remount: the mmap-written value"
same_file "$N/rival" "$L/rival" "after remount: the value two files wrote"
is "$(LC_ALL=C ls "$N" | tr '\n' ' ')" \
	"bytes cut empty excl fstat greeting inplace log mapped printf rand rival rs sameopen sparse touched trunc " \
	"after remount: exactly the keys written, no more"

done_testing
