#!/bin/bash
# t_xattr: metadata, expiration and other attributes as extended
# attributes (issue 3).  user.kv.metadata (JSON, stored compact, 1024
# bytes: ERANGE past it, EINVAL when not JSON), user.kv.expiration
# (now+60 to 2^31-1, plain decimal text, else EINVAL),
# user.kv.expiration_ttl (60 or more, not listed), other user.*
# attributes (65,536 bytes of names and values per key, ENOSPC past
# it), the usual xattr contract (ENODATA, ERANGE, EEXIST, EOPNOTSUPP
# for other namespaces, EPERM for user.kv.* on directories and for
# anything on the mount root; namespace directories keep user.*
# attributes like other directories), attributes kept when the content
# is rewritten or set before the first close, cp -a / rsync -aX /
# cp --preserve=xattr between namespaces, and what the store holds
# (sqlite3 read-only, and after a remount).  Every limit is tried at the
# limit and one past it, through setfattr/getfattr and through Python's
# os.setxattr/os.getxattr.  Expiry itself is in t_expire.
. "$(dirname "$0")/lib.sh"

kv_mount a "[namespace ns]
[namespace src]
[namespace dst]
[namespace dst2]
[namespace dst3]
[namespace loc]"
M=$KV_MNT
N=$M/ns
DB=${KV_DBS[a]}
L=$(kv_tmpdir)
kv_track_dir "$L"

einval="Invalid argument"
erange="Numerical result out of range"
enospc="No space left on device"
eperm="Operation not permitted"
enotsup="Operation not supported"
enodata="No data available" # strerror(ENODATA), as Python prints it
noattr="No such attribute"  # what getfattr and setfattr print for ENODATA
MAXEXP=2147483647

# gx FILE NAME: the attribute's value through getfattr, or its error.
gx() {
	getfattr --absolute-names --only-values -n "$2" -- "$1" 2>&1
}
# pg FILE NAME: the attribute's value through os.getxattr.
pg() {
	py 'sys.stdout.buffer.write(os.getxattr(a[0], a[1]))' "$1" "$2" 2>&1
}
# ps FILE NAME VALUE [FLAGS]: os.setxattr with VALUE's bytes.
ps() {
	py 'os.setxattr(a[0], a[1], os.fsencode(a[2]),
             int(a[3]) if len(a) > 3 else 0)' "$@"
}
# shellcheck disable=SC2317 # sf, psf and pr are called through check
# sf NAME VALUEFILE FILE: setfattr -n NAME with VALUEFILE's content as
# the value (keeps long values off the command line the checks print).
sf() {
	setfattr -n "$1" -v "$(cat "$2")" "$3"
}
# shellcheck disable=SC2317
# psf FILE NAME VALUEFILE: os.setxattr with VALUEFILE's bytes.
psf() {
	py 'os.setxattr(a[0], a[1], open(a[2], "rb").read())' "$@"
}
# shellcheck disable=SC2317
# pr FILE NAME: os.removexattr.
pr() {
	py 'os.removexattr(a[0], a[1])' "$1" "$2"
}
# names FILE: the names listxattr gives, sorted, on one line.
names() {
	py 'print(" ".join(sorted(os.fsdecode(n) if isinstance(n, bytes)
             else n for n in os.listxattr(a[0]))))' "$1" 2>&1
}
# rep STRING COUNT: STRING repeated COUNT times.
rep() {
	python3 -c 'import os, sys
sys.stdout.buffer.write(os.fsencode(sys.argv[1]) * int(sys.argv[2]))' "$1" "$2"
}
# sq SQL: a query on the mount's database, read-only.
sq() {
	sqlite3 -readonly -cmd '.timeout 5000' "$DB" "$1" 2>&1
}
# row NS KEY: the SQL condition for key KEY of namespace NS.
row() {
	printf "ns = (SELECT id FROM ns WHERE name = '%s') AND key = CAST('%s' AS BLOB) AND kind = 0" "$1" "$2"
}
# sync_second: sleep until just after the next second boundary, so that
# the next few commands run within one second of the wall clock.
sync_second() {
	python3 -c 'import time; time.sleep(1.02 - time.time() % 1)'
}
# attrs FILE: the file's metadata, expiration and user.note in one line.
attrs() {
	printf '%s|%s|%s' "$(gx "$1" user.kv.metadata)" \
		"$(gx "$1" user.kv.expiration)" "$(gx "$1" user.note)"
}
# dump FILE...: every listed attribute of each file, name=value (long
# values as their length and hash), one per line.
dump() {
	py '
import hashlib
for p in a:
    for n in sorted(os.listxattr(p)):
        v = os.getxattr(p, n)
        if len(v) > 100:
            v = b"%d bytes %s" % (len(v), hashlib.sha256(v).hexdigest()[:16].encode())
        print(p, n, repr(v))' "$@" 2>&1
}
# raw OP ...: getxattr/listxattr with an exact buffer size, through
# libc: "raw get FILE NAME SIZE" or "raw list FILE SIZE" prints the
# length returned (SIZE 0: the size query).
raw() {
	py '
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
for f in (libc.getxattr, libc.listxattr):
    f.restype = ctypes.c_ssize_t
libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p,
                          ctypes.c_size_t]
libc.listxattr.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
size = int(a[-1])
buf = ctypes.create_string_buffer(size + 1)
ptr = ctypes.cast(buf, ctypes.c_void_p) if size else None
if a[0] == "get":
    r = libc.getxattr(os.fsencode(a[1]), a[2].encode(), ptr, size)
