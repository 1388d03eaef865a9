"""A trained torch classifier → ONNX → the ordinary build (`export_model`) → a signed bundle.

The trained module (backbone and head as one graph, logits out: the agent's classification
postprocess applies softmax to rows that are not probabilities) is exported once at batch 1, then
built like any other ONNX source: quantized for the target, gated against that fp32 model on the
held-out split, measured and signed, with the class names as labels. Afterwards the bundle's own
model runs on the held-out split against the true labels: the accuracy a device will get.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from edge_agent.bundle.manifest import AudioSpec
from exporters.metrics import run
from exporters.pipeline import ExportOptions, ExportResult, export_model
from exporters.train.loop import FitResult, accuracy
from exporters.train.settings import BuildOptions

log = logging.getLogger(__name__)

INPUT = "input"
OUTPUT = "logits"
CALIB_N = 64  # calibration samples (the build's default limit)


@dataclass(slots=True)
class Trained:
    """A trained classifier and the data to build and judge its bundle with."""

    module: nn.Module  # [1, ...] float input -> [1, classes] logits
    classes: list[str]
    calib: npt.NDArray[np.float32]  # model inputs, samples on axis 0 (training examples)
    holdout: npt.NDArray[np.float32]  # model inputs of the held-out split
    holdout_labels: npt.NDArray[np.int64]
    fit: FitResult
    preprocess: str | None = None  # the image preset the bundle records (None: a feature vector)
    train_accuracy: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)  # trainer-specific report entries
    audio: AudioSpec | None = None  # an audio model: the rate and windows the agent's source gives it
    keep_float: str | None = None  # node names containing this stay float in every quantized variant


def to_onnx(module: nn.Module, example: npt.NDArray[np.float32], path: Path) -> Path:
    """The module as one fp32 ONNX file at batch 1 (torch's legacy exporter: one file, no dynamo)."""
    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module,
            (torch.from_numpy(example),),
            str(path),
            input_names=[INPUT],
            output_names=[OUTPUT],
            opset_version=17,
            dynamo=False,
        )
    return path


def float_nodes(path: Path, part: str) -> tuple[str, ...]:
    """The names of the nodes of the ONNX model at `path` that contain `part`."""
    import onnx

    return tuple(n.name for n in onnx.load(str(path)).graph.node if part in n.name)


def bundle_accuracy(model: Path, x: npt.NDArray[np.float32], y: npt.NDArray[np.int64]) -> float:
    """Top-1 accuracy of an ONNX classifier (ONNX Runtime, CPU) on inputs `x` against labels `y`."""
    outs = run(model, [{INPUT: x[i : i + 1]} for i in range(len(x))])
    pred = np.asarray([int(np.argmax(o[OUTPUT])) for o in outs])
    return float(np.mean(pred == y))


def training_report(t: Trained, holdout_fp32: float) -> dict[str, Any]:
    counts = np.bincount(t.holdout_labels, minlength=len(t.classes))
    return {
        "classes": t.classes,
        "chance": round(1.0 / len(t.classes), 4),
        "majority_chance": round(float(counts.max() / counts.sum()), 4),
        "train_accuracy": round(t.train_accuracy, 4),
        "val_accuracy": round(t.fit.best_val_accuracy, 4),
        "holdout_n": len(t.holdout_labels),
        "holdout_accuracy_fp32": round(holdout_fp32, 4),
        **t.fit.report(),
        **t.notes,
    }


def build_bundle(t: Trained, opts: BuildOptions) -> tuple[ExportResult, dict[str, Any]]:
    """Export `t`'s module, build its bundle; returns the build's result and the training report
    (with `holdout_accuracy_bundle`: the bundle's own model on the held-out split)."""
    held_t = torch.from_numpy(t.holdout)
    fp32_acc = accuracy(t.module, (held_t, torch.from_numpy(t.holdout_labels)))
    with tempfile.TemporaryDirectory(prefix="edge-train-") as tmp:
        work = Path(tmp)
        onnx_path = to_onnx(t.module, t.holdout[:1], work / "trained.onnx")
        # The build calibrates on its first samples: a seeded shuffle so every class is among them.
        order = np.random.default_rng(0).permutation(len(t.calib))[:CALIB_N]
        np.save(work / "calib.npy", t.calib[order])
        np.save(work / "holdout.npy", t.holdout)
        labels = work / "labels.txt"
        labels.write_text("\n".join(t.classes) + "\n", encoding="utf-8")
        training = training_report(t, fp32_acc)
        result = export_model(
            ExportOptions(
                source=str(onnx_path),
                out=opts.out,
                target=opts.target,
                name=opts.name,
                task="classification",
                calib=work / "calib.npy",
                holdout=work / "holdout.npy",
                preprocess=t.preprocess,
                resize="stretch" if t.preprocess else None,
                labels=labels,
                max_drop=opts.max_drop,
                quantize=opts.quantize,
                key=opts.key,
                archive=opts.archive,
                force=opts.force,
                runs=opts.runs,
                threads=opts.threads,
                measure=opts.measure,
                progress=opts.progress,
                skip_rungs=opts.skip_rungs,
                holdout_limit=max(200, len(t.holdout)),
                report_extra={"training": training},
                audio=t.audio,
                exclude=float_nodes(onnx_path, t.keep_float) if t.keep_float else (),
            )
        )
    training["holdout_accuracy_bundle"] = round(
        bundle_accuracy(result.bundle.model_path, t.holdout, t.holdout_labels), 4
    )
    return result, training
