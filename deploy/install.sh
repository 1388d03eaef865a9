#!/usr/bin/env bash
# Install edge-agent on a device without the .deb: Raspberry Pi OS (bookworm, 64-bit), Ubuntu 22.04/24.04,
# JetPack 6. Same result as the package: a venv in /opt/edge-agent, the systemd units, the edge-agent user
# and groups, the service enabled and idle until /etc/edge-agent/config.yaml exists.
#
# Usage: sudo deploy/install.sh [--ort SPEC | --ort-wheel FILE] [--no-apt] [--plan]
#   --ort SPEC        onnxruntime (default) or onnxruntime-openvino (Intel Core Ultra NPU)
#   --ort-wheel FILE  Jetson: JetPack's onnxruntime-gpu wheel (required there; see docs/deploy.md); the venv
#                     is made with --system-site-packages so the JetPack Python packages stay visible
#   --no-apt          do not apt-get install python3-venv and friends
#   --plan            print what would be done for this machine and exit without changing anything
# Environment: EDGE_AGENT_OS_RELEASE, EDGE_AGENT_TEGRA_RELEASE, EDGE_AGENT_ARCH override what is detected
# (for tests of the plan).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
prefix=/opt/edge-agent
ort=onnxruntime
ort_wheel=""
apt=1
plan=0
while [ $# -gt 0 ]; do
    case "$1" in
        --ort) ort="$2"; shift 2 ;;
        --ort-wheel) ort_wheel="$2"; shift 2 ;;
        --no-apt) apt=0; shift ;;
        --plan) plan=1; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

die() { echo "install.sh: $*" >&2; exit 1; }

os_release="${EDGE_AGENT_OS_RELEASE:-/etc/os-release}"
tegra_release="${EDGE_AGENT_TEGRA_RELEASE:-/etc/nv_tegra_release}"
arch="${EDGE_AGENT_ARCH:-$(uname -m)}"
os_id="$(. "$os_release" 2>/dev/null && echo "${ID:-unknown} ${VERSION_ID:-}")" || os_id="unknown"

case "$arch" in
    x86_64|aarch64) ;;
    armv7l|armv6l) die "a 32-bit OS ($arch): ONNX Runtime publishes 64-bit wheels only; flash the 64-bit Raspberry Pi OS" ;;
    *) die "unsupported architecture $arch" ;;
esac

venv_flags=()
if [ -f "$tegra_release" ]; then
    target="jetson ($(head -n1 "$tegra_release" | cut -c1-40))"
    [ -n "$ort_wheel" ] || die "on a Jetson, pass --ort-wheel with JetPack's onnxruntime-gpu wheel (the PyPI wheel has no CUDA/TensorRT EP on arm64); see docs/deploy.md"
    venv_flags+=(--system-site-packages)
else
    target="$os_id"
fi
[ -z "$ort_wheel" ] || ort="$ort_wheel"

echo "install.sh: target $target, $arch; onnxruntime from $ort; venv $prefix ${venv_flags[*]:-}"
if [ "$plan" = 1 ]; then
    exit 0
fi
[ "$(id -u)" = 0 ] || die "run as root (sudo)"
[ -z "$ort_wheel" ] || [ -f "$ort_wheel" ] || die "no such wheel: $ort_wheel"

if [ "$apt" = 1 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3-venv python3-pip adduser init-system-helpers
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' || die "Python 3.10 or later is needed"

# A fresh venv each time: an upgrade replaces the old one whole.
rm -rf "$prefix.new"
"$root/deploy/make-venv.sh" "$prefix.new" -p /usr/bin/python3 --ort "$ort" "${venv_flags[@]}"
install -D -m 0644 "$root/systemd/jit.conf" "$prefix.new/share/systemd/jit.conf"
# The venv's scripts name their own path: build it in place of the old one, then swap.
rm -rf "$prefix.old"
[ ! -d "$prefix" ] || mv "$prefix" "$prefix.old"
mv "$prefix.new" "$prefix"
grep -rlI --null "$prefix.new" "$prefix/bin" "$prefix/pyvenv.cfg" | xargs -0 -r sed -i "s|$prefix.new|$prefix|g"
rm -rf "$prefix.old"

install -D -m 0644 "$root/systemd/edge-agent.service" /etc/systemd/system/edge-agent.service
install -D -m 0644 "$root/systemd/edge-agent@.service" /etc/systemd/system/edge-agent@.service
install -D -m 0644 "$root/deploy/config.example.yaml" /etc/edge-agent/config.example.yaml

# The rest (user, groups, /etc/edge-agent, byte-code, jit drop-in) is the package's postinst.
sh "$root/deploy/debian/postinst" configure
# Enabled now, started at boot; idle until /etc/edge-agent/config.yaml exists (ConditionPathExists=).
systemctl enable edge-agent.service
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl restart edge-agent.service
fi

cat <<MSG
install.sh: done. Next:
  1. write /etc/edge-agent/config.yaml (start from config.example.yaml; chgrp edge-agent, chmod 0640)
  2. put the broker password in /etc/edge-agent/credentials/mqtt-password (chmod 0600)
  3. check:  runuser -u edge-agent -- $prefix/bin/edge-agent doctor --config /etc/edge-agent/config.yaml
  4. start:  systemctl start edge-agent   (it is enabled: it also starts at boot once configured)
MSG
