#!/bin/bash
# t_soak: 16 processes for KVFS_SOAK_SEC seconds (default 8; `make
# soak` runs 60) write, read, append, rename, list and delete an
# overlapping set of keys, and set metadata and TTLs on them
# (tests/integration/soak.py, which documents the value format and the
# errors allowed).  First through one mount, then through two daemons
# mounting the same database with the processes spread over both.
# Checked: no error but the documented ones, none of them EIO (so
# SQLITE_BUSY never reaches a user as EIO), no torn read, and after a
# remount each key holds only records whose write or append completed,
# each record in one key only, metadata and expiration from calls that
# completed; PRAGMA integrity_check says ok.
. "$(dirname "$0")/lib.sh"

SEC=${KVFS_SOAK_SEC:-8}
PROCS=${KVFS_SOAK_PROCS:-16}
SOAK=$KVFS_ROOT/tests/integration/soak.py

# soak LABEL VERIFY_ARGS MOUNT_DIR...: one run and its checks.
soak() {
	local label=$1 vargs=$2 logs
	shift 2
	logs=$(kv_tmpdir)
	kv_track_dir "$logs"
	run python3 "$SOAK" run "$logs" "$SEC" "$PROCS" "$@"
	local st=$?
	diag "$label: $(echo "$KV_LAST_OUT" | head -n 3 | tr '\n' ' ')"
	is "$st" 0 "$label: $PROCS processes for ${SEC}s met only documented errors"
	like "$KV_LAST_OUT" "*eio: 0*" "$label: no EIO"
	like "$KV_LAST_OUT" "*errors: *" "$label: the processes reported"
	ops=$(echo "$KV_LAST_OUT" | sed -n 's/^ops: //p')
	num_cmp "${ops:-0}" -gt "$((PROCS * 10))" "$label: the processes ran ($ops operations)"
	[ "$st" -eq 0 ] || diag "$KV_LAST_OUT"

	# Each mount flushed and stopped; the checks read a fresh mount.
	local id
	for id in "${SOAK_IDS[@]:1}"; do
		kv_stop "$id" || not_ok "mount $id stops"
	done
	kv_remount "${SOAK_IDS[0]}"
	# shellcheck disable=SC2086
	run python3 "$SOAK" verify "$logs" "${KV_MNTS[${SOAK_IDS[0]}]}/ns" \
		$vargs
	st=$?
	diag "$label: $KV_LAST_OUT"
	is "$st" 0 "$label: every key holds only completed writes and appends"
	like "$KV_LAST_OUT" "*bad=0*" "$label: verify counted nothing bad"
	like "$KV_LAST_OUT" "*torn=0 *" "$label: no torn read"
	num_cmp "$(echo "$KV_LAST_OUT" | sed -n 's/^keys=\([0-9]*\).*/\1/p')" \
		-gt 0 "$label: keys are left to check"
	is "$(sqlite3 -readonly -cmd '.timeout 5000' \
		"${KV_DBS[${SOAK_IDS[0]}]}" 'PRAGMA integrity_check')" ok \
		"$label: integrity_check ok"
}

kv_mount one
SOAK_IDS=(one)
soak "one mount" "" "${KV_MNTS[one]}/ns"

# Two daemons on one database.  A short busy timeout makes lock waits
# that run out likely, to show they never surface as EIO.
kv_mount a "[store]
path = ${KV_DIRS[one]}/shared.db
busy_timeout_ms = 5000
[namespace ns]"
kv_new b "[store]
path = ${KV_DIRS[one]}/shared.db
busy_timeout_ms = 5000
[namespace ns]" "${KV_DIRS[one]}/shared.db"
kv_start b || bail "mount b on a's database"
KV_DBS[a]=${KV_DIRS[one]}/shared.db
SOAK_IDS=(a b)
soak "two mounts" --shared "${KV_MNTS[a]}/ns" "${KV_MNTS[b]}/ns"

# Rewrites through one daemon, reads through the other only: no reader
# ever has a writer on its own mount, so no read may be cut or mixed.
kv_start b || bail "mount b again" # soak() left a mounted, b stopped
run python3 "$SOAK" cross "$SEC" "${KV_MNTS[a]}/ns" "${KV_MNTS[b]}/ns"
st=$?
diag "$KV_LAST_OUT"
is "$st" 0 "rewrites through one mount, reads through another: every read whole"
like "$KV_LAST_OUT" "*reader*whole*" "the readers read"

done_testing
