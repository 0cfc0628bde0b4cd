#!/bin/bash
# t_tools_git: git on the mount.  git init, add, commit (text, binary,
# executable and symlink entries, renames and deletions), gc, fsck
# --strict; git clone of a small local repository onto the mount and
# within it (where git's hard links fail with EPERM and it copies).
# git needs O_EXCL lock files, renames over existing files, appends,
# read-only modes, empty directories and fsync.  git status is clean
# right away, through a second mount, and after a remount.
. "$(dirname "$0")/lib.sh"

kv_tools_mounts
mkdir "$L/home"
export HOME=$L/home GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=kvfs GIT_AUTHOR_EMAIL=kvfs@example.invalid
export GIT_COMMITTER_NAME=kvfs GIT_COMMITTER_EMAIL=kvfs@example.invalid
git config --global init.defaultBranch main
git config --global advice.detachedHead false

# clean DIR DESC: git status --porcelain in DIR prints nothing.
clean() {
	if run git -C "$1" status --porcelain --untracked-files=all &&
		[ -z "$KV_LAST_OUT" ]; then
		ok "$2"
	else
		not_ok "$2" "git status --porcelain: $(show "$KV_LAST_OUT")"
	fi
}

# ---- git init, add, commit on the mount ------------------------------------------
R=$N/repo
check "git init" git init -q "$R"
is "$(cd "$B/repo/.git" && find refs/tags refs/heads -maxdepth 0 -type d 2>&1 |
	tr '\n' ' ')" "refs/tags refs/heads " \
	"second mount: git's empty directories are there"
printf 'hello\n' >"$R/hello.txt"
mkdir -p "$R/src/deep"
printf 'int main(void) { return 0; }\n' >"$R/src/main.c"
head -c 70000 /dev/urandom >"$R/src/deep/blob.bin"
printf '#!/bin/sh\necho run\n' >"$R/run.sh"
chmod 755 "$R/run.sh"
ln -s src/main.c "$R/main-link"
check "git add" git -C "$R" add -A
check "git commit" git -C "$R" commit -q -m "first commit"
printf 'more\n' >>"$R/hello.txt"
git -C "$R" mv src/main.c src/app.c
ln -sfn src/app.c "$R/main-link"
git -C "$R" rm -q src/deep/blob.bin
printf 'new\n' >"$R/new.txt"
check "git add of changes, a rename and a deletion" git -C "$R" add -A
check "a second commit" git -C "$R" commit -q -m "second commit"
check "git fsck --strict" git -C "$R" fsck --strict --no-progress
clean "$R" "git status is clean after the commits"
is "$(git -C "$R" ls-tree -r HEAD | awk '{ print $1, $4 }' | tr '\n' ' ')" \
	"100644 hello.txt 120000 main-link 100644 new.txt 100755 run.sh 100644 src/app.c " \
	"the tree holds modes 644, 755 and a symlink entry"
is "$(git -C "$R" cat-file -p HEAD:main-link)" src/app.c \
	"the symlink entry holds the link's target"
check "git gc (packs, renames, deletes loose objects)" git -C "$R" gc -q
check "git fsck --strict after gc" git -C "$R" fsck --strict --no-progress
clean "$R" "git status is clean after gc"
obj=$(cd "$B/repo/.git/objects/pack" && ls -- *.pack 2>&1 | head -n 1)
is "$(stat -c %a "$B/repo/.git/objects/pack/$obj" 2>&1)" 444 \
	"second mount: git's pack file is read-only (444)"
is "$(cat "$B/repo/.git/HEAD" 2>&1)" "ref: refs/heads/main" \
	"second mount: .git/HEAD"
is "$("$KVFS_BIN" -c "${KV_CONFS[a]}" get ns repo/.git/HEAD 2>&1)" \
	"ref: refs/heads/main" "CLI get: the key repo/.git/HEAD"
is "$(ls -A "$B/repo/.git" | grep -c '\.lock$')" 0 "second mount: no lock file is left"
clean "$B/repo" "second mount: git status is clean there too"
check "second mount: git fsck --strict" git -C "$B/repo" fsck --strict --no-progress

