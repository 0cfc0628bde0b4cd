#!/bin/bash
# setup.sh: install the Debian packages kvfs needs, the ones missing
# only (apt is not run at all when every one is there), with sudo when
# not root.  `make mount` runs it; .ci/run takes its package list from
# it, so that this file is the one place the list is kept.
#
# Usage: mount-scripts/setup.sh [--tests] [--print]
#   --tests  also the packages the test suite (make check) uses, and
#            Miniflare (tests/remote) from the npm registry
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
# The fuzz harnesses (t_fuzz) need clang and its libFuzzer runtime;
# t_valgrind (and make valgrind) runs the unit tests under valgrind; the
# remote tests (t_remote*) ask Miniflare and the fault proxy with curl.
test_packages="python3 rsync sqlite3 attr git vim perl clang
libclang-rt-14-dev valgrind curl"
# The tests of remote namespaces (t_remote*) run Miniflare, an npm
# package, under Node.js.  Debian's nodejs and npm are added only when
# there is no node at all: a machine's own Node.js (say NodeSource's)
# is kept.  Miniflare 4.20260426.0 needs Node.js 20.18.1 or later (its
# HTTP client, undici, says so); Debian 12's nodejs is 18.20, too old,
# Debian 13's is 20.19.  With an older node the install below warns and
# the remote tests fail, saying why.
node_packages="nodejs npm"
miniflare_node_min=20.18.1

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
if [ "$with_tests" = yes ] && ! command -v node >/dev/null; then
	packages="$packages $node_packages"
fi
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

# Miniflare for the remote tests: tests/remote/package-lock.json pins
# it; `npm ci` installs exactly that when node_modules is missing or
# holds another version.  A failure here is a warning, not the end of
# setup: the other tests can still run, and the remote tests then fail
# loudly (they never skip for a missing Miniflare).
install_miniflare() {
	local dir want have
	dir=$(cd "$(dirname "$0")/../tests/remote" && pwd)
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		echo "setup.sh: warning: node or npm is missing: the remote" \
			"tests will fail" >&2
		return 0
	fi
	if ! node -e '
		const [a, b] = [process.versions.node, process.argv[1]]
			.map((v) => v.split(".").map(Number));
		process.exit((a[0] - b[0] || a[1] - b[1] || a[2] - b[2]) >= 0 ? 0 : 1);
	' "$miniflare_node_min"; then
		echo "setup.sh: warning: node $(node --version) is older than" \
			"$miniflare_node_min, which Miniflare needs: the remote" \
			"tests will fail; install Node.js $miniflare_node_min or later" >&2
	fi
	want=$(node -p "require('$dir/package.json').dependencies.miniflare")
	have=$(node -p "require('$dir/node_modules/miniflare/package.json')
		.version" 2>/dev/null) || have=
	[ "$have" = "$want" ] && return 0
	echo "setup.sh: installing Miniflare $want in $dir (npm ci)"
	if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
		echo "setup.sh: warning: npm ci failed in $dir: the remote" \
			"tests will fail" >&2
	fi
}
[ "$with_tests" = yes ] && install_miniflare

# Mounting needs the FUSE device; a user also needs to be allowed to
# open it (fusermount3 does the rest).
if [ ! -e /dev/fuse ]; then
	echo "setup.sh: warning: /dev/fuse does not exist (load the fuse" \
		"module: modprobe fuse)" >&2
elif [ "$(id -u)" -ne 0 ] && { ! [ -r /dev/fuse ] || ! [ -w /dev/fuse ]; }; then
	echo "setup.sh: warning: $(id -un) cannot open /dev/fuse" >&2
fi
exit 0
