"""Model outputs → compact JSON results, one decoder per task kind.

`build_postprocessor(cfg)` picks the decoder for `cfg.kind` and resolves its labels once; the returned
callable runs per frame as `post(outputs, letterbox)` and returns a JSON-serialisable dict (scores and
box coordinates rounded to 4 decimals). A decoder raises ModelError("expected ..., got ...") when the
outputs do not have the shape its kind needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.bundle.settings import ClassificationPost, DetectionPost
from edge_agent.errors import ModelError
from edge_agent.stages.protocols import Postprocess
from edge_agent.strict import Tagged

__all__ = ["build_postprocessor", "load_labels"]


def load_labels(
    labels: list[str] | None, labels_file: Path | None, base_dir: Path | None
) -> list[str] | None:
    """Labels from the config list, else from a one-per-line file. A relative path is from `base_dir`:
    the bundle directory for a manifest's labels_file. A config's own labels_file arrives absolute (the
    loader resolves it against the config file's folder, never against the model's)."""
    if labels is not None:
        return list(labels)
    if labels_file is None:
        return None
    path = labels_file if labels_file.is_absolute() or base_dir is None else base_dir / labels_file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ModelError(f"labels_file: expected a readable text file, got {path} ({e.strerror})") from e
    # Keep interior blank lines (an unused class index still has a slot); drop the trailing newline only.
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise ModelError(f"labels_file: expected one label per line, got an empty file {path}")
    return lines


def _classification(cfg: Any, labels: list[str] | None, names: Sequence[str] | None) -> Postprocess:
    from edge_agent.postprocess.classification import Classification

    return Classification(cfg, labels)


def _detection(cfg: Any, labels: list[str] | None, names: Sequence[str] | None) -> Postprocess:
    from edge_agent.postprocess.detection import Detection

    return Detection(cfg, labels)


def _embedding(cfg: Any, labels: list[str] | None, names: Sequence[str] | None) -> Postprocess:
    from edge_agent.postprocess.embedding import Embedding

    return Embedding(cfg)


def _raw(cfg: Any, labels: list[str] | None, names: Sequence[str] | None) -> Postprocess:
    from edge_agent.postprocess.raw import Raw

    return Raw(cfg, names)


def _vad(cfg: Any, labels: list[str] | None, names: Sequence[str] | None) -> Postprocess:
    from edge_agent.postprocess.vad import Vad

    return Vad(cfg)


def _anomaly(cfg: Any, labels: list[str] | None, names: Sequence[str] | None) -> Postprocess:
    from edge_agent.postprocess.anomaly import Anomaly

    return Anomaly(cfg)


# kind → builder. Builders import their module lazily so a kind's dependencies load only when used;
# a new kind is one entry here.
BUILDERS: dict[str, Callable[[Any, list[str] | None, Sequence[str] | None], Postprocess]] = {
    "classification": _classification,
    "yolo": _detection,
    "ssd": _detection,
    "embedding": _embedding,
    "raw": _raw,
    "vad": _vad,
    "anomaly": _anomaly,
}


def build_postprocessor(
    cfg: Tagged,
    base_dir: Path | None = None,
    *,
    output_names: Sequence[str] | None = None,
) -> Postprocess:
    """The decoder for `cfg.kind`. `base_dir` resolves a relative labels_file (the bundle directory, for
    a manifest's; a config's own is already absolute); `output_names` (session output order) is only used
    to name raw outputs."""
    builder = BUILDERS.get(cfg.kind)
    if builder is None:
        raise ModelError(f"postprocess.kind: expected one of {', '.join(sorted(BUILDERS))}, got {cfg.kind}")
    labels = None
    if isinstance(cfg, ClassificationPost | DetectionPost):
        labels = load_labels(cfg.labels, cfg.labels_file, base_dir)
    return builder(cfg, labels, output_names)


def rounded(x: float) -> float:
    """A plain float rounded to 4 decimals: compact JSON and no numpy scalars."""
    return round(float(x), 4)


def as_tensor(out: Any, what: str) -> npt.NDArray[Any]:
    """An output as an ndarray (ORT can return lists for sequence outputs)."""
    if not isinstance(out, np.ndarray):
        raise ModelError(f"{what}: expected a tensor output, got {type(out).__name__}")
    return out
