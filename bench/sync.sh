#!/bin/bash
# bench/sync.sh: what `[store] sync = full` costs.  Mounts kvfs twice
# in one run, sync = normal and sync = full, each with its database in
# a fresh folder below $SYNC_DIR (default /var/tmp: a real disk, where
# fsync costs what it costs), and creates SYNC_FILES (default 2000)
# files of 1 KiB through each, SYNC_RUNS times (default 3) alternating;
# prints files per second (median of the runs) for each setting and
# the ratio.  Nothing is asserted; the exit status says only whether
# it ran.  Everything mounted is below its own mktemp -d folders, and
# a trap unmounts it and stops the daemons it started, by PID.
set -eu -o pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
kvfs_bin=${KVFS_BIN:-$root/kvfs}
files=${SYNC_FILES:-2000}
runs=${SYNC_RUNS:-3}
base=$(mktemp -d "${SYNC_DIR:-/var/tmp}/kvfs-sync.XXXXXX")
declare -A pids=()

cleanup() {
	local m
	for m in normal full; do
		if awk -v p="$base/$m/mnt" '$2 == p { f = 1 } END { exit !f }' \
			/proc/mounts; then
			fusermount3 -u "$base/$m/mnt" || fusermount3 -uz "$base/$m/mnt"
		fi
		[ -n "${pids[$m]:-}" ] && wait "${pids[$m]}" 2>/dev/null
	done
	rm -rf "$base"
}
trap cleanup EXIT

for m in normal full; do
	mkdir -p "$base/$m/mnt"
	printf '[store]\npath = %s\nsync = %s\n[namespace ns]\n' \
		"$base/$m/kvfs.db" "$m" >"$base/$m/kvfs.ini"
	"$kvfs_bin" -f -c "$base/$m/kvfs.ini" "$base/$m/mnt" \
		2>"$base/$m/log" &
	pids[$m]=$!
	for _ in $(seq 100); do
		awk -v p="$base/$m/mnt" '$2 == p { f = 1 } END { exit !f }' \
			/proc/mounts && break
		sleep 0.1
	done
done

rate() {
	python3 - "$1" "$files" <<'PY'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
body = b"x" * 1024
t = time.monotonic()
for i in range(n):
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write(body)
print("%.0f" % (n / (time.monotonic() - t)))
PY
}

declare -A got=()
for r in $(seq "$runs"); do
	for m in normal full; do
		got[$m]="${got[$m]:-} $(rate "$base/$m/mnt/ns/run$r")"
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 }
	END { print v[int((NR + 1) / 2)] }'; }
n=$(echo "${got[normal]}" | median)
f=$(echo "${got[full]}" | median)
echo "create+write+close of $files x 1 KiB files, median of $runs runs"
echo "database folder: $(df --output=source,fstype "$base" | tail -n 1)"
printf '| sync | files/s | runs |\n|---|--:|---|\n'
printf '| normal | %s | %s |\n| full | %s | %s |\n' "$n" "${got[normal]# }" \
	"$f" "${got[full]# }"
awk -v n="$n" -v f="$f" 'BEGIN { printf "full / normal: %.2f\n", f / n }'
