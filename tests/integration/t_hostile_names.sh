#!/bin/bash
# t_hostile_names: hostile file names, swept wholesale where t_names
# tries one example of each rule.  Invalid UTF-8 of every kind (EILSEQ
# to create, ENOENT to look up), every raw control byte (EINVAL) and its
# escape (stored as that byte), names of 1 to 1030 bytes in plain,
# multi-byte and escaped spellings so that the name's length and the
# key's differ (ENAMETOOLONG exactly when the key passes 512 bytes or
# the name 1024), every byte after '^' and every misplaced escape in
# both layouts (EINVAL), names that decode to "." or "..", deep
# directory chains up to the key limit, malformed names as the source
# of rename and unlink (ENOENT, or ENAMETOOLONG), link targets of any bytes, and
# namespace names at the root.
# After each group: the daemon is up and the sentinel keys are intact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hostile_lib.sh"

kv_mount a "[namespace ns]
[namespace keep]
[namespace flat]
layout = flat"
M=$KV_MNT
N=$M/ns
mkdir "$N/h"
echo scratch >"$N/src" # the source of renames that must fail
sentinels_init "$M/keep"
check "flat sentinels" bash -c 'echo one >"$1/user^s1" && echo x >"$1/a^^b"' \
	_ "$M/flat"

# ---- invalid UTF-8 ---------------------------------------------------------
hx "invalid UTF-8 names: EILSEQ to create, ENOENT to look up" '
seqs = [b"\x80", b"\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xc2", b"\xc2\x41",
        b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xe2\x82", b"\xed\xa0\x80",
        b"\xed\xbf\xbf", b"\xef\xbf", b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf",
        b"\xf0\x9f\x99", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80",
        b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80", b"\xfe", b"\xff",
        b"\xc3\xa9\x80", b"\xff\xfe"]
for s in seqs:
    for name in (s, b"ok" + s, s + b"ok", b"a^^" + s, s * 100):
        for d, what in ((a[0], "tree"), (a[1], "flat")):
            p = P(d, name)
            want("EILSEQ", "%s touch %r" % (what, name[:12]), touch, p)
            want("EILSEQ", "%s mkdir %r" % (what, name[:12]), mkdir, p)
            want("ENOENT", "%s stat %r" % (what, name[:12]), stat, p)
        want("EILSEQ", "rename to %r" % name[:12], rename,
             P(a[2], "src"), P(a[0], name))
        want("EILSEQ", "symlink %r" % name[:12], symlink, "t", P(a[0], name))
' "$N/h" "$M/flat" "$N"
is "$(ls -A "$N/h" | wc -l)" 0 "nothing was created by an invalid name"
intact "after invalid UTF-8"

# ---- control characters ----------------------------------------------------
hx "every raw control byte in a name: EINVAL (ENOENT to look up)" '
for b in list(range(1, 32)) + [127]:
    for name in (bytes([b]), b"x" + bytes([b]) + b"y", b"tail" + bytes([b])):
        for d, what in ((a[0], "tree"), (a[1], "flat")):
            p = P(d, name)
            want("EINVAL", "%s touch %r" % (what, name), touch, p)
            want("EINVAL", "%s mkdir %r" % (what, name), mkdir, p)
            want("ENOENT", "%s stat %r" % (what, name), stat, p)
        want("EINVAL", "rename to %r" % name, rename, P(a[2], "src"),
             P(a[0], name))
' "$N/h" "$M/flat" "$N"

# Every control byte has one escape; each key reads back through the CLI
# by its real byte (so the escape stored the byte, not the spelling).
hx "every escape of a control byte creates the key with that byte" '
import subprocess
esc = {0: "@", 0x1e: "~", 0x1f: "_", 0x7f: "?"}
for b in range(0, 0x1e):
    esc.setdefault(b, chr(0x40 + b))
