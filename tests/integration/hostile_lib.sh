# shellcheck shell=bash
# hostile_lib.sh: what the t_hostile_* scripts share, sourced after
# lib.sh.  A set of sentinel keys written before the hostile calls and
# checked after each group of them (values, metadata, expirations,
# other attributes, modes and the listing, hashed into one line), and
# "hx", which runs a group of calls in one Python process and checks
# each call's errno.
#
# sentinels_put DIR: fill DIR (a namespace or a directory in one) with
# keys of every shape: empty, small, 100 KiB, escaped names, a key in a
# subdirectory, metadata, an expiration, a user.* attribute.
# sentinels_sum DIR: one line summing all of that.
# intact DESC: one check that the daemon of mount "a" is alive, its
# mount is listed, and sentinels_sum "$SENTINELS" is what it was when
# sentinels_put ran.
#
# hx DESC CODE [ARG...]: run CODE (Python) with a[] as for py and these:
#   want(ERR, WHAT, FN, *ARGS): FN(*ARGS) must fail with errno ERR
#     ("ENOENT", ...) or succeed when ERR is "OK"; a mismatch is
#     recorded with WHAT.
#   P(*parts): a bytes path, parts joined with "/" (str or bytes).
#   touch(p), mkdir(p), stat(p), rename(a, b), symlink(t, p), put(p, b),
#   get(p), unlink(p), rmdir(p), setx(p, name, value), getx(p, name).
# The check passes when every want() matched; the failures are printed.

# Python prelude of hx (run through py, so OSError is handled there).
_hx_prelude='
import hashlib
bad = []
count = 0
def P(*parts):
    return b"/".join(p if isinstance(p, bytes) else os.fsencode(p)
                     for p in parts)
def want(err, what, fn, *args):
    global count
    count += 1
    try:
        fn(*args)
        got = "OK"
    except OSError as e:
        got = errno.errorcode.get(e.errno, str(e.errno))
        if e.errno == getattr(errno, err, None):
            got = err  # ENOTSUP is EOPNOTSUPP
    if got != err:
        bad.append("%s: want %s, got %s" % (what, err, got))
def touch(p):
    os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
def put(p, data):
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
def get(p):
    with open(p, "rb") as f:
        return f.read()
mkdir, stat, rename, symlink = os.mkdir, os.stat, os.rename, os.symlink
unlink, rmdir = os.unlink, os.rmdir
def setx(p, n, v, flags=0):
    os.setxattr(p, n, v, flags, follow_symlinks=False)
def getx(p, n):
    return os.getxattr(p, n, follow_symlinks=False)
'
_hx_end='
for line in bad:
    print(line)
print("%d calls" % count)
'

hx() {
	local desc=$1 code=$2 out
	shift 2
	out=$(py "$_hx_prelude$code$_hx_end" "$@" 2>&1)
	if [[ $out =~ ^[1-9][0-9]*\ calls$ ]]; then
		ok "$desc ($out)"
	else
		not_ok "$desc" "$(head -n 40 <<<"$out")"
	fi
}

sentinels_put() {
	py '
d = os.fsencode(a[0])
def put(name, data):
    with open(d + b"/" + name, "wb") as f:
        f.write(data)
put(b"empty", b"")
put(b"small", b"sentinel value\n")
put(b"big", bytes(range(256)) * 400)
put(b"a^^b^Jc", b"escaped name")
put(b"h\xc3\xa9llo \xf0\x9f\x99\x82", b"utf-8 name")
os.mkdir(d + b"/sub")
put(b"sub/^.", b"the segment .")
put(b"sub/deep", b"below a directory")
os.setxattr(d + b"/small", "user.kv.metadata", b"{\"k\": [1, 2]}")
os.setxattr(d + b"/small", "user.kv.expiration_ttl", b"86400")
os.setxattr(d + b"/big", "user.note", b"\x00\xffbinary")
os.chmod(d + b"/empty", 0o600)
' "$1"
}

sentinels_sum() {
	py '
import hashlib
h = hashlib.sha256()
root = os.fsencode(a[0])
for top, dirs, files in os.walk(root):
    dirs.sort()
    for name in sorted(files) + [b"/" + x for x in dirs]:
        p = top + b"/" + name.lstrip(b"/")
        st = os.lstat(p)
        h.update(p[len(root):] + b"\0%o\0%d\0" % (st.st_mode, st.st_size))
        for x in sorted(os.listxattr(p, follow_symlinks=False)):
            h.update(x.encode() + b"=" +
                     os.getxattr(p, x, follow_symlinks=False) + b"\0")
        if name[:1] != b"/":
            with open(p, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
print(h.hexdigest())
' "$1" 2>&1
}

intact() {
	local pid=${KV_PIDS[a]:-} sum why=()
	if [ -z "$pid" ] || ! _kv_alive "$pid"; then
		why+=("the daemon is gone")
	fi
	is_mounted "${KV_MNTS[a]}" || why+=("the mount is gone")
	sum=$(sentinels_sum "$SENTINELS")
	[ "$sum" = "$SENTINEL_SUM" ] ||
		why+=("sentinels changed: $SENTINEL_SUM -> $(show "$sum")")
	if [ "${#why[@]}" -eq 0 ]; then
		ok "$1: daemon up, sentinels unchanged"
	else
		not_ok "$1: daemon up, sentinels unchanged" "${why[@]}"
	fi
}

# sentinels_init DIR: put the sentinels in DIR and remember their sum.
sentinels_init() {
	SENTINELS=$1
	mkdir -p "$SENTINELS"
	sentinels_put "$SENTINELS" || bail "write the sentinel keys"
	SENTINEL_SUM=$(sentinels_sum "$SENTINELS")
	[[ $SENTINEL_SUM =~ ^[0-9a-f]{64}$ ]] ||
		bail "sum the sentinel keys: $SENTINEL_SUM"
}
