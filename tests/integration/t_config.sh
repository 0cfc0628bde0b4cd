#!/bin/bash
# t_config: the command line and the config file.  A bad config stops
# kvfs before mounting with "FILE:LINE: what is wrong" and exit status 2;
# every option of kvfs.ini.example wrong in turn (or given twice) is
# refused that way with a database in use left untouched; a database
# file kvfs cannot use gives a non-zero exit and is left as it was; the positional CONFIG form, -o with mount-only options, a
# relative store path and the embedded default config all mount.
. "$(dirname "$0")/lib.sh"

cd / || bail "cd /"

# try ID: run kvfs in the foreground on ID's config, at most 10 s (it
# should exit at once); output in KV_LAST_OUT, returns its status.
try() {
	local id=$1
	shift
	run timeout 10 "$KVFS_BIN" -f "$@" -c "${KV_CONFS[$id]}" "${KV_MNTS[$id]}"
}

# bad_config DESC LINE TEXT: TEXT (a whole config) is refused with exit
# status 2 and a message naming the config's LINE (a glob), nothing
# mounted.
bad_config() {
	local desc=$1 line=$2 text=$3 id st
	bad_n=$((bad_n + 1))
	id=bad$bad_n
	kv_new "$id" "$text"
	try "$id"
	st=$?
	is "$st" 2 "$desc: exit status 2"
	like "$KV_LAST_OUT" "*${KV_CONFS[$id]}:$line: *" \
		"$desc: the message is FILE:$line: ..."
	if any_mount "${KV_MNTS[$id]}"; then
		not_ok "$desc: nothing mounted"
	else
		ok "$desc: nothing mounted"
	fi
}

bad_n=0
bad_config "unknown section" "[34]" "[store]
path = kvfs.db
[bogus]
x = 1"
bad_config "unknown key" 4 "[store]
path = kvfs.db
[mount]
cache_forever = 1
[namespace ns]"
bad_config "kernel_cache_sec not a number" 4 "[store]
path = kvfs.db
[mount]
kernel_cache_sec = soon
[namespace ns]"
bad_config "unknown layout" 5 "[store]
path = kvfs.db
; a comment line
[namespace ns]
layout = diagonal"
bad_config "busy_timeout_ms negative" 3 "[store]
path = kvfs.db
busy_timeout_ms = -5
[namespace ns]"
bad_config "file_mode not octal" 4 "[store]
path = kvfs.db
[mount]
file_mode = 0999
[namespace ns]"
bad_config "the same namespace twice" 4 "[store]
path = kvfs.db
[namespace ns]
[namespace ns]"

# ---- every option wrong in turn, next to a database in use ----------------
# Each key of kvfs.ini.example gets a wrong value (wrong type, out of
# range, empty) or is given twice; kvfs must exit 2 naming FILE:LINE,
# mount nothing and leave the database (which holds a key) as it was.
kv_new seed "[namespace ns]"
kv_start seed || bail "mount the seed database"
echo kept >"${KV_MNTS[seed]}/ns/k"
kv_stop seed || bail "stop the seed mount"
seed_db=${KV_DBS[seed]}
seed_sum=$(sha "$seed_db")

# wrong_option SECTION KEY VALUE [TWICE]: one case; TWICE gives the key
# a second time on the next line (with a good VALUE).
wrong_option() {
	local section=$1 key=$2 value=$3 twice=${4:-} id text line why=()
	bad_n=$((bad_n + 1))
	id=bad$bad_n
	case $section in
	store) text="[store]"$'\n'"path = $seed_db" ;;
	*) text="[store]"$'\n'"path = $seed_db"$'\n'"[$section]" ;;
	esac
	[ "$key" = path ] && text="[store]"
	text+=$'\n'"$key = $value"
	line=$(($(wc -l <<<"$text")))
	if [ -n "$twice" ]; then
		text+=$'\n'"$key = $value"
		line=$((line + 1))
	fi
	case $section in
	namespace*) ;;
	*) text+=$'\n'"[namespace ns]" ;;
	esac
	kv_new "$id" "$text"
	try "$id"
	st=$?
	[ "$st" = 2 ] || why+=("exit status $st, not 2")
	[[ $KV_LAST_OUT == *"${KV_CONFS[$id]}:$line: "* ]] ||
		why+=("no ${KV_CONFS[$id]}:$line: in $(show "$KV_LAST_OUT")")
	any_mount "${KV_MNTS[$id]}" && why+=("something was mounted")
	[ "$(sha "$seed_db")" = "$seed_sum" ] || why+=("the database changed")
	local desc="[$section] $key = '$value'${twice:+ twice}: exit 2, FILE:$line, nothing mounted, database untouched"
	if [ "${#why[@]}" -eq 0 ]; then
		ok "$desc"
	else
		not_ok "$desc" "${why[@]}"
	fi
}

while IFS='|' read -r section key value twice; do
	wrong_option "$section" "$key" "$value" "$twice"
