#!/usr/bin/env bash
# Make DIR an arm64 root with this checkout's agent installed the way a board gets it: the base root
# from rootfs.sh, then, inside it under emulation, deploy/build-deb.sh (the venv on the target's own
# Python 3.11, aarch64 wheels pinned by constraints.txt) and `dpkg -i` of the .deb it made.
#
# Usage: scripts/arm64/agent-root.sh DIR        (DIR must not exist yet; prints DIR)
#        scripts/arm64/agent-root.sh --prepare  (only make sure the cache holds it; prints the tarball)
#        scripts/arm64/agent-root.sh --key      (prints the cache key: a CI cache can be keyed on it)
# The installed root is cached as ${XDG_CACHE_HOME:-~/.cache}/edge-agent/arm64/agent-<key>.tar, the
# key a hash of the base root, these scripts and every file that goes into the .deb, so a second run
# with the same sources only unpacks it.
# The .deb itself is kept in the root at /var/cache/edge-agent-arm64/.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
[ $# -eq 1 ] || { echo "usage: $0 DIR | --prepare | --key" >&2; exit 2; }
prepare=0 print_key=0
if [ "$1" = --key ]; then
    print_key=1 dir=/nonexistent
elif [ "$1" = --prepare ]; then
    prepare=1 dir="$(mktemp -d /var/tmp/edge-arm64-prepare.XXXXXX)/root"
    trap 'rm -rf "$(dirname "$dir")"' EXIT
else
    dir="$1"
    [ ! -e "$dir" ] || { echo "agent-root: $dir already exists" >&2; exit 2; }
fi
log() { echo "agent-root: $*" >&2; }

base="$("$here/rootfs.sh" --path)"
cache="$(dirname "$base")"
# What goes into the .deb (deploy/build-deb.sh): the package, its metadata, units, profiles, docs.
mapfile -t sources < <(cd "$repo" && git ls-files -co --exclude-standard -- pyproject.toml constraints.txt \
    README.md deploy edge_agent exporters hardware systemd docs/deploy.md | LC_ALL=C sort)
# The key leaves out the two documents the package carries as text only (README.md is the wheel's
# long description, docs/deploy.md goes to /usr/share/doc): editing them does not rebuild the root.
# Relative paths only, so that every clone of the same sources shares one cached root.
key="$( { basename "$base"; (cd "$here" && sha256sum agent-root.sh in-root.sh);
          (cd "$repo" && printf '%s\n' "${sources[@]}" | grep -vx -e README.md -e docs/deploy.md \
              | xargs -d '\n' sha256sum); } | sha256sum | cut -c1-16)"
tarball="$cache/agent-$key.tar"
[ "$print_key" = 0 ] || { echo "$key"; exit 0; }
# One builder at a time: scripts/test starts --prepare in the background while the other tests run, and
# tests/arm64 (collected last) wait here for it, then unpack what it cached.
mkdir -p "$cache"
exec 9>"$cache/agent.lock"
flock 9

if [ -s "$tarball" ]; then
    [ "$prepare" = 1 ] && { echo "$tarball"; exit 0; }
    mkdir -p "$dir"
    tar -C "$dir" -xf "$tarball"
    echo "$dir"
    exit 0
fi
mkdir -p "$dir"
"$here/rootfs.sh" >/dev/null
tar -C "$dir" -xf "$base"
log "building the .deb inside the arm64 root (minutes under emulation; log in $cache/build-deb.log)"
mkdir -p "$dir/src"
(cd "$repo" && tar -cf - "${sources[@]}") | tar -C "$dir/src" -xf -
# pip inside trusts what the host trusts (a network that re-signs TLS has its CA in the host's bundle),
# bound in for the build only, so the cached root keeps Debian's own.
binds=()
[ ! -f /etc/ssl/certs/ca-certificates.crt ] || binds+=(--bind "/etc/ssl/certs:/run/host-certs")
if ! nice -n 10 "$here/in-root.sh" "$dir" "${binds[@]+"${binds[@]}"}" -- /bin/sh -ec '
        [ ! -f /run/host-certs/ca-certificates.crt ] || export PIP_CERT=/run/host-certs/ca-certificates.crt
        # The .deb is unpacked right away: compressing ~300 MB under emulation only costs minutes.
        EDGE_AGENT_DEB_COMPRESS=none /src/deploy/build-deb.sh -o /var/cache/edge-agent-arm64
        dpkg -i /var/cache/edge-agent-arm64/*.deb
        /opt/edge-agent/bin/edge-agent --version' > "$cache/build-deb.log" 2>&1; then
    tail -n 30 "$cache/build-deb.log" >&2
    log "building or installing the .deb failed (full log: $cache/build-deb.log)"
    exit 1
fi
rm -rf "$dir/src"
tar -C "$dir" -cf "$tarball.part" .
mv "$tarball.part" "$tarball"
find "$cache" -maxdepth 1 -name 'agent-*.tar' ! -name "agent-$key.tar" -delete
log "cached $tarball ($(du -h "$tarball" | cut -f1))"
if [ "$prepare" = 1 ]; then echo "$tarball"; else echo "$dir"; fi
