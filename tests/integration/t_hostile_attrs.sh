#!/bin/bash
# t_hostile_attrs: hostile extended attributes.  user.kv.metadata that
# is not JSON (garbage, NUL bytes, JSON5, invalid UTF-8 inside strings,
# 10,000 levels deep, empty), 1024 and 1025 compact bytes behind a lot
# of whitespace; user.kv.expiration and _ttl of 0, -1, 2^31, 2^63,
# 2^64, 59, with spaces, signs, exponents, NUL bytes, 100 digits; other
# user.* names empty, 255 and 256 bytes, values of 64 KiB and past it,
# binary values; bad flags.  Each call: its errno, the attribute it
# aimed at unchanged, the daemon up and the sentinel keys intact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hostile_lib.sh"

kv_mount a "[namespace ns]
[namespace keep]"
M=$KV_MNT
N=$M/ns
sentinels_init "$M/keep"
echo target >"$N/t"
touch "$N/m1024" "$N/deep" "$N/e" "$N/o"
setfattr -n user.kv.metadata -v '{"keep":true}' "$N/t"
setfattr -n user.kv.expiration -v 2000000000 "$N/t"
setfattr -n user.other -v before "$N/t"
# what the target's attributes must stay through every failed call
want_attrs=$(getfattr --absolute-names -d -m - "$N/t" 2>&1)

# unchanged DESC: the target still has exactly its attributes.
unchanged() {
	is "$(getfattr --absolute-names -d -m - "$N/t" 2>&1)" "$want_attrs" \
		"$1: the target's attributes are unchanged"
}

# ---- metadata ----------------------------------------------------------------
hx "metadata that is not JSON: EINVAL" '
import random
rnd = random.Random(7)
values = [b"", b" ", b"\n\t ", b"{", b"}", b"[1,]", b"{\"a\":1,}", b"{a:1}",
          b"\x27a\x27", b"0x10", b"[1] // c", b"/* c */ 1", b"Infinity", b"NaN",
          b"[.5]", b"+1", b"01", b"1.", b"\"a\\\nb\"", b"\"\\x41\"", b"\"\t\"",
          b"{\"a\":1}\x00", b"\x00", b"{\"a\":\"\x00\"}", b"\x00{}",
          b"{\"a\":1} x", b"1 2", b"nul", b"true false", b"\xef\xbb\xbf{}",
          b"[" * 10000 + b"]" * 10000, b"{\"a\":" * 5000 + b"1" + b"}" * 5000,
          b"[" * 10000, b"\"" + b"a" * 60000]
values += [bytes(rnd.randrange(256) for _ in range(n))
           for n in (1, 7, 64, 1000, 4096, 65536)]
for v in values:
    want("EINVAL", "metadata %r (%d bytes)" % (v[:16], len(v)), setx, a[0],
         "user.kv.metadata", v)
' "$N/t"
unchanged "after invalid metadata"

hx "metadata strings holding bytes that are not UTF-8: EINVAL" '
for v in [b"\"\xff\"", b"{\"\xc3\":1}", b"[\"\xed\xa0\x80\"]", b"\"\xc0\xaf\""]:
    want("EINVAL", "metadata %r" % v, setx, a[0], "user.kv.metadata", v)
' "$N/t"
unchanged "after metadata with invalid UTF-8"

hx "metadata at 1024 and 1025 compact bytes, whitespace not counted" '
pad = b" \n\t\r" * 1000
v1024 = b"\"" + b"x" * 1022 + b"\""
v1025 = b"\"" + b"x" * 1023 + b"\""
deep = b"[" * 512 + b"]" * 512
want("ERANGE", "1025 compact bytes", setx, a[0], "user.kv.metadata", v1025)
want("ERANGE", "1025 behind 4000 bytes of whitespace", setx, a[0],
     "user.kv.metadata", pad + v1025 + pad)
want("ERANGE", "1025 with 16 KiB of whitespace inside an array", setx,
     a[0], "user.kv.metadata", b"[" + pad * 4 + b"\"" + b"y" * 1021 +
     b"\"" + pad + b"]")
want("E2BIG", "a value past 64 KiB (the kernel limit)", setx, a[0],
     "user.kv.metadata", b" " * 65537 + b"{}")
want("ERANGE", "513-deep arrays, 1026 bytes", setx, a[0],
     "user.kv.metadata", b"[" + deep + b"]")
want("OK", "512-deep arrays, 1024 bytes", setx, a[2], "user.kv.metadata",
     deep)
want("OK", "1024 bytes behind 60,000 bytes of whitespace", setx, a[1],
     "user.kv.metadata", b" " * 30000 + v1024 + b" " * 30000)
if getx(a[1], "user.kv.metadata") != v1024:
    bad.append("the 1024-byte metadata reads back compact")
' "$N/t" "$N/m1024" "$N/deep"
unchanged "after metadata past the limit"

