"""The distillation loss and a small training loop for it, on tensors held in memory.

Loss (Hinton et al. 2015): KL(softmax(teacher / T) || softmax(student / T)) · T², the T² keeping
the soft term's gradients at the scale of a hard-label loss; with hard labels, mixed as
alpha · soft + (1 - alpha) · cross-entropy. The loop keeps the weights with the best held-out
top-1 agreement with the teacher, stops at a time budget, an epoch cap or when agreement has not
risen for `patience` epochs. Not exporters/train/loop.fit (merged after this was written): that
loop's targets are integer labels (its train accuracy compares argmax with them), where this one
trains on float teacher logits per sample, augments batches and runs a one-cycle schedule.
Letting loop.fit take [N, K] float targets would make it serve both; until then, two loops.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exporters.errors import UsageError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FitSettings:
    temperature: float = 4.0
    alpha: float = 1.0  # weight of the soft term; 1 - alpha goes to hard labels when given
    lr: float = 3e-3
    batch: int = 32
    max_epochs: int = 30
    budget_s: float = 120.0
    patience: int = 6
    seed: int = 0

    def check(self) -> None:
        if not self.temperature > 0:
            raise UsageError(f"--temperature {self.temperature}: expected > 0")
        if not 0.0 <= self.alpha <= 1.0:
            raise UsageError(f"--alpha {self.alpha}: expected 0..1")
        if self.max_epochs < 1 or self.batch < 1:
            raise UsageError(f"--epochs {self.max_epochs}, batch {self.batch}: expected >= 1")
        if not self.budget_s > 0:
            raise UsageError(f"--budget {self.budget_s}: expected seconds > 0")


@dataclass(slots=True)
class FitResult:
    best_agreement: float
    epochs: int
    seconds: float
    cpu_seconds: float
    stopped: str
    history: list[dict[str, float]] = field(default_factory=list)


def kd_loss(student: Any, teacher: Any, temperature: float, hard: Any = None, alpha: float = 1.0) -> Any:
    """KL·T² between softened distributions, mixed with cross-entropy on `hard` labels if given."""
    from torch.nn import functional

    t = temperature
    soft = functional.kl_div(
        functional.log_softmax(student / t, 1),
        functional.log_softmax(teacher / t, 1),
        reduction="batchmean",
        log_target=True,
    )
    loss = soft * (t * t)
    if hard is not None and alpha < 1.0:
        loss = alpha * loss + (1.0 - alpha) * functional.cross_entropy(student, hard)
    return loss


def agreement(model: Any, x: np.ndarray, teacher_logits: np.ndarray, batch: int = 64) -> float:
    """Top-1 agreement of `model` (torch, eval mode) with the teacher's logits on `x`."""
    import torch

    model.eval()
    with torch.inference_mode():
        preds = [model(torch.from_numpy(x[i : i + batch])).argmax(1).numpy() for i in range(0, len(x), batch)]
    return float((np.concatenate(preds) == teacher_logits.argmax(1)).mean())


def fit(
    model: Any,
    x: np.ndarray,
    teacher_logits: np.ndarray,
    x_val: np.ndarray,
    val_logits: np.ndarray,
    *,
    settings: FitSettings,
    hard: np.ndarray | None = None,
    augment: Callable[[Any], Any] | None = None,
    progress: Callable[[dict[str, float]], None] | None = None,
) -> FitResult:
    """Train `model` in place on (x, teacher_logits); leave it holding its best held-out weights."""
    import torch

    settings.check()
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=1e-4)
    steps = settings.max_epochs * max(1, -(-len(x) // settings.batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, settings.lr, total_steps=steps, pct_start=0.15)
    xt, tt = torch.from_numpy(x), torch.from_numpy(teacher_logits)
    ht = torch.from_numpy(hard.astype(np.int64)) if hard is not None else None
    best, best_state, stale, stopped = (
        agreement(model, x_val, val_logits),
        copy.deepcopy(model.state_dict()),
        0,
        "epochs",
    )
    t0, c0 = time.perf_counter(), time.process_time()
    history: list[dict[str, float]] = []
    epoch = 0
    for epoch in range(1, settings.max_epochs + 1):
        model.train()
        total = 0.0
        for idx in np.array_split(rng.permutation(len(x)), max(1, len(x) // settings.batch)):
            ix = torch.from_numpy(idx)
            xb = xt[ix] if augment is None else augment(xt[ix])
            loss = kd_loss(
                model(xb), tt[ix], settings.temperature, ht[ix] if ht is not None else None, settings.alpha
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        val = agreement(model, x_val, val_logits)
        row = {
            "epoch": epoch,
            "loss": round(total / len(x), 4),
            "val_agreement": round(val, 4),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        history.append(row)
        log.info("epoch %d loss %.4f held-out agreement %.4f", epoch, row["loss"], val)
        if progress is not None:
            progress(row)
        if val > best:
            best, best_state, stale = val, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
        if stale >= settings.patience:
            stopped = "patience"
            break
        if time.perf_counter() - t0 >= settings.budget_s:
            stopped = "budget"
            break
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(
        best, epoch, round(time.perf_counter() - t0, 1), round(time.process_time() - c0, 1), stopped, history
    )


def random_flip_shift(xb: Any) -> Any:
    """Cheap augmentation for a handful of photos: horizontal flips and shifts of up to 1/8."""
    import torch

    flip = torch.rand(len(xb)) < 0.5
    xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
    h = xb.shape[2]
    dy, dx = (int(v) for v in torch.randint(-(h // 8), h // 8 + 1, (2,)))
    return torch.roll(xb, (dy, dx), (2, 3))
