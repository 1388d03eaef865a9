"""Classification: one row of class scores → the top-k labels with scores."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.bundle.settings import ClassificationPost
from edge_agent.errors import ModelError
from edge_agent.postprocess import as_tensor, rounded
from edge_agent.stages.types import Letterbox


def _row(out: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """[C], [1,C], [1,C,1,1]... → [C]: exactly one axis may be longer than 1."""
    if out.size == 0 or sum(d > 1 for d in out.shape) > 1:
        raise ModelError(
            f"classification: expected one row of class scores like [1, C], got shape {list(out.shape)}"
        )
    return out.reshape(-1).astype(np.float64)


def looks_like_probabilities(row: npt.NDArray[np.float64]) -> bool:
    """All in [0, 1] and summing to ~1: already a softmax output."""
    return bool(row.min() >= 0.0 and row.max() <= 1.0 and abs(row.sum() - 1.0) < 1e-3)


def softmax(row: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    e = np.exp(row - row.max())
    return e / e.sum()  # type: ignore[no-any-return]


class Classification:
    """Top-k classes above a threshold, softmax applied when configured (or when the row is not
    already probabilities, for softmax=None)."""

    def __init__(self, cfg: ClassificationPost, labels: list[str] | None) -> None:
        self.cfg = cfg
        self.labels = labels

    def __call__(self, outputs: list[npt.NDArray[Any]], lb: Letterbox | None) -> dict[str, Any]:
        if not outputs:
            raise ModelError("classification: expected at least one output, got none")
        row = _row(as_tensor(outputs[0], "classification"))
        n = row.shape[0]
        if self.labels is not None and len(self.labels) != n:
            raise ModelError(f"classification: expected {len(self.labels)} scores (one per label), got {n}")
        if self.cfg.softmax or (self.cfg.softmax is None and not looks_like_probabilities(row)):
            row = softmax(row)
        k = min(self.cfg.top_k, n)
        # argpartition keeps this O(C) for large label sets (e.g. 1000 ImageNet classes).
        idx = np.argpartition(-row, k - 1)[:k] if k < n else np.arange(n)
        idx = idx[np.argsort(-row[idx], kind="stable")]
        top = []
        # threshold 0 (the default) means none: raw logits (softmax: false) may be negative.
        thr = self.cfg.threshold if self.cfg.threshold > 0 else -np.inf
        for i in idx.tolist():
            score = float(row[i])
            if score < thr:
                break
            label = self.labels[i] if self.labels is not None else str(i)
            top.append({"label": label, "index": i, "score": rounded(score)})
        return {"top": top}
