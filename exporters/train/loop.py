"""The one training loop every trainer uses (images, sensor windows, audio keywords, distillation).

`fit(model, train, val, ...)` trains `model` in place on the CPU and returns a `FitResult`:

- `train` and `val` are each either a pair of tensors `(inputs, labels)` (batched here, shuffled
  with a seeded generator) or any re-iterable of `(inputs, labels)` batches (a DataLoader, for
  augmentation done on the fly);
- early stopping on validation accuracy: after `patience` epochs without a better one, training
  stops and the best epoch's weights are restored (ties keep the earlier, smaller-step weights);
- a time budget in seconds, checked at epoch boundaries: an epoch starts only when the mean epoch
  so far still fits, so two runs that train the same number of epochs give the same weights;
- seeded and deterministic (torch's deterministic algorithms, a fixed thread count while it runs);
- a tqdm bar over epochs on stderr, off with `progress=False`.

Importing this module has no side effects: torch's global state (threads, seed, determinism) is
set inside `fit` and the thread count and determinism flag restored when it returns.
"""

from __future__ import annotations

import copy
import logging
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

log = logging.getLogger(__name__)

Batches = tuple[Tensor, Tensor] | Iterable[tuple[Tensor, Tensor]]
"""Either (inputs, integer labels) tensors, or a re-iterable of such batches."""

LossFn = Callable[[Tensor, Tensor], Tensor]


@dataclass(slots=True)
class Epoch:
    """One epoch's figures."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_accuracy: float
    seconds: float


@dataclass(slots=True)
class FitResult:
    """What `fit` did: the model it was given now holds the weights of `best_epoch`."""

    epochs: int
    seconds: float
    best_val_accuracy: float
    best_epoch: int
    stopped: str  # "patience", "budget" or "max_epochs"
    history: list[Epoch] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """A JSON-ready summary (the bundle report's `training` section)."""
        return {
            "epochs": self.epochs,
            "seconds": round(self.seconds, 2),
            "best_val_accuracy": round(self.best_val_accuracy, 4),
            "best_epoch": self.best_epoch,
            "stopped": self.stopped,
            "history": [
                {
                    "epoch": e.epoch,
                    "train_loss": round(e.train_loss, 4),
                    "train_accuracy": round(e.train_accuracy, 4),
                    "val_accuracy": round(e.val_accuracy, 4),
                    "seconds": round(e.seconds, 2),
                }
                for e in self.history
            ],
        }


def _batches(data: Batches, batch_size: int, gen: torch.Generator | None) -> Iterable[tuple[Tensor, Tensor]]:
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], Tensor):
        x, y = data
        if len(x) != len(y):
            raise ValueError(f"expected as many labels as inputs, got {len(y)} labels for {len(x)} inputs")
        order = torch.randperm(len(x), generator=gen) if gen is not None else torch.arange(len(x))
        return [(x[idx], y[idx]) for idx in torch.split(order, batch_size)]
    return data


def _freeze_frozen_norms(model: nn.Module) -> None:
    """Normalisation layers whose parameters are all frozen keep their running statistics: a frozen
    backbone must compute in training exactly what it computes in the exported graph."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            params = list(m.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                m.eval()


@torch.no_grad()
def accuracy(model: nn.Module, data: Batches, batch_size: int = 256) -> float:
    """Top-1 accuracy of `model` (logits or probabilities out) on `data`, in eval mode."""
    was = model.training
    model.eval()
    right = total = 0
    for x, y in _batches(data, batch_size, None):
        right += int((model(x).argmax(-1) == y).sum())
        total += len(y)
    model.train(was)
    if total == 0:
        raise ValueError("expected at least one validation sample, got none")
    return right / total


def fit(
    model: nn.Module,
    train: Batches,
    val: Batches,
    *,
    loss: LossFn | None = None,
    budget_s: float = 60.0,
    max_epochs: int = 50,
    patience: int = 5,
    lr: float = 1e-3,
    progress: bool = True,
    batch_size: int = 64,
    weight_decay: float = 1e-4,
    seed: int = 0,
    threads: int | None = None,
) -> FitResult:
    """Train the parameters of `model` that require grad (AdamW) on `train`, stop early on `val`
    accuracy, restore the best weights. `loss(logits, labels)` defaults to cross-entropy."""
    if max_epochs < 1 or patience < 1 or budget_s <= 0:
        raise ValueError(
            f"expected max_epochs >= 1, patience >= 1 and budget_s > 0, "
            f"got {max_epochs}, {patience} and {budget_s}"
        )
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("expected a model with trainable parameters, got all of them frozen")
    loss_fn: LossFn = loss or nn.functional.cross_entropy
    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads or old_threads)
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        return _run(
            model,
            train,
            val,
            opt=opt,
            loss_fn=loss_fn,
            budget_s=budget_s,
            max_epochs=max_epochs,
            patience=patience,
            progress=progress,
            batch_size=batch_size,
            gen=gen,
        )
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


def _run(
    model: nn.Module,
    train: Batches,
    val: Batches,
    *,
    opt: torch.optim.Optimizer,
    loss_fn: LossFn,
    budget_s: float,
    max_epochs: int,
    patience: int,
    progress: bool,
    batch_size: int,
    gen: torch.Generator,
) -> FitResult:
    from tqdm import tqdm

    t0 = time.perf_counter()
    best_acc, best_epoch, best_state = -1.0, 0, copy.deepcopy(model.state_dict())
    history: list[Epoch] = []
    stopped = "max_epochs"
    bar = tqdm(range(1, max_epochs + 1), desc="train", unit="epoch", file=sys.stderr, disable=not progress)
    for epoch in bar:
        elapsed = time.perf_counter() - t0
        if history and elapsed + elapsed / len(history) > budget_s:
            stopped = "budget"
            break
        te = time.perf_counter()
        model.train()
        _freeze_frozen_norms(model)
        total_loss, right, seen = 0.0, 0, 0
        for x, y in _batches(train, batch_size, gen):
            opt.zero_grad(set_to_none=True)
            out = model(x)
            batch_loss = loss_fn(out, y)
            batch_loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total_loss += float(batch_loss.detach()) * len(y)
            right += int((out.detach().argmax(-1) == y).sum())
            seen += len(y)
        if seen == 0:
            raise ValueError("expected at least one training sample, got none")
        val_acc = accuracy(model, val)
        history.append(Epoch(epoch, total_loss / seen, right / seen, val_acc, time.perf_counter() - te))
        if val_acc > best_acc:
            best_acc, best_epoch, best_state = val_acc, epoch, copy.deepcopy(model.state_dict())
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", val=f"{val_acc:.3f}", best=f"{best_acc:.3f}")
        if epoch - best_epoch >= patience:
            stopped = "patience"
            break
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    log.info(
        "trained %d epoch(s), best val accuracy %.4f at epoch %d (%s)",
        len(history),
        best_acc,
        best_epoch,
        stopped,
    )
    return FitResult(
        epochs=len(history),
        seconds=time.perf_counter() - t0,
        best_val_accuracy=best_acc,
        best_epoch=best_epoch,
        stopped=stopped,
        history=history,
    )