else:
    r = libc.listxattr(os.fsencode(a[1]), ptr, size)
if r < 0:
    e = ctypes.get_errno()
    raise OSError(e, os.strerror(e))
print(r)' "$@"
}

# ---- a key without attributes ---------------------------------------------
F=$N/f
echo hello >"$F"
is "$(names "$F")" "" "a new key lists no attribute"
is "$(getfattr -d --absolute-names "$F" 2>&1)" "" "getfattr -d shows nothing"
fails_with "$noattr" "getfattr user.kv.metadata of a key without: ENODATA" \
	getfattr -n user.kv.metadata "$F"
fails_with "$enodata" "os.getxattr user.kv.expiration of a permanent key: ENODATA" \
	pg "$F" user.kv.expiration
fails_with "$enodata" "os.getxattr user.kv.expiration_ttl of a permanent key: ENODATA" \
	pg "$F" user.kv.expiration_ttl
fails_with "$enodata" "os.getxattr user.nothere: ENODATA" pg "$F" user.nothere
for n in security.selinux security.capability system.posix_acl_access \
	trusted.kvfs plainname; do
	fails_with "$enodata" "os.getxattr $n (absent) on a key: ENODATA" \
		pg "$F" "$n"
done

# ---- user.kv.metadata -----------------------------------------------------
check "setfattr user.kv.metadata with spaces and nesting" \
	setfattr -n user.kv.metadata \
	-v '{ "a" : [1, 2, {"b": "x y"}] ,  "c":null }' "$F"
compact='{"a":[1,2,{"b":"x y"}],"c":null}'
is "$(gx "$F" user.kv.metadata)" "$compact" \
	"getfattr returns the compact form (spaces in strings kept)"
is "$(pg "$F" user.kv.metadata)" "$compact" "os.getxattr returns the same"
is "$(sq "SELECT metadata FROM kv WHERE $(row ns f)")" "$compact" \
	"the store's metadata column holds the compact JSON"
is "$(cat "$F")" hello "setting metadata leaves the value alone"
is "$(raw get "$F" user.kv.metadata 0 2>&1)" "${#compact}" \
	"getxattr size query gives the compact length"
is "$(raw get "$F" user.kv.metadata "${#compact}" 2>&1)" "${#compact}" \
	"getxattr with a buffer of exactly that size works"
fails_with "$erange" "getxattr with a buffer one byte short: ERANGE" \
	raw get "$F" user.kv.metadata $((${#compact} - 1))
is "$(names "$F")" "user.kv.metadata" "listxattr lists user.kv.metadata"
is "$(attr -q -g kv.metadata "$F" 2>&1)" "$compact" "attr -g kv.metadata reads it"

for v in '[ 1 , "a b" ]' '"just a string"' ' 42 ' '{"é": "ü"}'; do
	ps "$F" user.kv.metadata "$v"
	case $v in
	'[ 1 , "a b" ]') want='[1,"a b"]' ;;
	' 42 ') want=42 ;;
	'{"é": "ü"}') want='{"é":"ü"}' ;;
	*) want=$v ;;
	esac
	is "$(gx "$F" user.kv.metadata)" "$want" \
		"os.setxattr metadata $(show "$v") reads back as $(show "$want")"
done

setfattr -n user.kv.metadata -v '{"good":1}' "$F"
for v in '{"a":1' 'nope' '' '{"a":}' '{"a":1}}' "{'a':1}" '[1,]' '{"a" 1}'; do
	fails_with "$einval" "os.setxattr metadata $(show "$v"): EINVAL" \
		ps "$F" user.kv.metadata "$v"
done
fails_with "$einval" "setfattr metadata {oops: EINVAL" \
	setfattr -n user.kv.metadata -v '{oops' "$F"
is "$(gx "$F" user.kv.metadata)" '{"good":1}' \
	"after the refused values the metadata is unchanged"
is "$(sq "SELECT metadata FROM kv WHERE $(row ns f)")" '{"good":1}' \
	"and so is the store's column"

fails_with "File exists" "XATTR_CREATE on existing metadata: EEXIST" \
	ps "$F" user.kv.metadata '{"new":1}' 1
is "$(gx "$F" user.kv.metadata)" '{"good":1}' "the failed XATTR_CREATE changed nothing"
check "XATTR_REPLACE on existing metadata works" \
	ps "$F" user.kv.metadata '{"replaced": 1}' 2
is "$(gx "$F" user.kv.metadata)" '{"replaced":1}' "the replaced metadata"

check "setfattr -x user.kv.metadata" setfattr -x user.kv.metadata "$F"
fails_with "$noattr" "the removed metadata is gone (ENODATA)" \
	getfattr -n user.kv.metadata "$F"
is "$(sq "SELECT metadata IS NULL FROM kv WHERE $(row ns f)")" 1 \
	"the store's metadata column is NULL"
is "$(names "$F")" "" "listxattr no longer lists it"
fails_with "$enodata" "XATTR_REPLACE of metadata the key lacks: ENODATA" \
	ps "$F" user.kv.metadata '{"x":1}' 2
fails_with "$noattr" "the failed XATTR_REPLACE stored nothing" \
	getfattr -n user.kv.metadata "$F"
check "XATTR_CREATE of metadata the key lacks works" \
	ps "$F" user.kv.metadata '{"created":1}' 1
