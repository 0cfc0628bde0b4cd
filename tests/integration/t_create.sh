#!/bin/bash
# t_create: a file created without O_EXCL is stored at its first flush
# or close, not at the create (store_pending.c): until then this mount
# shows it and no other program sees it.  Whatever happens to it before
# then (a listing, rename, chmod, an attribute, rm, a kill) comes out
# as on a file that had been stored at once.  An O_EXCL create is
# claimed against other mounts until it is stored.
. "$(dirname "$0")/lib.sh"

kv_shared_mounts
# A third mount reaches the database through a symbolic link.
S=$(kv_tmpdir)
kv_track_dir "$S"
ln -s "${KV_DBS[a]}" "$S/alias.db"
kv_new c "$KV_NOCACHE" "$S/alias.db"
kv_start c || bail "mount c on a symbolic link to a's database"
C=${KV_MNTS[c]}/ns

cli() {
	"$KVFS_BIN" -c "${KV_CONFS[a]}" "$@"
}

# ---- created, not yet flushed ---------------------------------------------
# Python holds the descriptor: the shell's `exec 3>` and `cmd >&3` close
# a duplicate of it, a flush, which stores what was written so far.
# (A child process would close its copy at exec: a flush too.)
py_bg '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"unseen")
open(a[1], "w").close()
while not os.path.exists(a[2]):
    time.sleep(0.05)
os.close(fd)' "$A/new" "$L/written" "$L/go"
writer=$!
n=100
until [ -e "$L/written" ] || [ "$n" -eq 0 ]; do
	sleep 0.05
	n=$((n - 1))
done
check "this mount shows a file it created and has not closed" \
	test -f "$A/new"
check_fails "another mount does not see it yet" test -e "$B/new"
check_fails "nor does the CLI" cli get ns new
touch "$L/go"
wait "$writer"
is "$(cat "$B/new" 2>&1)" unseen "its close stores it"
exec 3>"$A/new"
printf 'first part ' >&3
is "$(cat "$B/new" 2>&1)" "first part " \
	"a flush stores what was written so far"
printf 'second part' >&3
exec 3>&-
is "$(cat "$B/new" 2>&1)" "first part second part" \
	"after the close another mount reads the whole value"
is "$(cli get ns new 2>&1)" "first part second part" "and so does the CLI"

(umask 027 && : >"$A/masked")
is "$(stat -c %a "$B/masked" 2>&1)" 640 \
	"a file created empty is stored with its create's mode"
is "$(stat -c %u:%g "$B/masked" 2>&1)" "$(id -u):$(id -g)" \
	"and its creator as owner"
touch "$A/touched"
is "$(stat -c %s:%F "$B/touched" 2>&1)" "0:regular empty file" \
	"touch stores an empty key"
echo appended >>"$A/appended"
is "$(cat "$B/appended" 2>&1)" appended ">> on a new name stores the line"

# ---- what may happen before the close ------------------------------------
mkdir "$A/d"
is "$(py '
fds = [os.open(n, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) for n in a[0:2]]
print("listed" in os.listdir(a[2]), "x" in os.listdir(a[3]))
os.stat(a[3])
print(os.path.exists(a[4]), os.path.exists(a[5]))
os.write(fds[0], b"value")
for fd in fds:
    os.close(fd)' "$A/listed" "$A/d/x" "$A" "$A/d" "$B/listed" "$B/d/x" 2>&1 | tr '\n' ' ')" \
	"True True False False " \
	"listings and stat of the directory show a new file here, and store nothing"
is "$(cat "$B/listed" 2>&1)" value "the close stores the value"
is "$(stat -c %s "$B/d/x" 2>&1)" 0 "and an empty file at its close"

# A second open of the new file stores first; the first one's close,
# with nothing written, must not store an empty value over it.
flock "$A/lock" -c "echo 4242 >'$A/lock'"
is "$(cat "$B/lock" 2>&1)" 4242 "flock FILE -c 'echo > FILE' keeps the echo"
exec 3>"$A/twice"
echo hello >"$A/twice"
exec 3>&-
is "$(cat "$B/twice" 2>&1)" hello "so does a close after another open wrote"
exec 3>"$A/held"
fails_with "File exists" "O_EXCL in another mount on a name created here" \
	py 'os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL)' "$B/held"
exec 3>&-

exec 3>"$A/removed"
check "rm of a file not yet closed" rm "$A/removed"
printf 'gone' >&3
exec 3>&-
check_fails "leaves nothing after its close, here" test -e "$A/removed"
check_fails "nor there" test -e "$B/removed"

exec 3>"$A/before"
check "mv of a file not yet closed" mv "$A/before" "$A/after"
printf 'moved and closed' >&3
exec 3>&-
is "$(cat "$B/after" 2>&1)" "moved and closed" \
	"the value is stored under the new name"
check_fails "and not the old one" test -e "$B/before"

exec 3>"$A/moded"
check "chmod of a file not yet closed" chmod 604 "$A/moded"
check "setfattr on it" setfattr -n user.note -v kept "$A/moded"
printf 'x' >&3
exec 3>&-
is "$(stat -c %a "$B/moded" 2>&1)" 604 "the mode is kept"
is "$(xget "$B/moded" user.note)" kept "the attribute is kept"
is "$(cat "$B/moded" 2>&1)" x "and the value"

is "$(py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"synced")
os.fsync(fd)
print(open(a[1]).read())
os.close(fd)' "$A/synced" "$B/synced" 2>&1)" synced \
	"fsync stores a new file before its close"
