#!/usr/bin/env python3
# soak.py: the load of t_soak.sh.  N processes for a bounded time
# write, read, append, rename, list and delete an overlapping set of
# keys through one or more mounts of the same database, and set
# metadata and TTLs on them.  Each process logs every operation that
# completed; `verify` then checks the final state against those logs.
#
# Values are self-describing: a value is a sequence of records, each
#   b"REC <id> <len, 8 hex digits> <W|A>\n" + <len> payload bytes
# where <id> is "pPP.SSSSSS" (process, sequence) and the payload is
# random.Random(<id>).randbytes(<len>), so any record, and any prefix
# of one, can be checked byte by byte.  A write (O_TRUNC) stores one W
# record; an append (O_APPEND) adds one A record.  Each read is
#   whole     only complete records, each with exactly its bytes
#   empty     no bytes: a key just created (kvfs stores the empty key
#             at create) or truncated by an O_TRUNC open on that mount
#   inflight  anything else while a writer had the same inode open
#             through the same mount (a local file system also shows a
#             reader the truncation and the bytes written so far)
#   torn      anything else: never allowed
# Every writer logs its inode, mount and open..close times, so verify
# can tell inflight from torn.
#
# Usage:
#   soak.py run LOGDIR SECONDS PROCS MOUNT_NS_DIR...
#   soak.py verify LOGDIR NS_DIR [--shared]
#   soak.py cross SECONDS WRITER_NS_DIR READER_NS_DIR   (see cross())
# run prints one line "errors: OP:ERRNO=N ..." of the errors seen and
# exits 1 if any was not an allowed one (ALLOWED below); verify prints
# a summary line and exits 1 if any check failed, listing the failures
# (each torn read with what it held).

import errno
import json
import os
import random
import sys
import time

# Rewrites (O_TRUNC) and appends (O_APPEND) go to any of the 40 keys, so
# both kinds of writer share inodes, through one mount and across two.
KEYS = (["k%02d" % i for i in range(24)] + ["sub/k%02d" % i for i in range(8)] +
        ["a%02d" % i for i in range(6)] + ["sub/a%02d" % i for i in range(2)])
SIZES = [0, 17, 500, 4000, 70000, 200000]
BIG = 1200000  # past the daemon's 1 MiB buffer: spills to a temp file

# The errors an operation may meet under this load, and why:
#   ENOENT   the key was deleted or renamed away by another process
#            between our lookup and our call (any call naming a key)
#   ENODATA  getxattr of an attribute the key does not have (yet)
ALLOWED = {
    "write": set(),
    "append": set(),
    "read": {"ENOENT"},
    "rename": {"ENOENT"},
    "unlink": {"ENOENT"},
    "list": {"ENOENT"},
    "meta": {"ENOENT"},
    "ttl": {"ENOENT"},
    "getmeta": {"ENOENT", "ENODATA"},
}
# Also, on any operation that names a key:
#   ESTALE   the key was deleted or replaced (by this mount or another)
#            between the kernel's lookup and the call, twice in a row:
#            the kernel looks the name up again once, then gives up
#            (README "Known limits"); with two mounts, also a read of a
#            value over 64 KiB that the other mount replaced between
#            open and the first read
RACE_ALLOWED = {"ESTALE"}


def payload(rid, n):
    return random.Random(rid).randbytes(n)


def record(rid, n, kind):
    return b"REC %s %08x %s\n" % (rid.encode(), n, kind) + payload(rid, n)


def parse(v):
    """(class, records, partial id): class whole/empty/prefix/torn."""
    if v == b"":
        return "empty", [], None
    recs, pos = [], 0
    while pos < len(v):
        nl = v.find(b"\n", pos, pos + 40)
        head = v[pos:nl] if nl >= 0 else v[pos:pos + 40]
        parts = head.split(b" ")
        if nl < 0:
            # A header cut short: only a prefix of "REC ..." is fine.
            ok = b"REC p".startswith(head[:5]) or head.startswith(b"REC p")
            return ("prefix", recs, None) if ok else ("torn", recs, None)
        if (len(parts) != 4 or parts[0] != b"REC" or
                parts[3] not in (b"W", b"A")):
            return "torn", recs, None
        rid = parts[1].decode("ascii", "replace")
        try:
            n = int(parts[2], 16)
        except ValueError:
            return "torn", recs, None
        body = v[nl + 1:nl + 1 + n]
        if body != payload(rid, n)[:len(body)]:
            return "torn", recs, rid
        if len(body) < n:
            return "prefix", recs, rid
        recs.append((rid, parts[3].decode()))
        pos = nl + 1 + n
    return "whole", recs, None