is "$(gx "$F" user.kv.metadata)" '{"created":1}' "the created metadata"

# ---- user.kv.expiration and user.kv.expiration_ttl -------------------------
now=$(date +%s)
E=$((now + 3600))
check "setfattr user.kv.expiration now+3600" \
	setfattr -n user.kv.expiration -v "$E" "$F"
is "$(gx "$F" user.kv.expiration)" "$E" "getfattr returns the expiration"
is "$(pg "$F" user.kv.expiration)" "$E" "os.getxattr returns it too"
is "$(sq "SELECT expiration FROM kv WHERE $(row ns f)")" "$E" \
	"the store's expiration column holds it"
ttl=$(gx "$F" user.kv.expiration_ttl)
now=$(date +%s)
num_cmp "$ttl" -le $((E - now + 1)) "user.kv.expiration_ttl is at most what remains"
num_cmp "$ttl" -ge $((E - now - 1)) "user.kv.expiration_ttl is at least what remains - 1"
is "$(cat "$F")" hello "setting the expiration leaves the value alone"

now0=$(date +%s)
check "setfattr user.kv.expiration_ttl 7200" \
	setfattr -n user.kv.expiration_ttl -v 7200 "$F"
now1=$(date +%s)
e=$(gx "$F" user.kv.expiration)
num_cmp "$e" -ge $((now0 + 7200)) "the TTL set the expiration to now+7200 (not before)"
num_cmp "$e" -le $((now1 + 7200)) "the TTL set the expiration to now+7200 (not after)"
is "$(sq "SELECT expiration FROM kv WHERE $(row ns f)")" "$e" \
	"the store holds the expiration the TTL gave"

setfattr -n user.note -v "a note" "$F"
is "$(names "$F")" "user.kv.expiration user.kv.metadata user.note" \
	"listxattr lists expiration, metadata, user.note, not the TTL"
dumped=$(getfattr -d --absolute-names "$F" 2>&1)
like "$dumped" "*user.kv.metadata=*" "getfattr -d shows user.kv.metadata"
like "$dumped" "*user.kv.expiration=\"$e\"*" "getfattr -d shows user.kv.expiration"
if [[ $dumped == *expiration_ttl* ]]; then
	not_ok "getfattr -d does not show the TTL" "got: $(show "$dumped")"
else
	ok "getfattr -d does not show the TTL"
fi

# Texts that are not a plain decimal whole number, all otherwise in range.
E=$(gx "$F" user.kv.expiration)
v=$(($(date +%s) + 4000))
for t in "" " $v" "$v " "+$v" "$v.0" "$(printf '0x%x' "$v")" "2e9" \
	"$v"$'\n' "abc" "-1" "0" "1e3" "0x10" "99999999999" \
	"18446744073709551617"; do
	fails_with "$einval" "os.setxattr expiration $(show "$t"): EINVAL" \
		ps "$F" user.kv.expiration "$t"
done
for t in "" " 3600" "3600 " "+3600" "3600.0" "0xe10" "3.6e3" "-60" "0" \
	"abc"; do
	fails_with "$einval" "os.setxattr expiration_ttl $(show "$t"): EINVAL" \
		ps "$F" user.kv.expiration_ttl "$t"
done
is "$(gx "$F" user.kv.expiration)" "$E" \
	"after the refused texts the expiration is unchanged"
is "$(sq "SELECT expiration FROM kv WHERE $(row ns f)")" "$E" \
	"and so is the store's column"

check "setfattr -x user.kv.expiration" setfattr -x user.kv.expiration "$F"
fails_with "$noattr" "the key is permanent: no user.kv.expiration" \
	getfattr -n user.kv.expiration "$F"
fails_with "$noattr" "and no user.kv.expiration_ttl" \
	getfattr -n user.kv.expiration_ttl "$F"
is "$(sq "SELECT expiration FROM kv WHERE $(row ns f)")" 0 \
	"the store's expiration column is 0"
setfattr -n user.kv.expiration_ttl -v 600 "$F"
check "removing user.kv.expiration_ttl works" \
	setfattr -x user.kv.expiration_ttl "$F"
fails_with "$noattr" "removing the TTL removed the expiration" \
	getfattr -n user.kv.expiration "$F"
is "$(sq "SELECT expiration FROM kv WHERE $(row ns f)")" 0 \
	"the store's expiration column is 0 again"
is "$(cat "$F")" hello "the value is still there"

# ---- other user.* attributes ----------------------------------------------
check "setfattr user.color" setfattr -n user.color -v blue "$F"
is "$(gx "$F" user.color)" blue "getfattr returns user.color"
check "os.setxattr of a binary value (NUL, 0xff)" py '
os.setxattr(a[0], "user.bin", b"\x00\xff\x01 zero\x00")' "$F"
is "$(py 'print(os.getxattr(a[0], "user.bin").hex())' "$F" 2>&1)" \
	00ff01207a65726f00 "the binary value reads back byte for byte"
check "setfattr of an empty value" setfattr -n user.empty "$F"
is "$(py 'print(repr(os.getxattr(a[0], "user.empty")))' "$F" 2>&1)" "b''" \
	"the empty value reads back empty (not ENODATA)"
is "$(names "$F")" \
	"user.bin user.color user.empty user.kv.metadata user.note" \
	"listxattr lists every attribute"
