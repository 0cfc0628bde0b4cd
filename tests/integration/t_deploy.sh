#!/bin/bash
# t_deploy: running kvfs for real.  make install (binary, man page,
# systemd unit), mount -t fuse.kvfs and an fstab line through Debian's
# mount.fuse3, systemd's readiness protocol, kvfs as PID 1 of a PID
# namespace (what a container runs) and the container entrypoint, a
# restart after SIGKILL on the dead mount, and the mount options kvfs
# applies itself (uid, gid, umask, allow_other, ro, read_only).
. "$(dirname "$0")/lib.sh"

nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# ---- make install -------------------------------------------------------
inst=$(kv_tmpdir) && kv_track_dir "$inst"
check "make install DESTDIR=... PREFIX=/usr/local" \
	make -C "$KVFS_ROOT" --no-print-directory install \
	DESTDIR="$inst" PREFIX=/usr/local
for f in bin/kvfs share/man/man1/kvfs.1 lib/systemd/system/kvfs@.service; do
	if [ -f "$inst/usr/local/$f" ]; then
		ok "installed /usr/local/$f"
	else
		not_ok "installed /usr/local/$f"
	fi
done
like "$(MANPATH=$inst/usr/local/share/man man -P cat kvfs 2>&1)" \
	"*kvfs - mount key-value namespaces as directories*" \
	"man kvfs shows the page once installed"
like "$(cat "$inst/usr/local/lib/systemd/system/kvfs@.service")" \
	"*ExecStart=/usr/local/bin/kvfs -f -c /etc/kvfs/%i.ini*" \
	"the installed unit runs the installed binary"

# systemd-analyze checks the unit with a binary where the unit says.
pre=$(kv_tmpdir) && kv_track_dir "$pre"
if command -v systemd-analyze >/dev/null; then
	make -C "$KVFS_ROOT" --no-print-directory install PREFIX="$pre" \
		SYSTEMD_UNIT_DIR="$pre/units" >/dev/null
	cp "$pre/units/kvfs@.service" "$pre/kvfs@test.service"
	run systemd-analyze verify --man=no "$pre/kvfs@test.service"
	is "$?:$KV_LAST_OUT" "0:" "systemd-analyze verify finds nothing wrong"
else
	skip "systemd-analyze verify" "systemd-analyze is not installed"
fi

# ---- readiness for systemd ----------------------------------------------
kv_new n
run py '
import socket, subprocess, time
path = a[3] + "/notify.sock"
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(10)
env = dict(os.environ, NOTIFY_SOCKET=path)
p = subprocess.Popen([a[0], "-f", "-c", a[1], a[2]], env=env,
                     stderr=subprocess.DEVNULL)
first = s.recv(100).decode()
mounted = any(l.split()[1] == a[2] and l.split()[2] == "fuse.kvfs"
              for l in open("/proc/mounts"))
p.terminate()
second = s.recv(100).decode()
print(first, mounted, second, p.wait())' "$KVFS_BIN" "${KV_CONFS[n]}" \
	"${KV_MNTS[n]}" "${KV_DIRS[n]}"
is "$KV_LAST_OUT" "READY=1 True STOPPING=1 0" \
	"NOTIFY_SOCKET: READY=1 once mounted, STOPPING=1 on SIGTERM, exit 0"

# ---- mount -t fuse.kvfs and fstab ---------------------------------------
# mount(8) runs mount.fuse3 with a fixed PATH, where an installed kvfs
# lives.  So that nothing on this machine changes, a private mount
# namespace puts this build there (a tmpfs over /usr/local/sbin, seen by
# nothing outside), mounts, checks and unmounts, all inside.
kv_new m
fstab=${KV_DIRS[m]}/fstab
printf '%s %s fuse.kvfs defaults,_netdev 0 0\n' "${KV_CONFS[m]}" \
	"${KV_MNTS[m]}" >"$fstab"
run unshare --mount --propagation private bash -c '
	kvfs=$1 conf=$2 mnt=$3 fstab=$4
	trap "fusermount3 -u \"\$mnt\" 2>/dev/null" EXIT
	mounted() { awk -v m="$mnt" "\$2 == m { print \$3 }" /proc/mounts; }
	mount -t tmpfs tmpfs /usr/local/sbin || exit 1
	ln -s "$kvfs" /usr/local/sbin/kvfs
	mount -t fuse.kvfs "$conf" "$mnt" -o _netdev,nofail,x-systemd.automount
	echo "mount-t=$? type=$(mounted)"
	echo via-mount >"$mnt/ns/k"
	echo "read=$(cat "$mnt/ns/k")"
	fusermount3 -u "$mnt"
	echo "umount=$? left=$(mounted)"
	mount --fstab "$fstab" "$mnt"
	echo "fstab=$? type=$(mounted)"
	echo "read=$(cat "$mnt/ns/k")"
	fusermount3 -u "$mnt"
	echo "umount=$? left=$(mounted)"
