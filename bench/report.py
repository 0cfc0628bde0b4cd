#!/usr/bin/env python3
"""report.py: the table of bench/run.sh.

Usage: report.py RESULTS IMPORTS NAME=VALUE...

RESULTS holds one line per measurement, "FS<TAB>WORKLOAD<TAB>VALUE";
IMPORTS (may be missing) lines "import NS KEYS SECONDS".  The NAME=VALUE
pairs are run.sh's parameters (files, size, big_mib, procs, par_files,
keys, keys10, tree_dirs, tree_keys, runs, big_runs, fs).  Prints a
markdown table of median [min-max] per workload and file system, kvfs's
ratios of medians to passthrough_ll (plain, and with
default_permissions: passthrough_dp) and rclone, and how the numbers
compare with kvfs's performance targets.  Informational only: the exit status
never depends on a time.
"""
import os
import statistics
import sys
from collections import defaultdict

FS_LABEL = {
    "tmpfs": "tmpfs",
    "passthrough_ll": "passthrough_ll",
    "passthrough_dp": "passthrough_ll d.p.",
    "rclone": "rclone",
    "kvfs-disk": "kvfs (disk)",
    "kvfs-tmpfs": "kvfs (tmpfs)",
}
RATIO_LABEL = {
    "passthrough_ll": "passthrough",
    "passthrough_dp": "passthrough d.p.",
    "rclone": "rclone",
}


def fmt(v):
    if v is None:
        return "n/a"
    a = abs(v)
    if a >= 1000:
        return "{:,.0f}".format(v)
    if a >= 100:
        return "{:.0f}".format(v)
    if a >= 10:
        return "{:.1f}".format(v)
    if a >= 1:
        return "{:.2f}".format(v)
    return "{:.3f}".format(v)


