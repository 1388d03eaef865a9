"""A Hugging Face causal-LM folder → an onnxruntime-genai model folder, at one precision (runs the
model builder of onnxruntime-genai in .venv-slm).

The builder writes genai_config.json with `search.max_length` = the model's whole context (8192 for
SmolLM2), and onnxruntime-genai pre-allocates the KV cache for it (int4 RSS 598 MiB instead of 253,
MODELS.md): `set_max_length` writes the bundle's own bound.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Literal

from exporters.slm.env import run_in_slm_env

Precision = Literal["int4", "int8", "fp16", "fp32"]
# The execution providers onnxruntime-genai 0.18's model builder writes graphs for (its `-e`).
BuilderEP = Literal["cpu", "cuda", "dml", "webgpu", "NvTensorRtRtx"]
GENAI_CONFIG = "genai_config.json"
BUILD_STAMP = ".edge-build"  # beside a build's files: what it was built from (never shipped)


def build_genai(
    hf_dir: Path,
    out: Path,
    precision: Precision,
    max_length: int,
    *,
    cache: Path,
    log: Path | None = None,
    ep: BuilderEP = "cpu",
) -> Path:
    """Build `out` (genai_config.json, model.onnx, model.onnx.data, tokenizer files) from `hf_dir` for
    the execution provider `ep`; `cache` holds the builder's intermediate files."""
    if max_length <= 0:
        raise ValueError(f"max_length: expected a positive number of tokens, got {max_length}")
    out.mkdir(parents=True, exist_ok=True)
    args = ["-i", str(hf_dir), "-o", str(out), "-p", precision, "-e", ep, "-c", str(cache)]
    run_in_slm_env("onnxruntime_genai.models.builder", args, log=log or out.parent / f"{out.name}.build.log")
    set_max_length(out, max_length)
    return out


def build_cached(
    hf_dir: Path, work: Path, precision: Precision, max_length: int, *, stamp: str, ep: BuilderEP = "cpu"
) -> Path:
    """`work/genai-<precision>[-<ep>]`, built from `hf_dir` unless the folder there was built from
    the same `stamp` (what identifies the source), max_length and EP; the stamp is written only
    after a build succeeds, so an interrupted one is rebuilt."""
    out = work / (f"genai-{precision}" if ep == "cpu" else f"genai-{precision}-{ep}")
    mark = out / BUILD_STAMP
    key = f"{stamp}|max_length={max_length}|ep={ep}"
    if mark.is_file() and mark.read_text(encoding="utf-8") == key:
        return out
    shutil.rmtree(out, ignore_errors=True)
    build_genai(
        hf_dir,
        out,
        precision,
        max_length,
        cache=work / "builder-cache",
        log=work / f"{out.name}.build.log",
        ep=ep,
    )
    mark.write_text(key, encoding="utf-8")
    return out


def is_build_file(name: str) -> bool:
    """A file the exporter keeps beside a build's model files, never shipped in a bundle."""
    return name == BUILD_STAMP or name.endswith(".log")


def folder_size(folder: Path) -> int:
    """Bytes of the model's own files under `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not is_build_file(p.name))


def read_genai_config(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / GENAI_CONFIG).read_text(encoding="utf-8"))
    return data


def set_max_length(folder: Path, max_length: int) -> None:
    """Bound the KV cache (prompt + new tokens) in genai_config.json."""
    cfg = read_genai_config(folder)
    context = int(cfg["model"].get("context_length", max_length))
    cfg["search"]["max_length"] = min(max_length, context)
    (folder / GENAI_CONFIG).write_text(json.dumps(cfg, indent=4), encoding="utf-8")


def set_provider_options(folder: Path, options: list[dict[str, dict[str, str]]]) -> None:
    """Write the execution providers the runtime should use (genai_config's
    `session_options.provider_options`, e.g. `[{"OpenVINO": {"device_type": "NPU"}}]`)."""
    cfg = read_genai_config(folder)
    cfg["model"]["decoder"].setdefault("session_options", {})["provider_options"] = options
    (folder / GENAI_CONFIG).write_text(json.dumps(cfg, indent=4), encoding="utf-8")
