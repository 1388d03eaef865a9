#!/usr/bin/env bash
# Run a command inside an arm64 root (emulated by qemu-user through binfmt_misc) with /proc, /sys and
# /dev mounted and the host's DNS settings; each --bind HOST:INSIDE bind-mounts a host folder too.
#
# Usage: scripts/arm64/in-root.sh ROOT [--bind HOST:INSIDE]... -- COMMAND [ARG...]
# The mounts live in a private mount namespace (unshare), so the kernel removes them when the command
# ends however it ends (error, Ctrl-C, SIGKILL): nothing is left mounted and nothing leaks to the host.
# The root shares the host's network, so 127.0.0.1 inside is the host's loopback.
set -euo pipefail

[ $# -ge 3 ] || { echo "usage: $0 ROOT [--bind HOST:INSIDE]... -- COMMAND [ARG...]" >&2; exit 2; }
root="$(cd "$1" && pwd)"; shift
binds=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case "$1" in
        --bind) binds+=("$2"); shift 2 ;;
        *) echo "in-root: unknown argument $1 (expected --bind HOST:INSIDE or --)" >&2; exit 2 ;;
    esac
done
[ "${1:-}" = "--" ] || { echo "in-root: expected -- before the command" >&2; exit 2; }
shift
[ "$(id -u)" = 0 ] || { echo "in-root: chroot and mount need root" >&2; exit 3; }
[ -x "$root/bin/sh" ] || { echo "in-root: $root has no /bin/sh: not a root file system" >&2; exit 2; }
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

# The mount script runs in the new namespace; its arguments are ROOT, the binds, --, then the command.
exec unshare --mount --propagation private -- /bin/sh -ec '
root="$1"; shift
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /dev "$root/dev"
while [ "$1" != "--" ]; do
    src="${1%%:*}"; dst="$root${1#*:}"
    mkdir -p "$dst"
    mount --bind "$src" "$dst"
    shift
done
shift
exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
' in-root "$root" "${binds[@]+"${binds[@]}"}" -- "$@"
