"""Raw outputs: shape, type and summary statistics of every output, and the values of small ones."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.bundle.settings import RawPost
from edge_agent.errors import ModelError
from edge_agent.postprocess import as_tensor
from edge_agent.stages.types import Letterbox


def _num(x: Any) -> float | None:
    """4-decimal float; NaN/inf become None (strict JSON has no NaN)."""
    f = float(x)
    return round(f, 4) if math.isfinite(f) else None


class Raw:
    def __init__(self, cfg: RawPost, names: Sequence[str] | None = None) -> None:
        self.cfg = cfg
        self.names = list(names) if names is not None else None

    def __call__(self, outputs: list[npt.NDArray[Any]], lb: Letterbox | None) -> dict[str, Any]:
        items: list[dict[str, Any]] = []
        for i, out in enumerate(outputs):
            a = as_tensor(out, "raw")
            if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
                raise ModelError(f"raw: expected a numeric tensor, got dtype {a.dtype} for output {i}")
            item: dict[str, Any] = {}
            if self.names is not None and i < len(self.names):
                item["name"] = self.names[i]
            item["shape"] = [int(d) for d in a.shape]
            item["dtype"] = str(a.dtype)
            f = a.astype(np.float64, copy=False)
            if a.size:
                item.update(min=_num(f.min()), max=_num(f.max()), mean=_num(f.mean()))
            else:
                item.update(min=None, max=None, mean=None)
            if a.size <= self.cfg.max_values:
                item["values"] = [_num(x) for x in f.reshape(-1).tolist()]
            items.append(item)
        return {"outputs": items}
