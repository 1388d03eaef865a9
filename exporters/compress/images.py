"""Unlabelled images and the teacher's soft targets for distillation and pruning.

Images go through the agent's own Preprocessor (exporters.data.preprocess_image), at the teacher's
input size for its targets and at the student's for training, so a student learns from exactly the
tensors the device will compute. A teacher is any model `edge-export build` reads (ONNX file,
`path.py:factory` with weights, ...) or a bundle directory (its model, preprocessing and labels).
Restricting the teacher to a few of its classes (`pick_classes`, `restrict_onnx`) makes the job a
small model can learn: the classes that actually occur in the device's images.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.bundle.settings import PreprocessConfig
from exporters.data import IMAGE_SUFFIXES, PRESETS, preprocess_image
from exporters.errors import DataError, SourceError, UsageError
from exporters.sources import SourceSpec, load_source

log = logging.getLogger(__name__)

DEFAULT_SIZE = 224


@dataclass(slots=True)
class Teacher:
    """An fp32 ONNX teacher and how its inputs are made."""

    onnx_path: Path
    preprocess: PreprocessConfig
    size: tuple[int, int]  # width, height
    labels: list[str] | None = None
    notes: dict[str, str] = field(default_factory=dict)


def read_images(folder: Path) -> list[np.ndarray]:
    """Every image in `folder` (sorted by name) as BGR uint8, or DataError naming the folder."""
    import cv2

    if not folder.is_dir():
        raise DataError(f"{folder}: expected a folder of images, found none there")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    out = []
    for p in files:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DataError(f"{p}: not a readable image")
        out.append(bgr)
    return out


def tensors(images: list[np.ndarray], cfg: PreprocessConfig, size: tuple[int, int]) -> np.ndarray:
    """[N, C, H, W] float32 (or the config's layout) through the agent's Preprocessor."""
    return np.concatenate([preprocess_image(im, cfg, size) for im in images]).astype(np.float32)


def first_input(onnx_path: Path) -> tuple[str, list[int | str]]:
    """The name and shape (ints or dim names) of the model's first input."""
    from exporters.metrics import session

    inp = session(onnx_path).get_inputs()[0]
    return inp.name, [d if isinstance(d, int) else str(d) for d in inp.shape]


def _input_size(onnx_path: Path) -> tuple[int, int]:
    shape = first_input(onnx_path)[1]
    h, w = (shape[2], shape[3]) if len(shape) == 4 else (None, None)
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        return w, h
    return DEFAULT_SIZE, DEFAULT_SIZE


def load_teacher(
    source: str, work: Path, *, weights: Path | None = None, preprocess: str = "imagenet"
) -> Teacher:
    """The teacher as an fp32 ONNX file; a missing file or unknown preset is a clear error."""
    path = Path(source)
    if ":" not in source and not path.exists():
        raise SourceError(f"teacher {source}: no such file or directory")
    if weights is not None and not weights.is_file():
        raise SourceError(f"teacher weights {weights}: no such file")
    if path.is_dir() and (path / "manifest.json").is_file():
        from edge_agent.bundle.verify import verify_bundle

        bundle = verify_bundle(path)
        m = bundle.manifest
        if m.preprocess is None or m.task != "classification":
            raise UsageError(f"teacher {source}: expected an image classification bundle, got task {m.task}")
        labels = getattr(m.postprocess, "labels", None)
        onnx_path = bundle.model_path
        return Teacher(
            onnx_path,
            m.preprocess,
            m.preprocess.size or _input_size(onnx_path),
            labels,
            {"kind": "bundle", "model_id": m.model_id},
        )
    if preprocess not in PRESETS:
        raise UsageError(f"--preprocess {preprocess}: expected one of {', '.join(PRESETS)}")
    shape = (1, 3, DEFAULT_SIZE, DEFAULT_SIZE)
    loaded = load_source(SourceSpec(source, weights=weights, input_shape=shape, task="classification"), work)
    size = _input_size(loaded.onnx_path)
    return Teacher(loaded.onnx_path, PRESETS[preprocess], size, loaded.labels, {"kind": loaded.kind})


def predict(onnx_path: Path, x: np.ndarray, *, batch: int = 16) -> np.ndarray:
    """The model's first output over `x`, in batches when its batch dimension is dynamic."""
    from exporters.metrics import session

    sess = session(onnx_path)
    inp = sess.get_inputs()[0]
    step = batch if not isinstance(inp.shape[0], int) else 1
    outs = [sess.run(None, {inp.name: x[i : i + step]})[0] for i in range(0, len(x), step)]
    return np.concatenate(outs).astype(np.float32)


def pick_classes(logits: np.ndarray, n: int) -> list[int]:
    """The `n` classes the teacher most often ranks first on these images (ties: lower index)."""
    if n < 2:
        raise UsageError(f"--classes {n}: expected at least 2")
    counts = np.bincount(logits.argmax(1), minlength=logits.shape[1])
    seen = int((counts > 0).sum())
    if seen < n:
        raise DataError(
            f"the teacher ranks only {seen} classes first on these images; --classes {n} needs {n}"
        )
    order = sorted(range(len(counts)), key=lambda c: (-counts[c], c))
    return sorted(order[:n])


def _slice_gemm(graph: Any, output: str, classes: list[int]) -> bool:
    """Cut the rows of the Gemm that writes `output` (weights and bias as initializers) to `classes`:
    the restricted teacher then carries, and is measured with, only the classifier rows it uses."""
    from onnx import numpy_helper

    node = next((n for n in graph.node if output in n.output), None)
    inits = {t.name: t for t in graph.initializer}
    if node is None or node.op_type != "Gemm" or any(i not in inits for i in node.input[1:]):
        return False
    trans_b = any(a.name == "transB" and a.i for a in node.attribute)
    for pos, name in enumerate(node.input[1:], start=1):
        arr = numpy_helper.to_array(inits[name])
        axis = 0 if pos == 2 or trans_b else 1  # bias [N]; weights [N, K] with transB, else [K, N]
        if arr.ndim == 0 or (pos == 2 and arr.ndim != 1):
            return False
        inits[name].CopyFrom(numpy_helper.from_array(np.take(arr, classes, axis=axis), name))
    return True


def restrict_onnx(src: Path, dst: Path, classes: list[int]) -> Path:
    """`src` with its first output cut to `classes`: the teacher for one job. The final Gemm's rows
    are cut where it has one with constant weights, else a Gather on the last axis is appended."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    out = graph.output[0]
    dims = out.type.tensor_type.shape.dim
    if len(dims) != 2:
        raise UsageError(
            f"{src.name}: restricting classes needs a [batch, classes] output, got rank {len(dims)}"
        )
    full = dims[1].dim_value
    if full and max(classes) >= full:
        raise UsageError(f"--class-ids: the teacher has {full} classes, got {max(classes)}")
    if not _slice_gemm(graph, out.name, classes):
        idx = numpy_helper.from_array(np.asarray(classes, np.int64), "edge_restrict_classes")
        graph.initializer.append(idx)
        raw = out.name + "_all_classes"
        for node in graph.node:
            node.output[:] = [raw if o == out.name else o for o in node.output]
        graph.node.append(helper.make_node("Gather", [raw, idx.name], [out.name], axis=1))
    dims[1].dim_value = len(classes)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return dst


def preset_name(cfg: PreprocessConfig) -> str:
    """The build's --preprocess preset whose pixel scaling `cfg` uses (a bundle teacher's own)."""
    for name, preset in PRESETS.items():
        if (preset.scale, preset.mean, preset.std) == (cfg.scale, cfg.mean, cfg.std):
            return name
    raise UsageError(
        f"the teacher's pixel scaling (scale {cfg.scale}, mean {cfg.mean}, std {cfg.std}) "
        f"is none of {', '.join(PRESETS)}"
    )


def class_labels(teacher: Teacher, classes: list[int]) -> list[str]:
    """The restricted classes' labels: the teacher's own where it has them, else `class_<index>`."""
    names = teacher.labels or []
    return [names[c] if c < len(names) else f"class_{c}" for c in classes]
