# shellcheck shell=bash disable=SC2034
# lib.sh: what every integration script sources.  It mounts real kvfs
# daemons on temporary directories, prints TAP lines, and cleans up on
# exit whatever happened.
#
# Mounts.  A mount has an ID (a short word).  kv_mount ID [CONFIG] makes
# a directory with mktemp -d (below $KVFS_TEST_TMP when tests/run.sh set
# it), writes ID's config there ("[store] path = <dir>/kvfs.db" followed
# by CONFIG, which defaults to "[namespace ns]"; a CONFIG holding its own
# [store] section is written as it is), starts `kvfs -f -c CONFIG MNT`
# with its log in <dir>/kvfs.log and waits until /proc/mounts lists MNT
# as fuse.kvfs.  The mountpoint is then in $KV_MNT and in
# ${KV_MNTS[ID]}.  kv_mount_shared ID OTHER [CONFIG] mounts OTHER's
# database a second time.  kv_stop ID [umount|TERM|INT|KILL] stops a
# mount (its exit status lands in ${KV_STATUS[ID]}), kv_start ID starts
# it again on the same database and mountpoint, kv_remount ID does both.
#
# Checks.  Each check prints one TAP line; a failing one prints what was
# expected and what came, then the daemons' new log lines, all as "#"
# lines.  done_testing prints the plan "1..N" and ends the script; a
# script that stops before it is counted as died by tests/run.sh.
#
# Remote namespaces.  kv_miniflare NS_ID... starts Miniflare
# (tests/remote/serve.mjs) with those namespaces, kv_faultproxy [--token
# T] the fault proxy in front of it; kv_remote_ns NAME NS_ID [LINES]
# prints a config section for a backend = cloudflare namespace reaching
# it through the proxy; kv_fault sets the proxy's fault; mf_* talk to
# Miniflare directly (not through kvfs nor the proxy) to check what it
# holds.  See "Remote helpers" below.
#
# Cleanup.  One EXIT trap unmounts every mount the script made
# (fusermount3 -u, then -uz), stops each daemon by its recorded PID,
# waits for it, ends the helper processes the script started, and
# stops the servers (Miniflare, the proxy) by their process groups and
# removes the temporary directories.  Signals end the script through
# that same trap.

set -u
export LC_ALL=C

KVFS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KVFS_BIN=${KVFS_BIN:-$KVFS_ROOT/kvfs}
TEST_NAME=$(basename "$0" .sh)
KV_TMP_PARENT=${KVFS_TEST_TMP:-${TMPDIR:-/tmp}}
KV_MOUNT_WAIT_SEC=${KV_MOUNT_WAIT_SEC:-15}
KV_STOP_WAIT_SEC=${KV_STOP_WAIT_SEC:-15}

declare -A KV_DIRS=() KV_MNTS=() KV_CONFS=() KV_LOGS=() KV_PIDS=()
declare -A KV_DBS=() KV_STATUS=() KV_LOG_SEEN=()
KV_IDS=()      # mount ids in the order they were made
KV_TMPDIRS=()  # every directory to remove at exit
KV_BG_PIDS=()  # helper processes to end at exit
KV_SVC_PIDS=() # servers (own process groups) to stop after the mounts
KV_MNT=        # mountpoint of the last mount made
KV_LAST_OUT=   # output of the last command run by a check
_tap_n=0
_tap_failed=0

# ---- TAP ---------------------------------------------------------------

# diag LINE...: print each argument as a "#" comment line.
diag() {
	local l
	for l in "$@"; do
		printf '#   %s\n' "$l"
	done
}

ok() {
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s\n' "$_tap_n" "$1"
}

# not_ok DESC [DETAIL...]: a failed check, its details, the new log lines.
# While KV_TODO is set (the reason, naming its FIXME), a failure is a
# known one: "not ok N - DESC # TODO reason", which fails nothing.
not_ok() {
	_tap_n=$((_tap_n + 1))
	if [ -n "${KV_TODO:-}" ]; then
		printf 'not ok %d - %s # TODO %s\n' "$_tap_n" "$1" "$KV_TODO"
	else
		_tap_failed=$((_tap_failed + 1))
		printf 'not ok %d - %s\n' "$_tap_n" "$1"
	fi
	shift
	diag "$@"
	kv_show_logs
}

