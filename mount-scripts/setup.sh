#!/bin/bash
# setup.sh: install the Debian packages kvfs needs, the ones missing
# only (apt is not run at all when every one is there), with sudo when
# not root.  `make mount` runs it; .ci/run takes its package list from
# it, so that this file is the one place the list is kept.
#
# Usage: mount-scripts/setup.sh [--tests] [--print]
#   --tests  also the packages the test suite (make check) uses
#   --print  only print the package names, one line, install nothing

set -eu

# Build: compiler and make, pkg-config, the libraries' headers (libcurl:
# the Workers KV backend's HTTP client).
build_packages="build-essential pkg-config libfuse3-dev libsqlite3-dev
libinih-dev libjansson-dev libcurl4-openssl-dev"
# Run: fusermount3 (mounting and unmounting as a user) and libfuse3.
run_packages="fuse3"
# Tests: the integration scripts use python3 (open flags, errnos),
# rsync, sqlite3 (a database of another program) and attr (xattrs); the
# tool tests (t_tools_*) also run git, vim and perl.  tar, coreutils,
# findutils, diffutils, grep, sed and util-linux (setpriv) are part of
# every Debian system.
# The fuzz harnesses (t_fuzz) need clang and its libFuzzer runtime.
test_packages="python3 rsync sqlite3 attr git vim perl clang
libclang-rt-14-dev"

with_tests=no
print_only=no
for arg in "$@"; do
	case $arg in
	--tests) with_tests=yes ;;
	--print) print_only=yes ;;
	*)
		echo "usage: $0 [--tests] [--print]" >&2
		exit 2
		;;
	esac
done

packages="$build_packages $run_packages"
[ "$with_tests" = yes ] && packages="$packages $test_packages"
# shellcheck disable=SC2086
set -- $packages

if [ "$print_only" = yes ]; then
	echo "$*"
	exit 0
fi

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = \
		installed ]
}

missing=()
for p in "$@"; do
	installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -eq 0 ]; then
		as_root=()
	elif command -v sudo >/dev/null; then
		as_root=(sudo)
	else
		echo "setup.sh: missing packages: ${missing[*]}" >&2
		echo "setup.sh: run as root, or install sudo, or:" \
			"apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "setup.sh: installing ${missing[*]}"
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y "${missing[@]}"
fi

# Mounting needs the FUSE device; a user also needs to be allowed to
# open it (fusermount3 does the rest).
if [ ! -e /dev/fuse ]; then
	echo "setup.sh: warning: /dev/fuse does not exist (load the fuse" \
		"module: modprobe fuse)" >&2
elif [ "$(id -u)" -ne 0 ] && { ! [ -r /dev/fuse ] || ! [ -w /dev/fuse ]; }; then
	echo "setup.sh: warning: $(id -un) cannot open /dev/fuse" >&2
fi
exit 0
