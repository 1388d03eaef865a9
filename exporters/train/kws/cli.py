"""`edge-export train audio DATA|--example keywords -o OUT`: a keyword spotter, trained and bundled.

The arguments and the command live here; exporters/cli.py registers them under `train`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from exporters.errors import UsageError

EXAMPLES = ("keywords",)


def add_audio_arguments(p: argparse.ArgumentParser) -> None:
    """The `train audio` options."""
    p.add_argument(
        "data",
        nargs="?",
        type=Path,
        help="folder with one subfolder of 16 kHz WAV/FLAC clips per keyword (optional _unknown, "
        "_silence, _background_noise_)",
    )
    p.add_argument("--example", choices=EXAMPLES, help="train on example data: keywords spoken by espeak-ng")
    p.add_argument(
        "--example-scale", type=float, default=1.0, help="fraction of the example's recordings (a quick run)"
    )
    p.add_argument("-o", "--out", type=Path, required=True, help="bundle directory to create")
    p.add_argument("-t", "--target", default="generic-x86", help="hardware profile name or YAML path")
    p.add_argument("--clip-s", type=float, default=1.0, help="the model's window, seconds")
    p.add_argument(
        "--hop-s", type=float, default=0.256, help="new audio per model call on the device, seconds"
    )
    p.add_argument("--width", type=int, default=64, help="channels of the CNN's last blocks")
    p.add_argument("--budget-s", type=float, default=120.0, help="training time budget, seconds")
    p.add_argument("--max-epochs", type=int, default=40)
    p.add_argument("--patience", type=int, default=8, help="epochs without a better validation accuracy")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-drop", type=float, help="largest accepted label-agreement drop vs fp32")
    p.add_argument(
        "--quantize",
        choices=["none", "dynamic", "static-qdq", "fp16", "qnn-a16w8"],
        help="override the target profile's quantization mode",
    )
    p.add_argument("--key", type=Path, help="ed25519 private key (PEM) to sign the bundle")
    p.add_argument("--archive", action="store_true", help="also pack the bundle into one file")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.add_argument(
        "--vad-front",
        type=Path,
        help="also write silero-vad as the cascade's small model here (exporters/train/kws/vad_front.py)",
    )
    p.add_argument("--vad-threshold", type=float, default=0.5, help="speech probability that wakes the model")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def cmd_train_audio(args: argparse.Namespace) -> int:
    """Train, export, gate, sign; print the held-out accuracy and the agent config to use it."""
    from exporters.train.kws.data import example_corpus, folder_corpus
    from exporters.train.kws.speech import SpeechSettings
    from exporters.train.kws.train import KwsOptions, train_kws
    from exporters.train.kws.vad_front import band, build_vad_front

    if (args.data is None) == (args.example is None):
        raise UsageError("train audio: give a DATA folder or --example keywords (one of them)")
    if not 0 < args.vad_threshold <= 0.5:
        raise UsageError(f"--vad-threshold {args.vad_threshold}: expected 0 < t <= 0.5")
    if args.example:
        if not 0 < args.example_scale <= 1:
            raise UsageError(f"--example-scale {args.example_scale}: expected 0 < scale <= 1")
        corpus = example_corpus(SpeechSettings().scaled(args.example_scale))
    else:
        corpus = folder_corpus(args.data)
    export: dict[str, Any] = {
        "target": args.target,
        "key": args.key,
        "archive": args.archive,
        "force": args.force,
        "max_drop": args.max_drop,
        "quantize": args.quantize,
    }
    opts = KwsOptions(
        out=args.out,
        clip_s=args.clip_s,
        hop_s=args.hop_s,
        width=args.width,
        budget_s=args.budget_s,
        max_epochs=args.max_epochs,
        patience=args.patience,
        lr=args.lr,
        seed=args.seed,
        progress=sys.stderr.isatty(),
        export=export,
    )
    result = train_kws(corpus, opts)
    audio = result.export.bundle.manifest.audio
    assert audio is not None  # train_kws always records it
    front = None
    if args.vad_front:
        window = audio.window + audio.context
        front = build_vad_front(args.vad_front, corpus.labels, window=window, hop=audio.window)
    summary = {
        "bundle": str(result.export.bundle.root),
        "signed_by": result.export.bundle.signed_by,
        "holdout_accuracy": result.accuracy,
        "training": result.fit.report(),
        "source": {"rate": audio.sample_rate, "chunk": audio.window, "context": audio.context},
        **({"vad_front": str(front), "cascade_band": list(band(args.vad_threshold))} if front else {}),
        "report": result.export.report,
    }
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    acc = result.accuracy["bundle"]
    print(
        f"trained {result.fit.epochs} epochs in {result.fit.seconds:.0f} s; held-out voices: accuracy "
        f"{acc['accuracy']:.3f} on {acc['n']} clips "
        f"(chance {acc['chance']:.3f}, majority {acc['majority']:.3f})"
    )
    rep = result.export.report
    print(
        f"bundle: {result.export.bundle.root}  {rep.get('size_bytes')} B  "
        f"p50 {rep.get('latency_ms_p50')} ms  "
        f"gate {rep.get('metric')} = {rep.get('metric_value')}"
    )
    print(
        f"agent source: {{kind: alsa, rate: {audio.sample_rate}, chunk: {audio.window}, "
        f"context: {audio.context}}}"
    )
    if front is not None:
        print(f"vad front: {front}  cascade band: {list(band(args.vad_threshold))}")
    return 0