skip() {
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s # SKIP %s\n' "$_tap_n" "$1" "$2"
}

# bail REASON: a failure that the rest of the script cannot survive.
bail() {
	not_ok "$1"
	echo "Bail out! $1"
	exit 1
}

done_testing() {
	printf '1..%d\n' "$_tap_n"
	[ "$_tap_failed" -eq 0 ] && exit 0
	exit 1
}

# show VALUE: VALUE quoted, shortened, safe to print.
show() {
	local s
	s=$(printf '%q' "$1")
	[ "${#s}" -gt 300 ] && s="${s:0:300}... (${#1} bytes)"
	printf '%s' "$s"
}

# Print the lines each daemon logged since the last time.
kv_show_logs() {
	local id log seen total
	for id in "${KV_IDS[@]}"; do
		log=${KV_LOGS[$id]}
		[ -f "$log" ] || continue
		seen=${KV_LOG_SEEN[$id]:-0}
		total=$(wc -l <"$log")
		[ "$total" -gt "$seen" ] || continue
		printf '#   --- kvfs log of mount %s (%s), lines %d-%d:\n' \
			"$id" "$log" "$((seen + 1))" "$total"
		tail -n "+$((seen + 1))" "$log" | tail -n 60 |
			cat -v | sed 's/^/#     /'
		KV_LOG_SEEN[$id]=$total
	done
}

# ---- checks ------------------------------------------------------------

# is GOT WANT DESC: string equality.
is() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3" "expected: $(show "$2")" "got:      $(show "$1")"
	fi
}

# isnt GOT UNWANTED DESC
isnt() {
	if [ "$1" != "$2" ]; then
		ok "$3"
	else
		not_ok "$3" "expected anything but: $(show "$2")"
	fi
}

# like GOT GLOB DESC: GOT matches the glob pattern.
like() {
	# shellcheck disable=SC2053
	if [[ $1 == $2 ]]; then
		ok "$3"
	else
		not_ok "$3" "expected to match: $2" "got: $(show "$1")"
	fi
}

# num_cmp A OP B DESC: integer comparison, OP one of -eq -ne -lt -le -gt -ge.
num_cmp() {
	if [[ $1 =~ ^-?[0-9]+$ && $3 =~ ^-?[0-9]+$ ]] && test "$1" "$2" "$3"; then
		ok "$4"
	else
		not_ok "$4" "expected: $(show "$1") $2 $(show "$3")"
	fi
}

# run CMD...: run a command, its output (stdout and stderr) in
# KV_LAST_OUT; returns its status.
run() {
	KV_LAST_OUT=$("$@" 2>&1)
}

# check DESC CMD...: the command succeeds.
check() {
	local desc=$1 st
	shift
	run "$@"
	st=$?
	if [ "$st" -eq 0 ]; then
		ok "$desc"
	else
		not_ok "$desc" "command failed with status $st: $*" \
			"output: $(show "$KV_LAST_OUT")"
	fi
	return "$st"
}

# check_fails DESC CMD...: the command fails (any error).
check_fails() {
	local desc=$1
	shift
	if run "$@"; then
		not_ok "$desc" "command succeeded but should fail: $*" \
			"output: $(show "$KV_LAST_OUT")"
		return 1
	fi
	ok "$desc"
}

