#!/bin/bash
# t_valgrind: every unit test binary (tests/unit/*.bin) runs clean under
# valgrind: no invalid read or write, no use of uninitialised memory, no
# leak (definite, indirect or possible), and its checks still pass.
# The same as `make valgrind`.  Binaries built with SANITIZE=1 carry
# AddressSanitizer, which cannot run under valgrind: those are skipped.
. "$(dirname "$0")/lib.sh"

work=$(kv_tmpdir) && kv_track_dir "$work"
command -v valgrind >/dev/null || bail "valgrind is not installed"
n=0
for t in "$KVFS_ROOT"/tests/unit/*.bin; do
	[ -x "$t" ] || continue
	n=$((n + 1))
	name=$(basename "$t" .bin)
	if ldd "$t" 2>/dev/null | grep -q 'libasan'; then
		skip "$name under valgrind" "built with AddressSanitizer"
		continue
	fi
	log=$work/$name.valgrind
	# The tests open files relative to the top of the repository.
	(cd "$KVFS_ROOT" && valgrind -q --error-exitcode=101 \
		--leak-check=full \
		--errors-for-leak-kinds=definite,indirect,possible \
		--log-file="$log" "$t" >"$work/$name.out" 2>&1)
	st=$?
	if [ "$st" -eq 0 ] && [ ! -s "$log" ]; then
		ok "$name: clean under valgrind ($(grep -c '^ok' "$work/$name.out") checks)"
	else
		not_ok "$name: clean under valgrind" "exit status $st" \
			"$(head -n 40 "$log")" \
			"$(grep '^not ok' "$work/$name.out" | head -n 10)"
	fi
done
num_cmp "$n" -ge 4 "found the unit test binaries (make unit)"

done_testing
