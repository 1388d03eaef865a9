"""Train a keyword spotter and build its bundle: corpus → clips → fit → ONNX → export_model.

The trained graph takes raw 16 kHz samples ([1, window]) and returns class probabilities, so the
agent's audio source feeds it as it feeds silero-vad: `chunk` new samples after `context` of the
previous ones (the bundle's `audio` section gives both). The export is the same as any model's
(exporters/pipeline.py): quantized, gated on the held-out clips (voices never trained on), timed,
signed. The report's `training` section holds the loop's history and the held-out accuracy of the
bundled model against the truth, beside chance.
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from edge_agent.bundle.manifest import AudioSpec
from exporters.errors import UsageError
from exporters.metrics import run
from exporters.pipeline import ExportOptions, ExportResult, export_model
from exporters.train.kws.clips import Corpus, TrainClips, fixed_clips
from exporters.train.kws.features import MelSpec
from exporters.train.kws.model import KwsNet, WithSoftmax
from exporters.train.loop import FitResult, fit

log = logging.getLogger(__name__)
INPUT, OUTPUT = "audio", "probs"
OPSET = 17


@dataclass(slots=True)
class KwsOptions:
    """What `train_kws` trains and how; `export` carries the bundle options (target, key, ...)."""

    out: Path
    clip_s: float = 1.0  # the model's window
    hop_s: float = 0.256  # new audio per model call on the device (the source's `chunk`)
    width: int = 64
    budget_s: float = 120.0
    max_epochs: int = 40
    patience: int = 8
    lr: float = 3e-3
    batch_size: int = 64
    seed: int = 0
    progress: bool = True
    export: dict[str, Any] = field(default_factory=dict)  # more ExportOptions fields


@dataclass(slots=True)
class KwsResult:
    export: ExportResult
    fit: FitResult
    accuracy: dict[str, Any]


def window_samples(opts: KwsOptions, rate: int) -> tuple[int, int]:
    """(window, chunk) in samples; UsageError when they make no sense together."""
    window, chunk = round(opts.clip_s * rate), round(opts.hop_s * rate)
    if not 0 < chunk <= window or window < MelSpec().n_fft:
        raise UsageError(
            f"--clip-s {opts.clip_s} / --hop-s {opts.hop_s}: expected 0 < hop <= clip, clip >= 25 ms"
        )
    return window, chunk


def export_onnx(module: torch.nn.Module, window: int, path: Path, output: str = OUTPUT) -> Path:
    """`module` in eval mode as ONNX: [batch, window] float32 samples in, opset 17, one file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter warns that it is legacy, on purpose
        torch.onnx.export(
            module.eval(),
            (torch.zeros(1, window),),
            str(path),
            input_names=[INPUT],
            output_names=[output],
            dynamic_axes={INPUT: {0: "batch"}, output: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,  # one self-contained file (the dynamo exporter writes weights beside it)
        )
    return path


def front_nodes(path: Path) -> tuple[str, ...]:
    """The log-mel front's node names: kept in float by every quantized variant. An 8-bit raw input
    loses quiet speech (fp32 fed 8-bit-rounded audio agreed with itself on 95 % of held-out clips),
    and 8-bit power spectra lose most of their dynamic range before the log."""
    import onnx

    return tuple(n.name for n in onnx.load(str(path)).graph.node if "/features/" in n.name)


def accuracy_report(
    probs: npt.NDArray[np.float32], truth: npt.NDArray[np.int64], labels: list[str]
) -> dict[str, Any]:
    """Accuracy against the truth, chance (1 / classes) and the majority-class rate, per class too."""
    pred = probs.argmax(axis=1)
    counts = np.bincount(truth, minlength=len(labels))
    per_class = {
        lab: round(float((pred[truth == i] == i).mean()), 4) for i, lab in enumerate(labels) if counts[i]
    }
    return {
        "n": len(truth),
        "accuracy": round(float((pred == truth).mean()), 4),
        "chance": round(1 / len(labels), 4),
        "majority": round(float(counts.max() / counts.sum()), 4),
        "per_class": per_class,
    }


def train_kws(corpus: Corpus, opts: KwsOptions) -> KwsResult:
    """Train on `corpus`, export, gate and bundle to `opts.out`."""
    window, chunk = window_samples(opts, corpus.rate)
    if corpus.rate != MelSpec().rate:
        raise UsageError(f"the log-mel front is built for {MelSpec().rate} Hz, the data is {corpus.rate} Hz")
    per_class = max(1, len(corpus.val.audio) // max(1, len(corpus.labels) - 1))
    val_x, val_y = fixed_clips(corpus.val, window, corpus.noises, silence=per_class, seed=opts.seed + 1)
    held_per_class = max(1, len(corpus.holdout.audio) // max(1, len(corpus.labels) - 1))
    held_x, held_y = fixed_clips(
        corpus.holdout, window, corpus.noises, silence=held_per_class, seed=opts.seed + 2
    )
    train = TrainClips(corpus, window, batch_size=opts.batch_size, seed=opts.seed)
    torch.manual_seed(opts.seed)
    net = KwsNet(len(corpus.labels), width=opts.width)
    t0 = time.perf_counter()
    result = fit(
        net,
        train,
        (torch.from_numpy(val_x), torch.from_numpy(val_y)),
        budget_s=opts.budget_s,
        max_epochs=opts.max_epochs,
        patience=opts.patience,
        lr=opts.lr,
        progress=opts.progress,
        batch_size=opts.batch_size,
        seed=opts.seed,
    )
    train_s = time.perf_counter() - t0
    log.info(
        "trained %d epochs in %.1f s, best val accuracy %.3f",
        result.epochs,
        train_s,
        result.best_val_accuracy,
    )
    n_params = sum(p.numel() for p in net.parameters() if p.requires_grad)
    with tempfile.TemporaryDirectory(prefix="kws-") as tmp:
        work = Path(tmp)
        onnx_path = export_onnx(WithSoftmax(net), window, work / "kws.onnx")
        calib_x, _ = fixed_clips(corpus.train, window, corpus.noises, silence=per_class, seed=opts.seed + 3)
        pick = np.random.default_rng(opts.seed).permutation(len(calib_x))[:64]
        np.save(work / "calib.npy", calib_x[pick])
        np.save(work / "holdout.npy", held_x)
        (work / "labels.txt").write_text("\n".join(corpus.labels) + "\n", encoding="utf-8")
        fp32 = _probs(onnx_path, held_x)
        training = {
            "trainer": "kws",
            "classes": corpus.labels,
            "parameters": n_params,
            "clips": {
                "train_recordings": len(corpus.train.audio),
                "val": len(val_y),
                "holdout": len(held_y),
            },
            "window": window,
            "chunk": chunk,
            "fit": result.report(),
            "train_seconds": round(train_s, 1),
            "holdout_fp32": accuracy_report(fp32, held_y, corpus.labels),
        }
        options = {
            "task": "classification",
            "calib": work / "calib.npy",
            "holdout": work / "holdout.npy",
            "labels": work / "labels.txt",
            "progress": opts.progress,
            "holdout_limit": len(held_x),
            "exclude": front_nodes(onnx_path),
            **opts.export,
        }
        spec = AudioSpec(sample_rate=corpus.rate, window=chunk, context=window - chunk)
        exported = export_model(
            ExportOptions(source=str(onnx_path), out=opts.out, audio=spec, training=training, **options)
        )
    bundled = _probs(exported.bundle.model_path, held_x)
    accuracy = {"fp32": training["holdout_fp32"], "bundle": accuracy_report(bundled, held_y, corpus.labels)}
    return KwsResult(exported, result, accuracy)


def _probs(path: Path, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    outs = run(path, [{INPUT: x[i : i + 1]} for i in range(len(x))])
    return np.concatenate([o[OUTPUT] for o in outs]).astype(np.float32)
