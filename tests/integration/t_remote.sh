#!/bin/bash
# t_remote: a remote namespace (backend = cloudflare) against Miniflare,
# Cloudflare's own simulator, reached through tests/remote/faultproxy.py
# with no fault set (which gives it the API's account path and the
# endpoints Miniflare's explorer lacks).  Beside it a local namespace
# in the same mount.  The same checks the SQLite backend passes where
# they apply to a remote namespace: cat, echo >, rm, ls over more than
# one list page (1000 keys), keys with '/', '%', '?', spaces, non-ASCII
# and escaped names, values of 0 bytes, 1 MiB and 25 MiB (and EFBIG
# past it), metadata and expiration as xattrs, the order of ls against
# a local namespace, cp -a and rsync -aX both ways, mv (EXDEV, so mv
# copies and deletes), O_EXCL, >>, read-your-writes, a change made
# through the API seen after cache_ttl and not before, and the CLI
# (get, put, list, import, export).  Every value and attribute is also
# read from Miniflare directly (mf_*), not only back through kvfs.
. "$(dirname "$0")/lib.sh"

NSR=5f0c2a1e9b7d4c3e8a6f1b2d3c4e5f60 # Miniflare's namespace behind rem
NSC=0a9b8c7d6e5f40312a3b4c5d6e7f8091 # behind cli, used by the CLI only

W=$(kv_tmpdir)
kv_track_dir "$W"
kv_miniflare "$NSR" "$NSC"
kv_faultproxy

# path in the mount | the key it stands for
names=(
	"dir/sub/file|dir/sub/file"
	"100%|100%"
	"what?|what?"
	"with space|with space"
	"été/ünïcödé ☃|été/ünïcödé ☃"
	"日本語|日本語"
	"a%2Fb|a%2Fb"
	"q?x=1&y=%20|q?x=1&y=%20"
	"a^^b|a^b"
	"line^Jbreak|line"$'\n'"break"
	"https:/^e/x.org/p|https://x.org/p"
	"^./x|./x"
	"plus+sign|plus+sign"
	"hash#tag|hash#tag"
)

