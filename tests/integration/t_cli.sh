#!/bin/bash
# t_cli: the CLI (kvfs -c CONFIG get|put|delete|namespaces|list|import|
# export) against issue 5 ("The CLI") and Workers KV's semantics
# (docs: kv-semantics.md).  get is byte-exact, an empty value is not a
# missing key; put replaces value, metadata and expiration together (a
# write through the mount keeps them); the limits are refused with a
# message naming the key and the limit and store nothing; list pages in
# memcmp order with a cursor, never shows mkdir'd directories; import and
# export speak wrangler's bulk JSON, an import is one transaction; exit
# status 1 for a failed request, 2 for usage; all while a mount of the
# same database runs (kernel_cache_sec = 0, so the mount sees the CLI's
# writes at once).
. "$(dirname "$0")/lib.sh"

kv_mount a '[mount]
kernel_cache_sec = 0
[namespace ns]
[namespace flat]
layout = flat
[namespace spare]
[namespace pfx]'
M=$KV_MNT
N=$M/ns
CF=${KV_CONFS[a]}
W=${KV_DIRS[a]}/work
mkdir "$W"

# cli ARGS...: run `kvfs -c CONFIG ARGS...` (stdin is the caller's).
# Exact stdout in the file $W/out, and as text in OUT; stderr in ERR;
# the exit status in ST.
cli() {
	"$KVFS_BIN" -c "$CF" "$@" >"$W/out" 2>"$W/err"
	ST=$?
	OUT=$(tr -d '\0' <"$W/out")
	ERR=$(cat "$W/err")
}

# why: the last cli call, for a failing check's details.
why() {
	printf '%s\n' "exit status $ST" "stdout: $(show "$OUT")" \
		"stderr: $(show "$ERR")"
}

# status_is WANT DESC: the last cli call exited with status WANT.
status_is() {
	if [ "$ST" = "$1" ]; then
		ok "$2"
	else
		local IFS=$'\n'
		# shellcheck disable=SC2046
		not_ok "$2" "expected exit status $1" $(why)
	fi
}

# has HAYSTACK NEEDLE DESC: NEEDLE occurs literally in HAYSTACK.
has() {
	if [[ $1 == *"$2"* ]]; then
		ok "$3"
	else
		not_ok "$3" "expected to contain: $(show "$2")" "got: $(show "$1")"
	fi
}

# shown KEY: the key as a message shows it (its first 96 bytes, quoted).
shown() {
	printf "'%s" "${1:0:96}"
}

# refused DESC KEY LIMIT ARGS...: the CLI refuses the request: exit
# status 1 and a message that names KEY and matches the glob LIMIT (no
# check of the limit when LIMIT is "-").
refused() {
	local desc=$1 key=$2 limit=$3
	shift 3
	cli "$@"
	status_is 1 "$desc: exit status 1"
	has "$ERR" "$(shown "$key")" "$desc: the message names the key"
	[ "$limit" = - ] || like "$ERR" "$limit" "$desc: the message names the limit"
}

# exp_of NS KEY: the key's expiration as list shows it, "none" when it has
# none, "missing" when list does not show the key.
exp_of() {
	py 'import json, subprocess
r = subprocess.run([a[0], "-c", a[1], "list", a[2], "--prefix", a[3]],
                   capture_output=True)
e = [k for k in json.loads(r.stdout or b"{}").get("keys", [])
     if k.get("name") == a[3]]
print(e[0].get("expiration", "none") if e else "missing")' \
		"$KVFS_BIN" "$CF" "$1" "$2"
}

# meta_of NS KEY: what get --metadata prints (and its exit status if not 0).
meta_of() {
	local o st
	o=$("$KVFS_BIN" -c "$CF" get "$1" "$2" --metadata 2>&1)
	st=$?
	[ "$st" -eq 0 ] || o="exit $st: $o"
	printf '%s' "$o"
}

# value_of NS KEY: the value as get prints it (text), or "exit N".
value_of() {
	local o st
	o=$("$KVFS_BIN" -c "$CF" get "$1" "$2" 2>/dev/null)
	st=$?
	[ "$st" -eq 0 ] || o="exit $st"
	printf '%s' "$o"
}