lst=$(py 'print(sum(len(n) + 1 for n in os.listxattr(a[0])))' "$F" 2>&1)
is "$(raw list "$F" 0 2>&1)" "$lst" "listxattr size query gives the list length"
fails_with "$erange" "listxattr with a buffer one byte short: ERANGE" \
	raw list "$F" $((lst - 1))
is "$(raw list "$F" "$lst" 2>&1)" "$lst" "listxattr with exactly that size works"
fails_with "File exists" "XATTR_CREATE on an existing user.color: EEXIST" \
	ps "$F" user.color red 1
is "$(gx "$F" user.color)" blue "the failed XATTR_CREATE left user.color"
fails_with "$enodata" "XATTR_REPLACE on a missing user.*: ENODATA" \
	ps "$F" user.missing x 2
fails_with "$noattr" "the failed XATTR_REPLACE created nothing" \
	getfattr -n user.missing "$F"
check "XATTR_REPLACE on user.color" ps "$F" user.color green 2
is "$(gx "$F" user.color)" green "user.color replaced"
check "XATTR_CREATE of a new user.*" ps "$F" user.fresh new 1
check "setfattr -x user.fresh" setfattr -x user.fresh "$F"
fails_with "$noattr" "the removed attribute is gone" getfattr -n user.fresh "$F"
fails_with "$noattr" "setfattr -x of a missing attribute: ENODATA" \
	setfattr -x user.fresh "$F"
fails_with "$enodata" "os.removexattr of a missing attribute: ENODATA" \
	pr "$F" user.never

for n in security.kvfs system.kvfs trusted.kvfs plainname; do
	fails_with "$enotsup" "setfattr $n on a key: EOPNOTSUPP" \
		setfattr -n "$n" -v 1 "$F"
done
# A well-formed version 2 capability (the kernel checks the format).
fails_with "$enotsup" "os.setxattr security.capability: EOPNOTSUPP" py '
os.setxattr(a[0], "security.capability", b"\x00\x00\x00\x02" + bytes(16))' "$F"
fails_with "$noattr" "the refused security.kvfs was not stored" \
	getfattr -n security.kvfs "$F"

# ---- limits: metadata ------------------------------------------------------
echo lim >"$N/lim"
m1024='{"a":"'$(rep x 1016)'"}'
m1025='{"a":"'$(rep x 1017)'"}'
sp1025='{ "a": "'$(rep x 1014)'" }'
sp1027='{ "a": "'$(rep x 1016)'" }'
check "setfattr metadata of exactly 1024 bytes" \
	setfattr -n user.kv.metadata -v "$m1024" "$N/lim"
got=$(gx "$N/lim" user.kv.metadata)
is "${#got}:$got" "1024:$m1024" "getfattr returns the 1024 bytes"
fails_with "$erange" "setfattr metadata of 1025 bytes: ERANGE" \
	setfattr -n user.kv.metadata -v "$m1025" "$N/lim"
is "$(gx "$N/lim" user.kv.metadata)" "$m1024" \
	"after the ERANGE the 1024-byte metadata is still there"
is "$(sq "SELECT length(metadata) FROM kv WHERE $(row ns lim)")" 1024 \
	"the store still holds 1024 bytes"
check "setfattr of 1025 bytes that compact to 1022 works" \
	setfattr -n user.kv.metadata -v "$sp1025" "$N/lim"
is "$(gx "$N/lim" user.kv.metadata)" '{"a":"'"$(rep x 1014)"'"}' \
	"it is stored compact"
check "setfattr of 1027 bytes that compact to exactly 1024 works" \
	setfattr -n user.kv.metadata -v "$sp1027" "$N/lim"
is "$(gx "$N/lim" user.kv.metadata)" "$m1024" "stored as the 1024-byte form"

ps "$N/lim" user.kv.metadata '{"small":1}'
check "os.setxattr metadata of exactly 1024 bytes" \
	ps "$N/lim" user.kv.metadata "$m1024"
is "$(pg "$N/lim" user.kv.metadata)" "$m1024" "os.getxattr returns the 1024 bytes"
fails_with "$erange" "os.setxattr metadata of 1025 bytes: ERANGE" \
	ps "$N/lim" user.kv.metadata "$m1025"
is "$(pg "$N/lim" user.kv.metadata)" "$m1024" "after the ERANGE it is unchanged"
check "os.setxattr of 1025 bytes that compact to 1022 works" \
	ps "$N/lim" user.kv.metadata "$sp1025"
is "$(pg "$N/lim" user.kv.metadata)" '{"a":"'"$(rep x 1014)"'"}' \
	"os.getxattr returns the compact form"
fails_with "$erange" "spaces inside a string count: 1025 compact bytes: ERANGE" \
	ps "$N/lim" user.kv.metadata '{"a":"'"$(rep ' ' 1017)"'"}'
u1024='{"a":"'$(rep é 508)'"}'
check "os.setxattr metadata of 1024 UTF-8 bytes (508 two-byte chars)" \
	ps "$N/lim" user.kv.metadata "$u1024"
is "$(pg "$N/lim" user.kv.metadata)" "$u1024" "the UTF-8 metadata reads back"
fails_with "$erange" "one byte more of UTF-8: ERANGE" \
	ps "$N/lim" user.kv.metadata '{"a":"'"$(rep é 508)"'x"}'
is "$(pg "$N/lim" user.kv.metadata)" "$u1024" "after the ERANGE it is unchanged"