def describe(v, recs):
    """What a read that is not whole holds, for the torn lines."""
    head = v[:40].split(b"\n")[0].decode("ascii", "replace")
    zeros = len(v) - len(v.rstrip(b"\0"))
    return "records=%d,first=%s,trailing_zeros=%d" % (
        len(recs), head.replace(" ", "_") or "-", zeros)


class Worker:
    def __init__(self, p, mounts, logdir, end):
        self.p, self.mounts, self.end = p, mounts, end
        self.rnd = random.Random(p * 7919 + os.getpid())
        self.seq = 0
        self.log = open(os.path.join(logdir, "p%02d.log" % p), "w")
        self.errors = {}

    def new_id(self):
        self.seq += 1
        return "p%02d.%06d" % (self.p, self.seq)

    def path(self):
        m = self.rnd.randrange(len(self.mounts))
        return m, os.path.join(self.mounts[m], self.rnd.choice(KEYS))

    def note(self, *fields):
        self.log.write(" ".join(str(f) for f in fields) + "\n")

    def size(self):
        return BIG if self.rnd.random() < 0.01 else self.rnd.choice(SIZES)

    def op_write(self):
        m, path = self.path()
        rid = self.new_id()
        data = record(rid, self.size(), b"W")
        cut = sorted(self.rnd.randrange(len(data) + 1) for _ in range(2))
        t0 = time.monotonic()
        with open(path, "wb") as f:
            ino = os.fstat(f.fileno()).st_ino
            for a, b in zip([0] + cut, cut + [len(data)]):
                f.write(data[a:b])
                f.flush()
        self.note("W", rid)
        self.note("wrote", m, ino, t0, time.monotonic(),
                  os.path.relpath(path, self.mounts[m]), rid)

    def op_append(self):
        m, path = self.path()
        rid = self.new_id()
        t0 = time.monotonic()
        with open(path, "ab") as f:
            ino = os.fstat(f.fileno()).st_ino
            f.write(record(rid, self.rnd.choice(SIZES[:4]), b"A"))
        self.note("A", rid)
        self.note("wrote", m, ino, t0, time.monotonic(),
                  os.path.relpath(path, self.mounts[m]), rid)

    def op_read(self):
        m, path = self.path()
        t0 = time.monotonic()
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            v = f.read()
            size1 = os.fstat(f.fileno()).st_size
        kind, recs, rid = parse(v)
        self.note("read", kind, m, st.st_ino, t0, time.monotonic(),
                  os.path.relpath(path, self.mounts[m]), len(v), st.st_size, size1,
                  describe(v, recs))

    def op_rename(self):
        m, src = self.path()
        dst = self.rnd.choice(KEYS)
        t0 = time.monotonic()
        os.rename(src, os.path.join(self.mounts[m], dst))
        self.note("renamed", m, os.path.relpath(src, self.mounts[m]), dst,
                  t0, time.monotonic())

    def op_unlink(self):
        os.unlink(self.path()[1])

    def op_list(self):
        m = self.rnd.randrange(len(self.mounts))
        for d in (self.mounts[m], os.path.join(self.mounts[m], "sub")):
            for name in os.listdir(d):
                try:
                    os.stat(os.path.join(d, name))
                except FileNotFoundError:
                    pass  # deleted between the listing and the stat

    def op_meta(self):
        rid = self.new_id()
        meta = json.dumps({"w": self.p, "s": self.seq}).encode()
        os.setxattr(self.path()[1], "user.kv.metadata", meta)
        self.note("M", rid)

    def op_ttl(self):
        ttl = self.rnd.randrange(3600, 7200)
        t0 = int(time.time())
        os.setxattr(self.path()[1], "user.kv.expiration_ttl",
                    str(ttl).encode())
        self.note("T", t0 + ttl, int(time.time()) + ttl + 1)

    def op_getmeta(self):
        v = os.getxattr(self.path()[1], "user.kv.metadata")
        json.loads(v)

    OPS = [("write", 25), ("append", 15), ("read", 25), ("rename", 8),
           ("unlink", 6), ("list", 4), ("meta", 8), ("ttl", 5),
           ("getmeta", 4)]

    def run(self):
        names = [n for n, w in self.OPS for _ in range(w)]
        n = 0
        while time.monotonic() < self.end:
            op = self.rnd.choice(names)
            try:
                getattr(self, "op_" + op)()
            except OSError as e:
                name = errno.errorcode.get(e.errno, str(e.errno))
                key = "%s:%s" % (op, name)
                self.errors[key] = self.errors.get(key, 0) + 1
                if name not in ALLOWED[op] | RACE_ALLOWED:
                    self.note("error", op, name, e.filename or "-")
            except ValueError as e:
                key = "%s:badjson" % op
                self.errors[key] = self.errors.get(key, 0) + 1
                self.note("error", op, "badjson", str(e)[:60])
            n += 1
        self.note("ops", n)
        self.note("errors", json.dumps(self.errors))
        self.log.close()