done <<'EOF_TABLE'
store|path|
store|busy_timeout_ms|forever
store|busy_timeout_ms|600001
store|busy_timeout_ms|
store|busy_timeout_ms|5000|twice
store|sync|off
store|sync|
store|sync|full|twice
store|sweep_sec|0
store|sweep_sec|86401
store|sweep_sec|
store|sweep_sec|60|twice
mount|uid|no-such-user-kvfs
mount|uid|-1
mount|uid|
mount|uid|0|twice
mount|gid|4294967295
mount|gid|
mount|gid|0|twice
mount|file_mode|0888
mount|file_mode|
mount|file_mode|0644|twice
mount|dir_mode|rwxr-xr-x
mount|dir_mode|
mount|dir_mode|0755|twice
mount|kernel_cache_sec|86401
mount|kernel_cache_sec|-0.5
mount|kernel_cache_sec|
mount|kernel_cache_sec|1|twice
namespace ns|id|
namespace ns|id|x|twice
namespace ns|layout|Flat
namespace ns|layout|
namespace ns|layout|tree|twice
namespace ns|read_only|perhaps
namespace ns|read_only|
namespace ns|read_only|false|twice
EOF_TABLE
is "$(sqlite3 "file:$seed_db?mode=ro" \
	"SELECT CAST(value AS TEXT) FROM kv WHERE key = CAST('k' AS BLOB)")" kept \
	"the seed database still holds its key and value"

# ---- databases kvfs must not touch ----------------------------------------
kv_new other "[namespace ns]"
db=${KV_DBS[other]}
sqlite3 "$db" 'CREATE TABLE notes(t TEXT); INSERT INTO notes VALUES ("mine");'
before=$(sha "$db")
try other
st=$?
isnt "$st" 0 "an SQLite database of another program: non-zero exit"
isnt "$KV_LAST_OUT" "" "and a message saying why"
is "$(sha "$db")" "$before" "the other program's database is unchanged"
if any_mount "${KV_MNTS[other]}"; then
	not_ok "nothing mounted on the other program's database"
else
	ok "nothing mounted on the other program's database"
fi

kv_new junk "[namespace ns]"
db=${KV_DBS[junk]}
head -c 8192 /dev/urandom >"$db"
before=$(sha "$db")
try junk
isnt "$?" 0 "a file that is not a database: non-zero exit"
is "$(sha "$db")" "$before" "the file is unchanged"

kv_new missing "[store]
path = /nonexistent-kvfs-dir/x/kvfs.db
[namespace ns]"
try missing
isnt "$?" 0 "a database in a folder that does not exist: non-zero exit"

# ---- ways to mount ---------------------------------------------------------
kv_new pos "[namespace ns]"
if kv_start pos -f "${KV_CONFS[pos]}" "${KV_MNTS[pos]}"; then
	ok "kvfs -f CONFIG MOUNTPOINT (positional config) mounts"
	echo x >"${KV_MNTS[pos]}/ns/k"
	is "$(cat "${KV_MNTS[pos]}/ns/k")" x "and the mount works"
else
	not_ok "kvfs -f CONFIG MOUNTPOINT (positional config) mounts"
fi

run timeout 10 "$KVFS_BIN" -f "${KV_CONFS[pos]}"
is "$?" 2 "kvfs -f CONFIG without a mountpoint: exit status 2"
like "$KV_LAST_OUT" "*${KV_CONFS[pos]} is a file: the mountpoint is missing*" \
	"  and the message says the mountpoint is missing"

kv_new opts "[namespace ns]"
if kv_start opts -f -o nofail,_netdev,x-systemd.automount \
	-c "${KV_CONFS[opts]}" "${KV_MNTS[opts]}"; then
	ok "kvfs -o nofail,_netdev,x-systemd.automount mounts"
else
	not_ok "kvfs -o nofail,_netdev,x-systemd.automount mounts"
fi

kv_new rel "[store]
path = relative.db
[mount]
kernel_cache_sec = 0.5
[namespace first]
id = 0f2ac74b498b48028cb68387c421e279
[namespace second]
layout = flat"
if kv_start rel; then
	ok "a config with every section mounts (started from /)"
	is "$(ls "${KV_MNTS[rel]}" | tr '\n' ' ')" "first second " \
		"the mount root holds the config's namespaces"
	echo y >"${KV_MNTS[rel]}/first/k"
else
	not_ok "a config with every section mounts (started from /)"
fi
check "a relative store path is beside the config file" \
	test -e "${KV_DIRS[rel]}/relative.db"

kv_new dflt ""
export XDG_DATA_HOME=${KV_DIRS[dflt]}/xdg
mkdir "$XDG_DATA_HOME"
if kv_start dflt -f "${KV_MNTS[dflt]}"; then
	ok "kvfs MOUNTPOINT with no config mounts the embedded default"
	is "$(ls "${KV_MNTS[dflt]}")" default "its one namespace is default"
	echo hi >"${KV_MNTS[dflt]}/default/greeting"
	is "$(cat "${KV_MNTS[dflt]}/default/greeting" 2>&1)" hi \
		"the default namespace stores a key"
else
	not_ok "kvfs MOUNTPOINT with no config mounts the embedded default"
fi
check "the default database is in \$XDG_DATA_HOME/kvfs/" \
	test -e "$XDG_DATA_HOME/kvfs/kvfs.db"

done_testing
