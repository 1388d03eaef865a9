#!/usr/bin/env bash
# Build onnx-edge-agent_<version>_<arch>.deb with dpkg-deb (the package takes the distribution's name
# from pyproject.toml; commands, units, user and paths keep the name edge-agent): a venv under
# /opt/edge-agent holding the agent and its device dependencies, the systemd units, an example config as a
# conffile, and maintainer scripts that create the edge-agent user and enable the (idle until configured)
# service.
#
# Usage: deploy/build-deb.sh [-o OUTDIR] [-p PYTHON] [--ort SPEC] [--system-site-packages]
#   -o OUTDIR   where the .deb goes (default: build/)
#   -p PYTHON   the target's system Python (default /usr/bin/python3): the venv links to it, so build on
#               the release and architecture you install on (Raspberry Pi OS bookworm arm64, Ubuntu...)
#   --ort SPEC  what provides onnxruntime: onnxruntime (default), onnxruntime-openvino, or a wheel file
#               (JetPack's onnxruntime-gpu)
#   --system-site-packages  let the venv see the system's packages (JetPack's TensorRT/CUDA bindings)
# Environment: EDGE_AGENT_DEB_COMPRESS (dpkg-deb -Z, default gzip: xz takes minutes on a Pi for ~300 MB),
#              EDGE_AGENT_DEB_LEVEL (dpkg-deb -z, default 6),
#              DEBFULLNAME/DEBEMAIL (Maintainer field).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/build"
python=/usr/bin/python3
ort=onnxruntime
venv_flags=()
while [ $# -gt 0 ]; do
    case "$1" in
        -o) out="$2"; shift 2 ;;
        -p) python="$2"; shift 2 ;;
        --ort) ort="$2"; shift 2 ;;
        --system-site-packages) venv_flags+=(--system-site-packages); shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "build-deb: unknown argument $1" >&2; exit 2 ;;
    esac
done

prefix=/opt/edge-agent
name="$(sed -n 's/^name = "\(.*\)"$/\1/p' "$root/pyproject.toml" | head -n1)"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/pyproject.toml" | head -n1)"
pyver="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
pynext="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1] + 1}")')"
arch="$(dpkg --print-architecture)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pkg="$work/pkg"
venv="$pkg$prefix"

echo "build-deb: $name $version for $arch, Python $pyver, onnxruntime from '$ort'" >&2
"$root/deploy/make-venv.sh" "$venv" -p "$python" --ort "$ort" "${venv_flags[@]}"
"$venv/bin/python" -m pip uninstall -q -y pip setuptools 2>/dev/null || true

# The venv was made in the staging tree: point its scripts and config at /opt/edge-agent.
grep -rlI --null "$venv" "$venv/bin" "$venv/pyvenv.cfg" | xargs -0 -r sed -i "s|$venv|$prefix|g"
find "$venv" -name __pycache__ -prune -exec rm -rf {} +
# Wheels unpack shared libraries 0755; they are loaded, never executed.
find "$venv" -type f -name '*.so*' -exec chmod 0644 {} +

# Units, the jit drop-in, the example config (conffile), docs.
install -D -m 0644 "$root/systemd/edge-agent.service" "$pkg/lib/systemd/system/edge-agent.service"
install -D -m 0644 "$root/systemd/edge-agent@.service" "$pkg/lib/systemd/system/edge-agent@.service"
install -D -m 0644 "$root/systemd/jit.conf" "$venv/share/systemd/jit.conf"
install -D -m 0644 "$root/deploy/config.example.yaml" "$pkg/etc/edge-agent/config.example.yaml"
doc="$pkg/usr/share/doc/$name"
install -D -m 0644 "$root/deploy/debian/copyright" "$doc/copyright"
gzip -9n < "$root/docs/deploy.md" > "$doc/deploy.md.gz"
sed -e "s/@PACKAGE@/$name/" -e "s/@VERSION@/$version/" "$root/deploy/debian/changelog" \
    | gzip -9n > "$doc/changelog.gz"
install -d "$pkg/usr/share/lintian/overrides"
sed "s/@PACKAGE@/$name/" "$root/deploy/debian/lintian-overrides" > "$pkg/usr/share/lintian/overrides/$name"
chmod 0644 "$pkg/usr/share/lintian/overrides/$name"

install -d "$pkg/DEBIAN"
for script in postinst prerm postrm; do
    install -m 0755 "$root/deploy/debian/$script" "$pkg/DEBIAN/$script"
done
echo /etc/edge-agent/config.example.yaml > "$pkg/DEBIAN/conffiles"
size="$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)"
maintainer="${DEBFULLNAME:-edge-agent developers} <${DEBEMAIL:-maintainers@edge-agent.invalid}>"
sed -e "s/@PACKAGE@/$name/" -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@MAINTAINER@/$maintainer/" -e "s/@PYVER@/$pyver/" -e "s/@PYNEXT@/$pynext/" \
    "$root/deploy/debian/control" > "$pkg/DEBIAN/control"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
    > "$pkg/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/${name}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${EDGE_AGENT_DEB_COMPRESS:-gzip}" -z"${EDGE_AGENT_DEB_LEVEL:-6}" \
    --build "$pkg" "$deb" >&2
echo "$deb"