def run(logdir, seconds, procs, mounts):
    for m in mounts:
        os.makedirs(os.path.join(m, "sub"), exist_ok=True)
    end = time.monotonic() + seconds
    pids = []
    for p in range(procs):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                Worker(p, mounts, logdir, end).run()
            except BaseException as e:
                print("process %d died: %r" % (p, e), file=sys.stderr)
                code = 1
            os._exit(code)
        pids.append(pid)
    died = sum(os.waitpid(pid, 0)[1] != 0 for pid in pids)
    errors, bad, ops = {}, [], 0
    for p in range(procs):
        for line in open(os.path.join(logdir, "p%02d.log" % p)):
            f = line.split(" ", 1)
            if f[0] == "errors":
                for k, v in json.loads(f[1]).items():
                    errors[k] = errors.get(k, 0) + v
            elif f[0] == "error":
                bad.append("p%02d: %s" % (p, line.strip()))
            elif f[0] == "ops":
                ops += int(f[1])
    print("ops: %d" % ops)
    print("errors: " + (" ".join("%s=%d" % kv for kv in sorted(errors.items()))
                        or "none"))
    print("eio: %d" % sum(v for k, v in errors.items() if k.endswith(":EIO")))
    for line in bad[:20]:
        print("unexpected error: " + line)
    return 1 if bad or died else 0


def overlaps(writes, m, ino, t0, t1):
    """A write through mount m to inode ino was open during [t0, t1]."""
    return any(w0 <= t1 and t0 <= w1 for w0, w1 in writes.get((m, ino), ()))


def verify(logdir, ns, allow_empty):
    done, metas, ttl_lo, ttl_hi = {}, set(), None, None
    writes, read_log, bad, torn = {}, [], [], []
    reads = {"whole": 0, "empty": 0, "inflight": 0, "torn": 0}
    for name in sorted(os.listdir(logdir)):
        for line in open(os.path.join(logdir, name)):
            f = line.split()
            if f[0] in ("W", "A"):
                done[f[1]] = f[0]
            elif f[0] == "wrote":
                writes.setdefault((f[1], f[2]), []).append(
                    (float(f[3]), float(f[4])))
            elif f[0] == "M":
                metas.add(f[1])
            elif f[0] == "T":
                lo, hi = int(f[1]), int(f[2])
                ttl_lo = lo if ttl_lo is None else min(ttl_lo, lo)
                ttl_hi = hi if ttl_hi is None else max(ttl_hi, hi)
            elif f[0] == "read":
                read_log.append(f)
    # A read that is not whole is explained only by a writer that had
    # the same inode open through the same mount during the read (it
    # truncated the file and is writing it, as on a local file system).
    for f in read_log:
        kind, m, ino, t0, t1 = f[1], f[2], f[3], float(f[4]), float(f[5])
        if kind in ("prefix", "torn"):
            kind = "inflight" if overlaps(writes, m, ino, t0, t1) else "torn"
        reads[kind] += 1
        if kind == "torn":
            torn.append("read through mount %s of inode %s not whole, with "
                        "no writer of it on that mount: %s" %
                        (m, ino, " ".join(f[6:])))
    seen, keys = {}, 0
    for d in ("", "sub"):
        for name in sorted(os.listdir(os.path.join(ns, d))):
            path = os.path.join(ns, d, name)
            if os.path.isdir(path):
                continue
            keys += 1
            key = os.path.join(d, name)
            kind, recs, _ = parse(open(path, "rb").read())
            # With two mounts a key may stay empty: a create's empty
            # key renamed by the other mount before the creator's
            # close(), which stores under the name it knows.
            if kind != "whole" and not (kind == "empty" and allow_empty):
                bad.append("%s: final value is %s" % (key, kind))
            for i, (rid, k) in enumerate(recs):
                if done.get(rid) != k:
                    bad.append("%s: record %s (%s) is not a completed "
                               "write" % (key, rid, k))
                if k == "W" and i > 0:
                    bad.append("%s: write %s after other records" %
                               (key, rid))
                if rid in seen:
                    bad.append("%s: record %s also in %s" %
                               (key, rid, seen[rid]))
                seen[rid] = key
            try:
                m = json.loads(os.getxattr(path, "user.kv.metadata"))
                if "p%02d.%06d" % (m["w"], m["s"]) not in metas:
                    bad.append("%s: metadata %r never set" % (key, m))
            except OSError as e:
                if e.errno != errno.ENODATA:
                    bad.append("%s: getxattr: %s" % (key, e.strerror))
            try:
                x = int(os.getxattr(path, "user.kv.expiration"))
                if ttl_lo is None or not ttl_lo <= x <= ttl_hi:
                    bad.append("%s: expiration %d not from a set TTL" %
                               (key, x))
            except OSError as e:
                if e.errno != errno.ENODATA:
                    bad.append("%s: getxattr: %s" % (key, e.strerror))
    print("keys=%d records=%d reads: whole=%d empty=%d inflight=%d "
          "torn=%d bad=%d" % (keys, len(seen), reads["whole"], reads["empty"],
                              reads["inflight"], reads["torn"], len(bad)))
    for line in torn[:20]:
        print("torn: " + line)
    for line in bad[:20]:
        print("bad: " + line)
    return 1 if bad or torn else 0


