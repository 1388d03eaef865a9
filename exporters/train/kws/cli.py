"""`edge-export train audio DATA|--example keywords -o OUT`: the keyword trainer's own arguments and
its entry in exporters/train/cli.py's TRAINERS (the fit and build options are every trainer's)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from exporters.errors import UsageError
from exporters.train.settings import FitSettings

EXAMPLE = "keywords"


def add_audio_arguments(p: argparse.ArgumentParser) -> None:
    """The `train audio` options beyond the shared ones."""
    p.add_argument(
        "--example-scale", type=float, default=1.0, help="fraction of the example's recordings (a quick run)"
    )
    p.add_argument("--clip-s", type=float, default=1.0, help="the model's window, seconds (default 1)")
    p.add_argument(
        "--hop-s", type=float, default=0.256, help="new audio per model call on the device (default 0.256)"
    )
    p.add_argument("--width", type=int, default=64, help="channels of the CNN's last blocks (default 64)")
    p.add_argument(
        "--vad-front",
        type=Path,
        help="also write silero-vad as the agent cascade's small model to this .onnx (docs/kws.md)",
    )
    p.add_argument(
        "--vad-threshold", type=float, default=0.5, help="speech probability that wakes the keyword model"
    )
    # Augmented clips differ every epoch: a higher rate than the shared default converges in the budget.
    p.set_defaults(lr=3e-3)


def train_audio(args: argparse.Namespace, fs: FitSettings) -> Any:
    """The keyword spotter for `train audio` (an exporters.train.export.Trained)."""
    from exporters.train.kws.data import example_corpus, folder_corpus
    from exporters.train.kws.speech import SpeechSettings
    from exporters.train.kws.train import KwsSettings, train

    if args.val is not None or args.holdout is not None:
        raise UsageError(
            "train audio: --val/--holdout are not taken; clips are split by speaker (docs/kws.md)"
        )
    if args.example is not None:
        if args.example != EXAMPLE:
            raise UsageError(f"--example {args.example}: expected {EXAMPLE} for audio")
        if args.data is not None:
            raise UsageError("--example keywords makes its own data: give no DATA with it")
        if not 0 < args.example_scale <= 1:
            raise UsageError(f"--example-scale {args.example_scale}: expected 0 < scale <= 1")
        corpus = example_corpus(SpeechSettings().scaled(args.example_scale))
    elif args.data is None:
        raise UsageError("train audio: give a DATA folder or --example keywords")
    else:
        corpus = folder_corpus(args.data)
    if not 0 < args.vad_threshold <= 0.5:
        raise UsageError(f"--vad-threshold {args.vad_threshold}: expected 0 < t <= 0.5")
    settings = KwsSettings(
        clip_s=args.clip_s,
        hop_s=args.hop_s,
        width=args.width,
        vad_front=args.vad_front,
        vad_threshold=args.vad_threshold,
    )
    return train(corpus, settings, fs)