# fails_with MESSAGE DESC CMD...: the command fails and what it prints
# ends with MESSAGE (the strerror text of the expected errno, e.g.
# "No such file or directory"), as coreutils and py print it.
fails_with() {
	local msg=$1 desc=$2 st out
	shift 2
	run "$@"
	st=$?
	out=${KV_LAST_OUT%$'\n'}
	out=${out##*$'\n'}
	if [ "$st" -ne 0 ] && [[ $out == *"$msg" ]]; then
		ok "$desc"
	else
		not_ok "$desc" "expected failure: $msg" \
			"got status $st, output: $(show "$KV_LAST_OUT")"
	fi
}

# same_file A B DESC: the two files hold the same bytes.
same_file() {
	local a=$1 b=$2 desc=$3 why
	if cmp -s -- "$a" "$b"; then
		ok "$desc"
		return 0
	fi
	why=$(cmp -- "$a" "$b" 2>&1 | head -n 1)
	not_ok "$desc" "$(show "$a"): $(stat -c %s -- "$a" 2>&1) bytes" \
		"$(show "$b"): $(stat -c %s -- "$b" 2>&1) bytes" "cmp: $why"
	return 1
}

# sha FILE: the file's SHA-256, or "ERR" with the error.
sha() {
	local s
	s=$(sha256sum -- "$1" 2>&1) || {
		printf 'ERR %s' "$s"
		return 1
	}
	printf '%s' "${s%% *}"
}

# py CODE [ARG...]: run a Python 3 snippet; the arguments are in list a
# (strings; file names keep their bytes).  An OSError prints its
# strerror text as the last line and exits 1, so that fails_with works
# with os.open flags, os.truncate, os.rename and the like.
_kv_py_prelude='
import errno, mmap, os, signal, stat, sys, time
code, a = sys.argv[1], sys.argv[2:]
try:
    exec(compile(code, "py", "exec"))
except OSError as e:
    sys.stdout.flush()
    print(e.strerror or str(e), file=sys.stderr)
    sys.exit(1)
'
py() {
	local code=$1
	shift
	python3 -c "$_kv_py_prelude" "$code" "$@"
}

# py_bg CODE [ARG...]: py in the background, ended at exit; PID in $!.
py_bg() {
	local code=$1
	shift
	kv_bg python3 -c "$_kv_py_prelude" "$code" "$@"
}

# xget FILE NAME: an extended attribute's value (of a link itself, not
# its target), or the name of the errno getxattr gave, e.g. ENODATA.
xget() {
	python3 -c '
import errno, os, sys
try:
    sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2],
                                 follow_symlinks=False).decode())
except OSError as e:
    sys.stdout.write(errno.errorcode[e.errno])' "$1" "$2"
}

# ---- mounts ------------------------------------------------------------

# kv_tmpdir: a new temporary directory (removed at exit) on stdout.
# Call as d=$(kv_tmpdir) then kv_track_dir "$d".
kv_tmpdir() {
	mktemp -d "$KV_TMP_PARENT/kvfs-$TEST_NAME.XXXXXX"
}
kv_track_dir() {
	KV_TMPDIRS+=("$1")
}

# is_mounted DIR: /proc/mounts lists DIR as a fuse.kvfs mount.
is_mounted() {
	awk -v m="$1" '$2 == m && $3 == "fuse.kvfs" { f = 1 } END { exit !f }' \
		/proc/mounts
}

# any_mount DIR: /proc/mounts lists anything mounted on DIR.
any_mount() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts
}

# _kv_alive PID: the process exists and is not a zombie.
_kv_alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}

# _kv_reap ID SECONDS: wait for ID's daemon to end, at most SECONDS;
# store its exit status in KV_STATUS[ID].  Returns 1 if it still runs.
_kv_reap() {
	local id=$1 pid=${KV_PIDS[$1]:-} n=$(($2 * 10)) st
	[ -n "$pid" ] || return 0
	while _kv_alive "$pid" && [ "$n" -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	_kv_alive "$pid" && return 1
	wait "$pid" 2>/dev/null
	st=$?
	KV_STATUS[$id]=$st
	KV_PIDS[$id]=
	echo "$(date '+%T') kvfs exited with status $st" >>"${KV_LOGS[$id]}"
	return 0
}

# _kv_config_text DB BODY: the config file's text.
_kv_config_text() {
	local db=$1 body=$2
	case $body in
	*'[store]'*)
		printf '%s\n' "$body"
		;;
	*)
		printf '[store]\npath = %s\n%s\n' "$db" "$body"
		;;
	esac
}

# kv_new ID [CONFIG [DB]]: set up ID's directory and config, no mount.
kv_new() {
	local id=$1 body=${2-"[namespace ns]"} dir
	dir=$(kv_tmpdir) || bail "mktemp -d failed"
	KV_TMPDIRS+=("$dir")
	KV_IDS+=("$id")
	KV_DIRS[$id]=$dir
	KV_MNTS[$id]=$dir/mnt
	KV_CONFS[$id]=$dir/kvfs.ini
	KV_LOGS[$id]=$dir/kvfs.log
	KV_DBS[$id]=${3:-$dir/kvfs.db}
	KV_PIDS[$id]=
	mkdir "$dir/mnt"
	: >"$dir/kvfs.log"
	_kv_config_text "${KV_DBS[$id]}" "$body" >"$dir/kvfs.ini"
}