# ---- expiration and ttl --------------------------------------------------------
hx "expirations that are not a plain number in range: EINVAL" '
texts = [b"", b"0", b"-1", b"-0", b"+5", b"+3600", b"1e3", b"1E9", b"3600.0",
         b"0x7fffffff", b" 3600", b"3600 ", b"36 00", b"\t3600", b"3600\n",
         b"3600\x00", b"\x003600", b"36\x0000", b"59", b"60.5",
         b"2147483648", b"4294967296", b"9223372036854775807",
         b"9223372036854775808", b"18446744073709551616",
         b"1" * 100, b"0" * 100 + b"3600", b"\xd9\xa3\xd9\xa6\xd9\xa0\xd9\xa0",
         b"three thousand", b"\xff\xfe", b"1000000000"]
for name in ("user.kv.expiration", "user.kv.expiration_ttl"):
    for t in texts:
        if name.endswith("_ttl") and t == b"1000000000":
            continue  # a valid TTL (2^31 - 1 is its bound)
        want("EINVAL", "%s %r" % (name, t[:24]), setx, a[0], name, t)
want("EINVAL", "ttl 59", setx, a[0], "user.kv.expiration_ttl", b"59")
want("EINVAL", "expiration now + 59", setx, a[0], "user.kv.expiration",
     b"%d" % (int(time.time()) + 59))
want("EINVAL", "ttl reaching past 2^31 - 1", setx, a[0],
     "user.kv.expiration_ttl", b"%d" % (2147483647 - int(time.time()) + 5))
' "$N/t"
unchanged "after invalid expirations"
is "$(xget "$N/t" user.kv.expiration)" 2000000000 \
	"the expiration is still 2000000000"

hx "valid expirations in their odd spellings" '
want("OK", "ttl with leading zeros", setx, a[0], "user.kv.expiration_ttl",
     b"0000003600")
left = int(getx(a[0], "user.kv.expiration_ttl"))
if not 3590 <= left <= 3600:
    bad.append("ttl 0000003600 reads %d" % left)
want("OK", "expiration 2^31 - 1", setx, a[0], "user.kv.expiration",
     b"2147483647")
if getx(a[0], "user.kv.expiration") != b"2147483647":
    bad.append("expiration 2^31 - 1 reads back")
' "$N/e"

# ---- other user.* attributes --------------------------------------------------
hx "other attribute names and values" '
want("ERANGE", "the empty name", setx, a[0], "", b"v")
want("EINVAL", "user. alone (as ext4)", setx, a[0], "user.", b"v")
want("EINVAL", "remove user. alone (as ext4)", os.removexattr, a[0], "user.")
want("EINVAL", "get user. alone (as ext4)", os.getxattr, a[0], "user.")
want("EOPNOTSUPP", "remove security.x", os.removexattr, a[0], "security.x")
want("EOPNOTSUPP", "security.x", setx, a[0], "security.x", b"v")
want("EOPNOTSUPP", "trusted.x", setx, a[0], "trusted.x", b"v")
want("EOPNOTSUPP", "no namespace", setx, a[0], "plain", b"v")
want("OK", "a 255-byte name", setx, a[1], "user." + "n" * 250, b"v")
want("ERANGE", "a 256-byte name", setx, a[1], "user." + "n" * 251, b"v")
want("OK", "a name with UTF-8 and spaces", setx, a[1],
     "user.\u00e9 \U0001f642", b"v")
want("OK", "a binary value with NUL bytes", setx, a[1], "user.bin",
     bytes(range(256)))
if getx(a[1], "user.bin") != bytes(range(256)):
    bad.append("the binary value reads back")
want("OK", "an empty value", setx, a[1], "user.empty", b"")
if getx(a[1], "user.empty") != b"":
    bad.append("the empty value reads back empty")
want("ENOSPC", "a 65,536-byte value (with its name past 64 KiB)", setx,
     a[0], "user.big", b"v" * 65536)
want("E2BIG", "a 65,537-byte value (the kernel limit)", setx, a[0],
     "user.big", b"v" * 65537)
want("EEXIST", "XATTR_CREATE|XATTR_REPLACE on an existing name (as ext4)",
     setx, a[0], "user.other", b"v", 3)
want("ENODATA", "XATTR_CREATE|XATTR_REPLACE on a missing name (as ext4)",
     setx, a[0], "user.missing", b"v", 3)
want("EINVAL", "an unknown flag", setx, a[0], "user.other", b"v", 4)
want("EEXIST", "XATTR_CREATE on an existing name", setx, a[0],
     "user.other", b"v", os.XATTR_CREATE)
want("ENODATA", "XATTR_REPLACE on a missing name", setx, a[0],
     "user.missing", b"v", os.XATTR_REPLACE)
want("ENODATA", "get of a missing name", getx, a[0], "user.missing")
want("ENODATA", "remove of a missing name", os.removexattr, a[0],
     "user.missing")
' "$N/t" "$N/o"
unchanged "after hostile attribute names and values"
is "$(getfattr --absolute-names -d "$N/o" | grep -c '^user\.')" 4 \
	"the second file holds its four attributes"

intact "after every hostile attribute"
kv_remount a
M=$KV_MNT
N=$M/ns
unchanged "after a remount"
is "$(sentinels_sum "$M/keep")" "$SENTINEL_SUM" \
	"after a remount the sentinels are unchanged"

done_testing
