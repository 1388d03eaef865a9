"""Train a keyword spotter: corpus → augmented clips → `loop.fit` → a `Trained` for the shared build.

The network takes raw samples ([1, window]) and returns class logits, so the agent's audio source
feeds it as it feeds silero-vad: `chunk` new samples after `context` of the previous ones (the
bundle's `audio` section gives both). The build (exporters/train/export.py → export_model) is the
same as every trainer's: quantized, gated on the held-out clips (voices never trained on), timed,
signed; the log-mel front stays float in every quantized variant (`front_note`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edge_agent.bundle.manifest import AudioSpec
from exporters.errors import UsageError
from exporters.train.export import Trained
from exporters.train.kws.clips import Corpus, TrainClips, fixed_clips
from exporters.train.kws.features import MelSpec
from exporters.train.kws.model import KwsNet
from exporters.train.kws.vad_front import band, build_vad_front
from exporters.train.loop import accuracy, fit
from exporters.train.settings import FitSettings

log = logging.getLogger(__name__)

# Why the front stays float: fp32 fed 8-bit-rounded audio agreed with itself on only 95 % of the
# held-out clips (quiet speech is a few levels of an 8-bit step), and 8-bit power spectra lose
# most of their dynamic range before the log; the CNN after it quantizes well.
FRONT = "/features/"


@dataclass(slots=True)
class KwsSettings:
    """The keyword model's own settings (the fit and build settings are every trainer's)."""

    clip_s: float = 1.0  # the model's window
    hop_s: float = 0.256  # new audio per model call on the device (the source's `chunk`)
    width: int = 64
    vad_front: Path | None = None  # also write silero-vad as the cascade's small model here
    vad_threshold: float = 0.5


def window_samples(s: KwsSettings, rate: int) -> tuple[int, int]:
    """(window, chunk) in samples; UsageError when they make no sense together."""
    window, chunk = round(s.clip_s * rate), round(s.hop_s * rate)
    if not 0 < chunk <= window or window < MelSpec().n_fft:
        raise UsageError(f"--clip-s {s.clip_s} / --hop-s {s.hop_s}: expected 0 < hop <= clip, clip >= 25 ms")
    return window, chunk


def per_class_report(
    net: torch.nn.Module, x: np.ndarray, y: np.ndarray, labels: list[str]
) -> dict[str, float]:
    """fp32 accuracy per class on (x, y)."""
    net.eval()
    with torch.no_grad():
        t = torch.from_numpy(x)
        pred = torch.cat([net(t[i : i + 128]).argmax(-1) for i in range(0, len(t), 128)]).numpy()
    return {
        lab: round(float((pred[y == i] == i).mean()), 4) for i, lab in enumerate(labels) if (y == i).any()
    }


def train(corpus: Corpus, s: KwsSettings, fs: FitSettings) -> Trained:
    """Fit a KwsNet on `corpus`; the classifier and the clips to build and judge its bundle with."""
    window, chunk = window_samples(s, corpus.rate)
    if corpus.rate != MelSpec().rate:
        raise UsageError(f"the log-mel front is built for {MelSpec().rate} Hz, the data is {corpus.rate} Hz")
    words = max(1, len(corpus.labels) - 1)  # silence clips: as many as an average class has clips
    val_x, val_y = fixed_clips(
        corpus.val, window, corpus.noises, silence=max(1, len(corpus.val.audio) // words), seed=fs.seed + 1
    )
    held_x, held_y = fixed_clips(
        corpus.holdout,
        window,
        corpus.noises,
        silence=max(1, len(corpus.holdout.audio) // words),
        seed=fs.seed + 2,
    )
    calib_x, calib_y = fixed_clips(
        corpus.train,
        window,
        corpus.noises,
        silence=max(1, len(corpus.train.audio) // words),
        seed=fs.seed + 3,
    )
    clips = TrainClips(corpus, window, batch_size=fs.batch_size, seed=fs.seed)
    torch.manual_seed(fs.seed)
    net = KwsNet(len(corpus.labels), width=s.width)
    result = fit(net, clips, (torch.from_numpy(val_x), torch.from_numpy(val_y)), **fs.kwargs())
    log.info(
        "trained %d epochs in %.1f s, best val accuracy %.3f",
        result.epochs,
        result.seconds,
        result.best_val_accuracy,
    )
    notes: dict[str, object] = {
        "modality": "audio",
        "parameters": sum(p.numel() for p in net.parameters() if p.requires_grad),
        "counts": {"train": len(corpus.train.audio), "val": len(val_y), "holdout": len(held_y)},
        "window": window,
        "chunk": chunk,
        "holdout_per_class_fp32": per_class_report(net, held_x, held_y, corpus.labels),
    }
    if s.vad_front is not None:
        notes["vad_front"] = str(build_vad_front(s.vad_front, corpus.labels, window=window, hop=chunk))
        notes["cascade_band"] = list(band(s.vad_threshold))
    order = np.random.default_rng(fs.seed).permutation(len(calib_x))
    return Trained(
        module=net,
        classes=corpus.labels,
        calib=calib_x[order],  # shuffled: the build calibrates on the first ones
        holdout=held_x,
        holdout_labels=held_y,
        fit=result,
        train_accuracy=accuracy(net, (torch.from_numpy(calib_x), torch.from_numpy(calib_y))),
        notes=notes,
        audio=AudioSpec(sample_rate=corpus.rate, window=chunk, context=window - chunk),
        keep_float=FRONT,
    )
