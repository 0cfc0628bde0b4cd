#!/bin/bash
# t_remote_faults: remote namespaces (backend = cloudflare) when the API
# misbehaves, through tests/remote/faultproxy.py in front of Miniflare:
# the server down (reads of keys not cached fail with EIO, writes fail
# at close with EIO, cached values are still served within cache_ttl,
# and past it only with stale_if_error = true), slow answers (still
# right), 429 with Retry-After (the write succeeds, and the retry came
# no sooner than the Retry-After), 500 and 503 (retried; when they
# persist, close() fails with EIO and the old value stays, in Miniflare
# and in the cache), a connection cut in the middle of a body (no torn
# value is ever read), 401 and 403 (EACCES, and a log line naming the
# namespace), and a token the server refuses.  After every fault
# Miniflare is read directly: nothing was lost and nothing invented.
. "$(dirname "$0")/lib.sh"

NSS=7e1d2c3b4a5f46789a0b1c2d3e4f5061 # strict: stale_if_error = false
NSX=1a2b3c4d5e6f47089a1b2c3d4e5f6071 # stale:  stale_if_error = true

# Retries give up after 4 s: every failure below costs that much.
KV_RETRY_MAX_SEC=4
kv_miniflare "$NSS" "$NSX"
kv_faultproxy
export KVFS_TEST_BAD_TOKEN=not-the-token
kv_mount a "$(kv_remote_ns strict "$NSS" "stale_if_error = false")
$(kv_remote_ns stale "$NSX" "stale_if_error = true")
[namespace badtok]
backend = cloudflare
account_id = $KV_ACCOUNT
id = $NSS
api_token_env = KVFS_TEST_BAD_TOKEN
api_base = $KV_PX_API
cache_ttl = 30
retry_max_sec = $KV_RETRY_MAX_SEC
[namespace local]"
S=$KV_MNT/strict
L=$KV_MNT/local
X=$KV_MNT/stale
LOG=${KV_LOGS[a]}
W=$(kv_tmpdir)
kv_track_dir "$W"

eio="Input/output error"
eacces="Permission denied"

# put_api NS_ID KEY TEXT: store TEXT in Miniflare directly.
put_api() {
	printf '%s' "$3" >"$W/v"
	mf_put "$1" "$2" "$W/v"
}

# held NS_ID KEY: what Miniflare holds for KEY, or "missing".
held() {
	mf_get "$1" "$2" 2>/dev/null || printf missing
}

# write_close FILE TEXT: open, write, close with Python, so that an
# error of close() (where kvfs reports a failed put) is seen.
write_close='fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, a[1].encode())
os.close(fd)'

# proxy_count METHOD KEY: requests the proxy saw for KEY since the last
# kv_proxy_clear.
proxy_count() {
	kv_proxy_log | python3 -c '
import json, sys
print(sum(1 for l in sys.stdin
          if (e := json.loads(l))["method"] == sys.argv[1]
          and e["key"] == sys.argv[2]))' "$1" "$2"
}

# ---- set-up: cached keys -----------------------------------------------------

put_api "$NSS" cached1 c1
put_api "$NSX" cached2 c2
is "$(cat "$S/cached1")" c1 "strict/cached1 read (now cached)"
is "$(cat "$X/cached2")" c2 "stale/cached2 read (now cached)"
cache_start=$(date +%s)
echo old >"$S/keep"
put_api "$NSS" unc1 u1
put_api "$NSS" unc2 u2
put_api "$NSS" unc-slow slow-value
put_api "$NSS" unc503 v503
put_api "$NSS" unc403 v403
put_api "$NSS" unc401 v401
head -c 1048576 /dev/urandom >"$W/big1"
head -c 1048576 /dev/urandom >"$W/big2"
mf_put "$NSS" big1 "$W/big1"
mf_put "$NSS" big2 "$W/big2"

# ---- server down, within cache_ttl ---------------------------------------------

