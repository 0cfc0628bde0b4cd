#!/bin/bash
# t_config: the command line and the config file.  A bad config stops
# kvfs before mounting with "FILE:LINE: what is wrong" and exit status 2;
# a database file kvfs cannot use gives a non-zero exit and is left as
# it was; the positional CONFIG form, -o with mount-only options, a
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
