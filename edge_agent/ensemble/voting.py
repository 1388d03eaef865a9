"""Voting over class-probability vectors: majority, weighted and mean probability. Pure numpy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.errors import ModelError

F64 = npt.NDArray[np.float64]


def as_probabilities(x: npt.NDArray[Any]) -> F64:
    """(N, C) probabilities: kept as they are when rows already sum to 1, else softmax (logits)."""
    p = np.asarray(x, dtype=np.float64)
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2:
        raise ModelError(f"expected class scores shaped (N, C), got {list(p.shape)}")
    if np.all(p >= 0) and np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        return p
    e = np.exp(p - p.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def vote(probs: Sequence[F64], weights: Sequence[float], method: str) -> F64:
    """Combine members' (N, C) probabilities into (N, C) scores whose argmax is the answer.

    majority/weighted return vote shares (plus a tie-breaker far below one vote: the mean
    probability / 1000); mean_prob returns the weighted mean probability.
    """
    if not probs:
        raise ModelError("vote: expected at least one member's probabilities, got none")
    shapes = {p.shape for p in probs}
    if len(shapes) != 1:
        raise ModelError(f"vote: members disagree on the number of classes: {sorted(shapes)}")
    if method not in ("majority", "weighted", "mean_prob"):
        raise ModelError(f"vote: expected majority, weighted or mean_prob, got {method!r}")
    w = np.asarray(weights, dtype=np.float64)
    if method == "majority":
        w = np.ones_like(w)  # one member, one vote
    stack = np.stack(probs)  # (M, N, C)
    mean = np.tensordot(w, stack, axes=1) / w.sum()
    if method == "mean_prob":
        return np.asarray(mean, dtype=np.float64)
    n_classes = stack.shape[2]
    onehot = np.eye(n_classes)[stack.argmax(axis=2)]  # (M, N, C)
    shares = np.tensordot(w, onehot, axes=1) / w.sum()
    return np.asarray(shares + mean / 1000.0, dtype=np.float64)
