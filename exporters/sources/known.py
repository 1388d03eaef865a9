"""What a model's own code does to an image before inference, where the exporter can know it.

An ONNX file rarely says how its inputs were made. Two ways to know: the file's metadata (Ultralytics
exports name their author and classes; YOLO's own predictor letterboxes with grey 114), or the file
itself, by its sha256, for models whose package ships the preprocessing as code. A model found here
gets these defaults; `--preprocess`, `--resize`, `--pad-value` and `--labels` still win.
"""

from __future__ import annotations

import ast
import logging
from dataclasses import dataclass
from pathlib import Path

from edge_agent.bundle.verify import sha256_file

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KnownPreprocess:
    preset: str
    resize: str
    pad_value: int
    labels: tuple[str, ...] | None
    why: str


# sha256 of the model file -> what its own code does.
BY_SHA256: dict[str, KnownPreprocess] = {
    # occular-deskew 0.5.0, weights/orientation_orinet_fp32.onnx: orient_onnx.py letterboxes to
    # 320x320 on white, ImageNet mean/std, RGB; class k means "rotated k x 90 degrees clockwise".
    "a11876926688aaccccd3010174b14f20f2ffc4b153c0940c7059dd1633f1e7da": KnownPreprocess(
        preset="imagenet",
        resize="letterbox",
        pad_value=255,
        labels=("upright", "rotated_90_cw", "rotated_180", "rotated_270_cw"),
        why="OriNet (occular-deskew): its orient_onnx.py letterboxes on white",
    ),
}


def _ultralytics(meta: dict[str, str]) -> KnownPreprocess | None:
    if meta.get("author") != "Ultralytics":
        return None
    labels: tuple[str, ...] | None = None
    try:
        names = ast.literal_eval(meta.get("names", ""))  # a dict literal {0: 'person', ...}
        if isinstance(names, dict) and sorted(names) == list(range(len(names))):
            labels = tuple(str(names[i]) for i in range(len(names)))
    except (ValueError, SyntaxError):
        log.debug("Ultralytics metadata 'names' is not a dict literal: %r", meta.get("names"))
    return KnownPreprocess(
        preset="unit",
        resize="letterbox",
        pad_value=114,
        labels=labels,
        why="Ultralytics export (metadata author): its predictor letterboxes on grey 114",
    )


def known_preprocess(path: Path) -> KnownPreprocess | None:
    """The preprocessing `path`'s own code applies, when this file or its metadata says; else None."""
    import onnx

    found = BY_SHA256.get(sha256_file(path))
    if found is not None:
        return found
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # onnx raises DecodeError/OSError/ValueError for a bad file: prepare reports it
        return None
    return _ultralytics({p.key: p.value for p in model.metadata_props})
