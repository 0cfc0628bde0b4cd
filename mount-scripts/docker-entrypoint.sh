#!/bin/sh
# docker-entrypoint.sh: the container's entrypoint.  It execs kvfs in
# the foreground, so kvfs is the container's main process: `docker stop`
# sends it SIGTERM and it unmounts cleanly, leaving no dead mount.
#
# KVFS_CONFIG      the configuration file (default /etc/kvfs/kvfs.ini;
#                  without one, the embedded default namespace)
# KVFS_MOUNTPOINT  where to mount (default /mnt/kvfs)
# KVFS_OPTIONS     -o options, e.g. allow_other (default: none)
# Any arguments are run as a command instead (e.g. `kvfs -c ... get`).
set -eu

if [ "$#" -gt 0 ]; then
	exec "$@"
fi

config=${KVFS_CONFIG:-/etc/kvfs/kvfs.ini}
mountpoint=${KVFS_MOUNTPOINT:-/mnt/kvfs}
mkdir -p "$mountpoint"

set -- -f
[ -n "${KVFS_OPTIONS:-}" ] && set -- "$@" -o "$KVFS_OPTIONS"
[ -f "$config" ] && set -- "$@" -c "$config"
exec "${KVFS_BIN:-kvfs}" "$@" "$mountpoint"
