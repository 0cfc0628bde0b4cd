#!/bin/bash
# mount-default.sh: mount kvfs's embedded default configuration (one
# namespace, default, in $XDG_DATA_HOME/kvfs/kvfs.db or
# ~/.local/share/kvfs/kvfs.db) on DIR, in the background, as the user
# who runs it (under sudo: as the user who ran sudo), so that user can
# use the mount.  `make mount` runs it with DIR = mnt; `make umount` or
# `fusermount3 -u DIR` unmounts.
#
# Usage: mount-scripts/mount-default.sh DIR
#
# DIR is created if missing.  If DIR is left over from a kvfs that died
# ("Transport endpoint is not connected"), it is cleared first with
# fusermount3 -uz.  If kvfs is already mounted there, nothing is done.

set -u

if [ "$#" -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi

# Under sudo, mount as the user who ran sudo: root's mount would be
# closed to that user.
if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] &&
	[ "$SUDO_USER" != root ]; then
	exec sudo -u "$SUDO_USER" -H -- "$0" "$@"
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
kvfs=$root/kvfs
if [ ! -x "$kvfs" ]; then
	echo "mount-default.sh: $kvfs is not built (run make kvfs)" >&2
	exit 1
fi

# The absolute path as /proc/mounts spells it; no stat of DIR, which
# fails on a dead mount.
dir=$1
case $dir in
/*) ;;
*) dir=$(pwd -P)/$dir ;;
esac
dir=$(realpath -m -s -- "$dir")
mounts_name=$(printf '%s' "$dir" |
	sed 's/\\/\\134/g; s/ /\\040/g; s/\t/\\011/g')

# mount_type: the file system type mounted on DIR, empty if none.
mount_type() {
	awk -v m="$mounts_name" '$2 == m { t = $3 } END { print t }' \
		/proc/mounts
}

type=$(mount_type)
if [ -n "$type" ]; then
	# statfs goes to the daemon every time; stat may answer from the
	# kernel's cache for a moment after the daemon died.
	if stat -f -- "$dir" >/dev/null 2>&1; then
		if [ "$type" = fuse.kvfs ]; then
			echo "kvfs is already mounted on $dir"
			exit 0
		fi
		echo "mount-default.sh: $dir already has a $type mount" >&2
		exit 1
	fi
	echo "mount-default.sh: clearing a dead mount on $dir"
	fusermount3 -uz -- "$dir" || exit 1
fi

mkdir -p -- "$dir" || exit 1
data=${XDG_DATA_HOME:-$HOME/.local/share}/kvfs
# Values are often sessions and tokens: the database is the user's alone.
mkdir -p -m 700 -- "$data" || exit 1

# alive PID: the process runs (exists and is not a zombie).
alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}

# kvfs without -f goes to the background once mounted and logs to
# syslog.  Wait for either its mount or its exit, at most 15 s.
"$kvfs" "$dir" </dev/null &
pid=$!
for _ in $(seq 1 150); do
	[ "$(mount_type)" = fuse.kvfs ] && break
	if ! alive "$pid"; then
		wait "$pid"
		status=$?
		if [ "$status" -ne 0 ]; then
			echo "mount-default.sh: kvfs failed (exit status" \
				"$status)" >&2
			exit 1
		fi
	fi
	sleep 0.1
done
if [ "$(mount_type)" != fuse.kvfs ]; then
	echo "mount-default.sh: kvfs did not mount $dir within 15 s" >&2
	kill "$pid" 2>/dev/null
	exit 1
fi
echo "kvfs: mounted the default namespace on $dir (database:" \
	"$data/kvfs.db); unmount with: fusermount3 -u $dir"
