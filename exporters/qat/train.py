"""Fine-tuning under fake quantization, distilled from the fp32 model itself (no labels needed).

The student is the BatchNorm-folded model with ORT-equivalent fake quantization
(exporters/qat/fakequant.py); the teacher is the original fp32 model on the same, unrounded input,
so the student learns to give fp32's answers through the int8 rounding, its input's included.
Loss: mean squared error of the logits (every class's margin, not only the top one). Adam with a
cosine learning rate over the time budget; the activation ranges are re-measured on the float
student every `recalibrate_every` steps, as ORT's calibrator will measure the fine-tuned model.
Horizontal flips double what a small, unlabelled training set covers.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from exporters.errors import ExportError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QatSettings:
    budget_s: float = 300.0
    lr: float = 1e-5
    batch: int = 8
    recalibrate_every: int = 16
    flip: bool = True
    seed: int = 0
    max_steps: int | None = None  # a fixed step count instead of the time budget (tests, benchmarks)


def _stack(samples: list[np.ndarray]) -> Any:
    import torch

    return torch.from_numpy(np.concatenate(samples, 0).astype(np.float32))


def _step(student: Any, teacher: Any, opt: Any, x: Any) -> tuple[float, int]:
    """One distillation step: (the batch's loss, how many of its top-1 answers matched fp32's)."""
    import torch

    with torch.no_grad():
        target = teacher(x)
    out = student(x)
    loss = torch.nn.functional.mse_loss(out, target)
    opt.zero_grad(set_to_none=True)
    loss.backward()  # type: ignore[no-untyped-call]
    opt.step()
    return float(loss.detach()), int((out.argmax(1) == target.argmax(1)).sum())


def finetune(
    model: Any,
    train: list[np.ndarray],
    calib: list[np.ndarray],
    *,
    per_channel: bool,
    float_output: bool,
    settings: QatSettings,
) -> tuple[Any, dict[str, Any]]:
    """(the fine-tuned float model, what training did) for `model`, an eval-mode nn.Module.

    `train` and `calib` are batch-1 input arrays; `calib` sets the activation ranges, as it will
    for ORT's quantizer.
    """
    import torch

    from exporters.qat import fakequant as fq

    if not train:
        raise ExportError("QAT needs training samples (--train-data or --calib)")
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    teacher = model.eval()
    student = fq.instrument(model, per_channel=per_channel, float_output=float_output)
    calib_batches = [_stack(calib[i : i + settings.batch]) for i in range(0, len(calib), settings.batch)]
    fq.calibrate(student, calib_batches)
    params = [p for p in student.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=settings.lr)
    t0 = time.perf_counter()
    step, seen, agree, loss_sum, epoch = 0, 0, 0, 0.0, 0
    history: list[dict[str, Any]] = []

    def elapsed_fraction() -> float:
        if settings.max_steps is not None:
            return step / settings.max_steps
        return (time.perf_counter() - t0) / settings.budget_s

    def close_interval() -> None:
        nonlocal seen, agree, loss_sum
        if seen:
            history.append(
                {
                    "step": step,
                    "epoch": epoch,
                    "seconds": round(time.perf_counter() - t0, 1),
                    "train_agreement": round(agree / seen, 4),  # fake-quant student vs fp32, as it trained
                    "loss": round(loss_sum / seen, 5),
                }
            )
            log.info("qat %s", history[-1])
        seen, agree, loss_sum = 0, 0, 0.0

    while elapsed_fraction() < 1.0:
        order = rng.permutation(len(train))
        for start in range(0, len(order), settings.batch):
            if elapsed_fraction() >= 1.0:
                break
            x = _stack([train[i] for i in order[start : start + settings.batch]])
            if settings.flip:
                flips = torch.from_numpy(rng.random(x.shape[0]) < 0.5)
                x = torch.where(flips[:, None, None, None], x.flip(-1), x)
            for group in opt.param_groups:
                group["lr"] = settings.lr * 0.5 * (1.0 + math.cos(math.pi * min(elapsed_fraction(), 1.0)))
            loss, agreed = _step(student, teacher, opt, x)
            step += 1
            seen += x.shape[0]
            agree += agreed
            loss_sum += loss * x.shape[0]
            if step % settings.recalibrate_every == 0:
                close_interval()
                fq.calibrate(student, calib_batches)
        else:
            epoch += 1  # a whole pass, not one the budget cut short
    close_interval()
    fq.calibrate(student, calib_batches)  # the ranges ORT's calibrator will find on the result
    notes: dict[str, Any] = {
        **fq.describe(student),
        "steps": step,
        "epochs": round(step * settings.batch / len(train), 2),
        "train_samples": len(train),
        "calib_samples": len(calib),
        "seconds": round(time.perf_counter() - t0, 1),
        "settings": {
            "lr": settings.lr,
            "batch": settings.batch,
            "budget_s": settings.budget_s,
            "flip": settings.flip,
            **({"max_steps": settings.max_steps} if settings.max_steps is not None else {}),
        },
        "history": history,
    }
    return fq.float_copy(student), notes
