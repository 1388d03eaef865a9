#!/usr/bin/env bash
# An arm64 virtual machine with the agent installed, for what qemu-user cannot show: memory as an
# arm64 kernel counts it, on a board's RAM and cores (benchmarks/board_vm.py, the small-board RSS budget).
# qemu-system-aarch64 (TCG: emulated, so slow and exact about results and memory, not about speed)
# boots Debian bookworm's arm64 kernel on a disk made from the agent root (agent-root.sh: the .deb
# installed), with Mosquitto added so the guest has its own broker and no network at all.
#
# Usage: scripts/arm64/vm.sh --image          build the VM (cached) and print its folder
#        scripts/arm64/vm.sh --run JOB LOG    boot it with the folder JOB as /srv/bench (read-only),
#                                             run `sh /srv/bench/run.sh` as the guest's job, power off;
#                                             the console (the job's output) goes to LOG
# Environment: EDGE_VM_MEM_MB (default 512), EDGE_VM_CPUS (4), EDGE_VM_CPU (cortex-a53): the
# Raspberry Pi Zero 2 W's RAM, cores and core; EDGE_VM_TIMEOUT_S (default 3600).
# The cache is ${XDG_CACHE_HOME:-~/.cache}/edge-agent/arm64/: kernel-<key>/ (vmlinuz, initrd.img; the
# key: the base root and how the kernel is installed) and vm-<key>/root.img (the key: the agent root's
# and how the image is made from it). The root image is never written (mounted read-only, -snapshot).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
log() { echo "arm64-vm: $*" >&2; }
mode="${1:-}"
case "$mode" in
    --image) [ $# -eq 1 ] || { echo "usage: $0 --image" >&2; exit 2; } ;;
    --run) [ $# -eq 3 ] || { echo "usage: $0 --run JOB LOG" >&2; exit 2; } ;;
    *) echo "usage: $0 --image | --run JOB LOG" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { log "needs root (the agent root is built in a chroot)"; exit 3; }

ensure_qemu() {
    command -v qemu-system-aarch64 >/dev/null && command -v mkfs.ext4 >/dev/null && return 0
    log "installing qemu-system-arm and e2fsprogs"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-arm e2fsprogs >/dev/null
}


# PID 1 of the guest: the mounts a job needs, the job from the second disk, then power off (the
# kernel's panic=-1 and qemu's -no-reboot end the VM too if anything here fails).
INIT='#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mountpoint -q /run || mount -t tmpfs tmpfs /run
mount -t tmpfs -o size=64m tmpfs /tmp
mount -o ro /dev/vdb /srv/bench
sh /srv/bench/run.sh
echo "EDGE-VM job exit $?"
sync
echo o > /proc/sysrq-trigger
sleep 30'

# Debian's arm64 kernel and its initrd (which loads virtio and ext4), from the base root: cached apart
# from the agent, which changes with every commit, while the kernel changes with Debian's updates.
build_kernel() {
    exec 6>"$cache/kernel.lock"
    flock 6
    [ ! -s "$kernel/initrd.img" ] || return 0
    local work
    work="$(mktemp -d /var/tmp/edge-arm64-kernel.XXXXXX)"
    trap 'rm -rf "$work"' RETURN
    mkdir -p "$work/root" "$work/kernel"
    tar -C "$work/root" -xf "$("$here/rootfs.sh")"
    log "installing Debian's arm64 kernel in a copy of the base root (minutes under emulation)"
    if ! nice -n 10 "$here/in-root.sh" "$work/root" -- /bin/sh -ec "
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-image-arm64" \
            > "$cache/kernel-build.log" 2>&1; then
        tail -n 30 "$cache/kernel-build.log" >&2
        log "installing the kernel failed (full log: $cache/kernel-build.log)"
        exit 1
    fi
    cp "$(ls "$work"/root/boot/vmlinuz-* | sort -V | tail -n1)" "$work/kernel/vmlinuz"
    cp "$(ls "$work"/root/boot/initrd.img-* | sort -V | tail -n1)" "$work/kernel/initrd.img"
    rm -rf "$kernel"
    mv "$work/kernel" "$kernel"
    find "$cache" -maxdepth 1 -name 'kernel-*' -type d ! -name "$(basename "$kernel")" -exec rm -rf {} +
}

