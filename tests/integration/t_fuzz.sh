#!/bin/bash
# t_fuzz: a short run of each libFuzzer harness (tests/fuzz) over the
# checked-in corpus: the name codec (a name that decodes is canonical,
# every valid key survives key -> path -> key), the configuration
# parser (any text loads or fails with a message naming the file) and
# the attribute parsers (an accepted expiration is in range and reads
# back to itself; compact metadata is JSON and compact again).
# Longer runs: make fuzz FUZZ_SECONDS=N.
. "$(dirname "$0")/lib.sh"

SECONDS_EACH=${KVFS_FUZZ_SECONDS:-10}
check "build the fuzz harnesses with clang" \
	make -C "$KVFS_ROOT" --no-print-directory fuzzers
work=$(kv_tmpdir) && kv_track_dir "$work"
for f in name config attr; do
	mkdir "$work/$f"
	run "$KVFS_ROOT/build/fuzz/fuzz_$f" -max_total_time="$SECONDS_EACH" \
		-artifact_prefix="$work/crash-$f-" "$work/$f" \
		"$KVFS_ROOT/tests/fuzz/corpus/$f"
	st=$?
	if [ "$st" -eq 0 ] && [[ $KV_LAST_OUT == *"Done "*" runs in "* ]]; then
		ok "fuzz_$f: ${SECONDS_EACH} s without a crash ($(grep -o 'Done [0-9]* runs' <<<"$KV_LAST_OUT"))"
	else
		not_ok "fuzz_$f: ${SECONDS_EACH} s without a crash" \
			"exit status $st" "$(tail -n 30 <<<"$KV_LAST_OUT")"
	fi
done

done_testing
