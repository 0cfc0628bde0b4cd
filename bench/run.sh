#!/bin/bash
# bench/run.sh: kvfs's benchmark.  Runs the same workloads, in one
# run, on
#   tmpfs           the kernel alone (a tmpfs this script mounts, or a
#                   folder of /dev/shm where mounting is not allowed)
#   passthrough_ll  libfuse's example, built here from libfuse3-dev's
#                   examples, with -o xattr over a folder of that tmpfs:
#                   the FUSE ceiling of this machine
#   passthrough_dp  the same with -o default_permissions, as kvfs mounts
#                   with -o allow_other: the kernel checks modes and
#                   owners, which costs a GETATTR of the parent after
#                   each create and unlink (kvfs here mounts without
#                   allow_other, and checks permissions itself)
#   rclone          `rclone mount :memory: --vfs-cache-mode writes`
#                   (its cache folder on the same tmpfs)
#   kvfs-disk       kvfs with default settings, its database on local
#                   disk (below $BENCH_DISK_DIR, default /var/tmp)
#   kvfs-tmpfs      the same with its database on the tmpfs
# and prints one markdown table: the median [min-max] of each workload
# per file system, and kvfs's ratios to passthrough_ll, passthrough_dp
# and rclone.
#
# Workloads (each run on a fresh directory):
#   create+write+close of N files of SIZE bytes; open+read+close of
#   each, warm (after one untimed read pass) and cold (after a remount,
#   where the file system's data survives one: passthrough_ll and kvfs);
#   `ls -l` of the directory (after a remount where possible); unlink
#   of each; one BIG_MIB MiB file written in 128 KiB writes then read
#   in 128 KiB reads; 1 process and then P processes at once, each
#   creating M files in its own directory and reading them back.
# kvfs only: namespaces loaded through `kvfs import` of generated
#   wrangler JSON files: K keys (and K/10, to see whether listing time
#   is linear) with the time to the first entry of `ls -f` (other than
#   . and ..), the total time of `ls -f` and the daemon's peak RSS
#   (VmHWM of a daemon mounted just before); and a tree of D
#   directories of T keys each with the time to `ls` its top.  Each of
#   these starts on a fresh mount.
#
# Usage: bench/run.sh        (make bench builds kvfs first)
# Environment (counts; BENCH_QUICK=1 divides the defaults by 20):
#   BENCH_FILES=10000  BENCH_FILE_SIZE=1024  BENCH_BIG_MIB=20
#   BENCH_PROCS=8  BENCH_PAR_FILES=1000  BENCH_KEYS=1000000
#   BENCH_TREE_DIRS=10  BENCH_TREE_KEYS=100000
#   BENCH_RUNS=5       runs of each workload (the median is shown)
#   BENCH_BIG_RUNS=3   runs of the full listings of K and K/10 keys
#   BENCH_FS="tmpfs passthrough_ll passthrough_dp rclone kvfs-disk kvfs-tmpfs"
#   BENCH_DISK_DIR=/var/tmp  where kvfs-disk's database goes
#   BENCH_OUT=FILE     also write the report (table and machine) there
#   KVFS_BIN=./kvfs
#
# Run as root it mounts a tmpfs and installs rclone with apt-get when
# it is missing; as another user it uses /dev/shm and skips rclone if
# it is not installed.  Everything it mounts is below its own mktemp -d
# directories; on exit (also on a signal or a failure) a trap unmounts
# all of it and stops the daemons it started, by PID.  Nothing here
# asserts a time: the exit status says only whether the workloads ran.

set -eu -o pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
kvfs_bin=${KVFS_BIN:-$root/kvfs}

if [ "${BENCH_QUICK:-0}" = 1 ]; then div=20; else div=1; fi
files=${BENCH_FILES:-$((10000 / div))}
size=${BENCH_FILE_SIZE:-1024}
big_mib=${BENCH_BIG_MIB:-$((20 / div > 0 ? 20 / div : 1))}
chunk=131072
procs=${BENCH_PROCS:-8}
par_files=${BENCH_PAR_FILES:-$((1000 / div))}
keys=${BENCH_KEYS:-$((1000000 / div))}
keys10=$((keys / 10))
tree_dirs=${BENCH_TREE_DIRS:-10}
tree_keys=${BENCH_TREE_KEYS:-$((100000 / div))}
runs=${BENCH_RUNS:-5}
big_runs=${BENCH_BIG_RUNS:-3}
fs_list=${BENCH_FS:-"tmpfs passthrough_ll passthrough_dp rclone kvfs-disk kvfs-tmpfs"}
disk_parent=${BENCH_DISK_DIR:-/var/tmp}

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