# kv_write_config ID CONFIG: replace ID's config (same database).
kv_write_config() {
	_kv_config_text "${KV_DBS[$1]}" "$2" >"${KV_CONFS[$1]}"
}

# kv_start ID [KVFS ARGS...]: start ID's daemon and wait for its mount.
# Without arguments kvfs gets "-f -c CONFIG MNT"; with them, exactly
# those (so a test can try other command lines).  Returns 0 once
# mounted, 1 if the daemon exited or the mount did not appear in time.
kv_start() {
	local id=$1 pid n
	shift
	local -a args=(-f ${KVFS_TEST_DEBUG:+-d} -c "${KV_CONFS[$id]}" \
		"${KV_MNTS[$id]}")
	[ "$#" -gt 0 ] && args=("$@")
	[ -x "$KVFS_BIN" ] || {
		echo "kvfs binary missing: $KVFS_BIN" >>"${KV_LOGS[$id]}"
		return 1
	}
	echo "$(date '+%T') starting: kvfs ${args[*]}" >>"${KV_LOGS[$id]}"
	# A background job of a script ignores SIGINT; give kvfs the
	# default action back so that it can install its own handler.
	env --default-signal=INT,QUIT "$KVFS_BIN" "${args[@]}" \
		>>"${KV_LOGS[$id]}" 2>&1 </dev/null &
	pid=$!
	KV_PIDS[$id]=$pid
	echo "$pid" >"${KV_DIRS[$id]}/kvfs.pid"
	KV_MNT=${KV_MNTS[$id]}

	n=$((KV_MOUNT_WAIT_SEC * 10))
	while [ "$n" -gt 0 ]; do
		is_mounted "${KV_MNTS[$id]}" && return 0
		_kv_alive "$pid" || break
		sleep 0.1
		n=$((n - 1))
	done
	is_mounted "${KV_MNTS[$id]}" && return 0
	_kv_reap "$id" 0
	return 1
}

# kv_mount ID [CONFIG]: kv_new and kv_start; bails out on failure.
kv_mount() {
	kv_new "$1" "${2-"[namespace ns]"}"
	kv_start "$1" || bail "mount $1 with kvfs -f -c ${KV_CONFS[$1]}"
}

# kv_mount_shared ID OTHER [CONFIG]: a second mount of OTHER's database.
kv_mount_shared() {
	kv_new "$1" "${3-"[namespace ns]"}" "${KV_DBS[$2]}"
	kv_start "$1" || bail "mount $1 on the database of $2"
}

# kv_stop ID [HOW]: stop ID's mount.  HOW: umount (fusermount3 -u, the
# default), TERM, INT or KILL (a signal to the daemon).  Waits for the
# daemon (its status then in KV_STATUS[ID]); after KILL, clears the dead
# mount with fusermount3 -uz.  Returns 1 if the daemon did not exit.
kv_stop() {
	local id=$1 how=${2:-umount} pid=${KV_PIDS[$1]:-} mnt=${KV_MNTS[$1]}
	echo "$(date '+%T') test stops the mount: $how" >>"${KV_LOGS[$id]}"
	KV_STATUS[$id]=
	case $how in
	umount)
		fusermount3 -u "$mnt" >>"${KV_LOGS[$id]}" 2>&1
		;;
	*)
		[ -n "$pid" ] && kill -s "$how" "$pid"
		;;
	esac
	_kv_reap "$id" "$KV_STOP_WAIT_SEC" || return 1
	if [ "$how" = KILL ] && any_mount "$mnt"; then
		fusermount3 -uz "$mnt" >>"${KV_LOGS[$id]}" 2>&1
	fi
	return 0
}

# kv_remount ID: stop ID cleanly and mount its database again.
kv_remount() {
	if ! kv_stop "$1"; then
		not_ok "mount $1 stops on fusermount3 -u"
		_kv_stop_hard "$1"
	fi
	kv_start "$1" || bail "mount $1 again"
}

# The configuration of a mount that sees other mounts' changes at once.
KV_NOCACHE="[mount]
kernel_cache_sec = 0
[namespace ns]"

