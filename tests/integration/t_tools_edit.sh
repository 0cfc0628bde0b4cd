#!/bin/bash
# t_tools_edit: editing keys in place with sed -i, perl -pi and vim
# driven by a script (vim -es), with vim's default swap file, its
# write-probe file "4913" and backup files.  Each exits 0, leaves no
# stray file, and leaves value, owner, mode and attributes as the same
# command leaves them on ext4: a tool that writes a new file and renames
# it over the key (sed -i, perl -pi, vim with 'backupcopy' auto) drops
# the key's metadata and expiration, one that rewrites in place keeps
# them.  A reader that opened the old value keeps reading it.  Results
# are read through a second mount and after a remount.
. "$(dirname "$0")/lib.sh"

kv_tools_mounts
mkdir "$L/home"
export HOME=$L/home # vim's viminfo goes there, not to the real home
exp=$(($(date +%s) + 7200))

# attrs FILE: value, mode, owner, metadata, expiration, user.x.
attrs() {
	printf '%s|%s|%s|%s|%s' "$(tr '\n' ' ' <"$1" 2>&1)" \
		"$(stat -c '%a %u:%g' "$1" 2>&1)" \
		"$(xget "$1" user.kv.metadata)" \
		"$(xget "$1" user.kv.expiration)" "$(xget "$1" user.x)"
}
# mk NAME: a key owned by nobody, mode 604, with metadata, expiration
# and another user attribute.
mk() {
	printf 'line one\nline two\n' >"$N/ed/$1" &&
		chmod 604 "$N/ed/$1" &&
		chown 65534:65534 "$N/ed/$1" &&
		setfattr -n user.kv.metadata -v "{\"t\":\"$1\"}" "$N/ed/$1" &&
		setfattr -n user.kv.expiration -v "$exp" "$N/ed/$1" &&
		setfattr -n user.x -v y "$N/ed/$1"
}
# Kept in place: what a rewrite in place leaves.  Renamed: what a new
# file renamed over the key leaves (owner and mode copied by the tool,
# attributes gone), as on ext4.
kept() {
	printf 'line ONE line two |604 65534:65534|{"t":"%s"}|%s|y' "$1" "$exp"
}
renamed='line ONE line two |604 65534:65534|ENODATA|ENODATA|ENODATA'

mkdir "$N/ed"
for t in sed perl vimdef vimren vimyes; do
	mk "$t" || bail "set up key ed/$t"
done

# ---- sed -i and perl -pi ---------------------------------------------------
check "sed -i" sed -i 's/one/ONE/' "$N/ed/sed"
is "$(attrs "$B/ed/sed")" "$renamed" \
	"second mount: sed -i stored the edit; owner and mode kept, attributes not (as on ext4)"
check "perl -pi" perl -pi -e 's/one/ONE/' "$N/ed/perl"
is "$(attrs "$B/ed/perl")" "$renamed" \
	"second mount: perl -pi stored the edit; owner and mode kept, attributes not (as on ext4)"

# ---- vim -es ---------------------------------------------------------------
# Plain vim -es is 'compatible': 'backupcopy' yes, and 'backupskip'
# skips the write backup below /tmp.  Its swap file lives beside the key
# while the file is open.
check "vim -es with the default options, in the key's directory" bash -c '
	cd "$1" && vim -es -c "%s/one/ONE/" \
		-c "call writefile(readdir(\".\"), \"$2\")" -c wq vimdef' \
	_ "$N/ed" "$L/during"
is "$(tr '\n' ' ' <"$L/during")" ".vimdef.swp perl sed vimdef vimren vimyes " \
	"vim's swap file .vimdef.swp was on the mount while it edited"
is "$(attrs "$B/ed/vimdef")" "$(kept vimdef)" \
	"second mount: vim rewrote the key in place; attributes kept (as on ext4)"

# 'nocompatible' with no 'backupskip': vim probes the directory with a
# file "4913", renames the key to vimren~ as its write backup, writes a
# new vimren and deletes the backup.
check "vim -es, nocompatible, write backup by rename" bash -c '
	cd "$1" && vim -es -c "set nocompatible backupskip=" \
		-c "%s/one/ONE/" -c wq vimren' _ "$N/ed"
is "$(attrs "$B/ed/vimren")" "$renamed" \
	"second mount: vim wrote a new key; owner and mode kept, attributes not (as on ext4)"

check "vim -es keeping a backup, backupcopy=yes" bash -c '
	cd "$1" && vim -es -c "set backup backupskip= backupcopy=yes" \
		-c "%s/one/ONE/" -c wq vimyes' _ "$N/ed"
is "$(attrs "$B/ed/vimyes")" "$(kept vimyes)" \
	"second mount: vim rewrote the key in place; attributes kept (as on ext4)"
is "$(cat "$B/ed/vimyes~" 2>&1 | tr '\n' ' ')" "line one line two " \
	"second mount: the backup vimyes~ holds the old value"

is "$(ls -A "$B/ed" | tr '\n' ' ')" "perl sed vimdef vimren vimyes vimyes~ " \
	"second mount: no stray file (swap, 4913, sed or perl temporary)"
is "$(ls -A "$N/ed" | tr '\n' ' ')" "perl sed vimdef vimren vimyes vimyes~ " \
	"the editing mount lists no stray file either"

# ---- a reader keeps the old value ----------------------------------------------
# reader FILE CMD...: open FILE, read a little, run CMD, read the rest;
# prints True when what was read is the value before CMD.
reader='
import subprocess
f = open(a[0], "rb")
old = open(a[0], "rb").read()
head = f.read(3)
subprocess.run(a[1:], check=True, stdout=subprocess.DEVNULL)
print(head + f.read() == old)'
for t in sed perl vim; do
	yes "old $t value" | head -n 500 >"$N/ed/r.$t"
done
run py "$reader" "$N/ed/r.sed" sed -i 's/old/new/' "$N/ed/r.sed"
is "$KV_LAST_OUT" True "a reader keeps reading the value it opened across sed -i"
run py "$reader" "$N/ed/r.perl" perl -pi -e 's/old/new/' "$N/ed/r.perl"
is "$KV_LAST_OUT" True "a reader keeps reading the value it opened across perl -pi"
run py "$reader" "$N/ed/r.vim" vim -es -c 'set nocompatible backupskip=' \
	-c '%s/old/new/' -c wq "$N/ed/r.vim"
is "$KV_LAST_OUT" True \
	"a reader keeps reading the value it opened across vim's rename"
for t in sed perl vim; do
	is "$(sort -u "$B/ed/r.$t")" "new $t value" \
		"second mount: r.$t holds the edited value"
done

# ---- after a remount -----------------------------------------------------------
kv_remount a
N=${KV_MNTS[a]}/ns
for t in sed perl vimren; do
	is "$(attrs "$N/ed/$t")" "$renamed" "after remount: ed/$t"
done
for t in vimdef vimyes; do
	is "$(attrs "$N/ed/$t")" "$(kept $t)" "after remount: ed/$t"
done
is "$(ls -A "$N/ed" | tr '\n' ' ')" \
	"perl r.perl r.sed r.vim sed vimdef vimren vimyes vimyes~ " \
	"after remount: exactly the expected keys"

done_testing