for n in files size big_mib procs par_files keys tree_dirs tree_keys \
	runs big_runs; do
	if ! [[ ${!n} =~ ^[0-9]+$ ]] || [ "${!n}" -eq 0 ]; then
		die "$n must be a whole number above 0, not '${!n}'"
	fi
done
for fs in $fs_list; do
	case $fs in
	tmpfs | passthrough_ll | passthrough_dp | rclone | kvfs-disk | kvfs-tmpfs) ;;
	*) die "BENCH_FS: unknown file system '$fs'" ;;
	esac
done
wants() { [[ " $fs_list " == *" $1 "* ]]; }
wants_kvfs() { wants kvfs-disk || wants kvfs-tmpfs; }

for t in cc pkg-config python3 fusermount3 stdbuf ls awk; do
	command -v "$t" >/dev/null || die "$t is missing (make check's" \
		"set-up, mount-scripts/setup.sh --tests, installs it)"
done
if wants_kvfs && [ ! -x "$kvfs_bin" ]; then
	die "$kvfs_bin is not built (make kvfs)"
fi
[ -e /dev/fuse ] || die "/dev/fuse is missing: nothing can be mounted"
if [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
	die "$(id -un) cannot open /dev/fuse: nothing can be mounted"
fi

# rclone: Debian's package, installed here when missing and root.
if wants rclone && ! command -v rclone >/dev/null; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		say "installing rclone (apt-get)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y --no-install-recommends rclone >&2 ||
			{ apt-get update >&2 &&
				apt-get install -y --no-install-recommends \
					rclone >&2; } ||
			die "apt-get could not install rclone"
	else
		say "rclone is missing and this is not root: its column is" \
			"skipped (apt-get install rclone adds it)"
		fs_list=${fs_list//rclone/}
	fi
fi

# ---- temporary directories, mounts, cleanup -----------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvfs-bench.XXXXXX")
disk=
shm=         # the tmpfs: our own mount below $tmp, or a /dev/shm folder
shm_mounted=no
declare -A pid_of=() # FUSE mountpoint -> daemon PID
declare -A kind_of=() # FUSE mountpoint -> what to start there

is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts
}

alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}

# fuse_stop MNT: unmount MNT and stop its daemon (by its PID), waiting
# for it; forcefully (SIGKILL, lazy unmount) if it does not go.
fuse_stop() {
	local m=$1 pid=${pid_of[$1]:-} i
	if is_mounted "$m"; then
		fusermount3 -u "$m" 2>/dev/null || true
	fi
	if [ -n "$pid" ]; then
		for ((i = 0; i < 300; i++)); do
			alive "$pid" || break
			sleep 0.05
		done
		if alive "$pid"; then
			say "daemon $pid of $m did not stop: SIGTERM"
			kill -TERM "$pid" 2>/dev/null || true
			for ((i = 0; i < 100; i++)); do
				alive "$pid" || break
				sleep 0.05
			done
			alive "$pid" && kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null || true
	fi
	if is_mounted "$m"; then
		fusermount3 -uz "$m" 2>/dev/null || true
	fi
	unset "pid_of[$m]"
}

cleanup() {
	local rc=$? m left
	trap - EXIT INT TERM HUP
	for m in "${!pid_of[@]}"; do
		fuse_stop "$m"
	done
	if [ "$shm_mounted" = yes ]; then
		umount "$shm" 2>/dev/null || umount -l "$shm" 2>/dev/null ||
			say "could not unmount $shm"
	fi
	# Remove the directories only when nothing is mounted below them.
	for m in "$tmp" "$disk"; do
		if [ -z "$m" ] || [ ! -d "$m" ]; then continue; fi
		left=$(awk -v p="$m/" 'index($2, p) == 1' /proc/mounts)
		if [ -n "$left" ]; then
			say "left $m in place: still mounted below it: $left"
		else
			rm -rf --one-file-system -- "$m"
		fi
	done
	if [ -n "$shm" ] && [ "$shm_mounted" = no ] && [ -d "$shm" ]; then
		rm -rf --one-file-system -- "$shm"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# fuse_start MNT: start the daemon of kind_of[MNT] on MNT in the
# background and wait (at most 20 s) until /proc/mounts lists MNT.
fuse_start() {
	local m=$1 kind=${kind_of[$1]} log pid i
	log=$tmp/log/${m##*/}.log
	mkdir -p "$tmp/log" "$m"
	case $kind in
	passthrough_ll)
		"$tmp/bin/passthrough_ll" -f -o xattr -o "source=$shm/pt-src" \
			"$m" >>"$log" 2>&1 &
		;;
	passthrough_dp)
		"$tmp/bin/passthrough_ll" -f -o xattr -o "source=$shm/pt-src" \
			-o default_permissions "$m" >>"$log" 2>&1 &
		;;
	rclone)
		rclone mount :memory: "$m" --vfs-cache-mode writes \
			--cache-dir "$shm/rclone-cache" \
			--config "$tmp/rclone.conf" >>"$log" 2>&1 &
		;;
	kvfs:*)
		"$kvfs_bin" -f -c "${kind#kvfs:}" "$m" >>"$log" 2>&1 &
		;;
	esac
	pid=$!
	pid_of[$m]=$pid
	for ((i = 0; i < 400; i++)); do
		is_mounted "$m" && return 0
		alive "$pid" || break
		sleep 0.05
	done
	say "$kind did not mount $m; its log:"
	tail -n 20 "$log" >&2 || true
	exit 1
}