# The disk: the agent root (agent-root.sh) with Mosquitto, the guest's own broker, and PID 1.
build_image() {
    exec 7>"$cache/vm.lock"
    flock 7
    [ ! -s "$vm/root.img" ] || return 0
    local work root
    work="$(mktemp -d /var/tmp/edge-arm64-vm.XXXXXX)"
    trap 'rm -rf "$work"' RETURN
    root="$("$here/agent-root.sh" "$work/root")"
    log "adding Mosquitto to the agent root (a minute or two under emulation)"
    if ! nice -n 10 "$here/in-root.sh" "$root" -- /bin/sh -ec "
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto
            apt-get clean; rm -rf /var/lib/apt/lists/*" > "$cache/vm-build.log" 2>&1; then
        tail -n 30 "$cache/vm-build.log" >&2
        log "installing Mosquitto failed (full log: $cache/vm-build.log)"
        exit 1
    fi
    printf '%s\n' "$INIT" > "$root/usr/local/sbin/edge-vm-init"
    chmod 755 "$root/usr/local/sbin/edge-vm-init"
    mkdir -p "$root/srv/bench" "$work/vm"  # the job's mount point (the root is mounted read-only)
    # The root tree and some slack for ext4's own metadata (sparse on the host; the guest writes
    # only to its tmpfs /tmp).
    local mb
    mb=$(( $(du -sm "$root" | cut -f1) + 128 ))
    mkfs.ext4 -q -L edge-root -d "$root" "$work/vm/root.img" "${mb}M"
    rm -rf "$vm"
    mv "$work/vm" "$vm"
    find "$cache" -maxdepth 1 -name 'vm-*' -type d ! -name "vm-$key" -exec rm -rf {} +
    log "cached $vm ($(du -sh "$vm" | cut -f1) on disk)"
}

ensure_qemu
cache="$(dirname "$("$here/rootfs.sh" --path)")"
mkdir -p "$cache"
# Each key: what it is made from, and how (the function's own text).
kernel="$cache/kernel-$( { basename "$("$here/rootfs.sh" --path)"; declare -f build_kernel; } \
    | sha256sum | cut -c1-16)"
key="$( { "$here/agent-root.sh" --key; echo "$INIT"; declare -f build_image; } | sha256sum | cut -c1-16)"
vm="$cache/vm-$key"
build_kernel
build_image
if [ "$mode" = --image ]; then echo "$vm"; exit 0; fi  # (with the kernel in $kernel)

job="$(cd "$2" && pwd)" out="$3"
[ -f "$job/run.sh" ] || { log "$job has no run.sh"; exit 2; }
work="$(mktemp -d /var/tmp/edge-arm64-job.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkfs.ext4 -q -L edge-job -d "$job" "$work/job.img" "$(( $(du -sm "$job" | cut -f1) + 64 ))M" >/dev/null
log "booting: ${EDGE_VM_CPUS:-4} x ${EDGE_VM_CPU:-cortex-a53}, ${EDGE_VM_MEM_MB:-512} MB (console in $out)"
timeout "${EDGE_VM_TIMEOUT_S:-3600}" qemu-system-aarch64 \
    -M virt -cpu "${EDGE_VM_CPU:-cortex-a53}" -smp "${EDGE_VM_CPUS:-4}" -m "${EDGE_VM_MEM_MB:-512}" \
    -accel tcg,thread=multi -nographic -no-reboot -nic none -snapshot \
    -kernel "$kernel/vmlinuz" -initrd "$kernel/initrd.img" \
    -append "root=/dev/vda ro init=/usr/local/sbin/edge-vm-init console=ttyAMA0 panic=-1 quiet" \
    -drive "file=$vm/root.img,format=raw,if=virtio" \
    -drive "file=$work/job.img,format=raw,if=virtio,readonly=on" \
    < /dev/null > "$out" 2>&1
grep -q '^EDGE-VM job exit 0' "$out" || { log "the guest's job failed or did not finish: see $out"; exit 1; }
