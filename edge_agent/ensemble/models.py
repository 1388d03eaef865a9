"""Ensembles and cascades of classifiers behind one `run(feeds)`, so a pipeline uses them like one model.

`run` returns one tensor: (N, C) scores whose argmax is the answer (probabilities for mean_prob and
for cascades, vote shares for majority/weighted), which the classification postprocess reads as is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.ensemble.voting import as_probabilities, vote
from edge_agent.errors import ModelError
from edge_agent.stages.types import JSON

log = logging.getLogger(__name__)
Tensor = npt.NDArray[Any]
RunFn = Callable[[dict[str, Tensor]], list[Tensor]]


@dataclass(slots=True)
class Member:
    """A classifier: its run function (feeds → outputs), vote weight and probability output."""

    run: RunFn
    weight: float = 1.0
    output: int | None = None
    name: str = ""
    runs: int = 0

    def probs(self, feeds: dict[str, Tensor]) -> npt.NDArray[np.float64]:
        """(N, C) class probabilities for the feeds."""
        outs = self.run(feeds)
        self.runs += 1
        if self.output is not None:
            if not -len(outs) <= self.output < len(outs):
                raise ModelError(f"{self.name}: output {self.output}: the model has {len(outs)} outputs")
            return as_probabilities(outs[self.output])
        for out in outs:
            if isinstance(out, np.ndarray) and out.ndim == 2 and np.issubdtype(out.dtype, np.floating):
                return as_probabilities(out)
        raise ModelError(
            f"{self.name}: expected a 2-D float output with class scores, got "
            f"{[getattr(o, 'shape', type(o).__name__) for o in outs]}"
        )


class Ensemble:
    """N members on the same input; the answer by voting."""

    def __init__(self, members: Sequence[Member], voting: str = "mean_prob") -> None:
        if len(members) < 2:
            raise ModelError(f"ensemble: expected two or more members, got {len(members)}")
        self.members = list(members)
        self.voting = voting
        self.inputs = 0

    def run(self, feeds: dict[str, Tensor]) -> list[Tensor]:
        """Every member, then the vote."""
        probs = [m.probs(feeds) for m in self.members]
        self.inputs += len(probs[0])
        return [vote(probs, [m.weight for m in self.members], self.voting).astype(np.float32)]

    def stats(self) -> JSON:
        """Counters for the stats message."""
        return {
            "ensemble_inputs": self.inputs,
            "voting": self.voting,
            "member_runs": {m.name: m.runs for m in self.members},
        }


class Cascade:
    """The small member on every input; the large one only where the small one's top probability
    falls in [low, high). Rows are routed individually when a batch is fed."""

    def __init__(self, small: Member, large: Member, band: tuple[float, float]) -> None:
        self.small, self.large = small, large
        self.low, self.high = band
        self.inputs = 0
        self.escalated = 0

    def run(self, feeds: dict[str, Tensor]) -> list[Tensor]:
        """Small model, then the large one on the uncertain rows."""
        p = self.small.probs(feeds)
        conf = p.max(axis=1)
        unsure = (conf >= self.low) & (conf < self.high)
        self.inputs += len(p)
        if unsure.any():
            self.escalated += int(unsure.sum())
            sub = feeds if unsure.all() else {k: v[unsure] for k, v in feeds.items()}
            large = self.large.probs(sub)
            if large.shape[1] != p.shape[1]:
                raise ModelError(f"cascade: small model has {p.shape[1]} classes, large {large.shape[1]}")
            p = p.copy()
            p[unsure] = large
        return [p.astype(np.float32)]

    def stats(self) -> JSON:
        """How often the large model ran: the cost the cascade saves is 1 - large_ratio of it."""
        ratio = self.escalated / self.inputs if self.inputs else 0.0
        return {
            "cascade_inputs": self.inputs,
            "large_runs": self.escalated,
            "large_ratio": round(ratio, 4),
            "band": [self.low, self.high],
        }
