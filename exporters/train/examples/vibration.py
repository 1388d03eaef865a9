"""The `vibration` example: a motor's two-axis accelerometer, normal vs bearing fault vs imbalance.

Each recording is 20 s at 1 kHz of a motor whose running speed, amplitudes and noise vary from one
recording to the next (the physics, simplified):

- normal: the running frequency f (24-36 Hz) and its 4x harmonic, phase-shifted between the axes;
- bearing: plus impacts at the outer-race defect rate (about 3.6 f) that ring a 280-320 Hz
  resonance and decay in a few ms, of varied severity (some barely above the noise);
- imbalance: the 1x component grows by 40-120 % on both axes, in phase with the rotation.

Training and held-out recordings are made with different seeds (6 and 3 per class), so the held-out
ones are other runs of the motor, never windows of a training run. Chance is 1/3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

RATE = 1000
SECONDS = 20.0
CLASSES = ("normal", "bearing", "imbalance")


def recording(kind: str, seed: int, seconds: float = SECONDS) -> npt.NDArray[np.float64]:
    """(n, 3) rows of ts, x, y for one run of the motor in state `kind`."""
    if kind not in CLASSES:
        raise ValueError(f"expected one of {', '.join(CLASSES)}, got {kind!r}")
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f = rng.uniform(24, 36)
    a1, a4, ph = rng.uniform(0.4, 0.6), rng.uniform(0.1, 0.25), rng.uniform(0, 2 * np.pi)
    gain = 1.0 + (rng.uniform(0.4, 1.2) if kind == "imbalance" else 0.0)
    x = gain * a1 * np.sin(2 * np.pi * f * t) + a4 * np.sin(2 * np.pi * 4 * f * t + ph)
    y = gain * 0.8 * a1 * np.sin(2 * np.pi * f * t + np.pi / 2) + 0.5 * a4 * np.sin(2 * np.pi * 4 * f * t)
    if kind == "bearing":
        rate, res, severity = 3.6 * f, rng.uniform(280, 320), rng.uniform(0.15, 0.5)
        ring = np.zeros_like(t)
        for t0 in np.arange(rng.uniform(0, 1 / rate), seconds, 1 / rate):
            i = int(np.ceil(t0 * RATE))
            dt = t[i : i + 30] - t0  # a ring lasts 30 ms: a few time constants
            ring[i : i + 30] += np.exp(-dt / 0.004) * np.sin(2 * np.pi * res * dt)
        x += severity * ring
        y += 0.6 * severity * ring
    noise = rng.uniform(0.03, 0.08)
    sig = np.stack([x, y], axis=1) + rng.normal(0, noise, (len(t), 2))
    return np.column_stack([t, sig])


def write(
    root: Path,
    *,
    train_per_class: int = 6,
    holdout_per_class: int = 3,
    seconds: float = SECONDS,
    seed: int = 0,
) -> dict[str, Path]:
    """root/train/<class>/run_NN.csv and root/holdout/<class>/run_NN.csv (header ts,x,y)."""
    out = {"train": root / "train", "holdout": root / "holdout"}
    for k, kind in enumerate(CLASSES):
        for split, n, base in (("train", train_per_class, 0), ("holdout", holdout_per_class, 500)):
            folder = out[split] / kind
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                rec = recording(kind, seed + 1000 * k + base + i, seconds)
                np.savetxt(
                    folder / f"run_{i:02d}.csv", rec, delimiter=",", header="ts,x,y", comments="", fmt="%.5f"
                )
    return out
