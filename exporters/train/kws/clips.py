"""Fixed-length clips from word recordings: placement (time shift), background noise at a random SNR,
gain; the `_silence` class from noise alone. Training clips are drawn afresh every epoch; validation
and held-out clips once, from a fixed seed, so every epoch and every run is scored on the same clips.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

F32 = npt.NDArray[np.float32]
SILENCE, UNKNOWN = "_silence", "_unknown"


@dataclass(slots=True)
class Split:
    """Word recordings and their class index (into Corpus.labels)."""

    audio: list[F32]
    labels: list[int]

    def __post_init__(self) -> None:
        if len(self.audio) != len(self.labels):
            raise ValueError(
                f"expected one label per recording, got {len(self.labels)} for {len(self.audio)}"
            )


@dataclass(slots=True)
class Corpus:
    """Everything a keyword model trains and is judged on; labels[0] is `_silence`, [1] `_unknown`."""

    labels: list[str]
    train: Split
    val: Split
    holdout: Split
    noises: list[F32]
    rate: int


@dataclass(frozen=True, slots=True)
class Augment:
    """Ranges the training clips are drawn from."""

    snr_db: tuple[float, float] = (0.0, 30.0)
    gain: tuple[float, float] = (0.1, 1.0)  # peak of the word after gain
    noise_rms: tuple[float, float] = (1e-4, 0.05)  # `_silence` clips, log-uniform
    silence_share: float = 0.12  # of an epoch's clips
    unknown_share: float = 0.2


def noise_bank(rate: int, seconds: float = 6.0, seed: int = 1) -> list[F32]:
    """White, pink and brown noise and mains hum, each scaled to unit RMS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1 / rate), 1.0)
    pink = np.fft.irfft(spectrum / np.sqrt(f), n)
    brown = np.cumsum(rng.standard_normal(n))
    brown -= np.convolve(brown, np.ones(801) / 801, mode="same")  # no DC drift
    t = np.arange(n) / rate
    hum = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3, 5))
    hum = hum + 0.05 * white
    return [np.asarray(x / np.sqrt(np.mean(x**2)), dtype=np.float32) for x in (white, pink, brown, hum)]


def _segment(noises: list[F32], n: int, rng: np.random.Generator) -> F32:
    src = noises[int(rng.integers(len(noises)))]
    if len(src) < n:
        src = np.tile(src, n // len(src) + 1)
    start = int(rng.integers(len(src) - n + 1))
    seg = src[start : start + n]
    rms = float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))) or 1.0
    return np.asarray(seg / rms, dtype=np.float32)


def compose(word: F32 | None, length: int, noises: list[F32], rng: np.random.Generator, aug: Augment) -> F32:
    """One clip: `word` at a random place and gain over noise at a random SNR; None: noise only."""
    if word is None:
        lo, hi = np.log(aug.noise_rms[0]), np.log(aug.noise_rms[1])
        return np.asarray(_segment(noises, length, rng) * np.exp(rng.uniform(lo, hi)), dtype=np.float32)
    if len(word) > length:  # a long recording: a random crop of it
        start = int(rng.integers(len(word) - length + 1))
        word = word[start : start + length]
    peak = float(np.abs(word).max()) or 1.0
    w = word * (rng.uniform(*aug.gain) / peak)
    clip = np.zeros(length, dtype=np.float32)
    at = int(rng.integers(length - len(w) + 1))
    clip[at : at + len(w)] = w
    speech_rms = float(np.sqrt(np.mean(w.astype(np.float64) ** 2))) or 1e-3
    noise_rms = speech_rms / 10 ** (rng.uniform(*aug.snr_db) / 20)
    return np.asarray(clip + noise_rms * _segment(noises, length, rng), dtype=np.float32)


class TrainClips:
    """Re-iterable batches of freshly augmented clips: each pass over it is one new epoch.

    Keyword recordings are all used every epoch; `_unknown` words and `_silence` clips are drawn to
    their share of the epoch, so no class outnumbers the keywords many times over.
    """

    def __init__(
        self, corpus: Corpus, length: int, *, aug: Augment | None = None, batch_size: int = 64, seed: int = 0
    ) -> None:
        self.corpus, self.length, self.aug = corpus, length, aug or Augment()
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        labels = np.array(corpus.train.labels)
        self.keywords = np.flatnonzero(labels >= 2)
        self.unknown = np.flatnonzero(labels == 1)
        n = len(self.keywords)
        total = n / max(1e-6, 1 - self.aug.silence_share - self.aug.unknown_share)
        self.n_unknown = (
            min(len(self.unknown), round(total * self.aug.unknown_share)) if len(self.unknown) else 0
        )
        self.n_silence = max(1, round(total * self.aug.silence_share))

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        rng, split = self.rng, self.corpus.train
        picks = [
            *self.keywords,
            *rng.choice(self.unknown, self.n_unknown, replace=False),
            *[-1] * self.n_silence,
        ]
        order = rng.permutation(len(picks))
        for start in range(0, len(order), self.batch_size):
            idx = [int(picks[i]) for i in order[start : start + self.batch_size]]
            x = np.stack([
                compose(split.audio[i] if i >= 0 else None, self.length, self.corpus.noises, rng, self.aug)
                for i in idx
            ])  # fmt: skip
            y = np.array([split.labels[i] if i >= 0 else 0 for i in idx])
            yield torch.from_numpy(x), torch.from_numpy(y)


def fixed_clips(
    split: Split, length: int, noises: list[F32], *, silence: int, seed: int, aug: Augment | None = None
) -> tuple[F32, npt.NDArray[np.int64]]:
    """Every recording of `split` once, plus `silence` noise-only clips, drawn from `seed`:
    ([n, length] float32, [n] labels). Noise at 10 to 30 dB SNR: a room, not a storm."""
    aug = aug or Augment(snr_db=(10.0, 30.0), gain=(0.2, 1.0))
    rng = np.random.default_rng(seed)
    x = [compose(a, length, noises, rng, aug) for a in split.audio]
    x += [compose(None, length, noises, rng, aug) for _ in range(silence)]
    y = np.array([*split.labels, *[0] * silence], dtype=np.int64)
    return np.stack(x).astype(np.float32), y