remount() {
	fuse_stop "$1"
	fuse_start "$1"
}

# ---- the machine, the tools ---------------------------------------------

mkdir -p "$tmp/bin"
cc -O2 -o "$tmp/bin/fsbench" "$root/bench/fsbench.c" ||
	die "could not build bench/fsbench.c"
fsb() { "$tmp/bin/fsbench" "$@"; }

if [ "$(id -u)" -eq 0 ] && mkdir -p "$tmp/tmpfs" &&
	mount -t tmpfs -o mode=0755 kvfs-bench "$tmp/tmpfs" 2>/dev/null; then
	shm=$tmp/tmpfs
	shm_mounted=yes
else
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] ||
		die "cannot mount a tmpfs and /dev/shm is not one"
	shm=$(mktemp -d /dev/shm/kvfs-bench.XXXXXX)
	say "using $shm (mounting a tmpfs needs root)"
fi

if wants passthrough_ll || wants passthrough_dp; then
	ex=/usr/share/doc/libfuse3-dev/examples
	[ -f "$ex/passthrough_ll.c" ] ||
		die "$ex/passthrough_ll.c is missing (package libfuse3-dev)"
	mkdir -p "$tmp/pt-build"
	cp "$ex/passthrough_ll.c" "$tmp/pt-build/"
	[ -f "$ex/passthrough_helpers.h" ] &&
		cp "$ex/passthrough_helpers.h" "$tmp/pt-build/"
	# shellcheck disable=SC2046
	cc -O2 -o "$tmp/bin/passthrough_ll" "$tmp/pt-build/passthrough_ll.c" \
		$(pkg-config --cflags --libs fuse3) 2>"$tmp/pt-build/cc.log" ||
		{
			cat "$tmp/pt-build/cc.log" >&2
			die "could not build passthrough_ll"
		}
fi
: >"$tmp/rclone.conf"

if wants kvfs-disk; then
	mkdir -p "$disk_parent"
	disk=$(mktemp -d "$disk_parent/kvfs-bench-disk.XXXXXX")
fi

results=$tmp/results.tsv
: >"$results"
# rec FS WORKLOAD VALUE
rec() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$results"; }
# rate COUNT SECONDS: COUNT per second
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.6g", n / s }'; }
field() { awk -v i="$1" '{ print $i }' <<<"$2"; }

loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
start_time=$(date +%s)
machine() {
	local dev
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); kvfs" \
		"$(git -C "$root" rev-parse --short HEAD 2>/dev/null ||
			echo '?')"
	echo "- cpu: $(nproc) cores, $(awk -F': ' '/^model name/ {
		print $2; exit }' /proc/cpuinfo)"
	echo "- memory: $(awk '/^MemTotal/ { printf "%.1f GiB",
		$2 / 1048576 }' /proc/meminfo)"
	echo "- kernel: $(uname -sr)"
	if [ -n "$disk" ]; then
		dev=$(df --output=source "$disk" | tail -n 1)
		echo "- disk (kvfs-disk's database): $dev," \
			"$(df --output=fstype "$disk" | tail -n 1)," \
			"$(df -h --output=size "$disk" | tail -n 1 | tr -d ' ')," \
			"rotational=$(cat \
			"/sys/block/$(basename "$dev")/queue/rotational" \
			2>/dev/null || echo '?')"
	fi
	echo "- tmpfs: $shm ($([ "$shm_mounted" = yes ] &&
		echo 'mounted by the script' || echo '/dev/shm'))"
	echo "- libfuse $(pkg-config --modversion fuse3), SQLite" \
		"$(pkg-config --modversion sqlite3 2>/dev/null || echo '?')," \
		"$(rclone version 2>/dev/null | head -n 1 || echo 'no rclone')"
	echo "- load average (1, 5, 15 min): at start $loadavg_start," \
		"at end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- wall time of the benchmark: $(($(date +%s) - start_time)) s"
}