kv_fault "mode=down"
is "$(cat "$S/cached1" 2>&1)" c1 "down: a cached value is served within cache_ttl"
is "$(cat "$S/keep" 2>&1)" old "down: a value written here is served"
fails_with "$eio" "down: reading a key not cached fails with EIO" \
	cat "$S/unc1"
fails_with "$eio" "down: a write fails at close with EIO" \
	py "$write_close" "$S/new-down" "lost"
fails_with "$eio" "down: rewriting a cached key fails at close with EIO" \
	py "$write_close" "$S/keep" "new"
is "$(cat "$S/keep" 2>&1)" old "down: the failed rewrite left the cached value"

# A remote write retrying against a server that is down holds up its own
# namespace only: the local namespace of the same mount answers
# meanwhile, while that write is still retrying.
echo before >"$L/k"
py_bg "$write_close" "$S/held-down" "x"
bg=$!
sleep 0.5
check "down: a local namespace writes while a remote write retries" \
	sh -c "echo during >'$L/k2'"
is "$(cat "$L/k" "$L/k2" 2>&1 | tr '\n' ' ')" "before during " \
	"down: and reads"
check "down: the remote write was still retrying then" _kv_alive "$bg"
wait "$bg" 2>/dev/null
kv_fault "mode=pass"
is "$(held "$NSS" new-down),$(held "$NSS" keep)" "missing,old" \
	"back up: Miniflare has neither failed write"
is "$(cat "$S/unc1" 2>&1)" u1 "back up: the key not cached reads"
fails_with "No such file or directory" \
	"back up: the failed new key does not exist" cat "$S/new-down"

# ---- slow answers ----------------------------------------------------------------

kv_fault "mode=delay&ms=1500"
check "slow: a write succeeds" py "$write_close" "$S/slow" "written slowly"
is "$(cat "$S/unc-slow" 2>&1)" slow-value "slow: a key not cached reads right"
kv_fault "mode=pass"
is "$(held "$NSS" slow)" "written slowly" "slow: Miniflare holds the write"

# ---- 429 with Retry-After ----------------------------------------------------------

kv_proxy_clear
kv_fault "mode=status&code=429&retry_after=2&count=1&method=PUT"
check "429: the write succeeds after the wait" \
	py "$write_close" "$S/k429" "after 429"