# kv_shared_mounts: mounts a and b of one database, both without kernel
# caching, so a change through one is seen through the other at once; A
# and B are namespace ns through each, L a local scratch directory.
kv_shared_mounts() {
	kv_mount a "$KV_NOCACHE"
	kv_mount_shared b a "$KV_NOCACHE"
	A=${KV_MNTS[a]}/ns
	B=${KV_MNTS[b]}/ns
	L=$(kv_tmpdir)
	kv_track_dir "$L"
}

# kv_tools_mounts: the setting of the tool tests: mount a, and b on a's
# database with no kernel caching (so b sees a's changes at once); N and
# B are namespace ns through each, L a local scratch directory.
kv_tools_mounts() {
	kv_mount a
	kv_mount_shared b a "$KV_NOCACHE"
	N=${KV_MNTS[a]}/ns
	B=${KV_MNTS[b]}/ns
	L=$(kv_tmpdir)
	kv_track_dir "$L"
}

# kv_kill_restart ID [PID...]: SIGKILL ID's daemon, wait for it and for
# the PIDs (the load it was under), start it again on the dead mount and
# wait until the new mount answers.  Returns 1 if kvfs did not start.
kv_kill_restart() {
	local id=$1 n=100
	shift
	kill -KILL "${KV_PIDS[$id]}"
	_kv_reap "$id" 10
	[ $# -gt 0 ] && wait "$@" 2>/dev/null
	kv_start "$id" || return 1
	# /proc/mounts lists the dead mount until the new kvfs cleared it.
	until stat -f "${KV_MNTS[$id]}" >/dev/null 2>&1 || [ "$n" -eq 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
}

# _kv_stop_hard ID: whatever it takes, ID is unmounted and stopped.
_kv_stop_hard() {
	local id=$1 mnt=${KV_MNTS[$1]} pid=${KV_PIDS[$1]:-}
	if any_mount "$mnt"; then
		fusermount3 -u "$mnt" 2>/dev/null ||
			fusermount3 -uz "$mnt" 2>/dev/null
	fi
	if [ -n "$pid" ] && ! _kv_reap "$id" 5; then
		kill -TERM "$pid" 2>/dev/null
		_kv_reap "$id" 5 || {
			kill -KILL "$pid" 2>/dev/null
			_kv_reap "$id" 5
		}
	fi
	any_mount "$mnt" && fusermount3 -uz "$mnt" 2>/dev/null
}

# kv_bg CMD...: start a helper process in the background, ended at exit
# if still running; its PID is in $!.
kv_bg() {
	"$@" &
	KV_BG_PIDS+=("$!")
}

# ---- remote helpers ----------------------------------------------------

KV_REMOTE_DIR=$KVFS_ROOT/tests/remote
KV_MF_URL=      # Miniflare's explorer API, .../cdn-cgi/explorer/api
KV_MF_ROOT=     # Miniflare's root URL (the gaps worker is under it)
KV_PX_API=      # the proxy's API base, for api_base
KV_PX_CTL=      # the proxy's control URL
KV_PX_TOKEN=kvfs-test-token
KV_ACCOUNT=0123456789abcdef0123456789abcdef
KV_START_WAIT_SEC=${KV_START_WAIT_SEC:-60}

# _kv_svc_start OUTFILE CMD...: start a server in its own process group
# (setsid), remembered for the cleanup; wait until it printed a line on
# OUTFILE.  Returns 1 if it died or printed nothing in time.
_kv_svc_start() {
	local out=$1 pid n
	shift
	setsid "$@" >"$out" 2>"$out.err" </dev/null &
	pid=$!
	KV_SVC_PIDS+=("$pid")
	n=$((KV_START_WAIT_SEC * 10))
	while [ "$n" -gt 0 ] && ! grep -qs . "$out"; do
		_kv_alive "$pid" || break
		sleep 0.1
		n=$((n - 1))
	done
	grep -qs . "$out"
}

# _kv_svc_stop PID: SIGTERM to the server's process group, SIGKILL if it
# is still there after 10 s; both aimed only at the group it leads.
_kv_svc_stop() {
	local pid=$1 n=100
	kill -TERM -- "-$pid" 2>/dev/null || return 0
	while [ "$n" -gt 0 ] && kill -0 -- "-$pid" 2>/dev/null; do
		sleep 0.1
		n=$((n - 1))
	done
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# kv_miniflare NS_ID...: start Miniflare with those namespaces (in
# memory); sets KV_MF_URL and KV_MF_ROOT.  Bails out, saying why, when
# Miniflare is not installed or does not start: the remote tests never
# skip for a missing Miniflare.
kv_miniflare() {
	local d
	d=$(kv_tmpdir) || bail "mktemp -d failed"
	kv_track_dir "$d"
	command -v node >/dev/null ||
		bail "node is missing: run mount-scripts/setup.sh --tests"
	[ -f "$KV_REMOTE_DIR/node_modules/miniflare/package.json" ] ||
		bail "Miniflare is not installed in $KV_REMOTE_DIR:" \
			"run mount-scripts/setup.sh --tests (npm ci)"
	if ! _kv_svc_start "$d/url" node "$KV_REMOTE_DIR/serve.mjs" "$@"; then
		diag "$(cat "$d/url.err")"
		bail "Miniflare did not start (node $(node --version))"
	fi
	KV_MF_URL=$(head -n 1 "$d/url")
	KV_MF_ROOT=${KV_MF_URL%/cdn-cgi/explorer/api}
}

# kv_faultproxy [--token T]: start faultproxy.py in front of Miniflare;
# sets KV_PX_API and KV_PX_CTL.  Without arguments the proxy requires
# the token $KV_PX_TOKEN.
kv_faultproxy() {
	local d line
	d=$(kv_tmpdir) || bail "mktemp -d failed"
	kv_track_dir "$d"
	[ "$#" -gt 0 ] || set -- --token "$KV_PX_TOKEN"
	if ! _kv_svc_start "$d/urls" python3 "$KV_REMOTE_DIR/faultproxy.py" \
		--upstream "$KV_MF_URL" "$@"; then
		diag "$(cat "$d/urls.err")"
		bail "faultproxy.py did not start"
	fi
	line=$(head -n 1 "$d/urls")
	KV_PX_API=${line% *}
	KV_PX_CTL=${line#* }
}

# kv_fault QUERY: set the proxy's fault, e.g. kv_fault "mode=pass" or
# kv_fault "mode=status&code=429&retry_after=2&count=1&method=PUT".
kv_fault() {
	curl -sSf --max-time 10 "$KV_PX_CTL/set?$1" >/dev/null ||
		bail "the fault proxy refused: $1"
}

# kv_proxy_log: the requests the proxy saw since kv_proxy_clear, one
# JSON object a line (see faultproxy.py).
kv_proxy_log() {
	curl -sSf --max-time 10 "$KV_PX_CTL/log"
}
kv_proxy_clear() {
	curl -sSf --max-time 10 "$KV_PX_CTL/clear" >/dev/null
}

# kv_token_file: a file holding the proxy's token, on stdout.
kv_token_file() {
	local d
	d=$(kv_tmpdir) || bail "mktemp -d failed"
	kv_track_dir "$d"
	printf '%s\n' "$KV_PX_TOKEN" >"$d/token"
	chmod 600 "$d/token"
	printf '%s' "$d/token"
}

# kv_remote_ns NAME NS_ID [LINES]: a config section for namespace NAME,
# backend = cloudflare, Miniflare's namespace NS_ID through the proxy,
# cache_ttl = 30, retry_max_sec = $KV_RETRY_MAX_SEC (default 8), and
# LINES added at its end.
kv_remote_ns() {
	[ -n "${KV_TOKEN_FILE:-}" ] || KV_TOKEN_FILE=$(kv_token_file)
	printf '[namespace %s]\nbackend = cloudflare\naccount_id = %s\n' \
		"$1" "$KV_ACCOUNT"
	printf 'id = %s\napi_token_file = %s\napi_base = %s\n' \
		"$2" "$KV_TOKEN_FILE" "$KV_PX_API"
	printf 'cache_ttl = 30\nretry_max_sec = %s\n' "${KV_RETRY_MAX_SEC:-8}"
	[ -n "${3:-}" ] && printf '%s\n' "$3"
	return 0
}

# mf_enc KEY: KEY percent-encoded, every byte but A-Z a-z 0-9 - . _ ~.
mf_enc() {
	python3 -c 'import sys, urllib.parse
sys.stdout.write(urllib.parse.quote(sys.argv[1].encode("utf-8",
    "surrogateescape"), safe=""))' "$1"
}

# mf_get NS_ID KEY [OUTFILE]: the value Miniflare holds (explorer API),
# to stdout or OUTFILE; status non-zero (and nothing written) when the
# key is missing.
mf_get() {
	curl -sf --max-time 60 -o "${3:-/dev/stdout}" \
		"$KV_MF_URL/storage/kv/namespaces/$1/values/$(mf_enc "$2")"
}

# mf_put NS_ID KEY FILE [QUERY]: store FILE in Miniflare directly; with
# QUERY (expiration=S or expiration_ttl=S) through the gaps worker.
mf_put() {
	local url="$KV_MF_URL/storage/kv/namespaces/$1/values/$(mf_enc "$2")"
	[ -n "${4:-}" ] && url="$KV_MF_ROOT/gaps/$1/values/$(mf_enc "$2")?$4"
	curl -sSf --max-time 60 -X PUT --data-binary "@$3" "$url" >/dev/null
}

# mf_put_meta NS_ID KEY FILE JSON: store value and metadata (multipart).
mf_put_meta() {
	curl -sSf --max-time 60 -X PUT -F "value=<$3" -F "metadata=$4" \
		"$KV_MF_URL/storage/kv/namespaces/$1/values/$(mf_enc "$2")" \
		>/dev/null
}

# mf_delete NS_ID KEY
mf_delete() {
	curl -sSf --max-time 60 -X DELETE \
		"$KV_MF_URL/storage/kv/namespaces/$1/values/$(mf_enc "$2")" \
		>/dev/null
}

# mf_bulk NS_ID JSONFILE: bulk put (the gaps worker).
mf_bulk() {
	curl -sSf --max-time 120 -X PUT -H 'Content-Type: application/json' \
		--data-binary "@$2" "$KV_MF_ROOT/gaps/$1/bulk" >/dev/null
}

# mf_keys NS_ID [PREFIX]: every key Miniflare lists, page by page (limit
# 1000, cursors), as JSON lines {"name", "expiration"?, "metadata"?}.
mf_keys() {
	python3 - "$KV_MF_URL/storage/kv/namespaces/$1/keys" "${2:-}" <<'PYEOF'
import json, sys, urllib.parse, urllib.request
url, prefix = sys.argv[1], sys.argv[2]
cursor = ""
while True:
    q = {"limit": "1000"}
    if prefix:
        q["prefix"] = prefix
    if cursor:
        q["cursor"] = cursor
    with urllib.request.urlopen(url + "?" + urllib.parse.urlencode(q),
                                timeout=60) as r:
        page = json.load(r)
    for k in page["result"]:
        print(json.dumps(k, ensure_ascii=False))
    cursor = (page.get("result_info") or {}).get("cursor") or ""
    if not cursor:
        break
PYEOF
}

# mf_meta NS_ID KEY: the key's metadata JSON (compact) as the metadata
# endpoint gives it; "null" when it has none, "404" when missing.
mf_meta() {
	curl -sS --max-time 60 "$KV_MF_ROOT/gaps/$1/metadata/$(mf_enc "$2")" |
		python3 -c 'import json, sys
d = json.load(sys.stdin)
print(json.dumps(d["result"], separators=(",", ":"), ensure_ascii=False)
      if d["success"] else "404")'
}

_kv_cleanup() {
	local st=$? id pid dir
	trap - EXIT
	for pid in "${KV_BG_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	for id in "${KV_IDS[@]}"; do
		_kv_stop_hard "$id"
	done
	for pid in "${KV_BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for pid in "${KV_SVC_PIDS[@]}"; do
		_kv_svc_stop "$pid"
	done
	for dir in "${KV_TMPDIRS[@]}"; do
		if awk -v p="$dir/" 'index($2, p) == 1 { f = 1 } END { exit !f }' \
			/proc/mounts; then
			echo "# a mount is still below $dir; not removing it"
			continue
		fi
		rm -rf "$dir"
	done
	exit "$st"
}
trap _kv_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
