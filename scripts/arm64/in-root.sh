#!/usr/bin/env bash
# Run a command inside an arm64 root (emulated by qemu-user through binfmt_misc) with /proc, /sys and
# /dev mounted and the host's DNS settings; each --bind HOST:INSIDE bind-mounts a host folder too.
#
# Usage: scripts/arm64/in-root.sh ROOT [--bind HOST:INSIDE]... -- COMMAND [ARG...]
# Environment: EDGE_ARM64_CPU, the CPU qemu emulates (default cortex-a76, the Raspberry Pi 5's core:
# the HWCAP bits it reports, dot product but no i8mm or SVE, choose ONNX Runtime's int8 kernels).
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

cpu="${EDGE_ARM64_CPU:-cortex-a76}"
# The mount script runs in the new namespace; its arguments: ROOT, the qemu CPU, the binds, --, then the
# command. exporters/device_check_chroot.py carries the same text (tests/arm64/test_in_root.py checks).
exec unshare --mount --propagation private -- /bin/sh -ec '
root="$1"; cpu="$2"; shift 2
mount -t proc proc "$root/proc"
# Not the /sys of the host: aarch64 ONNX Runtime 1.31 segfaults on import reading the
# /sys/devices/system/cpu of an x86 machine. A tmpfs with the CPU topology of a Raspberry Pi 5 instead:
# 4 Cortex-A76 r4p1.
mount -t tmpfs -o size=1m sysfs "$root/sys"
mkdir -p "$root/sys/devices/system/cpu"
for f in possible present online; do echo 0-3 > "$root/sys/devices/system/cpu/$f"; done
for i in 0 1 2 3; do
    mkdir -p "$root/sys/devices/system/cpu/cpu$i/regs/identification"
    echo 0x00000000414fd0b1 > "$root/sys/devices/system/cpu/cpu$i/regs/identification/midr_el1"
done
# The same library reads the vendor and core from /proc/cpuinfo (the x86 one under qemu-user): the
# Pi 5 text instead, bound over it.
features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
for i in 0 1 2 3; do
    printf "processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\n" "$i" "$features"
    printf "CPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n"
done > "$root/sys/.cpuinfo"
mount --bind "$root/sys/.cpuinfo" "$root/proc/cpuinfo"
mount --rbind /dev "$root/dev"
while [ "$1" != "--" ]; do
    mkdir -p "$root${1#*:}"
    mount --bind "${1%%:*}" "$root${1#*:}"
    shift
done
shift
# QEMU_CPU: the instruction set qemu offers (and reports in HWCAP): it picks the ONNX Runtime kernels.
exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 QEMU_CPU="$cpu" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
' in-root "$root" "$cpu" "${binds[@]+"${binds[@]}"}" -- "$@"
