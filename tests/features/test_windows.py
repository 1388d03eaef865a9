"""Sliding windows and window features against values known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from edge_agent.features.config import WindowConfig
from edge_agent.features.windows import SlidingWindow, feature_names, fft_bands, window_features, windowed


def test_windows_size_and_hop() -> None:
    w = SlidingWindow(size=4, hop=2)
    out = [w.push(np.array([i, 10 * i], np.float32), float(i)) for i in range(10)]
    done = [o for o in out if o is not None]
    assert [o[0][:, 0].tolist() for o in done] == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9]]
    assert [(o[1], o[2]) for o in done] == [(0, 3), (2, 5), (4, 7), (6, 9)]
    w.reset()
    assert all(w.push(np.zeros(2, np.float32), 0.0) is None for _ in range(3))
    with pytest.raises(ValueError, match="hop"):
        SlidingWindow(4, 5)


def test_statistics_of_a_sine() -> None:
    t = np.arange(1000) / 1000
    x = np.stack([2.0 * np.sin(2 * np.pi * 10 * t), np.full(1000, 3.0)], axis=1).astype(np.float32)
    f = window_features(x, ["mean", "std", "rms", "ptp"])
    np.testing.assert_allclose(f, [0, 3, np.sqrt(2), 0, np.sqrt(2), 3, 4, 0], atol=1e-3)


def test_fft_bands_put_energy_where_the_tone_is() -> None:
    t = np.arange(256) / 256  # 1 s at 256 Hz: bins are 1 Hz, Nyquist 128 Hz
    x = np.sin(2 * np.pi * 80 * t).astype(np.float32)[:, None]
    bands = fft_bands(x, 4)  # 0-32, 32-64, 64-96, 96-128 Hz
    assert bands.shape == (4, 1)
    assert int(np.argmax(bands[:, 0])) == 2
    assert bands[2, 0] == pytest.approx(0.5, rel=0.02)  # |X| = N/2 for a unit sine, divided by N


def test_names_match_vector_and_raw_window_passes_through() -> None:
    cfg = WindowConfig(size=32, hop=16, features=["mean", "fft"], fft_bands=3)
    x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    names = feature_names(cfg, ["x", "y"])
    assert names[:2] == ["mean.x", "mean.y"]
    assert names[2:4] == ["fft0.x", "fft0.y"]
    assert len(names) == len(windowed(cfg, x)) == 8
    raw = WindowConfig(size=32, hop=16)
    assert windowed(raw, x) is x
    with pytest.raises(ValidationError, match="hop must be <= size"):
        WindowConfig(size=4, hop=8)