is "$(py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"written")
print(os.path.exists(a[1]))
os.close(fd)' "$A/unflushed" "$B/unflushed" 2>&1)" False \
	"a write alone does not store a new file"
is "$(cat "$B/unflushed" 2>&1)" written "its close does"

# Two programs create the same new name, without O_EXCL, in two mounts:
# the last close wins, as with any two writers of one key.
exec 3>"$A/race"
echo "from b" >"$B/race"
printf 'from a' >&3
exec 3>&-
is "$(cat "$B/race" 2>&1)" "from a" "the last close wins a create race"

# ---- O_EXCL: claimed across mounts until stored --------------------------
is "$(py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL)
print(os.path.exists(a[1]))
for name in a[1], a[0]:
    try:
        os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        print("created twice")
    except FileExistsError:
        print("EEXIST")
try:
    os.symlink("target", a[1])
    print("linked")
except FileExistsError:
    print("EEXIST")
os.write(fd, b"exclusive")
os.close(fd)' "$A/excl" "$B/excl" 2>&1 | tr '\n' ' ')" "False EEXIST EEXIST EEXIST " \
	"O_EXCL: not seen elsewhere before its close, yet O_EXCL and symlink there, and O_EXCL here: EEXIST"
is "$(cat "$B/excl" 2>&1)" exclusive "its close stores it"
fails_with "File exists" "then O_EXCL anywhere finds it stored" py '
os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL)' "$B/excl"
is "$(py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL)
try:
    os.open(a[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    print("created twice")
except FileExistsError:
    print("EEXIST")
os.close(fd)' "$A/aliased" "$C/aliased" 2>&1)" EEXIST \
	"also for a mount that names the database through a symbolic link"
check "cp to a new name (cp uses O_EXCL)" cp "$B/excl" "$A/copied"
is "$(cat "$B/copied" 2>&1)" exclusive "stores the copy"

# ---- a namespace another mount removes -------------------------------------
mkdir "${KV_MNTS[a]}/gone"
is "$(py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, b"late")
os.rmdir(a[1])
os.mkdir(a[2])
try:
    os.close(fd)
    print("stored")
except OSError as e:
    print(errno.errorcode[e.errno])' "${KV_MNTS[a]}/gone/late" "${KV_MNTS[b]}/gone" \
	"${KV_MNTS[b]}/again" 2>&1)" \
	ENOENT "a file created in a namespace another mount removed: close gives ENOENT"
is "$(ls -A "${KV_MNTS[a]}/again" 2>&1)|$(ls -A "${KV_MNTS[b]}/again" 2>&1)" "|" \
	"the namespace made meanwhile shows nothing of it, in either mount"
rmdir "${KV_MNTS[a]}/again"

# ---- a store that fails ---------------------------------------------------
# Mount d gives up on a locked database after 300 ms.
kv_new d "[store]
path = ${KV_DBS[a]}
busy_timeout_ms = 300
[mount]
kernel_cache_sec = 0
[namespace ns]"
kv_start d || bail "mount d with busy_timeout_ms = 300"
is "$(py '
import sqlite3
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, b"hello")
copy = os.dup(fd)
db = sqlite3.connect(a[2], isolation_level=None, timeout=0)
db.execute("BEGIN IMMEDIATE")
try:
    os.close(copy)
    print("stored")
except OSError:
    print("failed")
print(os.path.exists(a[0]))
try:
    os.close(os.open(a[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    print("created elsewhere")
except FileExistsError:
    print("EEXIST")
db.execute("ROLLBACK")
db.close()
os.close(fd)
print("closed")' "${KV_MNTS[d]}/ns/locked" "$B/locked" "${KV_DBS[a]}" 2>&1 | tr '\n' ' ')" \
	"failed True EEXIST closed " \
	"a flush that cannot store a new file fails, and the file stays, claimed"
is "$(cat "$B/locked" 2>&1):$(stat -c %a "$B/locked" 2>&1)" hello:600 \
	"its last close stores what was written, with the create's mode"
is "$(py '
import sqlite3
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, b"data")
os.fsync(fd)
os.write(fd, b" more")
db = sqlite3.connect(a[1], isolation_level=None, timeout=0)
db.execute("BEGIN IMMEDIATE")
try:
    os.utime(a[0], (978307200, 978307200))
    print("set")
except OSError as e:
    print(errno.errorcode[e.errno])
db.execute("ROLLBACK")
db.close()
os.close(fd)
print(int(os.stat(a[0]).st_mtime) != 978307200)' \
	"${KV_MNTS[d]}/ns/timed" "${KV_DBS[a]}" 2>&1 | tr '\n' ' ')" "EBUSY True " \
	"a utime refused on a locked database is not applied at the writer's close"

# ---- killed before the close ---------------------------------------------
py_bg '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"never closed")
os.open(a[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL)
time.sleep(60)' "$A/killed" "$A/claimed"
n=50
until [ -e "$A/claimed" ] || [ "$n" -eq 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
kv_kill_restart a || bail "kvfs a restarts after a kill"
check_fails "a file never closed is not stored when kvfs is killed" \
	test -e "$A/killed"
is "$(py '
fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL)
print("created")
os.close(fd)' "$B/claimed" 2>&1)" created \
	"nor does its O_EXCL claim outlive it"
is "$(cat "$A/new" 2>&1)" "first part second part" \
	"what was closed before the kill is kept"

done_testing
