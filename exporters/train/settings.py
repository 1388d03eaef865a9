"""The options every trainer shares: how to fit (`FitSettings`, passed to `loop.fit`) and how to
build the bundle afterwards (`BuildOptions`, the `build` command's options of the same names)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class FitSettings:
    budget_s: float = 120.0
    max_epochs: int = 60
    patience: int = 8
    lr: float = 1e-3
    batch_size: int = 64
    threads: int | None = None
    seed: int = 0
    progress: bool = True
    val_fraction: float = 0.2  # of the training examples, when no validation set is given
    holdout_fraction: float = 0.2  # of the training examples, when no held-out set is given

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `loop.fit`."""
        return {
            "budget_s": self.budget_s,
            "max_epochs": self.max_epochs,
            "patience": self.patience,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "threads": self.threads,
            "seed": self.seed,
            "progress": self.progress,
        }


@dataclass(slots=True)
class BuildOptions:
    out: Path
    target: str = "generic-x86"
    name: str | None = None
    key: Path | None = None
    archive: bool = False
    force: bool = False
    max_drop: float | None = None
    quantize: str | None = None
    runs: int = 50
    threads: int = 1
    measure: bool = True
    progress: bool = True
    skip_rungs: frozenset[str] = frozenset()
