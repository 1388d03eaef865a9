"""Knowledge distillation: a small student learns a teacher's outputs on unlabelled images, then goes
through the normal build (quantize, gate, signed bundle).

`distill(DistillOptions(...))` is the Python API and `edge-export distill` fills it. The teacher may be
restricted to the `classes` it most often predicts on the training images (a job, not ImageNet);
the restricted teacher is written out as ONNX too, so teacher and student are measured alike. The
report puts them side by side: top-1 agreement with the teacher on held-out images (student fp32
and the bundled variant), parameters, MACs, file size, latency and an energy estimate per result.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from exporters.compress.images import (
    Teacher,
    class_labels,
    load_teacher,
    pick_classes,
    predict,
    preset_name,
    read_images,
    restrict_onnx,
    tensors,
)
from exporters.compress.kd import FitSettings, fit, random_flip_shift
from exporters.compress.stats import cost, onnx_macs, onnx_params, to_onnx
from exporters.compress.students import build_student
from exporters.errors import DataError, UsageError
from exporters.pipeline import ExportOptions, ExportResult, export_model

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DistillOptions:
    teacher: str  # .onnx, path.py:factory (with teacher_weights), or a bundle directory
    data: Path  # unlabelled training images (a folder)
    out: Path  # the student's bundle directory
    holdout: Path | None = None  # held-out images; default: every 4th of `data`, never trained on
    teacher_weights: Path | None = None
    preprocess: str = "imagenet"  # pixel scaling of teacher and student (a bundle teacher's own wins)
    classes: int | None = 5  # restrict the teacher to its N most frequent classes on `data`; None: all
    class_ids: list[int] | None = None  # or exactly these teacher classes
    # A plain CNN: PyTorch's CPU depthwise-conv backward made mobilenet_v2:0.35 at 128 px train
    # ~7x slower per epoch than cnn:16 here (80 s vs 12 s for 240 images) for a worse start.
    student: str = "cnn:24"
    student_size: int | None = 96  # student's square input side; None: the teacher's width
    hard_labels: Path | None = (
        None  # .npy of class indices (in the student's classes), one per image of `data`
    )
    fit: FitSettings = field(default_factory=FitSettings)
    augment: bool = True
    target: str = "generic-x86"
    max_drop: float | None = None
    key: Path | None = None
    archive: bool = False
    force: bool = False
    runs: int = 30
    keep: Path | None = None  # where to keep the student's .onnx, .pt and the restricted teacher
    progress: bool = False


@dataclass(slots=True)
class DistillResult:
    build: ExportResult
    report: dict[str, Any]


def _split(
    images: list[np.ndarray], holdout: list[np.ndarray] | None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    if holdout is not None:
        return images, holdout
    held = images[3::4]  # exporters.data.split's rule: every 4th sample held out
    train = [im for i, im in enumerate(images) if i % 4 != 3]
    if len(train) < 2 or not held:
        raise DataError(f"need at least 4 training images to hold 1 in 4 out, got {len(images)}")
    return train, held


def _hard(path: Path | None, n: int, classes: int, kept: list[int]) -> np.ndarray | None:
    if path is None:
        return None
    if not path.is_file():
        raise DataError(f"--hard-labels {path}: no such file")
    labels = np.load(path)
    if labels.ndim != 1 or labels.shape[0] != n or labels.dtype.kind not in "iu":
        raise DataError(
            f"--hard-labels {path}: expected {n} integer class indices, got {labels.dtype} {labels.shape}"
        )
    if labels.min() < 0 or labels.max() >= classes:
        raise DataError(
            f"--hard-labels {path}: expected class indices 0..{classes - 1}, "
            f"got {labels.min()}..{labels.max()}"
        )
    return np.asarray(labels[kept], dtype=np.int64)


def side_by_side(
    teacher: Path,
    student: Path,
    bundled: Path,
    *,
    teacher_size: tuple[int, int],
    student_size: tuple[int, int],
    teacher_x: np.ndarray,
    student_x: np.ndarray,
    target: str,
    runs: int,
) -> dict[str, Any]:
    """Teacher, student fp32 and the bundled student on the same held-out images, measured in one run."""
    ref = predict(teacher, teacher_x).argmax(1)
    rows: dict[str, Any] = {}
    for name, path, x, size in (
        ("teacher", teacher, teacher_x, teacher_size),
        ("student_fp32", student, student_x, student_size),
        ("student_bundle", bundled, student_x, student_size),
    ):
        rows[name] = {
            "top1_agreement_with_teacher": round(float((predict(path, x).argmax(1) == ref).mean()), 4),
            "input": list(size),
            **cost(path, x, target=target, runs=runs),
        }
        if name != "student_bundle":  # QDQ weights are int8 initializers: count the fp32 graphs
            rows[name] |= {"params": onnx_params(path), "macs": onnx_macs(path, size)}
    t, s = rows["teacher"], rows["student_fp32"]
    rows["ratios"] = {
        "params": round(t["params"] / s["params"], 2),
        "macs": round(t["macs"] / s["macs"], 2),
        "size_bundle": round(t["size_bytes"] / rows["student_bundle"]["size_bytes"], 2),
        "latency_bundle": round(t["p50_ms"] / rows["student_bundle"]["p50_ms"], 2),
    }
    return rows


def distill(opts: DistillOptions) -> DistillResult:
    """Distil, build and sign the student; GateFailedError (from the build) if its int8 variant misses."""
    opts.fit.check()
    if opts.student_size is not None and opts.student_size < 16:
        raise UsageError(f"--student-size {opts.student_size}: expected at least 16 pixels")
    with tempfile.TemporaryDirectory(prefix="edge-distill-") as tmp:
        work = opts.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        teacher: Teacher = load_teacher(
            opts.teacher, work / "teacher-src", weights=opts.teacher_weights, preprocess=opts.preprocess
        )
        all_images = read_images(opts.data)
        train, held = _split(all_images, read_images(opts.holdout) if opts.holdout else None)
        kept = (
            list(range(len(all_images)))
            if opts.holdout
            else [i for i in range(len(all_images)) if i % 4 != 3]
        )
        tx, hx = (
            tensors(train, teacher.preprocess, teacher.size),
            tensors(held, teacher.preprocess, teacher.size),
        )
        full = predict(teacher.onnx_path, tx)
        classes = opts.class_ids or (
            pick_classes(full, opts.classes) if opts.classes else list(range(full.shape[1]))
        )
        teacher_onnx = restrict_onnx(teacher.onnx_path, work / "teacher.onnx", classes)
        t_train, t_held = full[:, classes], predict(teacher_onnx, hx)
        labels = class_labels(teacher, classes)
        side = opts.student_size or teacher.size[0]
        size = (side, side)
        sx, shx = tensors(train, teacher.preprocess, size), tensors(held, teacher.preprocess, size)
        student = build_student(opts.student, len(classes))
        hard = _hard(opts.hard_labels, len(all_images), len(classes), kept)
        log.info(
            "distilling %s into %s on %d images (%d held out), %d classes",
            opts.teacher,
            opts.student,
            len(train),
            len(held),
            len(classes),
        )
        result = fit(
            student,
            sx,
            t_train,
            shx,
            t_held,
            settings=opts.fit,
            hard=hard,
            augment=random_flip_shift if opts.augment else None,
        )
        student_onnx = to_onnx(student, size, work / "student.onnx")
        import torch

        torch.save(student.state_dict(), work / "student.pt")
        (work / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
        build = export_model(
            ExportOptions(
                source=str(student_onnx),
                out=opts.out,
                target=opts.target,
                task="classification",
                calib=opts.data,
                holdout=opts.holdout,
                preprocess=preset_name(teacher.preprocess),
                resize=teacher.preprocess.resize,
                pad_value=teacher.preprocess.pad_value if teacher.preprocess.resize == "letterbox" else None,
                labels=work / "labels.txt",
                max_drop=opts.max_drop,
                key=opts.key,
                archive=opts.archive,
                force=opts.force,
                runs=opts.runs,
                progress=opts.progress,
            )
        )
        compare = side_by_side(
            teacher_onnx,
            student_onnx,
            build.bundle.model_path,
            teacher_size=teacher.size,
            student_size=size,
            teacher_x=hx,
            student_x=shx,
            target=opts.target,
            runs=opts.runs,
        )
        report: dict[str, Any] = {
            "teacher": {"source": opts.teacher, **teacher.notes, "classes": classes, "labels": labels},
            "student": {"spec": opts.student, "input": list(size)},
            "data": {"train_n": len(train), "holdout_n": len(held), "hard_labels": hard is not None},
            "fit": {
                "temperature": opts.fit.temperature,
                "alpha": opts.fit.alpha,
                "epochs": result.epochs,
                "stopped": result.stopped,
                "seconds": result.seconds,
                "cpu_seconds": result.cpu_seconds,
                "best_holdout_agreement": round(result.best_agreement, 4),
                "history": result.history,
            },
            "compare": compare,
            "bundle": {
                "path": str(build.bundle.root),
                "gate": build.report["gate"].get("value"),
                "quantization": build.bundle.manifest.quantization.mode,
            },
        }
        return DistillResult(build, report)
