#!/bin/bash
# t_tools_busy: ls -l, ls -lR, stat, find, cat and du on a directory that
# two writers (one on this mount, one on a second mount of the same
# database) keep changing: keys created, rewritten, renamed, deleted,
# subdirectories made and removed.  The tools print no error but ENOENT
# (a key deleted under them), every listing shows each key that nobody
# touches exactly once, and every value read is one whole version.
. "$(dirname "$0")/lib.sh"

kv_tools_mounts
D=$N/busy

# ---- the two races below, one at a time -----------------------------------------
# find and du hold a directory open while another process removes it:
# on ext4 the open directory reads as empty and names in it are ENOENT.
run py '
d = a[0]
os.mkdir(d)
open(d + "/k", "w").write("k")
fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
os.unlink(d + "/k")
os.rmdir(d)
out = []
for what, f in (("listdir", lambda: os.listdir(fd)),
                ("fstatat", lambda: os.stat("k", dir_fd=fd)),
                ("fstat", lambda: os.fstat(fd).st_nlink)):
    try:
        out.append("%s=%r" % (what, f()))
    except OSError as e:
        out.append("%s:%s" % (what, e.strerror))
print(" ".join(out))' "$N/gone"
is "$KV_LAST_OUT" "listdir=[] fstatat:No such file or directory fstat=0" \
	"an open directory removed by another process: empty, ENOENT, nlink 0 (as on ext4)"

# A reader on the second mount opened a 3000-byte value; the first mount
# rewrites the key with 100 bytes; the reader reads the value it opened
# (README), not 100 bytes of it.
run py '
open(a[0], "w").write("L" * 3000)
f = open(a[1], "rb")
open(a[0], "w").write("s" * 100)
d = f.read()
print(len(d), d[:1].decode(), d[-1:].decode())' "$N/shrunk" "$B/shrunk"
is "$KV_LAST_OUT" "3000 L L" \
	"a reader on another mount reads the whole value it opened after a shorter rewrite"

# 300 keys nobody touches, named to fall before, between and after the
# writers' keys (listing order is byte order), and 10 hot keys.
check "set up the directory" py '
os.mkdir(a[0])
for p in ("a", "m", "z"):
    for i in range(100):
        with open("%s/%s-stable%03d" % (a[0], p, i), "w") as f:
            f.write("stable %s %d\n" % (p, i))
for i in range(10):
    with open("%s/hot%d" % (a[0], i), "w") as f:
        f.write("v0 " + "x" * 100 + " end\n")' "$D"

# writer DIR TAG: 1500 changes.
writer='
import random
d, tag = a[0], a[1]
random.seed(tag)
made = []
for n in range(1500):
    op = n % 6
    if op == 0 or op == 1:
        p = "%s/n-%s-%05d" % (d, tag, n)
        with open(p, "w") as f:
            f.write("new %d\n" % n)
        made.append(p)
    elif op == 2:
        h = "%s/warm-%s%d" % (d, tag, random.randrange(10))
        with open(h, "w") as f:
            f.write("v%d %s end\n" % (n, "x" * random.randrange(1, 5000)))
    elif op == 3 and made:
        p = made.pop(random.randrange(len(made)))
        os.rename(p, p.replace("/n-", "/r-"))
    elif op == 4 and made:
        os.unlink(made.pop(0))
    elif op == 5:
        s = "%s/sub-%s-%d" % (d, tag, n % 4)
        try:
            os.mkdir(s)
            with open(s + "/k", "w") as f:
                f.write("k\n")
        except FileExistsError:
            os.unlink(s + "/k")
            os.rmdir(s)
open(a[2], "w").close()'
py_bg "$writer" "$D" one "$L/done.a"
py_bg "$writer" "$B/busy" two "$L/done.b"
# The hot keys are rewritten (open O_TRUNC, write, close) through the
# first mount, 2000 times, each 1 to 5000 bytes long.
py_bg '
import random
for n in range(2000):
    with open("%s/hot%d" % (a[0], n % 10), "w") as f:
        f.write("v%d %s end\n" % (n, "x" * random.randrange(1, 5000)))
open(a[1], "w").close()' "$D" "$L/done.hot"

