"""Structured (channel) pruning with a distillation fine-tune to recover, then the normal build.

torch-pruning (`torch_pruning`, pinned) builds the model's dependency graph, so removing a conv's
output channels also removes the matching BatchNorm entries, the next layer's input channels and,
across MobileNetV2's residual adds, every layer tied to the same channels: real graph surgery we
do not write by hand. Importance is the L2 norm of each channel group's weights; the classifier's
outputs are never pruned. `sparsity` is the fraction of channels removed from every prunable
layer (parameters fall faster, roughly with its square: the report gives the real counts).

Each pruned copy is fine-tuned to the unpruned model's logits (KL·T², exporters/compress/kd.py):
no labels needed, and what it recovers is agreement with the model it replaces. The report holds
the curve (parameters, MACs, file size, latency, held-out top-1 agreement with the unpruned model)
for every sparsity; the smallest model whose agreement meets `min_agreement` is built, quantized,
gated and signed. None meeting it raises GateFailedError with the curve.
"""

from __future__ import annotations

import copy
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from exporters.compress.images import pick_classes, predict, read_images, tensors
from exporters.compress.kd import FitSettings, fit, random_flip_shift
from exporters.compress.stats import cost, onnx_macs, onnx_params, to_onnx
from exporters.data import PRESETS
from exporters.errors import GateFailedError, UsageError
from exporters.pipeline import ExportOptions, ExportResult, export_model

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PruneOptions:
    source: str  # path.py:factory or package.module:factory
    data: Path  # unlabelled training images
    out: Path
    weights: Path | None = None
    holdout: Path | None = None  # default: every 4th of `data`
    preprocess: str = "imagenet"
    classes: int | None = 5  # restrict the classifier to its N most frequent classes first; None: all
    class_ids: list[int] | None = None
    sparsities: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75])
    input_size: int = 224
    min_agreement: float = 0.9
    fit: FitSettings = field(default_factory=FitSettings)
    augment: bool = True
    target: str = "generic-x86"
    max_drop: float | None = None
    key: Path | None = None
    archive: bool = False
    force: bool = False
    runs: int = 30
    keep: Path | None = None
    progress: bool = False


@dataclass(slots=True)
class PruneResult:
    build: ExportResult
    report: dict[str, Any]


def check_sparsities(values: list[float]) -> list[float]:
    """Sorted unique sparsities, each in [0, 1); else UsageError naming the value."""
    if not values:
        raise UsageError("--sparsity: expected at least one fraction in [0, 1)")
    for v in values:
        if not 0.0 <= v < 1.0:
            raise UsageError(f"--sparsity {v}: expected a fraction of channels in [0, 1)")
    return sorted(set(values))


def _last_linear(model: Any) -> tuple[str, Any]:
    from torch import nn

    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise UsageError("pruning a classifier needs a final nn.Linear layer; the model has none")
    return found[-1]


def restrict_classes(model: Any, classes: list[int]) -> Any:
    """The model with its final Linear cut to the rows of `classes` (the job's classes only)."""
    import torch
    from torch import nn

    name, old = _last_linear(model)
    new = nn.Linear(old.in_features, len(classes), bias=old.bias is not None)
    idx = torch.as_tensor(classes)
    with torch.no_grad():
        new.weight.copy_(old.weight[idx])
        if old.bias is not None:
            new.bias.copy_(old.bias[idx])
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, new)
    return model


def prune_channels(model: Any, sparsity: float, size: tuple[int, int]) -> Any:
    """A pruned copy of `model`: `sparsity` of every prunable layer's channels removed (torch-pruning)."""
    import torch
    import torch_pruning as tp

    pruned = copy.deepcopy(model).eval()
    if sparsity == 0.0:
        return pruned
    example = torch.zeros(1, 3, size[1], size[0])
    pruner = tp.pruner.MetaPruner(
        pruned,
        example,
        importance=tp.importance.GroupMagnitudeImportance(p=2),
        pruning_ratio=sparsity,
        ignored_layers=[_last_linear(pruned)[1]],
        round_to=8,  # int8 GEMM kernels and NPUs work in blocks; 8 keeps widths friendly
    )
    pruner.step()
    return pruned


def _torch_logits(model: Any, x: np.ndarray, batch: int = 32) -> np.ndarray:
    import torch

    model.eval()
    with torch.inference_mode():
        return np.concatenate(
            [model(torch.from_numpy(x[i : i + batch])).numpy() for i in range(0, len(x), batch)]
        )


