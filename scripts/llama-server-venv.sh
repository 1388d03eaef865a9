#!/usr/bin/env bash
# Add llama-cpp-python with its OpenAI-compatible server (`llama_cpp.server`) to .venv-slm: the
# llama.cpp runtime benchmarks/slm.py compares against, and the real server the escalation tests
# talk to (tests/llama_server.py). The device never needs it.
#
# The package index has no binary wheel of it for this platform: pip compiles llama.cpp from source
# with the machine's gcc and cmake: about 7.5 min on 2 idle cores (25 min on 2 busy ones). pip keeps
# the wheel it built in its cache (~/.cache/pip/wheels), so a later run, or CI with that cache kept,
# installs it in about 12 s; without the cache every run pays the compile again. Needs cmake and a
# C++ compiler (Debian: cmake g++).
#
# Usage: scripts/llama-server-venv.sh [VENV_DIR]   (default .venv-slm; run scripts/slm-venv.sh first)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$root/.venv-slm}"
constraints="$root/constraints-slm.txt"

if [ ! -x "$venv/bin/python" ]; then
    echo "llama-server-venv: $venv is missing: run scripts/slm-venv.sh first" >&2
    exit 1
fi
if "$venv/bin/python" -c 'import llama_cpp, llama_cpp.server.app, uvicorn' 2>/dev/null; then
    "$venv/bin/python" -c 'import llama_cpp; print(f"llama-cpp-python {llama_cpp.__version__} (already installed)")'
    exit 0
fi
for tool in cmake c++; do
    command -v "$tool" >/dev/null || { echo "llama-server-venv: $tool not found (Debian: apt-get install cmake g++)" >&2; exit 1; }
done
# All cores for the compile; the result is the same wheel either way.
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
echo "llama-server-venv: installing llama-cpp-python[server] (compiles llama.cpp unless pip's cache has the wheel)"
"$venv/bin/python" -m pip install --disable-pip-version-check -q -c "$constraints" 'llama-cpp-python[server]'
"$venv/bin/python" -c 'import llama_cpp, llama_cpp.server.app; print(f"llama-cpp-python {llama_cpp.__version__}")'