for b, c in sorted(esc.items()):
    name = "c^" + c + "x"
    want("OK", "create " + name, put, P(a[0], name), b"%d" % b)
    key = b"h/c" + bytes([b]) + b"x"
    if b == 0:
        continue  # argv cannot carry a NUL; the codec tests cover ^@
    r = subprocess.run([a[1], "-c", a[2], "get", "ns", key],
                       capture_output=True)
    if r.stdout != b"%d" % b:
        bad.append("kvfs get %r: %r %r" % (key, r.stdout, r.stderr[:80]))
' "$N/h" "$KVFS_BIN" "${KV_CONFS[a]}"
is "$(ls "$N/h" | wc -l)" 33 "33 keys, one per escaped byte"
is "$(ls "$N/h" | LC_ALL=C sort | head -n 3 | tr '\n' ' ')" \
	"c^?x c^@x c^Ax " "they list under their escaped names"
rm -f "$N"/h/*
intact "after control characters"

# ---- lengths -----------------------------------------------------------------
# For every name length 1..1030 and seven spellings, lookup gives ENOENT
# or ENAMETOOLONG as the key (h/ + decoded name) or the name demands;
# near the limits the name is also created, read back and removed.
hx "names of 1 to 1030 bytes: ENAMETOOLONG exactly past the limits" '
units = ["a", "\u00e9", "\u65e5", "\U0001f642", "^J", "^^", "a^J\u00e9"]
def key_len(name):
    return len(name.replace("^J", "\n").replace("^^", "^").encode())
for unit in units:
    for n in range(1, 1031):
        name = unit * (n // len(unit.encode()))
        name += "a" * (n - len(name.encode()))
        k = 2 + key_len(name)
        too_long = n > 1024 or k > 512
        what = "%r x %d bytes (key %d)" % (unit, n, k)
        want("ENAMETOOLONG" if too_long else "ENOENT", "stat " + what, stat,
             P(a[0], name))
        if 505 <= k <= 518 or 1020 <= n <= 1028:
            p = P(a[0], name)
            if too_long:
                want("ENAMETOOLONG", "create " + what, put, p, b"v")
                want("ENAMETOOLONG", "mkdir " + what, mkdir, p)
                want("ENAMETOOLONG", "rename to " + what, rename,
                     P(a[1], "src"), p)
            else:
                want("OK", "create " + what, put, p, b"v")
                want("OK", "read back " + what, get, p)
                want("OK", "unlink " + what, unlink, p)
' "$N/h" "$N"
is "$(ls -A "$N/h" | wc -l)" 0 "every key of the length sweep was removed"
intact "after the length sweep"

# ---- malformed escapes -----------------------------------------------------
hx "every printable byte after ^ that is no escape: EINVAL, both layouts" '
escapes = set(b"@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]_~?^")
for b in range(0x20, 0x7f):
    if b in escapes or b == ord("/"):
        continue
    for name in (b"^" + bytes([b]), b"x^" + bytes([b]) + b"y"):
        for d, what in ((a[0], "tree"), (a[1], "flat")):
            if what == "tree" and name in (b"^.", b"^e"):
                continue  # the segment "." and the empty segment
            if what == "flat" and b == ord("s"):
                continue  # ^s is the flat layout slash
            want("EINVAL", "%s touch %r" % (what, name), touch, P(d, name))
            want("EINVAL", "%s mkdir %r" % (what, name), mkdir, P(d, name))
            want("ENOENT", "%s stat %r" % (what, name), stat, P(d, name))
for name in ["^\u00e9", "x^\u00e9", "^\U0001f642", "^\u65e5x"]:
    want("EINVAL", "touch %r" % name, touch, P(a[0], name))
' "$N/h" "$M/flat"

hx "misplaced and non-canonical escapes: EINVAL" '
tree = ["^", "x^", "^^^", "a^^^", "^.x", "x^.", "^.^.", "^...", "^.^..",
        "^..^.", "a^.b", "^ex", "x^e", "^e^e", "^ea", "^e^v^v", "^v", "a^vx",
        "a^v^v", "^v^v", "x^va", "^s", "a^sb", "a^s", "^.^v^v", "x^v^.",
        "^.x^v", "^e^^", "^e^.", "^^^e"]
flat = ["^", "x^", "^.", "^..", "^e", "a^e", "^v", "a^v", "^.x", "a^s^",
        "^a", "^^^"]
for name in tree:
    p = P(a[0], name)
    want("EINVAL", "tree touch " + name, touch, p)
    want("EINVAL", "tree mkdir " + name, mkdir, p)
    want("ENOENT", "tree stat " + name, stat, p)
    want("EINVAL", "tree rename to " + name, rename, P(a[2], "src"), p)
    want("EINVAL", "tree symlink " + name, symlink, "t", p)
for name in flat:
    p = P(a[1], name)
    want("EINVAL", "flat touch " + name, touch, p)
    want("ENOENT", "flat stat " + name, stat, p)
    want("EINVAL", "flat rename to " + name, rename, P(a[2], "src"), p)
' "$N/h" "$M/flat" "$N"
is "$(ls -A "$N/h" "$M/flat" | tr '\n' ' ')" \
	"$M/flat: a^^b user^s1  $N/h: " "no malformed escape created anything"
intact "after malformed escapes"

# ---- names that decode to . and .. -----------------------------------------
hx "^. and ^.. name keys and directories; as a file at the top: EINVAL" '
for name in ("^.", "^.."):
    want("EINVAL", "top touch " + name, touch, P(a[0], name))
    want("EINVAL", "top symlink " + name, symlink, "t", P(a[0], name))
    want("ENOENT", "top stat " + name, stat, P(a[0], name))
    want("EINVAL", "flat touch " + name, touch, P(a[2], name))
    want("EINVAL", "flat mkdir " + name, mkdir, P(a[2], name))
    want("OK", "top mkdir " + name, mkdir, P(a[0], name))
    want("OK", "a key in top " + name, put, P(a[0], name, "k"), b"in")
want("OK", "mkdir h/^..", mkdir, P(a[1], "^.."))
want("OK", "mkdir h/^../^.", mkdir, P(a[1], "^..", "^."))
want("OK", "put h/^../^./^..", put, P(a[1], "^..", "^.", "^.."), b"dots")
want("OK", "put h/^.", put, P(a[1], "^."), b"dot")
if get(P(a[1], "^..", "^.", "^..")) != b"dots":
    bad.append("h/^../^./^.. reads back")
' "$N" "$N/h" "$M/flat"
is "$("$KVFS_BIN" -c "${KV_CONFS[a]}" get ns 'h/.././..' 2>&1)" dots \
	"the key is h/.././.. in the store"
is "$(cat "$N/h/^." 2>&1)" dot "h/^. is the key h/."
is "$("$KVFS_BIN" -c "${KV_CONFS[a]}" get ns '../k' 2>&1)" in \
	"the key in the top ^.. directory is ../k"
check_fails "h/^.. does not reach the namespace top" test -e "$N/h/^../src"
rm -r "$N/h/^.." "$N/h/^." "$N/^." "$N/^.."
intact "after dot names"

# ---- deep paths ------------------------------------------------------------
# h/ and "d/" 254 times is a 510-byte prefix: a one-byte name makes a
# 511-byte key, two bytes 512, three bytes 513 (ENAMETOOLONG).  The
# directory d at that depth has a 511-byte key, one more level 513.
deep=$(printf 'd/%.0s' $(seq 254))
check "mkdir -p of 255 levels" mkdir -p "$N/h/${deep}d"
hx "keys at the bottom of 255 levels, around 512 bytes" '
base = P(a[0], a[1])
want("OK", "a 511-byte key", put, base + b"x", b"1")
want("OK", "a 512-byte key", put, base + b"yy", b"2")
want("ENAMETOOLONG", "a 513-byte key", put, base + b"zzz", b"3")
want("ENAMETOOLONG", "mkdir of a 513-byte directory", mkdir, base + b"ddd")
want("ENAMETOOLONG", "an escaped name of 4 bytes, 2 in the key", put,
     base + b"^J^J^J", b"4")
want("OK", "an escaped name of 4 bytes, 2 in the key", put,
     base + b"^J^J", b"4")
' "$N/h" "$deep"
is "$("$KVFS_BIN" -c "${KV_CONFS[a]}" get ns "h/${deep}yy" 2>&1)" 2 \
	"the 512-byte key is stored whole"
fails_with "File name too long" "mkdir -p past the limit: ENAMETOOLONG" \
	mkdir -p "$N/h/${deep}d/e/f"
# An empty segment is ^e: 200 of them make 200 slashes.
empties=$(printf '^e/%.0s' $(seq 200))
check "mkdir -p of 200 empty segments (^e)" mkdir -p "$N/h/$empties"
check "a key below them" bash -c 'echo e >"$1/k"' _ "$N/h/$empties"
is "$("$KVFS_BIN" -c "${KV_CONFS[a]}" get ns "h/$(printf '/%.0s' $(seq 200))k" \
	2>&1)" e "it is h/ followed by 200 slashes and k"
check "rm -r of the deep trees" rm -r "$N/h/d" "$N/h/^e"
is "$(ls -A "$N/h" | wc -l)" 0 "nothing left below h"
intact "after deep paths"

# ---- hostile names as the source, hostile link targets ----------------------
hx "a malformed name as the source: ENOENT (too long: ENAMETOOLONG)" '
for name, err in ((b"x^", "ENOENT"), (b"\xff", "ENOENT"),
                  (b"a\nb", "ENOENT"), (b"^e^e", "ENOENT"),
                  (b"n" * 600, "ENAMETOOLONG")):
    want(err, "rename from %r" % name[:12], rename, P(a[0], name),
         P(a[0], "y"))
    want(err, "unlink %r" % name[:12], unlink, P(a[0], name))
    want(err, "rmdir %r" % name[:12], rmdir, P(a[0], name))
    want(err, "getxattr on %r" % name[:12], getx, P(a[0], name), "user.x")
for i, target in enumerate((b"\xff\x01\x7f^^x", b"t" * 4095, b"../" * 40)):
    want("OK", "symlink to %r" % target[:12], symlink, target,
         P(a[0], "l%d" % i))
    if os.readlink(P(a[0], "l%d" % i)) != target:
        bad.append("readlink of l%d" % i)
want("ENAMETOOLONG", "a link target of 4096 bytes", symlink, b"t" * 4096,
     P(a[0], "l9"))
' "$N/h"
rm -f "$N"/h/l*
intact "after hostile sources and link targets"

# ---- namespace names at the root ---------------------------------------------
hx "namespace names: 255 bytes, no control bytes, UTF-8" '
want("OK", "mkdir of 255 bytes", mkdir, P(a[0], "n" * 255))
want("OK", "rmdir of it", rmdir, P(a[0], "n" * 255))
want("ENAMETOOLONG", "mkdir of 256 bytes", mkdir, P(a[0], "n" * 256))
want("ENAMETOOLONG", "mkdir of 128 two-byte chars", mkdir,
     P(a[0], "\u00e9" * 128))
want("EILSEQ", "mkdir of 0xff", mkdir, P(a[0], b"\xff"))
want("EEXIST", "mkdir ^status", mkdir, P(a[0], "^status"))
for b in list(range(1, 32)) + [127]:
    want("EINVAL", "mkdir %r" % bytes([b]), mkdir, P(a[0], b"n" + bytes([b])))
want("ENOENT", "stat of a missing namespace", stat, P(a[0], "nope"))
want("EPERM", "touch at the root", touch, P(a[0], "file"))
' "$M"
is "$(ls -A "$M" | tr '\n' ' ')" "flat keep ns " "the root holds its namespaces"
intact "after namespace names"

kv_remount a
M=$KV_MNT
is "$(sentinels_sum "$M/keep")" "$SENTINEL_SUM" \
	"after a remount the sentinels are unchanged"
is "$(ls -A "$M/flat" | tr '\n' ' ')" "a^^b user^s1 " \
	"and the flat namespace holds its two keys"

done_testing
