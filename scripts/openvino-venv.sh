#!/usr/bin/env bash
# Build .venv-openvino: a second venv whose onnxruntime comes from onnxruntime-openvino, so the
# OpenVINOExecutionProvider is real in CI. onnxruntime-openvino installs the same `onnxruntime`
# package as plain onnxruntime, so the two can never share a venv (the last install wins and
# uninstalling either breaks the other): this venv never gets plain onnxruntime.
#
# Usage: scripts/openvino-venv.sh [VENV_DIR]   (default .venv-openvino at the repository root)
# Then:  .venv-openvino/bin/python -m pytest -m openvino tests/hardware
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$root/.venv-openvino}"
python="${PYTHON:-python3}"
constraints="$root/constraints.txt"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q -c "$constraints")

# The EP first; then the device dependencies other than onnxruntime; then test tools.
"${pip[@]}" onnxruntime-openvino
"${pip[@]}" numpy opencv-python-headless paho-mqtt PyYAML pydantic cryptography
"${pip[@]}" pytest pytest-timeout onnx
# --no-deps: the project's own requirement on `onnxruntime` would pull the plain build over this one.
if ! "$venv/bin/python" -m pip install --disable-pip-version-check -q --no-deps -e "$root"; then
    # A checkout the build backend rejects (e.g. no README yet) is still importable: point a .pth at it.
    echo "openvino-venv: editable install failed; adding $root to the venv's path instead" >&2
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$root" > "$site/edge_agent_checkout.pth"
fi

# Fail here, not in the tests, when the wrong onnxruntime won.
"$venv/bin/python" - <<'PY'
import onnxruntime as ort
eps = ort.get_available_providers()
assert "OpenVINOExecutionProvider" in eps, f"OpenVINO EP missing from this venv: {eps}"
print(f"onnxruntime {ort.__version__}: {', '.join(eps)}")
PY