' _ "$KVFS_BIN" "${KV_CONFS[m]}" "${KV_MNTS[m]}" "$fstab"
want="mount-t=0 type=fuse.kvfs
read=via-mount
umount=0 left=
fstab=0 type=fuse.kvfs
read=via-mount
umount=0 left="
is "$KV_LAST_OUT" "$want" \
	"mount -t fuse.kvfs CONFIG MNT -o _netdev,nofail,x-systemd.automount and an fstab line (CONFIG MNT fuse.kvfs defaults,_netdev) mount, store, read and unmount"

# ---- PID 1 of a PID namespace, as in a container ---------------------------
# child PID: the process unshare --fork started, by its parent's PID.
child() {
	local n=50 c
	while [ "$n" -gt 0 ]; do
		c=$(cat "/proc/$1/task/$1/children" 2>/dev/null)
		[ -n "$c" ] && { echo "${c%% *}"; return 0; }
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
# wait_mount DIR: wait until DIR is a kvfs mount (10 s at most).
wait_mount() {
	local n=100
	while [ "$n" -gt 0 ]; do
		is_mounted "$1" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
# wait_gone PID: wait until PID has exited (10 s at most).
wait_gone() {
	local n=100
	while [ "$n" -gt 0 ] && [ -d "/proc/$1" ]; do
		sleep 0.1
		n=$((n - 1))
	done
	[ ! -d "/proc/$1" ]
}

kv_new p
kv_bg unshare --pid --fork "$KVFS_BIN" -f -c "${KV_CONFS[p]}" \
	"${KV_MNTS[p]}" 2>>"${KV_LOGS[p]}"
ushare=$!
pid1=$(child "$ushare")
if wait_mount "${KV_MNTS[p]}"; then
	ok "kvfs as PID 1 of a PID namespace mounts"
else
	not_ok "kvfs as PID 1 of a PID namespace mounts"
fi
like "$(cat "/proc/$pid1/status" 2>/dev/null | grep NSpid)" \
	"*[[:space:]]1" "and is PID 1 there"
echo in-container >"${KV_MNTS[p]}/ns/c"
kill -TERM "$pid1"
wait "$ushare"
is "$?" 0 "SIGTERM to PID 1: kvfs exits 0"
if any_mount "${KV_MNTS[p]}"; then
	not_ok "and leaves no mount behind (no 'Transport endpoint is not connected')"
else
	ok "and leaves no mount behind (no 'Transport endpoint is not connected')"
fi

# No docker here: the Dockerfile's build stage must install every build
# package setup.sh names (the Makefile's pkg-config needs them all).
missing=
build=$(sed -n '/^build_packages="/,/"$/p' "$KVFS_ROOT/mount-scripts/setup.sh" |
	tr -d '"' | sed 's/^build_packages=//')
num_cmp "$(wc -w <<<"$build")" -gt 3 "setup.sh names its build packages"
for pkg in $build; do
	grep -qw -- "$pkg" "$KVFS_ROOT/mount-scripts/Dockerfile" ||
		missing="$missing $pkg"
done
is "${missing:-none}" none "the Dockerfile installs every build package setup.sh names"

# The entrypoint execs kvfs, so kvfs is PID 1 and gets docker stop's SIGTERM.
kv_bg env KVFS_BIN="$KVFS_BIN" KVFS_CONFIG="${KV_CONFS[p]}" \
	KVFS_MOUNTPOINT="${KV_MNTS[p]}" unshare --pid --fork \
	"$KVFS_ROOT/mount-scripts/docker-entrypoint.sh" 2>>"${KV_LOGS[p]}"
ushare=$!
pid1=$(child "$ushare")
wait_mount "${KV_MNTS[p]}"
is "$(cat "${KV_MNTS[p]}/ns/c" 2>&1)" in-container \
	"docker-entrypoint.sh mounts the configured store"
is "$(tr '\0' ' ' <"/proc/$pid1/cmdline" | cut -d' ' -f2)" -f \
	"and PID 1 is kvfs itself, not a shell"
kill -TERM "$pid1"
wait "$ushare"
is "$?" 0 "docker stop's SIGTERM: exit 0"
if any_mount "${KV_MNTS[p]}"; then
	not_ok "and no mount is left"
else
	ok "and no mount is left"
fi

# ---- restart after SIGKILL on the dead mount -------------------------------
kv_mount k
echo survives >"$KV_MNT/ns/s"
kill -KILL "${KV_PIDS[k]}"
_kv_reap k 10
like "$(stat -f "${KV_MNTS[k]}" 2>&1)" "*Transport endpoint is not connected*" \
	"after SIGKILL the mount is dead"
kv_start k
# /proc/mounts lists the dead mount until the new kvfs has cleared it:
# wait for a mount that answers.
n=100
until stat -f "${KV_MNTS[k]}" >/dev/null 2>&1 || [ "$n" -eq 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
if stat -f "${KV_MNTS[k]}" >/dev/null 2>&1; then
	ok "kvfs starts again on the dead mountpoint without help"
else
	not_ok "kvfs starts again on the dead mountpoint without help"
fi
is "$(cat "${KV_MNTS[k]}/ns/s" 2>&1)" survives "and the value is there"
is "$(awk -v m="${KV_MNTS[k]}" '$2 == m' /proc/mounts | wc -l)" 1 \
	"one mount on the mountpoint, not two stacked"
fails_with "a FUSE file system is mounted there already" \
	"a second kvfs on a live mount refuses" \
	"$KVFS_BIN" -c "${KV_CONFS[k]}" "${KV_MNTS[k]}"
touch "${KV_DIRS[k]}/afile"
fails_with "not a directory" "a mountpoint that is a file is refused" \
	"$KVFS_BIN" -c "${KV_CONFS[k]}" "${KV_DIRS[k]}/afile"
kv_stop k

# ---- options kvfs applies itself ----------------------------------------
kv_new o "[namespace ns]
[namespace frozen]
read_only = true"
kv_start o -f -c "${KV_CONFS[o]}" -o uid=4321,gid=765,umask=027 \
	"${KV_MNTS[o]}" || bail "mount with uid, gid, umask"
O=${KV_MNTS[o]}
echo v >"$O/ns/f"
mkdir "$O/ns/d"
chown -h 0:0 "$O/ns/f" 2>/dev/null # a stored owner wins over the default
echo w >"$O/frozen/x" 2>/dev/null
kv_stop o
# keys written as root have a stored owner; the default shows on a key
# written through the CLI, which stores none.
"$KVFS_BIN" -c "${KV_CONFS[o]}" put ns cli - <<<"c" >/dev/null
kv_start o -f -c "${KV_CONFS[o]}" -o uid=4321,gid=765,umask=027 \
	"${KV_MNTS[o]}" || bail "mount again"
is "$(stat -c '%u %g %a' "$O/ns/cli")" "4321 765 640" \
	"-o uid=4321,gid=765,umask=027: a key with no stored owner or mode"
is "$(stat -c '%u %g %a' "$O/ns")" "4321 765 750" \
	"and a namespace directory"
is "$(cat "$O/frozen/x" 2>&1)" "cat: $O/frozen/x: No such file or directory" \
	"read_only = true: a write failed and stored nothing"
# (the CLI refuses a read_only namespace too: seed it without that line)
sed '/^read_only/d' "${KV_CONFS[o]}" >"${KV_DIRS[o]}/seed.ini"
"$KVFS_BIN" -c "${KV_DIRS[o]}/seed.ini" put frozen r - <<<"read me" >/dev/null
is "$(cat "$O/frozen/r")" "read me" "read_only: reads work"
fails_with "Read-only file system" "read_only: echo > new key: EROFS" \
	sh -c "echo x > '$O/frozen/new'"
fails_with "Read-only file system" "read_only: rm: EROFS" rm "$O/frozen/r"
fails_with "Read-only file system" "read_only: mv out: EROFS" \
	mv "$O/frozen/r" "$O/ns/r"
fails_with "Read-only file system" "read_only: mv in: EROFS" \
	mv "$O/ns/f" "$O/frozen/f"
fails_with "Read-only file system" "read_only: chmod: EROFS" \
	chmod 600 "$O/frozen/r"
fails_with "Read-only file system" "read_only: setfattr: EROFS" \
	setfattr -n user.kv.metadata -v 1 "$O/frozen/r"
fails_with "Read-only file system" "read_only: mkdir: EROFS" \
	mkdir "$O/frozen/dir"
is "$(cat "$O/frozen/r")" "read me" "read_only: the value is unchanged"
fails_with "Permission denied" \
	"the mount is private: another user cannot list it" nobody ls "$O/ns"
kv_stop o

kv_start o -f -o ro -c "${KV_CONFS[o]}" "${KV_MNTS[o]}" || bail "mount ro"
fails_with "Read-only file system" "-o ro: a write fails with EROFS" \
	sh -c "echo x > '$O/ns/f'"
fails_with "Read-only file system" "-o ro: rm fails with EROFS" rm "$O/ns/f"
is "$(cat "$O/ns/f")" v "-o ro: reads work, the value is unchanged"
kv_stop o

# Bad options: one clear line naming the option, exit status 2, no mount.
run "$KVFS_BIN" -f -c "${KV_CONFS[o]}" -o umask=999 "${KV_MNTS[o]}"
like "$KV_LAST_OUT" "*bad mount option 'umask=999': expected an octal mode*" \
	"-o umask=999: the message names the option"
run "$KVFS_BIN" -f -c "${KV_CONFS[o]}" -o bogusopt "${KV_MNTS[o]}"
is "$(grep -c 'unknown option.*bogusopt' <<<"$KV_LAST_OUT")" 1 \
	"-o bogusopt: libfuse's message is one line naming the option"
kv_start o -f -o uid=nobody,gid=nogroup -c "${KV_CONFS[o]}" "${KV_MNTS[o]}" ||
	bail "mount with uid=nobody"
is "$(stat -c '%u %g' "$O/ns")" "65534 $(getent group nogroup | cut -d: -f3)" \
	"-o uid=nobody,gid=nogroup: names, as in the config file"
kv_stop o

if grep -qs '^[[:space:]]*user_allow_other' /etc/fuse.conf; then
	skip "allow_other without user_allow_other" \
		"this machine's /etc/fuse.conf allows it"
else
	fails_with "'user_allow_other' in /etc/fuse.conf (or mounting as root)" \
		"-o allow_other as a user without user_allow_other: a clear error" \
		nobody "$KVFS_BIN" -o allow_other -c /nonexistent /tmp
fi
kv_start o -f -o allow_other -c "${KV_CONFS[o]}" "${KV_MNTS[o]}" ||
	bail "mount allow_other"
# From a working directory inside the mount, so that the folders above it
# (private to root) are not in the way.
is "$(cd "$O/ns" && nobody cat cli 2>&1)" c \
	"-o allow_other (as root): another user reads a key its mode allows"
fails_with "Permission denied" \
	"and default_permissions still applies the key's mode" \
	sh -c "cd '$O/ns' && setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo x >> cli'"
kv_stop o

# ---- status and logs ------------------------------------------------------
kv_mount s "[namespace ns]
[namespace other]"
echo hello >"$KV_MNT/ns/a"
echo world >"$KV_MNT/ns/b"
exec 7<"$KV_MNT/ns/a"
run "$KVFS_BIN" status "$KV_MNT"
exec 7<&-
like "$KV_LAST_OUT" "*store: ${KV_DBS[s]}*" "kvfs status: the store path"
like "$KV_LAST_OUT" "*namespace ns: 2 keys, 12 bytes*" \
	"kvfs status: keys and bytes per namespace"
like "$KV_LAST_OUT" "*namespace other: 0 keys, 0 bytes*" \
	"kvfs status: every namespace"
like "$KV_LAST_OUT" "*keys: 2*bytes: 12*" "kvfs status: the totals"
like "$KV_LAST_OUT" "*config: ${KV_CONFS[s]}*" "kvfs status: the config's path"
like "$KV_LAST_OUT" "*open files: 1*" "kvfs status: the open files"
like "$KV_LAST_OUT" "*puts since mount: 2*" "kvfs status: puts since mount"
mkdir -p "$KV_MNT/other/a/b" && echo x >"$KV_MNT/other/a/b/k" &&
	chmod 0750 "$KV_MNT/other"
run "$KVFS_BIN" status "$KV_MNT"
like "$KV_LAST_OUT" "*namespace other: 1 keys, 2 bytes*" \
	"kvfs status: directories made with mkdir are not keys"
like "$KV_LAST_OUT" "*keys: 3*bytes: 14*" "kvfs status: nor in the totals"
is "$(ls -A "$KV_MNT" | tr '\n' ' ')" "ns other " \
	"the status file is not listed"
fails_with "File exists" "no namespace can take the status file's name" \
	mkdir "$KV_MNT/^status"
fails_with "not a kvfs mount (No such file or directory)" \
	"kvfs status of a folder that is no kvfs mount: a clear error" \
	"$KVFS_BIN" status "${KV_DIRS[s]}"
kv_stop s
log=${KV_LOGS[s]}
like "$(cat "$log")" "*kvfs info: mounted *" "the log has a line for the mount"
like "$(cat "$log")" "*kvfs info: unmounting *" "and one for the unmount"
: >"$log"
kv_start s -f -o log_level=warning -c "${KV_CONFS[s]}" "${KV_MNTS[s]}" ||
	bail "mount with log_level=warning"
kv_stop s
is "$(grep -c 'kvfs info' "$log")" 0 "-o log_level=warning: no info lines"
fails_with "expected error, warning, info or debug" \
	"-o log_level=loud: a clear error" \
	"$KVFS_BIN" -f -o log_level=loud -c "${KV_CONFS[s]}" "${KV_MNTS[s]}"

done_testing