# ---- limits: expiration ----------------------------------------------------
sync_second
now=$(date +%s)
check "setfattr expiration now+60" \
	setfattr -n user.kv.expiration -v $((now + 60)) "$N/lim"
is "$(gx "$N/lim" user.kv.expiration)" $((now + 60)) "it reads back"
now=$(date +%s)
fails_with "$einval" "setfattr expiration now+59: EINVAL" \
	setfattr -n user.kv.expiration -v $((now + 59)) "$N/lim"
is "$(gx "$N/lim" user.kv.expiration)" $((now + 60)) \
	"after the EINVAL the expiration is unchanged"
check "setfattr expiration 2147483647" \
	setfattr -n user.kv.expiration -v $MAXEXP "$N/lim"
is "$(gx "$N/lim" user.kv.expiration)" $MAXEXP "2147483647 reads back"
fails_with "$einval" "setfattr expiration 2147483648: EINVAL" \
	setfattr -n user.kv.expiration -v $((MAXEXP + 1)) "$N/lim"
is "$(gx "$N/lim" user.kv.expiration)" $MAXEXP "after the EINVAL still 2147483647"
is "$(sq "SELECT expiration FROM kv WHERE $(row ns lim)")" $MAXEXP \
	"the store holds 2147483647"

run py '
t = time.time()
time.sleep(1.02 - t % 1)
now = int(time.time())
os.setxattr(a[0], "user.kv.expiration", str(now + 60).encode())
got = os.getxattr(a[0], "user.kv.expiration").decode()
print("ok" if got == str(now + 60) else "read back %s, want %d" % (got, now + 60))
' "$N/lim"
is "$KV_LAST_OUT" ok "os.setxattr expiration now+60 works and reads back"
run py '
now = int(time.time())
os.setxattr(a[0], "user.kv.expiration", str(now + 59).encode())' "$N/lim"
like "$KV_LAST_OUT" "*$einval" "os.setxattr expiration now+59: EINVAL"
check "os.setxattr expiration 2147483647" \
	ps "$N/lim" user.kv.expiration $MAXEXP
fails_with "$einval" "os.setxattr expiration 2147483648: EINVAL" \
	ps "$N/lim" user.kv.expiration $((MAXEXP + 1))
is "$(pg "$N/lim" user.kv.expiration)" $MAXEXP "os.getxattr: still 2147483647"

# ---- limits: TTL -------------------------------------------------------------
now0=$(date +%s)
check "setfattr expiration_ttl 60" \
	setfattr -n user.kv.expiration_ttl -v 60 "$N/lim"
now1=$(date +%s)
e=$(gx "$N/lim" user.kv.expiration)
if [[ $e =~ ^[0-9]+$ ]] && [ "$e" -ge $((now0 + 60)) ] &&
	[ "$e" -le $((now1 + 60)) ]; then
	ok "TTL 60 gives expiration now+60"
else
	not_ok "TTL 60 gives expiration now+60" \
		"expected $((now0 + 60))..$((now1 + 60)), got $(show "$e")"
fi
fails_with "$einval" "setfattr expiration_ttl 59: EINVAL" \
	setfattr -n user.kv.expiration_ttl -v 59 "$N/lim"
is "$(gx "$N/lim" user.kv.expiration)" "$e" "after the EINVAL the expiration is unchanged"
check "os.setxattr expiration_ttl 60" ps "$N/lim" user.kv.expiration_ttl 60
fails_with "$einval" "os.setxattr expiration_ttl 59: EINVAL" \
	ps "$N/lim" user.kv.expiration_ttl 59
ttl=$(pg "$N/lim" user.kv.expiration_ttl)
if [[ $ttl =~ ^[0-9]+$ ]] && [ "$ttl" -ge 58 ] && [ "$ttl" -le 60 ]; then
	ok "os.getxattr expiration_ttl right after TTL 60 gives 58..60"
else
	not_ok "os.getxattr expiration_ttl right after TTL 60 gives 58..60" \
		"got $(show "$ttl")"
fi
run py '
time.sleep(1.02 - time.time() % 1)
room = 2147483647 - int(time.time())
os.setxattr(a[0], "user.kv.expiration_ttl", str(room - 5).encode())
print(os.getxattr(a[0], "user.kv.expiration").decode())' "$N/lim"
is "$KV_LAST_OUT" $((MAXEXP - 5)) "TTL up to 2147483647 - now works"
run py '
room = 2147483647 - int(time.time())
os.setxattr(a[0], "user.kv.expiration_ttl", str(room + 5).encode())' "$N/lim"
like "$KV_LAST_OUT" "*$einval" "TTL past 2147483647 - now: EINVAL"
fails_with "$einval" "TTL 2147483648: EINVAL" \
	ps "$N/lim" user.kv.expiration_ttl 2147483648
is "$(gx "$N/lim" user.kv.expiration)" $((MAXEXP - 5)) \
	"after the refused TTLs the expiration is unchanged"
setfattr -x user.kv.expiration "$N/lim"

# ---- limits: 65,536 bytes of user.* names and values per key ----------------
# user.big: 8 bytes of name, 65,528 of value: 65,536 in all.
rep x 65528 >"$L/x65528"
rep y 65529 >"$L/y65529"
echo big >"$N/big"
check "setfattr user.big, 65,536 bytes of name and value" \
	sf user.big "$L/x65528" "$N/big"