# ---- the common workloads -----------------------------------------------

# common FS MNT WORK REMOUNTABLE: every common workload, $runs times.
# WORK is the directory to work in; MNT the FUSE mount to remount (or
# empty).
common() {
	local fs=$1 m=$2 work=$3 r d t out p i
	mkdir -p "$work"
	for ((r = 1; r <= runs; r++)); do
		say "$fs: run $r of $runs"
		d=$work/r$r
		mkdir "$d"
		t=$(fsb create "$d" "$files" "$size")
		rec "$fs" create "$(rate "$files" "$t")"
		fsb read "$d" "$files" "$size" >/dev/null
		t=$(fsb read "$d" "$files" "$size")
		rec "$fs" read_warm "$(rate "$files" "$t")"
		[ -n "$m" ] && remount "$m"
		out=$(fsb cmd -- ls -l "$d")
		[ "$(field 3 "$out")" -eq $((files + 1)) ] ||
			die "$fs: ls -l printed $(field 3 "$out") lines," \
				"not $((files + 1))"
		rec "$fs" ls_l "$(rate "$files" "$(field 2 "$out")")"
		if [ -n "$m" ]; then
			remount "$m"
			t=$(fsb read "$d" "$files" "$size")
			rec "$fs" read_cold "$(rate "$files" "$t")"
		fi
		t=$(fsb unlink "$d" "$files")
		rec "$fs" unlink "$(rate "$files" "$t")"
		rmdir "$d"

		t=$(fsb write1 "$work/big$r" $((big_mib << 20)) "$chunk")
		rec "$fs" big_write "$(rate "$big_mib" "$t")"
		t=$(fsb read1 "$work/big$r" $((big_mib << 20)) "$chunk")
		rec "$fs" big_read "$(rate "$big_mib" "$t")"
		rm -f "$work/big$r"

		p=$work/par$r
		mkdir "$p"
		for ((i = 0; i < procs; i++)); do mkdir "$p/p$i"; done
		t=$(fsb par "$p" 1 "$par_files" "$size")
		rec "$fs" par1 "$(rate "$par_files" "$t")"
		fsb unlink "$p/p0" "$par_files" >/dev/null
		t=$(fsb par "$p" "$procs" "$par_files" "$size")
		rec "$fs" parP "$(rate $((procs * par_files)) "$t")"
		rm -rf "$p"
	done
}

# ---- kvfs only: the big namespaces ---------------------------------------

# gen_json FILE flat|tree COUNT [DIRS]: a wrangler bulk-put JSON file.
gen_json() {
	python3 - "$@" <<'EOF'
import sys
path, kind, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
dirs = int(sys.argv[4]) if len(sys.argv) > 4 else 1
with open(path, "w") as f:
    f.write("[\n")
    sep = ""
    for d in range(dirs):
        for i in range(count):
            key = ("key%07d" % i) if kind == "flat" else ("d%d/k%06d" % (d, i))
            f.write('%s{"key":"%s","value":"value %d"}' % (sep, key, i))
            sep = ",\n"
    f.write("\n]\n")
EOF
}

big_conf() { # big_conf DIR: the configuration of the big namespaces
	printf '[store]\npath = %s/kvfs.db\n\n' "$1"
	printf '[namespace keys]\n[namespace keys10]\n[namespace tree]\n'
}

big_data_made=no
make_big_data() {
	local d=$1 ns kind count dirs out
	mkdir -p "$d"
	big_conf "$d" >"$d/kvfs.ini"
	for ns in keys keys10 tree; do
		case $ns in
		keys) kind=flat count=$keys dirs=1 ;;
		keys10) kind=flat count=$keys10 dirs=1 ;;
		tree) kind=tree count=$tree_keys dirs=$tree_dirs ;;
		esac
		say "kvfs: generating and importing $((count * dirs)) keys" \
			"into namespace $ns"
		gen_json "$tmp/$ns.json" "$kind" "$count" "$dirs"
		out=$(fsb cmd -- "$kvfs_bin" -c "$d/kvfs.ini" import "$ns" \
			"$tmp/$ns.json") || die "kvfs import $ns failed"
		rm -f "$tmp/$ns.json"
		echo "import $ns $((count * dirs)) $(field 2 "$out")" \
			>>"$tmp/imports"
	done
	big_data_made=yes
}