def main():
    results, imports = sys.argv[1], sys.argv[2]
    p = dict(a.split("=", 1) for a in sys.argv[3:])
    fs_list = p["fs"].split()
    data = defaultdict(list)
    with open(results) as f:
        for line in f:
            fs, w, v = line.rstrip("\n").split("\t")
            data[(fs, w)].append(float(v))

    def med(fs, w):
        v = data.get((fs, w))
        return statistics.median(v) if v else None

    def cell(fs, w):
        v = data.get((fs, w))
        if not v:
            return "n/a"
        if len(v) == 1:
            return fmt(v[0])
        return "{} [{}–{}]".format(fmt(statistics.median(v)), fmt(min(v)),
                                   fmt(max(v)))

    # (id, label, unit, ratios?)
    rows = [
        ("create", "create+write+close, {files} files of {size} B",
         "files/s", True),
        ("read_warm", "open+read+close, warm", "files/s", True),
        ("read_cold", "open+read+close, cold (after a remount)¹",
         "files/s", True),
        ("ls_l", "`ls -l` of the {files} files (after a remount)¹",
         "entries/s", True),
        ("unlink", "unlink", "files/s", True),
        ("big_write", "{big_mib} MiB file, 128 KiB writes", "MiB/s", True),
        ("big_read", "{big_mib} MiB file, 128 KiB reads", "MiB/s", True),
        ("par1", "1 process: create+read {par_files} files", "files/s",
         True),
        ("parP", "{procs} processes at once, {par_files} files each",
         "files/s", True),
        ("list_first", "`ls -f` of {keys} keys: first entry", "ms", False),
        ("list_total_keys", "`ls -f` of {keys} keys: total²", "s", False),
        ("list_total_keys10", "`ls -f` of {keys10} keys: total²", "s",
         False),
        ("list_rss", "daemon peak RSS (VmHWM), mount + `ls -f` of {keys} "
         "keys²", "MiB", False),
        ("rss_idle", "daemon RSS just after mounting", "MiB", False),
        ("tree_top", "`ls` of a tree's top, {tree_dirs} dirs × {tree_keys} "
         "keys", "ms", False),
    ]
    ratio_cols = [(k, o) for k in ("kvfs-disk", "kvfs-tmpfs")
                  for o in ("passthrough_ll", "passthrough_dp", "rclone")
                  if k in fs_list and o in fs_list]
    head = ["workload", "unit"] + [FS_LABEL[f] for f in fs_list] + [
        "{} ÷ {}".format(FS_LABEL[k], RATIO_LABEL[o]) for k, o in ratio_cols]
    out = []
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(["---"] * 2 + ["--:"] * (len(head) - 2)) +
               "|")
    for w, label, unit, ratios in rows:
        if not any(data.get((fs, w)) for fs in fs_list):
            continue
        line = [label.format(**p), unit]
        line += [cell(fs, w) for fs in fs_list]
        for k, o in ratio_cols:
            a, b = med(k, w), med(o, w)
            line.append("{:.2f}×".format(a / b) if ratios and a and b
                        else "—")
        out.append("| " + " | ".join(line) + " |")
    print("\n".join(out))
    print()
    print("Each cell: median [min–max] of {runs} runs (² {big_runs} runs, "
          "each on a fresh mount); ratios are kvfs's median over the "
          "other's (above 1: kvfs is faster).".format(**p))
    print("¹ tmpfs and rclone are not remounted (the data of a tmpfs and "
          "of rclone's memory backend do not survive one): their `ls -l` "
          "is warm and they have no cold read. passthrough_ll and kvfs are "
          "remounted before `ls -l` and again before the cold read.")
    if "passthrough_dp" in fs_list:
        print("d.p.: passthrough_ll with `-o default_permissions`, as kvfs "
              "mounts with `-o allow_other`: the kernel checks modes and "
              "owners itself, and asks for the parent's attributes again "
              "after each create and unlink. kvfs runs here without "
              "allow_other, checking permissions itself.")
    if "rclone" in fs_list:
        print("rclone: `rclone mount :memory: --vfs-cache-mode writes`, "
              "its cache on the same tmpfs; it uploads a closed file to "
              "the backend 5 s later (default --vfs-write-back), in the "
              "background of the later workloads.")

    if os.path.exists(imports):
        print()
        with open(imports) as f:
            for line in f:
                _, ns, n, s = line.split()
                print("Import (`kvfs import`, one wrangler JSON file) of "
                      "{} keys into {}: {:.1f} s, {} keys/s.".format(
                          n, ns, float(s), fmt(int(n) / float(s))))

    # kvfs's performance targets, for kvfs on disk (and on tmpfs, for reference).
    print()
    print("kvfs's performance targets (informational; nothing fails on them):")
    print()

    def ratio(k, o, w):
        a, b = med(k, w), med(o, w)
        return a / b if a and b else None

    def check(desc, value, ok, unit=""):
        if value is None:
            print("- {}: not measured".format(desc))
            return
        print("- {}: {}{} — {}".format(desc, fmt(value), unit,
                                       "met" if ok(value) else "NOT met"))

    for k in ("kvfs-disk", "kvfs-tmpfs"):
        if k not in fs_list:
            continue
        kl = FS_LABEL[k]
        for w, name in (("create", "create"), ("read_cold", "cold read"),
                        ("read_warm", "warm read"), ("ls_l", "ls -l"),
                        ("unlink", "unlink")):
            if "passthrough_ll" in fs_list:
                lim = 1.0 if w == "read_warm" else 0.8
                check("{} {} ÷ passthrough_ll ≥ {}".format(kl, name, lim),
                      ratio(k, "passthrough_ll", w), lambda v, l=lim: v >= l,
                      "×")
            if "rclone" in fs_list and w != "read_cold":
                check("{} {} ÷ rclone ≥ 4".format(kl, name),
                      ratio(k, "rclone", w), lambda v: v >= 4, "×")
        if "passthrough_ll" in fs_list:
            for w, name in (("big_write", "20 MiB write"),
                            ("big_read", "20 MiB read")):
                check("{} {} ÷ passthrough_ll ≥ 0.7".format(kl, name),
                      ratio(k, "passthrough_ll", w), lambda v: v >= 0.7,
                      "×")
        a, b = med(k, "parP"), med(k, "par1")
        check("{} {} processes ÷ 1 process (aggregate files/s) > 1".format(
            kl, p["procs"]), a / b if a and b else None, lambda v: v > 1,
            "×")
        check("{} first entry of `ls -f` of {} keys < 100 ms".format(
            kl, p["keys"]), med(k, "list_first"), lambda v: v < 100, " ms")
        check("{} peak RSS through the listing < 64 MiB".format(kl),
              max(data[(k, "list_rss")]) if data.get((k, "list_rss"))
              else None, lambda v: v < 64, " MiB (highest run)")
        a, b = med(k, "list_total_keys"), med(k, "list_total_keys10")
        if a and b:
            per = (a / int(p["keys"])) / (b / int(p["keys10"]))
            check("{} listing time per key, {} keys ÷ {} keys (1: "
                  "linear; below: fixed costs weigh on the smaller one; "
                  "met up to 1.25)".format(kl, p["keys"], p["keys10"]),
                  per, lambda v: v <= 1.25, "×")
        check("{} `ls` of the tree's top < 50 ms".format(kl),
              med(k, "tree_top"), lambda v: v < 50, " ms")


if __name__ == "__main__":
    main()
