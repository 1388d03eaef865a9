"""Model sources: anything we accept, converted to one fp32 ONNX file plus what we learned about it.

`load_source` picks the loader from the source string: `.onnx`, `.tflite`, `.joblib`/`.pkl`
(scikit-learn), `path.py:factory` or `package.module:factory` (PyTorch), and a directory holding a
Hugging Face `config.json` or a hub id (optimum). Heavy libraries are imported by each loader only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from exporters.errors import SourceError, UsageError

log = logging.getLogger(__name__)

Feed = dict[str, np.ndarray]

PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


@dataclass(slots=True)
class SourceSpec:
    """What the user asked to export, before anything is loaded."""

    source: str
    trust_pickle: bool = False
    weights: Path | None = None
    input_shape: tuple[int, ...] | None = None
    task: str | None = None
    opset: int = 17


@dataclass(slots=True)
class Loaded:
    """An fp32 ONNX model and the facts the loader found out on the way."""

    onnx_path: Path
    kind: str
    task: str
    text_dir: Path | None = None
    labels: list[str] | None = None
    head: str | None = None  # detection decoder used by the gate: "blazeface" or "yolo"
    preprocess_preset: str | None = None
    # How the model's own code fits an image, where known (exporters/sources/known.py); else stretch.
    resize: str | None = None
    pad_value: int | None = None
    # The source framework's own predictions, to check the conversion itself (scikit-learn labels).
    reference: Callable[[list[Feed]], np.ndarray] | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def source_kind(source: str) -> str:
    """Which loader handles `source`; raise UsageError when none does."""
    p = Path(source)
    suffix = p.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".tflite":
        return "tflite"
    if suffix in PICKLE_SUFFIXES:
        return "sklearn"
    if ":" in source and not p.exists():
        return "torch"
    if p.is_dir():
        if (p / "config.json").is_file():
            return "huggingface"
        raise UsageError(f"{source}: a directory without config.json is not a Hugging Face model")
    if not p.exists() and source.count("/") == 1 and not source.startswith((".", "/")):
        return "huggingface"  # a hub id; works offline only when it is in the local cache
    raise UsageError(
        f"{source}: expected a .onnx, .tflite, .joblib/.pkl file, a Hugging Face directory or id, "
        "or path.py:factory / package.module:factory for PyTorch"
    )


def load_source(spec: SourceSpec, workdir: Path) -> Loaded:
    """Convert `spec.source` to `workdir/<kind>.onnx` (fp32) and describe it."""
    kind = source_kind(spec.source)
    workdir.mkdir(parents=True, exist_ok=True)
    log.info("loading %s source %s", kind, spec.source)
    if kind == "onnx":
        from exporters.sources.onnx_file import load
    elif kind == "sklearn":
        from exporters.sources.sklearn_pickle import load
    elif kind == "torch":
        from exporters.sources.torch_module import load
    elif kind == "huggingface":
        from exporters.sources.huggingface import load
    else:
        from exporters.sources.tflite import load
    try:
        return load(spec, workdir)
    except (SourceError, UsageError):
        raise
    except ImportError as exc:
        raise SourceError(f"{spec.source}: the {kind} loader needs the export extra ({exc})") from exc


def infer_task(outputs: list[tuple[str, list[int | str]]]) -> tuple[str, str | None]:
    """Guess (task, detection head) from output names and shapes."""
    names = [n.lower() for n, _ in outputs]
    shapes = [s for _, s in outputs]
    if any("embedding" in n or n == "pooler_output" for n in names):
        return "embedding", None
    if len(shapes) == 2 and all(len(s) == 3 for s in shapes):
        last = sorted(int(s[2]) if isinstance(s[2], int) else 0 for s in shapes)
        if last == [1, 16]:
            return "detection", "blazeface"
    if len(shapes) == 1 and len(shapes[0]) == 3:
        s = shapes[0]
        if isinstance(s[1], int) and isinstance(s[2], int) and 4 < s[1] < s[2]:
            return "detection", "yolo"
    if len(shapes) == 1 and len(shapes[0]) == 2:
        return "classification", None
    return "raw", None
