"""Sliding windows (size, hop) over a stream of readings, and per-channel features of a window.

A window is a (size, channels) float32 array. Features are computed per channel and concatenated
feature-major (all channels' means, then all stds...), the order a model trained on
`window_features()` of the same config expects.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edge_agent.features.config import WindowConfig

F32 = npt.NDArray[np.float32]


class SlidingWindow:
    """Collects readings; emits a window every `hop` readings once `size` have arrived."""

    def __init__(self, size: int, hop: int) -> None:
        if not 1 <= hop <= size:
            raise ValueError(f"expected 1 <= hop <= size, got size={size}, hop={hop}")
        self.size, self.hop = size, hop
        self._rows: list[F32] = []
        self._times: list[float] = []
        self._until_next = size

    def push(self, reading: F32, ts: float) -> tuple[F32, float, float] | None:
        """Add one reading; return (window, first ts, last ts) when a window completes."""
        self._rows.append(np.asarray(reading, dtype=np.float32).reshape(-1))
        self._times.append(ts)
        if len(self._rows) > self.size:
            del self._rows[0], self._times[0]
        self._until_next -= 1
        if self._until_next > 0:
            return None
        self._until_next = self.hop
        return np.stack(self._rows), self._times[0], self._times[-1]

    def reset(self) -> None:
        """Forget buffered readings (the source restarted: a window must not span the gap)."""
        self._rows.clear()
        self._times.clear()
        self._until_next = self.size


def fft_bands(x: F32, bands: int) -> F32:
    """Magnitude spectrum of each column (mean removed) summed into `bands` equal bands → (bands, C)."""
    spec = np.abs(np.fft.rfft(x - x.mean(axis=0), axis=0))[1:]  # drop DC: it is the mean feature
    edges = np.linspace(0, spec.shape[0], bands + 1).astype(int)
    out = np.zeros((bands, x.shape[1]), dtype=np.float32)
    for i, (a, b) in enumerate(itertools.pairwise(edges)):
        if b > a:
            out[i] = spec[a:b].sum(axis=0) / x.shape[0]
    return out


def window_features(window: F32, names: Sequence[str], bands: int = 4) -> F32:
    """Features of one (size, channels) window as a flat float32 vector, feature-major."""
    x = np.asarray(window, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    parts: list[F32] = []
    for name in names:
        if name == "mean":
            parts.append(x.mean(axis=0))
        elif name == "std":
            parts.append(x.std(axis=0))
        elif name == "rms":
            parts.append(np.sqrt(np.mean(x * x, axis=0)))
        elif name == "min":
            parts.append(x.min(axis=0))
        elif name == "max":
            parts.append(x.max(axis=0))
        elif name == "ptp":
            parts.append(np.ptp(x, axis=0))
        elif name == "fft":
            parts.append(fft_bands(x, bands).reshape(-1))
        else:
            raise ValueError(f"expected a feature in mean/std/rms/min/max/ptp/fft, got {name!r}")
    return np.concatenate(parts).astype(np.float32)


def feature_names(cfg: WindowConfig, channels: Sequence[str]) -> list[str]:
    """Names matching `window_features` output, e.g. mean.x, fft2.z, for docs and debugging."""
    out: list[str] = []
    for f in cfg.features or []:
        if f == "fft":
            out += [f"fft{b}.{c}" for b in range(cfg.fft_bands) for c in channels]
        else:
            out += [f"{f}.{c}" for c in channels]
    return out


def windowed(cfg: WindowConfig, window: F32) -> F32:
    """What the model gets for one window: features, or the raw window."""
    if cfg.features is None:
        return window
    return window_features(window, cfg.features, cfg.fft_bands)