def cross(seconds, wmount, rmount, procs=3):
    """Writers rewrite four keys through wmount (O_TRUNC, 64 KiB writes,
    values of 10 B to 1.2 MB) while readers read them through rmount,
    another daemon on the same database: a reader has no writer on its
    own mount, so every read must be whole or fail with ESTALE (Known
    limits).  Prints the counts;
    exits 1 on any other read."""
    keys = ["x/k%d" % i for i in range(4)]
    os.makedirs(os.path.join(wmount, "x"), exist_ok=True)
    for key in keys:
        with open(os.path.join(wmount, key), "wb") as f:
            f.write(record("first", 17, b"W"))
    end = time.monotonic() + seconds
    pids = []
    for p in range(2 * procs):
        pid = os.fork()
        if pid:
            pids.append(pid)
            continue
        rnd = random.Random(os.getpid())
        counts, bad = {}, []
        while time.monotonic() < end:
            key = rnd.choice(keys)
            try:
                if p < procs:
                    rid = "p%02d.%06d" % (p, sum(counts.values()))
                    data = record(rid, rnd.choice(SIZES[1:] + [BIG]), b"W")
                    with open(os.path.join(wmount, key), "wb") as f:
                        for off in range(0, len(data), 65536):
                            f.write(data[off:off + 65536])
                    kind = "wrote"
                else:
                    with open(os.path.join(rmount, key), "rb") as f:
                        v = f.read()
                    kind, recs, _ = parse(v)
                    if kind != "whole":
                        bad.append("%s: %d bytes, %s" % (key, len(v),
                                                         describe(v, recs)))
            except OSError as e:
                kind = errno.errorcode.get(e.errno, str(e.errno))
                if p < procs or kind != "ESTALE":
                    bad.append("%s: %s" % (key, kind))
            counts[kind] = counts.get(kind, 0) + 1
        print("%s %d %s" % ("writer" if p < procs else "reader", p,
                            json.dumps(counts, sort_keys=True)))
        for line in bad[:5]:
            print("bad: " + line)
        sys.stdout.flush()
        os._exit(1 if bad else 0)
    return 1 if sum(os.waitpid(pid, 0)[1] != 0 for pid in pids) else 0


if __name__ == "__main__":
    if sys.argv[1] == "cross":
        sys.exit(cross(float(sys.argv[2]), sys.argv[3], sys.argv[4]))
    if sys.argv[1] == "run":
        sys.exit(run(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]),
                     sys.argv[5:]))
    sys.exit(verify(sys.argv[2], sys.argv[3], "--shared" in sys.argv[4:]))