# ---- git clone onto and within the mount ----------------------------------------------
O=$L/origin
git init -q "$O"
for i in 1 2 3; do
	printf 'file %d, commit %d\n' "$i" "$i" >"$O/f$i"
	mkdir -p "$O/dir$i"
	printf 'nested %d\n' "$i" >"$O/dir$i/n"
	git -C "$O" add -A
	git -C "$O" commit -q -m "commit $i"
done
git -C "$O" tag v1
check "git clone of a local repository onto the mount" git clone -q "$O" "$N/clone"
is "$(git -C "$N/clone" rev-parse HEAD 2>&1)" "$(git -C "$O" rev-parse HEAD)" \
	"the clone's HEAD is the origin's"
is "$(git -C "$N/clone" tag 2>&1)" v1 "the clone has the tag"
check "git fsck --strict in the clone" git -C "$N/clone" fsck --strict --no-progress
clean "$N/clone" "git status is clean in the clone"
check "diff -r of the work trees" diff -r --exclude=.git "$O" "$N/clone"
check "git clone within the mount (hard links refused, git copies)" \
	git clone -q "$R" "$N/clone2"
check "git fsck --strict in the clone within the mount" \
	git -C "$N/clone2" fsck --strict --no-progress
clean "$N/clone2" "git status is clean in the clone within the mount"
# What git index-pack does with the pack it receives (clone --no-local,
# or any fetch of 100 objects or more): write it through one descriptor,
# read it back through a second one opened meanwhile, and through the
# first.  On ext4 both read the bytes written.
run py '
fd = os.open(a[0], os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o444)
os.write(fd, b"P" * 541)
r = os.open(a[0], os.O_RDONLY)
print(len(os.pread(r, 1000, 0)), len(os.pread(fd, 1000, 0)))
os.close(fd)
os.close(r)' "$N/tmp_pack"
is "$KV_LAST_OUT" "541 541" \
	"bytes written but not yet closed are read through a second descriptor and the first"
rm -f "$N/tmp_pack"
check "git clone --no-local (pack transfer) onto the mount" \
	git clone -q --no-local "$O" "$N/clone3"
clean "$N/clone3" "git status is clean in the --no-local clone"
check "commit in the clone and push back to the origin" bash -c '
	cd "$1" && echo pushed >f1 && git commit -q -am "from the mount" &&
	git push -q origin HEAD:refs/heads/from-mount' _ "$N/clone"
is "$(git -C "$O" log -1 --format=%s from-mount 2>&1)" "from the mount" \
	"the origin has the commit made on the mount"
check "git pull into the clone on the mount" bash -c '
	cd "$2" && echo upstream >f3 && git commit -q -am upstream &&
	cd "$1" && git pull -q --no-rebase origin main' _ "$N/clone" "$O"
is "$(cat "$B/clone/f3" 2>&1)" upstream "second mount: the pulled change is in the work tree"

# ---- after a remount --------------------------------------------------------------------
kv_remount a
N=${KV_MNTS[a]}/ns
R=$N/repo
clean "$R" "after remount: git status is clean in the repository"
check "after remount: git diff --quiet" git -C "$R" diff --quiet
check "after remount: git fsck --strict" git -C "$R" fsck --strict --no-progress
is "$(git -C "$R" log --format=%s 2>&1 | tr '\n' '|')" "second commit|first commit|" \
	"after remount: the history"
is "$(readlink "$R/main-link")" src/app.c "after remount: the symlink in the work tree"
is "$(stat -c %a "$R/run.sh" 2>&1)" 755 "after remount: the executable's mode"
for c in clone clone2 clone3; do
	clean "$N/$c" "after remount: git status is clean in $c"
done
check "after remount: git fsck --strict in the clone" \
	git -C "$N/clone" fsck --strict --no-progress
check "after remount: a new commit" bash -c '
	cd "$1" && echo again >>hello.txt && git commit -q -am third &&
	git fsck --strict --no-progress' _ "$R"
clean "$R" "after remount: git status is clean after the new commit"

done_testing
