#!/bin/bash
# t_list: directory listings.  Entries come in ascending order of their
# keys' UTF-8 bytes (memcmp order, not the order of the escaped names,
# not the locale's); a 3,000-key directory lists completely, each name
# once, with ls, ls -l (readdirplus) and find; keys added or removed
# during a listing never make another entry skip or repeat.
. "$(dirname "$0")/lib.sh"

kv_mount a
N=$KV_MNT/ns

# ---- order ---------------------------------------------------------------
# Keys, in memcmp order: \001 0 B Z ^ _ a ~ é 日.  The names of \001 and
# ^ are ^A and ^^, so sorting by name would put them elsewhere.
mkdir "$N/ord"
want='^A 0 B Z ^^ _ a ~ é 日 '
for n in 日 é '~' a _ '^^' Z B 0 '^A'; do
	: >"$N/ord/$n"
done
is "$(ls -U "$N/ord" | tr '\n' ' ')" "$want" \
	"ls -U: directory order is the keys' byte order"
is "$(ls -lU "$N/ord" | awk 'NR > 1 { print $NF }' | tr '\n' ' ')" "$want" \
	"ls -lU (readdirplus): the same order"
is "$(py 'print(" ".join(os.listdir(a[0])), end=" ")' "$N/ord")" "$want" \
	"readdir as a program sees it: the same order"
is "$(ls "$N/ord" | wc -l)" 10 "ls shows each of the 10 names once"

# ---- 3,000 keys ----------------------------------------------------------
mkdir "$N/big"
check "create 3,000 keys" py '
for i in range(3000):
    n = "k%04d" % i + ("x" * 195 if i % 7 == 0 else "")
    with open(os.path.join(a[0], n), "w") as f:
        f.write(n)' "$N/big"
echo x >"$N/a"
echo x >"$N/c"

run py '
want = {"k%04d" % i + ("x" * 195 if i % 7 == 0 else "") for i in range(3000)}
got = os.listdir(a[0])
print(len(got), len(got) - len(set(got)), len(want - set(got)),
      len(set(got) - want), got == sorted(got, key=os.fsencode))' "$N/big"
is "$KV_LAST_OUT" "3000 0 0 0 True" \
	"3,000 keys: all listed, no duplicate, none missing or extra, in order"
is "$(ls -U "$N/big" | wc -l)" 3000 "ls lists 3,000 names"
is "$(ls -U "$N/big" | sort -u | wc -l)" 3000 "ls lists no name twice"
is "$(ls -lU "$N/big" | awk 'NR > 1' | wc -l)" 3000 "ls -l lists 3,000 entries"
is "$(ls -lU "$N/big" | awk 'NR > 1 && $5 != length($NF)' | wc -l)" 0 \
	"ls -l shows each key's own size"
is "$(find "$N/big" -type f | wc -l)" 3000 "find finds 3,000 files"
is "$(ls -U "$N" | tr '\n' ' ')" "a big c ord " \
	"a directory holding 3,000 keys is listed once, in key order"

# Change the directory in the middle of a listing: entries not touched
# must each appear exactly once.
run py '
d = a[0]
names = sorted(os.listdir(d), key=os.fsencode)
it = os.scandir(d)
seen = [next(it).name for _ in range(1000)]
unseen = [n for n in names if n not in set(seen)]
gone = unseen[500:550] + seen[100:150]
for n in gone:
    os.unlink(os.path.join(d, n))
added = ["k1500%03d" % i for i in range(50)]
for n in added:
    open(os.path.join(d, n), "w").close()
seen += [e.name for e in it]
untouched = set(names) - set(gone)
print(len(seen) - len(set(seen)), len(untouched - set(seen)),
      len(set(seen) - set(names) - set(added)))' "$N/big"
is "$KV_LAST_OUT" "0 0 0" \
	"keys removed and added mid-listing: nothing repeated, skipped or invented"
is "$(ls -U "$N/big" | wc -l)" 2950 "the listing after that holds 2,950 names"

# ---- find over a tree ----------------------------------------------------
mkdir -p "$N/tree/sub/deeper" "$N/tree/empty"
echo 1 >"$N/tree/x"
echo 2 >"$N/tree/sub/y"
echo 3 >"$N/tree/sub/deeper/z"
is "$(cd "$N" && find tree -type f | sort | tr '\n' ' ')" \
	"tree/sub/deeper/z tree/sub/y tree/x " "find -type f finds every key"
is "$(cd "$N" && find tree -type d | sort | tr '\n' ' ')" \
	"tree tree/empty tree/sub tree/sub/deeper " \
	"find -type d finds every directory"
is "$(cd "$N" && find tree -name y)" "tree/sub/y" "find -name"
is "$(find "$KV_MNT" -maxdepth 1 | sort | tr '\n' ' ')" \
	"$KV_MNT $KV_MNT/ns " "find at the mount root lists the namespace"

done_testing
