"""What every sensor reader hands on: a reading (a vector of channel values and its time), and how
values are picked from a record."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
Reading = tuple[F32, float]


class Reader(Protocol):
    """Where readings come from; `next()` returns None at the end of a file (or once closed)."""

    live: bool

    def open(self) -> None: ...

    def next(self) -> Reading | None: ...

    def close(self) -> None: ...


def number(v: Any) -> float | None:
    """`v` as a finite float, or None (bools, text, inf and nan are not readings)."""
    if isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def values_of(record: dict[str, Any], channels: Sequence[str], time_key: str | None) -> F32 | None:
    """The channel values of one record, or None when one is missing or not a number."""
    keys = channels or [k for k in record if k != time_key and number(record[k]) is not None]
    vals = [number(record.get(k)) for k in keys]
    if not keys or any(v is None for v in vals):
        return None
    return np.array(vals, dtype=np.float32)
