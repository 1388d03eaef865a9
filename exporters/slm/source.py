"""What an SLM source is (a GGUF file or a Hugging Face causal-LM folder), refusing anything else
with a clear SourceError, and turning it into the HF folder the builder and the gate read.

Checks here run in the main venv (no torch): the GGUF header and the HF folder's config.json are
read directly, so a wrong source is refused before minutes of building. Dequantizing a GGUF runs in
.venv-slm (exporters.slm.gguf); a file whose header is fine but whose body is cut short is refused
there, and its message comes back as a SourceError too.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.bundle.verify import sha256_file
from exporters.errors import ExportError, SourceError
from exporters.slm.env import run_in_slm_env
from exporters.slm.gguf import REFUSED

GGUF_MAGIC = b"GGUF"
WEIGHT_GLOBS = ("*.safetensors", "pytorch_model*.bin")


@dataclass(frozen=True, slots=True)
class SlmSource:
    """A checked source: its kind, its path, and how the manifest names it (file name + sha256)."""

    kind: str  # "gguf" | "hf"
    path: Path
    fingerprint: str


def is_slm_source(path: Path) -> bool:
    """True when `path` looks like something the SLM branch owns (a .gguf file, or a folder whose
    config.json names a *ForCausalLM architecture); `check_source` then says what is wrong with it."""
    if path.is_file():
        return path.suffix.lower() == ".gguf"
    config = path / "config.json"
    if not config.is_file():
        return False
    try:
        archs = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
    except (ValueError, OSError, AttributeError):
        return False
    return any(str(a).endswith("ForCausalLM") for a in archs)


def check_source(path: Path) -> SlmSource:
    """The source at `path`, checked; SourceError saying what is wrong and what was expected."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder (expected a .gguf file or a causal-LM folder)")
    if path.is_file():
        return _check_gguf(path)
    return _check_hf(path)


def _check_gguf(path: Path) -> SlmSource:
    with path.open("rb") as fh:
        head = fh.read(24)
    if len(head) < 24 or head[:4] != GGUF_MAGIC:
        raise SourceError(f"{path}: not a GGUF file (expected the magic bytes 'GGUF' at the start)")
    version, tensors, kvs = struct.unpack("<IQQ", head[4:24])
    if version not in (2, 3):
        raise SourceError(f"{path}: GGUF version {version} (expected 2 or 3)")
    if tensors == 0 or kvs == 0:
        raise SourceError(f"{path}: GGUF header lists {tensors} tensors and {kvs} metadata keys (need > 0)")
    return SlmSource("gguf", path, f"{path.name} sha256:{sha256_file(path)}")


def _check_hf(path: Path) -> SlmSource:
    config_path = path / "config.json"
    if not config_path.is_file():
        raise SourceError(f"{path}: no config.json (expected a Hugging Face causal-LM folder or a .gguf)")
    try:
        config: Any = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise SourceError(f"{config_path}: not valid JSON ({exc})") from None
    archs = config.get("architectures") if isinstance(config, dict) else None
    if not isinstance(archs, list) or not any(str(a).endswith("ForCausalLM") for a in archs):
        raise SourceError(
            f"{config_path}: architectures = {archs!r}; expected a decoder-only *ForCausalLM model "
            "(e.g. LlamaForCausalLM, Phi3ForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)"
        )
    weights = [p for g in WEIGHT_GLOBS for p in sorted(path.glob(g))]
    if not weights:
        raise SourceError(f"{path}: no weights (expected model*.safetensors or pytorch_model*.bin)")
    if not (path / "tokenizer.json").is_file():
        raise SourceError(f"{path}: no tokenizer.json (the genai runtime reads the fast tokenizer's file)")
    h = hashlib.sha256()
    for p in sorted(x for x in path.iterdir() if x.is_file()):
        h.update(f"{p.name}:{sha256_file(p)}\n".encode())
    return SlmSource("hf", path, f"{path.name}/ sha256:{h.hexdigest()}")


def to_hf(source: SlmSource, work: Path) -> Path:
    """The HF folder for `source`: the folder itself, or the GGUF dequantized into `work/hf` (kept
    there, so a second build from the same work folder does not convert again)."""
    if source.kind == "hf":
        return source.path
    out = work / "hf"
    # The stamp sits beside the folder, so a folder converted elsewhere (a cache) can be linked in.
    stamp = work / "hf.source"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == source.fingerprint and out.is_dir():
        return out
    stamp.unlink(missing_ok=True)
    if out.is_symlink():
        out.unlink()
    shutil.rmtree(out, ignore_errors=True)
    log = work / "gguf.log"
    try:
        run_in_slm_env("exporters.slm.gguf", [str(source.path), str(out)], log=log)
    except ExportError as exc:
        said = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if REFUSED in ln]
        if said:
            raise SourceError(said[-1].split(REFUSED, 1)[1].strip()) from None
        raise SourceError(f"{source.path}: could not be converted from GGUF: {exc}") from None
    stamp.write_text(source.fingerprint, encoding="utf-8")
    return out
