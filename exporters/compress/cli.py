"""`edge-export distill` and `edge-export prune`: arguments → DistillOptions / PruneOptions, and the
teacher-vs-student table or the pruning curve printed (or the whole report with --json)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected class indices like 281,285,967, got {text!r}") from None


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected fractions like 0,0.25,0.5, got {text!r}") from None


def _common(p: argparse.ArgumentParser) -> None:
    """Arguments distillation and pruning share: data, the teacher's job, training, the build."""
    p.add_argument("--data", type=Path, required=True, help="folder of unlabelled training images")
    p.add_argument("--holdout", type=Path, help="folder of held-out images (default: every 4th of --data)")
    p.add_argument("--preprocess", default="imagenet", help="pixel scaling: imagenet, unit, signed")
    p.add_argument(
        "--classes", type=int, default=5, help="keep the teacher's N most frequent classes on --data (0: all)"
    )
    p.add_argument("--class-ids", type=_ints, help="or exactly these teacher classes, e.g. 281,285,967")
    p.add_argument("--temperature", type=float, default=4.0, help="softmax temperature T of the soft targets")
    p.add_argument("--epochs", type=int, default=30, help="most epochs of training")
    p.add_argument("--budget", type=float, default=300.0, help="training time budget, seconds")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (one-cycle AdamW)")
    p.add_argument("-o", "--out", type=Path, required=True, help="bundle directory to create")
    p.add_argument("-t", "--target", default="generic-x86", help="hardware profile name or YAML path")
    p.add_argument("--max-drop", type=float, help="the build's accuracy budget vs the fp32 student")
    p.add_argument("--key", type=Path, help="ed25519 private key (PEM) to sign the bundle")
    p.add_argument("--archive", action="store_true", help="also pack the bundle into one .bundle.tgz")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.add_argument("--runs", type=int, default=30, help="timed runs per model")
    p.add_argument("--keep", type=Path, help="keep the ONNX/torch files of teacher and students here")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def add_compress_parsers(sub: Any) -> None:
    """Register `distill` and `prune` on edge-export's subcommands."""
    d = sub.add_parser(
        "distill", help="teach a small student a teacher's outputs on unlabelled images, then build it"
    )
    d.add_argument("teacher", help=".onnx, path.py:factory (with --teacher-weights) or a bundle directory")
    d.add_argument("--teacher-weights", type=Path, help="state_dict for a path.py:factory teacher")
    d.add_argument("--student", default="cnn:24", help="cnn:CHANNELS or mobilenet_v2:WIDTH")
    d.add_argument("--student-size", type=int, default=96, help="student's square input side in pixels")
    d.add_argument(
        "--alpha", type=float, default=1.0, help="weight of the soft loss; the rest goes to --hard-labels"
    )
    d.add_argument(
        "--hard-labels", type=Path, help=".npy of class indices, one per image of --data (sorted by name)"
    )
    d.add_argument(
        "--no-augment", dest="augment", action="store_false", help="no flips/shifts while training"
    )
    _common(d)
    d.set_defaults(func=cmd_distill)

    p = sub.add_parser(
        "prune", help="channel-prune a PyTorch model, recover by distillation, build the smallest that passes"
    )
    p.add_argument("source", help="path.py:factory or package.module:factory building the nn.Module")
    p.add_argument("--weights", type=Path, help="state_dict for the factory's module")
    p.add_argument(
        "--sparsity",
        type=_floats,
        default=[0.0, 0.25, 0.5, 0.75],
        help="channel fractions to remove, each in [0, 1)",
    )
    p.add_argument(
        "--input-size", type=int, default=224, help="square input side the model is pruned and built at"
    )
    p.add_argument(
        "--min-agreement",
        type=float,
        default=0.9,
        help="pruned model's top-1 agreement with the unpruned one that passes",
    )
    _common(p)
    p.set_defaults(func=cmd_prune)


def _fit(args: argparse.Namespace, alpha: float = 1.0) -> Any:
    from exporters.compress.kd import FitSettings

    return FitSettings(
        temperature=args.temperature, alpha=alpha, lr=args.lr, max_epochs=args.epochs, budget_s=args.budget
    )


def _emit_compare(report: dict[str, Any]) -> None:
    print(f"{'model':<15} {'agree':>6} {'params':>9} {'MMACs':>8} {'KB':>8} {'p50 ms':>7} {'mJ/result':>9}")
    for name, r in report["compare"].items():
        if name == "ratios":
            continue
        macs = f"{r['macs'] / 1e6:.1f}" if "macs" in r else "-"
        print(
            f"{name:<15} {r['top1_agreement_with_teacher']:>6.3f} {r.get('params', '-')!s:>9} {macs:>8} "
            f"{r['size_bytes'] / 1024:>8.1f} {r['p50_ms']:>7.3f} {r['energy_mj_per_result_estimate']:>9.3f}"
        )
    print(f"teacher / student: {report['compare']['ratios']}")


def _shared(args: argparse.Namespace) -> dict[str, Any]:
    """The data and build options distill and prune take alike, from their shared arguments."""
    names = ("data", "out", "holdout", "preprocess", "class_ids", "target", "max_drop", "key")
    more = ("archive", "force", "runs", "keep")
    return {n: getattr(args, n) for n in names + more} | {"classes": args.classes or None}


def cmd_distill(args: argparse.Namespace) -> int:
    from exporters.compress.distill import DistillOptions, distill

    res = distill(
        DistillOptions(
            teacher=args.teacher,
            teacher_weights=args.teacher_weights,
            student=args.student,
            student_size=args.student_size,
            hard_labels=args.hard_labels,
            fit=_fit(args, args.alpha),
            augment=args.augment,
            **_shared(args),
        )
    )
    if args.json:
        print(json.dumps(res.report, indent=2, default=str))
        return 0
    f = res.report["fit"]
    print(
        f"teacher classes {res.report['teacher']['classes']}; {f['epochs']} epochs in {f['seconds']} s "
        f"({f['cpu_seconds']} CPU-s, stopped: {f['stopped']})"
    )
    _emit_compare(res.report)
    b = res.report["bundle"]
    print(f"bundle: {b['path']} ({b['quantization']}, gate {b['gate']})")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from exporters.compress.prune import PruneOptions, prune

    res = prune(
        PruneOptions(
            source=args.source,
            weights=args.weights,
            sparsities=args.sparsity,
            input_size=args.input_size,
            min_agreement=args.min_agreement,
            fit=_fit(args),
            **_shared(args),
        )
    )
    if args.json:
        print(json.dumps(res.report, indent=2, default=str))
        return 0
    print(
        f"{'sparsity':>8} {'params':>9} {'MMACs':>8} {'KB':>8} {'p50 ms':>7} {'agree':>6} {'fit s':>6}  pass"
    )
    for r in res.report["curve"]:
        print(
            f"{r['sparsity']:>8.2f} {r['params']:>9} {r['macs'] / 1e6:>8.1f} {r['size_bytes'] / 1024:>8.1f} "
            f"{r['p50_ms']:>7.3f} {r['top1_agreement']:>6.3f} {r['fit_seconds']:>6}  "
            f"{'yes' if r['passed'] else 'no'}"
        )
    print(
        f"chosen: sparsity {res.report['chosen']['sparsity']}; bundle: {res.report['bundle']['path']} "
        f"({res.report['bundle']['quantization']}, gate {res.report['bundle']['gate']})"
    )
    return 0