def prune(opts: PruneOptions) -> PruneResult:
    """The pruning curve, then the build of the smallest variant that passes `min_agreement`."""
    from exporters.sources.torch_module import build_module

    sparsities = check_sparsities(opts.sparsities)
    opts.fit.check()
    if not 0.0 < opts.min_agreement <= 1.0:
        raise UsageError(f"--min-agreement {opts.min_agreement}: expected 0 < value <= 1")
    if opts.preprocess not in PRESETS:
        raise UsageError(f"--preprocess {opts.preprocess}: expected one of {', '.join(PRESETS)}")
    if opts.input_size < 16:
        raise UsageError(f"--input-size {opts.input_size}: expected at least 16 pixels")
    size = (opts.input_size, opts.input_size)
    cfg = PRESETS[opts.preprocess]
    images = read_images(opts.data)
    if opts.holdout is not None:
        train, held = images, read_images(opts.holdout)
    else:
        train, held = [im for i, im in enumerate(images) if i % 4 != 3], images[3::4]
    x, hx = tensors(train, cfg, size), tensors(held, cfg, size)
    base = build_module(opts.source, opts.weights)
    full = _torch_logits(base, x)
    classes = opts.class_ids or (
        pick_classes(full, opts.classes) if opts.classes else list(range(full.shape[1]))
    )
    base = restrict_classes(base, classes)
    t_train, t_held = _torch_logits(base, x), _torch_logits(base, hx)
    ref = t_held.argmax(1)
    curve: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edge-prune-") as tmp:
        work = opts.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        paths: dict[float, Path] = {}
        for s in sparsities:
            model = prune_channels(base, s, size)
            fitted = None
            if s > 0:
                log.info("sparsity %.2f: fine-tuning to the unpruned model's outputs", s)
                fitted = fit(
                    model,
                    x,
                    t_train,
                    hx,
                    t_held,
                    settings=opts.fit,
                    augment=random_flip_shift if opts.augment else None,
                )
            path = paths[s] = to_onnx(model, size, work / f"pruned-{round(s * 100):02d}.onnx")
            agree = float((predict(path, hx).argmax(1) == ref).mean())
            curve.append(
                {
                    "sparsity": s,
                    "params": onnx_params(path),
                    "macs": onnx_macs(path, size),
                    **cost(path, hx, target=opts.target, runs=opts.runs),
                    "top1_agreement": round(agree, 4),
                    "passed": agree >= opts.min_agreement - 1e-12,
                    "fit_seconds": fitted.seconds if fitted else 0.0,
                    "fit_epochs": fitted.epochs if fitted else 0,
                }
            )
        report: dict[str, Any] = {
            "source": opts.source,
            "classes": classes,
            "input": list(size),
            "min_agreement": opts.min_agreement,
            "data": {"train_n": len(train), "holdout_n": len(held)},
            "curve": curve,
        }
        passing = [r for r in curve if r["passed"]]
        if not passing:
            best = max(r["top1_agreement"] for r in curve)
            raise GateFailedError(
                f"no pruned variant reaches top-1 agreement {opts.min_agreement} with the unpruned model "
                f"(best {best:.4f}); no bundle written",
                {"prune": report},
            )
        chosen = min(passing, key=lambda r: (r["params"], -r["sparsity"]))
        labels = work / "labels.txt"
        labels.write_text("\n".join(f"class_{c}" for c in classes) + "\n", encoding="utf-8")
        build = export_model(
            ExportOptions(
                source=str(paths[chosen["sparsity"]]),
                out=opts.out,
                target=opts.target,
                task="classification",
                calib=opts.data,
                holdout=opts.holdout,
                preprocess=opts.preprocess,
                labels=labels,
                max_drop=opts.max_drop,
                key=opts.key,
                archive=opts.archive,
                force=opts.force,
                runs=opts.runs,
                progress=opts.progress,
            )
        )
    report["chosen"] = {
        "sparsity": chosen["sparsity"],
        "params": chosen["params"],
        "top1_agreement": chosen["top1_agreement"],
    }
    report["bundle"] = {
        "path": str(build.bundle.root),
        "gate": build.report["gate"].get("value"),
        "quantization": build.bundle.manifest.quantization.mode,
    }
    return PruneResult(build, report)
