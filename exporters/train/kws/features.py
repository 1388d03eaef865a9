"""Log-mel spectrogram as graph operations, so a keyword model takes raw samples as the agent feeds them.

The short-time Fourier transform is a Conv1d whose fixed kernels are the Hann-windowed cosines and
sines of each frequency bin (one convolution, stride = hop): power = re² + im², a mel filterbank
matmul, log. Every step is a plain ONNX op at opset 17 (Conv, Mul, Add, MatMul, Log), so the graph
quantizes and runs on any execution provider with no STFT/DFT op and no device code.
`reference_logmel` is the same transform written with numpy's FFT, for the tests to hold it to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

LOG_FLOOR = 1e-6  # power below this is silence; keeps log finite on digital zeros


@dataclass(frozen=True, slots=True)
class MelSpec:
    """Settings of the log-mel front (25 ms Hann window, 10 ms hop, 40 bands at 16 kHz by default)."""

    rate: int = 16000
    n_fft: int = 400
    hop: int = 160
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float | None = None

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def frames(self, samples: int) -> int:
        """Frames of a clip of `samples` (no padding: only whole windows)."""
        if samples < self.n_fft:
            raise ValueError(f"expected a clip of at least n_fft={self.n_fft} samples, got {samples}")
        return (samples - self.n_fft) // self.hop + 1


def _hz_to_mel(f: F64) -> F64:
    return np.asarray(2595.0 * np.log10(1.0 + f / 700.0), dtype=np.float64)


def _mel_to_hz(m: F64) -> F64:
    return np.asarray(700.0 * (10.0 ** (m / 2595.0) - 1.0), dtype=np.float64)


def mel_filterbank(spec: MelSpec) -> F64:
    """(bins, n_mels) triangular HTK-mel filters over the rfft bins, each peaking at 1."""
    fmax = spec.fmax or spec.rate / 2
    edges = _mel_to_hz(
        np.linspace(_hz_to_mel(np.array(spec.fmin)), _hz_to_mel(np.array(fmax)), spec.n_mels + 2)
    )
    freqs = np.arange(spec.bins) * spec.rate / spec.n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lo) / (mid - lo)
    falling = (hi - freqs[None, :]) / (hi - mid)
    return np.asarray(np.maximum(0.0, np.minimum(rising, falling)).T, dtype=np.float64)


def dft_kernels(spec: MelSpec) -> F64:
    """(2 * bins, n_fft): the windowed cosine kernels then the windowed (negated) sine kernels."""
    n = np.arange(spec.n_fft)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / spec.n_fft)  # periodic Hann, as np/torch stft use
    k = np.arange(spec.bins)[:, None]
    angle = 2 * np.pi * k * n[None, :] / spec.n_fft
    return np.concatenate([np.cos(angle) * window, -np.sin(angle) * window])


class LogMel(nn.Module):
    """[batch, samples] float audio → [batch, 1, n_mels, frames] log-mel power; no trainable weights."""

    def __init__(self, spec: MelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.stft = nn.Conv1d(1, 2 * spec.bins, spec.n_fft, stride=spec.hop, bias=False)
        self.stft.weight.data = torch.tensor(dft_kernels(spec), dtype=torch.float32)[:, None, :]
        self.stft.weight.requires_grad_(False)
        self.register_buffer("mel", torch.tensor(mel_filterbank(spec), dtype=torch.float32))

    def forward(self, audio: Tensor) -> Tensor:
        bins = self.spec.bins
        z = self.stft(audio.unsqueeze(1))  # [B, 2*bins, frames]
        re, im = z[:, :bins], z[:, bins:]
        power = (re * re + im * im).transpose(1, 2)  # [B, frames, bins]
        mel = self.get_buffer("mel")
        # contiguous: the convolutions after it are several times slower on a transposed view
        return torch.log(power @ mel + LOG_FLOOR).transpose(1, 2).unsqueeze(1).contiguous()


def reference_logmel(audio: F32, spec: MelSpec) -> F64:
    """The same features with numpy's FFT: [n_mels, frames] for one 1-D clip."""
    x = np.asarray(audio, dtype=np.float64)
    frames = spec.frames(len(x))
    idx = np.arange(frames)[:, None] * spec.hop + np.arange(spec.n_fft)[None, :]
    window = np.hanning(spec.n_fft + 1)[:-1]  # periodic Hann
    power = np.abs(np.fft.rfft(x[idx] * window, axis=1)) ** 2
    return np.asarray(np.log(power @ mel_filterbank(spec) + LOG_FLOOR).T, dtype=np.float64)