is "$(pg "$N/big" user.big | wc -c)" 65528 "user.big reads back 65,528 bytes"
fails_with "$enospc" "setfattr user.big one byte longer: ENOSPC" \
	sf user.big "$L/y65529" "$N/big"
is "$(gx "$N/big" user.big)" "$(rep x 65528)" "user.big keeps its old value"
fails_with "$enospc" "another attribute on the full key: ENOSPC" \
	setfattr -n user.c -v x "$N/big"
fails_with "$noattr" "the refused attribute was not stored" \
	getfattr -n user.c "$N/big"
check "metadata is not counted in the 65,536 bytes" \
	setfattr -n user.kv.metadata -v '{"m":1}' "$N/big"
check "removing user.big frees its room" setfattr -x user.big "$N/big"
check "so another attribute fits" setfattr -n user.c -v x "$N/big"

echo big2 >"$N/big2"
rep a 40000 >"$L/a40000"
rep b 25522 >"$L/b25522"
rep c 25523 >"$L/c25523"
rep d 25522 >"$L/d25522"
check "os.setxattr user.p1 of 40,000 bytes" psf "$N/big2" user.p1 "$L/a40000"
# 7 + 40000 + 7 + 25522 = 65536
check "os.setxattr user.p2 filling 65,536 bytes exactly" \
	psf "$N/big2" user.p2 "$L/b25522"
fails_with "$enospc" "os.setxattr user.p2 one byte longer: ENOSPC" \
	psf "$N/big2" user.p2 "$L/c25523"
is "$(pg "$N/big2" user.p2)" "$(rep b 25522)" "user.p2 keeps its old value"
check "replacing user.p2 with as many bytes works (old value not counted twice)" \
	psf "$N/big2" user.p2 "$L/d25522"
is "$(pg "$N/big2" user.p2)" "$(rep d 25522)" "user.p2 has the new value"
is "$(pg "$N/big2" user.p1 | wc -c)" 40000 "user.p1 is intact"

# ---- directories -------------------------------------------------------------
mkdir "$N/dir"
check "setfattr user.color on a mkdir'd directory" \
	setfattr -n user.color -v red "$N/dir"
is "$(gx "$N/dir" user.color)" red "getfattr on the directory"
is "$(names "$N/dir")" user.color "listxattr on the directory"
for n in user.kv.metadata user.kv.expiration user.kv.expiration_ttl; do
	case $n in
	*metadata) v='{"d":1}' ;;
	*ttl) v=3600 ;;
	*) v=$(($(date +%s) + 3600)) ;;
	esac
	fails_with "$eperm" "setfattr $n on a directory: EPERM" \
		setfattr -n "$n" -v "$v" "$N/dir"
done
fails_with "$enotsup" "setfattr security.kvfs on a directory: EOPNOTSUPP" \
	setfattr -n security.kvfs -v 1 "$N/dir"
fails_with "$enodata" "os.getxattr system.posix_acl_default of a directory: ENODATA" \
	pg "$N/dir" system.posix_acl_default
# user.color=red takes 13 bytes; user.big 8 + 65515: 65,536 in all.
rep x 65515 >"$L/x65515"
rep x 65516 >"$L/x65516"
check "setfattr user.big on a directory, 65,536 bytes with user.color" \
	sf user.big "$L/x65515" "$N/dir"
fails_with "$enospc" "one byte more on the directory: ENOSPC" \
	sf user.big "$L/x65516" "$N/dir"
is "$(pg "$N/dir" user.big | wc -c)" 65515 "the directory's user.big is unchanged"
check "removing it from the directory" setfattr -x user.big "$N/dir"
echo inside >"$N/dir/k"
is "$(gx "$N/dir" user.color)" red "a key written in the directory leaves its attribute"

# An implied directory: key imp/k written through a flat-layout mount of
# the same database, so no directory row exists.
kv_mount_shared b a "[namespace ns]
layout = flat"
echo implied >"${KV_MNTS[b]}/ns/imp^sk"
is "$(cat "$N/imp/k" 2>&1)" implied "(imp/k is seen in the tree layout)"
is "$(names "$N/imp")" "" "an implied directory lists no attribute"
fails_with "$noattr" "getfattr on an implied directory: ENODATA" \
	getfattr -n user.color "$N/imp"
check "setfattr user.color on an implied directory" \
	setfattr -n user.color -v violet "$N/imp"
is "$(gx "$N/imp" user.color)" violet "getfattr on the implied directory"
fails_with "$eperm" "setfattr user.kv.metadata on an implied directory: EPERM" \
	setfattr -n user.kv.metadata -v '{"d":1}' "$N/imp"
is "$(ls "$N/imp" 2>&1)" k "the implied directory still lists its key"
is "$(cat "${KV_MNTS[b]}/ns/imp^sk" 2>&1)" implied \
	"the key is still there in the flat view"
is "$(ls "${KV_MNTS[b]}/ns" | tr '\n' ' ')" \
	"big big2 dir^sk f imp^sk lim " \
	"the flat view shows keys only (no directory row as a key)"

# A namespace directory keeps user.* attributes like any directory (so
# rsync -aX and cp -a into a namespace's top work); user.kv.* are for
# keys only.  The mount root takes no attribute.
fails_with "$eperm" "setfattr user.kv.metadata on /ns: EPERM" \
	setfattr -n user.kv.metadata -v '{}' "$N"
fails_with "$noattr" "getfattr user.nsx on /ns before it is set: ENODATA" \
	getfattr -n user.nsx "$N"