# reader NAME CMD...: run CMD until both writers are done (at least 5
# times); stdout of each run in NAME.out.N, stderr appended to NAME.err.
# shellcheck disable=SC2317 # run through kv_bg
reader() {
	local name=$1 n=0
	shift
	while [ "$n" -lt 5 ] || ! [ -e "$L/done.a" ] || ! [ -e "$L/done.b" ] ||
		! [ -e "$L/done.hot" ]; do
		n=$((n + 1))
		"$@" >"$L/$name.out.$n" 2>>"$L/$name.err"
		[ "$n" -gt 400 ] && break
	done
	echo "$n" >"$L/$name.runs"
}
kv_bg reader lsl ls -l "$D"
kv_bg reader lsR ls -lR "$B/busy"
kv_bg reader stat bash -c 'cd "$1" && stat -c "%s %Y %n" -- *' _ "$D"
kv_bg reader find find "$D" -ls
kv_bg reader du du -a "$B/busy"
# The hot keys are read through the second mount: README promises the
# old value or the new one, never a mix.  (On the writer's own mount, as on ext4,
# a reader may see a rewrite in progress.)
kv_bg reader cat bash -c 'cd "$1" && for i in 0 1 2 3 4 5 6 7 8 9; do
	cat "hot$i"; done' _ "$B/busy"
wait "${KV_BG_PIDS[@]}"
is "$(cat "$L/done.a" "$L/done.b" "$L/done.hot" 2>&1)" "" \
	"the writers finished their 1500 changes and 2000 rewrites"

for r in lsl lsR stat find du cat; do
	runs=$(cat "$L/$r.runs" 2>/dev/null)
	num_cmp "${runs:-0}" -ge 5 "$r ran while the writers wrote ($runs runs)"
	bad=$(grep -v 'No such file or directory$' "$L/$r.err" | head -n 5)
	is "$bad" "" "$r printed no error but ENOENT"
done

# Each listing holds the 300 untouched keys, once each, and no name twice.
# count_stable OUT: the untouched keys the output names, or "dup: NAME".
count_stable() {
	local dup
	dup=$(grep -o '[amz]-stable[0-9]*$' "$1" | sort | uniq -d | head -n 1)
	[ -n "$dup" ] && { echo "dup: $dup"; return; }
	grep -c '[amz]-stable[0-9]*$' "$1"
}
for r in lsl lsR stat find du; do
	bad=
	for f in "$L/$r.out".*; do
		c=$(count_stable "$f")
		[ "$c" = 300 ] || { bad="$f: $c"; break; }
	done
	is "$bad" "" "every $r output names each of the 300 untouched keys once"
done
bad=
for f in "$L/lsl.out".*; do
	d=$(awk 'NR > 1 { print $NF }' "$f" | sort | uniq -d | head -n 1)
	[ -z "$d" ] || { bad="$f: $d twice"; break; }
	q=$(grep -m 1 '?.*[amz]-stable[0-9]*$' "$f")
	[ -z "$q" ] || { bad="$f: $q"; break; }
done
is "$bad" "" "no ls -l output names a key twice or lacks an untouched key's attributes"
bad=$(cat "$L/cat.out".* | grep -v '^v[0-9]* x* end$' | head -n 3 |
	sed 's/^\(v[0-9]*\) \(x*\)\(.\{0,12\}\).*/\1 with \2 then "\3..."/' |
	awk '{ $3 = length($3) " x"; print }')
is "$bad" "" "every value cat read through the second mount is one whole version"

# What is left is the same through both mounts and after a remount.
ls -l --time-style=+%s "$B/busy" | sed 1d | awk '{ print $1, $5, $6, $7 }' >"$L/final.b"
kv_remount a
N=${KV_MNTS[a]}/ns
ls -l --time-style=+%s "$N/busy" | sed 1d | awk '{ print $1, $5, $6, $7 }' >"$L/final.a"
same_file "$L/final.a" "$L/final.b" \
	"after remount: the listing is the one the second mount showed"
is "$(ls "$N/busy" | grep -c 'stable')" 300 "after remount: the 300 untouched keys"

done_testing