# between X LO HI DESC: LO <= X <= HI, integers.
between() {
	if [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; then
		ok "$4"
	else
		not_ok "$4" "expected a number from $2 to $3" "got: $(show "$1")"
	fi
}

# xattr PATH NAME: the extended attribute's value, or the error text.
xattr() {
	py 'sys.stdout.write(os.getxattr(a[0], a[1]).decode())' "$1" "$2" 2>&1
}

# mkjson FILE EXPR: write the Python expression EXPR (with now = the
# time in whole seconds, x = "x" * 513) as JSON to FILE.
mkjson() {
	py 'import base64, json, time
now = int(time.time())
x = "x" * 513
with open(a[0], "w") as f:
    json.dump(eval(a[1]), f, ensure_ascii=False)' "$1" "$2"
}

# ---- usage: exit status 2 --------------------------------------------------
: >"$W/f1"
: >"$W/f2"
usage() {
	cli "$@" </dev/null
	if [ "$ST" = 2 ] && [[ $ERR == *usage* ]] &&
		[[ $ERR == *"kvfs: $1: missing or unexpected arguments"* ]]; then
		ok "usage error, exit status 2: $*"
	else
		local IFS=$'\n'
		# shellcheck disable=SC2046
		not_ok "usage error, exit status 2: $*" "expected status 2, the command and a usage message" $(why)
	fi
}
usage get
usage get ns
usage get ns k extra
usage get ns k --bogus
usage put ns
usage put ns k "$W/f1" "$W/f2"
usage put ns k --ttl
usage put ns k --bogus x
usage delete ns
usage delete ns k extra
usage namespaces extra
usage list
usage list ns --bogus
usage list ns --all
usage list ns --jsonl
usage list ns --all --jsonl --cursor abc
usage import ns
usage import ns "$W/f1" "$W/f2"
usage export
usage export ns extra
cli get ns k
status_is 1 "a usage error stored nothing (put ns k FILE FILE)"
cli list ns --all
has "$ERR" "--all and --jsonl go together" "list --all alone: the message says what it lacks"
"$KVFS_BIN" -c "$CF" -c "$CF" namespaces >"$W/out" 2>"$W/err"
ST=$?
ERR=$(cat "$W/err")
status_is 2 "-c twice: exit status 2"
has "$ERR" "-c given twice" "  and the message says so"
"$KVFS_BIN" get ns k -c "$CF" >"$W/out" 2>"$W/err"
ERR=$(cat "$W/err")
has "$ERR" "get: -c goes before the command: kvfs -c CONFIG get" \
	"-c after the command: the message says where -c goes"
XDG_DATA_HOME=$W/nodb HOME=$W/nodb "$KVFS_BIN" list ns -c "$CF" \
	>"$W/out" 2>"$W/err"
ERR=$(cat "$W/err")
has "$ERR" "list: -c goes before the command" \
	"  also where the default database is missing"
cli put ns -c - <<<"dash c"
cli get ns -c
is "$ST:$OUT" "0:dash c" "a key named -c where the usage has room for a key"
usage get ns k extra
is "${ERR/goes before/}" "$ERR" "  a usage error without -c says nothing of it"
"$KVFS_BIN" lsit ns >"$W/out" 2>"$W/err"
ST=$?
ERR=$(cat "$W/err")
status_is 2 "a mistyped command: exit status 2"
has "$ERR" "'lsit' is neither a command nor a config file" \
	"  and the message says what was not understood"
"$KVFS_BIN" -c "$CF" lsit ns >"$W/out" 2>"$W/err"
ST=$?
ERR=$(cat "$W/err")
status_is 2 "with -c, a mistyped command and an argument: exit status 2"
has "$ERR" "'lsit' is not a command" "  and the message says so"
"$KVFS_BIN" -c "$CF" lsit >"$W/out" 2>"$W/err"
ST=$?
ERR=$(cat "$W/err")
status_is 1 "with -c, a mistyped command alone (a mountpoint): exit status 1"
has "$ERR" "lsit: No such file or directory (nor is it a command)" \
	"  and the message says it is neither"
"$KVFS_BIN" -o ro -c "$CF" put ns k - <<<"x" >"$W/out" 2>"$W/err"
ST=$?
ERR=$(cat "$W/err")
status_is 2 "-o with a command: exit status 2 (a CLI put would ignore ro)"
has "$ERR" "-o is for mounting" "  and the message says what -o is for"

cli get nosuchns k
status_is 1 "get in a namespace that does not exist: exit status 1"
has "$ERR" nosuchns "  and the message names the namespace"
cli put ns k "$W/does-not-exist"
status_is 1 "put from a file that does not exist: exit status 1"
has "$ERR" does-not-exist "  and the message names the file"
cli get ns k
status_is 1 "  and nothing was stored"

# ---- get and put -----------------------------------------------------------
py 'open(a[0], "wb").write(bytes(range(256)) * 300 + b"\0\r\n\n")' "$W/bin"
py 'open(a[0], "wb").write(b"\n\xff\xfe\0 from stdin\0\n" * 5000)' "$W/bin2"
py 'open(a[0], "wb").write(b"\x80no file argument\n\n")' "$W/bin3"

cli put ns bin "$W/bin"
status_is 0 "put NS KEY FILE (a binary value): exit status 0"
cli get ns bin
status_is 0 "get of that key: exit status 0"
same_file "$W/out" "$W/bin" "get writes the binary value to stdout byte for byte"
same_file "$N/bin" "$W/bin" "the mount reads the same bytes"

cli put ns dash - <"$W/bin2"
status_is 0 "put NS KEY - (stdin): exit status 0"
cli get ns dash
same_file "$W/out" "$W/bin2" "put from - stored stdin byte for byte"

cli put ns nofile <"$W/bin3"
status_is 0 "put NS KEY with no file argument (stdin): exit status 0"
cli get ns nofile
same_file "$W/out" "$W/bin3" "put with no file argument stored stdin byte for byte"

cli put ns empty /dev/null
status_is 0 "put of an empty value: exit status 0"
cli get ns empty
status_is 0 "get of an empty value: exit status 0 (present, not missing)"
is "$(stat -c %s "$W/out"):$ERR" "0:" "get of an empty value prints nothing, no message"
is "$(stat -c %s "$N/empty" 2>&1)" 0 "the mount shows the empty value as a 0-byte file"
cli put ns empty2 - </dev/null
cli get ns empty2
is "$ST:$(stat -c %s "$W/out")" "0:0" "put - from empty stdin stores an empty value"

cli get ns missing-key
status_is 1 "get of a missing key: exit status 1"
is "$(stat -c %s "$W/out")" 0 "get of a missing key prints nothing on stdout"
has "$ERR" "'missing-key'" "get of a missing key: the message names the key"

# A key with a newline and a tab, through the CLI and the mount.
cli put ns $'odd key\twith\nnewline' - <<<"odd"
status_is 0 "put of a key with a tab and a newline"
is "$(cat "$N/odd key^Iwith^Jnewline" 2>&1)" odd \
	"the mount shows it under its escaped name"
cli get ns $'odd key\twith\nnewline'
is "$OUT" odd "get reads it back"

# --metadata
cli get ns bin --metadata
is "$ST:$OUT" "0:null" "get --metadata of a key without metadata prints null"
cli get ns missing-key --metadata
status_is 1 "get --metadata of a missing key: exit status 1"
has "$ERR" "'missing-key'" "  and the message names the key"

meta_in='{ "b" : [ 1, 2, { "c" : null } ], "a" : "x y é\t/" , "t": true }'
meta_want=$(py 'import json
print(json.dumps(json.loads(a[0]), separators=(",", ":"), ensure_ascii=False))' "$meta_in")
cli put ns withmeta "$W/bin3" --metadata "$meta_in"
status_is 0 "put --metadata JSON: exit status 0"
cli get ns withmeta --metadata
is "$OUT" "$meta_want" "get --metadata prints the compact form of the JSON given"
is "$(xattr "$N/withmeta" user.kv.metadata)" "$meta_want" \
	"the mount's user.kv.metadata holds the same compact form"
cli get ns withmeta
same_file "$W/out" "$W/bin3" "get without --metadata still prints the value"

cli put ns realmeta /dev/null --metadata '{"n": 0.1, "m": 2.5}'
cli get ns realmeta --metadata
is "$OUT" '{"n":0.1,"m":2.5}' \
	"put --metadata keeps numbers as written ({\"n\": 0.1} stored as {\"n\":0.1})"

cli put ns scalarmeta /dev/null --metadata 42
cli get ns scalarmeta --metadata
is "$ST:$OUT" "0:42" "metadata may be any JSON value (42)"

cli import ns "$W/no-such-file.json"
status_is 1 "import of a file that does not exist: exit status 1"
has "$ERR" "kvfs: import: $W/no-such-file.json: unable to open" \
	"  and the message names the file, with no line number"

# Numbers are written as JavaScript's JSON.stringify writes them: an
# integer past 64 bits as the double it reads as.
cli put ns bigmeta /dev/null --metadata '{"n":123456789012345678901234567890}'
cli get ns bigmeta --metadata
is "$ST:$OUT" '0:{"n":123456789012345678901234567890}' \
	"metadata with a 30-digit number is stored as written"
cli list ns --prefix bigmeta --all --jsonl
is "$ST:$OUT" '0:{"name":"bigmeta","metadata":{"n":1.2345678901234568e+29}}' \
	"  and listed as JSON.stringify writes it"
cli delete ns bigmeta

printf '%s' '[{"key":"num","value":"","metadata":{"a":0.10,"b":1e2,"c":-1.5E-7,"d":18446744073709551617,"e":1e21,"f":[0.000001,12345.6789e3,-0.0]}},{"key":"nul","value":"","metadata":{"s":"a\u0000b\u001f"}}]' >"$W/nums.json"
cli import ns "$W/nums.json"
cli list ns --prefix nu --all --jsonl
is "$ST:$OUT" '0:{"name":"nul","metadata":{"s":"a\u0000b\u001f"}}
{"name":"num","metadata":{"a":0.1,"b":100,"c":-1.5e-7,"d":18446744073709552000,"e":1e+21,"f":[0.000001,12345678.9,0]}}' \
	"import stores metadata numbers and strings as JSON.stringify writes them"
cli export ns
has "$OUT" '{"key":"nul","value":"","metadata":{"s":"a\u0000b\u001f"}}' \
	"  and export writes a NUL in a metadata string back"
cli delete ns num
cli delete ns nul

cli put ns nullmeta /dev/null --metadata null
cli list ns --prefix nullmeta --all --jsonl
is "$ST:$OUT" '0:{"name":"nullmeta"}' \
	"metadata null is listed as none, as import reads null"
cli export ns
has "$OUT" '{"key":"nullmeta","value":""}' "  and exported as none"
cli delete ns nullmeta

# A number past the doubles: kept, but export and list cannot write it;
# they say so and exit 1 rather than drop it silently.
cli put ns hugemeta /dev/null --metadata '{"n":1e400}'
cli get ns hugemeta --metadata
is "$ST:$OUT" '0:{"n":1e400}' "metadata with 1e400 is stored as written"
cli export ns
status_is 1 "export with metadata it cannot write: exit status 1"
has "$ERR" "'hugemeta'" "  and the message names the key"
has "$OUT" '"hugemeta"' "  and the other fields of that key are exported"
cli list ns --prefix hugemeta
status_is 1 "list with metadata it cannot write: exit status 1"
has "$ERR" "'hugemeta'" "  and the message names the key"
cli delete ns hugemeta

cli put ns notjson /dev/null --metadata '{"a":'
status_is 1 "put --metadata with text that is not JSON: exit status 1"
has "$ERR" "'notjson'" "  and the message names the key"
cli get ns notjson
status_is 1 "  and nothing was stored"

# --expiration and --ttl
now=$(date +%s)
cli put ns exp1 /dev/null --expiration $((now + 3600))
status_is 0 "put --expiration now+3600: exit status 0"
is "$(exp_of ns exp1)" $((now + 3600)) "list shows the expiration given"
is "$(xattr "$N/exp1" user.kv.expiration)" $((now + 3600)) \
	"the mount's user.kv.expiration shows it too"

t0=$(date +%s)
cli put ns ttl1 /dev/null --ttl 3600
t1=$(date +%s)
status_is 0 "put --ttl 3600: exit status 0"
between "$(exp_of ns ttl1)" $((t0 + 3600)) $((t1 + 3600)) \
	"--ttl 3600 sets the expiration to now + 3600"

t0=$(date +%s)
cli put ns both1 /dev/null --expiration $((t0 + 7200)) --ttl 600
t1=$(date +%s)
status_is 0 "put with --expiration and --ttl: exit status 0"
between "$(exp_of ns both1)" $((t0 + 600)) $((t1 + 600)) \
	"with both, the TTL wins (--expiration first)"
t0=$(date +%s)
cli put ns both2 /dev/null --ttl 600 --expiration $((t0 + 7200))
t1=$(date +%s)
between "$(exp_of ns both2)" $((t0 + 600)) $((t1 + 600)) \
	"with both, the TTL wins (--ttl first)"
t0=$(date +%s)
cli put ns both3 /dev/null --ttl 600 --expiration 1
t1=$(date +%s)
status_is 0 "with both, an expiration the TTL overrides is not checked"
between "$(exp_of ns both3)" $((t0 + 600)) $((t1 + 600)) \
	"with both, the TTL wins (an expiration long past)"

# A put replaces metadata and expiration: what it is not given is cleared.
cli put ns rep - --metadata '{"v":1}' --ttl 3600 <<<"one"
cli put ns rep - <<<"two"
status_is 0 "a second put without options: exit status 0"
is "$(meta_of ns rep)" null "a put without --metadata clears the metadata"
is "$(exp_of ns rep)" none "a put without --expiration or --ttl clears the expiration"
is "$(xattr "$N/rep" user.kv.metadata)" "No data available" \
	"the mount sees no user.kv.metadata after that put"
is "$(xattr "$N/rep" user.kv.expiration)" "No data available" \
	"the mount sees no user.kv.expiration after that put"
cli put ns rep - --ttl 3600 <<<"three"
cli put ns rep - --metadata '{"v":2}' <<<"four"
is "$(exp_of ns rep):$(meta_of ns rep):$(value_of ns rep)" 'none:{"v":2}:four' \
	"a put with only --metadata clears an earlier expiration"

# A write through the mount keeps them (attributes belong to the file).
cli put ns keep - --metadata '{"keep":true}' --ttl 3600 <<<"cli"
e_keep=$(exp_of ns keep)
printf 'mount' >"$N/keep"
is "$(value_of ns keep)" mount "the CLI reads a value written through the mount"
is "$(meta_of ns keep)" '{"keep":true}' "a write through the mount keeps the metadata"
is "$(exp_of ns keep)" "$e_keep" "a write through the mount keeps the expiration"
cli put ns keep - <<<"cli again"
is "$(xattr "$N/keep" user.kv.metadata)|$(xattr "$N/keep" user.kv.expiration)" \
	"No data available|No data available" \
	"a CLI put after it clears both, as the mount sees"

# ---- limits ----------------------------------------------------------------
cli put ns lim - --metadata '{"v":1}' --expiration $((now + 86400)) <<<"old"
status_is 0 "set up key lim (value, metadata, expiration)"
echo small >"$W/small"

k512=$(printf 'k%.0s' {1..512})
k513=${k512}x
cli put ns "$k512" "$W/small"
status_is 0 "a key of 512 bytes is accepted"
cli get ns "$k512"
is "$OUT" small "  and get reads it"
kmb=$(printf 'é%.0s' {1..256})
cli put ns "$kmb" "$W/small"
status_is 0 "a key of 256 two-byte characters (512 bytes) is accepted"

refused "key of 513 bytes" "$k513" "*512*" put ns "$k513" "$W/small"
has "$ERR" 513 "key of 513 bytes: the message gives its length"
cli list ns --prefix "${k513:0:512}"
is "$(py 'import json; print([k["name"] for k in json.load(open(a[0]))["keys"]] == [a[1]])' \
	"$W/out" "$k512")" True "key of 513 bytes: nothing stored"
refused "key of 2 bytes x 256 + 1 (513 bytes)" "${kmb}x" "*512*" \
	put ns "${kmb}x" "$W/small"
cli put ns "x$kmb" "$W/small"
printf '%s' "$ERR" >"$W/e"
run py 'open(a[0], "rb").read().decode(); print("valid")' "$W/e"
is "$KV_LAST_OUT" valid "  a key shortened in a message is cut between characters"

refused "empty key" "" "*empty*" put ns "" "$W/small"
has "$ERR" "''" "empty key: the message shows the empty key"
refused "key '.'" "." "*not allowed*" put ns . "$W/small"
has "$ERR" "'.'" "key '.': the message shows the key quoted"
refused "key '..'" ".." "*not allowed*" put ns .. "$W/small"
has "$ERR" "'..'" "key '..': the message shows the key quoted"
cli get ns .
status_is 1 "key '.': nothing stored"
cli put ns ".a" "$W/small"
status_is 0 "key '.a' (a dot, not '.') is accepted"

refused "key that is not UTF-8" $'bad\xffkey' "*UTF-8*" put ns $'bad\xffkey' "$W/small"
cli get ns $'bad\xffkey'
status_is 1 "key that is not UTF-8: nothing stored"
refused "key with a truncated UTF-8 sequence" $'bad\xe6\x97' "*UTF-8*" \
	put ns $'bad\xe6\x97' "$W/small"

# values: 26,214,400 bytes is allowed, one more is not
py '
data = (bytes(range(251)) * 104449)[:26214401]
open(a[0], "wb").write(data[:26214400])
open(a[1], "wb").write(data)' "$W/v25m" "$W/v25m1"
cli put ns v25m "$W/v25m"
status_is 0 "a value of 26,214,400 bytes (25 MiB): put exit status 0"
cli get ns v25m
same_file "$W/out" "$W/v25m" "  and get returns its 26,214,400 bytes exactly"
refused "value of 26,214,401 bytes" lim "*26214400*" put ns lim "$W/v25m1"
refused "value of 26,214,401 bytes from stdin" lim "*26214400*" \
	put ns lim - <"$W/v25m1"
refused "value of 26,214,401 bytes, a new key" big1 "*26214400*" \
	put ns big1 "$W/v25m1"
cli get ns big1
status_is 1 "value of 26,214,401 bytes: the new key was not stored"
rm -f "$W/v25m" "$W/v25m1"

# metadata: 1024 bytes in compact form allowed, 1025 not; spaces don't count
m1016=$(printf 'm%.0s' {1..1016})
cli put ns m1024 /dev/null --metadata "{ \"k\" :  \"$m1016\" }"
status_is 0 "metadata of 1024 bytes compact (1029 as given): exit status 0"
is "$(meta_of ns m1024 | wc -c)" 1024 "  and get --metadata prints its 1024 bytes"
refused "metadata of 1025 bytes compact" lim "*1024*" \
	put ns lim /dev/null --metadata "{\"k\":\"${m1016}m\"}"
has "$ERR" 1025 "metadata of 1025 bytes: the message gives its length"

# expiration and TTL
refused "--ttl 59" lim "*60*" put ns lim /dev/null --ttl 59
t0=$(date +%s)
cli put ns ttl60 /dev/null --ttl 60
t1=$(date +%s)
status_is 0 "--ttl 60 is accepted"
between "$(exp_of ns ttl60)" $((t0 + 60)) $((t1 + 60)) "  and expires 60 s from now"
t0=$(date +%s)
refused "--expiration now+59" lim - put ns lim /dev/null --expiration $((t0 + 59))
if [[ $ERR == *"60 seconds"* || $ERR == *"$((t0 + 60))"* || $ERR == *"$((t0 + 61))"* ]]; then
	ok "--expiration now+59: the message names the limit (60 s from now)"
else
	not_ok "--expiration now+59: the message names the limit (60 s from now)" \
		"got: $(show "$ERR")"
fi
t0=$(date +%s)
cli put ns exp120 /dev/null --expiration $((t0 + 120))
is "$ST:$(exp_of ns exp120)" "0:$((t0 + 120))" "--expiration now+120 is accepted"
refused "--expiration 2^31" lim "*2147483647*" put ns lim /dev/null --expiration 2147483648
cli put ns expmax /dev/null --expiration 2147483647
is "$ST:$(exp_of ns expmax)" "0:2147483647" "--expiration 2147483647 (2^31 - 1) is accepted"
refused "--ttl 59 on a new key" fresh "*60*" put ns fresh /dev/null --ttl 59
cli get ns fresh
status_is 1 "--ttl 59: the new key was not stored"
for opt in --ttl --expiration; do
	cli put ns fresh /dev/null "$opt" abc
	status_is 2 "put $opt abc (not a number): bad usage, exit status 2"
	has "$ERR" "'abc'" "put $opt abc: the message quotes the text"
	cli put ns fresh /dev/null "$opt" " 3600"
	status_is 2 "put $opt ' 3600' (a space first): bad usage, exit status 2"
done
cli put ns fresh /dev/null --ttl 3600 --expiration abc
status_is 2 "put --ttl 3600 --expiration abc: the TTL wins, but abc is no number"
cli get ns fresh
status_is 1 "after a bad number the new key was not stored"

is "$(value_of ns lim)" old "after the refused puts, lim keeps its value"
is "$(meta_of ns lim)" '{"v":1}' "after the refused puts, lim keeps its metadata"
is "$(exp_of ns lim)" $((now + 86400)) "after the refused puts, lim keeps its expiration"

# ---- delete ----------------------------------------------------------------
cli put ns gone - <<<"x"
cli delete ns gone
status_is 0 "delete of a key: exit status 0"
cli get ns gone
status_is 1 "  then get of it: exit status 1"
py 'print(os.path.exists(a[0]))' "$N/gone" >"$W/e"
is "$(cat "$W/e")" False "  and the mount no longer shows it"
cli delete ns never-was
status_is 0 "delete of a missing key: exit status 0 (idempotent)"
is "$ERR" "" "  with no message"
cli delete nosuchns k
status_is 1 "delete in a namespace that does not exist: exit status 1"
for cmd in get delete; do
	refused "$cmd of the empty key" "" "*empty*" $cmd ns ""
	refused "$cmd of key '.'" . "*not allowed*" $cmd ns .
	refused "$cmd of a key of 513 bytes" "$k513" "*512*" $cmd ns "$k513"
done

# ---- namespaces ------------------------------------------------------------
mkdir "$M/made"
cli namespaces
status_is 0 "namespaces: exit status 0"
is "$(sort <<<"$OUT" | tr '\n' ' ')" "flat made ns pfx spare " \
	"namespaces lists the config's namespaces and the one made with mkdir"
cli put made k - <<<"in made"
status_is 0 "put into the namespace made with mkdir"
is "$(cat "$M/made/k" 2>&1)" "in made" "  and the mount reads it there"

# ---- output that cannot be written ----------------------------------------
head -c 100000 /dev/zero >"$W/zeros"
cli put made big "$W/zeros"
for cmd in "namespaces" "get made k" "get made big" "get made k --metadata" \
	"list made" "list made --all --jsonl" "export made"; do
	# shellcheck disable=SC2086
	"$KVFS_BIN" -c "$CF" $cmd >/dev/full 2>"$W/err"
	ST=$?
	ERR=$(cat "$W/err")
	is "$ST" 1 "$cmd >/dev/full: exit status 1"
	has "$ERR" "No space left on device" "  and the message says why"
done
cli delete made big

# ---- list: the result's shape ----------------------------------------------
mkdir "$M/shape"
"$KVFS_BIN" -c "$CF" put shape plain /dev/null
"$KVFS_BIN" -c "$CF" put shape withmeta /dev/null --metadata '{"m":[1,{"n":"é"}]}'
"$KVFS_BIN" -c "$CF" put shape withexp /dev/null --expiration $((now + 5000))
"$KVFS_BIN" -c "$CF" put shape zboth /dev/null --metadata '"s"' --expiration $((now + 6000))
mkdir "$M/shape/zzdir"
cli list shape
status_is 0 "list: exit status 0"
run py '
import json
j = json.load(open(a[0]))
now = int(a[1])
want = [{"name": "plain"}, {"name": "withexp", "expiration": now + 5000},
        {"name": "withmeta", "metadata": {"m": [1, {"n": "é"}]}},
        {"name": "zboth", "expiration": now + 6000, "metadata": "s"}]
print(j.get("keys") == want)' "$W/out" "$now"
is "$KV_LAST_OUT" True \
	"list keys: name, and expiration and metadata only when present"
run py '
import json
j = json.load(open(a[0]))
print(sorted(j) in (["keys", "list_complete"], ["cursor", "keys", "list_complete"]),
      j.get("list_complete") is True, j.get("cursor", "") == "")' "$W/out"
is "$KV_LAST_OUT" "True True True" \
	"a complete list: keys, list_complete true, no cursor to follow"

cli list shape --limit 2
run py '
import json
j = json.load(open(a[0]))
print([k["name"] for k in j["keys"]], j["list_complete"],
      isinstance(j.get("cursor"), str) and j["cursor"] != "")' "$W/out"
is "$KV_LAST_OUT" "['plain', 'withexp'] False True" \
	"--limit 2: two keys, list_complete false, a cursor"
cur=$(py 'import json; print(json.load(open(a[0]))["cursor"])' "$W/out")
cli list shape --limit 2 --cursor "$cur"
status_is 0 "list --cursor: exit status 0"
is "$(py 'import json; print([k["name"] for k in json.load(open(a[0]))["keys"]])' "$W/out")" \
	"['withmeta', 'zboth']" "--cursor continues after the previous page"
cli list shape --cursor '!!not a cursor!!'
status_is 1 "list with a cursor that is not one: exit status 1"

# --limit: 1 to 1000
cli list shape --limit 1
is "$ST:$(py 'import json; print(len(json.load(open(a[0]))["keys"]))' "$W/out")" "0:1" \
	"--limit 1 is accepted"
cli list shape --limit 1000
is "$ST:$(py 'import json; print(len(json.load(open(a[0]))["keys"]))' "$W/out")" "0:4" \
	"--limit 1000 is accepted"
for n in 0 1001 -1; do
	cli list shape --limit "$n"
	status_is 2 "--limit $n is refused as bad usage: exit status 2"
	is "$OUT" "" "--limit $n: nothing on stdout"
	like "$ERR" "*1000*" "--limit $n: the message names the limit 1000"
done

# ---- list: --prefix is literal ---------------------------------------------
for k in a%b a%% a_b a__ axb aXb A_b a ab b% 'a%' 'a\b' '%a'; do
	"$KVFS_BIN" -c "$CF" put pfx "$k" /dev/null
done
p511=$(printf 'p%.0s' {1..511})
p509=$(printf 'p%.0s' {1..509})
for k in "${p511}a" "${p511}b" "${p511:1}" "${p509}日"; do
	"$KVFS_BIN" -c "$CF" put pfx "$k" /dev/null
done
# pfx_is PREFIX WANT...: list --prefix PREFIX shows exactly WANT, in order.
# cursor_names NS PREFIX LIMIT: every key name that `list` gives, following
# the cursors page after page (at most 100 pages), as a Python list.
cursor_names() {
	py '
import json, subprocess
got, cur = [], None
for _ in range(100):
    cmd = [a[0], "-c", a[1], "list", a[2], "--prefix", a[3], "--limit", a[4]]
    cmd += ["--cursor", cur] if cur else []
    j = json.loads(subprocess.run(cmd, capture_output=True).stdout)
    got += [k["name"] for k in j["keys"]]
    if j["list_complete"]:
        break
    cur = j["cursor"]
print(got)' "$KVFS_BIN" "$CF" "$@"
}

pfx_is() {
	local p=$1
	shift
	cli list pfx --prefix "$p"
	run py '
import json
try:
    got = [k["name"] for k in json.load(open(a[0]))["keys"]]
except Exception as e:
    got = "no JSON: %r" % e
print(got == a[1:] or "got %r" % (got,))' "$W/out" "$@"
	is "$ST:$KV_LAST_OUT" "0:True" "list --prefix $(show "${p:0:40}") shows exactly: $(show "$*" | cut -c1-80)"
}
pfx_is 'a%' 'a%' 'a%%' 'a%b'
pfx_is 'a_' 'a__' 'a_b'
pfx_is 'a\' 'a\b'
pfx_is '%' '%a'
pfx_is 'A' 'A_b'
pfx_is 'a' a 'a%' 'a%%' 'a%b' 'aXb' 'a\b' 'a__' 'a_b' ab axb
pfx_is "${p511}a" "${p511}a"
pfx_is "$p511" "${p511}a" "${p511}b"
pfx_is "${p509}日" "${p509}日"
pfx_is zzz
refused "--prefix of 513 bytes" "${p511}ab" "*512*" list pfx --prefix "${p511}ab"
cli list pfx --all --jsonl --prefix a_
is "$ST:$OUT" "0:$(printf '%s\n' '{"name":"a__"}' '{"name":"a_b"}')" \
	"list --all --jsonl --prefix a_ streams exactly a__ and a_b"
# Paging with a prefix: the cursor does not remember it, pass it again.
run cursor_names pfx a 3
is "$KV_LAST_OUT" "['a', 'a%', 'a%%', 'a%b', 'aXb', 'a\\\\b', 'a__', 'a_b', 'ab', 'axb']" \
	"--prefix a --limit 3 with cursors: every match once, in byte order"
# A cursor past every key of a longer prefix: nothing more, not a restart.
cli put pfx b /dev/null
cli list pfx --prefix b --limit 1
cur=$(py 'import json; print(json.load(open(a[0])).get("cursor", ""))' "$W/out")
cli list pfx --prefix a%b --cursor "$cur"
run py 'import json; print(json.load(open(a[0]))["keys"])' "$W/out"
is "$ST:$KV_LAST_OUT" "0:[]" \
	"--prefix a%b with the cursor of b (shorter, after it): no keys"
cli delete pfx b

# ---- list: 2,500 keys, paging, memcmp order, no directories ----------------
mkdir "$M/L"
run mkjson "$W/l.json" '
[dict({"key": k, "value": "v%d" % i},
      **({"metadata": {"i": i}} if i % 50 == 0 else {}),
      **({"expiration": now + 86400 + i} if i % 70 == 0 else {}))
 for i, k in enumerate(
     ["k", "K", "é", "日", "！", "😀", "\x01c", "\x7f", "a%", "a_", "user/",
      "x" * 490, " ", "~", "Z", "a", "ab/c/", "\t", "line\n", "0"][i % 20]
     + "%04d" % i for i in range(2499))] + [{"key": "samedir/", "value": ""}]'
cli import L "$W/l.json"
status_is 0 "import 2,500 keys for listing"
# Keys with NUL bytes (through the mount: ^@), and directories that are not
# keys: made with mkdir, and implied directories given attributes.
for f in n 'n^@' 'n^@^@' 'n^A'; do
	printf 'x' >"$M/L/$f"
done
mkdir -p "$M/L/dir_only" "$M/L/k0500x" "$M/L/d1/d2/d3" "$M/L/😀dir" "$M/L/user/new"
chmod 700 "$M/L/samedir" "$M/L/user" "$M/L/ab"
touch "$M/L/user/0010"
py '
import json
keys = [e["key"] for e in json.load(open(a[0]))] + ["n", "n\0", "n\0\0", "n\x01"]
keys.sort(key=lambda k: k.encode())
json.dump(keys, open(a[1], "w"))' "$W/l.json" "$W/want.json"

# page_all LIMIT|default: page through L; prints count, duplicates, order
# and completeness against want.json, and any problem seen.
page_all() {
	run py '
import json, subprocess
want = json.load(open(a[2]))
lim = a[3]
got, cur, bad, pages = [], None, [], 0
while pages < 10000:
    cmd = [a[0], "-c", a[1], "list", "L"]
    cmd += ["--limit", lim] if lim != "default" else []
    cmd += ["--cursor", cur] if cur is not None else []
    r = subprocess.run(cmd, capture_output=True)
    pages += 1
    if r.returncode:
        bad.append("exit %d: %r" % (r.returncode, r.stderr[:200]))
        break
    j = json.loads(r.stdout)
    names = [k["name"] for k in j["keys"]]
    if len(names) > (1000 if lim == "default" else int(lim)):
        bad.append("a page of %d keys" % len(names))
    got += names
    if j["list_complete"] is True:
        break
    cur = j.get("cursor")
    if not isinstance(cur, str) or not cur:
        bad.append("no cursor on an incomplete page")
        break
print(len(got), len(got) - len(set(got)), len(set(want) - set(got)),
      len(set(got) - set(want)), got == want, bad or "")
if got != want:
    i = next((i for i, (x, y) in enumerate(zip(got, want)) if x != y), None)
    print("first difference at", i, repr(got[i:i + 3] if i is not None else got[-3:]),
          repr(want[i:i + 3] if i is not None else want[-3:]))' \
		"$KVFS_BIN" "$CF" "$W/want.json" "$1"
}
for lim in default 1000 37; do
	page_all "$lim"
	is "$KV_LAST_OUT" "2504 0 0 0 True " \
		"2,504 keys, --limit $lim, following cursors: each key once, in memcmp order, no directory"
done
mkdir "$M/thousand"
mkjson "$W/t.json" '[{"key": "t%04d" % i, "value": ""} for i in range(1001)]'
cli import thousand "$W/t.json"
cli list thousand
run py '
import json
j = json.load(open(a[0]))
print(len(j["keys"]), j["list_complete"], j["keys"][-1]["name"])' "$W/out"
is "$KV_LAST_OUT" "1000 False t0999" \
	"list without --limit on 1,001 keys: a page of 1,000 (the default limit), not complete"
run cursor_names L n 1
is "$KV_LAST_OUT" "['n', 'n\\x00', 'n\\x00\\x00', 'n\\x01']" \
	"--limit 1 over keys with NUL bytes: n, n\\0, n\\0\\0, n\\1 each once"

cli list L --all --jsonl
status_is 0 "list --all --jsonl: exit status 0"
run py '
import json
entries = {e["key"]: e for e in json.load(open(a[1]))}
want = []
for k in json.load(open(a[2])):
    d = {"name": k}
    e = entries.get(k, {})
    if "expiration" in e:
        d["expiration"] = e["expiration"]
    if "metadata" in e:
        d["metadata"] = e["metadata"]
    want.append(d)
lines = open(a[0], "rb").read().split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
got = [json.loads(l) for l in lines]
print(len(lines), got == want)' "$W/out" "$W/l.json" "$W/want.json"
is "$KV_LAST_OUT" "2504 True" \
	"--all --jsonl: one JSON line per key (name, expiration, metadata), in order, no directory"

# ---- export and import -----------------------------------------------------
mkdir "$M/src" "$M/dst"
run py '
import json, subprocess, time
now = int(time.time())
vals = {
    "text": (b"hello world\n", []),
    "unicode": ("日本語 é ☃ 😀\n".encode(), []),
    "empty": (b"", []),
    "binary": (bytes(range(256)), []),
    "latin1": (b"caf\xe9", []),
    "crlf": (b"a\r\nb", []),
    "big": (bytes((i * 7919) % 256 for i in range(100000)), []),
    "meta": (b"m", ["--metadata", "{\"x\": [1, \"two\", {\"3\": null}]}"]),
    "exp": (b"e", ["--expiration", str(now + 3600)]),
    "both": (b"\xff\xfeboth", ["--metadata", "{\"b\":true}", "--expiration", str(now + 7200)]),
    "dir/key": (b"in a dir", []),
    "sp ace\tand\nnewline": (b"odd key", []),
}
bad = []
for k, (v, opts) in vals.items():
    r = subprocess.run([a[0], "-c", a[1], "put", "src", k, "-"] + opts, input=v)
    if r.returncode:
        bad.append(k)
json.dump({k: v.hex() for k, (v, _) in vals.items()}, open(a[2], "w"))
print(bad)' "$KVFS_BIN" "$CF" "$W/src.json"
is "$KV_LAST_OUT" "[]" "put the keys to export (text, binary, metadata, expiration)"
mkdir "$M/src/onlydir"
cli export src
status_is 0 "export: exit status 0"
cp "$W/out" "$W/export.json"
run py '
import base64, json, subprocess
want = {k: bytes.fromhex(v) for k, v in json.load(open(a[1])).items()}
exp = json.load(open(a[0]))
bad = []
if not isinstance(exp, list):
    bad.append("not a JSON array")
    exp = []
keys = [e.get("key") for e in exp]
if keys != sorted(want, key=lambda k: k.encode()):
    bad.append("keys %r" % keys)
for e in exp:
    k = e.get("key")
    if not set(e) <= {"key", "value", "base64", "expiration", "metadata"}:
        bad.append("%r: fields %r" % (k, sorted(e)))
    if e.get("base64") is True:
        v = base64.b64decode(e["value"], validate=True)
    else:
        v = e.get("value", "").encode()
    if v != want.get(k):
        bad.append("%r: value %r" % (k, e.get("value")))
    try:
        want.get(k, b"").decode()
        if e.get("base64") is True:
            bad.append("%r: UTF-8 text exported as base64" % k)
    except UnicodeDecodeError:
        pass
print(bad or "ok")' "$W/export.json" "$W/src.json"
is "$KV_LAST_OUT" ok \
	"export: wrangler bulk format, keys in order, values exact (base64 for non-UTF-8), no directory"
run py '
import json, time
now = int(time.time())
e = {x["key"]: x for x in json.load(open(a[0]))}
print(e["meta"].get("metadata"), e["exp"].get("expiration") - now in range(3590, 3601),
      e["both"].get("metadata"), e["both"].get("expiration") - now in range(7190, 7201),
      "expiration" in e["text"], "metadata" in e["text"])' "$W/export.json"
is "$KV_LAST_OUT" "{'x': [1, 'two', {'3': None}]} True {'b': True} True False False" \
	"export: metadata and expiration where the key has them, only there"

cli import dst "$W/export.json"
status_is 0 "import of the export into another namespace: exit status 0"
run py '
import json, subprocess
bad = []
for k in json.load(open(a[2])):
    g = [subprocess.run([a[0], "-c", a[1], "get", ns, k] + m, capture_output=True)
         for ns in ("src", "dst") for m in ([], ["--metadata"])]
    if g[0].returncode or g[0].stdout != g[2].stdout:
        bad.append("value of %r" % k)
    if g[1].stdout != g[3].stdout:
        bad.append("metadata of %r" % k)
print(bad or "ok")' "$KVFS_BIN" "$CF" "$W/src.json"
is "$KV_LAST_OUT" ok "export then import: every value and metadata byte for byte"
cli export dst
run py '
import json
print(json.load(open(a[0])) == json.load(open(a[1])))' "$W/out" "$W/export.json"
is "$KV_LAST_OUT" True "the second namespace exports the same JSON (expirations kept)"
is "$(cat "$M/dst/sp ace^Iand^Jnewline" 2>&1)" "odd key" \
	"the mount reads an imported key at once"

# A text value holding a NUL byte is valid UTF-8: it must round-trip too.
mkdir "$M/src2" "$M/dst2"
printf 'a\0b' >"$W/nulval"
"$KVFS_BIN" -c "$CF" put src2 nul "$W/nulval"
cli export src2
cp "$W/out" "$W/export2.json"
cli import dst2 "$W/export2.json"
status_is 0 "import of an export holding a value with a NUL byte: exit status 0"
cli get dst2 nul
same_file "$W/out" "$W/nulval" "  and the value with a NUL byte round-trips"

# A hand-written file in wrangler's format.
mkdir "$M/imp"
mkjson "$W/w.json" '[
 {"key": "w1", "value": "text"},
 {"key": "w2", "value": "AAEC/w==", "base64": True},
 {"key": "w3", "value": "x", "expiration_ttl": 600},
 {"key": "w4", "value": "y", "expiration": now + 7200, "metadata": {"a": [1]}},
 {"key": "w5", "value": "z", "expiration": now + 7200, "expiration_ttl": 300},
 {"key": "w6", "value": "", "metadata": None},
 {"key": "w7", "value": "AAEC/w==", "base64": False},
 {"key": "w8", "value": "t", "expiration": 100, "expiration_ttl": 3600},
 {"key": "w9", "value": "AAEC\n/w==", "base64": True, "expiration": None}]'
t0=$(date +%s)
cli import imp "$W/w.json"
t1=$(date +%s)
status_is 0 "import of a wrangler bulk file: exit status 0"
cli get imp w2
py 'sys.stdout.write(str(open(a[0], "rb").read() == b"\0\1\2\xff"))' "$W/out" >"$W/e"
is "$(cat "$W/e")" True "base64: true stores the decoded bytes"
is "$(value_of imp w1)|$(value_of imp w7)" "text|AAEC/w==" \
	"without base64 (or base64: false) the value is stored as text"
between "$(exp_of imp w3)" $((t0 + 600)) $((t1 + 600)) "expiration_ttl 600: expires 600 s from now"
w4exp=$(py 'import json; print([e for e in json.load(open(a[0])) if e["key"] == "w4"][0]["expiration"])' "$W/w.json")
is "$(exp_of imp w4):$(meta_of imp w4)" "$w4exp:{\"a\":[1]}" \
	"expiration and metadata are stored as given"
between "$(exp_of imp w5)" $((t0 + 300)) $((t1 + 300)) \
	"expiration and expiration_ttl: the TTL wins"
between "$(exp_of imp w8)" $((t0 + 3600)) $((t1 + 3600)) \
	"  and the expiration beside it is not checked (100, long past)"
cli get imp w9
py 'sys.stdout.write(str(open(a[0], "rb").read() == b"\0\1\2\xff"))' "$W/out" >"$W/e"
is "$(cat "$W/e"):$(exp_of imp w9)" True:none \
	"base64 broken over lines is decoded; expiration null is none"
cli get imp w6
is "$ST:$(stat -c %s "$W/out"):$(meta_of imp w6)" "0:0:null" \
	"an empty value with metadata null: present, empty, no metadata"
mkjson "$W/w2.json" '[{"key": "w4", "value": "y2"}]'
cli import imp "$W/w2.json"
is "$ST:$(value_of imp w4):$(meta_of imp w4):$(exp_of imp w4)" "0:y2:null:none" \
	"an import replaces metadata and expiration, as a put"

# One transaction: a bad entry stores nothing, even after good entries.
printf 'orig' | "$KVFS_BIN" -c "$CF" put imp t0 - --metadata '{"o":1}'
# bad_import DESC INDEX KEY EXPR: importing the list EXPR fails: exit 1,
# the message gives the index INDEX and the key KEY (none if KEY is "-"),
# and nothing is stored (t0 keeps its value, t1 does not exist).
bad_import() {
	local desc=$1 idx=$2 key=$3
	mkjson "$W/bad.json" "$4"
	cli import imp "$W/bad.json"
	status_is 1 "import, $desc: exit status 1"
	if [[ $ERR =~ (^|[^0-9])$idx([^0-9]|$) ]]; then
		ok "import, $desc: the message gives the entry's index $idx"
	else
		not_ok "import, $desc: the message gives the entry's index $idx" \
			"got: $(show "$ERR")"
	fi
	[ "$key" = - ] || has "$ERR" "$(shown "$key")" "import, $desc: the message names the key"
	is "$(value_of imp t0):$(meta_of imp t0):$(value_of imp t1)" 'orig:{"o":1}:exit 1' \
		"import, $desc: nothing stored (an earlier entry neither)"
}
good='[{"key": "t0", "value": "changed"}, {"key": "t1", "value": "fine"}]'
bad_import "key of 513 bytes at index 3" 3 "$(printf 'x%.0s' {1..513})" \
	"$good"' + [{"key": "t2", "value": "ok"}, {"key": x, "value": "v"}, {"key": "t4", "value": "v"}]'
bad_import "key '.' at index 2" 2 . "$good"' + [{"key": ".", "value": "v"}]'
bad_import "empty key at index 2" 2 "" "$good"' + [{"key": "", "value": "v"}]'
bad_import "no value at index 2" 2 novalue "$good"' + [{"key": "novalue"}]'
bad_import "a number as value at index 2" 2 numvalue "$good"' + [{"key": "numvalue", "value": 5}]'
bad_import "metadata of 1025 bytes at index 2" 2 bigmeta \
	"$good"' + [{"key": "bigmeta", "value": "v", "metadata": {"k": "m" * 1017}}]'
bad_import "expiration_ttl 59 at index 2" 2 ttl59 \
	"$good"' + [{"key": "ttl59", "value": "v", "expiration_ttl": 59}]'
bad_import "expiration now+59 at index 2" 2 exp59 \
	"$good"' + [{"key": "exp59", "value": "v", "expiration": now + 59}]'
bad_import "expiration 2^31 at index 2" 2 exp31 \
	"$good"' + [{"key": "exp31", "value": "v", "expiration": 2 ** 31}]'
bad_import "base64 that is not base64 at index 2" 2 notb64 \
	"$good"' + [{"key": "notb64", "value": "!!!!", "base64": True}]'
for b64 in A AB== AA=A AAAAA; do
	bad_import "base64 '$b64' that no bytes encode at index 2" 2 notb64 \
		"$good"' + [{"key": "notb64", "value": "'$b64'", "base64": True}]'
done
bad_import "expiration 1.5 days away, not whole, at index 2" 2 expfrac \
	"$good"' + [{"key": "expfrac", "value": "v", "expiration": now + 129600.5}]'
has "$ERR" "whole number of seconds" "  and the message says what the expiration must be"
bad_import "an entry that is not an object at index 2" 2 - "$good"' + ["t9"]'
bad_import "value of 26,214,401 bytes at index 2" 2 bigvalue \
	"$good"' + [{"key": "bigvalue", "value": base64.b64encode(b"v" * 26214401).decode(), "base64": True}]'
rm -f "$W/bad.json"

printf 'not json' >"$W/notjson"
cli import imp "$W/notjson"
status_is 1 "import of a file that is not JSON: exit status 1"
mkjson "$W/obj.json" '{"key": "t1", "value": "v"}'
cli import imp "$W/obj.json"
status_is 1 "import of a JSON object, not an array: exit status 1"
cli import imp "$W/no-such-file.json"
status_is 1 "import of a file that does not exist: exit status 1"
printf '[{"key": "t1", "value": "v"},\n {"key": "t2" "value": "v"}]' >"$W/comma.json"
cli import imp "$W/comma.json"
has "$ERR" "kvfs: import: $W/comma.json:2:21: " \
	"import of a file missing a comma: the message gives line and column"
cli import imp "$W"
is "$ST:$ERR" "1:kvfs: import: $W: Is a directory" \
	"import of a directory: exit status 1, and the message says so"
is "$(value_of imp t1)" "exit 1" "  and none of them stored anything"

# ---- beside a running mount ------------------------------------------------
printf 'v1' >"$N/live"
is "$(value_of ns live)" v1 "the CLI reads a key written through the mount at once"
is "$(cat "$N/live")" v1 "the mount reads it (and caches what it may)"
cli put ns live - <<<"v2, longer"
is "$(cat "$N/live" 2>&1)" "v2, longer" "the mount reads the CLI's put at once (kernel_cache_sec = 0)"
is "$(stat -c %s "$N/live")" 11 "  and stat shows the new size"
cli put ns live - --metadata '{"from":"cli"}' <<<"v3"
is "$(xattr "$N/live" user.kv.metadata)" '{"from":"cli"}' \
	"the mount's user.kv.metadata shows the CLI's metadata"
py 'os.setxattr(a[0], "user.kv.metadata", b"{\"from\": \"mount\"}")' "$N/live"
is "$(meta_of ns live)" '{"from":"mount"}' "the CLI reads metadata set through the mount at once"
cli put ns cli/made/deep - <<<"deep"
is "$(cat "$N/cli/made/deep" 2>&1)" deep "a key with slashes put by the CLI appears in the mount's tree"
cli put flat a/b - <<<"flat"
is "$(cat "$M/flat/a^sb" 2>&1)" flat "  and in a flat namespace as a^sb"
cli delete ns live
py 'print(os.path.exists(a[0]))' "$N/live" >"$W/e"
is "$(cat "$W/e")" False "a key deleted by the CLI is gone from the mount at once"

# Both at once: the CLI and the mount write the same database.
mkdir "$N/busy"
py_bg '
for r in range(3):
    for i in range(60):
        with open(os.path.join(a[0], "m%02d" % i), "w") as f:
            f.write("mount %d %d" % (r, i))' "$N/busy"
bgpid=$!
fails=0
for i in $(seq -w 0 59); do
	printf 'cli %s' "$i" | "$KVFS_BIN" -c "$CF" put ns "busy/c$i" - 2>>"$W/busy.err" ||
		fails=$((fails + 1))
done
wait "$bgpid"
is "$fails" 0 "60 CLI puts while the mount writes: all succeed"
run py '
import json, subprocess
bad = []
for i in range(60):
    if open(os.path.join(a[2], "c%02d" % i)).read() != "cli %02d" % i:
        bad.append("c%02d" % i)
    r = subprocess.run([a[0], "-c", a[1], "get", "ns", "busy/m%02d" % i], capture_output=True)
    if r.stdout != b"mount 2 %d" % i:
        bad.append("m%02d: %r" % (i, r.stdout))
print(bad or "ok")' "$KVFS_BIN" "$CF" "$N/busy"
is "$KV_LAST_OUT" ok "after that, each side reads every value the other wrote"
# A database another process holds locked past busy_timeout_ms: the
# message blames the lock, not an entry.
sed 's/^\[store\]$/&\nbusy_timeout_ms = 100/' "$CF" >"$W/busy.ini"
mkjson "$W/two.json" '[{"key": "lk0", "value": "a"}, {"key": "lk1", "value": "b"}]'
db=$(sed -n 's/^path = //p' "$CF")
py_bg '
import sqlite3, time
db = sqlite3.connect(a[0], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(a[1], "w").close()
time.sleep(3)
db.execute("ROLLBACK")' "$db" "$W/locked"
bgpid=$!
for _ in $(seq 100); do [ -e "$W/locked" ] && break; sleep 0.05; done
"$KVFS_BIN" -c "$W/busy.ini" import ns "$W/two.json" >"$W/out" 2>"$W/err"
ST=$?
ERR=$(cat "$W/err")
wait "$bgpid"
status_is 1 "import into a database locked by another process: exit status 1"
has "$ERR" "kvfs: import: Device or resource busy; nothing was imported" \
	"  and the message says the database was busy, naming no entry"
like "$ERR" "kvfs: warn: store: BEGIN IMMEDIATE: database busy*" \
	"  after the store's warning, with no time stamp (as a command's message)"
cli get ns lk0
status_is 1 "  and nothing was stored"
# A namespace the config makes read_only: the CLI refuses changes to it,
# as the mount does, and reads it.
mkdir "$M/ro" && echo kept >"$M/ro/k"
sed 's/^\[namespace ns\]$/[namespace ro]\nread_only = true\n&/' "$CF" >"$W/ro.ini"
CF0=$CF
CF=$W/ro.ini
cli put ro k - <<<"changed"
status_is 1 "put into a read_only namespace: exit status 1"
has "$ERR" "read-only" "the message says the namespace is read-only"
cli delete ro k
status_is 1 "delete in a read_only namespace: exit status 1"
echo '[{"key":"k","value":"imported"}]' >"$W/ro.json"
cli import ro "$W/ro.json"
status_is 1 "import into a read_only namespace: exit status 1"
cli get ro k
is "$OUT" kept "the read_only namespace's key is untouched, and get reads it"
CF=$CF0

# A namespace the config names but nothing made yet: commands that read
# find it empty and leave nothing behind; a put makes it.
printf '[namespace fresh]\n' | cat "$CF" - >"$W/fresh.ini"
CF=$W/fresh.ini
cli list fresh
status_is 0 "list of a namespace only the config names: exit status 0"
has "$OUT" '"list_complete": true' "  an empty, complete page"
cli export fresh
is "$OUT" "[]" "export of it: an empty array"
cli get fresh k
status_is 1 "get in it: exit status 1, no such key"
cli namespaces
has "$OUT" fresh "namespaces lists it"
is "$(ls "$M" | grep -c '^fresh$')" 0 "and reading made no namespace: the mount has none"
cli put fresh k - <<<"v"
status_is 0 "a put into it: exit status 0"
is "$(cat "$M/fresh/k" 2>&1)" v "the put made the namespace, and the mount shows it"
CF=$CF0

if is_mounted "$M"; then
	ok "the mount still runs"
else
	not_ok "the mount still runs"
fi

done_testing