check "setfattr user.nsx on /ns" setfattr -n user.nsx -v top "$N"
is "$(getfattr --absolute-names --only-values -n user.nsx "$N" 2>&1)" top \
	"getfattr user.nsx on /ns gives it back"
is "$(names "$N")" user.nsx "listxattr on /ns lists it"
check "setfattr -x user.nsx on /ns" setfattr -x user.nsx "$N"
is "$(names "$N")" "" "listxattr on /ns is empty again"
fails_with "$eperm" "setfattr user.x on /: EPERM" setfattr -n user.x -v 1 "$M"
fails_with "$eperm" "setfattr user.kv.metadata on /: EPERM" \
	setfattr -n user.kv.metadata -v '{}' "$M"
fails_with "$noattr" "getfattr user.x on /: ENODATA" getfattr -n user.x "$M"
for d in "$N" "$M"; do
	w=${d#"$M"}
	w=${w:-/}
	fails_with "$enodata" "os.getxattr security.selinux on $w: ENODATA" \
		pg "$d" security.selinux
done
is "$(names "$M")" "" "listxattr on / is empty"

# ---- rewriting the content keeps the attributes ------------------------------
R=$N/r
echo v1 >"$R"
E=$(($(date +%s) + 5000))
setfattr -n user.kv.metadata -v '{"keep": true}' "$R"
setfattr -n user.kv.expiration -v "$E" "$R"
setfattr -n user.note -v kept "$R"
want="{\"keep\":true}|$E|kept"
is "$(attrs "$R")" "$want" "(the attributes are set)"
echo v2 >"$R"
is "$(cat "$R")|$(attrs "$R")" "v2|$want" "echo > keeps metadata, expiration, user.note"
printf 'from local\n' >"$L/over"
cp "$L/over" "$R"
is "$(cat "$R")|$(attrs "$R")" "from local|$want" "cp over the key keeps them"
truncate -s 4 "$R"
is "$(cat "$R")|$(attrs "$R")" "from|$want" "truncate keeps them"
echo more >>"$R"
is "$(cat "$R")|$(attrs "$R")" "frommore|$want" "O_APPEND keeps them"
py 'fd = os.open(a[0], os.O_WRONLY | os.O_TRUNC); os.write(fd, b"py"); os.close(fd)' "$R"
is "$(cat "$R")|$(attrs "$R")" "py|$want" "open O_TRUNC, write, close keeps them"
is "$(sq "SELECT value, metadata, expiration FROM kv WHERE $(row ns r)")" \
	"py|{\"keep\":true}|$E" "the store holds the new value with the old metadata and expiration"

# ---- open, write, fsetxattr, close ---------------------------------------------
E2=$(($(date +%s) + 6000))
run py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b"bo")
os.setxattr(fd, "user.kv.metadata", b"{ \"via\": \"fd\" }")
os.setxattr(fd, "user.kv.expiration", a[1].encode())
os.setxattr(fd, "user.tag", b"t")
os.write(fd, b"dy")
print(os.getxattr(fd, "user.kv.metadata").decode(), os.getxattr(fd, "user.tag").decode())
os.close(fd)' "$N/fd" "$E2"
is "$KV_LAST_OUT" '{"via":"fd"} t' \
	"open, write, fsetxattr: the attributes read back through the fd"
is "$(cat "$N/fd" 2>&1)" body "after close the value is complete"
is "$(gx "$N/fd" user.kv.metadata)|$(gx "$N/fd" user.kv.expiration)|$(gx "$N/fd" user.tag)" \
	"{\"via\":\"fd\"}|$E2|t" "after close the attributes are there"
is "$(sq "SELECT value, metadata, expiration FROM kv WHERE $(row ns fd)")" \
	"body|{\"via\":\"fd\"}|$E2" "the store has one row with value, metadata and expiration"
now0=$(date +%s)
run py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"ttl")
os.setxattr(fd, "user.kv.expiration_ttl", b"3600")
os.close(fd)' "$N/fd2"
is "$KV_LAST_OUT" "" "open, write, fsetxattr user.kv.expiration_ttl, close"
e=$(sq "SELECT expiration FROM kv WHERE $(row ns fd2)")
num_cmp "$e" -ge $((now0 + 3600)) "the store has the TTL's expiration (not before now+3600)"
num_cmp "$e" -le $(($(date +%s) + 3600)) "the store has the TTL's expiration (not after)"
is "$(cat "$N/fd2" 2>&1)" ttl "and the value"

# ---- copying between namespaces ----------------------------------------------
S=$M/src
E3=$(($(date +%s) + 7200))
echo one >"$S/k1"
setfattr -n user.kv.metadata -v '{"n": 1}' "$S/k1"
setfattr -n user.kv.expiration -v "$E3" "$S/k1"
setfattr -n user.note -v n1 "$S/k1"
mkdir "$S/sub"
setfattr -n user.color -v teal "$S/sub"
echo two >"$S/sub/k2"
setfattr -n user.kv.metadata -v '{"n":2}' "$S/sub/k2"
echo plain >"$S/plain"
want1="{\"n\":1}|$E3|n1"

check "cp -a of one key to another namespace exits 0" cp -a "$S/k1" "$M/dst/"
is "$(cat "$M/dst/k1" 2>&1)|$(attrs "$M/dst/k1")" "one|$want1" \
	"cp -a kept value, metadata, expiration, user.note"
