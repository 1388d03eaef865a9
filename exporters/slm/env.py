"""Where the SLM build environment is, and running a step in it.

The language-model steps need transformers 5.x (onnxruntime-genai's builder) and the main exporter
venv holds transformers < 4.58 (optimum-onnx): they run in `.venv-slm` (scripts/slm-venv.sh), found
here, so `edge-export` calls them by itself and the user never solves that conflict.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from exporters.errors import ExportError

ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "EDGE_EXPORT_SLM_PYTHON"


def slm_python() -> Path:
    """The interpreter of the SLM build environment: $EDGE_EXPORT_SLM_PYTHON, else the checkout's
    .venv-slm, else this interpreter when it already has transformers 5 and the genai builder."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    local = ROOT / ".venv-slm" / "bin" / "python"
    if local.is_file():
        return local
    if _has_builder():
        return Path(sys.executable)
    raise ExportError(
        "the small-language-model build environment is missing: run scripts/slm-venv.sh "
        f"(or set {ENV_VAR} to a python with transformers 5 and onnxruntime-genai)"
    )


def _has_builder() -> bool:
    try:
        import transformers

        return int(transformers.__version__.split(".")[0]) >= 5
    except ImportError:
        return False


def run_in_slm_env(module: str, args: list[str], log: Path | None = None, *, stream: bool = False) -> None:
    """Run `python -m module args` in the SLM environment with this checkout importable; its output
    goes to `log` (progress bars included), or to this process's own stdout/stderr with `stream`
    (a long step the user watches), and a failure raises ExportError with the log's tail."""
    py = slm_python()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    cmd = [str(py), "-m", module, *args]
    if stream:
        code, tail = subprocess.run(cmd, env=env, check=False).returncode, "(its output is above)"
    elif log is None:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        code, tail = done.returncode, (done.stdout + done.stderr)[-3000:]
    else:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w", encoding="utf-8") as fh:
            code = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
    if code != 0:
        raise ExportError(f"{module} failed (exit {code}) in {py}:\n{tail}")