is "$(held "$NSS" k429)" "after 429" "429: Miniflare holds the value"
gap=$(kv_proxy_log | python3 -c '
import json, sys
ts = [e for l in sys.stdin if (e := json.loads(l))["key"] == "k429"
      and e["method"] == "PUT"]
if len(ts) < 2 or ts[0]["status"] != 429:
    print("no retry:", [(e["status"], e["fault"]) for e in ts])
else:
    print("%d" % int((ts[1]["t"] - ts[0]["t"]) * 1000))')
num_cmp "$gap" -ge 2000 "429: the retry came 2 s (Retry-After) or later"

# ---- 500 and 503, passing ----------------------------------------------------------

kv_proxy_clear
kv_fault "mode=status&code=500&count=2&method=PUT"
check "500 twice: the write succeeds" py "$write_close" "$S/k500" "after 500"
is "$(held "$NSS" k500)" "after 500" "500 twice: Miniflare holds the value"
is "$(proxy_count PUT k500)" 3 "500 twice: three PUTs in all"

kv_proxy_clear
kv_fault "mode=status&code=503&count=2&method=GET&path=/values/"
is "$(cat "$S/unc503" 2>&1)" v503 "503 twice on a read: the value reads"
is "$(proxy_count GET unc503)" 3 "503 twice: three GETs in all"
kv_fault "mode=pass"

# ---- 500, persisting --------------------------------------------------------------

kv_proxy_clear
kv_fault "mode=status&code=500&method=PUT"
fails_with "$eio" "500 always: close() fails with EIO" \
	py "$write_close" "$S/keep" "never stored"
kv_fault "mode=pass"
num_cmp "$(proxy_count PUT keep)" -ge 2 "500 always: the PUT was retried"
is "$(held "$NSS" keep)" old "500 always: Miniflare keeps the old value"
is "$(cat "$S/keep")" old "500 always: the mount serves the old value"

# ---- a connection cut in the middle of a body -----------------------------------

kv_fault "mode=cut&count=1&method=GET&path=/values/"
if cat "$S/big1" >"$W/got1" 2>"$W/err1"; then
	same_file "$W/got1" "$W/big1" "cut once: the read was retried, whole"
else
	is "$(stat -c %s "$W/got1"):$(tail -n 1 "$W/err1" | grep -c "$eio")" \
		"0:1" "cut once: the read failed with EIO, no byte given"
fi
kv_fault "mode=cut&method=GET&path=/values/"
run cat "$S/big2"
st=$?
cat "$S/big2" >"$W/got2" 2>/dev/null
kv_fault "mode=pass"
num_cmp "$st" -ne 0 "cut always: the read fails"
like "$KV_LAST_OUT" "*$eio" "cut always: with EIO"
is "$(stat -c %s "$W/got2")" 0 "cut always: no byte of a torn value given"
cat "$S/big2" >"$W/got2"
same_file "$W/got2" "$W/big2" "back up: the value reads whole"

for i in $(seq 1 30); do put_api "$NSS" "list/k$i" "$i"; done
kv_fault "mode=cut&count=1&method=GET&path=/keys"
if run ls "$S/list"; then
	is "$(printf '%s\n' "$KV_LAST_OUT" | wc -l)" 30 \
		"a cut list page: ls retried and lists all 30 keys"
else
	like "$KV_LAST_OUT" "*$eio*" "a cut list page: ls fails with EIO"
fi
kv_fault "mode=pass"
is "$(ls "$S/list" | wc -l)" 30 "back up: ls lists all 30 keys"

# ---- 401 and 403 -----------------------------------------------------------------

for code in 403 401; do
	kv_fault "mode=status&code=$code"
	fails_with "$eacces" "$code: reading a key not cached fails with EACCES" \
		cat "$S/unc$code"
	fails_with "$eacces" "$code: a write fails at close with EACCES" \
		py "$write_close" "$S/w$code" "x"
	kv_fault "mode=pass"
	is "$(held "$NSS" "w$code")" missing "$code: nothing was stored"
done
run grep -i "strict" "$LOG"
like "$KV_LAST_OUT" "*strict*" "the log names the namespace refused"
fails_with "$eacces" "a token the server refuses: EACCES" \
	cat "$KV_MNT/badtok/unc1"
run grep "badtok" "$LOG"
like "$KV_LAST_OUT" "*badtok*" "the log names that namespace"
run grep -F "$KV_PX_TOKEN" "$LOG"
is "$KV_LAST_OUT" "" "the log never shows the token"

# ---- server down past cache_ttl: stale_if_error ------------------------------------

left=$((cache_start + 32 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
kv_fault "mode=down"
is "$(cat "$X/cached2" 2>&1)" c2 \
	"down past cache_ttl, stale_if_error = true: the cached value is served"
fails_with "$eio" \
	"down past cache_ttl, stale_if_error = false: EIO" cat "$S/cached1"
fails_with "$eio" "down, stale_if_error = true: a write still fails" \
	py "$write_close" "$X/cached2" "nope"
kv_fault "mode=pass"
is "$(held "$NSX" cached2),$(held "$NSS" cached1)" "c2,c1" \
	"back up: Miniflare holds both values unchanged"
is "$(cat "$X/cached2"),$(cat "$S/cached1")" "c2,c1" \
	"back up: the mount reads both"
got=$(mf_keys "$NSS" | python3 -c '
import json, sys
print(" ".join(json.loads(l)["name"] for l in sys.stdin
               if not json.loads(l)["name"].startswith("list/")))')
is "$got" "big1 big2 cached1 k429 k500 keep slow unc-slow unc1 unc2 unc401 unc403 unc503" \
	"Miniflare holds exactly the keys whose writes succeeded"

done_testing