check "cp -a of a tree (src/.) exits 0" cp -a "$S/." "$M/dst/"
is "$(gx "$M/dst/sub/k2" user.kv.metadata)" '{"n":2}' "cp -a: sub/k2's metadata"
is "$(gx "$M/dst/sub" user.color)" teal "cp -a: the directory's user.color"
fails_with "$noattr" "cp -a: a key without metadata has none" \
	getfattr -n user.kv.metadata "$M/dst/plain"
check "rsync -aX src/ dst2/ exits 0" rsync -aX "$S/" "$M/dst2/"
is "$(cat "$M/dst2/k1" 2>&1)|$(attrs "$M/dst2/k1")" "one|$want1" \
	"rsync -aX kept value, metadata, expiration, user.note"
is "$(gx "$M/dst2/sub/k2" user.kv.metadata)" '{"n":2}' "rsync -aX: sub/k2's metadata"
is "$(gx "$M/dst2/sub" user.color)" teal "rsync -aX: the directory's user.color"
is "$(ls -A "$M/dst2" | tr '\n' ' ')" "k1 plain sub " \
	"rsync -aX left no temporary file"
check "rsync -aX again (nothing to do) exits 0" rsync -aX "$S/" "$M/dst2/"
check "cp --preserve=xattr exits 0" cp --preserve=xattr "$S/k1" "$M/dst3/k1"
is "$(cat "$M/dst3/k1" 2>&1)|$(attrs "$M/dst3/k1")" "one|$want1" \
	"cp --preserve=xattr kept metadata, expiration, user.note"
is "$(sq "SELECT group_concat(c, ' ') FROM (SELECT n.name || ':' ||
	kv.metadata || ':' || kv.expiration AS c FROM kv JOIN ns n ON n.id = kv.ns
	WHERE kv.key = CAST('k1' AS BLOB) AND kv.kind = 0 ORDER BY n.name)")" \
	"dst:{\"n\":1}:$E3 dst2:{\"n\":1}:$E3 dst3:{\"n\":1}:$E3 src:{\"n\":1}:$E3" \
	"the store holds metadata and expiration in every copy"

# From a local tree and back.
mkdir -p "$L/tree/d"
echo local >"$L/tree/d/f"
setfattr -n user.origin -v disk "$L/tree/d/f"
setfattr -n user.dirattr -v yes "$L/tree/d"
check "cp -a of a local tree with user.* attributes exits 0" \
	cp -a "$L/tree" "$M/loc/cp"
is "$(cat "$M/loc/cp/d/f" 2>&1)|$(gx "$M/loc/cp/d/f" user.origin)|$(gx "$M/loc/cp/d" user.dirattr)" \
	"local|disk|yes" "cp -a from local kept the value and the attributes"
check "rsync -aX of a local tree exits 0" rsync -aX "$L/tree/" "$M/loc/rs/"
is "$(cat "$M/loc/rs/d/f" 2>&1)|$(gx "$M/loc/rs/d/f" user.origin)|$(gx "$M/loc/rs/d" user.dirattr)" \
	"local|disk|yes" "rsync -aX from local kept the value and the attributes"
check "cp -a of a key to the local disk exits 0" cp -a "$S/k1" "$L/k1"
is "$(getfattr --absolute-names --only-values -n user.kv.metadata "$L/k1" 2>&1)" \
	'{"n":1}' "the local copy carries user.kv.metadata"

# ---- ls -l and cp -p ----------------------------------------------------------
check "ls -l of a namespace" ls -l "$N"
check "ls -l of the mount root" ls -l "$M"
check "ls -la of a directory" ls -la "$N/dir"
printf 'mode\n' >"$L/mode"
chmod 640 "$L/mode"
touch -d '2020-01-02 03:04:05' "$L/mode"
check "cp -p of a local file to the mount" cp -p "$L/mode" "$N/mode"
is "$(cat "$N/mode" 2>&1)|$(stat -c '%a %Y' "$N/mode" 2>&1)" \
	"mode|640 $(stat -c %Y "$L/mode")" "cp -p kept the value, the mode and the mtime"
check "cp -p of a key to the local disk" cp -p "$N/mode" "$L/mode2"
same_file "$L/mode2" "$L/mode" "and back to the local disk the bytes are the same"
check "cp -p of a key within the mount" cp -p "$R" "$N/r2"
is "$(cat "$N/r2" 2>&1)" py "the copy within the mount has the value"

# ---- after a remount ------------------------------------------------------------
persist=("$F" "$N/lim" "$N/big" "$N/big2" "$N/dir" "$N/imp" "$R" "$N/fd"
	"$N/fd2" "$M/dst/k1" "$M/dst2/sub" "$M/loc/rs/d/f")
before=$(dump "${persist[@]}")
kv_remount a
after=$(dump "${persist[@]}")
is "$after" "$before" "after remount every attribute of 12 keys and directories is the same"
num_cmp "$(printf '%s\n' "$after" | wc -l)" -ge 20 "(and they are at least 20)"
is "$(gx "$F" user.kv.metadata)" '{"created":1}' "after remount: f's metadata"
is "$(gx "$N/imp" user.color)" violet "after remount: the implied directory's attribute"
is "$(attrs "$R")" "$want" "after remount: the rewritten key's attributes"
is "$(gx "$N/fd" user.tag)" t "after remount: the attribute set through the fd"

done_testing
