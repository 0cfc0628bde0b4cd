#!/bin/bash
# t_names: the escape scheme (src/name.h) as seen through the mount, the
# flat layout, and the key limits: EINVAL for a malformed escape, EILSEQ
# for a name that is not UTF-8, ENAMETOOLONG for a key over 512 bytes;
# nothing is stored by a failed create.
. "$(dirname "$0")/lib.sh"

kv_mount a "[namespace ns]
[namespace flat]
layout = flat"
N=$KV_MNT/ns
F=$KV_MNT/flat
mkdir "$N/esc" "$N/bad"
E=$N/esc
B=$N/bad

# rep STRING COUNT: STRING repeated COUNT times.
rep() {
	local s=
	for ((i = 0; i < $2; i++)); do s+=$1; done
	printf '%s' "$s"
}

# create NAME DESC: a key made under this name reads back.
create() {
	if run bash -c 'printf "%s" "$2" >"$1/$2" && cat "$1/$2"' _ "$E" "$1" &&
		[ "$KV_LAST_OUT" = "$1" ]; then
		ok "$2"
	else
		not_ok "$2" "name $(show "$1"): $(show "$KV_LAST_OUT")"
	fi
}

# listed NAME DESC: the directory lists NAME exactly.
listed() {
	if ls -U "$E" | grep -qxF -- "$1"; then
		ok "$2"
	else
		not_ok "$2" "$(show "$1") missing from: $(ls -U "$E" | head -n 30 |
			tr '\n' ' ')"
	fi
}

# ---- escapes -------------------------------------------------------------
create 'a^^b' "a^^b (key a^b) can be created"
listed 'a^^b' "and lists as a^^b"
create 'a^Jb' "a^Jb (key with a newline) can be created"
listed 'a^Jb' "and lists as a^Jb"
create '^@nul' "^@ (NUL byte in the key) can be created"
create 'del^?' "^? (DEL) can be created"
create '^[[0m' "^[ (ESC) can be created"
create 'a b, (c) & d.txt' "spaces and punctuation stay verbatim"
create 'héllo wörld 日本 🙂' "non-ASCII UTF-8 stays verbatim"
listed 'héllo wörld 日本 🙂' "and lists verbatim"
create '...' "the name ... is an ordinary name"
create '.hidden' "a leading dot is an ordinary name"
create '^.' "^. is the segment . (key esc/.)"
listed '^.' "and lists as ^."
create '^..' "^.. is the segment .. (key esc/..)"

long_caret=$(rep '^^' 300)
create "$long_caret" "a 600-byte name for a 300-byte key (escapes count once)"
listed "$long_caret" "and lists with all 600 bytes"
max_escaped=$(rep '^J' 508)
create "$max_escaped" "a 1016-byte escaped name (key esc/ + 508 bytes)"
listed "$max_escaped" "and lists with all 1016 bytes"

mkdir "$N/https:" && mkdir "$N/https:/^e"
check "^e: a directory for an empty segment" test -d "$N/https:/^e"
echo page >"$N/https:/^e/example.com"
is "$(cat "$N/https:/^e/example.com" 2>&1)" page \
	"key https://example.com is https:/^e/example.com"
is "$(ls -U "$N/https:")" "^e" "the empty segment lists as ^e"

# A key that is also a directory's name: the directory takes the plain
# name, the value is reachable as NAME^v.
mkdir "$N/both"
echo under >"$N/both/x"
check "create both^v beside directory both" bash -c 'echo value >"$1"' _ \
	"$N/both^v"
is "$(cat "$N/both^v" 2>&1)" value "both^v holds the value of key both"
# Key both sorts before the directory's keys both/...
is "$(ls -U "$N" | grep '^both' | tr '\n' ' ')" "both^v both " \
	"the value and the directory are both listed, once each, in key order"
rm "$N/both/x"
rmdir "$N/both"
is "$(stat -c %F "$N/both" 2>&1)" "regular file" \
	"once the directory is gone, key both is the plain file both"
is "$(cat "$N/both" 2>&1)" value "with its value"

