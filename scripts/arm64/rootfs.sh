#!/usr/bin/env bash
# A Debian bookworm arm64 root for running the agent under qemu-user emulation, built once with
# debootstrap from the host's own Debian mirror and cached as a tarball; prints the tarball's path.
#
# Usage: scripts/arm64/rootfs.sh [--rebuild | --path]   (--path: print where the tarball goes, build nothing)
# The cache is ${XDG_CACHE_HOME:-~/.cache}/edge-agent/arm64/rootfs-<key>.tar, the key a hash of the
# lines of this script that decide the root's contents (suite, package list, variant), so a changed
# package list builds a new root and a second run only prints the path. As root it installs qemu-user-static, binfmt-support and
# debootstrap when missing, mounts binfmt_misc and registers the aarch64 interpreter with the F flag
# (the kernel opens it at registration, so it also runs inside a chroot that lacks it).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# What the agent and deploy/build-deb.sh need inside: Python with venv/ensurepip (the venv is made on
# the target's Python), TLS roots for pip, and the .deb's Depends (adduser, init-system-helpers).
PACKAGES=(python3 python3-venv ca-certificates adduser init-system-helpers)
SUITE=bookworm

rebuild=0 path_only=0
case "${1:-}" in
    --rebuild) rebuild=1 ;;
    --path) path_only=1 ;;
    "") ;;
    *) echo "rootfs: unknown argument $1 (expected --rebuild or --path)" >&2; exit 2 ;;
esac

cache="${XDG_CACHE_HOME:-$HOME/.cache}/edge-agent/arm64"
# The key: the lines that decide what the root holds (suite, packages, variant, the sources line).
key="$(grep -E '^(PACKAGES|SUITE)=|--variant=|> "\$work/root/etc/apt/sources.list"' "$0" | sha256sum | cut -c1-16)"
tarball="$cache/rootfs-$key.tar"
log() { echo "rootfs: $*" >&2; }

# The host's Debian mirror, read from its apt sources (deb822 or one-line), so the root is fetched
# from wherever this machine is allowed to fetch Debian.
host_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$SUITE" '
            BEGIN { RS = ""; FS = "\n" }
            {
                uri = ""; ok = 0
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
                    if ($i ~ /^Suites:/ && (" " $i " ") ~ (" " suite " ")) ok = 1
                }
                if (ok && uri != "") { print uri; exit }
            }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v suite="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i == suite) { print $(i - 1); exit } }' "$f"
    done
}

ensure_binfmt() {
    if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
        grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
            || log "warning: qemu-aarch64 is registered without the F flag; the chroot may not find it"
        return 0
    fi
    [ "$(id -u)" = 0 ] || { log "qemu-aarch64 is not registered with binfmt_misc and this is not root"; exit 3; }
    [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    if command -v update-binfmts >/dev/null && [ -e /usr/share/binfmts/qemu-aarch64 ]; then
        update-binfmts --enable qemu-aarch64 || true
    fi
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        # qemu-user-static's own magic and mask for aarch64 ELF executables.
        printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F' \
            > /proc/sys/fs/binfmt_misc/register
    fi
    grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || { log "could not register qemu-aarch64"; exit 3; }
}

ensure_host_tools() {
    local missing=() p
    for p in qemu-user-static binfmt-support debootstrap; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || { log "missing host packages (need root to install): ${missing[*]}"; exit 3; }
    log "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

[ "$path_only" = 0 ] || { echo "$tarball"; exit 0; }
# One builder at a time (scripts/test prepares in the background while the tests run): a second caller
# waits here, then finds the tarball.
mkdir -p "$cache"
exec 8>"$cache/rootfs.lock"
flock 8
ensure_host_tools
ensure_binfmt
if [ "$rebuild" = 0 ] && [ -s "$tarball" ]; then
    echo "$tarball"
    exit 0
fi
[ "$(id -u)" = 0 ] || { log "building the root needs root (debootstrap, chroot)"; exit 3; }
mirror="$(host_mirror | head -n1)"
[ -n "$mirror" ] || { log "no '$SUITE' source in /etc/apt/sources.list*; cannot pick a mirror"; exit 3; }

mkdir -p "$cache"
work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "debootstrap $SUITE arm64 from $mirror (minutes under emulation; log in $cache/debootstrap.log)"
include="$(IFS=,; echo "${PACKAGES[*]}")"
if ! nice -n 10 debootstrap --arch=arm64 --variant=minbase --include="$include" \
        "$SUITE" "$work/root" "$mirror" > "$cache/debootstrap.log" 2>&1; then
    tail -n 20 "$cache/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
fi
# apt inside the root uses the same mirror; the downloaded .debs are not needed again.
echo "deb $mirror $SUITE main" > "$work/root/etc/apt/sources.list"
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
tar -C "$work/root" -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$tarball"
# Older keys' tarballs are dead weight.
find "$cache" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$key.tar" -delete
log "cached $tarball ($(du -h "$tarball" | cut -f1))"
echo "$tarball"