vm_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.2f", k / 1024 }'; }

# big FS DBDIR MNT: the listing workloads on the database in DBDIR.
big() {
	local fs=$1 d=$2 m=$3 r out lines
	kind_of[$m]=kvfs:$d/kvfs.ini
	fuse_start "$m"
	rec "$fs" rss_idle "$(mib "$(vm_kib "${pid_of[$m]}" VmRSS)")"
	for ((r = 1; r <= runs; r++)); do
		say "$fs: first entry of ls -f of $keys keys, run $r of $runs"
		remount "$m"
		out=$(fsb cmd --first-only -- stdbuf -oL ls -f "$m/keys")
		rec "$fs" list_first "$(awk -v s="$(field 1 "$out")" \
			'BEGIN { print s * 1000 }')"
	done
	for ns in keys keys10; do
		[ "$ns" = keys ] && lines=$((keys + 2)) || lines=$((keys10 + 2))
		for ((r = 1; r <= big_runs; r++)); do
			say "$fs: ls -f of $((lines - 2)) keys, run $r of" \
				"$big_runs"
			remount "$m"
			out=$(fsb cmd -- ls -f "$m/$ns")
			[ "$(field 3 "$out")" -eq "$lines" ] ||
				die "$fs: ls -f $ns printed $(field 3 "$out")" \
					"lines, not $lines"
			rec "$fs" "list_total_$ns" "$(field 2 "$out")"
			if [ "$ns" = keys ]; then
				rec "$fs" list_rss "$(mib "$(vm_kib \
					"${pid_of[$m]}" VmHWM)")"
			fi
		done
	done
	for ((r = 1; r <= runs; r++)); do
		say "$fs: ls of the top of the tree, run $r of $runs"
		remount "$m"
		out=$(fsb cmd -- ls "$m/tree")
		[ "$(field 3 "$out")" -eq "$tree_dirs" ] ||
			die "$fs: ls tree printed $(field 3 "$out") lines"
		rec "$fs" tree_top "$(awk -v s="$(field 2 "$out")" \
			'BEGIN { print s * 1000 }')"
	done
	fuse_stop "$m"
}

# ---- each file system ---------------------------------------------------

for fs in $fs_list; do
	say "== $fs"
	case $fs in
	tmpfs)
		common tmpfs "" "$shm/work"
		;;
	passthrough_ll | passthrough_dp)
		rm -rf "$shm/pt-src"
		mkdir -p "$shm/pt-src"
		m=$tmp/mnt-$fs
		kind_of[$m]=$fs
		fuse_start "$m"
		common "$fs" "$m" "$m/work"
		fuse_stop "$m"
		;;
	rclone)
		m=$tmp/mnt-rclone
		kind_of[$m]=rclone
		fuse_start "$m"
		common rclone "" "$m/work"
		fuse_stop "$m"
		;;
	kvfs-disk | kvfs-tmpfs)
		if [ "$fs" = kvfs-disk ]; then
			base=$disk
		else
			base=$shm/kvfs
		fi
		mkdir -p "$base/small"
		printf '[store]\npath = %s/kvfs.db\n\n[namespace bench]\n' \
			"$base/small" >"$base/small/kvfs.ini"
		m=$tmp/mnt-$fs
		kind_of[$m]=kvfs:$base/small/kvfs.ini
		fuse_start "$m"
		common "$fs" "$m" "$m/bench/work"
		fuse_stop "$m"

		# The big namespaces are imported once; the other medium
		# gets a copy of that database.
		if [ "$big_data_made" = no ]; then
			make_big_data "$base/big"
			big_src=$base/big
		else
			mkdir -p "$base/big"
			cp -r "$big_src"/kvfs.db* "$base/big/"
			big_conf "$base/big" >"$base/big/kvfs.ini"
		fi
		big "$fs" "$base/big" "$tmp/mnt-$fs-big"
		;;
	esac
done

# ---- the report ---------------------------------------------------------

report=$tmp/report.md
{
	python3 "$root/bench/report.py" "$results" "${tmp}/imports" \
		files="$files" size="$size" big_mib="$big_mib" procs="$procs" \
		par_files="$par_files" keys="$keys" keys10="$keys10" \
		tree_dirs="$tree_dirs" tree_keys="$tree_keys" runs="$runs" \
		big_runs="$big_runs" fs="$fs_list"
	echo
	echo "Machine:"
	echo
	machine
} >"$report"
cat "$report"
if [ -n "${BENCH_OUT:-}" ]; then
	cp "$report" "$BENCH_OUT"
	cp "$results" "$BENCH_OUT.tsv"
fi