# ---- malformed names: EINVAL; not UTF-8: EILSEQ; too long --------------------
inval="Invalid argument"
fails_with "$inval" "x^ (lone trailing escape): EINVAL" touch "$B/x^"
fails_with "$inval" "a^b (unknown escape): EINVAL" touch "$B/a^b"
fails_with "$inval" "^.x (non-canonical ^.): EINVAL" touch "$B/^.x"
fails_with "$inval" "x^e (^e inside a name): EINVAL" touch "$B/x^e"
fails_with "$inval" "a^sb (^s in the tree layout): EINVAL" touch "$B/a^sb"
fails_with "$inval" "a raw newline in a name (canonical is ^J): EINVAL" \
	touch "$B/a"$'\n'"b"
fails_with "$inval" "mkdir x^: EINVAL" mkdir "$B/x^"
fails_with "$inval" "^.^. (non-canonical, .. is ^..): EINVAL" touch "$B/^.^."
fails_with "$inval" "key . at the namespace top: EINVAL" touch "$N/^."
fails_with "$inval" "key .. at the namespace top: EINVAL" touch "$N/^.."
ilseq="Invalid or incomplete multibyte or wide character"
fails_with "$ilseq" "a name with byte 0xff: EILSEQ" touch "$B/"$'\xff'
fails_with "$ilseq" "a truncated UTF-8 sequence: EILSEQ" touch "$B/a"$'\xc3'
fails_with "$ilseq" "an overlong UTF-8 form: EILSEQ" touch "$B/"$'\xc0\xaf'
fails_with "$ilseq" "a UTF-16 surrogate in UTF-8: EILSEQ" \
	touch "$B/"$'\xed\xa0\x80'
toolong="File name too long"
# esc/ is 4 bytes: 508 more make a key of 512 bytes exactly.
create "$(rep k 508)" "a key of exactly 512 bytes"
fails_with "$toolong" "a key of 513 bytes: ENAMETOOLONG" \
	touch "$E/$(rep k 509)"
fails_with "$toolong" "an escaped name making a 513-byte key: ENAMETOOLONG" \
	touch "$E/$(rep '^J' 509)"
mkdir "$N/$(rep d 300)"
fails_with "$toolong" "a short name deep down making a 551-byte key" \
	touch "$N/$(rep d 300)/$(rep f 250)"
check "the same directory takes a 211-byte name (512-byte key)" \
	touch "$N/$(rep d 300)/$(rep f 211)"
fails_with "$toolong" "rename to a 513-byte key: ENAMETOOLONG" py '
os.rename(a[0], a[1])' "$E/a^^b" "$E/$(rep r 509)"
fails_with "$inval" "rename to a malformed name: EINVAL" py '
os.rename(a[0], a[1])' "$E/a^^b" "$E/bad^"
is "$(ls -A "$B" | wc -l)" 0 "no failed create stored anything"

# ---- flat layout ---------------------------------------------------------
check "flat: create user^s1 (key user/1)" bash -c 'echo u1 >"$1"' _ \
	"$F/user^s1"
echo u2 >"$F/user^s2"
echo caret >"$F/a^^b"
is "$(ls -U "$F" | tr '\n' ' ')" "a^^b user^s1 user^s2 " \
	"flat: every key is one file in the namespace directory"
is "$(cat "$F/user^s1")" u1 "flat: read user^s1"
check "flat: a key of slashes only, ^s^s" touch "$F/^s^s"
fails_with "$inval" "flat: ^e is not a flat name: EINVAL" touch "$F/^e"

# ---- after a remount -----------------------------------------------------
kv_remount a
N=$KV_MNT/ns
E=$N/esc
F=$KV_MNT/flat
is "$(cat "$E/a^Jb" 2>&1)" 'a^Jb' "after remount: a^Jb"
is "$(cat "$E/^@nul" 2>&1)" '^@nul' "after remount: ^@nul"
is "$(cat "$E/$long_caret" 2>&1)" "$long_caret" "after remount: the 600-byte name"
is "$(cat "$F/user^s1" 2>&1)" u1 "after remount: flat user^s1"
is "$(cat "$N/both" 2>&1)" value "after remount: key both"
is "$(ls -A "$E" | wc -l)" 14 "after remount: esc holds its 14 keys"

done_testing
