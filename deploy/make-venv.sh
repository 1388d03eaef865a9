#!/usr/bin/env bash
# Make the agent's venv at DIR: onnxruntime (or the build the target needs), the other device
# dependencies from pyproject.toml, and the agent itself. Shared by build-deb.sh and install.sh.
#
# Usage: deploy/make-venv.sh DIR [-p PYTHON] [--ort SPEC] [--system-site-packages]
#   --ort SPEC  onnxruntime (default), onnxruntime-openvino (Intel NPU/GPU), or a wheel file
#               (JetPack's onnxruntime-gpu); exactly one of them goes into a venv, they share a package.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 DIR [-p PYTHON] [--ort SPEC] [--system-site-packages]" >&2; exit 2; }
venv="$1"; shift
python=/usr/bin/python3
ort=onnxruntime
venv_flags=()
while [ $# -gt 0 ]; do
    case "$1" in
        -p) python="$2"; shift 2 ;;
        --ort) ort="$2"; shift 2 ;;
        --system-site-packages) venv_flags+=(--system-site-packages); shift ;;
        *) echo "make-venv: unknown argument $1" >&2; exit 2 ;;
    esac
done

"$python" -m venv "${venv_flags[@]}" "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q --no-compile -c "$root/constraints.txt")
# The project's own dependency list, minus onnxruntime, which comes from --ort. A regex, not tomllib:
# JetPack 6 and Ubuntu 22.04 ship Python 3.10.
mapfile -t deps < <("$venv/bin/python" - "$root/pyproject.toml" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
for dep in re.findall(r'^\s*"([^"]+)"', block, re.M):
    if re.split(r"[<>=!~ ;\[]", dep, maxsplit=1)[0].lower() != "onnxruntime":
        print(dep)
PY
)
"${pip[@]}" "$ort" "${deps[@]}"
wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
"$venv/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps -w "$wheels" "$root"
"${pip[@]}" --no-deps "$wheels"/*.whl   # the one wheel just built, whatever the distribution is called
"$venv/bin/python" -c "import onnxruntime as o; print('make-venv: onnxruntime', o.__version__, o.get_available_providers())" >&2