# Keys put through the API, all before the mount: once the mount has
# listed a directory, it answers from that listing (and caches misses)
# for cache_ttl, so a key put through the API later shows up only then
# (tested at the end of this script).
now=$(date +%s)
printf 'from the API' >"$W/v"
mf_put "$NSR" early "$W/v"
for pair in "${names[@]}"; do
	path=${pair%%|*}
	key=${pair#*|}
	printf 'api %s' "$key" >"$W/v"
	mf_put "$NSR" "x/$key" "$W/v"
done
printf 'leaf' >"$W/v"
mf_put "$NSR" both "$W/v"
mf_put "$NSR" both/inner "$W/v"
# 1,100 keys under many/ through the bulk API: more than a list page.
python3 - "$W/bulk.json" <<'EOF'
import json, sys
pairs = [{"key": "many/k%05d" % i, "value": "v%d" % i} for i in range(1100)]
json.dump(pairs, open(sys.argv[1], "w"))
EOF
mf_bulk "$NSR" "$W/bulk.json"
printf 'from api' >"$W/v"
mf_put_meta "$NSR" apimeta "$W/v" '{"from":"api","n":[1,2]}'
mf_put "$NSR" apiexp "$W/v" "expiration=$((now + 5000))"
printf 'uncached' >"$W/v"
mf_put "$NSR" excl-api "$W/v"
printf 'api line\n' >"$W/v"
mf_put "$NSR" log-api "$W/v"

kv_mount a "[namespace loc]
$(kv_remote_ns rem "$NSR")
$(kv_remote_ns cli "$NSC")"
M=$KV_MNT
R=$M/rem
L=$M/loc
CF=${KV_CONFS[a]}

enoent="No such file or directory"
eexist="File exists"
efbig="File too large"

# vsha NS_ID KEY: SHA-256 of the value Miniflare holds, or "missing".
vsha() {
	if mf_get "$1" "$2" "$W/mf.val"; then
		sha "$W/mf.val"
	else
		printf missing
	fi
}

# field KEY NAME: the list result's field NAME (expiration, metadata)
# of KEY in namespace rem, as compact JSON; "none" when absent.
field() {
	mf_keys "$NSR" "$1" | python3 -c '
import json, sys
for line in sys.stdin:
    k = json.loads(line)
    if k["name"] == sys.argv[1]:
        v = k.get(sys.argv[2])
        print("none" if v is None else
              json.dumps(v, separators=(",", ":"), ensure_ascii=False))
        sys.exit(0)
print("missing")' "$1" "$2"
}

# ---- the mount -----------------------------------------------------------

is "$(ls "$M" | tr '\n' ' ')" "cli loc rem " \
	"the root lists the local and the remote namespaces"
is "$(ls "$R" | head -n 3 | tr '\n' ' ')" "apiexp apimeta both " \
	"ls of the remote namespace lists the keys put through the API"

is "$(cat "$R/early" 2>&1)" "from the API" \
	"a key put through the API before the mount is read through it"

# ---- cat, echo >, rm --------------------------------------------------------

echo hello >"$R/greeting"
is "$(cat "$R/greeting")" hello "echo > then cat"
is "$(mf_get "$NSR" greeting)" hello "Miniflare holds what echo > stored"
echo again >"$R/greeting"
is "$(cat "$R/greeting")" again "a rewrite is read at once (read-your-writes)"
is "$(mf_get "$NSR" greeting)" again "Miniflare holds the rewrite"
check "rm deletes a remote key" rm "$R/greeting"
is "$(vsha "$NSR" greeting)" missing "Miniflare no longer holds the key"
fails_with "$enoent" "cat of the removed key fails with ENOENT" \
	cat "$R/greeting"
fails_with "$enoent" "cat of a key never stored fails with ENOENT" \
	cat "$R/never-there"
fails_with "$enoent" "rm of a missing key fails with ENOENT" \
	rm "$R/never-there"

# One PUT per close that wrote, none at create.
kv_proxy_clear
echo once >"$R/one-put"
puts=$(kv_proxy_log | grep -c '"method": "PUT".*"key": "one-put"')
is "$puts" 1 "echo > on a new key makes exactly one PUT"

# ---- names ------------------------------------------------------------------

for pair in "${names[@]}"; do
	path=${pair%%|*}
	key=${pair#*|}
	mkdir -p "$(dirname "$R/$path")"
	printf 'value of %s' "$key" >"$R/$path"
	got=$(mf_get "$NSR" "$key" 2>&1)
	is "$got" "value of $key" "$(show "$path") is key $(show "$key") in Miniflare"
done
# The other way: keys put through the API before the mount, read by
# their paths.
for pair in "${names[@]}"; do
	path=${pair%%|*}
	key=${pair#*|}
	got=$(cat "$R/x/$path" 2>&1)
	is "$got" "api $key" "key $(show "x/$key") reads as $(show "x/$path")"
done
got=$(cd "$R/x" && find . -type f | LC_ALL=C sort | tr '\n' '|')
want=$(for pair in "${names[@]}"; do echo "./${pair%%|*}"; done |
	LC_ALL=C sort | tr '\n' '|')
is "$got" "$want" "find lists every key put through the API by its path"

# A key that is also a directory shows with the suffix ^v.
is "$(ls "$R" | grep '^both')" "$(printf 'both\nboth^v')" \
	"a key beside a directory of the same name is both^v"
is "$(cat "$R/both^v")" leaf "both^v reads the key's value"

# ---- values -------------------------------------------------------------------

: >"$R/empty"
is "$(stat -c %s "$R/empty")" 0 "an empty value has size 0"
is "$(vsha "$NSR" empty)" "$(sha /dev/null)" \
	"Miniflare holds the empty value (present, not missing)"
touch "$R/touched"
is "$(vsha "$NSR" touched)" "$(sha /dev/null)" \
	"touch creates an empty key in Miniflare"

head -c 1048576 /dev/urandom >"$W/1m"
cp "$W/1m" "$R/1m"
same_file "$R/1m" "$W/1m" "1 MiB: read back whole"
is "$(vsha "$NSR" 1m)" "$(sha "$W/1m")" "1 MiB: Miniflare holds the same bytes"

head -c 26214400 /dev/urandom >"$W/25m"
check "25 MiB (the limit) is stored" cp "$W/25m" "$R/25m"
is "$(stat -c %s "$R/25m")" 26214400 "25 MiB: size"
is "$(vsha "$NSR" 25m)" "$(sha "$W/25m")" \
	"25 MiB: Miniflare holds the same bytes"
head -c 26214401 /dev/urandom >"$W/25m1"
fails_with "$efbig" "one byte past 25 MiB fails with EFBIG" \
	cp "$W/25m1" "$R/25m1"
is "$(vsha "$NSR" 25m1)" missing "nothing stored past the limit"
rm -f "$W/25m1"

# ---- listing over many pages, and the order --------------------------------

got=$(ls "$R/many" | wc -l)
is "$got" 1100 "ls lists all 1,100 keys (two list pages and more)"
got=$(ls -f "$R/many" | grep -v '^\.\.\?$' | md5sum)
want=$(for i in $(seq 0 1099); do printf 'k%05d\n' "$i"; done | md5sum)
is "$got" "$want" "the listing is in key order, none skipped or repeated"
is "$(cat "$R/many/k01099")" v1099 "the last key of the last page reads"

# The same names in the local and the remote namespace: the same order
# straight from readdir (ls -f, unsorted), byte order of the keys.
order_keys=(B a A b ab 'a b' 'a-b' a.b a_b 'a~' 'é' 'z' 'Z' '0' '9' '~'
	'日' 'ä' '^^' '%' '?' 'a^^b' 'aa' 'a0')
mkdir "$L/order" "$R/order"
for k in "${order_keys[@]}"; do
	printf x >"$L/order/$k"
	printf x >"$R/order/$k"
done
is "$(ls -f "$R/order" | grep -v '^\.\.\?$' | tr '\n' '|')" \
	"$(ls -f "$L/order" | grep -v '^\.\.\?$' | tr '\n' '|')" \
	"ls -f: remote order is the local namespace's order"

# ---- metadata and expiration as xattrs -------------------------------------

echo meta >"$R/meta"
check "setfattr user.kv.metadata on a remote key" \
	setfattr -n user.kv.metadata -v '{"user": 42, "scope": ["read"]}' \
	"$R/meta"
is "$(xget "$R/meta" user.kv.metadata)" '{"user":42,"scope":["read"]}' \
	"getfattr gives the metadata back compact"
is "$(mf_meta "$NSR" meta)" '{"user":42,"scope":["read"]}' \
	"Miniflare's metadata endpoint holds it"
is "$(field meta metadata)" '{"user":42,"scope":["read"]}' \
	"Miniflare's list result holds it"
is "$(mf_get "$NSR" meta)" meta "the value is kept when metadata is set"

t0=$(date +%s)
check "setfattr user.kv.expiration_ttl 3600" \
	setfattr -n user.kv.expiration_ttl -v 3600 "$R/meta"
t1=$(date +%s)
exp=$(xget "$R/meta" user.kv.expiration)
num_cmp "$exp" -ge $((t0 + 3600)) "user.kv.expiration is now + 3600 or later"
num_cmp "$exp" -le $((t1 + 3600)) "… and not later than the call's end + 3600"
is "$(field meta expiration)" "$exp" \
	"Miniflare's list result has the same expiration"
is "$(field meta metadata)" '{"user":42,"scope":["read"]}' \
	"the metadata is kept when the expiration is set"
check "setfattr user.kv.expiration (absolute)" \
	setfattr -n user.kv.expiration -v $((now + 7200)) "$R/meta"
is "$(field meta expiration)" $((now + 7200)) \
	"Miniflare has the absolute expiration"
echo rewritten >"$R/meta"
is "$(field meta expiration),$(field meta metadata)" \
	"$((now + 7200)),{\"user\":42,\"scope\":[\"read\"]}" \
	"a rewrite of the content keeps metadata and expiration"
check "setfattr -x user.kv.expiration makes the key permanent" \
	setfattr -x user.kv.expiration "$R/meta"
is "$(field meta expiration)" none "Miniflare has no expiration for it"
check "setfattr -x user.kv.metadata clears it" \
	setfattr -x user.kv.metadata "$R/meta"
is "$(mf_meta "$NSR" meta)" null "Miniflare has no metadata for it"

# Metadata and expiration put through the API show as xattrs.
is "$(xget "$R/apimeta" user.kv.metadata)" '{"from":"api","n":[1,2]}' \
	"metadata put through the API reads as user.kv.metadata"
is "$(xget "$R/apiexp" user.kv.expiration)" $((now + 5000)) \
	"an expiration put through the API reads as user.kv.expiration"
is "$(xget "$R/apimeta" user.kv.expiration)" ENODATA \
	"a key without expiration has no user.kv.expiration (ENODATA)"

# ---- cp -a and rsync -aX, both ways ------------------------------------------

mkdir -p "$W/tree/d1/d2"
head -c 70000 /dev/urandom >"$W/tree/d1/d2/bin"
echo text >"$W/tree/top"
: >"$W/tree/d1/zero"
mkdir -p "$L/src"
cp -r "$W/tree/." "$L/src/"
setfattr -n user.kv.metadata -v '{"k":"top"}' "$L/src/top"
setfattr -n user.kv.expiration -v $((now + 9000)) "$L/src/d1/d2/bin"

check "cp -a local → remote" cp -a "$L/src" "$R/cpa"
check "diff -r local and remote copy" diff -r "$L/src" "$R/cpa"
is "$(mf_get "$NSR" cpa/top)" text "Miniflare holds the copied key"
is "$(field cpa/top metadata)" '{"k":"top"}' "cp -a carried the metadata"
is "$(field cpa/d1/d2/bin expiration)" $((now + 9000)) \
	"cp -a carried the expiration"
check "cp -a remote → local" cp -a "$R/cpa" "$L/back"
check "diff -r remote and its copy back" diff -r "$R/cpa" "$L/back"
is "$(xget "$L/back/top" user.kv.metadata)" '{"k":"top"}' \
	"metadata survives the way back"

check "rsync -aX local → remote" rsync -aX "$L/src/" "$R/rs/"
check "diff -r after rsync" diff -r "$L/src" "$R/rs"
is "$(field rs/top metadata)" '{"k":"top"}' "rsync -X carried the metadata"
is "$(field rs/d1/d2/bin expiration)" $((now + 9000)) \
	"rsync -X carried the expiration"
check "rsync -aX remote → local" rsync -aX "$R/rs/" "$L/rsback/"
check "diff -r after rsync back" diff -r "$R/rs" "$L/rsback"
is "$(xget "$L/rsback/d1/d2/bin" user.kv.expiration)" $((now + 9000)) \
	"the expiration survives the way back"
run rsync -aXi "$L/src/" "$R/rs/"
is "$(printf '%s' "$KV_LAST_OUT" | grep -c '^[<>]f')" 0 \
	"a second rsync transfers no file"

# ---- mv, O_EXCL, >> ----------------------------------------------------------

echo moving >"$R/mv-src"
check "mv within the remote namespace" mv "$R/mv-src" "$R/mv-dst"
is "$(cat "$R/mv-dst")" moving "the target holds the value"
is "$(vsha "$NSR" mv-src),$(mf_get "$NSR" mv-dst)" "missing,moving" \
	"Miniflare: source gone, target there"
fails_with "Invalid cross-device link" "rename(2) in a remote namespace: EXDEV" \
	py 'os.rename(a[0], a[1])' "$R/mv-dst" "$R/mv-dst2"
check "mv of a directory within remote" mv "$R/cpa" "$R/cpa-moved"
check "diff -r of the moved directory" diff -r "$L/src" "$R/cpa-moved"
is "$(mf_keys "$NSR" cpa/ | wc -l)" 0 "no key left under the old directory"
check "mv remote → local" mv "$R/mv-dst" "$L/mv-local"
is "$(cat "$L/mv-local"),$(vsha "$NSR" mv-dst)" "moving,missing" \
	"the key moved to the local namespace"

excl='os.close(os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL))'
fails_with "$eexist" "O_EXCL on a cached remote key: EEXIST" \
	py "$excl" "$R/apimeta"
fails_with "$eexist" "O_EXCL on a key only the API has seen: EEXIST" \
	py "$excl" "$R/excl-api"
is "$(mf_get "$NSR" excl-api)" uncached "the failed O_EXCL changed nothing"
check "O_EXCL on a new key creates it" py "$excl" "$R/excl-new"
is "$(vsha "$NSR" excl-new)" "$(sha /dev/null)" "Miniflare holds it, empty"

echo one >"$R/log"
echo two >>"$R/log"
echo three >>"$R/log"
is "$(cat "$R/log" | tr '\n' ' ')" "one two three " ">> appends"
is "$(mf_get "$NSR" log | tr '\n' ' ')" "one two three " \
	"Miniflare holds the appended value"
echo mine >>"$R/log-api"
is "$(mf_get "$NSR" log-api | tr '\n' ' ')" "api line mine " \
	">> on a key only the API has seen appends to its value"

# ---- cache_ttl: an API change is seen after the TTL, not before ---------------

echo cached-old >"$R/ttl"
cat "$R/ttl" >/dev/null
ttl_start=$(date +%s)
printf 'new from api' >"$W/v"
mf_put "$NSR" ttl "$W/v"
is "$(cat "$R/ttl")" cached-old \
	"within cache_ttl the mount serves its cached value"
fails_with "$enoent" "within cache_ttl a cached miss stays a miss" \
	cat "$R/never-there"
mf_put "$NSR" never-there "$W/v"
fails_with "$enoent" "… also after the key was put through the API" \
	cat "$R/never-there"

# ---- the CLI ---------------------------------------------------------------------

cli() {
	"$KVFS_BIN" -c "$CF" "$@"
}
printf 'cli value' >"$W/v"
check "kvfs put on the remote namespace" \
	cli put cli k1 "$W/v" --metadata '{"c":1}'
is "$(mf_get "$NSC" k1)" "cli value" "Miniflare holds what put stored"
is "$(mf_meta "$NSC" k1)" '{"c":1}' "… with its metadata"
is "$(cli get cli k1)" "cli value" "kvfs get reads it"
is "$(cli get cli k1 --metadata)" '{"c":1}' "kvfs get --metadata"
mf_put "$NSC" 'k2/sub ü' "$W/v" "expiration=$((now + 4000))"
got=$(cli list cli | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(" ".join(k["name"] + ":" + str(k.get("expiration", "-"))
               for k in r["keys"]), r["list_complete"])')
is "$got" "k1:- k2/sub ü:$((now + 4000)) True" "kvfs list shows both keys"
check_fails "kvfs get of a missing key fails" cli get cli nope

python3 - "$W/import.json" "$now" <<'EOF'
import json, sys
now = int(sys.argv[2])
pairs = [{"key": "imp/%04d" % i, "value": "value %d" % i} for i in range(1500)]
pairs.append({"key": "imp/bin", "value": "AAEC/w==", "base64": True})
pairs.append({"key": "imp/meta", "value": "m", "metadata": {"x": [1]},
              "expiration": now + 6000})
pairs.append({"key": "imp/ttl", "value": "t", "expiration_ttl": 3000})
json.dump(pairs, open(sys.argv[1], "w"))
EOF
check "kvfs import of 1,503 pairs into the remote namespace" \
	cli import cli "$W/import.json"
is "$(mf_keys "$NSC" imp/ | wc -l)" 1503 "Miniflare lists all of them"
is "$(mf_get "$NSC" imp/1499)" "value 1499" "a value arrived"
is "$(mf_get "$NSC" imp/bin | od -An -tx1 | tr -d ' \n')" 000102ff \
	"a base64 value arrived as its bytes"
is "$(mf_meta "$NSC" imp/meta),$(mf_keys "$NSC" imp/meta |
	grep -o '"expiration": [0-9]*' | grep -o '[0-9]*$')" \
	"{\"x\":[1]},$((now + 6000))" "metadata and expiration arrived"
exp=$(mf_keys "$NSC" imp/ttl | grep -o '"expiration": [0-9]*' |
	grep -o '[0-9]*$')
num_cmp "$exp" -ge $((now + 3000)) "expiration_ttl arrived as an expiration"

check "kvfs export of the remote namespace" cli export cli
printf '%s' "$KV_LAST_OUT" >"$W/export.json"
norm='import json, sys
d = json.load(open(sys.argv[1]))
print(len(d))
for e in sorted(d, key=lambda e: e["key"]):
    e.pop("expiration_ttl", None)
    print(json.dumps(e, sort_keys=True))'
mkdir "$M/roundtrip"
check "the export imports into a local namespace" \
	cli import roundtrip "$W/export.json"
check "… and exports from there" cli export roundtrip
printf '%s' "$KV_LAST_OUT" >"$W/export2.json"
is "$(python3 -c "$norm" "$W/export2.json" | md5sum)" \
	"$(python3 -c "$norm" "$W/export.json" | md5sum)" \
	"export round trip remote → local → export: the same pairs"
is "$(python3 -c "$norm" "$W/export.json" | sed -n 1p)" 1505 \
	"the export holds every key of the namespace"

run "$KVFS_BIN" status "$M"
is "$(echo "$KV_LAST_OUT" | sed -n 's/^keys: //p')" \
	"$(echo "$KV_LAST_OUT" | sed -n 's/^namespace [^:]*: \([0-9]*\) keys.*/\1/p' |
		awk '{n += $1} END {print n + 0}')" \
	"kvfs status: the total of keys counts every namespace, remote ones too"

# ---- after cache_ttl ------------------------------------------------------------

left=$((ttl_start + 32 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
is "$(cat "$R/ttl")" "new from api" \
	"after cache_ttl the change made through the API is read"
is "$(cat "$R/never-there" 2>&1)" "new from api" \
	"after cache_ttl a key put through the API is found"

done_testing
